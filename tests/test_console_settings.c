/* test_console_settings: a console user's own language and time zone
 * (issue 21): `herald user add|set --lang --zone` with their refusals
 * (nothing written), then over real HTTP against the real `herald
 * serve`: the setting wins over the browser's Accept-Language; dates are
 * formatted by ICU in the user's zone (12:00 UTC is 20:00 in Shanghai);
 * the settings page saves both (audited) and refuses a bad zone, a
 * language it does not know, a POST without the CSRF field and one with
 * another session's; clearing the language gives the browser's back.
 * Each case runs on a SQLite file and on a PostgreSQL store
 * (testserve.h's e2e_setup_pg). */
#include "testconsole.h"

static void test_console_settings_cli(void **state)
{
    (void)state;
    struct tu_run r;
    write_file("pw", TC_PASSWORD "\n");
    tu_herald(&r, dir, NULL, "user", "add", "ann", "--role", "viewer", "--password-file", "pw",
              "--zone", "CST", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "--zone: 'CST' is not an IANA time zone");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "user", "add", "ann", "--role", "viewer", "--password-file", "pw",
              "--lang", "fr", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "--lang: unknown language 'fr' (en or zh-CN)");
    tu_run_release(&r);
    assert_int_equal(q1("SELECT count(*) FROM users"), 0);
    TU_HERALD_OK(dir, "user", "add", "ann", "--role", "viewer", "--password-file", "pw", "--lang",
                 "zh-CN", "--zone", "Asia/Shanghai");
    assert_int_equal(q1("SELECT count(*) FROM users WHERE lang = 'zh-CN' AND zone = "
                        "'Asia/Shanghai'"),
                     1);
    tu_herald(&r, dir, NULL, "user", "set", "ann", "--zone", "Mars/Base", NULL);
    assert_int_equal(r.status, 2);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "user", "set", "ann", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "set needs --lang or --zone");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "user", "set", "ann", "--lang", "en", "--role", "admin", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "set takes --lang and --zone only");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "user", "set", "nobody", "--lang", "en", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "no user named 'nobody'");
    tu_run_release(&r);
    assert_int_equal(q1("SELECT count(*) FROM users WHERE zone = 'Asia/Shanghai'"), 1);
    TU_HERALD_OK(dir, "user", "set", "ann", "--lang", "");
    assert_int_equal(q1("SELECT count(*) FROM users WHERE lang IS NULL AND zone = "
                        "'Asia/Shanghai'"),
                     1);
    tu_herald(&r, dir, NULL, "user", "list", "--format", "jsonl", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "\"zone\":\"Asia/Shanghai\"");
    assert_contains(r.out, "\"lang\":null");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "audit", "actions", "--format", "csv", NULL);
    assert_contains(r.out, ",user_set,ann,cli");
    tu_run_release(&r);
}

static void test_console_settings_page(void **state)
{
    (void)state;
    struct srv s;
    char *body, *hdr, form[256];
    write_file("pw", TC_PASSWORD "\n");
    TU_HERALD_OK(dir, "user", "add", "ann", "--role", "viewer", "--password-file", "pw", "--lang",
                 "zh-CN", "--zone", "Asia/Shanghai");
    tc_user("bob", "admin");
    send_promo(); /* its log rows at 12:00 UTC */
    srv_start(&s);
    char *sid = tc_sign_in(&s, "ann"), *bid = tc_sign_in(&s, "bob");
    /* the user's language wins over the browser's; the times in the user's zone */
    assert_int_equal(tc_get(&s, sid, "/console/log", "en", &body, NULL), 200);
    assert_contains(body, "<html lang=\"zh-CN\">");
    assert_contains(body, "<h1 id=\"log-title\">投递日志</h1>");
    assert_contains(body, ">2026年11月22日 20:00:00</time>");
    free(body);
    assert_int_equal(tc_get(&s, bid, "/console/log", "en", &body, NULL), 200);
    assert_contains(body, "<html lang=\"en\">");
    assert_contains(body, ">Nov 22, 2026, 12:00:00\u202fPM</time>");
    free(body);
    /* the page shows the settings */
    assert_int_equal(tc_get(&s, sid, "/console/settings", "en", &body, NULL), 200);
    assert_contains(body, "<option value=\"zh-CN\" selected>");
    assert_contains(body, "value=\"Asia/Shanghai\" list=\"zones\"");
    char *csrf = hd_xstrdup(tc_csrf(body));
    free(body);
    /* a POST without the CSRF field, or with another session's: 403, nothing written */
    assert_int_equal(tc_post(&s, sid, "/console/settings", "lang=en&zone=UTC", "en", &body, NULL),
                     403);
    free(body);
    assert_int_equal(tc_get(&s, bid, "/console/settings", "en", &body, NULL), 200);
    snprintf(form, sizeof form, "csrf=%s&lang=en&zone=UTC", tc_csrf(body));
    free(body);
    assert_int_equal(tc_post(&s, sid, "/console/settings", form, "en", &body, NULL), 403);
    free(body);
    /* bad values: the form again with the reason, nothing written */
    snprintf(form, sizeof form, "csrf=%s&lang=en&zone=Mars%%2FBase", csrf);
    assert_int_equal(tc_post(&s, sid, "/console/settings", form, "en", &body, NULL), 400);
    assert_contains(body, "&#39;Mars/Base&#39; is not an IANA time zone");
    assert_contains(body, "value=\"Mars/Base\"");
    free(body);
    snprintf(form, sizeof form, "csrf=%s&lang=%%3Cb%%3E&zone=UTC", csrf);
    assert_int_equal(tc_post(&s, sid, "/console/settings", form, "en", &body, NULL), 400);
    assert_contains(body, "unknown language &#39;&lt;b&gt;&#39;");
    free(body);
    snprintf(form, sizeof form, "csrf=%s&zone=UTC", csrf);
    assert_int_equal(tc_post(&s, sid, "/console/settings", form, "en", &body, NULL), 400);
    free(body);
    assert_int_equal(q1("SELECT count(*) FROM users WHERE name = 'ann' AND lang = 'zh-CN' AND "
                        "zone = 'Asia/Shanghai'"),
                     1);
    /* saved: English, New York; then the browser's language again */
    snprintf(form, sizeof form, "csrf=%s&lang=en&zone=America%%2FNew_York", csrf);
    assert_int_equal(tc_post(&s, sid, "/console/settings", form, "en", &body, &hdr), 303);
    assert_contains(hdr, "Location: /console/settings?saved=1\r\n");
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, "/console/log", "zh-CN", &body, NULL), 200);
    assert_contains(body, "<html lang=\"en\">");
    assert_contains(body, ">Nov 22, 2026, 7:00:00\u202fAM</time>");
    free(body);
    snprintf(form, sizeof form, "csrf=%s&lang=&zone=", csrf);
    assert_int_equal(tc_post(&s, sid, "/console/settings", form, "en", &body, NULL), 303);
    free(body);
    assert_int_equal(tc_get(&s, sid, "/console/settings?saved=1", "zh-CN", &body, NULL), 200);
    assert_contains(body, "<html lang=\"zh-CN\">");
    assert_contains(body, "<p class=\"saved\" role=\"status\">已保存。</p>");
    assert_contains(body, "<option value=\"\" selected>跟随浏览器</option>");
    free(body);
    assert_int_equal(q1("SELECT count(*) FROM users WHERE name = 'ann' AND lang IS NULL AND zone "
                        "IS NULL"),
                     1);
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE action = 'settings' AND who = "
                        "'ann' AND detail = 'lang=en zone=America/New_York'"),
                     1);
    assert_int_equal(srv_stop(&s), 0);
    free(csrf);
    free(sid);
    free(bid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_console_settings_cli, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_settings_page, e2e_setup, e2e_teardown),
        /* the same on a PostgreSQL store */
        {"test_console_settings_cli_pg", test_console_settings_cli, e2e_setup_pg, e2e_teardown,
         NULL},
        {"test_console_settings_page_pg", test_console_settings_page, e2e_setup_pg, e2e_teardown,
         NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
