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
 * at). */
#include "herald/time.h"
#include "store_int.h"

static const char rfm_sql[] =
    "WITH m AS (SELECT e.contact_id AS id, max(e.at) AS r, count(*) AS f, "
    "  total(CASE WHEN json_type(e.props, ?2) IN ('integer', 'real') THEN "
    "  json_extract(e.props, ?2) END) AS m FROM events e WHERE e.name = ?1 AND e.at BETWEEN ?3 "
    "  AND ?4 GROUP BY e.contact_id), "
    "n AS (SELECT count(*) AS n FROM m), "
    "s AS (SELECT id, 1 + (rank() OVER (ORDER BY r) - 1) * ?5 / n.n AS rs, "
    "  1 + (rank() OVER (ORDER BY f) - 1) * ?5 / n.n AS fs, "
    "  1 + (rank() OVER (ORDER BY m) - 1) * ?5 / n.n AS ms FROM m, n) "
    "UPDATE contacts SET attrs = json_set(attrs, '$.rfm_r', s.rs, '$.rfm_f', s.fs, '$.rfm_m', "
    "  s.ms, '$.rfm_at', ?6) FROM s WHERE contacts.id = s.id";

int hd_store_rfm(struct hd_store *st, const struct hd_rfm_opts *o, int64_t *scored,
                 struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    char path[300], at[32];
    int rc;
    snprintf(path, sizeof path, "$.%s", o->value);
    hd_time_format_iso(o->now, at, sizeof at);
    if ((rc = hd_store_begin(st, err)) < 0)
        return rc;
    if ((rc = hd_store_exec(st,
                            "UPDATE contacts SET attrs = json_remove(attrs, '$.rfm_r', '$.rfm_f', "
                            "'$.rfm_m', '$.rfm_at') WHERE json_type(attrs, '$.rfm_r') IS NOT NULL;"
                            "INSERT OR IGNORE INTO attributes (name, type) VALUES ('rfm_r', "
                            "'number'), ('rfm_f', 'number'), ('rfm_m', 'number'), ('rfm_at', "
                            "'date')",
                            err)) < 0 ||
        (rc = hd_store_prepare(st, rfm_sql, &s, err)) < 0)
        goto out;
    sqlite3_bind_text(s, 1, o->event, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, o->now - o->window);
    sqlite3_bind_int64(s, 4, o->now);
    sqlite3_bind_int(s, 5, o->scores);
    sqlite3_bind_text(s, 6, at, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "scoring contacts");
    else
        *scored = sqlite3_changes(st->db);
out:
    sqlite3_finalize(s);
    if (rc == 0)
        rc = hd_store_commit(st, err);
    if (rc < 0)
        hd_store_rollback(st);
    return rc;
}
