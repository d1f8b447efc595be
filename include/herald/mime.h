/* mime: the RFC 5322 message herald sends for an email: headers encoded per
 * RFC 2047 and folded (no line over 78 columns, 76 where it holds an
 * encoded-word), addresses as they go on an ASCII wire (a non-ASCII
 * domain as its A-label; a non-ASCII local part is refused, since herald
 * does not send SMTPUTF8), a multipart/alternative body (text and HTML, UTF-8,
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

struct hd_valid;

struct hd_mail {
    const char *from;     /* "Name <user@example.com>" or "user@example.com" */
    const char *reply_to; /* the same forms, or NULL */
    const char *to;       /* the recipient's address */
    const char *subject;
    const char *text;       /* the text part (required) */
    const char *html;       /* the HTML part, or NULL for text only */
    const char *message_id; /* the message's UUID; Message-ID is <UUID@from-domain> */
    int64_t date; /* seconds since the epoch */
    const char *unsubscribe_url;     /* https://..., or NULL */
    const char *unsubscribe_mailto;  /* an address, or NULL */
    const char *unsubscribe_subject; /* the mailto's subject, or NULL: "unsubscribe" */
    /* the message's number in the store (0: none), written as X-Herald-Message
     * and, for esp (ses, sendgrid, mailgun, postmark or NULL), where that
     * sender echoes it back in its events */
    int64_t ref;
    const char *esp;
    /* the message goes out with SMTPUTF8 (RFC 6531, 6532): its address
     * fields may keep a non-ASCII local part; else such an address is
     * refused (smtputf8_unsupported) */
    bool smtputf8;
    /* ICU state for non-ASCII domains: *valid is made (hd_valid_new) when
     * one is first needed and the caller frees it; NULL: the build makes
     * and frees its own */
    struct hd_valid **valid;
};

/* The envelope sender of message number ref under VERP (issue 19): the
 * bounce address "bounces@bounce.example.com" becomes
 * "bounces+REF@bounce.example.com", so a bounce names the message it is
 * about; ref 0 leaves it as given. -1 when it has no '@' or does not fit. */
int hd_mime_verp(const char *bounce_address, int64_t ref, char *out, size_t n);

/* Appends the message (CRLF line ends) to out. HD_E_INVALID with a reason
 * when a header value holds a control character or an address is bad. */
int hd_mime_build(const struct hd_mail *m, struct hd_buf *out, struct hd_err *err);

/* The bare address of "Name <addr>" or "addr" into out; -1 if malformed. */
int hd_mime_address(const char *mailbox, char *out, size_t size);

/* The bare address addr as it goes on the wire (MAIL FROM, RCPT TO,
 * header fields): a non-ASCII domain as its A-label (UTS #46, through
 * hd_valid_email_ascii; *v is made when first needed, see struct hd_mail),
 * the rest as it is. *utf8_local says whether the local part is not ASCII;
 * such an address is written only when utf8_ok (the message goes out with
 * SMTPUTF8), else it is HD_E_INVALID with a reason that starts with
 * "smtputf8_unsupported:". HD_E_INVALID with a reason too when the domain
 * is not a valid name. */
int hd_mime_wire_address(struct hd_valid **v, const char *addr, bool utf8_ok, char *out,
                         size_t size, bool *utf8_local, struct hd_err *err);

#endif
