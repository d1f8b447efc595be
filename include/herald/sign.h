/* sign: the request signatures of the Chinese clouds' APIs, HMAC-SHA256
 * over a canonical request, as their documentation defines them (and
 * their worked examples check, tests/test_cnsms.c):
 *   Aliyun V3, ACS3-HMAC-SHA256: hex(HMAC(secret, "ACS3-HMAC-SHA256\n" +
 *     hex(SHA256(method \n uri \n query \n headers \n signed \n payload hash))));
 *   Tencent Cloud API 3.0, TC3-HMAC-SHA256: the same canonical request
 *     under a key derived from the secret, the UTC date and the service.
 * The channel drivers aliyun_sms and tencent_sms sign with these; nothing
 * here logs or keeps a secret. */
#ifndef HERALD_SIGN_H
#define HERALD_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "herald/buf.h"

/* One header that is signed: the name in lower case, the value trimmed. */
struct hd_sign_hdr {
    const char *name, *value;
};

/* Appends s with every byte but A-Z a-z 0-9 - _ . ~ as %XX (RFC 3986),
 * the encoding both clouds sign query names and values with. */
void hd_sign_pct(struct hd_buf *out, const char *s);

/* Appends the Authorization value of an ACS3-HMAC-SHA256 request:
 * "ACS3-HMAC-SHA256 Credential=ID,SignedHeaders=a;b,Signature=HEX". The
 * headers (n of them) are sorted by name by the caller; query is the
 * canonical query string (names sorted, hd_sign_pct-encoded). */
void hd_sign_acs3(struct hd_buf *auth, const char *key_id, const char *secret, const char *method,
                  const char *uri, const char *query, const struct hd_sign_hdr *h, size_t n,
                  const char *payload_sha256);

/* Appends the Authorization value of a TC3-HMAC-SHA256 POST to "/"
 * signing content-type and host: "TC3-HMAC-SHA256
 * Credential=ID/DATE/SERVICE/tc3_request, SignedHeaders=content-type;host,
 * Signature=HEX", for the payload at timestamp (Unix seconds). */
void hd_sign_tc3(struct hd_buf *auth, const char *secret_id, const char *secret_key,
                 const char *service, const char *host, const char *content_type, int64_t timestamp,
                 const char *payload, size_t len);

#endif
