/* log: reading the delivery log for herald log, history, why and stats;
 * conversion events; pruning old rows into totals; pseudonyms.
 *
 * The log's filters are put together from constant SQL fragments, each
 * with its own parameter number, so SQLite can pick the index a filter
 * has (campaign, contact, time) and no user text becomes SQL. */
#include "store_int.h"

#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"
#include "herald/lat.h"
#include "herald/state.h"

/* ---- the log ------------------------------------------------------------------------ */

#define LOG_COLS                                                                                   \
    "a.id, a.message_id, a.run_id, a.contact_id, a.attempt, a.state, a.code, a.segments, a.at, "   \
    "a.done_at, a.cost, c.name, k.ext_id, a.variant, a.channel, a.provider, a.address, "           \
    "a.outcome, a.reason, a.text, a.gateway_id, a.digest, a.detail, r.seq, a.campaign_id "         \
    "FROM attempts a LEFT JOIN campaigns c ON c.id = a.campaign_id "                               \
    "LEFT JOIN runs r ON r.id = a.run_id "                                                         \
    "LEFT JOIN contacts k ON k.id = a.contact_id WHERE 1 = 1"

/* The time a row is listed at. A receipt's own time is the gateway's,
 * often in whole seconds, while the attempt it reports on is stored to the
 * millisecond: listed at its own time, "delivered" could come before the
 * attempt (or even before the message was considered). So a receipt is
 * listed no earlier than the rows of its message written before it; the
 * row still shows the gateway's time. The rows are found through the
 * contact's index (attempts has none on message_id), and only for
 * receipts. Only a list narrowed to a contact or a message (history, why,
 * herald log --contact, a message's events) is ordered so: sorting by an
 * expression cannot walk the time index, and the whole log's newest 100
 * of a million rows took 0.8 s instead of 1 ms; the whole log, or a
 * campaign's, stays in the order of the times it shows. */
#define LOG_ORDER                                                                                  \
    "CASE WHEN a.outcome = 'receipt' THEN max(a.at, coalesce((SELECT max(b.at) FROM attempts b "   \
    "WHERE b.contact_id = a.contact_id AND b.message_id = a.message_id AND b.id < a.id), a.at)) "  \
    "ELSE a.at END"
/* PostgreSQL's scalar max is greatest */
#define LOG_ORDER_PG                                                                               \
    "CASE WHEN a.outcome = 'receipt' THEN greatest(a.at, coalesce((SELECT max(b.at) FROM "         \
    "attempts b WHERE b.contact_id = a.contact_id AND b.message_id = a.message_id AND b.id < "     \
    "a.id), a.at)) ELSE a.at END"

void hd_contact_pseudonym(int64_t id, char *buf, size_t size)
{
    if (id < 0)
        snprintf(buf, size, "deleted-%lld", -(long long)id);
    else
        snprintf(buf, size, "#%lld", (long long)id);
}

/* The query's shape: which of f's filters are given, and the order (0
 * is never a shape: the order's bit is set either way). */
static unsigned log_key(const struct hd_log_filter *f)
{
    return (f->campaign ? 1u : 0) | (f->run ? 2u : 0) | (f->contact ? 4u : 0) |
           (f->channel ? 8u : 0) | (f->provider ? 16u : 0) | (f->outcome ? 32u : 0) |
           (f->reason ? 64u : 0) | (f->since_ms ? 128u : 0) | (f->until_ms ? 256u : 0) |
           (f->gateway_id ? 512u : 0) | (f->message ? 1024u : 0) |
           (f->oldest_first ? 2048u : 4096u) | (f->after_id ? 8192u : 0);
}

/* The query for f's filters: a constant fragment for each one given. */
static void log_sql(const struct hd_log_filter *f, bool pg, struct hd_buf *sql)
{
    hd_buf_adds(sql, "SELECT " LOG_COLS);
    if (f->campaign)
        hd_buf_adds(sql, " AND a.campaign_id = ?1");
    if (f->run)
        hd_buf_adds(sql, " AND a.run_id = ?2");
    if (f->contact)
        hd_buf_adds(sql, " AND a.contact_id = ?3");
    if (f->channel)
        hd_buf_adds(sql, " AND a.channel = ?4");
    if (f->provider)
        hd_buf_adds(sql, " AND a.provider = ?5");
    if (f->outcome)
        hd_buf_adds(sql, " AND a.outcome = ?6");
    if (f->reason)
        hd_buf_adds(sql, " AND a.reason = ?7");
    if (f->since_ms)
        hd_buf_adds(sql, " AND a.at >= ?8");
    if (f->until_ms)
        hd_buf_adds(sql, " AND a.at < ?9");
    if (f->gateway_id)
        hd_buf_adds(sql, " AND a.gateway_id = ?11");
    if (f->message)
        hd_buf_adds(sql, " AND a.message_id = ?12");
    if (f->after_id) /* a range of the time index, then of the ids of one instant */
        hd_buf_adds(sql, f->oldest_first ? " AND a.at >= ?13 AND (a.at > ?13 OR a.id > ?14)"
                                         : " AND a.at <= ?13 AND (a.at < ?13 OR a.id < ?14)");
    if ((!f->contact && !f->message) || f->after_id)
        hd_buf_adds(sql, f->oldest_first ? " ORDER BY a.at, a.id LIMIT ?10"
                                         : " ORDER BY a.at DESC, a.id DESC LIMIT ?10");
    else if (!pg)
        hd_buf_adds(sql, f->oldest_first ? " ORDER BY " LOG_ORDER ", a.id LIMIT ?10"
                                         : " ORDER BY " LOG_ORDER " DESC, a.id DESC LIMIT ?10");
    else
        hd_buf_adds(sql, f->oldest_first ? " ORDER BY " LOG_ORDER_PG ", a.id LIMIT ?10"
                                         : " ORDER BY " LOG_ORDER_PG " DESC, a.id DESC LIMIT ?10");
}

int hd_store_log_query(struct hd_store *st, const struct hd_log_filter *f, hd_log_cb cb, void *ud,
                       struct hd_err *err)
{
    /* cached by shape: the receipts a service applies look their message
     * up here, and compiling this join cost more than running it */
    unsigned key = log_key(f);
    struct hd_db_stmt *s = hd_store_dshape(st, key);
    int rc = 0, step;
    if (!s) {
        struct hd_buf sql;
        hd_buf_init(&sql);
        log_sql(f, hd_store_is_pg(st), &sql);
        rc = hd_db_prepare(st->conn, sql.data, &s, err);
        hd_buf_release(&sql);
        if (rc < 0)
            return hd_store_dfail(err, rc, "reading the delivery log");
        hd_db_buffer(s); /* a callback may query the store (PostgreSQL) */
    }
    hd_db_bind_int64(s, 1, f->campaign, NULL);
    hd_db_bind_int64(s, 2, f->run, NULL);
    hd_db_bind_int64(s, 3, f->contact, NULL);
    hd_db_bind_text(s, 4, f->channel, NULL);
    hd_db_bind_text(s, 5, f->provider, NULL);
    hd_db_bind_text(s, 6, f->outcome, NULL);
    hd_db_bind_text(s, 7, f->reason, NULL);
    hd_db_bind_int64(s, 8, f->since_ms, NULL);
    hd_db_bind_int64(s, 9, f->until_ms, NULL);
    hd_store_bind_limit(st, s, 10, f->limit);
    hd_db_bind_text(s, 11, f->gateway_id, NULL);
    if (f->message)
        hd_db_bind_int64(s, 12, f->message, NULL);
    if (f->after_id) {
        hd_db_bind_int64(s, 13, f->after_ms, NULL);
        hd_db_bind_int64(s, 14, f->after_id, NULL);
    }
    while ((step = hd_db_step(s, err)) == 1) {
#define T(i) hd_db_col_text(s, i)
#define I(i) hd_db_col_int64(s, i)
        char pseudo[32];
        struct hd_log_row r = {.id = I(0),
                               .message = I(1),
                               .run = I(2),
                               .contact_id = I(3),
                               .attempt = (int)I(4),
                               .state = (int)I(5),
                               .code = (int)I(6),
                               .segments = (int)I(7),
                               .at_ms = I(8),
                               .done_ms = I(9),
                               .cost = hd_db_col_double(s, 10),
                               .campaign = T(11),
                               .contact = T(12),
                               .variant = T(13),
                               .channel = T(14),
                               .provider = T(15),
                               .address = T(16),
                               .outcome = T(17),
                               .reason = T(18),
                               .text = T(19),
                               .gateway_id = T(20),
                               .digest = T(21),
                               .detail = T(22),
                               .run_seq = I(23),
                               .campaign_id = I(24)};
#undef T
#undef I
        if (!r.campaign)
            r.campaign = "-";
        if (!r.contact) {
            hd_contact_pseudonym(r.contact_id, pseudo, sizeof pseudo);
            r.contact = pseudo;
        }
        if ((rc = cb(ud, &r)) != 0)
            break;
    }
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, step, "reading the delivery log");
    hd_store_dshape_done(st, key, s);
    return rc;
}

int hd_store_contact_ref(struct hd_store *st, const char *ref, int64_t *id, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_store_dcached(st, DSLOT_CONTACT_REF, "SELECT id FROM contacts WHERE ext_id = ?1",
                              NULL, &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "finding the contact");
    hd_db_bind_text(s, 1, ref, NULL);
    int step = hd_db_step(s, err);
    long long n;
    int used = 0;
    if (step == 1)
        *id = hd_db_col_int64(s, 0);
    else if (step < 0)
        rc = hd_store_dfail(err, step, "finding the contact");
    else if (sscanf(ref, "deleted-%lld%n", &n, &used) == 1 && ref[used] == '\0' && n > 0)
        *id = -n; /* a contact id first: an external id may look like a pseudonym */
    else
        rc = hd_err_set(err, HD_E_NOTFOUND, "no contact with id '%s'", ref);
    hd_db_reset(s);
    return rc;
}

/* ---- messages of a contact ------------------------------------------------------------- */

int hd_store_contact_messages(struct hd_store *st, int64_t contact, int64_t campaign,
                              hd_msg_info_cb cb, void *ud, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    /* runs are few: one look-up in (run_id, contact_id) for each */
    int rc = hd_db_prepare(
            st->conn,
            "SELECT m.id, m.run_id, r.campaign_id, r.fire_at, m.updated_at, m.state, "
            "coalesce(m.channel, -1), m.attempts, c.name, c.segment, m.variant, m.reason, "
            "m.not_before, r.seq, " HD_RUN_FIRED_SQL " "
            "FROM runs r JOIN campaigns c ON c.id = r.campaign_id JOIN messages m ON "
            "m.run_id = r.id AND m.contact_id = ?1 WHERE ?2 = 0 OR r.campaign_id = ?2 "
            "ORDER BY r.fire_at, m.id",
            &s, err),
        step;
    if (rc < 0)
        return hd_store_dfail(err, rc, "reading the contact's messages");
    hd_db_buffer(s);
    hd_db_bind_int64(s, 1, contact, NULL);
    hd_db_bind_int64(s, 2, campaign, NULL);
    while ((step = hd_db_step(s, err)) == 1) {
        struct hd_msg_info m = {.id = hd_db_col_int64(s, 0),
                                .run = hd_db_col_int64(s, 1),
                                .campaign = hd_db_col_int64(s, 2),
                                .fire_at = hd_db_col_int64(s, 3),
                                .updated_at = hd_db_col_int64(s, 4),
                                .state = (int)hd_db_col_int64(s, 5),
                                .channel = (int)hd_db_col_int64(s, 6),
                                .attempts = (int)hd_db_col_int64(s, 7),
                                .campaign_name = hd_db_col_text(s, 8),
                                .segment = hd_db_col_text(s, 9),
                                .variant = hd_db_col_text(s, 10),
                                .reason = hd_db_col_text(s, 11),
                                .due = hd_db_col_int64(s, 12),
                                .seq = hd_db_col_int64(s, 13),
                                .fired_at = hd_db_col_int64(s, 14)};
        if ((rc = cb(ud, &m)) != 0)
            break;
    }
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, step, "reading the contact's messages");
    hd_db_finalize(s);
    return rc;
}

/* ---- statistics ------------------------------------------------------------------------ */

int hd_stats_by_parse(const char *s)
{
    static const char *const names[] = {"", "channel", "variant", "provider", "day"};
    for (int i = 1; i < 5; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* The group of a log row (live, in attempts) and of a total (pruned, in
 * log_totals, where "no value" is ''); ?2 is HD_ST_HELD_OUT. A query is
 * "SELECT " group live " UNION ALL SELECT " group total. */
static const char *const group_live[] = {
    "''",
    "coalesce(channel, '-')",
    "CASE WHEN state = ?2 THEN 'holdout' ELSE coalesce(variant, '-') END",
    "coalesce(provider, '-')",
    "strftime('%Y-%m-%d', at / 1000, 'unixepoch')",
};
/* the same on PostgreSQL: the day by to_char */
static const char *const group_live_pg[] = {
    "''",
    "coalesce(channel, '-')",
    "CASE WHEN state = ?2 THEN 'holdout' ELSE coalesce(variant, '-') END",
    "coalesce(provider, '-')",
    "to_char(to_timestamp(at / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
};
static const char *const group_total[] = {
    "''",
    "coalesce(nullif(channel, ''), '-')",
    "CASE WHEN state = ?2 THEN 'holdout' ELSE coalesce(nullif(variant, ''), '-') END",
    "coalesce(nullif(provider, ''), '-')",
    "day",
};
/* log_latency has no state: held-out messages have no latency anyway */
static const char *const group_latency[] = {
    "''",
    "coalesce(nullif(channel, ''), '-')",
    "coalesce(nullif(variant, ''), '-')",
    "coalesce(nullif(provider, ''), '-')",
    "day",
};

/* herald_lat_bucket(done_at - at) (hd_lat_bucket) as PostgreSQL computes
 * it: e is the top bit's place, from the number as 64 bits of text */

static int stats_prepare(struct hd_store *st, int by, const char *live,
                         const char *const *total_group, const char *total, int64_t campaign,
                         struct hd_db_stmt **s, struct hd_err *err)
{
    if (by < HD_BY_NONE || by > HD_BY_DAY)
        HD_BUG("bad stats grouping %d", by);
    struct hd_buf sql;
    hd_buf_init(&sql);
    hd_buf_adds(&sql, "SELECT ");
    hd_buf_adds(&sql, (hd_store_is_pg(st) ? group_live_pg : group_live)[by]);
    hd_buf_adds(&sql, live);
    hd_buf_adds(&sql, " UNION ALL SELECT ");
    hd_buf_adds(&sql, total_group[by]);
    hd_buf_adds(&sql, total);
    int rc = hd_db_prepare(st->conn, sql.data, s, err);
    hd_buf_release(&sql);
    if (rc < 0)
        return rc;
    hd_db_buffer(*s);
    hd_db_bind_int64(*s, 1, campaign, NULL);
    hd_db_bind_int64(*s, 2, HD_ST_HELD_OUT, NULL);
    return 0;
}

/* A message counts once as bounced (a second sender's report, or another
 * event of the same sender, is a row too), by its hard bounce if it has
 * one (a soft bounce, a delay, before the final "no such user" does not
 * make the message a soft bounce), else by its first bounce:
 * each live group of bounce receipts also gives its rows' "MESSAGE:ID,..."
 * (group_concat, PostgreSQL's string_agg; any order), the rows are sorted
 * by message, hard ones first, then by id, and only each message's first
 * is counted, under its own group, reason and state. So
 * the log is read once, and no row looks for others (a subquery for each
 * bounce row made PostgreSQL cost the whole scan so high that it compiled
 * it, 0.1 s becoming 0.6 s at 200,000 rows). Pruned rows are totals: a
 * message's later bounce pruned apart from its first counts again. */
#define BOUNCE_OF                                                                                  \
    "CASE WHEN outcome = 'receipt' AND reason IN ('bounced_hard', 'bounced_soft', "                \
    "'bounced_other') THEN message_id || ':' || id END"
#define STATS_LIVE(LIST)                                                                           \
    ", outcome, coalesce(reason, ''), state, count(*), coalesce(sum(segments), 0), "               \
    "coalesce(sum(cost), 0), " LIST " FROM attempts WHERE campaign_id = ?1 GROUP BY 1, 2, 3, 4"
#define STATS_TOTAL                                                                                \
    ", outcome, reason, state, sum(n), sum(segments), sum(cost), NULL FROM log_totals WHERE "      \
    "campaign_id = ?1 GROUP BY 1, 2, 3, 4"

struct bounce {
    int64_t message, id;
    bool hard;  /* a bounced_hard row: it counts before the message's others */
    size_t row; /* its group of rows, in struct bounces' rows */
};
struct bounces {
    struct hd_stat_count *rows; /* copies: group and reason owned, n counted anew */
    size_t nrows;
    struct bounce *v;
    size_t n;
};

/* c's rows, listed in list, kept for later. */
static void bounces_add(struct bounces *b, const struct hd_stat_count *c, const char *list)
{
    HD_GROW(b->rows, b->nrows);
    struct hd_stat_count *r = &b->rows[b->nrows++];
    *r = *c;
    r->group = hd_xstrdup(c->group);
    r->reason = hd_xstrdup(c->reason);
    r->outcome = "receipt";
    r->n = 0;
    bool hard = strcmp(c->reason, "bounced_hard") == 0;
    for (const char *p = list; *p;) {
        char *end;
        int64_t message = strtoll(p, &end, 10), id;
        if (end == p || *end != ':') /* not a list as the query writes it */
            HD_BUG("bad bounce list '%.40s'", list);
        id = strtoll(end + 1, &end, 10);
        HD_GROW(b->v, b->n);
        b->v[b->n++] = (struct bounce){message, id, hard, b->nrows - 1};
        p = end + (*end == ',');
    }
}

static int cmp_bounce(const void *x, const void *y)
{
    const struct bounce *a = x, *b = y;
    if (a->message != b->message)
        return a->message < b->message ? -1 : 1;
    if (a->hard != b->hard)
        return a->hard ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* Each message's hard bounce, or else its first, counted; the groups of
 * rows handed on. */
static int bounces_emit(struct bounces *b, hd_stat_count_cb cb, void *ud)
{
    int rc = 0;
    if (b->n > 1)
        qsort(b->v, b->n, sizeof *b->v, cmp_bounce);
    for (size_t i = 0; i < b->n; i++)
        if (i == 0 || b->v[i].message != b->v[i - 1].message)
            b->rows[b->v[i].row].n++;
    for (size_t i = 0; i < b->nrows && rc == 0; i++)
        if (b->rows[i].n > 0)
            rc = cb(ud, &b->rows[i]);
    return rc;
}

static void bounces_release(struct bounces *b)
{
    for (size_t i = 0; i < b->nrows; i++) {
        free((char *)b->rows[i].group);
        free((char *)b->rows[i].reason);
    }
    free(b->rows);
    free(b->v);
}

int hd_store_stats_log(struct hd_store *st, int64_t campaign, int by, hd_stat_count_cb cb, void *ud,
                       struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    struct bounces b = {0};
    bool pg = hd_store_is_pg(st);
    int rc = stats_prepare(st, by,
                           pg ? STATS_LIVE("string_agg(" BOUNCE_OF ", ',')")
                              : STATS_LIVE("group_concat(" BOUNCE_OF ")"),
                           group_total, STATS_TOTAL, campaign, &s, err),
        step;
    if (rc < 0)
        return hd_store_dfail(err, rc, "counting the log");
    while ((step = hd_db_step(s, err)) == 1) {
        struct hd_stat_count c = {.group = hd_db_col_text(s, 0),
                                  .outcome = hd_db_col_text(s, 1),
                                  .reason = hd_db_col_text(s, 2),
                                  .state = (int)hd_db_col_int64(s, 3),
                                  .n = hd_db_col_int64(s, 4),
                                  .segments = hd_db_col_int64(s, 5),
                                  .cost = hd_db_col_double(s, 6)};
        const char *list = hd_db_col_text(s, 7);
        if (list && *list)
            bounces_add(&b, &c, list);
        else if ((rc = cb(ud, &c)) != 0)
            break;
    }
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, step, "counting the log");
    hd_db_finalize(s);
    if (rc == 0)
        rc = bounces_emit(&b, cb, ud);
    bounces_release(&b);
    return rc;
}

int hd_store_stats_messages(struct hd_store *st, int64_t campaign, int by, hd_stat_msg_cb cb,
                            void *ud, struct hd_err *err)
{
    _Static_assert(HD_CH_EMAIL == 0 && HD_CH_SMS == 1 && HD_CH_PUSH == 2 && HD_CH_INBOX == 3 &&
                       HD_CH_WECHAT == 4,
                   "the channel CASE below");
    static const char *const group_msg[] = {
        "''",
        ("CASE m.channel WHEN 0 THEN 'email' WHEN 1 THEN 'sms' WHEN 2 THEN 'push' WHEN 3 THEN "
         "'inbox' WHEN 4 THEN 'wechat' ELSE '-' END"),
        "CASE WHEN m.state = ?2 THEN 'holdout' ELSE coalesce(m.variant, '-') END",
        "NULL",
        "NULL",
    };
    struct hd_db_stmt *s = NULL;
    struct hd_buf sql;
    hd_buf_init(&sql);
    hd_buf_adds(&sql, "SELECT ");
    hd_buf_adds(&sql, group_msg[by]);
    hd_buf_adds(&sql, ", m.state, count(*) FROM runs r JOIN messages m ON m.run_id = r.id WHERE "
                      "r.campaign_id = ?1 GROUP BY 1, 2");
    int rc = hd_db_prepare(st->conn, sql.data, &s, err), step;
    hd_buf_release(&sql);
    if (rc < 0)
        return hd_store_dfail(err, rc, "counting messages");
    hd_db_buffer(s);
    hd_db_bind_int64(s, 1, campaign, NULL);
    if (by == HD_BY_VARIANT) /* the only group that has ?2 */
        hd_db_bind_int64(s, 2, HD_ST_HELD_OUT, NULL);
    while ((step = hd_db_step(s, err)) == 1)
        if ((rc = cb(ud, hd_db_col_text(s, 0), (int)hd_db_col_int64(s, 1),
                     hd_db_col_int64(s, 2))) != 0)
            break;
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, step, "counting messages");
    hd_db_finalize(s);
    return rc;
}

static void sql_lat_bucket(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sqlite3_result_int(cx, hd_lat_bucket(sqlite3_value_int64(argv[0])));
}

/* herald_lat_bucket(ms), for the statistics and the prune. */
int hd_store_lat_fn(struct hd_store *st, bool on, struct hd_err *err)
{
    (void)err;
    if (!st->db) /* PostgreSQL spells it out: HD_LAT_BUCKET_PG */
        return 0;
    if (sqlite3_create_function(st->db, "herald_lat_bucket", 1,
                                SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                on ? sql_lat_bucket : NULL, NULL, NULL) != SQLITE_OK)
        return hd_store_fail(st, err, "registering a function");
    return 0;
}

int hd_store_stats_latency(struct hd_store *st, int64_t campaign, int by, hd_stat_latency_cb cb,
                           void *ud, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    bool pg = hd_store_is_pg(st);
    int rc, step;
    if (!pg && (rc = hd_store_lat_fn(st, true, err)) < 0)
        return rc;
    rc = stats_prepare(
        st, by,
        pg ? ", " HD_LAT_BUCKET_PG(
                 "done_at - at") ", count(*) FROM attempts WHERE "
                                 "campaign_id = ?1 AND outcome NOT IN ('skipped', "
                                 "'receipt') AND provider IS NOT NULL "
                                 "AND done_at IS NOT NULL GROUP BY 1, 2"
           : ", herald_lat_bucket(done_at - at), count(*) FROM attempts WHERE "
             "campaign_id = ?1 AND outcome NOT IN ('skipped', 'receipt') AND provider IS NOT NULL "
             "AND done_at IS NOT NULL GROUP BY 1, 2",
        group_latency,
        ", bucket, sum(n) FROM log_latency WHERE campaign_id = ?1 GROUP "
        "BY 1, 2",
        campaign, &s, err);
    if (rc < 0) {
        rc = hd_store_dfail(err, rc, "reading latencies");
        goto out;
    }
    while ((step = hd_db_step(s, err)) == 1)
        if ((rc = cb(ud, hd_db_col_text(s, 0), (int)hd_db_col_int64(s, 1),
                     hd_db_col_int64(s, 2))) != 0)
            break;
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, step, "reading latencies");
out:
    hd_db_finalize(s);
    if (!pg)
        hd_store_lat_fn(st, false, NULL);
    return rc;
}

int hd_store_stats_goal(struct hd_store *st, int64_t campaign, const char *event, int64_t window,
                        hd_goal_cb cb, void *ud, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    /* sum(EXISTS ...) sums booleans on PostgreSQL, which it refuses: a
     * CASE makes them numbers on both; the groups in byte order */
    bool pg = hd_store_is_pg(st);
    int rc = hd_db_prepare(
            st->conn,
            pg ? "SELECT CASE WHEN m.state = ?2 THEN 'holdout' ELSE coalesce(m.variant, '-') END "
                 "COLLATE \"C\", "
                 "count(*), coalesce(sum(CASE WHEN EXISTS (SELECT 1 FROM events e WHERE e.name = "
                 "?3 AND e.contact_id = m.contact_id AND e.at >= " HD_RUN_FIRED_SQL " AND e.at < " HD_RUN_FIRED_SQL " + "
                 "?4) THEN 1 ELSE 0 END), 0) FROM runs r JOIN messages m ON m.run_id = r.id WHERE "
                 "r.campaign_id = ?1 GROUP BY 1 ORDER BY 1"
               : "SELECT CASE WHEN m.state = ?2 THEN 'holdout' ELSE coalesce(m.variant, '-') END, "
                 "count(*), coalesce(sum(EXISTS (SELECT 1 FROM events e WHERE e.name = ?3 AND "
                 "e.contact_id = m.contact_id AND e.at >= " HD_RUN_FIRED_SQL " AND e.at < " HD_RUN_FIRED_SQL
                 " + ?4)), "
                 "0) FROM runs r JOIN messages m ON m.run_id = r.id WHERE r.campaign_id = ?1 "
                 "GROUP BY 1 ORDER BY 1",
            &s, err),
        step;
    if (rc < 0)
        return hd_store_dfail(err, rc, "counting conversions");
    hd_db_buffer(s);
    hd_db_bind_int64(s, 1, campaign, NULL);
    hd_db_bind_int64(s, 2, HD_ST_HELD_OUT, NULL);
    hd_db_bind_text(s, 3, event, NULL);
    hd_db_bind_int64(s, 4, window, NULL);
    while ((step = hd_db_step(s, err)) == 1)
        if ((rc = cb(ud, hd_db_col_text(s, 0), hd_db_col_int64(s, 1), hd_db_col_int64(s, 2))) != 0)
            break;
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, step, "counting conversions");
    hd_db_finalize(s);
    return rc;
}

/* ---- retention ------------------------------------------------------------------------- */

/* How far the log was pruned lives in meta under "log_pruned_before" (ms;
 * no migration for one number), written with each batch, so `herald why`
 * and `history` can say which steps are gone instead of guessing. */
static const char pruned_key[] = "log_pruned_before";

int hd_store_log_pruned_before(struct hd_store *st, int64_t *before_ms, struct hd_err *err)
{
    char *v = NULL;
    int rc = hd_store_meta_get(st, pruned_key, &v, err);
    *before_ms = v ? strtoll(v, NULL, 10) : 0;
    free(v);
    return rc;
}

static int note_pruned(struct hd_store *st, int64_t before_ms, struct hd_err *err)
{
    int64_t old;
    char v[32];
    int rc = hd_store_log_pruned_before(st, &old, err);
    if (rc < 0 || old >= before_ms)
        return rc;
    snprintf(v, sizeof v, "%lld", (long long)before_ms);
    return hd_store_meta_set(st, pruned_key, v, err);
}

/* The gateways' ids kept for sends before cutoff_ms (one statement, once
 * a prune is done: a report can no longer find their log rows). */
static int prune_gateway_ids(struct hd_store *st, int64_t cutoff_ms, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn, "DELETE FROM gateway_ids WHERE at < ?1", &s, err), step;
    if (rc < 0)
        return hd_store_dfail(err, rc, "pruning the gateways' ids");
    hd_db_bind_int64(s, 1, cutoff_ms, NULL);
    if ((step = hd_db_step(s, err)) < 0)
        rc = hd_store_dfail(err, step, "pruning the gateways' ids");
    hd_db_finalize(s);
    return rc;
}

/* The prune's statements: [0] the end of this batch (the batch-th oldest
 * row's time, or the cutoff), [1] and [2] the rows' totals and latencies
 * added to what earlier prunes kept, [3] the rows deleted. SQLite's day
 * and latency bucket come from strftime and herald_lat_bucket (hd_store_
 * lat_fn), PostgreSQL's from to_char and HD_LAT_BUCKET_PG; PostgreSQL's ON
 * CONFLICT names its key and the table of the old n. */
#define PRUNE_END                                                                                  \
    "SELECT coalesce((SELECT at FROM attempts WHERE at < ?1 ORDER BY at LIMIT 1 OFFSET ?2), "      \
    "?1), (SELECT min(at) FROM attempts)"
#define PRUNE_TOTALS(DAY)                                                                          \
    "INSERT INTO log_totals (campaign_id, variant, channel, provider, day, outcome, reason, "      \
    "state, n, segments, cost) SELECT coalesce(campaign_id, 0), coalesce(variant, ''), "           \
    "coalesce(channel, ''), coalesce(provider, ''), " DAY ", outcome, coalesce(reason, ''), "      \
    "coalesce(state, -1), count(*), coalesce(sum(segments), 0), coalesce(sum(cost), 0) FROM "      \
    "attempts WHERE at < ?1 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ON CONFLICT "
#define PRUNE_LATENCY(DAY, BUCKET)                                                                 \
    "INSERT INTO log_latency (campaign_id, variant, channel, provider, day, bucket, n) SELECT "    \
    "coalesce(campaign_id, 0), coalesce(variant, ''), coalesce(channel, ''), provider, " DAY       \
    ", " BUCKET ", count(*) FROM attempts WHERE at < ?1 AND outcome NOT IN ('skipped', "           \
    "'receipt') AND provider IS NOT NULL AND done_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6 ON "    \
    "CONFLICT "
#define PRUNE_DELETE "DELETE FROM attempts WHERE at < ?1"
#define DAY_SQLITE "strftime('%Y-%m-%d', at / 1000, 'unixepoch')"
#define DAY_PG "to_char(to_timestamp(at / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"

static const char *const prune_sqlite[] = {
    PRUNE_END,
    PRUNE_TOTALS(DAY_SQLITE) "DO UPDATE SET n = n + excluded.n, segments = segments + "
                             "excluded.segments, cost = cost + excluded.cost",
    PRUNE_LATENCY(DAY_SQLITE, "herald_lat_bucket(done_at - at)") "DO UPDATE SET n = n + "
                                                                 "excluded.n",
    PRUNE_DELETE,
};
static const char *const prune_pg[] = {
    PRUNE_END,
    PRUNE_TOTALS(DAY_PG) "(campaign_id, variant, channel, provider, day, outcome, reason, state) "
                         "DO UPDATE SET n = log_totals.n + excluded.n, segments = "
                         "log_totals.segments + excluded.segments, cost = log_totals.cost + "
                         "excluded.cost",
    PRUNE_LATENCY(DAY_PG, HD_LAT_BUCKET_PG("done_at - at")) "(campaign_id, variant, channel, "
                                                            "provider, day, bucket) DO UPDATE SET "
                                                            "n = log_latency.n + excluded.n",
    PRUNE_DELETE,
};

/* One batch in its transaction: the rows before end summed up and gone. */
static int prune_batch(struct hd_store *st, struct hd_db_stmt **s, int64_t end, int64_t *n,
                       struct hd_err *err)
{
    int rc = 0, step;
    for (int i = 1; i < 4 && rc == 0; i++) {
        hd_db_reset(s[i]);
        hd_db_bind_int64(s[i], 1, end, NULL);
        if ((step = hd_db_step(s[i], err)) < 0)
            rc = hd_store_dfail(err, step, "pruning the log");
        else if (i == 3)
            *n += hd_db_changes(s[i]);
        hd_db_reset(s[i]);
    }
    if (rc == 0)
        rc = note_pruned(st, end, err);
    /* the newest rows gone, their ids are free again: the outbound
     * webhooks' cursors come back to the newest row left */
    if (rc == 0 &&
        (rc = hd_db_exec(st->conn,
                         "UPDATE webhooks SET log_id = (SELECT coalesce(max(id), 0) FROM "
                         "attempts) WHERE log_id > (SELECT coalesce(max(id), 0) FROM "
                         "attempts)",
                         err)) < 0)
        rc = hd_store_dfail(err, rc, "pruning the log");
    return rc;
}

int hd_store_log_prune(struct hd_store *st, int64_t cutoff_ms, int64_t batch,
                       void (*progress)(void *ud, int64_t done), void *ud, int64_t *n,
                       struct hd_err *err)
{
    const char *const *sql = hd_store_is_pg(st) ? prune_pg : prune_sqlite;
    struct hd_db_stmt *s[4] = {0};
    int rc, step;
    *n = 0;
    if ((rc = hd_store_lat_fn(st, true, err)) < 0)
        return rc;
    for (int i = 0; i < 4; i++)
        if ((rc = hd_db_prepare(st->conn, sql[i], &s[i], err)) < 0) {
            rc = hd_store_dfail(err, rc, "pruning the log");
            goto out;
        }
    for (;;) {
        hd_db_reset(s[0]);
        hd_db_bind_int64(s[0], 1, cutoff_ms, NULL);
        hd_db_bind_int64(s[0], 2, batch > 0 ? batch : 100000, NULL);
        if ((step = hd_db_step(s[0], err)) != 1) {
            rc = hd_store_dfail(err, step < 0 ? step : HD_E_STORE, "finding old log rows");
            goto out;
        }
        int64_t end = hd_db_col_int64(s[0], 0), oldest = hd_db_col_int64(s[0], 1);
        bool any = !hd_db_col_null(s[0], 1) && oldest < cutoff_ms;
        if (any && end <= oldest)
            end = oldest + 1; /* a batch of rows of one instant */
        hd_db_reset(s[0]);
        if (!any)
            break;
        if ((rc = hd_store_begin(st, err)) < 0)
            goto out;
        if ((rc = prune_batch(st, s, end, n, err)) == 0 && (rc = hd_store_commit(st, err)) == 0 &&
            progress)
            progress(ud, *n);
        if (rc < 0) {
            hd_store_rollback(st);
            goto out;
        }
    }
    rc = prune_gateway_ids(st, cutoff_ms, err);
out:
    for (int i = 0; i < 4; i++)
        hd_db_finalize(s[i]);
    hd_store_lat_fn(st, false, NULL);
    return rc;
}

/* ---- a run's failures ------------------------------------------------------------------ */

int hd_store_run_failures(struct hd_store *st, int64_t campaign, int64_t run, hd_failure_cb cb,
                          void *ud, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    /* the row that ended each message: of its state now (a message retried
     * since has rows of its old failure too); the reasons in byte order */
    int rc = hd_db_prepare(st->conn,
                           hd_store_is_pg(st)
                               ? "SELECT a.reason COLLATE \"C\", count(DISTINCT a.message_id), "
                                 "min(a.text COLLATE \"C\") FROM attempts a JOIN messages m ON "
                                 "m.id = a.message_id AND m.state = a.state WHERE a.campaign_id = "
                                 "?1 AND a.run_id = ?2 AND a.state IN (?3, ?4, ?5) GROUP BY 1 "
                                 "ORDER BY 2 DESC, 1"
                               : "SELECT a.reason, count(DISTINCT a.message_id), min(a.text) FROM "
                                 "attempts a JOIN messages m ON m.id = a.message_id AND m.state = "
                                 "a.state WHERE a.campaign_id = ?1 AND a.run_id = ?2 AND a.state "
                                 "IN (?3, ?4, ?5) GROUP BY a.reason ORDER BY 2 DESC, 1",
                           &s, err),
        step;
    if (rc < 0)
        return hd_store_dfail(err, rc, "reading the run's failures");
    hd_db_buffer(s); /* the callback may query the store (PostgreSQL) */
    hd_db_bind_int64(s, 1, campaign, NULL);
    hd_db_bind_int64(s, 2, run, NULL);
    hd_db_bind_int64(s, 3, HD_ST_FAILED, NULL);
    hd_db_bind_int64(s, 4, HD_ST_UNDELIVERED, NULL);
    hd_db_bind_int64(s, 5, HD_ST_RENDER_FAILED, NULL);
    while ((step = hd_db_step(s, err)) == 1) {
        struct hd_failure f = {.reason = hd_db_col_text(s, 0),
                               .n = hd_db_col_int64(s, 1),
                               .text = hd_db_col_text(s, 2)};
        if ((rc = cb(ud, &f)) != 0)
            break;
    }
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, step, "reading the run's failures");
    hd_db_finalize(s);
    return rc;
}
