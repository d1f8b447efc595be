/* feedback: what a gateway's answer says about an address goes into the
 * audience. A result (struct hd_result, the channel layer's) is read
 * here, in dispatch, the first layer that knows both the drivers and the
 * store; the audience layer only gives the suppression list's normal
 * form of an address. Used for a campaign's results (write.c) and by
 * `provider test`. An email refused at RCPT (a bounce during the SMTP
 * session, listmonk #2623) is classified by the bounce rules like a
 * bounce that comes later (core/bounce.c): a hard one suppresses the
 * address with its class, the reply and the message that met it. */
#include <stdio.h>
#include <string.h>

#include "herald/dispatch.h"
#include "herald/suppress.h"

/* The address as the suppression list stores it: its normal form into
 * norm, or the address as given when it has none. */
const char *hd_feedback_form(const char *address, int channel, char *norm, size_t size)
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
    return strcmp(hd_feedback_form(address, channel, norm, sizeof norm), address) == 0;
}

/* Whether r is an email refused at RCPT that the rules call hard; why
 * gets the suppression's words. */
static bool hard_bounce(const struct hd_bounce_rules *rules, int channel, const struct hd_result *r,
                        char *why, size_t size)
{
    if (channel != HD_CH_EMAIL || r->outcome != HD_OUT_PERMANENT ||
        (!r->bad_address && strncmp(r->text, "RCPT TO refused", 15) != 0))
        return false;
    struct hd_bounce b;
    hd_bounce_classify(rules, NULL, 0, r->text, &b);
    snprintf(why, size, "bounced (%s, %s): %.900s", hd_bounce_class_name(b.cls),
             hd_bounce_severity_name(b.severity), r->text);
    /* without rules, only what the driver called the address's fault */
    return rules ? b.severity == HD_BOUNCE_HARD : r->bad_address;
}

int hd_feedback_apply(struct hd_store *st, const struct hd_bounce_rules *rules, const char *contact,
                      int64_t message, int channel, const char *address, const struct hd_result *r,
                      int64_t now, struct hd_err *err)
{
    int changes = 0;
    char why[1000] = "";
    bool email = channel == HD_CH_EMAIL;
    /* only a permanent refusal of the address suppresses it: the drivers
     * never mark as bad a reply to how herald encoded it (issue 15), and
     * an email's refusal must be a hard bounce by the rules */
    if (email ? hard_bounce(rules, channel, r, why, sizeof why)
              : r->bad_address && r->outcome == HD_OUT_PERMANENT) {
        static const char *const reasons[HD_CH_COUNT] = {[HD_CH_EMAIL] = "hard_bounce",
                                                         [HD_CH_SMS] = "invalid_number",
                                                         [HD_CH_PUSH] = "unregistered_token",
                                                         [HD_CH_WECHAT] = "invalid_openid"};
        char norm[4200];
        struct hd_suppression s = {.address = hd_feedback_form(address, channel, norm, sizeof norm),
                                   .channel = channel,
                                   .reason = reasons[channel],
                                   .created_at = now,
                                   .detail = *why ? why : r->text,
                                   .message = message};
        if (hd_store_suppress_add(st, &s, err) < 0)
            return -1;
        changes++;
    }
    if (r->opted_out && contact) {
        /* an SMS STOP refuses everything on the number; a WeChat user who
         * unfollowed (43004) refused the account's marketing: its service
         * messages stay theirs to get again when they follow back */
        int cats = channel == HD_CH_WECHAT ? 1 : HD_CAT_COUNT;
        _Static_assert(HD_CAT_MARKETING == 0, "marketing comes first");
        for (int cat = 0; cat < cats; cat++)
            if (hd_store_consent_set(st, contact, channel, cat, HD_CONSENT_OPTED_OUT, "gateway",
                                     now, err) < 0)
                return -1;
        changes++;
    }
    return changes;
}
