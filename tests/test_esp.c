/* test_esp: email events from the big senders (issue 19), end to end: a
 * campaign through the outbox provider `mail` (esp = sendgrid), whose
 * emails must carry the message number (X-Herald-Message, SendGrid's
 * X-SMTPAPI unique_args); then the real `herald serve` takes events
 * signed by tests/esp_sign.py (Python's cryptography and hmac, not
 * herald's code): SendGrid with a P-256 key made for the test, Mailgun's
 * HMAC, Postmark's Basic auth; SES notifications through tests/sns_mock.py
 * (a test CA, a certificate for 127.0.0.1 served over HTTPS, an RSA
 * signing key; HERALD_TEST and HERALD_TEST_SNS_CERT_HOST let herald fetch
 * from it, and without HERALD_TEST it must refuse). The test checks the answers (403 for a
 * body one byte changed, 401 for a wrong password, 503 for a signing
 * certificate SNS cannot serve, 404 for a provider without the sender's
 * key), the states, the
 * suppression list, consent and the receipts table exactly. A Mailgun
 * token is taken once per database: refused after `herald serve` is
 * started again, and by a second `herald serve` on the same store (503
 * when the store cannot take it). Last, the SMTP driver writes the same
 * headers as the outbox (for Mailgun). The cases run on a SQLite file,
 * then on a PostgreSQL store. */
#include "testserve.h"

#include "herald/state.h"

#define MG_KEY "mg-Signing-Key-7781"
#define PM_PASS "pm-Hook-Pass-5520"
#define TOPIC "arn:aws:sns:us-east-1:123456789012:ses-events"

static struct tu_server sns;

static char pubkey[256];

/* esp_sign.py with args (a shell fragment), its one line of output. */
static void signer(const char *args, char *out, size_t size)
{
    char cmd[4096];
    const char *src = getenv("HERALD_SRC");
    snprintf(cmd, sizeof cmd, "cd '%s' && /usr/bin/python3 '%s/tests/esp_sign.py' %s", dir,
             src ? src : ".", args);
    char *r = tu_sh(cmd);
    r[strcspn(r, "\n")] = '\0';
    snprintf(out, size, "%s", r);
    free(r);
}

static int esp_setup_on(void)
{
    signer("keygen sg.pem", pubkey, sizeof pubkey);
    setenv("TEST_MG_KEY", MG_KEY, 1);
    setenv("TEST_PM_PASS", PM_PASS, 1);
    char extra[1024];
    snprintf(extra, sizeof extra,
             "secret_file = var/herald.secret\n"
             "[provider mail]\ntype = outbox\nesp = sendgrid\nevent_public_key = %s\n"
             "webhook_signing_key_env = TEST_MG_KEY\nwebhook_user = pm\n"
             "webhook_password_env = TEST_PM_PASS\n"
             "sns_topics = arn:aws:sns:us-east-1:1:other, " TOPIC "\nca_file = ca.pem\n"
             "[provider plain]\ntype = outbox\npath = var/plain\n"
             "[provider pem]\ntype = outbox\npath = var/pem\nevent_public_key_file = sg.pem.pub\n"
             "[channel email]\nproviders = mail\n",
             pubkey);
    write_conf("h.conf", extra);
    write_file("c4.csv", "id,email,first_name,locale\nk4,k4@example.com,Di,en\n");
    TU_HERALD_OK(dir, "contacts", "import", "c4.csv");
    send_promo();
    /* SNS's side: a test CA, a certificate for 127.0.0.1, a signing key */
    char py[4096];
    const char *src = getenv("HERALD_SRC");
    snprintf(py, sizeof py, "%s/tests/sns_mock.py", src ? src : ".");
    const char *argv[] = {"/usr/bin/python3", py, "serve", NULL};
    tu_server_start(&sns, dir, argv, "the SNS mock (is python3-cryptography installed?)");
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", sns.port);
    setenv("HERALD_TEST", "1", 1);
    setenv("HERALD_TEST_SNS_CERT_HOST", host, 1);
    return 0;
}

static int esp_setup(void **state)
{
    e2e_setup(state);
    return esp_setup_on();
}

/* The same on a PostgreSQL store. */
static int esp_setup_pg(void **state)
{
    e2e_setup_pg(state);
    return esp_setup_on();
}

static int esp_teardown(void **state)
{
    tu_server_stop(&sns);
    return e2e_teardown(state);
}

/* The message number of the email to addr. */
static int64_t msg_of(const char *addr)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT m.id FROM messages m JOIN contacts c ON c.id = m.contact_id WHERE "
             "c.email = '%s'",
             addr);
    return q1(sql);
}

/* The state of message m. */
static int64_t state_of(long long m)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT state FROM messages WHERE id = %lld", m);
    return q1(sql);
}

/* How many suppressions of addr for reason (and detail LIKE like). */
static int64_t suppressed(const char *addr, const char *reason, const char *like)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM suppressions WHERE address = '%s' AND reason = '%s' AND "
             "detail LIKE '%s'",
             addr, reason, like);
    return q1(sql);
}

/* Item 1: the email carries the number where each sender echoes it. */
static void test_esp_headers(void **state)
{
    (void)state;
    char *d = tu_path(dir, "var/outbox/email/new");
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "cat '%s'/*.eml", d);
    char *all = tu_sh(cmd);
    for (int i = 1; i <= 3; i++) {
        char addr[64], want[160];
        snprintf(addr, sizeof addr, "k%d@example.com", i);
        int64_t m = msg_of(addr);
        assert_true(m > 0);
        snprintf(want, sizeof want, "\r\nX-Herald-Message: %lld\r\n", (long long)m);
        assert_contains(all, want);
        snprintf(want, sizeof want,
                 "\r\nX-SMTPAPI: {\"unique_args\":{\"herald_message\":\"%lld\"}}\r\n",
                 (long long)m);
        assert_contains(all, want);
    }
    /* SendGrid's header only: not another sender's */
    assert_not_contains(all, "X-Mailgun-Variables");
    assert_not_contains(all, "X-PM-Metadata");
    free(all);
    free(d);
}

/* POSTs the file body (in dir) to path with the shell fragment hdr;
 * returns the status, the answer in out. 60 s at most: a SendGrid batch
 * of 2,500 events on PostgreSQL took over 10 s on a machine loaded 13
 * deep (each event its own statements; the answer waits for them all). */
static int post_file(const struct srv *s, const char *path, const char *file, const char *hdr,
                     char *out, size_t size)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && curl -s -g --max-time 60 -w '\\n%%{http_code}' -H 'Content-Type: "
             "application/json' %s --data-binary @%s 'http://127.0.0.1:%d%s'",
             dir, hdr, file, s->port, path);
    return tu_curl(cmd, out, size);
}

/* SendGrid: body signed with the test's key at timestamp ts; tamper
 * changes one byte of the body after signing. */
static int sendgrid_to(const struct srv *s, const char *path, const char *body, bool tamper,
                       char *out, size_t size)
{
    char sig[200], hdr[512], args[64];
    const char *ts = "1795000000";
    write_file("sg.json", body);
    snprintf(args, sizeof args, "sendgrid sg.pem %s sg.json", ts);
    signer(args, sig, sizeof sig);
    if (tamper) {
        char *t = hd_xstrdup(body);
        t[strlen(t) - 2] ^= 1;
        write_file("sg.json", t);
        free(t);
    }
    snprintf(hdr, sizeof hdr,
             "-H 'X-Twilio-Email-Event-Webhook-Signature: %s' "
             "-H 'X-Twilio-Email-Event-Webhook-Timestamp: %s'",
             sig, ts);
    return post_file(s, path, "sg.json", hdr, out, size);
}

static int sendgrid(const struct srv *s, const char *body, bool tamper, char *out, size_t size)
{
    return sendgrid_to(s, "/hooks/sendgrid/mail", body, tamper, out, size);
}

static void check_sendgrid(const struct srv *s)
{
    long long m1 = msg_of("k1@example.com"), m2 = msg_of("k2@example.com");
    char body[2048], got[256];
    snprintf(body, sizeof body,
             "[{\"email\":\"k1@example.com\",\"timestamp\":1795000000,\"event\":\"delivered\","
             "\"sg_event_id\":\"ev1\",\"sg_message_id\":\"sg1\",\"herald_message\":\"%lld\"},"
             "{\"email\":\"k1@example.com\",\"timestamp\":1795000100,\"event\":\"open\","
             "\"sg_event_id\":\"ev2\",\"herald_message\":\"%lld\"},"
             "{\"email\":\"k1@example.com\",\"timestamp\":1795000100,\"event\":\"processed\","
             "\"sg_event_id\":\"ev0\",\"herald_message\":\"%lld\"},"
             "{\"email\":\"k2@example.com\",\"timestamp\":1795000000,\"event\":\"bounce\","
             "\"type\":\"bounce\",\"status\":\"5.1.1\",\"reason\":\"550 5.1.1 user unknown\","
             "\"sg_event_id\":\"ev3\",\"herald_message\":\"%lld\"}]",
             m1, m1, m1, m2);
    /* a body one byte changed, no signature, a provider that is not one */
    assert_int_equal(sendgrid(s, body, true, got, sizeof got), 403);
    assert_string_equal(got, "forbidden: X-Twilio-Email-Event-Webhook-Signature does not match\n");
    assert_int_equal(post_file(s, "/hooks/sendgrid/mail", "sg.json", "", got, sizeof got), 403);
    assert_int_equal(post_file(s, "/hooks/sendgrid/nosuch", "sg.json", "", got, sizeof got), 404);
    assert_int_equal(post_file(s, "/hooks/sendgrid/plain", "sg.json", "", got, sizeof got), 404);
    assert_contains(got, "the provider has no event_public_key");
    assert_int_equal(q1("SELECT count(*) FROM receipts"), 0);
    /* the key in a PEM file: checked the same (the events are mail's, so pending) */
    assert_int_equal(sendgrid_to(s, "/hooks/sendgrid/pem", body, true, got, sizeof got), 403);
    assert_int_equal(sendgrid_to(s, "/hooks/sendgrid/pem", body, false, got, sizeof got), 200);
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE provider = 'pem' AND applied_at IS "
                        "NULL"),
                     3);
    assert_int_equal(sendgrid(s, body, false, got, sizeof got), 200);
    assert_string_equal(got, "ok\n");
    /* SendGrid retries: the same events are the same rows */
    assert_int_equal(sendgrid(s, body, false, got, sizeof got), 200);
    assert_string_equal(got, "duplicate\n");
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE provider = 'mail'"), 3);
    char sql[256];
    assert_int_equal(state_of(m1), HD_ST_DELIVERED);
    assert_int_equal(state_of(m2), HD_ST_BOUNCED);
    assert_int_equal(suppressed("k2@example.com", "hard_bounce", "%"), 1);
    /* the open is a log row; the state stays delivered */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM attempts WHERE message_id = %lld AND outcome = 'receipt' AND "
             "reason = 'opened'",
             m1);
    assert_int_equal(q1(sql), 1);
    /* an unsubscribe SendGrid took: an email marketing opt-out */
    snprintf(body, sizeof body,
             "[{\"email\":\"k1@example.com\",\"timestamp\":1795000300,\"event\":"
             "\"unsubscribe\",\"sg_event_id\":\"ev4\",\"herald_message\":\"%lld\"}]",
             m1);
    assert_int_equal(q1("SELECT count(*) FROM consent WHERE source = 'unsubscribe'"), 0);
    assert_int_equal(sendgrid(s, body, false, got, sizeof got), 200);
    assert_int_equal(q1("SELECT count(*) FROM consent k JOIN contacts c ON c.id = k.contact_id "
                        "WHERE c.email = 'k1@example.com' AND k.channel = 'email' AND k.category "
                        "= 'marketing' AND k.status = 'opted_out' AND k.source = 'unsubscribe'"),
                     1);
    assert_int_equal(state_of(m1), HD_ST_DELIVERED);
}

static void check_mailgun(const struct srv *s)
{
    long long m3 = msg_of("k3@example.com");
    char sig[100], body[2048], got[256];
    /* the server's clock is HERALD_NOW's, 2026-11-22T12:00:00Z and on */
    signer("mailgun " MG_KEY " 1795348800 tok123", sig, sizeof sig);
    const char *fmt =
        "{\"signature\":{\"timestamp\":\"1795348800\",\"token\":\"tok123\",\"signature\":"
        "\"%s\"},\"event-data\":{\"event\":\"complained\",\"id\":\"mg1\",\"timestamp\":"
        "1795348800.5,\"user-variables\":{\"herald_message\":\"%lld\"}}}";
    snprintf(body, sizeof body, fmt,
             "0000000000000000000000000000000000000000000000000000000000000000", m3);
    write_file("mg.json", body);
    assert_int_equal(post_file(s, "/hooks/mailgun/mail", "mg.json", "", got, sizeof got), 403);
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE provider = 'mail'"), 4);
    snprintf(body, sizeof body, fmt, sig, m3);
    write_file("mg.json", body);
    assert_int_equal(post_file(s, "/hooks/mailgun/mail", "mg.json", "", got, sizeof got), 200);
    assert_string_equal(got, "ok\n");
    assert_int_equal(state_of(m3), HD_ST_COMPLAINED);
    assert_int_equal(suppressed("k3@example.com", "complaint", "%"), 1);
    /* Mailgun signs its timestamp and token, not the events: the same
     * signature block again, with other events, is refused (a review
     * forged a complaint and a hard bounce so), and so is one whose
     * timestamp is not within 5 minutes of now */
    long long m2 = msg_of("k2@example.com");
    snprintf(body, sizeof body,
             "{\"signature\":{\"timestamp\":\"1795348800\",\"token\":\"tok123\",\"signature\":"
             "\"%s\"},\"event-data\":{\"event\":\"complained\",\"id\":\"forged\","
             "\"user-variables\":{\"herald_message\":\"%lld\"}}}",
             sig, m2);
    write_file("mg.json", body);
    assert_int_equal(post_file(s, "/hooks/mailgun/mail", "mg.json", "", got, sizeof got), 403);
    assert_contains(got, "taken before");
    signer("mailgun " MG_KEY " 1546300800 old1", sig, sizeof sig);
    snprintf(body, sizeof body,
             "{\"signature\":{\"timestamp\":\"1546300800\",\"token\":\"old1\",\"signature\":"
             "\"%s\"},\"event-data\":{\"event\":\"complained\",\"id\":\"stale\","
             "\"user-variables\":{\"herald_message\":\"%lld\"}}}",
             sig, m2);
    write_file("mg.json", body);
    assert_int_equal(post_file(s, "/hooks/mailgun/mail", "mg.json", "", got, sizeof got), 403);
    assert_contains(got, "within 5 minutes");
    assert_int_equal(suppressed("k2@example.com", "complaint", "%"), 0);
    /* a temporary failure Mailgun retries: a log row, the state kept */
    long long m1 = msg_of("k1@example.com");
    signer("mailgun " MG_KEY " 1795348810 tok124", sig, sizeof sig);
    snprintf(body, sizeof body,
             "{\"signature\":{\"timestamp\":\"1795348810\",\"token\":\"tok124\",\"signature\":"
             "\"%s\"},\"event-data\":{\"event\":\"failed\",\"severity\":\"temporary\",\"id\":"
             "\"mg2\",\"delivery-status\":{\"code\":452,\"message\":\"4.2.2 mailbox full\"},"
             "\"user-variables\":{\"herald_message\":%lld}}}",
             sig, m1);
    write_file("mg.json", body);
    assert_int_equal(post_file(s, "/hooks/mailgun/mail", "mg.json", "", got, sizeof got), 200);
    assert_int_equal(state_of(m1), HD_ST_DELIVERED);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM attempts WHERE message_id = %lld AND outcome = 'receipt' AND "
             "reason = 'deferred'",
             m1);
    assert_int_equal(q1(sql), 1);
    assert_int_equal(suppressed("k1@example.com", "soft_bounce", "%"), 0);
    assert_int_equal(q1("SELECT count(*) FROM consent WHERE source = 'complaint' AND channel = "
                        "'email' AND category = 'marketing'"),
                     1);
}

static void check_postmark(const struct srv *s)
{
    long long m1 = msg_of("k1@example.com");
    char body[1024], got[256];
    snprintf(body, sizeof body,
             "{\"RecordType\":\"Open\",\"MessageID\":\"pm-1\",\"Metadata\":{\"herald_message\":"
             "\"%lld\"},\"FirstOpen\":true}",
             m1);
    write_file("pm.json", body);
    assert_int_equal(
        post_file(s, "/hooks/postmark/mail", "pm.json", "-u pm:wrong", got, sizeof got), 401);
    assert_int_equal(post_file(s, "/hooks/postmark/mail", "pm.json", "", got, sizeof got), 401);
    /* with its challenge (RFC 9110 section 11.6.1) */
    char cmd[1024], *hdrs;
    snprintf(cmd, sizeof cmd,
             "cd '%s' && curl -s -o /dev/null -D - --data-binary @pm.json "
             "'http://127.0.0.1:%d/hooks/postmark/mail'",
             dir, s->port);
    hdrs = tu_sh(cmd);
    assert_contains(hdrs, "WWW-Authenticate: Basic realm=\"herald hooks\"");
    free(hdrs);
    assert_int_equal(
        post_file(s, "/hooks/postmark/mail", "pm.json", "-u pm:" PM_PASS, got, sizeof got), 200);
    assert_string_equal(got, "ok\n");
    /* a bounce: its Type is its code (after the delivery, the move is
     * refused and logged); an auto-responder is not one herald takes */
    snprintf(body, sizeof body,
             "{\"RecordType\":\"Bounce\",\"ID\":4242,\"Type\":\"SoftBounce\",\"MessageID\":"
             "\"pm-1\",\"Details\":\"mailbox busy\",\"Metadata\":{\"herald_message\":\"%lld\"}}",
             m1);
    write_file("pm.json", body);
    assert_int_equal(
        post_file(s, "/hooks/postmark/mail", "pm.json", "-u pm:" PM_PASS, got, sizeof got), 200);
    tu_wait_receipts_where(dir, e2e_db,
                           "gateway_id = '4242' AND status = 'bounced' AND code = '4.0.0'", 1);
    assert_int_equal(state_of(m1), HD_ST_DELIVERED);
    snprintf(body, sizeof body,
             "{\"RecordType\":\"Bounce\",\"ID\":4243,\"Type\":\"AutoResponder\","
             "\"Metadata\":{\"herald_message\":\"%lld\"}}",
             m1);
    write_file("pm.json", body);
    assert_int_equal(
        post_file(s, "/hooks/postmark/mail", "pm.json", "-u pm:" PM_PASS, got, sizeof got), 200);
    assert_string_equal(got, "nothing herald takes\n");
    /* bounded: more than 1 MiB is refused */
    char *big = hd_xmalloc(1200001);
    memset(big, ' ', 1200000);
    big[1200000] = '\0';
    write_file("big.json", big);
    free(big);
    char big_got[256];
    assert_int_equal(
        post_file(s, "/hooks/postmark/mail", "big.json", "-u pm:" PM_PASS, big_got, sizeof big_got),
        413);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM attempts WHERE message_id = %lld AND outcome = 'receipt' AND "
             "reason = 'opened'",
             m1);
    assert_int_equal(q1(sql), 2);
}

/* An SNS message of type type (its fields after Type: a JSON fragment)
 * with the signing certificate at cert, signed by sns_mock.py with
 * SignatureVersion ver; tamper changes one byte of it after signing.
 * Returns the status, the answer in out. */
static int sns_post_cert(const struct srv *s, const char *cert, const char *type,
                         const char *fields, const char *ver, bool tamper, char *out, size_t size)
{
    char body[8192], cmd[512];
    snprintf(body, sizeof body,
             "{\"Type\":\"%s\",%s,\"Timestamp\":\"2026-11-22T12:00:00.000Z\","
             "\"SignatureVersion\":\"%s\",\"SigningCertURL\":\"%s\"}",
             type, fields, ver, cert);
    write_file("sns.json", body);
    snprintf(cmd, sizeof cmd, "cd '%s' && /usr/bin/python3 '%s/tests/sns_mock.py' sign sns.json",
             dir, getenv("HERALD_SRC"));
    char *signed_body = tu_sh(cmd);
    if (tamper)
        *strstr(signed_body, "Permanent") = 'p';
    write_file("sns.json", signed_body);
    free(signed_body);
    return post_file(s, "/hooks/ses/mail", "sns.json", "-H 'x-amz-sns-message-type: x'", out, size);
}

/* The same with the mock's certificate. */
static int sns_post(const struct srv *s, const char *type, const char *fields, const char *ver,
                    bool tamper, char *out, size_t size)
{
    char cert[128];
    snprintf(cert, sizeof cert, "https://127.0.0.1:%d/cert.pem", sns.port);
    return sns_post_cert(s, cert, type, fields, ver, tamper, out, size);
}

static size_t count_lines(const char *file, const char *prefix)
{
    char *p = tu_path(dir, file), *t = tu_read(p);
    size_t n = 0;
    for (const char *l = t; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "")
        n += strncmp(l, prefix, strlen(prefix)) == 0;
    free(t);
    free(p);
    return n;
}

static void check_ses(const struct srv *s)
{
    char got[256], fields[4096];
    const char *sub = "\"MessageId\":\"sub-1\",\"Token\":\"tok-1\",\"TopicArn\":\"%s\","
                      "\"Message\":\"You have chosen to subscribe\",\"SubscribeURL\":"
                      "\"https://127.0.0.1:%d/confirm?Token=tok-1\"";
    /* a topic that is not on the list: refused, nothing fetched */
    snprintf(fields, sizeof fields, sub, "arn:aws:sns:us-east-1:123456789012:else", sns.port);
    assert_int_equal(sns_post(s, "SubscriptionConfirmation", fields, "1", false, got, sizeof got),
                     403);
    assert_string_equal(got, "forbidden: the topic is not in sns_topics\n");
    assert_int_equal(count_lines("sns.log", "/"), 0);
    snprintf(fields, sizeof fields, sub, TOPIC, sns.port);
    assert_int_equal(sns_post(s, "SubscriptionConfirmation", fields, "1", false, got, sizeof got),
                     200);
    assert_string_equal(got, "subscribed\n");
    assert_int_equal(count_lines("sns.log", "/confirm?Token=tok-1"), 1);
    /* SES's bounce, as SNS sends it: Message is JSON text */
    long long m4 = msg_of("k4@example.com"), m1 = msg_of("k1@example.com");
    snprintf(
        fields, sizeof fields,
        "\"MessageId\":\"n-1\",\"TopicArn\":\"%s\",\"Message\":\"{\\\"notificationType\\\":"
        "\\\"Bounce\\\",\\\"bounce\\\":{\\\"bounceType\\\":\\\"Permanent\\\",\\\"timestamp\\\":"
        "\\\"2026-11-22T12:05:00.000Z\\\","
        "\\\"bouncedRecipients\\\":"
        "[{\\\"emailAddress\\\":\\\"k4@example.com\\\",\\\"status\\\":\\\"5.1.1\\\","
        "\\\"diagnosticCode\\\":\\\"smtp; 550 5.1.1 user unknown\\\"}]},\\\"mail\\\":"
        "{\\\"messageId\\\":\\\"ses-4\\\",\\\"tags\\\":{\\\"herald_message\\\":[\\\"%lld\\\"]}}}\"",
        TOPIC, m4);
    assert_int_equal(sns_post(s, "Notification", fields, "2", true, got, sizeof got), 403);
    assert_string_equal(got, "forbidden: the SNS signature does not match\n");
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE provider = 'mail' AND gateway_id = "
                        "'n-1'"),
                     0);
    assert_int_equal(sns_post(s, "Notification", fields, "2", false, got, sizeof got), 200);
    assert_string_equal(got, "ok\n");
    assert_int_equal(sns_post(s, "Notification", fields, "2", false, got, sizeof got), 200);
    assert_string_equal(got, "duplicate\n");
    char sql[256];
    assert_int_equal(state_of(m4), HD_ST_BOUNCED);
    assert_int_equal(suppressed("k4@example.com", "hard_bounce", "%user unknown%"), 1);
    /* the log row has SES's time of the bounce; why tells it */
    snprintf(sql, sizeof sql,
             "SELECT at FROM attempts WHERE message_id = %lld AND outcome = 'receipt'", m4);
    assert_int_equal(q1(sql), 1795349100000LL); /* 2026-11-22T12:05:00Z */
    struct tu_run r;
    tu_herald(&r, dir, NULL, "why", "k4", "promo", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "5.1.1");
    assert_contains(r.out, "address suppressed");
    tu_run_release(&r);
    /* a delivery named by the X-Herald-Message header (SES's original headers) */
    snprintf(fields, sizeof fields,
             "\"MessageId\":\"n-2\",\"Subject\":\"Amazon SES Email Event Notification\","
             "\"TopicArn\":\"%s\",\"Message\":\"{\\\"notificationType\\\":\\\"Delivery\\\","
             "\\\"mail\\\":{\\\"headers\\\":[{\\\"name\\\":\\\"X-Herald-Message\\\",\\\"value\\\":"
             "\\\"%lld\\\"}]}}\"",
             TOPIC, m1);
    assert_int_equal(sns_post(s, "Notification", fields, "1", false, got, sizeof got), 200);
    snprintf(sql, sizeof sql, "gateway_id = 'n-2' AND message_id = %lld", m1);
    tu_wait_receipts_where(dir, e2e_db, sql, 1);
    /* the certificate was fetched once, then cached */
    assert_int_equal(count_lines("sns.log", "/cert.pem"), 1);
}

/* A signing certificate that cannot be fetched (SNS down, the cache empty
 * after a restart) is 503, which SNS retries: it was 403, which SNS does
 * not, and the event was lost. The failure is not cached, and the retry
 * is kept. What came but is no certificate, and a host that is not SNS's,
 * stay 403. */
static void check_ses_cert_down(const struct srv *s)
{
    char got[256], fields[2048], cert[128];
    long long m1 = msg_of("k1@example.com");
    snprintf(fields, sizeof fields,
             "\"MessageId\":\"n-3\",\"TopicArn\":\"%s\",\"Message\":\"{\\\"notificationType\\\":"
             "\\\"Delivery\\\",\\\"mail\\\":{\\\"messageId\\\":\\\"ses-3\\\",\\\"tags\\\":"
             "{\\\"herald_message\\\":[\\\"%lld\\\"]}}}\"",
             TOPIC, m1);
    snprintf(cert, sizeof cert, "https://127.0.0.1:%d/down/cert.pem", sns.port);
    for (size_t i = 1; i <= 2; i++) {
        assert_int_equal(
            sns_post_cert(s, cert, "Notification", fields, "2", false, got, sizeof got), 503);
        assert_string_equal(got, "the SNS signing certificate could not be fetched: try again\n");
        assert_int_equal(count_lines("sns.log", "/down/cert.pem"), i);
    }
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE gateway_id = 'n-3'"), 0);
    char *lp = tu_path(dir, "serve.log"), *log = tu_read(lp);
    assert_contains(log, "/down/cert.pem' could not be fetched (HTTP 503)");
    free(log);
    free(lp);
    snprintf(cert, sizeof cert, "https://127.0.0.1:%d/confirm?not-a-cert", sns.port);
    assert_int_equal(sns_post_cert(s, cert, "Notification", fields, "2", false, got, sizeof got),
                     403);
    assert_string_equal(got, "forbidden: the SNS signature does not match\n");
    snprintf(cert, sizeof cert, "https://127.0.0.2:%d/down/cert.pem", sns.port);
    assert_int_equal(sns_post_cert(s, cert, "Notification", fields, "2", false, got, sizeof got),
                     403);
    assert_string_equal(got, "forbidden: SigningCertURL is not SNS's\n");
    assert_int_equal(count_lines("sns.log", "/down/cert.pem"), 2);
    /* SNS tries again once it is back */
    assert_int_equal(sns_post(s, "Notification", fields, "2", false, got, sizeof got), 200);
    assert_string_equal(got, "ok\n");
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE gateway_id = 'n-3'"), 1);
}

/* A provider that exists but is not set up for a sender: no such hook,
 * 404 (it was 503, an outage any caller could raise), before anything is
 * read or kept; the log says which key the provider lacks. */
static void check_esp_unset(const struct srv *s)
{
    static const struct {
        const char *path, *key;
    } unset[] = {
        {"/hooks/sendgrid/plain", "event_public_key"},
        {"/hooks/mailgun/plain", "webhook_signing_key"},
        {"/hooks/postmark/plain", "webhook_password"},
        {"/hooks/ses/plain", "sns_topics"},
    };
    char got[256], want[160];
    int64_t before = q1("SELECT count(*) FROM receipts");
    write_file("unset.json", "{}");
    for (size_t i = 0; i < sizeof unset / sizeof *unset; i++) {
        int st = post_file(s, unset[i].path, "unset.json", "", got, sizeof got);
        snprintf(want, sizeof want, "the provider has no %s: herald takes no", unset[i].key);
        if (st != 404 || !strstr(got, want))
            fail_msg("%s: %d '%s', want 404 '%s'", unset[i].path, st, got, want);
    }
    assert_int_equal(q1("SELECT count(*) FROM receipts"), before);
    char *lp = tu_path(dir, "serve.log"), *log = tu_read(lp);
    assert_contains(log, "serve: ses events to 'plain' refused (404): the provider has no "
                         "sns_topics");
    assert_contains(log, "serve: postmark events to 'plain' refused (404): the provider has no "
                         "webhook_password");
    free(log);
    free(lp);
}

/* The test's host is allowed only with HERALD_TEST set as well: without
 * it, only sns.REGION.amazonaws.com is, and nothing is fetched. */
static void check_ses_host(void)
{
    char got[256], fields[1024];
    struct srv s;
    unsetenv("HERALD_TEST");
    srv_start(&s);
    snprintf(fields, sizeof fields,
             "\"MessageId\":\"sub-2\",\"Token\":\"tok-2\",\"TopicArn\":\"%s\",\"Message\":"
             "\"x\",\"SubscribeURL\":\"https://127.0.0.1:%d/confirm?Token=tok-2\"",
             TOPIC, sns.port);
    assert_int_equal(sns_post(&s, "SubscriptionConfirmation", fields, "1", false, got, sizeof got),
                     403);
    assert_string_equal(got, "forbidden: SigningCertURL is not SNS's\n");
    /* SNS's host, and a line break or a space after it: refused before
     * anything is fetched or logged (a review forged a log line so) */
    static const char *const bad[] = {"x\\n2026-12-04T23:59:59Z herald info: forged", "a b.pem",
                                      "x\\u0007.pem"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char body[1024];
        snprintf(body, sizeof body,
                 "{\"Type\":\"Notification\",\"MessageId\":\"m1\",\"TopicArn\":\"%s\","
                 "\"Message\":\"{}\",\"Timestamp\":\"2026-11-22T12:00:00Z\","
                 "\"SignatureVersion\":\"1\",\"Signature\":\"QUJD\",\"SigningCertURL\":"
                 "\"https://sns.us-east-1.amazonaws.com/%s\"}",
                 TOPIC, bad[i]);
        write_file("sns.json", body);
        assert_int_equal(post_file(&s, "/hooks/ses/mail", "sns.json",
                                   "-H 'x-amz-sns-message-type: x'", got, sizeof got),
                         403);
        assert_string_equal(got, "forbidden: SigningCertURL is not SNS's\n");
    }
    assert_int_equal(srv_stop(&s), 0);
    setenv("HERALD_TEST", "1", 1);
    assert_int_equal(count_lines("sns.log", "/confirm?Token=tok-2"), 0);
}

/* Item 6: `opened` in segment rules: k1's email was reported opened. */
static void check_opened(void)
{
    TU_HERALD_OK(dir, "segment", "define", "openers", "opened");
    TU_HERALD_OK(dir, "segment", "define", "closed", "email exists and not opened");
    struct tu_run r;
    tu_herald(&r, dir, NULL, "segment", "sample", "openers", "--format", "csv", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "k1@example.com");
    assert_not_contains(r.out, "k2@example.com");
    assert_not_contains(r.out, "k3@example.com");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "segment", "count", "closed", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "3\n"); /* k2, k3, k4 */
    tu_run_release(&r);
}

/* A SendGrid batch of more events than are read at a time (EVENTS_MAX):
 * every one kept (the ones past the first 1,000 were dropped and the batch
 * answered ok: a review found it), and the batch again is a duplicate. */
static void check_sendgrid_big(const struct srv *s)
{
    long long m1 = msg_of("k1@example.com");
    struct hd_buf b;
    char got[256];
    hd_buf_init(&b);
    for (int i = 0; i < 2500; i++)
        hd_buf_addf(&b,
                    "%s{\"timestamp\":1795000400,\"event\":\"open\",\"sg_event_id\":\"big-%d\","
                    "\"herald_message\":\"%lld\"}",
                    i ? "," : "[", i, m1);
    hd_buf_adds(&b, "]");
    assert_int_equal(sendgrid(s, b.data, false, got, sizeof got), 200);
    assert_string_equal(got, "ok\n");
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE gateway_id LIKE 'big-%'"), 2500);
    assert_int_equal(sendgrid(s, b.data, false, got, sizeof got), 200);
    assert_string_equal(got, "duplicate\n");
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE gateway_id LIKE 'big-%'"), 2500);
    hd_buf_release(&b);
}

static void test_esp_events(void **state)
{
    (void)state;
    struct srv s;
    srv_start(&s);
    check_sendgrid(&s);
    check_mailgun(&s);
    check_postmark(&s);
    check_ses(&s);
    check_ses_cert_down(&s);
    check_esp_unset(&s);
    check_sendgrid_big(&s);
    assert_int_equal(srv_stop(&s), 0);
    check_ses_host();
    check_opened();
}

/* A Mailgun body whose signature block takes token at ts (signed by
 * esp_sign.py), carrying one event (word, id) about message m, into
 * file. */
static void mailgun_body(const char *file, const char *ts, const char *token, const char *word,
                         const char *id, long long m)
{
    char args[160], sig[100], body[1024];
    snprintf(args, sizeof args, "mailgun " MG_KEY " %s %s", ts, token);
    signer(args, sig, sizeof sig);
    snprintf(body, sizeof body,
             "{\"signature\":{\"timestamp\":\"%s\",\"token\":\"%s\",\"signature\":\"%s\"},"
             "\"event-data\":{\"event\":\"%s\",\"id\":\"%s\",\"user-variables\":"
             "{\"herald_message\":\"%lld\"}}}",
             ts, token, sig, word, id, m);
    write_file(file, body);
}

/* A Mailgun token is taken once per database, not once per process: the
 * same signature block posted again after `herald serve` restarted
 * (within the 5 minutes, HERALD_NOW's clock starting again) is refused,
 * with other events or the same; the store keeps the token only as its
 * SHA-256. A store that cannot take the token answers 503, so that
 * Mailgun tries again, and keeps nothing. */
static void test_esp_mailgun_restart(void **state)
{
    (void)state;
    long long m4 = msg_of("k4@example.com");
    char got[256];
    struct srv s;
    mailgun_body("mgr.json", "1795348830", "tok-restart", "delivered", "mgr-1", m4);
    mailgun_body("mgr-forged.json", "1795348830", "tok-restart", "complained", "mgr-forged", m4);
    srv_start(&s);
    assert_int_equal(post_file(&s, "/hooks/mailgun/mail", "mgr.json", "", got, sizeof got), 200);
    assert_string_equal(got, "ok\n");
    assert_int_equal(srv_stop(&s), 0);
    srv_start(&s);
    assert_int_equal(post_file(&s, "/hooks/mailgun/mail", "mgr-forged.json", "", got, sizeof got),
                     403);
    assert_string_equal(got, "forbidden: this Mailgun token was taken before\n");
    assert_int_equal(post_file(&s, "/hooks/mailgun/mail", "mgr.json", "", got, sizeof got), 403);
    assert_int_equal(suppressed("k4@example.com", "complaint", "%"), 0);
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE gateway_id = 'mgr-forged'"), 0);
    assert_int_equal(q1("SELECT count(*) FROM hook_tokens WHERE hash LIKE '%tok-restart%'"), 0);
    assert_int_equal(q1("SELECT count(*) FROM hook_tokens WHERE length(hash) = 64"),
                     q1("SELECT count(*) FROM hook_tokens"));
    /* the table gone: 503, and the token still free once it is back */
    mailgun_body("mgs.json", "1795348840", "tok-store", "delivered", "mgs-1", m4);
    free(tu_sql_text(dir, e2e_db, "ALTER TABLE hook_tokens RENAME TO hook_tokens_away"));
    assert_int_equal(post_file(&s, "/hooks/mailgun/mail", "mgs.json", "", got, sizeof got), 503);
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE gateway_id = 'mgs-1'"), 0);
    free(tu_sql_text(dir, e2e_db, "ALTER TABLE hook_tokens_away RENAME TO hook_tokens"));
    assert_int_equal(post_file(&s, "/hooks/mailgun/mail", "mgs.json", "", got, sizeof got), 200);
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE gateway_id = 'mgs-1'"), 1);
    assert_int_equal(srv_stop(&s), 0);
    /* the token taken, its events not kept (their table gone): 503, and
     * the token given back for Mailgun's retry, which carries the same
     * (it was refused as taken before, and the events lost) */
    mailgun_body("mgk.json", "1795348845", "tok-keep", "delivered", "mgk-1", m4);
    free(tu_sql_text(dir, e2e_db, "ALTER TABLE receipts RENAME TO receipts_away"));
    srv_start(&s);
    assert_int_equal(post_file(&s, "/hooks/mailgun/mail", "mgk.json", "", got, sizeof got), 503);
    free(tu_sql_text(dir, e2e_db, "ALTER TABLE receipts_away RENAME TO receipts"));
    assert_int_equal(post_file(&s, "/hooks/mailgun/mail", "mgk.json", "", got, sizeof got), 200);
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE gateway_id = 'mgk-1'"), 1);
    assert_int_equal(srv_stop(&s), 0);
}

/* Two `herald serve` processes on one store (the nodes PostgreSQL
 * shares): the token one took, the other refuses. */
static void test_esp_mailgun_nodes(void **state)
{
    (void)state;
    long long m4 = msg_of("k4@example.com");
    char got[256];
    struct srv a, b;
    mailgun_body("mgn.json", "1795348850", "tok-nodes", "delivered", "mgn-1", m4);
    mailgun_body("mgn-forged.json", "1795348850", "tok-nodes", "complained", "mgn-forged", m4);
    srv_start(&a);
    srv_start(&b);
    assert_int_equal(post_file(&a, "/hooks/mailgun/mail", "mgn.json", "", got, sizeof got), 200);
    assert_string_equal(got, "ok\n");
    assert_int_equal(post_file(&b, "/hooks/mailgun/mail", "mgn-forged.json", "", got, sizeof got),
                     403);
    assert_string_equal(got, "forbidden: this Mailgun token was taken before\n");
    assert_int_equal(post_file(&b, "/hooks/mailgun/mail", "mgn.json", "", got, sizeof got), 403);
    assert_int_equal(suppressed("k4@example.com", "complaint", "%"), 0);
    assert_int_equal(srv_stop(&b), 0);
    assert_int_equal(srv_stop(&a), 0);
}

/* Item 1 through SMTP: the driver writes what the outbox writes, here
 * for Mailgun (run last: it routes email through the SMTP server). */
static void test_esp_smtp_headers(void **state)
{
    (void)state;
    struct tu_server smtp;
    char extra[512];
    smtp_start(&smtp);
    snprintf(extra, sizeof extra,
             "secret_file = var/herald.secret\n[provider relay]\ntype = smtp\nhost = 127.0.0.1\n"
             "port = %d\nstarttls = none\nesp = mailgun\n[channel email]\nproviders = relay\n",
             smtp.port);
    write_conf("h.conf", extra);
    write_file("c5.csv", "id,email,first_name,locale\nk5,k5@example.com,Ed,en\n");
    TU_HERALD_OK(dir, "contacts", "import", "c5.csv");
    TU_HERALD_OK(dir, "segment", "define", "five", "email = \"k5@example.com\"");
    TU_HERALD_OK(dir, "campaign", "create", "relayed", "--segment", "five", "--template", "promo",
                 "--channels", "email", "--now");
    TU_HERALD_OK(dir, "send", "relayed", "--wait", "30s");
    tu_server_stop(&smtp);
    char cmd[4200], want[160];
    snprintf(cmd, sizeof cmd, "cat '%s'/smtpout/*", dir);
    char *all = tu_sh(cmd);
    long long m5 = msg_of("k5@example.com");
    assert_true(m5 > 0);
    snprintf(want, sizeof want, "\nX-Herald-Message: %lld\r\n", m5);
    assert_contains(all, want);
    snprintf(want, sizeof want, "\nX-Mailgun-Variables: {\"herald_message\":\"%lld\"}\r\n", m5);
    assert_contains(all, want);
    assert_not_contains(all, "X-SMTPAPI");
    free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_esp_headers),
        cmocka_unit_test(test_esp_events),
        cmocka_unit_test(test_esp_mailgun_restart),
        cmocka_unit_test(test_esp_mailgun_nodes),
        cmocka_unit_test(test_esp_smtp_headers),
    };
    /* the same on a PostgreSQL store */
    const struct CMUnitTest tests_pg[] = {
        {"test_esp_headers_pg", test_esp_headers, NULL, NULL, NULL},
        {"test_esp_events_pg", test_esp_events, NULL, NULL, NULL},
        {"test_esp_mailgun_restart_pg", test_esp_mailgun_restart, NULL, NULL, NULL},
        {"test_esp_mailgun_nodes_pg", test_esp_mailgun_nodes, NULL, NULL, NULL},
        {"test_esp_smtp_headers_pg", test_esp_smtp_headers, NULL, NULL, NULL},
    };
    int rc = cmocka_run_group_tests(tests, esp_setup, esp_teardown);
    return rc | cmocka_run_group_tests(tests_pg, esp_setup_pg, esp_teardown);
}
