build-merge/obj/src/core/config.o: src/core/config.c \
 include/herald/banned.h include/herald/config.h include/herald/bounce.h \
 include/herald/err.h include/herald/buf.h include/herald/units.h \
 include/herald/log.h include/herald/progress.h include/herald/time.h \
 include/herald/valid.h src/core/config_int.h
include/herald/banned.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/err.h:
include/herald/buf.h:
include/herald/units.h:
include/herald/log.h:
include/herald/progress.h:
include/herald/time.h:
include/herald/valid.h:
src/core/config_int.h:
