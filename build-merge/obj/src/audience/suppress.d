build-merge/obj/src/audience/suppress.o: src/audience/suppress.c \
 include/herald/banned.h include/herald/suppress.h include/herald/err.h \
 include/herald/store.h include/herald/buf.h include/herald/config.h \
 include/herald/bounce.h include/herald/units.h include/herald/pauses.h \
 include/herald/valid.h include/herald/csv.h include/herald/transcode.h
include/herald/banned.h:
include/herald/suppress.h:
include/herald/err.h:
include/herald/store.h:
include/herald/buf.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/units.h:
include/herald/pauses.h:
include/herald/valid.h:
include/herald/csv.h:
include/herald/transcode.h:
