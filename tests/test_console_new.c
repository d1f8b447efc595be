/* test_console_new: the console's new-campaign form and contact pages
 * (issue 21) over real HTTP, driven by curl as a browser would (the
 * session from the login form, tests/testconsole.h): a viewer may
 * neither open the form nor post it (403, no campaign made), a
 * POST without the session's CSRF field is refused, a mistake answers 422
 * with the command line's own message above the form and the fields kept,
 * an estimate shows `herald campaign estimate`'s numbers and a monthly
 * cron's next five firings in Europe/Berlin across the change to summer
 * time, and a create stores the campaign as `herald campaign create`
 * would, audited, then sends to its page. The contact pages: search by
 * id, email and phone, 404 for an unknown id, the timeline and the "why"
 * of a sent campaign, and an operator's opt-out recorded with source
 * console (a viewer's refused). Text that is not UTF-8, in a query, a
 * form, a field's name or the path, is 400 naming it on every page.
 * Each case runs on a SQLite file and on a PostgreSQL store
 * (testserve.h's e2e_setup_pg). */
#include "testconsole.h"

/* The session's CSRF secret, read from a page it may open. */
static char *csrf_of_session(const struct srv *s, const char *sid)
{
    char *body;
    assert_int_equal(tc_get(s, sid, "/console/contacts", "en", &body, NULL), 200);
    char *c = hd_xstrdup(tc_csrf(body));
    free(body);
    return c;
}

static void users(void)
{
    tc_user("ann", "operator");
    tc_user("vic", "viewer");
}

/* A form for campaign name with the given extra fields (url-encoded). */
static void form_for(char *out, size_t n, const char *csrf, const char *action, const char *name,
                     const char *extra)
{
    snprintf(out, n, "csrf=%s&action=%s&name=%s&segment=all&template=promo&ch1=email&%s", csrf,
             action, name, extra);
}

static void test_console_new_roles(void **state)
{
    (void)state;
    struct srv s;
    char *body, form[1024];
    users();
    srv_start(&s);
    char *vid = tc_sign_in(&s, "vic"), *sid = tc_sign_in(&s, "ann");
    char *vcsrf = csrf_of_session(&s, vid);
    /* a viewer: neither the form nor its POST (refused before the body) */
    assert_int_equal(tc_get(&s, vid, "/console/campaigns/new", "en", &body, NULL), 403);
    free(body);
    assert_int_equal(tc_get(&s, vid, "/console/contacts", "en", &body, NULL), 200);
    assert_not_contains(body, "href=\"/console/campaigns/new\"");
    free(body);
    form_for(form, sizeof form, vcsrf, "create", "v1", "schedule=now");
    assert_int_equal(tc_post(&s, vid, "/console/campaigns/new", form, "en", &body, NULL), 403);
    assert_contains(body, "your role may not do this");
    free(body);
    /* an operator without the session's CSRF field, or with another one */
    form_for(form, sizeof form, "", "create", "o1", "schedule=now");
    assert_int_equal(tc_post(&s, sid, "/console/campaigns/new", form, "en", &body, NULL), 403);
    assert_contains(body, "csrf");
    free(body);
    form_for(form, sizeof form, vcsrf, "create", "o1", "schedule=now");
    assert_int_equal(tc_post(&s, sid, "/console/campaigns/new", form, "en", &body, NULL), 403);
    free(body);
    assert_int_equal(q1("SELECT count(*) FROM campaigns"), 0);
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE action = 'campaign_create'"), 0);
    /* the operator's form: the segments, templates and channels to choose */
    assert_int_equal(tc_get(&s, sid, "/console/campaigns/new", "en", &body, NULL), 200);
    assert_contains(body, "<option value=\"all\">all</option>");
    assert_contains(body, "<option value=\"promo\">promo</option>");
    assert_contains(body, "<select name=\"ch1\" aria-label=\"Channel 1\">");
    assert_contains(body, "<button type=\"submit\" name=\"action\" value=\"estimate\">");
    assert_not_contains(body, "<script");
    free(body);
    assert_int_equal(tc_get(&s, sid, "/console/campaigns/new", "zh-CN", &body, NULL), 200);
    assert_contains(body, "<h1>新建活动</h1>");
    assert_contains(body, "value=\"create\" class=\"nc-create\">创建</button>");
    free(body);
    assert_int_equal(srv_stop(&s), 0);
    free(vid);
    free(sid);
    free(vcsrf);
}

/* The form's answer to extra carries the CLI's message for the same
 * options (cli: the command line's arguments after the name). */
static void same_error(const struct srv *s, const char *sid, const char *csrf, const char *name,
                       const char *extra, const char *msg, struct tu_run *cli)
{
    char form[1024], *body, html[512];
    form_for(form, sizeof form, csrf, "estimate", name, extra);
    assert_int_equal(tc_post(s, sid, "/console/campaigns/new", form, "en", &body, NULL), 422);
    snprintf(html, sizeof html, "<p class=\"error\" role=\"alert\" id=\"form-error\">%s", msg);
    assert_contains(body, html);
    assert_contains(body, "<option value=\"all\" selected>all</option>"); /* fields kept */
    free(body);
    assert_int_equal(cli->status, 2);
    char *raw = hd_xstrdup(msg); /* the page escapes quotes */
    for (char *p; (p = strstr(raw, "&#39;"));)
        memmove(p + 1, p + 5, strlen(p + 5) + 1), *p = '\'';
    assert_contains(cli->err, raw);
    free(raw);
    tu_run_release(cli);
}

static void test_console_new_errors(void **state)
{
    (void)state;
    struct srv s;
    struct tu_run r;
    users();
    srv_start(&s);
    char *sid = tc_sign_in(&s, "ann");
    char *csrf = csrf_of_session(&s, sid);
    tu_herald(&r, dir, NULL, "campaign", "create", "c1", "--segment", "all", "--template", "promo",
              "--channels", "email", "--now", "--holdout", "150", NULL);
    same_error(&s, sid, csrf, "c1", "schedule=now&holdout=150",
               "--holdout: &#39;150&#39; is not a percentage from 0 to below 100", &r);
    tu_herald(&r, dir, NULL, "campaign", "create", "new", "--segment", "all", "--template", "promo",
              "--channels", "email", "--now", NULL);
    same_error(&s, sid, csrf, "new", "schedule=now",
               "&#39;new&#39; is not a campaign name: the console&#39;s form for a new campaign "
               "is /console/campaigns/new; choose another name",
               &r);
    tu_herald(&r, dir, NULL, "campaign", "create", "c1", "--segment", "all", "--template", "promo",
              "--channels", "email", "--every", "0 9 * * *", "--tz", "Mars/Base", NULL);
    same_error(&s, sid, csrf, "c1", "schedule=every&every=0+9+*+*+*&tz=Mars%2FBase",
               "--tz: &#39;Mars/Base&#39; is not an IANA time zone", &r);
    tu_herald(&r, dir, NULL, "campaign", "create", "c1", "--segment", "all", "--template", "promo",
              "--channels", "email", "--local-time", "9h30", NULL);
    same_error(&s, sid, csrf, "c1", "schedule=local&local_time=9h30",
               "--local-time: &#39;9h30&#39; is not HH:MM", &r);
    /* the library's checks after the options': the template's parts, the past */
    char form[1024], *body;
    form_for(form, sizeof form, csrf, "create", "c1", "schedule=now&ch2=sms");
    assert_int_equal(tc_post(&s, sid, "/console/campaigns/new", form, "en", &body, NULL), 422);
    assert_contains(body, "template &#39;promo&#39; has no sms part");
    assert_contains(body, "<option value=\"sms\" selected>sms</option>");
    free(body);
    form_for(form, sizeof form, csrf, "create", "c1",
             "schedule=at&at=2026-11-22T09%3A00&tz=Asia%2FShanghai");
    assert_int_equal(tc_post(&s, sid, "/console/campaigns/new", form, "en", &body, NULL), 422);
    assert_contains(body, "--at 2026-11-22T01:00:00Z is in the past");
    assert_contains(body, "name=\"at\" value=\"2026-11-22T09:00\"");
    free(body);
    form_for(form, sizeof form, csrf, "launch", "c1", "schedule=now");
    assert_int_equal(tc_post(&s, sid, "/console/campaigns/new", form, "en", &body, NULL), 400);
    free(body);
    assert_int_equal(q1("SELECT count(*) FROM campaigns"), 0);
    assert_int_equal(srv_stop(&s), 0);
    free(sid);
    free(csrf);
}

static void test_console_new_create(void **state)
{
    (void)state;
    struct srv s;
    char form[1024], *body, *hdr;
    users();
    srv_start(&s);
    char *sid = tc_sign_in(&s, "ann");
    char *csrf = csrf_of_session(&s, sid);
    /* the 28th of each month at 09:00 in Berlin: +01:00 until the clocks
     * go forward on 2027-03-28 at 02:00, so that firing is at +02:00 */
    form_for(form, sizeof form, csrf, "estimate", "monthly",
             "schedule=every&every=0+9+28+*+*&tz=Europe%2FBerlin&holdout=10");
    assert_int_equal(tc_post(&s, sid, "/console/campaigns/new", form, "en", &body, NULL), 200);
    assert_contains(body, "<td class=\"n\" id=\"est-contacts\">3</td>");
    assert_contains(body, "<tr><th>By email</th><td class=\"n\">");
    assert_contains(body, "<tr><th>SMS cost</th><td class=\"n\">0.0000</td></tr>");
    assert_contains(body, "<ol id=\"firings\"><li><time>2026-11-28T09:00:00+01:00</time> "
                          "(Europe/Berlin)</li><li><time>2026-12-28T09:00:00+01:00</time>");
    assert_contains(body, "<li><time>2027-02-28T09:00:00+01:00</time> (Europe/Berlin)</li>"
                          "<li><time>2027-03-28T09:00:00+02:00</time> (Europe/Berlin)</li></ol>");
    assert_contains(body, "name=\"every\" value=\"0 9 28 * *\"");
    free(body);
    assert_int_equal(q1("SELECT count(*) FROM campaigns"), 0); /* an estimate writes nothing */
    /* the CLI's estimate of the same campaign gives the same audience */
    form_for(form, sizeof form, csrf, "create", "monthly",
             "schedule=every&every=0+9+28+*+*&tz=Europe%2FBerlin&holdout=10");
    assert_int_equal(tc_post(&s, sid, "/console/campaigns/new", form, "en", &body, &hdr), 303);
    assert_contains(hdr, "Location: /console/campaigns/monthly\r\n");
    free(body);
    free(hdr);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "campaign", "show", "monthly", "--format", "jsonl", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "\"schedule\":\"every \\\"0 9 28 * *\\\" Europe/Berlin\"");
    assert_contains(r.out, "\"holdout_pct\":10");
    assert_contains(r.out, "\"next_run\":\"2026-11-28T08:00:00Z\"");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "campaign", "create", "monthly2", "--segment", "all", "--template",
              "promo", "--channels", "email", "--every", "0 9 28 * *", "--tz", "Europe/Berlin",
              "--dry-run", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "contacts     3\n");
    assert_contains(r.out, "next firings 2026-11-28T09:00:00+01:00\n");
    assert_contains(r.out, "             2027-03-28T09:00:00+02:00\n");
    tu_run_release(&r);
    assert_int_equal(q1("SELECT count(*) FROM campaigns WHERE name = 'monthly2'"), 0);
    tu_herald(&r, dir, NULL, "campaign", "estimate", "monthly", "--format", "jsonl", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "\"contacts\":3,");
    tu_run_release(&r);
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE action = 'campaign_create' AND "
                        "who = 'ann' AND detail = 'monthly' AND addr = '127.0.0.1'"),
                     1);
    /* its page; the name taken is the store's message */
    assert_int_equal(tc_get(&s, sid, "/console/campaigns/monthly", "en", &body, NULL), 200);
    assert_contains(body, "<h1>Campaign: monthly</h1>");
    free(body);
    assert_int_equal(tc_post(&s, sid, "/console/campaigns/new", form, "en", &body, NULL), 422);
    assert_contains(body, "monthly");
    assert_contains(body, "class=\"error\"");
    free(body);
    /* once, at a wall-clock time in a zone: the instant is that zone's */
    form_for(form, sizeof form, csrf, "create", "once",
             "schedule=at&at=2026-12-01T09%3A00&tz=Asia%2FShanghai&fallback=on");
    assert_int_equal(tc_post(&s, sid, "/console/campaigns/new", form, "en", &body, NULL), 303);
    free(body);
    tu_herald(&r, dir, NULL, "campaign", "show", "once", "--format", "jsonl", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "\"next_run\":\"2026-12-01T01:00:00Z\"");
    assert_contains(r.out, "\"fallback_on_failure\":true");
    tu_run_release(&r);
    /* its preview shows the firing in that zone */
    form_for(form, sizeof form, csrf, "estimate", "once3",
             "schedule=at&at=2026-12-01T09%3A00&tz=Asia%2FShanghai");
    assert_int_equal(tc_post(&s, sid, "/console/campaigns/new", form, "en", &body, NULL), 200);
    assert_contains(body, "<ol id=\"firings\"><li><time>2026-12-01T09:00:00+08:00</time> "
                          "(Asia/Shanghai)</li></ol>");
    free(body);
    /* the CLI takes the same --at --tz, and refuses an offset with --tz */
    tu_herald(&r, dir, NULL, "campaign", "create", "once4", "--segment", "all", "--template",
              "promo", "--channels", "email", "--at", "2026-12-01T09:00:00Z", "--tz",
              "Asia/Shanghai", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "--at: with --tz, '2026-12-01T09:00:00Z' must be a wall-clock time "
                           "without an offset (2026-12-01T09:00)");
    tu_run_release(&r);
    TU_HERALD_OK(dir, "campaign", "create", "once2", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--at", "2026-12-01T09:00", "--tz", "Asia/Shanghai");
    assert_int_equal(q1("SELECT count(*) FROM campaigns WHERE name = 'once2' AND next_run = "
                        "(SELECT next_run FROM campaigns WHERE name = 'once')"),
                     1);
    assert_int_equal(srv_stop(&s), 0);
    free(sid);
    free(csrf);
}

static void test_console_new_contact(void **state)
{
    (void)state;
    struct srv s;
    char form[512], *body, *hdr;
    users();
    send_promo();
    TU_HERALD_OK(dir, "suppress", "add", "k3@example.com", "--reason", "hard_bounce");
    /* a campaign whose first channel the contacts cannot take (no phone) */
    write_file("tpl/both.tmpl", "description: both\ncategory: marketing\n"
                                "from: Acme <hello@example.com>\n\n--- email.subject\nHi\n"
                                "--- email.text\nNews {{ unsubscribe_url }}\n--- sms\nNews\n");
    TU_HERALD_OK(dir, "campaign", "create", "both", "--segment", "all", "--template", "both",
                 "--channels", "sms,email", "--now");
    TU_HERALD_OK(dir, "send", "both");
    /* a daily firing made late (a dispatcher down at 10:00): the timeline
     * says when it fired, 11:30, as the CLI does; it said its due time */
    TU_HERALD_OK(dir, "campaign", "create", "late", "--segment", "all", "--template", "both",
                 "--channels", "email", "--every", "0 10 * * *", "--tz", "UTC");
    setenv("HERALD_NOW", "2026-11-23T11:30:00Z", 1);
    TU_HERALD_OK(dir, "run", "--once");
    setenv("HERALD_NOW", "2026-11-22T12:00:00Z", 1);
    srv_start(&s);
    char *sid = tc_sign_in(&s, "ann"), *vid = tc_sign_in(&s, "vic");
    char *csrf = csrf_of_session(&s, sid), *vcsrf = csrf_of_session(&s, vid);
    assert_int_equal(tc_get(&s, sid, "/console/contacts/nobody", "en", &body, NULL), 404);
    free(body);
    /* search by id, email (any case) and no match */
    assert_int_equal(tc_get(&s, vid, "/console/contacts?q=K2%40example.com", "en", &body, NULL),
                     200);
    assert_contains(body, "<td><a href=\"/console/contacts/k2\">k2</a></td>");
    free(body);
    assert_int_equal(tc_get(&s, vid, "/console/contacts?q=k1", "en", &body, NULL), 200);
    assert_contains(body, "<a href=\"/console/contacts/k1\">k1</a>");
    free(body);
    assert_int_equal(tc_get(&s, vid, "/console/contacts?q=zz", "en", &body, NULL), 200);
    assert_contains(body, "id=\"no-results\"");
    free(body);
    /* the page: profile, timeline (herald history's), no opt-out form for a viewer */
    assert_int_equal(tc_get(&s, vid, "/console/contacts/k1", "en", &body, NULL), 200);
    assert_contains(body, "<h1>Contact: k1</h1>");
    assert_contains(body, "<dt>email</dt><dd>k1@example.com</dd>");
    assert_contains(body, "<tr><th>first_name</th><td>Ann</td></tr>");
    assert_contains(body, "<a href=\"/console/campaigns/promo\">promo</a>, run 1");
    assert_contains(body, "<td>accepted</td>");
    assert_not_contains(body, "id=\"optout\"");
    assert_contains(body, "<option value=\"promo\">promo</option>");
    /* times in the page's language and the user's zone, as every page has
     * them (they were raw UTC here: a review) */
    assert_contains(body, "fired <time datetime=\"2026-11-22T");
    assert_contains(body, "\">Nov 22, 2026, ");
    assert_contains(body, "late</a>, run 1 (fired <time datetime=\"2026-11-23T11:30:00Z\">");
    free(body);
    assert_int_equal(tc_get(&s, vid, "/console/contacts/k1", "zh-CN", &body, NULL), 200);
    assert_contains(body, "2026年11月22日");
    free(body);
    assert_int_equal(tc_get(&s, vid, "/console/contacts/k3", "en", &body, NULL), 200);
    assert_contains(body, "<td class=\"ct-addr\">k3@example.com</td><td>email</td><td class=\"reason\">hard_bounce");
    free(body);
    /* why: the attempt in words, as herald why tells it */
    assert_int_equal(tc_get(&s, vid, "/console/contacts/k1?why=promo", "en", &body, NULL), 200);
    assert_contains(body, "In segment all when the run was made: message ");
    assert_contains(body, ": attempt 1 by email via ");
    assert_contains(body, "<option value=\"promo\" selected>promo</option>");
    free(body);
    assert_int_equal(tc_get(&s, vid, "/console/contacts/k1?why=both", "en", &body, NULL), 200);
    assert_contains(body, "<li>sms was considered and skipped: no address.</li>");
    assert_contains(body, "(segment all, marketing, channels sms,email): done.");
    free(body);
    assert_int_equal(tc_get(&s, vid, "/console/contacts/k1?why=nope", "zh-CN", &body, NULL), 200);
    assert_contains(body, "<p class=\"error\">no campaign &#39;nope&#39;");
    assert_contains(body, "<h2>考虑过的消息</h2>");
    free(body);
    /* the opt-out: a viewer's refused, a CSRF-less one refused, the operator's recorded */
    snprintf(form, sizeof form, "csrf=%s&channel=email&category=marketing", vcsrf);
    assert_int_equal(tc_post(&s, vid, "/console/contacts/k1", form, "en", &body, NULL), 403);
    free(body);
    assert_int_equal(tc_post(&s, sid, "/console/contacts/k1", "channel=email&category=marketing",
                             "en", &body, NULL),
                     403);
    free(body);
    assert_int_equal(q1("SELECT count(*) FROM consent"), 0);
    snprintf(form, sizeof form, "csrf=%s&channel=fax&category=marketing", csrf);
    assert_int_equal(tc_post(&s, sid, "/console/contacts/k1", form, "en", &body, NULL), 400);
    free(body);
    snprintf(form, sizeof form, "csrf=%s&channel=email&category=marketing", csrf);
    assert_int_equal(tc_post(&s, sid, "/console/contacts/nobody", form, "en", &body, NULL), 404);
    free(body);
    assert_int_equal(tc_post(&s, sid, "/console/contacts/k1", form, "en", &body, &hdr), 303);
    assert_contains(hdr, "Location: /console/contacts/k1\r\n");
    free(body);
    free(hdr);
    assert_int_equal(q1("SELECT count(*) FROM consent_log l JOIN contacts c ON c.id = "
                        "l.contact_id WHERE c.ext_id = 'k1' AND l.source = 'console' AND "
                        "l.channel = 'email' AND l.category = 'marketing' AND "
                        "l.status = 'opted_out'"),
                     1);
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE action = 'contact_optout' AND "
                        "who = 'ann' AND detail = 'k1 email marketing'"),
                     1);
    assert_int_equal(tc_get(&s, sid, "/console/contacts/k1", "en", &body, NULL), 200);
    assert_contains(body, "<td>email</td><td>marketing</td><td>opted out</td><td>console</td>");
    assert_contains(body, "id=\"optout\"");
    free(body);
    assert_int_equal(srv_stop(&s), 0);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "contacts", "show", "k1", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "opted out  by console");
    tu_run_release(&r);
    free(sid);
    free(vid);
    free(csrf);
    free(vcsrf);
}

/* Text that is not UTF-8 in a query, a form or the path: 400 naming the
 * field, on every page alike (the search, a campaign's goal and the rule
 * editor gave 503 "cannot reach its database" and logged an empty error
 * when jansson refused the value: a review), nothing written and no
 * empty error in the log. */
static void test_console_new_not_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *path, *field;
    } gets[] = {
        {"/console/contacts?q=%ff", "q"},
        {"/console/contacts?q=abc%ffdef", "q"},
        {"/console/campaigns/promo?goal=%ff", "goal"},
        {"/console/log?contact=%ff", "contact"},
        {"/console/audit?who=%ff", "who"},
        {"/console/segments/check?rule=%ff", "rule"},
        {"/console/segments/new?rule=%c3", "rule"},
        {"/console/contacts/k1?why=%ff", "why"},
        {"/console/templates/promo?contact=%ff", "contact"},
    };
    static const struct {
        const char *path, *fields, *field;
    } posts[] = {
        {"/console/segments/new", "do=save&name=s1&rule=%ff", "rule"},
        {"/console/segments/new", "do=check&rule=%ff", "rule"},
        {"/console/segments/new", "do=save&name=s1&rule=plan+%3D+%22%ff%22", "rule"},
        {"/console/segments/new", "do=check&rule=plan+%3D+%22%ff%22", "rule"},
        {"/console/settings", "lang=en&zone=%ff", "zone"},
        {"/console/campaigns/new",
         "action=create&name=a%ffb&segment=all&template=promo"
         "&ch1=email&schedule=now",
         "name"},
    };
    struct srv s;
    char form[512], want[128], *body, *hdr;
    users();
    TU_HERALD_OK(dir, "campaign", "create", "promo", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--now");
    srv_start(&s);
    char *sid = tc_sign_in(&s, "ann"), *vid = tc_sign_in(&s, "vic");
    char *csrf = csrf_of_session(&s, sid);
    for (size_t i = 0; i < sizeof gets / sizeof gets[0]; i++) {
        assert_int_equal(tc_get(&s, vid, gets[i].path, "en", &body, NULL), 400);
        snprintf(want, sizeof want, "bad request: the value of %s is not UTF-8\n", gets[i].field);
        assert_string_equal(body, want);
        free(body);
    }
    for (size_t i = 0; i < sizeof posts / sizeof posts[0]; i++) {
        snprintf(form, sizeof form, "csrf=%s&%s", csrf, posts[i].fields);
        assert_int_equal(tc_post(&s, sid, posts[i].path, form, "en", &body, NULL), 400);
        snprintf(want, sizeof want, "bad request: the value of %s is not UTF-8\n", posts[i].field);
        assert_string_equal(body, want);
        free(body);
    }
    /* a name the path carries, and a field's own name */
    assert_int_equal(tc_get(&s, vid, "/console/contacts/%ff", "en", &body, NULL), 400);
    assert_string_equal(body, "bad request: the path is not UTF-8\n");
    free(body);
    assert_int_equal(tc_get(&s, vid, "/console/contacts?%ff=1", "en", &body, NULL), 400);
    assert_string_equal(body, "bad request: a field's name is not UTF-8\n");
    free(body);
    /* the sign-in form too: no audit row of a name that is not text */
    assert_int_equal(tc_login(&s, "%ff", TC_PASSWORD_FORM, NULL, &hdr), 400);
    free(hdr);
    assert_int_equal(q1("SELECT count(*) FROM segments WHERE name <> 'all'"), 0);
    assert_int_equal(q1("SELECT count(*) FROM campaigns"), 1);
    assert_int_equal(q1("SELECT count(*) FROM audit_actions WHERE action IN ('login_failed', "
                        "'settings', 'segment_define', 'campaign_create')"),
                     0);
    /* the same values as text still work: a search with no match */
    assert_int_equal(tc_get(&s, vid, "/console/contacts?q=%c3%bf", "en", &body, NULL), 200);
    assert_contains(body, "id=\"no-results\"");
    free(body);
    char *log = tu_path(dir, "serve.log"), *text = tu_read(log);
    assert_non_null(text);
    assert_null(strstr(text, "herald error: serve: \n"));
    assert_null(strstr(text, "cannot reach"));
    free(text);
    free(log);
    assert_int_equal(srv_stop(&s), 0);
    free(sid);
    free(vid);
    free(csrf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_console_new_roles, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_new_errors, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_new_create, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_new_contact, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_new_not_utf8, e2e_setup, e2e_teardown),
        /* the same on a PostgreSQL store */
        {"test_console_new_roles_pg", test_console_new_roles, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_new_errors_pg", test_console_new_errors, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_new_create_pg", test_console_new_create, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_new_contact_pg", test_console_new_contact, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_new_not_utf8_pg", test_console_new_not_utf8, e2e_setup_pg, e2e_teardown,
         NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
