/* hash: FNV-1a with a SplitMix64 finalizer. The input is written as
 * decimal text ("campaign:contact:purpose") so the result does not depend
 * on the machine's byte order. */
#include "herald/hash.h"

#include <string.h>

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

/* v in decimal at p, as printf's %lld writes it; returns the end. */
static char *put_decimal(char *p, int64_t v)
{
    char digits[20];
    size_t k = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        digits[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *p++ = '-';
    while (k)
        *p++ = digits[--k];
    return p;
}

int hd_ab_bucket(int64_t campaign, int64_t contact, const char *purpose)
{
    /* the text "%lld:%lld:%s", cut to 95 bytes, written by hand: snprintf
     * was most of the cost of a contact's holdout and variant draws */
    char buf[96], *p = put_decimal(buf, campaign);
    *p++ = ':';
    p = put_decimal(p, contact);
    *p++ = ':';
    size_t n = strnlen(purpose, sizeof buf - 1 - (size_t)(p - buf));
    memcpy(p, purpose, n);
    return (int)(hd_hash64(buf, (size_t)(p - buf) + n, 0) % 10000);
}
