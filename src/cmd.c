/* cmd: helpers the subcommands share: error and usage reporting, option
 * values, output formats, and opening the store. */
#include "cmd.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "herald/store.h"

int cmd_fail(struct hd_ctx *ctx, const struct hd_err *err)
{
    (void)ctx;
    fprintf(stderr, "herald: %s\n", err->msg[0] ? err->msg : "failed");
    return err->code == HD_E_USAGE ? EXIT_USAGE : EXIT_FAIL;
}

int cmd_usage(const char *cmd, const char *use, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "herald %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", use);
    return EXIT_USAGE;
}

int cmd_help(const char *use)
{
    fputs(use, stdout);
    return EXIT_OK;
}

int cmd_parse_format(const char *s, bool allow_table)
{
    if (allow_table && strcmp(s, "table") == 0)
        return FMT_TABLE;
    if (strcmp(s, "csv") == 0)
        return FMT_CSV;
    if (strcmp(s, "json") == 0)
        return FMT_JSON;
    return -1;
}

long long cmd_parse_count(const char *s)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    long long v = strtoll(s, &end, 10);
    return *end ? -1 : v;
}

const char *cmd_time(long long t, char *buf, unsigned size)
{
    hd_time_format_iso(t, buf, size);
    return buf;
}

const char *hd_ctx_db_path(const struct hd_ctx *ctx)
{
    return ctx->db_override ? ctx->db_override : ctx->cfg ? ctx->cfg->database : "var/herald.db";
}

int cmd_open_store(struct hd_ctx *ctx, struct hd_err *err)
{
    struct hd_store_opts opts = {.busy_timeout_ms = ctx->cfg ? ctx->cfg->busy_timeout * 1000 : 0};
    return hd_store_open(hd_ctx_db_path(ctx), &opts, &ctx->store, err);
}
