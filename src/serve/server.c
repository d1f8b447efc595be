/* server: herald serve on libmicrohttpd.
 *
 * MHD runs its own threads: a pool of workers (one per core), each with its
 * own poll() loop; this file's handler is called by them. A request is
 * routed when its headers are in, and everything that can be refused
 * without the body is refused then: an unknown path (404), a wrong method
 * (405 with Allow), a Content-Length over [serve] body_limit (413), a bad
 * token (4xx, decided from the path alone). Only a POST to a valid /u/
 * or /p/ link reads its body (an RFC 8058 one-click then waits,
 * suspended, for the group commit of clicks.c); it keeps the first
 * BODY_KEEP bytes (the longest body /u/ accepts; PREFS_BODY_MAX for the
 * preference centre's form, whose larger bodies are 413) and counts the
 * rest, so memory per request stays small whatever the limit. Every
 * request is logged once, when MHD is done with it, at debug: method, path
 * without the token, status, bytes, µs. The
 * workers share one store connection under a mutex; it is opened when
 * first needed and again after a failure. The caller's stop flag is polled:
 * then MHD_quiesce_daemon closes the door to new connections, the ones in
 * flight get up to [serve] timeout to finish, and MHD_stop_daemon ends. */
#include <errno.h>
#include <microhttpd.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api_int.h"
#include "herald/serve.h"
#include "serve_int.h"

/* MHD's workers: one per core (at least 2, at most 16). More than the
 * cores only switched between them: on 2 cores, 4 workers cost about 10%
 * more CPU per one-click than 2, for the same answers a second. */
#define SERVE_THREADS_MIN 2
#define SERVE_THREADS_MAX 16
/* each connection's buffer for the request's head and the response's:
 * MHD zeroes it for every request, and its default (32 KiB) is twice what
 * any request here needs (an 8 KiB head is nginx's default limit too) */
#define CONN_MEMORY (16 * 1024)
/* the writers' connection: every click and receipt dirties the same few
 * leaf pages, and a checkpoint (two fsyncs, every page written back) every
 * 1000 WAL pages, SQLite's default, came every ~200 commits; at 10,000
 * (about 80 MiB of WAL at 8 KiB pages) a page is written back once for many
 * commits */
#define STORE_WAL_PAGES 10000
#define STORE_CACHE_KIB (64 * 1024)
#define BODY_KEEP 64           /* the page's body is 35 bytes, RFC 8058's 26 */
#define ONECLICK_BODY_MAX 1024 /* RFC 8058's as multipart/form-data: a few hundred */

static const struct {
    const char *path; /* exact, or a prefix ending in '/' */
    const char *allow;
    bool tree; /* also the paths below it: path "/..." */
} routes[] = {
    /* one route a line */
    /* clang-format off */
    [R_HEALTH] = {"/healthz", "GET, HEAD", false},
    [R_READY] = {"/readyz", "GET, HEAD", false},
    [R_UNSUB] = {"/u/", "GET, HEAD, POST", false},
    [R_METRICS] = {"/metrics", "GET, HEAD", false},
    [R_PREFS] = {"/p/", "GET, HEAD, POST", false},
    [R_HOOK] = {"/hooks/", "POST", false},
    [R_INBOX] = {"/api/v1/inbox", "GET, HEAD, POST, OPTIONS", true},
    [R_API] = {"/api/v1/", NULL, false}, /* api.c answers 405 with its own Allow */
    [R_CONSOLE] = {"/console/", NULL, false}, /* console.c answers 405 with its own Allow */
    /* clang-format on */
};

struct req {
    int route;
    int64_t start_us;
    char method[8];
    char path[160];         /* as logged: the token cut off, non-printables as '?' */
    struct hd_api_req *api; /* a /api/v1/ request reading its body (api.c) */
    bool post, html;
    bool begun; /* routed, and answered unless a body is to come */
    bool nul;   /* the URI as sent has %00, which decoding would cut it at */
    struct hd_unsub u;
    struct hd_click click;       /* a one-click, while its batch is written */
    char small[BODY_KEEP]; /* a one-click's form */
    /* the form: small, or for the preference centre and the console a
     * buffer of their size, taken with their first bytes (a request this
     * struct's size is beyond malloc's per-thread cache, and every request,
     * /healthz too, allocated, zeroed and wiped it) */
    char *body;
    size_t body_cap;
    struct hd_hook *hook;        /* a gateway's callback (hooks.c), its body kept there */
    char *query;                 /* the raw query string of a /hooks/ request, or NULL */
    size_t got;                  /* body bytes received, kept or not */
    int status;
    size_t bytes;
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct hd_store_opts hd_srv_store_opts(const struct hd_srv *s, bool readonly)
{
    return (struct hd_store_opts){.busy_timeout_ms = s->cfg->busy_timeout * 1000,
                                  .readonly = readonly,
                                  .password = s->db_password};
}

struct hd_store *hd_srv_store(struct hd_srv *s, struct hd_err *err)
{
    /* a PostgreSQL connection the server dropped (a restart) is opened
     * anew: kept, every request after it failed for good while /readyz,
     * which opens its own, said ready (a review) */
    if (s->st && hd_store_lost(s->st)) {
        hd_log_warn(s->log, "serve: the database connection was lost: connecting again");
        hd_store_free(s->st);
        s->st = NULL;
    }
    if (s->st)
        return s->st;
    struct hd_store_opts o = hd_srv_store_opts(s, false);
    if (hd_store_open(s->db_path, &o, &s->st, err) < 0 ||
        hd_store_tune(s->st, STORE_CACHE_KIB, STORE_WAL_PAGES, err) < 0) {
        hd_store_free(s->st);
        s->st = NULL;
    } else { /* the main loop checkpoints (checkpoint.c) */
        hd_store_wal_defer(s->st, 2 * STORE_WAL_PAGES, &s->wal_pages);
    }
    return s->st;
}

static int route_of(const char *url, const char **rest)
{
    *rest = NULL;
    for (int r = 0; r < R_NONE; r++) {
        size_t n = strlen(routes[r].path);
        bool hit =
            routes[r].path[n - 1] == '/'
                ? strncmp(url, routes[r].path, n) == 0
                : strcmp(url, routes[r].path) == 0 ||
                      (routes[r].tree && strncmp(url, routes[r].path, n) == 0 && url[n] == '/');
        /* the inbox claims its own paths only: /api/v1/inbox/tokens is the
         * API's (a key's route, api_inbox.c) */
        if (hit && r == R_INBOX && !hd_inbox_claims(url + n))
            continue;
        if (hit) {
            *rest = url + n;
            return r;
        }
    }
    return R_NONE;
}

static struct req *req_new(void)
{
    struct req *q = hd_xcalloc(1, sizeof *q);
    q->body = q->small;
    q->body_cap = sizeof q->small;
    return q;
}

static void log_path(struct req *q, const char *url)
{
    size_t n = 0;
    const char *rest;
    int r = route_of(url, &rest);
    bool link = r == R_UNSUB || r == R_PREFS;
    size_t keep = link ? (size_t)(rest - url) : strlen(url);
    if (r == R_HOOK) { /* /hooks/KIND/PROVIDER: what follows may be a token */
        const char *p = strchr(rest, '/');
        p = p ? strchr(p + 1, '/') : NULL;
        link = p != NULL;
        keep = p ? (size_t)(p + 1 - url) : keep;
    }
    for (size_t i = 0; i < keep && n < sizeof q->path - 4; i++)
        q->path[n++] = url[i] > ' ' && url[i] < 0x7f ? url[i] : '?';
    if (link || keep > n)
        q->path[n++] = '*';
    q->path[n] = '\0';
}

static enum MHD_Result answer(struct MHD_Connection *c, struct req *q, struct hd_answer *a)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        a->body.len, a->body.data ? a->body.data : (char *)"", MHD_RESPMEM_MUST_COPY);
    if (!resp) {
        hd_buf_release(&a->body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", a->type ? a->type : "text/plain; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    /* the token is in the URL: never let it leave as a Referer */
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            a->csp ? a->csp
                                   : "default-src 'none'; style-src 'unsafe-inline'; img-src "
                                     "'self' data:; form-action 'self'; frame-ancestors 'none'");
    if (a->same_origin_frame)
        MHD_add_response_header(resp, "X-Frame-Options", "SAMEORIGIN");
    if (a->location[0])
        MHD_add_response_header(resp, "Location", a->location);
    for (int i = 0; i < 2; i++)
        if (a->cookies[i][0])
            MHD_add_response_header(resp, "Set-Cookie", a->cookies[i]);
    if (a->allow)
        MHD_add_response_header(resp, "Allow", a->allow);
    if (a->retry_after > 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", a->retry_after);
        MHD_add_response_header(resp, "Retry-After", v);
    }
    if (a->cors_origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", a->cors_origin);
        MHD_add_response_header(resp, "Vary", "Origin");
    }
    if (a->preflight) {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", a->allow);
        MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Authorization");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    }
    if (a->www_authenticate)
        MHD_add_response_header(resp, "WWW-Authenticate", a->www_authenticate);
    q->status = a->status;
    q->bytes = a->body.len;
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)a->status, resp);
    MHD_destroy_response(resp);
    hd_buf_release(&a->body);
    return rc;
}

static enum MHD_Result text(struct MHD_Connection *c, struct req *q, int status, const char *msg,
                            const char *allow)
{
    struct hd_answer a = {.status = status, .allow = allow};
    hd_buf_init(&a.body);
    hd_buf_adds(&a.body, msg);
    return answer(c, q, &a);
}

static enum MHD_Result ready(struct hd_srv *s, struct MHD_Connection *c, struct req *q)
{
    struct hd_store *st = NULL;
    struct hd_err err = {0};
    struct hd_store_opts o = hd_srv_store_opts(s, true);
    o.busy_timeout_ms = 1000;
    int v = 0;
    char msg[1200];
    if (hd_store_open(s->db_path, &o, &st, &err) < 0 || hd_store_user_version(st, &v, &err) < 0)
        snprintf(msg, sizeof msg, "not ready: %s\n", err.msg);
    else if (v != hd_store_schema_version())
        snprintf(msg, sizeof msg, "not ready: database schema version %d, this herald needs %d\n",
                 v, hd_store_schema_version());
    else
        snprintf(msg, sizeof msg, "ready\n");
    hd_store_free(st);
    return text(c, q, strncmp(msg, "ready", 5) == 0 ? 200 : 503, msg, NULL);
}

