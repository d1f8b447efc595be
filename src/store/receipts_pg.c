/* receipts_pg: receipts.c's statements on PostgreSQL (issue 23), beside
 * SQLite's, which keep their sqlite3_ calls and slots (herald serve runs
 * them for every status callback): each public function of receipts.c
 * hands a PostgreSQL store to its twin here. The same rows; where the
 * dialects differ: a new row's id comes back by RETURNING, INSERT OR
 * IGNORE is ON CONFLICT DO NOTHING, and a statement never counts on a
 * constraint failing, since on PostgreSQL a failed statement ends the
 * whole transaction (the group commit's) where SQLite undoes the
 * statement alone: marking a pending receipt applied under a message
 * that already holds a copy of it (receipts_message, migration 20) is
 * tested first, and the pending row is then dropped as SQLite's path
 * drops it. db.h keeps a statement's bindings across resets, so every
 * optional value is bound, NULL or not, each time. */
#include <stdio.h>
#include <string.h>

#include "store_int.h"
#include "db.h"

static int cached(struct hd_store *st, int slot, const char *sql, struct hd_db_stmt **s,
                  const char *what, struct hd_err *err)
{
    int rc = hd_store_dcached(st, slot, sql, NULL, s, err);
    return rc < 0 ? hd_store_dfail(err, rc, what) : 0;
}

/* Binds x, or NULL when it is 0. */
static void bind_opt(struct hd_db_stmt *s, int idx, int64_t x)
{
    if (x)
        hd_db_bind_int64(s, idx, x, NULL);
    else
        hd_db_bind_null(s, idx, NULL);
}

/* Steps s once: 1 with *v (column 0, may be NULL) for a row, 0 for none,
 * < 0 failed; *changed (may be NULL): the rows it changed. Reset. */
static int once(struct hd_db_stmt *s, int64_t *v, int64_t *changed, const char *what,
                struct hd_err *err)
{
    int step = hd_db_step(s, err);
    if (step == 1 && v)
        *v = hd_db_col_int64(s, 0);
    if (step >= 0 && changed)
        *changed = hd_db_changes(s);
    hd_db_reset(s);
    return step < 0 ? hd_store_dfail(err, step, what) : step;
}

int hd_store_pg_receipt_add(struct hd_store *st, const struct hd_receipt *r, int64_t *id,
                            bool *added, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = cached(st, DSLOT_RECEIPT_ADD,
                    "INSERT INTO receipts (provider, gateway_id, status, code, reason, "
                    "gateway_at, received_at, message_id, provider_id, applied_at) VALUES "
                    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING RETURNING id",
                    &s, "keeping a receipt", err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, r->provider, NULL);
    hd_db_bind_text(s, 2, r->gateway_id, NULL);
    hd_db_bind_text(s, 3, r->status, NULL);
    hd_db_bind_text(s, 4, r->code, NULL);
    hd_db_bind_text(s, 5, r->reason, NULL);
    bind_opt(s, 6, r->gateway_ms);
    hd_db_bind_int64(s, 7, r->received_ms, NULL);
    bind_opt(s, 8, r->message);
    hd_db_bind_text(s, 9, r->provider_id, NULL);
    bind_opt(s, 10, r->applied_ms);
    if ((rc = once(s, id, NULL, "keeping a receipt", err)) < 0)
        return rc;
    if ((*added = rc == 1))
        return 0;
    /* the row it met: under its message, or among the unknown ones */
    if ((rc = r->message ? cached(st, DSLOT_RECEIPT_ID,
                                  "SELECT id FROM receipts WHERE message_id = ?4 AND "
                                  "status = ?3 AND provider = ?1 AND gateway_id = ?2",
                                  &s, "reading a receipt", err)
                         : cached(st, DSLOT_RECEIPT_ID_UNKNOWN,
                                  "SELECT id FROM receipts WHERE message_id IS NULL AND "
                                  "provider = ?1 AND gateway_id = ?2 AND status = ?3",
                                  &s, "reading a receipt", err)) < 0)
        return rc;
    if (r->message)
        hd_db_bind_int64(s, 4, r->message, NULL);
    hd_db_bind_text(s, 1, r->provider, NULL);
    hd_db_bind_text(s, 2, r->gateway_id, NULL);
    hd_db_bind_text(s, 3, r->status, NULL);
    if ((rc = once(s, id, NULL, "reading a receipt", err)) == 0)
        rc = hd_err_set(err, HD_E_STORE, "reading a receipt: the row it met is gone");
    return rc < 0 ? rc : 0;
}

int hd_store_pg_receipt_done(struct hd_store *st, int64_t id, int64_t message, int64_t now_ms,
                             bool *first, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int64_t n = 0, dup = 0;
    *first = false;
    /* a copy already kept under the message: this one is dropped */
    int rc = cached(st, DSLOT_RECEIPT_DUP,
                    "SELECT count(*) FROM receipts r JOIN receipts o ON o.message_id = ?2 AND "
                    "o.status = r.status AND o.provider = r.provider AND o.gateway_id = "
                    "r.gateway_id AND o.id <> r.id WHERE r.id = ?1 AND r.applied_at IS NULL",
                    &s, "marking a receipt applied", err);
    if (rc < 0)
        return rc;
    hd_db_bind_int64(s, 1, id, NULL);
    bind_opt(s, 2, message);
    if ((rc = once(s, &dup, NULL, "marking a receipt applied", err)) < 0)
        return rc;
    if (dup > 0) {
        if ((rc = cached(st, DSLOT_RECEIPT_DROP, "DELETE FROM receipts WHERE id = ?1", &s,
                         "dropping a duplicate receipt", err)) < 0)
            return rc;
        hd_db_bind_int64(s, 1, id, NULL);
        rc = once(s, NULL, NULL, "dropping a duplicate receipt", err);
        return rc < 0 ? rc : 0;
    }
    if ((rc = cached(st, DSLOT_RECEIPT_DONE,
                     "UPDATE receipts SET message_id = ?2, applied_at = ?3 WHERE id = ?1 "
                     "AND applied_at IS NULL",
                     &s, "marking a receipt applied", err)) < 0)
        return rc;
    hd_db_bind_int64(s, 1, id, NULL);
    bind_opt(s, 2, message);
    hd_db_bind_int64(s, 3, now_ms, NULL);
    if ((rc = once(s, NULL, &n, "marking a receipt applied", err)) < 0)
        return rc;
    *first = n == 1;
    return 0;
}

int hd_store_pg_receipt_count(struct hd_store *st, int64_t contact, const char *reason,
                              int64_t since_ms, int64_t *n, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = cached(st, DSLOT_RECEIPT_COUNT,
                    "SELECT count(*) FROM attempts WHERE contact_id = ?1 AND at >= ?3 AND "
                    "outcome = 'receipt' AND reason = ?2",
                    &s, "reading receipts", err);
    if (rc < 0)
        return rc;
    hd_db_bind_int64(s, 1, contact, NULL);
    hd_db_bind_text(s, 2, reason, NULL);
    hd_db_bind_int64(s, 3, since_ms, NULL);
    rc = once(s, n, NULL, "reading receipts", err);
    return rc < 0 ? rc : 0;
}

int hd_store_pg_receipt_target(struct hd_store *st, int64_t message, const char *provider,
                               const char *gateway_id, struct hd_receipt_target *t, bool *found,
                               struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = cached(st, DSLOT_RECEIPT_TARGET,
                    "SELECT a.message_id, a.campaign_id, a.run_id, a.contact_id, "
                    "a.attempt, a.channel, a.variant, a.address, m.state FROM messages m "
                    "JOIN attempts a ON a.contact_id = m.contact_id WHERE m.id = ?1 AND "
                    "a.provider = ?2 AND a.outcome = 'accepted' AND (a.gateway_id = ?3 "
                    "OR (?3 IS NULL AND a.message_id = ?1)) ORDER BY a.at DESC, a.id "
                    "DESC LIMIT 1",
                    &s, "finding a receipt's message", err);
    if (rc < 0)
        return rc;
    memset(t, 0, sizeof *t);
    hd_db_bind_int64(s, 1, message, NULL);
    hd_db_bind_text(s, 2, provider, NULL);
    hd_db_bind_text(s, 3, gateway_id, NULL);
    int step = hd_db_step(s, err);
    if (step == 1) {
#define T(i) (hd_db_col_text(s, i) ? hd_db_col_text(s, i) : "")
        t->message = hd_db_col_int64(s, 0);
        t->campaign = hd_db_col_int64(s, 1);
        t->run = hd_db_col_int64(s, 2);
        t->contact = hd_db_col_int64(s, 3);
        t->attempt = (int)hd_db_col_int64(s, 4);
        snprintf(t->channel, sizeof t->channel, "%s", T(5));
        snprintf(t->variant, sizeof t->variant, "%s", T(6));
        snprintf(t->address, sizeof t->address, "%s", T(7));
        t->state = (int)hd_db_col_int64(s, 8);
#undef T
    } else if (step < 0) {
        rc = hd_store_dfail(err, step, "finding a receipt's message");
    }
    hd_db_reset(s);
    *found = rc == 0 && step == 1 && t->message == message;
    return rc;
}

int hd_store_pg_msg_receipt(struct hd_store *st, int64_t message, int from, int to, int64_t now,
                            struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int64_t n = 0;
    int rc = cached(st, DSLOT_MSG_RECEIPT,
                    "UPDATE messages SET state = ?3, updated_at = ?4 WHERE id = ?1 AND state = ?2",
                    &s, "moving a message's state", err);
    if (rc < 0)
        return rc;
    hd_db_bind_int64(s, 1, message, NULL);
    hd_db_bind_int64(s, 2, from, NULL);
    hd_db_bind_int64(s, 3, to, NULL);
    hd_db_bind_int64(s, 4, now, NULL);
    if ((rc = once(s, NULL, &n, "moving a message's state", err)) < 0)
        return rc;
    if (n != 1)
        return hd_err_set(err, HD_E_INVALID, "message %lld is no longer %s", (long long)message,
                          hd_state_name(from));
    return 0;
}

int hd_store_pg_gateway_id_add(struct hd_store *st, const char *provider, const char *gateway_id,
                               int64_t message, int64_t at_ms, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = cached(st, DSLOT_GWID_ADD,
                    "INSERT INTO gateway_ids (provider, gateway_id, message_id, at) VALUES "
                    "(?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                    &s, "keeping a gateway's id", err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, provider, NULL);
    hd_db_bind_text(s, 2, gateway_id, NULL);
    hd_db_bind_int64(s, 3, message, NULL);
    hd_db_bind_int64(s, 4, at_ms, NULL);
    rc = once(s, NULL, NULL, "keeping a gateway's id", err);
    return rc < 0 ? rc : 0;
}

int hd_store_pg_gateway_id_find(struct hd_store *st, const char *provider, const char *gateway_id,
                                int64_t *message, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = cached(st, DSLOT_GWID_FIND,
                    "SELECT message_id FROM gateway_ids WHERE provider = ?1 AND gateway_id = ?2",
                    &s, "reading a gateway's id", err);
    if (rc < 0)
        return rc;
    *message = 0;
    hd_db_bind_text(s, 1, provider, NULL);
    hd_db_bind_text(s, 2, gateway_id, NULL);
    rc = once(s, message, NULL, "reading a gateway's id", err);
    return rc < 0 ? rc : 0;
}
