build-merge/obj/src/audit/events.o: src/audit/events.c \
 include/herald/banned.h include/herald/audit.h include/herald/err.h \
 include/herald/lat.h include/herald/store.h include/herald/buf.h \
 include/herald/config.h include/herald/bounce.h include/herald/units.h \
 include/herald/pauses.h include/herald/csv.h include/herald/json.h \
 include/herald/progress.h include/herald/time.h include/herald/valid.h
include/herald/banned.h:
include/herald/audit.h:
include/herald/err.h:
include/herald/lat.h:
include/herald/store.h:
include/herald/buf.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/units.h:
include/herald/pauses.h:
include/herald/csv.h:
include/herald/json.h:
include/herald/progress.h:
include/herald/time.h:
include/herald/valid.h:
