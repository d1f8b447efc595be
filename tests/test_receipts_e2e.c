/* test_receipts_e2e: issue 19's end-to-end proof, every source of receipts
 * in one story with the real binary. One campaign (channels sms, email) goes
 * to three phones through the Twilio mock (tests/mock/twilio.js) and three
 * addresses through the SMTP test server (tests/smtp_server.py), the
 * envelope sender being the VERP address bounces+N@bounce.example.com.
 * Then the world answers: Twilio calls `herald serve` back with "delivered"
 * for the first phone and "undelivered" 30005 for the second (signed by
 * tests/twilio_sign.py, Python's hmac); the second address bounces: the
 * Postfix DSN of tests/data/dsn made for its message is dropped into the
 * Maildir `herald bounces fetch` reads; the third complains through Amazon
 * SES and SNS (tests/sns_mock.py: a test CA and signing key, the
 * HERALD_TEST override that lets herald fetch the certificate from
 * 127.0.0.1). The test then checks exactly what the operator sees:
 * `herald stats` counts, `suppress list` with each reason, `why` telling
 * each story, `log --outcome receipt`, and a second campaign to the same
 * segment that skips the three suppressed with the reason in its log.
 * The same story runs twice: on a SQLite file and on a PostgreSQL store
 * (tu_pg_db, `herald init`), with the same answers. */
#include "testnet.h"

#include <sys/stat.h>

#include "herald/state.h"

#define TW_SID "AC0123456789abcdef0123456789abcdef"
#define TW_TOKEN "tw-E2E-Token-4417"
#define PUBLIC "http://127.0.0.1:8025"
#define TOPIC "arn:aws:sns:us-east-1:123456789012:ses-events"

static char *dir;
static struct tu_server tw, smtp, sns;
static const char *db;            /* the store: "h.db" in dir, or pg_uri */
static char *pg_uri, pg_name[64]; /* the PostgreSQL run's database */

static const char tpl_news[] =
    "description: receipts end to end\ncategory: marketing\nfrom: Acme <news@example.com>\n\n"
    "--- sms\nHi {{ first_name }}, news from Acme. Reply STOP to opt out\n"
    "--- email.subject\nNews for {{ first_name }}\n"
    "--- email.text\nHello {{ first_name }}, our news. Unsubscribe: {{ unsubscribe_url }}\n";

/* p1 is delivered, p2 undelivered (30005), p3 hears nothing back; e1's
 * address bounces (5.1.1), e2 complains, e3 hears nothing back. */
static const char contacts_csv[] = "id,first_name,phone,email\n"
                                   "p1,Ann,+15557650001,\n"
                                   "p2,Bo,+15557650002,\n"
                                   "p3,Cy,+15557650003,\n"
                                   "e1,Di,,di@example.org\n"
                                   "e2,Ed,,ed@example.org\n"
                                   "e3,Flo,,flo@example.org\n";

static void write_file(const char *name, const char *text)
{
    char *p = tu_path(dir, name);
    tu_write(p, text);
    free(p);
}

static void make_dir(const char *name)
{
    char *p = tu_path(dir, name);
    assert_int_equal(mkdir(p, 0700), 0);
    free(p);
}

static int setup_on(const char *store)
{
    db = store;
    dir = tu_tmpdir();
    setenv("HERALD_NOW", "2026-11-22T12:00:00Z", 1);
    setenv("HERALD_CONFIG", "h.conf", 1);
    setenv("TEST_TW_TOKEN", TW_TOKEN, 1);
    const char *twa[] = {"--sid", TW_SID, "--token", TW_TOKEN, "--log", "twilio.log", NULL};
    tu_start_mock(&tw, dir, "twilio.js", twa);
    static const char *const sub[] = {"smtp", "mb", "mb/new", "mb/cur", "mb/tmp"};
    for (size_t i = 0; i < sizeof sub / sizeof *sub; i++)
        make_dir(sub[i]);
    char *py = tu_src_path("tests/smtp_server.py");
    const char *sa[] = {"/usr/bin/python3", py, "--out", "smtp", NULL};
    tu_server_start(&smtp, dir, sa, "the SMTP server (is python3-aiosmtpd installed?)");
    free(py);
    py = tu_src_path("tests/sns_mock.py");
    const char *na[] = {"/usr/bin/python3", py, "serve", NULL};
    tu_server_start(&sns, dir, na, "the SNS mock (is python3-cryptography installed?)");
    free(py);
    char host[64], conf[4096], *rules = tu_src_path("etc/bounce-rules.tsv");
    snprintf(host, sizeof host, "127.0.0.1:%d", sns.port);
    setenv("HERALD_TEST", "1", 1);
    setenv("HERALD_TEST_SNS_CERT_HOST", host, 1);
    snprintf(conf, sizeof conf,
             "[herald]\ndatabase = %s\ntemplates = tpl\nlog_level = info\n" TU_SERVE_CONF
             "[receipts]\nbounce_rules = %s\n"
             "[provider sms]\ntype = twilio\nbase_url = http://127.0.0.1:%d\n"
             "account_sid = " TW_SID "\nauth_token_env = TEST_TW_TOKEN\nfrom = +15550001111\n"
             "timeout = 5s\n"
             "[provider mail]\ntype = smtp\nhost = 127.0.0.1\nport = %d\nstarttls = none\n"
             "timeout = 10s\nbounce_address = bounces@bounce.example.com\n"
             "sns_topics = " TOPIC "\nca_file = ca.pem\n"
             "[channel sms]\nproviders = sms\n[channel email]\nproviders = mail\n"
             "[bounces]\nmaildir = mb\n",
             db, rules, tw.port, smtp.port);
    free(rules);
    write_file("h.conf", conf);
    tu_tpl_with_pages(dir);
    write_file("tpl/news.tmpl", tpl_news);
    write_file("c.csv", contacts_csv);
    TU_HERALD_OK(dir, "init");
    TU_HERALD_OK(dir, "contacts", "import", "c.csv");
    TU_HERALD_OK(dir, "segment", "define", "all", "id != \"\"");
    return 0;
}

static int setup(void **state)
{
    (void)state;
    return setup_on("h.db");
}

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
    tu_server_stop(&smtp);
    tu_server_stop(&sns);
    unsetenv("HERALD_TEST");
    unsetenv("HERALD_TEST_SNS_CERT_HOST");
    tu_rmdir(dir);
    dir = NULL;
    if (pg_uri) {
        tu_pg_drop(pg_name);
        free(pg_uri);
        pg_uri = NULL;
    }
    return 0;
}

static int64_t q1(const char *sql)
{
    return tu_sql1(dir, db, sql);
}

/* herald with the arguments a (NULL-terminated); fails unless it exits 0;
 * its stdout (the caller frees). */
static char *herald_argv(const char *const *a)
{
    const char *argv[32] = {tu_herald_bin()};
    size_t n = 1;
    while (*a && n < 31)
        argv[n++] = *a++;
    struct tu_run r;
    tu_exec(&r, dir, NULL, argv);
    if (r.status != 0)
        fail_msg("herald %s %s exited %d: %s %s", argv[1], argv[2] ? argv[2] : "", r.status, r.out,
                 r.err);
    char *out = hd_xstrdup(r.out);
    tu_run_release(&r);
    return out;
}

#define herald_out(...) herald_argv((const char *const[]){__VA_ARGS__, NULL})

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
    if (m <= 0)
        fail_msg("no message of %s in %s", contact, name);
    return m;
}

static int64_t state_of(int64_t m)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT state FROM messages WHERE id = %lld", (long long)m);
    return q1(sql);
}

/* The gateway's id of message m (its accepted log row). */
static void gateway_id(int64_t m, char *out, size_t size)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT gateway_id FROM attempts WHERE outcome = 'accepted' AND message_id = %lld",
             (long long)m);
    char *r = tu_sql_text(dir, db, sql);
    r[strcspn(r, "\n")] = '\0';
    if (!*r)
        fail_msg("message %lld has no accepted row", (long long)m);
    snprintf(out, size, "%s", r);
    free(r);
}

/* ---- the callbacks ------------------------------------------------------------------- */

/* Twilio's status callback for message m (to phone `to`), signed for
 * public_url as Twilio signs it; the answer must be 200 "ok". */
static void twilio_status(int port, int64_t m, const char *to, const char *status, const char *code)
{
    char sid[64], body[1024], url[256], cmd[4096], got[256];
    gateway_id(m, sid, sizeof sid);
    snprintf(body, sizeof body,
             "SmsSid=%s&SmsStatus=%s&MessageStatus=%s&To=%%2B%s&MessageSid=%s&AccountSid=" TW_SID
             "&From=%%2B15550001111&ApiVersion=2010-04-01%s%s",
             sid, status, status, to + 1, sid, code ? "&ErrorCode=" : "", code ? code : "");
    snprintf(url, sizeof url, PUBLIC "/hooks/twilio/sms?m=%lld", (long long)m);
    char *py = tu_src_path("tests/twilio_sign.py");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' '%s' '%s'", py, TW_TOKEN, url, body);
    free(py);
    char *sig = tu_sh(cmd);
    sig[strcspn(sig, "\n")] = '\0';
    snprintf(cmd, sizeof cmd,
             "curl -s -g --max-time 10 -w '\\n%%{http_code}' -H 'X-Twilio-Signature: %s' "
             "--data-binary '%s' 'http://127.0.0.1:%d/hooks/twilio/sms?m=%lld'",
             sig, body, port, (long long)m);
    free(sig);
    int rc = tu_curl(cmd, got, sizeof got);
    if (rc != 200 || strcmp(got, "ok\n") != 0)
        fail_msg("%s %s for message %lld: %d '%s'", status, code ? code : "", (long long)m, rc,
                 got);
}

/* SES's complaint about message m (to addr), as SNS delivers it: the SES
 * notification is the JSON text of Message; signed by sns_mock.py. */
static void ses_complaint(int port, int64_t m, const char *addr)
{
    char num[32], cert[128], cmd[4096], got[256];
    snprintf(num, sizeof num, "%lld", (long long)m);
    snprintf(cert, sizeof cert, "https://127.0.0.1:%d/cert.pem", sns.port);
    json_t *ses = json_pack("{s:s, s:{s:[{s:s}], s:s, s:s, s:s}, s:{s:s, s:s, s:[{s:s, s:s}]}}",
                            "notificationType", "Complaint", "complaint", "complainedRecipients",
                            "emailAddress", addr, "complaintFeedbackType", "abuse", "timestamp",
                            "2026-11-22T12:04:00.000Z", "feedbackId", "fb-e2e-1", "mail",
                            "messageId", "ses-e2e-1", "source", "news@example.com", "headers",
                            "name", "X-Herald-Message", "value", num);
    char *text = json_dumps(ses, JSON_COMPACT);
    json_t *note =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Type", "Notification", "MessageId",
                  "sns-e2e-1", "TopicArn", TOPIC, "Message", text, "Timestamp",
                  "2026-11-22T12:04:01.000Z", "SignatureVersion", "2", "SigningCertURL", cert);
    char *unsigned_body = json_dumps(note, JSON_COMPACT);
    write_file("sns.json", unsigned_body);
    free(unsigned_body);
    free(text);
    json_decref(note);
    json_decref(ses);
    char *py = tu_src_path("tests/sns_mock.py");
    snprintf(cmd, sizeof cmd, "cd '%s' && /usr/bin/python3 '%s' sign sns.json > signed.json", dir,
             py);
    free(py);
    free(tu_sh(cmd));
    snprintf(cmd, sizeof cmd,
             "cd '%s' && curl -s -g --max-time 10 -w '\\n%%{http_code}' -H 'Content-Type: "
             "text/plain' -H 'x-amz-sns-message-type: Notification' --data-binary @signed.json "
             "'http://127.0.0.1:%d/hooks/ses/mail'",
             dir, port);
    int rc = tu_curl(cmd, got, sizeof got);
    if (rc != 200 || strcmp(got, "ok\n") != 0)
        fail_msg("the SES complaint: %d '%s'", rc, got);
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

/* Postfix's DSN of an unknown user (tests/data/dsn/postfix-42.eml),
 * rewritten for message m to addr, into the Maildir's new/. */
static void drop_bounce(int64_t m, const char *addr)
{
    char *p = tu_src_path("tests/data/dsn/postfix-42.eml"), *dsn = tu_read(p);
    assert_non_null(dsn);
    char verp[64], num[64];
    snprintf(verp, sizeof verp, "bounces+%lld@", (long long)m);
    snprintf(num, sizeof num, "X-Herald-Message: %lld", (long long)m);
    char *a = replace(dsn, "bounces+42@", verp), *b = replace(a, "X-Herald-Message: 42", num);
    char *c = replace(b, "nobody@example.com", addr);
    write_file("mb/new/1764720000.e2e.host", c);
    free(p), free(dsn), free(a), free(b), free(c);
}

/* ---- what was sent ------------------------------------------------------------------- */

/* The Twilio mock took the three SMS, each with the status callback; the
 * SMTP server the three emails, each from its VERP address. */
static void check_sent(void)
{
    json_t *l = tu_read_jsonl(dir, "twilio.log");
    assert_int_equal(json_array_size(l), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *form = json_object_get(json_array_get(l, i), "form");
        const char *cb = json_string_value(json_object_get(form, "StatusCallback"));
        assert_non_null(cb);
        assert_true(strncmp(cb, PUBLIC "/hooks/twilio/sms?m=", strlen(PUBLIC) + 20) == 0);
    }
    json_decref(l);
    static const char *const mail[] = {"e1", "e2", "e3"};
    char *all = NULL, cmd[4096];
    snprintf(cmd, sizeof cmd, "cat '%s'/smtp/*.json", dir);
    all = tu_sh(cmd);
    assert_int_equal(tu_count(all, "\"mail_from\": \"bounces+"), 3);
    for (size_t i = 0; i < 3; i++) {
        char want[128];
        snprintf(want, sizeof want, "\"mail_from\": \"bounces+%lld@bounce.example.com\"",
                 (long long)msg_of("wave1", mail[i]));
        assert_contains(all, want);
    }
    free(all);
}

/* ---- what the operator sees ------------------------------------------------------------ */

static void check_stats(void)
{
    char *st = herald_out("stats", "wave1", "--format", "json");
    static const char *const want[] = {
        "\"sent\": 6",         "\"delivered\": 1",    "\"undelivered\": 1", "\"bounced\": 1",
        "\"bounced_hard\": 1", "\"bounced_soft\": 0", "\"complained\": 1",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        assert_contains(st, want[i]);
    free(st);
    /* per channel: the SMS reports on sms, the mail ones on email */
    st = herald_out("stats", "wave1", "--by", "channel", "--format", "csv");
    static const char *const rows[] = {
        "stats,sms,delivered,1\r\n",      "stats,sms,undelivered,1\r\n",
        "stats,sms,bounced,0\r\n",        "stats,email,delivered,0\r\n",
        "stats,email,bounced_hard,1\r\n", "stats,email,complained,1\r\n",
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        assert_contains(st, rows[i]);
    free(st);
}

static void check_suppressions(int64_t m_p2, int64_t m_e1, int64_t m_e2)
{
    char *sup = herald_out("suppress", "list", "--format", "jsonl");
    assert_int_equal(tu_count(sup, "\n"), 3);
    assert_contains(sup, "\"address\":\"+15557650002\",\"channel\":\"sms\","
                         "\"reason\":\"invalid_number\"");
    assert_contains(sup, "\"detail\":\"undelivered: 30005 unknown destination handset, address "
                         "suppressed\"");
    assert_contains(sup, "\"address\":\"di@example.org\",\"channel\":\"email\","
                         "\"reason\":\"hard_bounce\"");
    assert_contains(sup, "\"address\":\"ed@example.org\",\"channel\":\"email\","
                         "\"reason\":\"complaint\"");
    /* each names the message that caused it */
    int64_t ms[] = {m_p2, m_e1, m_e2};
    for (size_t i = 0; i < 3; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"message_id\":%lld", (long long)ms[i]);
        assert_contains(sup, want);
    }
    assert_not_contains(sup, "+15557650001");
    assert_not_contains(sup, "flo@example.org");
    free(sup);
    /* the complaint is an email marketing opt-out too */
    assert_int_equal(q1("SELECT count(*) FROM consent k JOIN contacts c ON c.id = k.contact_id "
                        "WHERE c.ext_id = 'e2' AND k.channel = 'email' AND k.category = "
                        "'marketing' AND k.status = 'opted_out' AND k.source = 'complaint'"),
                     1);
}

/* `herald why CONTACT wave1` tells each story, the report after the send,
 * at the time the gateway gave (SES's) or the time it came (serve's clock
 * 12:05, the fetch's 13:00). */
static void check_why(void)
{
    static const struct {
        const char *contact, *want[3];
    } stories[] = {
        {"p1", {"  - delivered at 2026-11-22T12:05:00Z (reported by sms).\n", NULL, NULL}},
        {"p2",
         {"  - 2026-11-22T12:05:00Z: undelivered: 30005 unknown destination handset, address "
          "suppressed (reported by sms).\n",
          "\n+15557650002 (sms) is suppressed since 2026-11-22T12:05:00Z: invalid_number: "
          "undelivered: 30005 unknown destination handset, address suppressed (message 2).\n",
          NULL}},
        {"e1",
         {"  - 2026-11-22T13:00:00Z: bounced_hard: 5.1.1 unknown user: \"di@example.org\"; "
          "invalid_recipient, address suppressed (reported by mail).\n",
          "\ndi@example.org (email) is suppressed since 2026-11-22T13:00:00Z: hard_bounce: "
          "bounced_hard: 5.1.1 unknown user: \"di@example.org\"; invalid_recipient, address "
          "suppressed (message 4).\n",
          NULL}},
        {"e2",
         {"  - 2026-11-22T12:04:00Z: complained: abuse, address suppressed (reported by mail).\n",
          "opted out  by complaint at 2026-11-22T12:05:00Z (message 5, campaign 'wave1')\n",
          "\ned@example.org (email) is suppressed since 2026-11-22T12:05:00Z: complaint: "
          "complained: abuse, address suppressed (message 5).\n"}},
    };
    for (size_t i = 0; i < sizeof stories / sizeof *stories; i++) {
        char *why = herald_out("why", stories[i].contact, "wave1");
        /* the service's clock starts at 12:05:00 and runs: on a loaded
         * machine a report may come a few seconds later */
        for (char *t = why; (t = strstr(t, "T12:05:0")) != NULL; t += 8)
            t[8] = '0';
        for (size_t k = 0; k < 3 && stories[i].want[k]; k++)
            if (!strstr(why, stories[i].want[k]))
                fail_msg("why %s: no \"%s\" in:\n%s", stories[i].contact, stories[i].want[k], why);
        /* the report comes after the attempt it is about */
        const char *sent = strstr(why, ": attempt 1 by "), *report = strstr(why, "reported by");
        assert_true(sent && report && sent < report);
        free(why);
    }
    /* no report: the story ends at the gateway */
    char *why = herald_out("why", "p3", "wave1");
    assert_contains(why, "  - now: sent.\n");
    assert_not_contains(why, "reported by");
    assert_not_contains(why, "suppressed");
    free(why);
}

static void check_receipt_log(void)
{
    char *log =
        herald_out("log", "--campaign", "wave1", "--outcome", "receipt", "--format", "jsonl");
    assert_int_equal(tu_count(log, "\n"), 4);
    assert_int_equal(tu_count(log, "\"outcome\":\"receipt\""), 4);
    assert_int_equal(tu_count(log, "\"reason\":\"delivered\""), 1);
    assert_int_equal(tu_count(log, "\"reason\":\"undelivered\""), 1);
    assert_int_equal(tu_count(log, "\"reason\":\"bounced_hard\""), 1);
    assert_int_equal(tu_count(log, "\"reason\":\"complained\""), 1);
    free(log);
    tu_wait_receipts(dir, db, 4);
    assert_int_equal(q1("SELECT count(*) FROM receipts"), 4);
}

/* The second campaign to the same segment skips the three, each with its
 * reason in the log (the complaint's opt-out is checked before its
 * suppression), and sends to the other three. */
static void check_second(void)
{
    TU_HERALD_OK(dir, "campaign", "create", "wave2", "--segment", "all", "--template", "news",
                 "--channels", "sms,email", "--now");
    TU_HERALD_OK(dir, "send", "wave2", "--wait", "30s");
    char *log = herald_out("log", "--campaign", "wave2", "--format", "jsonl");
    assert_int_equal(tu_count(log, "\"outcome\":\"accepted\""), 3);
    assert_int_equal(tu_count(log, "\"outcome\":\"skipped\""), 3);
    static const char *const skips[] = {
        "\"contact\":\"p2\",\"message\":%lld,\"attempt\":0,\"outcome\":\"skipped\","
        "\"reason\":\"suppressed\",\"state\":\"suppressed\",\"text\":\"sms: address "
        "suppressed; email: no address\"",
        "\"contact\":\"e1\",\"message\":%lld,\"attempt\":0,\"outcome\":\"skipped\","
        "\"reason\":\"suppressed\",\"state\":\"suppressed\",\"text\":\"sms: no address; "
        "email: address suppressed\"",
        "\"contact\":\"e2\",\"message\":%lld,\"attempt\":0,\"outcome\":\"skipped\","
        "\"reason\":\"opted_out\",\"state\":\"suppressed\",\"text\":\"sms: no address; "
        "email: opted out of marketing\"",
    };
    static const char *const skipped[] = {"p2", "e1", "e2"}, *const sent[] = {"p1", "p3", "e3"};
    static const char *const told[] = {"the address is suppressed", "the address is suppressed",
                                       "no consent (opted out)"};
    for (size_t i = 0; i < 3; i++) {
        char want[512];
        snprintf(want, sizeof want, skips[i], (long long)msg_of("wave2", skipped[i]));
        assert_contains(log, want);
        char *why = herald_out("why", skipped[i], "wave2");
        assert_contains(why, told[i]);
        free(why);
        assert_int_equal(state_of(msg_of("wave2", sent[i])), HD_ST_SENT);
    }
    free(log);
    /* and nothing more went out for them: p1's and p3's SMS, e3's email */
    json_t *l = tu_read_jsonl(dir, "twilio.log");
    assert_int_equal(json_array_size(l), 5);
    for (size_t i = 3; i < 5; i++) {
        const char *to =
            json_string_value(json_object_get(json_object_get(json_array_get(l, i), "form"), "To"));
        assert_true(to && (strcmp(to, "+15557650001") == 0 || strcmp(to, "+15557650003") == 0));
    }
    json_decref(l);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cat '%s'/smtp/4.json", dir);
    char *last = tu_sh(cmd);
    assert_contains(last, "flo@example.org");
    free(last);
    snprintf(cmd, sizeof cmd, "ls '%s'/smtp/*.eml | wc -l", dir);
    char *n = tu_sh(cmd);
    assert_int_equal(atoi(n), 4);
    free(n);
}

static void test_receipts_e2e(void **state)
{
    (void)state;
    TU_HERALD_OK(dir, "campaign", "create", "wave1", "--segment", "all", "--template", "news",
                 "--channels", "sms,email", "--now");
    TU_HERALD_OK(dir, "send", "wave1", "--wait", "30s");
    check_sent();
    int64_t m_p1 = msg_of("wave1", "p1"), m_p2 = msg_of("wave1", "p2");
    int64_t m_e1 = msg_of("wave1", "e1"), m_e2 = msg_of("wave1", "e2");
    /* the world answers later: the service's clock at 12:05, the fetch's at 13:00 */
    int port;
    setenv("HERALD_NOW", "2026-11-22T12:05:00Z", 1);
    pid_t srv = tu_serve_start(dir, "127.0.0.1:0", &port);
    twilio_status(port, m_p1, "+15557650001", "delivered", NULL);
    twilio_status(port, m_p2, "+15557650002", "undelivered", "30005");
    ses_complaint(port, m_e2, "ed@example.org");
    assert_int_equal(tu_serve_stop(srv), 0);
    drop_bounce(m_e1, "di@example.org");
    setenv("HERALD_NOW", "2026-11-22T13:00:00Z", 1);
    char *out = herald_out("bounces", "fetch");
    assert_contains(out, "1 read: 1 applied, 0 pending (message not known yet), 0 already "
                         "applied, 0 left (not a bounce)");
    free(out);
    assert_int_equal(state_of(m_p1), HD_ST_DELIVERED);
    assert_int_equal(state_of(m_p2), HD_ST_UNDELIVERED);
    assert_int_equal(state_of(m_e1), HD_ST_BOUNCED);
    assert_int_equal(state_of(m_e2), HD_ST_COMPLAINED);
    assert_int_equal(state_of(msg_of("wave1", "p3")), HD_ST_SENT);
    assert_int_equal(state_of(msg_of("wave1", "e3")), HD_ST_SENT);
    check_stats();
    check_suppressions(m_p2, m_e1, m_e2);
    check_why();
    check_receipt_log();
    check_second();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_receipts_e2e, setup, teardown),
        {"test_receipts_e2e_pg", test_receipts_e2e, setup_pg, teardown, NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
