/* service: sd_notify for readiness, status and the watchdog (see
 * service.h). libsystemd does the protocol: the socket (a path or an
 * abstract name) and WATCHDOG_PID, which says whether the interval is ours
 * (a child herald runs must not ping for its parent). A failed send is
 * ignored: the manager then acts as it would on silence. */
#include "herald/service.h"

#include <stdarg.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "herald/buf.h"
#include "herald/time.h"

void hd_service_init(struct hd_service *s)
{
    uint64_t usec = 0;
    const char *sock = getenv("NOTIFY_SOCKET");
    s->notify = sock && *sock;
    s->watchdog_ms = sd_watchdog_enabled(0, &usec) > 0 ? (int64_t)(usec / 1000) : 0;
    if (s->watchdog_ms == 0 && usec > 0)
        s->watchdog_ms = 1;
    s->last_ping_ms = hd_clock_mono_ms();
}

void hd_service_notifyf(struct hd_service *s, const char *fmt, ...)
{
    if (!s || !s->notify)
        return;
    struct hd_buf b;
    va_list ap;
    hd_buf_init(&b);
    va_start(ap, fmt);
    hd_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    (void)sd_notify(0, b.data);
    hd_buf_release(&b);
}

void hd_service_watchdog(struct hd_service *s, int64_t mono_ms)
{
    if (!s || s->watchdog_ms == 0 || mono_ms - s->last_ping_ms < s->watchdog_ms / 2)
        return;
    s->last_ping_ms = mono_ms;
    (void)sd_notify(0, "WATCHDOG=1");
}
