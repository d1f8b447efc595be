/* api_keys: the JSON API's keys, made and checked. A key is "hd_" and the
 * base64url of 32 random bytes (256 bits); its first API_PREFIX_LEN
 * characters are its public prefix, by which the store finds it, and the
 * store keeps only the SHA-256 of the whole key, compared here in
 * constant time. Each request reads the key's row (one indexed lookup on
 * the service's connection): a revoked key fails from the next request
 * on, with nothing cached that could outlive it. Whatever is wrong (no
 * header, not a bearer key, unknown prefix, wrong hash, revoked), the
 * caller hears one answer, so a guess learns nothing of which part was
 * right. The key's row is read on the API's own read-only connection
 * (hd_api_key_find), so checking a key never waits for a group commit.
 * The key's text never reaches a log line. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api_int.h"
#include "herald/driver.h"
#include "herald/serve.h"
#include "herald/units.h"

static const char scope_names[][9] = {"send", "contacts", "events", "read", "inbox"};

int hd_api_scopes(const char *list, unsigned *bits, struct hd_err *err)
{
    *bits = 0;
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ",");
        int k = 0, nk = (int)(sizeof scope_names / sizeof scope_names[0]);
        while (k < nk && !(strlen(scope_names[k]) == n && strncmp(p, scope_names[k], n) == 0))
            k++;
        if (k == nk)
            return hd_err_set(err, HD_E_INVALID,
                              "'%.*s' is not a scope: use send, contacts, events, read or inbox",
                              (int)n, p);
        *bits |= 1u << k;
        p += n + (p[n] == ',');
    }
    if (!*bits)
        return hd_err_set(err, HD_E_INVALID,
                          "no scope given: use send, contacts, events, read or inbox");
    return 0;
}

static void b64url(const unsigned char *in, size_t n, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t g = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        size_t chars = i + 2 < n ? 4 : i + 1 < n ? 3 : 2;
        for (size_t k = 0; k < chars; k++)
            out[o++] = t[(g >> (18 - 6 * k)) & 63];
    }
    out[o] = '\0';
}

int hd_serve_apikey_create(struct hd_store *st, const char *name, const char *scopes,
                           const char *rate, int64_t now, char key[HD_APIKEY_TEXT],
                           struct hd_err *err)
{
    unsigned bits;
    struct hd_rate r;
    unsigned char raw[32], hash[32];
    char prefix[API_PREFIX_LEN + 1];
    int rc;
    if (!name || !*name || strlen(name) > 64 ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789-_.") != strlen(name))
        return hd_err_set(err, HD_E_USAGE,
                          "an API key's name is 1 to 64 letters, digits, '-', '_' or '.'");
    /* the caller's words: a usage error (exit 2 from the CLI) */
    if (hd_api_scopes(scopes, &bits, err) < 0 || hd_units_rate(rate ? rate : "100/s", &r, err) < 0)
        return err->code = HD_E_USAGE;
    if (RAND_bytes(raw, sizeof raw) != 1)
        return hd_err_set(err, HD_E_FAIL, "no random bytes for a key");
    memcpy(key, "hd_", 3);
    b64url(raw, sizeof raw, key + 3);
    hd_wipe(raw, sizeof raw);
    hd_sha256(key, strlen(key), hash);
    snprintf(prefix, sizeof prefix, "%.*s", API_PREFIX_LEN, key);
    struct hd_apikey k = {.name = (char *)name,
                          .prefix = prefix,
                          .scopes = (char *)scopes,
                          .rate = (char *)(rate ? rate : "100/s"),
                          .created_at = now};
    if ((rc = hd_store_apikey_add(st, &k, hash, err)) < 0)
        hd_wipe(key, HD_APIKEY_TEXT);
    return rc;
}

int hd_api_key_check(struct hd_srv *s, const char *authorization, struct hd_api_key *k,
                     struct hd_err *err)
{
    const char *key = authorization;
    memset(k, 0, sizeof *k);
    if (!key || strncasecmp(key, "Bearer ", 7) != 0)
        return hd_err_set(err, HD_E_NOTFOUND, "no bearer key");
    key += 7;
    size_t n = strlen(key);
    if (n != API_KEY_LEN || strncmp(key, "hd_", 3) != 0)
        return hd_err_set(err, HD_E_NOTFOUND, "not a key");
    char prefix[API_PREFIX_LEN + 1];
    unsigned char want[32], got[32];
    struct hd_apikey row;
    snprintf(prefix, sizeof prefix, "%.*s", API_PREFIX_LEN, key);
    int rc = hd_api_key_find(s, prefix, &row, want, err);
    if (rc < 0)
        return rc;
    hd_sha256(key, n, got);
    struct hd_rate r = {100, 1};
    if (CRYPTO_memcmp(want, got, sizeof got) != 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "wrong key");
    else if (hd_api_scopes(row.scopes, &k->scopes, NULL) < 0 ||
             hd_units_rate(row.rate, &r, NULL) < 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "a key stored with a bad scope or rate");
    k->id = rc == 0 ? row.id : 0;
    k->rate = r;
    hd_apikey_release(&row);
    return rc;
}
