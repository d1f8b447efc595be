build-merge/obj/src/channel/sign.o: src/channel/sign.c \
 include/herald/banned.h include/herald/sign.h include/herald/buf.h \
 include/herald/driver.h include/herald/config.h include/herald/bounce.h \
 include/herald/err.h include/herald/units.h include/herald/log.h \
 include/herald/progress.h include/herald/time.h include/herald/pauses.h
include/herald/banned.h:
include/herald/sign.h:
include/herald/buf.h:
include/herald/driver.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/err.h:
include/herald/units.h:
include/herald/log.h:
include/herald/progress.h:
include/herald/time.h:
include/herald/pauses.h:
