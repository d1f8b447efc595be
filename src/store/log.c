/* log: reading the delivery log for herald log, history, why and stats;
 * conversion events; pruning old rows into totals; pseudonyms.
 *
 * The log's filters are put together from constant SQL fragments, each
 * with its own parameter number, so SQLite can pick the index a filter
 * has (campaign, contact, time) and no user text becomes SQL. */
#include "store_int.h"

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
    "LEFT JOIN contacts k ON k.id = a.contact_id WHERE 1"

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
           (f->oldest_first ? 2048u : 4096u);
}

/* The query for f's filters: a constant fragment for each one given. */
static void log_sql(const struct hd_log_filter *f, struct hd_buf *sql)
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
    if (!f->contact && !f->message)
        hd_buf_adds(sql, f->oldest_first ? " ORDER BY a.at, a.id LIMIT ?10"
                                         : " ORDER BY a.at DESC, a.id DESC LIMIT ?10");
    else
        hd_buf_adds(sql, f->oldest_first ? " ORDER BY " LOG_ORDER ", a.id LIMIT ?10"
                                         : " ORDER BY " LOG_ORDER " DESC, a.id DESC LIMIT ?10");
}

int hd_store_log_query(struct hd_store *st, const struct hd_log_filter *f, hd_log_cb cb, void *ud,
                       struct hd_err *err)
{
    /* cached by shape: the receipts a service applies look their message
     * up here, and compiling this join cost more than running it */
    unsigned key = log_key(f);
    sqlite3_stmt *s = hd_store_shape(st, key);
    int rc = 0, step;
    if (!s) {
        struct hd_buf sql;
        hd_buf_init(&sql);
        log_sql(f, &sql);
        rc = hd_store_prepare(st, sql.data, &s, err);
        hd_buf_release(&sql);
        if (rc < 0)
            return rc;
    }
    sqlite3_bind_int64(s, 1, f->campaign);
    sqlite3_bind_int64(s, 2, f->run);
    sqlite3_bind_int64(s, 3, f->contact);
    hd_store_bind_text(s, 4, f->channel);
    hd_store_bind_text(s, 5, f->provider);
    hd_store_bind_text(s, 6, f->outcome);
    hd_store_bind_text(s, 7, f->reason);
    sqlite3_bind_int64(s, 8, f->since_ms);
    sqlite3_bind_int64(s, 9, f->until_ms);
    sqlite3_bind_int64(s, 10, f->limit > 0 ? f->limit : -1);
    hd_store_bind_text(s, 11, f->gateway_id);
    if (f->message)
        sqlite3_bind_int64(s, 12, f->message);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
#define T(i) ((const char *)sqlite3_column_text(s, i))
        char pseudo[32];
        struct hd_log_row r = {.id = sqlite3_column_int64(s, 0),
                               .message = sqlite3_column_int64(s, 1),
                               .run = sqlite3_column_int64(s, 2),
                               .contact_id = sqlite3_column_int64(s, 3),
                               .attempt = sqlite3_column_int(s, 4),
                               .state = sqlite3_column_int(s, 5),
                               .code = sqlite3_column_int(s, 6),
                               .segments = sqlite3_column_int(s, 7),
                               .at_ms = sqlite3_column_int64(s, 8),
                               .done_ms = sqlite3_column_int64(s, 9),
                               .cost = sqlite3_column_double(s, 10),
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
                               .run_seq = sqlite3_column_int64(s, 23),
                               .campaign_id = sqlite3_column_int64(s, 24)};
#undef T
        if (!r.campaign)
            r.campaign = "-";
        if (!r.contact) {
            hd_contact_pseudonym(r.contact_id, pseudo, sizeof pseudo);
            r.contact = pseudo;
        }
        if ((rc = cb(ud, &r)) != 0)
            break;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "reading the delivery log");
    hd_store_shape_done(st, key, s);
    return rc;
}

int hd_store_contact_ref(struct hd_store *st, const char *ref, int64_t *id, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st, "SELECT id FROM contacts WHERE ext_id = ?1", &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, ref, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    long long n;
    int used = 0;
    if (step == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    else if (step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "finding the contact");
    else if (sscanf(ref, "deleted-%lld%n", &n, &used) == 1 && ref[used] == '\0' && n > 0)
        *id = -n; /* a contact id first: an external id may look like a pseudonym */
    else
        rc = hd_err_set(err, HD_E_NOTFOUND, "no contact with id '%s'", ref);
    sqlite3_finalize(s);
    return rc;
}

/* ---- messages of a contact ------------------------------------------------------------- */

int hd_store_contact_messages(struct hd_store *st, int64_t contact, int64_t campaign,
                              hd_msg_info_cb cb, void *ud, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    /* runs are few: one look-up in (run_id, contact_id) for each */
    int rc = hd_store_prepare(
            st,
            "SELECT m.id, m.run_id, r.campaign_id, r.fire_at, m.updated_at, m.state, "
            "coalesce(m.channel, -1), m.attempts, c.name, c.segment, m.variant, m.reason, "
            "m.not_before, r.seq "
            "FROM runs r JOIN campaigns c ON c.id = r.campaign_id JOIN messages m ON "
            "m.run_id = r.id AND m.contact_id = ?1 WHERE ?2 = 0 OR r.campaign_id = ?2 "
            "ORDER BY r.fire_at, m.id",
            &s, err),
        step;
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, contact);
    sqlite3_bind_int64(s, 2, campaign);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct hd_msg_info m = {.id = sqlite3_column_int64(s, 0),
                                .run = sqlite3_column_int64(s, 1),
                                .campaign = sqlite3_column_int64(s, 2),
                                .fire_at = sqlite3_column_int64(s, 3),
                                .updated_at = sqlite3_column_int64(s, 4),
                                .state = sqlite3_column_int(s, 5),
                                .channel = sqlite3_column_int(s, 6),
                                .attempts = sqlite3_column_int(s, 7),
                                .campaign_name = (const char *)sqlite3_column_text(s, 8),
                                .segment = (const char *)sqlite3_column_text(s, 9),
                                .variant = (const char *)sqlite3_column_text(s, 10),
                                .reason = (const char *)sqlite3_column_text(s, 11),
                                .due = sqlite3_column_int64(s, 12),
                                .seq = sqlite3_column_int64(s, 13)};
        if ((rc = cb(ud, &m)) != 0)
            break;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "reading the contact's messages");
    sqlite3_finalize(s);
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

static int stats_prepare(struct hd_store *st, int by, const char *live,
                         const char *const *total_group, const char *total, int64_t campaign,
                         sqlite3_stmt **s, struct hd_err *err)
{
    if (by < HD_BY_NONE || by > HD_BY_DAY)
        HD_BUG("bad stats grouping %d", by);
    struct hd_buf sql;
    hd_buf_init(&sql);
    hd_buf_adds(&sql, "SELECT ");
    hd_buf_adds(&sql, group_live[by]);
    hd_buf_adds(&sql, live);
    hd_buf_adds(&sql, " UNION ALL SELECT ");
    hd_buf_adds(&sql, total_group[by]);
    hd_buf_adds(&sql, total);
    int rc = hd_store_prepare(st, sql.data, s, err);
    hd_buf_release(&sql);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(*s, 1, campaign);
    sqlite3_bind_int(*s, 2, HD_ST_HELD_OUT);
    return 0;
}

int hd_store_stats_log(struct hd_store *st, int64_t campaign, int by, hd_stat_count_cb cb, void *ud,
                       struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = stats_prepare(
            st, by,
            ", outcome, coalesce(reason, ''), state, count(*), coalesce(sum(segments), "
            "0), coalesce(sum(cost), 0) FROM attempts WHERE campaign_id = ?1 GROUP BY 1, 2, 3, 4",
            group_total,
            ", outcome, reason, state, sum(n), sum(segments), sum(cost) FROM "
            "log_totals WHERE campaign_id = ?1 GROUP BY 1, 2, 3, 4",
            campaign, &s, err),
        step;
    if (rc < 0)
        return rc;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct hd_stat_count c = {.group = (const char *)sqlite3_column_text(s, 0),
                                  .outcome = (const char *)sqlite3_column_text(s, 1),
                                  .reason = (const char *)sqlite3_column_text(s, 2),
                                  .state = sqlite3_column_int(s, 3),
                                  .n = sqlite3_column_int64(s, 4),
                                  .segments = sqlite3_column_int64(s, 5),
                                  .cost = sqlite3_column_double(s, 6)};
        if ((rc = cb(ud, &c)) != 0)
            break;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "counting the log");
    sqlite3_finalize(s);
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
        "CASE m.channel WHEN 0 THEN 'email' WHEN 1 THEN 'sms' WHEN 2 THEN 'push' WHEN 3 THEN "
        "'inbox' WHEN 4 THEN 'wechat' ELSE '-' END",
        "CASE WHEN m.state = ?2 THEN 'holdout' ELSE coalesce(m.variant, '-') END",
        "NULL",
        "NULL",
    };
    sqlite3_stmt *s = NULL;
    struct hd_buf sql;
    hd_buf_init(&sql);
    hd_buf_adds(&sql, "SELECT ");
    hd_buf_adds(&sql, group_msg[by]);
    hd_buf_adds(&sql, ", m.state, count(*) FROM runs r JOIN messages m ON m.run_id = r.id WHERE "
                      "r.campaign_id = ?1 GROUP BY 1, 2");
    int rc = hd_store_prepare(st, sql.data, &s, err), step;
    hd_buf_release(&sql);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int(s, 2, HD_ST_HELD_OUT);
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        if ((rc = cb(ud, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1),
                     sqlite3_column_int64(s, 2))) != 0)
            break;
    if (rc == 0 && step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "counting messages");
    sqlite3_finalize(s);
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
    if (!st->db) /* PostgreSQL's herald_lat_bucket is the schema's (schema_pg.c) */
        return on ? hd_store_sqlite_only(st, "log prune", err) : 0;
    if (sqlite3_create_function(st->db, "herald_lat_bucket", 1,
                                SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                on ? sql_lat_bucket : NULL, NULL, NULL) != SQLITE_OK)
        return hd_store_fail(st, err, "registering a function");
    return 0;
}

int hd_store_stats_latency(struct hd_store *st, int64_t campaign, int by, hd_stat_latency_cb cb,
                           void *ud, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc, step;
    if ((rc = hd_store_lat_fn(st, true, err)) < 0)
        return rc;
    rc = stats_prepare(
        st, by,
        ", herald_lat_bucket(done_at - at), count(*) FROM attempts WHERE "
        "campaign_id = ?1 AND outcome NOT IN ('skipped', 'receipt') AND provider IS NOT NULL AND "
        "done_at IS NOT NULL GROUP BY 1, 2",
        group_latency,
        ", bucket, sum(n) FROM log_latency WHERE campaign_id = ?1 GROUP "
        "BY 1, 2",
        campaign, &s, err);
    if (rc < 0)
        goto out;
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        if ((rc = cb(ud, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1),
                     sqlite3_column_int64(s, 2))) != 0)
            break;
    if (rc == 0 && step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "reading latencies");
out:
    sqlite3_finalize(s);
    hd_store_lat_fn(st, false, NULL);
    return rc;
}

int hd_store_stats_goal(struct hd_store *st, int64_t campaign, const char *event, int64_t window,
                        hd_goal_cb cb, void *ud, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(
            st,
            "SELECT CASE WHEN m.state = ?2 THEN 'holdout' ELSE coalesce(m.variant, '-') END, "
            "count(*), coalesce(sum(EXISTS (SELECT 1 FROM events e WHERE e.name = ?3 AND "
            "e.contact_id = m.contact_id AND e.at >= r.fire_at AND e.at < r.fire_at + ?4)), "
            "0) FROM runs r JOIN messages m ON m.run_id = r.id WHERE r.campaign_id = ?1 "
            "GROUP BY 1 ORDER BY 1",
            &s, err),
        step;
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int(s, 2, HD_ST_HELD_OUT);
    sqlite3_bind_text(s, 3, event, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, window);
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        if ((rc = cb(ud, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1),
                     sqlite3_column_int64(s, 2))) != 0)
            break;
    if (rc == 0 && step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "counting conversions");
    sqlite3_finalize(s);
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
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st, "DELETE FROM gateway_ids WHERE at < ?1", &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, cutoff_ms);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "pruning the gateways' ids");
    sqlite3_finalize(s);
    return rc;
}

int hd_store_log_prune(struct hd_store *st, int64_t cutoff_ms, int64_t batch,
                       void (*progress)(void *ud, int64_t done), void *ud, int64_t *n,
                       struct hd_err *err)
{
    static const char *const sql[] = {
        /* the end of this batch: the batch-th oldest row's time, or the cutoff */
        "SELECT coalesce((SELECT at FROM attempts WHERE at < ?1 ORDER BY at LIMIT 1 OFFSET ?2), "
        "?1), (SELECT min(at) FROM attempts)",
        "INSERT INTO log_totals (campaign_id, variant, channel, provider, day, outcome, reason, "
        "state, n, segments, cost) SELECT coalesce(campaign_id, 0), coalesce(variant, ''), "
        "coalesce(channel, ''), coalesce(provider, ''), strftime('%Y-%m-%d', at / 1000, "
        "'unixepoch'), outcome, coalesce(reason, ''), coalesce(state, -1), count(*), "
        "coalesce(sum(segments), 0), coalesce(sum(cost), 0) FROM attempts WHERE at < ?1 GROUP BY "
        "1, 2, 3, 4, 5, 6, 7, 8 ON CONFLICT DO UPDATE SET n = n + excluded.n, segments = segments "
        "+ excluded.segments, cost = cost + excluded.cost",
        "INSERT INTO log_latency (campaign_id, variant, channel, provider, day, bucket, n) SELECT "
        "coalesce(campaign_id, 0), coalesce(variant, ''), coalesce(channel, ''), provider, "
        "strftime('%Y-%m-%d', at / 1000, 'unixepoch'), herald_lat_bucket(done_at - at), count(*) "
        "FROM attempts WHERE at < ?1 AND outcome NOT IN ('skipped', 'receipt') AND provider IS NOT "
        "NULL AND "
        "done_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6 ON CONFLICT DO UPDATE SET n = n + "
        "excluded.n",
        "DELETE FROM attempts WHERE at < ?1",
    };
    sqlite3_stmt *s[4] = {0};
    int rc;
    *n = 0;
    if ((rc = hd_store_lat_fn(st, true, err)) < 0)
        return rc;
    for (int i = 0; i < 4; i++)
        if ((rc = hd_store_prepare(st, sql[i], &s[i], err)) < 0)
            goto out;
    for (;;) {
        sqlite3_bind_int64(s[0], 1, cutoff_ms);
        sqlite3_bind_int64(s[0], 2, batch > 0 ? batch : 100000);
        if (sqlite3_step(s[0]) != SQLITE_ROW) {
            rc = hd_store_fail(st, err, "finding old log rows");
            goto out;
        }
        int64_t end = sqlite3_column_int64(s[0], 0);
        bool any = sqlite3_column_type(s[0], 1) != SQLITE_NULL &&
                   sqlite3_column_int64(s[0], 1) < cutoff_ms;
        if (any && end <= sqlite3_column_int64(s[0], 1))
            end = sqlite3_column_int64(s[0], 1) + 1; /* a batch of rows of one instant */
        sqlite3_reset(s[0]);
        if (!any)
            break;
        if ((rc = hd_store_begin(st, err)) < 0)
            goto out;
        for (int i = 1; i < 4 && rc == 0; i++) {
            sqlite3_bind_int64(s[i], 1, end);
            if (sqlite3_step(s[i]) != SQLITE_DONE)
                rc = hd_store_fail(st, err, "pruning the log");
            sqlite3_reset(s[i]);
        }
        if (rc == 0)
            *n += sqlite3_changes(st->db);
        if (rc == 0)
            rc = note_pruned(st, end, err);
        /* the newest rows gone, their ids are free again: the outbound
         * webhooks' cursors come back to the newest row left */
        if (rc == 0)
            rc = hd_store_exec(
                st,
                "UPDATE webhooks SET log_id = (SELECT coalesce(max(id), 0) FROM "
                "attempts) WHERE log_id > (SELECT coalesce(max(id), 0) FROM attempts)",
                err);
        if (rc == 0 && (rc = hd_store_commit(st, err)) == 0 && progress)
            progress(ud, *n);
        if (rc < 0) {
            hd_store_rollback(st);
            goto out;
        }
    }
    rc = prune_gateway_ids(st, cutoff_ms, err);
out:
    for (int i = 0; i < 4; i++)
        sqlite3_finalize(s[i]);
    hd_store_lat_fn(st, false, NULL);
    return rc;
}

/* ---- a run's failures ------------------------------------------------------------------ */

int hd_store_run_failures(struct hd_store *st, int64_t campaign, int64_t run, hd_failure_cb cb,
                          void *ud, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    /* the row that ended each message: of its state now (a message retried
     * since has rows of its old failure too) */
    int rc = hd_store_prepare(st,
                              "SELECT a.reason, count(DISTINCT a.message_id), min(a.text) FROM "
                              "attempts a JOIN messages m ON m.id = a.message_id AND m.state = "
                              "a.state WHERE a.campaign_id = ?1 AND a.run_id = ?2 AND a.state IN "
                              "(?3, ?4, ?5) GROUP BY a.reason ORDER BY 2 DESC, 1",
                              &s, err),
        step;
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, campaign);
    sqlite3_bind_int64(s, 2, run);
    sqlite3_bind_int(s, 3, HD_ST_FAILED);
    sqlite3_bind_int(s, 4, HD_ST_UNDELIVERED);
    sqlite3_bind_int(s, 5, HD_ST_RENDER_FAILED);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct hd_failure f = {.reason = (const char *)sqlite3_column_text(s, 0),
                               .n = sqlite3_column_int64(s, 1),
                               .text = (const char *)sqlite3_column_text(s, 2)};
        if ((rc = cb(ud, &f)) != 0)
            break;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "reading the run's failures");
    sqlite3_finalize(s);
    return rc;
}
