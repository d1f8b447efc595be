/* test_tokencache: the dispatcher's cached HMAC state (struct
 * hd_token_cache) signs the same tokens as the uncached path, byte for
 * byte; it follows a change of secret (a reload) rather than signing with
 * the old one; a secret longer than its copy is signed uncached; and the
 * tokens it makes verify. herald serve's keyset (struct hd_token_keyset)
 * gives hd_token_verify's answer for every key, position and fault. A
 * byte outside base64url's alphabet anywhere in a token makes it
 * malformed, one inside it forged (the decoder's table). */
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

/* hd_token_verify_set's answer and key index against hd_token_verify's */
static void same_verdict(const char *tok, const struct hd_token_key *keys, int64_t now, int want,
                         int want_which)
{
    struct hd_token_keyset ks;
    struct hd_token a = {0}, b = {0};
    int wa = -1, wb = -1;
    hd_token_keyset_init(&ks, keys, 2);
    int va = hd_token_verify(tok, strlen(tok), keys, 2, now, 86400 * 30, &a, &wa);
    int vb = hd_token_verify_set(tok, strlen(tok), &ks, now, 86400 * 30, &b, &wb);
    hd_token_keyset_release(&ks);
    hd_token_keyset_release(&ks); /* twice: nothing left */
    assert_int_equal(va, want);
    assert_int_equal(vb, want);
    if (want == HD_TOKEN_OK || want == HD_TOKEN_EXPIRED) {
        assert_int_equal(wa, want_which);
        assert_int_equal(wb, want_which);
        assert_memory_equal(&a, &b, sizeof a);
    }
}

static void test_tokencache_keyset(void **state)
{
    (void)state;
    struct hd_serve_cfg s = {.public_url = (char *)"https://example.com"};
    char long_secret[200], u[HD_LINK_MAX];
    memset(long_secret, 'k', sizeof long_secret - 1);
    long_secret[sizeof long_secret - 1] = '\0';
    struct hd_token t = {7919, 42, 1, 0, 0};
    const struct hd_token_key cur = {"0123456789abcdef0123456789abcdef", 32},
                              old = {long_secret, sizeof long_secret - 1},
                              other = {"0123456789abcdef0123456789abcdeX", 32}, none = {NULL, 0};
    links(&s, long_secret, &t, NULL, u, NULL); /* signed with the previous secret */
    const char *tok = strstr(u, "/u/") + 3;
    same_verdict(tok, (struct hd_token_key[]){cur, old}, 1795334400, HD_TOKEN_OK, 1);
    same_verdict(tok, (struct hd_token_key[]){old, none}, 1795334400, HD_TOKEN_OK, 0);
    same_verdict(tok, (struct hd_token_key[]){none, old}, 1795334400, HD_TOKEN_OK, 1);
    same_verdict(tok, (struct hd_token_key[]){cur, other}, 1795334400, HD_TOKEN_FORGED, -1);
    same_verdict(tok, (struct hd_token_key[]){cur, old}, 1795334400 + 86400 * 31, HD_TOKEN_EXPIRED,
                 1);
    char bad[HD_LINK_MAX];
    snprintf(bad, sizeof bad, "%s", tok);
    bad[10] = bad[10] == 'A' ? 'B' : 'A'; /* a byte of the record changed */
    same_verdict(bad, (struct hd_token_key[]){cur, old}, 1795334400, HD_TOKEN_FORGED, -1);
    same_verdict("v1.short", (struct hd_token_key[]){cur, old}, 1795334400, HD_TOKEN_MALFORMED, -1);
}

/* The decoder's table: any byte outside base64url's alphabet, at any
 * place of a token, makes it malformed (not merely forged); any other
 * character of the alphabet there is read as a character (the MAC then
 * refuses it), and the token itself verifies. */
static void test_tokencache_alphabet(void **state)
{
    (void)state;
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    struct hd_serve_cfg s = {.public_url = (char *)"https://example.com"};
    const char *secret = "0123456789abcdef0123456789abcdef";
    const struct hd_token_key key = {secret, 32};
    struct hd_token t = {7919, 42, 1, 0, 0}, got;
    char u[HD_LINK_MAX], tok[HD_LINK_MAX];
    links(&s, secret, &t, NULL, u, NULL);
    snprintf(tok, sizeof tok, "%s", strstr(u, "/u/") + 3);
    size_t len = strlen(tok);
    assert_int_equal(hd_token_verify(tok, len, &key, 1, 1795334400, 400 * 86400, &got, NULL),
                     HD_TOKEN_OK);
    for (size_t at = 3; at < len; at++) {
        char was = tok[at];
        for (int c = 1; c < 256; c++) {
            if (c == was)
                continue;
            tok[at] = (char)c;
            int want = strchr(alphabet, c) ? HD_TOKEN_FORGED : HD_TOKEN_MALFORMED;
            int v = hd_token_verify(tok, len, &key, 1, 1795334400, 400 * 86400, &got, NULL);
            if (v != want)
                fail_msg("byte %#x at %zu: %d, not %d", c, at, v, want);
        }
        tok[at] = was;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokencache_alphabet),
        cmocka_unit_test(test_tokencache_same_tokens),
        cmocka_unit_test(test_tokencache_keyset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
