/* segast: allocation and printing of segment syntax trees, and the number
 * model rules and attributes share: which text is a number, and that number
 * written back as the model keeps it (hd_segast_add_number; most numbers
 * need no conversion, only the rest go through strtod and "%.15g"). */
#include "herald/segast.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/config.h"
#include "herald/time.h"

struct hd_seg_node *hd_segast_new(enum hd_seg_type type, int line, int col)
{
    struct hd_seg_node *n = hd_xcalloc(1, sizeof *n);
    n->type = type;
    n->line = line;
    n->col = col;
    n->category = -1;
    return n;
}

void hd_segast_add(struct hd_seg_node *parent, struct hd_seg_node *kid)
{
    HD_GROW(parent->kids, parent->nkids);
    parent->kids[parent->nkids++] = kid;
}

void hd_segast_free(struct hd_seg_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        hd_segast_free(n->kids[i]);
    free(n->kids);
    free(n->path);
    free(n->str);
    free(n);
}

static const char *const field_names[] = {[SEGF_ATTR] = "?",
                                          [SEGF_ID] = "id",
                                          [SEGF_EMAIL] = "email",
                                          [SEGF_PHONE] = "phone",
                                          [SEGF_LOCALE] = "locale",
                                          [SEGF_TIMEZONE] = "timezone",
                                          [SEGF_CREATED_AT] = "created_at",
                                          [SEGF_UPDATED_AT] = "updated_at"};
static const char *const op_names[] = {"=", "!=", "<", "<=", ">", ">=", "+", "-"};
static const char *const agg_names[] = {"count", "sum", "min", "max", "avg", "last", "first"};

const char *hd_segast_agg_name(enum hd_seg_agg agg)
{
    return agg_names[agg];
}

/* did, count, sum, min, max, avg, last, first: "(did "login" >= 3 since
 * 2026-10-23T08:00:00Z)", "(sum "purchase" "amount")". */
static void print_event(const struct hd_seg_node *n, struct hd_buf *out)
{
    char t[32];
    hd_buf_addf(out, "(%s ", n->type == SEG_DID ? "did" : agg_names[n->agg]);
    hd_buf_add_json_str(out, n->str, strlen(n->str));
    if (n->path) {
        hd_buf_addc(out, ' ');
        hd_buf_add_json_str(out, n->path, strlen(n->path));
    }
    if (n->type == SEG_DID)
        hd_buf_addf(out, " %s %lld", op_names[n->op], (long long)n->i);
    if (n->windowed) {
        hd_time_format_iso(n->t, t, sizeof t);
        hd_buf_addf(out, " since %s", t);
    }
    hd_buf_addc(out, ')');
}

static void kids(const struct hd_seg_node *n, struct hd_buf *out, size_t from)
{
    for (size_t i = from; i < n->nkids; i++) {
        hd_buf_addc(out, ' ');
        hd_segast_print(n->kids[i], out);
    }
}

/* The head of the list a node prints as, "(and ...)" with its kids, or
 * NULL for a node printed by print_leaf. */
static const char *list_head(const struct hd_seg_node *n)
{
    switch (n->type) {
    case SEG_AND:
        return "and";
    case SEG_OR:
        return "or";
    case SEG_NOT:
        return "not";
    case SEG_CMP:
        return n->nocase ? "ieq" : op_names[n->op];
    case SEG_ARITH:
        return op_names[n->op];
    case SEG_IN:
        if (n->nocase)
            return n->negated ? "not-iin" : "iin";
        return n->negated ? "not-in" : "in";
    case SEG_ENDS_WITH:
        return "ends_with";
    case SEG_MATCHES:
        return "matches";
    case SEG_EMPTY:
        return n->negated ? "not-empty" : "empty";
    case SEG_LENGTH:
        return "length";
    case SEG_CONTAINS:
        return "contains";
    case SEG_STARTS_WITH:
        return "starts_with";
    case SEG_EXISTS:
        return n->negated ? "is-null" : "exists";
    case SEG_BETWEEN:
        return n->negated ? "not-between" : "between";
    case SEG_TRUTHY:
        return "true?";
    case SEG_DAYS_SINCE:
        return "days_since";
    case SEG_DAYS_UNTIL:
    case SEG_MONTHS_UNTIL:
    case SEG_DATEPART:
        return hd_segast_fn_name(n);
    default:
        return NULL;
    }
}

/* "(received "recall" sms since 2026-11-15T08:00:00Z)", "(converted
 * "recall" "purchase" 604800s)". */
static void print_message(const struct hd_seg_node *n, struct hd_buf *out)
{
    char t[32];
    hd_buf_adds(out, n->type == SEG_MESSAGED ? "(received" : "(converted");
    if (n->str) {
        hd_buf_addc(out, ' ');
        hd_buf_add_json_str(out, n->str, strlen(n->str));
    }
    if (n->type == SEG_CONVERTED) {
        hd_buf_addc(out, ' ');
        hd_buf_add_json_str(out, n->path, strlen(n->path));
        hd_buf_addf(out, " %llds", (long long)n->i);
    }
    if (n->type == SEG_MESSAGED && n->channel >= 0)
        hd_buf_addf(out, " %s", hd_channel_name(n->channel));
    if (n->windowed) {
        hd_time_format_iso(n->t, t, sizeof t);
        hd_buf_addf(out, " since %s", t);
    }
    hd_buf_addc(out, ')');
}

/* A node without kids, or whose kids are not printed as a list. */
static void print_leaf(const struct hd_seg_node *n, struct hd_buf *out)
{
    char t[32];
    switch (n->type) {
    case SEG_REACHABLE:
    case SEG_OPTED_IN:
        hd_buf_addf(out, "(%s %s", n->type == SEG_REACHABLE ? "reachable" : "opted_in",
                    hd_channel_name(n->channel));
        if (n->category >= 0)
            hd_buf_addf(out, " %s", hd_category_name(n->category));
        hd_buf_addc(out, ')');
        break;
    case SEG_IN_SEGMENT:
        hd_buf_addf(out, "(in_segment \"%s\")", n->path);
        break;
    case SEG_DID:
    case SEG_EV_AGG:
    case SEG_EV_TIME:
        print_event(n, out);
        break;
    case SEG_MESSAGED:
    case SEG_CONVERTED:
        print_message(n, out);
        break;
    case SEG_BOUNCED:
        hd_buf_adds(out, "bounced");
        break;
    case SEG_LOCAL_TODAY:
        hd_buf_adds(out, "local_today");
        if (n->i)
            hd_buf_addf(out, "%+lldmo", (long long)n->i);
        if (n->t)
            hd_buf_addf(out, "%+llds", (long long)n->t);
        break;
    case SEG_COMPLAINED:
        hd_buf_adds(out, "complained");
        break;
    case SEG_OPENED:
        hd_buf_adds(out, "opened");
        break;
    case SEG_FIELD:
        hd_buf_adds(out, n->field == SEGF_ATTR ? n->path : field_names[n->field]);
        break;
    case SEG_STRING:
        hd_buf_add_json_str(out, n->str, strlen(n->str));
        break;
    case SEG_NUMBER:
        if (n->is_int)
            hd_buf_addf(out, "%lld", (long long)n->i);
        else
            hd_buf_addf(out, "%g", n->num);
        break;
    case SEG_BOOL:
        hd_buf_adds(out, n->b ? "true" : "false");
        break;
    case SEG_TIME:
        if (n->date_only)
            hd_time_format_date(n->t, t, sizeof t);
        else
            hd_time_format_iso(n->t, t, sizeof t);
        hd_buf_adds(out, t);
        break;
    case SEG_DURATION:
        if (n->i)
            hd_buf_addf(out, "%lldmo", (long long)n->i);
        else
            hd_buf_addf(out, "%gs", n->num);
        break;
    default: /* the lists of list_head */
        break;
    }
}

void hd_segast_print(const struct hd_seg_node *n, struct hd_buf *out)
{
    const char *head = list_head(n);
    if (!head) {
        print_leaf(n, out);
        return;
    }
    hd_buf_addc(out, '(');
    hd_buf_adds(out, head);
    kids(n, out, 0);
    if (n->local)
        hd_buf_adds(out, " local_today");
    hd_buf_addc(out, ')');
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

int64_t hd_segast_days(bool until, int64_t t, bool date_only, int64_t now)
{
    if (date_only) {
        int64_t day = floor_div(t, 86400), today = floor_div(now, 86400);
        return until ? day - today : today - day;
    }
    return floor_div(until ? t - now : now - t, 86400);
}

int64_t hd_segast_local_days(bool until, int64_t t, int64_t today)
{
    int64_t day = floor_div(t, 86400), local = floor_div(today, 86400);
    return until ? day - local : local - day;
}

double hd_segast_decimal(double d)
{
    char buf[40];
    if (!isfinite(d))
        return d;
    snprintf(buf, sizeof buf, "%.15g", d);
    return strtod(buf, NULL);
}

bool hd_segast_is_number(const char *s)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (isdigit((unsigned char)*p))
        while (isdigit((unsigned char)*p))
            p++;
    else
        return false;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == '\0' && p - s <= 40;
}

/* Most numbers need no conversion: an integer under 19 digits, or a
 * decimal without exponent, of at most 15 significant digits and not below
 * 1e-4 (which %g writes with an exponent), only loses the trailing zeros of
 * its fraction. The rest go through strtod and "%.15g", written as
 * jansson writes a real (a ".0" added, the exponent's '+' and leading zeros
 * dropped). */
int hd_segast_add_number(struct hd_buf *b, const char *v, size_t n)
{
    const char *p = v + (*v == '-'), *e = v + n, *point = NULL, *q;
    int sig = 0, zeros = 0;
    for (q = p; q < e && *q != 'e' && *q != 'E'; q++) {
        if (*q == '.')
            point = q;
        else if (sig || *q != '0')
            sig++;
        else if (point)
            zeros++; /* 0.000x */
    }
    if (q == e && !point) {
        errno = 0;
        if (e - p < 19 || (strtoll(v, NULL, 10), errno != ERANGE)) {
            hd_buf_add(b, v, n);
            return 0;
        }
    } else if (q == e) {
        const char *end = e;
        while (end[-1] == '0' && end - 1 > point + 1)
            end--;
        if (sig - (e - end) <= 15 && zeros < 4) {
            hd_buf_add(b, v, (size_t)(end - v));
            return 0;
        }
    }
    double d = strtod(v, NULL);
    char out[48], *x;
    if (!isfinite(d))
        return -1;
    snprintf(out, sizeof out, "%.15g", d);
    if (!strpbrk(out, ".e"))
        hd_buf_addf(b, "%s.0", out);
    else if ((x = strchr(out, 'e')) != NULL) {
        hd_buf_add(b, out, (size_t)(x - out) + 1);
        x++;
        if (*x == '+' || *x == '-')
            if (*x++ == '-')
                hd_buf_addc(b, '-');
        while (*x == '0' && x[1])
            x++;
        hd_buf_adds(b, x);
    } else
        hd_buf_adds(b, out);
    return 0;
}

int64_t hd_segast_months_until(int64_t t, int64_t now)
{
    int64_t today = floor_div(now, 86400) * 86400, y1, y2;
    unsigned m1, m2, d;
    hd_time_civil_from_days(floor_div(today, 86400), &y1, &m1, &d);
    hd_time_civil_from_days(floor_div(t, 86400), &y2, &m2, &d);
    /* the month difference, or one less: add_months is monotone */
    int64_t m = (y2 * 12 + m2) - (y1 * 12 + m1);
    while (hd_time_add_months(today, m) > t)
        m--;
    while (hd_time_add_months(today, m + 1) <= t)
        m++;
    return m;
}

int64_t hd_segast_part(enum hd_seg_part part, int64_t t)
{
    int64_t days = floor_div(t, 86400), y;
    unsigned m, d;
    hd_time_civil_from_days(days, &y, &m, &d);
    switch (part) {
    case SEGP_YEAR:
        return y;
    case SEGP_MONTH:
        return m;
    case SEGP_DAY:
        return d;
    default: /* 1970-01-01 was a Thursday */
        return ((days % 7) + 11) % 7;
    }
}

const char *hd_segast_fn_name(const struct hd_seg_node *n)
{
    static const char *const parts[] = {"year", "month", "day", "weekday"};
    switch (n->type) {
    case SEG_DAYS_SINCE:
        return "days_since";
    case SEG_DAYS_UNTIL:
        return "days_until";
    case SEG_MONTHS_UNTIL:
        return "months_until";
    case SEG_LENGTH:
        return "length";
    default:
        return parts[n->part];
    }
}
