/* test_cnreceipts: delivery reports from Aliyun (SmsReport, HTTP batch
 * push) and Tencent Cloud (the SMS status callback) on `herald serve`
 * (issue 24). Campaigns go out through the real binary to the mocks
 * (tests/mock/aliyun.js, tencent.js), which push each accepted message's
 * report, as the gateways do, to the serve hook named with the provider's
 * callback_token; the reports must land in log, why, stats and the
 * suppression list (a number that does not exist suppressed, a handset
 * that was off not). The hooks' guards are asserted one by one: no token,
 * a wrong one, a provider of another type or without a token, a body that
 * is not a batch of reports (nothing kept), one too large, a batch sent
 * again (one row per report). The whole story runs on a SQLite file, then on
 * a PostgreSQL store. */
#include "testnet.h"

#include <jansson.h>
#include <sys/wait.h>
#include <time.h>

#define ALI_ID "LTAI5tHeraldTestKey01"
#define ALI_SECRET "ali-Secret-Key-90125"
#define TC_ID "AKIDheraldTestSecretId0001"
#define TC_SECRET "tc-Secret-Key-44617"
#define TC_APP "1400787878"
#define ALI_TOKEN "ali-hook-7Qm2xK9"
#define TC_TOKEN "tc-hook-Rb41Lz0"

static char *dir;
static struct tu_server ali, tc;
static const char *db = "h.db";   /* the store: "h.db" in dir, or pg_uri */
static char *pg_uri, pg_name[64]; /* the PostgreSQL run's database */
static pid_t serve;
static int port;

static const char ali_tpl[] = "category: marketing\n"
                              "--- sms.template_code\nSMS_154950909\n"
                              "--- sms.params\n{\"name\": \"{{first_name}}\"}\n"
                              "--- sms.approved_text\n【赫拉德】{{first_name}}，新品上架\n";
static const char tc_tpl[] = "category: marketing\n"
                             "--- sms.template_code\n1234567\n"
                             "--- sms.params\n[\"{{first_name}}\"]\n"
                             "--- sms.approved_text\n【赫拉德】{{first_name}}，新品上架\n";

/* name: both providers on the mocks' ports (0: not started yet) with
 * their callback tokens, and ali2 without one; [channel sms] as given. */
static void write_conf(const char *name, const char *providers)
{
    char *conf = tu_path(dir, name);
    struct hd_buf t;
    hd_buf_init(&t);
    hd_buf_addf(&t,
                "[herald]\ntemplates = tpl\ndatabase = %s\nlog_level = debug\n"
                "[serve]\npublic_url = http://127.0.0.1:8025\nsecret_file = var/herald.secret\n"
                "[provider ali]\ntype = aliyun_sms\nbase_url = http://127.0.0.1:%d\n"
                "access_key_id = %s\naccess_key_secret_env = TEST_ALI_SECRET\n"
                "sign_name = 赫拉德\ncallback_token_env = TEST_ALI_TOKEN\n"
                "[provider ali2]\ntype = aliyun_sms\nbase_url = http://127.0.0.1:9\n"
                "access_key_id = %s\naccess_key_secret_env = TEST_ALI_SECRET\n"
                "sign_name = 赫拉德\n"
                "[provider tc]\ntype = tencent_sms\nbase_url = http://127.0.0.1:%d\n"
                "secret_id = %s\nsecret_key_env = TEST_TC_SECRET\nsdk_app_id = %s\n"
                "sign_name = 赫拉德\ncallback_token_file = tc.token\n"
                "[channel sms]\nproviders = %s\n",
                db, ali.port ? ali.port : 9, ALI_ID, ALI_ID, tc.port ? tc.port : 9, TC_ID, TC_APP,
                providers);
    tu_write(conf, t.data);
    hd_buf_release(&t);
    free(conf);
}

static int setup_on(const char *store)
{
    db = store;
    dir = tu_tmpdir();
    setenv("HERALD_NOW", "2026-11-22T12:00:00Z", 1);
    setenv("TEST_ALI_SECRET", ALI_SECRET, 1);
    setenv("TEST_TC_SECRET", TC_SECRET, 1);
    setenv("TEST_ALI_TOKEN", ALI_TOKEN, 1);
    char *tok = tu_path(dir, "tc.token");
    tu_write(tok, TC_TOKEN "\n");
    chmod(tok, 0600);
    free(tok);
    tu_tpl_with_pages(dir);
    tu_put_template(dir, "ali", ali_tpl);
    tu_put_template(dir, "tc", tc_tpl);
    /* the service first (the mocks push to its port), then the mocks */
    write_conf("h.conf", "ali");
    setenv("HERALD_CONFIG", "h.conf", 1);
    TU_HERALD_OK(dir, "init");
    serve = tu_serve_start(dir, "127.0.0.1:0", &port);
    char ar[256], tr[256];
    snprintf(ar, sizeof ar, "http://127.0.0.1:%d/hooks/aliyun/ali/%s", port, ALI_TOKEN);
    snprintf(tr, sizeof tr, "http://127.0.0.1:%d/hooks/tencent/tc?token=%s", port, TC_TOKEN);
    const char *aa[] = {"--id",       ALI_ID,     "--secret", ALI_SECRET, "--log",
                        "aliyun.log", "--report", ar,         NULL};
    tu_start_mock(&ali, dir, "aliyun.js", aa);
    const char *ta[] = {"--id",  TC_ID,         "--secret", TC_SECRET, "--app", TC_APP,
                        "--log", "tencent.log", "--report", tr,        NULL};
    tu_start_mock(&tc, dir, "tencent.js", ta);
    write_conf("ali.conf", "ali");
    write_conf("tc.conf", "tc");
    return 0;
}

static int setup(void **state)
{
    (void)state;
    return setup_on("h.db");
}

/* The same on a fresh PostgreSQL database (tu_pg_db). */
static int setup_pg(void **state)
{
    (void)state;
    pg_uri = tu_pg_db(pg_name);
    return setup_on(pg_uri);
}

static int teardown(void **state)
{
    (void)state;
    int st = tu_serve_stop(serve);
    tu_server_stop(&ali);
    tu_server_stop(&tc);
    tu_rmdir(dir);
    if (pg_uri) {
        tu_pg_drop(pg_name);
        free(pg_uri);
        pg_uri = NULL;
    }
    db = "h.db";
    assert_int_equal(st, 0);
    return 0;
}

static int64_t q1(const char *sql)
{
    return tu_sql1(dir, db, sql);
}

/* POSTs the file body (in dir) to path; the status, the answer in out. */
static int post_file(const char *path, const char *body, char *out, size_t size)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "curl -s -g --max-time 10 -w '\\n%%{http_code}' -H 'Content-Type: application/json' "
             "--data-binary '@%s/%s' 'http://127.0.0.1:%d%s'",
             dir, body, port, path);
    char *r = tu_sh(cmd), *nl = strrchr(r, '\n');
    assert_non_null(nl);
    int code = atoi(nl + 1);
    *nl = '\0';
    snprintf(out, size, "%s", r);
    free(r);
    return code;
}

static int post(const char *path, const char *body, char *out, size_t size)
{
    char *p = tu_path(dir, "body.json");
    tu_write(p, body);
    free(p);
    return post_file(path, "body.json", out, size);
}

static char *herald_out(const char *conf, const char *a1, const char *a2, const char *a3,
                        const char *a4, const char *a5)
{
    struct tu_run r;
    tu_herald(&r, dir, NULL, "-c", conf, a1, a2, a3, a4, a5, NULL);
    if (r.status != 0)
        fail_msg("herald %s exited %d: %s %s", a1, r.status, r.out, r.err);
    char *out = hd_xstrdup(r.out);
    tu_run_release(&r);
    return out;
}

/* A campaign over the contacts of one wave through conf's provider: one
 * message delivered, one to a number that does not exist (...2001), one
 * to a handset that was off (...2002); sends exit 0 (all accepted). */
static void send_wave(const char *conf, const char *wave, const char *tpl)
{
    char rule[64];
    snprintf(rule, sizeof rule, "wave = \"%s\"", wave);
    TU_HERALD_OK(dir, "-c", conf, "segment", "define", wave, rule);
    TU_HERALD_OK(dir, "-c", conf, "campaign", "create", wave, "--segment", wave, "--template", tpl,
                 "--channels", "sms", "--now");
    TU_HERALD_OK(dir, "-c", conf, "send", wave, "--wait", "30s");
}

/* The mock's log: every report it pushed was answered 200 as the gateway
 * expects. The mock writes a push's line once it has read the answer,
 * which may be after herald has stored the reports (tu_wait_receipts): the
 * lines are waited for, 10 s at most. */
static void check_pushed(const char *log, const char *want, size_t reports)
{
    size_t n = 0;
    for (int tries = 0; tries < 100; tries++) {
        json_t *l = tu_read_jsonl(dir, log), *e;
        size_t i;
        n = 0;
        json_array_foreach(l, i, e)
        {
            if (!json_object_get(e, "report"))
                continue;
            assert_int_equal(json_integer_value(json_object_get(e, "status")), 200);
            assert_string_equal(json_string_value(json_object_get(e, "answer")), want);
            n += json_array_size(json_object_get(e, "report"));
        }
        json_decref(l);
        if (n >= reports)
            break;
        nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
    }
    assert_int_equal(n, reports);
}

static void check_audit(const char *wave, const char *bad, const char *off)
{
    char *st = herald_out("h.conf", "stats", wave, "--format", "json", NULL);
    assert_contains(st, "\"sent\": 3");
    assert_contains(st, "\"delivered\": 1");
    assert_contains(st, "\"undelivered\": 2");
    free(st);
    char *why = herald_out("h.conf", "why", bad, wave, NULL, NULL);
    assert_contains(why, "undelivered: MN:0001 空号; number does not exist, address suppressed");
    free(why);
    why = herald_out("h.conf", "why", off, wave, NULL, NULL);
    assert_contains(why, "undelivered: EXPIRED 短信过期; handset off or out of coverage");
    assert_true(strstr(why, "suppressed") == NULL);
    free(why);
}

static void test_cnreceipts_campaigns(void **state)
{
    (void)state;
    char *csv = tu_path(dir, "c.csv");
    tu_write(csv, "id,phone,first_name,wave\na1,+8613800000001,甲,a\na2,+8613800002001,乙,a\n"
                  "a3,+8613800002002,丙,a\nt1,+8613900000001,丁,t\nt2,+8613900002001,戊,t\n"
                  "t3,+8613900002002,己,t\n");
    free(csv);
    TU_HERALD_OK(dir, "contacts", "import", "c.csv");
    send_wave("ali.conf", "a", "ali");
    /* OutId names the message: its number, then its stable id */
    json_t *l = tu_read_jsonl(dir, "aliyun.log");
    const char *out_id =
        json_string_value(json_object_get(json_object_get(json_array_get(l, 0), "query"), "OutId"));
    assert_non_null(out_id);
    assert_true(strlen(out_id) == 38 && out_id[1] == ':');
    json_decref(l);
    tu_wait_receipts(dir, db, 3);
    send_wave("tc.conf", "t", "tc");
    tu_wait_receipts(dir, db, 6);
    check_pushed("aliyun.log", "{\"code\":0,\"msg\":\"接收成功\"}\n", 3);
    check_pushed("tencent.log", "{\"result\":0,\"errmsg\":\"OK\"}\n", 3);
    char *log = herald_out("h.conf", "log", "--outcome", "receipt", "--format", "jsonl");
    assert_int_equal(tu_count(log, "\"outcome\":\"receipt\""), 6);
    assert_int_equal(tu_count(log, "\"reason\":\"delivered\""), 2);
    assert_int_equal(tu_count(log, "\"reason\":\"undelivered\""), 4);
    assert_int_equal(tu_count(log, "\"provider\":\"ali\""), 3);
    assert_int_equal(tu_count(log, "\"provider\":\"tc\""), 3);
    free(log);
    check_audit("a", "a2", "a3");
    check_audit("t", "t2", "t3");
    char *sup = herald_out("h.conf", "suppress", "list", "--format", "csv", NULL);
    assert_contains(sup, "+8613800002001");
    assert_contains(sup, "+8613900002001");
    assert_true(strstr(sup, "+8613800002002") == NULL && strstr(sup, "+8613900002002") == NULL);
    assert_int_equal(tu_count(sup, "invalid_number"), 2);
    free(sup);
    assert_int_equal(q1("SELECT count(*) FROM messages WHERE state = 3"), 2); /* delivered */
    /* the request log (debug) names the route and the provider, never the
     * token the URL carries */
    char *sp = tu_path(dir, "serve.log"), *slog = tu_read(sp);
    assert_non_null(slog);
    assert_contains(slog, "POST /hooks/aliyun/ali/* 200");
    assert_not_contains(slog, ALI_TOKEN);
    assert_not_contains(slog, TC_TOKEN);
    free(slog);
    free(sp);
}

/* The guards: nothing is read or kept without the provider's token. */
static void test_cnreceipts_guards(void **state)
{
    (void)state;
    static const char one[] = "[{\"biz_id\":\"77^0\",\"success\":true,\"err_code\":\"DELIVERED\","
                              "\"out_id\":\"1:x\",\"report_time\":\"2026-11-22 20:00:01\"}]";
    static const struct {
        const char *path;
        int status;
        const char *says;
    } refused[] = {
        {"/hooks/aliyun/ali", 403, "forbidden: the URL's token is not"},
        {"/hooks/aliyun/ali/wrong-token", 403, "forbidden"},
        {"/hooks/aliyun/ali/" ALI_TOKEN "x", 403, "forbidden"},
        {"/hooks/aliyun/ali?token=ali-hook", 403, "forbidden"},
        {"/hooks/tencent/tc?token=" ALI_TOKEN, 403, "forbidden"},
        {"/hooks/tencent/tc/" TC_TOKEN "/more", 404, "not found"},
        {"/hooks/aliyun/tc/" TC_TOKEN, 404, "no such Aliyun provider"},
        {"/hooks/tencent/ali/" ALI_TOKEN, 404, "no such Tencent provider"},
        {"/hooks/aliyun/ali2/anything", 404, "the provider has no callback_token"},
        {"/hooks/aliyun//x", 404, "not found"},
    };
    char got[512];
    int64_t before = q1("SELECT count(*) FROM receipts");
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        int st = post(refused[i].path, one, got, sizeof got);
        if (st != refused[i].status || !strstr(got, refused[i].says))
            fail_msg("%s: %d '%s', want %d '%s'", refused[i].path, st, got, refused[i].status,
                     refused[i].says);
    }
    /* bodies that are not a batch of reports: 400, nothing kept */
    const char *ap = "/hooks/aliyun/ali/" ALI_TOKEN, *tp = "/hooks/tencent/tc?token=" TC_TOKEN;
    assert_int_equal(post(ap, "{\"biz_id\":\"1\"}", got, sizeof got), 400);
    assert_contains(got, "the body is not a JSON array of reports");
    assert_int_equal(
        post(ap, "[{\"biz_id\":\"78^0\",\"success\":true},{\"success\":false}]", got, sizeof got),
        400);
    assert_contains(got, "report 2: biz_id and success are required");
    assert_int_equal(post(tp, "[{\"sid\":\"s1\",\"report_status\":\"\"}]", got, sizeof got), 400);
    assert_contains(got, "report 1: sid and report_status are required");
    assert_int_equal(q1("SELECT count(*) FROM receipts"), before);
    /* too large: refused unread */
    char *big = tu_path(dir, "big.json");
    FILE *f = fopen(big, "w");
    assert_non_null(f);
    fputc('[', f);
    for (int i = 0; i < 6000; i++)
        fprintf(f,
                "%s{\"biz_id\":\"%d^0\",\"success\":true,\"err_code\":\"DELIVERED\","
                "\"err_msg\":\"用户接收成功\",\"out_id\":\"0\"}",
                i ? "," : "", i);
    fputc(']', f);
    fclose(f);
    free(big);
    assert_int_equal(post_file(ap, "big.json", got, sizeof got), 413);
    assert_int_equal(q1("SELECT count(*) FROM receipts"), before);
    /* a report for no message herald knows: kept, answered 200, pending;
     * the same batch again is the same row */
    assert_int_equal(post(ap, one, got, sizeof got), 200);
    assert_string_equal(got, "{\"code\":0,\"msg\":\"接收成功\"}\n");
    assert_int_equal(post(ap, one, got, sizeof got), 200);
    assert_int_equal(q1("SELECT count(*) FROM receipts"), before + 1);
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE applied_at IS NULL"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnreceipts_campaigns),
        cmocka_unit_test(test_cnreceipts_guards),
    };
    /* the same story on a PostgreSQL store */
    const struct CMUnitTest tests_pg[] = {
        {"test_cnreceipts_campaigns_pg", test_cnreceipts_campaigns, NULL, NULL, NULL},
        {"test_cnreceipts_guards_pg", test_cnreceipts_guards, NULL, NULL, NULL},
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    return rc | cmocka_run_group_tests(tests_pg, setup_pg, teardown);
}
