/* smtp_session: one SMTP session of herald's own (RFC 5321), carrying a
 * batch of messages, for smtp.c. It connects (implicit TLS on its own
 * socket, no relay), reads the greeting, says EHLO (HELO when EHLO is
 * refused), takes STARTTLS when the provider asks for it, authenticates
 * with AUTH PLAIN when it has a username, then sends each message's
 * envelope and text. With PIPELINING (RFC 2920) a message costs one write
 * and one read: its text and final dot go in one write with the next
 * message's MAIL FROM, RCPT TO and DATA (the text may start a group), or
 * with RSET after a transaction that failed. Every reply is kept per
 * message and stage for smtp.c to map; what ends the session early is
 * kept as text, the certificate's or the credentials' refusal apart
 * (provider faults). The socket is blocking with the provider's timeout
 * on every read and write (SO_RCVTIMEO, SO_SNDTIMEO), and TCP_NODELAY is
 * set on it. Lines written after AUTH are never logged: they carry the
 * credentials. libesmtp, which this replaces, cost about 80,000
 * instructions and four writes, three reads and six polls a message. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "herald/time.h"
#include "smtp_int.h"
#include "wire.h"

struct conn {
    struct smtp_conf *c;
    int fd;
    SSL *ssl;
    char in[8192];
    size_t inlen, inpos;
    struct hd_buf out;
    int64_t deadline; /* the current reply's or write's: now + timeout */
    char why[300];    /* what broke the session, once it broke */
};

/* Extensions from the EHLO reply. */
struct caps {
    bool pipelining, starttls, auth, auth_plain, auth_login, smtputf8;
};

static int broke(struct conn *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int broke(struct conn *s, const char *fmt, ...)
{
    if (!s->why[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->why, sizeof s->why, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int open_socket(struct conn *s)
{
    struct smtp_conf *c = s->c;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    char service[16];
    snprintf(service, sizeof service, "%d", c->port);
    int rc = getaddrinfo(c->host, service, &hints, &res);
    if (rc != 0)
        return broke(s, "cannot resolve '%s': %s", c->host, gai_strerror(rc));
    int err = 0;
    for (struct addrinfo *ai = res; ai && s->fd < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        struct timeval tv = {c->timeout, 0};
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            s->fd = fd;
            break;
        }
        err = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (s->fd < 0)
        return broke(s, "cannot connect to %s:%d: %s", c->host, c->port, strerror(err));
    hd_log_debug(c->log, "smtp: connected to %s:%d", c->host, c->port);
    return 0;
}

/* TLS on the connection; a refusal is the provider's fault (tls_err). */
static int tls_start(struct conn *s, bool implicit, char *tls_err, size_t n)
{
    struct smtp_conf *c = s->c;
    s->ssl = SSL_new(c->ctx);
    if (!s->ssl)
        HD_BUG("SSL_new failed");
    SSL_set_fd(s->ssl, s->fd);
    if (!hd_wire_tls_name(s->ssl, c->host, c->verify)) {
        ERR_clear_error();
        snprintf(tls_err, n, "TLS: cannot set the name the certificate must have");
        return broke(s, "%s", tls_err);
    }
    ERR_clear_error();
    if (SSL_connect(s->ssl) == 1) {
        hd_log_debug(c->log, "smtp: %s with %s: %s, %s", implicit ? "TLS" : "STARTTLS", c->host,
                     SSL_get_version(s->ssl), SSL_get_cipher_name(s->ssl));
        return 0;
    }
    long v = SSL_get_verify_result(s->ssl);
    unsigned long e = ERR_peek_last_error();
    const char *reason =
        e && ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "the connection closed";
    if (implicit) /* the words of the relay that did implicit TLS before */
        snprintf(tls_err, n, "TLS with %s:%d failed: %s", c->host, c->port,
                 v != X509_V_OK ? X509_verify_cert_error_string(v) : reason);
    else if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH)
        snprintf(tls_err, n, "TLS: the server's certificate is not for this host name");
    else if (v != X509_V_OK)
        snprintf(tls_err, n, "TLS: the server's certificate does not verify: %s",
                 X509_verify_cert_error_string(v));
    else
        snprintf(tls_err, n, "TLS with %s:%d failed: %s", c->host, c->port, reason);
    ERR_clear_error();
    return broke(s, "%s", tls_err);
}

/* Writes what is waiting in out. */
static int flush(struct conn *s)
{
    size_t off = 0;
    s->deadline = hd_clock_mono_ms() + s->c->timeout * 1000;
    while (off < s->out.len) {
        if (off && hd_clock_mono_ms() > s->deadline) { /* a server that takes a byte at a time */
            errno = EAGAIN;
            break;
        }
        ssize_t k;
        if (s->ssl) {
            ERR_clear_error();
            size_t left = s->out.len - off;
            int rc = SSL_write(s->ssl, s->out.data + off, left > INT32_MAX ? INT32_MAX : (int)left);
            k = rc > 0 ? rc : -1;
        } else {
            k = send(s->fd, s->out.data + off, s->out.len - off, MSG_NOSIGNAL);
        }
        if (k < 0 && errno == EINTR && !s->ssl)
            continue;
        if (k <= 0)
            break;
        off += (size_t)k;
    }
    int err = errno;
    bool all = off == s->out.len;
    hd_wipe(s->out.data, s->out.len); /* AUTH's line may be in it */
    hd_buf_reset(&s->out);
    if (!all)
        return broke(s, "cannot write to %s:%d: %s", s->c->host, s->c->port,
                     err == EAGAIN || err == EWOULDBLOCK ? "timed out" : strerror(err));
    return 0;
}

/* One line into line (without CR LF, cut to size); -1 when the server
 * closed or went quiet past the timeout. */
static int read_line(struct conn *s, char *line, size_t size)
{
    size_t n = 0;
    for (;;) {
        if (s->inpos < s->inlen) { /* the line's bytes so far, up to its LF */
            const char *p = s->in + s->inpos, *nl = memchr(p, '\n', s->inlen - s->inpos);
            size_t k = nl ? (size_t)(nl - p) : s->inlen - s->inpos;
            size_t take = n + k < size - 1 ? k : size - 1 - n;
            memcpy(line + n, p, take);
            n += take;
            s->inpos += k + (nl != NULL);
            if (nl) {
                if (n && line[n - 1] == '\r')
                    n--;
                line[n] = '\0';
                return 0;
            }
            continue;
        }
        if (hd_clock_mono_ms() > s->deadline) /* dripped a byte at a time */
            return broke(s, "no whole reply from the server within the timeout");
        ssize_t k;
        if (s->ssl) {
            ERR_clear_error();
            int rc = SSL_read(s->ssl, s->in, sizeof s->in);
            k = rc > 0 ? rc : rc == 0 ? 0 : -1;
        } else {
            k = recv(s->fd, s->in, sizeof s->in, 0);
            if (k < 0 && errno == EINTR)
                continue;
        }
        if (k == 0)
            return broke(s, "the server closed the connection");
        if (k < 0)
            return broke(s, "%s",
                         errno == EAGAIN || errno == EWOULDBLOCK
                             ? "no answer from the server within the timeout"
                             : strerror(errno));
        s->inlen = (size_t)k;
        s->inpos = 0;
    }
}

/* A whole reply into r: its code and its last line's text; the lines of
 * an EHLO reply name the extensions (caps, when given). */
static int reply(struct conn *s, struct hd_smtp_reply *r, struct caps *caps)
{
    char line[1024];
    s->deadline = hd_clock_mono_ms() + s->c->timeout * 1000;
    for (;;) {
        if (read_line(s, line, sizeof line) < 0)
            return -1;
        size_t len = strlen(line);
        if (len < 3 || line[0] < '1' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
            line[2] < '0' || line[2] > '9' || (len > 3 && line[3] != ' ' && line[3] != '-'))
            return broke(s, "the server's reply is not SMTP: '%.80s'", line);
        const char *text = len > 4 ? line + 4 : "";
        if (caps) {
            caps->pipelining |= strcasecmp(text, "PIPELINING") == 0;
            caps->starttls |= strcasecmp(text, "STARTTLS") == 0;
            caps->smtputf8 |= strcasecmp(text, "SMTPUTF8") == 0;
            if (strncasecmp(text, "AUTH", 4) == 0 && (text[4] == ' ' || text[4] == '=')) {
                caps->auth = true;
                for (const char *p = text + 5; *p; p += strcspn(p, " ")) {
                    p += strspn(p, " ");
                    caps->auth_plain |=
                        strncasecmp(p, "PLAIN", 5) == 0 && (p[5] == ' ' || p[5] == '\0');
                    caps->auth_login |=
                        strncasecmp(p, "LOGIN", 5) == 0 && (p[5] == ' ' || p[5] == '\0');
                }
            }
        }
        if (len == 3 || line[3] == ' ') {
            r->code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
            size_t tl = strlen(text) < sizeof r->text ? strlen(text) : sizeof r->text - 1;
            memcpy(r->text, text, tl);
            r->text[tl] = '\0';
            return 0;
        }
    }
}

static void put(struct conn *s, const char *a, const char *b, const char *c)
{
    hd_buf_adds(&s->out, a);
    if (b)
        hd_buf_adds(&s->out, b);
    if (c)
        hd_buf_adds(&s->out, c);
    hd_buf_add(&s->out, "\r\n", 2);
}

static int command(struct conn *s, const char *a, const char *b, struct hd_smtp_reply *r,
                   struct caps *caps)
{
    put(s, a, b, NULL);
    return flush(s) < 0 ? -1 : reply(s, r, caps);
}

/* EHLO, or HELO when the server refuses it. */
static int hello(struct conn *s, struct caps *caps, struct hd_smtp_reply *r)
{
    *caps = (struct caps){0};
    if (command(s, "EHLO ", s->c->helo_name, r, caps) < 0)
        return -1;
    if (r->code >= 500 && command(s, "HELO ", s->c->helo_name, r, NULL) < 0)
        return -1;
    if (r->code / 100 != 2)
        return broke(s, "the server refused the greeting: %d %s", r->code, r->text);
    return 0;
}

/* Sends head then base64(p, len) as one line (wiped after) and reads
 * the reply into r. */
static int send_b64(struct conn *s, const char *head, const void *p, size_t len,
                    struct hd_smtp_reply *r)
{
    char *b64 = hd_xcalloc(1, 4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, p, (int)len);
    int rc = command(s, head, b64, r, NULL);
    hd_wipe(b64, strlen(b64));
    free(b64);
    return rc;
}

/* AUTH PLAIN with the initial response (RFC 4954, RFC 4616), or AUTH
 * LOGIN when the server offers other mechanisms but not PLAIN. */
static void authenticate(struct conn *s, const struct caps *caps, char *auth_err, size_t n)
{
    struct smtp_conf *c = s->c;
    size_t u = strlen(c->username), p = strlen(c->password), len = u + p + 2;
    struct hd_smtp_reply r = {0};
    int rc;
    if (caps->auth_plain || !caps->auth_login) {
        unsigned char *plain = hd_xcalloc(1, len + 1);
        memcpy(plain + 1, c->username, u);
        memcpy(plain + 2 + u, c->password, p);
        rc = send_b64(s, "AUTH PLAIN ", plain, len, &r);
        hd_wipe(plain, len);
        free(plain);
    } else if ((rc = command(s, "AUTH LOGIN", NULL, &r, NULL)) == 0 && r.code == 334 &&
               (rc = send_b64(s, "", c->username, u, &r)) == 0 && r.code == 334) {
        rc = send_b64(s, "", c->password, p, &r);
    }
    if (rc == 0 && r.code / 100 != 2)
        snprintf(auth_err, n, "authentication failed: %d %.250s", r.code, r.text);
}

/* The text of message m, dot-stuffed, with its final dot. */
static void put_text(struct conn *s, const struct hd_smtp_item *m)
{
    const char *p = m->body, *end = m->body + m->len;
    while (p < end) {
        if (*p == '.')
            hd_buf_addc(&s->out, '.');
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl + 1 : end;
        hd_buf_add(&s->out, p, (size_t)(stop - p));
        p = stop;
    }
    if (m->len && m->body[m->len - 1] != '\n')
        hd_buf_add(&s->out, "\r\n", 2);
    hd_buf_add(&s->out, ".\r\n", 3);
}

static void put_envelope(struct conn *s, const struct hd_smtp_item *m)
{
    put(s, "MAIL FROM:<", m->from, m->utf8 ? "> SMTPUTF8" : ">");
    put(s, "RCPT TO:<", m->rcpt, ">");
    put(s, "DATA", NULL, NULL);
}

/* The messages with PIPELINING: each envelope's three replies, then its
 * text (or RSET) in one write with the next envelope. */
static void pipelined(struct conn *s, struct hd_smtp_item **m, size_t n)
{
    put_envelope(s, m[0]);
    for (size_t k = 0; k < n; k++) {
        if (flush(s) < 0 || reply(s, &m[k]->mail, NULL) < 0 || reply(s, &m[k]->rcpt_r, NULL) < 0 ||
            reply(s, &m[k]->data, NULL) < 0)
            return;
        /* DATA accepted though the recipient was refused (RFC 2920 3.1):
         * an empty message, a lone dot, then RSET as after any refusal */
        bool text = m[k]->data.code == 354, empty = text && m[k]->rcpt_r.code / 100 != 2;
        if (text && !empty)
            put_text(s, m[k]);
        else if (empty)
            hd_buf_add(&s->out, ".\r\n", 3);
        if (!text || empty)
            put(s, "RSET", NULL, NULL);
        if (k + 1 < n)
            put_envelope(s, m[k + 1]);
        if (flush(s) < 0)
            return;
        struct hd_smtp_reply dot, rset;
        if ((empty && reply(s, &dot, NULL) < 0) ||
            reply(s, text && !empty ? &m[k]->data : &rset, NULL) < 0)
            return;
    }
}

/* The messages one command at a time, for a server without PIPELINING. */
static void one_by_one(struct conn *s, struct hd_smtp_item **m, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        struct hd_smtp_reply rset;
        put(s, "MAIL FROM:<", m[k]->from, m[k]->utf8 ? "> SMTPUTF8" : ">");
        if (flush(s) < 0 || reply(s, &m[k]->mail, NULL) < 0)
            return;
        if (m[k]->mail.code / 100 == 2) {
            put(s, "RCPT TO:<", m[k]->rcpt, ">");
            if (flush(s) < 0 || reply(s, &m[k]->rcpt_r, NULL) < 0)
                return;
        }
        if (m[k]->rcpt_r.code / 100 == 2 && command(s, "DATA", NULL, &m[k]->data, NULL) < 0)
            return;
        if (m[k]->data.code == 354) {
            put_text(s, m[k]);
            if (flush(s) < 0 || reply(s, &m[k]->data, NULL) < 0)
                return;
        } else if (command(s, "RSET", NULL, &rset, NULL) < 0) {
            return;
        }
    }
}

/* The messages that can go (one that needs SMTPUTF8 only when the server
 * offers it), each transaction in turn. */
static void carry(struct conn *s, const struct caps *caps, struct hd_smtp_item *m, size_t n)
{
    struct hd_smtp_item **go = hd_xcalloc(n ? n : 1, sizeof *go);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        m[i].unoffered = m[i].utf8 && !caps->smtputf8;
        if (!m[i].unoffered)
            go[k++] = &m[i];
    }
    if (k)
        (caps->pipelining ? pipelined : one_by_one)(s, go, k);
    free(go);
}

void hd_smtp_session(struct smtp_conf *c, struct hd_smtp_item *m, size_t n,
                     struct hd_smtp_outcome *o)
{
    /* OpenSSL writes with write(): a server gone mid-session would raise
     * SIGPIPE, so it is blocked for the session and one it left pending
     * is taken before the mask comes back */
    sigset_t pipe, old;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &old);
    struct conn s = {.c = c, .fd = -1};
    struct caps caps;
    struct hd_smtp_reply r = {0};
    hd_buf_init(&s.out);
    memset(o, 0, sizeof *o);
    if (open_socket(&s) < 0 ||
        (c->tls == TLS_IMPLICIT && tls_start(&s, true, o->tls_err, sizeof o->tls_err) < 0))
        goto out;
    if (reply(&s, &r, NULL) < 0)
        goto out;
    o->greeted = true;
    bool in_step = true; /* the session can still say QUIT */
    if (r.code != 220) {
        broke(&s, "the server refused the session: %d %s", r.code, r.text);
        goto quit;
    }
    if (hello(&s, &caps, &r) < 0)
        goto out;
    if (c->tls == TLS_REQUIRED || c->tls == TLS_OPTIONAL) {
        if (!caps.starttls && c->tls == TLS_REQUIRED) {
            snprintf(o->tls_err, sizeof o->tls_err,
                     "the server does not offer STARTTLS (starttls = required)");
            broke(&s, "%s", o->tls_err);
            goto quit;
        }
        if (caps.starttls) {
            if (command(&s, "STARTTLS", NULL, &r, NULL) < 0)
                goto out;
            if (r.code == 220 && s.inpos < s.inlen) {
                /* bytes after the 220, sent in the clear, would be read
                 * as if they came over TLS: an injection (CVE-2011-0411) */
                snprintf(o->tls_err, sizeof o->tls_err,
                         "TLS: the server sent more after its STARTTLS reply; refused");
                broke(&s, "%s", o->tls_err);
                goto out;
            }
            if (r.code != 220 && c->tls == TLS_REQUIRED) {
                snprintf(o->tls_err, sizeof o->tls_err,
                         "TLS: the server refused STARTTLS: %d %.200s", r.code, r.text);
                goto quit;
            }
            /* refused with starttls = optional: on in the clear */
            if (r.code == 220 && (tls_start(&s, false, o->tls_err, sizeof o->tls_err) < 0 ||
                                  hello(&s, &caps, &r) < 0))
                goto out;
        }
    }
    if (c->username && caps.auth)
        authenticate(&s, &caps, o->auth_err, sizeof o->auth_err);
    if (!s.why[0])
        carry(&s, &caps, m, n);
    in_step = !s.why[0];
quit:
    if (in_step) { /* what QUIT meets is no one's concern */
        char why[sizeof s.why];
        snprintf(why, sizeof why, "%s", s.why);
        s.why[0] = '\0';
        put(&s, "QUIT", NULL, NULL);
        if (flush(&s) == 0)
            reply(&s, &r, NULL);
        snprintf(s.why, sizeof s.why, "%s", why);
    }
out:
    snprintf(o->why, sizeof o->why, "%s", s.why);
    if (s.ssl) {
        SSL_shutdown(s.ssl);
        SSL_free(s.ssl);
    }
    if (s.fd >= 0)
        close(s.fd);
    ERR_clear_error();
    hd_buf_release(&s.out);
    sigset_t pending;
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}
