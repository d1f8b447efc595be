/* test_inbox: the in-app inbox (issue 20). As units: the Markdown subset's
 * HTML against hostile input (a table, then a seeded random walk over the
 * marks whose every '<' must open or close an element the subset makes),
 * and the contact token (round trip, tampering, expiry, the lifetime
 * bound, the previous secret, and link tokens and contact tokens never
 * passing as each other). Then end to end with the real binaries: a
 * campaign with channels inbox,email sent by `herald send` (a contact
 * opted out of the inbox gets the email in the outbox instead), listed over
 * real HTTP from `herald serve` with tokens minted by tests/inbox_token.py
 * (Python's hmac, from the README's format, not herald's code): refused
 * tokens, pages, reads as `opened` in `herald stats` and the log, archive,
 * CORS preflight, expiry at a later clock, and a deleted contact's inbox
 * gone. The end-to-end cases run on a SQLite file and on a PostgreSQL store. */
#include "testserve.h"

#include "herald/markdown.h"
#include "herald/token.h"

/* HERALD_NOW of e2e_setup, 2026-11-22T12:00:00Z */
#define NOW 1795348800LL

/* ---- the Markdown subset ------------------------------------------------ */

static char *md(const char *in)
{
    struct hd_buf b;
    hd_buf_init(&b);
    hd_md_render(in, strlen(in), &b);
    return b.len ? hd_buf_detach(&b, NULL) : hd_xstrdup("");
}

static void test_inbox_markdown(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""},
        {"hello", "<p>hello</p>\n"},
        {"<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"},
        {"<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>\n"},
        {"a & b \"q\" 'r'", "<p>a &amp; b &quot;q&quot; &#39;r&#39;</p>\n"},
        {"**bold** and *em*", "<p><strong>bold</strong> and <em>em</em></p>\n"},
        {"**unclosed and *also", "<p>**unclosed and *also</p>\n"},
        {"\\*not em\\*", "<p>*not em*</p>\n"},
        {"one\ntwo\n\nthree", "<p>one\ntwo</p>\n<p>three</p>\n"},
        {"- a\n- b\n\n1. c\n2. d",
         "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n<ol>\n<li>c</li>\n<li>d</li>\n</ol>\n"},
        {"* <i>x</i>", "<ul>\n<li>&lt;i&gt;x&lt;/i&gt;</li>\n</ul>\n"},
        {"[shop](https://shop.example.com/?a=1&b=2)",
         "<p><a href=\"https://shop.example.com/?a=1&amp;b=2\" rel=\"noopener noreferrer\">shop</a>"
         "</p>\n"},
        {"[x](HTTP://A.EXAMPLE)",
         "<p><a href=\"HTTP://A.EXAMPLE\" rel=\"noopener noreferrer\">x</a></p>\n"},
        {"[**b**](http://x.example)", "<p><a href=\"http://x.example\" rel=\"noopener "
                                      "noreferrer\"><strong>b</strong></a></p>\n"},
        /* schemes other than http(s), and URLs that could leave the attribute */
        {"[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>\n"},
        {"[x](JaVaScRiPt:alert(1))", "<p>[x](JaVaScRiPt:alert(1))</p>\n"},
        {"[x](data:text/html,<b>)", "<p>[x](data:text/html,&lt;b&gt;)</p>\n"},
        {"[x](https://a.example/\"onmouseover=\"y)",
         "<p>[x](https://a.example/&quot;onmouseover=&quot;y)</p>\n"},
        {"[x](https://a.example/ y)", "<p>[x](https://a.example/ y)</p>\n"},
        {"[x](https:///path)", "<p>[x](https:///path)</p>\n"},
        {"[x](https://)", "<p>[x](https://)</p>\n"},
        {"[x](//evil.example)", "<p>[x](//evil.example)</p>\n"},
        {"[a [b](http://x.example)](http://y.example)",
         "<p><a href=\"http://y.example\" rel=\"noopener noreferrer\">a [b](http://x.example)</a>"
         "</p>\n"},
        {"[unclosed(http://x.example)", "<p>[unclosed(http://x.example)</p>\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = md(cases[i].in);
        if (strcmp(out, cases[i].out) != 0)
            fail_msg("case %zu: '%s' gave\n'%s', not\n'%s'", i, cases[i].in, out, cases[i].out);
        free(out);
    }
}

/* Every '<' of the HTML opens or closes one of the subset's elements, and
 * they balance. */
static void check_safe(const char *in, const char *html)
{
    static const char *const tags[] = {"p", "strong", "em", "a", "ul", "ol", "li"};
    int open[7] = {0};
    for (const char *p = html; (p = strchr(p, '<')) != NULL; p++) {
        bool close = p[1] == '/';
        const char *name = p + 1 + close;
        size_t k, n = strcspn(name, " >");
        for (k = 0; k < 7 && !(strlen(tags[k]) == n && strncmp(name, tags[k], n) == 0); k++)
            ;
        if (k == 7)
            fail_msg("'%s' gave an element the subset never makes: '%s'", in, html);
        if (k == 3 && !close &&
            strncmp(name + 1, " href=\"http", 11) != 0) /* a link is always http(s) */
            fail_msg("'%s' gave a link that is not http(s): '%s'", in, html);
        open[k] += close ? -1 : 1;
    }
    for (int k = 0; k < 7; k++)
        if (open[k])
            fail_msg("'%s' left <%s> unbalanced: '%s'", in, tags[k], html);
    for (const char *p = html; (p = strstr(p, " href=\"")) != NULL; p += 7)
        if (strcspn(p + 7, "\"<> ") != strcspn(p + 7, "\""))
            fail_msg("'%s' gave an attribute with markup in it: '%s'", in, html);
}

static void test_inbox_markdown_random(void **state)
{
    (void)state;
    static const char *const bits[] = {"*", "**", "[",           "]",           "(",   ")",
                                       "<", ">",  "&",           "\"",          "'",   "\\",
                                       " ", "\n", "\n\n",        "- ",          "1. ", "x",
                                       "é", "\0", "https://a.b", "javascript:", "](",  "<a href="};
    uint32_t seed = 20261122;
    for (int round = 0; round < 3000; round++) {
        char in[400];
        size_t n = 0;
        int parts = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 40;
        for (int i = 0; i < parts; i++) {
            const char *b = bits[((seed = seed * 1103515245u + 12345u) >> 16) % 24];
            size_t l = *b ? strlen(b) : 1;
            if (n + l < sizeof in) {
                memcpy(in + n, b, l);
                n += l;
            }
        }
        struct hd_buf out;
        hd_buf_init(&out);
        hd_md_render(in, n, &out);
        in[n] = '\0';
        check_safe(in, out.len ? out.data : "");
        hd_buf_release(&out);
    }
}

/* ---- contact tokens ------------------------------------------------------- */

static void test_inbox_token(void **state)
{
    (void)state;
    const char *secret = "0123456789abcdef0123456789abcdef", *old = "the previous one";
    struct hd_token_key keys[2] = {{secret, strlen(secret)}, {old, strlen(old)}};
    char tok[HD_CTOKEN_MAX], contact[HD_CTOKEN_CONTACT_MAX + 1];
    int64_t exp;
    assert_int_equal(hd_ctoken_make(&keys[0], "user.42@x", NOW + 600, tok, sizeof tok), 0);
    assert_int_equal(
        hd_ctoken_verify(tok, strlen(tok), keys, 2, NOW, contact, sizeof contact, &exp),
        HD_TOKEN_OK);
    assert_string_equal(contact, "user.42@x");
    assert_int_equal(exp, NOW + 600);
    /* expired; minted for longer than the bound; signed with the previous secret */
    assert_int_equal(
        hd_ctoken_verify(tok, strlen(tok), keys, 2, NOW + 600, contact, sizeof contact, &exp),
        HD_TOKEN_EXPIRED);
    assert_int_equal(hd_ctoken_make(&keys[0], "k1", NOW + HD_CTOKEN_TTL_MAX + 1, tok, sizeof tok),
                     0);
    assert_int_equal(
        hd_ctoken_verify(tok, strlen(tok), keys, 2, NOW, contact, sizeof contact, &exp),
        HD_TOKEN_EXPIRED);
    assert_int_equal(hd_ctoken_make(&keys[1], "k1", NOW + 60, tok, sizeof tok), 0);
    assert_int_equal(
        hd_ctoken_verify(tok, strlen(tok), keys, 2, NOW, contact, sizeof contact, &exp),
        HD_TOKEN_OK);
    assert_int_not_equal(
        hd_ctoken_verify(tok, strlen(tok), keys, 1, NOW, contact, sizeof contact, &exp),
        HD_TOKEN_OK);
    /* every one-character change is refused */
    assert_int_equal(hd_ctoken_make(&keys[0], "k1", NOW + 60, tok, sizeof tok), 0);
    for (size_t i = 0; i < strlen(tok); i++) {
        char t[HD_CTOKEN_MAX];
        snprintf(t, sizeof t, "%s", tok);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        assert_int_not_equal(
            hd_ctoken_verify(t, strlen(t), keys, 2, NOW, contact, sizeof contact, &exp),
            HD_TOKEN_OK);
    }
    assert_int_not_equal(
        hd_ctoken_verify(tok, strlen(tok) - 1, keys, 2, NOW, contact, sizeof contact, &exp),
        HD_TOKEN_OK);
    /* a link token is never a contact token, nor the other way round */
    struct hd_token lt = {
        .contact = 1, .message = 2, .channel = 0, .category = 0, .day = NOW / 86400};
    char link[HD_TOKEN_MAX];
    struct hd_token back;
    hd_token_make(&lt, &keys[0], link);
    assert_int_not_equal(
        hd_ctoken_verify(link, strlen(link), keys, 2, NOW, contact, sizeof contact, &exp),
        HD_TOKEN_OK);
    assert_int_not_equal(hd_token_verify(tok, strlen(tok), keys, 2, NOW, 86400, &back, NULL),
                         HD_TOKEN_OK);
    /* a contact id longer than the bound is not minted */
    char longid[HD_CTOKEN_CONTACT_MAX + 2];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    assert_int_equal(hd_ctoken_make(&keys[0], longid, NOW + 60, tok, sizeof tok), -1);
}

/* ---- configuration ------------------------------------------------------------ */

static void test_inbox_config(void **state)
{
    (void)state;
    static const struct {
        const char *text, *error;
    } bad[] = {
        {"[serve]\ninbox_origins = ftp://x.example\n",
         "c.conf:2: inbox_origins: 'ftp://x.example' is not an origin"},
        {"[herald]\n[serve]\ninbox_origins = https://a.example/path\n",
         "c.conf:3: inbox_origins: 'https://a.example/path' is not an origin"},
        {"[serve]\ninbox_origins = https://\n", "c.conf:2: inbox_origins: 'https://'"},
        {"[channel inbox]\nproviders = nope\n",
         "c.conf:2: [channel inbox] providers: no [provider nope] is defined"},
        {"[provider p]\ntype = inbox\npath = x\n", "c.conf:3: unknown key 'path'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hd_config *cfg = NULL;
        struct hd_err err = {0};
        assert_int_equal(hd_config_parse(bad[i].text, "c.conf", &cfg, &err), HD_E_CONFIG);
        assert_null(cfg);
        assert_contains(err.msg, bad[i].error);
    }
    struct hd_config *cfg = NULL;
    assert_int_equal(hd_config_parse("[serve]\ninbox_origins = https://a.example, "
                                     "http://localhost:3000 https://b.example:8443\n"
                                     "[provider mine]\ntype = inbox\n[channel inbox]\n"
                                     "providers = mine\n",
                                     "c.conf", &cfg, NULL),
                     0);
    const struct hd_serve_cfg *sv = &cfg->serve;
    assert_true(hd_cfg_serve_origin_ok(sv, "https://a.example"));
    assert_true(hd_cfg_serve_origin_ok(sv, "http://localhost:3000"));
    assert_true(hd_cfg_serve_origin_ok(sv, "https://b.example:8443"));
    assert_false(hd_cfg_serve_origin_ok(sv, "https://a.example.evil"));
    assert_false(hd_cfg_serve_origin_ok(sv, "https://a.exampl"));
    assert_false(hd_cfg_serve_origin_ok(sv, "http://localhost"));
    assert_false(hd_cfg_serve_origin_ok(sv, ""));
    assert_false(hd_cfg_serve_origin_ok(sv, NULL));
    assert_string_equal(cfg->channels[HD_CH_INBOX].providers[0], "mine");
    assert_string_equal(hd_config_provider(cfg, "inbox")->type, "inbox"); /* still built in */
    hd_config_free(cfg);
    /* none by default */
    assert_int_equal(hd_config_parse("[herald]\n", "c.conf", &cfg, NULL), 0);
    assert_false(hd_cfg_serve_origin_ok(&cfg->serve, "https://a.example"));
    assert_string_equal(cfg->channels[HD_CH_INBOX].providers[0], "inbox");
    hd_config_free(cfg);
}

/* ---- end to end ----------------------------------------------------------- */

static const char tpl_note[] =
    "description: inbox test\ncategory: marketing\nfrom: Acme <hello@example.com>\n\n"
    "--- email.subject\nHello {{ first_name }}\n"
    "--- email.text\nNews. Unsubscribe: {{ unsubscribe_url }}\n"
    "--- inbox.title\nHello {{ first_name }}\n"
    "--- inbox.body\n**Sale** for {{ first_name }}: <b>now</b> "
    "[shop](https://shop.example.com/?a=1&b=2)\n"
    "--- inbox.url\nhttps://shop.example.com/sale\n"
    "--- inbox.expires\n30d\n";

/* the same with a message that lives an hour */
static const char tpl_flash[] =
    "description: a flash sale\ncategory: marketing\nfrom: Acme <hello@example.com>\n\n"
    "--- email.subject\nFlash\n--- email.text\nFlash. {{ unsubscribe_url }}\n"
    "--- inbox.title\nFlash sale\n--- inbox.body\n1. now\n2. *only*\n"
    "--- inbox.expires\n1h\n";

static int inbox_setup_on(const char *store)
{
    e2e_db = store;
    dir = tu_tmpdir();
    setenv("HERALD_NOW", "2026-11-22T12:00:00Z", 1);
    setenv("HERALD_CONFIG", "h.conf", 1);
    write_conf("h.conf", "secret_file = var/herald.secret\n"
                         "inbox_origins = https://app.example.com, http://localhost:3000\n");
    tu_serve_store(dir, tpl_note,
                   "id,email,first_name,locale\nk1,k1@example.com,Ann,en\n"
                   "k2,k2@example.com,Bo,zh-CN\nk3,k3@example.com,Cy,en\n");
    write_file("tpl/note.tmpl", tpl_note);
    write_file("tpl/flash.tmpl", tpl_flash);
    TU_HERALD_OK(dir, "contacts", "optout", "k3", "--channel", "inbox");
    static const char *const camps[][2] = {{"c1", "note"}, {"c2", "note"}, {"c3", "flash"}};
    for (int i = 0; i < 3; i++) {
        TU_HERALD_OK(dir, "campaign", "create", camps[i][0], "--segment", "all", "--template",
                     camps[i][1], "--channels", "inbox,email", "--now");
        TU_HERALD_OK(dir, "send", camps[i][0]);
    }
    return 0;
}

static int inbox_setup(void **state)
{
    (void)state;
    return inbox_setup_on("h.db");
}

/* The same on a fresh PostgreSQL database (testserve.h's e2e_pg_*, which
 * e2e_teardown drops). */
static int inbox_setup_pg(void **state)
{
    (void)state;
    e2e_pg_uri = tu_pg_db(e2e_pg_name);
    return inbox_setup_on(e2e_pg_uri);
}

/* A token from tests/inbox_token.py (the caller frees). */
static char *py_token(const char *contact, long long expiry, const char *secret_file)
{
    char *py = tu_src_path("tests/inbox_token.py"), cmd[4096];
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s/%s' '%s' %lld", py, dir, secret_file, contact,
             expiry);
    char *t = tu_sh(cmd);
    t[strcspn(t, "\n")] = '\0';
    free(py);
    return t;
}

/* GET or POST path with the token (NULL: no Authorization); the status,
 * the body in *out (the caller frees) and the headers in *hdr (may be NULL). */
static int api(const struct srv *s, const char *method, const char *path, const char *token,
               const char *extra, char **out, char **hdr)
{
    char more[2048];
    snprintf(more, sizeof more, "%s%s%s %s", token ? "-H 'Authorization: Bearer " : "",
             token ? token : "", token ? "'" : "", extra ? extra : "");
    return http(s, method, path, NULL, more, out, hdr);
}

static json_t *body_json(const char *body)
{
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    if (!j)
        fail_msg("not JSON (%s): '%s'", je.text, body);
    return j;
}

static void test_inbox_sent(void **state)
{
    (void)state;
    /* k1 and k2 have three messages each in the store; k3 opted out of
     * the inbox and got the emails instead */
    assert_int_equal(tu_sql1(dir, e2e_db, "SELECT count(*) FROM inbox"), 6);
    assert_int_equal(tu_sql1(dir, e2e_db,
                             "SELECT count(*) FROM inbox i JOIN contacts c ON c.id = i.contact_id "
                             "WHERE c.ext_id = 'k3'"),
                     0);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "log", "--campaign", "c1", "--contact", "k3", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "email");
    assert_contains(r.out, "accepted");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "log", "--campaign", "c1", "--contact", "k1", NULL);
    assert_contains(r.out, "inbox");
    assert_contains(r.out, "kept for the contact's inbox");
    tu_run_release(&r);
    /* provider test has no gateway to try there, and stores nothing: it
     * says so rather than "accepted" (a review took that at its word) */
    tu_herald(&r, dir, NULL, "provider", "test", "inbox", "--to", "k1", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "provider 'inbox' is the in-app inbox: there is no gateway to try");
    tu_run_release(&r);
    /* nor is a push token with a space in it taken */
    tu_herald(&r, dir, NULL, "provider", "test", "outbox", "--channel", "push", "--to",
              "not a token", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "--to: 'not a token' is not a push device token");
    tu_run_release(&r);
    /* nothing of the inbox went to the outbox: the emails are k3's only */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "grep -rl 'k1@example.com' '%s/var/outbox' | wc -l", dir);
    char *n = tu_sh(cmd);
    assert_int_equal(atoi(n), 0);
    free(n);
    snprintf(cmd, sizeof cmd, "grep -rl 'k3@example.com' '%s/var/outbox' | wc -l", dir);
    n = tu_sh(cmd);
    assert_int_equal(atoi(n), 3);
    free(n);
    /* the body was made safe HTML when it was sent */
    char *html =
        tu_sql_text(dir, e2e_db, "SELECT body_html FROM inbox WHERE title = 'Hello Ann' LIMIT 1");
    assert_contains(html, "<p><strong>Sale</strong> for Ann: &lt;b&gt;now&lt;/b&gt; <a "
                          "href=\"https://shop.example.com/?a=1&amp;b=2\"");
    free(html);

    /* preview shows the inbox's parts, and the body as the inbox keeps it */
    tu_herald(&r, dir, NULL, "template", "preview", "note", "--contact", "k1", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "== inbox.title\nHello Ann\n");
    assert_contains(r.out, "== inbox.body\n**Sale** for Ann: <b>now</b>");
    assert_contains(r.out, "== inbox.body.html   (the Markdown as the inbox keeps it)\n<p><strong>"
                           "Sale</strong> for Ann: &lt;b&gt;now&lt;/b&gt;");
    assert_contains(r.out, "== inbox.expires\n30d\n");
    tu_run_release(&r);

    /* a link that is not http(s), an expiry that is not a duration: the
     * message fails to render, says why, and nothing is kept */
    static const char *const bad[][2] = {
        {"javascript:alert(1)", "30d"},
        {"https://shop.example.com/", "soon"},
    };
    static const char *const why[] = {"inbox.url is not an http or https link once rendered",
                                      "inbox.expires: "};
    for (int i = 0; i < 2; i++) {
        char text[1024], name[16];
        snprintf(text, sizeof text,
                 "description: bad\ncategory: transactional\n\n--- inbox.title\nT\n"
                 "--- inbox.url\n%s\n--- inbox.expires\n%s\n",
                 bad[i][0], bad[i][1]);
        snprintf(name, sizeof name, "bad%d", i);
        snprintf(cmd, sizeof cmd, "tpl/%s.tmpl", name);
        write_file(cmd, text);
        TU_HERALD_OK(dir, "campaign", "create", name, "--segment", "all", "--template", name,
                     "--channels", "inbox", "--category", "transactional", "--now");
        tu_herald(&r, dir, NULL, "send", name, NULL);
        assert_int_equal(r.status, 3); /* messages failed */
        tu_run_release(&r);
        tu_herald(&r, dir, NULL, "log", "--campaign", name, "--reason", "render_failed", NULL);
        assert_int_equal(tu_count(r.out, why[i]), 2); /* k3 opted out of the inbox */
        tu_run_release(&r);
    }
    assert_int_equal(tu_sql1(dir, e2e_db, "SELECT count(*) FROM inbox"), 6);
}

static void test_inbox_api(void **state)
{
    (void)state;
    struct srv s;
    char *out, *hdr;
    srv_start(&s);
    char *tok = py_token("k1", NOW + 600, "var/herald.secret");
    assert_int_equal(api(&s, "GET", "/api/v1/inbox", tok, NULL, &out, &hdr), 200);
    assert_contains(hdr, "Content-Type: application/json");
    json_t *j = body_json(out), *msgs = json_object_get(j, "messages");
    assert_int_equal(json_array_size(msgs), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "unread")), 3);
    assert_true(json_is_null(json_object_get(j, "next_cursor")));
    /* newest first: the flash sale, then the two notes */
    json_t *first = json_array_get(msgs, 0), *last = json_array_get(msgs, 2);
    assert_string_equal(json_string_value(json_object_get(first, "title")), "Flash sale");
    assert_string_equal(json_string_value(json_object_get(first, "body_html")),
                        "<ol>\n<li>now</li>\n<li><em>only</em></li>\n</ol>\n");
    assert_string_equal(json_string_value(json_object_get(first, "expires_at")),
                        "2026-11-22T13:00:00Z");
    assert_string_equal(json_string_value(json_object_get(last, "url")),
                        "https://shop.example.com/sale");
    assert_false(json_is_true(json_object_get(last, "read")));
    int64_t id_flash = json_integer_value(json_object_get(first, "id")),
            id_c2 = json_integer_value(json_object_get(json_array_get(msgs, 1), "id")),
            id_c1 = json_integer_value(json_object_get(last, "id"));
    assert_true(id_flash > id_c2 && id_c2 > id_c1);
    json_decref(j);
    free(out);
    free(hdr);

    /* pages of two */
    assert_int_equal(api(&s, "GET", "/api/v1/inbox?limit=2", tok, NULL, &out, NULL), 200);
    j = body_json(out);
    assert_int_equal(json_array_size(json_object_get(j, "messages")), 2);
    const char *cur = json_string_value(json_object_get(j, "next_cursor"));
    assert_non_null(cur);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/inbox?limit=2&cursor=%s", cur);
    json_decref(j);
    free(out);
    assert_int_equal(api(&s, "GET", path, tok, NULL, &out, NULL), 200);
    j = body_json(out);
    assert_int_equal(json_array_size(json_object_get(j, "messages")), 1);
    assert_int_equal(json_integer_value(
                         json_object_get(json_array_get(json_object_get(j, "messages"), 0), "id")),
                     id_c1);
    assert_true(json_is_null(json_object_get(j, "next_cursor")));
    json_decref(j);
    free(out);
    static const char *const bad_args[] = {"/api/v1/inbox?limit=0", "/api/v1/inbox?limit=101",
                                           "/api/v1/inbox?cursor=abc", "/api/v1/inbox?limit=-1"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(api(&s, "GET", bad_args[i], tok, NULL, &out, &hdr), 400);
        assert_contains(hdr, "Content-Type: application/problem+json");
        assert_contains(out, "\"status\":400");
        free(out);
        free(hdr);
    }

    /* a read: a receipt `opened`, once, in the log and in stats */
    snprintf(path, sizeof path, "/api/v1/inbox/%lld/read", (long long)id_c1);
    assert_int_equal(api(&s, "POST", path, tok, NULL, &out, NULL), 200);
    assert_contains(out, "\"status\":\"read\"");
    free(out);
    assert_int_equal(api(&s, "POST", path, tok, NULL, &out, NULL), 200);
    free(out);
    assert_int_equal(api(&s, "GET", "/api/v1/inbox", tok, NULL, &out, NULL), 200);
    j = body_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "unread")), 2);
    assert_true(
        json_is_true(json_object_get(json_array_get(json_object_get(j, "messages"), 2), "read")));
    json_decref(j);
    free(out);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "stats", "c1", "--format", "json", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "\"opened\": 1");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "stats", "c2", "--format", "json", NULL);
    assert_contains(r.out, "\"opened\": 0");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "log", "--campaign", "c1", "--outcome", "receipt", NULL);
    assert_int_equal(tu_count(r.out, "opened"), 1);
    assert_contains(r.out, "k1");
    tu_run_release(&r);

    /* archive hides it; a second archive finds nothing; k2's ids are not k1's */
    snprintf(path, sizeof path, "/api/v1/inbox/%lld/archive", (long long)id_c2);
    assert_int_equal(api(&s, "POST", path, tok, NULL, &out, NULL), 200);
    free(out);
    assert_int_equal(api(&s, "POST", path, tok, NULL, &out, NULL), 404);
    assert_contains(out, "\"status\":404");
    free(out);
    assert_int_equal(api(&s, "GET", "/api/v1/inbox", tok, NULL, &out, NULL), 200);
    j = body_json(out);
    assert_int_equal(json_array_size(json_object_get(j, "messages")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "unread")), 1);
    json_decref(j);
    free(out);
    char *tok2 = py_token("k2", NOW + 600, "var/herald.secret");
    snprintf(path, sizeof path, "/api/v1/inbox/%lld/read", (long long)id_flash);
    assert_int_equal(api(&s, "POST", path, tok2, NULL, &out, NULL), 404);
    free(out);
    assert_int_equal(tu_sql1(dir, e2e_db, "SELECT count(*) FROM inbox WHERE read_at IS NOT NULL"),
                     1);

    /* wrong methods and paths */
    assert_int_equal(api(&s, "POST", "/api/v1/inbox", tok, NULL, &out, &hdr), 405);
    assert_contains(hdr, "Allow: GET, HEAD, OPTIONS");
    free(out);
    free(hdr);
    assert_int_equal(api(&s, "GET", path, tok, NULL, &out, NULL), 405);
    free(out);
    assert_int_equal(api(&s, "POST", "/api/v1/inbox/12/delete", tok, NULL, &out, NULL), 404);
    free(out);
    assert_int_equal(api(&s, "GET", "/api/v1/inboxes", tok, NULL, &out, NULL), 404);
    free(out);
    free(tok);
    free(tok2);
    assert_int_equal(srv_stop(&s), 0);
}

static void test_inbox_refused(void **state)
{
    (void)state;
    struct srv s;
    char *out, *hdr;
    srv_start(&s);
    char *good = py_token("k1", NOW + 600, "var/herald.secret");
    write_file("other.secret", "not the service's secret\n");
    char *tokens[] = {
        py_token("k1", NOW - 10, "var/herald.secret"),                     /* expired */
        py_token("k1", NOW + HD_CTOKEN_TTL_MAX + 60, "var/herald.secret"), /* too long-lived */
        py_token("k1", NOW + 600, "other.secret"),                         /* another secret */
        hd_xstrdup(good),                                                  /* tampered below */
        hd_xstrdup(good),                                                  /* its payload changed */
        hd_xstrdup("v1.AAAA"),
        hd_xstrdup(""),
    };
    size_t n = strlen(tokens[3]);
    tokens[3][n - 2] = tokens[3][n - 2] == 'A' ? 'B' : 'A';
    tokens[4][0] = tokens[4][0] == 'd' ? 'e' : 'd';
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++) {
        int code = api(&s, "GET", "/api/v1/inbox", tokens[i], NULL, &out, &hdr);
        if (code != 401)
            fail_msg("token %zu ('%s') answered %d: %s", i, tokens[i], code, out);
        assert_contains(hdr, "Content-Type: application/problem+json");
        assert_contains(hdr, "WWW-Authenticate: Bearer");
        assert_contains(out, "\"title\":\"Unauthorized\"");
        assert_not_contains(out, "Ann");
        free(out);
        free(hdr);
        free(tokens[i]);
    }
    /* no Authorization, or another scheme; a POST refused before its body */
    assert_int_equal(api(&s, "GET", "/api/v1/inbox", NULL, NULL, &out, NULL), 401);
    assert_contains(out, "Authorization: Bearer");
    free(out);
    assert_int_equal(
        api(&s, "GET", "/api/v1/inbox", NULL, "-H 'Authorization: Basic eDp5'", &out, NULL), 401);
    free(out);
    assert_int_equal(api(&s, "POST", "/api/v1/inbox/1/read", NULL,
                         "-H 'Content-Type: application/json' --data-binary '{\"x\": 1}'", &out,
                         NULL),
                     401);
    free(out);
    assert_int_equal(tu_sql1(dir, e2e_db, "SELECT count(*) FROM inbox WHERE read_at IS NOT NULL"),
                     0);
    /* the token CLI mints what the script mints, and it is accepted */
    struct tu_run r;
    tu_herald(&r, dir, NULL, "inbox", "token", "k1", "--ttl", "10m", NULL);
    assert_int_equal(r.status, 0);
    r.out[strcspn(r.out, "\n")] = '\0';
    char *py = py_token("k1", NOW + 600, "var/herald.secret");
    assert_string_equal(r.out, py);
    assert_int_equal(api(&s, "GET", "/api/v1/inbox", r.out, NULL, &out, NULL), 200);
    free(out);
    free(py);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "inbox", "token", "k1", "--ttl", "2d", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "over the 24h");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "inbox", "token", "nobody", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "no contact with id 'nobody'");
    tu_run_release(&r);
    static const char *const usage[][4] = {{"inbox", NULL, NULL, NULL},
                                           {"inbox", "token", NULL, NULL},
                                           {"inbox", "mint", "k1", NULL},
                                           {"inbox", "token", "k1", "--ttl=soon"}};
    static const char *const said[] = {"name a subcommand and a contact",
                                       "name a subcommand and a contact",
                                       "unknown subcommand 'mint'", "--ttl: "};
    for (int i = 0; i < 4; i++) {
        tu_herald(&r, dir, NULL, usage[i][0], usage[i][1], usage[i][2], usage[i][3], NULL);
        assert_int_equal(r.status, 2);
        assert_contains(r.err, said[i]);
        assert_string_equal(r.out, "");
        tu_run_release(&r);
    }
    /* the inbox has no address to suppress: consent rules it */
    tu_herald(&r, dir, NULL, "suppress", "add", "k1", "--channel", "inbox", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "the inbox has no address to suppress");
    tu_run_release(&r);
    assert_int_equal(tu_sql1(dir, e2e_db, "SELECT count(*) FROM suppressions"), 0);
    free(good);
    assert_int_equal(srv_stop(&s), 0);
}

static void test_inbox_cors(void **state)
{
    (void)state;
    struct srv s;
    char *out, *hdr;
    srv_start(&s);
    const char *pre = "-H 'Origin: https://app.example.com' "
                      "-H 'Access-Control-Request-Method: GET' "
                      "-H 'Access-Control-Request-Headers: authorization'";
    assert_int_equal(api(&s, "OPTIONS", "/api/v1/inbox", NULL, pre, &out, &hdr), 204);
    assert_contains(hdr, "Access-Control-Allow-Origin: https://app.example.com");
    assert_contains(hdr, "Access-Control-Allow-Headers: Authorization");
    assert_contains(hdr, "Access-Control-Allow-Methods: GET, HEAD, OPTIONS");
    free(out);
    free(hdr);
    assert_int_equal(api(&s, "OPTIONS", "/api/v1/inbox/5/read", NULL,
                         "-H 'Origin: http://localhost:3000'", &out, &hdr),
                     204);
    assert_contains(hdr, "Access-Control-Allow-Methods: POST, OPTIONS");
    free(out);
    free(hdr);
    static const char *const others[] = {"-H 'Origin: https://evil.example'",
                                         "-H 'Origin: https://app.example.com.evil.example'",
                                         "-H 'Origin: null'", ""};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(api(&s, "OPTIONS", "/api/v1/inbox", NULL, others[i], &out, &hdr), 403);
        assert_not_contains(hdr, "Access-Control-Allow-Origin");
        free(out);
        free(hdr);
    }
    /* the answers themselves name an allowed origin, and only that */
    char *tok = py_token("k1", NOW + 600, "var/herald.secret");
    assert_int_equal(
        api(&s, "GET", "/api/v1/inbox", tok, "-H 'Origin: https://app.example.com'", &out, &hdr),
        200);
    assert_contains(hdr, "Access-Control-Allow-Origin: https://app.example.com");
    free(out);
    free(hdr);
    assert_int_equal(
        api(&s, "GET", "/api/v1/inbox", tok, "-H 'Origin: https://evil.example'", &out, &hdr), 200);
    assert_not_contains(hdr, "Access-Control-Allow-Origin");
    free(out);
    free(hdr);
    free(tok);
    assert_int_equal(srv_stop(&s), 0);
}

static void test_inbox_expiry_and_delete(void **state)
{
    (void)state;
    struct srv s;
    char *out;
    /* two hours later the flash sale (1h) is gone, the notes (30d) stay */
    setenv("HERALD_NOW", "2026-11-22T14:00:00Z", 1);
    srv_start(&s);
    char *tok = py_token("k1", NOW + 7200 + 600, "var/herald.secret");
    assert_int_equal(api(&s, "GET", "/api/v1/inbox", tok, NULL, &out, NULL), 200);
    json_t *j = body_json(out), *msgs = json_object_get(j, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "unread")), 2);
    for (size_t i = 0; i < 2; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, i), "title")),
                            "Hello Ann");
    json_decref(j);
    free(out);
    /* a token the old clock made has expired at this one */
    char *old = py_token("k1", NOW + 600, "var/herald.secret");
    assert_int_equal(api(&s, "GET", "/api/v1/inbox", old, NULL, &out, NULL), 401);
    free(out);
    free(old);
    free(tok);

    /* a deleted contact's inbox is removed with it */
    char *tok2 = py_token("k2", NOW + 7200 + 600, "var/herald.secret");
    assert_int_equal(api(&s, "GET", "/api/v1/inbox", tok2, NULL, &out, NULL), 200);
    free(out);
    assert_int_equal(tu_sql1(dir, e2e_db,
                             "SELECT count(*) FROM inbox WHERE contact_id = (SELECT id FROM "
                             "contacts WHERE ext_id = 'k2')"),
                     3);
    TU_HERALD_OK(dir, "contacts", "delete", "k2");
    assert_int_equal(tu_sql1(dir, e2e_db, "SELECT count(*) FROM inbox"), 3); /* k1's */
    assert_int_equal(tu_sql1(dir, e2e_db,
                             "SELECT count(*) FROM inbox WHERE contact_id NOT IN (SELECT id FROM "
                             "contacts)"),
                     0);
    assert_int_equal(api(&s, "GET", "/api/v1/inbox", tok2, NULL, &out, NULL), 404);
    assert_contains(out, "\"status\":404");
    free(out);
    free(tok2);
    assert_int_equal(srv_stop(&s), 0);
    setenv("HERALD_NOW", "2026-11-22T12:00:00Z", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inbox_markdown),
        cmocka_unit_test(test_inbox_markdown_random),
        cmocka_unit_test(test_inbox_token),
        cmocka_unit_test(test_inbox_config),
        cmocka_unit_test_setup_teardown(test_inbox_sent, inbox_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_inbox_api, inbox_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_inbox_refused, inbox_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_inbox_cors, inbox_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_inbox_expiry_and_delete, inbox_setup, e2e_teardown),
        {"test_inbox_sent_pg", test_inbox_sent, inbox_setup_pg, e2e_teardown, NULL},
        {"test_inbox_api_pg", test_inbox_api, inbox_setup_pg, e2e_teardown, NULL},
        {"test_inbox_refused_pg", test_inbox_refused, inbox_setup_pg, e2e_teardown, NULL},
        {"test_inbox_cors_pg", test_inbox_cors, inbox_setup_pg, e2e_teardown, NULL},
        {"test_inbox_expiry_and_delete_pg", test_inbox_expiry_and_delete, inbox_setup_pg,
         e2e_teardown, NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
