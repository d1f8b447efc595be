/* log: one formatted line per call, masked for secrets, written with a single
 * fwrite so that lines from one process never interleave mid-line. When a
 * progress line is shown on the same stream (log->status), the write erases
 * it first and draws it again after the line, in that same fwrite. The
 * level is in colour only on a terminal without NO_COLOR. */
#include "herald/log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "herald/buf.h"

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void hd_log_init(struct hd_log *log, FILE *out, int level)
{
    memset(log, 0, sizeof *log);
    log->out = out ? out : stderr;
    log->level = level;
    log->status.out = log->out;
}

void hd_log_auto_colour(struct hd_log *log)
{
    const char *no = getenv("NO_COLOR");
    log->colour = isatty(fileno(log->out)) && !(no && *no);
}

void hd_log_release(struct hd_log *log)
{
    if (!log)
        return;
    for (size_t i = 0; i < log->nsecrets; i++) {
        hd_wipe(log->secrets[i], strlen(log->secrets[i]));
        free(log->secrets[i]);
    }
    free(log->secrets);
    log->secrets = NULL;
    log->nsecrets = 0;
}

int hd_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

const char *hd_log_level_name(int level)
{
    return level >= 0 && level < 4 ? level_names[level] : "?";
}

void hd_log_add_secret(struct hd_log *log, const char *value)
{
    /* Very short values would mask ordinary words; they are weak secrets anyway. */
    if (!value || strlen(value) < 4)
        return;
    HD_GROW(log->secrets, log->nsecrets);
    log->secrets[log->nsecrets++] = hd_xstrdup(value);
}

static void mask(struct hd_log *log, struct hd_buf *line)
{
    for (size_t i = 0; i < log->nsecrets; i++) {
        const char *s = log->secrets[i];
        size_t n = strlen(s);
        char *hit;
        while ((hit = strstr(line->data, s)) != NULL) {
            size_t at = (size_t)(hit - line->data);
            struct hd_buf out;
            hd_buf_init(&out);
            hd_buf_add(&out, line->data, at);
            hd_buf_adds(&out, "****");
            hd_buf_adds(&out, line->data + at + n);
            hd_wipe(line->data, line->len);
            hd_buf_release(line);
            *line = out;
        }
    }
}

void hd_log_vmsg(struct hd_log *log, int level, const char *fmt, va_list ap)
{
    if (!log || level > log->level)
        return;
    char ts[32];
    hd_time_format_iso(hd_clock_now(log->clock), ts, sizeof ts);
    struct hd_buf line;
    hd_buf_init(&line);
    static const char *const colours[] = {"\033[31m", "\033[33m", "", ""};
    bool colour = log->colour && level >= 0 && level < 4 && *colours[level];
    hd_buf_addf(&line, "%s%s herald %s%s%s: ", log->status.shown ? "\r\033[K" : "", ts,
                colour ? colours[level] : "", hd_log_level_name(level), colour ? "\033[0m" : "");
    hd_buf_vaddf(&line, fmt, ap);
    mask(log, &line);
    hd_buf_addc(&line, '\n');
    if (log->status.shown)
        hd_buf_adds(&line, log->status.text);
    fwrite(line.data, 1, line.len, log->out);
    fflush(log->out);
    hd_wipe(line.data, line.len);
    hd_buf_release(&line);
}

void hd_log_msg(struct hd_log *log, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hd_log_vmsg(log, level, fmt, ap);
    va_end(ap);
}
