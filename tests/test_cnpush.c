/* test_cnpush: push gateways for mainland China (issue 24): JPush's Push
 * API v3 (jpush) and Huawei Push Kit (hms_push), with the contact fields
 * jpush_id and hms_token. The mocks in tests/mock (jpush.js, hms.js) check
 * the Basic auth and the bearer token independently and inject every
 * result class each driver maps; the import, the contact views, a segment
 * rule, a campaign whose push order puts Huawei first with fallback to
 * JPush and SMS, the token shared between processes and -v without a
 * secret go through the real binary. The cases with a store run on SQLite
 * files, then on PostgreSQL databases (testboth.h). */
#include "testboth.h"
#include "testnet.h"

#include <jansson.h>
#include <sys/stat.h>

#include "herald/config.h"
#include "herald/driver.h"
#include "herald/log.h"

#define JP_KEY "4f7aeb5d1b2c3a4e5f6a7b8c"
#define JP_SECRET "jp-Master-Secret-31337"
#define HMS_APP "104758231"
#define HMS_SECRET "hms-Client-Secret-27182"
#define HT "IQAAAACy0kYdAACQ9Zx3pBq7" /* the start of every Huawei token here */

static char *dir;
static struct tu_server jp, hw;
static struct tu_both stores; /* each case's store: a file, or a PostgreSQL database */

static char *path(const char *name)
{
    return tu_path(dir, name);
}

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    setenv("TEST_JP_SECRET", JP_SECRET, 1);
    setenv("TEST_HMS_SECRET", HMS_SECRET, 1);
    const char *ja[] = {"--key", JP_KEY, "--secret", JP_SECRET, "--log", "jpush.log", NULL};
    tu_start_mock(&jp, dir, "jpush.js", ja);
    const char *ha[] = {"--app",    HMS_APP, "--client", HMS_APP, "--secret",
                        HMS_SECRET, "--log", "hms.log",  NULL};
    tu_start_mock(&hw, dir, "hms.js", ha);
    char *td = path("tpl"); /* write_conf makes it too; a case may put a template first */
    mkdir(td, 0755);
    free(td);
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
    tu_server_stop(&jp);
    tu_server_stop(&hw);
    tu_rmdir(dir);
    tu_both_release(&stores);
    return 0;
}

/* ---- the drivers, result class by result class --------------------------------------- */

static struct hd_config *jp_config(const char *secret_env)
{
    return tu_config("[provider p]\ntype = jpush\nbase_url = http://127.0.0.1:%d\n"
                     "app_key = %s\nmaster_secret_env = %s\napns_production = no\n"
                     "timeout = 2s\n",
                     jp.port, JP_KEY, secret_env);
}

static struct hd_config *hms_config(const char *secret_env)
{
    return tu_config("[provider p]\ntype = hms_push\nbase_url = http://127.0.0.1:%d\n"
                     "auth_url = http://127.0.0.1:%d\napp_id = %s\nclient_secret_env = %s\n"
                     "click_action = app://sale\ntimeout = 2s\n",
                     hw.port, hw.port, HMS_APP, secret_env);
}

/* Sends one push to each token through provider "p"; results (and message
 * ids) in the order of the tokens. The message expires an hour from now. */
static void send_all(struct hd_config *cfg, const char *const *to, size_t n, struct tu_results *rs)
{
    const struct hd_msg m = {.channel = HD_CH_PUSH,
                             .category = HD_CAT_MARKETING,
                             .title = "双十一",
                             .body = "全场五折",
                             .data = "{\"deep_link\":\"app://sale\"}",
                             .created = time(NULL),
                             .expires = time(NULL) + 3600};
    tu_send_each(cfg, &m, to, n, rs);
}

/* One push to the token: the provider is at fault (it pauses for a
 * minute), for the reason said in text. */
static void expect_fault(struct hd_config *cfg, const char *token, const char *text)
{
    struct tu_results rs;
    send_all(cfg, &token, 1, &rs);
    tu_expect(&rs.r[0], HD_OUT_THROTTLED, false, text);
    assert_true(rs.r[0].provider_fault);
    assert_int_equal(rs.r[0].retry_after_ms, HD_PROVIDER_FAULT_PAUSE_MS);
    assert_contains(rs.r[0].text, text);
}

/* The last logged request whose JSON at the path (keys, then an array's
 * first element when the last key names one) is value, or NULL. */
static json_t *find_request(json_t *log, const char *a, const char *b, const char *value)
{
    size_t i;
    json_t *e, *found = NULL;
    json_array_foreach(log, i, e)
    {
        json_t *v = json_object_get(json_object_get(json_object_get(e, "json"), a), b);
        if (json_is_array(v))
            v = json_array_get(v, 0);
        if (json_string_value(v) && strcmp(json_string_value(v), value) == 0)
            found = e;
    }
    return found;
}

static const char *const jp_to[] = {
    "1a0018970af2f2b5b5e", "1a0018970af2f2b1011", "1a0018970af2f2b1002",
    "1a0018970af2f2b1003", "1a0018970af2f2b1000", "1a0018970af2f2b0503",
    "1a0018970af2f2b0999", "1a0018970af2f2b0000", "1a0018970af2f2b1013"};

static void test_cnpush_jpush_classes(void **state)
{
    (void)state;
    struct hd_config *cfg = jp_config("TEST_JP_SECRET");
    struct tu_results rs;
    send_all(cfg, jp_to, 9, &rs);
    tu_expect(&rs.r[0], HD_OUT_ACCEPTED, false, "ok");
    assert_int_equal(rs.r[0].code, 200);
    assert_true(strncmp(rs.r[0].gateway_id, "181", 3) == 0);
    tu_expect(&rs.r[1], HD_OUT_PERMANENT, true, "1011");
    assert_contains(rs.r[1].text, "1011 cannot find user by this audience");
    tu_expect(&rs.r[2], HD_OUT_PERMANENT, false, "1002");
    tu_expect(&rs.r[3], HD_OUT_PERMANENT, false, "1003");
    assert_contains(rs.r[3].text, "1003 Parameter value is invalid");
    tu_expect(&rs.r[4], HD_OUT_TEMPORARY, false, "1000");
    tu_expect(&rs.r[5], HD_OUT_TEMPORARY, false, "503");
    tu_expect(&rs.r[6], HD_OUT_TEMPORARY, false, "slow");
    tu_expect(&rs.r[7], HD_OUT_TEMPORARY, false, "dropped");
    tu_expect(&rs.r[8], HD_OUT_PERMANENT, true, "1003 invalid registration_id");
    for (size_t i = 0; i < 9; i++) /* refused Basic auth would be provider_fault */
        assert_false(rs.r[i].provider_fault);
    /* what JPush got: the registration id, the notification, the options */
    json_t *l = tu_read_jsonl(dir, "jpush.log"),
           *req = find_request(l, "audience", "registration_id", jp_to[0]);
    assert_non_null(req);
    json_t *j = json_object_get(req, "json"), *nt = json_object_get(j, "notification");
    json_t *an = json_object_get(nt, "android"), *ios = json_object_get(nt, "ios");
    assert_string_equal(json_string_value(json_object_get(an, "alert")), "全场五折");
    assert_string_equal(json_string_value(json_object_get(an, "title")), "双十一");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(an, "extras"), "deep_link")),
        "app://sale");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ios, "alert"), "body")),
                        "全场五折");
    json_t *op = json_object_get(j, "options");
    assert_true(json_is_false(json_object_get(op, "apns_production")));
    json_int_t ttl = json_integer_value(json_object_get(op, "time_to_live"));
    assert_true(ttl > 3500 && ttl <= 3600);
    json_decref(l);
    hd_config_free(cfg);
}

/* 2002, 2003 and 429: throttled for as long as X-Rate-Limit-Reset says;
 * a wrong master secret: the provider is at fault. One driver each: a
 * throttled answer closes the gate. */
static void test_cnpush_jpush_limits(void **state)
{
    (void)state;
    struct hd_config *cfg = jp_config("TEST_JP_SECRET");
    struct tu_results rs;
    static const char *const t2002[] = {"1a0018970af2f2b2002"}, *const t2003[] = {
                                                                    "1a0018970af2f2b2003"};
    static const char *const t429[] = {"1a0018970af2f2b0429"};
    send_all(cfg, t2002, 1, &rs);
    tu_expect(&rs.r[0], HD_OUT_THROTTLED, false, "2002");
    assert_int_equal(rs.r[0].retry_after_ms, 7000);
    send_all(cfg, t2003, 1, &rs);
    tu_expect(&rs.r[0], HD_OUT_THROTTLED, false, "2003");
    assert_false(rs.r[0].provider_fault);
    send_all(cfg, t429, 1, &rs);
    tu_expect(&rs.r[0], HD_OUT_THROTTLED, false, "429");
    assert_int_equal(rs.r[0].retry_after_ms, 3000);
    hd_config_free(cfg);
    /* an accepted answer that spends the quota: the next waits for the reset */
    cfg = jp_config("TEST_JP_SECRET");
    static const char *const quota[] = {"1a0018970af2f2bquot", "1a0018970af2f2b5b5e"};
    struct hd_driver *d;
    struct hd_err e = {0};
    assert_int_equal(hd_driver_open(hd_config_provider(cfg, "p"), NULL, &d, &e), 0);
    struct hd_msg m = {.channel = HD_CH_PUSH, .to = quota[0], .body = "b"};
    hd_uuid(m.id);
    assert_int_equal(hd_driver_submit(d, &m, &e), 0);
    struct tu_results got = {0};
    for (int i = 0; i < 50 && got.n < 1; i++)
        hd_driver_poll(d, 100, tu_collect, &got);
    assert_int_equal(got.n, 1);
    tu_expect(&got.r[0], HD_OUT_ACCEPTED, false, "quota spent");
    m.to = quota[1];
    hd_uuid(m.id);
    int64_t t0 = hd_clock_mono_ms();
    assert_int_equal(hd_driver_submit(d, &m, &e), 0);
    for (int i = 0; i < 50 && got.n < 2; i++)
        hd_driver_poll(d, 100, tu_collect, &got);
    assert_int_equal(got.n, 2);
    tu_expect(&got.r[1], HD_OUT_ACCEPTED, false, "after the reset");
    assert_true(hd_clock_mono_ms() - t0 >= 1500); /* held until X-Rate-Limit-Reset: 2 */
    hd_driver_free(d);
    hd_config_free(cfg);
    setenv("TEST_JP_BAD", "not-the-secret", 1);
    cfg = jp_config("TEST_JP_BAD");
    expect_fault(cfg, jp_to[0], "1004 Authen failed: check app_key and master_secret");
    hd_config_free(cfg);
    cfg = jp_config("TEST_JP_SECRET");
    expect_fault(cfg, "1a0018970af2f2b1008", "1008 app_key is invalid");
    hd_config_free(cfg);
}

static const char *const hw_to[] = {HT "ok01",     HT "bad0007", HT "big0008", HT "cnt0010",
                                    HT "exp0203",  HT "sys1001", HT "un0503",  HT "slow0999",
                                    HT "drop0000", HT "ill0100", HT "form0103"};

/* Token requests the Huawei mock answered so far. */
static size_t hms_tokens(void)
{
    return tu_count_logged(dir, "hms.log", "path", "/oauth2/v3/token");
}

static void test_cnpush_hms_classes(void **state)
{
    (void)state;
    struct hd_config *cfg = hms_config("TEST_HMS_SECRET");
    struct tu_results rs;
    size_t before = hms_tokens();
    send_all(cfg, hw_to, 11, &rs);
    tu_expect(&rs.r[0], HD_OUT_ACCEPTED, false, "80000000");
    assert_string_not_equal(rs.r[0].gateway_id, "");
    tu_expect(&rs.r[1], HD_OUT_PERMANENT, true, "80300007");
    assert_contains(rs.r[1].text, "80300007 All the tokens are invalid");
    tu_expect(&rs.r[2], HD_OUT_PERMANENT, false, "80300008");
    tu_expect(&rs.r[3], HD_OUT_PERMANENT, false, "80300010");
    /* the token expired: a new one, and the message goes once more */
    tu_expect(&rs.r[4], HD_OUT_ACCEPTED, false, "80200003, then accepted");
    assert_int_equal(rs.r[4].refreshed, 1);
    tu_expect(&rs.r[5], HD_OUT_TEMPORARY, false, "81000001");
    tu_expect(&rs.r[6], HD_OUT_TEMPORARY, false, "503");
    tu_expect(&rs.r[7], HD_OUT_TEMPORARY, false, "slow");
    tu_expect(&rs.r[8], HD_OUT_TEMPORARY, false, "dropped");
    tu_expect(&rs.r[9], HD_OUT_PERMANENT, true, "80100000 illegal_tokens");
    tu_expect(&rs.r[10], HD_OUT_PERMANENT, false, "80100003");
    assert_contains(rs.r[10].text, "80100003 Incorrect message structure");
    for (size_t i = 0; i < 11; i++)
        assert_false(rs.r[i].provider_fault);
    assert_int_equal(hms_tokens() - before, 2); /* one, and one after it expired */
    json_t *l = tu_read_jsonl(dir, "hms.log"), *req = find_request(l, "message", "token", hw_to[0]);
    assert_non_null(req);
    json_t *m = json_object_get(json_object_get(req, "json"), "message");
    json_t *an = json_object_get(m, "android"), *nt = json_object_get(an, "notification");
    assert_true(json_is_true(json_object_get(req, "bearer_ok")));
    assert_string_equal(json_string_value(json_object_get(nt, "title")), "双十一");
    assert_string_equal(json_string_value(json_object_get(nt, "body")), "全场五折");
    json_t *ca = json_object_get(nt, "click_action");
    assert_int_equal(json_integer_value(json_object_get(ca, "type")), 1);
    assert_string_equal(json_string_value(json_object_get(ca, "intent")), "app://sale");
    assert_string_equal(json_string_value(json_object_get(m, "data")),
                        "{\"deep_link\":\"app://sale\"}");
    assert_true(strncmp(json_string_value(json_object_get(an, "ttl")), "3", 1) == 0);
    json_decref(l);
    /* 80200001 after a new token too: the provider is at fault */
    expect_fault(cfg, HT "auth0201", "80200001 Oauth authentication error");
    expect_fault(cfg, HT "perm0002", "80300002 The current app does not have the permission");
    static const char *const busy[] = {HT "busy0429"};
    send_all(cfg, busy, 1, &rs);
    tu_expect(&rs.r[0], HD_OUT_THROTTLED, false, "429");
    assert_false(rs.r[0].provider_fault);
    hd_config_free(cfg);
    /* a wrong client secret: the token endpoint refuses, the provider pauses */
    setenv("TEST_HMS_BAD", "not-the-secret", 1);
    cfg = hms_config("TEST_HMS_BAD");
    expect_fault(cfg, hw_to[0], "invalid client: check client_id and client_secret");
    hd_config_free(cfg);
}

/* ---- through the binary ------------------------------------------------------------- */

/* The configuration: hw and jp on the mocks, SMS to an outbox; [channel
 * push] in the order given. */
static void write_conf(const char *name, const char *db, const char *push)
{
    char *conf = path(name), *td = path("tpl");
    struct hd_buf t;
    hd_buf_init(&t);
    hd_buf_addf(&t,
                "[herald]\ntemplates = %s\ndatabase = %s\n"
                "[serve]\npublic_url = https://herald.example.com\n"
                "[provider hw]\ntype = hms_push\nbase_url = http://127.0.0.1:%d\n"
                "auth_url = http://127.0.0.1:%d\napp_id = %s\nclient_secret_env = TEST_HMS_SECRET\n"
                "[provider jp]\ntype = jpush\nbase_url = http://127.0.0.1:%d\napp_key = %s\n"
                "master_secret_env = TEST_JP_SECRET\n"
                "[provider box]\ntype = outbox\npath = box\n"
                "[channel push]\nproviders = %s\n[channel sms]\nproviders = box\n",
                td, tu_both_store(&stores, db), hw.port, hw.port, HMS_APP, jp.port, JP_KEY, push);
    tu_write(conf, t.data);
    mkdir(td, 0755);
    hd_buf_release(&t);
    free(conf);
    free(td);
}

static const char push_tpl[] = "category: marketing\n"
                               "--- push.title\n双十一\n--- push.body\n{{first_name}}，全场五折\n"
                               "--- push.data\n{\"deep_link\": \"app://sale\"}\n"
                               "--- push.click_action\nintent://sale/{{first_name}}#Intent;end\n"
                               "--- sms\n{{first_name}}，全场五折 回T退订\n";

/* herald init, then contacts import FILE, which must succeed. */
static void import(const char *conf, const char *file)
{
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-c", conf, "init", NULL);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", conf, "contacts", "import", file, NULL);
    if (r.status != 0)
        fail_msg("import %s: %s", file, r.err);
    tu_run_release(&r);
}

/* The import takes both fields, validated; show, list and every export
 * give them; reachable(push) counts a contact with one of them only. */
static void test_cnpush_contacts(void **state)
{
    (void)state;
    write_conf("k.conf", "k.db", "hw, jp");
    char *csv = path("k.csv");
    tu_write(csv, "id,jpush_id,hms_token\n"
                  "k1,1a0018970af2f2b5b5e,\n"
                  "k2,," HT "+/=k2\n");
    import("k.conf", "k.csv");
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-c", "k.conf", "contacts", "show", "k1", NULL);
    assert_contains(r.out, "jpush_id      1a0018970af2f2b5b5e\n");
    assert_contains(r.out, "hms_token     -\n");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "k.conf", "contacts", "list", "--format", "csv", NULL);
    assert_contains(r.out, ",apns_token,jpush_id,hms_token,wechat_openid,created_at,");
    assert_contains(r.out, "k2,,,,,,,," HT "+/=k2,");
    tu_run_release(&r);
    const char *fmts[] = {"json", "jsonl"};
    for (size_t i = 0; i < 2; i++) {
        tu_herald(&r, dir, NULL, "-c", "k.conf", "contacts", "list", "--format", fmts[i], NULL);
        assert_contains(r.out, "\"jpush_id\":\"1a0018970af2f2b5b5e\"");
        assert_contains(r.out, "\"hms_token\":\"" HT "+/=k2\"");
        tu_run_release(&r);
    }
    tu_herald(&r, dir, NULL, "-c", "k.conf", "contacts", "show", "k2", "--format", "json", NULL);
    assert_contains(r.out, "\"hms_token\": \"" HT "+/=k2\"");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "k.conf", "segment", "count", "--expr", "reachable(push)", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "2\n");
    tu_run_release(&r);
    /* bad values: the row is refused with the reason, nothing written */
    tu_write(csv, "id,jpush_id,hms_token\nk3,1a00-1897,\nk4,,a token\n");
    tu_herald(&r, dir, NULL, "-c", "k.conf", "contacts", "import", "k.csv", NULL);
    assert_int_not_equal(r.status, 0);
    assert_contains(r.err, "field 'jpush_id': '1a00-1897' is not a JPush registration id "
                           "(letters, digits only)");
    assert_contains(r.err, "field 'hms_token': 'a token' is not a Huawei push token");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "k.conf", "contacts", "show", "k3", NULL);
    assert_int_not_equal(r.status, 0);
    tu_run_release(&r);
    free(csv);
}

/* Every log line of the contact, oldest first (the log lists the newest
 * first), as "provider outcome" pairs joined by "; ". */
static void trail(const char *log, const char *contact, char *out, size_t n)
{
    out[0] = '\0';
    for (const char *line = log; line && *line;) {
        const char *nl = strchr(line, '\n');
        json_t *j = json_loadb(line, nl ? (size_t)(nl - line) : strlen(line), 0, NULL);
        const char *c = json_string_value(json_object_get(j, "contact")),
                   *p = json_string_value(json_object_get(j, "provider")),
                   *o = json_string_value(json_object_get(j, "outcome"));
        if (c && strcmp(c, contact) == 0 && o) {
            char *was = hd_xstrdup(out);
            snprintf(out, n, "%s %s%s%s", p ? p : "-", o, *was ? "; " : "", was);
            free(was);
        }
        json_decref(j);
        line = nl ? nl + 1 : NULL;
    }
}

static void expect_trail(const char *log, const char *contact, const char *want)
{
    char got[512];
    trail(log, contact, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got '%s', want '%s'\n%s", contact, got, want, log);
}

/* Runs the steps of a campaign NAME of template push to the contacts in
 * CSV rows through `herald send`; returns its log (JSON lines). */
static char *campaign(const char *conf, const char *name, const char *rows)
{
    char csv[64];
    snprintf(csv, sizeof csv, "%s.csv", name);
    char *cp = path(csv);
    tu_write(cp, rows);
    free(cp);
    tu_put_template(dir, "push", push_tpl);
    import(conf, csv);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-c", conf, "segment", "define", name, "id != \"\"", NULL);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", conf, "campaign", "create", name, "--segment", name,
              "--template", "push", "--channels", "push,sms", "--fallback-on-failure", "--now",
              NULL);
    if (r.status != 0)
        fail_msg("campaign create: %s", r.err);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", conf, "send", name, "--wait", "30s", NULL);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", conf, "log", "--campaign", name, "--format", "jsonl", NULL);
    char *out = hd_xstrdup(r.out);
    tu_run_release(&r);
    return out;
}

/* [channel push] providers = hw, jp: a contact with an hms_token goes
 * through Huawei first; a token Huawei does not know falls back to the
 * contact's JPush id, then to SMS; and the suppressed tokens stay so. */
static void test_cnpush_campaign(void **state)
{
    (void)state;
    write_conf("c.conf", "c.db", "hw, jp");
    size_t before = hms_tokens();
    char *log = campaign("c.conf", "c11",
                         "id,first_name,phone,jpush_id,hms_token\n"
                         "c1,张三,+8613800000101,1a0018970af2f2b0101," HT "c1\n"
                         "c2,李四,+8613800000102,1a0018970af2f2b0102,\n"
                         "c3,王五,+8613800000103,1a0018970af2f2b0103," HT "c30007\n"
                         "c4,赵六,+8613800000104,," HT "c40007\n"
                         "c5,钱七,+8613800000105,1a0018970af2f2b1011,\n"
                         "c7,郑十一,+8613800000107,," HT "c70100\n");
    expect_trail(log, "c1", "hw accepted");
    expect_trail(log, "c2", "jp accepted");
    expect_trail(log, "c3", "hw permanent; jp accepted");
    expect_trail(log, "c4", "hw permanent; box accepted");
    expect_trail(log, "c5", "jp permanent; box accepted");
    expect_trail(log, "c7", "hw permanent; box accepted");
    assert_contains(log, HT "c70100"); /* Huawei's words name the token */
    assert_contains(log, "falling back from this push provider to the contact's next token");
    free(log);
    /* the template's push.click_action, rendered for the contact */
    json_t *l = tu_read_jsonl(dir, "hms.log"), *req = find_request(l, "message", "token", HT "c1");
    json_t *ca = json_object_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(req, "json"), "message"), "android"),
            "notification"),
        "click_action");
    assert_int_equal(json_integer_value(json_object_get(ca, "type")), 1);
    assert_string_equal(json_string_value(json_object_get(ca, "intent")),
                        "intent://sale/张三#Intent;end");
    json_decref(l);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-c", "c.conf", "suppress", "list", "--format", "csv", NULL);
    assert_contains(r.out, HT "c30007");
    assert_contains(r.out, HT "c40007");
    assert_contains(r.out, "1a0018970af2f2b1011");
    tu_run_release(&r);
    /* a deleted contact's tokens are scrubbed from the gateways' words */
    tu_herald(&r, dir, NULL, "-c", "c.conf", "contacts", "delete", "c7", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "c.conf", "log", "--campaign", "c11", "--format", "jsonl", NULL);
    assert_not_contains(r.out, HT "c70100");
    assert_contains(r.out, "[erased]");
    tu_run_release(&r);
    /* the order says JPush first: c1 goes through JPush now */
    write_conf("c.conf", "c.db", "jp, hw");
    log = campaign("c.conf", "c12",
                   "id,first_name,jpush_id,hms_token\n"
                   "c1,张三,1a0018970af2f2b0101," HT "c1\n");
    expect_trail(log, "c1", "jp accepted");
    free(log);
    /* a second process reused the Huawei token the first one stored */
    write_conf("c.conf", "c.db", "hw, jp");
    log = campaign("c.conf", "c13", "id,first_name,hms_token\nc6,孙八," HT "c6\n");
    expect_trail(log, "c6", "hw accepted");
    free(log);
    assert_int_equal(hms_tokens() - before, 1);
}

/* A dry run through the outbox takes any token, and says whose it is;
 * the contacts come from JSON Lines. */
static void test_cnpush_outbox(void **state)
{
    (void)state;
    write_conf("o.conf", "o.db", "box");
    char *p = path("o.jsonl");
    tu_write(p,
             "{\"id\": \"o1\", \"first_name\": \"周九\", \"jpush_id\": \"1a0018970af2f2b0201\"}\n"
             "{\"id\": \"o2\", \"first_name\": \"吴十\", \"hms_token\": \"" HT "o2\"}\n");
    free(p);
    import("o.conf", "o.jsonl");
    char *log = campaign("o.conf", "o1", "id\n");
    expect_trail(log, "o1", "box accepted");
    expect_trail(log, "o2", "box accepted");
    free(log);
    json_t *l = tu_read_jsonl(dir, "box/push.jsonl");
    size_t i, seen = 0;
    json_t *e;
    json_array_foreach(l, i, e)
    {
        const char *to = json_string_value(json_object_get(e, "to")),
                   *pf = json_string_value(json_object_get(e, "platform"));
        if (to && strcmp(to, "1a0018970af2f2b0201") == 0)
            seen += strcmp(pf, "jpush") == 0;
        if (to && strcmp(to, HT "o2") == 0)
            seen += strcmp(pf, "hms") == 0 && !json_object_get(e, "fcm");
    }
    assert_int_equal(seen, 2);
    json_decref(l);
}

/* -v shows the requests' progress, never a secret, the Basic auth nor a
 * bearer token. */
static void test_cnpush_verbose_no_secrets(void **state)
{
    (void)state;
    write_conf("v.conf", "v.db", "hw, jp");
    const char *runs[][2] = {{"jp", "1a0018970af2f2b5b5e"}, {"hw", HT "v1"}};
    for (size_t i = 0; i < 2; i++) {
        struct tu_run r;
        tu_herald(&r, dir, NULL, "-v", "-c", "v.conf", "provider", "test", runs[i][0], "--to",
                  runs[i][1], NULL);
        if (r.status != 0)
            fail_msg("provider test %s: %s %s", runs[i][0], r.out, r.err);
        assert_contains(r.out, "result      accepted");
        assert_contains(r.err, "debug: http: new connection to ");
        const char *secrets[] = {JP_SECRET, HMS_SECRET, "Basic ", "Bearer ", "CgB6e3x9"};
        for (size_t k = 0; k < sizeof secrets / sizeof *secrets; k++) {
            assert_not_contains(r.out, secrets[k]);
            assert_not_contains(r.err, secrets[k]);
        }
        tu_run_release(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnpush_jpush_classes),
        cmocka_unit_test(test_cnpush_jpush_limits),
        cmocka_unit_test(test_cnpush_hms_classes),
        cmocka_unit_test(test_cnpush_contacts),
        cmocka_unit_test(test_cnpush_campaign),
        cmocka_unit_test(test_cnpush_outbox),
        cmocka_unit_test(test_cnpush_verbose_no_secrets),
    };
    /* the cases with a store again, on PostgreSQL */
    const struct CMUnitTest tests_pg[] = {
        {"test_cnpush_contacts_pg", test_cnpush_contacts, NULL, NULL, NULL},
        {"test_cnpush_campaign_pg", test_cnpush_campaign, NULL, NULL, NULL},
        {"test_cnpush_outbox_pg", test_cnpush_outbox, NULL, NULL, NULL},
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    return rc | cmocka_run_group_tests(tests_pg, setup_pg, teardown);
}
