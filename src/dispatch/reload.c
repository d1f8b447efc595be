/* reload: a running dispatcher takes a new configuration (SIGHUP). The
 * checks read d->cfg at every decision, so caps, quiet hours, channels,
 * locale and region change by pointing d->cfg at the new one; what was
 * built from the old one is rebuilt here: the template variables, the zone
 * cache (when the time zone changed) and each provider's token bucket
 * (when its rate or burst changed; a pause in force stays). What the
 * drivers, the store and the template set were opened with cannot change
 * under them: the first such difference refuses the whole configuration,
 * named, before anything changed. */
#include <string.h>

#include "dispatch_int.h"

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The first key a driver was opened with that differs, or NULL. */
static const char *driver_change(const struct hd_provider_cfg *a, const struct hd_provider_cfg *b)
{
    if (!same_str(a->type, b->type))
        return "type";
    if (a->connections != b->connections)
        return "connections";
    if (a->timeout != b->timeout)
        return "timeout";
    for (size_t i = 0; i < a->nkv; i++)
        if (!same_str(a->kv[i].value, hd_provider_get(b, a->kv[i].key)))
            return a->kv[i].key;
    for (size_t i = 0; i < b->nkv; i++)
        if (!hd_provider_get(a, b->kv[i].key))
            return b->kv[i].key;
    if (a->nsecrets != b->nsecrets)
        return "a secret";
    for (size_t i = 0; i < a->nsecrets; i++) {
        const struct hd_cfg_secret *s = hd_provider_secret(b, a->secrets[i].name);
        if (!s || s->len != a->secrets[i].len || memcmp(s->value, a->secrets[i].value, s->len) != 0)
            return a->secrets[i].via;
    }
    return NULL;
}

/* HD_E_CONFIG naming the first difference that needs a restart. */
static int needs_restart(const struct hd_config *old, const struct hd_config *cfg,
                         struct hd_err *err)
{
    static const char tail[] = "takes effect after a restart; the running configuration stays";
    if (!same_str(old->database, cfg->database))
        return hd_err_set(err, HD_E_CONFIG, "[herald] database changed: %s", tail);
    if (!same_str(old->templates, cfg->templates))
        return hd_err_set(err, HD_E_CONFIG, "[herald] templates changed: %s", tail);
    if (old->busy_timeout != cfg->busy_timeout)
        return hd_err_set(err, HD_E_CONFIG, "[herald] busy_timeout changed: %s", tail);
    if (old->nproviders != cfg->nproviders)
        return hd_err_set(err, HD_E_CONFIG, "the set of providers changed: %s", tail);
    for (size_t i = 0; i < cfg->nproviders; i++) {
        const struct hd_provider_cfg *a = &old->providers[i], *b = &cfg->providers[i];
        if (strcmp(a->name, b->name) != 0)
            return hd_err_set(err, HD_E_CONFIG, "the set of providers changed ('%s' for '%s'): %s",
                              b->name, a->name, tail);
        const char *what = driver_change(a, b);
        if (what)
            return hd_err_set(err, HD_E_CONFIG, "[provider %s] %s changed: %s", a->name, what,
                              tail);
    }
    return 0;
}

int hd_dispatch_reconfigure(struct hd_dispatch *d, const struct hd_config *cfg, struct hd_err *err)
{
    int rc;
    if ((rc = needs_restart(d->cfg, cfg, err)) < 0)
        return rc;
    int64_t mono = hd_clock_mono_ms();
    for (size_t i = 0; i < cfg->nproviders; i++) {
        const struct hd_provider_cfg *p = &cfg->providers[i];
        struct prov *pv = &d->prov[i];
        if (p->rate.count != pv->cfg->rate.count || p->rate.period != pv->cfg->rate.period ||
            p->burst != pv->cfg->burst) {
            int64_t paused = pv->bucket.paused_until_ms;
            hd_bucket_init(&pv->bucket, &p->rate, p->burst, mono);
            pv->bucket.paused_until_ms = paused;
        }
        pv->cfg = p;
    }
    if (!same_str(d->cfg->timezone, cfg->timezone)) {
        hd_zones_free(d->zones);
        d->zones = hd_zones_new(cfg->timezone);
    }
    json_decref(d->vars);
    d->vars = hd_tpl_vars(cfg);
    d->cfg = cfg;
    /* a new rate, a new grant and so a new window on a shared store (the
     * type and connections, which bound it, need a restart) */
    for (size_t i = 0; i < cfg->nproviders; i++)
        d->prov[i].window = hd_driver_window(&cfg->providers[i]);
    hd_dsp_cluster_windows(d);
    return 0;
}
