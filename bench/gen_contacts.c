/* gen_contacts: writes a CSV of N synthetic contacts to stdout, for the
 * benchmarks: realistic columns (email, E.164 and national phones, locale,
 * zone, an FCM token for some) and typed attributes (plan, dates, numbers,
 * booleans). Deterministic: the same N gives the same file.
 *   usage: gen_contacts N [SEED] > contacts.csv */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gen_contacts N [SEED] > contacts.csv\n");
        return 2;
    }
    long n = atol(argv[1]);
    uint64_t s = argc > 2 ? strtoull(argv[2], NULL, 10) : 88172645463325252ull;
    static const char *const locales[] = {"en", "en-US", "zh-CN", "de", "fr", "ja", "es-419"};
    static const char *const zones[] = {
        "UTC",          "Asia/Shanghai", "America/New_York", "Europe/Berlin",
        "Europe/Paris", "Asia/Tokyo",    "America/Sao_Paulo"};
    static const char *const plans[] = {"free", "silver", "gold", "platinum"};
    printf("id,email,phone,locale,timezone,fcm_token,created_at,plan,last_active,"
           "membership_expires,lifetime_spend,orders,vip\n");
    for (long i = 0; i < n; i++) {
        uint64_t r = next(&s);
        int day = (int)(r % 28) + 1, month = (int)((r >> 8) % 12) + 1;
        printf("c%08ld,user%ld@example%d.com,", i, i, (int)(r % 50));
        if (r & 1)
            printf("+86 138 %04ld %04ld,", (i / 10000) % 10000, i % 10000);
        else
            printf("(415) 555-%04ld,", i % 10000);
        printf("%s,%s,", locales[(r >> 3) % 7], zones[(r >> 6) % 7]);
        if ((r >> 9) % 3 == 0)
            printf("fcm%016llx:APA91b%08lx,", (unsigned long long)r, i);
        else
            putchar(',');
        printf("2025-%02d-%02dT10:00:00Z,%s,2026-%02d-%02d,2027-%02d-%02d,%ld.%02ld,%ld,%s\n",
               month, day, plans[(r >> 12) % 4], (int)((r >> 16) % 11) + 1, day,
               (int)((r >> 20) % 12) + 1, day, (long)((r >> 24) % 5000), (long)((r >> 40) % 100),
               (long)((r >> 32) % 40), (r >> 44) % 10 == 0 ? "true" : "false");
    }
    return 0;
}
