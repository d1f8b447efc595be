/* dbcopy: the PostgreSQL store's first steps (issue 23): its schema
 * (`herald init` on a postgresql:// database) and `herald db copy`, which
 * moves a whole store between SQLite and PostgreSQL either way. Targets
 * are a SQLite path or a postgresql:// (postgres://) URI; a password may
 * come with the URI, from ~/.pgpass, or as a password argument (the
 * configuration's database_password_env or _file), each side's its own.
 * Messages never show a password: they name targets through
 * hd_store_target_redact. */
#ifndef HERALD_DBCOPY_H
#define HERALD_DBCOPY_H

#include <stdbool.h>
#include <stdint.h>

#include "herald/err.h"
#include "herald/progress.h"

/* Whether target names a PostgreSQL database (postgresql:// or postgres://). */
bool hd_store_target_is_pg(const char *target);
/* target as messages show it (a URI rebuilt from libpq's parse, never with
 * its password); the caller frees. */
char *hd_store_target_redact(const char *target);

/* The number of PostgreSQL migrations (equal to hd_store_schema_version()
 * in a sound build). */
int hd_store_pg_schema_version(void);
/* Creates the herald schema in the PostgreSQL database target, or brings
 * it to this build's version; *before is the version it had (0: none),
 * *after the one it has. */
int hd_store_pg_init(const char *target, const char *password, int *before, int *after,
                     struct hd_err *err);

struct hd_store_copy_opts {
    const char *from_password;    /* for from if PostgreSQL; NULL: ~/.pgpass (or the URI's) */
    const char *to_password;      /* for to, likewise: each side is offered only its own */
    int batch;                    /* rows per transaction; 0: 5,000 */
    struct hd_progress *progress; /* may be NULL */
    /* asked between transactions; true (Ctrl-C, SIGTERM) ends the copy as
     * a failure does, TO emptied again; NULL: never */
    bool (*stopped)(void);
};

#define HD_STORE_COPY_TABLES 40

/* What a copy did: each table's rows, counted again on both sides. */
struct hd_store_copy_report {
    int version;  /* the schema version of both */
    bool created; /* the target's schema was made by the copy */
    int ntables;
    struct {
        char name[32];
        int64_t rows;
    } tables[HD_STORE_COPY_TABLES];
    int64_t rows; /* all tables */
};

/* Copies every table of the store from into the store to, in dependency
 * order, opts->batch rows per transaction, ids kept, read from one snapshot
 * of from. from must be at this build's schema version. to is a missing
 * or empty SQLite file, or a PostgreSQL database without herald's schema
 * (both made here), or a store at the same version without rows (meta's
 * own rows aside); else it is refused and nothing is written. Afterwards
 * PostgreSQL's identity sequences are moved past the copied ids and each
 * table's rows are counted on both sides; a difference is an error. A
 * failure names the table and, for a row, its key; the target is then
 * incomplete (start again with an empty one). */
int hd_store_copy(const char *from, const char *to, const struct hd_store_copy_opts *opts,
                  struct hd_store_copy_report *rep, struct hd_err *err);

#endif
