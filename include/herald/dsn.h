/* dsn: reading a mail that came back to the bounce mailbox (issue 19): an
 * RFC 3464 delivery status notification, an RFC 5965 ARF complaint, or a
 * non-standard bounce recognised by its sender, subject and the bounce
 * rules' words; what it is about (the message's number from the VERP
 * address it came back to or the returned original's X-Herald-Message),
 * and its bounce class (hd_bounce_classify). No store: the caller applies
 * it. */
#ifndef HERALD_DSN_H
#define HERALD_DSN_H

#include <stddef.h>
#include <stdint.h>

#include "herald/bounce.h"
#include "herald/err.h"

enum hd_dsn_kind { HD_DSN_BOUNCE, HD_DSN_COMPLAINT, HD_DSN_DELAY };

struct hd_dsn {
    int kind;                /* enum hd_dsn_kind */
    int64_t ref;             /* the message's number, 0: not found */
    char verp[320];          /* the VERP address it came back to ("b+12@d"), or "" */
    char message_id[256];    /* the returned original's Message-ID (no <>), or "" */
    char envelope_id[128];   /* Original-Envelope-Id, or "" */
    char recipient[320];     /* the address that bounced or complained, or "" */
    char status[16];         /* the enhanced status code ("5.1.1"), or "" */
    char diagnostic[512];    /* the remote server's words, or the bounce's text */
    char feedback[32];       /* ARF's Feedback-Type ("abuse"), or "" */
    struct hd_bounce bounce; /* the class (a complaint: unknown, hard) */
};

/* Parses one mail of len bytes (any line ends); rules may be NULL.
 * HD_E_PARSE with a reason when it is not a bounce, a delay or a complaint
 * (a success report, a reply, a mail with no report in it). */
int hd_dsn_parse(const char *mail, size_t len, const struct hd_bounce_rules *rules,
                 struct hd_dsn *out, struct hd_err *err);
const char *hd_dsn_kind_name(int kind); /* "bounce", "complaint", "delay" */
/* The message number of a VERP address "local+N@domain" (0: not one); when
 * base is not NULL it gets the address without "+N". */
int64_t hd_dsn_verp_ref(const char *addr, char *base, size_t n);

#endif
