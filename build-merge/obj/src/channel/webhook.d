build-merge/obj/src/channel/webhook.o: src/channel/webhook.c \
 include/herald/banned.h src/channel/http_int.h src/channel/driver_int.h \
 include/herald/driver.h include/herald/config.h include/herald/bounce.h \
 include/herald/err.h include/herald/buf.h include/herald/units.h \
 include/herald/log.h include/herald/progress.h include/herald/time.h \
 include/herald/pauses.h include/herald/webhook.h
include/herald/banned.h:
src/channel/http_int.h:
src/channel/driver_int.h:
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
include/herald/webhook.h:
