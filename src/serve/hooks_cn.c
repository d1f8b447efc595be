/* hooks_cn: delivery reports from Aliyun and Tencent Cloud SMS (issue 24):
 * POST /hooks/aliyun/PROVIDER (Aliyun's SmsReport, HTTP batch push mode)
 * and /hooks/tencent/PROVIDER (Tencent's SMS status callback), each a JSON
 * array of reports.
 *
 * Neither gateway signs its callbacks, so the URL carries a secret: the
 * provider's callback_token, as the path's last part
 * (/hooks/aliyun/PROVIDER/TOKEN) or the query (?token=TOKEN), compared in
 * constant time when the headers are in; a provider without a token, a
 * wrong or missing token, and the body is never read. The body (bounded
 * by HOOK_CN_BODY_MAX) is then checked whole before anything is kept: a
 * report without its gateway id or status refuses the batch (400), so a
 * batch is never half kept. Each report goes through dispatch/receipt.c
 * in the gateway's own words (Aliyun's success as delivered/undelivered,
 * Tencent's SUCCESS/FAIL; the carrier's code and text): the message is
 * the one OutId or SessionContext names (the driver sends "N:UUID", N the
 * message's number), its accepted row must carry the gateway's id (BizId,
 * SerialNo). The answer is what each gateway expects, 200 only once every
 * report is committed; else 503 and the gateway pushes the batch again
 * (the receipts table makes a report sent twice one row). */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "herald/dispatch.h"
#include "serve_int.h"

/* The token the URL carries: the path's part after the provider, else
 * the query's token=; NULL when neither. */
static const char *url_token(const char *slash, const char *query, size_t *n)
{
    if (slash) {
        *n = strlen(slash + 1);
        return slash + 1;
    }
    for (const char *p = query; p && *p;) {
        if (strncmp(p, "token=", 6) == 0) {
            *n = strcspn(p + 6, "&");
            return p + 6;
        }
        if ((p = strchr(p, '&')) != NULL)
            p++;
    }
    return NULL;
}

static bool token_ok(const struct hd_provider_cfg *p, const char *tok, size_t n)
{
    const struct hd_cfg_secret *want = hd_provider_secret(p, "callback_token");
    return want && want->value && tok && n == want->len && n > 0 &&
           CRYPTO_memcmp(want->value, tok, n) == 0;
}

int hd_hook_cn_begin(struct hd_srv *s, const char *rest, const char *query, struct hd_hook *h,
                     struct hd_answer *a)
{
    bool ali = strncmp(rest, "aliyun/", 7) == 0;
    const char *name = rest + (ali ? 7 : 8), *slash = strchr(name, '/');
    size_t n = slash ? (size_t)(slash - name) : strlen(name), tn = 0;
    h->kind = ali ? HOOK_ALIYUN : HOOK_TENCENT;
    h->max = HOOK_CN_BODY_MAX;
    if (n == 0 || n >= sizeof h->provider || (slash && strchr(slash + 1, '/'))) {
        hd_hook_say(a, 404, "not found\n");
        return -1;
    }
    memcpy(h->provider, name, n);
    const struct hd_provider_cfg *p = hd_config_provider(s->cfg, h->provider);
    if (!p || strcmp(p->type, ali ? "aliyun_sms" : "tencent_sms") != 0) {
        hd_hook_say(a, 404, ali ? "no such Aliyun provider\n" : "no such Tencent provider\n");
        return -1;
    }
    if (!hd_provider_secret(p, "callback_token")) {
        hd_hook_say(a, 404, "the provider has no callback_token: herald takes no reports for it\n");
        return -1;
    }
    const char *tok = url_token(slash, query, &tn);
    if (!token_ok(p, tok, tn)) {
        hd_hook_say(a, 403, "forbidden: the URL's token is not the provider's callback_token\n");
        return -1;
    }
    return 0;
}

/* ---- the reports ------------------------------------------------------------------------ */

static const char *str(json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

/* The message number OutId or SessionContext names ("N:UUID" or "N"), or 0. */
static int64_t message_of(const char *id)
{
    char *end;
    long long v = id ? strtoll(id, &end, 10) : 0;
    return id && v > 0 && (*end == '\0' || *end == ':') ? (int64_t)v : 0;
}

/* "YYYY-MM-DD HH:MM:SS" in China Standard Time (UTC+8, no daylight
 * saving since 1991) as UTC milliseconds, or 0. */
static int64_t cst_ms(const char *s)
{
    int y, mo, d, hh, mi, ss;
    if (!s || sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d", &y, &mo, &d, &hh, &mi, &ss) != 6 || mo < 1 ||
        mo > 12 || d < 1 || d > 31 || hh > 23 || mi > 59 || ss > 60)
        return 0;
    /* days from the civil date (Howard Hinnant's algorithm) */
    y -= mo <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400, mp = (mo + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1, doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return ((days * 86400 + hh * 3600 + mi * 60 + ss) - 8 * 3600) * 1000;
}

/* Tencent's context: ext as a string, or an object with SessionContext. */
static const char *tencent_context(json_t *o)
{
    json_t *ext = json_object_get(o, "ext");
    if (json_is_string(ext))
        return json_string_value(ext);
    const char *c = str(ext, "SessionContext");
    return c ? c : str(o, "session_context");
}

/* One report in the gateway's words: 0, or -1 when it lacks what it needs. */
static int report_of(const struct hd_hook *h, json_t *o, struct hd_receipt *r)
{
    memset(r, 0, sizeof *r);
    r->provider = h->provider;
    if (h->kind == HOOK_ALIYUN) {
        json_t *ok = json_object_get(o, "success");
        r->gateway_id = str(o, "biz_id");
        r->status = json_is_boolean(ok) ? (json_is_true(ok) ? "delivered" : "undelivered") : NULL;
        r->code = str(o, "err_code");
        r->reason = str(o, "err_msg");
        r->message = message_of(str(o, "out_id"));
        r->gateway_ms = cst_ms(str(o, "report_time"));
    } else {
        r->gateway_id = str(o, "sid");
        r->status = str(o, "report_status");
        r->code = str(o, "errmsg");
        r->reason = str(o, "description");
        r->message = message_of(tencent_context(o));
        r->gateway_ms = cst_ms(str(o, "user_receive_time"));
    }
    if (r->code && !*r->code)
        r->code = NULL;
    if (r->reason && !*r->reason)
        r->reason = NULL;
    return r->gateway_id && *r->gateway_id && r->status && *r->status ? 0 : -1;
}

json_t *hd_hook_cn_batch(const struct hd_hook *h, char *why, size_t size)
{
    json_error_t je;
    json_t *j = json_loadb(h->body.data ? h->body.data : "", h->body.len, 0, &je);
    struct hd_receipt r;
    if (!json_is_array(j)) {
        snprintf(why, size, "the body is not a JSON array of reports\n");
        json_decref(j);
        return NULL;
    }
    for (size_t i = 0; i < json_array_size(j); i++)
        if (report_of(h, json_array_get(j, i), &r) < 0) {
            snprintf(why, size, "report %zu: %s are required\n", i + 1,
                     h->kind == HOOK_ALIYUN ? "biz_id and success" : "sid and report_status");
            json_decref(j);
            return NULL;
        }
    return j;
}

/* Every report kept (each in its own transaction): the number applied at
 * once in *applied; HD_E_* when one could not be kept. */
static int keep(struct hd_srv *s, const struct hd_hook *h, json_t *j, int64_t *applied,
                struct hd_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    struct hd_store *st = hd_srv_store(s, err);
    struct hd_receipt_ctx c = hd_srv_receipt_ctx(s, st);
    int64_t now = hd_clock_now_ms(s->clock);
    *applied = 0;
    for (size_t i = 0; st && rc == 0 && i < json_array_size(j); i++) {
        struct hd_receipt r;
        int result = 0;
        report_of(h, json_array_get(j, i), &r);
        r.received_ms = now;
        if ((rc = hd_receipt_take(&c, &r, now, &result, err)) == 0 && result == HD_RCPT_APPLIED)
            ++*applied;
    }
    if (!st)
        rc = HD_E_STORE;
    if (rc < 0)
        hd_log_error(s->log, "serve: a report to '%s' was not kept: %s", h->provider, err->msg);
    else
        hd_log_info(s->log, "serve: %zu report%s to '%s' kept, %lld applied", json_array_size(j),
                    json_array_size(j) == 1 ? "" : "s", h->provider, (long long)*applied);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void hd_hook_cn_post(struct hd_srv *s, struct hd_hook *h, struct hd_answer *a)
{
    char why[160];
    struct hd_err err = {0};
    int64_t applied = 0;
    if (h->too_long) {
        hd_hook_say(a, 413, "request body too large\n");
        return;
    }
    json_t *j = hd_hook_cn_batch(h, why, sizeof why);
    if (!j) {
        hd_hook_say(a, 400, why);
        return;
    }
    if (keep(s, h, j, &applied, &err) < 0) {
        hd_hook_say(a, 503, "not kept: try again\n");
    } else {
        /* what each gateway wants back: Aliyun {code, msg}, Tencent {result, errmsg} */
        hd_hook_say(a, 200,
                    h->kind == HOOK_ALIYUN ? "{\"code\":0,\"msg\":\"接收成功\"}\n"
                                           : "{\"result\":0,\"errmsg\":\"OK\"}\n");
        a->type = "application/json";
    }
    json_decref(j);
}
