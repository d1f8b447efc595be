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

#include <stddef.h>

#include "herald/err.h"

/* The longest body hd_form_parse takes. */
#define HD_FORM_MAX 4096

/* Called for each pair with its decoded key and value, NUL-terminated and
 * valid during the call; a non-zero return stops the parse and is returned. */
typedef int (*hd_form_fn)(void *ud, const char *key, const char *value);

/* Parses the len bytes at body (at most HD_FORM_MAX) and calls fn for each
 * pair. HD_E_PARSE with the reason and the byte offset for a bad body;
 * fn is not called at all then (the body is checked whole first). */
int hd_form_parse(const char *body, size_t len, hd_form_fn fn, void *ud, struct hd_err *err);

#endif
