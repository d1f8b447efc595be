/* transcode: ICU's ucnv_convertEx between the file's converter and UTF-8,
 * 64 KiB of input at a time, with a pivot buffer that lives across blocks
 * so a character split between two blocks converts whole. The source
 * converter stops at the first byte sequence its encoding does not have;
 * the line is counted from the newlines consumed so far. Without an
 * encoding (or with UTF-8) a hand-written check validates the file instead
 * (ICU's UTF-8 to UTF-8 round trip doubled a plain import's CPU time), and
 * when the file is a regular one nothing is written: the caller reads f
 * again from the start. A refused file is named once, with ICU's charset
 * detector's guess over the block where the bad byte was. */
#include "herald/transcode.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unicode/ucnv.h>
#include <unicode/ucsdet.h>

#include "herald/buf.h"

enum { BLOCK = 65536, PIVOT = 8192 };

struct conv {
    UConverter *src, *dst;
    UChar pivot[PIVOT];
    UChar *ps, *pt;
    bool reset;
    bool multibyte; /* UTF-8 check: a character beyond ASCII was read */
    char in[BLOCK], out[BLOCK];
    long line; /* lines before the block being converted */
};

/* ICU's best guess over the bytes, in lower case into name, or NULL. A
 * UTF-16 or UTF-32 guess without a NUL byte in the text is passed over
 * (ICU says UTF-16 of a few bytes of GBK), as is UTF-8, which the text is not. */
static const char *guess(const char *s, size_t n, char *name, size_t size)
{
    UErrorCode st = U_ZERO_ERROR;
    UCharsetDetector *d = ucsdet_open(&st);
    const UCharsetMatch **all = NULL;
    const char *r = NULL;
    int32_t count = 0;
    bool nul = memchr(s, '\0', n) != NULL;
    if (U_SUCCESS(st))
        ucsdet_setText(d, s, (int32_t)n, &st);
    if (U_SUCCESS(st))
        all = ucsdet_detectAll(d, &count, &st);
    for (int32_t i = 0; all && U_SUCCESS(st) && i < count && !r; i++) {
        const char *c = ucsdet_getName(all[i], &st);
        if (!c || U_FAILURE(st) || strcasecmp(c, "UTF-8") == 0 ||
            (!nul && strncasecmp(c, "UTF-", 4) == 0))
            continue;
        size_t k = 0;
        for (; c[k] && k + 1 < size; k++)
            name[k] = (char)tolower((unsigned char)c[k]);
        name[k] = '\0';
        r = name;
    }
    ucsdet_close(d);
    return r;
}

/* The error for the bad bytes at in[at] of a block of n bytes. */
static int refuse(struct conv *c, size_t n, size_t at, const char *name, const char *encoding,
                  const char *hint, struct hd_err *err)
{
    long line = c->line + 1;
    for (size_t i = 0; i < at && i < n; i++)
        line += c->in[i] == '\n';
    if (encoding)
        return hd_err_setpos(err, HD_E_PARSE, name, (int)line, 0,
                             "bytes that are not %s; nothing was read from the file", encoding);
    if (c->multibyte) /* no other encoding reads those characters the same */
        return hd_err_setpos(err, HD_E_PARSE, name, (int)line, 0,
                             "bytes that are not UTF-8 in a file that is UTF-8 before them "
                             "(damaged, or two encodings mixed?); fix this line");
    char lower[64];
    const char *g = guess(c->in, n, lower, sizeof lower);
    if (!g)
        return hd_err_setpos(err, HD_E_PARSE, name, (int)line, 0,
                             "the file is not UTF-8; give its encoding%s%s", hint ? " with " : "",
                             hint ? hint : "");
    char upper[64];
    size_t k = 0;
    for (; g[k] && k + 1 < sizeof upper; k++)
        upper[k] = (char)toupper((unsigned char)g[k]);
    upper[k] = '\0';
    return hd_err_setpos(err, HD_E_PARSE, name, (int)line, 0,
                         "the file is not UTF-8 (it looks like %s); add %s %s", upper,
                         hint ? hint : "the encoding", g);
}

/* Converts one block of n bytes (the last when flush) into sink (NULL: only
 * checked); 0, or the position of the bad bytes as a negative offset - 1. */
static long convert_block(struct conv *c, size_t n, bool flush, FILE *sink, int *io)
{
    const char *s = c->in, *se = c->in + n;
    for (;;) {
        char *t = c->out;
        UErrorCode st = U_ZERO_ERROR;
        ucnv_convertEx(c->dst, c->src, &t, c->out + BLOCK, &s, se, c->pivot, &c->ps, &c->pt,
                       c->pivot + PIVOT, c->reset, flush, &st);
        c->reset = false;
        size_t w = (size_t)(t - c->out);
        if (sink && w && fwrite(c->out, 1, w, sink) != w)
            *io = 1;
        if (st == U_BUFFER_OVERFLOW_ERROR)
            continue;
        if (U_FAILURE(st))
            return -(long)(s - c->in) - 1;
        return 0;
    }
}

static int run(struct conv *c, FILE *f, FILE *sink, const char *name, const char *encoding,
               const char *hint, struct hd_err *err)
{
    for (;;) {
        size_t n = fread(c->in, 1, BLOCK, f);
        bool last = n < BLOCK;
        int io = 0;
        if (ferror(f))
            return hd_err_set(err, HD_E_IO, "reading '%s': %s", name, strerror(errno));
        long bad = convert_block(c, n, last, sink, &io);
        if (bad < 0)
            return refuse(c, n, (size_t)(-bad - 1), name, encoding, hint, err);
        if (io)
            return hd_err_set(err, HD_E_IO, "converting '%s' to UTF-8: %s", name, strerror(errno));
        for (size_t i = 0; i < n; i++)
            c->line += c->in[i] == '\n';
        if (last)
            return 0;
    }
}

/* The length of the longest prefix of s[0..n) made of whole, well-formed
 * UTF-8 characters (RFC 3629: no overlongs, surrogates or code points past
 * U+10FFFF); *bad when a malformed sequence starts there, else the rest is
 * a character the next block completes. ASCII goes eight bytes at a time. */
static size_t utf8_prefix(const unsigned char *s, size_t n, bool *bad, bool *multibyte)
{
    size_t i = 0;
    *bad = false;
    while (i < n) {
        uint64_t w;
        if (i + 8 <= n && (memcpy(&w, s + i, 8), (w & 0x8080808080808080ull) == 0)) {
            i += 8;
            continue;
        }
        unsigned char b = s[i];
        size_t len = b < 0x80                 ? 1
                     : b >= 0xC2 && b <= 0xDF ? 2
                     : b >= 0xE0 && b <= 0xEF ? 3
                     : b >= 0xF0 && b <= 0xF4 ? 4
                                              : 0;
        unsigned lo = b == 0xE0 ? 0xA0 : b == 0xF0 ? 0x90 : 0x80;
        unsigned hi = b == 0xED ? 0x9F : b == 0xF4 ? 0x8F : 0xBF;
        if (len == 0) {
            *bad = true;
            return i;
        }
        for (size_t k = 1; k < len; k++) {
            if (i + k >= n)
                return i;
            if (s[i + k] < (k == 1 ? lo : 0x80) || s[i + k] > (k == 1 ? hi : 0xBF)) {
                *bad = true;
                return i;
            }
        }
        *multibyte |= len > 1;
        i += len;
    }
    return i;
}

/* run() for UTF-8: checked by utf8_prefix, copied to sink as it is. The
 * bytes of a character cut by the block's end move to the next block. */
static int run_utf8(struct conv *c, FILE *f, FILE *sink, const char *name, const char *hint,
                    struct hd_err *err)
{
    size_t carry = 0;
    for (;;) {
        size_t n = carry + fread(c->in + carry, 1, BLOCK - carry, f);
        bool last = n < BLOCK, bad;
        if (ferror(f))
            return hd_err_set(err, HD_E_IO, "reading '%s': %s", name, strerror(errno));
        size_t ok = utf8_prefix((const unsigned char *)c->in, n, &bad, &c->multibyte);
        if (bad || (last && ok < n))
            return refuse(c, n, ok, name, NULL, hint, err);
        if (sink && ok && fwrite(c->in, 1, ok, sink) != ok)
            return hd_err_set(err, HD_E_IO, "copying '%s': %s", name, strerror(errno));
        for (size_t i = 0; i < ok; i++)
            c->line += c->in[i] == '\n';
        if (last)
            return 0;
        carry = n - ok;
        memmove(c->in, c->in + ok, carry);
    }
}

int hd_transcode_open(FILE *f, const char *name, const char *encoding, const char *hint, FILE **out,
                      struct hd_err *err)
{
    UErrorCode st = U_ZERO_ERROR;
    struct stat sb;
    bool utf8 =
        !encoding || strcasecmp(encoding, "utf-8") == 0 || strcasecmp(encoding, "utf8") == 0;
    bool in_place = utf8 && fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode);
    struct conv *c = hd_xcalloc(1, sizeof *c);
    FILE *sink = NULL;
    int rc = 0;
    *out = NULL;
    if (!utf8)
        c->src = ucnv_open(encoding, &st);
    if (U_FAILURE(st)) {
        rc = hd_err_set(err, HD_E_USAGE,
                        "%s%s'%s' is not an encoding ICU knows (e.g. gbk, gb18030, big5, "
                        "shift_jis, latin1, utf-8)",
                        hint ? hint : "", hint ? ": " : "", encoding);
        goto out;
    }
    if (!utf8) {
        ucnv_setToUCallBack(c->src, UCNV_TO_U_CALLBACK_STOP, NULL, NULL, NULL, &st);
        c->dst = ucnv_open("UTF-8", &st);
    }
    c->ps = c->pt = c->pivot;
    c->reset = true;
    if (U_FAILURE(st)) {
        rc = hd_err_set(err, HD_E_FAIL, "ICU's converters: %s", u_errorName(st));
        goto out;
    }
    if (!in_place && !(sink = tmpfile())) {
        rc = hd_err_set(err, HD_E_IO, "a temporary file for '%s': %s", name, strerror(errno));
        goto out;
    }
    if ((rc = utf8 ? run_utf8(c, f, sink, name, hint, err)
                   : run(c, f, sink, name, encoding, hint, err)) < 0)
        goto out;
    if ((sink && fflush(sink) != 0) || fseek(sink ? sink : f, 0, SEEK_SET) != 0) {
        rc = hd_err_set(err, HD_E_IO, "rewinding '%s': %s", name, strerror(errno));
        goto out;
    }
    *out = sink ? sink : f;
    sink = NULL;
out:
    if (sink)
        fclose(sink);
    ucnv_close(c->src);
    ucnv_close(c->dst);
    free(c);
    return rc;
}
