build-merge/obj/src/schedule/campaign.o: src/schedule/campaign.c \
 include/herald/banned.h include/herald/config.h include/herald/bounce.h \
 include/herald/err.h include/herald/buf.h include/herald/units.h \
 include/herald/log.h include/herald/progress.h include/herald/time.h \
 include/herald/schedule.h include/herald/segast.h \
 include/herald/segment.h include/herald/store.h include/herald/pauses.h
include/herald/banned.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/err.h:
include/herald/buf.h:
include/herald/units.h:
include/herald/log.h:
include/herald/progress.h:
include/herald/time.h:
include/herald/schedule.h:
include/herald/segast.h:
include/herald/segment.h:
include/herald/store.h:
include/herald/pauses.h:
