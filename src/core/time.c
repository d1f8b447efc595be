/* time: clock, ISO 8601 and calendar arithmetic. Calendar conversion uses
 * Howard Hinnant's days-from-civil algorithm, so no call depends on the
 * process's TZ or on non-standard timegm(). Zone names are checked with ICU. */
#include "herald/time.h"
#include "herald/buf.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unicode/ucal.h>
#include <unicode/uenum.h>
#include <unicode/ustring.h>

void hd_clock_init(struct hd_clock *c)
{
    c->fixed_ms = -1;
    c->offset_ms = 0;
}

int hd_clock_init_env(struct hd_clock *c, struct hd_err *err)
{
    hd_clock_init(c);
    const char *s = getenv("HERALD_NOW");
    if (!s || !*s)
        return 0;
    int64_t t;
    if (hd_time_parse_iso(s, &t, NULL) < 0)
        return hd_err_set(err, HD_E_CONFIG, "HERALD_NOW: '%s' is not an ISO 8601 date or time", s);
    c->fixed_ms = t * 1000;
    return 0;
}

int hd_test_ms(const char *name)
{
    const char *v = getenv("HERALD_TEST") ? getenv(name) : NULL;
    return v ? atoi(v) : 0;
}

void hd_sleep_ms(int ms)
{
    if (ms > 0)
        nanosleep(&(struct timespec){ms / 1000, ms % 1000 * 1000000L}, NULL);
}

int64_t hd_clock_now_ms(const struct hd_clock *c)
{
    if (c && c->fixed_ms >= 0)
        return c->fixed_ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + (c ? c->offset_ms : 0);
}

void hd_clock_run(struct hd_clock *c)
{
    if (c->fixed_ms < 0)
        return;
    int64_t fixed = c->fixed_ms;
    c->fixed_ms = -1;
    c->offset_ms = 0;
    c->offset_ms = fixed - hd_clock_now_ms(c);
}

int64_t hd_clock_now(const struct hd_clock *c)
{
    int64_t ms = hd_clock_now_ms(c);
    return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

int64_t hd_clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hd_time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void hd_time_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int64_t hd_time_add_months(int64_t t, int64_t months)
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400), secs = t - days * 86400, y;
    unsigned m, d;
    hd_time_civil_from_days(days, &y, &m, &d);
    int64_t idx = y * 12 + (m - 1) + months;
    int64_t ny = idx >= 0 ? idx / 12 : -((-idx + 11) / 12);
    unsigned nm = (unsigned)(idx - ny * 12) + 1;
    int64_t first = hd_time_days_from_civil(ny, nm, 1);
    int64_t next =
        nm == 12 ? hd_time_days_from_civil(ny + 1, 1, 1) : hd_time_days_from_civil(ny, nm + 1, 1);
    unsigned last = (unsigned)(next - first);
    return (first + (d < last ? d : last) - 1) * 86400 + secs;
}

bool hd_time_valid_date(int64_t y, unsigned m, unsigned d)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

/* Reads exactly n digits at *p. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* hd_time_parse_iso, and the fraction's milliseconds in *msec */
static int parse_iso(const char *s, int64_t *out, int *msec, enum hd_time_kind *kind)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, se = 0;
    *msec = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return HD_E_PARSE;
    if (!hd_time_valid_date(y, (unsigned)mo, (unsigned)d))
        return HD_E_PARSE;
    int64_t days = hd_time_days_from_civil(y, (unsigned)mo, (unsigned)d);
    if (*p == '\0') {
        *out = days * 86400;
        if (kind)
            *kind = HD_TIME_DATE;
        return 0;
    }
    if (*p != 'T' && *p != 't' && *p != ' ')
        return HD_E_PARSE;
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
        return HD_E_PARSE;
    if (*p == ':') {
        p++;
        if (!digits(&p, 2, &se))
            return HD_E_PARSE;
        if (*p == '.' || *p == ',') {
            p++;
            if (!isdigit((unsigned char)*p))
                return HD_E_PARSE;
            for (int scale = 100; isdigit((unsigned char)*p); p++, scale /= 10)
                *msec += (*p - '0') * scale; /* milliseconds: finer is dropped */
        }
    }
    if (h > 23 || mi > 59 || se > 60)
        return HD_E_PARSE;
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (!digits(&p, 2, &oh))
            return HD_E_PARSE;
        if (*p == ':')
            p++;
        if (!digits(&p, 2, &om) || oh > 23 || om > 59)
            return HD_E_PARSE;
        off = sign * (oh * 3600 + om * 60);
    }
    if (*p != '\0')
        return HD_E_PARSE;
    *out = days * 86400 + h * 3600 + mi * 60 + (se == 60 ? 59 : se) - off;
    if (kind)
        *kind = HD_TIME_DATETIME;
    return 0;
}

int hd_time_parse_iso(const char *s, int64_t *out, enum hd_time_kind *kind)
{
    int msec;
    return parse_iso(s, out, &msec, kind);
}

int hd_time_parse_iso_ms(const char *s, int64_t *out_ms, enum hd_time_kind *kind)
{
    int64_t t;
    int msec, rc = parse_iso(s, &t, &msec, kind);
    if (rc == 0)
        *out_ms = t * 1000 + msec;
    return rc;
}

static char *put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* Writes YYYY-MM-DD (years 0-9999; imports see millions of dates, so no
 * snprintf) and returns the end; buf has at least 11 bytes. */
static char *put_date(char *p, int64_t days)
{
    int64_t y;
    unsigned m, d;
    hd_time_civil_from_days(days, &y, &m, &d);
    unsigned yy = y < 0 ? 0 : y > 9999 ? 9999 : (unsigned)y;
    p = put2(p, yy / 100);
    p = put2(p, yy % 100);
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    p = put2(p, d);
    *p = '\0';
    return p;
}

void hd_time_format_iso(int64_t t, char *buf, unsigned size)
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    unsigned secs = (unsigned)(t - days * 86400);
    char tmp[32], *p = put_date(tmp, days);
    *p++ = 'T';
    p = put2(p, secs / 3600);
    *p++ = ':';
    p = put2(p, secs / 60 % 60);
    *p++ = ':';
    p = put2(p, secs % 60);
    *p++ = 'Z';
    *p = '\0';
    size_t n = (size_t)(p - tmp) + 1;
    memcpy(buf, tmp, n <= size ? n : size);
    buf[size - 1] = '\0';
}

void hd_time_format_date(int64_t t, char *buf, unsigned size)
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    char tmp[16];
    size_t n = (size_t)(put_date(tmp, days) - tmp) + 1;
    memcpy(buf, tmp, n <= size ? n : size);
    buf[size - 1] = '\0';
}

/* Two to five capital letters: an abbreviation, however ICU reads it. */
static bool abbreviation(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (name[i] < 'A' || name[i] > 'Z')
            return false;
    return n >= 2 && n <= 5 && strcmp(name, "UTC") != 0 && strcmp(name, "GMT") != 0;
}

const char *hd_time_zone_hint(const char *name)
{
    static const struct {
        const char *abbr, *hint;
    } known[] = {
        {"CST", "CST: America/Chicago or Asia/Shanghai?"},
        {"CTT", "CTT: Asia/Shanghai?"},
        {"PRC", "PRC: Asia/Shanghai?"},
        {"EST", "EST: America/New_York?"},
        {"EDT", "EDT: America/New_York?"},
        {"CDT", "CDT: America/Chicago?"},
        {"MST", "MST: America/Denver or America/Phoenix?"},
        {"MDT", "MDT: America/Denver?"},
        {"PST", "PST: America/Los_Angeles?"},
        {"PDT", "PDT: America/Los_Angeles?"},
        {"HST", "HST: Pacific/Honolulu?"},
        {"AST", "AST: America/Halifax or Asia/Riyadh?"},
        {"IST", "IST: Asia/Kolkata, Europe/Dublin or Asia/Jerusalem?"},
        {"JST", "JST: Asia/Tokyo?"},
        {"KST", "KST: Asia/Seoul?"},
        {"HKT", "HKT: Asia/Hong_Kong?"},
        {"SGT", "SGT: Asia/Singapore?"},
        {"BST", "BST: Europe/London or Asia/Dhaka?"},
        {"CET", "CET: Europe/Paris or Europe/Berlin?"},
        {"CEST", "CEST: Europe/Paris or Europe/Berlin?"},
        {"EET", "EET: Europe/Athens or Europe/Helsinki?"},
        {"WET", "WET: Europe/Lisbon?"},
        {"AEST", "AEST: Australia/Sydney or Australia/Brisbane?"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(name, known[i].abbr) == 0)
            return known[i].hint;
    if (abbreviation(name))
        return "an abbreviation names no one zone: write the region's, e.g. Asia/Shanghai";
    return "e.g. Asia/Shanghai, America/New_York";
}

bool hd_time_zone_valid(const char *name)
{
    UChar id[128], canon[128];
    UErrorCode st = U_ZERO_ERROR;
    size_t n = strlen(name);
    if (n == 0 || n >= 100 || abbreviation(name))
        return false;
    /* IANA ids are ASCII letters, digits and "/_-+"; ICU also accepts custom
     * "GMT+5" ids, which isSystemID below refuses. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '/' && c != '_' && c != '-' && c != '+')
            return false;
    }
    u_uastrcpy(id, name);
    UBool system = 0;
    ucal_getCanonicalTimeZoneID(id, -1, canon, 128, &system, &st);
    return U_SUCCESS(st) && system;
}

struct hd_zone {
    UCalendar *cal;
};

struct hd_zone *hd_zone_open(const char *name)
{
    if (!hd_time_zone_valid(name))
        return NULL;
    UChar id[128];
    UErrorCode st = U_ZERO_ERROR;
    u_uastrcpy(id, name);
    UCalendar *cal = ucal_open(id, -1, "en_US@calendar=gregorian", UCAL_GREGORIAN, &st);
    if (U_FAILURE(st))
        return NULL;
    /* proleptic Gregorian, so that old dates follow the same rules */
    ucal_setGregorianChange(cal, -8.64e15, &st);
    ucal_setAttribute(cal, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_FIRST);
    ucal_setAttribute(cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_NEXT_VALID);
    struct hd_zone *z = hd_xcalloc(1, sizeof *z);
    z->cal = cal;
    return z;
}

void hd_zone_free(struct hd_zone *z)
{
    if (!z)
        return;
    ucal_close(z->cal);
    free(z);
}

void hd_zone_civil(struct hd_zone *z, int64_t t, struct hd_civil *out)
{
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(z->cal, (UDate)t * 1000.0, &st);
    out->year = ucal_get(z->cal, UCAL_EXTENDED_YEAR, &st);
    out->month = (unsigned)ucal_get(z->cal, UCAL_MONTH, &st) + 1;
    out->day = (unsigned)ucal_get(z->cal, UCAL_DATE, &st);
    out->hour = (unsigned)ucal_get(z->cal, UCAL_HOUR_OF_DAY, &st);
    out->minute = (unsigned)ucal_get(z->cal, UCAL_MINUTE, &st);
    out->second = (unsigned)ucal_get(z->cal, UCAL_SECOND, &st);
    out->wday = (unsigned)ucal_get(z->cal, UCAL_DAY_OF_WEEK, &st) - 1; /* UCAL_SUNDAY is 1 */
}

int64_t hd_zone_utc(struct hd_zone *z, const struct hd_civil *c)
{
    UErrorCode st = U_ZERO_ERROR;
    ucal_clear(z->cal);
    ucal_set(z->cal, UCAL_EXTENDED_YEAR, (int32_t)c->year);
    ucal_set(z->cal, UCAL_MONTH, (int32_t)c->month - 1);
    ucal_set(z->cal, UCAL_DATE, (int32_t)c->day);
    ucal_set(z->cal, UCAL_HOUR_OF_DAY, (int32_t)c->hour);
    ucal_set(z->cal, UCAL_MINUTE, (int32_t)c->minute);
    ucal_set(z->cal, UCAL_SECOND, (int32_t)c->second);
    UDate ms = ucal_getMillis(z->cal, &st);
    return (int64_t)floor(ms / 1000.0);
}

void hd_time_zones_off_day(int64_t t, struct hd_buf *behind, struct hd_buf *ahead)
{
    UErrorCode st = U_ZERO_ERROR;
    UEnumeration *ids = ucal_openTimeZones(&st);
    int64_t today = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    const char *name;
    bool first[2] = {true, true};
    hd_buf_addc(behind, '[');
    hd_buf_addc(ahead, '[');
    while (U_SUCCESS(st) && (name = uenum_next(ids, NULL, &st)) != NULL) {
        struct hd_zone *z = hd_time_zone_valid(name) ? hd_zone_open(name) : NULL;
        if (!z)
            continue;
        struct hd_civil c;
        hd_zone_civil(z, t, &c);
        hd_zone_free(z);
        int64_t day = hd_time_days_from_civil(c.year, c.month, c.day);
        if (day == today)
            continue;
        struct hd_buf *b = day < today ? behind : ahead;
        if (!first[day > today])
            hd_buf_addc(b, ',');
        first[day > today] = false;
        hd_buf_add_json_str(b, name, strlen(name));
    }
    uenum_close(ids);
    hd_buf_addc(behind, ']');
    hd_buf_addc(ahead, ']');
}

void hd_zone_format_iso(struct hd_zone *z, int64_t t, char *buf, size_t size)
{
    struct hd_civil c;
    hd_zone_civil(z, t, &c);
    int64_t wall = hd_time_days_from_civil(c.year, c.month, c.day) * 86400 + c.hour * 3600 +
                   c.minute * 60 + c.second;
    int64_t off = (wall - t) / 60, a = off < 0 ? -off : off;
    snprintf(buf, size, "%04lld-%02u-%02uT%02u:%02u:%02u%c%02lld:%02lld", (long long)c.year,
             c.month, c.day, c.hour, c.minute, c.second, off < 0 ? '-' : '+', (long long)(a / 60),
             (long long)(a % 60));
}
