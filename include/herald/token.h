/* token: the signed, per-recipient link token of unsubscribe and preference
 * links. A token names a contact, a message, a channel, a category and the
 * day it was issued, and carries an HMAC-SHA256 over them made with the
 * service's secret, so that verifying one needs no database read. The text
 * is "v1." and then base64url (no padding) of the fields and the MAC. A
 * token verifies with the current secret or the previous one (a rotation)
 * and expires a configurable time after the day it was issued. */
#ifndef HERALD_TOKEN_H
#define HERALD_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/err.h"

/* What a token says. */
struct hd_token {
    int64_t contact; /* the contact's internal id */
    int64_t message; /* the queued message's id */
    int channel;     /* enum hd_channel */
    int category;    /* enum hd_category */
    int64_t day;     /* the day it was issued, in days since 1970-01-01 (UTC) */
};

/* A signing key, borrowed. */
struct hd_token_key {
    const void *key;
    size_t len;
};

/* The longest token text, with its terminating NUL. */
#define HD_TOKEN_MAX 96

/* Writes the token's text into out. */
void hd_token_make(const struct hd_token *t, const struct hd_token_key *key,
                   char out[HD_TOKEN_MAX]);

/* Why a token was refused. */
enum hd_token_fault {
    HD_TOKEN_OK = 0,
    HD_TOKEN_MALFORMED, /* not a token of any version herald makes */
    HD_TOKEN_FORGED,    /* neither secret signed it (or it was changed) */
    HD_TOKEN_EXPIRED,   /* signed, but issued more than valid seconds ago */
};

/* Checks the len bytes at s against keys (the current secret first, then
 * the previous one; a key with len 0 is skipped), at now (UTC seconds),
 * with tokens valid for valid seconds after the start of their day. Fills
 * *out on HD_TOKEN_OK (and on HD_TOKEN_EXPIRED), and *which (may be NULL)
 * with the index of the key that verified. The MAC is compared in constant
 * time. */
int hd_token_verify(const char *s, size_t len, const struct hd_token_key *keys, size_t nkeys,
                    int64_t now, int64_t valid, struct hd_token *out, int *which);

/* Keys made ready for verifying, for a caller that verifies a token per
 * request from several threads (herald serve's workers): each key's two
 * padded blocks hashed once by hd_token_keyset_init, and only read after
 * that. hd_token_keyset_release wipes and frees them. */
#define HD_TOKEN_KEYS 2
struct hd_token_keyset {
    void *inner[HD_TOKEN_KEYS], *outer[HD_TOKEN_KEYS]; /* EVP_MD_CTX; NULL: no key */
};
/* From keys (at most HD_TOKEN_KEYS; one of len 0 is left out). */
void hd_token_keyset_init(struct hd_token_keyset *ks, const struct hd_token_key *keys,
                          size_t nkeys);
void hd_token_keyset_release(struct hd_token_keyset *ks);
/* hd_token_verify with the keyset's keys, in their order: the same answer
 * for the same keys, two compressions of SHA-256 a key fewer. */
int hd_token_verify_set(const char *s, size_t len, const struct hd_token_keyset *ks, int64_t now,
                        int64_t valid, struct hd_token *out, int *which);

/* The longest link, with its NUL: [serve] public_url is at most
 * HD_PUBLIC_URL_MAX bytes. */
#define HD_PUBLIC_URL_MAX 200
#define HD_LINK_MAX (HD_PUBLIC_URL_MAX + 3 + HD_TOKEN_MAX)

/* The message's links, public_url/u/TOKEN into unsub and public_url/p/TOKEN
 * into prefs (may be NULL), each of HD_LINK_MAX bytes, signed with the
 * current secret and issued on the day of now. False (and both "") when
 * public_url or the secret is not set. */
struct hd_serve_cfg;
bool hd_token_links(const struct hd_serve_cfg *s, const struct hd_token *t, int64_t now,
                    char *unsub, char *prefs);

/* A key's two padded blocks already hashed (HMAC's first half of the work,
 * the same for every token), for a caller that signs a token per message:
 * the dispatcher. Zero it to start; hd_token_links_cached fills it on
 * first use and again when the secret changes (a reload), and keeps a
 * copy of the key to tell. hd_token_cache_release wipes and frees it. */
struct hd_token_cache {
    void *inner, *outer;   /* EVP_MD_CTX: SHA-256 after key^ipad, key^opad */
    void *work;            /* EVP_MD_CTX each token is computed in */
    unsigned char key[64]; /* the key they were made of (secret: wiped) */
    size_t len;            /* its length; 0: nothing cached */
};

/* hd_token_links, signing through cache (NULL: as hd_token_links). The
 * tokens are the same bytes. */
bool hd_token_links_cached(const struct hd_serve_cfg *s, const struct hd_token *t, int64_t now,
                           char *unsub, char *prefs, struct hd_token_cache *cache);
void hd_token_cache_release(struct hd_token_cache *cache);

/* The preference centre's CSRF token for a link token (its len bytes):
 * HMAC-SHA256 with key over a label of its own and the token, as 64 hex
 * digits. A page served for the link carries it; a POST must bring it
 * back, which a page of another site cannot read. */
#define HD_CSRF_LEN 64
void hd_token_csrf(const struct hd_token_key *key, const char *token, size_t len,
                   char out[HD_CSRF_LEN + 1]);
/* Whether csrf (NULL: absent) is the token's, compared in constant time. */
bool hd_token_csrf_ok(const struct hd_token_key *key, const char *token, size_t len,
                      const char *csrf);

/* Contact tokens of the in-app inbox (issue 20): what an app shows its
 * user's inbox with, minted by the operator's backend without a call:
 *
 *   payload = "v1." CONTACT "." EXPIRY      (the contact's external id,
 *                                            EXPIRY in Unix seconds)
 *   key     = HMAC-SHA256(secret, "herald inbox token v1")
 *   token   = base64url(payload) "." base64url(HMAC-SHA256(key, payload))
 *
 * base64url without padding; secret is [serve] secret_file's content. The
 * derived key keeps link tokens and contact tokens apart: one is never
 * the other. A token verifies with the current secret or the previous
 * one, and only until EXPIRY, which may be at most HD_CTOKEN_TTL_MAX
 * seconds after now. */
#define HD_CTOKEN_CONTACT_MAX 255
#define HD_CTOKEN_MAX 512
#define HD_CTOKEN_TTL_MAX 86400
/* Writes the token into out (size >= HD_CTOKEN_MAX); -1 when the contact
 * is empty or longer than HD_CTOKEN_CONTACT_MAX. */
int hd_ctoken_make(const struct hd_token_key *secret, const char *contact, int64_t expiry,
                   char *out, size_t size);
/* Checks the len bytes at s against keys at now: an enum hd_token_fault;
 * on HD_TOKEN_OK (and HD_TOKEN_EXPIRED) the contact's external id is in
 * contact (size bytes) and its expiry in *expiry. */
int hd_ctoken_verify(const char *s, size_t len, const struct hd_token_key *keys, size_t nkeys,
                     int64_t now, char *contact, size_t size, int64_t *expiry);

/* "malformed", "forged", "expired" (for logs and pages). */
const char *hd_token_fault_name(int fault);

#endif
