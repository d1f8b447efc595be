/* fuzz_form: libFuzzer target for the form-urlencoded parser, hd_form_parse
 * (the preference centre's POST bodies). The input is a body. A body it
 * refuses must have called back for no pair at all (a bad pair late in a
 * body refuses it whole); for a body it accepts, every key is non-empty,
 * and encoding the pairs again (hd_buf_add_form) and parsing that gives
 * the same pairs in the same order. The same input goes to the one-click's
 * multipart/form-data reader (hd_form_multipart_has) as a Content-Type (up
 * to the first newline) and a body (the rest): a part it finds is in the
 * body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"
#include "herald/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
    struct hd_buf pairs; /* key, NUL, value, NUL, ... */
    struct hd_buf again; /* the pairs encoded */
    size_t n;
};

static int keep(void *ud, const char *key, const char *value)
{
    struct seen *s = ud;
    if (!*key)
        abort();
    hd_buf_add(&s->pairs, key, strlen(key) + 1);
    hd_buf_add(&s->pairs, value, strlen(value) + 1);
    if (s->n++)
        hd_buf_addc(&s->again, '&');
    hd_buf_add_form(&s->again, key, strlen(key));
    hd_buf_addc(&s->again, '=');
    hd_buf_add_form(&s->again, value, strlen(value));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seen a = {0}, b = {0};
    struct hd_err err = {0};
    hd_buf_init(&a.pairs);
    hd_buf_init(&a.again);
    hd_buf_init(&b.pairs);
    hd_buf_init(&b.again);
    int rc = hd_form_parse((const char *)data, size, keep, &a, &err);
    if (rc < 0 && (a.n || rc != HD_E_PARSE || !err.msg[0]))
        abort();
    if (rc == 0 && a.again.len <= HD_FORM_MAX) {
        if (hd_form_parse(a.again.data ? a.again.data : "", a.again.len, keep, &b, &err) != 0)
            abort();
        if (b.n != a.n || b.pairs.len != a.pairs.len ||
            (a.pairs.len && memcmp(a.pairs.data, b.pairs.data, a.pairs.len) != 0))
            abort();
    }
    hd_buf_release(&a.pairs);
    hd_buf_release(&a.again);
    hd_buf_release(&b.pairs);
    hd_buf_release(&b.again);
    const uint8_t *nl = memchr(data, '\n', size);
    if (nl && (size_t)(nl - data) < 256) {
        char ctype[256];
        memcpy(ctype, data, (size_t)(nl - data));
        ctype[nl - data] = '\0';
        const char *body = (const char *)nl + 1;
        size_t len = size - (size_t)(nl - data) - 1;
        if (hd_form_multipart_has(ctype, body, len, "List-Unsubscribe", "One-Click") &&
            !hd_memfind(body, len, "One-Click", 9))
            abort();
    }
    return 0;
}
