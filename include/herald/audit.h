/* audit: reading the delivery log (filters, history, the record `why`
 * explains), campaign statistics and their latency histograms,
 * conversion events and the two-proportion z-test, pruning old rows into
 * per-campaign totals, and the pseudonymous ids deleted contacts leave.
 *
 * Every query names its filters with constant SQL and bound parameters;
 * nothing the user typed becomes SQL text. */
#ifndef HERALD_AUDIT_H
#define HERALD_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "herald/err.h"
#include "herald/store.h"

struct hd_store;

/* ---- the log -------------------------------------------------------------------- */

/* Which rows: 0 / NULL leaves a filter open. campaign, contact and time
 * each have an index (contact may be negative: a deleted contact); the
 * rest narrow what those give. */
struct hd_log_filter {
    int64_t campaign, run, contact;
    const char *channel, *provider, *outcome, *reason;
    int64_t since_ms, until_ms; /* since <= at < until */
    int64_t limit;              /* 0: all */
    bool oldest_first;          /* default newest first */
};

/* One row as read back. Strings live until the callback returns. */
struct hd_log_row {
    int64_t id, message, run, contact_id;
    int attempt, state, code, segments;
    int64_t at_ms, done_ms; /* done_ms 0: none */
    double cost;
    const char *campaign, *contact; /* contact: the external id, or a pseudonym */
    const char *variant, *channel, *provider, *address, *outcome, *reason, *text, *gateway_id,
        *digest, *detail;
};
typedef int (*hd_log_cb)(void *ud, const struct hd_log_row *r);
/* Streams the matching rows (time order); cb returning non-zero stops. */
int hd_store_log_query(struct hd_store *st, const struct hd_log_filter *f, hd_log_cb cb, void *ud,
                       struct hd_err *err);

/* A contact's id from its external id, or from the pseudonym a deleted
 * one left ("deleted-12"); HD_E_NOTFOUND for neither. */
int hd_store_contact_ref(struct hd_store *st, const char *ref, int64_t *id, struct hd_err *err);
/* The pseudonym shown for a contact id with no contact ("deleted-12"). */
void hd_contact_pseudonym(int64_t id, char *buf, size_t size);

/* ---- messages of a contact -------------------------------------------------------- */

struct hd_msg_info {
    int64_t id, run, campaign, fire_at, updated_at;
    int state, channel, attempts; /* channel -1: none yet */
    const char *campaign_name, *segment, *variant, *reason;
};
typedef int (*hd_msg_info_cb)(void *ud, const struct hd_msg_info *m);
/* The contact's messages (of one campaign when campaign > 0), by firing. */
int hd_store_contact_messages(struct hd_store *st, int64_t contact, int64_t campaign,
                              hd_msg_info_cb cb, void *ud, struct hd_err *err);

/* ---- statistics ------------------------------------------------------------------- */

enum hd_stats_by { HD_BY_NONE, HD_BY_CHANNEL, HD_BY_VARIANT, HD_BY_PROVIDER, HD_BY_DAY };
int hd_stats_by_parse(const char *s); /* "channel", ... -> enum, or -1 */

/* Log rows of a campaign (live and pruned) counted by group, outcome,
 * reason and the state the message went to. group: the channel, variant
 * ("holdout" for held-out messages), provider or UTC day; "" with
 * HD_BY_NONE; "-" when the row has none. */
struct hd_stat_count {
    const char *group, *outcome, *reason; /* reason "" when none */
    int state;
    int64_t n, segments;
    double cost;
};
typedef int (*hd_stat_count_cb)(void *ud, const struct hd_stat_count *c);
int hd_store_stats_log(struct hd_store *st, int64_t campaign, int by, hd_stat_count_cb cb, void *ud,
                       struct hd_err *err);
/* The campaign's messages by group and current state (group NULL when the
 * message has none: provider and day groups). */
typedef int (*hd_stat_msg_cb)(void *ud, const char *group, int state, int64_t n);
int hd_store_stats_messages(struct hd_store *st, int64_t campaign, int by, hd_stat_msg_cb cb,
                            void *ud, struct hd_err *err);
/* Gateway latency (answer time - request time) histograms by group. */
typedef int (*hd_stat_latency_cb)(void *ud, const char *group, int bucket, int64_t n);
int hd_store_stats_latency(struct hd_store *st, int64_t campaign, int by, hd_stat_latency_cb cb,
                           void *ud, struct hd_err *err);

/* Latency buckets: exact to the millisecond below 128 ms, then 16 a
 * doubling (within 6.25%). */
#define HD_LAT_BUCKETS (128 + 16 * 26)
int hd_lat_bucket(int64_t ms);
int64_t hd_lat_value(int bucket); /* the bucket's middle, in ms */

/* Conversions: per group (each variant, and "holdout"), how many of the
 * campaign's messages there were and how many of their contacts had the
 * event within window seconds after the run fired. */
typedef int (*hd_goal_cb)(void *ud, const char *group, int64_t n, int64_t converted);
int hd_store_stats_goal(struct hd_store *st, int64_t campaign, const char *event, int64_t window,
                        hd_goal_cb cb, void *ud, struct hd_err *err);

/* A two-proportion z-test of x1/n1 (a variant) against x2/n2 (the
 * holdout): the rates, the difference and relative lift, z and the
 * two-sided p-value (pooled), and the 95% interval of the difference
 * (unpooled). ok is false when a group is empty or both rates are 0 or 1. */
struct hd_ztest {
    double p1, p2, diff, lift, z, p, lo, hi;
    bool ok;
};
void hd_ztest(int64_t x1, int64_t n1, int64_t x2, int64_t n2, struct hd_ztest *out);

/* ---- events ----------------------------------------------------------------------- */

struct hd_event {
    const char *contact; /* external id */
    const char *name;
    int64_t at; /* seconds */
    double value;
    bool has_value;
};
enum hd_event_result { HD_EVENT_ADDED, HD_EVENT_DUPLICATE, HD_EVENT_UNKNOWN_CONTACT };
/* Adds one event (call inside a transaction); *result says what happened. */
int hd_store_event_add(struct hd_store *st, const struct hd_event *ev, int *result,
                       struct hd_err *err);

/* ---- retention -------------------------------------------------------------------- */

/* Moves log rows older than cutoff_ms into the per-campaign totals, in
 * transactions of at most batch rows; *n: rows removed. progress (may be
 * NULL) gets the running count after each batch. */
int hd_store_log_prune(struct hd_store *st, int64_t cutoff_ms, int64_t batch,
                       void (*progress)(void *ud, int64_t done), void *ud, int64_t *n,
                       struct hd_err *err);

/* ---- a contact's record (history.c) ------------------------------------------------ */

/* What herald history and herald why read, once. Strings are owned by the
 * record (hd_history_release). */
struct hd_history {
    struct hd_msg_info *msgs; /* the contact's messages, by firing */
    size_t nmsgs;
    struct hd_log_row *rows; /* every log row of the contact, oldest first */
    size_t nrows;
};
/* The contact's messages (of one campaign when campaign > 0) and all its
 * log rows: a cap may name messages of other campaigns. */
int hd_history_load(struct hd_store *st, int64_t contact, int64_t campaign, struct hd_history *h,
                    struct hd_err *err);
void hd_history_release(struct hd_history *h);
/* The row where the message was accepted by a gateway, or NULL. */
const struct hd_log_row *hd_history_accepted(const struct hd_history *h, int64_t message);
/* Fills f's ids from names (each NULL or 0 when not given): the campaign,
 * the run (HD_E_USAGE when it is not one of that campaign's; it names its
 * campaign, whose index the query then uses) and the contact (an external
 * id or a pseudonym, deleted-N). */
int hd_log_filter_resolve(struct hd_store *st, const char *campaign, int64_t run,
                          const char *contact, struct hd_log_filter *f, struct hd_err *err);

/* ---- why a contact did or did not get a campaign (why.c) ---------------------------- */

struct hd_why {
    struct hd_campaign camp;   /* the campaign */
    struct hd_contact contact; /* the contact, when it still exists */
    bool exists;               /* false: deleted, only its pseudonym is left */
    struct hd_history rec;     /* the contact's messages of the campaign, all its rows */
    struct hd_run *runs;       /* the campaign's runs, as hd_store_run_each gives them */
    size_t nruns;
};
/* contact: an external id or a pseudonym ("deleted-12"); campaign: a name.
 * Release w with hd_why_release (also after an error). */
int hd_why_load(struct hd_store *st, const char *contact, const char *campaign, struct hd_why *w,
                struct hd_err *err);
void hd_why_release(struct hd_why *w);

/* Whether the contact was in a run (*m: its message), and if not, why. */
enum hd_why_run { HD_WHY_IN, HD_WHY_MAKING, HD_WHY_CREATED_AFTER, HD_WHY_NOT_IN_SEGMENT };
int hd_why_run(const struct hd_why *w, const struct hd_run *run, const struct hd_msg_info **m);

/* What a log row of a message was: a skip (held out, capped, deferred by
 * quiet hours, no channel could carry it, or another reason) or an
 * attempt. */
enum hd_why_step {
    HD_WHY_HELD_OUT,
    HD_WHY_CAPPED,
    HD_WHY_QUIET,
    HD_WHY_NO_CHANNEL,
    HD_WHY_SKIPPED,
    HD_WHY_ATTEMPT
};
int hd_why_step(const struct hd_log_row *r);
/* A channel's skip reason ("opted_out") in words; other words as they are. */
const char *hd_why_skip_words(const char *reason);

/* ---- importing events (events.c) ---------------------------------------------------- */

struct hd_events_result {
    int64_t added, duplicate, unknown; /* events added, already there, of unknown contacts */
    int64_t lines;                     /* rows read */
    char first_unknown[64];            /* the first unknown contact's external id */
};
/* Reads conversion events from f (CSV with a header naming the columns,
 * or JSON Lines when jsonl; name is the file's name in messages) and adds
 * them in one transaction: a bad row stops the import with its line and
 * nothing is written. progress: a progress line on stderr. */
int hd_events_import(struct hd_store *st, FILE *f, const char *name, bool jsonl, bool progress,
                     struct hd_events_result *res, struct hd_err *err);

#endif
