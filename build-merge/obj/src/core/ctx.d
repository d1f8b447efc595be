build-merge/obj/src/core/ctx.o: src/core/ctx.c include/herald/banned.h \
 include/herald/ctx.h include/herald/config.h include/herald/bounce.h \
 include/herald/err.h include/herald/buf.h include/herald/units.h \
 include/herald/log.h include/herald/progress.h include/herald/time.h
include/herald/banned.h:
include/herald/ctx.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/err.h:
include/herald/buf.h:
include/herald/units.h:
include/herald/log.h:
include/herald/progress.h:
include/herald/time.h:
