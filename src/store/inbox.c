/* inbox: the in-app inbox's messages (issue 20). The dispatcher's writer
 * adds one row per message sent to the inbox channel, in the transaction
 * that marks it sent; herald serve lists a contact's rows newest first
 * and marks them read or archived. Rows are listed by id, which grows
 * with time, so a page is a range of the (contact_id, id) index below the
 * cursor, never an OFFSET; an expired or archived row is skipped by the
 * same statement, so it disappears from the list the moment it expires
 * without a sweep. A contact's rows go with it (contacts.c's delete).
 * With several nodes on PostgreSQL ids grow with time but not in commit
 * order, so a row may appear below one listed before it: the pages are a
 * list a person reads again from the top, not a feed to resume by id (the
 * webhooks, which are, read by transaction: webhooks.c). */
#include "store_int.h"

#include "db.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Runs s (its parameters bound) to its end and finalizes it. */
static int run_done(struct hd_db_stmt *s, const char *what, struct hd_err *err)
{
    int step = hd_db_step(s, err), rc = 0;
    if (step < 0)
        rc = hd_store_dfail(err, step, what);
    hd_db_finalize(s);
    return rc;
}

int hd_store_inbox_add(struct hd_store *st, const struct hd_inbox_item *m, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn,
                           "INSERT INTO inbox (contact_id, message_id, provider, title, "
                           "body_html, url, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, "
                           "?5, ?6, ?7, ?8) ON CONFLICT (message_id) DO NOTHING",
                           &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "keeping an inbox message");
    hd_db_bind_int64(s, 1, m->contact, NULL);
    hd_db_bind_int64(s, 2, m->message, NULL);
    hd_db_bind_text(s, 3, m->provider, NULL);
    hd_db_bind_text(s, 4, m->title, NULL);
    hd_db_bind_text(s, 5, m->body_html, NULL);
    hd_db_bind_text(s, 6, m->url && *m->url ? m->url : NULL, NULL);
    hd_db_bind_int64(s, 7, m->created, NULL);
    if (m->expires)
        hd_db_bind_int64(s, 8, m->expires, NULL);
    else
        hd_db_bind_null(s, 8, NULL);
    return run_done(s, "keeping an inbox message", err);
}

#define LIVE "archived_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)"

static int unread_count(struct hd_store *st, int64_t contact, int64_t now, int64_t *unread,
                        struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn,
                           "SELECT count(*) FROM inbox WHERE contact_id = ?1 AND " LIVE
                           " AND read_at IS NULL",
                           &s, err),
        step;
    if (rc < 0)
        return hd_store_dfail(err, rc, "counting an inbox's unread messages");
    hd_db_bind_int64(s, 1, contact, NULL);
    hd_db_bind_int64(s, 2, now, NULL);
    if ((step = hd_db_step(s, err)) == 1)
        *unread = hd_db_col_int64(s, 0);
    else
        rc = hd_store_dfail(err, step < 0 ? step : HD_E_STORE,
                            "counting an inbox's unread messages");
    hd_db_finalize(s);
    return rc;
}

int hd_store_inbox_list(struct hd_store *st, int64_t contact, int64_t now, int64_t before,
                        int limit, hd_inbox_cb cb, void *ud, int64_t *unread, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn,
                           "SELECT id, message_id, provider, title, body_html, url, "
                           "created_at, coalesce(expires_at, 0), coalesce(read_at, 0) FROM "
                           "inbox WHERE contact_id = ?1 AND " LIVE " AND id < ?3 "
                           "ORDER BY id DESC LIMIT ?4",
                           &s, err),
        step = 0;
    if (rc < 0)
        return hd_store_dfail(err, rc, "listing an inbox");
    hd_db_buffer(s); /* the callback may query the store (PostgreSQL) */
    hd_db_bind_int64(s, 1, contact, NULL);
    hd_db_bind_int64(s, 2, now, NULL);
    hd_db_bind_int64(s, 3, before > 0 ? before : INT64_MAX, NULL);
    hd_db_bind_int64(s, 4, limit, NULL);
    while (rc == 0 && (step = hd_db_step(s, err)) == 1) {
        struct hd_inbox_item m = {
            .id = hd_db_col_int64(s, 0),
            .contact = contact,
            .message = hd_db_col_int64(s, 1),
            .provider = hd_db_col_text(s, 2),
            .title = hd_db_col_text(s, 3),
            .body_html = hd_db_col_text(s, 4),
            .url = hd_db_col_text(s, 5),
            .created = hd_db_col_int64(s, 6),
            .expires = hd_db_col_int64(s, 7),
            .read_at = hd_db_col_int64(s, 8),
        };
        rc = cb(ud, &m);
    }
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, step, "listing an inbox");
    hd_db_finalize(s);
    if (rc != 0 || !unread)
        return rc;
    return unread_count(st, contact, now, unread, err);
}

int hd_store_inbox_mark(struct hd_store *st, int64_t contact, int64_t id, bool archive, int64_t now,
                        struct hd_inbox_mark *out, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    memset(out, 0, sizeof *out);
    int rc = hd_db_prepare(st->conn,
                           "SELECT message_id, provider, read_at IS NULL, archived_at IS NULL "
                           "FROM inbox WHERE id = ?3 AND contact_id = ?1 AND " LIVE,
                           &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "reading an inbox message");
    hd_db_bind_int64(s, 1, contact, NULL);
    hd_db_bind_int64(s, 2, now, NULL);
    hd_db_bind_int64(s, 3, id, NULL);
    int step = hd_db_step(s, err);
    if (step == 1) {
        out->found = true;
        out->message = hd_db_col_int64(s, 0);
        snprintf(out->provider, sizeof out->provider, "%s", hd_db_col_text(s, 1));
        out->first_read = hd_db_col_int64(s, 2) != 0;
    } else if (step < 0) {
        rc = hd_store_dfail(err, step, "reading an inbox message");
    }
    hd_db_finalize(s);
    if (rc < 0 || !out->found)
        return rc;
    /* archiving is not reading: a message put away unread was not opened */
    if ((rc = hd_db_prepare(st->conn,
                            archive ? "UPDATE inbox SET archived_at = ?2 WHERE id = ?1"
                                    : "UPDATE inbox SET read_at = coalesce(read_at, ?2) "
                                      "WHERE id = ?1",
                            &s, err)) < 0)
        return hd_store_dfail(err, rc, "marking an inbox message");
    hd_db_bind_int64(s, 1, id, NULL);
    hd_db_bind_int64(s, 2, now, NULL);
    return run_done(s, "marking an inbox message", err);
}
