/* test_bufint: hd_buf_add_i64 writes what snprintf's "%lld" writes, for
 * the edges (0, ±1, every power of ten and its neighbours, INT64_MIN and
 * INT64_MAX) and for random values of every magnitude, appended after
 * what the buffer already holds. */
#include "testutil.h"

#include <stdlib.h>

static void expect_same(int64_t v)
{
    char want[32];
    snprintf(want, sizeof want, "x%lld", (long long)v);
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_addc(&b, 'x');
    hd_buf_add_i64(&b, v);
    assert_string_equal(b.data, want);
    assert_int_equal(b.len, strlen(want));
    hd_buf_release(&b);
}

static void test_bufint_edges(void **state)
{
    (void)state;
    expect_same(0);
    expect_same(INT64_MIN);
    expect_same(INT64_MAX);
    expect_same(INT64_MIN + 1);
    for (int64_t p = 1;; p *= 10) { /* 10^0 .. 10^18 */
        for (int64_t d = -1; d <= 1; d++) {
            expect_same(p + d);
            expect_same(-(p + d));
        }
        if (p > INT64_MAX / 10)
            break;
    }
}

static void test_bufint_random(void **state)
{
    (void)state;
    unsigned seed = 25;
    for (int i = 0; i < 100000; i++) {
        uint64_t u = ((uint64_t)rand_r(&seed) << 33) ^ ((uint64_t)rand_r(&seed) << 2) ^
                     (uint64_t)rand_r(&seed);
        int shift = rand_r(&seed) % 64; /* every magnitude */
        expect_same((int64_t)(u >> shift));
        expect_same(-(int64_t)((u >> shift) >> 1));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bufint_edges),
        cmocka_unit_test(test_bufint_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
