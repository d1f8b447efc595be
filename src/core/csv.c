/* csv: a byte-at-a-time state machine over a block buffer. Field bytes are
 * copied (unescaped) into one record buffer; field starts are offsets into it
 * until the record is complete, because the buffer may move as it grows. */
#include "herald/csv.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"

#define BLOCK 65536

struct hd_csv {
    FILE *f;
    const char *name;
    unsigned char block[BLOCK];
    size_t pos, len;
    uint64_t offset;
    long line;    /* current physical line */
    bool started; /* BOM checked */
    bool eof;
    struct hd_buf rec;
    size_t *starts; /* offsets of fields in rec */
    size_t *lens;
    char **ptrs;
    size_t cap;
};

struct hd_csv *hd_csv_new(FILE *f, const char *name)
{
    struct hd_csv *c = hd_xcalloc(1, sizeof *c);
    c->f = f;
    c->name = name;
    c->line = 1;
    hd_buf_init(&c->rec);
    return c;
}

void hd_csv_free(struct hd_csv *c)
{
    if (!c)
        return;
    hd_buf_release(&c->rec);
    free(c->starts);
    free(c->lens);
    free(c->ptrs);
    free(c);
}

uint64_t hd_csv_offset(const struct hd_csv *c)
{
    return c->offset;
}

/* Next byte, or -1 at end of input. */
static inline int getb(struct hd_csv *c)
{
    if (c->pos == c->len) {
        if (c->eof)
            return -1;
        c->len = fread(c->block, 1, BLOCK, c->f);
        c->pos = 0;
        if (c->len == 0) {
            c->eof = true;
            return -1;
        }
    }
    c->offset++;
    return c->block[c->pos++];
}

static inline int peekb(struct hd_csv *c)
{
    int ch = getb(c);
    if (ch >= 0) {
        c->pos--;
        c->offset--;
    }
    return ch;
}

/* Which bytes end a run of field bytes: STOP_PLAIN in an unquoted field
 * (',', a line end, '"' and NUL), STOP_QUOTED in a quoted one ('"', '\n'
 * for the line count, and NUL). One load a byte instead of a test for
 * each stop: the import's most frequent loop. */
enum { STOP_PLAIN = 1, STOP_QUOTED = 2 };
static const unsigned char stops[256] = {
    [0] = STOP_PLAIN | STOP_QUOTED,
    ['"'] = STOP_PLAIN | STOP_QUOTED,
    ['\n'] = STOP_PLAIN | STOP_QUOTED,
    [','] = STOP_PLAIN,
    ['\r'] = STOP_PLAIN,
};

/* Copies the bytes before the next stop of class (or a NUL) in the
 * current block straight into the record: the common case, without
 * per-byte calls. */
static void take_run(struct hd_csv *c, unsigned char class)
{
    const unsigned char *p = c->block + c->pos, *end = c->block + c->len, *q = p;
    while (q < end && !(stops[*q] & class))
        q++;
    size_t n = (size_t)(q - p);
    if (n) {
        hd_buf_add(&c->rec, p, n);
        c->pos += n;
        c->offset += n;
    }
}

static void end_field(struct hd_csv *c, size_t *n, size_t start)
{
    if (*n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->starts = hd_xrealloc(c->starts, c->cap * sizeof *c->starts);
        c->lens = hd_xrealloc(c->lens, c->cap * sizeof *c->lens);
        c->ptrs = hd_xrealloc(c->ptrs, c->cap * sizeof *c->ptrs);
    }
    c->starts[*n] = start;
    c->lens[*n] = c->rec.len - start;
    hd_buf_addc(&c->rec, '\0');
    (*n)++;
}

/* Checks and skips a UTF-8 byte-order mark at the start of the input. */
static int skip_bom(struct hd_csv *c, struct hd_err *err)
{
    c->started = true;
    if (peekb(c) == 0xEF) {
        getb(c);
        if (getb(c) != 0xBB || getb(c) != 0xBF)
            return hd_err_setpos(err, HD_E_PARSE, c->name, 1, 0,
                                 "the file starts with a broken byte-order mark");
    }
    return 0;
}

/* read_quoted returns the byte that ended the field (a comma, a line end,
 * or -1 at the end of input), or HD_E_PARSE, which is below -1. */
#define FIELD_ERROR(ch) ((ch) < -1)

/* A quoted field's bytes, from just after its opening quote (the record
 * began on line first). */
static inline int read_quoted(struct hd_csv *c, long first, struct hd_err *err)
{
    int ch;
    for (;;) {
        take_run(c, STOP_QUOTED);
        ch = getb(c);
        if (ch < 0)
            return hd_err_setpos(err, HD_E_PARSE, c->name, first, 0,
                                 "unterminated quoted field (a '\"' is missing)");
        if (ch == '"') {
            if (peekb(c) == '"') {
                getb(c);
                hd_buf_addc(&c->rec, '"');
                continue;
            }
            break;
        }
        if (ch == '\n')
            c->line++;
        if (ch == 0)
            return hd_err_setpos(err, HD_E_PARSE, c->name, c->line, 0,
                                 "a NUL byte in a field (is the file UTF-16? name its encoding, "
                                 "UTF-16LE or UTF-16BE)");
        hd_buf_addc(&c->rec, (char)ch);
    }
    ch = getb(c);
    if (ch != ',' && ch != '\n' && ch != '\r' && ch >= 0)
        return hd_err_setpos(err, HD_E_PARSE, c->name, c->line, 0,
                             "text after a closing quote (quote the whole field "
                             "and double any '\"' inside it)");
    return ch;
}

/* The fields of one record whose first byte is ch, through its line end;
 * *np is the number of fields. An unquoted field (nearly every field) is
 * read here rather than by a helper like read_quoted: checking a helper's
 * result cost about one instruction and a half per field on the import. */
static inline int read_fields(struct hd_csv *c, int ch, long first, size_t *np, struct hd_err *err)
{
    size_t n = 0, start = 0;
    for (;;) {
        if (ch == '"' && c->rec.len == start) {
            if (FIELD_ERROR(ch = read_quoted(c, first, err)))
                return ch;
        } else {
            while (ch >= 0 && ch != ',' && ch != '\n' && ch != '\r') {
                if (ch != '"' && ch != 0) {
                    hd_buf_addc(&c->rec, (char)ch);
                    take_run(c, STOP_PLAIN);
                    ch = getb(c);
                    continue;
                }
                if (ch == '"')
                    return hd_err_setpos(err, HD_E_PARSE, c->name, c->line, 0,
                                         "a '\"' inside an unquoted field (quote the field "
                                         "and double the '\"')");
                if (ch == 0)
                    return hd_err_setpos(err, HD_E_PARSE, c->name, c->line, 0,
                                         "a NUL byte in a field (is the file UTF-16? name its "
                                         "encoding, UTF-16LE or UTF-16BE)");
                hd_buf_addc(&c->rec, (char)ch);
                ch = getb(c);
            }
        }
        end_field(c, &n, start);
        start = c->rec.len;
        if (ch == ',') {
            ch = getb(c);
            if (ch < 0 || ch == '\n' || ch == '\r') {
                end_field(c, &n, start); /* trailing empty field */
            } else {
                continue;
            }
        }
        if (ch == '\r') {
            if (peekb(c) == '\n')
                getb(c);
        }
        if (ch == '\n' || ch == '\r')
            c->line++;
        *np = n;
        return 0;
    }
}

int hd_csv_next(struct hd_csv *c, struct hd_csv_record *rec, struct hd_err *err)
{
    if (!c->started) {
        int rc = skip_bom(c, err);
        if (rc < 0)
            return rc;
    }
    for (;;) {
        size_t n = 0;
        long first = c->line;
        int ch, rc;
        hd_buf_reset(&c->rec);
        ch = getb(c);
        if (ch < 0)
            return 0;
        if (ch == '\n' || (ch == '\r' && peekb(c) == '\n')) {
            if (ch == '\r')
                getb(c);
            c->line++;
            continue; /* blank line */
        }
        if ((rc = read_fields(c, ch, first, &n, err)) < 0)
            return rc;
        for (size_t i = 0; i < n; i++)
            c->ptrs[i] = c->rec.data + c->starts[i];
        rec->nfields = n;
        rec->fields = c->ptrs;
        rec->lens = c->lens;
        rec->line = first;
        return 1;
    }
}
