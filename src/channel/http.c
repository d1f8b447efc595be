/* http: the engine of the HTTP drivers. One thread per driver (per lane)
 * runs the loop: it takes submitted messages while fewer than the
 * in-flight bound are out, has the protocol build each request, lets the
 * transport drive every transfer over its pool of kept-alive connections
 * (at most `connections`), and returns each result as it completes. The
 * transport is herald's own HTTP/1.1 client (wire.c) unless libcurl is
 * needed: HTTP/2 (APNs), or a proxy the environment names, which libcurl
 * honours; the blocking token fetches (hx_post_form) stay on libcurl. Transport
 * failures (no connection, timeout, dropped connection, a certificate that
 * fails verification) are temporary. A throttled answer, or one whose
 * protocol says the gateway's quota is spent (hold_ms, from X-Rate-Limit-*
 * headers the engine reads for it), closes the driver's gate. Nothing here
 * logs a header or a body, so credentials never reach the log. */
#include "http_int.h"

#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "herald/time.h"
#include "herald/valid.h"
#include "wire.h"

#define RESP_MAX (64 * 1024)
#define TAKE_MAX 256

#define LANES_MAX 4

/* One loop thread's share: its own multi handle and connections. */
struct lane {
    struct hd_wire *wire; /* herald's HTTP/1.1 client; NULL: libcurl's multi */
    CURLM *multi;
    size_t max_inflight;
    struct hx_req **spare; /* finished requests, kept with their easy handles */
    size_t nspare;
    atomic_bool sleeping; /* the loop waits in curl_multi_poll and has room */
};

struct hx {
    const struct hx_proto *proto;
    void *pc;
    pthread_mutex_t pmu; /* the protocol's calls: its state (tokens) is shared */
    struct hd_log *log;
    char *ca_file;
    long timeout_ms;
    bool no_proxy; /* no_proxy_env() when made */
    unsigned conns, streams;
    struct lane lanes[LANES_MAX];
    unsigned nlanes;
    atomic_uint next_lane;
};

static void on_wire_header(void *ud, const char *line, size_t len);
static void on_wire_body(void *ud, const char *p, size_t len);

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        HD_BUG("libcurl does not initialise");
}

/* Whether the environment names no proxy: libcurl would look for five
 * variables with getenv() on every request (1,500 instructions a push,
 * which callgrind showed), so each handle is told "none" once instead,
 * which is what it would find. With any of them set, libcurl reads them
 * as ever. Asked when a driver is made, not once a process, so that a
 * test that sets them for its next driver is heard. */
static bool no_proxy_env(void)
{
    static const char *const vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                       "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return false;
    return true;
}

void hx_curl_init(void)
{
    pthread_once(&global_once, global_init);
}

int64_t hx_now(void)
{
    return (int64_t)time(NULL);
}

struct hd_log *hx_log(struct hx *h)
{
    return h->log;
}

int hx_open(const struct hd_provider_cfg *cfg, struct hd_log *log, const struct hx_proto *proto,
            void *pc, unsigned streams, void **conf, struct hd_err *err)
{
    (void)err;
    hx_curl_init();
    struct hx *h = hd_xcalloc(1, sizeof *h);
    h->proto = proto;
    h->pc = pc;
    h->log = log;
    h->ca_file = hd_xstrdup(hd_provider_get(cfg, "ca_file"));
    h->timeout_ms = (long)(cfg->timeout > 0 ? cfg->timeout : 30) * 1000L;
    h->no_proxy = no_proxy_env();
    h->conns = cfg->connections ? cfg->connections : 4;
    h->streams = streams > 1 ? streams : 1;
    /* One loop thread saturates a core with curl and the kernel's loopback
     * work; a second (with half the connections) lets a many-connection
     * provider use another core. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    h->nlanes = h->conns >= 16 && cpus > 1 ? (unsigned)(cpus < LANES_MAX ? cpus : LANES_MAX) : 1;
    pthread_mutex_init(&h->pmu, NULL);
    for (unsigned i = 0; i < h->nlanes; i++) {
        struct lane *l = &h->lanes[i];
        unsigned conns = h->conns / h->nlanes + (i < h->conns % h->nlanes);
        l->max_inflight = (size_t)conns * h->streams;
        /* herald's own client unless libcurl is needed: HTTP/2, or a
         * proxy named in the environment */
        if (h->streams == 1 && h->no_proxy) {
            l->wire = hd_wire_new(conns, h->timeout_ms, h->ca_file, on_wire_header, on_wire_body);
            continue;
        }
        l->multi = curl_multi_init();
        if (!l->multi)
            HD_BUG("curl_multi_init failed");
        curl_multi_setopt(l->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conns);
        curl_multi_setopt(l->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conns);
        curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, (long)conns);
        curl_multi_setopt(l->multi, CURLMOPT_PIPELINING,
                          (long)(h->streams > 1 ? CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING));
        if (h->streams > 1)
            curl_multi_setopt(l->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, (long)h->streams);
    }
    *conf = h;
    return 0;
}

/* A request, and how many times libcurl put it on the wire in its current
 * transfer (CURLOPT_PREREQFUNCTION, called as each request goes out: a
 * counter, no system call). libcurl 7.88 sends a request again, at once
 * and silently, when the reused connection it chose turns out closed, and
 * has no option against it; the count tells the dispatcher, which logs
 * each send (hd_result.resent). */
struct req {
    struct hx_req q; /* first: the protocols see &req.q */
    unsigned sends;
    /* the URL parsed once (CURLOPT_CURLU) and the text it was parsed from:
     * given as text, curl parsed it and wrote it out again (with its own
     * printf, a byte at a time) for every request, about 14,000
     * instructions, while a provider's requests mostly go to one URL */
    CURLU *cu;
    struct hd_buf cu_url;
    /* the body's SHA-256 (hex), taken with the rest of its batch by
     * start_batch (hd_sha256_hex_many); "" until then, and again after
     * each build, so a body built again is digested when it is done */
    char digest[65];
    /* where hx_header finds or puts the next line: the header list is
     * kept from one request to the next and a line the same as the last
     * request's in its place is kept as it is (made and freed again for
     * every request, two lines of FCM's cost 1,700 instructions) */
    struct curl_slist **hdr_next;
    struct hd_wire_req w; /* on a lane of herald's own client */
};

static int on_prereq(void *ud, char *ip, char *local_ip, int port, int local_port)
{
    (void)ip, (void)local_ip, (void)port, (void)local_port;
    ((struct req *)ud)->sends++;
    return CURL_PREREQFUNC_OK;
}

/* Frees the header lines from l on, each wiped first (an Authorization
 * line holds a credential). */
static void drop_lines(struct curl_slist *l)
{
    for (struct curl_slist *x = l; x; x = x->next)
        hd_wipe(x->data, strlen(x->data));
    curl_slist_free_all(l);
}

static void req_free(struct hx_req *q)
{
    if (!q)
        return;
    curl_easy_cleanup(q->easy);
    hd_wire_req_release(&((struct req *)q)->w);
    curl_url_cleanup(((struct req *)q)->cu);
    hd_buf_release(&((struct req *)q)->cu_url);
    hd_buf_release(&q->url);
    hd_wipe(q->body.data, q->body.len);
    hd_buf_release(&q->body);
    hd_buf_release(&q->resp);
    drop_lines(q->hdrs);
    free(q);
}

void hx_close(void *conf)
{
    struct hx *h = conf;
    if (!h)
        return;
    for (unsigned k = 0; k < h->nlanes; k++) {
        struct lane *l = &h->lanes[k];
        for (size_t i = 0; i < l->nspare; i++)
            req_free(l->spare[i]);
        free(l->spare);
        hd_wire_free(l->wire);
        curl_multi_cleanup(l->multi);
    }
    pthread_mutex_destroy(&h->pmu);
    if (h->proto->fini)
        h->proto->fini(h->pc);
    free(h->ca_file);
    free(h);
}

void hx_wake(void *conf)
{
    struct hx *h = conf;
    /* only when the loop sleeps in curl with room for more: a wake-up is a
     * write to a socket pair, too dear for every message */
    for (unsigned i = 0; i < h->nlanes; i++)
        if (atomic_exchange(&h->lanes[i].sleeping, false)) {
            if (h->lanes[i].wire)
                hd_wire_wakeup(h->lanes[i].wire);
            else
                curl_multi_wakeup(h->lanes[i].multi);
            return;
        }
}

unsigned hx_lanes(void *conf)
{
    return ((struct hx *)conf)->nlanes;
}

/* ---- helpers for the protocols --------------------------------------------------- */

char *hx_url(const char *base, const char *dflt, const char *fmt, ...)
{
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_adds(&b, base ? base : dflt);
    while (b.len && b.data[b.len - 1] == '/')
        b.data[--b.len] = '\0';
    va_list ap;
    va_start(ap, fmt);
    hd_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    hd_buf_addc(&b, '\0');
    return hd_buf_detach(&b, NULL);
}

int hx_host(const char *url, char **host, struct hd_err *err)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    if (!n || memchr(p, '@', n))
        return hd_err_set(err, HD_E_CONFIG, "base_url: '%s' has no host (or has a user)", url);
    *host = hd_xstrndup(p, n);
    return 0;
}

/* The line "name: value" (value NULL: "name:", which tells curl not to
 * send its own) in the list's next place: kept when the last request had
 * it there, else it and the lines after it are made anew. */
static void put_line(struct req *rq, const char *name, const char *value)
{
    struct curl_slist *at = *rq->hdr_next;
    size_t n = strlen(name);
    if (at && strncmp(at->data, name, n) == 0 && at->data[n] == ':' &&
        (value ? at->data[n + 1] == ' ' && strcmp(at->data + n + 2, value) == 0
               : at->data[n + 1] == '\0')) {
        rq->hdr_next = &at->next;
        return;
    }
    drop_lines(at);
    *rq->hdr_next = NULL;
    struct hd_buf line;
    hd_buf_init(&line);
    hd_buf_adds(&line, name);
    hd_buf_addc(&line, ':');
    if (value) {
        hd_buf_addc(&line, ' ');
        hd_buf_adds(&line, value);
    }
    hd_buf_addc(&line, '\0');
    struct curl_slist *l = curl_slist_append(NULL, line.data);
    hd_wipe(line.data, line.len);
    hd_buf_release(&line);
    if (!l)
        HD_BUG("out of memory");
    *rq->hdr_next = l;
    rq->hdr_next = &l->next;
}

int hx_header(struct hx_req *q, const char *name, const char *value)
{
    if (strpbrk(value, "\r\n"))
        return -1;
    put_line((struct req *)q, name, value);
    return 0;
}

json_t *hx_json(const struct hx_req *q)
{
    if (!q->resp.len)
        return NULL;
    return json_loadb(q->resp.data, q->resp.len, 0, NULL);
}

void hx_scan_str(const struct hx_req *q, const char *key, char *out, size_t n)
{
    out[0] = '\0';
    const char *p = q->resp.data, *end = p + q->resp.len;
    size_t klen = strlen(key);
    /* the fast path: {"key": "value without escapes", ...} */
    while (p && p < end && (p = memchr(p, '"', (size_t)(end - p))) != NULL) {
        if ((size_t)(end - p) > klen + 1 && memcmp(p + 1, key, klen) == 0 && p[klen + 1] == '"') {
            const char *v = p + klen + 2;
            while (v < end && (*v == ' ' || *v == ':' || *v == '\n' || *v == '\r' || *v == '\t'))
                v++;
            const char *close =
                v < end && *v == '"' ? memchr(v + 1, '"', (size_t)(end - v - 1)) : NULL;
            if (close && !memchr(v + 1, '\\', (size_t)(close - v - 1))) {
                size_t len = (size_t)(close - v - 1) < n - 1 ? (size_t)(close - v - 1) : n - 1;
                memcpy(out, v + 1, len);
                out[len] = '\0';
                hx_copy_text(out, n, out);
                return;
            }
            break;
        }
        p++;
    }
    json_t *j = hx_json(q); /* anything else */
    hx_copy_text(out, n, hx_jstr(j, key));
    json_decref(j);
}

const char *hx_jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

bool hx_cred_fresh(int64_t at, int64_t life, int64_t early, int64_t now)
{
    int64_t e = life > 2 * early ? early : life / 5;
    return now - at > -60 && now < at + life - e;
}

void hx_cred_adopt(struct hx_cred *c, const char *scheme, int64_t *life, int64_t dflt,
                   int64_t early)
{
    int64_t at = 0;
    char *tok = hx_cred_offered(c, &at);
    if (!tok)
        return;
    if (!*life)
        *life = dflt;
    if ((!c->header || at > c->at) && hx_cred_fresh(at, *life, early, hx_now()))
        hx_cred_set(c, scheme, tok, at);
    hd_wipe(tok, strlen(tok));
    free(tok);
}

void hx_out_id(const struct hd_msg *m, char out[HX_OUT_ID_MAX])
{
    if (m->ref > 0)
        snprintf(out, HX_OUT_ID_MAX, "%lld:%s", (long long)m->ref, m->id);
    else
        snprintf(out, HX_OUT_ID_MAX, "%s", m->id);
}

void hx_copy_text(char *dst, size_t n, const char *s)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < n; i++)
        dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
    if (n) {
        dst[i] = '\0';
        hd_utf8_scrub(dst); /* cut to n, perhaps mid-character */
    }
}

int hx_refuse(struct hd_result *r, const struct hd_msg *m, const char *why)
{
    hd_result_init(r, m);
    hd_result_set(r, HD_OUT_PERMANENT, 0, "%s", why);
    return -1;
}

/* ---- a provider's reusable credential ------------------------------------------- */

static void wipe_free(char **s)
{
    if (*s)
        hd_wipe(*s, strlen(*s));
    free(*s);
    *s = NULL;
}

void hx_cred_init(struct hx_cred *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
}

void hx_cred_release(struct hx_cred *c)
{
    wipe_free(&c->header);
    wipe_free(&c->offered);
    pthread_mutex_destroy(&c->mu);
}

void hx_cred_set(struct hx_cred *c, const char *scheme, const char *value, int64_t at)
{
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_addf(&b, "%s %s", scheme, value);
    pthread_mutex_lock(&c->mu);
    wipe_free(&c->header);
    c->header = hd_buf_detach(&b, NULL);
    c->skip = strlen(scheme) + 1;
    c->at = at;
    c->gen++;
    pthread_mutex_unlock(&c->mu);
}

void hx_cred_offer(struct hx_cred *c, const char *value, int64_t at)
{
    pthread_mutex_lock(&c->mu);
    wipe_free(&c->offered);
    c->offered = hd_xstrdup(value);
    c->offered_at = at;
    atomic_store(&c->offer_waits, true);
    pthread_mutex_unlock(&c->mu);
}

char *hx_cred_offered(struct hx_cred *c, int64_t *at)
{
    if (!atomic_load(&c->offer_waits))
        return NULL;
    pthread_mutex_lock(&c->mu);
    char *v = c->offered;
    *at = c->offered_at;
    c->offered = NULL;
    atomic_store(&c->offer_waits, false);
    pthread_mutex_unlock(&c->mu);
    return v;
}

char *hx_cred_get(struct hx_cred *c, int64_t *at)
{
    char *v = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->header) {
        v = hd_xstrdup(c->header + c->skip);
        *at = c->at;
    }
    pthread_mutex_unlock(&c->mu);
    return v;
}

void hx_held_close(void *conf)
{
    hx_close(*(void **)conf); /* frees conf through the protocol's fini */
}

void hx_held_loop(void *conf, struct hd_driver *d)
{
    hx_loop(*(void **)conf, d);
}

void hx_held_wake(void *conf)
{
    hx_wake(*(void **)conf);
}

unsigned hx_held_lanes(void *conf)
{
    return hx_lanes(*(void **)conf);
}

void hx_provider_fault(struct hd_result *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->text, sizeof r->text, fmt, ap);
    va_end(ap);
    hd_utf8_scrub(r->text);
    r->outcome = HD_OUT_THROTTLED;
    r->code = code;
    r->provider_fault = true;
    r->retry_after_ms = HD_PROVIDER_FAULT_PAUSE_MS;
}

char *hx_basic(const char *user, const char *pass)
{
    size_t u = strlen(user), p = strlen(pass), n = u + 1 + p;
    unsigned char *plain = hd_xcalloc(1, n + 1);
    memcpy(plain, user, u);
    plain[u] = ':';
    memcpy(plain + u + 1, pass, p);
    char *out = hd_xcalloc(1, 6 + 4 * ((n + 2) / 3) + 1);
    memcpy(out, "Basic ", 6);
    EVP_EncodeBlock((unsigned char *)out + 6, plain, (int)n);
    hd_wipe(plain, n);
    free(plain);
    return out;
}

void hx_b64url(struct hd_buf *out, const void *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *s = p;
    hd_buf_reserve(out, n / 3 * 4 + 4);
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        char c[4] = {tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], tab[v & 63]};
        hd_buf_add(out, c, 4);
    }
    if (n - i == 1) {
        unsigned v = (unsigned)s[i] << 16;
        char c[2] = {tab[v >> 18], tab[(v >> 12) & 63]};
        hd_buf_add(out, c, 2);
    } else if (n - i == 2) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
        char c[3] = {tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63]};
        hd_buf_add(out, c, 3);
    }
}

EVP_PKEY *hx_pem_key(const char *pem, size_t len, const char *what, struct hd_err *err)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!key) {
        hd_err_set(err, HD_E_CONFIG, "%s: not a PEM private key", what);
        return NULL;
    }
    return key;
}

int hx_jwt(struct hd_buf *out, EVP_PKEY *key, const char *header, const char *claims)
{
    size_t start = out->len;
    hx_b64url(out, header, strlen(header));
    hd_buf_addc(out, '.');
    hx_b64url(out, claims, strlen(claims));
    bool ec = EVP_PKEY_is_a(key, "EC");
    unsigned char sig[512];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(md, sig, &siglen, (const unsigned char *)out->data + start,
                            out->len - start) == 1;
    EVP_MD_CTX_free(md);
    if (!ok)
        return -1;
    hd_buf_addc(out, '.');
    if (!ec) {
        hx_b64url(out, sig, siglen);
        return 0;
    }
    /* JOSE wants ES256 as the raw 32-byte r and s, not DER */
    const unsigned char *p = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
    if (!es)
        return -1;
    unsigned char raw[64];
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(es, &r, &s);
    ok = BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32;
    ECDSA_SIG_free(es);
    if (!ok)
        return -1;
    hx_b64url(out, raw, sizeof raw);
    return 0;
}

/* ---- transfers ---------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct hx_req *q = ud;
    size_t len = size * n;
    if (q->resp.len + len <= RESP_MAX)
        hd_buf_add(&q->resp, p, len);
    return len;
}

/* The number in a header line "name: N" when it is that header, else *v. */
static long header_num(const char *p, size_t len, const char *name, long v)
{
    size_t k = strlen(name);
    if (len <= k || strncasecmp(p, name, k) != 0)
        return v;
    char num[24];
    size_t i = k, j = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    while (i < len && j + 1 < sizeof num && p[i] >= '0' && p[i] <= '9')
        num[j++] = p[i++];
    num[j] = '\0';
    return j ? strtol(num, NULL, 10) : v;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct hx_req *q = ud;
    size_t len = size * n;
    static const char name[] = "apns-id:";
    if (len > 2 && (p[0] == 'x' || p[0] == 'X')) {
        q->rl_remaining = header_num(p, len, "x-rate-limit-remaining:", q->rl_remaining);
        q->rl_reset = header_num(p, len, "x-rate-limit-reset:", q->rl_reset);
    } else if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        size_t i = sizeof name - 1, j = len;
        while (i < j && (p[i] == ' ' || p[i] == '\t'))
            i++;
        while (j > i && (p[j - 1] == '\r' || p[j - 1] == '\n' || p[j - 1] == ' '))
            j--;
        if (j - i < sizeof q->resp_id) {
            memcpy(q->resp_id, p + i, j - i);
            q->resp_id[j - i] = '\0';
        }
    }
    return len;
}

static void on_wire_header(void *ud, const char *line, size_t len)
{
    on_header((char *)line, 1, len, ud);
}

static void on_wire_body(void *ud, const char *p, size_t len)
{
    on_body((char *)p, 1, len, ud);
}

static void easy_common(struct hx *h, CURL *e, void *ud)
{
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms < 10000 ? h->timeout_ms : 10000L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (h->no_proxy) {
        curl_easy_setopt(e, CURLOPT_PROXY, "");
        curl_easy_setopt(e, CURLOPT_NOPROXY, "");
    }
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (h->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, ud);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, ud);
    if (h->streams > 1) {
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    }
}

/* A POST of body (of Content-Type ctype, or NULL for a form) outside the
 * loop, blocking. */
static int post_body(struct hx *h, const char *url, const char *body, const char *ctype,
                     struct hd_buf *resp, long *status, struct hd_err *err)
{
    struct hx_req q = {0};
    hd_buf_init(&q.resp);
    CURL *e = curl_easy_init();
    if (!e)
        HD_BUG("curl_easy_init failed");
    easy_common(h, e, &q);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    struct curl_slist *hdrs = ctype ? curl_slist_append(NULL, ctype) : NULL;
    if (hdrs)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q.errbuf);
    CURLcode rc = curl_easy_perform(e);
    *status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(e);
    curl_slist_free_all(hdrs);
    hd_buf_reset(resp);
    hd_buf_add(resp, q.resp.data, q.resp.len);
    hd_wipe(q.resp.data, q.resp.len);
    hd_buf_release(&q.resp);
    if (rc != CURLE_OK)
        return hd_err_set(err, HD_E_IO, "%s: %s", url,
                          q.errbuf[0] ? q.errbuf : curl_easy_strerror(rc));
    return 0;
}

int hx_post_form(struct hx *h, const char *url, const char *form, struct hd_buf *resp, long *status,
                 struct hd_err *err)
{
    return post_body(h, url, form, NULL, resp, status, err);
}

int hx_post_json(struct hx *h, const char *url, const char *json, struct hd_buf *resp, long *status,
                 struct hd_err *err)
{
    return post_body(h, url, json, "Content-Type: application/json; charset=utf-8", resp, status,
                     err);
}

static struct hx_req *req_get(struct hx *h, struct lane *l)
{
    if (l->nspare)
        return l->spare[--l->nspare];
    struct req *rq = hd_xcalloc(1, sizeof *rq);
    struct hx_req *q = &rq->q;
    rq->w.ud = q;
    if (l->wire)
        return q;
    q->easy = curl_easy_init();
    if (!q->easy)
        HD_BUG("curl_easy_init failed");
    curl_easy_setopt(q->easy, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(q->easy, CURLOPT_PREREQDATA, rq);
    /* options that never change are set once: a provider's requests differ
     * only in URL, headers and body */
    easy_common(h, q->easy, q);
    curl_easy_setopt(q->easy, CURLOPT_PRIVATE, q);
    curl_easy_setopt(q->easy, CURLOPT_ERRORBUFFER, q->errbuf);
    return q;
}

static void req_put(struct lane *l, struct hx_req *q)
{
    HD_GROW(l->spare, l->nspare);
    l->spare[l->nspare++] = q;
}

/* The request's URL on its easy handle: parsed again only when it is not
 * the one the handle has; one curl cannot parse goes as text, for curl to
 * refuse as before. */
static void set_url(struct req *rq)
{
    CURL *e = rq->q.easy;
    const struct hd_buf *url = &rq->q.url;
    if (rq->cu_url.len && rq->cu_url.len == url->len &&
        memcmp(rq->cu_url.data, url->data, url->len) == 0)
        return;
    hd_buf_reset(&rq->cu_url);
    if (!rq->cu && !(rq->cu = curl_url()))
        HD_BUG("out of memory");
    /* the text too: curl reports and logs the URL from it */
    curl_easy_setopt(e, CURLOPT_URL, url->data);
    if (curl_url_set(rq->cu, CURLUPART_URL, url->data,
                     CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        curl_easy_setopt(e, CURLOPT_CURLU, NULL);
        return;
    }
    curl_easy_setopt(e, CURLOPT_CURLU, rq->cu);
    hd_buf_add(&rq->cu_url, url->data, url->len);
}

/* Hands a built request to herald's own client: its head from the
 * method, URL and the protocol's lines, then its body. */
static void wire_start(struct lane *l, struct req *rq, const char *method)
{
    struct hx_req *q = &rq->q;
    drop_lines(*rq->hdr_next); /* lines the last request had beyond these */
    *rq->hdr_next = NULL;
    hd_wire_begin(&rq->w, method, q->url.data ? q->url.data : "", q->url.len);
    for (struct curl_slist *x = q->hdrs; x; x = x->next)
        hd_wire_line(&rq->w, x->data);
    hd_wire_start(l->wire, &rq->w, q->body.data, q->body.len, strcmp(method, "GET") != 0);
}

/* Builds q and adds it to the multi handle (or gives it to herald's own
 * client); -1 (r filled) when refused. */
static int req_start(struct hx *h, struct lane *l, struct hx_req *q, struct hd_result *r)
{
    hd_buf_reset(&q->url);
    hd_wipe(q->body.data, q->body.len);
    hd_buf_reset(&q->body);
    hd_buf_reset(&q->resp);
    ((struct req *)q)->hdr_next = &q->hdrs; /* the lines are kept (put_line) */
    q->method = NULL;
    q->resp_id[0] = '\0';
    q->rl_remaining = q->rl_reset = -1;
    q->hold_ms = 0;
    q->errbuf[0] = '\0';
    CURL *e = q->easy;
    ((struct req *)q)->digest[0] = '\0';
    pthread_mutex_lock(&h->pmu);
    int built = h->proto->build(h->pc, q, r);
    pthread_mutex_unlock(&h->pmu);
    if (built < 0)
        return -1;
    if (q->t0 == 0)
        q->t0 = hd_clock_mono_ms();
    const char *method = q->method ? q->method : "POST";
    if (l->wire) {
        wire_start(l, (struct req *)q, method);
        return 0;
    }
    set_url((struct req *)q);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body.data ? q->body.data : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)q->body.len);
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        if (q->body.len >= 1024) /* curl would wait for a 100-continue */
            put_line((struct req *)q, "Expect", NULL);
    }
    struct req *rq = (struct req *)q;
    drop_lines(*rq->hdr_next); /* lines the last request had beyond these */
    *rq->hdr_next = NULL;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->hdrs);
    ((struct req *)q)->sends = 0;
    if (curl_multi_add_handle(l->multi, e) != CURLM_OK)
        HD_BUG("curl_multi_add_handle failed");
    return 0;
}

/* Classifies a completed transfer; 1 when the protocol wants it sent
 * again. On libcurl's lanes rc is its result, on herald's client's the
 * request's own fields say how it went. */
static int req_done(struct hx *h, struct lane *l, struct hx_req *q, CURLcode rc,
                    struct hd_result *r)
{
    struct hd_wire_req *w = &((struct req *)q)->w;
    unsigned sends = l->wire ? w->sends : ((struct req *)q)->sends;
    hd_result_init(r, q->m);
    r->resent = sends > 1 ? (int)sends - 1 : 0;
    r->answered_ms = hd_clock_mono_ms();
    r->latency_ms = r->answered_ms - q->t0;
    if (((struct req *)q)->digest[0])
        memcpy(r->digest, ((struct req *)q)->digest, sizeof r->digest);
    else if (q->body.len)
        hd_sha256_hex(q->body.data, q->body.len, r->digest);
    if (l->wire ? w->failed : rc != CURLE_OK) {
        const char *why = l->wire ? w->err : q->errbuf[0] ? q->errbuf : curl_easy_strerror(rc);
        if (l->wire ? w->tls_refused
                    : rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
                          rc == CURLE_SSL_CONNECT_ERROR)
            hd_log_msg(h->log, HD_LOG_WARN, "TLS to the gateway refused: %s", why);
        hd_result_set(r, HD_OUT_TEMPORARY, 0, "%s", why);
        hx_copy_text(r->text, sizeof r->text, r->text);
        return 0;
    }
    long status = w->status;
    curl_off_t retry = w->retry_after;
    if (!l->wire) {
        curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
        if (curl_easy_getinfo(q->easy, CURLINFO_RETRY_AFTER, &retry) != CURLE_OK)
            retry = 0;
    }
    if (retry > 0)
        r->retry_after_ms = (int64_t)retry * 1000;
    pthread_mutex_lock(&h->pmu);
    int again = h->proto->finish(h->pc, h, q, status, r);
    pthread_mutex_unlock(&h->pmu);
    if (!r->code)
        r->code = (int)status;
    if (again && q->again < 1) {
        q->again++;
        return 1;
    }
    r->refreshed = q->again; /* the answers that made us send it again */
    return 0;
}

