/* test_mustache: the official Mustache spec (v1.4.2, tests/spec/mustache/,
 * MIT licence there): every case of the six core files and the optional
 * inheritance and dynamic-names modules, read with jansson and rendered in
 * the spec's lenient mode with HTML escaping. Prints per-file and total
 * counts; fails if any case fails. */
#include "testutil.h"

#include <jansson.h>

#include "herald/mustache.h"

static const char *const files[] = {"comments", "delimiters", "interpolation", "inverted",
                                    "partials", "sections",   "~inheritance",  "~dynamic-names"};

struct partials {
    json_t *src; /* name -> template text */
    struct hd_mst **compiled;
    char **names;
    size_t n;
};

static int find_partial(void *ud, const char *name, const struct hd_mst **out, struct hd_err *err)
{
    struct partials *p = ud;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0) {
            *out = p->compiled[i];
            return 0;
        }
    json_t *s = p->src ? json_object_get(p->src, name) : NULL;
    if (!s)
        return HD_E_NOTFOUND;
    struct hd_mst *t;
    struct hd_mst_opts o = {.file = name};
    int rc = hd_mst_compile(json_string_value(s), json_string_length(s), &o, &t, err);
    if (rc < 0)
        return rc;
    p->compiled = hd_xrealloc(p->compiled, (p->n + 1) * sizeof *p->compiled);
    p->names = hd_xrealloc(p->names, (p->n + 1) * sizeof *p->names);
    p->compiled[p->n] = t;
    p->names[p->n++] = hd_xstrdup(name);
    *out = t;
    return 0;
}

static void partials_release(struct partials *p)
{
    for (size_t i = 0; i < p->n; i++) {
        hd_mst_free(p->compiled[i]);
        free(p->names[i]);
    }
    free(p->compiled);
    free(p->names);
}

static void test_mustache_spec(void **state)
{
    (void)state;
    const char *src = getenv("HERALD_SRC");
    int total_pass = 0, total_fail = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/tests/spec/mustache/%s.json", src ? src : ".", files[f]);
        json_error_t je;
        json_t *doc = json_load_file(path, 0, &je);
        if (!doc)
            fail_msg("cannot read %s: %s", path, je.text);
        json_t *tests = json_object_get(doc, "tests");
        size_t i;
        json_t *t;
        int pass = 0, failed = 0;
        json_array_foreach(tests, i, t)
        {
            const char *name = json_string_value(json_object_get(t, "name"));
            json_t *tpl = json_object_get(t, "template");
            const char *expected = json_string_value(json_object_get(t, "expected"));
            struct partials p = {.src = json_object_get(t, "partials")};
            struct hd_mst_env env = {
                .escape_html = true, .partial = find_partial, .partial_ud = &p};
            struct hd_mst *m = NULL;
            struct hd_err e = {0};
            struct hd_buf out;
            hd_buf_init(&out);
            int rc = hd_mst_compile(json_string_value(tpl), json_string_length(tpl), NULL, &m, &e);
            if (rc == 0)
                rc = hd_mst_render(m, json_object_get(t, "data"), &env, &out, &e);
            if (rc == 0 && strcmp(out.data, expected) == 0) {
                pass++;
            } else {
                failed++;
                print_error("FAIL %s: %s\n  template: %s\n  expected: [%s]\n  got:      [%s] %s\n",
                            files[f], name, json_string_value(tpl), expected, out.data,
                            rc ? e.msg : "");
            }
            hd_buf_release(&out);
            hd_mst_free(m);
            partials_release(&p);
        }
        print_message("mustache spec %-15s %3d passed, %d failed\n", files[f], pass, failed);
        total_pass += pass;
        total_fail += failed;
        json_decref(doc);
    }
    print_message("mustache spec: %d passed, %d failed\n", total_pass, total_fail);
    assert_int_equal(total_fail, 0);
    assert_true(total_pass > 150);
}

/* Renders src with data (JSON text) and the given env tweaks. */
static char *render(const char *src, const char *data, const struct hd_mst_env *base, int *rc,
                    struct hd_err *e)
{
    struct hd_mst *m = NULL;
    struct hd_buf out;
    struct hd_mst_env env = *base;
    struct hd_fmt *fmt = hd_fmt_new();
    json_t *d = json_loads(data, 0, NULL);
    assert_non_null(d);
    env.fmt = fmt;
    hd_buf_init(&out);
    struct hd_mst_opts o = {.file = "t.tmpl", .line = 10};
    *rc = hd_mst_compile(src, strlen(src), &o, &m, e);
    if (*rc == 0)
        *rc = hd_mst_render(m, d, &env, &out, e);
    hd_mst_free(m);
    hd_fmt_free(fmt);
    json_decref(d);
    return hd_buf_detach(&out, NULL);
}

static void test_mustache_filters(void **state)
{
    (void)state;
    static const struct {
        const char *src, *data, *locale, *tz, *want;
    } cases[] = {
        {"Hi {{ name | default \"friend\" }}!", "{}", "en", NULL, "Hi friend!"},
        {"Hi {{ name | default \"friend\" }}!", "{\"name\":\"\"}", "en", NULL, "Hi friend!"},
        {"Hi {{ name | default \"friend\" }}!", "{\"name\":\"Ann\"}", "en", NULL, "Hi Ann!"},
        {"{{ name | upper }}", "{\"name\":\"straße\"}", "de", NULL, "STRASSE"},
        {"{{ name | lower }}", "{\"name\":\"ÇA VA\"}", "fr", NULL, "ça va"},
        {"{{ name | default \"x\" | upper }}", "{}", "en", NULL, "X"},
        {"{{ s | truncate 5 }}", "{\"s\":\"abcdefgh\"}", "en", NULL, "abcd…"},
        {"{{ s | truncate 5 }}", "{\"s\":\"abcde\"}", "en", NULL, "abcde"},
        {"{{ s | truncate 3 }}", "{\"s\":\"你好世界\"}", "zh-CN", NULL, "你好…"},
        {"{{ n | number }}", "{\"n\":1234567.891}", "en", NULL, "1,234,567.891"},
        {"{{ n | number 1 }}", "{\"n\":1234.56}", "de", NULL, "1.234,6"},
        {"{{ n | currency \"CNY\" }}", "{\"n\":1234}", "zh-CN", NULL, "¥1,234.00"},
        {"{{ n | currency \"USD\" }}", "{\"n\":1234.5}", "en-US", NULL, "$1,234.50"},
        {"{{ n | currency \"EUR\" }}", "{\"n\":\"9.9\"}", "de", NULL, "9,90\xC2\xA0€"},
        {"{{ d | date \"long\" }}", "{\"d\":\"2026-11-22\"}", "zh-CN", "America/New_York",
         "2026年11月22日"},
        {"{{ d | date \"long\" }}", "{\"d\":\"2026-11-22\"}", "en", "Asia/Tokyo",
         "November 22, 2026"},
        {"{{ d | date \"yyyy-MM-dd HH:mm\" }}", "{\"d\":\"2026-11-22T23:30:00Z\"}", "en",
         "Asia/Shanghai", "2026-11-23 07:30"},
        {"{{ d | date \"short\" }}", "{\"d\":\"2026-11-22T10:00:00Z\"}", "en-US", "UTC",
         "11/22/26"},
        {"{{ d | days_until }}", "{\"d\":\"2026-12-01\"}", "en", "UTC", "9"},
        {"{{ d | days_since }}", "{\"d\":\"2026-11-01\"}", "en", "UTC", "21"},
        {"{{#d | days_until | between 0 90}}soon{{/d}}", "{\"d\":\"2027-01-15\"}", "en", "UTC",
         "soon"},
        {"{{#d | days_until | between 0 90}}soon{{/d}}", "{\"d\":\"2027-06-15\"}", "en", "UTC", ""},
        {"{{^d | days_until | lt 0}}valid{{/d}}", "{\"d\":\"2027-06-15\"}", "en", "UTC", "valid"},
        /* the segments' meaning (issue 15 item 17): a plain date counts from
         * today in UTC, a date-time whole days from now, in any zone */
        {"{{ d | days_until }}", "{\"d\":\"2026-11-22\"}", "en", "America/New_York", "0"},
        {"{{ d | days_until }}", "{\"d\":\"2026-11-22T20:00:00Z\"}", "en", "Asia/Shanghai", "0"},
        {"{{ d | days_since }}", "{\"d\":\"2026-11-20T23:00:00Z\"}", "en", "Asia/Shanghai", "1"},
        {"{{#n | gt 100}}big{{/n}}", "{\"n\":101}", "en", NULL, "big"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hd_mst_env env = {.locale = cases[i].locale,
                                 .timezone = cases[i].tz,
                                 .now = 1795305600 /* 2026-11-22T00:00:00Z */};
        struct hd_err e = {0};
        int rc;
        char *got = render(cases[i].src, cases[i].data, &env, &rc, &e);
        if (rc != 0 || strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: %s -> [%s] (%s), want [%s]", i, cases[i].src, got,
                     rc ? e.msg : "ok", cases[i].want);
        free(got);
    }
}

/* src rendered with data d through fmt (kept by the caller). */
static char *render_fmt(const struct hd_mst *m, const char *d, struct hd_fmt *fmt)
{
    struct hd_mst_env env = {.locale = "en", .timezone = "Asia/Shanghai", .fmt = fmt};
    struct hd_buf out;
    struct hd_err e = {0};
    json_t *data = json_loads(d, 0, NULL);
    assert_non_null(data);
    hd_buf_init(&out);
    if (hd_mst_render(m, data, &env, &out, &e) < 0)
        fail_msg("%s: %s", d, e.msg);
    json_decref(data);
    return hd_buf_detach(&out, NULL);
}

/* A date formatter keeps its results by day (filter.c's date_memo): one
 * kept formatter must give what a new one gives, for the same instant
 * again, another instant of the same day, days 512 apart (the same slot),
 * before 1970, a date-time late enough in its day to be the next day in
 * the zone, and a text too long to keep (a weekday, a date, a time and a
 * zone's whole name: 57 bytes and more). */
static void test_mustache_date_memo(void **state)
{
    (void)state;
    static const char *const values[] = {
        "2026-11-22",           "2026-11-22", "2026-11-22T10:00:00Z", "2026-11-22T10:00:01Z",
        "2026-11-22T23:30:00Z", "2028-04-17", "2026-11-22",           "1969-12-31",
        "1960-02-29T12:00:00Z", "1969-12-31", "2028-04-17T00:00:00Z", "2026-11-22T10:00:00Z"};
    const char *src = "{{d | date \"medium+time\"}}|{{d | date \"long\"}}|"
                      "{{d | date \"EEEE, MMMM d, yyyy 'at' HH:mm:ss zzzz\"}}|"
                      "{{d | date \"yyyy-MM-dd\"}}";
    struct hd_mst *m = NULL;
    struct hd_err e = {0};
    assert_int_equal(hd_mst_compile(src, strlen(src), NULL, &m, &e), 0);
    struct hd_fmt *kept = hd_fmt_new();
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
            char d[64];
            snprintf(d, sizeof d, "{\"d\":\"%s\"}", values[i]);
            struct hd_fmt *fresh = hd_fmt_new();
            char *want = render_fmt(m, d, fresh), *got = render_fmt(m, d, kept);
            if (strcmp(got, want) != 0)
                fail_msg("%s: [%s] kept, [%s] new", values[i], got, want);
            free(want);
            free(got);
            hd_fmt_free(fresh);
        }
    hd_fmt_free(kept);
    hd_mst_free(m);
}

/* HTML escaping against a reference made here: random texts of every
 * length to 40 over an alphabet of the five special bytes, their
 * neighbours, other ASCII and UTF-8, so that specials fall at the start, the
 * end, in runs and beside multi-byte characters. */
static void test_mustache_escape_random(void **state)
{
    (void)state;
    static const char *const alphabet[] = {"&", "<", ">", "\"", "'", "a", "=", "?", "%", "\xc3\xa9",
                                           "\xe9\x80\x80"};
    static const char *const rep[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
    struct hd_mst *m;
    struct hd_err e;
    assert_int_equal(hd_mst_compile("{{v}}", 5, NULL, &m, &e), 0);
    struct hd_mst_env env = {.escape_html = true};
    struct hd_buf text, want, got;
    hd_buf_init(&text);
    hd_buf_init(&want);
    hd_buf_init(&got);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 4000; round++) {
        hd_buf_reset(&text);
        hd_buf_reset(&want);
        for (int len = round % 41; (int)text.len < len;) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t a = (size_t)(x % (sizeof alphabet / sizeof alphabet[0]));
            hd_buf_adds(&text, alphabet[a]);
            hd_buf_adds(&want, a < 5 ? rep[a] : alphabet[a]);
        }
        json_t *d = json_pack("{s:s}", "v", text.data);
        hd_buf_reset(&got);
        assert_int_equal(hd_mst_render(m, d, &env, &got, &e), 0);
        assert_string_equal(got.data, want.data);
        json_decref(d);
    }
    hd_mst_free(m);
    hd_buf_release(&text);
    hd_buf_release(&want);
    hd_buf_release(&got);
}

static void test_mustache_escaping_and_strict(void **state)
{
    (void)state;
    struct hd_mst_env html = {.escape_html = true}, plain = {0};
    struct hd_err e = {0};
    int rc;
    char *got = render("{{a}} {{{a}}} {{&a}}", "{\"a\":\"Tom & Jerry <'\\\"'>\"}", &html, &rc, &e);
    assert_int_equal(rc, 0);
    assert_string_equal(got, "Tom &amp; Jerry &lt;&#39;&quot;&#39;&gt; Tom & Jerry <'\"'> Tom & "
                             "Jerry <'\"'>");
    free(got);
    got = render("{{a}}", "{\"a\":\"Tom & Jerry\"}", &plain, &rc, &e);
    assert_string_equal(got, "Tom & Jerry");
    free(got);

    struct hd_mst_env strict = {.strict = true, .part = "sms"};
    got = render("Hi {{name}},\n  see {{first_name}}", "{\"name\":\"Ann\"}", &strict, &rc, &e);
    assert_int_equal(rc, HD_E_INVALID);
    assert_string_equal(e.msg, "t.tmpl:11:7: missing variable 'first_name' (sms)");
    free(got);
    got = render("{{#coupon}}{{code}}{{/coupon}}ok", "{}", &strict, &rc, &e);
    assert_int_equal(rc, 0); /* a missing section is just false */
    assert_string_equal(got, "ok");
    free(got);
    got = render("{{x}}", "{\"x\":null}", &strict, &rc, &e);
    assert_int_equal(rc, HD_E_INVALID);
    free(got);
    got = render("{{x | default \"-\"}}", "{\"x\":null}", &strict, &rc, &e);
    assert_int_equal(rc, 0);
    assert_string_equal(got, "-");
    free(got);
    got = render("a {{>nope}} b", "{}", &strict, &rc, &e);
    assert_int_equal(rc, HD_E_INVALID);
    assert_string_equal(e.msg, "t.tmpl:10:3: unknown partial 'nope' (sms)");
    free(got);
    got = render("{{d | date}}", "{\"d\":\"soon\"}", &strict, &rc, &e);
    assert_int_equal(rc, HD_E_INVALID);
    assert_string_equal(e.msg, "t.tmpl:10:1: 'd': filter 'date': 'soon' is not an ISO 8601 date "
                               "or time (sms)");
    free(got);
    /* numbers as the spec wants them */
    got = render("{{a}} {{b}} {{c}}", "{\"a\":85,\"b\":1.21,\"c\":-0.5}", &plain, &rc, &e);
    assert_string_equal(got, "85 1.21 -0.5");
    free(got);
}

/* Every malformed template is refused with its position; nothing crashes. */
static void test_mustache_errors(void **state)
{
    (void)state;
    static const struct {
        const char *src, *msg;
    } cases[] = {
        {"Hi {{name", "t.tmpl:10:4: unclosed tag: '{{' without '}}'"},
        {"{{{name}}", "t.tmpl:10:1: unclosed tag: '{{{' needs '}}}'"},
        {"a\n{{#items}}\nx\n", "t.tmpl:11:1: unclosed section: '{{#items}}' has no '{{/items}}'"},
        {"{{#a}}{{/b}}", "t.tmpl:10:7: mismatched closing tag '{{/b}}': '{{#a}}' opened at 10:1 is "
                         "still open"},
        {"x {{/a}}", "t.tmpl:10:3: unexpected closing tag '{{/a}}': no section is open"},
        {"{{=<% %>=}} <%a", "t.tmpl:10:13: unclosed tag: '<%' without '%>'"},
        {"{{= < =}}", "t.tmpl:10:1: bad delimiter change"},
        {"{{= a=b c =}}", "t.tmpl:10:1: bad delimiter change"},
        {"{{ name | titlecase }}", "t.tmpl:10:1: unknown filter 'titlecase' (known: default"},
        {"{{ name | }}", "t.tmpl:10:1: a filter name is missing after '|'"},
        {"{{ name | truncate }}", "t.tmpl:10:1: wrong arguments for filter 'truncate' (write: "
                                  "truncate N)"},
        {"{{ name | default \"x }}", "t.tmpl:10:1: unterminated string in filter 'default'"},
        {"{{ n | currency \"CNY\" \" }}", "t.tmpl:10:1: unterminated string in filter 'currency'"},
        {"{{ n | currency \"CNY\" \"USD\" }}", "t.tmpl:10:1: filter 'currency' takes one string"},
        {"{{ n | currency \"yuan\" }}", "t.tmpl:10:1: filter 'currency': 'yuan' is not an ISO "
                                        "4217 code"},
        {"{{first name}}", "t.tmpl:10:1: bad tag name 'first name'"},
        {"{{a..b}}", "t.tmpl:10:1: bad tag name 'a..b': an empty part between dots"},
        {"{{}}", "t.tmpl:10:1: empty tag: a name is missing"},
        {"{{>p | upper}}", "t.tmpl:10:1: filters apply to variables and sections"},
        {"{{<p}}{{$b}}x{{/p}}", "t.tmpl:10:14: mismatched closing tag '{{/p}}': '{{$b}}' opened"},
        {"中文 {{#a}}", "t.tmpl:10:4: unclosed section: '{{#a}}' has no '{{/a}}'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hd_mst *m = (struct hd_mst *)0x1;
        struct hd_err e = {0};
        struct hd_mst_opts o = {.file = "t.tmpl", .line = 10};
        int rc = hd_mst_compile(cases[i].src, strlen(cases[i].src), &o, &m, &e);
        if (rc != HD_E_PARSE || strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
            fail_msg("case %zu: %s: rc %d, got \"%s\", want \"%s...\"", i, cases[i].src, rc, e.msg,
                     cases[i].msg);
        assert_ptr_equal(m, (struct hd_mst *)0x1);
    }
}

/* Recursion without an end is stopped, not a stack overflow. */
static int self_partial(void *ud, const char *name, const struct hd_mst **out, struct hd_err *err)
{
    (void)name;
    (void)err;
    *out = ud;
    return 0;
}

static void test_mustache_recursion_bound(void **state)
{
    (void)state;
    struct hd_mst *m;
    struct hd_err e = {0};
    assert_int_equal(hd_mst_compile("x{{>self}}", 10, NULL, &m, &e), 0);
    struct hd_mst_env env = {.partial = self_partial, .partial_ud = m};
    struct hd_buf out;
    hd_buf_init(&out);
    json_t *d = json_object();
    assert_int_equal(hd_mst_render(m, d, &env, &out, &e), HD_E_INVALID);
    assert_contains(e.msg, "partials nested more than 100 deep: does 'self' include itself?");
    json_decref(d);
    hd_buf_release(&out);
    hd_mst_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mustache_spec),
        cmocka_unit_test(test_mustache_filters),
        cmocka_unit_test(test_mustache_date_memo),
        cmocka_unit_test(test_mustache_escape_random),
        cmocka_unit_test(test_mustache_escaping_and_strict),
        cmocka_unit_test(test_mustache_errors),
        cmocka_unit_test(test_mustache_recursion_bound),
    };
    return cmocka_run_group_tests_name("mustache", tests, NULL, NULL);
}
