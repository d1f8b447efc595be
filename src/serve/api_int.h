/* api_int: what the JSON API's files share (api.c routes and authenticates,
 * api_keys.c makes and checks keys, api_messages.c and api_contacts.c
 * answer their resources). */
#ifndef HERALD_API_INT_H
#define HERALD_API_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "herald/units.h"
#include "serve_int.h"

/* A key's scopes, as bits. */
enum {
    API_SEND = 1 << 0,
    API_CONTACTS = 1 << 1,
    API_EVENTS = 1 << 2,
    API_READ = 1 << 3,
    API_INBOX = 1 << 4, /* mints contact tokens (api_inbox.c) */
};
#define API_KEY_LEN 46 /* "hd_" and base64url of 32 random bytes */
#define API_PREFIX_LEN 12
/* "send,read" -> bits; -1 for a word that is not a scope (named in err). */
int hd_api_scopes(const char *list, unsigned *bits, struct hd_err *err);

/* The key a request authenticated with. */
struct hd_api_key {
    int64_t id;
    unsigned scopes;
    struct hd_rate rate; /* its limit; the burst is a second of it */
};
/* Checks an Authorization header's bearer key against the store (with
 * s->mu taken): 0 with *k filled, HD_E_NOTFOUND for no, unknown, revoked
 * or wrong key, else the store's error. */
int hd_api_key_check(struct hd_srv *s, const char *authorization, struct hd_api_key *k,
                     struct hd_err *err);

/* One call to an endpoint. */
struct hd_api_call {
    struct hd_srv *s;
    const char *method;
    const char *route_name; /* its pattern, for log lines */
    const char *arg;        /* the path's "{}" part (a contact id, a message id), or NULL */
    struct hd_api_key key;  /* who calls */
    hd_header_fn header;    /* the request's headers (valid until answered) */
    void *hud;
    const char *body; /* the body as sent (NUL-terminated), len bytes */
    size_t len;
    json_t *json;                  /* the body parsed (routes that take JSON), borrowed */
    int64_t subject;               /* what a route's own begin authenticated (a contact), or 0 */
    struct hd_api_send_req **send; /* a send to queue in the group commit (api_messages.c) */
    /* the Idempotency-Key this request holds while it is in flight (its
     * SHA-256), released when the request ends (hd_api_idem_claim) */
    bool idem_held;
    unsigned char idem_hash[32];
};

/* Whether the request c may go on with Idempotency-Key idem: false when
 * another request of the same API key holds it right now (the caller
 * answers 409, as the Idempotency-Key draft asks); else c holds it until
 * it ends. A refused concurrent request so never writes a contact (a
 * review saw nineteen refused requests change the accepted one's
 * address). One process's requests; the store's own check in the group
 * commit stays the rule across processes. */
bool hd_api_idem_claim(struct hd_api_call *c, const char *idem);

/* A send checked and waiting for the group commit (api_messages.c): kept
 * in the batch's transaction, then answered. */
struct hd_api_send_req;
int hd_api_send_keep(struct hd_srv *s, struct hd_store *st, struct hd_api_call *c,
                     struct hd_api_send_req *q, struct hd_err *err);
void hd_api_send_answer(struct hd_api_call *c, struct hd_api_send_req *q, int rc,
                        struct hd_answer *a);
int hd_api_send_status(const struct hd_api_send_req *q, int rc);
void hd_api_send_free(struct hd_api_send_req *q);

/* An endpoint: method, path after /api/v1/ ("{}" one part of it), the
 * scope a key needs (0: the route authenticates the request itself, in
 * begin), whether it takes a JSON body, the handler (called once the body
 * is in, or at once without one), and begin (may be NULL): called when
 * the headers are in, before any body is read; -1 with a answered refuses
 * the request (a route of its own tokens checks them there). Another
 * file's routes (the inbox's) are more lines of the table in api.c. */
struct hd_api_route {
    const char *method;
    const char *pattern;
    unsigned scope;
    bool body;
    void (*fn)(struct hd_api_call *c, struct hd_answer *a);
    int (*begin)(struct hd_api_call *c, struct hd_answer *a);
};

/* An RFC 9457 problem (application/problem+json): status, the field at
 * fault (NULL when none), and the detail. */
void hd_api_problem(struct hd_answer *a, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A problem from an hd_err: 404 for HD_E_NOTFOUND, 409 HD_E_EXISTS, 422
 * for HD_E_INVALID and HD_E_PARSE, else 503 for the store (logged). */
void hd_api_fail(struct hd_api_call *c, struct hd_answer *a, const struct hd_err *err,
                 const char *field);
/* An answer of JSON v (consumed) with status. */
void hd_api_json(struct hd_answer *a, int status, json_t *v);

/* The live key with this prefix, read on the API's own read-only
 * connection (api.c); HD_E_NOTFOUND when none. */
int hd_api_key_find(struct hd_srv *s, const char *prefix, struct hd_apikey *k,
                    unsigned char hash[32], struct hd_err *err);
/* What the template name offers (its channels, category, ...), from the
 * templates folder read once per service (a template's info is copied;
 * its strings stay valid while the service runs). */
struct hd_tpl_info;
int hd_api_template(struct hd_srv *s, const char *name, struct hd_tpl_info *info,
                    struct hd_err *err);

/* The endpoints (api_messages.c, api_contacts.c). */
void hd_api_messages_post(struct hd_api_call *c, struct hd_answer *a);
void hd_api_messages_get(struct hd_api_call *c, struct hd_answer *a);
void hd_api_contacts_put(struct hd_api_call *c, struct hd_answer *a);
void hd_api_contacts_delete(struct hd_api_call *c, struct hd_answer *a);
void hd_api_consent_post(struct hd_api_call *c, struct hd_answer *a);
void hd_api_events_post(struct hd_api_call *c, struct hd_answer *a);
void hd_api_campaigns_get(struct hd_api_call *c, struct hd_answer *a);
void hd_api_stats_get(struct hd_api_call *c, struct hd_answer *a);
void hd_api_history_get(struct hd_api_call *c, struct hd_answer *a);
void hd_api_openapi_get(struct hd_api_call *c, struct hd_answer *a);
void hd_api_inbox_tokens_post(struct hd_api_call *c, struct hd_answer *a); /* api_inbox.c */
/* docs/api/openapi.json, a line a string, NULL-terminated (the Makefile
 * makes it). */
extern const char *const hd_api_openapi[];

#endif
