/* test_pg_send: `campaign create` and `herald send` on PostgreSQL (issue
 * 23, stage 3b) give what they give on SQLite. One store is built on
 * SQLite (the example configuration and templates, the 500 sample
 * contacts, an opt-out, suppressions, a segment whose compiled SQL both
 * engines take: a time zone or reachable by email), and `herald db copy`
 * takes it to a fresh PostgreSQL database (the audience's writes are not on
 * PostgreSQL yet). Then on each engine, each in a folder of its own (its
 * outbox): the same campaign with a 10% holdout, two variants and a
 * fallback from email to push and SMS, sent to the outbox. Compared: every
 * message's final state, variant, channel and due time per contact (the
 * holdout and variant come from C on PostgreSQL, from SQL functions on
 * SQLite); the outbox's files by their Message-ID, byte for byte (a
 * Maildir name's delivery counter is normalised: the four connections
 * write in any order); `herald log` without the attempt id, the time and
 * the outbox file name (same reasons); `herald stats` without its
 * latencies. A crash: `herald send` on PostgreSQL at a slow rate, SIGKILLed
 * once files appear, then run again: every message ends terminal, none is
 * lost, and the duplicates are at most what the killed dispatcher had in
 * flight (its `requeued` log rows). Refused alike, nothing written: a
 * campaign name taken, a rule PostgreSQL does not take yet. */
#include "testnet.h"

#include <signal.h>
#include <time.h>

static char *lite_dir, *pg_dir, *uri;
static char dbname[64];

#define OK(dir, ...) tu_herald_ok_argv(dir, (const char *const[]){__VA_ARGS__, NULL})
/* the same on PostgreSQL */
#define PG_OK(...) tu_herald_ok_argv(pg_dir, (const char *const[]){"--db", uri, __VA_ARGS__, NULL})

/* The link signing secret `init` made, so both engines' links are the same. */
static void share_secret(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir -m 700 -p '%s/var' && cp -p '%s/var/herald.secret' '%s/var/'",
             dir, lite_dir, dir);
    free(tu_sh(cmd));
}

static int setup(void **state)
{
    (void)state;
    struct tu_run r;
    char *conf = tu_src_path("etc/herald.conf"), *csv = tu_src_path("examples/contacts.csv");
    setenv("HERALD_CONFIG", conf, 1);
    setenv("HERALD_NOW", "2026-11-22T09:00:00Z", 1);
    unsetenv("PGPASSWORD");
    lite_dir = tu_tmpdir_templates();
    pg_dir = tu_tmpdir_templates();
    OK(lite_dir, "init");
    share_secret(pg_dir);
    OK(lite_dir, "contacts", "import", csv, "--default-region", "CN");
    OK(lite_dir, "contacts", "optout", "c0002", "--channel", "email", "--category", "marketing");
    OK(lite_dir, "suppress", "add", "user4@example.cn", "--reason", "unsubscribed");
    OK(lite_dir, "segment", "define", "target", "timezone = \"Asia/Shanghai\" or reachable(email)");
    /* 17:00 there: outside quiet hours, so no message waits for a later time */
    OK(lite_dir, "segment", "define", "shanghai", "timezone = \"Asia/Shanghai\"");
    uri = tu_pg_db(dbname);
    tu_herald(&r, lite_dir, NULL, "db", "copy", "var/herald.db", uri, NULL);
    if (r.status != 0)
        fail_msg("copy to PostgreSQL: %s%s", r.out, r.err);
    tu_run_release(&r);
    free(conf);
    free(csv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_pg_drop(dbname);
    free(uri);
    tu_rmdir(lite_dir);
    tu_rmdir(pg_dir);
    return 0;
}

/* A query's rows on both engines (sqlite3 and psql, '|' between columns). */
static char *lite_rows(const char *sql)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "sqlite3 '%s/var/herald.db' \"%s\"", lite_dir, sql);
    return tu_sh(cmd);
}

static char *pg_rows(const char *sql)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "psql -X -At '%s' -c \"%s\"", uri, sql);
    return tu_sh(cmd);
}

/* herald argv's stdout in dir (on PostgreSQL with --db), piped through
 * the shell's filter. */
static char *output(bool pg, const char *args, const char *filter)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s%s%s %s | %s", pg ? pg_dir : lite_dir,
             tu_herald_bin(), pg ? "--db '" : "", pg ? uri : "", pg ? "'" : "", args, filter);
    return tu_sh(cmd);
}

static void same_output(const char *args, const char *filter)
{
    char *lite = output(false, args, filter), *pg = output(true, args, filter);
    if (strcmp(lite, pg) != 0)
        fail_msg("herald %s differs on PostgreSQL:\n--- SQLite\n%s\n--- PostgreSQL\n%s", args, lite,
                 pg);
    assert_true(strlen(lite) > 40); /* it compared something */
    free(lite);
    free(pg);
}

/* Each outbox email as "Message-ID sha256", then the JSON lines files'
 * lines (SMS, push), each sorted: the connections write in any order. */
static char *outbox(const char *dir)
{
    char cmd[1024];
    snprintf(
        cmd, sizeof cmd,
        "cd '%s/var/outbox' && for f in $(find . -name '*.eml' | sort); do printf '%%s %%s\\n' "
        "\"$(grep -m1 '^Message-ID:' \"$f\")\" \"$(sha256sum < \"$f\" | cut -c1-64)\"; "
        "done | sort && for f in $(find . -name '*.jsonl' | sort); do echo \"$f\"; sort "
        "\"$f\"; done",
        dir);
    return tu_sh(cmd);
}

/* Refused on PostgreSQL as on SQLite, nothing written: a name taken, and
 * a segment that does not exist; a rule of SQLite's JSON-free kind and one
 * `not` (which the first compiler for PostgreSQL could not write) both
 * make a campaign there. */
