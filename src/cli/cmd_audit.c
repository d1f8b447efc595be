/* cmd_audit: `herald audit actions`, what people did (issue 21): console
 * logins, failed logins and logouts, user changes made here, and every
 * operator's and admin's action on the console; newest first, filtered by
 * --who, --action, --since and --until (the console's audit page passes
 * the same filter to the same store function), in every --format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "herald/store.h"
#include "herald/time.h"

static const char audit_usage[] =
    "usage: herald audit actions [--who NAME] [--action ACTION] [--since TIME]\n"
    "                            [--until TIME] [--limit N] [--format table|csv|json|jsonl]\n"
    "\n"
    "What people did, newest first: who (a console user, the name typed at a\n"
    "failed login, or the login name that ran a command), the action (login,\n"
    "login_failed, logout, user_add, user_role, user_passwd, user_remove,\n"
    "apikey_create, apikey_revoke and the console's campaign and contact\n"
    "actions), its detail, and from where (the client's address, or cli).\n"
    "--who and --action keep those exactly; --since (at or after) and --until\n"
    "(before) take an ISO 8601 time or a duration ago (2h, 7d); --limit\n"
    "defaults to 100 (0: all). The console's audit page lists the same.\n";

static const char *const cols[] = {"at", "who", "action", "detail", "from", NULL};

struct audit_args {
    struct hd_ctx *ctx;
    int format;
    struct hd_action_filter f;
};

static int audit_opt(void *ud, int id, const char *arg)
{
    struct audit_args *a = ud;
    char *end;
    int64_t ms;
    if (id == 's' || id == 'u') {
        if (cmd_parse_when(a->ctx, arg, &ms) < 0)
            return cmd_usage("audit actions", audit_usage,
                             "--%s: '%s' is neither an ISO 8601 time nor a duration",
                             id == 's' ? "since" : "until", arg);
        *(id == 's' ? &a->f.since : &a->f.until) = ms / 1000;
    } else if (id == 'w') {
        a->f.who = arg;
    } else if (id == 'a') {
        a->f.action = arg;
    } else if (id == 'l') {
        long long n = strtoll(arg, &end, 10);
        if (end == arg || *end || n < 0)
            return cmd_usage("audit actions", audit_usage, "--limit: '%s' is not a number of rows",
                             arg);
        a->f.limit = n;
    } else {
        return cmd_format_arg("audit actions", arg, FMTS_ALL, &a->format);
    }
    return 0;
}

static int row(void *ud, const struct hd_action *x)
{
    struct cmd_out *o = ud;
    char t[32];
    cmd_time(x->at, t, sizeof t);
    if (o->format == FMT_TABLE)
        printf("%-20s %-20s %-16s %-20s %s\n", t, x->who, x->action, x->detail ? x->detail : "-",
               x->addr ? x->addr : "-");
    else
        cmd_out_row(o, json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "at", t, "who", x->who, "action",
                                 x->action, "detail", x->detail, "from", x->addr));
    return 0;
}

int cmd_audit(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"since", true, 's', 0},
                                          {"until", true, 'u', 0},
                                          {"who", true, 'w', 0},
                                          {"action", true, 'a', 0},
                                          {"limit", true, 'l', 0},
                                          {"format", true, 'f', 0},
                                          {0}};
    static const struct cli_spec spec = {"audit actions", audit_usage, opts, 0, NULL, NULL};
    struct audit_args a = {.ctx = ctx, .format = FMT_TABLE, .f.limit = 100};
    struct hd_err err = {0};
    struct cmd_out o;
    static const char *const subs[] = {"actions", NULL};
    int rc;
    if (cmd_subcommand("audit", audit_usage, subs, argc, argv, &rc) < 0)
        return rc;
    int i = cli_parse_n(&spec, 0, NULL, argc - 1, argv + 1, audit_opt, &a, &rc);
    if (i < 0)
        return rc;
    if (!ctx->store)
        return cmd_help(audit_usage);
    cmd_out_begin(&o, a.format, cols);
    if (a.format == FMT_TABLE)
        printf("%-20s %-20s %-16s %-20s %s\n", "AT", "WHO", "ACTION", "DETAIL", "FROM");
    rc = hd_store_action_each(ctx->store, &a.f, row, &o, &err);
    cmd_out_end(&o);
    return rc < 0 ? cmd_fail(ctx, &err) : EXIT_OK;
}
