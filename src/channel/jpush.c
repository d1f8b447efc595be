/* jpush: push through JPush (极光推送) Push API v3, the way apps in
 * mainland China reach Android phones without Google's services, and
 * iPhones through JPush's APNs channel. Each message is
 *   POST {base_url}/v3/push, Basic auth app_key:master_secret (the header
 *   made once from the secret, hx_basic; nothing logs it)
 *   {"platform": ["android", "ios"],
 *    "audience": {"registration_id": [the contact's jpush_id]},
 *    "notification": {"android": {"alert", "title", "extras"},
 *                     "ios": {"alert": {"title", "body"}, "extras"}},
 *    "options": {"apns_production", "time_to_live"}}
 * from the template's push part (title, body, data as extras);
 * time_to_live is what is left of the message's expiry (JPush keeps an
 * offline message a day by default). Classes, by the error's code, else by
 * the HTTP status:
 *   200 accepted (the gateway id is msg_id);
 *   1011 (no such target) and an invalid registration_id: permanent, bad
 *     address;
 *   1004 (authentication), 1008 (app_key): the provider is at fault and pauses;
 *   2002, 2003 (the app's API rate) and 429: throttled until the
 *     X-Rate-Limit-Reset the answer gives; an accepted answer with
 *     X-Rate-Limit-Remaining 0 closes the gate until then too;
 *   1000 (system error), 5xx, no answer: temporary;
 *   1002, 1003 (parameters) and any other: permanent with the code. */
#include "http_int.h"

#include <stdlib.h>
#include <string.h>

#include "herald/json.h"

#define JPUSH_URL "https://api.jpush.cn"
#define JPUSH_TTL_MAX (10 * 86400) /* JPush keeps an offline message at most ten days */

struct jp {
    char *url, *app_key;
    const char *secret; /* borrowed */
    char *auth;         /* the Authorization header's value (hx_basic) */
    bool production;
};

static void jp_fini(void *pc)
{
    struct jp *j = pc;
    if (!j)
        return;
    free(j->url);
    free(j->app_key);
    if (j->auth)
        hd_wipe(j->auth, strlen(j->auth));
    free(j->auth);
    free(j);
}

static void str(struct hd_buf *b, const char *s)
{
    hd_buf_add_json_str(b, s, strlen(s));
}

/* ,"title":T when the template gave one. */
static void title(struct hd_buf *b, const struct hd_msg *m)
{
    if (m->title && *m->title) {
        hd_buf_adds(b, ",\"title\":");
        str(b, m->title);
    }
}

/* ,"extras":{...} when the push data has members (its JSON text as given). */
static void extras(struct hd_buf *b, const char *data)
{
    if (data && *data && strcmp(data, "{}") != 0) {
        hd_buf_adds(b, ",\"extras\":");
        hd_buf_adds(b, data);
    }
}

static int jp_build(void *pc, struct hx_req *q, struct hd_result *r)
{
    struct jp *j = pc;
    const struct hd_msg *m = q->m;
    if (!m->body || !*m->body)
        return hx_refuse(r, m, "jpush needs the template's push body (the notification's alert)");
    if (m->data && *m->data) {
        json_t *d = hd_json_object_loads(m->data, strlen(m->data));
        bool ok = json_is_object(d);
        json_decref(d);
        if (!ok)
            return hx_refuse(r, m, "push data is not a JSON object");
    }
    struct hd_buf *b = &q->body;
    hd_buf_adds(b, "{\"platform\":[\"android\",\"ios\"],\"audience\":{\"registration_id\":[");
    str(b, m->to);
    hd_buf_adds(b, "]},\"notification\":{\"android\":{\"alert\":");
    str(b, m->body);
    title(b, m);
    extras(b, m->data);
    hd_buf_adds(b, "},\"ios\":{\"alert\":{\"body\":");
    str(b, m->body);
    title(b, m);
    hd_buf_addc(b, '}');
    extras(b, m->data);
    hd_buf_adds(b, "}},\"options\":{\"apns_production\":");
    hd_buf_adds(b, j->production ? "true" : "false");
    if (m->expires > 0) {
        int64_t ttl = m->expires - hx_now();
        hd_buf_addf(b, ",\"time_to_live\":%lld",
                    (long long)(ttl < 0               ? 0
                                : ttl > JPUSH_TTL_MAX ? JPUSH_TTL_MAX
                                                      : ttl));
    }
    hd_buf_adds(b, "}}");
    hd_buf_adds(&q->url, j->url);
    hx_header(q, "Content-Type", "application/json");
    hx_header(q, "Authorization", j->auth);
    return 0;
}

/* JPush's rate-limit window: until X-Rate-Limit-Reset, or a second. */
static int64_t reset_ms(const struct hx_req *q)
{
    return q->rl_reset > 0 ? (int64_t)q->rl_reset * 1000 : 1000;
}

static void classify(struct hd_result *r, const struct hx_req *q, long status, long code,
                     const char *text)
{
    int st = (int)status;
    if (code == 1011 || (code == 1003 && strstr(text, "registration_id"))) {
        hd_result_set(r, HD_OUT_PERMANENT, st, "%ld %s", code, text);
        r->bad_address = true;
    } else if (code == 1004 || code == 1008 || (!code && status == 401)) {
        hx_provider_fault(r, st, "%ld %s: check app_key and master_secret in the JPush console",
                          code, text);
    } else if (code == 2002 || code == 2003 || status == 429) {
        hd_result_set(r, HD_OUT_THROTTLED, st, "%ld %s", code, text);
        r->retry_after_ms = reset_ms(q);
    } else if (code == 1000 || status >= 500 || status < 200) {
        hd_result_set(r, HD_OUT_TEMPORARY, st, "HTTP %ld %ld %s", status, code, text);
    } else {
        hd_result_set(r, HD_OUT_PERMANENT, st, "%ld %s", code, text);
    }
}

static int jp_finish(void *pc, struct hx *h, struct hx_req *q, long status, struct hd_result *r)
{
    (void)pc;
    (void)h;
    json_t *j = hx_json(q);
    json_t *e = json_object_get(j, "error");
    if (status == 200 && !e) {
        hd_result_set(r, HD_OUT_ACCEPTED, 200, "accepted");
        json_t *id = json_object_get(j, "msg_id");
        if (json_is_string(id))
            hx_copy_text(r->gateway_id, sizeof r->gateway_id, json_string_value(id));
        else if (json_is_integer(id))
            snprintf(r->gateway_id, sizeof r->gateway_id, "%lld",
                     (long long)json_integer_value(id));
        if (q->rl_remaining == 0) /* the app's quota is spent until the reset */
            q->hold_ms = reset_ms(q);
    } else {
        json_t *c = json_object_get(e, "code");
        char text[300];
        hx_copy_text(text, sizeof text, hx_jstr(e, "message") ? hx_jstr(e, "message") : "");
        classify(r, q, status, json_is_integer(c) ? (long)json_integer_value(c) : 0, text);
    }
    json_decref(j);
    return 0;
}

static const struct hx_proto jp_proto = {.build = jp_build, .finish = jp_finish, .fini = jp_fini};

static int jp_init(const struct hd_provider_cfg *cfg, struct hd_log *log, void **conf,
                   struct hd_err *err)
{
    struct jp *j = hd_xcalloc(1, sizeof *j);
    const struct hd_cfg_secret *sec = hd_provider_secret(cfg, "master_secret");
    j->secret = sec ? sec->value : NULL;
    j->app_key = hd_xstrdup(hd_provider_get(cfg, "app_key"));
    j->production = hd_provider_bool(cfg, "apns_production", true);
    j->url = hx_url(hd_provider_get(cfg, "base_url"), JPUSH_URL, "/v3/push");
    if (!j->app_key || !*j->app_key || !j->secret) {
        jp_fini(j);
        return hd_err_set(err, HD_E_CONFIG,
                          "give app_key and master_secret_env or master_secret_file");
    }
    j->auth = hx_basic(j->app_key, j->secret);
    return hx_open(cfg, log, &jp_proto, j, 1, conf, err);
}

const struct hd_drv_ops hd_drv_jpush = {
    .type = "jpush",
    .channels = 1u << HD_CH_PUSH,
    .init = jp_init,
    .fini = hx_close,
    .loop = hx_loop,
    .wake = hx_wake,
    .loop_threads = hx_lanes,
};
