/* aliyun: SMS through Aliyun's Dysmsapi SendSms (version 2017-05-25),
 * which sends only templates approved in the console: the request names
 * the signature (SignName), the template (TemplateCode) and its named
 * parameters (TemplateParam, a JSON object), never free text. It is an
 * RPC-style POST to {base_url}/ with the parameters in the query, signed
 * with the V3 scheme (sign.c, ACS3-HMAC-SHA256) over host and the x-acs-*
 * headers; OutId carries herald's message number and id (hx_out_id),
 * which the SmsReport push echoes. The answer's Code decides:
 *   OK accepted (the gateway id is BizId);
 *   Throttling.* (the account's API rate) throttled;
 *   isv.BUSINESS_LIMIT_CONTROL, the number's own limit (1 a minute, 5 an
 *     hour, 10 a day): temporary after the minute, hour or day its message
 *     names, not throttled: a pause of the whole provider would not lift
 *     it, and the message would come back every second without an attempt;
 *   isv.MOBILE_NUMBER_ILLEGAL, isv.MOBILE_COUNT_OVER_LIMIT permanent, bad address;
 *   isv.AMOUNT_NOT_ENOUGH, InvalidAccessKeyId.*, SignatureDoesNotMatch and
 *     the other refusals of the account: the provider is at fault and
 *     pauses (its messages wait, unsent, for a person to act);
 *   5xx, ServiceUnavailable, InternalError, no answer: temporary; and
 *     SignatureNonceUsed, which answers a request libcurl sent again by
 *     itself after a kept-alive connection dropped it (the same nonce):
 *     the first may have been sent, the next attempt signs anew;
 *   anything else (the template's or signature's errors) permanent with the code. */
#include "http_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "herald/sign.h"
#include "herald/sms.h"

#define ALIYUN_URL "https://dysmsapi.aliyuncs.com"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct ali {
    char *url;  /* {base_url}/ */
    char *host; /* the URL's host[:port], as signed and sent */
    char *key_id, *sign_name;
    const char *secret; /* borrowed */
};

static void ali_fini(void *pc)
{
    struct ali *a = pc;
    if (!a)
        return;
    free(a->url);
    free(a->host);
    free(a->key_id);
    free(a->sign_name);
    free(a);
}

static void param(struct hd_buf *q, const char *name, const char *value)
{
    if (q->len)
        hd_buf_addc(q, '&');
    hd_sign_pct(q, name);
    hd_buf_addc(q, '=');
    hd_sign_pct(q, value);
}

static int ali_build(void *pc, struct hx_req *q, struct hd_result *r)
{
    struct ali *a = pc;
    const struct hd_msg *m = q->m;
    if (!m->sms_template)
        return hx_refuse(r, m,
                         "aliyun_sms sends only approved templates: the template has no "
                         "sms.template_code");
    if (m->sms_params && m->sms_params[0] != '{')
        return hx_refuse(r, m,
                         "aliyun_sms takes named parameters: sms.params must be a JSON object");
    struct hd_buf query, auth;
    hd_buf_init(&query);
    hd_buf_init(&auth);
    /* sorted by name, as the canonical query is */
    char out_id[HX_OUT_ID_MAX];
    hx_out_id(m, out_id);
    param(&query, "OutId", out_id);
    param(&query, "PhoneNumbers", m->to);
    param(&query, "SignName", a->sign_name);
    param(&query, "TemplateCode", m->sms_template);
    if (m->sms_params)
        param(&query, "TemplateParam", m->sms_params);
    hd_buf_addc(&query, '\0');
    char date[32], nonce[37];
    time_t now = (time_t)hx_now();
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    hd_uuid(nonce);
    const struct hd_sign_hdr h[] = {{"host", a->host},
                                    {"x-acs-action", "SendSms"},
                                    {"x-acs-content-sha256", EMPTY_SHA256},
                                    {"x-acs-date", date},
                                    {"x-acs-signature-nonce", nonce},
                                    {"x-acs-version", "2017-05-25"}};
    hd_sign_acs3(&auth, a->key_id, a->secret, "POST", "/", query.data, h, 6, EMPTY_SHA256);
    hd_buf_addc(&auth, '\0');
    hd_buf_addf(&q->url, "%s?%s", a->url, query.data);
    int rc = 0;
    for (size_t i = 0; i < 6 && rc == 0; i++)
        rc = hx_header(q, i ? h[i].name : "Host", h[i].value);
    if (rc == 0)
        rc = hx_header(q, "Authorization", auth.data);
    hd_wipe(auth.data, auth.len);
    hd_buf_release(&auth);
    hd_buf_release(&query);
    if (rc < 0)
        return hx_refuse(r, m, "the request would hold a line break");
    return 0;
}

static int ali_finish(void *pc, struct hx *h, struct hx_req *q, long status, struct hd_result *r)
{
    (void)pc;
    (void)h;
    json_t *j = hx_json(q);
    const char *code = hx_jstr(j, "Code"), *msg = hx_jstr(j, "Message");
    char text[300];
    hx_copy_text(text, sizeof text, msg ? msg : "");
    if (!code)
        code = "";
    hd_sha256_hex(q->url.data, q->url.len, r->digest); /* what was sent is the query */
    int st = (int)status;
    if (status >= 200 && status < 300 && strcmp(code, "OK") == 0) {
        hd_result_set(r, HD_OUT_ACCEPTED, st, "OK%s%s", strcmp(text, "OK") ? " " : "",
                      strcmp(text, "OK") ? text : "");
        hx_copy_text(r->gateway_id, sizeof r->gateway_id, hx_jstr(j, "BizId"));
    } else if (strcmp(code, "isv.BUSINESS_LIMIT_CONTROL") == 0) {
        /* the number's own limit (1 a minute, 5 an hour, 10 a day by
         * default): this message waits, the provider does not */
        hd_result_set(r, HD_OUT_TEMPORARY, st, "%s %s", code, text);
        r->retry_after_ms = strstr(text, "天") ? 86400000 : strstr(text, "小时") ? 3600000 : 60000;
    } else if (hx_prefix(code, "Throttling")) {
        hd_result_set(r, HD_OUT_THROTTLED, st, "%s %s", code, text);
    } else if (strcmp(code, "isv.MOBILE_NUMBER_ILLEGAL") == 0 ||
               strcmp(code, "isv.MOBILE_COUNT_OVER_LIMIT") == 0) {
        hd_result_set(r, HD_OUT_PERMANENT, st, "%s %s", code, text);
        r->bad_address = true;
    } else if (strcmp(code, "isv.AMOUNT_NOT_ENOUGH") == 0) {
        hx_provider_fault(r, st, "%s the Aliyun account's balance is too low: top it up", code);
    } else if (hx_prefix(code, "InvalidAccessKeyId") ||
               strcmp(code, "SignatureDoesNotMatch") == 0 ||
               strcmp(code, "isv.ACCOUNT_NOT_EXISTS") == 0 ||
               strcmp(code, "isv.ACCOUNT_ABNORMAL") == 0 || hx_prefix(code, "Forbidden")) {
        hx_provider_fault(r, st, "%s %s", code, text);
    } else if (status >= 500 || status < 200 || strcmp(code, "ServiceUnavailable") == 0 ||
               strcmp(code, "SignatureNonceUsed") == 0 || hx_prefix(code, "InternalError") ||
               strcmp(code, "isp.SYSTEM_ERROR") == 0) {
        hd_result_set(r, HD_OUT_TEMPORARY, st, "HTTP %ld %s %s", status, code, text);
    } else {
        hd_result_set(r, HD_OUT_PERMANENT, st, "%s %s", code[0] ? code : "no Code", text);
    }
    json_decref(j);
    return 0;
}

static const struct hx_proto ali_proto = {
    .build = ali_build, .finish = ali_finish, .fini = ali_fini};

static int ali_init(const struct hd_provider_cfg *cfg, struct hd_log *log, void **conf,
                    struct hd_err *err)
{
    struct ali *a = hd_xcalloc(1, sizeof *a);
    const struct hd_cfg_secret *sec = hd_provider_secret(cfg, "access_key_secret");
    a->secret = sec ? sec->value : NULL;
    a->key_id = hd_xstrdup(hd_provider_get(cfg, "access_key_id"));
    a->sign_name = hd_xstrdup(hd_provider_get(cfg, "sign_name"));
    a->url = hx_url(hd_provider_get(cfg, "base_url"), ALIYUN_URL, "/");
    int rc = hx_host(a->url, &a->host, err);
    if (rc == 0 && (!a->key_id || !*a->key_id || !a->secret))
        rc = hd_err_set(err, HD_E_CONFIG,
                        "give access_key_id and access_key_secret_env or "
                        "access_key_secret_file");
    else if (rc == 0 && (!a->sign_name || !*a->sign_name))
        rc = hd_err_set(err, HD_E_CONFIG, "sign_name: give the approved signature (签名)");
    if (rc < 0) {
        ali_fini(a);
        return rc;
    }
    return hx_open(cfg, log, &ali_proto, a, 1, conf, err);
}

const struct hd_drv_ops hd_drv_aliyun_sms = {
    .type = "aliyun_sms",
    .channels = 1u << HD_CH_SMS,
    .sms_need = HD_SMS_NAMED,
    .sms_param_max = 35, /* a notification template's variable: 1 to 35 characters */
    .init = ali_init,
    .fini = hx_close,
    .loop = hx_loop,
    .wake = hx_wake,
    .loop_threads = hx_lanes,
};