static void test_pg_send_refused(void **state)
{
    (void)state;
    struct tu_run r;
    OK(lite_dir, "segment", "define", "notsms", "not reachable(sms)");
    char name[64], *other = tu_pg_db(name), *count;
    tu_herald(&r, lite_dir, NULL, "db", "copy", "var/herald.db", other, NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    tu_herald(&r, pg_dir, NULL, "--db", other, "campaign", "create", "x", "--segment", "notsms",
              "--template", "recall", "--channels", "email", "--now", NULL);
    if (r.status != 0)
        fail_msg("a campaign of 'not reachable(sms)': %s", r.err);
    tu_run_release(&r);
    tu_herald(&r, pg_dir, NULL, "--db", other, "campaign", "create", "z", "--segment", "nosuch",
              "--template", "recall", "--channels", "email", "--now", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "no segment 'nosuch'");
    tu_run_release(&r);
    tu_herald(&r, pg_dir, NULL, "--db", other, "campaign", "create", "y", "--segment", "shanghai",
              "--template", "recall", "--channels", "email", "--now", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    tu_herald(&r, pg_dir, NULL, "--db", other, "campaign", "create", "y", "--segment", "target",
              "--template", "recall", "--channels", "sms", "--now", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "campaign 'y' exists");
    tu_run_release(&r);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "psql -X -At '%s' -c \"SELECT string_agg(name || '=' || segment, ',' ORDER BY name) "
             "FROM campaigns WHERE name IN ('x', 'y', 'z')\"",
             other);
    count = tu_sh(cmd);
    assert_string_equal(count, "x=notsms,y=shanghai\n");
    free(count);
    tu_pg_drop(name);
    free(other);
}

static void test_pg_send_same(void **state)
{
    (void)state;
    const char *create[] = {"campaign",   "create",    "spring",     "--segment",      "target",
                            "--template", "recall",    "--channels", "email,push,sms", "--variants",
                            "a=50,b=50",  "--holdout", "10",         "--expires",      "2d",
                            "--now",      NULL};
    tu_herald_ok_argv(lite_dir, create);
    const char *pgc[24] = {"--db", uri};
    for (size_t i = 0; create[i]; i++)
        pgc[i + 2] = create[i];
    tu_herald_ok_argv(pg_dir, pgc);
    same_output("campaign estimate spring", "cat"); /* the claim's facts, by the rule */
    OK(lite_dir, "send", "spring");
    PG_OK("send", "spring");
    /* due at 10:00 in each contact's zone: the due times come from C on both */
    OK(lite_dir, "campaign", "create", "local", "--segment", "target", "--template", "recall",
       "--channels", "email", "--local-time", "10:00", "--expires", "1d");
    PG_OK("campaign", "create", "local", "--segment", "target", "--template", "recall",
          "--channels", "email", "--local-time", "10:00", "--expires", "1d");
    OK(lite_dir, "send", "local");
    PG_OK("send", "local");

    static const char per_contact[] =
        "SELECT k.name, c.ext_id, m.state, coalesce(m.variant, '-'), coalesce(m.channel, -1), "
        "m.ch_index, m.attempts, m.not_before, coalesce(m.expires_at, 0), coalesce(m.reason, '') "
        "FROM messages m JOIN contacts c ON c.id = m.contact_id JOIN runs r ON r.id = m.run_id "
        "JOIN campaigns k ON k.id = r.campaign_id ORDER BY k.name, c.ext_id";
    char *lite = lite_rows(per_contact), *pg = pg_rows(per_contact);
    assert_string_equal(lite, pg);
    assert_true(tu_count(lite, "\n") > 400);
    assert_true(tu_count(lite, "local|") > 200);
    assert_true(strstr(lite, "|8|") || strstr(lite, "|9|")); /* held out ones are there */
    free(lite);
    free(pg);
    char *zones = lite_rows("SELECT count(DISTINCT m.not_before) FROM messages m JOIN runs r ON "
                            "r.id = m.run_id JOIN campaigns k ON k.id = r.campaign_id WHERE "
                            "k.name = 'local'");
    assert_true(atoi(zones) > 1); /* the zones' 10:00 are different times */
    free(zones);
    static const char by_state[] =
        "SELECT state, coalesce(variant, '-'), count(*) FROM messages GROUP BY 1, 2 ORDER BY 1, 2";
    lite = lite_rows(by_state);
    pg = pg_rows(by_state);
    assert_string_equal(lite, pg);
    free(lite);
    free(pg);

    lite = outbox(lite_dir);
    pg = outbox(pg_dir);
    assert_string_equal(lite, pg);
    assert_true(tu_count(lite, "Message-ID:") > 100);
    free(lite);
    free(pg);

    /* the log: without the attempt id, the time and the outbox's file name */
    same_output(
        "log --campaign spring --format csv",
        "cut -d, -f3-17,19- | sed -E 's/[0-9]+\\.[0-9a-f-]+\\.[0-9]+\\.herald\\.eml/F/g' | sort");
    same_output("stats spring", "grep -v latency");
    same_output("stats spring --by variant", "grep -v latency");
    same_output("campaign show spring", "grep -v -i 'latency'");
    same_output("campaign estimate spring", "cat"); /* now capped by what was sent */

    /* campaign retry: some messages failed, re-queued alike (the log's detail too) */
    static const char fail_some[] = "UPDATE messages SET state = 5 WHERE state = 2 AND contact_id "
                                    "< 40 AND run_id = (SELECT min(id) FROM runs)";
    free(lite_rows(fail_some));
    free(pg_rows(fail_some));
    OK(lite_dir, "campaign", "retry", "spring");
    PG_OK("campaign", "retry", "spring");
    same_output("log --campaign spring --outcome skipped --format csv",
                "cut -d, -f3- | grep requeued | sort");

    /* log prune: the same totals kept (herald_lat_bucket as SQL on PostgreSQL) */
    setenv("HERALD_NOW", "2026-12-22T09:00:00Z", 1);
    same_output("log prune --older-than 10d", "cat");
    setenv("HERALD_NOW", "2026-11-22T09:00:00Z", 1);
    static const char totals[] =
        "SELECT campaign_id, variant, channel, provider, day, outcome, reason, state, n, "
        "segments, CAST(cost * 1000 AS int) FROM log_totals ORDER BY 1, 2, 3, 4, 5, 6, 7, 8";
    lite = lite_rows(totals);
    pg = pg_rows(totals);
    assert_string_equal(lite, pg);
    assert_true(tu_count(lite, "accepted") > 2);
    free(lite);
    free(pg);
    same_output("stats spring", "grep -v latency");
}

/* Polls until dir's outbox holds at least n files (bounded) while pid runs. */
static void await_files(const char *dir, int n, pid_t pid)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "find '%s/var/outbox' -type f 2>/dev/null | wc -l", dir);
    for (int i = 0; i < 3000; i++) {
        char *out = tu_sh(cmd);
        int k = atoi(out);
        free(out);
        if (k >= n)
            return;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            fail_msg("herald send ended (status %d) before %d files were in the outbox", st, n);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("no %d files in the outbox after 30 s", n);
}

static void test_pg_send_crash(void **state)
{
    (void)state;
    char *dir = tu_tmpdir_templates(), *conf = tu_path(dir, "slow.conf"),
         *src = tu_src_path("etc/herald.conf"), cmd[2048], name[64], *first = uri;
    struct tu_run r;
    /* a database of its own: the other test's sends would cap these */
    uri = tu_pg_db(name);
    tu_herald(&r, lite_dir, NULL, "db", "copy", "var/herald.db", uri, NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    /* the outbox at 40 messages a second: the campaign takes seconds; a
     * node without a beat for 2 s is lost (its messages rescued) */
    snprintf(cmd, sizeof cmd,
             "sed 's|^rate = 1000/s|rate = 40/s|; s|^node_lease = 30s|node_lease = 2s|' '%s' > "
             "'%s'",
             src, conf);
    free(tu_sh(cmd));
    share_secret(dir);
    OK(dir, "-c", conf, "--db", uri, "campaign", "create", "crash", "--segment", "shanghai",
       "--template", "recall", "--channels", "email", "--now");
    const char *args[] = {"-c", conf, "--db", uri, "send", "crash", NULL};
    pid_t pid = tu_herald_spawn(dir, "send.log", args);
    await_files(dir, 30, pid);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st)); /* killed mid-campaign, not finished */
    char *before = pg_rows("SELECT count(*) FROM messages m JOIN runs r ON r.id = m.run_id JOIN "
                           "campaigns c ON c.id = r.campaign_id WHERE c.name = 'crash' AND "
                           "m.state IN (0, 1, 6, 7)");
    assert_true(atoi(before) > 0); /* work was left */
    free(before);
    /* a send before the killed node is lost (a lease of a minute here):
     * it sends the rest and leaves the held ones, and says so (it was
     * quiet, as if the campaign were done) */
    char *conf60 = tu_path(dir, "lease60.conf");
    snprintf(cmd, sizeof cmd, "sed 's|^node_lease = 2s|node_lease = 60s|' '%s' > '%s'", conf,
             conf60);
    free(tu_sh(cmd));
    tu_herald(&r, dir, NULL, "-c", conf60, "--db", uri, "send", "crash", NULL);
    if (r.status != 0 || !strstr(r.err, "held by another node"))
        fail_msg("send beside a killed node: exit %d\n%s%s", r.status, r.out, r.err);
    tu_run_release(&r);
    free(conf60);
    /* its messages are rescued once its beat is older than the lease, not
     * before (test_pg_nodes): the run again waits for that */
    for (int i = 0;; i++) {
        char *quiet =
            pg_rows("SELECT count(*) FROM nodes WHERE stopped_at IS NULL AND "
                    "heartbeat_at >= CAST(floor(extract(epoch FROM now())) AS bigint) - 3");
        bool lost = strcmp(quiet, "0\n") == 0;
        free(quiet);
        if (lost)
            break;
        if (i == 1000)
            fail_msg("the killed node still looks alive after 10 s");
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    OK(dir, "-c", conf, "--db", uri, "send", "crash");

    static const char open_sql[] =
        "SELECT count(*) FROM messages m JOIN runs r ON r.id = m.run_id JOIN campaigns c ON c.id "
        "= r.campaign_id WHERE c.name = 'crash' AND m.state IN (0, 1, 6, 7)";
    char *open = pg_rows(open_sql);
    assert_string_equal(open, "0\n"); /* every message terminal */
    free(open);
    /* none lost: each message sent is in the outbox; duplicates at most the
     * messages the killed dispatcher had in flight, each logged requeued */
    char *sent = pg_rows("SELECT count(*) FROM messages m JOIN runs r ON r.id = m.run_id JOIN "
                         "campaigns c ON c.id = r.campaign_id WHERE c.name = 'crash' AND "
                         "m.state = 2");
    char *requeued = pg_rows("SELECT count(*) FROM attempts a JOIN campaigns c ON c.id = "
                             "a.campaign_id WHERE c.name = 'crash' AND a.reason = 'requeued'");
    snprintf(cmd, sizeof cmd,
             "cd '%s/var/outbox' && find . -type f | wc -l && find . -type f -exec grep -h -m1 "
             "'^X-Herald-Message:' {} + | sort -u | wc -l",
             dir);
    char *files = tu_sh(cmd);
    int nfiles = 0, distinct = 0;
    assert_int_equal(sscanf(files, "%d %d", &nfiles, &distinct), 2);
    assert_int_equal(distinct, atoi(sent));
    assert_true(atoi(sent) > 150);
    assert_true(atoi(requeued) > 0); /* the killed one had messages in flight */
    assert_true(nfiles - distinct <= atoi(requeued));
    free(files);
    free(sent);
    free(requeued);
    free(src);
    free(conf);
    tu_rmdir(dir);
    tu_pg_drop(name);
    free(uri);
    uri = first;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_send_same),
        cmocka_unit_test(test_pg_send_crash),
        cmocka_unit_test(test_pg_send_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
