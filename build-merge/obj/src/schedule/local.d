build-merge/obj/src/schedule/local.o: src/schedule/local.c \
 include/herald/banned.h include/herald/schedule.h include/herald/err.h \
 include/herald/time.h include/herald/units.h include/herald/buf.h \
 src/schedule/wall.h
include/herald/banned.h:
include/herald/schedule.h:
include/herald/err.h:
include/herald/time.h:
include/herald/units.h:
include/herald/buf.h:
src/schedule/wall.h:
