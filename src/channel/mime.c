/* mime: builds the message text. Non-ASCII header text becomes RFC 2047
 * encoded-words (base64, at most 75 characters each, never splitting a
 * UTF-8 sequence), folded onto continuation lines; bodies are
 * quoted-printable with soft line breaks at 76 octets. */
#include "herald/mime.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "herald/time.h"
#include "herald/valid.h"

static bool has_control(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return true;
    return false;
}

static bool ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
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

/* Appends text as header content: plain when it is printable ASCII,
 * otherwise encoded-words of at most 45 bytes of UTF-8 each (60 base64
 * characters + 12 of syntax < 75), one per folded line. `col` is the
 * column the text starts at. */
static void header_text(struct hd_buf *out, const char *s, size_t col)
{
    size_t n = strlen(s);
    if (ascii(s, n)) {
        /* fold long ASCII text at spaces, keeping lines under 78 */
        size_t line = col, i = 0;
        while (i < n) {
            size_t w = i;
            while (w < n && s[w] != ' ')
                w++;
            if (line + (w - i) > 76 && line > col && i > 0) {
                hd_buf_adds(out, "\r\n ");
                line = 1;
            }
            hd_buf_add(out, s + i, w - i);
            line += w - i;
            if (w < n) {
                hd_buf_addc(out, ' ');
                line++;
            }
            i = w + 1;
        }
        return;
    }
    size_t i = 0;
    bool first = true;
    while (i < n) {
        size_t take = n - i < 45 ? n - i : 45;
        /* do not split a UTF-8 sequence */
        while (take < n - i && ((unsigned char)s[i + take] & 0xC0) == 0x80)
            take--;
        if (!first)
            hd_buf_adds(out, "\r\n ");
        hd_buf_adds(out, "=?UTF-8?B?");
        base64(out, (const unsigned char *)s + i, take);
        hd_buf_adds(out, "?=");
        i += take;
        first = false;
    }
}

/* "Name <addr>" with the name encoded when needed. */
static int mailbox_header(struct hd_buf *out, const char *name, const char *mailbox,
                          struct hd_err *err)
{
    char addr[320];
    if (has_control(mailbox))
        return hd_err_set(err, HD_E_INVALID,
                          "header '%s' holds a control character (a line break?): refused", name);
    if (hd_mime_address(mailbox, addr, sizeof addr) < 0 || strchr(addr, '<') || strchr(addr, '>') ||
        strchr(addr, ',') || strchr(addr, ' ') || !strchr(addr, '@'))
        return hd_err_set(err, HD_E_INVALID, "header '%s': '%s' is not an address", name, mailbox);
    hd_buf_addf(out, "%s: ", name);
    const char *lt = strrchr(mailbox, '<');
    if (lt) {
        char display[256];
        size_t dn = (size_t)(lt - mailbox);
        while (dn && isspace((unsigned char)mailbox[dn - 1]))
            dn--;
        if (dn >= sizeof display)
            dn = sizeof display - 1;
        memcpy(display, mailbox, dn);
        display[dn] = '\0';
        if (dn) {
            if (ascii(display, dn)) {
                /* a quoted-string keeps specials such as ',' harmless */
                hd_buf_addc(out, '"');
                for (size_t i = 0; i < dn; i++) {
                    if (display[i] == '"' || display[i] == '\\')
                        hd_buf_addc(out, '\\');
                    hd_buf_addc(out, display[i]);
                }
                hd_buf_addc(out, '"');
            } else {
                header_text(out, display, strlen(name) + 2);
            }
            hd_buf_addc(out, ' ');
        }
    }
    hd_buf_addf(out, "<%s>\r\n", addr);
    return 0;
}

/* ---- quoted-printable ---------------------------------------------------------- */

