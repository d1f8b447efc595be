/* suppress: the normal form of an address on the suppression list, so that a
 * suppression matches however the address was written: emails in lower case,
 * phone numbers in E.164, push tokens as given (APNs hex in lower case). */
#ifndef HERALD_SUPPRESS_H
#define HERALD_SUPPRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "herald/err.h"
#include "herald/store.h"
#include "herald/valid.h"

/* Decides the channel (channel < 0: '@' means email, digits/'+' a phone,
 * anything else a push token) and writes the normal form into out. Returns
 * 0, or a negative code (enum hd_valid_why for a phone number: HD_VALID_NO_REGION
 * for a national number without region) with a reason in out. *channel_out
 * gets the channel. */
int hd_suppress_address(struct hd_valid *v, const char *address, int channel, const char *region,
                        int *channel_out, char *out, size_t size);
/* hd_suppress_address, and on failure the whole message in why ("'0415' is
 * not a valid sms address: a national number needs a region (set
 * REGION_HINT)") returned; NULL when the address is fine. */
const char *hd_suppress_why(struct hd_valid *v, const char *address, int channel,
                            const char *region, const char *region_hint, int *channel_out,
                            char *out, size_t size, char *why, size_t wsize);
/* True when s is an acceptable reason: 1-64 of [a-z0-9_-]. */
int hd_suppress_reason_valid(const char *s);

/* A bulk suppression list: CSV with a header naming address (required),
 * channel and reason (optional, in any order); an empty channel is
 * inferred from the address, an empty reason is opts->reason. */
struct hd_suppress_import_opts {
    const char *path;           /* a file, or "-" for standard input */
    const char *encoding;       /* the file's encoding for ICU, NULL for UTF-8 */
    const char *default_region; /* for national phone numbers, or NULL */
    const char *reason;         /* for rows without one */
    unsigned max_errors;        /* bad rows listed on msgs; 0 means 20 */
    FILE *msgs;                 /* where bad rows go (stderr) */
    const char *region_hint;    /* how the user sets default_region, or NULL */
    const char *encoding_hint;  /* how the user sets encoding, or NULL */
    bool progress;              /* a progress line on stderr (a terminal) */
};

struct hd_suppress_import_result {
    int64_t rows;       /* data rows read */
    int64_t suppressed; /* rows written (added, or their reason updated) */
    int64_t rejected;   /* invalid rows */
};

/* All or nothing, in one transaction: every bad row is listed (up to
 * max_errors) with file:line and nothing is written if any is bad
 * (HD_E_INVALID, res says how many). */
int hd_suppress_import(struct hd_store *st, const struct hd_suppress_import_opts *o, int64_t now,
                       struct hd_suppress_import_result *res, struct hd_err *err);

#endif
