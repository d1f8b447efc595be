/* driver_int: what a driver implementation provides to driver.c. */
#ifndef HERALD_DRIVER_INT_H
#define HERALD_DRIVER_INT_H

#include "herald/driver.h"

/* A driver whose protocol library blocks: driver.c runs `connections`
 * worker threads, each calling send() with a batch of messages and its own
 * connection state (*conn, NULL at first; the driver keeps what it wants). */
struct hd_drv_ops {
    const char *type;
    unsigned channels; /* 1 << enum hd_channel for each channel it carries */
    size_t batch;      /* messages a worker takes at once */
    int (*init)(const struct hd_provider_cfg *cfg, struct hd_log *log, void **conf,
                struct hd_err *err);
    void (*fini)(void *conf);
    void (*send)(void *conf, void **conn, const struct hd_msg *const *msgs, size_t n,
                 struct hd_result *results);
    void (*conn_close)(void *conf, void *conn);
};

extern const struct hd_drv_ops hd_drv_outbox;
extern const struct hd_drv_ops hd_drv_smtp;

/* Fills the parts of a result every driver sets the same way. */
void hd_result_init(struct hd_result *r, const struct hd_msg *m);
/* Sets outcome, code and text (printf-style). */
void hd_result_set(struct hd_result *r, int outcome, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
