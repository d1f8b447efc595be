/* test_esp_ids: mail senders' events that do not carry herald's message
 * number (issue 19): a sender's event is matched on the sender's own id
 * of the message when X-Herald-Message and the echo header are missing
 * (an event from a template or a resend outside herald, a sender
 * configuration that drops custom args). A campaign goes through the
 * SMTP server of the tests (tests/smtp_server.py answers "Ok: queued as
 * H000001") with esp = sendgrid; the writer must keep each message's
 * SMTP id and Message-ID UUID (gateway_ids). Then the real `herald serve`
 * takes, signed by tests/esp_sign.py: a SendGrid event whose
 * sg_message_id is that SMTP id with SendGrid's filter suffix, a Mailgun
 * event naming the Message-ID alone, a Postmark event naming the SMTP id
 * as its MessageID (SES's mail.messageId: test_esp_parse), and an event
 * for an id herald never sent (kept pending with the sender's id, applied to nothing).
 * Both cases run on a SQLite file, then on a PostgreSQL store. */
#include "testserve.h"

#include "herald/state.h"

#define MG_KEY "mg-Signing-Key-7781"
#define PM_PASS "pm-Hook-Pass-5520"

static char pubkey[256];
static struct tu_server smtp;

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

static int ids_setup_on(void)
{
    signer("keygen sg.pem", pubkey, sizeof pubkey);
    setenv("TEST_MG_KEY", MG_KEY, 1);
    setenv("TEST_PM_PASS", PM_PASS, 1);
    smtp_start(&smtp);
    char extra[1024];
    snprintf(extra, sizeof extra,
             "secret_file = var/herald.secret\n[provider relay]\ntype = smtp\nhost = 127.0.0.1\n"
             "port = %d\nstarttls = none\nesp = sendgrid\nevent_public_key = %s\n"
             "webhook_signing_key_env = TEST_MG_KEY\nwebhook_user = pm\n"
             "webhook_password_env = TEST_PM_PASS\n[channel email]\nproviders = relay\n",
             smtp.port, pubkey);
    write_conf("h.conf", extra);
    TU_HERALD_OK(dir, "campaign", "create", "promo", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--now");
    TU_HERALD_OK(dir, "send", "promo", "--wait", "30s");
    return 0;
}

static int ids_setup(void **state)
{
    e2e_setup(state);
    return ids_setup_on();
}

/* The same on a PostgreSQL store. */
static int ids_setup_pg(void **state)
{
    e2e_setup_pg(state);
    return ids_setup_on();
}

static int ids_teardown(void **state)
{
    tu_server_stop(&smtp);
    return e2e_teardown(state);
}

static int64_t msg_of(const char *addr)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT message_id FROM attempts WHERE address = '%s' AND outcome = 'accepted'", addr);
    return q1(sql);
}

static int64_t state_of(long long m)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT state FROM messages WHERE id = %lld", m);
    return q1(sql);
}

/* A text the shell prints (the caller frees), its first line. */
static char *sh1(const char *cmd)
{
    char *r = tu_sh(cmd);
    r[strcspn(r, "\r\n")] = '\0';
    return r;
}

static int post(const struct srv *s, const char *path, const char *file, const char *hdr, char *out,
                size_t size)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && curl -s -g --max-time 10 -w '\\n%%{http_code}' -H 'Content-Type: "
             "application/json' %s --data-binary @%s 'http://127.0.0.1:%d%s'",
             dir, hdr, file, s->port, path);
    return tu_curl(cmd, out, size);
}

static int sendgrid(const struct srv *s, const char *body, char *out, size_t size)
{
    char sig[200], hdr[512];
    write_file("sg.json", body);
    signer("sendgrid sg.pem 1795000000 sg.json", sig, sizeof sig);
    snprintf(hdr, sizeof hdr,
             "-H 'X-Twilio-Email-Event-Webhook-Signature: %s' "
             "-H 'X-Twilio-Email-Event-Webhook-Timestamp: 1795000000'",
             sig);
    return post(s, "/hooks/sendgrid/relay", "sg.json", hdr, out, size);
}

static void test_esp_ids_kept(void **state)
{
    (void)state;
    /* each accepted mail: its SMTP id (H000001...) and its Message-ID's UUID */
    assert_int_equal(q1("SELECT count(*) FROM gateway_ids WHERE provider = 'relay'"), 6);
    assert_int_equal(q1("SELECT count(*) FROM gateway_ids g JOIN attempts a ON a.message_id = "
                        "g.message_id AND a.outcome = 'accepted' AND a.gateway_id = g.gateway_id "
                        "WHERE g.gateway_id LIKE 'H%'"),
                     3);
}

static void test_esp_ids_events(void **state)
{
    (void)state;
    struct srv s;
    char body[2048], got[256], cmd[4096], sig[100], sql[256];
    long long m1 = msg_of("k1@example.com"), m2 = msg_of("k2@example.com");
    assert_true(m1 > 0 && m2 > 0);
    srv_start(&s);

    /* SendGrid: sg_message_id is the SMTP reply's id, a dot and the filter's */
    snprintf(sql, sizeof sql,
             "SELECT gateway_id FROM attempts WHERE message_id = %lld AND outcome = 'accepted'",
             m1);
    char *qid = tu_sql_text(dir, e2e_db, sql);
    qid[strcspn(qid, "\n")] = '\0';
    assert_true(qid[0] == 'H');
    snprintf(body, sizeof body,
             "[{\"email\":\"k1@example.com\",\"event\":\"delivered\",\"sg_event_id\":\"ev-1\","
             "\"sg_message_id\":\"%s.filterdrecv-5bf4c9c-1-5DE8-13\",\"timestamp\":1795000000}]",
             qid);
    assert_int_equal(sendgrid(&s, body, got, sizeof got), 200);
    assert_string_equal(got, "ok\n");
    assert_int_equal(state_of(m1), HD_ST_DELIVERED);

    /* Mailgun: the Message-ID herald wrote, <UUID@domain>, and nothing else */
    snprintf(cmd, sizeof cmd,
             "cd '%s/smtpout' && grep -l '^To: .*k2@example.com' *.eml | head -1 | xargs grep -h "
             "-i '^Message-ID:' | sed 's/^[^<]*//'",
             dir);
    char *mid = sh1(cmd);
    assert_true(mid[0] == '<' && strchr(mid, '@'));
    signer("mailgun " MG_KEY " 1795348800 tok9", sig, sizeof sig); /* HERALD_NOW */
    snprintf(body, sizeof body,
             "{\"signature\":{\"timestamp\":\"1795348800\",\"token\":\"tok9\",\"signature\":"
             "\"%s\"},\"event-data\":{\"event\":\"complained\",\"id\":\"mg9\",\"timestamp\":"
             "1795000200.5,\"message\":{\"headers\":{\"message-id\":\"%s\"}}}}",
             sig, mid + 1);
    write_file("mg.json", body);
    assert_int_equal(post(&s, "/hooks/mailgun/relay", "mg.json", "", got, sizeof got), 200);
    assert_int_equal(state_of(m2), HD_ST_COMPLAINED);
    assert_int_equal(q1("SELECT count(*) FROM suppressions WHERE address = 'k2@example.com' AND "
                        "reason = 'complaint'"),
                     1);

    /* Postmark: MessageID, the id its SMTP reply named */
    long long m3 = msg_of("k3@example.com");
    snprintf(sql, sizeof sql,
             "SELECT gateway_id FROM attempts WHERE message_id = %lld AND outcome = 'accepted'",
             m3);
    char *qid3 = tu_sql_text(dir, e2e_db, sql);
    qid3[strcspn(qid3, "\n")] = '\0';
    snprintf(body, sizeof body,
             "{\"RecordType\":\"Delivery\",\"MessageID\":\"%s\",\"Recipient\":"
             "\"k3@example.com\",\"DeliveredAt\":\"2026-11-22T12:01:00Z\"}",
             qid3);
    write_file("pm.json", body);
    assert_int_equal(
        post(&s, "/hooks/postmark/relay", "pm.json", "-u pm:" PM_PASS, got, sizeof got), 200);
    assert_int_equal(state_of(m3), HD_ST_DELIVERED);
    free(qid3);

    /* an id herald never sent: kept pending, with the sender's id, for later */
    snprintf(body, sizeof body,
             "[{\"email\":\"x@example.com\",\"event\":\"bounce\",\"sg_event_id\":\"ev-2\","
             "\"sg_message_id\":\"HNOPE.filterdrecv-1\",\"status\":\"5.1.1\"}]");
    assert_int_equal(sendgrid(&s, body, got, sizeof got), 200);
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE provider_id = 'HNOPE' AND "
                        "applied_at IS NULL"),
                     1);
    assert_int_equal(q1("SELECT count(*) FROM attempts WHERE outcome = 'receipt'"), 3);
    /* an event for an id herald learns later (as the writer records it at
     * send time): the service's pending retry applies it once it is there,
     * and the sender's retry of it is a duplicate (it stayed pending for
     * ever, and the retry made a second row: a review found it) */
    snprintf(body, sizeof body,
             "[{\"email\":\"k1@example.com\",\"event\":\"open\",\"sg_event_id\":\"ev-3\","
             "\"sg_message_id\":\"HLATER.filterdrecv-1\",\"timestamp\":1795000100}]");
    assert_int_equal(sendgrid(&s, body, got, sizeof got), 200);
    assert_string_equal(got, "ok\n");
    snprintf(sql, sizeof sql,
             "INSERT INTO gateway_ids (provider, gateway_id, message_id, at) VALUES ('relay', "
             "'HLATER', %lld, 1795348800000)",
             m1);
    free(tu_sql_text(dir, e2e_db, sql));
    const char *applied = "SELECT count(*) FROM receipts WHERE provider_id = 'HLATER' AND "
                          "applied_at IS NOT NULL";
    for (int i = 0; i < 100 && q1(applied) == 0; i++) /* retried each second */
        nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
    assert_int_equal(q1(applied), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM attempts WHERE message_id = %lld AND outcome = 'receipt' AND "
             "reason = 'opened'",
             m1);
    assert_int_equal(q1(sql), 1);
    assert_int_equal(sendgrid(&s, body, got, sizeof got), 200);
    assert_string_equal(got, "duplicate\n");
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE provider_id = 'HLATER'"), 1);
    assert_int_equal(srv_stop(&s), 0);
    free(qid);
    free(mid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_esp_ids_kept),
        cmocka_unit_test(test_esp_ids_events),
    };
    /* the same on a PostgreSQL store */
    const struct CMUnitTest tests_pg[] = {
        {"test_esp_ids_kept_pg", test_esp_ids_kept, NULL, NULL, NULL},
        {"test_esp_ids_events_pg", test_esp_ids_events, NULL, NULL, NULL},
    };
    int rc = cmocka_run_group_tests(tests, ids_setup, ids_teardown);
    return rc | cmocka_run_group_tests(tests_pg, ids_setup_pg, ids_teardown);
}
