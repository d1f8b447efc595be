/* lat: the latency histogram's buckets, pure arithmetic shared by the
 * store (which buckets gateway latencies in SQL and in the pruned totals)
 * and the statistics (which read percentiles back). Exact to the
 * millisecond below 128 ms, then 16 buckets a doubling (within 6.25%). */
#ifndef HERALD_LAT_H
#define HERALD_LAT_H

#include <stdint.h>

#define HD_LAT_BUCKETS (128 + 16 * 26)
/* The bucket of a latency in ms (negative counts as 0, the largest ones
 * share the last bucket). */
int hd_lat_bucket(int64_t ms);
int64_t hd_lat_value(int bucket); /* the bucket's middle, in ms */

#endif
