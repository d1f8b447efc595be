/* api_inbox: contact tokens for the in-app inbox, minted by one function
 * (hd_serve_inbox_token) that `herald inbox token` and POST
 * /api/v1/inbox/tokens both call, so the two cannot disagree on the
 * lifetime's bound, the contact's existence or the format (core/token.c).
 *
 *   POST /api/v1/inbox/tokens  {"contact": "ID", "ttl": "1h"}
 *        -> 201 {"token": "...", "expires_at": "2026-...Z"}
 *
 * The route needs a key with the `inbox` scope: a token opens one
 * contact's inbox, which is not what a key that sends may do (a backend
 * that only serves its app's sessions gets `inbox` alone). api.c checks
 * the key and its bucket from the headers, before any body is read; the
 * body is then one object with a contact (a string) and an optional ttl
 * (a duration, 1h when absent, at most HD_CTOKEN_TTL_MAX). An unknown
 * contact is 404, a ttl out of bounds 422, each a problem naming the
 * field. The token is a secret: it is in the answer and nowhere else (no
 * log line), and wiped from the stack once copied. */
#include <openssl/crypto.h>
#include <string.h>

#include "api_int.h"
#include "herald/serve.h"
#include "herald/token.h"

#define TTL_DEFAULT 3600

int hd_serve_inbox_token(struct hd_store *st, const struct hd_token_key *key, const char *contact,
                         const char *ttl, int64_t now, char *out, size_t size, int64_t *expires,
                         struct hd_err *err)
{
    struct hd_contact k = {0};
    int64_t secs = TTL_DEFAULT;
    int rc;
    struct hd_err why = {0};
    if (ttl && hd_units_duration(ttl, &secs, &why) < 0)
        return hd_err_set(err, HD_E_USAGE, "ttl: %s", why.msg);
    if (secs > HD_CTOKEN_TTL_MAX)
        return hd_err_set(err, HD_E_USAGE, "ttl: '%s' is over the 24h a token may live", ttl);
    if (secs <= 0)
        return hd_err_set(err, HD_E_USAGE, "ttl: give a duration of more than 0 s, at most 24h");
    if (!key || !key->len)
        return hd_err_set(err, HD_E_CONFIG,
                          "no signing secret: set [serve] secret_file (run "
                          "'herald init' to make one)");
    if ((rc = hd_store_contact_get(st, contact, &k, err)) < 0)
        return rc;
    hd_contact_release(&k);
    *expires = now + secs;
    if (size < HD_CTOKEN_MAX || hd_ctoken_make(key, contact, *expires, out, size) < 0)
        return hd_err_set(err, HD_E_INVALID, "contact id '%s' is too long for a token", contact);
    return 0;
}

void hd_api_inbox_tokens_post(struct hd_api_call *c, struct hd_answer *a)
{
    json_t *contact = json_object_get(c->json, "contact"), *ttl = json_object_get(c->json, "ttl");
    if (!json_is_object(c->json)) {
        hd_api_problem(a, 422, NULL, "the body must be a JSON object: {\"contact\": \"ID\"}");
        return;
    }
    if (!json_is_string(contact) || !json_string_length(contact)) {
        hd_api_problem(a, 422, "contact", "give the contact's id as a string");
        return;
    }
    if (ttl && !json_is_string(ttl)) {
        hd_api_problem(a, 422, "ttl", "give the lifetime as a duration string: \"1h\"");
        return;
    }
    struct hd_err err = {0};
    char tok[HD_CTOKEN_MAX], at[32];
    int64_t expires = 0;
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    int rc = st ? hd_serve_inbox_token(st, &c->s->keys[0], json_string_value(contact),
                                       ttl ? json_string_value(ttl) : NULL,
                                       hd_clock_now(c->s->clock), tok, sizeof tok, &expires, &err)
                : HD_E_STORE;
    pthread_mutex_unlock(&c->s->mu);
    if (rc < 0) {
        hd_api_fail(c, a, &err, rc == HD_E_NOTFOUND ? "contact" : rc == HD_E_USAGE ? "ttl" : NULL);
        return;
    }
    hd_time_format_iso(expires, at, sizeof at);
    hd_api_json(a, 201, json_pack("{s:s, s:s}", "token", tok, "expires_at", at));
    OPENSSL_cleanse(tok, sizeof tok);
}
