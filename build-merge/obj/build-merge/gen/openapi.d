build-merge/obj/build-merge/gen/openapi.o: build-merge/gen/openapi.c \
 include/herald/banned.h
include/herald/banned.h:
