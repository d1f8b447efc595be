/* test_send_by: the checks a claim makes hold at the actual send. A claim
 * decides on a batch at once, and the provider's rate then spreads it out:
 * quiet hours that begin meanwhile, or an expiry that passes, were not
 * looked at again, and a review saw a provider at 5/s send 55 of 60
 * messages inside the recipients' quiet hours, and one at 2/s send all of
 * a campaign whose messages expired after 2 s. Now a claimed message
 * carries the time it must reach a gateway by; held by the rate past it,
 * it goes back and the next claim decides again: deferred to the window's
 * end, or expired. HERALD_NOW starts the clock just before 21:00. */
#include "testnet.h"

static char *dir;

static const char tpl[] = "description: send-by test\ncategory: transactional\n"
                          "from: Acme <hello@example.com>\n\n"
                          "--- email.subject\nHello {{ first_name }}\n"
                          "--- email.text\nHello {{ first_name }}.\n";

static int64_t q1(const char *sql)
{
    return tu_sql1(dir, "h.db", sql);
}

/* 60 contacts, a provider at rate, quiet hours from 21:00 UTC for
 * transactional messages, and campaign c created now (extra: more of its
 * options, or NULL), sent with herald send. */
static void send_campaign(const char *rate, const char *now, const char *extra)
{
    char conf[512];
    snprintf(conf, sizeof conf,
             "[herald]\ndatabase = h.db\ntemplates = tpl\ntimezone = UTC\nlog_level = warn\n"
             "[provider outbox]\ntype = outbox\npath = ob\nrate = %s\nburst = 1\n"
             "[channel email]\nproviders = outbox\n[quiet_hours]\ntransactional = 21:00-08:00\n",
             rate);
    char *p = tu_path(dir, "h.conf"), *t = tu_path(dir, "tpl");
    tu_write(p, conf);
    free(p);
    assert_int_equal(mkdir(t, 0700), 0);
    free(t);
    tu_put_template(dir, "m", tpl);
    struct hd_buf csv;
    hd_buf_init(&csv);
    hd_buf_adds(&csv, "id,email,first_name\n");
    for (int i = 0; i < 60; i++)
        hd_buf_addf(&csv, "c%d,c%d@example.com,C%d\n", i, i, i);
    p = tu_path(dir, "c.csv");
    tu_write(p, csv.data);
    free(p);
    hd_buf_release(&csv);
    setenv("HERALD_NOW", now, 1);
    TU_HERALD_OK(dir, "init");
    TU_HERALD_OK(dir, "contacts", "import", "c.csv");
    TU_HERALD_OK(dir, "segment", "define", "all", "email exists");
    if (extra)
        TU_HERALD_OK(dir, "campaign", "create", "c", "--segment", "all", "--template", "m",
                     "--channels", "email", "--now", "--expires", extra);
    else
        TU_HERALD_OK(dir, "campaign", "create", "c", "--segment", "all", "--template", "m",
                     "--channels", "email", "--now");
    TU_HERALD_OK(dir, "send", "c");
}

/* 2 s before quiet hours at 5/s: about ten go, the rest wait for 08:00. */
static void test_send_by_quiet(void **state)
{
    (void)state;
    send_campaign("5/s", "2026-12-21T20:59:58Z", NULL);
    int64_t late = q1("SELECT count(*) FROM attempts WHERE outcome = 'accepted' AND at >= "
                      "1797886800000"), /* 2026-12-21T21:00:00Z */
        sent = q1("SELECT count(*) FROM messages WHERE state = 2"),
            deferred = q1("SELECT count(*) FROM messages WHERE state = 7 AND not_before = "
                          "1797926400"); /* 2026-12-22T08:00:00Z */
    if (late != 0 || sent + deferred != 60 || sent > 15)
        fail_msg("%lld sent at 21:00 or after; %lld sent, %lld deferred to 08:00", (long long)late,
                 (long long)sent, (long long)deferred);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "why", "c59", "c", NULL);
    assert_contains(r.out, "deferred by quiet hours 21:00-08:00");
    tu_run_release(&r);
}

/* messages that expire 2 s after their time, at 2/s: about four go, the
 * rest end expired, none sent after it */
static void test_send_by_expiry(void **state)
{
    (void)state;
    send_campaign("2/s", "2026-12-21T10:00:00Z", "2s");
    int64_t late = q1("SELECT count(*) FROM attempts WHERE outcome = 'accepted' AND at >= "
                      "1797847202000"), /* 10:00:02Z */
        sent = q1("SELECT count(*) FROM messages WHERE state = 2"),
            expired = q1("SELECT count(*) FROM messages WHERE state = 12");
    if (late != 0 || sent + expired != 60 || sent > 8)
        fail_msg("%lld sent after the expiry; %lld sent, %lld expired", (long long)late,
                 (long long)sent, (long long)expired);
}

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    setenv("HERALD_CONFIG", "h.conf", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unsetenv("HERALD_NOW");
    tu_rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_send_by_quiet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_by_expiry, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
