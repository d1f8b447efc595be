/* metrics: what GET /metrics reads from the store, in one read
 * transaction so a scrape is one consistent snapshot: the log's counts
 * (live rows and the totals pruned ones left, so they only ever grow and
 * survive restarts) by campaign, channel, provider and outcome; messages
 * by state; the providers' pauses; the latency histogram's buckets; opt-outs by channel and
 * source, from consent_log (each change to opted_out, appended: consent's
 * own rows went down when a contact opted in again, which Prometheus reads
 * as a counter reset) and the totals of erased contacts' (erasing a
 * contact takes its consent_log rows with it: their counts were added to
 * meta's HD_UNSUB_ERASED keys first, in the same transaction, which the
 * query splits back into channel and source: a channel has no ':').
 * consent_log has no index for this: its scan costs
 * about 0.1 s a million rows on SQLite, less than the log's beside it.
 * Every query is an aggregate: the rows a scrape returns are
 * bounded by campaigns x channels x providers x outcomes, not by contacts.
 * On db.h for both engines (issue 23): PostgreSQL's snapshot is a
 * repeatable-read transaction (its plain BEGIN gives each statement its
 * own), its latency bucket is spelled out in SQL (HD_LAT_BUCKET_PG, as
 * SQLite's herald_lat_bucket computes it) and its sums are cast back to
 * bigint (numeric otherwise). */
#include <string.h>

#include "herald/lat.h"
#include "store_int.h"
#include "db.h"

_Static_assert(HD_LAT_LAST_BUCKET == HD_LAT_BUCKETS - 1, "HD_LAT_BUCKET_PG's last bucket");

/* The opt-outs, consent_log's and the erased ones' (HD_UNSUB_ERASED), by
 * channel and source; COLON is where the ':' after the channel is, in the
 * dialect's words (SQLite's instr, PostgreSQL's strpos). */
#define UNSUB_REST "substr(key, length('" HD_UNSUB_ERASED "') + 1)"
#define UNSUBSCRIBES(COLON)                                                                        \
    "SELECT channel, source, CAST(sum(n) AS BIGINT) FROM (SELECT channel, source, count(*) n "     \
    "FROM consent_log WHERE status = 'opted_out' GROUP BY 1, 2 UNION ALL SELECT "                  \
    "substr(" UNSUB_REST ", 1, " COLON " - 1), substr(" UNSUB_REST ", " COLON " + 1), "            \
    "CAST(value AS BIGINT) FROM meta WHERE substr(key, 1, length('" HD_UNSUB_ERASED                \
    "')) = '" HD_UNSUB_ERASED "') t GROUP BY 1, 2 ORDER BY 1, 2"

static const char *const queries[HD_MET_COUNT] = {
    [HD_MET_MESSAGES] =
        "SELECT coalesce(c.name, '-'), t.ch, t.pr, t.outcome, CAST(sum(t.n) AS BIGINT) FROM "
        "(SELECT campaign_id, "
        "coalesce(channel, '-') ch, coalesce(provider, '-') pr, outcome, count(*) n FROM "
        "attempts GROUP BY 1, 2, 3, 4 UNION ALL SELECT campaign_id, coalesce(nullif(channel, ''), "
        "'-'), coalesce(nullif(provider, ''), '-'), outcome, CAST(sum(n) AS BIGINT) FROM "
        "log_totals GROUP BY 1, "
        "2, 3, 4) t LEFT JOIN campaigns c ON c.id = t.campaign_id GROUP BY 1, 2, 3, 4 ORDER BY "
        "1, 2, 3, 4",
    [HD_MET_QUEUE] = "SELECT state, count(*) FROM messages GROUP BY 1 ORDER BY 1",
    [HD_MET_LATENCY] =
        "SELECT b, sum(n) FROM (SELECT herald_lat_bucket(done_at - at) b, count(*) n FROM "
        "attempts WHERE outcome NOT IN ('skipped', 'receipt') AND provider IS NOT NULL AND done_at "
        "IS NOT NULL "
        "GROUP BY 1 UNION ALL SELECT bucket, sum(n) FROM log_latency GROUP BY 1) GROUP BY 1 "
        "ORDER BY 1",
    [HD_MET_PAUSED] = "SELECT provider, until_ms > ?1 FROM provider_pauses ORDER BY 1",
    /* parenthesized: clang's -Wstring-concatenation takes a split literal
     * in an array for a missing comma (make fuzz builds with clang) */
    [HD_MET_UNSUBSCRIBES] = (UNSUBSCRIBES("instr(" UNSUB_REST ", ':')")),
};

/* The opt-outs on PostgreSQL: strpos for instr. */
static const char unsubscribes_pg[] = UNSUBSCRIBES("strpos(" UNSUB_REST ", ':')");

/* The pauses on PostgreSQL: their ends are on the server's clock. */
static const char paused_pg[] =
    "SELECT provider, until_ms > " HD_PG_NOW_MS " FROM provider_pauses ORDER BY 1";

/* The latency on PostgreSQL: the bucket in SQL, the subquery named. */
static const char latency_pg[] = "SELECT b, CAST(sum(n) AS BIGINT) FROM (SELECT " HD_LAT_BUCKET_PG(
    "done_at - at") " b, count(*) n FROM attempts WHERE outcome NOT IN ('skipped', "
                    "'receipt') AND provider IS NOT NULL AND done_at IS NOT NULL GROUP BY 1 "
                    "UNION ALL SELECT bucket, sum(n) FROM log_latency GROUP BY 1) t GROUP BY "
                    "1 ORDER BY 1";

/* The labels are the text columns before the last; an integer first
 * column (a state, a bucket) is the row's key instead. */
static int one(struct hd_store *st, int series, int64_t now_ms, hd_metric_cb cb, void *ud,
               struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    bool pg = hd_store_is_pg(st);
    const char *sql = series == HD_MET_LATENCY && pg        ? latency_pg
                      : series == HD_MET_PAUSED && pg       ? paused_pg
                      : series == HD_MET_UNSUBSCRIBES && pg ? unsubscribes_pg
                                                            : queries[series];
    int rc = hd_db_prepare(st->conn, sql, &s, err), step;
    if (rc < 0)
        return hd_store_dfail(err, rc, "reading the metrics");
    if (series == HD_MET_PAUSED && !pg)
        hd_db_bind_int64(s, 1, now_ms, NULL);
    hd_db_buffer(s); /* the callback may query the store (PostgreSQL) */
    while ((step = hd_db_step(s, err)) == 1) {
        struct hd_metric_row r = {.series = series};
        struct hd_db_value v;
        int last = hd_db_ncols(s) - 1;
        for (int i = 0; i < last && i < 4; i++) {
            hd_db_column(s, i, &v);
            if (v.type == HD_DB_INT)
                r.key = v.i;
            else
                r.label[i] = v.type == HD_DB_TEXT ? v.p : NULL;
        }
        r.n = hd_db_col_int64(s, last);
        if ((rc = cb(ud, &r)) != 0)
            break;
    }
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, step, "reading the metrics");
    hd_db_finalize(s);
    return rc;
}

int hd_store_metrics(struct hd_store *st, int64_t now_ms, hd_metric_cb cb, void *ud,
                     struct hd_err *err)
{
    bool pg = hd_store_is_pg(st);
    int rc;
    if (!pg && (rc = hd_store_lat_fn(st, true, err)) < 0)
        return rc;
    if ((rc = hd_db_exec(st->conn, pg ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN",
                         err)) < 0) {
        rc = hd_store_dfail(err, rc, "reading the metrics");
        goto out;
    }
    for (int m = 0; m < HD_MET_COUNT && rc == 0; m++)
        rc = one(st, m, now_ms, cb, ud, err);
    if (rc < 0)
        hd_db_rollback(st->conn);
    else if ((rc = hd_db_commit(st->conn, err)) < 0)
        rc = hd_store_dfail(err, rc, "reading the metrics");
out:
    if (!pg)
        hd_store_lat_fn(st, false, NULL);
    return rc;
}
