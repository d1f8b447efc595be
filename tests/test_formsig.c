/* test_formsig: Twilio's request signature (form.c's own HMAC-SHA1 over
 * SHA-1 fetched once) against Python's hmac module: a short key, and a key
 * longer than SHA-1's 64-byte block, which RFC 2104 hashes first. The
 * expected values were made with
 *   base64(hmac.new(KEY, URL + "AccountSidAC1MessageSidSM1MessageStatus"
 *          "delivered", hashlib.sha1).digest())
 * for KEY b"12345" and b"k" * 100. */
#include "testutil.h"

#include "herald/form.h"

static const char url[] = "https://example.com/hooks/twilio/p?m=7";
static const char body[] = "MessageSid=SM1&MessageStatus=delivered&AccountSid=AC1";

static void sign(const char *key, size_t klen, char out[HD_TWILIO_SIG_MAX])
{
    struct hd_form f = {0};
    struct hd_err e = {0};
    assert_int_equal(hd_form_collect(body, strlen(body), &f, &e), 0);
    hd_form_twilio_signature(key, klen, url, &f, out);
    hd_form_release(&f);
}

static void test_formsig_python(void **state)
{
    (void)state;
    char sig[HD_TWILIO_SIG_MAX], longk[100];
    sign("12345", 5, sig);
    assert_string_equal(sig, "sogedrGQEkTT2Uvsp2KcAxYwZHk=");
    memset(longk, 'k', sizeof longk);
    sign(longk, sizeof longk, sig);
    assert_string_equal(sig, "75GYN6zjSgN9p677SvczNwSaakE=");
    /* one byte of the key changed: another signature */
    sign("12346", 5, sig);
    assert_string_not_equal(sig, "sogedrGQEkTT2Uvsp2KcAxYwZHk=");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formsig_python),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
