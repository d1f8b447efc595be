/* fuzz_mustache: libFuzzer target for the Mustache compiler and renderer.
 * Any input must either compile or fail with a positioned error, and a
 * compiled template must render (strict and lenient, with partials that
 * resolve to the template itself) without crashing or leaking. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herald/mustache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int self(void *ud, const char *name, const struct hd_mst **out, struct hd_err *err)
{
    (void)err;
    if (strcmp(name, "none") == 0)
        return HD_E_NOTFOUND;
    *out = ud;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *ctx;
    static struct hd_fmt *fmt;
    if (!ctx) {
        ctx = json_loads("{\"name\":\"Ann & <b>\",\"n\":1234.5,\"d\":\"2026-11-22\",\"t\":true,"
                         "\"list\":[{\"x\":1},{\"x\":2}],\"obj\":{\"a\":{\"b\":\"c\"}},"
                         "\"dyn\":\"p\",\"empty\":[]}",
                         0, NULL);
        fmt = hd_fmt_new();
    }
    struct hd_mst *t = NULL;
    struct hd_err err;
    if (hd_mst_compile((const char *)data, size, NULL, &t, &err) < 0)
        return 0;
    for (int strict = 0; strict < 2; strict++) {
        struct hd_mst_env env = {.escape_html = strict == 0,
                                 .strict = strict == 1,
                                 .locale = "zh-CN",
                                 .timezone = "Asia/Shanghai",
                                 .now = 1795305600,
                                 .fmt = fmt,
                                 .partial = self,
                                 .partial_ud = t};
        struct hd_buf out;
        hd_buf_init(&out);
        hd_mst_render(t, ctx, &env, &out, &err);
        hd_buf_release(&out);
    }
    hd_mst_free(t);
    return 0;
}
