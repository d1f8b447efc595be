/* api: the JSON API at /api/v1/ (issue 20): routing, authentication, rate
 * limits and errors; the endpoints are in api_messages.c and
 * api_contacts.c.
 *
 * The routes are one table of {method, path pattern, scope, body,
 * handler}; a pattern's "{}" is one part of the path (a contact's id, a
 * message's number). Everything that can be refused without the body is
 * refused when the headers are in, in this order: an unknown path (404), a
 * method the path does not take (405 with Allow), the bearer key (401 for
 * no, unknown, wrong or revoked key, one answer for all; 403 for a key
 * without the route's scope), the key's token bucket (429 with
 * Retry-After), then for a route with a body its Content-Type (415 unless
 * application/json) and Content-Length (413 over [serve] body_limit). The
 * body is then gathered (a chunked one past the bound is 413 at its end),
 * parsed with jansson (400 with the byte offset of a syntax error) and
 * handed to the route. Every error is an RFC 9457 problem
 * (application/problem+json: type, title, status, detail, and field when
 * one field is at fault); type is about:blank, so title is the status's
 * phrase. Each key has its own bucket (its rate a second, a burst of one
 * second's worth), kept in memory per process under a mutex: a limit is
 * per service, which is where the load lands. A route with scope 0
 * authenticates itself from the headers in its begin hook, before any
 * body (the inbox's contact tokens): another module's routes are lines
 * added to the table. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_int.h"
#include "herald/policy.h"
#include "herald/tpl.h"
#include "herald/valid.h"

static const struct hd_api_route routes[] = {
    /* clang-format off */
    {"POST", "messages", API_SEND, true, hd_api_messages_post, NULL},
    {"GET", "messages/{}", API_SEND | API_READ, false, hd_api_messages_get, NULL},
    {"PUT", "contacts/{}", API_CONTACTS, true, hd_api_contacts_put, NULL},
    {"DELETE", "contacts/{}", API_CONTACTS, false, hd_api_contacts_delete, NULL},
    {"POST", "contacts/{}/consent", API_CONTACTS, true, hd_api_consent_post, NULL},
    {"GET", "contacts/{}/history", API_READ, false, hd_api_history_get, NULL},
    {"POST", "events", API_EVENTS, true, hd_api_events_post, NULL},
    {"GET", "campaigns", API_READ, false, hd_api_campaigns_get, NULL},
    {"GET", "campaigns/{}/stats", API_READ, false, hd_api_stats_get, NULL},
    {"GET", "openapi.json", 0, false, hd_api_openapi_get, NULL},
    {"POST", "inbox/tokens", API_INBOX, true, hd_api_inbox_tokens_post, NULL},
    /* clang-format on */
};
#define NROUTES (sizeof routes / sizeof routes[0])

struct bucket {
    int64_t key;
    struct hd_rate rate;
    struct hd_bucket b;
};

struct hd_api {
    pthread_mutex_t mu; /* guards the buckets */
    struct bucket *v;
    size_t n;
    pthread_mutex_t key_mu;  /* guards key_st */
    struct hd_store *key_st; /* the key checks' own read-only connection */
    pthread_mutex_t tpl_mu;  /* guards tpls */
    struct hd_tpl_set *tpls; /* the templates sends name, read once (as herald run does) */
    pthread_mutex_t idem_mu; /* guards flight */
    struct flight {
        int64_t key;         /* the API key's id */
        unsigned char h[32]; /* the Idempotency-Key's SHA-256 */
    } * flight;              /* the keys of the requests in flight */
    size_t nflight;
};

struct hd_api_req {
    struct hd_api_send_req *send; /* a send waiting for the group commit (api_messages.c) */
    const struct hd_api_route *route;
    struct hd_api_call call;
    char arg[256];
    struct hd_buf body;
    size_t max;
    bool too_long;
};

struct hd_api *hd_api_new(void)
{
    struct hd_api *api = hd_xcalloc(1, sizeof *api);
    pthread_mutex_init(&api->mu, NULL);
    pthread_mutex_init(&api->tpl_mu, NULL);
    pthread_mutex_init(&api->key_mu, NULL);
    pthread_mutex_init(&api->idem_mu, NULL);
    return api;
}

bool hd_api_idem_claim(struct hd_api_call *c, const char *idem)
{
    struct hd_api *api = c->s->api;
    hd_sha256(idem, strlen(idem), c->idem_hash);
    pthread_mutex_lock(&api->idem_mu);
    bool busy = false;
    for (size_t i = 0; i < api->nflight && !busy; i++)
        busy = api->flight[i].key == c->key.id &&
               memcmp(api->flight[i].h, c->idem_hash, sizeof c->idem_hash) == 0;
    if (!busy) {
        HD_GROW(api->flight, api->nflight);
        api->flight[api->nflight].key = c->key.id;
        memcpy(api->flight[api->nflight++].h, c->idem_hash, sizeof c->idem_hash);
        c->idem_held = true;
    }
    pthread_mutex_unlock(&api->idem_mu);
    return !busy;
}

/* The request's Idempotency-Key, if it holds one, let go. */
static void idem_release(struct hd_api_call *c)
{
    if (!c->idem_held)
        return;
    struct hd_api *api = c->s->api;
    pthread_mutex_lock(&api->idem_mu);
    for (size_t i = 0; i < api->nflight; i++)
        if (api->flight[i].key == c->key.id &&
            memcmp(api->flight[i].h, c->idem_hash, sizeof c->idem_hash) == 0) {
            api->flight[i] = api->flight[--api->nflight];
            break;
        }
    pthread_mutex_unlock(&api->idem_mu);
    c->idem_held = false;
}

void hd_api_free(struct hd_api *api)
{
    if (!api)
        return;
    pthread_mutex_destroy(&api->mu);
    pthread_mutex_destroy(&api->tpl_mu);
    pthread_mutex_destroy(&api->key_mu);
    pthread_mutex_destroy(&api->idem_mu);
    free(api->flight);
    hd_tpl_set_free(api->tpls);
    hd_store_free(api->key_st);
    free(api->v);
    free(api);
}

static const char *phrase(int status)
{
    static const struct {
        int status;
        const char *title;
    } titles[] = {
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {409, "Conflict"},
        {413, "Content Too Large"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
    };
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
        if (titles[i].status == status)
            return titles[i].title;
    return "Error";
}

void hd_api_json(struct hd_answer *a, int status, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
    a->status = status;
    a->type = "application/json";
    hd_buf_init(&a->body);
    hd_buf_adds(&a->body, text ? text : "{}");
    hd_buf_adds(&a->body, "\n");
    free(text);
    json_decref(v);
}

void hd_api_problem(struct hd_answer *a, int status, const char *field, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", phrase(status),
                          "status", status, "detail", detail);
    if (!p) { /* a detail quoting the request's bytes that are not UTF-8 (a path's %ff) */
        for (char *d = detail; *d; d++)
            *d = (unsigned char)*d < 0x80 ? *d : '?';
        p = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", phrase(status),
                      "status", status, "detail", detail);
    }
    if (field)
        json_object_set_new(p, "field", json_string(field));
    int retry = a->retry_after;
    hd_api_json(a, status, p);
    a->type = "application/problem+json";
    a->retry_after = retry;
}

void hd_api_fail(struct hd_api_call *c, struct hd_answer *a, const struct hd_err *err,
                 const char *field)
{
    switch (err->code) {
    case HD_E_NOTFOUND:
        hd_api_problem(a, 404, field, "%s", err->msg);
        return;
    case HD_E_EXISTS:
        hd_api_problem(a, 409, field, "%s", err->msg);
        return;
    case HD_E_INVALID:
    case HD_E_PARSE:
    case HD_E_USAGE:
        hd_api_problem(a, 422, field, "%s", err->msg);
        return;
    default:
        pthread_mutex_lock(&c->s->mu);
        hd_log_error(c->s->log, "api: %s %s: %s", c->method, c->route_name, err->msg);
        pthread_mutex_unlock(&c->s->mu);
        a->retry_after = 1;
        hd_api_problem(a, 503, NULL, "the store cannot be reached; try again");
    }
}

/* A key's row on the key checks' own read-only connection: a WAL reader
 * waits for no writer, so a request's key is checked while a group commit
 * holds s->mu; each read is a new snapshot (the statement is reset), so a
 * revocation committed before the request is seen. Opened when first
 * needed, and again after a failure. */
int hd_api_key_find(struct hd_srv *s, const char *prefix, struct hd_apikey *k,
                    unsigned char hash[32], struct hd_err *err)
{
    struct hd_api *api = s->api;
    struct hd_store_opts o = hd_srv_store_opts(s, true);
    int rc = 0;
    pthread_mutex_lock(&api->key_mu);
    if (!api->key_st && (rc = hd_store_open(s->db_path, &o, &api->key_st, err)) < 0)
        api->key_st = NULL;
    if (rc == 0 && (rc = hd_store_apikey_find(api->key_st, prefix, k, hash, err)) < 0 &&
        rc != HD_E_NOTFOUND) {
        hd_store_free(api->key_st);
        api->key_st = NULL;
    }
    pthread_mutex_unlock(&api->key_mu);
    return rc;
}

int hd_api_template(struct hd_srv *s, const char *name, struct hd_tpl_info *info,
                    struct hd_err *err)
{
    struct hd_api *api = s->api;
    const struct hd_tpl *t = NULL;
    int rc = 0;
    pthread_mutex_lock(&api->tpl_mu);
    if (!api->tpls)
        rc = hd_tpl_set_open(s->cfg->templates, &api->tpls, err);
    if (rc == 0 && (rc = hd_tpl_get(api->tpls, name, &t, err)) == 0)
        hd_tpl_get_info(t, info);
    pthread_mutex_unlock(&api->tpl_mu);
    return rc;
}

/* Whether pattern matches path; the "{}" part goes to arg, or, when it
 * does not fit, arg is left empty and *long_arg set (the caller answers
 * 422: no id that long exists, but the path is the endpoint's). */
static bool match(const char *pattern, const char *path, char *arg, size_t size, bool *long_arg)
{
    while (*pattern) {
        if (strncmp(pattern, "{}", 2) == 0) {
            size_t n = strcspn(path, "/");
            if (n == 0)
                return false;
            *long_arg = n >= size;
            if (n >= size)
                n = 0;
            memcpy(arg, path, n);
            arg[n] = '\0';
            path += strcspn(path, "/");
            pattern += 2;
        } else if (*pattern++ != *path++) {
            return false;
        }
    }
    return *path == '\0';
}

/* The route for method and path; else 404, or 405 with the methods the
 * path takes in allow. */
static const struct hd_api_route *route_of(const char *method, const char *path, char *arg,
                                           size_t size, bool *long_arg, char *allow, size_t asize)
{
    const struct hd_api_route *found = NULL;
    bool get = strcmp(method, "HEAD") == 0 || strcmp(method, "GET") == 0;
    allow[0] = '\0';
    for (size_t i = 0; i < NROUTES; i++) {
        if (!match(routes[i].pattern, path, arg, size, long_arg))
            continue;
        if (strcmp(routes[i].method, method) == 0 || (get && !strcmp(routes[i].method, "GET")))
            found = &routes[i];
        size_t n = strlen(allow);
        snprintf(allow + n, asize - n, "%s%s%s", n ? ", " : "", routes[i].method,
                 strcmp(routes[i].method, "GET") == 0 ? ", HEAD" : "");
    }
    if (found)
        match(found->pattern, path, arg, size, long_arg);
    return found;
}

/* Takes a token from the key's bucket: 0, or the seconds to wait. */
static int limited(struct hd_api *api, const struct hd_api_key *k)
{
    int64_t now = hd_clock_mono_ms();
    pthread_mutex_lock(&api->mu);
    struct bucket *b = NULL;
    for (size_t i = 0; i < api->n && !b; i++)
        if (api->v[i].key == k->id)
            b = &api->v[i];
    if (b && (b->rate.count != k->rate.count || b->rate.period != k->rate.period))
        b->key = 0, b = NULL; /* another key took its id? never: but start afresh */
    if (!b) {
        HD_GROW(api->v, api->n);
        b = &api->v[api->n++];
        b->key = k->id;
        b->rate = k->rate;
        uint32_t burst = k->rate.count / k->rate.period;
        hd_bucket_init(&b->b, &k->rate, burst ? burst : 1, now);
    }
    int64_t wait = hd_bucket_take(&b->b, now);
    pthread_mutex_unlock(&api->mu);
    return wait <= 0 ? 0 : (int)((wait + 999) / 1000);
}

static bool is_json(const char *type)
{
    if (!type)
        return false;
    size_t n = strcspn(type, ";");
    while (n && type[n - 1] == ' ')
        n--;
    return n == 16 && strncasecmp(type, "application/json", 16) == 0;
}

/* The key, its scope and its bucket: 0, or -1 with a set. */
static int authorize(struct hd_srv *s, struct hd_api_req *r, struct hd_answer *a)
{
    struct hd_err err = {0};
    struct hd_api_call *c = &r->call;
    int rc = hd_api_key_check(s, c->header(c->hud, "Authorization"), &c->key, &err);
    if (rc == HD_E_NOTFOUND) {
        hd_api_problem(a, 401, NULL, "a valid API key is needed: Authorization: Bearer KEY");
        a->www_authenticate = "Bearer realm=\"herald api\"";
        return -1;
    }
    if (rc < 0) {
        hd_api_fail(c, a, &err, NULL);
        return -1;
    }
    if (!(c->key.scopes & r->route->scope)) {
        hd_api_problem(a, 403, NULL, "the key may not call %s /api/v1/%s", r->route->method,
                       r->route->pattern);
        return -1;
    }
    int wait = limited(s->api, &c->key);
    if (wait > 0) {
        a->retry_after = wait;
        char rate[32];
        hd_units_format_rate(&c->key.rate, rate, sizeof rate);
        hd_api_problem(a, 429, NULL, "the key's rate limit (%s) is reached; retry after %d s", rate,
                       wait);
        return -1;
    }
    return 0;
}

int hd_api_begin(struct hd_srv *s, const char *method, const char *rest, hd_header_fn header,
                 void *ud, int64_t content_length, struct hd_api_req **out, struct hd_answer *a)
{
    struct hd_api_req *r = hd_xcalloc(1, sizeof *r);
    static __thread char allow[128];
    *out = NULL;
    bool long_arg = false;
    r->route = route_of(method, rest, r->arg, sizeof r->arg, &long_arg, allow, sizeof allow);
    r->call = (struct hd_api_call){
        .s = s, .method = method, .header = header, .hud = ud, .send = &r->send};
    hd_buf_init(&r->body);
    if (!r->route) {
        if (allow[0]) {
            a->allow = allow;
            hd_api_problem(a, 405, NULL, "/api/v1/%s takes %s", rest, allow);
        } else {
            hd_api_problem(a, 404, NULL, "no such endpoint: /api/v1/%s", rest);
        }
        hd_api_req_free(r);
        return -1;
    }
    r->call.arg = r->arg[0] ? r->arg : NULL;
    r->call.route_name = r->route->pattern;
    if (r->route->scope && authorize(s, r, a) < 0) {
        hd_api_req_free(r);
        return -1;
    }
    /* no id is that long, or not UTF-8 (import refuses them), but the
     * path is the route's (404 before; a %FF id was "missing" to PUT) */
    if (long_arg || !hd_valid_utf8(r->arg, strlen(r->arg))) {
        if (long_arg)
            hd_api_problem(a, 422, NULL, "the id in the path is longer than %zu bytes",
                           sizeof r->arg - 1);
        else
            hd_api_problem(a, 422, NULL, "the id in the path is not UTF-8");
        hd_api_req_free(r);
        return -1;
    }
    if (r->route->begin && r->route->begin(&r->call, a) < 0) {
        hd_api_req_free(r);
        return -1;
    }
    if (r->route->body && !is_json(header(ud, "Content-Type"))) {
        hd_api_problem(a, 415, NULL, "the body must be application/json");
        hd_api_req_free(r);
        return -1;
    }
    r->max = (size_t)s->cfg->serve.body_limit;
    if (content_length > (int64_t)r->max) {
        hd_api_problem(a, 413, NULL, "the body is over %zu bytes", r->max);
        hd_api_req_free(r);
        return -1;
    }
    if (!r->route->body) { /* answered now; a body sent anyway is dropped */
        r->route->fn(&r->call, a);
        hd_api_req_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

void hd_api_body(struct hd_srv *s, struct hd_api_req *r, const char *data, size_t n)
{
    (void)s;
    if (r->body.len + n <= r->max)
        hd_buf_add(&r->body, data, n);
    else
        r->too_long = true;
}

bool hd_api_end(struct hd_srv *s, struct hd_api_req *r, struct hd_click *c, void *conn,
                struct hd_answer *a)
{
    json_error_t je;
    if (r->too_long) {
        hd_api_problem(a, 413, NULL, "the body is over %zu bytes", r->max);
        return false;
    }
    json_t *j =
        json_loadb(r->body.data ? r->body.data : "", r->body.len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        hd_api_problem(a, 400, NULL, "the body is not JSON: %s at byte %d", je.text, je.position);
        return false;
    }
    r->call.body = r->body.data;
    r->call.len = r->body.len;
    r->call.json = j;
    r->route->fn(&r->call, a);
    r->call.json = NULL;
    json_decref(j);
    if (!r->send) /* answered */
        return false;
    c->api = r;
    c->conn = conn;
    if (hd_clicks_push(s->clicks, c))
        return true;
    /* stopping: kept on its own */
    struct hd_err err = {0};
    pthread_mutex_lock(&s->mu);
    struct hd_store *st = hd_srv_store(s, &err);
    int rc = st ? hd_store_begin(st, &err) : HD_E_STORE;
    if (rc == 0 && (rc = hd_api_keep(s, st, r, &err)) == 0)
        rc = hd_store_commit(st, &err);
    if (rc < 0 && st)
        hd_store_rollback(st);
    pthread_mutex_unlock(&s->mu);
    hd_api_kept(s, r, rc, a);
    return false;
}

int hd_api_keep(struct hd_srv *s, struct hd_store *st, struct hd_api_req *r, struct hd_err *err)
{
    return hd_api_send_keep(s, st, &r->call, r->send, err);
}

void hd_api_kept(struct hd_srv *s, struct hd_api_req *r, int rc, struct hd_answer *a)
{
    (void)s;
    hd_api_send_answer(&r->call, r->send, rc, a);
}

int hd_api_status(const struct hd_api_req *r, int rc)
{
    return hd_api_send_status(r->send, rc);
}

/* GET /api/v1/openapi.json: the document built into the binary. */
void hd_api_openapi_get(struct hd_api_call *c, struct hd_answer *a)
{
    (void)c;
    a->status = 200;
    a->type = "application/json";
    hd_buf_init(&a->body);
    for (const char *const *l = hd_api_openapi; *l; l++)
        hd_buf_adds(&a->body, *l);
}

void hd_api_req_free(struct hd_api_req *r)
{
    if (!r)
        return;
    idem_release(&r->call);
    hd_api_send_free(r->send);
    hd_buf_release(&r->body);
    free(r);
}
