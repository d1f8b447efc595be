build-merge/obj/src/template/mustache.o: src/template/mustache.c \
 include/herald/banned.h src/template/mst_int.h include/herald/mustache.h \
 include/herald/buf.h include/herald/err.h
include/herald/banned.h:
src/template/mst_int.h:
include/herald/mustache.h:
include/herald/buf.h:
include/herald/err.h:
