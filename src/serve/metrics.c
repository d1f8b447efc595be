/* metrics: GET /metrics in the Prometheus text exposition format 0.0.4.
 * Who may read: a peer in [serve] metrics_allow, or one that sends
 * "Authorization: Bearer" with metrics_token (both sides hashed, then
 * compared in constant time, so neither the token nor its length leaks
 * through timing). The numbers come from one read of the store on a
 * read-only connection of the scrapes' own, never under the mutex the
 * clicks wait for (store/metrics.c: aggregate queries in one transaction)
 * and from the server's own request counters (atomic, per route and
 * status). Each family is written whole (HELP, TYPE, samples) in a fixed
 * order; label values are escaped as the format says (\\, \", \n). The
 * latency histogram has herald stats' buckets (lat.h), each bucket's
 * upper edge as le in seconds; its sum counts each request at its
 * bucket's middle, as stats' percentiles do. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

#include "herald/lat.h"
#include "herald/state.h"
#include "serve_int.h"

static const char *const route_names[R_COUNT] = {
    [R_HEALTH] = "healthz",  [R_READY] = "readyz",      [R_UNSUB] = "unsubscribe",
    [R_METRICS] = "metrics", [R_PREFS] = "preferences", [R_HOOK] = "hooks",
    [R_INBOX] = "inbox",     [R_API] = "api",           [R_CONSOLE] = "console",
    [R_NONE] = "other"};

static void digest(const char *v, size_t n, unsigned char out[32])
{
    unsigned int len = 32;
    if (!EVP_Digest(v, n, out, &len, EVP_sha256(), NULL))
        memset(out, 0, 32);
}

bool hd_metrics_allowed(struct hd_srv *s, const struct sockaddr *peer, const char *authorization)
{
    const struct hd_serve_cfg *c = &s->cfg->serve;
    if (hd_cidr_match(c->metrics_allow, c->nmetrics_allow, peer))
        return true;
    const struct hd_cfg_secret *tok = &c->secrets[HD_SERVE_METRICS_TOKEN];
    if (!tok->value || !tok->len || !authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return false;
    const char *given = authorization + 7;
    unsigned char a[32], b[32];
    digest(given, strlen(given), a);
    digest(tok->value, tok->len, b);
    bool ok = CRYPTO_memcmp(a, b, sizeof a) == 0;
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
    return ok;
}

static void label(struct hd_buf *b, const char *name, const char *v, bool first)
{
    hd_buf_addf(b, "%s%s=\"", first ? "{" : ",", name);
    for (const char *p = v ? v : ""; *p; p++)
        if (*p == '\\' || *p == '"')
            hd_buf_addf(b, "\\%c", *p);
        else if (*p == '\n')
            hd_buf_adds(b, "\\n");
        else
            hd_buf_addf(b, "%c", *p);
}

/* name{l0="v0",...} n, for up to four labels. */
static void sample(struct hd_buf *b, const char *name, const char *const *names,
                   const char *const *values, int n, int64_t v)
{
    hd_buf_adds(b, name);
    for (int i = 0; i < n; i++) {
        label(b, names[i], values[i], i == 0);
        hd_buf_adds(b, "\"");
    }
    hd_buf_addf(b, "%s %lld\n", n ? "}" : "", (long long)v);
}

static void family(struct hd_buf *b, const char *name, const char *type, const char *help)
{
    hd_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

struct scrape {
    struct hd_buf fam[HD_MET_COUNT]; /* the samples of each store series */
    int64_t queue[HD_ST_COUNT];
    int64_t lat[HD_LAT_BUCKETS];
    char **paused; /* providers the store named */
    size_t npaused;
    int pause_ms; /* the service's first scrape_pause_ms: a slow read, at its first row */
};

static int on_row(void *ud, const struct hd_metric_row *r)
{
    static const char *const msg[] = {"campaign", "channel", "provider", "outcome"},
                             *const unsub[] = {"channel", "source"}, *const prov[] = {"provider"};
    struct scrape *x = ud;
    hd_sleep_ms(x->pause_ms);
    x->pause_ms = 0;
    switch (r->series) {
    case HD_MET_MESSAGES:
        sample(&x->fam[r->series], "herald_messages_total", msg, r->label, 4, r->n);
        break;
    case HD_MET_QUEUE:
        if (r->key >= 0 && r->key < HD_ST_COUNT)
            x->queue[r->key] = r->n;
        break;
    case HD_MET_LATENCY:
        if (r->key >= 0 && r->key < HD_LAT_BUCKETS)
            x->lat[r->key] += r->n;
        break;
    case HD_MET_PAUSED:
        sample(&x->fam[r->series], "herald_provider_paused", prov, r->label, 1, r->n != 0);
        HD_GROW(x->paused, x->npaused);
        x->paused[x->npaused++] = hd_xstrdup(r->label[0] ? r->label[0] : "");
        break;
    case HD_MET_UNSUBSCRIBES:
        sample(&x->fam[r->series], "herald_unsubscribes_total", unsub, r->label, 2, r->n);
        break;
    default:
        HD_BUG("metric series %d", r->series);
    }
    return 0;
}

static void queue_family(struct hd_buf *b, const struct scrape *x)
{
    static const char *const names[] = {"state"};
    family(b, "herald_queue_messages", "gauge", "Messages in the database by state.");
    for (int st = 0; st < HD_ST_COUNT; st++) {
        const char *v = hd_state_name(st);
        sample(b, "herald_queue_messages", names, &v, 1, x->queue[st]);
    }
}

static void paused_family(struct hd_buf *b, const struct hd_config *cfg, const struct scrape *x)
{
    static const char *const names[] = {"provider"};
    family(b, "herald_provider_paused", "gauge",
           "1 while a provider is paused (throttled by its gateway), else 0.");
    hd_buf_add(b, x->fam[HD_MET_PAUSED].data, x->fam[HD_MET_PAUSED].len);
    for (size_t i = 0; i < cfg->nproviders; i++) {
        const char *v = cfg->providers[i].name;
        size_t k = 0;
        while (k < x->npaused && strcmp(x->paused[k], v) != 0)
            k++;
        if (k == x->npaused)
            sample(b, "herald_provider_paused", names, &v, 1, 0);
    }
}

/* le: the bucket's largest millisecond, in seconds; the last one is +Inf. */
static void latency_family(struct hd_buf *b, const struct scrape *x)
{
    const char *name = "herald_send_latency_seconds";
    family(b, name, "histogram",
           "Gateway latency of requests, from sent to answered (herald stats' buckets).");
    int64_t count = 0, sum_ms = 0;
    for (int k = 0; k < HD_LAT_BUCKETS; k++) {
        count += x->lat[k];
        sum_ms += x->lat[k] * hd_lat_value(k);
        if (k == HD_LAT_BUCKETS - 1) {
            hd_buf_addf(b, "%s_bucket{le=\"+Inf\"} %lld\n", name, (long long)count);
            break;
        }
        int64_t upper = k;
        if (k >= 128) {
            int e = 7 + (k - 128) / 16, sub = (k - 128) % 16;
            upper = (((int64_t)(16 + sub)) << (e - 4)) + ((int64_t)1 << (e - 4)) - 1;
        }
        hd_buf_addf(b, "%s_bucket{le=\"%lld.%03lld\"} %lld\n", name, (long long)(upper / 1000),
                    (long long)(upper % 1000), (long long)count);
    }
    hd_buf_addf(b, "%s_sum %lld.%03lld\n%s_count %lld\n", name, (long long)(sum_ms / 1000),
                (long long)(sum_ms % 1000), name, (long long)count);
}

static void http_family(struct hd_buf *b, struct hd_srv *s)
{
    static const char *const names[] = {"route", "code"};
    family(b, "herald_http_requests_total", "counter",
           "Requests this process answered, by route and status.");
    for (int r = 0; r < R_COUNT; r++)
        for (int c = 0; c < HTTP_CODES; c++) {
            uint64_t n = __atomic_load_n(&s->http[r][c], __ATOMIC_RELAXED);
            char code[12]; /* what %d may need, as the compiler counts */
            snprintf(code, sizeof code, "%d", 100 + c);
            const char *v[] = {route_names[r], code};
            if (n)
                sample(b, "herald_http_requests_total", names, v, 2, (int64_t)n);
        }
}

static void render(struct hd_srv *s, const struct scrape *x, struct hd_buf *b)
{
    family(b, "herald_messages_total", "counter",
           "Delivery log rows (requests and decisions) by campaign, channel, provider, outcome.");
    hd_buf_add(b, x->fam[HD_MET_MESSAGES].data, x->fam[HD_MET_MESSAGES].len);
    queue_family(b, x);
    paused_family(b, s->cfg, x);
    latency_family(b, x);
    family(b, "herald_unsubscribes_total", "counter",
           "Opt-outs recorded (consent changes to opted out), by channel and source.");
    hd_buf_add(b, x->fam[HD_MET_UNSUBSCRIBES].data, x->fam[HD_MET_UNSUBSCRIBES].len);
    http_family(b, s);
    family(b, "herald_build_info", "gauge", "The herald that answers.");
    static const char *const names[] = {"version"};
    const char *v = HD_VERSION;
    sample(b, "herald_build_info", names, &v, 1, 1);
}

/* The scrape's own read-only connection: its aggregates pass over the
 * whole log (0.4 s at 100,000 rows), and on the shared connection they
 * held s->mu, which every click waits for, all that time. A WAL reader
 * blocks no writer. Opened when first needed, and again after a failure. */
static int scrape(struct hd_srv *s, struct scrape *x, struct hd_err *err)
{
    struct hd_store_opts o = hd_srv_store_opts(s, true);
    if (!s->metrics_st && hd_store_open(s->db_path, &o, &s->metrics_st, err) < 0) {
        s->metrics_st = NULL;
        return HD_E_STORE;
    }
    int rc = hd_store_metrics(s->metrics_st, hd_clock_now_ms(s->clock), on_row, x, err);
    if (rc < 0) {
        hd_store_free(s->metrics_st);
        s->metrics_st = NULL;
    }
    return rc;
}

void hd_metrics_get(struct hd_srv *s, struct hd_answer *a)
{
    struct scrape *x = hd_xcalloc(1, sizeof *x);
    struct hd_err err = {0};
    for (int m = 0; m < HD_MET_COUNT; m++)
        hd_buf_init(&x->fam[m]);
    hd_buf_init(&a->body);
    pthread_mutex_lock(&s->metrics_mu);
    x->pause_ms = s->scrape_pause_ms;
    s->scrape_pause_ms = 0;
    int rc = scrape(s, x, &err);
    pthread_mutex_unlock(&s->metrics_mu);
    if (rc < 0) {
        pthread_mutex_lock(&s->mu); /* the log's */
        hd_log_error(s->log, "serve: metrics: %s", err.msg);
        pthread_mutex_unlock(&s->mu);
    }
    if (rc < 0) {
        a->status = 503;
        hd_buf_adds(&a->body, "the service cannot reach its database: try again later\n");
    } else {
        a->status = 200;
        a->type = "text/plain; version=0.0.4; charset=utf-8";
        render(s, x, &a->body);
    }
    for (int m = 0; m < HD_MET_COUNT; m++)
        hd_buf_release(&x->fam[m]);
    for (size_t i = 0; i < x->npaused; i++)
        free(x->paused[i]);
    free(x->paused);
    free(x);
}
