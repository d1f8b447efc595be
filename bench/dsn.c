/* dsn: make bench's DSN part (issue 19): parses the bounce mailbox's test
 * mails (tests/data/dsn: Postfix's real DSNs, ARF complaints,
 * non-standard bounces, a reply) round robin with hd_dsn_parse, as
 * `herald bounces fetch` reads each mail (the bounce rules of RULES
 * classify each bounce), N times in all, from memory, and prints the
 * parses per second and how many were bounces, complaints and refusals,
 * which bench/dsn.py, Python's email package on the same files, must
 * match in number.
 *   usage: dsn RULES N FILE... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "herald/buf.h"
#include "herald/dsn.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct hd_bounce_rules *rules = NULL;
    struct hd_err err = {0};
    if (argc < 4) {
        fprintf(stderr, "usage: dsn RULES N FILE...\n");
        return 2;
    }
    if (hd_bounce_rules_load(argv[1], &rules, &err) < 0) {
        fprintf(stderr, "dsn: %s\n", err.msg);
        return 1;
    }
    long n = strtol(argv[2], NULL, 10);
    int nf = argc - 3;
    struct hd_buf *f = calloc((size_t)nf, sizeof *f);
    for (int i = 0; i < nf; i++) {
        hd_buf_init(&f[i]);
        if (hd_buf_read_file(&f[i], argv[3 + i]) < 0) {
            fprintf(stderr, "dsn: cannot read '%s'\n", argv[3 + i]);
            return 1;
        }
    }
    long kinds[4] = {0}; /* bounce, complaint, delay, refused */
    struct hd_dsn d;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        const struct hd_buf *b = &f[i % nf];
        int rc = hd_dsn_parse(b->data, b->len, rules, &d, &err);
        kinds[rc < 0 ? 3 : d.kind]++;
    }
    double t = now_s() - t0;
    printf("%.0f %ld %ld %ld\n", (double)n / t, kinds[0] + kinds[2], kinds[1], kinds[3]);
    for (int i = 0; i < nf; i++)
        hd_buf_release(&f[i]);
    free(f);
    hd_bounce_rules_free(rules);
    return 0;
}
