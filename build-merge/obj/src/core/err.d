build-merge/obj/src/core/err.o: src/core/err.c include/herald/banned.h \
 include/herald/err.h
include/herald/banned.h:
include/herald/err.h:
