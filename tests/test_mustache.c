/* test_mustache: the official Mustache spec (v1.4.2, tests/spec/mustache/,
 * MIT licence there): every case of the six core files and the optional
 * inheritance and dynamic-names modules, read with jansson and rendered in
 * the spec's lenient mode with HTML escaping. Prints per-file and total
 * counts; fails if any case fails. */
#include "testutil.h"

#include <jansson.h>

#include "herald/mustache.h"

static const char *const files[] = {"comments",   "delimiters", "interpolation",
                                    "inverted",   "partials",   "sections",
                                    "~inheritance", "~dynamic-names"};

struct partials {
    json_t *src;            /* name -> template text */
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
            struct hd_mst_env env = {.escape_html = true, .partial = find_partial,
                                     .partial_ud = &p};
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mustache_spec),
    };
    return cmocka_run_group_tests_name("mustache", tests, NULL, NULL);
}
