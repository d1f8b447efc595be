build-merge/obj/src/template/tpl.o: src/template/tpl.c \
 include/herald/banned.h include/herald/tpl.h include/herald/buf.h \
 include/herald/config.h include/herald/bounce.h include/herald/err.h \
 include/herald/units.h include/herald/mustache.h include/herald/store.h \
 include/herald/pauses.h include/herald/html.h include/herald/json.h \
 include/herald/sms.h include/herald/time.h include/herald/valid.h
include/herald/banned.h:
include/herald/tpl.h:
include/herald/buf.h:
include/herald/config.h:
include/herald/bounce.h:
include/herald/err.h:
include/herald/units.h:
include/herald/mustache.h:
include/herald/store.h:
include/herald/pauses.h:
include/herald/html.h:
include/herald/json.h:
include/herald/sms.h:
include/herald/time.h:
include/herald/valid.h:
