/* inbox: the in-app inbox's API on herald serve (issue 20).
 *
 *   GET  /api/v1/inbox[?cursor=ID&limit=N]  the contact's messages, newest
 *                                           first, and the unread count
 *   POST /api/v1/inbox/ID/read              marks one read: a receipt
 *                                           "opened" for its message
 *   POST /api/v1/inbox/ID/archive           hides one
 *   OPTIONS on each                         CORS preflight, for [serve]
 *                                           inbox_origins only
 *
 * A request carries "Authorization: Bearer TOKEN", a contact token
 * (core/token.c; minted by the operator's backend with the [serve]
 * secret). Everything is decided when the headers are in: the API reads no
 * body, so the token is checked before any could be read. The cursor is
 * the last id of the page before (ids grow with time): a page is a range
 * of the store's index, and what arrives meanwhile never shifts it.
 * Errors are RFC 9457 problem+json, never naming which part of a token
 * was wrong. A read is kept, with its receipt, in one transaction under
 * the server's store mutex, through dispatch/receipt.c as a gateway's
 * report would be (the inbox provider's message found by its number). */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve_int.h"

#define LIMIT_DEFAULT 20
#define LIMIT_MAX 100

static void problem(struct hd_answer *a, int status, const char *title, const char *detail)
{
    json_t *o = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", title, "status",
                          status, "detail", detail);
    char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    a->status = status;
    a->type = "application/problem+json";
    hd_buf_adds(&a->body, t);
    free(t);
}

static void json_answer(struct hd_answer *a, int status, json_t *o)
{
    char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    a->status = status;
    a->type = "application/json";
    hd_buf_adds(&a->body, t);
    free(t);
}

/* A positive decimal number of at most 18 digits, or -1. */
static int64_t number(const char *s, size_t n)
{
    int64_t v = 0;
    if (n == 0 || n > 18)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v > 0 ? v : -1;
}

/* The bearer token's contact, or false with a answered 401. */
static bool authorized(struct hd_srv *s, const char *auth, char *contact, size_t size,
                       struct hd_answer *a)
{
    int64_t expiry;
    const char *tok = auth && strncasecmp(auth, "Bearer ", 7) == 0 ? auth + 7 : NULL;
    int fault = tok ? hd_ctoken_verify(tok, strlen(tok), s->keys, 2, hd_clock_now(s->clock),
                                       contact, size, &expiry)
                    : HD_TOKEN_MALFORMED;
    if (fault == HD_TOKEN_OK)
        return true;
    a->www_authenticate = "Bearer realm=\"herald inbox\"";
    problem(a, 401, "Unauthorized",
            tok ? "the contact token is not valid (or has expired): ask the app's server for a "
                  "new one"
                : "send Authorization: Bearer CONTACT_TOKEN");
    return false;
}

struct listing {
    json_t *list;
    int64_t last;
};

static int add_item(void *ud, const struct hd_inbox_item *m)
{
    struct listing *p = ud;
    char created[32], expires[32], read[32];
    hd_time_format_iso(m->created, created, sizeof created);
    hd_time_format_iso(m->expires, expires, sizeof expires);
    hd_time_format_iso(m->read_at, read, sizeof read);
    json_array_append_new(p->list, json_pack("{s:I, s:s?, s:s?, s:s?, s:s, s:s?, s:b, s:s?}", "id",
                                             (json_int_t)m->id, "title", m->title, "body_html",
                                             m->body_html, "url", m->url, "created_at", created,
                                             "expires_at", m->expires ? expires : NULL, "read",
                                             m->read_at != 0, "read_at", m->read_at ? read : NULL));
    p->last = m->id;
    return 0;
}

/* GET: a page of the contact's messages. */
static void list(struct hd_srv *s, struct hd_store *st, int64_t contact, hd_header_fn arg, void *ud,
                 struct hd_answer *a)
{
    const char *c = arg(ud, "cursor"), *l = arg(ud, "limit");
    int64_t cursor = c ? number(c, strlen(c)) : 0, limit = l ? number(l, strlen(l)) : LIMIT_DEFAULT;
    if (cursor < 0 || limit < 0 || limit > LIMIT_MAX) {
        problem(a, 400, "Bad Request",
                cursor < 0 ? "cursor: give the next_cursor of the page before"
                           : "limit: give a number from 1 to 100");
        return;
    }
    struct listing p = {json_array(), 0};
    struct hd_err err = {0};
    int64_t unread = 0;
    /* one more than asked: whether a next page exists */
    if (hd_store_inbox_list(st, contact, hd_clock_now(s->clock), cursor, (int)limit + 1, add_item,
                            &p, &unread, &err) < 0) {
        json_decref(p.list);
        hd_srv_unavailable(s, a, &err);
        return;
    }
    bool more = json_array_size(p.list) > (size_t)limit;
    char next[24] = "";
    if (more) {
        json_array_remove(p.list, (size_t)limit);
        snprintf(next, sizeof next, "%lld",
                 (long long)json_integer_value(
                     json_object_get(json_array_get(p.list, (size_t)limit - 1), "id")));
    }
    json_answer(a, 200,
                json_pack("{s:o, s:I, s:s?}", "messages", p.list, "unread", (json_int_t)unread,
                          "next_cursor", more ? next : NULL));
}

/* POST .../ID/read or .../ID/archive, in one transaction with the read's
 * receipt. */
static void mark(struct hd_srv *s, struct hd_store *st, int64_t contact, int64_t id, bool archive,
                 struct hd_answer *a)
{
    struct hd_err err = {0};
    struct hd_inbox_mark m;
    int64_t now_ms = hd_clock_now_ms(s->clock);
    int rc = hd_store_begin(st, &err), result;
    if (rc == 0)
        rc = hd_store_inbox_mark(st, contact, id, archive, now_ms / 1000, &m, &err);
    if (rc == 0 && m.found && m.first_read && !archive) {
        char gid[48];
        snprintf(gid, sizeof gid, "inbox:%lld", (long long)m.message);
        struct hd_receipt r = {.message = m.message,
                               .provider = m.provider,
                               .gateway_id = gid,
                               .status = "opened",
                               .received_ms = now_ms};
        struct hd_receipt_ctx c = hd_srv_receipt_ctx(s, st);
        rc = hd_receipt_keep(&c, &r, now_ms, &result, &err);
    }
    if (rc == 0)
        rc = hd_store_commit(st, &err);
    if (rc < 0) {
        hd_store_rollback(st);
        hd_srv_unavailable(s, a, &err);
    } else if (!m.found) {
        problem(a, 404, "Not Found", "no such message in this inbox (archived or expired?)");
    } else {
        json_answer(
            a, 200,
            json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", archive ? "archived" : "read"));
    }
}

/* What rest names: 0 the list, 1 a read, 2 an archive (*id set), -1 none. */
static int what(const char *rest, int64_t *id)
{
    if (!*rest)
        return 0;
    const char *slash = rest[0] == '/' ? strchr(rest + 1, '/') : NULL;
    if (!slash || (*id = number(rest + 1, (size_t)(slash - rest - 1))) < 0)
        return -1;
    return strcmp(slash, "/read") == 0 ? 1 : strcmp(slash, "/archive") == 0 ? 2 : -1;
}

bool hd_inbox_claims(const char *rest)
{
    int64_t id = 0;
    return what(rest, &id) >= 0;
}

void hd_inbox_answer(struct hd_srv *s, const char *method, const char *rest, hd_header_fn header,
                     hd_header_fn arg, void *ud, struct hd_answer *a)
{
    const char *origin = header(ud, "Origin");
    int64_t id = 0;
    int w = what(rest, &id);
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (hd_cfg_serve_origin_ok(&s->cfg->serve, origin))
        a->cors_origin = origin;
    if (w < 0) {
        problem(a, 404, "Not Found", "no such path in the inbox API");
        return;
    }
    a->allow = w == 0 ? "GET, HEAD, OPTIONS" : "POST, OPTIONS";
    if (strcmp(method, "OPTIONS") == 0) {
        if (!a->cors_origin) {
            problem(a, 403, "Forbidden", "this origin is not in [serve] inbox_origins");
            return;
        }
        a->preflight = true;
        a->status = 204;
        return;
    }
    if (w == 0 ? !get : strcmp(method, "POST") != 0) {
        problem(a, 405, "Method Not Allowed", w == 0 ? "use GET" : "use POST");
        return;
    }
    a->allow = NULL;
    char contact[HD_CTOKEN_CONTACT_MAX + 1];
    if (!authorized(s, header(ud, "Authorization"), contact, sizeof contact, a))
        return;
    struct hd_err err = {0};
    struct hd_contact k = {0};
    pthread_mutex_lock(&s->mu);
    struct hd_store *st = hd_srv_store(s, &err);
    int rc = st ? hd_store_contact_get(st, contact, &k, &err) : HD_E_STORE;
    if (rc == HD_E_NOTFOUND)
        problem(a, 404, "Not Found", "this contact has no inbox (it was deleted)");
    else if (rc < 0)
        hd_srv_unavailable(s, a, &err);
    else if (w == 0)
        list(s, st, k.id, arg, ud, a);
    else
        mark(s, st, k.id, id, w == 2, a);
    pthread_mutex_unlock(&s->mu);
    hd_contact_release(&k);
}
