/* test_schedule: cron next firings (month ends, leap days, daylight-saving
 * changes, weekday rules), local times of day and quiet hours in several
 * zones, across midnight and across daylight-saving changes. */
#include "testutil.h"

#include "herald/schedule.h"

static int64_t at(const char *iso)
{
    int64_t t;
    assert_int_equal(hd_time_parse_iso(iso, &t, NULL), 0);
    return t;
}

/* Fails, naming what was computed, unless got is the ISO time want. */
static void expect_time(int64_t got, const char *want, const char *what)
{
    char buf[32];
    hd_time_format_iso(got, buf, sizeof buf);
    if (strcmp(buf, want) != 0)
        fail_msg("%s: got %s, want %s", what, buf, want);
}

static void cron_case(const char *zone, const char *expr, const char *after, const char *want)
{
    struct hd_cron c;
    struct hd_err e = {0};
    if (hd_cron_parse(expr, &c, &e) != 0)
        fail_msg("%s", e.msg);
    struct hd_zone *z = hd_zone_open(zone);
    assert_non_null(z);
    int64_t next;
    assert_int_equal(hd_cron_next(&c, z, at(after), &next), 0);
    char what[200];
    snprintf(what, sizeof what, "cron '%s' in %s after %s", expr, zone, after);
    expect_time(next, want, what);
    hd_zone_free(z);
}

static void test_cron_next(void **state)
{
    (void)state;
    cron_case("UTC", "0 9 * * *", "2026-01-31T10:00:00Z", "2026-02-01T09:00:00Z");
    cron_case("UTC", "0 9 * * *", "2026-01-31T08:59:59Z", "2026-01-31T09:00:00Z");
    cron_case("UTC", "0 9 * * *", "2026-01-31T09:00:00Z", "2026-02-01T09:00:00Z");
    cron_case("UTC", "0 0 31 * *", "2026-04-01T00:00:00Z", "2026-05-31T00:00:00Z");
    cron_case("UTC", "59 23 31 12 *", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z");
    cron_case("UTC", "0 12 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T12:00:00Z");
    cron_case("UTC", "0 12 29 feb *", "2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z");
    cron_case("UTC", "*/15 * * * *", "2026-11-22T10:07:30Z", "2026-11-22T10:15:00Z");
    cron_case("UTC", "5-10/5 * * * *", "2026-11-22T10:07:00Z", "2026-11-22T10:10:00Z");
    cron_case("UTC", "0 9 * * mon-fri", "2026-11-20T10:00:00Z", "2026-11-23T09:00:00Z");
    cron_case("UTC", "0 9 * * 7", "2026-11-20T10:00:00Z", "2026-11-22T09:00:00Z");
    cron_case("UTC", "0 9 * * SUN", "2026-11-20T10:00:00Z", "2026-11-22T09:00:00Z");
    /* both day fields restricted: either matches */
    cron_case("UTC", "0 0 13 * fri", "2026-11-01T00:00:00Z", "2026-11-06T00:00:00Z");
    /* clocks forward in Berlin on 2026-03-29 at 02:00: 02:30 does not exist */
    cron_case("Europe/Berlin", "30 2 * * *", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z");
    cron_case("Europe/Berlin", "30 2 * * *", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z");
    /* clocks back on 2026-10-25 at 03:00: 02:30 happens twice, fires once */
    cron_case("Europe/Berlin", "30 2 * * *", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z");
    cron_case("Europe/Berlin", "30 2 * * *", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z");
    cron_case("Europe/Berlin", "30 2 * * *", "2026-10-25T01:15:00Z", "2026-10-26T01:30:00Z");
    /* New York: 09:00 is 14:00Z in winter, 13:00Z from 2026-03-08 */
    cron_case("America/New_York", "0 9 * * *", "2026-03-07T15:00:00Z", "2026-03-08T13:00:00Z");
    cron_case("America/New_York", "0 9 * * *", "2026-10-31T14:00:00Z", "2026-11-01T14:00:00Z");
    cron_case("Asia/Kolkata", "0 9 1 * *", "2026-11-22T00:00:00Z", "2026-12-01T03:30:00Z");
}

static void test_cron_errors(void **state)
{
    (void)state;
    static const struct {
        const char *expr, *msg;
    } bad[] = {{"60 * * * *", "minute field '60'"},      {"* * *", "needs five fields"},
               {"* * * * * *", "more than five fields"}, {"0 24 * * *", "hour field"},
               {"0 0 0 * *", "day of month field"},      {"0 0 * 13 *", "month field"},
               {"0 0 * * 8", "day of week field"},       {"0 0 * * foo", "day of week field 'foo'"},
               {"*/0 * * * *", "minute field"},          {"5-1 * * * *", "minute field"},
               {"1,,2 * * * *", "minute field"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hd_cron c;
        struct hd_err e = {0};
        if (hd_cron_parse(bad[i].expr, &c, &e) != HD_E_PARSE)
            fail_msg("'%s' parsed", bad[i].expr);
        assert_contains(e.msg, bad[i].msg);
    }
    struct hd_cron c;
    struct hd_err e = {0};
    assert_int_equal(hd_cron_parse("0 0 30 2 *", &c, &e), 0);
    struct hd_zone *z = hd_zone_open("UTC");
    int64_t next;
    assert_int_equal(hd_cron_next(&c, z, at("2026-01-01"), &next), HD_E_NOTFOUND);
    hd_zone_free(z);
    assert_null(hd_zone_open("Mars/Olympus"));
    assert_null(hd_zone_open("EST5EDT+"));
}

static void local_case(const char *zone, int h, int m, const char *after, const char *want)
{
    struct hd_zone *z = hd_zone_open(zone);
    assert_non_null(z);
    char what[200];
    snprintf(what, sizeof what, "%02d:%02d in %s after %s", h, m, zone, after);
    expect_time(hd_local_time_next(z, at(after), h, m), want, what);
    hd_zone_free(z);
}

static void test_local_time(void **state)
{
    (void)state;
    local_case("Asia/Kolkata", 9, 0, "2026-11-22T04:00:00Z", "2026-11-23T03:30:00Z");
    local_case("Asia/Kolkata", 9, 0, "2026-11-22T03:00:00Z", "2026-11-22T03:30:00Z");
    local_case("America/Los_Angeles", 9, 0, "2026-11-22T12:00:00Z", "2026-11-22T17:00:00Z");
    local_case("Europe/Berlin", 2, 30, "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z");
    local_case("Pacific/Auckland", 9, 0, "2026-11-22T00:00:00Z", "2026-11-22T20:00:00Z");
}

static void quiet_case(const char *zone, const char *window, const char *t, const char *want)
{
    struct hd_window w;
    struct hd_err e = {0};
    assert_int_equal(hd_units_window(window, &w, &e), 0);
    struct hd_zone *z = hd_zone_open(zone);
    assert_non_null(z);
    char what[200];
    snprintf(what, sizeof what, "quiet %s in %s at %s", window, zone, t);
    expect_time(hd_quiet_until(z, &w, at(t)), want, what);
    hd_zone_free(z);
}

static void test_quiet_hours(void **state)
{
    (void)state;
    /* across midnight */
    quiet_case("UTC", "21:00-08:00", "2026-11-22T22:00:00Z", "2026-11-23T08:00:00Z");
    quiet_case("UTC", "21:00-08:00", "2026-11-22T07:00:00Z", "2026-11-22T08:00:00Z");
    quiet_case("UTC", "21:00-08:00", "2026-11-22T21:00:00Z", "2026-11-23T08:00:00Z");
    quiet_case("UTC", "21:00-08:00", "2026-11-22T08:00:00Z", "2026-11-22T08:00:00Z");
    quiet_case("UTC", "21:00-08:00", "2026-11-22T12:00:00Z", "2026-11-22T12:00:00Z");
    quiet_case("UTC", "21:00-08:00", "2026-12-31T23:30:00Z", "2027-01-01T08:00:00Z");
    /* within a day */
    quiet_case("UTC", "12:00-14:00", "2026-11-22T13:00:00Z", "2026-11-22T14:00:00Z");
    quiet_case("UTC", "12:00-14:00", "2026-11-22T14:30:00Z", "2026-11-22T14:30:00Z");
    /* in the recipient's zone */
    quiet_case("Asia/Tokyo", "21:00-08:00", "2026-11-22T13:00:00Z", "2026-11-22T23:00:00Z");
    quiet_case("Asia/Tokyo", "21:00-08:00", "2026-11-22T11:00:00Z", "2026-11-22T11:00:00Z");
    quiet_case("America/Sao_Paulo", "21:00-08:00", "2026-11-23T01:00:00Z", "2026-11-23T11:00:00Z");
    /* New York's clocks go back on 2026-11-01: the night is an hour longer */
    quiet_case("America/New_York", "21:00-08:00", "2026-11-01T03:00:00Z", "2026-11-01T13:00:00Z");
    /* and forward on 2026-03-08: an hour shorter */
    quiet_case("America/New_York", "21:00-08:00", "2026-03-08T03:00:00Z", "2026-03-08T12:00:00Z");
    /* a window ending inside Berlin's skipped hour ends when the gap does */
    quiet_case("Europe/Berlin", "01:00-02:30", "2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cron_next),
        cmocka_unit_test(test_cron_errors),
        cmocka_unit_test(test_local_time),
        cmocka_unit_test(test_quiet_hours),
    };
    return cmocka_run_group_tests_name("schedule", tests, NULL, NULL);
}
