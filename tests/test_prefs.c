/* test_prefs: the preference centre (issue 18): the form-urlencoded parser
 * and the CSRF token as units, then the real `herald serve` on 127.0.0.1
 * (tests/testserve.h) with the /p/ link of a real outbox email: the page in
 * English and zh-CN, GET writing nothing, a POST with the page's CSRF token
 * changing exactly the rows chosen with their provenance, POSTs without it,
 * with a wrong one or with a bad body refused with nothing written,
 * tampered and expired links, the page's own form filled and sent as a
 * browser would (Python's http.client and html.parser); then the consent
 * record as `herald contacts
 * show`, `history` and `why` show it, and the mailto form of
 * List-Unsubscribe in an outbox email, parsed by Python's email package.
 * The end-to-end cases run on a SQLite file and (but the migration of an old
 * SQLite file) on a PostgreSQL store. */
#include "testserve.h"

#include "herald/form.h"
#include "herald/token.h"

/* ---- the form parser --------------------------------------------------- */

static int collect(void *ud, const char *key, const char *value)
{
    struct hd_buf *b = ud;
    hd_buf_addf(b, "[%s]=[%s]", key, value);
    return 0;
}

static void test_prefs_form_parser(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } good[] = {
        {"", ""},
        {"a=1", "[a]=[1]"},
        {"a=1&b=2", "[a]=[1][b]=[2]"},
        {"a+b=c+d", "[a b]=[c d]"},
        {"k=%41%62%2b%26%3D", "[k]=[Ab+&=]"},
        {"k=%e9%80%80", "[k]=[退]"},
        {"m=email&m=sms&m=push", "[m]=[email][m]=[sms][m]=[push]"},
        {"flag", "[flag]=[]"},
        {"a=&b", "[a]=[][b]=[]"},
        {"&&a=1&", "[a]=[1]"},
        {"a==b", "[a]=[=b]"},
    };
    static const struct {
        const char *in, *error;
    } bad[] = {
        {"a=%zz", "at byte 2 has a bad %-escape"},
        {"a=%4", "at byte 2 has a bad"},
        {"a=%", "at byte 2 has a bad"},
        {"x=1&%g1=2", "at byte 4 has a bad"},
        {"a=%00", "at byte 2 has a bad %-escape or a NUL"},
        {"=v", "form field at byte 0 has no name"},
        {"a=1&=2", "form field at byte 4 has no name"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct hd_buf b;
        struct hd_err err = {0};
        hd_buf_init(&b);
        hd_buf_adds(&b, "");
        if (hd_form_parse(good[i].in, strlen(good[i].in), collect, &b, &err) != 0)
            fail_msg("'%s': %s", good[i].in, err.msg);
        assert_string_equal(b.data, good[i].out);
        hd_buf_release(&b);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hd_buf b;
        struct hd_err err = {0};
        hd_buf_init(&b);
        assert_int_equal(hd_form_parse(bad[i].in, strlen(bad[i].in), collect, &b, &err),
                         HD_E_PARSE);
        assert_contains(err.msg, bad[i].error);
        assert_int_equal(b.len, 0); /* not even the good pairs before it */
        hd_buf_release(&b);
    }
    /* a raw NUL, and a body over the bound */
    struct hd_err err = {0};
    assert_int_equal(hd_form_parse("a=b\0c", 5, collect, NULL, &err), HD_E_PARSE);
    static char big[HD_FORM_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    assert_int_equal(hd_form_parse(big, HD_FORM_MAX + 1, collect, NULL, &err), HD_E_PARSE);
    assert_contains(err.msg, "is over");
}

/* The CSRF token is an HMAC of the link's token under its own label: as
 * Python's hmac module makes it, hmac.new(b"k", b"herald preference form
 * v1\0" + b"v1.tok", "sha256").hexdigest(). */
static void test_prefs_csrf(void **state)
{
    (void)state;
    struct hd_token_key k = {"k", 1}, k2 = {"k2", 2};
    char a[HD_CSRF_LEN + 1], b[HD_CSRF_LEN + 1];
    hd_token_csrf(&k, "v1.tok", 6, a);
    assert_string_equal(a, "e5126c999ae83261999b004247d61ebc129962b47597d9b0386ddc7e0f807bfb");
    hd_token_csrf(&k, "v1.tol", 6, b);
    assert_string_not_equal(a, b);
    hd_token_csrf(&k2, "v1.tok", 6, b);
    assert_string_not_equal(a, b);
    assert_true(hd_token_csrf_ok(&k, "v1.tok", 6, a));
    assert_false(hd_token_csrf_ok(&k, "v1.tol", 6, a));
    assert_false(hd_token_csrf_ok(&k, "v1.tok", 6, NULL));
    assert_false(hd_token_csrf_ok(&k, "v1.tok", 6, ""));
    a[HD_CSRF_LEN - 1] = '\0';
    assert_false(hd_token_csrf_ok(&k, "v1.tok", 6, a));
}

/* ---- the service --------------------------------------------------------- */

/* The /p/ path of the outbox email to addr (from its /u/ link). */
static char *prefs_link(const char *addr)
{
    char *u = outbox_link(addr);
    u[1] = 'p';
    return u;
}

/* The page's csrf field. */
static char *csrf_of(const char *page)
{
    const char *p = strstr(page, "name=\"csrf\" value=\"");
    assert_non_null(p);
    p += strlen("name=\"csrf\" value=\"");
    return hd_xstrndup(p, strcspn(p, "\""));
}

static char *get_csrf(const struct srv *s, const char *link)
{
    char *body;
    assert_int_equal(http(s, "GET", link, NULL, NULL, &body, NULL), 200);
    char *c = csrf_of(body);
    free(body);
    return c;
}

/* POSTs "csrf=CSRF" and rest; returns the status (body freed). */
static int post(const struct srv *s, const char *link, const char *csrf, const char *rest,
                char **out)
{
    char form[1024], *body;
    snprintf(form, sizeof form, "%s%s%s", csrf ? "csrf=" : "", csrf ? csrf : "", rest);
    int code = http(s, "POST", link, form, NULL, &body, NULL);
    if (out)
        *out = body;
    else
        free(body);
    return code;
}

static int64_t consent_rows(void)
{
    return q1("SELECT count(*) FROM consent") * 1000 + q1("SELECT count(*) FROM consent_log");
}

static void test_prefs_page(void **state)
{
    (void)state;
    struct srv s;
    char *body, *hdr;
    send_promo();
    char *en = prefs_link("k1@example.com"), *zh = prefs_link("k2@example.com");
    srv_start(&s);
    assert_int_equal(http(&s, "GET", en, NULL, NULL, &body, &hdr), 200);
    assert_contains(hdr, "Content-Type: text/html; charset=utf-8");
    assert_not_contains(body, "stopped: contact us");
    assert_contains(body, "<h1>Your preferences</h1>");
    assert_contains(body, "<form method=\"post\" action=\"\">");
    /* a row per channel, marketing ticked (no opt-out yet), transactional shown */
    assert_contains(body, "<td>email</td>");
    assert_contains(body, "name=\"marketing\" value=\"email\" checked>");
    assert_contains(body, "name=\"marketing\" value=\"sms\" checked>");
    assert_contains(body, "name=\"marketing\" value=\"push\" checked>");
    assert_contains(body, "<th>Transactional</th>");
    assert_contains(body, "always sent");
    assert_not_contains(body, "name=\"transactional\"");
    assert_contains(body, "name=\"stop_all\"");
    char *c = csrf_of(body);
    assert_int_equal(strlen(c), HD_CSRF_LEN);
    free(body);
    free(hdr);
    /* the same link gives the same CSRF token; another link another */
    char *again = get_csrf(&s, en), *other = get_csrf(&s, zh);
    assert_string_equal(c, again);
    assert_string_not_equal(c, other);
    /* the zh-CN contact's page is in Chinese, whatever the browser asks */
    assert_int_equal(http(&s, "GET", zh, NULL, "-H 'Accept-Language: en'", &body, NULL), 200);
    assert_contains(body, "<html lang=\"zh-CN\">");
    assert_contains(body, "订阅偏好");
    assert_contains(body, "<td>短信</td>");
    assert_contains(body, "停止所有渠道的营销消息");
    free(body);
    /* GET (and HEAD) never write */
    assert_int_equal(http(&s, "HEAD", en, NULL, NULL, &body, NULL), 200);
    free(body);
    assert_int_equal(consent_rows(), 0);
    /* a transactional opt-out recorded elsewhere is shown, not hidden */
    TU_HERALD_OK(dir, "contacts", "optout", "k1", "--channel", "sms", "--category",
                 "transactional");
    assert_int_equal(http(&s, "GET", en, NULL, NULL, &body, NULL), 200);
    assert_contains(body, "<td>text messages (SMS)</td>\n<td><label><input type=\"checkbox\" "
                          "name=\"marketing\" value=\"sms\" checked> send me offers and "
                          "news</label></td>\n<td>stopped: contact us to restore</td>");
    assert_contains(body, "<td>always sent</td>");
    free(body);
    /* the unsubscribe page's confirmation links here, relative to /u/ */
    char *u = outbox_link("k3@example.com");
    assert_int_equal(http(&s, "POST", u, "List-Unsubscribe=One-Click&via=page", NULL, &body, NULL),
                     200);
    char want[200];
    snprintf(want, sizeof want, "<a href=\"../p/%s\">Manage all your preferences</a>", u + 3);
    assert_contains(body, want);
    free(body);
    assert_int_equal(srv_stop(&s), 0);
    char *log = tu_path(dir, "serve.log"), *text = tu_read(log);
    assert_contains(text, "http: GET /p/* 200");
    assert_not_contains(text, en + 3);
    free(text);
    free(log);
    free(u);
    free(c);
    free(again);
    free(other);
    free(en);
    free(zh);
}

/* The k1 consent rows as "channel:category:status:source:campaign:has a
 * message:minute;...". */
static void assert_rows(const char *want)
{
    char sql[1024];
    /* the aggregate is each dialect's: SQLite 3.40 has no string_agg */
    snprintf(sql, sizeof sql,
             "SELECT %s(k.channel || ':' || k.category || ':' || k.status || ':' || k.source || "
             "':' || coalesce(c.name, '-') || ':' || CASE WHEN k.message_id IS NULL THEN 0 ELSE "
             "1 END || ':' || (k.updated_at / 60), ';'%s) FROM (SELECT k.* FROM consent k JOIN "
             "contacts t ON t.id = k.contact_id WHERE t.ext_id = 'k1' ORDER BY k.channel) k LEFT "
             "JOIN campaigns c ON c.id = k.campaign_id",
             e2e_pg_uri ? "string_agg" : "group_concat", e2e_pg_uri ? " ORDER BY k.channel" : "");
    char *got = tu_sql_text(dir, e2e_db, sql);
    got[strcspn(got, "\n")] = '\0';
    assert_string_equal(got, want);
    free(got);
}

/* times in minutes: HERALD_NOW's clock runs on, a slow run (valgrind)
 * may be a second or two past */
#define T0 "29922480" /* 2026-11-22T12:00:00Z, HERALD_NOW */

static void test_prefs_post(void **state)
{
    (void)state;
    struct srv s;
    char *body;
    send_promo();
    char *link = prefs_link("k1@example.com");
    srv_start(&s);
    char *c = get_csrf(&s, link);
    /* sms unticked: only sms changes, with its provenance */
    assert_int_equal(post(&s, link, c, "&marketing=email&marketing=push", &body), 200);
    assert_contains(body, "Your preferences are saved");
    assert_contains(body, "<li>text messages (SMS): marketing off</li>");
    assert_contains(body, "<li>email: marketing on</li>");
    free(body);
    assert_rows("sms:marketing:opted_out:preferences:promo:1:" T0);
    assert_int_equal(q1("SELECT count(*) FROM consent_log"), 1);
    /* the same form again changes nothing */
    assert_int_equal(post(&s, link, c, "&marketing=email&marketing=push", NULL), 200);
    assert_int_equal(q1("SELECT count(*) FROM consent_log"), 1);
    /* stop all: email and push go too, whatever is ticked */
    assert_int_equal(post(&s, link, c, "&marketing=email&stop_all=1", &body), 200);
    assert_contains(body, "You will receive no marketing from us.");
    free(body);
    assert_rows("email:marketing:opted_out:preferences:promo:1:" T0
                ";push:marketing:opted_out:preferences:promo:1:" T0
                ";sms:marketing:opted_out:preferences:promo:1:" T0);
    assert_int_equal(q1("SELECT count(*) FROM consent_log"), 3);
    assert_int_equal(srv_stop(&s), 0);
    /* a day later, email back on: one row changes, opted in */
    setenv("HERALD_NOW", "2026-11-23T12:00:00Z", 1);
    srv_start(&s);
    assert_int_equal(post(&s, link, c, "&marketing=email", NULL), 200);
    assert_rows("email:marketing:opted_in:preferences:promo:1:29923920"
                ";push:marketing:opted_out:preferences:promo:1:" T0
                ";sms:marketing:opted_out:preferences:promo:1:" T0);
    assert_int_equal(q1("SELECT count(*) FROM consent_log"), 4);
    /* the other contacts are untouched */
    assert_int_equal(q1("SELECT count(*) FROM consent c JOIN contacts t ON t.id = c.contact_id "
                        "WHERE t.ext_id <> 'k1'"),
                     0);
    assert_int_equal(srv_stop(&s), 0);
    char *log = tu_path(dir, "serve.log"), *text = tu_read(log);
    assert_contains(text, "changed 1 marketing preference (link of message");
    assert_contains(text, "http: POST /p/* 200");
    free(text);
    free(log);
    free(c);
    free(link);
}

/* A browser's part, in Python (http.client, html.parser, urllib.parse):
 * GET the page, read its form, untick argv[3]'s marketing box, tick
 * stop_all when argv[4] is "stop", and POST what a browser would send;
 * prints the status and the confirmation's list items. */
static const char browser_py[] =
    "import http.client, html.parser, sys, urllib.parse\n"
    "port, path, untick, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]\n"
    "class Form(html.parser.HTMLParser):\n"
    "    fields, items, inli = [], [], False\n"
    "    def handle_starttag(self, tag, attrs):\n"
    "        a = dict(attrs)\n"
    "        self.inli = tag == 'li'\n"
    "        if tag != 'input':\n"
    "            return\n"
    "        if a['type'] == 'hidden' or ('checked' in a and a['value'] != untick) or \\\n"
    "                (a['name'] == 'stop_all' and stop == 'stop'):\n"
    "            self.fields.append((a['name'], a['value']))\n"
    "    def handle_endtag(self, tag):\n"
    "        self.inli = False\n"
    "    def handle_data(self, data):\n"
    "        if self.inli:\n"
    "            self.items.append(data)\n"
    "c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)\n"
    "c.request('GET', path, headers={'Accept': 'text/html'})\n"
    "f = Form()\n"
    "f.feed(c.getresponse().read().decode())\n"
    "body = urllib.parse.urlencode(f.fields)\n"
    "c.request('POST', path, body, {'Content-Type': 'application/x-www-form-urlencoded'})\n"
    "r = c.getresponse()\n"
    "done = Form()\n"
    "done.feed(r.read().decode())\n"
    "print(r.status, '|'.join(done.items))\n";

static void test_prefs_browser_form(void **state)
{
    (void)state;
    struct srv s;
    send_promo();
    write_file("browser.py", browser_py);
    char *link = prefs_link("k2@example.com"), cmd[1024], out[512] = "";
    srv_start(&s);
    snprintf(cmd, sizeof cmd, "cd '%s' && /usr/bin/python3 browser.py %d '%s' push keep", dir,
             s.port, link);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    if (!fgets(out, sizeof out, f))
        out[0] = '\0';
    pclose(f);
    /* the zh-CN contact's confirmation, push marketing now off */
    assert_string_equal(out, "200 邮件：营销消息开启|短信：营销消息开启|推送通知：营销消息关闭\n");
    snprintf(cmd, sizeof cmd, "cd '%s' && /usr/bin/python3 browser.py %d '%s' none stop", dir,
             s.port, link);
    f = popen(cmd, "r");
    assert_non_null(f);
    if (!fgets(out, sizeof out, f))
        out[0] = '\0';
    pclose(f);
    assert_string_equal(out, "200 邮件：营销消息关闭|短信：营销消息关闭|推送通知：营销消息关闭\n");
    assert_int_equal(srv_stop(&s), 0);
    assert_int_equal(q1("SELECT count(*) FROM consent k JOIN contacts c ON c.id = k.contact_id "
                        "WHERE c.ext_id = 'k2' AND k.status = 'opted_out' AND k.source = "
                        "'preferences' AND k.category = 'marketing'"),
                     3);
    free(link);
}

static void test_prefs_csrf_refused(void **state)
{
    (void)state;
    struct srv s;
    char *body;
    send_promo();
    char *link = prefs_link("k1@example.com"), *k3 = prefs_link("k3@example.com");
    srv_start(&s);
    char *c = get_csrf(&s, link), *c3 = get_csrf(&s, k3), wrong[HD_CSRF_LEN + 1];
    snprintf(wrong, sizeof wrong, "%s", c);
    wrong[5] = wrong[5] == '0' ? '1' : '0';
    /* no csrf at all */
    assert_int_equal(post(&s, link, NULL, "marketing=email", &body), 403);
    assert_contains(body, "csrf field is missing or wrong");
    free(body);
    assert_int_equal(post(&s, link, NULL, "stop_all=1", NULL), 403);
    assert_int_equal(post(&s, link, NULL, "", NULL), 403);
    /* a wrong one, another link's, a cut one, one given twice */
    assert_int_equal(post(&s, link, wrong, "&stop_all=1", NULL), 403);
    assert_int_equal(post(&s, link, c3, "&stop_all=1", NULL), 403);
    char cut[HD_CSRF_LEN];
    snprintf(cut, sizeof cut, "%s", c);
    assert_int_equal(post(&s, link, cut, "&stop_all=1", NULL), 403);
    char twice[300];
    snprintf(twice, sizeof twice, "&csrf=%s&stop_all=1", wrong);
    assert_int_equal(post(&s, link, c, twice, NULL), 403);
    assert_int_equal(consent_rows(), 0);
    /* the right one works (so the refusals above were about the token) */
    assert_int_equal(post(&s, link, c, "&stop_all=1", NULL), 200);
    assert_int_equal(q1("SELECT count(*) FROM consent"), 3);
    assert_int_equal(srv_stop(&s), 0);
    free(c);
    free(c3);
    free(k3);
    free(link);
}

static void test_prefs_bad_tokens(void **state)
{
    (void)state;
    struct srv s;
    char *body;
    send_promo();
    char *link = prefs_link("k1@example.com");
    srv_start(&s);
    char *c = get_csrf(&s, link), bad[256];
    snprintf(bad, sizeof bad, "%s", link);
    size_t n = strlen(bad);
    bad[n - 5] = bad[n - 5] == 'A' ? 'B' : 'A';
    assert_int_equal(http(&s, "GET", bad, NULL, NULL, &body, NULL), 403);
    assert_contains(body, "This link is not valid");
    assert_not_contains(body, "<form");
    free(body);
    assert_int_equal(post(&s, bad, c, "&stop_all=1", NULL), 403);
    bad[n - 5] = '\0';
    assert_int_equal(post(&s, bad, c, "&stop_all=1", NULL), 400);
    assert_int_equal(srv_stop(&s), 0);
    assert_int_equal(consent_rows(), 0);
    /* 401 days on, the link has expired (unsubscribe_valid 400d) */
    setenv("HERALD_NOW", "2027-12-28T12:00:00Z", 1);
    srv_start(&s);
    assert_int_equal(http(&s, "GET", link, NULL, NULL, &body, NULL), 410);
    assert_contains(body, "This link has expired");
    assert_not_contains(body, "csrf");
    free(body);
    assert_int_equal(post(&s, link, c, "&stop_all=1", NULL), 410);
    assert_int_equal(srv_stop(&s), 0);
    assert_int_equal(consent_rows(), 0);
    free(c);
    free(link);
}

/* A page served before a secret rotation still posts; a CSRF token made
 * with a secret dropped since does not. */
static void test_prefs_rotation(void **state)
{
    (void)state;
    struct srv s;
    send_promo();
    char *link = prefs_link("k1@example.com");
    srv_start(&s);
    char *old = get_csrf(&s, link);
    assert_int_equal(srv_stop(&s), 0);
    TU_HERALD_OK(dir, "serve", "init-secret", "var/new.secret");
    write_conf("h.conf",
               "secret_file = var/new.secret\nprevious_secret_file = var/herald.secret\n");
    srv_start(&s);
    char *now = get_csrf(&s, link);
    assert_string_not_equal(old, now);
    assert_int_equal(post(&s, link, old, "&marketing=email&marketing=sms", NULL), 200);
    assert_int_equal(post(&s, link, now, "&stop_all=1", NULL), 200);
    assert_int_equal(srv_stop(&s), 0);
    assert_int_equal(q1("SELECT count(*) FROM consent_log"), 3);
    /* the old secret dropped: its links and its CSRF tokens stop working */
    write_conf("h.conf", "secret_file = var/new.secret\n");
    srv_start(&s);
    char *body;
    assert_int_equal(http(&s, "GET", link, NULL, NULL, &body, NULL), 403);
    free(body);
    assert_int_equal(post(&s, link, old, "&marketing=email", NULL), 403);
    assert_int_equal(srv_stop(&s), 0);
    assert_int_equal(q1("SELECT count(*) FROM consent_log"), 3);
    free(old);
    free(now);
    free(link);
}

static void test_prefs_bad_bodies(void **state)
{
    (void)state;
    struct srv s;
    char *body, form[2048];
    send_promo();
    char *link = prefs_link("k1@example.com");
    srv_start(&s);
    char *c = get_csrf(&s, link);
    static const struct {
        const char *rest, *error;
    } bad[] = {
        {"&marketing=%zz", "bad %-escape"},
        {"&marketing=email%", "bad %-escape"},
        {"&marketing=%00", "or a NUL"},
        {"&=email", "has no name"},
        {"&marketing=fax", "unknown field 'marketing'"},
        {"&transactional=email", "unknown field 'transactional'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(post(&s, link, c, bad[i].rest, &body), 400);
        assert_contains(body, bad[i].error);
        free(body);
    }
    /* a bad escape before the csrf field is 400 as well */
    snprintf(form, sizeof form, "x=%%G0&csrf=%s", c);
    assert_int_equal(http(&s, "POST", link, form, NULL, &body, NULL), 400);
    free(body);
    /* over the form's bound (far below body_limit): 413 */
    snprintf(form, sizeof form, "csrf=%s&marketing=email", c);
    size_t n = strlen(form);
    memset(form + n, '&', 1100 - n);
    form[1100] = '\0';
    assert_int_equal(http(&s, "POST", link, form, NULL, &body, NULL), 413);
    free(body);
    /* just under it is fine (empty pairs are skipped) */
    form[1024] = '\0';
    assert_int_equal(http(&s, "POST", link, form, NULL, &body, NULL), 200);
    free(body);
    assert_int_equal(q1("SELECT count(*) FROM consent"), 2); /* sms and push off */
    assert_int_equal(srv_stop(&s), 0);
    free(c);
    free(link);
}

/* ---- the consent record ---------------------------------------------------- */

static void test_prefs_provenance(void **state)
{
    (void)state;
    struct srv s;
    struct tu_run r;
    send_promo();
    /* a change by hand first, then one from each link, then by hand again */
    TU_HERALD_OK(dir, "contacts", "optout", "k1", "--channel", "push", "--category", "marketing");
    char *p = prefs_link("k1@example.com"), *u = outbox_link("k1@example.com");
    setenv("HERALD_NOW", "2026-11-22T13:00:00Z", 1);
    srv_start(&s);
    char *c = get_csrf(&s, p);
    /* email ticked: sms goes off, push stays off (no change, no row) */
    assert_int_equal(post(&s, p, c, "&marketing=email", NULL), 200);
    char *body;
    assert_int_equal(http(&s, "POST", u, "List-Unsubscribe=One-Click", NULL, &body, NULL), 200);
    free(body);
    assert_int_equal(srv_stop(&s), 0);
    setenv("HERALD_NOW", "2026-11-22T14:00:00Z", 1);
    TU_HERALD_OK(dir, "contacts", "optin", "k1", "--channel", "sms", "--category", "marketing");
    /* contacts show: the state now, each row with its provenance */
    tu_herald(&r, dir, NULL, "contacts", "show", "k1", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "  email marketing      opted out  by unsubscribe at "
                           "2026-11-22T13:00:0");
    assert_contains(r.out, "  push  marketing      opted out  by cli at 2026-11-22T12:00:0");
    assert_contains(r.out, "  sms   marketing      opted in   by cli at 2026-11-22T14:00:0");
    assert_not_contains(r.out, "by preferences");
    tu_run_release(&r);
    /* history: every change, oldest first */
    tu_herald(&r, dir, NULL, "history", "k1", NULL);
    assert_int_equal(r.status, 0);
    const char *h = strstr(r.out, "\nconsent changes:\n");
    assert_non_null(h);
    const char *a = strstr(h, "  push  marketing      opted out  by cli at 2026-11-22T12:00:0"),
               *b = strstr(h, "  sms   marketing      opted out  by preferences at "
                              "2026-11-22T13:00:0"),
               *d = strstr(h, "  email marketing      opted out  by unsubscribe at "
                              "2026-11-22T13:00:0"),
               *e = strstr(h, "  sms   marketing      opted in   by cli at 2026-11-22T14:00:0");
    assert_true(a && b && d && e);
    assert_true(a < b && b < d && d < e);
    assert_contains(b, "Z (link of message ");
    assert_contains(b, ", campaign 'promo')\n");
    tu_run_release(&r);
    /* why: the changes about the campaign (marketing email) */
    tu_herald(&r, dir, NULL, "why", "k1", "promo", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "consent for marketing messages on its channels: these changes");
    assert_contains(r.out, "  email marketing      opted out  by unsubscribe at "
                           "2026-11-22T13:00:0");
    assert_not_contains(r.out, "by preferences"); /* sms: not a channel of the campaign */
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "why", "k1", "promo", "--format", "json", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "\"source\": \"unsubscribe\"");
    assert_contains(r.out, "\"campaign\": \"promo\"");
    tu_run_release(&r);
    /* a contact with no change says so */
    tu_herald(&r, dir, NULL, "history", "k3", NULL);
    assert_contains(r.out, "consent changes: none recorded (consents to all)");
    tu_run_release(&r);
    /* the record is append-only: a row per change */
    assert_int_equal(q1("SELECT count(*) FROM consent_log"), 4);
    /* erasing the contact erases its record */
    TU_HERALD_OK(dir, "contacts", "delete", "k1");
    assert_int_equal(q1("SELECT count(*) FROM consent_log"), 0);
    /* its links now: unsubscribed pages, nothing to change and no way to
     * the preferences (the page offered them, and they answered a line of
     * plain text: a review found the dead end) */
    srv_start(&s);
    assert_int_equal(http(&s, "GET", p, NULL, NULL, &body, NULL), 410);
    assert_contains(body, "You had already unsubscribed");
    assert_not_contains(body, "<form");
    assert_not_contains(body, "/p/");
    free(body);
    assert_int_equal(http(&s, "GET", u, NULL, NULL, &body, NULL), 200);
    assert_contains(body, "You had already unsubscribed");
    assert_not_contains(body, "/p/");
    free(body);
    assert_int_equal(srv_stop(&s), 0);
    free(c);
    free(p);
    free(u);
}

/* A database of schema 9 gets its consent record started from the consent
 * rows it has, and records changes from then on (the later migrations
 * undone too, so that they can run again). */
static void test_prefs_migration(void **state)
{
    (void)state;
    TU_HERALD_OK(dir, "contacts", "optout", "k1", "--channel", "sms", "--category", "marketing");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "sqlite3 '%s/h.db' \"" TU_UNDO_AFTER_13
             "DROP TABLE receipts; ALTER TABLE suppressions DROP COLUMN "
             "detail; ALTER TABLE suppressions DROP COLUMN message_id; DROP TRIGGER "
             "consent_log_insert; DROP TRIGGER consent_log_update; DROP TABLE consent_log; "
             "PRAGMA user_version = 9;\"",
             dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(q1("SELECT count(*) FROM sqlite_master WHERE name = 'consent_log'"), 0);
    TU_HERALD_OK(dir, "contacts", "optin", "k1", "--channel", "sms", "--category", "marketing");
    assert_int_equal(q1("SELECT count(*) FROM consent_log WHERE source = 'cli'"), 2);
    assert_int_equal(q1("SELECT count(*) FROM consent_log WHERE status = 'opted_out'"), 1);
    assert_int_equal(q1("SELECT max(id) FROM consent_log WHERE status = 'opted_in'"), 2);
}

/* ---- List-Unsubscribe's mailto form ------------------------------------------- */

/* Finds the email to argv[2] in folder argv[1] and prints, from Python's
 * email package (an independent parser), List-Unsubscribe's URIs, the
 * mailto's subject decoded, List-Unsubscribe-Post and the longest raw
 * line of the header section. */
static const char parse_eml[] =
    "import email, email.policy, os, re, sys, urllib.parse\n"
    "for f in sorted(os.listdir(sys.argv[1])):\n"
    "    raw = open(os.path.join(sys.argv[1], f), 'rb').read()\n"
    "    m = email.message_from_bytes(raw, policy=email.policy.default)\n"
    "    if m['To'] is None or sys.argv[2] not in str(m['To']):\n"
    "        continue\n"
    "    uris = re.findall(r'<([^>]*)>', str(m['List-Unsubscribe']))\n"
    "    print(len(uris))\n"
    "    for u in uris:\n"
    "        print(u)\n"
    "    q = urllib.parse.parse_qs(urllib.parse.urlparse(uris[-1]).query)\n"
    "    print(q['subject'][0])\n"
    "    print(m['List-Unsubscribe-Post'])\n"
    "    head = raw.split(b'\\r\\n\\r\\n')[0]\n"
    "    print(max(len(l) for l in head.split(b'\\r\\n')))\n";

/* The email's List-Unsubscribe, checked: the URL, then the mailto with
 * the same token; returns the token. */
static char *check_mailto(const char *folder, const char *addr)
{
    char cmd[1024], line[6][512];
    snprintf(cmd, sizeof cmd, "cd '%s' && /usr/bin/python3 parse_eml.py '%s' '%s'", dir, folder,
             addr);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    for (int i = 0; i < 6; i++) {
        if (!fgets(line[i], sizeof line[i], f))
            fail_msg("python's email parser printed %d lines", i);
        line[i][strcspn(line[i], "\n")] = '\0';
    }
    pclose(f);
    assert_string_equal(line[0], "2");
    const char *u = "http://127.0.0.1:8025/u/";
    assert_int_equal(strncmp(line[1], u, strlen(u)), 0);
    char *tok = hd_xstrdup(line[1] + strlen(u)), want[512];
    snprintf(want, sizeof want, "mailto:unsub@example.com?subject=unsubscribe%%20%s", tok);
    assert_string_equal(line[2], want);
    snprintf(want, sizeof want, "unsubscribe %s", tok);
    assert_string_equal(line[3], want);
    assert_string_equal(line[4], "List-Unsubscribe=One-Click");
    assert_true(atoi(line[5]) <= 998); /* RFC 5322 2.1.1 */
    return tok;
}

static void test_prefs_mailto(void **state)
{
    (void)state;
    struct tu_run r;
    static const struct {
        const char *value, *error;
    } bad[] = {
        {"nobody", "unsubscribe_mailto: 'nobody' is not an email address"},
        {"a?b@example.com", "a character a mailto: link would have to escape"},
        {"a%b@example.com", "a character a mailto: link would have to escape"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char extra[256];
        snprintf(extra, sizeof extra, "secret_file = var/herald.secret\nunsubscribe_mailto = %s\n",
                 bad[i].value);
        write_conf("h.conf", extra);
        tu_herald(&r, dir, NULL, "config", "check", NULL);
        assert_int_equal(r.status, 1);
        assert_contains(r.err, "h.conf:8: ");
        assert_contains(r.err, bad[i].error);
        tu_run_release(&r);
    }
    write_conf("h.conf",
               "secret_file = var/herald.secret\nunsubscribe_mailto = unsub@example.com\n");
    tu_herald(&r, dir, NULL, "config", "check", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "unsubscribe_mailto = unsub@example.com\n");
    tu_run_release(&r);
    write_file("parse_eml.py", parse_eml);
    send_promo();
    char *tok = check_mailto("var/outbox/email/new", "k1@example.com");
    /* the raw header: the URL, then the mailto folded onto a line of its own */
    char *link = outbox_link("k1@example.com");
    assert_string_equal(link + 3, tok);
    free(link);
    free(tok);
    /* SMTP sends the same header: its own mailto (the provider's static
     * one) gives way to the message's */
    struct tu_server smtp;
    char extra[600];
    smtp_start(&smtp);
    snprintf(extra, sizeof extra,
             "secret_file = var/herald.secret\nunsubscribe_mailto = unsub@example.com\n"
             "[provider mail]\ntype = smtp\nhost = 127.0.0.1\nport = %d\nstarttls = none\n"
             "from = Acme <hello@example.com>\nunsubscribe_mailto = static@example.com\n"
             "[channel email]\nproviders = mail\n",
             smtp.port);
    write_conf("h.conf", extra);
    TU_HERALD_OK(dir, "campaign", "create", "viasmtp", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--now");
    TU_HERALD_OK(dir, "send", "viasmtp");
    tu_server_stop(&smtp);
    tok = check_mailto("smtpout", "k3@example.com");
    free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefs_form_parser),
        cmocka_unit_test(test_prefs_csrf),
        cmocka_unit_test_setup_teardown(test_prefs_page, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_prefs_post, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_prefs_browser_form, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_prefs_csrf_refused, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_prefs_bad_tokens, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_prefs_rotation, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_prefs_bad_bodies, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_prefs_provenance, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_prefs_migration, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_prefs_mailto, e2e_setup, e2e_teardown),
        /* on PostgreSQL: all but the migration of a schema-9 SQLite file */
        {"test_prefs_page_pg", test_prefs_page, e2e_setup_pg, e2e_teardown, NULL},
        {"test_prefs_post_pg", test_prefs_post, e2e_setup_pg, e2e_teardown, NULL},
        {"test_prefs_browser_form_pg", test_prefs_browser_form, e2e_setup_pg, e2e_teardown, NULL},
        {"test_prefs_csrf_refused_pg", test_prefs_csrf_refused, e2e_setup_pg, e2e_teardown, NULL},
        {"test_prefs_bad_tokens_pg", test_prefs_bad_tokens, e2e_setup_pg, e2e_teardown, NULL},
        {"test_prefs_rotation_pg", test_prefs_rotation, e2e_setup_pg, e2e_teardown, NULL},
        {"test_prefs_bad_bodies_pg", test_prefs_bad_bodies, e2e_setup_pg, e2e_teardown, NULL},
        {"test_prefs_provenance_pg", test_prefs_provenance, e2e_setup_pg, e2e_teardown, NULL},
        {"test_prefs_mailto_pg", test_prefs_mailto, e2e_setup_pg, e2e_teardown, NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
