/* smtp: email through libesmtp. Each worker sends its batch of messages in
 * one SMTP session (one connection, one EHLO/STARTTLS/AUTH, the messages
 * pipelined), then reads every message's reverse-path, recipient and data
 * status and maps them per RFC 5321 and RFC 3463:
 *   2xx accepted (the server's reply text becomes the gateway id),
 *   4xx and any 4.x.x temporary, 5xx permanent, 5.1.x after MAIL FROM a
 *   bad address (except 5.1.3, a refusal of how the address was written,
 *   and 5.1.7/5.1.8, the sender's), no connection, a dropped connection or
 *   a TLS failure temporary. Addresses go out with a non-ASCII domain as
 *   its A-label; a message whose envelope has a non-ASCII local part needs
 *   SMTPUTF8, which libesmtp cannot write: it goes through smtp_utf8.c
 *   (libcurl) when the server offers SMTPUTF8, and otherwise fails
 *   (permanent, "smtputf8_unsupported", the address not suppressed).
 * With bounce_address set, the envelope sender is that address with the
 * message's number in it (VERP, hd_mime_verp: bounces+N@domain) on both
 * paths, and the mail carries X-Herald-Message: N, so that herald bounces
 * fetch can tell which message a bounce is about.
 * TLS uses our own SSL_CTX (ca_file or the system store); libesmtp reports
 * an unverifiable or mismatched certificate as an event, which we refuse
 * unless tls_verify = no (logged once as a warning). libesmtp cannot do
 * implicit TLS, so for port 465 each session goes through a relay thread:
 * libesmtp talks plain SMTP to 127.0.0.1, the relay speaks TLS to the server
 * and verifies it itself. TCP_NODELAY is set by interposing connect() in the
 * herald binary (src/nodelay.c), since libesmtp offers no socket hook. */
#include "smtp_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
/* OpenSSL first: libesmtp declares smtp_starttls_set_ctx only after it */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <auth-client.h>
#include <libesmtp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "herald/mime.h"
#include "herald/time.h"
#include "herald/valid.h"

static pthread_once_t auth_once = PTHREAD_ONCE_INIT;

static void auth_init(void)
{
    auth_client_init();
}

static void conf_free(struct smtp_conf *c)
{
    if (!c)
        return;
    free(c->host);
    free(c->username);
    free(c->from);
    free(c->reply_to);
    free(c->helo);
    free(c->unsub_url);
    free(c->unsub_mailto);
    free(c->bounce);
    free(c->ca_file);
    if (c->ctx)
        SSL_CTX_free(c->ctx);
    pthread_mutex_destroy(&c->utf8_mu);
    free(c);
}

static int sm_init(const struct hd_provider_cfg *cfg, struct hd_log *log, void **conf,
                   struct hd_err *err)
{
    struct smtp_conf *c = hd_xcalloc(1, sizeof *c);
    const char *v;
    c->log = log;
    pthread_mutex_init(&c->utf8_mu, NULL);
    c->utf8_offered = -1;
    c->host = hd_xstrdup(hd_provider_get(cfg, "host"));
    c->port = (v = hd_provider_get(cfg, "port")) ? atoi(v) : 587;
    v = hd_provider_get(cfg, "starttls");
    const char *imp = hd_provider_get(cfg, "implicit_tls");
    bool implicit = imp ? (strcmp(imp, "yes") == 0 || strcmp(imp, "true") == 0 ||
                           strcmp(imp, "on") == 0 || strcmp(imp, "1") == 0)
                        : c->port == 465;
    c->tls = implicit                           ? TLS_IMPLICIT
             : !v || strcmp(v, "required") == 0 ? TLS_REQUIRED
             : strcmp(v, "optional") == 0       ? TLS_OPTIONAL
                                                : TLS_NONE;
    v = hd_provider_get(cfg, "tls_verify");
    c->verify = !v || (strcmp(v, "no") != 0 && strcmp(v, "false") != 0 && strcmp(v, "off") != 0 &&
                       strcmp(v, "0") != 0);
    c->username = hd_xstrdup(hd_provider_get(cfg, "username"));
    const struct hd_cfg_secret *pw = hd_provider_secret(cfg, "password");
    c->password = pw ? pw->value : NULL;
    if (c->username && !c->password) {
        conf_free(c);
        return hd_err_set(err, HD_E_CONFIG,
                          "username is set but no password_env or "
                          "password_file");
    }
    c->from = hd_xstrdup(hd_provider_get(cfg, "from"));
    c->reply_to = hd_xstrdup(hd_provider_get(cfg, "reply_to"));
    c->helo = hd_xstrdup(hd_provider_get(cfg, "helo"));
    c->unsub_url = hd_xstrdup(hd_provider_get(cfg, "unsubscribe_url"));
    c->unsub_mailto = hd_xstrdup(hd_provider_get(cfg, "unsubscribe_mailto"));
    c->bounce = hd_xstrdup(hd_provider_get(cfg, "bounce_address"));
    char verp[320];
    if (c->bounce && hd_mime_verp(c->bounce, 1, verp, sizeof verp) < 0) {
        conf_free(c);
        return hd_err_set(err, HD_E_CONFIG, "bounce_address '%s' is not an email address",
                          hd_provider_get(cfg, "bounce_address"));
    }
    snprintf(c->esp, sizeof c->esp, "%s", (v = hd_provider_get(cfg, "esp")) ? v : "");
    c->timeout = cfg->timeout > 0 ? (long)cfg->timeout : 30;
    if (c->tls != TLS_NONE) {
        c->ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
        /* TLS 1.2 at most: after a TLS 1.3 handshake the server's session
         * tickets sit read in OpenSSL's buffer while libesmtp polls the
         * socket for them, and the session stalls for the whole timeout
         * (one run of the SMTP tests in four or five, against aiosmtpd) */
        SSL_CTX_set_max_proto_version(c->ctx, TLS1_2_VERSION);
        const char *ca = hd_provider_get(cfg, "ca_file");
        c->ca_file = hd_xstrdup(ca);
        if (ca ? SSL_CTX_load_verify_locations(c->ctx, ca, NULL) != 1
               : SSL_CTX_set_default_verify_paths(c->ctx) != 1) {
            conf_free(c);
            return hd_err_set(err, HD_E_CONFIG, "cannot load the CA certificates%s%s",
                              ca ? " in " : "", ca ? ca : "");
        }
        if (!c->verify)
            hd_log_warn(log,
                        "provider '%s': tls_verify = no: the server's certificate is not "
                        "checked, so anyone on the path can read and change mail",
                        cfg->name);
    }
    pthread_once(&auth_once, auth_init);
    *conf = c;
    return 0;
}

static void sm_fini(void *conf)
{
    conf_free(conf);
}

/* ---- implicit TLS relay -------------------------------------------------------- */

struct relay {
    struct smtp_conf *c;
    int lfd;
    int port;
    pthread_t th;
    char err[256];
};

static int tcp_connect(const char *host, int port, long timeout, char *why, size_t size)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(why, size, "cannot resolve '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = {timeout, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        snprintf(why, size, "cannot connect to %s:%d: %s", host, port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void *relay_main(void *arg)
{
    struct relay *r = arg;
    struct pollfd p = {.fd = r->lfd, .events = POLLIN};
    int cfd = -1, sfd = -1;
    SSL *ssl = NULL;
    if (poll(&p, 1, (int)r->c->timeout * 1000) <= 0 || (cfd = accept(r->lfd, NULL, NULL)) < 0)
        goto out;
    if ((sfd = tcp_connect(r->c->host, r->c->port, r->c->timeout, r->err, sizeof r->err)) < 0)
        goto out;
    ssl = SSL_new(r->c->ctx);
    SSL_set_fd(ssl, sfd);
    SSL_set_tlsext_host_name(ssl, r->c->host);
    if (r->c->verify) {
        SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
        SSL_set1_host(ssl, r->c->host);
    }
    if (SSL_connect(ssl) != 1) {
        long v = SSL_get_verify_result(ssl);
        snprintf(r->err, sizeof r->err, "TLS with %s:%d failed: %s", r->c->host, r->c->port,
                 v != X509_V_OK ? X509_verify_cert_error_string(v)
                                : ERR_reason_error_string(ERR_peek_last_error()));
        goto out;
    }
    char buf[16384];
    for (;;) {
        struct pollfd fds[2] = {{.fd = cfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        if (SSL_pending(ssl) == 0 && poll(fds, 2, (int)r->c->timeout * 1000) <= 0)
            break;
        if (SSL_pending(ssl) > 0 || (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            int n = SSL_read(ssl, buf, sizeof buf);
            if (n <= 0 || write(cfd, buf, (size_t)n) != n)
                break;
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(cfd, buf, sizeof buf);
            if (n <= 0 || SSL_write(ssl, buf, (int)n) != n)
                break;
        }
    }
out:
    if (ssl) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    if (sfd >= 0)
        close(sfd);
    if (cfd >= 0)
        close(cfd);
    ERR_clear_error();
    return NULL;
}

static int relay_start(struct relay *r, struct smtp_conf *c, char *why, size_t size)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    memset(r, 0, sizeof *r);
    r->c = c;
    r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(r->lfd, 1) < 0 ||
        getsockname(r->lfd, (struct sockaddr *)&a, &len) < 0) {
        snprintf(why, size, "cannot start the TLS relay: %s", strerror(errno));
        if (r->lfd >= 0)
            close(r->lfd);
        return -1;
    }
    r->port = ntohs(a.sin_port);
    if (pthread_create(&r->th, NULL, relay_main, r) != 0) {
        close(r->lfd);
        snprintf(why, size, "cannot start the TLS relay thread");
        return -1;
    }
    return 0;
}

static void relay_stop(struct relay *r)
{
    pthread_join(r->th, NULL);
    close(r->lfd);
}

/* ---- one session ---------------------------------------------------------------- */

struct session {
    struct smtp_conf *c;
    char tls_err[256];
    bool in_auth;       /* AUTH sent, its final reply not read yet */
    char auth_err[256]; /* the server's refusal of AUTH, or "" */
};

/* What the server answers to AUTH: libesmtp goes on to MAIL FROM after a
 * refusal (and a server may then say "530 Authentication required" to every
 * message, or drop the connection), so the refusal is kept here to report
 * the provider's fault. Lines we write are never looked at beyond their
 * verb: they carry the credentials. */
static void monitor_cb(const char *buf, int len, int writing, void *arg)
{
    struct session *ss = arg;
    if (writing == SMTP_CB_WRITING) {
        if (len >= 5 && strncasecmp(buf, "AUTH ", 5) == 0)
            ss->in_auth = true;
        return;
    }
    if (writing != SMTP_CB_READING || !ss->in_auth || len < 4)
        return;
    if (buf[0] == '3' || buf[3] == '-')
        return; /* a challenge, or a reply line with more to come */
    ss->in_auth = false;
    if (buf[0] == '2')
        return;
    while (len > 0 && (buf[len - 1] == '\r' || buf[len - 1] == '\n'))
        len--;
    snprintf(ss->auth_err, sizeof ss->auth_err, "authentication failed: %.*s", len, buf);
}

static void event_cb(smtp_session_t s, int event, void *arg, ...)
{
    struct session *ss = arg;
    va_list ap;
    int *ok;
    (void)s;
    /* libesmtp calls this for each line of every message it sends (about
     * 80 a message): leave those at once */
    if (event == SMTP_EV_MESSAGEDATA || event == SMTP_EV_MESSAGESENT)
        return;
    va_start(ap, arg);
    switch (event) {
    case SMTP_EV_INVALID_PEER_CERTIFICATE: {
        long v = va_arg(ap, long);
        ok = va_arg(ap, int *);
        *ok = !ss->c->verify;
        if (ss->c->verify)
            snprintf(ss->tls_err, sizeof ss->tls_err,
                     "TLS: the server's certificate does not verify: %s",
                     X509_verify_cert_error_string(v));
        break;
    }
    case SMTP_EV_NO_PEER_CERTIFICATE:
    case SMTP_EV_WRONG_PEER_CERTIFICATE:
        ok = va_arg(ap, int *);
        *ok = !ss->c->verify;
        if (ss->c->verify)
            snprintf(ss->tls_err, sizeof ss->tls_err, "TLS: %s",
                     event == SMTP_EV_NO_PEER_CERTIFICATE
                         ? "the server sent no certificate"
                         : "the server's certificate is not for this host name");
        break;
    case SMTP_EV_WEAK_CIPHER:
        (void)va_arg(ap, long);
        ok = va_arg(ap, int *);
        *ok = 1; /* TLS 1.2 is the floor; the cipher is OpenSSL's choice */
        break;
    case SMTP_EV_CONNECT:
        hd_log_debug(ss->c->log, "smtp: connected to %s:%d", ss->c->host, ss->c->port);
        break;
    case SMTP_EV_STARTTLS_OK: {
        SSL *ssl = va_arg(ap, SSL *);
        const char *cipher = va_arg(ap, const char *);
        hd_log_debug(ss->c->log, "smtp: STARTTLS with %s: %s, %s", ss->c->host,
                     SSL_get_version(ssl), cipher ? cipher : "?");
        break;
    }
    case SMTP_EV_EXTNA_STARTTLS:
        snprintf(ss->tls_err, sizeof ss->tls_err,
                 "the server does not offer STARTTLS (starttls = required)");
        break;
    default:
        break;
    }
    va_end(ap);
}

static int interact(auth_client_request_t req, char **result, int fields, void *arg)
{
    struct smtp_conf *c = arg;
    for (int i = 0; i < fields; i++) {
        if (req[i].flags & AUTH_PASS)
            result[i] = c->password;
        else if (req[i].flags & AUTH_USER)
            result[i] = c->username;
        else
            result[i] = NULL;
        if (!result[i])
            return 0;
    }
    return 1;
}

struct body {
    struct hd_buf text;
    bool given;
    bool built; /* text is the message, its digest still to take */
};

/* libesmtp reads the message through this: all of it at once, and NULL at
 * the end; a NULL len asks to start again. */
static const char *message_cb(void **ctx, int *len, void *arg)
{
    struct body *b = arg;
    (void)ctx;
    if (!len) {
        b->given = false;
        return NULL;
    }
    if (b->given) {
        *len = 0;
        return NULL;
    }
    b->given = true;
    *len = (int)b->text.len;
    return b->text.data;
}

static void map_status(const smtp_status_t *st, struct hd_result *r, const char *stage)
{
    int code = st ? st->code : 0;
    const char *text = st && st->text ? st->text : "";
    char clean[400];
    size_t n = 0;
    for (const char *p = text; *p && n < sizeof clean - 1; p++)
        if (*p != '\r' && *p != '\n')
            clean[n++] = *p;
    clean[n] = '\0';
    if (code >= 200 && code < 300) {
        hd_result_set(r, HD_OUT_ACCEPTED, code, "%s", clean);
        /* "2.0.0 Ok: queued as 4Xy7" names the message; else keep the reply */
        const char *q = strstr(clean, "queued as ");
        snprintf(r->gateway_id, sizeof r->gateway_id, "%.255s", q ? q + 10 : clean);
        return;
    }
    /* RFC 3463 codes: libesmtp parses them when the server advertises
     * ENHANCEDSTATUSCODES; otherwise read them from the text */
    int ec = st ? st->enh_class : 0, es = st ? st->enh_subject : 0, ed = st ? st->enh_detail : 0;
    if (!ec && sscanf(clean, "%d.%d.%d", &ec, &es, &ed) < 2)
        ec = es = ed = 0;
    bool temp = (code >= 400 && code < 500) || ec == 4;
    /* X.1.3 (the address's syntax) and X.6.7 (a non-ASCII address, RFC
     * 6531) refuse how herald wrote the address, not the mailbox: such a
     * reply never suppresses it (issue 15) */
    bool encoding = (es == 1 && ed == 3) || (es == 6 && ed == 7);
    hd_result_set(
        r, temp ? HD_OUT_TEMPORARY : HD_OUT_PERMANENT, code, "%s refused: %d %s%s", stage, code,
        clean, encoding ? " (the server refused how the address was written: not suppressed)" : "");
    /* X.1.7 and X.1.8 are the sender's address (Postfix can say so at RCPT
     * TO), and no MAIL FROM refusal is the recipient's fault */
    if (!temp && ec == 5 && es == 1 && !encoding && ed != 7 && ed != 8 &&
        strcmp(stage, "MAIL FROM") != 0)
        r->bad_address = true;
}

/* The envelope of a message that goes out with SMTPUTF8 (smtp_utf8.c). */
struct envelope {
    char from[320], rcpt[320];
};

/* The messages of one sm_send call and what the session makes of them;
 * index i is the same message in every array. */
struct batch {
    size_t n;
    struct hd_valid *valid; /* ICU state, made for the first non-ASCII domain */
    struct body *bodies;
    smtp_message_t *mm; /* NULL: not in the libesmtp session */
    smtp_recipient_t *rc;
    struct envelope **utf8; /* non-NULL: to send with SMTPUTF8 */
    struct hd_result *results;
};

/* Message i's text into its body, with From as given and the envelope's
 * recipient rcpt. */
static int build_body(const struct smtp_conf *c, const struct hd_msg *m, const char *from,
                      const char *rcpt, bool utf8, struct batch *b, size_t i, struct hd_err *e)
{
    struct hd_mail mail;
    hd_mail_of(&mail, m, from, m->reply_to ? m->reply_to : c->reply_to);
    mail.to = rcpt;
    mail.valid = &b->valid;
    mail.smtputf8 = utf8;
    mail.esp = c->esp[0] ? c->esp : NULL;
    if (m->category == HD_CAT_MARKETING) {
        if (!mail.unsubscribe_url)
            mail.unsubscribe_url = c->unsub_url;
        if (!mail.unsubscribe_mailto)
            mail.unsubscribe_mailto = c->unsub_mailto;
    }
    if (hd_mime_build(&mail, &b->bodies[i].text, e) < 0)
        return -1;
    b->bodies[i].built = true;
    return 0;
}

/* The digest of every message built, taken together: eight side by side
 * where the processor makes that cheaper (hd_sha256_hex_many). */
static void digest_bodies(struct batch *b)
{
    struct hd_digest_job *jobs = hd_xcalloc(b->n, sizeof *jobs);
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->bodies[i].built)
            jobs[n++] = (struct hd_digest_job){b->bodies[i].text.data, b->bodies[i].text.len,
                                               b->results[i].digest};
    hd_sha256_hex_many(jobs, n);
    free(jobs);
}

/* Builds each message and adds it to session s, or sets it aside for
 * SMTPUTF8 when its envelope has a non-ASCII local part; a message that
 * cannot be built gets its result now. Returns how many were added to s. */
static size_t add_messages(const struct smtp_conf *c, smtp_session_t s,
                           const struct hd_msg *const *msgs, struct batch *b)
{
    size_t queued = 0;
    for (size_t i = 0; i < b->n; i++) {
        const struct hd_msg *m = msgs[i];
        const char *from = m->from ? m->from : c->from;
        struct hd_err e = {0};
        char given[320], sender[320], envelope[320], rcpt[320];
        bool utf8_from, utf8_rcpt;
        hd_buf_init(&b->bodies[i].text);
        if (!from || hd_mime_address(from, given, sizeof given) < 0) {
            hd_result_set(&b->results[i], HD_OUT_PERMANENT, 0,
                          "no From address (set 'from' in the template or the provider)");
            continue;
        }
        /* VERP: bounces come back to bounce_address with the message's number */
        if (!c->bounce || hd_mime_verp(c->bounce, m->ref, sender, sizeof sender) < 0)
            memcpy(sender, given, sizeof given);
        if (hd_mime_wire_address(&b->valid, sender, true, envelope, sizeof envelope, &utf8_from,
                                 &e) < 0 ||
            hd_mime_wire_address(&b->valid, m->to, true, rcpt, sizeof rcpt, &utf8_rcpt, &e) < 0 ||
            build_body(c, m, from, rcpt, utf8_from || utf8_rcpt, b, i, &e) < 0) {
            hd_result_set(&b->results[i], HD_OUT_PERMANENT, 0, "%s", e.msg);
            continue;
        }
        if (utf8_from || utf8_rcpt) {
            b->utf8[i] = hd_xcalloc(1, sizeof *b->utf8[i]);
            memcpy(b->utf8[i]->from, envelope, sizeof envelope);
            memcpy(b->utf8[i]->rcpt, rcpt, sizeof rcpt);
            continue;
        }
        b->mm[i] = smtp_add_message(s);
        smtp_set_reverse_path(b->mm[i], envelope);
        b->rc[i] = smtp_add_recipient(b->mm[i], rcpt);
        smtp_set_messagecb(b->mm[i], message_cb, &b->bodies[i]);
        queued++;
    }
    digest_bodies(b);
    return queued;
}

/* Points session s at server, with the provider's timeouts, TLS and
 * authentication. Returns the authentication context to destroy, or NULL. */
static auth_context_t set_up_session(struct smtp_conf *c, smtp_session_t s, const char *server,
                                     struct session *ss)
{
    auth_context_t auth = NULL;
    smtp_set_server(s, server);
    if (c->helo)
        smtp_set_hostname(s, c->helo);
    /* libesmtp counts in milliseconds (and never waits less than a second) */
    static const int states[] = {Timeout_GREETING, Timeout_ENVELOPE, Timeout_DATA, Timeout_TRANSFER,
                                 Timeout_DATA2};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        smtp_set_timeout(s, states[i] | Timeout_OVERRIDE_RFC2822_MINIMUM, c->timeout * 1000);
    smtp_set_eventcb(s, event_cb, ss);
    if (c->tls == TLS_OPTIONAL || c->tls == TLS_REQUIRED) {
        smtp_starttls_set_ctx(s, c->ctx);
        smtp_starttls_enable(s, c->tls == TLS_REQUIRED ? Starttls_REQUIRED : Starttls_ENABLED);
    } else {
        smtp_starttls_enable(s, Starttls_DISABLED);
    }
    if (c->username) {
        smtp_set_monitorcb(s, monitor_cb, ss, 0);
        auth = auth_create_context();
        auth_set_mechanism_flags(auth, AUTH_PLUGIN_PLAIN, 0);
        auth_set_interact_cb(auth, interact, c);
        smtp_auth_set_context(s, auth);
    }
    return auth;
}

/* The provider, not the message, is at fault (issue 16, item 5): the
 * dispatcher pauses it and the message waits without spending an attempt. */
static void provider_fault(struct hd_result *r, int code, const char *text)
{
    hd_result_set(r, HD_OUT_THROTTLED, code, "%s", text);
    r->provider_fault = true;
    r->retry_after_ms = HD_PROVIDER_FAULT_PAUSE_MS;
}

/* The result of a message the session said nothing about: the session
 * failed before it. */
static void session_failed(struct hd_result *r, const struct session *ss, int started)
{
    char buf[200];
    int e = smtp_errno();
    if (ss->tls_err[0])
        provider_fault(r, 0, ss->tls_err);
    else if (ss->auth_err[0])
        provider_fault(r, atoi(ss->auth_err + sizeof "authentication failed: " - 1), ss->auth_err);
    else if (started)
        hd_result_set(r, HD_OUT_TEMPORARY, 0, "the server ended the session (%s)",
                      smtp_strerror(e, buf, sizeof buf));
    else
        hd_result_set(r, HD_OUT_TEMPORARY, 0, "%s", smtp_strerror(e, buf, sizeof buf));
}

/* The RFC 3463 subject and detail of a reply ("5.7.8": 7 and 8), from
 * libesmtp when the server advertises ENHANCEDSTATUSCODES, else its text. */
static void enhanced(const smtp_status_t *st, int *es, int *ed)
{
    *es = st->enh_subject, *ed = st->enh_detail;
    if (!st->enh_class && (!st->text || sscanf(st->text, "%*d.%d.%d", es, ed) != 2))
        *es = *ed = 0;
}

/* A refusal for want of authentication: 530 (RFC 4954), 535, or X.7.0 /
 * X.7.8 / X.7.9 / X.7.11 (authentication required, credentials invalid,
 * mechanism too weak, encryption required). After a refused AUTH, any
 * X.7.x (a relay denied at RCPT TO) is for want of it too. */
static bool auth_refusal(const smtp_status_t *st, const struct session *ss)
{
    int es, ed;
    enhanced(st, &es, &ed);
    if (ss->auth_err[0] && es == 7)
        return true;
    return st->code == 530 || st->code == 535 ||
           (es == 7 && (ed == 0 || ed == 8 || ed == 9 || ed == 11));
}

/* A command refused because the session is not authenticated: the
 * provider's fault, reported with the refusal of AUTH when there was one. */
static void auth_fault(struct hd_result *r, const smtp_status_t *st, const struct session *ss,
                       const char *stage)
{
    struct hd_result m = {0};
    map_status(st, &m, stage);
    char text[512];
    if (ss->auth_err[0])
        snprintf(text, sizeof text, "%.250s; then %.250s", ss->auth_err, m.text);
    else
        snprintf(text, sizeof text, "%.500s", m.text);
    provider_fault(r, st->code, text);
}

/* The result of each message the session carried: the first refusal of
 * MAIL FROM and RCPT TO, else the DATA reply. */
static void session_results(struct batch *b, const struct session *ss, int started)
{
    for (size_t i = 0; i < b->n; i++) {
        if (!b->mm[i])
            continue;
        const smtp_status_t *rp = smtp_reverse_path_status(b->mm[i]);
        const smtp_status_t *rs = smtp_recipient_status(b->rc[i]);
        const smtp_status_t *ts = smtp_message_transfer_status(b->mm[i]);
        if (rp && rp->code >= 400 && (ss->auth_err[0] || auth_refusal(rp, ss)))
            auth_fault(&b->results[i], rp, ss, "MAIL FROM");
        else if (rp && rp->code >= 400)
            map_status(rp, &b->results[i], "MAIL FROM");
        else if (rs && rs->code >= 400 && ss->auth_err[0] && auth_refusal(rs, ss))
            auth_fault(&b->results[i], rs, ss, "RCPT TO");
        else if (rs && rs->code >= 400)
            map_status(rs, &b->results[i], "RCPT TO");
        else if (ts && ts->code > 0)
            map_status(ts, &b->results[i], "DATA");
        else
            session_failed(&b->results[i], ss, started);
    }
}

/* The messages added to session s, in one libesmtp session. */
static void esmtp_session(struct smtp_conf *c, smtp_session_t s, struct batch *b)
{
    struct session ss = {.c = c};
    struct relay relay;
    char server[300], why[300] = "";
    if (c->tls == TLS_IMPLICIT) {
        if (relay_start(&relay, c, why, sizeof why) < 0) {
            for (size_t i = 0; i < b->n; i++)
                if (b->mm[i])
                    hd_result_set(&b->results[i], HD_OUT_TEMPORARY, 0, "%s", why);
            return;
        }
        snprintf(server, sizeof server, "127.0.0.1:%d", relay.port);
    } else {
        snprintf(server, sizeof server, "%s:%d", c->host, c->port);
    }
    auth_context_t auth = set_up_session(c, s, server, &ss);
    int started = smtp_start_session(s);
    if (c->tls == TLS_IMPLICIT) {
        relay_stop(&relay);
        if (relay.err[0] && !ss.tls_err[0])
            snprintf(ss.tls_err, sizeof ss.tls_err, "%s", relay.err);
    }
    session_results(b, &ss, started);
    if (auth)
        auth_destroy_context(auth);
}

static bool ascii_local(const char *addr)
{
    for (; *addr && *addr != '@'; addr++)
        if ((unsigned char)*addr >= 0x80)
            return false;
    return true;
}

/* The messages set aside for SMTPUTF8, one session each (smtp_utf8.c). */
static void utf8_messages(struct smtp_conf *c, struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        if (!b->utf8[i])
            continue;
        struct smtp_utf8_out o;
        struct hd_result *r = &b->results[i];
        hd_smtp_utf8_send(c, b->utf8[i]->from, b->utf8[i]->rcpt, &b->bodies[i].text, &o);
        smtp_status_t st = {.code = o.code, .text = o.text};
        switch (o.kind) {
        case SU_REPLY:
            map_status(&st, r, o.stage);
            break;
        case SU_NOT_OFFERED:
            hd_result_set(r, HD_OUT_PERMANENT, 0,
                          "smtputf8_unsupported: the address '%s' has a non-ASCII local part, "
                          "which only SMTPUTF8 (RFC 6531) carries, and %s:%d does not offer "
                          "SMTPUTF8; nothing was sent (the address is not suppressed)",
                          ascii_local(b->utf8[i]->rcpt) ? b->utf8[i]->from : b->utf8[i]->rcpt,
                          c->host, c->port);
            break;
        case SU_TLS:
        case SU_AUTH:
            provider_fault(r, o.code, o.text);
            break;
        case SU_NO_SESSION:
            hd_result_set(r, HD_OUT_TEMPORARY, 0, "%s", o.text);
            break;
        }
    }
}

static void sm_send(void *conf, void **conn, const struct hd_msg *const *msgs, size_t n,
                    struct hd_result *results)
{
    struct smtp_conf *c = conf;
    struct batch b = {n,
                      NULL,
                      hd_xcalloc(n, sizeof *b.bodies),
                      hd_xcalloc(n, sizeof *b.mm),
                      hd_xcalloc(n, sizeof *b.rc),
                      hd_xcalloc(n, sizeof *b.utf8),
                      results};
    smtp_session_t s = smtp_create_session();
    int64_t t0 = hd_clock_mono_ms();
    (void)conn; /* libesmtp ends each session with QUIT: nothing to keep */

    if (add_messages(c, s, msgs, &b))
        esmtp_session(c, s, &b);
    smtp_destroy_session(s);
    utf8_messages(c, &b);
    int64_t dt = hd_clock_mono_ms() - t0;
    for (size_t i = 0; i < n; i++) {
        results[i].latency_ms = dt;
        hd_buf_release(&b.bodies[i].text);
        free(b.utf8[i]);
    }
    hd_valid_free(b.valid);
    free(b.bodies);
    free(b.mm);
    free(b.rc);
    free(b.utf8);
}

const struct hd_drv_ops hd_drv_smtp = {
    .type = "smtp",
    .channels = 1u << HD_CH_EMAIL,
    .batch = 1000,
    .init = sm_init,
    .fini = sm_fini,
    .send = sm_send,
};
