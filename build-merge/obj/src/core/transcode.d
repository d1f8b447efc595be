build-merge/obj/src/core/transcode.o: src/core/transcode.c \
 include/herald/banned.h include/herald/transcode.h include/herald/err.h \
 include/herald/buf.h
include/herald/banned.h:
include/herald/transcode.h:
include/herald/err.h:
include/herald/buf.h:
