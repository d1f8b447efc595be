/* fuzz_dsn: libFuzzer target for the bounce mailbox's parser, hd_dsn_parse
 * (issue 19): the input is one mail, as anyone on the Internet can send
 * to the bounce address. It must never crash or read out of bounds; a
 * mail it accepts has a known kind, NUL-terminated fields, a class in
 * range, and a VERP address (when one was found) that gives back the
 * message number it reported. Seed corpus: tests/fuzz/corpus/dsn, the
 * fixtures of tests/data/dsn. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herald/dsn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hd_dsn d;
    struct hd_err err = {0};
    if (hd_dsn_parse((const char *)data, size, NULL, &d, &err) < 0)
        return err.msg[0] ? 0 : (abort(), 0);
    if (d.kind < HD_DSN_BOUNCE || d.kind > HD_DSN_DELAY || d.bounce.cls < 0 ||
        d.bounce.cls >= HD_BOUNCE_COUNT || d.ref < 0)
        abort();
    if (strlen(d.verp) >= sizeof d.verp || strlen(d.recipient) >= sizeof d.recipient ||
        strlen(d.diagnostic) >= sizeof d.diagnostic || strlen(d.status) >= sizeof d.status)
        abort();
    if (d.verp[0] && hd_dsn_verp_ref(d.verp, NULL, 0) != d.ref)
        abort();
    return 0;
}
