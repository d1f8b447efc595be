/* hooks: gateways calling back (issue 19): POST /hooks/twilio/PROVIDER
 * (Twilio's StatusCallback: a message's status) and
 * /hooks/twilio/PROVIDER/inbound (a reply to one of our numbers).
 *
 * Authentication comes first: when the headers are in, the path must name
 * a configured Twilio provider and X-Twilio-Signature must be there, else
 * the body is never read; once the body is in (bounded by HOOK_BODY_MAX),
 * the signature is checked before anything of the body is used. Twilio
 * signs the URL it was given (public_url and the path, query included:
 * never the Host header, which a proxy changes) followed by each POST
 * parameter's name and value, sorted by name, with HMAC-SHA1 keyed by the
 * account's auth token, in base64; the comparison takes constant time.
 * A status is kept through dispatch/receipt.c and 200 is answered only
 * once it is committed: Twilio retries what did not get a 2xx, and the
 * receipts table makes a retry one row. Aliyun's and Tencent's reports
 * (/hooks/aliyun/, /hooks/tencent/) are hooks_cn.c's: hd_hook_begin and
 * hd_hook_post hand them over, as they do a mail sender's events to
 * hooks_esp.c. A signed, whole Twilio status callback is handed back to
 * the server, which queues it for clicks.c's group commit (hd_hook_look
 * and hd_hook_keep inside the batch's transaction, hd_hook_kept for the
 * answer); a reply to
 * a number is rare and kept at once (hd_hook_take). */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "herald/dispatch.h"
#include "herald/form.h"
#include "serve_int.h"

void hd_hook_say(struct hd_answer *a, int status, const char *msg)
{
    a->status = status;
    a->type = "text/plain; charset=utf-8";
    hd_buf_init(&a->body);
    hd_buf_adds(&a->body, msg);
}

struct hd_receipt_ctx hd_srv_receipt_ctx(struct hd_srv *s, struct hd_store *st)
{
    return (struct hd_receipt_ctx){.st = st,
                                   .cfg = s->cfg,
                                   .soft_bounce_limit = (int)s->cfg->receipts.soft_bounce_limit,
                                   .soft_bounce_window = s->cfg->receipts.soft_bounce_window};
}

/* The message number a callback URL's query names (m=N, put there by the
 * driver), or 0. */
static int64_t query_message(const char *query)
{
    for (const char *p = query; p && *p;) {
        if (strncmp(p, "m=", 2) == 0) {
            char *end;
            long long v = strtoll(p + 2, &end, 10);
            return v > 0 && (*end == '\0' || *end == '&') ? (int64_t)v : 0;
        }
        if ((p = strchr(p, '&')) != NULL)
            p++;
    }
    return 0;
}

int hd_hook_begin(struct hd_srv *s, const char *rest, const char *query, const char *signature,
                  struct hd_hook *h, struct hd_answer *a)
{
    memset(h, 0, sizeof *h);
    hd_buf_init(&h->body);
    h->max = HOOK_BODY_MAX;
    if (strncmp(rest, "aliyun/", 7) == 0 || strncmp(rest, "tencent/", 8) == 0)
        return hd_hook_cn_begin(s, rest, query, h, a);
    if (strncmp(rest, "twilio/", 7) != 0) {
        hd_hook_say(a, 404, "not found\n");
        return -1;
    }
    const char *name = rest + 7, *slash = strchr(name, '/');
    size_t n = slash ? (size_t)(slash - name) : strlen(name);
    h->inbound = slash && strcmp(slash, "/inbound") == 0;
    if (n == 0 || n >= sizeof h->provider || (slash && !h->inbound)) {
        hd_hook_say(a, 404, "not found\n");
        return -1;
    }
    memcpy(h->provider, name, n);
    const struct hd_provider_cfg *p = hd_config_provider(s->cfg, h->provider);
    if (!p || strcmp(p->type, "twilio") != 0) {
        hd_hook_say(a, 404, "no such Twilio provider\n");
        return -1;
    }
    if (!s->cfg->serve.public_url) {
        hd_hook_say(a, 503,
                    "[serve] public_url is not set: herald cannot check Twilio's signature\n");
        return -1;
    }
    if (!signature || !*signature || strlen(signature) >= sizeof h->signature) {
        hd_hook_say(a, 403, "forbidden: no valid X-Twilio-Signature\n");
        return -1;
    }
    hd_strcpy_cut(h->signature, sizeof h->signature, signature); /* fits: checked above */
    h->message = query_message(query);
    snprintf(h->url, sizeof h->url, "%s/hooks/%s%s%s", s->cfg->serve.public_url, rest,
             query && *query ? "?" : "", query ? query : "");
    return 0;
}

void hd_hook_release(struct hd_hook *h)
{
    if (!h)
        return;
    hd_buf_release(&h->body);
    if (h->parsed)
        hd_form_release(&h->form);
}

static bool signed_ok(struct hd_srv *s, const struct hd_hook *h, const struct hd_form *f)
{
    const struct hd_provider_cfg *p = hd_config_provider(s->cfg, h->provider);
    const struct hd_cfg_secret *tok = p ? hd_provider_secret(p, "auth_token") : NULL;
    char want[HD_TWILIO_SIG_MAX];
    if (!tok || !tok->value)
        return false;
    size_t i = (size_t)(p - s->cfg->providers);
    hd_form_twilio_signature_key(i < s->ntwilio_keys ? &s->twilio_keys[i] : NULL, tok->value,
                                 tok->len, h->url, f, want);
    size_t n = strlen(want);
    bool ok = strlen(h->signature) == n && CRYPTO_memcmp(want, h->signature, n) == 0;
    OPENSSL_cleanse(want, sizeof want);
    return ok;
}

/* A status callback's sid and status (Twilio's older names too); false
 * without them. */
static bool status_fields(const struct hd_form *f, const char **sid, const char **status)
{
    *sid = hd_form_get(f, "MessageSid");
    *status = hd_form_get(f, "MessageStatus");
    if (!*sid)
        *sid = hd_form_get(f, "SmsSid");
    if (!*status)
        *status = hd_form_get(f, "SmsStatus");
    return *sid && **sid && *status && **status;
}

/* The report a status callback makes (MessageSid, MessageStatus,
 * ErrorCode and, when Twilio gives them, ErrorMessage; RawDlrDoneDate is
 * not parsed), received at now; false without a sid and a status. */
static bool status_receipt(const struct hd_hook *h, const struct hd_form *f, int64_t now,
                           struct hd_receipt *r)
{
    const char *sid, *status;
    if (!status_fields(f, &sid, &status))
        return false;
    const char *code = hd_form_get(f, "ErrorCode");
    *r = (struct hd_receipt){.provider = h->provider,
                             .message = h->message,
                             .gateway_id = sid,
                             .status = status,
                             .code = code && *code ? code : NULL,
                             .reason = hd_form_get(f, "ErrorMessage"),
                             .received_ms = now};
    return true;
}

/* A status callback in its own transaction (own), or in the caller's,
 * its message looked up already when h->looked. */
static int status_post(struct hd_srv *s, struct hd_store *st, const struct hd_hook *h,
                       const struct hd_form *f, bool own, int *result, struct hd_err *err)
{
    struct hd_receipt r;
    int64_t now = hd_clock_now_ms(s->clock);
    if (!status_receipt(h, f, now, &r))
        return hd_err_set(err, HD_E_PARSE, "MessageSid and MessageStatus are required");
    struct hd_receipt_ctx c = hd_srv_receipt_ctx(s, st);
    if (own)
        return hd_receipt_take(&c, &r, now, result, err);
    return h->looked ? hd_receipt_keep_found(&c, &r, &h->found, now, result, err)
                     : hd_receipt_keep(&c, &r, now, result, err);
}

static int inbound_post(struct hd_srv *s, struct hd_store *st, const struct hd_form *f, int *what,
                        int64_t *n, struct hd_err *err)
{
    struct hd_receipt_ctx c = {.st = st, .cfg = s->cfg};
    return hd_receipt_reply(&c, hd_form_get(f, "From"), hd_form_get(f, "Body"),
                            hd_clock_now_ms(s->clock), what, n, err);
}

/* What a kept (or refused) callback is answered. */
static void answer_kept(const struct hd_hook *h, int rc, int result, const struct hd_err *err,
                        struct hd_answer *a)
{
    if (rc == HD_E_PARSE || rc == HD_E_INVALID) {
        hd_hook_say(a, 400, err->msg);
        hd_buf_addc(&a->body, '\n');
    } else if (rc < 0) {
        hd_hook_say(a, 503, "not kept: try again\n");
    } else if (h->inbound) {
        /* TwiML with nothing to do: herald sends no reply of its own */
        hd_hook_say(a, 200, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>\n");
        a->type = "text/xml; charset=utf-8";
    } else {
        hd_hook_say(a, 200,
                    result == HD_RCPT_DUPLICATE ? "duplicate\n"
                    : result == HD_RCPT_PENDING ? "pending\n"
                                                : "ok\n");
    }
}

void hd_hook_take(struct hd_srv *s, const struct hd_hook *h, struct hd_answer *a)
{
    struct hd_err err = {0};
    int result = 0, what = 0, rc;
    int64_t n = 0;
    pthread_mutex_lock(&s->mu);
    struct hd_store *st = hd_srv_store(s, &err);
    rc = !st          ? HD_E_STORE
         : h->inbound ? inbound_post(s, st, &h->form, &what, &n, &err)
                      : status_post(s, st, h, &h->form, true, &result, &err);
    if (rc < 0 && rc != HD_E_PARSE && rc != HD_E_INVALID)
        hd_log_error(s->log, "serve: a Twilio callback to '%s' was not kept: %s", h->provider,
                     err.msg);
    else if (rc == 0 && what)
        hd_log_info(s->log,
                    "serve: an SMS reply opted %lld contact%s %s SMS marketing (provider "
                    "'%s')",
                    (long long)n, n == 1 ? "" : "s", what == 1 ? "out of" : "back into",
                    h->provider);
    pthread_mutex_unlock(&s->mu);
    answer_kept(h, rc, result, &err, a);
}

int hd_hook_look(struct hd_srv *s, struct hd_store *st, struct hd_hook *h, struct hd_err *err)
{
    struct hd_receipt r;
    h->looked = false;
    if (!status_receipt(h, &h->form, 0, &r)) /* hd_hook_keep says why */
        return 0;
    struct hd_receipt_ctx c = hd_srv_receipt_ctx(s, st);
    int rc = hd_receipt_look(&c, &r, &h->found, err);
    h->looked = rc == 0;
    return rc;
}

int hd_hook_keep(struct hd_srv *s, struct hd_store *st, const struct hd_hook *h, int *result,
                 struct hd_err *err)
{
    return status_post(s, st, h, &h->form, false, result, err);
}

void hd_hook_kept(const struct hd_hook *h, int rc, int result, struct hd_answer *a)
{
    struct hd_err err = {0};
    answer_kept(h, rc, result, &err, a);
}

bool hd_hook_post(struct hd_srv *s, struct hd_hook *h, struct hd_answer *a)
{
    struct hd_err err = {0};
    const char *sid, *status;
    if (h->esp) {
        hd_esp_post(s, h, a);
        return false;
    }
    if (h->kind == HOOK_HTTP) {
        hd_hook_http_post(s, h, a);
        return false;
    }
    if (h->kind != HOOK_TWILIO) {
        hd_hook_cn_post(s, h, a);
        return false;
    }
    if (h->too_long) {
        hd_hook_say(a, 413, "request body too large\n");
        return false;
    }
    if (hd_form_collect(h->body.data ? h->body.data : "", h->body.len, &h->form, &err) < 0) {
        hd_hook_say(a, 400, "the body is not application/x-www-form-urlencoded\n");
        return false;
    }
    h->parsed = true;
    if (!signed_ok(s, h, &h->form)) {
        hd_hook_say(a, 403, "forbidden: X-Twilio-Signature does not match\n");
        return false;
    }
    if (h->inbound) {
        hd_hook_take(s, h, a);
        return false;
    }
    if (!status_fields(&h->form, &sid, &status)) {
        hd_hook_say(a, 400, "MessageSid and MessageStatus are required\n");
        return false;
    }
    return true; /* signed and whole: the caller has it kept */
}

void hd_hooks_retry(struct hd_srv *s)
{
    struct hd_err err = {0};
    int64_t n = 0;
    pthread_mutex_lock(&s->mu);
    /* the store opened here if no request has yet: after a restart, the
     * reports kept pending before it wait for their messages too (a
     * review found them waiting for the next request); one that does not
     * open is /readyz's to tell, not a warning a second */
    struct hd_store *st = hd_srv_store(s, &err);
    struct hd_receipt_ctx c = hd_srv_receipt_ctx(s, st);
    if (st && hd_receipts_retry(&c, hd_clock_now_ms(s->clock), &n, &err) < 0)
        hd_log_warn(s->log, "serve: pending receipts: %s", err.msg);
    else if (n > 0)
        hd_log_info(s->log, "serve: %lld pending receipt%s applied: %s message%s appeared",
                    (long long)n, n == 1 ? "" : "s", n == 1 ? "its" : "their", n == 1 ? "" : "s");
    pthread_mutex_unlock(&s->mu);
}
