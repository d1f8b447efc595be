/* form: application/x-www-form-urlencoded bodies, as gateways post them
 * (Twilio's callbacks), and Twilio's request signature over one. The body
 * is split at '&', each part at its first '=', both sides decoded ('+' a
 * space, %XX a byte; a bad escape or a NUL byte refuses the whole body),
 * and the fields sorted by name (then value): the order Twilio's
 * signature takes them in, and a lookup needs no other. */
#include "herald/form.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes n bytes of form encoding ('+' a space, %XX a byte) into a new
 * string; NULL for a bad escape or a NUL byte. */
static char *form_decode(const char *s, size_t n)
{
    char *out = hd_xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        } else if (s[i] == '%') {
            int h = i + 2 < n ? hexval(s[i + 1]) : -1, l = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                free(out);
                return NULL;
            }
            *o++ = (char)(h * 16 + l);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

void hd_form_release(struct hd_form *f)
{
    for (size_t i = 0; f && i < f->n; i++) {
        free(f->v[i].name);
        free(f->v[i].value);
    }
    if (f)
        free(f->v);
}

static int by_name(const void *a, const void *b)
{
    const struct hd_form_field *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

int hd_form_parse(const char *body, size_t len, struct hd_form *f)
{
    memset(f, 0, sizeof *f);
    for (size_t at = 0; at < len;) {
        const char *p = body + at, *amp = memchr(p, '&', len - at);
        size_t n = amp ? (size_t)(amp - p) : len - at;
        at += n + 1;
        if (n == 0)
            continue;
        const char *eq = memchr(p, '=', n);
        size_t kn = eq ? (size_t)(eq - p) : n;
        char *k = form_decode(p, kn), *v = form_decode(eq ? eq + 1 : p + n, eq ? n - kn - 1 : 0);
        if (!k || !v || f->n >= HD_FORM_MAX) {
            free(k);
            free(v);
            hd_form_release(f);
            memset(f, 0, sizeof *f);
            return -1;
        }
        HD_GROW(f->v, f->n);
        f->v[f->n++] = (struct hd_form_field){k, v};
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

void hd_form_twilio_signature(const char *token, size_t token_len, const char *url,
                              const struct hd_form *f, char out[HD_TWILIO_SIG_MAX])
{
    struct hd_buf m;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    hd_buf_init(&m);
    hd_buf_adds(&m, url);
    for (size_t i = 0; i < f->n; i++) {
        hd_buf_adds(&m, f->v[i].name);
        hd_buf_adds(&m, f->v[i].value);
    }
    HMAC(EVP_sha1(), token, (int)token_len, (const unsigned char *)(m.data ? m.data : ""), m.len,
         mac, &maclen);
    EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
    hd_buf_release(&m);
}
