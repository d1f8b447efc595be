build-merge/obj/src/schedule/cron.o: src/schedule/cron.c \
 include/herald/banned.h include/herald/schedule.h include/herald/err.h \
 include/herald/time.h include/herald/units.h src/schedule/wall.h
include/herald/banned.h:
include/herald/schedule.h:
include/herald/err.h:
include/herald/time.h:
include/herald/units.h:
src/schedule/wall.h:
