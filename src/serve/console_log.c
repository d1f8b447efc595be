/* console_log: the console's delivery log page and its CSV export (issue
 * 21), read with `herald log`'s filters (the query's campaign, run,
 * contact, channel, provider, outcome, reason, since and until, resolved by
 * hd_log_filter_resolve as the command line resolves its options) through
 * hd_store_log_query, its cells from hd_audit_log_cells so that the page,
 * the export and the terminal print the same words. A bad filter is the
 * page's "error", not a failure.
 *
 * Paging is by keyset, newest first: a page ends with the link
 * before=MS.ID (its last row's time and id), the next page reads the rows
 * after that one in the time index, so page 1000 of a ten-million-row log
 * costs what page 1 does (OFFSET would read and drop every row before it).
 * "Newer" is after=MS.ID of the page's first row, read oldest first and
 * turned round. The newest page reads from a cursor past every row, so
 * every page (one contact's too) is in the order of the times shown.
 *
 * The export (/console/log.csv?the same filters) writes herald log
 * --format csv's header and rows (hd_audit_log_csv_*). The server answers
 * from a buffer, so the export is bounded: at most CSV_MAX_ROWS rows (the
 * newest), read in batches of CSV_BATCH with the store's mutex taken for
 * each batch only (a keyset cursor continues where the last one stopped),
 * so that receipts and the API are not held up for the whole export. A
 * larger export is herald log --format csv's job (streamed to a file); the
 * page says so. Every value goes to Mustache, which escapes it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/audit.h"
#include "console_int.h"

#define LOG_PAGE_ROWS 50
#define CSV_BATCH 2000
#define CSV_MAX_ROWS 100000

enum { P_CAMPAIGN, P_RUN, P_CONTACT, P_CHANNEL, P_PROVIDER, P_OUTCOME, P_REASON, P_SINCE, P_UNTIL };
static const char *const log_params[] = {"campaign", "run",    "contact", "channel", "provider",
                                         "outcome",  "reason", "since",   "until"};
#define NPARAMS (sizeof log_params / sizeof log_params[0])

/* A row's place in the log's order: its time and id. */
struct cursor {
    int64_t ms, id;
};

struct rows {
    json_t *list;
    int64_t shown;
    bool more; /* a row past the page */
    struct cursor first, last;
};

static int log_row(void *ud, const struct hd_log_row *r)
{
    struct rows *w = ud;
    struct hd_audit_log_cells c;
    if (w->shown == LOG_PAGE_ROWS) {
        w->more = true;
        return 1;
    }
    if (!w->shown++)
        w->first = (struct cursor){r->at_ms, r->id};
    w->last = (struct cursor){r->at_ms, r->id};
    hd_audit_log_cells(r, &c);
    json_t *o = json_object();
    for (size_t i = 0; i < HD_AUDIT_LOG_NCOLS; i++)
        json_object_set_new(o, hd_audit_log_cols[i], json_string(c.cell[i] ? c.cell[i] : ""));
    json_object_set_new(o, "when", json_integer(r->at_ms / 1000)); /* for the date filter */
    json_array_append_new(w->list, o);
    return 0;
}

/* path?the given filters&key=cursor (cur NULL: none) */
static json_t *link_to(const char *path, const char *const *v, const char *key,
                       const struct cursor *cur)
{
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_adds(&b, path);
    char sep = '?';
    for (size_t i = 0; i < NPARAMS; i++) {
        if (!v[i] || !*v[i])
            continue;
        hd_buf_addf(&b, "%c%s=", sep, log_params[i]);
        hd_buf_add_uri(&b, v[i], strlen(v[i]));
        sep = '&';
    }
    if (cur)
        hd_buf_addf(&b, "%c%s=%" PRId64 ".%" PRId64, sep, key, cur->ms, cur->id);
    json_t *s = json_stringn(b.data, b.len);
    hd_buf_release(&b);
    return s;
}

/* "MS.ID" into cur; false when absent or malformed (the newest page). */
static bool cursor_of(const char *v, struct cursor *cur)
{
    const char *dot = v ? strchr(v, '.') : NULL;
    int64_t ms, id;
    if (!dot || !hd_con_digits(v, (size_t)(dot - v), &ms) ||
        !hd_con_digits(dot + 1, strlen(dot + 1), &id) || id <= 0)
        return false;
    *cur = (struct cursor){ms, id};
    return true;
}

static int when(const char *v, int64_t *ms)
{
    int64_t t;
    enum hd_time_kind k;
    if (!v || !*v)
        return 0;
    if (hd_time_parse_iso(v, &t, &k) < 0)
        return -1;
    *ms = t * 1000;
    return 0;
}

static const char *given(const char *v)
{
    return v && *v ? v : NULL;
}

/* f from the query's values v, as herald log reads its options; a bad one
 * is the page's error (set in out when out, else in err as HD_E_INVALID;
 * returns 1), and f is left unused. */
static int log_filter(struct hd_store *st, const char *const *v, struct hd_log_filter *f,
                      json_t *out, struct hd_err *err)
{
    struct hd_err e = {0};
    const char *bad = NULL;
    int64_t run = 0;
    bool run_ok = !given(v[P_RUN]) || hd_con_digits(v[P_RUN], strlen(v[P_RUN]), &run);
    f->channel = given(v[P_CHANNEL]);
    f->provider = given(v[P_PROVIDER]);
    f->outcome = given(v[P_OUTCOME]);
    f->reason = given(v[P_REASON]);
    if (when(v[P_SINCE], &f->since_ms) < 0 || when(v[P_UNTIL], &f->until_ms) < 0)
        bad = "since and until take an ISO 8601 time or date (2026-11-22 or "
              "2026-11-22T09:00:00Z)";
    else if (!run_ok)
        bad = "run takes a run's number (1, 2, ...)";
    int rc =
        bad ? 0 : hd_log_filter_resolve(st, given(v[P_CAMPAIGN]), run, given(v[P_CONTACT]), f, &e);
    if (rc == HD_E_NOTFOUND || rc == HD_E_USAGE || rc == HD_E_INVALID)
        bad = e.msg;
    /* as herald log refuses them (an empty page said nothing: a review) */
    if (!bad && f->channel && hd_channel_parse(f->channel) < 0)
        bad = "channel is email, sms, push, inbox or wechat";
    if (!bad && f->outcome && !(f->outcome = hd_log_outcome(f->outcome)))
        bad = "outcome is accepted, temporary, permanent, throttled, skipped or receipt";
    if (bad) {
        if (out)
            json_object_set_new(out, "error", json_string(bad));
        else
            hd_err_set(err, HD_E_INVALID, "%s", bad);
        return 1;
    }
    if (rc < 0 && err)
        *err = e;
    return rc;
}

static void query_values(const struct hd_con *c, const char *v[NPARAMS])
{
    hd_header_fn arg = c->r->arg;
    for (size_t i = 0; i < NPARAMS; i++)
        v[i] = arg ? arg(c->r->ud, log_params[i]) : NULL;
}

/* Turns the list round (a page read oldest first). */
static void reverse(json_t *list)
{
    size_t n = json_array_size(list);
    for (size_t i = 0; i < n / 2; i++) {
        json_t *a = json_incref(json_array_get(list, i));
        json_array_set(list, i, json_array_get(list, n - 1 - i));
        json_array_set_new(list, n - 1 - i, a);
    }
}

/* The page's links: the newest page, newer (after its first row) and
 * older (before its last). */
static void page_links(json_t *out, const char *const *v, const struct rows *w, bool back,
                       bool cursor)
{
    bool newer = back ? w->more : cursor, older = back ? true : w->more;
    if (newer) {
        json_object_set_new(out, "newest", link_to("/console/log", v, NULL, NULL));
        json_object_set_new(out, "newer", link_to("/console/log", v, "after", &w->first));
    }
    if (older && w->shown)
        json_object_set_new(out, "older", link_to("/console/log", v, "before", &w->last));
    json_object_set_new(out, "csv", link_to("/console/log.csv", v, NULL, NULL));
}

static json_t *log_data(struct hd_con *c, struct hd_store *st, struct hd_err *err)
{
    const char *v[NPARAMS];
    struct cursor cur;
    query_values(c, v);
    hd_header_fn arg = c->r->arg;
    bool back = arg && cursor_of(arg(c->r->ud, "after"), &cur);
    bool cursor = back || (arg && cursor_of(arg(c->r->ud, "before"), &cur));
    json_t *out = json_object(), *filters = json_object();
    for (size_t i = 0; i < NPARAMS; i++)
        json_object_set_new(filters, log_params[i], json_string(v[i] ? v[i] : ""));
    json_object_set_new(out, "filter", filters);
    json_object_set_new(out, "csv_max", json_integer(CSV_MAX_ROWS));
    /* the newest page too has a cursor, past every row: every page is then
     * in the order of the times shown, also for one contact, whose list is
     * otherwise ordered by when a receipt's message was sent (LOG_ORDER),
     * which a keyset could not continue */
    struct hd_log_filter f = {.limit = LOG_PAGE_ROWS + 1,
                              .oldest_first = back,
                              .after_ms = cursor ? cur.ms : INT64_MAX,
                              .after_id = cursor ? cur.id : INT64_MAX};
    int rc = log_filter(st, v, &f, out, err);
    if (rc > 0)
        return out;
    struct rows w = {.list = json_array()};
    if (rc < 0 || hd_store_log_query(st, &f, log_row, &w, err) < 0) {
        json_decref(w.list);
        json_decref(out);
        return NULL;
    }
    if (back) {
        reverse(w.list);
        struct cursor t = w.first;
        w.first = w.last;
        w.last = t;
    }
    json_object_set_new(out, "rows", w.list);
    json_object_set_new(out, "no_rows", json_boolean(w.shown == 0));
    page_links(out, v, &w, back, cursor);
    return out;
}

void hd_con_log(struct hd_con *c)
{
    json_t *data = hd_con_load(c, log_data);
    if (data) /* a bad filter is the page's error, answered 400 */
        hd_con_page(c, json_object_get(data, "error") ? 400 : 200, PAGE_CONSOLE_LOG, data);
}

/* ---- the CSV export ---- */

struct csv {
    struct hd_buf *out;
    int64_t n; /* rows of this batch */
    struct cursor last;
};

static int csv_row(void *ud, const struct hd_log_row *r)
{
    struct csv *w = ud;
    struct hd_audit_log_cells c;
    hd_audit_log_cells(r, &c);
    hd_audit_log_csv_row(w->out, &c, true);
    w->last = (struct cursor){r->at_ms, r->id};
    w->n++;
    return 0;
}

/* One batch after w->last into the answer, with the store's mutex held
 * for it alone; the filter is resolved again each time (the campaign's
 * and contact's names to ids: a few look-ups). 1: a bad filter (err). */
static int csv_batch(struct hd_con *c, const char *const *v, int64_t limit, struct csv *w,
                     struct hd_err *err)
{
    struct hd_log_filter f = {.limit = limit, .after_ms = w->last.ms, .after_id = w->last.id};
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, err);
    int rc = st ? log_filter(st, v, &f, NULL, err) : HD_E_STORE;
    w->n = 0;
    if (rc == 0)
        rc = hd_store_log_query(st, &f, csv_row, w, err);
    pthread_mutex_unlock(&c->s->mu);
    return rc;
}

void hd_con_log_csv(struct hd_con *c)
{
    struct hd_err err = {0};
    const char *v[NPARAMS];
    struct hd_buf body;
    struct csv w = {&body, 0, {INT64_MAX, INT64_MAX}}; /* past every row: see log_data */
    int64_t total = 0;
    int rc;
    query_values(c, v);
    hd_buf_init(&body);
    hd_audit_log_csv_header(&body);
    do {
        int64_t limit = CSV_MAX_ROWS - total < CSV_BATCH ? CSV_MAX_ROWS - total : CSV_BATCH;
        if ((rc = csv_batch(c, v, limit, &w, &err)) != 0)
            break;
        total += w.n;
    } while (w.n == CSV_BATCH && total < CSV_MAX_ROWS);
    if (rc > 0 || err.code == HD_E_INVALID) {
        hd_con_plain(c->a, 400, "");
        hd_buf_addf(&c->a->body, "bad filter: %s\n", err.msg);
    } else if (rc < 0) {
        pthread_mutex_lock(&c->s->mu);
        hd_srv_unavailable(c->s, c->a, &err);
        pthread_mutex_unlock(&c->s->mu);
    } else {
        c->a->status = 200;
        c->a->type = "text/csv; charset=utf-8";
        hd_buf_release(&c->a->body);
        c->a->body = body;
        return;
    }
    hd_buf_release(&body);
}
