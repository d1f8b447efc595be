/* test_console_admin: the console's shared header, audit page and admin
 * pages (issue 21) over real HTTP against the real `herald serve`: a
 * viewer and an operator get 403 for the users and API keys pages, GET
 * and POST alike, with nothing changed; a POST without the CSRF field is
 * refused; an admin adds a user (the CLI's checks and messages, an
 * Argon2id hash), changes a role, removes a user but not themself; a key
 * made on the page is shown once (no-store, never in the log), works
 * against /api/v1 until it is revoked; the audit page lists these
 * actions with `herald audit actions`' filters, paged by id; the nav
 * marks the current page and shows Users to admins only.
 * Each case runs on a SQLite file and on a PostgreSQL store
 * (testserve.h's e2e_setup_pg). */
#include "testconsole.h"

struct who {
    char sid[80], csrf[80];
};

/* Signs name in; its session and CSRF secret into w. */
static void sign_in(const struct srv *s, const char *name, struct who *w)
{
    char *sid = tc_sign_in(s, name), *body;
    snprintf(w->sid, sizeof w->sid, "%s", sid);
    free(sid);
    assert_int_equal(tc_get(s, w->sid, "/console/settings", NULL, &body, NULL), 200);
    snprintf(w->csrf, sizeof w->csrf, "%s", tc_csrf(body));
    free(body);
}

static int get(const struct srv *s, const struct who *w, const char *path, const char *lang,
               char **body, char **hdr)
{
    return tc_get(s, w->sid, path, lang, body, hdr);
}

/* POSTs form with the session's CSRF field first (csrf false: without). */
static int post(const struct srv *s, const struct who *w, const char *path, bool csrf,
                const char *form, char **body, char **hdr)
{
    struct hd_buf full;
    hd_buf_init(&full);
    hd_buf_addf(&full, "%s%s%s%s", csrf ? "csrf=" : "", csrf ? w->csrf : "", csrf ? "&" : "", form);
    int code = tc_post(s, w->sid, path, full.data, "en", body, hdr);
    hd_buf_release(&full);
    return code;
}

static void post_is(const struct srv *s, const struct who *w, const char *path, const char *form,
                    int status, const char *contains)
{
    char *body;
    int got = post(s, w, path, true, form, &body, NULL);
    if (got != status)
        print_message("%s %s: %d %s\n", path, form, got, body);
    assert_int_equal(got, status);
    if (contains)
        assert_contains(body, contains);
    free(body);
}

static void users(void)
{
    tc_user("root", "admin");
    tc_user("val", "viewer");
    tc_user("otto", "operator");
}

static void test_console_admin_roles(void **state)
{
    (void)state;
    struct srv s;
    struct who v, o;
    char *body, *hdr;
    users();
    srv_start(&s);
    sign_in(&s, "val", &v);
    sign_in(&s, "otto", &o);
    const struct who *each[] = {&v, &o};
    const char *forms[][2] = {
        {"/console/users", "action=add&name=mallory&role=admin&password=xxxxxxxx1&"
                           "password2=xxxxxxxx1"},
        {"/console/users", "action=remove&name=root"},
        {"/console/users", "action=role&name=val&role=admin"},
        {"/console/apikeys", "action=create&name=k&scope=send"},
    };
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(get(&s, each[i], "/console/users", "en", &body, NULL), 403);
        free(body);
        assert_int_equal(get(&s, each[i], "/console/apikeys", "en", &body, NULL), 403);
        free(body);
        for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
            assert_int_equal(post(&s, each[i], forms[f][0], true, forms[f][1], &body, NULL), 403);
            assert_contains(body, "your role may not do this");
            free(body);
        }
        /* a viewer reads the audit; the nav has no Users or API keys link */
        assert_int_equal(get(&s, each[i], "/console/audit", "en", &body, NULL), 200);
        assert_contains(body, "<a href=\"/console/audit\" aria-current=\"page\">Audit</a>");
        assert_null(strstr(body, "/console/users"));
        assert_null(strstr(body, "/console/apikeys"));
        assert_contains(body, i ? "/console/campaigns/new" : "Sign out");
        if (!i)
            assert_null(strstr(body, "/console/campaigns/new"));
        free(body);
    }
    assert_int_equal(q1("SELECT count(*) FROM users"), 3);
    assert_int_equal(q1("SELECT count(*) FROM users WHERE name = 'val' AND role = 'viewer'"), 1);
    assert_int_equal(q1("SELECT count(*) FROM api_keys"), 0);
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE action LIKE 'user_%' AND "
                        "addr != 'cli'"),
                     0);
    (void)hdr;
    assert_int_equal(srv_stop(&s), 0);
}

static void test_console_admin_users(void **state)
{
    (void)state;
    struct srv s;
    struct who a;
    char *body, *hdr;
    users();
    srv_start(&s);
    sign_in(&s, "root", &a);
    /* no CSRF field, or another one: refused, nothing written */
    assert_int_equal(post(&s, &a, "/console/users", false,
                          "action=add&name=eve&role=admin&password=xxxxxxxx1&password2=xxxxxxxx1",
                          &body, NULL),
                     403);
    assert_contains(body, "csrf field is missing or wrong");
    free(body);
    assert_int_equal(q1("SELECT count(*) FROM users WHERE name = 'eve'"), 0);
    /* the CLI's checks and messages; nothing written */
    post_is(&s, &a, "/console/users",
            "action=add&name=eve&role=operator&password=xxxxxxxx1&password2=xxxxxxxx2", 400,
            "the two passwords differ: nothing was changed");
    post_is(&s, &a, "/console/users",
            "action=add&name=eve&role=operator&password=xxxxxxxx1&password2=xxxxxxxx2", 400,
            "<option value=\"operator\" selected>");
    post_is(&s, &a, "/console/users",
            "action=add&name=eve&role=boss&password=xxxxxxxx1&password2=xxxxxxxx1", 400,
            "unknown role &#39;boss&#39; (viewer, operator or admin)");
    post_is(&s, &a, "/console/users",
            "action=add&name=e+ve&role=viewer&password=xxxxxxxx1&password2=xxxxxxxx1", 400, NULL);
    post_is(&s, &a, "/console/users",
            "action=add&name=eve&role=viewer&password=short&password2=short", 400, "8");
    post_is(&s, &a, "/console/users",
            "action=add&name=val&role=viewer&password=xxxxxxxx1&password2=xxxxxxxx1", 409, "val");
    assert_int_equal(q1("SELECT count(*) FROM users"), 3);
    /* added, with an Argon2id hash */
    assert_int_equal(post(&s, &a, "/console/users", true,
                          "action=add&name=eve&role=operator&password=xxxxxxxx1&"
                          "password2=xxxxxxxx1",
                          &body, &hdr),
                     303);
    assert_contains(hdr, "Location: /console/users?done=add&name=eve");
    free(body);
    free(hdr);
    assert_int_equal(
        q1("SELECT count(*) FROM users WHERE name = 'eve' AND role = 'operator' AND hash "
           "LIKE '$argon2id$%'"),
        1);
    /* the longest password the CLI takes, 1,020 bytes of Chinese typed
     * twice, escaped: the form's body is 6 KiB (it was refused at 4 KiB: a
     * review) */
    struct hd_buf form;
    hd_buf_init(&form);
    hd_buf_adds(&form, "action=add&name=zhu&role=viewer");
    for (int k = 0; k < 2; k++) {
        hd_buf_adds(&form, k ? "&password2=" : "&password=");
        for (int i = 0; i < 170; i++)
            hd_buf_adds(&form, "%E5%AF%86%E7%A0%81"); /* 密码 */
    }
    int code = post(&s, &a, "/console/users", true, form.data, &body, NULL);
    if (code != 303)
        fail_msg("%d: %.300s", code,
                 strstr(body, "role=\"alert\"") ? strstr(body, "role=\"alert\"") : body);
    free(body);
    hd_buf_release(&form);
    assert_int_equal(q1("SELECT count(*) FROM users WHERE name = 'zhu'"), 1);
    assert_int_equal(get(&s, &a, "/console/users?done=add&name=eve", "en", &body, NULL), 200);
    assert_contains(body, "Added user eve.");
    assert_contains(body, "<a href=\"/console/users\" aria-current=\"page\">Users</a>");
    assert_contains(body, "root (you)");
    assert_null(strstr(body, "xxxxxxxx1"));
    free(body);
    /* a role changed; not one's own; a user removed, not oneself */
    post_is(&s, &a, "/console/users", "action=role&name=val&role=admin", 303, NULL);
    assert_int_equal(q1("SELECT count(*) FROM users WHERE name = 'val' AND role = 'admin'"), 1);
    post_is(&s, &a, "/console/users", "action=role&name=val&role=king", 400,
            "unknown role &#39;king&#39;");
    post_is(&s, &a, "/console/users", "action=role&name=root&role=viewer", 400,
            "you cannot change your own role");
    post_is(&s, &a, "/console/users", "action=remove&name=root", 400, "you cannot remove yourself");
    post_is(&s, &a, "/console/users", "action=remove&name=nobody", 404, "no user named");
    post_is(&s, &a, "/console/users", "action=remove&name=otto", 303, NULL);
    assert_int_equal(q1("SELECT count(*) FROM users WHERE name IN ('root', 'otto')"), 1);
    /* audited with who and from where */
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE who = 'root' AND addr = "
                        "'127.0.0.1' AND ((action = 'user_add' AND detail = 'eve') OR (action = "
                        "'user_role' AND detail = 'val: admin') OR (action = 'user_remove' AND "
                        "detail = 'otto'))"),
                     3);
    /* the role takes effect at the next page: val, now an admin, reads the users */
    struct who v;
    sign_in(&s, "val", &v);
    assert_int_equal(get(&s, &v, "/console/users", "zh-CN", &body, NULL), 200);
    assert_contains(body, "<h1 id=\"h-users\">用户</h1>");
    assert_contains(body, "val（你）");
    assert_contains(body, "(管理员)");
    free(body);
    /* the server's log never holds a password */
    char *log = tu_path(dir, "serve.log"), *text = tu_read(log);
    assert_non_null(text);
    assert_null(strstr(text, "xxxxxxxx1"));
    free(text);
    free(log);
    assert_int_equal(srv_stop(&s), 0);
}

/* GET /api/v1/campaigns with key: its status. */
static int api_get(const struct srv *s, const char *key)
{
    char extra[256], *body;
    snprintf(extra, sizeof extra, "-H 'Authorization: Bearer %s'", key);
    int code = http(s, "GET", "/api/v1/campaigns", NULL, extra, &body, NULL);
    free(body);
    return code;
}

static void test_console_admin_keys(void **state)
{
    (void)state;
    struct srv s;
    struct who a;
    char *body, *hdr, key[64];
    users();
    srv_start(&s);
    sign_in(&s, "root", &a);
    post_is(&s, &a, "/console/apikeys", "action=create&name=app", 400, "create needs a scope");
    post_is(&s, &a, "/console/apikeys", "action=create&name=app&scope=send&scope=fly", 400, "fly");
    post_is(&s, &a, "/console/apikeys", "action=create&name=app&scope=read&rate=fast", 400, "fast");
    assert_int_equal(q1("SELECT count(*) FROM api_keys"), 0);
    assert_int_equal(
        post(&s, &a, "/console/apikeys", false, "action=create&name=app&scope=read", &body, NULL),
        403);
    free(body);
    /* made: shown once, not kept by any cache */
    assert_int_equal(post(&s, &a, "/console/apikeys", true,
                          "action=create&name=app&scope=read&scope=send&rate=50%2Fs", &body, &hdr),
                     201);
    assert_contains(hdr, "Cache-Control: no-store");
    const char *k = strstr(body, "value=\"hd_");
    assert_non_null(k);
    snprintf(key, sizeof key, "%.*s", (int)strcspn(k + 7, "\""), k + 7);
    assert_int_equal(strlen(key), 46);
    free(body);
    free(hdr);
    assert_int_equal(q1("SELECT count(*) FROM api_keys WHERE name = 'app' AND scopes = "
                        "'read,send' AND rate = '50/s'"),
                     1);
    post_is(&s, &a, "/console/apikeys", "action=create&name=app&scope=read", 409, "app");
    /* the list never shows it again; it works against the API */
    assert_int_equal(get(&s, &a, "/console/apikeys", "en", &body, NULL), 200);
    assert_null(strstr(body, key));
    assert_contains(body, "read,send");
    assert_contains(body, "Revoke app");
    free(body);
    assert_int_equal(api_get(&s, key), 200);
    /* revoked: refused from the next request */
    post_is(&s, &a, "/console/apikeys", "action=revoke&name=app", 303, NULL);
    assert_int_equal(api_get(&s, key), 401);
    post_is(&s, &a, "/console/apikeys", "action=revoke&name=app", 404, NULL);
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE who = 'root' AND action IN "
                        "('apikey_create', 'apikey_revoke')"),
                     2);
    char *log = tu_path(dir, "serve.log"), *text = tu_read(log);
    assert_non_null(text);
    assert_null(strstr(text, key));
    free(text);
    free(log);
    assert_int_equal(srv_stop(&s), 0);
}

/* A failed login's unknown name (perhaps a password typed in the name
 * field) is an admin's to read on the audit page; others see that it
 * was an unknown name. */
static void test_console_admin_unknown_name(void **state)
{
    (void)state;
    struct srv s;
    struct who a, v;
    char *body, *hdr;
    users();
    srv_start(&s);
    assert_int_equal(tc_login(&s, "Hunter2secret", "whatever+123", NULL, &hdr), 401);
    free(hdr);
    sign_in(&s, "val", &v);
    assert_int_equal(get(&s, &v, "/console/audit?action=login_failed", "en", &body, NULL), 200);
    assert_not_contains(body, "Hunter2secret");
    assert_contains(body, "(an unknown name)");
    free(body);
    /* nor can the who filter confirm a guess of it: the right guess finds
     * what a wrong one finds (it found the row: a review) */
    char *right, *wrong;
    assert_int_equal(get(&s, &v, "/console/audit?who=Hunter2secret", "en", &right, NULL), 200);
    assert_int_equal(get(&s, &v, "/console/audit?who=Hunter3secret", "en", &wrong, NULL), 200);
    assert_not_contains(right, "(an unknown name)");
    assert_not_contains(right, "login_failed");
    free(right);
    free(wrong);
    sign_in(&s, "root", &a);
    assert_int_equal(get(&s, &a, "/console/audit?who=Hunter2secret", "en", &body, NULL), 200);
    assert_contains(body, "Hunter2secret");
    free(body);
    assert_int_equal(get(&s, &a, "/console/audit?action=login_failed", "en", &body, NULL), 200);
    assert_contains(body, "Hunter2secret");
    free(body);
    assert_int_equal(srv_stop(&s), 0);
}

static void test_console_admin_audit(void **state)
{
    (void)state;
    struct srv s;
    struct who a;
    char *body, sql[256];
    users();
    /* 120 actions of mallory, ids 4 to 123 after the three user_add */
    for (int i = 0; i < 120; i++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO audit_actions (at, who, action, detail, addr) VALUES (%d, "
                 "'mallory', 'poke', 'n%d', '10.0.0.1')",
                 1795000000 + i, i);
        free(tu_sql_text(dir, e2e_db, sql));
    }
    srv_start(&s);
    sign_in(&s, "root", &a);
    /* the filter: who, action; newest first, 50 a page, then older by id */
    assert_int_equal(get(&s, &a, "/console/audit?who=mallory&action=poke", "en", &body, NULL), 200);
    assert_contains(body, ">n119</td>");
    assert_contains(body, ">n70</td>");
    assert_null(strstr(body, ">n69</td>"));
    assert_null(strstr(body, "<code>login</code>"));
    assert_contains(body, "href=\"/console/audit?who=mallory&amp;action=poke&amp;before=");
    assert_null(strstr(body, ">Newest</a>"));
    assert_true(strstr(body, ">n119</td>") < strstr(body, ">n118</td>"));
    free(body);
    assert_int_equal(
        get(&s, &a, "/console/audit?who=mallory&action=poke&before=74", "en", &body, NULL), 200);
    assert_contains(body, ">n69</td>");
    assert_contains(body, ">n20</td>");
    assert_null(strstr(body, ">n70</td>"));
    assert_contains(body, ">Newest</a>");
    free(body);
    assert_int_equal(
        get(&s, &a, "/console/audit?who=mallory&action=poke&before=24", "en", &body, NULL), 200);
    assert_contains(body, ">n0</td>");
    assert_null(strstr(body, "rel=\"next\""));
    free(body);
    /* since and until (1795000000 is 2026-11-18T11:06:40Z) */
    assert_int_equal(get(&s, &a,
                         "/console/audit?since=2026-11-18T11:07:00Z&until=2026-11-18T11:07:02Z",
                         "en", &body, NULL),
                     200);
    assert_contains(body, ">n20</td>");
    assert_contains(body, ">n21</td>");
    assert_null(strstr(body, ">n22</td>"));
    assert_null(strstr(body, ">n19</td>"));
    free(body);
    assert_int_equal(get(&s, &a, "/console/audit?since=yesterday", "en", &body, NULL), 400);
    assert_contains(body, "ISO 8601");
    free(body);
    /* the page's own actions: the admin's login and a change */
    post_is(&s, &a, "/console/users", "action=role&name=val&role=operator", 303, NULL);
    assert_int_equal(get(&s, &a, "/console/audit?who=root", "zh-CN", &body, NULL), 200);
    assert_contains(body, "<h1 id=\"h-audit\">操作审计</h1>");
    assert_contains(body, "<a href=\"/console/audit\" aria-current=\"page\">操作审计</a>");
    assert_contains(body, "<code>user_role</code></td><td class=\"detail\">val: operator</td>");
    assert_contains(body, "<code>login</code>");
    assert_contains(body, "<td>127.0.0.1</td>");
    free(body);
    /* the CLI lists the same with the same filter */
    struct tu_run r;
    tu_herald(&r, dir, NULL, "audit", "actions", "--who", "root", "--action", "user_role",
              "--format", "csv", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, ",root,user_role,val: operator,127.0.0.1");
    assert_null(strstr(r.out, "login"));
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "audit", "actions", "--until", "2026-11-18T11:06:41Z", "--format",
              "csv", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, ",mallory,poke,n0,");
    assert_null(strstr(r.out, ",n1,"));
    tu_run_release(&r);
    assert_int_equal(srv_stop(&s), 0);
}

/* herald user role: the CLI's side of the page's role change. */
static void test_console_admin_cli_role(void **state)
{
    (void)state;
    struct tu_run r;
    users();
    tu_herald(&r, dir, NULL, "user", "role", "val", "--role", "emperor", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "unknown role 'emperor' (viewer, operator or admin)");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "user", "role", "nobody", "--role", "admin", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "no user named 'nobody'");
    tu_run_release(&r);
    assert_int_equal(q1("SELECT count(*) FROM users WHERE name = 'val' AND role = 'viewer'"), 1);
    TU_HERALD_OK(dir, "user", "role", "val", "--role", "operator");
    assert_int_equal(q1("SELECT count(*) FROM users WHERE name = 'val' AND role = 'operator'"), 1);
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE action = 'user_role' AND "
                        "detail = 'val: operator' AND addr = 'cli'"),
                     1);
    /* herald apikey notes its changes as the keys page does */
    struct tu_run k;
    tu_herald(&k, dir, NULL, "apikey", "create", "cron", "--scope", "read", NULL);
    assert_int_equal(k.status, 0);
    tu_run_release(&k);
    TU_HERALD_OK(dir, "apikey", "revoke", "cron");
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE addr = 'cli' AND ((action = "
                        "'apikey_create' AND detail = 'cron (read, 100/s)') OR (action = "
                        "'apikey_revoke' AND detail = 'cron'))"),
                     2);
}

/* zh-CN pages say a row's outcome and state in Chinese; the filter keeps
 * the code a query takes; English pages keep the CLI's words. */
static void test_console_admin_words(void **state)
{
    (void)state;
    struct srv s;
    struct who v;
    char *body;
    users();
    send_promo();
    srv_start(&s);
    sign_in(&s, "val", &v);
    assert_int_equal(get(&s, &v, "/console/log?outcome=accepted", "zh-CN", &body, NULL), 200);
    assert_contains(body, "<td>已接受</td>");
    assert_contains(body, "<td>已发送</td>");
    assert_contains(body, "name=\"outcome\" value=\"accepted\"");
    assert_contains(body, "<span>val (查看者)</span>");
    free(body);
    assert_int_equal(get(&s, &v, "/console/contacts/k1", "zh-CN", &body, NULL), 200);
    assert_contains(body, "已接受");
    assert_null(strstr(body, "<td>accepted</td>"));
    free(body);
    assert_int_equal(get(&s, &v, "/console/log?outcome=accepted", "en", &body, NULL), 200);
    assert_contains(body, "<td>accepted</td>");
    assert_contains(body, "<td>sent</td>");
    free(body);
    assert_int_equal(srv_stop(&s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_console_admin_roles, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_admin_users, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_admin_keys, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_admin_unknown_name, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_admin_audit, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_admin_cli_role, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_admin_words, e2e_setup, e2e_teardown),
        /* the same on a PostgreSQL store */
        {"test_console_admin_roles_pg", test_console_admin_roles, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_admin_users_pg", test_console_admin_users, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_admin_keys_pg", test_console_admin_keys, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_admin_unknown_name_pg", test_console_admin_unknown_name, e2e_setup_pg,
         e2e_teardown, NULL},
        {"test_console_admin_audit_pg", test_console_admin_audit, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_admin_cli_role_pg", test_console_admin_cli_role, e2e_setup_pg, e2e_teardown,
         NULL},
        {"test_console_admin_words_pg", test_console_admin_words, e2e_setup_pg, e2e_teardown, NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
