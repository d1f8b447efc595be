/* testboth: for a test that runs its cases on both engines (issue 23) and
 * names several stores by file ("ca.db", "pf.db"...). On SQLite a store is
 * that file; on PostgreSQL each file name gets a fresh database (tu_pg_db)
 * the first time it is asked for, the same one after, and all are dropped
 * by tu_both_release. A test keeps one struct tu_both, sets pg in the
 * setup of its PostgreSQL run, and writes `database = tu_both_store(...)`
 * in its configuration; `herald init` makes the schema either way. A
 * test of the store's functions, which opens the store itself, takes
 * tu_both_store_migrated's instead: the schema made already, and on
 * PostgreSQL one database for all its cases, emptied for each; or opens
 * it with tu_both_open, which does both. */
#ifndef HERALD_TESTBOTH_H
#define HERALD_TESTBOTH_H

#include <stdbool.h>

#include "testutil.h"

#include "herald/dbcopy.h"
#include "herald/store.h"

struct tu_both {
    bool pg;           /* the stores are PostgreSQL databases */
    size_t n;          /* how many below are made */
    char file[16][32]; /* the file name each stands for */
    char name[16][64]; /* its database, for tu_pg_drop */
    char *uri[16];     /* its connection string (owned) */
};

/* The store for file (borrowed: it lives until tu_both_release). */
static inline const char *tu_both_store(struct tu_both *b, const char *file)
{
    if (!b->pg)
        return file;
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->file[i], file) == 0)
            return b->uri[i];
    if (b->n == sizeof b->uri / sizeof b->uri[0])
        fail_msg("more than %zu PostgreSQL stores in one run", b->n);
    snprintf(b->file[b->n], sizeof b->file[0], "%s", file);
    b->uri[b->n] = tu_pg_db(b->name[b->n]);
    return b->uri[b->n++];
}

/* A new database with herald's schema (tu_pg_db, then what `herald init`
 * does): its URI, the caller frees; name receives its name for
 * tu_pg_drop. */
static inline char *tu_pg_db_migrated(char *name)
{
    struct hd_err e = {0};
    int before, after;
    char *uri = tu_pg_db(name);
    if (hd_store_pg_init(uri, NULL, &before, &after, &e) < 0)
        fail_msg("making the schema in %s: %s", name, e.msg);
    return uri;
}

/* The one database of tu_both_store_migrated, dropped when the process
 * exits (before the server tu_pg_server started stops: atexit runs the
 * later first). */
static inline char *tu_both_migrated_(void)
{
    static char name[64];
    return name;
}

static inline void tu_both_migrated_drop_(void)
{
    tu_pg_drop(tu_both_migrated_());
}

/* psql's input (one transaction) that empties a store: connections a
 * failed case left go, every table but herald_schema and meta (whose rows
 * herald init writes) loses its rows, foreign keys unchecked (a replica's
 * role, the test server's superuser may take it), and every sequence
 * starts again from 1. */
#define TU_BOTH_EMPTY_SQL                                                                          \
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "               \
    "current_database() AND pid <> pg_backend_pid();\n"                                            \
    "SET LOCAL session_replication_role = replica;\n"                                              \
    "DO $$ DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = "     \
    "current_schema() AND tablename NOT IN ('herald_schema', 'meta') LOOP EXECUTE "                \
    "format('DELETE FROM %I', t); END LOOP; PERFORM setval(c.oid, 1, false) FROM pg_class c "      \
    "WHERE c.relkind = 'S' AND c.relnamespace = CAST(current_schema() AS regnamespace); END $$;\n"

/* As tu_both_store, for a test of the store's functions, which opens the
 * store in-process (hd_store_open) without `herald init`, one store per
 * case: on PostgreSQL one database per process, migrated the first time
 * and emptied (TU_BOTH_EMPTY_SQL) each time after: 0.3 s where a new
 * database and its migration took 1.8 to 3.3 s on the loaded test
 * machine, and a copy of a migrated template (CREATE DATABASE ...
 * TEMPLATE) 0.8 to 1.4 s. On SQLite it is the file name, which
 * hd_store_open with create makes. */
static inline const char *tu_both_store_migrated(struct tu_both *b, const char *file)
{
    char *name = tu_both_migrated_(), *uri;
    if (!b->pg)
        return file;
    if (b->n > 0 && strcmp(b->file[0], file) == 0)
        return b->uri[0];
    if (b->n > 0)
        fail_msg("one migrated PostgreSQL store per case ('%s', '%s')", b->file[0], file);
    if (!*name) {
        uri = tu_pg_db_migrated(name);
        atexit(tu_both_migrated_drop_);
    } else {
        struct hd_buf cmd;
        uri = tu_pg_uri(name);
        hd_buf_init(&cmd);
        hd_buf_addf(&cmd, "psql -X -q -1 -v ON_ERROR_STOP=1 '%s' >/dev/null <<'EOF'\n%sEOF\n", uri,
                    TU_BOTH_EMPTY_SQL);
        free(tu_sh(cmd.data));
        hd_buf_release(&cmd);
    }
    snprintf(b->file[0], sizeof b->file[0], "%s", file);
    b->name[0][0] = '\0'; /* not tu_both_release's to drop */
    b->uri[0] = uri;
    b->n = 1;
    return uri;
}

/* The store for file opened in-process with the schema made (the caller
 * frees it): on SQLite folder/file, created (folder NULL: file as given,
 * ":memory:"); on PostgreSQL tu_both_store_migrated's database. */
static inline struct hd_store *tu_both_open(struct tu_both *b, const char *folder, const char *file)
{
    struct hd_store *st = NULL;
    struct hd_err e = {0};
    struct hd_store_opts create = {.create = true};
    char *path = b->pg    ? hd_xstrdup(tu_both_store_migrated(b, file))
                 : folder ? tu_path(folder, file)
                          : hd_xstrdup(file);
    if (hd_store_open(path, b->pg ? NULL : &create, &st, &e) < 0)
        fail_msg("opening %s: %s", file, e.msg);
    free(path);
    return st;
}

/* Drops the PostgreSQL databases made and forgets them; pg goes back to
 * false. */
static inline void tu_both_release(struct tu_both *b)
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->name[i][0])
            tu_pg_drop(b->name[i]);
        free(b->uri[i]);
    }
    memset(b, 0, sizeof *b);
}

/* The two fixtures of a file whose cases need nothing but one shared
 * struct tu_both: setup_pg marks the PostgreSQL run, teardown drops what a
 * case made. */
#define TU_BOTH_FIXTURES(stores)                                                                   \
    static int setup_pg(void **state)                                                              \
    {                                                                                              \
        (void)state;                                                                               \
        (stores).pg = true;                                                                        \
        return 0;                                                                                  \
    }                                                                                              \
    static int teardown(void **state)                                                              \
    {                                                                                              \
        (void)state;                                                                               \
        tu_both_release(&(stores));                                                                \
        return 0;                                                                                  \
    }

#endif
