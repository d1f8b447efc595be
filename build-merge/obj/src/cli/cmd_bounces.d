build-merge/obj/src/cli/cmd_bounces.o: src/cli/cmd_bounces.c \
 include/herald/banned.h src/cli/cli.h include/herald/buf.h \
 include/herald/ctx.h include/herald/config.h include/herald/bounce.h \
 include/herald/err.h include/herald/units.h include/herald/log.h \
 include/herald/progress.h include/herald/time.h \
 include/herald/dispatch.h include/herald/driver.h \
 include/herald/pauses.h include/herald/schedule.h \
 include/herald/service.h include/herald/state.h include/herald/store.h \
 include/herald/tpl.h include/herald/mustache.h
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
include/herald/dispatch.h:
include/herald/driver.h:
include/herald/pauses.h:
include/herald/schedule.h:
include/herald/service.h:
include/herald/state.h:
include/herald/store.h:
include/herald/tpl.h:
include/herald/mustache.h:
