/* sign: ACS3-HMAC-SHA256 (Aliyun V3) and TC3-HMAC-SHA256 (Tencent Cloud
 * API 3.0). Both hash a canonical request (method, path, query, the signed
 * headers as "name:value\n" lines, their names joined by ';', and the
 * payload's SHA-256), then sign a short string holding that hash with
 * HMAC-SHA256: Aliyun with the secret itself, Tencent with a key derived
 * from "TC3" + secret through the UTC date, the service and "tc3_request".
 * Every intermediate key is wiped before it goes out of scope. */
#include "herald/sign.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <string.h>
#include <time.h>

#include "herald/driver.h"

void hd_sign_pct(struct hd_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            hd_buf_addc(out, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            hd_buf_add(out, e, 3);
        }
    }
}

static void hmac(const void *key, size_t klen, const void *msg, size_t n, unsigned char out[32])
{
    unsigned int len = 32;
    if (!HMAC(EVP_sha256(), key, (int)klen, msg, n, out, &len))
        HD_BUG("HMAC-SHA256 failed");
}

static void add_hex(struct hd_buf *b, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        char c[2] = {hex[p[i] >> 4], hex[p[i] & 15]};
        hd_buf_add(b, c, 2);
    }
}

/* The canonical request's hash (hex) into out. */
static void canonical_hash(const char *method, const char *uri, const char *query,
                           const struct hd_sign_hdr *h, size_t n, const char *payload_sha256,
                           struct hd_buf *names, char out[65])
{
    struct hd_buf c;
    hd_buf_init(&c);
    hd_buf_addf(&c, "%s\n%s\n%s\n", method, uri, query);
    for (size_t i = 0; i < n; i++) {
        hd_buf_addf(&c, "%s:%s\n", h[i].name, h[i].value);
        if (i)
            hd_buf_addc(names, ';');
        hd_buf_adds(names, h[i].name);
    }
    hd_buf_addc(&c, '\n');
    hd_buf_add(&c, names->data, names->len);
    hd_buf_addf(&c, "\n%s", payload_sha256);
    hd_sha256_hex(c.data, c.len, out);
    hd_buf_release(&c);
}

void hd_sign_acs3(struct hd_buf *auth, const char *key_id, const char *secret, const char *method,
                  const char *uri, const char *query, const struct hd_sign_hdr *h, size_t n,
                  const char *payload_sha256)
{
    struct hd_buf names;
    char hash[65], sts[100];
    unsigned char sig[32];
    hd_buf_init(&names);
    canonical_hash(method, uri, query, h, n, payload_sha256, &names, hash);
    int len = snprintf(sts, sizeof sts, "ACS3-HMAC-SHA256\n%s", hash);
    hmac(secret, strlen(secret), sts, (size_t)len, sig);
    hd_buf_addf(auth, "ACS3-HMAC-SHA256 Credential=%s,SignedHeaders=", key_id);
    hd_buf_add(auth, names.data, names.len);
    hd_buf_adds(auth, ",Signature=");
    add_hex(auth, sig, sizeof sig);
    hd_buf_release(&names);
}

static void lower(char *dst, size_t n, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++)
        dst[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
    dst[i] = '\0';
}

void hd_sign_tc3(struct hd_buf *auth, const char *secret_id, const char *secret_key,
                 const char *service, const char *host, const char *content_type, int64_t timestamp,
                 const char *payload, size_t len)
{
    /* TC3 signs header values in lower case, too */
    char ct[128], hs[256];
    lower(ct, sizeof ct, content_type);
    lower(hs, sizeof hs, host);
    struct hd_sign_hdr h[] = {{"content-type", ct}, {"host", hs}};
    struct hd_buf names, key;
    char body_hash[65], hash[65], date[16], scope[128], sts[300];
    unsigned char k1[32], k2[32], k3[32], sig[32];
    time_t t = (time_t)timestamp;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y-%m-%d", &tm);
    hd_buf_init(&names);
    hd_buf_init(&key);
    hd_sha256_hex(payload, len, body_hash);
    canonical_hash("POST", "/", "", h, 2, body_hash, &names, hash);
    snprintf(scope, sizeof scope, "%s/%s/tc3_request", date, service);
    int n = snprintf(sts, sizeof sts, "TC3-HMAC-SHA256\n%lld\n%s\n%s", (long long)timestamp, scope,
                     hash);
    hd_buf_addf(&key, "TC3%s", secret_key);
    hmac(key.data, key.len, date, strlen(date), k1);
    hmac(k1, 32, service, strlen(service), k2);
    hmac(k2, 32, "tc3_request", 11, k3);
    hmac(k3, 32, sts, (size_t)n, sig);
    hd_buf_addf(auth, "TC3-HMAC-SHA256 Credential=%s/%s, SignedHeaders=", secret_id, scope);
    hd_buf_add(auth, names.data, names.len);
    hd_buf_adds(auth, ", Signature=");
    add_hex(auth, sig, sizeof sig);
    OPENSSL_cleanse(key.data, key.len);
    OPENSSL_cleanse(k1, 32);
    OPENSSL_cleanse(k2, 32);
    OPENSSL_cleanse(k3, 32);
    hd_buf_release(&key);
    hd_buf_release(&names);
}
