/* test_pg_audience: the audience's commands on PostgreSQL (issue 23,
 * stage 3). The same sequence of commands (imports of CSV and JSON Lines
 * with attributes, push tokens, a bad line, merges and a replace;
 * suppressions added and removed; opt-outs; segments defined, counted,
 * sampled, exported, listed and deleted with rules on attributes, dates,
 * days_since, in, text tests, reachable() and events; events imported and
 * RFM scores stored and taken off; contacts shown, listed and deleted)
 * runs on a fresh SQLite store and on a fresh PostgreSQL store (`herald
 * init`): stdout, stderr and the exit status must be the same bytes (an
 * import's timing aside). Then `herald db copy` takes both to SQLite
 * files, whose `sqlite3 .dump` of the tables these commands write (ids
 * included) must be equal, consent_log's rows (the triggers' on
 * PostgreSQL) too. An SMS reply's opt-out by phone, through the library,
 * alike.
 *
 * The rule compiler's PostgreSQL dialect is checked against SQLite's on
 * the same data: the demo's contacts and events, copied to PostgreSQL,
 * and a few hundred random rules over every kind of condition, whose
 * counts and members (by id) must agree. test_segment checks SQLite's
 * against an independent evaluator, so both mean the same. The server is
 * the suite's (HERALD_TEST_PG) or one started here. */
#include "testnet.h"

#include "herald/segast.h"
#include "herald/segment.h"
#include "herald/store.h"

#define NOW_ISO "2026-11-22T09:00:00Z"
#define NOW 1795338000 /* NOW_ISO */

static char *dir, *uri;
static char dbname[64];

/* An import's summary ends with its time and speed, which differ. */
static void untime(char *s)
{
    char *p;
    while ((p = strstr(s, " rejected in "))) {
        char *end = strstr(p, "rows/s)");
        if (!end)
            break;
        p += strlen(" rejected");
        memmove(p, end + strlen("rows/s)"), strlen(end + strlen("rows/s)")) + 1);
    }
}

/* Runs herald argv on the SQLite store, then with --db on PostgreSQL:
 * the same exit status and bytes. want: the status SQLite must give. */
static void same_as(int want, const char *const *argv)
{
    struct tu_run lite, pg;
    const char *a[40] = {tu_herald_bin()}, *b[40] = {tu_herald_bin(), "--db", uri};
    size_t n = 0;
    for (; argv[n] && n < 34; n++)
        a[n + 1] = argv[n], b[n + 3] = argv[n];
    a[n + 1] = b[n + 3] = NULL;
    tu_exec(&lite, dir, NULL, a);
    tu_exec(&pg, dir, NULL, b);
    untime(lite.out), untime(pg.out), untime(lite.err), untime(pg.err);
    if (lite.status != want)
        fail_msg("herald %s %s on SQLite: status %d, not %d: %s%s", argv[0], argv[1] ? argv[1] : "",
                 lite.status, want, lite.out, lite.err);
    if (pg.status != lite.status || strcmp(pg.out, lite.out) != 0 || strcmp(pg.err, lite.err) != 0)
        fail_msg("herald %s %s %s differs on PostgreSQL (status %d, SQLite %d):\n"
                 "--- SQLite\n%s%s\n--- PostgreSQL\n%s%s",
                 argv[0], argv[1] ? argv[1] : "", argv[1] && argv[2] ? argv[2] : "", pg.status,
                 lite.status, lite.out, lite.err, pg.out, pg.err);
    assert_true(lite.out[0] || lite.err[0]); /* the comparison compared something */
    tu_run_release(&lite);
    tu_run_release(&pg);
}

#define SAME(...) same_as(0, (const char *const[]){__VA_ARGS__, NULL})
#define SAME_FAIL(status, ...) same_as(status, (const char *const[]){__VA_ARGS__, NULL})

/* Writes text to the file name in the test's folder. */
static void put(const char *name, const char *text)
{
    char *path = tu_path(dir, name);
    tu_write(path, text);
    free(path);
}

/* text's lines sorted (through a file of the test's folder). */
static char *sorted(const char *text)
{
    char cmd[512];
    put("sort.txt", text);
    snprintf(cmd, sizeof cmd, "LC_ALL=C sort '%s/sort.txt'", dir);
    return tu_sh(cmd);
}

/* `segment sample` picks at random: the same members, in any order. */
static void same_sample(const char *name, const char *n)
{
    struct tu_run lite, pg;
    tu_herald(&lite, dir, NULL, "segment", "sample", name, "-n", n, "--format", "csv", NULL);
    tu_herald(&pg, dir, NULL, "--db", uri, "segment", "sample", name, "-n", n, "--format", "csv",
              NULL);
    assert_int_equal(lite.status, 0);
    assert_int_equal(pg.status, 0);
    char *a = sorted(lite.out), *b = sorted(pg.out);
    assert_string_equal(a, b);
    free(a), free(b);
    tu_run_release(&lite);
    tu_run_release(&pg);
}

static int setup(void **state)
{
    (void)state;
    struct tu_run r;
    dir = tu_tmpdir();
    setenv("HERALD_NOW", NOW_ISO, 1);
    unsetenv("PGPASSWORD");
    char *conf = tu_src_path("etc/herald.conf"), *tpl = tu_src_path("templates");
    char *link = tu_path(dir, "templates");
    setenv("HERALD_CONFIG", conf, 1);
    assert_int_equal(symlink(tpl, link), 0);
    uri = tu_pg_db(dbname);
    tu_herald(&r, dir, NULL, "init", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "--db", uri, "init", NULL);
    if (r.status != 0)
        fail_msg("init on PostgreSQL: %s%s", r.out, r.err);
    tu_run_release(&r);
    free(conf), free(tpl), free(link);
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

/* The tables the audience's commands write, as sqlite3 .dump prints them
 * from a copy of the store at target. */
static char *dump(const char *target, const char *file)
{
    struct tu_run r;
    tu_herald(&r, dir, NULL, "db", "copy", target, file, NULL);
    if (r.status != 0)
        fail_msg("db copy %s: %s%s", target, r.out, r.err);
    tu_run_release(&r);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && sqlite3 %s '.dump contacts push_tokens consent consent_log "
             "suppressions attributes segments meta events' | grep -v \"^INSERT INTO meta "
             "VALUES('instance'\"",
             dir, file);
    return tu_sh(cmd);
}

