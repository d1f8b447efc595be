build-merge/obj/src/core/log.o: src/core/log.c include/herald/banned.h \
 include/herald/log.h include/herald/buf.h include/herald/progress.h \
 include/herald/time.h include/herald/err.h
include/herald/banned.h:
include/herald/log.h:
include/herald/buf.h:
include/herald/progress.h:
include/herald/time.h:
include/herald/err.h:
