/* apisend_pg: apisend.c's statements on PostgreSQL (issue 23), beside
 * SQLite's, which keep their sqlite3_ calls and slots (the API's send is
 * one of the service's hot paths): each public function of apisend.c
 * hands a PostgreSQL store to its twin here. The same rows and the same
 * answers; where the dialects differ: a new row's id comes back by
 * RETURNING (SQLite's last_insert_rowid), max() of two values is greatest(),
 * INSERT OR REPLACE is an upsert on (key_id, idem), and the hidden
 * campaign is added with ON CONFLICT DO NOTHING, since a failed statement
 * would end the whole transaction (the group commit's) where SQLite undoes
 * the statement alone. The statements are db.h's, prepared once per
 * connection (hd_store_dcached). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "db.h"

/* Steps a cached statement once: 1 with *v (column 0) for a row, 0 for
 * none, < 0 failed; reset either way. */
static int once(struct hd_db_stmt *s, int64_t *v, const char *what, struct hd_err *err)
{
    int step = hd_db_step(s, err);
    if (step == 1 && v)
        *v = hd_db_col_int64(s, 0);
    hd_db_reset(s);
    return step < 0 ? hd_store_dfail(err, step, what) : step;
}

static int cached(struct hd_store *st, int slot, const char *sql, struct hd_db_stmt **s,
                  const char *what, struct hd_err *err)
{
    int rc = hd_store_dcached(st, slot, sql, NULL, s, err);
    return rc < 0 ? hd_store_dfail(err, rc, what) : 0;
}

static int api_campaign(struct hd_store *st, const struct hd_api_send *m, const char *name,
                        const char *channels, int64_t *id, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = cached(st, DSLOT_API_CAMP, "SELECT id FROM campaigns WHERE name = ?1 AND api = 1", &s,
                    "finding the API's campaign", err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    if ((rc = once(s, id, "finding the API's campaign", err)) != 0)
        return rc < 0 ? rc : 0;
    if ((rc = hd_db_prepare(st->conn,
                            "INSERT INTO campaigns (name, segment, template, channels, category, "
                            "schedule, fallback, status, created_at, updated_at, api) VALUES "
                            "(?1, '', ?2, ?3, ?4, 'now', ?5, 'running', ?6, ?6, 1) "
                            "ON CONFLICT DO NOTHING RETURNING id",
                            &s, err)) < 0)
        return hd_store_dfail(err, rc, "adding the API's campaign");
    hd_db_bind_text(s, 1, name, NULL);
    hd_db_bind_text(s, 2, m->tpl, NULL);
    hd_db_bind_text(s, 3, channels, NULL);
    hd_db_bind_text(s, 4, hd_category_name(m->category), NULL);
    hd_db_bind_int64(s, 5, m->nchannels > 1, NULL);
    hd_db_bind_int64(s, 6, m->now, NULL);
    int step = hd_db_step(s, err);
    if (step == 1)
        *id = hd_db_col_int64(s, 0);
    else if (step == 0)
        rc = hd_err_set(err, HD_E_EXISTS, "a campaign named '%s' is not the API's", name);
    else
        rc = hd_store_dfail(err, step, "adding the API's campaign");
    hd_db_finalize(s);
    return rc;
}

static int api_run(struct hd_store *st, int64_t camp, int64_t contact, int64_t now, int64_t *run,
                   struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = cached(st, DSLOT_API_RUN,
                    "SELECT r.id FROM runs r WHERE r.campaign_id = ?1 AND r.status = "
                    "'active' AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.run_id = "
                    "r.id AND m.contact_id = ?2) ORDER BY r.id DESC LIMIT 1 FOR SHARE",
                    &s, "finding the API's run", err);
    if (rc < 0)
        return rc;
    hd_db_bind_int64(s, 1, camp, NULL);
    hd_db_bind_int64(s, 2, contact, NULL);
    *run = 0;
    if ((rc = once(s, run, "finding the API's run", err)) != 0)
        return rc < 0 ? rc : 0;
    if ((rc = hd_db_prepare(st->conn,
                            "INSERT INTO runs (campaign_id, fire_at, status, created_at, seq) "
                            "VALUES (?1, greatest(?2, (SELECT coalesce(max(fire_at), 0) + 1 FROM "
                            "runs WHERE campaign_id = ?1)), 'active', ?2, (SELECT "
                            "coalesce(max(seq), 0) + 1 FROM runs WHERE campaign_id = ?1)) "
                            "RETURNING id",
                            &s, err)) < 0)
        return hd_store_dfail(err, rc, "opening the API's run");
    hd_db_bind_int64(s, 1, camp, NULL);
    hd_db_bind_int64(s, 2, now, NULL);
    int step = hd_db_step(s, err);
    if (step == 1)
        *run = hd_db_col_int64(s, 0);
    else
        rc = hd_store_dfail(err, step < 0 ? step : HD_E_STORE, "opening the API's run");
    hd_db_finalize(s);
    return rc;
}

int hd_store_pg_api_send(struct hd_store *st, const struct hd_api_send *m, const char *name,
                         const char *channels, int64_t *message, struct hd_err *err)
{
    int64_t camp = 0, run = 0;
    struct hd_db_stmt *s = NULL;
    int rc;
    if ((rc = api_campaign(st, m, name, channels, &camp, err)) < 0 ||
        (rc = api_run(st, camp, m->contact, m->now, &run, err)) < 0 ||
        (rc = cached(st, DSLOT_API_MSG,
                     "INSERT INTO messages (run_id, contact_id, state, not_before, "
                     "updated_at) VALUES (?1, ?2, 0, ?3, ?4) RETURNING id",
                     &s, "queueing the API's message", err)) < 0)
        return rc;
    _Static_assert(HD_ST_QUEUED == 0, "state 0 above is queued");
    hd_db_bind_int64(s, 1, run, NULL);
    hd_db_bind_int64(s, 2, m->contact, NULL);
    hd_db_bind_int64(s, 3, m->not_before, NULL);
    hd_db_bind_int64(s, 4, m->now, NULL);
    if ((rc = once(s, message, "queueing the API's message", err)) <= 0)
        return rc < 0 ? rc : hd_err_set(err, HD_E_STORE, "queueing the API's message: no id");
    if ((rc = cached(st, DSLOT_API_DATA,
                     "INSERT INTO api_messages (message_id, key_id, data, created_at) "
                     "VALUES (?1, ?2, ?3, ?4)",
                     &s, "keeping the API message's data", err)) < 0)
        return rc;
    hd_db_bind_int64(s, 1, *message, NULL);
    hd_db_bind_int64(s, 2, m->key_id, NULL);
    hd_db_bind_text(s, 3, m->data, NULL);
    hd_db_bind_int64(s, 4, m->now, NULL);
    rc = once(s, NULL, "keeping the API message's data", err);
    if (rc < 0)
        return rc;
    hd_store_work_note(st, "api", run); /* sent with the group's COMMIT */
    return 0;
}

int hd_store_pg_api_contact(struct hd_store *st, const char *ext_id, int64_t *id,
                            struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = cached(st, DSLOT_API_CONTACT, "SELECT id FROM contacts WHERE ext_id = ?1", &s,
                    "finding the contact", err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, ext_id, NULL);
    if ((rc = once(s, id, "finding the contact", err)) < 0)
        return rc;
    return rc == 0 ? hd_err_set(err, HD_E_NOTFOUND, "no contact with id '%s'", ext_id) : 0;
}

int hd_store_pg_api_msg(struct hd_store *st, int64_t id, int64_t key_id, struct hd_api_msg *out,
                        struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn,
                           "SELECT m.id, m.contact_id, a.created_at, m.state, m.attempts, "
                           "coalesce(m.channel, -1), c.template, c.category FROM api_messages "
                           "a JOIN messages m ON m.id = a.message_id JOIN runs r ON r.id = "
                           "m.run_id JOIN campaigns c ON c.id = r.campaign_id WHERE "
                           "a.message_id = ?1 AND (CAST(?2 AS BIGINT) = 0 OR a.key_id = ?2)",
                           &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "reading the API's message");
    hd_db_bind_int64(s, 1, id, NULL);
    hd_db_bind_int64(s, 2, key_id, NULL);
    int step = hd_db_step(s, err);
    if (step == 1) {
        const char *tpl = hd_db_col_text(s, 6), *cat = hd_db_col_text(s, 7);
        out->id = hd_db_col_int64(s, 0);
        out->contact = hd_db_col_int64(s, 1);
        out->created_at = hd_db_col_int64(s, 2);
        out->state = (int)hd_db_col_int64(s, 3);
        out->attempts = (int)hd_db_col_int64(s, 4);
        out->channel = (int)hd_db_col_int64(s, 5);
        snprintf(out->tpl, sizeof out->tpl, "%s", tpl ? tpl : "");
        snprintf(out->category, sizeof out->category, "%s", cat ? cat : "");
    } else if (step == 0) {
        rc = hd_err_set(err, HD_E_NOTFOUND, "no message %lld sent through the API%s", (long long)id,
                        key_id ? " with this key" : "");
    } else {
        rc = hd_store_dfail(err, step, "reading the API's message");
    }
    hd_db_finalize(s);
    return rc;
}

int hd_store_pg_idem_get(struct hd_store *st, int64_t key_id, const char *idem,
                         const unsigned char hash[32], int64_t since, bool *same, int *status,
                         char **answer, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = cached(st, DSLOT_API_IDEM_GET,
                    "SELECT body_hash, status, answer FROM api_idempotency WHERE key_id "
                    "= ?1 AND idem = ?2 AND created_at > ?3",
                    &s, "reading an idempotency key", err);
    if (rc < 0)
        return rc;
    hd_db_bind_int64(s, 1, key_id, NULL);
    hd_db_bind_text(s, 2, idem, NULL);
    hd_db_bind_int64(s, 3, since, NULL);
    int step = hd_db_step(s, err);
    if (step == 1) {
        struct hd_db_value h;
        hd_db_column(s, 0, &h);
        *same = h.type == HD_DB_BLOB && h.len == 32 && memcmp(h.p, hash, 32) == 0;
        *status = (int)hd_db_col_int64(s, 1);
        *answer = hd_store_dcol_dup(s, 2);
    } else if (step == 0) {
        rc = hd_err_set(err, HD_E_NOTFOUND, "no such idempotency key");
    } else {
        rc = hd_store_dfail(err, step, "reading an idempotency key");
    }
    hd_db_reset(s);
    return rc;
}

int hd_store_pg_idem_put(struct hd_store *st, int64_t key_id, const char *idem,
                         const unsigned char hash[32], int status, const char *answer, int64_t now,
                         int64_t before, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = cached(st, DSLOT_API_IDEM_DEL, "DELETE FROM api_idempotency WHERE created_at <= ?1",
                    &s, "forgetting old idempotency keys", err);
    if (rc < 0)
        return rc;
    hd_db_bind_int64(s, 1, before, NULL);
    if ((rc = once(s, NULL, "forgetting old idempotency keys", err)) < 0 ||
        (rc = cached(st, DSLOT_API_IDEM_PUT,
                     "INSERT INTO api_idempotency (key_id, idem, body_hash, status, answer, "
                     "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (key_id, idem) DO "
                     "UPDATE SET body_hash = excluded.body_hash, status = excluded.status, "
                     "answer = excluded.answer, created_at = excluded.created_at",
                     &s, "keeping an idempotency key", err)) < 0)
        return rc;
    hd_db_bind_int64(s, 1, key_id, NULL);
    hd_db_bind_text(s, 2, idem, NULL);
    hd_db_bind_blob(s, 3, hash, 32, NULL);
    hd_db_bind_int64(s, 4, status, NULL);
    hd_db_bind_text(s, 5, answer, NULL);
    hd_db_bind_int64(s, 6, now, NULL);
    rc = once(s, NULL, "keeping an idempotency key", err);
    return rc < 0 ? rc : 0;
}
