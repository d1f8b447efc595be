/* cmd_log: herald log, the delivery log as it is written: one line per
 * attempt and per decision (held out, capped, quiet hours, ...), oldest
 * first, for every campaign or one. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "herald/store.h"

static const char log_usage[] =
    "usage: herald log [--campaign NAME] [--tail N] [--format table|json]\n"
    "\n"
    "The delivery log: every attempt and every decision that stopped or delayed a\n"
    "message, with its time, campaign, contact, channel, provider, address, outcome,\n"
    "the gateway's code and words (or the reason), and the gateway's message id.\n"
    "\n"
    "  --campaign NAME  only this campaign's messages\n"
    "  --tail N         the last N rows (default 20; 0 for all)\n"
    "  --format         table (default) or json (an array)\n";

struct out {
    int format;
    json_t *arr;
};

static int row(void *ud, const struct hd_log_row *r)
{
    struct out *o = ud;
    char t[32];
    cmd_time(r->at_ms / 1000, t, sizeof t);
    if (o->format == FMT_JSON) {
        json_t *j = json_pack("{s:I, s:I, s:i, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s, "
                              "s:s?, s:s?}",
                              "id", (json_int_t)r->id, "message", (json_int_t)r->message, "attempt",
                              r->attempt, "at", t, "campaign", r->campaign, "contact", r->contact,
                              "variant", r->variant, "channel", r->channel, "provider", r->provider,
                              "address", r->address, "outcome", r->outcome, "text", r->text,
                              "gateway_id", r->gateway_id);
        if (r->code)
            json_object_set_new(j, "code", json_integer(r->code));
        json_array_append_new(o->arr, j);
        return 0;
    }
    char code[16] = "";
    if (r->code)
        snprintf(code, sizeof code, "%d ", r->code);
    printf("%s  %-12s %-8s #%d %-6s %-8s %-28.28s %-13s %s%s\n", t, r->campaign,
           r->contact ? r->contact : "-", r->attempt, r->channel ? r->channel : "-",
           r->provider ? r->provider : "-", r->address ? r->address : "-", r->outcome, code,
           r->text ? r->text : "");
    return 0;
}

int cmd_log(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"campaign", required_argument, NULL, 'c'},
                                         {"tail", required_argument, NULL, 'n'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    const char *campaign = NULL;
    long long tail = 20;
    struct out o = {.format = FMT_TABLE};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            campaign = optarg;
            break;
        case 'n':
            if ((tail = cmd_parse_count(optarg)) < 0)
                return cmd_usage("log", log_usage, "--tail: '%s' is not a count", optarg);
            break;
        case 'f':
            o.format = cmd_parse_format(optarg, true);
            if (o.format != FMT_TABLE && o.format != FMT_JSON)
                return cmd_usage("log", log_usage, "--format: '%s' is not table or json", optarg);
            break;
        case 'h':
            return cmd_help(log_usage);
        default:
            return cmd_usage("log", log_usage, "bad option");
        }
    }
    if (optind != argc)
        return cmd_usage("log", log_usage, "unexpected argument '%s'", argv[optind]);
    if (!ctx->store)
        return cmd_help(log_usage);
    struct hd_err err = {0};
    struct hd_campaign camp = {0};
    if (campaign && hd_store_campaign_get(ctx->store, campaign, 0, &camp, &err) < 0)
        return cmd_fail(ctx, &err);
    o.arr = json_array();
    int rc = EXIT_OK;
    if (hd_store_log_tail(ctx->store, camp.id, tail, row, &o, &err) < 0)
        rc = cmd_fail(ctx, &err);
    else if (o.format == FMT_JSON)
        cmd_print_json(o.arr, true);
    json_decref(o.arr);
    hd_campaign_release(&camp);
    return rc;
}
