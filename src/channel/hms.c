/* hms: push to Huawei phones through Push Kit, the channel that reaches
 * them in mainland China. An OAuth 2.0 client-credentials token
 *   POST {auth_url}/oauth2/v3/token
 *   grant_type=client_credentials&client_id=...&client_secret=...
 * is kept until five minutes before it expires (an hour, says the answer),
 * and shared with the other processes that send through the provider: it
 * is the driver's reusable credential (the dispatcher stores the one in
 * use and offers the one another process stored; the next batch adopts it
 * when it is newer than ours and still fresh), so that herald does not
 * fetch a token per run. Each message is
 *   POST {base_url}/v1/{app_id}/messages:send, Authorization: Bearer TOKEN
 *   {"message": {"token": [TOKEN], "data": "{...}",
 *    "android": {"ttl": "Ns", "notification": {"title", "body",
 *                "click_action": {"type": 1, "intent": ...} or {"type": 3}}}}}
 * with the template's title, body and data (Huawei takes data as a string),
 * the click action from the template's push.click_action or else the
 * provider's click_action (an intent URI, or "app" to open the app, the
 * default), and the message's expiry as ttl. Classes, by the
 * answer's code (a string), else by the HTTP status:
 *   80000000 accepted (the gateway id is requestId);
 *   80300007 (invalid token), 80100000 with the token among the illegal
 *     ones: permanent, bad address;
 *   80200003 (the OAuth token expired) and 80200001 (refused): a new token
 *     and send once more (another process's stale token, a changed secret);
 *     80200001 again: the provider is at fault and pauses;
 *   80300002 (no permission to push to the app): the provider is at fault;
 *   80300008 (message too big), 80300010 (token count), 801xxxxx
 *     (parameters) and any other: permanent with the code;
 *   81000001 (system error), 5xx, no answer: temporary; 429 throttled. */
#include "http_int.h"

#include <stdlib.h>
#include <string.h>

#include "herald/json.h"

#define HMS_URL "https://push-api.cloud.huawei.com"
#define HMS_AUTH_URL "https://oauth-login.cloud.huawei.com"
#define HMS_TOKEN_LIFE 3600 /* when the answer does not say */
#define HMS_EARLY 300       /* a token is renewed this long before it expires */

struct hms {
    void *hx; /* the engine (hx_open's conf): first, for the hx_held_ calls */
    char *send_url, *token_url, *client_id, *intent; /* intent NULL: open the app */
    const char *secret;                              /* borrowed */
    struct hx_cred cred; /* "Bearer <access token>", issued at its fetch */
    int64_t life;        /* the access token's lifetime (s) */
    int64_t failed_at;   /* when the last fetch failed (not again within 5 s) */
    struct hd_err failed;
};

static void hms_fini(void *pc)
{
    struct hms *m = pc;
    if (!m)
        return;
    free(m->send_url);
    free(m->token_url);
    free(m->client_id);
    free(m->intent);
    hx_cred_release(&m->cred);
    free(m);
}

/* Why the token endpoint refused, into err: HD_E_CONFIG when it refused
 * the client (the provider pauses), else HD_E_FAIL. */
static int refused(struct hms *m, long status, json_t *j, struct hd_err *err)
{
    char why[200];
    const char *e = hx_jstr(j, "error_description") ? hx_jstr(j, "error_description")
                    : hx_jstr(j, "error")           ? hx_jstr(j, "error")
                                                    : "no access_token in the reply";
    hx_copy_text(why, sizeof why, e);
    bool client = status == 400 || status == 401 || status == 403;
    return hd_err_set(err, client ? HD_E_CONFIG : HD_E_FAIL, "OAuth token from %s: HTTP %ld: %s%s",
                      m->token_url, status, why,
                      client ? ": check client_id and client_secret in AppGallery Connect" : "");
}

static int fetch_token(struct hms *m, struct hx *h, struct hd_err *err)
{
    int64_t now = hx_now();
    if (m->failed_at && now - m->failed_at < 5) {
        *err = m->failed;
        return err->code;
    }
    struct hd_buf form, resp;
    hd_buf_init(&form);
    hd_buf_init(&resp);
    hd_buf_adds(&form, "grant_type=client_credentials&client_id=");
    hd_buf_add_form(&form, m->client_id, strlen(m->client_id));
    hd_buf_adds(&form, "&client_secret=");
    hd_buf_add_form(&form, m->secret, strlen(m->secret));
    hd_buf_addc(&form, '\0');
    long status = 0;
    int rc = hx_post_form(h, m->token_url, form.data, &resp, &status, err);
    hd_wipe(form.data, form.len);
    hd_buf_release(&form);
    json_t *j = rc == 0 ? json_loadb(resp.data ? resp.data : "", resp.len, 0, NULL) : NULL;
    const char *tok = hx_jstr(j, "access_token");
    json_t *ttl = json_object_get(j, "expires_in");
    if (rc == 0 && (status != 200 || !tok))
        rc = refused(m, status, j, err);
    if (rc == 0) {
        int64_t life = json_is_integer(ttl) ? (int64_t)json_integer_value(ttl) : HMS_TOKEN_LIFE;
        m->life = life;
        hx_cred_set(&m->cred, "Bearer", tok, now);
        m->failed_at = 0;
    } else {
        m->failed_at = now;
        m->failed = *err;
    }
    json_decref(j);
    hd_wipe(resp.data, resp.len);
    hd_buf_release(&resp);
    return rc;
}

static int hms_prepare(void *pc, struct hx *h, struct hd_err *err)
{
    struct hms *m = pc;
    hx_cred_adopt(&m->cred, "Bearer", &m->life, HMS_TOKEN_LIFE, HMS_EARLY);
    if (m->cred.header && hx_cred_fresh(m->cred.at, m->life, HMS_EARLY, hx_now()))
        return 0;
    return fetch_token(m, h, err);
}

static void str(struct hd_buf *b, const char *s)
{
    hd_buf_add_json_str(b, s, strlen(s));
}

/* "notification": the title and body the template gave, and the click
 * action: the template's push.click_action, else the provider's. */
static void notification(struct hd_buf *b, const struct hms *m, const struct hd_msg *msg)
{
    const char *intent = msg->click_action && *msg->click_action
                             ? (strcmp(msg->click_action, "app") ? msg->click_action : NULL)
                             : m->intent;
    hd_buf_adds(b, "\"notification\":{");
    if (msg->title && *msg->title) {
        hd_buf_adds(b, "\"title\":");
        str(b, msg->title);
        hd_buf_addc(b, ',');
    }
    hd_buf_adds(b, "\"body\":");
    str(b, msg->body);
    if (intent) {
        hd_buf_adds(b, ",\"click_action\":{\"type\":1,\"intent\":");
        str(b, intent);
        hd_buf_adds(b, "}}");
    } else {
        hd_buf_adds(b, ",\"click_action\":{\"type\":3}}");
    }
}

static int hms_build(void *pc, struct hx_req *q, struct hd_result *r)
{
    struct hms *m = pc;
    const struct hd_msg *msg = q->m;
    if (!msg->body || !*msg->body)
        return hx_refuse(r, msg, "hms_push needs the template's push body");
    struct hd_buf *b = &q->body;
    hd_buf_adds(b, "{\"message\":{\"token\":[");
    str(b, msg->to);
    hd_buf_addc(b, ']');
    if (msg->data && *msg->data && strcmp(msg->data, "{}") != 0) {
        hd_buf_adds(b, ",\"data\":"); /* Huawei takes the data as a JSON string */
        str(b, msg->data);
    }
    hd_buf_adds(b, ",\"android\":{");
    if (msg->expires > 0) {
        int64_t ttl = msg->expires - hx_now();
        hd_buf_addf(b, "\"ttl\":\"%llds\",", (long long)(ttl < 0 ? 0 : ttl));
    }
    notification(b, m, msg);
    hd_buf_adds(b, "}}}");
    hd_buf_adds(&q->url, m->send_url);
    int rc = hx_header(q, "Authorization", m->cred.header ? m->cred.header : "Bearer");
    hx_header(q, "Content-Type", "application/json; charset=UTF-8");
    q->gen = m->cred.gen;
    return rc < 0 ? hx_refuse(r, msg, "the OAuth token would hold a line break") : 0;
}

/* 80200001/80200003: a new token and once more (1), unless sent again
 * already or the new token cannot be had (0, r says why). */
static int renew(struct hms *m, struct hx *h, struct hx_req *q, struct hd_result *r,
                 const char *code, const char *text)
{
    struct hd_err err = {0};
    if (q->again) {
        if (strcmp(code, "80200001") == 0)
            hx_provider_fault(r, r->code, "%s %s: Push Kit refused a new OAuth token", code, text);
        return 0;
    }
    if (q->gen != m->cred.gen || fetch_token(m, h, &err) == 0)
        return 1; /* another request already renewed it, or we did */
    if (err.code == HD_E_CONFIG)
        hx_provider_fault(r, r->code, "%s", err.msg);
    else
        hd_result_set(r, HD_OUT_TEMPORARY, r->code, "%s; %s", code, err.msg);
    return 0;
}

/* Whether the answer's msg names the token among the illegal ones
 * (80100000, some tokens refused). */
static bool illegal(const char *msg, const char *token)
{
    return msg && strstr(msg, "illegal_tokens") && strstr(msg, token);
}

static int hms_finish(void *pc, struct hx *h, struct hx_req *q, long status, struct hd_result *r)
{
    struct hms *m = pc;
    json_t *j = hx_json(q);
    const char *code = hx_jstr(j, "code"), *msg = hx_jstr(j, "msg");
    char text[300];
    hx_copy_text(text, sizeof text, msg ? msg : "");
    if (!code)
        code = "";
    int st = (int)status, again = 0;
    hd_result_set(r, HD_OUT_PERMANENT, st, "%s %s", code[0] ? code : "no code", text);
#define IS(c) (strcmp(code, c) == 0)
    if (IS("80000000")) {
        hd_result_set(r, HD_OUT_ACCEPTED, st, "80000000 %s", text);
        hx_copy_text(r->gateway_id, sizeof r->gateway_id, hx_jstr(j, "requestId"));
    } else if (IS("80300007") || (IS("80100000") && illegal(msg, q->m->to))) {
        r->bad_address = true;
    } else if (IS("80200003") || IS("80200001") || (!code[0] && status == 401)) {
        again = renew(m, h, q, r, code[0] ? code : "401", text);
    } else if (IS("80300002")) {
        hx_provider_fault(r, st,
                          "%s %s: the app may not push (enable Push Kit in AppGallery "
                          "Connect)",
                          code, text);
    } else if (status == 429) {
        hd_result_set(r, HD_OUT_THROTTLED, st, "%s %s", code, text);
    } else if (IS("81000001") || status >= 500 || status < 200) {
        hd_result_set(r, HD_OUT_TEMPORARY, st, "HTTP %ld %s %s", status, code, text);
    }
#undef IS
    json_decref(j);
    return again;
}

static bool token_ok(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return false;
    return n > 0 && n < 4096;
}

static bool hms_offer(void *conf, const char *value, int64_t issued_at)
{
    if (!token_ok(value))
        return false;
    hx_cred_offer(&((struct hms *)conf)->cred, value, issued_at);
    return true;
}

static char *hms_credential(void *conf, int64_t *issued_at)
{
    return hx_cred_get(&((struct hms *)conf)->cred, issued_at);
}

static const struct hx_proto hms_proto = {
    .prepare = hms_prepare, .build = hms_build, .finish = hms_finish, .fini = hms_fini};

static int hms_init(const struct hd_provider_cfg *cfg, struct hd_log *log, void **conf,
                    struct hd_err *err)
{
    const struct hd_cfg_secret *sec = hd_provider_secret(cfg, "client_secret");
    const char *app = hd_provider_get(cfg, "app_id"), *client = hd_provider_get(cfg, "client_id"),
               *click = hd_provider_get(cfg, "click_action");
    if (!app || !*app || strpbrk(app, "/?#% \r\n"))
        return hd_err_set(err, HD_E_CONFIG, "give app_id (the app's id in AppGallery Connect)");
    if (!sec)
        return hd_err_set(err, HD_E_CONFIG, "give client_secret_env or client_secret_file");
    struct hms *m = hd_xcalloc(1, sizeof *m);
    hx_cred_init(&m->cred);
    m->secret = sec->value;
    m->client_id = hd_xstrdup(client && *client ? client : app);
    m->intent = click && *click && strcmp(click, "app") != 0 ? hd_xstrdup(click) : NULL;
    m->send_url = hx_url(hd_provider_get(cfg, "base_url"), HMS_URL, "/v1/%s/messages:send", app);
    m->token_url = hx_url(hd_provider_get(cfg, "auth_url"), HMS_AUTH_URL, "/oauth2/v3/token");
    int rc = hx_open(cfg, log, &hms_proto, m, 1, &m->hx, err);
    if (rc < 0) {
        hms_fini(m);
        return rc;
    }
    *conf = m;
    return 0;
}

const struct hd_drv_ops hd_drv_hms_push = {
    .type = "hms_push",
    .channels = 1u << HD_CH_PUSH,
    .init = hms_init,
    .fini = hx_held_close,
    .loop = hx_held_loop,
    .wake = hx_held_wake,
    .loop_threads = hx_held_lanes,
    .offer_credential = hms_offer,
    .credential = hms_credential,
};
