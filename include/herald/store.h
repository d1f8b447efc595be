/* store: the only module that speaks SQL. It opens the SQLite database (WAL,
 * foreign keys, busy timeout), migrates its schema forward on open using
 * PRAGMA user_version, and offers typed operations on contacts, push tokens,
 * consent, suppressions and attribute types, and reads the delivery log back
 * (herald log, history, statistics, events, pruning). Every statement is
 * prepared with bound parameters; SQLite's errors come back as HD_E_STORE
 * with its message. */
#ifndef HERALD_STORE_H
#define HERALD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/buf.h"
#include "herald/config.h"
#include "herald/err.h"
#include "herald/pauses.h"

struct hd_store;

struct hd_store_opts {
    int64_t busy_timeout_ms; /* wait this long for a lock; 0 means 5000 */
    bool create;             /* create the file if it does not exist */
    bool readonly;           /* open read-only (no migration is attempted) */
    const char *password;    /* PostgreSQL: given to libpq (database_password); may be NULL */
};

/* The schema version this build creates and understands. */
int hd_store_schema_version(void);

/* Opens (and migrates) the database at path. The caller frees *out. Without
 * opts->create a missing or empty (zero-byte) file is refused; a file it
 * creates is made 0600. */
int hd_store_open(const char *path, const struct hd_store_opts *opts, struct hd_store **out,
                  struct hd_err *err);
void hd_store_free(struct hd_store *st);
/* Whether st's connection to its PostgreSQL server is gone (it restarted,
 * the network broke): a long-lived holder frees it and opens another.
 * False for SQLite, and for NULL. */
bool hd_store_lost(struct hd_store *st);
/* The file's PRAGMA user_version. */
int hd_store_user_version(struct hd_store *st, int *version, struct hd_err *err);
/* Applies migrations up to target (<= hd_store_schema_version()); tests use it
 * to build databases of earlier versions. */
int hd_store_migrate(struct hd_store *st, int target, struct hd_err *err);
/* Opens without migrating (tests of old schemas). */
int hd_store_open_raw(const char *path, struct hd_store **out, struct hd_err *err);

/* For a long-lived writer's connection (herald serve's): a page cache of
 * cache_kib KiB, and a checkpoint once the WAL holds wal_pages pages
 * (SQLite's defaults: 2000 KiB and 1000 pages; 0 keeps a default). */
int hd_store_tune(struct hd_store *st, int cache_kib, int wal_pages, struct hd_err *err);
/* For a writer whose checkpoints another connection runs (herald serve's
 * main loop, hd_store_checkpoint): after each commit the WAL's size in
 * pages is stored in *pages (atomically: another thread reads it), and
 * this connection checkpoints only once the WAL holds hard_pages. After
 * hd_store_tune, whose checkpoint cadence it replaces; *pages must outlive
 * st. Nothing on PostgreSQL. */
void hd_store_wal_defer(struct hd_store *st, int hard_pages, int *pages);
/* A passive checkpoint: the WAL's pages written back to the database as
 * far as no reader still needs them, without waiting for any lock (one
 * that finds another checkpoint running does nothing and succeeds). */
int hd_store_checkpoint(struct hd_store *st, struct hd_err *err);

/* Rows the last INSERT, UPDATE or DELETE changed (0: a guarded state
 * change found the message in another state). */
int hd_store_changes(struct hd_store *st);

int hd_store_begin(struct hd_store *st, struct hd_err *err);
int hd_store_commit(struct hd_store *st, struct hd_err *err);
void hd_store_rollback(struct hd_store *st);

/* ---- contacts -------------------------------------------------------------- */

enum hd_consent_status { HD_CONSENT_OPTED_IN = 1, HD_CONSENT_OPTED_OUT = 2 };

struct hd_consent {
    int channel;  /* enum hd_channel */
    int category; /* enum hd_category */
    int status;   /* enum hd_consent_status */
    char *source; /* who recorded it: "cli", "import", "gateway", "unsubscribe", "preferences" */
    int64_t updated_at;
    int64_t message_id; /* the message whose link recorded it, or 0 */
    char *campaign;     /* that message's campaign, or NULL */
};

/* A stored contact. Strings are owned and NULL when absent; release with
 * hd_contact_release. */
struct hd_contact {
    int64_t id;   /* internal, monotonic */
    char *ext_id; /* the external id it was imported with */
    char *email;
    char *phone;    /* E.164 */
    char *locale;   /* BCP 47 */
    char *timezone; /* IANA */
    char *attrs;    /* JSON object text, never NULL in a stored contact */
    char *fcm_token;
    char *apns_token;
    char *jpush_id;      /* JPush registration id */
    char *hms_token;     /* Huawei Push Kit token */
    char *wechat_openid; /* the WeChat official account's openid of the user */
    int64_t created_at;  /* as imported: may be long before the contact came into herald */
    int64_t updated_at;
    int64_t added_at;           /* when it came into herald; read by hd_store_contact_get only */
    struct hd_consent *consent; /* explicit records only; absent means consent */
    size_t nconsent;
};

void hd_contact_release(struct hd_contact *c);

int hd_store_contact_get(struct hd_store *st, const char *ext_id, struct hd_contact *out,
                         struct hd_err *err);
int hd_store_contact_count(struct hd_store *st, int64_t *n, struct hd_err *err);
/* Calls cb for up to limit contacts (0: all) in id order, without their
 * consent records; cb returning non-zero stops the walk and is returned. */
typedef int (*hd_contact_cb)(void *ud, const struct hd_contact *c);
int hd_store_contact_each(struct hd_store *st, int64_t limit, hd_contact_cb cb, void *ud,
                          struct hd_err *err);
/* Contacts whose id, email (lower case) or phone (E.164) is q, up to
 * limit, in id order, without their consent records. */
int hd_store_contact_search(struct hd_store *st, const char *q, int64_t limit, hd_contact_cb cb,
                            void *ud, struct hd_err *err);
/* Erases the contact with its tokens, consent and cap history. Its
 * messages, log rows and events stay (campaign numbers do not change)
 * under a pseudonymous id (*pseudonym, may be NULL), with addresses
 * erased. HD_E_NOTFOUND if absent. */
int hd_store_contact_delete(struct hd_store *st, const char *ext_id, int64_t *pseudonym,
                            struct hd_err *err);
/* Records consent for one channel and category. HD_E_NOTFOUND if no contact. */
int hd_store_consent_set(struct hd_store *st, const char *ext_id, int channel, int category,
                         int status, const char *source, int64_t now, struct hd_err *err);

/* The same for one category, or both when category < 0, in one
 * transaction (herald contacts optout|optin, the console's opt-out). */
int hd_store_consent_record(struct hd_store *st, const char *ext_id, int channel, int category,
                            int status, const char *source, int64_t now, struct hd_err *err);
/* Records consent for SMS in category for every contact whose phone is
 * phone (E.164), as source says; *n is how many rows changed (a contact
 * already so is not changed). */
int hd_store_phone_consent(struct hd_store *st, const char *phone, int category, int status,
                           const char *source, int64_t now, int64_t *n, struct hd_err *err);
/* For a link's token (consent.c): the contact's locale ("" when none) and
 * its consent for the channel and category (0 when none recorded, else an
 * hd_consent_status). HD_E_NOTFOUND when the contact is gone: when no
 * contact has the id, or the token's message is not the contact's (a
 * deleted contact's messages keep a pseudonym, and SQLite may give its id
 * to a contact created later). */
int hd_store_link_contact(struct hd_store *st, int64_t contact, int64_t message, int channel,
                          int category, char *locale, size_t n, int *status, struct hd_err *err);
/* A consent change made from the link of a message. */
struct hd_link_change {
    int64_t contact, message; /* the token's */
    int channel, category;    /* enum hd_channel, enum hd_category */
    int status;               /* enum hd_consent_status */
    const char *source;       /* "unsubscribe", "preferences" */
    int64_t at;               /* UTC seconds */
};
/* Records the change with the message and its campaign, unless the status
 * is that already; *changed says whether a row changed. A contact that is
 * gone (as hd_store_link_contact says) changes nothing. */
int hd_store_link_consent(struct hd_store *st, const struct hd_link_change *c, bool *changed,
                          struct hd_err *err);
/* For the preference centre: the contact's locale ("" when none) and its
 * consent per channel and category (0 when none recorded, else an
 * hd_consent_status). HD_E_NOTFOUND when the contact is gone (as
 * hd_store_link_contact says). */
int hd_store_link_prefs(struct hd_store *st, int64_t contact, int64_t message, char *locale,
                        size_t n, int status[HD_CH_COUNT][HD_CAT_COUNT], struct hd_err *err);
/* Every consent change of the contact, oldest first (consent_log: what
 * the consent table was, row by row, with updated_at the change's time);
 * k and its strings are valid during the call. cb returning non-zero
 * stops the walk and is returned. */
typedef int (*hd_consent_cb)(void *ud, const struct hd_consent *k);
int hd_store_consent_log(struct hd_store *st, int64_t contact, hd_consent_cb cb, void *ud,
                         struct hd_err *err);
/* Frees k's strings (k itself is the caller's). */
void hd_consent_release(struct hd_consent *k);

/* ---- import ---------------------------------------------------------------- */

/* One row to upsert. NULL strings are "not given": kept on update under
 * merge, cleared under replace. attrs is a JSON object text; under merge it is
 * merged into the stored one (RFC 7386: a null removes a key). */
struct hd_contact_row {
    const char *ext_id;
    const char *email;
    const char *phone;
    const char *locale;
    const char *timezone;
    const char *fcm_token;
    const char *apns_token;
    const char *jpush_id;
    const char *hms_token;
    const char *wechat_openid;
    int64_t created_at; /* < 0: not given (now, for a new contact) */
    const char *attrs;  /* never NULL; "{}" when there are none */
    bool attrs_nulls;   /* attrs holds a null (to drop, not to store) */
};

enum hd_import_mode { HD_IMPORT_MERGE, HD_IMPORT_REPLACE };

struct hd_store_import;

/* Starts one transaction for a whole file and prepares its statements. */
int hd_store_import_begin(struct hd_store *st, enum hd_import_mode mode, int64_t now,
                          struct hd_store_import **out, struct hd_err *err);
int hd_store_import_row(struct hd_store_import *imp, const struct hd_contact_row *row,
                        struct hd_err *err);
/* Records an attribute's type if it is new (within the import's transaction). */
int hd_store_import_attr_type(struct hd_store_import *imp, const char *name, const char *type,
                              struct hd_err *err);
/* Commits (commit = true) or rolls back, reports how many contacts were new
 * and how many updated, and frees imp. */
int hd_store_import_end(struct hd_store_import *imp, bool commit, int64_t *inserted,
                        int64_t *updated, struct hd_err *err);

/* Known attribute types ("number", "boolean", "date", "string", "object",
 * "array"), as recorded by imports. cb gets each name and type. */
typedef int (*hd_attr_type_cb)(void *ud, const char *name, const char *type);
int hd_store_attr_types(struct hd_store *st, hd_attr_type_cb cb, void *ud, struct hd_err *err);

/* ---- suppressions ------------------------------------------------------------ */

struct hd_suppression {
    const char *address; /* lower-case email, E.164 phone, or push token */
    int channel;         /* enum hd_channel */
    const char *reason;  /* unsubscribed, hard_bounce, invalid_number, ... */
    int64_t created_at;
    const char *detail; /* why, in words ("bounced: 5.1.1 user unknown"), or NULL */
    int64_t message;    /* the message that caused it, or 0 */
};

/* Adds or updates (the reason) a suppression. */
int hd_store_suppress_add(struct hd_store *st, const struct hd_suppression *s, struct hd_err *err);
/* Removes the suppression of address; channel (enum hd_channel) only when
 * it is on that channel, -1 on any. HD_E_NOTFOUND if there is none ("'x'
 * is not suppressed on push (it is on wechat)" when another channel's
 * is). */
int hd_store_suppress_remove(struct hd_store *st, const char *address, int channel,
                             struct hd_err *err);
typedef int (*hd_suppression_cb)(void *ud, const struct hd_suppression *s);
int hd_store_suppress_each(struct hd_store *st, int channel, hd_suppression_cb cb, void *ud,
                           struct hd_err *err);
/* Calls cb with the suppression of address (as stored: lower-case email,
 * E.164), if there is one. */
int hd_store_suppress_find(struct hd_store *st, const char *address, hd_suppression_cb cb, void *ud,
                           struct hd_err *err);

/* ---- segments ------------------------------------------------------------------ */

struct hd_seg_node;

/* Stores a segment's rule text. HD_E_EXISTS if it exists and !replace. */
int hd_store_segment_put(struct hd_store *st, const char *name, const char *expr, bool replace,
                         int64_t now, struct hd_err *err);
/* The rule text of a segment (the caller frees it); HD_E_NOTFOUND if none. */
int hd_store_segment_get(struct hd_store *st, const char *name, char **expr, struct hd_err *err);
typedef int (*hd_segment_cb)(void *ud, const char *name, const char *expr, int64_t updated_at);
int hd_store_segment_each(struct hd_store *st, hd_segment_cb cb, void *ud, struct hd_err *err);
int hd_store_segment_delete(struct hd_store *st, const char *name, struct hd_err *err);

/* Appends the SQL condition a rule compiles to (over "contacts c") and, if
 * params is given, its parameters as JSON values; returns their number. For
 * tests and for showing what a rule does. */
int hd_store_seg_sql(const struct hd_seg_node *ast, int64_t now, struct hd_buf *sql,
                     struct hd_buf *params);
/* hd_store_seg_sql in st's dialect: the SQL that runs on it (PostgreSQL's
 * for a PostgreSQL store, its parameters ?N::type). */
int hd_store_seg_dsql(const struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                      struct hd_buf *sql, struct hd_buf *params);
/* How many contacts the rule selects at time now. */
int hd_store_seg_count(struct hd_store *st, const struct hd_seg_node *ast, int64_t now, int64_t *n,
                       struct hd_err *err);
/* Calls cb for each member (up to limit, 0: all), in id order or at random;
 * consent is not filled in. cb returning non-zero stops and is returned. */
/* Compiles and prepares the rule without running it: 0 when SQLite takes it. */
int hd_store_seg_check(struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                       struct hd_err *err);
int hd_store_seg_each(struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                      int64_t limit, bool random, hd_contact_cb cb, void *ud, struct hd_err *err);

/* ---- campaigns ------------------------------------------------------------------- */

enum hd_sched { HD_SCHED_NOW, HD_SCHED_AT, HD_SCHED_LOCAL, HD_SCHED_EVERY };
enum hd_camp_status {
    HD_CAMP_SCHEDULED, /* waiting for its (next) firing */
    HD_CAMP_RUNNING,   /* a run is being dispatched */
    HD_CAMP_PAUSED,    /* nothing of it is claimed until it is resumed */
    HD_CAMP_CANCELLED, /* its unsent messages were cancelled; it never fires again */
    HD_CAMP_DONE,      /* every run finished and no firing is left */
    HD_CAMP_COUNT
};
const char *hd_sched_name(int sched);        /* "now", "at", "local", "every" */
const char *hd_camp_status_name(int status); /* "scheduled", ... */

/* A campaign as stored. Strings are owned (hd_campaign_release). */
struct hd_campaign {
    int64_t id;
    char *name;
    char *segment;             /* segment name */
    char *tpl;                 /* template name */
    int channels[HD_CH_COUNT]; /* in order of preference */
    int nchannels;
    int category;         /* enum hd_category */
    int sched;            /* enum hd_sched */
    int64_t at;           /* at: the time; local: the --on date (midnight UTC) or -1 */
    int local_minute;     /* local: minutes after midnight */
    char *cron, *tz;      /* every: the expression and its zone; tz may be NULL */
    int holdout_bp;       /* held out, per ten thousand contacts */
    char *variants;       /* "a=50,b=50", or NULL */
    int64_t expires;      /* seconds a message may wait; 0: forever */
    int64_t resend_after; /* seconds before this campaign messages a contact again */
    bool fallback;        /* --fallback-on-failure */
    char *rate;           /* the campaign's own rate ("50/s"), or NULL */
    int status;           /* enum hd_camp_status */
    int64_t next_run;     /* the scheduler's next firing, or -1 */
    int64_t created_at, updated_at;
    bool api;    /* the hidden campaign of the API's messages (apisend.c); not listed */
    bool urgent; /* not stored: its template says urgent (the dispatcher sets it) */
};
void hd_campaign_release(struct hd_campaign *c);

