build-merge/obj/src/core/token.o: src/core/token.c \
 include/herald/banned.h include/herald/token.h include/herald/err.h \
 include/herald/config.h include/herald/bounce.h include/herald/buf.h \
 include/herald/units.h
include/herald/banned.h:
include/herald/token.h:
include/herald/err.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/buf.h:
include/herald/units.h:
