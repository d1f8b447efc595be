/* contacts: SQL for contacts, push tokens, consent, attribute types and
 * suppressions. The import path keeps its statements prepared for the whole
 * file and runs inside one transaction, so a file lands whole or not at all. */
#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"
#include "herald/config.h"
#include "store_int.h"
#include "db.h"

static const char *const consent_status[] = {NULL, "opted_in", "opted_out"};

int hd_store_consent_status(sqlite3_stmt *s, int col)
{
    const char *v = (const char *)sqlite3_column_text(s, col);
    return v && strcmp(v, "opted_out") == 0 ? HD_CONSENT_OPTED_OUT : HD_CONSENT_OPTED_IN;
}

void hd_consent_release(struct hd_consent *k)
{
    if (!k)
        return;
    free(k->source);
    free(k->campaign);
    k->source = k->campaign = NULL;
}

void hd_contact_release(struct hd_contact *c)
{
    if (!c)
        return;
    free(c->ext_id);
    free(c->email);
    free(c->phone);
    free(c->locale);
    free(c->timezone);
    free(c->attrs);
    free(c->fcm_token);
    free(c->apns_token);
    free(c->jpush_id);
    free(c->hms_token);
    free(c->wechat_openid);
    for (size_t i = 0; i < c->nconsent; i++)
        hd_consent_release(&c->consent[i]);
    free(c->consent);
    memset(c, 0, sizeof *c);
}

void hd_store_read_contact(sqlite3_stmt *s, struct hd_contact *c)
{
    memset(c, 0, sizeof *c);
    c->id = sqlite3_column_int64(s, 0);
    c->ext_id = hd_store_col_dup(s, 1);
    c->email = hd_store_col_dup(s, 2);
    c->phone = hd_store_col_dup(s, 3);
    c->locale = hd_store_col_dup(s, 4);
    c->timezone = hd_store_col_dup(s, 5);
    c->attrs = hd_store_col_dup(s, 6);
    c->created_at = sqlite3_column_int64(s, 7);
    c->updated_at = sqlite3_column_int64(s, 8);
    c->fcm_token = hd_store_col_dup(s, 9);
    c->apns_token = hd_store_col_dup(s, 10);
    c->jpush_id = hd_store_col_dup(s, 11);
    c->hms_token = hd_store_col_dup(s, 12);
    c->wechat_openid = hd_store_col_dup(s, 13);
}

/* The consent status and the rows on db.h, for the functions moved there
 * (issue 23); the sqlite3_stmt ones go when the last of their callers has
 * moved. */
static int dconsent_status(struct hd_db_stmt *s, int col)
{
    const char *v = hd_db_col_text(s, col);
    return v && strcmp(v, "opted_out") == 0 ? HD_CONSENT_OPTED_OUT : HD_CONSENT_OPTED_IN;
}

void hd_store_dread_consent(struct hd_db_stmt *s, struct hd_consent *k)
{
    k->channel = hd_channel_parse(hd_db_col_text(s, 0));
    k->category = hd_category_parse(hd_db_col_text(s, 1));
    k->status = dconsent_status(s, 2);
    k->source = hd_store_dcol_dup(s, 3);
    k->updated_at = hd_db_col_int64(s, 4);
    k->message_id = hd_db_col_int64(s, 5);
    k->campaign = hd_store_dcol_dup(s, 6);
}

void hd_store_dread_contact(struct hd_db_stmt *s, struct hd_contact *c)
{
    memset(c, 0, sizeof *c);
    c->id = hd_db_col_int64(s, 0);
    c->ext_id = hd_store_dcol_dup(s, 1);
    c->email = hd_store_dcol_dup(s, 2);
    c->phone = hd_store_dcol_dup(s, 3);
    c->locale = hd_store_dcol_dup(s, 4);
    c->timezone = hd_store_dcol_dup(s, 5);
    c->attrs = hd_store_dcol_dup(s, 6);
    c->created_at = hd_db_col_int64(s, 7);
    c->updated_at = hd_db_col_int64(s, 8);
    c->fcm_token = hd_store_dcol_dup(s, 9);
    c->apns_token = hd_store_dcol_dup(s, 10);
    c->jpush_id = hd_store_dcol_dup(s, 11);
    c->hms_token = hd_store_dcol_dup(s, 12);
    c->wechat_openid = hd_store_dcol_dup(s, 13);
}

int hd_store_contact_get(struct hd_store *st, const char *ext_id, struct hd_contact *out,
                         struct hd_err *err)
{
    struct hd_db_stmt *s = NULL, *cs = NULL;
    int rc;
    if ((rc = hd_db_prepare(st->conn,
                            "SELECT " HD_CONTACT_COLS ", coalesce(c.added_at, c.created_at) "
                            "FROM contacts c WHERE c.ext_id = ?1",
                            &s, err)) < 0)
        return rc;
    hd_db_bind_text(s, 1, ext_id, NULL);
    int step = hd_db_step(s, err);
    if (step == 0) {
        rc = hd_err_set(err, HD_E_NOTFOUND, "no contact with id '%s'", ext_id);
        goto out;
    }
    if (step != 1) {
        rc = hd_store_dfail(err, step, "reading contact");
        goto out;
    }
    hd_store_dread_contact(s, out);
    out->added_at = hd_db_col_int64(s, 14);
    hd_db_reset(s); /* PostgreSQL: one statement at a time */
    if ((rc = hd_db_prepare(st->conn,
                            "SELECT k.channel, k.category, k.status, k.source, k.updated_at, "
                            "k.message_id, c.name FROM consent k LEFT JOIN campaigns c ON "
                            "c.id = k.campaign_id WHERE k.contact_id = ?1 "
                            "ORDER BY k.channel, k.category",
                            &cs, err)) < 0)
        goto out;
    hd_db_bind_int64(cs, 1, out->id, NULL);
    while ((step = hd_db_step(cs, err)) == 1) {
        HD_GROW(out->consent, out->nconsent);
        hd_store_dread_consent(cs, &out->consent[out->nconsent++]);
    }
    if (step < 0) {
        rc = hd_store_dfail(err, HD_E_STORE, "reading consent");
        hd_contact_release(out);
    }
out:
    hd_db_finalize(s);
    hd_db_finalize(cs);
    return rc;
}

int hd_store_contact_count(struct hd_store *st, int64_t *n, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc;
    if ((rc = hd_db_prepare(st->conn, "SELECT count(*) FROM contacts", &s, err)) < 0)
        return rc;
    if (hd_db_step(s, err) == 1)
        *n = hd_db_col_int64(s, 0);
    else
        rc = hd_store_dfail(err, HD_E_STORE, "counting contacts");
    hd_db_finalize(s);
    return rc;
}

/* Steps s (its contacts' columns), each contact to cb until it returns
 * non-zero; finalizes s. what names a failure. */
static int each_contact(struct hd_db_stmt *s, hd_contact_cb cb, void *ud, const char *what,
                        struct hd_err *err)
{
    int rc = 0, step;
    while ((step = hd_db_step(s, err)) == 1) {
        struct hd_contact c;
        hd_store_dread_contact(s, &c);
        rc = cb(ud, &c);
        hd_contact_release(&c);
        if (rc)
            break;
    }
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, HD_E_STORE, what);
    hd_db_finalize(s);
    return rc;
}

int hd_store_contact_each(struct hd_store *st, int64_t limit, hd_contact_cb cb, void *ud,
                          struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc;
    if ((rc = hd_db_prepare(st->conn,
                            "SELECT " HD_CONTACT_COLS " FROM contacts c ORDER BY c.id LIMIT ?1", &s,
                            err)) < 0)
        return rc;
    /* read as it streams: no caller's callback queries the store */
    hd_store_bind_limit(st, s, 1, limit);
    return each_contact(s, cb, ud, "listing contacts", err);
}

/* The search matches whole values: an id uses its unique index; email
 * and phone have none, so they are a scan (the console's search, not a
 * hot path), stopped at limit. */
int hd_store_contact_search(struct hd_store *st, const char *q, int64_t limit, hd_contact_cb cb,
                            void *ud, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc;
    if ((rc = hd_db_prepare(st->conn,
                            "SELECT " HD_CONTACT_COLS " FROM contacts c WHERE c.ext_id = ?1 "
                            "OR c.email = lower(?1) OR c.phone = ?1 ORDER BY c.id LIMIT ?2",
                            &s, err)) < 0)
        return rc;
    hd_db_bind_text(s, 1, q, NULL);
    hd_store_bind_limit(st, s, 2, limit);
    return each_contact(s, cb, ud, "searching contacts", err);
}

/* The log keeps a deleted contact's messages (campaign numbers must not
 * change) under a pseudonym: a negative id from a counter, never reused,
 * with their addresses erased and scrubbed from the gateways' words. Its
 * opt-outs in consent_log, which go with it, are added first to meta's
 * HD_UNSUB_ERASED totals by channel and source: herald_unsubscribes_total
 * is a counter, and must not go down (metrics.c). */
int hd_store_contact_delete(struct hd_store *st, const char *ext_id, int64_t *pseudonym,
                            struct hd_err *err)
{
    static const char *const sql[] = {
        "UPDATE meta SET value = CAST(CAST(value AS bigint) - 1 AS text) WHERE key = "
        "'next_pseudonym'",
        "UPDATE messages SET contact_id = ?2 WHERE run_id IN (SELECT id FROM runs) AND "
        "contact_id = ?1",
        "UPDATE attempts SET contact_id = ?2, address = NULL, text = replace(replace(replace("
        "replace(replace(replace(replace(text, coalesce(?3, ''), '[erased]'), "
        "coalesce(?4, ''), '[erased]'), coalesce(?5, ''), '[erased]'), "
        "coalesce(?6, ''), '[erased]'), coalesce(?7, ''), '[erased]'), "
        "coalesce(?8, ''), '[erased]'), coalesce(?9, ''), '[erased]') WHERE contact_id = ?1",
        "UPDATE events SET contact_id = ?2 WHERE contact_id = ?1",
        "INSERT INTO meta (key, value) SELECT '" HD_UNSUB_ERASED "' || channel || ':' || source, "
        "CAST(count(*) AS text) FROM consent_log WHERE contact_id = ?1 AND status = 'opted_out' "
        "GROUP BY channel, source ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value "
        "AS bigint) + CAST(excluded.value AS bigint) AS text)",
        "DELETE FROM sends WHERE contact_id = ?1",
        "DELETE FROM inbox WHERE contact_id = ?1", /* the messages are the contact's */
        "DELETE FROM contacts WHERE id = ?1",
    };
    struct hd_contact k = {0};
    int64_t pseudo = 0;
    struct hd_db_stmt *s = NULL;
    /* read in the transaction that deletes: an import meanwhile cannot
     * give the contact an address the scrub would miss */
    int rc = hd_store_begin(st, err);
    if (rc < 0)
        return rc;
    if ((rc = hd_store_contact_get(st, ext_id, &k, err)) == 0 &&
        (rc = hd_db_prepare(st->conn,
                            "SELECT CAST(value AS bigint) FROM meta WHERE key = 'next_pseudonym'",
                            &s, err)) == 0) {
        if (hd_db_step(s, err) == 1)
            pseudo = hd_db_col_int64(s, 0);
        else
            rc = hd_store_dfail(err, HD_E_STORE, "reading the pseudonym counter");
        hd_db_finalize(s);
    }
    for (size_t i = 0; rc == 0 && i < sizeof sql / sizeof sql[0]; i++) {
        if ((rc = hd_db_prepare(st->conn, sql[i], &s, err)) < 0)
            break;
        if (i > 0) /* the counter's update has no parameters */
            hd_db_bind_int64(s, 1, k.id, NULL);
        if (i >= 1 && i <= 3) /* the rows that keep their contact as the pseudonym */
            hd_db_bind_int64(s, 2, pseudo, NULL);
        if (i == 2) {
            hd_db_bind_text(s, 3, k.email, NULL);
            hd_db_bind_text(s, 4, k.phone, NULL);
            hd_db_bind_text(s, 5, k.fcm_token, NULL);
            hd_db_bind_text(s, 6, k.apns_token, NULL);
            hd_db_bind_text(s, 7, k.jpush_id, NULL);
            hd_db_bind_text(s, 8, k.hms_token, NULL);
            hd_db_bind_text(s, 9, k.wechat_openid, NULL);
        }
        if (hd_db_step(s, err) < 0)
            rc = hd_store_dfail(err, HD_E_STORE, "deleting contact");
        hd_db_finalize(s);
    }
    if (rc == 0)
        rc = hd_store_commit(st, err);
    else
        hd_store_rollback(st);
    if (rc == 0 && pseudonym)
        *pseudonym = pseudo;
    hd_contact_release(&k);
    return rc;
}

int hd_store_consent_set(struct hd_store *st, const char *ext_id, int channel, int category,
                         int status, const char *source, int64_t now, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc;
    if (status != HD_CONSENT_OPTED_IN && status != HD_CONSENT_OPTED_OUT)
        HD_BUG("bad consent status %d", status);
    if ((rc = hd_db_prepare(
             st->conn,
             "INSERT INTO consent (contact_id, channel, category, status, source, updated_at) "
             "SELECT id, ?2, ?3, ?4, ?5, ?6 FROM contacts WHERE ext_id = ?1 "
             "ON CONFLICT (contact_id, channel, category) DO UPDATE SET status = excluded.status, "
             "source = excluded.source, updated_at = excluded.updated_at, message_id = NULL, "
             "campaign_id = NULL",
             &s, err)) < 0)
        return hd_store_dfail(err, rc, "recording consent");
    hd_db_bind_text(s, 1, ext_id, NULL);
    hd_db_bind_text(s, 2, hd_channel_name(channel), NULL);
    hd_db_bind_text(s, 3, hd_category_name(category), NULL);
    hd_db_bind_text(s, 4, consent_status[status], NULL);
    hd_db_bind_text(s, 5, source, NULL);
    hd_db_bind_int64(s, 6, now, NULL);
    if (hd_db_step(s, err) < 0)
        rc = hd_store_dfail(err, HD_E_STORE, "recording consent");
    else if (hd_db_changes(s) == 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "no contact with id '%s'", ext_id);
    hd_db_finalize(s);
    return rc;
}

int hd_store_consent_record(struct hd_store *st, const char *ext_id, int channel, int category,
                            int status, const char *source, int64_t now, struct hd_err *err)
{
    int rc;
    if ((rc = hd_store_begin(st, err)) < 0)
        return rc;
    for (int cat = 0; cat < HD_CAT_COUNT && rc == 0; cat++)
        if (category < 0 || cat == category)
            rc = hd_store_consent_set(st, ext_id, channel, cat, status, source, now, err);
    if (rc == 0)
        rc = hd_store_commit(st, err);
    else
        hd_store_rollback(st);
    return rc;
}

/* ---- import ------------------------------------------------------------- */

struct hd_store_import {
    struct hd_store *st;
    enum hd_import_mode mode;
    int64_t now;
    int64_t inserted, updated;
    sqlite3_stmt *find, *insert, *update, *token_new, *token_set, *token_del, *attr;
    /* PostgreSQL's (pg_import_*): the same statements on db.h */
    struct hd_db_stmt *d[5];
    int64_t next_id;     /* PostgreSQL: the next new contact's id */
    struct hd_buf attrs; /* PostgreSQL: the types recorded and not written yet, "{NAME:TYPE,..." */
};

/* The statements of struct hd_store_import's d[], in their order. */
enum { D_UPSERT, D_TOKEN_NEW, D_TOKEN_SET, D_TOKEN_DEL, D_ATTR };

/* A row is looked up by ext_id, then inserted or updated by rowid. A single
 * INSERT ... ON CONFLICT DO UPDATE ... RETURNING would do both, but SQLite
 * runs RETURNING as a trigger and so opens a statement journal for every row,
 * which made a 1,000,000-row import twice as slow. */
static const char sql_insert[] =
    "INSERT INTO contacts (ext_id, email, phone, locale, timezone, attrs, created_at, "
    "updated_at, added_at) VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?9 THEN json_patch('{}', ?6) "
    "ELSE ?6 END, coalesce(?7, ?8), ?8, ?8)";

/* merge: fields not given (NULL) are kept; attributes are merged (RFC 7386) */
static const char sql_update_merge[] =
    "UPDATE contacts SET email = coalesce(?2, email), phone = coalesce(?3, phone), "
    "locale = coalesce(?4, locale), timezone = coalesce(?5, timezone), "
    "attrs = CASE WHEN ?6 = '{}' THEN attrs ELSE json_patch(attrs, ?6) END, "
    "created_at = coalesce(?7, created_at), updated_at = ?8 WHERE id = ?1";

/* replace: the row becomes what was given */
static const char sql_update_replace[] =
    "UPDATE contacts SET email = ?2, phone = ?3, locale = ?4, timezone = ?5, "
    "attrs = CASE WHEN ?9 THEN json_patch('{}', ?6) ELSE ?6 END, "
    "created_at = coalesce(?7, created_at), updated_at = ?8 WHERE id = ?1";

/* ---- import on PostgreSQL (issue 23) -------------------------------------------------------
 * The same steps as SQLite's below on db.h, kept apart so that SQLite's
 * path, the bulk one, stays as fast as it was. A row is one upsert (a
 * round trip, where a look-up and a write would be two) whose id, when it
 * inserts, is the one SQLite would give: the contacts table is locked for
 * the import (SQLite's import holds the whole database), so the next id
 * is the largest plus one, and a returned id equal to it says the row was
 * new; the id sequence is moved past them at the end, and an import rolled
 * back spends none. json_patch is herald_json_patch (PostgreSQL's
 * migration 22), which gives the same text. */
#define PG_UPSERT_HEAD                                                                             \
    "INSERT INTO contacts (id, ext_id, email, phone, locale, timezone, attrs, created_at, "        \
    "updated_at, added_at) VALUES (?10, ?1, ?2, ?3, ?4, ?5, CASE WHEN CAST(?9 AS bigint) <> 0 "    \
    "THEN herald_json_patch('{}', ?6) ELSE ?6 END, coalesce(CAST(?7 AS bigint), CAST(?8 AS "       \
    "bigint)), ?8, ?8) ON CONFLICT (ext_id) DO UPDATE SET "
/* merge: fields not given (NULL) are kept; attributes are merged */
static const char pg_upsert_merge[] =
    PG_UPSERT_HEAD "email = coalesce(excluded.email, contacts.email), phone = "
                   "coalesce(excluded.phone, contacts.phone), locale = coalesce(excluded.locale, "
                   "contacts.locale), timezone = coalesce(excluded.timezone, contacts.timezone), "
                   "attrs = CASE WHEN ?6 = '{}' THEN contacts.attrs ELSE "
                   "herald_json_patch(contacts.attrs, ?6) END, created_at = coalesce(?7, "
                   "contacts.created_at), updated_at = excluded.updated_at RETURNING id";
/* replace: the row becomes what was given */
static const char pg_upsert_replace[] =
    PG_UPSERT_HEAD "email = excluded.email, phone = excluded.phone, locale = excluded.locale, "
                   "timezone = excluded.timezone, attrs = excluded.attrs, created_at = "
                   "coalesce(?7, contacts.created_at), updated_at = excluded.updated_at "
                   "RETURNING id";
static const char *const pg_import_sql[] = {
    [D_TOKEN_NEW] = "INSERT INTO push_tokens (contact_id, platform, token, updated_at) "
                    "VALUES (?1, ?2, ?3, ?4)",
    [D_TOKEN_SET] = "INSERT INTO push_tokens (contact_id, platform, token, updated_at) "
                    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (contact_id, platform) DO "
                    "UPDATE SET token = excluded.token, updated_at = excluded.updated_at "
                    "WHERE push_tokens.token != excluded.token",
    [D_TOKEN_DEL] = "DELETE FROM push_tokens WHERE contact_id = ?1",
    /* a JSON object of types, many in one round trip (pg_attrs_flush) */
    [D_ATTR] = "INSERT INTO attributes (name, type) SELECT key, value FROM "
               "json_each_text(CAST(?1 AS json)) ON CONFLICT (name) DO NOTHING",
};

static int pg_import_begin(struct hd_store_import *imp, struct hd_err *err)
{
    struct hd_store *st = imp->st;
    int rc;
    if ((rc = hd_store_begin(st, err)) < 0)
        return rc;
    if ((rc = hd_db_exec(st->conn, "LOCK TABLE contacts IN SHARE ROW EXCLUSIVE MODE", err)) < 0 ||
        (rc = hd_db_query_int64(st->conn, "SELECT coalesce(max(id), 0) + 1 FROM contacts",
                                &imp->next_id, err)) < 0)
        return hd_store_dfail(err, rc, "starting the import");
    for (int i = 0; i < 5; i++) {
        const char *sql = pg_import_sql[i];
        if (i == D_UPSERT)
            sql = imp->mode == HD_IMPORT_MERGE ? pg_upsert_merge : pg_upsert_replace;
        if ((rc = hd_db_prepare(st->conn, sql, &imp->d[i], err)) < 0)
            return hd_store_dfail(err, rc, "starting the import");
    }
    return 0;
}

/* Steps a write to its end (reading the id it returns into *id when
 * given) and resets it. */
static int pg_run(struct hd_db_stmt *s, int64_t *id, const char *what, struct hd_err *err)
{
    int step;
    while ((step = hd_db_step(s, err)) == 1)
        if (id)
            *id = hd_db_col_int64(s, 0);
    hd_db_reset(s);
    return step < 0 ? hd_store_dfail(err, HD_E_STORE, what) : 0;
}

static int pg_set_token(struct hd_store_import *imp, struct hd_db_stmt *s, int64_t id,
                        const char *platform, const char *token, struct hd_err *err)
{
    if (!token)
        return 0;
    hd_db_bind_int64(s, 1, id, NULL);
    hd_db_bind_text(s, 2, platform, NULL);
    hd_db_bind_text(s, 3, token, NULL);
    hd_db_bind_int64(s, 4, imp->now, NULL);
    return pg_run(s, NULL, "storing push token", err);
}

static int pg_import_row(struct hd_store_import *imp, const struct hd_contact_row *row,
                         struct hd_err *err)
{
    struct hd_db_stmt *s = imp->d[D_UPSERT];
    int64_t id = 0;
    int rc;
    hd_db_bind_text(s, 1, row->ext_id, NULL);
    hd_db_bind_text(s, 2, row->email, NULL);
    hd_db_bind_text(s, 3, row->phone, NULL);
    hd_db_bind_text(s, 4, row->locale, NULL);
    hd_db_bind_text(s, 5, row->timezone, NULL);
    hd_db_bind_text(s, 6, row->attrs, NULL);
    if (row->created_at >= 0)
        hd_db_bind_int64(s, 7, row->created_at, NULL);
    else
        hd_db_bind_null(s, 7, NULL);
    hd_db_bind_int64(s, 8, imp->now, NULL);
    hd_db_bind_int64(s, 9, row->attrs_nulls, NULL);
    hd_db_bind_int64(s, 10, imp->next_id, NULL);
    if ((rc = pg_run(s, &id, "storing contact", err)) < 0)
        return rc;
    bool found = id != imp->next_id;
    if (!found) {
        imp->next_id++;
        imp->inserted++;
    } else {
        imp->updated++;
        if (imp->mode == HD_IMPORT_REPLACE) {
            hd_db_bind_int64(imp->d[D_TOKEN_DEL], 1, id, NULL);
            if ((rc = pg_run(imp->d[D_TOKEN_DEL], NULL, "replacing push tokens", err)) < 0)
                return rc;
        }
    }
    struct hd_db_stmt *tok =
        imp->d[!found || imp->mode == HD_IMPORT_REPLACE ? D_TOKEN_NEW : D_TOKEN_SET];
    if ((rc = pg_set_token(imp, tok, id, "fcm", row->fcm_token, err)) < 0 ||
        (rc = pg_set_token(imp, tok, id, "apns", row->apns_token, err)) < 0 ||
        (rc = pg_set_token(imp, tok, id, "jpush", row->jpush_id, err)) < 0 ||
        (rc = pg_set_token(imp, tok, id, "hms", row->hms_token, err)) < 0 ||
        (rc = pg_set_token(imp, tok, id, "wechat", row->wechat_openid, err)) < 0)
        return rc;
    return 0;
}

/* ---- import on SQLite ------------------------------------------------------------------------ */

int hd_store_import_begin(struct hd_store *st, enum hd_import_mode mode, int64_t now,
                          struct hd_store_import **out, struct hd_err *err)
{
    struct hd_store_import *imp = hd_xcalloc(1, sizeof *imp);
    int rc;
    hd_buf_init(&imp->attrs);
    imp->st = st;
    imp->mode = mode;
    imp->now = now;
    if (hd_store_is_pg(st)) {
        if ((rc = pg_import_begin(imp, err)) < 0)
            goto fail;
        *out = imp;
        return 0;
    }
    /* A large import touches many pages; a bigger cache keeps them hot. */
    if ((rc = hd_store_bulk(st, 65536, err)) < 0 || (rc = hd_store_begin(st, err)) < 0)
        goto fail;
    if ((rc = hd_store_prepare(st, "SELECT id FROM contacts WHERE ext_id = ?1", &imp->find, err)) <
            0 ||
        (rc = hd_store_prepare(st, sql_insert, &imp->insert, err)) < 0 ||
        (rc = hd_store_prepare(st, mode == HD_IMPORT_MERGE ? sql_update_merge : sql_update_replace,
                               &imp->update, err)) < 0 ||
        (rc = hd_store_prepare(st,
                               "INSERT INTO push_tokens (contact_id, platform, token, updated_at) "
                               "VALUES (?1, ?2, ?3, ?4)",
                               &imp->token_new, err)) < 0 ||
        (rc =
             hd_store_prepare(st,
                              "INSERT INTO push_tokens (contact_id, platform, token, updated_at) "
                              "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (contact_id, platform) DO "
                              "UPDATE SET token = excluded.token, updated_at = excluded.updated_at "
                              "WHERE token != excluded.token",
                              &imp->token_set, err)) < 0 ||
        (rc = hd_store_prepare(st, "DELETE FROM push_tokens WHERE contact_id = ?1", &imp->token_del,
                               err)) < 0 ||
        (rc = hd_store_prepare(st,
                               "INSERT INTO attributes (name, type) VALUES (?1, ?2) "
                               "ON CONFLICT (name) DO NOTHING",
                               &imp->attr, err)) < 0)
        goto fail;
    *out = imp;
    return 0;
fail:
    hd_store_import_end(imp, false, NULL, NULL, NULL);
    return rc;
}

/* Runs a prepared write and resets it; 0 or HD_E_STORE. */
static int run_write(struct hd_store_import *imp, sqlite3_stmt *s, const char *what,
                     struct hd_err *err)
{
    int step = sqlite3_step(s);
    int rc = step == SQLITE_DONE ? 0 : hd_store_fail(imp->st, err, what);
    sqlite3_reset(s);
    return rc;
}

static int set_token(struct hd_store_import *imp, sqlite3_stmt *s, int64_t id, const char *platform,
                     const char *token, struct hd_err *err)
{
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, platform, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, token, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, imp->now);
    return run_write(imp, s, "storing push token", err);
}

int hd_store_import_row(struct hd_store_import *imp, const struct hd_contact_row *row,
                        struct hd_err *err)
{
    sqlite3_stmt *s = imp->find;
    int64_t id = 0;
    int step, rc;
    if (!s)
        return pg_import_row(imp, row, err);
    sqlite3_bind_text(s, 1, row->ext_id, -1, SQLITE_STATIC);
    step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return hd_store_fail(imp->st, err, "looking up contact");

    s = id ? imp->update : imp->insert;
    if (id)
        sqlite3_bind_int64(s, 1, id);
    else
        sqlite3_bind_text(s, 1, row->ext_id, -1, SQLITE_STATIC);
    hd_store_bind_text(s, 2, row->email);
    hd_store_bind_text(s, 3, row->phone);
    hd_store_bind_text(s, 4, row->locale);
    hd_store_bind_text(s, 5, row->timezone);
    hd_store_bind_text(s, 6, row->attrs);
    if (row->created_at >= 0)
        sqlite3_bind_int64(s, 7, row->created_at);
    else
        sqlite3_bind_null(s, 7);
    sqlite3_bind_int64(s, 8, imp->now);
    /* json_patch only to drop nulls: SQLite 3.40's looks each key up in
     * what it built so far, quadratic in the row's width (4.4 s for
     * 3 rows of 20,000 attributes) */
    if (!id || imp->mode == HD_IMPORT_REPLACE)
        sqlite3_bind_int(s, 9, row->attrs_nulls);
    if ((rc = run_write(imp, s, "storing contact", err)) < 0)
        return rc;
    if (!id) {
        id = sqlite3_last_insert_rowid(imp->st->db);
        imp->inserted++;
    } else {
        imp->updated++;
        if (imp->mode == HD_IMPORT_REPLACE) {
            sqlite3_bind_int64(imp->token_del, 1, id);
            if ((rc = run_write(imp, imp->token_del, "replacing push tokens", err)) < 0)
                return rc;
        }
    }
    /* a new contact has no tokens yet: a plain insert is enough */
    sqlite3_stmt *tok =
        step == SQLITE_DONE || imp->mode == HD_IMPORT_REPLACE ? imp->token_new : imp->token_set;
    if (row->fcm_token && (rc = set_token(imp, tok, id, "fcm", row->fcm_token, err)) < 0)
        return rc;
    if (row->apns_token && (rc = set_token(imp, tok, id, "apns", row->apns_token, err)) < 0)
        return rc;
    if (row->jpush_id && (rc = set_token(imp, tok, id, "jpush", row->jpush_id, err)) < 0)
        return rc;
    if (row->hms_token && (rc = set_token(imp, tok, id, "hms", row->hms_token, err)) < 0)
        return rc;
    if (row->wechat_openid && (rc = set_token(imp, tok, id, "wechat", row->wechat_openid, err)) < 0)
        return rc;
    return 0;
}

/* Writes the attribute types held in imp->attrs (PostgreSQL), one round
 * trip for them all: one each made a file of 50,000 columns 50,000 round
 * trips. Nothing reads the attributes table within the import. */
static int pg_attrs_flush(struct hd_store_import *imp, struct hd_err *err)
{
    if (!imp->attrs.len)
        return 0;
    hd_buf_addc(&imp->attrs, '}');
    hd_db_bind_text(imp->d[D_ATTR], 1, imp->attrs.data, NULL);
    int rc = pg_run(imp->d[D_ATTR], NULL, "recording attribute types", err);
    hd_buf_reset(&imp->attrs);
    return rc;
}

int hd_store_import_attr_type(struct hd_store_import *imp, const char *name, const char *type,
                              struct hd_err *err)
{
    if (!imp->attr) {
        hd_buf_addc(&imp->attrs, imp->attrs.len ? ',' : '{');
        hd_buf_add_json_str(&imp->attrs, name, strlen(name));
        hd_buf_addc(&imp->attrs, ':');
        hd_buf_add_json_str(&imp->attrs, type, strlen(type));
        return imp->attrs.len < (1u << 20) ? 0 : pg_attrs_flush(imp, err);
    }
    sqlite3_bind_text(imp->attr, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(imp->attr, 2, type, -1, SQLITE_STATIC);
    int step = sqlite3_step(imp->attr);
    sqlite3_reset(imp->attr);
    return step == SQLITE_DONE ? 0 : hd_store_fail(imp->st, err, "recording attribute type");
}

int hd_store_import_end(struct hd_store_import *imp, bool commit, int64_t *inserted,
                        int64_t *updated, struct hd_err *err)
{
    int rc = 0;
    if (!imp)
        return 0;
    /* PostgreSQL: the types held, and the id sequence past the ids given */
    if (commit && imp->d[D_UPSERT] &&
        ((rc = pg_attrs_flush(imp, err)) < 0 ||
         (rc = hd_db_exec(imp->st->conn,
                          "SELECT setval(pg_get_serial_sequence('contacts', 'id'), "
                          "coalesce(max(id), 0) + 1, false) FROM contacts",
                          err)) < 0))
        commit = false;
    hd_buf_release(&imp->attrs);
    sqlite3_finalize(imp->find);
    sqlite3_finalize(imp->insert);
    sqlite3_finalize(imp->update);
    sqlite3_finalize(imp->token_new);
    sqlite3_finalize(imp->token_set);
    sqlite3_finalize(imp->token_del);
    sqlite3_finalize(imp->attr);
    for (int i = 0; i < 5; i++)
        hd_db_finalize(imp->d[i]);
    if (commit)
        rc = hd_store_commit(imp->st, err);
    if (!commit || rc < 0)
        hd_store_rollback(imp->st);
    if (rc == 0 && commit) {
        if (inserted)
            *inserted = imp->inserted;
        if (updated)
            *updated = imp->updated;
    }
    hd_store_bulk(imp->st, 0, NULL);
    free(imp);
    return rc;
}

int hd_store_attr_types(struct hd_store *st, hd_attr_type_cb cb, void *ud, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc, step;
    if ((rc = hd_db_prepare(st->conn, "SELECT name, type FROM attributes ORDER BY name", &s, err)) <
        0)
        return rc;
    while ((step = hd_db_step(s, err)) == 1) {
        if ((rc = cb(ud, hd_db_col_text(s, 0), hd_db_col_text(s, 1))) != 0)
            goto out;
    }
    if (step < 0)
        rc = hd_store_dfail(err, HD_E_STORE, "reading attribute types");
out:
    hd_db_finalize(s);
    return rc;
}

/* ---- suppressions ---------------------------------------------------------- */

int hd_store_suppress_add(struct hd_store *st, const struct hd_suppression *sup, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc;
    if ((rc = hd_db_prepare(st->conn,
                            "INSERT INTO suppressions (address, channel, reason, created_at, "
                            "detail, message_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT "
                            "(address) DO UPDATE SET reason = excluded.reason, channel = "
                            "excluded.channel, detail = excluded.detail, message_id = "
                            "excluded.message_id",
                            &s, err)) < 0)
        return hd_store_dfail(err, rc, "adding suppression");
    hd_db_bind_text(s, 1, sup->address, NULL);
    hd_db_bind_text(s, 2, hd_channel_name(sup->channel), NULL);
    hd_db_bind_text(s, 3, sup->reason, NULL);
    hd_db_bind_int64(s, 4, sup->created_at, NULL);
    hd_db_bind_text(s, 5, sup->detail, NULL);
    if (sup->message)
        hd_db_bind_int64(s, 6, sup->message, NULL);
    else
        hd_db_bind_null(s, 6, NULL);
    if (hd_db_step(s, err) < 0)
        rc = hd_store_dfail(err, HD_E_STORE, "adding suppression");
    hd_db_finalize(s);
    return rc;
}

/* hd_store_suppress_find's callback: the channel a suppression is on. */
static int suppress_channel(void *ud, const struct hd_suppression *s)
{
    *(int *)ud = s->channel;
    return 0;
}

int hd_store_suppress_remove(struct hd_store *st, const char *address, int channel,
                             struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc, on = -1;
    int64_t removed = 0;
    if ((rc = hd_db_prepare(st->conn,
                            "DELETE FROM suppressions WHERE address = ?1 AND "
                            "(CAST(?2 AS text) IS NULL OR channel = ?2)",
                            &s, err)) < 0)
        return hd_store_dfail(err, rc, "removing suppression");
    hd_db_bind_text(s, 1, address, NULL);
    hd_db_bind_text(s, 2, channel >= 0 ? hd_channel_name(channel) : NULL, NULL);
    if (hd_db_step(s, err) < 0)
        rc = hd_store_dfail(err, HD_E_STORE, "removing suppression");
    else
        removed = hd_db_changes(s);
    hd_db_finalize(s);
    if (rc < 0 || removed > 0)
        return rc;
    if (channel < 0)
        return hd_err_set(err, HD_E_NOTFOUND, "'%s' is not suppressed", address);
    /* the address is one suppression: say which channel holds it */
    if ((rc = hd_store_suppress_find(st, address, suppress_channel, &on, err)) < 0)
        return rc;
    if (on >= 0)
        return hd_err_set(err, HD_E_NOTFOUND, "'%s' is not suppressed on %s (it is on %s)", address,
                          hd_channel_name(channel), hd_channel_name(on));
    return hd_err_set(err, HD_E_NOTFOUND, "'%s' is not suppressed on %s", address,
                      hd_channel_name(channel));
}

/* Calls cb for each row of s (prepared over the suppressions' columns). */
static int suppress_rows(struct hd_db_stmt *s, hd_suppression_cb cb, void *ud, struct hd_err *err)
{
    int rc = 0, step;
    hd_db_buffer(s); /* the callback may query the store (PostgreSQL) */
    while ((step = hd_db_step(s, err)) == 1) {
        struct hd_suppression sup = {hd_db_col_text(s, 0), hd_channel_parse(hd_db_col_text(s, 1)),
                                     hd_db_col_text(s, 2), hd_db_col_int64(s, 3),
                                     hd_db_col_text(s, 4), hd_db_col_int64(s, 5)};
        if ((rc = cb(ud, &sup)) != 0)
            goto out;
    }
    if (step < 0)
        rc = hd_store_dfail(err, HD_E_STORE, "listing suppressions");
out:
    hd_db_finalize(s);
    return rc;
}

#define SUPPRESS_COLS                                                                              \
    "SELECT address, channel, reason, created_at, detail, message_id FROM suppressions "

int hd_store_suppress_each(struct hd_store *st, int channel, hd_suppression_cb cb, void *ud,
                           struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc;
    if ((rc = hd_db_prepare(
             st->conn,
             SUPPRESS_COLS
             "WHERE CAST(?1 AS text) IS NULL OR channel = ?1 ORDER BY created_at, address",
             &s, err)) < 0)
        return rc;
    hd_db_bind_text(s, 1, channel >= 0 ? hd_channel_name(channel) : NULL, NULL);
    return suppress_rows(s, cb, ud, err);
}

int hd_store_suppress_find(struct hd_store *st, const char *address, hd_suppression_cb cb, void *ud,
                           struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn, SUPPRESS_COLS "WHERE address = ?1", &s, err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, address, NULL);
    return suppress_rows(s, cb, ud, err);
}
