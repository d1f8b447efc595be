/* creds: the providers' reusable credentials (the APNs provider token,
 * Huawei Push Kit's OAuth access token)
 * between the store and the drivers, so that the processes that send
 * through one provider share one token instead of signing their own.
 *
 * Drivers never touch the store and the store's connection is this
 * thread's alone, so the token is handed over: at start the stored one is
 * registered as a secret with the log and offered to the provider's driver,
 * opened then (before its first message signs a token of its own; an open
 * that fails is left to the first submit, which reports it as before); on
 * every tick and at the end, the token the driver uses is written back
 * when it is newer than what the store had, and a newer one another
 * process stored is offered to the driver. p->cred_at is the issue time
 * of the newest token this process has seen on either side. */
#include <string.h>

#include "dispatch_int.h"

static void forget(char *v)
{
    if (v)
        hd_wipe(v, strlen(v));
    free(v);
}

int hd_dsp_creds_open(struct hd_dispatch *d, struct hd_err *err)
{
    for (size_t i = 0; i < d->cfg->nproviders; i++) {
        struct prov *p = &d->prov[i];
        char *v = NULL;
        int64_t at = 0;
        int rc;
        if (!(p->cred = hd_driver_has_credential(p->cfg->type)))
            continue;
        if ((rc = hd_store_credential_get(d->st, p->cfg->name, &v, &at, err)) < 0)
            return rc;
        if (!v)
            continue;
        hd_log_add_secret(d->log, v); /* no driver thread logs yet */
        struct hd_err oerr = {0};
        if (hd_dsp_open_driver(d, p, &oerr) < 0)
            p->drv = NULL;
        if (p->drv && hd_driver_offer_credential(p->drv, v, at))
            p->cred_at = at;
        forget(v);
    }
    return 0;
}

/* One provider: ours to the store when newer, the store's to the driver
 * when newer. */
static int sync_one(struct hd_dispatch *d, struct prov *p, struct hd_err *err)
{
    char *v = NULL;
    int64_t at = 0;
    int rc = 0;
    if (hd_driver_credential(p->drv, &v, &at) && at > p->cred_at) {
        rc = hd_store_credential_put(d->st, p->cfg->name, v, at, err);
        if (rc == 0)
            p->cred_at = at;
    }
    forget(v);
    v = NULL;
    if (rc == 0 && (rc = hd_store_credential_get(d->st, p->cfg->name, &v, &at, err)) == 0 && v &&
        at > p->cred_at && hd_driver_offer_credential(p->drv, v, at))
        p->cred_at = at;
    forget(v);
    return rc;
}

void hd_dsp_creds_sync(struct hd_dispatch *d)
{
    for (size_t i = 0; i < d->cfg->nproviders; i++) {
        struct prov *p = &d->prov[i];
        struct hd_err err = {0};
        /* the token saves signatures; failing to share it stops nothing */
        if (p->cred && p->drv && sync_one(d, p, &err) < 0)
            hd_log_warn(d->log, "provider '%s': cannot share its token: %s", p->cfg->name, err.msg);
    }
}
