/* fuzz_csv: differential libFuzzer target for the streaming CSV reader.
 * The reader takes its input in fixed 64 KiB blocks (the API has no block
 * size to set, and fread fills a block whatever the FILE's buffer), so a
 * record is cut by a block boundary only past 64 KiB. The input is read
 * twice through fmemopen: as it is, and after enough blank lines (which the
 * reader skips) that a block boundary falls inside it, at a place the
 * input's hash picks. Both reads must give the same records (fields, their
 * lengths, first lines shifted by the blank lines) or the same error, each
 * field must be NUL-terminated at its length, and at the end the offset
 * must be the input's size. An input that starts with a byte-order mark is
 * read once: the mark counts only at the start. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"
#include "herald/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BLOCK 65536

/* Reads the whole text into out: one line per record, "line n: len:bytes
 * ...", then "end" or "error code line". Blank lines before the text shift
 * every line by pad. */
static void read_all(const char *text, size_t n, long pad, struct hd_buf *out)
{
    FILE *f = fmemopen((void *)text, n, "r");
    if (!f)
        abort();
    struct hd_csv *c = hd_csv_new(f, "fuzz.csv");
    struct hd_csv_record r;
    struct hd_err err;
    int rc;
    while ((rc = hd_csv_next(c, &r, &err)) == 1) {
        hd_buf_addf(out, "line %ld:", r.line - pad);
        for (size_t i = 0; i < r.nfields; i++) {
            if (strlen(r.fields[i]) != r.lens[i])
                abort();
            hd_buf_addf(out, " %zu:", r.lens[i]);
            hd_buf_add(out, r.fields[i], r.lens[i]);
        }
        hd_buf_addc(out, '\n');
    }
    if (rc == 0) {
        if (hd_csv_offset(c) != n)
            abort(); /* the end is the end of the file */
        hd_buf_addf(out, "end\n");
    } else {
        if (rc != HD_E_PARSE || strncmp(err.msg, "fuzz.csv:", 9) != 0)
            abort();
        hd_buf_addf(out, "error %d line %ld\n", rc, err.line > 1 ? err.line - pad : err.line);
    }
    hd_csv_free(c);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct hd_buf a, b;
    hd_buf_init(&a);
    hd_buf_init(&b);
    read_all((const char *)data, size, 0, &a);
    if (data[0] != 0xEF) {
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < size; i++)
            h = (h ^ data[i]) * 16777619u;
        size_t cut = h % size, pad = BLOCK - cut; /* the boundary falls before data[cut] */
        char *text = malloc(pad + size);
        memset(text, '\n', pad);
        memcpy(text + pad, data, size);
        read_all(text, pad + size, (long)pad, &b);
        if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) {
            fprintf(stderr, "fuzz_csv: a block boundary before byte %zu changes the records\n",
                    cut);
            fwrite(a.data, 1, a.len, stderr);
            fprintf(stderr, "---\n");
            fwrite(b.data, 1, b.len, stderr);
            abort();
        }
        free(text);
    }
    hd_buf_release(&a);
    hd_buf_release(&b);
    return 0;
}
