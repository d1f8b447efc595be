/* why: what `herald why CONTACT CAMPAIGN` tells, decided from the record:
 * the campaign, whether the contact still exists, the contact's record
 * (history.c) and the campaign's runs; then, for each run, whether the
 * contact was in it and, if not, why not; for each log row, which kind of
 * step it was. The CLI turns the answers into sentences. */
#include <stdlib.h>
#include <string.h>

#include "herald/audit.h"
#include "herald/buf.h"
#include "herald/store.h"

static int keep_run(void *ud, const struct hd_run *r)
{
    struct hd_why *w = ud;
    HD_GROW(w->runs, w->nruns);
    w->runs[w->nruns++] = *r;
    return 0;
}

int hd_why_load(struct hd_store *st, const char *contact, const char *campaign, struct hd_why *w,
                struct hd_err *err)
{
    int64_t id;
    int rc;
    memset(w, 0, sizeof *w);
    if ((rc = hd_store_contact_ref(st, contact, &id, err)) < 0 ||
        (rc = hd_store_campaign_get(st, campaign, 0, &w->camp, err)) < 0)
        goto out;
    w->exists = id > 0 && hd_store_contact_get(st, contact, &w->contact, NULL) == 0;
    if ((rc = hd_history_load(st, id, w->camp.id, &w->rec, err)) < 0)
        goto out;
    rc = hd_store_run_each(st, w->camp.id, false, keep_run, w, err);
out:
    if (rc < 0)
        hd_why_release(w);
    return rc;
}

void hd_why_release(struct hd_why *w)
{
    if (!w)
        return;
    hd_campaign_release(&w->camp);
    hd_contact_release(&w->contact);
    hd_history_release(&w->rec);
    free(w->runs);
    memset(w, 0, sizeof *w);
}

int hd_why_run(const struct hd_why *w, const struct hd_run *run, const struct hd_msg_info **m)
{
    *m = NULL;
    for (size_t i = 0; i < w->rec.nmsgs; i++)
        if (w->rec.msgs[i].run == run->id) {
            *m = &w->rec.msgs[i];
            return HD_WHY_IN;
        }
    if (run->status == HD_RUN_MATERIALIZING)
        return HD_WHY_MAKING;
    if (w->exists && w->contact.added_at > run->created_at)
        return HD_WHY_CREATED_AFTER;
    return HD_WHY_NOT_IN_SEGMENT;
}

static bool is(const char *word, const char *what)
{
    return strcmp(word, what) == 0;
}

int hd_why_step(const struct hd_log_row *r)
{
    const char *word = r->reason ? r->reason : "";
    if (is(r->outcome, "receipt"))
        return HD_WHY_RECEIPT;
    if (!is(r->outcome, "skipped"))
        return HD_WHY_ATTEMPT;
    if (is(word, "held_out"))
        return HD_WHY_HELD_OUT;
    if (is(word, "capped") || is(word, "resend_after"))
        return HD_WHY_CAPPED;
    if (is(word, "quiet_hours"))
        return HD_WHY_QUIET;
    if (is(word, "no_address") || is(word, "no_provider") || is(word, "opted_out") ||
        is(word, "suppressed"))
        return HD_WHY_NO_CHANNEL;
    return HD_WHY_SKIPPED;
}

const char *hd_why_skip_words(const char *word)
{
    static const struct {
        const char *word, *text;
    } words[] = {
        {"no_address", "no address"},
        {"no_provider", "no provider is configured for it"},
        {"opted_out", "no consent (opted out)"},
        {"suppressed", "the address is suppressed"},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(words[i].word, word) == 0)
            return words[i].text;
    return word;
}
