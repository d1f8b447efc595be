build-merge/obj/src/core/json.o: src/core/json.c include/herald/banned.h \
 include/herald/json.h include/herald/valid.h
include/herald/banned.h:
include/herald/json.h:
include/herald/valid.h:
