/* suppress: address normal forms for the suppression list. */
#include "herald/suppress.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "herald/config.h"

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
