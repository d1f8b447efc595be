/* db: the statement layer both engines sit behind (issue 23), private to
 * src/store/.
 *
 * A connection (struct hd_db) is opened by target: a postgresql:// or
 * postgres:// URI (any libpq connection URI) is PostgreSQL through libpq,
 * anything else a SQLite path. Statements are written once with `?` (or
 * SQLite's numbered `?NNN`) placeholders; the PostgreSQL engine makes them
 * $1, $2, ... (outside quoted text) before it prepares them, so jsonb's
 * ? operators cannot be written (jsonb_exists() and its kin can). Values cross the seam as struct
 * hd_db_value, typed as SQLite types them (null, integer, real, text, blob),
 * so code above it, and `herald db copy` between the two, never asks which
 * engine it has. Each engine is a struct of function pointers (db_sqlite.c,
 * db_pg.c); this file picks one by the target and forwards to it. SQL
 * itself is not translated: where the dialects differ the caller chooses
 * its text by hd_db_engine(). A target may carry a password: messages name
 * it through hd_db_redact. */
#ifndef HERALD_STORE_DB_H
#define HERALD_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/err.h"

struct hd_db;
struct hd_db_stmt;

/* Rows a caller holds back to write as one statement (the delivery log:
 * queue_pg.c, log_lite.c): set by hd_db_defer, fn(ud, true, err) runs
 * once before the next statement of any kind starts on the connection,
 * COMMIT among them, so whatever follows sees the rows, and fn(ud, false,
 * NULL) when the transaction is rolled back instead or the connection
 * closes (the rows are dropped). The hook is cleared before fn runs; the
 * caller sets it again for its next rows. The engines call it (on SQLite
 * also store.c's helpers, which run statements on the handle itself; its
 * cached statements that cannot see the rows skip it: store_int.h's
 * hd_store_cached). */
typedef int (*hd_db_defer_fn)(void *ud, bool flush, struct hd_err *err);
void hd_db_defer(struct hd_db *db, hd_db_defer_fn fn, void *ud);
/* For the engines: runs and clears the hook, if one is set. */
int hd_db_deferred(struct hd_db *db, bool flush, struct hd_err *err);

enum hd_db_type { HD_DB_NULL, HD_DB_INT, HD_DB_REAL, HD_DB_TEXT, HD_DB_BLOB };

/* One value bound or read. Read: the pointers are the statement's, valid
 * until its next step, reset or finalize. */
struct hd_db_value {
    enum hd_db_type type;
    int64_t i;     /* HD_DB_INT */
    double d;      /* HD_DB_REAL */
    const void *p; /* HD_DB_TEXT (NUL-terminated) and HD_DB_BLOB */
    size_t len;    /* bytes at p, without the NUL */
};

/* An engine. Every function but open takes what open made. */
struct hd_db_ops {
    const char *name; /* "sqlite", "postgresql" */
    int (*open)(const char *target, const char *password, bool create, struct hd_db **out,
                struct hd_err *err);
    void (*close)(struct hd_db *db);
    int (*exec)(struct hd_db *db, const char *sql, struct hd_err *err);
    int (*prepare)(struct hd_db *db, const char *sql, struct hd_db_stmt **out, struct hd_err *err);
    int (*bind)(struct hd_db_stmt *s, int idx, const struct hd_db_value *v, struct hd_err *err);
    int (*step)(struct hd_db_stmt *s, struct hd_err *err);
    void (*reset)(struct hd_db_stmt *s);
    void (*finalize)(struct hd_db_stmt *s);
    int (*ncols)(struct hd_db_stmt *s);
    const char *(*col_name)(struct hd_db_stmt *s, int i);
    void (*column)(struct hd_db_stmt *s, int i, struct hd_db_value *v);
    int64_t (*changes)(struct hd_db_stmt *s);
    void (*buffer)(struct hd_db_stmt *s); /* NULL: rows never hold the connection */
};

/* What every engine's connection and statement start with. */
struct hd_db {
    const struct hd_db_ops *ops;
    char *where;          /* the target with any password masked, for messages */
    hd_db_defer_fn defer; /* hd_db_defer's, or NULL */
    void *defer_ud;
};
struct hd_db_stmt {
    struct hd_db *db;
};

/* Whether target names a PostgreSQL database (postgresql:// or postgres://). */
bool hd_db_target_is_pg(const char *target);
/* target as messages show it; the caller frees. A SQLite path as it is;
 * a PostgreSQL URI rebuilt from libpq's parse of it (user, host, port,
 * database: never the password, however the URI spells it), or "(a
 * connection string libpq cannot parse)"; a postgresql:// not in lower
 * case (which libpq does not read as a URI) is not shown either. */
char *hd_db_redact(const char *target);

/* Refuses a postgresql:// (postgres://) target not in lower case, which
 * would otherwise be taken for a SQLite path and named whole. */
int hd_db_check_target(const char *target, struct hd_err *err);
/* Opens target (checked as hd_db_check_target does). password (may be NULL) is given to libpq for PostgreSQL
 * (the URI's own, or ~/.pgpass, serve otherwise) and ignored for SQLite.
 * create: SQLite may make a missing file; PostgreSQL databases are never
 * created. The caller closes *out. */
int hd_db_open(const char *target, const char *password, bool create, struct hd_db **out,
               struct hd_err *err);
void hd_db_close(struct hd_db *db);
/* A SQLite connection the store opened itself, as an hd_db: statements
 * through it run on that very handle (one connection, one transaction),
 * which hd_db_close leaves open. where names it in messages. */
struct sqlite3;
struct hd_db *hd_db_sqlite_adopt(struct sqlite3 *handle, const char *where);
/* "sqlite" or "postgresql". */
const char *hd_db_engine(const struct hd_db *db);
bool hd_db_is_pg(const struct hd_db *db);

/* Statements without parameters or results; several, separated by ';'. */
int hd_db_exec(struct hd_db *db, const char *sql, struct hd_err *err);
int hd_db_begin(struct hd_db *db, struct hd_err *err);
int hd_db_commit(struct hd_db *db, struct hd_err *err);
/* Ends a transaction if one is open; no error when there is none. */
void hd_db_rollback(struct hd_db *db);

/* Prepares one statement with ? placeholders; the caller finalizes it. */
int hd_db_prepare(struct hd_db *db, const char *sql, struct hd_db_stmt **out, struct hd_err *err);
/* Binds parameter idx (1-based); the value is copied. */
int hd_db_bind(struct hd_db_stmt *s, int idx, const struct hd_db_value *v, struct hd_err *err);
int hd_db_bind_int64(struct hd_db_stmt *s, int idx, int64_t x, struct hd_err *err);
/* text NULL binds NULL */
int hd_db_bind_text(struct hd_db_stmt *s, int idx, const char *text, struct hd_err *err);
int hd_db_bind_null(struct hd_db_stmt *s, int idx, struct hd_err *err);
int hd_db_bind_blob(struct hd_db_stmt *s, int idx, const void *p, size_t len, struct hd_err *err);
/* 1: a row is there to read; 0: done; < 0: an error. */
int hd_db_step(struct hd_db_stmt *s, struct hd_err *err);
/* Rows the statement's last INSERT, UPDATE or DELETE changed, read once
 * it is done (before it is reset). */
int64_t hd_db_changes(struct hd_db_stmt *s);
/* Ready to step again from the start; the bindings are kept. */
void hd_db_reset(struct hd_db_stmt *s);
/* Makes the statement read all its rows at its first step (PostgreSQL;
 * SQLite needs nothing), so the connection is free for other statements
 * while they are read: for a loop whose callback queries the store, since
 * a PostgreSQL connection runs one statement at a time. Kept across resets. */
void hd_db_buffer(struct hd_db_stmt *s);
void hd_db_finalize(struct hd_db_stmt *s);

int hd_db_ncols(struct hd_db_stmt *s);
const char *hd_db_col_name(struct hd_db_stmt *s, int i);
void hd_db_column(struct hd_db_stmt *s, int i, struct hd_db_value *v);
/* The column as an integer (0 for NULL; a text is read as a number). */
int64_t hd_db_col_int64(struct hd_db_stmt *s, int i);
/* Whether the column is NULL. */
bool hd_db_col_null(struct hd_db_stmt *s, int i);
/* The column as a real (0 for NULL). */
double hd_db_col_double(struct hd_db_stmt *s, int i);
/* The column as text, NULL for NULL (the statement's, as above). */
const char *hd_db_col_text(struct hd_db_stmt *s, int i);

/* One integer from a query without parameters (-1 and err when it fails or
 * gives no row). */
int hd_db_query_int64(struct hd_db *db, const char *sql, int64_t *out, struct hd_err *err);

/* schema_pg.c: the PostgreSQL store's schema version (0 for none), and
 * its migration to this build's; *before: the version it had. */
int hd_store_pg_version(struct hd_db *db, int *version, struct hd_err *err);
int hd_store_pg_migrate(struct hd_db *db, int *before, struct hd_err *err);

extern const struct hd_db_ops hd_db_sqlite_ops;
extern const struct hd_db_ops hd_db_pg_ops;
/* hd_db_redact of a postgresql:// target (db_pg.c, where libpq is). */
char *hd_db_pg_redact(const char *target);

/* PostgreSQL's LISTEN/NOTIFY, for store/notify.c (false, -1, 0 on
 * SQLite). Whether a transaction is open on the connection; its socket,
 * to wait on with poll(); its server process's id; and what the server
 * sent, read without blocking: each notification from another server
 * process than self goes to fn (its channel and payload, the caller's
 * until fn returns), all are freed; the count of those, or -1 when the
 * connection is gone. */
typedef void (*hd_db_note_fn)(void *ud, const char *channel, const char *payload);
bool hd_db_pg_in_transaction(struct hd_db *db);
int hd_db_pg_socket(struct hd_db *db);
int hd_db_pg_backend(struct hd_db *db);
int hd_db_pg_notifications(struct hd_db *db, int self, hd_db_note_fn fn, void *ud);
/* Whether db's connection to the server is gone (a restart, a network
 * break): libpq's status; false for SQLite. */
bool hd_db_lost(struct hd_db *db);

#endif
