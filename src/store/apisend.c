/* apisend: the API's transactional messages in the queue (issue 20).
 *
 * The dispatcher claims messages per run, and a run belongs to a
 * campaign, which names the template, the category and the channel order
 * the checks and the renderer read. So an API message is a message of a
 * hidden campaign (api = 1, named "api/TEMPLATE/CATEGORY/CHANNELS", made
 * the first time that combination is asked for, never listed), in an
 * active run of it: the same claim, checks (consent, suppressions, caps
 * per category, quiet hours), renderer, drivers, writer and log as any
 * campaign's. A run holds a contact once (messages_run_contact), so a
 * second message to the same contact while the first's run is open goes
 * into another run, made then; a run is set done only when nothing in it
 * waits (hd_store_run_set), so a message joining it meanwhile is never
 * stranded. Its own data for the template and the key that sent it are
 * in api_messages, read by the claim. An Idempotency-Key's first answer
 * is kept with the SHA-256 of the body it answered. On PostgreSQL each
 * public function hands over to its twin in apisend_pg.c (issue 23): the
 * test is one of the store's handle, and SQLite's statements stay as they
 * were. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define IDEM_KEEP (24 * 3600)

static int step_done(struct hd_store *st, sqlite3_stmt *s, const char *what, struct hd_err *err)
{
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : hd_store_fail(st, err, what);
    sqlite3_finalize(s);
    return rc;
}

/* The same for a cached statement (every send runs it): reset, not freed. */
static int cached_done(struct hd_store *st, sqlite3_stmt *s, const char *what, struct hd_err *err)
{
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : hd_store_fail(st, err, what);
    sqlite3_reset(s);
    return rc;
}

/* One integer a cached statement reads: 0 with *v, HD_E_NOTFOUND for no row. */
static int cached_int(struct hd_store *st, sqlite3_stmt *s, int64_t *v, const char *what,
                      struct hd_err *err)
{
    int step = sqlite3_step(s), rc = 0;
    if (step == SQLITE_ROW)
        *v = sqlite3_column_int64(s, 0);
    else if (step == SQLITE_DONE)
        rc = HD_E_NOTFOUND;
    else
        rc = hd_store_fail(st, err, what);
    sqlite3_reset(s);
    return rc;
}

/* The hidden campaign's name and channels. */
static void camp_name(const struct hd_api_send *m, char name[256], char channels[64])
{
    size_t len = 0;
    channels[0] = '\0';
    for (int i = 0; i < m->nchannels && len < 64; i++)
        len += (size_t)snprintf(channels + len, 64 - len, "%s%s", i ? "," : "",
                                hd_channel_name(m->channels[i]));
    snprintf(name, 256, "api/%s/%s/%s", m->tpl, hd_category_name(m->category), channels);
}

/* The hidden campaign's id, made if need be. */
static int api_campaign(struct hd_store *st, const struct hd_api_send *m, int64_t *id,
                        struct hd_err *err)
{
    char name[256], channels[64];
    camp_name(m, name, channels);
    sqlite3_stmt *s = NULL;
    int rc = hd_store_cached(st, SLOT_API_CAMP,
                             "SELECT id FROM campaigns WHERE name = ?1 AND api = 1", &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    if ((rc = cached_int(st, s, id, "finding the API's campaign", err)) != HD_E_NOTFOUND)
        return rc;
    if ((rc =
             hd_store_prepare(st,
                              "INSERT INTO campaigns (name, segment, template, channels, category, "
                              "schedule, fallback, status, created_at, updated_at, api) VALUES "
                              "(?1, '', ?2, ?3, ?4, 'now', ?5, 'running', ?6, ?6, 1)",
                              &s, err)) < 0)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, m->tpl, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, channels, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, hd_category_name(m->category), -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, m->nchannels > 1);
    sqlite3_bind_int64(s, 6, m->now);
    int step = sqlite3_step(s);
    if (step == SQLITE_CONSTRAINT_UNIQUE || step == SQLITE_CONSTRAINT)
        rc = hd_err_set(err, HD_E_EXISTS, "a campaign named '%s' is not the API's", name);
    else if (step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "adding the API's campaign");
    else
        *id = sqlite3_last_insert_rowid(st->db);
    sqlite3_finalize(s);
    return rc;
}

