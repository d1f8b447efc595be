/* wechat: WeChat official account template messages (issue 24). The
 * account's access_token comes from
 *   POST {base_url}/cgi-bin/stable_token
 *   {"grant_type": "client_credential", "appid": ..., "secret": ...}
 * (the stable token: fetching it again does not revoke the one other
 * senders of the account hold, unlike /cgi-bin/token) and is kept until
 * five minutes before it expires (expires_in, two hours). It is the
 * driver's reusable credential, shared with the other processes through
 * the store as hms.c's is: the dispatcher stores the one in use and offers
 * the one another process stored, so herald does not fetch one per run.
 * Each message is
 *   POST {base_url}/cgi-bin/message/template/send?access_token=TOKEN
 *   {"touser": OPENID, "template_id": ..., "url": ... or
 *    "miniprogram": {"appid": ..., "pagepath": ...},
 *    "client_msg_id": herald's message id, "data": {"key": {"value": ...}}}
 * with data from the message (a string value becomes {"value": ...}).
 * Classes, by errcode:
 *   0 accepted (the gateway id is msgid);
 *   43004 (the user does not follow the account, or refused its
 *     messages: their opt-out): permanent, opted out (the dispatcher
 *     records it as the wechat channel's marketing opt-out, not as a
 *     suppression: following again is theirs to do);
 *   40003 (an openid not of this account): permanent, bad address;
 *   45009 (the account's daily API quota) throttled for an hour;
 *   40001, 40014, 42001 (the token is invalid or expired: another
 *     sender's refresh, a changed secret): a new token and send once more;
 *     again: the provider is at fault and pauses;
 *   48001 (the API is not authorised for the account) provider at fault;
 *   -1 (system busy), 5xx, no answer temporary;
 *   anything else (40037 a bad template_id, 47003 bad data...) permanent.
 * The token travels in the URL: it never reaches a log line (the engine
 * logs no URLs). */
#include "http_int.h"

#include <stdlib.h>
#include <string.h>

#define WECHAT_URL "https://api.weixin.qq.com"
#define WECHAT_TOKEN_LIFE 7200 /* when the answer does not say */
#define WECHAT_EARLY 300       /* a token is renewed this long before it expires */

struct wx {
    void *hx; /* the engine (hx_open's conf): first, for the hx_held_ calls */
    char *token_url, *send_url, *app_id, *mini_app;
    const char *secret;  /* borrowed */
    struct hx_cred cred; /* "Token <access_token>", issued at its fetch */
    int64_t life;
    int64_t failed_at; /* when the last fetch failed (not again within 5 s) */
    struct hd_err failed;
};

static void wx_fini(void *pc)
{
    struct wx *w = pc;
    if (!w)
        return;
    free(w->token_url);
    free(w->send_url);
    free(w->app_id);
    free(w->mini_app);
    hx_cred_release(&w->cred);
    free(w);
}

static int fetch_token(struct wx *w, struct hx *h, struct hd_err *err)
{
    int64_t now = hx_now();
    if (w->failed_at && now - w->failed_at < 5) {
        *err = w->failed;
        return err->code;
    }
    json_t *req = json_pack("{s:s, s:s, s:s}", "grant_type", "client_credential", "appid",
                            w->app_id, "secret", w->secret);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    struct hd_buf resp;
    hd_buf_init(&resp);
    long status = 0;
    int rc = hx_post_json(h, w->token_url, body, &resp, &status, err);
    hd_wipe(body, strlen(body));
    free(body);
    json_t *j = rc == 0 ? json_loadb(resp.data ? resp.data : "", resp.len, 0, NULL) : NULL;
    const char *tok = hx_jstr(j, "access_token");
    json_t *ttl = json_object_get(j, "expires_in"), *code = json_object_get(j, "errcode");
    if (rc == 0 && (status != 200 || !tok)) {
        char why[200];
        hx_copy_text(why, sizeof why, hx_jstr(j, "errmsg") ? hx_jstr(j, "errmsg") : "no token");
        long long c = json_integer_value(code);
        /* 40013 bad appid, 40125 bad secret, 40164 the server's IP not
         * on the account's allow-list: the provider's fault */
        bool client = c == 40013 || c == 40125 || c == 40164 || c == 41002 || c == 41004;
        rc = hd_err_set(err, client ? HD_E_CONFIG : HD_E_FAIL,
                        "access_token from %s: HTTP %ld errcode %lld %s%s", w->token_url, status, c,
                        why,
                        client ? ": check app_id, app_secret and the IP allow-list in the "
                                 "official account's console"
                               : "");
    }
    if (rc == 0) {
        w->life = json_is_integer(ttl) ? (int64_t)json_integer_value(ttl) : WECHAT_TOKEN_LIFE;
        hx_cred_set(&w->cred, "Token", tok, now);
        w->failed_at = 0;
    } else {
        w->failed_at = now;
        w->failed = *err;
    }
    json_decref(j);
    hd_wipe(resp.data, resp.len);
    hd_buf_release(&resp);
    return rc;
}

static int wx_prepare(void *pc, struct hx *h, struct hd_err *err)
{
    struct wx *w = pc;
    hx_cred_adopt(&w->cred, "Token", &w->life, WECHAT_TOKEN_LIFE, WECHAT_EARLY);
    if (w->cred.header && hx_cred_fresh(w->cred.at, w->life, WECHAT_EARLY, hx_now()))
        return 0;
    return fetch_token(w, h, err);
}

/* "data": each string value as {"value": ...}, objects as they are. */
static json_t *data_of(const char *text)
{
    json_t *in = json_loads(text, 0, NULL), *out = json_object(), *v;
    const char *k;
    if (!json_is_object(in)) {
        json_decref(in);
        json_decref(out);
        return NULL;
    }
    json_object_foreach(in, k, v)
    {
        if (json_is_string(v))
            json_object_set_new(out, k, json_pack("{s:O}", "value", v));
        else if (json_is_object(v) && json_is_string(json_object_get(v, "value")))
            json_object_set(out, k, v);
        else
            json_object_set_new(out, k, json_null());
    }
    json_decref(in);
    return out;
}

static bool has_null(json_t *o)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) if (json_is_null(v)) return true;
    return false;
}

static int wx_build(void *pc, struct hx_req *q, struct hd_result *r)
{
    struct wx *w = pc;
    const struct hd_msg *m = q->m;
    if (!m->wechat_template || !*m->wechat_template)
        return hx_refuse(r, m,
                         "wechat sends template messages: the template has no "
                         "wechat.template_id");
    json_t *data = data_of(m->wechat_data ? m->wechat_data : "{}");
    if (!data || has_null(data)) {
        json_decref(data);
        return hx_refuse(r, m,
                         "wechat.data must be a JSON object of strings (or of objects "
                         "with a value)");
    }
    if (m->wechat_page && *m->wechat_page && !w->mini_app) {
        json_decref(data);
        return hx_refuse(r, m, "wechat.page needs the provider's miniprogram_app_id");
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "touser", m->to, "template_id",
                          m->wechat_template, "client_msg_id", m->id, "data", data);
    if (m->wechat_url && *m->wechat_url)
        json_object_set_new(o, "url", json_string(m->wechat_url));
    if (m->wechat_page && *m->wechat_page)
        json_object_set_new(
            o, "miniprogram",
            json_pack("{s:s, s:s}", "appid", w->mini_app, "pagepath", m->wechat_page));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    hd_buf_adds(&q->body, text);
    free(text);
    hd_buf_addf(&q->url, "%s?access_token=%s", w->send_url,
                w->cred.header ? w->cred.header + w->cred.skip : "");
    hx_header(q, "Content-Type", "application/json; charset=utf-8");
    q->gen = w->cred.gen;
    return 0;
}

/* 40001/40014/42001: a new token and once more (1), unless sent again
 * already or none can be had (0, r says why). */
static int renew(struct wx *w, struct hx *h, struct hx_req *q, struct hd_result *r, long long code,
                 const char *text)
{
    struct hd_err err = {0};
    if (q->again) {
        hx_provider_fault(r, r->code, "%lld %s: WeChat refused a new access_token", code, text);
        return 0;
    }
    if (q->gen != w->cred.gen || fetch_token(w, h, &err) == 0)
        return 1; /* another request already renewed it, or we did */
    if (err.code == HD_E_CONFIG)
        hx_provider_fault(r, r->code, "%s", err.msg);
    else
        hd_result_set(r, HD_OUT_TEMPORARY, r->code, "%lld; %s", code, err.msg);
    return 0;
}

static int wx_finish(void *pc, struct hx *h, struct hx_req *q, long status, struct hd_result *r)
{
    struct wx *w = pc;
    json_t *j = hx_json(q), *ec = json_object_get(j, "errcode");
    long long code = json_is_integer(ec) ? json_integer_value(ec) : -9999;
    char text[300];
    hx_copy_text(text, sizeof text, hx_jstr(j, "errmsg") ? hx_jstr(j, "errmsg") : "");
    int st = (int)status, again = 0;
    hd_sha256_hex(q->body.data, q->body.len, r->digest);
    hd_result_set(r, HD_OUT_PERMANENT, st, "%lld %s", code, text);
    if (status >= 500 || status < 200 || code == -1 || (code == -9999 && status != 200)) {
        hd_result_set(r, HD_OUT_TEMPORARY, st, "HTTP %ld errcode %lld %s", status, code, text);
    } else if (code == 0) {
        json_t *id = json_object_get(j, "msgid");
        hd_result_set(r, HD_OUT_ACCEPTED, st, "0 %s", text);
        if (json_is_integer(id))
            snprintf(r->gateway_id, sizeof r->gateway_id, "%lld",
                     (long long)json_integer_value(id));
    } else if (code == 43004) {
        r->opted_out = true;
    } else if (code == 40003) {
        r->bad_address = true;
    } else if (code == 45009) {
        hd_result_set(r, HD_OUT_THROTTLED, st, "%lld %s", code, text);
        r->retry_after_ms = 3600000;
    } else if (code == 40001 || code == 40014 || code == 42001) {
        again = renew(w, h, q, r, code, text);
    } else if (code == 48001) {
        hx_provider_fault(r, st, "%lld %s: the account may not send template messages", code, text);
    }
    json_decref(j);
    return again;
}

static bool token_ok(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '&' || s[i] == '#')
            return false;
    return n > 0 && n < 1024;
}

static bool wx_offer(void *conf, const char *value, int64_t issued_at)
{
    if (!token_ok(value))
        return false;
    hx_cred_offer(&((struct wx *)conf)->cred, value, issued_at);
    return true;
}

static char *wx_credential(void *conf, int64_t *issued_at)
{
    return hx_cred_get(&((struct wx *)conf)->cred, issued_at);
}

static const struct hx_proto wx_proto = {
    .prepare = wx_prepare, .build = wx_build, .finish = wx_finish, .fini = wx_fini};

static int wx_init(const struct hd_provider_cfg *cfg, struct hd_log *log, void **conf,
                   struct hd_err *err)
{
    const struct hd_cfg_secret *sec = hd_provider_secret(cfg, "app_secret");
    const char *app = hd_provider_get(cfg, "app_id"),
               *mini = hd_provider_get(cfg, "miniprogram_app_id");
    if (!app || !*app)
        return hd_err_set(err, HD_E_CONFIG, "give app_id (the official account's AppID)");
    if (!sec || !sec->value)
        return hd_err_set(err, HD_E_CONFIG, "give app_secret_env or app_secret_file");
    struct wx *w = hd_xcalloc(1, sizeof *w);
    hx_cred_init(&w->cred);
    w->secret = sec->value;
    w->app_id = hd_xstrdup(app);
    w->mini_app = mini && *mini ? hd_xstrdup(mini) : NULL;
    const char *base = hd_provider_get(cfg, "base_url");
    w->token_url = hx_url(base, WECHAT_URL, "/cgi-bin/stable_token");
    w->send_url = hx_url(base, WECHAT_URL, "/cgi-bin/message/template/send");
    int rc = hx_open(cfg, log, &wx_proto, w, 1, &w->hx, err);
    if (rc < 0) {
        wx_fini(w);
        return rc;
    }
    *conf = w;
    return 0;
}

/* The wechat channel's: its address is the contact's wechat_openid. */
const struct hd_drv_ops hd_drv_wechat = {
    .type = "wechat",
    .channels = 1u << HD_CH_WECHAT,
    .init = wx_init,
    .fini = hx_held_close,
    .loop = hx_held_loop,
    .wake = hx_held_wake,
    .loop_threads = hx_held_lanes,
    .offer_credential = wx_offer,
    .credential = wx_credential,
};
