/* progress: a one-line progress bar on stderr for long work (import,
 * materialisation, dispatch): count, rate, and an ETA when the total is
 * known. Disabled, every call is a cheap no-op, so callers need not test. */
#ifndef HERALD_PROGRESS_H
#define HERALD_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct hd_progress {
    bool enabled;
    FILE *out;        /* borrowed */
    const char *what; /* "rows", "messages" (borrowed) */
    uint64_t total;   /* units of done for the ETA (e.g. bytes), 0 if unknown */
    int64_t start_ms;
    int64_t last_ms;
    bool drawn;
};

void hd_progress_init(struct hd_progress *p, bool enabled, FILE *out, const char *what,
                      uint64_t total);
/* count: items so far; done: progress toward total (may equal count). Redraws
 * at most ten times a second. */
void hd_progress_update(struct hd_progress *p, uint64_t count, uint64_t done);
/* Erases the bar so a summary line can follow. */
void hd_progress_finish(struct hd_progress *p);

/* The status line at the foot of a terminal stream (the dispatcher's
 * progress): drawn with '\r' and erase-line, and remembered, so that the
 * logger, which owns one for its stream (struct hd_log's status), clears
 * it before a log line and draws it again after: the two never share a
 * line. */
struct hd_status {
    FILE *out; /* borrowed */
    bool shown;
    char text[512];
};
void hd_status_draw(struct hd_status *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Erases the line when it is shown, and forgets it. */
void hd_status_clear(struct hd_status *s);

#endif
