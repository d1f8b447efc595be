/* cmd_history: herald history CONTACT (every message the contact was
 * considered for, with every decision and attempt, in order) and herald
 * why CONTACT CAMPAIGN (the same record told as plain sentences). Both
 * read the contact's log rows once, through the contact index. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "herald/audit.h"
#include "herald/state.h"
#include "herald/store.h"

/* ---- the contact's record ------------------------------------------------------------------ */

struct row {
    struct hd_log_row r; /* strings owned below */
    char *s[12];
};

struct msg {
    struct hd_msg_info m; /* strings owned below */
    char *s[4];
};

struct record {
    struct row *rows;
    size_t nrows;
    struct msg *msgs;
    size_t nmsgs;
};

static int keep_row(void *ud, const struct hd_log_row *r)
{
    struct record *rec = ud;
    rec->rows = hd_xrealloc(rec->rows, (rec->nrows + 1) * sizeof *rec->rows);
    struct row *w = &rec->rows[rec->nrows++];
    w->r = *r;
    const char **f[] = {&w->r.campaign, &w->r.contact,    &w->r.variant, &w->r.channel,
                        &w->r.provider, &w->r.address,    &w->r.outcome, &w->r.reason,
                        &w->r.text,     &w->r.gateway_id, &w->r.digest,  &w->r.detail};
    for (int i = 0; i < 12; i++)
        *f[i] = w->s[i] = hd_xstrdup(*f[i]);
    return 0;
}

static int keep_msg(void *ud, const struct hd_msg_info *m)
{
    struct record *rec = ud;
    rec->msgs = hd_xrealloc(rec->msgs, (rec->nmsgs + 1) * sizeof *rec->msgs);
    struct msg *w = &rec->msgs[rec->nmsgs++];
    w->m = *m;
    const char **f[] = {&w->m.campaign_name, &w->m.segment, &w->m.variant, &w->m.reason};
    for (int i = 0; i < 4; i++)
        *f[i] = w->s[i] = hd_xstrdup(*f[i]);
    return 0;
}

static void record_release(struct record *rec)
{
    for (size_t i = 0; i < rec->nrows; i++)
        for (int k = 0; k < 12; k++)
            free(rec->rows[i].s[k]);
    for (size_t i = 0; i < rec->nmsgs; i++)
        for (int k = 0; k < 4; k++)
            free(rec->msgs[i].s[k]);
    free(rec->rows);
    free(rec->msgs);
}

static int record_load(struct hd_store *st, int64_t contact, int64_t campaign, struct record *rec,
                       struct hd_err *err)
{
    memset(rec, 0, sizeof *rec);
    /* every row of the contact: a cap may name messages of other campaigns */
    struct hd_log_filter f = {.contact = contact, .oldest_first = true};
    int rc = hd_store_contact_messages(st, contact, campaign, keep_msg, rec, err);
    if (rc == 0)
        rc = hd_store_log_query(st, &f, keep_row, rec, err);
    if (rc < 0)
        record_release(rec);
    return rc;
}

static const struct row *row_of_message(const struct record *rec, int64_t message)
{
    for (size_t i = 0; i < rec->nrows; i++)
        if (rec->rows[i].r.message == message && strcmp(rec->rows[i].r.outcome, "accepted") == 0)
            return &rec->rows[i];
    return NULL;
}

/* ---- herald history ------------------------------------------------------------------------ */

static const char history_usage[] =
    "usage: herald history CONTACT [--format table|csv|jsonl]\n"
    "\n"
    "Every message the contact was considered for, oldest first: its campaign,\n"
    "run, variant and state now, then each decision and attempt of the delivery\n"
    "log. CONTACT is the external id, or deleted-N for a deleted contact. csv and\n"
    "jsonl give the log rows alone, with the columns of herald log.\n";

int cmd_history(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    int format = FMT_TABLE, c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            format = cmd_parse_format(optarg, true);
            if (format != FMT_TABLE && format != FMT_CSV && format != FMT_JSONL)
                return cmd_usage("history", history_usage,
                                 "--format: '%s' is not table, csv or jsonl", optarg);
            break;
        case 'h':
            return cmd_help(history_usage);
        default:
            return cmd_usage("history", history_usage, "bad option");
        }
    }
    if (optind + 1 != argc)
        return cmd_usage("history", history_usage, "one CONTACT is needed");
    if (!ctx->store)
        return cmd_help(history_usage);
    struct hd_err err = {0};
    int64_t id;
    struct record rec;
    if (hd_store_contact_ref(ctx->store, argv[optind], &id, &err) < 0 ||
        record_load(ctx->store, id, 0, &rec, &err) < 0)
        return cmd_fail(ctx, &err);
    struct cmd_log_out o;
    if (format != FMT_TABLE) {
        cmd_log_begin(&o, format);
        for (size_t i = 0; i < rec.nrows; i++)
            cmd_log_row(&o, &rec.rows[i].r);
        cmd_log_end(&o);
        record_release(&rec);
        return EXIT_OK;
    }
    printf("contact %s: %zu message%s considered\n", argv[optind], rec.nmsgs,
           rec.nmsgs == 1 ? "" : "s");
    for (size_t i = 0; i < rec.nmsgs; i++) {
        const struct hd_msg_info *m = &rec.msgs[i].m;
        char fired[32];
        cmd_time(m->fire_at, fired, sizeof fired);
        printf("\n%s, run %lld (fired %s), message %lld%s%s: %s\n", m->campaign_name,
               (long long)m->run, fired, (long long)m->id, m->variant ? ", variant " : "",
               m->variant ? m->variant : "", hd_state_name(m->state));
        size_t shown = 0;
        for (size_t k = 0; k < rec.nrows; k++) {
            const struct hd_log_row *r = &rec.rows[k].r;
            if (r->message != m->id)
                continue;
            char at[32];
            cmd_time(r->at_ms / 1000, at, sizeof at);
            char code[16] = "";
            if (r->code)
                snprintf(code, sizeof code, " %d", r->code);
            printf("  %s  %-9s %-13s", at, r->outcome, r->reason ? r->reason : "-");
            if (strcmp(r->outcome, "skipped") != 0)
                printf(" #%d %s via %s to %s:%s", r->attempt, r->channel ? r->channel : "-",
                       r->provider ? r->provider : "-", r->address ? r->address : "-", code);
            printf(" %s\n", r->text ? r->text : "");
            shown++;
        }
        if (!shown)
            printf("  (no decision yet: waiting for the dispatcher)\n");
    }
    record_release(&rec);
    return EXIT_OK;
}

/* ---- herald why ----------------------------------------------------------------------------- */

static const char why_usage[] =
    "usage: herald why CONTACT CAMPAIGN\n"
    "\n"
    "Why the contact did or did not get the campaign's message, in plain words,\n"
    "from the record: for each run, whether the contact was in the segment when\n"
    "the run was made, whether they were held out, which channels were considered\n"
    "and why each was skipped (no address, no consent, suppressed, capped by which\n"
    "rule and earlier messages, quiet hours until when), and every attempt with its\n"
    "result.\n";

static const char *skip_words(const char *word)
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
               skip_words(json_string_value(json_array_get(pair, 1))));
    }
    if (chosen)
        printf("  - %s was chosen.\n", chosen);
    json_decref(d);
}

static void why_earlier(const struct record *rec, const char *detail)
{
    json_t *d = detail ? json_loads(detail, 0, NULL) : NULL;
    json_t *earlier = json_object_get(d, "earlier");
    size_t i;
    json_t *id;
    json_array_foreach(earlier, i, id)
    {
        const struct row *w = row_of_message(rec, json_integer_value(id));
        char at[32];
        if (w) {
            cmd_time(w->r.at_ms / 1000, at, sizeof at);
            printf("      the earlier message %lld: campaign %s, %s via %s, sent %s\n",
                   (long long)json_integer_value(id), w->r.campaign, w->r.channel,
                   w->r.provider ? w->r.provider : "-", at);
        } else {
            printf("      the earlier message %lld (its log rows were pruned)\n",
                   (long long)json_integer_value(id));
        }
    }
    json_decref(d);
}