/* Results waiting to go back to driver.c, handed over in one lock. */
struct outbox {
    const struct hd_msg **m;
    struct hd_result *r;
    size_t n;
};

static void out_add(struct outbox *o, const struct hd_msg *m, const struct hd_result *r)
{
    o->m[o->n] = m;
    o->r[o->n++] = *r;
}

static void out_flush(struct hd_driver *d, struct outbox *o)
{
    hd_drv_give(d, o->m, o->r, o->n);
    o->n = 0;
}

/* Starts the n messages of a batch the driver gave; those that cannot
 * start go to out with their result, and once the provider's gate closes
 * (a throttled answer on another lane, or in another process) the rest go
 * back to the driver. Returns how many started. */
static size_t start_batch(struct hx *h, struct lane *l, struct hd_driver *d,
                          const struct hd_msg **batch, int n, struct outbox *out)
{
    struct hd_err err = {0};
    bool ready = true;
    size_t started = 0;
    if (h->proto->prepare) {
        pthread_mutex_lock(&h->pmu);
        ready = h->proto->prepare(h->pc, h, &err) == 0;
        pthread_mutex_unlock(&h->pmu);
    }
    struct hd_digest_job jobs[TAKE_MAX];
    size_t nj = 0;
    for (int i = 0; i < n; i++) {
        struct hd_result r;
        int64_t t0;
        if (ready && !hd_drv_gate(d, &t0)) {
            hd_drv_untake(d, batch + i, (size_t)(n - i));
            break;
        }
        struct hx_req *q = req_get(h, l);
        q->m = batch[i];
        q->again = 0;
        q->t0 = ready ? t0 : 0; /* when it began: the gate's time */
        if (ready && req_start(h, l, q, &r) == 0) {
            if (q->body.len) /* digested below, before any transfer can end */
                jobs[nj++] =
                    (struct hd_digest_job){q->body.data, q->body.len, ((struct req *)q)->digest};
            started++;
            continue;
        }
        if (!ready) { /* the gateway refused the provider's credentials: it pauses */
            hd_result_init(&r, batch[i]);
            if (err.code == HD_E_CONFIG)
                hx_provider_fault(&r, 0, "%s", err.msg);
            else
                hd_result_set(&r, HD_OUT_TEMPORARY, 0, "%s", err.msg);
        }
        out_add(out, batch[i], &r);
        req_put(l, q);
    }
    hd_sha256_hex_many(jobs, nj);
    return started;
}

/* Takes messages from the driver while the lane has room for them (waiting
 * a little only when nothing is in flight); *stopping is set when the
 * driver stops. */
static void take_more(struct hx *h, struct lane *l, struct hd_driver *d, struct outbox *out,
                      size_t *inflight, bool *stopping)
{
    const struct hd_msg *batch[TAKE_MAX];
    while (!*stopping && *inflight < l->max_inflight) {
        size_t want = l->max_inflight - *inflight;
        int n = hd_drv_take(d, batch, want < TAKE_MAX ? want : TAKE_MAX, *inflight ? 0 : 200);
        if (n < 0)
            *stopping = true;
        if (n <= 0)
            break;
        *inflight += start_batch(h, l, d, batch, n, out);
        out_flush(d, out);
    }
}

/* At debug level: a transfer that opened a connection says where to, and
 * how (the address and port only: a URL can carry a device token). */
static void log_connection(struct hx *h, CURL *e)
{
    long nconn = 0, port = 0, version = 0;
    char *ip = NULL, *scheme = NULL;
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &nconn);
    if (nconn <= 0)
        return;
    curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &ip);
    curl_easy_getinfo(e, CURLINFO_PRIMARY_PORT, &port);
    curl_easy_getinfo(e, CURLINFO_SCHEME, &scheme);
    curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version);
    hd_log_debug(h->log, "http: new connection to %s:%ld (%s, %s)", ip ? ip : "?", port,
                 scheme ? scheme : "?",
                 version == CURL_HTTP_VERSION_2_0   ? "HTTP/2"
                 : version == CURL_HTTP_VERSION_1_1 ? "HTTP/1.1"
                                                    : "HTTP/1.0");
}

