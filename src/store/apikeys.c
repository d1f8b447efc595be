/* apikeys: the JSON API's keys (issue 20). A key is shown once, when it
 * is made; the store keeps only its SHA-256 and its public prefix (the
 * key's first characters, which say nothing of the random part after
 * them), so a request's key is found by its prefix, one indexed row, and
 * the caller compares the hashes in constant time. A revoked key keeps its
 * row (revoked_at set) so that its name is not reused by mistake and the
 * record stays; it is never found again. */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static void read_key(sqlite3_stmt *s, struct hd_apikey *k)
{
    k->id = sqlite3_column_int64(s, 0);
    k->name = hd_store_col_dup(s, 1);
    k->scopes = hd_store_col_dup(s, 2);
    k->rate = hd_store_col_dup(s, 3);
    k->created_at = sqlite3_column_int64(s, 4);
    k->revoked_at = sqlite3_column_int64(s, 5);
    k->prefix = hd_store_col_dup(s, 6);
}

#define KEY_COLS "id, name, scopes, rate, created_at, coalesce(revoked_at, 0), prefix"

int hd_store_apikey_add(struct hd_store *st, const struct hd_apikey *k,
                        const unsigned char hash[32], struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st,
                              "INSERT INTO api_keys (name, prefix, hash, scopes, rate, created_at) "
                              "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                              &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, k->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, k->prefix, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, k->scopes, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, k->rate, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, k->created_at);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "adding an API key");
    else if (sqlite3_changes(st->db) == 0)
        rc = hd_err_set(err, HD_E_EXISTS,
                        "an API key named '%s' exists (revoked keys keep their names)", k->name);
    sqlite3_finalize(s);
    return rc;
}

int hd_store_apikey_find(struct hd_store *st, const char *prefix, struct hd_apikey *k,
                         unsigned char hash[32], struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    memset(k, 0, sizeof *k);
    /* cached: every request runs it; reset at once, so that no read
     * transaction stays open to hide a revocation from the next one */
    int rc = hd_store_cached(st, SLOT_API_KEY,
                             "SELECT " KEY_COLS ", hash FROM api_keys WHERE prefix = ?1 AND "
                             "revoked_at IS NULL",
                             &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, prefix, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW && sqlite3_column_bytes(s, 7) == 32) {
        read_key(s, k);
        memcpy(hash, sqlite3_column_blob(s, 7), 32);
    } else if (step == SQLITE_ROW || step == SQLITE_DONE) {
        rc = hd_err_set(err, HD_E_NOTFOUND, "no such API key");
    } else {
        rc = hd_store_fail(st, err, "finding an API key");
    }
    sqlite3_reset(s);
    return rc;
}

int hd_store_apikey_each(struct hd_store *st, int (*fn)(void *ud, const struct hd_apikey *k),
                         void *ud, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st, "SELECT " KEY_COLS " FROM api_keys ORDER BY name", &s, err);
    if (rc < 0)
        return rc;
    int step;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        struct hd_apikey k;
        read_key(s, &k);
        rc = fn(ud, &k);
        hd_apikey_release(&k);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "listing API keys");
    sqlite3_finalize(s);
    return rc;
}

int hd_store_apikey_revoke(struct hd_store *st, const char *name, int64_t now, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st,
                              "UPDATE api_keys SET revoked_at = ?2 WHERE name = ?1 AND "
                              "revoked_at IS NULL",
                              &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "revoking an API key");
    else if (sqlite3_changes(st->db) == 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "no API key named '%s' (or it is revoked already)",
                        name);
    sqlite3_finalize(s);
    return rc;
}

void hd_apikey_release(struct hd_apikey *k)
{
    if (!k)
        return;
    free(k->name);
    free(k->prefix);
    free(k->scopes);
    free(k->rate);
    memset(k, 0, sizeof *k);
}
