/* test_filter_datetime: the date filter's "+time" styles (issue 21: the
 * console's dates and times by ICU in the user's language and zone):
 * "short+time" and "medium+time" add the time of day in the locale's way,
 * in the render's zone; a plain style is still the date alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "herald/buf.h"
#include "herald/mustache.h"

static void check(const char *src, const char *locale, const char *zone, const char *want)
{
    struct hd_mst *t = NULL;
    struct hd_err err = {0};
    struct hd_buf out;
    hd_buf_init(&out);
    assert_int_equal(hd_mst_compile(src, strlen(src), NULL, &t, &err), 0);
    json_t *data =
        json_pack("{s:s, s:I}", "at", "2026-11-22T12:00:00.123Z", "secs", (json_int_t)1795348800);
    struct hd_mst_env env = {.locale = locale, .timezone = zone, .fmt = hd_fmt_new()};
    int rc = hd_mst_render(t, data, &env, &out, &err);
    if (rc < 0)
        fail_msg("%s: %s", src, err.msg);
    assert_string_equal(out.data, want);
    hd_fmt_free(env.fmt);
    json_decref(data);
    hd_mst_free(t);
    hd_buf_release(&out);
}

static void test_filter_datetime_styles(void **state)
{
    (void)state;
    check("{{at | date \"medium+time\"}}", "en", "UTC", "Nov 22, 2026, 12:00:00\u202fPM");
    check("{{at | date \"medium+time\"}}", "zh-CN", "Asia/Shanghai", "2026年11月22日 20:00:00");
    check("{{secs | date \"medium+time\"}}", "zh-CN", "Asia/Shanghai", "2026年11月22日 20:00:00");
    check("{{at | date \"short+time\"}}", "en", "America/New_York", "11/22/26, 7:00\u202fAM");
    check("{{at | date \"medium\"}}", "en", "Asia/Shanghai", "Nov 22, 2026");
    check("{{at | date \"yyyy-MM-dd HH:mm\"}}", "en", "Asia/Shanghai", "2026-11-22 20:00");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_datetime_styles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
