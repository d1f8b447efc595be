/* console_campaign: the data of the console's campaign page and log page
 * (issue 21), as JSON objects for their templates, read through the
 * functions the command line uses so that the page and the terminal never
 * disagree: the definition as `herald campaign show` words it
 * (hd_campaign_json), its runs with their messages by state
 * (hd_store_run_each, hd_store_run_counts), the funnel from the numbers
 * `herald stats` and the API print (hd_stats_load, hd_stats_metrics_of:
 * the "all" group), conversions from hd_store_stats_goal when the page is
 * asked for a goal event; the log through hd_log_filter_resolve and
 * hd_store_log_query with `herald log`'s filters, its cells from
 * hd_audit_log_cells. Paging skips whole pages of rows (the newest
 * first); every value goes to Mustache, which escapes it. Called with the
 * store's mutex held. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/audit.h"
#include "herald/schedule.h"
#include "herald/state.h"
#include "herald/stats.h"
#include "serve_int.h"

#define LOG_PAGE_ROWS 50
#define LOG_PAGE_MAX 10000
#define GOAL_WINDOW (7 * 86400) /* herald stats --window's default */

struct runs {
    struct hd_store *st;
    json_t *list;
    struct hd_err *err;
};

static int run_row(void *ud, const struct hd_run *r)
{
    static const char *const names[] = {"materializing", "active", "done"};
    struct runs *w = ud;
    int64_t counts[HD_ST_COUNT];
    char t[32];
    if (hd_store_run_counts(w->st, 0, r->id, counts, w->err) < 0)
        return -1;
    json_t *states = json_array();
    for (int s = 0; s < HD_ST_COUNT; s++)
        if (counts[s])
            json_array_append_new(states, json_pack("{s:s,s:I}", "state", hd_state_name(s), "n",
                                                    (json_int_t)counts[s]));
    hd_time_format_iso(r->fire_at, t, sizeof t);
    json_array_append_new(w->list,
                          json_pack("{s:I,s:s,s:s,s:o}", "run", (json_int_t)r->seq, "fired_at", t,
                                    "status", names[r->status], "states", states));
    return 0;
}

static double metric(const struct hd_stats_metrics *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->m[i].name, name) == 0)
            return m->m[i].v;
    return 0;
}

static int goal_row(void *ud, const char *group, int64_t n, int64_t converted)
{
    (void)n;
    if (strcmp(group, "holdout") != 0)
        *(int64_t *)ud += converted;
    return 0;
}

/* The funnel: targeted, held out, sent, delivered (and converted to goal). */
static json_t *funnel(struct hd_store *st, int64_t id, const char *goal, struct hd_err *err)
{
    struct hd_stats s;
    if (hd_stats_load(st, id, HD_BY_NONE, &s, err) < 0)
        return NULL;
    struct hd_stats_metrics *m = hd_stats_metrics_of(&s);
    json_t *f = json_pack("{s:I,s:I,s:I,s:I}", "targeted", (json_int_t)metric(&m[0], "targeted"),
                          "held_out", (json_int_t)metric(&m[0], "held_out"), "sent",
                          (json_int_t)metric(&m[0], "sent"), "delivered",
                          (json_int_t)metric(&m[0], "delivered"));
    free(m);
    hd_stats_release(&s);
    int64_t conv = 0;
    if (goal && *goal) {
        if (hd_store_stats_goal(st, id, goal, GOAL_WINDOW, goal_row, &conv, err) < 0) {
            json_decref(f);
            return NULL;
        }
        json_object_set_new(f, "converted", json_integer(conv));
        json_object_set_new(f, "goal", json_string(goal));
    }
    return f;
}

json_t *hd_console_campaign(struct hd_store *st, const char *name, const char *goal, int lang,
                            struct hd_err *err)
{
    struct hd_campaign c = {0};
    json_t *out = NULL, *f = NULL;
    struct runs w = {st, json_array(), err};
    char *reason = NULL;
    if (hd_store_campaign_get(st, name, 0, &c, err) < 0 || c.api)
        goto out;
    if (hd_store_run_each(st, c.id, false, run_row, &w, err) < 0)
        goto out;
    if (!(f = funnel(st, c.id, goal, err)))
        goto out;
    out = hd_campaign_json(&c);
    json_object_set_new(out, "status_label", json_string(hd_console_status_word(lang, c.status)));
    json_object_set_new(out, "category_label", json_string(hd_pages_category(lang, c.category)));
    if (c.status == HD_CAMP_PAUSED &&
        hd_store_campaign_pause_reason(st, c.id, &reason, NULL) == 0 && reason)
        json_object_set_new(out, "paused_reason", json_string(reason));
    json_object_set_new(out, "can_pause",
                        json_boolean(c.status == HD_CAMP_RUNNING || c.status == HD_CAMP_SCHEDULED));
    json_object_set_new(out, "can_resume", json_boolean(c.status == HD_CAMP_PAUSED));
    json_object_set_new(out, "can_cancel",
                        json_boolean(c.status != HD_CAMP_CANCELLED && c.status != HD_CAMP_DONE));
    json_object_set_new(out, "runs", w.list);
    json_object_set_new(out, "no_runs", json_boolean(json_array_size(w.list) == 0));
    json_object_set_new(out, "funnel", f);
    w.list = f = NULL;
out:
    if (!out && c.api && err)
        hd_err_set(err, HD_E_NOTFOUND, "no campaign named '%s'", name);
    free(reason);
    json_decref(w.list);
    json_decref(f);
    hd_campaign_release(&c);
    return out;
}

/* ---- the log page ---- */

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

json_t *hd_console_log(struct hd_store *st, hd_header_fn arg, void *ud, struct hd_err *err)
{
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
