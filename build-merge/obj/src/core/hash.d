build-merge/obj/src/core/hash.o: src/core/hash.c include/herald/banned.h \
 include/herald/hash.h
include/herald/banned.h:
include/herald/hash.h:
