/* csv: a streaming RFC 4180 reader. It reads a FILE in 64 KiB blocks and
 * hands out one record at a time: quoted fields with embedded commas, quotes
 * and newlines, LF or CRLF line ends, and a UTF-8 byte-order mark at the
 * start. Memory is bounded by the longest record, whatever the file's size. */
#ifndef HERALD_CSV_H
#define HERALD_CSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "herald/err.h"

struct hd_csv;

/* One record; pointers stay valid until the next hd_csv_next call. Each
 * field is NUL-terminated; lens[i] is its length in bytes. */
struct hd_csv_record {
    size_t nfields;
    char **fields;
    size_t *lens;
    long line; /* physical line where the record starts, 1-based */
};

/* f is borrowed; name is used in error messages. */
struct hd_csv *hd_csv_new(FILE *f, const char *name);
void hd_csv_free(struct hd_csv *csv);
/* Returns 1 with a record, 0 at end of input, or a negative code with err
 * set ("contacts.csv:12: unterminated quoted field"). A blank line is skipped. */
int hd_csv_next(struct hd_csv *csv, struct hd_csv_record *rec, struct hd_err *err);
/* Bytes consumed so far, for progress against the file's size. */
uint64_t hd_csv_offset(const struct hd_csv *csv);

#endif
