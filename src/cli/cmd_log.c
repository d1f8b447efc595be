/* cmd_log: herald log (the delivery log, filtered, streamed as a table, CSV
 * or JSON Lines) and herald log prune (old rows into per-campaign totals).
 * The row printers are shared with herald history. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "herald/audit.h"
#include "herald/buf.h"
#include "herald/progress.h"
#include "herald/state.h"
#include "herald/store.h"
#include "herald/units.h"

static const char log_usage[] =
    "usage: herald log [FILTERS] [--limit N] [--oldest-first]\n"
    "                  [--format table|csv|json|jsonl]\n"
    "       herald log prune --older-than DURATION [--batch N]\n"
    "\n"
    "The delivery log: every attempt and every decision that stopped or delayed a\n"
    "message, newest first, streamed (millions of rows do not grow memory).\n"
    "\n"
    "filters (together: all must hold):\n"
    "  --campaign NAME    one campaign            --run N        its run N (1, 2, ...)\n"
    "  --contact ID       one contact (external id, or deleted-N for a deleted one)\n"
    "  --channel email|sms|push|inbox|wechat      --provider NAME\n"
    "  --outcome accepted|temporary|permanent|throttled|skipped|receipt\n"
    "  --reason WORD      capped, quiet_hours, held_out, no_address, opted_out,\n"
    "                     suppressed, expired, bad_address, http_503, smtp_550, ...\n"
    "  --since T, --until T   ISO 8601 time or date, or a duration ago (2h, 7d)\n"
    "\n"
    "  --limit N          at most N rows (default 100 for a table, all for csv, json\n"
    "                     and jsonl; 0: all)\n"
    "  --oldest-first     time order instead of newest first\n"
    "  --format           table (default), csv (RFC 4180, with a header), json (one\n"
    "                     array) or jsonl (one object a line)\n"
    "\n"
    "prune: removes rows older than DURATION (180d) and keeps their counts in\n"
    "per-campaign totals, so herald stats still answers for old campaigns;\n"
    "--batch rows per transaction (default 100000).\n";

/* ---- printing rows ------------------------------------------------------------------------ */

void cmd_log_begin(struct cmd_log_out *o, int format)
{
    memset(o, 0, sizeof *o);
    o->format = format;
    hd_buf_init(&o->line);
    if (format == FMT_CSV) {
        hd_audit_log_csv_header(&o->line);
        fwrite(o->line.data, 1, o->line.len, stdout);
    } else if (format == FMT_JSON) {
        fputs("[", stdout);
    } else if (format == FMT_TABLE) {
        printf("%-24s %-12s %-12s %-3s %-6s %-10s %-9s %-13s %s\n", "TIME", "CAMPAIGN", "CONTACT",
               "#", "CHAN", "PROVIDER", "OUTCOME", "REASON", "DETAIL");
    }
}

json_t *cmd_log_json(const struct hd_log_row *r)
{
    return hd_audit_log_json(r);
}

int cmd_log_row(void *ud, const struct hd_log_row *r)
{
    struct cmd_log_out *o = ud;
    struct hd_audit_log_cells c;
    o->n++;
    if (o->format == FMT_TABLE) {
        char at[40], code[16] = "";
        hd_audit_time_ms(r->at_ms, at, sizeof at);
        if (r->code)
            snprintf(code, sizeof code, "%d ", r->code);
        printf("%-24s %-12s %-12s %-3d %-6s %-10s %-9s %-13s %s%s\n", at, r->campaign, r->contact,
               r->attempt, r->channel ? r->channel : "-", r->provider ? r->provider : "-",
               r->outcome, r->reason ? r->reason : "-", code, r->text ? r->text : "");
        return 0;
    }
    hd_audit_log_cells(r, &c);
    hd_buf_reset(&o->line);
    if (o->format == FMT_CSV) {
        hd_audit_log_csv_row(&o->line, &c, false);
    } else {
        hd_buf_adds(&o->line, o->format == FMT_JSON && o->n > 1 ? ",\n" : "");
        hd_audit_log_object(&o->line, &c);
        hd_buf_adds(&o->line, o->format == FMT_JSON ? "" : "\n");
    }
    fwrite(o->line.data, 1, o->line.len, stdout);
    return 0;
}

void cmd_log_end(struct cmd_log_out *o)
{
    if (o->format == FMT_JSON)
        fputs("]\n", stdout);
    hd_buf_release(&o->line);
    fflush(stdout);
}

/* ---- herald log ---------------------------------------------------------------------------- */

int cmd_parse_when(struct hd_ctx *ctx, const char *s, int64_t *ms)
{
    int64_t secs;
    if (hd_time_parse_iso_ms(s, ms, NULL) == 0) /* to the millisecond log prints */
        return 0;
    if (hd_units_duration(s, &secs, NULL) == 0) {
        *ms = (hd_clock_now(&ctx->clock) - secs) * 1000;
        return 0;
    }
    return -1;
}

static void prune_progress(void *ud, int64_t done)
{
    hd_progress_update(ud, (uint64_t)done, (uint64_t)done);
}

struct prune_args {
    int64_t age;
    long long batch;
};

static int prune_opt(void *ud, int id, const char *arg)
{
    struct prune_args *a = ud;
    struct hd_err err = {0};
    if (id == 'o') {
        if (hd_units_duration(arg, &a->age, &err) < 0)
            return cmd_usage("log prune", log_usage, "--older-than: %s", err.msg);
        return 0;
    }
    if ((a->batch = cmd_parse_count(arg)) <= 0)
        return cmd_usage("log prune", log_usage, "--batch: '%s' is not a count", arg);
    return 0;
}

static int log_prune(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"older-than", true, 'o', 0}, {"batch", true, 'b', 0}, {0}};
    static const struct cli_spec spec = {"log prune", log_usage, opts, 0, NULL, NULL};
    struct prune_args a = {.age = -1, .batch = 100000};
    struct hd_err err = {0};
    int rc, i = cli_parse(&spec, argc, argv, prune_opt, &a, &rc);
    if (i < 0)
        return rc;
    if (i != argc)
        return cmd_usage("log prune", log_usage, "unexpected argument '%s'", argv[i]);
    if (a.age < 0)
        return cmd_usage("log prune", log_usage, "--older-than is required (e.g. 180d)");
    int64_t cutoff = (hd_clock_now(&ctx->clock) - a.age) * 1000, n = 0;
    struct hd_progress p;
    hd_progress_init(&p, ctx->progress, stderr, "rows", 0);
    rc = hd_store_log_prune(ctx->store, cutoff, a.batch, prune_progress, &p, &n, &err);
    hd_progress_finish(&p);
    if (rc < 0)
        return cmd_fail(ctx, &err);
    char when[32];
    hd_time_format_iso(cutoff / 1000, when, sizeof when);
    printf("pruned %lld log rows from before %s; their counts stay in the campaign totals\n",
           (long long)n, when);
    return EXIT_OK;
}

enum { O_CAMPAIGN = 256, O_RUN, O_CONTACT, O_CHANNEL, O_PROVIDER, O_OUTCOME, O_REASON };

struct log_args {
    struct hd_ctx *ctx;
    struct hd_log_filter f;
    const char *campaign, *contact;
    long long limit, run;
    int format;
};

/* The filters with a value to check. */
static int filter_opt(struct log_args *a, int id, const char *arg)
{
    switch (id) {
    case O_RUN:
        if ((a->run = cmd_parse_count(arg)) <= 0)
            return cmd_usage("log", log_usage, "--run: '%s' is not a run number", arg);
        return 0;
    case O_CHANNEL:
        if (hd_channel_parse(arg) < 0)
            return cmd_usage("log", log_usage,
                             "--channel: '%s' is not email, sms, push, inbox or wechat", arg);
        a->f.channel = arg;
        return 0;
    case O_OUTCOME:
        if (!(a->f.outcome = hd_log_outcome(arg)))
            return cmd_usage("log", log_usage,
                             "--outcome: '%s' is not accepted, temporary, permanent, "
                             "throttled, skipped or receipt",
                             arg);
        return 0;
    default: /* 's', 'u' */
        if (cmd_parse_when(a->ctx, arg, id == 's' ? &a->f.since_ms : &a->f.until_ms) < 0)
            return cmd_usage("log", log_usage,
                             "--%s: '%s' is neither an ISO 8601 time nor a duration",
                             id == 's' ? "since" : "until", arg);
        return 0;
    }
}

static int log_opt(void *ud, int id, const char *arg)
{
    struct log_args *a = ud;
    switch (id) {
    case O_CAMPAIGN:
        a->campaign = arg;
        return 0;
    case O_CONTACT:
        a->contact = arg;
        return 0;
    case O_PROVIDER:
        a->f.provider = arg;
        return 0;
    case O_REASON:
        a->f.reason = arg;
        return 0;
    case 'n':
        if ((a->limit = cmd_parse_count(arg)) < 0)
            return cmd_usage("log", log_usage, "--limit: '%s' is not a count", arg);
        return 0;
    case 'o':
        a->f.oldest_first = true;
        return 0;
    case 'f':
        return cmd_format_arg("log", arg, FMTS_ALL, &a->format);
    default:
        return filter_opt(a, id, arg);
    }
}

int cmd_log(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"campaign", true, O_CAMPAIGN, 0},
                                          {"run", true, O_RUN, 0},
                                          {"contact", true, O_CONTACT, 0},
                                          {"channel", true, O_CHANNEL, 0},
                                          {"provider", true, O_PROVIDER, 0},
                                          {"outcome", true, O_OUTCOME, 0},
                                          {"reason", true, O_REASON, 0},
                                          {"since", true, 's', 0},
                                          {"until", true, 'u', 0},
                                          {"limit", true, 'n', 0},
                                          {"oldest-first", false, 'o', 0},
                                          {"format", true, 'f', 0},
                                          {0}};
    static const struct cli_spec spec = {"log", log_usage, opts, 0, NULL, NULL};
    if (argc > 1 && strcmp(argv[1], "prune") == 0)
        return log_prune(ctx, argc - 1, argv + 1);
    struct log_args a = {.ctx = ctx, .limit = -1, .format = FMT_TABLE};
    struct hd_err err = {0};
    int rc, i = cli_parse_n(&spec, 0, "", argc, argv, log_opt, &a, &rc);
    if (i < 0)
        return rc;
    if (!ctx->store)
        return cmd_help(log_usage);
    if (hd_log_filter_resolve(ctx->store, a.campaign, a.run, a.contact, &a.f, &err) < 0)
        return err.code == HD_E_USAGE ? cmd_usage("log", log_usage, "%s", err.msg)
                                      : cmd_fail(ctx, &err);
    a.f.limit = a.limit >= 0 ? a.limit : a.format == FMT_TABLE ? 100 : 0;
    struct cmd_log_out o;
    cmd_log_begin(&o, a.format);
    rc = hd_store_log_query(ctx->store, &a.f, cmd_log_row, &o, &err);
    cmd_log_end(&o);
    return rc < 0 ? cmd_fail(ctx, &err) : EXIT_OK;
}
