build-merge/obj/src/core/service.o: src/core/service.c \
 include/herald/banned.h include/herald/service.h include/herald/buf.h \
 include/herald/time.h include/herald/err.h
include/herald/banned.h:
include/herald/service.h:
include/herald/buf.h:
include/herald/time.h:
include/herald/err.h:
