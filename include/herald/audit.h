/* audit: what herald makes of the delivery log beyond reading it: a
 * contact's record (history), why a contact did or did not get a campaign,
 * importing conversion events, and the two-proportion z-test that compares
 * a variant's conversions with the holdout's. The log's queries (filters, history, statistics,
 * events, pruning, pseudonyms) are the store's and are declared in store.h; the latency histogram's
 * arithmetic is lat.h. Both are included here, so a file that includes audit.h sees them too.
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
#include "herald/lat.h"
#include "herald/store.h"

/* A two-proportion z-test of x1/n1 (a variant) against x2/n2 (the
 * holdout): the rates, the difference and relative lift, z and the
 * two-sided p-value (pooled), and the 95% interval of the difference
 * (unpooled). ok is false when a group is empty or both rates are 0 or 1. */
struct hd_ztest {
    double p1, p2, diff, lift, z, p, lo, hi;
    bool ok;
};
void hd_ztest(int64_t x1, int64_t n1, int64_t x2, int64_t n2, struct hd_ztest *out);

/* ---- a contact's record (history.c) ------------------------------------------------ */

/* What herald history and herald why read, once. Strings are owned by the
 * record (hd_history_release). */
struct hd_history {
    struct hd_msg_info *msgs; /* the contact's messages, by firing */
    size_t nmsgs;
    struct hd_log_row *rows; /* every log row of the contact, oldest first */
    size_t nrows;
    int64_t pruned_before_ms;   /* the log's rows before this time were pruned; 0: never */
    struct hd_consent *consent; /* every consent change of the contact, oldest first */
    size_t nconsent;
};
/* The contact's messages (of one campaign when campaign > 0), all its log
 * rows (a cap may name messages of other campaigns) and its consent
 * record (every change, with its source, link and time). */
int hd_history_load(struct hd_store *st, int64_t contact, int64_t campaign, struct hd_history *h,
                    struct hd_err *err);
void hd_history_release(struct hd_history *h);
/* True when rows of message m may have been pruned (herald log prune):
 * its run fired before the time the log was pruned to. */
bool hd_history_pruned(const struct hd_history *h, const struct hd_msg_info *m);
/* For a message that waits (queued, retry_wait, deferred): "due TIME" in
 * zone (an IANA name; NULL or unknown: UTC) with its offset, and why it
 * waits when the message says ("(quiet hours 21:00-08:00 in
 * Asia/Shanghai)"). "" for a message that does not wait. */
void hd_history_due(const struct hd_msg_info *m, const char *zone, char *buf, size_t size);
/* The row where the message was accepted by a gateway, or NULL. */
const struct hd_log_row *hd_history_accepted(const struct hd_history *h, int64_t message);
/* Fills f's ids from names (each NULL or 0 when not given): the campaign,
 * the run (its number in the campaign, hd_run.seq: HD_E_USAGE without a
 * campaign, HD_E_NOTFOUND when the campaign has no such run) and the
 * contact (an external id or a pseudonym, deleted-N). */
int hd_log_filter_resolve(struct hd_store *st, const char *campaign, int64_t run,
                          const char *contact, struct hd_log_filter *f, struct hd_err *err);
/* The delivery log's outcome named s (its own static string), or NULL
 * when it is none: accepted, temporary, permanent, throttled, skipped or
 * receipt, the words herald log --outcome and the console's filter take. */
const char *hd_log_outcome(const char *s);

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
    HD_WHY_ATTEMPT,
    HD_WHY_RECEIPT /* a gateway's report after it accepted the message */
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

/* ---- a log row as shown (logrow.c) ---- */

#define HD_AUDIT_LOG_NCOLS 21
/* The columns, in CSV order: id, at, campaign, run, contact, message, ... */
extern const char *const hd_audit_log_cols[HD_AUDIT_LOG_NCOLS];
/* A row's cells in hd_audit_log_cols order: the texts, with the numbers printed
 * into the struct's own buffers. */
struct hd_audit_log_cells {
    char at[40], num[8][32];
    const char *cell[HD_AUDIT_LOG_NCOLS];
};
void hd_audit_log_cells(const struct hd_log_row *r, struct hd_audit_log_cells *c);
/* herald log --format csv's header line and a row's line (RFC 4180, CRLF),
 * appended to b: the command line and the console's export write these.
 * sheet (the console's download, opened in spreadsheets): a cell that
 * would read as a formula (= + - @ first, not a number) gets a ' first. */
void hd_audit_log_csv_header(struct hd_buf *b);
void hd_audit_log_csv_row(struct hd_buf *b, const struct hd_audit_log_cells *c, bool sheet);
/* The cells as a JSON object's text, appended to b. */
void hd_audit_log_object(struct hd_buf *b, const struct hd_audit_log_cells *c);
/* The same as a new JSON object (caller decrefs). */
typedef struct json_t json_t;
json_t *hd_audit_log_json(const struct hd_log_row *r);
/* "2026-11-22T09:00:00.123Z" */
void hd_audit_time_ms(int64_t ms, char *buf, size_t size);

#endif
