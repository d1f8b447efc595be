/* form: the one parser of application/x-www-form-urlencoded bodies (the
 * HTML forms of herald serve): pairs split on '&', key from value on the
 * first '=', '+' as a space and %XX escapes decoded. It is strict where
 * browsers never send otherwise: a bad or truncated escape, an escaped or
 * raw NUL, and an empty key are errors, so a forged or mangled body is
 * refused whole rather than read in part. Repeated keys are all given, in
 * order (a group of checkboxes sends one pair per box); empty pairs ("&&")
 * are skipped, as browsers make none. */
#ifndef HERALD_FORM_H
#define HERALD_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "herald/err.h"

/* The longest body hd_form_parse takes (a gateway's callback: an SMS
 * reply of 1,600 characters is up to 14 KiB encoded). */
#define HD_FORM_MAX 16384

/* Called for each pair with its decoded key and value, NUL-terminated and
 * valid during the call; a non-zero return stops the parse and is returned. */
typedef int (*hd_form_fn)(void *ud, const char *key, const char *value);

/* Parses the len bytes at body (at most HD_FORM_MAX) and calls fn for each
 * pair. HD_E_PARSE with the reason and the byte offset for a bad body;
 * fn is not called at all then (the body is checked whole first). */
int hd_form_parse(const char *body, size_t len, hd_form_fn fn, void *ud, struct hd_err *err);

/* Whether body (len bytes), sent with Content-Type ctype, is a
 * multipart/form-data one (RFC 7578) with a part named name whose content
 * is exactly value: how RFC 8058 says a one-click SHOULD come (as
 * List-Unsubscribe=One-Click). Strict: the boundary (1 to 70 bytes) from
 * ctype, CRLF line ends, the part's name in its Content-Disposition; false
 * for anything else. */
bool hd_form_multipart_has(const char *ctype, const char *body, size_t len, const char *name,
                           const char *value);

/* A body's fields, decoded as hd_form_parse does and sorted by name (then
 * value): the order Twilio's signature takes them in, and a lookup needs
 * no other (the gateways' hooks of herald serve). The names and values
 * point into buf, f's own copy of the body decoded in place. */
#define HD_FORM_FIELDS 256
struct hd_form_field {
    char *name, *value;
};
struct hd_form {
    struct hd_form_field *v;
    size_t n;
    char *buf;  /* the decoded body the fields point into (wiped when released) */
    size_t len; /* its size */
};
/* Collects the fields of the body into f (at most HD_FORM_FIELDS); as
 * hd_form_parse for a bad body, and f is then empty. Release f with
 * hd_form_release either way. */
int hd_form_collect(const char *body, size_t len, struct hd_form *f, struct hd_err *err);
/* The first field of that name, or NULL. Borrowed from f. */
const char *hd_form_get(const struct hd_form *f, const char *name);
void hd_form_release(struct hd_form *f);
/* X-Twilio-Signature for url and the form: base64 of the HMAC-SHA1, keyed
 * by the auth token, of url followed by each field's name and value. */
#define HD_TWILIO_SIG_MAX 32
void hd_form_twilio_signature(const char *token, size_t token_len, const char *url,
                              const struct hd_form *f, char out[HD_TWILIO_SIG_MAX]);

/* An auth token made ready for signing (herald serve checks a signature
 * per status callback): its HMAC padded blocks hashed once by
 * hd_form_twilio_key_init and only read after that, by any thread. A token
 * longer than SHA-1's block is left unprepared. */
struct hd_twilio_key {
    void *inner, *outer;     /* EVP_MD_CTX: SHA-1 after key^ipad, key^opad; NULL: none */
    unsigned char token[64]; /* the token they were made of (secret: wiped) */
    size_t len;
};
void hd_form_twilio_key_init(struct hd_twilio_key *k, const char *token, size_t len);
void hd_form_twilio_key_release(struct hd_twilio_key *k);
/* hd_form_twilio_signature through k (may be NULL) when k was made of this
 * token, else as hd_form_twilio_signature: the same signature. */
void hd_form_twilio_signature_key(const struct hd_twilio_key *k, const char *token,
                                  size_t token_len, const char *url, const struct hd_form *f,
                                  char out[HD_TWILIO_SIG_MAX]);

#endif
