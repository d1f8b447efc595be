/* meta: the database's small key/value notes (the `meta` table), for facts
 * too rare for a table of their own: why the scheduler paused a campaign,
 * how far the log was pruned. A note is read, set or removed by its key.
 * On db.h (issue 23): an upsert both engines spell alike sets a note. */
#include "store_int.h"

#include "db.h"

int hd_store_meta_get(struct hd_store *st, const char *key, char **value, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn, "SELECT value FROM meta WHERE key = ?1", &s, err);
    *value = NULL;
    if (rc < 0)
        return hd_store_dfail(err, rc, "reading a note");
    hd_db_bind_text(s, 1, key, NULL);
    int step = hd_db_step(s, err);
    if (step == 1)
        *value = hd_store_dcol_dup(s, 0);
    else if (step < 0)
        rc = hd_store_dfail(err, step, "reading a note");
    hd_db_finalize(s);
    return rc;
}

int hd_store_meta_set(struct hd_store *st, const char *key, const char *value, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc =
        hd_db_prepare(st->conn,
                      value ? "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) "
                              "DO UPDATE SET value = excluded.value"
                            : "DELETE FROM meta WHERE key = ?1",
                      &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "writing a note");
    hd_db_bind_text(s, 1, key, NULL);
    if (value)
        hd_db_bind_text(s, 2, value, NULL);
    if ((rc = hd_db_step(s, err)) < 0)
        rc = hd_store_dfail(err, rc, "writing a note");
    hd_db_finalize(s);
    return rc;
}
