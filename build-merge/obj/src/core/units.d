build-merge/obj/src/core/units.o: src/core/units.c \
 include/herald/banned.h include/herald/units.h include/herald/err.h
include/herald/banned.h:
include/herald/units.h:
include/herald/err.h:
