/* fcm: push through Firebase Cloud Messaging's HTTP v1 API. The service
 * account's JSON (service_account_file) gives client_email, private_key,
 * token_uri and project_id; we sign an RS256 JWT (iss = client_email, scope
 * firebase.messaging, aud = token_uri, exp = iat + 3600), exchange it at
 * token_uri for an access token (grant type jwt-bearer) and keep that until
 * a minute before it expires. Each message is
 *   POST {base_url}/v1/projects/{project_id}/messages:send
 *   {"message": {"token", "notification": {"title", "body"}, "data": {...}}}
 * with data values turned into strings, as FCM requires. Classes, by the
 * FcmError code in the error's details, else by HTTP status:
 *   UNREGISTERED (404), SENDER_ID_MISMATCH: permanent, bad token;
 *   INVALID_ARGUMENT (400): permanent;
 *   QUOTA_EXCEEDED, 429: throttled (Retry-After honoured);
 *   UNAVAILABLE (503), INTERNAL (500), other 5xx: temporary;
 *   401: fetch a new access token and send once more, then temporary. */
#include "http_int.h"

#include <stdlib.h>
#include <string.h>

#include "herald/json.h"

#define FCM_URL "https://fcm.googleapis.com"
#define FCM_SCOPE "https://www.googleapis.com/auth/firebase.messaging"

struct fcm {
    char *send_url;
    char *email, *token_uri;
    EVP_PKEY *key;
    char *access; /* the current access token, or NULL */
    int64_t expires;
    unsigned gen;
    int64_t failed_at; /* when the last token fetch failed */
    char failed[1024];
    struct hd_buf scratch;
};

static void drop_token(struct fcm *f)
{
    if (f->access)
        hd_wipe(f->access, strlen(f->access));
    free(f->access);
    f->access = NULL;
}

static void fcm_fini(void *pc)
{
    struct fcm *f = pc;
    if (!f)
        return;
    drop_token(f);
    free(f->send_url);
    free(f->email);
    free(f->token_uri);
    EVP_PKEY_free(f->key);
    hd_buf_release(&f->scratch);
    free(f);
}

static int fetch_token(struct fcm *f, struct hx *h, struct hd_err *err)
{
    int64_t now = hx_now();
    if (f->failed_at && now - f->failed_at < 5)
        return hd_err_set(err, HD_E_IO, "%s", f->failed);
    json_t *claims =
        json_pack("{s:s,s:s,s:s,s:I,s:I}", "iss", f->email, "scope", FCM_SCOPE, "aud", f->token_uri,
                  "iat", (json_int_t)now, "exp", (json_int_t)(now + 3600));
    char *cl = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    struct hd_buf form, resp;
    hd_buf_init(&form);
    hd_buf_init(&resp);
    hd_buf_adds(&form, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                       "&assertion=");
    long status = 0;
    int rc = hx_jwt(&form, f->key, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", cl);
    free(cl);
    if (rc < 0)
        rc = hd_err_set(err, HD_E_FAIL, "cannot sign the OAuth assertion");
    else
        rc = hx_post_form(h, f->token_uri, form.data, &resp, &status, err);
    hd_wipe(form.data, form.len);
    hd_buf_release(&form);
    json_t *j = rc == 0 ? json_loadb(resp.data ? resp.data : "", resp.len, 0, NULL) : NULL;
    const char *tok = hx_jstr(j, "access_token");
    json_t *ttl = json_object_get(j, "expires_in");
    if (rc == 0 && (status != 200 || !tok)) {
        char why[200];
        hx_copy_text(why, sizeof why,
                     hx_jstr(j, "error_description") ? hx_jstr(j, "error_description")
                     : hx_jstr(j, "error")           ? hx_jstr(j, "error")
                                                     : "no access_token in the reply");
        rc = hd_err_set(err, HD_E_FAIL, "OAuth token from %s: HTTP %ld: %s", f->token_uri, status,
                        why);
    }
    if (rc == 0) {
        drop_token(f);
        f->access = hd_xstrdup(tok);
        int64_t life = json_is_integer(ttl) ? (int64_t)json_integer_value(ttl) : 3600;
        f->expires = now + life - (life > 300 ? 60 : life / 5);
        f->gen++;
        f->failed_at = 0;
    } else {
        f->failed_at = now;
        snprintf(f->failed, sizeof f->failed, "%s", err->msg);
    }
    json_decref(j);
    hd_wipe(resp.data, resp.len);
    hd_buf_release(&resp);
    return rc;
}

static int fcm_prepare(void *pc, struct hx *h, struct hd_err *err)
{
    struct fcm *f = pc;
    if (f->access && hx_now() < f->expires)
        return 0;
    return fetch_token(f, h, err);
}

static void add_str(struct hd_buf *b, const char *s)
{
    hd_buf_add_json_str(b, s, strlen(s));
}

/* FCM refuses these data keys: "from", "message_type", "google.*", "gcm.*". */
static bool reserved(const char *k)
{
    switch (k[0]) { /* one look for most keys: this runs for every key sent */
    case 'f':
        return strcmp(k, "from") == 0;
    case 'm':
        return strcmp(k, "message_type") == 0;
    case 'g':
        return strncmp(k, "google.", 7) == 0 || strncmp(k, "gcm.", 4) == 0;
    default:
        return false;
    }
}

/* Appends "data":{...} with every value a string, as FCM requires (other
 * JSON values become their JSON text); collapse_id is left out. Returns
 * the first key FCM reserves, or NULL. */
static const char *add_data(struct hd_buf *b, json_t *data)
{
    const char *k;
    json_t *v;
    hd_buf_adds(b, "\"data\":{");
    bool first = true;
    json_object_foreach(data, k, v)
    {
        if (strcmp(k, "collapse_id") == 0)
            continue;
        if (reserved(k))
            return k;
        if (!first)
            hd_buf_addc(b, ',');
        first = false;
        add_str(b, k);
        hd_buf_addc(b, ':');
        if (json_is_string(v)) {
            hd_buf_add_json_str(b, json_string_value(v), json_string_length(v));
        } else {
            char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            add_str(b, t ? t : "");
            free(t);
        }
    }
    hd_buf_addc(b, '}');
    return NULL;
}

/* Appends "key":value, after a comma unless *first. */
static void add_member(struct hd_buf *b, const char *k, json_t *v, bool *first)
{
    if (!*first)
        hd_buf_addc(b, ',');
    *first = false;
    add_str(b, k);
    hd_buf_addc(b, ':');
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    hd_buf_adds(b, t ? t : "null");
    free(t);
}

/* Appends the members of o (may be NULL) with add_member. */
static void add_members(struct hd_buf *b, json_t *o, bool *first)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) add_member(b, k, v, first);
}

/* "notification": the title and body the template gave, when not empty,
 * and what push.fcm adds to it (image, ...); nothing at all for a
 * data-only push. Nothing is added that the template did not ask for. */
static void add_notification(struct hd_buf *b, const struct hd_msg *m, json_t *extra)
{
    bool title = m->title && *m->title, body = m->body && *m->body, first = true;
    if (!title && !body && !json_object_size(extra))
        return;
    hd_buf_adds(b, ",\"notification\":{");
    if (title) {
        hd_buf_adds(b, "\"title\":");
        add_str(b, m->title);
        first = false;
    }
    if (body) {
        hd_buf_adds(b, first ? "\"body\":" : ",\"body\":");
        add_str(b, m->body);
        first = false;
    }
    if (extra)
        add_members(b, extra, &first);
    hd_buf_addc(b, '}');
}

/* push.fcm's other members (android, apns, webpush, fcm_options), with the
 * collapse key in "android" unless push.fcm gives its own. */
static void add_fcm_parts(struct hd_buf *b, json_t *fcm, const char *collapse)
{
    json_t *android = fcm ? json_object_get(fcm, "android") : NULL;
    if (collapse || android) {
        bool first = true;
        hd_buf_adds(b, ",\"android\":{");
        if (collapse && !json_object_get(android, "collapse_key")) {
            hd_buf_adds(b, "\"collapse_key\":");
            add_str(b, collapse);
            first = false;
        }
        add_members(b, android, &first);
        hd_buf_addc(b, '}');
    }
    const char *k;
    json_t *v;
    if (!fcm)
        return;
    json_object_foreach(fcm, k, v)
    {
        if (strcmp(k, "notification") == 0 || strcmp(k, "android") == 0)
            continue;
        bool first = false;
        add_member(b, k, v, &first);
    }
}

/* The message is refused unsent (permanent): fmt with arg says why; a and
 * b (may be NULL) are released. */
static int refuse(struct hx_req *q, struct hd_result *r, json_t *a, json_t *b, const char *fmt,
                  const char *arg)
{
    hd_result_init(r, q->m);
    hd_result_set(r, HD_OUT_PERMANENT, 0, fmt, arg); /* arg may live in a or b */
    json_decref(a);
    json_decref(b);
    return -1;
}

/* An object from the JSON text s (NULL or "" give NULL); false when s is
 * not an object. */
static bool object_of(const char *s, json_t **out)
{
    *out = s && *s ? hd_json_object_loads(s, strlen(s)) : NULL;
    if (*out && !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return false;
    }
    return !(s && *s) || *out;
}

/* The body is written directly (not through a jansson tree): this is the
 * hot path of a push campaign. push.fcm, when the template has one, is
 * read into a tree: its members are merged into the message. */
static int fcm_build(void *pc, struct hx_req *q, struct hd_result *r)
{
    struct fcm *f = pc;
    const struct hd_msg *m = q->m;
    json_t *data = NULL, *fcm = NULL;
    if (!object_of(m->data, &data))
        return refuse(q, r, NULL, NULL, "push data is not a JSON %s", "object");
    if (!object_of(m->fcm, &fcm))
        return refuse(q, r, data, NULL, "push.fcm is not a JSON %s", "object");
    struct hd_buf *b = &q->body;
    hd_buf_adds(b, "{\"message\":{\"token\":");
    add_str(b, m->to);
    size_t payload = b->len, extra = 2; /* what FCM counts: {notification,data} */
    add_notification(b, m, fcm ? json_object_get(fcm, "notification") : NULL);
    if (b->len > payload)
        extra--; /* its leading comma stands for one brace */
    const char *collapse = json_string_value(json_object_get(data, "collapse_id"));
    const char *bad = NULL;
    if (data) {
        hd_buf_addc(b, ',');
        bad = add_data(b, data);
    }
    if (bad)
        return refuse(q, r, data, fcm, "push data key '%s' is reserved by FCM", bad);
    size_t size = b->len - payload + extra;
    if (size > HD_PUSH_MAX_PAYLOAD) {
        json_decref(data);
        json_decref(fcm);
        hd_result_init(r, m);
        hd_result_set(r, HD_OUT_PERMANENT, 0, "payload is %zu bytes, over FCM's %d", size,
                      HD_PUSH_MAX_PAYLOAD);
        return -1;
    }
    add_fcm_parts(b, fcm, collapse);
    hd_buf_adds(b, "}}");
    json_decref(data);
    json_decref(fcm);
    hd_buf_adds(&q->url, f->send_url);
    hd_buf_reset(&f->scratch);
    hd_buf_adds(&f->scratch, "Bearer ");
    hd_buf_adds(&f->scratch, f->access ? f->access : "");
    hx_header(q, "Authorization", f->scratch.data);
    hd_wipe(f->scratch.data, f->scratch.len);
    /* RFC 8259 defines no charset for JSON (it is UTF-8); libcurl 7.88
     * writes a custom header line a byte at a time, about 57 instructions
     * a byte, so the parameter cost 850 a push */
    hx_header(q, "Content-Type", "application/json");
    q->gen = f->gen;
    return 0;
}

/* The FcmError code in error.details, or NULL. */
static const char *fcm_code(const json_t *e)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(e, "details"), i, d)
    {
        const char *type = hx_jstr(d, "@type");
        if (type && strstr(type, "FcmError") && hx_jstr(d, "errorCode"))
            return hx_jstr(d, "errorCode");
    }
    return NULL;
}

static int fcm_finish(void *pc, struct hx *h, struct hx_req *q, long status, struct hd_result *r)
{
    struct fcm *f = pc;
    if (status == 200) {
        hd_result_set(r, HD_OUT_ACCEPTED, 200, "accepted");
        hx_scan_str(q, "name", r->gateway_id, sizeof r->gateway_id);
        return 0;
    }
    json_t *j = hx_json(q);
    json_t *e = json_object_get(j, "error");
    const char *code = fcm_code(e), *st = hx_jstr(e, "status");
    const char *why = code ? code : st ? st : "";
    char text[300];
    hx_copy_text(text, sizeof text, hx_jstr(e, "message") ? hx_jstr(e, "message") : "");
#define IS(name) (code && strcmp(code, name) == 0)
    int again = 0;
    if (IS("UNREGISTERED") || IS("SENDER_ID_MISMATCH") || (!code && status == 404)) {
        hd_result_set(r, HD_OUT_PERMANENT, (int)status, "%s %s", why, text);
        r->bad_address = true;
    } else if (IS("QUOTA_EXCEEDED") || status == 429) {
        hd_result_set(r, HD_OUT_THROTTLED, (int)status, "%s %s", why, text);
    } else if (status == 401) {
        hd_result_set(r, HD_OUT_TEMPORARY, 401, "%s %s", why, text);
        struct hd_err err = {0};
        if (q->again) /* refreshed once already: give up for now */
            again = 0;
        else if (q->gen != f->gen) /* another request already refreshed it */
            again = 1;
        else if (fetch_token(f, h, &err) == 0)
            again = 1;
        else
            hd_result_set(r, HD_OUT_TEMPORARY, 401, "%s; %s", why, err.msg);
    } else if (status >= 500 || status < 200 || IS("UNAVAILABLE") || IS("INTERNAL")) {
        hd_result_set(r, HD_OUT_TEMPORARY, (int)status, "%s %s", why, text);
    } else {
        hd_result_set(r, HD_OUT_PERMANENT, (int)status, "%s %s", why, text);
    }
#undef IS
    json_decref(j);
    return again;
}

static const struct hx_proto fcm_proto = {
    .prepare = fcm_prepare, .build = fcm_build, .finish = fcm_finish, .fini = fcm_fini};

static int fcm_init(const struct hd_provider_cfg *cfg, struct hd_log *log, void **conf,
                    struct hd_err *err)
{
    const struct hd_cfg_secret *sa = hd_provider_secret(cfg, "service_account");
    if (!sa)
        return hd_err_set(err, HD_E_CONFIG, "give service_account_file");
    json_error_t je;
    json_t *j = json_loadb(sa->value, sa->len, 0, &je);
    const char *email = hx_jstr(j, "client_email"), *pem = hx_jstr(j, "private_key"),
               *uri = hx_jstr(j, "token_uri"), *project = hd_provider_get(cfg, "project_id");
    if (!project)
        project = hx_jstr(j, "project_id");
    int rc = 0;
    if (!json_is_object(j))
        rc = hd_err_set(err, HD_E_CONFIG, "service_account (%s): not JSON: line %d: %s", sa->ref,
                        je.line, je.text);
    else if (!email || !pem || !uri)
        rc = hd_err_set(err, HD_E_CONFIG,
                        "service_account (%s): needs client_email, private_key and token_uri",
                        sa->ref);
    else if (!project || !*project || strpbrk(project, "/?#% \r\n"))
        rc = hd_err_set(err, HD_E_CONFIG,
                        "give project_id (in the service account file or the provider)");
    struct fcm *f = NULL;
    if (rc == 0) {
        f = hd_xcalloc(1, sizeof *f);
        hd_buf_init(&f->scratch);
        f->email = hd_xstrdup(email);
        f->token_uri = hd_xstrdup(uri);
        f->key = hx_pem_key(pem, strlen(pem), "service_account private_key", err);
        if (!f->key || !EVP_PKEY_is_a(f->key, "RSA"))
            rc = f->key
                     ? hd_err_set(err, HD_E_CONFIG, "service_account private_key: not an RSA key")
                     : -1;
    }
    if (rc == 0) {
        f->send_url = hx_url(hd_provider_get(cfg, "base_url"), FCM_URL,
                             "/v1/projects/%s/messages:send", project);
    }
    if (pem) /* the key's PEM is parsed: do not leave it in freed memory */
        hd_wipe((char *)pem, strlen(pem));
    json_decref(j);
    if (rc < 0) {
        fcm_fini(f);
        return rc;
    }
    return hx_open(cfg, log, &fcm_proto, f, 1, conf, err);
}

const struct hd_drv_ops hd_drv_fcm = {
    .type = "fcm",
    .channels = 1u << HD_CH_PUSH,
    .init = fcm_init,
    .fini = hx_close,
    .loop = hx_loop,
    .wake = hx_wake,
    .loop_threads = hx_lanes,
};
