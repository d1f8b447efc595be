build-merge/obj/src/core/csv.o: src/core/csv.c include/herald/banned.h \
 include/herald/csv.h include/herald/err.h include/herald/buf.h
include/herald/banned.h:
include/herald/csv.h:
include/herald/err.h:
include/herald/buf.h:
