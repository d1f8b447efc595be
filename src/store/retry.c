/* retry: `herald campaign retry` in the store: finding the run an operator
 * names, and putting a run's failed messages back in the queue.
 *
 * The messages chosen are copied into a temporary table first, because
 * the choice may depend on a message's latest log row (--reason) and the
 * retry itself adds a newer one. From that table one statement writes a
 * `requeued` decision per message (who did it, and the state it left),
 * one moves the messages to queued, due now, with their ids, variants and
 * attempt counts kept, and one reopens the run when it was done. The
 * caller holds the transaction. */
#include "store_int.h"

#include <stdio.h>
#include <string.h>

#include "herald/state.h"

int hd_store_run_find(struct hd_store *st, int64_t campaign, int64_t number, struct hd_run *out,
                      struct hd_err *err)
{
    int rc;
    if (number > 0) /* the number runs have in their campaign */
        return hd_store_run_by_seq(st, campaign, number, out, err);
    sqlite3_stmt *s = NULL;
    if ((rc = hd_store_prepare(st, "SELECT max(id) FROM runs WHERE campaign_id = ?1", &s, err)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, campaign);
    int64_t id = -1;
    if (sqlite3_step(s) != SQLITE_ROW)
        rc = hd_store_fail(st, err, "finding the latest run");
    else if (sqlite3_column_type(s, 0) != SQLITE_NULL)
        id = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (rc < 0)
        return rc;
    if (id < 0)
        return hd_err_set(err, HD_E_NOTFOUND, "the campaign has not fired yet: no run");
    return hd_store_run_get(st, id, out, err);
}

_Static_assert(HD_ST_QUEUED == 0 && HD_ST_FAILED == 5 && HD_ST_RENDER_FAILED == 13,
               "the states spelt as numbers in retry_sql");

static const char *const retry_sql[] = {
    "CREATE TEMP TABLE IF NOT EXISTS retry_pick (id INTEGER PRIMARY KEY, state INTEGER)",
    "DELETE FROM temp.retry_pick",
    /* ?1 run, ?2 and ?3 the states to retry, ?4 the reason word or NULL */
    "INSERT INTO temp.retry_pick SELECT m.id, m.state FROM messages m WHERE m.run_id = ?1 AND "
    "m.state IN (?2, ?3) AND (?4 IS NULL OR (SELECT a.reason FROM attempts a WHERE "
    "a.message_id = m.id ORDER BY a.id DESC LIMIT 1) = ?4)",
    /* ?5 now (ms), ?6 who */
    "INSERT INTO attempts (message_id, attempt, at, done_at, outcome, reason, text, detail, "
    "campaign_id, run_id, contact_id, variant, state) SELECT m.id, m.attempts, ?5, ?5, "
    "'skipped', 'requeued', ?6 || ': re-queued after ' || CASE p.state WHEN 5 THEN 'failed' "
    "ELSE 'render_failed' END || ', with the same message id', json_object('by', ?6, 'was', "
    "CASE p.state WHEN 5 THEN 'failed' ELSE 'render_failed' END), r.campaign_id, m.run_id, "
    "m.contact_id, m.variant, 0 FROM temp.retry_pick p JOIN messages m ON m.id = p.id JOIN runs "
    "r ON r.id = m.run_id ORDER BY m.id",
    "UPDATE messages SET state = 0, ch_index = 0, not_before = ?5 / 1000, lease_owner = NULL, "
    "lease_until = NULL, reason = NULL, updated_at = ?5 / 1000 WHERE id IN (SELECT id FROM "
    "temp.retry_pick)",
    "UPDATE runs SET status = 'active', done_at = NULL WHERE id = ?1 AND status = 'done' AND "
    "EXISTS (SELECT 1 FROM temp.retry_pick)",
    "SELECT count(*) FILTER (WHERE state = 5), count(*) FILTER (WHERE state = 13) FROM "
    "temp.retry_pick",
};

static void retry_bind(sqlite3_stmt *s, const struct hd_retry *r)
{
    int n = sqlite3_bind_parameter_count(s);
    if (n >= 1)
        sqlite3_bind_int64(s, 1, r->run);
    if (n >= 3) {
        sqlite3_bind_int(s, 2, r->failed ? HD_ST_FAILED : -1);
        sqlite3_bind_int(s, 3, r->render_failed ? HD_ST_RENDER_FAILED : -1);
    }
    if (n >= 4)
        hd_store_bind_text(s, 4, r->reason);
    if (n >= 5)
        sqlite3_bind_int64(s, 5, r->now_ms);
    if (n >= 6)
        sqlite3_bind_text(s, 6, r->who ? r->who : "campaign retry", -1, SQLITE_STATIC);
}

int hd_store_retry(struct hd_store *st, const struct hd_retry *r, int64_t *failed,
                   int64_t *render_failed, struct hd_err *err)
{
    enum { NSQL = sizeof retry_sql / sizeof retry_sql[0] };
    int rc = 0;
    *failed = *render_failed = 0;
    for (int i = 0; i < NSQL && rc == 0; i++) {
        sqlite3_stmt *s = NULL;
        if ((rc = hd_store_prepare(st, retry_sql[i], &s, err)) < 0)
            return rc;
        retry_bind(s, r);
        int step = sqlite3_step(s);
        if (i == NSQL - 1 && step == SQLITE_ROW) {
            *failed = sqlite3_column_int64(s, 0);
            *render_failed = sqlite3_column_int64(s, 1);
        } else if (step != SQLITE_DONE) {
            rc = hd_store_fail(st, err, "re-queuing messages");
        }
        sqlite3_finalize(s);
    }
    return rc;
}
