/* webhook: herald's outbound webhooks on the wire (issue 20): the
 * signature a receiver checks and one blocking POST. The scheme is the
 * one Stripe documents for its webhooks: the header
 *   Herald-Signature: t=UNIX,v1=HEX
 * where HEX is the lower-case hex of HMAC-SHA256(secret, "UNIX." + body)
 * over the exact bytes of the body, and UNIX the time of signing in
 * seconds. Nothing here logs or keeps the secret. */
#ifndef HERALD_WEBHOOK_H
#define HERALD_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "herald/buf.h"
#include "herald/err.h"

#define HD_WEBHOOK_SIG_HEADER "Herald-Signature"
#define HD_WEBHOOK_SIG_MAX 96 /* "t=" 20 digits ",v1=" 64 hex digits, NUL */

/* Writes "t=UNIX,v1=HEX" for body signed at t into out. */
void hd_webhook_sign(const void *secret, size_t secret_len, int64_t t, const char *body,
                     size_t body_len, char out[HD_WEBHOOK_SIG_MAX]);

/* POSTs the JSON body to url with the signature header sig, waiting at
 * most timeout seconds. *status is the HTTP status (0 when none came) and
 * resp the start of the answer's body (up to 4 KiB). Returns 0 when an
 * answer came (any status), HD_E_IO with libcurl's reason in err (not
 * the URL, which may carry a token) when none did. */
int hd_webhook_post(const char *url, const char *body, size_t body_len, const char *sig,
                    int64_t timeout, long *status, struct hd_buf *resp, struct hd_err *err);

#endif
