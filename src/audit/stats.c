/* stats: a campaign's numbers from its messages and its delivery log
 * (live rows and the totals pruned ones left), grouped by channel,
 * variant, provider or day; latency percentiles from histograms; and the
 * two-proportion z-test that compares a variant's conversions with the
 * holdout's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "herald/audit.h"
#include "herald/buf.h"
#include "herald/lat.h"
#include "herald/state.h"
#include "herald/stats.h"
#include "herald/store.h"

void hd_ztest(int64_t x1, int64_t n1, int64_t x2, int64_t n2, struct hd_ztest *out)
{
    memset(out, 0, sizeof *out);
    if (n1 <= 0 || n2 <= 0)
        return;
    out->p1 = (double)x1 / (double)n1;
    out->p2 = (double)x2 / (double)n2;
    out->diff = out->p1 - out->p2;
    out->lift = out->p2 > 0 ? out->diff / out->p2 : NAN;
    double pool = (double)(x1 + x2) / (double)(n1 + n2);
    double se0 = sqrt(pool * (1 - pool) * (1.0 / (double)n1 + 1.0 / (double)n2));
    double se = sqrt(out->p1 * (1 - out->p1) / (double)n1 + out->p2 * (1 - out->p2) / (double)n2);
    out->lo = out->diff - 1.959963984540054 * se;
    out->hi = out->diff + 1.959963984540054 * se;
    if (se0 <= 0)
        return; /* both rates 0, or both 1: nothing to test */
    out->z = out->diff / se0;
    out->p = erfc(fabs(out->z) / sqrt(2.0));
    out->ok = true;
}

/* ---- gathering ---------------------------------------------------------------------- */

static struct hd_stats_group *group(struct hd_stats *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->groups[i].name, name) == 0)
            return &s->groups[i];
    HD_GROW(s->groups, s->n);
    struct hd_stats_group *g = &s->groups[s->n++];
    memset(g, 0, sizeof *g);
    g->name = hd_xstrdup(name);
    /* groups[0] is "all", made first */
    g->no_counts = s->n > 1 && (s->by == HD_BY_PROVIDER || s->by == HD_BY_DAY);
    return g;
}

static void add_reason(struct hd_stats_reasons *r, const char *word, int64_t n)
{
    if (!word || !*word)
        word = "-";
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].word, word) == 0) {
            r->v[i].n += n;
            return;
        }
    HD_GROW(r->v, r->n);
    r->v[r->n].word = hd_xstrdup(word);
    r->v[r->n++].n = n;
}

/* Applies fn to "all" and, when grouped, to the row's own group. */
#define EACH_GROUP(s, name, g, body)                                                               \
    do {                                                                                           \
        struct hd_stats_group *g = &(s)->groups[0];                                                \
        body;                                                                                      \
        if ((s)->by != HD_BY_NONE && (name)) {                                                     \
            g = group((s), (name));                                                                \
            body;                                                                                  \
        }                                                                                          \
    } while (0)

static int on_msg(void *ud, const char *name, int state, int64_t n)
{
    struct hd_stats *s = ud;
    bool pending = !hd_state_terminal(state);
    EACH_GROUP(s, name, g, {
        g->targeted += n;
        if (state == HD_ST_HELD_OUT)
            g->held_out += n;
        if (pending)
            g->pending += n;
    });
    return 0;
}

/* A skip under the word of its outcome, the message's state, as campaign
 * show counts it: "capped", or with the cause when the log's reason is
 * another word ("no_channel:no_address": no channel, for want of an
 * address). */
static const char *skip_word(int state, const char *reason, char *buf, size_t size)
{
    const char *st = hd_state_name(state);
    if (!reason || !*reason || strcmp(reason, st) == 0)
        return st;
    snprintf(buf, size, "%s:%s", st, reason);
    return buf;
}

/* A receipt's row counts where it moved the message (an ignored one, out
 * of order, kept the state it found and counts nowhere), but for a bounce
 * after the delivery: the message stays delivered (and counts there too)
 * and the bounce counts as one all the same. The store leaves out a
 * message's other bounces, so a message counts once: by its hard bounce
 * if it has one, else by its first. */
static void on_receipt(struct hd_stats *s, const struct hd_stat_count *c)
{
    const char *w = c->reason ? c->reason : "";
    int st = c->state;
    bool bounce = st == HD_ST_BOUNCED || st == HD_ST_DELIVERED;
    EACH_GROUP(s, c->group, g, {
        if (st == HD_ST_DELIVERED && strcmp(w, "delivered") == 0)
            g->delivered += c->n;
        else if (st == HD_ST_UNDELIVERED && strcmp(w, "undelivered") == 0)
            g->undelivered += c->n;
        else if (bounce && strcmp(w, "bounced_hard") == 0)
            g->bounced_hard += c->n;
        else if (bounce && strcmp(w, "bounced_soft") == 0)
            g->bounced_soft += c->n;
        else if (bounce && strcmp(w, "bounced_other") == 0)
            g->bounced_other += c->n;
        else if (st == HD_ST_COMPLAINED && strcmp(w, "complained") == 0)
            g->complained += c->n;
        else if (strcmp(w, "opened") == 0) /* a step, not a state: counted wherever it is */
            g->opened += c->n;
    });
}

static int on_count(void *ud, const struct hd_stat_count *c)
{
    struct hd_stats *s = ud;
    bool skipped = strcmp(c->outcome, "skipped") == 0,
         accepted = strcmp(c->outcome, "accepted") == 0;
    /* a message a stopped dispatcher left in flight, queued again: it goes
     * again, but the row is no request (databases before it was a decision
     * logged it as a temporary answer, 'interrupted') */
    bool requeued = c->reason && (strcmp(c->reason, "requeued") == 0 ||
                                  (!skipped && strcmp(c->reason, "interrupted") == 0));
    int st = c->state;
    char word[128];
    if (strcmp(c->outcome, "receipt") == 0) {
        on_receipt(s, c);
        return 0;
    }
    EACH_GROUP(s, c->group, g, {
        if (accepted && st == HD_ST_SENT) {
            g->sent += c->n;
            g->segments += c->segments;
            g->cost += c->cost;
        } else if (st == HD_ST_FAILED || st == HD_ST_RENDER_FAILED) {
            g->failed += c->n;
            add_reason(&g->failed_by, c->reason, c->n);
        } else if (st == HD_ST_SUPPRESSED || st == HD_ST_NO_CHANNEL || st == HD_ST_CAPPED ||
                   st == HD_ST_EXPIRED || st == HD_ST_CANCELLED) {
            g->skipped += c->n;
            add_reason(&g->skipped_by, skip_word(st, c->reason, word, sizeof word), c->n);
        } else if (skipped && st == HD_ST_DEFERRED) {
            g->deferred += c->n;
            add_reason(&g->deferred_by, c->reason, c->n);
        } else if ((!skipped || requeued) && !accepted && !hd_state_terminal(st)) {
            g->retries += c->n; /* it goes again: retry, pause, fallback, interruption */
        }
        if (strcmp(c->outcome, "throttled") == 0)
            g->throttled += c->n;
        if (!skipped && !requeued)
            g->attempts += c->n; /* a request that went on the wire */
    });
    return 0;
}

static int on_latency(void *ud, const char *name, int bucket, int64_t n)
{
    struct hd_stats *s = ud;
    if (bucket < 0 || bucket >= HD_LAT_BUCKETS)
        return 0;
    EACH_GROUP(s, name, g, {
        g->lat[bucket] += n;
        g->nlat += n;
    });
    return 0;
}

static int cmp_group(const void *a, const void *b)
{
    const struct hd_stats_group *x = a, *y = b;
    /* the holdout last, "-" (none) after the named ones */
    int hx = strcmp(x->name, "holdout") == 0 ? 2 : strcmp(x->name, "-") == 0;
    int hy = strcmp(y->name, "holdout") == 0 ? 2 : strcmp(y->name, "-") == 0;
    return hx != hy ? hx - hy : strcmp(x->name, y->name);
}

/* Reasons by count, most first, then by word: not in the order the rows
 * came, which is the engine's (PostgreSQL's hash aggregate gave another
 * than SQLite's sort, found by a review comparing the engines). */
static int cmp_reason(const void *a, const void *b)
{
    const struct hd_stats_reason *x = a, *y = b;
    return x->n != y->n ? (x->n < y->n ? 1 : -1) : strcmp(x->word, y->word);
}

static void sort_reasons(struct hd_stats_reasons *r)
{
    if (r->n > 1)
        qsort(r->v, r->n, sizeof *r->v, cmp_reason);
}

int hd_stats_load(struct hd_store *st, int64_t campaign, int by, struct hd_stats *out,
                  struct hd_err *err)
{
    int rc;
    memset(out, 0, sizeof *out);
    out->by = by;
    group(out, "all");
    if ((rc = hd_store_stats_messages(st, campaign, by, on_msg, out, err)) < 0 ||
        (rc = hd_store_stats_log(st, campaign, by, on_count, out, err)) < 0 ||
        (rc = hd_store_stats_latency(st, campaign, by, on_latency, out, err)) < 0) {
        hd_stats_release(out);
        return rc;
    }
    if (out->n > 2)
        qsort(out->groups + 1, out->n - 1, sizeof *out->groups, cmp_group);
    for (size_t i = 0; i < out->n; i++) {
        sort_reasons(&out->groups[i].failed_by);
        sort_reasons(&out->groups[i].skipped_by);
        sort_reasons(&out->groups[i].deferred_by);
    }
    return 0;
}

int64_t hd_stats_percentile(const struct hd_stats_group *g, double q)
{
    if (g->nlat == 0)
        return -1;
    int64_t rank = (int64_t)ceil(q * (double)g->nlat), seen = 0;
    if (rank < 1)
        rank = 1;
    for (int b = 0; b < HD_LAT_BUCKETS; b++)
        if ((seen += g->lat[b]) >= rank)
            return hd_lat_value(b);
    return hd_lat_value(HD_LAT_BUCKETS - 1);
}

static void reasons_release(struct hd_stats_reasons *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].word);
    free(r->v);
}

void hd_stats_release(struct hd_stats *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->groups[i].name);
        reasons_release(&s->groups[i].failed_by);
        reasons_release(&s->groups[i].skipped_by);
        reasons_release(&s->groups[i].deferred_by);
    }
    free(s->groups);
    memset(s, 0, sizeof *s);
}
