build-merge/obj/src/store/db.o: src/store/db.c include/herald/banned.h \
 src/store/db.h include/herald/err.h include/herald/buf.h
include/herald/banned.h:
src/store/db.h:
include/herald/err.h:
include/herald/buf.h:
