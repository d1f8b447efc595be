/* token: link tokens, signed with HMAC-SHA256 (see token.h).
 *
 * The signed bytes are the version tag "v1" and a fixed 22-byte record:
 * contact (8 bytes, big-endian), message (8), channel (1), category (1) and
 * the issue day (4). The text is "v1." and base64url without padding of
 * the record followed by the 32-byte MAC: 54 bytes, 72 characters. Decoding
 * accepts exactly that length and alphabet, so a truncated, padded or
 * extended token is malformed before any MAC is computed; the MAC is then
 * compared with CRYPTO_memcmp, and the fields are believed only after it
 * matched. Nothing here reads the store or logs: a token is a secret too.
 *
 * The dispatcher makes a token for every message, so the MAC is the HMAC
 * construction of RFC 2104 over SHA-256 fetched once: OpenSSL 3's one-shot
 * HMAC() fetches its algorithms again on every call, which cost more than
 * the hashing itself (about 30,000 instructions a message). The
 * dispatcher also keeps the key's padded blocks hashed in a cache of its
 * own (struct hd_token_cache), which halves the hashing: a token is then
 * two compressions of SHA-256, not four (about 12,000 instructions a
 * message before). herald serve verifies a token per request to a link the
 * same way, from a keyset made once at its start (struct
 * hd_token_keyset), which its worker threads only read: each verification
 * copies the states into a context of its own. */
#include "herald/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "herald/config.h"

#define REC_LEN 22
#define MAC_LEN 32
#define RAW_LEN (REC_LEN + MAC_LEN)
#define TEXT_LEN 72 /* base64url of RAW_LEN bytes, no padding */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

static uint64_t get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* RAW_LEN is a multiple of 3: every group of 3 bytes is 4 characters. */
static void encode(const unsigned char *in, char *out)
{
    for (size_t i = 0; i < RAW_LEN; i += 3) {
        uint32_t g = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        for (int k = 0; k < 4; k++)
            *out++ = b64[(g >> (18 - 6 * k)) & 63];
    }
    *out = '\0';
}

/* b64's inverse, a table made once: the service decodes a token for
 * every request to a link. A search of b64 per character cost more than
 * the rest of the decoding, and tests of the character's range mispredict
 * on a token's random characters (half a microsecond a token). unb64[c]
 * is the sextet plus one, 0 for a character outside b64. */
static unsigned char unb64[256];
static pthread_once_t unb64_once = PTHREAD_ONCE_INIT;

static void make_unb64(void)
{
    for (int i = 0; i < 64; i++)
        unb64[(unsigned char)b64[i]] = (unsigned char)(i + 1);
}

/* c's sextet, or -1 */
static int sextet(char c)
{
    pthread_once(&unb64_once, make_unb64);
    return (int)unb64[(unsigned char)c] - 1;
}

static int decode(const char *in, unsigned char *out)
{
    pthread_once(&unb64_once, make_unb64);
    unsigned bad = 0;
    for (size_t i = 0; i < TEXT_LEN; i += 4) {
        uint32_t g = 0;
        for (int k = 0; k < 4; k++) {
            unsigned v = unb64[(unsigned char)in[i + k]];
            bad |= v == 0;
            g = g << 6 | ((v - 1) & 63);
        }
        *out++ = (unsigned char)(g >> 16);
        *out++ = (unsigned char)(g >> 8);
        *out++ = (unsigned char)g;
    }
    return bad ? -1 : 0;
}

#define BLOCK 64 /* SHA-256's block */

static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    if (!(sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)))
        HD_BUG("OpenSSL has no SHA256");
}

/* H(pad XOR key || a || b) into out. */
static void hash_padded(EVP_MD_CTX *c, const unsigned char *key0, unsigned char pad,
                        const unsigned char *a, size_t alen, unsigned char *out)
{
    unsigned char block[BLOCK];
    for (int i = 0; i < BLOCK; i++)
        block[i] = key0[i] ^ pad;
    if (!EVP_DigestInit_ex(c, sha256, NULL) || !EVP_DigestUpdate(c, block, BLOCK) ||
        !EVP_DigestUpdate(c, a, alen) || !EVP_DigestFinal_ex(c, out, NULL))
        HD_BUG("SHA256 failed");
    OPENSSL_cleanse(block, sizeof block);
}

/* key's HMAC block: the key, or its hash when longer than a block. */
static void key_block(EVP_MD_CTX *c, const struct hd_token_key *key, unsigned char key0[BLOCK])
{
    memset(key0, 0, BLOCK);
    if (key->len <= BLOCK)
        memcpy(key0, key->key, key->len);
    else if (!EVP_DigestInit_ex(c, sha256, NULL) || !EVP_DigestUpdate(c, key->key, key->len) ||
             !EVP_DigestFinal_ex(c, key0, NULL)) /* a long key is hashed first */
        HD_BUG("SHA256 failed");
}

/* HMAC-SHA256 (RFC 2104) of the n bytes at in. */
static void hmac(const struct hd_token_key *key, const unsigned char *in, size_t n,
                 unsigned char *out)
{
    unsigned char key0[BLOCK], inner[MAC_LEN];
    pthread_once(&sha256_once, fetch_sha256);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c)
        HD_BUG("out of memory");
    key_block(c, key, key0);
    hash_padded(c, key0, 0x36, in, n, inner);
    hash_padded(c, key0, 0x5c, inner, sizeof inner, out);
    EVP_MD_CTX_free(c);
    OPENSSL_cleanse(key0, sizeof key0);
    OPENSSL_cleanse(inner, sizeof inner);
}

/* c, made if NULL, reset to SHA-256 after key0^pad. */
static void *padded_state(void *c, const unsigned char *key0, unsigned char pad)
{
    unsigned char block[BLOCK];
    if (!c && !(c = EVP_MD_CTX_new()))
        HD_BUG("out of memory");
    for (int i = 0; i < BLOCK; i++)
        block[i] = key0[i] ^ pad;
    if (!EVP_DigestInit_ex(c, sha256, NULL) || !EVP_DigestUpdate(c, block, BLOCK))
        HD_BUG("SHA256 failed");
    OPENSSL_cleanse(block, sizeof block);
    return c;
}

/* The cache made for key, unless it already is. */
static void cache_fill(struct hd_token_cache *k, const struct hd_token_key *key)
{
    unsigned char key0[BLOCK];
    if (k->len == key->len && CRYPTO_memcmp(k->key, key->key, key->len) == 0)
        return;
    pthread_once(&sha256_once, fetch_sha256);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c)
        HD_BUG("out of memory");
    key_block(c, key, key0);
    EVP_MD_CTX_free(c);
    k->inner = padded_state(k->inner, key0, 0x36);
    k->outer = padded_state(k->outer, key0, 0x5c);
    OPENSSL_cleanse(key0, sizeof key0);
    memcpy(k->key, key->key, key->len);
    k->len = key->len;
}

/* hmac() from a key's hashed padded blocks, in the working context c
 * (copied over by each step, so it holds nothing of one token into the
 * next but the finished outer state, which the token shows anyway) */
static void hmac_states(EVP_MD_CTX *c, const EVP_MD_CTX *inner_state, const EVP_MD_CTX *outer_state,
                        const unsigned char *in, size_t n, unsigned char *out)
{
    unsigned char inner[MAC_LEN];
    if (!EVP_MD_CTX_copy_ex(c, inner_state) || !EVP_DigestUpdate(c, in, n) ||
        !EVP_DigestFinal_ex(c, inner, NULL) || !EVP_MD_CTX_copy_ex(c, outer_state) ||
        !EVP_DigestUpdate(c, inner, sizeof inner) || !EVP_DigestFinal_ex(c, out, NULL))
        HD_BUG("SHA256 failed");
    OPENSSL_cleanse(inner, sizeof inner);
}

/* hmac(), from the states the cache holds: two compressions of SHA-256
 * fewer, in the cache's own working context */
static void hmac_cached(struct hd_token_cache *k, const unsigned char *in, size_t n,
                        unsigned char *out)
{
    if (!k->work && !(k->work = EVP_MD_CTX_new()))
        HD_BUG("out of memory");
    hmac_states(k->work, k->inner, k->outer, in, n, out);
}

void hd_token_cache_release(struct hd_token_cache *k)
{
    if (!k)
        return;
    EVP_MD_CTX_free(k->inner);
    EVP_MD_CTX_free(k->outer);
    EVP_MD_CTX_free(k->work);
    OPENSSL_cleanse(k, sizeof *k);
}

/* HMAC-SHA256 of "v1" and the record, through cache when there is one
 * (and the key fits it). */
static void mac(const struct hd_token_key *key, struct hd_token_cache *cache,
                const unsigned char *rec, unsigned char *out)
{
    unsigned char in[2 + REC_LEN] = {'v', '1'};
    memcpy(in + 2, rec, REC_LEN);
    if (cache && key->len <= sizeof cache->key) {
        cache_fill(cache, key);
        hmac_cached(cache, in, sizeof in, out);
    } else {
        hmac(key, in, sizeof in, out);
    }
}

static void make(const struct hd_token *t, const struct hd_token_key *key,
                 struct hd_token_cache *cache, char out[HD_TOKEN_MAX])
{
    unsigned char raw[RAW_LEN];
    put_be(raw, (uint64_t)t->contact, 8);
    put_be(raw + 8, (uint64_t)t->message, 8);
    raw[16] = (unsigned char)t->channel;
    raw[17] = (unsigned char)t->category;
    put_be(raw + 18, (uint64_t)t->day, 4);
    mac(key, cache, raw, raw + REC_LEN);
    memcpy(out, "v1.", 3);
    encode(raw, out + 3);
}

void hd_token_make(const struct hd_token *t, const struct hd_token_key *key, char out[HD_TOKEN_MAX])
{
    make(t, key, NULL, out);
}

static void fields(const unsigned char *raw, struct hd_token *out)
{
    out->contact = (int64_t)get_be(raw, 8);
    out->message = (int64_t)get_be(raw + 8, 8);
    out->channel = raw[16];
    out->category = raw[17];
    out->day = (int64_t)get_be(raw + 18, 4);
}

/* A token whose MAC key found verified: its fields, believed now. */
static int checked(const unsigned char *raw, int found, int64_t now, int64_t valid,
                   struct hd_token *out, int *which)
{
    fields(raw, out);
    if (which)
        *which = found;
    if (out->channel >= HD_CH_COUNT || out->category >= HD_CAT_COUNT)
        return HD_TOKEN_MALFORMED;
    if (out->day * 86400 + valid < now)
        return HD_TOKEN_EXPIRED;
    return HD_TOKEN_OK;
}

int hd_token_verify(const char *s, size_t len, const struct hd_token_key *keys, size_t nkeys,
                    int64_t now, int64_t valid, struct hd_token *out, int *which)
{
    unsigned char raw[RAW_LEN], want[MAC_LEN];
    if (len != 3 + TEXT_LEN || memcmp(s, "v1.", 3) != 0 || decode(s + 3, raw) < 0)
        return HD_TOKEN_MALFORMED;
    int found = -1;
    for (size_t i = 0; i < nkeys && found < 0; i++) {
        if (!keys[i].len)
            continue;
        mac(&keys[i], NULL, raw, want);
        if (CRYPTO_memcmp(want, raw + REC_LEN, MAC_LEN) == 0)
            found = (int)i;
    }
    if (found < 0)
        return HD_TOKEN_FORGED;
    return checked(raw, found, now, valid, out, which);
}

void hd_token_keyset_init(struct hd_token_keyset *ks, const struct hd_token_key *keys, size_t nkeys)
{
    unsigned char key0[BLOCK];
    memset(ks, 0, sizeof *ks);
    pthread_once(&sha256_once, fetch_sha256);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c)
        HD_BUG("out of memory");
    for (size_t i = 0; i < nkeys && i < HD_TOKEN_KEYS; i++) {
        if (!keys[i].len)
            continue;
        key_block(c, &keys[i], key0);
        ks->inner[i] = padded_state(NULL, key0, 0x36);
        ks->outer[i] = padded_state(NULL, key0, 0x5c);
    }
    EVP_MD_CTX_free(c);
    OPENSSL_cleanse(key0, sizeof key0);
}

void hd_token_keyset_release(struct hd_token_keyset *ks)
{
    for (size_t i = 0; ks && i < HD_TOKEN_KEYS; i++) {
        EVP_MD_CTX_free(ks->inner[i]); /* which wipes the state it held */
        EVP_MD_CTX_free(ks->outer[i]);
        ks->inner[i] = ks->outer[i] = NULL;
    }
}

/* The token's record checked against the keyset's keys in turn, in a
 * working context of this call's own (the keyset is shared). */
static int mac_found(const struct hd_token_keyset *ks, const unsigned char *raw)
{
    unsigned char in[2 + REC_LEN] = {'v', '1'}, want[MAC_LEN];
    int found = -1;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c)
        HD_BUG("out of memory");
    memcpy(in + 2, raw, REC_LEN);
    for (int i = 0; i < HD_TOKEN_KEYS && found < 0; i++) {
        if (!ks->inner[i])
            continue;
        hmac_states(c, ks->inner[i], ks->outer[i], in, sizeof in, want);
        if (CRYPTO_memcmp(want, raw + REC_LEN, MAC_LEN) == 0)
            found = i;
    }
    EVP_MD_CTX_free(c);
    return found;
}

int hd_token_verify_set(const char *s, size_t len, const struct hd_token_keyset *ks, int64_t now,
                        int64_t valid, struct hd_token *out, int *which)
{
    unsigned char raw[RAW_LEN];
    if (len != 3 + TEXT_LEN || memcmp(s, "v1.", 3) != 0 || decode(s + 3, raw) < 0)
        return HD_TOKEN_MALFORMED;
    int found = mac_found(ks, raw);
    if (found < 0)
        return HD_TOKEN_FORGED;
    return checked(raw, found, now, valid, out, which);
}

/* out (HD_LINK_MAX bytes) = "URL/KIND/TOKEN", as snprintf would write it
 * (cut to fit, which config_serve.c's limit on public_url rules out):
 * snprintf took 860 instructions a link, two links a message */
static void put_link(char *out, const char *url, char kind, const char *tok)
{
    size_t n = strlen(url), t = strlen(tok);
    if (n + 3 + t >= HD_LINK_MAX) {
        snprintf(out, HD_LINK_MAX, "%s/%c/%s", url, kind, tok);
        return;
    }
    memcpy(out, url, n);
    out[n] = '/';
    out[n + 1] = kind;
    out[n + 2] = '/';
    memcpy(out + n + 3, tok, t + 1);
}

bool hd_token_links_cached(const struct hd_serve_cfg *s, const struct hd_token *t, int64_t now,
                           char *unsub, char *prefs, struct hd_token_cache *cache)
{
    char tok[HD_TOKEN_MAX];
    unsub[0] = '\0';
    if (prefs)
        prefs[0] = '\0';
    if (!s->public_url || !s->secrets[0].value)
        return false;
    struct hd_token k = *t;
    struct hd_token_key key = {s->secrets[0].value, s->secrets[0].len};
    k.day = (now >= 0 ? now : now - 86399) / 86400;
    make(&k, &key, cache, tok);
    put_link(unsub, s->public_url, 'u', tok);
    if (prefs)
        put_link(prefs, s->public_url, 'p', tok);
    return true;
}

bool hd_token_links(const struct hd_serve_cfg *s, const struct hd_token *t, int64_t now,
                    char *unsub, char *prefs)
{
    return hd_token_links_cached(s, t, now, unsub, prefs, NULL);
}

const char *hd_token_fault_name(int fault)
{
    static const char *const names[] = {"ok", "malformed", "forged", "expired"};
    return fault >= 0 && fault <= HD_TOKEN_EXPIRED ? names[fault] : "?";
}

/* The label keeps this MAC from ever equalling a token's (whose input
 * starts "v1") or any other use of the secret. */
static const char csrf_label[] = "herald preference form v1";

void hd_token_csrf(const struct hd_token_key *key, const char *token, size_t len,
                   char out[HD_CSRF_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char in[sizeof csrf_label + HD_TOKEN_MAX], m[MAC_LEN];
    if (len >= HD_TOKEN_MAX)
        len = HD_TOKEN_MAX - 1;                /* never a verified token: that is 75 bytes */
    memcpy(in, csrf_label, sizeof csrf_label); /* with its NUL, a separator */
    memcpy(in + sizeof csrf_label, token, len);
    hmac(key, in, sizeof csrf_label + len, m);
    for (int i = 0; i < MAC_LEN; i++) {
        out[2 * i] = hex[m[i] >> 4];
        out[2 * i + 1] = hex[m[i] & 15];
    }
    out[HD_CSRF_LEN] = '\0';
    OPENSSL_cleanse(m, sizeof m);
}

bool hd_token_csrf_ok(const struct hd_token_key *key, const char *token, size_t len,
                      const char *csrf)
{
    char want[HD_CSRF_LEN + 1];
    hd_token_csrf(key, token, len, want);
    bool ok = csrf && strlen(csrf) == HD_CSRF_LEN && CRYPTO_memcmp(want, csrf, HD_CSRF_LEN) == 0;
    OPENSSL_cleanse(want, sizeof want);
    return ok;
}

/* ---- contact tokens of the in-app inbox ---- */

/* The inbox's key is derived from the secret under a label of its own, so
 * that no MAC made for a link (keyed with the secret itself) or a form can
 * ever pass as one made for the inbox, nor the other way round. */
static const char inbox_label[] = "herald inbox token v1";

static void inbox_key(const struct hd_token_key *secret, unsigned char out[MAC_LEN])
{
    hmac(secret, (const unsigned char *)inbox_label, sizeof inbox_label - 1, out);
}

/* base64url without padding of n bytes into out (4 * n / 3 + 3 bytes). */
static size_t b64url(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t g = (uint32_t)in[i] << 16;
        size_t k = n - i >= 3 ? 4 : n - i + 1;
        if (i + 1 < n)
            g |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            g |= in[i + 2];
        for (size_t j = 0; j < k; j++)
            out[o++] = b64[(g >> (18 - 6 * j)) & 63];
    }
    out[o] = '\0';
    return o;
}

/* The bytes of n characters of base64url without padding, or -1 (a
 * character outside the alphabet, a length no encoding has, bits set past
 * the last byte). */
static long unb64url(const char *in, size_t n, unsigned char *out, size_t size)
{
    size_t o = 0;
    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t g = 0;
        size_t k = n - i >= 4 ? 4 : n - i;
        for (size_t j = 0; j < 4; j++) {
            int v = j < k ? sextet(in[i + j]) : 0;
            if (v < 0)
                return -1;
            g = g << 6 | (uint32_t)v;
        }
        /* the bits past the last byte must be zero: one text per token */
        if (k < 4 && (g & ((1u << (8 * (4 - k))) - 1)) != 0)
            return -1;
        for (size_t j = 0; j + 1 < k; j++) {
            if (o == size)
                return -1;
            out[o++] = (unsigned char)(g >> (16 - 8 * j));
        }
    }
    return (long)o;
}

int hd_ctoken_make(const struct hd_token_key *secret, const char *contact, int64_t expiry,
                   char *out, size_t size)
{
    char payload[HD_CTOKEN_CONTACT_MAX + 32];
    unsigned char key[MAC_LEN], m[MAC_LEN];
    size_t clen = strlen(contact);
    if (!clen || clen > HD_CTOKEN_CONTACT_MAX || size < HD_CTOKEN_MAX)
        return -1;
    int n = snprintf(payload, sizeof payload, "v1.%s.%lld", contact, (long long)expiry);
    inbox_key(secret, key);
    struct hd_token_key k = {key, sizeof key};
    hmac(&k, (const unsigned char *)payload, (size_t)n, m);
    size_t o = b64url((const unsigned char *)payload, (size_t)n, out);
    out[o++] = '.';
    b64url(m, sizeof m, out + o);
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(m, sizeof m);
    return 0;
}

/* The payload's contact and expiry: "v1.CONTACT.EXPIRY", CONTACT without
 * control bytes, EXPIRY decimal digits. */
static bool ctoken_fields(const char *p, size_t n, char *contact, size_t size, int64_t *expiry)
{
    const char *dot = NULL;
    for (size_t i = n; i > 3 && !dot; i--)
        if (p[i - 1] == '.')
            dot = p + i - 1;
    if (!dot || memcmp(p, "v1.", 3) != 0 || dot - p <= 3 || (size_t)(dot - p - 3) >= size)
        return false;
    size_t clen = (size_t)(dot - p - 3), dlen = n - (size_t)(dot - p) - 1;
    int64_t v = 0;
    if (dlen == 0 || dlen > 12)
        return false;
    for (size_t i = 0; i < dlen; i++) {
        if (dot[1 + i] < '0' || dot[1 + i] > '9')
            return false;
        v = v * 10 + (dot[1 + i] - '0');
    }
    for (size_t i = 0; i < clen; i++)
        if ((unsigned char)p[3 + i] < 0x20 || p[3 + i] == 0x7f)
            return false;
    memcpy(contact, p + 3, clen);
    contact[clen] = '\0';
    *expiry = v;
    return true;
}

int hd_ctoken_verify(const char *s, size_t len, const struct hd_token_key *keys, size_t nkeys,
                     int64_t now, char *contact, size_t size, int64_t *expiry)
{
    unsigned char payload[HD_CTOKEN_CONTACT_MAX + 32], m[MAC_LEN + 3], want[MAC_LEN], key[MAC_LEN];
    const char *dot = len < HD_CTOKEN_MAX ? memchr(s, '.', len) : NULL;
    long n = dot ? unb64url(s, (size_t)(dot - s), payload, sizeof payload) : -1;
    if (n < 0 || unb64url(dot + 1, len - (size_t)(dot - s) - 1, m, sizeof m) != MAC_LEN ||
        !ctoken_fields((const char *)payload, (size_t)n, contact, size, expiry))
        return HD_TOKEN_MALFORMED;
    bool ok = false;
    for (size_t i = 0; i < nkeys && !ok; i++) {
        if (!keys[i].len)
            continue;
        inbox_key(&keys[i], key);
        struct hd_token_key k = {key, sizeof key};
        hmac(&k, payload, (size_t)n, want);
        ok = CRYPTO_memcmp(want, m, MAC_LEN) == 0;
    }
    OPENSSL_cleanse(key, sizeof key);
    if (!ok) {
        contact[0] = '\0';
        return HD_TOKEN_FORGED;
    }
    /* a token minted for longer than the bound is refused whole: the
     * bound is what a leaked token can be worth */
    if (*expiry <= now || *expiry - now > HD_CTOKEN_TTL_MAX)
        return HD_TOKEN_EXPIRED;
    return HD_TOKEN_OK;
}
