/* fuzz_units: libFuzzer target for the value syntaxes of units.h. The input,
 * as one NUL-terminated string, goes to the duration, rate, cap and window
 * parsers; each must accept it with a value in its documented range or refuse
 * it with a message. A duration that parses must print (in the shortest
 * form) as text that reads back to the same number of seconds, and a rate
 * the same way. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herald/units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_duration(const char *s)
{
    struct hd_err err;
    int64_t secs = 0, again = 0;
    char buf[64];
    if (hd_units_duration(s, &secs, &err) < 0) {
        if (err.code != HD_E_PARSE || !err.msg[0])
            abort();
        return;
    }
    if (secs <= 0 || secs > HD_UNITS_DURATION_MAX)
        abort();
    hd_units_format_duration(secs, buf, sizeof buf);
    if (hd_units_duration(buf, &again, &err) < 0 || again != secs)
        abort(); /* what herald prints of a duration must read back the same */
}

static void check_rate(const char *s)
{
    struct hd_err err;
    struct hd_rate r, again;
    char buf[64];
    if (hd_units_rate(s, &r, &err) < 0) {
        if (err.code != HD_E_PARSE || !err.msg[0])
            abort();
        return;
    }
    if (r.count < 1 || (r.period != 1 && r.period != 60 && r.period != 3600 && r.period != 86400))
        abort();
    hd_units_format_rate(&r, buf, sizeof buf);
    if (hd_units_rate(buf, &again, &err) < 0 || again.count != r.count || again.period != r.period)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    struct hd_err err;
    check_duration(s);
    check_rate(s);
    struct hd_cap cap;
    if (hd_units_cap(s, &cap, &err) == 0 && (cap.window < 1 || cap.window > HD_UNITS_DURATION_MAX))
        abort();
    struct hd_window w;
    if (hd_units_window(s, &w, &err) == 0 &&
        (w.start < 0 || w.start > 1439 || w.end < 0 || w.end > 1439 || w.start == w.end))
        abort();
    free(s);
    return 0;
}
