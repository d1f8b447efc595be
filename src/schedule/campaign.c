/* campaign: when a campaign fires and what a firing does. A firing is a
 * run: the store materializes one message per contact of the segment as
 * it is at the firing, each due at the campaign's time (or, for a local
 * time, at that time in the contact's own zone). Recurring campaigns
 * compute their next firing from the cron expression in their zone; a
 * dispatcher that was down across several firings fires once, not once
 * for each one it missed. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/config.h"
#include "herald/log.h"
#include "herald/schedule.h"
#include "herald/segast.h"
#include "herald/segment.h"
#include "herald/store.h"
#include "herald/units.h"

int hd_variants_parse(const char *text, char *buf, struct hd_variant_cut *cuts, size_t max,
                      size_t *n, struct hd_err *err)
{
    int total = 0;
    char *p = buf;
    *n = 0;
    while (*p) {
        char *end = p + strcspn(p, ",");
        bool last = *end == '\0';
        *end = '\0';
        char *eq = strchr(p, '=');
        size_t len = eq ? (size_t)(eq - p) : 0;
        bool ok = eq && len >= 1 && len <= 15;
        for (size_t i = 0; ok && i < len; i++)
            ok = isalnum((unsigned char)p[i]) || p[i] == '-' || p[i] == '_';
        char *stop = NULL;
        long w = ok ? strtol(eq + 1, &stop, 10) : 0;
        if (!ok || stop == eq + 1 || *stop || w < 1 || w > 100)
            return hd_err_set(err, HD_E_USAGE,
                              "--variants: '%s' is not NAME=WEIGHT (a name of 1-15 letters, "
                              "digits, - or _, and a weight of 1-100), as in a=50,b=50",
                              text);
        *eq = '\0';
        for (size_t i = 0; i < *n; i++)
            if (strcmp(cuts[i].name, p) == 0)
                return hd_err_set(err, HD_E_USAGE, "--variants: '%s' is named twice", p);
        if (*n == max)
            return hd_err_set(err, HD_E_USAGE, "--variants: at most %zu variants", max);
        total += (int)w;
        cuts[*n].name = p;
        cuts[(*n)++].upto = total * 100;
        if (last)
            break;
        p = end + 1;
    }
    if (total != 100)
        return hd_err_set(err, HD_E_USAGE, "--variants: the weights in '%s' add up to %d, not 100",
                          text, total);
    return 0;
}

/* The earliest instant any zone shows the local time on the date: the
 * date's wall-clock time in UTC+14, the first zone to reach it. */
static int64_t local_first(const struct hd_campaign *c)
{
    return c->at + (int64_t)c->local_minute * 60 - 14 * 3600;
}

int hd_campaign_first_run(const struct hd_campaign *c, const struct hd_config *cfg, int64_t now,
                          int64_t *next, struct hd_err *err)
{
    switch (c->sched) {
    case HD_SCHED_NOW:
        *next = now;
        return 0;
    case HD_SCHED_AT:
        *next = c->at > now ? c->at : now;
        return 0;
    case HD_SCHED_LOCAL:
        *next = c->at >= 0 && local_first(c) > now ? local_first(c) : now;
        return 0;
    case HD_SCHED_EVERY: {
        struct hd_cron cron;
        int rc = hd_cron_parse(c->cron, &cron, err);
        if (rc < 0) {
            hd_err_prefix(err, "--every");
            if (err)
                err->code = HD_E_USAGE;
            return HD_E_USAGE;
        }
        struct hd_zone *z = hd_zone_open(c->tz ? c->tz : cfg->timezone);
        if (!z)
            return hd_err_set(err, HD_E_USAGE, "--tz: '%s' is not a time zone",
                              c->tz ? c->tz : cfg->timezone);
        rc = hd_cron_next(&cron, z, now - 1, next);
        hd_zone_free(z);
        if (rc < 0)
            return hd_err_set(err, HD_E_USAGE, "--every: '%s' never fires", c->cron);
        return 0;
    }
    default:
        return hd_err_set(err, HD_E_INVALID, "campaign '%s' has no schedule", c->name);
    }
}

