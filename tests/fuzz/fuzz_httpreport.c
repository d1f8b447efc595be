/* fuzz_httpreport: libFuzzer target for a generic HTTP gateway's reports
 * (hd_http_batch_read, issue 19) and the RFC 6901 evaluator under it
 * (hd_json_pointer). The input's first byte picks the provider's keys (a
 * JSON body with nested pointers, or a form) or, for the pointer, splits
 * the input at its first newline into a pointer and a document. It must
 * never crash or read out of bounds; a batch it takes has 1 to
 * HTTP_REPORTS_MAX reports, each with a status and an id or a ref; a
 * pointer that hd_json_pointer_check refuses finds nothing. Seed corpus:
 * tests/fuzz/corpus/httpreport, the bodies of tests/test_hooks_http.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/serve/serve_int.h"
#include "herald/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void pointer(const char *in, size_t n)
{
    const char *nl = memchr(in, '\n', n);
    if (!nl)
        return;
    char *ptr = strndup(in, (size_t)(nl - in));
    json_t *doc = json_loadb(nl + 1, n - (size_t)(nl - in) - 1, JSON_DECODE_ANY, NULL);
    char why[300];
    json_t *v = hd_json_pointer(doc, ptr);
    if (strlen(ptr) == (size_t)(nl - in) && hd_json_pointer_check(ptr, why, sizeof why) < 0 && v)
        abort();
    if (doc && strcmp(ptr, "") == 0 && v != doc)
        abort();
    json_decref(doc);
    free(ptr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] % 3 == 2) {
        pointer(in, n);
        return 0;
    }
    bool form = data[0] % 3 == 1;
    struct hd_http_receipt rc = {.form = form,
                                 .id = (char *)(form ? "id" : "/data/msgid"),
                                 .ref = (char *)(form ? "ref" : "/data/ref"),
                                 .status = (char *)(form ? "stat" : "/data/stat"),
                                 .code = (char *)(form ? "err" : "/data/err"),
                                 .reason = (char *)(form ? "text" : "/a~1b/~0/0")};
    struct hd_http_batch b;
    char why[200] = "";
    if (hd_http_batch_read(&rc, in, n, &b, why, sizeof why) == 0) {
        if (b.n < 1 || b.n > HTTP_REPORTS_MAX)
            abort();
        for (size_t i = 0; i < b.n; i++)
            if (!b.v[i].status || (!b.v[i].id && !b.v[i].ref) ||
                hd_http_ref_message(b.v[i].ref) < 0)
                abort();
    } else if (!why[0]) {
        abort();
    }
    hd_http_batch_release(&b);
    return 0;
}
