/* dispatch: the dispatcher's loop, one thread over the store and the
 * drivers (which run their own threads).
 *
 *   claim    In one write transaction per run: read up to a batch of due
 *            messages with their facts, decide (check.c), render the ones
 *            that go on, and record every decision; those that go on
 *            become `sending` under our lease, with a cap reservation.
 *            Because the caps are read and reserved in one IMMEDIATE
 *            transaction, two dispatchers never both pass the same cap.
 *   submit   Per provider, a FIFO of claimed messages; one is handed to the
 *            driver when the provider has less than its window in flight
 *            (hd_driver_window) and both its token bucket and the
 *            campaign's give a token. A throttled result pauses the
 *            provider's bucket and driver. Claims and writes stop every
 *            KEEP_SENDING messages to hand out and take in.
 *   write    Results are gathered and applied in one transaction per batch
 *            (at most every 50 ms or FLUSH_BATCH results): the message's
 *            next state, a delivery-log row, cap reservations released for
 *            messages that did not go, and what the gateway said about the
 *            address (suppression, opt-out).
 *
 * Leases name this process; a dispatcher that starts requeues what dead
 * ones left in `sending`. On stop, claimed but unsent messages go back to
 * the queue at once, in-flight ones get grace_ms to finish. */
#include <errno.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "herald/dispatch.h"
#include "herald/policy.h"
#include "herald/sms.h"
#include "herald/suppress.h"

#define LEASE_SECS 3600
#define MAX_WAITING 2048
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
    char variant[32];
};

struct job {
    struct msgref ref; /* the message: id, run, contact, campaign, variant */
    struct camp *camp;
    char *ext_id, *address;
    int channel, ch_index, provider, attempt;
    int segments; /* sms: what the gateway bills */
    char *detail; /* channels skipped before this one (the log's JSON detail) */
    int64_t expires_at;
    int64_t submitted_ms, answered_ms; /* handed to the driver; its answer taken in */
    int64_t paused_until; /* throttled: the pause its answer began (hd_clock_mono_ms) */
    struct hd_rendered r;
    struct hd_msg msg;
    struct job *next;          /* in its provider's queue */
    struct job *iprev, *inext; /* in flight */
};

struct prov {
    const struct hd_provider_cfg *cfg;
    struct hd_driver *drv;
    struct hd_bucket bucket;
    struct job *head, *tail;
    size_t inflight, window; /* handed to the driver, and how many may be */
};

struct camp {
    struct hd_campaign c;
    const struct hd_tpl *tpl;
    json_t *json;
    bool has_bucket;
    struct hd_bucket bucket;
};

struct run {
    int64_t id;
    struct camp *camp;
    int64_t busy; /* its messages claimed and not yet written back */
    bool drained; /* the last claim found nothing due */
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
    json_t *vars; /* the template variables, under every message's data */
    char instance[33];
    int64_t owner;
    struct job *inflight;      /* submitted, no result yet */
    struct job *fresh;         /* claimed in the open transaction, not yet queued */
    int64_t *ids;              /* message ids gathered for one statement */
    struct hd_send_row *sends; /* and their cap reservations, at a claim */
    size_t nids;
    struct hd_result *res;
    size_t nres;
    int64_t last_flush_ms, next_claim_ms, last_tick_ms, last_progress_ms, last_finish_ms;
    int64_t last_pauses_ms;
    bool flush_now; /* a throttled result waits to be written and shared */
    struct hd_dispatch_stats stats;
};

void hd_dispatch_uuid(const char *instance, int64_t message, char out[37])
{
    char in[80];
    unsigned char b[32];
    int n = snprintf(in, sizeof in, "%s:%lld", instance, (long long)message);
    hd_sha256(in, (size_t)n, b);
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x80); /* version 8: our own derivation */
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

static void job_free(struct job *j)
{
    if (!j)
        return;
    free(j->ext_id);
    free(j->address);
    free(j->detail);
    hd_rendered_release(&j->r);
    free(j);
}

static void camp_free(struct camp *c)
{
    if (!c)
        return;
    hd_campaign_release(&c->c);
    json_decref(c->json);
    free(c);
}

static int64_t now_ms(struct hd_dispatch *d)
{
    return hd_clock_now_ms(d->clock);
}

static uint64_t rnd64(void)
{
    uint64_t v = 0;
    if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
        v = (uint64_t)hd_clock_mono_ms() * 0x9E3779B97F4A7C15ULL;
    return v;
}

static bool process_alive(int64_t pid)
{
    return pid > 0 && pid <= INT32_MAX && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* At the end of a stop: our own in-flight messages count as abandoned. */
static bool others_alive(int64_t pid)
{
    return pid != (int64_t)getpid() && process_alive(pid);
}

/* ---- campaigns and runs ---------------------------------------------------------------- */

static struct camp *camp_get(struct hd_dispatch *d, int64_t id, struct hd_err *err)
{
    for (size_t i = 0; i < d->ncamps; i++)
        if (d->camps[i]->c.id == id)
            return d->camps[i];
    struct camp *c = hd_xcalloc(1, sizeof *c);
    if (hd_store_campaign_get(d->st, NULL, id, &c->c, err) < 0 ||
        hd_tpl_get(d->tpls, c->c.tpl, &c->tpl, err) < 0) {
        hd_err_prefix(err, "campaign '%s'", c->c.name ? c->c.name : "?");
        camp_free(c);
        return NULL;
    }
    if (c->c.rate) {
        struct hd_rate rate;
        if (hd_units_rate(c->c.rate, &rate, NULL) == 0) {
            c->has_bucket = true;
            hd_bucket_init(&c->bucket, &rate,
                           rate.count / rate.period ? rate.count / rate.period : 1,
                           hd_clock_mono_ms());
        }
    }
    c->json = json_pack("{s:s, s:I}", "name", c->c.name, "id", (json_int_t)c->c.id);
    d->camps = hd_xrealloc(d->camps, (d->ncamps + 1) * sizeof *d->camps);
    d->camps[d->ncamps++] = c;
    return c;
}

struct load {
    struct hd_dispatch *d;
    int64_t *ids, *camps;
    size_t n;
};

static int collect_run(void *ud, const struct hd_run *r)
{
    struct load *l = ud;
    if (r->status != HD_RUN_ACTIVE)
        return 0;
    l->ids = hd_xrealloc(l->ids, (l->n + 1) * sizeof *l->ids);
    l->camps = hd_xrealloc(l->camps, (l->n + 1) * sizeof *l->camps);
    l->ids[l->n] = r->id;
    l->camps[l->n++] = r->campaign_id;
    return 0;
}

/* Re-reads the active runs (and their campaigns' status): new runs join,
 * runs of paused or cancelled campaigns stop being claimed from. */
static int load_runs(struct hd_dispatch *d, struct hd_err *err)
{
    struct load l = {.d = d};
    int rc = hd_store_run_each(d->st, d->opts.campaign, true, collect_run, &l, err);
    struct run *runs = NULL;
    size_t n = 0;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        struct camp *c = camp_get(d, l.camps[i], err);
        if (!c) {
            rc = err ? err->code : HD_E_FAIL;
            break;
        }
        struct hd_campaign fresh;
        if ((rc = hd_store_campaign_get(d->st, NULL, c->c.id, &fresh, err)) < 0)
            break;
        c->c.status = fresh.status;
        hd_campaign_release(&fresh);
        struct run r = {.id = l.ids[i], .camp = c};
        for (size_t k = 0; k < d->nruns; k++)
            if (d->runs[k].id == r.id)
                r = d->runs[k];
        if (c->c.status == HD_CAMP_PAUSED || c->c.status == HD_CAMP_CANCELLED) {
            if (r.busy == 0)
                continue;
            r.drained = true;
        }
        runs = hd_xrealloc(runs, (n + 1) * sizeof *runs);
        runs[n++] = r;
    }
    /* runs with messages still out stay until those are written */
    for (size_t k = 0; rc == 0 && k < d->nruns; k++) {
        bool kept = false;
        for (size_t i = 0; i < n; i++)
            kept |= runs[i].id == d->runs[k].id;
        if (!kept && d->runs[k].busy > 0) {
            runs = hd_xrealloc(runs, (n + 1) * sizeof *runs);
            runs[n] = d->runs[k];
            runs[n++].drained = true;
        }
    }
    free(l.ids);
    free(l.camps);
    if (rc < 0) {
        free(runs);
        return rc;
    }
    free(d->runs);
    d->runs = runs;
    d->nruns = n;
    return 0;
}

static struct run *run_of(struct hd_dispatch *d, int64_t id)
{
    for (size_t i = 0; i < d->nruns; i++)
        if (d->runs[i].id == id)
            return &d->runs[i];
    return NULL;
}

/* ---- claiming -------------------------------------------------------------------------- */

/* Moves a message's state through queued when it waited (retry_wait,
 * deferred) and on to `to`; the state machine refuses anything else. */
static int move(int from, int to, struct hd_err *err)
{
    int s = from;
    if (s != HD_ST_QUEUED && s != HD_ST_SENDING && hd_state_move(&s, HD_ST_QUEUED, err) < 0)
        return HD_E_INVALID;
    if (s == to && to == HD_ST_QUEUED)
        return 0;
    return hd_state_move(&s, to, err);
}

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

/* The log's reason word for a gateway's answer: what it said of the
 * address, else its code ("http_503", "smtp_550"), else how it failed. */
static const char *result_word(int channel, const struct hd_result *r, char *buf, size_t size)
{
    if (r->outcome == HD_OUT_ACCEPTED)
        return NULL;
    if (r->bad_address)
        return "bad_address";
    if (r->opted_out)
        return "opted_out";
    if (r->code <= 0)
        return r->outcome == HD_OUT_PERMANENT ? "refused" : "network";
    snprintf(buf, size, "%s_%d", channel == HD_CH_EMAIL ? "smtp" : "http", r->code);
    return buf;
}

/* The delivery-log row for x, written at t (ms). */
static int log_row(struct hd_dispatch *d, const struct msgref *m, const struct rec *x, int64_t t,
                   struct hd_err *err)
{
    const struct hd_result *r = x->r;
    char word[24];
    struct hd_attempt a = {
        .message = m->id,
        .campaign = m->campaign,
        .run = m->run,
        .contact = m->contact,
        .variant = m->variant[0] ? m->variant : NULL,
        .state = x->to,
        .attempt = x->attempts,
        .at_ms = x->at_ms ? x->at_ms : t,
        .done_ms = x->done_ms ? x->done_ms : t,
        .channel = x->channel,
        .provider = x->provider,
        .address = x->address,
        .outcome = r ? hd_outcome_name(r->outcome) : "skipped",
        .reason = x->word ? x->word
                  : r     ? result_word(x->channel, r, word, sizeof word)
                          : NULL,
        .code = r ? r->code : 0,
        .text = x->reason ? x->reason
                : r       ? r->text
                          : NULL,
        .gateway_id = r ? r->gateway_id : NULL,
        .digest = r ? r->digest : NULL,
        .segments = x->segments,
        .cost = x->cost,
        .detail = x->detail && *x->detail ? x->detail : NULL,
    };
    return hd_store_attempt_add(d->st, &a, err);
}

static int record(struct hd_dispatch *d, const struct msgref *m, const struct rec *x,
                  struct hd_err *err)
{
    int64_t t = now_ms(d);
    int rc;
    if ((rc = move(x->from, x->to, err)) < 0)
        return rc;
    struct hd_msg_update u = {.id = m->id,
                              .state = x->to,
                              .attempts = x->attempts,
                              .channel = x->channel,
                              .ch_index = x->ch_index,
                              .not_before = x->not_before,
                              .lease_owner = d->owner,
                              .lease_until = t / 1000 + LEASE_SECS,
                              .reason = x->reason,
                              .now = t / 1000};
    if ((rc = hd_store_msg_update(d->st, &u, err)) < 0 || (!x->r && !x->word))
        return rc;
    if (hd_state_terminal(x->to))
        d->stats.by_state[x->to]++;
    return log_row(d, m, x, t, err);
}

static void enqueue(struct prov *p, struct job *j)
{
    j->next = NULL;
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    /* stats.waiting is counted by the caller */
}

/* Render, strictly, for the chosen channel. */
static int render_job(struct hd_dispatch *d, const struct hd_claimed *m, struct job *j,
                      struct hd_err *err)
{
    /* the variables are built once; hd_tpl_data's merge would copy them */
    json_t *contact = hd_tpl_contact(&m->contact),
           *data = hd_tpl_top(contact, j->camp->json, j->msg.id, NULL);
    const json_t *below[] = {d->vars, contact};
    struct hd_tpl_req req = {.locale = m->contact.locale ? m->contact.locale : d->cfg->locale,
                             .variant = m->variant[0] ? m->variant : NULL,
                             .timezone =
                                 m->contact.timezone ? m->contact.timezone : d->cfg->timezone,
                             .now = now_ms(d) / 1000,
                             .data = data,
                             .below = below,
                             .nbelow = 2,
                             .fmt = d->fmt};
    int rc = hd_render(j->camp->tpl, j->channel, &req, &j->r, err);
    json_decref(data);
    json_decref(contact);
    if (rc < 0)
        return rc;
    hd_rendered_msg(&j->r, j->channel, &j->msg);
    if (j->channel == HD_CH_SMS && j->msg.body) {
        struct hd_sms_info info;
        hd_sms_analyze(j->msg.body, strlen(j->msg.body), &info);
        j->segments = (int)info.segments;
    }
    size_t rough = (j->msg.title ? strlen(j->msg.title) : 0) +
                   (j->msg.body ? strlen(j->msg.body) : 0) +
                   (j->msg.data ? strlen(j->msg.data) : 0);
    /* JSON escaping makes a byte at most six (\u00XX), plus the envelope:
     * measure exactly only when the payload could be too big */
    if (j->channel == HD_CH_PUSH && 6 * rough + 512 > HD_PUSH_MAX_PAYLOAD) {
        size_t fcm, apns;
        json_t *o = j->msg.data ? json_loads(j->msg.data, 0, NULL) : NULL;
        hd_tpl_push_sizes(j->msg.title, j->msg.body, o, &fcm, &apns);
        json_decref(o);
        size_t size = j->msg.platform == HD_PUSH_APNS ? apns : fcm;
        if (size > HD_PUSH_MAX_PAYLOAD)
            return hd_err_set(err, HD_E_INVALID, "the push payload is %zu bytes, over %d", size,
                              HD_PUSH_MAX_PAYLOAD);
    }
    return 0;
}

static int claim_one(struct hd_dispatch *d, struct run *run, struct hd_claimed *m, int64_t t,
                     struct hd_err *err)
{
    struct camp *c = run->camp;
    struct hd_decision dec;
    struct msgref ref = {
        .id = m->id, .run = run->id, .contact = m->contact_id, .campaign = c->c.id};
    memcpy(ref.variant, m->variant, sizeof ref.variant);
    hd_dispatch_decide(d->cfg, &c->c, m, d->zones, t / 1000, &dec);
    struct rec x = {.from = m->state,
                    .to = dec.state,
                    .attempts = m->attempts,
                    .channel = dec.channel,
                    .ch_index = dec.ch_index,
                    .not_before = dec.not_before,
                    .word = dec.word,
                    .reason = dec.reason,
                    .detail = dec.detail,
                    .address = dec.address};
    if (dec.state != HD_ST_SENDING) {
        if (dec.state == HD_ST_DEFERRED)
            d->stats.deferred++;
        return record(d, &ref, &x, err);
    }
    struct job *j = hd_xcalloc(1, sizeof *j);
    j->ref = ref;
    j->detail = dec.detail[0] ? hd_xstrdup(dec.detail) : NULL;
    j->camp = c;
    j->ext_id = hd_xstrdup(m->contact.ext_id);
    j->address = hd_xstrdup(dec.address);
    j->channel = dec.channel;
    j->ch_index = dec.ch_index;
    j->provider = dec.provider;
    j->attempt = m->attempts + 1;
    j->expires_at = m->expires_at;
    hd_dispatch_uuid(d->instance, m->id, j->msg.id);
    j->msg.channel = dec.channel;
    j->msg.category = c->c.category;
    j->msg.to = j->address;
    j->msg.platform = dec.platform;
    j->msg.created = t / 1000;
    j->msg.user = j;
    struct hd_err rerr = {0};
    if (render_job(d, m, j, &rerr) < 0) {
        x.to = HD_ST_RENDER_FAILED;
        x.not_before = t / 1000;
        x.word = "render_failed";
        x.reason = rerr.msg;
        int rc = record(d, &ref, &x, err);
        job_free(j);
        return rc;
    }
    int rc;
    if ((rc = move(m->state, HD_ST_SENDING, err)) < 0) {
        job_free(j);
        return rc;
    }
    /* marked sending and reserved against the caps together, at the end
     * of the claim */
    d->sends[d->nids] = (struct hd_send_row){m->id, m->contact_id, dec.channel};
    d->ids[d->nids++] = m->id;
    j->next = d->fresh; /* queued for its provider once the claim commits */
    d->fresh = j;
    run->busy++;
    d->stats.waiting++;
    return 0;
}

/* After a claim commits: its messages join their providers' queues, in
 * the order they were claimed. */
static void queue_fresh(struct hd_dispatch *d)
{
    struct job *rev = NULL;
    while (d->fresh) {
        struct job *j = d->fresh;
        d->fresh = j->next;
        j->next = rev;
        rev = j;
    }
    while (rev) {
        struct job *j = rev;
        rev = j->next;
        enqueue(&d->prov[j->provider], j);
    }
}

/* After a claim rolls back: its messages are still queued in the store. */
static void drop_fresh(struct hd_dispatch *d)
{
    while (d->fresh) {
        struct job *j = d->fresh;
        struct run *run = run_of(d, j->ref.run);
        d->fresh = j->next;
        if (run)
            run->busy--;
        d->stats.waiting--;
        job_free(j);
    }
}

static int keep_sending(struct hd_dispatch *d, struct hd_err *err);

/* Claims from each run in turn; returns how many messages were claimed. */
static int claim(struct hd_dispatch *d, int room, struct hd_err *err)
{
    int total = 0;
    int batch = d->opts.claim_batch > 0 ? d->opts.claim_batch : 512;
    for (size_t i = 0; i < d->nruns && room > 0; i++) {
        struct run *run = &d->runs[i];
        struct hd_claimed *ms = NULL;
        size_t n = 0;
        int64_t t = now_ms(d);
        int rc, limit = room < batch ? room : batch;
        if (run->camp->c.status == HD_CAMP_PAUSED || run->camp->c.status == HD_CAMP_CANCELLED)
            continue;
        if ((rc = hd_store_begin(d->st, err)) < 0)
            return rc;
        rc = hd_store_claim(d->st, run->id, run->camp->c.category, t / 1000,
                            t / 1000 - hd_dispatch_horizon(d->cfg, &run->camp->c), limit, &ms, &n,
                            err);
        d->nids = 0;
        for (size_t k = 0; rc == 0 && k < n; k++) {
            rc = claim_one(d, run, &ms[k], t, err);
            if (rc == 0 && k % KEEP_SENDING == KEEP_SENDING - 1)
                rc = keep_sending(d, err);
        }
        if (rc == 0)
            rc = hd_store_msgs_sending(d->st, d->ids, d->nids, d->owner, t / 1000 + LEASE_SECS,
                                       t / 1000, err);
        if (rc == 0)
            rc = hd_store_sends_reserve(d->st, d->sends, d->nids, t / 1000, run->camp->c.id,
                                        run->camp->c.category, err);
        for (size_t k = 0; k < n; k++)
            hd_claimed_release(&ms[k]);
        free(ms);
        if (rc == 0)
            rc = hd_store_commit(d->st, err);
        if (rc < 0) {
            hd_store_rollback(d->st);
            drop_fresh(d);
            return rc;
        }
        queue_fresh(d);
        run->drained = n == 0;
        total += (int)n;
        room -= (int)n;
    }
    return total;
}

/* ---- submitting ------------------------------------------------------------------------ */

static int open_driver(struct hd_dispatch *d, struct prov *p, struct hd_err *err)
{
    if (p->drv)
        return 0;
    int rc = hd_driver_open(p->cfg, d->log, &p->drv, err);
    if (rc < 0)
        hd_err_prefix(err, "provider '%s'", p->cfg->name);
    return rc;
}

/* Hands waiting messages to drivers as their buckets and connections
 * allow; returns the milliseconds until a token is due (0: none waits). */
static int64_t submit(struct hd_dispatch *d, struct hd_err *err, int *rc)
{
    int64_t wait = 0, mono = hd_clock_mono_ms();
    for (size_t i = 0; i < d->cfg->nproviders; i++) {
        struct prov *p = &d->prov[i];
        while (p->head && p->inflight < p->window) {
            struct job *j = p->head;
            int64_t w = hd_bucket_take(&p->bucket, mono);
            if (w == 0 && j->camp->has_bucket && (w = hd_bucket_take(&j->camp->bucket, mono)) > 0)
                p->bucket.tokens += 1; /* give the provider's token back */
            if (w > 0) {
                if (wait == 0 || w < wait)
                    wait = w;
                break;
            }
            if ((*rc = open_driver(d, p, err)) < 0)
                return 0;
            j->submitted_ms = now_ms(d);
            struct hd_err serr = {0};
            p->head = j->next;
            if (!p->head)
                p->tail = NULL;
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

static void collect(void *ud, const struct hd_result *r)
{
    struct hd_dispatch *d = ud;
    struct job *j = r->user;
    /* the answer's time, not the write's: a latency, and the start of the
     * pause a throttled answer begins, are as the gateway made them */
    int64_t mono = hd_clock_mono_ms(),
            answered = r->answered_ms > 0 && r->answered_ms <= mono ? r->answered_ms : mono;
    j->answered_ms = now_ms(d) - (mono - answered);
    d->prov[j->provider].inflight--;
    d->stats.in_flight--;
    if (j->iprev)
        j->iprev->inext = j->inext;
    else
        d->inflight = j->inext;
    if (j->inext)
        j->inext->iprev = j->iprev;
    d->res[d->nres++] = *r;
    if (r->outcome == HD_OUT_THROTTLED) {
        /* pause at once, not when the writer gets to it: nothing more may
         * go to this provider meanwhile; and write (share) it soon */
        int64_t after = r->retry_after_ms > 0 ? r->retry_after_ms : HD_THROTTLE_PAUSE_MS;
        j->paused_until = answered + after;
        pause_provider(&d->prov[j->provider], j->paused_until);
        d->flush_now = true;
    }
}

/* Pauses other dispatchers recorded reach our buckets. */
static void shared_pause(void *ud, const char *provider, int64_t until_ms)
{
    struct hd_dispatch *d = ud;
    int64_t now = hd_clock_now_ms(NULL), mono = hd_clock_mono_ms();
    for (size_t i = 0; i < d->cfg->nproviders; i++)
        if (strcmp(d->prov[i].cfg->name, provider) == 0 &&
            d->prov[i].bucket.paused_until_ms < mono + (until_ms - now))
            pause_provider(&d->prov[i], mono + (until_ms - now));
}

/* ---- writing results ------------------------------------------------------------------- */

static int apply(struct hd_dispatch *d, const struct hd_result *r, struct hd_err *err)
{
    struct job *j = r->user;
    struct prov *p = &d->prov[j->provider];
    const struct hd_provider_cfg *pc = p->cfg;
    struct camp *c = j->camp;
    int64_t t = now_ms(d), now = t / 1000;
    char reason[600];
    int rc;
    /* it went on the wire when the driver says, after waiting behind the
     * connection's earlier messages since it was handed over */
    int64_t began = j->answered_ms - r->latency_ms;
    if (r->latency_ms <= 0 || began < j->submitted_ms)
        began = j->submitted_ms;
    /* the answer's row: to, attempts and not_before change by case */
    struct rec x = {.from = HD_ST_SENDING,
                    .to = HD_ST_FAILED,
                    .attempts = j->attempt,
                    .channel = j->channel,
                    .ch_index = j->ch_index,
                    .not_before = now,
                    .at_ms = began,
                    .done_ms = j->answered_ms,
                    .r = r,
                    .detail = j->detail,
                    .provider = pc->name,
                    .address = j->address};
    switch (r->outcome) {
    case HD_OUT_ACCEPTED:
        /* the state changes with the others of its channel, in flush */
        if ((rc = move(HD_ST_SENDING, HD_ST_SENT, err)) < 0)
            return rc;
        x.to = HD_ST_SENT;
        x.segments = j->segments;
        x.cost = j->segments * pc->cost_per_segment;
        d->stats.by_state[HD_ST_SENT]++;
        return log_row(d, &j->ref, &x, t, err);
    case HD_OUT_THROTTLED: {
        int64_t after = r->retry_after_ms > 0 ? r->retry_after_ms : HD_THROTTLE_PAUSE_MS;
        /* paused when collected, from the answer on; shared here, in real
         * time: each process's business clock may be set (HERALD_NOW) and
         * would not agree */
        if ((rc = hd_store_provider_pause(
                 d->st, pc->name, hd_clock_now_ms(NULL) + (j->paused_until - hd_clock_mono_ms()),
                 err)) < 0)
            return rc;
        d->stats.throttled++;
        hd_log_info(d->log, "provider '%s' throttled us: pausing it for %lld ms", pc->name,
                    (long long)after);
        snprintf(reason, sizeof reason, "provider '%s' paused for %lld ms: %s", pc->name,
                 (long long)after, r->text);
        x.to = HD_ST_QUEUED;
        x.attempts = j->attempt - 1;
        x.not_before = (t + after + 999) / 1000;
        x.reason = reason;
        if ((rc = record(d, &j->ref, &x, err)) < 0)
            return rc;
        return hd_store_send_release(d->st, j->ref.id, err);
    }
    case HD_OUT_TEMPORARY: {
        int64_t next = now + hd_backoff(j->attempt + 1, pc->retry_base, pc->retry_max,
                                        (r->retry_after_ms + 999) / 1000, rnd64());
        if (j->attempt >= (int)pc->max_attempts) {
            snprintf(reason, sizeof reason, "gave up after %d attempts: %s", j->attempt, r->text);
            x.reason = reason;
            rc = record(d, &j->ref, &x, err);
        } else if (j->expires_at > 0 && next >= j->expires_at) {
            snprintf(reason, sizeof reason, "a retry would come after the message expires: %s",
                     r->text);
            x.to = HD_ST_RETRY_WAIT;
            x.not_before = next;
            x.reason = reason;
            if ((rc = record(d, &j->ref, &x, err)) == 0) {
                struct rec e = {.from = HD_ST_RETRY_WAIT,
                                .to = HD_ST_EXPIRED,
                                .attempts = j->attempt,
                                .channel = j->channel,
                                .ch_index = j->ch_index,
                                .not_before = next,
                                .word = "expired",
                                .reason = reason};
                rc = record(d, &j->ref, &e, err);
            }
        } else {
            d->stats.retries++;
            x.to = HD_ST_RETRY_WAIT;
            x.not_before = next;
            rc = record(d, &j->ref, &x, err);
        }
        if (rc < 0)
            return rc;
        return hd_store_send_release(d->st, j->ref.id, err);
    }
    default: {
        if ((r->bad_address || r->opted_out) &&
            hd_feedback_apply(d->st, j->ext_id, j->channel, j->address, r, now, err) < 0)
            return HD_E_STORE;
        if (r->bad_address && c->c.fallback && j->ch_index + 1 < c->c.nchannels) {
            snprintf(reason, sizeof reason, "falling back from %s: %s", hd_channel_name(j->channel),
                     r->text);
            x.to = HD_ST_QUEUED;
            x.ch_index = j->ch_index + 1;
            x.reason = reason;
        }
        if ((rc = record(d, &j->ref, &x, err)) < 0)
            return rc;
        return hd_store_send_release(d->st, j->ref.id, err);
    }
    }
}

static int flush(struct hd_dispatch *d, struct hd_err *err)
{
    int rc = 0;
    size_t n = d->nres; /* results that come in meanwhile wait for the next */
    d->last_flush_ms = hd_clock_mono_ms();
    d->flush_now = false;
    if (n == 0)
        return 0;
    if ((rc = hd_store_begin(d->st, err)) < 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = apply(d, &d->res[i], err);
        if (rc == 0 && i % KEEP_SENDING == KEEP_SENDING - 1)
            rc = keep_sending(d, err);
    }
    /* accepted ones: one statement for each channel and position */
    for (int ch = 0; rc == 0 && ch < HD_CH_COUNT; ch++)
        for (int idx = 0; rc == 0 && idx < HD_CH_COUNT; idx++) {
            d->nids = 0;
            for (size_t i = 0; i < n; i++) {
                const struct job *j = d->res[i].user;
                if (d->res[i].outcome == HD_OUT_ACCEPTED && j->channel == ch && j->ch_index == idx)
                    d->ids[d->nids++] = j->ref.id;
            }
            rc = hd_store_msgs_sent(d->st, d->ids, d->nids, ch, idx, now_ms(d) / 1000, err);
        }
    if (rc == 0)
        rc = hd_store_commit(d->st, err);
    if (rc < 0) {
        hd_store_rollback(d->st);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        struct job *j = d->res[i].user;
        struct run *run = run_of(d, j->ref.run);
        if (run)
            run->busy--;
        job_free(j);
    }
    memmove(d->res, d->res + n, (d->nres - n) * sizeof *d->res);
    d->nres -= n;
    return 0;
}

/* Puts claimed messages that have not gone to a driver back: all of them
 * (stop), or those of campaigns paused or cancelled since they were
 * claimed (a cancelled campaign's are cancelled, as the command did to the
 * rest). */
static int release_waiting(struct hd_dispatch *d, bool all, struct hd_err *err)
{
    int rc = hd_store_begin(d->st, err);
    int64_t t = now_ms(d);
    for (size_t i = 0; rc == 0 && i < d->cfg->nproviders; i++) {
        struct prov *p = &d->prov[i];
        struct job **link = &p->head, *last = NULL;
        while (rc == 0 && *link) {
            struct job *j = *link;
            int status = j->camp->c.status;
            if (!all && status != HD_CAMP_PAUSED && status != HD_CAMP_CANCELLED) {
                last = j;
                link = &j->next;
                continue;
            }
            *link = j->next;
            bool cancel = !all && status == HD_CAMP_CANCELLED;
            struct rec x = {.from = HD_ST_SENDING,
                            .to = cancel ? HD_ST_CANCELLED : HD_ST_QUEUED,
                            .attempts = j->attempt - 1,
                            .channel = j->channel,
                            .ch_index = j->ch_index,
                            .not_before = t / 1000,
                            .word = cancel ? "cancelled" : NULL,
                            .reason = cancel ? "the campaign was cancelled" : NULL,
                            .address = cancel ? j->address : NULL};
            rc = record(d, &j->ref, &x, err);
            if (rc == 0)
                rc = hd_store_send_release(d->st, j->ref.id, err);
            struct run *run = run_of(d, j->ref.run);
            if (run)
                run->busy--;
            d->stats.waiting--;
            job_free(j);
        }
        p->tail = last;
    }
    if (rc == 0)
        return hd_store_commit(d->st, err);
    hd_store_rollback(d->st);
    return rc;
}

/* ---- finishing runs -------------------------------------------------------------------- */

/* Marks runs with nothing left as done, and their campaigns done (or
 * scheduled again when they recur). Returns how many runs are still open;
 * *next_due gets the earliest time a waiting message is due. */
static int finish_runs(struct hd_dispatch *d, int64_t *next_due, struct hd_err *err)
{
    int open = 0, rc = 0;
    *next_due = -1;
    for (size_t i = 0; i < d->nruns; i++) {
        struct run *run = &d->runs[i];
        int64_t n, due;
        if (run->busy > 0) {
            open++;
            continue;
        }
        if ((rc = hd_store_run_open_count(d->st, run->id, &n, err)) < 0)
            return rc;
        if (n > 0) {
            open++;
            if ((rc = hd_store_run_next_due(d->st, run->id, &due, err)) < 0)
                return rc;
            if (due >= 0 && (*next_due < 0 || due < *next_due))
                *next_due = due;
            continue;
        }
        int64_t now = now_ms(d) / 1000;
        struct hd_campaign *c = &run->camp->c;
        if ((rc = hd_store_run_set(d->st, run->id, HD_RUN_DONE, now, err)) < 0)
            return rc;
        if (c->status == HD_CAMP_RUNNING) {
            struct hd_campaign fresh;
            if ((rc = hd_store_campaign_get(d->st, NULL, c->id, &fresh, err)) < 0)
                return rc;
            int status = fresh.next_run >= 0 ? HD_CAMP_SCHEDULED : HD_CAMP_DONE;
            if (fresh.status == HD_CAMP_RUNNING)
                rc = hd_store_campaign_set(d->st, c->id, status, fresh.next_run, now, err);
            hd_campaign_release(&fresh);
            if (rc < 0)
                return rc;
        }
        hd_log_info(d->log, "campaign '%s': run %lld is done", c->name, (long long)run->id);
    }
    return open;
}

/* ---- the loop ------------------------------------------------------------------------ */

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
    d->sends = hd_xcalloc(MAX_WAITING, sizeof *d->sends);
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

static void poll_drivers(struct hd_dispatch *d, int timeout_ms);

/* Between pieces of a claim or a write: hands the drivers what is queued
 * and takes their results in, without waiting. Touches no store. */
static int keep_sending(struct hd_dispatch *d, struct hd_err *err)
{
    int rc = 0;
    submit(d, err, &rc);
    if (rc == 0)
        poll_drivers(d, 0);
    return rc;
}

static void poll_drivers(struct hd_dispatch *d, int timeout_ms)
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

int hd_dispatch_run(struct hd_dispatch *d, struct hd_err *err)
{
    int rc = 0;
    int64_t recovered = 0, stop_at = -1;
    if ((rc = hd_store_recover(d->st, d->owner, now_ms(d) / 1000, process_alive, &recovered, err)) <
        0)
        return rc;
    if (recovered)
        hd_log_warn(d->log,
                    "%lld messages were in flight when a dispatcher stopped; they are queued "
                    "again (the gateway may see them twice, with the same message id)",
                    (long long)recovered);
    if ((rc = load_runs(d, err)) < 0 || (rc = count_total(d, err)) < 0)
        return rc;
    for (;;) {
        int64_t mono = hd_clock_mono_ms();
        bool stopping = d->opts.stop && *d->opts.stop;
        if (stopping && stop_at < 0) {
            hd_log_info(d->log,
                        "stopping: no more claims; waiting up to %lld ms for %lld "
                        "messages in flight",
                        (long long)d->opts.grace_ms, (long long)d->stats.in_flight);
            stop_at = mono + d->opts.grace_ms;
            if ((rc = release_waiting(d, true, err)) < 0)
                return rc;
        }
        if (stopping && (d->stats.in_flight == 0 || mono >= stop_at))
            break;
        if (!stopping && mono - d->last_tick_ms >= 1000) {
            int fired = 0;
            d->last_tick_ms = mono;
            /* new runs, and campaigns paused or cancelled meanwhile */
            if ((d->opts.schedule &&
                 (rc = hd_campaign_tick(d->st, d->cfg, now_ms(d), d->log, d->opts.fire_progress,
                                        d->opts.progress_ud, &fired, err)) < 0) ||
                (rc = load_runs(d, err)) < 0 || (rc = release_waiting(d, false, err)) < 0)
                return rc;
        }
        int claimed = 0;
        if (!stopping && d->stats.waiting < MAX_WAITING / 2 && mono >= d->next_claim_ms) {
            if ((claimed = claim(d, MAX_WAITING - (int)d->stats.waiting, err)) < 0)
                return claimed;
            if (claimed == 0)
                d->next_claim_ms = mono + 200;
        }
        if (mono - d->last_pauses_ms >= 100) {
            d->last_pauses_ms = mono;
            if ((rc = hd_store_provider_pauses(d->st, hd_clock_now_ms(NULL), shared_pause, d,
                                               err)) < 0)
                return rc;
        }
        int64_t wait = submit(d, err, &rc);
        if (rc < 0)
            return rc;
        /* everything that can go has gone: wait for a result, a token or
         * the writer's deadline, whichever comes first */
        int64_t timeout = claimed > 0 ? 0 : 20;
        if (wait > 0 && wait < timeout)
            timeout = wait;
        if (d->nres > 0) {
            int64_t left = FLUSH_MS - (hd_clock_mono_ms() - d->last_flush_ms);
            timeout = left < 0 ? 0 : left < timeout ? left : timeout;
        }
        poll_drivers(d, (int)timeout);
        if (d->nres >= FLUSH_BATCH || d->flush_now ||
            (d->nres > 0 && hd_clock_mono_ms() - d->last_flush_ms >= FLUSH_MS) ||
            (d->nres > 0 && d->stats.in_flight == 0))
            if ((rc = flush(d, err)) < 0)
                return rc;
        progress(d, false);
        if (stopping || claimed > 0 || d->stats.in_flight > 0 || d->stats.waiting > 0 ||
            d->nres > 0)
            continue;
        /* idle: are the runs finished? */
        if (mono - d->last_tick_ms < 1000 && !d->opts.once)
            continue;
        bool all_drained = true;
        for (size_t i = 0; i < d->nruns; i++)
            all_drained &= d->runs[i].drained;
        if (!all_drained || mono - d->last_finish_ms < 1000)
            continue;
        d->last_finish_ms = mono;
        int64_t next_due;
        int open = finish_runs(d, &next_due, err);
        if (open < 0)
            return open;
        if ((rc = load_runs(d, err)) < 0)
            return rc;
        if (!d->opts.once)
            continue;
        int64_t now = now_ms(d) / 1000;
        if (open == 0 || next_due < 0 || next_due > now + d->opts.linger)
            break;
        d->next_claim_ms = hd_clock_mono_ms() + 200;
    }
    if ((rc = flush(d, err)) < 0)
        return rc;
    if (d->stats.in_flight > 0) {
        /* whatever did not come back in time goes back to the queue now,
         * rather than when the lease runs out; it may have been sent */
        int64_t n = 0;
        if ((rc = hd_store_recover(d->st, -1, now_ms(d) / 1000, others_alive, &n, err)) < 0)
            return rc;
        hd_log_warn(d->log, "%lld messages had no result in time; they are queued again",
                    (long long)n);
    }
    progress(d, true);
    return 0;
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
    }
    free(d->prov);
    drop_fresh(d);
    while (d->inflight) { /* their results were dropped with the drivers */
        struct job *j = d->inflight;
        d->inflight = j->inext;
        job_free(j);
    }
    for (size_t i = 0; i < d->ncamps; i++)
        camp_free(d->camps[i]);
    free(d->camps);
    free(d->runs);
    free(d->res);
    free(d->ids);
    free(d->sends);
    hd_zones_free(d->zones);
    hd_fmt_free(d->fmt);
    json_decref(d->vars);
    hd_tpl_set_free(d->tpls);
    free(d);
}
