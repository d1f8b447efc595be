/* cmd_webhook: herald webhook list|test|deliver, the signed outbound
 * webhooks of [webhook NAME] (issue 20). list prints each webhook with
 * its cursor as stored (how many log rows are past it, when the next try
 * is, the last error); test posts one signed event of type "test" and
 * prints the answer; deliver runs dispatch/webhook.c's passes, once or
 * every second until stopped. herald run's deliverer is here too: with
 * any [webhook NAME], a thread beside the dispatcher, on a store
 * connection of its own, runs a pass every second until the run stops,
 * with the configuration it started with (as the bounce poll does); the
 * new webhooks' cursors are made before the thread starts, so before the
 * run writes its first event. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "herald/dispatch.h"

static const char webhook_usage[] =
    "usage: herald webhook list [--format table|csv|json|jsonl]\n"
    "       herald webhook test NAME\n"
    "       herald webhook deliver [--once] [--from-start]\n"
    "\n"
    "Outbound webhooks ([webhook NAME] in the configuration) get herald's events\n"
    "(sent, delivered, bounced, complained, unsubscribed, opened, failed) as JSON\n"
    "batches, POSTed with the header Herald-Signature: t=UNIX,v1=HEX, HEX the\n"
    "HMAC-SHA256 of \"UNIX.\" and the body under the webhook's secret. A batch is\n"
    "tried again with backoff until the receiver answers 2xx, or its events\n"
    "expire (max_age). herald run delivers them while it runs.\n"
    "\n"
    "list     each webhook: URL, events, the log rows past its cursor (LAG), the\n"
    "         next try, events delivered and expired, the last error\n"
    "test     POSTs one signed event of type \"test\" to NAME and prints the answer;\n"
    "         exit status 0 for a 2xx answer, 1 otherwise\n"
    "deliver  delivers what is due, every second until SIGTERM or SIGINT; --once:\n"
    "         until each webhook is caught up or waits for its next try, exit\n"
    "         status 1 when a try failed. A webhook seen for the\n"
    "         first time starts at the events from now on; --from-start: from the\n"
    "         oldest row still in the log\n";

static void events_of(const struct hd_webhook_cfg *wc, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    if (wc->events == (1u << HD_WH_COUNT) - 1) {
        snprintf(buf, size, "all");
        return;
    }
    for (int t = 0; t < HD_WH_COUNT; t++)
        if (wc->events & (1u << t))
            n +=
                (size_t)snprintf(buf + n, size - n, "%s%s", n ? "," : "", hd_webhook_event_name(t));
}

static json_t *list_row(const struct hd_webhook_cfg *wc, const struct hd_wh_cursor *c, bool found)
{
    char ev[128], next[32] = "", url[300];
    hd_cfg_webhook_url_shown(wc->url, url, sizeof url);
    events_of(wc, ev, sizeof ev);
    if (found && c->next_ms)
        cmd_time(c->next_ms / 1000, next, sizeof next);
    return json_pack("{s:s, s:s, s:s, s:o, s:s?, s:o, s:o, s:s?}", "name", wc->name, "url", url,
                     "events", ev, "lag", found ? json_integer(c->lag) : json_null(), "next_try",
                     *next ? next : NULL, "delivered", json_integer(c->delivered), "expired",
                     json_integer(c->expired), "last_error",
                     found && *c->last_error ? c->last_error : NULL);
}

static int list_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const char *const cols[] = {"name",      "url",     "events",     "lag", "next_try",
                                       "delivered", "expired", "last_error", NULL};
    int format, rc;
    if (cli_parse_format("webhook list", webhook_usage, 0, "", argc, argv, &format, &rc) < 0)
        return rc;
    if (!ctx->cfg || !ctx->store)
        return cmd_help(webhook_usage);
    struct cmd_out o;
    cmd_out_begin(&o, format, cols);
    if (format == FMT_TABLE)
        printf("%-12s %-32s %-24s %-7s %-20s %-9s %-7s %s\n", "NAME", "URL", "EVENTS", "LAG",
               "NEXT TRY", "DELIVERED", "EXPIRED", "LAST ERROR");
    for (size_t i = 0; i < ctx->cfg->nwebhooks; i++) {
        const struct hd_webhook_cfg *wc = &ctx->cfg->webhooks[i];
        struct hd_wh_cursor c;
        struct hd_err err = {0};
        bool found;
        if (hd_store_wh_cursor(ctx->store, wc->name, false, false, 0, &c, &found, &err) < 0)
            return cmd_fail(ctx, &err);
        json_t *row = list_row(wc, &c, found);
        if (format != FMT_TABLE) {
            cmd_out_row(&o, row);
            continue;
        }
        char lag[24] = "new", next[32];
        if (found)
            snprintf(lag, sizeof lag, "%lld", (long long)c.lag);
        const char *nt = json_string_value(json_object_get(row, "next_try"));
        snprintf(next, sizeof next, "%s", nt ? nt : "-");
        printf("%-12s %-32s %-24s %-7s %-20s %-9lld %-7lld %s\n", wc->name,
               json_string_value(json_object_get(row, "url")),
               json_string_value(json_object_get(row, "events")), lag, next, (long long)c.delivered,
               (long long)c.expired, found && *c.last_error ? c.last_error : "-");
        json_decref(row);
    }
    cmd_out_end(&o);
    return EXIT_OK;
}

static int test_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    int rc;
    if (cli_operands("webhook test", webhook_usage, argc, argv, 1, "give a webhook NAME", &rc) < 0)
        return rc;
    if (!ctx->cfg)
        return cmd_help(webhook_usage);
    const struct hd_webhook_cfg *wc = hd_config_webhook(ctx->cfg, argv[1]);
    if (!wc)
        return cmd_usage("webhook test", webhook_usage, "no [webhook %s] in the configuration",
                         argv[1]);
    struct hd_webhook_run w = {.cfg = ctx->cfg, .log = &ctx->log, .clock = &ctx->clock};
    struct hd_err err = {0};
    struct hd_buf resp;
    long status = 0;
    hd_buf_init(&resp);
    if (hd_webhook_test(&w, wc, &status, &resp, &err) < 0) {
        hd_buf_release(&resp);
        printf("%s: no answer: %s\n", wc->name, err.msg);
        return EXIT_FAIL;
    }
    printf("%s: HTTP %ld\n", wc->name, status);
    if (resp.len) {
        for (size_t i = 0; i < resp.len; i++) /* the answer as text, control bytes shown as '.' */
            putchar((unsigned char)resp.data[i] >= 0x20 || resp.data[i] == '\n' ? resp.data[i]
                                                                                : '.');
        if (resp.data[resp.len - 1] != '\n')
            putchar('\n');
    }
    hd_buf_release(&resp);
    return status >= 200 && status <= 299 ? EXIT_OK : EXIT_FAIL;
}

struct deliver_args {
    bool once, from_start;
};

static int deliver_opt(void *ud, int id, const char *arg)
{
    struct deliver_args *a = ud;
    (void)arg;
    if (id == 'o')
        a->once = true;
    else
        a->from_start = true;
    return 0;
}

static void nap_100ms(void)
{
    struct timespec nap = {0, 100 * 1000 * 1000};
    nanosleep(&nap, NULL);
}

static int deliver_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"once", false, 'o', 0}, {"from-start", false, 's', 0}, {0}};
    static const struct cli_spec spec = {"webhook deliver", webhook_usage, opts, 0, NULL, NULL};
    struct deliver_args a = {0};
    int rc;
    if (cli_parse_n(&spec, 0, NULL, argc, argv, deliver_opt, &a, &rc) < 0)
        return rc;
    if (!ctx->cfg || !ctx->store)
        return cmd_help(webhook_usage);
    cli_catch_signals();
    if (!a.once)
        hd_clock_run(&ctx->clock);
    struct hd_webhook_run w = {.st = ctx->store,
                               .cfg = ctx->cfg,
                               .log = &ctx->log,
                               .clock = &ctx->clock,
                               .from_start = a.from_start};
    struct hd_webhook_sum sum, total = {0};
    struct hd_err err = {0};
    do {
        if (hd_webhook_pass(&w, &sum, &err) < 0)
            return cmd_fail(ctx, &err);
        total.events += sum.events;
        total.expired += sum.expired;
        total.batches += sum.batches;
        total.failures += sum.failures;
        for (int i = 0; !a.once && !sum.more && i < 10 && !cli_stopped(); i++)
            nap_100ms();
    } while ((!a.once || sum.more) && !cli_stopped());
    printf("%lld events delivered in %lld batches, %lld expired, %lld failed tries\n",
           (long long)total.events, (long long)total.batches, (long long)total.expired,
           (long long)total.failures);
    return a.once && total.failures ? EXIT_FAIL : EXIT_OK;
}

