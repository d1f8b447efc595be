/* test_receipts_kill: `herald serve` killed with SIGKILL while 10,000
 * signed Twilio status callbacks come in (issue 19). A campaign sends
 * 10,000 SMS through the Twilio mock (tests/mock/twilio.js); then
 * tests/twilio_load.py, 32 clients on keep-alive connections (Python's
 * hmac signs, not herald's code), posts one "delivered" callback per
 * message and writes down each one answered. Once a third of them have
 * been answered the service is killed. Every callback answered 200 must
 * then be in the database and applied (herald answers only after the
 * commit). Then the service starts again and "the gateway retries": every
 * callback not answered, and every fifth one that was; each retried one
 * with a receipt already (answered or not: the kill may fall between the
 * commit and the answer) must now be a duplicate, each other one applied. At the end each callback
 * is exactly one receipt row, applied once: 10,000 messages delivered, one `receipt` log row each.
 * The whole story runs on a SQLite file, then on a PostgreSQL store.
 * Then two reports about one message in one batch: the service looks the
 * batch's messages up before it keeps any report (clicks.c), so a report
 * whose message an earlier one of the batch moved must be looked up again.
 * "delivered" and then "sent" for each of 2,000 messages, posted at once by
 * 32 clients (a pair lands in one batch: the writer takes what queued
 * during its last commit): every message delivered once, and every "sent"
 * logged after its "delivered" logged with the state it found, delivered.
 */
#include "testnet.h"

#include <signal.h>
#include <sys/wait.h>

#include "herald/state.h"

#define TW_SID "AC0123456789abcdef0123456789abcdef"
#define TW_TOKEN "tw-Kill-Token-2290"
#define PUBLIC "http://127.0.0.1:8025"
#define N 10000
#define KILL_AT (N / 3)

static char *dir;
static struct tu_server tw;
static const char *db = "h.db";   /* the store: "h.db" in dir, or pg_uri */
static char *pg_uri, pg_name[64]; /* the PostgreSQL run's database */

static void write_file(const char *name, const char *text)
{
    char *p = tu_path(dir, name);
    tu_write(p, text);
    free(p);
}

static int64_t q1(const char *sql)
{
    return tu_sql1(dir, db, sql);
}

/* 10,000 contacts with phones, one SMS each through the Twilio mock, on
 * the store given. */
static int setup_on(const char *store)
{
    db = store;
    dir = tu_tmpdir();
    setenv("HERALD_NOW", "2026-11-22T12:00:00Z", 1);
    setenv("HERALD_CONFIG", "h.conf", 1);
    setenv("TEST_TW_TOKEN", TW_TOKEN, 1);
    const char *twa[] = {"--sid", TW_SID, "--token", TW_TOKEN, NULL};
    tu_start_mock(&tw, dir, "twilio.js", twa);
    char conf[2048];
    snprintf(conf, sizeof conf,
             "[herald]\ndatabase = %s\ntemplates = tpl\nlog_level = warn\n" TU_SERVE_CONF
             "[provider sms]\ntype = twilio\nbase_url = http://127.0.0.1:%d\n"
             "account_sid = " TW_SID "\nauth_token_env = TEST_TW_TOKEN\nfrom = +15550001111\n"
             "timeout = 10s\nconnections = 16\nrate = 1000000/s\nburst = 10000\n"
             "[channel sms]\nproviders = sms\n",
             db, tw.port);
    write_file("h.conf", conf);
    tu_tpl_with_pages(dir);
    write_file("tpl/note.tmpl", "description: kill test\ncategory: transactional\n\n"
                                "--- sms\nYour code is 1234\n");
    struct hd_buf csv;
    hd_buf_init(&csv);
    hd_buf_adds(&csv, "id,phone\n");
    for (int i = 0; i < N; i++)
        hd_buf_addf(&csv, "k%d,+1555%06d7\n", i, i); /* ends in 7: no mock fault */
    write_file("c.csv", csv.data);
    hd_buf_release(&csv);
    TU_HERALD_OK(dir, "init");
    TU_HERALD_OK(dir, "contacts", "import", "c.csv");
    TU_HERALD_OK(dir, "segment", "define", "all", "phone exists");
    TU_HERALD_OK(dir, "campaign", "create", "note", "--segment", "all", "--template", "note",
                 "--channels", "sms", "--now");
    TU_HERALD_OK(dir, "send", "note", "--wait", "60s");
    tu_server_stop(&tw);
    assert_int_equal(q1("SELECT count(*) FROM attempts WHERE outcome = 'accepted'"), N);
    char *all = tu_sql_text(dir, db,
                            "SELECT message_id || ' ' || gateway_id FROM attempts WHERE outcome "
                            "= 'accepted' ORDER BY message_id"),
         *ap = tu_path(dir, "all.txt");
    tu_write(ap, all);
    free(all);
    free(ap);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    return setup_on("h.db");
}

/* The same on a fresh PostgreSQL database (tu_pg_db). */
static int setup_pg(void **state)
{
    (void)state;
    pg_uri = tu_pg_db(pg_name);
    return setup_on(pg_uri);
}

static int teardown(void **state)
{
    (void)state;
    tu_server_stop(&tw);
    tu_rmdir(dir);
    dir = NULL;
    if (pg_uri) {
        tu_pg_drop(pg_name);
        free(pg_uri);
        pg_uri = NULL;
    }
    db = "h.db";
    return 0;
}

/* Starts tests/twilio_load.py posting the callbacks of list (in dir) to
 * port; what it answered goes to out. */
static pid_t load(int port, const char *list, const char *out)
{
    char *py = tu_src_path("tests/twilio_load.py");
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(dir) != 0 || !freopen("/dev/null", "wb", stdout))
            _exit(126);
        execl("/usr/bin/python3", "python3", py, TW_TOKEN, PUBLIC, ps, list, out, "32",
              (char *)NULL);
        _exit(127);
    }
    free(py);
    return pid;
}

static void wait_ok(pid_t pid)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* What the loader wrote to out: answer[m] is 'o' (200 ok), 'd' (200
 * duplicate) or 0 (not answered) for message m; returns how many were
 * answered, failing on an answer other than those. */
static int answers(const char *out, char *answer)
{
    char *p = tu_path(dir, out), *text = tu_read(p);
    int n = 0;
    memset(answer, 0, N + 1);
    for (char *line = text; line && *line;) {
        long long m;
        int status;
        char word[32];
        if (sscanf(line, "%lld %d %31s", &m, &status, word) != 3 || m < 1 || m > N)
            fail_msg("%s: a bad line '%.60s'", out, line);
        if (status != 200 || (strcmp(word, "ok") != 0 && strcmp(word, "duplicate") != 0))
            fail_msg("%s: message %lld answered %d %s", out, m, status, word);
        if (answer[m])
            fail_msg("%s: message %lld answered twice", out, m);
        answer[m] = word[0];
        n++;
        char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : line + strlen(line);
    }
    free(text);
    free(p);
    return n;
}

/* Lines of out written so far (the loader flushes each). */
static int answered(const char *out)
{
    char *p = tu_path(dir, out), *text = tu_read(p);
    int n = text ? (int)tu_count(text, "\n") : 0;
    free(text);
    free(p);
    return n;
}

/* in[m] = 1 for each message with a receipt row, failing unless each
 * was applied (its message exists: a receipt is kept and applied in one
 * transaction). */
static void receipts(char *in)
{
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE applied_at IS NULL"), 0);
    char *out =
        tu_sql_text(dir, db, "SELECT message_id FROM receipts WHERE applied_at IS NOT NULL");
    memset(in, 0, N + 1);
    for (char *line = out; *line;) {
        long long m = strtoll(line, &line, 10);
        assert_true(m >= 1 && m <= N);
        in[m] = 1;
        line += *line == '\n';
    }
    free(out);
}

static void test_receipts_kill(void **state)
{
    (void)state;
    static char first[N + 1], second[N + 1], in[N + 1];
    int port;
    pid_t srv = tu_serve_start(dir, "127.0.0.1:0", &port);
    pid_t py = load(port, "all.txt", "first.txt");
    for (int i = 0; i < 2000 && answered("first.txt") < KILL_AT; i++)
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    assert_int_equal(kill(srv, SIGKILL), 0);
    int st;
    assert_int_equal(waitpid(srv, &st, 0), srv);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
        fail_msg("herald serve was not killed but ended with status %#x", st);
    wait_ok(py);
    int ok = answers("first.txt", first);
    if (ok < KILL_AT || ok >= N)
        fail_msg("%d callbacks answered before the kill: the kill was not in the middle", ok);
    /* every one answered 200 is in the database, applied */
    receipts(in);
    for (int m = 1; m <= N; m++)
        if (first[m] && !in[m])
            fail_msg("message %d: answered 200, but no receipt after the kill", m);
    int64_t kept = q1("SELECT count(*) FROM receipts");
    assert_true(kept >= ok && kept < N);
    /* the gateway retries: everything not answered, and a sample of the rest */
    struct hd_buf retry;
    hd_buf_init(&retry);
    char *all_p = tu_path(dir, "all.txt"), *all = tu_read(all_p);
    int nretry = 0, sampled = 0;
    for (char *line = all; *line;) {
        char *nl = strchr(line, '\n');
        long long m = strtoll(line, NULL, 10);
        if (!first[m] || m % 5 == 0) {
            hd_buf_add(&retry, line, (size_t)(nl - line + 1));
            nretry++;
            sampled += first[m] != 0;
        }
        line = nl + 1;
    }
    write_file("retry.txt", retry.data);
    hd_buf_release(&retry);
    free(all);
    free(all_p);
    assert_true(sampled > 0);
    print_message("killed with %d of %d answered, %lld receipts kept; retrying %d (%d of them "
                  "answered before)\n",
                  ok, N, (long long)kept, nretry, sampled);
    srv = tu_serve_start(dir, "127.0.0.1:0", &port);
    py = load(port, "retry.txt", "second.txt");
    wait_ok(py);
    assert_int_equal(tu_serve_stop(srv), 0);
    assert_int_equal(answers("second.txt", second), nretry);
    for (int m = 1; m <= N; m++)
        if (second[m] && second[m] != (in[m] ? 'd' : 'o'))
            fail_msg("message %d: %s before the kill, %s after", m, in[m] ? "kept" : "not kept",
                     second[m] == 'o' ? "applied" : "a duplicate");
    /* each callback is one receipt row, applied once: one state move, one log row */
    assert_int_equal(q1("SELECT count(*) FROM receipts"), N);
    assert_int_equal(q1("SELECT count(DISTINCT message_id) FROM receipts WHERE applied_at IS NOT "
                        "NULL AND status = 'delivered'"),
                     N);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM messages WHERE state = %d", HD_ST_DELIVERED);
    assert_int_equal(q1(sql), N);
    assert_int_equal(q1("SELECT count(*) FROM attempts WHERE outcome = 'receipt'"), N);
    assert_int_equal(q1("SELECT count(DISTINCT message_id) FROM attempts WHERE outcome = "
                        "'receipt' AND reason = 'delivered'"),
                     N);
}

#define PAIRS 2000

static void test_receipts_same_message(void **state)
{
    (void)state;
    char *all_p = tu_path(dir, "all.txt"), *all = tu_read(all_p), *line = all, sql[512];
    struct hd_buf pairs;
    hd_buf_init(&pairs);
    for (int i = 0; i < PAIRS; i++) {
        char *nl = strchr(line, '\n');
        hd_buf_addf(&pairs, "%.*s delivered\n%.*s sent\n", (int)(nl - line), line, (int)(nl - line),
                    line);
        line = nl + 1;
    }
    write_file("pairs.txt", pairs.data);
    hd_buf_release(&pairs);
    free(all);
    free(all_p);
    int port;
    pid_t srv = tu_serve_start(dir, "127.0.0.1:0", &port);
    wait_ok(load(port, "pairs.txt", "pairs.out"));
    assert_int_equal(tu_serve_stop(srv), 0);
    char *out_p = tu_path(dir, "pairs.out"), *out = tu_read(out_p);
    assert_int_equal(tu_count(out, " 200 ok\n"), 2 * PAIRS); /* none refused, none a copy */
    free(out);
    free(out_p);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM messages WHERE state = %d", HD_ST_DELIVERED);
    assert_int_equal(q1(sql), PAIRS);
    assert_int_equal(q1("SELECT count(*) FROM attempts WHERE outcome = 'receipt'"), 2 * PAIRS);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM attempts s JOIN attempts d ON d.message_id = s.message_id "
             "WHERE s.outcome = 'receipt' AND s.reason = 'sent' AND d.outcome = 'receipt' AND "
             "d.reason = 'delivered' AND d.id < s.id AND s.state <> %d",
             HD_ST_DELIVERED);
    assert_int_equal(q1(sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM attempts s JOIN attempts d ON d.message_id = s.message_id "
             "WHERE s.outcome = 'receipt' AND s.reason = 'sent' AND d.outcome = 'receipt' AND "
             "d.reason = 'delivered' AND d.id < s.id");
    print_message("%lld of %d \"sent\" reports came after their \"delivered\"\n",
                  (long long)q1(sql), PAIRS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_receipts_kill, setup, teardown),
        {"test_receipts_kill_pg", test_receipts_kill, setup_pg, teardown, NULL},
        cmocka_unit_test_setup_teardown(test_receipts_same_message, setup, teardown),
        {"test_receipts_same_message_pg", test_receipts_same_message, setup_pg, teardown, NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
