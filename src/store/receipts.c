/* receipts: the gateways' reports on messages they accepted (issue 19).
 * A report is kept as it came, once: (provider, gateway id, status) is
 * unique, so a gateway that sends it again (they retry until they get a
 * 200) adds nothing. The uniqueness is kept by two partial indexes
 * (migration 20): under the message when it is known, which keeps the
 * pages a batch of reports touches few (they arrive in about the order
 * their messages went out; the gateway's ids are random), and by the
 * gateway's id alone while it is not. A copy kept under its message while
 * an earlier one waits unknown makes two rows; applying the earlier one
 * then meets the index and drops it (hd_store_receipt_done). A report whose message is not known
 * yet (the gateway was faster than the dispatcher's write, or the id is not ours yet) stays
 * pending, applied_at NULL, until dispatch/receipt.c finds its message;
 * the partial index keeps the pending ones a short scan. The move of the
 * message's state is a compare-and-set on the state the caller read.
 * The statements a report runs are prepared once per connection
 * (hd_store_cached): herald serve runs them for every callback, and
 * compiling them cost more than running them. On PostgreSQL each public
 * function hands over to its twin in receipts_pg.c (issue 23): one test of
 * the store's handle, SQLite's statements as they were. */
#include "store_int.h"

#include <stdio.h>
#include <string.h>

#include "db.h"

int hd_store_receipt_add(struct hd_store *st, const struct hd_receipt *r, int64_t *id, bool *added,
                         struct hd_err *err)
{
    if (!st->db)
        return hd_store_pg_receipt_add(st, r, id, added, err);
    sqlite3_stmt *s = NULL;
    int rc = hd_store_cached(st, SLOT_RECEIPT_ADD,
                             "INSERT INTO receipts (provider, gateway_id, status, code, reason, "
                             "gateway_at, received_at, message_id, provider_id, applied_at) VALUES "
                             "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
                             &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, r->provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, r->gateway_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, r->status, -1, SQLITE_STATIC);
    hd_store_bind_text(s, 4, r->code);
    hd_store_bind_text(s, 5, r->reason);
    if (r->gateway_ms)
        sqlite3_bind_int64(s, 6, r->gateway_ms);
    sqlite3_bind_int64(s, 7, r->received_ms);
    if (r->message)
        sqlite3_bind_int64(s, 8, r->message);
    hd_store_bind_text(s, 9, r->provider_id);
    if (r->applied_ms)
        sqlite3_bind_int64(s, 10, r->applied_ms);
    if (sqlite3_step(s) != SQLITE_DONE) {
        rc = hd_store_fail(st, err, "keeping a receipt");
        goto out;
    }
    *added = sqlite3_changes(st->db) == 1;
    sqlite3_reset(s);
    if (*added) { /* a new row: its id is the one just given */
        *id = sqlite3_last_insert_rowid(st->db);
        return 0;
    }
    /* the row it met: under its message, or among the unknown ones */
    if ((rc = r->message ? hd_store_cached(st, SLOT_RECEIPT_ID,
                                           "SELECT id FROM receipts WHERE message_id = ?4 AND "
                                           "status = ?3 AND provider = ?1 AND gateway_id = ?2",
                                           &s, err)
                         : hd_store_cached(st, SLOT_RECEIPT_ID_UNKNOWN,
                                           "SELECT id FROM receipts WHERE message_id IS NULL AND "
                                           "provider = ?1 AND gateway_id = ?2 AND status = ?3",
                                           &s, err)) < 0)
        return rc;
    if (r->message)
        sqlite3_bind_int64(s, 4, r->message);
    sqlite3_bind_text(s, 1, r->provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, r->gateway_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, r->status, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_ROW)
        rc = hd_store_fail(st, err, "reading a receipt");
    else
        *id = sqlite3_column_int64(s, 0);
out:
    sqlite3_reset(s); /* cached: ends its read at once */
    return rc;
}

/* Runs a cached statement without results; what names it in an error. */
static int run_once(struct hd_store *st, sqlite3_stmt *s, const char *what, struct hd_err *err)
{
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : hd_store_fail(st, err, what);
    sqlite3_reset(s);
    return rc;
}

/* Deletes a pending receipt that a later copy of the same report, kept
 * under its message, made a duplicate of. */
static int drop_receipt(struct hd_store *st, int64_t id, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_cached(st, SLOT_RECEIPT_DROP, "DELETE FROM receipts WHERE id = ?1", &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    return run_once(st, s, "dropping a duplicate receipt", err);
}

int hd_store_receipt_done(struct hd_store *st, int64_t id, int64_t message, int64_t now_ms,
                          bool *first, struct hd_err *err)
{
    if (!st->db)
        return hd_store_pg_receipt_done(st, id, message, now_ms, first, err);
    sqlite3_stmt *s = NULL;
    int rc = hd_store_cached(st, SLOT_RECEIPT_DONE,
                             "UPDATE receipts SET message_id = ?2, applied_at = ?3 WHERE id = ?1 "
                             "AND applied_at IS NULL",
                             &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    if (message)
        sqlite3_bind_int64(s, 2, message);
    sqlite3_bind_int64(s, 3, now_ms);
    int step = sqlite3_step(s) & 0xff; /* SQLITE_CONSTRAINT_UNIQUE is a constraint */
    rc = step == SQLITE_DONE || step == SQLITE_CONSTRAINT
             ? 0
             : hd_store_fail(st, err, "marking a receipt applied");
    sqlite3_reset(s);
    *first = step == SQLITE_DONE && sqlite3_changes(st->db) == 1;
    if (step == SQLITE_CONSTRAINT) /* kept again once its message was known */
        rc = drop_receipt(st, id, err);
    return rc;
}

int hd_store_msg_sent_by(struct hd_store *st, int64_t message, char *out, size_t size,
                         struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    out[0] = '\0';
    /* through the contact's index, as hd_store_receipt_target goes */
    int rc = hd_db_prepare(st->conn,
                           "SELECT a.provider FROM messages m JOIN attempts a ON a.contact_id = "
                           "m.contact_id WHERE m.id = ?1 AND a.message_id = ?1 AND a.outcome = "
                           "'accepted' ORDER BY a.at DESC, a.id DESC LIMIT 1",
                           &s, err),
        step;
    if (rc < 0)
        return hd_store_dfail(err, rc, "finding a message's provider");
    hd_db_bind_int64(s, 1, message, NULL);
    if ((step = hd_db_step(s, err)) == 1 && hd_db_col_text(s, 0))
        hd_strcpy_cut(out, size, hd_db_col_text(s, 0));
    if (step < 0)
        rc = hd_store_dfail(err, step, "finding a message's provider");
    hd_db_finalize(s);
    return rc;
}

int hd_store_receipts_pending(struct hd_store *st, int64_t since_ms, hd_receipt_cb cb, void *ud,
                              struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn,
                           "SELECT id, provider, gateway_id, status, code, reason, gateway_at, "
                           "received_at, message_id, provider_id FROM receipts WHERE "
                           "applied_at IS NULL AND "
                           "received_at >= ?1 ORDER BY received_at, id",
                           &s, err),
        step;
    if (rc < 0)
        return hd_store_dfail(err, rc, "reading the pending receipts");
    hd_db_bind_int64(s, 1, since_ms, NULL);
    hd_db_buffer(s); /* the callback applies them (PostgreSQL: one statement at a time) */
    while ((step = hd_db_step(s, err)) == 1) {
#define T(i) hd_db_col_text(s, i)
        struct hd_receipt r = {.id = hd_db_col_int64(s, 0),
                               .provider = T(1),
                               .gateway_id = T(2),
                               .status = T(3),
                               .code = T(4),
                               .reason = T(5),
                               .gateway_ms = hd_db_col_int64(s, 6),
                               .received_ms = hd_db_col_int64(s, 7),
                               .message = hd_db_col_int64(s, 8),
                               .provider_id = T(9)};
#undef T
        if ((rc = cb(ud, &r)) != 0)
            break;
    }
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, step, "reading the pending receipts");
    hd_db_finalize(s);
    return rc;
}

/* One integer from sql with ?1 (and ?2, ?3 when given as non-NULL text
 * or a non-zero number) bound; HD_E_NOTFOUND without a row. */
static int one_int(struct hd_store *st, int slot, const char *sql, int64_t a, const char *b,
                   int64_t c, int64_t *out, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_cached(st, slot, sql, &s, err), step;
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, a);
    hd_store_bind_text(s, 2, b);
    sqlite3_bind_int64(s, 3, c);
    if ((step = sqlite3_step(s)) == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else if (step == SQLITE_DONE)
        rc = hd_err_set(err, HD_E_NOTFOUND, "no message %lld", (long long)a);
    else
        rc = hd_store_fail(st, err, "reading receipts");
    sqlite3_reset(s);
    return rc;
}

int hd_store_receipt_target(struct hd_store *st, int64_t message, const char *provider,
                            const char *gateway_id, struct hd_receipt_target *t, bool *found,
                            struct hd_err *err)
{
    if (!st->db)
        return hd_store_pg_receipt_target(st, message, provider, gateway_id, t, found, err);
    sqlite3_stmt *s = NULL;
    /* through the contact's index (attempts has none on message_id or on
     * the random gateway ids), newest first, as the log lists them */
    int rc = hd_store_cached(st, SLOT_RECEIPT_TARGET,
                             "SELECT a.message_id, a.campaign_id, a.run_id, a.contact_id, "
                             "a.attempt, a.channel, a.variant, a.address, m.state FROM messages m "
                             "JOIN attempts a ON a.contact_id = m.contact_id WHERE m.id = ?1 AND "
                             "a.provider = ?2 AND a.outcome = 'accepted' AND (a.gateway_id = ?3 "
                             "OR (?3 IS NULL AND a.message_id = ?1)) ORDER BY a.at DESC, a.id "
                             "DESC LIMIT 1",
                             &s, err),
        step;
    if (rc < 0)
        return rc;
    memset(t, 0, sizeof *t);
    sqlite3_bind_int64(s, 1, message);
    sqlite3_bind_text(s, 2, provider, -1, SQLITE_STATIC);
    hd_store_bind_text(s, 3, gateway_id);
    if ((step = sqlite3_step(s)) == SQLITE_ROW) {
#define T(i) ((const char *)sqlite3_column_text(s, i))
        t->message = sqlite3_column_int64(s, 0);
        t->campaign = sqlite3_column_int64(s, 1);
        t->run = sqlite3_column_int64(s, 2);
        t->contact = sqlite3_column_int64(s, 3);
        t->attempt = sqlite3_column_int(s, 4);
        /* cut to fit, as snprintf would, which cost 1,500 instructions a
         * callback here */
        hd_strcpy_cut(t->channel, sizeof t->channel, T(5) ? T(5) : "");
        hd_strcpy_cut(t->variant, sizeof t->variant, T(6) ? T(6) : "");
        hd_strcpy_cut(t->address, sizeof t->address, T(7) ? T(7) : "");
        t->state = sqlite3_column_int(s, 8);
#undef T
    } else if (step != SQLITE_DONE) {
        rc = hd_store_fail(st, err, "finding a receipt's message");
    }
    sqlite3_reset(s);
    *found = rc == 0 && step == SQLITE_ROW && t->message == message;
    return rc;
}

int hd_store_msg_receipt(struct hd_store *st, int64_t message, int from, int to, int64_t now,
                         struct hd_err *err)
{
    if (!st->db)
        return hd_store_pg_msg_receipt(st, message, from, to, now, err);
    sqlite3_stmt *s = NULL;
    int rc = hd_store_cached(
        st, SLOT_MSG_RECEIPT,
        "UPDATE messages SET state = ?3, updated_at = ?4 WHERE id = ?1 AND state = ?2", &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, message);
    sqlite3_bind_int(s, 2, from);
    sqlite3_bind_int(s, 3, to);
    sqlite3_bind_int64(s, 4, now);
    if ((rc = run_once(st, s, "moving a message's state", err)) < 0)
        return rc;
    if (sqlite3_changes(st->db) != 1)
        return hd_err_set(err, HD_E_INVALID, "message %lld is no longer %s", (long long)message,
                          hd_state_name(from));
    return 0;
}

int hd_store_receipt_count(struct hd_store *st, int64_t contact, const char *reason,
                           int64_t since_ms, int64_t *n, struct hd_err *err)
{
    if (!st->db)
        return hd_store_pg_receipt_count(st, contact, reason, since_ms, n, err);
    return one_int(st, SLOT_RECEIPT_COUNT,
                   "SELECT count(*) FROM attempts WHERE contact_id = ?1 AND at >= ?3 AND "
                   "outcome = 'receipt' AND reason = ?2",
                   contact, reason, since_ms, n, err);
}

int hd_store_gateway_id_add(struct hd_store *st, const char *provider, const char *gateway_id,
                            int64_t message, int64_t at_ms, struct hd_err *err)
{
    if (!st->db)
        return hd_store_pg_gateway_id_add(st, provider, gateway_id, message, at_ms, err);
    sqlite3_stmt *s = NULL;
    int rc = hd_store_cached(st, SLOT_GWID_ADD,
                             "INSERT OR IGNORE INTO gateway_ids (provider, gateway_id, message_id, "
                             "at) VALUES (?1, ?2, ?3, ?4)",
                             &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, gateway_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, message);
    sqlite3_bind_int64(s, 4, at_ms);
    return run_once(st, s, "keeping a gateway's id", err);
}

int hd_store_gateway_id_find(struct hd_store *st, const char *provider, const char *gateway_id,
                             int64_t *message, struct hd_err *err)
{
    if (!st->db)
        return hd_store_pg_gateway_id_find(st, provider, gateway_id, message, err);
    sqlite3_stmt *s = NULL;
    int rc = hd_store_cached(st, SLOT_GWID_FIND,
                             "SELECT message_id FROM gateway_ids WHERE provider = ?1 AND "
                             "gateway_id = ?2",
                             &s, err),
        step;
    if (rc < 0)
        return rc;
    *message = 0;
    sqlite3_bind_text(s, 1, provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, gateway_id, -1, SQLITE_STATIC);
    if ((step = sqlite3_step(s)) == SQLITE_ROW)
        *message = sqlite3_column_int64(s, 0);
    else if (step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "reading a gateway's id");
    sqlite3_reset(s);
    return rc;
}
