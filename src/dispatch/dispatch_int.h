/* dispatch_int: what the dispatcher's parts share. The dispatcher is one
 * thread and one struct hd_dispatch; its work is split by job:
 *
 *   runs.c    which runs are claimed from, their campaigns, and marking
 *             runs (and campaigns) done when nothing is left
 *   claim.c   due messages to jobs: decide, reserve, lease and commit,
 *             then render outside the transaction
 *   submit.c  jobs to the drivers under buckets and windows, and their
 *             results back into d->res
 *   write.c   results (and decisions) to the store in batches
 *   creds.c   providers' reusable tokens between the store and drivers
 *   breaker.c the circuit breaker: a campaign whose messages keep failing
 *             pauses itself
 *   loop.c    the loop over all of these, and its life: running,
 *             draining, stopping
 *
 * The helpers below are static inline because the per-message paths of
 * several parts call them: a call across files costs what the one file
 * did not. */
#ifndef HERALD_DISPATCH_INT_H
#define HERALD_DISPATCH_INT_H

#include <jansson.h>
#include <stdlib.h>

#include "herald/dispatch.h"
#include "herald/token.h"
#include "herald/policy.h"

#define LEASE_SECS 3600
#define MAX_WAITING 2048
/* The API's lane: while the campaigns' messages fill the queue (no claim
 * below MAX_WAITING / 2), the API's runs are still claimed from every
 * LANE_MS, up to LANE_ROOM messages over MAX_WAITING, and their jobs go
 * ahead of the campaigns' at each provider: a password reset does not
 * wait for a campaign's backlog. */
#define LANE_MS 50
#define LANE_ROOM 64
#define FLUSH_MS 50
/* Each commit writes every page it changed whole: the log's, its three
 * indexes', the messages'. Batches of 256 wrote each page about four times
 * over (104,000 page writes for 200,000 pushes); 1,024 took an FCM
 * campaign from 28,000 to 35,000 messages a second. */
#define FLUSH_BATCH 1024
/* While a claim or a write works through its messages, every this many it
 * hands the drivers what is queued and takes their results in: a claim of
 * 512 renders for milliseconds, and the connections would run dry. */
#define KEEP_SENDING 32

/* Which message a log row is about, with the keys the log is read by. */
struct msgref {
    int64_t id, run, contact, campaign;
    int64_t token; /* PostgreSQL: the fencing token it was claimed with; 0 otherwise */
    char variant[32];
};

struct job {
    struct msgref ref; /* the message: id, run, contact, campaign, variant */
    struct camp *camp;
    char *ext_id, *address;
    int channel, ch_index, provider, attempt;
    int segments; /* sms: what the gateway bills */
    /* a stopped dispatcher left it in flight, and it may have gone: its cap
     * reservation stays whatever this attempt's answer is */
    bool may_have_gone;
    /* a later channel of the campaign could take it, as the claim saw it */
    bool can_fall_back;
    bool push_alt;   /* push: another provider of the channel could take another token */
    bool lease_lost; /* another node took it over meanwhile: its result changes nothing */
    char *detail;    /* channels skipped before this one (the log's JSON detail) */
    char *why;       /* its render failed after the claim committed: why (claim.c) */
    int64_t expires_at;
    int64_t send_by; /* hd_decision's: past it, it goes back undecided (submit.c) */
    int64_t submitted_ms, answered_ms; /* handed to the driver; its answer taken in */
    int64_t paused_until; /* throttled: the pause its answer began (hd_clock_mono_ms) */
    struct hd_rendered r;
    struct hd_msg msg;
    char unsub_url[HD_LINK_MAX]; /* its signed link, or "" ([serve] public_url unset) */
    /* "unsubscribe TOKEN" for [serve] unsubscribe_mailto, or NULL: made only
     * then, so that a job (968 bytes) fits malloc's per-thread cache, which
     * takes at most 1,032; at 1,048 each claim and free went through the
     * arena, about 2,000 instructions a message */
    char *unsub_subject;
    struct job *next;          /* in its provider's queue */
    struct job *iprev, *inext; /* in flight */
};

struct prov {
    const struct hd_provider_cfg *cfg;
    struct hd_driver *drv;
    struct hd_bucket bucket;
    struct job *head, *tail;
    /* the last of the API's jobs (they lead the queue), or NULL */
    struct job *api_last;
    size_t inflight, window;    /* handed to the driver, and how many may be */
    bool cred;                  /* its driver has a reusable credential (creds.c) */
    int64_t cred_at;            /* the newest credential's issue time seen here */
    struct hd_pause_slot *slot; /* its slot in the database's pause file, or NULL */
    /* on a shared store (PostgreSQL): tokens taken from the cluster's
     * bucket for this provider and not yet spent (submit.c), and when to
     * ask again after the cluster had none */
    int grant;
    int64_t next_grant_ms;
    /* the end of the latest pause published at once (hd_clock_mono_ms) */
    int64_t published_ms;
};

/* A campaign's last finished messages, for the circuit breaker (breaker.c). */
struct breaker {
    unsigned char *ring; /* [failure_window]: 1 for a failure */
    uint32_t n, pos, fails;
    char word[32], text[400]; /* the latest failure's reason word and text */
};

struct camp {
    struct hd_campaign c;
    struct breaker brk;
    const struct hd_tpl *tpl;
    json_t *json;
    /* whether the template's parts for a channel may show the signed links
     * (unsubscribe_url, preferences_url): only then, or for marketing
     * mail's List-Unsubscribe, does a message get its token */
    bool links[HD_CH_COUNT];
    bool has_bucket;
    struct hd_bucket bucket;
};

struct run {
    int64_t id, seq; /* seq: its number in its campaign, for messages */
    struct camp *camp;
    int64_t busy; /* its messages claimed and not yet written back */
    bool drained; /* the last claim found nothing due */
};

/* The loop's life (loop.c; only set_life changes it). */
enum life {
    LIFE_RUNNING,  /* claiming, sending and writing */
    LIFE_DRAINING, /* asked to stop: no claims; in-flight results until the grace ends */
    LIFE_STOPPING, /* out of the loop: a last write, and what is still out is queued again */
    LIFE_COUNT
};

struct hd_dispatch {
    const struct hd_config *cfg;
    struct hd_store *st;
    struct hd_log *log;
    const struct hd_clock *clock;
    struct hd_dispatch_opts opts;
    struct prov *prov;
    struct camp **camps;
    size_t ncamps;
    struct run *runs;
    size_t nruns;
    struct hd_zones *zones;
    struct hd_tpl_set *tpls;
    struct hd_fmt *fmt;
    json_t *vars;                /* the template variables, under every message's data */
    struct hd_token_cache links; /* the link secret's HMAC state (claim.c) */
    /* EVP_MD_CTX: SHA-256 after "INSTANCE:", the start of every message
     * UUID's input, and the context each UUID is finished in (claim.c) */
    void *uuid_base, *uuid_work;
    char instance[33];
    /* leases name this: the process id, or on PostgreSQL the node's id */
    int64_t owner;
    int64_t node;              /* this node's row in `nodes` (loop.c) */
    bool shared;               /* PostgreSQL: leases by heartbeat, results fenced */
    int64_t last_beat_ms;      /* the node's last heartbeat (hd_clock_mono_ms) */
    int64_t last_rescue_ms;    /* PostgreSQL: the last look for lost nodes' messages */
    int64_t *tokens;           /* a flush's fencing tokens, beside ids (write.c) */
    bool *held;                /* and whether each is still held */
    bool record_lost;          /* the last hd_dsp_record found its lease taken over */
    struct job *inflight;      /* submitted, no result yet */
    struct job *fresh;         /* claimed, not yet queued (rendered after the commit) */
    struct job *late;          /* held by a rate past their send_by: to go back (write.c) */
    int64_t *ids;              /* message ids gathered for one statement */
    struct hd_send_row *sends; /* and their cap reservations, at a claim */
    size_t nids;
    struct hd_result *res;
    size_t nres;
    enum life life;
    int64_t stop_at; /* draining: when the grace ends (hd_clock_mono_ms) */
    int64_t last_flush_ms, next_claim_ms, last_tick_ms, last_progress_ms, last_finish_ms;
    int64_t next_lane_ms;  /* the API's lane: its next claim (loop.c) */
    int64_t newest_run;    /* the newest run seen, to load one the API opened (loop.c) */
    int64_t next_close_ms; /* the API's drained runs: when next set done (loop.c) */
    int64_t last_pauses_ms;
    /* PostgreSQL's `herald run`, idle: no look for work (claims, runs,
     * the scheduler, pauses) before this instant (hd_clock_mono_ms) unless
     * a wake-up comes; 0: awake (loop.c) */
    int64_t doze_until;
    int64_t next_fire; /* the scheduler's next firing (business seconds), or -1 */
    bool listening;    /* the wake-ups' connection was up at the last look */
    /* business time less hd_clock_mono_ms: one offset for the instants the
     * drivers give, so that the times of the log's rows compare exactly
     * (converted each with its own pair of clock reads, they were off by a
     * millisecond either way); the tick takes it again when the two clocks
     * drift more than 100 ms apart */
    int64_t mono_base;
    bool flush_now; /* a throttled result waits to be written and shared */
    bool tripped;   /* the circuit breaker paused a campaign: give back what it has waiting */
    /* a refusal waits among the results not written yet: the circuit
     * breaker may trip on it, so a claim, a render or a write hands the
     * drivers nothing more until it is written (hd_dsp_keep_sending); else
     * what goes out before the breaker hears of it is no longer bounded by
     * a driver's window */
    size_t unwritten_refused;
    struct hd_dispatch_stats stats;
    /* the claim's jobs by their place in its batch, or NULL */
    struct job **made;
    /* PostgreSQL: beats that came later than the lease (loop.c) */
    uint64_t lapses;
    /* HERALD_TEST only: a pause before a claim's renders, and one in its
     * transaction, in ms (the tests of a slow render and of caps across nodes) */
    int test_render_ms, test_claim_ms;
};

/* One change of a message's state, and its row in the delivery log. */
struct rec {
    int from, to, attempts, channel, ch_index;
    int64_t not_before;
    int64_t at_ms, done_ms; /* when the attempt began and its answer came; 0: now */
    /* a gateway's answer (outcome from r), or a decision (skipped, for
     * the reason word); neither: a state change with no log row */
    const struct hd_result *r;
    const char *word, *reason, *detail, *provider, *address;
    int segments;
    double cost;
};

static inline int64_t now_ms(struct hd_dispatch *d)
{
    return hd_clock_now_ms(d->clock);
}

/* A driver's instant (hd_clock_mono_ms) in business time. */
static inline int64_t at_mono(const struct hd_dispatch *d, int64_t mono)
{
    return mono + d->mono_base;
}

static inline void job_free(struct job *j)
{
    if (!j)
        return;
    free(j->ext_id);
    free(j->address);
    free(j->detail);
    free(j->why);
    free(j->unsub_subject);
    hd_rendered_release(&j->r);
    free(j);
}

/* A job in flight leaves its provider's window and the in-flight list:
 * its result came, or its driver gave it back. */
static inline void unlink_inflight(struct hd_dispatch *d, struct job *j)
{
    d->prov[j->provider].inflight--;
    d->stats.in_flight--;
    if (j->iprev)
        j->iprev->inext = j->inext;
    else
        d->inflight = j->inext;
    if (j->inext)
        j->inext->iprev = j->iprev;
}

static inline struct run *run_of(struct hd_dispatch *d, int64_t id)
{
    for (size_t i = 0; i < d->nruns; i++)
        if (d->runs[i].id == id)
            return &d->runs[i];
    return NULL;
}

/* Moves a message's state through queued when it waited (retry_wait,
 * deferred) and on to `to`; the state machine refuses anything else. */
static inline int move(int from, int to, struct hd_err *err)
{
    int s = from;
    if (s != HD_ST_QUEUED && s != HD_ST_SENDING && hd_state_move(&s, HD_ST_QUEUED, err) < 0)
        return HD_E_INVALID;
    if (s == to && to == HD_ST_QUEUED)
        return 0;
    return hd_state_move(&s, to, err);
}

/* ---- runs.c ---- */

/* Re-reads the active runs (and their campaigns' status): new runs join,
 * runs of paused or cancelled campaigns stop being claimed from. */
int hd_dsp_load_runs(struct hd_dispatch *d, struct hd_err *err);
/* Marks runs with nothing left as done, and their campaigns done (or
 * scheduled again when they recur). Returns how many runs are still open;
 * *next_due gets the earliest time a waiting message is due. */
int hd_dsp_finish_runs(struct hd_dispatch *d, int64_t *next_due, struct hd_err *err);
/* Frees the campaigns and runs. */
void hd_dsp_runs_release(struct hd_dispatch *d);
/* Frees the message UUIDs' hash contexts (claim.c). */
void hd_dsp_uuid_release(struct hd_dispatch *d);

/* ---- claim.c ---- */

/* Claims from each run in turn, at most room messages; returns how many
 * were claimed. */
/* Sets the API's drained runs done (runs.c), once a second from the lane. */
int hd_dsp_close_api_runs(struct hd_dispatch *d, struct hd_err *err);
/* lane: only the API's runs (they come first in d->runs), claimed even
 * while the campaigns' queue is full. */
int hd_dsp_claim(struct hd_dispatch *d, int room, bool lane, struct hd_err *err);
/* After a claim rolls back, or fails after its commit: its jobs go (in
 * the store they are still queued, or sending until recovery). */
void hd_dsp_drop_fresh(struct hd_dispatch *d);

/* ---- loop.c ---- */

/* The heartbeat, once a second at most (a clock read when not due), and
 * on PostgreSQL the look for lost nodes' messages: between the loop's
 * turns, and between a claim's renders. */
int hd_dsp_beat(struct hd_dispatch *d, struct hd_err *err);

/* ---- submit.c ---- */

/* Hands waiting messages to drivers as their buckets and connections
 * allow; returns the milliseconds until a token is due (0: none waits). */
int64_t hd_dsp_submit(struct hd_dispatch *d, struct hd_err *err, int *rc);
/* On a shared store: each provider with messages waiting and no tokens
 * left takes some from the cluster's bucket (one round trip each). */
int hd_dsp_take_rates(struct hd_dispatch *d, int64_t mono, struct hd_err *err);
/* Takes the drivers' results into d->res, waiting up to timeout_ms. */
void hd_dsp_poll(struct hd_dispatch *d, int timeout_ms);
/* Between pieces of a claim or a write: takes other nodes' pause hints in
 * (hd_store_pause_hints), hands the drivers what is queued and takes their
 * results in, without waiting. No round trip to the store. */
int hd_dsp_keep_sending(struct hd_dispatch *d, struct hd_err *err);
/* hd_store_provider_pauses' and hd_store_pause_hints' callback: pauses
 * other dispatchers recorded or published reach our buckets. */
void hd_dsp_shared_pause(void *ud, const char *provider, int64_t until_ms);
/* Opens the database's pause file (hd_store_pauses) and takes each
 * provider's slot; without it, pauses are shared through the store only. */
int hd_dsp_pauses_open(struct hd_dispatch *d, struct hd_err *err);
/* The provider's driver, opened once, its pauses shared through its slot. */
int hd_dsp_open_driver(struct hd_dispatch *d, struct prov *p, struct hd_err *err);

/* ---- creds.c ---- */

/* At start: the providers' stored credentials to their drivers (opened
 * now for that). */
int hd_dsp_creds_open(struct hd_dispatch *d, struct hd_err *err);
/* On a tick and at the end: newer credentials from the drivers to the
 * store and from the store to the drivers; a failure is only logged. */
void hd_dsp_creds_sync(struct hd_dispatch *d);

/* ---- breaker.c ---- */

/* A message of the campaign reached state (its log row's reason word and
 * text): a failure or a success enters the window, and enough failures in
 * it pause the campaign (in the caller's transaction). */
int hd_dsp_breaker_note(struct hd_dispatch *d, int64_t campaign, int state, const char *word,
                        const char *text, struct hd_err *err);
/* Empties the window (the campaign was paused), or frees it. */
void hd_dsp_breaker_reset(struct camp *c);
void hd_dsp_breaker_release(struct camp *c);

/* ---- write.c ---- */

/* Writes x: the message's next state and, for an answer or a decision, its
 * log row. */
int hd_dsp_record(struct hd_dispatch *d, const struct msgref *m, const struct rec *x,
                  struct hd_err *err);
/* Writes the results gathered so far in one transaction. */
int hd_dsp_flush(struct hd_dispatch *d, struct hd_err *err);
/* Puts claimed messages that have not gone to a gateway back: all of
 * those waiting here (stop), or those of campaigns paused or cancelled
 * since they were claimed, here or held by a driver. */
int hd_dsp_release_waiting(struct hd_dispatch *d, bool all, struct hd_err *err);
/* A claimed message that did not go, back to the queue (or cancelled when
 * its campaign is and all is false), its reservation given back; frees j
 * (its provider's queue or the claim no longer holds it). */
int hd_dsp_put_back(struct hd_dispatch *d, struct job *j, bool all, int64_t t, struct hd_err *err);
/* j leaves the dispatcher with x recorded (unless rc, an earlier error of
 * the caller's, says not to write), its reservation given back unless an
 * earlier, interrupted attempt may have gone, its run's busy count down;
 * frees j. Returns rc or the first error of its own. */
int hd_dsp_leave(struct hd_dispatch *d, struct job *j, const struct rec *x, int rc,
                 struct hd_err *err);

/* On a shared store, after this node did not beat for longer than the
 * lease (loop.c): the waiting messages another node took over meanwhile
 * leave the queue, each a lease_lost row, rather than go out a second
 * time; the rest stay. *n says how many left. */
int hd_dsp_drop_taken(struct hd_dispatch *d, int64_t *n, struct hd_err *err);

/* On a shared store: a provider whose rate is the cluster's is handed at
 * most a grant's worth (at least its connections) at once (submit.c). */
void hd_dsp_cluster_windows(struct hd_dispatch *d);

#endif
