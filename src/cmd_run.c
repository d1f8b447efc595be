/* cmd_run: `herald run [--once]`, the daemon that fires scheduled campaigns
 * and dispatches their messages, and `herald send CAMPAIGN`, one campaign
 * now in the foreground with a progress line. Both stop on SIGTERM or
 * SIGINT: the handler only sets a flag; the dispatcher then stops claiming,
 * waits for what is in flight (a bounded time), records it, puts back what
 * it had claimed, and the command exits 0. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "herald/dispatch.h"
#include "herald/schedule.h"
#include "herald/store.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static const char run_usage[] =
    "usage: herald run [--once] [--grace DURATION]\n"
    "\n"
    "The daemon: fires campaigns when their schedule says, and dispatches every\n"
    "due message of every running campaign, until SIGTERM or SIGINT.\n"
    "\n"
    "  --once        fire what is due, dispatch what is due now, and exit\n"
    "  --grace DUR   on SIGTERM/SIGINT, wait this long for messages in flight\n"
    "                (default 10s); what has no result by then is queued again\n";

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

struct view {
    struct hd_ctx *ctx;
    bool drawn;
    int64_t start_ms;
    int64_t first_done;
};

static int64_t done_count(const struct hd_dispatch_stats *s)
{
    int64_t n = 0;
    for (int i = 0; i < HD_ST_COUNT; i++)
        n += s->by_state[i];
    return n;
}

/* sent, failed, skipped by reason, rate and ETA, on one line */
static void draw(void *ud, const struct hd_dispatch_stats *s)
{
    struct view *v = ud;
    if (!v->ctx->progress)
        return;
    int64_t done = done_count(s), el = hd_clock_mono_ms() - v->start_ms;
    double rate = el > 0 ? (double)done * 1000.0 / (double)el : 0;
    int64_t left = s->total - s->finished_before - done;
    char eta[32] = "";
    if (rate > 0 && left > 0 && s->total > 0) {
        int64_t secs = (int64_t)((double)left / rate);
        snprintf(eta, sizeof eta, " ETA %lld:%02lld", (long long)(secs / 60),
                 (long long)(secs % 60));
    }
    char skipped[200];
    int len = snprintf(skipped, sizeof skipped, "skipped %lld",
                       (long long)(s->by_state[HD_ST_HELD_OUT] + s->by_state[HD_ST_SUPPRESSED] +
                                   s->by_state[HD_ST_NO_CHANNEL] + s->by_state[HD_ST_CAPPED] +
                                   s->by_state[HD_ST_EXPIRED] + s->by_state[HD_ST_RENDER_FAILED]));
    static const int why[] = {HD_ST_CAPPED, HD_ST_SUPPRESSED, HD_ST_NO_CHANNEL, HD_ST_EXPIRED,
                              HD_ST_RENDER_FAILED};
    const char *sep = " (";
    for (size_t i = 0; i < sizeof why / sizeof why[0] && len < (int)sizeof skipped; i++)
        if (s->by_state[why[i]]) {
            len += snprintf(skipped + len, sizeof skipped - (size_t)len, "%s%s %lld", sep,
                            hd_state_name(why[i]), (long long)s->by_state[why[i]]);
            sep = ", ";
        }
    if (*sep == ',' && len < (int)sizeof skipped)
        snprintf(skipped + len, sizeof skipped - (size_t)len, ")");
    fprintf(stderr, "\r\033[Ksent %lld  failed %lld  %s  retrying %lld  %.0f/s%s",
            (long long)s->by_state[HD_ST_SENT], (long long)s->by_state[HD_ST_FAILED], skipped,
            (long long)s->retries, rate, eta);
    fflush(stderr);
    v->drawn = true;
}

static void fire_progress(void *ud, const char *campaign, int64_t queued)
{
    struct view *v = ud;
    if (!v->ctx->progress)
        return;
    fprintf(stderr, "\r\033[Kcampaign '%s': queued %lld", campaign, (long long)queued);
    fflush(stderr);
    v->drawn = true;
}

static int parse_duration_opt(const char *cmd, const char *usage, const char *opt, const char *arg,
                              int64_t *out)
{
    struct hd_err err = {0};
    if (hd_units_duration(arg, out, &err) < 0)
        return cmd_usage(cmd, usage, "%s: %s", opt, err.msg);
    return 0;
}

static int dispatch(struct hd_ctx *ctx, struct hd_dispatch_opts *o, struct view *v,
                    struct hd_dispatch_stats *stats, struct hd_err *err)
{
    struct hd_dispatch *d = NULL;
    int rc;
    hd_clock_run(&ctx->clock);
    o->stop = &stop_flag;
    o->progress = v->ctx->progress ? draw : NULL; /* without, no totals to count */
    o->progress_ud = v;
    o->fire_progress = fire_progress;
    v->start_ms = hd_clock_mono_ms();
    if ((rc = hd_dispatch_new(ctx->cfg, ctx->store, &ctx->log, &ctx->clock, o, &d, err)) == 0)
        rc = hd_dispatch_run(d, err);
    if (d)
        hd_dispatch_get_stats(d, stats);
    hd_dispatch_free(d);
    if (v->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    return rc;
}

int cmd_run(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"once", no_argument, NULL, 'o'},
                                         {"grace", required_argument, NULL, 'g'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    struct hd_dispatch_opts o = {.schedule = true, .grace_ms = 10000};
    int c, rc;
    int64_t secs;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            o.once = true;
            break;
        case 'g':
            if ((rc = parse_duration_opt("run", run_usage, "--grace", optarg, &secs)) != 0)
                return rc;
            o.grace_ms = secs * 1000;
            break;
        case 'h':
            return cmd_help(run_usage);
        default:
            return cmd_usage("run", run_usage, "bad option");
        }
    }
    if (optind != argc)
        return cmd_usage("run", run_usage, "unexpected argument '%s'", argv[optind]);
    if (!ctx->store)
        return cmd_help(run_usage);
    struct hd_err err = {0};
    struct hd_dispatch_stats s;
    struct view v = {.ctx = ctx};
    catch_signals();
    hd_log_info(&ctx->log, "herald run: dispatching%s (pid %ld)", o.once ? " once" : "",
                (long)getpid());
    if (dispatch(ctx, &o, &v, &s, &err) < 0)
        return cmd_fail(ctx, &err);
    hd_log_info(&ctx->log, "herald run: stopped; %lld sent, %lld failed in this run",
                (long long)s.by_state[HD_ST_SENT], (long long)s.by_state[HD_ST_FAILED]);
    return EXIT_OK;
}

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

int cmd_send(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"wait", required_argument, NULL, 'w'},
                                         {"grace", required_argument, NULL, 'g'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    struct hd_dispatch_opts o = {.once = true, .linger = 900, .grace_ms = 10000};
    int c, rc;
    int64_t secs;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'w':
            if ((rc = parse_duration_opt("send", send_usage, "--wait", optarg, &o.linger)) != 0)
                return rc;
            break;
        case 'g':
            if ((rc = parse_duration_opt("send", send_usage, "--grace", optarg, &secs)) != 0)
                return rc;
            o.grace_ms = secs * 1000;
            break;
        case 'h':
            return cmd_help(send_usage);
        default:
            return cmd_usage("send", send_usage, "bad option");
        }
    }
    if (optind + 1 != argc)
        return cmd_usage("send", send_usage, "give one CAMPAIGN");
    if (!ctx->store)
        return cmd_help(send_usage);
    struct hd_err err = {0};
    struct hd_campaign camp = {0};
    struct view v = {.ctx = ctx};
    struct hd_dispatch_stats s;
    struct unfinished u = {0};
    int64_t counts[HD_ST_COUNT];
    catch_signals();
    if (hd_store_campaign_get(ctx->store, argv[optind], 0, &camp, &err) < 0)
        goto fail;
    if (camp.status == HD_CAMP_PAUSED || camp.status == HD_CAMP_CANCELLED) {
        hd_err_set(&err, HD_E_INVALID, "campaign '%s' is %s%s", camp.name,
                   hd_camp_status_name(camp.status),
                   camp.status == HD_CAMP_PAUSED ? ": resume it first" : "");
        goto fail;
    }
    if (hd_store_run_each(ctx->store, camp.id, true, first_unfinished, &u, &err) < 0)
        goto fail;
    int64_t now_ms = hd_clock_now_ms(&ctx->clock);
    if (!u.any && camp.status == HD_CAMP_DONE) {
        printf("campaign '%s' is done: nothing to send\n", camp.name);
        hd_campaign_release(&camp);
        return EXIT_OK;
    }
    if (!u.any || u.materializing) {
        struct hd_fire f;
        int64_t fire_at = u.materializing ? u.fire_at : now_ms / 1000;
        if (hd_campaign_fire(ctx->store, ctx->cfg, &camp, fire_at, now_ms, fire_progress, &v, &f,
                             &err) < 0)
            goto fail;
        if (v.drawn)
            fputs("\r\033[K", stderr);
        printf("campaign '%s': run %lld, %lld messages queued, %lld held out\n", camp.name,
               (long long)f.run, (long long)f.queued, (long long)f.held);
        fflush(stdout);
    }
    o.campaign = camp.id;
    if (dispatch(ctx, &o, &v, &s, &err) < 0)
        goto fail;
    if (hd_store_run_counts(ctx->store, camp.id, 0, counts, &err) < 0)
        goto fail;
    printf("campaign '%s'%s:", camp.name, stop_flag ? " (stopped)" : "");
    for (int st = 0; st < HD_ST_COUNT; st++)
        if (counts[st])
            printf(" %s %lld", hd_state_name(st), (long long)counts[st]);
    printf("\n");
    int64_t waiting = counts[HD_ST_QUEUED] + counts[HD_ST_RETRY_WAIT] + counts[HD_ST_DEFERRED];
    struct hd_campaign now = {0};
    bool paused = hd_store_campaign_get(ctx->store, NULL, camp.id, &now, NULL) == 0 &&
                  now.status == HD_CAMP_PAUSED;
    hd_campaign_release(&now);
    if (waiting && paused)
        printf("the campaign was paused: %lld messages wait until it is resumed\n",
               (long long)waiting);
    else if (waiting)
        printf("%lld messages wait for a later time; 'herald run' will send them\n",
               (long long)waiting);
    hd_campaign_release(&camp);
    return EXIT_OK;
fail:
    hd_campaign_release(&camp);
    return cmd_fail(ctx, &err);
}
