/* contacts: SQL for contacts, push tokens, consent, attribute types and
 * suppressions. The import path keeps its statements prepared for the whole
 * file and runs inside one transaction, so a file lands whole or not at all;
 * it counts new contacts by comparing the row count before and after. */
#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"
#include "herald/config.h"
#include "store_int.h"

static const char *const consent_status[] = {NULL, "opted_in", "opted_out"};

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
    for (size_t i = 0; i < c->nconsent; i++)
        free(c->consent[i].source);
    free(c->consent);
    memset(c, 0, sizeof *c);
}

#define CONTACT_COLS                                                                             \
    "c.id, c.ext_id, c.email, c.phone, c.locale, c.timezone, c.attrs, c.created_at, "           \
    "c.updated_at, "                                                                             \
    "(SELECT token FROM push_tokens WHERE contact_id = c.id AND platform = 'fcm'), "             \
    "(SELECT token FROM push_tokens WHERE contact_id = c.id AND platform = 'apns')"

static void read_contact(sqlite3_stmt *s, struct hd_contact *c)
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
}

int hd_store_contact_get(struct hd_store *st, const char *ext_id, struct hd_contact *out,
                         struct hd_err *err)
{
    sqlite3_stmt *s = NULL, *cs = NULL;
    int rc;
    if ((rc = hd_store_prepare(st, "SELECT " CONTACT_COLS " FROM contacts c WHERE c.ext_id = ?1",
                               &s, err)) < 0)
        return rc;
    sqlite3_bind_text(s, 1, ext_id, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_DONE) {
        rc = hd_err_set(err, HD_E_NOTFOUND, "no contact with id '%s'", ext_id);
        goto out;
    }
    if (step != SQLITE_ROW) {
        rc = hd_store_fail(st, err, "reading contact");
        goto out;
    }
    read_contact(s, out);
    if ((rc = hd_store_prepare(st,
                               "SELECT channel, category, status, source, updated_at FROM consent "
                               "WHERE contact_id = ?1 ORDER BY channel, category",
                               &cs, err)) < 0)
        goto out;
    sqlite3_bind_int64(cs, 1, out->id);
    while ((step = sqlite3_step(cs)) == SQLITE_ROW) {
        out->consent = hd_xrealloc(out->consent, (out->nconsent + 1) * sizeof *out->consent);
        struct hd_consent *k = &out->consent[out->nconsent++];
        k->channel = hd_channel_parse((const char *)sqlite3_column_text(cs, 0));
        k->category = hd_category_parse((const char *)sqlite3_column_text(cs, 1));
        k->status = strcmp((const char *)sqlite3_column_text(cs, 2), "opted_out") == 0
                        ? HD_CONSENT_OPTED_OUT
                        : HD_CONSENT_OPTED_IN;
        k->source = hd_store_col_dup(cs, 3);
        k->updated_at = sqlite3_column_int64(cs, 4);
    }
    if (step != SQLITE_DONE) {
        rc = hd_store_fail(st, err, "reading consent");
        hd_contact_release(out);
    }
out:
    sqlite3_finalize(s);
    sqlite3_finalize(cs);
    return rc;
}

int hd_store_contact_count(struct hd_store *st, int64_t *n, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc;
    if ((rc = hd_store_prepare(st, "SELECT count(*) FROM contacts", &s, err)) < 0)
        return rc;
    if (sqlite3_step(s) == SQLITE_ROW)
        *n = sqlite3_column_int64(s, 0);
    else
        rc = hd_store_fail(st, err, "counting contacts");
    sqlite3_finalize(s);
    return rc;
}

int hd_store_contact_each(struct hd_store *st, int64_t limit, hd_contact_cb cb, void *ud,
                          struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc, step;
    if ((rc = hd_store_prepare(st, "SELECT " CONTACT_COLS " FROM contacts c ORDER BY c.id LIMIT ?1",
                               &s, err)) < 0)
        return rc;
    sqlite3_bind_int64(s, 1, limit > 0 ? limit : -1);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct hd_contact c;
        read_contact(s, &c);
        rc = cb(ud, &c);
        hd_contact_release(&c);
        if (rc)
            goto out;
    }
    if (step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "listing contacts");
out:
    sqlite3_finalize(s);
    return rc;
}

int hd_store_contact_delete(struct hd_store *st, const char *ext_id, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc;
    if ((rc = hd_store_prepare(st, "DELETE FROM contacts WHERE ext_id = ?1", &s, err)) < 0)
        return rc;
    sqlite3_bind_text(s, 1, ext_id, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "deleting contact");
    else if (sqlite3_changes(st->db) == 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "no contact with id '%s'", ext_id);
    sqlite3_finalize(s);
    return rc;
}

int hd_store_consent_set(struct hd_store *st, const char *ext_id, int channel, int category,
                         int status, const char *source, int64_t now, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc;
    if (status != HD_CONSENT_OPTED_IN && status != HD_CONSENT_OPTED_OUT)
        HD_BUG("bad consent status %d", status);
    if ((rc = hd_store_prepare(
             st,
             "INSERT INTO consent (contact_id, channel, category, status, source, updated_at) "
             "SELECT id, ?2, ?3, ?4, ?5, ?6 FROM contacts WHERE ext_id = ?1 "
             "ON CONFLICT (contact_id, channel, category) DO UPDATE SET status = excluded.status, "
             "source = excluded.source, updated_at = excluded.updated_at",
             &s, err)) < 0)
        return rc;
    sqlite3_bind_text(s, 1, ext_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, hd_channel_name(channel), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, hd_category_name(category), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, consent_status[status], -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, now);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "recording consent");
    else if (sqlite3_changes(st->db) == 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "no contact with id '%s'", ext_id);
    sqlite3_finalize(s);
    return rc;
}

/* ---- import ------------------------------------------------------------- */

struct hd_store_import {
    struct hd_store *st;
    enum hd_import_mode mode;
    int64_t now;
    int64_t before; /* contacts before the import */
    int64_t rows;   /* rows upserted */
    sqlite3_stmt *upsert, *token_set, *token_del, *attr;
};

static const char upsert_merge[] =
    "INSERT INTO contacts (ext_id, email, phone, locale, timezone, attrs, created_at, "
    "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?9 THEN json_patch('{}', ?6) ELSE ?6 END, "
    "coalesce(?7, ?8), ?8) "
    "ON CONFLICT (ext_id) DO UPDATE SET "
    "email = coalesce(excluded.email, email), phone = coalesce(excluded.phone, phone), "
    "locale = coalesce(excluded.locale, locale), "
    "timezone = coalesce(excluded.timezone, timezone), "
    "attrs = CASE WHEN ?6 = '{}' THEN attrs ELSE json_patch(attrs, ?6) END, created_at = coalesce(?7, created_at), "
    "updated_at = excluded.updated_at RETURNING id";

static const char upsert_replace[] =
    "INSERT INTO contacts (ext_id, email, phone, locale, timezone, attrs, created_at, "
    "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?9 THEN json_patch('{}', ?6) ELSE ?6 END, "
    "coalesce(?7, ?8), ?8) "
    "ON CONFLICT (ext_id) DO UPDATE SET "
    "email = excluded.email, phone = excluded.phone, locale = excluded.locale, "
    "timezone = excluded.timezone, attrs = excluded.attrs, "
    "created_at = coalesce(?7, created_at), updated_at = excluded.updated_at RETURNING id";

int hd_store_import_begin(struct hd_store *st, enum hd_import_mode mode, int64_t now,
                          struct hd_store_import **out, struct hd_err *err)
{
    struct hd_store_import *imp = hd_xcalloc(1, sizeof *imp);
    int rc;
    imp->st = st;
    imp->mode = mode;
    imp->now = now;
    /* A large import touches many pages; a bigger cache keeps them hot. */
    if ((rc = hd_store_exec(st, "PRAGMA cache_size = -65536", err)) < 0 ||
        (rc = hd_store_begin(st, err)) < 0)
        goto fail;
    if ((rc = hd_store_contact_count(st, &imp->before, err)) < 0 ||
        (rc = hd_store_prepare(st, mode == HD_IMPORT_MERGE ? upsert_merge : upsert_replace,
                               &imp->upsert, err)) < 0 ||
        (rc = hd_store_prepare(st,
                               "INSERT INTO push_tokens (contact_id, platform, token, updated_at) "
                               "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (contact_id, platform) DO "
                               "UPDATE SET token = excluded.token, updated_at = excluded.updated_at "
                               "WHERE token != excluded.token",
                               &imp->token_set, err)) < 0 ||
        (rc = hd_store_prepare(st, "DELETE FROM push_tokens WHERE contact_id = ?1",
                               &imp->token_del, err)) < 0 ||
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

static int set_token(struct hd_store_import *imp, int64_t id, const char *platform,
                     const char *token, struct hd_err *err)
{
    sqlite3_stmt *s = imp->token_set;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, platform, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, token, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, imp->now);
    int step = sqlite3_step(s);
    sqlite3_reset(s);
    return step == SQLITE_DONE ? 0 : hd_store_fail(imp->st, err, "storing push token");
}

int hd_store_import_row(struct hd_store_import *imp, const struct hd_contact_row *row,
                        struct hd_err *err)
{
    sqlite3_stmt *s = imp->upsert;
    int64_t id;
    hd_store_bind_text(s, 1, row->ext_id);
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
    sqlite3_bind_int(s, 9, row->attrs_nulls);
    if (sqlite3_step(s) != SQLITE_ROW) {
        int rc = hd_store_fail(imp->st, err, "storing contact");
        sqlite3_reset(s);
        return rc;
    }
    id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    imp->rows++;
    if (imp->mode == HD_IMPORT_REPLACE) {
        sqlite3_bind_int64(imp->token_del, 1, id);
        int step = sqlite3_step(imp->token_del);
        sqlite3_reset(imp->token_del);
        if (step != SQLITE_DONE)
            return hd_store_fail(imp->st, err, "replacing push tokens");
    }
    if (row->fcm_token && set_token(imp, id, "fcm", row->fcm_token, err) < 0)
        return HD_E_STORE;
    if (row->apns_token && set_token(imp, id, "apns", row->apns_token, err) < 0)
        return HD_E_STORE;
    return 0;
}

int hd_store_import_attr_type(struct hd_store_import *imp, const char *name, const char *type,
                              struct hd_err *err)
{
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
    int64_t after = 0;
    if (!imp)
        return 0;
    sqlite3_finalize(imp->upsert);
    sqlite3_finalize(imp->token_set);
    sqlite3_finalize(imp->token_del);
    sqlite3_finalize(imp->attr);
    if (commit) {
        if ((rc = hd_store_contact_count(imp->st, &after, err)) == 0)
            rc = hd_store_commit(imp->st, err);
    }
    if (!commit || rc < 0)
        hd_store_rollback(imp->st);
    if (rc == 0 && commit) {
        if (inserted)
            *inserted = after - imp->before;
        if (updated)
            *updated = imp->rows - (after - imp->before);
    }
    hd_store_exec(imp->st, "PRAGMA cache_size = -2000", NULL);
    free(imp);
    return rc;
}

int hd_store_attr_types(struct hd_store *st, hd_attr_type_cb cb, void *ud, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc, step;
    if ((rc = hd_store_prepare(st, "SELECT name, type FROM attributes ORDER BY name", &s, err)) < 0)
        return rc;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if ((rc = cb(ud, (const char *)sqlite3_column_text(s, 0),
                     (const char *)sqlite3_column_text(s, 1))) != 0)
            goto out;
    }
    if (step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "reading attribute types");
out:
    sqlite3_finalize(s);
    return rc;
}

/* ---- suppressions ---------------------------------------------------------- */

int hd_store_suppress_add(struct hd_store *st, const struct hd_suppression *sup,
                          struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc;
    if ((rc = hd_store_prepare(st,
                               "INSERT INTO suppressions (address, channel, reason, created_at) "
                               "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (address) DO UPDATE SET "
                               "reason = excluded.reason, channel = excluded.channel",
                               &s, err)) < 0)
        return rc;
    sqlite3_bind_text(s, 1, sup->address, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, hd_channel_name(sup->channel), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, sup->reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, sup->created_at);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "adding suppression");
    sqlite3_finalize(s);
    return rc;
}

int hd_store_suppress_remove(struct hd_store *st, const char *address, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc;
    if ((rc = hd_store_prepare(st, "DELETE FROM suppressions WHERE address = ?1", &s, err)) < 0)
        return rc;
    sqlite3_bind_text(s, 1, address, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "removing suppression");
    else if (sqlite3_changes(st->db) == 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "'%s' is not suppressed", address);
    sqlite3_finalize(s);
    return rc;
}

int hd_store_suppress_each(struct hd_store *st, int channel, hd_suppression_cb cb, void *ud,
                           struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc, step;
    if ((rc = hd_store_prepare(st,
                               "SELECT address, channel, reason, created_at FROM suppressions "
                               "WHERE ?1 IS NULL OR channel = ?1 ORDER BY created_at, address",
                               &s, err)) < 0)
        return rc;
    hd_store_bind_text(s, 1, channel >= 0 ? hd_channel_name(channel) : NULL);
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct hd_suppression sup = {
            (const char *)sqlite3_column_text(s, 0),
            hd_channel_parse((const char *)sqlite3_column_text(s, 1)),
            (const char *)sqlite3_column_text(s, 2), sqlite3_column_int64(s, 3)};
        if ((rc = cb(ud, &sup)) != 0)
            goto out;
    }
    if (step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "listing suppressions");
out:
    sqlite3_finalize(s);
    return rc;
}
