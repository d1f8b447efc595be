/* fuzz_cron: libFuzzer target for the cron parser and the next-firing walk.
 * The input is one cron expression; it must parse or fail with a message
 * that names the expression. A parsed expression must have a bit in every
 * field, and hd_cron_next must terminate in each of a few zones (UTC, one
 * with daylight saving in each hemisphere, a half-hour offset) with a firing
 * strictly after the start, or say it never fires. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herald/schedule.h"
#include "herald/time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"UTC", "America/New_York", "Australia/Lord_Howe",
                                        "Asia/Kolkata"};
    static struct hd_zone *zones[4];
    if (!zones[0])
        for (int i = 0; i < 4; i++)
            zones[i] = hd_zone_open(names[i]);
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    struct hd_cron c;
    struct hd_err err;
    if (hd_cron_parse(s, &c, &err) < 0) {
        if (err.code != HD_E_PARSE || !strstr(err.msg, "cron"))
            abort();
        free(s);
        return 0;
    }
    if (!c.minute || !c.hour || !c.mday || !c.month || !c.wday)
        abort(); /* a field without a value never matches: it cannot have parsed */
    /* 2026-03-08 06:30 UTC, near New York's spring change; and a day
     * before Lord Howe's half-hour autumn change (2026-04-05) */
    static const int64_t starts[] = {1772951400, 1775224800};
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 2; j++) {
            int64_t next = 0;
            int rc = hd_cron_next(&c, zones[i], starts[j], &next);
            if (rc == 0 && next <= starts[j])
                abort();
            if (rc < 0 && rc != HD_E_NOTFOUND)
                abort();
        }
    }
    free(s);
    return 0;
}
