/* buf: growable byte buffers and the allocation helpers every module uses.
 * Allocation failure is not recoverable in herald (as in git): the hd_x*
 * helpers abort with a message rather than make every caller test for NULL. */
#ifndef HERALD_BUF_H
#define HERALD_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void *hd_xmalloc(size_t n);
void *hd_xcalloc(size_t n, size_t size);
void *hd_xrealloc(void *p, size_t n);
char *hd_xstrdup(const char *s); /* NULL stays NULL */

/* Makes room for element n of the array p, which holds n elements and was
 * only ever allocated by HD_GROW: the array doubles when n is 0 or a power
 * of two, so its capacity follows from n and appends are amortised O(1)
 * without a capacity field. Parallel arrays each take their own HD_GROW.
 *   HD_GROW(list->v, list->n);
 *   list->v[list->n++] = x; */
#define HD_GROW(p, n) ((p) = hd_grow_((p), (n), sizeof *(p)))
void *hd_grow_(void *p, size_t n, size_t size);
char *hd_xstrndup(const char *s, size_t n);

/* A NUL-terminated growable buffer. data is never NULL after hd_buf_init:
 * an initialised buffer points at a shared empty string and allocates on
 * its first write (cap == 0 until then), so an unused buffer costs nothing. */
struct hd_buf {
    char *data; /* len bytes followed by a NUL */
    size_t len; /* bytes used, excluding the NUL */
    size_t cap; /* bytes allocated; 0 while data is the shared empty string */
};

void hd_buf_init(struct hd_buf *b);
void hd_buf_release(struct hd_buf *b); /* frees data; b can be reused after init */
void hd_buf_reset(struct hd_buf *b);   /* len = 0, keeps the memory */
void hd_buf_reserve(struct hd_buf *b, size_t extra);
void hd_buf_grow(struct hd_buf *b, size_t extra); /* hd_buf_reserve's slow path */
/* Appends n bytes; inline because renderers call it for every piece. */
static inline void hd_buf_add(struct hd_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap)
        hd_buf_grow(b, n);
    __builtin_memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}
void hd_buf_adds(struct hd_buf *b, const char *s);
void hd_buf_addc(struct hd_buf *b, char c);
void hd_buf_addf(struct hd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hd_buf_vaddf(struct hd_buf *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal, quotes included. s is n bytes of UTF-8. */
void hd_buf_add_json_str(struct hd_buf *b, const char *s, size_t n);
/* The same without the quotes: the inside of a JSON string literal. */
void hd_buf_add_json_esc(struct hd_buf *b, const char *s, size_t n);

/* Appends v in decimal, as "%lld" would, at about a sixth of snprintf's cost
 * (the PostgreSQL store's arrays of ids, 19 numbers a pushed message). */
void hd_buf_add_i64(struct hd_buf *b, int64_t v);

/* Copies s into dst (size bytes), cut to fit and always terminated: what
 * snprintf(dst, size, "%s", s) does, at a tenth of the cost. */
void hd_strcpy_cut(char *dst, size_t size, const char *s);
/* The first place of needle (m bytes, m > 0) in hay (n bytes), or NULL:
 * memmem, which is GNU's. */
const char *hd_memfind(const char *hay, size_t n, const char *needle, size_t m);
/* Appends s encoded for application/x-www-form-urlencoded (space as '+',
 * everything but ALPHA / DIGIT / "-._*" percent-encoded). */
void hd_buf_add_form(struct hd_buf *b, const char *s, size_t n);
/* Appends s percent-encoded for a URI component (RFC 3986: all but the
 * unreserved ALPHA / DIGIT / "-._~", a space as %20). */
void hd_buf_add_uri(struct hd_buf *b, const char *s, size_t n);
/* Appends s as one RFC 4180 CSV field, quoted only when it must be. */
void hd_buf_add_csv_field(struct hd_buf *b, const char *s, size_t n);
/* Hands the memory to the caller (who frees it). b is left released: call
 * hd_buf_init before using it again (hd_buf_release on it is harmless). */
char *hd_buf_detach(struct hd_buf *b, size_t *len);

/* Appends the whole file at path. Returns 0, or -1 with errno set. The
 * buffer is sized from the file's length first, so a secret read this way
 * leaves no partial copies behind in freed memory. */
int hd_buf_read_file(struct hd_buf *b, const char *path);

/* Wipes n bytes with OPENSSL_cleanse, for secrets. */
void hd_wipe(void *p, size_t n);

#endif
