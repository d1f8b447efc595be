/* store_int: what the store's files share and nobody else sees. */
#ifndef HERALD_STORE_INT_H
#define HERALD_STORE_INT_H

#include <sqlite3.h>

#include "herald/state.h"
#include "herald/store.h"

/* Statements the dispatcher runs for every message, prepared once. */
enum hd_store_slot {
    SLOT_MSG_UPDATE,
    SLOT_ATTEMPT_ADD, /* log_lite.c: the delivery log, 1 to 16 rows a statement */
    SLOT_ATTEMPT_ADD_LAST = SLOT_ATTEMPT_ADD + 15,
    SLOT_SEND_RESERVE,
    SLOT_SEND_RELEASE,
    SLOT_CLAIM, /* queue.c: one for each shape of the claim (the channels' facts) */
    SLOT_CLAIM_LAST = SLOT_CLAIM + 31, /* HD_CLAIM_SHAPES */
    SLOT_MSGS_SENDING,
    SLOT_MSGS_SENT,
    SLOT_LINK_CONTACT,
    SLOT_LINK_CONSENT,
    SLOT_RECEIPT_ADD,
    SLOT_RECEIPT_ID,
    SLOT_RECEIPT_ID_UNKNOWN,
    SLOT_RECEIPT_DONE,
    SLOT_RECEIPT_DROP,
    SLOT_RECEIPT_TARGET,
    SLOT_MSG_RECEIPT,
    SLOT_RECEIPT_COUNT,
    SLOT_BEGIN,
    SLOT_COMMIT,
    SLOT_API_KEY, /* the JSON API's (apikeys.c, apisend.c): each request runs them */
    SLOT_API_CAMP,
    SLOT_API_RUN,
    SLOT_API_MSG,
    SLOT_API_DATA,
    SLOT_API_CONTACT,
    SLOT_API_IDEM_GET,
    SLOT_API_IDEM_DEL,
    SLOT_API_IDEM_PUT,
    SLOT_GWID_ADD,
    SLOT_GWID_FIND,
    SLOT_SEND_RESERVE_MANY, /* queue.c: RESERVE_BATCH rows in one statement */
    SLOT_COUNT
};

/* Statements put together from fragments (log.c's filters), cached by
 * which fragments they have: a few shapes, each kept the first time. */
#define STORE_SHAPES 8

/* When a run r fired: its firing's time, or when it was made if that was
 * later (a dispatcher that was down fires a missed firing once, late, and
 * a goal's window starts when the messages could go, not at the missed
 * time: a review saw an event six days before any message counted). Both
 * dialects. */
#define HD_RUN_FIRED_SQL "CASE WHEN r.created_at > r.fire_at THEN r.created_at ELSE r.fire_at END"

/* meta's keys of erased contacts' opt-outs: this, the channel, ':' and the
 * source; the value their count (contacts.c adds, metrics.c reads). */
#define HD_UNSUB_ERASED "unsubscribes_erased:"

struct hd_db;
struct hd_db_stmt;

/* Statements of code on db.h (issue 23) prepared once, like the slots. */
enum hd_store_dslot {
    DSLOT_CONTACT_REF,
    DSLOT_PAUSES,
    DSLOT_CLAIM, /* queue_pg.c's, PostgreSQL's per-message statements; the claim's shapes */
    DSLOT_CLAIM_LAST = DSLOT_CLAIM + 31,
    DSLOT_CLAIM_PICK,
    DSLOT_CLAIM_LOCK,
    DSLOT_RATE_TAKE,
    DSLOT_MSG_UPDATE,
    DSLOT_ATTEMPT_ADD,
    DSLOT_SEND_RESERVE,
    DSLOT_SEND_RELEASE,
    DSLOT_MSGS_SENDING,
    DSLOT_MSGS_SENT,
    DSLOT_API_KEY,      /* apikeys.c: every API request */
    DSLOT_LINK_CONTACT, /* consent.c on PostgreSQL: every click (SQLite keeps its slots) */
    DSLOT_LINK_CONSENT,
    DSLOT_API_CAMP, /* apisend_pg.c: every API send */
    DSLOT_API_RUN,
    DSLOT_API_MSG,
    DSLOT_API_DATA,
    DSLOT_API_CONTACT,
    DSLOT_API_IDEM_GET,
    DSLOT_API_IDEM_DEL,
    DSLOT_API_IDEM_PUT,
    DSLOT_RECEIPT_ADD, /* receipts_pg.c: every status callback */
    DSLOT_RECEIPT_ID,
    DSLOT_RECEIPT_ID_UNKNOWN,
    DSLOT_RECEIPT_DUP,
    DSLOT_RECEIPT_DROP,
    DSLOT_RECEIPT_DONE,
    DSLOT_RECEIPT_COUNT,
    DSLOT_RECEIPT_TARGET,
    DSLOT_MSG_RECEIPT,
    DSLOT_GWID_ADD,
    DSLOT_GWID_FIND,
    DSLOT_LEASES_HELD, /* nodes: a flush's results still under their leases */
    DSLOT_NODE_BEAT,   /* nodes.c: the heartbeat, once a second on PostgreSQL */
    DSLOT_HOOK_TOKEN,  /* hooktokens.c: every Mailgun webhook */
    DSLOT_COUNT
};

struct hd_store {
    sqlite3 *db;        /* SQLite's handle; NULL on PostgreSQL */
    struct hd_db *conn; /* the engine: on SQLite it wraps db (one connection) */
    char *path;
    struct hd_pauses *pauses; /* the shared pause file, once asked for */
    sqlite3_stmt *cache[SLOT_COUNT];
    /* each cached statement, once prepared: true when it neither names the
     * delivery log nor ends a transaction, so the log's waiting rows need
     * not go before it (hd_store_cached_at, log_lite.c) */
    bool cache_quiet[SLOT_COUNT];
    struct {
        unsigned key;            /* the caller's name for the shape; 0: a free place */
        struct hd_db_stmt *stmt; /* NULL while it is lent out */
    } dshapes[STORE_SHAPES];
    struct hd_db_stmt *dcache[DSLOT_COUNT];
    int *wal_frames; /* hd_store_wal_defer's: where a commit notes the WAL's pages */
    int wal_hard;    /* past this many pages the connection checkpoints itself */
    int dchanges;    /* PostgreSQL: rows hd_store_pg_msg_update changed (hd_store_changes) */
    struct hd_pg_log *pg_log;     /* PostgreSQL: delivery-log rows held back (queue_pg.c) */
    struct hd_lite_log *lite_log; /* SQLite: the same (log_lite.c) */
    int64_t hook_pruned;          /* when it last pruned hook_tokens, in s (hooktokens.c) */
    /* PostgreSQL: the target and password as opened (notify.c connects
     * its listener with them; the password is wiped at free) */
    char *target, *password;
    char work[40];           /* a hint noted in the open transaction, or "" (notify.c) */
    struct hd_db *listener;  /* LISTENing on herald_work, or NULL (notify.c) */
    bool listen_wanted;      /* hd_store_listen was called */
    int64_t listen_retry_ms; /* when to try the listener again (hd_clock_mono_ms) */
    bool work_seen;          /* a wake-up taken in while looking for pause hints */
    size_t nhints;           /* pause hints taken in, not yet handed out (notify.c) */
    struct {
        char provider[64];
        int64_t until_ms;
    } hints[8];
};

/* Wake-ups (notify.c). The store function that made work appear notes it:
 * kind is a word of the code's own ("run", "api", ...; never user text)
 * and id a number. PostgreSQL: inside a transaction it is sent with the
 * COMMIT (hd_store_commit), one per transaction; outside one at once; a
 * failed hint outside a transaction is ignored. SQLite: nothing. */
void hd_store_work_note(struct hd_store *st, const char *kind, int64_t id);
/* hd_store_commit on PostgreSQL: COMMIT, after the noted hint if any. */
int hd_store_pg_commit(struct hd_store *st, struct hd_err *err);
/* A rollback forgets the noted hint; free closes the listener. */
void hd_store_work_forget(struct hd_store *st);
void hd_store_listen_close(struct hd_store *st);

/* The store's files move onto db.h (db.h) one function at a time (issue
 * 23). A function still on sqlite3_ calls reaches SQLite only through the
 * helpers below (hd_store_prepare, _cached, _exec, ...), and each of them
 * asks this first: 0 on SQLite; on PostgreSQL HD_E_USAGE, "what is not
 * available on PostgreSQL yet", never a crash on the missing handle. */
int hd_store_sqlite_only(struct hd_store *st, const char *what, struct hd_err *err);
/* Whether the store is on PostgreSQL (converted code picks its SQL by it). */
bool hd_store_is_pg(const struct hd_store *st);
/* Sets err from a failed db.h call, prefixed with what failed: err
 * already holds the engine's message. */