int cmd_webhook(struct hd_ctx *ctx, int argc, char **argv)
{
    static const char *const subs[] = {"list", "test", "deliver", NULL};
    int rc, sub = cmd_subcommand("webhook", webhook_usage, subs, argc, argv, &rc);
    return sub < 0    ? rc
           : sub == 0 ? list_cmd(ctx, argc - 1, argv + 1)
           : sub == 1 ? test_cmd(ctx, argc - 1, argv + 1)
                      : deliver_cmd(ctx, argc - 1, argv + 1);
}

/* ---- herald run's deliverer --------------------------------------------------------- */

static void *deliver_main(void *ud)
{
    struct cli_webhooks *wh = ud;
    struct hd_webhook_run w = {
        .st = wh->st, .cfg = wh->cfg, .log = &wh->ctx->log, .clock = &wh->clock, .stop = &wh->stop};
    while (!cli_stopped() && !wh->stop) {
        struct hd_webhook_sum sum = {0};
        struct hd_err err = {0};
        if (hd_webhook_pass(&w, &sum, &err) < 0)
            hd_log_error(&wh->ctx->log, "webhooks: %s (tried again in 1s)", err.msg);
        for (int i = 0; i < 10 && !sum.more && !cli_stopped() && !wh->stop; i++)
            nap_100ms();
    }
    return NULL;
}

int cli_webhooks_start(struct hd_ctx *ctx, struct cli_webhooks *wh, struct hd_err *err)
{
    memset(wh, 0, sizeof *wh);
    if (ctx->cfg->nwebhooks == 0)
        return 0;
    struct hd_store_opts o = {.busy_timeout_ms = ctx->cfg->busy_timeout * 1000,
                              .password = cmd_db_password(ctx, hd_ctx_db_path(ctx))};
    int rc = hd_store_open(hd_ctx_db_path(ctx), &o, &wh->st, err);
    if (rc < 0)
        return rc;
    wh->ctx = ctx;
    wh->cfg = ctx->cfg;
    wh->clock = ctx->clock;
    hd_clock_run(&wh->clock); /* HERALD_NOW: time passes from there, or no backoff would end */
    /* the new webhooks' cursors now, before the caller dispatches or
     * serves, not at the thread's first pass: that may come after this
     * run's first events and would start past them */
    struct hd_webhook_run w = {.st = wh->st, .cfg = wh->cfg, .log = &ctx->log, .clock = &wh->clock};
    if ((rc = hd_webhook_begin(&w, err)) < 0) {
        hd_store_free(wh->st);
        wh->st = NULL;
        return rc;
    }
    if (pthread_create(&wh->th, NULL, deliver_main, wh) != 0) {
        hd_store_free(wh->st);
        wh->st = NULL;
        return hd_err_set(err, HD_E_IO, "cannot start the webhooks' thread");
    }
    wh->running = true;
    return 0;
}

void cli_webhooks_stop(struct cli_webhooks *wh)
{
    if (!wh->running)
        return;
    wh->stop = 1;
    pthread_join(wh->th, NULL);
    hd_store_free(wh->st);
    wh->running = false;
}
