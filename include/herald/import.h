/* import: contacts from CSV (RFC 4180) or JSON Lines into the store, as one
 * transaction per file. Every field is validated (id, email, E.164 phone,
 * BCP 47 locale, IANA zone, push tokens, ISO 8601 created_at); every other
 * column becomes a typed attribute. By default one bad row aborts the whole
 * import and nothing is written; with skip_invalid the good rows land and the
 * bad ones go to a rejects file with their reasons. Memory stays flat: rows
 * are streamed, and only the list of bad rows shown is bounded and kept. */
#ifndef HERALD_IMPORT_H
#define HERALD_IMPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "herald/err.h"
#include "herald/store.h"

/* How the caller's user sets the options a message may advise on, quoted
 * in it (the CLI passes its flags: "--types", ...). NULL: the message
 * says it in plain words. The import knows no caller's vocabulary. */
struct hd_import_hints {
    const char *types;        /* what sets types ("--types") */
    const char *format;       /* what sets format ("--format") */
    const char *skip_invalid; /* what sets skip_invalid ("--skip-invalid") */
    const char *region;       /* what sets default_region ("--default-region or ...") */
    const char *map;          /* what set map ("--map", or the config's key) */
    const char *encoding;     /* what sets encoding ("--encoding") */
    const char *last_wins;    /* what sets last_wins ("--last-wins") */
};

struct hd_import_opts {
    const char *path;           /* a file, or "-" for standard input */
    const char *format;         /* "csv", "jsonl", or NULL to go by the file's extension */
    const char *types;          /* "col=number,col2=date", or NULL */
    const char *default_region; /* for national phone numbers ("CN"), or NULL; a row's
                                   country column (ISO 3166-1 alpha-2) overrides it */
    const char *map;            /* "Header=field,Other=attr": header names read as herald
                                   fields or attributes (CSV), or NULL */
    const char *encoding;       /* the file's encoding for ICU ("gbk"), NULL for UTF-8 */
    bool last_wins;             /* two rows with one id: the last wins instead of both
                                   being refused */
    enum hd_import_mode mode;   /* merge (default) or replace */
    bool skip_invalid;          /* import good rows, write bad ones to rejects_path */
    bool dry_run;               /* validate only; write nothing */
    const char *rejects_path;   /* NULL: PATH.rejected.csv / .jsonl */
    unsigned max_errors;        /* bad rows listed on msgs; 0 means 20 */
    bool progress;              /* draw a progress bar on msgs */
    FILE *msgs;                 /* where bad rows and progress go (stderr) */
    struct hd_import_hints hints;
};

/* The most attributes a database holds (its attributes table together with
 * the new names of an import). An import naming more is refused with the
 * column (CSV) or the row (JSON Lines) that went over: every contact row
 * carries its attributes as one JSON object, and segments check names
 * against the table. */
#define HD_IMPORT_MAX_ATTRS 50000

struct hd_import_result {
    int64_t rows;       /* data rows read */
    int64_t inserted;   /* new contacts */
    int64_t updated;    /* existing contacts changed */
    int64_t rejected;   /* invalid rows */
    int64_t warnings;   /* warnings printed on msgs (a national number that fits no rule of
                           its region's numbering, a mapped header not in the file) */
    char rejects[4096]; /* the rejects file written, or "" */
    double seconds;
};

/* Returns 0 when the file was imported (or, with dry_run, validated) — with
 * skip_invalid that includes files with rejected rows — and HD_E_INVALID when
 * invalid rows aborted it (res says how many). */
int hd_import_run(struct hd_store *st, const struct hd_import_opts *opts, int64_t now,
                  struct hd_import_result *res, struct hd_err *err);

/* One contact from a JSON object, checked as a JSON Lines row is (o gives
 * default_region and hints; path, format and the file options are not
 * used) and upserted (merge) in its own transaction. HD_E_INVALID with the
 * reason, and the field at fault in field (size fsize), when it is bad;
 * nothing is written then. *inserted (may be NULL): a new contact. */
typedef struct json_t json_t;
int hd_import_one(struct hd_store *st, json_t *obj, const struct hd_import_opts *o, int64_t now,
                  char *field, size_t fsize, bool *inserted, struct hd_err *err);

#endif
