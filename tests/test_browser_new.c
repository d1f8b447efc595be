/* test_browser_new: the console's new-campaign form and contact pages in
 * a real browser (issue 21), through tests/testbrowser.h (Debian's
 * headless Chromium driven by tests/browser/drive.js). An operator signs
 * in, fills the form for a weekly campaign in Asia/Shanghai and previews
 * its estimate with the next five firings, then creates a campaign to go
 * now and lands on its page. The test sends it with `herald send NAME`,
 * finds one email per contact in the outbox, and the browser sees the run
 * on the campaign's page; then a contact is searched by email, opened, and
 * "why" is asked for the campaign, in English and in Chinese (the form's
 * estimate too, for a daily campaign in America/New_York).
 * Every page fits 800 px without scrolling sideways, and the estimate,
 * the sent campaign and the contact's why fit a phone too ("narrow").
 * Screenshots go to the output folder (tb_shots_dir). The setup is a
 * site of tests/testbrowser.h: its own folder, `herald serve` on a free
 * port, users made with `herald user add --password-file`, on a SQLite
 * store and again (`_pg`) on a PostgreSQL one. */
#include "testbrowser.h"

static struct tb_site site; /* herald serve, its folder and port */

static const char tpl_promo[] =
    "description: browser test\ncategory: marketing\nfrom: Acme <hello@example.com>\n\n"
    "--- email.subject\nWinter sale, {{ first_name }}\n"
    "--- email.html\n<p>Hello {{ first_name }}, our winter sale starts today.</p>\n"
    "<p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>\n"
    "--- email.text\nHello {{ first_name }}, our winter sale starts today.\n"
    "Unsubscribe: {{ unsubscribe_url }}\n";

static int setup_on(bool pg)
{
    tb_site_init_on(&site, pg, tpl_promo,
                    "id,email,first_name,locale\nn1,n1@example.com,Ann,en\n"
                    "n2,n2@example.com,Bo,zh-CN\nn3,n3@example.com,Cy,en\n");
    tb_site_user(&site, "opa", "operator");
    tb_site_start(&site);
    return 0;
}

TB_ENGINE_SETUPS(setup_on)

static int teardown(void **state)
{
    (void)state;
    return tb_site_stop(&site);
}

/* The form: a weekly campaign's estimate, then one to go now, created. */
static const char *const create_en[] = {
    "sign_in opa",
    "goto /console/ =200",
    "goto /console/campaigns/new =200",
    "lang en",
    "text New campaign",
    "fill input[name=name] =weekly",
    "select select[name=segment] =all",
    "select select[name=template] =promo",
    "select select[name=ch1] =email",
    "check input[name=schedule][value=every]",
    "fill input[name=every] =0 9 * * 1",
    "fill input[name=tz] =Asia/Shanghai",
    "fill input[name=holdout] =10",
    "screenshot console-new-form-en.png",
    "no_overflow all",
    "click button[value=estimate] =200",
    "text Estimate, if it fired now",
    "text Contacts in the segment",
    "count #firings li =5",
    "text (Asia/Shanghai)",
    "screenshot console-new-estimate-en.png",
    "no_overflow all",
    "narrow console-new-estimate-en-375.png",
    "fill input[name=name] =launch",
    "fill input[name=holdout] =",
    "check input[name=schedule][value=now]",
    "click button[value=create] =303",
    "text Campaign: launch",
    "text It has not fired yet.",
    "screenshot console-new-created-en.png",
    "no_overflow all",
    NULL,
};

/* After herald send: the run on the campaign's page; a contact's why. */
static const char *const sent_en[] = {
    "sign_in opa",
    "goto /console/campaigns/launch =200",
    "count #runs tbody tr =1",
    "text sent 3",
    "scroll #runs",
    "screenshot console-new-sent-en.png",
    "no_overflow all",
    "narrow console-new-sent-en-375.png",
    "goto /console/contacts =200",
    "fill input[name=q] =n1@example.com",
    "click .ct-search button =200",
    "click a[href='/console/contacts/n1'] =200",
    "text Contact: n1",
    "text Messages considered",
    "screenshot console-contact-top-en.png",
    "no_overflow all",
    "select select[name=why] =launch",
    "click .ct-why button =200",
    "text In segment all when the run was made",
    "text attempt 1 by email via",
    "scroll #why",
    "screenshot console-contact-en.png",
    "no_overflow all",
    "narrow console-contact-en-375.png",
    NULL,
};

static const char *const contact_zh[] = {
    "sign_in opa",
    "goto /console/campaigns/new =200",
    "lang zh-CN",
    "text 新建活动",
    "screenshot console-new-form-zh-CN.png",
    "no_overflow all",
    "fill input[name=name] =weekly",
    "select select[name=segment] =all",
    "select select[name=template] =promo",
    "select select[name=ch1] =email",
    "check input[name=schedule][value=every]",
    "fill input[name=every] =30 8 * * *",
    "fill input[name=tz] =America/New_York",
    "click button[value=estimate] =200",
    "text 预估（假如现在发送）",
    "count #firings li =5",
    "screenshot console-new-estimate-zh-CN.png",
    "no_overflow all",
    "narrow console-new-estimate-zh-CN-375.png",
    "goto /console/contacts =200",
    "fill input[name=q] =n2",
    "click .ct-search button =200",
    "click a[href='/console/contacts/n2'] =200",
    "text 联系人：n2",
    "select select[name=why] =launch",
    "click .ct-why button =200",
    "text 第 1 次尝试",
    "scroll #why",
    "screenshot console-contact-zh-CN.png",
    "no_overflow all",
    "narrow console-contact-zh-CN-375.png",
    NULL,
};

/* The number of files in the outbox's email folder. */
static int outbox_count(void)
{
    char *p = tu_path(site.dir, "var/outbox/email/new");
    DIR *d = opendir(p);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".eml") != NULL;
    if (d)
        closedir(d);
    free(p);
    return n;
}

static void test_browser_new_campaign(void **state)
{
    (void)state;
    tb_site_drive(&site, json_pack("[o]", tb_scenario("console-new-en", "en-US", "", create_en)));
    assert_int_equal(tb_site_q1(&site, "SELECT count(*) FROM campaigns"),
                     1); /* the estimate wrote none */
    assert_int_equal(tb_site_q1(&site, "SELECT count(*) FROM audit_actions WHERE action = "
                                       "'campaign_create' AND who = 'opa' AND detail = 'launch'"),
                     1);
    assert_int_equal(outbox_count(), 0);
    TU_HERALD_OK(site.dir, "send", "launch");
    assert_int_equal(outbox_count(), 3);
    tb_site_drive(&site,
                  json_pack("[o, o]", tb_scenario("console-new-sent-en", "en-US", "", sent_en),
                            tb_scenario("console-contact-zh-CN", "zh-CN", "", contact_zh)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_browser_new_campaign),
    };
    const struct CMUnitTest tests_pg[] = {
        {"test_browser_new_campaign_pg", test_browser_new_campaign, NULL, NULL, NULL},
    };
    int rc = cmocka_run_group_tests_name("sqlite", tests, setup, teardown);
    rc |= cmocka_run_group_tests_name("postgresql", tests_pg, setup_pg, teardown);
    return tb_end_session(rc);
}
