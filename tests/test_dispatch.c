/* test_dispatch: the dispatcher's arithmetic and its state machine: the
 * token bucket (rate, burst, pause), backoff bounds with jitter and
 * Retry-After, sliding cap windows, and every move the message state
 * machine allows or refuses. */
#include "testutil.h"

#include "herald/policy.h"
#include "herald/state.h"

static void test_bucket(void **state)
{
    (void)state;
    struct hd_rate r = {10, 1}; /* 10/s */
    struct hd_bucket b;
    hd_bucket_init(&b, &r, 5, 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(hd_bucket_take(&b, 0), 0); /* the burst */
    int64_t wait = hd_bucket_take(&b, 0);
    assert_true(wait >= 99 && wait <= 101);
    assert_true(hd_bucket_take(&b, 50) > 0);
    assert_int_equal(hd_bucket_take(&b, 100), 0);
    /* a long idle period refills to the burst, never beyond */
    for (int i = 0; i < 5; i++)
        assert_int_equal(hd_bucket_take(&b, 60000), 0);
    assert_true(hd_bucket_take(&b, 60000) > 0);
    /* over a simulated minute, at most rate * 60 + burst tokens */
    hd_bucket_init(&b, &r, 5, 0);
    int got = 0;
    for (int64_t t = 0; t < 60000; t++)
        got += hd_bucket_take(&b, t) == 0;
    assert_true(got <= 600 + 5 && got >= 599);
    /* a pause holds every token back until it ends */
    hd_bucket_init(&b, &r, 5, 0);
    hd_bucket_pause(&b, 5000);
    assert_int_equal(hd_bucket_take(&b, 200), 4800);
    assert_int_equal(hd_bucket_take(&b, 5000), 0);
    /* a slow rate: 6000/min is 100/s; 1/min waits a minute */
    struct hd_rate slow = {1, 60};
    hd_bucket_init(&b, &slow, 1, 0);
    assert_int_equal(hd_bucket_take(&b, 0), 0);
    wait = hd_bucket_take(&b, 0);
    assert_true(wait >= 59999 && wait <= 60001);
}

static void test_backoff(void **state)
{
    (void)state;
    const int64_t base = 30, max = 3600;
    static const uint64_t rnds[] = {0, 1, 7, 12345, 0xffffffffffffffffull, 0x8000000000000000ull};
    for (int attempt = 2; attempt <= 20; attempt++) {
        int64_t d = base;
        for (int i = 2; i < attempt && d < max; i++)
            d *= 2;
        if (d > max)
            d = max;
        for (size_t k = 0; k < sizeof rnds / sizeof rnds[0]; k++) {
            int64_t got = hd_backoff(attempt, base, max, 0, rnds[k]);
            if (got < d / 2 || got > d)
                fail_msg("attempt %d rnd %zu: %lld not in [%lld, %lld]", attempt, k, (long long)got,
                         (long long)(d / 2), (long long)d);
        }
    }
    assert_int_equal(hd_backoff(2, base, max, 0, 0), 15);
    assert_int_equal(hd_backoff(2, base, max, 0, 15), 30);
    /* Retry-After is a floor, capped by max */
    assert_int_equal(hd_backoff(2, base, max, 100, 0), 100);
    assert_int_equal(hd_backoff(2, base, max, 7200, 0), 3600);
    /* jitter spreads: not every rnd gives the same delay */
    assert_int_not_equal(hd_backoff(5, base, max, 0, 1), hd_backoff(5, base, max, 0, 100));
}

static void test_caps(void **state)
{
    (void)state;
    const int64_t now = 1795334400, day = 86400;
    struct hd_cap cap = {3, 7 * day}; /* 3/7d */
    int64_t sent[] = {now - day, now - 2 * day, now - 8 * day};
    int64_t free_at = 0;
    assert_true(hd_cap_allows(&cap, sent, 3, now, &free_at));
    int64_t more[] = {now - day, now - 2 * day, now - 8 * day, now - 3 * day};
    assert_false(hd_cap_allows(&cap, more, 4, now, &free_at));
    assert_int_equal(free_at, now - 3 * day + 7 * day); /* the oldest inside leaves */
    /* exactly at the window's edge a send no longer counts */
    int64_t edge[] = {now - 7 * day, now - day, now - 2 * day};
    assert_true(hd_cap_allows(&cap, edge, 3, now, NULL));
    /* the same second twice counts twice */
    struct hd_cap one = {1, day};
    int64_t twice[] = {now - 10, now - 10};
    assert_false(hd_cap_allows(&one, twice, 2, now, &free_at));
    assert_int_equal(free_at, now - 10 + day);
    /* 0/1d: nothing at all */
    struct hd_cap none = {0, day};
    assert_false(hd_cap_allows(&none, NULL, 0, now, &free_at));
    assert_true(free_at == INT64_MAX);
    assert_true(hd_cap_allows(&one, NULL, 0, now, NULL));
}

static void test_states(void **state)
{
    (void)state;
    static const int ok[][2] = {
        {HD_ST_QUEUED, HD_ST_SENDING},     {HD_ST_QUEUED, HD_ST_DEFERRED},
        {HD_ST_QUEUED, HD_ST_HELD_OUT},    {HD_ST_QUEUED, HD_ST_SUPPRESSED},
        {HD_ST_QUEUED, HD_ST_NO_CHANNEL},  {HD_ST_QUEUED, HD_ST_CAPPED},
        {HD_ST_QUEUED, HD_ST_EXPIRED},     {HD_ST_QUEUED, HD_ST_RENDER_FAILED},
        {HD_ST_SENDING, HD_ST_SENT},       {HD_ST_SENDING, HD_ST_RETRY_WAIT},
        {HD_ST_SENDING, HD_ST_FAILED},     {HD_ST_SENDING, HD_ST_QUEUED},
        {HD_ST_SENDING, HD_ST_DEFERRED},   {HD_ST_SENT, HD_ST_DELIVERED},
        {HD_ST_SENT, HD_ST_UNDELIVERED},   {HD_ST_RETRY_WAIT, HD_ST_QUEUED},
        {HD_ST_RETRY_WAIT, HD_ST_EXPIRED}, {HD_ST_DEFERRED, HD_ST_QUEUED},
        {HD_ST_DEFERRED, HD_ST_EXPIRED},   {HD_ST_QUEUED, HD_ST_CANCELLED},
        {HD_ST_DEFERRED, HD_ST_CANCELLED}, {HD_ST_RETRY_WAIT, HD_ST_CANCELLED},
    };
    size_t nok = sizeof ok / sizeof ok[0], allowed = 0;
    for (int from = 0; from < HD_ST_COUNT; from++)
        for (int to = 0; to < HD_ST_COUNT; to++) {
            bool want = false;
            for (size_t i = 0; i < nok; i++)
                want |= ok[i][0] == from && ok[i][1] == to;
            if (hd_state_can(from, to) != want)
                fail_msg("%s -> %s: %s", hd_state_name(from), hd_state_name(to),
                         want ? "refused" : "allowed");
            allowed += want;
        }
    assert_int_equal(allowed, nok);
    int s = HD_ST_QUEUED;
    struct hd_err e = {0};
    assert_int_equal(hd_state_move(&s, HD_ST_SENT, &e), HD_E_INVALID);
    assert_int_equal(s, HD_ST_QUEUED);
    assert_string_equal(e.msg, "a message cannot go from queued to sent");
    assert_int_equal(hd_state_move(&s, HD_ST_SENDING, &e), 0);
    assert_int_equal(hd_state_move(&s, HD_ST_SENT, &e), 0);
    assert_int_equal(hd_state_move(&s, HD_ST_QUEUED, &e), HD_E_INVALID);
    /* terminal states */
    static const int terminal[] = {
        HD_ST_SENT,       HD_ST_DELIVERED,  HD_ST_UNDELIVERED, HD_ST_FAILED,  HD_ST_HELD_OUT,
        HD_ST_SUPPRESSED, HD_ST_NO_CHANNEL, HD_ST_CAPPED,      HD_ST_EXPIRED, HD_ST_RENDER_FAILED,
        HD_ST_CANCELLED};
    size_t nterm = 0;
    for (int st = 0; st < HD_ST_COUNT; st++)
        nterm += hd_state_terminal(st);
    assert_int_equal(nterm, sizeof terminal / sizeof terminal[0]);
    for (size_t i = 0; i < sizeof terminal / sizeof terminal[0]; i++)
        assert_true(hd_state_terminal(terminal[i]));
    for (int st = 0; st < HD_ST_COUNT; st++)
        assert_int_equal(hd_state_parse(hd_state_name(st)), st);
    assert_int_equal(hd_state_parse("lost"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_states),
    };
    return cmocka_run_group_tests_name("dispatch", tests, NULL, NULL);
}
