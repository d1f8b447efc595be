/* test_serve: herald serve and the link tokens (issue 18). The token unit
 * tests check the round trip, a changed byte, expiry, rotation and
 * malformed input; the end-to-end tests start the real `herald serve` on
 * 127.0.0.1 (an ephemeral port it prints), send a campaign to the outbox,
 * take the List-Unsubscribe URL from the .eml file and talk to the service
 * with curl. Each end-to-end case runs on a SQLite file and on a PostgreSQL
 * store (testserve.h's e2e_setup_pg). */
#include "testserve.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "herald/config.h"
#include "herald/log.h"
#include "herald/state.h"
#include "herald/time.h"
#include "herald/token.h"

static const struct hd_token_key k_now = {"current-secret-0123456789abcdef", 31};
static const struct hd_token_key k_old = {"previous-secret-0123456789abcdef", 32};

static const struct hd_token sample = {42, 1234567, HD_CH_EMAIL, HD_CAT_MARKETING, 20000};

#define DAY 86400

static void test_serve_token_round_trip(void **state)
{
    (void)state;
    char t[HD_TOKEN_MAX];
    struct hd_token got;
    int which = -1;
    hd_token_make(&sample, &k_now, t);
    assert_int_equal(strncmp(t, "v1.", 3), 0);
    assert_int_equal(strlen(t), 75);
    assert_true(strspn(t + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
                72);
    assert_int_equal(
        hd_token_verify(t, strlen(t), &k_now, 1, 20000 * DAY + 5, 400 * DAY, &got, &which),
        HD_TOKEN_OK);
    assert_int_equal(which, 0);
    assert_int_equal(got.contact, 42);
    assert_int_equal(got.message, 1234567);
    assert_int_equal(got.channel, HD_CH_EMAIL);
    assert_int_equal(got.category, HD_CAT_MARKETING);
    assert_int_equal(got.day, 20000);
}

/* The text, byte for byte, as an independent implementation (Python's
 * hmac and base64 modules) makes it: struct.pack(">QQBBI", 42, 1234567, 0,
 * 0, 20000), HMAC-SHA256 over b"v1" + that with b"fuzz-current-key",
 * "v1." + urlsafe_b64encode(record + mac) without padding. It is the seed
 * of tests/fuzz/corpus/token too. */
static void test_serve_token_independent(void **state)
{
    (void)state;
    char t[HD_TOKEN_MAX];
    struct hd_token_key k = {"fuzz-current-key", 16};
    hd_token_make(&sample, &k, t);
    assert_string_equal(
        t, "v1.AAAAAAAAACoAAAAAABLWhwAAAABOIPnxrmmWLfg7tKGZHrjQ2IOqPub6UuZteWumgD2rmg4o");
    /* a key longer than SHA-256's 64-byte block is hashed first (RFC 2104):
     * the same Python with b"0123456789abcdef" * 5 */
    struct hd_token_key longk = {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                                 "0123456789abcdef",
                                 80};
    hd_token_make(&sample, &longk, t);
    assert_string_equal(
        t, "v1.AAAAAAAAACoAAAAAABLWhwAAAABOIDLzX2sj8exiaHxEj8ENCzbfBBdt_8ayOtl5l9c6_Hk-");
}

static void test_serve_token_tampered(void **state)
{
    (void)state;
    char t[HD_TOKEN_MAX];
    struct hd_token got;
    hd_token_make(&sample, &k_now, t);
    size_t n = strlen(t);
    /* every position of the record and of the MAC counts */
    for (size_t i = 3; i < n; i++) {
        char c = t[i];
        t[i] = c == 'A' ? 'B' : 'A';
        int rc = hd_token_verify(t, n, &k_now, 1, 20000 * DAY, 400 * DAY, &got, NULL);
        if (rc != HD_TOKEN_FORGED)
            fail_msg("a change at %zu gave %s", i, hd_token_fault_name(rc));
        t[i] = c;
    }
    /* another secret did not sign it */
    assert_int_equal(hd_token_verify(t, n, &k_old, 1, 20000 * DAY, 400 * DAY, &got, NULL),
                     HD_TOKEN_FORGED);
}

static void test_serve_token_expired(void **state)
{
    (void)state;
    char t[HD_TOKEN_MAX];
    struct hd_token got;
    hd_token_make(&sample, &k_now, t);
    int64_t issued = 20000 * DAY;
    assert_int_equal(
        hd_token_verify(t, strlen(t), &k_now, 1, issued + 400 * DAY, 400 * DAY, &got, NULL),
        HD_TOKEN_OK);
    assert_int_equal(
        hd_token_verify(t, strlen(t), &k_now, 1, issued + 400 * DAY + 1, 400 * DAY, &got, NULL),
        HD_TOKEN_EXPIRED);
    assert_int_equal(hd_token_verify(t, strlen(t), &k_now, 1, issued + 2 * DAY, DAY, &got, NULL),
                     HD_TOKEN_EXPIRED);
}

static void test_serve_token_rotated(void **state)
{
    (void)state;
    char t[HD_TOKEN_MAX];
    struct hd_token got;
    int which = -1;
    hd_token_make(&sample, &k_old, t);
    struct hd_token_key keys[2] = {k_now, k_old};
    assert_int_equal(hd_token_verify(t, strlen(t), keys, 2, 20000 * DAY, 400 * DAY, &got, &which),
                     HD_TOKEN_OK);
    assert_int_equal(which, 1);
    /* once the previous secret is dropped, its tokens stop working */
    assert_int_equal(hd_token_verify(t, strlen(t), keys, 1, 20000 * DAY, 400 * DAY, &got, NULL),
                     HD_TOKEN_FORGED);
    /* an unset previous secret (length 0) is skipped, never an empty key */
    struct hd_token_key empty[2] = {k_now, {"", 0}};
    char e[HD_TOKEN_MAX];
    hd_token_make(&sample, &(struct hd_token_key){"", 0}, e);
    assert_int_equal(hd_token_verify(e, strlen(e), empty, 2, 20000 * DAY, 400 * DAY, &got, NULL),
                     HD_TOKEN_FORGED);
}

static void test_serve_token_garbage(void **state)
{
    (void)state;
    char t[HD_TOKEN_MAX], buf[200];
    struct hd_token got;
    hd_token_make(&sample, &k_now, t);
    size_t n = strlen(t);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(hd_token_verify(t, cut, &k_now, 1, 0, 400 * DAY, &got, NULL),
                         HD_TOKEN_MALFORMED);
    snprintf(buf, sizeof buf, "%s=", t);
    assert_int_equal(hd_token_verify(buf, strlen(buf), &k_now, 1, 0, 400 * DAY, &got, NULL),
                     HD_TOKEN_MALFORMED);
    snprintf(buf, sizeof buf, "v2.%s", t + 3);
    assert_int_equal(hd_token_verify(buf, strlen(buf), &k_now, 1, 0, 400 * DAY, &got, NULL),
                     HD_TOKEN_MALFORMED);
    snprintf(buf, sizeof buf, "%s", t);
    buf[10] = '+'; /* base64, not base64url */
    assert_int_equal(hd_token_verify(buf, n, &k_now, 1, 0, 400 * DAY, &got, NULL),
                     HD_TOKEN_MALFORMED);
    buf[10] = '\0'; /* a NUL inside */
    assert_int_equal(hd_token_verify(buf, n, &k_now, 1, 0, 400 * DAY, &got, NULL),
                     HD_TOKEN_MALFORMED);
    memset(buf, 'A', sizeof buf);
    assert_int_equal(hd_token_verify(buf, sizeof buf, &k_now, 1, 0, 400 * DAY, &got, NULL),
                     HD_TOKEN_MALFORMED);
}

/* ---- [serve] configuration ------------------------------------------------- */

/* A log line with [serve]'s secret k in it shows no part of it. */
static void assert_log_masks(const struct hd_config *cfg, int k, const char *part)
{
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    struct hd_log log;
    hd_log_init(&log, f, HD_LOG_DEBUG);
    hd_config_register_secrets(cfg, &log);
    hd_log_info(&log, "oops: %s", cfg->serve.secrets[k].value);
    fclose(f);
    assert_contains(p, "oops: ");
    assert_not_contains(p, part);
    free(p);
    hd_log_release(&log);
}

static void test_serve_config(void **state)
{
    (void)state;
    static const struct {
        const char *text, *error;
    } bad[] = {
        {"[serve]\nsecret = abc\n", "unknown key 'secret' in [serve]"},
        {"[serve]\nlisten = localhost\n", "listen: 'localhost' is not ADDRESS:PORT"},
        {"[serve]\nlisten = 1.2.3.4:70000\n", "is not ADDRESS:PORT"},
        {"[serve]\npublic_url = ftp://x\n", "public_url: 'ftp://x' is not an http://"},
        {"[serve]\npublic_url = https://x.example/a?b=c\n", "without spaces, query"},
        {"[serve]\nbody_limit = 0\n", "body_limit: '0' is not a size"},
        {"[serve]\nbody_limit = 2G\n", "body_limit: '2G' is not a size"},
        {"[serve]\nconnection_limit = many\n", "connection_limit: 'many' is not a number"},
        {"[serve]\nunsubscribe_valid = 0s\n", "unsubscribe_valid"},
        {"[serve]\ntimeout = 1s\ntimeout = 2s\n", "duplicate key 'timeout' in [serve]"},
        {"[serve]\nsecret_env = HERALD_TEST_NO_SUCH_VAR\n",
         "secret_env: environment variable 'HERALD_TEST_NO_SUCH_VAR' is not set"},
        {"[serve]\nmetrics_allow = 10.0.0.0/33\n",
         "metrics_allow: '10.0.0.0/33' is not an address range"},
        {"[serve]\nmetrics_allow = localhost\n", "'localhost' is not an address range"},
        {"[serve]\nmetrics_token = x\n", "unknown key 'metrics_token' in [serve]"},
        {"[serve]\nsecret_env = HERALD_TEST_SECRET\nsecret_file = x\n",
         "give either secret_env or secret_file, not both"},
        {"[serve]\ntrusted_proxies = nginx\n", "trusted_proxies: 'nginx' is not an address range"},
        {"[serve]\nconnections_per_client = -1\n",
         "connections_per_client: '-1' is not a number from 0 (no limit) to 65536"},
        {"[serve]\nconnection_limit = 0\n", "connection_limit: '0' is not a number from 1"},
    };
    setenv("HERALD_TEST_SECRET", "s3cr3t-value-for-test", 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hd_config *cfg = NULL;
        struct hd_err err = {0};
        if (hd_config_parse(bad[i].text, "t.conf", &cfg, &err) == 0)
            fail_msg("accepted: %s", bad[i].text);
        assert_contains(err.msg, bad[i].error);
        assert_contains(err.msg, "t.conf:");
    }
    struct hd_config *cfg = NULL;
    struct hd_err err = {0};
    assert_int_equal(
        hd_config_parse("[serve]\nlisten = [::1]:8025\npublic_url = https://x.example/h/\n"
                        "secret_env = HERALD_TEST_SECRET\nbody_limit = 64k\n"
                        "unsubscribe_valid = 30d\n",
                        "t.conf", &cfg, &err),
        0);
    assert_string_equal(cfg->serve.public_url, "https://x.example/h");
    assert_int_equal(cfg->serve.body_limit, 65536);
    assert_int_equal(cfg->serve.unsubscribe_valid, 30 * DAY);
    assert_string_equal(cfg->serve.secrets[0].value, "s3cr3t-value-for-test");
    /* --listen as serve and run --serve take it: port 0 is the kernel's
     * pick; one past 65535 is refused (it wrapped to 34463: a review) */
    assert_true(hd_cfg_listen_ok("127.0.0.1:0", true));
    assert_false(hd_cfg_listen_ok("127.0.0.1:0", false));
    assert_true(hd_cfg_listen_ok("[::1]:8025", true));
    assert_false(hd_cfg_listen_ok("127.0.0.1:99999", true));
    assert_false(hd_cfg_listen_ok("127.0.0.1:", true));
    assert_false(hd_cfg_listen_ok("x", true));
    struct tu_run r;
    const char *const cmds[][4] = {{"serve", "--listen", "127.0.0.1:99999", NULL},
                                   {"run", "--serve", "--listen", "127.0.0.1:65536"}};
    char *scratch = tu_tmpdir();
    for (size_t i = 0; i < 2; i++) {
        tu_herald(&r, scratch, NULL, cmds[i][0], cmds[i][1], cmds[i][2], cmds[i][3], NULL);
        assert_int_equal(r.status, 2);
        assert_contains(r.err, "--listen: '127.0.0.1:");
        assert_contains(r.err, "' is not ADDRESS:PORT");
        tu_run_release(&r);
    }
    tu_rmdir(scratch);
    struct hd_buf b;
    hd_buf_init(&b);
    hd_config_dump(cfg, &b);
    assert_contains(b.data, "secret_env = HERALD_TEST_SECRET ; secret = **** (loaded, 21 bytes)");
    assert_not_contains(b.data, "s3cr3t");
    hd_buf_release(&b);
    /* the logger masks it */
    assert_log_masks(cfg, 0, "s3cr3t");
    hd_config_free(cfg);
    /* the defaults, without [serve] */
    assert_int_equal(hd_config_parse("[herald]\n", "t.conf", &cfg, &err), 0);
    assert_string_equal(cfg->serve.listen, "127.0.0.1:8025");
    assert_null(cfg->serve.public_url);
    assert_int_equal(cfg->serve.body_limit, 1 << 20);
    assert_int_equal(cfg->serve.unsubscribe_valid, 400 * DAY);
    hd_config_free(cfg);
}

/* [serve] metrics_allow's ranges, IPv4, IPv6 and IPv4 mapped into IPv6. */
static void test_serve_metrics_allow(void **state)
{
    (void)state;
    static const struct {
        const char *addr;
        bool in;
    } cases[] = {
        {"10.1.2.3", true},     {"11.0.0.1", false},       {"192.168.7.9", true},
        {"192.168.6.9", false}, {"::ffff:10.0.0.1", true}, {"::1", true},
        {"::2", false},         {"fd12::5", true},         {"fe80::1", false},
    };
    struct hd_cidr *c = NULL;
    size_t n = 0;
    char why[200];
    assert_int_equal(
        hd_cidr_list_parse("10.0.0.0/8, 192.168.7.0/24 ::1 fd00::/8", &c, &n, why, sizeof why), 0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sockaddr_storage ss = {0};
        struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
        if (inet_pton(AF_INET, cases[i].addr, &v4->sin_addr) == 1)
            v4->sin_family = AF_INET;
        else if (inet_pton(AF_INET6, cases[i].addr, &v6->sin6_addr) == 1)
            v6->sin6_family = AF_INET6;
        else
            fail_msg("bad case %s", cases[i].addr);
        if (hd_cidr_match(c, n, (struct sockaddr *)&ss) != cases[i].in)
            fail_msg("%s: expected %s", cases[i].addr, cases[i].in ? "in" : "out");
    }
    free(c);
    assert_int_equal(hd_cidr_list_parse("none", &c, &n, why, sizeof why), 0);
    assert_int_equal(n, 0);
    assert_int_equal(hd_cidr_list_parse("1.2.3.4/8 ::/129", &c, &n, why, sizeof why), -1);
    assert_string_equal(why, "'::/129' is not an address range");
    /* the bearer token is a secret: masked in the log */
    struct hd_config *cfg = NULL;
    struct hd_err err = {0};
    setenv("HERALD_TEST_METRICS", "bearer-s3cr3t", 1);
    assert_int_equal(
        hd_config_parse("[serve]\nmetrics_token_env = HERALD_TEST_METRICS\n", "t.conf", &cfg, &err),
        0);
    assert_log_masks(cfg, HD_SERVE_METRICS_TOKEN, "bearer-s3cr3t");
    hd_config_free(cfg);
}

/* RFC 8058's one-click as it SHOULD come, multipart/form-data (curl -F):
 * recorded as the form-urlencoded one is (a review found it refused with
 * 400); a part of another name or value is refused and writes nothing. */
static void test_serve_oneclick_multipart(void **state)
{
    (void)state;
    struct srv s;
    char *body;
    send_promo();
    char *link = outbox_link("k1@example.com");
    srv_start(&s);
    assert_int_equal(http(&s, "POST", link, NULL, "-F 'List-Unsubscribe=Yes'", &body, NULL), 400);
    assert_contains(body, "multipart/form-data");
    free(body);
    assert_int_equal(http(&s, "POST", link, NULL, "-F 'Unsubscribe=One-Click'", &body, NULL), 400);
    free(body);
    assert_int_equal(q1("SELECT count(*) FROM consent"), 0);
    assert_int_equal(http(&s, "POST", link, NULL, "-F 'a=b' -F 'List-Unsubscribe=One-Click'", &body,
                          NULL),
                     200);
    assert_string_equal(body, "unsubscribed\n");
    free(body);
    assert_int_equal(q1("SELECT count(*) FROM consent c JOIN contacts k ON k.id = c.contact_id "
                        "WHERE k.ext_id = 'k1' AND c.status = 'opted_out' AND c.source = "
                        "'unsubscribe' AND c.channel = 'email' AND c.category = 'marketing'"),
                     1);
    assert_int_equal(srv_stop(&s), 0);
    free(link);
}

/* ---- end to end: the real herald serve (helpers in testserve.h) --------- */

static void test_serve_one_click(void **state)
{
    (void)state;
    struct srv s;
    char *body, *hdr;
    send_promo();
    char *link = outbox_link("k1@example.com");
    srv_start(&s);
    /* GET shows the page and writes nothing (mail scanners fetch links) */
    assert_int_equal(http(&s, "GET", link, NULL, NULL, &body, &hdr), 200);
    assert_contains(body, "<form method=\"post\"");
    assert_contains(body, "marketing email");
    assert_contains(hdr, "Referrer-Policy: no-referrer");
    free(body);
    free(hdr);
    assert_int_equal(q1("SELECT count(*) FROM consent"), 0);
    /* not the RFC 8058 body: 400, nothing written */
    assert_int_equal(http(&s, "POST", link, "List-Unsubscribe=Yes", NULL, &body, NULL), 400);
    assert_contains(body, "List-Unsubscribe=One-Click");
    free(body);
    assert_int_equal(q1("SELECT count(*) FROM consent"), 0);
    /* one click */
    assert_int_equal(http(&s, "POST", link, "List-Unsubscribe=One-Click", NULL, &body, NULL), 200);
    free(body);
    assert_int_equal(q1("SELECT count(*) FROM consent c JOIN contacts k ON k.id = c.contact_id "
                        "WHERE k.ext_id = 'k1' AND c.status = 'opted_out' AND c.source = "
                        "'unsubscribe' AND c.channel = 'email' AND c.category = 'marketing'"),
                     1);
    int64_t at = q1("SELECT updated_at FROM consent");
    /* the message whose link it was, and its campaign (provable consent) */
    assert_int_equal(q1("SELECT count(*) FROM consent k JOIN messages m ON m.id = k.message_id "
                        "AND m.contact_id = k.contact_id JOIN runs r ON r.id = m.run_id "
                        "JOIN campaigns c ON c.id = r.campaign_id AND c.id = k.campaign_id "
                        "WHERE c.name = 'promo'"),
                     1);
    /* again: 200, still one row, unchanged */
    assert_int_equal(http(&s, "POST", link, "List-Unsubscribe=One-Click", NULL, &body, NULL), 200);
    free(body);
    assert_int_equal(q1("SELECT count(*) FROM consent"), 1);
    assert_int_equal(q1("SELECT updated_at FROM consent"), at);
    /* the page's button: the confirmation, naming what stops */
    assert_int_equal(
        http(&s, "POST", link, "List-Unsubscribe=One-Click&via=page", NULL, &body, NULL), 200);
    assert_contains(body, "you will no longer receive marketing email");
    free(body);
    assert_int_equal(srv_stop(&s), 0);
    /* the next marketing email skips them: the loop is closed */
    TU_HERALD_OK(dir, "campaign", "create", "again", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--now");
    TU_HERALD_OK(dir, "send", "again");
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM messages m JOIN contacts c ON c.id = m.contact_id JOIN runs r "
             "ON r.id = m.run_id JOIN campaigns g ON g.id = r.campaign_id WHERE g.name = 'again' "
             "AND c.ext_id = '%s' AND m.state = %d",
             "k1", HD_ST_SUPPRESSED);
    assert_int_equal(q1(sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM messages m JOIN contacts c ON c.id = m.contact_id JOIN runs r "
             "ON r.id = m.run_id JOIN campaigns g ON g.id = r.campaign_id WHERE g.name = 'again' "
             "AND c.ext_id = '%s' AND m.state = %d",
             "k3", HD_ST_SENT);
    assert_int_equal(q1(sql), 1);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "why", "k1", "again", NULL);
    assert_contains(r.out, "opted");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "contacts", "show", "k1", NULL);
    assert_int_equal(r.status, 0);
    /* at the click's time: HERALD_NOW's clock runs on from 12:00:00, so on
     * a loaded machine the click may come a second or more after it */
    char when[40], want[160];
    hd_time_format_iso(at, when, sizeof when);
    assert_true(strncmp(when, "2026-11-22T12:0", 15) == 0);
    snprintf(want, sizeof want,
             "email marketing      opted out  by unsubscribe at %s (link of message ", when);
    assert_contains(r.out, want);
    assert_contains(r.out, ", campaign 'promo')");
    tu_run_release(&r);
    /* the request log has every request, and never the token */
    char *log = tu_path(dir, "serve.log"), *text = tu_read(log);
    assert_contains(text, "http: GET /u/* 200");
    assert_contains(text, "http: POST /u/* 400");
    assert_not_contains(text, link + 3);
    free(text);
    free(log);
    free(link);
}

static void test_serve_bad_tokens(void **state)
{
    (void)state;
    struct srv s;
    char *body;
    send_promo();
    char *link = outbox_link("k1@example.com"), *zh = outbox_link("k2@example.com");
    srv_start(&s);
    /* one character changed */
    char bad[256];
    snprintf(bad, sizeof bad, "%s", link);
    size_t n = strlen(bad);
    bad[n - 5] = bad[n - 5] == 'A' ? 'B' : 'A';
    assert_int_equal(http(&s, "POST", bad, "List-Unsubscribe=One-Click", NULL, &body, NULL), 403);
    free(body);
    assert_int_equal(http(&s, "GET", bad, NULL, NULL, &body, NULL), 403);
    assert_contains(body, "This link is not valid");
    assert_not_contains(body, "<form");
    free(body);
    /* truncated */
    bad[n - 5] = '\0';
    assert_int_equal(http(&s, "POST", bad, "List-Unsubscribe=One-Click", NULL, &body, NULL), 400);
    free(body);
    /* the zh-CN contact's page */
    assert_int_equal(http(&s, "GET", zh, NULL, NULL, &body, NULL), 200);
    assert_contains(body, "退订");
    assert_contains(body, "营销邮件");
    free(body);
    assert_int_equal(q1("SELECT count(*) FROM consent"), 0);
    assert_int_equal(srv_stop(&s), 0);
    /* 401 days on, the links have expired (unsubscribe_valid 400d) */
    setenv("HERALD_NOW", "2027-12-28T12:00:00Z", 1);
    srv_start(&s);
    assert_int_equal(http(&s, "POST", link, "List-Unsubscribe=One-Click", NULL, &body, NULL), 410);
    free(body);
    assert_int_equal(http(&s, "GET", link, NULL, NULL, &body, NULL), 410);
    assert_contains(body, "This link has expired");
    free(body);
    assert_int_equal(srv_stop(&s), 0);
    assert_int_equal(q1("SELECT count(*) FROM consent"), 0);
    /* a shorter validity expires them sooner */
    setenv("HERALD_NOW", "2026-11-25T12:00:00Z", 1);
    write_conf("h.conf", "secret_file = var/herald.secret\nunsubscribe_valid = 2d\n");
    srv_start(&s);
    assert_int_equal(http(&s, "POST", link, "List-Unsubscribe=One-Click", NULL, &body, NULL), 410);
    free(body);
    assert_int_equal(srv_stop(&s), 0);
    free(link);
    free(zh);
}

static void test_serve_rotation(void **state)
{
    (void)state;
    struct srv s;
    char *body;
    send_promo();
    char *k1 = outbox_link("k1@example.com"), *k3 = outbox_link("k3@example.com");
    struct tu_run r;
    tu_herald(&r, dir, NULL, "serve", "init-secret", "var/new.secret", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    struct stat sb;
    char *p = tu_path(dir, "var/new.secret");
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    free(p);
    /* never overwritten */
    tu_herald(&r, dir, NULL, "serve", "init-secret", "var/new.secret", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "is not overwritten");
    tu_run_release(&r);
    /* the new secret signs, the old one still verifies */
    write_conf("h.conf",
               "secret_file = var/new.secret\nprevious_secret_file = var/herald.secret\n");
    srv_start(&s);
    assert_int_equal(http(&s, "POST", k1, "List-Unsubscribe=One-Click", NULL, &body, NULL), 200);
    free(body);
    assert_int_equal(srv_stop(&s), 0);
    assert_int_equal(q1("SELECT count(*) FROM consent"), 1);
    /* once the old one is dropped, its links stop working */
    write_conf("h.conf", "secret_file = var/new.secret\n");
    srv_start(&s);
    assert_int_equal(http(&s, "POST", k3, "List-Unsubscribe=One-Click", NULL, &body, NULL), 403);
    free(body);
    assert_int_equal(srv_stop(&s), 0);
    assert_int_equal(q1("SELECT count(*) FROM consent"), 1);
    free(k1);
    free(k3);
}

static void test_serve_http_errors(void **state)
{
    (void)state;
    struct srv s;
    char *body, *hdr;
    write_conf("h.conf", "secret_file = var/herald.secret\nbody_limit = 1k\n");
    srv_start(&s);
    assert_int_equal(http(&s, "GET", "/healthz", NULL, NULL, &body, NULL), 200);
    assert_string_equal(body, "ok\n");
    free(body);
    assert_int_equal(http(&s, "GET", "/readyz", NULL, NULL, &body, NULL), 200);
    free(body);
    assert_int_equal(http(&s, "GET", "/nothing/here", NULL, NULL, &body, NULL), 404);
    free(body);
    /* the icon a browser asks for by itself: none, and no 404 */
    assert_int_equal(http(&s, "GET", "/favicon.ico", NULL, NULL, &body, NULL), 204);
    assert_string_equal(body, "");
    free(body);
    assert_int_equal(http(&s, "POST", "/favicon.ico", "x", NULL, &body, NULL), 404);
    free(body);
    assert_int_equal(http(&s, "DELETE", "/healthz", NULL, NULL, &body, &hdr), 405);
    assert_contains(hdr, "Allow: GET, HEAD");
    free(body);
    free(hdr);
    assert_int_equal(http(&s, "PUT", "/u/x", NULL, NULL, &body, &hdr), 405);
    assert_contains(hdr, "Allow: GET, HEAD, POST");
    free(body);
    free(hdr);
    /* over body_limit, refused from Content-Length before the body is read */
    char big[2100];
    memset(big, 'a', 2000);
    big[2000] = '\0';
    assert_int_equal(http(&s, "POST", "/u/x", big, NULL, &body, NULL), 413);
    free(body);
    /* a script in the path is never echoed */
    assert_int_equal(
        http(&s, "GET", "/u/%3Cscript%3Ealert(1)%3C/script%3E", NULL, NULL, &body, &hdr), 400);
    assert_contains(body, "This link is not valid");
    assert_not_contains(body, "<script");
    assert_not_contains(body, "alert(1)");
    assert_contains(hdr, "Content-Type: text/html; charset=utf-8");
    free(body);
    free(hdr);
    assert_int_equal(http(&s, "GET", "/%3Cscript%3Ealert(1)", NULL, NULL, &body, NULL), 404);
    assert_not_contains(body, "script");
    free(body);
    /* what a review found answered as another request, or not at all: a
     * path cut at %00, a GET of a hook path that names no provider (405,
     * where any other path is 404), a body in an encoding herald does not
     * read (no answer for 30 s), two lengths that differ (200) */
    assert_int_equal(http(&s, "GET", "/healthz%00evil", NULL, NULL, &body, NULL), 400);
    free(body);
    assert_int_equal(http(&s, "GET", "/hooks/nonexistent/x", NULL, NULL, &body, NULL), 404);
    free(body);
    assert_int_equal(http(&s, "GET", "/hooks/twilio/nope", NULL, NULL, &body, NULL), 404);
    free(body);
    assert_int_equal(http(&s, "POST", "/u/x", "List-Unsubscribe=One-Click",
                          "-H 'Transfer-Encoding: gzip' ", &body, NULL),
                     501);
    free(body);
    assert_int_equal(http(&s, "POST", "/u/x", "List-Unsubscribe=One-Click",
                          "-H 'Content-Length: 26' -H 'Content-Length: 27' ", &body, NULL),
                     400);
    free(body);
    /* the database file gone (SQLite's: a file to move): not ready, with
     * the reason; healthy still */
    if (!e2e_pg_uri) {
        char *db = tu_path(dir, "h.db"), *moved = tu_path(dir, "h.db.away");
        assert_int_equal(rename(db, moved), 0);
        assert_int_equal(http(&s, "GET", "/readyz", NULL, NULL, &body, NULL), 503);
        assert_contains(body, "not ready");
        assert_contains(body, "h.db");
        free(body);
        assert_int_equal(http(&s, "GET", "/healthz", NULL, NULL, &body, NULL), 200);
        free(body);
        assert_int_equal(rename(moved, db), 0);
        free(db);
        free(moved);
    }
    assert_int_equal(srv_stop(&s), 0);
    char *log = tu_path(dir, "serve.log"), *text = tu_read(log);
    assert_contains(text, "http: DELETE /healthz 405");
    assert_contains(text, "http: POST /u/* 413");
    assert_contains(text, "serve: stopping");
    free(text);
    free(log);
}

/* SIGTERM while clients keep asking for /healthz, five times, with the
 * stopping thread's EPOLL_CTL_DEL slowed (tests/slow_epoll_del.c): with
 * epoll workers a worker awake at the stop took the listening socket out
 * of its set first, and libmicrohttpd aborted the service ("Failed to
 * remove listen FD from epoll set", exit 134; a CI run of make asan saw it
 * once without the shim). Each stop must exit 0. */
static void test_serve_stop_under_load(void **state)
{
    (void)state;
    char *shim = tu_shim_build(dir, "slow_epoll_del", ""), cmd[4096];
    struct tu_preload pre;
    tu_preload_begin(&pre, shim);
    for (int round = 0; round < 5; round++) {
        struct srv s;
        srv_start(&s);
        unsetenv("LD_PRELOAD"); /* the service's alone, not the clients' */
        /* four clients for 0.8 s, in the background; the stop at 0.3 s */
        snprintf(cmd, sizeof cmd,
                 "python3 -c '\n"
                 "import http.client, threading, time\n"
                 "end = time.time() + 0.8\n"
                 "def ask():\n"
                 "    while time.time() < end:\n"
                 "        try:\n"
                 "            c = http.client.HTTPConnection(\"127.0.0.1\", %d, timeout=1)\n"
                 "            c.request(\"GET\", \"/healthz\"); c.getresponse().read(); c.close()\n"
                 "        except OSError:\n"
                 "            time.sleep(0.01)\n"
                 "[threading.Thread(target=ask).start() for i in range(4)]\n"
                 "' > /dev/null 2>&1 &",
                 s.port);
        free(tu_sh(cmd));
        struct timespec ts = {0, 300 * 1000000L};
        nanosleep(&ts, NULL);
        int st = srv_stop(&s); /* it prints serve.log's end when not 0 */
        if (st != 0)
            fail_msg("stop %d under load: herald serve exited %d", round + 1, st);
        ts.tv_nsec = 600 * 1000000L; /* the clients are gone */
        nanosleep(&ts, NULL);
        setenv("LD_PRELOAD", shim, 1);
    }
    tu_preload_end(&pre);
    free(shim);
}

/* SIGTERM while a one-click POST is half sent: the request finishes (200,
 * recorded), a new connection is refused, and serve exits 0. Python's
 * socket module plays the slow client. */
static void test_serve_graceful_stop(void **state)
{
    (void)state;
    struct srv s;
    send_promo();
    char *link = outbox_link("k1@example.com"), cmd[4096];
    srv_start(&s);
    snprintf(cmd, sizeof cmd,
             "python3 -c '\n"
             "import socket, os, signal, time, sys\n"
             "c = socket.create_connection((\"127.0.0.1\", %d))\n"
             "c.sendall(b\"POST %s HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: "
             "application/x-www-form-urlencoded\\r\\nContent-Length: 26\\r\\n\\r\\nList-Unsub\")\n"
             "time.sleep(0.3)\n"
             "os.kill(%d, signal.SIGTERM)\n"
             "time.sleep(0.5)\n"
             "try:\n"
             "    socket.create_connection((\"127.0.0.1\", %d), timeout=2).close()\n"
             "    print(\"new-connection-accepted\")\n"
             "except OSError:\n"
             "    print(\"new-connection-refused\")\n"
             "c.sendall(b\"scribe=One-Click\")\n"
             "print(c.recv(4096).split(b\"\\r\\n\")[0].decode())\n"
             "'",
             s.port, link, (int)s.pid, s.port);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char out[512] = "";
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    pclose(f);
    assert_contains(out, "new-connection-refused");
    assert_contains(out, "HTTP/1.1 200 OK");
    int st = 0;
    assert_int_equal(waitpid(s.pid, &st, 0), s.pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(q1("SELECT count(*) FROM consent WHERE status = 'opted_out'"), 1);
    /* neither the secret nor the token is in the log */
    char *sp = tu_path(dir, "var/herald.secret"), *secret = tu_read(sp);
    char *lp = tu_path(dir, "serve.log"), *log = tu_read(lp);
    secret[strcspn(secret, "\n")] = '\0';
    assert_true(strlen(secret) == 64);
    assert_contains(log, "serve: stopping");
    assert_not_contains(log, secret);
    assert_not_contains(log, link + 3);
    free(secret);
    free(sp);
    free(log);
    free(lp);
    free(link);
}

/* Slow clients (a header line every while, never the end of the head):
 * one address holds at most connections_per_client connections, so other
 * clients still get answers; a trusted proxy (127.0.0.1) is not held to
 * it. A review kept every client out with 260 such connections. */
static void test_serve_slow_clients(void **state)
{
    (void)state;
    struct srv s;
    char cmd[4096];
    write_conf("h.conf", "secret_file = var/herald.secret\nconnection_limit = 16\n"
                         "connections_per_client = 4\n");
    srv_start(&s);
    snprintf(cmd, sizeof cmd,
             "python3 -c '\n"
             "import socket, subprocess, time\n"
             "def slow(src):\n"
             "    c = socket.socket(); c.bind((src, 0)); c.settimeout(3)\n"
             "    c.connect((\"127.0.0.1\", %d)); c.sendall(b\"GET /healthz HTTP/1.1\\r\\nHost: "
             "x\\r\\n\")\n"
             "    return c\n"
             "def closed(c):\n"
             "    c.settimeout(0.5)\n"
             "    try:\n"
             "        c.sendall(b\"X-a: b\\r\\n\"); return c.recv(1) == b\"\"\n"
             "    except TimeoutError:\n"
             "        return False\n"
             "    except OSError:\n"
             "        return True\n"
             "def healthz(src):\n"
             "    return subprocess.run([\"curl\", \"-s\", \"-m\", \"3\", \"--interface\", src, "
             "\"-o\",\n"
             "        \"/dev/null\", \"-w\", \"%%{http_code}\", \"http://127.0.0.1:%d/healthz\"],\n"
             "        capture_output=True, text=True).stdout\n"
             "held = [slow(\"127.0.0.2\") for _ in range(4)]\n"
             "time.sleep(0.3)\n"
             "fifth = slow(\"127.0.0.2\")\n"
             "print(\"fifth\", \"closed\" if closed(fifth) else \"open\")\n"
             "print(\"other\", healthz(\"127.0.0.3\"))\n"
             "proxy = [slow(\"127.0.0.1\") for _ in range(6)]\n"
             "time.sleep(0.3)\n"
             "print(\"proxy\", sum(not closed(c) for c in proxy))\n"
             "print(\"held\", sum(not closed(c) for c in held))\n"
             "for c in held: c.close()\n"
             "time.sleep(0.3)\n"
             "print(\"again\", healthz(\"127.0.0.2\"))\n"
             "'",
             s.port, s.port);
    char *out = tu_sh(cmd);
    assert_contains(out, "fifth closed\n");
    assert_contains(out, "other 200\n");
    assert_contains(out, "proxy 6\n");
    assert_contains(out, "held 4\n");
    assert_contains(out, "again 200\n");
    free(out);
    assert_int_equal(srv_stop(&s), 0);
}

/* Over SMTP (to a real SMTP server, aiosmtpd) the List-Unsubscribe header
 * carries the same kind of signed link as the outbox, and it works. */
static void test_serve_smtp_link(void **state)
{
    (void)state;
    struct tu_server smtp;
    struct srv s;
    char *body, extra[512];
    smtp_start(&smtp);
    snprintf(extra, sizeof extra,
             "secret_file = var/herald.secret\n[provider mail]\ntype = smtp\nhost = 127.0.0.1\n"
             "port = %d\nstarttls = none\nfrom = Acme <hello@example.com>\n"
             "unsubscribe_url = https://static.example.com/unsubscribe\n"
             "[channel email]\nproviders = mail\n",
             smtp.port);
    write_conf("h.conf", extra);
    send_promo();
    tu_server_stop(&smtp);
    /* the message's own link, not the provider's static fallback */
    char *link = mail_link("smtpout", "k3@example.com");
    srv_start(&s);
    assert_int_equal(http(&s, "POST", link, "List-Unsubscribe=One-Click", NULL, &body, NULL), 200);
    free(body);
    assert_int_equal(srv_stop(&s), 0);
    assert_int_equal(q1("SELECT count(*) FROM consent k JOIN contacts c ON c.id = k.contact_id "
                        "WHERE c.ext_id = 'k3' AND k.status = 'opted_out'"),
                     1);
    free(link);
}

static void test_serve_send_needs_public_url(void **state)
{
    (void)state;
    struct tu_run r;
    char conf[512];
    snprintf(conf, sizeof conf, "[herald]\ndatabase = %s\ntemplates = tpl\n", e2e_db);
    write_file("h.conf", conf);
    TU_HERALD_OK(dir, "campaign", "create", "promo", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--now");
    tu_herald(&r, dir, NULL, "send", "promo", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "[serve] public_url is not set");
    tu_run_release(&r);
    assert_int_equal(q1("SELECT count(*) FROM messages"), 0);
    /* serve needs a secret to check links with */
    tu_herald(&r, dir, NULL, "serve", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "[serve] has no secret to check links with");
    tu_run_release(&r);
    write_conf("h.conf", "secret_file = var/none.secret\n");
    tu_herald(&r, dir, NULL, "serve", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "secret_file 'var/none.secret' does not exist: run 'herald init'");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "send", "promo", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "run 'herald init' to make the secret file");
    tu_run_release(&r);
    assert_int_equal(q1("SELECT count(*) FROM messages"), 0);
    /* a preview shows the link's shape, signed with no key the service has */
    write_conf("h.conf", "secret_file = var/herald.secret\n");
    tu_herald(&r, dir, NULL, "template", "preview", "promo", "--contact", "k1", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "Unsubscribe: http://127.0.0.1:8025/u/v1.");
    assert_contains(r.out, "Preferences: http://127.0.0.1:8025/p/v1.");
    tu_run_release(&r);
}

/* ---- GET /metrics ------------------------------------------------------------ */

/* An independent reader of the text format: Python's prometheus_client
 * parser (Debian's python3-prometheus-client, under /usr/bin/python3),
 * which rejects what it cannot parse; each sample comes back as
 * "name{k=v,...} value" with the labels sorted. */
static const char prom_parse[] =
    "import sys\n"
    "from prometheus_client.parser import text_string_to_metric_families as fams\n"
    "for f in fams(sys.stdin.read()):\n"
    "    for s in f.samples:\n"
    "        l = ','.join('%s=%s' % (k, v.encode('unicode_escape').decode())\n"
    "                     for k, v in sorted(s.labels.items()))\n"
    "        print('%s{%s} %g' % (s.name, l, s.value))\n"
    "    print('TYPE %s %s' % (f.name, f.type))\n";

/* Scrapes with extra curl arguments; on 200 returns the parsed samples. */
static char *scrape(const struct srv *s, const char *extra, int *code)
{
    char *body, cmd[4096];
    *code = http(s, "GET", "/metrics", NULL, extra, &body, NULL);
    if (*code != 200)
        return body;
    char *in = tu_path(dir, "metrics.txt"), *py = tu_path(dir, "parse.py");
    tu_write(in, body);
    tu_write(py, prom_parse);
    free(body);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' < '%s'", py, in);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    struct hd_buf out;
    hd_buf_init(&out);
    hd_buf_adds(&out, "\n"); /* so that every sample follows a newline */
    char line[1024];
    while (fgets(line, sizeof line, f))
        hd_buf_adds(&out, line);
    if (pclose(f) != 0)
        fail_msg("the metrics did not parse:\n%s", tu_read(in));
    free(in);
    free(py);
    return hd_buf_detach(&out, NULL);
}

static void has_sample(const char *parsed, const char *what, int64_t v)
{
    char want[512];
    snprintf(want, sizeof want, "\n%s %lld\n", what, (long long)v);
    if (!strstr(parsed, want))
        fail_msg("no '%s' in:%s", want + 1, parsed);
}

static void test_serve_metrics(void **state)
{
    (void)state;
    struct srv s;
    char *body, *m;
    int code;
    send_promo();
    char *link = outbox_link("k1@example.com");
    srv_start(&s);
    assert_int_equal(http(&s, "POST", link, "List-Unsubscribe=One-Click", NULL, &body, NULL), 200);
    free(body);
    assert_int_equal(http(&s, "GET", "/healthz", NULL, NULL, &body, NULL), 200);
    free(body);
    /* a label value with a quote, a backslash and a newline: escaped, and
     * read back whole by the parser (unicode_escape shows \\ and \n) */
    char ins[400];
    const char *chr = e2e_pg_uri ? "chr" : "char"; /* the dialects' names for it */
    snprintf(ins, sizeof ins,
             "INSERT INTO consent (contact_id, channel, category, status, source, updated_at) "
             "SELECT id, 'sms', 'marketing', 'opted_out', 'we' || %s(34) || 'ird' || %s(92) || "
             "%s(10) || 'src', 0 FROM contacts WHERE ext_id = 'k2'",
             chr, chr, chr);
    q1(ins);
    m = scrape(&s, NULL, &code);
    assert_int_equal(code, 200);
    has_sample(m,
               "herald_messages_total{campaign=promo,channel=email,outcome=accepted,"
               "provider=outbox}",
               q1("SELECT count(*) FROM attempts WHERE outcome = 'accepted'"));
    assert_int_equal(q1("SELECT count(*) FROM attempts WHERE outcome = 'accepted'"), 3);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM messages WHERE state = %d", HD_ST_SENT);
    has_sample(m, "herald_queue_messages{state=sent}", q1(sql));
    has_sample(m, "herald_queue_messages{state=queued}", 0);
    has_sample(m, "herald_unsubscribes_total{channel=email,source=unsubscribe}",
               q1("SELECT count(*) FROM consent WHERE status = 'opted_out' AND channel = 'email'"));
    has_sample(m, "herald_provider_paused{provider=outbox}", 0);
    has_sample(m, "herald_unsubscribes_total{channel=sms,source=we\"ird\\\\\\nsrc}", 1);
    int64_t reqs = q1("SELECT count(*) FROM attempts WHERE outcome <> 'skipped' AND provider IS "
                      "NOT NULL AND done_at IS NOT NULL");
    has_sample(m, "herald_send_latency_seconds_count{}", reqs);
    has_sample(m, "herald_send_latency_seconds_bucket{le=+Inf}", reqs);
    has_sample(m, "herald_http_requests_total{code=200,route=healthz}", 1);
    has_sample(m, "herald_http_requests_total{code=200,route=unsubscribe}", 1);
    has_sample(m, "herald_build_info{version=0.1.0}", 1);
    assert_contains(m, "TYPE herald_send_latency_seconds histogram\n");
    assert_not_contains(m, "k1"); /* no contact in any label */
    free(m);
    /* a counter never goes down: k1 opting in again takes back no opt-out
     * (it counted consent rows, and fell to 0: found by a review) */
    TU_HERALD_OK(dir, "contacts", "optin", "k1", "--channel", "email");
    assert_int_equal(q1("SELECT count(*) FROM consent WHERE status = 'opted_out' AND channel = "
                        "'email'"),
                     0);
    m = scrape(&s, NULL, &code);
    assert_int_equal(code, 200);
    has_sample(m, "herald_unsubscribes_total{channel=email,source=unsubscribe}", 1);
    free(m);
    assert_int_equal(srv_stop(&s), 0);
    /* 127.0.0.1 outside metrics_allow: only the bearer token opens */
    write_file("var/metrics.token", "metrics-bearer-0123456789\n");
    write_conf("h.conf", "secret_file = var/herald.secret\nmetrics_allow = 10.0.0.0/8, "
                         "fd00::/8\nmetrics_token_file = var/metrics.token\n");
    srv_start(&s);
    m = scrape(&s, NULL, &code);
    assert_int_equal(code, 403);
    free(m);
    m = scrape(&s, "-H 'Authorization: Bearer metrics-bearer-012345678' ", &code);
    assert_int_equal(code, 403);
    free(m);
    m = scrape(&s, "-H 'Authorization: Bearer metrics-bearer-0123456789' ", &code);
    assert_int_equal(code, 200);
    /* from the store: the same after a restart */
    has_sample(m,
               "herald_messages_total{campaign=promo,channel=email,outcome=accepted,"
               "provider=outbox}",
               3);
    has_sample(m, "herald_http_requests_total{code=403,route=metrics}", 2);
    free(m);
    /* behind a proxy: the peer (127.0.0.1, a trusted proxy by default) is
     * not the client, X-Forwarded-For's last entry that is no trusted
     * proxy is (a review read /metrics from anywhere through nginx) */
    static const struct {
        const char *xff;
        int code;
    } fwd[] = {
        {"10.1.2.3", 200},
        {"203.0.113.9", 403},
        {"203.0.113.9, 10.1.2.3", 200},
        {"10.1.2.3, 203.0.113.9", 403}, /* the client's own entry is not believed */
        {"10.1.2.3, 127.0.0.1", 200},   /* a second proxy, trusted, passed over */
        {"[fd00::1]", 200},
        {"nonsense", 403},
        {"10.1.2.3,", 403},
    };
    for (size_t i = 0; i < sizeof fwd / sizeof *fwd; i++) {
        char h[128];
        snprintf(h, sizeof h, "-H 'X-Forwarded-For: %s' ", fwd[i].xff);
        m = scrape(&s, h, &code);
        if (code != fwd[i].code)
            fail_msg("X-Forwarded-For: %s: %d, not %d", fwd[i].xff, code, fwd[i].code);
        free(m);
    }
    assert_int_equal(http(&s, "GET", "/healthz", NULL, NULL, &body, NULL), 200);
    free(body);
    assert_int_equal(srv_stop(&s), 0);
    /* no proxy trusted: the header is the client's own, and ignored */
    write_conf("h.conf", "secret_file = var/herald.secret\nmetrics_allow = 10.0.0.0/8\n"
                         "trusted_proxies = none\n");
    srv_start(&s);
    m = scrape(&s, "-H 'X-Forwarded-For: 10.1.2.3' ", &code);
    assert_int_equal(code, 403);
    free(m);
    assert_int_equal(srv_stop(&s), 0);
    char *log = tu_path(dir, "serve.log"), *text = tu_read(log);
    assert_not_contains(text, "metrics-bearer");
    free(text);
    free(log);
    free(link);
}

/* herald_unsubscribes_total is a counter: erasing a contact (contacts
 * delete, which takes its consent_log rows) takes none of its opt-outs
 * away (it did: found by a review), a source with ':' in it is kept
 * whole, and `herald db copy` carries the erased ones' totals. */
static void test_serve_metrics_erased(void **state)
{
    (void)state;
    struct srv s;
    char *body, *m;
    int code;
    send_promo();
    srv_start(&s);
    static const char *const who[] = {"k1@example.com", "k3@example.com"};
    for (size_t i = 0; i < sizeof who / sizeof *who; i++) {
        char *link = outbox_link(who[i]);
        assert_int_equal(http(&s, "POST", link, "List-Unsubscribe=One-Click", NULL, &body, NULL),
                         200);
        free(body);
        free(link);
    }
    q1("INSERT INTO consent (contact_id, channel, category, status, source, updated_at) "
       "SELECT id, 'sms', 'marketing', 'opted_out', 'crm:import', 0 FROM contacts WHERE "
       "ext_id = 'k2'");
    for (int round = 0; round < 2; round++) {
        m = scrape(&s, NULL, &code);
        assert_int_equal(code, 200);
        has_sample(m, "herald_unsubscribes_total{channel=email,source=unsubscribe}", 2);
        has_sample(m, "herald_unsubscribes_total{channel=sms,source=crm:import}", 1);
        free(m);
        if (round == 0) { /* k1 and k2 erased, k3 kept */
            TU_HERALD_OK(dir, "contacts", "delete", "k1");
            TU_HERALD_OK(dir, "contacts", "delete", "k2");
            assert_int_equal(q1("SELECT count(*) FROM consent_log WHERE status = 'opted_out'"), 1);
        }
    }
    assert_int_equal(srv_stop(&s), 0);
    /* the copy's /metrics says the same */
    TU_HERALD_OK(dir, "db", "copy", e2e_db, "copy.db");
    e2e_db = "copy.db";
    write_conf("h.conf", "secret_file = var/herald.secret\n");
    srv_start(&s);
    m = scrape(&s, NULL, &code);
    assert_int_equal(code, 200);
    has_sample(m, "herald_unsubscribes_total{channel=email,source=unsubscribe}", 2);
    has_sample(m, "herald_unsubscribes_total{channel=sms,source=crm:import}", 1);
    free(m);
    assert_int_equal(srv_stop(&s), 0);
}

/* ---- compliance at lint ------------------------------------------------------ */

static void test_serve_lint_compliance(void **state)
{
    (void)state;
    struct tu_run r;
    /* the setup's template carries both links: clean */
    TU_HERALD_OK(dir, "template", "lint", "promo");
    write_file("tpl/bare.tmpl", "category: marketing\nfrom: A <a@example.com>\n\n"
                                "--- email.subject\nHi\n--- email.text\nNews.\n"
                                "--- email.html\n<p>News. <a href=\"{{ preferences_url }}\">"
                                "Preferences</a></p>\n"
                                "--- sms\nNews. Reply STOP to opt out\n");
    write_file("tpl/bare.zh-CN.tmpl", "--- email.text\n新闻 {{#vip}}{{ unsubscribe_url }}{{/vip}}\n"
                                      "--- sms\n【Acme】新闻，回复STOP退订\n");
    tu_herald(&r, dir, NULL, "template", "lint", "bare", NULL);
    assert_int_equal(r.status, 1);
    /* the text part lacks a link; the HTML one has preferences_url */
    assert_contains(r.out, "bare.tmpl:6: error: email.text: a marketing email must carry "
                           "{{unsubscribe_url}} or {{preferences_url}}");
    assert_not_contains(r.out, "bare.tmpl:8: error");
    /* a link only inside a section that needs data does not count */
    assert_contains(r.out, "bare.zh-CN.tmpl:1: error: email.text: a marketing email");
    assert_contains(r.out, "bare.zh-CN.tmpl:3: error: sms: a zh-CN marketing SMS must carry the "
                           "opt-out wording '回T退订'");
    assert_not_contains(r.out, "bare.tmpl:10: error");
    tu_run_release(&r);
    /* fixed, and with another wording configured */
    write_file("tpl/bare.tmpl",
               "category: marketing\nfrom: A <a@example.com>\n\n"
               "--- email.subject\nHi\n--- email.text\nNews. {{ unsubscribe_url }}\n"
               "--- sms\nNews. Reply STOP to opt out\n");
    write_file("tpl/bare.zh-CN.tmpl", "--- email.text\n新闻 {{ preferences_url }}\n"
                                      "--- sms\n【Acme】新闻，拒收请回复R\n");
    tu_herald(&r, dir, NULL, "template", "lint", "bare", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.out, "'回T退订'");
    tu_run_release(&r);
    write_conf("h.conf", "secret_file = var/herald.secret\n[lint]\nsms_optout_zh = 拒收请回复R\n");
    TU_HERALD_OK(dir, "template", "lint", "bare");
    /* a transactional email needs no link */
    write_file("tpl/receipt.tmpl", "category: transactional\nfrom: A <a@example.com>\n\n"
                                   "--- email.subject\nReceipt\n--- email.text\nThanks.\n"
                                   "--- sms\n收据\n");
    write_file("tpl/receipt.zh-CN.tmpl", "--- sms\n收据\n");
    TU_HERALD_OK(dir, "template", "lint", "receipt");
    write_conf("h.conf", "[lint]\nsms_optout_zh =\n");
    tu_herald(&r, dir, NULL, "template", "lint", "receipt", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "sms_optout_zh: give the wording");
    tu_run_release(&r);
    /* a wording longer than lint keeps whole is refused (it was cut to 63
     * bytes, and an SMS with the cut one passed) */
    struct hd_buf w;
    hd_buf_init(&w);
    hd_buf_adds(&w, "secret_file = var/herald.secret\n[lint]\nsms_optout_zh = ");
    for (int i = 0; i < 90; i++)
        hd_buf_adds(&w, "退");
    hd_buf_adds(&w, "\n");
    write_conf("h.conf", w.data);
    hd_buf_release(&w);
    tu_herald(&r, dir, NULL, "template", "lint", "receipt", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "sms_optout_zh: 270 bytes, over 255");
    tu_run_release(&r);
    write_conf("h.conf", "secret_file = var/herald.secret\n");
    /* a base part whose link is in a partial: checked with each locale's
     * partials too (a zh-CN footer without it passed lint, and zh-CN
     * recipients got mail without a link: a review found it) */
    char *parts = tu_path(dir, "tpl/partials");
    assert_true(mkdir(parts, 0755) == 0 || errno == EEXIST);
    free(parts);
    write_file("tpl/partials/foot.mustache", "Footer {{ unsubscribe_url }}\n");
    write_file("tpl/partials/foot.zh-CN.mustache", "页脚\n");
    write_file("tpl/loc.tmpl", "category: marketing\nfrom: A <a@example.com>\n\n"
                               "--- email.subject\nHi\n--- email.text\nNews {{> foot}}\n");
    write_file("tpl/loc.zh-CN.tmpl", "--- email.subject\n你好\n");
    tu_herald(&r, dir, NULL, "template", "lint", "loc", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.out, "loc.tmpl:6: error: email.text (for zh-CN, with its partials): a "
                           "marketing email must carry");
    tu_run_release(&r);
    write_file("tpl/partials/foot.zh-CN.mustache", "页脚 {{ preferences_url }}\n");
    TU_HERALD_OK(dir, "template", "lint", "loc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serve_token_round_trip),
        cmocka_unit_test(test_serve_token_independent),
        cmocka_unit_test(test_serve_token_tampered),
        cmocka_unit_test(test_serve_token_expired),
        cmocka_unit_test(test_serve_token_rotated),
        cmocka_unit_test(test_serve_token_garbage),
        cmocka_unit_test(test_serve_config),
        cmocka_unit_test(test_serve_metrics_allow),
        cmocka_unit_test_setup_teardown(test_serve_one_click, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_serve_oneclick_multipart, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_serve_bad_tokens, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_serve_rotation, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_serve_http_errors, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_serve_graceful_stop, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_serve_stop_under_load, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_serve_slow_clients, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_serve_smtp_link, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_serve_send_needs_public_url, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_serve_metrics, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_serve_metrics_erased, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_serve_lint_compliance, e2e_setup, e2e_teardown),
        {"test_serve_one_click_pg", test_serve_one_click, e2e_setup_pg, e2e_teardown, NULL},
        {"test_serve_bad_tokens_pg", test_serve_bad_tokens, e2e_setup_pg, e2e_teardown, NULL},
        {"test_serve_rotation_pg", test_serve_rotation, e2e_setup_pg, e2e_teardown, NULL},
        {"test_serve_http_errors_pg", test_serve_http_errors, e2e_setup_pg, e2e_teardown, NULL},
        {"test_serve_graceful_stop_pg", test_serve_graceful_stop, e2e_setup_pg, e2e_teardown, NULL},
        {"test_serve_smtp_link_pg", test_serve_smtp_link, e2e_setup_pg, e2e_teardown, NULL},
        {"test_serve_send_needs_public_url_pg", test_serve_send_needs_public_url, e2e_setup_pg,
         e2e_teardown, NULL},
        {"test_serve_metrics_pg", test_serve_metrics, e2e_setup_pg, e2e_teardown, NULL},
        {"test_serve_metrics_erased_pg", test_serve_metrics_erased, e2e_setup_pg, e2e_teardown,
         NULL},
        {"test_serve_lint_compliance_pg", test_serve_lint_compliance, e2e_setup_pg, e2e_teardown,
         NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
