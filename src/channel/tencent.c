/* tencent: SMS through Tencent Cloud's SMS API 3.0, SendSms (version
 * 2021-01-11), which sends only templates approved in the console: the
 * request names the SDK app (SmsSdkAppId), the signature (SignName), the
 * template (TemplateId) and its parameters in order (TemplateParamSet, a
 * list of strings). A JSON POST to {base_url}/ signed with TC3-HMAC-SHA256
 * (sign.c) over content-type and host; SessionContext carries herald's
 * message number and id (hx_out_id), which the status callback echoes.
 * Tencent answers 200 with a Response object: an Error (the request
 * failed) or one SendStatusSet entry per number, whose Code decides:
 *   Ok accepted (the gateway id is SerialNo);
 *   LimitExceeded.PhoneNumber* (the number's own 30-second, hourly or
 *     daily limit) temporary after that long: pausing the provider would
 *     not lift it;
 *   the other LimitExceeded.* (the application's daily limits) and
 *     RequestLimitExceeded* (the API's rate) throttled;
 *   InvalidParameterValue.IncorrectPhoneNumber permanent, bad address;
 *   FailedOperation.PhoneNumberInBlacklist permanent, opted out (the
 *     recipient replied to unsubscribe);
 *   FailedOperation.InsufficientBalanceInSmsPackage, AuthFailure.*,
 *     UnauthorizedOperation.*: the provider is at fault and pauses;
 *   InternalError.*, 5xx, no answer temporary;
 *   anything else (template, signature, parameters) permanent with the code. */
#include "http_int.h"

#include <stdlib.h>
#include <string.h>

#include "herald/sign.h"
#include "herald/sms.h"

#define TENCENT_URL "https://sms.tencentcloudapi.com"
#define CTYPE "application/json; charset=utf-8"

struct tc {
    char *url, *host;
    char *secret_id, *app_id, *sign_name, *region;
    const char *secret_key; /* borrowed */
};

static void tc_fini(void *pc)
{
    struct tc *t = pc;
    if (!t)
        return;
    free(t->url);
    free(t->host);
    free(t->secret_id);
    free(t->app_id);
    free(t->sign_name);
    free(t->region);
    free(t);
}

static void member(struct hd_buf *b, const char *name, const char *value)
{
    hd_buf_addc(b, ',');
    hd_buf_add_json_str(b, name, strlen(name));
    hd_buf_addc(b, ':');
    hd_buf_add_json_str(b, value, strlen(value));
}

static int tc_build(void *pc, struct hx_req *q, struct hd_result *r)
{
    struct tc *t = pc;
    const struct hd_msg *m = q->m;
    if (!m->sms_template)
        return hx_refuse(r, m,
                         "tencent_sms sends only approved templates: the template has no "
                         "sms.template_code (the TemplateId)");
    if (m->sms_params && m->sms_params[0] != '[')
        return hx_refuse(r, m,
                         "tencent_sms takes parameters in order: sms.params must be a "
                         "list of strings");
    struct hd_buf *b = &q->body, auth;
    hd_buf_addc(b, '{');
    hd_buf_adds(b, "\"PhoneNumberSet\":[");
    hd_buf_add_json_str(b, m->to, strlen(m->to));
    hd_buf_addc(b, ']');
    member(b, "SmsSdkAppId", t->app_id);
    member(b, "SignName", t->sign_name);
    member(b, "TemplateId", m->sms_template);
    if (m->sms_params) {
        hd_buf_adds(b, ",\"TemplateParamSet\":");
        hd_buf_adds(b, m->sms_params); /* compact JSON text, rendered */
    }
    char ctx[HX_OUT_ID_MAX];
    hx_out_id(m, ctx);
    member(b, "SessionContext", ctx);
    hd_buf_addc(b, '}');
    int64_t now = hx_now();
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)now);
    hd_buf_init(&auth);
    hd_sign_tc3(&auth, t->secret_id, t->secret_key, "sms", t->host, CTYPE, now, b->data, b->len);
    hd_buf_addc(&auth, '\0');
    hd_buf_adds(&q->url, t->url);
    int rc = hx_header(q, "Host", t->host);
    rc |= hx_header(q, "Content-Type", CTYPE);
    rc |= hx_header(q, "X-TC-Action", "SendSms");
    rc |= hx_header(q, "X-TC-Version", "2021-01-11");
    rc |= hx_header(q, "X-TC-Timestamp", ts);
    rc |= hx_header(q, "X-TC-Region", t->region);
    rc |= hx_header(q, "Authorization", auth.data);
    hd_wipe(auth.data, auth.len);
    hd_buf_release(&auth);
    return rc < 0 ? hx_refuse(r, m, "the request would hold a line break") : 0;
}

/* r from Tencent's code (an Error's, or the number's SendStatus). */
static void classify(struct hd_result *r, int st, const char *code, const char *text)
{
    if (strcmp(code, "Ok") == 0) {
        hd_result_set(r, HD_OUT_ACCEPTED, st, "Ok %s", text);
    } else if (hx_prefix(code, "LimitExceeded.PhoneNumber")) {
        /* the number's own limit: this message waits, the provider does not */
        hd_result_set(r, HD_OUT_TEMPORARY, st, "%s %s", code, text);
        r->retry_after_ms = strstr(code, "ThirtySecond") ? 30000
                            : strstr(code, "OneHour")    ? 3600000
                            : strstr(code, "Daily")      ? 86400000
                                                         : 60000;
    } else if (hx_prefix(code, "LimitExceeded.") || hx_prefix(code, "RequestLimitExceeded")) {
        hd_result_set(r, HD_OUT_THROTTLED, st, "%s %s", code, text);
    } else if (strcmp(code, "InvalidParameterValue.IncorrectPhoneNumber") == 0) {
        hd_result_set(r, HD_OUT_PERMANENT, st, "%s %s", code, text);
        r->bad_address = true;
    } else if (strcmp(code, "FailedOperation.PhoneNumberInBlacklist") == 0) {
        hd_result_set(r, HD_OUT_PERMANENT, st, "%s %s", code, text);
        r->opted_out = true;
    } else if (strcmp(code, "FailedOperation.InsufficientBalanceInSmsPackage") == 0) {
        hx_provider_fault(r, st, "%s the Tencent Cloud SMS package is used up: buy more", code);
    } else if (hx_prefix(code, "AuthFailure") || hx_prefix(code, "UnauthorizedOperation")) {
        hx_provider_fault(r, st, "%s %s", code, text);
    } else if (hx_prefix(code, "InternalError") || st >= 500 || st < 200) {
        hd_result_set(r, HD_OUT_TEMPORARY, st, "HTTP %d %s %s", st, code, text);
    } else {
        hd_result_set(r, HD_OUT_PERMANENT, st, "%s %s", code[0] ? code : "no Code", text);
    }
}

static int tc_finish(void *pc, struct hx *h, struct hx_req *q, long status, struct hd_result *r)
{
    (void)pc;
    (void)h;
    json_t *j = hx_json(q), *resp = json_object_get(j, "Response");
    json_t *e = json_object_get(resp, "Error");
    json_t *s = json_array_get(json_object_get(resp, "SendStatusSet"), 0);
    const json_t *o = e ? e : s;
    const char *code = hx_jstr(o, "Code"), *msg = hx_jstr(o, "Message");
    char text[300];
    hx_copy_text(text, sizeof text, msg ? msg : "");
    classify(r, (int)status, code ? code : (status >= 500 ? "" : "no answer"), text);
    if (r->outcome == HD_OUT_ACCEPTED)
        hx_copy_text(r->gateway_id, sizeof r->gateway_id, hx_jstr(s, "SerialNo"));
    json_decref(j);
    return 0;
}

static const struct hx_proto tc_proto = {.build = tc_build, .finish = tc_finish, .fini = tc_fini};

static int tc_init(const struct hd_provider_cfg *cfg, struct hd_log *log, void **conf,
                   struct hd_err *err)
{
    struct tc *t = hd_xcalloc(1, sizeof *t);
    const struct hd_cfg_secret *sec = hd_provider_secret(cfg, "secret_key");
    const char *region = hd_provider_get(cfg, "region");
    t->secret_key = sec ? sec->value : NULL;
    t->secret_id = hd_xstrdup(hd_provider_get(cfg, "secret_id"));
    t->app_id = hd_xstrdup(hd_provider_get(cfg, "sdk_app_id"));
    t->sign_name = hd_xstrdup(hd_provider_get(cfg, "sign_name"));
    t->region = hd_xstrdup(region ? region : "ap-guangzhou");
    t->url = hx_url(hd_provider_get(cfg, "base_url"), TENCENT_URL, "/");
    int rc = hx_host(t->url, &t->host, err);
    if (rc == 0 && (!t->secret_id || !*t->secret_id || !t->secret_key))
        rc = hd_err_set(err, HD_E_CONFIG, "give secret_id and secret_key_env or secret_key_file");
    else if (rc == 0 && (!t->app_id || !*t->app_id || !t->sign_name || !*t->sign_name))
        rc = hd_err_set(err, HD_E_CONFIG,
                        "give sdk_app_id (the SMS application) and sign_name (签名)");
    if (rc < 0) {
        tc_fini(t);
        return rc;
    }
    return hx_open(cfg, log, &tc_proto, t, 1, conf, err);
}

const struct hd_drv_ops hd_drv_tencent_sms = {
    .type = "tencent_sms",
    .channels = 1u << HD_CH_SMS,
    .sms_need = HD_SMS_ORDERED,
    .init = tc_init,
    .fini = hx_close,
    .loop = hx_loop,
    .wake = hx_wake,
    .loop_threads = hx_lanes,
};
