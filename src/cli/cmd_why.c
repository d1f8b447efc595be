/* cmd_why: herald why CONTACT CAMPAIGN: the contact's record for the
 * campaign told as plain sentences. What happened is decided by the audit
 * module (hd_why_load, hd_why_run, hd_why_step); this file says it. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "herald/audit.h"
#include "herald/state.h"
#include "herald/store.h"

static const char why_usage[] =
    "usage: herald why CONTACT CAMPAIGN [--format table|csv|json|jsonl]\n"
    "\n"
    "Why the contact did or did not get the campaign's message, in plain words,\n"
    "from the record: for each run, whether the contact was in the segment when\n"
    "the run was made, whether they were held out, which channels were considered\n"
    "and why each was skipped (no address, no consent, suppressed, capped by which\n"
    "rule and earlier messages, quiet hours until when), and every attempt with its\n"
    "result; then the state now, and when a waiting message is due. After herald\n"
    "log prune it says which steps were pruned. Last, every change of the\n"
    "contact's consent for the campaign's category on its channels, with its\n"
    "source, the campaign and message whose link made it, and its time. json and\n"
    "jsonl give one record: the campaign, per run whether the contact was in it\n"
    "(in, making, created_after, not_in_segment), when it fired (fired_at: its\n"
    "time, or when it was made if that was later) and was due (due_at), its\n"
    "message, state and log rows (as herald log prints them), and the consent\n"
    "changes; csv gives one row per run.\n";

/* Channels skipped, from the JSON detail. */
static void why_channels(const char *detail, const char *chosen)
{
    json_t *d = detail ? json_loads(detail, 0, NULL) : NULL;
    json_t *skipped = json_object_get(d, "skipped");
    size_t i;
    json_t *pair;
    json_array_foreach(skipped, i, pair)
    {
        printf("  - %s was considered and skipped: %s.\n",
               json_string_value(json_array_get(pair, 0)),
               hd_why_skip_words(json_string_value(json_array_get(pair, 1))));
    }
    if (chosen)
        printf("  - %s was chosen.\n", chosen);
    json_decref(d);
}

static void why_earlier(const struct hd_history *rec, const char *detail)
{
    json_t *d = detail ? json_loads(detail, 0, NULL) : NULL;
    json_t *earlier = json_object_get(d, "earlier");
    size_t i;
    json_t *id;
    json_array_foreach(earlier, i, id)
    {
        const struct hd_log_row *w = hd_history_accepted(rec, json_integer_value(id));
        char at[32];
        if (w) {
            cmd_time(w->at_ms / 1000, at, sizeof at);
            printf("      the earlier message %lld: campaign %s, %s via %s, sent %s\n",
                   (long long)json_integer_value(id), w->campaign, w->channel,
                   w->provider ? w->provider : "-", at);
        } else {
            printf("      the earlier message %lld (its log rows were pruned)\n",
                   (long long)json_integer_value(id));
        }
    }
    json_decref(d);
}

/* A skip, in words. */
static void why_skip(const struct hd_history *rec, const struct hd_log_row *r, int step,
                     const char *at, const char *word)
{
    switch (step) {
    case HD_WHY_CAPPED:
        printf("  - %s: capped: %s.\n", at, r->text ? r->text : "");
        why_earlier(rec, r->detail);
        break;
    case HD_WHY_QUIET:
        printf("  - %s: deferred by %s.\n", at, r->text ? r->text : "quiet hours");
        break;
    case HD_WHY_NO_CHANNEL:
        printf("  - %s: no channel could carry it (%s).\n", at, r->text ? r->text : word);
        break;
    default:
        printf("  - %s: %s: %s.\n", at, word, r->text ? r->text : "");
    }
}

/* A receipt: "delivered at ...", "undelivered: 30005 unknown destination
 * handset, address suppressed". */
static void why_receipt(const struct hd_log_row *r, const char *at)
{
    const char *word = r->reason ? r->reason : "";
    if (strcmp(word, "delivered") == 0 && r->state == HD_ST_DELIVERED)
        printf("  - delivered at %s (reported by %s).\n", at, r->provider ? r->provider : "-");
    else
        printf("  - %s: %s%s%s (reported by %s).\n", at, word, r->text && *r->text ? ": " : "",
               r->text ? r->text : "", r->provider ? r->provider : "-");
}

static void why_row(const struct hd_history *rec, const struct hd_log_row *r, bool *channels_told)
{
    char at[32];
    cmd_time(r->at_ms / 1000, at, sizeof at);
    const char *word = r->reason ? r->reason : "";
    int step = hd_why_step(r);
    if (step == HD_WHY_HELD_OUT) {
        printf("  - held out (%s): nothing is sent to the control group, by design.\n",
               r->text ? r->text : "");
        return;
    }
    if (step == HD_WHY_RECEIPT) {
        why_receipt(r, at);
        return;
    }
    if (step != HD_WHY_ATTEMPT) {
        if (!*channels_told && r->detail && strstr(r->detail, "\"skipped\"")) {
            why_channels(r->detail, NULL);
            *channels_told = true;
        }
        why_skip(rec, r, step, at, word);
        return;
    }
    if (!*channels_told) {
        why_channels(r->detail, r->channel);
        *channels_told = true;
    }
    char code[16] = "";
    if (r->code)
        snprintf(code, sizeof code, "%d ", r->code);
    printf("  - %s: attempt %d by %s via %s to %s: %s%s%s (%s%s).\n", at, r->attempt,
           r->channel ? r->channel : "-", r->provider ? r->provider : "-",
           r->address ? r->address : "(erased)", r->outcome, *word ? ", " : "", word, code,
           r->text ? r->text : "");
}

/* The log before the prune time is gone: say so, not "not considered". */
static void why_pruned(const struct hd_history *rec, const struct hd_msg_info *m)
{
    char t[32];
    bool left = false;
    for (size_t r = 0; r < rec->nrows && !left; r++)
        left = rec->rows[r].message == m->id;
    cmd_time(rec->pruned_before_ms / 1000, t, sizeof t);
    printf("  - the log's steps before %s were pruned (herald log prune)%s.\n", t,
           left ? "; the later ones follow" : "; its state is known from the message");
}

/* One run: was the contact in it, and what happened to its message. */
static void why_run(const struct hd_why *w, const struct hd_run *run, const char *zone)
{
    const struct hd_msg_info *m;
    char fired[80];
    printf("\nrun %lld, fired %s:\n", (long long)run->seq, cmd_run_fired(run, fired, sizeof fired));
    switch (hd_why_run(w, run, &m)) {
    case HD_WHY_MAKING:
        printf("  - the run is still being made: the contact may yet be added.\n");
        return;
    case HD_WHY_CREATED_AFTER:
        printf("  - not in it: the contact was added to herald after the run was made.\n");
        return;
    case HD_WHY_NOT_IN_SEGMENT:
        printf("  - not in segment %s when the run was made: no message.\n", w->camp.segment);
        return;
    default:
        break;
    }
    printf("  - in segment %s when the run was made: message %lld%s%s.\n", w->camp.segment,
           (long long)m->id, m->variant ? ", variant " : "", m->variant ? m->variant : "");
    bool told = false, any = false, pruned = hd_history_pruned(&w->rec, m);
    if (pruned)
        why_pruned(&w->rec, m);
    for (size_t r = 0; r < w->rec.nrows; r++)
        if (w->rec.rows[r].message == m->id) {
            why_row(&w->rec, &w->rec.rows[r], &told);
            any = true;
        }
    char due[300];
    hd_history_due(m, w->exists && w->contact.timezone ? w->contact.timezone : zone, due,
                   sizeof due);
    if (!any && !pruned && due[0])
        printf("  - not considered yet: it waits for the dispatcher.\n");
    printf("  - now: %s%s%s.\n", hd_state_name(m->state), due[0] ? ", " : "", due);
}

/* Whether a consent change is about the campaign: its category, on one of
 * its channels. */
static bool about_campaign(const struct hd_why *w, const struct hd_consent *k)
{
    for (int c = 0; c < w->camp.nchannels; c++)
        if (w->camp.channels[c] == k->channel)
            return k->category == w->camp.category;
    return false;
}

/* The consent changes that bear on the campaign, with their provenance. */
static void why_consent(const struct hd_why *w)
{
    size_t n = 0;
    for (size_t k = 0; k < w->rec.nconsent; k++)
        n += about_campaign(w, &w->rec.consent[k]);
    printf("\nconsent for %s messages on its channels: %s\n", hd_category_name(w->camp.category),
           n ? "these changes, oldest first:" : "no change recorded (consents)");
    for (size_t k = 0; k < w->rec.nconsent; k++)
        if (about_campaign(w, &w->rec.consent[k]))
            cmd_consent_line(&w->rec.consent[k]);
}

/* The record for json, jsonl and csv: the campaign and, per run, what
 * happened, with the message's log rows. */
static json_t *why_runs_json(const struct hd_why *w)
{
    static const char *const verdicts[] = {"in", "making", "created_after", "not_in_segment"};
    json_t *runs = json_array();
    char fired[32], due[32];
    for (size_t r = w->nruns; r-- > 0;) {
        const struct hd_run *run = &w->runs[r];
        const struct hd_msg_info *m = NULL;
        int v = hd_why_run(w, run, &m);
        /* fired_at: when it fired, to the second, as stats --goal counts
         * (HD_RUN_FIRED_SQL): its time, or when it was made if later */
        json_t *o = json_pack("{s:I, s:s, s:s, s:s}", "run", (json_int_t)run->seq, "fired_at",
                              cmd_time(hd_run_fired_at(run), fired, sizeof fired), "due_at",
                              cmd_time(run->fire_at, due, sizeof due), "contact_was", verdicts[v]);
        if (v == HD_WHY_IN && m) {
            json_t *rows = json_array();
            for (size_t k = 0; k < w->rec.nrows; k++)
                if (w->rec.rows[k].message == m->id)
                    json_array_append_new(rows, cmd_log_json(&w->rec.rows[k]));
            json_object_set_new(o, "message", json_integer(m->id));
            json_object_set_new(o, "variant", m->variant ? json_string(m->variant) : json_null());
            json_object_set_new(o, "state", json_string(hd_state_name(m->state)));
            json_object_set_new(o, "log", rows);
        }
        json_array_append_new(runs, o);
    }
    return runs;
}

