/* slow_first_cursor: an LD_PRELOAD shim for test_webhook_run_new_webhook.
 * The first statement of the process that reads the webhooks table (a
 * webhook's cursor) is prepared 1.5 s late, on either engine (libpq's
 * PQprepare, SQLite's sqlite3_prepare_v2): what a loaded machine may do to
 * herald run's webhooks thread, whose first pass made the new webhooks'
 * cursors after the dispatcher had written events, and so started past
 * them. Built by the test with the system's cc; not part of herald. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

static atomic_int done;

static void maybe_wait(const char *sql)
{
    if (sql && strstr(sql, "FROM webhooks") && atomic_exchange(&done, 1) == 0) {
        struct timespec ts = {1, 500 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

PGresult *PQprepare(PGconn *conn, const char *name, const char *query, int nparams,
                    const Oid *types)
{
    static PGresult *(*real)(PGconn *, const char *, const char *, int, const Oid *);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "PQprepare");
    maybe_wait(query);
    return real(conn, name, query, nparams, types);
}

int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int nbytes, sqlite3_stmt **stmt,
                       const char **tail)
{
    static int (*real)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "sqlite3_prepare_v2");
    maybe_wait(sql);
    return real(db, sql, nbytes, stmt, tail);
}
