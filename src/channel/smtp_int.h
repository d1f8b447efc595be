/* smtp_int: what the SMTP driver's two senders share. smtp.c sends batches
 * over libesmtp; smtp_utf8.c sends the messages libesmtp cannot, those
 * whose envelope has a non-ASCII local part, one at a time over libcurl's
 * SMTP, which writes the SMTPUTF8 parameter (RFC 6531) when the server
 * offers it. */
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
    char *unsub_url, *unsub_mailto;
    char *bounce; /* bounce_address: the envelope sender under VERP, or NULL */
    char esp[16]; /* the sender whose event headers the mail carries ([provider] esp), or "" */
    long timeout;
    SSL_CTX *ctx;
    struct hd_log *log;
    /* whether the server offers SMTPUTF8, as last seen (smtp_utf8.c) */
    pthread_mutex_t utf8_mu;
    int utf8_offered; /* -1 not known yet, else 0 or 1 */
    int64_t utf8_seen_ms;
};

/* What became of one message sent over SMTPUTF8. */
enum smtp_utf8_kind {
    SU_REPLY,       /* the server answered the envelope or the data: code, text, stage */
    SU_NOT_OFFERED, /* the server does not offer SMTPUTF8: nothing was sent */
    SU_NO_SESSION,  /* no session: a connection or protocol failure (text) */
    SU_TLS,         /* TLS failed or the certificate did not verify (text) */
    SU_AUTH,        /* the server refused the credentials (code, text) */
};

struct smtp_utf8_out {
    enum smtp_utf8_kind kind;
    int code;          /* the last reply's code, 0 if none */
    char text[400];    /* its text (CR and LF removed), or libcurl's reason */
    const char *stage; /* "MAIL FROM", "RCPT TO" or "DATA" for SU_REPLY */
};

/* Sends body from envelope sender from to rcpt (both as on the wire, see
 * hd_mime_wire_address) with SMTPUTF8, after checking (at most every few
 * minutes, on a connection of its own) that the server offers it. */
void hd_smtp_utf8_send(struct smtp_conf *c, const char *from, const char *rcpt,
                       const struct hd_buf *body, struct smtp_utf8_out *out);

#endif
