/* main: the command table and the set-up every command shares. It parses the
 * global options, reads the configuration and opens the store when the
 * command asks for them, runs the handler and returns its exit code:
 * 0 success, 1 failure, 2 usage error, 3 (send) messages failed. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "cli.h"
#include "herald/config.h"
#include "herald/store.h"

#ifndef HD_SYSCONF_PATH
#define HD_SYSCONF_PATH "/usr/local/etc/herald/herald.conf"
#endif

enum { NEED_CONFIG = 1, NEED_STORE = 2 };

struct command {
    const char *name;
    int (*fn)(struct hd_ctx *ctx, int argc, char **argv);
    unsigned flags;
    const char *summary;
};

static const struct command commands[] = {
    {"init", cmd_init, NEED_CONFIG, "create (or migrate) the database"},
    {"config", cmd_config, 0, "check the configuration and print it"},
    {"contacts", cmd_contacts, NEED_CONFIG | NEED_STORE,
     "import|show|list|optout|optin|delete contacts"},
    {"suppress", cmd_suppress, NEED_CONFIG | NEED_STORE,
     "add|remove|list|import suppressed addresses"},
    {"provider", cmd_provider, NEED_CONFIG, "list|test providers (gateways)"},
    {"segment", cmd_segment, NEED_CONFIG | NEED_STORE,
     "define|list|show|count|sample|export|delete audience segments"},
    {"template", cmd_template, NEED_CONFIG, "list|lint|preview|render message templates"},
    {"campaign", cmd_campaign, NEED_CONFIG | NEED_STORE,
     "create|list|show|estimate|pause|resume|cancel campaigns"},
    {"run", cmd_run, NEED_CONFIG | NEED_STORE, "the daemon: fire scheduled campaigns, dispatch"},
    {"send", cmd_send, NEED_CONFIG | NEED_STORE, "dispatch one campaign now, in the foreground"},
    {"log", cmd_log, NEED_CONFIG | NEED_STORE, "the delivery log: every attempt and decision"},
    {"history", cmd_history, NEED_CONFIG | NEED_STORE,
     "every message a contact was considered for"},
    {"why", cmd_why, NEED_CONFIG | NEED_STORE, "why a contact did or did not get a campaign"},
    {"stats", cmd_stats, NEED_CONFIG | NEED_STORE, "a campaign's numbers, A/B and conversions"},
    {"events", cmd_events, NEED_CONFIG | NEED_STORE, "import conversion events (for stats --goal)"},
    {"serve", cmd_serve, NEED_CONFIG, "the HTTP service: one-click unsubscribe, health"},
    {"bounces", cmd_bounces, NEED_CONFIG | NEED_STORE,
     "fetch the bounce mailbox: DSNs and complaints"},
    {"apikey", cmd_apikey, NEED_CONFIG | NEED_STORE, "create|list|revoke keys of the JSON API"},
    {"webhook", cmd_webhook, NEED_CONFIG | NEED_STORE,
     "list|test|deliver signed outbound webhooks of events"},
    {"inbox", cmd_inbox, NEED_CONFIG | NEED_STORE, "token: a contact's token for the in-app inbox"},
    {"user", cmd_user, NEED_CONFIG | NEED_STORE, "add|list|remove|passwd users of the web console"},
    {"audit", cmd_audit, NEED_CONFIG | NEED_STORE, "actions: who did what, when, from where"},
    {"db", cmd_db, NEED_CONFIG, "copy: a whole store between SQLite and PostgreSQL"},
    {"nodes", cmd_nodes, NEED_CONFIG | NEED_STORE,
     "the dispatchers sharing this store: last beat, state, in flight"},
    /* no summary: hidden from --help; the shell completion scripts call it */
    {"complete", cmd_complete, 0, NULL},
};

static const char usage[] =
    "usage: herald [-c FILE] [--db PATH] [-v|-q] COMMAND [ARGS...]\n"
    "\n"
    "options:\n"
    "  -c, --config FILE  configuration file (default: $HERALD_CONFIG, else\n"
    "                     etc/herald.conf, else " HD_SYSCONF_PATH ",\n"
    "                     else built-in defaults)\n"
    "  --db PATH          database file, overriding the configuration\n"
    "  -v, --verbose      log debug lines;  -q, --quiet  log errors only\n"
    "  -h, --help         this help;  --version  the version\n"
    "\n"
    "commands (each takes --help):\n";

static void print_usage(FILE *out)
{
    fputs(usage, out);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (commands[i].summary)
            fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\nexit status: 0 success, 1 failure, 2 usage error, 3 the send ran but messages "
          "failed\n",
          out);
}

/* A bad global option or a missing command: one line and the pointer to
 * --help, exit 2. Returns -1. */
__attribute__((format(printf, 2, 3))) static int global_fail(int *rc, const char *fmt, ...)
{
    va_list ap;
    fputs("herald: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'herald --help'.\n", stderr);
    *rc = EXIT_USAGE;
    return -1;
}

/* The global options before the command: -c, --db, -v, -q. Returns the
 * index of the command, or -1 with *rc the exit code (after --help,
 * --version or a bad option). */
static int global_opts(int argc, char **argv, struct hd_ctx *ctx, const char **explicit_config,
                       int *level, int *rc)
{
    int i;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0 || strcmp(a, "--db") == 0) &&
            i + 1 == argc) {
            return global_fail(rc, "option '%s' needs a value", a);
        } else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
            *explicit_config = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            *explicit_config = a + 9;
        } else if ((strcmp(a, "--db") == 0 && i + 1 < argc) || strncmp(a, "--db=", 5) == 0) {
            ctx->db_override = a[4] == '=' ? a + 5 : argv[++i];
            const char *bad = hd_config_db_problem(ctx->db_override);
            if (bad) /* a password on a command line shows in ps */
                return global_fail(rc, "--db: %s", bad);
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            *level = HD_LOG_DEBUG;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            *level = HD_LOG_ERROR;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_usage(stdout);
            *rc = EXIT_OK;
            return -1;
        } else if (strcmp(a, "--version") == 0) {
            printf("herald %s\n", HD_VERSION);
            *rc = EXIT_OK;
            return -1;
        } else {
            return global_fail(rc, "unknown option '%.*s'", (int)strcspn(a, "="), a);
        }
    }
    return i;
}

/* The command argv[i] names ("help NAME" is "NAME --help"), or NULL with
 * *rc the exit code. */
static const struct command *find_command(int argc, char **argv, int i, int *rc)
{
    if (i == argc) {
        global_fail(rc, "give a command");
        return NULL;
    }
    if (strcmp(argv[i], "help") == 0) {
        if (i + 1 == argc) {
            print_usage(stdout);
            *rc = EXIT_OK;
            return NULL;
        }
        /* "herald help contacts" is "herald contacts --help" */
        static char help_flag[] = "--help";
        argv[i] = argv[i + 1];
        argv[i + 1] = help_flag;
    }
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (strcmp(argv[i], commands[k].name) == 0)
            return &commands[k];
    global_fail(rc, "unknown command '%s'", argv[i]);
    return NULL;
}

/* The clock, the logger, and the configuration and the store when the
 * command needs them (not for --help). A configuration or a database that
 * does not open is told only once the command line has parsed (cli_ready):
 * a bad option or --help never needs them. The store is opened here when
 * it can be, so that a handler finds it open even where it parses by hand;
 * with --help somewhere (perhaps an option's value) it waits for cli_ready. */
static int setup(struct hd_ctx *ctx, const struct command *cmd, bool wants_help,
                 const char *explicit_config, int level, struct hd_err *err)
{
    hd_log_init(&ctx->log, stderr, level >= 0 ? level : HD_LOG_INFO);
    ctx->log_level_fixed = level >= 0;
    if (hd_clock_init_env(&ctx->clock, err) < 0)
        return -1;
    ctx->log.clock = &ctx->clock;
    ctx->progress = isatty(STDERR_FILENO);
    hd_log_auto_colour(&ctx->log);
    ctx->config_path = hd_config_find(explicit_config, HD_SYSCONF_PATH);
    if ((cmd->flags & NEED_CONFIG) && !wants_help) {
        /* a file that does not load is reported once the command line
         * has parsed, so that a bad option is still a usage error; when
         * the built-in defaults do not load either (their secret file is
         * empty), the file's own error is the one told, not theirs (a
         * review saw the built-in one hide a bad line of the file) */
        if (hd_config_load(ctx->config_path, &ctx->cfg, err) < 0) {
            struct hd_err builtin = {0};
            cli_defer_error(ctx, err);
            if (hd_config_load(NULL, &ctx->cfg, &builtin) < 0)
                return -1;
        }
        if (level < 0)
            ctx->log.level = ctx->cfg->log_level;
        hd_log_use_journal(&ctx->log, ctx->cfg->log_journal);
        hd_config_register_secrets(ctx->cfg, &ctx->log);
    }
    if ((cmd->flags & NEED_STORE) && wants_help) {
        cli_defer_store(ctx);
    } else if (cmd->flags & NEED_STORE) {
        struct hd_err serr = {0};
        if (cmd_open_store(ctx, &serr) < 0)
            cli_defer_error(ctx, &serr);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct hd_ctx ctx = {0};
    struct hd_err err = {0};
    const char *explicit_config = NULL;
    int level = -1, i, rc = EXIT_FAIL;

#ifdef __GLIBC__
    /* SQLite allocates and frees a buffer that grows with the database for
     * every statement in a long transaction; with glibc's default trim
     * threshold each free shrinks the heap and the next malloc grows it
     * again, and a 1,000,000-row import spent most of its time in brk(). */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_TOP_PAD, 1 << 20);
#endif

    if ((i = global_opts(argc, argv, &ctx, &explicit_config, &level, &rc)) < 0)
        return rc;
    const struct command *cmd = find_command(argc, argv, i, &rc);
    if (!cmd)
        return rc;
    bool wants_help = false;
    for (int k = i + 1; k < argc; k++)
        wants_help |= strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0;
    if (setup(&ctx, cmd, wants_help, explicit_config, level, &err) < 0)
        rc = cmd_fail(&ctx, &err);
    else
        rc = cmd->fn(&ctx, argc - i, argv + i);
    hd_store_free(ctx.store);
    hd_config_free(ctx.cfg);
    hd_log_release(&ctx.log);
    return rc;
}
