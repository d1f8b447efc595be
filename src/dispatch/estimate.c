/* estimate: what a campaign would do if it fired now, without writing
 * anything: every contact of its segment goes through the dispatcher's own
 * steps (the holdout bucket, hd_dispatch_decide's checks, the variant
 * hd_variant_pick gives, hd_render for an SMS to count its segments and
 * cost), and the outcomes are counted. The contacts are streamed with
 * their facts (consent, suppression, earlier sends) by the store, so any
 * segment size takes constant memory. */
#include <stdlib.h>
#include <string.h>

#include "herald/dispatch.h"
#include "herald/hash.h"
#include "herald/segment.h"
#include "herald/sms.h"

struct run {
    const struct hd_config *cfg;
    const struct hd_campaign *c;
    const struct hd_tpl *tpl;
    struct hd_zones *zones;
    struct hd_fmt *fmt;
    int64_t now;
    struct hd_variant_cut cuts[16]; /* the campaign's variants, parsed once */
    size_t ncuts;
    struct hd_estimate *out;
};

/* What the SMS costs: rendered as it would go, for the variant the
 * contact would get. */
static void estimate_sms(struct run *e, const struct hd_claimed *m, int provider)
{
    struct hd_rendered r;
    struct hd_tpl_req req;
    json_t *data =
        hd_tpl_data(&m->contact, e->cfg, NULL, "00000000-0000-0000-0000-000000000000", NULL);
    hd_tpl_req_init(&req, &m->contact, e->cfg, e->now, data, e->fmt);
    req.variant = hd_variant_pick(e->cuts, e->ncuts, e->c->id, m->contact_id);
    if (hd_render(e->tpl, HD_CH_SMS, &req, &r, NULL) == 0) {
        struct hd_sms_info info;
        const char *text = hd_rendered_sms_text(&r, e->cfg->providers[provider].type);
        hd_sms_analyze(text ? text : "", text ? strlen(text) : 0, &info);
        e->out->sms_segments += (int64_t)info.segments;
        e->out->sms_cost += (double)info.segments * e->cfg->providers[provider].cost_per_segment;
        hd_rendered_release(&r);
    } else {
        e->out->sms_failed++;
    }
    json_decref(data);
}

static int estimate_one(void *ud, const struct hd_claimed *m)
{
    struct run *e = ud;
    struct hd_estimate *o = e->out;
    struct hd_decision d;
    o->total++;
    if (e->c->holdout_bp && hd_ab_bucket(e->c->id, m->contact_id, "holdout") < e->c->holdout_bp) {
        o->held++;
        return 0;
    }
    hd_dispatch_decide(e->cfg, e->c, m, e->zones, e->now, &d);
    if (d.state != HD_ST_SENDING && !(d.state == HD_ST_DEFERRED && d.channel >= 0)) {
        o->by_state[d.state]++;
        return 0;
    }
    if (d.state == HD_ST_DEFERRED)
        o->by_state[HD_ST_DEFERRED]++;
    o->by_channel[d.channel]++;
    if (d.channel == HD_CH_SMS)
        estimate_sms(e, m, d.provider);
    return 0;
}

int hd_estimate(struct hd_store *st, const struct hd_config *cfg, const struct hd_campaign *c,
                int64_t now, struct hd_estimate *out, struct hd_err *err)
{
    struct hd_seg_node *ast = NULL;
    struct hd_tpl_set *set = NULL;
    struct run e = {.cfg = cfg, .c = c, .now = now, .out = out};
    char *vbuf = c->variants ? hd_xstrdup(c->variants) : NULL; /* the names point into it */
    int rc;
    memset(out, 0, sizeof *out);
    e.zones = hd_zones_new(cfg->timezone);
    e.fmt = hd_fmt_new();
    if ((vbuf && (rc = hd_variants_parse(c->variants, vbuf, e.cuts, 16, &e.ncuts, err)) < 0) ||
        (rc = hd_seg_load(st, c->segment, NULL, now, &ast, err)) < 0 ||
        (rc = hd_tpl_set_open(cfg->templates, &set, err)) < 0 ||
        (rc = hd_tpl_get(set, c->tpl, &e.tpl, err)) < 0)
        goto out;
    rc = hd_store_seg_facts(st, ast, now, c->category, now - hd_dispatch_horizon(cfg, c),
                            estimate_one, &e, err);
out:
    hd_segast_free(ast);
    hd_tpl_set_free(set);
    hd_zones_free(e.zones);
    hd_fmt_free(e.fmt);
    free(vbuf);
    return rc;
}
