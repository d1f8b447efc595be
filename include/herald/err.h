/* err: the one way herald reports failure. A function that can fail returns 0
 * or a negative HD_E_* code and fills an optional struct hd_err with the code,
 * a lower-case message and, for parse errors, the file, line and column. */
#ifndef HERALD_ERR_H
#define HERALD_ERR_H

#include <stddef.h>

enum hd_err_code {
    HD_OK = 0,
    HD_E_FAIL = -1,     /* anything without a better code */
    HD_E_NOMEM = -2,    /* allocation failed */
    HD_E_IO = -3,       /* a file or socket operation failed */
    HD_E_CONFIG = -4,   /* the configuration is wrong */
    HD_E_PARSE = -5,    /* input text does not parse */
    HD_E_STORE = -6,    /* the database refused (SQLite's message attached) */
    HD_E_INVALID = -7,  /* a value is syntactically fine but not acceptable */
    HD_E_NOTFOUND = -8, /* the named thing does not exist */
    HD_E_EXISTS = -9,   /* the named thing already exists */
    HD_E_USAGE = -10,   /* the command line is wrong */
};

struct hd_err {
    int code;       /* one of enum hd_err_code; 0 when clear */
    char file[256]; /* where a parse error was found, or "" */
    int line;       /* 1-based line, or 0 */
    int column;     /* 1-based column, or 0 */
    char msg[1024]; /* complete message, including "file:line:col: " when known */
};

/* Sets code and message (printf-style) and returns code, so a caller can write
 * `return hd_err_set(err, HD_E_CONFIG, "...")`. err may be NULL. */
int hd_err_set(struct hd_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like hd_err_set, and records the position; the message is prefixed with
 * "file:line: " or "file:line:column: " (parts that are 0 or NULL are left out). */
int hd_err_setpos(struct hd_err *err, int code, const char *file, int line, int column,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Prefixes an existing message with "what: " (for adding context on the way up). */
int hd_err_prefix(struct hd_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void hd_err_clear(struct hd_err *err);

/* A broken invariant: prints where and aborts. Never for bad input. */
#define HD_BUG(...) hd_bug(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void hd_bug(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
