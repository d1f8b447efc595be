build-merge/obj/src/template/filter.o: src/template/filter.c \
 include/herald/banned.h src/template/mst_int.h include/herald/mustache.h \
 include/herald/buf.h include/herald/err.h include/herald/segast.h \
 include/herald/time.h
include/herald/banned.h:
src/template/mst_int.h:
include/herald/mustache.h:
include/herald/buf.h:
include/herald/err.h:
include/herald/segast.h:
include/herald/time.h:
