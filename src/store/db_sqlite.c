/* db_sqlite: the SQLite engine behind db.h.
 *
 * A thin wrapper: SQLite already has ? placeholders, typed values and a
 * step that returns a row at a time, so each function is one or two
 * sqlite3_ calls. The connection is opened as store.c opens its own
 * (foreign keys on, a busy timeout of five seconds); it does not migrate
 * or check the schema: that is its caller's (db copy checks the version).
 * The store's own connection is adopted (hd_db_sqlite_adopt), so code on
 * db.h and code still on sqlite3_ calls share one handle and one
 * transaction. */
#include "db.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"

struct lite {
    struct hd_db base;
    sqlite3 *db;
    bool adopted; /* the store's handle: the store closes it */
};

struct lite_stmt {
    struct hd_db_stmt base;
    sqlite3_stmt *stmt;
};

static int fail(struct hd_db *db, struct hd_err *err, const char *what)
{
    return hd_err_set(err, HD_E_STORE, "database '%s': %s: %s", db->where, what,
                      sqlite3_errmsg(((struct lite *)db)->db));
}

static void lite_close(struct hd_db *db)
{
    struct lite *l = (struct lite *)db;
    if (l->db && !l->adopted)
        sqlite3_close_v2(l->db);
    free(l->base.where);
    free(l);
}

static int lite_open(const char *target, const char *password, bool create, struct hd_db **out,
                     struct hd_err *err)
{
    (void)password;
    struct lite *l = hd_xcalloc(1, sizeof *l);
    l->base.ops = &hd_db_sqlite_ops;
    l->base.where = hd_xstrdup(target);
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(target, &l->db, flags, NULL);
    if (rc != SQLITE_OK) {
        if (rc == SQLITE_CANTOPEN && !create)
            hd_err_set(err, HD_E_NOTFOUND, "database '%s' does not exist or cannot be opened",
                       target);
        else
            hd_err_set(err, HD_E_STORE, "cannot open database '%s': %s", target,
                       l->db ? sqlite3_errmsg(l->db) : "out of memory");
        lite_close(&l->base);
        return err ? err->code : HD_E_STORE;
    }
    sqlite3_extended_result_codes(l->db, 1);
    sqlite3_busy_timeout(l->db, 5000);
    if (sqlite3_exec(l->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK) {
        rc = fail(&l->base, err, "foreign keys");
        lite_close(&l->base);
        return rc;
    }
    *out = &l->base;
    return 0;
}

struct hd_db *hd_db_sqlite_adopt(struct sqlite3 *handle, const char *where)
{
    struct lite *l = hd_xcalloc(1, sizeof *l);
    l->base.ops = &hd_db_sqlite_ops;
    l->base.where = hd_xstrdup(where);
    l->db = handle;
    l->adopted = true;
    return &l->base;
}

static int lite_exec(struct hd_db *db, const char *sql, struct hd_err *err)
{
    char *msg = NULL;
    int rc = hd_db_deferred(db, true, err); /* db.h: held-back rows go first */
    if (rc < 0)
        return rc;
    if (sqlite3_exec(((struct lite *)db)->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        hd_err_set(err, HD_E_STORE, "database '%s': %s", db->where,
                   msg ? msg : sqlite3_errmsg(((struct lite *)db)->db));
        sqlite3_free(msg);
        return HD_E_STORE;
    }
    return 0;
}

static int lite_prepare(struct hd_db *db, const char *sql, struct hd_db_stmt **out,
                        struct hd_err *err)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(((struct lite *)db)->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return fail(db, err, "preparing");
    struct lite_stmt *s = hd_xcalloc(1, sizeof *s);
    s->base.db = db;
    s->stmt = stmt;
    *out = &s->base;
    return 0;
}

static int lite_bind(struct hd_db_stmt *st, int idx, const struct hd_db_value *v,
                     struct hd_err *err)
{
    sqlite3_stmt *s = ((struct lite_stmt *)st)->stmt;
    int rc;
    switch (v->type) {
    case HD_DB_INT:
        rc = sqlite3_bind_int64(s, idx, v->i);
        break;
    case HD_DB_REAL:
        rc = sqlite3_bind_double(s, idx, v->d);
        break;
    case HD_DB_TEXT:
        rc = sqlite3_bind_text(s, idx, v->p, (int)v->len, SQLITE_TRANSIENT);
        break;
    case HD_DB_BLOB:
        rc = sqlite3_bind_blob(s, idx, v->len ? v->p : "", (int)v->len, SQLITE_TRANSIENT);
        break;
    default:
        rc = sqlite3_bind_null(s, idx);
    }
    return rc == SQLITE_OK ? 0 : fail(st->db, err, "binding");
}

static int lite_step(struct hd_db_stmt *st, struct hd_err *err)
{
    sqlite3_stmt *stmt = ((struct lite_stmt *)st)->stmt;
    /* a statement that starts: held-back rows go first (db.h) */
    int rc = sqlite3_stmt_busy(stmt) ? 0 : hd_db_deferred(st->db, true, err);
    if (rc < 0)
        return rc;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return fail(st->db, err, "step");
}

static void lite_reset(struct hd_db_stmt *st)
{
    sqlite3_reset(((struct lite_stmt *)st)->stmt);
}

static void lite_finalize(struct hd_db_stmt *st)
{
    sqlite3_finalize(((struct lite_stmt *)st)->stmt);
    free(st);
}

static int lite_ncols(struct hd_db_stmt *st)
{
    return sqlite3_column_count(((struct lite_stmt *)st)->stmt);
}

static const char *lite_col_name(struct hd_db_stmt *st, int i)
{
    return sqlite3_column_name(((struct lite_stmt *)st)->stmt, i);
}

static void lite_column(struct hd_db_stmt *st, int i, struct hd_db_value *v)
{
    sqlite3_stmt *s = ((struct lite_stmt *)st)->stmt;
    memset(v, 0, sizeof *v);
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER:
        v->type = HD_DB_INT;
        v->i = sqlite3_column_int64(s, i);
        break;
    case SQLITE_FLOAT:
        v->type = HD_DB_REAL;
        v->d = sqlite3_column_double(s, i);
        break;
    case SQLITE_TEXT:
        v->type = HD_DB_TEXT;
        v->p = sqlite3_column_text(s, i);
        v->len = (size_t)sqlite3_column_bytes(s, i);
        break;
    case SQLITE_BLOB:
        v->type = HD_DB_BLOB;
        v->p = sqlite3_column_blob(s, i);
        v->len = (size_t)sqlite3_column_bytes(s, i);
        break;
    default:
        v->type = HD_DB_NULL;
    }
}

static int64_t lite_changes(struct hd_db_stmt *st)
{
    return sqlite3_changes64(((struct lite *)st->db)->db);
}

const struct hd_db_ops hd_db_sqlite_ops = {
    .name = "sqlite",
    .open = lite_open,
    .close = lite_close,
    .exec = lite_exec,
    .prepare = lite_prepare,
    .bind = lite_bind,
    .step = lite_step,
    .reset = lite_reset,
    .finalize = lite_finalize,
    .ncols = lite_ncols,
    .col_name = lite_col_name,
    .column = lite_column,
    .changes = lite_changes,
};
