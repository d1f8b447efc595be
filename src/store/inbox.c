/* inbox: the in-app inbox's messages (issue 20). The dispatcher's writer
 * adds one row per message sent to the inbox channel, in the transaction
 * that marks it sent; herald serve lists a contact's rows newest first
 * and marks them read or archived. Rows are listed by id, which grows
 * with time, so a page is a range of the (contact_id, id) index below the
 * cursor, never an OFFSET; an expired or archived row is skipped by the
 * same statement, so it disappears from the list the moment it expires
 * without a sweep. A contact's rows go with it (contacts.c's delete). */
#include "store_int.h"

#include <stdio.h>
#include <string.h>

int hd_store_inbox_add(struct hd_store *st, const struct hd_inbox_item *m, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st,
                              "INSERT INTO inbox (contact_id, message_id, provider, title, "
                              "body_html, url, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, "
                              "?5, ?6, ?7, ?8) ON CONFLICT (message_id) DO NOTHING",
                              &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, m->contact);
    sqlite3_bind_int64(s, 2, m->message);
    hd_store_bind_text(s, 3, m->provider);
    hd_store_bind_text(s, 4, m->title);
    hd_store_bind_text(s, 5, m->body_html);
    hd_store_bind_text(s, 6, m->url && *m->url ? m->url : NULL);
    sqlite3_bind_int64(s, 7, m->created);
    if (m->expires)
        sqlite3_bind_int64(s, 8, m->expires);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "keeping an inbox message");
    sqlite3_finalize(s);
    return rc;
}

#define LIVE "archived_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)"

int hd_store_inbox_list(struct hd_store *st, int64_t contact, int64_t now, int64_t before,
                        int limit, hd_inbox_cb cb, void *ud, int64_t *unread, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st,
                              "SELECT id, message_id, provider, title, body_html, url, "
                              "created_at, coalesce(expires_at, 0), coalesce(read_at, 0) FROM "
                              "inbox WHERE contact_id = ?1 AND " LIVE " AND id < ?3 "
                              "ORDER BY id DESC LIMIT ?4",
                              &s, err),
        step = SQLITE_DONE;
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, contact);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, before > 0 ? before : INT64_MAX);
    sqlite3_bind_int(s, 4, limit);
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        struct hd_inbox_item m = {
            .id = sqlite3_column_int64(s, 0),
            .contact = contact,
            .message = sqlite3_column_int64(s, 1),
            .provider = (const char *)sqlite3_column_text(s, 2),
            .title = (const char *)sqlite3_column_text(s, 3),
            .body_html = (const char *)sqlite3_column_text(s, 4),
            .url = (const char *)sqlite3_column_text(s, 5),
            .created = sqlite3_column_int64(s, 6),
            .expires = sqlite3_column_int64(s, 7),
            .read_at = sqlite3_column_int64(s, 8),
        };
        rc = cb(ud, &m);
    }
    if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "listing an inbox");
    sqlite3_finalize(s);
    if (rc != 0 || !unread)
        return rc;
    if ((rc = hd_store_prepare(st,
                               "SELECT count(*) FROM inbox WHERE contact_id = ?1 AND " LIVE
                               " AND read_at IS NULL",
                               &s, err)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, contact);
    sqlite3_bind_int64(s, 2, now);
    if (sqlite3_step(s) == SQLITE_ROW)
        *unread = sqlite3_column_int64(s, 0);
    else
        rc = hd_store_fail(st, err, "counting an inbox's unread messages");
    sqlite3_finalize(s);
    return rc;
}

int hd_store_inbox_mark(struct hd_store *st, int64_t contact, int64_t id, bool archive, int64_t now,
                        struct hd_inbox_mark *out, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    memset(out, 0, sizeof *out);
    int rc = hd_store_prepare(st,
                              "SELECT message_id, provider, read_at IS NULL, archived_at IS NULL "
                              "FROM inbox WHERE id = ?3 AND contact_id = ?1 AND " LIVE,
                              &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, contact);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, id);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        out->found = true;
        out->message = sqlite3_column_int64(s, 0);
        snprintf(out->provider, sizeof out->provider, "%s",
                 (const char *)sqlite3_column_text(s, 1));
        out->first_read = sqlite3_column_int(s, 2) != 0;
    } else if (step != SQLITE_DONE) {
        rc = hd_store_fail(st, err, "reading an inbox message");
    }
    sqlite3_finalize(s);
    if (rc < 0 || !out->found)
        return rc;
    /* archiving is not reading: a message put away unread was not opened */
    if ((rc = hd_store_prepare(st,
                               archive ? "UPDATE inbox SET archived_at = ?2 WHERE id = ?1"
                                       : "UPDATE inbox SET read_at = coalesce(read_at, ?2) "
                                         "WHERE id = ?1",
                               &s, err)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "marking an inbox message");
    sqlite3_finalize(s);
    return rc;
}
