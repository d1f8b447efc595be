/* test_pg: the PostgreSQL store's first stage (issue 23): the statement
 * seam (src/store/db.h) on both engines, `herald init` on a postgresql://
 * database (twice), `herald db copy` of a store with a row in every table
 * from SQLite to PostgreSQL and back to a new SQLite file (the two SQLite
 * files' dumps must be equal), a copy into a store with rows refused with
 * nothing written, a bad row named, a bad connection URI's error without its password, a
 * password from database_password_file (the test server asks one role for
 * it, scram-sha-256), and commands not on db.h yet refusing a PostgreSQL store.
 * The server is the suite's (HERALD_TEST_PG) or one started here
 * (tests/pgserver.sh); each test has a database of its own, dropped after. */
#include "testnet.h"

#include "../src/store/db.h"
#include "../src/store/store_int.h"
#include "herald/dbcopy.h"
#include "herald/store.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    setenv("HERALD_CONFIG", "h.conf", 1);
    setenv("HERALD_NOW", "2026-11-22T12:00:00Z", 1);
    unsetenv("PGPASSWORD");
    tu_pg_server();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmdir(dir);
    dir = NULL;
    return 0;
}

static void conf(const char *extra)
{
    char text[2048], *p = tu_path(dir, "h.conf");
    snprintf(text, sizeof text, "[herald]\ndatabase = h.db\ntemplates = tpl\n%s" TU_SERVE_CONF,
             extra);
    tu_write(p, text);
    free(p);
}

/* ---- the seam, on both engines -------------------------------------------- */

static void seam_roundtrip(const char *target)
{
    struct hd_db *db = NULL;
    struct hd_db_stmt *s = NULL;
    struct hd_err err = {0};
    struct hd_db_value v;
    char sql[256];
    assert_int_equal(hd_db_open(target, NULL, true, &db, &err), 0);
    snprintf(sql, sizeof sql,
             "CREATE TABLE t (id bigint PRIMARY KEY, r double precision, s text, "
             "b %s, n bigint)",
             hd_db_is_pg(db) ? "bytea" : "BLOB");
    assert_int_equal(hd_db_exec(db, sql, &err), 0);
    assert_int_equal(hd_db_prepare(db, "INSERT INTO t VALUES (?, ?, ?, ?, ?)", &s, &err), 0);
    static const unsigned char blob[] = {0, 1, 2, 0xff, '?'};
    struct hd_db_value r = {.type = HD_DB_REAL, .d = 0.1};
    assert_int_equal(hd_db_bind_int64(s, 1, 1, &err), 0);
    assert_int_equal(hd_db_bind(s, 2, &r, &err), 0);
    assert_int_equal(hd_db_bind_text(s, 3, "it's a '?'", &err), 0);
    assert_int_equal(hd_db_bind_blob(s, 4, blob, sizeof blob, &err), 0);
    assert_int_equal(hd_db_bind_null(s, 5, &err), 0);
    assert_int_equal(hd_db_step(s, &err), 0);
    /* the same key again: the engine's error, and the statement reusable */
    hd_db_reset(s);
    assert_true(hd_db_step(s, &err) < 0);
    assert_int_equal(err.code, HD_E_STORE);
    assert_contains(err.msg, "database '");
    hd_db_reset(s);
    assert_int_equal(hd_db_bind_int64(s, 1, 2, &err), 0);
    assert_int_equal(hd_db_step(s, &err), 0);
    hd_db_finalize(s);

    /* a ? inside quotes is text, not a parameter */
    assert_int_equal(hd_db_prepare(db,
                                   "SELECT id, r, s, b, n, '?' AS q FROM t WHERE id = ? AND "
                                   "s <> 'x?' ORDER BY id",
                                   &s, &err),
                     0);
    assert_int_equal(hd_db_ncols(s), 6);
    assert_string_equal(hd_db_col_name(s, 5), "q");
    assert_int_equal(hd_db_bind_int64(s, 1, 1, &err), 0);
    assert_int_equal(hd_db_step(s, &err), 1);
    hd_db_column(s, 0, &v);
    assert_int_equal(v.type, HD_DB_INT);
    assert_int_equal(v.i, 1);
    hd_db_column(s, 1, &v);
    assert_int_equal(v.type, HD_DB_REAL);
    assert_true(v.d == 0.1); /* exactly: 17 digits read back */
    assert_string_equal(hd_db_col_text(s, 2), "it's a '?'");
    hd_db_column(s, 3, &v);
    assert_int_equal(v.type, HD_DB_BLOB);
    assert_int_equal(v.len, sizeof blob);
    assert_memory_equal(v.p, blob, sizeof blob);
    hd_db_column(s, 4, &v);
    assert_int_equal(v.type, HD_DB_NULL);
    assert_string_equal(hd_db_col_text(s, 5), "?");
    assert_int_equal(hd_db_step(s, &err), 0);
    hd_db_finalize(s);

    /* SQLite's numbered ?NNN, one used twice */
    assert_int_equal(hd_db_prepare(db,
                                   "SELECT count(*) FROM t WHERE id >= ?1 AND id <= ?2 AND "
                                   "id <> ?1 + 10",
                                   &s, &err),
                     0);
    assert_int_equal(hd_db_bind_int64(s, 1, 1, &err), 0);
    assert_int_equal(hd_db_bind_int64(s, 2, 2, &err), 0);
    assert_int_equal(hd_db_step(s, &err), 1);
    assert_int_equal(hd_db_col_int64(s, 0), 2);
    hd_db_finalize(s);

    /* the rows a statement changed */
    assert_int_equal(hd_db_prepare(db, "UPDATE t SET n = ? WHERE id >= ?", &s, &err), 0);
    assert_int_equal(hd_db_bind_int64(s, 1, 7, &err), 0);
    assert_int_equal(hd_db_bind_int64(s, 2, 1, &err), 0);
    assert_int_equal(hd_db_step(s, &err), 0);
    assert_int_equal(hd_db_changes(s), 2);
    hd_db_reset(s);
    assert_int_equal(hd_db_bind_int64(s, 2, 5, &err), 0);
    assert_int_equal(hd_db_step(s, &err), 0);
    assert_int_equal(hd_db_changes(s), 0);
    hd_db_finalize(s);

    /* integers at their edges, read back by each engine's own reader
     * (on PostgreSQL from the text int8out writes) */
    static const int64_t ints[] = {0, 1, -1, 9, -10, 1234567890123, INT64_MAX, INT64_MIN};
    assert_int_equal(hd_db_prepare(db, "SELECT CAST(?1 AS bigint)", &s, &err), 0);
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        hd_db_reset(s);
        assert_int_equal(hd_db_bind_int64(s, 1, ints[i], &err), 0);
        assert_int_equal(hd_db_step(s, &err), 1);
        assert_true(hd_db_col_int64(s, 0) == ints[i]);
    }
    hd_db_finalize(s);

    /* a rolled-back transaction leaves nothing */
    int64_t n = 0;
    assert_int_equal(hd_db_begin(db, &err), 0);
    assert_int_equal(hd_db_exec(db, "INSERT INTO t (id) VALUES (3)", &err), 0);
    hd_db_rollback(db);
    assert_int_equal(hd_db_query_int64(db, "SELECT count(*) FROM t", &n, &err), 0);
    assert_int_equal(n, 2);
    hd_db_close(db);
}

static void test_pg_seam_sqlite(void **state)
{
    (void)state;
    char *p = tu_path(dir, "seam.db");
    seam_roundtrip(p);
    free(p);
}

static void test_pg_seam_postgresql(void **state)
{
    (void)state;
    char name[64], *uri = tu_pg_db(name);
    seam_roundtrip(uri);

    /* one statement at a time per connection: a second one waits its turn */
    struct hd_db *db = NULL;
    struct hd_db_stmt *a = NULL, *b = NULL;
    struct hd_err err = {0};
    assert_int_equal(hd_db_open(uri, NULL, false, &db, &err), 0);
    assert_int_equal(hd_db_prepare(db, "SELECT id FROM t ORDER BY id", &a, &err), 0);
    assert_int_equal(hd_db_prepare(db, "SELECT count(*) FROM t", &b, &err), 0);
    assert_int_equal(hd_db_step(a, &err), 1);
    assert_true(hd_db_step(b, &err) < 0);
    assert_contains(err.msg, "still being read");
    hd_db_reset(a);
    assert_int_equal(hd_db_step(b, &err), 1);
    assert_int_equal(hd_db_col_int64(b, 0), 2);
    hd_db_finalize(a);
    hd_db_finalize(b);

    /* the store's array literals, as PostgreSQL itself parses them */
    static const char *const texts[] = {"plain", "",          "a \"quoted\" word", "back\\slash",
                                        "\\\"",   "{braces}", "a,b",               " spaces ",
                                        NULL,      "NULL",     "\xe6\x97\xa5\xe6\x9c\xac"};
    enum { NT = sizeof texts / sizeof texts[0] };
    struct hd_buf arr;
    hd_buf_init(&arr);
    for (size_t i = 0; i < NT; i++)
        hd_store_arr_text(&arr, texts[i]);
    hd_buf_addc(&arr, '}');
    assert_int_equal(hd_db_prepare(db, "SELECT x FROM unnest(CAST(?1 AS text[])) AS x", &a, &err),
                     0);
    assert_int_equal(hd_db_bind_text(a, 1, arr.data, &err), 0);
    for (size_t i = 0; i < NT; i++) {
        assert_int_equal(hd_db_step(a, &err), 1);
        if (texts[i])
            assert_string_equal(hd_db_col_text(a, 0), texts[i]);
        else
            assert_true(hd_db_col_null(a, 0));
    }
    assert_int_equal(hd_db_step(a, &err), 0);
    hd_db_finalize(a);
    hd_buf_release(&arr);
    hd_db_close(db);
    tu_pg_drop(name);
    free(uri);
}

static void test_pg_redact(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"postgresql://ann:s3cret@db.example.com:5432/herald?sslmode=require",
         "postgresql://ann@db.example.com:5432/herald"},
        {"postgres://db/herald?user=ann&password=s3cret&sslmode=require",
         "postgres://ann@db/herald"},
        {"postgresql:///herald?host=/run/postgresql", "postgresql:///herald?host=/run/postgresql"},
        {"postgresql://ann@db/herald", "postgresql://ann@db/herald"},
        {"var/herald.db", "var/herald.db"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *r = hd_store_target_redact(cases[i].in);
        assert_string_equal(r, cases[i].out);
        free(r);
    }
    /* libpq reads the scheme in lower case only (test_pg_secret has more) */
    assert_false(hd_store_target_is_pg("POSTGRESQL://x/y"));
    assert_false(hd_store_target_is_pg("postgresql.db"));
}

/* ---- init ------------------------------------------------------------------ */

static void test_pg_schema_versions_match(void **state)
{
    (void)state;
    assert_int_equal(hd_store_pg_schema_version(), hd_store_schema_version());
}

static void test_pg_init_twice(void **state)
{
    (void)state;
    char name[64], *uri = tu_pg_db(name), want[64];
    struct tu_run r;
    conf("");
    snprintf(want, sizeof want, "(schema version %d)", hd_store_schema_version());
    tu_herald(&r, dir, NULL, "--db", uri, "init", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "created the herald schema in PostgreSQL database");
    assert_contains(r.out, want);
    tu_run_release(&r);
    snprintf(want, sizeof want, "already at schema version %d", hd_store_schema_version());
    tu_herald(&r, dir, NULL, "--db", uri, "init", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "up to date: PostgreSQL database");
    assert_contains(r.out, want);
    tu_run_release(&r);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "psql -X -At '%s' -c 'SELECT version FROM herald_schema' -c "
             "\"SELECT count(*) FROM pg_tables WHERE schemaname = 'public'\" -c "
             "\"SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal\"",
             uri);
    char *out = tu_sh(cmd), expect[64];
    /* 30 tables (29: hook_tokens) and herald_schema; consent's two
     * triggers and consent_log's */
    snprintf(expect, sizeof expect, "%d\n31\n3\n", hd_store_schema_version());
    assert_string_equal(out, expect);
    free(out);
    tu_pg_drop(name);
    free(uri);
}

/* ---- copy ------------------------------------------------------------------ */

/* A store with rows in every table: contacts sent a campaign through the
 * outbox, consent changes, a suppression, events, an API key, a console
 * user, and (by SQL, no gateway here) a receipt, a gateway id, a session,
 * a push token, the log's aggregates, a pause, a webhook cursor, a
 * webhook token taken and an inbox message. */
static void demo_store(void)
{
    conf("");
    tu_serve_store(dir,
                   "description: pg\ncategory: marketing\nfrom: Acme <hello@example.com>\n\n"
                   "--- email.subject\nHi {{ first_name }}\n--- email.text\nNews. "
                   "{{ unsubscribe_url }}\n",
                   "id,email,first_name,locale\nk1,k1@example.com,Ann,en\n"
                   "k2,k2@example.com,Bo,zh-CN\nk3,k3@example.com,Cy,en\n");
    TU_HERALD_OK(dir, "campaign", "create", "promo", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--now");
    TU_HERALD_OK(dir, "send", "promo");
    TU_HERALD_OK(dir, "contacts", "optout", "k2", "--channel", "sms");
    TU_HERALD_OK(dir, "suppress", "add", "gone@example.com", "--reason", "bounced");
    char *ev = tu_path(dir, "ev.csv"), *pw = tu_path(dir, "pw");
    tu_write(ev, "contact,event,time,value\nk1,purchase,2026-11-20T10:00:00Z,12.5\n"
                 "k2,login,2026-11-21T10:00:00Z,\n");
    tu_write(pw, "correct horse battery staple\n");
    TU_HERALD_OK(dir, "events", "import", "ev.csv");
    TU_HERALD_OK(dir, "apikey", "create", "shop", "--scope", "send", "--rate", "10/s");
    TU_HERALD_OK(dir, "user", "add", "ann", "--role", "admin", "--password-file", "pw");
    free(ev);
    free(pw);
    char cmd[2048];
    snprintf(
        cmd, sizeof cmd,
        "sqlite3 '%s/h.db' \"INSERT INTO receipts (provider, gateway_id, status, received_at, "
        "message_id, applied_at) VALUES ('outbox', 'g-1', 'delivered', 1763800000, 1, "
        "1763800001);"
        "INSERT INTO gateway_ids VALUES ('outbox', 'g-1', 1, 1763800000000);"
        "INSERT INTO push_tokens VALUES (1, 'fcm', 'tok-1', 1);"
        "INSERT INTO console_sessions VALUES (X'00ff10', 1, 1, 2, 'csrf');"
        "INSERT INTO log_totals VALUES (1, '', 'email', 'outbox', '2026-11-01', 'accepted', '', "
        "4, 7, 0, 0.25);"
        "INSERT INTO log_latency VALUES (1, '', 'email', 'outbox', '2026-11-01', 3, 7);"
        "INSERT INTO provider_pauses VALUES ('outbox', 0);"
        "INSERT INTO provider_rates VALUES ('outbox', 2.5, 1, 3);"
        "INSERT INTO hook_tokens VALUES "
        "('a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3', 1795349401);"
        "INSERT INTO webhooks (name, log_id, consent_id, created_ms) VALUES ('crm', 1, 1, 5);"
        "INSERT INTO inbox (contact_id, message_id, provider, title, created_at) VALUES (1, 99, "
        "'inbox', 'Hello ''you''', 1);"
        "INSERT INTO api_idempotency VALUES (1, 'idem-1', X'0102', 202, '{}', 1);"
        "INSERT INTO api_messages VALUES (98, 1, '{\\\"a\\\":1.5}', 1);\"",
        dir);
    free(tu_sh(cmd));
}

/* Every table of dir/db has at least one row. */
static void assert_full(const char *db)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && for t in $(sqlite3 %s \"SELECT name FROM sqlite_master WHERE type = "
             "'table'\"); do [ $(sqlite3 %s \"SELECT count(*) FROM $t\") -gt 0 ] || echo \"$t\"; "
             "done",
             dir, db, db);
    char *empty = tu_sh(cmd);
    assert_string_equal(empty, "");
    free(empty);
}

static char *dump(const char *db)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sqlite3 '%s/%s' .dump", dir, db);
    return tu_sh(cmd);
}

static void test_pg_copy_roundtrip(void **state)
{
    (void)state;
    char name[64], *uri = tu_pg_db(name);
    struct tu_run r;
    demo_store();
    assert_full("h.db");
    /* the target's schema is made by the copy */
    tu_herald(&r, dir, NULL, "db", "copy", "--batch", "2", "h.db", uri, NULL);
    if (r.status != 0)
        fail_msg("copy to PostgreSQL: %s%s", r.out, r.err);
    assert_contains(r.out, "the target's schema created");
    assert_contains(r.out, "every table's row count matches");
    assert_contains(r.out, "  consent_log ");
    assert_contains(r.out, "  hook_tokens ");
    tu_run_release(&r);
    /* the webhook's cursor passes on PostgreSQL the rows it passed here
     * (its transactions are the copy's, set to its last row's) */
    static const char *const past[][2] = {
        {"SELECT count(*) FROM attempts WHERE id > 1",
         "SELECT count(*) FROM attempts a, webhooks w WHERE (a.xact_id, a.id) > (w.log_xact, "
         "w.log_id)"},
        {"SELECT count(*) FROM consent_log WHERE id > 1",
         "SELECT count(*) FROM consent_log l, webhooks w WHERE (l.xact_id, l.id) > "
         "(w.consent_xact, w.consent_id)"},
    };
    for (int i = 0; i < 2; i++) {
        int64_t lite = tu_sql1(dir, "h.db", past[i][0]);
        assert_true(lite > 0);
        assert_int_equal(tu_sql1(dir, uri, past[i][1]), lite);
    }
    assert_true(tu_sql1(dir, uri, "SELECT min(log_xact) FROM webhooks") > 0);
    tu_herald(&r, dir, NULL, "db", "copy", uri, "back.db", NULL);
    if (r.status != 0)
        fail_msg("copy back to SQLite: %s%s", r.out, r.err);
    tu_run_release(&r);
    char *a = dump("h.db"), *b = dump("back.db");
    assert_string_equal(a, b);
    assert_contains(a, "X'00ff10'");
    free(a);
    free(b);

    /* the identity sequences are past the copied ids */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "psql -X -At '%s' -c \"INSERT INTO contacts (ext_id, created_at, updated_at) VALUES "
             "('k4', 0, 0) RETURNING id\" | head -1",
             uri);
    char *id = tu_sh(cmd);
    assert_string_equal(id, "4\n");
    free(id);
    tu_pg_drop(name);
    free(uri);
}

/* A PostgreSQL webhook cursor is a (transaction, row) pair: the row a
 * transaction younger than the cursor's wrote may have the lower id
 * (here row 2, whose transaction is made the youngest by hand). A copy
 * takes the cursor out as the rows at or below which all were passed
 * (1), so row 2 comes again, never lost (and row 3 once more), into a
 * SQLite file and into another PostgreSQL database, where the pair is
 * that of row 1 under the copy's own transactions. */
static void test_pg_copy_webhook_cursor(void **state)
{
    (void)state;
    char name[64], to_name[64], *uri = tu_pg_db(name), *to = tu_pg_db(to_name);
    conf("");
    TU_HERALD_OK(dir, "--db", uri, "init");
    for (int i = 0; i < 4; i++) /* each its own transaction */
        free(tu_sql_text(dir, uri,
                         "INSERT INTO attempts (message_id, attempt, at, outcome) VALUES (1, 1, "
                         "1000, 'accepted')"));
    free(tu_sql_text(dir, uri,
                     "UPDATE attempts SET xact_id = (SELECT max(xact_id) + 1 FROM attempts) "
                     "WHERE id = 2; INSERT INTO webhooks (name, log_id, consent_id, created_ms, "
                     "log_xact) SELECT 'w', 3, 0, 5, xact_id FROM attempts WHERE id = 3"));
    assert_int_equal(tu_sql1(dir, uri,
                             "SELECT count(*) FROM attempts a, webhooks w WHERE (a.xact_id, a.id) "
                             "> (w.log_xact, w.log_id)"),
                     2); /* rows 2 and 4 */
    TU_HERALD_OK(dir, "db", "copy", uri, "back.db");
    assert_int_equal(tu_sql1(dir, "back.db", "SELECT log_id FROM webhooks"), 1);
    TU_HERALD_OK(dir, "db", "copy", uri, to);
    assert_int_equal(tu_sql1(dir, to, "SELECT log_id FROM webhooks"), 1);
    assert_int_equal(tu_sql1(dir, to,
                             "SELECT count(*) FROM attempts a, webhooks w WHERE (a.xact_id, a.id) "
                             "> (w.log_xact, w.log_id)"),
                     3); /* rows 2, 3 and 4 */
    assert_int_equal(tu_sql1(dir, to,
                             "SELECT count(*) FROM webhooks w, attempts a WHERE a.id = 1 AND "
                             "w.log_xact = a.xact_id AND a.xact_id > 0"),
                     1);
    tu_pg_drop(name);
    tu_pg_drop(to_name);
    free(uri);
    free(to);
}

static void test_pg_copy_refuses_rows(void **state)
{
    (void)state;
    char name[64], *uri = tu_pg_db(name), cmd[1024];
    struct tu_run r;
    demo_store();
    TU_HERALD_OK(dir, "db", "copy", "h.db", uri);
    snprintf(cmd, sizeof cmd, "psql -X -At '%s' -c 'SELECT count(*) FROM messages'", uri);
    char *before = tu_sh(cmd);
    tu_herald(&r, dir, NULL, "db", "copy", "h.db", uri, NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "is not empty (table 'attributes' has");
    assert_contains(r.err, "nothing was written");
    tu_run_release(&r);
    char *after = tu_sh(cmd);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* a SQLite target with rows too */
    tu_herald(&r, dir, NULL, "db", "copy", uri, "h.db", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "the target 'h.db' is not empty");
    tu_run_release(&r);
    /* a PostgreSQL database with tables of another application */
    char other[64], *ouri = tu_pg_db(other);
    snprintf(cmd, sizeof cmd, "psql -X -q '%s' -c 'CREATE TABLE orders (id int)'", ouri);
    free(tu_sh(cmd));
    tu_herald(&r, dir, NULL, "db", "copy", "h.db", ouri, NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "has tables but not herald's");
    tu_run_release(&r);
    snprintf(cmd, sizeof cmd,
             "psql -X -At '%s' -c 'SELECT count(*) FROM pg_tables WHERE "
             "schemaname = current_schema()'",
             ouri);
    char *n = tu_sh(cmd);
    assert_string_equal(n, "1\n");
    free(n);
    tu_pg_drop(other);
    free(ouri);
    /* a source that is not there */
    tu_herald(&r, dir, NULL, "db", "copy", "nothere.db", uri, NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "the source 'nothere.db' does not exist");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "db", "copy", "h.db", NULL);
    assert_int_equal(r.status, 2);
    tu_run_release(&r);
    tu_pg_drop(name);
    free(uri);
}

/* A value PostgreSQL refuses (text where SQLite kept it in an INTEGER
 * column): the copy stops naming the table and the row. */
static void test_pg_copy_bad_row(void **state)
{
    (void)state;
    char name[64], *uri = tu_pg_db(name), cmd[512];
    struct tu_run r;
    demo_store();
    snprintf(cmd, sizeof cmd,
             "sqlite3 '%s/h.db' \"UPDATE contacts SET created_at = 'soon' WHERE "
             "id = 2\"",
             dir);
    free(tu_sh(cmd));
    tu_herald(&r, dir, NULL, "db", "copy", "--batch", "1", "h.db", uri, NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "copying table 'contacts': row id 2: ");
    assert_contains(r.err, "invalid input syntax for type bigint");
    assert_contains(r.err, "(the target was emptied again: nothing of the copy is left)");
    tu_run_release(&r);
    /* nothing of it is left (row 1 and the tables before contacts were
     * committed), and init's instance is back: the same target takes the
     * copy once the row is fixed */
    snprintf(cmd, sizeof cmd,
             "psql -X -At '%s' -c \"SELECT (SELECT count(*) FROM contacts) + (SELECT count(*) "
             "FROM segments) || ' ' || (SELECT value FROM meta WHERE key = 'instance')\"; "
             "sqlite3 '%s/h.db' \"SELECT value FROM meta WHERE key = 'instance'\"",
             uri, dir);
    char *left = tu_sh(cmd), *source = strchr(left, '\n');
    assert_non_null(source);
    *source++ = '\0';
    assert_true(strncmp(left, "0 ", 2) == 0);
    assert_true(strlen(left) > 2 && strcmp(left + 2, "") != 0);
    assert_string_not_equal(left + 2, source); /* not the source's instance */
    free(left);
    snprintf(cmd, sizeof cmd, "sqlite3 '%s/h.db' \"UPDATE contacts SET created_at = 1 WHERE id = 2\"",
             dir);
    free(tu_sh(cmd));
    tu_herald(&r, dir, NULL, "db", "copy", "--batch", "1", "h.db", uri, NULL);
    if (r.status != 0)
        fail_msg("copy after the failed one: %s", r.err);
    tu_run_release(&r);
    snprintf(cmd, sizeof cmd, "sqlite3 '%s/h.db' \"UPDATE contacts SET created_at = 'soon' WHERE id = 2\"",
             dir);
    free(tu_sh(cmd));
    /* in chunks: the chunk's first and last rows */
    tu_pg_drop(name);
    free(uri);
    uri = tu_pg_db(name);
    tu_herald(&r, dir, NULL, "db", "copy", "h.db", uri, NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "copying table 'contacts': one of the rows id 1 to id 3: ");
    tu_run_release(&r);
    tu_pg_drop(name);
    free(uri);
}

/* Ctrl-C during a copy: undone as a failure is, and the same command then
 * runs (an interrupted copy was left half-written and refused when run
 * again: a review found it). */
static void test_pg_copy_interrupted(void **state)
{
    (void)state;
    char name[64], *uri = tu_pg_db(name), cmd[512];
    struct tu_run r;
    demo_store();
    /* enough contacts that a row a transaction takes seconds */
    struct hd_buf csv;
    hd_buf_init(&csv);
    hd_buf_adds(&csv, "id,email\n");
    for (int i = 0; i < 20000; i++)
        hd_buf_addf(&csv, "x%d,x%d@example.com\n", i, i);
    char *cp = tu_path(dir, "many.csv");
    tu_write(cp, csv.data);
    free(cp);
    hd_buf_release(&csv);
    TU_HERALD_OK(dir, "contacts", "import", "many.csv");
    const char *const argv[] = {"db", "copy", "--batch", "1", "h.db", uri, NULL};
    pid_t pid = tu_herald_spawn(dir, "copy.out", argv);
    /* no table yet before the copy makes the schema: 0 */
    snprintf(cmd, sizeof cmd,
             "psql -X -At '%s' -c 'SELECT count(*) FROM contacts' 2>/dev/null || echo 0", uri);
    int64_t seen = 0;
    for (int i = 0; i < 600 && seen < 10; i++) {
        char *n = tu_sh(cmd);
        seen = strtoll(n, NULL, 10);
        free(n);
        struct timespec nap = {0, 20 * 1000000L};
        nanosleep(&nap, NULL);
    }
    if (seen < 10) {
        char *op0 = tu_path(dir, "copy.out"), *o0 = tu_read(op0);
        fail_msg("the copy did not get under way: %s", o0 ? o0 : "");
    } /* under way, rows of it committed */
    kill(pid, SIGINT);
    int st = 0;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    char *op = tu_path(dir, "copy.out"), *out = tu_read(op);
    assert_contains(out, "interrupted");
    assert_contains(out, "(the target was emptied again: nothing of the copy is left)");
    free(out);
    free(op);
    char *n = tu_sh(cmd);
    assert_int_equal(strtoll(n, NULL, 10), 0);
    free(n);
    tu_herald(&r, dir, NULL, "db", "copy", "h.db", uri, NULL);
    if (r.status != 0)
        fail_msg("copy after the interrupted one: %s", r.err);
    tu_run_release(&r);
    tu_pg_drop(name);
    free(uri);
}

/* ---- connections, passwords, the other commands ---------------------------- */

static void test_pg_bad_uri_hides_password(void **state)
{
    (void)state;
    struct tu_run r;
    conf("");
    const char *bad = "postgresql://ann:s3cretpw@/nodb?host=/nonexistent-herald&port=5432";
    /* on a command line (which ps shows) it is refused */
    tu_herald(&r, dir, NULL, "--db", bad, "init", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "--db: the password must not be written in the URI");
    assert_not_contains(r.err, "s3cretpw");
    assert_not_contains(r.out, "s3cretpw");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "db", "copy", bad, "x.db", NULL);
    assert_int_equal(r.status, 2);
    assert_not_contains(r.err, "s3cretpw");
    tu_run_release(&r);
    /* a connection's error names the target as libpq parsed it */
    tu_herald(&r, dir, NULL, "--db", "postgresql://ann@/nodb?host=/nonexistent-herald&port=5432",
              "init", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "cannot connect");
    assert_contains(r.err, "'postgresql://ann@:5432/nodb?host=/nonexistent-herald'");
    /* on one line: libpq's "...\n\tIs the server running..." folded */
    assert_int_equal(strcspn(r.err, "\n\t"), strlen(r.err) - 1);
    assert_contains(r.err, "directory Is the server running");
    tu_run_release(&r);
    /* written in the configuration it is refused, with its line */
    conf("database_password_env = NO_SUCH_VAR_HERALD\n");
    tu_herald(&r, dir, NULL, "init", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "database_password_env: environment variable 'NO_SUCH_VAR_HERALD' is "
                           "not set");
    tu_run_release(&r);
    conf("database_password_env = HOME\ndatabase_password_file = pw\n");
    tu_herald(&r, dir, NULL, "init", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "h.conf:5");
    assert_contains(r.err, "give either database_password_env or database_password_file, not both");
    tu_run_release(&r);
    char text[512], *p = tu_path(dir, "h.conf");
    snprintf(text, sizeof text, "[herald]\ndatabase = %s\n", bad);
    tu_write(p, text);
    free(p);
    tu_herald(&r, dir, NULL, "init", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "h.conf:2");
    assert_contains(r.err, "the password must not be written in the URI");
    assert_not_contains(r.err, "s3cretpw");
    tu_run_release(&r);
}

static void test_pg_password_file(void **state)
{
    (void)state;
    char name[64], *uri, sql[256], base[512], text[1024];
    struct tu_run r;
    /* herald_pw must log in with its password (pgserver.sh's pg_hba.conf) */
    tu_pg_admin("DROP ROLE IF EXISTS herald_pw");
    tu_pg_admin("CREATE ROLE herald_pw LOGIN PASSWORD 'pw-Zq81x'");
    free(tu_pg_db(name));
    snprintf(sql, sizeof sql, "ALTER DATABASE %s OWNER TO herald_pw", name);
    tu_pg_admin(sql);
    uri = tu_pg_uri(name);
    /* the same URI as the role herald_pw */
    snprintf(base, sizeof base, "%.*s", (int)(strstr(uri, "user=") - uri), uri);
    snprintf(text, sizeof text, "[herald]\ndatabase = %suser=herald_pw\n", base);
    char *p = tu_path(dir, "h.conf"), *pw = tu_path(dir, "pgpw");
    tu_write(p, text);
    tu_herald(&r, dir, NULL, "init", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "cannot connect");
    tu_run_release(&r);
    tu_write(pw, "pw-Zq81x\n");
    snprintf(text, sizeof text,
             "[herald]\ndatabase = %suser=herald_pw\ndatabase_password_file = pgpw\n"
             "[serve]\nsecret_file = var/herald.secret\n",
             base);
    tu_write(p, text);
    tu_herald(&r, dir, NULL, "init", NULL);
    if (r.status != 0)
        fail_msg("init with the password file: %s", r.err);
    assert_contains(r.out, "created the herald schema");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "config", NULL);
    assert_not_contains(r.out, "pw-Zq81x");
    tu_run_release(&r);
    /* the service's connections log in with it too (they had none, and
     * /readyz, /metrics, links and the API answered 503: a review) */
    char *tpl = tu_path(dir, "templates"), *src = tu_src_path("templates"), cmd[512];
    assert_int_equal(symlink(src, tpl), 0);
    int port = 0;
    pid_t srv = tu_serve_start(dir, "127.0.0.1:0", &port);
    static const char *const paths[] = {"/readyz", "/metrics"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d%s",
                 port, paths[i]);
        char *code = tu_sh(cmd);
        if (strcmp(code, "200") != 0)
            fail_msg("%s with the password file: %s", paths[i], code);
        free(code);
    }
    assert_int_equal(tu_serve_stop(srv), 0);
    unlink(tpl);
    free(tpl);
    free(src);
    tu_write(pw, "wrong\n");
    tu_herald(&r, dir, NULL, "init", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "password authentication failed");
    tu_run_release(&r);
    free(p);
    free(pw);
    tu_pg_drop(name);
    tu_pg_admin("DROP ROLE herald_pw");
    free(uri);
}

/* What only SQLite has (a WAL to write back, a pause file beside the
 * database) answers on PostgreSQL through the one refusal helper, never
 * touching the missing handle; the read side of an empty store works. */
static void test_pg_other_commands_refused(void **state)
{
    (void)state;
    char name[64], *uri = tu_pg_db(name);
    struct tu_run r;
    struct hd_store *st = NULL;
    struct hd_err err = {0};
    conf("");
    TU_HERALD_OK(dir, "--db", uri, "init");
    if (hd_store_open(uri, NULL, &st, &err) < 0)
        fail_msg("opening %s: %s", uri, err.msg);
    assert_int_equal(hd_store_checkpoint(st, &err), HD_E_USAGE);
    assert_contains(err.msg, "a checkpoint is not available on PostgreSQL");
    hd_store_free(st);
    tu_herald(&r, dir, NULL, "--db", uri, "log", "--format", "json", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "[]\n");
    tu_run_release(&r);
    tu_pg_drop(name);
    free(uri);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pg_seam_sqlite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_seam_postgresql, setup, teardown),
        cmocka_unit_test(test_pg_redact),
        cmocka_unit_test(test_pg_schema_versions_match),
        cmocka_unit_test_setup_teardown(test_pg_init_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_copy_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_copy_webhook_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_copy_refuses_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_copy_bad_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_copy_interrupted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_bad_uri_hides_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_password_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_other_commands_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
