build-merge/obj/src/store/rfm.o: src/store/rfm.c include/herald/banned.h \
 include/herald/time.h include/herald/err.h src/store/store_int.h \
 include/herald/state.h include/herald/store.h include/herald/buf.h \
 include/herald/config.h include/herald/bounce.h include/herald/units.h \
 include/herald/pauses.h
include/herald/banned.h:
include/herald/time.h:
include/herald/err.h:
src/store/store_int.h:
include/herald/state.h:
include/herald/store.h:
include/herald/buf.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/units.h:
include/herald/pauses.h:
