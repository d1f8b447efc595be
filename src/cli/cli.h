/* cli: what the command files share: the handlers main() dispatches to, the
 * one option parser every handler declares its options to, and small helpers
 * for errors, usage and output formats. */
#ifndef HERALD_CLI_H
#define HERALD_CLI_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "herald/buf.h"
#include "herald/ctx.h"
#include "herald/err.h"

/* EXIT_MSGS_FAILED: `herald send` ran, and messages of its run failed
 * (hd_state_failure), or its campaign paused itself on failures. */
enum cmd_exit { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_MSGS_FAILED = 3 };

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
int cmd_serve(struct hd_ctx *ctx, int argc, char **argv);
int cmd_bounces(struct hd_ctx *ctx, int argc, char **argv);
int cmd_apikey(struct hd_ctx *ctx, int argc, char **argv);
int cmd_inbox(struct hd_ctx *ctx, int argc, char **argv);
int cmd_user(struct hd_ctx *ctx, int argc, char **argv);  /* the console's users */
int cmd_audit(struct hd_ctx *ctx, int argc, char **argv); /* audit actions */
int cmd_nodes(struct hd_ctx *ctx, int argc, char **argv); /* nodes */
int cmd_db(struct hd_ctx *ctx, int argc, char **argv);    /* db copy */
/* herald run's poll of the bounce mailbox ([bounces] poll; cmd_bounces.c):
 * start does nothing when poll or the mailbox is not set. */
struct cli_bounces_poll {
    struct hd_ctx *ctx;
    const struct hd_config *cfg; /* as the run started: a reload does not change it */
    struct hd_store *st;         /* the thread's own connection */
    pthread_t th;
    bool running;
    volatile sig_atomic_t stop;
};
int cli_bounces_poll_start(struct hd_ctx *ctx, struct cli_bounces_poll *bp, struct hd_err *err);
void cli_bounces_poll_stop(struct cli_bounces_poll *bp);

int cmd_webhook(struct hd_ctx *ctx, int argc, char **argv);
/* herald run's deliverer of the outbound webhooks (cmd_webhook.c): start
 * does nothing without a [webhook NAME]. */
struct cli_webhooks {
    struct hd_ctx *ctx;
    const struct hd_config *cfg; /* as the run started: a reload does not change it */
    struct hd_store *st;         /* the thread's own connection */
    struct hd_clock clock;       /* the run's clock, copied at start */
    pthread_t th;
    bool running;
    volatile sig_atomic_t stop;
};
int cli_webhooks_start(struct hd_ctx *ctx, struct cli_webhooks *wh, struct hd_err *err);
void cli_webhooks_stop(struct cli_webhooks *wh);

/* Prints "herald: <message>" for err and returns the exit code it deserves
 * (2 for usage errors, 1 otherwise). */
int cmd_fail(struct hd_ctx *ctx, const struct hd_err *err);
/* Prints "herald <cmd>: <message>" and the line "Try 'herald <cmd> --help'."
 * (never the usage, which usage is there for callers' sake); returns 2. */
int cmd_usage(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints usage to stdout (for --help) and returns 0. */
int cmd_help(const char *usage);
/* argv[1] of a command with subcommands: its index in subs (NULL-ended);
 * -1 with *rc the exit status when there is none ("give a subcommand:
 * a, b or c"), when it is --help or -h (the usage), or another word. */
int cmd_subcommand(const char *cmd, const char *usage, const char *const *subs, int argc,
                   char **argv, int *rc);
/* Records a change made by this command in the audit (who: the login name
 * running it, from "cli"); a failure is a warning only. */
void cmd_audit_note(struct hd_ctx *ctx, const char *what, const char *detail);

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
    const char *bad;            /* unused: a bad option is named in one line */
};

/* Called for each option given, in order; returns 0 to go on, or the exit
 * code the command returns at once (an error already printed, as by
 * cmd_usage). */
typedef int (*cli_opt_cb)(void *ud, int id, const char *arg);

/* Parses argv[1..] (argv[0] is the command's name) with getopt_long, as
 * the commands always have: options and operands may mix (operands are
 * moved to the end), and a long option may be abbreviated. Once the line
 * has parsed, the store main deferred is opened (cli_ready). Returns the
 * index of the first operand, or -1 when the command is to return *rc at
 * once: 0 after printing the usage for --help, 2 after a bad option (one
 * line naming it, and the pointer to --help), 1 when the store would not
 * open, or what the callback returned. */
int cli_parse(const struct cli_spec *spec, int argc, char **argv, cli_opt_cb cb, void *ud, int *rc);

/* A configuration or a database that does not open is reported only once
 * the command has parsed its line (the command parses with the built-in
 * defaults): main hands the first error here (cli_defer_error), or, with
 * --help somewhere on the line, the opening of the store itself
 * (cli_defer_store). cli_ready, which cli_parse calls when the line is
 * well formed (a handler that parses by hand calls it itself), reports the
 * error or opens the store, once. Returns 0, or -1 with *rc the exit code
 * (1) after printing why. */
void cli_defer_store(struct hd_ctx *ctx);
void cli_defer_error(struct hd_ctx *ctx, const struct hd_err *err);
int cli_ready(int *rc);

/* cli_parse, checking that nargs operands follow (msg when there are
 * fewer, "unexpected argument 'x'" when more) before the store is made
 * ready: a missing database is told for a well-formed line only. nargs
 * CLI_NARGS_ANY: any number; CLI_NARGS_LATER: the operands depend on the
 * options, and the handler calls cli_ready itself once it has checked
 * them. */
enum { CLI_NARGS_ANY = -1, CLI_NARGS_LATER = -2 };
int cli_parse_n(const struct cli_spec *spec, int nargs, const char *msg, int argc, char **argv,
                cli_opt_cb cb, void *ud, int *rc);
/* cli_parse_n for a (sub)command without options of its own; nargs < 0:
 * any number of operands. */
int cli_operands(const char *cmd, const char *usage, int argc, char **argv, int nargs,
                 const char *msg, int *rc);

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
    bool serve;                  /* run --serve: the HTTP service in the same process */
    const char *listen;          /* run --listen ADDR:PORT, with --serve */
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

/* "table", "csv", "json", "jsonl" -> format, or -1. */
int cmd_parse_format(const char *s, bool allow_table);
/* --default-region ARG: *out = arg when herald knows the region's numbering,
 * 0; else the usage error for cmd, and its exit code. */
int cmd_region_opt(const char *cmd, const char *usage, const char *arg, const char **out);
/* The formats a command supports, as a set of FMT_BIT(format). */
#define FMT_BIT(f) (1u << (f))
#define FMTS_ALL (FMT_BIT(FMT_TABLE) | FMT_BIT(FMT_CSV) | FMT_BIT(FMT_JSON) | FMT_BIT(FMT_JSONL))
/* --format's value for command cmd, one of the formats in allowed; 0, or 2
 * after "herald cmd: --format: 'x' is not one of table, csv, json, jsonl"
 * (naming the allowed ones). */
int cmd_format_arg(const char *cmd, const char *arg, unsigned allowed, int *format);
/* A cli_opt_cb for a command whose only options are {"format", true, 'f'}
 * and {"json", false, 'j'} (--json: an alias of --format json). */
struct cmd_format_args {
    const char *cmd;  /* for messages */
    unsigned allowed; /* FMT_BIT set */
    int format;       /* the default, then what was given */
};
#define CMD_FORMAT_OPTS                                                                            \
    {"format", true, 'f', 0},                                                                      \
    {                                                                                              \
        "json", false, 'j', 0                                                                      \
    }
int cmd_format_cb(void *ud, int id, const char *arg);
/* cli_parse_n for a (sub)command whose only options are those two: *format
 * is what was given, FMT_TABLE by default. */
int cli_parse_format(const char *cmd, const char *usage, int nargs, const char *msg, int argc,
                     char **argv, int *format, int *rc);
/* Parses a non-negative integer option; -1 when it is not one. */
long long cmd_parse_count(const char *s);
/* Opens the store at the context's path (not creating it); does nothing when
 * it is already open. */
int cmd_open_store(struct hd_ctx *ctx, struct hd_err *err);
/* The configuration's database password, for target only when it is
 * written exactly as the configuration's database: a --db naming another
 * server is never sent it (its own comes from ~/.pgpass); NULL else. */
const char *cmd_db_password(const struct hd_ctx *ctx, const char *target);
/* Prints an epoch time as ISO 8601 into buf. */
const char *cmd_time(long long t, char *buf, unsigned size);
struct hd_run;
/* When run r fired, as commands show it: "T", or "T (due D)" when it was
 * made a minute or more after its firing's time (a dispatcher was down). */
const char *cmd_run_fired(const struct hd_run *r, char *buf, unsigned size);

/* A contact as a JSON object (attributes and consent included); caller decrefs. */
struct hd_contact;
typedef struct json_t json_t;
json_t *cmd_contact_json(const struct hd_contact *k);
/* A consent row (a current one, or a change of the record) as JSON, and as
 * the line `contacts show`, `history` and `why` print: channel, category,
 * status, source, time, and the message and campaign whose link it came
 * from. */
struct hd_consent;
json_t *cmd_consent_json(const struct hd_consent *c);
void cmd_consent_line(const struct hd_consent *c);
void cmd_print_json(json_t *o, bool pretty);

/* Records as CSV (a header, RFC 4180), one JSON array or JSON Lines; a
 * table is the command's own. Each row is a JSON object: its values under
 * the cols names make the CSV cells (numbers as numbers, null empty, an
 * object or array as JSON text). cols ends with NULL; without it the first
 * row's keys are the header. */
struct cmd_out {
    int format;              /* FMT_CSV, FMT_JSON or FMT_JSONL (table: nothing) */
    long n;                  /* rows written */
    const char *const *cols; /* CSV columns, NULL-terminated; NULL: the first row's keys */
    struct hd_buf line;
};
void cmd_out_begin(struct cmd_out *o, int format, const char *const *cols);
void cmd_out_row(struct cmd_out *o, json_t *row); /* takes the reference */
void cmd_out_end(struct cmd_out *o);              /* "]\n" for json */
/* An array's records; takes the reference. */
void cmd_out_all(int format, const char *const *cols, json_t *arr);
/* One record: json an object, jsonl one line, csv a header and one row;
 * takes the reference. */
void cmd_out_one(int format, const char *const *cols, json_t *obj);

/* Tables. A cell is its value with each control character written as the
 * JSON of --format json writes it ("\u001b" for ESC, "\r", "\n"; DEL and
 * the C1 controls "\u007f", "\u009b"; a byte that is no UTF-8 "\xNN"),
 * so that no value can drive the terminal, padded with spaces to width
 * columns of a terminal: an East Asian wide character takes two, a
 * combining mark none. clip cuts a wider value at the last whole character
 * that fits; else it pushes the rest of its row right. cmd_cell appends
 * one to b and returns the columns of its text (without the padding). */
int cmd_cell(struct hd_buf *b, const char *s, int width, bool clip);
/* A table's column: width 0 for the last, which is never padded. */
struct cmd_col {
    int width; /* terminal columns */
    bool clip; /* a wider value cut to fit */
};
/* One row of n cells (NULL: empty), each under its column, one space
 * between, no blanks after the last text, and a newline; appended to b. The
 * header is a row of the same columns, so it sits over its values. */
void cmd_row(struct hd_buf *b, const struct cmd_col *cols, size_t n, const char *const *cells);

/* Contacts streamed as a table, CSV, a JSON array or JSON Lines. */
struct cmd_contact_out {
    int format; /* enum cmd_format */
    long n;
    struct hd_buf line;
};
void cmd_contacts_begin(struct cmd_contact_out *co, int format);
int cmd_contacts_row(void *ud, const struct hd_contact *k); /* an hd_contact_cb */
void cmd_contacts_end(struct cmd_contact_out *co);

/* Delivery-log rows streamed as a table, CSV, a JSON array or JSON Lines
 * (cmd_log.c). */
struct hd_log_row;
struct cmd_log_out {
    int format; /* enum cmd_format */
    long n;
    struct hd_buf line;
};
void cmd_log_begin(struct cmd_log_out *o, int format);
int cmd_log_row(void *ud, const struct hd_log_row *r); /* an hd_log_cb */
void cmd_log_end(struct cmd_log_out *o);
/* One row as the JSON object json and jsonl print; caller decrefs. */
json_t *cmd_log_json(const struct hd_log_row *r);
/* An ISO 8601 time or date, or a duration before now ("7d"), in ms. */
int cmd_parse_when(struct hd_ctx *ctx, const char *s, int64_t *ms);

#endif