/* An active run of campaign that does not hold contact, made if need be. */
static int api_run(struct hd_store *st, int64_t camp, int64_t contact, int64_t now, int64_t *run,
                   struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_cached(st, SLOT_API_RUN,
                             "SELECT r.id FROM runs r WHERE r.campaign_id = ?1 AND r.status = "
                             "'active' AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.run_id = "
                             "r.id AND m.contact_id = ?2) ORDER BY r.id DESC LIMIT 1",
                             &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, camp);
    sqlite3_bind_int64(s, 2, contact);
    *run = 0;
    if ((rc = cached_int(st, s, run, "finding the API's run", err)) != HD_E_NOTFOUND)
        return rc;
    if ((rc = hd_store_prepare(st,
                               "INSERT INTO runs (campaign_id, fire_at, status, created_at, seq) "
                               "VALUES (?1, max(?2, (SELECT coalesce(max(fire_at), 0) + 1 FROM "
                               "runs WHERE campaign_id = ?1)), 'active', ?2, (SELECT "
                               "coalesce(max(seq), 0) + 1 FROM runs WHERE campaign_id = ?1))",
                               &s, err)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, camp);
    sqlite3_bind_int64(s, 2, now);
    if ((rc = step_done(st, s, "opening the API's run", err)) == 0)
        *run = sqlite3_last_insert_rowid(st->db);
    return rc;
}

int hd_store_api_send(struct hd_store *st, const struct hd_api_send *m, int64_t *message,
                      struct hd_err *err)
{
    int64_t camp = 0, run = 0;
    sqlite3_stmt *s = NULL;
    int rc;
    if (!st->db) {
        char name[256], channels[64];
        camp_name(m, name, channels);
        return hd_store_pg_api_send(st, m, name, channels, message, err);
    }
    if ((rc = api_campaign(st, m, &camp, err)) < 0 ||
        (rc = api_run(st, camp, m->contact, m->now, &run, err)) < 0 ||
        (rc = hd_store_cached(st, SLOT_API_MSG,
                              "INSERT INTO messages (run_id, contact_id, state, not_before, "
                              "updated_at) VALUES (?1, ?2, 0, ?3, ?4)",
                              &s, err)) < 0)
        return rc;
    _Static_assert(HD_ST_QUEUED == 0, "state 0 above is queued");
    sqlite3_bind_int64(s, 1, run);
    sqlite3_bind_int64(s, 2, m->contact);
    sqlite3_bind_int64(s, 3, m->not_before);
    sqlite3_bind_int64(s, 4, m->now);
    if ((rc = cached_done(st, s, "queueing the API's message", err)) < 0)
        return rc;
    *message = sqlite3_last_insert_rowid(st->db);
    if ((rc = hd_store_cached(st, SLOT_API_DATA,
                              "INSERT INTO api_messages (message_id, key_id, data, created_at) "
                              "VALUES (?1, ?2, ?3, ?4)",
                              &s, err)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, *message);
    sqlite3_bind_int64(s, 2, m->key_id);
    hd_store_bind_text(s, 3, m->data);
    sqlite3_bind_int64(s, 4, m->now);
    return cached_done(st, s, "keeping the API message's data", err);
}

int hd_store_api_contact(struct hd_store *st, const char *ext_id, int64_t *id, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    if (!st->db)
        return hd_store_pg_api_contact(st, ext_id, id, err);
    int rc =
        hd_store_cached(st, SLOT_API_CONTACT, "SELECT id FROM contacts WHERE ext_id = ?1", &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, ext_id, -1, SQLITE_STATIC);
    rc = cached_int(st, s, id, "finding the contact", err);
    return rc == HD_E_NOTFOUND ? hd_err_set(err, rc, "no contact with id '%s'", ext_id) : rc;
}

int hd_store_api_msg(struct hd_store *st, int64_t id, int64_t key_id, struct hd_api_msg *out,
                     struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    memset(out, 0, sizeof *out);
    if (!st->db)
        return hd_store_pg_api_msg(st, id, key_id, out, err);
    int rc = hd_store_prepare(st,
                              "SELECT m.id, m.contact_id, a.created_at, m.state, m.attempts, "
                              "coalesce(m.channel, -1), c.template, c.category FROM api_messages "
                              "a JOIN messages m ON m.id = a.message_id JOIN runs r ON r.id = "
                              "m.run_id JOIN campaigns c ON c.id = r.campaign_id WHERE "
                              "a.message_id = ?1 AND (?2 = 0 OR a.key_id = ?2)",
                              &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, key_id);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        out->id = sqlite3_column_int64(s, 0);
        out->contact = sqlite3_column_int64(s, 1);
        out->created_at = sqlite3_column_int64(s, 2);
        out->state = sqlite3_column_int(s, 3);
        out->attempts = sqlite3_column_int(s, 4);
        out->channel = sqlite3_column_int(s, 5);
        snprintf(out->tpl, sizeof out->tpl, "%s", (const char *)sqlite3_column_text(s, 6));
        snprintf(out->category, sizeof out->category, "%s",
                 (const char *)sqlite3_column_text(s, 7));
    } else if (step == SQLITE_DONE) {
        rc = hd_err_set(err, HD_E_NOTFOUND, "no message %lld sent through the API%s", (long long)id,
                        key_id ? " with this key" : "");
    } else {
        rc = hd_store_fail(st, err, "reading the API's message");
    }
    sqlite3_finalize(s);
    return rc;
}

int hd_store_idem_get(struct hd_store *st, int64_t key_id, const char *idem,
                      const unsigned char hash[32], int64_t now, bool *same, int *status,
                      char **answer, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    *answer = NULL;
    if (!st->db)
        return hd_store_pg_idem_get(st, key_id, idem, hash, now - IDEM_KEEP, same, status, answer,
                                    err);
    int rc = hd_store_cached(st, SLOT_API_IDEM_GET,
                             "SELECT body_hash, status, answer FROM api_idempotency WHERE key_id "
                             "= ?1 AND idem = ?2 AND created_at > ?3",
                             &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, key_id);
    sqlite3_bind_text(s, 2, idem, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now - IDEM_KEEP);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        *same =
            sqlite3_column_bytes(s, 0) == 32 && memcmp(sqlite3_column_blob(s, 0), hash, 32) == 0;
        *status = sqlite3_column_int(s, 1);
        *answer = hd_store_col_dup(s, 2);
    } else if (step == SQLITE_DONE) {
        rc = hd_err_set(err, HD_E_NOTFOUND, "no such idempotency key");
    } else {
        rc = hd_store_fail(st, err, "reading an idempotency key");
    }
    sqlite3_reset(s);
    return rc;
}

int hd_store_idem_put(struct hd_store *st, int64_t key_id, const char *idem,
                      const unsigned char hash[32], int status, const char *answer, int64_t now,
                      struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    if (!st->db)
        return hd_store_pg_idem_put(st, key_id, idem, hash, status, answer, now, now - IDEM_KEEP,
                                    err);
    int rc = hd_store_cached(st, SLOT_API_IDEM_DEL,
                             "DELETE FROM api_idempotency WHERE created_at <= ?1", &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, now - IDEM_KEEP);
    if ((rc = cached_done(st, s, "forgetting old idempotency keys", err)) < 0 ||
        (rc = hd_store_cached(st, SLOT_API_IDEM_PUT,
                              "INSERT OR REPLACE INTO api_idempotency (key_id, idem, body_hash, "
                              "status, answer, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                              &s, err)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, key_id);
    sqlite3_bind_text(s, 2, idem, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, status);
    sqlite3_bind_text(s, 5, answer, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, now);
    return cached_done(st, s, "keeping an idempotency key", err);
}
