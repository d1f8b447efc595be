/* fuzz_cnreport: libFuzzer target for Aliyun's and Tencent's report
 * batches (hd_hook_cn_batch, issue 24), which herald serve reads once the
 * URL's callback_token matched: the input's first byte picks the gateway,
 * the rest is the body. It must never crash or read out of bounds; a
 * batch it takes is a JSON array. Seed corpus: tests/fuzz/corpus/cnreport,
 * the batches of tests/mock/aliyun.js and tencent.js. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/serve/serve_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct hd_hook h;
    memset(&h, 0, sizeof h);
    h.kind = data[0] & 1 ? HOOK_TENCENT : HOOK_ALIYUN;
    snprintf(h.provider, sizeof h.provider, "p");
    hd_buf_init(&h.body);
    hd_buf_add(&h.body, data + 1, size - 1);
    char why[160] = "";
    json_t *j = hd_hook_cn_batch(&h, why, sizeof why);
    if ((j && !json_is_array(j)) || (!j && !why[0]))
        abort();
    json_decref(j);
    hd_buf_release(&h.body);
    return 0;
}