static void qp(struct hd_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s), line = 0;
    /* at most 3 bytes per byte, plus a soft break ("=\r\n") every 25 bytes
     * of encoded input and a final CRLF: reserve once, write directly */
    hd_buf_reserve(out, n * 3 + (n / 25 + 2) * 3 + 2);
    char *o = out->data + out->len;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '\r' && p[1] == '\n')
            continue; /* CRLF comes out of the LF below */
        if (c == '\n') {
            *o++ = '\r';
            *o++ = '\n';
            line = 0;
            continue;
        }
        bool trailing_space = (c == ' ' || c == '\t') &&
                              (p[1] == '\n' || p[1] == '\0' || (p[1] == '\r' && p[2] == '\n'));
        bool lit =
            (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !trailing_space);
        /* a dot at the start of a line is safe (libesmtp dot-stuffs), but some
         * relays mangle it: encode it */
        if (c == '.' && line == 0)
            lit = false;
        size_t need = lit ? 1 : 3;
        if (line + need > 75) {
            *o++ = '=';
            *o++ = '\r';
            *o++ = '\n';
            line = 0;
        }
        if (lit) {
            *o++ = (char)c;
        } else {
            *o++ = '=';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
        line += need;
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

static void rfc5322_date(int64_t t, struct hd_buf *out)
{
    int64_t dn = t >= 0 ? t / 86400 : -((-t + 86399) / 86400), y;
    unsigned m, d;
    int64_t s = t - dn * 86400;
    hd_time_civil_from_days(dn, &y, &m, &d);
    hd_buf_addf(out, "Date: %s, %u %s %04lld %02d:%02d:%02d +0000\r\n", days[((dn % 7) + 7) % 7], d,
                months[m - 1], (long long)y, (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
}

/* Every header value is checked before anything is written. */
static int check_values(const struct hd_mail *m, struct hd_err *err)
{
    static const char *const names[] = {"Subject", "Message-ID", "List-Unsubscribe",
                                        "List-Unsubscribe"};
    const char *values[] = {m->subject, m->message_id, m->unsubscribe_url, m->unsubscribe_mailto};
    for (size_t i = 0; i < 4; i++)
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
static int list_unsubscribe(const struct hd_mail *m, struct hd_buf *h, struct hd_err *err)
{
    char mail[320];
    if (!m->unsubscribe_url && !m->unsubscribe_mailto)
        return 0;
    hd_buf_adds(h, "List-Unsubscribe: ");
    if (m->unsubscribe_url)
        hd_buf_addf(h, "<%s>", m->unsubscribe_url);
    if (m->unsubscribe_mailto) {
        if (hd_mime_address(m->unsubscribe_mailto, mail, sizeof mail) < 0 || strchr(mail, '>'))
            return hd_err_set(err, HD_E_INVALID, "the unsubscribe address is malformed");
        hd_buf_addf(h, "%s<mailto:%s?subject=unsubscribe>", m->unsubscribe_url ? ",\r\n " : "",
                    mail);
    }
    hd_buf_adds(h, "\r\n");
    if (m->unsubscribe_url)
        hd_buf_adds(h, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
    return 0;
}

/* The MIME headers and the body: the text part alone, or text and HTML as
 * multipart/alternative. */
static void body(const struct hd_mail *m, struct hd_buf *h)
{
    hd_buf_adds(h, "MIME-Version: 1.0\r\n");
    if (m->html) {
        hd_buf_addf(h, "Content-Type: multipart/alternative;\r\n boundary=\"=_herald_%s\"\r\n\r\n",
                    m->message_id);
        hd_buf_adds(h, "This is a message in MIME format.\r\n\r\n");
        hd_buf_addf(h, "--=_herald_%s\r\n", m->message_id);
        hd_buf_adds(h, "Content-Type: text/plain; charset=UTF-8\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        qp(h, m->text ? m->text : "");
        /* the CRLF before a boundary belongs to the delimiter (RFC 2046):
         * one more keeps the part's own last line break */
        hd_buf_addf(h, "\r\n--=_herald_%s\r\n", m->message_id);
        hd_buf_adds(h, "Content-Type: text/html; charset=UTF-8\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        qp(h, m->html);
        hd_buf_addf(h, "\r\n--=_herald_%s--\r\n", m->message_id);
    } else {
        hd_buf_adds(h, "Content-Type: text/plain; charset=UTF-8\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        qp(h, m->text ? m->text : "");
    }
}

int hd_mime_build(const struct hd_mail *m, struct hd_buf *out, struct hd_err *err)
{
    struct hd_buf h;
    char from_addr[320], domain[256] = "herald.invalid";
    int rc;
    hd_buf_init(&h);
    if ((rc = check_values(m, err)) < 0)
        goto out;
    if ((rc = mailbox_header(&h, "From", m->from, err)) < 0 ||
        (rc = mailbox_header(&h, "To", m->to, err)) < 0 ||
        (m->reply_to && (rc = mailbox_header(&h, "Reply-To", m->reply_to, err)) < 0))
        goto out;
    if (hd_mime_address(m->from, from_addr, sizeof from_addr) == 0) {
        const char *at = strrchr(from_addr, '@');
        snprintf(domain, sizeof domain, "%s", at ? at + 1 : "herald.invalid");
    }
    rfc5322_date(m->date, &h);
    hd_buf_addf(&h, "Message-ID: <%s@%s>\r\n", m->message_id, domain);
    hd_buf_adds(&h, "Subject: ");
    header_text(&h, m->subject ? m->subject : "", 9);
    hd_buf_adds(&h, "\r\n");
    if ((rc = list_unsubscribe(m, &h, err)) < 0)
        goto out;
    body(m, &h);
    hd_buf_add(out, h.data, h.len);
    rc = 0;
out:
    hd_buf_release(&h);
    return rc;
}
