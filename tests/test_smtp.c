/* test_smtp: the SMTP driver against a real SMTP server (aiosmtpd, run by
 * tests/smtp_server.py on 127.0.0.1) with STARTTLS on a test CA made here
 * with openssl, AUTH, and replies scripted per recipient. Checks every reply
 * code mapping (class and bad-address flag; a refusal of how the address
 * was written never marks it bad), the received MIME as Python's
 * email package parses it, that an unverifiable or misnamed certificate is
 * refused, that header injection is refused before anything is sent, that
 * implicit TLS works, and that the password never reaches the logs. */
#include "testnet.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>

#include <jansson.h>
#include <time.h>

#include "herald/config.h"
#include "herald/driver.h"
#include "herald/log.h"

#define PY "/usr/bin/python3"

struct server {
    struct tu_server ts;
    int port;
    char *out;
};

static char *dir;
/* the AUTH mechanisms the next server started offers (NULL: PLAIN and LOGIN) */
static const char *auth_mechanisms;

static void start_server_utf8(struct server *s, const char *name, const char *cert, bool implicit,
                              bool auth, bool smtputf8)
{
    char key[64], pem[64];
    s->out = tu_path(dir, name);
    assert_int_equal(mkdir(s->out, 0755), 0);
    snprintf(pem, sizeof pem, "%s.pem", cert ? cert : "");
    snprintf(key, sizeof key, "%s.key", cert ? cert : "");
    const char *src = getenv("HERALD_SRC");
    char script[4096];
    snprintf(script, sizeof script, "%s/tests/smtp_server.py", src ? src : ".");
    const char *argv[16] = {PY, script, "--out", s->out};
    int n = 4;
    if (cert) {
        argv[n++] = "--cert";
        argv[n++] = pem;
        argv[n++] = "--key";
        argv[n++] = key;
        argv[n++] = implicit ? "--implicit" : "--require-tls";
    }
    if (auth) {
        argv[n++] = "--auth";
        argv[n++] = "herald:Sup3r-Secret-Pw";
    }
    if (auth && auth_mechanisms) {
        argv[n++] = "--auth-mechanisms";
        argv[n++] = auth_mechanisms;
    }
    if (smtputf8)
        argv[n++] = "--smtputf8";
    argv[n] = NULL;
    tu_server_start(&s->ts, dir, argv, "the SMTP server (is python3-aiosmtpd installed?)");
    s->port = s->ts.port;
}

static void start_server(struct server *s, const char *name, const char *cert, bool implicit,
                         bool auth)
{
    start_server_utf8(s, name, cert, implicit, auth, false);
}

static void stop_server(struct server *s)
{
    tu_server_stop(&s->ts);
    free(s->out);
}

/* A provider for the server, with extra config lines. */
static struct hd_config *config(const struct server *s, const char *extra)
{
    struct hd_buf t;
    struct hd_config *cfg = NULL;
    struct hd_err e = {0};
    hd_buf_init(&t);
    hd_buf_addf(&t,
                "[provider mail]\ntype = smtp\nhost = localhost\nport = %d\n"
                "from = Acme <hello@example.com>\nconnections = 2\ntimeout = 10s\n%s",
                s->port, extra);
    if (hd_config_parse(t.data, "t.conf", &cfg, &e) != 0)
        fail_msg("%s", e.msg);
    hd_buf_release(&t);
    return cfg;
}

/* Sends one message to each address through cfg's provider; results in
 * the order of the addresses. */
static void send_all(struct hd_config *cfg, const char *const *to, size_t n, const char *subject,
                     struct tu_results *rs, struct hd_log *log)
{
    struct hd_driver *d;
    struct hd_err e = {0};
    assert_int_equal(hd_driver_open(hd_config_provider(cfg, "mail"), log, &d, &e), 0);
    for (size_t i = 0; i < n; i++) {
        struct hd_msg m = {.channel = HD_CH_EMAIL,
                           .category = HD_CAT_MARKETING,
                           .to = to[i],
                           .subject = subject ? subject : "Grüße aus Köln — 你好",
                           .text = "Hello Ann,\nthis is the text part: café, 中文.\n",
                           .html = "<p>Hello <b>Ann</b> — café, 中文</p>",
                           .unsubscribe_url = "https://example.com/u/1",
                           .unsubscribe_mailto = "unsub@example.com",
                           .created = 1795334400,
                           .user = (void *)(uintptr_t)i};
        hd_uuid(m.id);
        assert_int_equal(hd_driver_submit(d, &m, &e), 0);
    }
    memset(rs, 0, sizeof *rs);
    tu_await(d, n, rs);
}

static struct server tls_srv;

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    tu_make_certs(dir);
    setenv("TEST_SMTP_PW", "Sup3r-Secret-Pw", 1);
    start_server(&tls_srv, "tls", "srv", false, true);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stop_server(&tls_srv);
    tu_rmdir(dir);
    return 0;
}

static const char tls_auth[] = "starttls = required\nca_file = %s/ca.pem\nusername = herald\n"
                               "password_env = TEST_SMTP_PW\n";

static struct hd_config *tls_config(const struct server *s)
{
    char extra[4200];
    snprintf(extra, sizeof extra, tls_auth, dir);
    return config(s, extra);
}

