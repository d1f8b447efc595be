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

static double num(const json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

/* One group's line of the table, or its CSV rows, from the report. */
static void goal_line(const json_t *o, int format, struct hd_buf *csv)
{
    const char *group = json_string_value(json_object_get(o, "group"));
    long long n = (long long)num(o, "messages"), x = (long long)num(o, "converted");
    const json_t *ci = json_object_get(o, "ci95_points"), *rel = json_object_get(o, "lift_relative");
    if (format == FMT_TABLE) {
        char interval[96] = "", relative[32] = "";
        if (ci)
            snprintf(interval, sizeof interval, "95%% interval %+.1f to %+.1f points",
                     json_number_value(json_array_get(ci, 0)),
                     json_number_value(json_array_get(ci, 1)));
        if (json_is_number(rel))
            snprintf(relative, sizeof relative, " (%+.0f%%)", 100 * json_number_value(rel));
        printf("%-12s %10lld %10lld %7.2f%%  %s%s\n", group, n, x, 100 * num(o, "rate"), interval,
               relative);
    } else if (format == FMT_CSV) {
        hd_buf_addf(csv, "goal,%s,messages,%lld\r\ngoal,%s,converted,%lld\r\n", group, n, group, x);
        const json_t *p = json_object_get(o, "p_value");
        if (!ci)
            return;
        hd_buf_addf(csv, "goal,%s,lift_points,%.4f\r\ngoal,%s,p_value,", group,
                    num(o, "lift_points"), group);
        if (json_is_number(p)) /* no test: an empty cell, not 0 */
            hd_buf_addf(csv, "%.6g", json_number_value(p));
        hd_buf_addf(csv, "\r\ngoal,%s,too_few,%d\r\n", group,
                    json_is_true(json_object_get(o, "too_few")));
    }
}

/* The report (hd_goal_json, which the console draws too), printed;
 * holdout_bp: the campaign's holdout, for what to say when none was held
 * out. */
static json_t *goal_report(const struct hd_goal *g, const char *event, int64_t window,
                           int holdout_bp, int format, struct hd_buf *csv)
{
    json_t *j = hd_goal_json(g, event, window);
    const json_t *groups = json_object_get(j, "groups"), *o;
    bool hold = false;
    int64_t messages = 0, converted = 0;
    size_t i;
    json_array_foreach(groups, i, o)
    {
        hold |= strcmp(json_string_value(json_object_get(o, "group")), "holdout") == 0;
        messages += json_integer_value(json_object_get(o, "messages"));
        converted += json_integer_value(json_object_get(o, "converted"));
    }
    if (format == FMT_TABLE)
        printf("\ngoal '%s' within %s of each run\n%-12s %10s %10s %8s  %s\n", event,
               json_string_value(json_object_get(j, "window")), "group", "messages",
               "converted", "rate", "against the holdout");
    json_array_foreach(groups, i, o) goal_line(o, format, csv);
    if (format != FMT_TABLE)
        return j;
    if (json_object_get(j, "too_few_rule"))
        printf("warning: too few to test: %s; n/a marks a group below that\n", HD_GOAL_RULE);
    /* it said "no holdout" of a campaign with one and no messages, and
     * nothing of an event name no message converted to (a typo) */
    if (messages == 0)
        printf("no messages in this campaign: nothing to compare\n");
    else if (!hold && holdout_bp > 0)
        printf("no message was held out (the holdout is %d.%02d%%): nothing to compare the rates "
               "with\n",
               holdout_bp / 100, holdout_bp % 100);
    else if (!hold)
        printf("no holdout in this campaign: nothing to compare the rates with\n");
    if (messages > 0 && converted == 0)
        printf("warning: no message converted: is '%s' the name the events were imported "
               "under?\n",
               event);
    json_array_foreach(groups, i, o) if (json_object_get(o, "summary"))
        printf("%s\n", json_string_value(json_object_get(o, "summary")));
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
                        const struct hd_stats *s, const struct hd_goal *g)
{
    struct hd_buf csv;
    hd_buf_init(&csv);
    if (a->format == FMT_TABLE)
        print_table(s, camp->name);
    else if (a->format == FMT_CSV) {
        hd_buf_adds(&csv, "section,group,metric,value\r\n");
        stats_csv(s, &csv);
    }
    json_t *gj =
        a->goal ? goal_report(g, a->goal, a->window, camp->holdout_bp, a->format, &csv) : NULL;
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
    struct hd_goal g = {0};
    rc = hd_stats_load(ctx->store, camp.id, a.by, &s, &err);
    if (rc == 0 && a.goal)
        rc = hd_goal_load(ctx->store, camp.id, a.goal, a.window, &g, &err);
    if (rc < 0) {
        hd_campaign_release(&camp);
        return cmd_fail(ctx, &err);
    }
    print_stats(&a, &camp, &s, &g);
    hd_goal_release(&g);
    hd_stats_release(&s);
    hd_campaign_release(&camp);
    return EXIT_OK;
}
