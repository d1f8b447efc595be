build-merge/obj/src/audience/segment.o: src/audience/segment.c \
 include/herald/banned.h include/herald/segment.h include/herald/err.h \
 include/herald/segast.h include/herald/buf.h include/herald/config.h \
 include/herald/bounce.h include/herald/units.h include/herald/time.h
include/herald/banned.h:
include/herald/segment.h:
include/herald/err.h:
include/herald/segast.h:
include/herald/buf.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/units.h:
include/herald/time.h:
