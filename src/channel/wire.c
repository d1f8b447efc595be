/* wire: herald's own HTTP/1.1 client (see wire.h). Each connection is an
 * explicit state machine (connecting, TLS handshake, sending, reading the
 * head, reading the body, idle) stepped by hd_wire_perform whenever poll()
 * said its socket is ready, or at once when a request was just given to
 * it. Requests wait in a FIFO for a connection; a finished one goes on the
 * done list for the caller. Every wait is bounded by the request's
 * deadline; a connection idle at the server's close is noticed by its
 * POLLIN and dropped before a request is put on it. Nothing here logs: the
 * caller decides what of a request may be told. The reason for this file
 * is cost: libcurl 7.88 spent about 60,000 instructions a request (its
 * header lines written a byte at a time through its printf, each header
 * compared with its list of names, the status line read with sscanf). */
#include "wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "herald/err.h"
#include "herald/time.h"

#define HEAD_MAX (64 * 1024) /* an answer's head */
#define READ_CHUNK 16384
#define IDLE_MAX_MS 50000 /* a kept connection older than this is not reused */
#define CONNECT_MAX_MS 10000

enum cstate { C_CLOSED, C_CONNECTING, C_TLS, C_SEND, C_HEAD, C_BODY, C_IDLE };
enum framing { F_LENGTH, F_CHUNKED, F_CLOSE };
enum chunk { K_SIZE, K_DATA, K_DATA_END, K_TRAILER };

struct hd_wire_conn {
    int fd;
    SSL *ssl;
    enum cstate st;
    char *key; /* "s://host:port" of its peer */
    struct hd_wire_req *w;
    bool reused;    /* it has answered a request before */
    size_t got;     /* bytes of the current answer read */
    size_t sent;    /* bytes of the request written */
    size_t scanned; /* of c->in, searched for the head's end already */
    bool counted;   /* the request's send is counted (w->sends) */
    int64_t idle_since, connect_deadline;
    struct addrinfo *ai, *ai_next;
    char *in; /* read but not yet parsed */
    size_t inlen, incap;
    enum framing framing;
    enum chunk chunk;
    uint64_t remain;
    bool keep;    /* the server keeps the connection after this answer */
    short events; /* what poll() waits for */
    bool ready;   /* poll() said so, or it has something to try */
};

struct hd_wire {
    struct hd_wire_conn *c;
    unsigned n;
    long timeout_ms;
    SSL_CTX *tls;
    char *ca_file;
    int wake;
    hd_wire_header_fn on_header;
    hd_wire_body_fn on_body;
    struct hd_wire_req *wait_head, **wait_tail; /* no connection yet */
    struct hd_wire_req *done_head, **done_tail;
    struct pollfd *pfd;
};

struct hd_wire *hd_wire_new(unsigned conns, long timeout_ms, const char *ca_file,
                            hd_wire_header_fn on_header, hd_wire_body_fn on_body)
{
    struct hd_wire *h = hd_xcalloc(1, sizeof *h);
    h->n = conns ? conns : 1;
    h->c = hd_xcalloc(h->n, sizeof *h->c);
    for (unsigned i = 0; i < h->n; i++)
        h->c[i].fd = -1;
    h->pfd = hd_xcalloc(h->n + 1, sizeof *h->pfd);
    h->timeout_ms = timeout_ms;
    h->ca_file = ca_file ? hd_xstrdup(ca_file) : NULL;
    h->on_header = on_header;
    h->on_body = on_body;
    h->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->wake < 0)
        HD_BUG("eventfd failed");
    h->wait_tail = &h->wait_head;
    h->done_tail = &h->done_head;
    return h;
}

static void conn_close(struct hd_wire_conn *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    if (c->ai)
        freeaddrinfo(c->ai);
    free(c->key);
    free(c->in);
    *c = (struct hd_wire_conn){.fd = -1};
}

void hd_wire_free(struct hd_wire *h)
{
    if (!h)
        return;
    for (unsigned i = 0; i < h->n; i++)
        conn_close(&h->c[i]);
    free(h->c);
    free(h->pfd);
    if (h->tls)
        SSL_CTX_free(h->tls);
    free(h->ca_file);
    close(h->wake);
    free(h);
}

void hd_wire_req_release(struct hd_wire_req *w)
{
    if (!w)
        return;
    hd_buf_release(&w->url);
    hd_wipe(w->head.data, w->head.len);
    hd_buf_release(&w->head);
    free(w->host);
    free(w->hostport);
    free(w->port);
    free(w->key);
}

/* ---- the request ------------------------------------------------------------- */

/* w's URL parts from text: scheme, host (an IPv6 literal in brackets),
 * port, the connections' key; the path is what follows (at least "/").
 * Returns the path's offset, or -1. */
static long parse_url(struct hd_wire_req *w, const char *u, size_t len)
{
    free(w->host), free(w->hostport), free(w->port), free(w->key);
    w->host = w->hostport = w->port = w->key = NULL;
    size_t i;
    if (len > 8 && strncasecmp(u, "https://", 8) == 0)
        w->tls = true, i = 8;
    else if (len > 7 && strncasecmp(u, "http://", 7) == 0)
        w->tls = false, i = 7;
    else
        return -1;
    size_t a = i, hend, pstart = 0, pend = 0;
    if (u[i] == '[') {
        while (i < len && u[i] != ']')
            i++;
        if (i == len)
            return -1;
        hend = ++i;
    } else {
        while (i < len && !strchr(":/?#@", u[i]))
            i++;
        hend = i;
    }
    if (i < len && u[i] == ':') {
        pstart = ++i;
        while (i < len && u[i] >= '0' && u[i] <= '9')
            i++;
        pend = i;
        if (pend == pstart || pend - pstart > 5 || atoi(u + pstart) > 65535 ||
            atoi(u + pstart) == 0)
            return -1;
    }
    if (hend == a || (i < len && !strchr("/?#", u[i])))
        return -1; /* no host, a user, or junk after the port */
    bool v6 = u[a] == '[';
    w->host = hd_xstrndup(u + a + v6, hend - a - 2 * v6);
    w->hostport = hd_xstrndup(u + a, i - a);
    w->port = pend ? hd_xstrndup(u + pstart, pend - pstart) : hd_xstrdup(w->tls ? "443" : "80");
    size_t kn = strlen(w->host) + strlen(w->port) + 6;
    w->key = hd_xcalloc(1, kn);
    snprintf(w->key, kn, "%c://%s:%s", w->tls ? 's' : 'p', w->host, w->port);
    return (long)i;
}

void hd_wire_begin(struct hd_wire_req *w, const char *method, const char *url, size_t len)
{
    hd_wipe(w->head.data, w->head.len); /* an Authorization line */
    hd_buf_reset(&w->head);
    w->head_only = strcmp(method, "HEAD") == 0;
    w->has_host = false;
    if (!len || !(w->url.len == len && memcmp(w->url.data, url, len) == 0)) {
        hd_buf_reset(&w->url);
        hd_buf_add(&w->url, url, len);
        /* nothing that could end the request line early */
        bool ctl = false;
        for (size_t i = 0; i < len; i++)
            ctl |= (unsigned char)url[i] <= ' ' || url[i] == 0x7f;
        long at = ctl ? -1 : parse_url(w, url, len);
        w->bad_url = at < 0;
        w->path_at = at < 0 ? 0 : (size_t)at;
    }
    if (w->bad_url)
        return;
    const char *p = url + w->path_at;
    size_t plen = (size_t)(url + len - p), q = strcspn(p, "#");
    hd_buf_adds(&w->head, method);
    hd_buf_addc(&w->head, ' ');
    if (!plen || p[0] != '/')
        hd_buf_addc(&w->head, '/');
    hd_buf_add(&w->head, p, q < plen ? q : plen);
    hd_buf_adds(&w->head, " HTTP/1.1\r\n");
}

void hd_wire_line(struct hd_wire_req *w, const char *line)
{
    if (strncasecmp(line, "host:", 5) == 0)
        w->has_host = true;
    hd_buf_adds(&w->head, line);
    hd_buf_add(&w->head, "\r\n", 2);
}

static void fail(struct hd_wire *h, struct hd_wire_req *w, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void push_done(struct hd_wire *h, struct hd_wire_req *w)
{
    w->next = NULL;
    *h->done_tail = w;
    h->done_tail = &w->next;
}

static void fail(struct hd_wire *h, struct hd_wire_req *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof w->err, fmt, ap);
    va_end(ap);
    w->failed = true;
    w->status = 0; /* an answer not read whole is none */
    push_done(h, w);
}

static void wait_push(struct hd_wire *h, struct hd_wire_req *w, bool front)
{
    if (front) {
        w->next = h->wait_head;
        h->wait_head = w;
        if (h->wait_tail == &h->wait_head)
            h->wait_tail = &w->next;
        return;
    }
    w->next = NULL;
    *h->wait_tail = w;
    h->wait_tail = &w->next;
}

void hd_wire_start(struct hd_wire *h, struct hd_wire_req *w, const char *body, size_t len,
                   bool with_body)
{
    w->status = w->retry_after = 0;
    w->sends = 0;
    w->failed = w->tls_refused = w->new_conn = w->fresh = false;
    w->err[0] = '\0';
    w->deadline = hd_clock_mono_ms() + h->timeout_ms;
    if (w->bad_url) {
        fail(h, w, "URL rejected: not http(s)://host[:port]/path");
        return;
    }
    if (!w->has_host) {
        hd_buf_add(&w->head, "Host: ", 6);
        hd_buf_adds(&w->head, w->hostport);
        hd_buf_add(&w->head, "\r\n", 2);
    }
    if (with_body) {
        char num[32];
        int k = snprintf(num, sizeof num, "Content-Length: %zu\r\n", len);
        hd_buf_add(&w->head, num, (size_t)k);
    }
    hd_buf_add(&w->head, "\r\n", 2);
    w->body = body;
    w->body_len = with_body ? len : 0;
    wait_push(h, w, false);
}

struct hd_wire_req *hd_wire_done(struct hd_wire *h)
{
    struct hd_wire_req *w = h->done_head;
    if (w && !(h->done_head = w->next))
        h->done_tail = &h->done_head;
    return w;
}

/* ---- connections ------------------------------------------------------------- */

static SSL_CTX *tls_ctx(struct hd_wire *h, char *err, size_t n)
{
    if (h->tls)
        return h->tls;
    SSL_CTX *t = SSL_CTX_new(TLS_client_method());
    if (!t)
        HD_BUG("SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(t, TLS1_2_VERSION);
    SSL_CTX_set_verify(t, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(t, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(t, alpn, sizeof alpn - 1);
    int ok = h->ca_file ? SSL_CTX_load_verify_locations(t, h->ca_file, NULL)
                        : SSL_CTX_set_default_verify_paths(t);
    if (ok != 1) {
        snprintf(err, n, "error setting certificate file: %s", h->ca_file ? h->ca_file : "");
        ERR_clear_error();
        SSL_CTX_free(t);
        return NULL;
    }
    return h->tls = t;
}

/* The next address of c's list tried: 1 while connecting, 0 connected,
 * -1 with err when none is left. */
static int try_connect(struct hd_wire_conn *c, char *err, size_t n)
{
    while (c->ai_next) {
        struct addrinfo *a = c->ai_next;
        c->ai_next = a->ai_next;
        if (c->fd >= 0)
            close(c->fd);
        c->fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (c->fd < 0) {
            snprintf(err, n, "socket: %s", strerror(errno));
            continue;
        }
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c->fd, a->ai_addr, a->ai_addrlen) == 0)
            return 0;
        if (errno == EINPROGRESS)
            return 1;
        snprintf(err, n, "%s", strerror(errno));
    }
    return -1;
}

/* Opens c for w: resolves its host (blocking) and starts the connect. */
static bool conn_open(struct hd_wire *h, struct hd_wire_conn *c, struct hd_wire_req *w,
                      const char *key)
{
    conn_close(c);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    int rc = getaddrinfo(w->host, w->port, &hints, &c->ai);
    if (rc != 0) {
        c->ai = NULL;
        fail(h, w, "Could not resolve host: %s", w->host);
        return false;
    }
    c->ai_next = c->ai;
    char why[200];
    if (try_connect(c, why, sizeof why) < 0) {
        fail(h, w, "Failed to connect to %s port %s: %s", w->host, w->port, why);
        conn_close(c);
        return false;
    }
    c->events = POLLOUT;
    c->key = hd_xstrdup(key);
    c->connect_deadline =
        hd_clock_mono_ms() + (h->timeout_ms < CONNECT_MAX_MS ? h->timeout_ms : CONNECT_MAX_MS);
    c->st = C_CONNECTING;
    c->ready = true;
    c->w = w;
    w->new_conn = true;
    return true;
}

/* Whether an idle connection is still open with nothing unasked on it:
 * the server may have closed it just after its answer (without saying
 * so) or since; a request put on it would be lost and sent again. */
static bool still_open(struct hd_wire_conn *c)
{
    char b[256];
    if (c->ssl) { /* a post-handshake message (a ticket) is taken in passing */
        ERR_clear_error();
        int k = SSL_read(c->ssl, b, sizeof b);
        bool open = k <= 0 && SSL_get_error(c->ssl, k) == SSL_ERROR_WANT_READ;
        ERR_clear_error();
        return open;
    }
    ssize_t k = recv(c->fd, b, 1, MSG_PEEK | MSG_DONTWAIT);
    return k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Gives the waiting requests connections: an idle one to their peer, a
 * closed one, or an idle one to another peer, closed first. */
static void assign(struct hd_wire *h)
{
    int64_t now = hd_clock_mono_ms();
    while (h->wait_head) {
        struct hd_wire_req *w = h->wait_head;
        const char *key = w->key; /* parsed once per URL, not once per request */
        struct hd_wire_conn *same = NULL, *closed = NULL, *other = NULL;
        for (unsigned i = 0; i < h->n; i++) {
            struct hd_wire_conn *c = &h->c[i];
            if (c->st == C_IDLE && now - c->idle_since > IDLE_MAX_MS)
                conn_close(c);
            if (c->st == C_CLOSED)
                closed = closed ? closed : c;
            else if (c->st == C_IDLE && strcmp(c->key, key) == 0 && !w->fresh)
                same = same ? same : c;
            else if (c->st == C_IDLE)
                other = other ? other : c;
        }
        struct hd_wire_conn *c = same ? same : closed ? closed : other;
        if (!c)
            return;
        if (c == same && !still_open(c)) {
            conn_close(c);
            continue; /* w is still first in line: a closed slot takes it */
        }
        if (!(h->wait_head = w->next))
            h->wait_tail = &h->wait_head;
        if (c == same) {
            c->w = w;
            c->st = C_SEND;
            c->ready = true;
            w->new_conn = false;
        } else {
            w->new_conn = true;
            conn_open(h, c, w, key);
        }
        c->sent = c->got = 0;
        c->counted = false;
    }
}

/* ---- stepping a connection --------------------------------------------------- */

/* Ends c's request with failure (or, when a reused connection dropped it
 * before any answer, queues it again on a new connection). */
static void conn_fail(struct hd_wire *h, struct hd_wire_conn *c, const char *why)
{
    struct hd_wire_req *w = c->w;
    bool again = c->reused && c->got == 0 && w->sends < 2 && !w->fresh;
    c->w = NULL;
    conn_close(c);
    if (again) {
        w->fresh = true;
        wait_push(h, w, true);
        return;
    }
    fail(h, w, "%s", why);
}

static void conn_finish(struct hd_wire *h, struct hd_wire_conn *c)
{
    struct hd_wire_req *w = c->w;
    c->w = NULL;
    if (c->keep && c->inlen == 0) {
        c->st = C_IDLE;
        c->reused = true;
        c->idle_since = hd_clock_mono_ms();
        c->events = POLLIN;
    } else {
        conn_close(c);
    }
    push_done(h, w);
}

/* Starts TLS on c's socket. */
bool hd_wire_tls_name(SSL *ssl, const char *host, bool verify)
{
    struct in6_addr a6;
    bool literal = inet_pton(AF_INET, host, &a6) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
    if (!literal && SSL_set_tlsext_host_name(ssl, host) != 1)
        return false;
    if (!verify)
        return true;
    SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
    return literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1
                   : SSL_set1_host(ssl, host) == 1;
}

static bool tls_begin(struct hd_wire *h, struct hd_wire_conn *c)
{
    struct hd_wire_req *w = c->w;
    char why[200];
    SSL_CTX *t = tls_ctx(h, why, sizeof why);
    if (!t) {
        w->tls_refused = true;
        conn_fail(h, c, why);
        return false;
    }
    c->ssl = SSL_new(t);
    if (!c->ssl)
        HD_BUG("SSL_new failed");
    SSL_set_fd(c->ssl, c->fd);
    if (!hd_wire_tls_name(c->ssl, w->host, true)) { /* unverifiable: nothing goes */
        ERR_clear_error();
        w->tls_refused = true;
        conn_fail(h, c, "TLS: cannot set the name the certificate must have");
        return false;
    }
    return true;
}

/* The wait an SSL call asked for, or -1 (err written) when it failed. */
static int tls_want(struct hd_wire_conn *c, int rc, char *err, size_t n)
{
    int e = SSL_get_error(c->ssl, rc);
    if (e == SSL_ERROR_WANT_READ)
        return POLLIN;
    if (e == SSL_ERROR_WANT_WRITE)
        return POLLOUT;
    long v = SSL_get_verify_result(c->ssl);
    unsigned long q = ERR_peek_last_error();
    if (v != X509_V_OK)
        snprintf(err, n, "SSL certificate problem: %s", X509_verify_cert_error_string(v));
    else if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !q && !errno))
        snprintf(err, n, "the connection closed");
    else if (q)
        snprintf(err, n, "TLS: %s",
                 ERR_reason_error_string(q) ? ERR_reason_error_string(q) : "error");
    else
        snprintf(err, n, "%s", strerror(errno));
    ERR_clear_error();
    return -1;
}

