/* sms: how an SMS body is encoded and how many segments a gateway bills for
 * it. GSM 03.38 7-bit when every character is in the default alphabet or its
 * extension table (an extension character costs two septets), UCS-2
 * otherwise (a character above U+FFFF costs two units). One segment holds
 * 160 septets or 70 units; a longer message is split into parts of 153 or
 * 67, and a two-unit character is never split across parts. */
#ifndef HERALD_SMS_H
#define HERALD_SMS_H

#include <stdbool.h>
#include <stddef.h>

enum hd_sms_encoding { HD_SMS_GSM7, HD_SMS_UCS2 };

struct hd_sms_info {
    enum hd_sms_encoding encoding;
    size_t chars;          /* Unicode characters */
    size_t units;          /* septets (GSM-7) or UTF-16 units (UCS-2) */
    size_t segments;       /* 0 for an empty body */
    size_t per_segment;    /* units one segment holds at this length: 160/153 or 70/67 */
    char first_non_gsm[8]; /* UTF-8 of the first character that forced UCS-2, or "" */
};

/* Analyses s (n bytes of UTF-8; invalid bytes count as one UCS-2 unit each). */
void hd_sms_analyze(const char *s, size_t n, struct hd_sms_info *out);
const char *hd_sms_encoding_name(enum hd_sms_encoding e); /* "GSM-7", "UCS-2" */

/* What an SMS gateway needs of a template: free text (an sms part or
 * sms.approved_text), or a template approved at the gateway whose
 * parameters are named (a JSON object: Aliyun) or ordered (a list of
 * strings: Tencent Cloud). */
enum hd_sms_need { HD_SMS_TEXT, HD_SMS_NAMED, HD_SMS_ORDERED };

#endif
