/* policy: token bucket, retry backoff, sliding cap windows. */
#include "herald/policy.h"

#include <stdlib.h>

#include "herald/buf.h"

void hd_bucket_init(struct hd_bucket *b, const struct hd_rate *rate, uint32_t burst, int64_t now_ms)
{
    b->per_ms = (double)rate->count / ((double)rate->period * 1000.0);
    b->burst = burst >= 1 ? burst : 1;
    b->tokens = b->burst;
    b->last_ms = now_ms;
    b->paused_until_ms = 0;
}

int64_t hd_bucket_take(struct hd_bucket *b, int64_t now_ms)
{
    if (now_ms < b->paused_until_ms)
        return b->paused_until_ms - now_ms;
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->per_ms;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_ms = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    int64_t wait = (int64_t)((1.0 - b->tokens) / b->per_ms) + 1;
    return wait > 0 ? wait : 1;
}

void hd_bucket_pause(struct hd_bucket *b, int64_t until_ms)
{
    if (until_ms > b->paused_until_ms)
        b->paused_until_ms = until_ms;
    /* nothing saved up while paused: the gateway asked for less, not later */
    if (b->tokens > 1.0)
        b->tokens = 1.0;
}

int64_t hd_backoff(int attempt, int64_t base, int64_t max, int64_t retry_after, uint64_t rnd)
{
    int64_t delay = base > 0 ? base : 1;
    for (int i = 2; i < attempt && delay < max; i++)
        delay *= 2;
    if (delay > max)
        delay = max;
    int64_t half = delay / 2;
    int64_t d = half + (int64_t)(rnd % (uint64_t)(delay - half + 1));
    if (retry_after > d)
        d = retry_after < max ? retry_after : max;
    return d;
}

static int cmp_time(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

bool hd_cap_in_window(const struct hd_cap *cap, int64_t at, int64_t now)
{
    return at > now - cap->window;
}

bool hd_cap_allows(const struct hd_cap *cap, const int64_t *sent, size_t n, int64_t now,
                   int64_t *free_at)
{
    /* sends after now - window count, later ones too: a send stamped ahead
     * of this clock (another dispatcher's, a clock stepped back) happened */
    int64_t *in = hd_xmalloc((n ? n : 1) * sizeof *in);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (hd_cap_in_window(cap, sent[i], now))
            in[k++] = sent[i];
    bool ok = k < cap->count;
    if (!ok && free_at) {
        /* k - (count - 1) of the oldest must leave the window first */
        qsort(in, k, sizeof *in, cmp_time);
        *free_at = cap->count == 0 ? INT64_MAX : in[k - cap->count] + cap->window;
    }
    free(in);
    return ok;
}
