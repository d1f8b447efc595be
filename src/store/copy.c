/* copy: `herald db copy FROM TO`, a whole store from one engine to the
 * other (or the same), through db.h (issue 23).
 *
 * The tables are a fixed list in dependency order (a row's parent before
 * it), each with the key it is read in; the source's and the target's
 * actual tables must be exactly that list, so a migration that adds a
 * table without adding it here makes the copy fail before it writes.
 * Every table is read with SELECT * from one snapshot of the source (a
 * read transaction, REPEATABLE READ on PostgreSQL) and written with an
 * INSERT naming the source's columns, bound value by value with the type
 * the source gave it, opts->batch rows per transaction, ids kept. The
 * target's own triggers still fire: copying consent appends to
 * consent_log, so consent is copied first and the rows its trigger made
 * are deleted before consent_log's own are copied (and webhooks, whose
 * cursors that delete could move, after both). meta's rows are the
 * source's (its instance names the messages): the target's own, made by
 * its init, are replaced. The webhook tokens taken (hook_tokens) are
 * copied too: a store switched to within their few minutes must refuse
 * them as the source would. Then PostgreSQL's identity sequences are set
 * past the largest id, and every table is counted on both sides. A copy that
 * fails after it began writing empties the target again (meta back to the
 * target's own rows), so it can be given to the next copy as it was. */
#include "herald/dbcopy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db.h"
#include "herald/buf.h"
#include "herald/store.h"

static const struct {
    const char *name;
    const char *key; /* ORDER BY; its first column names a row in messages */
} tables[] = {
    {"meta", "key"},
    {"attributes", "name"},
    {"segments", "name"},
    {"contacts", "id"},
    {"push_tokens", "contact_id, platform"},
    {"suppressions", "address"},
    {"consent", "contact_id, channel, category"},
    {"consent_log", "id"}, /* after consent: see the top */
    {"campaigns", "id"},
    {"runs", "id"},
    {"messages", "id"},
    {"attempts", "id"},
    {"sends", "message_id"},
    {"provider_pauses", "provider"},
    {"log_totals", "campaign_id, variant, channel, provider, day, outcome, reason, state"},
    {"log_latency", "campaign_id, variant, channel, provider, day, bucket"},
    {"events", "id"},
    {"receipts", "id"},
    {"api_keys", "id"},
    {"api_messages", "message_id"},
    {"api_idempotency", "key_id, idem"},
    {"webhooks", "name"}, /* after consent_log: see the top */
    {"gateway_ids", "provider, gateway_id"},
    {"inbox", "id"},
    {"users", "id"},
    {"console_sessions", "id"},
    {"audit_actions", "id"},
    {"nodes", "id"},
    {"provider_rates", "provider"},
    {"hook_tokens", "hash"}, /* copied: see the top */
};

#define NTABLES ((int)(sizeof tables / sizeof tables[0]))
_Static_assert(NTABLES <= HD_STORE_COPY_TABLES, "the report holds every table");

static int table_index(const char *name)
{
    for (int i = 0; i < NTABLES; i++)
        if (strcmp(tables[i].name, name) == 0)
            return i;
    return -1;
}

/* The store's tables must be the list's, no more, no fewer. */
static int check_tables(struct hd_db *db, const char *side, struct hd_err *err)
{
    const char *sql = hd_db_is_pg(db) ? "SELECT tablename FROM pg_tables WHERE schemaname = "
                                        "current_schema() AND tablename <> 'herald_schema'"
                                      : "SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite_%'";
    struct hd_db_stmt *s = NULL;
    bool seen[NTABLES] = {0};
    int rc;
    if ((rc = hd_db_prepare(db, sql, &s, err)) < 0)
        return rc;
    while ((rc = hd_db_step(s, err)) == 1) {
        const char *name = hd_db_col_text(s, 0);
        int i = table_index(name ? name : "");
        if (i < 0) {
            rc = hd_err_set(err, HD_E_STORE,
                            "the %s '%s' has a table db copy does not know, '%s' (a migration "
                            "added it: add it to src/store/copy.c)",
                            side, db->where, name ? name : "");
            break;
        }
        seen[i] = true;
    }
    hd_db_finalize(s);
    for (int i = 0; rc == 0 && i < NTABLES; i++)
        if (!seen[i])
            rc = hd_err_set(err, HD_E_STORE, "the %s '%s' has no table '%s'", side, db->where,
                            tables[i].name);
    return rc < 0 ? rc : 0;
}

static int count_rows(struct hd_db *db, const char *table, int64_t *n, struct hd_err *err)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    int rc = hd_db_query_int64(db, sql, n, err);
    return rc < 0 ? hd_err_prefix(err, "counting table '%s'", table) : 0;
}

static int schema_version(struct hd_db *db, int *v, struct hd_err *err)
{
    int64_t x = 0;
    if (hd_db_is_pg(db))
        return hd_store_pg_version(db, v, err);
    int rc = hd_db_query_int64(db, "PRAGMA user_version", &x, err);
    *v = (int)x;
    return rc;
}

/* A side whose schema version is not this herald's: an older one is
 * brought forward by init, a newer one needs a newer herald (the advice
 * said init for both). */
static int version_fail(const struct hd_db *db, const char *side, int v, struct hd_err *err)
{
    int mine = hd_store_schema_version();
    return hd_err_set(err, HD_E_STORE, "the %s '%s' has schema version %d, this herald's is %d: %s",
                      side, db->where, v, mine,
                      v < mine ? "run 'herald init' on it first" : "upgrade herald");
}

/* A SQLite file that is missing or empty: the copy makes the store. */
static bool sqlite_new(const char *path)
{
    struct stat sb;
    return stat(path, &sb) < 0 || (S_ISREG(sb.st_mode) && sb.st_size == 0);
}

static int open_source(const char *from, const char *password, struct hd_db **db,
                       struct hd_err *err)
{
    int v, rc;
    if (!hd_db_target_is_pg(from) && sqlite_new(from))
        return hd_err_set(err, HD_E_NOTFOUND, "the source '%s' does not exist or is empty", from);
    if ((rc = hd_db_open(from, password, false, db, err)) < 0 ||
        (rc = schema_version(*db, &v, err)) < 0)
        return rc;
    if (v != hd_store_schema_version())
        return version_fail(*db, "source", v, err);
    return check_tables(*db, "source", err);
}

/* Opens the target, making its schema when it has none. */
static int open_target(const char *to, const char *password, struct hd_db **db, bool *created,
                       struct hd_err *err)
{
    int v = 0, rc;
    *created = false;
    if (!hd_db_target_is_pg(to) && sqlite_new(to)) {
        struct hd_store_opts so = {.create = true};
        struct hd_store *st = NULL;
        if ((rc = hd_store_open(to, &so, &st, err)) < 0)
            return rc;
        hd_store_free(st);
        *created = true;
    }
    if ((rc = hd_db_open(to, password, false, db, err)) < 0 ||
        (rc = schema_version(*db, &v, err)) < 0)
        return rc;
    if (v == 0 && hd_db_is_pg(*db)) {
        int64_t others = 0;
        if ((rc = hd_db_query_int64(*db,
                                    "SELECT count(*) FROM pg_tables WHERE schemaname = "
                                    "current_schema() AND tablename <> 'herald_schema'",
                                    &others, err)) < 0)
            return rc;
        if (others > 0)
            return hd_err_set(err, HD_E_STORE,
                              "the target '%s' has tables but not herald's: give an empty "
                              "database (or one 'herald init' made); nothing was written",
                              (*db)->where);
        if ((rc = hd_store_pg_migrate(*db, &v, err)) < 0 || (rc = schema_version(*db, &v, err)) < 0)
            return rc;
        *created = true;
    }
    if (v != hd_store_schema_version())
        return version_fail(*db, "target", v, err);
    return check_tables(*db, "target", err);
}

/* The target holds no rows but meta's (its init's own). */
static int check_empty(struct hd_db *db, struct hd_err *err)
{
    for (int i = 0; i < NTABLES; i++) {
        int64_t n = 0;
        int rc;
        if (strcmp(tables[i].name, "meta") == 0)
            continue;
        if ((rc = count_rows(db, tables[i].name, &n, err)) < 0)
            return rc;
        if (n > 0)
            return hd_err_set(err, HD_E_STORE,
                              "the target '%s' is not empty (table '%s' has %" PRId64
                              " rows): db copy only fills an empty store; nothing was written",
                              db->where, tables[i].name, n);
    }
    return 0;
}

struct run {
    struct hd_db *from, *to;
    int batch;
    struct hd_progress *progress;
    bool (*stopped)(void);
    uint64_t done;
};

/* Rows go CHUNK_ROWS to an INSERT (a row per statement, each a round
 * trip, copied about 5,000 rows a second into PostgreSQL), each chunk's
 * values copied and held until its INSERT has run. */
#define CHUNK_ROWS 100
#define MAX_PARAMS 30000 /* under SQLite's 32,766 and PostgreSQL's 65,535 */

struct chunk {
    int ncols, per;           /* columns; rows in a full chunk */
    int n;                    /* rows held */
    struct hd_db_value *v;    /* per * ncols values, text and blobs owned */
    char first[96], last[96]; /* the first and the last row held, for messages */
    struct hd_db_stmt *full;  /* the INSERT of per rows */
};

/* INSERT INTO table (the source's columns) VALUES (?, ...), ... for rows */
static int prepare_insert(struct hd_db *to, const char *table, struct hd_db_stmt *src, int rows,
                          struct hd_db_stmt **ins, struct hd_err *err)
{
    struct hd_buf b;
    hd_buf_init(&b);
    int n = hd_db_ncols(src);
    hd_buf_addf(&b, "INSERT INTO %s (", table);
    for (int i = 0; i < n; i++)
        hd_buf_addf(&b, "%s\"%s\"", i ? ", " : "", hd_db_col_name(src, i));
    hd_buf_addf(&b, ") VALUES ");
    for (int row = 0; row < rows; row++)
        for (int i = 0; i < n; i++)
            hd_buf_addf(&b, "%s%s", i ? ", ?" : row ? ", (?" : "(?", i == n - 1 ? ")" : "");
    int rc = hd_db_prepare(to, b.data, ins, err);
    hd_buf_release(&b);
    return rc;
}

/* "id 12" or "address 'x'": a row's first key column, for messages */
static void row_name(const char *col, const struct hd_db_value *v, char *buf, size_t n)
{
    if (v->type == HD_DB_INT)
        snprintf(buf, n, "%s %" PRId64, col, v->i);
    else if (v->type == HD_DB_TEXT)
        snprintf(buf, n, "%s '%.60s'", col, (const char *)v->p);
    else
        snprintf(buf, n, "%s (binary)", col);
}

static void chunk_clear(struct chunk *c)
{
    for (int i = 0; i < c->n * c->ncols; i++)
        if (c->v[i].type == HD_DB_TEXT || c->v[i].type == HD_DB_BLOB)
            free((void *)c->v[i].p);
    c->n = 0;
}

/* Holds the source's current row, its values copied. */
static void chunk_hold(struct chunk *c, struct hd_db_stmt *src)
{
    struct hd_db_value *row = &c->v[c->n * c->ncols];
    for (int i = 0; i < c->ncols; i++) {
        hd_db_column(src, i, &row[i]);
        if (row[i].type == HD_DB_TEXT || row[i].type == HD_DB_BLOB) {
            char *copy = hd_xmalloc(row[i].len + 1);
            memcpy(copy, row[i].p, row[i].len);
            copy[row[i].len] = '\0';
            row[i].p = copy;
        }
    }
    row_name(hd_db_col_name(src, 0), &row[0], c->n ? c->last : c->first, sizeof c->first);
    c->n++;
}

/* Inserts the rows held. */
static int chunk_flush(struct run *r, const char *table, struct hd_db_stmt *src, struct chunk *c,
                       struct hd_err *err)
{
    struct hd_db_stmt *ins = c->full;
    int rc = 0;
    if (c->n == 0)
        return 0;
    if (c->n != c->per && (rc = prepare_insert(r->to, table, src, c->n, &ins, err)) < 0)
        return rc;
    for (int i = 0; i < c->n * c->ncols && rc >= 0; i++)
        rc = hd_db_bind(ins, i + 1, &c->v[i], err);
    if (rc >= 0)
        rc = hd_db_step(ins, err);
    hd_db_reset(ins);
    if (ins != c->full)
        hd_db_finalize(ins);
    if (rc < 0 && c->n == 1)
        hd_err_prefix(err, "row %s", c->first);
    else if (rc < 0)
        hd_err_prefix(err, "one of the rows %s to %s", c->first, c->last);
    chunk_clear(c);
    return rc < 0 ? rc : 0;
}

static int copy_rows(struct run *r, const char *table, struct hd_db_stmt *src, struct chunk *c,
                     int64_t *copied, struct hd_err *err)
{
    int rc;
    int64_t k = 0;
    while ((rc = hd_db_step(src, err)) == 1) {
        chunk_hold(c, src);
        k++, r->done++;
        bool commit = k % r->batch == 0;
        if ((c->n == c->per || commit) && (rc = chunk_flush(r, table, src, c, err)) < 0)
            return rc;
        if (commit) {
            if ((rc = hd_db_commit(r->to, err)) < 0 || (rc = hd_db_begin(r->to, err)) < 0)
                return rc;
            /* interrupted: undone as a failure is (an interrupted copy was
             * left half-written, and refused when run again: a review) */
            if (r->stopped && r->stopped())
                return hd_err_set(err, HD_E_INVALID, "interrupted");
            if (r->progress)
                hd_progress_update(r->progress, r->done, r->done);
        }
    }
    if (rc == 0)
        rc = chunk_flush(r, table, src, c, err);
    *copied = k;
    return rc;
}

/* PostgreSQL's webhook cursors are (transaction, id) pairs over rows
 * whose transactions a copy does not keep (they are the source's own
 * counter's, which the target's may be behind): a cursor leaves the
 * source as the ids every row at or below which it had passed, and comes
 * into a PostgreSQL target as the pair of its last such row. The copy
 * writes each table in id order, one transaction after another, so
 * there the transactions grow with the ids and that pair is exact. */
#define LOG_OUT_PG                                                                                 \
    "coalesce((SELECT min(r.id) - 1 FROM attempts r WHERE (r.xact_id, r.id) > "                    \
    "(webhooks.log_xact, webhooks.log_id)), (SELECT coalesce(max(id), 0) FROM attempts)) AS "      \
    "log_id"
#define CONSENT_OUT_PG                                                                             \
    "coalesce((SELECT min(r.id) - 1 FROM consent_log r WHERE (r.xact_id, r.id) > "                 \
    "(webhooks.consent_xact, webhooks.consent_id)), (SELECT coalesce(max(id), 0) FROM "            \
    "consent_log)) AS consent_id"
static const char cursors_in_pg[] =
    "UPDATE webhooks SET log_xact = coalesce((SELECT r.xact_id FROM attempts r WHERE r.id <= "
    "webhooks.log_id ORDER BY r.id DESC LIMIT 1), 0), consent_xact = coalesce((SELECT r.xact_id "
    "FROM consent_log r WHERE r.id <= webhooks.consent_id ORDER BY r.id DESC LIMIT 1), 0)";

/* A PostgreSQL source's columns of table ?1, but the generated ones and
 * the writing transactions, webhooks' cursors as ids. */
static const char columns_pg[] =
    "SELECT string_agg(CASE WHEN table_name <> 'webhooks' THEN quote_ident(column_name) "
    "WHEN column_name = 'log_id' THEN '" LOG_OUT_PG "' "
    "WHEN column_name = 'consent_id' THEN '" CONSENT_OUT_PG "' "
    "ELSE quote_ident(column_name) END, ', ' ORDER BY ordinal_position) "
    "FROM information_schema.columns WHERE table_schema = current_schema() AND "
    "table_name = ?1 AND is_generated = 'NEVER' AND "
    "column_name NOT IN ('xact_id', 'log_xact', 'consent_xact')";

/* The query that reads table t from the source: every column but, on
 * PostgreSQL, the generated ones (contacts.attrs_j, migration 22), which
 * the other side makes itself or has not, and the writing transactions
 * (migration 27; see CURSOR_OUT_PG). */
static int source_query(struct hd_db *from, int t, char *sql, size_t n, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    const char *cols = "*";
    int rc = 0, step;
    if (hd_db_is_pg(from)) {
        if ((rc = hd_db_prepare(from, columns_pg, &s, err)) < 0)
            return rc;
        hd_db_bind_text(s, 1, tables[t].name, NULL);
        if ((step = hd_db_step(s, err)) == 1 && hd_db_col_text(s, 0))
            cols = hd_db_col_text(s, 0);
        else if (step < 0)
            rc = step;
    }
    if (rc == 0 && (size_t)snprintf(sql, n, "SELECT %s FROM %s ORDER BY %s", cols, tables[t].name,
                                    tables[t].key) >= n)
        rc = hd_err_set(err, HD_E_STORE, "copying table '%s': too many columns", tables[t].name);
    hd_db_finalize(s);
    return rc;
}

static int copy_table(struct run *r, int t, int64_t *copied, struct hd_err *err)
{
    char sql[2048];
    const char *table = tables[t].name;
    struct hd_db_stmt *src = NULL;
    struct chunk c = {0};
    int rc;
    if ((rc = source_query(r->from, t, sql, sizeof sql, err)) < 0 ||
        (rc = hd_db_prepare(r->from, sql, &src, err)) < 0)
        goto out;
    c.ncols = hd_db_ncols(src);
    c.per = c.ncols * CHUNK_ROWS <= MAX_PARAMS ? CHUNK_ROWS : MAX_PARAMS / c.ncols;
    c.v = hd_xcalloc((size_t)c.per * (size_t)c.ncols, sizeof *c.v);
    if ((rc = prepare_insert(r->to, table, src, c.per, &c.full, err)) < 0 ||
        (rc = hd_db_begin(r->to, err)) < 0)
        goto out;
    /* meta: the source's rows replace the init's; consent_log: see the top */
    if (strcmp(table, "meta") == 0 || strcmp(table, "consent_log") == 0) {
        snprintf(sql, sizeof sql, "DELETE FROM %s", table);
        if ((rc = hd_db_exec(r->to, sql, err)) < 0)
            goto out;
    }
    if ((rc = copy_rows(r, table, src, &c, copied, err)) < 0)
        goto out;
    if (strcmp(table, "webhooks") == 0 && hd_db_is_pg(r->to) &&
        (rc = hd_db_exec(r->to, cursors_in_pg, err)) < 0)
        goto out;
    rc = hd_db_commit(r->to, err);
out:
    if (c.v)
        chunk_clear(&c);
    free(c.v);
    hd_db_finalize(c.full);
    hd_db_finalize(src);
    if (rc < 0) {
        hd_db_rollback(r->to);
        return hd_err_prefix(err, "copying table '%s'", table);
    }
    return 0;
}

/* meta's rows as the target had them before the copy (its init's), so a
 * failed copy can put them back. */
struct meta_rows {
    size_t n;
    char **kv; /* key, value, key, value, ... */
};

static void meta_release(struct meta_rows *m)
{
    for (size_t i = 0; i < 2 * m->n; i++)
        free(m->kv[i]);
    free(m->kv);
    memset(m, 0, sizeof *m);
}

static int meta_save(struct hd_db *db, struct meta_rows *m, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc;
    if ((rc = hd_db_prepare(db, "SELECT key, value FROM meta ORDER BY key", &s, err)) < 0)
        return rc;
    while ((rc = hd_db_step(s, err)) == 1) {
        m->kv = hd_xrealloc(m->kv, (2 * m->n + 2) * sizeof *m->kv);
        m->kv[2 * m->n] = hd_xstrdup(hd_db_col_text(s, 0));
        m->kv[2 * m->n + 1] = hd_xstrdup(hd_db_col_text(s, 1));
        m->n++;
    }
    hd_db_finalize(s);
    return rc < 0 ? hd_err_prefix(err, "reading the target's meta") : 0;
}

/* After a failed copy: the target as it was before, every table empty
 * but meta, which gets its own rows back, in one transaction. Tables go
 * children first; consent_log again last, for what deleting consent may
 * have logged. */
static int empty_target(struct hd_db *db, const struct meta_rows *m, struct hd_err *err)
{
    struct hd_db_stmt *ins = NULL;
    char sql[96];
    int rc = hd_db_begin(db, err);
    for (int t = NTABLES; rc >= 0 && t-- > 0;) {
        snprintf(sql, sizeof sql, "DELETE FROM %s", tables[t].name);
        rc = hd_db_exec(db, sql, err);
    }
    if (rc >= 0 && (rc = hd_db_exec(db, "DELETE FROM consent_log", err)) >= 0)
        rc = hd_db_prepare(db, "INSERT INTO meta (key, value) VALUES (?, ?)", &ins, err);
    for (size_t i = 0; rc >= 0 && i < m->n; i++) {
        hd_db_reset(ins);
        if ((rc = hd_db_bind_text(ins, 1, m->kv[2 * i], err)) >= 0 &&
            (rc = hd_db_bind_text(ins, 2, m->kv[2 * i + 1], err)) >= 0)
            rc = hd_db_step(ins, err);
    }
    hd_db_finalize(ins);
    if (rc >= 0)
        rc = hd_db_commit(db, err);
    if (rc < 0)
        hd_db_rollback(db);
    return rc < 0 ? rc : 0;
}

/* Each identity sequence past its column's largest value. */
static int reset_sequences(struct hd_db *db, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    struct hd_buf b;
    int rc;
    hd_buf_init(&b);
    if ((rc = hd_db_prepare(db,
                            "SELECT table_name, column_name FROM information_schema.columns "
                            "WHERE table_schema = current_schema() AND is_identity = 'YES'",
                            &s, err)) < 0)
        return rc;
    while ((rc = hd_db_step(s, err)) == 1)
        hd_buf_addf(&b,
                    "SELECT setval(pg_get_serial_sequence('%s', '%s'), coalesce(max(%s), 1), "
                    "max(%s) IS NOT NULL) FROM %s;",
                    hd_db_col_text(s, 0), hd_db_col_text(s, 1), hd_db_col_text(s, 1),
                    hd_db_col_text(s, 1), hd_db_col_text(s, 0));
    hd_db_finalize(s);
    /* the fencing tokens' sequence, past those the messages hold */
    hd_buf_adds(&b, "SELECT setval('lease_tokens', coalesce(max(lease_token), 1), "
                    "max(lease_token) IS NOT NULL) FROM messages;");
    if (rc == 0 && b.len)
        rc = hd_db_exec(db, b.data, err);
    hd_buf_release(&b);
    return rc < 0 ? hd_err_prefix(err, "setting the identity sequences") : 0;
}

