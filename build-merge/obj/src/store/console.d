build-merge/obj/src/store/console.o: src/store/console.c \
 include/herald/banned.h src/store/store_int.h include/herald/state.h \
 include/herald/err.h include/herald/store.h include/herald/buf.h \
 include/herald/config.h include/herald/bounce.h include/herald/units.h \
 include/herald/pauses.h src/store/db.h
include/herald/banned.h:
src/store/store_int.h:
include/herald/state.h:
include/herald/err.h:
include/herald/store.h:
include/herald/buf.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/units.h:
include/herald/pauses.h:
src/store/db.h:
