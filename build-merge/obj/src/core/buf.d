build-merge/obj/src/core/buf.o: src/core/buf.c include/herald/banned.h \
 include/herald/buf.h
include/herald/banned.h:
include/herald/buf.h:
