build-merge/obj/src/core/state.o: src/core/state.c \
 include/herald/banned.h include/herald/state.h include/herald/err.h
include/herald/banned.h:
include/herald/state.h:
include/herald/err.h:
