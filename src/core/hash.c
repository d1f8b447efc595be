/* hash: FNV-1a with a SplitMix64 finalizer. The input is written as
 * decimal text ("campaign:contact:purpose") so the result does not depend
 * on the machine's byte order. */
#include "herald/hash.h"

#include <stdio.h>

uint64_t hd_hash64(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

int hd_ab_bucket(int64_t campaign, int64_t contact, const char *purpose)
{
    char buf[96];
    int n =
        snprintf(buf, sizeof buf, "%lld:%lld:%s", (long long)campaign, (long long)contact, purpose);
    if (n < 0 || n >= (int)sizeof buf)
        n = (int)sizeof buf - 1;
    return (int)(hd_hash64(buf, (size_t)n, 0) % 10000);
}
