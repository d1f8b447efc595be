/* statsjson: a campaign's numbers as herald stats shows them and GET
 * /api/v1/campaigns/NAME/stats answers (issue 20: one function feeds
 * both): each group's metrics in the order shown, and as JSON. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"
#include "herald/stats.h"

static void metrics(const struct hd_stats_group *g, struct hd_stats_metrics *out)
{
    struct hd_stats_metric *m = out->m;
    size_t n = 0, k = 0;
#define PUT(nm, val) (m[n++] = (struct hd_stats_metric){.name = (nm), .v = (double)(val)})
#define REASONS(prefix, r)                                                                         \
    for (size_t i = 0; i < (r).n && k < MAX_REASONS; i++, k++) {                                   \
        snprintf(out->names[k], 64, "%s.%s", prefix, (r).v[i].word);                               \
        PUT(out->names[k], (r).v[i].n);                                                            \
    }
    PUT("targeted", g->targeted);
    m[n - 1].none = g->no_counts; /* they read 0 in every group: a review found it */
    PUT("held_out", g->held_out);
    m[n - 1].none = g->no_counts;
    PUT("pending", g->pending);
    m[n - 1].none = g->no_counts;
    PUT("sent", g->sent);
    PUT("delivered", g->delivered);
    PUT("undelivered", g->undelivered);
    int64_t bounced = g->bounced_hard + g->bounced_soft + g->bounced_other;
    PUT("bounced", bounced);
    PUT("bounced_hard", g->bounced_hard);
    PUT("bounced_soft", g->bounced_soft);
    PUT("complained", g->complained);
    PUT("opened", g->opened);
    static const char *const rates[] = {"delivered_rate", "undelivered_rate", "bounce_rate",
                                        "complaint_rate", "open_rate"};
    const int64_t of[] = {g->delivered, g->undelivered, bounced, g->complained, g->opened};
    for (int i = 0; i < 5; i++) {
        PUT(rates[i], g->sent ? (double)of[i] / (double)g->sent : 0);
        m[n - 1].ratio = true;
        m[n - 1].none = g->sent == 0;
    }
    PUT("failed", g->failed);
    REASONS("failed", g->failed_by);
    PUT("skipped", g->skipped);
    REASONS("skipped", g->skipped_by);
    PUT("deferred", g->deferred);
    REASONS("deferred", g->deferred_by);
    PUT("retries", g->retries);
    PUT("throttled", g->throttled);
    PUT("requests", g->attempts);
    PUT("sms_segments", g->segments);
    PUT("sms_cost", g->cost);
    m[n - 1].money = true;
    static const char *const pct[] = {"latency_p50_ms", "latency_p90_ms", "latency_p99_ms"};
    static const double q[] = {0.5, 0.9, 0.99};
    for (int i = 0; i < 3; i++) {
        int64_t v = hd_stats_percentile(g, q[i]);
        PUT(pct[i], v);
        m[n - 1].none = v < 0;
    }
#undef PUT
#undef REASONS
    out->n = n;
}

/* Every group's metrics (the caller frees). */
struct hd_stats_metrics *hd_stats_metrics_of(const struct hd_stats *s)
{
    struct hd_stats_metrics *gm = hd_xcalloc(s->n, sizeof *gm);
    for (size_t g = 0; g < s->n; g++)
        metrics(&s->groups[g], &gm[g]);
    return gm;
}

static json_t *groups_json(const struct hd_stats *s)
{
    json_t *groups = json_object();
    struct hd_stats_metrics *gm = hd_stats_metrics_of(s);
    for (size_t g = 0; g < s->n; g++) {
        const struct hd_stats_metric *m = gm[g].m;
        json_t *o = json_object();
        for (size_t i = 0; i < gm[g].n; i++) {
            const char *dot = strchr(m[i].name, '.');
            json_t *v = m[i].none                  ? json_null()
                        : m[i].money || m[i].ratio ? json_real(m[i].v)
                                                   : json_integer((json_int_t)m[i].v);
            if (dot) {
                char key[64];
                snprintf(key, sizeof key, "%.*s_by", (int)(dot - m[i].name), m[i].name);
                json_t *by = json_object_get(o, key);
                if (!by)
                    json_object_set_new(o, key, by = json_object());
                json_object_set_new(by, dot + 1, v);
            } else {
                json_object_set_new(o, m[i].name, v);
            }
        }
        json_object_set_new(groups, s->groups[g].name, o);
    }
    free(gm);
    return groups;
}

json_t *hd_stats_json(const char *campaign, const struct hd_stats *s)
{
    static const char *const bys[] = {"none", "channel", "variant", "provider", "day"};
    return json_pack("{s:s, s:s, s:o}", "campaign", campaign, "by",
                     s->by >= 0 && s->by < 5 ? bys[s->by] : "none", "groups", groups_json(s));
}
