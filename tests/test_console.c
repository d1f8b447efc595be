/* test_console: the web console's foundation (issue 21) over real HTTP:
 * `herald user add|list|remove|passwd` with their refusals (nothing
 * written), then the real `herald serve` on 127.0.0.1 (tests/testserve.h)
 * driven by curl as a browser would: the login form's pre-session cookie
 * and signed CSRF field, a POST without them refused, a wrong password and
 * an unknown user refused and audited, the session cookie's attributes,
 * the console's Content-Security-Policy, the throttle's 429 with
 * Retry-After, logout (its CSRF-less POST refused) ending the session, a
 * session past [serve] console_session sent back to the login, the
 * overview with a real campaign's numbers in English and Chinese, and
 * `herald audit actions` listing what happened.
 * Each case runs on a SQLite file and on a PostgreSQL store
 * (testserve.h's e2e_setup_pg). */
#include "testconsole.h"

static void write_pw(void)
{
    write_file("pw", TC_PASSWORD "\n");
    write_file("short", "abc\n");
    write_file("pw2", "another secret 2\n");
}

static struct tu_run run(const char *a0, const char *a1, const char *a2, const char *a3,
                         const char *a4, const char *a5, const char *a6)
{
    struct tu_run r;
    tu_herald(&r, dir, NULL, a0, a1, a2, a3, a4, a5, a6, NULL);
    return r;
}

static void test_console_users(void **state)
{
    (void)state;
    write_pw();
    struct tu_run r = run("user", "add", "ann", "--role", "admin", "--password-file", "pw");
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    assert_int_equal(q1("SELECT count(*) FROM users WHERE name = 'ann' AND role = 'admin' AND "
                        "hash LIKE '_argon2id_v=19_m=19456,t=2,p=1_%'"),
                     1);
    r = run("user", "add", "bob", "--role", "boss", "--password-file", "pw");
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "unknown role 'boss'");
    tu_run_release(&r);
    r = run("user", "add", "ann", "--role", "viewer", "--password-file", "pw");
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "a user named 'ann' exists");
    tu_run_release(&r);
    r = run("user", "add", "cy", "--role", "viewer", "--password-file", "short");
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "a password has 8 to 1024 bytes");
    tu_run_release(&r);
    r = run("user", "add", "bad name", "--role", "viewer", "--password-file", "pw");
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "a user name has 1 to 63");
    tu_run_release(&r);
    /* a password file that is not there, or empty: why, and exit 2 as for
     * any bad option (a review saw no reason) */
    r = run("user", "add", "cy", "--role", "viewer", "--password-file", "nosuch");
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "--password-file: cannot open 'nosuch': No such file or directory");
    tu_run_release(&r);
    char *empty = tu_path(dir, "empty.pw");
    tu_write(empty, "");
    free(empty);
    r = run("user", "add", "cy", "--role", "viewer", "--password-file", "empty.pw");
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "cannot read a password from 'empty.pw': it is empty");
    tu_run_release(&r);
    /* an API key's bad scope or rate is a bad option too: exit 2 (was 1) */
    r = run("apikey", "create", "k", "--scope", "bogus", NULL, NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "'bogus' is not a scope");
    assert_contains(r.err, "Try 'herald apikey --help'.");
    tu_run_release(&r);
    r = run("apikey", "create", "k", "--scope", "send", "--rate", "abc");
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "'abc' is not a rate");
    tu_run_release(&r);
    assert_int_equal(q1("SELECT count(*) FROM users"), 1);
    assert_int_equal(q1("SELECT count(*) FROM users WHERE role = 'admin'"), 1);
    r = run("user", "remove", "nobody", NULL, NULL, NULL, NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "no user named 'nobody'");
    tu_run_release(&r);
    r = run("user", "passwd", "nobody", "--password-file", "pw", NULL, NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "no user named 'nobody'");
    tu_run_release(&r);
    char cmd[4200], *h1 = tu_sql_text(dir, e2e_db, "SELECT hash FROM users");
    TU_HERALD_OK(dir, "user", "passwd", "ann", "--password-file", "pw2");
    char *h2 = tu_sql_text(dir, e2e_db, "SELECT hash FROM users");
    assert_true(strncmp(h1, "$argon2id$", 10) == 0);
    assert_string_not_equal(h1, h2);
    free(h1);
    free(h2);
    TU_HERALD_OK(dir, "user", "add", "vic", "--role", "viewer", "--password-file", "pw");
    r = run("user", "list", "--format", "json", NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "{\"name\":\"ann\",\"role\":\"admin\"");
    assert_contains(r.out, "{\"name\":\"vic\",\"role\":\"viewer\"");
    assert_not_contains(r.out, "argon2");
    tu_run_release(&r);
    /* no --password-file: asked twice on the terminal (script(1) gives it
     * one; the lines are typed ahead) */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && printf 'tty pass 123\\ntty pass 123\\n' | script -qec '%s user add tia "
             "--role viewer' /dev/null 2>&1",
             dir, tu_herald_bin());
    char *out = tu_sh(cmd);
    assert_contains(out, "Password: ");
    assert_contains(out, "Password again: ");
    assert_contains(out, "added user 'tia' (viewer)");
    free(out);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && printf 'tty pass 123\\nanother one\\n' | script -qec '%s user add tib "
             "--role viewer' /dev/null 2>&1; echo exit=$?",
             dir, tu_herald_bin());
    out = tu_sh(cmd);
    assert_contains(out, "the two passwords differ: nothing was changed");
    assert_contains(out, "exit=2");
    free(out);
    assert_int_equal(q1("SELECT count(*) FROM users WHERE name IN ('tia', 'tib')"), 1);
    TU_HERALD_OK(dir, "user", "remove", "tia");
    TU_HERALD_OK(dir, "user", "remove", "vic");
    assert_int_equal(q1("SELECT count(*) FROM users"), 1);
    r = run("audit", "actions", "--format", "csv", NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "at,who,action,detail,from");
    assert_contains(r.out, ",user_add,ann,cli");
    assert_contains(r.out, ",user_passwd,ann,cli");
    assert_contains(r.out, ",user_remove,vic,cli");
    tu_run_release(&r);
}

/* ---- a browser's part, with curl ---- */

/* curl's source address for the logins (fixed text) */
static const char *from = "";

static void test_console_login(void **state)
{
    (void)state;
    struct srv s;
    char *body, *hdr;
    tc_user("ann", "operator");
    srv_start(&s);
    assert_int_equal(http(&s, "GET", "/console", NULL, NULL, &body, &hdr), 301);
    assert_contains(hdr, "Location: /console/\r\n");
    free(body);
    free(hdr);
    /* not signed in: every page sends to the login */
    assert_int_equal(http(&s, "GET", "/console/", NULL, NULL, &body, &hdr), 303);
    assert_contains(hdr, "Location: /console/login\r\n");
    free(body);
    free(hdr);
    assert_int_equal(http(&s, "GET", "/console/login", NULL, NULL, &body, &hdr), 200);
    assert_contains(hdr, "Content-Security-Policy: default-src 'self'; script-src 'self'; "
                         "style-src 'self'; frame-src 'self'; img-src 'self' data:; "
                         "form-action 'self'; frame-ancestors 'none'\r\n");
    assert_contains(hdr, "X-Content-Type-Options: nosniff\r\n");
    assert_contains(hdr, "; Path=/console/; Max-Age=3600; HttpOnly; SameSite=Strict\r\n");
    assert_contains(body, "<form method=\"post\" action=\"/console/login\">");
    assert_not_contains(body, "<script");
    free(body);
    free(hdr);
    /* a POST without the form's cookie and field is refused before anything */
    assert_int_equal(
        http(&s, "POST", "/console/login", "name=ann&password=correct+horse+1", NULL, &body, NULL),
        403);
    assert_contains(body, "csrf");
    free(body);
    assert_int_equal(q1("SELECT count(*) FROM console_sessions"), 0);
    /* wrong password, unknown user: 401, the form again, audited */
    assert_int_equal(tc_login(&s, "ann", "wrong+password", from, &hdr), 401);
    free(hdr);
    assert_int_equal(tc_login(&s, "zed", "correct+horse+1", from, &hdr), 401);
    free(hdr);
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE action = 'login_failed' AND "
                        "addr = '127.0.0.1'"),
                     2);
    assert_int_equal(q1("SELECT count(*) FROM console_sessions"), 0);
    /* the right one: a session cookie with its attributes */
    assert_int_equal(tc_login(&s, "ann", "correct+horse+1", from, &hdr), 303);
    assert_contains(hdr, "Set-Cookie: herald_session=");
    assert_contains(hdr, "; Path=/console/; Max-Age=43200; HttpOnly; SameSite=Strict\r\n");
    assert_not_contains(hdr, "Secure");
    char *sid = hd_xstrdup(tc_cookie(hdr, "herald_session"));
    free(hdr);
    /* the store keeps its SHA-256, not the id */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM console_sessions WHERE %s('%s')",
             e2e_pg_uri ? "encode(id, 'hex') = lower" : "hex(id) = upper", sid);
    assert_int_equal(q1(sql), 0);
    assert_int_equal(q1("SELECT count(*) FROM console_sessions"), 1);
    assert_int_equal(tc_get(&s, sid, "/console/", "en", &body, &hdr), 200);
    assert_contains(hdr, "Content-Security-Policy: default-src 'self'; script-src 'self'");
    assert_contains(body, "<span>ann (operator)</span>");
    char *csrf = hd_xstrdup(tc_csrf(body));
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, "/console/static/console.css", "en", &body, &hdr), 200);
    assert_contains(hdr, "Content-Type: text/css");
    assert_contains(body, "body{");
    free(body);
    free(hdr);
    /* logout: the CSRF-less POST refused, the real one ends the session */
    char extra[256], form[128];
    snprintf(extra, sizeof extra, "-b 'herald_session=%s'", sid);
    assert_int_equal(http(&s, "POST", "/console/logout", "x=1", extra, &body, NULL), 403);
    free(body);
    assert_int_equal(http(&s, "POST", "/console/logout", "csrf=0000", extra, &body, NULL), 403);
    free(body);
    assert_int_equal(q1("SELECT count(*) FROM console_sessions"), 1);
    snprintf(form, sizeof form, "csrf=%s", csrf);
    assert_int_equal(http(&s, "POST", "/console/logout", form, extra, &body, &hdr), 303);
    assert_contains(hdr, "Set-Cookie: herald_session=; Path=/console/; Max-Age=0");
    free(body);
    free(hdr);
    assert_int_equal(q1("SELECT count(*) FROM console_sessions"), 0);
    assert_int_equal(tc_get(&s, sid, "/console/", "en", &body, &hdr), 303);
    assert_contains(hdr, "Location: /console/login\r\n");
    free(body);
    free(hdr);
    assert_int_equal(srv_stop(&s), 0);
    struct tu_run r = run("audit", "actions", "--format", "jsonl", NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "\"who\":\"ann\",\"action\":\"logout\"");
    assert_contains(r.out, "\"who\":\"ann\",\"action\":\"login\",\"detail\":\"operator\","
                           "\"from\":\"127.0.0.1\"");
    assert_contains(r.out, "\"who\":\"zed\",\"action\":\"login_failed\",\"detail\":"
                           "\"unknown user\"");
    assert_contains(r.out, "\"who\":\"ann\",\"action\":\"login_failed\",\"detail\":"
                           "\"wrong password\"");
    tu_run_release(&r);
    free(sid);
    free(csrf);
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Ten wrong passwords at once from one browser's form: the throttle's
 * count and each failure's record are one step, so five are checked and
 * recorded and the other five answered 429, however they interleave (in
 * flight together they all passed the count before). */
static void test_console_throttle_parallel(void **state)
{
    (void)state;
    struct srv s;
    char *body, *h, cmd[2048];
    tc_user("ann", "operator");
    srv_start(&s);
    assert_int_equal(http(&s, "GET", "/console/login", NULL, NULL, &body, &h), 200);
    snprintf(
        cmd, sizeof cmd,
        "cd '%s' && for i in 1 2 3 4 5 6 7 8 9 10; do curl -s -o /dev/null -w '%%{http_code}\\n' "
        "--max-time 30 -b 'herald_login=%s' --data 'name=ann&password=nope+nope+nope&csrf=%s' "
        "http://127.0.0.1:%d/console/login & done; wait",
        dir, tc_cookie(h, "herald_login"), tc_csrf(body), s.port);
    free(body);
    free(h);
    char *codes = tu_sh(cmd);
    int n401 = count_of(codes, "401"), n429 = count_of(codes, "429");
    if (n401 != 5 || n429 != 5)
        fail_msg("10 logins at once: %d answered 401, %d 429:\n%s", n401, n429, codes);
    free(codes);
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE action = 'login_failed'"), 5);
    assert_int_equal(srv_stop(&s), 0);
}

static void test_console_throttle(void **state)
{
    (void)state;
    struct srv s;
    char *hdr;
    tc_user("ann", "operator");
    srv_start(&s);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(tc_login(&s, "ann", "nope+nope+nope", from, &hdr), 401);
        free(hdr);
    }
    /* the sixth, even with the right password: 429 until the window passes */
    assert_int_equal(tc_login(&s, "ann", "correct+horse+1", from, &hdr), 429);
    /* the window's 900 s from the first failure, which may be a second or
     * two ago after five Argon2 checks */
    const char *ra = strstr(hdr, "Retry-After: ");
    assert_non_null(ra);
    long wait = strtol(ra + 13, NULL, 10);
    assert_true(wait >= 890 && wait <= 900);
    free(hdr);
    assert_int_equal(q1("SELECT count(*) FROM console_sessions"), 0);
    /* another account from the same address is throttled too (per address) */
    assert_int_equal(tc_login(&s, "other", "whatever+123", from, &hdr), 429);
    free(hdr);
    /* a name typed when throttled may be a password: the service's log
     * says the address, not the name (it said both) */
    assert_int_equal(tc_login(&s, "MyS3cretPass", "whatever+123", from, &hdr), 429);
    free(hdr);
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "grep -c 'login throttled' '%s/serve.log'; grep -c MyS3cretPass '%s/serve.log'; true",
             dir, dir);
    char *seen = tu_sh(cmd);
    int throttled_lines = 0, names = -1;
    assert_int_equal(sscanf(seen, "%d %d", &throttled_lines, &names), 2);
    if (throttled_lines == 0 || names != 0)
        fail_msg("serve.log: %d throttled lines, the name %d times", throttled_lines, names);
    free(seen);
    /* from another address: ann is still throttled (per account), another
     * account is not */
    from = "--interface 127.0.0.2";
    assert_int_equal(tc_login(&s, "ann", "correct+horse+1", from, &hdr), 429);
    free(hdr);
    assert_int_equal(tc_login(&s, "other", "whatever+123", from, &hdr), 401);
    free(hdr);
    /* through a proxy on this machine (the peer 127.0.0.1, trusted by
     * default): the address is X-Forwarded-For's, not the proxy's, so one
     * client's failures throttle no other (a review locked every user out
     * so through nginx) */
    from = "-H 'X-Forwarded-For: 198.51.100.7'";
    assert_int_equal(tc_login(&s, "other", "whatever+123", from, &hdr), 401);
    free(hdr);
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE action = 'login_failed' AND "
                        "who = 'other' AND addr = '198.51.100.7'"),
                     1);
    from = "";
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE action = 'login_failed' AND "
                        "who = 'other' AND addr = '127.0.0.2'"),
                     1);
    assert_int_equal(srv_stop(&s), 0);
    /* 15 minutes later the account may try again */
    setenv("HERALD_NOW", "2026-11-22T12:15:01Z", 1);
    srv_start(&s);
    char *sid = tc_sign_in(&s, "ann");
    free(sid);
    assert_int_equal(srv_stop(&s), 0);
}

static void test_console_expired(void **state)
{
    (void)state;
    struct srv s;
    char *body, *hdr;
    tc_user("ann", "operator");
    write_conf("h.conf", "secret_file = var/herald.secret\nconsole_session = 1h\n");
    srv_start(&s);
    char *sid = tc_sign_in(&s, "ann");
    assert_int_equal(tc_get(&s, sid, "/console/", "en", &body, &hdr), 200);
    free(body);
    free(hdr);
    assert_int_equal(srv_stop(&s), 0);
    setenv("HERALD_NOW", "2026-11-22T13:00:01Z", 1);
    srv_start(&s);
    assert_int_equal(tc_get(&s, sid, "/console/", "en", &body, &hdr), 303);
    assert_contains(hdr, "Location: /console/login\r\n");
    free(body);
    free(hdr);
    /* the next login clears the expired session away */
    assert_int_equal(q1("SELECT count(*) FROM console_sessions"), 1);
    char *again = tc_sign_in(&s, "ann");
    assert_int_equal(q1("SELECT count(*) FROM console_sessions"), 1);
    assert_int_equal(tc_get(&s, again, "/console/", "en", &body, &hdr), 200);
    free(body);
    free(hdr);
    free(again);
    assert_int_equal(srv_stop(&s), 0);
    free(sid);
}

static void test_console_overview(void **state)
{
    (void)state;
    struct srv s;
    char *body, *hdr;
    tc_user("ann", "operator");
    send_promo();
    TU_HERALD_OK(dir, "campaign", "create", "later", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--at", "2026-11-23T09:00:00Z");
    TU_HERALD_OK(dir, "campaign", "create", "held", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--at", "2026-11-24T09:00:00Z");
    TU_HERALD_OK(dir, "campaign", "pause", "held");
    /* a provider a gateway throttled, as the dispatcher's writer records it:
     * until 2026-11-22T13:00:00Z on SQLite, whose pauses are on the local
     * clock (HERALD_NOW's here); an hour on PostgreSQL, whose pauses are
     * on the server's clock, shown in the reader's (HERALD_NOW's, which
     * runs on from the server's start) */
    free(tu_sql_text(dir, e2e_db,
                     e2e_pg_uri ? "INSERT INTO provider_pauses VALUES ('mail', CAST(extract(epoch "
                                  "FROM clock_timestamp()) * 1000 AS bigint) + 3600000)"
                                : "INSERT INTO provider_pauses VALUES ('mail', 1795352400000)"));
    srv_start(&s);
    char *sid = tc_sign_in(&s, "ann");
    assert_int_equal(tc_get(&s, sid, "/console/", "en-GB,en;q=0.8", &body, &hdr), 200);
    assert_contains(body, "<tr><td><a href=\"/console/campaigns/held\">held</a></td>"
                          "<td class=\"status-paused\">paused</td>");
    assert_contains(body, e2e_pg_uri ? "<li>mail: throttled by the gateway, paused until "
                                       "<time datetime=\"2026-11-22T1"
                                     : "<li>mail: throttled by the gateway, paused until "
                                       "<time datetime=\"2026-11-22T13:00:00Z\">Nov 22, 2026, "
                                       "1:00:00\u202fPM</time></li>");
    assert_contains(body, "<html lang=\"en\">");
    assert_contains(body, "<h2 id=\"h-today\">Today (2026-11-22, UTC) by channel</h2>");
    assert_contains(body, "<tr><td>email</td><td class=\"n\">3</td><td class=\"n\">0</td>"
                          "<td class=\"n\">0</td></tr>");
    assert_contains(body, "<tr><td><a href=\"/console/campaigns/later\">later</a></td>"
                          "<td class=\"status-scheduled\">scheduled</td>"
                          "<td>email</td><td>at 2026-11-23T09:00:00Z</td>"
                          "<td><time datetime=\"2026-11-23T09:00:00Z\">Nov 23, 2026, "
                          "9:00:00\u202fAM</time></td></tr>");
    assert_not_contains(body, ">promo</a></td>"); /* done: neither running nor scheduled */
    assert_contains(body, "Messages waiting: <strong>0</strong>");
    assert_contains(body, "No message has failed.");
    free(body);
    free(hdr);
    /* messages that could not be made are failures of the day too, and in
     * the last errors (the overview said none beside a campaign the
     * breaker had paused for them: a review) */
    tu_put_template(dir, "broken",
                    "category: transactional\nfrom: A <a@example.com>\n\n"
                    "--- email.subject\nYour order {{ order_id }}\n"
                    "--- email.text\nx\n");
    TU_HERALD_OK(dir, "campaign", "create", "broken", "--segment", "all", "--template", "broken",
                 "--channels", "email", "--now");
    struct tu_run r;
    tu_herald(&r, dir, NULL, "send", "broken", NULL);
    assert_int_equal(r.status, 3); /* messages failed */
    tu_run_release(&r);
    assert_int_equal(tc_get(&s, sid, "/console/", "en", &body, &hdr), 200);
    assert_contains(body, "<tr><td>email</td><td class=\"n\">3</td><td class=\"n\">0</td>"
                          "<td class=\"n\">3</td></tr>");
    assert_not_contains(body, "No message has failed.");
    assert_contains(body, "render_failed");
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, "/console/", "zh-CN,zh;q=0.9", &body, &hdr), 200);
    assert_contains(body, "<html lang=\"zh-CN\">");
    assert_contains(body, "<tr><td>邮件</td><td class=\"n\">3</td>");
    assert_contains(body, "<td class=\"status-scheduled\">已排期</td>");
    assert_contains(body, "<td class=\"status-paused\">已暂停</td>");
    assert_contains(body, e2e_pg_uri ? "<li>mail：被网关限流，暂停至 <time datetime=\"2026-11-22T1"
                                     : "<li>mail：被网关限流，暂停至 <time "
                                       "datetime=\"2026-11-22T13:00:00Z\">2026年11月22日 "
                                       "13:00:00</time></li>");
    assert_contains(body, "<h2 id=\"h-today\">今日（2026-11-22，UTC）各渠道</h2>");
    free(body);
    free(hdr);
    /* an unknown console path for a signed-in user is 404; a GET to logout 405 */
    assert_int_equal(tc_get(&s, sid, "/console/nope", "en", &body, &hdr), 404);
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, "/console/logout", "en", &body, &hdr), 405);
    assert_contains(hdr, "Allow: POST\r\n");
    free(body);
    free(hdr);
    assert_int_equal(http(&s, "DELETE", "/console/login", NULL, NULL, &body, &hdr), 405);
    assert_contains(hdr, "Allow: GET, HEAD, POST\r\n");
    free(body);
    free(hdr);
    assert_int_equal(http(&s, "PUT", "/console/", NULL, NULL, &body, &hdr), 303);
    free(body);
    free(hdr);
    assert_int_equal(srv_stop(&s), 0);
    free(sid);
}

/* [serve] console_session: a bad value is refused at its file and line */
static void test_console_config(void **state)
{
    (void)state;
    write_conf("h.conf", "secret_file = var/herald.secret\nconsole_session = forever\n");
    struct tu_run r = run("config", "check", NULL, NULL, NULL, NULL, NULL);
    assert_int_not_equal(r.status, 0);
    assert_contains(r.err, "h.conf:8: console_session: 'forever' is not a duration");
    tu_run_release(&r);
    write_conf("h.conf", "secret_file = var/herald.secret\nconsole_session = 30m\n");
    r = run("config", "check", NULL, NULL, NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "console_session = 30m");
    tu_run_release(&r);
}

/* ---- a campaign's page, its actions, the delivery log ---- */

/* The funnel's cells as the page must show them, from `herald stats
 * --format json` (the same function the page reads through). */
static void funnel_from_stats(const char *camp, char *out, size_t size)
{
    struct tu_run r = run("stats", camp, "--format", "json", NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    json_t *all = json_object_get(json_object_get(j, "groups"), "all");
    assert_non_null(all);
    snprintf(out, size,
             "<tbody><tr><td class=\"n\">%lld</td><td class=\"n\">%lld</td>"
             "<td class=\"n\">%lld</td><td class=\"n\">%lld</td>",
             (long long)json_number_value(json_object_get(all, "targeted")),
             (long long)json_number_value(json_object_get(all, "held_out")),
             (long long)json_number_value(json_object_get(all, "sent")),
             (long long)json_number_value(json_object_get(all, "delivered")));
    json_decref(j);
    tu_run_release(&r);
}

static void test_console_campaign(void **state)
{
    (void)state;
    struct srv s;
    char *body, *hdr, want[256], form[160];
    tc_user("ann", "operator");
    tc_user("vic", "viewer");
    send_promo();
    TU_HERALD_OK(dir, "campaign", "create", "later", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--at", "2026-11-23T09:00:00Z");
    srv_start(&s);
    char *sid = tc_sign_in(&s, "ann");
    char *vid = tc_sign_in(&s, "vic");
    /* the numbers are herald stats' */
    assert_int_equal(tc_get(&s, sid, "/console/campaigns/promo", "en", &body, &hdr), 200);
    funnel_from_stats("promo", want, sizeof want);
    assert_contains(want, "<td class=\"n\">3</td>");
    assert_contains(body, want);
    assert_contains(body, "<h1>Campaign: promo</h1>");
    assert_contains(body, "<dt>Segment</dt><dd>all</dd>");
    assert_contains(body, "<tr><td>1</td><td><time datetime=\"2026-11-22T12:00:00Z\">");
    assert_contains(body, "href=\"/console/log?campaign=promo\"");
    assert_not_contains(body, "value=\"pause\""); /* done: nothing to pause */
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, "/console/campaigns/promo", "zh-CN", &body, &hdr), 200);
    assert_contains(body, "<h1>活动: promo</h1>");
    assert_contains(body, "<th class=\"n\">已送达</th>");
    assert_contains(body, "<dt>类别</dt><dd>营销</dd>");
    assert_contains(body, want);
    /* conversions to an event, when asked, as herald stats --goal counts them */
    assert_contains(body, "<td class=\"n\">-</td></tr></tbody>");
    write_file("ev.csv", "contact,event,time\nk1,purchase,2026-11-22T12:30:00Z\n"
                         "k3,purchase,2026-11-22T13:00:00Z\nk2,signup,2026-11-22T13:00:00Z\n");
    TU_HERALD_OK(dir, "events", "import", "ev.csv");
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, "/console/campaigns/promo?goal=purchase", "en", &body, &hdr),
                     200);
    assert_contains(body, "<td class=\"n\">2</td></tr></tbody>");
    assert_contains(body, "<input name=\"goal\" value=\"purchase\"");
    struct tu_run g = run("stats", "promo", "--goal", "purchase", "--format", "jsonl", NULL);
    assert_int_equal(g.status, 0);
    assert_contains(g.out, "\"messages\":3,\"converted\":2,");
    tu_run_release(&g);
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, "/console/campaigns/nope", "en", &body, &hdr), 404);
    free(body);
    free(hdr);
    /* the overview links to each campaign's page */
    assert_int_equal(tc_get(&s, sid, "/console/", "en", &body, &hdr), 200);
    assert_contains(body, "<a href=\"/console/campaigns/later\">later</a>");
    free(body);
    free(hdr);
    /* a viewer: no buttons, and the POST refused before its form is read */
    assert_int_equal(tc_get(&s, vid, "/console/campaigns/later", "en", &body, &hdr), 200);
    assert_not_contains(body, "name=\"action\"");
    char *vcsrf = hd_xstrdup(tc_csrf(body));
    free(body);
    free(hdr);
    snprintf(form, sizeof form, "csrf=%s&action=pause", vcsrf);
    assert_int_equal(tc_post(&s, vid, "/console/campaigns/later", form, NULL, &body, NULL), 403);
    free(body);
    /* ... before its form is read: the headers alone, the body never sent */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import socket; c = socket.create_connection(('127.0.0.1', %d)); "
             "c.settimeout(3); c.sendall(b'POST /console/campaigns/later HTTP/1.1\\r\\nHost: "
             "x\\r\\nCookie: herald_session=%s\\r\\nContent-Type: "
             "application/x-www-form-urlencoded\\r\\nContent-Length: 3000\\r\\n\\r\\n'); "
             "print(c.recv(4096).split(b'\\r\\n')[0].decode())\" 2>&1",
             s.port, vid);
    char *line = tu_sh(cmd);
    assert_contains(line, "HTTP/1.1 403");
    free(line);
    /* and one announcing more than a form may hold: 403 all the same (it
     * was 413: its length was checked before its role) */
    char *big = strstr(cmd, "Content-Length: 3000");
    assert_non_null(big);
    memcpy(big, "Content-Length: 9999", 20);
    line = tu_sh(cmd);
    assert_contains(line, "HTTP/1.1 403");
    free(line);
    /* an operator: the buttons; a CSRF-less POST refused; the real one pauses */
    assert_int_equal(tc_get(&s, sid, "/console/campaigns/later", "en", &body, &hdr), 200);
    assert_contains(body, "<input type=\"hidden\" name=\"action\" value=\"pause\">"
                          "<button type=\"submit\">Pause</button>");
    assert_contains(body, "value=\"cancel\"");
    assert_not_contains(body, "value=\"resume\"");
    char *csrf = hd_xstrdup(tc_csrf(body));
    free(body);
    free(hdr);
    assert_int_equal(
        tc_post(&s, sid, "/console/campaigns/later", "action=pause", NULL, &body, NULL), 403);
    free(body);
    snprintf(form, sizeof form, "csrf=%s&action=pause", vcsrf); /* another session's */
    assert_int_equal(tc_post(&s, sid, "/console/campaigns/later", form, NULL, &body, NULL), 403);
    free(body);
    struct tu_run r = run("campaign", "show", "later", NULL, NULL, NULL, NULL);
    assert_contains(r.out, "status       scheduled");
    tu_run_release(&r);
    snprintf(form, sizeof form, "csrf=%s&action=pause", csrf);
    assert_int_equal(tc_post(&s, sid, "/console/campaigns/later", form, NULL, &body, &hdr), 303);
    assert_contains(hdr, "Location: /console/campaigns/later\r\n");
    free(body);
    free(hdr);
    r = run("campaign", "show", "later", NULL, NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "status       paused");
    tu_run_release(&r);
    /* pausing it again is the CLI's refusal, nothing changed */
    assert_int_equal(tc_post(&s, sid, "/console/campaigns/later", form, NULL, &body, NULL), 409);
    free(body);
    assert_int_equal(tc_get(&s, sid, "/console/campaigns/later", "en", &body, &hdr), 200);
    assert_contains(body, "value=\"resume\"");
    assert_contains(body, "<dd class=\"status-paused\">paused</dd>");
    free(body);
    free(hdr);
    snprintf(form, sizeof form, "csrf=%s&action=resume", csrf);
    assert_int_equal(tc_post(&s, sid, "/console/campaigns/later", form, NULL, &body, NULL), 303);
    free(body);
    snprintf(form, sizeof form, "csrf=%s&action=explode", csrf);
    assert_int_equal(tc_post(&s, sid, "/console/campaigns/later", form, NULL, &body, NULL), 400);
    free(body);
    assert_int_equal(srv_stop(&s), 0);
    r = run("campaign", "show", "later", NULL, NULL, NULL, NULL);
    assert_contains(r.out, "status       scheduled");
    tu_run_release(&r);
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE who = 'ann' AND action = "
                        "'campaign_pause' AND detail = 'later' AND addr = '127.0.0.1'"),
                     1);
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE action LIKE 'campaign_%'"), 2);
    r = run("audit", "actions", "--format", "csv", NULL, NULL, NULL);
    assert_contains(r.out, ",ann,campaign_resume,later,127.0.0.1");
    tu_run_release(&r);
    free(sid);
    free(vid);
    free(csrf);
    free(vcsrf);
}

static void test_console_log(void **state)
{
    (void)state;
    struct srv s;
    char *body, *hdr;
    tc_user("ann", "operator");
    send_promo();
    srv_start(&s);
    char *sid = tc_sign_in(&s, "ann");
    struct tu_run r = run("log", "--campaign", "promo", "--format", "jsonl", NULL, NULL);
    assert_int_equal(r.status, 0);
    int want = count_of(r.out, "\n");
    tu_run_release(&r);
    assert_true(want >= 3);
    assert_int_equal(tc_get(&s, sid, "/console/log?campaign=promo", "en", &body, &hdr), 200);
    assert_contains(body, "<h1 id=\"log-title\">Delivery log</h1>");
    assert_contains(body, "<input name=\"campaign\" value=\"promo\">");
    assert_int_equal(count_of(body, "<tr><td><time "), want);
    assert_int_equal(
        count_of(body,
                 "</time></td><td title=\"promo\">promo</td><td class=\"n\">1</td><td title=\"k"),
        want);
    assert_contains(body, ">k2</td><td>email</td>");
    assert_not_contains(body, "rel=\"next\"");
    free(body);
    free(hdr);
    /* the filters narrow it: another channel, a contact, a time */
    assert_int_equal(tc_get(&s, sid, "/console/log?campaign=promo&channel=sms", "en", &body, &hdr),
                     200);
    assert_contains(body, "No row of the log matches.");
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, "/console/log?contact=k2", "zh-CN", &body, &hdr), 200);
    assert_contains(body, "<h1 id=\"log-title\">投递日志</h1>");
    assert_true(count_of(body, "<tr><td><time ") >= 1);
    assert_int_equal(count_of(body, ">k1</td>"), 0);
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, "/console/log?until=2026-11-22T00:00:00Z", "en", &body, &hdr),
                     200);
    assert_contains(body, "No row of the log matches.");
    free(body);
    free(hdr);
    assert_int_equal(
        tc_get(&s, sid, "/console/log?campaign=promo&run=1&outcome=accepted", "en", &body, &hdr),
        200);
    assert_int_equal(count_of(body, "<tr><td><time "), 3);
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, "/console/log?campaign=promo&run=2", "en", &body, &hdr), 400);
    assert_contains(body, "<p class=\"error\" role=\"alert\">");
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, "/console/log?run=x", "en", &body, &hdr), 400);
    assert_contains(body, "run takes a run&#39;s number");
    free(body);
    free(hdr);
    /* numbers strictly: no sign, no space, no overflow */
    static const char *const bad_numbers[] = {
        "/console/log?run=%2B1",      "/console/log?run=%201",
        "/console/log?run=-1",        "/console/log?run=99999999999999999999",
        "/console/log?before=1.%202", "/console/log?before=99999999999999999999.1"};
    for (size_t i = 0; i < sizeof bad_numbers / sizeof bad_numbers[0]; i++) {
        int code = tc_get(&s, sid, bad_numbers[i], "en", &body, &hdr);
        if (i < 4 ? code != 400 : strstr(body, "Newer") != NULL)
            fail_msg("%s: %d", bad_numbers[i], code);
        free(body);
        free(hdr);
    }
    assert_int_equal(tc_get(&s, sid, "/console/log?provider=nobody", "en", &body, &hdr), 200);
    assert_contains(body, "No row of the log matches.");
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, "/console/log?since=yesterday", "en", &body, &hdr), 400);
    assert_contains(body, "<p class=\"error\" role=\"alert\">since and until take");
    free(body);
    free(hdr);
    /* hostile values come back escaped, in the field and in the message */
    assert_int_equal(tc_get(&s, sid,
                            "/console/log?campaign=%3Cscript%3Ealert(1)%3C/script%3E"
                            "&channel=%22%3E%3Cimg%20src=x%3E",
                            "en", &body, &hdr),
                     400); /* no such campaign */
    assert_not_contains(body, "<script>");
    assert_not_contains(body, "<img");
    assert_contains(body, "value=\"&lt;script&gt;alert(1)&lt;/script&gt;\"");
    assert_contains(body, "value=\"&quot;&gt;&lt;img src=x&gt;\"");
    assert_contains(body, "&#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39;");
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, "/console/log?contact=%3Cb%3Ex%3C/b%3E", "en", &body, &hdr),
                     400);
    assert_not_contains(body, "<b>");
    assert_contains(body, "&lt;b&gt;x&lt;/b&gt;");
    free(body);
    free(hdr);
    /* a page past the oldest row: the way back keeps the filter, URL-encoded */
    assert_int_equal(tc_get(&s, sid, "/console/log?campaign=promo&before=1.1", "en", &body, &hdr),
                     200);
    assert_contains(body, "No row of the log matches.");
    assert_contains(body, "<a href=\"/console/log?campaign=promo\">Newest</a>");
    free(body);
    free(hdr);
    assert_int_equal(srv_stop(&s), 0);
    free(sid);
}

/* The log's pages: 50 rows each, newest first, the next and previous
 * pages linked with the filter kept. */
static void test_console_log_pages(void **state)
{
    (void)state;
    struct srv s;
    char *body, *hdr;
    tc_more_contacts(60);
    tc_user("ann", "operator");
    send_promo();
    struct tu_run r = run("log", "--campaign", "promo", "--format", "jsonl", NULL, NULL);
    int total = count_of(r.out, "\n");
    tu_run_release(&r);
    assert_true(total > 50 && total <= 100);
    srv_start(&s);
    char *sid = tc_sign_in(&s, "ann");
    assert_int_equal(tc_get(&s, sid, "/console/log?campaign=promo", "en", &body, &hdr), 200);
    assert_int_equal(count_of(body, "<tr><td><time "), 50);
    static const char at[] = "<a href=\"/console/log?campaign=promo&amp;before=";
    const char *p = strstr(body, at);
    assert_non_null(p);
    char older[128];
    p += strlen(at);
    snprintf(older, sizeof older, "/console/log?campaign=promo&before=%.*s", (int)strcspn(p, "\""),
             p);
    assert_contains(p, "\" rel=\"next\">Older</a>");
    assert_not_contains(body, "rel=\"prev\"");
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, older, "en", &body, &hdr), 200);
    assert_int_equal(count_of(body, "<tr><td><time "), total - 50);
    assert_contains(body, "<a href=\"/console/log?campaign=promo&amp;after=");
    assert_contains(body, "rel=\"prev\">Newer</a>");
    assert_not_contains(body, "rel=\"next\"");
    free(body);
    free(hdr);
    assert_int_equal(srv_stop(&s), 0);
    free(sid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_console_config, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_users, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_login, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_throttle, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_throttle_parallel, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_expired, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_overview, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_campaign, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_log, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_log_pages, e2e_setup, e2e_teardown),
        /* the same on a PostgreSQL store */
        {"test_console_config_pg", test_console_config, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_users_pg", test_console_users, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_login_pg", test_console_login, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_throttle_pg", test_console_throttle, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_throttle_parallel_pg", test_console_throttle_parallel, e2e_setup_pg,
         e2e_teardown, NULL},
        {"test_console_expired_pg", test_console_expired, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_overview_pg", test_console_overview, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_campaign_pg", test_console_campaign, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_log_pg", test_console_log, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_log_pages_pg", test_console_log_pages, e2e_setup_pg, e2e_teardown, NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
