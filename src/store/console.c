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

static void copy_text(char *out, size_t n, struct hd_db_stmt *s, int col)
{
    const char *t = hd_db_col_text(s, col);
    snprintf(out, n, "%s", t ? t : "");
}

static void read_user(struct hd_db_stmt *s, int col, struct hd_user *u)
{
    memset(u, 0, sizeof *u);
    u->id = hd_db_col_int64(s, col);
    copy_text(u->name, sizeof u->name, s, col + 1);
    u->role = hd_role_parse(hd_db_col_text(s, col + 2));
    copy_text(u->hash, sizeof u->hash, s, col + 3);
    u->created_at = hd_db_col_int64(s, col + 4);
    u->updated_at = hd_db_col_int64(s, col + 5);
    copy_text(u->lang, sizeof u->lang, s, col + 6);
    copy_text(u->zone, sizeof u->zone, s, col + 7);
}

/* Runs s (bound by the caller) to its end and finalizes it; *changed
 * (may be NULL): the rows it changed. */
static int run(struct hd_db_stmt *s, int64_t *changed, const char *what, struct hd_err *err)
{
    int rc = hd_db_step(s, err);
    if (rc < 0)
        rc = hd_store_dfail(err, rc, what);
    else if (changed)
        *changed = hd_db_changes(s);
    hd_db_finalize(s);
    return rc < 0 ? rc : 0;
}

static int prepare(struct hd_store *st, const char *sql, struct hd_db_stmt **s, const char *what,
                   struct hd_err *err)
{
    int rc = hd_db_prepare(st->conn, sql, s, err);
    return rc < 0 ? hd_store_dfail(err, rc, what) : 0;
}

int hd_store_user_add(struct hd_store *st, const char *name, int role, const char *hash,
                      int64_t now, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int64_t n = 0;
    int rc = prepare(st,
                     "INSERT INTO users (name, role, hash, created_at, updated_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT DO NOTHING",
                     &s, "adding a user", err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    hd_db_bind_text(s, 2, hd_role_name(role), NULL);
    hd_db_bind_text(s, 3, hash, NULL);
    hd_db_bind_int64(s, 4, now, NULL);
    if ((rc = run(s, &n, "adding a user", err)) == 0 && n == 0)
        rc = hd_err_set(err, HD_E_EXISTS, "a user named '%s' exists", name);
    return rc;
}

int hd_store_user_find(struct hd_store *st, const char *name, struct hd_user *u, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = prepare(st, "SELECT " USER_COLS " FROM users u WHERE u.name = ?1", &s,
                     "finding a user", err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    int step = hd_db_step(s, err);
    if (step == 1)
        read_user(s, 0, u);
    else if (step == 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "no user named '%s'", name);
    else
        rc = hd_store_dfail(err, step, "finding a user");
    hd_db_finalize(s);
    return rc;
}

int hd_store_user_each(struct hd_store *st, int (*fn)(void *ud, const struct hd_user *u), void *ud,
                       struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    /* byte by byte, as SQLite sorts */
    int rc = prepare(st,
                     hd_store_is_pg(st) ? "SELECT " USER_COLS " FROM users u ORDER BY u.name "
                                          "COLLATE \"C\""
                                        : "SELECT " USER_COLS " FROM users u ORDER BY u.name",
                     &s, "listing users", err);
    int step = 0;
    if (rc < 0)
        return rc;
    hd_db_buffer(s); /* the callback may query the store (PostgreSQL) */
    while (rc == 0 && (step = hd_db_step(s, err)) == 1) {
        struct hd_user u;
        read_user(s, 0, &u);
        memset(u.hash, 0, sizeof u.hash);
        rc = fn(ud, &u);
    }
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, step, "listing users");
    hd_db_finalize(s);
    return rc;
}

/* One statement on a user by name; HD_E_NOTFOUND when it changed nothing. */
static int by_name(struct hd_store *st, const char *sql, const char *name, const char *hash,
                   int64_t now, const char *what, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int64_t n = 0;
    int rc = prepare(st, sql, &s, what, err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    if (hash) {
        hd_db_bind_text(s, 2, hash, NULL);
        hd_db_bind_int64(s, 3, now, NULL);
    }
    if ((rc = run(s, &n, what, err)) == 0 && n == 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "no user named '%s'", name);
    return rc;
}

int hd_store_user_prefs(struct hd_store *st, const char *name, const char *lang, const char *zone,
                        struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int64_t n = 0;
    /* NULL keeps a setting, "" clears it; the casts type the parameters
     * for PostgreSQL */
    int rc = prepare(st,
                     "UPDATE users SET lang = CASE WHEN CAST(?2 AS TEXT) IS NULL THEN lang ELSE "
                     "nullif(?2, '') END, zone = CASE WHEN CAST(?3 AS TEXT) IS NULL THEN zone "
                     "ELSE nullif(?3, '') END WHERE name = ?1",
                     &s, "changing a user's settings", err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    hd_db_bind_text(s, 2, lang, NULL);
    hd_db_bind_text(s, 3, zone, NULL);
    if ((rc = run(s, &n, "changing a user's settings", err)) == 0 && n == 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "no user named '%s'", name);
    return rc;
}

int hd_store_user_role(struct hd_store *st, const char *name, int role, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int64_t n = 0;
    /* updated_at is when the password was set: a role leaves it */
    int rc = prepare(st, "UPDATE users SET role = ?2 WHERE name = ?1", &s, "changing a user's role",
                     err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    hd_db_bind_text(s, 2, hd_role_name(role), NULL);
    if ((rc = run(s, &n, "changing a user's role", err)) == 0 && n == 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "no user named '%s'", name);
    return rc;
}

static int end_sessions(struct hd_store *st, const char *name, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = prepare(st,
                     "DELETE FROM console_sessions WHERE user_id = (SELECT id FROM "
                     "users WHERE name = ?1)",
                     &s, "ending a user's console sessions", err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    return run(s, NULL, "ending a user's console sessions", err);
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
    struct hd_db_stmt *s = NULL;
    int rc = prepare(st, "DELETE FROM console_sessions WHERE expires_at <= ?1", &s,
                     "ending expired console sessions", err);
    if (rc < 0)
        return rc;
    hd_db_bind_int64(s, 1, now, NULL);
    return run(s, NULL, "ending expired console sessions", err);
}

int hd_store_session_add(struct hd_store *st, const unsigned char id_hash[32], int64_t user,
                         int64_t now, int64_t expires_at, const char *csrf, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = expire(st, now, err);
    if (rc == 0)
        rc = prepare(st,
                     "INSERT INTO console_sessions (id, user_id, created_at, expires_at, "
                     "csrf) VALUES (?1, ?2, ?3, ?4, ?5)",
                     &s, "adding a console session", err);
    if (rc < 0)
        return rc;
    hd_db_bind_blob(s, 1, id_hash, 32, NULL);
    hd_db_bind_int64(s, 2, user, NULL);
    hd_db_bind_int64(s, 3, now, NULL);
    hd_db_bind_int64(s, 4, expires_at, NULL);
    hd_db_bind_text(s, 5, csrf, NULL);
    return run(s, NULL, "adding a console session", err);
}

int hd_store_session_find(struct hd_store *st, const unsigned char id_hash[32], int64_t now,
                          struct hd_session *out, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = prepare(st,
                     "SELECT " USER_COLS ", c.created_at, c.expires_at, c.csrf FROM "
                     "console_sessions c JOIN users u ON u.id = c.user_id WHERE c.id = ?1 "
                     "AND c.expires_at > ?2",
                     &s, "finding a console session", err);
    if (rc < 0)
        return rc;
    hd_db_bind_blob(s, 1, id_hash, 32, NULL);
    hd_db_bind_int64(s, 2, now, NULL);
    int step = hd_db_step(s, err);
    if (step == 1) {
        read_user(s, 0, &out->user);
        memset(out->user.hash, 0, sizeof out->user.hash);
        out->created_at = hd_db_col_int64(s, 8);
        out->expires_at = hd_db_col_int64(s, 9);
        copy_text(out->csrf, sizeof out->csrf, s, 10);
    } else if (step == 0) {
        rc = hd_err_set(err, HD_E_NOTFOUND, "no such console session (or it expired)");
    } else {
        rc = hd_store_dfail(err, step, "finding a console session");
    }
    hd_db_finalize(s);
    return rc;
}

int hd_store_session_end(struct hd_store *st, const unsigned char id_hash[32], struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = prepare(st, "DELETE FROM console_sessions WHERE id = ?1", &s,
                     "ending a console session", err);
    if (rc < 0)
        return rc;
    hd_db_bind_blob(s, 1, id_hash, 32, NULL);
    return run(s, NULL, "ending a console session", err);
}

int hd_store_action_add(struct hd_store *st, const struct hd_action *a, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = prepare(st,
                     "INSERT INTO audit_actions (at, who, action, detail, addr) VALUES "
                     "(?1, ?2, ?3, ?4, ?5)",
                     &s, "recording an action", err);
    if (rc < 0)
        return rc;
    hd_db_bind_int64(s, 1, a->at, NULL);
    hd_db_bind_text(s, 2, a->who, NULL);
    hd_db_bind_text(s, 3, a->action, NULL);
    hd_db_bind_text(s, 4, a->detail, NULL);
    hd_db_bind_text(s, 5, a->addr, NULL);
    return run(s, NULL, "recording an action", err);
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
    struct hd_db_stmt *s = NULL;
    int rc = prepare(
        st,
        "SELECT (SELECT count(*) FROM audit_actions WHERE action = 'login_failed' AND who = ?1 "
        "AND at >= ?3), (SELECT min(at) FROM audit_actions WHERE action = 'login_failed' AND "
        "who = ?1 AND at >= ?3), (SELECT count(*) FROM audit_actions WHERE action = "
        "'login_failed' AND addr = ?2 AND at >= ?3), (SELECT min(at) FROM audit_actions WHERE "
        "action = 'login_failed' AND addr = ?2 AND at >= ?3)",
        &s, "counting failed logins", err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, who, NULL);
    hd_db_bind_text(s, 2, addr, NULL);
    hd_db_bind_int64(s, 3, since, NULL);
    int step = hd_db_step(s, err);
    if (step == 1) {
        out->by_who = hd_db_col_int64(s, 0);
        out->oldest_who = hd_db_col_int64(s, 1);
        out->by_addr = hd_db_col_int64(s, 2);
        out->oldest_addr = hd_db_col_int64(s, 3);
    } else {
        rc = hd_store_dfail(err, step < 0 ? step : HD_E_STORE, "counting failed logins");
    }
    hd_db_finalize(s);
    return rc;
}

int hd_store_log_counts_since(struct hd_store *st, int64_t since_ms, hd_day_count_cb cb, void *ud,
                              struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = prepare(st,
                     "SELECT coalesce(channel, '-'), outcome, coalesce(reason, ''), "
                     "count(*) FROM attempts WHERE at >= ?1 GROUP BY 1, 2, 3 ORDER BY "
                     "1, 2, 3",
                     &s, "counting today's log", err);
    int step = 0;
    if (rc < 0)
        return rc;
    hd_db_bind_int64(s, 1, since_ms, NULL);
    hd_db_buffer(s); /* the callback may query the store (PostgreSQL) */
    while (rc == 0 && (step = hd_db_step(s, err)) == 1)
        rc = cb(ud, hd_db_col_text(s, 0), hd_db_col_text(s, 1), hd_db_col_text(s, 2),
                hd_db_col_int64(s, 3));
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, step, "counting today's log");
    hd_db_finalize(s);
    return rc;
}

int hd_store_queue_counts(struct hd_store *st, hd_queue_count_cb cb, void *ud, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = prepare(st, "SELECT state, count(*) FROM messages GROUP BY 1 ORDER BY 1", &s,
                     "counting the queue", err);
    int step = 0;
    if (rc < 0)
        return rc;
    hd_db_buffer(s); /* the callback may query the store (PostgreSQL) */
    while (rc == 0 && (step = hd_db_step(s, err)) == 1)
        rc = cb(ud, (int)hd_db_col_int64(s, 0), hd_db_col_int64(s, 1));
    if (rc == 0 && step < 0)
        rc = hd_store_dfail(err, step, "counting the queue");
    hd_db_finalize(s);
    return rc;
}
