/* test_units: durations, rates, cap windows and daily windows, good and bad. */
#include "testutil.h"

#include "herald/units.h"

static void test_units_duration(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t secs;
    } good[] = {{"90s", 90},      {"15m", 900},    {"15min", 900},  {"12h", 43200},
                {"30d", 2592000}, {"2w", 1209600}, {"1h30m", 5400}, {"1d12h", 129600}};
    static const char *const bad[] = {"",     "30",   "d",    "30x", "-5s", "0s",
                                      "1.5h", " 30d", "30d ", "h30", "30dd"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v = 0;
        assert_int_equal(hd_units_duration(good[i].in, &v, NULL), 0);
        assert_int_equal(v, good[i].secs);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hd_err e = {0};
        int64_t v;
        assert_int_equal(hd_units_duration(bad[i], &v, &e), HD_E_PARSE);
        assert_contains(e.msg, "is not a duration");
    }
    char buf[32];
    hd_units_format_duration(5400, buf, sizeof buf);
    assert_string_equal(buf, "1h30m");
    hd_units_format_duration(86400 * 30, buf, sizeof buf);
    assert_string_equal(buf, "30d");
    hd_units_format_duration(90, buf, sizeof buf);
    assert_string_equal(buf, "1m30s");
}

/* What herald prints of a duration, herald reads back as the same duration;
 * one that could not be printed so (21555555w printed as 150888885d, which
 * does not parse) is refused when it is read. */
static void test_units_duration_round_trip(void **state)
{
    (void)state;
    static const char *const good[] = {"1s", "59s",        "90m",    "1h30m", "25h",          "7d",
                                       "2w", "100000000s", "36525d", "5217w", "1w6d23h59m59s"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t secs, again;
        char buf[64];
        assert_int_equal(hd_units_duration(good[i], &secs, NULL), 0);
        hd_units_format_duration(secs, buf, sizeof buf);
        if (hd_units_duration(buf, &again, NULL) < 0 || again != secs)
            fail_msg("'%s' printed as '%s', which does not read back", good[i], buf);
    }
    static const char *const long_[] = {"21555555w", "36526d", "100000000d",
                                        "100000000w100000000w100000000w"};
    for (size_t i = 0; i < sizeof long_ / sizeof long_[0]; i++) {
        struct hd_err e = {0};
        int64_t secs = -1;
        assert_int_equal(hd_units_duration(long_[i], &secs, &e), HD_E_PARSE);
        assert_contains(e.msg, "longer than 100 years");
        assert_int_equal(secs, -1);
    }
}

static void test_units_rate(void **state)
{
    (void)state;
    struct hd_rate r;
    assert_int_equal(hd_units_rate("100/s", &r, NULL), 0);
    assert_int_equal(r.count, 100);
    assert_int_equal(r.period, 1);
    assert_int_equal(hd_units_rate("6000/min", &r, NULL), 0);
    assert_int_equal(r.count, 6000);
    assert_int_equal(r.period, 60);
    assert_true(hd_units_rate_per_sec(&r) == 100.0);
    assert_int_equal(hd_units_rate("50000/h", &r, NULL), 0);
    assert_int_equal(r.period, 3600);
    assert_int_equal(hd_units_rate("1/d", &r, NULL), 0);
    char buf[32];
    hd_units_format_rate(&(struct hd_rate){6000, 60}, buf, sizeof buf);
    assert_string_equal(buf, "6000/min");
    static const char *const bad[] = {"100",   "/s",     "0/s",  "100/x",  "100/",
                                      "ten/s", "100/ s", "-1/s", "100/s/s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hd_err e = {0};
        assert_int_equal(hd_units_rate(bad[i], &r, &e), HD_E_PARSE);
        assert_contains(e.msg, "is not a rate");
    }
}

static void test_units_cap(void **state)
{
    (void)state;
    struct hd_cap c;
    assert_int_equal(hd_units_cap("3/7d", &c, NULL), 0);
    assert_int_equal(c.count, 3);
    assert_int_equal(c.window, 7 * 86400);
    assert_int_equal(hd_units_cap("1/1d", &c, NULL), 0);
    assert_int_equal(c.count, 1);
    assert_int_equal(hd_units_cap("0/12h", &c, NULL), 0);
    assert_int_equal(c.count, 0);
    assert_int_equal(c.window, 43200);
    static const char *const bad[] = {"3", "3/", "/7d", "3/7", "x/7d", "3/7x", "3 /7d", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hd_err e = {0};
        assert_int_equal(hd_units_cap(bad[i], &c, &e), HD_E_PARSE);
        assert_contains(e.msg, "is not a cap");
    }
}

static void test_units_window(void **state)
{
    (void)state;
    struct hd_window w;
    assert_int_equal(hd_units_window("21:00-08:00", &w, NULL), 0);
    assert_int_equal(w.start, 21 * 60);
    assert_int_equal(w.end, 8 * 60);
    assert_int_equal(hd_units_window("12:30-13:45", &w, NULL), 0);
    assert_int_equal(w.start, 750);
    assert_int_equal(w.end, 825);
    assert_int_equal(hd_units_window("22:00-24:00", &w, NULL), 0);
    assert_int_equal(w.end, 0);
    static const char *const bad[] = {"21:00",       "21-08",      "25:00-08:00", "21:60-08:00",
                                      "08:00-08:00", "9:00-10:00", "21:00-08:00x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hd_err e = {0};
        assert_int_equal(hd_units_window(bad[i], &w, &e), HD_E_PARSE);
        assert_contains(e.msg, "is not a time window");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units_duration), cmocka_unit_test(test_units_duration_round_trip),
        cmocka_unit_test(test_units_rate),     cmocka_unit_test(test_units_cap),
        cmocka_unit_test(test_units_window),
    };
    return cmocka_run_group_tests_name("units", tests, NULL, NULL);
}
