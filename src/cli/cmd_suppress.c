/* cmd_suppress: `herald suppress add|remove|list|import`. Addresses are
 * stored in their normal form (see suppress.h), so "Ann@Example.com" and
 * "ann@example.com" are one suppression; import reads a bulk list, all or
 * nothing (hd_suppress_import). */
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "herald/store.h"
#include "herald/suppress.h"

static const char suppress_usage[] =
    "usage: herald suppress add ADDRESS [--reason R] [--channel email|sms|push|wechat]\n"
    "                                   [--default-region CC]\n"
    "       herald suppress remove ADDRESS [--channel email|sms|push|wechat]\n"
    "                                      [--default-region CC]\n"
    "       herald suppress import FILE|- [--reason R] [--default-region CC] [--encoding ENC]\n"
    "       herald suppress list [--channel email|sms|push|wechat]\n"
    "                            [--format table|csv|json|jsonl]\n"
    "\n"
    "ADDRESS is an email address, a phone number (normalised to E.164), a push\n"
    "token or a WeChat openid (--channel wechat); the channel is guessed from its\n"
    "form unless --channel is given; remove --channel takes off only a suppression\n"
    "on that channel.\n"
    "R is a word such as unsubscribed, hard_bounce, complaint, invalid_number,\n"
    "unregistered_token, invalid_openid (default: manual). No message goes to a\n"
    "suppressed address.\n"
    "A national phone number is read in --default-region (default: default_region).\n"
    "An ADDRESS starting with '-' goes after '--': herald suppress add -- -token.\n"
    "import reads CSV with a header of address, channel, reason (channel and reason\n"
    "optional); every bad line is listed and nothing is written if any is bad.\n";

static const char *const list_cols[] = {"address",    "channel", "reason", "created_at",
                                        "message_id", "detail",  NULL};

/* The table's columns: SINCE takes a space more, two before WHY. */
static const struct cmd_col list_table[] = {
    {40, false}, {7, false}, {20, false}, {21, false}, {0, false}};

static int list_row(void *ud, const struct hd_suppression *s)
{
    struct cmd_out *o = ud;
    char t[32];
    cmd_time(s->created_at, t, sizeof t);
    if (o->format == FMT_TABLE) {
        const char *cells[] = {s->address, hd_channel_name(s->channel), s->reason, t, s->detail};
        hd_buf_reset(&o->line);
        cmd_row(&o->line, list_table, 5, cells);
        fputs(o->line.data, stdout);
    } else
        cmd_out_row(o,
                    json_pack("{s:s, s:s, s:s, s:s, s:o, s:s?}", "address", s->address, "channel",
                              hd_channel_name(s->channel), "reason", s->reason, "created_at", t,
                              "message_id", s->message ? json_integer(s->message) : json_null(),
                              "detail", s->detail));
    return 0;
}

struct suppress_args {
    const char *reason, *region, *encoding;
    int channel, format;
};

static int suppress_opt(void *ud, int id, const char *arg)
{
    struct suppress_args *a = ud;
    switch (id) {
    case 'r':
        if (!hd_suppress_reason_valid(arg))
            return cmd_usage("suppress", suppress_usage,
                             "--reason: '%s' should be a word of a-z, 0-9, '_' or '-'", arg);
        a->reason = arg;
        return 0;
    case 'c':
        if ((a->channel = hd_channel_parse(arg)) < 0)
            return cmd_usage("suppress", suppress_usage,
                             "--channel: '%s' is not email, sms, push or wechat", arg);
        if (a->channel == HD_CH_INBOX) /* its address is the contact: consent rules it */
            return cmd_usage("suppress", suppress_usage,
                             "--channel: the inbox has no address to suppress (opt the contact "
                             "out: herald contacts optout ID --channel inbox)");
        return 0;
    case 'R':
        return cmd_region_opt("suppress", suppress_usage, arg, &a->region);
    case 'e':
        a->encoding = arg;
        return 0;
    default: /* 'f' */
        return cmd_format_arg("suppress list", arg, FMTS_ALL, &a->format);
    }
}

static int list_cmd(struct hd_ctx *ctx, const struct suppress_args *a, int nargs, char **args)
{
    struct hd_err err = {0};
    if (nargs)
        return cmd_usage("suppress list", suppress_usage, "unexpected argument '%s'", args[0]);
    struct cmd_out o;
    cmd_out_begin(&o, a->format, list_cols);
    if (a->format == FMT_TABLE) {
        static const char *const head[] = {"ADDRESS", "CHANNEL", "REASON", "SINCE", "WHY"};
        cmd_row(&o.line, list_table, 5, head);
        fputs(o.line.data, stdout);
    }
    int rc = hd_store_suppress_each(ctx->store, a->channel, list_row, &o, &err);
    cmd_out_end(&o);
    return rc < 0 ? cmd_fail(ctx, &err) : EXIT_OK;
}

/* add and remove: the address in its normal form, then the change. */
static int change_cmd(struct hd_ctx *ctx, const char *sub, const struct suppress_args *a,
                      const char *address)
{
    struct hd_err err = {0};
    char norm[4200];
    char why[4400];
    struct hd_valid *v = hd_valid_new();
    int ch;
    bool bad = hd_suppress_why(v, address, a->channel, a->region, "--default-region", &ch, norm,
                               sizeof norm, why, sizeof why) != NULL;
    hd_valid_free(v);
    if (bad) {
        hd_err_set(&err, HD_E_INVALID, "%s", why);
        return cmd_fail(ctx, &err);
    }
    if (strcmp(sub, "add") == 0) {
        struct hd_suppression s = {.address = norm,
                                   .channel = ch,
                                   .reason = a->reason,
                                   .created_at = hd_clock_now(&ctx->clock)};
        if (hd_store_suppress_add(ctx->store, &s, &err) < 0)
            return cmd_fail(ctx, &err);
        printf("suppressed %s address '%s' (%s)\n", hd_channel_name(ch), norm, a->reason);
    } else {
        /* with --channel, only that channel's: an openid suppressed for
         * wechat is not push's to take off */
        if (hd_store_suppress_remove(ctx->store, norm, a->channel, &err) < 0)
            return cmd_fail(ctx, &err);
        printf("removed '%s' from the suppression list\n", norm);
    }
    return EXIT_OK;
}

static int import_cmd(struct hd_ctx *ctx, const struct suppress_args *a, int nargs, char **args)
{
    struct hd_err err = {0};
    struct hd_suppress_import_result res;
    if (nargs != 1)
        return cmd_usage("suppress import", suppress_usage, "give one FILE (or - for stdin)");
    if (a->channel >= 0)
        return cmd_usage("suppress import", suppress_usage,
                         "--channel: give each row's channel in a channel column (or leave it "
                         "empty to infer it from the address)");
    struct hd_suppress_import_opts o = {.path = args[0],
                                        .encoding = a->encoding,
                                        .default_region = a->region,
                                        .reason = a->reason,
                                        .msgs = stderr,
                                        .region_hint = "--default-region",
                                        .encoding_hint = "--encoding",
                                        .progress = ctx->progress};
    int rc = hd_suppress_import(ctx->store, &o, hd_clock_now(&ctx->clock), &res, &err);
    if (rc < 0 && rc != HD_E_INVALID)
        return cmd_fail(ctx, &err);
    printf("%s: %lld row%s, %lld suppressed, %lld rejected\n",
           strcmp(args[0], "-") == 0 ? "stdin" : args[0], (long long)res.rows,
           res.rows == 1 ? "" : "s", (long long)res.suppressed, (long long)res.rejected);
    return rc < 0 ? cmd_fail(ctx, &err) : EXIT_OK;
}

int cmd_suppress(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"reason", true, 'r', 0},         {"channel", true, 'c', 0},  {"format", true, 'f', 0},
        {"default-region", true, 'R', 0}, {"encoding", true, 'e', 0}, {0}};
    static const struct cli_spec spec = {"suppress", suppress_usage, opts, 0, NULL, NULL};
    struct suppress_args a = {.reason = "manual",
                              .region = ctx->cfg ? ctx->cfg->default_region : NULL,
                              .channel = -1,
                              .format = FMT_TABLE};
    if (argc < 2)
        return cmd_usage("suppress", suppress_usage,
                         "give a subcommand: add, remove, list or import");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        return cmd_help(suppress_usage);
    if (sub[0] == '-') /* before the parse, which takes argv[1] for a name */
        return cmd_usage("suppress", suppress_usage, "unknown subcommand '%s'", sub);
    int rc, i = cli_parse(&spec, argc - 1, argv + 1, suppress_opt, &a, &rc);
    if (i < 0)
        return rc;
    if (!ctx->store)
        return cmd_help(suppress_usage);
    int nargs = argc - 1 - i;
    char **args = argv + 1 + i;
    if (strcmp(sub, "list") == 0)
        return list_cmd(ctx, &a, nargs, args);
    if (strcmp(sub, "import") == 0)
        return import_cmd(ctx, &a, nargs, args);
    if (strcmp(sub, "add") != 0 && strcmp(sub, "remove") != 0)
        return cmd_usage("suppress", suppress_usage, "unknown subcommand '%s'", sub);
    if (nargs != 1)
        return cmd_usage("suppress", suppress_usage, "give one ADDRESS");
    return change_cmd(ctx, sub, &a, args[0]);
}