/* Each Content-Length header (cls: the first value seen, then "" once
 * two differ, which content_length refuses: RFC 9112 section 6.3). */
static enum MHD_Result one_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    const char **first = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0 || !value)
        return MHD_YES;
    if (!*first)
        *first = value;
    else if (strcmp(*first, value) != 0)
        *first = "";
    return MHD_YES;
}

static int64_t content_length(struct MHD_Connection *c)
{
    const char *v = NULL;
    MHD_get_connection_values(c, MHD_HEADER_KIND, one_length, &v);
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    return errno || end == v || *end || n < 0 ? -1 : n;
}

/* A body of unknown length follows (Transfer-Encoding: chunked): it is
 * read from the call after the first, so the answer to its headers must
 * be queued on the first. */
static bool chunked(struct MHD_Connection *c)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) !=
           NULL;
}

static bool wants_html(struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    return v && strstr(v, "text/html");
}

/* MHD's first look at a request: the URI as sent. A gateway signs its
 * query string as it sent it, which MHD's decoded arguments cannot give
 * back, so a /hooks/ request keeps it. */
static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    struct req *q = req_new();
    const char *mark = strchr(uri, '?');
    for (const char *p = uri; (p = strchr(p, '%')) != NULL; p++)
        q->nul |= p[1] == '0' && p[2] == '0';
    if (mark && strncmp(uri, "/hooks/", 7) == 0)
        q->query = hd_xstrdup(mark + 1);
    return q;
}

static const char *header_of(void *ud, const char *name)
{
    return MHD_lookup_connection_value(ud, MHD_HEADER_KIND, name);
}

static const char *arg_of(void *ud, const char *name)
{
    return MHD_lookup_connection_value(ud, MHD_GET_ARGUMENT_KIND, name);
}

/* args_of's walk: the caller's function and what it returned last. */
struct arg_walk {
    hd_form_fn fn;
    void *ud;
    int rc;
};

static enum MHD_Result arg_step(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    struct arg_walk *w = cls;
    (void)kind;
    w->rc = w->fn(w->ud, key, value ? value : "");
    return w->rc ? MHD_NO : MHD_YES;
}

static int args_of(void *ud, hd_form_fn fn, void *fnud)
{
    struct arg_walk w = {fn, fnud, 0};
    MHD_get_connection_values(ud, MHD_GET_ARGUMENT_KIND, arg_step, &w);
    return w.rc;
}

/* A /hooks/ request's headers are in: checked (hooks.c), or answered. */
static enum MHD_Result hook_begin(struct hd_srv *s, struct MHD_Connection *c, struct req *q,
                                  const char *rest)
{
    struct hd_answer a = {0};
    /* not zeroed here: each begin zeroes it first (2 KiB of it the URL) */
    q->hook = hd_xmalloc(sizeof *q->hook);
    int rc =
        hd_esp_route(rest) ? hd_esp_begin(s, rest, header_of, c, q->hook, &a)
        : hd_hook_http_route(rest)
            ? hd_hook_http_begin(s, rest, header_of, c, q->hook, &a)
            : hd_hook_begin(s, rest, q->query,
                            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Twilio-Signature"),
                            q->hook, &a);
    if (rc < 0)
        return answer(c, q, &a);
    return MHD_YES;
}

/* A /hooks/ request's body is in: a signed status callback waits,
 * suspended, for the group commit of clicks.c; the rest is answered now. */
static enum MHD_Result hook_end(struct hd_srv *s, struct MHD_Connection *c, struct req *q)
{
    struct hd_answer a = {0};
    if (q->click.done) /* resumed: its batch is written */
        hd_hook_kept(q->hook, q->click.rc, q->click.result, &a);
    else if (hd_hook_post(s, q->hook, &a)) {
        q->click.hook = q->hook;
        q->click.conn = c;
        if (hd_clicks_push(s->clicks, &q->click))
            return MHD_YES;
        hd_hook_take(s, q->hook, &a); /* stopping: kept on its own */
    }
    return answer(c, q, &a);
}

/* One X-Forwarded-For entry (n bytes at e: an address, an IPv6 one maybe
 * in brackets) into out; false when it is none. */
static bool forwarded_entry(const char *e, size_t n, struct sockaddr_storage *out)
{
    char a[INET6_ADDRSTRLEN + 1];
    while (n && (*e == ' ' || *e == '\t'))
        e++, n--;
    while (n && (e[n - 1] == ' ' || e[n - 1] == '\t'))
        n--;
    if (n >= 2 && e[0] == '[' && e[n - 1] == ']')
        e++, n -= 2;
    if (!n || n >= sizeof a)
        return false;
    memcpy(a, e, n);
    a[n] = '\0';
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, a, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, a, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        return true;
    }
    return false;
}

/* The client's address into *out: the peer's, or, when the peer is one of
 * [serve] trusted_proxies (a proxy in front, by default one on this
 * machine) and the request has X-Forwarded-For, the entry nearest its end
 * that is not a trusted proxy itself (entries before it are the client's
 * own to write). NULL when that entry is no address: such a client matches
 * no range. Behind a proxy every peer was the proxy, so /metrics was open
 * through it and one client's failed logins throttled every other (a
 * review found both). */
static const struct sockaddr *client_of(const struct hd_srv *s, struct MHD_Connection *c,
                                        struct sockaddr_storage *out)
{
    const struct hd_serve_cfg *cfg = &s->cfg->serve;
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *peer = i ? i->client_addr : NULL;
    const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
    if (!peer || !xff || !hd_cidr_match(cfg->trusted_proxies, cfg->ntrusted_proxies, peer))
        return peer;
    for (size_t end = strlen(xff); end > 0;) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        if (!forwarded_entry(xff + start, end - start, out))
            return NULL;
        if (!hd_cidr_match(cfg->trusted_proxies, cfg->ntrusted_proxies, (struct sockaddr *)out) ||
            start == 0)
            return (const struct sockaddr *)out;
        end = start - 1;
    }
    return NULL;
}

/* The client's address (client_of) as text (numeric), or "-". */
static void peer(const struct hd_srv *s, struct MHD_Connection *c, char *out, size_t size)
{
    struct sockaddr_storage ss;
    const struct sockaddr *sa = client_of(s, c, &ss);
    socklen_t len =
        sa && sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (!sa || getnameinfo(sa, len, out, (socklen_t)size, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(out, size, "-");
}

/* A /console/ request: answered whole (console.c), its form's body (POST)
 * read first. */
static enum MHD_Result console(struct hd_srv *s, struct MHD_Connection *c, struct req *q,
                               const char *url, const char *method, const char *body, size_t len)
{
    char addr[INET6_ADDRSTRLEN + 1];
    struct hd_answer a = {0};
    peer(s, c, addr, sizeof addr);
    struct hd_console_req r = {
        method, url + strlen(routes[R_CONSOLE].path), addr, header_of, c, body, len, arg_of,
        args_of};
    hd_console_answer(s, &r, &a);
    return answer(c, q, &a);
}

/* A console form's POST, its headers in: its session and role are checked
 * before its body is read, then its length (a viewer's oversized form is
 * 403 as any other of its forms: a review saw 413); MHD_YES to read it,
 * else it is answered. */
static enum MHD_Result console_gate(struct hd_srv *s, struct MHD_Connection *c, struct req *q,
                                    const char *url, const char *method, int64_t len)
{
    char addr[INET6_ADDRSTRLEN + 1];
    struct hd_answer a = {0};
    peer(s, c, addr, sizeof addr);
    struct hd_console_req r = {
        method, url + strlen(routes[R_CONSOLE].path), addr, header_of, c, NULL, 0, arg_of, args_of};
    if (!hd_console_gate(s, &r, &a))
        return answer(c, q, &a);
    if (len > CONSOLE_BODY_MAX)
        return text(c, q, 413, "request body too large\n", NULL);
    return MHD_YES;
}

static enum MHD_Result refuse(struct MHD_Connection *c, struct req *q, int status, const char *why);

/* A /api/v1/ request's headers are in: answered now (api.c), or its body
 * is read. */
static enum MHD_Result api_begin(struct hd_srv *s, struct MHD_Connection *c, struct req *q,
                                 const char *method, const char *rest)
{
    struct hd_answer a = {0};
    int64_t len = content_length(c);
    if (len < 0) /* a problem too (it was text: a review) */
        return refuse(c, q, 400, "bad Content-Length: not a number, or given twice apart");
    if (hd_api_begin(s, method, rest, header_of, c, len, &q->api, &a) < 0)
        return answer(c, q, &a);
    return MHD_YES;
}

/* A request refused before its route's own code: text, or under /api/v1/
 * an RFC 9457 problem as every API error is. */
static enum MHD_Result refuse(struct MHD_Connection *c, struct req *q, int status, const char *why)
{
    if (q->route != R_API) {
        char line[200];
        snprintf(line, sizeof line, "%s\n", why);
        return text(c, q, status, line, NULL);
    }
    struct hd_answer a = {0};
    hd_api_problem(&a, status, NULL, "%s", why);
    return answer(c, q, &a);
}

/* Whether rest (after /hooks/) is KIND/PROVIDER... of a kind of report
 * herald takes and a provider it has: another method there is a 405, a
 * path that names none a 404, as anywhere else (a review saw a GET of
 * /hooks/nonexistent/x answered 405). */
static bool hook_named(const struct hd_srv *s, const char *rest)
{
    static const char *const kinds[] = {"twilio/",  "aliyun/",   "tencent/", "sendgrid/",
                                        "mailgun/", "postmark/", "ses/",     "http/"};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        size_t k = strlen(kinds[i]);
        if (strncmp(rest, kinds[i], k) != 0)
            continue;
        char name[64];
        size_t n = strcspn(rest + k, "/");
        if (n == 0 || n >= sizeof name)
            return false;
        memcpy(name, rest + k, n);
        name[n] = '\0';
        return hd_config_provider(s->cfg, name) != NULL;
    }
    return false;
}

/* The headers are in: route, and answer now whatever needs no body. */
static enum MHD_Result begin(struct hd_srv *s, struct MHD_Connection *c, struct req *q,
                             const char *url, const char *method)
{
    const char *rest;
    q->route = route_of(url, &rest);
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    q->post = strcmp(method, "POST") == 0;
    /* what the request's framing or its URI would make another request of
     * (a review: a path cut at %00, a body framed by an encoding herald
     * does not read, two lengths) */
    const char *te =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (te && strcasecmp(te, "chunked") != 0)
        return refuse(c, q, 501, "Transfer-Encoding other than chunked is not taken");
    if (q->nul)
        return refuse(c, q, 400, "bad request: %00 in the URI");
    if (q->route == R_NONE && strcmp(url, "/console") == 0) { /* the console's address typed */
        struct hd_answer a = {.status = 301, .location = "/console/"};
        hd_buf_init(&a.body);
        return answer(c, q, &a);
    }
    /* a browser asks every site for /favicon.ico: herald has no icon, and
     * says so without a 404 (an error in the browser's console, noise in
     * the log); its HTML pages say it in their head (<link rel="icon"
     * href="data:,">, which img-src data: allows), but a plain-text answer
     * a browser shows (a console 403, /healthz) has no head */
    if (q->route == R_NONE && get && strcmp(url, "/favicon.ico") == 0)
        return text(c, q, 204, "", NULL);
    if (q->route == R_NONE)
        return text(c, q, 404, "not found\n", NULL);
    if (q->route == R_API)
        return api_begin(s, c, q, method, rest);
    if (q->route == R_CONSOLE) {
        int64_t n = content_length(c);
        if (!q->post || !hd_console_posts(url + strlen(routes[R_CONSOLE].path)))
            return console(s, c, q, url, method, NULL, 0);
        if (n < 0)
            return text(c, q, 400, "bad Content-Length\n", NULL);
        return console_gate(s, c, q, url, method, n); /* then the form */
    }
    if (q->route == R_INBOX) { /* its own methods, answered from the headers */
        struct hd_answer a = {0};
        hd_inbox_answer(s, method, rest, header_of, arg_of, c, &a);
        return answer(c, q, &a);
    }
    if (q->route == R_METRICS) {
        struct sockaddr_storage ss;
        if (!hd_metrics_allowed(
                s, client_of(s, c, &ss),
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION)))
            return text(c, q, 403, "forbidden: not an allowed address, and no valid bearer token\n",
                        NULL);
    }
    if (q->route == R_HOOK && !q->post && !hook_named(s, rest))
        return text(c, q, 404, "not found\n", NULL);
    if ((!get &&
         !(q->post && (q->route == R_UNSUB || q->route == R_PREFS || q->route == R_HOOK))) ||
        (q->route == R_HOOK && !q->post))
        return text(c, q, 405, "method not allowed\n", routes[q->route].allow);
    int64_t len = content_length(c);
    if (len < 0)
        return text(c, q, 400, "bad Content-Length\n", NULL);
    if (len > s->cfg->serve.body_limit || (q->route == R_PREFS && len > PREFS_BODY_MAX))
        return text(c, q, 413, "request body too large\n", NULL);
    if (q->route == R_HEALTH)
        return text(c, q, 200, "ok\n", NULL);
    if (q->route == R_READY)
        return ready(s, c, q);
    if (q->route == R_METRICS) {
        struct hd_answer a = {0};
        hd_metrics_get(s, &a);
        return answer(c, q, &a);
    }
    if (q->route == R_HOOK)
        return hook_begin(s, c, q, rest);
    hd_unsub_verify(s, rest, strlen(rest),
                    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Language"), &q->u);
    q->html = wants_html(c);
    if (q->post && q->u.fault) {
        struct hd_answer a = {0};
        hd_unsub_invalid(s, &q->u, q->html, &a);
        return answer(c, q, &a);
    }
    if (!q->post) {
        struct hd_answer a = {0};
        (q->route == R_PREFS ? hd_prefs_get : hd_unsub_get)(s, &q->u, &a);
        return answer(c, q, &a);
    }
    return MHD_YES; /* the body comes next */
}

/* A body without Content-Length (chunked) read past [serve] body_limit: a
 * response cannot be queued mid-body, and reading on would let a client
 * hold the connection for as long as it streams, so it closes (counted as
 * a 413). Below the limit, what a route keeps is its own affair (an
 * over-long one is answered 413 at the end). */
static enum MHD_Result past_limit(const struct hd_srv *s, struct req *q)
{
    if (q->got <= (size_t)s->cfg->serve.body_limit)
        return MHD_YES;
    q->status = 413;
    return MHD_NO;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **con_cls)
{
    struct hd_srv *s = cls;
    struct req *q = *con_cls;
    (void)version;
    if (!q || !q->start_us) {
        if (!q)
            q = req_new();
        q->start_us = mono_us();
        __atomic_fetch_add(&s->inflight, 1, __ATOMIC_RELAXED);
        snprintf(q->method, sizeof q->method, "%s", method);
        log_path(q, url);
        *con_cls = q;
        /* a request without a body is answered on the next call: a
         * response queued on the first one closes the connection */
        if ((strcmp(method, "POST") != 0 || strncmp(url, "/api/", 5) == 0) &&
            content_length(c) == 0 && !chunked(c))
            return MHD_YES;
        q->begun = true;
        return begin(s, c, q, url, method);
    }
    if (!q->begun) {
        q->begun = true;
        return begin(s, c, q, url, method);
    }
    if (q->status)
        return MHD_YES; /* answered already; MHD drops the rest */
    if (q->api) {
        struct hd_answer a = {0};
        if (*size) {
            hd_api_body(s, q->api, data, *size);
            q->got += *size;
            *size = 0;
            return past_limit(s, q);
        }
        if (q->click.done) /* resumed: its batch is written */
            hd_api_kept(s, q->api, q->click.rc, &a);
        else if (hd_api_end(s, q->api, &q->click, c, &a))
            return MHD_YES; /* suspended until its batch is written */
        return answer(c, q, &a);
    }
    if (*size && q->hook) {
        if (q->got + *size <= q->hook->max)
            hd_buf_add(&q->hook->body, data, *size);
        else
            q->hook->too_long = true;
        q->got += *size;
        *size = 0;
        return past_limit(s, q);
    }
    size_t keep = q->route == R_PREFS     ? PREFS_BODY_MAX
                  : q->route == R_CONSOLE ? CONSOLE_BODY_MAX
                                          : ONECLICK_BODY_MAX;
    if (*size) {
        /* past the inline buffer only when a body needs it */
        if (q->got < keep && q->got + *size > q->body_cap && keep > q->body_cap) {
            char *grown = hd_xmalloc(keep);
            memcpy(grown, q->body, q->got < q->body_cap ? q->got : q->body_cap);
            if (q->body != q->small) {
                hd_wipe(q->body, q->body_cap);
                free(q->body);
            }
            q->body = grown;
            q->body_cap = keep;
        }
        if (q->got < keep)
            memcpy(q->body + q->got, data, *size < keep - q->got ? *size : keep - q->got);
        q->got += *size;
        *size = 0;
        return past_limit(s, q);
    }
    struct hd_answer a = {0};
    if ((q->route == R_PREFS || q->route == R_CONSOLE) && q->got > keep) /* chunked, too long */
        return text(c, q, 413, "request body too large\n", NULL);
    if (q->route == R_CONSOLE)
        return console(s, c, q, url, method, q->body, q->got);
    if (q->hook)
        return hook_end(s, c, q);
    if (q->route == R_PREFS) {
        hd_prefs_post(s, &q->u, q->body, q->got, &a);
        return answer(c, q, &a);
    }
    /* a body longer than any accepted one is answered as an empty one: 400 */
    size_t len = q->got > keep ? 0 : q->got;
    if (q->click.done) { /* resumed: its batch is written */
        hd_unsub_clicked(s, &q->click, &a);
        return answer(c, q, &a);
    }
    const char *ctype =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!q->u.fault && hd_unsub_is_oneclick(q->body, len, ctype)) {
        q->click.tok = q->u.tok;
        q->click.conn = c;
        if (hd_clicks_push(s->clicks, &q->click))
            return MHD_YES; /* suspended until its batch is written */
    }
    hd_unsub_post(s, &q->u, q->body, len, ctype, &a);
    return answer(c, q, &a);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct hd_srv *s = cls;
    struct req *q = *con_cls;
    (void)c;
    if (!q)
        return;
    /* a request the handler never saw (MHD refused its headers, or the
     * client left before they were in) was never counted in flight: the
     * count went below zero, and the stop then waited for nothing or
     * stopped under a request still in flight (found by a review) */
    bool seen = q->start_us != 0;
    /* a click written whose client left before its answer: what it was
     * answered, so that the 200s counted are the opt-outs recorded */
    if (!q->status && q->click.done)
        q->status = q->api ? hd_api_status(q->api, q->click.rc) : q->click.rc < 0 ? 503 : 200;
    if (q->status >= 100 && q->status < 100 + HTTP_CODES)
        __atomic_fetch_add(&s->http[q->route][q->status - 100], 1, __ATOMIC_RELAXED);
    /* s->mu only for the line: the click writer holds it for a whole commit */
    if (seen && hd_log_on(s->log, HD_LOG_DEBUG)) {
        pthread_mutex_lock(&s->mu);
        hd_log_debug(s->log, "http: %s %s %d %zu bytes %lld µs%s", q->method, q->path, q->status,
                     q->bytes, (long long)(mono_us() - q->start_us),
                     toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection closed)");
        pthread_mutex_unlock(&s->mu);
    }
    if (seen)
        __atomic_fetch_sub(&s->inflight, 1, __ATOMIC_RELAXED);
    hd_hook_release(q->hook);
    free(q->hook);
    hd_api_req_free(q->api);
    free(q->query);
    if (q->body != q->small) {
        hd_wipe(q->body, q->body_cap); /* a form's session and CSRF fields */
        free(q->body);
    }
    hd_wipe(q, sizeof *q); /* the token's fields */
    free(q);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct hd_srv *s = cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    pthread_mutex_lock(&s->mu);
    hd_log_warn(s->log, "serve: libmicrohttpd: %s", line);
    pthread_mutex_unlock(&s->mu);
}

