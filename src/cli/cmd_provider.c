/* cmd_provider: `herald provider list` shows each provider, its rate and
 * connections, the channels it carries and whether its driver opens (which
 * loads its credentials and TLS settings); `herald provider test` sends one
 * message through a provider (hd_probe_init and hd_probe_send, in
 * dispatch/probe.c) and prints what the gateway said. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "herald/dispatch.h"
#include "herald/driver.h"
#include "herald/store.h"

static const char provider_usage[] =
    "usage: herald provider list [--format table|csv|json|jsonl]\n"
    "       herald provider test NAME --to ADDRESS [--template T] [--contact ID]\n"
    "                            [--channel email|sms|push|wechat] [--variant V]\n"
    "\n"
    "list  every configured provider: type, rate, connections, the channels it\n"
    "      carries, and whether its driver starts (credentials, TLS files)\n"
    "test  sends one message through NAME to ADDRESS and prints the result class,\n"
    "      the gateway's code, text and message id, and the latency. Without\n"
    "      --template it sends a short built-in test message; with --contact the\n"
    "      template is rendered for that stored contact, otherwise with the\n"
    "      template variables only (missing variables render empty).\n"
    "      Exit status 0 when the gateway accepted the message, 1 otherwise.\n";

static void channels_of(const struct hd_config *cfg, const char *name, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int ch = 0; ch < HD_CH_COUNT; ch++)
        for (size_t i = 0; i < cfg->channels[ch].n; i++)
            if (strcmp(cfg->channels[ch].providers[i], name) == 0)
                n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? "," : "", hd_channel_name(ch));
    if (!n)
        snprintf(buf, size, "-");
}

static int list_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const char *const cols[] = {"name",     "type",   "rate", "connections",
                                       "channels", "status", NULL};
    int format, rc;
    if (cli_parse_format("provider list", provider_usage, 0, "", argc, argv, &format, &rc) < 0)
        return rc;
    struct cmd_out o;
    cmd_out_begin(&o, format, cols);
    if (format == FMT_TABLE)
        printf("%-16s %-11s %-10s %-6s %-16s %s\n", "NAME", "TYPE", "RATE", "CONNS", "CHANNELS",
               "STATUS");
    rc = EXIT_OK;
    for (size_t i = 0; i < ctx->cfg->nproviders; i++) {
        const struct hd_provider_cfg *p = &ctx->cfg->providers[i];
        char rate[32], chans[64], status[1100];
        struct hd_err err = {0};
        struct hd_driver *d = NULL;
        hd_units_format_rate(&p->rate, rate, sizeof rate);
        channels_of(ctx->cfg, p->name, chans, sizeof chans);
        if (hd_driver_open(p, &ctx->log, &d, &err) < 0) {
            snprintf(status, sizeof status, "error: %s", err.msg);
            rc = EXIT_FAIL;
        } else {
            snprintf(status, sizeof status, "ok%s", p->nsecrets ? ", credentials loaded" : "");
        }
        hd_driver_free(d);
        if (format == FMT_TABLE)
            printf("%-16s %-11s %-10s %-6u %-16s %s\n", p->name, p->type, rate, p->connections,
                   chans, status);
        else
            cmd_out_row(&o,
                        json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "name", p->name, "type",
                                  p->type, "rate", rate, "connections", (json_int_t)p->connections,
                                  "channels", chans, "status", status));
    }
    cmd_out_end(&o);
    return rc;
}

struct test_args {
    const char *to, *tname, *contact, *variant;
    int channel;
};

static int test_opt(void *ud, int id, const char *arg)
{
    struct test_args *a = ud;
    switch (id) {
    case 't':
        a->to = arg;
        break;
    case 'T':
        a->tname = arg;
        break;
    case 'c':
        a->contact = arg;
        break;
    case 'v':
        a->variant = arg;
        break;
    default: /* 'C' */
        if ((a->channel = hd_channel_parse(arg)) < 0)
            return cmd_usage("provider test", provider_usage,
                             "--channel: '%s' is not email, sms, push or wechat", arg);
    }
    return 0;
}

/* What the gateway said about the address goes into the audience, as a
 * campaign's result would. */
static int test_feedback(struct hd_ctx *ctx, const struct test_args *a, const struct hd_probe *p,
                         const struct hd_result *r, struct hd_err *err)
{
    if (!r->bad_address && !(r->opted_out && a->contact))
        return 0;
    if (cmd_open_store(ctx, err) < 0 ||
        hd_feedback_apply(ctx->store, ctx->cfg->receipts.bounce_rules, a->contact, 0, p->channel,
                          p->address, r, hd_clock_now(&ctx->clock), err) < 0)
        return -1;
    if (r->bad_address)
        printf("suppressed  %s (%s)\n", p->address, hd_channel_name(p->channel));
    if (r->opted_out && a->contact)
        printf("consent     %s %s: opted out (gateway)\n", a->contact, hd_channel_name(p->channel));
    return 0;
}

static int test_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"to", true, 't', 0},      {"template", true, 'T', 0},
                                          {"contact", true, 'c', 0}, {"channel", true, 'C', 0},
                                          {"variant", true, 'v', 0}, {0}};
    static const struct cli_spec spec = {"provider test", provider_usage, opts, 0, NULL, NULL};
    struct test_args a = {.channel = -1};
    int rc, i = cli_parse_n(&spec, 1, "give a provider NAME and --to ADDRESS", argc, argv, test_opt,
                            &a, &rc);
    if (i < 0)
        return rc;
    if (i + 1 != argc || !a.to)
        return cmd_usage("provider test", provider_usage, "give a provider NAME and --to ADDRESS");
    struct hd_err err = {0};
    struct hd_probe p;
    struct hd_contact k = {0};
    struct hd_probe_text t = {a.tname, a.variant, a.contact ? &k : NULL, hd_clock_now(&ctx->clock)};
    struct hd_probe_result res;
    if (hd_probe_init(ctx->cfg, argv[i], a.to, a.channel, &p, &err) < 0 ||
        (a.contact && (cmd_open_store(ctx, &err) < 0 ||
                       hd_store_contact_get(ctx->store, a.contact, &k, &err) < 0)) ||
        hd_probe_send(ctx->cfg, &ctx->log, &p, &t, &res, &err) < 0) {
        rc = cmd_fail(ctx, &err);
        goto out;
    }
    const struct hd_result *r = &res.r;
    printf("result      %s%s%s\ncode        %d\ntext        %s\ngateway id  %s\nlatency     "
           "%lld ms\nmessage id  %s\n",
           hd_outcome_name(r->outcome), r->bad_address ? " (bad address)" : "",
           r->opted_out ? " (opted out)" : "", r->code, r->text,
           r->gateway_id[0] ? r->gateway_id : "-", (long long)r->latency_ms, res.id);
    rc = r->outcome == HD_OUT_ACCEPTED ? EXIT_OK : EXIT_FAIL;
    if (test_feedback(ctx, &a, &p, r, &err) < 0)
        rc = cmd_fail(ctx, &err);
out:
    hd_contact_release(&k);
    return rc;
}

int cmd_provider(struct hd_ctx *ctx, int argc, char **argv)
{
    static const char *const subs[] = {"list", "test", NULL};
    int rc, sub = cmd_subcommand("provider", provider_usage, subs, argc, argv, &rc);
    if (sub < 0)
        return rc;
    if (!ctx->cfg)
        return cmd_help(provider_usage);
    return sub == 0 ? list_cmd(ctx, argc - 1, argv + 1) : test_cmd(ctx, argc - 1, argv + 1);
}
