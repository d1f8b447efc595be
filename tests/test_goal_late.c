/* test_goal_late: a run fired late (its dispatcher was down at the
 * firing's time) counts conversions from when it fired, not from the
 * missed time. A review scheduled a campaign for 12-21 10:00, ran the
 * dispatcher on 12-28: an event on 12-22, six days before any message went
 * out, counted as a conversion in `stats --goal` and in converted(), and
 * one three hours after the message did not. `campaign show` and `why`
 * say when it fired and when it was due. */
#include "testnet.h"

static char *dir;

static const char tpl[] = "description: goal test\ncategory: transactional\n"
                          "from: Acme <hello@example.com>\n\n"
                          "--- email.subject\nHello\n--- email.text\nHello.\n";

static void test_goal_late(void **state)
{
    (void)state;
    char *p = tu_path(dir, "h.conf"), *t = tu_path(dir, "tpl");
    tu_write(p, "[herald]\ndatabase = h.db\ntemplates = tpl\nlog_level = warn\n");
    free(p);
    assert_int_equal(mkdir(t, 0700), 0);
    free(t);
    tu_put_template(dir, "t", tpl);
    p = tu_path(dir, "c.csv");
    tu_write(p, "id,email\na1,a1@example.com\na2,a2@example.com\na3,a3@example.com\n");
    free(p);
    p = tu_path(dir, "e.csv");
    tu_write(p, "contact,event,time\na1,b3,2026-12-22T12:00:00Z\na3,b3,2026-12-23T12:00:00Z\n"
                "a2,b3,2026-12-28T12:00:00Z\n");
    free(p);
    setenv("HERALD_NOW", "2026-12-20T10:00:00Z", 1);
    TU_HERALD_OK(dir, "init");
    TU_HERALD_OK(dir, "contacts", "import", "c.csv");
    TU_HERALD_OK(dir, "segment", "define", "all", "email exists");
    TU_HERALD_OK(dir, "campaign", "create", "at1", "--segment", "all", "--template", "t",
                 "--channels", "email", "--at", "2026-12-21T10:00:00Z");
    setenv("HERALD_NOW", "2026-12-28T09:00:00Z", 1);
    TU_HERALD_OK(dir, "run", "--once");
    TU_HERALD_OK(dir, "events", "import", "e.csv");
    struct tu_run r;
    tu_herald(&r, dir, NULL, "stats", "at1", "--goal", "b3", "--format", "json", NULL);
    assert_int_equal(r.status, 0);
    json_t *j = json_loads(r.out, 0, NULL), *g = json_object_get(j, "goal");
    assert_non_null(g);
    json_t *groups = json_object_get(g, "groups");
    long long conv = 0;
    for (size_t i = 0; i < json_array_size(groups); i++)
        conv += json_integer_value(json_object_get(json_array_get(groups, i), "converted"));
    if (conv != 1)
        fail_msg("%lld conversions, want a2's alone:\n%s", conv, r.out);
    json_decref(j);
    tu_run_release(&r);
    /* converted() agrees: a2 alone (a1 and a3 before the fix) */
    tu_herald(&r, dir, NULL, "segment", "define", "conv", "converted(\"at1\", \"b3\")", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "segment", "export", "conv", "--format", "csv", NULL);
    if (!strstr(r.out, "a2") || strstr(r.out, "a1") || strstr(r.out, "a3"))
        fail_msg("converted(): %s", r.out);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "why", "a1", "at1", NULL);
    assert_contains(r.out, "fired 2026-12-28T09:00:00Z (due 2026-12-21T10:00:00Z)");
    tu_run_release(&r);
}

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    setenv("HERALD_CONFIG", "h.conf", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unsetenv("HERALD_NOW");
    tu_rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_goal_late, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
