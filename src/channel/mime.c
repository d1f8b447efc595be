/* mime: builds the message text. Non-ASCII header text becomes RFC 2047
 * encoded-words (base64, never splitting a UTF-8 sequence), one per line,
 * each line at most 76 columns counting the header's name on the first;
 * ASCII text is folded at its spaces, or encoded too when a word is too
 * long for a line. A display name is parsed once (a quoted-string is
 * unquoted) and written quoted or encoded. Addresses go out with an
 * A-label domain (ICU through hd_valid); a non-ASCII local part only in a
 * message marked smtputf8, whose header fields RFC 6532 lets carry UTF-8
 * (the display names and Subject are still encoded-words). Bodies are quoted-printable with
 * soft line breaks at 76 octets. A message is built for every email sent,
 * so the text goes in as strings and runs of bytes, not through printf
 * formats, into one buffer sized once for the parts' longest encoding. */
#include "herald/mime.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "herald/time.h"
#include "herald/valid.h"

/* a, s and c appended: hd_buf_addf's "%s" cost about 2,000 instructions a
 * call, and a message's headers and boundaries made a dozen of them */
static void add3(struct hd_buf *b, const char *a, const char *s, const char *c)
{
    hd_buf_adds(b, a);
    hd_buf_adds(b, s);
    hd_buf_adds(b, c);
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return true;
    return false;
}

/* Eight bytes at a time: it runs on every address and subject sent. */
static bool ascii(const char *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080u)
            return false;
    }
    for (; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

int hd_mime_address(const char *mailbox, char *out, size_t size)
{
    const char *lt = strrchr(mailbox, '<'), *gt = strrchr(mailbox, '>');
    const char *a = mailbox;
    size_t n = strlen(mailbox);
    if (lt || gt) {
        if (!lt || !gt || gt < lt || gt[1] != '\0')
            return -1;
        a = lt + 1;
        n = (size_t)(gt - lt - 1);
    }
    while (n && isspace((unsigned char)*a))
        a++, n--;
    while (n && isspace((unsigned char)a[n - 1]))
        n--;
    if (n == 0 || n >= size)
        return -1;
    memcpy(out, a, n);
    out[n] = '\0';
    return 0;
}

/* ---- RFC 2047 -------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64(struct hd_buf *out, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        hd_buf_addc(out, b64[v >> 18 & 63]);
        hd_buf_addc(out, b64[v >> 12 & 63]);
        hd_buf_addc(out, i + 1 < n ? b64[v >> 6 & 63] : '=');
        hd_buf_addc(out, i + 2 < n ? b64[v & 63] : '=');
    }
}

/* RFC 2047 §2: a line that holds an encoded-word is at most 76 columns;
 * RFC 5322 asks for at most 78 in any header line. */
#define EW_LINE 76
#define HEADER_LINE 78
/* "=?UTF-8?B?" and "?=" */
#define EW_SYNTAX 12

/* True when each word of ASCII text s fits a line: the first at column
 * col, the others after a fold (column 1). */
static bool words_fit(const char *s, size_t n, size_t col)
{
    size_t start = col;
    for (size_t i = 0, w;; i = w + 1) {
        for (w = i; w < n && s[w] != ' '; w++)
            ;
        if (start + (w - i) > HEADER_LINE)
            return false;
        if (w >= n)
            return true;
        start = 1;
    }
}

/* ASCII text folded at its spaces: a space before a word that would pass
 * column 76 becomes the fold, so unfolding gives the text back. Returns
 * the column it ends at. */
static size_t fold_ascii(struct hd_buf *out, const char *s, size_t n, size_t col)
{
    size_t line = col;
    for (size_t i = 0, w;; i = w + 1) {
        for (w = i; w < n && s[w] != ' '; w++)
            ;
        if (i > 0) {
            if (w > i && line + 1 + (w - i) > EW_LINE) {
                hd_buf_adds(out, "\r\n ");
                line = 1;
            } else {
                hd_buf_addc(out, ' ');
                line++;
            }
        }
        hd_buf_add(out, s + i, w - i);
        line += w - i;
        if (w >= n)
            return line;
    }
}

/* Text as encoded-words, each filling its line to at most 76 columns
 * (whole base64 groups, never splitting a UTF-8 sequence), one per folded
 * line. Returns the column it ends at. */
static size_t encoded_words(struct hd_buf *out, const char *s, size_t n, size_t col)
{
    size_t i = 0;
    while (i < n) {
        size_t room = col + EW_SYNTAX < EW_LINE ? (EW_LINE - col - EW_SYNTAX) / 4 * 3 : 0;
        size_t take = n - i < room ? n - i : room;
        while (take && take < n - i && ((unsigned char)s[i + take] & 0xC0) == 0x80)
            take--;
        if (take == 0 && col > 1) { /* not one character fits after col */
            hd_buf_adds(out, "\r\n ");
            col = 1;
            continue;
        }
        if (take == 0) /* not UTF-8: a run of continuation bytes */
            take = n - i < room ? n - i : room;
        hd_buf_adds(out, "=?UTF-8?B?");
        base64(out, (const unsigned char *)s + i, take);
        hd_buf_adds(out, "?=");
        col += EW_SYNTAX + (take + 2) / 3 * 4;
        i += take;
        if (i < n) {
            hd_buf_adds(out, "\r\n ");
            col = 1;
        }
    }
    return col;
}

/* Appends text as header content starting at column col: printable ASCII
 * folded at its spaces when every word fits a 78-column line, otherwise
 * encoded-words (which also carry an unbroken run too long for a line:
 * issue 16, a 1,200-character subject). Text holding "=?" is encoded too:
 * written as it is, a run like =?UTF-8?B?...?= from a contact's data would
 * be decoded by mail clients into other text (RFC 2047 section 7; a
 * review found it). Returns the column it ends at. */
static size_t header_text(struct hd_buf *out, const char *s, size_t col)
{
    size_t n = strlen(s);
    if (ascii(s, n) && words_fit(s, n, col) && !strstr(s, "=?"))
        return fold_ascii(out, s, n, col);
    return encoded_words(out, s, n, col);
}

int hd_mime_wire_address(struct hd_valid **v, const char *addr, bool utf8_ok, char *out,
                         size_t size, bool *utf8_local, struct hd_err *err)
{
    char why[200];
    size_t n = strlen(addr);
    *utf8_local = false;
    if (ascii(addr, n)) {
        if (n >= size)
            return hd_err_set(err, HD_E_INVALID, "the address '%s' is too long", addr);
        memcpy(out, addr, n + 1);
        return 0;
    }
    if (!*v)
        *v = hd_valid_new();
    int rc = hd_valid_email_ascii(*v, addr, why, sizeof why, utf8_local);
    if (*utf8_local && !utf8_ok)
        return hd_err_set(err, HD_E_INVALID,
                          "smtputf8_unsupported: the address '%s' has a non-ASCII local part, "
                          "which only SMTPUTF8 (RFC 6531) carries, and this message does not go "
                          "out with it (the address is not suppressed)",
                          addr);
    if (rc < 0)
        return hd_err_set(err, HD_E_INVALID, "the address '%s': %s", addr, why);
    if (strlen(why) >= size)
        return hd_err_set(err, HD_E_INVALID, "the address '%s' is too long", addr);
    memcpy(out, why, strlen(why) + 1);
    return 0;
}

/* "Name <addr>" with the name encoded when needed and the address as it
 * goes on the wire (hd_mime_wire_address), which is also left in addr. */
static int mailbox_header(struct hd_buf *out, const char *name, const char *mailbox, bool utf8_ok,
                          struct hd_valid **v, char *addr, size_t size, struct hd_err *err)
{
    char given[320];
    bool utf8_local;
    if (has_control(mailbox))
        return hd_err_set(err, HD_E_INVALID,
                          "header '%s' holds a control character (a line break?): refused", name);
    if (hd_mime_address(mailbox, addr, size) < 0 || strchr(addr, '<') || strchr(addr, '>') ||
        strchr(addr, ',') || strchr(addr, ' ') || !strchr(addr, '@'))
        return hd_err_set(err, HD_E_INVALID, "header '%s': '%s' is not an address", name, mailbox);
    size_t an = strlen(addr);
    if (!ascii(addr, an)) { /* to the wire form, in place */
        if (an >= sizeof given)
            return hd_err_set(err, HD_E_INVALID, "header '%s': '%s' is too long", name, mailbox);
        memcpy(given, addr, an + 1);
        int rc = hd_mime_wire_address(v, given, utf8_ok, addr, size, &utf8_local, err);
        if (rc < 0)
            return rc;
    }
    char display[HD_DISPLAY_NAME_MAX + 1];
    if (hd_valid_display_name(mailbox, display, sizeof display) < 0)
        return hd_err_set(err, HD_E_INVALID,
                          "header '%s': its display name is longer than %d bytes", name,
                          HD_DISPLAY_NAME_MAX);
    size_t col = strlen(name) + 2;
    add3(out, "", name, ": ");
    if (display[0]) {
        size_t dn = strlen(display), qn = 0, line = HEADER_LINE;
        char q[2 * HD_DISPLAY_NAME_MAX + 3];
        if (ascii(display, dn) && !strstr(display, "=?")) {
            /* a quoted-string keeps specials such as ',' harmless */
            q[qn++] = '"';
            for (size_t i = 0; i < dn; i++) {
                if (display[i] == '"' || display[i] == '\\')
                    q[qn++] = '\\';
                q[qn++] = display[i];
            }
            q[qn++] = '"';
        }
        if (qn && col + qn <= HEADER_LINE) {
            hd_buf_add(out, q, qn);
            col += qn;
        } else if (qn && words_fit(q, qn, col)) { /* folded at its spaces */
            col = fold_ascii(out, q, qn, col);
        } else { /* encoded-words fold anywhere, and keep specials harmless too */
            col = encoded_words(out, display, dn, col);
            line = EW_LINE;
        }
        /* the address on the name's last line only if it fits */
        hd_buf_adds(out, col + 3 + strlen(addr) > line ? "\r\n" : "");
        hd_buf_addc(out, ' ');
    }
    add3(out, "<", addr, ">\r\n");
    return 0;
}

/* ---- quoted-printable ---------------------------------------------------------- */

/* Printable ASCII but '=': written as it is wherever it stands (a '.' too,
 * except at a line's start, which qp checks before a run). */
static bool qp_plain(unsigned char c)
{
    return (unsigned)(c - 33) <= 126 - 33 && c != '=';
}

/* A space or tab at p that ends its line (or the text): encoded, since
 * transports may strip trailing white space. */
static bool qp_trailing(const unsigned char *p)
{
    return p[1] == '\n' || p[1] == '\0' || (p[1] == '\r' && p[2] == '\n');
}

/* Past the bytes from p that are printable ASCII but '=', or a space,
 * eight at a time while they are before end (the text's NUL), then one at
 * a time (the NUL stops that). A word has a byte below 0x20, above 0x7e
 * or equal to '=' exactly when one of the three tests below sets a top
 * bit (the "hasless"/"hasmore" bit tricks: a borrow may mark a wrong byte
 * of a word that has one, never a word that has none). */
static const unsigned char *qp_skip(const unsigned char *p, const unsigned char *end)
{
    const uint64_t ones = 0x0101010101010101u, tops = 0x8080808080808080u;
    while (end - p >= 8) {
        uint64_t x, eq;
        memcpy(&x, p, 8);
        eq = x ^ (ones * '=');
        if ((((x - ones * 0x20) & ~x) | ((x + ones * 1) | x) | ((eq - ones) & ~eq)) & tops)
            break;
        p += 8;
    }
    while (qp_plain(*p) || *p == ' ')
        p++;
    return p;
}

/* Where the run of bytes written as they are, starting at p, ends: plain
 * bytes and the spaces and tabs that do not end a line. A space is passed
 * over with the plain bytes, and given back when it was the last before
 * the line's end. */
static const unsigned char *qp_run(const unsigned char *p, const unsigned char *end)
{
    for (;;) {
        const unsigned char *s = p;
        p = qp_skip(p, end);
        if (p > s && p[-1] == ' ' && qp_trailing(p - 1))
            return p - 1;
        if (!(*p == '\t' && !qp_trailing(p)))
            return p;
        p++;
    }
}

/* One byte that is not in a plain run (or a '.' starting a line) at p, at
 * column *line; returns where the output goes on. */
static char *qp_one(char *o, const unsigned char *p, size_t *line)
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char c = *p;
    if (c == '\n') {
        *o++ = '\r';
        *o++ = '\n';
        *line = 0;
        return o;
    }
    bool lit = qp_plain(c) || ((c == ' ' || c == '\t') && !qp_trailing(p));
    /* a dot at the start of a line is safe (the SMTP session dot-stuffs), but some
     * relays mangle it: encode it */
    if (c == '.' && *line == 0)
        lit = false;
    size_t need = lit ? 1 : 3;
    if (*line + need > 75) {
        memcpy(o, "=\r\n", 3);
        o += 3;
        *line = 0;
    }
    if (lit) {
        *o++ = (char)c;
    } else {
        *o++ = '=';
        *o++ = hex[c >> 4];
        *o++ = hex[c & 15];
    }
    *line += need;
    return o;
}

/* The text quoted-printable, lines of at most 76 columns with the soft
 * break. Runs of plain bytes are copied whole, up to the column limit;
 * the rest goes byte by byte through qp_one: the encoding took about 20
 * instructions a byte when every byte went that way, 54,000 a message of
 * the recall template. */
static void qp(struct hd_buf *out, const char *s)
{
    size_t n = strlen(s), line = 0;
    /* at most 3 bytes per byte, plus a soft break ("=\r\n") every 25 bytes
     * of encoded input and a final CRLF: reserve once, write directly */
    hd_buf_reserve(out, n * 3 + (n / 25 + 2) * 3 + 2);
    char *o = out->data + out->len;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (*p) {
        const unsigned char *q = *p == '.' && line == 0 ? p : qp_run(p, end);
        while (p < q) {
            size_t k = (size_t)(q - p) < 75 - line ? (size_t)(q - p) : 75 - line;
            if (k == 0) { /* the line is full: a soft break, and on */
                memcpy(o, "=\r\n", 3);
                o += 3;
                line = 0;
                continue;
            }
            memcpy(o, p, k);
            o += k;
            p += k;
            line += k;
        }
        if (!*p)
            break;
        if (!(p[0] == '\r' && p[1] == '\n')) /* CRLF comes out of the LF */
            o = qp_one(o, p, &line);
        p++;
    }
    if (line) { /* the body always ends with a line break */
        *o++ = '\r';
        *o++ = '\n';
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
}

/* ---- the message ------------------------------------------------------------------- */

static const char *const days[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* v (0 or more) in decimal, at least width digits (zeros in front) */
static void add_digits(struct hd_buf *b, uint64_t v, int width)
{
    char d[24];
    int n = 0;
    do
        d[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    while (n < width)
        d[n++] = '0';
    while (n)
        hd_buf_addc(b, d[--n]);
}

/* Date: written by hand (as "%s, %u %s %04lld %02d:%02d:%02d" would: the
 * format took 7,000 instructions a message); a year before 0 keeps the
 * format */
static void rfc5322_date(int64_t t, struct hd_buf *out)
{
    int64_t dn = t >= 0 ? t / 86400 : -((-t + 86399) / 86400), y;
    unsigned m, d;
    int64_t s = t - dn * 86400;
    hd_time_civil_from_days(dn, &y, &m, &d);
    if (y < 0) {
        hd_buf_addf(out, "Date: %s, %u %s %04lld %02d:%02d:%02d +0000\r\n",
                    days[((dn % 7) + 7) % 7], d, months[m - 1], (long long)y, (int)(s / 3600),
                    (int)(s / 60 % 60), (int)(s % 60));
        return;
    }
    add3(out, "Date: ", days[((dn % 7) + 7) % 7], ", ");
    add_digits(out, d, 1);
    add3(out, " ", months[m - 1], " ");
    add_digits(out, (uint64_t)y, 4);
    hd_buf_addc(out, ' ');
    add_digits(out, (uint64_t)(s / 3600), 2);
    hd_buf_addc(out, ':');
    add_digits(out, (uint64_t)(s / 60 % 60), 2);
    hd_buf_addc(out, ':');
    add_digits(out, (uint64_t)(s % 60), 2);
    hd_buf_adds(out, " +0000\r\n");
}

/* Every header value is checked before anything is written. */
static int check_values(const struct hd_mail *m, struct hd_err *err)
{
    static const char *const names[] = {"Subject", "Message-ID", "List-Unsubscribe",
                                        "List-Unsubscribe", "List-Unsubscribe"};
    const char *values[] = {m->subject, m->message_id, m->unsubscribe_url, m->unsubscribe_mailto,
                            m->unsubscribe_subject};
    for (size_t i = 0; i < 5; i++)
        if (values[i] && has_control(values[i]))
            return hd_err_set(err, HD_E_INVALID,
                              "header '%s' holds a control character (a line break?): refused",
                              names[i]);
    if (m->unsubscribe_url && strncmp(m->unsubscribe_url, "https://", 8) != 0 &&
        strncmp(m->unsubscribe_url, "http://", 7) != 0)
        return hd_err_set(err, HD_E_INVALID, "the unsubscribe URL is not http(s): '%s'",
                          m->unsubscribe_url);
    if (m->unsubscribe_url && (strchr(m->unsubscribe_url, '>') || strchr(m->unsubscribe_url, ' ')))
        return hd_err_set(err, HD_E_INVALID, "the unsubscribe URL holds '>' or a space");
    return 0;
}

/* List-Unsubscribe (and, with a URL, one-click List-Unsubscribe-Post), when
 * the message has an unsubscribe URL or address. */
static int list_unsubscribe(const struct hd_mail *m, struct hd_valid **v, struct hd_buf *h,
                            struct hd_err *err)
{
    char mail[320], wire[320];
    bool utf8_local;
    if (!m->unsubscribe_url && !m->unsubscribe_mailto)
        return 0;
    if (m->unsubscribe_mailto &&
        (hd_mime_address(m->unsubscribe_mailto, mail, sizeof mail) < 0 || strchr(mail, '>')))
        return hd_err_set(err, HD_E_INVALID, "the unsubscribe address is malformed");
    if (m->unsubscribe_mailto &&
        hd_mime_wire_address(v, mail, m->smtputf8, wire, sizeof wire, &utf8_local, err) < 0)
        return HD_E_INVALID;
    hd_buf_adds(h, "List-Unsubscribe: ");
    if (m->unsubscribe_url)
        add3(h, "<", m->unsubscribe_url, ">");
    if (m->unsubscribe_mailto) {
        /* on a line of its own: the URL's line and this one each stay far
         * below 998 bytes (a URL is at most HD_LINK_MAX, an address 320) */
        hd_buf_addf(h, "%s<mailto:%s?subject=", m->unsubscribe_url ? ",\r\n " : "", wire);
        const char *subj = m->unsubscribe_subject ? m->unsubscribe_subject : "unsubscribe";
        hd_buf_add_uri(h, subj, strlen(subj)); /* RFC 6068: "unsubscribe%20TOKEN" */
        hd_buf_addc(h, '>');
    }
    hd_buf_adds(h, "\r\n");
    if (m->unsubscribe_url)
        hd_buf_adds(h, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
    return 0;
}

/* The message's number where its sender echoes it back in its events
 * (hooks_esp.c reads them): a header of herald's own, and the sender's
 * way (SES message tags, SendGrid unique_args, Mailgun variables,
 * Postmark metadata). */
static void echo_headers(const struct hd_mail *m, struct hd_buf *h)
{
    static const struct {
        const char *esp, *fmt;
    } echo[] = {
        {"ses", "X-SES-MESSAGE-TAGS: herald_message=%lld\r\n"},
        {"sendgrid", "X-SMTPAPI: {\"unique_args\":{\"herald_message\":\"%lld\"}}\r\n"},
        {"mailgun", "X-Mailgun-Variables: {\"herald_message\":\"%lld\"}\r\n"},
        {"postmark", "X-PM-Metadata-herald_message: %lld\r\n"},
    };
    if (m->ref <= 0)
        return;
    hd_buf_adds(h, "X-Herald-Message: "); /* ref > 0 */
    add_digits(h, (uint64_t)m->ref, 1);
    hd_buf_adds(h, "\r\n");
    for (size_t i = 0; m->esp && i < sizeof echo / sizeof *echo; i++)
        if (strcmp(m->esp, echo[i].esp) == 0)
            hd_buf_addf(h, echo[i].fmt, (long long)m->ref);
}

/* The MIME headers and the body: the text part alone, or text and HTML as
 * multipart/alternative. */
static void body(const struct hd_mail *m, struct hd_buf *h)
{
    hd_buf_adds(h, "MIME-Version: 1.0\r\n");
    if (m->html) {
        add3(h, "Content-Type: multipart/alternative;\r\n boundary=\"=_herald_", m->message_id,
             "\"\r\n\r\n");
        hd_buf_adds(h, "This is a message in MIME format.\r\n\r\n");
        add3(h, "--=_herald_", m->message_id, "\r\n");
        hd_buf_adds(h, "Content-Type: text/plain; charset=UTF-8\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        qp(h, m->text ? m->text : "");
        /* the CRLF before a boundary belongs to the delimiter (RFC 2046):
         * one more keeps the part's own last line break */
        add3(h, "\r\n--=_herald_", m->message_id, "\r\n");
        hd_buf_adds(h, "Content-Type: text/html; charset=UTF-8\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        qp(h, m->html);
        add3(h, "\r\n--=_herald_", m->message_id, "--\r\n");
    } else {
        hd_buf_adds(h, "Content-Type: text/plain; charset=UTF-8\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        qp(h, m->text ? m->text : "");
    }
}

int hd_mime_verp(const char *bounce_address, int64_t ref, char *out, size_t n)
{
    const char *at = strrchr(bounce_address, '@');
    int w = !at || at == bounce_address ? -1
            : ref > 0 ? snprintf(out, n, "%.*s+%lld%s", (int)(at - bounce_address), bounce_address,
                                 (long long)ref, at)
                      : snprintf(out, n, "%s", bounce_address);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

int hd_mime_build(const struct hd_mail *m, struct hd_buf *out, struct hd_err *err)
{
    struct hd_buf h;
    struct hd_valid *own = NULL, **v = m->valid ? m->valid : &own;
    char from_addr[320], addr[320];
    int rc;
    hd_buf_init(&h);
    if ((rc = check_values(m, err)) < 0)
        goto out;
    /* room for the headers and the parts at their longest (qp's bound):
     * grown by doubling, the buffer was copied a dozen times a message */
    hd_buf_reserve(&h,
                   2048 + 4 * (strlen(m->text ? m->text : "") + (m->html ? strlen(m->html) : 0)));
    if ((rc = mailbox_header(&h, "From", m->from, m->smtputf8, v, from_addr, sizeof from_addr,
                             err)) < 0 ||
        (rc = mailbox_header(&h, "To", m->to, m->smtputf8, v, addr, sizeof addr, err)) < 0 ||
        (m->reply_to && (rc = mailbox_header(&h, "Reply-To", m->reply_to, m->smtputf8, v, addr,
                                             sizeof addr, err)) < 0))
        goto out;
    rfc5322_date(m->date, &h);
    /* From's domain, as it went on the wire (an A-label) */
    add3(&h, "Message-ID: <", m->message_id, "@");
    add3(&h, "", strrchr(from_addr, '@') + 1, ">\r\n");
    hd_buf_adds(&h, "Subject: ");
    header_text(&h, m->subject ? m->subject : "", 9);
    hd_buf_adds(&h, "\r\n");
    if ((rc = list_unsubscribe(m, v, &h, err)) < 0)
        goto out;
    echo_headers(m, &h);
    body(m, &h);
    if (out->len == 0) { /* the message is the whole of out: hand it over, */
        hd_buf_release(out);
        h.data = hd_xrealloc(h.data, h.len + 1); /* cut to its size (in place) */
        h.cap = h.len + 1;
        *out = h;
        hd_buf_init(&h);
    } else {
        hd_buf_add(out, h.data, h.len);
    }
    rc = 0;
out:
    hd_valid_free(own);
    hd_buf_release(&h);
    return rc;
}
