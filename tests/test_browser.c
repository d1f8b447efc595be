/* test_browser: the unsubscribe flow in a real browser (issue 18). A store
 * with contacts in English and Simplified Chinese gets a marketing email
 * campaign through the outbox, with [serve] public_url pointing at the real
 * `herald serve` this test starts on a free 127.0.0.1 port. Each contact's
 * link comes from its own .eml file (found with `herald history`), read as
 * a mail client reads it (tests/check_mail.py: the HTML part's <a href>, which
 * must equal the List-Unsubscribe header's URL). tests/browser/drive.js then
 * plays scenarios in Debian's headless Chromium through playwright-core
 * (pinned in tests/browser/package-lock.json; `npm ci` runs there when its
 * node_modules is missing): open the link, check the page, click, see the
 * confirmation, screenshots on the way. A scenario is data (JSON built
 * here), so another page (the preference centre) is another scenario. After
 * the browser the test reads the consent rows through `herald contacts show
 * --format json`. Screenshots go to $HERALD_TEST_OUT, else to
 * test-output/browser beside the herald binary, and their paths are printed.
 * Chromium's HOME and TMPDIR are inside the test's folder; a Chromium
 * process that outlives a run of the script is killed and fails the test.
 * The web console (issue 21) is one more pair of scenarios: sign in (a
 * wrong password first), the overview, sign out, and the overview in
 * Chinese; each console page fits 800 px without scrolling sideways, the
 * log on a phone too. No request of any scenario is answered 404 (the
 * browser's own /favicon.ico neither). Every case runs on a SQLite store and again (`_pg`) on a
 * PostgreSQL one, in the same browser session (tests/testbrowser.h). */
#include "testbrowser.h"

static struct tb_site site; /* herald serve, its folder and port */

static const char tpl_promo[] =
    "description: browser test\ncategory: marketing\nfrom: Acme <hello@example.com>\n\n"
    "--- email.subject\nWinter sale, {{ first_name }}\n"
    "--- email.html\n<p>Hello {{ first_name }}, our winter sale starts today.</p>\n"
    "<p><a href=\"{{ preferences_url }}\">Preferences</a> · "
    "<a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>\n"
    "--- email.text\nHello {{ first_name }}, our winter sale starts today.\n"
    "Preferences: {{ preferences_url }}\nUnsubscribe: {{ unsubscribe_url }}\n";

/* Runs `herald CMD ARG --format json` (CMD may be two words) and returns
 * its output parsed. */
static json_t *herald_json(const char *cmd, const char *arg)
{
    struct tu_run r;
    char c1[32], *c2 = NULL;
    snprintf(c1, sizeof c1, "%s", cmd);
    if ((c2 = strchr(c1, ' ')) != NULL)
        *c2++ = '\0';
    const char *argv[] = {
        tu_herald_bin(),    c1,  c2 ? c2 : arg, c2 ? arg : "--format", c2 ? "--format" : "json",
        c2 ? "json" : NULL, NULL};
    tu_exec(&r, site.dir, NULL, argv);
    if (r.status != 0)
        fail_msg("herald %s %s exited %d: %s", cmd, arg, r.status, r.err);
    json_error_t e;
    json_t *j = json_loads(r.out, 0, &e);
    if (!j)
        fail_msg("not JSON (%s): %s", e.text, r.out);
    tu_run_release(&r);
    return j;
}

/* What a contact's email says. */
struct mail {
    json_int_t message; /* the message's id */
    char unsub[300];    /* the unsubscribe link, in the HTML part and List-Unsubscribe */
    char prefs[300];    /* the preferences link of the HTML part */
};

/* The link of the HTML part's <a> whose URL has kind ("/u/", "/p/") in it. */
static void html_link(json_t *links, const char *kind, char *out, size_t size)
{
    size_t i;
    json_t *v;
    out[0] = '\0';
    json_array_foreach(links, i, v)
    {
        if (strstr(json_string_value(v), kind))
            snprintf(out, size, "%s", json_string_value(v));
    }
    if (!out[0])
        fail_msg("no %s link in the HTML part", kind);
}

/* Finds the contact's email in the outbox through `herald history` and
 * reads it with tests/check_mail.py. */
static void mail_of(const char *contact, struct mail *m)
{
    json_t *h = herald_json("history", contact), *a = json_array_get(h, 0);
    assert_non_null(a);
    m->message = json_integer_value(json_object_get(a, "message"));
    char eml[512];
    snprintf(eml, sizeof eml, "var/outbox/email/new/%s",
             json_string_value(json_object_get(a, "gateway_id")));
    json_decref(h);
    char *py = tu_src_path("tests/check_mail.py");
    const char *argv[] = {"/usr/bin/python3", py, eml, NULL};
    struct tu_run r;
    tu_exec(&r, site.dir, NULL, argv);
    json_t *j = json_loads(r.out, 0, NULL);
    if (r.status != 0 || !j)
        fail_msg("check_mail.py %s: %s%s", eml, r.out, r.err);
    assert_string_equal(json_string_value(json_object_get(j, "strict")), "ok");
    json_t *hdr = json_object_get(j, "headers");
    html_link(json_object_get(j, "links"), "/u/", m->unsub, sizeof m->unsub);
    html_link(json_object_get(j, "links"), "/p/", m->prefs, sizeof m->prefs);
    char want[400], base[64];
    snprintf(want, sizeof want, "<%s>", m->unsub);
    assert_string_equal(json_string_value(json_object_get(hdr, "List-Unsubscribe")), want);
    assert_string_equal(json_string_value(json_object_get(hdr, "List-Unsubscribe-Post")),
                        "List-Unsubscribe=One-Click");
    snprintf(base, sizeof base, "http://127.0.0.1:%d/u/v1.", site.port);
    assert_int_equal(strncmp(m->unsub, base, strlen(base)), 0);
    json_decref(j);
    tu_run_release(&r);
    free(py);
}

/* The contact's consent rows (an empty array when none). */
static json_t *consent_of(const char *contact)
{
    json_t *c = herald_json("contacts show", contact);
    json_t *rows = json_object_get(c, "consent");
    rows = rows ? json_incref(rows) : json_array();
    json_decref(c);
    return rows;
}

/* The one consent row of the contact: an unsubscribe from marketing email by
 * the link of the message. */
static void assert_unsubscribed(const char *contact, json_int_t message)
{
    json_t *rows = consent_of(contact), *row = json_array_get(rows, 0);
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(json_string_value(json_object_get(row, "channel")), "email");
    assert_string_equal(json_string_value(json_object_get(row, "category")), "marketing");
    assert_string_equal(json_string_value(json_object_get(row, "status")), "opted_out");
    assert_string_equal(json_string_value(json_object_get(row, "source")), "unsubscribe");
    assert_string_equal(json_string_value(json_object_get(row, "campaign")), "promo");
    assert_int_equal(json_integer_value(json_object_get(row, "message_id")), message);
    json_decref(rows);
}

static void assert_no_consent(const char *contact)
{
    json_t *rows = consent_of(contact);
    if (json_array_size(rows) != 0)
        fail_msg("%s has consent rows: %s", contact, json_dumps(rows, 0));
    json_decref(rows);
}

static int setup_on(bool pg)
{
    tb_site_init_on(&site, pg, tpl_promo,
                    "id,email,first_name,locale\nb1,b1@example.com,Ann,en\n"
                    "b2,b2@example.com,Bo,zh-CN\nb3,b3@example.com,Cy,en\n"
                    "b4,b4@example.com,Di,zh-CN\n");
    TU_HERALD_OK(site.dir, "campaign", "create", "promo", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--now");
    TU_HERALD_OK(site.dir, "send", "promo");
    tb_site_start(&site);
    return 0;
}

TB_ENGINE_SETUPS(setup_on)

static int teardown(void **state)
{
    (void)state;
    return tb_site_stop(&site);
}

/* The scenarios, data: one step a line, "ACTION ARGUMENT" with " =VALUE" at
 * the end for the status a goto or click expects, the number of matches a
 * count expects, or what a fill or select puts in; "$LINK" at the start of an
 * argument stands for the link the scenario is given. tests/browser/drive.js
 * lists the actions. */
static const char *const unsubscribe_en[] = {
    "goto $LINK =200",
    "lang en",
    "text Do you want to stop receiving marketing email from us?",
    "count form button[type=submit] =1",
    "screenshot unsubscribe-en.png",
    "click button[type=submit] =200",
    "text You are unsubscribed",
    "text You will no longer receive marketing email from us.",
    "count button =0",
    "screenshot unsubscribe-en-done.png",
    NULL,
};

/* opened (as a mail scanner or a curious reader does), never clicked */
static const char *const open_only_en[] = {
    "goto $LINK =200",
    "text Do you want to stop receiving marketing email from us?",
    "count button =1",
    NULL,
};

static const char *const unsubscribe_zh[] = {
    "goto $LINK =200",
    "lang zh-CN",
    "text 您确定不再接收我们的营销邮件吗",
    "screenshot unsubscribe-zh-CN.png",
    "click button[type=submit] =200",
    "text 退订成功",
    "text 您将不再收到我们的营销邮件",
    "count button =0",
    "screenshot unsubscribe-zh-CN-done.png",
    NULL,
};

static const char *const invalid_forged[] = {
    "goto $LINK =403",
    "text This link is not valid",
    "text Nothing was changed",
    "count form =0",
    "count button =0",
    "screenshot invalid.png",
    NULL,
};

static const char *const invalid_cut[] = {
    "goto $LINK =400",
    "text This link is not valid",
    "count form =0",
    NULL,
};

/* the preference centre in Chinese: SMS marketing turned off, the rest kept */
static const char *const prefs_zh[] = {
    "goto $LINK =200",
    "lang zh-CN",
    "text 订阅偏好",
    "text 事务类消息（如收据、安全通知）始终会发送",
    "count input[name=marketing] =3",
    "count input[name=marketing]:checked =3",
    "screenshot preferences-zh-CN.png",
    "uncheck input[name=marketing][value=sms]",
    "click button[type=submit] =200",
    "text 您的订阅偏好已保存",
    "text 短信：营销消息关闭",
    "screenshot preferences-zh-CN-done.png",
    NULL,
};

/* The page, the button, the confirmation naming what stops; and another
 * contact's page only opened: no change (mail scanners fetch links). */
static void test_browser_unsubscribe_en(void **state)
{
    (void)state;
    struct mail m, other;
    mail_of("b1", &m);
    mail_of("b3", &other);
    assert_no_consent("b1");
    tb_site_drive(
        &site, json_pack("[o, o]", tb_scenario("unsubscribe-en", "en-US", m.unsub, unsubscribe_en),
                         tb_scenario("open-only-en", "en-US", other.unsub, open_only_en)));
    assert_unsubscribed("b1", m.message);
    assert_no_consent("b3");
}

/* A zh-CN contact gets the pages in Chinese. */
static void test_browser_unsubscribe_zh(void **state)
{
    (void)state;
    struct mail m;
    mail_of("b2", &m);
    assert_no_consent("b2");
    tb_site_drive(&site, json_pack("[o]", tb_scenario("unsubscribe-zh-CN", "zh-CN", m.unsub,
                                                      unsubscribe_zh)));
    assert_unsubscribed("b2", m.message);
}

/* The preference centre of a zh-CN contact, opened from its email's link:
 * one category changed, recorded with its source and the link's message. */
static void test_browser_preferences_zh(void **state)
{
    (void)state;
    struct mail m;
    mail_of("b4", &m);
    assert_no_consent("b4");
    tb_site_drive(&site,
                  json_pack("[o]", tb_scenario("preferences-zh-CN", "zh-CN", m.prefs, prefs_zh)));
    json_t *rows = consent_of("b4"), *row = json_array_get(rows, 0);
    if (json_array_size(rows) != 1)
        fail_msg("b4's consent: %s", json_dumps(rows, 0));
    assert_string_equal(json_string_value(json_object_get(row, "channel")), "sms");
    assert_string_equal(json_string_value(json_object_get(row, "category")), "marketing");
    assert_string_equal(json_string_value(json_object_get(row, "status")), "opted_out");
    assert_string_equal(json_string_value(json_object_get(row, "source")), "preferences");
    assert_string_equal(json_string_value(json_object_get(row, "campaign")), "promo");
    assert_int_equal(json_integer_value(json_object_get(row, "message_id")), m.message);
    json_decref(rows);
}

/* A changed token and a cut one: the invalid page, nothing to click, no
 * change. */
static void test_browser_bad_token(void **state)
{
    (void)state;
    struct mail m;
    mail_of("b3", &m);
    char forged[300], cut[300];
    size_t n = strlen(m.unsub);
    snprintf(forged, sizeof forged, "%s", m.unsub);
    forged[n - 5] = forged[n - 5] == 'A' ? 'B' : 'A';
    snprintf(cut, sizeof cut, "%.*s", (int)(n - 5), m.unsub);
    tb_site_drive(&site, json_pack("[o, o]",
                                   tb_scenario("invalid-forged", "en-US", forged, invalid_forged),
                                   tb_scenario("invalid-cut", "en-US", cut, invalid_cut)));
    assert_no_consent("b3");
}

/* The console (issue 21): sign in, the overview with the campaign's
 * numbers, sign out; and the overview in Chinese. */
static const char *const console_en[] = {
    "goto /console/ =200", /* sent to the login */
    "lang en",
    "text herald console",
    "screenshot console-login.png",
    "no_overflow all",
    "fill #name =ann",
    "fill #password =wrong password",
    "click button[type=submit] =401",
    "text The name or the password is wrong.",
    "fill #name =ann",
    "fill #password =correct horse 1",
    "click button[type=submit] =303", /* signed in: sent on to the overview */
    "goto /console/ =200",
    "text Overview",
    "text Today (",
    "text ann (viewer)",
    "count table#today tbody tr =1",
    "screenshot console-overview-en.png",
    "no_overflow all",
    "click header button[type=submit] =303",
    "goto /console/ =200", /* signed out: the login again */
    "text Sign in",
    NULL,
};

static const char *const console_zh[] = {
    "goto /console/login =200",
    "lang zh-CN",
    "text 登录",
    "fill #name =ann",
    "fill #password =correct horse 1",
    "click button[type=submit] =303",
    "goto /console/ =200",
    "text 概览",
    "text 邮件",
    "text 没有暂停的服务商",
    "screenshot console-overview-zh-CN.png",
    "no_overflow all",
    NULL,
};

static void test_browser_console(void **state)
{
    (void)state;
    tb_site_user(&site, "ann", "viewer");
    tb_site_drive(&site, json_pack("[o, o]", tb_scenario("console-en", "en-US", "", console_en),
                                   tb_scenario("console-zh-CN", "zh-CN", "", console_zh)));
    assert_int_equal(tb_site_q1(&site,
                                "SELECT count(*) FROM audit_actions WHERE action = 'login' AND "
                                "who = 'ann' AND addr = '127.0.0.1'"),
                     2);
    assert_int_equal(tb_site_q1(&site, "SELECT count(*) FROM audit_actions WHERE action = "
                                       "'login_failed'"),
                     1);
    assert_int_equal(
        tb_site_q1(&site, "SELECT count(*) FROM audit_actions WHERE action = 'logout'"), 1);
}

/* The campaign page and the log (issue 21): an operator pauses a campaign
 * with its button and `herald campaign show` agrees; a viewer sees no
 * button; the log filtered to the sent campaign. */
static const char *const console_operator[] = {
    "sign_in opa",
    "goto /console/ =200",
    "click a[href='/console/campaigns/later'] =200",
    "text Campaign: later",
    "count #actions button =2", /* pause and cancel */
    "screenshot console-campaign-en.png",
    "no_overflow all",
    "click button:has-text('Pause') =303",
    "text paused",
    "count #actions button =2", /* resume and cancel */
    "goto /console/log?campaign=promo =200",
    "no_text No row of the log matches.",
    "text accepted",
    "screenshot console-log-en.png",
    "no_overflow all",
    "narrow console-log-en-375.png",
    NULL,
};

static const char *const console_viewer[] = {
    "sign_in ann",
    "goto /console/campaigns/promo =200",
    "text 漏斗",
    "count #actions button =0",
    "screenshot console-campaign-zh-CN.png",
    "no_overflow all",
    NULL,
};

static void test_browser_console_campaign(void **state)
{
    (void)state;
    tb_site_user(&site, "opa", "operator");
    TU_HERALD_OK(site.dir, "campaign", "create", "later", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--at", "2030-01-01T09:00:00Z");
    tb_site_drive(&site, json_pack("[o, o]",
                                   tb_scenario("console-campaign", "en-US", "", console_operator),
                                   tb_scenario("console-viewer", "zh-CN", "", console_viewer)));
    struct tu_run r;
    tu_herald(&r, site.dir, NULL, "campaign", "show", "later", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "status       paused"));
    tu_run_release(&r);
    assert_int_equal(tb_site_q1(&site, "SELECT count(*) FROM audit_actions WHERE action = "
                                       "'campaign_pause' AND who = 'opa' AND detail = 'later'"),
                     1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_browser_unsubscribe_en),
        cmocka_unit_test(test_browser_unsubscribe_zh),
        cmocka_unit_test(test_browser_preferences_zh),
        cmocka_unit_test(test_browser_bad_token),
        cmocka_unit_test(test_browser_console),
        cmocka_unit_test(test_browser_console_campaign),
    };
    const struct CMUnitTest tests_pg[] = {
        {"test_browser_unsubscribe_en_pg", test_browser_unsubscribe_en, NULL, NULL, NULL},
        {"test_browser_unsubscribe_zh_pg", test_browser_unsubscribe_zh, NULL, NULL, NULL},
        {"test_browser_preferences_zh_pg", test_browser_preferences_zh, NULL, NULL, NULL},
        {"test_browser_bad_token_pg", test_browser_bad_token, NULL, NULL, NULL},
        {"test_browser_console_pg", test_browser_console, NULL, NULL, NULL},
        {"test_browser_console_campaign_pg", test_browser_console_campaign, NULL, NULL, NULL},
    };
    int rc = cmocka_run_group_tests_name("sqlite", tests, setup, teardown);
    rc |= cmocka_run_group_tests_name("postgresql", tests_pg, setup_pg, teardown);
    return tb_end_session(rc);
}
