/* units: small hand-written parsers; each reads the whole string or fails. */
#include "herald/units.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int unit_seconds(const char **p, int64_t *mult)
{
    static const struct {
        const char *name;
        int64_t secs;
    } units[] = {{"min", 60}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 604800}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t n = strlen(units[i].name);
        if (strncmp(*p, units[i].name, n) == 0) {
            *p += n;
            *mult = units[i].secs;
            return 0;
        }
    }
    return -1;
}

/* The grammar of a duration: numbers each with a unit. 0, -1 for text
 * that is not one, -2 for more than HD_UNITS_DURATION_MAX. */
static int duration_sum(const char *s, int64_t *total)
{
    const char *p = s;
    *total = 0;
    if (!*p)
        return -1;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        int64_t v = 0, mult;
        while (isdigit((unsigned char)*p)) {
            v = v * 10 + (*p++ - '0');
            if (v > 100000000)
                return -1;
        }
        if (unit_seconds(&p, &mult) < 0)
            return -1;
        *total += v * mult;
        if (*total > HD_UNITS_DURATION_MAX)
            return -2;
    }
    return 0;
}

static int duration(const char *s, bool zero, int64_t *secs, struct hd_err *err)
{
    int64_t total;
    int rc = zero && strcmp(s, "0") == 0 ? (total = 0) : duration_sum(s, &total);
    if (rc == -2)
        return hd_err_set(err, HD_E_PARSE,
                          "'%s' is longer than 100 years, the longest duration herald takes", s);
    if (rc < 0 || total < 0 || (total == 0 && !zero))
        return hd_err_set(
            err, HD_E_PARSE,
            "'%s' is not a duration (write a number and a unit: %s90s, 15m, 12h, 30d, 2w)", s,
            zero ? "0, " : "");
    *secs = total;
    return 0;
}

int hd_units_duration(const char *s, int64_t *secs, struct hd_err *err)
{
    return duration(s, false, secs, err);
}

int hd_units_duration0(const char *s, int64_t *secs, struct hd_err *err)
{
    return duration(s, true, secs, err);
}

const char *hd_units_count(long long n, const char *noun, const char *plural, char *buf,
                           size_t size)
{
    if (n == 1)
        snprintf(buf, size, "1 %s", noun);
    else if (plural)
        snprintf(buf, size, "%lld %s", n, plural);
    else
        snprintf(buf, size, "%lld %ss", n, noun);
    return buf;
}

int hd_units_rate(const char *s, struct hd_rate *rate, struct hd_err *err)
{
    static const struct {
        const char *name;
        uint32_t secs;
    } per[] = {{"s", 1}, {"sec", 1}, {"m", 60}, {"min", 60}, {"h", 3600}, {"d", 86400}};
    const char *p = s;
    uint64_t v = 0;
    if (!isdigit((unsigned char)*p))
        goto bad;
    while (isdigit((unsigned char)*p)) {
        v = v * 10 + (uint64_t)(*p++ - '0');
        if (v > 1000000000)
            goto bad;
    }
    if (v == 0 || *p++ != '/')
        goto bad;
    for (size_t i = 0; i < sizeof per / sizeof per[0]; i++) {
        if (strcmp(p, per[i].name) == 0) {
            rate->count = (uint32_t)v;
            rate->period = per[i].secs;
            return 0;
        }
    }
bad:
    return hd_err_set(err, HD_E_PARSE,
                      "'%s' is not a rate (write count/unit: 100/s, 6000/min, 50000/h, 1000000/d)",
                      s);
}

int hd_units_cap(const char *s, struct hd_cap *cap, struct hd_err *err)
{
    const char *slash = strchr(s, '/');
    char num[16];
    if (!slash || slash == s || (size_t)(slash - s) >= sizeof num)
        goto bad;
    memcpy(num, s, (size_t)(slash - s));
    num[slash - s] = '\0';
    uint32_t v = 0;
    for (const char *p = num; *p; p++) {
        if (!isdigit((unsigned char)*p) || v > 100000)
            goto bad;
        v = v * 10 + (uint32_t)(*p - '0');
    }
    if (hd_units_duration(slash + 1, &cap->window, NULL) < 0)
        goto bad;
    cap->count = v;
    return 0;
bad:
    return hd_err_set(err, HD_E_PARSE,
                      "'%s' is not a cap (write messages/window: 3/7d, 1/1d, 10/30d)", s);
}

static int hhmm(const char **p, int *minutes)
{
    const char *q = *p;
    if (!isdigit((unsigned char)q[0]) || !isdigit((unsigned char)q[1]) || q[2] != ':' ||
        !isdigit((unsigned char)q[3]) || !isdigit((unsigned char)q[4]))
        return -1;
    int h = (q[0] - '0') * 10 + (q[1] - '0'), m = (q[3] - '0') * 10 + (q[4] - '0');
    if (h > 24 || m > 59 || (h == 24 && m != 0))
        return -1;
    *minutes = (h * 60 + m) % 1440;
    *p = q + 5;
    return 0;
}

int hd_units_window(const char *s, struct hd_window *w, struct hd_err *err)
{
    const char *p = s;
    if (hhmm(&p, &w->start) < 0 || *p++ != '-' || hhmm(&p, &w->end) < 0 || *p || w->start == w->end)
        return hd_err_set(err, HD_E_PARSE,
                          "'%s' is not a time window (write HH:MM-HH:MM, e.g. 21:00-08:00)", s);
    return 0;
}

void hd_units_format_duration(int64_t secs, char *buf, unsigned size)
{
    static const struct {
        char unit;
        int64_t secs;
    } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    size_t n = 0;
    buf[0] = '\0';
    if (secs <= 0) {
        snprintf(buf, size, "0s");
        return;
    }
    for (size_t i = 0; i < 4 && secs > 0; i++) {
        if (secs < units[i].secs)
            continue;
        int w =
            snprintf(buf + n, size - n, "%lld%c", (long long)(secs / units[i].secs), units[i].unit);
        if (w < 0 || (size_t)w >= size - n)
            return;
        n += (size_t)w;
        secs %= units[i].secs;
    }
}

void hd_units_format_rate(const struct hd_rate *r, char *buf, unsigned size)
{
    const char *u = r->period == 1 ? "s" : r->period == 60 ? "min" : r->period == 3600 ? "h" : "d";
    snprintf(buf, size, "%u/%s", r->count, u);
}

double hd_units_rate_per_sec(const struct hd_rate *r)
{
    return (double)r->count / (double)r->period;
}
