/* policy: the dispatcher's arithmetic, kept free of I/O so it can be tested
 * alone: a provider's token bucket, retry backoff with jitter, and sliding
 * frequency-cap windows. Times are milliseconds (bucket) or seconds. */
#ifndef HERALD_POLICY_H
#define HERALD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/units.h"

/* A token bucket: `rate` tokens a second, at most `burst` stored; a
 * throttled gateway pauses it until a time. */
struct hd_bucket {
    double tokens, per_ms, burst;
    int64_t last_ms, paused_until_ms;
};

void hd_bucket_init(struct hd_bucket *b, const struct hd_rate *rate, uint32_t burst,
                    int64_t now_ms);
/* Takes one token: returns 0, or how many milliseconds until one is there
 * (or the pause ends); nothing is taken then. */
int64_t hd_bucket_take(struct hd_bucket *b, int64_t now_ms);
/* No token before until_ms (a throttled result's Retry-After). */
void hd_bucket_pause(struct hd_bucket *b, int64_t until_ms);

/* The delay before attempt number `attempt` (2 for the first retry):
 * base * 2^(attempt-2), at most max, then "equal jitter": a value in
 * [delay/2, delay] chosen by rnd. Never less than retry_after when the
 * gateway gave one (also capped by max). Seconds. */
int64_t hd_backoff(int attempt, int64_t base, int64_t max, int64_t retry_after, uint64_t rnd);

/* When a message answered at answered_ms (the instant the answer arrived)
 * may go again after delay_ms: the first whole second (the queue's unit)
 * at or after answered_ms + delay_ms, never before it. */
static inline int64_t hd_due_after(int64_t answered_ms, int64_t delay_ms)
{
    int64_t at = answered_ms + delay_ms;
    return at / 1000 + (at % 1000 > 0);
}

/* Whether a send at `at` is inside the cap's window at now: after now -
 * window (one exactly a window old has left it), or later (a send stamped
 * ahead of this clock happened). hd_cap_allows counts these alone. */
bool hd_cap_in_window(const struct hd_cap *cap, int64_t at, int64_t now);

/* A sliding window cap: with the times of the contact's earlier sends (any
 * order), may one more go at now? When not, *free_at (if not NULL) is the
 * first time it may. */
bool hd_cap_allows(const struct hd_cap *cap, const int64_t *sent, size_t n, int64_t now,
                   int64_t *free_at);

#endif
