/* test_cnmix: one campaign over the gateways of mainland China at once
 * (issue 24's end-to-end fallback): contacts with different addresses (a
 * JPush registration id, a Huawei token, a WeChat openid, only a phone,
 * and mixes of them), some refused by the mocks in tests/mock (jpush.js,
 * hms.js, wechat.js; SMS through Aliyun's aliyun.js, which verifies each
 * request's signature), sent by `herald send` with --channels
 * push,wechat,sms, [channel push] = jpush then hms_push and fallback on.
 * Each contact's delivery log is read back as its trail of channel,
 * provider and outcome, oldest first, and compared whole; then what the
 * refusals left behind: the refused tokens and openid suppressed (each on
 * its channel), the user who unfollowed the account (43004) opted out of
 * the wechat channel's marketing by the gateway and not suppressed, and
 * `herald why` saying each. A second campaign, its SMS through Tencent
 * Cloud (tencent.js; tc.conf's [channel sms]), proves that those stay: no
 * request reaches a gateway for a suppressed or opted-out address.
 * `herald serve` runs throughout and both SMS mocks push each accepted
 * message's delivery report to its hook (/hooks/aliyun/ali/TOKEN,
 * /hooks/tencent/tc/TOKEN); each campaign waits, bounded, until its
 * receipts are applied, then reads them from its log beside the trails:
 * delivered, and undelivered for the number that does not exist
 * (...2001), which `why` explains and the second campaign passes over as
 * suppressed; `herald log --outcome receipt` lists them all by gateway.
 * The whole story runs on a SQLite file, then on a PostgreSQL store. */
#include "testnet.h"

#include <jansson.h>
#include <sys/stat.h>
#include <time.h>

#define JP_KEY "4f7aeb5d1b2c3a4e5f6a7b8c"
#define JP_SECRET "jp-Master-Secret-31337"
#define HMS_APP "104758231"
#define HMS_SECRET "hms-Client-Secret-27182"
#define WX_APP "wx0123456789abcdef"
#define WX_SECRET "wx-App-Secret-5521"
#define ALI_ID "LTAI5tHeraldTestKey01"
#define ALI_SECRET "ali-Secret-Key-90125"
#define TC_ID "AKIDheraldTestSecretId0001"
#define TC_SECRET "tc-Secret-Key-44617"
#define TC_APP "1400787878"
#define ALI_TOKEN "ali-hook-Mx7Lq2p"
#define TC_TOKEN "tc-hook-W9c3Nd4"
#define HT "IQAAAACy0kYdAACQ9Zx3pBq7" /* the start of every Huawei token here */

static const char *db = "m.db";   /* the store: "m.db" in dir, or pg_uri */
static char *pg_uri, pg_name[64]; /* the PostgreSQL run's database */
static char *dir;
static struct tu_server jp, hw, wx, ali, tc;
static pid_t serve;

/* Every part but SMS's, which differ per gateway: Aliyun's template code
 * with named parameters, Tencent's template id with them in order. */
#define SALE_PARTS                                                                                 \
    "category: marketing\n"                                                                        \
    "--- push.title\n双十一\n--- push.body\n{{first_name}}，全场五折\n"                    \
    "--- wechat.template_id\nngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY\n"                        \
    "--- wechat.data\n{\"first\": \"{{first_name}}，全场五折\"}\n"                            \
    "--- wechat.url\nhttps://shop.example.com/sale\n"                                              \
    "--- sms.approved_text\n【赫拉德】{{first_name}}，全场五折，回T退订\n"

/* name: every provider on its mock's port (9 until the mock runs), the
 * SMS ones with their callback tokens, and [channel sms] = sms. */
static void write_conf(const char *name, const char *sms)
{
    char *conf = tu_path(dir, name);
    struct hd_buf t;
    hd_buf_init(&t);
    hd_buf_addf(&t,
                "[herald]\ntemplates = tpl\ndatabase = %s\n"
                "[serve]\npublic_url = https://herald.example.com\n"
                "secret_file = var/herald.secret\n"
                "[provider jp]\ntype = jpush\nbase_url = http://127.0.0.1:%d\napp_key = %s\n"
                "master_secret_env = TEST_JP_SECRET\n"
                "[provider hw]\ntype = hms_push\nbase_url = http://127.0.0.1:%d\n"
                "auth_url = http://127.0.0.1:%d\napp_id = %s\nclient_secret_env = TEST_HMS_SECRET\n"
                "[provider wx]\ntype = wechat\nbase_url = http://127.0.0.1:%d\napp_id = %s\n"
                "app_secret_env = TEST_WX_SECRET\n"
                "[provider ali]\ntype = aliyun_sms\nbase_url = http://127.0.0.1:%d\n"
                "access_key_id = %s\naccess_key_secret_env = TEST_ALI_SECRET\nsign_name = 赫拉德\n"
                "callback_token_env = TEST_ALI_TOKEN\n"
                "[provider tc]\ntype = tencent_sms\nbase_url = http://127.0.0.1:%d\n"
                "secret_id = %s\nsecret_key_env = TEST_TC_SECRET\nsdk_app_id = %s\n"
                "sign_name = 赫拉德\ncallback_token_env = TEST_TC_TOKEN\n"
                "[channel push]\nproviders = jp, hw\n[channel wechat]\nproviders = wx\n"
                "[channel sms]\nproviders = %s\n",
                db, jp.port, JP_KEY, hw.port, hw.port, HMS_APP, wx.port, WX_APP,
                ali.port ? ali.port : 9, ALI_ID, tc.port ? tc.port : 9, TC_ID, TC_APP, sms);
    tu_write(conf, t.data);
    hd_buf_release(&t);
    free(conf);
}

/* The SMS mocks, reporting into the service on port: started after it. */
static void start_sms_mocks(int port)
{
    char ar[256], tr[256];
    snprintf(ar, sizeof ar, "http://127.0.0.1:%d/hooks/aliyun/ali/%s", port, ALI_TOKEN);
    snprintf(tr, sizeof tr, "http://127.0.0.1:%d/hooks/tencent/tc/%s", port, TC_TOKEN);
    const char *aa[] = {"--id",       ALI_ID,     "--secret", ALI_SECRET, "--log",
                        "aliyun.log", "--report", ar,         NULL};
    tu_start_mock(&ali, dir, "aliyun.js", aa);
    const char *ta[] = {"--id",  TC_ID,         "--secret", TC_SECRET, "--app", TC_APP,
                        "--log", "tencent.log", "--report", tr,        NULL};
    tu_start_mock(&tc, dir, "tencent.js", ta);
}

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    setenv("TEST_JP_SECRET", JP_SECRET, 1);
    setenv("TEST_HMS_SECRET", HMS_SECRET, 1);
    setenv("TEST_WX_SECRET", WX_SECRET, 1);
    setenv("TEST_ALI_SECRET", ALI_SECRET, 1);
    setenv("TEST_TC_SECRET", TC_SECRET, 1);
    setenv("TEST_ALI_TOKEN", ALI_TOKEN, 1);
    setenv("TEST_TC_TOKEN", TC_TOKEN, 1);
    setenv("HERALD_CONFIG", "m.conf", 1); /* herald serve's */
    const char *ja[] = {"--key", JP_KEY, "--secret", JP_SECRET, "--log", "jpush.log", NULL};
    tu_start_mock(&jp, dir, "jpush.js", ja);
    const char *ha[] = {"--app",    HMS_APP, "--client", HMS_APP, "--secret",
                        HMS_SECRET, "--log", "hms.log",  NULL};
    tu_start_mock(&hw, dir, "hms.js", ha);
    const char *wa[] = {"--appid", WX_APP, "--secret", WX_SECRET, "--log", "wechat.log", NULL};
    tu_start_mock(&wx, dir, "wechat.js", wa);
    tu_tpl_with_pages(dir);
    tu_put_template(dir, "sale",
                    SALE_PARTS "--- sms.template_code\nSMS_154950909\n"
                               "--- sms.params\n{\"name\": \"{{first_name}}\"}\n");
    tu_put_template(dir, "sale_tc",
                    SALE_PARTS "--- sms.template_code\n1234567\n"
                               "--- sms.params\n[\"{{first_name}}\"]\n");
    /* the service first (the SMS mocks push to its port), then those mocks */
    write_conf("m.conf", "ali");
    TU_HERALD_OK(dir, "-c", "m.conf", "init");
    int port;
    serve = tu_serve_start(dir, "127.0.0.1:0", &port);
    start_sms_mocks(port);
    write_conf("m.conf", "ali");
    write_conf("tc.conf", "tc");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_server_stop(&jp);
    tu_server_stop(&hw);
    tu_server_stop(&wx);
    int st = tu_serve_stop(serve);
    tu_server_stop(&ali);
    tu_server_stop(&tc);
    tu_rmdir(dir);
    if (pg_uri) {
        tu_pg_drop(pg_name);
        free(pg_uri);
        pg_uri = NULL;
    }
    db = "m.db";
    assert_int_equal(st, 0);
    return 0;
}

/* The same with the store on a fresh PostgreSQL database. */
static int setup_pg(void **state)
{
    pg_uri = tu_pg_db(pg_name);
    db = pg_uri;
    return setup(state);
}

/* The contact's log rows, oldest first (the log lists the newest first),
 * as "channel/provider outcome" joined by "; "; rows without a provider
 * (the claim's decisions) as "skipped reason". With receipts, only the
 * receipts, as "channel/provider state"; without, all but them (a receipt
 * is at the gateway's report time, in whole seconds: it may sort before
 * the acceptance it reports on). */
static void trail(const char *log, const char *contact, bool receipts, char *out, size_t n)
{
    out[0] = '\0';
    for (const char *line = log; line && *line;) {
        const char *nl = strchr(line, '\n');
        json_t *j = json_loadb(line, nl ? (size_t)(nl - line) : strlen(line), 0, NULL);
        const char *c = json_string_value(json_object_get(j, "contact")),
                   *ch = json_string_value(json_object_get(j, "channel")),
                   *p = json_string_value(json_object_get(j, "provider")),
                   *o = json_string_value(json_object_get(j, "outcome")),
                   *why = json_string_value(json_object_get(j, "reason"));
        if (c && strcmp(c, contact) == 0 && o && (strcmp(o, "receipt") == 0) == receipts) {
            char *was = hd_xstrdup(out), step[160];
            if (receipts)
                snprintf(step, sizeof step, "%s/%s %s", ch ? ch : "-", p ? p : "-",
                         why ? why : "-");
            else if (p)
                snprintf(step, sizeof step, "%s/%s %s", ch ? ch : "-", p, o);
            else
                snprintf(step, sizeof step, "%s %s", o, why ? why : "-");
            snprintf(out, n, "%s%s%s", step, *was ? "; " : "", was);
            free(was);
        }
        json_decref(j);
        line = nl ? nl + 1 : NULL;
    }
}

static void expect_rows(const char *log, const char *contact, bool receipts, const char *want)
{
    char got[1024];
    trail(log, contact, receipts, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got '%s', want '%s'\n%s", contact, got, want, log);
}

static void expect_trail(const char *log, const char *contact, const char *want)
{
    expect_rows(log, contact, false, want);
}

/* The delivery reports that came back for the contact's messages. */
static void expect_receipts(const char *log, const char *contact, const char *want)
{
    expect_rows(log, contact, true, want);
}

/* Creates campaign NAME over every contact with template tpl and sends it
 * with `herald send -c conf`; waits, bounded, until `receipts` reports in
 * all have been applied; returns its log (JSON lines, newest first). */
static char *run_campaign(const char *name, const char *conf, const char *tpl, int64_t receipts)
{
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-c", conf, "campaign", "create", name, "--segment", "all",
              "--template", tpl, "--channels", "push,wechat,sms", "--fallback-on-failure", "--now",
              NULL);
    if (r.status != 0)
        fail_msg("campaign create: %s", r.err);
    tu_run_release(&r);
    /* 3: a message failed, when the undelivered report came in before
     * send's summary (the reports race it) */
    tu_herald(&r, dir, NULL, "-c", conf, "send", name, "--wait", "60s", NULL);
    if (r.status != 0 && r.status != 3)
        fail_msg("send: %s %s", r.out, r.err);
    tu_run_release(&r);
    tu_wait_receipts(dir, db, receipts);
    tu_herald(&r, dir, NULL, "-c", conf, "log", "--campaign", name, "--format", "jsonl", NULL);
    char *out = hd_xstrdup(r.out);
    tu_run_release(&r);
    return out;
}

/* `herald why CONTACT CAMPAIGN` holds each of the texts, in order. */
static void expect_why(const char *contact, const char *campaign, const char *const *says)
{
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-c", "m.conf", "why", contact, campaign, NULL);
    if (r.status != 0)
        fail_msg("why %s: %s", contact, r.err);
    const char *at = r.out;
    for (size_t i = 0; says[i]; i++) {
        const char *hit = strstr(at, says[i]);
        if (!hit)
            fail_msg("why %s %s: no \"%s\" (in order) in:\n%s", contact, campaign, says[i], r.out);
        at = hit + strlen(says[i]);
    }
    tu_run_release(&r);
}

/* How many requests of the mock's log (dir/file) name value anywhere. */
static size_t requests_naming(const char *file, const char *value)
{
    char *p = tu_path(dir, file), *text = tu_read(p);
    size_t n = tu_count(text, value);
    free(text);
    free(p);
    return n;
}

static const char contacts_csv[] =
    "id,first_name,phone,jpush_id,hms_token,wechat_openid\n"
    /* one address each, all taken */
    "m1,张三,,1a0018970af2f2b0501,,\n"
    "m2,李四,,," HT "m2ok,\n"
    "m3,王五,,,,oTpl_mix_ok03\n"
    "m4,赵六,+8613800000404,,,\n"
    /* JPush does not know the id (1011): Huawei takes the next token */
    "m5,钱七,+8613800000505,1a0018970af2f2b1011," HT "m5ok,\n"
    /* Huawei refuses the token (80300007): the wechat channel */
    "m6,孙八,+8613800000606,," HT "m60007,oTpl_mix_ok06\n"
    /* not following the account (43004): SMS */
    "m7,周九,+8613800000707,,,oTpl_mix_43004\n"
    /* every token and the openid refused: SMS at last */
    "m8,吴十,+8613800000808,1a0018970af2f2b1011," HT "m80007,oTpl_mix_40003\n"
    /* a number that does not exist: accepted, then reported undelivered */
    "m9,郑一,+8613800002001,,,\n";

static void test_cnmix_fallback(void **state)
{
    (void)state;
    char *csv = tu_path(dir, "m.csv");
    tu_write(csv, contacts_csv);
    free(csv);
    TU_HERALD_OK(dir, "-c", "m.conf", "contacts", "import", "m.csv");
    TU_HERALD_OK(dir, "-c", "m.conf", "segment", "define", "all", "id != \"\"");
    char *log = run_campaign("mix1", "m.conf", "sale", 4);
    expect_trail(log, "m1", "push/jp accepted");
    expect_trail(log, "m2", "push/hw accepted");
    expect_trail(log, "m3", "wechat/wx accepted");
    expect_trail(log, "m4", "sms/ali accepted");
    expect_trail(log, "m5", "push/jp permanent; push/hw accepted");
    expect_trail(log, "m6", "push/hw permanent; wechat/wx accepted");
    expect_trail(log, "m7", "wechat/wx permanent; sms/ali accepted");
    expect_trail(log, "m8",
                 "push/jp permanent; push/hw permanent; wechat/wx permanent; sms/ali accepted");
    expect_trail(log, "m9", "sms/ali accepted");
    /* each SMS's report came back through the Aliyun hook */
    expect_receipts(log, "m4", "sms/ali delivered");
    expect_receipts(log, "m7", "sms/ali delivered");
    expect_receipts(log, "m8", "sms/ali delivered");
    expect_receipts(log, "m9", "sms/ali undelivered");
    expect_receipts(log, "m1", "");
    expect_receipts(log, "m3", "");
    assert_contains(log, "falling back from this push provider to the contact's next token");
    assert_contains(log, "falling back from push: ");
    assert_contains(log, "falling back from wechat: 43004 require subscribe");
    assert_contains(log, "falling back from wechat: 40003 invalid openid");
    free(log);
    /* what each gateway got: the rendered parts, the approved template */
    json_t *l = tu_read_jsonl(dir, "aliyun.log"), *e;
    size_t i, sms = 0;
    json_array_foreach(l, i, e)
    {
        json_t *q = json_object_get(e, "query");
        const char *to = json_string_value(json_object_get(q, "PhoneNumbers"));
        if (to &&
            strcmp(json_string_value(json_object_get(q, "TemplateCode")), "SMS_154950909") == 0)
            sms++;
        if (to && strstr(to, "13800000707"))
            assert_string_equal(json_string_value(json_object_get(q, "TemplateParam")),
                                "{\"name\":\"周九\"}");
    }
    assert_int_equal(sms, 4); /* m4, m7, m8 and m9 */
    json_decref(l);

    /* the refusals left: each refused address suppressed on its channel */
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-c", "m.conf", "suppress", "list", "--format", "csv", NULL);
    assert_contains(r.out, "1a0018970af2f2b1011,push,unregistered_token,");
    assert_contains(r.out, HT "m60007,push,unregistered_token,");
    assert_contains(r.out, HT "m80007,push,unregistered_token,");
    assert_contains(r.out, "oTpl_mix_40003,wechat,invalid_openid,");
    assert_not_contains(r.out, "oTpl_mix_43004"); /* an opt-out, not a bad address */
    assert_not_contains(r.out, "m5ok");
    assert_contains(r.out, "+8613800002001,sms,invalid_number,"); /* by its receipt */
    tu_run_release(&r);

    /* why says each */
    expect_why("m5", "mix1",
               (const char *const[]){"push was chosen",
                                     "by push via jp to 1a0018970af2f2b1011: "
                                     "permanent, bad_address",
                                     "by push via hw to " HT "m5ok: accepted", NULL});
    expect_why("m6", "mix1",
               (const char *const[]){"by push via hw to " HT "m60007: permanent, bad_address",
                                     "by wechat via wx to oTpl_mix_ok06: accepted", NULL});
    expect_why("m7", "mix1",
               (const char *const[]){"by wechat via wx to oTpl_mix_43004: permanent, opted_out",
                                     "by sms via ali to +8613800000707: accepted",
                                     "wechat marketing      opted out  by gateway at", NULL});
    expect_why("m8", "mix1",
               (const char *const[]){"by push via jp to 1a0018970af2f2b1011: permanent",
                                     "by push via hw to " HT "m80007: permanent",
                                     "by wechat via wx to oTpl_mix_40003: permanent, bad_address",
                                     "by sms via ali to +8613800000808: accepted",
                                     "now: delivered.", NULL});
    /* the report's time is the gateway's, in whole seconds: before or
     * after the acceptance in the story, so checked apart from it */
    expect_why("m8", "mix1", (const char *const[]){"delivered at ", " (reported by ali)", NULL});
    expect_why("m9", "mix1",
               (const char *const[]){"by sms via ali to +8613800002001: accepted",
                                     "now: undelivered.", NULL});
    expect_why("m9", "mix1",
               (const char *const[]){"undelivered: MN:0001 空号; number does not exist, "
                                     "address suppressed (reported by ali)",
                                     NULL});

    /* a second campaign: the suppressed and the opted-out are passed over
     * by the claim, and no gateway hears of them again */
    size_t jp_before = requests_naming("jpush.log", "1a0018970af2f2b1011"),
           hw_before = requests_naming("hms.log", HT "m80007"),
           wx_before = requests_naming("wechat.log", "oTpl_mix_43004") +
                       requests_naming("wechat.log", "oTpl_mix_40003");
    log = run_campaign("mix2", "tc.conf", "sale_tc", 4 + 3);
    expect_trail(log, "m4", "sms/tc accepted");
    expect_trail(log, "m5", "push/hw accepted");
    expect_trail(log, "m6", "wechat/wx accepted");
    expect_trail(log, "m7", "sms/tc accepted");
    expect_trail(log, "m8", "sms/tc accepted");
    expect_trail(log, "m9", "skipped suppressed");
    expect_receipts(log, "m4", "sms/tc delivered");
    expect_receipts(log, "m7", "sms/tc delivered");
    expect_receipts(log, "m8", "sms/tc delivered");
    expect_receipts(log, "m9", "");
    /* the claim says why it passed over the first two channels */
    assert_contains(log, "\"contact\":\"m7\"");
    assert_contains(log, "\"skipped\": [[\"push\", \"no_address\"], [\"wechat\", \"opted_out\"]]");
    assert_contains(log, "\"skipped\": [[\"push\", \"suppressed\"], [\"wechat\", \"suppressed\"]]");
    free(log);
    assert_int_equal(requests_naming("jpush.log", "1a0018970af2f2b1011"), jp_before);
    assert_int_equal(requests_naming("hms.log", HT "m80007"), hw_before);
    assert_int_equal(requests_naming("wechat.log", "oTpl_mix_43004") +
                         requests_naming("wechat.log", "oTpl_mix_40003"),
                     wx_before);
    expect_why("m7", "mix2",
               (const char *const[]){"by sms via tc to +8613800000707: accepted", NULL});

    /* the receipts as the operator lists them: every SMS, by its gateway */
    tu_herald(&r, dir, NULL, "-c", "m.conf", "log", "--outcome", "receipt", "--format", "jsonl",
              NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(tu_count(r.out, "\"outcome\":\"receipt\""), 7);
    assert_int_equal(tu_count(r.out, "\"provider\":\"ali\""), 4);
    assert_int_equal(tu_count(r.out, "\"provider\":\"tc\""), 3);
    assert_int_equal(tu_count(r.out, "\"state\":\"delivered\""), 6);
    assert_int_equal(tu_count(r.out, "\"state\":\"undelivered\""), 1);
    tu_run_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnmix_fallback),
    };
    const struct CMUnitTest tests_pg[] = {
        {"test_cnmix_fallback_pg", test_cnmix_fallback, NULL, NULL, NULL},
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    return rc | cmocka_run_group_tests(tests_pg, setup_pg, teardown);
}
