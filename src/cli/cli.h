/* cli: what the command files share: the handlers main() dispatches to, the
 * one option parser every handler declares its options to, and small helpers
 * for errors, usage and output formats. */
#ifndef HERALD_CLI_H
#define HERALD_CLI_H

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
int cmd_segment_rfm(struct hd_ctx *ctx, int argc, char **argv); /* cmd_rfm.c */
int cmd_provider(struct hd_ctx *ctx, int argc, char **argv);
int cmd_campaign(struct hd_ctx *ctx, int argc, char **argv);
int cmd_run(struct hd_ctx *ctx, int argc, char **argv);
int cmd_send(struct hd_ctx *ctx, int argc, char **argv);
int cmd_log(struct hd_ctx *ctx, int argc, char **argv);
int cmd_history(struct hd_ctx *ctx, int argc, char **argv);
int cmd_why(struct hd_ctx *ctx, int argc, char **argv);
int cmd_stats(struct hd_ctx *ctx, int argc, char **argv);
int cmd_events(struct hd_ctx *ctx, int argc, char **argv);
int cmd_complete(struct hd_ctx *ctx, int argc, char **argv); /* hidden: for shell completion */

/* Prints "herald: <message>" for err and returns the exit code it deserves
 * (2 for usage errors, 1 otherwise). */
int cmd_fail(struct hd_ctx *ctx, const struct hd_err *err);
/* Prints "herald <cmd>: <message>" and the usage hint; returns 2. */
int cmd_usage(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints usage to stdout (for --help) and returns 0. */
int cmd_help(const char *usage);

/* ---- options (common.c) ---- */

/* One option of a command: its long name (without "--"), whether it takes a
 * value, and the id the handler's callback gets for it. A table ends with a
 * zeroed entry; --help (and -h) is added by the parser, always last. */
struct cli_opt {
    const char *name; /* "segment" for --segment */
    bool arg;         /* takes a value (--name VALUE or --name=VALUE) */
    int id;           /* what the callback gets; a short option's letter */
    unsigned in;      /* a shared table: the commands (spec masks) it is for; 0 all */
};

/* How one command (or subcommand) parses its options. */
struct cli_spec {
    const char *cmd;            /* "campaign create", in messages */
    const char *usage;          /* printed for --help, and after an error */
    const struct cli_opt *opts; /* the options, ending with a zeroed entry */
    unsigned mask;              /* a shared table: the entries whose in has this bit */
    const char *shorts;         /* getopt short options; NULL for "h" */
    const char *bad;            /* message for an unknown option; NULL for "bad option" */
};

/* Called for each option given, in order; returns 0 to go on, or the exit
 * code the command returns at once (an error already printed, as by
 * cmd_usage). */
typedef int (*cli_opt_cb)(void *ud, int id, const char *arg);

/* Parses argv[1..] (argv[0] is the command's name) with getopt_long, as
 * the commands always have: options and operands may mix (operands are
 * moved to the end), a long option may be abbreviated, and getopt's own
 * line is printed for an unknown one. Returns the index of the first
 * operand, or -1 when the command is to return *rc at once: 0 after
 * printing the usage for --help, 2 after a bad option (the one-line error
 * and the usage hint), or what the callback returned. */
int cli_parse(const struct cli_spec *spec, int argc, char **argv, cli_opt_cb cb, void *ud, int *rc);

/* A cli_opt_cb for a table of one flag: sets the bool ud points to. */
int cli_flag(void *ud, int id, const char *arg);

/* ---- run and send (cmd_run.c) ---- */
enum { CLI_RUN = 1, CLI_SEND = 2 }; /* their masks in cli_dispatch_opts */
struct hd_dispatch_opts;
struct hd_dispatch_stats;
extern const struct cli_opt cli_dispatch_opts[];
/* The options' values, parsed by cli_dispatch_opt (a cli_opt_cb). */
struct cli_dispatch_args {
    const struct cli_spec *spec; /* for messages */
    struct hd_dispatch_opts *o;  /* filled */
    bool now;                    /* send --now: fire even ahead of the schedule */
};
int cli_dispatch_opt(void *ud, int id, const char *arg);
/* The progress line on stderr (when it is a terminal). */
struct cli_view {
    struct hd_ctx *ctx;
    bool drawn;
    int64_t start_ms;
};
void cli_fire_progress(void *ud, const char *campaign, int64_t queued);
/* SIGTERM and SIGINT set the stop flag; SIGPIPE is ignored. */
void cli_catch_signals(void);
bool cli_stopped(void);
/* Runs the dispatcher with o (stop flag and progress filled in) to its end. */
int cli_dispatch(struct hd_ctx *ctx, struct hd_dispatch_opts *o, struct cli_view *v,
                 struct hd_dispatch_stats *stats, struct hd_err *err);

/* ---- option values, output, the store (common.c) ---- */

/* "table", "csv", "json" -> format, or -1. */
int cmd_parse_format(const char *s, bool allow_table);
/* --default-region ARG: *out = arg when herald knows the region's numbering,
 * 0; else the usage error for cmd, and its exit code. */
int cmd_region_opt(const char *cmd, const char *usage, const char *arg, const char **out);
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
