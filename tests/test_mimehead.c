/* test_mimehead: the header lines hd_mime_build writes by hand (Date,
 * X-Herald-Message, List-Unsubscribe's URL) are the bytes the printf
 * formats they replaced would write, checked against those formats for
 * dates from 1970 to year 9999 and before, and message numbers of every
 * length; and a message built into a buffer that holds text already is
 * appended to it, the same bytes. */
#include "testutil.h"

#include <stdint.h>

#include "herald/mime.h"
#include "herald/time.h"

/* The line of msg that starts with name, without its CRLF, into out. */
static void line_of(const char *msg, const char *name, char *out, size_t size)
{
    const char *p = strstr(msg, name);
    assert_non_null(p);
    const char *e = strstr(p, "\r\n");
    assert_non_null(e);
    snprintf(out, size, "%.*s", (int)(e - p), p);
}

static char *build(int64_t date, int64_t ref)
{
    struct hd_mail m = {.from = "a@example.com",
                        .to = "b@example.com",
                        .subject = "s",
                        .text = "hi\n",
                        .message_id = "0b6b3d2e-5f0c-4b1e-9d55-3f9f7c1f2a10",
                        .date = date,
                        .ref = ref,
                        .unsubscribe_url = "https://example.com/u/tok"};
    struct hd_buf b;
    struct hd_err e = {0};
    hd_buf_init(&b);
    if (hd_mime_build(&m, &b, &e) < 0)
        fail_msg("build: %s", e.msg);
    return hd_buf_detach(&b, NULL);
}

static void want_date(int64_t t, char *out, size_t size)
{
    static const char *const days[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t dn = t >= 0 ? t / 86400 : -((-t + 86399) / 86400), y;
    unsigned m, d;
    int64_t s = t - dn * 86400;
    hd_time_civil_from_days(dn, &y, &m, &d);
    snprintf(out, size, "Date: %s, %u %s %04lld %02d:%02d:%02d +0000", days[((dn % 7) + 7) % 7], d,
             months[m - 1], (long long)y, (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
}

static void test_mimehead_as_printf_wrote(void **state)
{
    (void)state;
    static const int64_t dates[] = {0,
                                    1,
                                    59,
                                    86399,
                                    86400,
                                    951782400,
                                    1795334400,
                                    1795370399,
                                    253402300799,
                                    -1,
                                    -86400,
                                    -62135596800,
                                    -62167219200,
                                    -62167219201,
                                    -70000000000};
    static const int64_t refs[] = {1, 9, 10, 12345, INT64_MAX};
    for (size_t i = 0; i < sizeof dates / sizeof *dates; i++) {
        char got[128], want[128];
        char *msg = build(dates[i], 1);
        line_of(msg, "Date: ", got, sizeof got);
        want_date(dates[i], want, sizeof want);
        if (strcmp(got, want) != 0)
            fail_msg("%lld: '%s', want '%s'", (long long)dates[i], got, want);
        free(msg);
    }
    for (size_t i = 0; i < sizeof refs / sizeof *refs; i++) {
        char got[128], want[128];
        char *msg = build(1795334400, refs[i]);
        line_of(msg, "X-Herald-Message: ", got, sizeof got);
        snprintf(want, sizeof want, "X-Herald-Message: %lld", (long long)refs[i]);
        assert_string_equal(got, want);
        line_of(msg, "List-Unsubscribe: ", got, sizeof got);
        assert_string_equal(got, "List-Unsubscribe: <https://example.com/u/tok>");
        free(msg);
    }
}

static void test_mimehead_appended(void **state)
{
    (void)state;
    char *alone = build(1795334400, 7);
    struct hd_mail m = {.from = "a@example.com",
                        .to = "b@example.com",
                        .subject = "s",
                        .text = "hi\n",
                        .message_id = "0b6b3d2e-5f0c-4b1e-9d55-3f9f7c1f2a10",
                        .date = 1795334400,
                        .ref = 7,
                        .unsubscribe_url = "https://example.com/u/tok"};
    struct hd_buf b;
    struct hd_err e = {0};
    hd_buf_init(&b);
    hd_buf_adds(&b, "before|");
    assert_int_equal(hd_mime_build(&m, &b, &e), 0);
    assert_int_equal(strncmp(b.data, "before|", 7), 0);
    assert_string_equal(b.data + 7, alone);
    assert_int_equal(b.len, 7 + strlen(alone));
    hd_buf_release(&b);
    free(alone);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mimehead_as_printf_wrote),
        cmocka_unit_test(test_mimehead_appended),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
