/* cmd_send: `herald send CAMPAIGN`, one campaign now in the foreground with
 * a progress line: hd_campaign_start fires it (or goes on with its
 * unfinished run), then the dispatcher runs until its messages are done; a
 * campaign scheduled for later asks for --now (hd_campaign_check_send). It
 * shares its options, the progress line and the stop on SIGTERM or SIGINT
 * with `herald run` (cmd_run.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "herald/dispatch.h"
#include "herald/schedule.h"
#include "herald/store.h"

static const char send_usage[] =
    "usage: herald send CAMPAIGN [--wait DURATION] [--grace DURATION] [--now]\n"
    "\n"
    "Runs one campaign now, in the foreground: fires it (or goes on with its\n"
    "unfinished run), dispatches its messages with a progress line, and exits\n"
    "when every message is finished. Messages that wait longer than --wait\n"
    "(default 15m: quiet hours, a far retry) are left to 'herald run'.\n"
    "\n"
    "  --wait DUR    wait for messages due within DUR (default 15m)\n"
    "  --grace DUR   on SIGTERM/SIGINT, wait this long for messages in flight\n"
    "  --now         fire a campaign scheduled for later (over a minute ahead) now;\n"
    "                without it such a send is refused\n";

/* The campaign's messages by state, and what still waits. */
static int report(struct hd_ctx *ctx, const struct hd_campaign *camp, struct hd_err *err)
{
    int64_t counts[HD_ST_COUNT];
    if (hd_store_run_counts(ctx->store, camp->id, 0, counts, err) < 0)
        return -1;
    printf("campaign '%s'%s:", camp->name, cli_stopped() ? " (stopped)" : "");
    for (int st = 0; st < HD_ST_COUNT; st++)
        if (counts[st])
            printf(" %s %lld", hd_state_name(st), (long long)counts[st]);
    printf("\n");
    int64_t waiting = counts[HD_ST_QUEUED] + counts[HD_ST_RETRY_WAIT] + counts[HD_ST_DEFERRED];
    struct hd_campaign now = {0};
    bool paused = hd_store_campaign_get(ctx->store, NULL, camp->id, &now, NULL) == 0 &&
                  now.status == HD_CAMP_PAUSED;
    hd_campaign_release(&now);
    if (waiting && paused)
        printf("the campaign was paused: %lld messages wait until it is resumed\n",
               (long long)waiting);
    else if (waiting)
        printf("%lld messages wait for a later time; 'herald run' will send them\n",
               (long long)waiting);
    return 0;
}

int cmd_send(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_spec spec = {"send",   send_usage, cli_dispatch_opts,
                                         CLI_SEND, NULL,       NULL};
    struct hd_dispatch_opts o = {.once = true, .linger = 900, .grace_ms = 10000};
    struct cli_dispatch_args args = {&spec, &o, false};
    int rc, i = cli_parse(&spec, argc, argv, cli_dispatch_opt, &args, &rc);
    if (i < 0)
        return rc;
    if (i + 1 != argc)
        return cmd_usage("send", send_usage, "give one CAMPAIGN");
    if (!ctx->store)
        return cmd_help(send_usage);
    struct hd_err err = {0};
    struct hd_campaign camp = {0};
    struct cli_view v = {.ctx = ctx};
    struct hd_dispatch_stats s;
    struct hd_fire f;
    int started;
    cli_catch_signals();
    if (hd_store_campaign_get(ctx->store, argv[i], 0, &camp, &err) < 0 ||
        hd_dispatch_links_ready(ctx->cfg, &camp, &err) < 0 ||
        hd_campaign_check_send(&camp, hd_clock_now(&ctx->clock), args.now, &err) < 0 ||
        hd_campaign_start(ctx->store, ctx->cfg, &camp, hd_clock_now_ms(&ctx->clock),
                          cli_fire_progress, &v, &started, &f, &err) < 0)
        goto fail;
    if (started == HD_START_DONE) {
        printf("campaign '%s' is done: nothing to send\n", camp.name);
        hd_campaign_release(&camp);
        return EXIT_OK;
    }
    if (started == HD_START_FIRED) {
        if (v.drawn)
            fputs("\r\033[K", stderr);
        printf("campaign '%s': run %lld, %lld messages queued, %lld held out\n", camp.name,
               (long long)f.run, (long long)f.queued, (long long)f.held);
        fflush(stdout);
    }
    o.campaign = camp.id;
    if (cli_dispatch(ctx, &o, &v, &s, &err) < 0 || report(ctx, &camp, &err) < 0)
        goto fail;
    hd_campaign_release(&camp);
    return EXIT_OK;
fail:
    hd_campaign_release(&camp);
    return cmd_fail(ctx, &err);
}
