/* valid: checks and normal forms for the values contacts carry: email
 * mailboxes (RFC 5321 syntax, internationalised domains through ICU's
 * UTS #46 processing), phone numbers (normalised to E.164), BCP 47 language
 * tags and IANA zone names. A struct hd_valid holds ICU state and small
 * caches, so validating a million rows costs little; it is not thread-safe. */
#ifndef HERALD_VALID_H
#define HERALD_VALID_H

#include <stdbool.h>
#include <stddef.h>

struct hd_valid;

struct hd_valid *hd_valid_new(void);
void hd_valid_free(struct hd_valid *v);

/* Each returns 0 and writes the normal form into out (size bytes), or returns
 * -1 and writes a short reason ("missing '@'") into out. */
int hd_valid_email(struct hd_valid *v, const char *s, char *out, size_t size);
/* region: ISO 3166 alpha-2 for national numbers ("CN"), or NULL to accept
 * only international ones (+CC... or 00CC...). */
int hd_valid_phone(struct hd_valid *v, const char *s, const char *region, char *out, size_t size);
int hd_valid_locale(struct hd_valid *v, const char *s, char *out, size_t size);
int hd_valid_timezone(struct hd_valid *v, const char *s, char *out, size_t size);
/* True when region is a two-letter code this module knows the numbering of. */
bool hd_valid_region_known(const char *region);
/* True when s is n bytes of well-formed UTF-8 with no NUL. */
bool hd_valid_utf8(const char *s, size_t n);

#endif
