/* wire: herald's own HTTP/1.1 client, the transport of the HTTP drivers'
 * requests when nothing asks for more (no proxy in the environment, no
 * HTTP/2: http.c keeps libcurl for those). A pool of at most `conns`
 * kept-alive connections (plain or TLS through OpenSSL, the peer verified
 * against the provider's ca_file or the system's store), driven from one
 * thread without blocking except to resolve a name: requests queue, take
 * a free connection to their host that is still open (or open one), are
 * written with their head and body in one system call (plain; TLS writes
 * the two in turn), and finish when their answer has been read whole
 * (Content-Length, chunked, or up to the close; RFC 9112 6.3's order). A request that
 * a reused connection drops before any byte of an answer goes again, once,
 * on a new connection, and says so (sends), as libcurl did. The caller's
 * callbacks see each header line and the body's bytes. */
#ifndef HERALD_WIRE_H
#define HERALD_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "herald/buf.h"

struct hd_wire;
struct hd_wire_conn;

/* One request, embedded in the caller's; zeroed before first use. */
struct hd_wire_req {
    void *ud; /* the caller's, handed to the callbacks */
    /* the URL parsed, kept while the next request's text is the same */
    struct hd_buf url;
    char *host, *hostport, *port;
    char *key;      /* "s://host:port" (p:// for plain): the connections it may take */
    size_t path_at; /* where the URL's path starts */
    bool tls, bad_url, has_host;
    bool head_only;     /* a HEAD request: its answer has no body */
    struct hd_buf head; /* the request line and header lines */
    const char *body;
    size_t body_len;
    /* set when done */
    long status;      /* the final answer's, 0 when none came */
    long retry_after; /* Retry-After in seconds, 0 when absent */
    unsigned sends;   /* how many times it went on the wire */
    bool failed;      /* no answer: err says why */
    bool tls_refused; /* the peer's certificate or the handshake failed */
    bool new_conn;    /* it opened the connection it went on (peer says where) */
    char peer[48];
    int peer_port;
    char err[256];
    /* the pool's */
    int64_t deadline;
    bool fresh; /* it goes again: on a new connection */
    struct hd_wire_req *next;
};

/* Header lines (without CR LF) and body bytes of an answer. */
typedef void (*hd_wire_header_fn)(void *ud, const char *line, size_t len);
typedef void (*hd_wire_body_fn)(void *ud, const char *p, size_t len);

/* A pool of at most conns connections; every request may take timeout_ms
 * from its start to its answer. ca_file NULL: the system's store. */
struct hd_wire *hd_wire_new(unsigned conns, long timeout_ms, const char *ca_file,
                            hd_wire_header_fn on_header, hd_wire_body_fn on_body);
void hd_wire_free(struct hd_wire *h);

/* Begins w's head: the request line of method to url (parsed again only
 * when it differs from w's last). A URL that is not http(s)://host[:port]
 * makes the request fail when started. */
void hd_wire_begin(struct hd_wire_req *w, const char *method, const char *url, size_t len);
/* A header line "name: value" (no CR or LF: the caller checked). */
void hd_wire_line(struct hd_wire_req *w, const char *line);
/* Ends the head (Host unless a line gave it, Content-Length when
 * with_body) and queues w with its body (borrowed until it is done). */
void hd_wire_start(struct hd_wire *h, struct hd_wire_req *w, const char *body, size_t len,
                   bool with_body);
/* Moves every request on as far as it goes without waiting. */
void hd_wire_perform(struct hd_wire *h);
/* A finished request, or NULL. */
struct hd_wire_req *hd_wire_done(struct hd_wire *h);
/* Waits up to timeout_ms for a connection to need us or a wake-up. */
void hd_wire_poll(struct hd_wire *h, int timeout_ms);
/* Ends a wait from another thread. */
void hd_wire_wakeup(struct hd_wire *h);
/* Names host on a TLS connection: SNI for a name (none for an address),
 * and, with verify, the name or address the peer's certificate must hold
 * (peer verification on). False when OpenSSL refuses it: nothing may then
 * be sent, since the peer could not be checked. The SMTP session's too. */
bool hd_wire_tls_name(SSL *ssl, const char *host, bool verify);
/* Frees what w holds. */
void hd_wire_req_release(struct hd_wire_req *w);

#endif
