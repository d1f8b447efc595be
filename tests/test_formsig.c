/* test_formsig: Twilio's request signature (form.c's own HMAC-SHA1 over
 * SHA-1 fetched once) against Python's hmac module: a short key, and a key
 * longer than SHA-1's 64-byte block, which RFC 2104 hashes first. The
 * expected values were made with
 *   base64(hmac.new(KEY, URL + "AccountSidAC1MessageSidSM1MessageStatus"
 *          "delivered", hashlib.sha1).digest())
 * for KEY b"12345" and b"k" * 100. And hd_form_collect, which decodes the
 * body in place in a copy of its own: the fields decoded and sorted, a bad
 * body refused whole with the offset of its fault, and the field limit.
 * herald serve's prepared auth tokens (struct hd_twilio_key) sign alike,
 * and a key made of another token is not used for this one. */
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

static void sign_key(const struct hd_twilio_key *k, const char *key, size_t klen,
                     char out[HD_TWILIO_SIG_MAX])
{
    struct hd_form f = {0};
    struct hd_err e = {0};
    assert_int_equal(hd_form_collect(body, strlen(body), &f, &e), 0);
    hd_form_twilio_signature_key(k, key, klen, url, &f, out);
    hd_form_release(&f);
}

static void test_formsig_key(void **state)
{
    (void)state;
    struct hd_twilio_key k, longk;
    char sig[HD_TWILIO_SIG_MAX], other[HD_TWILIO_SIG_MAX], longtok[100];
    memset(longtok, 'k', sizeof longtok);
    hd_form_twilio_key_init(&k, "12345", 5);
    hd_form_twilio_key_init(&longk, longtok, sizeof longtok);
    assert_non_null(k.inner);
    assert_null(longk.inner); /* longer than a block: not prepared */
    sign_key(&k, "12345", 5, sig);
    assert_string_equal(sig, "sogedrGQEkTT2Uvsp2KcAxYwZHk=");
    /* another token than the key's: signed with that token */
    sign_key(&k, "12346", 5, sig);
    sign("12346", 5, other);
    assert_string_equal(sig, other);
    sign_key(&longk, longtok, sizeof longtok, sig);
    assert_string_equal(sig, "75GYN6zjSgN9p677SvczNwSaakE=");
    sign_key(NULL, "12345", 5, sig);
    assert_string_equal(sig, "sogedrGQEkTT2Uvsp2KcAxYwZHk=");
    hd_form_twilio_key_release(&k);
    hd_form_twilio_key_release(&longk);
    hd_form_twilio_key_release(NULL);
}

static void test_formsig_collect(void **state)
{
    (void)state;
    struct hd_form f;
    struct hd_err e = {0};
    static const char in[] = "b=2&a=x%20y+z&&c&a=%41";
    assert_int_equal(hd_form_collect(in, strlen(in), &f, &e), 0);
    assert_int_equal(f.n, 4);
    assert_string_equal(f.v[0].name, "a");
    assert_string_equal(f.v[0].value, "A");
    assert_string_equal(f.v[1].value, "x y z");
    assert_string_equal(f.v[2].name, "b");
    assert_string_equal(f.v[2].value, "2");
    assert_string_equal(f.v[3].name, "c");
    assert_string_equal(f.v[3].value, "");
    assert_string_equal(hd_form_get(&f, "c"), "");
    assert_null(hd_form_get(&f, "d"));
    hd_form_release(&f);
    assert_null(f.buf);
    hd_form_release(&f); /* twice: nothing left to free */
}

static void test_formsig_collect_bad(void **state)
{
    (void)state;
    struct hd_form f;
    struct hd_err e = {0};
    /* good pairs first: the bad one late in the body refuses it whole */
    static const char bad[] = "a=1&b=2&c=%4";
    assert_int_equal(hd_form_collect(bad, strlen(bad), &f, &e), HD_E_PARSE);
    assert_string_equal(e.msg, "form field at byte 10 has a bad %-escape or a NUL");
    assert_int_equal(f.n, 0);
    assert_null(f.v);
    assert_null(f.buf);
    assert_int_equal(hd_form_collect("a=1&=2", 6, &f, &e), HD_E_PARSE);
    assert_string_equal(e.msg, "form field at byte 4 has no name");
    assert_int_equal(f.n, 0);
    /* HD_FORM_FIELDS fields are taken, one more is refused */
    struct hd_buf b;
    hd_buf_init(&b);
    for (int i = 0; i < HD_FORM_FIELDS; i++)
        hd_buf_addf(&b, "%sk%d=v", i ? "&" : "", i);
    assert_int_equal(hd_form_collect(b.data, b.len, &f, &e), 0);
    assert_int_equal(f.n, HD_FORM_FIELDS);
    hd_form_release(&f);
    hd_buf_adds(&b, "&one=more");
    assert_int_equal(hd_form_collect(b.data, b.len, &f, &e), HD_E_PARSE);
    assert_string_equal(e.msg, "form body has over 256 fields");
    assert_int_equal(f.n, 0);
    hd_buf_release(&b);
}

/* RFC 8058's one-click as multipart/form-data (RFC 7578), case by case. */
static void test_formsig_multipart(void **state)
{
    (void)state;
    static const char ct[] = "multipart/form-data; boundary=XyZ";
    static const struct {
        const char *ctype, *body;
        bool want;
    } cases[] = {
        /* curl -F's shape, and a boundary quoted, after another parameter */
        {ct,
         "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n"
         "One-Click\r\n--XyZ--\r\n",
         true},
        {"Multipart/Form-Data; charset=utf-8; boundary=\"a b\"",
         "--a b\r\ncontent-disposition: form-data; name=List-Unsubscribe\r\n\r\nOne-Click\r\n"
         "--a b--",
         true},
        /* a preamble, another part first, a part with no headers, padding */
        {ct,
         "hello\r\n--XyZ  \r\n\r\nx\r\n--XyZ\r\nContent-Disposition: form-data; "
         "name=\"other\"\r\nContent-Type: text/plain\r\n\r\ny\r\n--XyZ\r\n"
         "Content-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n"
         "--XyZ--",
         true},
        /* not it: another value, another name, a name that only starts so,
         * the name in a filename, an unclosed part, no boundary, not multipart */
        {ct,
         "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n"
         "One-Click!\r\n--XyZ--",
         false},
        {ct,
         "--XyZ\r\nContent-Disposition: form-data; name=\"Unsubscribe\"\r\n\r\n"
         "One-Click\r\n--XyZ--",
         false},
        {ct,
         "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe2\"\r\n\r\n"
         "One-Click\r\n--XyZ--",
         false},
        {ct,
         "--XyZ\r\nContent-Disposition: form-data; filename=\"List-Unsubscribe\"\r\n\r\n"
         "One-Click\r\n--XyZ--",
         false},
        {ct,
         "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n"
         "One-Click",
         false},
        {"multipart/form-data", "--XyZ\r\n\r\nOne-Click\r\n--XyZ--", false},
        {"multipart/form-datax; boundary=XyZ",
         "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n"
         "One-Click\r\n--XyZ--",
         false},
        {"application/x-www-form-urlencoded", "List-Unsubscribe=One-Click", false},
        {NULL, "List-Unsubscribe=One-Click", false},
        {ct, "", false},
        {ct, "--XyZ--", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (hd_form_multipart_has(cases[i].ctype, cases[i].body, strlen(cases[i].body),
                                  "List-Unsubscribe", "One-Click") != cases[i].want)
            fail_msg("case %zu: want %d", i, cases[i].want);
    /* a boundary over RFC 2046's 70 bytes is refused */
    char big[128];
    snprintf(big, sizeof big, "multipart/form-data; boundary=%071d", 0);
    assert_false(hd_form_multipart_has(big, "x", 1, "a", "b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formsig_multipart),   cmocka_unit_test(test_formsig_python),
        cmocka_unit_test(test_formsig_key),         cmocka_unit_test(test_formsig_collect),
        cmocka_unit_test(test_formsig_collect_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