/* Every table counted again on both sides. */
static int verify(struct run *r, struct hd_store_copy_report *rep, struct hd_err *err)
{
    rep->rows = 0;
    for (int t = 0; t < NTABLES; t++) {
        int64_t a = 0, b = 0;
        int rc;
        if ((rc = count_rows(r->from, tables[t].name, &a, err)) < 0 ||
            (rc = count_rows(r->to, tables[t].name, &b, err)) < 0)
            return rc;
        if (a != b)
            return hd_err_set(err, HD_E_STORE,
                              "table '%s' has %" PRId64 " rows in the source and %" PRId64
                              " in the target after the copy",
                              tables[t].name, a, b);
        snprintf(rep->tables[t].name, sizeof rep->tables[t].name, "%s", tables[t].name);
        rep->tables[t].rows = b;
        rep->rows += b;
    }
    rep->ntables = NTABLES;
    return 0;
}

static int copy_all(struct run *r, struct hd_store_copy_report *rep, struct hd_err *err)
{
    int rc;
    uint64_t total = 0;
    for (int t = 0; t < NTABLES; t++) {
        int64_t n = 0;
        if ((rc = count_rows(r->from, tables[t].name, &n, err)) < 0)
            return rc;
        total += (uint64_t)n;
    }
    if (r->progress)
        r->progress->total = total;
    for (int t = 0; t < NTABLES; t++) {
        int64_t n = 0;
        if ((rc = copy_table(r, t, &n, err)) < 0)
            return rc;
        if (r->progress)
            hd_progress_update(r->progress, r->done, r->done);
    }
    if (r->progress)
        hd_progress_finish(r->progress);
    if (hd_db_is_pg(r->to) && (rc = reset_sequences(r->to, err)) < 0)
        return rc;
    return verify(r, rep, err);
}

/* A failed copy leaves nothing of itself: the target is emptied again,
 * and err says so (or that even that failed). */
static void undo(struct run *r, const struct meta_rows *m, struct hd_err *err)
{
    struct hd_err why = {0};
    size_t len = strlen(err->msg);
    if (empty_target(r->to, m, &why) == 0)
        snprintf(err->msg + len, sizeof err->msg - len,
                 " (the target was emptied again: nothing of the copy is left)");
    else
        snprintf(err->msg + len, sizeof err->msg - len,
                 " (emptying the target again failed too: %s; it holds part of the copy, so "
                 "start again with an empty one)",
                 why.msg);
}

int hd_store_copy(const char *from, const char *to, const struct hd_store_copy_opts *opts,
                  struct hd_store_copy_report *rep, struct hd_err *err)
{
    struct hd_store_copy_opts dflt = {0};
    struct meta_rows meta = {0};
    struct run r = {0};
    int rc;
    if (!opts)
        opts = &dflt;
    memset(rep, 0, sizeof *rep);
    r.batch = opts->batch > 0 ? opts->batch : 5000;
    r.progress = opts->progress;
    r.stopped = opts->stopped;
    if (strcmp(from, to) == 0)
        return hd_err_set(err, HD_E_USAGE, "the source and the target are the same store");
    if ((rc = open_source(from, opts->from_password, &r.from, err)) < 0 ||
        (rc = open_target(to, opts->to_password, &r.to, &rep->created, err)) < 0 ||
        (rc = check_empty(r.to, err)) < 0)
        goto out;
    /* one snapshot of the source for every table */
    if ((rc = hd_db_exec(r.from,
                         hd_db_is_pg(r.from) ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                                             : "BEGIN",
                         err)) < 0)
        goto out;
    rep->version = hd_store_schema_version();
    if ((rc = meta_save(r.to, &meta, err)) < 0)
        goto out;
    if ((rc = copy_all(&r, rep, err)) < 0)
        undo(&r, &meta, err);
    hd_db_rollback(r.from);
out:
    meta_release(&meta);
    if (r.progress)
        hd_progress_finish(r.progress);
    hd_db_close(r.from);
    hd_db_close(r.to);
    return rc;
}
