/* metrics: what GET /metrics reads from the store, in one read
 * transaction so a scrape is one consistent snapshot: the log's counts
 * (live rows and the totals pruned ones left, so they only ever grow and
 * survive restarts) by campaign, channel, provider and outcome; messages
 * by state; the providers' pauses; the latency histogram's buckets; opt-outs by channel and
 * source. Every query is an aggregate: the rows a scrape returns are
 * bounded by campaigns x channels x providers x outcomes, not by contacts. */
#include <string.h>

#include "store_int.h"

static const char *const queries[HD_MET_COUNT] = {
    [HD_MET_MESSAGES] =
        "SELECT coalesce(c.name, '-'), t.ch, t.pr, t.outcome, sum(t.n) FROM (SELECT campaign_id, "
        "coalesce(channel, '-') ch, coalesce(provider, '-') pr, outcome, count(*) n FROM "
        "attempts GROUP BY 1, 2, 3, 4 UNION ALL SELECT campaign_id, coalesce(nullif(channel, ''), "
        "'-'), coalesce(nullif(provider, ''), '-'), outcome, sum(n) FROM log_totals GROUP BY 1, "
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
    [HD_MET_UNSUBSCRIBES] = ("SELECT channel, source, count(*) FROM consent WHERE status = "
                             "'opted_out' GROUP BY 1, 2 ORDER BY 1, 2"),
};

/* The labels are the text columns before the last; an integer first
 * column (a state, a bucket) is the row's key instead. */
static int one(struct hd_store *st, int series, int64_t now_ms, hd_metric_cb cb, void *ud,
               struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st, queries[series], &s, err), step;
    if (rc < 0)
        return rc;
    if (sqlite3_bind_parameter_count(s))
        sqlite3_bind_int64(s, 1, now_ms);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct hd_metric_row r = {.series = series};
        int last = sqlite3_column_count(s) - 1;
        for (int i = 0; i < last && i < 4; i++)
            if (sqlite3_column_type(s, i) == SQLITE_INTEGER)
                r.key = sqlite3_column_int64(s, i);
            else
                r.label[i] = (const char *)sqlite3_column_text(s, i);
        r.n = sqlite3_column_int64(s, last);
        if ((rc = cb(ud, &r)) != 0)
            break;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "reading the metrics");
    sqlite3_finalize(s);
    return rc;
}

int hd_store_metrics(struct hd_store *st, int64_t now_ms, hd_metric_cb cb, void *ud,
                     struct hd_err *err)
{
    int rc;
    if ((rc = hd_store_lat_fn(st, true, err)) < 0)
        return rc;
    if ((rc = hd_store_exec(st, "BEGIN", err)) < 0)
        goto out;
    for (int m = 0; m < HD_MET_COUNT && rc == 0; m++)
        rc = one(st, m, now_ms, cb, ud, err);
    hd_store_exec(st, "COMMIT", rc < 0 ? NULL : err);
out:
    hd_store_lat_fn(st, false, NULL);
    return rc;
}
