/* retry: an operator re-sending what failed in a run (herald campaign
 * retry), once the cause is fixed. One transaction: the campaign must not
 * be cancelled, the run must exist and be made; the store moves the chosen
 * messages back to queued (ids, variants, holdout and attempt counts kept,
 * a `requeued` row each in the log) and reopens the run; a campaign that
 * was done or waiting for its next firing is running again, so `herald
 * send` or `herald run` dispatches them through the usual checks
 * (suppression, consent, caps, quiet hours, expiry). A paused campaign
 * stays paused. Nothing to retry is an error, and nothing is written. */
#include <string.h>

#include "herald/schedule.h"
#include "herald/state.h"
#include "herald/store.h"

static int retry_in(struct hd_store *st, struct hd_campaign *c, int64_t number,
                    struct hd_retry *sel, int64_t *failed, int64_t *render_failed,
                    struct hd_err *err)
{
    struct hd_run run;
    int rc;
    if (c->status == HD_CAMP_CANCELLED)
        return hd_err_set(err, HD_E_INVALID,
                          "campaign '%s' is cancelled: its messages are not sent again", c->name);
    if ((rc = hd_store_run_find(st, c->id, number, &run, err)) == HD_E_NOTFOUND && number > 0)
        return hd_err_set(err, rc, "campaign '%s' has no run %lld", c->name, (long long)number);
    if (rc == HD_E_NOTFOUND)
        return hd_err_set(err, rc, "campaign '%s' has not fired yet: no run to retry", c->name);
    if (rc < 0)
        return rc;
    if (run.status == HD_RUN_MATERIALIZING)
        return hd_err_set(err, HD_E_INVALID,
                          "run %lld of campaign '%s' is still being made: send it first",
                          (long long)run.seq, c->name);
    sel->run = run.id;
    sel->seq = run.seq;
    if ((rc = hd_store_retry(st, sel, failed, render_failed, err)) < 0)
        return rc;
    if (*failed + *render_failed == 0) {
        const char *what = !sel->render_failed ? "failed"
                           : !sel->failed      ? "render_failed"
                                               : "failed or render_failed";
        return hd_err_set(err, HD_E_NOTFOUND,
                          "nothing to retry in run %lld of campaign '%s': no %s message%s%s%s",
                          (long long)run.seq, c->name, what, sel->reason ? " with reason '" : "",
                          sel->reason ? sel->reason : "", sel->reason ? "'" : "");
    }
    if (c->status == HD_CAMP_DONE || c->status == HD_CAMP_SCHEDULED) {
        c->status = HD_CAMP_RUNNING;
        rc = hd_store_campaign_set(st, c->id, c->status, c->next_run, sel->now_ms / 1000, err);
    }
    return rc;
}

int hd_campaign_retry(struct hd_store *st, const char *name, int64_t number, struct hd_retry *sel,
                      struct hd_campaign *c, int64_t *failed, int64_t *render_failed,
                      struct hd_err *err)
{
    int rc;
    memset(c, 0, sizeof *c);
    *failed = *render_failed = 0;
    if ((rc = hd_store_begin(st, err)) < 0)
        return rc;
    if ((rc = hd_store_campaign_get(st, name, 0, c, err)) < 0 ||
        (rc = retry_in(st, c, number, sel, failed, render_failed, err)) < 0 ||
        (rc = hd_store_commit(st, err)) < 0)
        hd_store_rollback(st);
    return rc;
}
