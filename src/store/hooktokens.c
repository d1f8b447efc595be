/* hooktokens: the one-time tokens of senders' signed webhooks (Mailgun's,
 * issue 19), taken once per database. A signature that does not cover
 * the events is safe to take only once: the `hook_tokens` table
 * (migration 30) keeps each token taken, as the hash the caller gives, so
 * that every `herald serve` on the database, and one started again, sees
 * it. A take is one insert-if-absent, which both engines spell alike, and
 * the rows it inserted tell fresh from taken: on PostgreSQL a second node
 * inserting the same hash at once waits for the first one's row and then
 * inserts nothing. Rows past their expiry are deleted before a take, at
 * most once a minute per connection (no index on the expiry: a scan of
 * the few minutes' rows the table holds, each minute, costs less than an
 * index every take would write). A request that took a token and then
 * could not keep its events gives it back, so that the sender's retry,
 * which carries the same token, is taken. */
#include "store_int.h"

#include "db.h"

#define PRUNE_EVERY 60 /* seconds between a connection's prunes */

/* The rows no node accepts any more, now and then. */
static int prune(struct hd_store *st, int64_t now, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    if (now >= st->hook_pruned && now - st->hook_pruned < PRUNE_EVERY)
        return 0;
    int rc = hd_db_prepare(st->conn, "DELETE FROM hook_tokens WHERE expires_at < ?1", &s, err);
    if (rc == 0) {
        hd_db_bind_int64(s, 1, now, NULL);
        rc = hd_db_step(s, err);
    }
    hd_db_finalize(s);
    if (rc < 0)
        return hd_store_dfail(err, rc, "pruning the webhook tokens");
    st->hook_pruned = now;
    return 0;
}

int hd_store_hook_token_take(struct hd_store *st, const char *hash, int64_t expires_at, int64_t now,
                             bool *fresh, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc;
    *fresh = false;
    if ((rc = prune(st, now, err)) < 0)
        return rc;
    if ((rc = hd_store_dcached(st, DSLOT_HOOK_TOKEN,
                               "INSERT INTO hook_tokens (hash, expires_at) VALUES (?1, ?2) "
                               "ON CONFLICT (hash) DO NOTHING",
                               NULL, &s, err)) < 0)
        return hd_store_dfail(err, rc, "taking a webhook token");
    hd_db_bind_text(s, 1, hash, NULL);
    hd_db_bind_int64(s, 2, expires_at, NULL);
    if ((rc = hd_db_step(s, err)) < 0)
        rc = hd_store_dfail(err, rc, "taking a webhook token");
    else
        *fresh = hd_db_changes(s) == 1;
    hd_db_reset(s);
    return rc < 0 ? rc : 0;
}

int hd_store_hook_token_give(struct hd_store *st, const char *hash, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn, "DELETE FROM hook_tokens WHERE hash = ?1", &s, err);
    if (rc == 0) {
        hd_db_bind_text(s, 1, hash, NULL);
        rc = hd_db_step(s, err);
    }
    hd_db_finalize(s);
    return rc < 0 ? hd_store_dfail(err, rc, "giving a webhook token back") : 0;
}
