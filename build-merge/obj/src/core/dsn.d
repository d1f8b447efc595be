build-merge/obj/src/core/dsn.o: src/core/dsn.c include/herald/banned.h \
 include/herald/dsn.h include/herald/bounce.h include/herald/err.h \
 include/herald/buf.h
include/herald/banned.h:
include/herald/dsn.h:
include/herald/bounce.h:
include/herald/err.h:
include/herald/buf.h:
