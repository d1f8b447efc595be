/* cmd_stats: herald stats, a campaign's numbers side by side per group,
 * and with --goal its conversions against the holdout. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "herald/stats.h"
#include "herald/store.h"
#include "herald/units.h"

static const char stats_usage[] =
    "usage: herald stats CAMPAIGN [--by channel|variant|provider|day]\n"
    "                    [--goal EVENT [--window DURATION]] [--format table|csv|json|jsonl]\n"
    "\n"
    "A campaign's numbers, from its messages and its delivery log (rows pruned by\n"
    "herald log prune included): targeted, held out, pending, sent, what receipts\n"
    "said (delivered, undelivered, bounced hard and soft, complained, opened (a\n"
    "sender's open events, inbox messages read), and their\n"
    "rates of the sent ones), failed and\n"
    "skipped by reason, deferrals (quiet hours, caps), retries, gateway requests,\n"
    "SMS segments and cost, and gateway latency percentiles (exact below 128 ms,\n"
    "within 6.25% above). Columns: all, then one per group (--by; by variant when\n"
    "the campaign has variants, with the holdout as a group of its own). Days are\n"
    "UTC days.\n"
    "\n"
    "  --goal EVENT      compare conversions (herald events import) of each variant\n"
    "                    with the holdout's: rates, absolute and relative lift, the\n"
    "                    p-value of a two-proportion z-test and the 95% interval;\n"
    "                    the p-value is n/a (too few) unless both groups have at\n"
    "                    least 100 messages and 10 conversions\n"
    "  --window D        an event counts within D after the run fired (default 7d)\n"
    "  --format          table (default), csv (section,group,metric,value), json (one\n"
    "                    object) or jsonl (that object on one line)\n";

/* The value of metric name in group g (0 when the group lacks it). */
static bool find_metric(const struct hd_stats_metric *m, size_t n, const char *name, struct hd_stats_metric *out)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].name, name) == 0) {
            *out = m[i];
            return true;
        }
    return false;
}

static void fmt_value(const struct hd_stats_metric *m, char *buf, size_t size)
{
    if (m->none)
        snprintf(buf, size, "-");
    else if (m->money || m->ratio)
        snprintf(buf, size, "%.4f", m->v);
    else
        snprintf(buf, size, "%.0f", m->v);
}

static void print_table(const struct hd_stats *s, const char *campaign)
{
    struct hd_stats_metrics *gm = hd_stats_metrics_of(s);
    const struct hd_stats_metrics *all = &gm[0]; /* its rows name every reason */
    printf("campaign %s%s\n\n%-26s", campaign, s->by == HD_BY_DAY ? " (days in UTC)" : "", "");
    for (size_t g = 0; g < s->n; g++)
        printf(" %12.12s", s->groups[g].name);
    printf("\n");
    for (size_t i = 0; i < all->n; i++) {
        const char *dot = strchr(all->m[i].name, '.');
        if (dot)
            printf("  %-24s", dot + 1);
        else
            printf("%-26s", all->m[i].name);
        for (size_t g = 0; g < s->n; g++) {
            struct hd_stats_metric v;
            char cell[32];
            if (!find_metric(gm[g].m, gm[g].n, all->m[i].name, &v))
                v = (struct hd_stats_metric){.v = 0, .money = all->m[i].money, .ratio = all->m[i].ratio};
            fmt_value(&v, cell, sizeof cell);
            printf(" %12s", cell);
        }
        printf("\n");
    }
    free(gm);
}

/* ---- the goal --------------------------------------------------------------------------- */

struct goal_row {
    char *group;
    int64_t n, x;
};
struct goal {
    struct goal_row *v;
    size_t n;
};

static int on_goal(void *ud, const char *group, int64_t n, int64_t x)
{
    struct goal *g = ud;
    HD_GROW(g->v, g->n);
    g->v[g->n++] = (struct goal_row){hd_xstrdup(group), n, x};
    return 0;
}

static void fmt_p(double p, char *buf, size_t size)
{
    if (p < 0.001)
        snprintf(buf, size, "p < 0.001");
    else
        snprintf(buf, size, "p = %.3f", p);
}

/* The rule for a p-value that means something: both groups (the variant
 * and the holdout) have at least this many messages and conversions. */
#define GOAL_MIN_MESSAGES 100
#define GOAL_MIN_CONVERSIONS 10
#define GOAL_RULE                                                                                  \
    "a p-value needs at least 100 messages and 10 conversions in each group (the variant and "     \
    "the holdout)"

static bool too_few(const struct goal_row *a, const struct goal_row *b)
{
    return a->n < GOAL_MIN_MESSAGES || b->n < GOAL_MIN_MESSAGES || a->x < GOAL_MIN_CONVERSIONS ||
           b->x < GOAL_MIN_CONVERSIONS;
}

/* "variant b converted 4.1% vs 2.9% in the holdout, +1.2 points, p = 0.003",
 * or "p = n/a (too few)" when the groups are too small for it to mean
 * anything. */
static void goal_sentence(const char *group, bool variants, const struct hd_ztest *t, bool few,
                          char *buf, size_t size)
{
    char p[24];
    fmt_p(t->p, p, sizeof p);
    if (few)
        snprintf(p, sizeof p, "p = n/a (too few)");
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

static json_t *goal_report(const struct goal *g, const char *event, int64_t window, int format,
                           struct hd_buf *csv)
{
    const struct goal_row *hold = NULL;
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
    if (format == FMT_TABLE)
        printf("\ngoal '%s' within %s of each run\n%-12s %10s %10s %8s  %s\n", event, win, "group",
               "messages", "converted", "rate", "against the holdout");
    for (size_t i = 0; i < g->n; i++) {
        const struct goal_row *r = &g->v[i];
        double rate = r->n ? (double)r->x / (double)r->n : 0;
        json_t *o = json_pack("{s:s, s:I, s:I, s:f}", "group", r->group, "messages",
                              (json_int_t)r->n, "converted", (json_int_t)r->x, "rate", rate);
        char line[400] = "", ci[96] = "";
        struct hd_ztest t;
        bool few = false;
        if (hold && r != hold) {
            hd_ztest(r->x, r->n, hold->x, hold->n, &t);
            few = too_few(r, hold);
            any_few |= few;
            goal_sentence(r->group, nvar > 0, &t, few, line, sizeof line);
            snprintf(ci, sizeof ci, "95%% interval %+.1f to %+.1f points", 100 * t.lo, 100 * t.hi);
            json_object_set_new(o, "lift_points", json_real(100 * t.diff));
            json_object_set_new(o, "lift_relative",
                                isnan(t.lift) ? json_null() : json_real(t.lift));
            json_object_set_new(o, "z", json_real(t.z));
            json_object_set_new(o, "p_value", json_real(t.p));
            json_object_set_new(o, "too_few", json_boolean(few));
            json_object_set_new(o, "ci95_points", json_pack("[f, f]", 100 * t.lo, 100 * t.hi));
            json_object_set_new(o, "summary", json_string(line));
        }
        json_array_append_new(json_object_get(j, "groups"), o);
        if (format == FMT_TABLE) {
            char rel[32] = "";
            if (hold && r != hold && !isnan(t.lift))
                snprintf(rel, sizeof rel, " (%+.0f%%)", 100 * t.lift);
            printf("%-12s %10lld %10lld %7.2f%%  %s%s\n", r->group, (long long)r->n,
                   (long long)r->x, 100 * rate, ci, rel);
        } else if (format == FMT_CSV) {
            hd_buf_addf(csv, "goal,%s,messages,%lld\r\ngoal,%s,converted,%lld\r\n", r->group,
                        (long long)r->n, r->group, (long long)r->x);
            if (hold && r != hold)
                hd_buf_addf(csv,
                            "goal,%s,lift_points,%.4f\r\ngoal,%s,p_value,%.6g\r\n"
                            "goal,%s,too_few,%d\r\n",
                            r->group, 100 * t.diff, r->group, t.p, r->group, few);
        }
    }
    if (any_few)
        json_object_set_new(j, "too_few_rule", json_string(GOAL_RULE));
    if (format == FMT_TABLE) {
        if (any_few)
            printf("warning: too few to test: %s; n/a marks a group below that\n", GOAL_RULE);
        if (!hold)
            printf("no holdout in this campaign: nothing to compare the rates with\n");
        for (size_t i = 0; hold && i < g->n; i++)
            if (&g->v[i] != hold) {
                const char *s = json_string_value(
                    json_object_get(json_array_get(json_object_get(j, "groups"), i), "summary"));
                printf("%s\n", s ? s : "");
            }
    }
    return j;
}

/* ---- herald stats ------------------------------------------------------------------------ */

static void stats_csv(const struct hd_stats *s, struct hd_buf *b)
{
    struct hd_stats_metrics *gm = hd_stats_metrics_of(s);
    for (size_t g = 0; g < s->n; g++)
        for (size_t i = 0; i < gm[g].n; i++) {
            const struct hd_stats_metric *m = &gm[g].m[i];
            char cell[32];
            fmt_value(m, cell, sizeof cell);
            hd_buf_adds(b, "stats,");
            hd_buf_add_csv_field(b, s->groups[g].name, strlen(s->groups[g].name));
            hd_buf_addc(b, ',');
            hd_buf_add_csv_field(b, m->name, strlen(m->name));
            hd_buf_addf(b, ",%s\r\n", strcmp(cell, "-") == 0 ? "" : cell);
        }
    free(gm);
}

struct stats_args {
    int by, format;
    const char *goal;
    int64_t window;
};

static int stats_opt(void *ud, int id, const char *arg)
{
    struct stats_args *a = ud;
    struct hd_err err = {0};
    switch (id) {
    case 'b':
        if ((a->by = hd_stats_by_parse(arg)) < 0)
            return cmd_usage("stats", stats_usage,
                             "--by: '%s' is not channel, variant, provider or day", arg);
        return 0;
    case 'g':
        if (!*arg)
            return cmd_usage("stats", stats_usage, "--goal: an event name is needed");
        a->goal = arg;
        return 0;
    case 'w':
        if (hd_units_duration(arg, &a->window, &err) < 0 || a->window <= 0)
            return cmd_usage("stats", stats_usage, "--window: %s",
                             err.msg[0] ? err.msg : "must be more than 0");
        return 0;
    default: /* 'f' */
        return cmd_format_arg("stats", arg, FMTS_ALL, &a->format);
    }
}

/* The numbers (and the goal's report) in the format asked for. */
static void print_stats(const struct stats_args *a, const struct hd_campaign *camp,
                        const struct hd_stats *s, const struct goal *g)
{
    struct hd_buf csv;
    hd_buf_init(&csv);
    if (a->format == FMT_TABLE)
        print_table(s, camp->name);
    else if (a->format == FMT_CSV) {
        hd_buf_adds(&csv, "section,group,metric,value\r\n");
        stats_csv(s, &csv);
    }
    json_t *gj = a->goal ? goal_report(g, a->goal, a->window, a->format, &csv) : NULL;
    if (a->format == FMT_CSV)
        fwrite(csv.data, 1, csv.len, stdout);
    else if (a->format == FMT_JSON || a->format == FMT_JSONL) {
        json_t *o = hd_stats_json(camp->name, s);
        if (gj)
            json_object_set(o, "goal", gj);
        cmd_out_one(a->format, NULL, o);
    }
    json_decref(gj);
    hd_buf_release(&csv);
}

int cmd_stats(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"by", true, 'b', 0},
                                          {"goal", true, 'g', 0},
                                          {"window", true, 'w', 0},
                                          {"format", true, 'f', 0},
                                          {0}};
    static const struct cli_spec spec = {"stats", stats_usage, opts, 0, NULL, NULL};
    struct stats_args a = {.by = -1, .format = FMT_TABLE, .window = 7 * 86400};
    struct hd_err err = {0};
    int rc, i = cli_parse_n(&spec, 1, "which campaign?", argc, argv, stats_opt, &a, &rc);
    if (i < 0)
        return rc;
    if (!ctx->store)
        return cmd_help(stats_usage);
    struct hd_campaign camp = {0};
    if (hd_store_campaign_get(ctx->store, argv[i], 0, &camp, &err) < 0)
        return cmd_fail(ctx, &err);
    if (a.by < 0)
        a.by = camp.variants && *camp.variants ? HD_BY_VARIANT : HD_BY_NONE;
    struct hd_stats s;
    struct goal g = {0};
    rc = hd_stats_load(ctx->store, camp.id, a.by, &s, &err);
    if (rc == 0 && a.goal)
        rc = hd_store_stats_goal(ctx->store, camp.id, a.goal, a.window, on_goal, &g, &err);
    if (rc < 0) {
        hd_campaign_release(&camp);
        return cmd_fail(ctx, &err);
    }
    print_stats(&a, &camp, &s, &g);
    for (size_t k = 0; k < g.n; k++)
        free(g.v[k].group);
    free(g.v);
    hd_stats_release(&s);
    hd_campaign_release(&camp);
    return EXIT_OK;
}
