/* consent: what the HTTP service needs of a contact, by its internal id
 * (the id a link token carries): the locale and the consent its link is
 * about (or all of it, for the preference centre), and recording a change
 * from a link. A change is an upsert guarded by the status it changes, so
 * a repeated click changes nothing (not even the time) and the contact
 * keeps one consent row per channel and category. The row names the
 * message whose link it came from and that message's campaign (NULL when
 * the message was pruned). Every change is also appended to consent_log
 * by the table's triggers (migration 10); hd_store_consent_log reads that
 * record back. The statements a click runs are prepared once per
 * connection (hd_store_cached): the service runs them for every click, and
 * compiling them cost more than running them. On PostgreSQL (issue 23) a
 * click's two statements are db.h's, cached the same way (hd_store_dcached),
 * beside SQLite's own, which stay on sqlite3_ calls: the branch is one test
 * of the store's handle, and SQLite's path is the one the service was tuned
 * on. PostgreSQL's upsert reads the contact (INSERT ... SELECT) rather than
 * trusting the foreign key: there a failed statement would end the whole
 * group commit's transaction, where SQLite undoes the statement alone. */
#include <stdio.h>
#include <string.h>

#include "herald/config.h"
#include "store_int.h"
#include "db.h"

/* A link's contact with its consent for the channel and category, only if
 * the link's message is the contact's (both engines). */
#define LINK_CONTACT                                                                               \
    "SELECT c.locale, k.status FROM contacts c LEFT JOIN consent k ON k.contact_id = c.id AND "    \
    "k.channel = ?2 AND k.category = ?3 WHERE c.id = ?1 AND EXISTS (SELECT 1 FROM messages m "     \
    "WHERE m.id = ?4 AND m.contact_id = c.id)"

/* hd_store_link_contact on PostgreSQL: the same statement on db.h. */
static int pg_link_contact(struct hd_store *st, int64_t contact, int64_t message, int channel,
                           int category, char *locale, size_t n, int *status, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc;
    if ((rc = hd_store_dcached(st, DSLOT_LINK_CONTACT, LINK_CONTACT, NULL, &s, err)) < 0)
        return hd_store_dfail(err, rc, "reading a contact");
    hd_db_bind_int64(s, 1, contact, NULL);
    hd_db_bind_int64(s, 4, message, NULL);
    hd_db_bind_text(s, 2, hd_channel_name(channel), NULL);
    hd_db_bind_text(s, 3, hd_category_name(category), NULL);
    int step = hd_db_step(s, err);
    if (step == 1) {
        const char *loc = hd_db_col_text(s, 0), *k = hd_db_col_text(s, 1);
        snprintf(locale, n, "%s", loc ? loc : "");
        *status = !k ? 0 : strcmp(k, "opted_out") == 0 ? HD_CONSENT_OPTED_OUT : HD_CONSENT_OPTED_IN;
    } else if (step == 0) {
        rc = hd_err_set(err, HD_E_NOTFOUND, "no contact with internal id %lld", (long long)contact);
    } else {
        rc = hd_store_dfail(err, step, "reading a contact");
    }
    hd_db_reset(s);
    return rc;
}

/* hd_store_link_consent on PostgreSQL: a contact that is gone gives no
 * row to insert (see the top of the file), so no change. */
static int pg_link_consent(struct hd_store *st, const struct hd_link_change *c, bool *changed,
                           struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc;
    if ((rc = hd_store_dcached(
             st, DSLOT_LINK_CONSENT,
             "INSERT INTO consent (contact_id, channel, category, status, source, updated_at, "
             "message_id, campaign_id) SELECT c.id, ?2, ?3, ?7, ?4, ?5, ?6, (SELECT "
             "r.campaign_id FROM messages m JOIN runs r ON r.id = m.run_id WHERE m.id = ?6) "
             "FROM contacts c WHERE c.id = ?1 AND EXISTS (SELECT 1 FROM messages m WHERE m.id = "
             "?6 AND m.contact_id = c.id) "
             "ON CONFLICT (contact_id, channel, category) DO UPDATE SET status = excluded.status, "
             "source = excluded.source, updated_at = excluded.updated_at, "
             "message_id = excluded.message_id, campaign_id = excluded.campaign_id "
             "WHERE consent.status <> excluded.status",
             NULL, &s, err)) < 0)
        return hd_store_dfail(err, rc, "recording consent from a link");
    hd_db_bind_int64(s, 1, c->contact, NULL);
    hd_db_bind_text(s, 2, hd_channel_name(c->channel), NULL);
    hd_db_bind_text(s, 3, hd_category_name(c->category), NULL);
    hd_db_bind_text(s, 4, c->source, NULL);
    hd_db_bind_int64(s, 5, c->at, NULL);
    hd_db_bind_int64(s, 6, c->message, NULL);
    hd_db_bind_text(s, 7, c->status == HD_CONSENT_OPTED_OUT ? "opted_out" : "opted_in", NULL);
    if ((rc = hd_db_step(s, err)) < 0)
        rc = hd_store_dfail(err, rc, "recording consent from a link");
    else
        *changed = hd_db_changes(s) > 0;
    hd_db_reset(s);
    return rc;
}

int hd_store_link_contact(struct hd_store *st, int64_t contact, int64_t message, int channel,
                          int category, char *locale, size_t n, int *status, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc;
    if (!st->db)
        return pg_link_contact(st, contact, message, channel, category, locale, n, status, err);
    if ((rc = hd_store_cached(st, SLOT_LINK_CONTACT, LINK_CONTACT, &s, err)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, contact);
    sqlite3_bind_int64(s, 4, message);
    sqlite3_bind_text(s, 2, hd_channel_name(channel), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, hd_category_name(category), -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        const char *loc = (const char *)sqlite3_column_text(s, 0);
        snprintf(locale, n, "%s", loc ? loc : "");
        *status = sqlite3_column_type(s, 1) == SQLITE_NULL ? 0 : hd_store_consent_status(s, 1);
    } else if (step == SQLITE_DONE) {
        rc = hd_err_set(err, HD_E_NOTFOUND, "no contact with internal id %lld", (long long)contact);
    } else {
        rc = hd_store_fail(st, err, "reading a contact");
    }
    sqlite3_reset(s); /* ends its read (or write) at once */
    return rc;
}

/* One statement: VALUES, not INSERT ... SELECT (with the consent_log
 * triggers, SQLite first copies a SELECT's rows into a temporary b-tree,
 * opened and closed for every click), guarded by the status so that a
 * repeated click changes nothing. A contact that is gone fails the
 * foreign key (the connection enforces them), and a message that is not
 * the contact's (the id of a deleted contact given again) makes the
 * contact NULL, which fails NOT NULL: either way the statement is undone
 * and it is reported as no change. */
int hd_store_link_consent(struct hd_store *st, const struct hd_link_change *c, bool *changed,
                          struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc;
    *changed = false;
    if (c->status != HD_CONSENT_OPTED_IN && c->status != HD_CONSENT_OPTED_OUT)
        HD_BUG("bad consent status %d", c->status);
    if (!st->db)
        return pg_link_consent(st, c, changed, err);
    if ((rc = hd_store_cached(
             st, SLOT_LINK_CONSENT,
             "INSERT INTO consent (contact_id, channel, category, status, source, updated_at, "
             "message_id, campaign_id) VALUES ((SELECT m.contact_id FROM messages m WHERE m.id = "
             "?6 AND m.contact_id = ?1), ?2, ?3, ?7, ?4, ?5, ?6, (SELECT r.campaign_id "
             "FROM messages m JOIN runs r ON r.id = m.run_id WHERE m.id = ?6)) "
             "ON CONFLICT (contact_id, channel, category) DO UPDATE SET status = excluded.status, "
             "source = excluded.source, updated_at = excluded.updated_at, "
             "message_id = excluded.message_id, campaign_id = excluded.campaign_id "
             "WHERE consent.status <> excluded.status",
             &s, err)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, c->contact);
    sqlite3_bind_text(s, 2, hd_channel_name(c->channel), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, hd_category_name(c->category), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, c->source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, c->at);
    sqlite3_bind_int64(s, 6, c->message);
    sqlite3_bind_text(s, 7, c->status == HD_CONSENT_OPTED_OUT ? "opted_out" : "opted_in", -1,
                      SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_DONE)
        *changed = sqlite3_changes(st->db) > 0;
    else if (sqlite3_extended_errcode(st->db) != SQLITE_CONSTRAINT_FOREIGNKEY &&
             sqlite3_extended_errcode(st->db) != SQLITE_CONSTRAINT_NOTNULL)
        rc = hd_store_fail(st, err, "recording consent from a link");
    sqlite3_reset(s); /* ends its read (or write) at once */
    return rc;
}

int hd_store_link_prefs(struct hd_store *st, int64_t contact, int64_t message, char *locale,
                        size_t n, int status[HD_CH_COUNT][HD_CAT_COUNT], struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc, step;
    memset(status, 0, sizeof(int) * HD_CH_COUNT * HD_CAT_COUNT);
    if ((rc = hd_store_link_contact(st, contact, message, 0, 0, locale, n, &status[0][0], err)) < 0)
        return rc;
    status[0][0] = 0;
    if ((rc = hd_db_prepare(st->conn,
                            "SELECT channel, category, status FROM consent WHERE contact_id = ?1",
                            &s, err)) < 0)
        return hd_store_dfail(err, rc, "reading consent");
    hd_db_bind_int64(s, 1, contact, NULL);
    while ((step = hd_db_step(s, err)) == 1) {
        int ch = hd_channel_parse(hd_db_col_text(s, 0));
        int cat = hd_category_parse(hd_db_col_text(s, 1));
        const char *k = hd_db_col_text(s, 2);
        if (ch >= 0 && cat >= 0)
            status[ch][cat] =
                k && strcmp(k, "opted_out") == 0 ? HD_CONSENT_OPTED_OUT : HD_CONSENT_OPTED_IN;
    }
    if (step < 0)
        rc = hd_store_dfail(err, step, "reading consent");
    hd_db_finalize(s);
    return rc;
}

int hd_store_consent_log(struct hd_store *st, int64_t contact, hd_consent_cb cb, void *ud,
                         struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc, step;
    if ((rc = hd_db_prepare(st->conn,
                            "SELECT k.channel, k.category, k.status, k.source, k.at, "
                            "k.message_id, c.name FROM consent_log k LEFT JOIN campaigns c ON "
                            "c.id = k.campaign_id WHERE k.contact_id = ?1 ORDER BY k.id",
                            &s, err)) < 0)
        return rc;
    hd_db_buffer(s); /* the callback may query the store (PostgreSQL) */
    hd_db_bind_int64(s, 1, contact, NULL);
    while (rc == 0 && (step = hd_db_step(s, err)) == 1) {
        struct hd_consent k;
        hd_store_dread_consent(s, &k);
        rc = cb(ud, &k);
        hd_consent_release(&k);
    }
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, HD_E_STORE, "reading the consent record");
    hd_db_finalize(s);
    return rc;
}

int hd_store_phone_consent(struct hd_store *st, const char *phone, int category, int status,
                           const char *source, int64_t now, int64_t *n, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc;
    *n = 0;
    if ((rc = hd_db_prepare(
             st->conn,
             "INSERT INTO consent (contact_id, channel, category, status, source, updated_at) "
             "SELECT id, 'sms', ?2, ?3, ?4, ?5 FROM contacts WHERE phone = ?1 "
             "ON CONFLICT (contact_id, channel, category) DO UPDATE SET status = excluded.status, "
             "source = excluded.source, updated_at = excluded.updated_at, message_id = NULL, "
             "campaign_id = NULL WHERE consent.status <> excluded.status",
             &s, err)) < 0)
        return hd_store_dfail(err, rc, "recording a reply's consent");
    hd_db_bind_text(s, 1, phone, NULL);
    hd_db_bind_text(s, 2, hd_category_name(category), NULL);
    hd_db_bind_text(s, 3, status == HD_CONSENT_OPTED_OUT ? "opted_out" : "opted_in", NULL);
    hd_db_bind_text(s, 4, source, NULL);
    hd_db_bind_int64(s, 5, now, NULL);
    if (hd_db_step(s, err) < 0)
        rc = hd_store_dfail(err, HD_E_STORE, "recording a reply's consent");
    else
        *n = hd_db_changes(s);
    hd_db_finalize(s);
    return rc;
}
