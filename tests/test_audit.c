/* test_audit: the statistics' arithmetic: the two-proportion z-test
 * against values worked out by hand, and the latency histogram's buckets
 * and percentiles. (The commands are tested end to end in test_campaign.) */
#include <jansson.h>
#include <math.h>

#include "testutil.h"

#include "herald/audit.h"
#include "herald/stats.h"

static void test_ztest(void **state)
{
    (void)state;
    struct hd_ztest t;
    /* 120 of 2000 against 80 of 2000, by hand:
     *   p1 = 0.06, p2 = 0.04, difference 0.02, relative lift 0.02 / 0.04 = 0.5
     *   pooled p = 200 / 4000 = 0.05
     *   se0 = sqrt(0.05 * 0.95 * (1/2000 + 1/2000)) = sqrt(0.0000475) = 0.00689202
     *   z = 0.02 / 0.00689202 = 2.901905
     *   p = 2 * (1 - Phi(2.901905)) = 0.003709
     *   se = sqrt(0.06 * 0.94 / 2000 + 0.04 * 0.96 / 2000) = sqrt(0.0000474) = 0.00688477
     *   95%: 0.02 -+ 1.959964 * 0.00688477 = 0.006506 .. 0.033494 */
    hd_ztest(120, 2000, 80, 2000, &t);
    assert_true(t.ok);
    assert_true(fabs(t.p1 - 0.06) < 1e-12 && fabs(t.p2 - 0.04) < 1e-12);
    assert_true(fabs(t.diff - 0.02) < 1e-12);
    assert_true(fabs(t.lift - 0.5) < 1e-12);
    assert_true(fabs(t.z - 2.901905) < 1e-6);
    assert_true(fabs(t.p - 0.003709) < 1e-6);
    assert_true(fabs(t.lo - 0.006506) < 1e-6 && fabs(t.hi - 0.033494) < 1e-6);

    /* 41 of 1000 against 29 of 1000: pooled 0.035, se0 = sqrt(0.035 * 0.965
     * * 0.002) = 0.00821888, z = 0.012 / 0.00821888 = 1.460053, p = 0.144276 */
    hd_ztest(41, 1000, 29, 1000, &t);
    assert_true(fabs(t.z - 1.460053) < 1e-6);
    assert_true(fabs(t.p - 0.144276) < 1e-6);
    assert_true(t.lo < 0 && t.hi > 0); /* the interval holds 0: not significant */

    /* the same rate: z = 0, p = 1; a variant below the holdout: z < 0 */
    hd_ztest(10, 100, 10, 100, &t);
    assert_true(t.ok && t.z == 0 && fabs(t.p - 1) < 1e-12);
    hd_ztest(29, 1000, 41, 1000, &t);
    assert_true(fabs(t.z + 1.460053) < 1e-6 && fabs(t.p - 0.144276) < 1e-6);

    /* nothing to test: an empty group, or no conversions anywhere */
    hd_ztest(0, 0, 5, 100, &t);
    assert_false(t.ok);
    hd_ztest(0, 100, 0, 100, &t);
    assert_false(t.ok);
    assert_true(t.p1 == 0 && t.p2 == 0);
}

/* Both groups converted all: no test, so no p (it was 0.0 in json and
 * csv, and "p < 0.001" in the sentence, which a reader takes for
 * significant: a review found it on an event everyone has). */
static void test_goal_nothing_to_test(void **state)
{
    (void)state;
    char b_name[] = "b", hold_name[] = "holdout";
    struct hd_goal_row rows[] = {{b_name, 150, 150}, {hold_name, 200, 200}};
    struct hd_goal g = {rows, 2};
    json_t *j = hd_goal_json(&g, "app_open", 7 * 86400);
    json_t *b = json_array_get(json_object_get(j, "groups"), 0);
    assert_true(json_is_null(json_object_get(b, "p_value")));
    assert_true(json_is_null(json_object_get(b, "z")));
    const char *line = json_string_value(json_object_get(b, "summary"));
    assert_non_null(strstr(line, "+0.0 points, p = n/a (no difference to test)"));
    json_decref(j);
}

static void test_latency(void **state)
{
    (void)state;
    /* exact below 128 ms; above, each bucket's middle within 6.25% */
    for (int64_t ms = 0; ms < 128; ms++)
        assert_int_equal(hd_lat_value(hd_lat_bucket(ms)), ms);
    int last = 127;
    for (int64_t ms = 128; ms < 4000000; ms += 1 + ms / 97) {
        int b = hd_lat_bucket(ms);
        assert_true(b >= last); /* monotone */
        last = b;
        double v = (double)hd_lat_value(b);
        if (fabs(v - (double)ms) > 0.0625 * (double)ms)
            fail_msg("%lld ms -> bucket %d -> %.0f ms", (long long)ms, b, v);
    }
    assert_int_equal(hd_lat_bucket(-5), 0);
    assert_int_equal(hd_lat_bucket(INT64_MAX), HD_LAT_BUCKETS - 1);

    /* percentiles: 100 answers of 1..100 ms */
    struct hd_stats_group g = {0};
    for (int ms = 1; ms <= 100; ms++) {
        g.lat[hd_lat_bucket(ms)]++;
        g.nlat++;
    }
    assert_int_equal(hd_stats_percentile(&g, 0.5), 50);
    assert_int_equal(hd_stats_percentile(&g, 0.9), 90);
    assert_int_equal(hd_stats_percentile(&g, 0.99), 99);
    assert_int_equal(hd_stats_percentile(&g, 1.0), 100);
    struct hd_stats_group none = {0};
    assert_int_equal(hd_stats_percentile(&none, 0.5), -1);

    assert_int_equal(hd_stats_by_parse("variant"), HD_BY_VARIANT);
    assert_int_equal(hd_stats_by_parse("day"), HD_BY_DAY);
    assert_int_equal(hd_stats_by_parse("week"), -1);
}

/* What herald why calls each kind of log row. */
static void test_why_step(void **state)
{
    (void)state;
    static const struct {
        const char *outcome, *reason;
        int step;
    } rows[] = {
        {"skipped", "held_out", HD_WHY_HELD_OUT},     {"skipped", "capped", HD_WHY_CAPPED},
        {"skipped", "resend_after", HD_WHY_CAPPED},   {"skipped", "quiet_hours", HD_WHY_QUIET},
        {"skipped", "no_address", HD_WHY_NO_CHANNEL}, {"skipped", "opted_out", HD_WHY_NO_CHANNEL},
        {"skipped", "expired", HD_WHY_SKIPPED},       {"skipped", NULL, HD_WHY_SKIPPED},
        {"accepted", NULL, HD_WHY_ATTEMPT},           {"temporary", "http_503", HD_WHY_ATTEMPT},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct hd_log_row r = {.outcome = rows[i].outcome, .reason = rows[i].reason};
        assert_int_equal(hd_why_step(&r), rows[i].step);
    }
    assert_string_equal(hd_why_skip_words("opted_out"), "no consent (opted out)");
    assert_string_equal(hd_why_skip_words("something_new"), "something_new");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ztest),
        cmocka_unit_test(test_goal_nothing_to_test),
        cmocka_unit_test(test_latency),
        cmocka_unit_test(test_why_step),
    };
    return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