/* Writes what is left of the request: >0 when all is written, 0 to wait,
 * -1 with err. */
static int send_some(struct hd_wire_conn *c, char *err, size_t n)
{
    struct hd_wire_req *w = c->w;
    size_t hl = w->head.len, total = hl + w->body_len;
    while (c->sent < total) {
        ssize_t k;
        if (c->ssl) {
            const char *p = c->sent < hl ? w->head.data + c->sent : w->body + (c->sent - hl);
            size_t len = c->sent < hl ? hl - c->sent : total - c->sent;
            ERR_clear_error();
            int rc = SSL_write(c->ssl, p, (int)(len > INT32_MAX ? INT32_MAX : len));
            if (rc <= 0) {
                int want = tls_want(c, rc, err, n);
                if (want < 0)
                    return -1;
                c->events = (short)want;
                return 0;
            }
            k = rc;
        } else {
            struct iovec v[2];
            int nv = 0;
            if (c->sent < hl)
                v[nv++] = (struct iovec){w->head.data + c->sent, hl - c->sent};
            size_t b = c->sent > hl ? c->sent - hl : 0;
            if (w->body_len > b)
                v[nv++] = (struct iovec){(char *)w->body + b, w->body_len - b};
            struct msghdr mh = {.msg_iov = v, .msg_iovlen = (size_t)nv};
            k = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
            if (k < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                    c->events = POLLOUT;
                    return 0;
                }
                snprintf(err, n, "Send failure: %s", strerror(errno));
                return -1;
            }
        }
        c->sent += (size_t)k;
    }
    return 1;
}

/* Reads into c->in: >0 bytes read, 0 at the end, -2 to wait, -1 with err. */
static ssize_t read_some(struct hd_wire_conn *c, char *err, size_t n)
{
    if (c->incap - c->inlen < 4096) {
        c->incap = c->incap ? c->incap * 2 : READ_CHUNK;
        c->in = hd_xrealloc(c->in, c->incap);
    }
    size_t room = c->incap - c->inlen;
    if (c->ssl) {
        ERR_clear_error();
        errno = 0;
        int rc = SSL_read(c->ssl, c->in + c->inlen, (int)(room > INT32_MAX ? INT32_MAX : room));
        if (rc > 0)
            return rc;
        int e = SSL_get_error(c->ssl, rc);
        if (e == SSL_ERROR_ZERO_RETURN ||
            (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0)) {
            ERR_clear_error();
            return 0;
        }
        int want = tls_want(c, rc, err, n);
        if (want < 0)
            return -1;
        c->events = (short)want;
        return -2;
    }
    ssize_t k = recv(c->fd, c->in + c->inlen, room, 0);
    if (k >= 0)
        return k;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        c->events = POLLIN;
        return -2;
    }
    snprintf(err, n, "Recv failure: %s", strerror(errno));
    return -1;
}

/* Drops the first k bytes of c->in. */
static void consume(struct hd_wire_conn *c, size_t k)
{
    memmove(c->in, c->in + k, c->inlen - k);
    c->inlen -= k;
}

/* The value of header line p (len) when it is name (with its colon), else NULL. */
static const char *header_is(const char *p, size_t len, const char *name, size_t *vlen)
{
    size_t k = strlen(name);
    if (len < k || strncasecmp(p, name, k) != 0)
        return NULL;
    size_t i = k, j = len;
    while (i < j && (p[i] == ' ' || p[i] == '\t'))
        i++;
    while (j > i && (p[j - 1] == ' ' || p[j - 1] == '\t'))
        j--;
    *vlen = j - i;
    return p + i;
}

/* Whether the last coding of a Transfer-Encoding list v is chunked. */
static bool last_is_chunked(const char *v, size_t n)
{
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == ','))
        n--;
    size_t i = n;
    while (i && v[i - 1] != ',')
        i--;
    while (i < n && (v[i] == ' ' || v[i] == '\t'))
        i++;
    return n - i == 7 && strncasecmp(v + i, "chunked", 7) == 0;
}

/* Whether the comma-separated list v holds the token t. */
static bool has_token(const char *v, size_t n, const char *t)
{
    size_t k = strlen(t);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(v + i, t, k) == 0 && (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ') &&
            (i + k == n || v[i + k] == ',' || v[i + k] == ' ' || v[i + k] == ';'))
            return true;
    return false;
}

/* Retry-After: seconds, or an HTTP date from now. */
static long retry_after(const char *v, size_t n)
{
    char s[64];
    if (n >= sizeof s)
        return 0;
    memcpy(s, v, n);
    s[n] = '\0';
    if (n && strspn(s, "0123456789") == n)
        return n > 9 ? 0 : strtol(s, NULL, 10);
    struct tm tm = {0};
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return 0;
    long d = (long)(timegm(&tm) - time(NULL));
    return d > 0 ? d : 0;
}

/* What the header fields say of the body's framing. */
struct fields {
    bool has_cl, has_te, chunked;
    uint64_t cl;
};

/* One header line p (len, no CR LF): the four herald reads noted in f
 * (and c, w), then handed on. -1 for two Content-Lengths that differ. */
static int header_line(struct hd_wire *h, struct hd_wire_conn *c, const char *p, size_t len,
                       struct fields *f)
{
    struct hd_wire_req *w = c->w;
    const char *v;
    size_t vl;
    char first = (char)(p[0] | 0x20); /* the four start c, t or r */
    if (first != 'c' && first != 't' && first != 'r') {
        /* none of the four: only handed on */
    } else if ((v = header_is(p, len, "content-length:", &vl))) {
        if (!vl || vl > 18 || strspn(v, "0123456789") < vl ||
            (f->has_cl && strtoull(v, NULL, 10) != f->cl))
            return -1; /* no framing to trust */
        f->has_cl = true;
        f->cl = strtoull(v, NULL, 10);
    } else if ((v = header_is(p, len, "transfer-encoding:", &vl))) {
        f->has_te = true;
        f->chunked = last_is_chunked(v, vl); /* the final coding decides */
    } else if ((v = header_is(p, len, "connection:", &vl))) {
        if (has_token(v, vl, "close"))
            c->keep = false;
        else if (has_token(v, vl, "keep-alive"))
            c->keep = true;
    } else if ((v = header_is(p, len, "retry-after:", &vl))) {
        w->retry_after = retry_after(v, vl);
    }
    h->on_header(w->ud, p, len);
    return 0;
}

/* Parses a whole head at c->in (n bytes, its blank line included): the
 * status, the framing, the headers handed on. 0, 1 for an interim (1xx)
 * answer to skip, -1 when it is not HTTP/1.x. */
static int parse_head(struct hd_wire *h, struct hd_wire_conn *c, size_t n)
{
    struct hd_wire_req *w = c->w;
    const char *p = c->in, *end = c->in + n;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol || eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
        (p[12] != ' ' && p[12] != '\r' && p[12] != '\n'))
        return -1;
    long st = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        st = st * 10 + (p[i] - '0');
    }
    if (st >= 100 && st < 200)
        return 1;
    w->status = st;
    c->keep = p[7] == '1';
    struct fields f = {0};
    for (p = eol + 1; p < end; p = eol + 1) {
        eol = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)(eol - p);
        if (len && p[len - 1] == '\r')
            len--;
        if (!len)
            break;
        if (header_line(h, c, p, len, &f) < 0)
            return -1;
    }
    /* RFC 9112 6.3: no body after HEAD, 204 or 304 whatever the headers
     * say; Transfer-Encoding over Content-Length (and then the connection
     * is not kept); chunked only as the final coding, else to the close */
    c->remain = 0;
    c->chunk = K_SIZE;
    if (w->head_only || st == 204 || st == 304)
        c->framing = F_LENGTH;
    else if (f.has_te)
        c->framing = f.chunked ? F_CHUNKED : F_CLOSE, c->keep = c->keep && !f.has_cl;
    else if (f.has_cl)
        c->framing = F_LENGTH, c->remain = f.cl;
    else
        c->framing = F_CLOSE;
    if (c->framing == F_CLOSE)
        c->keep = false;
    return 0;
}

/* A chunk-size line (len bytes, its LF not included): hex digits (at
 * most 15, so that the size fits), then optional blanks, an extension
 * after ';', or the CR. */
static bool chunk_size(const char *p, size_t len, uint64_t *sz)
{
    size_t i = 0;
    *sz = 0;
    for (; i < len && i < 16; i++) {
        char ch = p[i];
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (d < 0)
            break;
        *sz = *sz * 16 + (uint64_t)d;
    }
    if (i == 0 || i == 16)
        return false;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
        i++;
    return i == len || p[i] == ';' || (p[i] == '\r' && i + 1 == len);
}

/* Takes what c->in holds of the body; true when the body is whole, false
 * to read more; *bad when chunked framing is broken. */
static bool take_body(struct hd_wire *h, struct hd_wire_conn *c, bool *bad)
{
    struct hd_wire_req *w = c->w;
    while (c->inlen) {
        if (c->framing != F_CHUNKED || c->chunk == K_DATA) {
            size_t k = c->inlen;
            if (c->framing != F_CLOSE && k > c->remain)
                k = (size_t)c->remain;
            h->on_body(w->ud, c->in, k);
            consume(c, k);
            if (c->framing != F_CLOSE)
                c->remain -= k;
            if (c->framing == F_CHUNKED && c->remain == 0)
                c->chunk = K_DATA_END;
            if (c->framing == F_LENGTH && c->remain == 0)
                return true;
            continue;
        }
        char *nl = memchr(c->in, '\n', c->inlen);
        if (!nl) {
            *bad = c->inlen > 1024;
            return false;
        }
        size_t len = (size_t)(nl - c->in);
        if (c->chunk == K_SIZE) {
            uint64_t sz;
            if (!chunk_size(c->in, len, &sz)) {
                *bad = true;
                return false;
            }
            c->remain = sz;
            c->chunk = sz ? K_DATA : K_TRAILER;
        } else if (c->chunk == K_DATA_END) {
            if (len > 1 || (len == 1 && c->in[0] != '\r')) {
                *bad = true;
                return false;
            }
            c->chunk = K_SIZE;
        } else if (len == 0 || (len == 1 && c->in[0] == '\r')) { /* the trailer's end */
            consume(c, len + 1);
            return true;
        }
        consume(c, len + 1);
    }
    return c->framing == F_LENGTH && c->remain == 0;
}

/* The length of the head at the start of c->in, its blank line included
 * (CR LF CR LF, or bare LFs, which RFC 9112 lets a recipient take), or 0
 * while it is incomplete; the search resumes where the last one ended. */
static size_t head_end(struct hd_wire_conn *c)
{
    char *p = c->in, *end = c->in + c->inlen;
    char *q = c->scanned ? p + c->scanned : p;
    if (!c->inlen) /* nothing read yet: p may be NULL, which memchr may not see */
        return 0;
    while ((q = memchr(q, '\n', (size_t)(end - q))) != NULL) {
        if (end - q >= 2 && q[1] == '\n')
            return (size_t)(q + 2 - p);
        if (end - q >= 3 && q[1] == '\r' && q[2] == '\n')
            return (size_t)(q + 3 - p);
        q++;
    }
    c->scanned = c->inlen > 2 ? c->inlen - 2 : 0;
    return 0;
}

/* The head, once c->in holds it whole: parsed (an interim answer
 * skipped), and c on to the body. 0 to go on, -1 when c failed. */
static int take_head(struct hd_wire *h, struct hd_wire_conn *c)
{
    for (;;) {
        size_t n = head_end(c);
        if (n > HEAD_MAX || (!n && c->inlen > HEAD_MAX)) {
            conn_fail(h, c, "the gateway's answer has a head over 64 KiB");
            return -1;
        }
        if (!n)
            return 0;
        c->scanned = 0;
        int rc = parse_head(h, c, n);
        if (rc < 0) {
            conn_fail(h, c, "the gateway's answer is not HTTP/1.x");
            return -1;
        }
        consume(c, n);
        if (rc == 0) {
            c->st = C_BODY;
            return 0;
        }
    }
}

/* Reads and parses the answer as far as it has come. */
static void step_read(struct hd_wire *h, struct hd_wire_conn *c)
{
    char err[200];
    for (;;) {
        if (c->st == C_HEAD && take_head(h, c) < 0)
            return;
        bool bad = false;
        if (c->st == C_BODY && take_body(h, c, &bad)) {
            conn_finish(h, c);
            return;
        }
        if (bad) {
            conn_fail(h, c, "the gateway's chunked answer is malformed");
            return;
        }
        ssize_t k = read_some(c, err, sizeof err);
        if (k == -2)
            return;
        if (k == 0 && c->st == C_BODY && c->framing == F_CLOSE)
            conn_finish(h, c);
        else if (k <= 0)
            conn_fail(h, c,
                      k < 0    ? err
                      : c->got ? "the connection closed in the middle of the answer"
                               : "Empty reply from server");
        if (k <= 0)
            return;
        c->inlen += (size_t)k;
        c->got += (size_t)k;
    }
}

/* The peer's address into w, for the debug log. */
static void note_peer(struct hd_wire_conn *c)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) != 0)
        return;
    struct hd_wire_req *w = c->w;
    bool v6 = ss.ss_family == AF_INET6;
    inet_ntop(ss.ss_family,
              v6 ? (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
                 : (void *)&((struct sockaddr_in *)&ss)->sin_addr,
              w->peer, sizeof w->peer);
    w->peer_port =
        ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
}

/* A connect in progress: 1 while it waits, 0 when connected (c moves on
 * to TLS or to sending), -1 when it failed (c failed its request). */
static int step_connect(struct hd_wire *h, struct hd_wire_conn *c)
{
    char err[200];
    int soerr = 0, rc;
    socklen_t sl = sizeof soerr;
    if (c->fd < 0 || getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
        snprintf(err, sizeof err, "%s", strerror(soerr ? soerr : ECONNREFUSED));
        rc = c->ai_next ? try_connect(c, err, sizeof err) : -1; /* the next address */
    } else {
        struct pollfd p = {c->fd, POLLOUT, 0};
        rc = poll(&p, 1, 0) == 1 ? 0 : 1;
    }
    if (rc < 0) {
        struct hd_wire_req *w = c->w;
        char why[sizeof w->err];
        snprintf(why, sizeof why, "Failed to connect to %s port %s: %s", w->host, w->port, err);
        c->reused = false;
        conn_fail(h, c, why);
        return -1;
    }
    if (rc > 0) {
        c->events = POLLOUT;
        return 1;
    }
    note_peer(c);
    freeaddrinfo(c->ai);
    c->ai = c->ai_next = NULL;
    if (c->key[0] != 's') {
        c->st = C_SEND;
        return 0;
    }
    if (!tls_begin(h, c))
        return -1;
    c->st = C_TLS;
    return 0;
}

/* The TLS handshake: 1 while it waits, 0 done, -1 refused. */
static int step_tls(struct hd_wire *h, struct hd_wire_conn *c)
{
    char err[200];
    ERR_clear_error();
    int rc = SSL_connect(c->ssl);
    if (rc == 1) {
        c->st = C_SEND;
        return 0;
    }
    int want = tls_want(c, rc, err, sizeof err);
    if (want < 0) {
        c->w->tls_refused = true;
        c->reused = false;
        conn_fail(h, c, err);
        return -1;
    }
    c->events = (short)want;
    return 1;
}

/* Writing the request: 1 while it waits, 0 written (c reads the answer),
 * -1 failed. */
static int step_send(struct hd_wire *h, struct hd_wire_conn *c)
{
    char err[200];
    if (!c->counted)
        c->w->sends++;
    c->counted = true;
    int rc = send_some(c, err, sizeof err);
    if (rc < 0) {
        conn_fail(h, c, err);
        return -1;
    }
    if (rc == 0)
        return 1;
    c->st = C_HEAD;
    c->inlen = c->scanned = 0;
    c->events = POLLIN;
    return 0;
}

/* Moves c on until it must wait. */
static void step(struct hd_wire *h, struct hd_wire_conn *c)
{
    c->ready = false;
    if (c->st == C_CONNECTING && step_connect(h, c) != 0)
        return;
    if (c->st == C_TLS && step_tls(h, c) != 0)
        return;
    if (c->st == C_SEND && step_send(h, c) != 0)
        return;
    if (c->st == C_HEAD || c->st == C_BODY)
        step_read(h, c);
    else if (c->st == C_IDLE && !still_open(c)) /* readable: closed, or something unasked */
        conn_close(c);
}

void hd_wire_perform(struct hd_wire *h)
{
    assign(h);
    int64_t now = hd_clock_mono_ms();
    for (unsigned i = 0; i < h->n; i++) {
        struct hd_wire_conn *c = &h->c[i];
        if (c->ready)
            step(h, c);
        if (!c->w)
            continue;
        int64_t dl = c->w->deadline;
        if ((c->st == C_CONNECTING || c->st == C_TLS) && c->connect_deadline < dl)
            dl = c->connect_deadline;
        if (now >= dl) {
            char why[200];
            snprintf(why, sizeof why,
                     "%s timed out after %lld milliseconds with %zu bytes received",
                     c->st == C_CONNECTING || c->st == C_TLS ? "Connection" : "Operation",
                     (long long)(now - (c->w->deadline - h->timeout_ms)), c->got);
            c->reused = false; /* not sent again: its time is spent */
            conn_fail(h, c, why);
        }
    }
    assign(h); /* connections the steps freed */
    for (unsigned i = 0; i < h->n; i++)
        if (h->c[i].ready)
            step(h, &h->c[i]);
    while (h->wait_head && now >= h->wait_head->deadline) {
        struct hd_wire_req *w = h->wait_head;
        if (!(h->wait_head = w->next))
            h->wait_tail = &h->wait_head;
        fail(h, w, "Operation timed out after %ld milliseconds waiting for a connection",
             h->timeout_ms);
    }
}

void hd_wire_poll(struct hd_wire *h, int timeout_ms)
{
    int64_t now = hd_clock_mono_ms(), until = now + timeout_ms;
    nfds_t n = 0;
    h->pfd[n++] = (struct pollfd){h->wake, POLLIN, 0};
    for (unsigned i = 0; i < h->n; i++) {
        struct hd_wire_conn *c = &h->c[i];
        if (c->st == C_CLOSED || c->fd < 0)
            continue;
        if (c->ready)
            until = now;
        if (c->w && c->w->deadline < until)
            until = c->w->deadline;
        if ((c->st == C_CONNECTING || c->st == C_TLS) && c->connect_deadline < until)
            until = c->connect_deadline;
        h->pfd[n++] = (struct pollfd){c->fd, c->events ? c->events : POLLIN, 0};
    }
    if (h->wait_head && h->wait_head->deadline < until)
        until = h->wait_head->deadline;
    for (unsigned i = 0; h->wait_head && i < h->n; i++)
        if (h->c[i].st == C_CLOSED || h->c[i].st == C_IDLE)
            until = now; /* a request waits and a connection could take it */
    int wait = until > now ? (int)(until - now) : 0;
    if (poll(h->pfd, n, wait) <= 0)
        return;
    if (h->pfd[0].revents) {
        uint64_t v;
        (void)!read(h->wake, &v, sizeof v);
    }
    nfds_t k = 1;
    for (unsigned i = 0; i < h->n && k < n; i++) {
        struct hd_wire_conn *c = &h->c[i];
        if (c->st == C_CLOSED || c->fd < 0)
            continue;
        if (h->pfd[k++].revents)
            c->ready = true;
    }
}

void hd_wire_wakeup(struct hd_wire *h)
{
    uint64_t one = 1;
    (void)!write(h->wake, &one, sizeof one);
}
