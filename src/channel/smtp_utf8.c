/* smtp_utf8: the messages whose envelope has a non-ASCII local part (issue
 * 15), sent over libcurl's SMTP, since libesmtp cannot write SMTPUTF8.
 * libcurl adds the SMTPUTF8 parameter to MAIL FROM when the server's EHLO
 * offers it and an address needs it, but sends the address raw when the
 * server does not offer it, and a server's refusal of that would read as
 * a bad address. So whether the server offers SMTPUTF8 is learnt first, on
 * a connection of its own that stops after EHLO, STARTTLS and AUTH
 * (CURLOPT_CONNECT_ONLY), and kept for UTF8_RECHECK_MS; without it nothing
 * is sent. Each message is then one session: such addresses are rare, and
 * the batch's other messages go over libesmtp as before. What the server
 * says is read through libcurl's debug callback: the replies' lines, and
 * of the lines we write only the verb (AUTH carries the credentials), so
 * that a refusal is reported with its stage, code and text. TLS, its
 * verification and the credentials are the provider's, as for libesmtp. */
#include "smtp_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "herald/time.h"
#include "http_int.h"

#define UTF8_RECHECK_MS (10 * 60 * 1000)

/* What the debug callback saw of a session. */
struct watch {
    const char *stage; /* the last command's stage, or NULL */
    bool auth;         /* the last command was AUTH (or its continuation) */
    bool ehlo;         /* in the reply to EHLO */
    bool offered;      /* that reply listed SMTPUTF8 */
    bool quit;         /* QUIT was sent: its reply is not the one to report */
    int code;          /* the last complete reply */
    char text[400];
};

static void watch_out(struct watch *w, const char *p, size_t n)
{
    static const struct {
        const char *verb, *stage;
    } verbs[] = {{"MAIL ", "MAIL FROM"}, {"RCPT ", "RCPT TO"}, {"DATA", "DATA"}};
    w->quit = w->quit || (n >= 4 && strncasecmp(p, "QUIT", 4) == 0);
    w->ehlo = n >= 5 && strncasecmp(p, "EHLO ", 5) == 0;
    if (w->ehlo)
        w->offered = false;
    w->auth = n >= 5 && strncasecmp(p, "AUTH ", 5) == 0 ? true : w->auth && !w->ehlo;
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (n >= strlen(verbs[i].verb) && strncasecmp(p, verbs[i].verb, strlen(verbs[i].verb)) == 0)
            w->stage = verbs[i].stage, w->auth = false;
}

static void watch_line(struct watch *w, const char *p, size_t n)
{
    while (n && (p[n - 1] == '\r' || p[n - 1] == '\n'))
        n--;
    if (n < 3 || p[0] < '1' || p[0] > '5' || w->quit)
        return;
    if (w->ehlo && n >= 12 && strncasecmp(p + 4, "SMTPUTF8", 8) == 0 && (n == 12 || p[12] == ' '))
        w->offered = true;
    if (n > 3 && p[3] == '-')
        return; /* more lines of this reply to come */
    w->code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    size_t k = n > 4 ? n - 4 : 0;
    if (k >= sizeof w->text)
        k = sizeof w->text - 1;
    memcpy(w->text, p + (n > 4 ? 4 : n), k);
    w->text[k] = '\0';
}

static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
    struct watch *w = arg;
    (void)h;
    if (type == CURLINFO_HEADER_OUT) {
        watch_out(w, data, size);
    } else if (type == CURLINFO_HEADER_IN) {
        for (size_t i = 0; i < size;) { /* a chunk may hold several lines */
            const char *nl = memchr(data + i, '\n', size - i);
            size_t end = nl ? (size_t)(nl - data) + 1 : size;
            watch_line(w, data + i, end - i);
            i = end;
        }
    }
    return 0;
}

struct reader {
    const struct hd_buf *body;
    size_t off;
};

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
    struct reader *r = arg;
    size_t left = r->body->len - r->off, take = size * n < left ? size * n : left;
    memcpy(buf, r->body->data + r->off, take);
    r->off += take;
    return take;
}

/* A handle for the provider's server, its TLS and its credentials, which
 * reports to w. */
static CURL *open_handle(const struct smtp_conf *c, struct watch *w, char *errbuf)
{
    char url[600], helo[256] = "localhost";
    if (c->helo)
        snprintf(helo, sizeof helo, "%s", c->helo);
    else
        gethostname(helo, sizeof helo - 1);
    bool v6 = strchr(c->host, ':') != NULL;
    snprintf(url, sizeof url, "%s://%s%s%s:%d/%s", c->tls == TLS_IMPLICIT ? "smtps" : "smtp",
             v6 ? "[" : "", c->host, v6 ? "]" : "", c->port, helo);
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L); /* only to our callback */
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, w);
    curl_easy_setopt(h, CURLOPT_USE_SSL,
                     c->tls == TLS_REQUIRED   ? (long)CURLUSESSL_ALL
                     : c->tls == TLS_OPTIONAL ? (long)CURLUSESSL_TRY
                                              : (long)CURLUSESSL_NONE);
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->verify ? 2L : 0L);
    if (c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->username) {
        curl_easy_setopt(h, CURLOPT_USERNAME, c->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
        curl_easy_setopt(h, CURLOPT_LOGIN_OPTIONS, "AUTH=PLAIN");
    }
    return h;
}

static bool tls_failure(CURLcode rc)
{
    return rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
           rc == CURLE_USE_SSL_FAILED || rc == CURLE_SSL_CACERT_BADFILE ||
           rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CIPHER || rc == CURLE_SSL_ENGINE_NOTFOUND;
}

/* A session that failed before its envelope: TLS, the credentials, or the
 * connection. */
static void failed(CURLcode rc, const struct watch *w, const char *errbuf, struct smtp_utf8_out *o)
{
    if (tls_failure(rc)) {
        o->kind = SU_TLS;
        snprintf(o->text, sizeof o->text, "TLS: %s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    } else if (rc == CURLE_LOGIN_DENIED || (w->auth && w->code >= 400)) {
        o->kind = SU_AUTH;
        o->code = w->code;
        snprintf(o->text, sizeof o->text, "authentication failed: %d %.360s", w->code, w->text);
    } else {
        o->kind = SU_NO_SESSION;
        snprintf(o->text, sizeof o->text, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
}

/* Whether the server offers SMTPUTF8: from the cache, or learnt on a
 * connection that ends after EHLO (and STARTTLS and AUTH). -1 with o set
 * when the session failed. */
static int offered(struct smtp_conf *c, struct smtp_utf8_out *o)
{
    int64_t now = hd_clock_mono_ms();
    pthread_mutex_lock(&c->utf8_mu);
    int known =
        c->utf8_offered >= 0 && now - c->utf8_seen_ms < UTF8_RECHECK_MS ? c->utf8_offered : -1;
    pthread_mutex_unlock(&c->utf8_mu);
    if (known >= 0)
        return known;
    struct watch w = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *h = open_handle(c, &w, errbuf);
    if (!h) {
        o->kind = SU_NO_SESSION;
        snprintf(o->text, sizeof o->text, "libcurl cannot make a handle");
        return -1;
    }
    curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
    CURLcode rc = curl_easy_perform(h);
    size_t sent;
    if (rc == CURLE_OK) /* libcurl leaves the session to us: end it politely */
        curl_easy_send(h, "QUIT\r\n", 6, &sent);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        failed(rc, &w, errbuf, o);
        return -1;
    }
    pthread_mutex_lock(&c->utf8_mu);
    c->utf8_offered = w.offered;
    c->utf8_seen_ms = now;
    pthread_mutex_unlock(&c->utf8_mu);
    hd_log_debug(c->log, "smtp: %s:%d %s SMTPUTF8", c->host, c->port,
                 w.offered ? "offers" : "does not offer");
    return w.offered;
}

void hd_smtp_utf8_send(struct smtp_conf *c, const char *from, const char *rcpt,
                       const struct hd_buf *body, struct smtp_utf8_out *o)
{
    memset(o, 0, sizeof *o);
    hx_curl_init();
    int ok = offered(c, o);
    if (ok <= 0) {
        if (ok == 0)
            o->kind = SU_NOT_OFFERED;
        return;
    }
    struct watch w = {0};
    char errbuf[CURL_ERROR_SIZE] = "", env_from[330], env_rcpt[330];
    struct reader r = {body, 0};
    CURL *h = open_handle(c, &w, errbuf);
    if (!h) {
        o->kind = SU_NO_SESSION;
        snprintf(o->text, sizeof o->text, "libcurl cannot make a handle");
        return;
    }
    snprintf(env_from, sizeof env_from, "<%s>", from);
    snprintf(env_rcpt, sizeof env_rcpt, "<%s>", rcpt);
    struct curl_slist *to = curl_slist_append(NULL, env_rcpt);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, env_from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, to);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &r);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    curl_slist_free_all(to);
    if (w.stage && w.code && (rc == CURLE_OK || w.code >= 400)) {
        o->kind = SU_REPLY;
        o->stage = w.stage;
        o->code = w.code;
        snprintf(o->text, sizeof o->text, "%s", w.text);
    } else {
        failed(rc, &w, errbuf, o);
    }
}
