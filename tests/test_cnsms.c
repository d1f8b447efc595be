/* test_cnsms: SMS gateways for mainland China (issue 24): Aliyun's
 * Dysmsapi (aliyun_sms) and Tencent Cloud's SMS API 3.0 (tencent_sms),
 * which send only templates approved at the gateway. Our signers are held
 * byte for byte to the worked examples in each cloud's documentation; the
 * mocks in tests/mock (aliyun.js, tencent.js) verify every request's
 * signature with node:crypto, independently; every result class each
 * driver maps is sent through the real driver; lint, preview and a
 * campaign through `herald send` go through the real binary; and no
 * secret reaches the output of `herald -v`. */
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
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_server_stop(&ali);
    tu_server_stop(&tc);
    tu_rmdir(dir);
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

static struct hd_config *config(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static struct hd_config *config(const char *fmt, ...)
{
    struct hd_buf t;
    struct hd_config *cfg = NULL;
    struct hd_err e = {0};
    va_list ap;
    hd_buf_init(&t);
    va_start(ap, fmt);
    hd_buf_vaddf(&t, fmt, ap);
    va_end(ap);
    if (hd_config_parse(t.data, "t.conf", &cfg, &e) != 0)
        fail_msg("%s", e.msg);
    hd_buf_release(&t);
    return cfg;
}

static struct hd_config *ali_config(const char *secret_env)
{
    return config("[provider p]\ntype = aliyun_sms\nbase_url = http://127.0.0.1:%d\n"
                  "access_key_id = %s\naccess_key_secret_env = %s\nsign_name = 赫拉德\n"
                  "timeout = 1s\n",
                  ali.port, ALI_ID, secret_env);
}

static struct hd_config *tc_config(const char *secret_env)
{
    return config("[provider p]\ntype = tencent_sms\nbase_url = http://127.0.0.1:%d\n"
                  "secret_id = %s\nsecret_key_env = %s\nsdk_app_id = %s\nsign_name = 赫拉德\n"
                  "region = ap-beijing\ntimeout = 1s\n",
                  tc.port, TC_ID, secret_env, TC_APP);
}

/* Sends one SMS of template code and params to each address through
 * provider "p"; results (and message ids) in the order of the addresses. */
static void send_all(struct hd_config *cfg, const char *const *to, size_t n, const char *code,
                     const char *params, struct tu_results *rs)
{
    struct hd_driver *d;
    struct hd_err e = {0};
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_ERROR);
    if (hd_driver_open(hd_config_provider(cfg, "p"), &log, &d, &e) != 0)
        fail_msg("open: %s", e.msg);
    memset(rs, 0, sizeof *rs);
    for (size_t i = 0; i < n; i++) {
        struct hd_msg m = {.channel = HD_CH_SMS,
                           .category = HD_CAT_TRANSACTIONAL,
                           .to = to[i],
                           .body = "【赫拉德】您的验证码是1234",
                           .sms_template = code,
                           .sms_params = params,
                           .created = 1795334400,
                           .user = (void *)(uintptr_t)i};
        hd_uuid(m.id);
        snprintf(rs->id[i], sizeof rs->id[i], "%s", m.id);
        assert_int_equal(hd_driver_submit(d, &m, &e), 0);
    }
    tu_await(d, n, rs);
    hd_log_release(&log);
}

static void expect(const struct hd_result *r, int outcome, bool bad, const char *what)
{
    if (r->outcome != outcome || r->bad_address != bad)
        fail_msg("%s: got %s%s (%d %s), want %s%s", what, hd_outcome_name(r->outcome),
                 r->bad_address ? " bad" : "", r->code, r->text, hd_outcome_name(outcome),
                 bad ? " bad" : "");
}

/* The mock's request log as JSON values, one per line. */
static json_t *read_log(const char *name)
{
    char *p = path(name), *text = tu_read(p);
    json_t *all = json_array();
    for (char *line = text, *nl; line && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            break;
        *nl = '\0';
        json_t *j = json_loads(line, 0, NULL);
        if (j)
            json_array_append_new(all, j);
    }
    free(text);
    free(p);
    return all;
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
    expect(&rs.r[0], HD_OUT_ACCEPTED, false, "OK");
    assert_int_equal(rs.r[0].code, 200);
    assert_true(strstr(rs.r[0].gateway_id, "^0") != NULL);
    assert_string_not_equal(rs.r[0].digest, "");
    expect(&rs.r[1], HD_OUT_THROTTLED, false, "isv.BUSINESS_LIMIT_CONTROL");
    assert_contains(rs.r[1].text, "isv.BUSINESS_LIMIT_CONTROL");
    expect(&rs.r[2], HD_OUT_THROTTLED, false, "Throttling.User");
    expect(&rs.r[3], HD_OUT_PERMANENT, true, "isv.MOBILE_NUMBER_ILLEGAL");
    expect(&rs.r[4], HD_OUT_PERMANENT, true, "isv.MOBILE_COUNT_OVER_LIMIT");
    expect(&rs.r[5], HD_OUT_PERMANENT, false, "isv.SMS_TEMPLATE_ILLEGAL");
    assert_contains(rs.r[5].text, "isv.SMS_TEMPLATE_ILLEGAL");
    expect(&rs.r[6], HD_OUT_TEMPORARY, false, "500");
    expect(&rs.r[7], HD_OUT_TEMPORARY, false, "503");
    expect(&rs.r[8], HD_OUT_TEMPORARY, false, "slow");
    assert_int_equal(rs.r[8].code, 0);
    expect(&rs.r[9], HD_OUT_TEMPORARY, false, "dropped");
    for (size_t i = 0; i < 10; i++) /* a signature the mock refused would be provider_fault */
        assert_false(rs.r[i].provider_fault);
    /* what the gateway got: the approved template, its parameters, our id */
    json_t *l = read_log("aliyun.log"), *req = find_request(l, "query", "OutId", rs.id[0]);
    assert_non_null(req);
    json_t *q = json_object_get(req, "query");
    assert_string_equal(json_string_value(json_object_get(q, "PhoneNumbers")), class_to[0]);
    assert_string_equal(json_string_value(json_object_get(q, "SignName")), "赫拉德");
    assert_string_equal(json_string_value(json_object_get(q, "TemplateCode")), "SMS_154950909");
    assert_string_equal(json_string_value(json_object_get(q, "TemplateParam")), params);
    json_decref(l);
    /* the account's balance: the provider is at fault and pauses */
    send_all(cfg, fault_to, 1, "SMS_154950909", params, &rs);
    expect(&rs.r[0], HD_OUT_THROTTLED, false, "isv.AMOUNT_NOT_ENOUGH");
    assert_true(rs.r[0].provider_fault);
    assert_int_equal(rs.r[0].retry_after_ms, HD_PROVIDER_FAULT_PAUSE_MS);
    assert_contains(rs.r[0].text, "isv.AMOUNT_NOT_ENOUGH the Aliyun account's balance is too low");
    hd_config_free(cfg);
    /* a wrong secret: the signature is refused, the provider is at fault */
    setenv("TEST_ALI_BAD", "not-the-secret", 1);
    cfg = ali_config("TEST_ALI_BAD");
    send_all(cfg, class_to, 1, "SMS_154950909", params, &rs);
    expect(&rs.r[0], HD_OUT_THROTTLED, false, "bad signature");
    assert_true(rs.r[0].provider_fault);
    assert_contains(rs.r[0].text, "SignatureDoesNotMatch");
    /* refused unsent: no template code, or parameters in a list */
    send_all(cfg, class_to, 1, NULL, params, &rs);
    expect(&rs.r[0], HD_OUT_PERMANENT, false, "no code");
    assert_contains(rs.r[0].text, "sends only approved templates");
    send_all(cfg, class_to, 1, "SMS_1", "[\"1234\"]", &rs);
    expect(&rs.r[0], HD_OUT_PERMANENT, false, "a list");
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
    expect(&rs.r[0], HD_OUT_ACCEPTED, false, "Ok");
    assert_true(strncmp(rs.r[0].gateway_id, "2433:", 5) == 0);
    assert_string_not_equal(rs.r[0].digest, "");
    expect(&rs.r[1], HD_OUT_THROTTLED, false, "LimitExceeded.PhoneNumberDailyLimit");
    expect(&rs.r[2], HD_OUT_THROTTLED, false, "RequestLimitExceeded");
    expect(&rs.r[3], HD_OUT_PERMANENT, true, "IncorrectPhoneNumber");
    assert_contains(rs.r[3].text, "InvalidParameterValue.IncorrectPhoneNumber");
    expect(&rs.r[4], HD_OUT_PERMANENT, false, "PhoneNumberInBlacklist");
    assert_true(rs.r[4].opted_out);
    expect(&rs.r[5], HD_OUT_PERMANENT, false, "TemplateIncorrectOrUnapproved");
    assert_contains(rs.r[5].text, "FailedOperation.TemplateIncorrectOrUnapproved");
    expect(&rs.r[6], HD_OUT_TEMPORARY, false, "InternalError.Timeout");
    expect(&rs.r[7], HD_OUT_TEMPORARY, false, "503");
    expect(&rs.r[8], HD_OUT_TEMPORARY, false, "slow");
    expect(&rs.r[9], HD_OUT_TEMPORARY, false, "dropped");
    for (size_t i = 0; i < 10; i++)
        assert_false(rs.r[i].provider_fault);
    json_t *l = read_log("tencent.log"), *req = find_request(l, "json", "SessionContext", rs.id[0]);
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
    send_all(cfg, fault_to, 1, "1234567", params, &rs);
    expect(&rs.r[0], HD_OUT_THROTTLED, false, "InsufficientBalanceInSmsPackage");
    assert_true(rs.r[0].provider_fault);
    assert_contains(rs.r[0].text, "SMS package is used up");
    hd_config_free(cfg);
    setenv("TEST_TC_BAD", "not-the-secret", 1);
    cfg = tc_config("TEST_TC_BAD");
    send_all(cfg, class_to, 1, "1234567", params, &rs);
    expect(&rs.r[0], HD_OUT_THROTTLED, false, "bad signature");
    assert_true(rs.r[0].provider_fault);
    assert_contains(rs.r[0].text, "AuthFailure.SignatureFailure");
    send_all(cfg, class_to, 1, "1234567", "{\"code\":\"1\"}", &rs);
    expect(&rs.r[0], HD_OUT_PERMANENT, false, "an object");
    assert_contains(rs.r[0].text, "must be a list of strings");
    hd_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnsms_sign_examples),
        cmocka_unit_test(test_cnsms_aliyun_classes),
        cmocka_unit_test(test_cnsms_tencent_classes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
