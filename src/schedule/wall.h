/* wall: wall-clock arithmetic the schedule files share (private to
 * src/schedule). A zone's offset is read from hd_zone_civil, so it is
 * whatever ICU's rules say at that instant. */
#ifndef HERALD_SCHEDULE_WALL_H
#define HERALD_SCHEDULE_WALL_H

#include <stdint.h>

#include "herald/time.h"

/* The largest daylight-saving change looked for: cronie treats a change of
 * less than three hours as daylight saving, a larger one as a new clock. */
#define WALL_SHIFT_MAX (3 * 3600)

/* c as seconds since 1970-01-01 00:00 on the wall clock. */
static inline int64_t wall_secs(const struct hd_civil *c)
{
    return hd_time_days_from_civil(c->year, c->month, c->day) * 86400 + c->hour * 3600 +
           c->minute * 60 + c->second;
}

/* How far the wall clock in z is ahead of UTC at t. */
static inline int64_t wall_offset(struct hd_zone *z, int64_t t)
{
    struct hd_civil c;
    hd_zone_civil(z, t, &c);
    return wall_secs(&c) - t;
}

/* The second time the wall clock in z shows w, whose first time was u (a
 * repeated time, when the clocks go back); -1 when it shows it only once. */
static inline int64_t wall_again(struct hd_zone *z, int64_t w, int64_t u)
{
    int64_t later = wall_offset(z, u + WALL_SHIFT_MAX);
    if (later >= w - u)
        return -1;
    return wall_offset(z, w - later) == later ? w - later : -1;
}

#endif
