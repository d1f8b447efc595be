/* cron: 5-field cron expressions (parse, next firing in a zone), with
 * cronie's rules: when a day field's text begins with '*' ("*", "*" + "/2")
 * a day must match both day fields, else either; across daylight-saving
 * changes a "wildcard" job (minute or hour field beginning with '*') runs
 * at each matching wall-clock minute as it passes (both passes of a
 * repeated hour, none of a skipped one), while a fixed-time job runs once,
 * and at the jump when the clocks skip it. The next firing walks wall-clock
 * minutes forward; a wildcard job also looks at the second pass of times
 * the clocks go back over. */
#include "herald/schedule.h"

#include "wall.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const wday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct field {
    const char *name;
    int lo, hi;
    const char *const *names; /* names[i] stands for lo + i */
    int nnames;
};

static const struct field fields[5] = {
    {"minute", 0, 59, NULL, 0},           {"hour", 0, 23, NULL, 0},
    {"day of month", 1, 31, NULL, 0},     {"month", 1, 12, month_names, 12},
    {"day of week", 0, 7, wday_names, 7},
};

/* A number or a name at *p; -1 when there is none. */
static int value(const struct field *f, const char **p)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        int v = 0;
        while (isdigit((unsigned char)*s) && v < 1000)
            v = v * 10 + (*s++ - '0');
        *p = s;
        return v;
    }
    for (int i = 0; i < f->nnames; i++)
        if (strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
            *p = s + 3;
            return f->lo + i;
        }
    return -1;
}

/* Parses one field of len bytes into bits; false when it is not valid. */
static bool parse_field(const struct field *f, const char *s, size_t len, uint64_t *bits,
                        bool *star)
{
    char buf[128];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    *bits = 0;
    *star = buf[0] == '*'; /* as in cronie's entry.c, "*,5" too */
    if (buf[0] == ',' || buf[len - 1] == ',' || strstr(buf, ",,"))
        return false;
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        const char *p = item;
        int lo, hi, step = 1;
        if (*p == '*') {
            lo = f->lo;
            hi = f->hi;
            p++;
        } else {
            if ((lo = value(f, &p)) < 0)
                return false;
            hi = lo;
            if (*p == '-') {
                p++;
                if ((hi = value(f, &p)) < 0)
                    return false;
            }
        }
        if (*p == '/') {
            p++;
            const char *q = p;
            if ((step = value(&(struct field){0}, &q)) <= 0 || q == p)
                return false;
            p = q;
            if (lo == hi && item[0] != '*')
                hi = f->hi; /* "5/15" means 5-59/15 */
        }
        if (*p || lo < f->lo || hi > f->hi || lo > hi)
            return false;
        for (int v = lo; v <= hi; v += step)
            *bits |= 1ull << v;
    }
    return true;
}

int hd_cron_parse(const char *expr, struct hd_cron *out, struct hd_err *err)
{
    memset(out, 0, sizeof *out);
    const char *p = expr;
    uint64_t bits[5];
    bool star[5];
    for (int i = 0; i < 5; i++) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *start = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (p == start)
            return hd_err_set(err, HD_E_PARSE,
                              "cron '%s': needs five fields (minute hour day-of-month month "
                              "day-of-week), found %d",
                              expr, i);
        if (!parse_field(&fields[i], start, (size_t)(p - start), &bits[i], &star[i]))
            return hd_err_set(err, HD_E_PARSE, "cron '%s': %s field '%.*s' is not valid (%d-%d)",
                              expr, fields[i].name, (int)(p - start), start, fields[i].lo,
                              fields[i].hi);
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p)
        return hd_err_set(err, HD_E_PARSE, "cron '%s': more than five fields", expr);
    if (bits[4] & (1u << 7)) /* 7 is Sunday too */
        bits[4] = (bits[4] | 1u) & 0x7f;
    out->minute = bits[0];
    out->hour = (uint32_t)bits[1];
    out->mday = (uint32_t)bits[2];
    out->month = (uint16_t)bits[3];
    out->wday = (uint8_t)bits[4];
    out->mday_star = star[2];
    out->wday_star = star[4];
    out->wild = star[0] || star[1];
    return 0;
}

static bool day_matches(const struct hd_cron *c, int64_t y, unsigned m, unsigned d)
{
    unsigned wday =
        (unsigned)((hd_time_days_from_civil(y, m, d) % 7 + 11) % 7); /* 1970-01-01: Thu */
    bool md = c->mday & (1u << d), wd = c->wday & (1u << wday);
    /* cronie's find_jobs(): a field beginning with '*' makes both count */
    if (c->mday_star || c->wday_star)
        return md && wd;
    return md || wd;
}

/* The instants at which the wall clock in z shows cand, as a wildcard job
 * sees them: none when the clocks skip it, two when they go back over it
 * (the second is looked for only when the first is not after t). */
static int wild_times(struct hd_zone *z, const struct hd_civil *cand, int64_t t, int64_t u[2])
{
    int64_t w = wall_secs(cand);
    u[0] = hd_zone_utc(z, cand);
    if (wall_offset(z, u[0]) != w - u[0])
        return 0; /* skipped: u[0] is the end of the gap */
    if (u[0] > t)
        return 1;
    u[1] = wall_again(z, w, u[0]);
    return u[1] < 0 ? 1 : 2;
}

/* Searches the wall-clock minutes from minute `from` of day `day` (days
 * since 1970) for the first firing after t. A time's first instant only
 * grows with the wall clock, so the first one after t ends the search; a
 * second instant (a repeated time) may come before it. */
static int search(const struct hd_cron *c, struct hd_zone *z, int64_t t, int64_t day, int from,
                  int64_t *next)
{
    int64_t best = INT64_MAX;
    for (int days = 0; days < 8 * 366; days++, day++, from = 0) {
        struct hd_civil cand = {0};
        hd_time_civil_from_days(day, &cand.year, &cand.month, &cand.day);
        if (!(c->month & (1u << cand.month)) || !day_matches(c, cand.year, cand.month, cand.day))
            continue;
        for (int mm = from; mm < 24 * 60; mm++) {
            if (!(c->hour & (1u << (mm / 60))) || !(c->minute & (1ull << (mm % 60))))
                continue;
            cand.hour = (unsigned)(mm / 60);
            cand.minute = (unsigned)(mm % 60);
            int64_t u[2];
            int n = 1;
            if (c->wild)
                n = wild_times(z, &cand, t, u);
            else
                u[0] = hd_zone_utc(z, &cand); /* skipped: at the jump */
            if (n > 0 && u[0] > t) {
                *next = u[0] < best ? u[0] : best;
                return 0;
            }
            if (n > 1 && u[1] > t && u[1] < best)
                best = u[1];
        }
    }
    if (best == INT64_MAX)
        return HD_E_NOTFOUND;
    *next = best;
    return 0;
}

int hd_cron_next(const struct hd_cron *c, struct hd_zone *z, int64_t t, int64_t *next)
{
    struct hd_civil now;
    hd_zone_civil(z, t, &now);
    int64_t day = hd_time_days_from_civil(now.year, now.month, now.day);
    int from = (int)(now.hour * 60 + now.minute) + 1;
    /* clocks going back soon: a wildcard job's next firing may be the
     * second pass of a time already shown, up to that much earlier */
    int64_t back = c->wild ? wall_secs(&now) - t - wall_offset(z, t + WALL_SHIFT_MAX) : 0;
    if (back > 0)
        from -= (int)((back + 59) / 60);
    if (from < 0) {
        day--;
        from += 24 * 60;
    }
    return search(c, z, t, day, from, next);
}
