build-merge/obj/src/core/cidr.o: src/core/cidr.c include/herald/banned.h \
 include/herald/config.h include/herald/bounce.h include/herald/err.h \
 include/herald/buf.h include/herald/units.h
include/herald/banned.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/err.h:
include/herald/buf.h:
include/herald/units.h:
