/* runs: which runs the dispatcher claims from, and when they are done.
 *
 * The active runs (of one campaign for `send`, of all for `run`) are read
 * at start and again every tick, so that new runs join and runs of
 * campaigns paused or cancelled meanwhile stop being claimed from; a run
 * with messages still out stays until those are written. Each campaign is
 * read once, with its template and, when it has a rate, its own token
 * bucket. When every run's last claim found nothing due and nothing is
 * out, finish_runs asks the store what is left: a run with nothing open is
 * done, and its campaign done, or scheduled again when it recurs. */
#include <stdlib.h>
#include <string.h>

#include "dispatch_int.h"

static void camp_free(struct camp *c)
{
    if (!c)
        return;
    hd_campaign_release(&c->c);
    hd_dsp_breaker_release(c);
    json_decref(c->json);
    free(c);
}

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
    struct hd_tpl_info info;
    hd_tpl_get_info(c->tpl, &info);
    c->c.urgent = info.urgent; /* quiet hours do not hold it (check.c) */
    for (int ch = 0; ch < HD_CH_COUNT; ch++)
        c->links[ch] = hd_tpl_may_use(c->tpl, ch, "unsubscribe_url") ||
                       hd_tpl_may_use(c->tpl, ch, "preferences_url");
    if (hd_dispatch_links_ready(d->cfg, &c->c, err) < 0) {
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
    HD_GROW(d->camps, d->ncamps);
    d->camps[d->ncamps++] = c;
    return c;
}

struct load {
    struct hd_dispatch *d;
    int64_t *ids, *camps, *seqs;
    size_t n;
};

static int collect_run(void *ud, const struct hd_run *r)
{
    struct load *l = ud;
    if (r->status != HD_RUN_ACTIVE)
        return 0;
    HD_GROW(l->ids, l->n);
    HD_GROW(l->camps, l->n);
    HD_GROW(l->seqs, l->n);
    l->seqs[l->n] = r->seq;
    l->ids[l->n] = r->id;
    l->camps[l->n++] = r->campaign_id;
    return 0;
}

/* Re-reads the active runs (and their campaigns' status): new runs join,
 * runs of paused or cancelled campaigns stop being claimed from. */
int hd_dsp_load_runs(struct hd_dispatch *d, struct hd_err *err)
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
        if (fresh.status == HD_CAMP_PAUSED) /* resumed later, it starts afresh */
            hd_dsp_breaker_reset(c);
        c->c.status = fresh.status;
        hd_campaign_release(&fresh);
        struct run r = {.id = l.ids[i], .seq = l.seqs[i], .camp = c};
        for (size_t k = 0; k < d->nruns; k++)
            if (d->runs[k].id == r.id)
                r = d->runs[k];
        if (c->c.status == HD_CAMP_PAUSED || c->c.status == HD_CAMP_CANCELLED) {
            if (r.busy == 0)
                continue;
            r.drained = true;
        }
        HD_GROW(runs, n);
        runs[n++] = r;
    }
    /* runs with messages still out stay until those are written; their
     * campaign's status read again too: a cancel marks its runs done, so
     * they are no longer active, and with the status kept from before,
     * the messages claimed and waiting for tokens went out after the
     * cancel (a review saw 200 of 300) */
    for (size_t k = 0; rc == 0 && k < d->nruns; k++) {
        bool kept = false;
        for (size_t i = 0; i < n; i++)
            kept |= runs[i].id == d->runs[k].id;
        struct camp *c = d->runs[k].camp;
        struct hd_campaign fresh;
        if (!kept && d->runs[k].busy > 0 && c &&
            (rc = hd_store_campaign_get(d->st, NULL, c->c.id, &fresh, err)) == 0) {
            c->c.status = fresh.status;
            hd_campaign_release(&fresh);
        }
        if (rc == 0 && !kept && d->runs[k].busy > 0) {
            HD_GROW(runs, n);
            runs[n] = d->runs[k];
            runs[n++].drained = true;
        }
    }
    free(l.ids);
    free(l.camps);
    free(l.seqs);
    if (rc < 0) {
        free(runs);
        return rc;
    }
    /* the API's runs first: each claim serves them before any campaign's,
     * the oldest first (the store reads runs newest first): a contact's
     * second message waiting for its first gets a run of its own, and went
     * out before it (an inbox listed newest first showed them reversed) */
    size_t napi = 0;
    for (size_t i = 0; i < n; i++)
        if (runs[i].camp->c.api) {
            struct run r = runs[i];
            memmove(&runs[napi + 1], &runs[napi], (i - napi) * sizeof *runs);
            runs[napi++] = r;
        }
    for (size_t i = 0; i < napi / 2; i++) {
        struct run r = runs[i];
        runs[i] = runs[napi - 1 - i];
        runs[napi - 1 - i] = r;
    }
    free(d->runs);
    d->runs = runs;
    d->nruns = n;
    return 0;
}

/* Marks runs with nothing left as done, and their campaigns done (or
 * scheduled again when they recur). Returns how many runs are still open;
 * *next_due gets the earliest time a waiting message is due. */
int hd_dsp_finish_runs(struct hd_dispatch *d, int64_t *next_due, struct hd_err *err)
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
        if (c->api) /* the API's: runs come and go; its campaign stays */
            continue;
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
        hd_log_fmsg(d->log, HD_LOG_INFO, &(struct hd_log_fields){.campaign = c->name},
                    "campaign '%s': run %lld is done", c->name, (long long)run->seq);
    }
    return open;
}

/* The API's runs whose last claim found nothing and that have nothing out
 * are set done (the store's guard keeps one a message joined meanwhile
 * open): a busy dispatcher never idles, and a run per message to a
 * contact that already has one waiting would otherwise pile up. */
int hd_dsp_close_api_runs(struct hd_dispatch *d, struct hd_err *err)
{
    int closed = 0, rc;
    for (size_t i = 0; i < d->nruns && d->runs[i].camp->c.api; i++) {
        struct run *run = &d->runs[i];
        if (!run->drained || run->busy > 0)
            continue;
        if ((rc = hd_store_run_set(d->st, run->id, HD_RUN_DONE, now_ms(d) / 1000, err)) < 0)
            return rc;
        closed++;
    }
    return closed ? hd_dsp_load_runs(d, err) : 0;
}

void hd_dsp_runs_release(struct hd_dispatch *d)
{
    for (size_t i = 0; i < d->ncamps; i++)
        camp_free(d->camps[i]);
    free(d->camps);
    free(d->runs);
}
