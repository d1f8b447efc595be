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

#include "db.h"

#include <stdio.h>
#include <string.h>

#include "herald/state.h"

int hd_store_run_find(struct hd_store *st, int64_t campaign, int64_t number, struct hd_run *out,
                      struct hd_err *err)
{
    int rc, step;
    if (number > 0) /* the number runs have in their campaign */
        return hd_store_run_by_seq(st, campaign, number, out, err);
    struct hd_db_stmt *s = NULL;
    if ((rc = hd_db_prepare(st->conn, "SELECT max(id) FROM runs WHERE campaign_id = ?1", &s, err)) <
        0)
        return hd_store_dfail(err, rc, "finding the latest run");
    hd_db_bind_int64(s, 1, campaign, NULL);
    int64_t id = -1;
    if ((step = hd_db_step(s, err)) != 1)
        rc = hd_store_dfail(err, step < 0 ? step : HD_E_STORE, "finding the latest run");
    else if (!hd_db_col_null(s, 0))
        id = hd_db_col_int64(s, 0);
    hd_db_finalize(s);
    if (rc < 0)
        return rc;
    if (id < 0)
        return hd_err_set(err, HD_E_NOTFOUND, "the campaign has not fired yet: no run");
    return hd_store_run_get(st, id, out, err);
}

_Static_assert(HD_ST_QUEUED == 0 && HD_ST_FAILED == 5 && HD_ST_RENDER_FAILED == 13,
               "the states spelt as numbers in retry_sql");

/* Where the dialects differ, %1$s is the temporary schema (SQLite's temp,
 * PostgreSQL's pg_temp) and %2$s the detail's JSON: SQLite's json_object,
 * and on PostgreSQL the same bytes put together (its json functions put
 * spaces after the colons). */
#define RETRY_WAS "CASE p.state WHEN 5 THEN 'failed' ELSE 'render_failed' END"
static const char *const retry_sql[] = {
    "CREATE TEMP TABLE IF NOT EXISTS retry_pick (id INTEGER PRIMARY KEY, state INTEGER)",
    "DELETE FROM %1$s.retry_pick",
    /* ?1 run, ?2 and ?3 the states to retry, ?4 the reason word or NULL */
    "INSERT INTO %1$s.retry_pick SELECT m.id, m.state FROM messages m WHERE m.run_id = ?1 AND "
    "m.state IN (?2, ?3) AND (CAST(?4 AS text) IS NULL OR (SELECT a.reason FROM attempts a WHERE "
    "a.message_id = m.id ORDER BY a.id DESC LIMIT 1) = ?4)",
    /* ?5 now (ms), ?6 who */
    "INSERT INTO attempts (message_id, attempt, at, done_at, outcome, reason, text, detail, "
    "campaign_id, run_id, contact_id, variant, state) SELECT m.id, m.attempts, ?5, ?5, "
    "'skipped', 'requeued', CAST(?6 AS text) || ': re-queued after ' || " RETRY_WAS
    " || ', with the same message id', %2$s, r.campaign_id, m.run_id, "
    "m.contact_id, m.variant, 0 FROM %1$s.retry_pick p JOIN messages m ON m.id = p.id JOIN runs "
    "r ON r.id = m.run_id ORDER BY m.id",
    "UPDATE messages SET state = 0, ch_index = 0, not_before = CAST(?5 AS bigint) / 1000, "
    "lease_owner = NULL, lease_until = NULL, reason = NULL, updated_at = CAST(?5 AS bigint) / "
    "1000 WHERE id IN (SELECT id FROM %1$s.retry_pick)",
    "UPDATE runs SET status = 'active', done_at = NULL WHERE id = ?1 AND status = 'done' AND "
    "EXISTS (SELECT 1 FROM %1$s.retry_pick)",
    "SELECT count(*) FILTER (WHERE state = 5), count(*) FILTER (WHERE state = 13) FROM "
    "%1$s.retry_pick",
};

static void retry_bind(struct hd_db_stmt *s, const char *sql, const struct hd_retry *r)
{
    if (strstr(sql, "?1"))
        hd_db_bind_int64(s, 1, r->run, NULL);
    if (strstr(sql, "?3")) {
        hd_db_bind_int64(s, 2, r->failed ? HD_ST_FAILED : -1, NULL);
        hd_db_bind_int64(s, 3, r->render_failed ? HD_ST_RENDER_FAILED : -1, NULL);
    }
    if (strstr(sql, "?4"))
        hd_db_bind_text(s, 4, r->reason, NULL);
    if (strstr(sql, "?5"))
        hd_db_bind_int64(s, 5, r->now_ms, NULL);
    if (strstr(sql, "?6"))
        hd_db_bind_text(s, 6, r->who ? r->who : "campaign retry", NULL);
}

int hd_store_retry(struct hd_store *st, const struct hd_retry *r, int64_t *failed,
                   int64_t *render_failed, struct hd_err *err)
{
    enum { NSQL = sizeof retry_sql / sizeof retry_sql[0] };
    bool pg = hd_store_is_pg(st);
    const char *json = pg ? "'{\"by\":' || to_json(CAST(?6 AS text)) || ',\"was\":\"' || " RETRY_WAS
                            " || '\"}'"
                          : "json_object('by', ?6, 'was', " RETRY_WAS ")";
    char sql[1200];
    int rc = 0;
    *failed = *render_failed = 0;
    for (int i = 0; i < NSQL && rc == 0; i++) {
        struct hd_db_stmt *s = NULL;
        snprintf(sql, sizeof sql, retry_sql[i], pg ? "pg_temp" : "temp", json);
        if (pg && i == 0) /* a bigint key (INTEGER is 32 bits there) */
            snprintf(sql, sizeof sql,
                     "CREATE TEMP TABLE IF NOT EXISTS retry_pick (id bigint "
                     "PRIMARY KEY, state int)");
        if ((rc = hd_db_prepare(st->conn, sql, &s, err)) < 0)
            return hd_store_dfail(err, rc, "re-queuing messages");
        retry_bind(s, sql, r);
        int step = hd_db_step(s, err);
        if (i == NSQL - 1 && step == 1) {
            *failed = hd_db_col_int64(s, 0);
            *render_failed = hd_db_col_int64(s, 1);
        } else if (step != 0) {
            rc = hd_store_dfail(err, step < 0 ? step : HD_E_STORE, "re-queuing messages");
        }
        hd_db_finalize(s);
    }
    if (rc == 0 && *failed + *render_failed > 0)
        hd_store_work_note(st, "retry", r->run);
    return rc;
}
