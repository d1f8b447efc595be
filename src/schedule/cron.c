/* cron: 5-field cron expressions (parse, next firing in a zone). */
#include "herald/schedule.h"

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
    *star = strcmp(buf, "*") == 0 || strncmp(buf, "*/", 2) == 0;
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
    return 0;
}

static unsigned month_days(int64_t y, unsigned m)
{
    static const unsigned n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : n[m - 1];
}

static bool day_matches(const struct hd_cron *c, int64_t y, unsigned m, unsigned d)
{
    unsigned wday =
        (unsigned)((hd_time_days_from_civil(y, m, d) % 7 + 11) % 7); /* 1970-01-01: Thu */
    bool md = c->mday & (1u << d), wd = c->wday & (1u << wday);
    if (c->mday_star && c->wday_star)
        return true;
    if (c->mday_star)
        return wd;
    if (c->wday_star)
        return md;
    return md || wd;
}

int hd_cron_next(const struct hd_cron *c, struct hd_zone *z, int64_t t, int64_t *next)
{
    struct hd_civil now;
    hd_zone_civil(z, t, &now);
    /* walk wall-clock time from the minute after t's; a day that matches
     * is searched for an hour and a minute, else the next day */
    int64_t y = now.year;
    unsigned m = now.month, d = now.day;
    int first_minute = (int)(now.hour * 60 + now.minute) + 1;
    for (int days = 0; days < 8 * 366; days++) {
        if ((c->month & (1u << m)) && day_matches(c, y, m, d)) {
            for (int mm = days ? 0 : first_minute; mm < 24 * 60; mm++) {
                if (!(c->hour & (1u << (mm / 60))) || !(c->minute & (1ull << (mm % 60))))
                    continue;
                struct hd_civil cand = {y, m, d, (unsigned)(mm / 60), (unsigned)(mm % 60), 0, 0};
                int64_t u = hd_zone_utc(z, &cand);
                if (u > t) {
                    *next = u;
                    return 0;
                }
            }
        }
        if (++d > month_days(y, m)) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
    return HD_E_NOTFOUND;
}
