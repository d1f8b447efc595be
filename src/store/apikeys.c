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
#include "db.h"

static void read_key(struct hd_db_stmt *s, struct hd_apikey *k)
{
    k->id = hd_db_col_int64(s, 0);
    k->name = hd_store_dcol_dup(s, 1);
    k->scopes = hd_store_dcol_dup(s, 2);
    k->rate = hd_store_dcol_dup(s, 3);
    k->created_at = hd_db_col_int64(s, 4);
    k->revoked_at = hd_db_col_int64(s, 5);
    k->prefix = hd_store_dcol_dup(s, 6);
}

#define KEY_COLS "id, name, scopes, rate, created_at, coalesce(revoked_at, 0), prefix"

int hd_store_apikey_add(struct hd_store *st, const struct hd_apikey *k,
                        const unsigned char hash[32], struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn,
                           "INSERT INTO api_keys (name, prefix, hash, scopes, rate, created_at) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                           &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "adding an API key");
    hd_db_bind_text(s, 1, k->name, NULL);
    hd_db_bind_text(s, 2, k->prefix, NULL);
    hd_db_bind_blob(s, 3, hash, 32, NULL);
    hd_db_bind_text(s, 4, k->scopes, NULL);
    hd_db_bind_text(s, 5, k->rate, NULL);
    hd_db_bind_int64(s, 6, k->created_at, NULL);
    if ((rc = hd_db_step(s, err)) < 0)
        rc = hd_store_dfail(err, rc, "adding an API key");
    else if (hd_db_changes(s) == 0)
        rc = hd_err_set(err, HD_E_EXISTS,
                        "an API key named '%s' exists (revoked keys keep their names)", k->name);
    hd_db_finalize(s);
    return rc;
}

int hd_store_apikey_find(struct hd_store *st, const char *prefix, struct hd_apikey *k,
                         unsigned char hash[32], struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    struct hd_db_value h;
    memset(k, 0, sizeof *k);
    /* cached: every request runs it; reset at once, so that no read
     * transaction stays open to hide a revocation from the next one */
    int rc = hd_store_dcached(st, DSLOT_API_KEY,
                              "SELECT " KEY_COLS ", hash FROM api_keys WHERE prefix = ?1 AND "
                              "revoked_at IS NULL",
                              NULL, &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "finding an API key");
    hd_db_bind_text(s, 1, prefix, NULL);
    int step = hd_db_step(s, err);
    if (step == 1)
        hd_db_column(s, 7, &h);
    if (step == 1 && h.type == HD_DB_BLOB && h.len == 32) {
        read_key(s, k);
        memcpy(hash, h.p, 32);
    } else if (step >= 0) {
        rc = hd_err_set(err, HD_E_NOTFOUND, "no such API key");
    } else {
        rc = hd_store_dfail(err, step, "finding an API key");
    }
    hd_db_reset(s);
    return rc;
}

int hd_store_apikey_each(struct hd_store *st, int (*fn)(void *ud, const struct hd_apikey *k),
                         void *ud, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    /* byte by byte, as SQLite sorts */
    int rc = hd_db_prepare(st->conn,
                           hd_store_is_pg(st) ? "SELECT " KEY_COLS
                                                " FROM api_keys ORDER BY name COLLATE \"C\""
                                              : "SELECT " KEY_COLS " FROM api_keys ORDER BY name",
                           &s, err);
    int step = 0;
    if (rc < 0)
        return hd_store_dfail(err, rc, "listing API keys");
    hd_db_buffer(s); /* the callback may query the store (PostgreSQL) */
    while (rc == 0 && (step = hd_db_step(s, err)) == 1) {
        struct hd_apikey k;
        read_key(s, &k);
        rc = fn(ud, &k);
        hd_apikey_release(&k);
    }
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, step, "listing API keys");
    hd_db_finalize(s);
    return rc;
}

int hd_store_apikey_revoke(struct hd_store *st, const char *name, int64_t now, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn,
                           "UPDATE api_keys SET revoked_at = ?2 WHERE name = ?1 AND "
                           "revoked_at IS NULL",
                           &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "revoking an API key");
    hd_db_bind_text(s, 1, name, NULL);
    hd_db_bind_int64(s, 2, now, NULL);
    if ((rc = hd_db_step(s, err)) < 0)
        rc = hd_store_dfail(err, rc, "revoking an API key");
    else if (hd_db_changes(s) == 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "no API key named '%s' (or it is revoked already)",
                        name);
    hd_db_finalize(s);
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
