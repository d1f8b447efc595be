build-merge/obj/src/core/lat.o: src/core/lat.c include/herald/banned.h \
 include/herald/lat.h
include/herald/banned.h:
include/herald/lat.h:
