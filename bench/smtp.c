/* smtp: the email benchmark's herald side: N messages of about SIZE bytes
 * through the SMTP driver alone (no dispatcher) to 127.0.0.1:PORT over
 * CONNS connections, keeping at most 4,000 queued. Prints messages/s and
 * how many were accepted.
 *   usage: smtp PORT N CONNS SIZE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/config.h"
#include "herald/driver.h"
#include "herald/log.h"
#include "herald/time.h"

static long accepted, done;

static void count(void *ud, const struct hd_result *r)
{
    (void)ud;
    done++;
    if (r->outcome == HD_OUT_ACCEPTED)
        accepted++;
    else if (done - accepted < 5)
        fprintf(stderr, "smtp: %s: %s\n", hd_outcome_name(r->outcome), r->text);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: smtp PORT N CONNS SIZE\n");
        return 2;
    }
    long n = atol(argv[2]), size = atol(argv[4]);
    char conf[512];
    snprintf(conf, sizeof conf,
             "[provider sink]\ntype = smtp\nhost = 127.0.0.1\nport = %s\nstarttls = none\n"
             "from = Bench <bench@example.com>\nconnections = %s\n",
             argv[1], argv[3]);
    struct hd_config *cfg;
    struct hd_err e = {0};
    struct hd_log log;
    struct hd_driver *d;
    hd_log_init(&log, stderr, HD_LOG_WARN);
    if (hd_config_parse(conf, "bench", &cfg, &e) < 0 ||
        hd_driver_open(hd_config_provider(cfg, "sink"), &log, &d, &e) < 0) {
        fprintf(stderr, "smtp: %s\n", e.msg);
        return 1;
    }
    char *text = malloc((size_t)size + 1);
    for (long i = 0; i < size; i++)
        text[i] = i % 72 == 71 ? '\n' : (char)('a' + i % 26);
    text[size] = '\0';
    struct hd_msg m = {.channel = HD_CH_EMAIL, .to = "sink@example.com",
                       .subject = "herald bench", .text = text, .created = 1795334400};
    int64_t t0 = hd_clock_mono_ms();
    for (long i = 0; i < n; i++) {
        while (hd_driver_pending(d) >= 4000)
            hd_driver_poll(d, 50, count, NULL);
        hd_uuid(m.id);
        hd_driver_submit(d, &m, &e);
    }
    while (done < n)
        hd_driver_poll(d, 100, count, NULL);
    int64_t t1 = hd_clock_mono_ms();
    hd_driver_free(d);
    printf("%.0f %ld\n", (double)n * 1000.0 / (double)(t1 - t0 > 0 ? t1 - t0 : 1), accepted);
    free(text);
    hd_config_free(cfg);
    hd_log_release(&log);
    return accepted == n ? 0 : 1;
}
