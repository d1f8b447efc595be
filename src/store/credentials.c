/* credentials: a provider's reusable credential (the APNs provider token,
 * Huawei Push Kit's OAuth access token),
 * kept in the meta table under "token:NAME" as "ISSUED_AT VALUE", so that
 * every process reuses the one token instead of making its own (no
 * migration: a row of meta per provider). A write keeps the newer of the
 * stored one and the one given, so that two processes that each made one
 * settle on the later. The value is a secret: it lives only here, in a
 * database file that is 0600 (or the PostgreSQL store), and the buffers
 * that held it are wiped. SQLite binds the caller's buffer itself
 * (SQLITE_STATIC, no copy left behind); PostgreSQL goes through db.h
 * (pg_get, pg_put), whose text to the server libpq copies anyway. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "herald/buf.h"
#include "store_int.h"

/* "ISSUED_AT VALUE" read back: anything else is not ours, none. */
static void parse_stored(const char *v, char **value, int64_t *issued_at)
{
    char *end = NULL;
    long long at = v ? strtoll(v, &end, 10) : 0;
    if (end && end != v && *end == ' ' && end[1]) {
        *value = hd_xstrdup(end + 1);
        *issued_at = at;
    }
}

static int pg_get(struct hd_store *st, const char *provider, char **value, int64_t *issued_at,
                  struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn, "SELECT value FROM meta WHERE key = 'token:' || ?1", &s, err);
    if (rc == 0 && (rc = hd_db_bind_text(s, 1, provider, err)) == 0 &&
        (rc = hd_db_step(s, err)) == 1)
        parse_stored(hd_db_col_text(s, 0), value, issued_at);
    hd_db_finalize(s);
    return rc < 0 ? hd_store_dfail(err, rc, "reading a provider's token") : 0;
}

/* PostgreSQL's CAST takes no trailing text: the issued time is the part
 * before the space. */
static int pg_put(struct hd_store *st, const char *provider, const char *stored,
                  struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn,
                           "INSERT INTO meta (key, value) VALUES ('token:' || ?1, ?2) "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE "
                           "CAST(split_part(meta.value, ' ', 1) AS bigint) < "
                           "CAST(split_part(excluded.value, ' ', 1) AS bigint)",
                           &s, err);
    if (rc == 0 && (rc = hd_db_bind_text(s, 1, provider, err)) == 0 &&
        (rc = hd_db_bind_text(s, 2, stored, err)) == 0)
        rc = hd_db_step(s, err);
    hd_db_finalize(s);
    return rc < 0 ? hd_store_dfail(err, rc, "storing a provider's token") : 0;
}

int hd_store_credential_get(struct hd_store *st, const char *provider, char **value,
                            int64_t *issued_at, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    *value = NULL;
    *issued_at = 0;
    if (hd_store_is_pg(st))
        return pg_get(st, provider, value, issued_at, err);
    int rc = hd_store_prepare(st, "SELECT value FROM meta WHERE key = 'token:' || ?1", &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, provider, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        parse_stored((const char *)sqlite3_column_text(s, 0), value, issued_at);
    } else if (step != SQLITE_DONE) {
        rc = hd_store_fail(st, err, "reading a provider's token");
    }
    sqlite3_finalize(s);
    return rc;
}

int hd_store_credential_put(struct hd_store *st, const char *provider, const char *value,
                            int64_t issued_at, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    struct hd_buf b;
    int rc;
    hd_buf_init(&b);
    hd_buf_addf(&b, "%lld %s", (long long)issued_at, value);
    if (hd_store_is_pg(st)) {
        rc = pg_put(st, provider, b.data, err);
        hd_wipe(b.data, b.len);
        hd_buf_release(&b);
        return rc;
    }
    if ((rc = hd_store_prepare(st,
                               "INSERT INTO meta (key, value) VALUES ('token:' || ?1, ?2) "
                               "ON CONFLICT (key) DO UPDATE SET value = excluded.value "
                               "WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)",
                               &s, err)) < 0) {
        hd_wipe(b.data, b.len);
        hd_buf_release(&b);
        return rc;
    }
    sqlite3_bind_text(s, 1, provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, b.data, (int)b.len, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "storing a provider's token");
    sqlite3_finalize(s);
    hd_wipe(b.data, b.len);
    hd_buf_release(&b);
    return rc;
}
