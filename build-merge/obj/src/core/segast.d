build-merge/obj/src/core/segast.o: src/core/segast.c \
 include/herald/banned.h include/herald/segast.h include/herald/buf.h \
 include/herald/config.h include/herald/bounce.h include/herald/err.h \
 include/herald/units.h include/herald/time.h
include/herald/banned.h:
include/herald/segast.h:
include/herald/buf.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/err.h:
include/herald/units.h:
include/herald/time.h:
