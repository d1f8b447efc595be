build-merge/obj/src/core/valid.o: src/core/valid.c \
 include/herald/banned.h include/herald/valid.h include/herald/buf.h \
 include/herald/time.h include/herald/err.h
include/herald/banned.h:
include/herald/valid.h:
include/herald/buf.h:
include/herald/time.h:
include/herald/err.h:
