/* jptr: RFC 6901 JSON pointers over jansson values, as the generic HTTP
 * gateway reads its answer (message_id_pointer) and its callbacks
 * (receipt_*). A pointer is "" (the whole document) or a run of "/token";
 * in a token "~1" stands for '/' and "~0" for '~', decoded left to right
 * so that "~01" is "~1", and any other '~' makes the pointer invalid
 * rather than being taken literally. A token is decoded into a buffer of
 * its own length (no key is cut short to match a shorter one). On an
 * array a token names an element only as "0" or digits without a leading
 * zero, within size_t; "-" (the element after the last) names nothing. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"
#include "herald/json.h"

int hd_json_pointer_check(const char *ptr, char *why, size_t n)
{
    if (!ptr || (*ptr && *ptr != '/')) {
        snprintf(why, n, "'%s' is not a JSON pointer (it starts with '/')", ptr ? ptr : "");
        return -1;
    }
    for (const char *p = ptr; *p; p++)
        if (*p == '~' && p[1] != '0' && p[1] != '1') {
            snprintf(why, n, "'%s' has a '~' that is not ~0 or ~1 (RFC 6901)", ptr);
            return -1;
        }
    return 0;
}

/* The token at p (after its '/'), decoded into tok; the end of it. */
static const char *token(const char *p, char *tok, size_t *len)
{
    size_t n = 0;
    while (*p && *p != '/') {
        if (*p == '~') {
            tok[n++] = p[1] == '0' ? '~' : '/';
            p += 2;
        } else {
            tok[n++] = *p++;
        }
    }
    tok[n] = '\0';
    *len = n;
    return p;
}

/* An array index as RFC 6901 writes it: "0", or digits not led by 0. */
static bool index_of(const char *tok, size_t len, size_t *i)
{
    if (len == 0 || len > 19 || strspn(tok, "0123456789") != len || (tok[0] == '0' && len > 1))
        return false;
    errno = 0;
    unsigned long long v = strtoull(tok, NULL, 10);
    *i = (size_t)v;
    return errno == 0 && (unsigned long long)*i == v;
}

json_t *hd_json_pointer(const json_t *doc, const char *ptr)
{
    char why[8];
    if (!doc || hd_json_pointer_check(ptr, why, sizeof why) < 0)
        return NULL;
    char *tok = hd_xmalloc(strlen(ptr) + 1);
    json_t *v = (json_t *)doc;
    const char *p = ptr;
    while (v && *p == '/') {
        size_t len, i;
        p = token(p + 1, tok, &len);
        if (json_is_object(v))
            v = json_object_getn(v, tok, len);
        else if (json_is_array(v))
            v = index_of(tok, len, &i) ? json_array_get(v, i) : NULL;
        else
            v = NULL;
    }
    free(tok);
    return v;
}
