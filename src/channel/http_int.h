/* http_int: the engine the HTTP drivers (twilio, http, fcm, apns, ...)
 * share (herald's HTTP/1.1 client, wire.c, or libcurl's multi), and the helpers they have in common. A protocol builds one
 * request per message and classifies its response; the engine keeps up to
 * `connections` requests in flight on one thread (×streams for HTTP/2),
 * reuses the connections and hands the results back to driver.c. With
 * many connections on a machine with several cores, two or more threads
 * (lanes) each run the loop over their share of the connections; the
 * protocol's calls are serialised by a mutex, so its state needs none. */
#ifndef HERALD_HTTP_INT_H
#define HERALD_HTTP_INT_H

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "driver_int.h"
#include "herald/buf.h"

/* One request in flight. */
struct hx_req {
    CURL *easy; /* on libcurl's lanes only (NULL on herald's client's) */
    const struct hd_msg *m;
    const char *method; /* set by build; NULL means POST */
    struct hd_buf url;  /* set by build */
    struct hd_buf body; /* set by build */
    struct curl_slist *hdrs;
    struct hd_buf resp; /* the response body (up to 64 KiB) */
    char resp_id[128];  /* the apns-id response header */
    /* the X-Rate-Limit-Remaining and X-Rate-Limit-Reset (seconds) response
     * headers (JPush's per-app quota), -1 when absent */
    long rl_remaining, rl_reset;
    /* set by finish: the gate closes this long (ms) whatever the outcome
     * (the gateway said its quota is spent until then); 0 by default */
    int64_t hold_ms;
    unsigned gen; /* the protocol's credential generation at build */
    int again;    /* how many times the protocol sent it again */
    int64_t t0;
    char errbuf[CURL_ERROR_SIZE];
};

struct hx;

struct hx_proto {
    /* Before a batch is built (may block, e.g. to fetch an OAuth token).
     * Returns <0 with err set when no message can be sent now: temporary,
     * or a provider fault (the provider pauses) when err's code is
     * HD_E_CONFIG (the gateway refused the provider's credentials). */
    int (*prepare)(void *pc, struct hx *h, struct hd_err *err);
    /* Fills the request for q->m (url, body, hdrs through hx_header,
     * method, gen; Basic auth is a header line too, hx_basic). Returns 0,
     * or -1 with r filled when the message is refused before sending. */
    int (*build)(void *pc, struct hx_req *q, struct hd_result *r);
    /* Classifies a completed response into r (outcome, text, gateway_id,
     * bad_address...). Returns 1 to build and send the request again
     * (honoured once: q->again says whether it already was). */
    int (*finish)(void *pc, struct hx *h, struct hx_req *q, long status, struct hd_result *r);
    void (*fini)(void *pc);
};

/* Opens the engine for a protocol (pc is the protocol's own state, freed by
 * proto->fini). streams > 1 turns on HTTP/2 with that many streams per
 * connection. *conf becomes what driver.c hands to hx_loop and hx_close. */
int hx_open(const struct hd_provider_cfg *cfg, struct hd_log *log, const struct hx_proto *proto,
            void *pc, unsigned streams, void **conf, struct hd_err *err);
void hx_close(void *conf);
void hx_loop(void *conf, struct hd_driver *d);
void hx_wake(void *conf);
unsigned hx_lanes(void *conf); /* how many threads run hx_loop */
struct hd_log *hx_log(struct hx *h);

/* One blocking POST of a form (for token endpoints), with the provider's TLS
 * settings and timeout. Fills resp and *status. */
int hx_post_form(struct hx *h, const char *url, const char *form, struct hd_buf *resp, long *status,
                 struct hd_err *err);
/* The same with a JSON body. */
int hx_post_json(struct hx *h, const char *url, const char *json, struct hd_buf *resp, long *status,
                 struct hd_err *err);

/* A new string: base (or dflt when base is NULL) without trailing slashes,
 * then the path printf-style: the URL of a gateway's endpoint. */
char *hx_url(const char *base, const char *dflt, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The host[:port] of a URL into a new string *host, as a signed request
 * names it in its Host header; HD_E_CONFIG when there is none. */
int hx_host(const char *url, char **host, struct hd_err *err);
/* A header line "name: value"; refuses (returns -1) a value holding CR or LF. */
int hx_header(struct hx_req *q, const char *name, const char *value);
/* The response body parsed as JSON, or NULL. The caller decrefs. */
json_t *hx_json(const struct hx_req *q);
/* The first string member named key in the response's JSON, into out (""
 * when absent); cheaper than hx_json for a small success reply. */
void hx_scan_str(const struct hx_req *q, const char *key, char *out, size_t n);
/* A string member of a JSON object, or NULL. */
const char *hx_jstr(const json_t *o, const char *key);
/* The id a gateway echoes in its delivery reports (Aliyun's OutId,
 * Tencent's SessionContext): "N:UUID", the message's number (which the
 * report's hook looks the message up by) and its stable id; the id alone
 * when the message has no number. */
#define HX_OUT_ID_MAX 96
void hx_out_id(const struct hd_msg *m, char out[HX_OUT_ID_MAX]);
/* Copies s into dst (size n) with control characters as spaces. */
void hx_copy_text(char *dst, size_t n, const char *s);

/* A message the gateway cannot take, refused before sending: r is a
 * permanent result saying why. Returns -1 (what build returns then). */
int hx_refuse(struct hd_result *r, const struct hd_msg *m, const char *why);
/* The provider, not the message, is at fault (its account's balance, its
 * key): r is throttled for HD_PROVIDER_FAULT_PAUSE_MS with provider_fault
 * set, so the provider pauses and its messages wait for a person. */
void hx_provider_fault(struct hd_result *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Whether s starts with p (a gateway's code family: "Throttling."). */
static inline bool hx_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* A provider's reusable credential (APNs' provider token, Huawei's OAuth
 * token) and the one the dispatcher offers from the store (creds.c), for
 * the drivers' offer_credential and credential calls. */
struct hx_cred {
    pthread_mutex_t mu;
    /* the Authorization value in use, "<scheme> <credential>", or NULL:
     * written under the engine's lock and mu (both), so read under either
     * (build under the engine's, the dispatcher under mu) */
    char *header;
    size_t skip;   /* the scheme and its space: header + skip is the credential */
    int64_t at;    /* the credential's issue time */
    unsigned gen;  /* counts the credentials set */
    char *offered; /* the dispatcher's offer (under mu), or NULL */
    int64_t offered_at;
    atomic_bool offer_waits; /* offered is set: read without the lock per batch */
};
void hx_cred_init(struct hx_cred *c);
void hx_cred_release(struct hx_cred *c); /* wipes what it held */
/* With the engine's lock held: the credential becomes scheme, a space and
 * value, issued at. */
void hx_cred_set(struct hx_cred *c, const char *scheme, const char *value, int64_t at);
/* offer_credential: keeps a copy of value for the next batch to look at. */
void hx_cred_offer(struct hx_cred *c, const char *value, int64_t at);
/* With the engine's lock held: the credential offered (the caller wipes and
 * frees it) with its issue time, or NULL when none waits. */
char *hx_cred_offered(struct hx_cred *c, int64_t *at);
/* credential: a copy of the one in use, without its scheme, and its issue
 * time; NULL when there is none. */
char *hx_cred_get(struct hx_cred *c, int64_t *at);
/* An OAuth-style token's keeping, for the drivers whose token lives life
 * seconds (hms.c, wechat.c): whether the one issued at is still good now
 * (renewed early seconds before it expires, or a fifth of a short life);
 * and, with the engine's lock held, the offered token taken when it is
 * newer than ours and still fresh (*life becomes dflt when unknown). */
bool hx_cred_fresh(int64_t at, int64_t life, int64_t early, int64_t now);
void hx_cred_adopt(struct hx_cred *c, const char *scheme, int64_t *life, int64_t dflt,
                   int64_t early);

/* The engine's calls for a driver whose conf is its own struct, with the
 * engine (what hx_open gave) as its first member: so that the driver's
 * credential calls reach it. hx_held_close frees the driver's struct
 * through the protocol's fini. */
void hx_held_close(void *conf);
void hx_held_loop(void *conf, struct hd_driver *d);
void hx_held_wake(void *conf);
unsigned hx_held_lanes(void *conf);

/* HTTP Basic credentials: a new string "Basic " base64(user ":" pass),
 * made once when a driver is made; the caller wipes and frees it. */
char *hx_basic(const char *user, const char *pass);
/* Base64url without padding. */
void hx_b64url(struct hd_buf *out, const void *p, size_t n);
/* A private key from PEM text; NULL with err set when it cannot be read. */
EVP_PKEY *hx_pem_key(const char *pem, size_t len, const char *what, struct hd_err *err);
/* Appends a signed JWT: base64url(header).base64url(claims).signature, with
 * RS256 for an RSA key or ES256 (raw r||s) for a P-256 key. */
int hx_jwt(struct hd_buf *out, EVP_PKEY *key, const char *header, const char *claims);

/* Wall-clock seconds (token lifetimes are real time, whatever HERALD_NOW says). */
/* libcurl's global state, made once for every user of libcurl here. */
void hx_curl_init(void);
int64_t hx_now(void);

#endif
