/* dsn: a returned mail read (see dsn.h). The mail is copied once with its
 * line ends made LF (and NULs made spaces), so that the rest is plain
 * string work on one buffer: next_field() reads one header field, unfolded,
 * and stops at the blank line; a multipart/report is cut at its boundary
 * lines and each part read by its type: message/delivery-status (the
 * per-message fields, then one group per recipient: the first that failed,
 * else the first delayed, is the one reported), message/feedback-report
 * (ARF), and the returned original or its headers (message/rfc822,
 * text/rfc822-headers: X-Herald-Message, Message-ID, To). A mail with no
 * report is a bounce only when its sender (MAILER-DAEMON, postmaster) or
 * subject says so; its diagnostic is the first line that holds an SMTP
 * code, and the rules' keywords classify it. The message's number comes
 * from the VERP address the mail came back to (Delivered-To, X-Original-To,
 * To, ARF's Original-Mail-From, the original's Return-Path) before the
 * original's X-Herald-Message: a header of the original can be forged by
 * whoever wrote it, the envelope sender is what herald chose. */
#include "herald/dsn.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "herald/buf.h"

const char *hd_dsn_kind_name(int kind)
{
    static const char *const names[] = {"bounce", "complaint", "delay"};
    return kind >= 0 && kind <= HD_DSN_DELAY ? names[kind] : "?";
}

int64_t hd_dsn_verp_ref(const char *addr, char *base, size_t n)
{
    const char *at = strrchr(addr, '@'), *plus = NULL;
    for (const char *p = addr; at && p < at; p++)
        if (*p == '+')
            plus = p;
    if (!plus || at - plus < 2 || at - plus > 19)
        return 0;
    int64_t ref = 0;
    for (const char *p = plus + 1; p < at; p++) {
        if (!isdigit((unsigned char)*p))
            return 0;
        ref = ref * 10 + (*p - '0');
    }
    if (base && snprintf(base, n, "%.*s%s", (int)(plus - addr), addr, at) >= (int)n)
        base[0] = '\0';
    return ref;
}

/* Reads the header field at p into name and val (unfolded, spaces
 * collapsed, cut to fit); returns where the next one starts, or NULL at
 * the blank line or the end. A line with no colon has an empty name. */
static const char *next_field(const char *p, char *name, size_t nn, char *val, size_t vn)
{
    if (!*p || *p == '\n')
        return NULL;
    const char *colon = p;
    while (*colon && *colon != ':' && *colon != '\n')
        colon++;
    size_t k = *colon == ':' ? (size_t)(colon - p) : 0, o = 0;
    snprintf(name, nn, "%.*s", (int)(k < nn ? k : nn - 1), p);
    const char *q = *colon == ':' ? colon + 1 : p;
    for (; *q; q++) {
        char c = *q == '\t' ? ' ' : *q;
        if (c == '\n') {
            if (q[1] != ' ' && q[1] != '\t') {
                q++;
                break;
            }
            c = ' ';
        }
        if (o + 1 < vn && (c != ' ' || (o > 0 && val[o - 1] != ' ')))
            val[o++] = c;
    }
    while (o > 0 && val[o - 1] == ' ')
        o--;
    val[o] = '\0';
    return q;
}

/* The value of header want in the header block at p. */
static bool header(const char *p, const char *want, char *val, size_t vn)
{
    char name[64];
    while ((p = next_field(p, name, sizeof name, val, vn)))
        if (strcasecmp(name, want) == 0)
            return true;
    val[0] = '\0';
    return false;
}

/* Where the body of the entity at p starts (after its blank line). */
static char *body_of(char *p)
{
    if (*p == '\n')
        return p + 1;
    char *b = strstr(p, "\n\n");
    return b ? b + 2 : p + strlen(p);
}

/* Parameter param of a Content-Type value, unquoted. */
static void ct_param(const char *ct, const char *param, char *out, size_t n)
{
    size_t pl = strlen(param);
    out[0] = '\0';
    for (const char *p = strchr(ct, ';'); p; p = strchr(p + 1, ';')) {
        const char *q = p + 1;
        while (*q == ' ')
            q++;
        if (strncasecmp(q, param, pl) != 0 || q[pl] != '=')
            continue;
        q += pl + 1;
        bool quoted = *q == '"';
        size_t k = strcspn(q += quoted, quoted ? "\"" : "; ");
        snprintf(out, n, "%.*s", (int)(k < n ? k : n - 1), q);
        return;
    }
}

/* The address in a field's value: "rfc822; a@b", "Name <a@b>", "a@b". */
static void address_of(const char *v, char *out, size_t n)
{
    const char *semi = strchr(v, ';'), *lt = strchr(v, '<');
    if (semi && !lt)
        v = semi + 1;
    while (*v == ' ')
        v++;
    if (lt)
        v = lt + 1;
    size_t k = strcspn(v, lt ? ">" : " ");
    snprintf(out, n, "%.*s", (int)(k < n ? k : n - 1), v);
}

/* What parsing gathers besides the result itself. */
struct acc {
    struct hd_dsn *d;
    int rank;         /* of the reported recipient: 2 failed, 1 delayed, 0 none */
    char action[32];  /* the last recipient's Action, for the error */
    bool feedback;    /* an ARF report was read */
    char human[1024]; /* the report's first text part, spaces collapsed */
};

static void try_verp(struct hd_dsn *d, const char *v)
{
    char a[320];
    address_of(v, a, sizeof a);
    int64_t ref = d->verp[0] ? 0 : hd_dsn_verp_ref(a, NULL, 0);
    if (ref > 0) {
        d->ref = ref;
        hd_strcpy_cut(d->verp, sizeof d->verp, a);
    }
}

/* One recipient's group of a delivery-status part. */
struct rcpt {
    char to[320], status[16], diag[512], action[32];
};

static void rcpt_field(struct acc *a, struct rcpt *r, const char *name, const char *val)
{
    if (strcasecmp(name, "Final-Recipient") == 0 ||
        (strcasecmp(name, "Original-Recipient") == 0 && !r->to[0]))
        address_of(val, r->to, sizeof r->to);
    else if (strcasecmp(name, "Action") == 0)
        hd_strcpy_cut(r->action, sizeof r->action, val);
    else if (strcasecmp(name, "Status") == 0)
        snprintf(r->status, sizeof r->status, "%.*s", (int)strcspn(val, " ("), val);
    else if (strcasecmp(name, "Diagnostic-Code") == 0) {
        const char *semi = strchr(val, ';');
        const char *v = semi ? semi + 1 + (semi[1] == ' ') : val;
        hd_strcpy_cut(r->diag, sizeof r->diag, v);
    } else if (strcasecmp(name, "Original-Envelope-Id") == 0)
        hd_strcpy_cut(a->d->envelope_id, sizeof a->d->envelope_id, val);
    else if (strcasecmp(name, "X-Original-To") == 0)
        try_verp(a->d, val);
}

static void delivery_status(struct acc *a, char *p)
{
    char name[64], val[512];
    p = body_of(p);
    while (*p) {
        struct rcpt r;
        memset(&r, 0, sizeof r);
        const char *q;
        while ((q = next_field(p, name, sizeof name, val, sizeof val))) {
            rcpt_field(a, &r, name, val);
            p = (char *)q;
        }
        while (*p == '\n')
            p++;
        int rank = strncasecmp(r.action, "failed", 6) == 0    ? 2
                   : strncasecmp(r.action, "delayed", 7) == 0 ? 1
                                                              : 0;
        if (r.action[0])
            hd_strcpy_cut(a->action, sizeof a->action, r.action);
        if (rank > a->rank) {
            a->rank = rank;
            hd_strcpy_cut(a->d->recipient, sizeof a->d->recipient, r.to);
            hd_strcpy_cut(a->d->status, sizeof a->d->status, r.status);
            hd_strcpy_cut(a->d->diagnostic, sizeof a->d->diagnostic, r.diag);
        }
    }
}

static void feedback_report(struct acc *a, char *p)
{
    char name[64], val[512];
    const char *q = body_of(p);
    while ((q = next_field(q, name, sizeof name, val, sizeof val))) {
        if (strcasecmp(name, "Feedback-Type") == 0) {
            a->feedback = true;
            hd_strcpy_cut(a->d->feedback, sizeof a->d->feedback, val);
        } else if (strcasecmp(name, "Original-Rcpt-To") == 0)
            address_of(val, a->d->recipient, sizeof a->d->recipient);
        else if (strcasecmp(name, "Original-Mail-From") == 0)
            try_verp(a->d, val);
    }
}

/* The returned original's headers (at p): the message it was. */
static void original(struct acc *a, const char *p)
{
    char name[64], val[512];
    while ((p = next_field(p, name, sizeof name, val, sizeof val))) {
        long long ref = strtoll(val, NULL, 10);
        if (strcasecmp(name, "X-Herald-Message") == 0 && !a->d->ref && ref > 0)
            a->d->ref = ref;
        else if (strcasecmp(name, "Message-ID") == 0)
            address_of(val, a->d->message_id, sizeof a->d->message_id);
        else if (strcasecmp(name, "Return-Path") == 0)
            try_verp(a->d, val);
        else if (strcasecmp(name, "To") == 0 && !a->d->recipient[0])
            address_of(val, a->d->recipient, sizeof a->d->recipient);
    }
}

static void collapse(const char *s, char *out, size_t n)
{
    size_t o = 0;
    for (; *s && o + 1 < n; s++) {
        char c = isspace((unsigned char)*s) ? ' ' : *s;
        if (c != ' ' || (o > 0 && out[o - 1] != ' '))
            out[o++] = c;
    }
    out[o] = '\0';
}

/* One part of a multipart/report, terminated at its end. */
static void part(struct acc *a, char *p)
{
    char ct[256];
    header(p, "Content-Type", ct, sizeof ct);
    if (strncasecmp(ct, "message/delivery-status", 23) == 0 ||
        strncasecmp(ct, "message/global-delivery-status", 30) == 0)
        delivery_status(a, p);
    else if (strncasecmp(ct, "message/feedback-report", 23) == 0)
        feedback_report(a, p);
    else if (strncasecmp(ct, "message/rfc822", 14) == 0 ||
             strncasecmp(ct, "message/global", 14) == 0 ||
             strncasecmp(ct, "text/rfc822-headers", 19) == 0)
        original(a, body_of(p));
    else if ((!ct[0] || strncasecmp(ct, "text/plain", 10) == 0) && !a->human[0])
        collapse(body_of(p), a->human, sizeof a->human);
}

/* Cuts the body at each boundary line and reads each part. */
static void parts(struct acc *a, char *body, const char *boundary)
{
    char delim[256];
    int dl = snprintf(delim, sizeof delim, "\n--%s", boundary);
    if (dl < 0 || (size_t)dl >= sizeof delim || !boundary[0])
        return;
    for (char *p = strstr(body - 1, delim); p;) {
        p += dl;
        char *eol = strchr(p, '\n');
        if ((p[0] == '-' && p[1] == '-') || !eol)
            break;
        char *next = strstr(eol, delim);
        if (next)
            *next = '\0';
        part(a, eol + 1);
        if (next)
            *next = '\n';
        p = next;
    }
}

/* Where w first occurs in s, ignoring ASCII case, or NULL. */
static char *find_ci(char *s, const char *w)
{
    for (size_t n = strlen(w); *s; s++)
        if (strncasecmp(s, w, n) == 0)
            return s;
    return NULL;
}

static bool has(char *s, const char *w)
{
    return find_ci(s, w) != NULL;
}

/* Whether an SMTP reply code (550) or an enhanced status code (5.1.1)
 * starts at c. */
static bool smtp_code(const char *c)
{
    if (c[0] != '4' && c[0] != '5')
        return false;
    if (isdigit((unsigned char)c[1]) && isdigit((unsigned char)c[2]))
        return !isdigit((unsigned char)c[3]);
    return c[1] == '.' && isdigit((unsigned char)c[2]) &&
           (c[3] == '.' || (isdigit((unsigned char)c[3]) && c[4] == '.'));
}

/* A mail with no report: a bounce or a delay when its sender or subject
 * says so, read from its text. */
static int plain(struct acc *a, char *top, char *body, struct hd_err *err)
{
    static const char *const subjects[] = {"undeliver",     "delivery status", "delivery fail",
                                           "returned mail", "failure notice",  "delivery failure",
                                           "not delivered"};
    char from[320], subject[320];
    header(top, "From", from, sizeof from);
    header(top, "Subject", subject, sizeof subject);
    bool bounce = has(from, "mailer-daemon") || has(from, "postmaster");
    for (size_t i = 0; i < sizeof subjects / sizeof *subjects; i++)
        bounce = bounce || has(subject, subjects[i]);
    if (!bounce)
        return hd_err_set(err, HD_E_PARSE,
                          "not a bounce: no delivery report, and neither "
                          "its sender nor its subject says it is one");
    a->rank = has(subject, "delay") || has(subject, "warning") ? 1 : 2;
    /* the first line with an SMTP code says why; else the first words */
    const char *why = NULL;
    for (const char *l = body; *l && !why; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "")
        for (const char *c = l; *c && *c != '\n' && !why; c++)
            if (smtp_code(c) && (c == l || !isalnum((unsigned char)c[-1])))
                why = l;
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)strcspn(why ? why : body, "\n"), why ? why : body);
    collapse(line, a->d->diagnostic, sizeof a->d->diagnostic);
    /* a returned original inline: the header block that holds the id */
    char *x = find_ci(body - (body > top), "\nX-Herald-Message:");
    if (x) {
        while (x > body && !(x[-1] == '\n' && x[0] == '\n'))
            x--;
        original(a, x + (*x == '\n'));
    }
    return 0;
}

static char *lf_copy(const char *mail, size_t len)
{
    char *s = hd_xmalloc(len + 2), *o = s;
    for (size_t i = 0; i < len; i++)
        if (mail[i] != '\r' || (i + 1 < len && mail[i + 1] != '\n'))
            *o++ = mail[i] ? (mail[i] == '\r' ? '\n' : mail[i]) : ' ';
    *o = '\0';
    return s;
}

/* What a report without a Diagnostic-Code says of the recipient: the
 * text after the address's last mention in the human part (Exim writes
 * the address, then the reason indented below it: "Unrouteable
 * address"), else the whole human part. */
static void human_reason(struct acc *a)
{
    struct hd_dsn *d = a->d;
    char *at = NULL;
    for (char *p = a->human; d->recipient[0] && (p = find_ci(p, d->recipient)) != NULL; p++)
        at = p;
    const char *why = at ? at + strlen(d->recipient) : "";
    why += strspn(why, " ");
    hd_strcpy_cut(d->diagnostic, sizeof d->diagnostic, *why ? why : a->human);
    size_t n = strlen(d->diagnostic);
    while (n > 0 && d->diagnostic[n - 1] == ' ')
        d->diagnostic[--n] = '\0';
}

/* The kind, or an error when the report says nothing went wrong. */
static int settle(struct acc *a, const struct hd_bounce_rules *rules, struct hd_err *err)
{
    struct hd_dsn *d = a->d;
    if (a->feedback) {
        if (strcasecmp(d->feedback, "not-spam") == 0)
            return hd_err_set(err, HD_E_PARSE, "a feedback report of type 'not-spam'");
        d->kind = HD_DSN_COMPLAINT;
        d->bounce = (struct hd_bounce){.cls = HD_BOUNCE_UNKNOWN, .severity = HD_BOUNCE_HARD};
        snprintf(d->diagnostic, sizeof d->diagnostic, "feedback report: %s", d->feedback);
        return 0;
    }
    if (!a->rank)
        return hd_err_set(err, HD_E_PARSE, "a delivery report without a failure (action '%s')",
                          a->action[0] ? a->action : "none");
    if (!d->diagnostic[0])
        human_reason(a);
    d->kind = a->rank == 2 ? HD_DSN_BOUNCE : HD_DSN_DELAY;
    hd_bounce_classify(rules, d->status[0] ? d->status : NULL, 0, d->diagnostic, &d->bounce);
    if (d->bounce.cls == HD_BOUNCE_UNKNOWN && a->human[0])
        hd_bounce_classify(rules, d->status[0] ? d->status : NULL, 0, a->human, &d->bounce);
    return 0;
}

int hd_dsn_parse(const char *mail, size_t len, const struct hd_bounce_rules *rules,
                 struct hd_dsn *out, struct hd_err *err)
{
    static const char *const envelope[] = {"Delivered-To", "X-Original-To", "To"};
    char *s = lf_copy(mail, len), *body = body_of(s);
    char ct[512], v[320], boundary[200];
    struct acc a = {.d = out};
    int rc = 0;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof envelope / sizeof *envelope; i++)
        if (header(s, envelope[i], v, sizeof v))
            try_verp(out, v);
    header(s, "Content-Type", ct, sizeof ct);
    ct_param(ct, "boundary", boundary, sizeof boundary);
    bool report = strncasecmp(ct, "multipart/report", 16) == 0 && boundary[0] && body > s;
    if (report)
        parts(&a, body, boundary);
    if (!report || (!a.rank && !a.feedback && !a.action[0]))
        rc = plain(&a, s, body, err);
    if (rc == 0)
        rc = settle(&a, rules, err);
    free(s);
    return rc;
}