static void why_row(const struct record *rec, const struct hd_log_row *r, bool *channels_told)
{
    char at[32];
    cmd_time(r->at_ms / 1000, at, sizeof at);
    const char *word = r->reason ? r->reason : "";
    if (strcmp(r->outcome, "skipped") == 0) {
        if (strcmp(word, "held_out") == 0) {
            printf("  - held out (%s): nothing is sent to the control group, by design.\n",
                   r->text ? r->text : "");
            return;
        }
        if (!*channels_told && r->detail && strstr(r->detail, "\"skipped\"")) {
            why_channels(r->detail, NULL);
            *channels_told = true;
        }
        if (strcmp(word, "capped") == 0 || strcmp(word, "resend_after") == 0) {
            printf("  - %s: capped: %s.\n", at, r->text ? r->text : "");
            why_earlier(rec, r->detail);
        } else if (strcmp(word, "quiet_hours") == 0) {
            printf("  - %s: deferred by %s.\n", at, r->text ? r->text : "quiet hours");
        } else if (strcmp(word, "no_address") == 0 || strcmp(word, "no_provider") == 0 ||
                   strcmp(word, "opted_out") == 0 || strcmp(word, "suppressed") == 0) {
            printf("  - %s: no channel could carry it (%s).\n", at, r->text ? r->text : word);
        } else {
            printf("  - %s: %s: %s.\n", at, word, r->text ? r->text : "");
        }
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

struct runs {
    struct hd_run *v;
    size_t n;
};

static int keep_run(void *ud, const struct hd_run *r)
{
    struct runs *runs = ud;
    runs->v = hd_xrealloc(runs->v, (runs->n + 1) * sizeof *runs->v);
    runs->v[runs->n++] = *r;
    return 0;
}

int cmd_why(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h')
            return cmd_help(why_usage);
        return cmd_usage("why", why_usage, "bad option");
    }
    if (optind + 2 != argc)
        return cmd_usage("why", why_usage, "a CONTACT and a CAMPAIGN are needed");
    if (!ctx->store)
        return cmd_help(why_usage);
    const char *who = argv[optind];
    struct hd_err err = {0};
    struct hd_campaign camp = {0};
    struct hd_contact k = {0};
    int64_t id;
    struct record rec;
    if (hd_store_contact_ref(ctx->store, who, &id, &err) < 0 ||
        hd_store_campaign_get(ctx->store, argv[optind + 1], 0, &camp, &err) < 0)
        return cmd_fail(ctx, &err);
    bool exists = id > 0 && hd_store_contact_get(ctx->store, who, &k, NULL) == 0;
    if (record_load(ctx->store, id, camp.id, &rec, &err) < 0) {
        hd_campaign_release(&camp);
        hd_contact_release(&k);
        return cmd_fail(ctx, &err);
    }
    printf("contact %s and campaign %s (segment %s, channels", who, camp.name, camp.segment);
    for (int i = 0; i < camp.nchannels; i++)
        printf("%s%s", i ? ", " : " ", hd_channel_name(camp.channels[i]));
    printf("):\n");
    if (!exists)
        printf("the contact was deleted: the log keeps only this pseudonymous id.\n");
    /* each run: was the contact in it? */
    struct runs runs = {0};
    int rc = hd_store_run_each(ctx->store, camp.id, false, keep_run, &runs, &err);
    if (rc == 0 && runs.n == 0)
        printf("the campaign has not fired yet: no run, so no message.\n");
    for (size_t i = runs.n; rc == 0 && i-- > 0;) {
        const struct hd_run *run = &runs.v[i];
        char fired[32];
        cmd_time(run->fire_at, fired, sizeof fired);
        printf("\nrun %lld, fired %s:\n", (long long)run->id, fired);
        const struct hd_msg_info *m = NULL;
        for (size_t k2 = 0; k2 < rec.nmsgs && !m; k2++)
            if (rec.msgs[k2].m.run == run->id)
                m = &rec.msgs[k2].m;
        if (!m) {
            if (run->status == HD_RUN_MATERIALIZING)
                printf("  - the run is still being made: the contact may yet be added.\n");
            else if (exists && k.created_at > run->created_at)
                printf("  - not in it: the contact was created after the run was made.\n");
            else
                printf("  - not in segment %s when the run was made: no message.\n", camp.segment);
            continue;
        }
        printf("  - in segment %s when the run was made: message %lld%s%s.\n", camp.segment,
               (long long)m->id, m->variant ? ", variant " : "", m->variant ? m->variant : "");
        bool told = false, any = false;
        for (size_t r = 0; r < rec.nrows; r++)
            if (rec.rows[r].r.message == m->id) {
                why_row(&rec, &rec.rows[r].r, &told);
                any = true;
            }
        if (!any)
            printf("  - not considered yet: it waits for the dispatcher.\n");
        printf("  - now: %s.\n", hd_state_name(m->state));
    }
    free(runs.v);
    record_release(&rec);
    hd_campaign_release(&camp);
    hd_contact_release(&k);
    return rc < 0 ? cmd_fail(ctx, &err) : EXIT_OK;
}
