/* test_cnsms: SMS gateways for mainland China (issue 24): Aliyun's
 * Dysmsapi (aliyun_sms) and Tencent Cloud's SMS API 3.0 (tencent_sms),
 * which send only templates approved at the gateway. Our signers are held
 * byte for byte to the worked examples in each cloud's documentation; the
 * mocks in tests/mock (aliyun.js, tencent.js) verify every request's
 * signature with node:crypto, independently; every result class each
 * driver maps is sent through the real driver; lint, preview and a
 * campaign through `herald send` go through the real binary; and no
 * secret reaches the output of `herald -v`. The cases with a store run on
 * SQLite files, then on PostgreSQL databases (testboth.h). */
#include "testboth.h"
#include "testnet.h"

#include <jansson.h>
#include <sys/stat.h>

#include "herald/config.h"
#include "herald/driver.h"
#include "herald/log.h"
#include "herald/sign.h"

#define ALI_ID "LTAI5tHeraldTestKey01"
#define ALI_SECRET "ali-Secret-Key-90125"
#define TC_ID "AKIDheraldTestSecretId0001"
#define TC_SECRET "tc-Secret-Key-44617"
#define TC_APP "1400787878"

static char *dir;
static struct tu_server ali, tc;
static struct tu_both stores; /* each case's store: a file, or a PostgreSQL database */

static char *path(const char *name)
{
    return tu_path(dir, name);
}

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    setenv("TEST_ALI_SECRET", ALI_SECRET, 1);
    setenv("TEST_TC_SECRET", TC_SECRET, 1);
    const char *aa[] = {"--id", ALI_ID, "--secret", ALI_SECRET, "--log", "aliyun.log", NULL};
    tu_start_mock(&ali, dir, "aliyun.js", aa);
    const char *ta[] = {"--id", TC_ID,   "--secret",    TC_SECRET, "--app",
                        TC_APP, "--log", "tencent.log", NULL};
    tu_start_mock(&tc, dir, "tencent.js", ta);
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
    tu_server_stop(&ali);
    tu_server_stop(&tc);
    tu_rmdir(dir);
    tu_both_release(&stores);
    return 0;
}

/* ---- the signers against the documentation's worked examples --------------------- */

/* Aliyun, "V3版本请求体&签名机制" (help.aliyun.com/zh/sdk/product-overview/
 * v3-request-structure-and-signature, also alibabacloud.com/help/en/sdk/
 * product-overview/v3-request-structure-and-signature), its fixed-value
 * example: RunInstances 2014-05-26 on ecs.cn-shanghai.aliyuncs.com, the
 * documentation's own placeholder key YourAccessKeyId/YourAccessKeySecret,
 * an empty body. Tencent, "签名方法 v3" (cloud.tencent.com/document/api/
 * 213/30654, intl.cloud.tencent.com/document/api/1021/34193): CVM
 * DescribeInstances at 1551113065 with the documentation's (masked) keys. */
static void test_cnsms_sign_examples(void **state)
{
    (void)state;
    struct hd_buf a;
    hd_buf_init(&a);
    static const char empty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const struct hd_sign_hdr h[] = {{"host", "ecs.cn-shanghai.aliyuncs.com"},
                                    {"x-acs-action", "RunInstances"},
                                    {"x-acs-content-sha256", empty},
                                    {"x-acs-date", "2023-10-26T10:22:32Z"},
                                    {"x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"},
                                    {"x-acs-version", "2014-05-26"}};
    hd_sign_acs3(&a, "YourAccessKeyId", "YourAccessKeySecret", "POST", "/",
                 "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai",
                 h, 6, empty);
    hd_buf_addc(&a, '\0');
    assert_string_equal(a.data,
                        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;"
                        "x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;"
                        "x-acs-version,Signature="
                        "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0");
    hd_buf_reset(&a);
    static const char payload[] = "{\"Limit\": 1, \"Filters\": [{\"Values\": "
                                  "[\"\\u672a\\u547d\\u540d\"], \"Name\": \"instance-name\"}]}";
    hd_sign_tc3(&a, "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", "Gu5t9xGARNpq86cd98joQYCN3*******",
                "cvm", "cvm.tencentcloudapi.com", "application/json; charset=utf-8", 1551113065,
                payload, sizeof payload - 1);
    hd_buf_addc(&a, '\0');
    assert_string_equal(
        a.data, "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/"
                "2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, "
                "Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c");
    /* the query encoding both sign: RFC 3986, '~' kept, space %20, UTF-8 bytes */
    hd_buf_reset(&a);
    hd_sign_pct(&a, "a b*~+/{\"x\":\"\xe6\x9c\xaa\"}");
    hd_buf_addc(&a, '\0');
    assert_string_equal(a.data, "a%20b%2A~%2B%2F%7B%22x%22%3A%22%E6%9C%AA%22%7D");
    hd_buf_release(&a);
}

/* ---- the drivers, result class by result class --------------------------------------- */

static struct hd_config *ali_config(const char *secret_env)
{
    return tu_config("[provider p]\ntype = aliyun_sms\nbase_url = http://127.0.0.1:%d\n"
                     "access_key_id = %s\naccess_key_secret_env = %s\nsign_name = 赫拉德\n"
                     "timeout = 2s\n",
                     ali.port, ALI_ID, secret_env);
}

static struct hd_config *tc_config(const char *secret_env)
{
    return tu_config("[provider p]\ntype = tencent_sms\nbase_url = http://127.0.0.1:%d\n"
                     "secret_id = %s\nsecret_key_env = %s\nsdk_app_id = %s\nsign_name = 赫拉德\n"
                     "region = ap-beijing\ntimeout = 2s\n",
                     tc.port, TC_ID, secret_env, TC_APP);
}

/* Sends one SMS of template code and params to each address through
 * provider "p"; results (and message ids) in the order of the addresses. */
static void send_all(struct hd_config *cfg, const char *const *to, size_t n, const char *code,
                     const char *params, struct tu_results *rs)
{
    const struct hd_msg m = {.channel = HD_CH_SMS,
                             .category = HD_CAT_TRANSACTIONAL,
                             .body = "【赫拉德】您的验证码是1234",
                             .sms_template = code,
                             .sms_params = params,
                             .created = 1795334400};
    tu_send_each(cfg, &m, to, n, rs);
}

/* The last logged request whose member at (obj, key) is value, or NULL. */
static json_t *find_request(json_t *log, const char *obj, const char *key, const char *value)
{
    size_t i;
    json_t *e, *found = NULL;
    json_array_foreach(log, i, e)
    {
        const char *v = json_string_value(json_object_get(json_object_get(e, obj), key));
        if (v && strcmp(v, value) == 0)
            found = e;
    }
    return found;
}

/* The number ...NNNN of a class in the mocks' fault tables; the account's
 * fault (...1005) goes alone, last: it pauses the provider for a minute. */
static const char *const class_to[] = {
    "+8613800000001", "+8613800001001", "+8613800001002", "+8613800001003", "+8613800001004",
    "+8613800001006", "+8613800000500", "+8613800000503", "+8613800000999", "+8613800000000"};
static const char *const fault_to[] = {"+8613800001005"};

static void test_cnsms_aliyun_classes(void **state)
{
    (void)state;
    struct hd_config *cfg = ali_config("TEST_ALI_SECRET");
    struct tu_results rs;
    static const char params[] = "{\"name\":\"张三\",\"code\":\"1234\"}";
    send_all(cfg, class_to, 10, "SMS_154950909", params, &rs);
    tu_expect(&rs.r[0], HD_OUT_ACCEPTED, false, "OK");
    assert_int_equal(rs.r[0].code, 200);
    assert_true(strstr(rs.r[0].gateway_id, "^0") != NULL);
    assert_string_not_equal(rs.r[0].digest, "");
    /* the number's daily limit: it waits a day, the provider goes on */
    tu_expect(&rs.r[1], HD_OUT_TEMPORARY, false, "isv.BUSINESS_LIMIT_CONTROL");
    assert_contains(rs.r[1].text, "isv.BUSINESS_LIMIT_CONTROL");
    assert_int_equal(rs.r[1].retry_after_ms, 86400000);
    tu_expect(&rs.r[2], HD_OUT_THROTTLED, false, "Throttling.User");
    tu_expect(&rs.r[3], HD_OUT_PERMANENT, true, "isv.MOBILE_NUMBER_ILLEGAL");
    tu_expect(&rs.r[4], HD_OUT_PERMANENT, true, "isv.MOBILE_COUNT_OVER_LIMIT");
    tu_expect(&rs.r[5], HD_OUT_PERMANENT, false, "isv.SMS_TEMPLATE_ILLEGAL");
    assert_contains(rs.r[5].text, "isv.SMS_TEMPLATE_ILLEGAL");
    tu_expect(&rs.r[6], HD_OUT_TEMPORARY, false, "500");
    tu_expect(&rs.r[7], HD_OUT_TEMPORARY, false, "503");
    tu_expect(&rs.r[8], HD_OUT_TEMPORARY, false, "slow");
    assert_int_equal(rs.r[8].code, 0);
    tu_expect(&rs.r[9], HD_OUT_TEMPORARY, false, "dropped");
    for (size_t i = 0; i < 10; i++) /* a signature the mock refused would be provider_fault */
        assert_false(rs.r[i].provider_fault);
    /* what the gateway got: the approved template, its parameters, our id */
    json_t *l = tu_read_jsonl(dir, "aliyun.log"),
           *req = find_request(l, "query", "OutId", rs.id[0]);
    assert_non_null(req);
    json_t *q = json_object_get(req, "query");
    assert_string_equal(json_string_value(json_object_get(q, "PhoneNumbers")), class_to[0]);
    assert_string_equal(json_string_value(json_object_get(q, "SignName")), "赫拉德");
    assert_string_equal(json_string_value(json_object_get(q, "TemplateCode")), "SMS_154950909");
    assert_string_equal(json_string_value(json_object_get(q, "TemplateParam")), params);
    json_decref(l);
    /* the account's balance: the provider is at fault and pauses */
    send_all(cfg, fault_to, 1, "SMS_154950909", params, &rs);
    tu_expect(&rs.r[0], HD_OUT_THROTTLED, false, "isv.AMOUNT_NOT_ENOUGH");
    assert_true(rs.r[0].provider_fault);
    assert_int_equal(rs.r[0].retry_after_ms, HD_PROVIDER_FAULT_PAUSE_MS);
    assert_contains(rs.r[0].text, "isv.AMOUNT_NOT_ENOUGH the Aliyun account's balance is too low");
    hd_config_free(cfg);
    /* a wrong secret: the signature is refused, the provider is at fault */
    setenv("TEST_ALI_BAD", "not-the-secret", 1);
    cfg = ali_config("TEST_ALI_BAD");
    send_all(cfg, class_to, 1, "SMS_154950909", params, &rs);
    tu_expect(&rs.r[0], HD_OUT_THROTTLED, false, "bad signature");
    assert_true(rs.r[0].provider_fault);
    assert_contains(rs.r[0].text, "SignatureDoesNotMatch");
    /* refused unsent: no template code, or parameters in a list */
    send_all(cfg, class_to, 1, NULL, params, &rs);
    tu_expect(&rs.r[0], HD_OUT_PERMANENT, false, "no code");
    assert_contains(rs.r[0].text, "sends only approved templates");
    send_all(cfg, class_to, 1, "SMS_1", "[\"1234\"]", &rs);
    tu_expect(&rs.r[0], HD_OUT_PERMANENT, false, "a list");
    assert_contains(rs.r[0].text, "sms.params must be a JSON object");
    assert_int_equal(rs.r[0].code, 0);
    hd_config_free(cfg);
}

static void test_cnsms_tencent_classes(void **state)
{
    (void)state;
    struct hd_config *cfg = tc_config("TEST_TC_SECRET");
    struct tu_results rs;
    static const char params[] = "[\"1234\",\"5\"]";
    send_all(cfg, class_to, 10, "1234567", params, &rs);
    tu_expect(&rs.r[0], HD_OUT_ACCEPTED, false, "Ok");
    assert_true(strncmp(rs.r[0].gateway_id, "2433:", 5) == 0);
    assert_string_not_equal(rs.r[0].digest, "");
    tu_expect(&rs.r[1], HD_OUT_TEMPORARY, false, "LimitExceeded.PhoneNumberDailyLimit");
    assert_int_equal(rs.r[1].retry_after_ms, 86400000);
    tu_expect(&rs.r[2], HD_OUT_THROTTLED, false, "RequestLimitExceeded");
    tu_expect(&rs.r[3], HD_OUT_PERMANENT, true, "IncorrectPhoneNumber");
    assert_contains(rs.r[3].text, "InvalidParameterValue.IncorrectPhoneNumber");
    tu_expect(&rs.r[4], HD_OUT_PERMANENT, false, "PhoneNumberInBlacklist");
    assert_true(rs.r[4].opted_out);
    tu_expect(&rs.r[5], HD_OUT_PERMANENT, false, "TemplateIncorrectOrUnapproved");
    assert_contains(rs.r[5].text, "FailedOperation.TemplateIncorrectOrUnapproved");
    tu_expect(&rs.r[6], HD_OUT_TEMPORARY, false, "InternalError.Timeout");
    tu_expect(&rs.r[7], HD_OUT_TEMPORARY, false, "503");
    tu_expect(&rs.r[8], HD_OUT_TEMPORARY, false, "slow");
    tu_expect(&rs.r[9], HD_OUT_TEMPORARY, false, "dropped");
    for (size_t i = 0; i < 10; i++)
        assert_false(rs.r[i].provider_fault);
    json_t *l = tu_read_jsonl(dir, "tencent.log"),
           *req = find_request(l, "json", "SessionContext", rs.id[0]);
    assert_non_null(req);
    json_t *j = json_object_get(req, "json");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "PhoneNumberSet"), 0)),
                        class_to[0]);
    assert_string_equal(json_string_value(json_object_get(j, "SmsSdkAppId")), TC_APP);
    assert_string_equal(json_string_value(json_object_get(j, "SignName")), "赫拉德");
    assert_string_equal(json_string_value(json_object_get(j, "TemplateId")), "1234567");
    json_t *ps = json_object_get(j, "TemplateParamSet");
    assert_int_equal(json_array_size(ps), 2);
    assert_string_equal(json_string_value(json_array_get(ps, 1)), "5");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(req, "headers"), "x-tc-region")),
        "ap-beijing");
    json_decref(l);
    /* the application's daily limit is the provider's: throttled */
    static const char *const app_to[] = {"+8613800001008"};
    send_all(cfg, app_to, 1, "1234567", params, &rs);
    tu_expect(&rs.r[0], HD_OUT_THROTTLED, false, "LimitExceeded.AppDailyLimit");
    assert_false(rs.r[0].provider_fault);
    send_all(cfg, fault_to, 1, "1234567", params, &rs);
    tu_expect(&rs.r[0], HD_OUT_THROTTLED, false, "InsufficientBalanceInSmsPackage");
    assert_true(rs.r[0].provider_fault);
    assert_contains(rs.r[0].text, "SMS package is used up");
    hd_config_free(cfg);
    setenv("TEST_TC_BAD", "not-the-secret", 1);
    cfg = tc_config("TEST_TC_BAD");
    send_all(cfg, class_to, 1, "1234567", params, &rs);
    tu_expect(&rs.r[0], HD_OUT_THROTTLED, false, "bad signature");
    assert_true(rs.r[0].provider_fault);
    assert_contains(rs.r[0].text, "AuthFailure.SignatureFailure");
    send_all(cfg, class_to, 1, "1234567", "{\"code\":\"1\"}", &rs);
    tu_expect(&rs.r[0], HD_OUT_PERMANENT, false, "an object");
    assert_contains(rs.r[0].text, "must be a list of strings");
    hd_config_free(cfg);
}

/* ---- through the binary: lint, preview, a campaign, -v ------------------------------ */

/* cn.conf: both gateways on the mocks (and a free-text Twilio that is
 * never reached, for lint), templates in tpl/; [channel sms] as given. */
static void write_conf(const char *name, const char *db, const char *providers)
{
    char *conf = path(name), *td = path("tpl");
    struct hd_buf t;
    hd_buf_init(&t);
    hd_buf_addf(&t,
                "[herald]\ntemplates = %s\ndatabase = %s\n"
                "[provider ali]\ntype = aliyun_sms\nbase_url = http://127.0.0.1:%d\n"
                "access_key_id = %s\naccess_key_secret_env = TEST_ALI_SECRET\n"
                "sign_name = 赫拉德\ncost_per_segment = 0.045\n"
                "[provider tc]\ntype = tencent_sms\nbase_url = http://127.0.0.1:%d\n"
                "secret_id = %s\nsecret_key_env = TEST_TC_SECRET\nsdk_app_id = %s\n"
                "sign_name = 赫拉德\n"
                "[provider tw]\ntype = twilio\nbase_url = http://127.0.0.1:9\n"
                "account_sid = AC1\nauth_token_env = TEST_ALI_SECRET\nfrom = +15550001111\n"
                "[provider box]\ntype = outbox\npath = box\n"
                "[channel sms]\nproviders = %s\n",
                td, tu_both_store(&stores, db), ali.port, ALI_ID, tc.port, TC_ID, TC_APP,
                providers);
    tu_write(conf, t.data);
    mkdir(td, 0755);
    hd_buf_release(&t);
    free(conf);
    free(td);
}

/* The ali template has an sms part too, for free-text gateways: two
 * segments of GSM-7, where the approved text is one. */
static const char ali_tpl[] =
    "category: transactional\n"
    "--- sms\nHello {{first_name}}, your verification code is {{code}}. It is valid for five "
    "minutes. If you did not ask for it, ignore this message; nobody from Acme will ever ask "
    "you for it.\n"
    "--- sms.template_code\nSMS_154950909\n"
    "--- sms.params\n{\"name\": \"{{first_name}}\", \"code\": \"{{code}}\"}\n"
    "--- sms.approved_text\n"
    "【赫拉德】{{first_name}}，您的验证码是{{code}}，5分钟内有效\n";
static const char tc_tpl[] = "category: transactional\n"
                             "--- sms.template_code\n1234567\n"
                             "--- sms.params\n[\"{{code}}\", \"5\"]\n"
                             "--- sms.approved_text\n【赫拉德】您的验证码是{{code}}，5分钟内有效\n";

/* template lint holds each template to what each SMS provider needs. */
static void test_cnsms_lint(void **state)
{
    (void)state;
    write_conf("lint.conf", "lint.db", "ali, tc, tw");
    tu_put_template(dir, "ali", ali_tpl);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-c", "lint.conf", "template", "lint", "ali", NULL);
    assert_int_equal(r.status, 1);
    /* an object of parameters is not Tencent's ordered list */
    assert_contains(r.out, "sms.params: provider 'tc' (tencent_sms) takes parameters in order: "
                           "write a list of strings");
    assert_not_contains(r.out, "provider 'ali' (aliyun_sms) takes named");
    assert_not_contains(r.out, "sends free text"); /* Twilio sends the approved text */
    assert_contains(r.out, "sms.approved_text: UCS-2");
    tu_run_release(&r);
    write_conf("lint.conf", "lint.db", "ali, tw");
    tu_put_template(dir, "bad",
                    "category: marketing\n--- sms.template_code\nSMS_1\n"
                    "--- sms.params\n{\"shop\": \"a shop name far longer than the thirty-five "
                    "characters Aliyun allows\"}\n");
    tu_put_template(dir, "plain",
                    "category: transactional\n--- email.subject\nHi\n--- email.text\nHi\n"
                    "--- sms.params\n[\"1\"]\n");
    tu_herald(&r, dir, NULL, "-c", "lint.conf", "template", "lint", "bad", "plain", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.out, "bad.tmpl:4: error: sms.params: 'shop' is 68 characters before any "
                           "data, over the 35 provider 'ali' (aliyun_sms) accepts");
    assert_contains(r.out, "bad.tmpl: error: provider 'tw' (twilio) sends free text");
    assert_contains(r.out, "bad.tmpl: note: no sms.approved_text");
    assert_contains(r.out, "plain.tmpl: error: provider 'ali' (aliyun_sms) sends only templates "
                           "approved at the gateway: add sms.template_code");
    assert_contains(r.out, "plain.tmpl: error: sms.params without sms.template_code");
    assert_contains(r.out, "plain.tmpl:6: error: sms.params: provider 'ali' (aliyun_sms) takes "
                           "named parameters");
    tu_run_release(&r);
    tu_put_template(dir, "shape",
                    "category: transactional\n--- sms.template_code\n1\n"
                    "--- sms.params\n{\"a\": 1}\n");
    tu_herald(&r, dir, NULL, "-c", "lint.conf", "template", "lint", "shape", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.out, "shape.tmpl:5:1: sms.params: must be a JSON object of strings");
    tu_run_release(&r);
    char *p = path("tpl/shape.tmpl");
    unlink(p);
    free(p);
}

/* The log line (JSON) of the contact, as an object; the caller decrefs. */
static json_t *log_of(const char *log, const char *contact)
{
    json_t *found = NULL;
    for (const char *line = log; line && *line;) {
        const char *nl = strchr(line, '\n');
        json_t *j = json_loadb(line, nl ? (size_t)(nl - line) : strlen(line), 0, NULL);
        const char *c = json_string_value(json_object_get(j, "contact"));
        if (c && strcmp(c, contact) == 0 && !found)
            found = json_incref(j);
        json_decref(j);
        line = nl ? nl + 1 : NULL;
    }
    if (!found)
        fail_msg("no log line of %s in:\n%s", contact, log);
    return found;
}

static void expect_log(const char *log, const char *contact, const char *outcome,
                       const char *reason)
{
    json_t *j = log_of(log, contact);
    const char *o = json_string_value(json_object_get(j, "outcome")),
               *why = json_string_value(json_object_get(j, "reason"));
    if (!o || strcmp(o, outcome) != 0 || (reason && (!why || strcmp(why, reason) != 0)))
        fail_msg("%s: %s", contact, json_dumps(j, JSON_COMPACT));
    json_decref(j);
}

/* A campaign through `herald send` to each gateway: the parameters are
 * rendered per contact, segments and cost counted from the approved
 * text, a bad number suppressed. */
static void test_cnsms_campaign(void **state)
{
    (void)state;
    tu_put_template(dir, "ali", ali_tpl);
    tu_put_template(dir, "tc", tc_tpl);
    static const char rows[] = "id,phone,first_name,code\n"
                               "%s1,+8613800000011,张三,1234\n%s2,+8613800001003,李四,5678\n"
                               "%s3,+8613800000012,Maximilian Alexander Montgomery-Smythe,9999\n";
    const struct {
        const char *conf, *db, *prov, *name, *pfx;
    } runs[] = {{"ca.conf", "ca.db", "ali", "ali", "a"}, {"ct.conf", "ct.db", "tc", "tc", "t"}};
    for (size_t i = 0; i < 2; i++) {
        char csv[384], c1[8], c2[8];
        snprintf(csv, sizeof csv, rows, runs[i].pfx, runs[i].pfx, runs[i].pfx);
        snprintf(c1, sizeof c1, "%s1", runs[i].pfx);
        snprintf(c2, sizeof c2, "%s2", runs[i].pfx);
        write_conf(runs[i].conf, runs[i].db, runs[i].prov);
        const char *pre[] = {"-c", runs[i].conf, NULL};
        char *log = tu_sms_campaign(dir, pre, runs[i].name, runs[i].name, csv);
        expect_log(log, c1, "accepted", NULL);
        expect_log(log, c2, "permanent", "bad_address");
        json_t *j = log_of(log, c1); /* counted from the approved text */
        assert_int_equal(json_integer_value(json_object_get(j, "segments")), 1);
        json_decref(j);
        if (i == 0) { /* a name over Aliyun's 35 characters a parameter: not sent */
            assert_contains(log, "render_failed");
            assert_contains(log, "sms.params: 'name' is 38 characters, over the 35 that provider "
                                 "'ali' (aliyun_sms) accepts in a parameter");
        } else { /* Tencent's template does not use the name */
            expect_log(log, "t3", "accepted", NULL);
        }
        free(log);
        struct tu_run r;
        tu_herald(&r, dir, NULL, "-c", runs[i].conf, "suppress", "list", "--format", "csv", NULL);
        assert_contains(r.out, "+8613800001003");
        tu_run_release(&r);
    }
    json_t *l = tu_read_jsonl(dir, "aliyun.log"),
           *req = find_request(l, "query", "PhoneNumbers", "+8613800000011");
    assert_non_null(req);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(req, "query"), "TemplateParam")),
        "{\"name\":\"张三\",\"code\":\"1234\"}");
    json_decref(l);
    l = tu_read_jsonl(dir, "tencent.log");
    size_t k;
    json_t *e, *set = NULL;
    json_array_foreach(l, k, e)
    {
        json_t *js = json_object_get(e, "json");
        const char *to =
            json_string_value(json_array_get(json_object_get(js, "PhoneNumberSet"), 0));
        if (to && strcmp(to, "+8613800000011") == 0)
            set = json_object_get(js, "TemplateParamSet");
    }
    assert_non_null(set);
    assert_string_equal(json_string_value(json_array_get(set, 0)), "1234");
    json_decref(l);
}

/* The account's balance runs out in a campaign: the provider pauses, the
 * message stays queued without an attempt, and the log and `campaign
 * show` say why. */
static void test_cnsms_provider_fault(void **state)
{
    (void)state;
    write_conf("pf.conf", "pf.db", "ali");
    tu_put_template(dir, "ali", ali_tpl);
    const char *pre[] = {"-c", "pf.conf", NULL};
    char *log = tu_sms_campaign(dir, pre, "pf", "ali",
                                "id,phone,first_name,code\np1,+8613800001005,赵六,1111\n");
    expect_log(log, "p1", "throttled", "provider_fault");
    assert_contains(log,
                    "isv.AMOUNT_NOT_ENOUGH the Aliyun account's balance is too low: top it up");
    free(log);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-c", "pf.conf", "campaign", "show", "pf", NULL);
    assert_contains(r.out, "waiting on   provider 'ali', paused until ");
    assert_contains(r.out, "active        queued 1\n"); /* run 1, its message waiting */
    tu_run_release(&r);
}

/* A dry run through the outbox records what an approved-template gateway
 * would get: the code and the parameters, beside the approved text. */
static void test_cnsms_outbox(void **state)
{
    (void)state;
    write_conf("ob.conf", "ob.db", "box");
    tu_put_template(dir, "tc", tc_tpl);
    const char *pre[] = {"-c", "ob.conf", NULL};
    char *log = tu_sms_campaign(dir, pre, "ob", "tc", "id,phone,code\no1,+8613800000031,2468\n");
    expect_log(log, "o1", "accepted", NULL);
    free(log);
    json_t *l = tu_read_jsonl(dir, "box/sms.jsonl"), *e = json_array_get(l, 0);
    assert_string_equal(json_string_value(json_object_get(e, "template_code")), "1234567");
    json_t *ps = json_object_get(e, "params");
    assert_string_equal(json_string_value(json_array_get(ps, 0)), "2468");
    assert_string_equal(json_string_value(json_object_get(e, "body")),
                        "【赫拉德】您的验证码是2468，5分钟内有效");
    json_decref(l);
}

/* Preview shows the approved text with its segments; the estimate costs it. */
static void test_cnsms_preview(void **state)
{
    (void)state;
    write_conf("pv.conf", "pv.db", "ali");
    tu_put_template(dir, "ali", ali_tpl);
    char *data = path("pv.json");
    tu_write(data, "{\"first_name\": \"王五\", \"code\": \"4321\"}");
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-c", "pv.conf", "template", "preview", "ali", "--data", "pv.json",
              NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "== sms.approved_text   (UCS-2, 25 characters, 1 segment)");
    assert_contains(r.out, "【赫拉德】王五，您的验证码是4321，5分钟内有效");
    assert_contains(r.out, "\"name\": \"王五\"");
    tu_run_release(&r);
    free(data);
}

/* -v shows the requests' progress, never a secret nor a signature. */
static void test_cnsms_verbose_no_secrets(void **state)
{
    (void)state;
    write_conf("v.conf", "v.db", "ali, tc");
    tu_put_template(dir, "ali", ali_tpl);
    tu_put_template(dir, "tc", tc_tpl);
    const char *runs[][2] = {{"ali", "ali"}, {"tc", "tc"}};
    for (size_t i = 0; i < 2; i++) {
        struct tu_run r;
        tu_herald(&r, dir, NULL, "-v", "-c", "v.conf", "provider", "test", runs[i][0], "--to",
                  "+8613800000021", "--template", runs[i][1], NULL);
        if (r.status != 0)
            fail_msg("provider test %s: %s %s", runs[i][0], r.out, r.err);
        assert_contains(r.out, "result      accepted");
        assert_contains(r.err, "debug: http: new connection to ");
        const char *secrets[] = {ALI_SECRET, TC_SECRET, "Signature=", "HMAC-SHA256 Cred"};
        for (size_t k = 0; k < sizeof secrets / sizeof *secrets; k++) {
            assert_not_contains(r.out, secrets[k]);
            assert_not_contains(r.err, secrets[k]);
        }
        tu_run_release(&r);
    }
    /* the built-in test message is free text, which these gateways refuse */
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-c", "v.conf", "provider", "test", "tc", "--to", "+8613800000021",
              NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "provider 'tc' (tencent_sms) sends only templates approved at the "
                           "gateway: give --template NAME");
    tu_run_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnsms_sign_examples),
        cmocka_unit_test(test_cnsms_aliyun_classes),
        cmocka_unit_test(test_cnsms_tencent_classes),
        cmocka_unit_test(test_cnsms_lint),
        cmocka_unit_test(test_cnsms_campaign),
        cmocka_unit_test(test_cnsms_provider_fault),
        cmocka_unit_test(test_cnsms_outbox),
        cmocka_unit_test(test_cnsms_preview),
        cmocka_unit_test(test_cnsms_verbose_no_secrets),
    };
    /* the cases through the binary again, their stores on PostgreSQL */
    const struct CMUnitTest tests_pg[] = {
        {"test_cnsms_campaign_pg", test_cnsms_campaign, NULL, NULL, NULL},
        {"test_cnsms_provider_fault_pg", test_cnsms_provider_fault, NULL, NULL, NULL},
        {"test_cnsms_outbox_pg", test_cnsms_outbox, NULL, NULL, NULL},
        {"test_cnsms_preview_pg", test_cnsms_preview, NULL, NULL, NULL},
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    return rc | cmocka_run_group_tests(tests_pg, setup_pg, teardown);
}
