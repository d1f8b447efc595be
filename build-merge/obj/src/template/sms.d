build-merge/obj/src/template/sms.o: src/template/sms.c \
 include/herald/banned.h include/herald/sms.h include/herald/buf.h
include/herald/banned.h:
include/herald/sms.h:
include/herald/buf.h:
