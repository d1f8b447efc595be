/* log: one formatted line per call, masked for secrets, written with a single
 * fwrite so that lines from one process never interleave mid-line; or, when
 * the journal is in use, sent as one entry with sd_journal_sendv (one
 * datagram, so entries do not interleave either). The level is checked
 * before anything is formatted, fields included: a debug line with fields
 * costs a comparison when debug is off. When a progress line is shown on
 * the same stream (log->status), a plain line erases it first and draws it
 * again after the line, in that same fwrite. The level is in colour only on
 * a terminal without NO_COLOR. */
#include "herald/log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
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

static void add_field(struct hd_buf *b, const char *name, const char *value)
{
    hd_buf_init(b);
    hd_buf_addf(b, "%s=%s", name, value);
}

size_t hd_log_journal_entry(int level, const char *message, const struct hd_log_fields *f,
                            struct hd_buf out[HD_LOG_JOURNAL_MAX])
{
    static const char *const priority[] = {"3", "4", "6", "7"};
    size_t n = 0;
    add_field(&out[n++], "MESSAGE", message);
    add_field(&out[n++], "PRIORITY", priority[level < 0 ? 0 : level > 3 ? 3 : level]);
    add_field(&out[n++], "SYSLOG_IDENTIFIER", "herald");
    if (f && f->message_id)
        add_field(&out[n++], "HERALD_MESSAGE_ID", f->message_id);
    if (f && f->campaign)
        add_field(&out[n++], "HERALD_CAMPAIGN", f->campaign);
    if (f && f->provider)
        add_field(&out[n++], "HERALD_PROVIDER", f->provider);
    return n;
}

/* One entry to the journal; a negative errno when it does not take it. */
static int to_journal(int level, const char *message, const struct hd_log_fields *f)
{
    struct hd_buf field[HD_LOG_JOURNAL_MAX];
    struct iovec iov[HD_LOG_JOURNAL_MAX];
    size_t n = hd_log_journal_entry(level, message, f, field);
    for (size_t i = 0; i < n; i++)
        iov[i] = (struct iovec){field[i].data, field[i].len};
    int rc = sd_journal_sendv(iov, (int)n);
    for (size_t i = 0; i < n; i++) {
        hd_wipe(field[i].data, field[i].len);
        hd_buf_release(&field[i]);
    }
    return rc;
}

/* The plain line: timestamp, level, message, in one fwrite, around the
 * progress line when one is shown. */
static void to_stream(struct hd_log *log, int level, const char *message)
{
    static const char *const colours[] = {"\033[31m", "\033[33m", "", ""};
    char ts[32];
    struct hd_buf line;
    hd_time_format_iso(hd_clock_now(log->clock), ts, sizeof ts);
    hd_buf_init(&line);
    bool colour = log->colour && level >= 0 && level < 4 && *colours[level];
    hd_buf_addf(&line, "%s%s herald %s%s%s: %s\n", log->status.shown ? "\r\033[K" : "", ts,
                colour ? colours[level] : "", hd_log_level_name(level), colour ? "\033[0m" : "",
                message);
    if (log->status.shown)
        hd_buf_adds(&line, log->status.text);
    fwrite(line.data, 1, line.len, log->out);
    fflush(log->out);
    hd_wipe(line.data, line.len);
    hd_buf_release(&line);
}

/* A control byte in a message (a gateway's reply, a URL or name a request
 * carried) written visibly, "\n" or "\x1b", so that one call is one
 * line and no text can forge another line or drive the terminal; a tab
 * stays. */
static void controls_shown(struct hd_buf *msg)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;
    while (i < msg->len && ((unsigned char)msg->data[i] >= 0x20 || msg->data[i] == '\t') &&
           msg->data[i] != 0x7f)
        i++;
    if (i == msg->len)
        return;
    struct hd_buf out;
    hd_buf_init(&out);
    hd_buf_add(&out, msg->data, i);
    for (; i < msg->len; i++) {
        unsigned char c = (unsigned char)msg->data[i];
        if ((c >= 0x20 && c != 0x7f) || c == '\t')
            hd_buf_addc(&out, (char)c);
        else if (c == '\n' || c == '\r')
            hd_buf_add(&out, c == '\n' ? "\\n" : "\\r", 2);
        else
            hd_buf_add(&out, (const char[]){'\\', 'x', hex[c >> 4], hex[c & 15]}, 4);
    }
    hd_wipe(msg->data, msg->len);
    hd_buf_release(msg);
    *msg = out;
}

static void emit(struct hd_log *log, int level, const struct hd_log_fields *f, const char *fmt,
                 va_list ap)
{
    struct hd_buf msg;
    hd_buf_init(&msg);
    hd_buf_vaddf(&msg, fmt, ap);
    mask(log, &msg);
    controls_shown(&msg);
    int jrc = log->journal ? to_journal(level, msg.data, f) : 0;
    if (jrc < 0) { /* given up once, said once */
        char why[200];
        log->journal = false;
        snprintf(why, sizeof why, "the journal did not take a line (%s): logging to stderr",
                 strerror(-jrc));
        to_stream(log, HD_LOG_WARN, why);
    }
    if (!log->journal)
        to_stream(log, level, msg.data);
    hd_wipe(msg.data, msg.len);
    hd_buf_release(&msg);
}

void hd_log_vmsg(struct hd_log *log, int level, const char *fmt, va_list ap)
{
    if (!log || level > log->level)
        return;
    emit(log, level, NULL, fmt, ap);
}

void hd_log_fmsg(struct hd_log *log, int level, const struct hd_log_fields *f, const char *fmt, ...)
{
    if (!log || level > log->level)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(log, level, f, fmt, ap);
    va_end(ap);
}

/* Where journald listens; libsystemd drops entries silently when nothing
 * does, so herald looks before it uses the journal. */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

/* systemd connected out to the journal: JOURNAL_STREAM is its "dev:ino". */
static bool stream_is_journal(FILE *out)
{
    const char *stream = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat sb;
    return stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 && fstat(fileno(out), &sb) == 0 &&
           (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino;
}

void hd_log_use_journal(struct hd_log *log, int mode)
{
    bool want = mode == HD_JOURNAL_YES || (mode == HD_JOURNAL_AUTO && stream_is_journal(log->out));
    bool there = access(JOURNAL_SOCKET, W_OK) == 0;
    log->journal = want && there;
    if (want && !there && mode == HD_JOURNAL_YES)
        to_stream(log, HD_LOG_WARN,
                  "[log] journal = yes, but no journald listens on " JOURNAL_SOCKET
                  ": logging to stderr");
}

void hd_log_msg(struct hd_log *log, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hd_log_vmsg(log, level, fmt, ap);
    va_end(ap);
}
