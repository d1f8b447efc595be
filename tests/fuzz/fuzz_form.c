/* fuzz_form: libFuzzer target for the form parser of herald serve's
 * gateway hooks (hd_form_parse, what a Twilio status callback or reply is
 * read with, after its signature). The input is a request body. It is
 * refused whole or parsed; a parsed one has its fields sorted by name,
 * and encoding them again and parsing that gives the same fields, and the
 * signature over them is made without fault. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"
#include "herald/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hd_form f, g;
    if (hd_form_parse((const char *)data, size, &f) < 0) {
        if (f.n != 0)
            abort();
        hd_form_release(&f);
        return 0;
    }
    struct hd_buf again;
    hd_buf_init(&again);
    for (size_t i = 0; i < f.n; i++) {
        if (i > 0 && strcmp(f.v[i - 1].name, f.v[i].name) > 0)
            abort();
        if (i > 0)
            hd_buf_addc(&again, '&');
        hd_buf_add_form(&again, f.v[i].name, strlen(f.v[i].name));
        hd_buf_addc(&again, '=');
        hd_buf_add_form(&again, f.v[i].value, strlen(f.v[i].value));
    }
    if (hd_form_parse(again.data ? again.data : "", again.len, &g) < 0 || g.n != f.n)
        abort();
    for (size_t i = 0; i < f.n; i++)
        if (strcmp(f.v[i].name, g.v[i].name) != 0 || strcmp(f.v[i].value, g.v[i].value) != 0)
            abort();
    char sig[HD_TWILIO_SIG_MAX];
    hd_form_twilio_signature("fuzz-token", 10, "https://example.com/hooks/twilio/sms", &f, sig);
    if (strlen(sig) != 28)
        abort();
    hd_buf_release(&again);
    hd_form_release(&f);
    hd_form_release(&g);
    return 0;
}
