build-merge/obj/src/dispatch/policy.o: src/dispatch/policy.c \
 include/herald/banned.h include/herald/policy.h include/herald/units.h \
 include/herald/err.h include/herald/buf.h
include/herald/banned.h:
include/herald/policy.h:
include/herald/units.h:
include/herald/err.h:
include/herald/buf.h:
