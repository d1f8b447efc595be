/* testboth: for a test that runs its cases on both engines (issue 23) and
 * names several stores by file ("ca.db", "pf.db"...). On SQLite a store is
 * that file; on PostgreSQL each file name gets a fresh database (tu_pg_db)
 * the first time it is asked for, the same one after, and all are dropped
 * by tu_both_release. A test keeps one struct tu_both, sets pg in the
 * setup of its PostgreSQL run, and writes `database = tu_both_store(...)`
 * in its configuration; `herald init` makes the schema either way. A
 * test that works on the store in-process opens it with tu_both_open. */
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

/* The store for file opened in-process with the schema made (the caller
 * frees it): on SQLite folder/file, created (folder NULL: file as given,
 * ":memory:"); on PostgreSQL its database given the schema first, as
 * `herald init` does (hd_store_pg_init). */
static inline struct hd_store *tu_both_open(struct tu_both *b, const char *folder, const char *file)
{
    struct hd_store *st = NULL;
    struct hd_err e = {0};
    struct hd_store_opts create = {.create = true};
    char *path = b->pg    ? hd_xstrdup(tu_both_store(b, file))
                 : folder ? tu_path(folder, file)
                          : hd_xstrdup(file);
    int before, after;
    if (b->pg && hd_store_pg_init(path, NULL, &before, &after, &e) < 0)
        fail_msg("making the schema in %s: %s", file, e.msg);
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
