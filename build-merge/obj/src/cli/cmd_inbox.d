build-merge/obj/src/cli/cmd_inbox.o: src/cli/cmd_inbox.c \
 include/herald/banned.h src/cli/cli.h include/herald/buf.h \
 include/herald/ctx.h include/herald/config.h include/herald/bounce.h \
 include/herald/err.h include/herald/units.h include/herald/log.h \
 include/herald/progress.h include/herald/time.h include/herald/serve.h \
 include/herald/store.h include/herald/pauses.h include/herald/token.h
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
include/herald/serve.h:
include/herald/store.h:
include/herald/pauses.h:
include/herald/token.h:
