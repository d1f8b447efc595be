/* cmd_provider: `herald provider list` shows each provider, its rate and
 * connections, the channels it carries and whether its driver opens (which
 * loads its credentials and TLS settings); `herald provider test` sends one
 * message through a provider and prints what the gateway said. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "herald/dispatch.h"
#include "herald/driver.h"
#include "herald/suppress.h"
#include "herald/store.h"
#include "herald/tpl.h"
#include "herald/valid.h"

static const char provider_usage[] =
    "usage: herald provider list\n"
    "       herald provider test NAME --to ADDRESS [--template T] [--contact ID]\n"
    "                            [--channel email|sms|push] [--variant V]\n"
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

static int list_cmd(struct hd_ctx *ctx)
{
    printf("%-16s %-8s %-10s %-6s %-16s %s\n", "NAME", "TYPE", "RATE", "CONNS", "CHANNELS",
           "STATUS");
    int rc = EXIT_OK;
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
        printf("%-16s %-8s %-10s %-6u %-16s %s\n", p->name, p->type, rate, p->connections, chans,
               status);
    }
    return rc;
}

struct outcome {
    struct hd_result r;
    bool got;
};

static void keep(void *ud, const struct hd_result *r)
{
    struct outcome *o = ud;
    o->r = *r;
    o->got = true;
}

static int render_parts(struct hd_ctx *ctx, const char *tname, int channel, const char *variant,
                        const struct hd_contact *k, struct hd_msg *m, struct hd_rendered *out,
                        struct hd_err *err)
{
    struct hd_tpl_set *set = NULL;
    const struct hd_tpl *t;
    struct hd_fmt *fmt = hd_fmt_new();
    json_t *camp = json_pack("{s:s}", "name", "provider test");
    json_t *data =
        hd_tpl_data(k, ctx->cfg, camp, m->id, "https://unsubscribe.example.invalid/test");
    struct hd_tpl_req req;
    int rc;
    hd_tpl_req_init(&req, k, ctx->cfg, hd_clock_now(&ctx->clock), data, fmt);
    req.variant = variant;
    req.lenient = k == NULL;
    if ((rc = hd_tpl_set_open(ctx->cfg->templates, &set, err)) == 0 &&
        (rc = hd_tpl_get(set, tname, &t, err)) == 0 &&
        (rc = hd_render(t, channel, &req, out, err)) == 0)
        m->category = out->category;
    json_decref(camp);
    json_decref(data);
    hd_fmt_free(fmt);
    hd_tpl_set_free(set);
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
                             "--channel: '%s' is not email, sms or push", arg);
    }
    return 0;
}

/* The channel: given, or the only one the type carries, or the address's
 * form; then the address in the form the channel's driver takes. */
static int test_address(struct hd_ctx *ctx, const struct hd_provider_cfg *p, struct test_args *a,
                        char *addr, size_t size, struct hd_err *err)
{
    const char *to = a->to;
    if (a->channel < 0) {
        int served = 0, last = -1;
        for (int ch = 0; ch < HD_CH_COUNT; ch++)
            if (hd_driver_serves(p->type, ch))
                served++, last = ch;
        a->channel = served == 1                                        ? last
                     : strchr(to, '@')                                  ? HD_CH_EMAIL
                     : (to[0] == '+' || (to[0] >= '0' && to[0] <= '9')) ? HD_CH_SMS
                                                                        : HD_CH_PUSH;
    }
    if (!hd_driver_serves(p->type, a->channel))
        return hd_err_set(err, HD_E_USAGE, "provider '%s' (%s) does not carry %s", p->name, p->type,
                          hd_channel_name(a->channel));
    struct hd_valid *v = hd_valid_new();
    int bad = a->channel == HD_CH_EMAIL ? hd_valid_email(v, to, addr, size)
              : a->channel == HD_CH_SMS
                  ? hd_valid_phone(v, to, ctx->cfg->default_region, addr, size)
                  : (snprintf(addr, size, "%s", to), 0);
    hd_valid_free(v);
    if (bad)
        return hd_err_set(err, HD_E_USAGE, "--to: '%s' is not a %s address (%s)", to,
                          hd_channel_name(a->channel), addr);
    return 0;
}

/* The message's text: the template rendered, or a short built-in one. */
static int test_text(struct hd_ctx *ctx, const struct hd_provider_cfg *p, const struct test_args *a,
                     const struct hd_contact *k, struct hd_msg *m, struct hd_rendered *owned,
                     char *text, size_t size, struct hd_err *err)
{
    if (a->tname) {
        if (render_parts(ctx, a->tname, a->channel, a->variant, k, m, owned, err) < 0)
            return -1;
        hd_rendered_msg(owned, a->channel, m);
        if (m->category == HD_CAT_MARKETING)
            m->unsubscribe_url = "https://unsubscribe.example.invalid/test";
        return 0;
    }
    char t[32];
    hd_time_format_iso(m->created, t, sizeof t);
    snprintf(text, size,
             "This is a test message from herald, sent through provider "
             "'%s' at %s.\n",
             p->name, t);
    m->subject = "herald test message";
    m->text = text;
    m->title = "herald test";
    m->body = a->channel == HD_CH_SMS ? "herald test message" : "A test message from herald.";
    return 0;
}

/* Hands m to the provider's driver and waits (bounded) for its result. */
static int test_submit(struct hd_ctx *ctx, const struct hd_provider_cfg *p, struct hd_msg *m,
                       struct outcome *o, struct hd_err *err)
{
    struct hd_driver *d = NULL;
    if (hd_driver_open(p, &ctx->log, &d, err) < 0 || hd_driver_submit(d, m, err) < 0) {
        hd_driver_free(d);
        return -1;
    }
    int64_t deadline = hd_clock_mono_ms() + (p->timeout + 30) * 1000;
    while (!o->got && hd_clock_mono_ms() < deadline)
        hd_driver_poll(d, 500, keep, o);
    hd_driver_free(d);
    if (!o->got)
        return hd_err_set(err, HD_E_FAIL, "no result from provider '%s' in time", p->name);
    return 0;
}

/* What the gateway said about the address goes into the audience, as a
 * campaign's result would. */
static int test_feedback(struct hd_ctx *ctx, const struct test_args *a, const char *addr,
                         const struct hd_result *r, struct hd_err *err)
{
    if (!r->bad_address && !(r->opted_out && a->contact))
        return 0;
    if (cmd_open_store(ctx, err) < 0 || hd_feedback_apply(ctx->store, a->contact, a->channel, addr,
                                                          r, hd_clock_now(&ctx->clock), err) < 0)
        return -1;
    if (r->bad_address)
        printf("suppressed  %s (%s)\n", addr, hd_channel_name(a->channel));
    if (r->opted_out && a->contact)
        printf("consent     %s %s: opted out (gateway)\n", a->contact, hd_channel_name(a->channel));
    return 0;
}

static int test_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"to", true, 't', 0},      {"template", true, 'T', 0},
                                          {"contact", true, 'c', 0}, {"channel", true, 'C', 0},
                                          {"variant", true, 'v', 0}, {0}};
    static const struct cli_spec spec = {"provider test", provider_usage, opts, 0, NULL, NULL};
    struct test_args a = {.channel = -1};
    int rc, i = cli_parse(&spec, argc, argv, test_opt, &a, &rc);
    if (i < 0)
        return rc;
    if (i + 1 != argc || !a.to)
        return cmd_usage("provider test", provider_usage, "give a provider NAME and --to ADDRESS");
    struct hd_err err = {0};
    const struct hd_provider_cfg *p = hd_config_provider(ctx->cfg, argv[i]);
    char addr[4200], text[512];
    if (!p) {
        hd_err_set(&err, HD_E_NOTFOUND, "no [provider %s] in the configuration", argv[i]);
        return cmd_fail(ctx, &err);
    }
    if (test_address(ctx, p, &a, addr, sizeof addr, &err) < 0)
        return cmd_fail(ctx, &err);
    struct hd_contact k = {0};
    struct hd_rendered owned = {0};
    struct hd_msg m = {.channel = a.channel,
                       .to = addr,
                       .category = HD_CAT_TRANSACTIONAL,
                       .created = hd_clock_now(&ctx->clock),
                       .platform = strcmp(p->type, "apns") == 0 ? HD_PUSH_APNS : HD_PUSH_FCM};
    struct outcome o = {0};
    hd_uuid(m.id);
    if ((a.contact && (cmd_open_store(ctx, &err) < 0 ||
                       hd_store_contact_get(ctx->store, a.contact, &k, &err) < 0)) ||
        test_text(ctx, p, &a, a.contact ? &k : NULL, &m, &owned, text, sizeof text, &err) < 0 ||
        test_submit(ctx, p, &m, &o, &err) < 0) {
        rc = cmd_fail(ctx, &err);
        goto out;
    }
    printf("result      %s%s%s\ncode        %d\ntext        %s\ngateway id  %s\nlatency     "
           "%lld ms\nmessage id  %s\n",
           hd_outcome_name(o.r.outcome), o.r.bad_address ? " (bad address)" : "",
           o.r.opted_out ? " (opted out)" : "", o.r.code, o.r.text,
           o.r.gateway_id[0] ? o.r.gateway_id : "-", (long long)o.r.latency_ms, m.id);
    rc = o.r.outcome == HD_OUT_ACCEPTED ? EXIT_OK : EXIT_FAIL;
    if (test_feedback(ctx, &a, addr, &o.r, &err) < 0)
        rc = cmd_fail(ctx, &err);
out:
    hd_rendered_release(&owned);
    hd_contact_release(&k);
    return rc;
}

int cmd_provider(struct hd_ctx *ctx, int argc, char **argv)
{
    if (argc < 2)
        return cmd_usage("provider", provider_usage, "give a subcommand: list or test");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || !ctx->cfg)
        return cmd_help(provider_usage);
    if (strcmp(sub, "list") == 0) {
        if (argc > 2)
            return cmd_usage("provider list", provider_usage, "unexpected argument '%s'", argv[2]);
        return list_cmd(ctx);
    }
    if (strcmp(sub, "test") == 0)
        return test_cmd(ctx, argc - 1, argv + 1);
    return cmd_usage("provider", provider_usage, "unknown subcommand '%s'", sub);
}
