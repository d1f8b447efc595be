/* feedback: what a gateway's answer says about an address goes into the
 * audience. A result (struct hd_result, the channel layer's) is read
 * here, in dispatch, the first layer that knows both the drivers and the
 * store; the audience layer only gives the suppression list's normal
 * form of an address. Used for a campaign's results (write.c) and by
 * `provider test`. */
#include "herald/dispatch.h"
#include "herald/suppress.h"

#include <string.h>

/* The address as the suppression list stores it: its normal form into
 * norm, or the address as given when it has none. */
static const char *suppressed_form(const char *address, int channel, char *norm, size_t size)
{
    int ch;
    struct hd_valid *v = hd_valid_new();
    int bad = hd_suppress_address(v, address, channel, NULL, &ch, norm, size);
    hd_valid_free(v);
    return bad ? address : norm;
}

bool hd_feedback_same_form(const char *address, int channel)
{
    char norm[4200];
    return strcmp(suppressed_form(address, channel, norm, sizeof norm), address) == 0;
}

int hd_feedback_apply(struct hd_store *st, const char *contact, int channel, const char *address,
                      const struct hd_result *r, int64_t now, struct hd_err *err)
{
    int changes = 0;
    /* only a permanent refusal of the address suppresses it: the drivers
     * never mark as bad a reply to how herald encoded it (issue 15) */
    if (r->bad_address && r->outcome == HD_OUT_PERMANENT) {
        static const char *const reasons[HD_CH_COUNT] = {[HD_CH_EMAIL] = "hard_bounce",
                                                         [HD_CH_SMS] = "invalid_number",
                                                         [HD_CH_PUSH] = "unregistered_token"};
        char norm[4200];
        struct hd_suppression s = {.address = suppressed_form(address, channel, norm, sizeof norm),
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
