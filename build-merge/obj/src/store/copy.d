build-merge/obj/src/store/copy.o: src/store/copy.c \
 include/herald/banned.h include/herald/dbcopy.h include/herald/err.h \
 include/herald/progress.h src/store/db.h include/herald/buf.h \
 include/herald/store.h include/herald/config.h include/herald/bounce.h \
 include/herald/units.h include/herald/pauses.h
include/herald/banned.h:
include/herald/dbcopy.h:
include/herald/err.h:
include/herald/progress.h:
src/store/db.h:
include/herald/buf.h:
include/herald/store.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/units.h:
include/herald/pauses.h:
