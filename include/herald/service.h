/* service: herald under a service manager (systemd's Type=notify). What
 * herald tells the manager (READY=1, STATUS=..., STOPPING=1, RELOADING=1)
 * goes to the notify socket through sd_notify when NOTIFY_SOCKET is set,
 * and nowhere otherwise. The watchdog interval is the manager's
 * (WATCHDOG_USEC for this process, read by sd_watchdog_enabled); the loop
 * calls hd_service_watchdog every turn and it pings (WATCHDOG=1) once half
 * the interval has passed since the last ping: a comparison when it has
 * not, so it costs the loop nothing. */
#ifndef HERALD_SERVICE_H
#define HERALD_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

struct hd_service {
    bool notify;          /* NOTIFY_SOCKET is set: there is a manager to tell */
    int64_t watchdog_ms;  /* the manager's watchdog interval; 0: none */
    int64_t last_ping_ms; /* hd_clock_mono_ms of the last WATCHDOG=1 */
};

/* Reads the environment the manager set; a service with notify false and
 * no watchdog makes every call below do nothing. */
void hd_service_init(struct hd_service *s);
/* Sends one notification of newline-separated VAR=value lines (printf
 * format), e.g. "READY=1\nSTATUS=dispatching". s may be NULL. */
void hd_service_notifyf(struct hd_service *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* WATCHDOG=1 when half the interval has passed since the last one (mono_ms
 * is hd_clock_mono_ms). s may be NULL. */
void hd_service_watchdog(struct hd_service *s, int64_t mono_ms);

#endif
