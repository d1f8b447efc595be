/* rfm: recency, frequency and monetary scores of each contact from its
 * events of one name in a window, stored as the attributes rfm_r, rfm_f,
 * rfm_m (1 to S) and rfm_at (when they were computed), in one transaction
 * that first takes the old scores off every contact: a contact without
 * such events has none, and so is in no layer.
 *
 * Each score is a quantile over the contacts with at least one event:
 * score = 1 + floor(S * (contacts with a strictly smaller value) / N), so
 * contacts with equal values share the lower score. Recency is the newest
 * event's time (later is better), frequency the number of events, monetary
 * the sum of a numeric property (events without it add nothing). One
 * statement with window functions over the index events(contact_id, name,
 * at); the scores go through a temporary table, from which the contacts
 * are updated in order of id and the layers' sizes counted (high: a score
 * above S/2), so that no layer needs a pass over every contact. */
#include <string.h>

#include "herald/time.h"
#include "store_int.h"

static const char rfm_sql[] =
    "CREATE TEMP TABLE rfm_scores AS "
    "WITH m AS (SELECT e.contact_id AS id, max(e.at) AS r, count(*) AS f, "
    "  total(CASE WHEN json_type(e.props, ?2) IN ('integer', 'real') THEN "
    "  json_extract(e.props, ?2) END) AS m FROM events e WHERE e.name = ?1 AND e.at BETWEEN ?3 "
    "  AND ?4 GROUP BY e.contact_id), "
    "n AS (SELECT count(*) AS n FROM m), "
    "s AS (SELECT id, 1 + (rank() OVER (ORDER BY r) - 1) * ?5 / n.n AS rs, "
    "  1 + (rank() OVER (ORDER BY f) - 1) * ?5 / n.n AS fs, "
    "  1 + (rank() OVER (ORDER BY m) - 1) * ?5 / n.n AS ms FROM m, n) "
    "SELECT id, rs, fs, ms FROM s ORDER BY id";

/* in order of id, so that each page of contacts is written once */
static const char set_sql[] =
    "UPDATE contacts SET attrs = json_set(attrs, '$.rfm_r', s.rs, '$.rfm_f', s.fs, '$.rfm_m', "
    "  s.ms, '$.rfm_at', ?1) FROM (SELECT * FROM temp.rfm_scores ORDER BY id) s "
    "  WHERE contacts.id = s.id";

static const char high_sql[] = "SELECT (rs > ?1) * 4 + (fs > ?1) * 2 + (ms > ?1), count(*) "
                               "FROM temp.rfm_scores GROUP BY 1";

static int run(struct hd_store *st, const char *sql, const struct hd_rfm_opts *o, const char *path,
               const char *at, int64_t high[8], struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st, sql, &s, err), step;
    if (rc < 0)
        return rc;
    if (sql == rfm_sql) {
        sqlite3_bind_text(s, 1, o->event, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, o->now - o->window);
        sqlite3_bind_int64(s, 4, o->now);
        sqlite3_bind_int(s, 5, o->scores);
    } else if (sql == set_sql) {
        sqlite3_bind_text(s, 1, at, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_int(s, 1, o->scores / 2);
    }
    while ((step = sqlite3_step(s)) == SQLITE_ROW)
        high[sqlite3_column_int(s, 0) & 7] = sqlite3_column_int64(s, 1);
    if (step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "scoring contacts");
    sqlite3_finalize(s);
    return rc;
}

int hd_store_rfm(struct hd_store *st, const struct hd_rfm_opts *o, int64_t *scored, int64_t high[8],
                 struct hd_err *err)
{
    char path[300], at[32];
    int rc;
    snprintf(path, sizeof path, "$.%s", o->value);
    hd_time_format_iso(o->now, at, sizeof at);
    memset(high, 0, 8 * sizeof *high);
    if ((rc = hd_store_bulk(st, 131072, err)) < 0 || (rc = hd_store_begin(st, err)) < 0)
        goto out;
    if ((rc = hd_store_exec(st,
                            "DROP TABLE IF EXISTS temp.rfm_scores;"
                            "UPDATE contacts SET attrs = json_remove(attrs, '$.rfm_r', '$.rfm_f', "
                            "'$.rfm_m', '$.rfm_at') WHERE json_type(attrs, '$.rfm_r') IS NOT NULL;"
                            "INSERT OR IGNORE INTO attributes (name, type) VALUES ('rfm_r', "
                            "'number'), ('rfm_f', 'number'), ('rfm_m', 'number'), ('rfm_at', "
                            "'date')",
                            err)) < 0 ||
        (rc = run(st, rfm_sql, o, path, at, high, err)) < 0 ||
        (rc = run(st, set_sql, o, path, at, high, err)) < 0)
        goto out;
    *scored = sqlite3_changes(st->db);
    if ((rc = run(st, high_sql, o, path, at, high, err)) == 0 &&
        (rc = hd_store_exec(st, "DROP TABLE temp.rfm_scores", err)) == 0)
        rc = hd_store_commit(st, err);
out:
    if (rc < 0)
        hd_store_rollback(st);
    hd_store_bulk(st, 0, NULL);
    return rc;
}
