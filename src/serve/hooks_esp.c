/* hooks_esp: email events from the big senders (issue 19):
 * POST /hooks/sendgrid/PROVIDER, /hooks/mailgun/PROVIDER,
 * /hooks/postmark/PROVIDER and /hooks/ses/PROVIDER (SES through SNS,
 * hooks_sns.c), where PROVIDER is the smtp (or outbox) provider the mail
 * went out through and holds the sender's webhook keys (a provider
 * without that sender's key is 404, as an unknown one is).
 *
 * Authentication comes first, as each sender documents it: Postmark's Basic
 * auth is checked when the headers are in, before any body is read;
 * SendGrid's ECDSA P-256 signature (over the timestamp header and the raw
 * body) and Mailgun's HMAC-SHA256 (of its timestamp and token, which sit in
 * the body) once the body is in (bounded by ESP_BODY_MAX), before any event
 * is used. Mailgun's signature does not cover the events, so, as Mailgun
 * says to, its timestamp must be within MAILGUN_TOLERANCE of now and its
 * token not one taken before: else a captured signature block would carry
 * any events, again and again. The tokens taken are the store's
 * (hd_store_hook_token_take, kept as their SHA-256), so a token is taken
 * once per database: once by all the `herald serve` processes on a shared
 * PostgreSQL store, and once across restarts (a table in memory took it
 * once per process); a store that cannot take it answers 503, for Mailgun
 * to try again. Each event is then turned into herald's words (delivered,
 * bounced with its code and diagnostic, complained, opened, unsubscribed,
 * undelivered) and kept through
 * dispatch/receipt.c, matched on the message number the mail carried (mime.c
 * writes it where each sender echoes it back), or, without it, on the
 * sender's own id of the message, which the writer kept at send time
 * (gateway_ids); 200 is answered only once every event is committed, and a
 * sender retrying gets "duplicate": the event's own id (or the sender's
 * message id) and the word make one row. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "herald/dispatch.h"
#include "herald/time.h"
#include "serve_int.h"

enum esp { ESP_NONE, ESP_SES, ESP_SENDGRID, ESP_MAILGUN, ESP_POSTMARK, ESP_COUNT };
static const char *const esp_names[ESP_COUNT] = {"", "ses", "sendgrid", "mailgun", "postmark"};

/* The part of text from its first char not in skip to the first in stop,
 * into out; NULL when empty. */
static const char *cut(const char *text, const char *skip, const char *stop, char *out, size_t n)
{
    if (!text)
        return NULL;
    text += strspn(text, skip);
    size_t len = strcspn(text, stop);
    if (len == 0 || len >= n)
        return NULL;
    memcpy(out, text, len);
    out[len] = '\0';
    return out;
}

int hd_esp_route(const char *rest)
{
    for (int i = ESP_SES; i < ESP_COUNT; i++) {
        size_t n = strlen(esp_names[i]);
        if (strncmp(rest, esp_names[i], n) == 0 && rest[n] == '/')
            return i;
    }
    return ESP_NONE;
}

/* Whether the Authorization header is Basic with user:password. */
static bool basic_ok(const struct hd_provider_cfg *p, const char *auth)
{
    const char *user = hd_provider_get(p, "webhook_user");
    const struct hd_cfg_secret *pw = hd_provider_secret(p, "webhook_password");
    if (!user || !pw || !pw->value || !auth || strncmp(auth, "Basic ", 6) != 0)
        return false;
    size_t ul = strlen(user), n = ul + 1 + pw->len;
    unsigned char *plain = hd_xmalloc(n), *want = hd_xmalloc(4 * n / 3 + 8);
    memcpy(plain, user, ul);
    plain[ul] = ':';
    memcpy(plain + ul + 1, pw->value, pw->len);
    int wl = EVP_EncodeBlock(want, plain, (int)n);
    auth += 6;
    bool ok = strlen(auth) == (size_t)wl && CRYPTO_memcmp(auth, want, (size_t)wl) == 0;
    OPENSSL_cleanse(plain, n);
    OPENSSL_cleanse(want, (size_t)wl);
    free(plain);
    free(want);
    return ok;
}

/* What a sender's request must carry, checked with the headers. A
 * provider without the sender's key has no such hook: 404, as a path that
 * names no provider is (a 5xx would be an outage any caller could raise),
 * and a log line says which key it lacks. */
static int need(struct hd_srv *s, const struct hd_provider_cfg *p, hd_header_fn header, void *ud,
                struct hd_hook *h, struct hd_answer *a)
{
    static const char *const sig_h[ESP_COUNT] = {[ESP_SENDGRID] =
                                                     "X-Twilio-Email-Event-Webhook-Signature"};
    static const char *const key[ESP_COUNT] = {[ESP_SES] = "sns_topics",
                                               [ESP_SENDGRID] = "event_public_key",
                                               [ESP_MAILGUN] = "webhook_signing_key",
                                               [ESP_POSTMARK] = "webhook_password"};
    bool set = h->esp == ESP_MAILGUN || h->esp == ESP_POSTMARK
                   ? hd_provider_secret(p, key[h->esp]) != NULL
                   : hd_provider_get(p, key[h->esp]) != NULL ||
                         (h->esp == ESP_SENDGRID && hd_provider_get(p, "event_public_key_file"));
    if (!set) {
        char msg[200];
        hd_log_info(s->log, "serve: %s events to '%s' refused (404): the provider has no %s",
                    esp_names[h->esp], p->name, key[h->esp]);
        snprintf(msg, sizeof msg, "the provider has no %s: herald takes no %s events for it\n",
                 key[h->esp], esp_names[h->esp]);
        hd_hook_say(a, 404, msg);
        return -1;
    }
    if (h->esp == ESP_POSTMARK && !basic_ok(p, header(ud, "Authorization"))) {
        hd_hook_say(a, 401, "unauthorized: Basic auth does not match\n");
        a->www_authenticate = "Basic realm=\"herald hooks\", charset=\"UTF-8\"";
        return -1;
    }
    const char *sig = sig_h[h->esp] ? header(ud, sig_h[h->esp]) : NULL;
    const char *ts = header(ud, "X-Twilio-Email-Event-Webhook-Timestamp");
    if (h->esp == ESP_SENDGRID &&
        (!sig || !ts || strlen(sig) >= sizeof h->auth || strlen(ts) >= sizeof h->stamp)) {
        hd_hook_say(a, 403, "forbidden: no valid X-Twilio-Email-Event-Webhook-Signature\n");
        return -1;
    }
    if (sig) {
        snprintf(h->auth, sizeof h->auth, "%s", sig);
        snprintf(h->stamp, sizeof h->stamp, "%s", ts);
    }
    return 0;
}

int hd_esp_begin(struct hd_srv *s, const char *rest, hd_header_fn header, void *ud,
                 struct hd_hook *h, struct hd_answer *a)
{
    memset(h, 0, sizeof *h);
    hd_buf_init(&h->body);
    h->max = ESP_BODY_MAX;
    h->esp = hd_esp_route(rest);
    const char *name = rest + strlen(esp_names[h->esp]) + 1;
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof h->provider || strchr(name, '/')) {
        hd_hook_say(a, 404, "not found\n");
        return -1;
    }
    memcpy(h->provider, name, n);
    const struct hd_provider_cfg *p = hd_config_provider(s->cfg, h->provider);
    if (!p || (strcmp(p->type, "smtp") != 0 && strcmp(p->type, "outbox") != 0)) {
        hd_hook_say(a, 404, "no such email provider\n");
        return -1;
    }
    return need(s, p, header, ud, h, a);
}

/* SendGrid's key: event_public_key (base64 DER, SubjectPublicKeyInfo, as
 * SendGrid shows it), or event_public_key_file (that text, or PEM); NULL
 * when it does not parse. */
static EVP_PKEY *sendgrid_key(const struct hd_provider_cfg *p)
{
    const char *k64 = hd_provider_get(p, "event_public_key"),
               *path = hd_provider_get(p, "event_public_key_file");
    struct hd_buf f;
    unsigned char der[512];
    EVP_PKEY *key = NULL;
    hd_buf_init(&f);
    if (!k64 && path && hd_buf_read_file(&f, path) == 0 && f.len) {
        if (strstr(f.data, "-----BEGIN PUBLIC KEY-----")) {
            BIO *b = BIO_new_mem_buf(f.data, (int)f.len);
            key = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
            BIO_free(b);
        }
        f.data[strcspn(f.data, " \r\n")] = '\0';
        k64 = f.data;
    }
    size_t kl = k64 ? strlen(k64) : 0;
    int dn = !key && kl && kl <= 4 * sizeof der / 3
                 ? EVP_DecodeBlock(der, (const unsigned char *)k64, (int)kl)
                 : 0;
    const unsigned char *q = der;
    if (dn > 0)
        key = d2i_PUBKEY(NULL, &q, dn);
    hd_buf_release(&f);
    return key;
}

/* SendGrid: the base64 DER signature of SHA-256(timestamp + body) by the
 * provider's key. */
static bool sendgrid_ok(const struct hd_provider_cfg *p, const struct hd_hook *h)
{
    unsigned char sig[256];
    size_t sl = strlen(h->auth);
    if (sl > 4 * sizeof sig / 3)
        return false;
    int sn = EVP_DecodeBlock(sig, (const unsigned char *)h->auth, (int)sl);
    if (sn <= 0)
        return false;
    /* EVP_DecodeBlock counts the padding's zero bytes: DER knows its length */
    sn -= (sl > 0 && h->auth[sl - 1] == '=') + (sl > 1 && h->auth[sl - 2] == '=');
    EVP_PKEY *key = sendgrid_key(p);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = key && md && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
              EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
              EVP_DigestVerifyUpdate(md, h->stamp, strlen(h->stamp)) == 1 &&
              EVP_DigestVerifyUpdate(md, h->body.data ? h->body.data : "", h->body.len) == 1 &&
              EVP_DigestVerifyFinal(md, sig, (size_t)sn) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    return ok;
}

/* ---- Mailgun's tokens taken ------------------------------------------------ */

#define MAILGUN_TOLERANCE 300 /* seconds between Mailgun's timestamp and now */

/* Takes Mailgun's token for every process on the database (the store's
 * hook_tokens: a restart or another node must refuse it too), as the hex
 * SHA-256 of "mailgun:" and the token, kept until no node whose clock is
 * within a tolerance of this one's accepts stamp (its timestamp). 0 when
 * it is fresh (hash, the caller's, then holds it, for give_token); else
 * the status to answer, 403 taken before, 503 when the store failed
 * (Mailgun tries again). */
static int take_token(struct hd_srv *s, const char *provider, const char *tok, int64_t stamp,
                      int64_t now, char hash[65], const char **why)
{
    char text[600];
    unsigned char md[32] = {0};
    unsigned int mdl = 0;
    struct hd_err err = {0};
    bool fresh = false;
    int n = snprintf(text, sizeof text, "mailgun:%s", tok), rc = HD_E_FAIL;
    if (n < 0 || (size_t)n >= sizeof text ||
        EVP_Digest(text, (size_t)n, md, &mdl, EVP_sha256(), NULL) != 1)
        hd_err_set(&err, HD_E_FAIL, "no SHA-256 of the token");
    for (unsigned i = 0; i < 32; i++)
        snprintf(hash + 2 * i, 3, "%02x", md[i]);
    pthread_mutex_lock(&s->mu);
    struct hd_store *st = err.code ? NULL : hd_srv_store(s, &err);
    if (st)
        rc = hd_store_hook_token_take(st, hash, stamp + 2 * MAILGUN_TOLERANCE + 1, now, &fresh,
                                      &err);
    if (rc < 0)
        hd_log_error(s->log, "serve: mailgun events to '%s' were not kept: %s", provider, err.msg);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0 || !fresh)
        hash[0] = '\0'; /* none of this request's to give back */
    if (rc < 0) {
        *why = "not kept: try again\n";
        return 503;
    }
    *why = "forbidden: this Mailgun token was taken before\n";
    return fresh ? 0 : 403;
}

/* Gives back the token h took (hash set by take_token): its events were
 * not kept, and Mailgun's retry carries the same token. */
static void give_token(struct hd_srv *s, struct hd_hook *h)
{
    struct hd_err err = {0};
    if (h->esp != ESP_MAILGUN || !h->token_hash[0])
        return;
    pthread_mutex_lock(&s->mu);
    struct hd_store *st = hd_srv_store(s, &err);
    if (!st || hd_store_hook_token_give(st, h->token_hash, &err) < 0)
        hd_log_error(s->log, "serve: a Mailgun token taken for '%s' is not given back: %s",
                     h->provider, err.msg);
    pthread_mutex_unlock(&s->mu);
}

/* Mailgun: hex HMAC-SHA256, keyed by the signing key, of timestamp then
 * token, all three in the body's "signature" object; the timestamp within
 * the tolerance and the token not taken before (checked after the
 * signature, so that only Mailgun's tokens are kept). 0, or the status to
 * answer with *why. */
static int mailgun_check(struct hd_srv *s, const struct hd_provider_cfg *p, json_t *body,
                         char hash[65], const char **why)
{
    const struct hd_cfg_secret *key = hd_provider_secret(p, "webhook_signing_key");
    json_t *sig = json_object_get(body, "signature");
    const char *ts = json_string_value(json_object_get(sig, "timestamp")),
               *tok = json_string_value(json_object_get(sig, "token")),
               *given = json_string_value(json_object_get(sig, "signature"));
    if (!key || !key->value || !ts || !tok || !given || strlen(given) != 64)
        return 403;
    unsigned char md[32];
    unsigned int mdl = 0;
    char msg[512], hex[65];
    int n = snprintf(msg, sizeof msg, "%s%s", ts, tok);
    if (n < 0 || (size_t)n >= sizeof msg)
        return 403;
    HMAC(EVP_sha256(), key->value, (int)key->len, (const unsigned char *)msg, (size_t)n, md, &mdl);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    bool ok = CRYPTO_memcmp(hex, given, 64) == 0;
    OPENSSL_cleanse(md, sizeof md);
    OPENSSL_cleanse(hex, sizeof hex);
    if (!ok)
        return 403;
    char *end;
    long long t = strtoll(ts, &end, 10);
    int64_t now = hd_clock_now(s->clock);
    if (!*ts || *end || t <= 0 || llabs((long long)now - t) > MAILGUN_TOLERANCE) {
        *why = "forbidden: the Mailgun timestamp is not within 5 minutes of now\n";
        return 403;
    }
    return take_token(s, p->name, tok, (int64_t)t, now, hash, why);
}

/* The message number the mail carried: a string or a number. */
static int64_t number_of(json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) > 0 ? (int64_t)json_integer_value(v) : 0;
    const char *t = json_string_value(v);
    char *end;
    long long n = t ? strtoll(t, &end, 10) : 0;
    return t && *t && *end == '\0' && n > 0 ? (int64_t)n : 0;
}

static const char *str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && *v ? v : NULL;
}

int64_t hd_esp_time_ms(const char *iso)
{
    int64_t t;
    return iso && hd_time_parse_iso(iso, &t, NULL) == 0 ? t * 1000 : 0;
}

/* Seconds a sender gives (an integer, or Mailgun's real) in
 * milliseconds; 0, "not said", for anything outside year 1970 to 9999
 * (the conversion of a larger value is undefined: fuzz_esp found it). */
static int64_t secs_ms(json_t *v)
{
    double s = json_is_integer(v) ? (double)json_integer_value(v) : json_number_value(v);
    return s > 0 && s < 253402300800.0 ? (int64_t)(s * 1000) : 0;
}

/* Maps word to herald's word through a table of pairs, or NULL. */
static const char *word_of(const char *const (*map)[2], size_t n, const char *word)
{
    for (size_t i = 0; word && i < n; i++)
        if (strcmp(map[i][0], word) == 0)
            return map[i][1];
    return NULL;
}

static void sendgrid_events(json_t *body, struct hd_esp_events *ev)
{
    static const char *const map[][2] = {{"delivered", "delivered"},
                                         {"bounce", "bounced"},
                                         {"dropped", "undelivered"},
                                         {"spamreport", "complained"},
                                         {"open", "opened"},
                                         {"unsubscribe", "unsubscribed"},
                                         {"group_unsubscribe", "unsubscribed"}};
    size_t i = ev->next;
    ev->next = 0;
    for (json_t *e; i < json_array_size(body) && (e = json_array_get(body, i)) != NULL; i++) {
        const char *w = word_of(map, sizeof map / sizeof *map, str(e, "event"));
        if (!w)
            continue;
        if (ev->n == EVENTS_MAX) { /* the rest in the next round (hd_esp_post) */
            ev->next = i;
            return;
        }
        json_t *ts = json_object_get(e, "timestamp");
        /* sg_message_id is the X-Message-Id the SMTP reply named, a dot, the filter's */
        const char *pid =
            cut(str(e, "sg_message_id"), "<", ".>", ev->pids[ev->n], sizeof *ev->pids);
        ev->v[ev->n++] = (struct hd_esp_event){
            .message = number_of(json_object_get(e, "herald_message")),
            .gid = str(e, "sg_event_id") ? str(e, "sg_event_id") : str(e, "sg_message_id"),
            .pid = pid,
            .status = w,
            .code = str(e, "status"),
            .reason = str(e, "reason"),
            .at_ms = json_is_integer(ts) ? secs_ms(ts) : 0};
    }
}

static void mailgun_events(json_t *body, struct hd_esp_events *ev)
{
    static const char *const map[][2] = {{"delivered", "delivered"},
                                         {"failed", "bounced"},
                                         {"complained", "complained"},
                                         {"opened", "opened"},
                                         {"unsubscribed", "unsubscribed"}};
    json_t *e = json_object_get(body, "event-data"), *ds = json_object_get(e, "delivery-status");
    const char *w = word_of(map, sizeof map / sizeof *map, str(e, "event"));
    if (!w)
        return;
    struct hd_esp_event *v = &ev->v[ev->n++];
    /* the Message-ID herald wrote, <UUID@domain>: its UUID */
    json_t *hdrs = json_object_get(json_object_get(e, "message"), "headers");
    *v = (struct hd_esp_event){
        .message =
            number_of(json_object_get(json_object_get(e, "user-variables"), "herald_message")),
        .gid = str(e, "id"),
        .pid = cut(str(hdrs, "message-id"), "<", "@>", ev->pids[0], sizeof *ev->pids),
        .status = w,
        .reason = str(ds, "message") ? str(ds, "message") : str(ds, "description"),
        .at_ms = secs_ms(json_object_get(e, "timestamp"))};
    /* a temporary failure is one Mailgun retries: logged, the state kept;
     * a permanent one is the bounce, with the reply code Mailgun got */
    json_t *code = json_object_get(ds, "code");
    bool temp = str(e, "severity") && strcmp(str(e, "severity"), "temporary") == 0;
    if (strcmp(w, "bounced") != 0)
        return;
    if (temp)
        v->status = "deferred";
    else if (json_is_integer(code) && json_integer_value(code) >= 500 &&
             json_integer_value(code) < 600)
        snprintf(ev->ids[0], sizeof ev->ids[0], "%d", (int)json_integer_value(code));
    else
        snprintf(ev->ids[0], sizeof ev->ids[0], "5.0.0");
    v->code = temp ? NULL : ev->ids[0];
}

/* Postmark's bounce types as the enhanced status codes that mean them. */
static const char *const postmark_types[][2] = {
    {"HardBounce", "5.1.1"}, {"BadEmailAddress", "5.1.1"}, {"SoftBounce", "4.0.0"},
    {"Transient", "4.0.0"},  {"Blocked", "5.7.1"},         {"DnsError", "5.1.2"}};

static void postmark_events(json_t *body, struct hd_esp_events *ev)
{
    static const char *const map[][2] = {{"Delivery", "delivered"},
                                         {"Bounce", "bounced"},
                                         {"SpamComplaint", "complained"},
                                         {"Open", "opened"}};
    const char *w = word_of(map, sizeof map / sizeof *map, str(body, "RecordType"));
    const char *code =
        word_of(postmark_types, sizeof postmark_types / sizeof *postmark_types, str(body, "Type"));
    if (!w || (strcmp(w, "bounced") == 0 && !code))
        return; /* not an event herald takes (an auto-responder, a subscription change) */
    json_t *id = json_object_get(body, "ID");
    if (json_is_integer(id))
        snprintf(ev->ids[0], sizeof ev->ids[0], "%lld", (long long)json_integer_value(id));
    ev->v[ev->n++] = (struct hd_esp_event){
        .message = number_of(json_object_get(json_object_get(body, "Metadata"), "herald_message")),
        .gid = json_is_integer(id) ? ev->ids[0] : str(body, "MessageID"),
        .pid = str(body, "MessageID"),
        .status = w,
        .code = strcmp(w, "bounced") == 0 ? code : NULL,
        .reason = str(body, "Details") ? str(body, "Details") : str(body, "Description"),
        .at_ms = hd_esp_time_ms(str(body, "DeliveredAt") ? str(body, "DeliveredAt")
                                : str(body, "BouncedAt") ? str(body, "BouncedAt")
                                                         : str(body, "ReceivedAt"))};
}

/* Each event kept, under the store's lock: the first error stops. */
static int keep(struct hd_srv *s, const struct hd_hook *h, const struct hd_esp_events *ev, int *fresh,
                struct hd_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    struct hd_store *st = hd_srv_store(s, err);
    struct hd_receipt_ctx c = hd_srv_receipt_ctx(s, st);
    int64_t now = hd_clock_now_ms(s->clock);
    for (size_t i = 0; st && rc == 0 && i < ev->n; i++) {
        const struct hd_esp_event *e = &ev->v[i];
        char gid[48];
        if (!e->gid) /* no id of the sender's: the message and the word are one event */
            snprintf(gid, sizeof gid, "herald:%lld", (long long)e->message);
        struct hd_receipt r = {.provider = h->provider,
                               .message = e->message,
                               .gateway_id = e->gid ? e->gid : gid,
                               .status = e->status,
                               .code = e->code,
                               .reason = e->reason,
                               .gateway_ms = e->at_ms,
                               .received_ms = now,
                               .provider_id = e->message ? NULL : e->pid};
        int result = 0;
        rc = hd_receipt_take(&c, &r, now, &result, err);
        *fresh += rc == 0 && result != HD_RCPT_DUPLICATE;
    }
    if (!st)
        rc = HD_E_STORE;
    else if (rc < 0)
        hd_log_error(s->log, "serve: %s events to '%s' were not kept: %s", esp_names[h->esp],
                     h->provider, err->msg);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void hd_esp_events_of(int esp, json_t *body, struct hd_esp_events *ev)
{
    if (esp == ESP_SENDGRID)
        sendgrid_events(body, ev);
    else if (esp == ESP_MAILGUN)
        mailgun_events(body, ev);
    else if (esp == ESP_POSTMARK)
        postmark_events(body, ev);
}

/* The body, checked and read into ev; an answer and -1 when it fails. */
static int read_events(struct hd_srv *s, struct hd_hook *h, json_t **body, struct hd_esp_events *ev,
                       struct hd_answer *a)
{
    const struct hd_provider_cfg *p = hd_config_provider(s->cfg, h->provider);
    if (h->esp == ESP_SENDGRID && !sendgrid_ok(p, h)) {
        hd_hook_say(a, 403, "forbidden: X-Twilio-Email-Event-Webhook-Signature does not match\n");
        return -1;
    }
    json_error_t je;
    *body = json_loadb(h->body.data ? h->body.data : "", h->body.len, 0, &je);
    bool shape = h->esp == ESP_SENDGRID ? json_is_array(*body) : json_is_object(*body);
    if (!shape) {
        hd_hook_say(a, 400, "the body is not the sender's JSON\n");
        return -1;
    }
    const char *why = "forbidden: the Mailgun signature does not match\n";
    int status = h->esp == ESP_MAILGUN ? mailgun_check(s, p, *body, h->token_hash, &why) : 0;
    if (status) {
        hd_hook_say(a, status, why);
        return -1;
    }
    hd_esp_events_of(h->esp, *body, ev);
    return 0;
}

void hd_esp_post(struct hd_srv *s, struct hd_hook *h, struct hd_answer *a)
{
    struct hd_err err = {0};
    json_t *body = NULL, *msg = NULL;
    struct hd_esp_events *ev = hd_xcalloc(1, sizeof *ev);
    int fresh = 0, rc = -1;
    if (h->too_long)
        hd_hook_say(a, 413, "request body too large\n");
    else
        rc = h->esp == ESP_SES ? hd_sns_read(s, h, &body, &msg, ev->v, &ev->n, a)
                               : read_events(s, h, &body, ev, a);
    /* EVENTS_MAX at a time: a SendGrid batch may hold more (a round kept
     * before a later one fails is a duplicate when the batch comes again) */
    size_t taken = 0;
    while (rc == 0) {
        if ((rc = keep(s, h, ev, &fresh, &err)) < 0) {
            give_token(s, h);
            hd_hook_say(a, 503, "not kept: try again\n");
            break;
        }
        taken += ev->n;
        if (!ev->next)
            break;
        ev->n = 0;
        hd_esp_events_of(h->esp, body, ev);
    }
    if (!a->status)
        hd_hook_say(a, 200, fresh ? "ok\n" : taken ? "duplicate\n" : "nothing herald takes\n");
    json_decref(body);
    json_decref(msg);
    free(ev);
}
