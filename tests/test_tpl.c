/* test_tpl: template files (header, parts, variants, locale files and their
 * fallback, localized partials and layouts), escaping per part, strict
 * errors with file, line and column, JSON parts, the data model, SMS
 * encoding and segments, HTML to text, lint, and the shipped templates. */
#include "testutil.h"

#include <jansson.h>

#include "herald/dispatch.h"
#include "herald/html.h"
#include "herald/markdown.h"
#include "herald/sms.h"
#include "herald/tpl.h"
#include "herald/valid.h"

struct fx {
    char *dir;
    struct hd_tpl_set *set;
    struct hd_fmt *fmt;
};

static void put(struct fx *fx, const char *name, const char *text)
{
    char *p = tu_path(fx->dir, name);
    tu_write(p, text);
    free(p);
}

static int setup(void **state)
{
    struct fx *fx = hd_xcalloc(1, sizeof *fx);
    fx->dir = tu_tmpdir();
    char *pd = tu_path(fx->dir, "partials");
    assert_int_equal(mkdir(pd, 0755), 0);
    free(pd);
    put(fx, "greet.tmpl",
        "description: a test\n"
        "category: marketing\n"
        "from: Acme <hello@example.com>\n"
        "\n"
        "# a comment\n"
        "--- email.subject\n"
        "Hi {{first_name}} & welcome\n"
        "--- email.subject @b\n"
        "B: {{first_name}}\n"
        "--- email.html\n"
        "{{<layout}}{{$body}}<p>{{first_name}} & {{{raw}}}</p>{{/body}}{{/layout}}\n"
        "--- sms\n"
        "Tom & {{first_name}}: {{ n | number }} Reply STOP\n"
        "--- push.title\n"
        "Hello\n"
        "--- push.body\n"
        "Hi {{first_name}}\n"
        "--- push.data\n"
        "{\"link\": \"app://x/{{ id | default 'none' }}\", \"n\": \"{{n}}\"}\n"
        "--- inbox.body\n"
        "**Hi** {{first_name}}: {{note}} {{{md}}}\n");
    put(fx, "greet.zh.tmpl", "--- sms\n【Acme】{{first_name}}，你好 回T退订\n");
    put(fx, "greet.zh-Hant.tmpl", "from: Acme TW <tw@example.com>\n--- sms\n繁體 {{first_name}}\n");
    put(fx, "partials/layout.mustache", "<html>{{$body}}default{{/body}}{{>foot}}</html>");
    put(fx, "partials/foot.mustache", "<i>footer</i>");
    put(fx, "partials/foot.zh.mustache", "<i>页脚</i>");
    assert_int_equal(hd_tpl_set_open(fx->dir, &fx->set, NULL), 0);
    fx->fmt = hd_fmt_new();
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    hd_tpl_set_free(fx->set);
    hd_fmt_free(fx->fmt);
    tu_rmdir(fx->dir);
    free(fx);
    return 0;
}

static char *render(struct fx *fx, int part, const char *locale, const char *variant,
                    const char *data, int *rc, struct hd_err *e)
{
    const struct hd_tpl *t;
    assert_int_equal(hd_tpl_get(fx->set, "greet", &t, e), 0);
    json_t *d = json_loads(data, 0, NULL);
    struct hd_tpl_req req = {
        .locale = locale, .variant = variant, .timezone = "UTC", .data = d, .fmt = fx->fmt};
    struct hd_buf out;
    hd_buf_init(&out);
    *rc = hd_tpl_render(t, part, &req, &out, e);
    json_decref(d);
    return hd_buf_detach(&out, NULL);
}

static void test_tpl_parts_locales_variants(void **state)
{
    struct fx *fx = *state;
    struct hd_err e = {0};
    int rc;
    static const struct {
        int part;
        const char *locale, *variant, *want;
    } cases[] = {
        {HD_PART_EMAIL_SUBJECT, NULL, NULL, "Hi Ann & welcome"}, /* not escaped */
        {HD_PART_EMAIL_SUBJECT, "en", "b", "B: Ann"},
        {HD_PART_EMAIL_SUBJECT, "en", "c", "Hi Ann & welcome"}, /* unknown variant: default */
        {HD_PART_SMS, "en-US", NULL, "Tom & Ann: 1,234.5 Reply STOP"},
        {HD_PART_SMS, "zh-CN", NULL, "【Acme】Ann，你好 回T退订"}, /* zh-CN -> zh */
        {HD_PART_SMS, "zh-Hant-TW", NULL, "繁體 Ann"},             /* -> zh-Hant */
        {HD_PART_SMS, "zh-Hant-TW", "b", "繁體 Ann"}, /* the locale wins over the variant */
        {HD_PART_EMAIL_SUBJECT, "zh-Hant-TW", NULL, "Hi Ann & welcome"}, /* -> base */
        {HD_PART_EMAIL_HTML, "en", NULL, "<html><p>Ann & <b></p><i>footer</i></html>"},
        {HD_PART_EMAIL_HTML, "zh-CN", NULL, "<html><p>Ann & <b></p><i>页脚</i></html>"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = render(fx, cases[i].part, cases[i].locale, cases[i].variant,
                           "{\"first_name\":\"Ann\",\"raw\":\"<b>\",\"n\":1234.5}", &rc, &e);
        if (rc != 0 || strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: got [%s] (%s), want [%s]", i, got, rc ? e.msg : "ok",
                     cases[i].want);
        free(got);
    }
    /* data is HTML-escaped in the HTML part only */
    char *html = render(fx, HD_PART_EMAIL_HTML, "en", NULL,
                        "{\"first_name\":\"Tom & Jerry\",\"raw\":\"\"}", &rc, &e);
    assert_string_equal(html, "<html><p>Tom &amp; Jerry & </p><i>footer</i></html>");
    free(html);
    html = render(fx, HD_PART_PUSH_BODY, "en", NULL, "{\"first_name\":\"Tom & Jerry\"}", &rc, &e);
    assert_string_equal(html, "Hi Tom & Jerry");
    free(html);
    const struct hd_tpl *t;
    assert_int_equal(hd_tpl_get(fx->set, "greet", &t, &e), 0);
    assert_string_equal(hd_tpl_header(t, "from", "zh-Hant-TW"), "Acme TW <tw@example.com>");
    assert_string_equal(hd_tpl_header(t, "from", "zh-CN"), "Acme <hello@example.com>");
    assert_false(hd_tpl_has_part(t, HD_PART_EMAIL_TEXT, "en", NULL));
    struct hd_tpl_info info;
    hd_tpl_get_info(t, &info);
    assert_int_equal(info.category, HD_CAT_MARKETING);
    assert_int_equal(info.channels,
                     1u << HD_CH_EMAIL | 1u << HD_CH_SMS | 1u << HD_CH_PUSH | 1u << HD_CH_INBOX);
    assert_int_equal(info.nlocales, 2);
    assert_int_equal(info.nvariants, 1);
    assert_string_equal(info.variants[0], "b");

    /* strict: the position is the tag's, in the file */
    char *got = render(fx, HD_PART_SMS, "en", NULL, "{\"n\":1}", &rc, &e);
    assert_int_equal(rc, HD_E_INVALID);
    assert_string_equal(e.msg, "greet.tmpl:13:7: missing variable 'first_name' (sms)");
    free(got);
    got = render(fx, HD_PART_EMAIL_TEXT, "en", NULL, "{}", &rc, &e);
    assert_int_equal(rc, HD_E_NOTFOUND);
    free(got);
}

static void test_tpl_json_part(void **state)
{
    struct fx *fx = *state;
    const struct hd_tpl *t;
    struct hd_err e = {0};
    assert_int_equal(hd_tpl_get(fx->set, "greet", &t, &e), 0);
    json_t *d = json_loads("{\"id\":\"c1\",\"n\":\"x&y\"}", 0, NULL), *o = NULL;
    struct hd_tpl_req req = {.data = d, .fmt = fx->fmt};
    assert_int_equal(hd_tpl_render_json(t, HD_PART_PUSH_DATA, &req, &o, &e), 0);
    char *s = json_dumps(o, JSON_COMPACT);
    assert_string_equal(s, "{\"link\":\"app://x/c1\",\"n\":\"x&y\"}");
    free(s);
    json_decref(o);
    json_decref(d);
    size_t fcm, apns;
    json_t *data = json_pack("{s:s}", "k", "v");
    hd_tpl_push_sizes("T", "B", data, &fcm, &apns);
    assert_int_equal(fcm,
                     strlen("{\"notification\":{\"title\":\"T\",\"body\":\"B\"},\"data\":{\"k\":"
                            "\"v\"}}"));
    assert_int_equal(apns,
                     strlen("{\"aps\":{\"alert\":{\"title\":\"T\",\"body\":\"B\"}},\"k\":\"v\"}"));
    json_decref(data);
}

/* Each broken file is refused with file, line and reason. */
static void test_tpl_file_errors(void **state)
{
    struct fx *fx = *state;
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"category: marketing\ncolour: red\n--- sms\nx\n",
         "bad.tmpl:2: unknown header key 'colour' (known: description, category, from, "
         "reply_to, urgent)"},
        {"description: x\n--- sms\nx\n", "bad.tmpl:1: the header has no 'category: marketing'"},
        {"category: promo\n--- sms\nx\n", "bad.tmpl:1: category must be marketing or "
                                          "transactional"},
        {"category: marketing\n--- fax\nx\n", "bad.tmpl:2: unknown part 'fax' (known:"},
        {"category: marketing\n--- sms\nx\n--- sms\ny\n",
         "bad.tmpl:4: part 'sms' appears twice (first on line 2)"},
        {"category: marketing\n--- sms @B\nx\n", "bad.tmpl:2: variant 'B' may use only"},
        {"category: marketing\n--- sms @\nx\n", "bad.tmpl:2: a variant name is missing"},
        {"category: marketing\n--- sms\nline one\nHi {{#a}} x\n",
         "bad.tmpl:4:4: unclosed section: '{{#a}}' has no '{{/a}}'"},
        {"category: marketing\n--- sms\nHi {{name | shout}}\n",
         "bad.tmpl:3:4: unknown filter 'shout'"},
        {"category: marketing\n--- push.data\n{\"a\": 1}\n",
         "bad.tmpl:3:1: push.data: the value of 'a' must be a string"},
        {"category: marketing\n--- push.data\n{\"a\": \"x\",\n \"b\" }\n",
         "bad.tmpl:4:6: push.data: not valid JSON"},
        {"category: marketing\nno colon here\n", "bad.tmpl:2: expected 'key: value'"},
        {"category: marketing\n--- sms\nbad \xff byte\n", "bad.tmpl:3: the file is not valid "
                                                          "UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hd_tpl_set *set;
        const struct hd_tpl *t;
        struct hd_err e = {0};
        put(fx, "bad.tmpl", cases[i].text);
        assert_int_equal(hd_tpl_set_open(fx->dir, &set, NULL), 0);
        int rc = hd_tpl_get(set, "bad", &t, &e);
        if (rc >= 0 || strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
            fail_msg("case %zu: rc %d, got \"%s\", want \"%s...\"", i, rc, e.msg, cases[i].msg);
        hd_tpl_set_free(set);
    }
    char *p = tu_path(fx->dir, "bad.tmpl");
    remove(p);
    free(p);
    struct hd_err e = {0};
    const struct hd_tpl *t;
    assert_int_equal(hd_tpl_get(fx->set, "nope", &t, &e), HD_E_NOTFOUND);
    assert_contains(e.msg, "no template 'nope'");
    assert_int_equal(hd_tpl_get(fx->set, "../etc", &t, &e), HD_E_NOTFOUND);
    assert_contains(e.msg, "is not a template name");
    put(fx, "loc.tmpl", "category: marketing\n--- sms\nx\n");
    put(fx, "loc.zh_CN.tmpl", "--- sms\ny\n");
    assert_int_equal(hd_tpl_get(fx->set, "loc", &t, &e), HD_E_PARSE);
    assert_contains(e.msg, "loc.zh_CN.tmpl: 'zh_CN' in the file name is not a BCP 47 locale");
}

struct issues {
    struct hd_buf text;
    int errors;
};

static void collect(void *ud, const struct hd_tpl_issue *is)
{
    struct issues *s = ud;
    hd_buf_addf(&s->text, "%s%s%s%s\n", is->where, is->where[0] ? ": " : "",
                is->error ? "error: " : "note: ", is->msg);
    s->errors += is->error;
}

static void test_tpl_lint(void **state)
{
    struct fx *fx = *state;
    struct issues s = {0};
    hd_buf_init(&s.text);
    put(fx, "l.tmpl",
        "category: marketing\nfrom: not an address\n"
        "--- email.html\n<p>{{>nosuch}}</p>\n"
        "--- email.subject\nline\\{{x}}\n"
        "--- sms\nBuy now \xe2\x82\xac 5\n");
    assert_int_equal(hd_tpl_lint(fx->set, "l", collect, &s), 3);
    assert_contains(s.text.data, "l.tmpl:4:4: error: unknown partial 'nosuch'");
    /* issue 18: a marketing email without its unsubscribe link */
    assert_contains(s.text.data, "l.tmpl:3: error: email.html: a marketing email must carry");
    assert_contains(s.text.data, "l.tmpl: error: from: 'not an address' is not an address");
    assert_contains(s.text.data, "l.tmpl: note: email.html without email.text: the text part "
                                 "will be derived from the HTML");
    assert_contains(s.text.data, "l.tmpl:7: note: sms: GSM-7; the fixed text alone is 11 "
                                 "characters, 1 segment");
    assert_contains(s.text.data, "l.tmpl:7: note: sms: a marketing SMS should end with an opt-out");
    hd_buf_reset(&s.text);
    s.errors = 0;
    /* a display name mime.c would refuse: one byte over its limit */
    struct hd_buf n;
    hd_buf_init(&n);
    hd_buf_adds(&n, "category: transactional\nreply_to: \"");
    for (int i = 0; i <= HD_DISPLAY_NAME_MAX; i++)
        hd_buf_addc(&n, 'x');
    hd_buf_adds(&n, "\" <a@example.com>\n--- email.subject\nHi\n--- email.text\nHello\n");
    put(fx, "n.tmpl", n.data);
    assert_int_equal(hd_tpl_lint(fx->set, "n", collect, &s), 1);
    assert_contains(s.text.data,
                    "n.tmpl: error: reply_to: the display name is longer than 255 bytes");
    hd_buf_release(&n);
    hd_buf_reset(&s.text);
    s.errors = 0;
    /* clean but for its HTML's missing unsubscribe link (issue 18) */
    assert_int_equal(hd_tpl_lint(fx->set, "greet", collect, &s), 1);
    assert_contains(s.text.data, "greet.tmpl:10: error: email.html: a marketing email must carry");
    s.errors = 0;
    assert_int_equal(hd_tpl_lint_partials(fx->set, collect, &s), 0);
    struct hd_buf big;
    hd_buf_init(&big);
    hd_buf_adds(&big, "category: transactional\n--- push.title\nT\n--- push.body\n");
    for (int i = 0; i < 5000; i++)
        hd_buf_addc(&big, 'x');
    hd_buf_adds(&big, "\n");
    put(fx, "big.tmpl", big.data);
    hd_buf_release(&big);
    assert_int_equal(hd_tpl_lint(fx->set, "big", collect, &s), 1);
    assert_contains(s.text.data,
                    "big: error: push payload is 5040 bytes (FCM) / 5041 (APNs) before any data");
    put(fx, "partials/broken.mustache", "{{#x}}");
    assert_int_equal(hd_tpl_lint_partials(fx->set, collect, &s), 1);
    assert_contains(s.text.data, "partials/broken.mustache:1:1: unclosed section");
    hd_buf_release(&s.text);
}

/* Issue 15 item 5: a data-only (silent) push is a push: it lints and
 * renders without a title or body. */
static void test_tpl_push_data_only(void **state)
{
    struct fx *fx = *state;
    struct issues s = {0};
    struct hd_err e = {0};
    const struct hd_tpl *t;
    hd_buf_init(&s.text);
    put(fx, "silent.tmpl", "category: transactional\n--- push.data\n{\"sync\": \"{{box}}\"}\n");
    int errors = hd_tpl_lint(fx->set, "silent", collect, &s);
    assert_not_contains(s.text.data ? s.text.data : "", "push parts without");
    assert_int_equal(errors, 0);
    assert_int_equal(hd_tpl_get(fx->set, "silent", &t, &e), 0);
    json_t *d = json_pack("{s:s}", "box", "inbox");
    struct hd_tpl_req req = {.timezone = "UTC", .data = d, .fmt = fx->fmt};
    struct hd_rendered r;
    if (hd_render(t, HD_CH_PUSH, &req, &r, &e) != 0)
        fail_msg("render: %s", e.msg);
    assert_null(r.part[HD_PART_PUSH_TITLE]);
    assert_null(r.part[HD_PART_PUSH_BODY]);
    assert_string_equal(r.part[HD_PART_PUSH_DATA], "{\"sync\":\"inbox\"}");
    hd_rendered_release(&r);
    json_decref(d);
    hd_buf_release(&s.text);
}

/* Issue 15 item 6: FCM's reserved data keys (and the keys of push.fcm that
 * herald sets) are refused when the template loads, so lint, campaign
 * create and every render refuse them. */
static void test_tpl_fcm_reserved(void **state)
{
    struct fx *fx = *state;
    struct issues s = {0};
    struct hd_err e = {0};
    const struct hd_tpl *t;
    hd_buf_init(&s.text);
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"{\"from\": \"x\"}", "r0.tmpl:3:1: push.data: the key 'from' is reserved by FCM"},
        {"{\"message_type\": \"x\"}", "push.data: the key 'message_type' is reserved by FCM"},
        {"{\"ok\": \"1\", \"google.c\": \"x\"}",
         "push.data: the key 'google.c' is reserved by FCM"},
        {"{\"gcm.n.e\": \"x\"}", "push.data: the key 'gcm.n.e' is reserved by FCM"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256], name[16], file[32];
        snprintf(text, sizeof text, "category: transactional\n--- push.data\n%s\n", bad[i].text);
        snprintf(name, sizeof name, "r%zu", i);
        snprintf(file, sizeof file, "r%zu.tmpl", i);
        put(fx, file, text);
        assert_int_equal(hd_tpl_get(fx->set, name, &t, &e), HD_E_PARSE);
        assert_contains(e.msg, bad[i].msg);
        hd_buf_reset(&s.text);
        assert_int_equal(hd_tpl_lint(fx->set, name, collect, &s), 1);
        assert_contains(s.text.data, bad[i].msg);
    }
    put(fx, "f.tmpl",
        "category: transactional\n--- push.title\nT\n"
        "--- push.fcm\n{\"data\": {\"a\": \"b\"}}\n");
    assert_int_equal(hd_tpl_get(fx->set, "f", &t, &e), HD_E_PARSE);
    assert_contains(e.msg, "push.fcm: 'data' is for herald to set (write push.data)");
    hd_buf_release(&s.text);
}

/* Issue 15 item 8: an empty sms part is a lint error, and an SMS that
 * renders empty is refused. */
static void test_tpl_sms_empty(void **state)
{
    struct fx *fx = *state;
    struct issues s = {0};
    struct hd_err e = {0};
    const struct hd_tpl *t;
    hd_buf_init(&s.text);
    put(fx, "e.tmpl", "category: transactional\n--- sms\n\n--- push.title\nT\n");
    int errors = hd_tpl_lint(fx->set, "e", collect, &s);
    assert_contains(s.text.data, "e.tmpl:2: error: sms: the part is empty");
    assert_int_equal(errors, 1);
    put(fx, "v.tmpl", "category: transactional\n--- sms\n{{text}}\n");
    assert_int_equal(hd_tpl_get(fx->set, "v", &t, &e), 0);
    json_t *d = json_pack("{s:s}", "text", " \n");
    struct hd_tpl_req req = {.timezone = "UTC", .data = d, .fmt = fx->fmt};
    struct hd_rendered r;
    assert_int_equal(hd_render(t, HD_CH_SMS, &req, &r, &e), HD_E_INVALID);
    assert_string_equal(e.msg, "template 'v': the sms part is empty once rendered");
    json_decref(d);
    hd_buf_release(&s.text);
}

/* Issue 15 item 11: a multi-part UCS-2 text holds 67 characters a part. */
static void test_tpl_ucs2_parts(void **state)
{
    struct fx *fx = *state;
    struct issues s = {0};
    hd_buf_init(&s.text);
    struct hd_buf u;
    hd_buf_init(&u);
    hd_buf_adds(&u, "category: transactional\n--- sms\n");
    for (int i = 0; i < 71; i++)
        hd_buf_adds(&u, "\xe4\xbd\xa0");
    hd_buf_adds(&u, "\n--- sms @b\n\xe4\xbd\xa0\n");
    put(fx, "u.tmpl", u.data);
    hd_buf_release(&u);
    assert_int_equal(hd_tpl_lint(fx->set, "u", collect, &s), 0);
    assert_contains(s.text.data, "u.tmpl:2: note: sms: UCS-2 (67 characters a part) because of "
                                 "'\xe4\xbd\xa0'; the fixed text alone is 71 characters, 2 "
                                 "segments");
    assert_contains(s.text.data, "u.tmpl:4: note: sms @b: UCS-2 (70 characters a segment)");
    hd_buf_release(&s.text);
}

/* The templates herald ships lint without errors and render for real data. */
static void test_tpl_shipped(void **state)
{
    (void)state;
    const char *src = getenv("HERALD_SRC");
    if (!src)
        skip();
    char *dir = tu_path(src, "templates");
    struct hd_tpl_set *set;
    struct issues s = {0};
    hd_buf_init(&s.text);
    assert_int_equal(hd_tpl_set_open(dir, &set, NULL), 0);
    static const char *const names[] = {"recall", "promotion", "renewal"};
    for (size_t i = 0; i < 3; i++)
        hd_tpl_lint(set, names[i], collect, &s);
    hd_tpl_lint_partials(set, collect, &s);
    if (s.errors)
        fail_msg("shipped templates: %s", s.text.data);
    struct hd_fmt *fmt = hd_fmt_new();
    json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s},s:s}", "first_name", "王芳",
                          "brand", "Acme", "shop_url", "https://shop.example.com", "support_email",
                          "s@example.com", "unsubscribe_url", "https://u.example.com/x",
                          "last_active", "2026-10-01", "membership_expires", "2026-12-15", "plan",
                          "gold", "campaign", "name", "recall", "locale", "zh-CN");
    const struct hd_tpl *t;
    struct hd_tpl_req req = {
        .locale = "zh-CN", .timezone = "Asia/Shanghai", .now = 1795305600, .data = d, .fmt = fmt};
    struct hd_buf out;
    struct hd_err e = {0};
    hd_buf_init(&out);
    assert_int_equal(hd_tpl_get(set, "recall", &t, &e), 0);
    assert_int_equal(hd_tpl_render(t, HD_PART_EMAIL_TEXT, &req, &out, &e), 0);
    assert_contains(out.data, "自 2026年10月1日 以来");
    hd_buf_reset(&out);
    assert_int_equal(hd_tpl_render(t, HD_PART_SMS, &req, &out, &e), 0);
    assert_contains(out.data, "回T退订");
    hd_buf_reset(&out);
    assert_int_equal(hd_tpl_get(set, "renewal", &t, &e), 0);
    assert_int_equal(hd_tpl_render(t, HD_PART_EMAIL_SUBJECT, &req, &out, &e), 0);
    assert_string_equal(out.data, "您的gold会员将于 2026年12月15日 到期");
    hd_buf_reset(&out);
    req.locale = "en";
    assert_int_equal(hd_tpl_render(t, HD_PART_EMAIL_TEXT, &req, &out, &e), 0);
    assert_contains(out.data, "ends on December 15, 2026, in\n23 days");
    hd_buf_release(&out);
    hd_buf_release(&s.text);
    json_decref(d);
    hd_fmt_free(fmt);
    hd_tpl_set_free(set);
    free(dir);
}

static void test_tpl_data(void **state)
{
    (void)state;
    struct hd_config *cfg;
    assert_int_equal(
        hd_config_parse("[template_vars]\nbrand = Acme\nplan = none\n", "c", &cfg, NULL), 0);
    char id[] = "c1", email[] = "a@example.com", locale[] = "fr",
         attrs[] = "{\"plan\":\"gold\",\"first_name\":\"Ann\"}";
    struct hd_contact c = {.ext_id = id, .email = email, .locale = locale, .attrs = attrs};
    json_t *camp = json_pack("{s:s}", "name", "winback");
    json_t *d = hd_tpl_data(&c, cfg, camp, "m-1", "https://u.example.com/1");
    char *s = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        s, "{\"brand\":\"Acme\",\"campaign\":{\"name\":\"winback\"},\"contact\":{\"created_at\":"
           "\"1970-01-01T00:00:00Z\",\"email\":\"a@example.com\",\"first_name\":\"Ann\",\"id\":"
           "\"c1\",\"locale\":\"fr\",\"plan\":\"gold\"},\"created_at\":\"1970-01-01T00:00:00Z\","
           "\"email\":\"a@example.com\",\"first_name\":\"Ann\",\"id\":\"c1\",\"locale\":\"fr\","
           "\"message\":{\"id\":\"m-1\"},\"plan\":\"gold\",\"unsubscribe_url\":"
           "\"https://u.example.com/1\"}");
    free(s);
    json_decref(d);
    json_decref(camp);
    hd_config_free(cfg);
}

/* A render's locale and zone: the contact's, else the configuration's. */
static void test_tpl_req_init(void **state)
{
    (void)state;
    struct hd_config *cfg;
    assert_int_equal(
        hd_config_parse("[herald]\nlocale = de\ntimezone = Europe/Berlin\n", "c", &cfg, NULL), 0);
    char locale[] = "fr", zone[] = "Asia/Tokyo";
    struct hd_contact both = {.locale = locale, .timezone = zone}, none = {0};
    struct hd_fmt *fmt = hd_fmt_new();
    json_t *data = json_object();
    struct hd_tpl_req req = {.variant = "b", .lenient = true};
    hd_tpl_req_init(&req, &both, cfg, 42, data, fmt);
    assert_string_equal(req.locale, "fr");
    assert_string_equal(req.timezone, "Asia/Tokyo");
    assert_true(req.now == 42 && req.data == data && req.fmt == fmt);
    assert_true(req.variant == NULL && req.below == NULL && req.nbelow == 0 && !req.lenient);
    hd_tpl_req_init(&req, &none, cfg, 0, data, fmt);
    assert_string_equal(req.locale, "de");
    assert_string_equal(req.timezone, "Europe/Berlin");
    hd_tpl_req_init(&req, NULL, cfg, 0, data, fmt);
    assert_string_equal(req.locale, "de");
    json_decref(data);
    hd_fmt_free(fmt);
    hd_config_free(cfg);
}

static void test_tpl_sms_segments(void **state)
{
    (void)state;
    struct hd_buf b;
    hd_buf_init(&b);
    static const struct {
        const char *unit;
        size_t count;
        enum hd_sms_encoding enc;
        size_t chars, units, segments;
    } cases[] = {
        {"a", 0, HD_SMS_GSM7, 0, 0, 0},
        {"a", 160, HD_SMS_GSM7, 160, 160, 1},
        {"a", 161, HD_SMS_GSM7, 161, 161, 2},
        {"a", 306, HD_SMS_GSM7, 306, 306, 2},
        {"a", 307, HD_SMS_GSM7, 307, 307, 3},
        {"\xe2\x82\xac", 80, HD_SMS_GSM7, 80, 160, 1}, /* € counts twice */
        {"\xe2\x82\xac", 81, HD_SMS_GSM7, 81, 162, 2},
        {"{", 80, HD_SMS_GSM7, 80, 160, 1},
        {"{", 81, HD_SMS_GSM7, 81, 162, 2},
        {"\xc3\xa9", 160, HD_SMS_GSM7, 160, 160, 1}, /* é is in the alphabet */
        {"\xc3\xa1", 1, HD_SMS_UCS2, 1, 1, 1},       /* á is not */
        {"\xe4\xbd\xa0", 70, HD_SMS_UCS2, 70, 70, 1},
        {"\xe4\xbd\xa0", 71, HD_SMS_UCS2, 71, 71, 2},
        {"\xe4\xbd\xa0", 134, HD_SMS_UCS2, 134, 134, 2},
        {"\xe4\xbd\xa0", 135, HD_SMS_UCS2, 135, 135, 3},
        {"\xf0\x9f\x98\x80", 35, HD_SMS_UCS2, 35, 70, 1}, /* an emoji is two units */
        {"\xf0\x9f\x98\x80", 36, HD_SMS_UCS2, 36, 72, 2},
        {"`", 1, HD_SMS_UCS2, 1, 1, 1}, /* no backtick in GSM 03.38 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hd_sms_info si;
        hd_buf_reset(&b);
        for (size_t k = 0; k < cases[i].count; k++)
            hd_buf_adds(&b, cases[i].unit);
        hd_sms_analyze(b.data, b.len, &si);
        if (si.encoding != cases[i].enc || si.chars != cases[i].chars ||
            si.units != cases[i].units || si.segments != cases[i].segments)
            fail_msg("case %zu: %s x%zu: %s %zu chars %zu units %zu segments", i, cases[i].unit,
                     cases[i].count, hd_sms_encoding_name(si.encoding), si.chars, si.units,
                     si.segments);
    }
    /* 152 septets, then an escape pair that does not fit in the first part's
     * 153: it moves, and 152 more fill a second part and spill into a third
     * (plain division would say 306 / 153 = 2) */
    hd_buf_reset(&b);
    for (int k = 0; k < 152; k++)
        hd_buf_addc(&b, 'a');
    hd_buf_addc(&b, '{');
    for (int k = 0; k < 152; k++)
        hd_buf_addc(&b, 'a');
    struct hd_sms_info g;
    hd_sms_analyze(b.data, b.len, &g);
    assert_int_equal(g.units, 306);
    assert_int_equal(g.segments, 3);
    /* 66 Chinese characters then an emoji: the pair does not fit in unit 67-68 */
    hd_buf_reset(&b);
    for (int k = 0; k < 66; k++)
        hd_buf_adds(&b, "\xe4\xbd\xa0");
    hd_buf_adds(&b, "\xf0\x9f\x98\x80");
    for (int k = 0; k < 10; k++)
        hd_buf_adds(&b, "\xe4\xbd\xa0");
    struct hd_sms_info si;
    hd_sms_analyze(b.data, b.len, &si);
    assert_int_equal(si.units, 78);
    assert_int_equal(si.segments, 2);
    hd_buf_release(&b);
}

static void test_tpl_html_to_text(void **state)
{
    (void)state;
    static const struct {
        const char *html, *text;
    } cases[] = {
        {"<p>Hello <b>Ann</b>,</p><p>Second   line</p>", "Hello Ann,\n\nSecond line\n"},
        {"<html><head><title>T</title><style>p{}</style></head><body>Hi</body></html>", "Hi\n"},
        {"Shop <a href=\"https://x.example.com/?a=1&amp;b=2\">here</a>.",
         "Shop here (https://x.example.com/?a=1&b=2).\n"},
        {"<a href=\"https://x.example.com\">https://x.example.com</a>", "https://x.example.com\n"},
        {"<a href=\"mailto:s@example.com\">s@example.com</a>", "s@example.com\n"},
        {"A&nbsp;B &amp; C &lt;3 &#20320;&#x597D; &middot; end", "A B & C <3 你好 · end\n"},
        {"<ul><li>one</li><li>two</li></ul>", "- one\n- two\n"},
        {"a<br>b<br/>c", "a\nb\nc\n"},
        {"<!-- hidden -->shown", "shown\n"},
        {"unclosed <b", "unclosed\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hd_buf out;
        hd_buf_init(&out);
        hd_html_to_text(cases[i].html, strlen(cases[i].html), &out);
        if (strcmp(out.data, cases[i].text) != 0)
            fail_msg("case %zu: got [%s], want [%s]", i, out.data, cases[i].text);
        hd_buf_release(&out);
    }
}

/* A variable in an inbox body is text: its Markdown marks are escaped and
 * its line ends are spaces, so a value cannot make a link (a contact named
 * "[Verify](https://evil.example)" made one); {{{ }}} puts Markdown in. */
static void test_tpl_inbox_body_escapes(void **state)
{
    struct fx *fx = *state;
    struct hd_err e = {0};
    int rc;
    char *got = render(fx, HD_PART_INBOX_BODY, NULL, NULL,
                       "{\"first_name\": \"Jean-Luc\", \"note\": \"[Verify](https://evil.example) "
                       "*now*\\n- item \\\\ #1 `x`\", \"md\": \"*ok*\"}",
                       &rc, &e);
    assert_int_equal(rc, 0);
    assert_string_equal(got, "**Hi** Jean\\-Luc: \\[Verify\\]\\(https://evil.example\\) \\*now\\*"
                             " \\- item \\\\ \\#1 \\`x\\` *ok*");
    struct hd_buf html;
    hd_buf_init(&html);
    hd_md_render(got, strlen(got), &html);
    hd_buf_addc(&html, '\0');
    assert_string_equal(html.data,
                        "<p><strong>Hi</strong> Jean-Luc: [Verify](https://evil.example) "
                        "*now* - item \\ #1 `x` <em>ok</em></p>\n");
    hd_buf_release(&html);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tpl_inbox_body_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tpl_parts_locales_variants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tpl_json_part, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tpl_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tpl_lint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tpl_push_data_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tpl_fcm_reserved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tpl_sms_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tpl_ucs2_parts, setup, teardown),
        cmocka_unit_test(test_tpl_shipped),
        cmocka_unit_test(test_tpl_data),
        cmocka_unit_test(test_tpl_req_init),
        cmocka_unit_test(test_tpl_sms_segments),
        cmocka_unit_test(test_tpl_html_to_text),
    };
    return cmocka_run_group_tests_name("tpl", tests, NULL, NULL);
}
