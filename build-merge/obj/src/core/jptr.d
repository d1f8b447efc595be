build-merge/obj/src/core/jptr.o: src/core/jptr.c include/herald/banned.h \
 include/herald/buf.h include/herald/json.h
include/herald/banned.h:
include/herald/buf.h:
include/herald/json.h:
