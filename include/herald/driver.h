/* driver: how herald hands rendered messages to a provider. A driver is
 * opened from its [provider NAME] section; messages are submitted without
 * waiting for the network and their results collected with poll. At most
 * `connections` messages are in flight at once. Every result has one of
 * four classes, the gateway's code and text, its message id, the latency,
 * and a SHA-256 digest of the bytes sent. Every message carries a stable
 * UUID that the driver passes on (Message-ID, apns-id, Idempotency-Key), so
 * that a message sent twice after a crash is recognisable downstream.
 *
 * Drivers are a table of function pointers found by type; a blocking
 * protocol library (libesmtp) runs in a pool of worker threads, one
 * connection each. */
#ifndef HERALD_DRIVER_H
#define HERALD_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/config.h"
#include "herald/err.h"
#include "herald/log.h"
#include "herald/pauses.h"

enum hd_outcome {
    HD_OUT_ACCEPTED,  /* the gateway took it */
    HD_OUT_TEMPORARY, /* try again later (retry_after_ms when the gateway said) */
    HD_OUT_PERMANENT, /* will never work; bad_address when the address is at fault */
    HD_OUT_THROTTLED, /* the gateway asked us to slow down (retry_after_ms) */
};

const char *hd_outcome_name(int outcome); /* "accepted", ... */

/* Whose token a push goes to (the order of enum hd_sup_index's tokens). */
enum hd_push_platform {
    HD_PUSH_FCM,
    HD_PUSH_APNS,
    HD_PUSH_JPUSH,
    HD_PUSH_HMS,
    /* a WeChat openid, kept with the tokens (push_tokens' platform wechat)
     * but the wechat channel's address, never a push's: it comes last so
     * that push takes the platforms before it */
    HD_PUSH_WECHAT,
    HD_PUSH_COUNT
};

/* A rendered message. Strings are owned by the caller and copied by submit. */
struct hd_msg {
    char id[40];    /* UUID, stable across retries */
    int64_t ref;    /* the message's number in the store (0: none): gateways' callbacks name it */
    int channel;    /* enum hd_channel */
    int category;   /* enum hd_category */
    const char *to; /* email address, E.164 number or push token */
    int platform;   /* push: enum hd_push_platform */
    /* email */
    const char *from, *reply_to, *subject, *text, *html;
    const char *unsubscribe_url, *unsubscribe_mailto; /* marketing mail */
    const char *unsubscribe_subject; /* the mailto's subject ("unsubscribe TOKEN"), or NULL */
    /* sms: body; push: title, body, data (a JSON object's text) */
    const char *title, *body, *data;
    /* push: the template's push.fcm and push.apns (JSON objects' text),
     * merged into the FCM message and the APNs payload; NULL when none */
    const char *fcm, *apns;
    /* push to Huawei: the template's push.click_action ("app", or an intent
     * URI), or NULL for the provider's click_action */
    const char *click_action;
    /* sms for an approved-template gateway: the template's code and its
     * parameters (a JSON object's or list's text); NULL when none */
    const char *sms_template, *sms_params;
    /* a WeChat template message: the template's id, its data (a JSON
     * object's text: each key's value a string, or an object with value
     * and color), the page it opens (url) or the mini-program page; NULL
     * when none */
    const char *wechat_template, *wechat_data, *wechat_url, *wechat_page;
    int64_t created; /* seconds, for the Date header */
    int64_t expires; /* seconds: the message is not worth delivering after; 0 none */
    void *user;      /* the caller's tag, handed back in the result */
};

struct hd_result {
    char id[40];
    void *user;
    int outcome;      /* enum hd_outcome */
    bool bad_address; /* permanent because of the address: suppress it */
    bool opted_out;   /* the recipient opted out at the gateway (SMS STOP) */
    /* the provider is at fault, not the message nor the address (its
     * credentials were refused, its TLS could not be set up): the outcome
     * is HD_OUT_THROTTLED with retry_after_ms = HD_PROVIDER_FAULT_PAUSE_MS,
     * so the provider pauses and the message waits without an attempt */
    bool provider_fault;
    /* requests for this message that went on the wire before the one
     * answered here and died without an answer: libcurl sends a request
     * again at once, by itself, when the kept-alive connection it chose
     * had been closed; each is an attempt in the log (issue 16, item 11) */
    int resent;
    /* requests for this message answered before the one answered here by a
     * refusal of the provider's token (FCM 401, APNs ExpiredProviderToken):
     * the driver made a new token and sent the request again; each is an
     * attempt in the log too */
    int refreshed;
    int64_t retry_after_ms;
    int code;             /* SMTP reply code or HTTP status; 0 when none */
    char text[512];       /* the gateway's words, or ours when it said nothing */
    char gateway_id[256]; /* the gateway's id for the message, or "" */
    int64_t latency_ms;
    int64_t answered_ms; /* hd_clock_mono_ms when the answer came; 0: not known */
    char digest[65];     /* SHA-256 (hex) of the bytes sent, or "" */
};

/* The largest push payload (bytes) FCM and APNs accept. */
#define HD_PUSH_MAX_PAYLOAD 4096

/* How long a throttled answer without Retry-After pauses its provider. */
#define HD_THROTTLE_PAUSE_MS 1000

/* How long a provider at fault (hd_result.provider_fault) pauses: its
 * configuration needs a person, and each try costs a session. */
#define HD_PROVIDER_FAULT_PAUSE_MS 60000

typedef void (*hd_result_cb)(void *ud, const struct hd_result *r);

struct hd_driver;

/* True when a provider of this type can carry the channel. */
bool hd_driver_serves(const char *type, int channel);
/* The platform whose tokens a push provider of this type takes (fcm, apns,
 * jpush, hms_push; wechat's openid, though that type carries the wechat
 * channel, not push), or -1 for one that takes any push token (outbox,
 * http). */
int hd_driver_push_platform(const char *type);
/* "fcm", "apns", "jpush", "hms" or "wechat" (the push_tokens platform). */
const char *hd_push_platform_name(int platform);
/* The most characters (Unicode code points) of text a provider of this
 * type accepts in one message of the channel, or 0 when herald knows no
 * limit (Twilio: 1,600 for an SMS body). */
size_t hd_driver_max_chars(const char *type, int channel);
/* What an SMS provider of this type needs of a template (enum
 * hd_sms_need: free text, or an approved template with named or
 * ordered parameters), and the most characters one parameter's value may
 * have (0: no limit known). */
int hd_driver_sms_need(const char *type);
size_t hd_driver_sms_param_max(const char *type);
/* How many messages the dispatcher may hand the provider's driver at once.
 * For a driver on a worker pool (smtp, outbox), 64 for each connection: a
 * worker sends what it takes in one session (SMTP: one connection, EHLO,
 * then the messages pipelined), and sessions of one or two messages spent
 * their time connecting; still at most `connections` connections. For the
 * HTTP drivers, 4 for each connection: one on the wire and three waiting in
 * the driver, so that a connection that answers is given its next request
 * at once instead of after the dispatcher's next turn (with one each, a
 * 64-connection FCM campaign sent 28,000 messages a second; with four,
 * 35,000). What waits in the driver obeys hd_driver_pause. */
size_t hd_driver_window(const struct hd_provider_cfg *cfg);
/* Opens the provider's driver (no connection is made until the first
 * message). The log is borrowed and must outlive the driver. */
int hd_driver_open(const struct hd_provider_cfg *cfg, struct hd_log *log, struct hd_driver **out,
                   struct hd_err *err);
/* Queues a copy of m. Does not block on the network; HD_E_INVALID when the
 * driver cannot carry this channel. */
int hd_driver_submit(struct hd_driver *d, const struct hd_msg *m, struct hd_err *err);
/* Nothing more goes on the wire before until_ms (hd_clock_mono_ms):
 * messages already handed over wait in the driver until then. The
 * dispatcher pauses a provider's driver with its bucket when the gateway
 * throttles, so throttling holds at the actual send. */
void hd_driver_pause(struct hd_driver *d, int64_t until_ms);
/* A throttled answer was just read: the gate closes for after_ms from now,
 * here and (with a shared slot) in every process on the database. Returns
 * now (hd_clock_mono_ms), taken once the gate was closed: the answer's
 * time. No request the driver starts has a later start time and went
 * out before the pause ends. */
int64_t hd_driver_throttled(struct hd_driver *d, int64_t after_ms);
/* The provider's slot in the database's pause file (hd_store_pauses):
 * this driver's pauses are written there, and other processes' held. The
 * slot is borrowed and must outlive the driver. */
void hd_driver_share_pause(struct hd_driver *d, struct hd_pause_slot *slot);
/* Decides whether the dispatcher takes back a message (by its user
 * pointer); called with the driver's lock held, so it must not call the
 * driver. */
typedef bool (*hd_withdraw_fn)(void *ud, void *user);
/* Takes back the messages submitted that are still waiting in the driver
 * (none of their bytes went out) and for which fn says so: they get no
 * result, and what they point to is the caller's again. A paused provider
 * holds what it was given; a campaign paused or cancelled meanwhile takes
 * its messages back. Returns how many. */
size_t hd_driver_withdraw(struct hd_driver *d, hd_withdraw_fn fn, void *ud);
/* A provider credential that a driver may reuse across processes (APNs:
 * its signed provider token), so that every process does not make its own.
 * The dispatcher keeps it in the store: it offers the stored one to the
 * driver, and writes back the one the driver uses when that is newer. The
 * value is a secret. */
/* True when a provider of this type has a reusable credential. */
bool hd_driver_has_credential(const char *type);
/* Offers a credential issued at issued_at (wall-clock seconds); the driver
 * copies it and uses it, before signing its own, while it is young enough
 * (APNs: 40 minutes). Returns false when the driver takes none. */
bool hd_driver_offer_credential(struct hd_driver *d, const char *value, int64_t issued_at);
/* The credential the driver uses now, read under its lock: a new string in
 * *value (the caller wipes and frees it) and its issue time, or false with
 * *value NULL when it has none yet or takes none. */
bool hd_driver_credential(struct hd_driver *d, char **value, int64_t *issued_at);
/* Waits up to timeout_ms for results, calls cb for each; returns how many. */
int hd_driver_poll(struct hd_driver *d, int timeout_ms, hd_result_cb cb, void *ud);
/* Messages submitted whose results have not been polled yet. */
size_t hd_driver_pending(struct hd_driver *d);
/* Lets the workers finish every message already submitted, stops them and
 * frees everything; results not polled by then are dropped. */
void hd_driver_free(struct hd_driver *d);

/* A new random (version 4) UUID into out (37 bytes). */
void hd_uuid(char out[37]);
/* SHA-256 of data into out, and as 64 hex digits into out (65 bytes). */
void hd_sha256(const void *data, size_t n, unsigned char out[32]);
void hd_sha256_hex(const void *data, size_t n, char out[65]);
/* One text to digest: its bytes (borrowed) and where its 64 hex digits go. */
struct hd_digest_job {
    const void *data; /* the text, len bytes */
    size_t len;       /* its length */
    char *out;        /* 65 bytes: the SHA-256 as hex, NUL-terminated */
};
/* The SHA-256 of each of n texts, as hd_sha256_hex gives it: eight side
 * by side where that is cheaper (AVX2 and no SHA extensions; digest.c). */
void hd_sha256_hex_many(const struct hd_digest_job *jobs, size_t n);
/* The same, always eight side by side (what tests compare to OpenSSL). */
void hd_sha256_hex_lanes(const struct hd_digest_job *jobs, size_t n);

#endif
