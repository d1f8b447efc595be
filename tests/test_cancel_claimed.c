/* test_cancel_claimed: `herald campaign cancel` while `herald run` holds
 * claimed messages that wait for the provider's tokens. The cancel marks
 * the campaign's runs done, so they are no longer among the active runs
 * the dispatcher reads again, and it kept the campaign's status from
 * before: every claimed message went out after the cancel (a review sent
 * 200 of 300 so, and 609 with three nodes). Now the dispatcher reads the
 * status of a run it still holds messages of too, gives them back and they
 * end cancelled: what reaches the outbox after the cancel is at most what
 * was already at the driver and a second at the rate (the status is read
 * once a second; a fresh-clone CI run saw 15 at 20/s, so the bound is not
 * half a second's worth). The cancel's line counts them: it said "0 unsent
 * messages cancelled" while the dispatcher went on to cancel 200; now it
 * says how many the dispatcher holds, and that those no gateway has by the
 * time it sees the cancel end cancelled. A dispatcher killed before it
 * read the cancel left them queued for good: the next start cancels them
 * (test_cancel_killed). */
#include "testnet.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

enum { CONTACTS = 300, RATE = 20 };

static char *dir;

static const char tpl[] = "description: cancel test\ncategory: transactional\n"
                          "from: Acme <hello@example.com>\n\n"
                          "--- email.subject\nHello {{ first_name }}\n"
                          "--- email.text\nHello {{ first_name }}.\n";

static int64_t q1(const char *sql)
{
    return tu_sql1(dir, "h.db", sql);
}

/* The mails in the outbox so far. */
static int64_t outbox(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls '%s/ob/email/new' 2>/dev/null | wc -l", dir);
    char *out = tu_sh(cmd);
    int64_t n = atoll(out);
    free(out);
    return n;
}

/* The store, its contacts and the template; a campaign "c" to all of
 * them, created while herald run (its pid returned) sends. */
static pid_t prepare(void)
{
    char conf[512];
    snprintf(conf, sizeof conf,
             "[herald]\ndatabase = h.db\ntemplates = tpl\nlog_level = warn\n"
             "[provider outbox]\ntype = outbox\npath = ob\nrate = %d/s\nburst = 5\n"
             "[channel email]\nproviders = outbox\n",
             RATE);
    char *p = tu_path(dir, "h.conf"), *t = tu_path(dir, "tpl");
    tu_write(p, conf);
    free(p);
    assert_int_equal(mkdir(t, 0700), 0);
    free(t);
    tu_put_template(dir, "hello", tpl);
    struct hd_buf csv;
    hd_buf_init(&csv);
    hd_buf_adds(&csv, "id,email,first_name\n");
    for (int i = 0; i < CONTACTS; i++)
        hd_buf_addf(&csv, "c%d,c%d@example.com,C%d\n", i, i, i);
    p = tu_path(dir, "c.csv");
    tu_write(p, csv.data);
    free(p);
    hd_buf_release(&csv);
    TU_HERALD_OK(dir, "init");
    TU_HERALD_OK(dir, "contacts", "import", "c.csv");
    TU_HERALD_OK(dir, "segment", "define", "all", "email exists");
    const char *args[] = {"run", NULL};
    pid_t run = tu_herald_spawn(dir, "run.log", args);
    TU_HERALD_OK(dir, "campaign", "create", "c", "--segment", "all", "--template", "hello",
                 "--channels", "email", "--now");
    /* sending at the rate, with a batch claimed ahead of it */
    for (int i = 0; i < 600 && outbox() < 2 * RATE; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return run;
}

static void test_cancel_claimed(void **state)
{
    (void)state;
    pid_t run = prepare();
    struct tu_run r;
    tu_herald(&r, dir, NULL, "campaign", "cancel", "c", NULL);
    int64_t at_cancel = outbox();
    assert_int_equal(r.status, 0);
    /* "cancelled: N unsent messages cancelled now, and M messages a
     * running dispatcher holds: ..." */
    const char *now = strstr(r.out, "cancelled: "), *held = strstr(r.out, " cancelled now, and ");
    if (!now || !held ||
        !strstr(r.out, " a running dispatcher holds: it cancels those no gateway "
                       "has yet when it sees the cancel, within a second"))
        fail_msg("the cancel does not count what the dispatcher holds: %s", r.out);
    int64_t said_now = atoll(now + strlen("cancelled: ")),
            said_held = atoll(held + strlen(" cancelled now, and "));
    tu_run_release(&r);
    /* four seconds: at the rate, 80 of the claimed batch would be out by
     * then; the dispatcher reads the status again once a second, so up to
     * a second's worth (RATE) and the burst may still leave */
    struct timespec ts = {4, 0};
    nanosleep(&ts, NULL);
    int64_t after = outbox();
    kill(run, SIGTERM);
    int st;
    assert_int_equal(waitpid(run, &st, 0), run);
    int64_t sent = q1("SELECT count(*) FROM messages WHERE state = 2"),
            cancelled = q1("SELECT count(*) FROM messages WHERE state = 14"); /* HD_ST_CANCELLED */
    if (after - at_cancel > RATE + 10 || sent + cancelled != CONTACTS) {
        char *states = tu_sql_text(dir, "h.db",
                                   "SELECT group_concat(state || ':' || n) FROM (SELECT state, "
                                   "count(*) n FROM messages GROUP BY state)");
        fail_msg("%lld in the outbox at the cancel, %lld after; %lld sent, %lld cancelled (by "
                 "state: %s)",
                 (long long)at_cancel, (long long)after, (long long)sent, (long long)cancelled,
                 states);
    }
    assert_int_equal(sent, after); /* each sent message is in the outbox, once */
    /* every message cancelled was counted by the line, and of those it said
     * the dispatcher held, at most what it handed to a gateway before it saw
     * the cancel went out */
    if (said_held <= 0 || said_now + said_held < cancelled ||
        said_now + said_held - cancelled > RATE + 10)
        fail_msg("the cancel said %lld cancelled now and %lld held; %lld ended cancelled",
                 (long long)said_now, (long long)said_held, (long long)cancelled);
}

/* The dispatcher killed after the cancel, before it read it: what it held
 * went back to the queue, and no claim takes a cancelled campaign's
 * messages, so they stayed queued for good (a review found 221 so). The
 * next start cancels them. */
static void test_cancel_killed(void **state)
{
    (void)state;
    pid_t run = prepare();
    kill(run, SIGSTOP);
    TU_HERALD_OK(dir, "campaign", "cancel", "c");
    kill(run, SIGKILL);
    int st;
    assert_int_equal(waitpid(run, &st, 0), run);
    TU_HERALD_OK(dir, "run", "--once");
    int64_t queued = q1("SELECT count(*) FROM messages WHERE state = 0"),
            sent = q1("SELECT count(*) FROM messages WHERE state = 2"),
            cancelled = q1("SELECT count(*) FROM messages WHERE state = 14"); /* HD_ST_CANCELLED */
    if (queued || sent + cancelled != CONTACTS)
        fail_msg("after the restart: %lld queued, %lld sent, %lld cancelled", (long long)queued,
                 (long long)sent, (long long)cancelled);
    assert_int_equal(q1("SELECT count(*) FROM attempts WHERE reason = 'cancelled'"), cancelled);
}

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    setenv("HERALD_CONFIG", "h.conf", 1);
    unsetenv("HERALD_NOW");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cancel_claimed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_killed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
