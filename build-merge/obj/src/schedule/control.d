build-merge/obj/src/schedule/control.o: src/schedule/control.c \
 include/herald/banned.h include/herald/schedule.h include/herald/err.h \
 include/herald/time.h include/herald/units.h include/herald/segment.h \
 include/herald/segast.h include/herald/buf.h include/herald/state.h \
 include/herald/store.h include/herald/config.h include/herald/bounce.h \
 include/herald/pauses.h include/herald/tpl.h include/herald/mustache.h
include/herald/banned.h:
include/herald/schedule.h:
include/herald/err.h:
include/herald/time.h:
include/herald/units.h:
include/herald/segment.h:
include/herald/segast.h:
include/herald/buf.h:
include/herald/state.h:
include/herald/store.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/pauses.h:
include/herald/tpl.h:
include/herald/mustache.h:
