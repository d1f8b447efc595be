/* test_digest: the SHA-256 of many texts side by side (channel/digest.c)
 * gives the bytes OpenSSL gives, one text at a time (hd_sha256_hex): the
 * standard's vectors, every length from 0 to 300 (one or two padding
 * blocks, every remainder), and groups of any size with texts of
 * different lengths sharing the rounds, through the lanes always and
 * through the choice the dispatcher makes. */
#include "testutil.h"

#include "herald/driver.h"

static void test_digest_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    enum { N = sizeof v / sizeof v[0] };
    char out[N][65];
    struct hd_digest_job jobs[N];
    for (size_t i = 0; i < N; i++)
        jobs[i] = (struct hd_digest_job){v[i].text, strlen(v[i].text), out[i]};
    hd_sha256_hex_lanes(jobs, N);
    for (size_t i = 0; i < N; i++)
        assert_string_equal(out[i], v[i].hex);
}

enum { MAXLEN = 300, JOBS = 301 };

/* bytes from a fixed seed: every run the same texts */
static void fill(unsigned char *p, size_t n)
{
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

/* jobs [from, from + n) of texts whose lengths step by `step` (mod 301),
 * digested through fn, each compared with OpenSSL's */
static void check_group(const unsigned char *text, size_t from, size_t n, size_t step,
                        void (*fn)(const struct hd_digest_job *, size_t))
{
    struct hd_digest_job jobs[JOBS] = {{0}};
    char out[JOBS][65];
    for (size_t i = 0; i < n; i++) {
        size_t len = ((from + i) * step) % (MAXLEN + 1);
        /* each text starts somewhere else, so no two lanes read alike */
        jobs[i] = (struct hd_digest_job){text + (from + i) % 97, len, out[i]};
        memset(out[i], 'x', sizeof out[i]);
    }
    fn(jobs, n);
    for (size_t i = 0; i < n; i++) {
        char want[65];
        hd_sha256_hex(jobs[i].data, jobs[i].len, want);
        if (strcmp(want, out[i]) != 0)
            fail_msg("length %zu (job %zu of %zu): %s, OpenSSL %s", jobs[i].len, i, n, out[i],
                     want);
    }
}

static void test_digest_lengths(void **state)
{
    (void)state;
    static unsigned char text[MAXLEN + 100];
    fill(text, sizeof text);
    /* every length once, eight at a time and all in one call */
    for (size_t from = 0; from < JOBS; from += 8)
        check_group(text, from, from + 8 <= JOBS ? 8 : JOBS - from, 1, hd_sha256_hex_lanes);
    check_group(text, 0, JOBS, 1, hd_sha256_hex_lanes);
    check_group(text, 0, JOBS, 1, hd_sha256_hex_many);
}

static void test_digest_groups(void **state)
{
    (void)state;
    static unsigned char text[MAXLEN + 100];
    fill(text, sizeof text);
    /* groups of 1 to 20 (partly empty lanes, more than one group), their
     * lengths far apart so that lanes end blocks apart */
    for (size_t n = 1; n <= 20; n++) {
        check_group(text, n, n, 37, hd_sha256_hex_lanes);
        check_group(text, n, n, 61, hd_sha256_hex_many);
    }
    hd_sha256_hex_many(NULL, 0);
    hd_sha256_hex_lanes(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest_vectors),
        cmocka_unit_test(test_digest_lengths),
        cmocka_unit_test(test_digest_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
