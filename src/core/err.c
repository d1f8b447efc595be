/* err: formatting of struct hd_err. Messages are truncated, never overflowed. */
#include "herald/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hd_err_set(struct hd_err *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    err->code = code;
    err->file[0] = '\0';
    err->line = err->column = 0;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int hd_err_setpos(struct hd_err *err, int code, const char *file, int line, int column,
                  const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    int n = 0;
    err->code = code;
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    err->line = line;
    err->column = column;
    err->msg[0] = '\0';
    if (file && *file && line > 0 && column > 0)
        n = snprintf(err->msg, sizeof err->msg, "%s:%d:%d: ", file, line, column);
    else if (file && *file && line > 0)
        n = snprintf(err->msg, sizeof err->msg, "%s:%d: ", file, line);
    else if (file && *file)
        n = snprintf(err->msg, sizeof err->msg, "%s: ", file);
    else if (line > 0)
        n = snprintf(err->msg, sizeof err->msg, "%d:%d: ", line, column);
    if (n < 0 || (size_t)n >= sizeof err->msg)
        n = 0;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

int hd_err_prefix(struct hd_err *err, const char *fmt, ...)
{
    if (!err)
        return HD_E_FAIL;
    char head[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(head);
    if (n + 2 >= sizeof err->msg)
        n = sizeof err->msg - 3;
    memcpy(err->msg, head, n);
    memcpy(err->msg + n, ": ", 2);
    size_t rest = strlen(old), room = sizeof err->msg - n - 3;
    if (rest > room)
        rest = room;
    memcpy(err->msg + n + 2, old, rest);
    err->msg[n + 2 + rest] = '\0';
    return err->code;
}

void hd_err_clear(struct hd_err *err)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
}

_Noreturn void hd_bug(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "herald: BUG at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
