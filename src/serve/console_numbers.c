/* console_numbers: the campaign page's numbers (issue 21), from the
 * functions `herald stats` and the API print them with: the funnel
 * (targeted, held out, sent, delivered) and the rates by provider from
 * hd_stats_load grouped by provider (its "all" group is the funnel), the
 * rates by day (UTC days) from another load, and for a goal event the
 * report of herald stats --goal (hd_goal_load, hd_goal_json) with its
 * chart (console_chart.c).
 *
 * They pass over all of the campaign's log rows (200,000 of a
 * ten-million-row log take about a second), so they are read on a
 * read-only connection of their own (s->con_st, guarded by s->con_mu, as
 * GET /metrics has its own): the store's mutex, which every click,
 * receipt and page waits for, is not held, and a WAL reader blocks no
 * writer. And they are kept NUMBERS_TTL seconds, a campaign's numbers and
 * each goal's report apart (another goal reads only its report), in no
 * language: the page's words and chart are made from them for each
 * request. A page loaded again within that time shows the numbers as of
 * when they were read (the page says when), at the cost of a look-up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/stats.h"
#include "console_int.h"

#define GOAL_WINDOW (7 * 86400) /* herald stats --window's default */
#define NUMBERS_TTL 30          /* seconds a campaign's numbers are kept */
#define NUMBERS_KEEP 32         /* campaigns' numbers and goals' reports kept */

struct kept {
    int64_t campaign, at;
    char *goal; /* NULL: the campaign's numbers; else that goal's report */
    json_t *v;  /* NULL: a free place */
};

struct hd_con_stats {
    struct kept k[NUMBERS_KEEP];
};

void hd_con_stats_free(struct hd_con_stats *c)
{
    for (size_t i = 0; c && i < NUMBERS_KEEP; i++) {
        free(c->k[i].goal);
        json_decref(c->k[i].v);
    }
    free(c);
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
    json_array_foreach(json_object_get(r, "groups"), i, o)
    {
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
            json_object_set_new(
                o, "ci",
                json_pack("{s:O,s:O}", "lo", json_array_get(ci, 0), "hi", json_array_get(ci, 1)));
    }
}

/* The goal's report against the holdout as herald stats --goal makes it
 * (hd_goal_json), read from st: the page's words and chart come later. */
static json_t *goal_report(struct hd_store *st, int64_t id, const char *goal, struct hd_err *err)
{
    struct hd_goal g;
    if (hd_goal_load(st, id, goal, GOAL_WINDOW, &g, err) < 0)
        return NULL;
    json_t *r = hd_goal_json(&g, goal, GOAL_WINDOW);
    hd_goal_release(&g);
    return r;
}

/* The report of the page (a copy of the kept one, in lang's words, with
 * its chart when there is a holdout) and the conversions into funnel f. */
static json_t *goal_page(const json_t *kept, const char *goal, int lang, json_t *f)
{
    json_t *r = json_deep_copy(kept), *o;
    int64_t conv = 0;
    bool hold = false;
    size_t i;
    json_array_foreach(json_object_get(r, "groups"), i, o)
    {
        bool h = strcmp(json_string_value(json_object_get(o, "group")), "holdout") == 0;
        hold |= h;
        conv += h ? 0 : json_integer_value(json_object_get(o, "converted"));
    }
    json_object_set_new(f, "converted", json_integer(conv));
    json_object_set_new(f, "goal", json_string(goal));
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
    return r;
}

/* The numbers of campaign id read from st: {funnel, by_provider, by_day,
 * no_rates}, or with goal its report alone. */
static json_t *numbers(struct hd_store *st, int64_t id, const char *goal, struct hd_err *err)
{
    if (goal)
        return goal_report(st, id, goal, err);
    json_t *out = json_object(), *f = funnel(st, id, out, err);
    if (!f) {
        json_decref(out);
        return NULL;
    }
    json_object_set_new(out, "funnel", f);
    return out;
}

static bool same(const struct kept *k, int64_t id, const char *goal)
{
    return k->v && k->campaign == id && (k->goal ? goal && strcmp(k->goal, goal) == 0 : !goal);
}

/* The kept numbers of (id, goal) read at most NUMBERS_TTL ago, else read
 * anew into the place they had, or the oldest (s->con_mu held). */
static struct kept *kept_numbers(struct hd_srv *s, int64_t id, const char *goal, int64_t now,
                                 struct hd_err *err)
{
    struct hd_con_stats *cs =
        s->con_stats ? s->con_stats : (s->con_stats = hd_xcalloc(1, sizeof *cs));
    struct kept *k = &cs->k[0];
    for (size_t i = 0; i < NUMBERS_KEEP; i++) {
        struct kept *x = &cs->k[i];
        if (same(x, id, goal)) {
            if (now - x->at < NUMBERS_TTL && now >= x->at)
                return x;
            k = x;
            break;
        }
        if (!x->v || (k->v && x->at < k->at))
            k = x;
    }
    struct hd_store_opts o = hd_srv_store_opts(s, true);
    if (!s->con_st && hd_store_open(s->db_path, &o, &s->con_st, err) < 0) {
        s->con_st = NULL;
        return NULL;
    }
    json_t *v = numbers(s->con_st, id, goal, err);
    if (!v) {
        hd_store_free(s->con_st); /* opened again next time */
        s->con_st = NULL;
        return NULL;
    }
    free(k->goal);
    json_decref(k->v);
    *k = (struct kept){id, now, goal ? hd_xstrdup(goal) : NULL, v};
    return k;
}

/* data gets the kept numbers (the values shared: nothing changes them),
 * a copy of the funnel, and the goal's report g in the page's words. */
static void put(struct hd_con *c, const json_t *base, const json_t *g, const char *goal,
                json_t *data)
{
    json_t *f = json_deep_copy(json_object_get(base, "funnel"));
    json_object_update(data, (json_t *)base);
    if (g)
        json_object_set_new(data, "goal_report", goal_page(g, goal, c->lang, f));
    json_object_set_new(data, "funnel", f);
}

int hd_con_numbers(struct hd_con *c, int64_t id, const char *goal, json_t *data)
{
    struct hd_err err = {0};
    struct hd_srv *s = c->s;
    int64_t now = hd_clock_now(s->clock);
    pthread_mutex_lock(&s->con_mu);
    /* held by reference: reading the goal's report may reuse base's place */
    struct kept *k = kept_numbers(s, id, NULL, now, &err);
    json_t *base = k ? json_incref(k->v) : NULL, *g = NULL;
    int64_t at = k ? k->at : now;
    if (base && goal && (k = kept_numbers(s, id, goal, now, &err)) != NULL) {
        g = json_incref(k->v);
        at = k->at < at ? k->at : at;
    }
    bool ok = base && (!goal || g);
    if (ok) {
        put(c, base, g, goal, data);
        json_object_set_new(data, "numbers_at", json_integer(at));
    }
    pthread_mutex_unlock(&s->con_mu);
    json_decref(base);
    json_decref(g);
    if (ok)
        return 0;
    pthread_mutex_lock(&s->mu); /* the log's */
    hd_srv_unavailable(s, c->a, &err);
    pthread_mutex_unlock(&s->mu);
    return -1;
}
