/* queue: what the dispatcher reads and writes for every message: claiming
 * due messages with what their checks need in one statement (the facts
 * of the campaign's channels only, and the API's data only for the API's
 * campaigns, in one of 32 shapes), state changes, the delivery log (its
 * rows on SQLite through log_lite.c), cap reservations, and recovery of
 * messages a dead dispatcher left in flight. The per-message statements are prepared
 * once (hd_store_cached); the dispatcher groups them in transactions, and
 * cap reservations go 16 rows to a statement. On PostgreSQL each of them
 * hands over to its namesake in queue_pg.c (one test of st->db per call,
 * so SQLite's hot path keeps its sqlite3_stmt): the claim there locks
 * what it reads (FOR UPDATE SKIP LOCKED), and queue_pg.c's header says how
 * several nodes will fit on it (a node id, a lease and a fencing token per
 * claimed message, results written only while the token matches). */
#include "store_int.h"

#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/state.h"
#include "herald/time.h"

void hd_claimed_release(struct hd_claimed *c)
{
    if (!c)
        return;
    hd_contact_release(&c->contact);
    free(c->sent);
    free(c->data);
    memset(c, 0, sizeof *c);
}

/* What the checks need to know of a contact (id expression K), after
 * HD_CONTACT_COLS_JOINED and eight message columns: consent for the
 * category CAT, the seven suppressions, and sends since HORIZON
 * (parameters). The tokens are the joined ones: looked up again in a
 * subquery each, the claim took 1 µs more per message. */
#define FACTS_CONSENT(K, CAT)                                                                      \
    "(SELECT group_concat(k.channel || '=' || k.status) FROM consent k WHERE k.contact_id = " K    \
    " AND k.category = " CAT "), "
#define FACTS_SENDS(K, HORIZON)                                                                    \
    "(SELECT group_concat(x.at || ' ' || x.category || ' ' || x.channel || ' ' || "                \
    "x.campaign_id || ' ' || x.message_id, ',') FROM sends x WHERE x.contact_id = " K              \
    " AND x.at >= " HORIZON ") "
#define FACTS_COLS(K, CAT, HORIZON)                                                                \
    FACTS_CONSENT(K, CAT)                                                                          \
    HD_SUP_EXISTS("lower(c.email)")                                                                \
    HD_SUP_EXISTS("c.phone")                                                                       \
    HD_SUP_EXISTS("pf.token")                                                                      \
    HD_SUP_EXISTS("pa.token") HD_SUP_EXISTS("pj.token") HD_SUP_EXISTS("ph.token")                  \
        HD_SUP_EXISTS("pw.token") FACTS_SENDS(K, HORIZON)

_Static_assert(SLOT_CLAIM_LAST - SLOT_CLAIM == HD_CLAIM_SHAPES - 1, "a claim slot for each shape");

unsigned hd_store_claim_shape(unsigned channels)
{
    return (channels & 1u << HD_CH_EMAIL ? HD_SHAPE_EMAIL : 0) |
           (channels & 1u << HD_CH_SMS ? HD_SHAPE_SMS : 0) |
           (channels & 1u << HD_CH_PUSH ? HD_SHAPE_PUSH : 0) |
           (channels & 1u << HD_CH_WECHAT ? HD_SHAPE_WECHAT : 0) |
           (channels & HD_CLAIM_API ? HD_SHAPE_API : 0);
}

/* The facts of the shape's channels only, the others' columns NULL and
 * false in their places. check.c reads the address, suppression and
 * tokens of the campaign's channels only, so leaving the rest out changes
 * no decision; a push campaign read three suppressions and the WeChat
 * openid it never used, an email campaign six and five token joins. The
 * API's data is read for its hidden campaigns only: a campaign's message
 * has none, and the lookup cost 1,500 instructions a message. */
void hd_store_claim_sql(struct hd_buf *b, unsigned shape, const struct hd_claim_dialect *d)
{
    bool email = shape & HD_SHAPE_EMAIL, sms = shape & HD_SHAPE_SMS, push = shape & HD_SHAPE_PUSH,
         wechat = shape & HD_SHAPE_WECHAT, api = shape & HD_SHAPE_API;
    hd_buf_adds(b, "SELECT " HD_CONTACT_BASE_COLS);
    hd_buf_adds(b, push ? d->push_cols : "NULL, NULL, NULL, NULL, ");
    hd_buf_adds(b, wechat ? "pw.token" : "NULL");
    hd_buf_adds(b, ", m.id, m.contact_id, m.state, m.variant, m.attempts, m.ch_index, "
                   "m.not_before, m.expires_at, ");
    hd_buf_adds(b, d->consent);
    hd_buf_adds(b, email ? HD_SUP_EXISTS("lower(c.email)") : "0, ");
    hd_buf_adds(b, sms ? HD_SUP_EXISTS("c.phone") : "0, ");
    hd_buf_adds(b, push ? d->push_sup : "0, 0, 0, 0, ");
    hd_buf_adds(b, wechat ? HD_SUP_EXISTS("pw.token") : "0, ");
    hd_buf_adds(b, d->sends);
    hd_buf_adds(b, api ? ", (SELECT a.data FROM api_messages a WHERE a.message_id = m.id) "
                       : ", NULL ");
    hd_buf_adds(b, "FROM messages m LEFT JOIN contacts c ON c.id = m.contact_id");
    if (push)
        hd_buf_adds(b, d->push_join);
    if (wechat)
        hd_buf_adds(b, HD_TOKEN_JOIN("pw", "wechat"));
    hd_buf_adds(b, d->tail);
}

void hd_store_parse_consent(const char *s, int consent[HD_CH_COUNT])
{
    while (s && *s) {
        char ch[16] = "", st[16] = "";
        size_t n = strcspn(s, ",");
        if (sscanf(s, "%15[^=]=%15[^,]", ch, st) == 2) {
            int c = hd_channel_parse(ch);
            if (c >= 0)
                consent[c] =
                    strcmp(st, "opted_out") == 0 ? HD_CONSENT_OPTED_OUT : HD_CONSENT_OPTED_IN;
        }
        s += n + (s[n] == ',');
    }
}

void hd_store_parse_sent(const char *s, struct hd_claimed *c)
{
    size_t cap = 0;
    while (s && *s) {
        long long at, camp, msg;
        int cat, ch;
        size_t n = strcspn(s, ",");
        if (sscanf(s, "%lld %d %d %lld %lld", &at, &cat, &ch, &camp, &msg) == 5) {
            if (c->nsent == cap) {
                cap = cap ? 2 * cap : 8;
                c->sent = hd_xrealloc(c->sent, cap * sizeof *c->sent);
            }
            c->sent[c->nsent++] = (struct hd_sent){at, camp, cat, ch, msg};
        }
        s += n + (s[n] == ',');
    }
}

static void read_claimed(sqlite3_stmt *s, struct hd_claimed *c)
{
    enum { M = 14 }; /* the message's columns, after the contact's */
    memset(c, 0, sizeof *c);
    c->has_contact = sqlite3_column_type(s, 0) != SQLITE_NULL;
    if (c->has_contact)
        hd_store_read_contact(s, &c->contact);
    c->id = sqlite3_column_int64(s, M);
    c->contact_id = sqlite3_column_int64(s, M + 1);
    c->state = sqlite3_column_int(s, M + 2);
    const char *v = (const char *)sqlite3_column_text(s, M + 3);
    hd_strcpy_cut(c->variant, sizeof c->variant, v ? v : "");
    c->attempts = sqlite3_column_int(s, M + 4);
    c->ch_index = sqlite3_column_int(s, M + 5);
    c->not_before = sqlite3_column_int64(s, M + 6);
    c->expires_at = sqlite3_column_int64(s, M + 7);
    hd_store_parse_consent((const char *)sqlite3_column_text(s, M + 8), c->consent);
    for (int i = 0; i < HD_SUP_COUNT; i++)
        c->suppressed[i] = sqlite3_column_int(s, M + 9 + i) != 0;
    hd_store_parse_sent((const char *)sqlite3_column_text(s, M + 9 + HD_SUP_COUNT), c);
    if (sqlite3_column_count(s) > M + 10 + HD_SUP_COUNT) /* the claim's: an API message's data */
        c->data = hd_store_col_dup(s, M + 10 + HD_SUP_COUNT);
}

int hd_store_seg_facts(struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                       int category, int64_t horizon, hd_claimed_cb cb, void *ud,
                       struct hd_err *err)
{
    if (!st->db)
        return hd_store_pg_seg_facts(st, ast, now, category, horizon, cb, ud, err);
    sqlite3_stmt *s = NULL;
    int rc, step, limit;
    if ((rc = hd_store_prepare_rule(st, ast, now,
                                    "SELECT " HD_CONTACT_COLS_JOINED
                                    ", 0, c.id, 0, NULL, 0, 0, 0, 0, " FACTS_COLS(
                                        "c.id", "?901", "?902") "FROM contacts c" HD_CONTACT_TOKENS,
                                    NULL, "c.id", &s, &limit, err)) < 0)
        return rc;
    sqlite3_bind_text(s, 901, hd_category_name(category), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 902, horizon);
    sqlite3_bind_int64(s, limit, -1);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct hd_claimed c;
        read_claimed(s, &c);
        rc = cb(ud, &c);
        hd_claimed_release(&c);
        if (rc)
            goto out;
    }
    if (step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "reading segment members");
out:
    sqlite3_finalize(s);
    return rc;
}

int hd_store_claim(struct hd_store *st, int64_t run, unsigned channels, int category, int64_t now,
                   int64_t horizon, int limit, struct hd_claimed **out, size_t *n,
                   struct hd_err *err)
{
    if (!st->db)
        return hd_store_pg_claim(st, run, channels, category, now, horizon, limit, out, n, err);
    sqlite3_stmt *s;
    int rc, step;
    size_t cap = 0;
    static const struct hd_claim_dialect lite = {
        FACTS_CONSENT("m.contact_id", "?3"), FACTS_SENDS("m.contact_id", "?4"),
        " WHERE m.run_id = ?1 AND " HD_DUE("m.state") " AND m.not_before <= ?2 "
                                                      "ORDER BY m.not_before, m.id LIMIT ?5",
        HD_CLAIM_PUSH_COLS, HD_CLAIM_PUSH_SUP, HD_CLAIM_PUSH_JOIN};
    unsigned shape = hd_store_claim_shape(channels);
    int slot = SLOT_CLAIM + (int)shape;
    struct hd_buf sql;
    *out = NULL;
    *n = 0;
    hd_buf_init(&sql);
    if (!st->cache[slot]) /* each shape put together once */
        hd_store_claim_sql(&sql, shape, &lite);
    rc = hd_store_cached(st, slot, sql.data, &s, err);
    hd_buf_release(&sql);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, run);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_text(s, 3, hd_category_name(category), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, horizon);
    sqlite3_bind_int(s, 5, limit);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            *out = hd_xrealloc(*out, cap * sizeof **out);
        }
        read_claimed(s, &(*out)[(*n)++]);
        (*out)[*n - 1].run = run;
    }
    sqlite3_reset(s);
    if (step != SQLITE_DONE) {
        for (size_t i = 0; i < *n; i++)
            hd_claimed_release(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
        return hd_store_fail(st, err, "claiming messages");
    }
    return 0;
}

static int run_cached(struct hd_store *st, sqlite3_stmt *s, struct hd_err *err, const char *what)
{
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : hd_store_fail(st, err, what);
    sqlite3_reset(s);
    return rc;
}

int hd_store_msg_update(struct hd_store *st, const struct hd_msg_update *u, struct hd_err *err)
{
    if (!st->db)
        return hd_store_pg_msg_update(st, u, err);
    sqlite3_stmt *s;
    int rc = hd_store_cached(st, SLOT_MSG_UPDATE,
                             "UPDATE messages SET state = ?2, attempts = ?3, channel = "
                             "coalesce(?4, channel), ch_index = ?5, not_before = ?6, "
                             "lease_owner = ?7, lease_until = ?8, reason = ?9, updated_at = ?10 "
                             "WHERE id = ?1 AND state = ?11",
                             &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, u->id);
    sqlite3_bind_int(s, 2, u->state);
    sqlite3_bind_int(s, 3, u->attempts);
    if (u->channel >= 0)
        sqlite3_bind_int(s, 4, u->channel);
    sqlite3_bind_int(s, 5, u->ch_index);
    sqlite3_bind_int64(s, 6, u->not_before);
    if (u->state == HD_ST_SENDING) {
        sqlite3_bind_int64(s, 7, u->lease_owner);
        sqlite3_bind_int64(s, 8, u->lease_until);
    }
    hd_store_bind_text(s, 9, u->reason);
    sqlite3_bind_int64(s, 10, u->now);
    sqlite3_bind_int(s, 11, u->from);
    return run_cached(st, s, err, "updating a message");
}

int hd_store_attempt_add(struct hd_store *st, const struct hd_attempt *a, struct hd_err *err)
{
    if (!st->db)
        return hd_store_pg_attempt_add(st, a, err);
    return hd_store_lite_attempt_add(st, a, err);
}

/* Reservations go RESERVE_BATCH rows to a statement: one row at a time,
 * each paid the statement's own work (its cursors opened and closed, its
 * program started) again, about half of the 11,000 instructions a row. */
#define RESERVE_BATCH 16
#define RESERVE_ROW "(?, ?, ?, ?, ?, ?)"
#define RESERVE_ROWS4 RESERVE_ROW ", " RESERVE_ROW ", " RESERVE_ROW ", " RESERVE_ROW
#define RESERVE_SQL                                                                                \
    "INSERT OR REPLACE INTO sends (message_id, contact_id, at, campaign_id, category, channel) "   \
    "VALUES "
_Static_assert(RESERVE_BATCH == 16, "the four RESERVE_ROWS4 of the statement below");

int hd_store_sends_reserve(struct hd_store *st, const struct hd_send_row *rows, size_t n,
                           int64_t at, int64_t campaign, int category, struct hd_err *err)
{
    if (!st->db)
        return hd_store_pg_sends_reserve(st, rows, n, at, campaign, category, err);
    sqlite3_stmt *s;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n;) {
        size_t k = n - i >= RESERVE_BATCH ? RESERVE_BATCH : 1;
        rc = k > 1 ? hd_store_cached(st, SLOT_SEND_RESERVE_MANY,
                                     RESERVE_SQL RESERVE_ROWS4 ", " RESERVE_ROWS4 ", " RESERVE_ROWS4
                                                               ", " RESERVE_ROWS4,
                                     &s, err)
                   : hd_store_cached(st, SLOT_SEND_RESERVE, RESERVE_SQL RESERVE_ROW, &s, err);
        for (size_t j = 0; rc == 0 && j < k; j++, i++) {
            int b = (int)j * 6;
            sqlite3_bind_int64(s, b + 1, rows[i].message);
            sqlite3_bind_int64(s, b + 2, rows[i].contact);
            sqlite3_bind_int64(s, b + 3, at);
            sqlite3_bind_int64(s, b + 4, campaign);
            sqlite3_bind_int(s, b + 5, category);
            sqlite3_bind_int(s, b + 6, rows[i].channel);
        }
        if (rc == 0)
            rc = run_cached(st, s, err, "reserving sends");
    }
    return rc;
}

int hd_store_send_release(struct hd_store *st, int64_t message, struct hd_err *err)
{
    if (!st->db)
        return hd_store_pg_send_release(st, message, err);
    sqlite3_stmt *s;
    int rc =
        hd_store_cached(st, SLOT_SEND_RELEASE, "DELETE FROM sends WHERE message_id = ?1", &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, message);
    return run_cached(st, s, err, "releasing a send");
}

_Static_assert(HD_CH_EMAIL == 0 && HD_CH_SMS == 1 && HD_CH_PUSH == 2 && HD_CH_INBOX == 3 &&
                   HD_CH_WECHAT == 4,
               "requeue_owner's CASE");
_Static_assert(HD_ST_QUEUED == 0 && HD_ST_SENDING == 1, "requeue_owner's and recover's states");

/* The messages of a dispatcher that stopped go back to the queue, each
 * with a `requeued` row in the log: a decision (skipped), not a request to
 * a gateway, since it may or may not have gone on the wire. For the same
 * reason its cap reservation stays: a message that may have been sent
 * counts against the caps, whatever the answer to its next attempt
 * (write.c), and when it is claimed again the caps do not count it
 * against itself (check.c). */
static int requeue_owner(struct hd_store *st, int64_t owner, int64_t now, bool expired_only,
                         const char *who, int64_t *n, struct hd_err *err)
{
    static const char *const sql[] = {
        "INSERT INTO attempts (message_id, attempt, at, done_at, channel, outcome, reason, text, "
        "campaign_id, run_id, contact_id, variant, state) SELECT m.id, m.attempts, CAST(?2 AS "
        "bigint) * 1000, CAST(?2 AS bigint) * 1000, CASE m.channel WHEN 0 THEN 'email' WHEN 1 "
        "THEN 'sms' WHEN 2 THEN 'push' WHEN 3 THEN 'inbox' WHEN 4 THEN 'wechat' END, "
        "'skipped', 'requeued', ?4, r.campaign_id, m.run_id, m.contact_id, m.variant, 0 "
        "FROM messages m JOIN runs r ON r.id = m.run_id WHERE m.state = 1 AND m.lease_owner = ?1 "
        "AND (?3 = 0 OR m.lease_until < ?2)%s ORDER BY m.id",
        /* SQLite's scalar min(), PostgreSQL's least() */
        "UPDATE messages SET state = 0, lease_owner = NULL, lease_until = NULL, lease_token = "
        "NULL, not_before = "
        "%s(not_before, ?2), updated_at = ?2 WHERE state = 1 AND lease_owner = ?1 AND "
        "(?3 = 0 OR lease_until < ?2)%s",
    };
    /* PostgreSQL: rows another transaction holds (a frozen node stopped
     * inside its claim or its flush) are left for a later recovery rather
     * than waited for; the statement's own locks are not skipped */
    static const char *const skip[] = {
        " AND m.id IN (SELECT l.id FROM messages l WHERE l.state = 1 AND l.lease_owner = ?1 FOR "
        "UPDATE SKIP LOCKED)",
        " AND id IN (SELECT l.id FROM messages l WHERE l.state = 1 AND l.lease_owner = ?1 FOR "
        "UPDATE SKIP LOCKED)",
    };
    enum { NSQL = sizeof sql / sizeof sql[0] };
    char why[160], text[1024];
    snprintf(why, sizeof why,
             "%s %lld stopped while the message was in flight; it may have been sent "
             "and goes again with the same id",
             who, (long long)owner);
    for (int i = 0; i < NSQL; i++) {
        struct hd_db_stmt *s = NULL;
        bool pg = hd_store_is_pg(st);
        if (i == 0)
            snprintf(text, sizeof text, sql[0], pg ? skip[0] : "");
        else
            snprintf(text, sizeof text, sql[1], pg ? "least" : "min", pg ? skip[1] : "");
        int rc = hd_db_prepare(st->conn, text, &s, err), step;
        if (rc < 0)
            return hd_store_dfail(err, rc, "recovering messages");
        hd_db_bind_int64(s, 1, owner, NULL);
        hd_db_bind_int64(s, 2, now, NULL);
        hd_db_bind_int64(s, 3, expired_only, NULL);
        if (i == 0)
            hd_db_bind_text(s, 4, why, NULL);
        if ((step = hd_db_step(s, err)) < 0)
            rc = hd_store_dfail(err, step, "recovering messages");
        else if (i == NSQL - 1)
            *n += hd_db_changes(s);
        hd_db_finalize(s);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The messages just put back of campaigns cancelled while a dispatcher
 * held them, cancelled as the cancel does the queue's: no claim takes a
 * cancelled campaign's messages, and they stayed queued for good (a
 * review found 221 so after a SIGKILL). */
static int cancel_requeued(struct hd_store *st, int64_t now, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int64_t ids[64], done;
    size_t nids = 0;
    int rc = hd_db_prepare(st->conn,
                           "SELECT DISTINCT c.id FROM campaigns c JOIN runs r ON r.campaign_id = "
                           "c.id JOIN messages m ON m.run_id = r.id WHERE c.status = 'cancelled' "
                           "AND " HD_DUE("m.state") " LIMIT 64",
                           &s, err),
        step;
    if (rc < 0)
        return hd_store_dfail(err, rc, "cancelling requeued messages");
    while ((step = hd_db_step(s, err)) == 1)
        ids[nids++] = hd_db_col_int64(s, 0);
    hd_db_finalize(s);
    if (step < 0)
        return hd_store_dfail(err, step, "cancelling requeued messages");
    for (size_t i = 0; rc == 0 && i < nids; i++)
        rc = hd_store_campaign_cancel(st, ids[i], now * 1000, &done, err);
    return rc;
}

int hd_store_recover(struct hd_store *st, int64_t self, int64_t now, hd_alive_fn alive, int64_t *n,
                     struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int64_t owners[256];
    size_t nowners = 0;
    int rc, step;
    *n = 0;
    if ((rc = hd_store_begin(st, err)) < 0)
        return rc;
    if ((rc = hd_db_prepare(st->conn,
                            "SELECT DISTINCT lease_owner FROM messages WHERE state = 1 LIMIT 256",
                            &s, err)) < 0) {
        rc = hd_store_dfail(err, rc, "recovering messages");
        goto out;
    }
    while ((step = hd_db_step(s, err)) == 1)
        owners[nowners++] = hd_db_col_int64(s, 0);
    if (step < 0)
        rc = hd_store_dfail(err, step, "recovering messages");
    hd_db_finalize(s);
    for (size_t i = 0; rc == 0 && i < nowners; i++)
        if (owners[i] != self)
            rc = requeue_owner(st, owners[i], now, alive(owners[i]), "dispatcher", n, err);
    /* always: a dispatcher stopped in good order also puts back what it
     * held, cancelled campaign or not */
    if (rc == 0)
        rc = cancel_requeued(st, now, err);
    if (rc == 0)
        rc = hd_store_commit(st, err);
out:
    if (rc < 0)
        hd_store_rollback(st);
    return rc;
}

/* The owners (node ids) of messages in sending that have lost their
 * lease: no row, stopped, or no beat for ?2 seconds (lease), on the
 * server's clock, which the beats are on too (nodes.c). */
#define LOST_OWNERS_SQL                                                                            \
    "SELECT DISTINCT m.lease_owner FROM messages m LEFT JOIN nodes n ON n.id = m.lease_owner "     \
    "WHERE m.state = 1 AND m.lease_owner <> ?1 AND (n.id IS NULL OR n.stopped_at IS NOT NULL OR "  \
    "n.heartbeat_at < " HD_PG_NOW_S " - ?2) LIMIT 256"

int hd_store_recover_nodes(struct hd_store *st, int64_t self, int64_t now, int64_t lease, bool mine,
                           int64_t *n, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int64_t owners[256];
    size_t nowners = 0;
    int rc, step = 0;
    *n = 0;
    if ((rc = hd_store_begin(st, err)) < 0)
        return rc;
    if (mine)
        owners[nowners++] = self;
    else if ((rc = hd_db_prepare(st->conn, LOST_OWNERS_SQL, &s, err)) < 0)
        rc = hd_store_dfail(err, rc, "recovering messages");
    else {
        hd_db_bind_int64(s, 1, self, NULL);
        hd_db_bind_int64(s, 2, lease, NULL);
        while ((step = hd_db_step(s, err)) == 1)
            owners[nowners++] = hd_db_col_int64(s, 0);
        if (step < 0)
            rc = hd_store_dfail(err, step, "recovering messages");
        hd_db_finalize(s);
    }
    for (size_t i = 0; rc == 0 && i < nowners; i++)
        rc = requeue_owner(st, owners[i], now, false, "node", n, err);
    if (rc == 0 && *n > 0)
        rc = cancel_requeued(st, now, err);
    if (rc == 0 && *n > 0)
        hd_store_work_note(st, "rescue", *n);
    if (rc == 0)
        rc = hd_store_commit(st, err);
    if (rc < 0)
        hd_store_rollback(st);
    return rc;
}

static int one_int(struct hd_store *st, const char *sql, int64_t arg, int64_t *v,
                   struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn, sql, &s, err), step;
    if (rc < 0)
        return hd_store_dfail(err, rc, "reading the queue");
    hd_db_bind_int64(s, 1, arg, NULL);
    if ((step = hd_db_step(s, err)) == 1)
        *v = hd_db_col_null(s, 0) ? -1 : hd_db_col_int64(s, 0);
    else
        rc = hd_store_dfail(err, step < 0 ? step : HD_E_STORE, "reading the queue");
    hd_db_finalize(s);
    return rc;
}

int hd_store_run_next_due(struct hd_store *st, int64_t run, int64_t *next, struct hd_err *err)
{
    return one_int(st,
                   "SELECT min(not_before) FROM messages WHERE run_id = ?1 AND " HD_DUE("state"),
                   run, next, err);
}

int hd_store_run_open_count(struct hd_store *st, int64_t run, int64_t *n, struct hd_err *err)
{
    _Static_assert(HD_ST_SENDING == 1, "state = 1 below is sending");
    return one_int(st,
                   "SELECT (SELECT count(*) FROM messages WHERE run_id = ?1 AND " HD_DUE(
                       "state") ") + (SELECT count(*) FROM messages WHERE run_id = ?1 AND state = "
                                "1)",
                   run, n, err);
}

int hd_store_runs_newest(struct hd_store *st, int64_t *id, struct hd_err *err)
{
    return one_int(st, "SELECT coalesce(max(id), 0) + 0 * ?1 FROM runs", 0, id, err);
}

int hd_store_instance(struct hd_store *st, char out[33], struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn, "SELECT value FROM meta WHERE key = 'instance'", &s, err),
        step;
    if (rc < 0)
        return hd_store_dfail(err, rc, "reading the instance id");
    if ((step = hd_db_step(s, err)) == 1)
        snprintf(out, 33, "%s", hd_db_col_text(s, 0));
    else
        rc = hd_store_dfail(err, step < 0 ? step : HD_E_STORE, "reading the instance id");
    hd_db_finalize(s);
    return rc;
}

int hd_store_provider_pause(struct hd_store *st, const char *provider, int64_t until_ms,
                            struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    bool pg = hd_store_is_pg(st);
    /* SQLite's scalar max(), PostgreSQL's greatest(); on PostgreSQL the end
     * on the server's clock, which every node reads it by */
    int rc = hd_db_prepare(
            st->conn,
            pg ? HD_PG_PAUSE_UPSERT
               : "INSERT INTO provider_pauses (provider, until_ms) VALUES (?1, ?2) "
                 "ON CONFLICT (provider) DO UPDATE SET until_ms = "
                 "max(until_ms, excluded.until_ms)",
            &s, err),
        step;
    if (rc < 0)
        return hd_store_dfail(err, rc, "pausing a provider");
    hd_db_bind_text(s, 1, provider, NULL);
    hd_db_bind_int64(s, 2, pg ? until_ms - hd_clock_now_ms(NULL) : until_ms, NULL);
    if ((step = hd_db_step(s, err)) < 0)
        rc = hd_store_dfail(err, step, "pausing a provider");
    hd_db_finalize(s);
    return rc;
}

int hd_store_provider_pauses(struct hd_store *st, int64_t now_ms, hd_pause_cb cb, void *ud,
                             struct hd_err *err)
{
    struct hd_db_stmt *s;
    bool pg = hd_store_is_pg(st);
    /* on PostgreSQL what is left of each, on the server's clock */
    int rc = hd_store_dcached(st, DSLOT_PAUSES,
                              "SELECT provider, until_ms FROM provider_pauses WHERE until_ms > ?1",
                              "SELECT provider, until_ms - " HD_PG_NOW_MS
                              " FROM provider_pauses WHERE until_ms > " HD_PG_NOW_MS,
                              &s, err);
    int step;
    if (rc < 0)
        return hd_store_dfail(err, rc, "reading provider pauses");
    if (!pg)
        hd_db_bind_int64(s, 1, now_ms, NULL);
    while ((step = hd_db_step(s, err)) == 1)
        cb(ud, hd_db_col_text(s, 0), (pg ? now_ms : 0) + hd_db_col_int64(s, 1));
    if (step < 0)
        rc = hd_store_dfail(err, step, "reading provider pauses");
    hd_db_reset(s);
    return rc;
}

int hd_store_variant_counts(struct hd_store *st, int64_t campaign, hd_variant_count_cb cb, void *ud,
                            struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    /* the variants in byte order on both */
    int rc = hd_db_prepare(st->conn,
                           hd_store_is_pg(st)
                               ? "SELECT coalesce(variant, '') COLLATE \"C\", state, count(*) "
                                 "FROM messages WHERE run_id IN (SELECT id FROM runs WHERE "
                                 "campaign_id = ?1) GROUP BY 1, 2 ORDER BY 1, 2"
                               : "SELECT coalesce(variant, ''), state, count(*) FROM messages "
                                 "WHERE run_id IN (SELECT id FROM runs WHERE campaign_id = ?1) "
                                 "GROUP BY 1, 2 ORDER BY 1, 2",
                           &s, err);
    int step;
    if (rc < 0)
        return hd_store_dfail(err, rc, "counting variants");
    hd_db_buffer(s); /* the callback may query the store (PostgreSQL) */
    hd_db_bind_int64(s, 1, campaign, NULL);
    while ((step = hd_db_step(s, err)) == 1)
        if ((rc = cb(ud, hd_db_col_text(s, 0), (int)hd_db_col_int64(s, 1),
                     hd_db_col_int64(s, 2))) != 0)
            break;
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, step, "counting variants");
    hd_db_finalize(s);
    return rc;
}

/* Runs one of the batch updates, once per id: ?1 the id, ?2..?4 the
 * values. A statement per row costs less than one over the ids as a JSON
 * array, which SQLite parses and gathers into a temporary index first. */
static int update_ids(struct hd_store *st, int slot, const char *sql, const int64_t *ids, size_t n,
                      int64_t v2, int64_t v3, int64_t v4, const char *what, struct hd_err *err)
{
    sqlite3_stmt *s;
    if (n == 0)
        return 0;
    int rc = hd_store_cached(st, slot, sql, &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 2, v2);
    sqlite3_bind_int64(s, 3, v3);
    sqlite3_bind_int64(s, 4, v4);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_bind_int64(s, 1, ids[i]);
        rc = run_cached(st, s, err, what);
    }
    return rc;
}

_Static_assert(HD_ST_SENDING == 1 && HD_ST_SENT == 2, "the states of the batch updates below");

/* Guarded by what the claim read (HD_DUE): each moves from the state it
 * was in, and one that left it meanwhile stays. */

int hd_store_msgs_sending(struct hd_store *st, const int64_t *ids, size_t n, int64_t owner,
                          int64_t lease_until, int64_t now, int64_t *token, struct hd_err *err)
{
    if (!st->db)
        return hd_store_pg_msgs_sending(st, ids, n, owner, lease_until, now, token, err);
    *token = 0;
    return update_ids(st, SLOT_MSGS_SENDING,
                      "UPDATE messages SET state = 1, lease_owner = ?2, lease_until = ?3, "
                      "updated_at = ?4 WHERE id = ?1 AND " HD_DUE("state"),
                      ids, n, owner, lease_until, now, "claiming messages", err);
}

int hd_store_msgs_sent(struct hd_store *st, const int64_t *ids, size_t n, int channel, int ch_index,
                       int64_t now, struct hd_err *err)
{
    if (!st->db)
        return hd_store_pg_msgs_sent(st, ids, n, channel, ch_index, now, err);
    return update_ids(st, SLOT_MSGS_SENT,
                      "UPDATE messages SET state = 2, attempts = attempts + 1, channel = ?2, "
                      "ch_index = ?3, lease_owner = NULL, lease_until = NULL, reason = NULL, "
                      "updated_at = ?4 WHERE id = ?1 AND state = 1",
                      ids, n, channel, ch_index, now, "recording sent messages", err);
}
