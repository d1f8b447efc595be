build-merge/obj/src/audience/importmap.o: src/audience/importmap.c \
 include/herald/banned.h src/audience/import_int.h include/herald/buf.h \
 include/herald/err.h include/herald/hash.h
include/herald/banned.h:
src/audience/import_int.h:
include/herald/buf.h:
include/herald/err.h:
include/herald/hash.h:
