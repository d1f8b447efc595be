/* test_pg_audit: the demo's audit commands on PostgreSQL (issue 23, stage
 * 2). A store is built as scripts/demo.sh builds it (the example
 * configuration and templates, the 500 sample contacts, an opt-out and
 * suppressions, the lifecycle segments, a campaign with A/B variants and a
 * 10% holdout sent through the outbox, purchases after it), plus by SQL what
 * the demo has no way to make here: a failed attempt, a receipt stamped
 * before the attempt it reports on (listed after it for a contact: the
 * log's order by greatest()), the pruned log's totals and latencies, and
 * console actions. `herald db copy` takes it to a
 * fresh PostgreSQL database; then every read command of the audit (log
 * with each filter, stats and its groupings and goal, history, why,
 * campaign list and show, contacts show and list, segment list, suppress
 * list, audit actions), in
 * every format, must print the same bytes and exit alike on both engines.
 * A write command on PostgreSQL says it is not available yet, and writes
 * nothing; a database without herald's schema or at another version is
 * refused, not migrated. The server is the suite's (HERALD_TEST_PG) or one started here. */
#include "testnet.h"

#include "herald/store.h"

static char *dir, *uri;
static char dbname[64];

static void demo(const char *const *argv)
{
    struct tu_run r;
    const char *a[32] = {tu_herald_bin()};
    size_t n = 1;
    while (argv[n - 1] && n < 31)
        a[n] = argv[n - 1], n++;
    a[n] = NULL;
    tu_exec(&r, dir, NULL, a);
    if (r.status != 0)
        fail_msg("herald %s %s: %s%s", argv[0], argv[1] ? argv[1] : "", r.out, r.err);
    tu_run_release(&r);
}

#define DEMO(...) demo((const char *const[]){__VA_ARGS__, NULL})

/* scripts/demo.sh's steps that make rows, in a folder of the test's */
static void build(void)
{
    char *conf = tu_src_path("etc/herald.conf"), *tpl = tu_src_path("templates");
    char *link = tu_path(dir, "templates"), *csv = tu_src_path("examples/contacts.csv");
    setenv("HERALD_CONFIG", conf, 1);
    assert_int_equal(symlink(tpl, link), 0);
    DEMO("init");
    DEMO("contacts", "import", csv, "--default-region", "CN");
    DEMO("contacts", "optout", "c0002", "--channel", "sms", "--category", "marketing");
    DEMO("suppress", "add", "abigail.1@example.com", "--reason", "unsubscribed");
    DEMO("suppress", "add", "+44 7700 900684", "--reason", "invalid_number");
    DEMO("segment", "define", "new_users", "created_at > now - 30d");
    DEMO("segment", "define", "churned", "days_since(last_active) > 30");
    DEMO("segment", "define", "recall_gold",
         "in_segment(\"churned\") and plan in (\"gold\", \"platinum\") and reachable(email)");
    DEMO("campaign", "create", "recall-nov", "--segment", "churned", "--template", "recall",
         "--channels", "email,push,sms", "--variants", "a=50,b=50", "--holdout", "10", "--expires",
         "2d", "--now");
    DEMO("campaign", "create", "later", "--segment", "recall_gold", "--template", "renewal",
         "--channels", "email", "--at", "2026-12-01T10:00:00Z");
    DEMO("send", "recall-nov");
    char *ev = tu_path(dir, "events.csv");
    tu_write(ev, "contact,event,time,value\nc0357,purchase,2026-11-24T10:00:00Z,49.90\n"
                 "c0458,purchase,2026-11-24T10:00:00Z,12.50\nc0488,purchase,"
                 "2026-11-23T10:00:00Z,49.90\n");
    DEMO("events", "import", "events.csv");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "sqlite3 '%s/var/herald.db' \"INSERT INTO attempts (message_id, run_id, "
             "contact_id, campaign_id, attempt, state, code, at, done_at, variant, channel, "
             "provider, address, outcome, reason, text) SELECT id, run_id, contact_id, 1, 2, "
             "5, 554, 1795338001000, 1795338001250, variant, 'email', 'outbox', 'x@example.com', "
             "'permanent', 'rejected', 'mailbox unavailable' FROM messages ORDER BY id LIMIT 1;"
             "INSERT INTO attempts (message_id, run_id, contact_id, campaign_id, attempt, "
             "state, code, at, channel, provider, outcome, text) SELECT m.id, m.run_id, "
             "m.contact_id, 1, 1, 3, 0, (SELECT min(at) FROM attempts WHERE message_id = m.id) - "
             "5000, 'email', 'outbox', 'receipt', 'delivered' FROM messages m JOIN contacts c ON "
             "c.id = m.contact_id WHERE c.ext_id = 'c0357' AND m.state = 2;"
             "INSERT INTO log_totals VALUES (1, 'a', 'email', 'outbox', '2026-11-01', "
             "'accepted', '', 2, 7, 0, 0.25);"
             "INSERT INTO log_latency VALUES (1, 'a', 'email', 'outbox', '2026-11-01', 130, 7);"
             "INSERT INTO audit_actions (at, who, action, detail, addr) VALUES "
             "(1795338000000, 'ann', 'campaign.pause', 'recall-nov', '127.0.0.1'), "
             "(1795338060000, 'bo', 'login', NULL, '::1'), "
             "(1795338060000, 'ann', 'segment.define', 'vip: plan = \\\"gold\\\"', NULL);\"",
             dir);
    free(tu_sh(cmd));
    free(ev);
    free(conf);
    free(tpl);
    free(link);
    free(csv);
}

static int setup(void **state)
{
    (void)state;
    struct tu_run r;
    dir = tu_tmpdir();
    setenv("HERALD_NOW", "2026-11-22T09:00:00Z", 1);
    unsetenv("PGPASSWORD");
    uri = tu_pg_db(dbname);
    build();
    tu_herald(&r, dir, NULL, "db", "copy", "var/herald.db", uri, NULL);
    if (r.status != 0)
        fail_msg("copy to PostgreSQL: %s%s", r.out, r.err);
    assert_contains(r.out, "every table's row count matches");
    tu_run_release(&r);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_pg_drop(dbname);
    free(uri);
    tu_rmdir(dir);
    dir = NULL;
    return 0;
}

/* Runs herald argv (NULL-terminated) on SQLite, then with --db on
 * PostgreSQL: the same exit status, the same bytes on stdout. */
static void same(const char *const *argv, const char *format)
{
    struct tu_run lite, pg;
    const char *a[40] = {tu_herald_bin()}, *b[40] = {tu_herald_bin(), "--db", uri};
    size_t n = 0;
    for (; argv[n] && n < 34; n++)
        a[n + 1] = argv[n], b[n + 3] = argv[n];
    if (format)
        a[n + 1] = b[n + 3] = "--format", a[n + 2] = b[n + 4] = format, n += 2;
    a[n + 1] = b[n + 3] = NULL;
    tu_exec(&lite, dir, NULL, a);
    tu_exec(&pg, dir, NULL, b);
    /* jsonl is not every command's: then both must refuse it alike */
    bool no_jsonl = format && strcmp(format, "jsonl") == 0 && lite.status == 2 &&
                    strstr(lite.err, "--format: 'jsonl'");
    if (lite.status != 0 && !no_jsonl)
        fail_msg("herald %s on SQLite: %s", argv[0], lite.err);
    if (pg.status != lite.status || strcmp(pg.out, lite.out) != 0)
        fail_msg("herald %s %s %s (--format %s) differs on PostgreSQL (status %d, SQLite %d):\n"
                 "--- SQLite\n%s\n--- PostgreSQL\n%s%s",
                 argv[0], argv[1] ? argv[1] : "", argv[1] && argv[2] ? argv[2] : "",
                 format ? format : "-", pg.status, lite.status, lite.out, pg.out, pg.err);
    if (no_jsonl)
        assert_string_equal(pg.err, lite.err);
    else if (!format || strcmp(format, "jsonl") != 0) /* jsonl of no rows is empty */
        assert_true(lite.out[0] != '\0');             /* the comparison compared something */
    tu_run_release(&lite);
    tu_run_release(&pg);
}

#define SAME(...)                                                                                  \
    for (size_t f_ = 0; f_ < 4; f_++)                                                              \
        same((const char *const[]){__VA_ARGS__, NULL}, formats[f_]);

static const char *const formats[] = {NULL, "csv", "json", "jsonl"};

/* the first contact of the log with that outcome or reason */
static char *contact_of(const char *flag, const char *value)
{
    struct tu_run r;
    tu_herald(&r, dir, NULL, "log", "--campaign", "recall-nov", flag, value, "--limit", "1",
              "--format", "csv", NULL);
    assert_int_equal(r.status, 0);
    char *line = strchr(r.out, '\n');
    assert_non_null(line);
    char *c = line + 1;
    for (int i = 0; i < 4 && c; i++)
        c = strchr(c, ',') ? strchr(c, ',') + 1 : NULL;
    assert_non_null(c);
    char *id = hd_xstrndup(c, strcspn(c, ","));
    tu_run_release(&r);
    return id;
}

static void test_pg_audit_log(void **state)
{
    (void)state;
    struct tu_run r;
    /* the receipt is there, listed after the attempt it reports on */
    tu_herald(&r, dir, NULL, "--db", uri, "log", "--contact", "c0357", "--oldest-first", "--format",
              "csv", NULL);
    assert_int_equal(r.status, 0);
    char *acc = strstr(r.out, ",accepted,"), *rec = strstr(r.out, ",receipt,");
    assert_non_null(acc);
    assert_non_null(rec);
    assert_true(acc < rec);
    tu_run_release(&r);
    SAME("log");
    SAME("log", "--campaign", "recall-nov", "--limit", "8");
    SAME("log", "--campaign", "recall-nov", "--oldest-first");
    SAME("log", "--contact", "c0357");
    SAME("log", "--channel", "email", "--limit", "20");
    SAME("log", "--outcome", "skipped", "--limit", "4");
    SAME("log", "--outcome", "permanent");
    SAME("log", "--since", "2026-11-22T09:00:00Z", "--until", "2026-11-22T09:00:01Z");
    SAME("log", "--since", "2026-11-22T09:00:00.030Z", "--limit", "5");
}

static void test_pg_audit_stats(void **state)
{
    (void)state;
    SAME("stats", "recall-nov");
    SAME("stats", "recall-nov", "--by", "channel");
    SAME("stats", "recall-nov", "--by", "variant");
    SAME("stats", "recall-nov", "--by", "provider");
    SAME("stats", "recall-nov", "--by", "day");
    SAME("stats", "recall-nov", "--goal", "purchase", "--window", "7d");
    SAME("stats", "later");
}

static void test_pg_audit_contacts(void **state)
{
    (void)state;
    char *sent = contact_of("--outcome", "accepted"), *held = contact_of("--reason", "held_out");
    char *skipped = contact_of("--outcome", "skipped");
    const char *const who[] = {sent, held, skipped, "c0002", "c0357", "c0001"};
    for (size_t i = 0; i < sizeof who / sizeof who[0]; i++) {
        SAME("history", who[i]);
        SAME("why", who[i], "recall-nov");
        SAME("contacts", "show", who[i]);
    }
    free(sent);
    free(held);
    free(skipped);
}

static void test_pg_audit_lists(void **state)
{
    (void)state;
    SAME("campaign", "list");
    SAME("campaign", "show", "recall-nov");
    SAME("campaign", "show", "later");
    SAME("segment", "list");
    SAME("audit", "actions");
    SAME("audit", "actions", "--limit", "2");
    SAME("suppress", "list");
    SAME("contacts", "list");
    SAME("contacts", "list", "--limit", "5");
}

/* The one write here, last but one (the schema test after it reads no
 * log): `log prune` on both stores answers alike, and the log and the
 * statistics it leaves (its rows folded into the totals) are the same. */
static void test_pg_audit_prune(void **state)
{
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "psql -X -At '%s' -c \"SELECT count(*) FROM attempts\"", uri);
    char *before = tu_sh(cmd);
    setenv("HERALD_NOW", "2026-12-22T09:00:00Z", 1); /* a month after the demo's sends */
    same((const char *const[]){"log", "prune", "--older-than", "20d", NULL}, NULL);
    setenv("HERALD_NOW", "2026-11-22T09:00:00Z", 1);
    char *after = tu_sh(cmd);
    assert_string_not_equal(before, after); /* there was something to prune */
    free(before);
    free(after);
    SAME("stats", "recall-nov");
    SAME("stats", "recall-nov", "--by", "day");
    SAME("stats", "recall-nov", "--by", "provider");
}

/* The store opens a PostgreSQL database without migrating it: one without
 * herald's schema, or at another version, is refused, named, and left as
 * it was. */
static void test_pg_audit_schema_version(void **state)
{
    (void)state;
    char name[64], *other = tu_pg_db(name), cmd[1024], want[96];
    struct tu_run r;
    tu_herald(&r, dir, NULL, "--db", other, "log", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "has no herald schema: run 'herald init' first");
    tu_run_release(&r);
    TU_HERALD_OK(dir, "--db", other, "init");
    snprintf(cmd, sizeof cmd, "psql -X -q '%s' -c 'UPDATE herald_schema SET version = version - 1'",
             other);
    free(tu_sh(cmd));
    tu_herald(&r, dir, NULL, "--db", other, "campaign", "list", NULL);
    assert_int_equal(r.status, 1);
    snprintf(want, sizeof want, "has schema version %d, this herald needs %d: run 'herald init'",
             hd_store_schema_version() - 1, hd_store_schema_version());
    assert_contains(r.err, want);
    tu_run_release(&r);
    snprintf(cmd, sizeof cmd, "psql -X -At '%s' -c 'SELECT version FROM herald_schema'", other);
    char *out = tu_sh(cmd);
    assert_int_equal(atoi(out), hd_store_schema_version() - 1); /* not migrated by the open */
    free(out);
    tu_pg_drop(name);
    free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_audit_log),
        cmocka_unit_test(test_pg_audit_stats),
        cmocka_unit_test(test_pg_audit_contacts),
        cmocka_unit_test(test_pg_audit_lists),
        cmocka_unit_test(test_pg_audit_prune),
        cmocka_unit_test(test_pg_audit_schema_version),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
