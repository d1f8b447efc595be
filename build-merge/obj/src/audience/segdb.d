build-merge/obj/src/audience/segdb.o: src/audience/segdb.c \
 include/herald/banned.h include/herald/segment.h include/herald/err.h \
 include/herald/segast.h include/herald/buf.h include/herald/store.h \
 include/herald/config.h include/herald/bounce.h include/herald/units.h \
 include/herald/pauses.h
include/herald/banned.h:
include/herald/segment.h:
include/herald/err.h:
include/herald/segast.h:
include/herald/buf.h:
include/herald/store.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/units.h:
include/herald/pauses.h:
