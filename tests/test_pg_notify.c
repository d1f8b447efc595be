/* test_pg_notify: wake-ups through LISTEN/NOTIFY on a PostgreSQL store
 * (issue 23), a hint only: polling remains the truth. One store is built
 * on SQLite (the example configuration, the 500 sample contacts, a segment
 * of the Shanghai ones) and `herald db copy` takes it to a fresh
 * PostgreSQL database for each case; a `herald run` node (with -v, so its
 * debug lines say when it dozes and why it wakes) is spawned against it.
 *
 * A node idle with [dispatch] poll = 30s does no work between polls: the
 * test database's committed transactions over a few seconds are its
 * heartbeats, not the ~90 a second of the loop without wake-ups, and the
 * node does not look for work meanwhile; a campaign another process then
 * creates (`campaign create --now`) is sent within 10 s, woken by the
 * hint, not by the poll; so is a paused campaign resumed, and a message
 * sent through the JSON API of a `herald serve` on the store. With poll = 2s, messages put back in the queue by
 * SQL, which sends no notification, are still sent, found by the poll.
 * When the server ends the node's listening connection, the node says so
 * once, polls, connects again and is woken again. */
#include "testnet.h"

#include <signal.h>
#include <time.h>

static char *lite_dir;

#define OK(dir, ...) tu_herald_ok_argv(dir, (const char *const[]){__VA_ARGS__, NULL})

static int setup(void **state)
{
    (void)state;
    lite_dir = tu_example_store();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmdir(lite_dir);
    return 0;
}

/* One case: a PostgreSQL copy of the SQLite store, a folder sharing the
 * link secret, and a configuration polling every `poll`. */
struct fx {
    char *dir, *uri, *conf;
    char name[64];
    pid_t node;
};

static void fx_open(struct fx *f, const char *poll)
{
    struct tu_run r;
    char cmd[2048];
    f->dir = tu_tmpdir_templates();
    f->uri = tu_pg_db(f->name);
    f->conf = tu_path(f->dir, "notify.conf");
    f->node = -1;
    tu_herald(&r, lite_dir, NULL, "db", "copy", "var/herald.db", f->uri, NULL);
    if (r.status != 0)
        fail_msg("copy to PostgreSQL: %s%s", r.out, r.err);
    tu_run_release(&r);
    char *src = tu_src_path("etc/herald.conf");
    snprintf(cmd, sizeof cmd,
             "mkdir -m 700 -p '%s/var' && cp -p '%s/var/herald.secret' '%s/var/' && "
             "sed 's|^poll = 1s|poll = %s|' '%s' > '%s' && grep -q '^poll = %s$' '%s'",
             f->dir, lite_dir, f->dir, poll, src, f->conf, poll, f->conf);
    free(tu_sh(cmd));
    free(src);
}

static void fx_close(struct fx *f)
{
    if (f->node > 0) {
        int st;
        kill(f->node, SIGTERM);
        assert_int_equal(waitpid(f->node, &st, 0), f->node);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    tu_rmdir(f->dir);
    tu_pg_drop(f->name);
    free(f->uri);
    free(f->conf);
}

static long long num_on(const char *uri, const char *sql)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "psql -X -At '%s' -c \"%s\"", uri, sql);
    char *s = tu_sh(cmd);
    long long v = atoll(s);
    free(s);
    return v;
}

static long long num(const struct fx *f, const char *sql)
{
    return num_on(f->uri, sql);
}

static void nap(int ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How many times the log file (in the case's folder) holds text. */
static int file_count(const struct fx *f, const char *file, const char *text)
{
    char *path = tu_path(f->dir, file), *log = tu_read(path);
    int n = 0;
    for (const char *p = log; p && (p = strstr(p, text)) != NULL; p += strlen(text))
        n++;
    free(log);
    free(path);
    return n;
}

/* How many times the node's log holds text. */
static int log_count(const struct fx *f, const char *text)
{
    return file_count(f, "node.log", text);
}

/* Waits (at most secs) until the node's log holds text at least n times. */
static void await_log(const struct fx *f, const char *text, int n, int secs)
{
    for (int i = 0; i < secs * 20; i++) {
        if (log_count(f, text) >= n)
            return;
        nap(50);
    }
    fail_msg("the node did not log '%s' %d times within %d s", text, n, secs);
}

static void spawn_node(struct fx *f)
{
    const char *args[] = {"-v", "-c", f->conf, "--db", f->uri, "run", NULL};
    f->node = tu_herald_spawn(f->dir, "node.log", args);
}

static const char open_sql[] = "SELECT count(*) FROM messages WHERE state IN (0, 1, 6, 7)";
static const char idle_line[] = "dispatcher: idle; looking for work again";

/* Waits (at most ms) until the store has messages and none open; returns
 * the milliseconds it took. */
static int64_t await_sent(const struct fx *f, int64_t ms)
{
    int64_t t0 = mono_ms();
    while (mono_ms() - t0 < ms) {
        if (num(f, "SELECT count(*) FROM messages") > 0 && num(f, open_sql) == 0)
            return mono_ms() - t0;
        nap(100);
    }
    fail_msg("the messages were not all sent within %lld ms (%lld open)", (long long)ms,
             num(f, open_sql));
    return -1;
}

/* The test database's committed transactions, as the server counts them
 * (read from the maintenance database, so this read is not one of them). */
static long long commits(const struct fx *f)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT xact_commit FROM pg_stat_database WHERE datname = '%s'",
             f->name);
    return num_on(tu_pg_server(), sql);
}

static void create_campaign(const struct fx *f)
{
    OK(f->dir, "-c", f->conf, "--db", f->uri, "campaign", "create", "c", "--segment", "shanghai",
       "--template", "recall", "--channels", "email", "--now");
}

static void test_pg_notify_wakes(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "30s");
    spawn_node(&f);
    await_log(&f, idle_line, 1, 15);
    await_log(&f, "dispatcher: listening for wake-ups", 1, 1);
    /* idle: heartbeats only, about 4 commits a second (a beat's prepare,
     * describe, execute and deallocate each end an implicit transaction),
     * where the loop polling without wake-ups committed about 90 a second;
     * the server may count a backend's commits up to 10 s late (its stats
     * flush), so the node's first second of polling can land in the
     * window: hence the margin */
    long long before = commits(&f);
    int looks = log_count(&f, "dispatcher: looking for work");
    nap(6000);
    long long idle = commits(&f) - before;
    assert_true(idle >= 0);
    if (idle > 90)
        fail_msg("an idle node committed %lld transactions in 6 s", idle);
    assert_int_equal(log_count(&f, "dispatcher: looking for work"), looks);
    /* another process creates a campaign: the node sends it within a
     * third of its poll (not a speed bound: the poll would take 30 s) */
    create_campaign(&f);
    await_sent(&f, 10000);
    assert_true(num(&f, "SELECT count(*) FROM messages WHERE state = 2") > 150);
    assert_true(log_count(&f, "dispatcher: looking for work (a wake-up)") >= 1);
    assert_int_equal(log_count(&f, "dispatcher: looking for work (the poll)"), 0);
    fx_close(&f);
}

/* A paused campaign's resume wakes the node too (hd_store_campaign_set). */
static void test_pg_notify_resume(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "30s");
    create_campaign(&f);
    OK(f.dir, "-c", f.conf, "--db", f.uri, "campaign", "pause", "c");
    spawn_node(&f);
    await_log(&f, idle_line, 1, 15);
    assert_int_equal(num(&f, "SELECT count(*) FROM messages WHERE state = 2"), 0);
    int woken = log_count(&f, "dispatcher: looking for work (a wake-up)");
    OK(f.dir, "-c", f.conf, "--db", f.uri, "campaign", "resume", "c");
    await_sent(&f, 10000);
    assert_true(log_count(&f, "dispatcher: looking for work (a wake-up)") > woken);
    fx_close(&f);
}

/* herald serve on the same store, on a free port: its pid, *port. */
static pid_t serve_start(const struct fx *f, int *port)
{
    const char *args[] = {"-c", f->conf, "--db", f->uri, "serve", "--listen", "127.0.0.1:0",
                          NULL};
    pid_t pid = tu_herald_spawn(f->dir, "serve.log", args);
    char *path = tu_path(f->dir, "serve.log");
    *port = 0;
    for (int i = 0; i < 300 && !*port; i++) {
        char *log = tu_read(path);
        const char *at = log ? strstr(log, "listening on http://127.0.0.1:") : NULL;
        if (at)
            *port = atoi(at + strlen("listening on http://127.0.0.1:"));
        free(log);
        if (!*port)
            nap(50);
    }
    free(path);
    if (!*port)
        fail_msg("herald serve did not start within 15 s");
    return pid;
}

/* The JSON API's send (apisend_pg.c) wakes the node: one hint with the
 * service's group commit. */
static void test_pg_notify_api(void **state)
{
    (void)state;
    struct fx f;
    struct tu_run r;
    char cmd[2048];
    int port, st;
    fx_open(&f, "30s");
    tu_herald(&r, f.dir, NULL, "-c", f.conf, "--db", f.uri, "apikey", "create", "sender",
              "--scope", "send", NULL);
    assert_int_equal(r.status, 0);
    char *key = strstr(r.out, "hd_");
    assert_non_null(key);
    key[strcspn(key, "\n")] = '\0';
    spawn_node(&f);
    pid_t srv = serve_start(&f, &port);
    await_log(&f, idle_line, 1, 15);
    int woken = log_count(&f, "dispatcher: looking for work (a wake-up)");
    snprintf(cmd, sizeof cmd,
             "curl -s -o /dev/null -w '%%{http_code}' -H 'Authorization: Bearer %s' -H "
             "'Content-Type: application/json' --data-binary '{\"template\": \"renewal\", "
             "\"contact\": \"c0001\"}' http://127.0.0.1:%d/api/v1/messages",
             key, port);
    char *code = tu_sh(cmd);
    assert_string_equal(code, "202");
    free(code);
    await_sent(&f, 10000);
    assert_int_equal(num(&f, "SELECT count(*) FROM messages"), 1);
    assert_true(log_count(&f, "dispatcher: looking for work (a wake-up)") > woken);
    kill(srv, SIGTERM);
    assert_int_equal(waitpid(srv, &st, 0), srv);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    tu_run_release(&r);
    fx_close(&f);
}

static void test_pg_notify_missed(void **state)
{
    (void)state;
    struct fx f;
    char cmd[2048];
    fx_open(&f, "2s");
    create_campaign(&f);
    OK(f.dir, "-c", f.conf, "--db", f.uri, "send", "c");
    long long sent = num(&f, "SELECT count(*) FROM messages WHERE state = 2");
    assert_true(sent > 150);
    spawn_node(&f);
    await_log(&f, idle_line, 1, 15);
    int woken = log_count(&f, "dispatcher: looking for work (a wake-up)");
    /* the run's messages queued again behind herald's back: no NOTIFY */
    snprintf(cmd, sizeof cmd,
             "psql -X -q -v ON_ERROR_STOP=1 '%s' -c \"BEGIN; UPDATE messages SET state = 0, "
             "lease_until = NULL WHERE state = 2; UPDATE runs SET status = 'active', done_at = "
             "NULL; UPDATE campaigns SET status = 'running'; COMMIT\" > /dev/null",
             f.uri);
    free(tu_sh(cmd));
    assert_int_equal(num(&f, open_sql), sent);
    /* found by the poll (every 2 s), with no wake-up */
    int polls = log_count(&f, "dispatcher: looking for work (the poll)");
    await_sent(&f, 20000);
    assert_true(log_count(&f, "dispatcher: looking for work (the poll)") > polls);
    assert_int_equal(log_count(&f, "dispatcher: looking for work (a wake-up)"), woken);
    /* each sent a second time: a row each in the log's sent outcomes */
    assert_int_equal(num(&f, "SELECT count(*) FROM messages WHERE state = 2"), sent);
    fx_close(&f);
}

static void test_pg_notify_reconnects(void **state)
{
    (void)state;
    struct fx f;
    char sql[512];
    fx_open(&f, "30s");
    spawn_node(&f);
    await_log(&f, idle_line, 1, 15);
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '%s' "
             "AND application_name = 'herald listen'",
             f.name);
    assert_int_equal(num_on(tu_pg_server(), sql), 1);
    await_log(&f, "the connection for wake-ups was lost", 1, 15);
    await_log(&f, "dispatcher: listening for wake-ups again", 1, 15);
    assert_int_equal(log_count(&f, "the connection for wake-ups was lost"), 1);
    /* listening again: woken again */
    create_campaign(&f);
    await_sent(&f, 10000);
    assert_true(log_count(&f, "dispatcher: looking for work (a wake-up)") >= 1);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_notify_wakes),
        cmocka_unit_test(test_pg_notify_resume),
        cmocka_unit_test(test_pg_notify_api),
        cmocka_unit_test(test_pg_notify_missed),
        cmocka_unit_test(test_pg_notify_reconnects),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
