build-merge/obj/src/cli/cmd_template.o: src/cli/cmd_template.c \
 include/herald/banned.h src/cli/cli.h include/herald/buf.h \
 include/herald/ctx.h include/herald/config.h include/herald/bounce.h \
 include/herald/err.h include/herald/units.h include/herald/log.h \
 include/herald/progress.h include/herald/time.h include/herald/token.h \
 include/herald/dispatch.h include/herald/driver.h \
 include/herald/pauses.h include/herald/schedule.h \
 include/herald/service.h include/herald/state.h include/herald/store.h \
 include/herald/tpl.h include/herald/mustache.h include/herald/html.h \
 include/herald/markdown.h include/herald/sms.h
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
include/herald/token.h:
include/herald/dispatch.h:
include/herald/driver.h:
include/herald/pauses.h:
include/herald/schedule.h:
include/herald/service.h:
include/herald/state.h:
include/herald/store.h:
include/herald/tpl.h:
include/herald/mustache.h:
include/herald/html.h:
include/herald/markdown.h:
include/herald/sms.h:
