build-merge/obj/src/core/time.o: src/core/time.c include/herald/banned.h \
 include/herald/time.h include/herald/err.h include/herald/buf.h
include/herald/banned.h:
include/herald/time.h:
include/herald/err.h:
include/herald/buf.h:
