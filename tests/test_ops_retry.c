/* test_ops_retry: the operator's repairs and guards, end to end through the
 * real binary (the outbox provider, so nothing leaves the machine):
 * `campaign retry` after a template that failed for every contact is fixed
 * (same message ids, variants and holdout, attempts going on in the same
 * log, one run in the stats), its --reason and --state filters, and its
 * refusals; a past --at refused and a send ahead of the schedule asking for
 * --now; `why` and `history` after `log prune` saying only what is still
 * known, and the time a deferred message is due. The database is read
 * directly (sqlite3 or psql) to check what the commands say; every case
 * runs on a SQLite file and on a PostgreSQL store. */
#include "testutil.h"

static char *dir;
static const char *db = "var/herald.db"; /* the store: the default file, or pg_uri */
static char *pg_uri, pg_name[64];        /* the PostgreSQL run's database */

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    char *tpl = tu_path(dir, "tpl");
    assert_int_equal(mkdir(tpl, 0700), 0);
    free(tpl);
    setenv("HERALD_CONFIG", "h.conf", 1);
    setenv("HERALD_NOW", "2026-11-22T12:00:00Z", 1);
    return 0;
}

/* The same with the store on a fresh PostgreSQL database. */
static int setup_pg(void **state)
{
    pg_uri = tu_pg_db(pg_name);
    db = pg_uri;
    return setup(state);
}

static int teardown(void **state)
{
    (void)state;
    tu_rmdir(dir);
    dir = NULL;
    if (pg_uri) {
        tu_pg_drop(pg_name);
        free(pg_uri);
        pg_uri = NULL;
    }
    db = "var/herald.db";
    return 0;
}

static void write_file(const char *name, const char *text)
{
    char *p = tu_path(dir, name);
    tu_write(p, text);
    free(p);
}

/* Runs herald in dir and expects exit status 0. */
#define HERALD_OK(...) TU_HERALD_OK(dir, __VA_ARGS__)

static int64_t q1(const char *sql)
{
    return tu_sql1(dir, db, sql);
}

/* The first column of the first row, as a new string ("" for none). */
static char *qs(const char *sql)
{
    char *v = tu_sql_text(dir, db, sql);
    v[strcspn(v, "\n")] = '\0';
    return v;
}

/* A template whose email text needs {{coupon}}, which no contact has:
 * strict rendering fails every message. Variant b has its own subject. */
static const char tpl_broken[] = "description: retry test\ncategory: marketing\n"
                                 "from: Acme <hello@example.com>\n\n"
                                 "--- email.subject\nHello {{ first_name }}\n"
                                 "--- email.subject @b\nHi {{ first_name }}\n"
                                 "--- email.text\nYour code: {{ coupon }}\n";
static const char tpl_fixed[] = "description: retry test\ncategory: marketing\n"
                                "from: Acme <hello@example.com>\n\n"
                                "--- email.subject\nHello {{ first_name }}\n"
                                "--- email.subject @b\nHi {{ first_name }}\n"
                                "--- email.text\nYour code: {{ coupon | default \"WELCOME\" }}\n";

enum { NCONTACTS = 60 };

/* NCONTACTS contacts with an email, in London; and a database. */
static void make_db(const char *conf_extra)
{
    struct hd_buf b;
    hd_buf_init(&b);
    /* marketing email carries signed unsubscribe links (issue 18) */
    hd_buf_addf(&b, "[herald]\ntemplates = tpl\n");
    if (pg_uri) /* else the default, var/herald.db */
        hd_buf_addf(&b, "database = %s\n", pg_uri);
    hd_buf_addf(&b, TU_SERVE_CONF "%s", conf_extra);
    write_file("h.conf", b.data);
    hd_buf_release(&b);
    hd_buf_init(&b);
    hd_buf_adds(&b, "id,email,first_name,timezone\n");
    for (int i = 0; i < NCONTACTS; i++)
        hd_buf_addf(&b, "k%02d,k%02d@example.com,Name%d,Europe/London\n", i, i, i);
    write_file("c.csv", b.data);
    hd_buf_release(&b);
    HERALD_OK("init");
    HERALD_OK("contacts", "import", "c.csv");
    HERALD_OK("segment", "define", "all", "email exists");
}

#define RETRY_MSGS                                                                                 \
    "FROM messages WHERE run_id IN (SELECT r.id FROM runs r JOIN campaigns c ON c.id = "           \
    "r.campaign_id WHERE c.name = 'recall')"

/* The campaign's messages: id, contact, variant, held out or not. */
static char *snapshot(void)
{
    static const char row[] = "id || ':' || contact_id || ':' || coalesce(variant, '-') || ':' || "
                              "CASE WHEN state = 8 THEN 1 ELSE 0 END";
    char sql[512];
    if (pg_uri) /* SQLite 3.40 has no string_agg */
        snprintf(sql, sizeof sql, "SELECT string_agg(%s, ',' ORDER BY id) " RETRY_MSGS, row);
    else
        snprintf(sql, sizeof sql,
                 "SELECT group_concat(%s, ',') FROM (SELECT * " RETRY_MSGS " ORDER BY id)", row);
    return qs(sql);
}

static void test_ops_retry_render_failed(void **state)
{
    (void)state;
    struct tu_run r;
    /* the circuit breaker off: every message fails here, and all are retried */
    make_db("[dispatch]\npause_on_failure_rate = 0\n");
    write_file("tpl/recall.tmpl", tpl_broken);
    HERALD_OK("campaign", "create", "recall", "--segment", "all", "--template", "recall",
              "--channels", "email", "--now", "--holdout", "20", "--variants", "a=50,b=50");
    /* send's exit status for failures is another item's: only what it did */
    tu_herald(&r, dir, NULL, "send", "recall", NULL);
    assert_contains(r.out, "render_failed");
    tu_run_release(&r);
    int64_t held = q1("SELECT count(*) " RETRY_MSGS " AND state = 8");
    int64_t failed = q1("SELECT count(*) " RETRY_MSGS " AND state = 13");
    assert_true(held > 0);
    assert_int_equal(held + failed, NCONTACTS);
    char *before = snapshot();
    int64_t rows = q1("SELECT count(*) FROM attempts");

    /* filters that match nothing are refused and write nothing */
    tu_herald(&r, dir, NULL, "campaign", "retry", "recall", "--reason", "rejected", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "nothing to retry in run 1 of campaign 'recall': no failed or "
                           "render_failed message with reason 'rejected'");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "campaign", "retry", "recall", "--state", "failed", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "no failed message");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "campaign", "retry", "recall", "--run", "7", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "campaign 'recall' has no run 7");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "campaign", "retry", "recall", "--state", "sent", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "--state: 'sent' is not failed or render_failed");
    tu_run_release(&r);
    assert_int_equal(q1("SELECT count(*) FROM attempts"), rows);
    assert_int_equal(q1("SELECT count(*) " RETRY_MSGS " AND state = 13"), failed);

    /* the cause is fixed; the retry takes exactly the failed ones */
    write_file("tpl/recall.tmpl", tpl_fixed);
    setenv("HERALD_NOW", "2026-11-22T12:05:00Z", 1);
    tu_herald(&r, dir, NULL, "campaign", "retry", "recall", "--reason", "render_failed", NULL);
    assert_int_equal(r.status, 0);
    char want[128];
    snprintf(want, sizeof want,
             "re-queued %lld messages of run 1 (render_failed, reason "
             "render_failed)",
             (long long)failed);
    assert_contains(r.out, want);
    assert_contains(r.out, "herald send recall");
    tu_run_release(&r);
    assert_int_equal(q1("SELECT count(*) " RETRY_MSGS " AND state = 0"), failed);
    assert_int_equal(q1("SELECT count(*) FROM attempts WHERE reason = 'requeued' AND text LIKE "
                        "'campaign retry:%'"),
                     failed);
    /* herald log tells the same, message by message */
    tu_herald(&r, dir, NULL, "log", "--campaign", "recall", "--reason", "requeued", "--format",
              "jsonl", NULL);
    assert_int_equal(r.status, 0);
    int64_t lines = 0;
    for (const char *p = r.out; (p = strstr(p, "\"outcome\":\"skipped\"")); p++)
        lines++;
    assert_int_equal(lines, failed);
    assert_contains(r.out, "\"text\":\"campaign retry: re-queued after render_failed");
    tu_run_release(&r);
    /* queued again, nothing is left to retry */
    tu_herald(&r, dir, NULL, "campaign", "retry", "recall", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "nothing to retry");
    tu_run_release(&r);

    setenv("HERALD_NOW", "2026-11-22T12:10:00Z", 1);
    HERALD_OK("send", "recall");
    /* the same messages (ids, contacts, variants, holdout), all sent but
     * the held-out ones, each sent once with its first attempt */
    char *after = snapshot();
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_int_equal(q1("SELECT count(*) " RETRY_MSGS " AND state = 2"), failed);
    assert_int_equal(q1("SELECT count(*) " RETRY_MSGS " AND state = 8"), held);
    assert_int_equal(q1("SELECT count(DISTINCT message_id) FROM attempts WHERE outcome = "
                        "'accepted' AND attempt = 1 AND message_id IN (SELECT id " RETRY_MSGS ")"),
                     failed);
    /* held-out contacts: one decision each, when the run was made */
    assert_int_equal(q1("SELECT count(*) FROM attempts WHERE message_id IN (SELECT id " RETRY_MSGS
                        " AND state = 8)"),
                     held);
    /* the log says it, in order, for a contact */
    char *k = qs("SELECT c.ext_id FROM contacts c JOIN messages m ON m.contact_id = c.id WHERE "
                 "m.state = 2 ORDER BY m.id LIMIT 1");
    tu_herald(&r, dir, NULL, "history", k, NULL);
    const char *p1 = strstr(r.out, "render_failed"), *p2 = strstr(r.out, "requeued"),
               *p3 = strstr(r.out, "accepted");
    if (!p1 || !p2 || !p3 || !(p1 < p2 && p2 < p3))
        fail_msg("history out of order:\n%s", r.out);
    assert_contains(r.out, "campaign retry: re-queued after render_failed");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "why", k, "recall", NULL);
    assert_contains(r.out, "requeued: campaign retry");
    assert_contains(r.out, "now: sent.");
    tu_run_release(&r);
    free(k);
    /* one campaign, one run: the stats are not split */
    tu_herald(&r, dir, NULL, "campaign", "show", "recall", NULL);
    assert_contains(r.out, "status       done");
    assert_contains(r.out, "run 1 ");
    assert_null(strstr(r.out, "run 2 "));
    tu_run_release(&r);
    assert_int_equal(q1("SELECT count(*) FROM runs"), 1);
    /* a cancelled campaign is never retried */
    HERALD_OK("campaign", "cancel", "recall");
    tu_herald(&r, dir, NULL, "campaign", "retry", "recall", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "campaign 'recall' is cancelled");
    tu_run_release(&r);
}

/* A gateway's permanent refusal (the outbox refuses a header with a line
 * break, as a real driver does), fixed in the contact's data: the retry
 * by the reason word goes on with attempt 2. */
static void test_ops_retry_failed_attempts(void **state)
{
    (void)state;
    struct tu_run r;
    make_db("");
    write_file("tpl/recall.tmpl", tpl_fixed);
    write_file("bad.csv", "id,first_name\nk03,\"Ann\r\nBcc: x@example.com\"\n");
    HERALD_OK("contacts", "import", "bad.csv");
    HERALD_OK("campaign", "create", "recall", "--segment", "all", "--template", "recall",
              "--channels", "email", "--now", "--variants", "a=50,b=50");
    tu_herald(&r, dir, NULL, "send", "recall", NULL);
    tu_run_release(&r);
    assert_int_equal(q1("SELECT count(*) " RETRY_MSGS " AND state = 5"), 1);
    assert_int_equal(q1("SELECT count(*) " RETRY_MSGS " AND state = 2"), NCONTACTS - 1);
    char *word = qs("SELECT reason FROM attempts WHERE outcome = 'permanent'");
    assert_true(word[0] != '\0');
    /* the campaign is done; fixing the data and retrying reopens it */
    write_file("good.csv", "id,first_name\nk03,Ann\n");
    HERALD_OK("contacts", "import", "good.csv");
    setenv("HERALD_NOW", "2026-11-22T12:05:00Z", 1);
    tu_herald(&r, dir, NULL, "campaign", "retry", "recall", "--run", "1", "--reason", word, NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "re-queued 1 message of run 1 (failed, reason ");
    tu_run_release(&r);
    free(word);
    assert_int_equal(q1("SELECT count(*) FROM campaigns WHERE status = 'running'"), 1);
    assert_int_equal(q1("SELECT count(*) FROM runs WHERE status = 'active'"), 1);
    HERALD_OK("send", "recall");
    assert_int_equal(q1("SELECT count(*) " RETRY_MSGS " AND state = 2"), NCONTACTS);
    assert_int_equal(q1("SELECT count(*) FROM runs WHERE status = 'done'"), 1);
    assert_int_equal(q1("SELECT count(*) FROM campaigns WHERE status = 'done'"), 1);
    /* the same message: attempt 1 refused, attempt 2 accepted */
    assert_int_equal(q1("SELECT count(*) FROM attempts a JOIN contacts c ON c.id = a.contact_id "
                        "WHERE c.ext_id = 'k03' AND ((a.attempt = 1 AND a.outcome = 'permanent') "
                        "OR (a.attempt = 2 AND a.outcome = 'accepted'))"),
                     2);
    assert_int_equal(q1("SELECT count(DISTINCT message_id) FROM attempts a JOIN contacts c ON "
                        "c.id = a.contact_id WHERE c.ext_id = 'k03'"),
                     1);
    assert_int_equal(q1("SELECT attempts FROM messages m JOIN contacts c ON c.id = m.contact_id "
                        "WHERE c.ext_id = 'k03'"),
                     2);
}

static void test_ops_retry_schedule_guards(void **state)
{
    (void)state;
    struct tu_run r;
    make_db("");
    write_file("tpl/recall.tmpl", tpl_fixed);
    tu_herald(&r, dir, NULL, "campaign", "create", "old", "--segment", "all", "--template",
              "recall", "--channels", "email", "--at", "2026-01-01T00:00:00Z", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "--at 2026-01-01T00:00:00Z is in the past; use --now to fire at once, "
                           "or give a future time");
    tu_run_release(&r);
    assert_int_equal(q1("SELECT count(*) FROM campaigns"), 0);
    HERALD_OK("campaign", "create", "old", "--segment", "all", "--template", "recall", "--channels",
              "email", "--now");
    /* a time later today is fine; a send before it asks for --now */
    HERALD_OK("campaign", "create", "later", "--segment", "all", "--template", "recall",
              "--channels", "email", "--at", "2027-01-01T09:00:00Z");
    tu_herald(&r, dir, NULL, "send", "later", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "campaign 'later' is scheduled for 2027-01-01T09:00:00Z; add --now to "
                           "send it now");
    tu_run_release(&r);
    assert_int_equal(q1("SELECT count(*) FROM runs"), 0);
    /* within a minute of its time, send goes without --now */
    HERALD_OK("campaign", "create", "soon", "--segment", "all", "--template", "recall",
              "--channels", "email", "--at", "2026-11-22T12:00:30Z");
    HERALD_OK("send", "soon");
    HERALD_OK("send", "later", "--now");
    assert_int_equal(q1("SELECT count(*) FROM messages WHERE state = 2"), 2 * NCONTACTS);
    HERALD_OK("send", "old");
    assert_int_equal(q1("SELECT count(*) FROM messages WHERE state = 2"), 3 * NCONTACTS);
}

/* Quiet hours in Shanghai hold one contact's message back: why and
 * history say when it is due; after a prune they say what is known. */
static void test_ops_retry_why_after_prune(void **state)
{
    (void)state;
    struct tu_run r;
    make_db("[quiet_hours]\nmarketing = 21:00-08:00\n");
    write_file("tpl/recall.tmpl", tpl_fixed);
    write_file("sh.csv", "id,email,timezone\nsh1,sh1@example.com,Asia/Shanghai\n");
    HERALD_OK("contacts", "import", "sh.csv");
    /* 14:00 UTC: 22:00 in Shanghai (quiet), 14:00 in London */
    setenv("HERALD_NOW", "2026-11-22T14:00:00Z", 1);
    HERALD_OK("campaign", "create", "promo", "--segment", "all", "--template", "recall",
              "--channels", "email", "--now");
    HERALD_OK("send", "promo", "--wait", "1m");
    tu_herald(&r, dir, NULL, "why", "sh1", "promo", NULL);
    assert_contains(r.out, "now: deferred, due 2026-11-23T08:00:00+08:00 (quiet hours "
                           "21:00-08:00 in Asia/Shanghai).");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "history", "sh1", NULL);
    assert_contains(r.out, ": deferred, due 2026-11-23T08:00:00+08:00 (quiet hours");
    tu_run_release(&r);

    /* an hour later the log before 14:30 is pruned */
    setenv("HERALD_NOW", "2026-11-22T15:00:00Z", 1);
    HERALD_OK("log", "prune", "--older-than", "30m");
    assert_int_equal(q1("SELECT count(*) FROM attempts"), 0);
    tu_herald(&r, dir, NULL, "why", "k01", "promo", NULL);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.out, "not considered yet"));
    assert_contains(r.out, "the log's steps before 2026-11-22T14:30:00Z were pruned");
    assert_contains(r.out, "now: sent.");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "why", "sh1", "promo", NULL);
    assert_null(strstr(r.out, "not considered yet"));
    assert_contains(r.out, "were pruned");
    assert_contains(r.out, "now: deferred, due 2026-11-23T08:00:00+08:00");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "history", "k01", NULL);
    assert_null(strstr(r.out, "no decision yet"));
    assert_contains(r.out, "message 2: sent\n  (log rows before 2026-11-22T14:30:00Z were pruned");
    tu_run_release(&r);

    /* a message that truly waits, with no prune in its way, says so */
    setenv("HERALD_NOW", "2026-11-22T15:10:00Z", 1);
    HERALD_OK("campaign", "create", "fresh", "--segment", "all", "--template", "recall",
              "--channels", "email", "--now");
    HERALD_OK("run", "--once");
    tu_herald(&r, dir, NULL, "why", "k01", "fresh", NULL);
    assert_null(strstr(r.out, "were pruned"));
    tu_run_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ops_retry_render_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_retry_failed_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_retry_schedule_guards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_retry_why_after_prune, setup, teardown),
        {"test_ops_retry_render_failed_pg", test_ops_retry_render_failed, setup_pg, teardown, NULL},
        {"test_ops_retry_failed_attempts_pg", test_ops_retry_failed_attempts, setup_pg, teardown,
         NULL},
        {"test_ops_retry_schedule_guards_pg", test_ops_retry_schedule_guards, setup_pg, teardown,
         NULL},
        {"test_ops_retry_why_after_prune_pg", test_ops_retry_why_after_prune, setup_pg, teardown,
         NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
