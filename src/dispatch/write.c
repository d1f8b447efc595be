/* write: results and decisions to the store, in batches.
 *
 * Results are gathered in d->res and applied in one transaction per batch
 * (at most every FLUSH_MS or FLUSH_BATCH results): the message's next
 * state, a delivery-log row, cap reservations released for messages that
 * did not go (not for one a stopped dispatcher left in flight: that one
 * may have gone), and what the gateway said about the address (suppression,
 * opt-out, hd_feedback_apply). Each outcome class has its handler:
 * accepted (sent; the state changes with the others of its channel in one
 * statement at the end of the batch), throttled (queued again without
 * spending an attempt, the pause shared through the store), temporary
 * (retry with backoff, or give up, or expire) and permanent (failed, or
 * the next channel when the address is at fault, or the recipient opted
 * out at the gateway, and the campaign falls back). record() is the one
 * place a message's state and its log row are written, for the claim's
 * decisions as well. Claimed messages of a
 * campaign paused or cancelled go back, from our queues and from what a
 * driver still holds (hd_driver_withdraw). */
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "dispatch_int.h"

static uint64_t rnd64(void)
{
    uint64_t v = 0;
    if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
        v = (uint64_t)hd_clock_mono_ms() * 0x9E3779B97F4A7C15ULL;
    return v;
}

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
    if (r->provider_fault)
        return "provider_fault";
    if (r->code <= 0)
        return r->outcome == HD_OUT_PERMANENT ? "refused" : "network";
    snprintf(buf, size, "%s_%d", channel == HD_CH_EMAIL ? "smtp" : "http", r->code);
    return buf;
}

/* The row as a debug line, with the journal's fields; nothing is done
 * for it unless debug lines are on. */
static void debug_row(struct hd_dispatch *d, const struct msgref *m, const struct hd_attempt *a)
{
    if (!hd_log_on(d->log, HD_LOG_DEBUG))
        return;
    char id[37];
    const char *campaign = "?";
    hd_dispatch_uuid(d->instance, m->id, id);
    for (size_t i = 0; i < d->ncamps; i++)
        if (d->camps[i]->c.id == m->campaign)
            campaign = d->camps[i]->c.name;
    struct hd_log_fields f = {id, campaign, a->provider};
    hd_log_fmsg(d->log, HD_LOG_DEBUG, &f,
                "message %s of campaign '%s', attempt %d: %s (%s%s%s)%s%s%s", id, campaign,
                a->attempt, hd_state_name(a->state), a->outcome, a->reason ? ": " : "",
                a->reason ? a->reason : "", a->provider ? " via provider '" : "",
                a->provider ? a->provider : "", a->provider ? "'" : "");
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
    debug_row(d, m, &a);
    int rc = hd_store_attempt_add(d->st, &a, err);
    if (rc == 0)
        rc = hd_dsp_breaker_note(d, m->campaign, a.state, a.reason, a.text, err);
    return rc;
}

/* A result or decision for a message whose lease another node took over
 * (it stopped beating long enough to be rescued): nothing of it is
 * written but this row, which says so; the message is the other node's. */
static int lost_row(struct hd_dispatch *d, const struct msgref *m, const struct rec *x,
                    const char *what, struct hd_err *err)
{
    char text[300];
    snprintf(text, sizeof text,
             "this node's lease on the message was taken over by another node while it was in "
             "flight (no heartbeat for %lld s); its late %s changes nothing",
             (long long)d->cfg->node_lease, what);
    struct rec y = {.from = x->from,
                    .to = x->from,
                    .attempts = x->attempts,
                    .channel = x->channel,
                    .ch_index = x->ch_index,
                    .at_ms = x->at_ms,
                    .done_ms = x->done_ms,
                    .word = "lease_lost",
                    .reason = text,
                    .provider = x->provider,
                    .address = x->address};
    d->stats.lease_lost++;
    return log_row(d, m, &y, now_ms(d), err);
}

int hd_dsp_record(struct hd_dispatch *d, const struct msgref *m, const struct rec *x,
                  struct hd_err *err)
{
    int64_t t = now_ms(d);
    int rc;
    if ((rc = move(x->from, x->to, err)) < 0)
        return rc;
    struct hd_msg_update u = {.id = m->id,
                              .from = x->from,
                              .state = x->to,
                              .attempts = x->attempts,
                              .channel = x->channel,
                              .ch_index = x->ch_index,
                              .not_before = x->not_before,
                              .lease_owner = d->owner,
                              .lease_until = t / 1000 + LEASE_SECS,
                              .reason = x->reason,
                              .now = t / 1000,
                              .token = x->from == HD_ST_SENDING ? m->token : 0};
    if ((rc = hd_store_msg_update(d->st, &u, err)) < 0)
        return rc;
    d->record_lost = u.token && hd_store_changes(d->st) == 0;
    if (d->record_lost)
        return lost_row(d, m, x, x->r ? "result" : "decision", err);
    if (!x->r && !x->word)
        return rc;
    if (hd_state_terminal(x->to))
        d->stats.by_state[x->to]++;
    return log_row(d, m, x, t, err);
}

/* The ids a provider's reports may name its message by alone, kept at
 * send time (hd_receipt_keeps_ids): an http gateway's id; a mail sender's
 * id from its SMTP reply (the "queued as" id smtp.c kept, else the reply's
 * last word: SES answers "Ok <id>") and the Message-ID's UUID, which
 * Mailgun's events carry. */
static int keep_ids(struct hd_dispatch *d, const struct hd_provider_cfg *pc, const struct job *j,
                    const struct hd_result *r, int64_t t, struct hd_err *err)
{
    const char *g = r->gateway_id, *last = strrchr(g, ' ');
    char id[sizeof r->gateway_id];
    int rc = 0;
    if (pc->receipt)
        return g[0] ? hd_store_gateway_id_add(d->st, pc->name, g, j->ref.id, t, err) : 0;
    const char *w = last ? last + 1 : g;
    snprintf(id, sizeof id, "%s", w + (*w == '<'));
    id[strcspn(id, ">")] = '\0';
    if (id[0])
        rc = hd_store_gateway_id_add(d->st, pc->name, id, j->ref.id, t, err);
    if (rc == 0 && r->id[0] && strcmp(r->id, id) != 0)
        rc = hd_store_gateway_id_add(d->st, pc->name, r->id, j->ref.id, t, err);
    return rc;
}

/* An inbox message accepted is kept for its contact now, in the batch's
 * transaction: the driver took it, the store is where it is delivered. */
static int keep_inbox(struct hd_dispatch *d, const struct job *j, const char *provider, int64_t t,
                      struct hd_err *err)
{
    const struct hd_rendered *r = &j->r;
    struct hd_inbox_item m = {.contact = j->ref.contact,
                              .message = j->ref.id,
                              .provider = provider,
                              .title = r->part[HD_PART_INBOX_TITLE],
                              .body_html = r->part[HD_PART_INBOX_BODY],
                              .url = r->part[HD_PART_INBOX_URL],
                              .created = t / 1000,
                              .expires = r->inbox_ttl > 0 ? t / 1000 + r->inbox_ttl : 0};
    return hd_store_inbox_add(d->st, &m, err);
}

/* Accepted: sent. The message's state changes with the others of its
 * channel, in one statement at the end of the batch (hd_dsp_flush). */
static int on_accepted(struct hd_dispatch *d, struct job *j, struct rec *x, int64_t t,
                       struct hd_err *err)
{
    const struct hd_provider_cfg *pc = d->prov[j->provider].cfg;
    int rc;
    if ((rc = move(HD_ST_SENDING, HD_ST_SENT, err)) < 0)
        return rc;
    x->to = HD_ST_SENT;
    if (j->channel == HD_CH_INBOX && (rc = keep_inbox(d, j, pc->name, t, err)) < 0)
        return rc;
    x->segments = j->segments;
    x->cost = j->segments * pc->cost_per_segment;
    d->stats.by_state[HD_ST_SENT]++;
    if (x->r && hd_receipt_keeps_ids(pc) && (rc = keep_ids(d, pc, j, x->r, t, err)) < 0)
        return rc;
    return log_row(d, &j->ref, x, t, err);
}

/* Throttled: queued again for when the pause ends, without spending an
 * attempt; the pause is shared with other dispatchers. */
static int on_throttled(struct hd_dispatch *d, struct job *j, struct rec *x, int64_t t,
                        struct hd_err *err)
{
    const struct hd_result *r = x->r;
    const struct hd_provider_cfg *pc = d->prov[j->provider].cfg;
    int64_t after = r->retry_after_ms > 0 ? r->retry_after_ms : HD_THROTTLE_PAUSE_MS;
    (void)t; /* timed from the answer, not from this write */
    char reason[600];
    int rc;
    /* paused when collected, from the answer on; shared here, in real
     * time: each process's business clock may be set (HERALD_NOW) and
     * would not agree */
    if ((rc = hd_store_provider_pause(
             d->st, pc->name, hd_clock_now_ms(NULL) + (j->paused_until - hd_clock_mono_ms()),
             err)) < 0)
        return rc;
    d->stats.throttled++;
    if (!r->provider_fault) /* a provider at fault was told of when collected */
        hd_log_fmsg(d->log, HD_LOG_INFO, &(struct hd_log_fields){.provider = pc->name},
                    "provider '%s' throttled us: pausing it for %lld ms", pc->name,
                    (long long)after);
    snprintf(reason, sizeof reason, "provider '%s' paused for %lld ms: %s", pc->name,
             (long long)after, r->text);
    x->to = HD_ST_QUEUED;
    x->attempts = j->attempt - 1;
    x->not_before = hd_due_after(j->answered_ms, after);
    x->reason = reason;
    return hd_dsp_record(d, &j->ref, x, err);
}

/* Temporary: failed when the attempts are spent, expired when the retry
 * would come too late, else retried with backoff (honouring Retry-After). */
static int on_temporary(struct hd_dispatch *d, struct job *j, struct rec *x, int64_t t,
                        struct hd_err *err)
{
    const struct hd_result *r = x->r;
    const struct hd_provider_cfg *pc = d->prov[j->provider].cfg;
    /* from the instant the answer came, not the second the write falls in:
     * a retry never comes before Retry-After or the backoff */
    (void)t;
    int64_t next = hd_due_after(j->answered_ms,
                                1000 * hd_backoff(j->attempt + 1, pc->retry_base, pc->retry_max,
                                                  (r->retry_after_ms + 999) / 1000, rnd64()));
    char reason[600];
    int rc;
    if (j->attempt >= (int)pc->max_attempts) {
        snprintf(reason, sizeof reason, "gave up after %d attempts: %s", j->attempt, r->text);
        x->reason = reason;
        return hd_dsp_record(d, &j->ref, x, err);
    }
    if (j->expires_at > 0 && next >= j->expires_at) {
        snprintf(reason, sizeof reason, "a retry would come after the message expires: %s",
                 r->text);
        x->to = HD_ST_RETRY_WAIT;
        x->not_before = next;
        x->reason = reason;
        if ((rc = hd_dsp_record(d, &j->ref, x, err)) < 0 || d->record_lost)
            return rc;
        struct rec e = {.from = HD_ST_RETRY_WAIT,
                        .to = HD_ST_EXPIRED,
                        .attempts = j->attempt,
                        .channel = j->channel,
                        .ch_index = j->ch_index,
                        .not_before = next,
                        .word = "expired",
                        .reason = reason};
        return hd_dsp_record(d, &j->ref, &e, err);
    }
    d->stats.retries++;
    x->to = HD_ST_RETRY_WAIT;
    x->not_before = next;
    return hd_dsp_record(d, &j->ref, x, err);
}

/* Permanent: failed, and what the gateway said of the address goes into
 * the audience; a bad address (or an opt-out at the gateway, which is the
 * channel's) falls back when the campaign falls back: a
 * push token to the contact's next token another provider of the channel
 * takes (the claim chooses again, this one now suppressed), else to the
 * campaign's next channel that reaches the contact (as the claim saw it).
 * With none, it fails with the refusal, as without fallback. */
static int on_permanent(struct hd_dispatch *d, struct job *j, struct rec *x, int64_t t,
                        struct hd_err *err)
{
    const struct hd_result *r = x->r;
    const struct hd_campaign *c = &j->camp->c;
    char reason[600];
    if (hd_feedback_apply(d->st, d->cfg->receipts.bounce_rules, j->ext_id, j->ref.id, j->channel,
                          j->address, r, t / 1000, err) < 0)
        return HD_E_STORE;
    bool again = r->bad_address && j->channel == HD_CH_PUSH && j->push_alt &&
                 hd_feedback_same_form(j->address, j->channel); /* else chosen again */
    /* an opt-out at the gateway (SMS STOP, a WeChat unfollow) is the
     * channel's: the campaign's next channel may still reach the contact */
    bool theirs = r->bad_address || r->opted_out;
    if (theirs && c->fallback && (again || j->can_fall_back)) {
        snprintf(reason, sizeof reason, "falling back from %s%s: %s",
                 again ? "this push provider" : hd_channel_name(j->channel),
                 again ? " to the contact's next token" : "", r->text);
        x->to = HD_ST_QUEUED;
        x->ch_index = again ? j->ch_index : j->ch_index + 1;
        x->reason = reason;
    } else if (theirs && c->fallback) {
        snprintf(reason, sizeof reason,
                 "no other channel of the campaign reaches the contact to fall back on: %s",
                 r->text);
        x->reason = reason;
    }
    return hd_dsp_record(d, &j->ref, x, err);
}

/* The requests libcurl sent before the one answered and that died without
 * an answer (hd_result.resent): each went on the wire, so each is an
 * attempt row, temporary, of the same attempt; the message's state is
 * left to the answer's row. */
static int log_resent(struct hd_dispatch *d, const struct job *j, const struct rec *x,
                      struct hd_err *err)
{
    struct hd_result dead = {.outcome = HD_OUT_TEMPORARY};
    struct rec y = *x;
    memcpy(dead.digest, x->r->digest, sizeof dead.digest);
    y.r = &dead;
    y.to = HD_ST_SENDING;
    y.done_ms = y.at_ms;
    for (int i = 0; i < x->r->resent + x->r->refreshed; i++) {
        bool refused = i >= x->r->resent;
        snprintf(dead.text, sizeof dead.text, "%s",
                 refused ? "the gateway refused the provider's token; a new one was made and the "
                           "request sent again at once"
                         : "the connection closed before an answer (a kept-alive connection the "
                           "gateway had closed); the request was sent again at once");
        y.word = refused ? "token_refused" : NULL;
        int rc = log_row(d, &j->ref, &y, now_ms(d), err);
        if (rc < 0)
            return rc;
        d->stats.attempts++;
    }
    return 0;
}

/* One result: its row, by outcome class. */
static int apply(struct hd_dispatch *d, const struct hd_result *r, struct hd_err *err)
{
    struct job *j = r->user;
    int64_t t = now_ms(d);
    int rc;
    d->record_lost = false;
    /* it went on the wire when the driver says: its answer's time less its
     * latency, 0 ms included (a gateway nearby answers within the
     * millisecond; taking the hand-over then put a request that a paused
     * driver held inside the pause), after waiting behind the connection's
     * earlier messages since it was handed over. Without an answer's time
     * from the driver and a latency, nothing says it went later. */
    int64_t began = j->answered_ms - r->latency_ms;
    if (r->latency_ms < 0 || (r->latency_ms == 0 && r->answered_ms <= 0) || began < j->submitted_ms)
        began = j->submitted_ms;
    /* the answer's row: to, attempts and not_before change by case */
    struct rec x = {.from = HD_ST_SENDING,
                    .to = HD_ST_FAILED,
                    .attempts = j->attempt,
                    .channel = j->channel,
                    .ch_index = j->ch_index,
                    .not_before = t / 1000,
                    .at_ms = began,
                    .done_ms = j->answered_ms,
                    .r = r,
                    .detail = j->detail,
                    .provider = d->prov[j->provider].cfg->name,
                    .address = j->address};
    if (j->lease_lost)
        return lost_row(d, &j->ref, &x, "result", err);
    if (r->resent + r->refreshed > 0 && (rc = log_resent(d, j, &x, err)) < 0)
        return rc;
    switch (r->outcome) {
    case HD_OUT_ACCEPTED:
        return on_accepted(d, j, &x, t, err);
    case HD_OUT_THROTTLED:
        rc = on_throttled(d, j, &x, t, err);
        break;
    case HD_OUT_TEMPORARY:
        rc = on_temporary(d, j, &x, t, err);
        break;
    case HD_OUT_PERMANENT:
        rc = on_permanent(d, j, &x, t, err);
        break;
    default:
        HD_BUG("a result with outcome %d, which no driver gives", r->outcome);
    }
    if (rc < 0 || j->may_have_gone || d->record_lost)
        return rc;
    /* it did not go: its cap reservation is given back */
    return hd_store_send_release(d->st, j->ref.id, err);
}

/* PostgreSQL: which of the batch's messages this node still holds, in one
 * statement that also locks them until the commit; a result for one it no
 * longer holds is only logged as late (apply). */
static int fence(struct hd_dispatch *d, size_t n, struct hd_err *err)
{
    size_t lost = 0;
    for (size_t i = 0; i < n; i++) {
        const struct job *j = d->res[i].user;
        d->ids[i] = j->ref.id;
        d->tokens[i] = j->ref.token;
    }
    int rc = hd_store_leases_held(d->st, d->ids, d->tokens, n, d->held, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct job *j = d->res[i].user;
        j->lease_lost = !d->held[i];
        lost += j->lease_lost;
    }
    if (lost)
        hd_log_warn(d->log,
                    "%zu results came after another node took their messages over (this node "
                    "had no heartbeat for %lld s): they change nothing, and the log says so "
                    "(lease_lost)",
                    lost, (long long)d->cfg->node_lease);
    return rc;
}

int hd_dsp_flush(struct hd_dispatch *d, struct hd_err *err)
{
    int rc = 0;
    size_t n = d->nres; /* results that come in meanwhile wait for the next */
    d->last_flush_ms = hd_clock_mono_ms();
    d->flush_now = false;
    if (n == 0)
        return 0;
    if ((rc = hd_store_begin(d->st, err)) < 0)
        return rc;
    if (d->shared)
        rc = fence(d, n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = apply(d, &d->res[i], err);
        if (rc == 0 && i % KEEP_SENDING == KEEP_SENDING - 1)
            rc = hd_dsp_keep_sending(d, err);
    }
    /* accepted ones: one statement for each channel and position */
    for (int ch = 0; rc == 0 && ch < HD_CH_COUNT; ch++)
        for (int idx = 0; rc == 0 && idx < HD_CH_COUNT; idx++) {
            d->nids = 0;
            for (size_t i = 0; i < n; i++) {
                const struct job *j = d->res[i].user;
                if (d->res[i].outcome == HD_OUT_ACCEPTED && j->channel == ch &&
                    j->ch_index == idx && !j->lease_lost)
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
    hd_log_debug(d->log, "dispatcher: wrote %zu results in %lld ms", n,
                 (long long)(hd_clock_mono_ms() - d->last_flush_ms));
    for (size_t i = 0; i < n; i++) {
        struct job *j = d->res[i].user;
        struct run *run = run_of(d, j->ref.run);
        if (run)
            run->busy--;
        job_free(j);
    }
    memmove(d->res, d->res + n, (d->nres - n) * sizeof *d->res);
    d->nres -= n;
    /* the refusals written have been noted; those that came meanwhile not */
    d->unwritten_refused = 0;
    for (size_t i = 0; i < d->nres; i++)
        d->unwritten_refused += d->res[i].outcome == HD_OUT_PERMANENT &&
                                d->cfg->pause_on_failure_rate > 0;
    return 0;
}

/* A message that did not go, back to the queue (or cancelled, when its
 * campaign was), its cap reservation given back unless an earlier,
 * interrupted attempt may have gone. */
int hd_dsp_put_back(struct hd_dispatch *d, struct job *j, bool all, int64_t t, struct hd_err *err)
{
    bool cancel = !all && j->camp->c.status == HD_CAMP_CANCELLED;
    struct rec x = {.from = HD_ST_SENDING,
                    .to = cancel ? HD_ST_CANCELLED : HD_ST_QUEUED,
                    .attempts = j->attempt - 1,
                    .channel = j->channel,
                    .ch_index = j->ch_index,
                    .not_before = t / 1000,
                    .word = cancel ? "cancelled" : NULL,
                    .reason = cancel ? "the campaign was cancelled" : NULL,
                    .address = cancel ? j->address : NULL};
    return hd_dsp_leave(d, j, &x, 0, err);
}

int hd_dsp_leave(struct hd_dispatch *d, struct job *j, const struct rec *x, int rc,
                 struct hd_err *err)
{
    if (rc == 0)
        rc = hd_dsp_record(d, &j->ref, x, err);
    /* a message another node took over keeps the reservation it made */
    if (rc == 0 && !j->may_have_gone && !d->record_lost)
        rc = hd_store_send_release(d->st, j->ref.id, err);
    struct run *run = run_of(d, j->ref.run);
    if (run)
        run->busy--;
    job_free(j);
    return rc;
}

static bool stopped(int status)
{
    return status == HD_CAMP_PAUSED || status == HD_CAMP_CANCELLED;
}

/* hd_driver_withdraw's choice: messages of campaigns paused or cancelled,
 * gathered on a list through their (free while in flight) queue link. */
static bool withdraw_stopped(void *ud, void *user)
{
    struct job **list = ud, *j = user;
    if (!stopped(j->camp->c.status))
        return false;
    j->next = *list;
    *list = j;
    return true;
}

/* Messages of campaigns paused or cancelled that a driver holds (a paused
 * provider keeps them until its pause ends) come back too. */
static int withdraw_held(struct hd_dispatch *d, int64_t t, struct hd_err *err)
{
    int rc = 0;
    bool any = false;
    for (size_t i = 0; i < d->nruns; i++)
        any |= d->runs[i].busy > 0 && stopped(d->runs[i].camp->c.status);
    for (size_t i = 0; any && i < d->cfg->nproviders; i++) {
        struct prov *p = &d->prov[i];
        struct job *list = NULL;
        if (!p->drv || p->inflight == 0 || hd_driver_withdraw(p->drv, withdraw_stopped, &list) == 0)
            continue;
        while (list) {
            struct job *j = list;
            list = j->next;
            unlink_inflight(d, j);
            if (rc == 0)
                rc = hd_dsp_put_back(d, j, false, t, err);
            else
                job_free(j);
        }
    }
    return rc;
}

/* The queue's tail and last API job after jobs left it. */
static void requeue_ends(struct prov *p)
{
    p->tail = p->api_last = NULL;
    for (struct job *j = p->head; j; j = j->next) {
        p->tail = j;
        if (j->camp->c.api)
            p->api_last = j;
    }
}

/* Each provider's queue is checked a chunk at a time, its leases locked
 * until the commit (see dispatch_int.h). */
int hd_dsp_drop_taken(struct hd_dispatch *d, int64_t *n, struct hd_err *err)
{
    enum { CHUNK = 1024 }; /* d->ids, tokens and held hold more */
    int rc = hd_store_begin(d->st, err);
    int64_t t = now_ms(d);
    *n = 0;
    for (size_t i = 0; rc == 0 && i < d->cfg->nproviders; i++) {
        struct prov *p = &d->prov[i];
        struct job **link = &p->head;
        while (rc == 0 && *link) {
            size_t k = 0;
            for (struct job *j = *link; j && k < CHUNK; j = j->next, k++) {
                d->ids[k] = j->ref.id;
                d->tokens[k] = j->ref.token;
            }
            /* their leases, locked until the commit */
            rc = hd_store_leases_held(d->st, d->ids, d->tokens, k, d->held, err);
            for (size_t x = 0; rc == 0 && x < k; x++) {
                struct job *j = *link;
                if (d->held[x]) {
                    link = &j->next;
                    continue;
                }
                *link = j->next;
                d->stats.waiting--;
                (*n)++;
                rc = hd_dsp_put_back(d, j, true, t, err); /* a lease_lost row: the token is gone */
            }
        }
        requeue_ends(p);
    }
    if (rc == 0)
        return hd_store_commit(d->st, err);
    hd_store_rollback(d->st);
    return rc;
}

/* Puts claimed messages that have not gone to a gateway back: all of those
 * waiting here (stop), or those of campaigns paused or cancelled since
 * they were claimed, here or held by a driver (a cancelled campaign's are
 * cancelled, as the command did to the rest). */
int hd_dsp_release_waiting(struct hd_dispatch *d, bool all, struct hd_err *err)
{
    /* once a second from the tick: no campaign stopped, nothing to give
     * back, and no write lock taken (it would wait behind other
     * dispatchers' writes, and hold up the sending meanwhile) */
    bool any = all || d->late;
    for (size_t i = 0; !any && i < d->ncamps; i++)
        any = stopped(d->camps[i]->c.status);
    if (!any)
        return 0;
    int rc = hd_store_begin(d->st, err);
    int64_t t = now_ms(d);
    while (rc == 0 && d->late) { /* held past their send_by (submit.c): decided again */
        struct job *j = d->late;
        d->late = j->next;
        d->stats.waiting--;
        rc = hd_dsp_put_back(d, j, false, t, err); /* cancelled since: cancelled */
    }
    for (size_t i = 0; rc == 0 && i < d->cfg->nproviders; i++) {
        struct prov *p = &d->prov[i];
        struct job **link = &p->head, *last = NULL;
        p->api_last = NULL;
        while (rc == 0 && *link) {
            struct job *j = *link;
            if (!all && !stopped(j->camp->c.status)) {
                last = j;
                if (j->camp->c.api)
                    p->api_last = j;
                link = &j->next;
                continue;
            }
            *link = j->next;
            d->stats.waiting--;
            rc = hd_dsp_put_back(d, j, all, t, err);
        }
        p->tail = last;
    }
    if (rc == 0 && !all)
        rc = withdraw_held(d, t, err);
    if (rc == 0)
        return hd_store_commit(d->st, err);
    hd_store_rollback(d->st);
    return rc;
}
