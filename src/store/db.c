/* db: picks the engine by the target and forwards to it (see db.h).
 *
 * Everything here is engine-neutral: the choice of engine (a URI scheme
 * means PostgreSQL, spelt exactly as libpq spells it; anything else is a
 * SQLite path, and a scheme in another case is refused), the name a
 * message shows for a target (db_pg.c builds a URI's from libpq's parse,
 * never from its text), the typed bind and column helpers over the engines' one bind and one column function, and
 * transactions, which both engines spell alike but for SQLite's BEGIN
 * IMMEDIATE (take the write lock at once, as store.c does). */
#include "db.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "herald/buf.h"

static const struct hd_db_ops *const engines[] = {&hd_db_sqlite_ops, &hd_db_pg_ops};

bool hd_db_target_is_pg(const char *target)
{
    /* exactly as libpq recognises a URI */
    return target &&
           (strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0);
}

/* A postgresql:// in another case: libpq takes it for key=value text
 * and its errors would repeat it, password and all. */
static bool pg_miscased(const char *target)
{
    return target && !hd_db_target_is_pg(target) &&
           (strncasecmp(target, "postgresql://", 13) == 0 ||
            strncasecmp(target, "postgres://", 11) == 0);
}

char *hd_db_redact(const char *target)
{
    if (pg_miscased(target))
        return hd_xstrdup("(a connection string libpq cannot parse)");
    if (!hd_db_target_is_pg(target))
        return hd_xstrdup(target ? target : "");
    return hd_db_pg_redact(target);
}

int hd_db_check_target(const char *target, struct hd_err *err)
{
    if (!pg_miscased(target))
        return 0;
    return hd_err_set(err, HD_E_USAGE,
                      "database: write the scheme in lower case, postgresql:// or postgres:// "
                      "(libpq reads no other spelling)");
}

int hd_db_open(const char *target, const char *password, bool create, struct hd_db **out,
               struct hd_err *err)
{
    int rc = hd_db_check_target(target, err);
    if (rc < 0)
        return rc;
    const struct hd_db_ops *ops = engines[hd_db_target_is_pg(target) ? 1 : 0];
    return ops->open(target, password, create, out, err);
}

void hd_db_close(struct hd_db *db)
{
    if (!db)
        return;
    hd_db_deferred(db, false, NULL);
    db->ops->close(db);
}

void hd_db_defer(struct hd_db *db, hd_db_defer_fn fn, void *ud)
{
    db->defer = fn;
    db->defer_ud = ud;
}

int hd_db_deferred(struct hd_db *db, bool flush, struct hd_err *err)
{
    if (!db) /* store.c's helpers, while a SQLite store is still opening */
        return 0;
    hd_db_defer_fn fn = db->defer;
    if (!fn)
        return 0;
    db->defer = NULL;
    return fn(db->defer_ud, flush, err);
}

const char *hd_db_engine(const struct hd_db *db)
{
    return db->ops->name;
}

bool hd_db_is_pg(const struct hd_db *db)
{
    return db->ops == &hd_db_pg_ops;
}

int hd_db_exec(struct hd_db *db, const char *sql, struct hd_err *err)
{
    return db->ops->exec(db, sql, err);
}

int hd_db_begin(struct hd_db *db, struct hd_err *err)
{
    return hd_db_exec(db, hd_db_is_pg(db) ? "BEGIN" : "BEGIN IMMEDIATE", err);
}

int hd_db_commit(struct hd_db *db, struct hd_err *err)
{
    return hd_db_exec(db, "COMMIT", err);
}

void hd_db_rollback(struct hd_db *db)
{
    struct hd_err ignored = {0};
    hd_db_deferred(db, false, NULL);
    /* "no transaction is active" is no error here */
    hd_db_exec(db, "ROLLBACK", &ignored);
}

int hd_db_prepare(struct hd_db *db, const char *sql, struct hd_db_stmt **out, struct hd_err *err)
{
    return db->ops->prepare(db, sql, out, err);
}

int hd_db_bind(struct hd_db_stmt *s, int idx, const struct hd_db_value *v, struct hd_err *err)
{
    return s->db->ops->bind(s, idx, v, err);
}

int hd_db_bind_int64(struct hd_db_stmt *s, int idx, int64_t x, struct hd_err *err)
{
    struct hd_db_value v = {.type = HD_DB_INT, .i = x};
    return hd_db_bind(s, idx, &v, err);
}

int hd_db_bind_text(struct hd_db_stmt *s, int idx, const char *text, struct hd_err *err)
{
    struct hd_db_value v = {
        .type = text ? HD_DB_TEXT : HD_DB_NULL, .p = text, .len = text ? strlen(text) : 0};
    return hd_db_bind(s, idx, &v, err);
}

int hd_db_bind_null(struct hd_db_stmt *s, int idx, struct hd_err *err)
{
    struct hd_db_value v = {.type = HD_DB_NULL};
    return hd_db_bind(s, idx, &v, err);
}

int hd_db_bind_blob(struct hd_db_stmt *s, int idx, const void *p, size_t len, struct hd_err *err)
{
    struct hd_db_value v = {.type = HD_DB_BLOB, .p = p, .len = len};
    return hd_db_bind(s, idx, &v, err);
}

int hd_db_step(struct hd_db_stmt *s, struct hd_err *err)
{
    return s->db->ops->step(s, err);
}

int64_t hd_db_changes(struct hd_db_stmt *s)
{
    return s->db->ops->changes(s);
}

void hd_db_reset(struct hd_db_stmt *s)
{
    if (s)
        s->db->ops->reset(s);
}

void hd_db_buffer(struct hd_db_stmt *s)
{
    if (s->db->ops->buffer)
        s->db->ops->buffer(s);
}

void hd_db_finalize(struct hd_db_stmt *s)
{
    if (s)
        s->db->ops->finalize(s);
}

int hd_db_ncols(struct hd_db_stmt *s)
{
    return s->db->ops->ncols(s);
}

const char *hd_db_col_name(struct hd_db_stmt *s, int i)
{
    return s->db->ops->col_name(s, i);
}

void hd_db_column(struct hd_db_stmt *s, int i, struct hd_db_value *v)
{
    s->db->ops->column(s, i, v);
}

int64_t hd_db_col_int64(struct hd_db_stmt *s, int i)
{
    struct hd_db_value v;
    hd_db_column(s, i, &v);
    switch (v.type) {
    case HD_DB_INT:
        return v.i;
    case HD_DB_REAL:
        return (int64_t)v.d;
    case HD_DB_TEXT:
        return strtoll(v.p, NULL, 10);
    default:
        return 0;
    }
}

bool hd_db_col_null(struct hd_db_stmt *s, int i)
{
    struct hd_db_value v;
    hd_db_column(s, i, &v);
    return v.type == HD_DB_NULL;
}

double hd_db_col_double(struct hd_db_stmt *s, int i)
{
    struct hd_db_value v;
    hd_db_column(s, i, &v);
    switch (v.type) {
    case HD_DB_INT:
        return (double)v.i;
    case HD_DB_REAL:
        return v.d;
    case HD_DB_TEXT:
        return strtod(v.p, NULL);
    default:
        return 0;
    }
}

const char *hd_db_col_text(struct hd_db_stmt *s, int i)
{
    struct hd_db_value v;
    hd_db_column(s, i, &v);
    return v.type == HD_DB_TEXT ? v.p : NULL;
}

int hd_db_query_int64(struct hd_db *db, const char *sql, int64_t *out, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc;
    if ((rc = hd_db_prepare(db, sql, &s, err)) < 0)
        return rc;
    if ((rc = hd_db_step(s, err)) == 1)
        *out = hd_db_col_int64(s, 0), rc = 0;
    else if (rc == 0)
        rc = hd_err_set(err, HD_E_STORE, "database '%s': no row from '%s'", db->where, sql);
    hd_db_finalize(s);
    return rc;
}