struct due_ctx {
    const struct hd_campaign *c;
    struct hd_zones *zones;
    int64_t fire_at;
};

static int64_t due_local(void *ud, const char *tz)
{
    struct due_ctx *d = ud;
    struct hd_zone *z = hd_zones_get(d->zones, tz);
    int h = d->c->local_minute / 60, m = d->c->local_minute % 60;
    if (d->c->at < 0)
        return hd_local_time_next(z, d->fire_at, h, m);
    struct hd_civil day = {0};
    hd_time_civil_from_days(d->c->at / 86400, &day.year, &day.month, &day.day);
    day.hour = (unsigned)h;
    day.minute = (unsigned)m;
    int64_t t = hd_zone_utc(z, &day);
    return t > d->fire_at ? t : d->fire_at;
}

struct progress_thunk {
    hd_fire_progress_fn fn;
    void *ud;
    const char *name;
};

static void materialize_progress(void *ud, int64_t queued)
{
    struct progress_thunk *t = ud;
    if (t->fn)
        t->fn(t->ud, t->name, queued);
}

static int fire(struct hd_store *st, const struct hd_config *cfg, struct hd_campaign *c,
                int64_t fire_at, int64_t now_ms, hd_fire_progress_fn progress, void *ud,
                struct hd_fire *out, struct hd_err *err)
{
    struct hd_seg_node *ast = NULL;
    struct hd_variant_cut cuts[16];
    char *vbuf = c->variants ? hd_xstrdup(c->variants) : NULL;
    size_t ncuts = 0;
    struct due_ctx due = {.c = c, .zones = hd_zones_new(cfg->timezone), .fire_at = fire_at};
    struct hd_run run;
    int64_t now = now_ms / 1000, next = -1;
    int rc;
    memset(out, 0, sizeof *out);
    if ((vbuf && (rc = hd_variants_parse(c->variants, vbuf, cuts, 16, &ncuts, err)) < 0) ||
        (rc = hd_store_run_open(st, c->id, fire_at, now, &run, err)) < 0)
        goto out;
    out->run = run.id;
    out->seq = run.seq;
    if (run.status == HD_RUN_MATERIALIZING) {
        struct progress_thunk thunk = {progress, ud, c->name};
        if ((rc = hd_seg_load(st, c->segment, NULL, fire_at, &ast, err)) < 0) {
            hd_err_prefix(err, "campaign '%s'", c->name);
            goto out;
        }
        struct hd_materialize m = {.run = run.id,
                                   .campaign = c->id,
                                   .ast = ast,
                                   .seg_now = fire_at,
                                   .not_before = fire_at,
                                   .due = c->sched == HD_SCHED_LOCAL ? due_local : NULL,
                                   .due_ud = &due,
                                   .expires = c->expires,
                                   .holdout_bp = c->holdout_bp,
                                   .variants = cuts,
                                   .nvariants = ncuts,
                                   .now_ms = now_ms,
                                   .progress = materialize_progress,
                                   .progress_ud = &thunk};
        if ((rc = hd_store_materialize(st, &m, &out->queued, &out->held, err)) < 0)
            goto out;
    } else {
        out->queued = run.queued;
    }
    if (c->sched == HD_SCHED_EVERY) {
        struct hd_cron cron;
        struct hd_zone *z = hd_zone_open(c->tz ? c->tz : cfg->timezone);
        if (z && hd_cron_parse(c->cron, &cron, NULL) == 0 &&
            hd_cron_next(&cron, z, fire_at > now ? fire_at : now, &next) < 0)
            next = -1;
        hd_zone_free(z);
    }
    if (c->status != HD_CAMP_PAUSED) /* a paused campaign stays paused */
        c->status = HD_CAMP_RUNNING;
    c->next_run = next;
    rc = hd_store_campaign_set(st, c->id, c->status, next, now, err);
out:
    hd_segast_free(ast);
    hd_zones_free(due.zones);
    free(vbuf);
    return rc;
}

