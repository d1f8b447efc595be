/* events: conversion and behaviour events (herald events import), for the
 * goals herald stats --goal counts and the did()/sum()/last() of segment
 * rules, read from CSV with a header or from JSON Lines, each row checked
 * and added in one transaction: a bad row stops the import with its file
 * and line, and nothing is written. Events of unknown contacts are
 * counted, not stored; an event already there is not added twice (the
 * store's unique key: contact, name, time and value).
 *
 * Properties: each event keeps a JSON object. CSV takes it from a
 * "properties" column holding a JSON object, else from the columns other
 * than contact, event, time and value (a cell that reads as a number is a
 * number, an empty cell is left out); JSON Lines from a "properties"
 * object, else from the keys other than those four. */
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
#include "herald/store.h"
#include "herald/time.h"

/* The names each field's column (CSV) or key (JSON Lines) may have:
 * contact, event, time, value. */
static const char *const ev_keys[4][5] = {
    {"contact", "contact_id", "id", "external_id", NULL},
    {"event", "name", NULL},
    {"time", "at", "timestamp", NULL},
    {"value", NULL},
};

struct ev_import {
    struct hd_store *st;
    bool progress;
    struct hd_events_result *res;
};

static int parse_ev_time(const char *s, int64_t *t)
{
    char *end;
    if (hd_time_parse_iso(s, t, NULL) == 0)
        return 0;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end && errno == 0 && v >= 0) {
        *t = v;
        return 0;
    }
    return -1;
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
    if (!when || parse_ev_time(when, &ev.at) < 0)
        return hd_err_set(err, HD_E_INVALID,
                          "%s:%ld: time '%s' is neither ISO 8601 nor Unix seconds", file, line,
                          when ? when : "");
    if (value && *value) {
        char *end;
        errno = 0;
        ev.value = strtod(value, &end);
        if (*end || errno || !isfinite(ev.value))
            return hd_err_set(err, HD_E_INVALID, "%s:%ld: value '%s' is not a number", file, line,
                              value);
        ev.has_value = true;
    }
    int result, rc = hd_store_event_add(im->st, &ev, &result, err);
    if (rc < 0)
        return rc;
    im->res->added += result == HD_EVENT_ADDED;
    im->res->duplicate += result == HD_EVENT_DUPLICATE;
    if (result == HD_EVENT_UNKNOWN_CONTACT && im->res->unknown++ == 0)
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
 * (or -1), and the names of the other columns that are properties (NULL
 * for the columns that are not). */
struct csv_head {
    int props;
    char **names;
    size_t n;
};

static void head_init(struct csv_head *h, const struct hd_csv_record *rec)
{
    h->props = -1;
    h->n = rec->nfields;
    h->names = hd_xcalloc(h->n ? h->n : 1, sizeof *h->names);
    for (size_t i = 0; i < rec->nfields; i++) {
        if (strcmp(rec->fields[i], "properties") == 0)
            h->props = (int)i;
        else if (*rec->fields[i] && !is_ev_key(rec->fields[i]))
            h->names[i] = hd_xstrdup(rec->fields[i]);
    }
}

static void head_release(struct csv_head *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->names[i]);
    free(h->names);
}

/* A cell as a property: a number when all of it reads as a finite one. */
static json_t *cell_value(const char *s)
{
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (!*end && errno == 0)
        return json_integer(i);
    double d = strtod(s, &end);
    if (!*end && errno == 0 && isfinite(d) && !isspace((unsigned char)*s))
        return json_real(d);
    return json_string(s);
}

/* The properties of one JSON object's text (NULL when o has none), compact
 * with sorted keys so the same properties are the same text. */
static char *props_text(json_t *o)
{
    return json_object_size(o) ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

/* The properties of a CSV row: *out is new text or NULL. */
static int csv_props(const struct csv_head *h, const struct hd_csv_record *rec, const char *file,
                     char **out, struct hd_err *err)
{
    json_t *o;
    *out = NULL;
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
        for (size_t i = 0; i < h->n && i < rec->nfields; i++)
            if (h->names[i] && *rec->fields[i])
                json_object_set_new(o, h->names[i], cell_value(rec->fields[i]));
    }
    *out = props_text(o);
    json_decref(o);
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
    hd_progress_init(&p, im->progress, stderr, "events", 0);
    while (rc > 0 && (rc = hd_csv_next(csv, &rec, err)) > 0) {
        const char *v[4];
        char *props = NULL;
        for (int i = 0; i < 4; i++)
            v[i] = col[i] >= 0 && (size_t)col[i] < rec.nfields ? rec.fields[col[i]] : NULL;
        rc = csv_props(&head, &rec, file, &props, err);
        if (rc == 0)
            rc = add_event(im, file, rec.line, v, props, err);
        free(props);
        rc = rc < 0 ? rc : 1;
        im->res->lines++;
        hd_progress_update(&p, (uint64_t)im->res->lines, (uint64_t)im->res->lines);
    }
    hd_progress_finish(&p);
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
    struct ev_import im = {st, progress, res};
    memset(res, 0, sizeof *res);
    int rc = hd_store_begin(st, err);
    if (rc == 0)
        rc = jsonl ? import_jsonl(&im, f, name, err) : import_csv(&im, f, name, err);
    if (rc == 0)
        rc = hd_store_commit(st, err);
    else
        hd_store_rollback(st);
    return rc;
}
