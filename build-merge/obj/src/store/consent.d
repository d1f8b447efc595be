build-merge/obj/src/store/consent.o: src/store/consent.c \
 include/herald/banned.h include/herald/config.h include/herald/bounce.h \
 include/herald/err.h include/herald/buf.h include/herald/units.h \
 src/store/store_int.h include/herald/state.h include/herald/store.h \
 include/herald/pauses.h src/store/db.h
include/herald/banned.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/err.h:
include/herald/buf.h:
include/herald/units.h:
src/store/store_int.h:
include/herald/state.h:
include/herald/store.h:
include/herald/pauses.h:
src/store/db.h:
