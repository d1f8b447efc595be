build-merge/obj/src/dispatch/mailbox_imap.o: src/dispatch/mailbox_imap.c \
 include/herald/banned.h include/herald/dispatch.h \
 include/herald/driver.h include/herald/config.h include/herald/bounce.h \
 include/herald/err.h include/herald/buf.h include/herald/units.h \
 include/herald/log.h include/herald/progress.h include/herald/time.h \
 include/herald/pauses.h include/herald/schedule.h \
 include/herald/service.h include/herald/state.h include/herald/store.h \
 include/herald/tpl.h include/herald/mustache.h
include/herald/banned.h:
include/herald/dispatch.h:
include/herald/driver.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/err.h:
include/herald/buf.h:
include/herald/units.h:
include/herald/log.h:
include/herald/progress.h:
include/herald/time.h:
include/herald/pauses.h:
include/herald/schedule.h:
include/herald/service.h:
include/herald/state.h:
include/herald/store.h:
include/herald/tpl.h:
include/herald/mustache.h:
