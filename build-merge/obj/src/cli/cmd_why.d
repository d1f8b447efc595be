build-merge/obj/src/cli/cmd_why.o: src/cli/cmd_why.c \
 include/herald/banned.h src/cli/cli.h include/herald/buf.h \
 include/herald/ctx.h include/herald/config.h include/herald/bounce.h \
 include/herald/err.h include/herald/units.h include/herald/log.h \
 include/herald/progress.h include/herald/time.h include/herald/audit.h \
 include/herald/lat.h include/herald/store.h include/herald/pauses.h \
 include/herald/state.h
include/herald/banned.h:
src/cli/cli.h:
include/herald/buf.h:
include/herald/ctx.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/err.h:
include/herald/units.h:
include/herald/log.h:
include/herald/progress.h:
include/herald/time.h:
include/herald/audit.h:
include/herald/lat.h:
include/herald/store.h:
include/herald/pauses.h:
include/herald/state.h:
