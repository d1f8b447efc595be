/* json: the fast path of hd_json_object_loads. jansson's reader takes a
 * character at a time through a stream with look-ahead, about 7,000
 * instructions for a two-member object; a dispatcher reads two of those for
 * every push (the contact's attributes, then the driver the push data). */
#include "herald/json.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "herald/valid.h"

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static bool is_digit(const char *p, const char *e)
{
    return p < e && *p >= '0' && *p <= '9';
}

/* The string that starts after its opening quote at p, when it has no
 * escape and no control character and is valid UTF-8: its length in *n,
 * and the position after its closing quote. NULL otherwise. */
static const char *plain_string(const char *p, const char *e, size_t *n)
{
    const char *q = p;
    while (q < e && *q != '"') {
        if ((unsigned char)*q < 0x20 || *q == '\\')
            return NULL;
        q++;
    }
    if (q == e)
        return NULL;
    *n = (size_t)(q - p);
    return hd_valid_utf8(p, *n) ? q + 1 : NULL;
}

/* A number at p, in JSON's grammar, as jansson makes it: an integer when it
 * has neither fraction nor exponent, else a real; NULL where jansson would
 * fail (an integer out of range, a real that overflows). */
static const char *number(const char *p, const char *e, json_t **out)
{
    const char *q = p;
    bool real = false;
    if (q < e && *q == '-')
        q++;
    if (q < e && *q == '0')
        q++;
    else if (is_digit(q, e))
        while (is_digit(q, e))
            q++;
    else
        return NULL;
    if (q < e && *q == '.') {
        real = true;
        if (!is_digit(++q, e))
            return NULL;
        while (is_digit(q, e))
            q++;
    }
    if (q < e && (*q == 'e' || *q == 'E')) {
        real = true;
        q++;
        if (q < e && (*q == '+' || *q == '-'))
            q++;
        if (!is_digit(q, e))
            return NULL;
        while (is_digit(q, e))
            q++;
    }
    char buf[64];
    size_t len = (size_t)(q - p);
    if (len >= sizeof buf)
        return NULL;
    memcpy(buf, p, len);
    buf[len] = '\0';
    errno = 0;
    if (real) {
        double v = strtod(buf, NULL);
        if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL))
            return NULL;
        *out = json_real(v);
    } else {
        long long v = strtoll(buf, NULL, 10);
        if (errno == ERANGE)
            return NULL;
        *out = json_integer((json_int_t)v);
    }
    return q;
}

static const char *word(const char *p, const char *e, const char *w, json_t *v, json_t **out)
{
    size_t n = strlen(w);
    if ((size_t)(e - p) < n || memcmp(p, w, n) != 0)
        return NULL;
    *out = v;
    return p + n;
}

/* One member's value at p: its end, or NULL (and nothing made) when the
 * fast path does not read it. */
static const char *value(const char *p, const char *e, json_t **v)
{
    size_t n;
    const char *q;
    *v = NULL;
    if (p >= e)
        return NULL;
    switch (*p) {
    case '"':
        if (!(q = plain_string(p + 1, e, &n)))
            return NULL;
        *v = json_stringn_nocheck(p + 1, n);
        return q;
    case 't':
        return word(p, e, "true", json_true(), v);
    case 'f':
        return word(p, e, "false", json_false(), v);
    case 'n':
        return word(p, e, "null", json_null(), v);
    default:
        return number(p, e, v);
    }
}

json_t *hd_json_object_loads(const char *s, size_t n)
{
    const char *e = s + n, *p = skip_ws(s, e);
    json_t *o = NULL;
    if (p == e || *p != '{')
        goto slow;
    o = json_object();
    p = skip_ws(p + 1, e);
    if (p < e && *p == '}') {
        p++;
    } else {
        for (;;) {
            size_t kn;
            const char *k = p + 1;
            json_t *v;
            if (p >= e || *p != '"' || !(p = plain_string(k, e, &kn)))
                goto slow;
            p = skip_ws(p, e);
            if (p >= e || *p != ':')
                goto slow;
            if (!(p = value(skip_ws(p + 1, e), e, &v)))
                goto slow;
            json_object_setn_new_nocheck(o, k, kn, v); /* a repeated key: the last wins */
            p = skip_ws(p, e);
            if (p < e && *p == ',') {
                p = skip_ws(p + 1, e);
                continue;
            }
            if (p < e && *p == '}') {
                p++;
                break;
            }
            goto slow;
        }
    }
    if (skip_ws(p, e) == e)
        return o;
slow:
    json_decref(o);
    return json_loadb(s, n, 0, NULL);
}
