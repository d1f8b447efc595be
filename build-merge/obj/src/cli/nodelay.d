build-merge/obj/src/cli/nodelay.o: src/cli/nodelay.c \
 include/herald/banned.h
include/herald/banned.h:
