/* goal: a campaign's conversions to a goal event against its holdout, as
 * herald stats --goal prints them and the console's campaign page draws
 * them (issue 21: one function feeds both). The groups (each variant, or
 * the campaign's messages when it has none, and the holdout) come from
 * hd_store_stats_goal; each one that is not the holdout gets the
 * two-proportion z-test against it (hd_ztest): the lift in points, its
 * 95% interval, the relative lift and the p-value, which is marked too
 * few unless both groups have HD_GOAL_MIN_MESSAGES messages and
 * HD_GOAL_MIN_CONVERSIONS conversions. The report is a JSON object; the
 * command line prints its table and CSV from it, the page its chart. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/stats.h"
#include "herald/units.h"

static int on_goal(void *ud, const char *group, int64_t n, int64_t x)
{
    struct hd_goal *g = ud;
    HD_GROW(g->v, g->n);
    g->v[g->n++] = (struct hd_goal_row){hd_xstrdup(group), n, x};
    return 0;
}

int hd_goal_load(struct hd_store *st, int64_t campaign, const char *event, int64_t window,
                 struct hd_goal *out, struct hd_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = hd_store_stats_goal(st, campaign, event, window, on_goal, out, err);
    if (rc < 0)
        hd_goal_release(out);
    return rc;
}

void hd_goal_release(struct hd_goal *g)
{
    for (size_t i = 0; g && i < g->n; i++)
        free(g->v[i].group);
    if (g)
        free(g->v);
}

static bool too_few(const struct hd_goal_row *a, const struct hd_goal_row *b)
{
    return a->n < HD_GOAL_MIN_MESSAGES || b->n < HD_GOAL_MIN_MESSAGES ||
           a->x < HD_GOAL_MIN_CONVERSIONS || b->x < HD_GOAL_MIN_CONVERSIONS;
}

static void fmt_p(double p, char *buf, size_t size)
{
    if (p < 0.001)
        snprintf(buf, size, "p < 0.001");
    else
        snprintf(buf, size, "p = %.3f", p);
}

/* "variant b converted 4.1% vs 2.9% in the holdout, +1.2 points, p = 0.003",
 * or "p = n/a (too few)" when the groups are too small for it to mean
 * anything. */
static void sentence(const char *group, bool variants, const struct hd_ztest *t, bool few,
                     char *buf, size_t size)
{
    char p[24];
    fmt_p(t->p, p, sizeof p);
    if (few)
        snprintf(p, sizeof p, "p = n/a (too few)");
    else if (!t->ok) /* both all or none: no test (it read p < 0.001) */
        snprintf(p, sizeof p, "p = n/a");
    int len = variants ? snprintf(buf, size, "variant %s converted", group)
                       : snprintf(buf, size, "the campaign's messages converted");
    if (len < 0 || (size_t)len >= size)
        return;
    snprintf(buf + len, size - (size_t)len, " %.1f%% vs %.1f%% in the holdout, %+.1f points, %s%s",
             100 * t->p1, 100 * t->p2, 100 * t->diff, p,
             few           ? ""
             : !t->ok      ? " (no difference to test)"
             : t->p < 0.05 ? " (significant at 5%)"
                           : " (not significant at 5%)");
}

/* r against the holdout, into o. Returns whether too few. */
static bool against(json_t *o, const struct hd_goal_row *r, const struct hd_goal_row *hold,
                    bool variants)
{
    struct hd_ztest t;
    char line[400];
    hd_ztest(r->x, r->n, hold->x, hold->n, &t);
    bool few = too_few(r, hold);
    sentence(r->group, variants, &t, few, line, sizeof line);
    json_object_set_new(o, "lift_points", json_real(100 * t.diff));
    json_object_set_new(o, "lift_relative", isnan(t.lift) ? json_null() : json_real(t.lift));
    /* no test when both groups converted all or none: null, not a p of 0
     * that a reader takes for significant */
    json_object_set_new(o, "z", t.ok ? json_real(t.z) : json_null());
    json_object_set_new(o, "p_value", t.ok ? json_real(t.p) : json_null());
    json_object_set_new(o, "too_few", json_boolean(few));
    json_object_set_new(o, "ci95_points", json_pack("[f, f]", 100 * t.lo, 100 * t.hi));
    json_object_set_new(o, "summary", json_string(line));
    return few;
}

json_t *hd_goal_json(const struct hd_goal *g, const char *event, int64_t window)
{
    const struct hd_goal_row *hold = NULL;
    size_t nvar = 0;
    bool any_few = false;
    for (size_t i = 0; i < g->n; i++) {
        if (strcmp(g->v[i].group, "holdout") == 0)
            hold = &g->v[i];
        else if (strcmp(g->v[i].group, "-") != 0)
            nvar++;
    }
    char win[32];
    hd_units_format_duration(window, win, sizeof win);
    json_t *j = json_pack("{s:s, s:s, s:[]}", "event", event, "window", win, "groups");
    for (size_t i = 0; i < g->n; i++) {
        const struct hd_goal_row *r = &g->v[i];
        double rate = r->n ? (double)r->x / (double)r->n : 0;
        json_t *o = json_pack("{s:s, s:I, s:I, s:f}", "group", r->group, "messages",
                              (json_int_t)r->n, "converted", (json_int_t)r->x, "rate", rate);
        if (hold && r != hold)
            any_few |= against(o, r, hold, nvar > 0);
        json_array_append_new(json_object_get(j, "groups"), o);
    }
    if (any_few)
        json_object_set_new(j, "too_few_rule", json_string(HD_GOAL_RULE));
    return j;
}
