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
 * the sum of a numeric property (events without it add nothing).
 *
 * At a million contacts and ten million events this must take seconds:
 * one aggregate over the index events(contact_id, name, at, ...) gives
 * each contact's three values in order of id; the ranks are three sorts
 * here (SQL's rank() windows took longer than the aggregate); the scores
 * go through a temporary table keyed by id, from which one UPDATE sets the
 * contacts in order of id (each page written once; old scores are taken
 * off only the contacts not scored now, and only once scores were ever
 * stored), and the layers' sizes
 * (high: a score above S/2) are counted on the way, so that no layer needs
 * a pass over every contact.
 *
 * Both engines (issue 23) take the same steps through db.h, each with its
 * own SQL text (struct rfm_sql): the attributes are text on PostgreSQL as
 * here, and herald_json_patch (its migration 22) sets and takes off the
 * scores as json_set and json_remove do, so that they read the same; the
 * scores go in row by row on PostgreSQL for now. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/time.h"
#include "store_int.h"
#include "db.h"

static const char agg_sql[] =
    "SELECT e.contact_id, max(e.at), count(*), total(CASE WHEN json_type(e.props, ?2) IN "
    "('integer', 'real') THEN json_extract(e.props, ?2) END) FROM events e WHERE e.name = ?1 "
    "AND e.at BETWEEN ?3 AND ?4 GROUP BY e.contact_id";

/* in order of id, so that each page of contacts is written once */
static const char set_sql[] =
    "UPDATE contacts SET attrs = json_set(attrs, '$.rfm_r', s.rs, '$.rfm_f', s.fs, '$.rfm_m', "
    "  s.ms, '$.rfm_at', ?1) FROM temp.rfm_scores s WHERE contacts.id = s.id";
static const char take_off_sql[] =
    "UPDATE contacts SET attrs = json_remove(attrs, '$.rfm_r', '$.rfm_f', '$.rfm_m', '$.rfm_at') "
    "WHERE json_type(attrs, '$.rfm_r') IS NOT NULL AND id NOT IN (SELECT id FROM "
    "temp.rfm_scores)";

static const char pg_agg_sql[] =
    "SELECT e.contact_id, max(e.at), count(*), coalesce(sum(CASE WHEN "
    "jsonb_typeof(CAST(e.props AS jsonb) #> CAST(?2 AS text[])) = 'number' THEN "
    "CAST(CAST(e.props AS jsonb) #>> CAST(?2 AS text[]) AS float8) END), 0) FROM events e "
    "WHERE e.name = ?1 AND e.at BETWEEN ?3 AND ?4 GROUP BY e.contact_id ORDER BY e.contact_id";
/* json_set's and json_remove's texts through herald_json_patch */
static const char pg_set_sql[] =
    "UPDATE contacts SET attrs = herald_json_patch(attrs, '{\"rfm_r\":' || s.rs || "
    "',\"rfm_f\":' || s.fs || ',\"rfm_m\":' || s.ms || ',\"rfm_at\":' || "
    "to_json(CAST(?1 AS text)) || '}') FROM rfm_scores s WHERE contacts.id = s.id";
static const char pg_take_off_sql[] =
    "UPDATE contacts SET attrs = herald_json_patch(attrs, "
    "'{\"rfm_r\":null,\"rfm_f\":null,\"rfm_m\":null,\"rfm_at\":null}') WHERE "
    "attrs_j -> 'rfm_r' IS NOT NULL AND id NOT IN (SELECT id FROM rfm_scores)";

/* The steps' texts on each engine. */
static const struct rfm_sql {
    const char *agg, *path, *scores, *take_off, *set, *drop;
} engines[2] = {
    {agg_sql, "$.%s",
     "DROP TABLE IF EXISTS temp.rfm_scores;"
     "CREATE TEMP TABLE rfm_scores (id INTEGER PRIMARY KEY, rs, fs, ms)",
     take_off_sql, set_sql, "DROP TABLE temp.rfm_scores"},
    {pg_agg_sql, "{%s}", /* a property's name: no , or } */
     "DROP TABLE IF EXISTS pg_temp.rfm_scores; CREATE TEMP TABLE rfm_scores "
     "(id bigint PRIMARY KEY, rs integer, fs integer, ms integer)",
     pg_take_off_sql, pg_set_sql, "DROP TABLE rfm_scores"},
};

/* Both accept SQLite's upsert as PostgreSQL writes it */
static const char attrs_sql[] =
    "INSERT INTO attributes (name, type) VALUES ('rfm_r', 'number'), ('rfm_f', 'number'), "
    "('rfm_m', 'number'), ('rfm_at', 'date') ON CONFLICT DO NOTHING";

struct keyed {
    double v;
    size_t i;
};

static int by_value(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    return (x->v > y->v) - (x->v < y->v);
}

/* score[i] for the values v[0..n): 1 + S * (values strictly smaller) / n. */
static void scores(const double *v, size_t n, int s, struct keyed *tmp, int *score)
{
    for (size_t i = 0; i < n; i++)
        tmp[i] = (struct keyed){v[i], i};
    qsort(tmp, n, sizeof *tmp, by_value);
    size_t smaller = 0;
    for (size_t k = 0; k < n; k++) {
        if (k && tmp[k].v != tmp[k - 1].v)
            smaller = k;
        score[tmp[k].i] = 1 + (int)((int64_t)smaller * s / (int64_t)n);
    }
}

/* Each contact's id and values (recency, frequency, monetary), by id. */
struct rfm_rows {
    int64_t *id;
    double *v[3];
    size_t n;
};

static int read_values(struct hd_store *st, const struct rfm_sql *q, const struct hd_rfm_opts *o,
                       const char *path, struct rfm_rows *rows, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn, q->agg, &s, err), step;
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, o->event, NULL);
    hd_db_bind_text(s, 2, path, NULL);
    hd_db_bind_int64(s, 3, o->now - o->window, NULL);
    hd_db_bind_int64(s, 4, o->now, NULL);
    while ((step = hd_db_step(s, err)) == 1) {
        size_t n = rows->n;
        HD_GROW(rows->id, n);
        for (int k = 0; k < 3; k++)
            HD_GROW(rows->v[k], n);
        rows->id[n] = hd_db_col_int64(s, 0);
        for (int k = 0; k < 3; k++)
            rows->v[k][n] = hd_db_col_double(s, k + 1);
        rows->n++;
    }
    if (step < 0)
        rc = step;
    hd_db_finalize(s);
    return rc;
}

/* The scores into the temporary rfm_scores, and the layers' sizes into
 * high[]. */
static int write_scores(struct hd_store *st, const struct rfm_sql *q, const struct rfm_rows *rows,
                        int s, int64_t high[8], struct hd_err *err)
{
    struct hd_db_stmt *ins = NULL;
    size_t n = rows->n;
    int *sc[3], rc;
    struct keyed *tmp = hd_xcalloc(n ? n : 1, sizeof *tmp);
    for (int k = 0; k < 3; k++) {
        sc[k] = hd_xcalloc(n ? n : 1, sizeof *sc[k]);
        scores(rows->v[k], n, s, tmp, sc[k]);
    }
    if ((rc = hd_db_exec(st->conn, q->scores, err)) < 0 ||
        (rc = hd_db_prepare(st->conn, "INSERT INTO rfm_scores VALUES (?1, ?2, ?3, ?4)", &ins,
                            err)) < 0)
        goto out;
    for (size_t i = 0; i < n && rc == 0; i++) {
        hd_db_bind_int64(ins, 1, rows->id[i], NULL);
        for (int k = 0; k < 3; k++)
            hd_db_bind_int64(ins, k + 2, sc[k][i], NULL);
        if ((rc = hd_db_step(ins, err)) > 0)
            rc = 0;
        hd_db_reset(ins);
        high[(sc[0][i] > s / 2) * 4 + (sc[1][i] > s / 2) * 2 + (sc[2][i] > s / 2)]++;
    }
out:
    hd_db_finalize(ins);
    for (int k = 0; k < 3; k++)
        free(sc[k]);
    free(tmp);
    return rc;
}

/* Runs sql (one parameter at most: text) to its end; *changes: the rows it
 * changed, when asked. */
static int run(struct hd_store *st, const char *sql, const char *text, int64_t *changes,
               struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn, sql, &s, err);
    if (rc < 0)
        return rc;
    if (text)
        hd_db_bind_text(s, 1, text, NULL);
    if ((rc = hd_db_step(s, err)) > 0)
        rc = 0;
    if (rc == 0 && changes)
        *changes = hd_db_changes(s);
    hd_db_finalize(s);
    return rc;
}

/* An error when an import recorded one of the score attributes as another
 * type: the scores would be numbers under a string attribute, and every
 * rule on them refused (a review found rfm_r imported as text did that). */
static int types_free(struct hd_store *st, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn,
                           "SELECT name, type FROM attributes WHERE name IN ('rfm_r', 'rfm_f', "
                           "'rfm_m', 'rfm_at') AND type <> CASE name WHEN 'rfm_at' THEN 'date' "
                           "ELSE 'number' END ORDER BY name LIMIT 1",
                           &s, err);
    int step = rc < 0 ? rc : hd_db_step(s, err);
    if (step == 1)
        rc = hd_err_set(err, HD_E_INVALID,
                        "attribute '%s' is recorded as %s: segment rfm stores numbers in rfm_r, "
                        "rfm_f and rfm_m and a date in rfm_at; import that attribute under "
                        "another name",
                        hd_db_col_text(s, 0), hd_db_col_text(s, 1));
    else if (step < 0)
        rc = step;
    hd_db_finalize(s);
    return rc;
}

/* The old scores off the contacts not scored now (the others get new
 * ones), when scores were ever stored (the attributes table says), then
 * the new ones on, their types recorded. */
static int set_contacts(struct hd_store *st, const struct rfm_sql *q, const char *at,
                        int64_t *scored, struct hd_err *err)
{
    int64_t known = 0;
    int rc = hd_db_query_int64(st->conn, "SELECT count(*) FROM attributes WHERE name = 'rfm_r'",
                               &known, err);
    if (rc == 0 && known)
        rc = run(st, q->take_off, NULL, NULL, err);
    if (rc == 0)
        rc = run(st, attrs_sql, NULL, NULL, err);
    if (rc == 0)
        rc = run(st, q->set, at, scored, err);
    return rc;
}

int hd_store_rfm(struct hd_store *st, const struct hd_rfm_opts *o, int64_t *scored, int64_t high[8],
                 struct hd_err *err)
{
    const struct rfm_sql *q = &engines[hd_store_is_pg(st)];
    char path[300], at[32];
    struct rfm_rows rows = {0};
    int rc;
    memset(high, 0, 8 * sizeof *high);
    snprintf(path, sizeof path, q->path, o->value);
    hd_time_format_iso(o->now, at, sizeof at);
    if ((rc = hd_store_bulk(st, 131072, err)) < 0 || (rc = hd_store_begin(st, err)) < 0)
        goto out;
    if ((rc = types_free(st, err)) < 0)
        goto out;
    if ((rc = read_values(st, q, o, path, &rows, err)) < 0 ||
        (rc = write_scores(st, q, &rows, o->scores, high, err)) < 0 ||
        (rc = set_contacts(st, q, at, scored, err)) < 0 ||
        (rc = hd_db_exec(st->conn, q->drop, err)) < 0 || (rc = hd_store_commit(st, err)) < 0)
        hd_store_dfail(err, rc, "scoring contacts");
out:
    if (rc < 0)
        hd_store_rollback(st);
    hd_store_bulk(st, 0, NULL);
    free(rows.id);
    for (int k = 0; k < 3; k++)
        free(rows.v[k]);
    return rc;
}
