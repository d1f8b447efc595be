/* hooks_sns: Amazon SES events through SNS (issue 19): POST
 * /hooks/ses/PROVIDER, an HTTPS subscription of an SNS topic that SES
 * notifies.
 *
 * Nothing of a message is used before its signature holds, and herald
 * fetches nothing for a topic it was not told of: the topic must be in the
 * provider's sns_topics, then SigningCertURL must be https on a host
 * sns.REGION.amazonaws.com (or .amazonaws.com.cn); the certificate is
 * fetched with libcurl (the TLS peer verified, no redirects, bounded) and
 * its key cached by URL, so SNS's steady stream costs no fetch. A
 * certificate that cannot be fetched (SNS or the network down, the cache
 * empty after a restart) is answered 503, as a subscription that cannot be
 * confirmed is: SNS retries only a 5xx, and a 403 would lose the event;
 * one that came but does not verify the message is 403. The
 * signature (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA) is over
 * SNS's canonical string: each of the type's fields that is present, name
 * then value, each on its own line, in the order SNS documents. A
 * SubscriptionConfirmation is confirmed by GETting its SubscribeURL (the
 * same host rule); a Notification's Message is SES's JSON (Bounce,
 * Complaint, Delivery, as notificationType or, from event publishing,
 * eventType), matched on the message number in the mail's tags or headers.
 *
 * Tests cannot be Amazon: HERALD_TEST_SNS_CERT_HOST (a host[:port]) takes
 * the place of the rule only when HERALD_TEST is set in the environment
 * too, so no configuration file can set it, and a production service
 * never has both. */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve_int.h"

#define CERTS_MAX 16
#define FETCH_MAX (64 * 1024)

struct hd_sns {
    pthread_mutex_t mu;
    size_t n;
    char *url[CERTS_MAX];
    EVP_PKEY *key[CERTS_MAX];
};

struct hd_sns *hd_sns_new(void)
{
    struct hd_sns *c = hd_xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void hd_sns_free(struct hd_sns *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->url[i]);
        EVP_PKEY_free(c->key[i]);
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static bool ends_with(const char *h, size_t n, const char *suffix)
{
    size_t sl = strlen(suffix);
    return n > sl && strncmp(h + n - sl, suffix, sl) == 0;
}

/* Whether url is https on SNS's host (see the top), and printable ASCII
 * without spaces throughout, as a URL is: a line break in its path once
 * put a forged line into the log with the fetch's warning. */
static bool host_ok(const char *url)
{
    if (!url || strncmp(url, "https://", 8) != 0)
        return false;
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
            return false;
    const char *h = url + 8,
               *test = getenv("HERALD_TEST") ? getenv("HERALD_TEST_SNS_CERT_HOST") : NULL;
    size_t n = strcspn(h, "/?#");
    if (memchr(h, '@', n) || memchr(h, '\\', n))
        return false;
    if (test && *test)
        return strlen(test) == n && strncmp(h, test, n) == 0;
    size_t sl = ends_with(h, n, ".amazonaws.com")      ? strlen(".amazonaws.com")
                : ends_with(h, n, ".amazonaws.com.cn") ? strlen(".amazonaws.com.cn")
                                                       : 0;
    if (!sl || n <= 4 + sl || strncmp(h, "sns.", 4) != 0)
        return false;
    return strspn(h + 4, "abcdefghijklmnopqrstuvwxyz0123456789-") == n - 4 - sl;
}

static size_t gather(char *p, size_t size, size_t n, void *ud)
{
    struct hd_buf *b = ud;
    if (b->len + size * n > FETCH_MAX)
        return 0;
    hd_buf_add(b, p, size * n);
    return size * n;
}

/* GET url (https only, the provider's ca_file or the system's CAs) into
 * out; 0 on a 2xx, else -1 and why (libcurl's words or the status) in
 * why when it is not NULL. */
static int fetch(const struct hd_provider_cfg *p, const char *url, struct hd_buf *out, char *why,
                 size_t wn)
{
    CURL *e = curl_easy_init();
    long status = 0;
    const char *ca = hd_provider_get(p, "ca_file");
    if (!e)
        return -1;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, gather);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
    if (ca)
        curl_easy_setopt(e, CURLOPT_CAINFO, ca);
    CURLcode rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    if (why && rc != CURLE_OK)
        snprintf(why, wn, "%s", curl_easy_strerror(rc));
    else if (why && status / 100 != 2)
        snprintf(why, wn, "HTTP %ld", status);
    return rc == CURLE_OK && status / 100 == 2 ? 0 : -1;
}

/* The signing key of url: cached, else fetched (a reference the caller
 * frees), or NULL, with *down set when it could not be fetched (not when
 * what came is no certificate). url is host_ok's: printable, no spaces. */
static EVP_PKEY *signing_key(struct hd_srv *s, const struct hd_provider_cfg *p, const char *url,
                             bool *down)
{
    struct hd_sns *c = s->sns;
    EVP_PKEY *k = NULL;
    *down = false;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; !k && i < c->n; i++)
        if (strcmp(c->url[i], url) == 0 && EVP_PKEY_up_ref(c->key[i]) == 1)
            k = c->key[i];
    pthread_mutex_unlock(&c->mu);
    if (k)
        return k;
    struct hd_buf pem;
    char why[128] = "libcurl did not start";
    hd_buf_init(&pem);
    X509 *x = NULL;
    *down = fetch(p, url, &pem, why, sizeof why) < 0;
    if (!*down && pem.len) {
        BIO *b = BIO_new_mem_buf(pem.data, (int)pem.len);
        x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
    }
    hd_buf_release(&pem);
    k = x ? X509_get_pubkey(x) : NULL;
    X509_free(x);
    if (*down)
        hd_log_warn(s->log,
                    "serve: the SNS signing certificate '%s' could not be fetched (%s): "
                    "answered 503 for SNS to try again",
                    url, why);
    else if (!k)
        hd_log_warn(s->log, "serve: '%s' is not a certificate herald can read", url);
    if (!k)
        return NULL;
    pthread_mutex_lock(&c->mu);
    if (c->n == CERTS_MAX) { /* SNS rotates rarely: start again */
        free(c->url[--c->n]);
        EVP_PKEY_free(c->key[c->n]);
    }
    if (EVP_PKEY_up_ref(k) == 1) {
        c->url[c->n] = hd_xstrdup(url);
        c->key[c->n++] = k;
    }
    pthread_mutex_unlock(&c->mu);
    return k;
}

static const char *str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && *v ? v : NULL;
}

/* SNS's canonical string of body (its type's fields); false when one it
 * needs is missing. */
static bool canonical(json_t *body, bool notification, struct hd_buf *out)
{
    static const char *const notif[] = {"Message",  "MessageId", "Subject", "Timestamp",
                                        "TopicArn", "Type",      NULL};
    static const char *const sub[] = {"Message", "MessageId", "SubscribeURL", "Timestamp",
                                      "Token",   "TopicArn",  "Type",         NULL};
    for (const char *const *k = notification ? notif : sub; *k; k++) {
        const char *v = json_string_value(json_object_get(body, *k));
        if (!v && strcmp(*k, "Subject") == 0)
            continue;
        if (!v)
            return false;
        hd_buf_addf(out, "%s\n%s\n", *k, v);
    }
    return true;
}

/* What signed_ok found: the signature holds, does not, or could not be
 * checked because the certificate could not be fetched. */
enum sig { SIG_OK, SIG_BAD, SIG_DOWN };

static enum sig signed_ok(struct hd_srv *s, const struct hd_provider_cfg *p, json_t *body,
                          bool notification)
{
    const char *ver = str(body, "SignatureVersion"), *sig64 = str(body, "Signature");
    const EVP_MD *md = !ver                    ? NULL
                       : strcmp(ver, "1") == 0 ? EVP_sha1()
                       : strcmp(ver, "2") == 0 ? EVP_sha256()
                                               : NULL;
    struct hd_buf text;
    hd_buf_init(&text);
    unsigned char sig[1024];
    size_t sl = sig64 ? strlen(sig64) : 0;
    bool down = false;
    if (!md || !sl || sl > 4 * sizeof sig / 3 || !canonical(body, notification, &text)) {
        hd_buf_release(&text);
        return SIG_BAD;
    }
    int n = EVP_DecodeBlock(sig, (const unsigned char *)sig64, (int)sl);
    n -= (sig64[sl - 1] == '=') + (sl > 1 && sig64[sl - 2] == '=');
    EVP_PKEY *k = n > 0 ? signing_key(s, p, str(body, "SigningCertURL"), &down) : NULL;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    bool ok = k && c && EVP_DigestVerifyInit(c, NULL, md, NULL, k) == 1 &&
              EVP_DigestVerifyUpdate(c, text.data, text.len) == 1 &&
              EVP_DigestVerifyFinal(c, sig, (size_t)n) == 1;
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(k);
    hd_buf_release(&text);
    return ok ? SIG_OK : down ? SIG_DOWN : SIG_BAD;
}

/* Whether topic is one of the provider's sns_topics (spaces or commas). */
static bool topic_ok(const struct hd_provider_cfg *p, const char *topic)
{
    const char *list = hd_provider_get(p, "sns_topics");
    size_t tl = topic ? strlen(topic) : 0;
    for (const char *q = list; tl && q && *q;) {
        q += strspn(q, " ,\t");
        size_t n = strcspn(q, " ,\t");
        if (n == tl && strncmp(q, topic, n) == 0)
            return true;
        q += n;
    }
    return false;
}

/* The message number of SES's mail object: its tag herald_message (event
 * publishing), else its X-Herald-Message header (notifications with the
 * original headers). */
static int64_t ses_message(json_t *mail)
{
    const char *v = json_string_value(
        json_array_get(json_object_get(json_object_get(mail, "tags"), "herald_message"), 0));
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(mail, "headers"), i, h)
    {
        const char *name = str(h, "name");
        if (!v && name && strcasecmp(name, "X-Herald-Message") == 0)
            v = str(h, "value");
    }
    char *end;
    long long n = v ? strtoll(v, &end, 10) : 0;
    return v && *end == '\0' && n > 0 ? (int64_t)n : 0;
}

/* A notification's SES event into ev (none for a type herald does not take). */
static void ses_event(json_t *msg, const char *id, struct hd_esp_event *ev, size_t *n)
{
    const char *type =
        str(msg, "notificationType") ? str(msg, "notificationType") : str(msg, "eventType");
    json_t *b = json_object_get(msg, "bounce"),
           *r = json_array_get(json_object_get(b, "bouncedRecipients"), 0);
    json_t *mail = json_object_get(msg, "mail");
    *ev = (struct hd_esp_event){
        .message = ses_message(mail), .gid = id, .pid = str(mail, "messageId")};
    if (!type)
        return;
    /* when it happened: the event's own object (bounce, complaint,
     * delivery), else when SES took the mail */
    static const char *const objs[] = {"bounce", "complaint", "delivery", "mail"};
    for (size_t i = 0; !ev->at_ms && i < sizeof objs / sizeof *objs; i++)
        ev->at_ms = hd_esp_time_ms(str(json_object_get(msg, objs[i]), "timestamp"));
    if (strcmp(type, "Delivery") == 0)
        ev->status = "delivered";
    else if (strcmp(type, "Complaint") == 0) {
        /* the feedback type (abuse, fraud, ...) is the complaint's reason */
        ev->status = "complained";
        ev->reason = str(json_object_get(msg, "complaint"), "complaintFeedbackType");
    } else if (strcmp(type, "Bounce") == 0) {
        bool permanent = str(b, "bounceType") && strcmp(str(b, "bounceType"), "Permanent") == 0;
        ev->status = "bounced";
        ev->code = str(r, "status") ? str(r, "status") : permanent ? "5.0.0" : "4.0.0";
        ev->reason = str(r, "diagnosticCode");
    }
    *n = ev->status != NULL;
}

/* A SubscriptionConfirmation: confirmed by GETting SubscribeURL. */
static void confirm(struct hd_srv *s, const struct hd_provider_cfg *p, json_t *body,
                    struct hd_answer *a)
{
    const char *url = str(body, "SubscribeURL");
    struct hd_buf got;
    hd_buf_init(&got);
    if (!host_ok(url))
        hd_hook_say(a, 403, "forbidden: SubscribeURL is not SNS's\n");
    else if (fetch(p, url, &got, NULL, 0) < 0)
        hd_hook_say(a, 503, "the subscription could not be confirmed: try again\n");
    else {
        hd_log_info(s->log, "serve: confirmed the SNS subscription of topic '%s' for '%s'",
                    str(body, "TopicArn"), p->name);
        hd_hook_say(a, 200, "subscribed\n");
    }
    hd_buf_release(&got);
}

int hd_sns_read(struct hd_srv *s, struct hd_hook *h, json_t **body, json_t **msg,
                struct hd_esp_event *ev, size_t *n, struct hd_answer *a)
{
    const struct hd_provider_cfg *p = hd_config_provider(s->cfg, h->provider);
    *body = json_loadb(h->body.data ? h->body.data : "", h->body.len, 0, NULL);
    const char *type = str(*body, "Type");
    bool notification = type && strcmp(type, "Notification") == 0;
    if (!type || (!notification && strcmp(type, "SubscriptionConfirmation") != 0 &&
                  strcmp(type, "UnsubscribeConfirmation") != 0)) {
        hd_hook_say(a, 400, "the body is not an SNS message\n");
        return -1;
    }
    if (!topic_ok(p, str(*body, "TopicArn"))) {
        hd_hook_say(a, 403, "forbidden: the topic is not in sns_topics\n");
        return -1;
    }
    if (!host_ok(str(*body, "SigningCertURL"))) {
        hd_hook_say(a, 403, "forbidden: SigningCertURL is not SNS's\n");
        return -1;
    }
    /* the host is SNS's (checked above): a certificate that cannot be
     * fetched there is SNS's outage, retried, not a forgery */
    enum sig v = signed_ok(s, p, *body, notification);
    if (v == SIG_DOWN) {
        hd_hook_say(a, 503, "the SNS signing certificate could not be fetched: try again\n");
        return -1;
    }
    if (v != SIG_OK) {
        hd_hook_say(a, 403, "forbidden: the SNS signature does not match\n");
        return -1;
    }
    if (!notification) {
        if (strcmp(type, "SubscriptionConfirmation") == 0)
            confirm(s, p, *body, a);
        else
            hd_hook_say(a, 200, "ok\n");
        return -1;
    }
    *n = hd_sns_event_of(*body, msg, ev);
    return 0;
}

size_t hd_sns_event_of(json_t *body, json_t **msg, struct hd_esp_event *ev)
{
    const char *m = str(body, "Message");
    size_t n = 0;
    *msg = m ? json_loads(m, 0, NULL) : NULL;
    ses_event(*msg, str(body, "MessageId"), ev, &n);
    return n;
}