/* Adds c (c->id is set). HD_E_EXISTS when the name is taken. */
int hd_store_campaign_add(struct hd_store *st, struct hd_campaign *c, struct hd_err *err);
/* By name (or by id when name is NULL). HD_E_NOTFOUND when absent. */
int hd_store_campaign_get(struct hd_store *st, const char *name, int64_t id,
                          struct hd_campaign *out, struct hd_err *err);
typedef int (*hd_campaign_cb)(void *ud, const struct hd_campaign *c);
int hd_store_campaign_each(struct hd_store *st, hd_campaign_cb cb, void *ud, struct hd_err *err);
/* Why herald (the scheduler, the dispatcher's circuit breaker) paused
 * campaign id (reason), or, with reason NULL, that it is no longer paused
 * for a reason; hd_store_campaign_set to any status
 * but paused removes the reason. */
int hd_store_campaign_pause_note(struct hd_store *st, int64_t id, const char *reason,
                                 struct hd_err *err);
/* The reason noted, or *reason NULL (caller frees). */
int hd_store_campaign_pause_reason(struct hd_store *st, int64_t id, char **reason,
                                   struct hd_err *err);
/* Sets the status and the next firing (-1: none). */
int hd_store_campaign_set(struct hd_store *st, int64_t id, int status, int64_t next_run,
                          int64_t now, struct hd_err *err);
/* Moves every message of the campaign that is not sent or finished to
 * cancelled, recording why, and closes its runs; *n gets how many
 * messages. In the caller's transaction. */
int hd_store_campaign_cancel(struct hd_store *st, int64_t id, int64_t now_ms, int64_t *n,
                             struct hd_err *err);

/* ---- runs and materialization -------------------------------------------------- */

enum hd_run_status { HD_RUN_MATERIALIZING, HD_RUN_ACTIVE, HD_RUN_DONE };

struct hd_run {
    int64_t id, campaign_id;
    int64_t fire_at; /* the firing it belongs to; one run per (campaign, fire_at) */
    int status;      /* enum hd_run_status */
    int64_t queued;  /* messages materialized (when active or done) */
    int64_t created_at, done_at;
    int64_t seq; /* its number in its campaign: 1, 2, ... (what commands show) */
};

/* When the run fired: its firing's time, or when it was made if that was
 * later (a dispatcher that was down fires a missed firing once, late);
 * what stats --goal counts a window from (HD_RUN_FIRED_SQL in the store). */
static inline int64_t hd_run_fired_at(const struct hd_run *r)
{
    return r->created_at > r->fire_at ? r->created_at : r->fire_at;
}

/* The run of (campaign, fire_at), created if it does not exist (numbered
 * after the campaign's last run). */
int hd_store_run_open(struct hd_store *st, int64_t campaign, int64_t fire_at, int64_t now,
                      struct hd_run *out, struct hd_err *err);
/* The right to fire campaign (open and materialize its run) for this
 * store's connection until hd_store_fire_unlock: on PostgreSQL a session
 * advisory lock, so that of several nodes one fires a due run and one
 * finishes a materialization (a node that dies lets go with its
 * connection); wait: until it is free, else *got says whether it was.
 * SQLite (one dispatching process) always has it. */
int hd_store_fire_lock(struct hd_store *st, int64_t campaign, bool wait, bool *got,
                       struct hd_err *err);
void hd_store_fire_unlock(struct hd_store *st, int64_t campaign);
/* One run by id; HD_E_NOTFOUND when there is none. */
int hd_store_run_get(struct hd_store *st, int64_t id, struct hd_run *out, struct hd_err *err);
/* A campaign's run by its number (seq); HD_E_NOTFOUND when there is none. */
int hd_store_run_by_seq(struct hd_store *st, int64_t campaign, int64_t seq, struct hd_run *out,
                        struct hd_err *err);
/* The runs of a campaign (every campaign when 0), newest first, that are
 * not done (unfinished only) or all. */
typedef int (*hd_run_cb)(void *ud, const struct hd_run *r);
int hd_store_run_each(struct hd_store *st, int64_t campaign, bool unfinished, hd_run_cb cb,
                      void *ud, struct hd_err *err);
/* A run is set done only while it has no message waiting or in flight
 * (an API message may join an active run at any time). */
int hd_store_run_set(struct hd_store *st, int64_t run, int status, int64_t now, struct hd_err *err);
/* Messages of the run (or of every run of the campaign when run is 0 and
 * campaign is not) by state: counts[HD_ST_COUNT]. */
int hd_store_run_counts(struct hd_store *st, int64_t campaign, int64_t run, int64_t *counts,
                        struct hd_err *err);

/* ---- retrying a run's failed messages (retry.c) ---------------------------------- */

/* The run an operator names by number (0: the campaign's latest run);
 * HD_E_NOTFOUND when the campaign has no such run. The one place that
 * turns a run's number into a run. */
int hd_store_run_find(struct hd_store *st, int64_t campaign, int64_t number, struct hd_run *out,
                      struct hd_err *err);
/* Which messages of a run go back to the queue. */
struct hd_retry {
    int64_t run;                /* the run's id (filled by hd_campaign_retry) */
    int64_t seq;                /* its number in the campaign, as shown */
    bool failed, render_failed; /* the states to take */
    const char *reason;         /* only those whose latest log row has this reason; or NULL */
    int64_t now_ms;
    const char *who; /* in their log rows; NULL: "campaign retry" */
};
/* Moves the chosen messages to queued, due now, with their ids, variants
 * and attempt counts, each with a `requeued` row in the log, and reopens
 * the run when it was done. Call inside a transaction. *failed and
 * *render_failed: how many of each were re-queued. */
int hd_store_retry(struct hd_store *st, const struct hd_retry *r, int64_t *failed,
                   int64_t *render_failed, struct hd_err *err);

/* An A/B variant: contacts whose variant bucket (0..9999) is below upto. */
struct hd_variant_cut {
    const char *name;
    int upto;
};

/* The variant a contact gets in a campaign (NULL when there are none):
 * the one whose range holds the contact's hd_ab_bucket. */
const char *hd_variant_pick(const struct hd_variant_cut *cuts, size_t n, int64_t campaign,
                            int64_t contact);

/* The time a message of a local-time campaign is due, for a contact's zone
 * (NULL when the contact has none). */
typedef int64_t (*hd_due_fn)(void *ud, const char *timezone);

struct hd_materialize {
    int64_t run, campaign;
    const struct hd_seg_node *ast; /* the segment */
    int64_t seg_now;               /* what "now" means to the rule: the run's firing */
    int64_t not_before;            /* when messages are due, unless due is given */
    hd_due_fn due;                 /* per contact (local-time campaigns), or NULL */
    void *due_ud;
    int64_t expires; /* seconds after a message is due; 0: never */
    int holdout_bp;  /* per ten thousand */
    const struct hd_variant_cut *variants;
    size_t nvariants;
    int64_t batch;  /* contacts per transaction; 0 means 100000 */
    int64_t now_ms; /* for the held-out decisions in the log */
    void (*progress)(void *ud, int64_t queued);
    void *progress_ud;
};

/* Queues one message for each contact in the segment, in transactions of
 * m->batch contacts in id order, then marks the run active. Idempotent: a
 * run cut short (a crash) resumes after the last contact it committed, and
 * no contact is queued twice in a run. Held-out contacts are queued as
 * held_out with a decision in the log. */
int hd_store_materialize(struct hd_store *st, const struct hd_materialize *m, int64_t *queued,
                         int64_t *held, struct hd_err *err);

/* ---- the queue ----------------------------------------------------------------- */

/* The addresses a claimed message knows suppressed: email, phone, and each
 * push token (in the order of enum hd_push_platform, driver.h). */
enum hd_sup_index {
    HD_SUP_EMAIL,
    HD_SUP_SMS,
    HD_SUP_FCM,
    HD_SUP_APNS,
    HD_SUP_JPUSH,
    HD_SUP_HMS,
    HD_SUP_WECHAT,
    HD_SUP_COUNT
};

/* A message the dispatcher claimed, with what its checks need. */
struct hd_claimed {
    int64_t id, run, contact_id;
    int state, attempts, ch_index;
    int64_t not_before, expires_at; /* expires_at: 0 none */
    char variant[32];               /* "" when none */
    char *data;                     /* an API message's data for the template (JSON), or NULL */
    bool has_contact;               /* false: the contact was deleted */
    struct hd_contact contact;      /* without consent records */
    int consent[HD_CH_COUNT];       /* for the campaign's category: 0 none, or hd_consent_status */
    bool suppressed[HD_SUP_COUNT];  /* by enum hd_sup_index */
    /* the contact's earlier sends since the horizon: at, category, channel, campaign */
    struct hd_sent {
        int64_t at, campaign;
        int category, channel;
        int64_t message;
    } * sent;
    size_t nsent;
};
void hd_claimed_release(struct hd_claimed *c);

/* Reads up to limit due messages of the run (queued, retry_wait or
 * deferred with not_before <= now), oldest first, with their contacts,
 * consent for the category, suppressions and sends since horizon. Only
 * the channels in channels (a bit 1 << HD_CH_x for each the campaign may
 * use) get their facts: another channel's suppressions read false and its
 * push tokens or openid NULL, on either engine; the JSON API's data is
 * read only with HD_CLAIM_API among them (its hidden campaigns). Call inside a
 * transaction that also records the decisions. The caller frees (*out)[i]
 * with hd_claimed_release and *out with free. */
#define HD_CLAIM_API (1u << 31)
int hd_store_claim(struct hd_store *st, int64_t run, unsigned channels, int category, int64_t now,
                   int64_t horizon, int limit, struct hd_claimed **out, size_t *n,
                   struct hd_err *err);

/* The same facts for every contact of a segment (for estimates): each as a
 * message in state queued with no id; cb returning non-zero stops. */
typedef int (*hd_claimed_cb)(void *ud, const struct hd_claimed *c);
int hd_store_seg_facts(struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                       int category, int64_t horizon, hd_claimed_cb cb, void *ud,
                       struct hd_err *err);

/* A change to a message: from the state `from` to `state`. A message no
 * longer in `from` (a dispatcher's lease ran out and another recovered it,
 * the campaign was cancelled) is left as it is: hd_store_changes() then
 * says 0. */
struct hd_msg_update {
    int64_t id;
    int from;  /* enum hd_state: the state the caller believes it is in */
    int state; /* enum hd_state: the state it moves to */
    int attempts;
    int channel; /* -1: unchanged */
    int ch_index;
    int64_t not_before;               /* when it is due again (queued, retry_wait, deferred) */
    int64_t lease_owner, lease_until; /* sending */
    const char *reason;               /* why it stopped or waits, or NULL */
    int64_t now;
    /* from sending on PostgreSQL: the fencing token it was claimed with
     * (0: none checked); a message that no longer holds it is left as it
     * is, and hd_store_changes() says 0 */
    int64_t token;
};
int hd_store_msg_update(struct hd_store *st, const struct hd_msg_update *u, struct hd_err *err);

/* Many messages at once, by id (claims and results come in batches and a
 * statement per message was most of the writer's time): mark them sending
 * under a lease (those still waiting: queued, retry_wait or deferred), or
 * sent on channel (those still sending; their attempt count goes up by
 * one). A message in another state is left as it is. On PostgreSQL the
 * batch is claimed under one fencing token, drawn from the lease_tokens
 * sequence (*token; 0 on SQLite, which checks none). */
int hd_store_msgs_sending(struct hd_store *st, const int64_t *ids, size_t n, int64_t owner,
                          int64_t lease_until, int64_t now, int64_t *token, struct hd_err *err);
int hd_store_msgs_sent(struct hd_store *st, const int64_t *ids, size_t n, int channel, int ch_index,
                       int64_t now, struct hd_err *err);

/* One row of the delivery log: an attempt or a decision. */
struct hd_attempt {
    int64_t message, campaign, run, contact;
    const char *variant; /* or NULL */
    int state;           /* the message's state after this row (enum hd_state) */
    int attempt;         /* the attempt's number; a decision has the count so far */
    int64_t at_ms, done_ms;
    int channel; /* -1 when none was chosen */
    const char *provider, *address;
    const char *outcome; /* accepted, temporary, permanent, throttled, or skipped (a decision) */
    const char
        *reason; /* a word: capped, quiet_hours, bad_address, http_503, ...; NULL when sent */
    int code;
    const char *text, *gateway_id, *digest;
    int segments; /* an accepted SMS: segments billed, and their cost */
    double cost;
    const char *detail; /* a decision's JSON detail, or NULL */
};
int hd_store_attempt_add(struct hd_store *st, const struct hd_attempt *a, struct hd_err *err);

/* Sends counted against caps (and resend-after) from the moment they are
 * claimed; released when a message does not go out after all. */
struct hd_send_row {
    int64_t message, contact;
    int channel;
};
int hd_store_sends_reserve(struct hd_store *st, const struct hd_send_row *rows, size_t n,
                           int64_t at, int64_t campaign, int category, struct hd_err *err);
int hd_store_send_release(struct hd_store *st, int64_t message, struct hd_err *err);

/* Puts messages left in sending by a dispatcher that is gone (alive()
 * says no, or the lease ran out) back in the queue, with a line in the log
 * saying so. Returns how many in *n. */
typedef bool (*hd_alive_fn)(int64_t owner);
int hd_store_recover(struct hd_store *st, int64_t self, int64_t now, hd_alive_fn alive, int64_t *n,
                     struct hd_err *err);
/* PostgreSQL's recovery (several nodes): with mine, what node self holds
 * in sending goes back to the queue (its own stop); else (PostgreSQL only)
 * what every other node holds whose heartbeat is older than lease seconds
 * on the server's clock, or that stopped, or that has no row; now (wall
 * clock) is the rows' time. Each with a `requeued` row
 * in the log and its fencing token cleared. Returns how many in *n. */
int hd_store_recover_nodes(struct hd_store *st, int64_t self, int64_t now, int64_t lease, bool mine,
                           int64_t *n, struct hd_err *err);
/* PostgreSQL: of the messages ids[i] claimed with tokens[i], which still
 * hold their lease (sending, same token): held[i]. Their rows stay locked
 * until the transaction ends, so results written in it cannot race a
 * recovery. */
int hd_store_leases_held(struct hd_store *st, const int64_t *ids, const int64_t *tokens, size_t n,
                         bool *held, struct hd_err *err);
/* The earliest not_before among the run's waiting messages, or -1. */
int hd_store_run_next_due(struct hd_store *st, int64_t run, int64_t *next, struct hd_err *err);
/* How many of the run's messages are not finished (waiting or sending). */
int hd_store_run_open_count(struct hd_store *st, int64_t run, int64_t *n, struct hd_err *err);
/* A provider paused (a throttled result) until until_ms, shared by every
 * dispatcher on the database; a later pause wins. */
int hd_store_provider_pause(struct hd_store *st, const char *provider, int64_t until_ms,
                            struct hd_err *err);
/* Calls cb for each provider paused beyond now_ms. */
/* A dispatcher node (nodes.c): registered at start, beating while it
 * runs, stopped on a clean exit. Times in wall-clock seconds. */
struct hd_node {
    int64_t id;
    char host[256];
    int64_t pid;
    char version[32];
    int64_t started_at, heartbeat_at;
    int64_t stopped_at; /* 0 while it runs (or was lost) */
    int64_t held;       /* messages in sending under its lease */
};
int hd_store_node_register(struct hd_store *st, const char *host, int64_t pid, const char *version,
                           int64_t now, int64_t *id, struct hd_err *err);
/* The clock the nodes' beats are on, in seconds: the PostgreSQL server's,
 * or on SQLite this machine's (now, given). */
int hd_store_node_clock(struct hd_store *st, int64_t now, int64_t *out, struct hd_err *err);
int hd_store_node_beat(struct hd_store *st, int64_t id, int64_t now, struct hd_err *err);
int hd_store_node_stop(struct hd_store *st, int64_t id, int64_t now, struct hd_err *err);
/* Whether the store is shared the PostgreSQL way: leases name a node,
 * held while it beats, and results are fenced by the claim's token. */
bool hd_store_nodes_shared(const struct hd_store *st);
/* PostgreSQL: the server ends this connection should it sit inside a
 * transaction for secs (a node frozen mid-claim or mid-flush), so that
 * the rows it locked can be rescued; nothing on SQLite. */
int hd_store_node_guard(struct hd_store *st, int64_t secs, struct hd_err *err);
/* Wake-ups (notify.c; issue 23), a hint only: polling remains the truth.
 * On PostgreSQL the store's functions that make work appear (a campaign
 * created or runnable again, a run made active, failures retried, an API
 * message queued, messages rescued or given back) send a notification on
 * the channel herald_work, one per transaction. hd_store_listen opens a
 * connection of the store's own that LISTENs on it and returns whether it
 * does (always false on SQLite). hd_store_wait_work waits up to timeout_ms
 * for a notification on it from another connection than the store's own
 * (whose caller knows what it did): 1 when one came (at once), else 0 once the
 * time is up, a signal came or the server sent something else; with no
 * such connection (SQLite, or a broken one) it sleeps the time out and
 * returns 0, and on PostgreSQL tries to connect again at most every 5 s.
 * timeout_ms 0 only takes in what came. Never fails. */
bool hd_store_listen(struct hd_store *st);
int hd_store_wait_work(struct hd_store *st, int timeout_ms);
/* Whether the listening connection is up (a change is the caller's to log). */
bool hd_store_listening(const struct hd_store *st);
/* Every node, oldest first; the caller frees *out. */
int hd_store_nodes_list(struct hd_store *st, struct hd_node **out, size_t *n, struct hd_err *err);

/* GET /metrics' rows (metrics.c), read in one transaction. */
enum hd_metric_series {
    HD_MET_MESSAGES,     /* label: campaign, channel, provider, outcome; n: log rows */
    HD_MET_QUEUE,        /* key: the state; n: messages */
    HD_MET_LATENCY,      /* key: the lat.h bucket; n: requests */
    HD_MET_PAUSED,       /* label: provider; n: 1 while paused at now_ms, else 0 */
    HD_MET_UNSUBSCRIBES, /* label: channel, source; n: opt-outs in consent_log and erased */
    HD_MET_COUNT
};
struct hd_metric_row {
    int series;
    const char *label[4]; /* NULL past the series' labels */
    int64_t key;
    int64_t n;
};
typedef int (*hd_metric_cb)(void *ud, const struct hd_metric_row *r);
/* cb returning non-zero stops and is returned. */
int hd_store_metrics(struct hd_store *st, int64_t now_ms, hd_metric_cb cb, void *ud,
                     struct hd_err *err);

/* PostgreSQL: takes up to want tokens from provider's bucket shared by
 * every node (per_ms tokens a millisecond, at most burst saved up; counted
 * on the server's clock, so that the machines' clocks do not matter) in
 * one statement; *got: how many it gave, 0 when the cluster has spent
 * them. SQLite gives all it is asked for: one machine's buckets hold. */
int hd_store_rate_take(struct hd_store *st, const char *provider, double per_ms, double burst,
                       int want, int *got, struct hd_err *err);

typedef void (*hd_pause_cb)(void *ud, const char *provider, int64_t until_ms);
int hd_store_provider_pauses(struct hd_store *st, int64_t now_ms, hd_pause_cb cb, void *ud,
                             struct hd_err *err);
/* The database's shared pause file (herald/pauses.h: `<database>.pauses`),
 * opened the first time it is asked for; *out is NULL for a database in
 * memory and on PostgreSQL (the provider_pauses table alone). Owned by the
 * store. */
int hd_store_pauses(struct hd_store *st, struct hd_pauses **out, struct hd_err *err);
/* PostgreSQL's pause file (notify.c, issue 23): a throttled node publishes
 * a provider's pause (until_ms real) on its listening connection, outside
 * any transaction: a notification on herald_pause and the provider_pauses
 * upsert; nothing without that connection (SQLite, or none open) or for a
 * name the configuration would refuse, and failures are ignored (the
 * batch's hd_store_provider_pause writes it too). hd_store_pause_hints
 * takes in what the listening connection received, without blocking, and
 * calls cb for each provider's latest pause hint since the last call (the
 * same pause may come again); nothing on SQLite. Neither fails. */
void hd_store_pause_publish(struct hd_store *st, const char *provider, int64_t until_ms);
void hd_store_pause_hints(struct hd_store *st, hd_pause_cb cb, void *ud);
/* ---- the delivery log ----------------------------------------------------------- */

/* Messages of a campaign by variant and state: cb(variant or "", state, n). */
typedef int (*hd_variant_count_cb)(void *ud, const char *variant, int state, int64_t n);
int hd_store_variant_counts(struct hd_store *st, int64_t campaign, hd_variant_count_cb cb, void *ud,
                            struct hd_err *err);

/* ---- reading the log (herald log, history, why and stats) ----------------------- */

/* Which rows: 0 / NULL leaves a filter open. campaign, contact and time
 * each have an index (contact may be negative: a deleted contact); the
 * rest narrow what those give. */
struct hd_log_filter {
    int64_t campaign, run, contact;
    const char *channel, *provider, *outcome, *reason;
    const char *gateway_id;     /* the gateway's id of the message, or NULL */
    int64_t message;            /* one message's rows, or 0 */
    int64_t since_ms, until_ms; /* since <= at < until */
    int64_t limit;              /* 0: all */
    bool oldest_first;          /* default newest first */
    /* Keyset paging: only the rows after the row (after_ms, after_id) in
     * the list's order (older ones when newest first), so that a page deep
     * in a large log costs what the first does; after_id 0: from the
     * start. A list with a cursor is in the order of the times shown, also
     * for one contact (see LOG_ORDER in log.c). */
    int64_t after_ms, after_id;
};

/* One row as read back. Strings live until the callback returns. */
struct hd_log_row {
    int64_t id, message, run, contact_id, campaign_id;
    int64_t run_seq; /* the run's number in its campaign (what is shown) */
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

/* ---- receipts (receipts.c) --------------------------------------------------------- */

/* A gateway's report on a message it accepted, as received. */
struct hd_receipt {
    int64_t id;             /* its row, once stored */
    int64_t message;        /* the message it names (the callback URL's m=N), 0: none */
    const char *provider;   /* the provider's name in the configuration */
    const char *gateway_id; /* the gateway's id of the message (Twilio's MessageSid) */
    const char *status;     /* the gateway's own word: delivered, undelivered, ... */
    const char *code;       /* its error or status code ("30005", "5.1.1"), or NULL */
    const char *reason;     /* the raw reason text, or NULL */
    int64_t gateway_ms;     /* when the gateway says it happened; 0: not said */
    int64_t received_ms;
    /* the sender's id of the message when gateway_id is the event's (a
     * mail sender's), or NULL */
    const char *provider_id;
    /* kept as applied at this time (its message was found in the same
     * transaction, hd_store_receipt_target), or 0: pending */
    int64_t applied_ms;
};
/* ---- the in-app inbox (inbox.c, issue 20) ---- */

/* One inbox message. Strings are borrowed (in a listing: valid during the
 * callback only). */
struct hd_inbox_item {
    int64_t id;            /* its row, once stored: the API's id */
    int64_t contact;       /* the contact's internal id */
    int64_t message;       /* the queued message it came from */
    const char *provider;  /* the inbox provider that took it */
    const char *title;     /* or NULL */
    const char *body_html; /* the body rendered to safe HTML, or NULL */
    const char *url;       /* an http(s) link, or NULL */
    int64_t created;       /* seconds */
    int64_t expires;       /* seconds; 0: never */
    int64_t read_at;       /* seconds; 0: unread */
};
/* Keeps m for its contact, inside the caller's transaction; a message kept
 * already (sent again after a crash) is left as it is. */
int hd_store_inbox_add(struct hd_store *st, const struct hd_inbox_item *m, struct hd_err *err);
typedef int (*hd_inbox_cb)(void *ud, const struct hd_inbox_item *m);
/* The contact's messages neither archived nor expired at now, newest
 * first, with ids below before (0: from the newest), at most limit; then
 * *unread (may be NULL) is how many of all of them are unread. A non-zero
 * return of cb stops and is returned. */
int hd_store_inbox_list(struct hd_store *st, int64_t contact, int64_t now, int64_t before,
                        int limit, hd_inbox_cb cb, void *ud, int64_t *unread, struct hd_err *err);
/* What marking a message did. */
struct hd_inbox_mark {
    bool found;      /* the contact's, neither archived nor expired */
    bool first_read; /* it was unread before this mark */
    int64_t message; /* its queued message */
    char provider[128];
};
/* Marks the contact's message id read, or archived (which hides it and is
 * not a read), at now. */
int hd_store_inbox_mark(struct hd_store *st, int64_t contact, int64_t id, bool archive, int64_t now,
                        struct hd_inbox_mark *out, struct hd_err *err);

/* Keeps r unless the same provider, gateway id and status are kept
 * already (a gateway sending it again): *added says which, *id is the row. */
int hd_store_receipt_add(struct hd_store *st, const struct hd_receipt *r, int64_t *id, bool *added,
                         struct hd_err *err);
/* Marks receipt id applied to message at now_ms, if it is still pending:
 * *first says whether it was (false: applied already, by another; or the
 * same report was kept again under message meanwhile, and this copy is
 * deleted as the duplicate it is). */
int hd_store_receipt_done(struct hd_store *st, int64_t id, int64_t message, int64_t now_ms,
                          bool *first, struct hd_err *err);
typedef int (*hd_receipt_cb)(void *ud, const struct hd_receipt *r);
/* Each receipt not applied yet received at or after since_ms, oldest first
 * (strings live until cb returns). */
int hd_store_receipts_pending(struct hd_store *st, int64_t since_ms, hd_receipt_cb cb, void *ud,
                              struct hd_err *err);
/* The delivery log's accepted row a report is about, and its message's
 * state now. */
struct hd_receipt_target {
    int64_t message, campaign, run, contact;
    int attempt;
    int state;        /* the message's, now */
    char channel[16]; /* the row's channel's name, or "" */
    char variant[64], address[320];
};
/* The newest accepted row of provider for message's contact that carries
 * gateway_id (NULL: that is message's own row, for the reports that name
 * the message alone); *found is false when there is no such message, no
 * such row, or the row is another message's. */
int hd_store_receipt_target(struct hd_store *st, int64_t message, const char *provider,
                            const char *gateway_id, struct hd_receipt_target *t, bool *found,
                            struct hd_err *err);
/* The provider that last accepted message (its newest accepted row) into
 * out, "" when none has (cut to size). */
int hd_store_msg_sent_by(struct hd_store *st, int64_t message, char *out, size_t size,
                         struct hd_err *err);
/* Moves a message from `from` to `to` (a receipt's move; the caller checked
 * it with hd_state_move); HD_E_INVALID when it was no longer in from. */
int hd_store_msg_receipt(struct hd_store *st, int64_t message, int from, int to, int64_t now,
                         struct hd_err *err);
/* Log rows of the contact with outcome receipt and reason `reason` at or
 * after since_ms. */
int hd_store_receipt_count(struct hd_store *st, int64_t contact, const char *reason,
                           int64_t since_ms, int64_t *n, struct hd_err *err);

/* A gateway's own id of a message it accepted, for the providers whose
 * reports may name their id alone (an http gateway, a mail sender): kept
 * once per (provider, gateway id); a second message with the same id
 * keeps the first. */
int hd_store_gateway_id_add(struct hd_store *st, const char *provider, const char *gateway_id,
                            int64_t message, int64_t at_ms, struct hd_err *err);
/* The message a provider's id names, or 0 when none. */
int hd_store_gateway_id_find(struct hd_store *st, const char *provider, const char *gateway_id,
                             int64_t *message, struct hd_err *err);

/* A sender's one-time webhook token (hooktokens.c), taken once per
 * database, by every process on it and across restarts: hash is the
 * caller's digest of it (the token itself is never stored), kept until
 * expires_at (seconds, on the caller's clock). *fresh: true when no one
 * took it before (this call did), false when someone did. Rows expired
 * before now are deleted first, at most once a minute per connection. */
int hd_store_hook_token_take(struct hd_store *st, const char *hash, int64_t expires_at, int64_t now,
                             bool *fresh, struct hd_err *err);
/* Gives a token taken back: the request that took it kept nothing, and
 * the sender's retry, with the same token, must be taken. */
int hd_store_hook_token_give(struct hd_store *st, const char *hash, struct hd_err *err);

/* A contact's id from its external id, or from the pseudonym a deleted
 * one left ("deleted-12"); HD_E_NOTFOUND for neither. */
int hd_store_contact_ref(struct hd_store *st, const char *ref, int64_t *id, struct hd_err *err);
/* The pseudonym shown for a contact id with no contact ("deleted-12"). */
void hd_contact_pseudonym(int64_t id, char *buf, size_t size);

/* ---- messages of a contact -------------------------------------------------------- */

struct hd_msg_info {
    int64_t id, run, campaign, fire_at, updated_at;
    int64_t fired_at; /* when its run fired: fire_at, or when made if later (hd_run_fired_at) */
    int64_t due;                  /* not_before: when a waiting message is due (seconds) */
    int64_t seq;                  /* the run's number in its campaign (what is shown) */
    int state, channel, attempts; /* channel -1: none yet */
    const char *campaign_name, *segment, *variant, *reason;
};
typedef int (*hd_msg_info_cb)(void *ud, const struct hd_msg_info *m);
/* The contact's messages (of one campaign when campaign > 0), by firing. */
int hd_store_contact_messages(struct hd_store *st, int64_t contact, int64_t campaign,
                              hd_msg_info_cb cb, void *ud, struct hd_err *err);

/* ---- a run's failures ------------------------------------------------------------- */

/* Messages of a run that ended in a failure (hd_state_failure), counted by
 * the reason word of the log row that ended them, with one example text. */
struct hd_failure {
    const char *reason; /* the log's reason word ("render_failed", "smtp_550"), or NULL */
    int64_t n;
    const char *text; /* one of their texts (the gateway's answer, the render error) */
};
typedef int (*hd_failure_cb)(void *ud, const struct hd_failure *f);
/* Most frequent first; messages whose rows were pruned are not counted. */
int hd_store_run_failures(struct hd_store *st, int64_t campaign, int64_t run, hd_failure_cb cb,
                          void *ud, struct hd_err *err);

/* ---- statistics ------------------------------------------------------------------- */

enum hd_stats_by { HD_BY_NONE, HD_BY_CHANNEL, HD_BY_VARIANT, HD_BY_PROVIDER, HD_BY_DAY };
int hd_stats_by_parse(const char *s); /* "channel", ... -> enum, or -1 */

/* Log rows of a campaign (live and pruned) counted by group, outcome,
 * reason and the state the message went to; a message's live bounce
 * receipts after its first are left out. group: the channel, variant
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

/* Conversions: per group (each variant, and "holdout"), how many of the
 * campaign's messages there were and how many of their contacts had the
 * event within window seconds after the run fired. */
typedef int (*hd_goal_cb)(void *ud, const char *group, int64_t n, int64_t converted);
int hd_store_stats_goal(struct hd_store *st, int64_t campaign, const char *event, int64_t window,
                        hd_goal_cb cb, void *ud, struct hd_err *err);

/* ---- events ----------------------------------------------------------------------- */

struct hd_event {
    const char *contact; /* external id */
    const char *name;
    int64_t at; /* seconds */
    double value;
    bool has_value;
    const char *props; /* a JSON object of properties, or NULL */
};
/* The events import's writer: begin opens a transaction; add takes one
 * event (*known: false when no contact has its external id, and the event
 * is dropped), copying what it keeps; end commits (or rolls back when
 * !commit) and frees w, giving the events added and those already there.
 * Events are written in sorted batches, so a row's store error comes at a
 * later add or at end. */
struct hd_store_events;
int hd_store_events_begin(struct hd_store *st, struct hd_store_events **w, struct hd_err *err);
int hd_store_events_add(struct hd_store_events *w, const struct hd_event *ev, bool *known,
                        struct hd_err *err);
int hd_store_events_end(struct hd_store_events *w, bool commit, int64_t *added, int64_t *duplicate,
                        struct hd_err *err);

/* ---- RFM scores (rfm.c) ----------------------------------------------------------- */

struct hd_rfm_opts {
    const char *event; /* the events scored: "purchase" */
    const char *value; /* the numeric property summed for monetary: "amount" */
    int64_t window;    /* seconds back from now */
    int64_t now;
    int scores; /* S: scores run from 1 to S */
};
/* Scores each contact with events of o->event in the window into its
 * attributes rfm_r, rfm_f, rfm_m and rfm_at, and takes them off every other
 * contact, in one transaction; *scored: contacts scored; high[r * 4 + f * 2
 * + m]: how many have each mix of high (1: above S/2) and low scores. */
int hd_store_rfm(struct hd_store *st, const struct hd_rfm_opts *o, int64_t *scored, int64_t high[8],
                 struct hd_err *err);

/* ---- retention -------------------------------------------------------------------- */

/* Moves log rows older than cutoff_ms into the per-campaign totals, in
 * transactions of at most batch rows, and drops the gateways' ids kept
 * for sends before it (gateway_ids: a report can no longer find their
 * log rows); *n: log rows removed. progress (may be
 * NULL) gets the running count after each batch. */
int hd_store_log_prune(struct hd_store *st, int64_t cutoff_ms, int64_t batch,
                       void (*progress)(void *ud, int64_t done), void *ud, int64_t *n,
                       struct hd_err *err);
/* The time (ms) before which the log's rows were pruned: the newest end
 * of a pruned batch, or 0 when nothing was ever pruned. */
int hd_store_log_pruned_before(struct hd_store *st, int64_t *before_ms, struct hd_err *err);

/* A provider's reusable credential (the APNs provider token; a secret) and
 * when it was issued (wall-clock seconds). get: *value is a new string the
 * caller wipes and frees, or NULL when none is stored. put: stores it
 * unless the one stored was issued later. */
int hd_store_credential_get(struct hd_store *st, const char *provider, char **value,
                            int64_t *issued_at, struct hd_err *err);
int hd_store_credential_put(struct hd_store *st, const char *provider, const char *value,
                            int64_t issued_at, struct hd_err *err);

/* The newest run's id (0: none): a cheap look for runs made meanwhile
 * (the API opens them at any time). */
int hd_store_runs_newest(struct hd_store *st, int64_t *id, struct hd_err *err);
/* ---- outbound webhooks (webhooks.c, issue 20) ------------------------------------- */

/* The two sources of a webhook's events: the delivery log's rows
 * (attempts: sent, receipts, failures) and consent_log's opt-outs. */
enum hd_wh_source { HD_WH_SRC_LOG, HD_WH_SRC_CONSENT };

/* A webhook's cursor, as stored. */
struct hd_wh_cursor {
    int64_t log_id, consent_id;     /* the last row of each acknowledged or passed over */
    int64_t log_xact, consent_xact; /* PostgreSQL: their writing transactions (0 on SQLite) */
    int64_t next_ms;                /* no attempt before this (wall clock); 0: at once */
    int attempts;                   /* failed tries of the batch at the head */
    char last_error[256];           /* "" when the last try succeeded */
    int64_t last_ok_ms;             /* the last acknowledgement, 0: never */
    int64_t delivered, expired;     /* events acknowledged and expired so far */
    int64_t lag; /* rows of both tables past the cursor (any kind); on PostgreSQL those a
                  * read may take now, counted up to 50,000 a table */
};

/* The cursor of webhook name into *c; *found says whether it exists.
 * With create, a missing one is made, starting after the rows there are
 * now (on PostgreSQL after those of the transactions older than every
 * one still running: webhooks.c; from_start: from the first row) and
 * *found is true. */
int hd_store_wh_cursor(struct hd_store *st, const char *name, bool create, bool from_start,
                       int64_t now_ms, struct hd_wh_cursor *c, bool *found, struct hd_err *err);
/* Takes the webhook for owner (a process id) until until_ms: *got is
 * false while another owner alive() holds an unexpired lease. */
int hd_store_wh_lease(struct hd_store *st, const char *name, int64_t owner, int64_t now_ms,
                      int64_t until_ms, bool (*alive)(int64_t owner), bool *got,
                      struct hd_err *err);

/* One event as read from its source row. Strings are owned by the batch. */
struct hd_wh_event {
    int source;          /* enum hd_wh_source */
    int64_t row;         /* the source row's id: the event's id with the source */
    int type;            /* enum hd_webhook_event */
    int64_t at_ms;       /* when it happened */
    int64_t message;     /* 0: none */
    int64_t contact;     /* negative: a deleted contact's pseudonym */
    int64_t campaign_id; /* 0: none */
    char *campaign;      /* the campaign's name, or NULL */
    char *contact_ext;   /* the contact's external id, or NULL */
    char *channel, *provider, *address, *reason, *text, *category; /* or NULL */
};
/* The events after a cursor, up to limit, and how far they reach. */
struct hd_wh_batch {
    struct hd_wh_event *v;
    size_t n;
    int64_t log_to, consent_to;           /* the cursor once this batch is acknowledged */
    int64_t log_to_xact, consent_to_xact; /* and its transactions (PostgreSQL) */
};
/* Reads the next events of the types in set (bits of enum
 * hd_webhook_event) after c, in row order (the log's first; on
 * PostgreSQL in the order of the writing transactions, then rows, and
 * only rows no transaction still running can precede); a stretch
 * of rows none of which is one of them is passed over (up to a window of
 * rows a call, so a rare type never reads the whole log at once). */
int hd_store_wh_batch(struct hd_store *st, const struct hd_wh_cursor *c, unsigned set, size_t limit,
                      struct hd_wh_batch *b, struct hd_err *err);
void hd_wh_batch_release(struct hd_wh_batch *b);
/* Acknowledged: the cursor moves to b's end in one transaction,
 * delivered and expired are added to, the failures cleared and the
 * lease given back. */
int hd_store_wh_ack(struct hd_store *st, const char *name, const struct hd_wh_batch *b,
                    int64_t delivered, int64_t expired, int64_t now_ms, struct hd_err *err);
/* A failed try: attempts, the next try's time and the error (no secret
 * in it) are kept and the lease given back. */
int hd_store_wh_fail(struct hd_store *st, const char *name, int attempts, int64_t next_ms,
                     const char *error, struct hd_err *err);

/* This database's random instance id (32 hex digits), for message UUIDs. */
int hd_store_instance(struct hd_store *st, char out[33], struct hd_err *err);

/* ---- the JSON API's keys (apikeys.c) ---------------------------------------------- */

/* A key as stored: never the key itself. Strings are owned; release with
 * hd_apikey_release. */
struct hd_apikey {
    int64_t id;
    char *name;
    char *prefix;       /* the key's public first characters, its lookup */
    char *scopes;       /* "send,contacts,events,read" (a comma list) */
    char *rate;         /* "100/s" */
    int64_t created_at; /* seconds */
    int64_t revoked_at; /* seconds, 0 when live */
};
/* Adds k (name, prefix, scopes, rate, created_at) with the SHA-256 of the
 * key; HD_E_EXISTS when the name is taken. */
int hd_store_apikey_add(struct hd_store *st, const struct hd_apikey *k,
                        const unsigned char hash[32], struct hd_err *err);
/* The live key with this prefix and its hash; HD_E_NOTFOUND when none
 * (or revoked). */
int hd_store_apikey_find(struct hd_store *st, const char *prefix, struct hd_apikey *k,
                         unsigned char hash[32], struct hd_err *err);
/* Every key, revoked ones too, by name; fn's k is borrowed. */
int hd_store_apikey_each(struct hd_store *st, int (*fn)(void *ud, const struct hd_apikey *k),
                         void *ud, struct hd_err *err);
/* HD_E_NOTFOUND when no live key has the name. */
int hd_store_apikey_revoke(struct hd_store *st, const char *name, int64_t now, struct hd_err *err);
void hd_apikey_release(struct hd_apikey *k);

/* ---- transactional messages of the API (apisend.c) ------------------------------- */

/* One message the API asks for. */
struct hd_api_send {
    int64_t contact;     /* contacts.id */
    const char *tpl;     /* the template's name */
    int category;        /* enum hd_category */
    const int *channels; /* in order of preference */
    int nchannels;
    const char *data;   /* a JSON object for the template, or NULL */
    int64_t key_id;     /* the API key that asked */
    int64_t not_before; /* seconds */
    int64_t now;        /* seconds */
};
/* Queues m in its hidden campaign (one per template, category and channel
 * order: made when first needed) and an active run of it that does not
 * hold the contact yet (made when none does). *message: its id. Call in a
 * transaction. */
int hd_store_api_send(struct hd_store *st, const struct hd_api_send *m, int64_t *message,
                      struct hd_err *err);
/* A contact's row id by its external id (a cached statement: each send
 * runs it); HD_E_NOTFOUND when none. */
int hd_store_api_contact(struct hd_store *st, const char *ext_id, int64_t *id, struct hd_err *err);
/* An API message's state, attempts, campaign (the template's hidden
 * one), the key that sent it, and when; HD_E_NOTFOUND unless it is an
 * API message of key_id (any key's when key_id is 0). */
struct hd_api_msg {
    int64_t id, contact, created_at;
    int state, attempts, channel; /* channel -1 when none yet */
    char tpl[128], category[16];
};
int hd_store_api_msg(struct hd_store *st, int64_t id, int64_t key_id, struct hd_api_msg *out,
                     struct hd_err *err);
/* An Idempotency-Key's first answer (kept a day): get gives
 * HD_E_NOTFOUND when none, else *status, *answer (caller frees) and
 * whether the body's hash is the one kept; put keeps one (and forgets
 * those older than a day). */
int hd_store_idem_get(struct hd_store *st, int64_t key_id, const char *idem,
                      const unsigned char hash[32], int64_t now, bool *same, int *status,
                      char **answer, struct hd_err *err);
int hd_store_idem_put(struct hd_store *st, int64_t key_id, const char *idem,
                      const unsigned char hash[32], int status, const char *answer, int64_t now,
                      struct hd_err *err);

/* ---- the console's users, sessions and audited actions (console.c, issue 21) ---- */

enum hd_role { HD_ROLE_VIEWER, HD_ROLE_OPERATOR, HD_ROLE_ADMIN, HD_ROLE_COUNT };
const char *hd_role_name(int role); /* "viewer", "operator", "admin" */
int hd_role_parse(const char *s);   /* -1 when not one of those */

/* A console user as stored; hash is the encoded Argon2id string. */
#define HD_PWHASH_MAX 160
struct hd_user {
    int64_t id;
    char name[64];
    int role; /* enum hd_role */
    char hash[HD_PWHASH_MAX];
    int64_t created_at, updated_at; /* seconds */
    char lang[8];                   /* the console's language ("en", "zh-CN"); "": the browser's */
    char zone[64];                  /* IANA zone of the console's times; "": [herald] timezone */
};
/* HD_E_EXISTS when the name is taken (nothing written). */
int hd_store_user_add(struct hd_store *st, const char *name, int role, const char *hash,
                      int64_t now, struct hd_err *err);
/* HD_E_NOTFOUND when there is no such user. */
int hd_store_user_find(struct hd_store *st, const char *name, struct hd_user *u,
                       struct hd_err *err);
/* Every user by name; fn's u is borrowed (its hash blanked). */
int hd_store_user_each(struct hd_store *st, int (*fn)(void *ud, const struct hd_user *u), void *ud,
                       struct hd_err *err);
/* Removes the user and its sessions; HD_E_NOTFOUND when none. */
int hd_store_user_remove(struct hd_store *st, const char *name, struct hd_err *err);
/* A new hash; the user's sessions end. HD_E_NOTFOUND when none. */
int hd_store_user_passwd(struct hd_store *st, const char *name, const char *hash, int64_t now,
                         struct hd_err *err);

/* A user's role (enum hd_role, checked by the caller); the session reads
 * it at each request. HD_E_NOTFOUND when there is no such user. */
int hd_store_user_role(struct hd_store *st, const char *name, int role, struct hd_err *err);
/* A user's console language and zone (checked by the caller): NULL keeps
 * one, "" clears it. HD_E_NOTFOUND when there is no such user. */
int hd_store_user_prefs(struct hd_store *st, const char *name, const char *lang, const char *zone,
                        struct hd_err *err);

/* A console session, found by the SHA-256 of its cookie's id. */
struct hd_session {
    struct hd_user user; /* its hash blanked */
    int64_t created_at, expires_at;
    char csrf[65]; /* hex: the secret its forms carry */
};
int hd_store_session_add(struct hd_store *st, const unsigned char id_hash[32], int64_t user,
                         int64_t now, int64_t expires_at, const char *csrf, struct hd_err *err);
/* The live session (expires_at > now); HD_E_NOTFOUND when none. Only
 * reads. add deletes the sessions expired at now first. */
int hd_store_session_find(struct hd_store *st, const unsigned char id_hash[32], int64_t now,
                          struct hd_session *out, struct hd_err *err);
int hd_store_session_end(struct hd_store *st, const unsigned char id_hash[32], struct hd_err *err);

/* An action a person took: who (a user's name, or the name typed at a
 * failed login), what ("login", "login_failed", "logout", ...), a detail
 * or NULL, from where (the client's address, or "cli"). */
struct hd_action {
    int64_t id, at; /* seconds */
    const char *who, *action, *detail, *addr;
};
int hd_store_action_add(struct hd_store *st, const struct hd_action *a, struct hd_err *err);
/* Which actions to list: every field 0 or NULL means any. */
struct hd_action_filter {
    const char *who;    /* exactly this name */
    const char *action; /* exactly this action ("login", "user_add"...) */
    int64_t since;      /* seconds: at or after */
    int64_t until;      /* seconds: before */
    int64_t before_id;  /* ids below this one (the next page's key) */
    int64_t limit;      /* rows; 0: all */
};
/* The actions f lets through, newest (highest id) first; a's strings live
 * until fn returns. */
int hd_store_action_each(struct hd_store *st, const struct hd_action_filter *f,
                         int (*fn)(void *ud, const struct hd_action *a), void *ud,
                         struct hd_err *err);
/* Failed logins at or after since: for the account who, for the address
 * addr, and the oldest of each (0: none), for a throttle's Retry-After. */
struct hd_login_failures {
    int64_t by_who, by_addr;
    int64_t oldest_who, oldest_addr;
};
int hd_store_login_failures(struct hd_store *st, const char *who, const char *addr, int64_t since,
                            struct hd_login_failures *out, struct hd_err *err);

/* The console's overview numbers that no other query gives: the log rows
 * since since_ms by channel, outcome and reason ("" when none), and the
 * messages by state. The
 * aggregates of GET /metrics read the whole log (all time, every
 * campaign); these read one day's range of its time index. */
typedef int (*hd_day_count_cb)(void *ud, const char *channel, const char *outcome,
                               const char *reason, int64_t n);
int hd_store_log_counts_since(struct hd_store *st, int64_t since_ms, hd_day_count_cb cb, void *ud,
                              struct hd_err *err);
typedef int (*hd_queue_count_cb)(void *ud, int state, int64_t n);
int hd_store_queue_counts(struct hd_store *st, hd_queue_count_cb cb, void *ud, struct hd_err *err);

#endif
