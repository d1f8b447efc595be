/* apns: push to Apple devices over HTTP/2 and TLS,
 *   POST {base_url}/3/device/{token}
 * where base_url defaults to api.push.apple.com, or api.sandbox.push.apple.com
 * when environment = sandbox. Token auth: an ES256 JWT ({"alg":"ES256",
 * "kid": key_id}, {"iss": team_id, "iat"}) signed with the .p8 key
 * (key_file), reused for 40 minutes (Apple wants 20 to 60). Headers:
 * apns-topic, apns-push-type (alert, or background when aps has no alert,
 * badge or sound: then it gets content-available), apns-priority (10, or 5
 * for background), apns-expiration (a day after the
 * message was made), apns-id (the message id) and apns-collapse-id when the
 * data has collapse_id. The payload is the push data's members, "aps" with
 * the alert of the template's non-empty title and body, and push.apns
 * merged in (its "aps" into aps); no sound unless the template asks. Classes:
 *   200 accepted (the gateway id is the apns-id Apple returns),
 *   410 Unregistered, 400 BadDeviceToken, DeviceTokenNotForTopic:
 *       permanent, bad token;
 *   403 ExpiredProviderToken: sign a new token and send once more;
 *   429: throttled; 5xx: temporary; 413 and other 4xx: permanent.
 * The provider token is the driver's reusable credential: the dispatcher
 * offers the one another process stored, and the next batch adopts it when
 * it is newer than ours and younger than the reuse age (a JWT of our key:
 * Apple counts refreshes per key, not per process); the dispatcher reads
 * back the one in use to store it (struct hx_cred). The driver's conf is
 * struct apns, which holds the engine's, so that those two calls reach the
 * token. */
#include "http_int.h"

#include <stdlib.h>
#include <string.h>

#include "herald/json.h"

#define APNS_PROD "https://api.push.apple.com"
#define APNS_SANDBOX "https://api.sandbox.push.apple.com"
#define JWT_REUSE (40 * 60)
#define STREAMS 32

struct apns {
    void *hx; /* the engine (hx_open's conf): first, for the hx_held_ calls */
    char *base, *topic;
    char *header; /* {"alg":"ES256","kid":...} */
    char *team;
    EVP_PKEY *key;
    struct hx_cred cred; /* "bearer <jwt>", issued at the JWT's iat */
    struct hd_log *log;
};

static void apns_fini(void *pc)
{
    struct apns *a = pc;
    if (!a)
        return;
    free(a->base);
    free(a->topic);
    free(a->header);
    free(a->team);
    EVP_PKEY_free(a->key);
    hx_cred_release(&a->cred);
    free(a);
}

/* The JWT's claims issued at iat: {"iss":team,"iat":iat}. Freed by the caller. */
static char *claims_at(const struct apns *a, int64_t iat)
{
    json_t *claims = json_pack("{s:s,s:I}", "iss", a->team, "iat", (json_int_t)iat);
    char *cl = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    return cl;
}

static int sign(struct apns *a, struct hd_err *err)
{
    int64_t now = hx_now();
    char *cl = claims_at(a, now);
    struct hd_buf b;
    hd_buf_init(&b);
    int rc = hx_jwt(&b, a->key, a->header, cl);
    free(cl);
    hd_buf_addc(&b, '\0');
    if (rc == 0)
        hx_cred_set(&a->cred, "bearer", b.data, now);
    hd_buf_release(&b);
    return rc < 0 ? hd_err_set(err, HD_E_FAIL, "cannot sign the APNs provider token") : 0;
}

/* True when jwt is ours as sign makes it at iat: our header (the key id)
 * and claims (the team, and iat), so that a token stored before the key
 * or the team changed is not reused. */
static bool ours(const struct apns *a, const char *jwt, int64_t iat)
{
    struct hd_buf want;
    char *cl = claims_at(a, iat);
    hd_buf_init(&want);
    hx_b64url(&want, a->header, strlen(a->header));
    hd_buf_adds(&want, ".");
    hx_b64url(&want, cl, strlen(cl));
    hd_buf_adds(&want, ".");
    bool ok = strncmp(jwt, want.data, want.len) == 0 && jwt[want.len];
    free(cl);
    hd_buf_release(&want);
    return ok;
}

/* With the engine's lock held: takes the offered token when it is ours,
 * newer than the one we have and still young enough to reuse (an iat a
 * minute ahead of our clock is another machine's skew; more is not a token
 * to trust). */
static void adopt(struct apns *a)
{
    int64_t at = 0;
    char *jwt = hx_cred_offered(&a->cred, &at);
    if (!jwt)
        return;
    int64_t age = hx_now() - at;
    if ((!a->cred.header || at > a->cred.at) && age > -60 && age < JWT_REUSE && ours(a, jwt, at))
        hx_cred_set(&a->cred, "bearer", jwt, at);
    hd_wipe(jwt, strlen(jwt));
    free(jwt);
}

static int apns_prepare(void *pc, struct hx *h, struct hd_err *err)
{
    (void)h;
    struct apns *a = pc;
    adopt(a);
    if (a->cred.header && hx_now() - a->cred.at < JWT_REUSE)
        return 0;
    return sign(a, err);
}

static bool token_ok(const char *t)
{
    size_t n = 0;
    for (; t && t[n]; n++)
        if (!((t[n] >= '0' && t[n] <= '9') || (t[n] >= 'a' && t[n] <= 'f') ||
              (t[n] >= 'A' && t[n] <= 'F')))
            return false;
    return n >= 32 && n <= 200;
}

static int refuse(struct hx_req *q, struct hd_result *r, bool bad, const char *why)
{
    hd_result_init(r, q->m);
    hd_result_set(r, HD_OUT_PERMANENT, 0, "%s", why);
    r->bad_address = bad;
    return -1;
}

/* The payload's "aps" (set in root): an alert of the title and body the
 * template gave, when not empty, then push.apns merged in: its "aps"
 * members into aps (its "alert" object into the alert), its other members
 * into the payload. Nothing is added that the template did not ask for. */
static json_t *payload_aps(const struct hd_msg *m, json_t *root, json_t *extra)
{
    json_t *aps = json_object(), *v;
    const char *k;
    if ((m->title && *m->title) || (m->body && *m->body)) {
        json_t *al = json_object();
        if (m->title && *m->title)
            json_object_set_new(al, "title", json_string(m->title));
        if (m->body && *m->body)
            json_object_set_new(al, "body", json_string(m->body));
        json_object_set_new(aps, "alert", al);
    }
    json_object_foreach(extra, k, v)
    {
        if (strcmp(k, "aps") != 0) {
            json_object_set(root, k, v);
            continue;
        }
        const char *ak;
        json_t *av, *al = json_object_get(aps, "alert");
        json_object_foreach(v, ak, av)
        {
            if (strcmp(ak, "alert") == 0 && json_is_object(av) && al)
                json_object_update(al, av);
            else
                json_object_set(aps, ak, av);
        }
    }
    json_object_set_new(root, "aps", aps);
    return aps;
}

static int apns_build(void *pc, struct hx_req *q, struct hd_result *r)
{
    struct apns *a = pc;
    const struct hd_msg *m = q->m;
    if (!token_ok(m->to))
        return refuse(q, r, true, "not an APNs device token (hex digits)");
    json_t *data = NULL;
    if (m->data && *m->data) {
        data = hd_json_object_loads(m->data, strlen(m->data));
        if (!json_is_object(data)) {
            json_decref(data);
            return refuse(q, r, false, "push data is not a JSON object");
        }
    }
    json_t *extra = NULL;
    if (m->apns && *m->apns) {
        extra = hd_json_object_loads(m->apns, strlen(m->apns));
        if (!json_is_object(extra)) {
            json_decref(extra);
            json_decref(data);
            return refuse(q, r, false, "push.apns is not a JSON object");
        }
    }
    json_t *collapse = json_incref(json_object_get(data, "collapse_id"));
    if (data)
        json_object_del(data, "collapse_id");
    json_t *root = data ? data : json_object();
    json_t *aps = payload_aps(m, root, extra);
    json_decref(extra);
    bool alert = json_object_get(aps, "alert") || json_object_get(aps, "badge") ||
                 json_object_get(aps, "sound");
    if (!alert && !json_object_get(aps, "content-available"))
        json_object_set_new(aps, "content-available", json_integer(1));
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    size_t n = s ? strlen(s) : 0;
    if (n > HD_PUSH_MAX_PAYLOAD) {
        free(s);
        json_decref(collapse);
        char why[80];
        snprintf(why, sizeof why, "payload is %zu bytes, over APNs' %d", n, HD_PUSH_MAX_PAYLOAD);
        return refuse(q, r, false, why);
    }
    hd_buf_add(&q->body, s, n);
    free(s);
    hd_buf_addf(&q->url, "%s/3/device/%s", a->base, m->to);
    char exp[24];
    snprintf(exp, sizeof exp, "%lld", (long long)(m->created ? m->created + 86400 : 0));
    hx_header(q, "authorization", a->cred.header);
    hx_header(q, "apns-topic", a->topic);
    hx_header(q, "apns-push-type", alert ? "alert" : "background");
    hx_header(q, "apns-priority", alert ? "10" : "5");
    hx_header(q, "apns-expiration", exp);
    hx_header(q, "apns-id", m->id);
    hx_header(q, "content-type", "application/json");
    const char *cid = json_string_value(collapse);
    if (cid && strlen(cid) <= 64)
        hx_header(q, "apns-collapse-id", cid); /* refused when it holds a line break */
    json_decref(collapse);
    q->gen = a->cred.gen;
    return 0;
}

static int apns_finish(void *pc, struct hx *h, struct hx_req *q, long status, struct hd_result *r)
{
    (void)h;
    struct apns *a = pc;
    json_t *j = hx_json(q);
    const char *reason = hx_jstr(j, "reason");
    char text[200];
    hx_copy_text(text, sizeof text, reason ? reason : "");
    int again = 0;
    if (status == 200) {
        hd_result_set(r, HD_OUT_ACCEPTED, 200, "accepted");
        hx_copy_text(r->gateway_id, sizeof r->gateway_id, q->resp_id[0] ? q->resp_id : q->m->id);
    } else if (status == 410 || (reason && (strcmp(reason, "BadDeviceToken") == 0 ||
                                            strcmp(reason, "Unregistered") == 0 ||
                                            strcmp(reason, "DeviceTokenNotForTopic") == 0))) {
        hd_result_set(r, HD_OUT_PERMANENT, (int)status, "%s", text);
        r->bad_address = true;
    } else if (status == 403 && reason && strcmp(reason, "ExpiredProviderToken") == 0) {
        hd_result_set(r, HD_OUT_TEMPORARY, 403, "%s", text);
        struct hd_err err = {0};
        if (!q->again && (q->gen != a->cred.gen || sign(a, &err) == 0)) /* once per token */
            again = 1;
    } else if (status == 429) {
        hd_result_set(r, HD_OUT_THROTTLED, 429, "%s", text);
    } else if (status >= 500 || status < 200) {
        hd_result_set(r, HD_OUT_TEMPORARY, (int)status, "%s", text);
    } else {
        hd_result_set(r, HD_OUT_PERMANENT, (int)status, "%s", text);
    }
    json_decref(j);
    return again;
}

/* A JWT's characters: base64url and the dots. */
static bool jwt_ok(const char *s)
{
    size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.");
    return n > 0 && !s[n] && n < 4096;
}

static bool apns_offer(void *conf, const char *value, int64_t issued_at)
{
    struct apns *a = conf;
    if (!jwt_ok(value))
        return false;
    hx_cred_offer(&a->cred, value, issued_at);
    return true;
}

static char *apns_credential(void *conf, int64_t *issued_at)
{
    return hx_cred_get(&((struct apns *)conf)->cred, issued_at);
}

static const struct hx_proto apns_proto = {
    .prepare = apns_prepare, .build = apns_build, .finish = apns_finish, .fini = apns_fini};

static bool plain(const char *s)
{
    for (; s && *s; s++)
        if (*s <= 0x20 || *s >= 0x7f || *s == '"' || *s == '\\')
            return false;
    return true;
}

static int apns_init(const struct hd_provider_cfg *cfg, struct hd_log *log, void **conf,
                     struct hd_err *err)
{
    const struct hd_cfg_secret *key = hd_provider_secret(cfg, "key");
    const char *kid = hd_provider_get(cfg, "key_id"), *team = hd_provider_get(cfg, "team_id"),
               *topic = hd_provider_get(cfg, "topic"), *env = hd_provider_get(cfg, "environment"),
               *base = hd_provider_get(cfg, "base_url");
    if (!key)
        return hd_err_set(err, HD_E_CONFIG, "give key_file (the .p8 signing key)");
    if (!kid || !team || !topic || !plain(kid) || !plain(team) || !plain(topic))
        return hd_err_set(err, HD_E_CONFIG, "give key_id, team_id and topic (no spaces or quotes)");
    struct apns *a = hd_xcalloc(1, sizeof *a);
    a->log = log;
    hx_cred_init(&a->cred);
    a->key = hx_pem_key(key->value, key->len, "key", err);
    if (!a->key || !EVP_PKEY_is_a(a->key, "EC")) {
        int rc =
            a->key ? hd_err_set(err, HD_E_CONFIG, "key (%s): not an EC (P-256) key", key->ref) : -1;
        apns_fini(a);
        return rc;
    }
    a->topic = hd_xstrdup(topic);
    a->team = hd_xstrdup(team);
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_addf(&b, "{\"alg\":\"ES256\",\"kid\":\"%s\"}", kid);
    a->header = hd_buf_detach(&b, NULL);
    a->base = hx_url(base, env && strcmp(env, "sandbox") == 0 ? APNS_SANDBOX : APNS_PROD, "%s", "");
    int rc = hx_open(cfg, log, &apns_proto, a, STREAMS, &a->hx, err);
    if (rc < 0) {
        apns_fini(a);
        return rc;
    }
    *conf = a;
    return 0;
}

const struct hd_drv_ops hd_drv_apns = {
    .type = "apns",
    .channels = 1u << HD_CH_PUSH,
    .init = apns_init,
    .fini = hx_held_close,
    .loop = hx_held_loop,
    .wake = hx_held_wake,
    .loop_threads = hx_held_lanes,
    .offer_credential = apns_offer,
    .credential = apns_credential,
};
