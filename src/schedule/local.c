/* local: local times of day and quiet hours in a recipient's zone. */
#include "herald/schedule.h"

/* The wall-clock date of c plus days (days may be 0 or 1). */
static void add_days(struct hd_civil *c, int days)
{
    int64_t n = hd_time_days_from_civil(c->year, c->month, c->day) + days;
    hd_time_civil_from_days(n, &c->year, &c->month, &c->day);
}

int64_t hd_local_time_next(struct hd_zone *z, int64_t t, int hour, int minute)
{
    struct hd_civil c;
    hd_zone_civil(z, t, &c);
    for (int days = 0; days < 3; days++) {
        struct hd_civil at = c;
        add_days(&at, days);
        at.hour = (unsigned)hour;
        at.minute = (unsigned)minute;
        at.second = 0;
        int64_t u = hd_zone_utc(z, &at);
        if (u >= t)
            return u;
    }
    return t; /* not reached: tomorrow's is always ahead */
}

int64_t hd_quiet_until(struct hd_zone *z, const struct hd_window *w, int64_t t)
{
    struct hd_civil c;
    hd_zone_civil(z, t, &c);
    int m = (int)(c.hour * 60 + c.minute);
    bool inside = w->start < w->end ? m >= w->start && m < w->end : m >= w->start || m < w->end;
    if (!inside)
        return t;
    /* the window ends today, or tomorrow when it spans midnight and we are
     * in its evening part */
    struct hd_civil end = c;
    if (w->start > w->end && m >= w->start)
        add_days(&end, 1);
    end.hour = (unsigned)(w->end / 60);
    end.minute = (unsigned)(w->end % 60);
    end.second = 0;
    int64_t u = hd_zone_utc(z, &end);
    return u > t ? u : t;
}
