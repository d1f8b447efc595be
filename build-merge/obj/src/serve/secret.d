build-merge/obj/src/serve/secret.o: src/serve/secret.c \
 include/herald/banned.h include/herald/buf.h include/herald/serve.h \
 include/herald/config.h include/herald/bounce.h include/herald/err.h \
 include/herald/units.h include/herald/log.h include/herald/progress.h \
 include/herald/time.h
include/herald/banned.h:
include/herald/buf.h:
include/herald/serve.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/err.h:
include/herald/units.h:
include/herald/log.h:
include/herald/progress.h:
include/herald/time.h:
