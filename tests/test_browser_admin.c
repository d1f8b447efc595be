/* test_browser_admin: the console's admin pages in headless Chromium
 * (issue 21). An admin signs in, adds an operator on the users page and
 * makes an API key (shown once), and finds both in the audit; the new
 * operator then signs in and sees no Users or API keys link, and gets 403
 * for the users page. The admin pages (users, API keys, a new key, which
 * test_browser_a11y's operator cannot open) are checked with axe-core in
 * English and Chinese, and every page here is screenshot 800 px wide
 * (the shared header's nav wraps there), fits it without scrolling
 * sideways (no_overflow), and the admin pages fit a phone too ("narrow":
 * their tables scroll in their own boxes, the page does not). The site (its folder, herald
 * serve on a free port, the admin) is testbrowser.h's tb_site, on a
 * SQLite store and again (`_pg`) on a PostgreSQL one. */
#include "testbrowser.h"

static struct tb_site site;

static const char tpl_promo[] =
    "description: admin test\ncategory: marketing\nfrom: Acme <hello@example.com>\n\n"
    "--- email.subject\nHello {{ first_name }}\n"
    "--- email.text\nHello.\nUnsubscribe: {{ unsubscribe_url }}\n";

static int setup_on(bool pg)
{
    tb_site_init_on(&site, pg, tpl_promo, "id,email,first_name,locale\nk1,k1@example.com,Ann,en\n");
    tb_site_user(&site, "root", "admin");
    tb_site_start(&site);
    return 0;
}

TB_ENGINE_SETUPS(setup_on)

static int teardown(void **state)
{
    (void)state;
    return tb_site_stop(&site);
}

static const char *const admin_en[] = {
    "sign_in root",
    "goto /console/ =200",
    "text root (admin)",
    "count header nav a[href='/console/users'] =1",
    "screenshot console-admin-overview-en.png",
    "no_overflow all",
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
    "no_overflow all",
    "narrow console-users-en-375.png",
    "click header nav a[href='/console/apikeys'] =200",
    "text No API key yet.",
    "fill #key-name =shop",
    "check input[name=scope][value=send]",
    "check input[name=scope][value=read]",
    "click #create-key button[type=submit] =201",
    "text it is shown only this once",
    "axe apikey-en",
    "screenshot console-apikey-en.png",
    "no_overflow all",
    "narrow console-apikey-en-375.png",
    "goto /console/apikeys =200",
    "text read,send",
    "axe apikeys-en",
    "screenshot console-apikeys-en.png",
    "no_overflow all",
    "narrow console-apikeys-en-375.png",
    "click header nav a[href='/console/audit'] =200",
    "text user_add",
    "text apikey_create",
    "text shop (read,send, 100/s)",
    "screenshot console-audit-en.png",
    "no_overflow all",
    "narrow console-audit-en-375.png",
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
    "no_overflow all",
    "goto /console/users =403",
    "goto /console/apikeys =403",
    NULL,
};

static const char *const admin_zh[] = {
    "sign_in root",
    "goto /console/users =200",
    "lang zh-CN",
    "text 添加用户",
    "text root (管理员)",
    "axe users-zh-CN",
    "screenshot console-users-zh-CN.png",
    "no_overflow all",
    "narrow console-users-zh-CN-375.png",
    "goto /console/apikeys =200",
    "text 创建密钥",
    "axe apikeys-zh-CN",
    "screenshot console-apikeys-zh-CN.png",
    "no_overflow all",
    "narrow console-apikeys-zh-CN-375.png",
    "goto /console/audit =200",
    "text 操作审计",
    "screenshot console-audit-zh-CN.png",
    "no_overflow all",
    "narrow console-audit-zh-CN-375.png",
    NULL,
};

static void test_browser_admin(void **state)
{
    (void)state;
    tb_site_drive(&site, json_pack("[o, o, o]", tb_scenario("admin-en", "en-US", "", admin_en),
                                   tb_scenario("operator-en", "en-US", "", operator_en),
                                   tb_scenario("admin-zh-CN", "zh-CN", "", admin_zh)));
    assert_int_equal(tb_site_q1(&site, "SELECT count(*) FROM users WHERE name = 'olga' AND role = "
                                       "'operator' AND hash LIKE '$argon2id$%'"),
                     1);
    assert_int_equal(tb_site_q1(&site,
                                "SELECT count(*) FROM api_keys WHERE name = 'shop' AND scopes "
                                "= 'read,send' AND revoked_at IS NULL"),
                     1);
    assert_int_equal(tb_site_q1(&site, "SELECT count(*) FROM audit_actions WHERE who = 'root' AND "
                                       "action IN ('user_add', 'apikey_create')"),
                     2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_browser_admin),
    };
    const struct CMUnitTest tests_pg[] = {
        {"test_browser_admin_pg", test_browser_admin, NULL, NULL, NULL},
    };
    int rc = cmocka_run_group_tests_name("sqlite", tests, setup, teardown);
    rc |= cmocka_run_group_tests_name("postgresql", tests_pg, setup_pg, teardown);
    return tb_end_session(rc);
}
