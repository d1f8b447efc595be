/* webhook: the outbound webhooks' signature and POST (issue 20), see
 * include/herald/webhook.h for the scheme. The POST is one blocking
 * libcurl easy transfer with the drivers' TLS settings (peer and host
 * verified, TLS 1.2 at least, http and https only, no redirect followed,
 * no signal), made by the deliverer's own thread; the answer's body is
 * kept up to 4 KiB for `herald webhook test` and the error line. */
#include <curl/curl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "http_int.h"
#include "herald/webhook.h"

#define RESP_KEEP 4096

void hd_webhook_sign(const void *secret, size_t secret_len, int64_t t, const char *body,
                     size_t body_len, char out[HD_WEBHOOK_SIG_MAX])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    struct hd_buf msg;
    hd_buf_init(&msg);
    hd_buf_addf(&msg, "%" PRId64 ".", t);
    hd_buf_add(&msg, body, body_len);
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)msg.data, msg.len, mac,
              &mac_len))
        HD_BUG("HMAC-SHA256 failed");
    hd_buf_release(&msg);
    int n = snprintf(out, HD_WEBHOOK_SIG_MAX, "t=%" PRId64 ",v1=", t);
    for (unsigned i = 0; i < mac_len && (size_t)n + 2 < HD_WEBHOOK_SIG_MAX; i++)
        n += snprintf(out + n, HD_WEBHOOK_SIG_MAX - (size_t)n, "%02x", mac[i]);
    hd_wipe(mac, sizeof mac);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct hd_buf *b = ud;
    size_t len = size * n;
    if (b->len < RESP_KEEP)
        hd_buf_add(b, p, len < RESP_KEEP - b->len ? len : RESP_KEEP - b->len);
    return len;
}

int hd_webhook_post(const char *url, const char *body, size_t body_len, const char *sig,
                    int64_t timeout, long *status, struct hd_buf *resp, struct hd_err *err)
{
    char errbuf[CURL_ERROR_SIZE] = "", hsig[HD_WEBHOOK_SIG_MAX + 32];
    hx_curl_init();
    CURL *e = curl_easy_init();
    if (!e)
        HD_BUG("curl_easy_init failed");
    snprintf(hsig, sizeof hsig, HD_WEBHOOK_SIG_HEADER ": %s", sig);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, hsig);
    h = curl_slist_append(h, "User-Agent: herald/" HD_VERSION);
    h = curl_slist_append(h, "Expect:");
    long ms = timeout > 0 ? (long)timeout * 1000 : 10000;
    hd_buf_reset(resp);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms < 10000 ? ms : 10000L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(e);
    *status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    if (rc != CURLE_OK)
        return hd_err_set(err, HD_E_IO, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    return 0;
}
