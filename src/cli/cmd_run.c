/* cmd_run: `herald run [--once]`, the daemon that fires scheduled campaigns
 * and dispatches their messages. It also holds what `herald send` (cmd_send.c)
 * shares with it: the options both take (one table), the progress line, and
 * the stop on SIGTERM or SIGINT: the handler only sets a flag; the
 * dispatcher then stops claiming, waits for what is in flight (a bounded
 * time), records it, puts back what it had claimed, and the command exits 0.
 * `run` alone also reloads its configuration on SIGHUP (a second flag the
 * dispatcher looks at between turns, then reload() here: a file that does
 * not load, or changes what needs a restart, is refused with an error line
 * and the old configuration stays), and talks to a service manager
 * (herald/service.h) when started by one. `run --serve` also runs the HTTP
 * service (herald/serve.h): it binds before the dispatcher starts (an
 * address in use is an error at once), its own threads answer requests,
 * and one more thread waits for the same stop flag, then stops it
 * gracefully while the dispatcher finishes its batch; the process exits
 * once both are done. A reload leaves the service as it is: [serve] keys
 * take effect at the next start. The webhooks' thread (cmd_webhook.c)
 * starts before either, its new webhooks' cursors made: every event of
 * the run comes after them. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "herald/dispatch.h"
#include "herald/schedule.h"
#include "herald/serve.h"
#include "herald/store.h"

static volatile sig_atomic_t stop_flag, reload_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

void cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool cli_stopped(void)
{
    return stop_flag != 0;
}

static void on_hangup(int sig)
{
    (void)sig;
    reload_flag = 1;
}

/* What a reload needs, and the configurations it replaced: the drivers
 * keep pointers into the first, so all live until the dispatcher is gone. */
struct reloader {
    struct hd_ctx *ctx;
    struct hd_service *service;
    struct hd_config **retired;
    size_t nretired;
};

/* SIGHUP: the same file again (or the defaults, without one). */
static void reload(void *ud, struct hd_dispatch *d)
{
    struct reloader *r = ud;
    struct hd_ctx *ctx = r->ctx;
    struct hd_config *cfg = NULL;
    struct hd_err err = {0};
    const char *path = ctx->config_path ? ctx->config_path : "(built-in defaults)";
    bool taken = false;
    hd_service_notifyf(r->service, "RELOADING=1\nSTATUS=reloading %s", path);
    if (hd_config_load(ctx->config_path, &cfg, &err) < 0 ||
        hd_dispatch_reconfigure(d, cfg, &err) < 0) {
        hd_log_error(&ctx->log,
                     "reload refused: %s (still running with the configuration "
                     "read before)",
                     err.msg);
        hd_config_free(cfg);
    } else {
        hd_config_register_secrets(cfg, &ctx->log);
        if (!ctx->log_level_fixed)
            ctx->log.level = cfg->log_level;
        hd_log_use_journal(&ctx->log, cfg->log_journal);
        HD_GROW(r->retired, r->nretired);
        r->retired[r->nretired++] = ctx->cfg;
        ctx->cfg = cfg;
        taken = true;
        hd_log_info(&ctx->log, "configuration reloaded from %s", path);
    }
    hd_service_notifyf(r->service, "READY=1\nSTATUS=running (%s %s)",
                       taken ? "reloaded" : "reload refused, kept", path);
}

static const char run_usage[] =
    "usage: herald run [--once] [--grace DURATION] [--serve [--listen ADDR:PORT]]\n"
    "\n"
    "The daemon: fires campaigns when their schedule says, and dispatches every\n"
    "due message of every running campaign, until SIGTERM or SIGINT. SIGHUP\n"
    "reloads the configuration file (one with an error is refused, and the\n"
    "running configuration stays). Under systemd (Type=notify) it reports\n"
    "readiness, status and watchdog pings.\n"
    "\n"
    "  --once        fire what is due, dispatch what is due now, and exit\n"
    "  --grace DUR   on SIGTERM/SIGINT, wait this long for messages in flight\n"
    "                (default 10s); what has no result by then is queued again\n"
    "  --serve       also run the HTTP service (as herald serve) in this process;\n"
    "                it prints 'listening on http://ADDR:PORT' once bound\n"
    "  --listen ADDR:PORT  with --serve: instead of [serve] listen; port 0 picks\n"
    "                a free port\n";

/* run and send take the same options: --once is run's, --wait and --now send's. */
const struct cli_opt cli_dispatch_opts[] = {{"once", false, 'o', CLI_RUN},
                                            {"wait", true, 'w', CLI_SEND},
                                            {"grace", true, 'g', CLI_RUN | CLI_SEND},
                                            {"now", false, 'n', CLI_SEND},
                                            {"serve", false, 'S', CLI_RUN},
                                            {"listen", true, 'L', CLI_RUN},
                                            {0, false, 0, 0}};

int cli_dispatch_opt(void *ud, int id, const char *arg)
{
    struct cli_dispatch_args *a = ud;
    struct hd_err err = {0};
    int64_t secs;
    switch (id) {
    case 'o':
        a->o->once = true;
        return 0;
    case 'n':
        a->now = true;
        return 0;
    case 'S':
        a->serve = true;
        return 0;
    case 'L':
        if (!hd_cfg_listen_ok(arg, true))
            return cmd_usage(a->spec->cmd, a->spec->usage,
                             "--listen: '%s' is not ADDRESS:PORT (e.g. 127.0.0.1:8025)", arg);
        a->listen = arg;
        return 0;
    case 'w':
        if (hd_units_duration0(arg, &a->o->linger, &err) < 0)
            return cmd_usage(a->spec->cmd, a->spec->usage, "--wait: %s", err.msg);
        return 0;
    default: /* 'g' */
        if (hd_units_duration0(arg, &secs, &err) < 0)
            return cmd_usage(a->spec->cmd, a->spec->usage, "--grace: %s", err.msg);
        a->o->grace_ms = secs * 1000;
        return 0;
    }
}

static int64_t done_count(const struct hd_dispatch_stats *s)
{
    int64_t n = 0;
    for (int i = 0; i < HD_ST_COUNT; i++)
        n += s->by_state[i];
    return n;
}

/* "failed 3 (render_failed 2)": a group's total and its states, in the
 * words of campaign show and stats (a state a group counts is counted
 * there, and under the same word, in all three). */
static int group_text(char *buf, size_t size, const char *word, const int *states, size_t n,
                      const struct hd_dispatch_stats *s)
{
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += s->by_state[states[i]];
    int len = snprintf(buf, size, "%s %lld", word, (long long)total);
    const char *sep = " (";
    for (size_t i = 0; i < n && len > 0 && (size_t)len < size; i++)
        if (s->by_state[states[i]] && states[i] != hd_state_parse(word)) {
            len += snprintf(buf + len, size - (size_t)len, "%s%s %lld", sep,
                            hd_state_name(states[i]), (long long)s->by_state[states[i]]);
            sep = ", ";
        }
    if (*sep == ',' && len > 0 && (size_t)len < size)
        len += snprintf(buf + len, size - (size_t)len, ")");
    return len;
}

/* sent, failed, held out, skipped by state, rate and ETA, on one line */
static void draw(void *ud, const struct hd_dispatch_stats *s)
{
    static const int failed[] = {HD_ST_FAILED, HD_ST_RENDER_FAILED};
    static const int skipped[] = {HD_ST_CAPPED, HD_ST_SUPPRESSED, HD_ST_NO_CHANNEL, HD_ST_EXPIRED,
                                  HD_ST_CANCELLED};
    struct cli_view *v = ud;
    if (!v->ctx->progress)
        return;
    int64_t done = done_count(s), el = hd_clock_mono_ms() - v->start_ms;
    double rate = el > 0 ? (double)done * 1000.0 / (double)el : 0;
    int64_t left = s->total - s->finished_before - done;
    char eta[32] = "", f[120], k[200];
    if (rate > 0 && left > 0 && s->total > 0) {
        int64_t secs = (int64_t)((double)left / rate);
        snprintf(eta, sizeof eta, " ETA %lld:%02lld", (long long)(secs / 60),
                 (long long)(secs % 60));
    }
    group_text(f, sizeof f, "failed", failed, 2, s);
    group_text(k, sizeof k, "skipped", skipped, 5, s);
    hd_status_draw(&v->ctx->log.status, "sent %lld  %s  held_out %lld  %s  retrying %lld  %.0f/s%s",
                   (long long)s->by_state[HD_ST_SENT], f, (long long)s->by_state[HD_ST_HELD_OUT], k,
                   (long long)s->retries, rate, eta);
    v->drawn = true;
}

void cli_fire_progress(void *ud, const char *campaign, int64_t queued)
{
    struct cli_view *v = ud;
    if (!v->ctx->progress)
        return;
    hd_status_draw(&v->ctx->log.status, "campaign '%s': queued %lld", campaign, (long long)queued);
    v->drawn = true;
}

int cli_dispatch(struct hd_ctx *ctx, struct hd_dispatch_opts *o, struct cli_view *v,
                 struct hd_dispatch_stats *stats, struct hd_err *err)
{
    struct hd_dispatch *d = NULL;
    int rc;
    hd_clock_run(&ctx->clock);
    o->stop = &stop_flag;
    o->progress = v->ctx->progress ? draw : NULL; /* without, no totals to count */
    o->progress_ud = v;
    o->fire_progress = cli_fire_progress;
    v->start_ms = hd_clock_mono_ms();
    hd_status_clear(&ctx->log.status); /* a caller may have erased the firing's line */
    if ((rc = hd_dispatch_new(ctx->cfg, ctx->store, &ctx->log, &ctx->clock, o, &d, err)) == 0)
        rc = hd_dispatch_run(d, err);
    if (d)
        hd_dispatch_get_stats(d, stats);
    hd_dispatch_free(d);
    hd_status_clear(&ctx->log.status);
    return rc;
}

/* SIGHUP reloads (run only: for send it stays a hang-up that ends it). */
static void catch_reload(struct hd_dispatch_opts *o, struct reloader *r)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_hangup;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    o->service = r->service;
    o->reload = &reload_flag;
    o->on_reload = reload;
    o->reload_ud = r;
}

/* run --serve: the service, and the thread that stops it with the rest. */
struct beside {
    struct hd_serve *srv;
    pthread_t th;
};

static void *serve_main(void *srv)
{
    hd_serve_wait(srv);
    return NULL;
}

static int serve_begin(struct hd_ctx *ctx, const char *listen, struct beside *b, struct hd_err *err)
{
    struct hd_serve_opts so = {.listen = listen,
                               .stopped = cli_stopped,
                               .announce = stdout,
                               .db_password = cmd_db_password(ctx, hd_ctx_db_path(ctx))};
    hd_clock_run(&ctx->clock);
    int rc =
        hd_serve_start(ctx->cfg, hd_ctx_db_path(ctx), &ctx->log, &ctx->clock, &so, &b->srv, err);
    if (rc == 0 && pthread_create(&b->th, NULL, serve_main, b->srv) != 0) {
        hd_serve_free(b->srv);
        b->srv = NULL;
        rc = hd_err_set(err, HD_E_IO, "cannot start the service's thread");
    }
    return rc;
}

static void serve_end(struct beside *b)
{
    if (!b->srv)
        return;
    stop_flag = 1; /* the dispatcher may have ended on an error, not a signal */
    pthread_join(b->th, NULL);
    hd_serve_free(b->srv);
}

int cmd_run(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_spec spec = {"run", run_usage, cli_dispatch_opts, CLI_RUN, NULL, NULL};
    struct hd_dispatch_opts o = {.schedule = true, .grace_ms = 10000};
    struct cli_dispatch_args args = {.spec = &spec, .o = &o};
    int rc, i = cli_parse(&spec, argc, argv, cli_dispatch_opt, &args, &rc);
    if (i < 0)
        return rc;
    if (i != argc)
        return cmd_usage("run", run_usage, "unexpected argument '%s'", argv[i]);
    if (args.listen && !args.serve)
        return cmd_usage("run", run_usage, "--listen goes with --serve");
    if (args.serve && o.once)
        return cmd_usage("run", run_usage, "--serve runs until stopped: not with --once");
    if (!ctx->store)
        return cmd_help(run_usage);
    struct hd_err err = {0};
    struct beside b = {0};
    struct hd_dispatch_stats s;
    struct cli_view v = {.ctx = ctx};
    struct hd_service service;
    struct reloader r = {ctx, &service, NULL, 0};
    cli_catch_signals();
    hd_service_init(&service);
    catch_reload(&o, &r);
    hd_log_info(&ctx->log, "herald run: dispatching%s%s (pid %ld)", o.once ? " once" : "",
                args.serve ? " and serving" : "", (long)getpid());
    if (args.serve) /* the service's threads log too: no progress line to redraw */
        ctx->progress = false;
    struct cli_bounces_poll bp;
    struct cli_webhooks wh;
    memset(&wh, 0, sizeof wh);
    /* the webhooks first: a new one's cursor must start before this run's
     * first event, a message sent or a receipt or opt-out served */
    rc = o.once ? 0 : cli_webhooks_start(ctx, &wh, &err);
    if (rc == 0 && args.serve)
        rc = serve_begin(ctx, args.listen, &b, &err);
    if (rc == 0 && !o.once)
        rc = cli_bounces_poll_start(ctx, &bp, &err);
    else
        memset(&bp, 0, sizeof bp);
    if (rc == 0)
        rc = cli_dispatch(ctx, &o, &v, &s, &err);
    cli_webhooks_stop(&wh);
    cli_bounces_poll_stop(&bp);
    serve_end(&b);
    for (size_t k = 0; k < r.nretired; k++)
        hd_config_free(r.retired[k]);
    free(r.retired);
    if (rc < 0)
        return cmd_fail(ctx, &err);
    hd_log_info(&ctx->log, "herald run: stopped; %lld sent, %lld failed in this run",
                (long long)s.by_state[HD_ST_SENT], (long long)s.by_state[HD_ST_FAILED]);
    return EXIT_OK;
}
