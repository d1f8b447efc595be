build-merge/obj/src/store/db_sqlite.o: src/store/db_sqlite.c \
 include/herald/banned.h src/store/db.h include/herald/err.h \
 include/herald/buf.h
include/herald/banned.h:
src/store/db.h:
include/herald/err.h:
include/herald/buf.h:
