/* test_browser_tpl: the console's templates and segments pages in a real
 * browser (issue 21), Debian's headless Chromium driven by
 * tests/browser/drive.js (tests/testbrowser.h), against the real `herald
 * serve` on a free 127.0.0.1 port in a folder of its own. A zh-CN template
 * is previewed for a Chinese contact and its rendered subject read out of
 * the email's sandboxed iframe (frame_text); a rule is typed into the
 * segment editor and its count watched as the page's script updates it
 * (wait_text), through a parse error shown at its line and column, then
 * saved by an operator (and the CLI agrees); a viewer's editor has no Save.
 * Every page fits 800 px without scrolling sideways, and the previews,
 * the segment editor's error and the list fit a phone too ("narrow").
 * Screenshots of both pages in English and Chinese go to the output folder
 * ($HERALD_TEST_OUT, else test-output/browser beside the binary; pg/ there
 * for the cases run again, `_pg`, on a PostgreSQL store). */
#include "testbrowser.h"

static struct tb_site site; /* herald serve, its folder and port */

static const char tpl_promo[] =
    "description: spring sale\ncategory: marketing\nfrom: Acme <hello@example.com>\n\n"
    "--- email.subject\nSpring sale, {{ first_name }}\n"
    "--- email.text\nHello {{ first_name }}.\nUnsubscribe: {{ unsubscribe_url }}\n";

static const char tpl_welcome[] =
    "description: a welcome in two languages\ncategory: transactional\n"
    "from: Acme <hello@example.com>\n\n"
    "--- email.subject\nWelcome, {{ first_name }}\n"
    "--- email.html\n<div style=\"font-family:sans-serif;padding:1em\">"
    "<h1 id=\"hello\" style=\"color:#1f5fbf\">Welcome, {{ first_name }}</h1>"
    "<p>Your account is ready.</p></div>\n"
    "--- sms\nHi {{ first_name }}, welcome to Acme.\n"
    "--- push.title\nWelcome\n--- push.body\nTap to set up your account, {{ first_name }}\n"
    "--- inbox.title\nWelcome aboard\n--- inbox.body\nRead **this** first.\n";

static const char tpl_welcome_zh[] =
    "--- email.subject\n欢迎你，{{ first_name }}\n"
    "--- email.html\n<div style=\"padding:1em\"><h1 id=\"hello\">欢迎你，{{ first_name }}</h1>"
    "<p>你的账户已经开通。</p></div>\n"
    "--- sms\n{{ first_name }}，欢迎加入 Acme。\n"
    "--- push.title\n欢迎\n--- push.body\n点这里完成设置，{{ first_name }}\n";

static void write_in(const char *name, const char *text)
{
    char *p = tu_path(site.dir, name);
    tu_write(p, text);
    free(p);
}

static int setup_on(bool pg)
{
    tb_site_init_on(&site, pg, tpl_promo,
                    "id,email,first_name,locale\nb1,b1@example.com,Ann,en\n"
                    "b2,b2@example.com,波,zh-CN\nb3,b3@example.com,Cy,en\n"
                    "b4,b4@example.com,迪,zh-CN\n");
    write_in("tpl/welcome.tmpl", tpl_welcome);
    write_in("tpl/welcome.zh-CN.tmpl", tpl_welcome_zh);
    tb_site_user(&site, "opa", "operator");
    tb_site_user(&site, "ann", "viewer");
    tb_site_start(&site);
    return 0;
}

TB_ENGINE_SETUPS(setup_on)

static int teardown(void **state)
{
    (void)state;
    return tb_site_stop(&site);
}

/* The scenarios: one step a line (tests/testbrowser.h); a value has no
 * " =" in it, so the rules are written without a space before '=='. */
static const char *const templates_zh[] = {
    "sign_in ann",
    "goto /console/templates =200",
    "lang zh-CN",
    "text 模板",
    "text 邮件、短信、推送通知、站内信",
    "screenshot console-templates-zh-CN.png",
    "no_overflow all",
    "click a[href='/console/templates/welcome'] =200",
    "fill input[name=contact] =b2@example.com",
    "click #tpl-choose button[type=submit] =200",
    "text 预览对象：联系人 b2",
    "wait_text #subject =欢迎你，波",
    "frame_text iframe#email-frame|#hello =欢迎你，波",
    "wait_text #sms-encoding =UCS-2",
    "wait_text #push-title =欢迎",
    "scroll section.tpl-email",
    "screenshot console-template-zh-CN.png",
    "no_overflow all",
    "narrow console-template-zh-CN-375.png",
    "scroll section.tpl-sms",
    "screenshot console-template-sms-push-zh-CN.png",
    "no_overflow all",
    NULL,
};

static const char *const templates_en[] = {
    "sign_in ann",
    "goto /console/templates =200",
    "text no findings",
    "screenshot console-templates-en.png",
    "no_overflow all",
    "goto /console/templates/welcome?contact=b1 =200",
    "frame_text iframe#email-frame|#hello =Welcome, Ann",
    "wait_text #sms-encoding =GSM-7",
    "frame_text iframe#inbox-frame|strong =this",
    "scroll #shown",
    "screenshot console-template-en.png",
    "no_overflow all",
    "narrow console-template-en-375.png",
    /* the same contact through the zh-CN file, chosen in the form */
    "select select[name=locale] =zh-CN",
    "click #tpl-choose button[type=submit] =200",
    "frame_text iframe#email-frame|#hello =欢迎你，Ann",
    NULL,
};

static const char *const segment_operator[] = {
    "sign_in opa",
    "goto /console/segments/new =200",
    "fill input[name=name] =zh",
    "type #rule =email exists",
    "wait_text #count =4",
    "type #rule =locale==\"zh-CN\"",
    "wait_text #count =2",
    "wait_text #sample tbody tr:first-child td:first-child =b2",
    "type #rule =locale==\"zh-CN\" and",
    "wait_text #err-line =1",
    "wait_text #err-column =20",
    "wait_text #mark-before =locale==\"zh-CN\" and",
    "screenshot console-segment-error-en.png",
    "no_overflow all",
    "narrow console-segment-error-en-375.png",
    "type #rule =locale==\"zh-CN\"",
    "wait_text #count =2",
    "screenshot console-segment-en.png",
    "no_overflow all",
    "click #save-button =303",
    "text Segment: zh",
    "goto /console/segments =200",
    "count table#segments tbody tr =2",
    "screenshot console-segments-en.png",
    "no_overflow all",
    "narrow console-segments-en-375.png",
    NULL,
};

static const char *const segment_viewer[] = {
    "sign_in ann",
    "goto /console/segments =200",
    "text 分群",
    "screenshot console-segments-zh-CN.png",
    "no_overflow all",
    "goto /console/segments/all =200",
    "count #save-button =0",
    "wait_text #count =4",
    "type #rule =locale==\"en\"",
    "wait_text #count =2",
    "screenshot console-segment-zh-CN.png",
    "no_overflow all",
    /* without the script's help: Check answers the same number */
    "click #check-button =200",
    "wait_text #count =2",
    NULL,
};

static void test_browser_tpl_preview(void **state)
{
    (void)state;
    tb_site_drive(&site,
                  json_pack("[o, o]", tb_scenario("templates-zh-CN", "zh-CN", "", templates_zh),
                            tb_scenario("templates-en", "en-US", "", templates_en)));
}

static void test_browser_tpl_segments(void **state)
{
    (void)state;
    tb_site_drive(&site, json_pack("[o, o]",
                                   tb_scenario("segment-operator", "en-US", "", segment_operator),
                                   tb_scenario("segment-viewer", "zh-CN", "", segment_viewer)));
    /* saved as the CLI would have, audited; the viewer changed nothing */
    struct tu_run r;
    tu_herald(&r, site.dir, NULL, "segment", "count", "zh", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "2\n");
    tu_run_release(&r);
    assert_int_equal(tb_site_q1(&site, "SELECT count(*) FROM audit_actions WHERE action = "
                                       "'segment_define' AND who = 'opa' AND detail = 'zh'"),
                     1);
    assert_int_equal(tb_site_q1(&site, "SELECT count(*) FROM segments"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_browser_tpl_preview),
        cmocka_unit_test(test_browser_tpl_segments),
    };
    const struct CMUnitTest tests_pg[] = {
        {"test_browser_tpl_preview_pg", test_browser_tpl_preview, NULL, NULL, NULL},
        {"test_browser_tpl_segments_pg", test_browser_tpl_segments, NULL, NULL, NULL},
    };
    int rc = cmocka_run_group_tests_name("sqlite", tests, setup, teardown);
    rc |= cmocka_run_group_tests_name("postgresql", tests_pg, setup_pg, teardown);
    return tb_end_session(rc);
}
