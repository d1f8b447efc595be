build-merge/obj/src/template/html.o: src/template/html.c \
 include/herald/banned.h include/herald/html.h include/herald/buf.h
include/herald/banned.h:
include/herald/html.h:
include/herald/buf.h:
