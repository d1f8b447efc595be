/* history: a contact's record, read once for `herald history` and `herald
 * why`: the contact's messages (of one campaign, or all) and every row of
 * the delivery log about the contact, through the contact index. Rows and
 * messages are copied, their strings duplicated, so the record outlives
 * the queries' callbacks, with the time the log was pruned to, so a
 * message fired before it is told as pruned, not as not yet considered;
 * and when a waiting message is due, in the contact's zone; and every
 * change of the contact's consent (consent_log). Also the names
 * a log query is given (`herald log`), turned into the ids its indexes
 * take. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/audit.h"
#include "herald/buf.h"
#include "herald/state.h"
#include "herald/store.h"
#include "herald/time.h"

enum { ROW_STRINGS = 12, MSG_STRINGS = 4 };

static void row_strings(struct hd_log_row *r, const char **f[ROW_STRINGS])
{
    const char **all[ROW_STRINGS] = {&r->campaign, &r->contact,    &r->variant, &r->channel,
                                     &r->provider, &r->address,    &r->outcome, &r->reason,
                                     &r->text,     &r->gateway_id, &r->digest,  &r->detail};
    memcpy(f, all, sizeof all);
}

static void msg_strings(struct hd_msg_info *m, const char **f[MSG_STRINGS])
{
    const char **all[MSG_STRINGS] = {&m->campaign_name, &m->segment, &m->variant, &m->reason};
    memcpy(f, all, sizeof all);
}

static int keep_row(void *ud, const struct hd_log_row *r)
{
    struct hd_history *h = ud;
    const char **f[ROW_STRINGS];
    HD_GROW(h->rows, h->nrows);
    struct hd_log_row *w = &h->rows[h->nrows++];
    *w = *r;
    row_strings(w, f);
    for (int i = 0; i < ROW_STRINGS; i++)
        *f[i] = hd_xstrdup(*f[i]);
    return 0;
}

static int keep_consent(void *ud, const struct hd_consent *k)
{
    struct hd_history *h = ud;
    HD_GROW(h->consent, h->nconsent);
    struct hd_consent *w = &h->consent[h->nconsent++];
    *w = *k;
    w->source = hd_xstrdup(k->source);
    w->campaign = k->campaign ? hd_xstrdup(k->campaign) : NULL;
    return 0;
}

static int keep_msg(void *ud, const struct hd_msg_info *m)
{
    struct hd_history *h = ud;
    const char **f[MSG_STRINGS];
    HD_GROW(h->msgs, h->nmsgs);
    struct hd_msg_info *w = &h->msgs[h->nmsgs++];
    *w = *m;
    msg_strings(w, f);
    for (int i = 0; i < MSG_STRINGS; i++)
        *f[i] = hd_xstrdup(*f[i]);
    return 0;
}

void hd_history_release(struct hd_history *h)
{
    if (!h)
        return;
    const char **f[ROW_STRINGS];
    for (size_t i = 0; i < h->nrows; i++) {
        row_strings(&h->rows[i], f);
        for (int k = 0; k < ROW_STRINGS; k++)
            free((char *)*f[k]); /* duplicated by keep_row */
    }
    for (size_t i = 0; i < h->nmsgs; i++) {
        msg_strings(&h->msgs[i], f);
        for (int k = 0; k < MSG_STRINGS; k++)
            free((char *)*f[k]);
    }
    for (size_t i = 0; i < h->nconsent; i++)
        hd_consent_release(&h->consent[i]);
    free(h->rows);
    free(h->msgs);
    free(h->consent);
    memset(h, 0, sizeof *h);
}

int hd_history_load(struct hd_store *st, int64_t contact, int64_t campaign, struct hd_history *h,
                    struct hd_err *err)
{
    memset(h, 0, sizeof *h);
    /* every row of the contact: a cap may name messages of other campaigns */
    struct hd_log_filter f = {.contact = contact, .oldest_first = true};
    int rc = hd_store_contact_messages(st, contact, campaign, keep_msg, h, err);
    if (rc == 0)
        rc = hd_store_log_query(st, &f, keep_row, h, err);
    if (rc == 0)
        rc = hd_store_log_pruned_before(st, &h->pruned_before_ms, err);
    if (rc == 0)
        rc = hd_store_consent_log(st, contact, keep_consent, h, err);
    if (rc < 0)
        hd_history_release(h);
    return rc;
}

bool hd_history_pruned(const struct hd_history *h, const struct hd_msg_info *m)
{
    return h->pruned_before_ms > 0 && m->fire_at * 1000 < h->pruned_before_ms;
}

void hd_history_due(const struct hd_msg_info *m, const char *zone, char *buf, size_t size)
{
    char when[40];
    buf[0] = '\0';
    if (m->state != HD_ST_QUEUED && m->state != HD_ST_RETRY_WAIT && m->state != HD_ST_DEFERRED)
        return;
    struct hd_zone *z = zone && *zone ? hd_zone_open(zone) : NULL;
    if (z)
        hd_zone_format_iso(z, m->due, when, sizeof when);
    else
        hd_time_format_iso(m->due, when, sizeof when);
    hd_zone_free(z);
    /* the reason without its own "until": the due time says it */
    const char *why = m->reason ? m->reason : "";
    const char *until = strstr(why, " until ");
    int len = until ? (int)(until - why) : (int)strlen(why);
    snprintf(buf, size, "due %s%s%.*s%s", when, len ? " (" : "", len, why, len ? ")" : "");
}

const struct hd_log_row *hd_history_accepted(const struct hd_history *h, int64_t message)
{
    for (size_t i = 0; i < h->nrows; i++)
        if (h->rows[i].message == message && strcmp(h->rows[i].outcome, "accepted") == 0)
            return &h->rows[i];
    return NULL;
}

const char *hd_log_outcome(const char *s)
{
    static const char *const outcomes[] = {"accepted",  "temporary", "permanent",
                                           "throttled", "skipped",   "receipt"};
    for (size_t i = 0; s && i < sizeof outcomes / sizeof *outcomes; i++)
        if (strcmp(s, outcomes[i]) == 0)
            return outcomes[i];
    return NULL;
}

int hd_log_filter_resolve(struct hd_store *st, const char *campaign, int64_t run,
                          const char *contact, struct hd_log_filter *f, struct hd_err *err)
{
    struct hd_campaign camp = {0};
    int rc;
    if (campaign && (rc = hd_store_campaign_get(st, campaign, 0, &camp, err)) < 0)
        return rc;
    f->campaign = camp.id;
    hd_campaign_release(&camp);
    if (run) {
        /* run numbers count per campaign (hd_run.seq) */
        struct hd_run r;
        if (!campaign)
            return hd_err_set(err, HD_E_USAGE,
                              "--run %lld needs --campaign: runs are numbered per campaign",
                              (long long)run);
        if ((rc = hd_store_run_by_seq(st, f->campaign, run, &r, err)) < 0)
            return hd_err_prefix(err, "campaign '%s'", campaign);
        f->run = r.id;
    }
    if (contact && (rc = hd_store_contact_ref(st, contact, &f->contact, err)) < 0)
        return rc;
    return 0;
}
