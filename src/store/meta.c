/* meta: the database's small key/value notes (the `meta` table), for facts
 * too rare for a table of their own: why the scheduler paused a campaign,
 * how far the log was pruned. A note is read, set or removed by its key. */
#include "store_int.h"

int hd_store_meta_get(struct hd_store *st, const char *key, char **value, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st, "SELECT value FROM meta WHERE key = ?1", &s, err);
    *value = NULL;
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        *value = hd_store_col_dup(s, 0);
    else if (step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "reading a note");
    sqlite3_finalize(s);
    return rc;
}

int hd_store_meta_set(struct hd_store *st, const char *key, const char *value, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st,
                              value ? "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)"
                                    : "DELETE FROM meta WHERE key = ?1",
                              &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    if (value)
        sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "writing a note");
    sqlite3_finalize(s);
    return rc;
}
