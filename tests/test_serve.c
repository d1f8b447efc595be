/* test_serve: herald serve and the link tokens (issue 18). The token unit
 * tests check the round trip, a changed byte, expiry, rotation and
 * malformed input; the end-to-end tests start the real `herald serve` on
 * 127.0.0.1 (an ephemeral port it prints), send a campaign to the outbox,
 * take the List-Unsubscribe URL from the .eml file and talk to the service
 * with curl. */
#include "testutil.h"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <time.h>

#include "herald/config.h"
#include "herald/token.h"

static const struct hd_token_key k_now = {"current-secret-0123456789abcdef", 31};
static const struct hd_token_key k_old = {"previous-secret-0123456789abcdef", 32};

static const struct hd_token sample = {42, 1234567, HD_CH_EMAIL, HD_CAT_MARKETING, 20000};

#define DAY 86400

static void test_serve_token_round_trip(void **state)
{
    (void)state;
    char t[HD_TOKEN_MAX];
    struct hd_token got;
    int which = -1;
    hd_token_make(&sample, &k_now, t);
    assert_int_equal(strncmp(t, "v1.", 3), 0);
    assert_int_equal(strlen(t), 75);
    assert_true(strspn(t + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
                72);
    assert_int_equal(
        hd_token_verify(t, strlen(t), &k_now, 1, 20000 * DAY + 5, 400 * DAY, &got, &which),
        HD_TOKEN_OK);
    assert_int_equal(which, 0);
    assert_int_equal(got.contact, 42);
    assert_int_equal(got.message, 1234567);
    assert_int_equal(got.channel, HD_CH_EMAIL);
    assert_int_equal(got.category, HD_CAT_MARKETING);
    assert_int_equal(got.day, 20000);
}

static void test_serve_token_tampered(void **state)
{
    (void)state;
    char t[HD_TOKEN_MAX];
    struct hd_token got;
    hd_token_make(&sample, &k_now, t);
    size_t n = strlen(t);
    /* every position of the record and of the MAC counts */
    for (size_t i = 3; i < n; i++) {
        char c = t[i];
        t[i] = c == 'A' ? 'B' : 'A';
        int rc = hd_token_verify(t, n, &k_now, 1, 20000 * DAY, 400 * DAY, &got, NULL);
        if (rc != HD_TOKEN_FORGED)
            fail_msg("a change at %zu gave %s", i, hd_token_fault_name(rc));
        t[i] = c;
    }
    /* another secret did not sign it */
    assert_int_equal(hd_token_verify(t, n, &k_old, 1, 20000 * DAY, 400 * DAY, &got, NULL),
                     HD_TOKEN_FORGED);
}

static void test_serve_token_expired(void **state)
{
    (void)state;
    char t[HD_TOKEN_MAX];
    struct hd_token got;
    hd_token_make(&sample, &k_now, t);
    int64_t issued = 20000 * DAY;
    assert_int_equal(
        hd_token_verify(t, strlen(t), &k_now, 1, issued + 400 * DAY, 400 * DAY, &got, NULL),
        HD_TOKEN_OK);
    assert_int_equal(
        hd_token_verify(t, strlen(t), &k_now, 1, issued + 400 * DAY + 1, 400 * DAY, &got, NULL),
        HD_TOKEN_EXPIRED);
    assert_int_equal(hd_token_verify(t, strlen(t), &k_now, 1, issued + 2 * DAY, DAY, &got, NULL),
                     HD_TOKEN_EXPIRED);
}

static void test_serve_token_rotated(void **state)
{
    (void)state;
    char t[HD_TOKEN_MAX];
    struct hd_token got;
    int which = -1;
    hd_token_make(&sample, &k_old, t);
    struct hd_token_key keys[2] = {k_now, k_old};
    assert_int_equal(hd_token_verify(t, strlen(t), keys, 2, 20000 * DAY, 400 * DAY, &got, &which),
                     HD_TOKEN_OK);
    assert_int_equal(which, 1);
    /* once the previous secret is dropped, its tokens stop working */
    assert_int_equal(hd_token_verify(t, strlen(t), keys, 1, 20000 * DAY, 400 * DAY, &got, NULL),
                     HD_TOKEN_FORGED);
    /* an unset previous secret (length 0) is skipped, never an empty key */
    struct hd_token_key empty[2] = {k_now, {"", 0}};
    char e[HD_TOKEN_MAX];
    hd_token_make(&sample, &(struct hd_token_key){"", 0}, e);
    assert_int_equal(hd_token_verify(e, strlen(e), empty, 2, 20000 * DAY, 400 * DAY, &got, NULL),
                     HD_TOKEN_FORGED);
}

static void test_serve_token_garbage(void **state)
{
    (void)state;
    char t[HD_TOKEN_MAX], buf[200];
    struct hd_token got;
    hd_token_make(&sample, &k_now, t);
    size_t n = strlen(t);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(hd_token_verify(t, cut, &k_now, 1, 0, 400 * DAY, &got, NULL),
                         HD_TOKEN_MALFORMED);
    snprintf(buf, sizeof buf, "%s=", t);
    assert_int_equal(hd_token_verify(buf, strlen(buf), &k_now, 1, 0, 400 * DAY, &got, NULL),
                     HD_TOKEN_MALFORMED);
    snprintf(buf, sizeof buf, "v2.%s", t + 3);
    assert_int_equal(hd_token_verify(buf, strlen(buf), &k_now, 1, 0, 400 * DAY, &got, NULL),
                     HD_TOKEN_MALFORMED);
    snprintf(buf, sizeof buf, "%s", t);
    buf[10] = '+'; /* base64, not base64url */
    assert_int_equal(hd_token_verify(buf, n, &k_now, 1, 0, 400 * DAY, &got, NULL),
                     HD_TOKEN_MALFORMED);
    buf[10] = '\0'; /* a NUL inside */
    assert_int_equal(hd_token_verify(buf, n, &k_now, 1, 0, 400 * DAY, &got, NULL),
                     HD_TOKEN_MALFORMED);
    memset(buf, 'A', sizeof buf);
    assert_int_equal(hd_token_verify(buf, sizeof buf, &k_now, 1, 0, 400 * DAY, &got, NULL),
                     HD_TOKEN_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serve_token_round_trip), cmocka_unit_test(test_serve_token_tampered),
        cmocka_unit_test(test_serve_token_expired),    cmocka_unit_test(test_serve_token_rotated),
        cmocka_unit_test(test_serve_token_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
