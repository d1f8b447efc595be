/* import: one pass over the file. Each row is validated into a struct
 * hd_contact_row and written through the store's prepared upsert inside one
 * transaction. In the default mode the first bad row stops the writing (the
 * transaction will be rolled back) but validation goes on, so every bad row
 * is counted and the first max_errors are listed. Attribute types come from
 * opts->types, else from earlier imports (the attributes table), else from the
 * data: in CSV, a column's first non-empty value decides its type; in JSON
 * Lines, the JSON value does (with ISO 8601 strings read as dates). */
#include "herald/import.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "herald/buf.h"
#include "herald/csv.h"
#include "herald/hash.h"
#include "herald/progress.h"
#include "herald/segast.h"
#include "herald/time.h"
#include "herald/transcode.h"
#include "herald/valid.h"
#include "import_int.h"

enum role {
    R_ATTR,
    R_ID,
    R_EMAIL,
    R_PHONE,
    R_LOCALE,
    R_TZ,
    R_FCM,
    R_APNS,
    R_JPUSH,
    R_HMS,
    R_WECHAT,
    R_CREATED,
    R_COUNT
};
static const char *const role_names[R_COUNT] = {
    NULL,        "id",         "email",    "phone",     "locale",        "timezone",
    "fcm_token", "apns_token", "jpush_id", "hms_token", "wechat_openid", "created_at"};

enum atype { T_NONE, T_NUMBER, T_BOOLEAN, T_DATE, T_STRING, T_OBJECT, T_ARRAY, T_COUNT };
static const char *const type_names[T_COUNT] = {NULL,     "number", "boolean", "date",
                                                "string", "object", "array"};

struct attr {
    char *name;
    enum atype type;
    bool declared; /* by opts->types */
    bool recorded; /* the attributes table has it */
    long first;    /* line whose value decided the type, 0 if known before */
};

/* Names to indices of an array: open addressing with linear probing in a
 * power-of-two table kept at most half full, so finding a name costs one
 * hash of it however many names there are (a linear search made a file of
 * 40,000 columns take 15 s). slot[k] is an index + 1, 0 for an empty slot. */
struct names {
    size_t *slot;
    size_t mask; /* table size - 1; the table is empty while slot is NULL */
    size_t count;
};

/* The name at index i of the array the table indexes. */
typedef const char *(*name_at_fn)(const void *base, size_t i);

struct imp {
    const struct hd_import_opts *o;
    const char *name; /* file name for messages */
    /* the progress bar: erased before a message, so the two never share a line */
    struct hd_progress *pg;
    struct hd_store *st;
    struct hd_store_import *sim; /* NULL in a dry run or once writing stopped */
    struct hd_valid *valid;
    struct attr *attrs; /* grown by HD_GROW */
    size_t nattrs;
    struct names attr_index; /* name -> index in attrs */
    struct hd_import_result *res;
    struct hd_buf json, reason, rejrow;
    FILE *rej;
    char rej_tmp[4200]; /* "" when rej is the rejects path itself (not a file) */
    unsigned listed;
    bool jsonl;
    /* normal forms of the current row */
    char email[320], phone[128], locale[128], tz[128], idnum[32];
    struct hd_contact_row row;
    /* a CRM's file: its map, the ids seen, the row's country and line */
    struct hd_imap map;
    struct hd_idset ids;
    ptrdiff_t country_col; /* CSV: the country column, or -1 */
    const char *region;    /* national numbers of this row: its country or the default */
    char country[3];
    long line;
    unsigned warned;
    char field[64]; /* the field of the latest reason */
};

static enum atype type_parse(const char *s)
{
    for (int i = 1; i < T_COUNT; i++)
        if (strcmp(s, type_names[i]) == 0)
            return (enum atype)i;
    return T_NONE;
}

static bool valid_attr_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || (!isalpha((unsigned char)s[0]) && s[0] != '_'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return false;
    return true;
}

static void names_release(struct names *t)
{
    free(t->slot);
    memset(t, 0, sizeof *t);
}

/* The slot holding name, or the empty slot where it would go. */
static size_t *names_probe(const struct names *t, const char *name, const void *base, name_at_fn at)
{
    size_t k = (size_t)hd_hash64(name, strlen(name), 0) & t->mask;
    while (t->slot[k] && strcmp(at(base, t->slot[k] - 1), name) != 0)
        k = (k + 1) & t->mask;
    return &t->slot[k];
}

/* The index of name, or -1. */
static ptrdiff_t names_find(const struct names *t, const char *name, const void *base,
                            name_at_fn at)
{
    if (!t->slot)
        return -1;
    size_t *slot = names_probe(t, name, base, at);
    return *slot ? (ptrdiff_t)(*slot - 1) : -1;
}

/* Records that index i (not in the table yet) holds its name. */
static void names_add(struct names *t, size_t i, const void *base, name_at_fn at)
{
    if (2 * (t->count + 1) > (t->slot ? t->mask + 1 : 0)) {
        struct names bigger = {.mask = t->slot ? 2 * t->mask + 1 : 63};
        bigger.slot = hd_xcalloc(bigger.mask + 1, sizeof *bigger.slot);
        for (size_t k = 0; t->slot && k <= t->mask; k++)
            if (t->slot[k])
                *names_probe(&bigger, at(base, t->slot[k] - 1), base, at) = t->slot[k];
        bigger.count = t->count;
        free(t->slot);
        *t = bigger;
    }
    *names_probe(t, at(base, i), base, at) = i + 1;
    t->count++;
}

static const char *attr_name_at(const void *base, size_t i)
{
    return ((const struct attr *)base)[i].name;
}

static struct attr *attr_find(struct imp *im, const char *name)
{
    ptrdiff_t i = names_find(&im->attr_index, name, im->attrs, attr_name_at);
    return i < 0 ? NULL : &im->attrs[i];
}

/* A new attribute (pointers to earlier ones may move). */
static struct attr *attr_add(struct imp *im, const char *name)
{
    HD_GROW(im->attrs, im->nattrs);
    struct attr *a = &im->attrs[im->nattrs];
    memset(a, 0, sizeof *a);
    a->name = hd_xstrdup(name);
    names_add(&im->attr_index, im->nattrs++, im->attrs, attr_name_at);
    return a;
}

/* An attribute this import names that the database does not know yet;
 * NULL beyond HD_IMPORT_MAX_ATTRS with the reason in *why_not. */
static struct attr *attr_new(struct imp *im, const char *name, char *why_not, size_t n)
{
    if (im->nattrs < HD_IMPORT_MAX_ATTRS)
        return attr_add(im, name);
    int w = snprintf(why_not, n,
                     "'%s' is one attribute too many: a database holds at most %d attributes, "
                     "and this import with the earlier ones names more",
                     name, HD_IMPORT_MAX_ATTRS);
    (void)w; /* a long name may cut the reason short; it still names the attribute */
    return NULL;
}

static int known_type_cb(void *ud, const char *name, const char *type)
{
    struct imp *im = ud;
    struct attr *a = attr_find(im, name);
    if (!a)
        a = attr_add(im, name);
    if (!a->declared)
        a->type = type_parse(type);
    a->recorded = true;
    return 0;
}

/* The caller's name for an option (opts->hints), or plain words. */
static const char *hint(const char *h, const char *plain)
{
    return h ? h : plain;
}

/* types: col=number,col2=date */
static int parse_types(struct imp *im, const char *spec, struct hd_err *err)
{
    const char *p = spec, *opt = hint(im->o->hints.types, "types");
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char item[160], *eq;
        if (n >= sizeof item)
            return hd_err_set(err, HD_E_USAGE, "%s: '%.*s' is too long", opt, (int)n, p);
        memcpy(item, p, n);
        item[n] = '\0';
        if (!(eq = strchr(item, '=')))
            return hd_err_set(err, HD_E_USAGE,
                              "%s: '%s' should be COLUMN=TYPE (number, boolean, date, string)", opt,
                              item);
        *eq = '\0';
        enum atype t = type_parse(eq + 1);
        if (!valid_attr_name(item))
            return hd_err_set(err, HD_E_USAGE, "%s: '%s' is not an attribute name", opt, item);
        if (t == T_NONE || t == T_OBJECT || t == T_ARRAY)
            return hd_err_set(err, HD_E_USAGE,
                              "%s: '%s' is not one of number, boolean, date, string", opt, eq + 1);
        struct attr *a = attr_find(im, item);
        char too_many[200];
        if (!a && !(a = attr_new(im, item, too_many, sizeof too_many)))
            return hd_err_set(err, HD_E_USAGE, "%s: %s", opt, too_many);
        /* every stored value of an attribute has its one recorded type: a
         * declaration cannot change it (it did, silently, and rules then
         * compared "high" with numbers: a review found it) */
        if (a->recorded && a->type != t)
            return hd_err_set(err, HD_E_USAGE,
                              "%s: attribute '%s' is recorded as %s, not %s: every stored value "
                              "of an attribute has one type (use another attribute name)",
                              opt, item, type_names[a->type], type_names[t]);
        a->type = t;
        a->declared = true;
        p += n + (comma != NULL);
    }
    return 0;
}

/* Quotes a value for a message: at most 60 bytes, control characters shown as '?'. */
static void add_quoted(struct hd_buf *b, const char *s, size_t n)
{
    hd_buf_addc(b, '\'');
    for (size_t i = 0; i < n && i < 60; i++)
        hd_buf_addc(b, (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i]);
    if (n > 60)
        hd_buf_adds(b, "...");
    hd_buf_addc(b, '\'');
}

static void why(struct imp *im, const char *field, const char *value, const char *what,
                const char *detail)
{
    hd_buf_reset(&im->reason);
    snprintf(im->field, sizeof im->field, "%s", field);
    hd_buf_addf(&im->reason, "field '%s': ", field);
    if (value) {
        add_quoted(&im->reason, value, strlen(value));
        hd_buf_addf(&im->reason, " is not %s", what);
    } else {
        hd_buf_adds(&im->reason, what);
    }
    if (detail && *detail)
        hd_buf_addf(&im->reason, " (%s)", detail);
}

/* ---- values --------------------------------------------------------------------- */

static int is_bool(const char *s)
{
    if (strcasecmp(s, "true") == 0)
        return 1;
    if (strcasecmp(s, "false") == 0)
        return 0;
    return -1;
}

/* Appends the normalised date as a JSON string, or returns -1. */
static int add_date(struct hd_buf *b, const char *s)
{
    int64_t t;
    enum hd_time_kind kind;
    char out[32];
    if (hd_time_parse_iso(s, &t, &kind) < 0)
        return -1;
    if (kind == HD_TIME_DATE)
        hd_time_format_date(t, out, sizeof out);
    else
        hd_time_format_iso(t, out, sizeof out);
    hd_buf_addc(b, '"');
    hd_buf_adds(b, out);
    hd_buf_addc(b, '"');
    return 0;
}

static enum atype infer(const char *s)
{
    int64_t t;
    if (hd_time_parse_iso(s, &t, NULL) == 0)
        return T_DATE;
    if (is_bool(s) >= 0)
        return T_BOOLEAN;
    if (hd_segast_is_number(s))
        return T_NUMBER;
    return T_STRING;
}

static void trim(char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s))
        (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*s)[--*n] = '\0';
}

/* Adds "name":value to im->json for a CSV cell; 0, or -1 with im->reason set. */
static int csv_attr(struct imp *im, struct attr *a, char *v, size_t n, long line)
{
    struct hd_buf *b = &im->json;
    size_t mark = b->len;
    if (!hd_valid_utf8(v, n)) {
        why(im, a->name, NULL, "not valid UTF-8", NULL);
        return -1;
    }
    if (a->type != T_STRING)
        trim(&v, &n);
    if (n == 0)
        return 0; /* an empty cell gives nothing */
    if (a->type == T_NONE) {
        a->type = infer(v);
        a->first = line;
    }
    if (b->len > 1)
        hd_buf_addc(b, ',');
    hd_buf_add_json_str(b, a->name, strlen(a->name));
    hd_buf_addc(b, ':');
    const char *what = NULL;
    switch (a->type) {
    case T_NUMBER:
        if (!hd_segast_is_number(v) || hd_segast_add_number(b, v, n) < 0)
            what = "a number";
        break;
    case T_BOOLEAN: {
        int x = is_bool(v);
        if (x >= 0)
            hd_buf_adds(b, x ? "true" : "false");
        else
            what = "a boolean (true or false)";
        break;
    }
    case T_DATE:
        if (add_date(b, v) < 0)
            what = "an ISO 8601 date or time";
        break;
    case T_STRING:
        hd_buf_add_json_str(b, v, n);
        break;
    default: /* object/array attributes come only from JSON Lines */
        what = a->type == T_OBJECT ? "a JSON object" : "a JSON array";
        break;
    }
    if (what) {
        char detail[160];
        if (a->first && im->o->hints.types)
            snprintf(detail, sizeof detail,
                     "the column's type came from line %ld; declare another with %s %s=string",
                     a->first, im->o->hints.types, a->name);
        else if (a->first)
            snprintf(detail, sizeof detail,
                     "the column's type came from line %ld; declare another, e.g. %s=string",
                     a->first, a->name);
        else
            snprintf(detail, sizeof detail, "the attribute's type is %s", type_names[a->type]);
        b->len = mark;
        b->data[mark] = '\0';
        why(im, a->name, v, what, detail);
        return -1;
    }
    return 0;
}

static int field_id(struct imp *im, const char *field, char *v, size_t n)
{
    if (n > 255) {
        why(im, field, v, "an id", "longer than 255 bytes");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
            why(im, field, v, "an id", "control characters are not allowed");
            return -1;
        }
    im->row.ext_id = v;
    return 0;
}

/* A warning on msgs with file:line (line 0: none), counted; the first
 * max_errors are printed. */
static void warn(struct imp *im, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void warn(struct imp *im, long line, const char *fmt, ...)
{
    unsigned max = im->o->max_errors ? im->o->max_errors : 20;
    im->res->warnings++;
    if (im->warned++ >= max)
        return;
    va_list ap;
    if (line)
        fprintf(im->o->msgs, "%s:%ld: warning: ", im->name, line);
    else
        fprintf(im->o->msgs, "%s: warning: ", im->name);
    va_start(ap, fmt);
    vfprintf(im->o->msgs, fmt, ap);
    va_end(ap);
    fputc('\n', im->o->msgs);
}

/* The row's country (CSV column or JSON key, n bytes at v, upper-cased in
 * place) sets the region its national numbers are read in; empty keeps the
 * default. 0, or -1 with im->reason set. */
static int row_country(struct imp *im, char *v, size_t n)
{
    trim(&v, &n);
    if (n == 0)
        return 0;
    if (!hd_valid_country(v)) {
        why(im, "country", v, "an ISO 3166-1 alpha-2 country code", "e.g. CN, US, GB");
        return -1;
    }
    for (size_t i = 0; i < 2; i++)
        v[i] = (char)toupper((unsigned char)v[i]);
    memcpy(im->country, v, 3);
    im->region = im->country;
    return 0;
}

/* Refuses a row whose id an earlier row of the file had (unless
 * last_wins); 0, or -1 with im->reason set. */
static int dup_id(struct imp *im, long line)
{
    if (im->o->last_wins || !im->row.ext_id)
        return 0;
    long first = hd_idset_add(&im->ids, im->row.ext_id, line);
    if (!first)
        return 0;
    hd_buf_reset(&im->reason);
    hd_buf_adds(&im->reason, "id ");
    add_quoted(&im->reason, im->row.ext_id, strlen(im->row.ext_id));
    hd_buf_addf(&im->reason, " already appears on line %ld (%s keeps the last row)", first,
                hint(im->o->hints.last_wins, "last wins"));
    return -1;
}

static int field_phone(struct imp *im, const char *field, char *v)
{
    int rc = hd_valid_phone(im->valid, v, im->region, im->phone, sizeof im->phone);
    if (rc == 0) {
        im->row.phone = im->phone;
        if (!hd_valid_phone_plan_fits(v, im->region))
            warn(im, im->line,
                 "field 'phone': '%s' read in %s is %s, which fits no %s numbering rule for its "
                 "length and first digits (another country's number? give the row's country)",
                 v, im->region, im->phone, im->region);
        return 0;
    }
    char detail[160];
    if (rc == HD_VALID_NO_REGION && im->o->hints.region)
        snprintf(detail, sizeof detail, "%s: set %s", im->phone, im->o->hints.region);
    else
        snprintf(detail, sizeof detail, "%s", rc == HD_VALID_NOT_PHONE ? "" : im->phone);
    why(im, field, v, "a phone number", detail);
    return -1;
}

static int field_locale(struct imp *im, const char *field, char *v)
{
    int rc = hd_valid_locale(im->valid, v, im->locale, sizeof im->locale);
    if (rc == 0) {
        im->row.locale = im->locale;
        return 0;
    }
    /* "is not a BCP 47 language tag" already: only the advice, or another reason */
    const char *hint = hd_valid_hint(rc);
    why(im, field, v, "a BCP 47 language tag",
        hint                     ? hint
        : rc == HD_VALID_NOT_TAG ? ""
                                 : im->locale);
    return -1;
}

/* A token of letters, digits and the characters of extra, at most max
 * bytes (FCM's, JPush's and Huawei's tokens); *out is set to it. */
static int field_token(struct imp *im, const char *field, char *v, size_t n, const char *what,
                       const char *extra, size_t max, const char **out)
{
    char hint[64];
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && !(*extra && strchr(extra, v[i]))) {
            snprintf(hint, sizeof hint, "letters, digits%s%s%s only", *extra ? ", '" : "", extra,
                     *extra ? "'" : "");
            why(im, field, v, what, hint);
            return -1;
        }
    if (n > max) {
        snprintf(hint, sizeof hint, "longer than %zu bytes", max);
        why(im, field, v, what, hint);
        return -1;
    }
    *out = v;
    return 0;
}

static int field_apns(struct imp *im, const char *field, char *v, size_t n)
{
    if (n < 32 || n > 200 || n % 2) {
        why(im, field, v, "an APNs device token", "an even number of hex digits, 32 to 200");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)v[i])) {
            why(im, field, v, "an APNs device token", "hex digits only");
            return -1;
        }
        v[i] = (char)tolower((unsigned char)v[i]);
    }
    im->row.apns_token = v;
    return 0;
}

/* Validates a known field into im->row; 0, or -1 with im->reason set. */
static int known_field(struct imp *im, enum role r, char *v, size_t n)
{
    const char *field = role_names[r];
    int64_t t;
    trim(&v, &n);
    if (n == 0) {
        if (r == R_ID) {
            why(im, field, NULL, "is empty: every contact needs an id", NULL);
            return -1;
        }
        return 0;
    }
    if (!hd_valid_utf8(v, n)) {
        why(im, field, NULL, "not valid UTF-8", NULL);
        return -1;
    }
    switch (r) {
    case R_ID:
        return field_id(im, field, v, n);
    case R_EMAIL:
        if (hd_valid_email(im->valid, v, im->email, sizeof im->email) < 0) {
            why(im, field, v, "an email address", im->email);
            return -1;
        }
        im->row.email = im->email;
        return 0;
    case R_PHONE:
        return field_phone(im, field, v);
    case R_LOCALE:
        return field_locale(im, field, v);
    case R_TZ:
        if (hd_valid_timezone(im->valid, v, im->tz, sizeof im->tz) < 0) {
            why(im, field, v, "an IANA time zone", im->tz); /* the hint */
            return -1;
        }
        im->row.timezone = im->tz;
        return 0;
    case R_FCM:
        return field_token(im, field, v, n, "an FCM registration token", "-_:.", 4096,
                           &im->row.fcm_token);
    case R_JPUSH: /* JPush's registration ids are letters and digits (about 19) */
        return field_token(im, field, v, n, "a JPush registration id", "", 64, &im->row.jpush_id);
    case R_HMS: /* Huawei's push tokens: letters, digits and base64's signs */
        return field_token(im, field, v, n, "a Huawei push token", "-_:.+/=", 512,
                           &im->row.hms_token);
    case R_WECHAT: /* openids: 28 letters, digits, - and _ */
        return field_token(im, field, v, n, "a WeChat openid", "-_", 64, &im->row.wechat_openid);
    case R_APNS:
        return field_apns(im, field, v, n);
    case R_CREATED:
        if (hd_time_parse_iso(v, &t, NULL) < 0) {
            why(im, field, v, "an ISO 8601 date or time",
                "e.g. 2026-01-31 or 2026-01-31T09:00:00Z");
            return -1;
        }
        im->row.created_at = t;
        return 0;
    default:
        HD_BUG("role %d", (int)r);
    }
}

/* ---- rows ----------------------------------------------------------------------- */

static void row_reset(struct imp *im, long line)
{
    im->line = line;
    im->region = im->o->default_region;
    memset(&im->row, 0, sizeof im->row);
    im->row.created_at = -1;
    hd_buf_reset(&im->json);
    hd_buf_addc(&im->json, '{');
}

static void list_error(struct imp *im, long line)
{
    unsigned max = im->o->max_errors ? im->o->max_errors : 20;
    if (im->listed++ < max) {
        if (im->pg)
            hd_progress_finish(im->pg); /* drawn again at its next update */
        fprintf(im->o->msgs, "%s:%ld: %s\n", im->name, line, im->reason.data);
    }
}

/* A bad row: listed, counted, and either written to the rejects file or it
 * stops the writing (default mode). im->rejrow holds the row as the rejects
 * file wants it (CSV fields after "line,reason", or the raw JSON line). */
static int reject(struct imp *im, long line, struct hd_err *err)
{
    im->res->rejected++;
    list_error(im, line);
    if (!im->o->skip_invalid) {
        if (im->sim) {
            hd_store_import_end(im->sim, false, NULL, NULL, NULL);
            im->sim = NULL;
        }
        return 0;
    }
    if (!im->rej)
        return 0;
    struct hd_buf out;
    hd_buf_init(&out);
    if (im->jsonl) {
        hd_buf_addf(&out, "{\"line\":%ld,\"reason\":", line);
        hd_buf_add_json_str(&out, im->reason.data, im->reason.len);
        hd_buf_adds(&out, ",\"record\":");
        json_error_t je;
        json_t *j = json_loadb(im->rejrow.data, im->rejrow.len, JSON_DECODE_ANY, &je);
        if (j)
            hd_buf_add(&out, im->rejrow.data, im->rejrow.len);
        else
            hd_buf_add_json_str(&out, im->rejrow.data, im->rejrow.len);
        json_decref(j);
        hd_buf_adds(&out, "}\n");
    } else {
        hd_buf_addf(&out, "%ld,", line);
        hd_buf_add_csv_field(&out, im->reason.data, im->reason.len);
        hd_buf_add(&out, im->rejrow.data, im->rejrow.len);
        hd_buf_adds(&out, "\r\n");
    }
    size_t len = out.len, w = fwrite(out.data, 1, len, im->rej);
    hd_buf_release(&out);
    if (w != len || ferror(im->rej))
        return hd_err_set(err, HD_E_IO, "writing rejects file '%s': %s", im->res->rejects,
                          strerror(errno));
    return 0;
}

static int accept_row(struct imp *im, long line, struct hd_err *err)
{
    (void)line;
    hd_buf_addc(&im->json, '}');
    im->row.attrs = im->json.data;
    if (!im->sim)
        return 0;
    return hd_store_import_row(im->sim, &im->row, err);
}

static int record_new_types(struct imp *im, struct hd_err *err)
{
    if (!im->sim)
        return 0;
    for (size_t i = 0; i < im->nattrs; i++) {
        struct attr *a = &im->attrs[i];
        if (a->recorded || a->type == T_NONE)
            continue;
        int rc = hd_store_import_attr_type(im->sim, a->name, type_names[a->type], err);
        if (rc < 0)
            return rc;
        a->recorded = true;
    }
    return 0;
}

/* ---- CSV ------------------------------------------------------------------------ */

struct column {
    enum role role;
    struct attr *attr;
};

static const char *field_at(const void *base, size_t i)
{
    return ((char *const *)base)[i];
}

/* Reads the header's columns into cols (ncols of them): known fields by
 * name, the rest attributes; seen indexes the names read. */
static int header_columns(struct imp *im, struct hd_csv_record *rec, struct column *cols,
                          struct names *seen, struct hd_err *err)
{
    size_t ncols = rec->nfields;
    bool have_id = false;
    for (size_t i = 0; i < ncols; i++) {
        char *name = rec->fields[i];
        size_t n = rec->lens[i];
        trim(&name, &n);
        rec->fields[i] = name;
        if (names_find(seen, name, rec->fields, field_at) >= 0)
            return hd_err_setpos(err, HD_E_PARSE, im->name, rec->line, 0,
                                 "column '%s' appears twice in the header", name);
        names_add(seen, i, rec->fields, field_at);
        for (int r = 1; r < R_COUNT; r++)
            if (strcasecmp(name, role_names[r]) == 0)
                cols[i].role = (enum role)r;
        if (cols[i].role == R_ID)
            have_id = true;
        if (cols[i].role != R_ATTR)
            continue;
        if (strcasecmp(name, "updated_at") == 0)
            return hd_err_setpos(err, HD_E_PARSE, im->name, rec->line, 0,
                                 "column 'updated_at' is kept by herald and cannot be imported");
        /* a map cannot name an empty column or one with '=' in it: the
         * hint said to, in words that could not work (a review found it) */
        if (!*name)
            return hd_err_setpos(err, HD_E_PARSE, im->name, rec->line, 0,
                                 "column %zu has no name: give it one of letters, digits and '_' "
                                 "in the file, or remove it",
                                 i + 1);
        if (strchr(name, '='))
            return hd_err_setpos(err, HD_E_PARSE, im->name, rec->line, 0,
                                 "column '%s' has '=' in its name, which a map cannot name: "
                                 "rename it in the file (letters, digits and '_')",
                                 name);
        if (!valid_attr_name(name))
            return hd_err_setpos(err, HD_E_PARSE, im->name, rec->line, 0,
                                 "column '%s' is not a valid attribute name (use letters, digits "
                                 "and '_', starting with a letter), nor mapped to one: map it "
                                 "with %s '%s=FIELD' (e.g. id, phone, or an attribute name)",
                                 name, hint(im->o->hints.map, "a map"), name);
        char too_many[200];
        if (!attr_find(im, name) && !attr_new(im, name, too_many, sizeof too_many))
            return hd_err_setpos(err, HD_E_PARSE, im->name, rec->line, 0, "column %s", too_many);
    }
    if (!have_id)
        return hd_err_setpos(err, HD_E_PARSE, im->name, rec->line, 0,
                             "the header has no 'id' column (every contact needs an external id)");
    return 0;
}

/* Reads the header's names through the map (im->map): rec->fields[i]
 * becomes the target of a mapped name; orig[i] keeps the name as written.
 * Two columns that end up with one name, one of them mapped, are refused
 * naming both; a mapped name the file lacks is a warning. */
static int map_header(struct imp *im, struct hd_csv_record *rec, char **orig, struct hd_err *err)
{
    struct names seen = {0};
    int rc = 0;
    for (size_t i = 0; i < rec->nfields && rc == 0; i++) {
        size_t n = rec->lens[i];
        trim(&rec->fields[i], &n);
        const char *to = hd_imap_target(&im->map, rec->fields[i]);
        orig[i] = rec->fields[i];
        rec->lens[i] = n;
        if (to) {
            rec->fields[i] = (char *)to; /* the map outlives the header */
            rec->lens[i] = strlen(to);
        }
        ptrdiff_t j = names_find(&seen, rec->fields[i], rec->fields, field_at);
        if (j >= 0 && (to || orig[j] != rec->fields[j]))
            rc = hd_err_setpos(err, HD_E_PARSE, im->name, rec->line, 0,
                               "columns '%s' and '%s' both give '%s' (%s): keep one of them in "
                               "the file, or map only one",
                               orig[j], orig[i], rec->fields[i], hint(im->o->hints.map, "map"));
        else if (j < 0)
            names_add(&seen, i, rec->fields, field_at);
    }
    names_release(&seen);
    struct hd_buf missing;
    hd_buf_init(&missing);
    if (rc == 0 && hd_imap_missing(&im->map, &missing)) {
        for (char *line = missing.data, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
            *nl = '\0';
            warn(im, rec->line, "%s: %s", hint(im->o->hints.map, "map"), line);
        }
    }
    hd_buf_release(&missing);
    return rc;
}

static int csv_header(struct imp *im, struct hd_csv_record *rec, struct column *cols,
                      struct hd_err *err)
{
    size_t ncols = rec->nfields;
    struct names seen = {0};
    char **orig = hd_xcalloc(ncols, sizeof *orig);
    int rc = map_header(im, rec, orig, err);
    if (rc == 0)
        rc = header_columns(im, rec, cols, &seen, err);
    names_release(&seen);
    if (rc < 0) {
        free(orig);
        return rc;
    }
    for (size_t i = 0; i < ncols; i++) { /* attribute pointers are stable from here on */
        if (cols[i].role == R_ATTR)
            cols[i].attr = attr_find(im, rec->fields[i]);
        if (cols[i].role == R_ATTR && strcasecmp(rec->fields[i], "country") == 0)
            im->country_col = (ptrdiff_t)i;
    }
    if (im->rej) {
        hd_buf_reset(&im->rejrow);
        hd_buf_adds(&im->rejrow, "line,reason");
        for (size_t i = 0; i < ncols; i++) {
            hd_buf_addc(&im->rejrow, ',');
            hd_buf_add_csv_field(&im->rejrow, orig[i], strlen(orig[i]));
        }
        hd_buf_adds(&im->rejrow, "\r\n");
        fwrite(im->rejrow.data, 1, im->rejrow.len, im->rej);
    }
    free(orig);
    return 0;
}

static int import_csv(struct imp *im, FILE *f, struct hd_progress *pg, struct hd_err *err)
{
    struct hd_csv *csv = hd_csv_new(f, im->name);
    struct hd_csv_record rec;
    struct column *cols = NULL;
    size_t ncols = 0;
    int rc = hd_csv_next(csv, &rec, err);
    if (rc == 0)
        rc = hd_err_setpos(err, HD_E_PARSE, im->name, 1, 0,
                           "the file is empty (a CSV import "
                           "needs a header line naming its "
                           "columns, including id)");
    if (rc < 0)
        goto out;
    ncols = rec.nfields;
    cols = hd_xcalloc(ncols, sizeof *cols);
    if ((rc = csv_header(im, &rec, cols, err)) < 0)
        goto out;
    while ((rc = hd_csv_next(csv, &rec, err)) == 1) {
        int bad = 0;
        im->res->rows++;
        row_reset(im, rec.line);
        if (rec.nfields != ncols) {
            hd_buf_reset(&im->reason);
            hd_buf_addf(&im->reason, "expected %zu fields as in the header, found %zu", ncols,
                        rec.nfields);
            bad = 1;
        } else if (im->country_col >= 0) {
            bad = row_country(im, rec.fields[im->country_col], rec.lens[im->country_col]) < 0;
        }
        for (size_t i = 0; i < ncols && !bad; i++) {
            if (cols[i].role == R_ATTR)
                bad = csv_attr(im, cols[i].attr, rec.fields[i], rec.lens[i], rec.line) < 0;
            else
                bad = known_field(im, cols[i].role, rec.fields[i], rec.lens[i]) < 0;
        }
        if (!bad)
            bad = dup_id(im, rec.line) < 0;
        if (bad) {
            if (im->rej) {
                hd_buf_reset(&im->rejrow);
                for (size_t i = 0; i < rec.nfields; i++) {
                    hd_buf_addc(&im->rejrow, ',');
                    hd_buf_add_csv_field(&im->rejrow, rec.fields[i], rec.lens[i]);
                }
            }
            rc = reject(im, rec.line, err);
        } else {
            rc = accept_row(im, rec.line, err);
        }
        if (rc < 0)
            goto out;
        hd_progress_update(pg, (uint64_t)im->res->rows, hd_csv_offset(csv));
    }
    if (rc == 0)
        rc = record_new_types(im, err);
out:
    free(cols);
    hd_csv_free(csv);
    return rc;
}

/* ---- JSON Lines ------------------------------------------------------------------- */

static int json_attr(struct imp *im, const char *key, json_t *v)
{
    struct attr *a = attr_find(im, key);
    enum atype t;
    char *dumped = NULL;
    switch (json_typeof(v)) {
    case JSON_INTEGER:
    case JSON_REAL:
        t = T_NUMBER;
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        t = T_BOOLEAN;
        break;
    case JSON_STRING: {
        int64_t x;
        t = hd_time_parse_iso(json_string_value(v), &x, NULL) == 0 ? T_DATE : T_STRING;
        break;
    }
    case JSON_OBJECT:
        t = T_OBJECT;
        break;
    case JSON_ARRAY:
        t = T_ARRAY;
        break;
    default:
        t = T_NONE;
        break; /* null: removes the attribute */
    }
    if (!valid_attr_name(key)) {
        why(im, key, NULL, "is not a valid attribute name (use letters, digits and '_')", NULL);
        return -1;
    }
    if (strcmp(key, "updated_at") == 0) {
        why(im, key, NULL, "is kept by herald and cannot be imported", NULL);
        return -1;
    }
    char too_many[200];
    if (!a && !(a = attr_new(im, key, too_many, sizeof too_many))) {
        hd_buf_reset(&im->reason);
        hd_buf_addf(&im->reason, "key %s", too_many);
        return -1;
    }
    if (t != T_NONE && a->type == T_NONE)
        a->type = t;
    /* a date-looking string is fine where strings are expected */
    if (t == T_DATE && a->type == T_STRING)
        t = T_STRING;
    if (t != T_NONE && t != a->type) {
        char detail[96];
        snprintf(detail, sizeof detail, "the attribute's type is %s, this value is %s",
                 type_names[a->type], type_names[t]);
        why(im, key, NULL, "has the wrong type", detail);
        return -1;
    }
    struct hd_buf *b = &im->json;
    if (b->len > 1)
        hd_buf_addc(b, ',');
    hd_buf_add_json_str(b, key, strlen(key));
    hd_buf_addc(b, ':');
    if (t == T_DATE) {
        add_date(b, json_string_value(v));
        return 0;
    }
    if (t == T_NONE)
        im->row.attrs_nulls = true;
    /* 15 significant digits give back the decimal a person wrote (0.1, not
     * 0.10000000000000001) */
    dumped = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    hd_buf_adds(b, dumped ? dumped : "null");
    free(dumped);
    return 0;
}

/* A row's "country" (a string) is read before its phone, wherever it is. */
static int json_country(struct imp *im, json_t *obj)
{
    json_t *c = json_object_get(obj, "country");
    if (!json_is_string(c))
        return 0;
    char v[64];
    snprintf(v, sizeof v, "%s", json_string_value(c));
    if (row_country(im, v, strlen(v)) < 0)
        return -1;
    if (im->region == im->country)
        json_string_set(c, im->country);
    return 0;
}

static int json_row(struct imp *im, json_t *obj)
{
    const char *key;
    json_t *v;
    bool have_id = false, seen[R_COUNT] = {false};
    json_object_foreach(obj, key, v)
    {
        /* a field's key in any case, as a CSV header is ("Email" was an
         * attribute, and the contact had no address) */
        enum role r = R_ATTR;
        for (int i = 1; i < R_COUNT; i++)
            if (strcasecmp(key, role_names[i]) == 0)
                r = (enum role)i;
        if (r != R_ATTR && seen[r]) {
            why(im, key, NULL, "names a field a second time (field keys are read in any case)",
                NULL);
            return -1;
        }
        seen[r] = true;
        if (r == R_ATTR) {
            if (json_attr(im, key, v) < 0)
                return -1;
            continue;
        }
        if (json_is_null(v))
            continue;
        char num[32];
        char *s;
        size_t n;
        if (r == R_ID && json_is_integer(v)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            s = num;
            n = strlen(num);
        } else if (json_is_string(v)) {
            s = (char *)json_string_value(v); /* jansson's copy; trimming in place is fine */
            n = json_string_length(v);
        } else {
            why(im, key, NULL, "must be a string", NULL);
            return -1;
        }
        if (r == R_ID) {
            if (s == num) { /* the row keeps pointing at it after this loop */
                memcpy(im->idnum, num, n + 1);
                s = im->idnum;
            }
            have_id = true;
        }
        if (known_field(im, r, s, n) < 0)
            return -1;
    }
    if (!have_id) {
        why(im, "id", NULL, "is missing: every contact needs an id", NULL);
        return -1;
    }
    return 0;
}

static int import_jsonl(struct imp *im, FILE *f, struct hd_progress *pg, struct hd_err *err)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    uint64_t offset = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        offset += (uint64_t)n;
        if (lineno == 1 && n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            memmove(line, line + 3, (size_t)n - 2);
            n -= 3;
        }
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        size_t blank = strspn(line, " \t");
        if ((ssize_t)blank == n)
            continue;
        im->res->rows++;
        row_reset(im, lineno);
        json_error_t je;
        json_t *obj = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &je);
        int bad = 0;
        if (!obj || !json_is_object(obj)) {
            hd_buf_reset(&im->reason);
            if (!obj)
                hd_buf_addf(&im->reason, "not valid JSON: %s (column %d)", je.text, je.column);
            else
                hd_buf_adds(&im->reason, "not a JSON object");
            bad = 1;
        } else {
            bad = json_country(im, obj) < 0 || json_row(im, obj) < 0 || dup_id(im, lineno) < 0;
        }
        if (bad) {
            hd_buf_reset(&im->rejrow);
            hd_buf_add(&im->rejrow, line, (size_t)n);
            rc = reject(im, lineno, err);
        } else {
            rc = accept_row(im, lineno, err);
        }
        json_decref(obj);
        if (rc < 0)
            break;
        hd_progress_update(pg, (uint64_t)im->res->rows, offset);
    }
    if (rc == 0 && ferror(f))
        rc = hd_err_set(err, HD_E_IO, "reading '%s': %s", im->name, strerror(errno));
    free(line);
    if (rc == 0)
        rc = record_new_types(im, err);
    return rc;
}

/* ---- the run ------------------------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Sets im->jsonl from the format given or the file's name. */
static int pick_format(struct imp *im, bool from_stdin, struct hd_err *err)
{
    const struct hd_import_opts *o = im->o;
    char give[64];
    if (o->hints.format)
        snprintf(give, sizeof give, "%s csv|jsonl", o->hints.format);
    else
        snprintf(give, sizeof give, "a format (csv or jsonl)");
    if (o->format) {
        if (strcmp(o->format, "jsonl") == 0 || strcmp(o->format, "ndjson") == 0)
            im->jsonl = true;
        else if (strcmp(o->format, "csv") != 0)
            return hd_err_set(err, HD_E_USAGE, "%s: '%s' is not csv or jsonl",
                              hint(o->hints.format, "format"), o->format);
    } else if (from_stdin) {
        return hd_err_set(err, HD_E_USAGE, "reading standard input needs %s", give);
    } else if (ends_with(o->path, ".jsonl") || ends_with(o->path, ".ndjson")) {
        im->jsonl = true;
    } else if (!ends_with(o->path, ".csv") && !ends_with(o->path, ".txt")) {
        return hd_err_set(err, HD_E_USAGE, "cannot tell the format of '%s' from its name: give %s",
                          o->path, give);
    }
    return 0;
}

static bool is_attr_name(const char *s)
{
    return valid_attr_name(s);
}

/* The map from opts (CSV only: JSON Lines keys are fields or attributes). */
static int parse_map(struct imp *im, struct hd_err *err)
{
    static const char *const fields[] = {"id",        "email",         "phone",      "locale",
                                         "timezone",  "fcm_token",     "apns_token", "jpush_id",
                                         "hms_token", "wechat_openid", "created_at", "country",
                                         NULL};
    if (!im->o->map || im->jsonl)
        return 0;
    return hd_imap_parse(&im->map, im->o->map, hint(im->o->hints.map, "map"), fields, is_attr_name,
                         err);
}

/* Opens the rejects file's temporary (skip_invalid, not a dry run). */
static int open_rejects(struct imp *im, struct hd_err *err)
{
    const struct hd_import_opts *o = im->o;
    struct hd_import_result *res = im->res;
    if (o->rejects_path)
        snprintf(res->rejects, sizeof res->rejects, "%s", o->rejects_path);
    else
        snprintf(res->rejects, sizeof res->rejects, "%s.rejected.%s", im->name,
                 im->jsonl ? "jsonl" : "csv");
    /* a path that is there and no file (/dev/null, a pipe) is written
     * as it is: the temporary renamed over it replaced the device (as
     * root, /dev/null became a file of rejected contacts) */
    struct stat sb;
    int fd;
    if (stat(res->rejects, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        im->rej_tmp[0] = '\0';
        fd = S_ISDIR(sb.st_mode) ? (errno = EISDIR, -1)
                                 : open(res->rejects, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    } else {
        snprintf(im->rej_tmp, sizeof im->rej_tmp, "%s.tmp", res->rejects);
        /* 0600 like the database: the rows hold contacts' addresses */
        fd = open(im->rej_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0 && fchmod(fd, 0600) < 0) {
            int e = errno;
            close(fd);
            errno = e;
            fd = -1;
        }
    }
    if (fd >= 0 && !(im->rej = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        errno = e;
    }
    if (!im->rej)
        return hd_err_set(err, HD_E_IO, "cannot write rejects file '%s': %s",
                          im->rej_tmp[0] ? im->rej_tmp : res->rejects, strerror(errno));
    return 0;
}

/* After the last row: the verdict, the rejects file in place, the commit. */
static int finish(struct imp *im, struct hd_err *err)
{
    const struct hd_import_opts *o = im->o;
    struct hd_import_result *res = im->res;
    unsigned max = o->max_errors ? o->max_errors : 20;
    if (im->listed > max)
        fprintf(o->msgs, "%s: ... and %u more invalid rows\n", im->name, im->listed - max);
    if (res->rejected && !o->skip_invalid) {
        char skip[64];
        if (o->hints.skip_invalid)
            snprintf(skip, sizeof skip, "use %s", o->hints.skip_invalid);
        else
            snprintf(skip, sizeof skip, "skip invalid rows");
        return hd_err_set(err, HD_E_INVALID,
                          "%s: %lld of %lld rows are invalid; %s (fix them, or %s to "
                          "import the valid rows)",
                          im->name, (long long)res->rejected, (long long)res->rows,
                          o->dry_run ? "every row was checked, nothing written (a dry run)"
                                     : "nothing was written",
                          skip);
    }
    if (im->rej) {
        int bad = fclose(im->rej) != 0;
        im->rej = NULL;
        if (bad || (im->rej_tmp[0] &&
                    (res->rejected ? rename(im->rej_tmp, res->rejects) : remove(im->rej_tmp)) != 0))
            return hd_err_set(err, HD_E_IO, "writing rejects file '%s': %s", res->rejects,
                              strerror(errno));
        if (!res->rejected)
            res->rejects[0] = '\0';
    }
    if (im->sim) {
        struct hd_store_import *sim = im->sim;
        im->sim = NULL;
        return hd_store_import_end(sim, true, &res->inserted, &res->updated, err);
    }
    return 0;
}

/* What an import's state holds, freed (a file's and one contact's alike). */
static void imp_release(struct imp *im)
{
    hd_imap_release(&im->map);
    hd_idset_release(&im->ids);
    for (size_t i = 0; i < im->nattrs; i++)
        free(im->attrs[i].name);
    free(im->attrs);
    names_release(&im->attr_index);
    hd_valid_free(im->valid);
    hd_buf_release(&im->json);
    hd_buf_release(&im->reason);
    hd_buf_release(&im->rejrow);
}

int hd_import_run(struct hd_store *st, const struct hd_import_opts *o, int64_t now,
                  struct hd_import_result *res, struct hd_err *err)
{
    struct imp im = {.o = o, .st = st, .res = res, .country_col = -1};
    struct hd_progress pg;
    bool from_stdin = strcmp(o->path, "-") == 0;
    FILE *f = NULL, *raw = NULL;
    int rc = 0;
    int64_t t0 = hd_clock_mono_ms();

    memset(res, 0, sizeof *res);
    im.name = from_stdin ? "stdin" : o->path;
    hd_buf_init(&im.json);
    hd_buf_init(&im.reason);
    hd_buf_init(&im.rejrow);
    hd_idset_init(&im.ids);

    if ((rc = pick_format(&im, from_stdin, err)) < 0 || (rc = parse_map(&im, err)) < 0)
        goto out;
    if (!(raw = from_stdin ? stdin : fopen(o->path, "rb"))) {
        rc = hd_err_set(err, HD_E_IO, "cannot open '%s': %s", o->path, strerror(errno));
        goto out;
    }
    if ((rc = hd_transcode_open(raw, im.name, o->encoding, o->hints.encoding, &f, err)) < 0)
        goto out;
    if ((rc = hd_store_attr_types(st, known_type_cb, &im, err)) < 0)
        goto out;
    if (o->types && (rc = parse_types(&im, o->types, err)) < 0)
        goto out;
    im.valid = hd_valid_new();
    if (o->skip_invalid && !o->dry_run && (rc = open_rejects(&im, err)) < 0)
        goto out;
    if (!o->dry_run && (rc = hd_store_import_begin(st, o->mode, now, &im.sim, err)) < 0)
        goto out;

    struct stat sb;
    uint64_t total = (!from_stdin || f != raw) && fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode)
                         ? (uint64_t)sb.st_size
                         : 0;
    hd_progress_init(&pg, o->progress, o->msgs, "rows", total);
    im.pg = &pg;
    rc = im.jsonl ? import_jsonl(&im, f, &pg, err) : import_csv(&im, f, &pg, err);
    hd_progress_finish(&pg);
    im.pg = NULL;
    if (rc == 0)
        rc = finish(&im, err);
out:
    res->seconds = (double)(hd_clock_mono_ms() - t0) / 1000.0;
    if (im.sim)
        hd_store_import_end(im.sim, false, NULL, NULL, NULL);
    if (im.rej) {
        fclose(im.rej);
        if (im.rej_tmp[0])
            remove(im.rej_tmp);
        res->rejects[0] = '\0';
    }
    if (f && f != raw)
        fclose(f);
    if (raw && !from_stdin)
        fclose(raw);
    imp_release(&im);
    return rc;
}

/* One contact, as a JSON Lines row is read and checked, upserted in its own
 * transaction (the API's PUT /contacts/ID and inline contacts). */
int hd_import_one(struct hd_store *st, json_t *obj, const struct hd_import_opts *o, int64_t now,
                  char *field, size_t fsize, bool *inserted, struct hd_err *err)
{
    struct hd_import_result res;
    struct imp im = {.o = o, .st = st, .res = &res, .country_col = -1, .jsonl = true};
    int64_t ins = 0, upd = 0;
    int rc = 0;
    memset(&res, 0, sizeof res);
    im.name = "contact";
    hd_buf_init(&im.json);
    hd_buf_init(&im.reason);
    hd_buf_init(&im.rejrow);
    hd_idset_init(&im.ids);
    field[0] = '\0';
    if ((rc = hd_store_attr_types(st, known_type_cb, &im, err)) < 0)
        goto out;
    im.valid = hd_valid_new();
    row_reset(&im, 1);
    if (json_country(&im, obj) < 0 || json_row(&im, obj) < 0) {
        snprintf(field, fsize, "%s", im.field);
        rc = hd_err_set(err, HD_E_INVALID, "%s", im.reason.data);
        goto out;
    }
    if ((rc = hd_store_import_begin(st, HD_IMPORT_MERGE, now, &im.sim, err)) < 0 ||
        (rc = accept_row(&im, 1, err)) < 0 || (rc = record_new_types(&im, err)) < 0)
        goto out;
    struct hd_store_import *sim = im.sim;
    im.sim = NULL;
    rc = hd_store_import_end(sim, true, &ins, &upd, err);
    if (inserted)
        *inserted = ins > 0;
out:
    if (im.sim)
        hd_store_import_end(im.sim, false, NULL, NULL, NULL);
    imp_release(&im);
    return rc;
}
