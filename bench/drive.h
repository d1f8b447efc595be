/* drive: what the driver benchmarks share: open provider `name` from the
 * configuration text conf, submit n copies of a message (a fresh id each)
 * keeping at most `window` queued, collect every result, and print
 * "messages/s accepted". Returns 0 when all were accepted. */
#ifndef HERALD_BENCH_DRIVE_H
#define HERALD_BENCH_DRIVE_H

#include <stdio.h>

#include "herald/config.h"
#include "herald/driver.h"
#include "herald/log.h"
#include "herald/time.h"

struct drive {
    const char *name;
    long accepted, done;
};

static void drive_count(void *ud, const struct hd_result *r)
{
    struct drive *dr = ud;
    dr->done++;
    if (r->outcome == HD_OUT_ACCEPTED)
        dr->accepted++;
    else if (dr->done - dr->accepted < 5)
        fprintf(stderr, "%s: %s: %d %s\n", dr->name, hd_outcome_name(r->outcome), r->code, r->text);
}

static int drive(const char *name, const char *conf, struct hd_msg *m, long n, size_t window)
{
    struct drive dr = {name, 0, 0};
    struct hd_config *cfg;
    struct hd_err e = {0};
    struct hd_log log;
    struct hd_driver *d;
    hd_log_init(&log, stderr, HD_LOG_WARN);
    if (hd_config_parse(conf, "bench", &cfg, &e) < 0 ||
        hd_driver_open(hd_config_provider(cfg, name), &log, &d, &e) < 0) {
        fprintf(stderr, "%s: %s\n", name, e.msg);
        return 1;
    }
    int64_t t0 = hd_clock_mono_ms();
    for (long i = 0; i < n; i++) {
        while (hd_driver_pending(d) >= window)
            hd_driver_poll(d, 50, drive_count, &dr);
        hd_uuid(m->id);
        hd_driver_submit(d, m, &e);
    }
    while (dr.done < n)
        hd_driver_poll(d, 100, drive_count, &dr);
    int64_t t1 = hd_clock_mono_ms();
    printf("%.0f %ld\n", (double)n * 1000.0 / (double)(t1 - t0 > 0 ? t1 - t0 : 1), dr.accepted);
    hd_driver_free(d);
    hd_config_free(cfg);
    hd_log_release(&log);
    return dr.accepted == n ? 0 : 1;
}

#endif
