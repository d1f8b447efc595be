/* twilio: SMS through Twilio's Messages API (and gateways that copy it).
 * POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json, a form
 * with To, From or MessagingServiceSid, Body and StatusCallback (with the
 * message's number added to its query as m=N), HTTP Basic
 * auth with the account SID and auth token. The message id also goes as
 * I-Twilio-Idempotency-Token, for a proxy or a log to match; the Messages
 * API does not document it and does not de-duplicate by it. A Body that is
 * empty or over the 1,600 characters Twilio accepts is refused unsent
 * (permanent). Classes:
 *   2xx accepted (the gateway id is the message's sid),
 *   429 or error 20429 throttled (Retry-After honoured),
 *   21211 invalid To: permanent, bad address,
 *   21610 the recipient replied STOP: permanent, opted out,
 *   5xx temporary, any other 4xx permanent. */
#include "http_int.h"

#include <stdlib.h>
#include <string.h>

#define TWILIO_URL "https://api.twilio.com"

struct tw {
    char *url; /* the whole Messages.json URL */
    char *sid;
    const char *token; /* borrowed secret */
    char *auth;        /* the Authorization header's value (hx_basic) */
    char *from, *service, *callback;
};

static void tw_fini(void *pc)
{
    struct tw *t = pc;
    if (!t)
        return;
    free(t->url);
    free(t->sid);
    free(t->from);
    free(t->service);
    free(t->callback);
    if (t->auth)
        hd_wipe(t->auth, strlen(t->auth));
    free(t->auth);
    free(t);
}

static void field(struct hd_buf *b, const char *name, const char *value)
{
    if (!value)
        return;
    if (b->len)
        hd_buf_addc(b, '&');
    hd_buf_adds(b, name);
    hd_buf_addc(b, '=');
    hd_buf_add_form(b, value, strlen(value));
}

#define TWILIO_MAX_CHARS 1600

/* Unicode characters in UTF-8 text: the bytes that do not continue one. */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int tw_build(void *pc, struct hx_req *q, struct hd_result *r)
{
    struct tw *t = pc;
    size_t n = chars(q->m->body ? q->m->body : "");
    if (n == 0 || n > TWILIO_MAX_CHARS) {
        hd_result_init(r, q->m);
        if (n == 0)
            hd_result_set(r, HD_OUT_PERMANENT, 0, "the SMS is empty");
        else
            hd_result_set(r, HD_OUT_PERMANENT, 0, "the SMS is %zu characters, over the %d %s", n,
                          TWILIO_MAX_CHARS, "Twilio accepts");
        return -1;
    }
    hd_buf_adds(&q->url, t->url);
    field(&q->body, "To", q->m->to);
    if (t->service)
        field(&q->body, "MessagingServiceSid", t->service);
    else
        field(&q->body, "From", t->from);
    field(&q->body, "Body", q->m->body ? q->m->body : "");
    if (t->callback) {
        /* the message's number, so the report finds it without a lookup
         * by Twilio's sid (which would need an index on a random key) */
        char url[2300];
        snprintf(url, sizeof url, "%.2000s%cm=%lld", t->callback,
                 strchr(t->callback, '?') ? '&' : '?', (long long)q->m->ref);
        field(&q->body, "StatusCallback", q->m->ref ? url : t->callback);
    }
    hx_header(q, "I-Twilio-Idempotency-Token", q->m->id);
    hx_header(q, "Authorization", t->auth);
    return 0;
}

static int tw_finish(void *pc, struct hx *h, struct hx_req *q, long status, struct hd_result *r)
{
    (void)pc;
    (void)h;
    json_t *j = hx_json(q);
    /* an error response says code/message; a message resource error_code/error_message */
    json_t *c = json_object_get(j, "code");
    if (!json_is_integer(c))
        c = json_object_get(j, "error_code");
    long code = json_is_integer(c) ? (long)json_integer_value(c) : 0;
    const char *msg = hx_jstr(j, "message");
    if (!msg)
        msg = hx_jstr(j, "error_message");
    const char *mstatus = hx_jstr(j, "status");
    json_t *seg = json_object_get(j, "num_segments");
    const char *segs = json_string_value(seg); /* Twilio sends it as a string */
    long nseg = segs                   ? strtol(segs, NULL, 10)
                : json_is_integer(seg) ? (long)json_integer_value(seg)
                                       : 0;
    char text[300];
    hx_copy_text(text, sizeof text, msg ? msg : "");
    if (status >= 200 && status < 300 && !code) {
        hd_result_set(r, HD_OUT_ACCEPTED, (int)status, "%s, %ld segment%s",
                      mstatus ? mstatus : "accepted", nseg, nseg == 1 ? "" : "s");
        hx_copy_text(r->gateway_id, sizeof r->gateway_id, hx_jstr(j, "sid"));
    } else if (status == 429 || code == 20429) {
        hd_result_set(r, HD_OUT_THROTTLED, (int)status, "%ld %s", code, text);
    } else if (code == 21211) {
        hd_result_set(r, HD_OUT_PERMANENT, (int)status, "%ld %s", code, text);
        r->bad_address = true;
    } else if (code == 21610) {
        hd_result_set(r, HD_OUT_PERMANENT, (int)status, "%ld %s", code, text);
        r->opted_out = true;
    } else if (status >= 500 || status < 200) {
        hd_result_set(r, HD_OUT_TEMPORARY, (int)status, "HTTP %ld %ld %s", status, code, text);
    } else {
        hd_result_set(r, HD_OUT_PERMANENT, (int)status, "%ld %s", code, text);
    }
    json_decref(j);
    return 0;
}

static const struct hx_proto tw_proto = {.build = tw_build, .finish = tw_finish, .fini = tw_fini};

static bool plain_id(const char *s)
{
    for (; s && *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

static int tw_init(const struct hd_provider_cfg *cfg, struct hd_log *log, void **conf,
                   struct hd_err *err)
{
    struct tw *t = hd_xcalloc(1, sizeof *t);
    const struct hd_cfg_secret *tok = hd_provider_secret(cfg, "auth_token");
    t->sid = hd_xstrdup(hd_provider_get(cfg, "account_sid"));
    t->token = tok ? tok->value : NULL;
    t->from = hd_xstrdup(hd_provider_get(cfg, "from"));
    t->service = hd_xstrdup(hd_provider_get(cfg, "messaging_service_sid"));
    t->callback = hd_xstrdup(hd_provider_get(cfg, "status_callback"));
    t->url = hx_url(hd_provider_get(cfg, "base_url"), TWILIO_URL,
                    "/2010-04-01/Accounts/%s/Messages.json", t->sid ? t->sid : "");
    int rc = 0;
    if (!t->sid || !*t->sid || !plain_id(t->sid))
        rc = hd_err_set(err, HD_E_CONFIG, "account_sid: give the account SID (letters and digits)");
    else if (!t->token)
        rc = hd_err_set(err, HD_E_CONFIG, "give auth_token_env or auth_token_file");
    else if (!t->from && !t->service)
        rc = hd_err_set(err, HD_E_CONFIG, "give from (a number) or messaging_service_sid");
    else if (t->service && !plain_id(t->service))
        rc = hd_err_set(err, HD_E_CONFIG, "messaging_service_sid: letters and digits only");
    if (rc < 0) {
        tw_fini(t);
        return rc;
    }
    t->auth = hx_basic(t->sid, t->token);
    return hx_open(cfg, log, &tw_proto, t, 1, conf, err);
}

const struct hd_drv_ops hd_drv_twilio = {
    .type = "twilio",
    .channels = 1u << HD_CH_SMS,
    .sms_max_chars = TWILIO_MAX_CHARS,
    .init = tw_init,
    .fini = hx_close,
    .loop = hx_loop,
    .wake = hx_wake,
    .loop_threads = hx_lanes,
};
