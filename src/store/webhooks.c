/* webhooks: the outbound webhooks' cursors and the events they read
 * (issue 20).
 *
 * Every event a webhook carries is already a row of an append-only table:
 * the delivery log (attempts) has sent (outcome accepted), the receipts
 * (delivered, bounced and undelivered, complained, opened) and the
 * failures (a row leaving its message failed or render_failed);
 * consent_log has every opt-out, from any source (a link, the preference
 * centre, a sender's unsubscribe, a complaint, the CLI). So a webhook is a
 * cursor per table (the webhooks table, migration 15): a batch is the next
 * rows past it of the webhook's types, and acknowledging it moves the
 * cursor, in one transaction. Nothing is written when a message is sent.
 * On SQLite the cursor is a row id: ids only grow in commit order (one
 * writer at a time), so a row below a cursor never appears later. The
 * event's id is its source and row ("log-123", "consent-45"): a batch
 * sent again after a crash carries the same ids. A type is computed from
 * the row by one CASE, and the webhook's set is a bit mask parameter: no
 * SQL from configuration. On db.h for both engines (issue 23):
 * PostgreSQL's text, where the dialects differ (greatest for max of two,
 * IS NOT DISTINCT FROM for IS, a bit test compared with 1, an upsert for
 * INSERT OR IGNORE), is chosen by hd_store_is_pg, and a batch is read in
 * one repeatable-read snapshot there.
 *
 * PostgreSQL, several writers (nodes) at once: ids come from sequences
 * when a row is inserted, not when it commits, so a row with a lower id
 * can become visible after a higher one, and an id cursor would pass it
 * for good. There each row also carries its writing transaction's id, X
 * (xact_id, migration 27: pg_current_xact_id(), the top-level 64-bit id
 * even in a subtransaction or a trigger), the cursor is a pair (X, id),
 * rows are read in (X, id) order, and a read takes only rows with X below
 * H, the oldest transaction still running in herald's own database (or,
 * none running there, the snapshot's xmax): the least of xmax and each
 * backend_xid of pg_stat_activity for this database (a 32-bit id, made
 * whole by its distance from xmax), read in a statement of its own before
 * the read's repeatable-read snapshot. Transactions of other databases of
 * the server write none of these rows, so a long one there (another
 * application's) holds nothing back; the server-wide xmin would.
 * Sound because: (1) a transaction with an id below H had ended when H
 * was read, before the snapshot: below xmax it had begun before H's
 * statement, and were it running in this database then, its id would be
 * among those H is the least of; so the rows with X < H are final, each
 * committed and seen by the read, or aborted and never seen by anyone;
 * (2) a row not seen by the snapshot but committed later was written by a
 * transaction running at the snapshot, so also when H was read: with an
 * id taken before H's statement it was among them (X >= H), with one
 * taken after, X >= xmax >= H; (3) a read moves the cursor at most to a
 * row with X < H (the last it took, or the last final row of its window),
 * so every row it could not see and that commits later, X >= H, is still
 * past the cursor, and once seen it is read in its place: nothing is
 * passed, by induction over the reads. (pg_stat_activity is read fresh
 * by a statement outside a transaction; herald prepares no two-phase
 * transactions, which it does not list.) Reading by id with X < H alone
 * would not do: a
 * transaction that took an id first may have the younger X, so a row of
 * an older, committed transaction with a higher id is "old" while the
 * lower id is still in flight. Why not stop at the first row in flight:
 * a read cannot see a row that is not committed, so it cannot know where
 * that row is. No writer waits for another: the price is that an event
 * waits until every transaction that began writing before its own has
 * ended (a long import, or a transaction left open by hand, in any
 * database of the server, holds webhooks back by as long; it loses
 * nothing), and the events arrive in transaction order. The rows there
 * before migration 27 are at X = 0 in id order, and the cursors at
 * (0, their id), so the old cursors mean what they did. A new cursor "from
 * now" starts at (H, 0), before every row to come (X >= H, ids from 1):
 * anything still in flight comes, and rows that
 * committed while an older transaction ran may come twice (a receiver
 * keeps the ids). Lowering a cursor's id when the newest rows go (a
 * prune, an erasure: migration 15's trigger) is needed on SQLite only
 * and harmless here (those rows of the cursor's own X are gone). The
 * other readers that walk a table by id (the inbox's pages, the log's
 * and the console's pages by time and id) list what is there for a
 * person, who lists again from the top; none consumes a stream, so none
 * has this flaw (the pending receipts are a state, not a cursor, and
 * GET /metrics reads aggregates; there is no `herald log --follow`). */
#include "store_int.h"
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/config.h"
#include "herald/state.h"

/* Rows of one table looked at per read at most: a webhook of a rare type
 * passes over the rest a window at a time. */
#define WINDOW 50000
#define STR_(x) #x
#define STR(x) STR_(x)
#define WINDOW_SQL STR(WINDOW)

static void cursor_row(struct hd_db_stmt *s, struct hd_wh_cursor *c)
{
    c->log_id = hd_db_col_int64(s, 0);
    c->consent_id = hd_db_col_int64(s, 1);
    c->next_ms = hd_db_col_int64(s, 2);
    c->attempts = (int)hd_db_col_int64(s, 3);
    const char *e = hd_db_col_text(s, 4);
    snprintf(c->last_error, sizeof c->last_error, "%s", e ? e : "");
    c->last_ok_ms = hd_db_col_int64(s, 5);
    c->delivered = hd_db_col_int64(s, 6);
    c->expired = hd_db_col_int64(s, 7);
    c->lag = hd_db_col_int64(s, 8);
    c->log_xact = hd_db_col_int64(s, 9);
    c->consent_xact = hd_db_col_int64(s, 10);
}

/* Prepares sql, or pg_sql on PostgreSQL when given. */
static int prepare(struct hd_store *st, const char *sql, const char *pg_sql, struct hd_db_stmt **s,
                   struct hd_err *err)
{
    int rc = hd_db_prepare(st->conn, pg_sql && hd_store_is_pg(st) ? pg_sql : sql, s, err);
    return rc < 0 ? hd_store_dfail(err, rc, "webhooks") : 0;
}

/* Steps s to its end and finalizes it; *changed (may be NULL): its rows. */
static int run(struct hd_db_stmt *s, int64_t *changed, struct hd_err *err)
{
    int rc = hd_db_step(s, err);
    if (rc >= 0 && changed)
        *changed = hd_db_changes(s);
    hd_db_finalize(s);
    return rc < 0 ? hd_store_dfail(err, rc, "webhooks") : 0;
}

#define CURSOR_SQL                                                                                 \
    "SELECT log_id, consent_id, next_ms, attempts, last_error, last_ok_ms, delivered, expired, "   \
    "max(0, (SELECT coalesce(max(id), 0) FROM attempts) - log_id) + max(0, (SELECT "               \
    "coalesce(max(id), 0) FROM consent_log) - consent_id), 0, 0 FROM webhooks WHERE name = ?1"

/* PostgreSQL: how far a read may go, H (see the top) */
#define HORIZON_PG                                                                                 \
    "(SELECT least(n.x, coalesce(min(n.x + (CAST(CAST(a.backend_xid AS text) AS bigint) - "        \
    "n.x % 4294967296 + 6442450944) % 4294967296 - 2147483648), n.x)) FROM (SELECT "               \
    "CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS text) AS bigint) AS x) n LEFT JOIN "      \
    "pg_stat_activity a ON a.datname = current_database() AND a.backend_xid IS NOT NULL "         \
    "GROUP BY n.x)"

/* PostgreSQL: the lag is the rows past the cursor a read may take now,
 * counted up to a window a table */
static const char cursor_pg[] =
    "SELECT log_id, consent_id, next_ms, attempts, last_error, last_ok_ms, delivered, expired, "
    "(SELECT count(*) FROM (SELECT 1 FROM attempts WHERE (xact_id, id) > (w.log_xact, w.log_id) "
    "AND xact_id < h.x LIMIT " WINDOW_SQL ") t) + (SELECT count(*) FROM (SELECT 1 FROM "
    "consent_log WHERE (xact_id, id) > (w.consent_xact, w.consent_id) AND xact_id < h.x "
    "LIMIT " WINDOW_SQL ") u), log_xact, consent_xact FROM webhooks w, (SELECT " HORIZON_PG
    " AS x) h WHERE w.name = ?1";

static int cursor_get(struct hd_store *st, const char *name, struct hd_wh_cursor *c, bool *found,
                      struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = prepare(st, CURSOR_SQL, cursor_pg, &s, err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    int step = hd_db_step(s, err);
    *found = step == 1;
    if (*found)
        cursor_row(s, c);
    else if (step < 0)
        rc = hd_store_dfail(err, step, "webhooks");
    hd_db_finalize(s);
    return rc;
}

int hd_store_wh_cursor(struct hd_store *st, const char *name, bool create, bool from_start,
                       int64_t now_ms, struct hd_wh_cursor *c, bool *found, struct hd_err *err)
{
    memset(c, 0, sizeof *c);
    int rc = cursor_get(st, name, c, found, err);
    if (rc < 0 || *found || !create)
        return rc;
    struct hd_db_stmt *s = NULL;
    if ((rc = prepare(
             st,
             "INSERT OR IGNORE INTO webhooks (name, log_id, consent_id, created_ms) VALUES (?1, "
             "CASE WHEN ?2 THEN 0 ELSE (SELECT coalesce(max(id), 0) FROM attempts) END, "
             "CASE WHEN ?2 THEN 0 ELSE (SELECT coalesce(max(id), 0) FROM consent_log) END, ?3)",
             "INSERT INTO webhooks (name, log_id, consent_id, created_ms, log_xact, "
             "consent_xact) SELECT ?1, 0, 0, ?3, x, x FROM (SELECT CASE WHEN CAST(?2 AS "
             "BIGINT) <> 0 THEN 0 ELSE " HORIZON_PG " END AS x) h ON CONFLICT DO NOTHING",
             &s, err)) < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    hd_db_bind_int64(s, 2, from_start, NULL);
    hd_db_bind_int64(s, 3, now_ms, NULL);
    rc = run(s, NULL, err);
    return rc < 0 ? rc : cursor_get(st, name, c, found, err);
}

int hd_store_wh_lease(struct hd_store *st, const char *name, int64_t owner, int64_t now_ms,
                      int64_t until_ms, bool (*alive)(int64_t owner), bool *got, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int64_t holder = 0, until = 0, n = 0;
    int rc = prepare(st, "SELECT lease_owner, lease_until_ms FROM webhooks WHERE name = ?1", NULL,
                     &s, err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    if (hd_db_step(s, NULL) == 1) {
        holder = hd_db_col_int64(s, 0);
        until = hd_db_col_int64(s, 1);
    }
    hd_db_finalize(s);
    /* a lease of another process that is alive and not over holds */
    bool held = holder && holder != owner && until > now_ms && (!alive || alive(holder));
    *got = false;
    if (held)
        return 0;
    if ((rc = prepare(st,
                      "UPDATE webhooks SET lease_owner = ?2, lease_until_ms = ?3 WHERE "
                      "name = ?1 AND lease_owner IS ?4",
                      "UPDATE webhooks SET lease_owner = ?2, lease_until_ms = ?3 WHERE "
                      "name = ?1 AND lease_owner IS NOT DISTINCT FROM CAST(?4 AS BIGINT)",
                      &s, err)) < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    hd_db_bind_int64(s, 2, owner, NULL);
    hd_db_bind_int64(s, 3, until_ms, NULL);
    if (holder)
        hd_db_bind_int64(s, 4, holder, NULL);
    else
        hd_db_bind_null(s, 4, NULL);
    if ((rc = run(s, &n, err)) == 0)
        *got = n == 1; /* another took it meanwhile: not ours */
    return rc;
}

/* ---- reading a batch ------------------------------------------------------------------ */

/* The bit test is compared with 1 (PostgreSQL's WHERE takes only a
 * boolean). RANGE is the rows after the cursor up to the read's end:
 * ?1 and ?2 the ids, on PostgreSQL ?7 and ?8 (the log) or ?5 and ?6
 * (consent_log) their transactions; the last column is a row's. A
 * receipt is an event only where its row's state (the message's after
 * it) is the report's, ?9 to ?12 delivered, undelivered, bounced and
 * complained: a report the state machine refused is logged as ignored
 * and tells no subscriber the opposite of what herald keeps (a review
 * found a "delivered" sent out after "undelivered"); an email's bounce
 * after its delivery suppressed the address, so it stays one. */
#define LOG_SQL(XACT, RANGE, ORDER)                                                                \
    "SELECT a.id, x.t, a.at, a.message_id, a.contact_id, a.campaign_id, c.name, k.ext_id, "        \
    "a.channel, a.provider, a.address, a.reason, a.text, NULL, " XACT " FROM (SELECT id, CASE "    \
    "WHEN outcome = 'accepted' THEN 0 "                                                            \
    "WHEN outcome = 'receipt' THEN CASE WHEN reason = 'delivered' AND state = ?9 THEN 1 "          \
    "  WHEN (reason LIKE 'bounced%' OR reason = 'undelivered') AND (state IN (?10, ?11) OR "       \
    "    (state = ?9 AND channel = 'email')) THEN 2 "                                              \
    "  WHEN reason = 'complained' AND state = ?12 THEN 3 WHEN reason = 'opened' THEN 5 END "       \
    "WHEN state IN (?5, ?6) THEN 6 END AS t FROM attempts WHERE " RANGE ") x "                     \
    "JOIN attempts a ON a.id = x.id LEFT JOIN campaigns c ON c.id = a.campaign_id "                \
    "LEFT JOIN contacts k ON k.id = a.contact_id "                                                 \
    "WHERE x.t IS NOT NULL AND ((CAST(?3 AS BIGINT) >> x.t) & 1) = 1 ORDER BY " ORDER " LIMIT ?4"

#define CONSENT_SQL(XACT, RANGE, ORDER)                                                            \
    "SELECT l.id, 4, l.at * 1000, l.message_id, l.contact_id, l.campaign_id, c.name, k.ext_id, "   \
    "l.channel, NULL, NULL, l.source, NULL, l.category, " XACT " FROM consent_log l "              \
    "LEFT JOIN campaigns c ON c.id = l.campaign_id LEFT JOIN contacts k ON k.id = l.contact_id "   \
    "WHERE " RANGE " AND l.status = 'opted_out' AND ((CAST(?3 AS BIGINT) >> 4) & 1) = 1 "          \
    "ORDER BY " ORDER " LIMIT ?4"

static const char *const rows_sql[2][2] = {
    {LOG_SQL("0", "id > ?1 AND id <= ?2", "a.id"),
     LOG_SQL("a.xact_id", "(xact_id, id) > (?7, ?1) AND (xact_id, id) <= (?8, ?2)",
             "a.xact_id, a.id")},
    {CONSENT_SQL("0", "l.id > ?1 AND l.id <= ?2", "l.id"),
     CONSENT_SQL("l.xact_id", "(l.xact_id, l.id) > (?5, ?1) AND (l.xact_id, l.id) <= (?6, ?2)",
                 "l.xact_id, l.id")},
};

/* PostgreSQL: the last of the next WINDOW final rows (xact_id below ?3) */
static const char *const window_end_pg[2] = {
    "SELECT xact_id, id FROM (SELECT xact_id, id FROM attempts WHERE (xact_id, id) > (?1, ?2) "
    "AND xact_id < ?3 ORDER BY xact_id, id LIMIT " WINDOW_SQL ") w "
    "ORDER BY xact_id DESC, id DESC LIMIT 1",
    "SELECT xact_id, id FROM (SELECT xact_id, id FROM consent_log WHERE (xact_id, id) > "
    "(?1, ?2) AND xact_id < ?3 ORDER BY xact_id, id LIMIT " WINDOW_SQL ") w "
    "ORDER BY xact_id DESC, id DESC LIMIT 1",
};

static const char *const table_of[2] = {"attempts", "consent_log"};

/* A place in a table's read order: (0, id) on SQLite. */
struct pos {
    int64_t xact, id;
};

static bool pos_after(struct pos a, struct pos b)
{
    return a.xact > b.xact || (a.xact == b.xact && a.id > b.id);
}

/* Where a read of source after `after` ends: a window of rows on, or the
 * last row (on PostgreSQL the last final one, below horizon). */
static int window_end(struct hd_store *st, int source, struct pos after, int64_t horizon,
                      struct pos *end, struct hd_err *err)
{
    char sql[160];
    struct hd_db_stmt *s = NULL;
    *end = after;
    if (hd_store_is_pg(st)) {
        int rc = prepare(st, window_end_pg[source], NULL, &s, err);
        if (rc < 0)
            return rc;
        hd_db_bind_int64(s, 1, after.xact, NULL);
        hd_db_bind_int64(s, 2, after.id, NULL);
        hd_db_bind_int64(s, 3, horizon, NULL);
        int step = hd_db_step(s, err);
        if (step == 1)
            *end = (struct pos){hd_db_col_int64(s, 0), hd_db_col_int64(s, 1)};
        hd_db_finalize(s);
        return step < 0 ? hd_store_dfail(err, step, "webhooks") : 0;
    }
    int64_t last = 0;
    snprintf(sql, sizeof sql, "SELECT coalesce(max(id), 0) FROM %s", table_of[source]);
    int rc = hd_db_query_int64(st->conn, sql, &last, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "webhooks");
    if (last > after.id)
        end->id = last - after.id > WINDOW ? after.id + WINDOW : last;
    return 0;
}

static char *col(struct hd_db_stmt *s, int i)
{
    return hd_store_dcol_dup(s, i);
}

static void event_row(struct hd_db_stmt *s, int source, struct hd_wh_event *e)
{
    *e = (struct hd_wh_event){.source = source,
                              .row = hd_db_col_int64(s, 0),
                              .type = (int)hd_db_col_int64(s, 1),
                              .at_ms = hd_db_col_int64(s, 2),
                              .message = hd_db_col_int64(s, 3),
                              .contact = hd_db_col_int64(s, 4),
                              .campaign_id = hd_db_col_int64(s, 5),
                              .campaign = col(s, 6),
                              .contact_ext = col(s, 7),
                              .channel = col(s, 8),
                              .provider = col(s, 9),
                              .address = col(s, 10),
                              .reason = col(s, 11),
                              .text = col(s, 12),
                              .category = source == HD_WH_SRC_CONSENT ? col(s, 13) : NULL};
}

/* The rows of one source after `after` up to `end`, up to limit: *to is
 * how far the read reached (the last row when the limit was met, else
 * end). */
static int read_source(struct hd_store *st, int source, struct pos after, struct pos end,
                       unsigned set, size_t limit, struct hd_wh_batch *b, struct pos *to,
                       struct hd_err *err)
{
    bool pg = hd_store_is_pg(st);
    *to = end;
    if (limit == 0 || !pos_after(end, after)) {
        *to = after;
        return 0;
    }
    struct hd_db_stmt *s = NULL;
    int rc = prepare(st, rows_sql[source][pg], NULL, &s, err), step;
    if (rc < 0)
        return rc;
    int x = source == HD_WH_SRC_LOG ? 7 : 5; /* the transactions' parameters */
    hd_db_bind_int64(s, 1, after.id, NULL);
    hd_db_bind_int64(s, 2, end.id, NULL);
    hd_db_bind_int64(s, 3, set, NULL);
    hd_db_bind_int64(s, 4, (int64_t)limit, NULL);
    if (source == HD_WH_SRC_LOG) {
        hd_db_bind_int64(s, 5, HD_ST_FAILED, NULL);
        hd_db_bind_int64(s, 6, HD_ST_RENDER_FAILED, NULL);
        hd_db_bind_int64(s, 9, HD_ST_DELIVERED, NULL);
        hd_db_bind_int64(s, 10, HD_ST_UNDELIVERED, NULL);
        hd_db_bind_int64(s, 11, HD_ST_BOUNCED, NULL);
        hd_db_bind_int64(s, 12, HD_ST_COMPLAINED, NULL);
    }
    if (pg) {
        hd_db_bind_int64(s, x, after.xact, NULL);
        hd_db_bind_int64(s, x + 1, end.xact, NULL);
    }
    size_t got = 0;
    struct pos last = after;
    while ((step = hd_db_step(s, err)) == 1) {
        HD_GROW(b->v, b->n);
        event_row(s, source, &b->v[b->n++]);
        last = (struct pos){hd_db_col_int64(s, 14), hd_db_col_int64(s, 0)};
        got++;
    }
    if (step < 0)
        rc = hd_store_dfail(err, step, "webhook events");
    else if (got == limit)
        *to = last;
    hd_db_finalize(s);
    return rc;
}

int hd_store_wh_batch(struct hd_store *st, const struct hd_wh_cursor *c, unsigned set, size_t limit,
                      struct hd_wh_batch *b, struct hd_err *err)
{
    memset(b, 0, sizeof *b);
    bool pg = hd_store_is_pg(st);
    int64_t horizon = 0;
    struct pos log_end, consent_end, log_to, consent_to;
    struct pos log_at = {c->log_xact, c->log_id}, consent_at = {c->consent_xact, c->consent_id};
    /* on PostgreSQL the horizon first, in a statement of its own (see
     * the top), then one read transaction: the ends and the rows of one
     * snapshot */
    int rc;
    if (pg && (rc = hd_db_query_int64(st->conn, "SELECT " HORIZON_PG, &horizon, err)) < 0)
        return hd_store_dfail(err, rc, "webhooks");
    const char *begin = pg ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN";
    if ((rc = hd_db_exec(st->conn, begin, err)) < 0)
        return hd_store_dfail(err, rc, "webhooks");
    if ((rc = window_end(st, HD_WH_SRC_LOG, log_at, horizon, &log_end, err)) < 0 ||
        (rc = window_end(st, HD_WH_SRC_CONSENT, consent_at, horizon, &consent_end, err)) < 0 ||
        (rc = read_source(st, HD_WH_SRC_LOG, log_at, log_end, set, limit, b, &log_to, err)) < 0 ||
        (rc = read_source(st, HD_WH_SRC_CONSENT, consent_at, consent_end, set, limit - b->n, b,
                          &consent_to, err)) < 0)
        goto out;
    b->log_to = log_to.id;
    b->log_to_xact = log_to.xact;
    b->consent_to = consent_to.id;
    b->consent_to_xact = consent_to.xact;
out:
    hd_store_rollback(st);
    if (rc < 0)
        hd_wh_batch_release(b);
    return rc;
}

void hd_wh_batch_release(struct hd_wh_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++) {
        struct hd_wh_event *e = &b->v[i];
        free(e->campaign);
        free(e->contact_ext);
        free(e->channel);
        free(e->provider);
        free(e->address);
        free(e->reason);
        free(e->text);
        free(e->category);
    }
    free(b->v);
    memset(b, 0, sizeof *b);
}

/* ---- acknowledging ---------------------------------------------------------------------- */

#define ACK_TAIL                                                                                   \
    "next_ms = 0, attempts = 0, last_error = NULL, last_ok_ms = ?4, delivered = delivered + ?5, "  \
    "expired = expired + ?6, lease_owner = NULL, lease_until_ms = NULL WHERE name = ?1"

/* PostgreSQL: each pair (xact, id) becomes (?7, ?2) and (?8, ?3) when
 * that lies past it (both SET expressions read the row as it was) */
#define LOG_PAST "(CAST(?7 AS BIGINT), CAST(?2 AS BIGINT)) > (log_xact, log_id)"
#define CONSENT_PAST "(CAST(?8 AS BIGINT), CAST(?3 AS BIGINT)) > (consent_xact, consent_id)"
static const char ack_pg[] =
    "UPDATE webhooks SET log_xact = CASE WHEN " LOG_PAST " THEN ?7 ELSE log_xact END, "
    "log_id = CASE WHEN " LOG_PAST " THEN ?2 ELSE log_id END, "
    "consent_xact = CASE WHEN " CONSENT_PAST " THEN ?8 ELSE consent_xact END, "
    "consent_id = CASE WHEN " CONSENT_PAST " THEN ?3 ELSE consent_id END, " ACK_TAIL;

int hd_store_wh_ack(struct hd_store *st, const char *name, const struct hd_wh_batch *b,
                    int64_t delivered, int64_t expired, int64_t now_ms, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = prepare(st,
                     "UPDATE webhooks SET log_id = max(log_id, ?2), consent_id = max(consent_id, "
                     "?3), " ACK_TAIL,
                     ack_pg, &s, err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    hd_db_bind_int64(s, 2, b->log_to, NULL);
    hd_db_bind_int64(s, 3, b->consent_to, NULL);
    hd_db_bind_int64(s, 4, now_ms, NULL);
    hd_db_bind_int64(s, 5, delivered, NULL);
    hd_db_bind_int64(s, 6, expired, NULL);
    if (hd_store_is_pg(st)) {
        hd_db_bind_int64(s, 7, b->log_to_xact, NULL);
        hd_db_bind_int64(s, 8, b->consent_to_xact, NULL);
    }
    return run(s, NULL, err);
}

int hd_store_wh_fail(struct hd_store *st, const char *name, int attempts, int64_t next_ms,
                     const char *error, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = prepare(st,
                     "UPDATE webhooks SET attempts = ?2, next_ms = ?3, last_error = ?4, "
                     "lease_owner = NULL, lease_until_ms = NULL WHERE name = ?1",
                     NULL, &s, err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    hd_db_bind_int64(s, 2, attempts, NULL);
    hd_db_bind_int64(s, 3, next_ms, NULL);
    hd_db_bind_text(s, 4, error, NULL);
    return run(s, NULL, err);
}
