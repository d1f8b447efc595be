/* inbox: the driver of the in-app inbox channel (issue 20). Nothing leaves
 * the machine and a driver never touches the store, so sending is only
 * taking: every message is accepted at once, with its UUID as the gateway
 * id, and the dispatcher's writer stores the rendered title, body, link and
 * expiry for the contact in the same transaction that marks the message
 * sent (dispatch/write.c). A message of another channel is refused as a
 * real driver would refuse it. */
#include "driver_int.h"

#include <string.h>

#include "herald/time.h"

static int ib_init(const struct hd_provider_cfg *cfg, struct hd_log *log, void **conf,
                   struct hd_err *err)
{
    (void)cfg;
    (void)log;
    (void)err;
    *conf = NULL;
    return 0;
}

static void ib_fini(void *conf)
{
    (void)conf;
}

static void ib_send(void *conf, void **conn, const struct hd_msg *const *msgs, size_t n,
                    struct hd_result *results)
{
    (void)conf;
    (void)conn;
    for (size_t i = 0; i < n; i++) {
        const struct hd_msg *m = msgs[i];
        struct hd_result *r = &results[i];
        if (m->channel != HD_CH_INBOX) {
            hd_result_set(r, HD_OUT_PERMANENT, 0, "inbox: a %s message is not for the inbox",
                          hd_channel_name(m->channel));
            continue;
        }
        hd_result_set(r, HD_OUT_ACCEPTED, 0, "kept for the contact's inbox");
        snprintf(r->gateway_id, sizeof r->gateway_id, "%s", m->id);
        hd_sha256_hex(m->body ? m->body : "", m->body ? strlen(m->body) : 0, r->digest);
        r->latency_ms = 0;
    }
}

const struct hd_drv_ops hd_drv_inbox = {
    .type = "inbox",
    .channels = 1u << HD_CH_INBOX,
    .batch = 64,
    .init = ib_init,
    .fini = ib_fini,
    .send = ib_send,
};
