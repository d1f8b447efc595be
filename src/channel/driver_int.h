/* driver_int: what a driver implementation provides to driver.c. */
#ifndef HERALD_DRIVER_INT_H
#define HERALD_DRIVER_INT_H

#include "herald/driver.h"

/* A driver whose protocol library blocks: driver.c runs `connections`
 * worker threads, each calling send() with a batch of messages and its own
 * connection state (*conn, NULL at first; the driver keeps what it wants). */
struct hd_drv_ops {
    const char *type;
    unsigned channels;    /* 1 << enum hd_channel for each channel it carries */
    size_t batch;         /* messages a worker takes at once */
    size_t sms_max_chars; /* the longest SMS body the gateway takes (characters); 0: no limit */
    int sms_need;         /* enum hd_sms_need: 0, free text, unless set */
    size_t sms_param_max; /* approved templates: the longest parameter value; 0: no limit */
    int (*init)(const struct hd_provider_cfg *cfg, struct hd_log *log, void **conf,
                struct hd_err *err);
    void (*fini)(void *conf);
    void (*send)(void *conf, void **conn, const struct hd_msg *const *msgs, size_t n,
                 struct hd_result *results);
    void (*conn_close)(void *conf, void *conn);
    /* An asynchronous driver (libcurl multi) sets loop instead of send:
     * loop_threads threads run it; it takes messages with hd_drv_take and returns results
     * with hd_drv_give, until hd_drv_take says the driver is stopping. wake
     * (optional) interrupts the loop's wait when a message is submitted. */
    void (*loop)(void *conf, struct hd_driver *d);
    void (*wake)(void *conf);
    unsigned (*loop_threads)(void *conf); /* how many threads run loop; NULL: 1 */
    /* Optional: a reusable credential (hd_driver_offer_credential and
     * hd_driver_credential), each called from the dispatcher's thread;
     * the driver guards it with its own lock. */
    bool (*offer_credential)(void *conf, const char *value, int64_t issued_at);
    char *(*credential)(void *conf, int64_t *issued_at);
};

/* Takes up to max submitted messages, waiting up to wait_ms when there are
 * none (or the driver is paused: then none is taken). Returns how many, or
 * -1 when the driver is stopping and none is left (or it is paused). */
int hd_drv_take(struct hd_driver *d, const struct hd_msg **out, size_t max, int wait_ms);
/* Returns the results of n messages hd_drv_take gave, and frees them. */
void hd_drv_give(struct hd_driver *d, const struct hd_msg *const *m, const struct hd_result *r,
                 size_t n);
/* Messages submitted that hd_drv_take would give now: none while the
 * driver is paused, and then *hold_ms (when not NULL) is how long the pause
 * still lasts; otherwise -1. */
size_t hd_drv_queued(struct hd_driver *d, int64_t *hold_ms);
/* The gate in front of the wire, asked right before a request starts,
 * without a lock: false while a pause holds. *now is the time
 * (hd_clock_mono_ms) taken before the gate was looked at: the time the
 * request began when the gate is open. */
bool hd_drv_gate(struct hd_driver *d, int64_t *now);
/* Puts n messages hd_drv_take gave back at the front of the queue, in
 * their order (the gate closed before they started). */
void hd_drv_untake(struct hd_driver *d, const struct hd_msg *const *m, size_t n);

extern const struct hd_drv_ops hd_drv_outbox;
extern const struct hd_drv_ops hd_drv_smtp;
extern const struct hd_drv_ops hd_drv_twilio;
extern const struct hd_drv_ops hd_drv_http;
extern const struct hd_drv_ops hd_drv_fcm;
extern const struct hd_drv_ops hd_drv_apns;
extern const struct hd_drv_ops hd_drv_aliyun_sms;
extern const struct hd_drv_ops hd_drv_tencent_sms;
extern const struct hd_drv_ops hd_drv_jpush;
extern const struct hd_drv_ops hd_drv_hms_push;
extern const struct hd_drv_ops hd_drv_wechat;
extern const struct hd_drv_ops hd_drv_inbox;

/* The email of m for the MIME builder, with from and reply_to as given
 * (each driver has its own defaults). */
struct hd_mail;
void hd_mail_of(struct hd_mail *mail, const struct hd_msg *m, const char *from,
                const char *reply_to);

/* Fills the parts of a result every driver sets the same way. */
void hd_result_init(struct hd_result *r, const struct hd_msg *m);
/* Sets outcome, code and text (printf-style). */
void hd_result_set(struct hd_result *r, int outcome, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
