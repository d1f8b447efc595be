/* cmd_history: herald history CONTACT: every message the contact was
 * considered for, with every decision and attempt, in order, then every
 * change of its consent with its provenance. The record is
 * read by the audit module (hd_history_load); this file prints it. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "herald/audit.h"
#include "herald/state.h"
#include "herald/store.h"
#include "herald/units.h"

static const char history_usage[] =
    "usage: herald history CONTACT [--format table|csv|json|jsonl]\n"
    "\n"
    "Every message the contact was considered for, oldest first: its campaign,\n"
    "run, variant and state now, then each decision and attempt of the delivery\n"
    "log; then every change of the contact's consent, oldest first, with its\n"
    "source (import, cli, unsubscribe, preferences, ...), the campaign and message\n"
    "whose link made it, and its time. CONTACT is the external id, or deleted-N\n"
    "for a deleted contact. csv, json and jsonl give the log rows alone, with the\n"
    "columns of herald log.\n";

static int history_opt(void *ud, int id, const char *arg)
{
    (void)id; /* only --format */
    return cmd_format_arg("history", arg, FMTS_ALL, ud);
}

/* One message and its rows, as the table shows them; its run's firing as
 * campaign show and why say it ("T", or "T (due D)" when made a minute or
 * more late), from the two times the message record carries. */
static void print_message(const struct hd_history *rec, const struct hd_msg_info *m,
                          const char *zone)
{
    char fired[80], due[300];
    const struct hd_run run = {.fire_at = m->fire_at, .created_at = m->fired_at};
    cmd_run_fired(&run, fired, sizeof fired);
    hd_history_due(m, zone, due, sizeof due);
    printf("\n%s, run %lld (fired %s), message %lld%s%s: %s%s%s\n", m->campaign_name,
           (long long)m->seq, fired, (long long)m->id, m->variant ? ", variant " : "",
           m->variant ? m->variant : "", hd_state_name(m->state), due[0] ? ", " : "", due);
    bool pruned = hd_history_pruned(rec, m);
    if (pruned) {
        cmd_time(rec->pruned_before_ms / 1000, fired, sizeof fired);
        printf("  (log rows before %s were pruned: herald log prune)\n", fired);
    }
    size_t shown = 0;
    for (size_t k = 0; k < rec->nrows; k++) {
        const struct hd_log_row *r = &rec->rows[k];
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
    if (!shown && !pruned && due[0])
        printf("  (no decision yet: waiting for the dispatcher)\n");
}

/* The zone a contact's times are shown in: its own, else the configuration's. */
static char *contact_zone(struct hd_ctx *ctx, const char *ref)
{
    struct hd_contact k = {0};
    char *zone = NULL;
    if (hd_store_contact_get(ctx->store, ref, &k, NULL) == 0 && k.timezone)
        zone = hd_xstrdup(k.timezone);
    else if (ctx->cfg && ctx->cfg->timezone)
        zone = hd_xstrdup(ctx->cfg->timezone);
    hd_contact_release(&k);
    return zone;
}

int cmd_history(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"format", true, 'f', 0}, {0}};
    static const struct cli_spec spec = {"history", history_usage, opts, 0, NULL, NULL};
    int format = FMT_TABLE, rc,
        i = cli_parse_n(&spec, 1, "one CONTACT is needed", argc, argv, history_opt, &format, &rc);
    if (i < 0)
        return rc;
    if (!ctx->store)
        return cmd_help(history_usage);
    struct hd_err err = {0};
    int64_t id;
    struct hd_history rec;
    if (hd_store_contact_ref(ctx->store, argv[i], &id, &err) < 0 ||
        hd_history_load(ctx->store, id, 0, &rec, &err) < 0)
        return cmd_fail(ctx, &err);
    if (format != FMT_TABLE) {
        struct cmd_log_out o;
        cmd_log_begin(&o, format);
        for (size_t k = 0; k < rec.nrows; k++)
            cmd_log_row(&o, &rec.rows[k]);
        cmd_log_end(&o);
    } else {
        char n[48];
        printf("contact %s: %s considered\n", argv[i],
               hd_units_count((long long)rec.nmsgs, "message", NULL, n, sizeof n));
        char *zone = contact_zone(ctx, argv[i]);
        for (size_t k = 0; k < rec.nmsgs; k++)
            print_message(&rec, &rec.msgs[k], zone);
        free(zone);
        printf("\nconsent changes%s\n", rec.nconsent ? ":" : ": none recorded (consents to all)");
        for (size_t k = 0; k < rec.nconsent; k++)
            cmd_consent_line(&rec.consent[k]);
    }
    hd_history_release(&rec);
    return EXIT_OK;
}
