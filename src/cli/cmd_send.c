/* cmd_send: `herald send CAMPAIGN`, one campaign now in the foreground with
 * a progress line. It shares its options, the progress line and the stop on
 * SIGTERM or SIGINT with `herald run` (cmd_run.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "herald/dispatch.h"
#include "herald/schedule.h"
#include "herald/store.h"

static const char send_usage[] =
    "usage: herald send CAMPAIGN [--wait DURATION] [--grace DURATION]\n"
    "\n"
    "Runs one campaign now, in the foreground: fires it (or goes on with its\n"
    "unfinished run), dispatches its messages with a progress line, and exits\n"
    "when every message is finished. Messages that wait longer than --wait\n"
    "(default 15m: quiet hours, a far retry) are left to 'herald run'.\n"
    "\n"
    "  --wait DUR    wait for messages due within DUR (default 15m)\n"
    "  --grace DUR   on SIGTERM/SIGINT, wait this long for messages in flight\n";

struct unfinished {
    int64_t fire_at;
    bool materializing, any;
};

static int first_unfinished(void *ud, const struct hd_run *r)
{
    struct unfinished *u = ud;
    u->any = true;
    if (r->status == HD_RUN_MATERIALIZING) {
        u->materializing = true;
        u->fire_at = r->fire_at;
    }
    return 0;
}

/* Fires the campaign, or goes on with a run left materializing; nothing to
 * do when it has an open run. */
static int fire(struct hd_ctx *ctx, struct hd_campaign *camp, const struct unfinished *u,
                struct cli_view *v, struct hd_err *err)
{
    if (u->any && !u->materializing)
        return 0;
    struct hd_fire f;
    int64_t now_ms = hd_clock_now_ms(&ctx->clock);
    int64_t fire_at = u->materializing ? u->fire_at : now_ms / 1000;
    if (hd_campaign_fire(ctx->store, ctx->cfg, camp, fire_at, now_ms, cli_fire_progress, v, &f,
                         err) < 0)
        return -1;
    if (v->drawn)
        fputs("\r\033[K", stderr);
    printf("campaign '%s': run %lld, %lld messages queued, %lld held out\n", camp->name,
           (long long)f.run, (long long)f.queued, (long long)f.held);
    fflush(stdout);
    return 0;
}

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
    struct cli_dispatch_args args = {&spec, &o};
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
    struct unfinished u = {0};
    cli_catch_signals();
    if (hd_store_campaign_get(ctx->store, argv[i], 0, &camp, &err) < 0)
        goto fail;
    if (camp.status == HD_CAMP_PAUSED || camp.status == HD_CAMP_CANCELLED) {
        hd_err_set(&err, HD_E_INVALID, "campaign '%s' is %s%s", camp.name,
                   hd_camp_status_name(camp.status),
                   camp.status == HD_CAMP_PAUSED ? ": resume it first" : "");
        goto fail;
    }
    if (hd_store_run_each(ctx->store, camp.id, true, first_unfinished, &u, &err) < 0)
        goto fail;
    if (!u.any && camp.status == HD_CAMP_DONE) {
        printf("campaign '%s' is done: nothing to send\n", camp.name);
        hd_campaign_release(&camp);
        return EXIT_OK;
    }
    o.campaign = camp.id;
    if (fire(ctx, &camp, &u, &v, &err) < 0 || cli_dispatch(ctx, &o, &v, &s, &err) < 0 ||
        report(ctx, &camp, &err) < 0)
        goto fail;
    hd_campaign_release(&camp);
    return EXIT_OK;
fail:
    hd_campaign_release(&camp);
    return cmd_fail(ctx, &err);
}
