build-merge/obj/src/core/progress.o: src/core/progress.c \
 include/herald/banned.h include/herald/progress.h include/herald/time.h \
 include/herald/err.h
include/herald/banned.h:
include/herald/progress.h:
include/herald/time.h:
include/herald/err.h:
