/* test_browser_admin: the console's admin pages in headless Chromium
 * (issue 21). An admin signs in, adds an operator on the users page and
 * makes an API key (shown once), and finds both in the audit; the new
 * operator then signs in and sees no Users or API keys link, and gets 403
 * for the users page. The admin pages (users, API keys, a new key, which
 * test_browser_a11y's operator cannot open) are checked with axe-core in
 * English and Chinese, and every page here is screenshot 800 px wide
 * (the shared header's nav wraps there). The setup's shape is
 * test_browser_a11y.c's: the test's own folder, herald serve on a free
 * port, the admin made with `herald user add --password-file`. */
#include "testbrowser.h"

static char *dir;   /* the test's folder: store, Chromium's HOME and TMPDIR */
static char *shots; /* where screenshots and axe's findings go (kept) */
static pid_t serve;
static int port;

static const char tpl_promo[] =
    "description: admin test\ncategory: marketing\nfrom: Acme <hello@example.com>\n\n"
    "--- email.subject\nHello {{ first_name }}\n"
    "--- email.text\nHello.\nUnsubscribe: {{ unsubscribe_url }}\n";

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    tb_need_playwright();
    shots = tb_shots_dir();
    port = tb_free_port();
    setenv("HERALD_CONFIG", "h.conf", 1);
    unsetenv("HERALD_NOW");
    char conf[512], *cp = tu_path(dir, "h.conf");
    snprintf(conf, sizeof conf,
             "[herald]\ndatabase = h.db\ntemplates = tpl\n[serve]\nlisten = 127.0.0.1:%d\n"
             "public_url = http://127.0.0.1:%d\nsecret_file = var/herald.secret\n",
             port, port);
    tu_write(cp, conf);
    free(cp);
    const char *argv[] = {"mkdir", "home", "tmp", NULL};
    tu_run_in(dir, argv);
    tu_serve_store(dir, tpl_promo, "id,email,first_name,locale\nk1,k1@example.com,Ann,en\n");
    char *pw = tu_path(dir, "pw");
    tu_write(pw, "correct horse 1\n");
    free(pw);
    TU_HERALD_OK(dir, "user", "add", "root", "--role", "admin", "--password-file", "pw");
    char listen[64];
    int got = 0;
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    serve = tu_serve_start(dir, listen, &got);
    assert_int_equal(got, port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int st = serve > 0 ? tu_serve_stop(serve) : 0;
    if (getenv("HERALD_KEEP_TEST_DIR"))
        printf("kept %s\n", dir);
    else
        tu_rmdir(dir); /* frees it */
    free(shots);
    return st == 0 ? 0 : -1;
}

static const char *const admin_en[] = {
    "goto /console/login =200",
    "fill #name =root",
    "fill #password =correct horse 1",
    "click button[type=submit] =303",
    "goto /console/ =200",
    "text root (admin)",
    "count header nav a[href='/console/users'] =1",
    "screenshot console-admin-overview-en.png",
    "click header nav a[href='/console/users'] =200",
    "text Add a user",
    "axe users-en",
    "fill #new-name =olga",
    "select #new-role =operator",
    "fill #new-password =olga's password",
    "fill #new-password2 =olga's password",
    "click #add-user button[type=submit] =303",
    "text Added user olga.",
    "count #users tbody tr =2",
    "screenshot console-users-en.png",
    "click header nav a[href='/console/apikeys'] =200",
    "text No API key yet.",
    "fill #key-name =shop",
    "check input[name=scope][value=send]",
    "check input[name=scope][value=read]",
    "click #create-key button[type=submit] =201",
    "text it is shown only this once",
    "axe apikey-en",
    "screenshot console-apikey-en.png",
    "goto /console/apikeys =200",
    "text read,send",
    "axe apikeys-en",
    "screenshot console-apikeys-en.png",
    "click header nav a[href='/console/audit'] =200",
    "text user_add",
    "text apikey_create",
    "text shop (read,send, 100/s)",
    "screenshot console-audit-en.png",
    "click header button[type=submit] =303",
    NULL,
};

static const char *const operator_en[] = {
    "goto /console/login =200",
    "fill #name =olga",
    "fill #password =olga's password",
    "click button[type=submit] =303",
    "goto /console/ =200",
    "text olga (operator)",
    "count header nav a[href='/console/users'] =0",
    "count header nav a[href='/console/apikeys'] =0",
    "count header nav a[href='/console/campaigns/new'] =1",
    "screenshot console-operator-overview-en.png",
    "goto /console/users =403",
    "goto /console/apikeys =403",
    NULL,
};

static const char *const admin_zh[] = {
    "goto /console/login =200",
    "fill #name =root",
    "fill #password =correct horse 1",
    "click button[type=submit] =303",
    "goto /console/users =200",
    "lang zh-CN",
    "text 添加用户",
    "text root (管理员)",
    "axe users-zh-CN",
    "screenshot console-users-zh-CN.png",
    "goto /console/apikeys =200",
    "text 创建密钥",
    "axe apikeys-zh-CN",
    "screenshot console-apikeys-zh-CN.png",
    "goto /console/audit =200",
    "text 操作审计",
    "screenshot console-audit-zh-CN.png",
    NULL,
};

static void test_browser_admin(void **state)
{
    (void)state;
    tb_drive(dir, shots, port,
             json_pack("[o, o, o]", tb_scenario("admin-en", "en-US", "", admin_en),
                       tb_scenario("operator-en", "en-US", "", operator_en),
                       tb_scenario("admin-zh-CN", "zh-CN", "", admin_zh)));
    assert_int_equal(tu_q1(dir, "SELECT count(*) FROM users WHERE name = 'olga' AND role = "
                                "'operator' AND hash LIKE '$argon2id$%'"),
                     1);
    assert_int_equal(tu_q1(dir, "SELECT count(*) FROM api_keys WHERE name = 'shop' AND scopes "
                                "= 'read,send' AND revoked_at IS NULL"),
                     1);
    assert_int_equal(tu_q1(dir, "SELECT count(*) FROM audit_actions WHERE who = 'root' AND "
                                "action IN ('user_add', 'apikey_create')"),
                     2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_browser_admin),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
