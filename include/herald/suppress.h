/* suppress: the normal form of an address on the suppression list, so that a
 * suppression matches however the address was written: emails in lower case,
 * phone numbers in E.164, push tokens as given (APNs hex in lower case). */
#ifndef HERALD_SUPPRESS_H
#define HERALD_SUPPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "herald/valid.h"

/* Decides the channel (channel < 0: '@' means email, digits/'+' a phone,
 * anything else a push token) and writes the normal form into out. Returns
 * 0, or -1 with a reason in out. *channel_out gets the channel. */
int hd_suppress_address(struct hd_valid *v, const char *address, int channel, const char *region,
                        int *channel_out, char *out, size_t size);
/* True when s is an acceptable reason: 1-64 of [a-z0-9_-]. */
int hd_suppress_reason_valid(const char *s);

#endif
