/* log: leveled log lines to stderr (or any FILE), each with a UTC timestamp,
 * or, under systemd, to the journal as entries with structured fields
 * (MESSAGE, PRIORITY, and HERALD_MESSAGE_ID, HERALD_CAMPAIGN,
 * HERALD_PROVIDER for a line about a message, a campaign or a provider).
 * Secrets never reach a line: every secret the configuration loads is
 * registered here, and any line containing one has it replaced by "****"
 * before it is written, whoever formatted it. */
#ifndef HERALD_LOG_H
#define HERALD_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "herald/buf.h"
#include "herald/progress.h"
#include "herald/time.h"

enum hd_log_level { HD_LOG_ERROR, HD_LOG_WARN, HD_LOG_INFO, HD_LOG_DEBUG };

struct hd_log {
    int level;                    /* lines above this level are dropped */
    FILE *out;                    /* borrowed; stderr by default */
    const struct hd_clock *clock; /* borrowed; NULL means the real clock */
    char **secrets;               /* owned copies, wiped on release */
    size_t nsecrets;
    bool journal; /* entries go to the journal (hd_log_use_journal), not to out */
    struct hd_status status; /* the progress line on out: cleared for a line, then redrawn */
    bool colour;             /* the level in colour (hd_log_auto_colour) */
};

/* [log] journal: where lines go. */
enum hd_log_journal { HD_JOURNAL_AUTO, HD_JOURNAL_YES, HD_JOURNAL_NO };

/* What a line is about, for the journal's fields; NULL fields are left out.
 * Borrowed; plain lines ignore them (their text names the same things). */
struct hd_log_fields {
    const char *message_id; /* HERALD_MESSAGE_ID: the message's stable UUID */
    const char *campaign;   /* HERALD_CAMPAIGN: the campaign's name */
    const char *provider;   /* HERALD_PROVIDER: the provider's name */
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
/* A line with fields; nothing is formatted when the level is off. */
void hd_log_fmsg(struct hd_log *log, int level, const struct hd_log_fields *f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Whether a line at level would be written: to skip work done only for it. */
static inline bool hd_log_on(const struct hd_log *log, int level)
{
    return log && level <= log->level;
}

/* Sends lines to the journal: always (yes), never (no), or (auto) when
 * systemd connected the log's stream to it: JOURNAL_STREAM names the
 * device and inode of out. Only when journald listens: without it (yes)
 * lines go to out after a warning. A line the journal does not take is
 * written to out instead, and the journal is given up with a warning. */
void hd_log_use_journal(struct hd_log *log, int mode);
/* The journal entry of one line: "MESSAGE=...", "PRIORITY=N" (syslog's: 3
 * error, 4 warn, 6 info, 7 debug), "SYSLOG_IDENTIFIER=herald", then one
 * HERALD_* field for each field of f that is set (f may be NULL). Fills
 * out[0..n-1] (initialised here, released by the caller); returns n. */
#define HD_LOG_JOURNAL_MAX 6
size_t hd_log_journal_entry(int level, const char *message, const struct hd_log_fields *f,
                            struct hd_buf out[HD_LOG_JOURNAL_MAX]);

#define hd_log_error(l, ...) hd_log_msg((l), HD_LOG_ERROR, __VA_ARGS__)
#define hd_log_warn(l, ...) hd_log_msg((l), HD_LOG_WARN, __VA_ARGS__)
#define hd_log_info(l, ...) hd_log_msg((l), HD_LOG_INFO, __VA_ARGS__)
#define hd_log_debug(l, ...) hd_log_msg((l), HD_LOG_DEBUG, __VA_ARGS__)

#endif
