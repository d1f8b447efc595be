/* schedule: when things happen in a recipient's or a campaign's time zone:
 * 5-field cron expressions and their next firing, the next occurrence of a
 * local time of day, and quiet hours. All arithmetic is on wall-clock time
 * in the zone (struct hd_zone, ICU's rules), so daylight-saving changes
 * move the UTC instant, not the local time. */
#ifndef HERALD_SCHEDULE_H
#define HERALD_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "herald/err.h"
#include "herald/time.h"
#include "herald/units.h"

/* A parsed cron expression: minute hour day-of-month month day-of-week,
 * each "*", "N", "N-M", "*" or "N-M" with "/STEP", or a comma list of those;
 * months and weekdays also by English three-letter names; weekday 0 and 7
 * are Sunday. As in Vixie cron, when both day fields are restricted a day
 * matching either one fires. */
struct hd_cron {
    uint64_t minute; /* bit n: minute n */
    uint32_t hour;   /* bit n: hour n */
    uint32_t mday;   /* bit n: day n (1..31) */
    uint16_t month;  /* bit n: month n (1..12) */
    uint8_t wday;    /* bit n: weekday n (0 = Sunday) */
    bool mday_star, wday_star;
};

/* HD_E_PARSE with a message quoting the field at fault. */
int hd_cron_parse(const char *expr, struct hd_cron *out, struct hd_err *err);
/* The first firing strictly after t, in zone z. A firing inside a skipped
 * hour (clocks forward) happens at the end of the gap; in a repeated hour
 * (clocks back) it happens once. Returns HD_E_NOTFOUND when the expression
 * never fires (30 February) within eight years. */
int hd_cron_next(const struct hd_cron *c, struct hd_zone *z, int64_t t, int64_t *next);

/* The first instant at or after t when the wall clock in z shows
 * hour:minute (today's if still ahead, else tomorrow's). */
int64_t hd_local_time_next(struct hd_zone *z, int64_t t, int hour, int minute);

/* If t falls inside the daily window w in zone z (a window that spans
 * midnight, 21:00-08:00, included), the instant the window ends; else t. */
int64_t hd_quiet_until(struct hd_zone *z, const struct hd_window *w, int64_t t);

#endif
