/* form: an application/x-www-form-urlencoded body (what gateways post to
 * herald serve's hooks), decoded and sorted by name, and Twilio's
 * X-Twilio-Signature over a URL and such a body. */
#ifndef HERALD_FORM_H
#define HERALD_FORM_H

#include <stddef.h>

/* The fields, decoded, sorted by name (then value), as Twilio's signature
 * takes them. At most HD_FORM_MAX fields. */
#define HD_FORM_MAX 256
struct hd_form_field {
    char *name, *value;
};
struct hd_form {
    struct hd_form_field *v;
    size_t n;
};
/* Parses len bytes of body; -1 for a bad escape, a NUL byte or too many
 * fields (f is then empty). Release f with hd_form_release either way. */
int hd_form_parse(const char *body, size_t len, struct hd_form *f);
/* The first field of that name, or NULL. Borrowed from f. */
const char *hd_form_get(const struct hd_form *f, const char *name);
void hd_form_release(struct hd_form *f);
/* X-Twilio-Signature for url and the form: base64 of the HMAC-SHA1, keyed
 * by the auth token, of url followed by each field's name and value. */
#define HD_TWILIO_SIG_MAX 32
void hd_form_twilio_signature(const char *token, size_t token_len, const char *url,
                              const struct hd_form *f, char out[HD_TWILIO_SIG_MAX]);

#endif
