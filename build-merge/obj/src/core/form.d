build-merge/obj/src/core/form.o: src/core/form.c include/herald/banned.h \
 include/herald/form.h include/herald/err.h include/herald/buf.h
include/herald/banned.h:
include/herald/form.h:
include/herald/err.h:
include/herald/buf.h:
