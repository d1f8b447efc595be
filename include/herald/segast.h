/* segast: the syntax tree of a segment rule, shared by the parser
 * (audience/segment.c, text -> tree) and the SQL compiler
 * (store/segments.c, tree -> parameterised SQL). Every node keeps the line
 * and column it came from, for messages. */
#ifndef HERALD_SEGAST_H
#define HERALD_SEGAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/buf.h"

enum hd_seg_type {
    /* conditions */
    SEG_AND, /* kids[0] and kids[1] */
    SEG_OR,
    SEG_NOT,         /* kids[0] */
    SEG_CMP,         /* kids[0] op kids[1] */
    SEG_IN,          /* kids[0] in (kids[1..]) ; negated for "not in" */
    SEG_CONTAINS,    /* kids[0] contains kids[1] */
    SEG_STARTS_WITH, /* kids[0] starts_with kids[1] */
    SEG_EXISTS,      /* kids[0] exists ; negated: "is null" */
    SEG_BETWEEN,     /* kids[0] between kids[1] and kids[2] ; negated for "not between" */
    SEG_TRUTHY,      /* a boolean attribute on its own: "vip" */
    SEG_REACHABLE,   /* reachable(channel[, category]) */
    SEG_OPTED_IN,    /* opted_in(channel[, category]) */
    SEG_IN_SEGMENT,  /* in_segment("name") */
    SEG_DID,         /* did("event"[, count OP i][, within D]): str, op, i, windowed, t */
    SEG_MESSAGED,    /* received(["campaign"][, channel CH][, within D]), messaged(...): a
                      * message went out; str (or NULL), channel (or -1), windowed, t */
    SEG_CONVERTED,   /* converted("campaign", "event"[, within D]): str, path, i (seconds) */
    SEG_BOUNCED,     /* an address of the contact suppressed for a permanent refusal */
    SEG_COMPLAINED,  /* the contact's email suppressed for a complaint */
    SEG_OPENED,      /* a sender reported one of the contact's emails opened (a receipt) */
    /* values */
    SEG_FIELD, /* a built-in field or an attribute path */
    SEG_STRING,
    SEG_NUMBER,
    SEG_BOOL,
    SEG_TIME,         /* a date or date-time literal, now, today, or arithmetic on them */
    SEG_DURATION,     /* 30d */
    SEG_DAYS_SINCE,   /* days_since(kids[0]) */
    SEG_DAYS_UNTIL,   /* days_until(kids[0]) */
    SEG_ARITH,        /* kids[0] (+|-) kids[1]: a time and a duration, folded when parsed */
    SEG_EV_AGG,       /* count/sum/min/max/avg("event"[, "property"][, within D]): a number */
    SEG_EV_TIME,      /* last/first("event"[, within D]): a date-time */
    SEG_MONTHS_UNTIL, /* months_until(kids[0]) */
    SEG_DATEPART,     /* year/month/day/weekday(kids[0]), in UTC: part */
    SEG_ENDS_WITH,    /* kids[0] ends_with kids[1] */
    SEG_MATCHES,      /* kids[0] matches kids[1]: a glob (* ? [...]), case-sensitive */
    SEG_EMPTY,        /* kids[0] is empty: no elements, "" or missing; negated: is not empty */
    SEG_LENGTH,       /* length(kids[0]): a list's elements, a text's characters */
    SEG_LOCAL_TODAY,  /* the contact's own today (its zone's date, as midnight UTC), moved
                       * by i calendar months then t seconds (whole days) */
};

/* SEG_DATEPART: weekday is 0 for Sunday to 6 for Saturday. */
enum hd_seg_part { SEGP_YEAR, SEGP_MONTH, SEGP_DAY, SEGP_WEEKDAY };

/* What SEG_EV_AGG and SEG_EV_TIME compute over a contact's events of one
 * name (str) in the window: sum, min, max and avg of a numeric property
 * (path), skipping events without it. */
enum hd_seg_agg { SEGA_COUNT, SEGA_SUM, SEGA_MIN, SEGA_MAX, SEGA_AVG, SEGA_LAST, SEGA_FIRST };

enum hd_seg_op { SEG_EQ, SEG_NE, SEG_LT, SEG_LE, SEG_GT, SEG_GE, SEG_ADD, SEG_SUB };

/* What a value is, once typed. */
enum hd_seg_vtype { SEGV_ANY, SEGV_STRING, SEGV_NUMBER, SEGV_BOOL, SEGV_DATE, SEGV_ARRAY };

/* Built-in contact fields; SEG_FIELD with field == SEGF_ATTR is an attribute. */
enum hd_seg_field {
    SEGF_ATTR,
    SEGF_ID,
    SEGF_EMAIL,
    SEGF_PHONE,
    SEGF_LOCALE,
    SEGF_TIMEZONE,
    SEGF_CREATED_AT,
    SEGF_UPDATED_AT,
};

struct hd_seg_node {
    enum hd_seg_type type;
    int line, col;
    bool negated;      /* not in, not between, is null */
    bool nocase;       /* SEG_CMP (ieq), SEG_IN (iin): ASCII letters in either case */
    enum hd_seg_op op; /* SEG_CMP, SEG_ARITH; SEG_DID: the count's comparison */
    enum hd_seg_field field;
    char *path;     /* SEG_FIELD attributes: "address.city"; SEG_IN_SEGMENT: the name; SEG_EV_AGG:
                     * the property */
    char *str;      /* SEG_STRING; SEG_DID, SEG_EV_*: the event's name */
    double num;     /* SEG_NUMBER; SEG_DURATION: seconds (0 with months) */
    bool is_int;    /* SEG_NUMBER: an integer literal, exactly i */
    int64_t i;      /* SEG_NUMBER when is_int; SEG_DID: the count op compares with; SEG_DURATION:
                     * calendar months (mo, y) */
    bool b;         /* SEG_BOOL */
    int64_t t;      /* SEG_TIME: seconds since the epoch */
    bool date_only; /* SEG_TIME: a calendar date (midnight UTC) */
    int channel, category;   /* SEG_REACHABLE, SEG_OPTED_IN; category -1 for any */
    enum hd_seg_vtype vtype; /* SEG_FIELD: the attribute's type, when known */
    enum hd_seg_agg agg;     /* SEG_EV_AGG, SEG_EV_TIME */
    enum hd_seg_part part;   /* SEG_DATEPART */
    bool windowed;           /* SEG_DID, SEG_EV_*: only events at t (the window's start) or later,
                              * and not after now */
    bool local;              /* SEG_DAYS_SINCE, SEG_DAYS_UNTIL: counted from local_today */
    struct hd_seg_node **kids;
    size_t nkids;
};

struct hd_seg_node *hd_segast_new(enum hd_seg_type type, int line, int col);
void hd_segast_add(struct hd_seg_node *parent, struct hd_seg_node *kid);
void hd_segast_free(struct hd_seg_node *n);
/* A compact S-expression of the tree, for tests and debugging:
 * (and (>= (days_since last_active) 30) (in plan "gold" "silver")) */
void hd_segast_print(const struct hd_seg_node *n, struct hd_buf *out);
/* The name of an aggregate as the language writes it: "sum", "last". */
const char *hd_segast_agg_name(enum hd_seg_agg agg);

/* The one meaning of days_until (until true) and days_since of the instant t,
 * for segments (compiled into bounds by store/segments.c) and templates: on a
 * plain date (date_only, t at midnight UTC) the whole calendar days between
 * today (UTC) and that date, so days_until(today) = 0 and tomorrow 1; on a
 * date-time the whole days between now and t, rounded down:
 * days_since(x) = 7 means 7 to 8 days ago. */
int64_t hd_segast_days(bool until, int64_t t, bool date_only, int64_t now);

/* The one meaning of days_until(x, local_today) (until true) and
 * days_since(x, local_today): the calendar days between the contact's own
 * date today (today: midnight UTC of that date) and the date of t (its UTC
 * date for a date-time), so days_until(x, local_today) >= n is
 * x >= local_today + n days as instants. */
int64_t hd_segast_local_days(bool until, int64_t t, int64_t today);

/* The one meaning of months_until(x) for the instant t: the most whole
 * calendar months m such that today (midnight UTC) plus m months
 * (hd_time_add_months) is not after t. From 31 January, 28 February is one
 * month away; from 15 March, 14 April is none. */
int64_t hd_segast_months_until(int64_t t, int64_t now);
/* A part of the instant t, in UTC. */
int64_t hd_segast_part(enum hd_seg_part part, int64_t t);
/* The function's name of a date function node: "days_since", "month". */
const char *hd_segast_fn_name(const struct hd_seg_node *n);

/* The number model of attributes and rules: an integer (no fraction, no
 * exponent) that fits in 64 bits is exact; any other number is a decimal
 * kept to 15 significant digits, which prints back as it was written and
 * compares equal whatever its last binary digits. Rounds d to that. */
double hd_segast_decimal(double d);
/* Whether the text s is a number of that model: a JSON-style number, all of
 * s (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, at most 40 bytes), so
 * never "007", "+44", "0x1A", " 5" or "1,000". What a CSV cell must be to
 * be read as a number, by contacts import and events import alike. */
bool hd_segast_is_number(const char *s);
/* Appends the number v (a string of n bytes that hd_segast_is_number
 * takes) to b as the model keeps it: an integer that fits in 64 bits as
 * written, any other number as a decimal of 15 significant digits, as
 * jansson's JSON_REAL_PRECISION(15) writes a real ("2000.0", "1e16").
 * -1, with nothing appended, when it overflows a double ("1e999"). */
int hd_segast_add_number(struct hd_buf *b, const char *v, size_t n);

#endif
