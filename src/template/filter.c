/* filter: herald's Mustache filters, {{ value | name args | name args }}.
 *
 *   default "x"        the value, or x when it is missing, null or empty
 *   upper, lower       case mapping for the message's locale (ICU)
 *   truncate N         at most N characters, the last one "…" when cut
 *   date "STYLE"       short|medium|long|full, or an ICU pattern ("yyyy-MM-dd");
 *                      date-times in the recipient's zone, plain dates as written;
 *                      "short+time", "medium+time" (...): the time of day too
 *   number [N]         locale grouping and decimals (at most N fraction digits)
 *   currency "CNY"     the amount in that ISO 4217 currency, in the locale's style
 *   days_until         whole days from now to a date (hd_segast_days: calendar
 *   days_since         days from today, UTC, on a plain date), as segments count;
 *                      with "local", the calendar days from the recipient's own
 *                      date (hd_segast_local_days), as days_until(x, local_today)
 *   months_until       whole calendar months from today (hd_segast_months_until)
 *   between A B, lt N, gt N    a number's test, for sections:
 *                      {{#expires | days_until | between 0 90}}...{{/expires}}
 *
 * ICU formatters are costly to open, so struct hd_fmt keeps every one opened,
 * keyed by what it depends on (locale, zone, style). A date formatter also
 * keeps its recent results, one a day (struct date_memo): formatting a date
 * was half of a recall email's render, and a campaign's dates repeat. */
#include "mst_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>
#include <unicode/udat.h>
#include <unicode/unum.h>
#include <unicode/ustring.h>

#include "herald/segast.h"
#include "herald/time.h"

/* ---- the formatter cache ------------------------------------------------------ */

enum fmt_kind { K_DECIMAL, K_CURRENCY, K_DATE, K_CALENDAR };

/* A date formatter's results by day (ICU's format of one date took about
 * 11,000 instructions, more than the rest of a recall email): the slot of
 * day d, d % MEMO_DAYS, holds the text of the last instant of that day
 * formatted, so MEMO_DAYS days running never share a slot; the instant
 * itself is compared, and a text of MEMO_TEXT bytes or more is not kept. */
#define MEMO_DAYS 512
#define MEMO_TEXT 56
struct memo_slot {
    int64_t t;
    bool used;
    unsigned char len;
    char text[MEMO_TEXT];
};
struct date_memo {
    struct memo_slot slot[MEMO_DAYS];
};

struct fmt_entry {
    enum fmt_kind kind;
    char *key;              /* locale|zone|style */
    void *h;                /* UNumberFormat*, UDateFormat* or UCalendar* */
    struct date_memo *memo; /* K_DATE: its results, made at the first */
};

struct hd_fmt {
    struct fmt_entry *e;
    size_t n;
};

struct hd_fmt *hd_fmt_new(void)
{
    return hd_xcalloc(1, sizeof(struct hd_fmt));
}

static struct fmt_entry *fmt_entry(struct hd_fmt *f, enum fmt_kind kind, const char *key)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->e[i].kind == kind && strcmp(f->e[i].key, key) == 0)
            return &f->e[i];
    return NULL;
}

static void *fmt_find(struct hd_fmt *f, enum fmt_kind kind, const char *key)
{
    struct fmt_entry *e = fmt_entry(f, kind, key);
    return e ? e->h : NULL;
}

static void entry_close(struct fmt_entry *e)
{
    switch (e->kind) {
    case K_DECIMAL:
    case K_CURRENCY:
        unum_close(e->h);
        break;
    case K_DATE:
        udat_close(e->h);
        break;
    case K_CALENDAR:
        ucal_close(e->h);
        break;
    }
    free(e->key);
    free(e->memo);
}

/* Templates name few formats, so the cache stays small; past FMT_MAX (only
 * reached by generated patterns) the oldest entry goes. */
#define FMT_MAX 256

/* The entry added; valid until the next add. */
static struct fmt_entry *fmt_add_entry(struct hd_fmt *f, enum fmt_kind kind, const char *key,
                                       void *h)
{
    if (f->n == FMT_MAX) {
        entry_close(&f->e[0]);
        memmove(f->e, f->e + 1, (f->n - 1) * sizeof *f->e);
        f->n--;
    }
    HD_GROW(f->e, f->n);
    f->e[f->n++] = (struct fmt_entry){kind, hd_xstrdup(key), h, NULL};
    return &f->e[f->n - 1];
}

