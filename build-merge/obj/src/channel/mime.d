build-merge/obj/src/channel/mime.o: src/channel/mime.c \
 include/herald/banned.h include/herald/mime.h include/herald/buf.h \
 include/herald/err.h include/herald/time.h include/herald/valid.h
include/herald/banned.h:
include/herald/mime.h:
include/herald/buf.h:
include/herald/err.h:
include/herald/time.h:
include/herald/valid.h:
