/* submit: jobs to the drivers, and the drivers' results back.
 *
 * Per provider, a FIFO of claimed jobs; one is handed to the driver when
 * the provider has less than its window in flight (hd_driver_window) and
 * both its token bucket and the campaign's give a token. Jobs in flight
 * are on a doubly linked list so that a result takes its job off in O(1);
 * results are copied into d->res for write.c, which is sized so that it
 * never fills (submit stops at FLUSH_BATCH * 4). A throttled answer pauses
 * its provider's bucket and driver the moment it is collected, from the
 * time the gateway gave it, and asks for an early write so that other
 * dispatchers see the pause; on a shared store it is also published at
 * once (hd_store_pause_publish), and other nodes' hints are taken in at
 * every turn and between the pieces of a claim or a write
 * (hd_store_pause_hints). Their pauses reach us through
 * hd_dsp_shared_pause. On a shared store (PostgreSQL, several nodes) a
 * provider's rate is the cluster's: instead of its own bucket, a message
 * takes a token the node took from the provider's row in the store
 * (hd_dsp_take_rates, between transactions: the row is locked only for
 * its one statement), a tenth of a second's worth at a time, and no more
 * than the driver has room for. A token is spent when its message is
 * handed to the driver, so on a shared store the driver is handed no more
 * than a grant's worth at once (hd_dsp_cluster_windows; the SMTP driver
 * would take 64 a connection): what waits in a driver has its tokens
 * already, and would reach the gateway in one bunch, above the cluster's
 * rate, after the gateway slowed down or the node was frozen. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dispatch_int.h"

/* A pause that ends no more than this later than the one published is not
 * published again: the batch's write records it a moment later. */
#define PUBLISH_SLACK_MS 50

int hd_dsp_open_driver(struct hd_dispatch *d, struct prov *p, struct hd_err *err)
{
    if (p->drv)
        return 0;
    int rc = hd_driver_open(p->cfg, d->log, &p->drv, err);
    if (rc < 0)
        hd_err_prefix(err, "provider '%s'", p->cfg->name);
    else if (p->slot)
        hd_driver_share_pause(p->drv, p->slot);
    return rc;
}

int hd_dsp_pauses_open(struct hd_dispatch *d, struct hd_err *err)
{
    struct hd_pauses *pf = NULL;
    struct hd_err perr = {0};
    (void)err;
    /* without the file a pause is still shared, through the database, at
     * the other dispatchers' next look (up to 100 ms, or a write lock, late) */
    if (hd_store_pauses(d->st, &pf, &perr) < 0)
        hd_log_warn(d->log, "provider pauses are shared through the database only: %s", perr.msg);
    for (size_t i = 0; pf && i < d->cfg->nproviders; i++)
        d->prov[i].slot = hd_pauses_slot(pf, d->prov[i].cfg->name);
    return 0;
}

/* Whether p's rate is shared with other nodes through the store. */
static bool cluster_rate(const struct hd_dispatch *d, const struct prov *p)
{
    return d->shared && p->bucket.per_ms > 0;
}

/* hd_bucket_take for a rate the cluster shares: a token the node took
 * from the store, in place of its own bucket's (which would hold back
 * tokens the cluster gave, and let them out later in a bunch); the
 * bucket's pause still holds. */
static int64_t cluster_take(struct prov *p, int64_t mono)
{
    if (mono < p->bucket.paused_until_ms)
        return p->bucket.paused_until_ms - mono;
    if (p->grant == 0)
        return p->next_grant_ms > mono ? p->next_grant_ms - mono : 1;
    p->grant--;
    return 0;
}

/* What a node takes from the cluster's bucket at a time: a tenth of a
 * second's worth, at most the burst, at least one. */
static size_t grant_size(const struct prov *p)
{
    double want = p->bucket.per_ms * 100.0;
    if (want > p->bucket.burst)
        want = p->bucket.burst;
    return want < 1.0 ? 1 : (size_t)want;
}

void hd_dsp_cluster_windows(struct hd_dispatch *d)
{
    for (size_t i = 0; i < d->cfg->nproviders; i++) {
        struct prov *p = &d->prov[i];
        size_t w = grant_size(p), conns = p->cfg->connections ? p->cfg->connections : 1;
        if (w < conns)
            w = conns;
        if (cluster_rate(d, p) && w < p->window)
            p->window = w;
    }
}

int hd_dsp_take_rates(struct hd_dispatch *d, int64_t mono, struct hd_err *err)
{
    for (size_t i = 0; i < d->cfg->nproviders; i++) {
        struct prov *p = &d->prov[i];
        int rc, got = 0;
        if (!cluster_rate(d, p) || !p->head || p->grant > 0 || mono < p->next_grant_ms ||
            mono < p->bucket.paused_until_ms || p->inflight >= p->window)
            continue;
        /* no more than the driver can take now: tokens held while it is
         * full would go out later in a bunch with the next ones */
        size_t want = grant_size(p), room = p->window - p->inflight;
        if (want > room)
            want = room;
        if ((rc = hd_store_rate_take(d->st, p->cfg->name, p->bucket.per_ms, p->bucket.burst,
                                     (int)want, &got, err)) < 0)
            return rc;
        p->grant = got;
        if (got == 0) { /* spent by the cluster: ask again when one is due */
            int64_t next = (int64_t)(1.0 / p->bucket.per_ms) + 1;
            p->next_grant_ms = mono + (next < 100 ? next : 100);
        }
    }
    return 0;
}

/* Hands waiting messages to drivers as their buckets and connections
 * allow; returns the milliseconds until a token is due (0: none waits). */
/* j, at the head of p's queue, leaves it for d->late: the claim decided
 * on it at a time it could go, and the rate held it until its send_by (a
 * quiet window of the recipient's began, or it expired). It goes back to
 * the queue at the next tick, undecided and without a log row, and the
 * next claim decides again: deferred to the window's end, or expired (a
 * review saw a slow provider send 55 of 60 inside quiet hours). */
static void late(struct hd_dispatch *d, struct prov *p, struct job *j)
{
    p->head = j->next;
    if (!p->head)
        p->tail = NULL;
    if (p->api_last == j)
        p->api_last = NULL;
    j->next = d->late;
    d->late = j;
}

int64_t hd_dsp_submit(struct hd_dispatch *d, struct hd_err *err, int *rc)
{
    int64_t wait = 0, mono = hd_clock_mono_ms(), now = now_ms(d) / 1000;
    for (size_t i = 0; i < d->cfg->nproviders; i++) {
        struct prov *p = &d->prov[i];
        while (p->head && p->inflight < p->window) {
            struct job *j = p->head;
            if (j->send_by > 0 && now >= j->send_by) {
                late(d, p, j); /* its quiet hours began, or it expired, while it waited */
                continue;
            }
            bool cluster = cluster_rate(d, p);
            int64_t w = cluster ? cluster_take(p, mono) : hd_bucket_take(&p->bucket, mono);
            if (w == 0 && j->camp->has_bucket && (w = hd_bucket_take(&j->camp->bucket, mono)) > 0) {
                if (cluster) /* give the provider's token back */
                    p->grant++;
                else
                    p->bucket.tokens += 1;
            }
            if (w > 0) {
                if (wait == 0 || w < wait)
                    wait = w;
                break;
            }
            if ((*rc = hd_dsp_open_driver(d, p, err)) < 0)
                return 0;
            j->submitted_ms = at_mono(d, mono); /* no later than the driver's start */
            struct hd_err serr = {0};
            p->head = j->next;
            if (!p->head)
                p->tail = NULL;
            if (p->api_last == j) /* the API's jobs lead the queue: none is left */
                p->api_last = NULL;
            d->stats.waiting--;
            if (hd_driver_submit(p->drv, &j->msg, &serr) < 0) {
                /* refused before sending: a permanent failure of this message */
                struct hd_result r = {.outcome = HD_OUT_PERMANENT, .user = j};
                j->answered_ms = j->submitted_ms;
                snprintf(r.text, sizeof r.text, "%.500s", serr.msg);
                memcpy(r.id, j->msg.id, sizeof r.id);
                d->res[d->nres++] = r;
            } else {
                p->inflight++;
                d->stats.in_flight++;
                j->iprev = NULL;
                j->inext = d->inflight;
                if (d->inflight)
                    d->inflight->iprev = j;
                d->inflight = j;
            }
            if (j->channel != HD_CH_INBOX)  /* the writer stores an inbox message's parts */
                hd_rendered_release(&j->r); /* the driver has its copy */
            memset(&j->msg, 0, sizeof j->msg);
            d->stats.attempts++;
            if (d->nres >= FLUSH_BATCH * 4)
                return 0;
        }
    }
    return wait;
}

/* Nothing more goes to the provider before until (hd_clock_mono_ms): its
 * bucket gives no token, and what its driver holds stays off the wire. */
static void pause_provider(struct prov *p, int64_t until)
{
    hd_bucket_pause(&p->bucket, until);
    if (p->drv)
        hd_driver_pause(p->drv, until);
}

/* A shared store: the pause reaches the other nodes now, not at the next
 * write (store/notify.c); once for the answers of one burst, each of which
 * would end the pause a few ms later than the one before. */
static void publish(struct hd_dispatch *d, struct prov *p, int64_t until)
{
    if (!d->shared || until <= p->published_ms + PUBLISH_SLACK_MS)
        return;
    p->published_ms = until;
    hd_store_pause_publish(d->st, p->cfg->name,
                           hd_clock_now_ms(NULL) + (until - hd_clock_mono_ms()));
}

static void collect(void *ud, const struct hd_result *r)
{
    struct hd_dispatch *d = ud;
    struct job *j = r->user;
    /* the answer's time, not the write's: a latency, and the start of the
     * pause a throttled answer begins, are as the gateway made them */
    int64_t mono = hd_clock_mono_ms(),
            answered = r->answered_ms > 0 && r->answered_ms <= mono ? r->answered_ms : mono;
    j->answered_ms = at_mono(d, answered);
    unlink_inflight(d, j);
    d->res[d->nres++] = *r;
    if (r->outcome == HD_OUT_PERMANENT && d->cfg->pause_on_failure_rate > 0)
        d->unwritten_refused++;
    if (r->outcome == HD_OUT_THROTTLED) {
        /* pause at once, not when the writer gets to it: nothing more may
         * go to this provider meanwhile; and write (share) it soon */
        int64_t after = r->retry_after_ms > 0 ? r->retry_after_ms : HD_THROTTLE_PAUSE_MS;
        struct prov *p = &d->prov[j->provider];
        j->paused_until = answered + after;
        /* once a pause, not for each message of the session it stopped */
        if (r->provider_fault && p->bucket.paused_until_ms <= answered)
            hd_log_fmsg(d->log, HD_LOG_WARN, &(struct hd_log_fields){.provider = p->cfg->name},
                        "provider '%s' is paused for %lld s: %s (its messages stay queued; "
                        "fix the provider's configuration)",
                        p->cfg->name, (long long)after / 1000, r->text);
        pause_provider(p, j->paused_until);
        d->flush_now = true;
        publish(d, p, j->paused_until);
    }
}

/* Pauses other dispatchers recorded reach our buckets. */
void hd_dsp_shared_pause(void *ud, const char *provider, int64_t until_ms)
{
    struct hd_dispatch *d = ud;
    int64_t now = hd_clock_now_ms(NULL), mono = hd_clock_mono_ms();
    for (size_t i = 0; i < d->cfg->nproviders; i++)
        if (strcmp(d->prov[i].cfg->name, provider) == 0 &&
            d->prov[i].bucket.paused_until_ms < mono + (until_ms - now))
            pause_provider(&d->prov[i], mono + (until_ms - now));
}

/* Between pieces of a claim or a write: takes in the pause hints other
 * nodes sent, hands the drivers what is queued (unless a refusal the
 * circuit breaker has not heard of waits to be written) and takes their
 * results in, without waiting. Touches no store but its listening connection's
 * received data (no round trip). */
int hd_dsp_keep_sending(struct hd_dispatch *d, struct hd_err *err)
{
    int rc = 0;
    /* the circuit breaker paused a campaign in this transaction: its
     * waiting messages go back when it ends (loop.c), none goes out now */
    hd_store_pause_hints(d->st, hd_dsp_shared_pause, d);
    if (!d->tripped && !d->unwritten_refused)
        hd_dsp_submit(d, err, &rc);
    if (rc == 0)
        hd_dsp_poll(d, 0);
    return rc;
}

void hd_dsp_poll(struct hd_dispatch *d, int timeout_ms)
{
    size_t busy = 0;
    for (size_t i = 0; i < d->cfg->nproviders; i++)
        busy += d->prov[i].inflight > 0;
    for (size_t i = 0; i < d->cfg->nproviders; i++) {
        struct prov *p = &d->prov[i];
        if (!p->drv || p->inflight == 0)
            continue;
        /* block only when one provider is busy; several are polled in turn */
        hd_driver_poll(p->drv, busy == 1 ? timeout_ms : 0, collect, d);
    }
    if (busy != 1 && timeout_ms > 0 && d->nres == 0) {
        struct timespec ts = {0, (busy ? 1 : timeout_ms) * 1000000L};
        nanosleep(&ts, NULL);
    }
}
