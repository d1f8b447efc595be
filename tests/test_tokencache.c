/* test_tokencache: the dispatcher's cached HMAC state (struct
 * hd_token_cache) signs the same tokens as the uncached path, byte for
 * byte; it follows a change of secret (a reload) rather than signing with
 * the old one; a secret longer than its copy is signed uncached; and the
 * tokens it makes verify. */
#include "testutil.h"

#include "herald/config.h"
#include "herald/token.h"

static void links(struct hd_serve_cfg *s, const char *secret, const struct hd_token *t,
                  struct hd_token_cache *cache, char *unsub, char *prefs)
{
    s->secrets[0].value = (char *)secret;
    s->secrets[0].len = strlen(secret);
    assert_true(hd_token_links_cached(s, t, 1795334400, unsub, prefs, cache));
}

static void test_tokencache_same_tokens(void **state)
{
    (void)state;
    struct hd_serve_cfg s = {.public_url = (char *)"https://example.com"};
    struct hd_token_cache cache = {0};
    char long_secret[200];
    memset(long_secret, 'k', sizeof long_secret - 1);
    long_secret[sizeof long_secret - 1] = '\0';
    const char *secrets[] = {"0123456789abcdef0123456789abcdef", "another secret", long_secret,
                             "0123456789abcdef0123456789abcdef"};
    for (size_t k = 0; k < sizeof secrets / sizeof *secrets; k++)
        for (int64_t i = 1; i <= 50; i++) {
            struct hd_token t = {i * 7919, i, (int)(i % 3), (int)(i % 2), 0};
            char u1[HD_LINK_MAX], p1[HD_LINK_MAX], u2[HD_LINK_MAX], p2[HD_LINK_MAX];
            links(&s, secrets[k], &t, NULL, u1, p1);
            links(&s, secrets[k], &t, &cache, u2, p2);
            assert_string_equal(u1, u2);
            assert_string_equal(p1, p2);
            /* and it verifies with that secret alone */
            const char *tok = strstr(u2, "/u/") + 3;
            struct hd_token_key key = {secrets[k], strlen(secrets[k])}, none = {NULL, 0};
            struct hd_token_key keys[2] = {key, none};
            struct hd_token got;
            assert_int_equal(
                hd_token_verify(tok, strlen(tok), keys, 2, 1795334400, 86400 * 30, &got, NULL),
                HD_TOKEN_OK);
            assert_int_equal(got.message, i);
            keys[0] = (struct hd_token_key){"0123456789abcdef0123456789abcdeX", 32};
            assert_int_equal(
                hd_token_verify(tok, strlen(tok), keys, 2, 1795334400, 86400 * 30, &got, NULL),
                HD_TOKEN_FORGED);
        }
    hd_token_cache_release(&cache);
    hd_token_cache_release(&cache); /* released twice, and NULL */
    hd_token_cache_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokencache_same_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
