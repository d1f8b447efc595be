/* events: conversion events (herald events import) for the goals herald
 * stats --goal counts, read from CSV with a header or from JSON Lines, each
 * row checked and added in one transaction: a bad row stops the import
 * with its file and line, and nothing is written. Events of unknown
 * contacts are counted, not stored; an event already there is not added
 * twice (the store's unique key). */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "herald/audit.h"
#include "herald/csv.h"
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

static int add_event(struct ev_import *im, const char *file, long line, const char *contact,
                     const char *name, const char *when, const char *value, struct hd_err *err)
{
    struct hd_event ev = {.contact = contact, .name = name};
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

static int import_csv(struct ev_import *im, FILE *f, const char *file, struct hd_err *err)
{
    struct hd_csv *csv = hd_csv_new(f, file);
    struct hd_csv_record rec;
    int rc = hd_csv_next(csv, &rec, err), col[4];
    if (rc == 0)
        rc = hd_err_set(err, HD_E_INVALID, "%s: empty: a header line is needed", file);
    if (rc > 0) {
        for (int i = 0; i < 4; i++)
            col[i] = col_of(&rec, ev_keys[i]);
        if (col[0] < 0 || col[1] < 0 || col[2] < 0)
            rc = hd_err_set(err, HD_E_INVALID,
                            "%s:1: the header needs contact, event and time columns", file);
    }
    struct hd_progress p;
    hd_progress_init(&p, im->progress, stderr, "events", 0);
    while (rc > 0 && (rc = hd_csv_next(csv, &rec, err)) > 0) {
        const char *v[4];
        for (int i = 0; i < 4; i++)
            v[i] = col[i] >= 0 && (size_t)col[i] < rec.nfields ? rec.fields[col[i]] : NULL;
        rc = add_event(im, file, rec.line, v[0], v[1], v[2], v[3], err);
        rc = rc < 0 ? rc : 1;
        im->res->lines++;
        hd_progress_update(&p, (uint64_t)im->res->lines, (uint64_t)im->res->lines);
    }
    hd_progress_finish(&p);
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
            char b[4][64];
            const char *v[4];
            for (int i = 0; i < 4; i++)
                v[i] = json_text(o, ev_keys[i], b[i], sizeof b[i]);
            rc = add_event(im, file, no, v[0], v[1], v[2], v[3], err);
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
