build-merge/obj/src/core/config_receipt.o: src/core/config_receipt.c \
 include/herald/banned.h src/core/config_int.h include/herald/config.h \
 include/herald/bounce.h include/herald/err.h include/herald/buf.h \
 include/herald/units.h include/herald/json.h
include/herald/banned.h:
src/core/config_int.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/err.h:
include/herald/buf.h:
include/herald/units.h:
include/herald/json.h:
