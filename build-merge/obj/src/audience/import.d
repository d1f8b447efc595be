build-merge/obj/src/audience/import.o: src/audience/import.c \
 include/herald/banned.h include/herald/import.h include/herald/err.h \
 include/herald/store.h include/herald/buf.h include/herald/config.h \
 include/herald/bounce.h include/herald/units.h include/herald/pauses.h \
 include/herald/csv.h include/herald/hash.h include/herald/progress.h \
 include/herald/time.h include/herald/transcode.h include/herald/valid.h \
 src/audience/import_int.h
include/herald/banned.h:
include/herald/import.h:
include/herald/err.h:
include/herald/store.h:
include/herald/buf.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/units.h:
include/herald/pauses.h:
include/herald/csv.h:
include/herald/hash.h:
include/herald/progress.h:
include/herald/time.h:
include/herald/transcode.h:
include/herald/valid.h:
src/audience/import_int.h:
