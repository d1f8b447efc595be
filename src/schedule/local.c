/* local: local times of day and quiet hours in a recipient's zone. Both
 * ask for the next time the wall clock shows a time of day; when the clocks
 * go back over it, it shows it twice, and the second showing counts. Both
 * run once per message, so the common case costs what it did: one zone
 * conversion each way, more only when the first showing has passed. */
#include "herald/schedule.h"

#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"
#include "wall.h"

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
        /* today's has passed, but the clocks may go back over it: a second
         * showing is at most a change (WALL_SHIFT_MAX) after the first */
        if (days == 0 && t - u <= WALL_SHIFT_MAX) {
            int64_t again = wall_again(z, wall_secs(&at), u);
            if (again >= t)
                return again;
        }
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
    if (u > t)
        return u;
    /* the end's first showing has passed while the clock shows a time
     * before it: the clocks went back over the end, which the wall clock
     * reaches again at the offset it has now */
    return wall_secs(&end) - (wall_secs(&c) - t);
}

struct hd_zones {
    char *fallback_name;
    struct hd_zone *fallback;
    struct {
        char *name;
        struct hd_zone *z;
    } * v;
    size_t n;
};

struct hd_zones *hd_zones_new(const char *fallback)
{
    struct hd_zones *zs = hd_xcalloc(1, sizeof *zs);
    zs->fallback_name = hd_xstrdup(fallback && *fallback ? fallback : "UTC");
    return zs;
}

struct hd_zone *hd_zones_get(struct hd_zones *zs, const char *name)
{
    if (name && *name) {
        for (size_t i = 0; i < zs->n; i++)
            if (strcmp(zs->v[i].name, name) == 0)
                return zs->v[i].z ? zs->v[i].z : hd_zones_get(zs, NULL);
        /* an unknown name is remembered too, so it is looked up once */
        HD_GROW(zs->v, zs->n);
        zs->v[zs->n].name = hd_xstrdup(name);
        zs->v[zs->n].z = hd_zone_open(name);
        if (zs->v[zs->n++].z)
            return zs->v[zs->n - 1].z;
    }
    if (!zs->fallback && !(zs->fallback = hd_zone_open(zs->fallback_name)))
        zs->fallback = hd_zone_open("UTC");
    return zs->fallback;
}

void hd_zones_free(struct hd_zones *zs)
{
    if (!zs)
        return;
    for (size_t i = 0; i < zs->n; i++) {
        free(zs->v[i].name);
        hd_zone_free(zs->v[i].z);
    }
    free(zs->v);
    hd_zone_free(zs->fallback);
    free(zs->fallback_name);
    free(zs);
}
