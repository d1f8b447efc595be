/* mime: the RFC 5322 message herald sends for an email: headers encoded per
 * RFC 2047 and folded, a multipart/alternative body (text and HTML, UTF-8,
 * quoted-printable, so no line exceeds 76 octets), Date, Message-ID, and for
 * marketing mail List-Unsubscribe with one-click (RFC 8058). Every value
 * bound for a header is checked first: a CR, LF or other control character
 * refuses the message with a reason, and nothing of it is written. */
#ifndef HERALD_MIME_H
#define HERALD_MIME_H

#include <stdbool.h>
#include <stdint.h>

#include "herald/buf.h"
#include "herald/err.h"

struct hd_mail {
    const char *from;     /* "Name <user@example.com>" or "user@example.com" */
    const char *reply_to; /* the same forms, or NULL */
    const char *to;       /* the recipient's address */
    const char *subject;
    const char *text;               /* the text part (required) */
    const char *html;               /* the HTML part, or NULL for text only */
    const char *message_id;         /* the message's UUID; Message-ID is <UUID@from-domain> */
    int64_t date;                   /* seconds since the epoch */
    const char *unsubscribe_url;    /* https://..., or NULL */
    const char *unsubscribe_mailto; /* an address, or NULL */
};

/* Appends the message (CRLF line ends) to out. HD_E_INVALID with a reason
 * when a header value holds a control character or an address is bad. */
int hd_mime_build(const struct hd_mail *m, struct hd_buf *out, struct hd_err *err);

/* The bare address of "Name <addr>" or "addr" into out; -1 if malformed. */
int hd_mime_address(const char *mailbox, char *out, size_t size);

#endif
