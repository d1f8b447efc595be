/* test_console_tpl: the console's templates and segments pages (issue 21)
 * over real HTTP, the real `herald serve` on 127.0.0.1 driven by curl as
 * a browser would (tests/testserve.h): the templates listed with lint's
 * findings, a preview for a contact found by id, email or phone, in its
 * locale or another, with a strict rendering error at its line and
 * column; the email's frame answered under its own policy (a CSP sandbox
 * without scripts, framed by the console only); the segments with their
 * counts, the rule check's JSON (count and sample, or an error at its
 * place, a rule over the limit refused); saving a segment: a viewer's
 * POST is 403 and changes nothing, a POST without the CSRF field too, a
 * bad rule is refused in the page with nothing stored, a good one is
 * stored as `herald segment define` would and audited, and changed.
 * Each case runs on a SQLite file and on a PostgreSQL store
 * (testserve.h's e2e_setup_pg). */
#include "testconsole.h"

/* welcome: every channel's parts, a zh-CN file; strict: a variable no
 * contact has, on line 5 column 11 of its file */
static const char tpl_welcome[] =
    "description: a welcome\ncategory: transactional\nfrom: Acme <hello@example.com>\n\n"
    "--- email.subject\nWelcome {{ first_name }}\n"
    "--- email.html\n<h1 id=\"hello\">Welcome {{ first_name }}</h1><p>Glad you came.</p>\n"
    "--- sms\nHi {{ first_name }}, welcome to Acme.\n"
    "--- push.title\nWelcome\n--- push.body\nTap to start, {{ first_name }}\n"
    "--- inbox.title\nWelcome aboard\n--- inbox.body\nRead **this** first.\n";
static const char tpl_welcome_zh[] =
    "--- email.subject\n欢迎你，{{ first_name }}\n"
    "--- email.html\n<h1 id=\"hello\">欢迎你，{{ first_name }}</h1>\n"
    "--- sms\n{{ first_name }}，欢迎加入。\n";
static const char tpl_strict[] = "description: strict\ncategory: transactional\n\n"
                                 "--- email.subject\n"
                                 "Hi there {{ nickname }}\n"
                                 "--- email.text\nplain\n";

/* lint's errors: a marketing email without its unsubscribe link, a
 * section never closed (line 5, column 4) */
static const char tpl_nolink[] = "description: no link\ncategory: marketing\n\n"
                                 "--- email.subject\nSale\n--- email.text\nBuy now.\n";
static const char tpl_broken[] = "description: broken\ncategory: transactional\n\n"
                                 "--- email.subject\nHi {{#open}} there\n";

static void setup_more(void)
{
    tc_user("ann", "operator");
    tc_user("vic", "viewer");
    write_file("tpl/welcome.tmpl", tpl_welcome);
    write_file("tpl/welcome.zh-CN.tmpl", tpl_welcome_zh);
    write_file("tpl/strict.tmpl", tpl_strict);
    write_file("p.csv", "id,phone,first_name\nk9,+8613800138000,Nine\n");
    TU_HERALD_OK(dir, "contacts", "import", "p.csv");
}

/* ---- a browser's part, with curl (tests/testconsole.h) ---- */

/* GETs path as sid, expecting status; the body (free it). */
static char *page(const struct srv *s, const char *sid, const char *path, const char *lang,
                  int status)
{
    char *body, *hdr;
    int got = tc_get(s, sid, path, lang, &body, &hdr);
    if (got != status)
        fail_msg("GET %s: %d, not %d: %s", path, got, status, body);
    free(hdr);
    return body;
}

/* ---- templates ---- */

static void test_console_tpl_list(void **state)
{
    (void)state;
    struct srv s;
    setup_more();
    srv_start(&s);
    char *vic = tc_sign_in(&s, "vic");
    char *body = page(&s, vic, "/console/templates", "en", 200);
    assert_contains(body, "<a href=\"/console/templates/welcome\">welcome</a>");
    assert_contains(body, "<a href=\"/console/templates/strict\">strict</a>");
    assert_contains(body, "<a href=\"/console/templates/promo\">promo</a>");
    assert_contains(body, "<script src=\"/console/static/console.js\" defer></script>");
    /* what `herald template lint` says, per template */
    struct tu_run r;
    tu_herald(&r, dir, NULL, "template", "lint", "welcome", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    assert_contains(body, "no findings");
    assert_not_contains(body, "nolink");
    free(body);
    /* lint's errors, as the CLI words them, in the page */
    write_file("tpl/nolink.tmpl", tpl_nolink);
    write_file("tpl/broken.tmpl", tpl_broken);
    body = page(&s, vic, "/console/templates", "en", 200);
    assert_contains(body, "<span class=\"tpl-count error\">1 error, 0 notes</span>");
    assert_contains(body, "<code>nolink.tmpl:6</code>: error: email.text: a marketing email must "
                          "carry {{unsubscribe_url}} or {{preferences_url}}");
    assert_contains(body, "broken.tmpl:5:4: unclosed section: &#39;{{#open}}&#39; has no");
    free(body);
    /* a template that does not parse: its preview says where */
    body = page(&s, vic, "/console/templates/broken?contact=k1", "en", 200);
    assert_contains(body, "The template does not parse:");
    assert_contains(body, "<p>line 5, column 4</p>");
    assert_not_contains(body, "id=\"subject\"");
    free(body);
    body = page(&s, vic, "/console/templates", "zh-CN", 200);
    assert_contains(body, "<th>渠道</th>");
    assert_contains(body, "邮件、短信、推送通知、站内信");
    free(body);
    body = page(&s, vic, "/console/static/console.js", "en", 200);
    assert_contains(body, "/console/segments/check");
    free(body);
    free(vic);
    assert_int_equal(srv_stop(&s), 0);
}

static void test_console_tpl_preview(void **state)
{
    (void)state;
    struct srv s;
    char *body, *hdr;
    setup_more();
    srv_start(&s);
    char *vic = tc_sign_in(&s, "vic");
    /* k2 reads Chinese: the zh-CN file's parts, the SMS in UCS-2 */
    body = page(&s, vic, "/console/templates/welcome?contact=k2", "en", 200);
    assert_contains(body, "<strong id=\"subject\">欢迎你，Bo</strong>");
    assert_contains(body, "<iframe sandbox src=\"/console/templates/welcome/"
                          "html?locale=&amp;variant=&amp;contact=k2\"");
    assert_contains(body, "<dd id=\"sms-encoding\">UCS-2</dd>");
    assert_contains(body, "<dd id=\"sms-segments\">1</dd>");
    assert_contains(body, "<strong id=\"push-title\">Welcome</strong>");
    assert_contains(body, "<p id=\"push-body\">Tap to start, Bo</p>");
    assert_contains(body, "<dd id=\"inbox-title\">Welcome aboard</dd>");
    assert_contains(body, "Read **this** first.");
    /* the inbox's HTML, escaped into a sandboxed frame's srcdoc */
    assert_contains(body,
                    "<iframe sandbox srcdoc=\"&lt;p&gt;Read &lt;strong&gt;this&lt;/strong&gt;");
    free(body);
    /* the same contact in English, found by its email; then by phone */
    body = page(&s, vic, "/console/templates/welcome?contact=k2%40example.com&locale=", "en", 200);
    assert_contains(body, "Shown for contact k2");
    free(body);
    /* in any case, as the contacts page finds it (it was no contact) */
    body = page(&s, vic, "/console/templates/welcome?contact=K2%40Example.COM&locale=", "en", 200);
    assert_contains(body, "Shown for contact k2");
    free(body);
    body = page(&s, vic, "/console/templates/welcome?contact=%2B8613800138000", "en", 200);
    assert_contains(body, "Shown for contact k9");
    assert_contains(body, "<strong id=\"subject\">Welcome Nine</strong>");
    assert_contains(body, "<dd id=\"sms-encoding\">GSM-7</dd>");
    free(body);
    body = page(&s, vic, "/console/templates/welcome?contact=nobody", "en", 200);
    assert_contains(body, "No contact has that id, email or phone.");
    assert_not_contains(body, "id=\"subject\"");
    free(body);
    body = page(&s, vic, "/console/templates/welcome?contact=k1&locale=fr", "zh-CN", 200);
    assert_contains(body, "模板没有这个语言或变体。");
    free(body);
    /* strict: the missing variable at its line and column */
    body = page(&s, vic, "/console/templates/strict?contact=k1", "en", 200);
    assert_contains(body, "Errors (strict rendering)");
    assert_contains(body, "nickname");
    assert_contains(body, "<span class=\"tpl-at\">line 5, column");
    free(body);
    body = page(&s, vic, "/console/templates/none", "en", 404);
    free(body);
    body = page(&s, vic, "/console/templates/none/html", "en", 404);
    free(body);
    body = page(&s, vic, "/console/templates/welcome/other", "en", 404);
    free(body);
    /* the frame: the HTML alone, under its own policy */
    assert_int_equal(
        tc_get(&s, vic, "/console/templates/welcome/html?contact=k2", "en", &body, &hdr), 200);
    assert_contains(hdr, "Content-Type: text/html; charset=utf-8\r\n");
    assert_contains(hdr, "Content-Security-Policy: sandbox; default-src 'none'; img-src data:; "
                         "style-src 'unsafe-inline'; frame-ancestors 'self'\r\n");
    assert_contains(hdr, "X-Frame-Options: SAMEORIGIN\r\n");
    assert_contains(body, "<h1 id=\"hello\">欢迎你，Bo</h1>");
    free(body);
    free(hdr);
    /* a template without email.html has no frame */
    body = page(&s, vic, "/console/templates/strict/html?contact=k1", "en", 404);
    free(body);
    /* the console's own pages still say frame-ancestors 'none' */
    assert_int_equal(tc_get(&s, vic, "/console/templates/welcome", "en", &body, &hdr), 200);
    assert_contains(hdr, "frame-ancestors 'none'\r\n");
    assert_not_contains(hdr, "X-Frame-Options");
    free(body);
    free(hdr);
    /* not signed in: the login, not the HTML */
    assert_int_equal(
        http(&s, "GET", "/console/templates/welcome/html?contact=k2", NULL, NULL, &body, &hdr),
        303);
    assert_not_contains(body, "欢迎");
    free(body);
    free(hdr);
    free(vic);
    assert_int_equal(srv_stop(&s), 0);
}

/* ---- segments ---- */

static void test_console_seg_check(void **state)
{
    (void)state;
    struct srv s;
    char *body, *hdr;
    setup_more();
    srv_start(&s);
    char *vic = tc_sign_in(&s, "vic");
    body = page(&s, vic, "/console/segments", "en", 200);
    assert_contains(body, "<a href=\"/console/segments/all\">all</a>");
    assert_contains(body, "<td class=\"n\">3</td>");    /* k9 has no email */
    assert_not_contains(body, "/console/segments/new"); /* a viewer's page */
    free(body);
    assert_int_equal(
        tc_get(&s, vic, "/console/segments/check?rule=email+exists", "en", &body, &hdr), 200);
    assert_contains(hdr, "Content-Type: application/json");
    assert_contains(body, "\"count\":3");
    assert_contains(body, "\"sample\":[{\"id\":\"k1\",\"email\":\"k1@example.com\"");
    free(body);
    free(hdr);
    body = page(&s, vic, "/console/segments/check?rule=locale+%3D%3D+%22zh-CN%22", "en", 200);
    assert_contains(body, "\"count\":1");
    assert_contains(body, "\"id\":\"k2\"");
    free(body);
    /* an error at its place: line 2, column 10 */
    body =
        page(&s, vic, "/console/segments/check?rule=email+exists+and%0Alocale+%3D%3D", "en", 200);
    assert_contains(body, "\"error\":{\"message\":\"expression: 2:10: expected a value after");
    assert_contains(body, "\"line\":2,\"column\":10");
    assert_not_contains(body, "\"count\"");
    free(body);
    body = page(&s, vic, "/console/segments/check?rule=plann+%3D%3D+1", "en", 200);
    assert_contains(body, "\"error\"");
    assert_contains(body, "plann");
    free(body);
    /* bounded: a rule over 1024 bytes is refused before it is parsed */
    char path[1400] = "/console/segments/check?rule=";
    size_t n = strlen(path);
    memset(path + n, 'x', 1025);
    path[n + 1025] = '\0';
    body = page(&s, vic, path, "en", 413);
    free(body);
    path[n + 1024] = '\0'; /* 1024 bytes: read (it is no rule) */
    body = page(&s, vic, path, "en", 200);
    assert_contains(body, "\"error\"");
    free(body);
    body = page(&s, vic, "/console/segments/check", "en", 400);
    free(body);
    /* without a script: Check is a GET for a viewer, the numbers in the page */
    body = page(&s, vic, "/console/segments/all", "en", 200);
    assert_contains(body, "<form method=\"get\" action=\"/console/segments/all\" id=\"seg-form\">");
    assert_contains(body, "<output id=\"count\">3</output>");
    assert_not_contains(body, "id=\"save-button\"");
    free(body);
    body = page(&s, vic, "/console/segments/new?name=x&rule=locale+%3D%3D", "zh-CN", 200);
    assert_contains(body, "<p class=\"error\" id=\"rule-error\">expression: 1:10:");
    assert_contains(body, "<span id=\"mark-before\">locale ==</span><mark id=\"mark-at\"> </mark>");
    assert_contains(body, "第 <span id=\"err-line\">1</span> 行");
    free(body);
    body = page(&s, vic, "/console/segments/gone", "en", 404);
    free(body);
    free(vic);
    assert_int_equal(srv_stop(&s), 0);
}

static int64_t segments_named(const char *name)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM segments WHERE name = '%s'", name);
    return q1(sql);
}

static void test_console_seg_save(void **state)
{
    (void)state;
    struct srv s;
    char *body, *hdr, form[512];
    setup_more();
    srv_start(&s);
    char *vic = tc_sign_in(&s, "vic"), *ann = tc_sign_in(&s, "ann");
    body = page(&s, vic, "/console/segments", "en", 200);
    char *vic_csrf = hd_xstrdup(tc_csrf(body));
    free(body);
    /* a viewer's POST, even with its own CSRF field: 403, nothing stored */
    snprintf(form, sizeof form, "csrf=%s&name=zh&rule=locale+%%3D%%3D+%%22zh-CN%%22&do=save",
             vic_csrf);
    assert_int_equal(tc_post(&s, vic, "/console/segments/new", form, NULL, &body, NULL), 403);
    free(body);
    assert_int_equal(tc_post(&s, vic, "/console/segments/all", form, NULL, &body, NULL), 403);
    free(body);
    assert_int_equal(segments_named("zh"), 0);
    /* an operator's POST without the CSRF field, or with a wrong one */
    assert_int_equal(tc_post(&s, ann, "/console/segments/new",
                             "name=zh&rule=locale+%3D%3D+%22zh-CN%22&do=save", NULL, &body, NULL),
                     403);
    free(body);
    snprintf(form, sizeof form, "csrf=%s&name=zh&rule=email+exists&do=save", vic_csrf);
    assert_int_equal(tc_post(&s, ann, "/console/segments/new", form, NULL, &body, NULL), 403);
    free(body);
    assert_int_equal(segments_named("zh"), 0);
    body = page(&s, ann, "/console/segments/new", "en", 200);
    assert_contains(body,
                    "<form method=\"post\" action=\"/console/segments/new\" id=\"seg-form\">");
    char *csrf = hd_xstrdup(tc_csrf(body));
    free(body);
    /* a bad rule: the page again with where, nothing stored */
    snprintf(form, sizeof form, "csrf=%s&name=zh&rule=locale+%%3D%%3D&do=save", csrf);
    assert_int_equal(tc_post(&s, ann, "/console/segments/new", form, NULL, &body, NULL), 422);
    assert_contains(body, "id=\"fault\">Not saved: segment &#39;zh&#39;: 1:10:");
    assert_contains(body, "<mark id=\"mark-at\"> </mark>");
    free(body);
    snprintf(form, sizeof form, "csrf=%s&name=bad+name&rule=email+exists&do=save", csrf);
    assert_int_equal(tc_post(&s, ann, "/console/segments/new", form, NULL, &body, NULL), 422);
    assert_contains(body, "is not a segment name");
    free(body);
    assert_int_equal(q1("SELECT count(*) FROM segments"), 1);
    /* Check without a script: the numbers, nothing stored */
    snprintf(form, sizeof form, "csrf=%s&name=zh&rule=locale+%%3D%%3D+%%22zh-CN%%22&do=check",
             csrf);
    assert_int_equal(tc_post(&s, ann, "/console/segments/new", form, NULL, &body, NULL), 200);
    assert_contains(body, "<output id=\"count\">1</output>");
    free(body);
    assert_int_equal(segments_named("zh"), 0);
    /* saved as herald segment define would, and audited */
    snprintf(form, sizeof form, "csrf=%s&name=zh&rule=locale+%%3D%%3D+%%22zh-CN%%22&do=save", csrf);
    assert_int_equal(tc_post(&s, ann, "/console/segments/new", form, NULL, &body, &hdr), 303);
    assert_contains(hdr, "Location: /console/segments/zh\r\n");
    free(body);
    free(hdr);
    assert_int_equal(q1("SELECT count(*) FROM segments WHERE name = 'zh' AND "
                        "expr LIKE 'locale == _zh-CN_'" /* the quotes: '_' */),
                     1);
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE who = 'ann' AND "
                        "action = 'segment_define' AND detail = 'zh' AND addr = '127.0.0.1'"),
                     1);
    /* defined again: refused (it exists), unchanged */
    assert_int_equal(tc_post(&s, ann, "/console/segments/new", form, NULL, &body, NULL), 409);
    free(body);
    /* changed from its own page */
    snprintf(form, sizeof form, "csrf=%s&rule=locale+%%3D%%3D+%%22en%%22&do=save", csrf);
    assert_int_equal(tc_post(&s, ann, "/console/segments/zh", form, NULL, &body, &hdr), 303);
    free(body);
    free(hdr);
    assert_int_equal(q1("SELECT count(*) FROM segments WHERE name = 'zh' AND "
                        "expr LIKE 'locale == _en_'"),
                     1);
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE action = 'segment_replace' AND "
                        "detail = 'zh'"),
                     1);
    assert_int_equal(tc_post(&s, ann, "/console/segments/gone", form, NULL, &body, NULL), 404);
    free(body);
    assert_int_equal(segments_named("gone"), 0);
    /* the CLI agrees */
    struct tu_run r;
    tu_herald(&r, dir, NULL, "segment", "count", "zh", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "2\n");
    tu_run_release(&r);
    body = page(&s, ann, "/console/segments", "en", 200);
    assert_contains(body, "<a class=\"button\" href=\"/console/segments/new\">");
    assert_contains(body, "<code class=\"seg-rule\">locale == &quot;en&quot;</code>");
    free(body);
    free(csrf);
    free(vic_csrf);
    free(vic);
    free(ann);
    assert_int_equal(srv_stop(&s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_console_tpl_list, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_tpl_preview, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_seg_check, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_seg_save, e2e_setup, e2e_teardown),
        /* the same on a PostgreSQL store */
        {"test_console_tpl_list_pg", test_console_tpl_list, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_tpl_preview_pg", test_console_tpl_preview, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_seg_check_pg", test_console_seg_check, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_seg_save_pg", test_console_seg_save, e2e_setup_pg, e2e_teardown, NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
