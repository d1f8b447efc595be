build-merge/obj/src/schedule/retry.o: src/schedule/retry.c \
 include/herald/banned.h include/herald/schedule.h include/herald/err.h \
 include/herald/time.h include/herald/units.h include/herald/state.h \
 include/herald/store.h include/herald/buf.h include/herald/config.h \
 include/herald/bounce.h include/herald/pauses.h
include/herald/banned.h:
include/herald/schedule.h:
include/herald/err.h:
include/herald/time.h:
include/herald/units.h:
include/herald/state.h:
include/herald/store.h:
include/herald/buf.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/pauses.h:
