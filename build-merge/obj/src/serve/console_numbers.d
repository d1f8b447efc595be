build-merge/obj/src/serve/console_numbers.o: src/serve/console_numbers.c \
 include/herald/banned.h include/herald/stats.h include/herald/audit.h \
 include/herald/err.h include/herald/lat.h include/herald/store.h \
 include/herald/buf.h include/herald/config.h include/herald/bounce.h \
 include/herald/units.h include/herald/pauses.h src/serve/console_int.h \
 src/serve/serve_int.h include/herald/dispatch.h include/herald/driver.h \
 include/herald/log.h include/herald/progress.h include/herald/time.h \
 include/herald/schedule.h include/herald/service.h \
 include/herald/state.h include/herald/tpl.h include/herald/mustache.h \
 include/herald/form.h include/herald/token.h
include/herald/banned.h:
include/herald/stats.h:
include/herald/audit.h:
include/herald/err.h:
include/herald/lat.h:
include/herald/store.h:
include/herald/buf.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/units.h:
include/herald/pauses.h:
src/serve/console_int.h:
src/serve/serve_int.h:
include/herald/dispatch.h:
include/herald/driver.h:
include/herald/log.h:
include/herald/progress.h:
include/herald/time.h:
include/herald/schedule.h:
include/herald/service.h:
include/herald/state.h:
include/herald/tpl.h:
include/herald/mustache.h:
include/herald/form.h:
include/herald/token.h:
