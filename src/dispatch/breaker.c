/* breaker: the circuit breaker, which pauses a campaign whose messages fail
 * one after another (a template that fails for every contact, a gateway
 * that refuses everything) before it burns its whole audience.
 *
 * Each campaign keeps a ring of its last [dispatch] failure_window finished
 * messages, one byte each (failed or not), and the number of failures in
 * it: noting a message is a store into the ring, no SQL. A message counts
 * when it is sent (a success) or fails (render_failed, or failed at the
 * gateway, bad addresses included); the audience's decisions (held out,
 * suppressed, capped, no channel, expired) and a gateway's opt-out do not.
 * When the failures reach pause_on_failure_rate of the window (50 of 100
 * by default: the window's share is then at least the rate, whatever
 * follows), the campaign is paused as `campaign pause` does, inside the
 * writer's transaction or the one that records a claim's render failures
 * (claim.c), with the reason stored for `campaign show`, `why` and `send`,
 * and a warning logged; the rest of that claim's failures go back to the
 * queue, nothing more is handed to the drivers in that transaction, and the
 * loop's next turn puts its waiting messages back in the queue
 * (hd_dsp_release_waiting): what a driver already holds may still fail. The ring empties when the breaker trips and when
 * the campaign is seen paused, so a resumed campaign starts afresh. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dispatch_int.h"

static struct camp *camp_by_id(struct hd_dispatch *d, int64_t id)
{
    for (size_t i = 0; i < d->ncamps; i++)
        if (d->camps[i]->c.id == id)
            return d->camps[i];
    return NULL;
}

void hd_dsp_breaker_reset(struct camp *c)
{
    c->brk.n = c->brk.pos = c->brk.fails = 0;
}

void hd_dsp_breaker_release(struct camp *c)
{
    free(c->brk.ring);
    c->brk.ring = NULL;
}

/* Pauses the campaign: its row (status and reason) in the open
 * transaction, its status here, a warning. */
static int trip(struct hd_dispatch *d, struct camp *c, struct hd_err *err)
{
    struct breaker *b = &c->brk;
    char reason[sizeof b->text + 160];
    int rc;
    snprintf(reason, sizeof reason,
             "the circuit breaker tripped: %u of the last %u messages failed (%s: %s)", b->fails,
             b->n, b->word, b->text);
    hd_log_warn(d->log, "campaign '%s': paused: %s; fix it, then 'herald campaign resume %s'",
                c->c.name, reason, c->c.name);
    if ((rc = hd_store_campaign_set(d->st, c->c.id, HD_CAMP_PAUSED, c->c.next_run, now_ms(d) / 1000,
                                    err)) < 0 ||
        (rc = hd_store_campaign_pause_note(d->st, c->c.id, reason, err)) < 0)
        return rc;
    c->c.status = HD_CAMP_PAUSED;
    d->tripped = true;
    hd_dsp_breaker_reset(c);
    return 0;
}

int hd_dsp_breaker_note(struct hd_dispatch *d, int64_t campaign, int state, const char *word,
                        const char *text, struct hd_err *err)
{
    bool failed = state == HD_ST_RENDER_FAILED ||
                  (state == HD_ST_FAILED && !(word && strcmp(word, "opted_out") == 0));
    if (!failed && state != HD_ST_SENT)
        return 0;
    double rate = d->cfg->pause_on_failure_rate;
    uint32_t window = d->cfg->failure_window;
    struct camp *c = camp_by_id(d, campaign);
    if (rate <= 0 || window == 0 || !c || c->c.status == HD_CAMP_PAUSED)
        return 0;
    struct breaker *b = &c->brk;
    if (!b->ring)
        b->ring = hd_xcalloc(window, 1);
    if (b->n == window)
        b->fails -= b->ring[b->pos]; /* the oldest leaves the window */
    else
        b->n++;
    b->ring[b->pos] = failed;
    b->pos = (b->pos + 1) % window;
    if (!failed)
        return 0;
    b->fails++;
    snprintf(b->word, sizeof b->word, "%s", word ? word : hd_state_name(state));
    snprintf(b->text, sizeof b->text, "%s", text ? text : "");
    if ((double)b->fails < ceil(rate * window))
        return 0;
    return trip(d, c, err);
}
