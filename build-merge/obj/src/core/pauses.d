build-merge/obj/src/core/pauses.o: src/core/pauses.c \
 include/herald/banned.h include/herald/pauses.h include/herald/err.h \
 include/herald/buf.h
include/herald/banned.h:
include/herald/pauses.h:
include/herald/err.h:
include/herald/buf.h:
