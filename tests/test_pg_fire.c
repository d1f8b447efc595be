/* test_pg_fire: on PostgreSQL one node fires a due run, however many are
 * up (issue 23: "one node's scheduler fires a due run exactly once").
 * Firing a campaign (opening its run and materializing it) takes the
 * campaign's advisory lock (hd_store_fire_lock): a scheduler that finds it
 * taken leaves the campaign to the node that holds it, and one that finds
 * a run half-materialized leaves it too while its node lives (the lock
 * goes with the node's connection). The store is the example
 * configuration's, the 500 sample contacts, a daily campaign at 09:00 UTC
 * with a 10% holdout. Checked: with the lock held by another session (as
 * a node firing would), `herald run --once` opens no run and says why at
 * debug; once the session ends, the next one fires it: one run, every
 * contact of the segment once, its held-out log rows one each; and two
 * nodes started at once for the next day's firing make one run between
 * them, again every contact once and one held-out row each. */
#include "testnet.h"

#include <sys/wait.h>
#include <time.h>

#define LOCK_KEY "1752329316" /* campaigns.c's FIRE_LOCK_KEY */
/* this test's database's advisory locks (the server may be the suite's) */
#define MY_LOCKS                                                                                   \
    "FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database "       \
    "WHERE datname = current_database())"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *dir, *uri;
static char dbname[64];

static char *pg(const char *sql)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "psql -X -q -At '%s' -c \"%s\"", uri, sql);
    return tu_sh(cmd);
}

static int64_t pg1(const char *sql)
{
    char *r = pg(sql);
    int64_t v = strtoll(r, NULL, 10);
    free(r);
    return v;
}

static int setup(void **state)
{
    (void)state;
    char conf[1024];
    char *tpl = tu_src_path("templates"), *csv = tu_src_path("examples/contacts.csv");
    char *etc = tu_src_path("etc/herald.conf"), *link;
    dir = tu_tmpdir();
    link = tu_path(dir, "templates");
    assert_int_equal(symlink(tpl, link), 0);
    uri = tu_pg_db(dbname);
    /* the example configuration on this database, at debug */
    snprintf(conf, sizeof conf,
             "cd '%s' && awk -v db='%s' '/^database = / { print \"database = \" db; next } "
             "/^log_level = / { print \"log_level = debug\"; next } { print }' '%s' > h.conf && "
             "grep -q '^database = postgresql' h.conf",
             dir, uri, etc);
    free(tu_sh(conf));
    setenv("HERALD_CONFIG", "h.conf", 1);
    setenv("HERALD_NOW", "2026-11-22T08:00:00Z", 1);
    unsetenv("PGPASSWORD");
    TU_HERALD_OK(dir, "init");
    TU_HERALD_OK(dir, "contacts", "import", csv, "--default-region", "CN");
    TU_HERALD_OK(dir, "segment", "define", "all", "id != \"\"");
    TU_HERALD_OK(dir, "campaign", "create", "daily", "--segment", "all", "--template", "recall",
                 "--channels", "email", "--every", "0 9 * * *", "--tz", "UTC", "--holdout", "10");
    free(tpl);
    free(csv);
    free(etc);
    free(link);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_pg_drop(dbname);
    free(uri);
    tu_rmdir(dir);
    return 0;
}

/* Every contact once in the run fired at fire_at (a UTC time), and one
 * held_out log row for each held out: nothing materialized twice. */
static void check_run(const char *fire_at)
{
    char sql[1024];

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM runs WHERE fire_at = extract(epoch FROM timestamptz '%s')",
             fire_at);
    assert_int_equal(pg1(sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) || ' ' || count(DISTINCT contact_id) FROM messages m JOIN runs r ON "
             "r.id = m.run_id WHERE r.fire_at = extract(epoch FROM timestamptz '%s')",
             fire_at);
    char *n = pg(sql);
    assert_string_equal(n, "500 500\n");
    free(n);
    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM attempts a JOIN runs r ON r.id = a.run_id WHERE "
             "a.reason = 'held_out' AND r.fire_at = extract(epoch FROM timestamptz '%s')) - "
             "(SELECT count(DISTINCT a.message_id) FROM attempts a JOIN runs r ON r.id = a.run_id "
             "WHERE a.reason = 'held_out' AND r.fire_at = extract(epoch FROM timestamptz '%s'))",
             fire_at, fire_at);
    assert_int_equal(pg1(sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM attempts a JOIN runs r ON r.id = a.run_id WHERE a.reason = "
             "'held_out' AND r.fire_at = extract(epoch FROM timestamptz '%s')",
             fire_at);
    int64_t held = pg1(sql);
    assert_true(held > 20 && held < 80); /* about 10% of 500 */
}

/* Another session holds the campaign's firing lock, as a node firing it
 * would, until it is killed. */
static pid_t hold_lock(const char *campaign)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "SELECT id FROM campaigns WHERE name = '%s'", campaign);
    int64_t id = pg1(cmd);
    snprintf(cmd, sizeof cmd, "SELECT pg_advisory_lock(" LOCK_KEY ", %lld); SELECT pg_sleep(60)",
             (long long)id);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr))
            _exit(126);
        execlp("psql", "psql", "-X", "-q", "-At", uri, "-c", cmd, (char *)NULL);
        _exit(127);
    }
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) " MY_LOCKS " AND classid = " LOCK_KEY " AND objid = %lld AND granted",
             (long long)id);
    for (int i = 0; i < 200 && pg1(sql) == 0; i++)
        sleep_ms(50);
    assert_int_equal(pg1(sql), 1);
    return pid;
}

static void test_pg_fire_lock(void **state)
{
    (void)state;
    struct tu_run r;
    setenv("HERALD_NOW", "2026-11-22T09:00:05Z", 1);
    pid_t holder = hold_lock("daily");
    tu_herald(&r, dir, NULL, "run", "--once", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.err, "campaign 'daily': another node is firing it");
    tu_run_release(&r);
    assert_int_equal(pg1("SELECT count(*) FROM runs"), 0);
    /* its session ends (as a node's does when it dies), and the lock with it */
    free(pg("SELECT pg_terminate_backend(pid) " MY_LOCKS " AND classid = " LOCK_KEY));
    waitpid(holder, NULL, 0);
    for (int i = 0; i < 200 && pg1("SELECT count(*) " MY_LOCKS); i++)
        sleep_ms(50);
    assert_int_equal(pg1("SELECT count(*) " MY_LOCKS), 0);
    TU_HERALD_OK(dir, "run", "--once");
    check_run("2026-11-22T09:00:00Z");
}

/* Two nodes at once on the next day's firing: one run between them. */
static void test_pg_fire_two_nodes(void **state)
{
    (void)state;
    setenv("HERALD_NOW", "2026-11-23T09:00:05Z", 1);
    const char *const argv[] = {"run", "--once", NULL};
    pid_t a = tu_herald_spawn(dir, "a.out", argv), b = tu_herald_spawn(dir, "b.out", argv);
    int sa = 0, sb = 0;
    waitpid(a, &sa, 0);
    waitpid(b, &sb, 0);
    assert_true(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
    assert_true(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
    check_run("2026-11-23T09:00:00Z");
    assert_int_equal(pg1("SELECT count(*) FROM runs"), 2);
}

/* Two `herald send` of one campaign that wait for its firing lock (held
 * here, as a node firing it would) and start at different seconds: one
 * run between them. They read the campaign's runs before the lock, found
 * none, and each fired at its own second: two runs, every contact twice
 * (a review forced it so). */
static void test_pg_fire_two_sends(void **state)
{
    (void)state;
    setenv("HERALD_NOW", "2026-11-24T10:00:00Z", 1);
    TU_HERALD_OK(dir, "campaign", "create", "once", "--segment", "all", "--template", "recall",
                 "--channels", "email", "--now");
    pid_t holder = hold_lock("once");
    const char *const argv[] = {"send", "once", NULL};
    pid_t a = tu_herald_spawn(dir, "s1.out", argv);
    setenv("HERALD_NOW", "2026-11-24T10:00:02Z", 1);
    pid_t b = tu_herald_spawn(dir, "s2.out", argv);
    /* both waiting for the lock */
    const char *waiting = "SELECT count(*) " MY_LOCKS " AND classid = " LOCK_KEY " AND NOT granted";
    for (int i = 0; i < 400 && pg1(waiting) < 2; i++)
        sleep_ms(50);
    assert_int_equal(pg1(waiting), 2);
    free(pg("SELECT pg_terminate_backend(pid) " MY_LOCKS " AND classid = " LOCK_KEY " AND granted"));
    waitpid(holder, NULL, 0);
    int sa = 0, sb = 0;
    waitpid(a, &sa, 0);
    waitpid(b, &sb, 0);
    assert_true(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
    assert_true(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
    assert_int_equal(pg1("SELECT count(*) FROM runs r JOIN campaigns c ON c.id = r.campaign_id "
                         "WHERE c.name = 'once'"),
                     1);
    assert_int_equal(pg1("SELECT count(*) - count(DISTINCT m.contact_id) FROM messages m JOIN runs "
                         "r ON r.id = m.run_id JOIN campaigns c ON c.id = r.campaign_id WHERE "
                         "c.name = 'once'"),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_fire_lock),
        cmocka_unit_test(test_pg_fire_two_nodes),
        cmocka_unit_test(test_pg_fire_two_sends),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
