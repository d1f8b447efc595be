/* hash: a small, fixed, platform-independent hash for decisions that must
 * be stable and reproducible: which A/B variant a contact gets in a
 * campaign, and whether the contact is held out. The same (campaign,
 * contact, purpose) always lands in the same bucket, in any build. */
#ifndef HERALD_HASH_H
#define HERALD_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a over the bytes, then a 64-bit finalizer (from SplitMix64) so that
 * consecutive ids spread evenly. */
uint64_t hd_hash64(const void *data, size_t n, uint64_t seed);
/* A bucket in 0..9999 for the pair, different for each purpose
 * ("holdout", "variant"), so holdout and variant are independent. */
int hd_ab_bucket(int64_t campaign, int64_t contact, const char *purpose);

#endif
