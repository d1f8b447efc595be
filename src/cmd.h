/* cmd: what the subcommand files share: the handlers main() dispatches to,
 * and small helpers for errors, usage and output formats. */
#ifndef HERALD_CMD_H
#define HERALD_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "herald/buf.h"
#include "herald/ctx.h"
#include "herald/err.h"

enum cmd_exit { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

enum cmd_format { FMT_TABLE, FMT_CSV, FMT_JSON, FMT_JSONL };

/* Each gets argv[0] = its own name ("contacts"), and returns an exit code. */
int cmd_init(struct hd_ctx *ctx, int argc, char **argv);
int cmd_config(struct hd_ctx *ctx, int argc, char **argv);
int cmd_contacts(struct hd_ctx *ctx, int argc, char **argv);
int cmd_suppress(struct hd_ctx *ctx, int argc, char **argv);
int cmd_template(struct hd_ctx *ctx, int argc, char **argv);
int cmd_segment(struct hd_ctx *ctx, int argc, char **argv);
int cmd_provider(struct hd_ctx *ctx, int argc, char **argv);
int cmd_campaign(struct hd_ctx *ctx, int argc, char **argv);
int cmd_run(struct hd_ctx *ctx, int argc, char **argv);
int cmd_send(struct hd_ctx *ctx, int argc, char **argv);
int cmd_log(struct hd_ctx *ctx, int argc, char **argv);
int cmd_history(struct hd_ctx *ctx, int argc, char **argv);
int cmd_why(struct hd_ctx *ctx, int argc, char **argv);
int cmd_stats(struct hd_ctx *ctx, int argc, char **argv);
int cmd_events(struct hd_ctx *ctx, int argc, char **argv);

/* Prints "herald: <message>" for err and returns the exit code it deserves
 * (2 for usage errors, 1 otherwise). */
int cmd_fail(struct hd_ctx *ctx, const struct hd_err *err);
/* Prints "herald <cmd>: <message>" and the usage hint; returns 2. */
int cmd_usage(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints usage to stdout (for --help) and returns 0. */
int cmd_help(const char *usage);
/* "table", "csv", "json" -> format, or -1. */
int cmd_parse_format(const char *s, bool allow_table);
/* Parses a non-negative integer option; -1 when it is not one. */
long long cmd_parse_count(const char *s);
/* Opens the store at the context's path (not creating it); does nothing when
 * it is already open. */
int cmd_open_store(struct hd_ctx *ctx, struct hd_err *err);
/* Prints an epoch time as ISO 8601 into buf. */
const char *cmd_time(long long t, char *buf, unsigned size);

/* A contact as a JSON object (attributes and consent included); caller decrefs. */
struct hd_contact;
typedef struct json_t json_t;
json_t *cmd_contact_json(const struct hd_contact *k);
void cmd_print_json(json_t *o, bool pretty);

/* Contacts streamed as a table, CSV, a JSON array or JSON Lines. */
struct cmd_contact_out {
    int format; /* enum cmd_format */
    long n;
    struct hd_buf line;
};
void cmd_contacts_begin(struct cmd_contact_out *co, int format);
int cmd_contacts_row(void *ud, const struct hd_contact *k); /* an hd_contact_cb */
void cmd_contacts_end(struct cmd_contact_out *co);

/* Delivery-log rows streamed as a table, CSV or JSON Lines (cmd_log.c). */
struct hd_log_row;
struct cmd_log_out {
    int format; /* FMT_TABLE, FMT_CSV or FMT_JSONL */
    long n;
    struct hd_buf line;
};
void cmd_log_begin(struct cmd_log_out *o, int format);
int cmd_log_row(void *ud, const struct hd_log_row *r); /* an hd_log_cb */
void cmd_log_end(struct cmd_log_out *o);
/* An ISO 8601 time or date, or a duration before now ("7d"), in ms. */
int cmd_parse_when(struct hd_ctx *ctx, const char *s, int64_t *ms);

#endif
