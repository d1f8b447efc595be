/* progress: redraws a single line with '\r'; throttled by the monotonic clock.
 * A status line (hd_status) is the same kind of line kept as text, so that
 * the logger can take it away for a log line and put it back. */
#include "herald/progress.h"

#include <stdarg.h>

#include "herald/time.h"

void hd_progress_init(struct hd_progress *p, bool enabled, FILE *out, const char *what,
                      uint64_t total)
{
    p->enabled = enabled;
    p->out = out;
    p->what = what;
    p->total = total;
    p->start_ms = p->last_ms = hd_clock_mono_ms();
    p->drawn = false;
}

void hd_progress_update(struct hd_progress *p, uint64_t count, uint64_t done)
{
    if (!p->enabled)
        return;
    int64_t now = hd_clock_mono_ms();
    if (now - p->last_ms < 100)
        return;
    p->last_ms = now;
    double secs = (double)(now - p->start_ms) / 1000.0;
    double rate = secs > 0 ? (double)count / secs : 0;
    fprintf(p->out, "\r\033[K%llu %s  %.0f/s", (unsigned long long)count, p->what, rate);
    if (p->total && done > 0 && done <= p->total) {
        double frac = (double)done / (double)p->total;
        int width = 24, fill = (int)(frac * width);
        double eta = secs / frac - secs;
        fprintf(p->out, "  [");
        for (int i = 0; i < width; i++)
            fputc(i < fill ? '#' : '.', p->out);
        fprintf(p->out, "] %3.0f%%  eta %.0fs", frac * 100, eta);
    }
    fflush(p->out);
    p->drawn = true;
}

void hd_progress_finish(struct hd_progress *p)
{
    if (p->enabled && p->drawn) {
        fprintf(p->out, "\r\033[K");
        fflush(p->out);
    }
    p->drawn = false;
}

void hd_status_draw(struct hd_status *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->text, sizeof s->text, fmt, ap);
    va_end(ap);
    fprintf(s->out, "\r\033[K%s", s->text);
    fflush(s->out);
    s->shown = true;
}

void hd_status_clear(struct hd_status *s)
{
    if (s->shown) {
        fputs("\r\033[K", s->out);
        fflush(s->out);
    }
    s->shown = false;
    s->text[0] = '\0';
}
