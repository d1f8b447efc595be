/* test_bounces: the bounce mailbox (issue 19). The DSN/ARF parser over
 * every fixture in tests/data/dsn (real DSNs made by this machine's
 * Postfix with make-dsn.sh and by Debian's Exim with make-exim-dsn.sh,
 * ARF samples written to RFC 5965's example, non-standard bounces, a
 * reply that is none), its kind, message number, recipient, code and
 * class asserted per file; VERP addresses read back; then end to end with
 * the real binary: the outbox records the VERP envelope sender as
 * Return-Path; a campaign over SMTP (tests/smtp_server.py) goes out with
 * envelope sender bounces+N@bounce.example.com, the Postfix
 * DSN made for that message is dropped into a Maildir, and `herald bounces
 * fetch` bounces the message, suppresses the address with its class, `why`
 * tells it, a mail that is no bounce is left and counted, and a second
 * fetch applies nothing; herald run polls the Maildir; the same over IMAP
 * (tests/imap_server.py); forged reports (a recipient that is not the
 * message's, none, a message not sent yet) change nothing and are left,
 * the genuine ones still apply; config errors. The end-to-end cases run on a
 * SQLite file, then on a PostgreSQL store. */
#include "testnet.h"

#include <glob.h>
#include <sys/stat.h>

#include "herald/bounce.h"
#include "herald/dsn.h"
#include "herald/state.h"

static struct hd_bounce_rules *load_rules(void)
{
    char *p = tu_src_path("etc/bounce-rules.tsv");
    struct hd_bounce_rules *r = NULL;
    struct hd_err e = {0};
    if (hd_bounce_rules_load(p, &r, &e) < 0)
        fail_msg("%s", e.msg);
    free(p);
    return r;
}

static char *fixture(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/dsn/%s", name);
    char *p = tu_src_path(rel), *text = tu_read(p);
    if (!text)
        fail_msg("cannot read %s", p);
    free(p);
    return text;
}

static void test_bounces_fixtures(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        int kind;
        int64_t ref;
        const char *rcpt, *status, *cls, *severity, *diag;
    } cases[] = {
        {"postfix-42.eml", HD_DSN_BOUNCE, 42, "nobody@example.com", "5.1.1", "invalid_recipient",
         "hard", "unknown user: \"nobody@example.com\""},
        {"postfix-43.eml", HD_DSN_BOUNCE, 43, "someone@refuse.test", "5.7.1", "spam_block", "none",
         "message refused: sender policy"},
        {"postfix-44.eml", HD_DSN_BOUNCE, 44, "quota@full.test", "5.2.2", "mailbox_full", "soft",
         "mailbox full: quota exceeded"},
        /* Debian's Exim 4.96 (make-exim-dsn.sh): Status is always X.0.0, the
         * remote's reply in Diagnostic-Code; an unknown local user has no
         * Diagnostic-Code, the reason is under the address in the text */
        {"exim-61.eml", HD_DSN_BOUNCE, 61, "nobody@example.com", "5.0.0", "invalid_recipient",
         "hard", "Unrouteable address"},
        {"exim-62.eml", HD_DSN_BOUNCE, 62, "nouser@refuse.test", "5.0.0", "invalid_recipient",
         "hard", "550 5.1.1 <nouser@refuse.test>: Recipient address rejected: User unknown"},
        {"exim-63.eml", HD_DSN_BOUNCE, 63, "quota@full.test", "5.0.0", "mailbox_full", "soft",
         "552 5.2.2 <quota@full.test>: Mailbox full, quota exceeded"},
        {"exim-64.eml", HD_DSN_BOUNCE, 64, "spam@spam.test", "5.0.0", "spam_block", "none",
         "554 5.7.1 Message rejected as spam"},
        {"exim-65.eml", HD_DSN_DELAY, 65, "later@later.test", "4.0.0", "transient", "soft",
         "451 4.2.0 <later@later.test>: Mailbox temporarily unavailable"},
        {"arf-abuse.eml", HD_DSN_COMPLAINT, 51, "carol@example.net", "", "unknown", "hard",
         "feedback report: abuse"},
        {"arf-headers.eml", HD_DSN_COMPLAINT, 52, "dave@isp.example", "", "unknown", "hard",
         "feedback report: abuse"},
        {"qmail-nonstandard.eml", HD_DSN_BOUNCE, 53, "erin@isp.example", "", "invalid_recipient",
         "hard", "Sorry, no mailbox here by that name. (#5.1.1)"},
        {"nonstandard-full.eml", HD_DSN_BOUNCE, 54, "", "", "mailbox_full", "soft",
         "552 frank's mailbox is over quota, mailbox full"},
    };
    struct hd_bounce_rules *rules = load_rules();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *text = fixture(cases[i].file);
        struct hd_dsn d;
        struct hd_err e = {0};
        if (hd_dsn_parse(text, strlen(text), rules, &d, &e) < 0)
            fail_msg("%s: %s", cases[i].file, e.msg);
        if (d.kind != cases[i].kind || d.ref != cases[i].ref ||
            strcmp(d.recipient, cases[i].rcpt) != 0 || strcmp(d.status, cases[i].status) != 0 ||
            strcmp(hd_bounce_class_name(d.bounce.cls), cases[i].cls) != 0 ||
            strcmp(hd_bounce_severity_name(d.bounce.severity), cases[i].severity) != 0 ||
            strcmp(d.diagnostic, cases[i].diag) != 0)
            fail_msg("%s: got %s %lld '%s' '%s' %s %s '%s'", cases[i].file,
                     hd_dsn_kind_name(d.kind), (long long)d.ref, d.recipient, d.status,
                     hd_bounce_class_name(d.bounce.cls), hd_bounce_severity_name(d.bounce.severity),
                     d.diagnostic);
        free(text);
    }
    /* the VERP address wins over the original's X-Herald-Message */
    char *t = fixture("postfix-42.eml");
    struct hd_dsn d;
    struct hd_err e = {0};
    char *x = strstr(t, "X-Herald-Message: 42");
    assert_non_null(x);
    memcpy(x, "X-Herald-Message: 99", 20);
    assert_int_equal(hd_dsn_parse(t, strlen(t), rules, &d, &e), 0);
    assert_int_equal(d.ref, 42);
    assert_string_equal(d.verp, "bounces+42@bounce.example.com");
    assert_string_equal(d.message_id, "0b6f1d4e-7c1a-4d6e-9a51-0000000000042@example.com");
    free(t);
    t = fixture("not-a-bounce.eml");
    assert_int_equal(hd_dsn_parse(t, strlen(t), rules, &d, &e), HD_E_PARSE);
    assert_contains(e.msg, "not a bounce");
    free(t);
    hd_bounce_rules_free(rules);
}

/* Reports written here: CRLF line ends, a delay, a success report. */
static void test_bounces_reports(void **state)
{
    (void)state;
    static const char delayed[] =
        "To: bounces+7@bounce.example.com\r\nSubject: Delayed Mail (still being retried)\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
        "--B\r\nContent-Type: text/plain\r\n\r\nStill trying.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n"
        "Original-Envelope-Id: env-7\r\n\r\nFinal-Recipient: rfc822; a@example.org\r\n"
        "Action: delayed\r\nStatus: 4.4.1\r\nDiagnostic-Code: smtp; 451 4.4.1\r\n"
        " connection timed out\r\n--B--\r\n";
    struct hd_dsn d;
    struct hd_err e = {0};
    assert_int_equal(hd_dsn_parse(delayed, strlen(delayed), NULL, &d, &e), 0);
    assert_int_equal(d.kind, HD_DSN_DELAY);
    assert_int_equal(d.ref, 7);
    assert_string_equal(d.envelope_id, "env-7");
    assert_string_equal(d.recipient, "a@example.org");
    assert_string_equal(d.status, "4.4.1");
    assert_string_equal(d.diagnostic, "451 4.4.1 connection timed out");
    static const char relayed[] =
        "To: bounces+8@bounce.example.com\nContent-Type: multipart/report; "
        "report-type=delivery-status; boundary=Z\n\n--Z\nContent-Type: "
        "message/delivery-status\n\nFinal-Recipient: rfc822; b@example.org\nAction: relayed\n"
        "Status: 2.0.0\n--Z--\n";
    assert_int_equal(hd_dsn_parse(relayed, strlen(relayed), NULL, &d, &e), HD_E_PARSE);
    assert_string_equal(e.msg, "a delivery report without a failure (action 'relayed')");
    static const struct {
        const char *addr, *base;
        int64_t ref;
    } verp[] = {
        {"bounces+12@bounce.example.com", "bounces@bounce.example.com", 12},
        {"a+b+305@x.example", "a+b@x.example", 305},
        {"bounces@bounce.example.com", NULL, 0},
        {"bounces+@x.example", NULL, 0},
        {"bounces+12a@x.example", NULL, 0},
        {"john+news@x.example", NULL, 0},
    };
    for (size_t i = 0; i < sizeof verp / sizeof *verp; i++) {
        char base[320] = "";
        assert_int_equal(hd_dsn_verp_ref(verp[i].addr, base, sizeof base), verp[i].ref);
        if (verp[i].base)
            assert_string_equal(base, verp[i].base);
    }
}

/* ---- end to end -------------------------------------------------------------------- */

static char *dir;
static struct tu_server smtp;
static const char *db = "h.db";   /* the store: "h.db" in dir, or pg_uri */
static char *pg_uri, pg_name[64]; /* the PostgreSQL run's database */

static const char tpl_news[] =
    "description: bounce test\ncategory: transactional\nfrom: Acme <hello@example.com>\n\n"
    "--- email.subject\nYour order, {{ first_name }}\n"
    "--- email.text\nHello {{ first_name }}, your order shipped.\n";

static int setup_on(const char *store)
{
    db = store;
    dir = tu_tmpdir();
    setenv("HERALD_NOW", "2026-11-22T12:00:00Z", 1);
    setenv("HERALD_CONFIG", "h.conf", 1);
    char *py = tu_src_path("tests/smtp_server.py");
    const char *argv[] = {"/usr/bin/python3", py, "--out", "smtp", NULL};
    char *out = tu_path(dir, "smtp");
    assert_int_equal(mkdir(out, 0700), 0);
    free(out);
    tu_server_start(&smtp, dir, argv, "the SMTP server (is python3-aiosmtpd installed?)");
    free(py);
    char *rules = tu_src_path("etc/bounce-rules.tsv"), conf[2048];
    snprintf(conf, sizeof conf,
             "[herald]\ndatabase = %s\ntemplates = tpl\nlog_level = warn\n" TU_SERVE_CONF
             "[receipts]\nbounce_rules = %s\n"
             "[provider mail]\ntype = smtp\nhost = 127.0.0.1\nport = %d\nstarttls = none\n"
             "timeout = 10s\nbounce_address = bounces@bounce.example.com\n"
             "[provider box]\ntype = outbox\npath = ob\nbounce_address = b@bounce.example.com\n"
             "[channel email]\nproviders = mail\n[bounces]\nmaildir = mb\n",
             db, rules, smtp.port);
    free(rules);
    char *p = tu_path(dir, "h.conf");
    tu_write(p, conf);
    free(p);
    p = tu_path(dir, "c.csv");
    tu_write(p, "id,email,first_name\nc1,ann@example.org,Ann\nc2,bo@example.org,Bo\n");
    free(p);
    static const char *const sub[] = {"tpl", "mb", "mb/new", "mb/cur", "mb/tmp"};
    for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
        char *d = tu_path(dir, sub[i]);
        mkdir(d, 0700);
        free(d);
    }
    tu_put_template(dir, "news", tpl_news);
    TU_HERALD_OK(dir, "init");
    TU_HERALD_OK(dir, "contacts", "import", "c.csv");
    TU_HERALD_OK(dir, "segment", "define", "all", "email exists");
    return 0;
}

static int e2e_setup(void **state)
{
    (void)state;
    return setup_on("h.db");
}

/* The same on a fresh PostgreSQL database (tu_pg_db). */
static int e2e_setup_pg(void **state)
{
    (void)state;
    pg_uri = tu_pg_db(pg_name);
    return setup_on(pg_uri);
}

static int e2e_teardown(void **state)
{
    (void)state;
    tu_server_stop(&smtp);
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

static char *run_ok(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5)
{
    struct tu_run r;
    tu_herald(&r, dir, NULL, a1, a2, a3, a4, a5, NULL);
    if (r.status != 0)
        fail_msg("herald %s %s exited %d: %s %s", a1, a2 ? a2 : "", r.status, r.out, r.err);
    char *out = hd_xstrdup(r.out);
    tu_run_release(&r);
    return out;
}

static int64_t q1(const char *sql)
{
    return tu_sql1(dir, db, sql);
}

/* The number of contact's message in campaign name. */
static int64_t msg_of(const char *name, const char *contact)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT m.id FROM messages m JOIN runs r ON r.id = m.run_id JOIN campaigns k ON "
             "k.id = r.campaign_id JOIN contacts c ON c.id = m.contact_id WHERE k.name = '%s' "
             "AND c.ext_id = '%s'",
             name, contact);
    int64_t m = q1(sql);
    assert_true(m > 0);
    return m;
}

/* Creates and sends campaign name to everyone; the number of contact's
 * message in it. */
static int64_t campaign(const char *name, const char *contact)
{
    TU_HERALD_OK(dir, "campaign", "create", name, "--segment", "all", "--template", "news",
                 "--channels", "email", "--now");
    free(run_ok("send", name, "--wait", "30s", NULL));
    return msg_of(name, contact);
}

/* Replaces every from in text by to (the caller frees the result). */
static char *replace(const char *text, const char *from, const char *to)
{
    struct hd_buf b;
    hd_buf_init(&b);
    for (const char *p = text, *q; *p; p = q + strlen(from)) {
        if (!(q = strstr(p, from))) {
            hd_buf_adds(&b, p);
            break;
        }
        hd_buf_add(&b, p, (size_t)(q - p));
        hd_buf_adds(&b, to);
    }
    return hd_buf_detach(&b, NULL);
}

static void drop_mail(const char *name, const char *text)
{
    char rel[256];
    snprintf(rel, sizeof rel, "mb/new/%s", name);
    char *p = tu_path(dir, rel);
    tu_write(p, text);
    free(p);
}

static void test_bounces_end_to_end(void **state)
{
    (void)state;
    int64_t m = campaign("n2", "c1");
    /* the envelope sender the SMTP server saw names the message */
    char want[128], verp[64], num[32];
    snprintf(verp, sizeof verp, "bounces+%lld", (long long)m);
    snprintf(want, sizeof want, "\"mail_from\": \"%s@bounce.example.com\"", verp);
    bool seen = false;
    for (int i = 1; i <= 2; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "smtp/%d.json", i);
        char *p = tu_path(dir, rel), *j = tu_read(p);
        seen = seen || (j && strstr(j, want) && strstr(j, "ann@example.org"));
        free(j);
        free(p);
    }
    if (!seen)
        fail_msg("no message with %s", want);
    /* Postfix's DSN for it, into the Maildir, and a reply that is none */
    char *dsn = fixture("postfix-42.eml"), *a = replace(dsn, "bounces+42", verp);
    snprintf(num, sizeof num, "X-Herald-Message: %lld", (long long)m);
    char *b = replace(a, "X-Herald-Message: 42", num);
    char *c = replace(b, "nobody@example.com", "ann@example.org");
    drop_mail("1.dsn", c);
    char *reply = fixture("not-a-bounce.eml");
    drop_mail("2.reply", reply);
    free(dsn), free(a), free(b), free(c), free(reply);
    char *out = run_ok("bounces", "fetch", NULL, NULL, NULL);
    assert_contains(out, "2 read: 1 applied, 0 pending (message not known yet), 0 already "
                         "applied, 1 left (not a bounce)");
    free(out);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT state FROM messages WHERE id = %lld", (long long)m);
    assert_int_equal(q1(sql), HD_ST_BOUNCED);
    out = run_ok("suppress", "list", NULL, NULL, NULL);
    assert_contains(out, "ann@example.org");
    assert_contains(out, "hard_bounce");
    assert_null(strstr(out, "bo@example.org"));
    free(out);
    out = run_ok("why", "c1", "n2", NULL, NULL);
    assert_contains(out, "5.1.1");
    assert_contains(out, "invalid_recipient");
    free(out);
    /* done: moved to cur/ with S; the reply left in new/ */
    char *p = tu_path(dir, "mb/cur/1.dsn:2,S");
    assert_true(tu_exists(p));
    free(p);
    p = tu_path(dir, "mb/new/2.reply");
    assert_true(tu_exists(p));
    free(p);
    /* a second fetch applies nothing */
    out = run_ok("bounces", "fetch", NULL, NULL, NULL);
    assert_contains(out, "1 read: 0 applied, 0 pending (message not known yet), 0 already "
                         "applied, 1 left (not a bounce)");
    free(out);
    assert_int_equal(q1("SELECT count(*) FROM receipts"), 1);
    /* the same bounce again (a second copy): one report */
    p = tu_path(dir, "mb/cur/1.dsn:2,S");
    char *again = tu_read(p);
    free(p);
    drop_mail("3.dsn", again);
    free(again);
    out = run_ok("bounces", "fetch", "--dry-run", NULL, NULL);
    assert_contains(out, "3.dsn: bounce message");
    assert_contains(out, "invalid_recipient hard");
    free(out);
    out = run_ok("bounces", "fetch", NULL, NULL, NULL);
    assert_contains(out, "0 applied, 0 pending (message not known yet), 1 already applied");
    free(out);
    assert_int_equal(q1("SELECT count(*) FROM receipts"), 1);
}

/* herald run with [bounces] poll = 1s applies a bounce dropped while it runs. */
static void test_bounces_run_polls(void **state)
{
    (void)state;
    char *p = tu_path(dir, "poll.conf"), *main_conf = tu_path(dir, "h.conf");
    char *text = tu_read(main_conf);
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_adds(&b, text);
    hd_buf_adds(&b, "poll = 1s\n");
    tu_write(p, b.data);
    hd_buf_release(&b);
    free(text), free(main_conf), free(p);
    int64_t m = campaign("n5", "c2");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(dir) != 0 || !freopen("run.log", "ab", stderr) ||
            !freopen("run.out", "ab", stdout))
            _exit(126);
        execl(tu_herald_bin(), tu_herald_bin(), "-c", "poll.conf", "run", (char *)NULL);
        _exit(127);
    }
    char verp[64], num[32], sql[256];
    snprintf(verp, sizeof verp, "bounces+%lld", (long long)m);
    snprintf(num, sizeof num, "X-Herald-Message: %lld", (long long)m);
    char *dsn = fixture("postfix-44.eml"), *a = replace(dsn, "bounces+44", verp);
    char *x = replace(a, "X-Herald-Message: 44", num);
    char *y = replace(x, "quota@full.test", "bo@example.org");
    drop_mail("4.dsn", y);
    free(dsn), free(a), free(x), free(y);
    snprintf(sql, sizeof sql, "SELECT state FROM messages WHERE id = %lld", (long long)m);
    int64_t st = -1;
    for (int i = 0; i < 200 && (st = q1(sql)) != HD_ST_BOUNCED; i++) {
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    assert_int_equal(tu_serve_stop(pid), 0);
    assert_int_equal(st, HD_ST_BOUNCED);
    p = tu_path(dir, "mb/cur/4.dsn:2,S");
    assert_true(tu_exists(p));
    free(p);
    /* a soft bounce: counted, not suppressed (the limit is 3) */
    char *out = run_ok("suppress", "list", NULL, NULL, NULL);
    assert_null(strstr(out, "bo@example.org"));
    free(out);
}

/* Over IMAP (tests/imap_server.py, TLS with a test CA): a bounce applied
 * and its mail flagged \Seen and HeraldDone, a reply left unflagged, the
 * next fetch reads only the reply, and a refused login is an error. */
static void test_bounces_imap(void **state)
{
    (void)state;
    int64_t m = campaign("n6", "c2");
    tu_make_certs(dir);
    char *box = tu_path(dir, "imapbox");
    assert_int_equal(mkdir(box, 0700), 0);
    char verp[64], num[32], url[128];
    snprintf(verp, sizeof verp, "bounces+%lld", (long long)m);
    snprintf(num, sizeof num, "X-Herald-Message: %lld", (long long)m);
    char *dsn = fixture("postfix-43.eml"), *a = replace(dsn, "bounces+43", verp);
    char *x = replace(a, "X-Herald-Message: 43", num), *reply = fixture("not-a-bounce.eml");
    char *y = replace(x, "someone@refuse.test", "bo@example.org");
    char *p1 = tu_path(box, "1.eml"), *p2 = tu_path(box, "2.eml");
    tu_write(p1, y);
    tu_write(p2, reply);
    free(dsn), free(a), free(x), free(y), free(reply), free(p1), free(p2);
    char *py = tu_src_path("tests/imap_server.py");
    const char *argv[] = {"/usr/bin/python3", py,        "--box", box,          "--flags",
                          "imap.flags",       "--user",  "bob",   "--password", "Imap-Pw-77",
                          "--cert",           "srv.pem", "--key", "srv.key",    NULL};
    struct tu_server imap;
    tu_server_start(&imap, dir, argv, "the IMAP server");
    free(py);
    free(box);
    snprintf(url, sizeof url, "imaps://localhost:%d/INBOX", imap.port);
    char *main_conf = tu_path(dir, "h.conf"), *text = tu_read(main_conf);
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_adds(&b, text);
    hd_buf_adds(&b, "username = bob\npassword_env = TEST_IMAP_PW\nca_file = ca.pem\n");
    char *ip = tu_path(dir, "imap.conf");
    tu_write(ip, b.data);
    free(ip), free(text), free(main_conf);
    hd_buf_release(&b);
    setenv("HERALD_CONFIG", "imap.conf", 1);
    setenv("TEST_IMAP_PW", "Imap-Pw-77", 1);
    char *out = run_ok("bounces", "fetch", "--imap", url, NULL);
    assert_contains(out, "2 read: 1 applied, 0 pending (message not known yet), 0 already "
                         "applied, 1 left (not a bounce)");
    free(out);
    char *fp = tu_path(dir, "imap.flags"), *flags = tu_read(fp);
    assert_contains(flags, "1 HeraldDone \\Seen\n");
    assert_null(strstr(flags, "2 HeraldDone"));
    free(flags);
    free(fp);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT state FROM messages WHERE id = %lld", (long long)m);
    assert_int_equal(q1(sql), HD_ST_BOUNCED);
    out = run_ok("bounces", "fetch", "--imap", url, NULL);
    assert_contains(out, "1 read: 0 applied, 0 pending (message not known yet), 0 already "
                         "applied, 1 left (not a bounce)");
    free(out);
    setenv("TEST_IMAP_PW", "wrong", 1);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "bounces", "fetch", "--imap", url, NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "IMAP 'imaps://localhost:");
    tu_run_release(&r);
    setenv("HERALD_CONFIG", "h.conf", 1);
    tu_server_stop(&imap);
}

/* The outbox writes the envelope sender as Return-Path, as an MTA does. */
static void test_bounces_outbox_return_path(void **state)
{
    (void)state;
    char *p = tu_path(dir, "ob.conf"), *main_conf = tu_path(dir, "h.conf");
    char *text = tu_read(main_conf), *o = replace(text, "providers = mail", "providers = box");
    tu_write(p, o);
    free(text), free(o), free(main_conf), free(p);
    setenv("HERALD_CONFIG", "ob.conf", 1);
    int64_t m = campaign("n3", "c2");
    setenv("HERALD_CONFIG", "h.conf", 1);
    char pattern[512], want[160];
    snprintf(pattern, sizeof pattern, "%s/ob/email/new/*.eml", dir);
    glob_t g;
    assert_int_equal(glob(pattern, 0, NULL, &g), 0);
    assert_int_equal(g.gl_pathc, 1); /* c1 is suppressed: c2's message only */
    char *eml = tu_read(g.gl_pathv[0]);
    globfree(&g);
    snprintf(want, sizeof want, "Return-Path: <b+%lld@bounce.example.com>\r\n", (long long)m);
    assert_contains(eml, want);
    snprintf(want, sizeof want, "X-Herald-Message: %lld\r\n", (long long)m);
    assert_contains(eml, want);
    free(eml);
    /* its bounce, come back to the other provider's address (as when two
     * share one): applied as box's report, the provider that sent it, not
     * kept pending for good as mail's (a review found it) */
    char verp[64], num[64], sql[128];
    snprintf(verp, sizeof verp, "bounces+%lld", (long long)m);
    snprintf(num, sizeof num, "X-Herald-Message: %lld", (long long)m);
    char *dsn = fixture("postfix-42.eml"), *a = replace(dsn, "bounces+42", verp);
    char *b = replace(a, "X-Herald-Message: 42", num);
    char *c = replace(b, "nobody@example.com", "bo@example.org");
    drop_mail("box.dsn", c);
    free(dsn), free(a), free(b), free(c);
    char *out = run_ok("bounces", "fetch", NULL, NULL, NULL);
    assert_contains(out, " 1 applied, 0 pending");
    free(out);
    snprintf(sql, sizeof sql, "SELECT state FROM messages WHERE id = %lld", (long long)m);
    assert_int_equal(q1(sql), HD_ST_BOUNCED);
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE provider = 'box'"), 1);
}

/* A herald run away from the source tree finds no etc/bounce-rules.tsv
 * there: it classifies by the rules built into it, never with none (a
 * review saw a policy refusal called hard and its address suppressed). */
static void test_bounces_builtin_rules(void **state)
{
    (void)state;
    char *p = tu_path(dir, "h.conf"), *text = tu_read(p), *conf = tu_path(dir, "norules.conf");
    const char *r = strstr(text, "[receipts]\n");
    assert_non_null(r);
    const char *end = strchr(strchr(r, '\n') + 1, '\n') + 1; /* and its bounce_rules line */
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_add(&b, text, (size_t)(r - text));
    hd_buf_adds(&b, end);
    tu_write(conf, b.data);
    hd_buf_release(&b);
    free(text), free(p), free(conf);
    char *dsn = fixture("postfix-43.eml");
    drop_mail("policy.dsn", dsn);
    free(dsn);
    /* and a folder among the mails: left, the rest still read */
    char *sub = tu_path(dir, "mb/new/a-folder");
    assert_int_equal(mkdir(sub, 0700), 0);
    setenv("HERALD_CONFIG", "norules.conf", 1);
    char *out = run_ok("bounces", "fetch", "--dry-run", NULL, NULL);
    char *check = run_ok("config", "check", NULL, NULL, NULL);
    setenv("HERALD_CONFIG", "h.conf", 1);
    assert_contains(out, "policy.dsn: bounce message 43 ");
    assert_contains(out, " 5.7.1 spam_block none ");
    /* (run_ok: it exited 0; the folder counted with the reply an earlier
     * test left) */
    assert_contains(out, "already applied, 2 left (not a bounce)");
    rmdir(sub);
    free(sub);
    assert_contains(check, "; bounce_rules: no file where herald looks; the rules built into it");
    free(out);
    free(check);
    p = tu_path(dir, "mb/new/policy.dsn");
    unlink(p);
    free(p);
}

/* The fixture name, about message ref, rewritten for message m: its VERP
 * address and X-Herald-Message, and each `from` in it made `to` (from
 * NULL: none). */
static char *about(const char *name, int ref, int64_t m, const char *from, const char *to)
{
    char v0[32], v1[32], n0[48], n1[48];
    snprintf(v0, sizeof v0, "bounces+%d@", ref);
    snprintf(v1, sizeof v1, "bounces+%lld@", (long long)m);
    snprintf(n0, sizeof n0, "X-Herald-Message: %d", ref);
    snprintf(n1, sizeof n1, "X-Herald-Message: %lld", (long long)m);
    char *t = fixture(name), *a = replace(t, v0, v1), *b = replace(a, n0, n1);
    char *c = from ? replace(b, from, to) : hd_xstrdup(b);
    free(t), free(a), free(b);
    return c;
}