static void test_smtp_reply_codes(void **state)
{
    (void)state;
    static const struct {
        const char *to;
        int outcome, code;
        bool bad;
        const char *text;
    } cases[] = {
        {"ann@example.com", HD_OUT_ACCEPTED, 250, false, "2.0.0 Ok: queued as"},
        {"tempfail@example.com", HD_OUT_TEMPORARY, 450, false, "RCPT TO refused: 450 4.2.0"},
        {"later@example.com", HD_OUT_TEMPORARY, 451, false, "451 4.3.0"},
        {"reject@example.com", HD_OUT_PERMANENT, 550, false, "550 5.7.1 policy rejection"},
        {"nouser@example.com", HD_OUT_PERMANENT, 550, true, "550 5.1.1 no such user"},
        {"nodomain@example.com", HD_OUT_PERMANENT, 550, true, "550 5.1.2"},
        /* refusals of how the address was written, or of the sender: never
         * a bad address (issue 15) */
        {"syntax@example.com", HD_OUT_PERMANENT, 501, false,
         "5.1.3 bad recipient address syntax "
         "(the server refused how the address "
         "was written: not suppressed)"},
        {"badsender@example.com", HD_OUT_PERMANENT, 553, false, "553 5.1.8 sender"},
        {"utf8@example.com", HD_OUT_PERMANENT, 553, false,
         "5.6.7 non-ASCII addresses are not "
         "permitted (the server refused how"},
        {"datafail@example.com", HD_OUT_PERMANENT, 554, false, "DATA refused: 554 5.6.0"},
        {"datatemp@example.com", HD_OUT_TEMPORARY, 451, false, "DATA refused: 451 4.3.0"},
        {"bob@example.com", HD_OUT_ACCEPTED, 250, false, "queued as"},
    };
    const char *to[16];
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++)
        to[i] = cases[i].to;
    struct hd_config *cfg = tls_config(&tls_srv);
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_WARN);
    struct tu_results rs;
    send_all(cfg, to, n, NULL, &rs, &log);
    for (size_t i = 0; i < n; i++) {
        const struct hd_result *r = &rs.r[i];
        if (r->outcome != cases[i].outcome || r->code != cases[i].code ||
            r->bad_address != cases[i].bad || !strstr(r->text, cases[i].text))
            fail_msg("%s: got %s %d bad=%d \"%s\"", cases[i].to, hd_outcome_name(r->outcome),
                     r->code, r->bad_address, r->text);
        assert_int_equal(strlen(r->digest), 64);
    }
    assert_true(strncmp(rs.r[0].gateway_id, "H", 1) == 0);

    /* 421 closes the session: temporary, for it and whatever was after it */
    const char *busy[] = {"busy@example.com"};
    send_all(cfg, busy, 1, NULL, &rs, &log);
    assert_int_equal(rs.r[0].outcome, HD_OUT_TEMPORARY);
    assert_int_equal(rs.r[0].code, 421);
    /* 452 alone: the message's RCPT TO refused for now, temporary */
    const char *full[] = {"full@example.com"};
    send_all(cfg, full, 1, NULL, &rs, &log);
    assert_int_equal(rs.r[0].outcome, HD_OUT_TEMPORARY);
    assert_int_equal(rs.r[0].code, 452);
    assert_contains(rs.r[0].text, "452 4.2.2 mailbox full");
    hd_log_release(&log);
    hd_config_free(cfg);
}

static json_t *received(const struct server *s, int n)
{
    char name[32];
    snprintf(name, sizeof name, "%d.json", n);
    char *p = tu_path(s->out, name);
    json_t *j = NULL;
    struct timespec nap = {0, 20 * 1000 * 1000};
    for (int i = 0; i < 50 && !(j = json_load_file(p, 0, NULL)); i++)
        nanosleep(&nap, NULL);
    free(p);
    return j;
}

static int count_received(const struct server *s)
{
    int n = 0;
    for (int i = 1; i < 1000; i++) {
        char name[32];
        snprintf(name, sizeof name, "%d.eml", i);
        char *p = tu_path(s->out, name);
        int e = tu_exists(p);
        free(p);
        if (!e)
            break;
        n = i;
    }
    return n;
}

static void test_smtp_mime(void **state)
{
    (void)state;
    struct hd_config *cfg = tls_config(&tls_srv);
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_WARN);
    struct tu_results rs;
    int before = count_received(&tls_srv);
    const char *to[] = {"mime@example.com"};
    send_all(cfg, to, 1, NULL, &rs, &log);
    assert_int_equal(rs.r[0].outcome, HD_OUT_ACCEPTED);
    json_t *j = received(&tls_srv, before + 1);
    assert_non_null(j);
    json_t *h = json_object_get(j, "headers");
    assert_string_equal(json_string_value(json_object_get(h, "Subject")), "Grüße aus Köln — 你好");
    assert_string_equal(json_string_value(json_object_get(h, "From")), "Acme <hello@example.com>");
    assert_string_equal(json_string_value(json_object_get(h, "To")), "mime@example.com");
    assert_string_equal(
        json_string_value(json_object_get(h, "List-Unsubscribe")),
        "<https://example.com/u/1>, <mailto:unsub@example.com?subject=unsubscribe>");
    assert_string_equal(json_string_value(json_object_get(h, "List-Unsubscribe-Post")),
                        "List-Unsubscribe=One-Click");
    char want_id[80];
    snprintf(want_id, sizeof want_id, "<%s@example.com>", rs.r[0].id);
    assert_string_equal(json_string_value(json_object_get(h, "Message-ID")), want_id);
    assert_string_equal(json_string_value(json_object_get(h, "Date")),
                        "Sun, 22 Nov 2026 08:00:00 +0000");
    assert_string_equal(json_string_value(json_object_get(j, "content_type")),
                        "multipart/alternative");
    assert_true(json_is_true(json_object_get(j, "tls")));
    assert_true(json_is_true(json_object_get(j, "auth")));
    assert_true(json_integer_value(json_object_get(j, "max_line")) <= 998);
    assert_int_equal(json_integer_value(json_object_get(j, "bare_lf")), 0);
    json_t *parts = json_object_get(j, "parts");
    assert_int_equal(json_array_size(parts), 2);
    json_t *text = json_array_get(parts, 0), *html = json_array_get(parts, 1);
    assert_string_equal(json_string_value(json_object_get(text, "type")), "text/plain");
    assert_string_equal(json_string_value(json_object_get(text, "charset")), "utf-8");
    assert_string_equal(json_string_value(json_object_get(text, "encoding")), "quoted-printable");
    assert_string_equal(json_string_value(json_object_get(text, "text")),
                        "Hello Ann,\nthis is the text part: café, 中文.\n");
    assert_string_equal(json_string_value(json_object_get(html, "type")), "text/html");
    assert_string_equal(json_string_value(json_object_get(html, "text")),
                        "<p>Hello <b>Ann</b> — café, 中文</p>\n");
    json_decref(j);

    /* a long line of text is folded by quoted-printable, not cut */
    struct hd_buf longline;
    hd_buf_init(&longline);
    for (int i = 0; i < 3000; i++)
        hd_buf_addc(&longline, (char)('a' + i % 26));
    struct hd_driver *d;
    struct hd_err e = {0};
    assert_int_equal(hd_driver_open(hd_config_provider(cfg, "mail"), &log, &d, &e), 0);
    struct hd_msg m = {.channel = HD_CH_EMAIL,
                       .to = "long@example.com",
                       .subject = "long",
                       .text = longline.data,
                       .created = 1795334400};
    hd_uuid(m.id);
    assert_int_equal(hd_driver_submit(d, &m, &e), 0);
    struct tu_results got = {0};
    for (int i = 0; i < 300 && !got.n; i++)
        hd_driver_poll(d, 100, tu_collect, &got);
    hd_driver_free(d);
    assert_int_equal(got.r[0].outcome, HD_OUT_ACCEPTED);
    j = received(&tls_srv, before + 2);
    assert_non_null(j);
    assert_true(json_integer_value(json_object_get(j, "max_line")) <= 78);
    hd_buf_addc(&longline, '\n'); /* a body always ends with a line break */
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "parts"), 0), "text")),
        longline.data);
    json_decref(j);
    hd_buf_release(&longline);
    hd_log_release(&log);
    hd_config_free(cfg);
}

static void test_smtp_header_injection(void **state)
{
    (void)state;
    struct hd_config *cfg = tls_config(&tls_srv);
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_WARN);
    int before = count_received(&tls_srv);
    static const char *const subjects[] = {"Hi\r\nBcc: victim@example.com", "Hi\nX-Evil: 1",
                                           "tab\tok but \x01 not"};
    for (size_t i = 0; i < 3; i++) {
        struct tu_results rs;
        const char *to[] = {"ann@example.com"};
        send_all(cfg, to, 1, subjects[i], &rs, &log);
        assert_int_equal(rs.r[0].outcome, HD_OUT_PERMANENT);
        assert_contains(rs.r[0].text, "header 'Subject' holds a control character");
    }
    /* in an address too */
    struct tu_results rs;
    const char *to[] = {"ann@example.com\r\nBcc: victim@example.com"};
    send_all(cfg, to, 1, "fine", &rs, &log);
    assert_int_equal(rs.r[0].outcome, HD_OUT_PERMANENT);
    assert_contains(rs.r[0].text, "header 'To' holds a control character");
    assert_int_equal(count_received(&tls_srv), before); /* nothing reached the server */
    hd_log_release(&log);
    hd_config_free(cfg);
}

static void test_smtp_tls_failures(void **state)
{
    (void)state;
    struct server bad, wrong, plain, implicit;
    start_server(&bad, "bad", "bad", false, false);
    start_server(&wrong, "wrong", "wrong", false, false);
    start_server(&plain, "plain", NULL, false, false);
    start_server(&implicit, "implicit", "srv", true, false);
    char extra[4200];
    struct hd_log log;
    struct tu_results rs;
    const char *to[] = {"ann@example.com"};
    char *logp = tu_path(dir, "warn.log");
    FILE *lf = fopen(logp, "w");
    hd_log_init(&log, lf, HD_LOG_DEBUG);

    snprintf(extra, sizeof extra, "starttls = required\nca_file = %s/ca.pem\n", dir);
    struct hd_config *cfg = config(&bad, extra);
    send_all(cfg, to, 1, NULL, &rs, &log);
    /* a TLS set-up failure is the provider's fault (issue 16, item 5) */
    assert_int_equal(rs.r[0].outcome, HD_OUT_THROTTLED);
    assert_true(rs.r[0].provider_fault);
    assert_contains(rs.r[0].text, "the server's certificate does not verify");
    hd_config_free(cfg);

    cfg = config(&wrong, extra);
    send_all(cfg, to, 1, NULL, &rs, &log);
    /* a TLS set-up failure is the provider's fault (issue 16, item 5) */
    assert_int_equal(rs.r[0].outcome, HD_OUT_THROTTLED);
    assert_true(rs.r[0].provider_fault);
    assert_contains(rs.r[0].text, "not for this host name");
    hd_config_free(cfg);

    /* STARTTLS required, but the server does not offer it */
    cfg = config(&plain, extra);
    send_all(cfg, to, 1, NULL, &rs, &log);
    /* a TLS set-up failure is the provider's fault (issue 16, item 5) */
    assert_int_equal(rs.r[0].outcome, HD_OUT_THROTTLED);
    assert_true(rs.r[0].provider_fault);
    assert_contains(rs.r[0].text, "does not offer STARTTLS");
    hd_config_free(cfg);
    /* optional: it goes in clear */
    cfg = config(&plain, "starttls = optional\n");
    send_all(cfg, to, 1, NULL, &rs, &log);
    assert_int_equal(rs.r[0].outcome, HD_OUT_ACCEPTED);
    hd_config_free(cfg);

    /* tls_verify = no accepts the untrusted certificate, with a warning */
    snprintf(extra, sizeof extra, "starttls = required\ntls_verify = no\n");
    cfg = config(&bad, extra);
    send_all(cfg, to, 1, NULL, &rs, &log);
    if (rs.r[0].outcome != HD_OUT_ACCEPTED)
        fail_msg("tls_verify = no: %s %d %s %lld ms", hd_outcome_name(rs.r[0].outcome),
                 rs.r[0].code, rs.r[0].text, (long long)rs.r[0].latency_ms);
    hd_config_free(cfg);

    /* implicit TLS (as on port 465), TLS from the first byte */
    snprintf(extra, sizeof extra, "implicit_tls = yes\nca_file = %s/ca.pem\n", dir);
    cfg = config(&implicit, extra);
    send_all(cfg, to, 1, NULL, &rs, &log);
    if (rs.r[0].outcome != HD_OUT_ACCEPTED)
        fail_msg("implicit TLS: %s", rs.r[0].text);
    json_t *j = received(&implicit, 1);
    assert_true(json_is_true(json_object_get(j, "tls")));
    json_decref(j);
    hd_config_free(cfg);
    /* and refused when its certificate does not verify */
    snprintf(extra, sizeof extra, "implicit_tls = yes\nca_file = %s/evil.pem\n", dir);
    cfg = config(&implicit, extra);
    send_all(cfg, to, 1, NULL, &rs, &log);
    /* a TLS set-up failure is the provider's fault (issue 16, item 5) */
    assert_int_equal(rs.r[0].outcome, HD_OUT_THROTTLED);
    assert_true(rs.r[0].provider_fault);
    assert_contains(rs.r[0].text, "TLS with localhost:");
    hd_config_free(cfg);

    /* nobody listening: temporary */
    struct server gone = {.port = 9};
    cfg = config(&gone, "starttls = none\n");
    send_all(cfg, to, 1, NULL, &rs, &log);
    assert_int_equal(rs.r[0].outcome, HD_OUT_TEMPORARY);
    assert_int_equal(rs.r[0].code, 0);
    hd_config_free(cfg);

    hd_log_release(&log);
    fclose(lf);
    char *text = tu_read(logp);
    assert_contains(text, "tls_verify = no: the server's certificate is not checked");
    free(text);
    free(logp);
    stop_server(&bad);
    stop_server(&wrong);
    stop_server(&plain);
    stop_server(&implicit);
}

/* A server that offers AUTH LOGIN and not PLAIN: herald logs in with
 * LOGIN (the username and password each base64 on a line of its own), and
 * a wrong password is the provider's fault as with PLAIN. */
static void test_smtp_auth_login(void **state)
{
    (void)state;
    struct server login;
    auth_mechanisms = "LOGIN";
    start_server(&login, "login", "srv", false, true);
    auth_mechanisms = NULL;
    struct hd_config *cfg = tls_config(&login);
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_WARN);
    struct tu_results rs;
    const char *to[] = {"ann@example.com"};
    send_all(cfg, to, 1, NULL, &rs, &log);
    if (rs.r[0].outcome != HD_OUT_ACCEPTED)
        fail_msg("AUTH LOGIN: %s %d %s", hd_outcome_name(rs.r[0].outcome), rs.r[0].code,
                 rs.r[0].text);
    json_t *j = received(&login, 1);
    assert_true(json_is_true(json_object_get(j, "auth")));
    json_decref(j);
    hd_config_free(cfg);
    setenv("TEST_SMTP_PW", "wrong", 1);
    cfg = tls_config(&login);
    send_all(cfg, to, 1, NULL, &rs, &log);
    setenv("TEST_SMTP_PW", "Sup3r-Secret-Pw", 1);
    assert_int_equal(rs.r[0].outcome, HD_OUT_THROTTLED);
    assert_true(rs.r[0].provider_fault);
    assert_contains(rs.r[0].text, "authentication failed: 535");
    hd_config_free(cfg);
    hd_log_release(&log);
    stop_server(&login);
}

/* Through the binary, with debug logging: the password is nowhere in what it
 * prints, and a wrong password fails. */
static void test_smtp_password_not_logged(void **state)
{
    (void)state;
    char *conf = tu_path(dir, "h.conf");
    struct hd_buf t;
    hd_buf_init(&t);
    hd_buf_addf(&t,
                "[herald]\nlog_level = debug\n[provider mail]\ntype = smtp\nhost = localhost\n"
                "port = %d\nfrom = Acme <hello@example.com>\n",
                tls_srv.port);
    hd_buf_addf(&t, tls_auth, dir);
    hd_buf_adds(&t, "[channel email]\nproviders = mail\n");
    tu_write(conf, t.data);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-v", "-c", "h.conf", "provider", "test", "mail", "--to",
              "ann@example.com", NULL);
    if (r.status != 0)
        fail_msg("provider test failed: %s %s", r.out, r.err);
    assert_contains(r.out, "result      accepted");
    assert_contains(r.out, "code        250");
    /* -v follows the send, so the secret checks read real lines */
    assert_contains(r.err, "debug: provider 'mail': smtp driver open");
    assert_contains(r.err, "debug: smtp: connected to localhost:");
    /* TLS 1.3: the ceiling libesmtp needed is gone */
    assert_contains(r.err, "debug: smtp: STARTTLS with localhost: TLSv1.3");
    assert_not_contains(r.out, "Sup3r-Secret-Pw");
    assert_not_contains(r.err, "Sup3r-Secret-Pw");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "h.conf", "config", "check", NULL);
    assert_not_contains(r.out, "Sup3r-Secret-Pw");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "h.conf", "provider", "list", NULL);
    assert_contains(r.out, "mail             smtp");
    assert_contains(r.out, "ok, credentials loaded");
    tu_run_release(&r);
    setenv("TEST_SMTP_PW", "wrong-password", 1);
    tu_herald(&r, dir, NULL, "-c", "h.conf", "provider", "test", "mail", "--to", "ann@example.com",
              NULL);
    assert_int_equal(r.status, 1);
    assert_not_contains(r.out, "result      accepted");
    tu_run_release(&r);
    setenv("TEST_SMTP_PW", "Sup3r-Secret-Pw", 1);
    hd_buf_release(&t);
    free(conf);
}

/* Issue 16 item 5: a wrong password is the provider's fault, not the
 * addresses': every message comes back throttled-like (the dispatcher
 * pauses the provider and keeps them queued), saying what the server said
 * to AUTH; it was a permanent "530 Authentication required" for each. */
/* Issue 15: a non-ASCII local part goes out with SMTPUTF8 (through
 * libcurl, over the same STARTTLS and AUTH) when the server offers it,
 * beside the batch's other messages; a refusal keeps its meaning; a server
 * that does not offer it gets nothing, and the address is not at fault. */
static void test_smtp_smtputf8(void **state)
{
    (void)state;
    struct server u;
    start_server_utf8(&u, "utf8", "srv", false, true, true);
    struct hd_config *cfg = tls_config(&u);
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_WARN);
    struct tu_results rs;
    const char *to[] = {"ann@example.com", "测试@例子.测试", "nouser-ü@example.com"};
    send_all(cfg, to, 3, NULL, &rs, &log);
    for (int i = 0; i < 2; i++)
        if (rs.r[i].outcome != HD_OUT_ACCEPTED)
            fail_msg("%s: %s %d %s", to[i], hd_outcome_name(rs.r[i].outcome), rs.r[i].code,
                     rs.r[i].text);
    if (rs.r[2].outcome != HD_OUT_PERMANENT)
        fail_msg("%s %d %s", hd_outcome_name(rs.r[2].outcome), rs.r[2].code, rs.r[2].text);
    assert_int_equal(rs.r[2].code, 550);
    assert_true(rs.r[2].bad_address);
    assert_contains(rs.r[2].text, "RCPT TO refused: 550 5.1.1 no such user");
    json_t *j = NULL;
    for (int n = 1; n <= 2; n++) {
        json_t *k = received(&u, n);
        assert_non_null(k);
        if (strcmp(json_string_value(json_array_get(json_object_get(k, "rcpt_tos"), 0)),
                   "测试@xn--fsqu00a.xn--0zwm56d") == 0)
            j = json_incref(k);
        json_decref(k);
    }
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "tls")));
    assert_true(json_is_true(json_object_get(j, "auth")));
    json_t *opts = json_object_get(j, "mail_options"), *o;
    size_t k;
    bool utf8 = false;
    json_array_foreach(opts, k, o) utf8 |= strcmp(json_string_value(o), "SMTPUTF8") == 0;
    assert_true(utf8);
    json_t *h = json_object_get(j, "headers");
    assert_string_equal(json_string_value(json_object_get(h, "To")),
                        "测试@xn--fsqu00a.xn--0zwm56d");
    assert_string_equal(json_string_value(json_object_get(h, "Subject")), "Grüße aus Köln — 你好");
    json_decref(j);

    /* wrong credentials: the provider's fault, the password never told */
    hd_config_free(cfg);
    setenv("TEST_SMTP_PW", "wrong-password", 1);
    cfg = tls_config(&u);
    setenv("TEST_SMTP_PW", "Sup3r-Secret-Pw", 1);
    const char *one[] = {"测试@例子.测试"};
    send_all(cfg, one, 1, NULL, &rs, &log);
    if (rs.r[0].outcome != HD_OUT_THROTTLED || !rs.r[0].provider_fault)
        fail_msg("%s %d %s", hd_outcome_name(rs.r[0].outcome), rs.r[0].code, rs.r[0].text);
    assert_contains(rs.r[0].text, "authentication failed: 535");
    assert_not_contains(rs.r[0].text, "wrong-password");
    hd_config_free(cfg);

    /* a server without SMTPUTF8: nothing sent, not the address's fault */
    cfg = tls_config(&tls_srv);
    int before = count_received(&tls_srv);
    send_all(cfg, one, 1, NULL, &rs, &log);
    assert_int_equal(rs.r[0].outcome, HD_OUT_PERMANENT);
    assert_false(rs.r[0].bad_address);
    assert_contains(rs.r[0].text,
                    "smtputf8_unsupported: the address '测试@xn--fsqu00a.xn--0zwm56d'");
    assert_contains(rs.r[0].text, "does not offer SMTPUTF8; nothing was sent");
    assert_int_equal(count_received(&tls_srv), before);
    hd_config_free(cfg);
    hd_log_release(&log);
    stop_server(&u);
}

static void test_smtp_wrong_password(void **state)
{
    (void)state;
    setenv("TEST_SMTP_PW", "wrong-password", 1);
    struct hd_config *cfg = tls_config(&tls_srv);
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_ERROR);
    struct tu_results rs;
    const char *to[] = {"ann@example.com", "bob@example.com"};
    send_all(cfg, to, 2, NULL, &rs, &log);
    for (int i = 0; i < 2; i++) {
        if (rs.r[i].outcome != HD_OUT_THROTTLED || !rs.r[i].provider_fault)
            fail_msg("message %d: %s %d %s", i, hd_outcome_name(rs.r[i].outcome), rs.r[i].code,
                     rs.r[i].text);
        assert_false(rs.r[i].bad_address);
        assert_int_equal(rs.r[i].retry_after_ms, HD_PROVIDER_FAULT_PAUSE_MS);
        assert_contains(rs.r[i].text, "authentication failed: 535");
        assert_not_contains(rs.r[i].text, "wrong-password");
    }
    setenv("TEST_SMTP_PW", "Sup3r-Secret-Pw", 1);
    hd_config_free(cfg);
    hd_log_release(&log);
}

/* A server that refuses AUTH and hangs up (as some do, where aiosmtpd
 * goes on to refuse MAIL FROM): one connection, on its own thread. */
struct hangup {
    int lfd;
    pthread_t th;
    int mode;             /* 0: refuse AUTH and hang up; else the scripts below */
    char after_data[128]; /* the line the client sent right after DATA's 354 */
};

enum { SCRIPT_INJECT = 1, SCRIPT_DATA354 };

/* The scripted servers' replies: SCRIPT_INJECT answers STARTTLS with its
 * 220 and, in the same write, lines a man in the middle would add in the
 * clear; SCRIPT_DATA354 refuses the recipient and still answers DATA with
 * 354 (RFC 2920 3.1), noting what the client sends next. */
static const char *script_reply(struct hangup *h, const char *line, bool *data, bool *stop)
{
    if (*data) {
        *data = false;
        snprintf(h->after_data, sizeof h->after_data, "%.120s", line);
        return line[0] == '.' && (line[1] == '\r' || line[1] == '\n')
                   ? "554 5.5.1 no valid recipients\r\n"
                   : NULL; /* the text came: read on to its dot */
    }
    if (strncasecmp(line, "EHLO", 4) == 0)
        return h->mode == SCRIPT_INJECT ? "250-fake\r\n250 STARTTLS\r\n"
                                        : "250-fake\r\n250 PIPELINING\r\n";
    if (strncasecmp(line, "STARTTLS", 8) == 0)
        return "220 go ahead\r\n250-injected\r\n250 PIPELINING\r\n";
    if (strncasecmp(line, "RCPT", 4) == 0)
        return "550 5.1.1 no such user\r\n";
    if (strncasecmp(line, "DATA", 4) == 0) {
        *data = true;
        return "354 go on\r\n";
    }
    if (strncasecmp(line, "QUIT", 4) == 0) {
        *stop = true;
        return "221 bye\r\n";
    }
    return "250 ok\r\n";
}

static void *hangup_main(void *arg)
{
    struct hangup *h = arg;
    int fd = accept(h->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    FILE *in = fdopen(dup(fd), "r");
    char line[512];
    static const char greet[] = "220 fake ESMTP\r\n";
    if (write(fd, greet, sizeof greet - 1) < 0)
        goto out;
    bool data = false, stop = false;
    while (in && fgets(line, sizeof line, in)) {
        if (h->mode) {
            const char *reply = script_reply(h, line, &data, &stop);
            if ((reply && write(fd, reply, strlen(reply)) < 0) || stop)
                break;
            continue;
        }
        const char *reply =
            strncasecmp(line, "EHLO", 4) == 0   ? "250-fake\r\n250 AUTH PLAIN LOGIN\r\n"
            : strncasecmp(line, "AUTH", 4) == 0 ? "535 5.7.8 credentials refused\r\n"
                                                : "500 5.5.1 what\r\n";
        if (write(fd, reply, strlen(reply)) < 0 || strncasecmp(line, "AUTH", 4) == 0)
            break;
    }
out:
    if (in)
        fclose(in);
    close(fd);
    return NULL;
}

/* Runs one message through a scripted server in mode; its result in rs. */
static void scripted(struct hangup *h, int mode, const char *extra, struct tu_results *rs)
{
    signal(SIGPIPE, SIG_IGN);
    int port;
    *h = (struct hangup){.lfd = tu_loopback_socket(&port, true), .mode = mode};
    assert_int_equal(pthread_create(&h->th, NULL, hangup_main, h), 0);
    char conf[512];
    snprintf(conf, sizeof conf,
             "[provider mail]\ntype = smtp\nhost = 127.0.0.1\nport = %d\nfrom = a@example.com\n"
             "connections = 1\ntimeout = 5s\n%s",
             port, extra);
    struct hd_config *cfg = NULL;
    struct hd_err e = {0};
    assert_int_equal(hd_config_parse(conf, "t.conf", &cfg, &e), 0);
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_ERROR);
    const char *to[] = {"ann@example.com"};
    send_all(cfg, to, 1, NULL, rs, &log);
    pthread_join(h->th, NULL);
    close(h->lfd);
    hd_config_free(cfg);
    hd_log_release(&log);
}

/* STARTTLS with bytes after its 220 in the same packet: what a man in the
 * middle adds in the clear would be read as the TLS session's first
 * replies (CVE-2011-0411's kind), so the session ends before TLS, the
 * provider's fault as any TLS failure; and a recipient refused while DATA
 * is accepted (RFC 2920 3.1) gets an empty message, a lone dot, not the
 * message's text. */
static void test_smtp_scripted(void **state)
{
    (void)state;
    struct hangup h;
    struct tu_results rs;
    scripted(&h, SCRIPT_INJECT, "starttls = required\n", &rs);
    if (rs.r[0].outcome != HD_OUT_THROTTLED || !rs.r[0].provider_fault)
        fail_msg("injection: %s %d %s", hd_outcome_name(rs.r[0].outcome), rs.r[0].code,
                 rs.r[0].text);
    assert_contains(rs.r[0].text, "sent more after its STARTTLS reply");
    scripted(&h, SCRIPT_DATA354, "starttls = none\n", &rs);
    assert_int_equal(rs.r[0].outcome, HD_OUT_PERMANENT);
    assert_true(rs.r[0].bad_address);
    assert_contains(rs.r[0].text, "RCPT TO refused: 550 5.1.1 no such user");
    assert_string_equal(h.after_data, ".\r\n");
}

/* Issue 16 item 5, the other server: the refusal of AUTH is what is
 * reported, at once, not "the server dropped the connection" (or a stall
 * until the timeout). */
static void test_smtp_auth_hangup(void **state)
{
    (void)state;
    /* the session writes to the closed socket (with MSG_NOSIGNAL, and
     * herald's commands ignore SIGPIPE, cli_catch_signals); so does this
     * test */
    signal(SIGPIPE, SIG_IGN);
    int port;
    struct hangup h = {.lfd = tu_loopback_socket(&port, true)};
    assert_int_equal(pthread_create(&h.th, NULL, hangup_main, &h), 0);
    char conf[512];
    snprintf(conf, sizeof conf,
             "[provider mail]\ntype = smtp\nhost = 127.0.0.1\nport = %d\nstarttls = none\n"
             "from = a@example.com\nconnections = 1\ntimeout = 5s\nusername = herald\n"
             "password_env = TEST_SMTP_PW\n",
             port);
    struct hd_config *cfg = NULL;
    struct hd_err e = {0};
    assert_int_equal(hd_config_parse(conf, "t.conf", &cfg, &e), 0);
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_ERROR);
    struct tu_results rs;
    const char *to[] = {"ann@example.com"};
    send_all(cfg, to, 1, NULL, &rs, &log);
    pthread_join(h.th, NULL);
    close(h.lfd);
    if (rs.r[0].outcome != HD_OUT_THROTTLED || !rs.r[0].provider_fault)
        fail_msg("%s %d %s", hd_outcome_name(rs.r[0].outcome), rs.r[0].code, rs.r[0].text);
    assert_contains(rs.r[0].text, "authentication failed: 535 5.7.8 credentials refused");
    assert_int_equal(rs.r[0].code, 535);
    assert_true(rs.r[0].latency_ms < 4000);
    hd_config_free(cfg);
    hd_log_release(&log);
}

/* A server that accepts and then says nothing: the driver gives up after
 * the provider's timeout (a unit slip with libesmtp, which herald used
 * before, once made every wait one second). */
static void test_smtp_timeout(void **state)
{
    (void)state;
    int port, lfd = tu_loopback_socket(&port, true);
    char conf[512];
    snprintf(conf, sizeof conf,
             "[provider mail]\ntype = smtp\nhost = 127.0.0.1\nport = %d\nstarttls = none\n"
             "from = a@example.com\nconnections = 1\ntimeout = 3s\n",
             port);
    struct hd_config *cfg = NULL;
    struct hd_err e = {0};
    assert_int_equal(hd_config_parse(conf, "t.conf", &cfg, &e), 0);
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_ERROR);
    struct tu_results rs;
    const char *to[] = {"ann@example.com"};
    send_all(cfg, to, 1, NULL, &rs, &log);
    assert_int_equal(rs.r[0].outcome, HD_OUT_TEMPORARY);
    if (rs.r[0].latency_ms < 2900 || rs.r[0].latency_ms > 6000)
        fail_msg("gave up after %lld ms, want about 3000", (long long)rs.r[0].latency_ms);
    hd_config_free(cfg);
    hd_log_release(&log);
    close(lfd);
}

static void test_smtp_outbox(void **state)
{
    (void)state;
    char *box = tu_path(dir, "box"), conf[4300];
    snprintf(conf, sizeof conf, "[provider outbox]\ntype = outbox\npath = %s\n", box);
    struct hd_config *cfg;
    struct hd_err e = {0};
    assert_int_equal(hd_config_parse(conf, "t.conf", &cfg, &e), 0);
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_WARN);
    struct hd_driver *d;
    assert_int_equal(hd_driver_open(hd_config_provider(cfg, "outbox"), &log, &d, &e), 0);
    struct hd_msg msgs[3] = {{.channel = HD_CH_EMAIL,
                              .to = "a@example.com",
                              .from = "A <a@example.com>",
                              .subject = "Hi",
                              .text = "text\n",
                              .created = 1795334400},
                             {.channel = HD_CH_SMS,
                              .to = "+14155550100",
                              .body = "Tom & Jerry 你好",
                              .created = 1795334400},
                             {.channel = HD_CH_EMAIL,
                              .to = "b@example.com",
                              .from = "B <b@example.com>",
                              .subject = "bad\r\nBcc: x@example.com",
                              .text = "t",
                              .created = 1795334400}};
    for (int i = 0; i < 3; i++) {
        hd_uuid(msgs[i].id);
        msgs[i].user = (void *)(uintptr_t)i;
        assert_int_equal(hd_driver_submit(d, &msgs[i], &e), 0);
    }
    struct tu_results got = {0};
    for (int i = 0; i < 100 && got.n < 3; i++)
        hd_driver_poll(d, 100, tu_collect, &got);
    hd_driver_free(d);
    assert_int_equal(got.n, 3);
    for (size_t i = 0; i < 3; i++) {
        uintptr_t k = (uintptr_t)got.r[i].user;
        assert_int_equal(got.r[i].outcome, k == 2 ? HD_OUT_PERMANENT : HD_OUT_ACCEPTED);
        if (k == 0) {
            char path[4400];
            snprintf(path, sizeof path, "%s/email/new/%s", box, got.r[i].gateway_id);
            char *eml = tu_read(path);
            assert_non_null(eml);
            assert_contains(eml, "Subject: Hi\r\n");
            char digest[65];
            hd_sha256_hex(eml, strlen(eml), digest);
            assert_string_equal(digest, got.r[i].digest);
            free(eml);
        }
    }
    char *sms = tu_path(box, "sms.jsonl");
    char *line = tu_read(sms);
    assert_contains(line, "\"body\":\"Tom & Jerry 你好\",\"encoding\":\"UCS-2\",\"segments\":1}");
    free(line);
    free(sms);
    hd_log_release(&log);
    hd_config_free(cfg);
    free(box);
}

int main(void)
{
    if (access(PY, X_OK) != 0) {
        fprintf(stderr, "test_smtp: %s not found: run 'make deps'\n", PY);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smtp_reply_codes),
        cmocka_unit_test(test_smtp_mime),
        cmocka_unit_test(test_smtp_header_injection),
        cmocka_unit_test(test_smtp_tls_failures),
        cmocka_unit_test(test_smtp_password_not_logged),
        cmocka_unit_test(test_smtp_wrong_password),
        cmocka_unit_test(test_smtp_smtputf8),
        cmocka_unit_test(test_smtp_auth_hangup),
        cmocka_unit_test(test_smtp_auth_login),
        cmocka_unit_test(test_smtp_scripted),
        cmocka_unit_test(test_smtp_outbox),
        cmocka_unit_test(test_smtp_timeout),
    };
    return cmocka_run_group_tests_name("smtp", tests, setup, teardown);
}
