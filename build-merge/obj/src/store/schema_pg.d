build-merge/obj/src/store/schema_pg.o: src/store/schema_pg.c \
 include/herald/banned.h include/herald/dbcopy.h include/herald/err.h \
 include/herald/progress.h src/store/db.h include/herald/store.h \
 include/herald/buf.h include/herald/config.h include/herald/bounce.h \
 include/herald/units.h include/herald/pauses.h src/store/store_int.h \
 include/herald/state.h
include/herald/banned.h:
include/herald/dbcopy.h:
include/herald/err.h:
include/herald/progress.h:
src/store/db.h:
include/herald/store.h:
include/herald/buf.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/units.h:
include/herald/pauses.h:
src/store/store_int.h:
include/herald/state.h:
