/* audit: what herald makes of the delivery log beyond reading it: the
 * two-proportion z-test that compares a variant's conversions with the
 * holdout's. The log's queries (filters, history, statistics, events,
 * pruning, pseudonyms) are the store's and are declared in store.h; the
 * latency histogram's arithmetic is lat.h. Both are included here, so a
 * file that includes audit.h sees them too.
 *
 * Every query names its filters with constant SQL and bound parameters;
 * nothing the user typed becomes SQL text. */
#ifndef HERALD_AUDIT_H
#define HERALD_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/err.h"
#include "herald/lat.h"
#include "herald/store.h"

/* A two-proportion z-test of x1/n1 (a variant) against x2/n2 (the
 * holdout): the rates, the difference and relative lift, z and the
 * two-sided p-value (pooled), and the 95% interval of the difference
 * (unpooled). ok is false when a group is empty or both rates are 0 or 1. */
struct hd_ztest {
    double p1, p2, diff, lift, z, p, lo, hi;
    bool ok;
};
void hd_ztest(int64_t x1, int64_t n1, int64_t x2, int64_t n2, struct hd_ztest *out);

#endif
