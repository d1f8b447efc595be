/* events: conversion and behaviour events (herald events import), for the
 * goals herald stats --goal counts and the did()/sum()/last() of segment
 * rules, read from CSV with a header or from JSON Lines, each row checked
 * and added in one transaction: a bad row stops the import with its file
 * and line, and nothing is written. Events of unknown contacts are
 * counted, not stored; an event already there is not added twice (the
 * store's unique key: contact, name, time and value). A time is ISO 8601
 * or Unix seconds, within the years 1 to 9999 that dates have everywhere
 * in herald (hd_time_parse_iso); a larger number of seconds is refused
 * with the unit it likely is (milliseconds, from JavaScript's Date.now()).
 *
 * Properties: each event keeps a JSON object. CSV takes it from a
 * "properties" column holding a JSON object, else from the columns other
 * than contact, event, time and value (an empty cell is left out). A cell
 * is a number by the rule of contacts' attributes (segast.h's number
 * model: hd_segast_is_number, spaces around it aside, so "007", "+44" and
 * "0x1A" stay text; written by hd_segast_add_number), any other cell is
 * text as it stands. JSON Lines take a "properties" object, else the keys
 * other than those four. Reals are written to 15 significant digits,
 * the model's, whichever way they came. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "herald/audit.h"
#include "herald/csv.h"
#include "herald/json.h"
#include "herald/progress.h"
#include "herald/segast.h"
#include "herald/store.h"
#include "herald/time.h"
#include "herald/valid.h"

/* The names each field's column (CSV) or key (JSON Lines) may have:
 * contact, event, time, value. */
static const char *const ev_keys[4][5] = {
    {"contact", "contact_id", "id", "external_id", NULL},
    {"event", "name", NULL},
    {"time", "at", "timestamp", NULL},
    {"value", NULL},
};

struct ev_import {
    struct hd_store_events *w;
    bool progress;
    struct hd_events_result *res;
};

/* The instants an event may have: 0001-01-01T00:00:00Z to
 * 9999-12-31T23:59:59Z, the years of hd_time_parse_iso's dates. */
#define EV_TIME_MIN INT64_C(-62135596800)
#define EV_TIME_MAX INT64_C(253402300799)

/* What Unix seconds past EV_TIME_MAX likely are, as a question for the
 * message: the coarsest unit that brings v back in range (any 64-bit
 * number of nanoseconds is). */
static const char *unit_guess(long long v)
{
    if (v / 1000 <= EV_TIME_MAX)
        return "milliseconds? ";
    return v / 1000000 <= EV_TIME_MAX ? "microseconds? " : "nanoseconds? ";
}

/* The time s of the event at file:line, ISO 8601 or Unix seconds, in *t;
 * 0, or an error that says why it is not one. */
static int parse_ev_time(const char *s, const char *file, long line, int64_t *t, struct hd_err *err)
{
    char *end;
    if (hd_time_parse_iso(s, t, NULL) == 0) {
        if (*t >= EV_TIME_MIN && *t <= EV_TIME_MAX)
            return 0;
        return hd_err_set(err, HD_E_INVALID, "%s:%ld: time '%s' is not within the years 1 to 9999",
                          file, line, s);
    }
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end && v >= 0) { /* LLONG_MAX when it overflows */
        if (errno == 0 && v <= EV_TIME_MAX) {
            *t = v;
            return 0;
        }
        return hd_err_set(err, HD_E_INVALID,
                          "%s:%ld: time '%s' is past 9999-12-31: %sgive seconds or ISO 8601", file,
                          line, s, errno ? "" : unit_guess(v));
    }
    return hd_err_set(err, HD_E_INVALID, "%s:%ld: time '%s' is neither ISO 8601 nor Unix seconds",
                      file, line, s);
}

/* v: contact, event, time, value (each may be NULL); props: a JSON
 * object's text or NULL. */
static int add_event(struct ev_import *im, const char *file, long line, const char *const v[4],
                     const char *props, struct hd_err *err)
{
    const char *contact = v[0], *name = v[1], *when = v[2], *value = v[3];
    struct hd_event ev = {.contact = contact, .name = name, .props = props};
    if (!contact || !*contact)
        return hd_err_set(err, HD_E_INVALID, "%s:%ld: no contact", file, line);
    if (!name || !*name)
        return hd_err_set(err, HD_E_INVALID, "%s:%ld: no event name", file, line);
    int rc = parse_ev_time(when ? when : "", file, line, &ev.at, err);
    if (rc < 0)
        return rc;
    if (value && *value) {
        char *end;
        errno = 0;
        ev.value = strtod(value, &end);
        if (*end || errno || !isfinite(ev.value))
            return hd_err_set(err, HD_E_INVALID, "%s:%ld: value '%s' is not a number", file, line,
                              value);
        ev.has_value = true;
    }
    bool known;
    rc = hd_store_events_add(im->w, &ev, &known, err);
    if (rc < 0)
        return rc;
    if (!known && im->res->unknown++ == 0)
        snprintf(im->res->first_unknown, sizeof im->res->first_unknown, "%s", contact);
    return 0;
}

static int col_of(const struct hd_csv_record *h, const char *const *names)
{
    for (size_t i = 0; i < h->nfields; i++)
        for (size_t k = 0; names[k]; k++)
            if (strcmp(h->fields[i], names[k]) == 0)
                return (int)i;
    return -1;
}

static bool is_ev_key(const char *key)
{
    for (int i = 0; i < 4; i++)
        for (size_t k = 0; ev_keys[i][k]; k++)
            if (strcmp(key, ev_keys[i][k]) == 0)
                return true;
    return false;
}

/* The header as the properties need it: which column holds "properties"
 * (or -1), and the other columns that are properties, in the order of
 * their names (the order JSON_SORT_KEYS gives), each name as the JSON text
 * '"name":'. dups: two columns have one name, and the row goes through
 * jansson, where the last non-empty one wins. */
struct csv_head {
    int props;
    bool dups;
    size_t *cols, n; /* the property columns, by name */
    char **keys;     /* by column: '"name":', or NULL for the columns that are not properties */
    char **names;    /* by column: the name, or NULL */
    size_t nf;
};

struct named_col {
    const char *name;
    size_t col;
};

static int name_order(const void *a, const void *b)
{
    const struct named_col *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->col > y->col) - (x->col < y->col);
}

static void head_init(struct csv_head *h, const struct hd_csv_record *rec)
{
    size_t nf = rec->nfields ? rec->nfields : 1;
    struct named_col *byname = hd_xcalloc(nf, sizeof *byname);
    *h = (struct csv_head){.props = -1, .nf = rec->nfields};
    h->cols = hd_xcalloc(nf, sizeof *h->cols);
    h->keys = hd_xcalloc(nf, sizeof *h->keys);
    h->names = hd_xcalloc(nf, sizeof *h->names);
    for (size_t i = 0; i < rec->nfields; i++) {
        if (strcmp(rec->fields[i], "properties") == 0) {
            h->props = (int)i;
        } else if (*rec->fields[i] && !is_ev_key(rec->fields[i]) &&
                   hd_valid_utf8(rec->fields[i], rec->lens[i])) {
            struct hd_buf k;
            hd_buf_init(&k);
            hd_buf_add_json_str(&k, rec->fields[i], rec->lens[i]);
            hd_buf_addc(&k, ':');
            h->keys[i] = hd_buf_detach(&k, NULL);
            h->names[i] = hd_xstrdup(rec->fields[i]);
            byname[h->n++] = (struct named_col){rec->fields[i], i};
        }
    }
    qsort(byname, h->n, sizeof *byname, name_order);
    for (size_t i = 0; i < h->n; i++) {
        h->cols[i] = byname[i].col;
        h->dups |= i && strcmp(byname[i].name, byname[i - 1].name) == 0;
    }
    free(byname);
}

static void head_release(struct csv_head *h)
{
    for (size_t i = 0; i < h->nf; i++) {
        free(h->keys[i]);
        free(h->names[i]);
    }
    free(h->keys);
    free(h->names);
    free(h->cols);
}

/* Whether the cell s (len bytes) is a number, spaces around it aside (as
 * contacts trim a cell); the number is copied into num (size bytes, more
 * than the 40 a number may have). */
static bool cell_number(const char *s, size_t len, char *num, size_t size)
{
    while (len && isspace((unsigned char)*s))
        s++, len--;
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if (len == 0 || len >= size)
        return false;
    memcpy(num, s, len);
    num[len] = '\0';
    return hd_segast_is_number(num);
}

/* Adds one cell's value to a properties text; false when it has none (text
 * that is not UTF-8, as jansson refuses it). A number too large for a
 * double ("1e999") is text. */
static bool add_cell(struct hd_buf *b, const char *s, size_t len)
{
    char num[48];
    if (cell_number(s, len, num, sizeof num) && hd_segast_add_number(b, num, strlen(num)) == 0)
        return true;
    if (!hd_valid_utf8(s, len))
        return false;
    hd_buf_add_json_str(b, s, len);
    return true;
}

/* One cell's value as jansson's, as add_cell writes it; NULL when none. */
static json_t *cell_value(const char *s)
{
    struct hd_buf b;
    hd_buf_init(&b);
    json_t *v =
        add_cell(&b, s, strlen(s)) ? json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL) : NULL;
    hd_buf_release(&b);
    return v;
}

/* The properties of one JSON object's text (NULL when o has none), compact
 * with sorted keys so the same properties are the same text, and reals to
 * the 15 significant digits add_cell writes. */
static char *props_text(json_t *o)
{
    return json_object_size(o)
               ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15))
               : NULL;
}

/* The properties of a CSV row from its columns, written straight into b
 * as JSON_SORT_KEYS would (keys in order, compact); NULL when none. */
static const char *columns_props(const struct csv_head *h, const struct hd_csv_record *rec,
                                 struct hd_buf *b)
{
    hd_buf_reset(b);
    for (size_t k = 0; k < h->n; k++) {
        size_t i = h->cols[k], mark = b->len;
        if (i >= rec->nfields || !*rec->fields[i])
            continue;
        hd_buf_addc(b, b->len ? ',' : '{');
        hd_buf_adds(b, h->keys[i]);
        if (!add_cell(b, rec->fields[i], rec->lens[i]))
            b->len = mark, b->data[mark] = '\0';
    }
    if (!b->len)
        return NULL;
    hd_buf_addc(b, '}');
    return b->data;
}

/* The properties of a CSV row: *out is NULL or points into b. */
static int csv_props(const struct csv_head *h, const struct hd_csv_record *rec, const char *file,
                     struct hd_buf *b, const char **out, struct hd_err *err)
{
    json_t *o;
    *out = NULL;
    if (h->props < 0 && !h->dups) {
        *out = columns_props(h, rec, b);
        return 0;
    }
    if (h->props >= 0) {
        const char *t = (size_t)h->props < rec->nfields ? rec->fields[h->props] : "";
        if (!*t)
            return 0;
        o = hd_json_object_loads(t, strlen(t));
        if (!json_is_object(o)) {
            json_decref(o);
            return hd_err_set(err, HD_E_INVALID, "%s:%ld: properties: not a JSON object", file,
                              rec->line);
        }
    } else {
        o = json_object();
        for (size_t i = 0; i < h->nf && i < rec->nfields; i++)
            if (h->keys[i] && *rec->fields[i])
                json_object_set_new(o, h->names[i], cell_value(rec->fields[i]));
    }
    char *t = props_text(o);
    json_decref(o);
    hd_buf_reset(b);
    if (t)
        hd_buf_adds(b, t), *out = b->data;
    free(t);
    return 0;
}

static int import_csv(struct ev_import *im, FILE *f, const char *file, struct hd_err *err)
{
    struct hd_csv *csv = hd_csv_new(f, file);
    struct hd_csv_record rec;
    struct csv_head head = {.props = -1};
    int rc = hd_csv_next(csv, &rec, err), col[4];
    if (rc == 0)
        rc = hd_err_set(err, HD_E_INVALID, "%s: empty: a header line is needed", file);
    if (rc > 0) {
        for (int i = 0; i < 4; i++)
            col[i] = col_of(&rec, ev_keys[i]);
        if (col[0] < 0 || col[1] < 0 || col[2] < 0)
            rc = hd_err_set(err, HD_E_INVALID,
                            "%s:1: the header needs contact, event and time columns", file);
        head_init(&head, &rec);
    }
    struct hd_progress p;
    struct hd_buf pb;
    hd_buf_init(&pb);
    hd_progress_init(&p, im->progress, stderr, "events", 0);
    while (rc > 0 && (rc = hd_csv_next(csv, &rec, err)) > 0) {
        const char *v[4], *props;
        for (int i = 0; i < 4; i++)
            v[i] = col[i] >= 0 && (size_t)col[i] < rec.nfields ? rec.fields[col[i]] : NULL;
        rc = csv_props(&head, &rec, file, &pb, &props, err);
        if (rc == 0)
            rc = add_event(im, file, rec.line, v, props, err);
        rc = rc < 0 ? rc : 1;
        im->res->lines++;
        hd_progress_update(&p, (uint64_t)im->res->lines, (uint64_t)im->res->lines);
    }
    hd_progress_finish(&p);
    hd_buf_release(&pb);
    head_release(&head);
    hd_csv_free(csv);
    return rc < 0 ? rc : 0;
}

static const char *json_text(json_t *o, const char *const *keys, char *buf, size_t size)
{
    for (size_t k = 0; keys[k]; k++) {
        json_t *v = json_object_get(o, keys[k]);
        if (json_is_string(v))
            return json_string_value(v);
        if (json_is_integer(v)) {
            snprintf(buf, size, "%lld", (long long)json_integer_value(v));
            return buf;
        }
        if (json_is_real(v)) {
            snprintf(buf, size, "%.17g", json_real_value(v));
            return buf;
        }
    }
    return NULL;
}

/* The properties of a JSON Lines object: *out is new text or NULL. */
static int jsonl_props(json_t *o, const char *file, long no, char **out, struct hd_err *err)
{
    json_t *p = json_object_get(o, "properties");
    const char *key;
    json_t *v;
    *out = NULL;
    if (p && !json_is_object(p) && !json_is_null(p))
        return hd_err_set(err, HD_E_INVALID, "%s:%ld: properties: not a JSON object", file, no);
    if (p) {
        *out = props_text(p);
        return 0;
    }
    json_t *rest = json_object();
    json_object_foreach(o, key, v) if (!is_ev_key(key)) json_object_set(rest, key, v);
    *out = props_text(rest);
    json_decref(rest);
    return 0;
}

static int import_jsonl(struct ev_import *im, FILE *f, const char *file, struct hd_err *err)
{
    char *line = NULL;
    size_t cap = 0;
    long no = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        no++;
        if (strspn(line, " \t\r\n") == strlen(line))
            continue;
        json_error_t je;
        json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(o)) {
            rc = hd_err_set(err, HD_E_INVALID, "%s:%ld: %s", file, no,
                            o ? "not a JSON object" : je.text);
        } else {
            char b[4][64], *props = NULL;
            const char *v[4];
            for (int i = 0; i < 4; i++)
                v[i] = json_text(o, ev_keys[i], b[i], sizeof b[i]);
            rc = jsonl_props(o, file, no, &props, err);
            if (rc == 0)
                rc = add_event(im, file, no, v, props, err);
            free(props);
            im->res->lines++;
        }
        json_decref(o);
    }
    free(line);
    if (rc == 0 && ferror(f))
        rc = hd_err_set(err, HD_E_IO, "%s: %s", file, strerror(errno));
    return rc;
}

int hd_events_import(struct hd_store *st, FILE *f, const char *name, bool jsonl, bool progress,
                     struct hd_events_result *res, struct hd_err *err)
{
    struct ev_import im = {NULL, progress, res};
    memset(res, 0, sizeof *res);
    int rc = hd_store_events_begin(st, &im.w, err);
    if (rc < 0)
        return rc;
    rc = jsonl ? import_jsonl(&im, f, name, err) : import_csv(&im, f, name, err);
    int end = hd_store_events_end(im.w, rc == 0, &res->added, &res->duplicate, err);
    return rc < 0 ? rc : end;
}
