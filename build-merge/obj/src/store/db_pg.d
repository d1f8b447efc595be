build-merge/obj/src/store/db_pg.o: src/store/db_pg.c \
 include/herald/banned.h src/store/db.h include/herald/err.h \
 /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h include/herald/buf.h
include/herald/banned.h:
src/store/db.h:
include/herald/err.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
include/herald/buf.h:
