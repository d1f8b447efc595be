/* hooks_http: delivery reports from a generic HTTP gateway (issue 19):
 * POST /hooks/http/PROVIDER, where PROVIDER is an http provider whose
 * receipt_* keys (core/config_receipt.c) say how its gateway reports.
 *
 * Authentication comes first. When the headers are in, the provider must
 * have receipt_secret, the signature and timestamp headers must be there,
 * and the timestamp (Unix seconds) within receipt_tolerance of now: an old
 * request replayed is refused (403) before its body is read. Once the body
 * is in (bounded by HOOK_CN_BODY_MAX, gateways batch), the signature, hex
 * or base64 HMAC-SHA256 keyed by the secret over timestamp "." body, is
 * compared in constant time before anything of the body is used (403).
 * The body is then read whole (hd_http_batch_read: one report, a form or
 * a JSON object, or a JSON array of them; RFC 6901 pointers or field
 * names find each field), and a report without a status or without both
 * ids refuses the batch (400), so a batch is never half kept. Each report
 * is kept through dispatch/receipt.c in the gateway's own word (its
 * meaning, through receipt_status_map, is computed when it is applied):
 * the message is the one herald's ref ("N:UUID", the driver's {{ref}})
 * names, else the one the gateway's id was recorded for at send time;
 * unknown, the report stays pending. 200 is answered only once every
 * report is committed; a repeat is the same row (provider, gateway id and
 * status are unique; a report with a ref alone is keyed by the ref). */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

#include "herald/dispatch.h"
#include "herald/json.h"
#include "serve_int.h"

bool hd_hook_http_route(const char *rest)
{
    return strncmp(rest, "http/", 5) == 0;
}

/* The timestamp header: Unix seconds, within the tolerance of now. */
static bool fresh(struct hd_srv *s, const struct hd_http_receipt *rc, const char *ts)
{
    char *end;
    long long t = strtoll(ts, &end, 10);
    int64_t now = hd_clock_now_ms(s->clock) / 1000;
    return *ts && *end == '\0' && t > 0 && llabs((long long)now - t) <= rc->tolerance;
}

int hd_hook_http_begin(struct hd_srv *s, const char *rest, hd_header_fn header, void *ud,
                       struct hd_hook *h, struct hd_answer *a)
{
    memset(h, 0, sizeof *h);
    hd_buf_init(&h->body);
    h->kind = HOOK_HTTP;
    h->max = HOOK_CN_BODY_MAX;
    const char *name = rest + 5;
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof h->provider || strchr(name, '/')) {
        hd_hook_say(a, 404, "not found\n");
        return -1;
    }
    memcpy(h->provider, name, n);
    const struct hd_provider_cfg *p = hd_config_provider(s->cfg, h->provider);
    if (!p || strcmp(p->type, "http") != 0 || !p->receipt) {
        hd_hook_say(a, 404,
                    "no http provider of that name with receipt_secret: herald takes no "
                    "reports for it\n");
        return -1;
    }
    const char *sig = header(ud, p->receipt->sig_header), *ts = header(ud, p->receipt->ts_header);
    if (!sig || !ts || !*sig || strlen(sig) >= sizeof h->auth || strlen(ts) >= sizeof h->stamp) {
        hd_hook_say(a, 403, "forbidden: the signature or timestamp header is missing\n");
        return -1;
    }
    if (!fresh(s, p->receipt, ts)) {
        hd_hook_say(a, 403, "forbidden: the timestamp is not within receipt_tolerance of now\n");
        return -1;
    }
    snprintf(h->auth, sizeof h->auth, "%s", sig);
    snprintf(h->stamp, sizeof h->stamp, "%s", ts);
    return 0;
}

/* HMAC-SHA256(secret, stamp "." body) in the provider's encoding, equal to
 * what was sent (hex in either case, an optional "sha256=" before it). */
static bool signed_ok(const struct hd_provider_cfg *p, const struct hd_hook *h)
{
    const struct hd_cfg_secret *key = hd_provider_secret(p, "receipt_secret");
    unsigned char md[32];
    char want[96];
    const char *got = h->auth;
    if (!key || !key->value)
        return false;
    if (strncmp(got, "sha256=", 7) == 0)
        got += 7;
    /* one HMAC over stamp "." body, without copying a body of up to 512 KiB */
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    size_t mdl = 0;
    bool ok = c && EVP_MAC_init(c, (const unsigned char *)key->value, key->len, params) == 1 &&
              EVP_MAC_update(c, (const unsigned char *)h->stamp, strlen(h->stamp)) == 1 &&
              EVP_MAC_update(c, (const unsigned char *)".", 1) == 1 &&
              EVP_MAC_update(c, (const unsigned char *)(h->body.data ? h->body.data : ""),
                             h->body.len) == 1 &&
              EVP_MAC_final(c, md, &mdl, sizeof md) == 1 && mdl == sizeof md;
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(mac);
    size_t wl = 0;
    if (ok && p->receipt->base64) {
        wl = (size_t)EVP_EncodeBlock((unsigned char *)want, md, (int)sizeof md);
    } else if (ok) {
        for (unsigned i = 0; i < sizeof md; i++)
            snprintf(want + 2 * i, 3, "%02x", md[i]);
        wl = 64;
    }
    char low[96] = "";
    size_t gl = strlen(got);
    for (size_t i = 0; gl < sizeof low && i < gl; i++) /* hex in capitals is the same */
        low[i] = p->receipt->base64 || got[i] < 'A' || got[i] > 'F' ? got[i] : (char)(got[i] + 32);
    ok = ok && gl == wl && CRYPTO_memcmp(want, low, wl) == 0;
    OPENSSL_cleanse(md, sizeof md);
    OPENSSL_cleanse(want, sizeof want);
    return ok;
}

/* ---- the body ---------------------------------------------------------------------------- */

int64_t hd_http_ref_message(const char *ref)
{
    char *end;
    long long v = ref && *ref >= '0' && *ref <= '9' ? strtoll(ref, &end, 10) : 0;
    return v > 0 && (*end == '\0' || *end == ':') ? (int64_t)v : 0;
}

/* A field of a JSON report: a non-empty string, or an integer written
 * into buf (a status may be a number: 0, 1, 2), NULL otherwise. */
static const char *jfield(json_t *o, const char *ptr, char *buf, size_t n)
{
    json_t *v = ptr ? hd_json_pointer(o, ptr) : NULL;
    if (json_is_integer(v)) {
        snprintf(buf, n, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    const char *t = json_string_value(v);
    return t && *t ? t : NULL;
}

static const char *ffield(const struct hd_form *f, const char *name)
{
    const char *t = name ? hd_form_get(f, name) : NULL;
    return t && *t ? t : NULL;
}

static void json_report(const struct hd_http_receipt *rc, json_t *o, struct hd_http_report *r)
{
    r->id = jfield(o, rc->id, r->buf[0], sizeof r->buf[0]);
    r->ref = jfield(o, rc->ref, r->buf[1], sizeof r->buf[1]);
    r->status = jfield(o, rc->status, r->buf[3], sizeof r->buf[3]);
    r->code = jfield(o, rc->code, r->buf[2], sizeof r->buf[2]);
    r->reason = jfield(o, rc->reason, NULL, 0);
}

/* The reports of a JSON body: an object, or an array of objects. */
static int json_reports(const struct hd_http_receipt *rc, const char *body, size_t len,
                        struct hd_http_batch *b, char *why, size_t n)
{
    b->doc = json_loadb(body, len, 0, NULL);
    size_t count = json_is_array(b->doc) ? json_array_size(b->doc) : 1;
    if (!json_is_object(b->doc) && !json_is_array(b->doc)) {
        snprintf(why, n, "the body is not a JSON object or array of reports");
        return -1;
    }
    if (count == 0 || count > HTTP_REPORTS_MAX) {
        snprintf(why, n, "a batch holds 1 to %d reports", HTTP_REPORTS_MAX);
        return -1;
    }
    b->v = hd_xcalloc(count, sizeof *b->v);
    for (b->n = 0; b->n < count; b->n++) {
        json_t *o = json_is_array(b->doc) ? json_array_get(b->doc, b->n) : b->doc;
        json_report(rc, o, &b->v[b->n]);
    }
    return 0;
}

int hd_http_batch_read(const struct hd_http_receipt *rc, const char *body, size_t len,
                       struct hd_http_batch *b, char *why, size_t n)
{
    struct hd_err err = {0};
    memset(b, 0, sizeof *b);
    if (!rc->form && json_reports(rc, body, len, b, why, n) < 0)
        return -1;
    if (rc->form) {
        if (hd_form_collect(body, len, &b->form, &err) < 0) {
            snprintf(why, n, "the body is not application/x-www-form-urlencoded");
            return -1;
        }
        b->has_form = true;
        b->v = hd_xcalloc(1, sizeof *b->v);
        b->n = 1;
        b->v->id = ffield(&b->form, rc->id);
        b->v->ref = ffield(&b->form, rc->ref);
        b->v->status = ffield(&b->form, rc->status);
        b->v->code = ffield(&b->form, rc->code);
        b->v->reason = ffield(&b->form, rc->reason);
    }
    for (size_t i = 0; i < b->n; i++)
        if (!b->v[i].status || (!b->v[i].id && !b->v[i].ref)) {
            snprintf(why, n,
                     "report %zu: a status and the gateway's id or herald's ref are required",
                     i + 1);
            return -1;
        }
    return 0;
}

void hd_http_batch_release(struct hd_http_batch *b)
{
    if (!b)
        return;
    json_decref(b->doc);
    if (b->has_form)
        hd_form_release(&b->form);
    free(b->v);
    memset(b, 0, sizeof *b);
}

/* ---- keeping ----------------------------------------------------------------------------- */

/* Every report kept, each in its own transaction, under the store's lock;
 * *fresh counts the new ones. */
static int keep(struct hd_srv *s, const struct hd_hook *h, const struct hd_http_batch *b,
                int *fresh_n, struct hd_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    struct hd_store *st = hd_srv_store(s, err);
    struct hd_receipt_ctx c = hd_srv_receipt_ctx(s, st);
    int64_t now = hd_clock_now_ms(s->clock);
    for (size_t i = 0; st && rc == 0 && i < b->n; i++) {
        const struct hd_http_report *e = &b->v[i];
        char gid[300];
        if (!e->id) /* herald's ref alone: it is the report's key */
            snprintf(gid, sizeof gid, "ref:%.280s", e->ref);
        struct hd_receipt r = {.provider = h->provider,
                               .message = hd_http_ref_message(e->ref),
                               .gateway_id = e->id ? e->id : gid,
                               .status = e->status,
                               .code = e->code,
                               .reason = e->reason,
                               .received_ms = now};
        int result = 0;
        rc = hd_receipt_take(&c, &r, now, &result, err);
        *fresh_n += rc == 0 && result != HD_RCPT_DUPLICATE;
    }
    if (!st)
        rc = HD_E_STORE;
    else if (rc < 0)
        hd_log_error(s->log, "serve: reports to '%s' were not kept: %s", h->provider, err->msg);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void hd_hook_http_post(struct hd_srv *s, struct hd_hook *h, struct hd_answer *a)
{
    const struct hd_provider_cfg *p = hd_config_provider(s->cfg, h->provider);
    struct hd_http_batch b = {0};
    struct hd_err err = {0};
    char why[200];
    int fresh_n = 0;
    if (h->too_long)
        hd_hook_say(a, 413, "request body too large\n");
    else if (!p || !p->receipt || !signed_ok(p, h))
        hd_hook_say(a, 403, "forbidden: the signature does not match\n");
    else if (hd_http_batch_read(p->receipt, h->body.data ? h->body.data : "", h->body.len, &b, why,
                                sizeof why) < 0) {
        hd_hook_say(a, 400, why);
        hd_buf_addc(&a->body, '\n');
    } else if (keep(s, h, &b, &fresh_n, &err) < 0)
        hd_hook_say(a, 503, "not kept: try again\n");
    else
        hd_hook_say(a, 200, fresh_n ? "ok\n" : "duplicate\n");
    hd_http_batch_release(&b);
}
