build-merge/obj/src/template/markdown.o: src/template/markdown.c \
 include/herald/banned.h include/herald/markdown.h include/herald/buf.h
include/herald/banned.h:
include/herald/markdown.h:
include/herald/buf.h:
