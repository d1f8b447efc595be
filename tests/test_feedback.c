/* test_feedback: only a permanent refusal of the address suppresses it
 * (issue 15: no reply caused by herald's own encoding may ever suppress an
 * address). The SMTP driver never marks such a reply bad (test_smtp,
 * test_postfix); this checks the last gate, hd_feedback_apply, on results
 * a driver might get wrong. On a SQLite store in memory and on a fresh
 * PostgreSQL database (the `_pg` entry). */
#include "testboth.h"

#include "herald/dispatch.h"

static struct tu_both stores;
TU_BOTH_FIXTURES(stores)

static int keep(void *ud, const struct hd_suppression *s)
{
    char *out = ud;
    snprintf(out + strlen(out), 512 - strlen(out), "%s,%s;", s->address, s->reason);
    return 0;
}

static void test_feedback_only_permanent_suppresses(void **state)
{
    (void)state;
    struct hd_store *st = tu_both_open(&stores, NULL, ":memory:");
    struct hd_err e = {0};
    static const int outcomes[] = {HD_OUT_ACCEPTED, HD_OUT_TEMPORARY, HD_OUT_THROTTLED};
    for (size_t i = 0; i < 3; i++) {
        struct hd_result r = {.outcome = outcomes[i], .bad_address = true};
        assert_int_equal(
            hd_feedback_apply(st, NULL, NULL, 0, HD_CH_EMAIL, "ann@bücher.example", &r, 2000, &e),
            0);
    }
    char list[512] = "";
    assert_int_equal(hd_store_suppress_each(st, -1, keep, list, &e), 0);
    assert_string_equal(list, "");
    struct hd_result r = {.outcome = HD_OUT_PERMANENT, .bad_address = true};
    assert_int_equal(
        hd_feedback_apply(st, NULL, NULL, 0, HD_CH_EMAIL, "ann@bücher.example", &r, 2000, &e), 1);
    assert_int_equal(hd_store_suppress_each(st, -1, keep, list, &e), 0);
    assert_contains(list, ",hard_bounce;");
    hd_store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feedback_only_permanent_suppresses),
        {"test_feedback_only_permanent_suppresses_pg", test_feedback_only_permanent_suppresses,
         setup_pg, teardown, NULL},
    };
    return cmocka_run_group_tests_name("feedback", tests, NULL, NULL);
}
