/* loop: the dispatcher's loop, one thread over the store and the drivers
 * (which run their own threads), and its life.
 *
 * Each turn claims when few messages wait (claim.c), gives back what a
 * campaign the circuit breaker paused has waiting (breaker.c), hands what
 * it can to the drivers and waits for a result, a token or the writer's deadline,
 * whichever comes first (submit.c), and writes the results when a batch
 * is full, old or holds a throttled answer (write.c). Once a second it
 * ticks: fires due campaigns (run), re-reads the runs and gives back what
 * paused or cancelled campaigns had waiting (runs.c), and shares provider
 * tokens between the drivers and the store (creds.c); every 100 ms it
 * reads the pauses other dispatchers recorded.
 *
 * The loop's life is an explicit state that only set_life changes:
 *   running   the above; when idle and every run is drained, finished
 *             runs are marked done, and with `once` the loop stops when
 *             nothing more is due within the linger;
 *   draining  the stop flag was seen: claimed but unsent messages went
 *             back to the queue at once, nothing more is claimed, and
 *             in-flight results are awaited for up to grace_ms;
 *   stopping  out of the loop: a last write, and in-flight messages that
 *             had no result in time are queued again.
 * Leases name this process; a dispatcher that starts requeues what dead
 * ones left in `sending`.
 *
 * Every dispatcher is a node (store/nodes.c): registered at start, beating
 * between turns once a second, marked stopped on a clean exit. On
 * PostgreSQL, where nodes on several machines share the store, leases name
 * the node instead, what a node holds goes back to the queue once its beat
 * is older than [dispatch] node_lease (at start and every half lease), and
 * a result is written only while its message holds the claim's fencing
 * token (write.c). A slow node that beats keeps its work.
 *
 * On PostgreSQL an idle `herald run` (nothing claimed, waiting, in flight
 * or unwritten, every run drained and the finished ones marked done)
 * dozes: it looks for no work until [dispatch] poll has passed, or a
 * waiting message or a firing is due, or a wake-up comes first
 * (store/notify.c: LISTEN herald_work on a connection of its own, which
 * the events that make work NOTIFY). Its beat and the rescue go on
 * meanwhile, and the wait lasts at most until the next beat. The
 * wake-up is a hint: polling still finds whatever it missed, and with no
 * listening connection the doze is a plain sleep. SQLite's loop, and a
 * `--once` or `send` loop on either engine, polls as before. On
 * PostgreSQL every node, `send` and --once too, listens: a throttled
 * provider's pause comes on that connection as well (herald_pause, sent
 * at once by the throttled node, submit.c), taken in without blocking at
 * each turn and between the pieces of a claim or a write; the
 * provider_pauses table, read every 100 ms, stays the truth.
 *
 * Under a service manager (opts.service) the loop says READY=1 once it has
 * started, STATUS= with its counts at each tick, STOPPING=1 when it drains,
 * and pings the watchdog between turns and while a firing materializes a
 * run. A reload (SIGHUP sets opts.reload) is taken between turns while
 * running, through opts.on_reload, which may call hd_dispatch_reconfigure
 * (reload.c). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include "dispatch_int.h"

static const char *const life_names[LIFE_COUNT] = {"running", "draining", "stopping"};

static bool process_alive(int64_t pid)
{
    return pid > 0 && pid <= INT32_MAX && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* At the end of a stop: our own in-flight messages count as abandoned. */
static bool others_alive(int64_t pid)
{
    return pid != (int64_t)getpid() && process_alive(pid);
}

/* HERALD_TEST only (as hooks_sns.c's certificate host): the pauses
 * HERALD_TEST_RENDER_MS (before a claim's renders) and HERALD_TEST_CLAIM_MS (in
 * each claim's transaction, after its facts are read) stand for a slow
 * template or a loaded machine, which a test cannot count on. */
static void test_pauses(struct hd_dispatch *d)
{
    d->test_render_ms = hd_test_ms("HERALD_TEST_RENDER_MS");
    d->test_claim_ms = hd_test_ms("HERALD_TEST_CLAIM_MS");
}

int hd_dispatch_new(const struct hd_config *cfg, struct hd_store *st, struct hd_log *log,
                    const struct hd_clock *clock, const struct hd_dispatch_opts *opts,
                    struct hd_dispatch **out, struct hd_err *err)
{
    struct hd_dispatch *d = hd_xcalloc(1, sizeof *d);
    int rc;
    d->cfg = cfg;
    d->st = st;
    d->log = log;
    d->clock = clock;
    d->opts = *opts;
    d->owner = (int64_t)getpid();
    d->mono_base = now_ms(d) - hd_clock_mono_ms();
    d->zones = hd_zones_new(cfg->timezone);
    d->fmt = hd_fmt_new();
    d->vars = hd_tpl_vars(cfg);
    /* results held at once: submit stops at FLUSH_BATCH * 4, and then
     * whatever is in flight can still come back */
    size_t cap = FLUSH_BATCH * 4 + MAX_WAITING + 64;
    d->prov = hd_xcalloc(cfg->nproviders ? cfg->nproviders : 1, sizeof *d->prov);
    for (size_t i = 0; i < cfg->nproviders; i++) {
        d->prov[i].cfg = &cfg->providers[i];
        d->prov[i].window = hd_driver_window(&cfg->providers[i]);
        cap += d->prov[i].window;
        hd_bucket_init(&d->prov[i].bucket, &cfg->providers[i].rate, cfg->providers[i].burst,
                       hd_clock_mono_ms());
    }
    d->res = hd_xcalloc(cap, sizeof *d->res);
    d->ids = hd_xcalloc(cap > MAX_WAITING ? cap : MAX_WAITING, sizeof *d->ids);
    d->shared = hd_store_nodes_shared(st);
    hd_dsp_cluster_windows(d);
    if (d->shared) {
        d->tokens = hd_xcalloc(cap, sizeof *d->tokens);
        d->held = hd_xcalloc(cap, sizeof *d->held);
    }
    d->sends = hd_xcalloc(MAX_WAITING, sizeof *d->sends);
    d->made = hd_xcalloc(MAX_WAITING, sizeof *d->made);
    test_pauses(d);
    if ((rc = hd_store_instance(st, d->instance, err)) < 0 ||
        (rc = hd_tpl_set_open(cfg->templates, &d->tpls, err)) < 0) {
        hd_dispatch_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void hd_dispatch_get_stats(struct hd_dispatch *d, struct hd_dispatch_stats *out)
{
    *out = d->stats;
}

static void progress(struct hd_dispatch *d, bool force)
{
    int64_t mono = hd_clock_mono_ms();
    if (!d->opts.progress || (!force && mono - d->last_progress_ms < 200))
        return;
    d->last_progress_ms = mono;
    d->opts.progress(d->opts.progress_ud, &d->stats);
}

/* Totals for `send`'s progress: the messages of the runs dispatched, and
 * how many of them were finished before we started. */
static int count_total(struct hd_dispatch *d, struct hd_err *err)
{
    int64_t counts[HD_ST_COUNT];
    int rc;
    if (!d->opts.campaign || !d->opts.progress) /* a scan of every message: only to show */
        return 0;
    if ((rc = hd_store_run_counts(d->st, d->opts.campaign, 0, counts, err)) < 0)
        return rc;
    d->stats.total = d->stats.finished_before = 0;
    for (int s = 0; s < HD_ST_COUNT; s++) {
        d->stats.total += counts[s];
        if (hd_state_terminal(s))
            d->stats.finished_before += counts[s];
    }
    return 0;
}

/* What `systemctl status` shows. */
static void tell_status(struct hd_dispatch *d)
{
    if (d->opts.service && d->opts.service->notify)
        hd_service_notifyf(
            d->opts.service, "STATUS=%s: %lld sent, %lld failed, %lld in flight, %zu active runs",
            life_names[d->life], (long long)d->stats.by_state[HD_ST_SENT],
            (long long)d->stats.by_state[HD_ST_FAILED], (long long)d->stats.in_flight, d->nruns);
}

/* The one place the loop's life changes; it only goes forward. */
static void set_life(struct hd_dispatch *d, enum life to)
{
    if (to <= d->life || to >= LIFE_COUNT)
        HD_BUG("the dispatcher cannot go from %s to %d", life_names[d->life], (int)to);
    hd_log_debug(d->log, "dispatcher: %s -> %s", life_names[d->life], life_names[to]);
    d->life = to;
}

/* Wall-clock seconds: nodes compare their beats across processes, so not
 * the business clock a test may set. */
static int64_t wall_secs(void)
{
    return hd_clock_now_ms(NULL) / 1000;
}

/* The node's row; on PostgreSQL its id is what its leases name. */
static int register_node(struct hd_dispatch *d, struct hd_err *err)
{
    char host[HOST_NAME_MAX + 1] = "";
    if (gethostname(host, sizeof host - 1) < 0 || !host[0])
        snprintf(host, sizeof host, "unknown");
    int rc = hd_store_node_register(d->st, host, (int64_t)getpid(), HD_VERSION, wall_secs(),
                                    &d->node, err);
    if (rc < 0)
        return rc;
    d->last_beat_ms = d->last_rescue_ms = hd_clock_mono_ms();
    hd_log_debug(d->log, "dispatcher: node %lld on %s, process %lld", (long long)d->node, host,
                 (long long)getpid());
    if (!d->shared)
        return 0;
    d->owner = d->node;
    /* frozen inside a transaction, its locks would keep its messages from
     * being rescued: the server ends such a session within half a lease */
    int64_t guard = d->cfg->node_lease / 2;
    if ((rc = hd_store_node_guard(d->st, guard > 0 ? guard : 1, err)) < 0)
        return rc;
    return 0;
}

/* PostgreSQL: what nodes that stopped beating hold goes back. */
static int rescue(struct hd_dispatch *d, struct hd_err *err)
{
    int64_t n = 0;
    int rc =
        hd_store_recover_nodes(d->st, d->node, wall_secs(), d->cfg->node_lease, false, &n, err);
    if (rc == 0 && n)
        d->doze_until = 0; /* our own hint does not wake us (store/notify.c) */
    if (rc == 0 && n)
        hd_log_warn(d->log,
                    "%lld messages were held by nodes with no heartbeat for %lld s; they are "
                    "queued again (the gateway may see them twice, with the same message id)",
                    (long long)n, (long long)d->cfg->node_lease);
    return rc;
}

/* PostgreSQL: this node did not beat for longer than the lease (it was
 * frozen, or its turn stalled), so other nodes may have taken some of its
 * messages over. Those it claimed and has not handed to a driver yet
 * leave its queue as lease_lost rows instead of going out a second time
 * (write.c); the ones it still holds stay. */
static int lapsed(struct hd_dispatch *d, int64_t quiet_ms, struct hd_err *err)
{
    int64_t waiting = d->stats.waiting, n = 0;
    int rc = hd_dsp_drop_taken(d, &n, err);
    if (rc == 0)
        hd_log_warn(d->log,
                    "this node had no heartbeat for %lld ms, longer than the lease (%lld s): "
                    "another node took %lld of the %lld messages it had claimed and not sent "
                    "over meanwhile; they do not go out from here (lease_lost)",
                    (long long)quiet_ms, (long long)d->cfg->node_lease, (long long)n,
                    (long long)waiting);
    return rc;
}

/* Between turns (and a claim's renders): a beat each second, and on
 * PostgreSQL a look for lost nodes' messages every half lease. */
int hd_dsp_beat(struct hd_dispatch *d, struct hd_err *err)
{
    int rc = 0;
    int64_t mono = hd_clock_mono_ms();
    if (mono - d->last_beat_ms >= 1000) {
        int64_t quiet = mono - d->last_beat_ms;
        d->last_beat_ms = mono;
        rc = hd_store_node_beat(d->st, d->node, wall_secs(), err);
        bool late = d->shared && quiet > d->cfg->node_lease * 1000;
        d->lapses += late; /* a claim rendering meanwhile checks its own (claim.c) */
        if (rc == 0 && late && d->life == LIFE_RUNNING && d->stats.waiting > 0)
            rc = lapsed(d, quiet, err);
    }
    if (rc == 0 && d->shared && d->life == LIFE_RUNNING &&
        mono - d->last_rescue_ms >= d->cfg->node_lease * 500) {
        d->last_rescue_ms = mono;
        rc = rescue(d, err);
    }
    return rc;
}

/* Start: what dead dispatchers left in flight is queued again. */
static int start(struct hd_dispatch *d, struct hd_err *err)
{
    int64_t recovered = 0;
    int rc;
    if ((rc = register_node(d, err)) < 0)
        return rc;
    if (d->shared)
        rc = rescue(d, err);
    else
        rc = hd_store_recover(d->st, d->owner, now_ms(d) / 1000, process_alive, &recovered, err);
    if (rc < 0)
        return rc;
    if (recovered)
        hd_log_warn(d->log,
                    "%lld messages were in flight when a dispatcher stopped; they are queued "
                    "again (the gateway may see them twice, with the same message id)",
                    (long long)recovered);
    if ((rc = hd_dsp_pauses_open(d, err)) < 0 || (rc = hd_dsp_creds_open(d, err)) < 0 ||
        (rc = hd_dsp_load_runs(d, err)) < 0 || (rc = count_total(d, err)) < 0)
        return rc;
    d->next_fire = -1;
    /* `send` and --once listen too, for pause hints; they do not doze */
    if (d->shared) {
        d->listening = hd_store_listen(d->st);
        if (d->listening && !d->opts.once)
            hd_log_debug(d->log, "dispatcher: listening for wake-ups; polling every %lld s",
                         (long long)d->cfg->idle_poll);
        else if (!d->opts.once)
            hd_log_info(d->log, "dispatcher: no connection for wake-ups; polling every %lld s",
                        (long long)d->cfg->idle_poll);
    }
    return 0;
}

/* Running -> draining: no more claims, and what waits goes back. */
static int drain(struct hd_dispatch *d, int64_t mono, struct hd_err *err)
{
    hd_log_info(d->log,
                "stopping: no more claims; waiting up to %lld ms for %lld "
                "messages in flight",
                (long long)d->opts.grace_ms, (long long)d->stats.in_flight);
    set_life(d, LIFE_DRAINING);
    hd_service_notifyf(d->opts.service,
                       "STOPPING=1\nSTATUS=stopping: waiting up to %lld ms for %lld messages in "
                       "flight",
                       (long long)d->opts.grace_ms, (long long)d->stats.in_flight);
    d->stop_at = mono + d->opts.grace_ms;
    return hd_dsp_release_waiting(d, true, err);
}

/* A firing's progress: the watchdog is pinged while a large run is
 * materialized, and the caller's progress line drawn. */
static void firing(void *ud, const char *campaign, int64_t queued)
{
    struct hd_dispatch *d = ud;
    hd_service_watchdog(d->opts.service, hd_clock_mono_ms());
    if (d->opts.fire_progress)
        d->opts.fire_progress(d->opts.progress_ud, campaign, queued);
}

/* Once a second: new runs, and campaigns paused or cancelled meanwhile. */
static int tick(struct hd_dispatch *d, int64_t mono, struct hd_err *err)
{
    int fired = 0, rc;
    d->last_tick_ms = mono;
    int64_t base = now_ms(d) - hd_clock_mono_ms();
    if (base > d->mono_base + 100 || base < d->mono_base - 100)
        d->mono_base = base;
    hd_dsp_creds_sync(d);
    tell_status(d);
    if (d->listening) /* awake, we look anyway: what woke us meanwhile is moot */
        hd_store_wait_work(d->st, 0);
    if ((d->opts.schedule && (rc = hd_campaign_tick(d->st, d->cfg, now_ms(d), d->log, firing, d,
                                                    &fired, &d->next_fire, err)) < 0) ||
        (rc = hd_dsp_load_runs(d, err)) < 0 || (rc = hd_dsp_release_waiting(d, false, err)) < 0)
        return rc;
    return 0;
}

/* Every turn, running or draining: shared pauses, hand out, wait, write. */
static int exchange(struct hd_dispatch *d, int64_t mono, int claimed, struct hd_err *err)
{
    int rc = 0;
    hd_store_pause_hints(d->st, hd_dsp_shared_pause, d); /* other nodes', at once */
    if (mono - d->last_pauses_ms >= 100) {
        d->last_pauses_ms = mono;
        if ((rc = hd_store_provider_pauses(d->st, hd_clock_now_ms(NULL), hd_dsp_shared_pause, d,
                                           err)) < 0)
            return rc;
    }
    /* a campaign the breaker paused sends nothing more of what waits */
    if (d->tripped) {
        d->tripped = false;
        if ((rc = hd_dsp_release_waiting(d, false, err)) < 0)
            return rc;
    }
    if (d->shared && (rc = hd_dsp_take_rates(d, mono, err)) < 0)
        return rc;
    /* nothing more goes out while a refusal the circuit breaker has not
     * heard of waits to be written (it is written this turn, below): what
     * a driver holds when the breaker trips is all that may fail after */
    int64_t wait = d->unwritten_refused ? 0 : hd_dsp_submit(d, err, &rc);
    if (rc < 0)
        return rc;
    /* everything that can go has gone: wait for a result, a token or
     * the writer's deadline, whichever comes first */
    int64_t timeout = claimed > 0 ? 0 : 20;
    if (wait > 0 && wait < timeout)
        timeout = wait;
    if (d->nres > 0) {
        int64_t left = FLUSH_MS - (hd_clock_mono_ms() - d->last_flush_ms);
        timeout = left < 0 || d->unwritten_refused ? 0 : left < timeout ? left : timeout;
    }
    hd_dsp_poll(d, (int)timeout);
    if (d->nres >= FLUSH_BATCH || d->flush_now || d->unwritten_refused ||
        (d->nres > 0 && hd_clock_mono_ms() - d->last_flush_ms >= FLUSH_MS) ||
        (d->nres > 0 && d->stats.in_flight == 0))
        if ((rc = hd_dsp_flush(d, err)) < 0)
            return rc;
    progress(d, false);
    return 0;
}

/* The wake-ups' connection came or went: said once each way. */
static void note_listening(struct hd_dispatch *d)
{
    bool now = hd_store_listening(d->st);
    if (now == d->listening)
        return;
    d->listening = now;
    if (now)
        hd_log_info(d->log, "dispatcher: listening for wake-ups again");
    else
        hd_log_info(d->log,
                    "dispatcher: the connection for wake-ups was lost; polling every %lld s "
                    "until it is back",
                    (long long)d->cfg->idle_poll);
}

/* Awake: the next turn ticks, claims and reads the pauses at once. */
static void wake(struct hd_dispatch *d, int64_t mono, const char *why)
{
    d->doze_until = 0;
    d->last_tick_ms = d->last_pauses_ms = mono - 1000;
    d->next_claim_ms = d->next_lane_ms = mono;
    hd_log_debug(d->log, "dispatcher: looking for work (%s)", why);
}

/* PostgreSQL, idle: the poll, or a waiting message or a firing due
 * sooner, sets when to look again; nothing due yet is what makes it idle. */
static void fall_asleep(struct hd_dispatch *d, int64_t mono, int64_t next_due)
{
    for (size_t i = 0; i < d->nruns; i++)
        if (!d->runs[i].drained) /* a run the tick just loaded */
            return;
    int64_t wait = d->cfg->idle_poll * 1000, now = now_ms(d);
    if (next_due >= 0 && next_due * 1000 - now < wait)
        wait = next_due * 1000 - now;
    if (d->next_fire >= 0 && d->next_fire * 1000 - now < wait)
        wait = d->next_fire * 1000 - now;
    if (wait <= 0) /* due already: keep polling as when busy */
        return;
    d->doze_until = mono + wait;
    hd_log_debug(d->log, "dispatcher: idle; looking for work again in %lld ms or at a wake-up",
                 (long long)wait);
}

/* One turn of a doze: wait for a wake-up until the next beat or the end
 * of the doze, whichever comes first; nothing else touches the store. */
static int doze(struct hd_dispatch *d, int64_t mono)
{
    if (mono >= d->doze_until) {
        wake(d, mono, "the poll");
        return 0;
    }
    int64_t until = d->doze_until, beat = d->last_beat_ms + 1000;
    if (beat < until)
        until = beat;
    int woke = hd_store_wait_work(d->st, until > mono ? (int)(until - mono) : 0);
    note_listening(d);
    if (woke)
        wake(d, hd_clock_mono_ms(), "a wake-up");
    return 0;
}

/* Running with nothing claimed, waiting, in flight or unwritten: are the
 * runs finished? With `once`, stop when nothing more is due soon. */
static int idle(struct hd_dispatch *d, int64_t mono, struct hd_err *err)
{
    /* at most once a second (last_finish_ms); not timed by the tick, which
     * runs earlier in the same turn and would always have just run */
    bool all_drained = true;
    for (size_t i = 0; i < d->nruns; i++)
        all_drained &= d->runs[i].drained;
    if (!all_drained || mono - d->last_finish_ms < 1000)
        return 0;
    d->last_finish_ms = mono;
    int64_t next_due;
    int rc, open = hd_dsp_finish_runs(d, &next_due, err);
    if (open < 0)
        return open;
    if ((rc = hd_dsp_load_runs(d, err)) < 0)
        return rc;
    if (!d->opts.once) {
        if (d->shared)
            fall_asleep(d, mono, next_due);
        return 0;
    }
    int64_t now = now_ms(d) / 1000;
    if (open == 0 || next_due < 0 || next_due > now + d->opts.linger)
        set_life(d, LIFE_STOPPING);
    else
        d->next_claim_ms = hd_clock_mono_ms() + 200;
    return 0;
}

/* With `once`: whether everything claimed waits behind providers' pauses
 * that end after the linger (a gateway that refuses herald's login pauses
 * its provider a minute at a time). Then nothing more goes out in time,
 * and the send stops as on SIGTERM: what waits goes back to the queue. A
 * message claimed after another of the same provider was refused would
 * otherwise wait for the pause, be refused in turn, pause the provider
 * again for the first one, and keep `herald send --wait` running. */
static bool behind_pauses(const struct hd_dispatch *d, int64_t mono)
{
    if (!d->opts.once || d->nres > 0 || d->fresh || d->late ||
        (d->stats.waiting == 0 && d->stats.in_flight == 0))
        return false;
    for (size_t i = 0; i < d->cfg->nproviders; i++) {
        const struct prov *p = &d->prov[i];
        if ((p->head || p->inflight > 0) &&
            p->bucket.paused_until_ms <= mono + d->opts.linger * 1000)
            return false;
    }
    return true;
}

static int running(struct hd_dispatch *d, int64_t mono, struct hd_err *err)
{
    int rc, claimed = 0;
    if (d->doze_until)
        return doze(d, mono);
    if (mono - d->last_tick_ms >= 1000 && (rc = tick(d, mono, err)) < 0)
        return rc;
    if (d->stats.waiting < MAX_WAITING / 2 && mono >= d->next_claim_ms) {
        if ((claimed = hd_dsp_claim(d, MAX_WAITING - (int)d->stats.waiting, false, err)) < 0)
            return claimed;
        if (claimed == 0)
            d->next_claim_ms = mono + 200;
    } else if (mono >= d->next_lane_ms) {
        /* a run the API opened joins now rather than at the next tick */
        int64_t newest = 0;
        d->next_lane_ms = mono + LANE_MS;
        if ((rc = hd_store_runs_newest(d->st, &newest, err)) < 0)
            return rc;
        if (newest > d->newest_run && (rc = hd_dsp_load_runs(d, err)) < 0)
            return rc;
        d->newest_run = newest;
        if (d->nruns && d->runs[0].camp->c.api &&
            (claimed = hd_dsp_claim(d, LANE_ROOM, true, err)) < 0)
            return claimed;
        if (claimed == 0 && mono >= d->next_close_ms) {
            d->next_close_ms = mono + 1000;
            if ((rc = hd_dsp_close_api_runs(d, err)) < 0)
                return rc;
        }
    }
    if ((rc = exchange(d, mono, claimed, err)) < 0)
        return rc;
    if (behind_pauses(d, mono))
        return drain(d, mono, err);
    if (claimed > 0 || d->stats.in_flight > 0 || d->stats.waiting > 0 || d->nres > 0)
        return 0;
    return idle(d, mono, err);
}

static int draining(struct hd_dispatch *d, int64_t mono, struct hd_err *err)
{
    if (d->stats.in_flight == 0 || mono >= d->stop_at) {
        set_life(d, LIFE_STOPPING);
        return 0;
    }
    return exchange(d, mono, 0, err);
}

/* Out of the loop: the last results are written, and whatever did not
 * come back in time goes back to the queue now, rather than when the
 * lease runs out; it may have been sent. */
static int stopping(struct hd_dispatch *d, struct hd_err *err)
{
    int rc;
    if ((rc = hd_dsp_flush(d, err)) < 0)
        return rc;
    hd_dsp_creds_sync(d);
    if (d->stats.in_flight > 0) {
        int64_t n = 0;
        if (d->shared)
            rc = hd_store_recover_nodes(d->st, d->node, wall_secs(), 0, true, &n, err);
        else
            rc = hd_store_recover(d->st, -1, now_ms(d) / 1000, others_alive, &n, err);
        if (rc < 0)
            return rc;
        hd_log_warn(d->log, "%lld messages had no result in time; they are queued again",
                    (long long)n);
    }
    progress(d, true);
    return hd_store_node_stop(d->st, d->node, wall_secs(), err);
}

/* Between turns: the watchdog, and a reload SIGHUP asked for. */
static void between_turns(struct hd_dispatch *d, int64_t mono)
{
    hd_service_watchdog(d->opts.service, mono);
    if (d->life == LIFE_RUNNING && d->opts.reload && *d->opts.reload) {
        *d->opts.reload = 0;
        if (d->opts.on_reload)
            d->opts.on_reload(d->opts.reload_ud, d);
    }
}

int hd_dispatch_run(struct hd_dispatch *d, struct hd_err *err)
{
    int rc;
    if ((rc = start(d, err)) < 0)
        return rc;
    hd_service_notifyf(d->opts.service, "READY=1\nSTATUS=running: %zu active runs", d->nruns);
    while (d->life != LIFE_STOPPING) {
        int64_t mono = hd_clock_mono_ms();
        between_turns(d, mono);
        if ((rc = hd_dsp_beat(d, err)) < 0)
            return rc;
        if (d->life == LIFE_RUNNING && d->opts.stop && *d->opts.stop &&
            (rc = drain(d, mono, err)) < 0)
            return rc;
        switch (d->life) {
        case LIFE_RUNNING:
            rc = running(d, mono, err);
            break;
        case LIFE_DRAINING:
            rc = draining(d, mono, err);
            break;
        default:
            HD_BUG("the dispatcher's loop runs in state %s", life_names[d->life]);
        }
        if (rc < 0)
            return rc;
    }
    return stopping(d, err);
}

void hd_dispatch_free(struct hd_dispatch *d)
{
    if (!d)
        return;
    for (size_t i = 0; d->prov && i < d->cfg->nproviders; i++) {
        hd_driver_free(d->prov[i].drv);
        while (d->prov[i].head) {
            struct job *j = d->prov[i].head;
            d->prov[i].head = j->next;
            job_free(j);
        }
        d->prov[i].api_last = NULL;
    }
    free(d->prov);
    hd_dsp_drop_fresh(d);
    while (d->late) {
        struct job *j = d->late;
        d->late = j->next;
        job_free(j);
    }
    while (d->inflight) { /* their results were dropped with the drivers */
        struct job *j = d->inflight;
        d->inflight = j->inext;
        job_free(j);
    }
    hd_dsp_runs_release(d);
    free(d->res);
    free(d->ids);
    free(d->tokens);
    free(d->held);
    free(d->sends);
    free(d->made);
    hd_zones_free(d->zones);
    hd_fmt_free(d->fmt);
    json_decref(d->vars);
    hd_token_cache_release(&d->links);
    hd_dsp_uuid_release(d);
    hd_tpl_set_free(d->tpls);
    free(d);
}
