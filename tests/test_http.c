/* test_http: the HTTP drivers (twilio, http, fcm, apns) against the mock
 * gateways in tests/mock (Node.js, standard library only) on 127.0.0.1.
 * Every result class and bad-address mapping the drivers promise is sent
 * through the real driver and checked; the mocks verify our Basic auth, our
 * RS256 OAuth assertion and our ES256 provider token with Node's crypto, and
 * log each request for the checks on what was sent. Also: a certificate
 * from an untrusted CA is refused, a header that would hold a line break is
 * refused before sending, and no credential reaches herald's output. The
 * cases with a store (a gateway's feedback, campaigns, the APNs token
 * kept in meta) run on SQLite files, then on PostgreSQL (testboth.h). */
#include "testboth.h"
#include "testnet.h"

#include <jansson.h>

#include "herald/config.h"
#include "herald/driver.h"
#include "herald/log.h"
#include "herald/time.h"
#include "herald/valid.h"

#include "../src/channel/driver_int.h" /* hd_result_set */

#define TW_SID "AC0123456789abcdef0123456789abcdef"
#define TW_TOKEN "tw-Secret-Token-5521"
#define API_KEY "gw-Secret-Key-7731"
#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char *dir;
static struct tu_server tw, fcm, apns;
/* each store by its file name: the file, or on the PostgreSQL run a database */
static struct tu_both stores;

static char *path(const char *name)
{
    return tu_path(dir, name);
}

/* The store that stands for file (testboth.h). */
static const char *S(const char *file)
{
    return tu_both_store(&stores, file);
}

static void start_mock(struct tu_server *s, const char *script, const char *const *args)
{
    tu_start_mock(s, dir, script, args);
}

/* The service account: an RSA key and its JSON file, pointing at the mock. */
static void make_service_account(const char *name, const char *keyname, int port)
{
    const char *gen[] = {"openssl", "genpkey",  "-algorithm",
                         "RSA",     "-pkeyopt", "rsa_keygen_bits:2048",
                         "-out",    keyname,    NULL};
    tu_run_in(dir, gen);
    char *kp = path(keyname), *pem = tu_read(kp);
    char uri[128];
    snprintf(uri, sizeof uri, "http://127.0.0.1:%d/token", port);
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "service_account", "project_id",
                          "herald-test", "private_key_id", "k1", "private_key", pem, "client_email",
                          "herald@herald-test.iam.gserviceaccount.com", "token_uri", uri);
    char *p = path(name);
    assert_int_equal(json_dump_file(j, p, JSON_INDENT(2)), 0);
    json_decref(j);
    free(p);
    free(pem);
    free(kp);
}

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    tu_make_certs(dir);
    const char *ec[] = {"openssl",    "genpkey",
                        "-algorithm", "EC",
                        "-pkeyopt",   "ec_paramgen_curve:P-256",
                        "-out",       "AuthKey_ABC123DEFG.p8",
                        NULL};
    tu_run_in(dir, ec);
    setenv("TEST_TW_TOKEN", TW_TOKEN, 1);
    setenv("TEST_API_KEY", API_KEY, 1);
    const char *twa[] = {"--sid", TW_SID, "--token", TW_TOKEN, "--log", "twilio.log", NULL};
    start_mock(&tw, "twilio.js", twa);
    /* the FCM mock reads the service account, which names the mock's port:
     * start it on a port we pick from a first, throw-away start */
    struct tu_server probe;
    make_service_account("sa.json", "sa.key", 1);
    const char *fa0[] = {"--sa", "sa.json", NULL};
    start_mock(&probe, "fcm.js", fa0);
    int port = probe.port;
    tu_server_stop(&probe);
    make_service_account("sa.json", "sa.key", port);
    make_service_account("sa-other.json", "sa-other.key", port);
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    const char *fa[] = {"--sa", "sa.json", "--log", "fcm.log", "--port", portstr, NULL};
    start_mock(&fcm, "fcm.js", fa);
    const char *aa[] = {
        "--cert", "srv.pem",    "--certkey", "srv.key",    "--key", "AuthKey_ABC123DEFG.p8",
        "--kid",  "ABC123DEFG", "--team",    "TEAM123456", "--log", "apns.log",
        NULL};
    start_mock(&apns, "apns.js", aa);
    return 0;
}

/* The same with the stores on PostgreSQL. */
static int setup_pg(void **state)
{
    stores.pg = true;
    return setup(state);
}

static int teardown(void **state)
{
    (void)state;
    tu_server_stop(&tw);
    tu_server_stop(&fcm);
    tu_server_stop(&apns);
    tu_rmdir(dir);
    tu_both_release(&stores);
    return 0;
}

/* ---- sending ------------------------------------------------------------------ */

struct content {
    const char *title, *body, *data;
};

/* Sends one message to each address through provider "p"; results (and
 * message ids) in the order of the addresses. */
static void send_all(struct hd_config *cfg, int channel, const char *const *to, size_t n,
                     const struct content *c, struct tu_results *rs, struct hd_log *log)
{
    struct hd_driver *d;
    struct hd_err e = {0};
    assert_true(n <= 64);
    if (hd_driver_open(hd_config_provider(cfg, "p"), log, &d, &e) != 0)
        fail_msg("open: %s", e.msg);
    memset(rs, 0, sizeof *rs);
    for (size_t i = 0; i < n; i++) {
        struct hd_msg m = {.channel = channel,
                           .category = HD_CAT_TRANSACTIONAL,
                           .to = to[i],
                           .title = c ? c->title : "Hello",
                           .body = c ? c->body : "Your code is 1234",
                           .data = c ? c->data : NULL,
                           .created = 1795334400,
                           .user = (void *)(uintptr_t)i};
        hd_uuid(m.id);
        snprintf(rs->id[i], sizeof rs->id[i], "%s", m.id);
        assert_int_equal(hd_driver_submit(d, &m, &e), 0);
    }
    tu_await(d, n, rs);
}

/* A push data object of about n bytes. */
static void big_data(struct hd_buf *b, int n)
{
    hd_buf_init(b);
    hd_buf_adds(b, "{\"blob\":\"");
    for (int k = 0; k < n; k++)
        hd_buf_addc(b, 'x');
    hd_buf_adds(b, "\"}");
}

/* The logged request whose header `hdr` equals value, or NULL. */
static json_t *find_request(json_t *log, const char *hdr, const char *value)
{
    size_t i;
    json_t *e;
    json_array_foreach(log, i, e)
    {
        const char *v = json_string_value(json_object_get(json_object_get(e, "headers"), hdr));
        if (v && strcmp(v, value) == 0)
            return e;
    }
    return NULL;
}

/* The header lines are kept from one request to the next on a connection
 * (http.c's put_line): each request still carries its own values, the
 * lines after one that changed too, curl's "Expect: 100-continue" stays
 * off for every big body, and a request refused halfway through its
 * headers (a line break in a value) leaves the next one whole. */
static void test_http_header_lines_kept(void **state)
{
    (void)state;
    struct hd_config *cfg =
        tu_config("[provider p]\ntype = http\nurl = http://127.0.0.1:%d/hook\nconnections = 1\n"
                  "header = X-Fixed: same\nheader = X-To: {{to}}\nheader = X-Last: end\n"
                  "body = {\"to\": \"{{to}}\", \"data\": {{{data}}}}\n",
                  tw.port);
    static const char *const to[] = {"+15550000001", "+15550000002", "+1555\r\nX-Injected: 1",
                                     "+15550000004", "+15550000004"};
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_ERROR);
    struct tu_results rs;
    struct hd_buf big;
    big_data(&big, 2000);
    struct content c = {.body = "hi", .data = big.data};
    send_all(cfg, HD_CH_SMS, to, 5, &c, &rs, &log);
    tu_expect(&rs.r[2], HD_OUT_PERMANENT, false, "header injection");
    json_t *l = tu_read_jsonl(dir, "twilio.log");
    assert_null(find_request(l, "x-injected", "1"));
    assert_null(find_request(l, "idempotency-key", rs.id[2]));
    for (size_t i = 0; i < 5; i++) {
        if (i == 2)
            continue;
        json_t *h = json_object_get(find_request(l, "idempotency-key", rs.id[i]), "headers");
        assert_non_null(h);
        assert_string_equal(json_string_value(json_object_get(h, "x-to")), to[i]);
        assert_string_equal(json_string_value(json_object_get(h, "x-fixed")), "same");
        assert_string_equal(json_string_value(json_object_get(h, "x-last")), "end");
        assert_string_equal(json_string_value(json_object_get(h, "content-type")),
                            "application/json");
        assert_null(json_object_get(h, "expect"));
    }
    json_decref(l);
    hd_buf_release(&big);
    hd_config_free(cfg);
}

/* ---- twilio ------------------------------------------------------------------ */

static void test_twilio_classes(void **state)
{
    (void)state;
    struct hd_config *cfg =
        tu_config("[provider p]\ntype = twilio\nbase_url = http://127.0.0.1:%d\n"
                  "account_sid = %s\nauth_token_env = TEST_TW_TOKEN\n"
                  "from = +15550001111\nstatus_callback = "
                  "https://hooks.example.com/sms\ntimeout = 2s\n",
                  tw.port, TW_SID);
    static const char *const to[] = {"+15557654321", "+15550000429", "+15550020429",
                                     "+15550021211", "+15550021610", "+15550000500",
                                     "+15550000503", "+15550000999", "+15550000000"};
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_ERROR);
    struct tu_results rs;
    struct content c = {.body = "Hi Ann, your code is 1234 & it expires soon"};
    send_all(cfg, HD_CH_SMS, to, 9, &c, &rs, &log);
    tu_expect(&rs.r[0], HD_OUT_ACCEPTED, false, "201");
    assert_int_equal(rs.r[0].code, 201);
    assert_true(strncmp(rs.r[0].gateway_id, "SM", 2) == 0);
    assert_contains(rs.r[0].text, "queued, 1 segment");
    assert_string_not_equal(rs.r[0].digest, "");
    tu_expect(&rs.r[1], HD_OUT_THROTTLED, false, "429");
    assert_int_equal(rs.r[1].retry_after_ms, 7000);
    tu_expect(&rs.r[2], HD_OUT_THROTTLED, false, "20429");
    tu_expect(&rs.r[3], HD_OUT_PERMANENT, true, "21211");
    assert_false(rs.r[3].opted_out);
    assert_contains(rs.r[3].text, "21211");
    tu_expect(&rs.r[4], HD_OUT_PERMANENT, false, "21610");
    assert_true(rs.r[4].opted_out);
    tu_expect(&rs.r[5], HD_OUT_TEMPORARY, false, "500");
    tu_expect(&rs.r[6], HD_OUT_TEMPORARY, false, "503");
    assert_int_equal(rs.r[6].retry_after_ms, 2000);
    tu_expect(&rs.r[7], HD_OUT_TEMPORARY, false, "slow");
    assert_int_equal(rs.r[7].code, 0);
    tu_expect(&rs.r[8], HD_OUT_TEMPORARY, false, "dropped");
    /* what the gateway got */
    json_t *l = tu_read_jsonl(dir, "twilio.log");
    json_t *req = find_request(l, "i-twilio-idempotency-token", rs.id[0]);
    assert_non_null(req);
    json_t *form = json_object_get(req, "form");
    assert_string_equal(json_string_value(json_object_get(form, "To")), "+15557654321");
    assert_string_equal(json_string_value(json_object_get(form, "From")), "+15550001111");
    assert_string_equal(json_string_value(json_object_get(form, "Body")), c.body);
    assert_string_equal(json_string_value(json_object_get(form, "StatusCallback")),
                        "https://hooks.example.com/sms");
    json_decref(l);
    hd_config_free(cfg);

    /* a wrong token is refused by the gateway: permanent, not a bad address */
    setenv("TEST_TW_TOKEN_BAD", "wrong-token-000", 1);
    cfg =
        tu_config("[provider p]\ntype = twilio\nbase_url = http://127.0.0.1:%d\naccount_sid = %s\n"
                  "auth_token_env = TEST_TW_TOKEN_BAD\nmessaging_service_sid = MG123\n",
                  tw.port, TW_SID);
    send_all(cfg, HD_CH_SMS, to, 1, NULL, &rs, &log);
    tu_expect(&rs.r[0], HD_OUT_PERMANENT, false, "401");
    assert_int_equal(rs.r[0].code, 401);
    hd_config_free(cfg);
    hd_log_release(&log);
}

/* ---- generic http ---------------------------------------------------------------- */

static void test_http_gateway(void **state)
{
    (void)state;
    /* the Twilio mock, driven as a generic form gateway */
    struct hd_buf basic;
    hd_buf_init(&basic);
    {
        const char *cred = TW_SID ":" TW_TOKEN;
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t n = strlen(cred);
        for (size_t i = 0; i < n; i += 3) {
            unsigned v = (unsigned)(unsigned char)cred[i] << 16;
            if (i + 1 < n)
                v |= (unsigned)(unsigned char)cred[i + 1] << 8;
            if (i + 2 < n)
                v |= (unsigned char)cred[i + 2];
            hd_buf_addc(&basic, b64[v >> 18]);
            hd_buf_addc(&basic, b64[(v >> 12) & 63]);
            hd_buf_addc(&basic, i + 1 < n ? b64[(v >> 6) & 63] : '=');
            hd_buf_addc(&basic, i + 2 < n ? b64[v & 63] : '=');
        }
    }
    setenv("TEST_GW_AUTH", basic.data, 1);
    struct hd_config *cfg =
        tu_config("[provider p]\ntype = http\nurl = "
                  "http://127.0.0.1:%d/2010-04-01/Accounts/%s/Messages.json\n"
                  "body_format = form\nbody = To={{to}}&From=%%2B15550001111&Body={{body}}\n"
                  "header = Authorization: Basic {{api_key}}\napi_key_env = TEST_GW_AUTH\n"
                  "accepted_status = 200-299\nthrottled_status = 429\npermanent_status = 400-499\n"
                  "message_id_pointer = /sid\n",
                  tw.port, TW_SID);
    static const char *const to[] = {"+15557654321", "+15550000429", "+15550021211",
                                     "+15550000503"};
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_ERROR);
    struct tu_results rs;
    struct content c = {.body = "Grüße & 100% \"quoted\" + more"};
    send_all(cfg, HD_CH_SMS, to, 4, &c, &rs, &log);
    tu_expect(&rs.r[0], HD_OUT_ACCEPTED, false, "201");
    assert_true(strncmp(rs.r[0].gateway_id, "SM", 2) == 0);
    tu_expect(&rs.r[1], HD_OUT_THROTTLED, false, "429");
    assert_int_equal(rs.r[1].retry_after_ms, 7000);
    tu_expect(&rs.r[2], HD_OUT_PERMANENT, false, "400");
    tu_expect(&rs.r[3], HD_OUT_TEMPORARY, false, "503");
    json_t *l = tu_read_jsonl(dir, "twilio.log");
    json_t *req = find_request(l, "idempotency-key", rs.id[0]);
    assert_non_null(req);
    assert_string_equal(json_string_value(json_object_get(json_object_get(req, "form"), "Body")),
                        c.body);
    json_decref(l);
    hd_config_free(cfg);

    /* JSON escaping: the body reaches the gateway as valid JSON with the text intact */
    cfg = tu_config("[provider p]\ntype = http\nurl = http://127.0.0.1:%d/hook?to={{to}}\n"
                    "header = X-Token: {{api_key}}\napi_key_env = TEST_API_KEY\n"
                    "body = {\"msg\": {\"to\": \"{{to}}\", \"text\": \"{{body}}\", \"data\": "
                    "{{{data}}}}}\n",
                    tw.port);
    static const char *const to2[] = {"+15557654321"};
    struct content c2 = {.body = "line one\nline \"two\" \\ tab\t 中文", .data = "{\"k\":1}"};
    send_all(cfg, HD_CH_SMS, to2, 1, &c2, &rs, &log);
    tu_expect(&rs.r[0], HD_OUT_PERMANENT, false, "404 on /hook");
    l = tu_read_jsonl(dir, "twilio.log");
    req = find_request(l, "idempotency-key", rs.id[0]);
    assert_non_null(req);
    assert_string_equal(json_string_value(json_object_get(req, "path")), "/hook?to=%2B15557654321");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(req, "headers"), "x-token")), API_KEY);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(req, "headers"), "content-type")),
        "application/json");
    json_t *body = json_loads(json_string_value(json_object_get(req, "body")), 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(json_object_get(body, "msg"), "text")),
                        c2.body);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(body, "msg"), "data"), "k")),
                     1);
    json_decref(body);
    json_decref(l);
    hd_config_free(cfg);

    /* a header built from message text with a line break is refused unsent */
    cfg = tu_config("[provider p]\ntype = http\nurl = http://127.0.0.1:%d/hook\n"
                    "header = X-Subject: {{body}}\n",
                    tw.port);
    struct content c3 = {.body = "hi\r\nX-Injected: yes"};
    send_all(cfg, HD_CH_SMS, to2, 1, &c3, &rs, &log);
    tu_expect(&rs.r[0], HD_OUT_PERMANENT, false, "header injection");
    assert_contains(rs.r[0].text, "line break");
    l = tu_read_jsonl(dir, "twilio.log");
    assert_null(find_request(l, "idempotency-key", rs.id[0]));
    json_decref(l);
    hd_config_free(cfg);

    /* so is a URL that would hold a space (the triple mustache does not escape) */
    cfg = tu_config("[provider p]\ntype = http\nurl = http://127.0.0.1:%d/hook?t={{{body}}}\n",
                    tw.port);
    send_all(cfg, HD_CH_SMS, to2, 1, &c3, &rs, &log);
    tu_expect(&rs.r[0], HD_OUT_PERMANENT, false, "URL injection");
    assert_contains(rs.r[0].text, "control character");
    hd_config_free(cfg);

    /* configuration errors name the key */
    struct hd_driver *d = NULL;
    struct hd_err e = {0};
    cfg = tu_config("[provider p]\ntype = http\nurl = http://x.example/\naccepted_status = 2xx\n");
    assert_int_not_equal(hd_driver_open(hd_config_provider(cfg, "p"), &log, &d, &e), 0);
    assert_contains(e.msg, "accepted_status");
    hd_config_free(cfg);
    cfg =
        tu_config("[provider p]\ntype = http\nurl = http://x.example/\nmessage_id_pointer = id\n");
    assert_int_not_equal(hd_driver_open(hd_config_provider(cfg, "p"), &log, &d, &e), 0);
    assert_contains(e.msg, "message_id_pointer");
    hd_config_free(cfg);
    hd_buf_release(&basic);
    hd_log_release(&log);
}

/* ---- fcm ------------------------------------------------------------------------ */

static size_t count_issued(void)
{
    return tu_count_logged(dir, "fcm.log", "token", "issued");
}

static struct hd_config *fcm_config(const char *sa)
{
    char *p = path(sa);
    /* 2 s: the mock's slow answer (3 s) still times out, and a first
     * request that also fetches a token has room on a loaded machine */
    struct hd_config *cfg = tu_config("[provider p]\ntype = fcm\nservice_account_file = %s\n"
                                      "base_url = http://127.0.0.1:%d\ntimeout = 2s\n"
                                      "connections = 8\n",
                                      p, fcm.port);
    free(p);
    return cfg;
}

static void test_fcm_classes(void **state)
{
    (void)state;
    struct hd_config *cfg = fcm_config("sa.json");
    static const char *const to[] = {"tok-ok-1", "unregistered", "invalid",  "mismatch",
                                     "quota",    "unavailable",  "internal", "always401",
                                     "slow",     "drop"};
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_ERROR);
    struct tu_results rs;
    struct content c = {.title = "Hello",
                        .body = "We miss you",
                        .data = "{\"deep_link\":\"app://home\",\"n\":3,\"flag\":true}"};
    size_t before = count_issued();
    send_all(cfg, HD_CH_PUSH, to, 10, &c, &rs, &log);
    tu_expect(&rs.r[0], HD_OUT_ACCEPTED, false, "200");
    assert_contains(rs.r[0].gateway_id, "projects/herald-test/messages/");
    tu_expect(&rs.r[1], HD_OUT_PERMANENT, true, "UNREGISTERED");
    assert_int_equal(rs.r[1].code, 404);
    tu_expect(&rs.r[2], HD_OUT_PERMANENT, false, "INVALID_ARGUMENT");
    tu_expect(&rs.r[3], HD_OUT_PERMANENT, true, "SENDER_ID_MISMATCH");
    tu_expect(&rs.r[4], HD_OUT_THROTTLED, false, "QUOTA_EXCEEDED");
    assert_int_equal(rs.r[4].retry_after_ms, 9000);
    tu_expect(&rs.r[5], HD_OUT_TEMPORARY, false, "UNAVAILABLE");
    tu_expect(&rs.r[6], HD_OUT_TEMPORARY, false, "INTERNAL");
    tu_expect(&rs.r[7], HD_OUT_TEMPORARY, false, "401 twice");
    assert_int_equal(rs.r[7].code, 401);
    tu_expect(&rs.r[8], HD_OUT_TEMPORARY, false, "slow");
    tu_expect(&rs.r[9], HD_OUT_TEMPORARY, false, "drop");
    /* one token for the batch, plus one refresh for the 401 */
    assert_int_equal(count_issued() - before, 2);
    /* data values went as strings */
    json_t *l = tu_read_jsonl(dir, "fcm.log");
    size_t i;
    json_t *e, *found = NULL;
    json_array_foreach(l, i, e)
    {
        json_t *b = json_object_get(e, "body");
        const char *t = json_string_value(json_object_get(b, "token"));
        if (t && strcmp(t, "tok-ok-1") == 0)
            found = b;
    }
    assert_non_null(found);
    json_t *data = json_object_get(found, "data");
    assert_string_equal(json_string_value(json_object_get(data, "n")), "3");
    assert_string_equal(json_string_value(json_object_get(data, "flag")), "true");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(found, "notification"), "title")),
        "Hello");
    json_decref(l);

    /* an expired access token: refreshed once, then the message goes */
    static const char *const exp[] = {"expire"};
    before = count_issued();
    send_all(cfg, HD_CH_PUSH, exp, 1, &c, &rs, &log);
    tu_expect(&rs.r[0], HD_OUT_ACCEPTED, false, "401 then refreshed");
    assert_int_equal(rs.r[0].refreshed, 1);       /* the refused request is an attempt too */
    assert_int_equal(count_issued() - before, 2); /* this driver's first token, and the new one */

    /* a payload over 4096 bytes is refused before sending */
    struct hd_buf big;
    big_data(&big, 5000);
    struct content cb = {.title = "t", .body = "b", .data = big.data};
    send_all(cfg, HD_CH_PUSH, to, 1, &cb, &rs, &log);
    tu_expect(&rs.r[0], HD_OUT_PERMANENT, false, "too large");
    assert_contains(rs.r[0].text, "over FCM's 4096");
    hd_buf_release(&big);
    hd_config_free(cfg);

    /* many connections: the driver runs several loop threads (lanes) that
     * share one access token; every message goes once */
    char *sap = path("sa.json");
    cfg = tu_config("[provider p]\ntype = fcm\nservice_account_file = %s\n"
                    "base_url = http://127.0.0.1:%d\nconnections = 32\n",
                    sap, fcm.port);
    free(sap);
    const char *many[60];
    for (int k = 0; k < 60; k++)
        many[k] = "tok-many";
    before = count_issued();
    send_all(cfg, HD_CH_PUSH, many, 60, &c, &rs, &log);
    for (int k = 0; k < 60; k++) {
        tu_expect(&rs.r[k], HD_OUT_ACCEPTED, false, "lanes");
        for (int j = 0; j < k; j++)
            assert_string_not_equal(rs.r[j].gateway_id, rs.r[k].gateway_id);
    }
    assert_int_equal(count_issued() - before, 1);
    hd_config_free(cfg);

    /* a service account whose key the gateway does not know: the token
     * endpoint refuses the signature, every message is temporary */
    cfg = fcm_config("sa-other.json");
    send_all(cfg, HD_CH_PUSH, to, 2, &c, &rs, &log);
    tu_expect(&rs.r[0], HD_OUT_TEMPORARY, false, "bad signature");
    assert_contains(rs.r[0].text, "Invalid JWT Signature");
    hd_config_free(cfg);
    hd_log_release(&log);
}

/* ---- apns ----------------------------------------------------------------------- */

/* timeout 2s: the mock's slow answer takes 3 s, and a re-signed request
 * over a new TLS and HTTP/2 session needed more than 1 s under valgrind */
static struct hd_config *apns_config(const char *ca)
{
    char *key = path("AuthKey_ABC123DEFG.p8"), *cap = path(ca);
    struct hd_config *cfg =
        tu_config("[provider p]\ntype = apns\nkey_file = %s\nkey_id = ABC123DEFG\n"
                  "team_id = TEAM123456\ntopic = com.example.app\nbase_url = https://localhost:%d\n"
                  "ca_file = %s\ntimeout = 2s\nconnections = 2\n",
                  key, apns.port, cap);
    free(key);
    free(cap);
    return cfg;
}

static void test_apns_classes(void **state)
{
    (void)state;
    struct hd_config *cfg = apns_config("ca.pem");
    static const char *const to[] = {
        "aaaa0000" HEX64, "dead0410" HEX64, "dead0400" HEX64, "dead0403" HEX64, "dead0429" HEX64,
        "dead0500" HEX64, "dead0503" HEX64, "dead0413" HEX64, "dead0999" HEX64, "not-a-token/../x"};
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_ERROR);
    struct tu_results rs;
    struct content c = {.title = "Hello",
                        .body = "We miss you",
                        .data = "{\"deep_link\":\"app://home\",\"collapse_id\":\"promo-7\"}"};
    send_all(cfg, HD_CH_PUSH, to, 10, &c, &rs, &log);
    tu_expect(&rs.r[0], HD_OUT_ACCEPTED, false, "200");
    assert_string_equal(rs.r[0].gateway_id, rs.id[0]);
    tu_expect(&rs.r[1], HD_OUT_PERMANENT, true, "410 Unregistered");
    tu_expect(&rs.r[2], HD_OUT_PERMANENT, true, "400 BadDeviceToken");
    tu_expect(&rs.r[3], HD_OUT_ACCEPTED, false, "403 ExpiredProviderToken, re-signed");
    assert_int_equal(rs.r[3].refreshed, 1);
    assert_int_equal(rs.r[0].refreshed, 0);
    tu_expect(&rs.r[4], HD_OUT_THROTTLED, false, "429");
    tu_expect(&rs.r[5], HD_OUT_TEMPORARY, false, "500");
    tu_expect(&rs.r[6], HD_OUT_TEMPORARY, false, "503");
    tu_expect(&rs.r[7], HD_OUT_PERMANENT, false, "413");
    assert_contains(rs.r[7].text, "PayloadTooLarge");
    tu_expect(&rs.r[8], HD_OUT_TEMPORARY, false, "slow");
    tu_expect(&rs.r[9], HD_OUT_PERMANENT, true, "not a token");
    /* the request, as the mock saw it over HTTP/2 */
    json_t *l = tu_read_jsonl(dir, "apns.log");
    json_t *req = find_request(l, "apns-id", rs.id[0]);
    assert_non_null(req);
    json_t *h = json_object_get(req, "headers");
    assert_string_equal(json_string_value(json_object_get(h, "apns-topic")), "com.example.app");
    assert_string_equal(json_string_value(json_object_get(h, "apns-push-type")), "alert");
    assert_string_equal(json_string_value(json_object_get(h, "apns-priority")), "10");
    assert_string_equal(json_string_value(json_object_get(h, "apns-expiration")), "1795420800");
    assert_string_equal(json_string_value(json_object_get(h, "apns-collapse-id")), "promo-7");
    json_t *b = json_object_get(req, "body");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(b, "aps"), "alert"), "body")),
                        "We miss you");
    assert_string_equal(json_string_value(json_object_get(b, "deep_link")), "app://home");
    assert_null(json_object_get(b, "collapse_id"));
    json_decref(l);

    /* a dropped connection is temporary; a payload over 4096 bytes is refused unsent */
    static const char *const drop[] = {"dead0000" HEX64};
    send_all(cfg, HD_CH_PUSH, drop, 1, &c, &rs, &log);
    tu_expect(&rs.r[0], HD_OUT_TEMPORARY, false, "dropped");
    struct hd_buf big;
    big_data(&big, 4100);
    struct content cb = {.title = "t", .body = "b", .data = big.data};
    send_all(cfg, HD_CH_PUSH, to, 1, &cb, &rs, &log);
    tu_expect(&rs.r[0], HD_OUT_PERMANENT, false, "too large");
    hd_buf_release(&big);
    hd_config_free(cfg);
    hd_log_release(&log);
}

/* A server certificate from a CA we do not trust is refused: nothing is
 * sent, the result is temporary and says why. */
static void test_tls_refused(void **state)
{
    (void)state;
    struct hd_config *cfg = apns_config("evil.pem");
    static const char *const to[] = {"aaaa0000" HEX64};
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_ERROR);
    struct tu_results rs;
    send_all(cfg, HD_CH_PUSH, to, 1, NULL, &rs, &log);
    tu_expect(&rs.r[0], HD_OUT_TEMPORARY, false, "untrusted certificate");
    assert_contains(rs.r[0].text, "certificate");
    json_t *l = tu_read_jsonl(dir, "apns.log");
    assert_null(find_request(l, "apns-id", rs.id[0]));
    json_decref(l);
    hd_config_free(cfg);
    hd_log_release(&log);
}

/* `herald provider test` through the binary, with debug logging, for every
 * HTTP type: the message goes, and no credential appears in what it prints. */
static void test_provider_test_no_secrets(void **state)
{
    (void)state;
    char *conf = path("h.conf"), *sa = path("sa.json"), *key = path("AuthKey_ABC123DEFG.p8"),
         *ca = path("ca.pem");
    struct hd_buf t;
    hd_buf_init(&t);
    hd_buf_addf(&t,
                "[herald]\nlog_level = debug\n"
                "[provider sms]\ntype = twilio\nbase_url = http://127.0.0.1:%d\n"
                "account_sid = %s\nauth_token_env = TEST_TW_TOKEN\nfrom = +15550001111\n"
                "[provider hook]\ntype = http\nurl = http://127.0.0.1:%d/2010-04-01/Accounts/"
                "%s/Messages.json\nbody_format = form\n"
                "body = To={{to}}&From=%%2B15550001111&Body={{body}}\n"
                "header = Authorization: Basic {{api_key}}\napi_key_env = TEST_GW_AUTH\n"
                "message_id_pointer = /sid\n"
                "[provider fcm]\ntype = fcm\nservice_account_file = %s\n"
                "base_url = http://127.0.0.1:%d\n"
                "[provider ios]\ntype = apns\nkey_file = %s\nkey_id = ABC123DEFG\n"
                "team_id = TEAM123456\ntopic = com.example.app\n"
                "base_url = https://localhost:%d\nca_file = %s\n",
                tw.port, TW_SID, tw.port, TW_SID, sa, fcm.port, key, apns.port, ca);
    tu_write(conf, t.data);
    static const struct {
        const char *provider, *to, *gw;
    } runs[] = {{"sms", "+14155550123", "SM"},
                {"hook", "+14155550123", "SM"},
                {"fcm", "tok-provider-test", "projects/"},
                {"ios", "abcd0000" HEX64, "-"}};
    char *p8 = tu_read(key), *sajson = tu_read(sa);
    for (size_t i = 0; i < 4; i++) {
        struct tu_run r;
        tu_herald(&r, dir, NULL, "-v", "-c", "h.conf", "provider", "test", runs[i].provider, "--to",
                  runs[i].to, NULL);
        if (r.status != 0)
            fail_msg("provider test %s: %s %s", runs[i].provider, r.out, r.err);
        assert_contains(r.out, "result      accepted");
        if (strcmp(runs[i].gw, "-") != 0)
            assert_contains(r.out, runs[i].gw);
        /* -v follows the send, so the secret checks read real lines */
        assert_contains(r.err, "driver open");
        assert_contains(r.err, "debug: http: new connection to ");
        if (strcmp(runs[i].provider, "ios") == 0)
            assert_contains(r.err, "(HTTPS, HTTP/2)");
        const char *secrets[] = {
            TW_TOKEN, getenv("TEST_GW_AUTH"), "ya29.mock", "BEGIN PRIVATE", "bearer ey", "Bearer ",
            "Basic "};
        for (size_t k = 0; k < sizeof secrets / sizeof *secrets; k++) {
            assert_not_contains(r.out, secrets[k]);
            assert_not_contains(r.err, secrets[k]);
        }
        /* a line of the private keys' base64 */
        char *line = strchr(p8, '\n');
        assert_non_null(line);
        char frag[33];
        snprintf(frag, sizeof frag, "%s", line + 1);
        assert_not_contains(r.out, frag);
        assert_not_contains(r.err, frag);
        tu_run_release(&r);
    }
    free(p8);
    free(sajson);
    hd_buf_release(&t);
    free(conf);
    free(sa);
    free(key);
    free(ca);
}

/* ---- push and SMS templates, end to end ----------------------------------------- */

/* The providers of test_push_templates: Twilio, FCM and APNs on the mocks,
 * templates in tpl/. */
static void template_conf(void)
{
    char *conf = path("tp.conf"), *sa = path("sa.json"), *key = path("AuthKey_ABC123DEFG.p8"),
         *ca = path("ca.pem"), *td = path("tpl");
    struct hd_buf t;
    hd_buf_init(&t);
    hd_buf_addf(&t,
                "[herald]\ntemplates = %s\n"
                "[provider sms]\ntype = twilio\nbase_url = http://127.0.0.1:%d\n"
                "account_sid = %s\nauth_token_env = TEST_TW_TOKEN\nfrom = +15550001111\n"
                "[provider fcm]\ntype = fcm\nservice_account_file = %s\n"
                "base_url = http://127.0.0.1:%d\n"
                "[provider ios]\ntype = apns\nkey_file = %s\nkey_id = ABC123DEFG\n"
                "team_id = TEAM123456\ntopic = com.example.app\n"
                "base_url = https://localhost:%d\nca_file = %s\n"
                "[channel sms]\nproviders = sms\n",
                td, tw.port, TW_SID, sa, fcm.port, key, apns.port, ca);
    tu_write(conf, t.data);
    mkdir(td, 0755);
    hd_buf_release(&t);
    free(conf);
    free(sa);
    free(key);
    free(ca);
    free(td);
}

/* `provider test PROVIDER --to TO --template T`; the caller releases r. */
static void probe(struct tu_run *r, const char *provider, const char *to, const char *tpl)
{
    tu_herald(r, dir, NULL, "-c", "tp.conf", "provider", "test", provider, "--to", to, "--template",
              tpl, NULL);
}

/* The logged FCM message sent to token, or NULL. */
static json_t *fcm_message(json_t *log, const char *token)
{
    size_t i;
    json_t *e, *found = NULL;
    json_array_foreach(log, i, e)
    {
        json_t *b = json_object_get(e, "body");
        const char *t = json_string_value(json_object_get(b, "token"));
        if (t && strcmp(t, token) == 0)
            found = b;
    }
    return found;
}

/* The logged APNs request to the device token, or NULL. */
static json_t *apns_request(json_t *log, const char *device)
{
    char want[300];
    snprintf(want, sizeof want, "/3/device/%s", device);
    size_t i;
    json_t *e, *found = NULL;
    json_array_foreach(log, i, e)
    {
        const char *p = json_string_value(json_object_get(e, "path"));
        if (p && strcmp(p, want) == 0)
            found = e;
    }
    return found;
}

/* Issue 15 item 4: what push.fcm and push.apns say is sent (android,
 * fcm_options; aps.badge, thread-id, custom keys), and nothing they did not
 * ask for (no "sound"). */
static void test_push_parts_sent(void **state)
{
    (void)state;
    template_conf();
    tu_put_template(dir, "rich",
                    "category: transactional\n"
                    "--- push.title\nSale\n--- push.body\nUp to {{pct | default '50'}}% off\n"
                    "--- push.data\n{\"deep_link\": \"app://sale\"}\n"
                    "--- push.fcm\n{\"android\": {\"priority\": \"high\", \"notification\": "
                    "{\"channel_id\": \"promo\"}}, \"fcm_options\": {\"analytics_label\": "
                    "\"sale\"}}\n"
                    "--- push.apns\n{\"aps\": {\"badge\": 3, \"thread-id\": \"promo\"}, "
                    "\"campaign\": \"sale\"}\n");
    struct tu_run r;
    probe(&r, "fcm", "tok-rich", "rich");
    if (r.status != 0)
        fail_msg("fcm rich: %s %s", r.out, r.err);
    tu_run_release(&r);
    probe(&r, "ios", "beef0001" HEX64, "rich");
    if (r.status != 0)
        fail_msg("apns rich: %s %s", r.out, r.err);
    tu_run_release(&r);
    json_t *l = tu_read_jsonl(dir, "fcm.log");
    json_t *m = fcm_message(l, "tok-rich");
    assert_non_null(m);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(m, "notification"), "body")),
        "Up to 50% off");
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "data"), "deep_link")),
                        "app://sale");
    json_t *android = json_object_get(m, "android");
    assert_non_null(android);
    assert_string_equal(json_string_value(json_object_get(android, "priority")), "high");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(android, "notification"), "channel_id")),
        "promo");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(m, "fcm_options"), "analytics_label")),
        "sale");
    json_decref(l);
    l = tu_read_jsonl(dir, "apns.log");
    json_t *q = apns_request(l, "beef0001" HEX64);
    assert_non_null(q);
    json_t *b = json_object_get(q, "body"), *aps = json_object_get(b, "aps");
    assert_string_equal(json_string_value(json_object_get(json_object_get(aps, "alert"), "title")),
                        "Sale");
    assert_string_equal(json_string_value(json_object_get(b, "deep_link")), "app://sale");
    assert_null(json_object_get(aps, "sound"));
    assert_int_equal(json_integer_value(json_object_get(aps, "badge")), 3);
    assert_string_equal(json_string_value(json_object_get(aps, "thread-id")), "promo");
    assert_string_equal(json_string_value(json_object_get(b, "campaign")), "sale");
    json_decref(l);
}

/* Issue 15 item 5: a push with data and no title or body is a data-only
 * push: FCM gets no notification, APNs content-available as a background
 * push. */
static void test_push_data_only(void **state)
{
    (void)state;
    template_conf();
    tu_put_template(dir, "silent",
                    "category: transactional\n--- push.data\n{\"sync\": \"inbox\"}\n");
    struct tu_run r;
    probe(&r, "fcm", "tok-silent", "silent");
    if (r.status != 0)
        fail_msg("fcm silent: %s %s", r.out, r.err);
    tu_run_release(&r);
    probe(&r, "ios", "beef0002" HEX64, "silent");
    if (r.status != 0)
        fail_msg("apns silent: %s %s", r.out, r.err);
    tu_run_release(&r);
    json_t *l = tu_read_jsonl(dir, "fcm.log");
    json_t *m = fcm_message(l, "tok-silent");
    assert_non_null(m);
    assert_null(json_object_get(m, "notification"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "data"), "sync")),
                        "inbox");
    json_decref(l);
    l = tu_read_jsonl(dir, "apns.log");
    json_t *q = apns_request(l, "beef0002" HEX64);
    assert_non_null(q);
    json_t *b = json_object_get(q, "body"), *aps = json_object_get(b, "aps");
    assert_null(json_object_get(aps, "alert"));
    assert_null(json_object_get(aps, "sound"));
    assert_int_equal(json_integer_value(json_object_get(aps, "content-available")), 1);
    assert_string_equal(json_string_value(json_object_get(b, "sync")), "inbox");
    json_t *h = json_object_get(q, "headers");
    assert_string_equal(json_string_value(json_object_get(h, "apns-push-type")), "background");
    assert_string_equal(json_string_value(json_object_get(h, "apns-priority")), "5");
    json_decref(l);
}

/* True when the Twilio mock logged a request to the number. */
static bool twilio_got(const char *to)
{
    json_t *l = tu_read_jsonl(dir, "twilio.log"), *e;
    size_t i;
    bool got = false;
    json_array_foreach(l, i, e)
    {
        const char *t = json_string_value(json_object_get(json_object_get(e, "form"), "To"));
        got |= t && strcmp(t, to) == 0;
    }
    json_decref(l);
    return got;
}

/* Runs a campaign of template tpl on the SMS channel to the contact with
 * the phone number through `herald send`, and returns `herald log` of it
 * (JSON lines; the caller frees). */
static char *send_sms_campaign(const char *name, const char *tpl, const char *phone)
{
    char db[64], row[128];
    snprintf(db, sizeof db, "%s.db", name);
    snprintf(row, sizeof row, "id,phone\n%s-1,%s\n", name, phone);
    const char *pre[] = {"-c", "tp.conf", "--db", S(db), NULL};
    return tu_sms_campaign(dir, pre, name, tpl, row);
}

/* Issue 15 item 6: FCM's reserved data keys are refused by lint and
 * before anything is sent. */
static void test_push_fcm_reserved(void **state)
{
    (void)state;
    template_conf();
    tu_put_template(dir, "reserved",
                    "category: transactional\n--- push.title\nHi\n"
                    "--- push.data\n{\"from\": \"shop\", \"google.x\": \"1\"}\n");
    struct tu_run r;
    probe(&r, "fcm", "tok-reserved", "reserved");
    assert_int_not_equal(r.status, 0);
    assert_contains(r.err, "push.data: the key 'from' is reserved by FCM");
    tu_run_release(&r);
    json_t *l = tu_read_jsonl(dir, "fcm.log");
    assert_null(fcm_message(l, "tok-reserved"));
    json_decref(l);
    /* the driver refuses them too, whatever gave the data */
    struct hd_config *cfg = fcm_config("sa.json");
    struct hd_log hl;
    hd_log_init(&hl, stderr, HD_LOG_ERROR);
    struct tu_results rs;
    struct content c = {
        .title = "T", .body = "B", .data = "{\"ok\":\"1\",\"gcm.notification.e\":\"1\"}"};
    static const char *const to[] = {"tok-reserved-2"};
    send_all(cfg, HD_CH_PUSH, to, 1, &c, &rs, &hl);
    tu_expect(&rs.r[0], HD_OUT_PERMANENT, false, "reserved");
    assert_contains(rs.r[0].text, "push data key 'gcm.notification.e' is reserved by FCM");
    l = tu_read_jsonl(dir, "fcm.log");
    assert_null(fcm_message(l, "tok-reserved-2"));
    json_decref(l);
    hd_config_free(cfg);
    hd_log_release(&hl);
    tu_herald(&r, dir, NULL, "-c", "tp.conf", "template", "lint", "reserved", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.out, "push.data: the key 'from' is reserved by FCM");
    tu_run_release(&r);
}

/* Issue 15 item 7: a body over Twilio's 1,600 characters is refused by
 * lint (for the configured Twilio provider) and unsent by the driver. */
static void test_sms_twilio_limit(void **state)
{
    (void)state;
    template_conf();
    struct hd_buf big;
    hd_buf_init(&big);
    hd_buf_adds(&big, "category: transactional\n--- sms\n");
    for (int i = 0; i < 1700; i++)
        hd_buf_addc(&big, i % 10 == 4 ? ' ' : 'a');
    hd_buf_adds(&big, "\n");
    tu_put_template(dir, "long", big.data);
    hd_buf_release(&big);
    struct tu_run r;
    probe(&r, "sms", "+14155550101", "long");
    assert_int_not_equal(r.status, 0);
    assert_contains(r.out, "the SMS is 1700 characters, over the 1600 Twilio accepts");
    tu_run_release(&r);
    assert_false(twilio_got("+14155550101"));
    tu_herald(&r, dir, NULL, "-c", "tp.conf", "template", "lint", "long", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.out, "sms: the fixed text alone is 1700 characters, over the 1600 that "
                           "provider 'sms' (twilio) accepts");
    tu_run_release(&r);
    /* a campaign: the dispatcher's render refuses it, per provider */
    char *log = send_sms_campaign("longc", "long", "+14155550102");
    assert_contains(log, "render_failed");
    assert_contains(log, "the SMS is 1700 characters, over the 1600 that provider 'sms' (twilio) "
                         "accepts");
    free(log);
    assert_false(twilio_got("+14155550102"));
    /* the driver itself refuses a body over 1,600 characters, unsent */
    struct hd_config *cfg =
        tu_config("[provider p]\ntype = twilio\nbase_url = http://127.0.0.1:%d\n"
                  "account_sid = %s\nauth_token_env = TEST_TW_TOKEN\n"
                  "from = +15550001111\n",
                  tw.port, TW_SID);
    struct hd_log hl;
    hd_log_init(&hl, stderr, HD_LOG_ERROR);
    struct tu_results rs;
    struct hd_buf body;
    hd_buf_init(&body);
    for (int i = 0; i < 1601; i++)
        hd_buf_adds(&body, i % 2 ? "\xe4\xbd\xa0" : "a");
    struct content c = {.body = body.data};
    static const char *const to[] = {"+14155550103"};
    send_all(cfg, HD_CH_SMS, to, 1, &c, &rs, &hl);
    tu_expect(&rs.r[0], HD_OUT_PERMANENT, false, "over 1600");
    assert_contains(rs.r[0].text, "the SMS is 1601 characters");
    c.body = "";
    send_all(cfg, HD_CH_SMS, to, 1, &c, &rs, &hl);
    tu_expect(&rs.r[0], HD_OUT_PERMANENT, false, "empty");
    assert_contains(rs.r[0].text, "the SMS is empty");
    assert_false(twilio_got("+14155550103"));
    hd_buf_release(&body);
    hd_config_free(cfg);
    hd_log_release(&hl);
}

/* Issue 15 item 8: an SMS that renders empty is refused, unsent. */
static void test_sms_empty(void **state)
{
    (void)state;
    template_conf();
    tu_put_template(dir, "empty", "category: transactional\n--- sms\n{{nothing}}\n");
    struct tu_run r;
    probe(&r, "sms", "+14155550100", "empty");
    assert_int_not_equal(r.status, 0);
    assert_contains(r.err, "template 'empty': the sms part is empty once rendered");
    tu_run_release(&r);
    assert_false(twilio_got("+14155550100"));
    /* a campaign: strict, and a section that is false renders nothing */
    tu_put_template(dir, "emptysec",
                    "category: transactional\n--- sms\n{{#coupon}}Use {{coupon}}{{/coupon}}\n");
    char *log = send_sms_campaign("emptyc", "emptysec", "+14155550104");
    assert_contains(log, "render_failed");
    assert_contains(log, "template 'emptysec': the sms part is empty once rendered");
    free(log);
    assert_false(twilio_got("+14155550104"));
}

/* What the gateway says about an address reaches the audience: 21211
 * suppresses the number, 21610 (STOP) opts the contact out of SMS. */
/* ---- pauses ------------------------------------------------------------------ */

/* Submits n SMS messages to d after pausing it for pause_ms; returns the
 * milliseconds until all n results were back. */
static int64_t paused_send(struct hd_driver *d, int64_t pause_ms, size_t n)
{
    struct hd_err e = {0};
    struct tu_results got = {0};
    int64_t t0 = hd_clock_mono_ms();
    hd_driver_pause(d, t0 + pause_ms);
    for (size_t i = 0; i < n; i++) {
        struct hd_msg m = {.channel = HD_CH_SMS,
                           .category = HD_CAT_TRANSACTIONAL,
                           .to = "+15557654321",
                           .body = "Your code is 1234",
                           .created = 1795334400,
                           .user = (void *)(uintptr_t)i};
        hd_uuid(m.id);
        assert_int_equal(hd_driver_submit(d, &m, &e), 0);
    }
    for (int i = 0; i < 300 && got.n < n; i++)
        hd_driver_poll(d, 100, tu_collect, &got);
    assert_int_equal(got.n, n);
    for (size_t i = 0; i < n; i++)
        tu_expect(&got.r[i], HD_OUT_ACCEPTED, false, "after the pause");
    return hd_clock_mono_ms() - t0;
}

/* What a paused driver holds stays off the wire until the pause ends: the
 * dispatcher hands an HTTP driver four messages per connection, and after
 * a throttled answer none of them may go early. Both kinds of driver: the
 * libcurl loop (twilio) and the worker pool (outbox). A driver stopped
 * while paused stops at once, dropping what waits (the dispatcher queues
 * it again). */
static void test_driver_pause(void **state)
{
    (void)state;
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_ERROR);
    char *box = path("pause-outbox");
    struct hd_config *cfg =
        tu_config("[provider p]\ntype = twilio\nbase_url = http://127.0.0.1:%d\n"
                  "account_sid = %s\nauth_token_env = TEST_TW_TOKEN\nfrom = +15550001111\n"
                  "connections = 2\n[provider o]\ntype = outbox\npath = %s\n",
                  tw.port, TW_SID, box);
    const char *names[] = {"p", "o"};
    for (int k = 0; k < 2; k++) {
        struct hd_driver *d;
        struct hd_err e = {0};
        if (hd_driver_open(hd_config_provider(cfg, names[k]), &log, &d, &e) != 0)
            fail_msg("open: %s", e.msg);
        /* a first message, so that connections are open and workers run */
        assert_true(paused_send(d, 0, 1) < 5000);
        int64_t took = paused_send(d, 400, 8);
        if (took < 400)
            fail_msg("provider '%s': results after %lld ms of a 400 ms pause", names[k],
                     (long long)took);
        assert_true(took < 5000);
        /* stopped in a long pause: at once, nothing sent */
        struct hd_msg m = {.channel = HD_CH_SMS, .to = "+15557654321", .body = "x"};
        hd_uuid(m.id);
        hd_driver_pause(d, hd_clock_mono_ms() + 60000);
        assert_int_equal(hd_driver_submit(d, &m, &e), 0);
        int64_t t0 = hd_clock_mono_ms();
        hd_driver_free(d);
        assert_true(hd_clock_mono_ms() - t0 < 3000);
    }
    hd_config_free(cfg);
    free(box);
}

static void test_provider_feedback(void **state)
{
    (void)state;
    char *conf = path("fb.conf"), *csv = path("fb.csv");
    struct hd_buf t;
    hd_buf_init(&t);
    hd_buf_addf(&t,
                "[herald]\ndatabase = %s\n"
                "[provider sms]\ntype = twilio\nbase_url = http://127.0.0.1:%d\n"
                "account_sid = %s\nauth_token_env = TEST_TW_TOKEN\nfrom = +15550001111\n"
                "[channel sms]\nproviders = sms\n",
                S("fb.db"), tw.port, TW_SID);
    tu_write(conf, t.data);
    tu_write(csv, "id,phone\nc1,+14155550199\n");
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-c", "fb.conf", "init", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "fb.conf", "contacts", "import", "fb.csv", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "fb.conf", "provider", "test", "sms", "--to", "+14155021610",
              "--contact", "c1", NULL);
    if (r.status != 1)
        fail_msg("provider test: %d %s %s", r.status, r.out, r.err);
    assert_contains(r.out, "result      permanent (opted out)");
    assert_contains(r.out, "consent     c1 sms: opted out (gateway)");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "fb.conf", "contacts", "show", "c1", "--json", NULL);
    assert_contains(r.out, "\"opted_out\"");
    assert_contains(r.out, "\"gateway\"");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "fb.conf", "provider", "test", "sms", "--to", "+14155021211",
              NULL);
    assert_int_not_equal(r.status, 0);
    assert_contains(r.out, "result      permanent (bad address)");
    assert_contains(r.out, "suppressed  +14155021211");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "fb.conf", "suppress", "list", "--format", "csv", NULL);
    assert_contains(r.out, "+14155021211,sms,invalid_number");
    tu_run_release(&r);
    hd_buf_release(&t);
    free(conf);
    free(csv);
}

/* The provider token meta holds for provider ios in the store of file db
 * ("ISSUED_AT JWT"), or NULL; the caller frees. With set (a token, and so
 * without a quote), rewrites it first. */
static char *stored_token(const char *db, const char *set)
{
    if (set) {
        char sql[1400];
        snprintf(sql, sizeof sql, "UPDATE meta SET value = '%s' WHERE key = 'token:ios'", set);
        free(tu_sql_text(dir, S(db), sql));
        snprintf(sql, sizeof sql, "SELECT count(*) FROM meta WHERE value = '%s'", set);
        assert_int_equal(tu_sql1(dir, S(db), sql), 1);
    }
    char *out = tu_sql_text(dir, S(db), "SELECT value FROM meta WHERE key = 'token:ios'");
    out[strcspn(out, "\n")] = '\0';
    if (!*out) {
        free(out);
        return NULL;
    }
    return out;
}

/* herald -c tk.conf --db tk.db ARGS...; fails the test unless it exits 0. */
#define TK(...)                                                                                    \
    do {                                                                                           \
        struct tu_run r_;                                                                          \
        tu_herald(&r_, dir, NULL, "-c", "tk.conf", "--db", S("tk.db"), __VA_ARGS__, NULL);         \
        if (r_.status != 0)                                                                        \
            fail_msg("%s: %s %s", #__VA_ARGS__, r_.out, r_.err);                                   \
        tu_run_release(&r_);                                                                       \
    } while (0)

/* The provider tokens (Authorization) the APNs mock saw for device, in
 * order, one for each request, into out; returns how many. */
static size_t tokens_for(const char *device, char out[][1024], size_t max)
{
    char want[300];
    snprintf(want, sizeof want, "/3/device/%s", device);
    json_t *l = tu_read_jsonl(dir, "apns.log"), *e;
    size_t i, n = 0;
    json_array_foreach(l, i, e)
    {
        const char *p = json_string_value(json_object_get(e, "path"));
        const char *a =
            json_string_value(json_object_get(json_object_get(e, "headers"), "authorization"));
        if (p && a && strcmp(p, want) == 0 && n < max)
            snprintf(out[n++], 1024, "%s", a);
    }
    json_decref(l);
    return n;
}

/* Issue 15 item 9: three `herald send` processes in a row use one APNs
 * provider token (the first signs it and stores it; the others reuse it),
 * and a stored token older than the reuse age (40 minutes) is replaced
 * with a fresh one, which is stored; so is one not made with our key id. */
static void test_apns_token_shared(void **state)
{
    (void)state;
    template_conf();
    char *tp = path("tp.conf"), *text = tu_read(tp), *tk = path("tk.conf");
    struct hd_buf conf;
    hd_buf_init(&conf);
    hd_buf_addf(&conf, "%s[channel push]\nproviders = ios\n", text);
    tu_write(tk, conf.data);
    hd_buf_release(&conf);
    free(tp);
    free(text);
    free(tk);
    tu_put_template(dir, "tk",
                    "category: transactional\n--- push.title\nHi\n--- push.body\nNews\n");
    char *csv = path("tk.csv");
    tu_write(csv, "id,apns_token\ntk-1,cafe0009" HEX64 "\n");
    free(csv);
    TK("init");
    TK("contacts", "import", "tk.csv");
    TK("segment", "define", "all", "id != \"\"");
    static const char *const names[] = {"tk1", "tk2", "tk3", "tk4", "tk5"};
    for (int k = 0; k < 3; k++) {
        TK("campaign", "create", names[k], "--segment", "all", "--template", "tk", "--channels",
           "push", "--now");
        TK("send", names[k], "--wait", "30s");
    }
    static char seen[8][1024];
    size_t n = tokens_for("cafe0009" HEX64, seen, 8);
    if (n != 3) {
        struct tu_run r;
        tu_herald(&r, dir, NULL, "-c", "tk.conf", "--db", S("tk.db"), "log", "--format", "jsonl",
                  NULL);
        fail_msg("%zu APNs requests; the log: %s %s", n, r.out, r.err);
    }
    for (size_t i = 1; i < n; i++)
        if (strcmp(seen[i], seen[0]) != 0)
            fail_msg("send %zu signed its own APNs token instead of reusing the first", i + 1);
    /* stored as "ISSUED_AT JWT", the JWT the mock saw */
    char *row = stored_token("tk.db", NULL);
    assert_non_null(row);
    char *sp = strchr(row, ' ');
    assert_non_null(sp);
    assert_string_equal(sp + 1, seen[0] + strlen("bearer "));
    long long iat = strtoll(row, NULL, 10);
    assert_true(iat > 0);
    /* 41 minutes old: the next process signs a new one and stores it */
    char old[1200];
    snprintf(old, sizeof old, "%lld %s", iat - 41 * 60, sp + 1);
    free(stored_token("tk.db", old));
    TK("campaign", "create", names[3], "--segment", "all", "--template", "tk", "--channels", "push",
       "--now");
    TK("send", names[3], "--wait", "30s");
    n = tokens_for("cafe0009" HEX64, seen, 8);
    assert_int_equal(n, 4);
    if (strcmp(seen[3], seen[0]) == 0)
        fail_msg("a token stored as 41 minutes old was reused");
    char *row2 = stored_token("tk.db", NULL);
    assert_non_null(row2);
    assert_true(strtoll(row2, NULL, 10) >= iat);
    assert_string_equal(strchr(row2, ' ') + 1, seen[3] + strlen("bearer "));
    /* young, but not made with our key id and team (its header is not
     * ours): not reused, or every message would fail */
    char junk[1200];
    snprintf(junk, sizeof junk, "%lld x%s", strtoll(row2, NULL, 10), strchr(row2, ' ') + 1);
    free(stored_token("tk.db", junk));
    TK("campaign", "create", names[4], "--segment", "all", "--template", "tk", "--channels", "push",
       "--now");
    TK("send", names[4], "--wait", "30s");
    n = tokens_for("cafe0009" HEX64, seen, 8);
    assert_int_equal(n, 5);
    if (strcmp(seen[4] + strlen("bearer "), strchr(junk, ' ') + 1) == 0)
        fail_msg("a stored token of another key id was reused");
    free(row2);
    free(row);
}

/* A gateway's long reply in Chinese cut to the result's buffer: cut at a
 * character, never inside one (PostgreSQL refused the batch's log rows). */
static void test_result_text_cut(void **state)
{
    (void)state;
    char reply[700];
    for (int i = 0; i < 200; i++) /* 3 bytes each: 600 */
        memcpy(reply + 3 * i, "流", 3);
    reply[600] = '\0';
    struct hd_result r = {0};
    hd_result_set(&r, HD_OUT_TEMPORARY, 500, "%s", reply);
    assert_true(hd_valid_utf8(r.text, strlen(r.text)));
    assert_int_equal(strlen(r.text), 510); /* 170 characters of the 511 bytes' room */
    assert_int_equal(strncmp(r.text, reply, 510), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_twilio_classes),    cmocka_unit_test(test_http_gateway),
        cmocka_unit_test(test_fcm_classes),       cmocka_unit_test(test_apns_classes),
        cmocka_unit_test(test_tls_refused),       cmocka_unit_test(test_provider_test_no_secrets),
        cmocka_unit_test(test_provider_feedback), cmocka_unit_test(test_driver_pause),
        cmocka_unit_test(test_push_parts_sent),   cmocka_unit_test(test_push_data_only),
        cmocka_unit_test(test_push_fcm_reserved), cmocka_unit_test(test_sms_twilio_limit),
        cmocka_unit_test(test_sms_empty),         cmocka_unit_test(test_apns_token_shared),
        cmocka_unit_test(test_result_text_cut),   cmocka_unit_test(test_http_header_lines_kept),
    };
    /* the cases with a store again, on PostgreSQL (the others send through
     * the drivers, or through `provider test` to an address it does not
     * write back) */
    const struct CMUnitTest tests_pg[] = {
        {"test_provider_feedback_pg", test_provider_feedback, NULL, NULL, NULL},
        {"test_sms_twilio_limit_pg", test_sms_twilio_limit, NULL, NULL, NULL},
        {"test_sms_empty_pg", test_sms_empty, NULL, NULL, NULL},
        {"test_apns_token_shared_pg", test_apns_token_shared, NULL, NULL, NULL},
    };
    int rc = cmocka_run_group_tests_name("http drivers", tests, setup, teardown);
    return rc |
           cmocka_run_group_tests_name("http drivers, PostgreSQL", tests_pg, setup_pg, teardown);
}
