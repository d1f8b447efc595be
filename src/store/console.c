/* console: the web console's rows (issue 21). Users carry a role and the
 * encoded Argon2id hash of their password (made and checked in
 * serve/console_auth.c; the store never sees a password). A session is
 * found by the SHA-256 of its cookie's random id, so the table alone opens
 * no session; an expired one is never found, and is deleted when a
 * session is next made (a page's read writes nothing), and
 * every session of a user ends with a new password or the user's removal.
 * audit_actions is append-only: who did what, when and from where; the
 * login's throttle counts its failed logins per account and per address
 * through two indexes on (action, who|addr, at). The overview's two
 * aggregates that no other query gives are here too: one day of the log by
 * channel and outcome (a range of its time index), and the queue by state. */
#include <stdio.h>
#include <string.h>

#include "store_int.h"
#include "db.h"

static const char *const role_names[HD_ROLE_COUNT] = {"viewer", "operator", "admin"};

const char *hd_role_name(int role)
{
    return role >= 0 && role < HD_ROLE_COUNT ? role_names[role] : "?";
}

int hd_role_parse(const char *s)
{
    for (int r = 0; s && r < HD_ROLE_COUNT; r++)
        if (strcmp(s, role_names[r]) == 0)
            return r;
    return -1;
}

#define USER_COLS "u.id, u.name, u.role, u.hash, u.created_at, u.updated_at, u.lang, u.zone"

static void read_user(sqlite3_stmt *s, int col, struct hd_user *u)
{
    const unsigned char *t;
    memset(u, 0, sizeof *u);
    u->id = sqlite3_column_int64(s, col);
    t = sqlite3_column_text(s, col + 1);
    snprintf(u->name, sizeof u->name, "%s", t ? (const char *)t : "");
    u->role = hd_role_parse((const char *)sqlite3_column_text(s, col + 2));
    t = sqlite3_column_text(s, col + 3);
    snprintf(u->hash, sizeof u->hash, "%s", t ? (const char *)t : "");
    u->created_at = sqlite3_column_int64(s, col + 4);
    u->updated_at = sqlite3_column_int64(s, col + 5);
    t = sqlite3_column_text(s, col + 6);
    snprintf(u->lang, sizeof u->lang, "%s", t ? (const char *)t : "");
    t = sqlite3_column_text(s, col + 7);
    snprintf(u->zone, sizeof u->zone, "%s", t ? (const char *)t : "");
}

int hd_store_user_add(struct hd_store *st, const char *name, int role, const char *hash,
                      int64_t now, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st,
                              "INSERT INTO users (name, role, hash, created_at, updated_at) "
                              "VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT DO NOTHING",
                              &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, hd_role_name(role), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "adding a user");
    else if (sqlite3_changes(st->db) == 0)
        rc = hd_err_set(err, HD_E_EXISTS, "a user named '%s' exists", name);
    sqlite3_finalize(s);
    return rc;
}

int hd_store_user_find(struct hd_store *st, const char *name, struct hd_user *u, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st, "SELECT " USER_COLS " FROM users u WHERE u.name = ?1", &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        read_user(s, 0, u);
    else if (step == SQLITE_DONE)
        rc = hd_err_set(err, HD_E_NOTFOUND, "no user named '%s'", name);
    else
        rc = hd_store_fail(st, err, "finding a user");
    sqlite3_finalize(s);
    return rc;
}

int hd_store_user_each(struct hd_store *st, int (*fn)(void *ud, const struct hd_user *u), void *ud,
                       struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st, "SELECT " USER_COLS " FROM users u ORDER BY u.name", &s, err);
    int step = SQLITE_DONE;
    if (rc < 0)
        return rc;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        struct hd_user u;
        read_user(s, 0, &u);
        memset(u.hash, 0, sizeof u.hash);
        rc = fn(ud, &u);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "listing users");
    sqlite3_finalize(s);
    return rc;
}

/* One statement on a user by name; HD_E_NOTFOUND when it changed nothing. */
static int by_name(struct hd_store *st, const char *sql, const char *name, const char *hash,
                   int64_t now, const char *what, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st, sql, &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if (hash) {
        sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, now);
    }
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, what);
    else if (sqlite3_changes(st->db) == 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "no user named '%s'", name);
    sqlite3_finalize(s);
    return rc;
}

int hd_store_user_prefs(struct hd_store *st, const char *name, const char *lang, const char *zone,
                        struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    /* NULL keeps a setting, "" clears it */
    int rc = hd_store_prepare(st,
                              "UPDATE users SET lang = CASE WHEN ?2 IS NULL THEN lang ELSE "
                              "nullif(?2, '') END, zone = CASE WHEN ?3 IS NULL THEN zone ELSE "
                              "nullif(?3, '') END WHERE name = ?1",
                              &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    hd_store_bind_text(s, 2, lang);
    hd_store_bind_text(s, 3, zone);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "changing a user's settings");
    else if (sqlite3_changes(st->db) == 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "no user named '%s'", name);
    sqlite3_finalize(s);
    return rc;
}

int hd_store_user_role(struct hd_store *st, const char *name, int role, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    /* updated_at is when the password was set: a role leaves it */
    int rc = hd_store_prepare(st, "UPDATE users SET role = ?2 WHERE name = ?1", &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, hd_role_name(role), -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "changing a user's role");
    else if (sqlite3_changes(st->db) == 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "no user named '%s'", name);
    sqlite3_finalize(s);
    return rc;
}

static int end_sessions(struct hd_store *st, const char *name, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st,
                              "DELETE FROM console_sessions WHERE user_id = (SELECT id FROM "
                              "users WHERE name = ?1)",
                              &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "ending a user's console sessions");
    sqlite3_finalize(s);
    return rc;
}

int hd_store_user_remove(struct hd_store *st, const char *name, struct hd_err *err)
{
    int rc = hd_store_begin(st, err);
    if (rc == 0 && (rc = end_sessions(st, name, err)) == 0 &&
        (rc = by_name(st, "DELETE FROM users WHERE name = ?1", name, NULL, 0, "removing a user",
                      err)) == 0)
        rc = hd_store_commit(st, err);
    if (rc < 0)
        hd_store_rollback(st);
    return rc;
}

int hd_store_user_passwd(struct hd_store *st, const char *name, const char *hash, int64_t now,
                         struct hd_err *err)
{
    int rc = hd_store_begin(st, err);
    if (rc == 0 && (rc = end_sessions(st, name, err)) == 0 &&
        (rc = by_name(st, "UPDATE users SET hash = ?2, updated_at = ?3 WHERE name = ?1", name, hash,
                      now, "changing a password", err)) == 0)
        rc = hd_store_commit(st, err);
    if (rc < 0)
        hd_store_rollback(st);
    return rc;
}

static int expire(struct hd_store *st, int64_t now, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st, "DELETE FROM console_sessions WHERE expires_at <= ?1", &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, now);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "ending expired console sessions");
    sqlite3_finalize(s);
    return rc;
}

int hd_store_session_add(struct hd_store *st, const unsigned char id_hash[32], int64_t user,
                         int64_t now, int64_t expires_at, const char *csrf, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = expire(st, now, err);
    if (rc == 0)
        rc = hd_store_prepare(st,
                              "INSERT INTO console_sessions (id, user_id, created_at, expires_at, "
                              "csrf) VALUES (?1, ?2, ?3, ?4, ?5)",
                              &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_blob(s, 1, id_hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, user);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, expires_at);
    sqlite3_bind_text(s, 5, csrf, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "adding a console session");
    sqlite3_finalize(s);
    return rc;
}

int hd_store_session_find(struct hd_store *st, const unsigned char id_hash[32], int64_t now,
                          struct hd_session *out, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st,
                              "SELECT " USER_COLS ", c.created_at, c.expires_at, c.csrf FROM "
                              "console_sessions c JOIN users u ON u.id = c.user_id WHERE c.id = ?1 "
                              "AND c.expires_at > ?2",
                              &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_blob(s, 1, id_hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        read_user(s, 0, &out->user);
        memset(out->user.hash, 0, sizeof out->user.hash);
        out->created_at = sqlite3_column_int64(s, 8);
        out->expires_at = sqlite3_column_int64(s, 9);
        const unsigned char *t = sqlite3_column_text(s, 10);
        snprintf(out->csrf, sizeof out->csrf, "%s", t ? (const char *)t : "");
    } else if (step == SQLITE_DONE) {
        rc = hd_err_set(err, HD_E_NOTFOUND, "no such console session (or it expired)");
    } else {
        rc = hd_store_fail(st, err, "finding a console session");
    }
    sqlite3_finalize(s);
    return rc;
}

int hd_store_session_end(struct hd_store *st, const unsigned char id_hash[32], struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st, "DELETE FROM console_sessions WHERE id = ?1", &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_blob(s, 1, id_hash, 32, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "ending a console session");
    sqlite3_finalize(s);
    return rc;
}

int hd_store_action_add(struct hd_store *st, const struct hd_action *a, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st,
                              "INSERT INTO audit_actions (at, who, action, detail, addr) VALUES "
                              "(?1, ?2, ?3, ?4, ?5)",
                              &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, a->at);
    sqlite3_bind_text(s, 2, a->who, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, a->action, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, a->detail, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, a->addr, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = hd_store_fail(st, err, "recording an action");
    sqlite3_finalize(s);
    return rc;
}

int hd_store_action_each(struct hd_store *st, const struct hd_action_filter *f,
                         int (*fn)(void *ud, const struct hd_action *a), void *ud,
                         struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    /* newest first by id, so that a page's last id is the next one's key;
     * the casts type the optional filters for PostgreSQL */
    int rc = hd_db_prepare(st->conn,
                           "SELECT id, at, who, action, detail, addr FROM audit_actions WHERE "
                           "at >= ?1 AND (CAST(?2 AS BIGINT) = 0 OR at < ?2) AND "
                           "(CAST(?3 AS TEXT) IS NULL OR who = ?3) AND "
                           "(CAST(?4 AS TEXT) IS NULL OR action = ?4) AND "
                           "(CAST(?5 AS BIGINT) = 0 OR id < ?5) ORDER BY id DESC LIMIT ?6",
                           &s, err);
    int step = 0;
    if (rc < 0)
        return rc;
    hd_db_bind_int64(s, 1, f->since, NULL);
    hd_db_bind_int64(s, 2, f->until, NULL);
    hd_db_bind_text(s, 3, f->who, NULL);
    hd_db_bind_text(s, 4, f->action, NULL);
    hd_db_bind_int64(s, 5, f->before_id, NULL);
    hd_store_bind_limit(st, s, 6, f->limit);
    hd_db_buffer(s); /* the callback may query the store (PostgreSQL) */
    while (rc == 0 && (step = hd_db_step(s, err)) == 1) {
        struct hd_action a = {hd_db_col_int64(s, 0), hd_db_col_int64(s, 1), hd_db_col_text(s, 2),
                              hd_db_col_text(s, 3),  hd_db_col_text(s, 4),  hd_db_col_text(s, 5)};
        rc = fn(ud, &a);
    }
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, HD_E_STORE, "listing actions");
    hd_db_finalize(s);
    return rc;
}

int hd_store_login_failures(struct hd_store *st, const char *who, const char *addr, int64_t since,
                            struct hd_login_failures *out, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(
        st,
        "SELECT (SELECT count(*) FROM audit_actions WHERE action = 'login_failed' AND who = ?1 "
        "AND at >= ?3), (SELECT min(at) FROM audit_actions WHERE action = 'login_failed' AND "
        "who = ?1 AND at >= ?3), (SELECT count(*) FROM audit_actions WHERE action = "
        "'login_failed' AND addr = ?2 AND at >= ?3), (SELECT min(at) FROM audit_actions WHERE "
        "action = 'login_failed' AND addr = ?2 AND at >= ?3)",
        &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, who, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, addr, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, since);
    if (sqlite3_step(s) == SQLITE_ROW) {
        out->by_who = sqlite3_column_int64(s, 0);
        out->oldest_who = sqlite3_column_int64(s, 1);
        out->by_addr = sqlite3_column_int64(s, 2);
        out->oldest_addr = sqlite3_column_int64(s, 3);
    } else {
        rc = hd_store_fail(st, err, "counting failed logins");
    }
    sqlite3_finalize(s);
    return rc;
}

int hd_store_log_counts_since(struct hd_store *st, int64_t since_ms, hd_day_count_cb cb, void *ud,
                              struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = hd_store_prepare(st,
                              "SELECT coalesce(channel, '-'), outcome, coalesce(reason, ''), "
                              "count(*) FROM attempts WHERE at >= ?1 GROUP BY 1, 2, 3 ORDER BY "
                              "1, 2, 3",
                              &s, err);
    int step = SQLITE_DONE;
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, since_ms);
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW)
        rc =
            cb(ud, (const char *)sqlite3_column_text(s, 0), (const char *)sqlite3_column_text(s, 1),
               (const char *)sqlite3_column_text(s, 2), sqlite3_column_int64(s, 3));
    if (rc == 0 && step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "counting today's log");
    sqlite3_finalize(s);
    return rc;
}

int hd_store_queue_counts(struct hd_store *st, hd_queue_count_cb cb, void *ud, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc =
        hd_store_prepare(st, "SELECT state, count(*) FROM messages GROUP BY 1 ORDER BY 1", &s, err);
    int step = SQLITE_DONE;
    if (rc < 0)
        return rc;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW)
        rc = cb(ud, sqlite3_column_int(s, 0), sqlite3_column_int64(s, 1));
    if (rc == 0 && step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "counting the queue");
    sqlite3_finalize(s);
    return rc;
}
