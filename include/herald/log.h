/* log: leveled log lines to stderr (or any FILE), each with a UTC timestamp.
 * Secrets never reach a line: every secret the configuration loads is
 * registered here, and any line containing one has it replaced by "****"
 * before it is written, whoever formatted it. */
#ifndef HERALD_LOG_H
#define HERALD_LOG_H

#include <stdarg.h>
#include <stdio.h>

#include "herald/progress.h"
#include "herald/time.h"

enum hd_log_level { HD_LOG_ERROR, HD_LOG_WARN, HD_LOG_INFO, HD_LOG_DEBUG };

struct hd_log {
    int level;                    /* lines above this level are dropped */
    FILE *out;                    /* borrowed; stderr by default */
    const struct hd_clock *clock; /* borrowed; NULL means the real clock */
    char **secrets;               /* owned copies, wiped on release */
    size_t nsecrets;
    struct hd_status status; /* the progress line on out: cleared for a line, then redrawn */
    bool colour;             /* the level in colour (hd_log_auto_colour) */
};

void hd_log_init(struct hd_log *log, FILE *out, int level);
void hd_log_release(struct hd_log *log);
/* Colour only on a terminal, and never when NO_COLOR is set (non-empty). */
void hd_log_auto_colour(struct hd_log *log);
/* "error", "warn", "info", "debug" -> level; returns -1 when unknown. */
int hd_log_level_parse(const char *name);
const char *hd_log_level_name(int level);
/* Remembers a secret value (copied) so that it is masked in every line. */
void hd_log_add_secret(struct hd_log *log, const char *value);
void hd_log_msg(struct hd_log *log, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void hd_log_vmsg(struct hd_log *log, int level, const char *fmt, va_list ap);

#define hd_log_error(l, ...) hd_log_msg((l), HD_LOG_ERROR, __VA_ARGS__)
#define hd_log_warn(l, ...) hd_log_msg((l), HD_LOG_WARN, __VA_ARGS__)
#define hd_log_info(l, ...) hd_log_msg((l), HD_LOG_INFO, __VA_ARGS__)
#define hd_log_debug(l, ...) hd_log_msg((l), HD_LOG_DEBUG, __VA_ARGS__)

#endif
