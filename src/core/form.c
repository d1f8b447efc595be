/* form: application/x-www-form-urlencoded bodies (see form.h). The body is
 * copied to the stack and walked twice: the first pass decodes every pair
 * into a scratch buffer only to check it, the second decodes each pair in
 * place (a decoded key or value is never longer than its text, and the
 * '=' or '&' after it, or the byte past the end, takes its NUL) and hands
 * it to the caller. So a bad pair late in a body means no callback at all,
 * and nothing is allocated. hd_form_collect keeps the pairs, sorted by
 * name, for the gateways' hooks: in one pass over a copy of its own,
 * decoded in place, the fields pointing into it (a bad pair late in the
 * body then throws the copy away; a status callback is collected on every
 * request, and the two passes, the stack copies, their wiping and a string
 * per name and value cost 6,800 instructions of a callback, 1,800 now).
 * Twilio's request signature is made
 * over them: HMAC-SHA1 (RFC 2104) over SHA-1 fetched once, as token.c does
 * for its SHA-256 (OpenSSL 3's one-shot HMAC() fetched its algorithms again
 * for every callback: perf put 12% of the service's workers in it under the
 * receipts bench, SHA-1 itself 1%); herald serve keeps each auth token's
 * padded blocks hashed (struct hd_twilio_key), two compressions and two
 * digest inits fewer a callback. */
#include "herald/form.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "herald/buf.h"
#include "herald/err.h"

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

/* ---- multipart/form-data (RFC 7578), for RFC 8058's one-click ---------------- */

/* The boundary parameter of a multipart/form-data Content-Type, into b. */
static bool boundary_of(const char *ctype, char *b, size_t size)
{
    static const char type[] = "multipart/form-data";
    if (!ctype || strncasecmp(ctype, type, sizeof type - 1) != 0)
        return false;
    const char *p = ctype + sizeof type - 1;
    if (*p && *p != ';' && *p != ' ' && *p != '\t')
        return false;
    while (*p) {
        p += strspn(p, "; \t");
        if (strncasecmp(p, "boundary=", 9) == 0) {
            p += 9;
            bool quoted = *p == '"';
            p += quoted;
            size_t n = strcspn(p, quoted ? "\"" : "; \t");
            if (n == 0 || n > 70 || n >= size || (quoted && p[n] != '"'))
                return false;
            memcpy(b, p, n);
            b[n] = '\0';
            return true;
        }
        p += strcspn(p, ";");
    }
    return false;
}

/* Whether the part's headers [h, end) hold a Content-Disposition form-data
 * whose name parameter is name (quoted or not). */
static bool part_named(const char *h, const char *end, const char *name)
{
    static const char cd[] = "Content-Disposition:";
    size_t nl = strlen(name);
    while (h < end) {
        const char *eol = hd_memfind(h, (size_t)(end - h), "\r\n", 2);
        eol = eol ? eol : end;
        if ((size_t)(eol - h) > sizeof cd - 1 && strncasecmp(h, cd, sizeof cd - 1) == 0) {
            const char *p = h + sizeof cd - 1;
            while (p < eol && (*p == ' ' || *p == '\t'))
                p++;
            if ((size_t)(eol - p) < 9 || strncasecmp(p, "form-data", 9) != 0)
                return false;
            for (p += 9; p < eol;) {
                while (p < eol && (*p == ';' || *p == ' ' || *p == '\t'))
                    p++;
                bool is_name = (size_t)(eol - p) > 5 && strncasecmp(p, "name=", 5) == 0;
                p += is_name ? 5 : 0;
                bool quoted = p < eol && *p == '"';
                const char *v = p + quoted, *ve = v;
                while (ve < eol && (quoted ? *ve != '"' : *ve != ';' && *ve != ' '))
                    ve++;
                if (is_name)
                    return (size_t)(ve - v) == nl && memcmp(v, name, nl) == 0;
                p = ve + (quoted && ve < eol);
                while (p < eol && *p != ';')
                    p++;
            }
            return false;
        }
        h = eol + 2;
    }
    return false;
}

bool hd_form_multipart_has(const char *ctype, const char *body, size_t len, const char *name,
                           const char *value)
{
    char b[80], d[84]; /* "\r\n--" and the boundary */
    if (!body || !boundary_of(ctype, b, sizeof b))
        return false;
    size_t dn = (size_t)snprintf(d, sizeof d, "\r\n--%s", b), vl = strlen(value);
    const char *end = body + len;
    /* the first delimiter may start the body, without the CRLF before it */
    const char *p;
    if (len >= dn - 2 && memcmp(body, d + 2, dn - 2) == 0)
        p = body + dn - 2;
    else if ((p = hd_memfind(body, len, d, dn)) != NULL)
        p += dn;
    while (p && end - p >= 2 && !(p[0] == '-' && p[1] == '-')) { /* "--": the last */
        while (p < end && (*p == ' ' || *p == '\t'))             /* transport padding */
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return false;
        p += 2;
        const char *hend = end - p >= 2 && p[0] == '\r' && p[1] == '\n'
                               ? p /* no headers */
                               : hd_memfind(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend)
            return false;
        const char *content = hend + (hend == p ? 2 : 4),
                   *next = hd_memfind(content, (size_t)(end - content), d, dn);
        if (!next)
            return false;
        if (part_named(p, hend, name) && (size_t)(next - content) == vl &&
            memcmp(content, value, vl) == 0)
            return true;
        p = next + dn;
    }
    return false;
}

int hd_form_parse(const char *body, size_t len, hd_form_fn fn, void *ud, struct hd_err *err)
{
    char buf[HD_FORM_MAX + 1], scratch[HD_FORM_MAX + 1];
    if (len > HD_FORM_MAX)
        return hd_err_set(err, HD_E_PARSE, "form body of %zu bytes is over %d", len, HD_FORM_MAX);
    memcpy(buf, body, len);
    buf[len] = '\0';
    int rc = pass(buf, len, scratch, NULL, NULL, err);
    if (rc == 0)
        rc = pass(buf, len, NULL, fn, ud, err);
    hd_wipe(buf, len + 1); /* a form may carry a password */
    hd_wipe(scratch, len + 1);
    return rc;
}

void hd_form_release(struct hd_form *f)
{
    if (!f)
        return;
    hd_wipe(f->buf, f->len); /* a form may carry a password */
    free(f->buf);
    free(f->v);
    *f = (struct hd_form){0};
}

/* A field of f's own buffer (room for every field was made first). */
static int keep(void *ud, const char *key, const char *value)
{
    struct hd_form *f = ud;
    if (f->n >= HD_FORM_FIELDS)
        return HD_E_PARSE;
    f->v[f->n++] = (struct hd_form_field){(char *)key, (char *)value};
    return 0;
}

static int by_name(const void *a, const void *b)
{
    const struct hd_form_field *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

int hd_form_collect(const char *body, size_t len, struct hd_form *f, struct hd_err *err)
{
    memset(f, 0, sizeof *f);
    if (len > HD_FORM_MAX)
        return hd_err_set(err, HD_E_PARSE, "form body of %zu bytes is over %d", len, HD_FORM_MAX);
    size_t fields = 1; /* at most one a '&', and one more */
    for (const char *p = body; (p = memchr(p, '&', len - (size_t)(p - body))) != NULL; p++)
        fields++;
    f->v = hd_xcalloc(fields < HD_FORM_FIELDS ? fields : HD_FORM_FIELDS, sizeof *f->v);
    f->buf = hd_xmalloc(len + 1);
    f->len = len + 1;
    memcpy(f->buf, body, len);
    f->buf[len] = '\0';
    int rc = pass(f->buf, len, NULL, keep, f, err);
    if (rc == HD_E_PARSE && f->n >= HD_FORM_FIELDS)
        hd_err_set(err, HD_E_PARSE, "form body has over %d fields", HD_FORM_FIELDS);
    if (rc) {
        hd_form_release(f);
        return rc;
    }
    if (f->n > 1)
        qsort(f->v, f->n, sizeof *f->v, by_name);
    return 0;
}

const char *hd_form_get(const struct hd_form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i].name, name) == 0)
            return f->v[i].value;
    return NULL;
}

#define SHA1_BLOCK 64
#define SHA1_LEN 20

static EVP_MD *sha1;
static pthread_once_t sha1_once = PTHREAD_ONCE_INIT;

static void fetch_sha1(void)
{
    if (!(sha1 = EVP_MD_fetch(NULL, "SHA1", NULL)))
        HD_BUG("OpenSSL has no SHA1");
}

/* Starts H(key0 XOR pad || ...) in c. */
static void sha1_padded(EVP_MD_CTX *c, const unsigned char *key0, unsigned char pad)
{
    unsigned char block[SHA1_BLOCK];
    for (int i = 0; i < SHA1_BLOCK; i++)
        block[i] = key0[i] ^ pad;
    if (!EVP_DigestInit_ex(c, sha1, NULL) || !EVP_DigestUpdate(c, block, SHA1_BLOCK))
        HD_BUG("SHA1 failed");
    OPENSSL_cleanse(block, sizeof block);
}

static void sha1_more(EVP_MD_CTX *c, const void *a, size_t n)
{
    if (!EVP_DigestUpdate(c, a, n))
        HD_BUG("SHA1 failed");
}

/* HMAC-SHA1 with the key of url followed by each field's name and value,
 * fed to the digest as they are (not copied into one string first: a
 * status callback is signed on every request). */
static void hmac_form(const char *key, size_t klen, const char *url, const struct hd_form *f,
                      unsigned char out[SHA1_LEN])
{
    unsigned char key0[SHA1_BLOCK] = {0}, inner[SHA1_LEN];
    pthread_once(&sha1_once, fetch_sha1);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c)
        HD_BUG("out of memory");
    if (klen <= SHA1_BLOCK)
        memcpy(key0, key, klen);
    else if (!EVP_DigestInit_ex(c, sha1, NULL) || !EVP_DigestUpdate(c, key, klen) ||
             !EVP_DigestFinal_ex(c, key0, NULL)) /* a long key is hashed first */
        HD_BUG("SHA1 failed");
    sha1_padded(c, key0, 0x36);
    sha1_more(c, url, strlen(url));
    for (size_t i = 0; i < f->n; i++) {
        sha1_more(c, f->v[i].name, strlen(f->v[i].name));
        sha1_more(c, f->v[i].value, strlen(f->v[i].value));
    }
    if (!EVP_DigestFinal_ex(c, inner, NULL))
        HD_BUG("SHA1 failed");
    sha1_padded(c, key0, 0x5c);
    sha1_more(c, inner, sizeof inner);
    if (!EVP_DigestFinal_ex(c, out, NULL))
        HD_BUG("SHA1 failed");
    EVP_MD_CTX_free(c);
    OPENSSL_cleanse(key0, sizeof key0);
    OPENSSL_cleanse(inner, sizeof inner);
}

void hd_form_twilio_signature(const char *token, size_t token_len, const char *url,
                              const struct hd_form *f, char out[HD_TWILIO_SIG_MAX])
{
    unsigned char mac[SHA1_LEN];
    hmac_form(token, token_len, url, f, mac);
    EVP_EncodeBlock((unsigned char *)out, mac, SHA1_LEN);
    OPENSSL_cleanse(mac, sizeof mac);
}

void hd_form_twilio_key_init(struct hd_twilio_key *k, const char *token, size_t len)
{
    unsigned char key0[SHA1_BLOCK] = {0};
    memset(k, 0, sizeof *k);
    if (!token || len > sizeof k->token)
        return;
    pthread_once(&sha1_once, fetch_sha1);
    memcpy(key0, token, len);
    if (!(k->inner = EVP_MD_CTX_new()) || !(k->outer = EVP_MD_CTX_new()))
        HD_BUG("out of memory");
    sha1_padded(k->inner, key0, 0x36);
    sha1_padded(k->outer, key0, 0x5c);
    OPENSSL_cleanse(key0, sizeof key0);
    memcpy(k->token, token, len);
    k->len = len;
}

void hd_form_twilio_key_release(struct hd_twilio_key *k)
{
    if (!k)
        return;
    EVP_MD_CTX_free(k->inner); /* which wipes the state it held */
    EVP_MD_CTX_free(k->outer);
    OPENSSL_cleanse(k, sizeof *k);
}

/* hmac_form from k's states, in a context of this call's own */
static void hmac_form_key(const struct hd_twilio_key *k, const char *url, const struct hd_form *f,
                          unsigned char out[SHA1_LEN])
{
    unsigned char inner[SHA1_LEN];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || !EVP_MD_CTX_copy_ex(c, k->inner))
        HD_BUG("SHA1 failed");
    sha1_more(c, url, strlen(url));
    for (size_t i = 0; i < f->n; i++) {
        sha1_more(c, f->v[i].name, strlen(f->v[i].name));
        sha1_more(c, f->v[i].value, strlen(f->v[i].value));
    }
    if (!EVP_DigestFinal_ex(c, inner, NULL) || !EVP_MD_CTX_copy_ex(c, k->outer))
        HD_BUG("SHA1 failed");
    sha1_more(c, inner, sizeof inner);
    if (!EVP_DigestFinal_ex(c, out, NULL))
        HD_BUG("SHA1 failed");
    EVP_MD_CTX_free(c);
    OPENSSL_cleanse(inner, sizeof inner);
}

void hd_form_twilio_signature_key(const struct hd_twilio_key *k, const char *token,
                                  size_t token_len, const char *url, const struct hd_form *f,
                                  char out[HD_TWILIO_SIG_MAX])
{
    unsigned char mac[SHA1_LEN];
    if (k && k->inner && k->len == token_len && CRYPTO_memcmp(k->token, token, token_len) == 0)
        hmac_form_key(k, url, f, mac);
    else
        hmac_form(token, token_len, url, f, mac);
    EVP_EncodeBlock((unsigned char *)out, mac, SHA1_LEN);
    OPENSSL_cleanse(mac, sizeof mac);
}