/* fire under the campaign's firing lock (hd_store_fire_lock): waiting for
 * it, or else *busy when another node holds it (it fires or finishes the
 * run itself). */
static int fire_locked(struct hd_store *st, const struct hd_config *cfg, struct hd_campaign *c,
                       int64_t fire_at, int64_t now_ms, hd_fire_progress_fn progress, void *ud,
                       bool wait, bool *busy, struct hd_fire *out, struct hd_err *err)
{
    bool got = false;
    int rc = hd_store_fire_lock(st, c->id, wait, &got, err);
    memset(out, 0, sizeof *out);
    *busy = rc == 0 && !got;
    if (rc < 0 || !got)
        return rc;
    rc = fire(st, cfg, c, fire_at, now_ms, progress, ud, out, err);
    hd_store_fire_unlock(st, c->id);
    return rc;
}

int hd_campaign_fire(struct hd_store *st, const struct hd_config *cfg, struct hd_campaign *c,
                     int64_t fire_at, int64_t now_ms, hd_fire_progress_fn progress, void *ud,
                     struct hd_fire *out, struct hd_err *err)
{
    bool busy;
    return fire_locked(st, cfg, c, fire_at, now_ms, progress, ud, true, &busy, out, err);
}

struct tick {
    struct hd_store *st;
    int64_t now;
    int64_t next; /* the earliest firing after now, or -1 */
    struct hd_campaign *due;
    size_t n;
};

static int collect_due(void *ud, const struct hd_campaign *c)
{
    struct tick *t = ud;
    if (c->status == HD_CAMP_CANCELLED || c->status == HD_CAMP_DONE || c->next_run < 0)
        return 0;
    if (c->next_run > t->now) {
        if (t->next < 0 || c->next_run < t->next)
            t->next = c->next_run;
        return 0;
    }
    HD_GROW(t->due, t->n);
    struct hd_campaign *d = &t->due[t->n++];
    *d = *c;
    d->name = hd_xstrdup(c->name);
    d->segment = hd_xstrdup(c->segment);
    d->tpl = hd_xstrdup(c->tpl);
    d->cron = c->cron ? hd_xstrdup(c->cron) : NULL;
    d->tz = c->tz ? hd_xstrdup(c->tz) : NULL;
    d->variants = c->variants ? hd_xstrdup(c->variants) : NULL;
    d->rate = c->rate ? hd_xstrdup(c->rate) : NULL;
    return 0;
}

struct unfinished {
    int64_t *campaign, *fire_at, *seq;
    size_t n;
};

static int collect_materializing(void *ud, const struct hd_run *r)
{
    struct unfinished *u = ud;
    if (r->status != HD_RUN_MATERIALIZING)
        return 0;
    HD_GROW(u->campaign, u->n);
    HD_GROW(u->fire_at, u->n);
    HD_GROW(u->seq, u->n);
    u->seq[u->n] = r->seq;
    u->campaign[u->n] = r->campaign_id;
    u->fire_at[u->n++] = r->fire_at;
    return 0;
}

/* A campaign whose segment cannot be evaluated (deleted, a rule SQLite
 * refuses) is paused with the reason, logged, and skipped until someone
 * resumes it, so that one bad campaign does not stop the others. 1 when it
 * is (or already was) paused so, 0 when it may fire, or an error. */
static int pause_if_unrunnable(struct hd_store *st, struct hd_campaign *c, int64_t fire_at,
                               int64_t now, struct hd_log *log, struct hd_err *err)
{
    struct hd_seg_node *ast = NULL;
    struct hd_err why = {0};
    char *noted = NULL, reason[1200];
    int rc;
    if (c->status == HD_CAMP_PAUSED) {
        if ((rc = hd_store_campaign_pause_reason(st, c->id, &noted, err)) < 0)
            return rc;
        free(noted);
        if (noted)
            return 1;
    }
    rc = hd_seg_load(st, c->segment, NULL, fire_at, &ast, &why);
    if (rc == HD_E_STORE) /* the database, not the rule */
        return hd_err_set(err, rc, "campaign '%s': %s", c->name, why.msg);
    if (rc == 0)
        rc = hd_store_seg_check(st, ast, fire_at, &why);
    hd_segast_free(ast);
    if (rc == 0)
        return 0;
    why.msg[strcspn(why.msg, "\n")] = '\0'; /* the message, not the rule quoted under it */
    /* the parser's "segment 'x': " once is enough */
    char prefix[96];
    int np = snprintf(prefix, sizeof prefix, "segment '%s': ", c->segment);
    const char *m = strncmp(why.msg, prefix, (size_t)np) == 0 ? why.msg + np : why.msg;
    snprintf(reason, sizeof reason, "segment '%s' cannot be evaluated: %s", c->segment, m);
    hd_log_error(log, "campaign '%s': paused: %s", c->name, reason);
    if ((rc = hd_store_campaign_set(st, c->id, HD_CAMP_PAUSED, c->next_run, now, err)) < 0 ||
        (rc = hd_store_campaign_pause_note(st, c->id, reason, err)) < 0)
        return rc;
    c->status = HD_CAMP_PAUSED;
    return 1;
}

int hd_campaign_tick(struct hd_store *st, const struct hd_config *cfg, int64_t now_ms,
                     struct hd_log *log, hd_fire_progress_fn progress, void *ud, int *fired,
                     int64_t *next, struct hd_err *err)
{
    struct tick t = {.st = st, .now = now_ms / 1000, .next = -1};
    struct unfinished u = {0};
    int rc;
    *fired = 0;
    /* runs a crash left half-materialized are finished first */
    if ((rc = hd_store_run_each(st, 0, true, collect_materializing, &u, err)) < 0)
        goto out;
    for (size_t i = 0; i < u.n && rc == 0; i++) {
        struct hd_campaign c;
        struct hd_fire f;
        if ((rc = hd_store_campaign_get(st, NULL, u.campaign[i], &c, err)) < 0)
            break;
        bool busy = false;
        if (c.status != HD_CAMP_CANCELLED &&
            (rc = pause_if_unrunnable(st, &c, u.fire_at[i], t.now, log, err)) == 0)
            rc =
                fire_locked(st, cfg, &c, u.fire_at[i], now_ms, progress, ud, false, &busy, &f, err);
        if (rc == 0 && busy)
            hd_log_debug(log, "campaign '%s': another node is materializing run %lld", c.name,
                         (long long)u.seq[i]);
        else if (rc == 0 && c.status != HD_CAMP_CANCELLED)
            hd_log_info(log, "campaign '%s': finished the materialization of run %lld", c.name,
                        (long long)u.seq[i]);
        rc = rc > 0 ? 0 : rc;
        hd_campaign_release(&c);
    }
    if (rc < 0 || (rc = hd_store_campaign_each(st, collect_due, &t, err)) < 0)
        goto out;
    for (size_t i = 0; i < t.n && rc == 0; i++) {
        struct hd_fire f;
        if ((rc = pause_if_unrunnable(st, &t.due[i], t.due[i].next_run, t.now, log, err)) != 0) {
            rc = rc > 0 ? 0 : rc;
            continue;
        }
        bool busy = false;
        rc = fire_locked(st, cfg, &t.due[i], t.due[i].next_run, now_ms, progress, ud, false, &busy,
                         &f, err);
        if (rc == 0 && busy) {
            hd_log_debug(log, "campaign '%s': another node is firing it", t.due[i].name);
        } else if (rc == 0) {
            char n[48];
            hd_log_info(log, "campaign '%s': run %lld queued %s (%lld held out)", t.due[i].name,
                        (long long)f.seq, hd_units_count(f.queued, "message", NULL, n, sizeof n),
                        (long long)f.held);
            ++*fired;
        }
    }
out:
    if (next)
        *next = t.next;
    for (size_t i = 0; i < t.n; i++)
        hd_campaign_release(&t.due[i]);
    free(t.due);
    free(u.campaign);
    free(u.fire_at);
    free(u.seq);
    return rc;
}
