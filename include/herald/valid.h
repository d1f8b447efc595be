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

/* Why a value was refused. Each validator returns 0 and writes the normal
 * form into out (size bytes), or returns one of these (negative) and
 * writes a short reason ("missing '@'") into out; a caller that decides
 * on the reason tests the code, never the text. */
enum hd_valid_why {
    HD_VALID_BAD = -1,         /* any other reason: out says which */
    HD_VALID_NOT_PHONE = -2,   /* phone: not a phone number at all (letters, no digits) */
    HD_VALID_NO_REGION = -3,   /* phone: a national number, and no region to read it in */
    HD_VALID_NOT_TAG = -4,     /* locale: not a BCP 47 tag, nothing more to say */
    HD_VALID_TAG_SEP = -5,     /* locale: '_' where BCP 47 has '-' (hd_valid_hint) */
    HD_VALID_TAG_NO_LANG = -6, /* locale: does not start with a language (hd_valid_hint) */
};
/* The advice for a code that has one ("write '-' instead of '_', e.g.
 * zh-CN"), or NULL; the reason in out ends with it in parentheses. */
const char *hd_valid_hint(int why);

int hd_valid_email(struct hd_valid *v, const char *s, char *out, size_t size);
/* The address s as it goes on an ASCII-only wire (SMTP without SMTPUTF8,
 * header fields): the domain checked as hd_valid_email checks it and
 * written as its A-label (UTS #46: "bücher.example" becomes
 * "xn--bcher-kva.example"), the local part as it is. 0, or HD_VALID_BAD
 * with the reason in out. *utf8_local (when not NULL) is set when the
 * local part is not ASCII: only SMTPUTF8 can carry it. out must not be s. */
int hd_valid_email_ascii(struct hd_valid *v, const char *s, char *out, size_t size,
                         bool *utf8_local);
/* region: ISO 3166 alpha-2 for national numbers ("CN"), or NULL to accept
 * only international ones (+CC... or 00CC...). */
int hd_valid_phone(struct hd_valid *v, const char *s, const char *region, char *out, size_t size);
int hd_valid_locale(struct hd_valid *v, const char *s, char *out, size_t size);
int hd_valid_timezone(struct hd_valid *v, const char *s, char *out, size_t size);
/* False when s is a national number (no '+' or '00') whose length, for
 * its first digits, fits no rule of region's numbering plan: most likely a
 * number of another country. True for international numbers and regions
 * without a plan here (CN, US, CA, GB, DE, FR, JP, IN, HK, TW, SG, AU have
 * one). Call after hd_valid_phone accepted s. */
bool hd_valid_phone_plan_fits(const char *s, const char *region);
/* True when s is an ISO 3166-1 alpha-2 code (any case) ICU knows. */
bool hd_valid_country(const char *s);
/* True when region is a two-letter code this module knows the numbering of. */
bool hd_valid_region_known(const char *region);
/* The longest display name a From or Reply-To may have, in bytes: a
 * longer one refuses the message (and fails template lint), never cut. */
#define HD_DISPLAY_NAME_MAX 255

/* The display name of "Name <addr>" (unquoted: a quoted-string's quotes
 * and backslashes taken off) into out; "" for "addr" alone. -1 when it
 * does not fit in size - 1 bytes. */
int hd_valid_display_name(const char *mailbox, char *out, size_t size);

/* True when s is n bytes of well-formed UTF-8 with no NUL. */
bool hd_valid_utf8(const char *s, size_t n);
/* Makes the string s well-formed UTF-8 in place: a character cut short at
 * its end is cut off, any other byte that is not part of a well-formed
 * character becomes '?'. Returns how many bytes were changed or cut (0:
 * s was well-formed). For text from outside (a gateway's reply) cut to a
 * buffer's size, which PostgreSQL would refuse and JSON cannot carry. */
size_t hd_utf8_scrub(char *s);

#endif
