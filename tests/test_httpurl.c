/* test_httpurl: the HTTP engine parses a request's URL once per easy
 * handle and again only when it changes (CURLOPT_CURLU, http.c's
 * set_url). With one connection every request reuses one handle, so a
 * generic http provider whose URL holds the recipient sends to URLs that
 * change, repeat and change back; the mock gateway (tests/mock/twilio.js)
 * logs every request's path, and each must be its own message's. A URL
 * given as a parsed handle still takes its proxy from the environment as
 * curl does (http_proxy, no_proxy): with http_proxy pointing at the mock,
 * a request to a host that does not exist reaches the mock as a proxy
 * request (its target the whole URL); with that host in no_proxy, it goes
 * direct and fails. */
#include "testnet.h"

#include <jansson.h>

#include "herald/config.h"
#include "herald/driver.h"

static void test_httpurl_follows_changes(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tu_server tw = {0};
    const char *args[] = {"--sid", "AC0", "--token", "t", "--log", "gw.log", NULL};
    tu_start_mock(&tw, dir, "twilio.js", args);
    setenv("TEST_API_KEY", "k", 1);
    struct hd_config *cfg = tu_config("[provider p]\ntype = http\nconnections = 1\n"
                                      "url = http://127.0.0.1:%d/hook?to={{to}}\n"
                                      "header = X-Token: {{api_key}}\napi_key_env = TEST_API_KEY\n"
                                      "body = {\"to\": \"{{to}}\"}\n",
                                      tw.port);
    static const char *const to[] = {"+15550000001", "+15550000002", "+15550000002",
                                     "+15550000001", "+15550000003", "+15550000001"};
    enum { N = sizeof to / sizeof *to };
    struct hd_msg proto = {.channel = HD_CH_SMS,
                           .category = HD_CAT_TRANSACTIONAL,
                           .body = "hi",
                           .created = 1795334400};
    struct tu_results rs;
    tu_send_each(cfg, &proto, to, N, &rs);
    json_t *log = tu_read_jsonl(dir, "gw.log");
    size_t i;
    json_t *req;
    size_t found = 0;
    json_array_foreach(log, i, req)
    {
        const char *key =
            json_string_value(json_object_get(json_object_get(req, "headers"), "idempotency-key"));
        const char *path = json_string_value(json_object_get(req, "path"));
        for (size_t k = 0; key && k < N; k++) {
            if (strcmp(key, rs.id[k]) != 0)
                continue;
            char want[64];
            snprintf(want, sizeof want, "/hook?to=%%2B%s", to[k] + 1);
            assert_string_equal(path, want);
            found++;
        }
    }
    assert_int_equal(found, N);
    json_decref(log);
    hd_config_free(cfg);
    tu_server_stop(&tw);
    tu_rmdir(dir); /* and frees it */
}

static void test_httpurl_proxy_from_env(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tu_server tw = {0};
    const char *args[] = {"--sid", "AC0", "--token", "t", "--log", "gw.log", NULL};
    tu_start_mock(&tw, dir, "twilio.js", args);
    char proxy[64];
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", tw.port);
    setenv("http_proxy", proxy, 1);
    setenv("TEST_API_KEY", "k", 1);
    struct hd_config *cfg = tu_config("[provider p]\ntype = http\nconnections = 1\ntimeout = 5s\n"
                                      "url = http://gateway.invalid/hook?to={{to}}\n"
                                      "header = X-Token: {{api_key}}\napi_key_env = TEST_API_KEY\n"
                                      "body = {\"to\": \"{{to}}\"}\n");
    static const char *const to[] = {"+15550000001"};
    struct hd_msg proto = {.channel = HD_CH_SMS,
                           .category = HD_CAT_TRANSACTIONAL,
                           .body = "hi",
                           .created = 1795334400};
    struct tu_results rs;
    tu_send_each(cfg, &proto, to, 1, &rs);
    json_t *log = tu_read_jsonl(dir, "gw.log");
    assert_int_equal(json_array_size(log), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(log, 0), "path")),
                        "http://gateway.invalid/hook?to=%2B15550000001");
    json_decref(log);
    /* the host in no_proxy: direct, and gateway.invalid does not resolve */
    setenv("no_proxy", "gateway.invalid", 1);
    tu_send_each(cfg, &proto, to, 1, &rs);
    assert_int_equal(rs.r[0].outcome, HD_OUT_TEMPORARY);
    log = tu_read_jsonl(dir, "gw.log");
    assert_int_equal(json_array_size(log), 1);
    json_decref(log);
    unsetenv("no_proxy");
    unsetenv("http_proxy");
    hd_config_free(cfg);
    tu_server_stop(&tw);
    tu_rmdir(dir); /* and frees it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_httpurl_follows_changes),
        cmocka_unit_test(test_httpurl_proxy_from_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
