/* fuzz_json: differential libFuzzer target for hd_json_object_loads, whose
 * contract is to read every text exactly as jansson's json_loadb(s, n, 0,
 * NULL) does. Both read the input; they must agree on failure, and on
 * success give the same value: the same compact text (members in the same
 * order, integers apart from reals, reals to 17 digits and signed zeros), as
 * json_dumps writes it. Any difference aborts. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    json_t *ours = hd_json_object_loads(s, size), *ref = json_loadb(s, size, 0, NULL);
    if (!ours != !ref) {
        fprintf(stderr, "fuzz_json: herald %s, jansson %s\n", ours ? "reads it" : "fails",
                ref ? "reads it" : "fails");
        abort();
    }
    if (ours) {
        size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17);
        char *a = json_dumps(ours, flags), *b = json_dumps(ref, flags);
        if (!a || !b || strcmp(a, b) != 0) {
            fprintf(stderr, "fuzz_json: herald %s\n          jansson %s\n", a ? a : "(null)",
                    b ? b : "(null)");
            abort();
        }
        free(a);
        free(b);
    }
    json_decref(ours);
    json_decref(ref);
    return 0;
}
