/* time: the clock herald reads (settable, so tests control "now"), ISO 8601
 * parsing and formatting in UTC, calendar arithmetic, and time-zone names.
 * Times are int64 seconds since the Unix epoch, UTC, unless a name says _ms. */
#ifndef HERALD_TIME_H
#define HERALD_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/err.h"

struct hd_buf;

/* The clock. fixed_ms < 0 means the real clock; otherwise time stands still
 * at fixed_ms (tests, and HERALD_NOW for reproducible runs). */
struct hd_clock {
    int64_t fixed_ms;  /* -1 for the real clock */
    int64_t offset_ms; /* added to the real clock (hd_clock_run) */
};

void hd_clock_init(struct hd_clock *c); /* real clock */
/* Reads HERALD_NOW (ISO 8601) if set; a bad value is an error naming it. */
int hd_clock_init_env(struct hd_clock *c, struct hd_err *err);
int64_t hd_clock_now(const struct hd_clock *c); /* seconds */
/* A clock standing still starts running from where it stands (the
 * dispatcher waits for retries and quiet hours, so its time must pass). */
void hd_clock_run(struct hd_clock *c);
int64_t hd_clock_now_ms(const struct hd_clock *c); /* milliseconds */
int64_t hd_clock_mono_ms(void);                    /* monotonic, for intervals */
/* Only with HERALD_TEST set: the milliseconds in the variable name (a
 * pause a test asks for, standing for a slow machine), else 0. */
int hd_test_ms(const char *name);
void hd_sleep_ms(int ms); /* nothing for ms <= 0 */

/* What kind of ISO 8601 text was parsed. */
enum hd_time_kind {
    HD_TIME_DATE = 1,     /* YYYY-MM-DD: midnight UTC of that day */
    HD_TIME_DATETIME = 2, /* date and time, with or without an offset */
};

/* Parses YYYY-MM-DD, or YYYY-MM-DD(T| )HH:MM[:SS[.frac]][Z|(+|-)HH[:]MM].
 * A date-time without an offset is taken as UTC. *kind may be NULL. */
int hd_time_parse_iso(const char *s, int64_t *out, enum hd_time_kind *kind);
/* The same in milliseconds, a fraction's first three digits kept. */
int hd_time_parse_iso_ms(const char *s, int64_t *out_ms, enum hd_time_kind *kind);
/* Formats as YYYY-MM-DDTHH:MM:SSZ into buf (at least 21 bytes). */
void hd_time_format_iso(int64_t t, char *buf, unsigned size);
/* Formats as YYYY-MM-DD into buf (at least 11 bytes). */
void hd_time_format_date(int64_t t, char *buf, unsigned size);

/* Days since 1970-01-01 for a proleptic Gregorian date, and back. */
int64_t hd_time_days_from_civil(int64_t y, unsigned m, unsigned d);
void hd_time_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
bool hd_time_valid_date(int64_t y, unsigned m, unsigned d);
/* t moved by a number of calendar months (negative: back), its time of
 * day kept; a day the month has not becomes the month's last: 31 March
 * minus one month is 28 (or 29) February, 29 February plus a year 28
 * February. */
int64_t hd_time_add_months(int64_t t, int64_t months);

/* True when name is an IANA time-zone id known to ICU's zone data
 * ("Europe/Paris", "UTC"); abbreviations and custom offsets are refused.
 * ICU still knows "CST", "PST", "IST", "CTT" ... as legacy ids, but an
 * abbreviation names no one zone ("CST" in a Chinese CRM export is China,
 * and ICU reads it as Chicago), so any name of two to five capital letters
 * but UTC and GMT is refused. */
bool hd_time_zone_valid(const char *name);
/* What to say after "'NAME' is not an IANA time zone": for an abbreviation
 * the zones it likely means ("CST: America/Chicago or Asia/Shanghai?"),
 * else an example. A static string. */
const char *hd_time_zone_hint(const char *name);

/* The zones where the local date at t is not the UTC date: the IANA ids
 * (those hd_time_zone_valid takes) a day behind and a day ahead, each
 * appended to its buffer as a JSON array of strings. No zone is further
 * than a day from UTC. */
void hd_time_zones_off_day(int64_t t, struct hd_buf *behind, struct hd_buf *ahead);

/* Wall-clock time in a zone. */
struct hd_civil {
    int64_t year;
    unsigned month, day; /* 1..12, 1..31 */
    unsigned hour, minute, second;
    unsigned wday; /* 0 = Sunday (filled by hd_zone_civil only) */
};

/* An open time zone (ICU's zone data, daylight-saving rules included). Not
 * thread-safe; open one per thread. NULL when the name is not a zone. */
struct hd_zone;
struct hd_zone *hd_zone_open(const char *name);
void hd_zone_free(struct hd_zone *z);
/* t (UTC seconds) as wall-clock time in z. */
void hd_zone_civil(struct hd_zone *z, int64_t t, struct hd_civil *out);
/* The UTC time of a wall-clock time in z. A time skipped when the clocks
 * go forward becomes the first valid time after the gap (02:30 -> 03:00); a
 * time that happens twice when they go back is the first of the two. */
int64_t hd_zone_utc(struct hd_zone *z, const struct hd_civil *c);

/* t as ISO 8601 in z, with its offset (2026-12-02T18:00:00+08:00). */
void hd_zone_format_iso(struct hd_zone *z, int64_t t, char *buf, size_t size);

#endif