/* ADDR:PORT ([v6]:PORT) -> a socket address. */
static int resolve(const char *listen, struct sockaddr_storage *sa, bool *v6, struct hd_err *err)
{
    char host[256], *colon;
    snprintf(host, sizeof host, "%s", listen);
    colon = strrchr(host, ':');
    if (!colon || colon == host)
        return hd_err_set(err, HD_E_USAGE, "listen address '%s' is not ADDRESS:PORT", listen);
    *colon = '\0';
    char *h = host, *port = colon + 1;
    if (*h == '[' && colon[-1] == ']') {
        h++;
        colon[-1] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE},
                    *ai = NULL;
    int rc = getaddrinfo(h, port, &hints, &ai);
    if (rc != 0)
        return hd_err_set(err, HD_E_CONFIG, "listen address '%s': %s", listen, gai_strerror(rc));
    memcpy(sa, ai->ai_addr, ai->ai_addrlen);
    *v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    return 0;
}

static unsigned workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < SERVE_THREADS_MIN   ? SERVE_THREADS_MIN
           : n > SERVE_THREADS_MAX ? SERVE_THREADS_MAX
                                   : (unsigned)n;
}

/* libmicrohttpd's accept policy: one address holds at most
 * [serve] connections_per_client (peers.c). */
static enum MHD_Result admit(void *cls, const struct sockaddr *addr, socklen_t len)
{
    (void)len;
    struct hd_srv *s = cls;
    return hd_peers_admit(s->peers, addr) ? MHD_YES : MHD_NO;
}

/* A connection started or closed: counted by its address (peers.c). */
static void noted(void *cls, struct MHD_Connection *c, void **socket_ctx,
                  enum MHD_ConnectionNotificationCode code)
{
    (void)socket_ctx;
    struct hd_srv *s = cls;
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (i && i->client_addr)
        hd_peers_note(s->peers, i->client_addr, code == MHD_CONNECTION_NOTIFY_STARTED);
}

static struct MHD_Daemon *start(struct hd_srv *s, const char *listen, const char *cert,
                                const char *key, struct hd_err *err)
{
    struct sockaddr_storage sa;
    bool v6 = false;
    if (resolve(listen, &sa, &v6, err) < 0)
        return NULL;
    /* poll(), not epoll: MHD_quiesce_daemon (stop()) on a pool of epoll
     * workers takes the listening socket out of each worker's epoll set
     * from this thread while a worker may be taking it out itself, and the
     * loser's EPOLL_CTL_DEL (ENOENT) is an MHD_PANIC, an abort (0.9.75's
     * daemon.c:5531 and 4976; a CI run's serve exited 134 with "Failed to
     * remove listen FD from epoll set"). With poll() each worker drops it
     * itself when told. poll() measured the same as epoll (README). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_POLL | (v6 ? MHD_USE_IPv6 : 0) |
                     (cert ? MHD_USE_TLS : 0);
    /* without TLS the PEM options are skipped: MHD_OPTION_ARRAY's end */
    struct MHD_OptionItem pem[] = {
        {cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)(uintptr_t)cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)(uintptr_t)key},
        {MHD_OPTION_END, 0, NULL}};
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, admit, s, handler, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_NOTIFY_CONNECTION, noted, s, MHD_OPTION_ARRAY, pem, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, workers(), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)s->cfg->serve.connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)s->cfg->serve.timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_URI_LOG_CALLBACK, uri_seen, s,
        MHD_OPTION_END);
    if (!d)
        hd_err_set(err, HD_E_IO, "cannot listen on '%s' (in use, or not an address of this host?)",
                   listen);
    return d;
}

/* Stops taking connections, lets the requests in flight finish (up to the
 * connection timeout), then stops, closing idle kept-alive connections. */
static void stop(struct hd_srv *s, struct MHD_Daemon *d)
{
    MHD_socket fd = MHD_quiesce_daemon(d);
    /* MHD no longer accepts on it, but the kernel would still complete
     * handshakes into its backlog, to be reset only at the end: stop
     * listening now (closing must wait for MHD_stop_daemon) */
    if (fd != MHD_INVALID_SOCKET)
        shutdown(fd, SHUT_RDWR);
    int64_t until = hd_clock_mono_ms() + s->cfg->serve.timeout * 1000;
    for (;;) {
        long n = __atomic_load_n(&s->inflight, __ATOMIC_RELAXED);
        if (n == 0 || hd_clock_mono_ms() >= until)
            break;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    /* what the writer holds is written and resumed: MHD must not stop
     * with a request suspended */
    hd_clicks_stop(s->clicks);
    MHD_stop_daemon(d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

/* The running service: the shared state, MHD's daemon, and the PEM texts
 * MHD was given (kept until it stops; the key is wiped then). */
struct hd_serve {
    struct hd_srv s;
    struct MHD_Daemon *d;
    struct hd_serve_opts o;
    struct hd_buf cert, key;
};

static int srv_init(struct hd_srv *s, const struct hd_config *cfg, const char *db_path,
                    struct hd_log *log, const struct hd_clock *clock, struct hd_err *err)
{
    s->cfg = cfg;
    s->db_path = db_path;
    s->log = log;
    s->clock = clock;
    for (int k = 0; k < 2; k++)
        s->keys[k] = (struct hd_token_key){cfg->serve.secrets[k].value, cfg->serve.secrets[k].len};
    const struct hd_cfg_secret *sec = &cfg->serve.secrets[0];
    if (!s->keys[0].len && sec->via)
        return hd_err_set(err, HD_E_CONFIG,
                          "[serve] secret_file '%s' does not exist: run 'herald init' to make it",
                          sec->ref);
    if (!s->keys[0].len)
        return hd_err_set(err, HD_E_CONFIG,
                          "[serve] has no secret to check links with: run 'herald serve "
                          "init-secret var/herald.secret' and set secret_file = "
                          "var/herald.secret");
    hd_token_keyset_init(&s->keyset, s->keys, 2);
    s->ntwilio_keys = cfg->nproviders;
    s->twilio_keys = hd_xcalloc(cfg->nproviders ? cfg->nproviders : 1, sizeof *s->twilio_keys);
    for (size_t i = 0; i < cfg->nproviders; i++) {
        const struct hd_provider_cfg *p = &cfg->providers[i];
        const struct hd_cfg_secret *tok = hd_provider_secret(p, "auth_token");
        if (strcmp(p->type, "twilio") == 0 && tok && tok->value)
            hd_form_twilio_key_init(&s->twilio_keys[i], tok->value, tok->len);
    }
    int rc = hd_pages_load(cfg->templates, &s->pages, err);
    return rc < 0 ? rc : hd_console_init(s, err);
}

int hd_serve_start(const struct hd_config *cfg, const char *db_path, struct hd_log *log,
                   const struct hd_clock *clock, const struct hd_serve_opts *o,
                   struct hd_serve **out, struct hd_err *err)
{
    struct hd_serve *v = hd_xcalloc(1, sizeof *v);
    const char *l = o->listen ? o->listen : cfg->serve.listen;
    bool tls = cfg->serve.tls_cert_file != NULL;
    int rc;
    v->o = *o;
    v->s.db_password = o->db_password;
    hd_buf_init(&v->cert);
    hd_buf_init(&v->key);
    pthread_mutex_init(&v->s.mu, NULL);
    pthread_mutex_init(&v->s.metrics_mu, NULL);
    v->s.scrape_pause_ms = hd_test_ms("HERALD_TEST_SCRAPE_MS");
    pthread_mutex_init(&v->s.console_mu, NULL);
    pthread_mutex_init(&v->s.login_mu, NULL);
    pthread_mutex_init(&v->s.con_mu, NULL);
    v->s.sns = hd_sns_new();
    v->s.peers = hd_peers_new(&cfg->serve);
    v->s.api = hd_api_new();
    *out = NULL;
    if ((rc = srv_init(&v->s, cfg, db_path, log, clock, err)) < 0 ||
        (tls && (rc = hd_srv_tls_load(&cfg->serve, &v->cert, &v->key, err)) < 0) ||
        (rc = hd_clicks_start(&v->s, &v->s.clicks, err)) < 0)
        goto out;
    if (!(v->d = start(&v->s, l, tls ? v->cert.data : NULL, tls ? v->key.data : NULL, err))) {
        rc = HD_E_IO;
        goto out;
    }
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(v->d, MHD_DAEMON_INFO_BIND_PORT);
    int port = i ? (int)i->port : 0, hl = (int)(strrchr(l, ':') - l);
    hd_log_info(log, "serve: listening on %.*s:%d (%u workers%s)", hl, l, port, workers(),
                tls ? ", TLS" : "");
    if (o->announce) {
        fprintf(o->announce, "listening on %s://%.*s:%d\n", tls ? "https" : "http", hl, l, port);
        fflush(o->announce);
    }
    *out = v;
out:
    if (rc < 0)
        hd_serve_free(v);
    return rc;
}

void hd_serve_wait(struct hd_serve *v)
{
    int64_t next_retry = 0;
    while (!v->o.stopped()) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        hd_srv_checkpoint(&v->s, STORE_WAL_PAGES);
        if (hd_clock_mono_ms() >= next_retry) { /* receipts whose message appeared */
            hd_hooks_retry(&v->s);
            next_retry = hd_clock_mono_ms() + 1000;
        }
    }
    hd_log_info(v->s.log, "serve: stopping: finishing the requests in flight");
    stop(&v->s, v->d);
    v->d = NULL;
}

void hd_serve_free(struct hd_serve *v)
{
    if (!v)
        return;
    hd_clicks_stop(v->s.clicks);
    if (v->d)
        MHD_stop_daemon(v->d);
    hd_clicks_free(v->s.clicks);
    hd_sns_free(v->s.sns);
    hd_peers_free(v->s.peers);
    hd_api_free(v->s.api);
    hd_pages_free(v->s.pages);
    hd_token_keyset_release(&v->s.keyset);
    for (size_t i = 0; v->s.twilio_keys && i < v->s.ntwilio_keys; i++)
        hd_form_twilio_key_release(&v->s.twilio_keys[i]);
    free(v->s.twilio_keys);
    hd_store_free(v->s.st);
    hd_store_free(v->s.metrics_st);
    hd_store_free(v->s.con_st);
    hd_store_free(v->s.ckpt_st);
    hd_con_stats_free(v->s.con_stats);
    pthread_mutex_destroy(&v->s.mu);
    pthread_mutex_destroy(&v->s.metrics_mu);
    pthread_mutex_destroy(&v->s.console_mu);
    pthread_mutex_destroy(&v->s.login_mu);
    pthread_mutex_destroy(&v->s.con_mu);
    hd_wipe(v->key.data, v->key.len);
    hd_buf_release(&v->key);
    hd_buf_release(&v->cert);
    free(v);
}

int hd_serve_run(const struct hd_config *cfg, const char *db_path, struct hd_log *log,
                 const struct hd_clock *clock, const struct hd_serve_opts *o, struct hd_err *err)
{
    struct hd_serve *v = NULL;
    int rc = hd_serve_start(cfg, db_path, log, clock, o, &v, err);
    if (rc == 0)
        hd_serve_wait(v);
    hd_serve_free(v);
    return rc;
}
