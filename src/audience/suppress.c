/* suppress: address normal forms for the suppression list. */
#include "herald/suppress.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "herald/config.h"
#include "herald/driver.h"
#include "herald/store.h"

static int looks_like_phone(const char *s)
{
    if (*s == '+')
        s++;
    if (!isdigit((unsigned char)*s))
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s) && !strchr(" -.()/", *s))
            return 0;
    return 1;
}

int hd_suppress_address(struct hd_valid *v, const char *address, int channel, const char *region,
                        int *channel_out, char *out, size_t size)
{
    if (channel < 0)
        channel = strchr(address, '@')        ? HD_CH_EMAIL
                  : looks_like_phone(address) ? HD_CH_SMS
                                              : HD_CH_PUSH;
    *channel_out = channel;
    if (channel == HD_CH_EMAIL) {
        if (hd_valid_email(v, address, out, size) < 0)
            return -1;
        for (char *p = out; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        return 0;
    }
    if (channel == HD_CH_SMS)
        return hd_valid_phone(v, address, region, out, size) < 0 ? -1 : 0; /* any reason: -1 */
    size_t n = strlen(address);
    if (n == 0 || n > 4096 || n + 1 > size) {
        snprintf(out, size, "not a push token");
        return -1;
    }
    int hex = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)address[i];
        if (!isalnum(c) && !strchr("-_:.", c)) {
            snprintf(out, size, "not an address, phone number or push token");
            return -1;
        }
        hex &= isxdigit(c) != 0;
    }
    for (size_t i = 0; i <= n; i++)
        out[i] = hex ? (char)tolower((unsigned char)address[i]) : address[i];
    return 0;
}

int hd_suppress_reason_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_' && *s != '-')
            return 0;
    return 1;
}

int hd_feedback_apply(struct hd_store *st, const char *contact, int channel, const char *address,
                      const struct hd_result *r, int64_t now, struct hd_err *err)
{
    int changes = 0;
    if (r->bad_address) {
        static const char *const reasons[HD_CH_COUNT] = {[HD_CH_EMAIL] = "hard_bounce",
                                                         [HD_CH_SMS] = "invalid_number",
                                                         [HD_CH_PUSH] = "unregistered_token"};
        char norm[4200];
        int ch;
        struct hd_valid *v = hd_valid_new();
        int bad = hd_suppress_address(v, address, channel, NULL, &ch, norm, sizeof norm);
        hd_valid_free(v);
        struct hd_suppression s = {.address = bad ? address : norm,
                                   .channel = channel,
                                   .reason = reasons[channel],
                                   .created_at = now};
        if (hd_store_suppress_add(st, &s, err) < 0)
            return -1;
        changes++;
    }
    if (r->opted_out && contact) {
        for (int cat = 0; cat < HD_CAT_COUNT; cat++)
            if (hd_store_consent_set(st, contact, channel, cat, HD_CONSENT_OPTED_OUT, "gateway",
                                     now, err) < 0)
                return -1;
        changes++;
    }
    return changes;
}