static void test_pg_audience_commands(void **state)
{
    (void)state;
    char *csv = tu_src_path("examples/contacts.csv");
    put("bad.csv", "id,email,phone,plan,age,joined,tags\n"
                   "n1,n1@example.com,+14155550101,gold,31,2026-10-01,\n"
                   "n2,not-an-email,,silver,20,2026-09-01,\n"
                   "n3,n3@Example.com,+14155550103,free,44,2026-11-20T08:30:00+02:00,\n");
    put("more.jsonl",
        "{\"id\":\"c0001\",\"plan\":null,\"address\":{\"city\":\"Lyon\",\"zip\":\"69001\"},"
        "\"tags\":[\"beta\",\"vip\"]}\n"
        "{\"id\":\"n1\",\"address\":{\"city\":\"Paris\",\"zip\":null},\"age\":32.5}\n"
        "{\"id\":\"n9\",\"email\":\"n9@example.com\",\"tags\":[],\"vip\":true}\n");
    put("again.jsonl", "{\"id\":\"c0001\",\"address\":{\"zip\":null,\"street\":\"rue Neuve\"}}\n"
                       "{\"id\":\"n9\",\"email\":\"n9@example.com\",\"fcm_token\":\"tok-n9\"}\n");
    put("events.csv",
        "contact,event,time,value\nc0357,purchase,2026-11-21T10:00:00Z,49.90\n"
        "c0357,purchase,2026-11-10T10:00:00Z,10\nc0458,purchase,2026-11-20T10:00:00Z,12.50\n"
        "c0002,login,2026-11-22T08:00:00Z,\n");

    SAME_FAIL(1, "contacts", "import", "bad.csv"); /* the bad line: nothing written */
    SAME("contacts", "import", "bad.csv", "--skip-invalid");
    SAME("contacts", "import", csv, "--default-region", "CN");
    SAME("contacts", "import", "more.jsonl");
    SAME("contacts", "import", "again.jsonl");
    SAME("contacts", "import", "again.jsonl", "--replace");
    SAME("contacts", "show", "c0001");
    SAME("contacts", "show", "n1", "--format", "json");
    SAME("contacts", "list", "--limit", "30", "--format", "csv");
    SAME("suppress", "add", "abigail.1@example.com", "--reason", "unsubscribed");
    SAME("suppress", "add", "+44 7700 900684", "--reason", "invalid_number");
    SAME("suppress", "add", "n3@example.com");
    SAME("suppress", "remove", "n3@example.com");
    SAME_FAIL(1, "suppress", "remove", "nobody@example.com");
    SAME("suppress", "list");
    SAME("contacts", "optout", "c0002", "--channel", "sms", "--category", "marketing");
    SAME("contacts", "optout", "c0003", "--channel", "email");
    SAME("contacts", "optin", "c0003", "--channel", "email", "--category", "transactional");
    SAME_FAIL(1, "contacts", "optout", "nobody", "--channel", "email");
    SAME("contacts", "show", "c0003");

    static const char *const rules[][2] = {
        {"new_users", "created_at > now - 30d"},
        {"churned", "days_since(last_active) > 30"},
        {"gold", "plan in (\"gold\", \"platinum\") and reachable(email)"},
        {"soon", "days_until(membership_expires) between 0 and 90 and not vip"},
        {"big", "lifetime_spend >= 3000.5 or orders > 40"},
        {"texts", "city starts_with \"L\" or first_name ends_with \"a\" or email matches "
                  "\"*.1?@*\" or city ieq \"PARIS\""},
        {"months", "month(last_active) = 11 and weekday(created_at) != 0 and year(joined) = 2026"},
        {"lists", "tags contains \"beta\" or tags is empty or length(first_name) > 6"},
        {"reach", "reachable(sms) and not reachable(push) and opted_in(email)"},
        {"today", "last_active >= local_today - 14d and address exists"},
        {"buyers", "did(\"purchase\", within 30d) or sum(\"purchase\", \"value\") > 20"},
        {"bounced", "bounced or in_segment(\"gold\")"},
    };
    SAME("events", "import", "events.csv");
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        SAME("segment", "define", rules[i][0], rules[i][1], "--allow-unknown");
        SAME("segment", "count", rules[i][0]);
        SAME("segment", "export", rules[i][0], "--format", "csv");
        same_sample(rules[i][0], "1000");
    }
    SAME("segment", "rfm", "--event", "purchase", "--value", "value");
    SAME("segment", "count", "rfm_important_value");
    /* a narrower window takes the scores off the contacts outside it */
    SAME("segment", "rfm", "--event", "purchase", "--value", "value", "--window", "36h");
    SAME("contacts", "show", "c0458");
    SAME_FAIL(1, "segment", "define", "gold", "plan = \"x\"");
    SAME("segment", "define", "gold", "plan = \"gold\"", "--replace");
    SAME("segment", "list");
    SAME("segment", "delete", "texts");
    SAME_FAIL(1, "segment", "delete", "texts");
    SAME("contacts", "delete", "c0357"); /* its events stay, under a pseudonym */
    SAME_FAIL(1, "contacts", "show", "c0357");
    SAME("contacts", "list", "--format", "json");

    char *a = dump("var/herald.db", "lite.db"), *b = dump(uri, "pg.db");
    assert_true(strstr(a, "INSERT INTO consent_log") != NULL);
    assert_true(strstr(a, "INSERT INTO segments") != NULL);
    if (strcmp(a, b) != 0) {
        char cmd[512];
        put("lite.dump", a);
        put("pg.dump", b);
        snprintf(cmd, sizeof cmd, "cd '%s' && diff lite.dump pg.dump || true", dir);
        char *d = tu_sh(cmd);
        fail_msg("the stores differ after db copy:\n%.4000s", d);
    }
    free(a), free(b), free(csv);
}

/* An SMS reply's opt-out by phone number (hd_store_phone_consent): the
 * same changes, a repeat changing nothing, the same consent_log rows. */
static void test_pg_audience_reply(void **state)
{
    (void)state;
    struct hd_store *st[2];
    struct hd_store_opts o = {0};
    struct hd_err e = {0};
    char *path = tu_path(dir, "var/herald.db");
    put("p.csv", "id,phone\np1,+14155550101\np2,+14155550102\n");
    SAME("contacts", "import", "p.csv");
    if (hd_store_open(path, &o, &st[0], &e) < 0 || hd_store_open(uri, &o, &st[1], &e) < 0)
        fail_msg("open: %s", e.msg);
    for (int k = 0; k < 2; k++) {
        int64_t n = -1;
        assert_int_equal(hd_store_phone_consent(st[k], "+14155550101", HD_CAT_MARKETING,
                                                HD_CONSENT_OPTED_OUT, "reply", NOW, &n, &e),
                         0);
        assert_int_equal(n, 1);
        assert_int_equal(hd_store_phone_consent(st[k], "+14155550101", HD_CAT_MARKETING,
                                                HD_CONSENT_OPTED_OUT, "reply", NOW + 5, &n, &e),
                         0);
        assert_int_equal(n, 0); /* already so: nothing changes, not even the time */
        hd_store_free(st[k]);
    }
    SAME("history", "p1");
    char *a = dump("var/herald.db", "lite.db"), *b = dump(uri, "pg.db");
    assert_true(strstr(a, "'reply'") != NULL);
    assert_string_equal(a, b);
    free(a), free(b), free(path);
}

/* ---- the compiler's two dialects on the same data ---------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *pick(const char *const *v, size_t n)
{
    return v[rnd() % n];
}
#define PICK(v) pick(v, sizeof v / sizeof v[0])

/* A random condition over the demo's attributes and events. */
static void rand_cond(struct hd_buf *b, int depth)
{
    static const char *const ops[] = {"=", "!=", "<", "<=", ">", ">="};
    static const char *const strs[] = {"\"gold\"", "\"silver\"", "\"London\"", "\"Lo\"", "\"a\"",
                                       "\"\"",     "\"深圳\"",   "\"PARIS\"",  "\"x'y\""};
    static const char *const globs[] = {"\"*a*\"",    "\"?o*\"",    "\"[A-M]*\"",
                                        "\"*.1?@*\"", "\"[^L]*n\"", "\"*(x)*\""};
    static const char *const texts[] = {"plan",  "city",   "first_name",
                                        "email", "locale", "timezone"};
    static const char *const nums[] = {"lifetime_spend", "orders", "age"};
    static const char *const dates[] = {"last_active", "membership_expires", "created_at",
                                        "joined"};
    static const char *const chans[] = {"email", "sms", "push", "wechat", "inbox"};
    switch (depth > 2 ? rnd() % 14 + 3 : rnd() % 17) {
    case 0:
    case 1:
        hd_buf_addc(b, '(');
        rand_cond(b, depth + 1);
        hd_buf_adds(b, rnd() % 2 ? ") and (" : ") or (");
        rand_cond(b, depth + 1);
        hd_buf_addc(b, ')');
        break;
    case 2:
        hd_buf_adds(b, "not (");
        rand_cond(b, depth + 1);
        hd_buf_addc(b, ')');
        break;
    case 3:
        hd_buf_addf(b, "%s %s %s", PICK(texts), PICK(ops), PICK(strs));
        break;
    case 4:
        hd_buf_addf(b, "%s %s (%s, %s)", PICK(texts), rnd() % 2 ? "in" : "iin", PICK(strs),
                    PICK(strs));
        break;
    case 5:
        hd_buf_addf(b, "%s %s %s", PICK(texts),
                    rnd() % 3 == 0   ? "starts_with"
                    : rnd() % 2 == 0 ? "ends_with"
                                     : "contains",
                    PICK(strs));
        break;
    case 6:
        hd_buf_addf(b, "%s matches %s", PICK(texts), PICK(globs));
        break;
    case 7:
        hd_buf_addf(b, "%s %s %lld%s", PICK(nums), PICK(ops), (long long)(rnd() % 60),
                    rnd() % 3 ? "" : ".5");
        break;
    case 8:
        hd_buf_addf(b, "%s(%s) %s %d", rnd() % 2 ? "days_since" : "days_until", PICK(dates),
                    PICK(ops), (int)(rnd() % 400) - 100);
        break;
    case 9:
        hd_buf_addf(b, "%s %s %s - %dd", PICK(dates), PICK(ops),
                    rnd() % 3   ? "today"
                    : rnd() % 2 ? "now"
                                : "local_today",
                    (int)(rnd() % 300));
        break;
    case 10:
        hd_buf_addf(b, "%s(%s) %s %d",
                    rnd() % 2   ? "month"
                    : rnd() % 2 ? "weekday"
                                : "day",
                    PICK(dates), PICK(ops), (int)(rnd() % 12));
        break;
    case 11:
        hd_buf_addf(b, "%s %s", rnd() % 2 ? "vip" : "tags", rnd() % 2 ? "exists" : "is empty");
        break;
    case 12:
        hd_buf_addf(b, "tags contains %s", PICK(strs));
        break;
    case 13:
        hd_buf_addf(b, "%s(%s)", rnd() % 2 ? "reachable" : "opted_in", PICK(chans));
        break;
    case 14:
        hd_buf_addf(b, "did(\"purchase\", count >= %d%s)", (int)(rnd() % 3),
                    rnd() % 2 ? ", within 10d" : "");
        break;
    case 15:
        hd_buf_addf(b, "%s(\"purchase\", \"value\") %s %d", rnd() % 2 ? "sum" : "max", PICK(ops),
                    (int)(rnd() % 60));
        break;
    default:
        hd_buf_addf(b, "length(%s) %s %d", PICK(texts), PICK(ops), (int)(rnd() % 12));
        break;
    }
}

static int add_id(void *ud, const struct hd_contact *c)
{
    hd_buf_addf(ud, "%s ", c->ext_id);
    return 0;
}

/* The rule's count and members (by id) on st, or its error. */
static void members(struct hd_store *st, const char *expr, struct hd_buf *out)
{
    struct hd_seg_node *ast = NULL;
    struct hd_err e = {0};
    int64_t n = -1;
    if (hd_seg_load(st, NULL, expr, NOW, &ast, &e) < 0) {
        hd_buf_addf(out, "parse: %s", e.msg);
        return;
    }
    if (hd_store_seg_count(st, ast, NOW, &n, &e) < 0)
        fail_msg("counting [%s]: %s", expr, e.msg);
    hd_buf_addf(out, "%lld: ", (long long)n);
    if (hd_store_seg_each(st, ast, NOW, 0, false, add_id, out, &e) < 0)
        fail_msg("members of [%s]: %s", expr, e.msg);
    hd_segast_free(ast);
}

static void test_pg_audience_rules(void **state)
{
    (void)state;
    struct tu_run r;
    char name[64];
    char *csv = tu_src_path("examples/contacts.csv"), *db2 = tu_pg_db(name);
    put("ev2.csv",
        "contact,event,time,value\nc0010,purchase,2026-11-21T10:00:00Z,49.90\n"
        "c0010,purchase,2026-11-01T10:00:00Z,10\nc0011,purchase,2026-11-20T10:00:00Z,12.5\n"
        "c0012,purchase,2026-10-20T10:00:00Z,70\nc0012,purchase,2026-11-19T10:00:00Z,1\n");
    tu_herald(&r, dir, NULL, "--db", "var/rules.db", "init", NULL);
    tu_run_release(&r);
    const char *const steps[][8] = {
        {"contacts", "import", csv, "--default-region", "CN", "--last-wins"},
        {"contacts", "optout", "c0005", "--channel", "email"},
        {"contacts", "optout", "c0006", "--channel", "sms", "--category", "marketing"},
        {"suppress", "add", "abigail.1@example.com", "--reason", "hard_bounce"},
        {"events", "import", "ev2.csv"},
        {"db", "copy", "var/rules.db", db2},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        const char *a[12] = {tu_herald_bin(), "--db", "var/rules.db"};
        for (size_t k = 0; k < 8 && steps[i][k]; k++)
            a[3 + k] = steps[i][k];
        tu_exec(&r, dir, NULL, a);
        if (r.status != 0)
            fail_msg("%s %s: %s%s", steps[i][0], steps[i][1], r.out, r.err);
        tu_run_release(&r);
    }
    struct hd_store *lite, *pg;
    struct hd_store_opts o = {0};
    struct hd_err e = {0};
    char *path = tu_path(dir, "var/rules.db");
    if (hd_store_open(path, &o, &lite, &e) < 0 || hd_store_open(db2, &o, &pg, &e) < 0)
        fail_msg("open: %s", e.msg);
    int nonempty = 0;
    for (int i = 0; i < 400; i++) {
        struct hd_buf rule, a, b;
        hd_buf_init(&rule), hd_buf_init(&a), hd_buf_init(&b);
        rand_cond(&rule, 0);
        members(lite, rule.data, &a);
        members(pg, rule.data, &b);
        if (strcmp(a.data, b.data) != 0)
            fail_msg("rule %d [%s]:\n--- SQLite\n%.600s\n--- PostgreSQL\n%.600s", i, rule.data,
                     a.data, b.data);
        nonempty += strncmp(a.data, "0: ", 3) != 0 && strncmp(a.data, "parse", 5) != 0;
        hd_buf_release(&rule), hd_buf_release(&a), hd_buf_release(&b);
    }
    assert_true(nonempty > 100); /* most rules select someone */
    hd_store_free(lite);
    hd_store_free(pg);
    tu_pg_drop(name);
    free(path), free(db2), free(csv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pg_audience_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_audience_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_audience_rules, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
