/* buf: growable buffers. Growth doubles, so appends are amortised O(1). */
#include "herald/buf.h"

#include <errno.h>
#include <stdbool.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

static _Noreturn void oom(size_t n)
{
    fprintf(stderr, "herald: out of memory allocating %zu bytes\n", n);
    abort();
}

void *hd_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *hd_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *hd_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

void *hd_grow_(void *p, size_t n, size_t size)
{
    if (n & (n - 1)) /* not a power of two: there is room */
        return p;
    size_t cap = n ? 2 * n : 1;
    if (cap < n || cap > SIZE_MAX / size)
        oom(SIZE_MAX);
    return hd_xrealloc(p, cap * size);
}

char *hd_xstrdup(const char *s)
{
    return s ? hd_xstrndup(s, strlen(s)) : NULL;
}

char *hd_xstrndup(const char *s, size_t n)
{
    char *p = hd_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* What an empty buffer points at; never written (cap is 0). */
static char empty[1];

void hd_buf_init(struct hd_buf *b)
{
    b->data = empty;
    b->len = b->cap = 0;
}

void hd_buf_release(struct hd_buf *b)
{
    if (!b)
        return;
    if (b->cap)
        free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void hd_buf_reset(struct hd_buf *b)
{
    b->len = 0;
    if (b->cap)
        b->data[0] = '\0';
}

void hd_buf_grow(struct hd_buf *b, size_t extra)
{
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    if (b->cap) {
        b->data = hd_xrealloc(b->data, cap);
    } else {
        b->data = hd_xmalloc(cap);
        b->data[0] = '\0';
    }
    b->cap = cap;
}

void hd_buf_reserve(struct hd_buf *b, size_t extra)
{
    if (b->len + extra + 1 > b->cap)
        hd_buf_grow(b, extra);
}

void hd_buf_adds(struct hd_buf *b, const char *s)
{
    hd_buf_add(b, s, strlen(s));
}

void hd_buf_addc(struct hd_buf *b, char c)
{
    hd_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void hd_buf_vaddf(struct hd_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(b->cap ? b->data + b->len : NULL, b->cap - b->len, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    if ((size_t)n >= b->cap - b->len) {
        hd_buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    }
    b->len += (size_t)n;
}

void hd_buf_addf(struct hd_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hd_buf_vaddf(b, fmt, ap);
    va_end(ap);
}

void hd_buf_add_json_str(struct hd_buf *b, const char *s, size_t n)
{
    hd_buf_reserve(b, n + 2);
    hd_buf_addc(b, '"');
    hd_buf_add_json_esc(b, s, n);
    hd_buf_addc(b, '"');
}

/* Whether any of the eight bytes at s is below 0x20, '"' or '\\': the
 * "hasless" and "haszero" bit tricks, exact for whether a word has one
 * (a borrow may mark the wrong byte of such a word, never another word). */
static bool json_word_escapes(const char *s)
{
    const uint64_t ones = 0x0101010101010101u, tops = 0x8080808080808080u;
    uint64_t x, q, k;
    memcpy(&x, s, 8);
    q = x ^ (ones * '"');
    k = x ^ (ones * '\\');
    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((k - ones) & ~k)) & tops;
}

/* The JSON escape of c, a byte below 0x20, '"' or '\\', appended. */
static void json_escape(struct hd_buf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '"':
        hd_buf_add(b, "\\\"", 2);
        break;
    case '\\':
        hd_buf_add(b, "\\\\", 2);
        break;
    case '\n':
        hd_buf_add(b, "\\n", 2);
        break;
    case '\r':
        hd_buf_add(b, "\\r", 2);
        break;
    case '\t':
        hd_buf_add(b, "\\t", 2);
        break;
    default: {
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        hd_buf_add(b, esc, 6);
    }
    }
}

void hd_buf_add_json_esc(struct hd_buf *b, const char *s, size_t n)
{
    size_t start = 0, i = 0;
    while (i < n) {
        /* eight bytes at a time past what needs no escape (a byte at a
         * time took about four instructions a byte of every push), then
         * the word that has one, or the last bytes, a byte at a time */
        while (n - i >= 8 && !json_word_escapes(s + i))
            i += 8;
        for (size_t stop = n - i >= 8 ? i + 8 : n; i < stop; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c >= 0x20 && c != '"' && c != '\\')
                continue;
            hd_buf_add(b, s + start, i - start);
            start = i + 1;
            json_escape(b, c);
        }
    }
    hd_buf_add(b, s + start, n - start);
}

/* Percent-encoding: alphanumerics and the bytes of keep as they are, a
 * space as '+' when form, every other byte as %XX. */
static void add_escaped(struct hd_buf *b, const char *s, size_t n, const char *keep, bool form)
{
    static const char hex[] = "0123456789ABCDEF";
    hd_buf_reserve(b, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            (c && strchr(keep, c))) {
            hd_buf_addc(b, (char)c);
        } else if (c == ' ' && form) {
            hd_buf_addc(b, '+');
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            hd_buf_add(b, esc, 3);
        }
    }
}

void hd_buf_add_form(struct hd_buf *b, const char *s, size_t n)
{
    add_escaped(b, s, n, "-._*", true);
}

void hd_buf_add_uri(struct hd_buf *b, const char *s, size_t n)
{
    add_escaped(b, s, n, "-._~", false);
}

void hd_buf_add_csv_field(struct hd_buf *b, const char *s, size_t n)
{
    int quote = 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (n && (s[0] == ' ' || s[n - 1] == ' '))
        quote = 1;
    if (!quote) {
        hd_buf_add(b, s, n);
        return;
    }
    hd_buf_addc(b, '"');
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '"')
            continue;
        hd_buf_add(b, s + start, i + 1 - start);
        hd_buf_addc(b, '"');
        start = i + 1;
    }
    hd_buf_add(b, s + start, n - start);
    hd_buf_addc(b, '"');
}

char *hd_buf_detach(struct hd_buf *b, size_t *len)
{
    if (!b->cap)
        hd_buf_grow(b, 0); /* the caller frees what it gets */
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

int hd_buf_read_file(struct hd_buf *b, const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    size_t n;
    if (!f)
        return -1;
    if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        errno = EISDIR;
        return -1;
    }
    hd_buf_reserve(b, sb.st_size > 0 ? (size_t)sb.st_size + 1 : 4096);
    for (;;) {
        if (b->cap - b->len < 2)
            hd_buf_reserve(b, b->cap);
        n = fread(b->data + b->len, 1, b->cap - b->len - 1, f);
        if (n == 0)
            break;
        b->len += n;
    }
    b->data[b->len] = '\0';
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        errno = EIO;
        return -1;
    }
    return 0;
}

void hd_wipe(void *p, size_t n)
{
    if (p && n)
        OPENSSL_cleanse(p, n);
}

void hd_buf_add_i64(struct hd_buf *b, int64_t v)
{
    char tmp[20]; /* 9223372036854775808: 19 digits, and a sign */
    size_t i = sizeof tmp;
    /* the magnitude as unsigned, so that INT64_MIN negates */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    hd_buf_add(b, tmp + i, sizeof tmp - i);
}

const char *hd_memfind(const char *hay, size_t n, const char *needle, size_t m)
{
    if (m == 0 || n < m)
        return NULL;
    for (const char *p = hay, *end = hay + n - m; p <= end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p) + 1);
        if (!p)
            return NULL;
        if (memcmp(p, needle, m) == 0)
            return p;
    }
    return NULL;
}

void hd_strcpy_cut(char *dst, size_t size, const char *s)
{
    if (size == 0)
        return;
    size_t n = strnlen(s, size - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
}
