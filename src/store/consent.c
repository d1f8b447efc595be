/* consent: what the HTTP service needs of a contact, by its internal id
 * (the id a link token carries): the locale and the consent its link is
 * about, and recording an opt-out from a link. The opt-out is an upsert
 * guarded by the status it changes, so a repeated click changes nothing
 * (not even the time) and the contact keeps one consent row per channel
 * and category. The row names the message whose link it came from and
 * that message's campaign (NULL when the message was pruned). */
#include <stdio.h>
#include <string.h>

#include "herald/config.h"
#include "store_int.h"

int hd_store_link_contact(struct hd_store *st, int64_t contact, int channel, int category,
                          char *locale, size_t n, int *status, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc;
    if ((rc = hd_store_prepare(st,
                               "SELECT c.locale, k.status FROM contacts c LEFT JOIN consent k "
                               "ON k.contact_id = c.id AND k.channel = ?2 AND k.category = ?3 "
                               "WHERE c.id = ?1",
                               &s, err)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, contact);
    sqlite3_bind_text(s, 2, hd_channel_name(channel), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, hd_category_name(category), -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        const char *loc = (const char *)sqlite3_column_text(s, 0);
        const char *k = (const char *)sqlite3_column_text(s, 1);
        snprintf(locale, n, "%s", loc ? loc : "");
        *status = !k ? 0 : strcmp(k, "opted_out") == 0 ? HD_CONSENT_OPTED_OUT : HD_CONSENT_OPTED_IN;
    } else if (step == SQLITE_DONE) {
        rc = hd_err_set(err, HD_E_NOTFOUND, "no contact with internal id %lld", (long long)contact);
    } else {
        rc = hd_store_fail(st, err, "reading a contact");
    }
    sqlite3_finalize(s);
    return rc;
}

int hd_store_link_optout(struct hd_store *st, int64_t contact, int64_t message, int channel,
                         int category, const char *source, int64_t now, bool *changed,
                         struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc;
    *changed = false;
    if ((rc = hd_store_prepare(
             st,
             "INSERT INTO consent (contact_id, channel, category, status, source, updated_at, "
             "message_id, campaign_id) "
             "SELECT id, ?2, ?3, 'opted_out', ?4, ?5, ?6, (SELECT r.campaign_id FROM messages m "
             "JOIN runs r ON r.id = m.run_id WHERE m.id = ?6) FROM contacts WHERE id = ?1 "
             "ON CONFLICT (contact_id, channel, category) DO UPDATE SET status = 'opted_out', "
             "source = excluded.source, updated_at = excluded.updated_at, "
             "message_id = excluded.message_id, campaign_id = excluded.campaign_id "
             "WHERE consent.status <> 'opted_out'",
             &s, err)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, contact);
    sqlite3_bind_text(s, 2, hd_channel_name(channel), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, hd_category_name(category), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, now);
    sqlite3_bind_int64(s, 6, message);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "recording an opt-out");
    else
        *changed = sqlite3_changes(st->db) > 0;
    sqlite3_finalize(s);
    return rc;
}

int hd_store_phone_consent(struct hd_store *st, const char *phone, int category, int status,
                           const char *source, int64_t now, int64_t *n, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc;
    *n = 0;
    if ((rc = hd_store_prepare(
             st,
             "INSERT INTO consent (contact_id, channel, category, status, source, updated_at) "
             "SELECT id, 'sms', ?2, ?3, ?4, ?5 FROM contacts WHERE phone = ?1"
             "ON CONFLICT (contact_id, channel, category) DO UPDATE SET status = excluded.status, "
             "source = excluded.source, updated_at = excluded.updated_at, message_id = NULL, "
             "campaign_id = NULL WHERE consent.status <> excluded.status",
             &s, err)) < 0)
        return rc;
    sqlite3_bind_text(s, 1, phone, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, hd_category_name(category), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, status == HD_CONSENT_OPTED_OUT ? "opted_out" : "opted_in", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(s, 4, source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, now);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "recording a reply's consent");
    else
        *n = sqlite3_changes(st->db);
    sqlite3_finalize(s);
    return rc;
}
