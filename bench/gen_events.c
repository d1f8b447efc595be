/* gen_events: writes a CSV of N synthetic behaviour events to stdout, for
 * the events benchmarks: the contacts of gen_contacts (c00000000 ...), in
 * time order as an export from an analytics store comes, over the year
 * before 2026-11-22: logins (half), page views and purchases (15%, each
 * with an amount property, the value RFM and sum() read) and sign-ups.
 * Deterministic: the same arguments give the same file.
 *   usage: gen_events N CONTACTS [SEED] > events.csv */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: gen_events N CONTACTS [SEED] > events.csv\n");
        return 2;
    }
    long n = atol(argv[1]), contacts = atol(argv[2]);
    uint64_t s = argc > 3 ? strtoull(argv[3], NULL, 10) : 2463534242ull;
    if (n < 0 || contacts < 1) {
        fprintf(stderr, "gen_events: N >= 0 and CONTACTS >= 1\n");
        return 2;
    }
    const int64_t end = 1795305600, span = 365 * 86400; /* 2026-11-22T00:00:00Z */
    printf("contact,event,time,amount\n");
    for (long i = 0; i < n; i++) {
        uint64_t r = next(&s);
        time_t t = (time_t)(end - span + (int64_t)((double)span * (double)i / (double)n));
        struct tm tm;
        char when[32];
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        int kind = (int)((r >> 8) % 100);
        const char *name = kind < 50   ? "login"
                           : kind < 83 ? "view"
                           : kind < 98 ? "purchase"
                                       : "signup";
        printf("c%08ld,%s,%s,", (long)(r % (uint64_t)contacts), name, when);
        if (kind >= 83 && kind < 98)
            printf("%ld.%02ld\n", (long)((r >> 20) % 500) + 1, (long)((r >> 40) % 100));
        else
            putchar('\n');
    }
    return 0;
}
