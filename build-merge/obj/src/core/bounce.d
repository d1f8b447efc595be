build-merge/obj/src/core/bounce.o: src/core/bounce.c \
 include/herald/banned.h include/herald/bounce.h include/herald/err.h \
 include/herald/buf.h
include/herald/banned.h:
include/herald/bounce.h:
include/herald/err.h:
include/herald/buf.h:
