/* console_campaign: the console's campaign page
 * (issue 21), as JSON objects for their templates, read through the
 * functions the command line uses so that the page and the terminal never
 * disagree: the definition as `herald campaign show` words it
 * (hd_campaign_json), its runs with their messages by state
 * (hd_store_run_each, hd_store_run_counts), the funnel from the numbers
 * `herald stats` and the API print (hd_stats_load, hd_stats_metrics_of:
 * the "all" group), conversions from hd_store_stats_goal when the page is
 * asked for a goal event. Read with the store's mutex held (hd_con_load);
 * pause, resume and cancel go through hd_campaign_control as the command
 * line's do, each recorded in the audit of actions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/audit.h"
#include "herald/schedule.h"
#include "herald/state.h"
#include "herald/stats.h"
#include "console_int.h"

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

/* The groups of s but "all" with their rates, as percentages for the
 * page's number filter (days are UTC days, as herald stats --by day). */
static json_t *rates(const struct hd_stats *s)
{
    static const char *const counts[] = {"sent", "delivered", "failed"};
    static const char *const pcts[] = {"delivered_rate", "bounce_rate", "open_rate"};
    struct hd_stats_metrics *m = hd_stats_metrics_of(s);
    json_t *list = json_array();
    for (size_t g = 1; g < s->n; g++) {
        json_t *o = json_pack("{s:s}", "name", s->groups[g].name);
        for (size_t i = 0; i < 3; i++)
            json_object_set_new(o, counts[i], json_integer((json_int_t)metric(&m[g], counts[i])));
        for (size_t i = 0; i < 3; i++)
            json_object_set_new(o, pcts[i], json_real(100 * metric(&m[g], pcts[i])));
        json_array_append_new(list, o);
    }
    free(m);
    return list;
}

/* The funnel (targeted, held out, sent, delivered) from the "all" group
 * and the rates by provider, from one load grouped by provider; the rates
 * by day from another. */
static json_t *funnel(struct hd_store *st, int64_t id, json_t *out, struct hd_err *err)
{
    struct hd_stats s, d;
    if (hd_stats_load(st, id, HD_BY_PROVIDER, &s, err) < 0)
        return NULL;
    if (hd_stats_load(st, id, HD_BY_DAY, &d, err) < 0) {
        hd_stats_release(&s);
        return NULL;
    }
    struct hd_stats_metrics *m = hd_stats_metrics_of(&s);
    json_t *f = json_pack("{s:I,s:I,s:I,s:I}", "targeted", (json_int_t)metric(&m[0], "targeted"),
                          "held_out", (json_int_t)metric(&m[0], "held_out"), "sent",
                          (json_int_t)metric(&m[0], "sent"), "delivered",
                          (json_int_t)metric(&m[0], "delivered"));
    free(m);
    json_object_set_new(out, "by_provider", rates(&s));
    json_object_set_new(out, "by_day", rates(&d));
    json_object_set_new(out, "no_rates", json_boolean(s.n < 2));
    hd_stats_release(&s);
    hd_stats_release(&d);
    return f;
}

/* Percentages for the page's number filter, and the interval as an
 * object, in each group of the goal's report. */
static void goal_cells(json_t *r, int lang)
{
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(r, "groups"), i, o) {
        const char *g = json_string_value(json_object_get(o, "group"));
        bool all = strcmp(g, "-") == 0, hold = strcmp(g, "holdout") == 0;
        json_object_set_new(o, "label",
                            json_string(all    ? (lang == LANG_ZH ? "本活动" : "the campaign")
                                        : hold ? (lang == LANG_ZH ? "对照组" : "holdout")
                                               : g));
        double rate = json_number_value(json_object_get(o, "rate"));
        json_object_set_new(o, "rate_pct", json_real(100 * rate));
        json_t *ci = json_object_get(o, "ci95_points");
        if (ci)
            json_object_set_new(o, "ci", json_pack("{s:O,s:O}", "lo", json_array_get(ci, 0), "hi",
                                                   json_array_get(ci, 1)));
    }
}

/* The goal's report against the holdout (herald stats --goal's) with its
 * chart, and the conversions into the funnel f. */
static int goal_of(struct hd_store *st, int64_t id, const char *goal, int lang, json_t *f,
                   json_t *out, struct hd_err *err)
{
    struct hd_goal g;
    int64_t conv = 0;
    bool hold = false;
    if (hd_goal_load(st, id, goal, GOAL_WINDOW, &g, err) < 0)
        return -1;
    for (size_t i = 0; i < g.n; i++) {
        bool h = strcmp(g.v[i].group, "holdout") == 0;
        hold |= h;
        conv += h ? 0 : g.v[i].x;
    }
    json_object_set_new(f, "converted", json_integer(conv));
    json_object_set_new(f, "goal", json_string(goal));
    json_t *r = hd_goal_json(&g, goal, GOAL_WINDOW);
    hd_goal_release(&g);
    goal_cells(r, lang);
    if (hold && json_array_size(json_object_get(r, "groups")) > 1) {
        struct hd_buf svg;
        hd_buf_init(&svg);
        hd_con_lift_svg(r, lang, &svg);
        json_object_set_new(r, "chart", json_stringn(svg.data, svg.len));
        hd_buf_release(&svg);
    } else {
        json_object_set_new(r, "no_holdout", json_true());
    }
    json_object_set_new(out, "goal_report", r);
    return 0;
}

static json_t *campaign_data(struct hd_store *st, const char *name, const char *goal, int lang,
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
    out = hd_campaign_json(&c);
    if (!(f = funnel(st, c.id, out, err)) ||
        (goal && *goal && goal_of(st, c.id, goal, lang, f, out, err) < 0)) {
        json_decref(out);
        out = NULL;
        goto out;
    }
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

/* ---- the page and its actions ---- */

static const char *campaign_name(const struct hd_con *c)
{
    return c->r->rest + strlen("campaigns/");
}

static json_t *campaign_page(struct hd_con *c, struct hd_store *st, struct hd_err *err)
{
    const char *name = campaign_name(c);
    const char *goal = c->r->arg ? c->r->arg(c->r->ud, "goal") : NULL;
    json_t *data = campaign_data(st, name, goal, c->lang, err);
    if (!data)
        return NULL;
    struct hd_buf u;
    hd_buf_init(&u);
    hd_buf_adds(&u, "/console/campaigns/");
    hd_buf_add_uri(&u, name, strlen(name));
    json_object_set_new(data, "url", json_stringn(u.data, u.len));
    u.len = 0;
    hd_buf_adds(&u, "/console/log?campaign=");
    hd_buf_add_uri(&u, name, strlen(name));
    json_object_set_new(data, "log_url", json_stringn(u.data, u.len));
    u.len = 0;
    hd_buf_adds(&u, "/console/log.csv?campaign=");
    hd_buf_add_uri(&u, name, strlen(name));
    json_object_set_new(data, "csv_url", json_stringn(u.data, u.len));
    hd_buf_release(&u);
    return data;
}

void hd_con_campaign_get(struct hd_con *c)
{
    json_t *data = hd_con_load(c, campaign_page);
    if (data)
        hd_con_page(c, 200, PAGE_CONSOLE_CAMPAIGN, data);
}

/* The action a campaign's form names (its csrf checked first); -1 after
 * answering. */
static int campaign_op(struct hd_con *c)
{
    static const char *const ops[] = {"pause", "resume", "cancel"};
    static const int codes[] = {HD_CAMP_OP_PAUSE, HD_CAMP_OP_RESUME, HD_CAMP_OP_CANCEL};
    struct hd_form f;
    int op = -1;
    if (hd_con_form(c, &f) < 0)
        return -1;
    const char *act = hd_form_get(&f, "action");
    for (size_t i = 0; act && i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(act, ops[i]) == 0)
            op = codes[i];
    if (op < 0)
        hd_con_plain(c->a, 400, "bad form body: action is pause, resume or cancel\n");
    hd_form_release(&f);
    return op;
}

/* What `herald campaign pause|resume|cancel` does, recorded in the
 * audit (who, what, when, from where), then the page again. */
void hd_con_campaign_post(struct hd_con *c)
{
    static const char *const what[] = {"campaign_pause", "campaign_resume", "campaign_cancel"};
    struct hd_err err = {0};
    struct hd_campaign camp = {0};
    int64_t n = 0;
    const char *name = campaign_name(c);
    int op = campaign_op(c);
    if (op < 0)
        return;
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    int rc = st ? hd_campaign_control(st, name, op, hd_clock_now_ms(c->s->clock), &camp, &n, &err)
                : HD_E_STORE;
    if (rc == 0) {
        hd_con_note(c, st, c->sess.user.name, what[op], name);
        hd_log_info(c->s->log, "serve: console: '%s' %s '%s' from %s", c->sess.user.name, what[op],
                    name, c->r->addr);
    }
    pthread_mutex_unlock(&c->s->mu);
    hd_campaign_release(&camp);
    if (rc == HD_E_NOTFOUND) {
        hd_con_plain(c->a, 404, "no such campaign\n");
    } else if (rc == HD_E_INVALID) {
        hd_con_plain(c->a, 409, "");
        hd_buf_addf(&c->a->body, "%s\n", err.msg);
    } else if (rc < 0) {
        hd_srv_unavailable(c->s, c->a, &err);
    } else {
        hd_con_redirect_to(c, "/console/campaigns/", name);
    }
}
