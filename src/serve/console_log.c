/* console_log: the console's delivery log page (issue 21), read with
 * `herald log`'s filters (the query's campaign, run, contact, channel,
 * provider, outcome, reason, since and until, resolved by
 * hd_log_filter_resolve as the command line resolves its options) through
 * hd_store_log_query, its cells from hd_audit_log_cells so that the page
 * and the terminal print the same words. A bad filter is the page's
 * "error", not a failure. Paging skips whole pages of rows (the newest
 * first); every value goes to Mustache, which escapes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/audit.h"
#include "console_int.h"

#define LOG_PAGE_ROWS 50
#define LOG_PAGE_MAX 10000

struct rows {
    json_t *list;
    int64_t skip, seen, shown;
};

static int log_row(void *ud, const struct hd_log_row *r)
{
    struct rows *w = ud;
    struct hd_audit_log_cells c;
    if (w->seen++ < w->skip)
        return 0;
    if (w->shown == LOG_PAGE_ROWS)
        return 1; /* one more than a page: there is a next one */
    w->shown++;
    hd_audit_log_cells(r, &c);
    json_t *o = json_object();
    for (size_t i = 0; i < HD_AUDIT_LOG_NCOLS; i++)
        json_object_set_new(o, hd_audit_log_cols[i], json_string(c.cell[i] ? c.cell[i] : ""));
    json_array_append_new(w->list, o);
    return 0;
}

enum { P_CAMPAIGN, P_RUN, P_CONTACT, P_CHANNEL, P_PROVIDER, P_OUTCOME, P_REASON, P_SINCE, P_UNTIL };
static const char *const log_params[] = {"campaign", "run",    "contact", "channel", "provider",
                                         "outcome",  "reason", "since",   "until"};
#define NPARAMS (sizeof log_params / sizeof log_params[0])

/* /console/log?the given filters&page=N */
static json_t *page_link(const char *const *v, long page)
{
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_adds(&b, "/console/log?");
    for (size_t i = 0; i < NPARAMS; i++) {
        if (!v[i] || !*v[i])
            continue;
        hd_buf_addf(&b, "%s=", log_params[i]);
        hd_buf_add_uri(&b, v[i], strlen(v[i]));
        hd_buf_addc(&b, '&');
    }
    hd_buf_addf(&b, "page=%ld", page);
    json_t *s = json_stringn(b.data, b.len);
    hd_buf_release(&b);
    return s;
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
 * is the page's error (returned), and f is left unused. */
static int log_filter(struct hd_store *st, const char *const *v, struct hd_log_filter *f,
                      json_t *out, struct hd_err *err)
{
    struct hd_err e = {0};
    char *end = NULL;
    long long run = given(v[P_RUN]) ? strtoll(v[P_RUN], &end, 10) : 0;
    f->channel = given(v[P_CHANNEL]);
    f->provider = given(v[P_PROVIDER]);
    f->outcome = given(v[P_OUTCOME]);
    f->reason = given(v[P_REASON]);
    if (when(v[P_SINCE], &f->since_ms) < 0 || when(v[P_UNTIL], &f->until_ms) < 0) {
        json_object_set_new(out, "error",
                            json_string("since and until take an ISO 8601 time or "
                                        "date (2026-11-22 or 2026-11-22T09:00:00Z)"));
        return 1;
    }
    if ((end && *end) || run < 0) {
        json_object_set_new(out, "error", json_string("run takes a run's number (1, 2, ...)"));
        return 1;
    }
    int rc = hd_log_filter_resolve(st, given(v[P_CAMPAIGN]), run, given(v[P_CONTACT]), f, &e);
    if (rc == HD_E_NOTFOUND || rc == HD_E_USAGE || rc == HD_E_INVALID) {
        json_object_set_new(out, "error", json_string(e.msg));
        return 1;
    }
    if (rc < 0 && err)
        *err = e;
    return rc;
}

static json_t *log_data(struct hd_con *c, struct hd_store *st, struct hd_err *err)
{
    hd_header_fn arg = c->r->arg;
    void *ud = c->r->ud;
    const char *v[NPARAMS];
    for (size_t i = 0; i < NPARAMS; i++)
        v[i] = arg ? arg(ud, log_params[i]) : NULL;
    const char *p = arg ? arg(ud, "page") : NULL;
    long page = p ? strtol(p, NULL, 10) : 1;
    page = page < 1 ? 1 : page > LOG_PAGE_MAX ? LOG_PAGE_MAX : page;
    json_t *out = json_object(), *filters = json_object();
    for (size_t i = 0; i < NPARAMS; i++)
        json_object_set_new(filters, log_params[i], json_string(v[i] ? v[i] : ""));
    json_object_set_new(out, "filter", filters);
    struct hd_log_filter f = {.limit = page * LOG_PAGE_ROWS + 1};
    int rc = log_filter(st, v, &f, out, err);
    if (rc > 0)
        return out;
    struct rows w = {json_array(), (page - 1) * LOG_PAGE_ROWS, 0, 0};
    if (rc < 0 || hd_store_log_query(st, &f, log_row, &w, err) < 0) {
        json_decref(w.list);
        json_decref(out);
        return NULL;
    }
    json_object_set_new(out, "rows", w.list);
    json_object_set_new(out, "no_rows", json_boolean(w.shown == 0));
    json_object_set_new(out, "page", json_integer(page));
    if (page > 1)
        json_object_set_new(out, "prev", page_link(v, page - 1));
    if (w.seen > w.skip + w.shown)
        json_object_set_new(out, "next", page_link(v, page + 1));
    return out;
}

void hd_con_log(struct hd_con *c)
{
    json_t *data = hd_con_load(c, log_data);
    if (data)
        hd_con_page(c, 200, PAGE_CONSOLE_LOG, data);
}
