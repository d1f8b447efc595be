/* control: an operator pausing, resuming, cancelling or starting a
 * campaign. Pause, resume and cancel are each one transaction on the
 * campaign row (and, for a cancel, its unsent messages), refused with a
 * message saying why when the campaign's status does not allow it; a
 * resumed campaign is running when a run is still open, else waits for its
 * next firing, else is done. Starting (herald send) fires the campaign
 * now, unless a run is open already or it is done. Creating one checks
 * everything it can before writing: the segment and the template exist,
 * the template has a part for every channel and every variant, the
 * schedule gives a first run and a one-off time is not past (guard.c);
 * nothing is stored when a check fails. */
#include <stdlib.h>
#include <string.h>

#include "herald/schedule.h"
#include "herald/segment.h"
#include "herald/state.h"
#include "herald/store.h"
#include "herald/tpl.h"

/* The status a paused campaign goes back to. */
static int resumed_status(struct hd_store *st, const struct hd_campaign *c, int *status,
                          struct hd_err *err)
{
    int64_t counts[HD_ST_COUNT];
    int rc = hd_store_run_counts(st, c->id, 0, counts, err);
    if (rc < 0)
        return rc;
    int64_t open = counts[HD_ST_QUEUED] + counts[HD_ST_RETRY_WAIT] + counts[HD_ST_DEFERRED] +
                   counts[HD_ST_SENDING];
    *status = open ? HD_CAMP_RUNNING : c->next_run >= 0 ? HD_CAMP_SCHEDULED : HD_CAMP_DONE;
    return 0;
}

static int apply(struct hd_store *st, struct hd_campaign *c, int op, int64_t now_ms,
                 int64_t *cancelled, struct hd_err *err)
{
    int64_t now = now_ms / 1000;
    int status, rc;
    if (c->status == HD_CAMP_CANCELLED || (c->status == HD_CAMP_DONE && op != HD_CAMP_OP_CANCEL))
        return hd_err_set(err, HD_E_INVALID, "campaign '%s' is %s", c->name,
                          hd_camp_status_name(c->status));
    switch (op) {
    case HD_CAMP_OP_PAUSE:
        if (c->status == HD_CAMP_PAUSED)
            return hd_err_set(err, HD_E_INVALID, "campaign '%s' is already paused", c->name);
        return hd_store_campaign_set(st, c->id, HD_CAMP_PAUSED, c->next_run, now, err);
    case HD_CAMP_OP_RESUME:
        if (c->status != HD_CAMP_PAUSED)
            return hd_err_set(err, HD_E_INVALID, "campaign '%s' is not paused", c->name);
        if ((rc = resumed_status(st, c, &status, err)) < 0)
            return rc;
        return hd_store_campaign_set(st, c->id, status, c->next_run, now, err);
    case HD_CAMP_OP_CANCEL:
        if ((rc = hd_store_campaign_cancel(st, c->id, now_ms, cancelled, err)) < 0)
            return rc;
        return hd_store_campaign_set(st, c->id, HD_CAMP_CANCELLED, -1, now, err);
    default:
        HD_BUG("campaign operation %d", op);
    }
}

int hd_campaign_control(struct hd_store *st, const char *name, int op, int64_t now_ms,
                        struct hd_campaign *c, int64_t *cancelled, struct hd_err *err)
{
    int rc;
    memset(c, 0, sizeof *c);
    *cancelled = 0;
    if ((rc = hd_store_begin(st, err)) < 0 ||
        (rc = hd_store_campaign_get(st, name, 0, c, err)) < 0 ||
        (rc = apply(st, c, op, now_ms, cancelled, err)) < 0 || (rc = hd_store_commit(st, err)) < 0)
        hd_store_rollback(st);
    return rc;
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

/* hd_campaign_start with the campaign's firing lock held: its status and
 * runs are read under it, so that a send on another node, which may be
 * opening a run of its own or have finished one meanwhile, is seen (read
 * before the lock, two sends waiting on it each fired at its own second:
 * two runs for one firing, a review found; the lock is PostgreSQL's, taken
 * again by the firing, and nothing on SQLite). */
static int start_locked(struct hd_store *st, const struct hd_config *cfg, struct hd_campaign *c,
                        int64_t now_ms, hd_fire_progress_fn progress, void *ud, int *started,
                        struct hd_fire *out, struct hd_err *err)
{
    struct unfinished u = {0};
    struct hd_campaign again = {0};
    int rc;
    if ((rc = hd_store_campaign_get(st, NULL, c->id, &again, err)) < 0)
        return rc;
    c->status = again.status;
    hd_campaign_release(&again);
    if (c->status == HD_CAMP_PAUSED || c->status == HD_CAMP_CANCELLED)
        return hd_err_set(err, HD_E_INVALID, "campaign '%s' is %s%s", c->name,
                          hd_camp_status_name(c->status),
                          c->status == HD_CAMP_PAUSED ? ": resume it first" : "");
    if ((rc = hd_store_run_each(st, c->id, true, first_unfinished, &u, err)) < 0)
        return rc;
    if (!u.any && c->status == HD_CAMP_DONE) {
        *started = HD_START_DONE;
        return 0;
    }
    if (u.any && !u.materializing) {
        *started = HD_START_OPEN;
        return 0;
    }
    *started = HD_START_FIRED;
    return hd_campaign_fire(st, cfg, c, u.materializing ? u.fire_at : now_ms / 1000, now_ms,
                            progress, ud, out, err);
}

int hd_campaign_start(struct hd_store *st, const struct hd_config *cfg, struct hd_campaign *c,
                      int64_t now_ms, hd_fire_progress_fn progress, void *ud, int *started,
                      struct hd_fire *out, struct hd_err *err)
{
    bool got = false;
    int rc = hd_store_fire_lock(st, c->id, true, &got, err);
    if (rc < 0)
        return rc;
    rc = start_locked(st, cfg, c, now_ms, progress, ud, started, out, err);
    hd_store_fire_unlock(st, c->id);
    return rc;
}

/* Checks the template serves every channel and variant of c. */
static int check_template(const struct hd_config *cfg, struct hd_campaign *c, bool category_given,
                          struct hd_err *err)
{
    struct hd_tpl_set *set = NULL;
    const struct hd_tpl *t;
    struct hd_tpl_info info;
    int rc;
    if ((rc = hd_tpl_set_open(cfg->templates, &set, err)) < 0 ||
        (rc = hd_tpl_get(set, c->tpl, &t, err)) < 0)
        goto out;
    hd_tpl_get_info(t, &info);
    if (!category_given)
        c->category = info.category;
    for (int i = 0; i < c->nchannels; i++)
        if (!(info.channels & (1u << c->channels[i]))) {
            rc = hd_err_set(err, HD_E_USAGE, "template '%s' has no %s part", c->tpl,
                            hd_channel_name(c->channels[i]));
            goto out;
        }
    if (c->variants) {
        struct hd_variant_cut cuts[16];
        size_t n;
        char *buf = hd_xstrdup(c->variants);
        rc = hd_variants_parse(c->variants, buf, cuts, 16, &n, err);
        /* stats and the goal report group the held-out messages as
         * "holdout" and those without a variant as "-": a variant so named
         * merged with them, and the lift compared b with the mix */
        for (size_t v = 0; rc == 0 && v < n; v++)
            if (strcmp(cuts[v].name, "holdout") == 0 || strcmp(cuts[v].name, "-") == 0)
                rc = hd_err_set(err, HD_E_USAGE,
                                "--variants: '%s' is the name of a group stats reports (the "
                                "holdout, or messages without a variant): name the variant "
                                "otherwise",
                                cuts[v].name);
        /* one variant may be the control, with the base parts; the others
         * need parts of their own, or they would be the control too */
        const char *base = NULL;
        for (size_t v = 0; rc == 0 && v < n; v++) {
            bool named = false;
            for (size_t k = 0; k < info.nvariants; k++)
                named |= strcmp(info.variants[k], cuts[v].name) == 0;
            if (!named && base)
                rc = hd_err_set(err, HD_E_USAGE,
                                "--variants: neither '%s' nor '%s' has parts of its own in "
                                "template '%s'; only one variant can use the base parts",
                                base, cuts[v].name, c->tpl);
            else if (!named)
                base = cuts[v].name;
        }
        free(buf);
    }
out:
    hd_tpl_set_free(set);
    return rc;
}

int hd_campaign_prepare(struct hd_store *st, const struct hd_config *cfg, struct hd_campaign *c,
                        bool category_given, int64_t now, struct hd_err *err)
{
    struct hd_seg_node *ast = NULL;
    int rc;
    c->created_at = now;
    c->status = HD_CAMP_SCHEDULED;
    if (c->sched == HD_SCHED_EVERY && !c->tz)
        c->tz = hd_xstrdup(cfg->timezone);
    /* the segment must exist and be a rule SQLite takes, or every firing fails */
    if ((rc = hd_campaign_check_at(c, now, err)) == 0 &&
        (rc = hd_seg_load(st, c->segment, NULL, now, &ast, err)) == 0 &&
        (rc = hd_store_seg_check(st, ast, now, err)) == 0 &&
        (rc = check_template(cfg, c, category_given, err)) == 0)
        rc = hd_campaign_first_run(c, cfg, c->created_at, &c->next_run, err);
    hd_segast_free(ast);
    return rc;
}

int hd_campaign_create(struct hd_store *st, const struct hd_config *cfg, struct hd_campaign *c,
                       bool category_given, int64_t now, struct hd_err *err)
{
    int rc = hd_campaign_prepare(st, cfg, c, category_given, now, err);
    return rc < 0 ? rc : hd_store_campaign_add(st, c, err);
}
