/* stats: a campaign's numbers, as herald stats shows them: per group
 * (channel, variant, provider or UTC day; "all" first) targeted, held out,
 * still pending, sent, failed and skipped by reason, deferrals, retries,
 * what receipts said (delivered, undelivered, bounced hard and soft,
 * complained),
 * SMS segments and cost, and gateway latency. Counts come from the
 * messages (targeted, held out, pending) and the log (the rest), pruned
 * rows included through their totals. */
#ifndef HERALD_STATS_H
#define HERALD_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "herald/audit.h" /* hd_ztest, which herald stats prints beside these */
#include "herald/err.h"
#include "herald/lat.h"
#include "herald/store.h" /* struct hd_store, enum hd_stats_by */

struct hd_stats_reason {
    char *word;
    int64_t n;
};
struct hd_stats_reasons { /* by count, most first, then by word */
    struct hd_stats_reason *v;
    size_t n;
};

struct hd_stats_group {
    char *name;
    /* a group by provider or day: targeted, held out and pending are not
     * split so (a message waiting has no provider or day), and read none */
    bool no_counts;
    int64_t targeted, held_out, pending, sent, failed, skipped, deferred, retries, throttled;
    int64_t attempts; /* requests to gateways */
    /* what receipts said of the sent ones */
    int64_t delivered, undelivered, bounced_hard, bounced_soft, complained;
    int64_t bounced_other; /* bounces that are not the address's fault */
    int64_t opened;        /* opens reported (a sender's event, an inbox message read) */
    int64_t segments;
    double cost;
    struct hd_stats_reasons failed_by, skipped_by, deferred_by;
    int64_t lat[HD_LAT_BUCKETS], nlat;
};

struct hd_stats {
    int by;                        /* enum hd_stats_by */
    struct hd_stats_group *groups; /* [0] is "all"; then by name, "-" and "holdout" last */
    size_t n;
};

int hd_stats_load(struct hd_store *st, int64_t campaign, int by, struct hd_stats *out,
                  struct hd_err *err);
/* The latency (ms) below which a share q of the group's answers came; -1: none. */
int64_t hd_stats_percentile(const struct hd_stats_group *g, double q);
void hd_stats_release(struct hd_stats *s);

/* ---- the numbers as shown (statsjson.c) ---- */

struct hd_stats_metric {
    const char *name;
    double v;
    bool none; /* no value (a percentile with no answers) */
    bool money;
    bool ratio; /* a share of the sent ones, 0 to 1 */
};

/* At most 64 reasons are shown (a campaign has a handful), and 15 totals. */
#define MAX_REASONS 64
#define MAXM (28 + MAX_REASONS) /* 27 fixed metrics, and room */

/* One group's metrics, in the order shown; reasons come after their total. */
struct hd_stats_metrics {
    struct hd_stats_metric m[MAXM];
    char names[MAX_REASONS][64]; /* "failed.http_503" */
    size_t n;
};
/* Every group's metrics (the caller frees the array). */
struct hd_stats_metrics *hd_stats_metrics_of(const struct hd_stats *s);
/* {campaign, by, groups: {NAME: {metric: value, REASON_by: {...}}}} as
 * herald stats --format json prints it (caller decrefs). */
typedef struct json_t json_t;
json_t *hd_stats_json(const char *campaign, const struct hd_stats *s);

/* ---- conversions against the holdout (goal.c) ---- */

/* One group's messages and those of them that converted. */
struct hd_goal_row {
    char *group; /* a variant, "-" (no variant) or "holdout" */
    int64_t n, x;
};
struct hd_goal {
    struct hd_goal_row *v;
    size_t n;
};
/* The rule for a p-value that means something: both groups (the variant
 * and the holdout) have at least this many messages and conversions. */
#define HD_GOAL_MIN_MESSAGES 100
#define HD_GOAL_MIN_CONVERSIONS 10
#define HD_GOAL_RULE                                                                               \
    "a p-value needs at least 100 messages and 10 conversions in each group (the variant and "     \
    "the holdout)"
/* The groups' conversions to event within window seconds of each run. */
int hd_goal_load(struct hd_store *st, int64_t campaign, const char *event, int64_t window,
                 struct hd_goal *out, struct hd_err *err);
void hd_goal_release(struct hd_goal *g);
/* {event, window, groups: [{group, messages, converted, rate, and against
 * the holdout: lift_points, lift_relative (null: no holdout conversions),
 * z, p_value, too_few, ci95_points [lo, hi], summary}], too_few_rule?} as
 * herald stats --goal --format json prints it (caller decrefs). */
json_t *hd_goal_json(const struct hd_goal *g, const char *event, int64_t window);

#endif
