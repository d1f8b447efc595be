/* cmd_send: `herald send CAMPAIGN`, one campaign now in the foreground with
 * a progress line: hd_campaign_start fires it (or goes on with its
 * unfinished run), then the dispatcher runs until its messages are done; a
 * campaign scheduled for later asks for --now (hd_campaign_check_send). It
 * shares its options, the progress line and the stop on SIGTERM or SIGINT
 * with `herald run` (cmd_run.c). At the end it reports the runs it sent
 * (the campaign's unfinished runs when it started), each with its own
 * totals, and for each failure reason (hd_state_failure) a count, an
 * example and the `herald log` command that lists them; it exits 3 when
 * any failed, 0 when the rest were sent or decided. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "herald/buf.h"
#include "herald/dispatch.h"
#include "herald/schedule.h"
#include "herald/state.h"
#include "herald/store.h"
#include "herald/units.h"

static const char send_usage[] =
    "usage: herald send CAMPAIGN [--wait DURATION] [--grace DURATION] [--now]\n"
    "\n"
    "Runs one campaign now, in the foreground: fires it (or goes on with its\n"
    "unfinished run), dispatches its messages with a progress line, and exits\n"
    "when every message is finished. Messages that wait longer than --wait\n"
    "(default 15m: quiet hours, a far retry) are left to 'herald run'. Exits 3\n"
    "when messages of the run failed (failed, undelivered, render_failed), with\n"
    "the reasons and the 'herald log' command that lists them.\n"
    "\n"
    "  --wait DUR    wait for messages due within DUR (default 15m)\n"
    "  --grace DUR   on SIGTERM/SIGINT, wait this long for messages in flight\n"
    "  --now         fire a campaign scheduled for later (over a minute ahead) now;\n"
    "                without it such a send is refused\n";

/* The runs a send dispatches: once the campaign has started, its
 * unfinished runs (the one it fired, or those still open), oldest first. */
struct sent_runs {
    struct hd_run *runs;
    size_t n;
};

static int keep_run(void *ud, const struct hd_run *r)
{
    struct sent_runs *s = ud;
    HD_GROW(s->runs, s->n);
    memmove(s->runs + 1, s->runs, s->n++ * sizeof *s->runs); /* read newest first */
    s->runs[0] = *r;
    return 0;
}

struct fail_out {
    const char *campaign;
    int64_t seq;
};

static int fail_line(void *ud, const struct hd_failure *f)
{
    const struct fail_out *o = ud;
    printf("  %lld %s: %s\n    see them: herald log --campaign %s --run %lld%s%s\n",
           (long long)f->n, f->reason ? f->reason : "failed", f->text ? f->text : "", o->campaign,
           (long long)o->seq, f->reason ? " --reason " : "", f->reason ? f->reason : "");
    return 0;
}

/* One run's messages by state, its failures by reason, and how many are
 * failures (*failed) and still wait (*waiting). */
static int report_run(struct hd_ctx *ctx, const struct hd_campaign *camp, const struct hd_run *r,
                      int64_t *failed, int64_t *waiting, int64_t *held, struct hd_err *err)
{
    int64_t counts[HD_ST_COUNT], n = 0;
    if (hd_store_run_counts(ctx->store, 0, r->id, counts, err) < 0)
        return -1;
    printf("campaign '%s', run %lld%s:", camp->name, (long long)r->seq,
           cli_stopped() ? " (stopped)" : "");
    for (int st = 0; st < HD_ST_COUNT; st++) {
        if (counts[st])
            printf(" %s %lld", hd_state_name(st), (long long)counts[st]);
        n += hd_state_failure(st) ? counts[st] : 0;
    }
    printf("\n");
    *waiting += counts[HD_ST_QUEUED] + counts[HD_ST_RETRY_WAIT] + counts[HD_ST_DEFERRED];
    *held += counts[HD_ST_SENDING]; /* ours were all written: another node's */
    *failed += n;
    if (!n)
        return 0;
    char count[48];
    printf("failed: %s, by reason:\n", hd_units_count(n, "message", NULL, count, sizeof count));
    struct fail_out o = {camp->name, r->seq};
    return hd_store_run_failures(ctx->store, camp->id, r->id, fail_line, &o, err);
}

/* Messages another node holds (one that runs, or one killed and not yet
 * lost for node_lease): this send cannot finish them, and says so (it was
 * silent: a review). The exit stays 0: a node that runs finishes them, as
 * two sends of one campaign do, and which of the two it is cannot be told
 * before the lease. */
static void held_elsewhere(struct hd_ctx *ctx, const struct hd_campaign *camp, int64_t held)
{
    char count[48], lease[32];
    hd_units_count(held, "message", NULL, count, sizeof count);
    hd_units_format_duration(ctx->cfg->node_lease, lease, sizeof lease);
    fprintf(stderr,
            "herald: %s %s held by another node ('herald nodes' shows which): a node that "
            "stopped beating for %s loses them to the queue; then 'herald send %s' sends "
            "them\n",
            count, held == 1 ? "is" : "are", lease, camp->name);
}

/* The runs' messages by state and failures, what still waits, and what
 * another node holds; *failed gets how many failed. */
static int report(struct hd_ctx *ctx, const struct hd_campaign *camp, const struct sent_runs *s,
                  int64_t *failed, struct hd_err *err)
{
    int64_t waiting = 0, held = 0;
    *failed = 0;
    for (size_t i = 0; i < s->n; i++)
        if (report_run(ctx, camp, &s->runs[i], failed, &waiting, &held, err) < 0)
            return -1;
    if (held && !cli_stopped())
        held_elsewhere(ctx, camp, held);
    struct hd_campaign now = {0};
    char *why = NULL;
    bool paused = hd_store_campaign_get(ctx->store, NULL, camp->id, &now, NULL) == 0 &&
                  now.status == HD_CAMP_PAUSED;
    hd_campaign_release(&now);
    if (paused && hd_store_campaign_pause_reason(ctx->store, camp->id, &why, err) < 0)
        return -1;
    char count[48];
    hd_units_count(waiting, "message", NULL, count, sizeof count);
    if (waiting && paused)
        printf("the campaign was paused%s%s%s: %s %s until it is resumed ('herald campaign "
               "resume %s')\n",
               why ? " (" : "", why ? why : "", why ? ")" : "", count,
               waiting == 1 ? "waits" : "wait", camp->name);
    else if (waiting)
        printf("%s %s for a later time; 'herald run' will send them\n", count,
               waiting == 1 ? "waits" : "wait");
    free(why);
    return 0;
}

int cmd_send(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_spec spec = {"send",   send_usage, cli_dispatch_opts,
                                         CLI_SEND, NULL,       NULL};
    struct hd_dispatch_opts o = {.once = true, .linger = 900, .grace_ms = 10000};
    struct cli_dispatch_args args = {.spec = &spec, .o = &o};
    int rc,
        i = cli_parse_n(&spec, 1, "give one CAMPAIGN", argc, argv, cli_dispatch_opt, &args, &rc);
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
    struct sent_runs runs = {0};
    int64_t failed = 0;
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
        char count[48];
        printf("campaign '%s': run %lld, %s queued, %lld held out\n", camp.name, (long long)f.seq,
               hd_units_count(f.queued, "message", NULL, count, sizeof count), (long long)f.held);
        fflush(stdout);
    }
    o.campaign = camp.id;
    if (hd_store_run_each(ctx->store, camp.id, true, keep_run, &runs, &err) < 0 ||
        cli_dispatch(ctx, &o, &v, &s, &err) < 0 || report(ctx, &camp, &runs, &failed, &err) < 0)
        goto fail;
    free(runs.runs);
    hd_campaign_release(&camp);
    return failed ? EXIT_MSGS_FAILED : EXIT_OK;
fail:
    free(runs.runs);
    hd_campaign_release(&camp);
    return cmd_fail(ctx, &err);
}
