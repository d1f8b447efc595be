/* test_wechat: the wechat driver, WeChat official account template
 * messages (issue 24), against tests/mock/wechat.js: every result class
 * the driver maps, through the real driver and the HTTP engine; the
 * access_token fetched once and reused, renewed once on 42001 and the
 * provider paused when a new one does not help (40001); a token another
 * process holds adopted without a fetch (the credential the dispatcher
 * shares through the store); what the gateway got (touser, template_id,
 * data as {"value"} objects, url or miniprogram, client_msg_id); and the
 * messages refused unsent. The cases with a store run on SQLite files, then
 * on PostgreSQL databases (testboth.h); the migration's stays SQLite. */
#include "testboth.h"
#include "testnet.h"

#include <jansson.h>

#include "herald/config.h"
#include "herald/driver.h"
#include "herald/log.h"
#include "herald/store.h"

#define WX_APP "wx0123456789abcdef"
#define WX_SECRET "wx-App-Secret-5521"

static char *dir;
static struct tu_server wx;
static struct tu_both stores; /* each case's store: a file, or a PostgreSQL database */

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    setenv("TEST_WX_SECRET", WX_SECRET, 1);
    setenv("TEST_WX_BAD", "not-the-secret", 1);
    const char *a[] = {"--appid", WX_APP, "--secret", WX_SECRET, "--log", "wechat.log", NULL};
    tu_start_mock(&wx, dir, "wechat.js", a);
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
    tu_server_stop(&wx);
    tu_rmdir(dir);
    tu_both_release(&stores);
    return 0;
}

static struct hd_config *wx_config(const char *secret_env, const char *extra)
{
    return tu_config("[provider p]\ntype = wechat\nbase_url = http://127.0.0.1:%d\n"
                     "app_id = %s\napp_secret_env = %s\ntimeout = 2s\n%s",
                     wx.port, WX_APP, secret_env, extra);
}

static const struct hd_msg proto = {
    .channel = HD_CH_WECHAT,
    .category = HD_CAT_MARKETING,
    .wechat_template = "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY",
    .wechat_data = "{\"first\":\"您好，会员张三\",\"keyword1\":{\"value\":\"黄金会员\","
                   "\"color\":\"#173177\"},\"remark\":\"点击查看详情\"}",
    .wechat_url = "https://shop.example.com/u/3",
    .created = 1795334400};

/* The number of tokens the mock issued so far. */
static size_t tokens_issued(void)
{
    json_t *l = tu_read_jsonl(dir, "wechat.log"), *e;
    size_t i, n = 0;
    json_array_foreach(l, i, e) if (json_object_get(e, "token")) n++;
    json_decref(l);
    return n;
}

/* The last template send to openid in the mock's log, or NULL (decref l). */
static json_t *sent_to(json_t *l, const char *openid)
{
    size_t i;
    json_t *e, *found = NULL;
    json_array_foreach(l, i, e)
    {
        const char *to = json_string_value(json_object_get(json_object_get(e, "json"), "touser"));
        if (to && strcmp(to, openid) == 0)
            found = json_object_get(e, "json");
    }
    return found;
}

/* (45009 pauses the provider for an hour: it goes alone, last) */
static const char *const class_to[] = {
    "oTpl_ok_0001", "oTpl_43004", "oTpl_40003", "oTpl_42001", "oTpl_40037",
    "oTpl_-1",      "oTpl_500",   "oTpl_slow",  "oTpl_drop",
};

static void test_wechat_classes(void **state)
{
    (void)state;
    struct hd_config *cfg = wx_config("TEST_WX_SECRET", "");
    struct tu_results rs;
    tu_send_each(cfg, &proto, class_to, 9, &rs);
    tu_expect(&rs.r[0], HD_OUT_ACCEPTED, false, "ok");
    assert_true(atoll(rs.r[0].gateway_id) > 200228332);
    assert_string_not_equal(rs.r[0].digest, "");
    /* not following the account (the user's opt-out, not a bad address),
     * and an openid of another account */
    tu_expect(&rs.r[1], HD_OUT_PERMANENT, false, "43004");
    assert_true(rs.r[1].opted_out);
    assert_contains(rs.r[1].text, "43004 require subscribe");
    tu_expect(&rs.r[2], HD_OUT_PERMANENT, true, "40003");
    /* the token expired: one new token, sent once more, accepted */
    tu_expect(&rs.r[3], HD_OUT_ACCEPTED, false, "42001 then ok");
    assert_int_equal(rs.r[3].refreshed, 1);
    tu_expect(&rs.r[4], HD_OUT_PERMANENT, false, "40037");
    assert_contains(rs.r[4].text, "40037 invalid template_id");
    tu_expect(&rs.r[5], HD_OUT_TEMPORARY, false, "-1 system busy");
    tu_expect(&rs.r[6], HD_OUT_TEMPORARY, false, "500");
    tu_expect(&rs.r[7], HD_OUT_TEMPORARY, false, "slow");
    tu_expect(&rs.r[8], HD_OUT_TEMPORARY, false, "dropped");
    for (size_t i = 0; i < 9; i++)
        assert_false(rs.r[i].provider_fault);
    assert_int_equal(tokens_issued(), 2);
    /* what the gateway got */
    json_t *l = tu_read_jsonl(dir, "wechat.log"), *j = sent_to(l, class_to[0]);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "template_id")),
                        proto.wechat_template);
    assert_string_equal(json_string_value(json_object_get(j, "url")), proto.wechat_url);
    assert_string_equal(json_string_value(json_object_get(j, "client_msg_id")), rs.id[0]);
    assert_null(json_object_get(j, "miniprogram"));
    json_t *data = json_object_get(j, "data");
    assert_string_equal(json_string_value(json_object_get(json_object_get(data, "first"), "value")),
                        "您好，会员张三");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(data, "keyword1"), "color")), "#173177");
    json_decref(l);
    /* the account's daily quota: throttled for an hour */
    static const char *const quota[] = {"oTpl_45009"};
    tu_send_each(cfg, &proto, quota, 1, &rs);
    tu_expect(&rs.r[0], HD_OUT_THROTTLED, false, "45009");
    assert_int_equal(rs.r[0].retry_after_ms, 3600000);
    assert_false(rs.r[0].provider_fault);
    hd_config_free(cfg);
}

/* A token that a new one does not cure (40001 again): the provider is at
 * fault; the API not authorised (48001) too; a wrong secret at the token
 * endpoint (40125) pauses the provider before anything is sent. */
static void test_wechat_provider_faults(void **state)
{
    (void)state;
    struct hd_config *cfg = wx_config("TEST_WX_SECRET", "");
    static const char *const to[] = {"oTpl_40001", "oTpl_48001"};
    struct tu_results rs;
    tu_send_each(cfg, &proto, to, 2, &rs);
    tu_expect(&rs.r[0], HD_OUT_THROTTLED, false, "40001 twice");
    assert_true(rs.r[0].provider_fault);
    assert_contains(rs.r[0].text, "WeChat refused a new access_token");
    tu_expect(&rs.r[1], HD_OUT_THROTTLED, false, "48001");
    assert_true(rs.r[1].provider_fault);
    assert_contains(rs.r[1].text, "may not send template messages");
    hd_config_free(cfg);
    cfg = wx_config("TEST_WX_BAD", "");
    tu_send_each(cfg, &proto, class_to, 1, &rs);
    tu_expect(&rs.r[0], HD_OUT_THROTTLED, false, "bad secret");
    assert_true(rs.r[0].provider_fault);
    assert_contains(rs.r[0].text, "40125 invalid appsecret");
    assert_contains(rs.r[0].text, "check app_id, app_secret");
    assert_true(strstr(rs.r[0].text, "not-the-secret") == NULL);
    hd_config_free(cfg);
}

/* Another process's token, offered as the dispatcher offers the one it
 * read from the store, is used without a fetch. */
static void test_wechat_shared_token(void **state)
{
    (void)state;
    struct hd_config *cfg = wx_config("TEST_WX_SECRET", "");
    struct hd_driver *d;
    struct hd_err e = {0};
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_ERROR);
    assert_true(hd_driver_has_credential("wechat"));
    /* the first driver fetches one */
    assert_int_equal(hd_driver_open(hd_config_provider(cfg, "p"), &log, &d, &e), 0);
    struct hd_msg m = proto;
    m.to = "oTpl_share_1";
    hd_uuid(m.id);
    assert_int_equal(hd_driver_submit(d, &m, &e), 0);
    struct tu_results rs = {0};
    for (int i = 0; i < 300 && rs.n < 1; i++)
        hd_driver_poll(d, 100, tu_collect, &rs);
    tu_expect(&rs.r[0], HD_OUT_ACCEPTED, false, "first");
    char *tok = NULL;
    int64_t at = 0;
    assert_true(hd_driver_credential(d, &tok, &at));
    assert_true(strncmp(tok, "WXTOKEN", 7) == 0);
    hd_driver_free(d);
    size_t before = tokens_issued();
    /* the second adopts it */
    assert_int_equal(hd_driver_open(hd_config_provider(cfg, "p"), &log, &d, &e), 0);
    assert_true(hd_driver_offer_credential(d, tok, at));
    assert_false(hd_driver_offer_credential(d, "bad token&x", at));
    m.to = "oTpl_share_2";
    hd_uuid(m.id);
    assert_int_equal(hd_driver_submit(d, &m, &e), 0);
    tu_await(d, 1, &rs);
    tu_expect(&rs.r[0], HD_OUT_ACCEPTED, false, "second");
    assert_int_equal(tokens_issued(), before);
    free(tok);
    hd_log_release(&log);
    hd_config_free(cfg);
}

/* Refused unsent: no template id, data that is not an object of strings,
 * a mini-program page without the provider's miniprogram_app_id; with it,
 * the page goes as miniprogram. */
static void test_wechat_refused(void **state)
{
    (void)state;
    struct hd_config *cfg = wx_config("TEST_WX_SECRET", "");
    struct tu_results rs;
    struct hd_msg m = proto;
    m.wechat_template = NULL;
    tu_send_each(cfg, &m, class_to, 1, &rs);
    tu_expect(&rs.r[0], HD_OUT_PERMANENT, false, "no template");
    assert_contains(rs.r[0].text, "the template has no wechat.template_id");
    assert_int_equal(rs.r[0].code, 0);
    m = proto;
    m.wechat_data = "[\"a\"]";
    tu_send_each(cfg, &m, class_to, 1, &rs);
    assert_contains(rs.r[0].text, "wechat.data must be a JSON object of strings");
    m.wechat_data = "{\"first\": 3}";
    tu_send_each(cfg, &m, class_to, 1, &rs);
    assert_contains(rs.r[0].text, "wechat.data must be a JSON object of strings");
    m = proto;
    m.wechat_page = "pages/index?id=3";
    tu_send_each(cfg, &m, class_to, 1, &rs);
    assert_contains(rs.r[0].text, "wechat.page needs the provider's miniprogram_app_id");
    hd_config_free(cfg);
    cfg = wx_config("TEST_WX_SECRET", "miniprogram_app_id = wxmini0001\n");
    static const char *const to[] = {"oTpl_mini_1"};
    tu_send_each(cfg, &m, to, 1, &rs);
    tu_expect(&rs.r[0], HD_OUT_ACCEPTED, false, "mini-program");
    json_t *l = tu_read_jsonl(dir, "wechat.log"), *j = sent_to(l, to[0]);
    assert_non_null(j);
    json_t *mp = json_object_get(j, "miniprogram");
    assert_string_equal(json_string_value(json_object_get(mp, "appid")), "wxmini0001");
    assert_string_equal(json_string_value(json_object_get(mp, "pagepath")), "pages/index?id=3");
    json_decref(l);
    hd_config_free(cfg);
}

/* Through the binary: a template's wechat.* parts rendered (Mustache in
 * each data value, the url) and sent by `herald -v provider test`, the
 * token and the secret never in the output; a wechat.data of the wrong
 * shape refused where the template is read, with its line. */
static void test_wechat_provider_test(void **state)
{
    (void)state;
    char *conf = tu_path(dir, "wx.conf"), text[1024];
    snprintf(text, sizeof text,
             "[herald]\ntemplates = tpl\ndatabase = %s\n"
             "[provider wx]\ntype = wechat\nbase_url = http://127.0.0.1:%d\napp_id = %s\n"
             "app_secret_env = TEST_WX_SECRET\n[provider box]\ntype = outbox\npath = pbox\n",
             tu_both_store(&stores, "wx.db"), wx.port, WX_APP);
    tu_write(conf, text);
    free(conf);
    char *tpl = tu_path(dir, "tpl");
    mkdir(tpl, 0755);
    free(tpl);
    tu_put_template(dir, "member",
                    "category: marketing\n"
                    "--- wechat.template_id\nngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY\n"
                    "--- wechat.data\n{\"first\": \"{{campaign.name}}\", \"keyword1\": "
                    "{\"value\": \"黄金会员\", \"color\": \"#173177\"}}\n"
                    "--- wechat.url\nhttps://shop.example.com/m?c={{campaign.name}}\n");
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-v", "-c", "wx.conf", "provider", "test", "wx", "--to",
              "oTpl_cli_0001", "--template", "member", NULL);
    if (r.status != 0)
        fail_msg("provider test: %s %s", r.out, r.err);
    assert_contains(r.out, "result      accepted");
    assert_not_contains(r.out, WX_SECRET);
    assert_not_contains(r.err, WX_SECRET);
    assert_not_contains(r.err, "WXTOKEN");
    assert_not_contains(r.out, "WXTOKEN");
    tu_run_release(&r);
    json_t *l = tu_read_jsonl(dir, "wechat.log"), *j = sent_to(l, "oTpl_cli_0001");
    assert_non_null(j);
    json_t *data = json_object_get(j, "data");
    assert_string_equal(json_string_value(json_object_get(json_object_get(data, "first"), "value")),
                        "provider test");
    assert_string_equal(json_string_value(json_object_get(j, "url")),
                        "https://shop.example.com/m?c=provider test");
    json_decref(l);
    /* a dry run through the outbox records the WeChat message */
    tu_herald(&r, dir, NULL, "-c", "wx.conf", "provider", "test", "box", "--to", "oTpl_box_1",
              "--channel", "wechat", "--template", "member", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    l = tu_read_jsonl(dir, "pbox/wechat.jsonl");
    json_t *w = json_object_get(json_array_get(l, 0), "wechat");
    assert_string_equal(json_string_value(json_object_get(w, "template_id")),
                        "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY");
    assert_string_equal(json_string_value(json_object_get(json_object_get(w, "data"), "first")),
                        "provider test");
    json_decref(l);
    tu_put_template(dir, "bad",
                    "category: marketing\n--- wechat.template_id\nX\n"
                    "--- wechat.data\n{\"first\": [\"a\"]}\n");
    tu_herald(&r, dir, NULL, "-c", "wx.conf", "template", "lint", "bad", NULL);
    assert_int_not_equal(r.status, 0);
    assert_contains(r.out, "bad.tmpl:5:1: wechat.data: each value must be a string or an object");
    tu_run_release(&r);
}

/* A campaign through `herald send` over "wechat, sms" with fallback, the
 * wechat channel's provider sending to the contacts' wechat_openid
 * (imported and shown): one delivered by WeChat; one not following the
 * account (43004), opted out of the wechat channel's marketing (source
 * gateway, not a suppression), falling back to SMS; one without an openid
 * by SMS at once; one with an openid of another account (40003) and no
 * phone, failed, its openid suppressed on the wechat channel. */
static void test_wechat_campaign(void **state)
{
    (void)state;
    char *conf = tu_path(dir, "c.conf"), text[1024];
    snprintf(text, sizeof text,
             "[herald]\ntemplates = tpl\ndatabase = %s\n"
             "[serve]\npublic_url = http://127.0.0.1:8025\n"
             "[provider wx]\ntype = wechat\nbase_url = http://127.0.0.1:%d\napp_id = %s\n"
             "app_secret_env = TEST_WX_SECRET\n"
             "[provider box]\ntype = outbox\npath = box\n"
             "[channel wechat]\nproviders = wx\n[channel sms]\nproviders = box\n",
             tu_both_store(&stores, "c.db"), wx.port, WX_APP);
    tu_write(conf, text);
    free(conf);
    tu_put_template(dir, "recall",
                    "category: marketing\n"
                    "--- wechat.template_id\nngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY\n"
                    "--- wechat.data\n{\"first\": \"{{first_name}}，好久不见\"}\n"
                    "--- sms\n{{first_name}}，好久不见。回T退订\n");
    char *csv = tu_path(dir, "c.csv");
    tu_write(csv, "id,first_name,phone,wechat_openid\n"
                  "w1,甲,+8613800000001,oTpl_camp_ok01\nw2,乙,+8613800000002,oTpl_camp_43004\n"
                  "w3,丙,+8613800000003,\nw4,丁,,oTpl_camp_40003\n");
    free(csv);
    TU_HERALD_OK(dir, "-c", "c.conf", "init");
    TU_HERALD_OK(dir, "-c", "c.conf", "contacts", "import", "c.csv");
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-c", "c.conf", "contacts", "show", "w1", NULL);
    assert_contains(r.out, "wechat_openid oTpl_camp_ok01\n");
    tu_run_release(&r);
    TU_HERALD_OK(dir, "-c", "c.conf", "segment", "define", "all", "id != \"\"");
    TU_HERALD_OK(dir, "-c", "c.conf", "campaign", "create", "wb", "--segment", "all", "--template",
                 "recall", "--channels", "wechat,sms", "--fallback-on-failure", "--now");
    tu_herald(&r, dir, NULL, "-c", "c.conf", "send", "wb", "--wait", "30s", NULL);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "c.conf", "log", "--campaign", "wb", "--format", "jsonl", NULL);
    char *log = hd_xstrdup(r.out);
    tu_run_release(&r);
    /* w1 by WeChat; w2 and w3 by SMS (outbox); w4 failed */
    assert_int_equal(tu_count(log, "\"outcome\":\"accepted\""), 3);
    assert_int_equal(tu_count(log, "\"provider\":\"wx\""), 3);
    assert_int_equal(tu_count(log, "\"provider\":\"box\""), 2);
    assert_contains(log, "43004 require subscribe");
    assert_contains(log, "40003 invalid openid");
    free(log);
    json_t *l = tu_read_jsonl(dir, "wechat.log"), *j = sent_to(l, "oTpl_camp_ok01");
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(j, "data"), "first"), "value")),
                        "甲，好久不见");
    json_decref(l);
    l = tu_read_jsonl(dir, "box/sms.jsonl");
    assert_int_equal(json_array_size(l), 2);
    json_decref(l);
    tu_herald(&r, dir, NULL, "-c", "c.conf", "suppress", "list", "--format", "csv", NULL);
    assert_not_contains(r.out, "oTpl_camp_43004");
    assert_contains(r.out, "oTpl_camp_40003,wechat,invalid_openid,");
    tu_run_release(&r);
    /* bounced: w4's openid refused for good; w2 opted out, not bounced */
    tu_herald(&r, dir, NULL, "-c", "c.conf", "segment", "sample", "--expr", "bounced", NULL);
    assert_contains(r.out, "w4");
    assert_not_contains(r.out, "w2");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "c.conf", "contacts", "show", "w2", "--format", "json", NULL);
    assert_contains(r.out, "\"channel\": \"wechat\"");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "c.conf", "why", "w2", "wb", NULL);
    assert_contains(r.out, "by wechat via wx to oTpl_camp_43004: permanent, opted_out");
    assert_contains(r.out, "by sms via box to +8613800000002: accepted");
    assert_contains(r.out, "wechat marketing      opted out  by gateway at");
    tu_run_release(&r);
    /* a configuration from before: wechat in [channel push] carries
     * nothing, and config check says where it belongs */
    conf = tu_path(dir, "old.conf");
    snprintf(text, sizeof text,
             "[herald]\ntemplates = tpl\ndatabase = %s\n"
             "[provider wx]\ntype = wechat\nbase_url = http://127.0.0.1:%d\napp_id = %s\n"
             "app_secret_env = TEST_WX_SECRET\n[channel push]\nproviders = wx\n",
             tu_both_store(&stores, "c.db"), wx.port, WX_APP);
    tu_write(conf, text);
    free(conf);
    tu_herald(&r, dir, NULL, "-c", "old.conf", "config", "check", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.err, "warning: [channel push] providers: 'wx' (wechat) does not carry push; "
                           "its messages will not go through it (name it in [channel wechat])");
    assert_contains(r.err, "warning: channel 'wechat' has no provider");
    tu_run_release(&r);
}

/* The wechat channel's own consent and suppressions through the command
 * line, through the outbox: an openid suppressed with --channel wechat
 * (guessed, it would be push's), a contact opted out of wechat marketing;
 * reachable(wechat) and reachable(push) tell the openid from the push
 * tokens; the outbox writes wechat.jsonl; suppress --channel rejects a
 * channel that is not one. */
static void test_wechat_channel_cli(void **state)
{
    (void)state;
    char *conf = tu_path(dir, "o.conf"), text[1024];
    snprintf(text, sizeof text,
             "[herald]\ntemplates = tpl\ndatabase = %s\n"
             "[provider box]\ntype = outbox\npath = obox\n"
             "[channel wechat]\nproviders = box\n[channel sms]\nproviders = box\n",
             tu_both_store(&stores, "o.db"));
    tu_write(conf, text);
    free(conf);
    tu_put_template(dir, "o",
                    "category: marketing\n--- wechat.template_id\nTID\n"
                    "--- wechat.data\n{\"first\": \"{{id}}\"}\n--- sms\nhi {{id}}\n");
    char *csv = tu_path(dir, "o.csv");
    tu_write(csv, "id,phone,wechat_openid,jpush_id\n"
                  "a,+8613800000001,oTpl_o_a,\nb,,oTpl_o_b,1a0018970af2f2b0901\n"
                  "c,+8613800000003,,\nd,,oTpl_o_d,\n");
    free(csv);
    TU_HERALD_OK(dir, "-c", "o.conf", "init");
    TU_HERALD_OK(dir, "-c", "o.conf", "contacts", "import", "o.csv");
    TU_HERALD_OK(dir, "-c", "o.conf", "contacts", "optout", "a", "--channel", "wechat",
                 "--category", "marketing");
    TU_HERALD_OK(dir, "-c", "o.conf", "suppress", "add", "--channel", "wechat", "oTpl_o_b");
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-c", "o.conf", "suppress", "list", "--channel", "wechat", "--format",
              "csv", NULL);
    assert_contains(r.out, "oTpl_o_b,wechat,manual,");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "o.conf", "suppress", "add", "--channel", "fax", "x", NULL);
    assert_int_not_equal(r.status, 0);
    assert_contains(r.err, "--channel: 'fax' is not email, sms, push or wechat");
    tu_run_release(&r);
    /* an import names the channel per row; the inbox has no address */
    csv = tu_path(dir, "s.csv");
    tu_write(csv, "address,channel,reason\noTpl_o_imp,wechat,manual\n");
    TU_HERALD_OK(dir, "-c", "o.conf", "suppress", "import", "s.csv");
    tu_write(csv, "address,channel,reason\nk1,inbox,manual\n");
    tu_herald(&r, dir, NULL, "-c", "o.conf", "suppress", "import", "s.csv", NULL);
    assert_int_not_equal(r.status, 0);
    assert_contains(r.err, "field 'channel': 'inbox' is not email, sms, push or wechat");
    tu_run_release(&r);
    free(csv);
    tu_herald(&r, dir, NULL, "-c", "o.conf", "suppress", "list", "--format", "csv", NULL);
    assert_contains(r.out, "oTpl_o_imp,wechat,manual,");
    assert_not_contains(r.out, "k1,");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "o.conf", "segment", "count", "--expr", "reachable(wechat)",
              NULL);
    assert_string_equal(r.out, "1\n"); /* d: a opted out, b suppressed, c has none */
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "o.conf", "segment", "count", "--expr", "reachable(push)", NULL);
    assert_string_equal(r.out, "1\n"); /* b's JPush id; an openid is no push token */
    tu_run_release(&r);
    TU_HERALD_OK(dir, "-c", "o.conf", "segment", "define", "all", "id != \"\"");
    TU_HERALD_OK(dir, "-c", "o.conf", "campaign", "create", "oc", "--segment", "all", "--template",
                 "o", "--channels", "wechat,sms", "--now");
    TU_HERALD_OK(dir, "-c", "o.conf", "send", "oc", "--wait", "30s");
    json_t *l = tu_read_jsonl(dir, "obox/wechat.jsonl");
    assert_int_equal(json_array_size(l), 1);
    json_t *e = json_array_get(l, 0);
    assert_string_equal(json_string_value(json_object_get(e, "to")), "oTpl_o_d");
    assert_string_equal(json_string_value(json_object_get(e, "channel")), "wechat");
    assert_string_equal(json_string_value(json_object_get(e, "platform")), "wechat");
    json_decref(l);
    l = tu_read_jsonl(dir, "obox/sms.jsonl");
    assert_int_equal(json_array_size(l), 2); /* a (opted out of wechat) and c */
    json_decref(l);
    tu_herald(&r, dir, NULL, "-c", "o.conf", "why", "b", "oc", NULL);
    assert_contains(r.out, "wechat: address suppressed");
    tu_run_release(&r);
}

/* Migration 18 (WeChat a channel) on a database from before it: consent and suppressions
 * take the channel wechat, and an openid that push suppressed is the
 * wechat channel's; run again (a test taking a database back), it keeps
 * the rows. */
static void test_wechat_migration(void **state)
{
    (void)state;
    char *conf = tu_path(dir, "g.conf");
    tu_write(conf, "[herald]\ntemplates = tpl\ndatabase = g.db\n");
    free(conf);
    char *csv = tu_path(dir, "g.csv");
    tu_write(csv, "id,wechat_openid,jpush_id\ng1,oTpl_g_1,1a0018970af2f2b0911\n");
    free(csv);
    TU_HERALD_OK(dir, "-c", "g.conf", "init");
    TU_HERALD_OK(dir, "-c", "g.conf", "contacts", "import", "g.csv");
    char cmd[2048];
    /* as before 18: no wechat in either CHECK, the openid push's */
    snprintf(cmd, sizeof cmd,
             "sqlite3 '%s/g.db' \"" TU_UNDO_AFTER_18
             "CREATE TABLE s2 (address TEXT PRIMARY KEY, channel TEXT NOT "
             "NULL CHECK (channel IN ('email', 'sms', 'push')), reason TEXT NOT NULL, created_at "
             "INTEGER NOT NULL, detail TEXT, message_id INTEGER) WITHOUT ROWID; DROP TABLE "
             "suppressions; ALTER TABLE s2 RENAME TO suppressions; INSERT INTO suppressions "
             "VALUES ('oTpl_g_1', 'push', 'unregistered_token', 1, NULL, NULL), "
             "('1a0018970af2f2b0911', 'push', 'unregistered_token', 1, NULL, NULL); "
             "PRAGMA user_version = 17;\"",
             dir);
    assert_int_equal(system(cmd), 0);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-c", "g.conf", "suppress", "list", "--format", "csv", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "oTpl_g_1,wechat,unregistered_token,");
    assert_contains(r.out, "1a0018970af2f2b0911,push,unregistered_token,");
    tu_run_release(&r);
    TU_HERALD_OK(dir, "-c", "g.conf", "contacts", "optout", "g1", "--channel", "wechat");
    snprintf(cmd, sizeof cmd, "sqlite3 '%s/g.db' \"" TU_UNDO_AFTER_18 "PRAGMA user_version = 17;\"",
             dir);
    assert_int_equal(system(cmd), 0);
    tu_herald(&r, dir, NULL, "-c", "g.conf", "contacts", "show", "g1", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "wechat marketing      opted out  by cli");
    assert_contains(r.out, "wechat transactional  opted out  by cli");
    tu_run_release(&r);
    assert_int_equal(tu_sql1(dir, "g.db", "SELECT count(*) FROM suppressions"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wechat_classes),       cmocka_unit_test(test_wechat_provider_faults),
        cmocka_unit_test(test_wechat_shared_token),  cmocka_unit_test(test_wechat_refused),
        cmocka_unit_test(test_wechat_provider_test), cmocka_unit_test(test_wechat_campaign),
        cmocka_unit_test(test_wechat_channel_cli),   cmocka_unit_test(test_wechat_migration),
    };
    /* the cases with a store again, on PostgreSQL (the migration of an
     * old SQLite file stays SQLite) */
    const struct CMUnitTest tests_pg[] = {
        {"test_wechat_provider_test_pg", test_wechat_provider_test, NULL, NULL, NULL},
        {"test_wechat_campaign_pg", test_wechat_campaign, NULL, NULL, NULL},
        {"test_wechat_channel_cli_pg", test_wechat_channel_cli, NULL, NULL, NULL},
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    return rc | cmocka_run_group_tests(tests_pg, setup_pg, teardown);
}