static void *fmt_add(struct hd_fmt *f, enum fmt_kind kind, const char *key, void *h)
{
    return fmt_add_entry(f, kind, key, h)->h;
}

void hd_fmt_free(struct hd_fmt *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        entry_close(&f->e[i]);
    free(f->e);
    free(f);
}

/* BCP 47 to an ICU locale id ("zh-Hant-TW" -> "zh_Hant_TW"), cut to fit
 * (a copy, not snprintf: it runs for every filter of every message). */
static void icu_locale(const char *bcp, char *out, size_t size)
{
    hd_strcpy_cut(out, size, bcp && *bcp ? bcp : "en");
    for (char *p = out; *p; p++)
        if (*p == '-')
            *p = '_';
}

/* "A|B|C" into out, each cut to fit as snprintf would. */
static void key3(char *out, size_t size, const char *a, const char *b, const char *c)
{
    const char *parts[] = {a, "|", b, "|", c};
    size_t k = 0;
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        for (const char *p = parts[i]; *p && k + 1 < size; p++)
            out[k++] = *p;
    out[k] = '\0';
}

static int to_u16(const char *s, size_t n, UChar *out, int32_t cap, int32_t *len)
{
    UErrorCode st = U_ZERO_ERROR;
    u_strFromUTF8(out, cap, len, s, (int32_t)n, &st);
    return U_SUCCESS(st) && *len < cap ? 0 : -1;
}

static int from_u16(const UChar *s, int32_t n, struct hd_buf *out)
{
    UErrorCode st = U_ZERO_ERROR;
    int32_t need = 0;
    u_strToUTF8(NULL, 0, &need, s, n, &st);
    if (st != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(st))
        return -1;
    hd_buf_reset(out);
    hd_buf_reserve(out, (size_t)need + 1);
    st = U_ZERO_ERROR;
    u_strToUTF8(out->data, (int32_t)out->cap, &need, s, n, &st);
    if (U_FAILURE(st))
        return -1;
    out->len = (size_t)need;
    out->data[out->len] = '\0';
    return 0;
}

/* The recipient's date today (midnight UTC of it): the date at now in its
 * zone, UTC without one; the day local_today means in segments. */
static int64_t local_today(const struct hd_mst_env *env)
{
    struct hd_zone *z = hd_zone_open(env->timezone ? env->timezone : "UTC");
    if (!z)
        return env->now - (((env->now % 86400) + 86400) % 86400);
    struct hd_civil c;
    hd_zone_civil(z, env->now, &c);
    hd_zone_free(z);
    return hd_time_days_from_civil(c.year, c.month, c.day) * 86400;
}

/* ---- parsing --------------------------------------------------------------------- */

static const struct {
    const char *name;
    enum mst_filter_kind kind;
    int min_num, max_num; /* numeric arguments */
    int str;              /* 0 none, 1 optional, 2 required */
} filters[] = {
    {"default", F_DEFAULT, 0, 0, 2},
    {"upper", F_UPPER, 0, 0, 0},
    {"lower", F_LOWER, 0, 0, 0},
    {"truncate", F_TRUNCATE, 1, 1, 0},
    {"date", F_DATE, 0, 0, 1},
    {"number", F_NUMBER, 0, 1, 0},
    {"currency", F_CURRENCY, 0, 0, 2},
    {"days_until", F_DAYS_UNTIL, 0, 0, 1},
    {"days_since", F_DAYS_SINCE, 0, 0, 1},
    {"months_until", F_MONTHS_UNTIL, 0, 0, 0},
    {"between", F_BETWEEN, 2, 2, 0},
    {"lt", F_LT, 1, 1, 0},
    {"gt", F_GT, 1, 1, 0},
};

#define KNOWN_FILTERS                                                                              \
    "default, upper, lower, truncate, date, number, currency, days_until, days_since, "            \
    "months_until, between, lt, gt"

/* The filter named at the start of s: its index in filters[], or -1 with why
 * set. *i becomes the offset after the name. */
static int find_filter(const char *s, size_t n, size_t *i, char *why, size_t whysize)
{
    size_t k, e = 0;
    while (e < n && (islower((unsigned char)s[e]) || s[e] == '_'))
        e++;
    *i = e;
    if (e == 0) {
        snprintf(why, whysize, "a filter name is missing after '|' (known: " KNOWN_FILTERS ")");
        return -1;
    }
    size_t nf = sizeof filters / sizeof filters[0];
    for (k = 0; k < nf; k++)
        if (strlen(filters[k].name) == e && memcmp(filters[k].name, s, e) == 0)
            return (int)k;
    snprintf(why, whysize, "unknown filter '%.*s' (known: " KNOWN_FILTERS ")", (int)e, s);
    return -1;
}

/* A "string" or 'string' argument at s[*i] (the quote), with backslash
 * escapes; 'single' quotes read better inside JSON parts. */
static int string_arg(const char *s, size_t n, size_t *i, struct mst_filter *f, const char *name,
                      char *why, size_t whysize)
{
    char q = s[*i];
    struct hd_buf b;
    size_t j;
    hd_buf_init(&b);
    for (j = *i + 1; j < n && s[j] != q; j++) {
        if (s[j] == '\\' && j + 1 < n)
            j++;
        hd_buf_addc(&b, s[j]);
    }
    if (j == n || f->str) {
        hd_buf_release(&b);
        snprintf(why, whysize,
                 j == n ? "unterminated string in filter '%s'" : "filter '%s' takes one string",
                 name);
        return -1;
    }
    *i = j + 1;
    f->str = hd_buf_detach(&b, NULL);
    return 0;
}

/* A number argument at s[*i], up to the next whitespace. */
static int number_arg(const char *s, size_t n, size_t *i, struct mst_filter *f, const char *name,
                      char *why, size_t whysize)
{
    char *end;
    char num[32];
    size_t m = 0;
    while (*i + m < n && !isspace((unsigned char)s[*i + m]) && m < sizeof num - 1)
        m++;
    memcpy(num, s + *i, m);
    num[m] = '\0';
    double d = strtod(num, &end);
    if (end == num || *end || f->nnum == 2) {
        snprintf(why, whysize,
                 "filter '%s': '%s' is not an argument it takes (a number, or "
                 "a \"string\")",
                 name, num);
        return -1;
    }
    f->num[f->nnum++] = d;
    *i += m;
    return 0;
}

/* Whether filter k takes the arguments f got, and values it can use. */
static int check_args(const struct mst_filter *f, size_t k, char *why, size_t whysize)
{
    if (f->nnum < filters[k].min_num || f->nnum > filters[k].max_num ||
        (filters[k].str == 2 && !f->str) || (filters[k].str == 0 && f->str)) {
        static const char *const usage[] = {[F_DEFAULT] = "default \"text\"",
                                            [F_UPPER] = "upper",
                                            [F_LOWER] = "lower",
                                            [F_TRUNCATE] = "truncate N",
                                            [F_DATE] = "date \"short|medium|long|full|pattern\"",
                                            [F_NUMBER] = "number [fraction digits]",
                                            [F_CURRENCY] = "currency \"CNY\"",
                                            [F_DAYS_UNTIL] = "days_until [\"local\"]",
                                            [F_DAYS_SINCE] = "days_since [\"local\"]",
                                            [F_MONTHS_UNTIL] = "months_until",
                                            [F_BETWEEN] = "between LOW HIGH",
                                            [F_LT] = "lt N",
                                            [F_GT] = "gt N"};
        snprintf(why, whysize, "wrong arguments for filter '%s' (write: %s)", filters[k].name,
                 usage[f->kind]);
        return -1;
    }
    if ((f->kind == F_DAYS_UNTIL || f->kind == F_DAYS_SINCE) && f->str &&
        strcmp(f->str, "local") != 0) {
        snprintf(why, whysize, "filter '%s': the one argument is \"local\" (the recipient's day)",
                 filters[k].name);
        return -1;
    }
    if (f->kind == F_TRUNCATE && (f->num[0] < 1 || f->num[0] != floor(f->num[0]))) {
        snprintf(why, whysize, "filter 'truncate' needs a whole number of characters, at least 1");
        return -1;
    }
    if (f->kind == F_CURRENCY &&
        (strlen(f->str) != 3 || !isupper((unsigned char)f->str[0]) ||
         !isupper((unsigned char)f->str[1]) || !isupper((unsigned char)f->str[2]))) {
        snprintf(why, whysize,
                 "filter 'currency': '%s' is not an ISO 4217 code such as CNY or "
                 "USD",
                 f->str);
        return -1;
    }
    return 0;
}

int mst_filter_parse(const char *s, size_t n, struct mst_filter *f, char *why, size_t whysize)
{
    size_t i;
    memset(f, 0, sizeof *f);
    int k = find_filter(s, n, &i, why, whysize);
    if (k < 0)
        return -1;
    const char *name = filters[k].name;
    f->kind = filters[k].kind;
    while (i < n) {
        while (i < n && isspace((unsigned char)s[i]))
            i++;
        if (i == n)
            break;
        int rc = s[i] == '"' || s[i] == '\'' ? string_arg(s, n, &i, f, name, why, whysize)
                                             : number_arg(s, n, &i, f, name, why, whysize);
        if (rc < 0)
            goto bad;
    }
    if (check_args(f, (size_t)k, why, whysize) < 0)
        goto bad;
    return 0;
bad:
    free(f->str);
    f->str = NULL;
    return -1;
}

void mst_filter_release(struct mst_filter *f)
{
    free(f->str);
    f->str = NULL;
}

/* ---- applying ------------------------------------------------------------------------ */

static int as_number(struct mst_val *v, double *d)
{
    if (v->type == V_NUM) {
        *d = v->num;
        return 0;
    }
    if (v->type == V_STR && v->s->len) {
        char *end;
        *d = strtod(v->s->data, &end);
        return *end ? -1 : 0;
    }
    return -1;
}

/* Seconds since the epoch and whether it is a plain date. */
static int as_time(struct mst_val *v, int64_t *t, bool *date_only)
{
    if (v->type == V_NUM) {
        *t = (int64_t)v->num;
        *date_only = false;
        return 0;
    }
    enum hd_time_kind kind;
    if (v->type == V_STR && hd_time_parse_iso(v->s->data, t, &kind) == 0) {
        *date_only = kind == HD_TIME_DATE;
        return 0;
    }
    return -1;
}

static void set_str(struct mst_val *v, const char *s, size_t n)
{
    hd_buf_reset(v->s);
    hd_buf_add(v->s, s, n);
    v->type = V_STR;
}

static int case_map(const struct hd_mst_env *env, struct mst_val *v, bool upper, struct hd_buf *tmp)
{
    UChar in[1024], out[2048];
    int32_t n, m;
    char loc[64];
    UErrorCode st = U_ZERO_ERROR;
    icu_locale(env->locale, loc, sizeof loc);
    if (to_u16(v->s->data, v->s->len, in, 1024, &n) < 0)
        return -1;
    m = upper ? u_strToUpper(out, 2048, in, n, loc, &st) : u_strToLower(out, 2048, in, n, loc, &st);
    if (U_FAILURE(st) || from_u16(out, m, tmp) < 0)
        return -1;
    set_str(v, tmp->data, tmp->len);
    return 0;
}

static void truncate_chars(struct mst_val *v, size_t max)
{
    size_t chars = 0, cut = 0;
    for (size_t i = 0; i < v->s->len; i++) {
        if (((unsigned char)v->s->data[i] & 0xC0) == 0x80)
            continue;
        if (chars == max - 1)
            cut = i;
        chars++;
    }
    if (chars <= max)
        return;
    v->s->len = cut;
    hd_buf_adds(v->s, "\xE2\x80\xA6"); /* … */
}

static int format_date(const struct hd_mst_env *env, struct mst_val *v, const char *style,
                       struct hd_buf *tmp, char *why, size_t whysize)
{
    int64_t t;
    bool date_only;
    if (as_time(v, &t, &date_only) < 0) {
        snprintf(why, whysize, "filter 'date': '%s' is not an ISO 8601 date or time",
                 v->type == V_STR ? v->s->data : "(not text)");
        return -1;
    }
    /* a plain date is a calendar day, not an instant: show it as written */
    const char *zone = date_only ? "UTC" : env->timezone ? env->timezone : "UTC";
    char loc[64], key[256];
    icu_locale(env->locale, loc, sizeof loc);
    style = style ? style : "medium";
    key3(key, sizeof key, loc, zone, style);
    struct fmt_entry *fe = fmt_entry(env->fmt, K_DATE, key);
    if (!fe) {
        UDateFormat *df;
        static const struct {
            const char *name;
            UDateFormatStyle s;
        } styles[] = {{"short", UDAT_SHORT},
                      {"medium", UDAT_MEDIUM},
                      {"long", UDAT_LONG},
                      {"full", UDAT_FULL}};
        UChar z[128], pat[256];
        int32_t zn, pn = 0;
        UErrorCode st = U_ZERO_ERROR;
        UDateFormatStyle ds = UDAT_PATTERN, ts = UDAT_NONE;
        size_t sn = strlen(style);
        bool with_time = sn > 5 && strcmp(style + sn - 5, "+time") == 0; /* "medium+time" */
        for (size_t i = 0; i < 4; i++)
            if (strncmp(style, styles[i].name, with_time ? sn - 5 : sn) == 0 &&
                strlen(styles[i].name) == (with_time ? sn - 5 : sn))
                ds = styles[i].s;
        if (with_time && ds != UDAT_PATTERN)
            ts = ds == UDAT_SHORT ? UDAT_SHORT : UDAT_MEDIUM; /* seconds, no zone name */
        if (to_u16(zone, strlen(zone), z, 128, &zn) < 0 ||
            (ds == UDAT_PATTERN && to_u16(style, strlen(style), pat, 256, &pn) < 0)) {
            snprintf(why, whysize, "filter 'date': bad zone or pattern");
            return -1;
        }
        df = udat_open(ds == UDAT_PATTERN ? UDAT_PATTERN : ts, ds, loc, z, zn,
                       ds == UDAT_PATTERN ? pat : NULL, ds == UDAT_PATTERN ? pn : 0, &st);
        if (U_FAILURE(st)) {
            snprintf(why, whysize, "filter 'date': cannot format with '%s': %s", style,
                     u_errorName(st));
            return -1;
        }
        fe = fmt_add_entry(env->fmt, K_DATE, key, df);
    }
    if (!fe->memo)
        fe->memo = hd_xcalloc(1, sizeof *fe->memo);
    int64_t day = t / 86400 - (t % 86400 < 0);
    struct memo_slot *m = &fe->memo->slot[(uint64_t)day % MEMO_DAYS];
    if (m->used && m->t == t) {
        set_str(v, m->text, m->len);
        return 0;
    }
    UChar out[256];
    UErrorCode st = U_ZERO_ERROR;
    int32_t n = udat_format(fe->h, (UDate)t * 1000.0, out, 256, NULL, &st);
    if (U_FAILURE(st) || from_u16(out, n, tmp) < 0) {
        snprintf(why, whysize, "filter 'date': formatting failed");
        return -1;
    }
    if (tmp->len < MEMO_TEXT) {
        m->t = t;
        m->used = true;
        m->len = (unsigned char)tmp->len;
        memcpy(m->text, tmp->data, tmp->len);
    }
    set_str(v, tmp->data, tmp->len);
    return 0;
}

static int format_number(const struct hd_mst_env *env, struct mst_val *v,
                         const struct mst_filter *f, struct hd_buf *tmp, char *why, size_t whysize)
{
    double d;
    if (as_number(v, &d) < 0) {
        snprintf(why, whysize, "filter '%s': '%s' is not a number",
                 f->kind == F_CURRENCY ? "currency" : "number",
                 v->type == V_STR       ? v->s->data
                 : v->type == V_MISSING ? "(missing)"
                                        : "(bool)");
        return -1;
    }
    char loc[64], key[128];
    icu_locale(env->locale, loc, sizeof loc);
    bool cur = f->kind == F_CURRENCY;
    int digits = !cur && f->nnum ? (int)f->num[0] : -1;
    snprintf(key, sizeof key, "%s|%d", loc, digits);
    UNumberFormat *nf = fmt_find(env->fmt, cur ? K_CURRENCY : K_DECIMAL, key);
    UErrorCode st = U_ZERO_ERROR;
    if (!nf) {
        nf = unum_open(cur ? UNUM_CURRENCY : UNUM_DECIMAL, NULL, 0, loc, NULL, &st);
        if (U_FAILURE(st)) {
            snprintf(why, whysize, "cannot format numbers for locale '%s'", loc);
            return -1;
        }
        if (digits >= 0)
            unum_setAttribute(nf, UNUM_MAX_FRACTION_DIGITS, digits);
        fmt_add(env->fmt, cur ? K_CURRENCY : K_DECIMAL, key, nf);
    }
    UChar out[128];
    int32_t n;
    if (cur) {
        UChar code[4] = {(UChar)f->str[0], (UChar)f->str[1], (UChar)f->str[2], 0};
        n = unum_formatDoubleCurrency(nf, d, code, out, 128, NULL, &st);
    } else {
        n = unum_formatDouble(nf, d, out, 128, NULL, &st);
    }
    if (U_FAILURE(st) || from_u16(out, n, tmp) < 0) {
        snprintf(why, whysize, "number formatting failed");
        return -1;
    }
    set_str(v, tmp->data, tmp->len);
    return 0;
}

int mst_filter_apply(const struct mst_filter *f, const struct hd_mst_env *env, struct mst_val *v,
                     struct hd_buf *tmp, char *why, size_t whysize)
{
    if (!env->fmt &&
        (f->kind == F_DATE || f->kind == F_NUMBER || f->kind == F_CURRENCY ||
         f->kind == F_DAYS_UNTIL || f->kind == F_DAYS_SINCE || f->kind == F_MONTHS_UNTIL))
        HD_BUG("filter needs an hd_fmt in the render env");
    switch (f->kind) {
    case F_DEFAULT:
        if (v->type == V_MISSING || (v->type == V_STR && v->s->len == 0))
            set_str(v, f->str, strlen(f->str));
        return 0;
    case F_UPPER:
    case F_LOWER:
        if (v->type == V_STR && case_map(env, v, f->kind == F_UPPER, tmp) < 0) {
            snprintf(why, whysize, "case mapping failed (text too long or not UTF-8)");
            return -1;
        }
        return 0;
    case F_TRUNCATE:
        if (v->type == V_STR)
            truncate_chars(v, (size_t)f->num[0]);
        return 0;
    case F_DATE:
        if (v->type == V_MISSING)
            return 0;
        return format_date(env, v, f->str, tmp, why, whysize);
    case F_NUMBER:
    case F_CURRENCY:
        if (v->type == V_MISSING)
            return 0;
        return format_number(env, v, f, tmp, why, whysize);
    case F_DAYS_UNTIL:
    case F_DAYS_SINCE:
    case F_MONTHS_UNTIL: {
        int64_t t;
        bool date_only;
        if (v->type == V_MISSING)
            return 0;
        if (as_time(v, &t, &date_only) < 0) {
            snprintf(why, whysize, "filter '%s': '%s' is not an ISO 8601 date or time",
                     f->kind == F_DAYS_UNTIL   ? "days_until"
                     : f->kind == F_DAYS_SINCE ? "days_since"
                                               : "months_until",
                     v->type == V_STR ? v->s->data : "(not text)");
            return -1;
        }
        /* the segments' meaning, so that a template says what its segment chose */
        v->type = V_NUM;
        v->num = f->kind == F_MONTHS_UNTIL ? (double)hd_segast_months_until(t, env->now)
                 : f->str
                     ? (double)hd_segast_local_days(f->kind == F_DAYS_UNTIL, t, local_today(env))
                     : (double)hd_segast_days(f->kind == F_DAYS_UNTIL, t, date_only, env->now);
        return 0;
    }
    case F_BETWEEN:
    case F_LT:
    case F_GT: {
        double d;
        bool ok = as_number(v, &d) == 0;
        v->type = V_BOOL;
        v->b = ok && (f->kind == F_BETWEEN ? d >= f->num[0] && d <= f->num[1]
                      : f->kind == F_LT    ? d < f->num[0]
                                           : d > f->num[0]);
        return 0;
    }
    }
    HD_BUG("filter kind %d", (int)f->kind);
}