static void why_record(struct hd_ctx *ctx, int format, const char *who, const struct hd_why *w)
{
    json_t *ch = json_array();
    for (int c = 0; c < w->camp.nchannels; c++)
        json_array_append_new(ch, json_string(hd_channel_name(w->camp.channels[c])));
    char *paused = NULL;
    if (w->camp.status == HD_CAMP_PAUSED)
        hd_store_campaign_pause_reason(ctx->store, w->camp.id, &paused, NULL);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:o, s:b, s:s, s:s?}", "contact", who, "campaign", w->camp.name,
                  "segment", w->camp.segment, "channels", ch, "contact_exists", w->exists, "status",
                  hd_camp_status_name(w->camp.status), "paused_because", paused);
    free(paused);
    json_t *runs = why_runs_json(w);
    if (format != FMT_CSV) {
        json_t *consent = json_array();
        for (size_t k = 0; k < w->rec.nconsent; k++)
            if (about_campaign(w, &w->rec.consent[k]))
                json_array_append_new(consent, cmd_consent_json(&w->rec.consent[k]));
        json_object_set_new(o, "runs", runs);
        json_object_set_new(o, "consent", consent);
        cmd_out_one(format, NULL, o);
        return;
    }
    /* csv: a row per run, the campaign's columns repeated */
    static const char *const cols[] = {"contact",  "campaign", "segment",     "status",  "run",
                                       "fired_at", "due_at",   "contact_was", "message", "variant",
                                       "state",    "log",      NULL};
    size_t i;
    json_t *run;
    json_array_foreach(runs, i, run) json_object_update_missing(run, o);
    json_decref(o);
    cmd_out_all(FMT_CSV, cols, runs);
}

static int say_suppressed(void *ud, const struct hd_suppression *s)
{
    char t[32];
    (void)ud;
    cmd_time(s->created_at, t, sizeof t);
    printf("\n%s (%s) is suppressed since %s: %s%s%s", s->address, hd_channel_name(s->channel), t,
           s->reason, s->detail ? ": " : "", s->detail ? s->detail : "");
    if (s->message)
        printf(" (message %lld)", (long long)s->message);
    printf(".\n");
    return 0;
}

/* The contact's addresses on the suppression list, and why. */
static void why_suppressed(struct hd_ctx *ctx, const struct hd_contact *k)
{
    const char *addr[] = {k->email, k->phone};
    for (int i = 0; i < 2; i++)
        if (addr[i])
            hd_store_suppress_find(ctx->store, addr[i], say_suppressed, NULL, NULL);
}

int cmd_why(struct hd_ctx *ctx, int argc, char **argv)
{
    int format, rc,
        i = cli_parse_format("why", why_usage, 2, "a CONTACT and a CAMPAIGN are needed", argc, argv,
                             &format, &rc);
    if (i < 0)
        return rc;
    if (!ctx->store)
        return cmd_help(why_usage);
    const char *who = argv[i];
    struct hd_err err = {0};
    struct hd_why w;
    if (hd_why_load(ctx->store, who, argv[i + 1], &w, &err) < 0)
        return cmd_fail(ctx, &err);
    if (format != FMT_TABLE) {
        why_record(ctx, format, who, &w);
        hd_why_release(&w);
        return EXIT_OK;
    }
    printf("contact %s and campaign %s (segment %s, channels", who, w.camp.name, w.camp.segment);
    for (int c = 0; c < w.camp.nchannels; c++)
        printf("%s%s", c ? ", " : " ", hd_channel_name(w.camp.channels[c]));
    printf("):\n");
    if (!w.exists)
        printf("the contact was deleted: the log keeps only this pseudonymous id.\n");
    char *paused = NULL;
    if (w.camp.status == HD_CAMP_PAUSED &&
        hd_store_campaign_pause_reason(ctx->store, w.camp.id, &paused, NULL) == 0 && paused)
        printf("the campaign is paused: %s.\n", paused);
    free(paused);
    if (w.nruns == 0)
        printf("the campaign has not fired yet: no run, so no message.\n");
    for (size_t r = w.nruns; r-- > 0;)
        why_run(&w, &w.runs[r], ctx->cfg ? ctx->cfg->timezone : NULL);
    why_consent(&w);
    if (w.exists)
        why_suppressed(ctx, &w.contact);
    hd_why_release(&w);
    return EXIT_OK;
}