/* text without the lines in cut (NULL-terminated; the caller frees it). */
static char *without(const char *text, const char *const *cut)
{
    char *t = hd_xstrdup(text);
    for (; *cut; cut++) {
        char *u = replace(t, *cut, "");
        free(t);
        t = u;
    }
    return t;
}

static int64_t state_of(int64_t m)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT state FROM messages WHERE id = %lld", (long long)m);
    return q1(sql);
}

/* Nothing done to contact ext_id: no suppression, no opt-out. */
static void expect_untouched(const char *ext_id)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM suppressions s JOIN contacts c ON c.email = s.address WHERE "
             "c.ext_id = '%s'",
             ext_id);
    assert_int_equal(q1(sql), 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM consent k JOIN contacts c ON c.id = k.contact_id WHERE "
             "c.ext_id = '%s' AND k.status = 'opted_out'",
             ext_id);
    assert_int_equal(q1(sql), 0);
}

/* Drops the forged reports about m3 (to cy@) and m4 (to di@), and one
 * about a message not sent yet; fetches and checks what is left. */
static void fetch_forged(int64_t m3, int64_t m4, const char *const *names)
{
    static const char *const dsn_rcpt[] = {"Final-Recipient: rfc822; nobody@example.com\n",
                                           "Original-Recipient: rfc822;nobody@example.com\n",
                                           "To: <nobody@example.com>\n", NULL};
    static const char *const arf_rcpt[] = {"Original-Rcpt-To: <carol@example.net>\n",
                                           "To: <carol@example.net>\n", NULL};
    int64_t later = q1("SELECT max(id) FROM messages") + 100;
    char *f[5], *dsn = about("postfix-42.eml", 42, m3, NULL, NULL);
    char *arf = about("arf-abuse.eml", 51, m4, NULL, NULL);
    f[0] = hd_xstrdup(dsn); /* Final-Recipient: nobody@example.com */
    f[1] = hd_xstrdup(arf); /* Original-Rcpt-To: carol@example.net */
    f[2] = without(dsn, dsn_rcpt);
    f[3] = without(arf, arf_rcpt);
    f[4] = about("postfix-42.eml", 42, later, "nobody@example.com", "cy@example.org");
    for (int i = 0; i < 5; i++) {
        drop_mail(names[i], f[i]);
        free(f[i]);
    }
    free(dsn), free(arf);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "bounces", "fetch", NULL);
    assert_int_equal(r.status, 0);
    /* and the reply test_bounces_end_to_end left */
    assert_contains(r.out, "6 read: 0 applied, 1 pending (message not known yet), 0 already "
                           "applied, 5 left (not a bounce)");
    static const char *const why[] = {"the recipient it names does not match",
                                      "the recipient it names does not match",
                                      "it names no recipient", "it names no recipient"};
    for (int i = 0; i < 4; i++) {
        char want[160];
        snprintf(want, sizeof want, "%s left: message %lld: %s", names[i],
                 (long long)(i % 2 ? m4 : m3), why[i]);
        assert_contains(r.err, want);
    }
    assert_not_contains(r.err, "nobody@example.com");
    assert_not_contains(r.err, "carol@example.net");
    assert_not_contains(r.err, "cy@example.org");
    tu_run_release(&r);
}

/* VERP numbers are sequential: anyone may mail bounces+N@. A report whose
 * recipient is not the address message N went to, or that names none, or
 * whose message is not sent yet (nothing to check it against) changes
 * nothing: it is left in the mailbox (the last counted pending), with a
 * warning that names the message and no address; the genuine ones (the
 * address in another case) still bounce and complain. */
static void test_bounces_forged(void **state)
{
    (void)state;
    static const char *const names[] = {"f1.dsn", "f2.arf", "f3.dsn", "f4.arf", "f5.dsn"};
    char *p = tu_path(dir, "more.csv");
    tu_write(p, "id,email,first_name\nc3,cy@example.org,Cy\nc4,di@example.org,Di\n");
    free(p);
    TU_HERALD_OK(dir, "contacts", "import", "more.csv");
    int64_t m3 = campaign("n8", "c3"), m4 = msg_of("n8", "c4");
    int64_t st3 = state_of(m3), st4 = state_of(m4), receipts = q1("SELECT count(*) FROM receipts");
    fetch_forged(m3, m4, names);
    assert_int_equal(state_of(m3), st3);
    assert_int_equal(state_of(m4), st4);
    expect_untouched("c3");
    expect_untouched("c4");
    assert_int_equal(q1("SELECT count(*) FROM receipts"), receipts);
    for (int i = 0; i < 5; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "mb/new/%s", names[i]);
        char *left = tu_path(dir, rel);
        assert_true(tu_exists(left));
        if (i < 4)
            unlink(left);
        free(left);
    }
    /* the genuine ones */
    char *g1 = about("postfix-42.eml", 42, m3, "nobody@example.com", "Cy@Example.ORG");
    char *g2 = about("arf-abuse.eml", 51, m4, "carol@example.net", "di@example.org");
    drop_mail("g1.dsn", g1);
    drop_mail("g2.arf", g2);
    free(g1), free(g2);
    char *out = run_ok("bounces", "fetch", NULL, NULL, NULL);
    assert_contains(out, "4 read: 2 applied, 1 pending (message not known yet), 0 already "
                         "applied, 1 left (not a bounce)");
    free(out);
    assert_int_equal(state_of(m3), HD_ST_BOUNCED);
    assert_int_equal(state_of(m4), HD_ST_COMPLAINED);
    out = run_ok("suppress", "list", NULL, NULL, NULL);
    assert_contains(out, "cy@example.org");
    assert_contains(out, "di@example.org");
    free(out);
    assert_int_equal(q1("SELECT count(*) FROM consent k JOIN contacts c ON c.id = k.contact_id "
                        "WHERE c.ext_id = 'c4' AND k.status = 'opted_out'"),
                     1);
    p = tu_path(dir, "mb/new/f5.dsn");
    unlink(p);
    free(p);
}

/* Bad settings are refused with the line and the reason. */
static void test_bounces_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"[bounces]\nfolder = x\n", "unknown key 'folder' in [bounces]"},
        {"[bounces]\nimap_url = http://x/\n", "imap_url: 'http://x/' is not an imaps:// URL"},
        {"[bounces]\npoll = soon\n", "poll: 'soon' is not a duration (5m)"},
        /* a password there would be in every error that names the folder */
        {"[bounces]\nimap_url = imaps://bob:hunter2@h/INBOX\n",
         "b.conf:2: imap_url: give the user as username and the password as password_file"},
        {"[bounces]\npassword_env = HERALD_NO_SUCH_VAR\n",
         "password_env: environment variable 'HERALD_NO_SUCH_VAR' is not set"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct hd_config *cfg = NULL;
        struct hd_err e = {0};
        assert_true(hd_config_parse(cases[i].text, "b.conf", &cfg, &e) < 0);
        assert_null(cfg);
        assert_contains(e.msg, cases[i].want);
    }
    /* a bounce_address that is no address stops the SMTP driver */
    struct tu_run r;
    char *p = tu_path(dir, "bad.conf");
    tu_write(p, "[herald]\ndatabase = h.db\n[provider mail]\ntype = smtp\nhost = 127.0.0.1\n"
                "bounce_address = nobody\n[channel email]\nproviders = mail\n");
    free(p);
    tu_herald(&r, dir, NULL, "-c", "bad.conf", "provider", "test", "mail", "--to", "x@example.org",
              NULL);
    assert_int_not_equal(r.status, 0);
    assert_contains(r.err, "bounce_address 'nobody' is not an email address");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "bounces", "fetch", "--imap", "imaps://bob:hunter2@h/INBOX", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "--imap: give the user as username");
    assert_not_contains(r.err, "hunter2");
    tu_run_release(&r);
}

int main(void)
{
    const struct CMUnitTest unit[] = {
        cmocka_unit_test(test_bounces_fixtures),
        cmocka_unit_test(test_bounces_reports),
    };
    const struct CMUnitTest e2e[] = {
        cmocka_unit_test(test_bounces_end_to_end),
        cmocka_unit_test(test_bounces_run_polls),
        cmocka_unit_test(test_bounces_imap),
        cmocka_unit_test(test_bounces_outbox_return_path),
        cmocka_unit_test(test_bounces_builtin_rules),
        cmocka_unit_test(test_bounces_forged),
        cmocka_unit_test(test_bounces_config_errors),
    };
    /* the same story on a PostgreSQL store (the config errors stop before
     * any store: SQLite's run is enough) */
    const struct CMUnitTest e2e_pg[] = {
        {"test_bounces_end_to_end_pg", test_bounces_end_to_end, NULL, NULL, NULL},
        {"test_bounces_run_polls_pg", test_bounces_run_polls, NULL, NULL, NULL},
        {"test_bounces_imap_pg", test_bounces_imap, NULL, NULL, NULL},
        {"test_bounces_outbox_return_path_pg", test_bounces_outbox_return_path, NULL, NULL, NULL},
        {"test_bounces_forged_pg", test_bounces_forged, NULL, NULL, NULL},
    };
    int rc = cmocka_run_group_tests(unit, NULL, NULL);
    rc |= cmocka_run_group_tests(e2e, e2e_setup, e2e_teardown);
    return rc | cmocka_run_group_tests(e2e_pg, e2e_setup_pg, e2e_teardown);
}
