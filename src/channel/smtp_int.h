/* smtp_int: what the SMTP driver's two parts share. smtp.c builds
 * batches and maps the replies; smtp_session.c carries a batch in one SMTP
 * session of herald's own, SMTPUTF8 (RFC 6531) included. */
#ifndef HERALD_SMTP_INT_H
#define HERALD_SMTP_INT_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "driver_int.h"
#include "herald/buf.h"

enum tls_mode { TLS_NONE, TLS_OPTIONAL, TLS_REQUIRED, TLS_IMPLICIT };

struct smtp_conf {
    char *host;
    int port;
    enum tls_mode tls;
    bool verify;
    char *ca_file; /* NULL: the system's store */
    char *username;
    char *password; /* borrowed from the configuration's secret */
    char *from, *reply_to, *helo;
    char helo_name[256]; /* what EHLO says: helo, else this host's name */
    char *unsub_url, *unsub_mailto;
    char *bounce; /* bounce_address: the envelope sender under VERP, or NULL */
    char esp[16]; /* the sender whose event headers the mail carries ([provider] esp), or "" */
    long timeout;
    SSL_CTX *ctx;
    struct hd_log *log;
};

/* A server's reply: its code and its (last) line's text after the code. */
struct hd_smtp_reply {
    int code; /* 0: no reply came */
    char text[400];
};

/* One message of a session: its envelope (as on the wire) and its text,
 * and the replies to MAIL FROM, RCPT TO and DATA (the final one once the
 * text went, else DATA's own refusal) the session filled. */
struct hd_smtp_item {
    const char *from, *rcpt;
    bool utf8;      /* an address has a non-ASCII local part: MAIL FROM says SMTPUTF8 */
    bool unoffered; /* set when utf8 and the server does not offer SMTPUTF8: not sent */
    const char *body;
    size_t len;
    struct hd_smtp_reply mail, rcpt_r, data;
};

/* How a session went as a whole. */
struct hd_smtp_outcome {
    bool greeted;       /* the server answered the connection */
    char tls_err[256];  /* TLS failed or was not offered when required */
    char auth_err[300]; /* "authentication failed: CODE TEXT" */
    char why[300];      /* what ended the session early, or "" */
};

/* Carries the n messages in one session with the provider's server. */
void hd_smtp_session(struct smtp_conf *c, struct hd_smtp_item *m, size_t n,
                     struct hd_smtp_outcome *o);

#endif
