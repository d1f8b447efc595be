/* links: whether a campaign can carry the links the law and the mailbox
 * providers ask of it. Marketing email must carry a working one-click
 * unsubscribe (RFC 8058; Gmail's and Yahoo's bulk sender rules), which is a
 * signed per-recipient link to herald serve: without [serve] public_url, or
 * without the secret to sign with, such a campaign does not start. Checked
 * by `herald send` before it fires, and by the dispatcher when it first
 * meets a campaign (herald run). */
#include "herald/dispatch.h"

int hd_dispatch_links_ready(const struct hd_config *cfg, const struct hd_campaign *c,
                            struct hd_err *err)
{
    bool email = false;
    for (int i = 0; i < c->nchannels; i++)
        email |= c->channels[i] == HD_CH_EMAIL;
    if (!email || c->category != HD_CAT_MARKETING)
        return 0;
    const struct hd_serve_cfg *s = &cfg->serve;
    if (!s->public_url)
        return hd_err_set(err, HD_E_CONFIG,
                          "campaign '%s': marketing email must carry a one-click "
                          "unsubscribe link, and [serve] public_url is not set: set it to the "
                          "address of 'herald serve' (e.g. public_url = http://127.0.0.1:8025, "
                          "or your public https URL) and run 'herald serve'",
                          c->name);
    if (!s->secrets[0].value)
        return hd_err_set(err, HD_E_CONFIG,
                          "campaign '%s': marketing email carries signed unsubscribe "
                          "links, and [serve] has no secret: %s",
                          c->name,
                          s->secrets[0].via ? "run 'herald init' to make the secret file"
                                            : "run 'herald serve init-secret var/herald.secret' "
                                              "and set secret_file = var/herald.secret");
    return 0;
}
