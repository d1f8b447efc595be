/* fuzz_token: libFuzzer target for the link token parser, hd_token_verify.
 * The input is a token's text (as the path of /u/TOKEN would hold it). It
 * must be refused as malformed, forged or expired, or verify; a token that
 * verifies must be exactly the text hd_token_make makes of its fields with
 * the key that verified it (one text per token: no padding, no other
 * alphabet, no trailing bits), and must not verify with neither key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herald/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct hd_token_key keys[2] = {{"fuzz-current-key", 16},
                                                {"fuzz-previous-key", 17}};
    struct hd_token t;
    int which = -1;
    int rc = hd_token_verify((const char *)data, size, keys, 2, 20000 * 86400LL, 400 * 86400LL, &t,
                             &which);
    if (rc < HD_TOKEN_OK || rc > HD_TOKEN_EXPIRED)
        abort();
    if (rc == HD_TOKEN_OK || rc == HD_TOKEN_EXPIRED) {
        char again[HD_TOKEN_MAX];
        if (which < 0 || which > 1)
            abort();
        hd_token_make(&t, &keys[which], again);
        if (strlen(again) != size || memcmp(again, data, size) != 0)
            abort();
        struct hd_token u;
        static const struct hd_token_key other = {"another-key", 11};
        if (hd_token_verify((const char *)data, size, &other, 1, 0, 400 * 86400LL, &u, NULL) !=
            HD_TOKEN_FORGED)
            abort();
    }
    return 0;
}
