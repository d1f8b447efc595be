/* fuzz_valid: libFuzzer target for the contact validators. The first byte
 * picks a region for phone numbers (none, or one of a few), the rest is the
 * value, given to the email, phone, locale and time-zone validators and to
 * the email's ASCII form. Each must terminate with 0 and a normal form, or a
 * negative reason and a message; a normal form must validate again to
 * itself (a second import of exported contacts changes nothing). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herald/valid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef int (*check_fn)(struct hd_valid *v, const char *s, const char *region, char *out,
                        size_t size);

static int email(struct hd_valid *v, const char *s, const char *region, char *out, size_t size)
{
    (void)region;
    return hd_valid_email(v, s, out, size);
}

static int phone(struct hd_valid *v, const char *s, const char *region, char *out, size_t size)
{
    return hd_valid_phone(v, s, region, out, size);
}

static int locale(struct hd_valid *v, const char *s, const char *region, char *out, size_t size)
{
    (void)region;
    return hd_valid_locale(v, s, out, size);
}

static int zone(struct hd_valid *v, const char *s, const char *region, char *out, size_t size)
{
    (void)region;
    return hd_valid_timezone(v, s, out, size);
}

static void check(struct hd_valid *v, check_fn fn, const char *s, const char *region)
{
    char out[512], again[512];
    int rc = fn(v, s, region, out, sizeof out);
    if (rc > 0 || !memchr(out, '\0', sizeof out))
        abort();
    if (rc < 0) {
        if (!out[0])
            abort(); /* a refusal says why */
        return;
    }
    if (fn(v, out, region, again, sizeof again) != 0 || strcmp(out, again) != 0)
        abort(); /* a normal form is valid and its own normal form */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const regions[] = {NULL, "US", "CN", "GB", "DE", "IN", "BR", "JP"};
    static struct hd_valid *v;
    if (!v)
        v = hd_valid_new();
    if (size == 0)
        return 0;
    const char *region = regions[data[0] % 8];
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    check(v, email, s, region);
    check(v, phone, s, region);
    check(v, locale, s, region);
    check(v, zone, s, region);
    char out[512];
    bool utf8_local = false;
    if (hd_valid_email_ascii(v, s, out, sizeof out, &utf8_local) == 0) {
        char again[512];
        bool u2 = false;
        if (hd_valid_email_ascii(v, out, again, sizeof again, &u2) != 0 || strcmp(out, again) ||
            u2 != utf8_local)
            abort();
    }
    free(s);
    return 0;
}
