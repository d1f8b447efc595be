/* lat: latency buckets. Below 128 ms a bucket is one millisecond; above,
 * a value's top five bits pick one of 16 buckets in its power of two, so
 * every bucket is within 6.25% of the values it holds and the histogram
 * has a fixed size however slow a gateway gets. */
#include "herald/lat.h"

int hd_lat_bucket(int64_t ms)
{
    if (ms < 0)
        ms = 0;
    if (ms < 128)
        return (int)ms;
    int e = 63 - __builtin_clzll((unsigned long long)ms); /* 7 and up */
    int b = 128 + (e - 7) * 16 + (int)((ms >> (e - 4)) & 15);
    return b < HD_LAT_BUCKETS ? b : HD_LAT_BUCKETS - 1;
}

int64_t hd_lat_value(int bucket)
{
    if (bucket < 128)
        return bucket;
    int e = 7 + (bucket - 128) / 16, sub = (bucket - 128) % 16;
    int64_t lo = ((int64_t)(16 + sub)) << (e - 4), width = (int64_t)1 << (e - 4);
    return lo + width / 2;
}
