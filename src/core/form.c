/* form: application/x-www-form-urlencoded bodies (see form.h). The body is
 * copied to the stack and walked twice: the first pass decodes every pair
 * into a scratch buffer only to check it, the second decodes each pair in
 * place (a decoded key or value is never longer than its text, and the
 * '=' or '&' after it, or the byte past the end, takes its NUL) and hands
 * it to the caller. So a bad pair late in a body means no callback at all,
 * and nothing is allocated. */
#include "herald/form.h"

#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes in[0..n) into out, NUL-terminated; out may be in (in place).
 * -1 with *bad the offset of a bad escape or a NUL. */
static int decode(const char *in, size_t n, char *out, size_t *bad)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        size_t at = i;
        char c = in[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < n ? hexval(in[i + 1]) : -1, lo = hi >= 0 ? hexval(in[i + 2]) : -1;
            if (lo < 0) {
                *bad = i;
                return -1;
            }
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0') {
            *bad = at;
            return -1;
        }
        out[w++] = c;
    }
    out[w] = '\0';
    return 0;
}

/* One pass over buf[0..len): checks (fn NULL, decoding into scratch) or
 * decodes in place and calls fn. */
static int pass(char *buf, size_t len, char *scratch, hd_form_fn fn, void *ud, struct hd_err *err)
{
    size_t at = 0;
    while (at < len) {
        char *s = buf + at, *amp = memchr(s, '&', len - at);
        size_t n = amp ? (size_t)(amp - s) : len - at, bad = 0;
        char *eq = memchr(s, '=', n);
        size_t kn = eq ? (size_t)(eq - s) : n;
        if (n == 0) {
            at++;
            continue;
        }
        if (kn == 0)
            return hd_err_set(err, HD_E_PARSE, "form field at byte %zu has no name", at);
        char *key = fn ? s : scratch, *val = fn ? (eq ? eq + 1 : s + n) : scratch;
        int r = decode(s, kn, key, &bad);
        if (r == 0 && eq && (r = decode(eq + 1, n - kn - 1, val, &bad)) < 0)
            bad += kn + 1;
        if (r < 0)
            return hd_err_set(err, HD_E_PARSE,
                              "form field at byte %zu has a bad %%-escape or a NUL", at + bad);
        if (!eq)
            *val = '\0';
        int rc = fn ? fn(ud, key, val) : 0;
        if (rc)
            return rc;
        at += n + 1;
    }
    return 0;
}

int hd_form_parse(const char *body, size_t len, hd_form_fn fn, void *ud, struct hd_err *err)
{
    char buf[HD_FORM_MAX + 1], scratch[HD_FORM_MAX + 1];
    if (len > HD_FORM_MAX)
        return hd_err_set(err, HD_E_PARSE, "form body of %zu bytes is over %d", len, HD_FORM_MAX);
    memcpy(buf, body, len);
    buf[len] = '\0';
    int rc = pass(buf, len, scratch, NULL, NULL, err);
    return rc ? rc : pass(buf, len, NULL, fn, ud, err);
}
