/* queue_pg: queue.c's statements on PostgreSQL (issue 23, stage 3b).
 *
 * queue.c keeps SQLite's per-message statements on sqlite3_stmt (the hot
 * path: a db.h indirection there costs instructions per message) and
 * hands each call to the function of the same name here when the store is
 * on PostgreSQL: one test of st->db, chosen per call. Here everything goes
 * through db.h, each statement prepared once (hd_store_dcached), and a
 * round trip per statement is what costs, so what SQLite does a row at a
 * time PostgreSQL does a batch at a time: the claim's state change and the
 * sent messages are one UPDATE over an id array (= ANY), the cap
 * reservations one INSERT from arrays (unnest) with ON CONFLICT DO UPDATE
 * for SQLite's INSERT OR REPLACE, and the delivery log's rows of a
 * transaction are held back and written by one INSERT from arrays before
 * its next statement (db.h's hd_db_defer).
 *
 * The claim reads the due messages with FOR UPDATE OF m SKIP LOCKED in
 * the dispatcher's transaction (claim.c: claim, mark sending, reserve,
 * commit): a second dispatcher on the same store skips the rows the first
 * holds instead of waiting for them or reading them twice, and the
 * messages leave the due states before the locks go. Caps across nodes
 * (stage 4b): the claim picks and locks its messages first, then takes a
 * transaction advisory lock per contact in ascending order, and reads the
 * facts (the contacts' sends) only then, so that two nodes' claims of one
 * contact take turns and the second reads the first's reservations. A
 * provider's cluster-wide rate is a row per provider in provider_rates
 * (hd_store_rate_take, at the end). The next stage (several
 * nodes) fits on this: migration 22 adds a nodes table (id, heartbeat)
 * and messages.lease_token; hd_store_msgs_sending sets lease_owner to the
 * node and lease_token to a value drawn from one sequence for the batch
 * (the fencing token); msg_update, msgs_sent and attempt_add get "AND
 * lease_token = ?" so a late result from a node whose lease was taken
 * over changes nothing (and is logged as such); recovery
 * (hd_store_recover) asks the nodes table, not the process table, which
 * owners stopped beating. */
#include "store_int.h"

#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"
#include "herald/state.h"

/* queue.c's FACTS_COLS in PostgreSQL's words: string_agg for
 * group_concat, EXISTS read as 0/1 by db.h. */
#define PG_FACTS_CONSENT(K, CAT)                                                                   \
    "(SELECT string_agg(k.channel || '=' || k.status, ',') FROM consent k WHERE k.contact_id = " K \
    " AND k.category = " CAT "), "
#define PG_FACTS_SENDS(K, HORIZON)                                                                 \
    "(SELECT string_agg(x.at || ' ' || x.category || ' ' || x.channel || ' ' || "                  \
    "x.campaign_id || ' ' || x.message_id, ',') FROM sends x WHERE x.contact_id = " K              \
    " AND x.at >= " HORIZON ") "
#define PG_FACTS_COLS(K, CAT, HORIZON)                                                             \
    PG_FACTS_CONSENT(K, CAT)                                                                       \
    HD_SUP_EXISTS("lower(c.email)")                                                                \
    HD_SUP_EXISTS("c.phone") HD_SUP_EXISTS("pf.token") HD_SUP_EXISTS("pa.token")                   \
        HD_SUP_EXISTS("pj.token") HD_SUP_EXISTS("ph.token") HD_SUP_EXISTS("pw.token")              \
            PG_FACTS_SENDS(K, HORIZON)

/* A push claim's four tokens from one scan of the contact's push_tokens
 * rows, where SQLite's claim joins them one platform at a time: the four
 * probes of push_tokens_pkey made the facts read 23.3 buffers a message,
 * the scan 14.3 (bench/pg.sh's EXPLAIN, a batch of 512). */
#define PG_PUSH_JOIN                                                                               \
    " LEFT JOIN LATERAL (SELECT max(t.token) FILTER (WHERE t.platform = 'fcm') AS f, "             \
    "max(t.token) FILTER (WHERE t.platform = 'apns') AS a, "                                       \
    "max(t.token) FILTER (WHERE t.platform = 'jpush') AS j, "                                      \
    "max(t.token) FILTER (WHERE t.platform = 'hms') AS h FROM push_tokens t "                      \
    "WHERE t.contact_id = c.id) pt ON true"

/* The claim's facts of the picked messages, in the shape of the
 * campaign's channels (queue.c's hd_store_claim_sql, as SQLite's). */
static const struct hd_claim_dialect pg_claim = {
    PG_FACTS_CONSENT("m.contact_id", "?2"),
    PG_FACTS_SENDS("m.contact_id", "?3"),
    " WHERE m.id = ANY(CAST(?1 AS bigint[])) ORDER BY m.not_before, m.id",
    "pt.f, pt.a, pt.j, pt.h, ",
    HD_SUP_EXISTS("pt.f") HD_SUP_EXISTS("pt.a") HD_SUP_EXISTS("pt.j") HD_SUP_EXISTS("pt.h"),
    PG_PUSH_JOIN};
_Static_assert(DSLOT_CLAIM_LAST - DSLOT_CLAIM == HD_CLAIM_SHAPES - 1,
               "a claim slot for each shape");

/* The claim's first step: the due messages, locked for this transaction
 * (a second node skips them instead of waiting or reading them twice). */
#define PG_PICK_SQL                                                                                \
    "SELECT m.id, m.contact_id FROM messages m WHERE m.run_id = ?1 AND " HD_DUE(                   \
        "m.state") " AND m.not_before <= ?2 ORDER BY m.not_before, m.id LIMIT ?3 FOR UPDATE OF m " \
                   "SKIP LOCKED"

/* Its second: a transaction advisory lock per contact, keyed by herald's
 * "hrlc" and the contact's id (cut to an int), taken in ascending key order
 * so that two nodes never wait for each other in a circle. */
#define PG_CONTACT_LOCK_SQL                                                                        \
    "SELECT count(pg_advisory_xact_lock(1752329315, q.k)) FROM (SELECT DISTINCT "                  \
    "CAST(c % 2147483648 AS int) AS k FROM unnest(CAST(?1 AS bigint[])) AS c WHERE c IS NOT NULL " \
    "ORDER BY k) q"
/* clang-format on */

static void dread_claimed(struct hd_db_stmt *s, struct hd_claimed *c)
{
    enum { M = 14 }; /* the message's columns, after the contact's */
    memset(c, 0, sizeof *c);
    c->has_contact = !hd_db_col_null(s, 0);
    if (c->has_contact)
        hd_store_dread_contact(s, &c->contact);
    c->id = hd_db_col_int64(s, M);
    c->contact_id = hd_db_col_int64(s, M + 1);
    c->state = (int)hd_db_col_int64(s, M + 2);
    const char *v = hd_db_col_text(s, M + 3);
    hd_strcpy_cut(c->variant, sizeof c->variant, v ? v : "");
    c->attempts = (int)hd_db_col_int64(s, M + 4);
    c->ch_index = (int)hd_db_col_int64(s, M + 5);
    c->not_before = hd_db_col_int64(s, M + 6);
    c->expires_at = hd_db_col_int64(s, M + 7);
    hd_store_parse_consent(hd_db_col_text(s, M + 8), c->consent);
    for (int i = 0; i < HD_SUP_COUNT; i++)
        c->suppressed[i] = hd_db_col_int64(s, M + 9 + i) != 0;
    hd_store_parse_sent(hd_db_col_text(s, M + 9 + HD_SUP_COUNT), c);
    if (hd_db_ncols(s) > M + 10 + HD_SUP_COUNT) /* the claim's: an API message's data */
        c->data = hd_store_dcol_dup(s, M + 10 + HD_SUP_COUNT);
}

/* The members first (the rule's parameters are ?1..?N, and db.h numbers a
 * bare ? after the highest before it), then their facts. */
int hd_store_pg_seg_facts(struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                          int category, int64_t horizon, hd_claimed_cb cb, void *ud,
                          struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc, step;
    if ((rc = hd_store_rule_prepare(
             st, ast, now, "WITH members AS (SELECT c.id AS mid FROM contacts c",
             ") SELECT " HD_CONTACT_COLS_JOINED ", 0, c.id, 0, NULL, 0, 0, 0, 0, " PG_FACTS_COLS(
                 "c.id", "?",
                 "?") "FROM members JOIN contacts c ON c.id = members.mid" HD_CONTACT_TOKENS
                      "ORDER BY c.id",
             &s, err)) < 0)
        return rc;
    hd_db_buffer(s); /* the callback may query the store */
    hd_db_bind_text(s, rc + 1, hd_category_name(category), NULL);
    hd_db_bind_int64(s, rc + 2, horizon, NULL);
    rc = 0;
    while ((step = hd_db_step(s, err)) == 1) {
        struct hd_claimed c;
        dread_claimed(s, &c);
        rc = cb(ud, &c);
        hd_claimed_release(&c);
        if (rc)
            goto out;
    }
    if (step < 0)
        rc = hd_store_dfail(err, step, "reading segment members");
out:
    hd_db_finalize(s);
    return rc;
}

/* Steps a cached statement to its end; *changed (may be NULL): its rows. */
static int run_d(struct hd_db_stmt *s, int64_t *changed, const char *what, struct hd_err *err)
{
    int step = hd_db_step(s, err);
    if (step < 0) {
        hd_db_reset(s);
        return hd_store_dfail(err, step, what);
    }
    if (changed)
        *changed = hd_db_changes(s);
    hd_db_reset(s);
    return 0;
}

/* The claim's first two steps: picks up to limit due messages of run,
 * their ids into ids and their contacts into contacts (array literals),
 * then locks those contacts for the transaction. The facts are read after
 * the locks: a node that waited for one reads the sends another node's
 * claim reserved and committed meanwhile (a plain BEGIN reads each
 * statement's own snapshot). *n: how many were picked. */
static int pick_lock(struct hd_store *st, int64_t run, int64_t now, int limit, struct hd_buf *ids,
                     struct hd_buf *contacts, size_t *n, struct hd_err *err)
{
    struct hd_db_stmt *s;
    int rc, step;
    if ((rc = hd_store_dcached(st, DSLOT_CLAIM_PICK, PG_PICK_SQL, NULL, &s, err)) < 0)
        return hd_store_dfail(err, rc, "claiming messages");
    hd_db_buffer(s); /* a batch's rows in one result (see hd_store_pg_claim) */
    hd_db_bind_int64(s, 1, run, NULL);
    hd_db_bind_int64(s, 2, now, NULL);
    hd_db_bind_int64(s, 3, limit, NULL);
    while ((step = hd_db_step(s, err)) == 1) {
        (*n)++;
        hd_store_arr_int(ids, hd_db_col_int64(s, 0));
        if (hd_db_col_null(s, 1))
            hd_store_arr_add(contacts, "NULL");
        else
            hd_store_arr_int(contacts, hd_db_col_int64(s, 1));
    }
    hd_db_reset(s);
    hd_buf_adds(ids, *n ? "}" : "{}");
    hd_buf_adds(contacts, *n ? "}" : "{}");
    if (step < 0)
        return hd_store_dfail(err, step, "claiming messages");
    if (*n == 0)
        return 0;
    if ((rc = hd_store_dcached(st, DSLOT_CLAIM_LOCK, PG_CONTACT_LOCK_SQL, NULL, &s, err)) < 0)
        return hd_store_dfail(err, rc, "locking the claim's contacts");
    hd_db_bind_text(s, 1, contacts->data, NULL);
    return run_d(s, NULL, "locking the claim's contacts", err);
}

/* Picks and locks the messages, locks their contacts, then reads them
 * with their facts (three round trips a batch). */
int hd_store_pg_claim(struct hd_store *st, int64_t run, unsigned channels, int category,
                      int64_t now, int64_t horizon, int limit, struct hd_claimed **out, size_t *n,
                      struct hd_err *err)
{
    struct hd_db_stmt *s;
    struct hd_buf ids, contacts, sql;
    int rc, step = 0;
    size_t cap = 0, picked = 0;
    unsigned shape = hd_store_claim_shape(channels);
    *out = NULL;
    *n = 0;
    hd_buf_init(&ids);
    hd_buf_init(&contacts);
    hd_buf_init(&sql);
    if ((rc = pick_lock(st, run, now, limit, &ids, &contacts, &picked, err)) < 0 || picked == 0)
        goto out;
    if (!st->dcache[DSLOT_CLAIM + shape]) /* each shape put together once */
        hd_store_claim_sql(&sql, shape, &pg_claim);
    if ((rc = hd_store_dcached(st, DSLOT_CLAIM + (int)shape, sql.data, NULL, &s, err)) < 0) {
        rc = hd_store_dfail(err, rc, "claiming messages");
        goto out;
    }
    /* its rows in one result: libpq's single-row mode made a result of
     * each row, copying the statement's 35 columns' descriptions into it
     * (13,000 instructions a message, callgrind) */
    hd_db_buffer(s);
    hd_db_bind_text(s, 1, ids.data, NULL);
    hd_db_bind_text(s, 2, hd_category_name(category), NULL);
    hd_db_bind_int64(s, 3, horizon, NULL);
    while ((step = hd_db_step(s, err)) == 1) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            *out = hd_xrealloc(*out, cap * sizeof **out);
        }
        dread_claimed(s, &(*out)[(*n)++]);
        (*out)[*n - 1].run = run;
    }
    hd_db_reset(s);
    if (step < 0) {
        for (size_t i = 0; i < *n; i++)
            hd_claimed_release(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
        rc = hd_store_dfail(err, step, "claiming messages");
    }
out:
    hd_buf_release(&ids);
    hd_buf_release(&contacts);
    hd_buf_release(&sql);
    return rc;
}

static void bind_opt(struct hd_db_stmt *s, int i, int64_t v, bool present)
{
    if (present)
        hd_db_bind_int64(s, i, v, NULL);
    else
        hd_db_bind_null(s, i, NULL);
}

int hd_store_pg_msg_update(struct hd_store *st, const struct hd_msg_update *u, struct hd_err *err)
{
    struct hd_db_stmt *s;
    int rc = hd_store_dcached(st, DSLOT_MSG_UPDATE,
                              "UPDATE messages SET state = ?2, attempts = ?3, channel = "
                              "coalesce(CAST(?4 AS int), channel), ch_index = ?5, not_before = ?6, "
                              "lease_owner = ?7, lease_until = ?8, reason = ?9, updated_at = ?10 "
                              "WHERE id = ?1 AND state = ?11 AND (?12 = 0 OR lease_token = ?12)",
                              NULL, &s, err);
    int64_t changed = 0;
    if (rc < 0)
        return hd_store_dfail(err, rc, "updating a message");
    hd_db_bind_int64(s, 1, u->id, NULL);
    hd_db_bind_int64(s, 2, u->state, NULL);
    hd_db_bind_int64(s, 3, u->attempts, NULL);
    bind_opt(s, 4, u->channel, u->channel >= 0);
    hd_db_bind_int64(s, 5, u->ch_index, NULL);
    hd_db_bind_int64(s, 6, u->not_before, NULL);
    bind_opt(s, 7, u->lease_owner, u->state == HD_ST_SENDING);
    bind_opt(s, 8, u->lease_until, u->state == HD_ST_SENDING);
    hd_db_bind_text(s, 9, u->reason, NULL);
    hd_db_bind_int64(s, 10, u->now, NULL);
    hd_db_bind_int64(s, 11, u->from, NULL);
    hd_db_bind_int64(s, 12, u->token, NULL);
    rc = run_d(s, &changed, "updating a message", err);
    st->dchanges = (int)changed;
    return rc;
}

/* The delivery log's rows held back while a transaction is open, for one
 * INSERT at its next statement (db.h's hd_db_defer): a row a message was
 * a round trip and the server's work of a statement each, the most of
 * any statement of a send (22 us of the server's time a message in
 * pg_stat_statements). Each column an array literal, in LOG_COLS's
 * order; at most LOG_HOLD rows wait. */
#define LOG_COLS                                                                                   \
    "message_id, attempt, at, done_at, channel, provider, address, outcome, code, text, "          \
    "gateway_id, digest, campaign_id, run_id, contact_id, variant, state, reason, segments, "      \
    "cost, detail"
enum { LOG_NCOLS = 21, LOG_HOLD = 2048 };
struct hd_pg_log {
    size_t n;
    struct hd_buf col[LOG_NCOLS];
};

static void log_drop(struct hd_pg_log *l)
{
    for (size_t i = 0; i < LOG_NCOLS; i++)
        hd_buf_reset(&l->col[i]);
    l->n = 0;
}

/* The rows held back, written now by one INSERT from the arrays. */
static int log_write(struct hd_store *st, struct hd_err *err)
{
    struct hd_pg_log *l = st->pg_log;
    struct hd_db_stmt *s;
    hd_db_defer(st->conn, NULL, NULL);
    if (l->n == 0)
        return 0;
    int rc = hd_store_dcached(
        st, DSLOT_ATTEMPT_ADD,
        "INSERT INTO attempts (" LOG_COLS ") SELECT * FROM unnest(CAST(?1 AS bigint[]), "
        "CAST(?2 AS bigint[]), CAST(?3 AS bigint[]), CAST(?4 AS bigint[]), CAST(?5 AS text[]), "
        "CAST(?6 AS text[]), CAST(?7 AS text[]), CAST(?8 AS text[]), CAST(?9 AS bigint[]), "
        "CAST(?10 AS text[]), CAST(?11 AS text[]), CAST(?12 AS text[]), CAST(?13 AS bigint[]), "
        "CAST(?14 AS bigint[]), CAST(?15 AS bigint[]), CAST(?16 AS text[]), "
        "CAST(?17 AS bigint[]), CAST(?18 AS text[]), CAST(?19 AS bigint[]), "
        "CAST(?20 AS float8[]), CAST(?21 AS text[]))",
        NULL, &s, err);
    if (rc < 0)
        rc = hd_store_dfail(err, rc, "writing the delivery log");
    else {
        for (int i = 0; i < LOG_NCOLS; i++) {
            hd_buf_addc(&l->col[i], '}');
            hd_db_bind_text(s, i + 1, l->col[i].data, NULL);
        }
        rc = run_d(s, NULL, "writing the delivery log", err);
    }
    log_drop(l);
    return rc;
}

static int log_deferred(void *ud, bool flush, struct hd_err *err)
{
    struct hd_store *st = ud;
    if (flush)
        return log_write(st, err);
    log_drop(st->pg_log);
    return 0;
}

void hd_store_pg_log_free(struct hd_store *st)
{
    if (!st->pg_log)
        return;
    for (size_t i = 0; i < LOG_NCOLS; i++)
        hd_buf_release(&st->pg_log->col[i]);
    free(st->pg_log);
    st->pg_log = NULL;
}

static void arr_opt(struct hd_buf *b, int64_t v, bool set)
{
    if (set)
        hd_store_arr_int(b, v);
    else
        hd_store_arr_add(b, "NULL");
}

static void arr_text_opt(struct hd_buf *b, const char *v)
{
    hd_store_arr_text(b, v && *v ? v : NULL);
}

int hd_store_pg_attempt_add(struct hd_store *st, const struct hd_attempt *a, struct hd_err *err)
{
    if (!st->pg_log) {
        st->pg_log = hd_xcalloc(1, sizeof *st->pg_log);
        for (size_t i = 0; i < LOG_NCOLS; i++)
            hd_buf_init(&st->pg_log->col[i]);
    }
    struct hd_buf *c = st->pg_log->col;
    char cost[32] = "NULL";
    if (a->segments > 0)
        snprintf(cost, sizeof cost, "%.17g", a->cost);
    hd_store_arr_int(&c[0], a->message);
    hd_store_arr_int(&c[1], a->attempt);
    hd_store_arr_int(&c[2], a->at_ms);
    arr_opt(&c[3], a->done_ms, a->done_ms > 0);
    hd_store_arr_text(&c[4], a->channel >= 0 ? hd_channel_name(a->channel) : NULL);
    hd_store_arr_text(&c[5], a->provider);
    hd_store_arr_text(&c[6], a->address);
    hd_store_arr_text(&c[7], a->outcome);
    arr_opt(&c[8], a->code, a->code != 0);
    arr_text_opt(&c[9], a->text);
    arr_text_opt(&c[10], a->gateway_id);
    arr_text_opt(&c[11], a->digest);
    hd_store_arr_int(&c[12], a->campaign);
    hd_store_arr_int(&c[13], a->run);
    hd_store_arr_int(&c[14], a->contact);
    hd_store_arr_text(&c[15], a->variant);
    hd_store_arr_int(&c[16], a->state);
    hd_store_arr_text(&c[17], a->reason);
    arr_opt(&c[18], a->segments, a->segments > 0);
    hd_store_arr_add(&c[19], cost);
    hd_store_arr_text(&c[20], a->detail);
    if (++st->pg_log->n >= LOG_HOLD || !hd_db_pg_in_transaction(st->conn))
        return log_write(st, err);
    hd_db_defer(st->conn, log_deferred, st);
    return 0;
}

/* An int64 array literal of n values. */
static void id_array(struct hd_buf *b, const int64_t *ids, size_t n)
{
    hd_buf_reset(b);
    for (size_t i = 0; i < n; i++)
        hd_store_arr_int(b, ids[i]);
    hd_buf_adds(b, n ? "}" : "{}");
}

int hd_store_pg_sends_reserve(struct hd_store *st, const struct hd_send_row *rows, size_t n,
                              int64_t at, int64_t campaign, int category, struct hd_err *err)
{
    struct hd_db_stmt *s;
    struct hd_buf msg, contact, channel;
    if (n == 0)
        return 0;
    int rc = hd_store_dcached(
        st, DSLOT_SEND_RESERVE,
        "INSERT INTO sends (message_id, contact_id, at, campaign_id, category, channel) SELECT "
        "u.m, u.c, ?4, ?5, ?6, u.h FROM unnest(CAST(?1 AS bigint[]), CAST(?2 AS bigint[]), "
        "CAST(?3 AS int[])) AS u(m, c, h) ON CONFLICT (message_id) DO UPDATE SET contact_id = "
        "excluded.contact_id, at = excluded.at, campaign_id = excluded.campaign_id, category = "
        "excluded.category, channel = excluded.channel",
        NULL, &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "reserving sends");
    hd_buf_init(&msg);
    hd_buf_init(&contact);
    hd_buf_init(&channel);
    for (size_t i = 0; i < n; i++) { /* n > 0: each gets its '{' */
        hd_store_arr_int(&msg, rows[i].message);
        hd_store_arr_int(&contact, rows[i].contact);
        hd_store_arr_int(&channel, rows[i].channel);
    }
    hd_buf_addc(&msg, '}');
    hd_buf_addc(&contact, '}');
    hd_buf_addc(&channel, '}');
    hd_db_bind_text(s, 1, msg.data, NULL);
    hd_db_bind_text(s, 2, contact.data, NULL);
    hd_db_bind_text(s, 3, channel.data, NULL);
    hd_db_bind_int64(s, 4, at, NULL);
    hd_db_bind_int64(s, 5, campaign, NULL);
    hd_db_bind_int64(s, 6, category, NULL);
    rc = run_d(s, NULL, "reserving sends", err);
    hd_buf_release(&msg);
    hd_buf_release(&contact);
    hd_buf_release(&channel);
    return rc;
}

int hd_store_pg_send_release(struct hd_store *st, int64_t message, struct hd_err *err)
{
    struct hd_db_stmt *s;
    int rc = hd_store_dcached(st, DSLOT_SEND_RELEASE, "DELETE FROM sends WHERE message_id = ?1",
                              NULL, &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "releasing a send");
    hd_db_bind_int64(s, 1, message, NULL);
    return run_d(s, NULL, "releasing a send", err);
}

_Static_assert(HD_ST_SENDING == 1 && HD_ST_SENT == 2, "the states of the batch updates below");

/* One of the batch updates over all the ids at once: ?1 the ids, ?2..?4
 * the values. */
static int update_ids(struct hd_store *st, int slot, const char *sql, const int64_t *ids, size_t n,
                      int64_t v2, int64_t v3, int64_t v4, const char *what, struct hd_err *err)
{
    struct hd_db_stmt *s;
    struct hd_buf b;
    if (n == 0)
        return 0;
    int rc = hd_store_dcached(st, slot, sql, NULL, &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, what);
    hd_buf_init(&b);
    id_array(&b, ids, n);
    hd_db_bind_text(s, 1, b.data, NULL);
    hd_db_bind_int64(s, 2, v2, NULL);
    hd_db_bind_int64(s, 3, v3, NULL);
    hd_db_bind_int64(s, 4, v4, NULL);
    rc = run_d(s, NULL, what, err);
    hd_buf_release(&b);
    return rc;
}

/* The batch under one fencing token: nextval once (a CTE with a volatile
 * function is not inlined), every row the same value back. */
int hd_store_pg_msgs_sending(struct hd_store *st, const int64_t *ids, size_t n, int64_t owner,
                             int64_t lease_until, int64_t now, int64_t *token, struct hd_err *err)
{
    struct hd_db_stmt *s;
    struct hd_buf b;
    int step;
    *token = 0;
    if (n == 0)
        return 0;
    int rc = hd_store_dcached(
        st, DSLOT_MSGS_SENDING,
        "WITH t AS (SELECT nextval('lease_tokens') AS v) UPDATE messages SET state = 1, "
        "lease_owner = ?2, lease_until = ?3, updated_at = ?4, lease_token = (SELECT v FROM t) "
        "WHERE id = ANY (CAST(?1 AS bigint[])) AND " HD_DUE("state") " RETURNING lease_token",
        NULL, &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "claiming messages");
    hd_buf_init(&b);
    id_array(&b, ids, n);
    hd_db_buffer(s); /* a row a message, as the claim's */
    hd_db_bind_text(s, 1, b.data, NULL);
    hd_db_bind_int64(s, 2, owner, NULL);
    hd_db_bind_int64(s, 3, lease_until, NULL);
    hd_db_bind_int64(s, 4, now, NULL);
    while ((step = hd_db_step(s, err)) == 1)
        *token = hd_db_col_int64(s, 0);
    hd_db_reset(s);
    hd_buf_release(&b);
    return step < 0 ? hd_store_dfail(err, step, "claiming messages") : 0;
}

int hd_store_leases_held(struct hd_store *st, const int64_t *ids, const int64_t *tokens, size_t n,
                         bool *held, struct hd_err *err)
{
    struct hd_db_stmt *s;
    struct hd_buf bi, bt;
    int step;
    for (size_t i = 0; i < n; i++)
        held[i] = !hd_store_is_pg(st); /* SQLite fences nothing */
    if (n == 0 || !hd_store_is_pg(st))
        return 0;
    int rc = hd_store_dcached(st, DSLOT_LEASES_HELD,
                              "SELECT m.id, m.lease_token FROM unnest(CAST(?1 AS bigint[]), "
                              "CAST(?2 AS bigint[])) "
                              "AS u(id, tok) JOIN messages m ON m.id = u.id AND m.state = 1 AND "
                              "m.lease_token = u.tok FOR UPDATE OF m",
                              NULL, &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "checking the leases");
    hd_buf_init(&bi);
    hd_buf_init(&bt);
    id_array(&bi, ids, n);
    id_array(&bt, tokens, n);
    hd_db_buffer(s); /* a row a message, as the claim's */
    hd_db_bind_text(s, 1, bi.data, NULL);
    hd_db_bind_text(s, 2, bt.data, NULL);
    while ((step = hd_db_step(s, err)) == 1) {
        /* by id and token: one batch may hold a message twice, a late
         * result under a token a rescue voided and a fresh one after this
         * node claimed the message again; only the fresh one is held */
        int64_t id = hd_db_col_int64(s, 0), tok = hd_db_col_int64(s, 1);
        for (size_t i = 0; i < n; i++)
            if (ids[i] == id && tokens[i] == tok)
                held[i] = true;
    }
    hd_db_reset(s);
    hd_buf_release(&bi);
    hd_buf_release(&bt);
    return step < 0 ? hd_store_dfail(err, step, "checking the leases") : 0;
}

int hd_store_pg_msgs_sent(struct hd_store *st, const int64_t *ids, size_t n, int channel,
                          int ch_index, int64_t now, struct hd_err *err)
{
    return update_ids(st, DSLOT_MSGS_SENT,
                      "UPDATE messages SET state = 2, attempts = attempts + 1, channel = ?2, "
                      "ch_index = ?3, lease_owner = NULL, lease_until = NULL, reason = NULL, "
                      "updated_at = ?4 WHERE id = ANY (CAST(?1 AS bigint[])) AND state = 1",
                      ids, n, channel, ch_index, now, "recording sent messages", err);
}

/* The bucket refilled for the time since it was counted, at most burst:
 * ?2 per_ms, ?3 burst; r the row, excluded.at_ms the server's now. */
#define RATE_FULL                                                                                  \
    "least(CAST(?3 AS float8), r.tokens + greatest(0, excluded.at_ms - r.at_ms) * "                \
    "CAST(?2 AS float8))"
#define RATE_GIVE "least(CAST(?4 AS bigint), CAST(floor(" RATE_FULL ") AS bigint))"

/* clang-format off */
#define RATE_TAKE_SQL                                                                              \
    "INSERT INTO provider_rates AS r (provider, tokens, at_ms, granted) SELECT ?1, "               \
    "CAST(?3 AS float8) - n.g, n.t, n.g FROM (SELECT CAST(extract(epoch FROM clock_timestamp()) " \
    "* 1000 AS bigint) AS t, least(CAST(?4 AS bigint), CAST(floor(CAST(?3 AS float8)) AS "         \
    "bigint)) AS g) n ON CONFLICT (provider) DO UPDATE SET granted = " RATE_GIVE ", tokens = "      \
    RATE_FULL " - " RATE_GIVE ", at_ms = greatest(r.at_ms, excluded.at_ms) RETURNING granted"
/* clang-format on */

int hd_store_rate_take(struct hd_store *st, const char *provider, double per_ms, double burst,
                       int want, int *got, struct hd_err *err)
{
    struct hd_db_stmt *s;
    int rc, step;
    *got = want;
    if (!hd_store_is_pg(st))
        return 0;
    *got = 0;
    if ((rc = hd_store_dcached(st, DSLOT_RATE_TAKE, RATE_TAKE_SQL, NULL, &s, err)) < 0)
        return hd_store_dfail(err, rc, "taking a provider's tokens");
    hd_db_bind_text(s, 1, provider, NULL);
    hd_db_bind(s, 2, &(struct hd_db_value){.type = HD_DB_REAL, .d = per_ms}, NULL);
    hd_db_bind(s, 3, &(struct hd_db_value){.type = HD_DB_REAL, .d = burst}, NULL);
    hd_db_bind_int64(s, 4, want, NULL);
    if ((step = hd_db_step(s, err)) == 1)
        *got = (int)hd_db_col_int64(s, 0);
    hd_db_reset(s);
    if (step < 0)
        return hd_store_dfail(err, step, "taking a provider's tokens");
    return 0;
}