int hd_store_dfail(struct hd_err *err, int rc, const char *what);
/* db.h's hd_store_cached: the statement in slot, prepared from sql (or
 * pg_sql on PostgreSQL when given) the first time, reset. Owned by the store. */
int hd_store_dcached(struct hd_store *st, int slot, const char *sql, const char *pg_sql,
                     struct hd_db_stmt **out, struct hd_err *err);
/* The statement cached for key (not 0), reset; NULL when there is none
 * yet or it is lent out (a callback running the same query again): then
 * the caller prepares its own and hands it to hd_store_dshape_done, which
 * keeps it when a place is free, and otherwise finalizes it. */
struct hd_db_stmt *hd_store_dshape(struct hd_store *st, unsigned key);
void hd_store_dshape_done(struct hd_store *st, unsigned key, struct hd_db_stmt *stmt);
/* Copies column i as a new string, or NULL. */
char *hd_store_dcol_dup(struct hd_db_stmt *stmt, int i);
struct hd_buf;
/* PostgreSQL array literals built an element at a time ("{1,2}"): the
 * first element opens the brace, the caller closes it with '}'. An item as
 * it is (a number, NULL), a text quoted (\ before " and \; NULL for NULL),
 * an integer. */
void hd_store_arr_add(struct hd_buf *b, const char *item);
void hd_store_arr_text(struct hd_buf *b, const char *v);
void hd_store_arr_int(struct hd_buf *b, int64_t v);
/* Binds a LIMIT parameter: limit, or none when it is 0 or less (SQLite's
 * -1, PostgreSQL's NULL). */
void hd_store_bind_limit(struct hd_store *st, struct hd_db_stmt *s, int idx, int64_t limit);

/* herald_lat_bucket(x) (hd_lat_bucket, a latency's histogram bucket) as
 * PostgreSQL computes it: e is the top bit's place, from the number as 64
 * bits of text (metrics.c and log.c both read it). */
#define HD_LAT_BUCKET_PG(x)                                                                        \
    "(SELECT CASE WHEN v < 128 THEN v ELSE least(128 + (e - 7) * 16 + ((v >> (e - 4)) & "          \
    "15), " HD_LAT_STR(HD_LAT_LAST_BUCKET) ") END FROM (SELECT v, 64 - position('1' in "           \
                                           "v::bit(64)::text) AS e FROM (SELECT greatest(" x       \
                                           ", 0) AS v) z) y)"
#define HD_LAT_STR_(x) #x
#define HD_LAT_STR(x) HD_LAT_STR_(x)
#define HD_LAT_LAST_BUCKET 543

/* apisend.c's functions on PostgreSQL (apisend_pg.c): name and channels
 * are the hidden campaign's (apisend.c makes them); idempotency keys made
 * after since are found, those made at or before before are forgotten. */
struct hd_api_send;
struct hd_api_msg;
int hd_store_pg_api_send(struct hd_store *st, const struct hd_api_send *m, const char *name,
                         const char *channels, int64_t *message, struct hd_err *err);
int hd_store_pg_api_contact(struct hd_store *st, const char *ext_id, int64_t *id,
                            struct hd_err *err);
int hd_store_pg_api_msg(struct hd_store *st, int64_t id, int64_t key_id, struct hd_api_msg *out,
                        struct hd_err *err);
int hd_store_pg_idem_get(struct hd_store *st, int64_t key_id, const char *idem,
                         const unsigned char hash[32], int64_t since, bool *same, int *status,
                         char **answer, struct hd_err *err);
int hd_store_pg_idem_put(struct hd_store *st, int64_t key_id, const char *idem,
                         const unsigned char hash[32], int status, const char *answer, int64_t now,
                         int64_t before, struct hd_err *err);

/* receipts.c's functions on PostgreSQL (receipts_pg.c), as receipts.c's
 * (herald/store.h). */
struct hd_receipt;
struct hd_receipt_target;
int hd_store_pg_receipt_add(struct hd_store *st, const struct hd_receipt *r, int64_t *id,
                            bool *added, struct hd_err *err);
int hd_store_pg_receipt_done(struct hd_store *st, int64_t id, int64_t message, int64_t now_ms,
                             bool *first, struct hd_err *err);
int hd_store_pg_receipt_count(struct hd_store *st, int64_t contact, const char *reason,
                              int64_t since_ms, int64_t *n, struct hd_err *err);
int hd_store_pg_receipt_target(struct hd_store *st, int64_t message, const char *provider,
                               const char *gateway_id, struct hd_receipt_target *t, bool *found,
                               struct hd_err *err);
int hd_store_pg_msg_receipt(struct hd_store *st, int64_t message, int from, int to, int64_t now,
                            struct hd_err *err);
int hd_store_pg_gateway_id_add(struct hd_store *st, const char *provider, const char *gateway_id,
                               int64_t message, int64_t at_ms, struct hd_err *err);
int hd_store_pg_gateway_id_find(struct hd_store *st, const char *provider, const char *gateway_id,
                                int64_t *message, struct hd_err *err);

/* Sets err from the connection's last error, prefixed with what failed. */
int hd_store_fail(struct hd_store *st, struct hd_err *err, const char *what);
/* Prepares sql (a literal) or fails with SQLite's message; func names the
 * caller for hd_store_sqlite_only. */
int hd_store_prepare_at(struct hd_store *st, const char *func, const char *sql, sqlite3_stmt **out,
                        struct hd_err *err);
#define hd_store_prepare(st, sql, out, err) hd_store_prepare_at(st, __func__, sql, out, err)
/* The page cache for a bulk write: kib KiB, or SQLite's default (2,000
 * KiB, which every other command keeps) when kib is 0. */
int hd_store_bulk(struct hd_store *st, int kib, struct hd_err *err);
/* Runs statements without results. */
int hd_store_exec_at(struct hd_store *st, const char *func, const char *sql, struct hd_err *err);
#define hd_store_exec(st, sql, err) hd_store_exec_at(st, __func__, sql, err)
/* Registers (on) or drops SQL's herald_lat_bucket(ms) (log.c). */
int hd_store_lat_fn(struct hd_store *st, bool on, struct hd_err *err);
/* Binds s as text, or NULL when s is NULL. */
int hd_store_bind_text(sqlite3_stmt *stmt, int idx, const char *s);
/* The statement in slot, prepared from sql the first time, reset and with
 * its bindings cleared. Owned by the store. The delivery log's waiting
 * rows (log_lite.c) are written first, unless the statement is a plain
 * SELECT, INSERT, UPDATE or DELETE whose text never names the table
 * attempts (no trigger or view names it either: test_store checks). */
int hd_store_cached_at(struct hd_store *st, const char *func, int slot, const char *sql,
                       sqlite3_stmt **out, struct hd_err *err);
#define hd_store_cached(st, slot, sql, out, err)                                                   \
    hd_store_cached_at(st, __func__, slot, sql, out, err)
/* Copies column i as a new string, or NULL. */
char *hd_store_col_dup(sqlite3_stmt *stmt, int i);
/* A note in the meta table (meta.c): get gives a new string the caller
 * frees, or NULL when there is none; set with a NULL value removes it. */
int hd_store_meta_get(struct hd_store *st, const char *key, char **value, struct hd_err *err);
int hd_store_meta_set(struct hd_store *st, const char *key, const char *value, struct hd_err *err);

/* Prepares "head WHERE (cond)", then " AND also" when also is given, with
 * the rule's parameters bound (numbered from ?1; the caller's own use ?901
 * and up); with order (an ORDER BY term), adds "ORDER BY order LIMIT ?N"
 * and sets *limit_param. */
struct hd_seg_node;
int hd_store_prepare_rule(struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                          const char *head, const char *also, const char *order, sqlite3_stmt **out,
                          int *limit_param, struct hd_err *err);

/* hd_store_prepare_rule on db.h, in the store's dialect (PostgreSQL's
 * JSON access, date parts, casts, ...) from the same tree. */
int hd_store_dprepare_rule(struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                           const char *head, const char *also, const char *order,
                           struct hd_db_stmt **out, int *limit_param, struct hd_err *err);
/* queue.c's readers of the claim's consent and sends columns. */
void hd_store_parse_consent(const char *s, int consent[HD_CH_COUNT]);
void hd_store_parse_sent(const char *s, struct hd_claimed *c);
/* queue_pg.c: queue.c's functions of the same names on PostgreSQL. */
int hd_store_pg_claim(struct hd_store *st, int64_t run, unsigned channels, int category,
                      int64_t now, int64_t horizon, int limit, struct hd_claimed **out, size_t *n,
                      struct hd_err *err);
int hd_store_pg_msg_update(struct hd_store *st, const struct hd_msg_update *u, struct hd_err *err);
int hd_store_pg_attempt_add(struct hd_store *st, const struct hd_attempt *a, struct hd_err *err);
/* Frees the delivery-log rows queue_pg.c holds back (none are left once
 * the connection closed: closing drops them). */
void hd_store_pg_log_free(struct hd_store *st);
/* hd_store_attempt_add on SQLite (log_lite.c), and its rows' memory freed */
int hd_store_lite_attempt_add(struct hd_store *st, const struct hd_attempt *a, struct hd_err *err);
void hd_store_lite_log_free(struct hd_store *st);
int hd_store_pg_sends_reserve(struct hd_store *st, const struct hd_send_row *rows, size_t n,
                              int64_t at, int64_t campaign, int category, struct hd_err *err);
int hd_store_pg_send_release(struct hd_store *st, int64_t message, struct hd_err *err);
int hd_store_pg_msgs_sending(struct hd_store *st, const int64_t *ids, size_t n, int64_t owner,
                             int64_t lease_until, int64_t now, int64_t *token, struct hd_err *err);
int hd_store_pg_seg_facts(struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                          int category, int64_t horizon, hd_claimed_cb cb, void *ud,
                          struct hd_err *err);
int hd_store_pg_msgs_sent(struct hd_store *st, const int64_t *ids, size_t n, int channel,
                          int ch_index, int64_t now, struct hd_err *err);

/* segments.c: "head WHERE (rule)tail" prepared through db.h in the
 * store's dialect, the rule's values bound as ?1..?N; returns N (tail's
 * own parameters are unnumbered `?`, which db.h numbers from N + 1:
 * PostgreSQL gives no type to a number skipped, so not the ?901 of
 * hd_store_prepare_rule's callers), or a negative HD_E_*. */
int hd_store_rule_prepare(struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                          const char *head, const char *tail, struct hd_db_stmt **out,
                          struct hd_err *err);

/* The columns hd_store_read_contact reads, for "SELECT " HD_CONTACT_COLS
 * " FROM contacts c ..." */
#define HD_CONTACT_BASE_COLS                                                                       \
    "c.id, c.ext_id, c.email, c.phone, c.locale, c.timezone, c.attrs, c.created_at, "              \
    "c.updated_at, "
#define HD_CONTACT_COLS                                                                            \
    HD_CONTACT_BASE_COLS                                                                           \
    "(SELECT token FROM push_tokens WHERE contact_id = c.id AND platform = 'fcm'), "               \
    "(SELECT token FROM push_tokens WHERE contact_id = c.id AND platform = 'apns'), "              \
    "(SELECT token FROM push_tokens WHERE contact_id = c.id AND platform = 'jpush'), "             \
    "(SELECT token FROM push_tokens WHERE contact_id = c.id AND platform = 'hms'), "               \
    "(SELECT token FROM push_tokens WHERE contact_id = c.id AND platform = 'wechat')"
/* The same columns, the tokens from the rows HD_CONTACT_TOKENS joins (after
 * "FROM contacts c"): a query that also tests the tokens reads each once. */
#define HD_CONTACT_COLS_JOINED                                                                     \
    HD_CONTACT_BASE_COLS "pf.token, pa.token, pj.token, ph.token, pw.token"
#define HD_CONTACT_TOKENS                                                                          \
    " LEFT JOIN push_tokens pf ON pf.contact_id = c.id AND pf.platform = 'fcm'"                    \
    " LEFT JOIN push_tokens pa ON pa.contact_id = c.id AND pa.platform = 'apns'"                   \
    " LEFT JOIN push_tokens pj ON pj.contact_id = c.id AND pj.platform = 'jpush'"                  \
    " LEFT JOIN push_tokens ph ON ph.contact_id = c.id AND ph.platform = 'hms'"                    \
    " LEFT JOIN push_tokens pw ON pw.contact_id = c.id AND pw.platform = 'wechat' "
/* Fills c (consent not included) from a row of HD_CONTACT_COLS. */
void hd_store_read_contact(sqlite3_stmt *s, struct hd_contact *c);

/* A message waiting to be claimed (queued 0, retry_wait 6, deferred 7),
 * on column col: the condition of the partial index messages_due, which a
 * query repeats word for word to use it. Comparisons rather than
 * "IN (0, 6, 7)": SQLite tests a list of three through a temporary table
 * that it builds again for every row an UPDATE changes (an 8 KiB page
 * zeroed each time), twice per row: the old state and the new. */
#define HD_DUE(col) "(" col " = 0 OR " col " = 6 OR " col " = 7)"
_Static_assert(HD_ST_QUEUED == 0 && HD_ST_RETRY_WAIT == 6 && HD_ST_DEFERRED == 7,
               "HD_DUE (and the index messages_due it must match) spells these states as numbers");

/* The claim's shapes (queue.c): which channels' facts it reads, and
 * whether it reads the JSON API's data (only its messages have any), each
 * statement prepared once in a slot of its own on either engine. */
enum {
    HD_SHAPE_EMAIL = 1,
    HD_SHAPE_SMS = 2,
    HD_SHAPE_PUSH = 4,
    HD_SHAPE_WECHAT = 8,
    HD_SHAPE_API = 16
};
#define HD_CLAIM_SHAPES 32
/* The PostgreSQL server's clock, in seconds and in milliseconds: what
 * nodes compare across machines (heartbeats, the rescue's cutoff, provider
 * pauses) is on it, not on each node's own clock, which may be off. */
#define HD_PG_NOW_S "CAST(extract(epoch FROM clock_timestamp()) AS bigint)"
#define HD_PG_NOW_MS "CAST(extract(epoch FROM clock_timestamp()) * 1000 AS bigint)"
/* A provider's pause of ?2 ms from now on the server's clock, a longer one
 * kept (hd_store_provider_pause and the pause hint's write, notify.c). */
#define HD_PG_PAUSE_UPSERT                                                                         \
    "INSERT INTO provider_pauses (provider, until_ms) VALUES (?1, " HD_PG_NOW_MS " + ?2) ON "      \
    "CONFLICT (provider) DO UPDATE SET until_ms = greatest(provider_pauses.until_ms, "           \
    "excluded.until_ms)"

/* A suppression test of the address expression ADDR, a column and ", ". */
#define HD_SUP_EXISTS(ADDR) "EXISTS (SELECT 1 FROM suppressions s WHERE s.address = " ADDR "), "
/* HD_CONTACT_TOKENS' join of one platform's token as ALIAS. */
#define HD_TOKEN_JOIN(ALIAS, PLATFORM)                                                             \
    " LEFT JOIN push_tokens " ALIAS " ON " ALIAS ".contact_id = c.id AND " ALIAS                   \
    ".platform = '" PLATFORM "'"
struct hd_buf;
/* An engine's words for the claim: the consent column, the sends column
 * (each with its parameter) and what follows the joins; and for a push
 * shape the four tokens' columns (FCM, APNs, JPush, Huawei, each followed
 * by ", "), their suppression tests and the join that reads them. */
struct hd_claim_dialect {
    const char *consent, *sends, *tail;
    const char *push_cols, *push_sup, *push_join;
};
/* The push tokens as SQLite's claim reads them: a join a platform. */
#define HD_CLAIM_PUSH_COLS "pf.token, pa.token, pj.token, ph.token, "
#define HD_CLAIM_PUSH_SUP                                                                          \
    HD_SUP_EXISTS("pf.token") HD_SUP_EXISTS("pa.token") HD_SUP_EXISTS("pj.token")                  \
        HD_SUP_EXISTS("ph.token")
#define HD_CLAIM_PUSH_JOIN                                                                         \
    HD_TOKEN_JOIN("pf", "fcm") HD_TOKEN_JOIN("pa", "apns") HD_TOKEN_JOIN("pj", "jpush")            \
        HD_TOKEN_JOIN("ph", "hms")
/* The shape (HD_SHAPE_*) of a campaign's channels (a bit 1 << HD_CH_x
 * each, and HD_CLAIM_API). */
unsigned hd_store_claim_shape(unsigned channels);
/* The claim's statement of a shape into b, in dialect d. */
void hd_store_claim_sql(struct hd_buf *b, unsigned shape, const struct hd_claim_dialect *d);

/* SQL that spells a state or a channel as its number (a literal keeps
 * the statement the same text the planner and the indexes saw) pins the
 * number next to it with a _Static_assert. */

/* Reads a consent row of columns channel, category, status, source, time,
 * message id and campaign name (contacts.c) on db.h; release with
 * hd_consent_release. hd_store_dread_contact: hd_store_read_contact on db.h. */
void hd_store_dread_contact(struct hd_db_stmt *s, struct hd_contact *c);
void hd_store_dread_consent(struct hd_db_stmt *s, struct hd_consent *k);
/* A consent status column ("opted_in", "opted_out") as an hd_consent_status. */
int hd_store_consent_status(sqlite3_stmt *s, int col);

#endif
