/* units: the value syntaxes of the configuration and the command line:
 * durations ("90s", "12h", "30d", "1h30m"), rates ("100/s", "6000/min"),
 * cap windows ("3/7d") and daily windows ("21:00-08:00"). Parsers return 0 or
 * HD_E_PARSE with a message that quotes the value and shows the syntax. */
#ifndef HERALD_UNITS_H
#define HERALD_UNITS_H

#include <stddef.h>
#include <stdint.h>

#include "herald/err.h"

/* A rate: count events per period seconds. */
struct hd_rate {
    uint32_t count;  /* events, >= 1 */
    uint32_t period; /* seconds: 1, 60, 3600 or 86400 */
};

/* A frequency cap: at most count messages in any window of window seconds. */
struct hd_cap {
    uint32_t count; /* may be 0: nothing at all in the window */
    int64_t window; /* seconds, >= 1 */
};

/* A daily time window in minutes after midnight; start > end spans midnight. */
struct hd_window {
    int start; /* 0..1439 */
    int end;   /* 0..1439, != start */
};

/* Units: s, m (or min), h, d, w; several may follow each other ("1h30m").
 * The result is in seconds, > 0 and at most HD_UNITS_DURATION_MAX, so that
 * what hd_units_format_duration prints of it reads back the same. */
#define HD_UNITS_DURATION_MAX (36525LL * 86400) /* 100 years */
int hd_units_duration(const char *s, int64_t *secs, struct hd_err *err);
/* The same, where zero makes sense (a wait, a grace period): also "0",
 * "0s", "0m" ... give 0. */
int hd_units_duration0(const char *s, int64_t *secs, struct hd_err *err);
/* "1 message", "2 messages": n and the noun, singular or plural (plural,
 * or the noun and "s" when plural is NULL), into buf; returns buf. */
const char *hd_units_count(long long n, const char *noun, const char *plural, char *buf,
                           size_t size);
int hd_units_rate(const char *s, struct hd_rate *rate, struct hd_err *err);
int hd_units_cap(const char *s, struct hd_cap *cap, struct hd_err *err);
int hd_units_window(const char *s, struct hd_window *w, struct hd_err *err);
/* Writes the shortest exact form ("90s" -> "1m30s", 86400 -> "1d"). */
void hd_units_format_duration(int64_t secs, char *buf, unsigned size);
void hd_units_format_rate(const struct hd_rate *r, char *buf, unsigned size);
double hd_units_rate_per_sec(const struct hd_rate *r);

#endif
