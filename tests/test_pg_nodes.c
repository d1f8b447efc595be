/* test_pg_nodes: several dispatcher nodes on one PostgreSQL store (issue
 * 23, stage 4a). One store is built on SQLite (the example configuration,
 * the 500 sample contacts, a segment of the Shanghai ones) and `herald db
 * copy` takes it to a fresh PostgreSQL database for each case; the outbox
 * sends 40 messages a second, so a campaign takes seconds, and a node
 * without a heartbeat for 2 s is lost ([dispatch] node_lease). Two nodes
 * sending one campaign at once: every message terminal, none sent twice,
 * and `herald nodes` lists both, stopped, holding nothing. A
 * node SIGKILLed mid-campaign: its messages stay its own until its beat
 * is older than the lease (the requeued rows come no earlier), then a
 * node takes them back; duplicates at most what it held. A node SIGSTOPped
 * for longer than the lease while another takes its messages over and
 * finishes the campaign, then SIGCONTed: its late results move nothing
 * (the fencing token), and each is logged as lease_lost. A node whose
 * render is slow (HERALD_TEST_RENDER_MS: 1.5 s before its claim's
 * renders, past the server's idle in transaction limit of half the
 * lease, 1 s): the claim commits before it renders, so the node keeps its
 * connection and its leases and sends everything, once. Rendered inside
 * the claim's transaction, as before, the server ended its session and
 * it failed. */
#include "testnet.h"

#include <signal.h>
#include <time.h>

static char *lite_dir, *conf, *fast_conf;

#define OK(dir, ...) tu_herald_ok_argv(dir, (const char *const[]){__VA_ARGS__, NULL})

static int setup(void **state)
{
    (void)state;
    char *src = tu_src_path("etc/herald.conf");
    char cmd[2048];
    lite_dir = tu_example_store();
    conf = tu_path(lite_dir, "nodes.conf");
    snprintf(cmd, sizeof cmd,
             "sed 's|^rate = 1000/s|rate = 40/s|; s|^node_lease = 30s|node_lease = 2s|' '%s' > "
             "'%s' && grep -q '^node_lease = 2s' '%s'",
             src, conf, conf);
    free(tu_sh(cmd));
    fast_conf = tu_path(lite_dir, "fast.conf"); /* the outbox at its 1000 a second */
    snprintf(cmd, sizeof cmd,
             "sed 's|^node_lease = 30s|node_lease = 2s|' '%s' > '%s' && grep -q '^node_lease = "
             "2s' '%s'",
             src, fast_conf, fast_conf);
    free(tu_sh(cmd));
    free(src);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(conf);
    free(fast_conf);
    tu_rmdir(lite_dir);
    return 0;
}

/* One case's store and folder: a PostgreSQL copy of the SQLite store, the
 * campaign `c` created on it, an outbox folder sharing the link secret. */
struct fx {
    char *dir, *uri;
    char name[64];
};

static void fx_open(struct fx *f)
{
    struct tu_run r;
    char cmd[1024];
    f->dir = tu_tmpdir_templates();
    f->uri = tu_pg_db(f->name);
    tu_herald(&r, lite_dir, NULL, "db", "copy", "var/herald.db", f->uri, NULL);
    if (r.status != 0)
        fail_msg("copy to PostgreSQL: %s%s", r.out, r.err);
    tu_run_release(&r);
    snprintf(cmd, sizeof cmd, "mkdir -m 700 -p '%s/var' && cp -p '%s/var/herald.secret' '%s/var/'",
             f->dir, lite_dir, f->dir);
    free(tu_sh(cmd));
    OK(f->dir, "-c", conf, "--db", f->uri, "campaign", "create", "c", "--segment", "shanghai",
       "--template", "recall", "--channels", "email", "--now");
}

static void fx_close(struct fx *f)
{
    tu_rmdir(f->dir);
    tu_pg_drop(f->name);
    free(f->uri);
}

static char *rows(const struct fx *f, const char *sql)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "psql -X -At '%s' -c \"%s\"", f->uri, sql);
    return tu_sh(cmd);
}

static long long num(const struct fx *f, const char *sql)
{
    char *s = rows(f, sql);
    long long v = atoll(s);
    free(s);
    return v;
}

static pid_t spawn(const struct fx *f, const char *log)
{
    const char *args[] = {"-c", conf, "--db", f->uri, "send", "c", NULL};
    return tu_herald_spawn(f->dir, log, args);
}

static void nap(void)
{
    nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
}

/* Waits (at most 30 s) until the outbox holds n files. */
static void await_files(const struct fx *f, int n)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "find '%s/var/outbox' -type f 2>/dev/null | wc -l", f->dir);
    for (int i = 0; i < 3000; i++) {
        char *out = tu_sh(cmd);
        int k = atoi(out);
        free(out);
        if (k >= n)
            return;
        nap();
    }
    fail_msg("no %d files in the outbox after 30 s", n);
}

/* Whether the CSV out has the row that starts with want (after its
 * newline) naming state before its own end. */
static bool row_says(const char *out, const char *want, const char *state)
{
    const char *row = strstr(out, want);
    const char *at = row ? strstr(row, state) : NULL;
    return at && strchr(row + 1, '\n') > at;
}

/* Waits (at most 15 s) until `herald nodes` says node id is in state. */
static void await_node(const struct fx *f, long long id, const char *state)
{
    char cmd[1024], want[64];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' -c '%s' --db '%s' nodes --format csv", f->dir,
             tu_herald_bin(), conf, f->uri);
    snprintf(want, sizeof want, "\n%lld,", id);
    for (int i = 0; i < 1500; i++) {
        char *out = tu_sh(cmd);
        if (row_says(out, want, state)) {
            free(out);
            return;
        }
        free(out);
        nap();
    }
    fail_msg("node %lld is not %s after 15 s", id, state);
}

static void await_exit(pid_t pid)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static const char open_sql[] = "SELECT count(*) FROM messages WHERE state IN (0, 1, 6, 7)";

/* The outbox's files and distinct Message-IDs. */
static void outbox(const struct fx *f, int *files, int *distinct)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd '%s/var/outbox' && find . -type f | wc -l && find . -type f -exec grep -h -m1 "
             "'^X-Herald-Message:' {} + | sort -u | wc -l",
             f->dir);
    char *out = tu_sh(cmd);
    assert_int_equal(sscanf(out, "%d %d", files, distinct), 2);
    free(out);
}

static void test_pg_nodes_two(void **state)
{
    (void)state;
    struct fx f;
    int files, distinct;
    fx_open(&f);
    /* at once; with one claim batch (512) for the campaign's 250, the
     * first to claim takes them all and the other finds nothing: SKIP
     * LOCKED keeps it from waiting or reading them twice */
    pid_t a = spawn(&f, "a.log"), b = spawn(&f, "b.log");
    await_exit(a);
    await_exit(b);
    assert_int_equal(num(&f, open_sql), 0); /* every message terminal */
    long long sent = num(&f, "SELECT count(*) FROM messages WHERE state = 2");
    assert_true(sent > 150);
    outbox(&f, &files, &distinct);
    assert_int_equal(distinct, sent);  /* none lost */
    assert_int_equal(files, distinct); /* none twice */
    assert_int_equal(num(&f, "SELECT count(*) FROM attempts WHERE reason IN ('requeued', "
                             "'lease_lost')"),
                     0);
    /* both listed, stopped cleanly, holding nothing */
    char cmd[1024];
    snprintf(
        cmd, sizeof cmd,
        "cd '%s' && '%s' -c '%s' --db '%s' nodes --format json | python3 -c \"import json,sys; "
        "d=json.load(sys.stdin); print(len(d), sorted(set(n['state'] for n in d)), "
        "sum(n['in_flight'] for n in d), sorted(set(n['pid'] for n in d)) == sorted([%d, %d]))\"",
        f.dir, tu_herald_bin(), conf, f.uri, (int)a, (int)b);
    char *out = tu_sh(cmd);
    assert_string_equal(out, "2 ['stopped'] 0 True\n");
    free(out);
    fx_close(&f);
}

static void test_pg_nodes_kill(void **state)
{
    (void)state;
    struct fx f;
    int files, distinct;
    fx_open(&f);
    pid_t a = spawn(&f, "a.log");
    await_files(&f, 30);
    assert_int_equal(kill(a, SIGKILL), 0);
    int st;
    assert_int_equal(waitpid(a, &st, 0), a);
    assert_true(WIFSIGNALED(st));
    long long held = num(&f, "SELECT count(*) FROM messages WHERE state = 1");
    assert_true(held > 0);
    /* another node at once: it may send what is queued, but takes the
     * killed node's messages only once its beat is older than the lease */
    pid_t b = spawn(&f, "b.log");
    await_exit(b);
    await_node(&f, 1, "lost");
    OK(f.dir, "-c", conf, "--db", f.uri, "send", "c"); /* what is left, if b ended first */
    assert_int_equal(num(&f, open_sql), 0);
    long long requeued =
        num(&f, "SELECT count(*) FROM attempts WHERE reason = 'requeued' AND text LIKE 'node 1 %'");
    assert_int_equal(requeued, held);
    /* none before the lease: 2 s after the dead node's last beat */
    assert_int_equal(num(&f, "SELECT count(*) FROM attempts a, nodes n WHERE n.id = 1 AND "
                             "a.reason = 'requeued' AND a.at < (n.heartbeat_at + 2) * 1000"),
                     0);
    long long sent = num(&f, "SELECT count(*) FROM messages WHERE state = 2");
    outbox(&f, &files, &distinct);
    assert_int_equal(distinct, sent);
    assert_true(files - distinct <= held);
    fx_close(&f);
}

static void test_pg_nodes_freeze(void **state)
{
    (void)state;
    struct fx f;
    int files, distinct;
    fx_open(&f);
    pid_t a = spawn(&f, "a.log");
    await_files(&f, 20);
    /* frozen between its transactions: frozen inside one, its session is
     * ended by the server after half a lease (idle in transaction), and
     * it then dies on its next statement instead of coming back */
    for (int i = 0;; i++) {
        assert_int_equal(kill(a, SIGSTOP), 0);
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL); /* a statement it sent ends */
        if (num(&f, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state <> 'idle'") == 0)
            break;
        assert_int_equal(kill(a, SIGCONT), 0);
        if (i == 100)
            fail_msg("the node was inside a transaction at each of 100 tries");
        nanosleep(&(struct timespec){0, 7 * 1000 * 1000}, NULL);
    }
    long long held = num(&f, "SELECT count(*) FROM messages WHERE state = 1 AND lease_owner = 1");
    assert_true(held > 0);
    await_node(&f, 1, "lost");
    /* another node takes them over and finishes the campaign */
    OK(f.dir, "-c", conf, "--db", f.uri, "send", "c");
    assert_int_equal(num(&f, open_sql), 0);
    static const char snap_sql[] = "SELECT string_agg(id || ':' || state || ':' || attempts || ':' "
                                   "|| coalesce(lease_token, 0), ',' ORDER BY id) FROM messages";
    char *before = rows(&f, snap_sql);
    long long sent_rows = num(&f, "SELECT count(*) FROM attempts WHERE outcome = 'accepted'");
    /* the frozen node comes back: what it still had goes on the wire, but
     * its results move nothing */
    assert_int_equal(kill(a, SIGCONT), 0);
    await_exit(a);
    char *after = rows(&f, snap_sql);
    assert_string_equal(after, before);
    assert_int_equal(num(&f, "SELECT count(*) FROM attempts WHERE outcome = 'accepted'"),
                     sent_rows);
    long long lost = num(&f, "SELECT count(*) FROM attempts WHERE outcome = 'skipped' AND "
                             "reason = 'lease_lost'");
    assert_true(lost > 0);
    assert_true(lost <= held);
    char *log = tu_path(f.dir, "a.log"), *text = tu_read(log);
    /* its late results, or (nothing in flight when frozen) what it had
     * claimed and not sent, given back on waking */
    assert_true(strstr(text, "took their messages over") || strstr(text, "another node took"));
    free(text);
    free(log);
    long long sent = num(&f, "SELECT count(*) FROM messages WHERE state = 2");
    outbox(&f, &files, &distinct);
    assert_int_equal(distinct, sent);
    assert_true(files - distinct <= held);
    free(before);
    free(after);
    fx_close(&f);
}

static void test_pg_nodes_slow_render(void **state)
{
    (void)state;
    struct fx f;
    int files, distinct;
    fx_open(&f);
    const char *args[] = {"-c", fast_conf, "--db", f.uri, "send", "c", NULL};
    setenv("HERALD_TEST", "1", 1);
    setenv("HERALD_TEST_RENDER_MS", "1500", 1);
    pid_t a = tu_herald_spawn(f.dir, "a.log", args);
    unsetenv("HERALD_TEST_RENDER_MS");
    unsetenv("HERALD_TEST");
    char *log = tu_path(f.dir, "a.log");
    int st;
    assert_int_equal(waitpid(a, &st, 0), a);
    char *text = tu_read(log);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("the node failed: %s", text);
    assert_null(strstr(text, "terminat")); /* the server ended no session */
    assert_null(strstr(text, "no heartbeat"));
    assert_int_equal(num(&f, open_sql), 0);
    long long sent = num(&f, "SELECT count(*) FROM messages WHERE state = 2");
    assert_true(sent > 150);
    assert_int_equal(num(&f, "SELECT count(*) FROM attempts WHERE reason IN ('requeued', "
                             "'lease_lost', 'render_failed')"),
                     0);
    /* one claim, under one fencing token, and every one of them sent */
    assert_int_equal(num(&f, "SELECT count(DISTINCT lease_token) FROM messages WHERE state = 2"),
                     1);
    outbox(&f, &files, &distinct);
    assert_int_equal(distinct, sent);
    assert_int_equal(files, distinct);
    free(text);
    free(log);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_nodes_two),
        cmocka_unit_test(test_pg_nodes_kill),
        cmocka_unit_test(test_pg_nodes_freeze),
        cmocka_unit_test(test_pg_nodes_slow_render),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