/* A transfer finished (rc is libcurl's result on its lanes): its result
 * goes to out, or, when the protocol wants it again, it is sent again.
 * Returns whether it finished for good. */
static bool finished(struct hx *h, struct lane *l, struct hd_driver *d, struct outbox *out,
                     struct hx_req *q, CURLcode rc)
{
    struct hd_result r;
    if (req_done(h, l, q, rc, &r) && req_start(h, l, q, &r) == 0)
        return false;
    /* nothing more goes out from the moment the answer is read, not
     * from when the dispatcher reads it: the gate closes here, and
     * the answer's time is when it had closed, so that whatever began
     * later was held (the dispatcher pauses its bucket too) */
    if (r.outcome == HD_OUT_THROTTLED) {
        r.answered_ms =
            hd_driver_throttled(d, r.retry_after_ms > 0 ? r.retry_after_ms : HD_THROTTLE_PAUSE_MS);
        r.latency_ms = r.answered_ms - q->t0;
    } else if (q->hold_ms > 0) {
        hd_driver_throttled(d, q->hold_ms);
    }
    out_add(out, q->m, &r);
    q->m = NULL;
    req_put(l, q);
    return true;
}

/* Moves transfers on, and puts the results of those that finished in out
 * (a transfer the protocol wants again is sent again instead). Returns how
 * many finished. */
static size_t collect(struct hx *h, struct lane *l, struct hd_driver *d, struct outbox *out)
{
    size_t done = 0;
    bool debug = h->log && h->log->level >= HD_LOG_DEBUG;
    if (l->wire) {
        hd_wire_perform(l->wire);
        struct hd_wire_req *w;
        while ((w = hd_wire_done(l->wire)) != NULL) {
            if (debug && w->new_conn && w->peer[0])
                hd_log_debug(h->log, "http: new connection to %s:%d (%s, HTTP/1.1)", w->peer,
                             w->peer_port, w->tls ? "https" : "http");
            done += finished(h, l, d, out, w->ud, CURLE_OK);
        }
        return done;
    }
    int running = 0;
    curl_multi_perform(l->multi, &running);
    CURLMsg *cm;
    int left;
    while ((cm = curl_multi_info_read(l->multi, &left)) != NULL) {
        if (cm->msg != CURLMSG_DONE)
            continue;
        struct hx_req *q = NULL;
        CURL *e = cm->easy_handle;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&q);
        if (debug)
            log_connection(h, e);
        curl_multi_remove_handle(l->multi, e);
        done += finished(h, l, d, out, q, cm->data.result);
    }
    return done;
}

/* Sleeps in curl until a transfer needs us, or (with room for more) a
 * submit wakes us. Dekker-style: we say we sleep, then look at the queue; a
 * submitter queues, then looks whether we sleep. */
static void wait_for_work(struct lane *l, struct hd_driver *d, bool room)
{
    int64_t hold = -1; /* paused: wake when the pause ends */
    if (room) {
        atomic_store(&l->sleeping, true);
        if (hd_drv_queued(d, &hold)) {
            atomic_store(&l->sleeping, false);
            return;
        }
    }
    int wait = hold >= 0 && hold < 1000 ? (int)hold + 1 : 1000;
    if (l->wire)
        hd_wire_poll(l->wire, wait);
    else
        curl_multi_poll(l->multi, NULL, 0, wait, NULL);
    if (room)
        atomic_store(&l->sleeping, false);
}

void hx_loop(void *conf, struct hd_driver *d)
{
    struct hx *h = conf;
    /* a TLS write to a gateway that closed would raise SIGPIPE (OpenSSL
     * writes with write(), not send(MSG_NOSIGNAL)); blocked in this
     * thread, the write fails with EPIPE instead, as libcurl arranged */
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, NULL);
    struct lane *l = &h->lanes[atomic_fetch_add(&h->next_lane, 1) % h->nlanes];
    size_t inflight = 0;
    bool stopping = false;
    struct outbox out = {hd_xcalloc(l->max_inflight + TAKE_MAX, sizeof *out.m),
                         hd_xcalloc(l->max_inflight + TAKE_MAX, sizeof *out.r), 0};
    for (;;) {
        take_more(h, l, d, &out, &inflight, &stopping);
        if (!inflight) {
            if (stopping)
                break;
            continue;
        }
        inflight -= collect(h, l, d, &out);
        out_flush(d, &out);
        if (!inflight)
            continue;
        wait_for_work(l, d, inflight < l->max_inflight && !stopping);
    }
    free(out.m);
    free(out.r);
}
