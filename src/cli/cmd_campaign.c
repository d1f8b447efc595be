/* cmd_campaign: herald campaign create|list|show|estimate|pause|resume|cancel|retry.
 * Each parses its options and calls the library: create checks the
 * options here and everything else in hd_campaign_create (nothing is stored
 * when a check fails), estimate is hd_estimate, pause, resume and cancel
 * are hd_campaign_control, retry is hd_campaign_retry; list and show print
 * what the store holds. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "herald/dispatch.h"
#include "herald/schedule.h"
#include "herald/segment.h"
#include "herald/store.h"
#include "herald/units.h"

static const char campaign_usage[] =
    "usage: herald campaign create NAME --segment S --template T --channels LIST\n"
    "                              [--category marketing|transactional]\n"
    "                              (--now | --at TIME | --local-time HH:MM [--on DATE] |\n"
    "                               --every \"CRON\" [--tz ZONE])\n"
    "                              [--holdout PCT] [--variants a=50,b=50] [--expires DUR]\n"
    "                              [--resend-after DUR] [--fallback-on-failure] [--rate N/s]\n"
    "                              [--dry-run]\n"
    "       herald campaign list [--format table|csv|json|jsonl]\n"
    "       herald campaign show NAME [--format table|csv|json|jsonl]\n"
    "       herald campaign estimate NAME [--format table|csv|json|jsonl]\n"
    "       herald campaign pause|resume|cancel NAME\n"
    "       herald campaign retry NAME [--run N] [--reason WORD] [--state failed|render_failed]\n"
    "\n"
    "  --channels       channels in order of preference: push,sms,email; each message\n"
    "                   goes on the first one the contact can be reached on (inbox:\n"
    "                   the in-app inbox, for every contact that consents; wechat:\n"
    "                   WeChat template messages, to the contact's wechat_openid)\n"
    "  --category       default: the template's category\n"
    "  --now            fire at once (herald run, or herald send NAME)\n"
    "  --at TIME        fire once at an ISO 8601 time (UTC unless it has an offset; with\n"
    "                   --tz, a wall-clock time in that zone: 2026-12-01T09:00)\n"
    "  --local-time     deliver at HH:MM in each recipient's zone (the configuration's\n"
    "                   timezone for contacts without one), on --on DATE or the next time\n"
    "  --every CRON     fire on a 5-field cron expression, in --tz (default: the\n"
    "                   configuration's timezone); each firing is a run\n"
    "  --holdout PCT    keep this share of the segment out (recorded, never sent)\n"
    "  --variants       A/B variants of the template and their weights (adding up to 100)\n"
    "  --expires DUR    a message not sent within DUR of its time ends as expired\n"
    "  --resend-after   do not message a contact again from this campaign within DUR\n"
    "  --fallback-on-failure  a bad address moves the message to the next channel\n"
    "  --rate N/s       this campaign's own rate limit, on top of each provider's\n"
    "  --dry-run        check everything, print the estimate (campaign estimate's) and\n"
    "                   the next five firings, and store nothing\n"
    "\n"
    "retry puts a run's failed and render_failed messages back in the queue (same\n"
    "message ids, variants and holdout; attempts go on in the same log), for\n"
    "herald send NAME or herald run to send once the cause is fixed:\n"
    "  --run N          that run (default: the latest)\n"
    "  --reason WORD    only messages whose latest log row has this reason\n"
    "                   (render_failed, rejected, bad_address, ...)\n"
    "  --state S        only failed, or only render_failed, messages\n"
    "\n"
    "The name 'new' is refused: /console/campaigns/new is the console's form.\n"
    "Holdout and variant come from a hash of (campaign, contact): stable and reproducible.\n";

static const struct cli_opt create_opts[] = {{"segment", true, 1, 0},
                                             {"template", true, 2, 0},
                                             {"channels", true, 3, 0},
                                             {"category", true, 4, 0},
                                             {"at", true, 5, 0},
                                             {"local-time", true, 6, 0},
                                             {"on", true, 7, 0},
                                             {"every", true, 8, 0},
                                             {"tz", true, 9, 0},
                                             {"now", false, 10, 0},
                                             {"holdout", true, 11, 0},
                                             {"variants", true, 12, 0},
                                             {"expires", true, 13, 0},
                                             {"resend-after", true, 14, 0},
                                             {"fallback-on-failure", false, 15, 0},
                                             {"rate", true, 16, 0},
                                             {"dry-run", false, 17, 0},
                                             {0}};
#define O_DRY_RUN 17 /* the one option that is no campaign's */

static const char create_cmd_name[] = "campaign create";

struct create_args {
    struct hd_campaign_draft d;
    bool dry_run;
};

static int create_dry_run(struct hd_ctx *ctx, struct create_args *a);

/* Each option goes to the draft by its name (ids are create_opts' index + 1),
 * which checks it as the console's form is checked. */
static int create_opt(void *ud, int id, const char *arg)
{
    struct create_args *a = ud;
    struct hd_err err = {0};
    const struct cli_opt *o = &create_opts[id - 1];
    if (id == O_DRY_RUN) {
        a->dry_run = true;
        return 0;
    }
    if (hd_campaign_draft_set(&a->d, o->name, o->arg ? arg : NULL, &err) < 0)
        return cmd_usage(create_cmd_name, campaign_usage, "%s", err.msg);
    return 0;
}

static int create_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_spec spec = {
        create_cmd_name, campaign_usage, create_opts, 0, NULL, NULL};
    struct hd_campaign c;
    struct create_args a = {0};
    struct hd_campaign_draft *d = &a.d;
    struct hd_err err = {0};
    hd_campaign_draft_init(d, &c);
    /* the line is checked whole before the store is made ready */
    int rc, i = cli_parse_n(&spec, CLI_NARGS_LATER, NULL, argc, argv, create_opt, &a, &rc);
    if (i < 0)
        goto out;
    if (i + 1 != argc) {
        rc = cmd_usage(create_cmd_name, campaign_usage, "give one campaign NAME");
        goto out;
    }
    if (hd_campaign_draft_check(d, argv[i], &err) < 0) {
        rc = cmd_usage(create_cmd_name, campaign_usage, "%s", err.msg);
        goto out;
    }
    if (cli_ready(&rc) < 0)
        goto out;
    if (a.dry_run) {
        rc = create_dry_run(ctx, &a);
        goto out;
    }
    if (hd_campaign_create(ctx->store, ctx->cfg, &c, d->category_given, hd_clock_now(&ctx->clock),
                           &err) < 0) {
        rc = cmd_fail(ctx, &err);
        goto out;
    }
    char when[32];
    printf("campaign '%s' created (%s, %s): first run %s\n", c.name, hd_category_name(c.category),
           hd_sched_name(c.sched),
           c.next_run <= c.created_at ? "now (herald run, or herald send NAME)"
                                      : cmd_time(c.next_run, when, sizeof when));
out:
    hd_campaign_draft_release(d);
    hd_campaign_release(&c);
    return rc;
}

struct listing {
    int format;
    json_t *arr;
    int n;
};

static int list_row(void *ud, const struct hd_campaign *c)
{
    struct listing *l = ud;
    if (l->format != FMT_TABLE) {
        json_array_append_new(l->arr, hd_campaign_json(c));
        return 0;
    }
    char ch[64], sched[128], t[32];
    hd_campaign_channels_text(c, ch, sizeof ch);
    hd_campaign_schedule_text(c, sched, sizeof sched);
    if (l->n++ == 0)
        printf("%-20s %-10s %-16s %-14s %-16s %-16s %s\n", "NAME", "STATUS", "CHANNELS", "SEGMENT",
               "TEMPLATE", "NEXT RUN", "SCHEDULE");
    printf("%-20s %-10s %-16s %-14s %-16s %-16s %s\n", c->name, hd_camp_status_name(c->status), ch,
           c->segment, c->tpl, c->next_run >= 0 ? cmd_time(c->next_run, t, sizeof t) : "-", sched);
    return 0;
}

/* --format table|csv|json|jsonl (or --json) for list, show and estimate;
 * returns the index of the first operand, or -1 with *rc the exit code. */
static int format_opt(int argc, char **argv, const char *cmd, int *format, int *rc)
{
    bool list = strcmp(cmd, "campaign list") == 0; /* no operand; show, estimate: a NAME */
    return cli_parse_format(cmd, campaign_usage, !list, "give one campaign NAME", argc, argv,
                            format, rc);
}

static const char *const campaign_cols[] = {"name",
                                            "status",
                                            "segment",
                                            "template",
                                            "channels",
                                            "category",
                                            "schedule",
                                            "holdout_pct",
                                            "expires_s",
                                            "resend_after_s",
                                            "fallback_on_failure",
                                            "variants",
                                            "rate",
                                            "next_run",
                                            "created_at",
                                            NULL};

static int list_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    struct listing l = {0};
    struct hd_err err = {0};
    int rc = EXIT_OK;
    int i = format_opt(argc, argv, "campaign list", &l.format, &rc);
    if (i < 0)
        return rc;
    l.arr = json_array();
    if (hd_store_campaign_each(ctx->store, list_row, &l, &err) < 0)
        rc = cmd_fail(ctx, &err);
    else if (l.format != FMT_TABLE)
        cmd_out_all(l.format, campaign_cols, json_incref(l.arr));
    else if (l.n == 0)
        printf("no campaigns yet (herald campaign create --help)\n");
    json_decref(l.arr);
    return rc;
}

struct runs_out {
    struct hd_ctx *ctx;
    json_t *arr;
    int format;
    struct hd_err *err;
};

static int show_run(void *ud, const struct hd_run *r)
{
    struct runs_out *o = ud;
    static const char *const runs[] = {"materializing", "active", "done"};
    int64_t counts[HD_ST_COUNT];
    char t[32];
    if (hd_store_run_counts(o->ctx->store, 0, r->id, counts, o->err) < 0)
        return -1;
    json_t *c = json_object();
    for (int s = 0; s < HD_ST_COUNT; s++)
        if (counts[s])
            json_object_set_new(c, hd_state_name(s), json_integer(counts[s]));
    if (o->format != FMT_TABLE) {
        char due[32];
        json_array_append_new(o->arr,
                              json_pack("{s:I, s:s, s:s, s:s, s:o}", "run", (json_int_t)r->seq,
                                        "fired_at", cmd_time(hd_run_fired_at(r), t, sizeof t),
                                        "due_at", cmd_time(r->fire_at, due, sizeof due), "status",
                                        runs[r->status], "messages", c));
        return 0;
    }
    /* a line per run, with its own messages by state */
    char fired[80];
    printf("run %-3lld fired %s  %-13s", (long long)r->seq, cmd_run_fired(r, fired, sizeof fired),
           runs[r->status]);
    for (int s = 0; s < HD_ST_COUNT; s++)
        if (counts[s])
            printf(" %s %lld", hd_state_name(s), (long long)counts[s]);
    printf("\n");
    json_decref(c);
    return 0;
}

/* A/B results: per variant, how many were queued, held out and sent. */
struct variants_out {
    char name[32];
    int64_t n[HD_ST_COUNT];
    bool any;
};

static void variant_line(const struct variants_out *v)
{
    int64_t all = 0;
    for (int s = 0; s < HD_ST_COUNT; s++)
        all += v->n[s];
    char n[48];
    printf("    %-10s %s, %lld sent, %lld held out\n", v->name[0] ? v->name : "-",
           hd_units_count(all, "message", NULL, n, sizeof n),
           (long long)(v->n[HD_ST_SENT] + v->n[HD_ST_DELIVERED]), (long long)v->n[HD_ST_HELD_OUT]);
}

static int variant_row(void *ud, const char *variant, int state, int64_t n)
{
    struct variants_out *v = ud;
    if (!v->any)
        printf("A/B results\n");
    else if (strcmp(v->name, variant) != 0) {
        variant_line(v);
        memset(v->n, 0, sizeof v->n);
    }
    v->any = true;
    snprintf(v->name, sizeof v->name, "%s", variant);
    if (state >= 0 && state < HD_ST_COUNT)
        v->n[state] += n;
    return 0;
}

/* A provider at fault (its credentials or TLS) pauses with the campaign's
 * messages queued: show says which, until when and why, from the newest
 * such row of the campaign's log while that provider is still paused. */
struct fault_out {
    char provider[128], text[512];
    int64_t until_ms;
};

static int fault_row(void *ud, const struct hd_log_row *r)
{
    struct fault_out *f = ud;
    snprintf(f->provider, sizeof f->provider, "%s", r->provider ? r->provider : "");
    snprintf(f->text, sizeof f->text, "%s", r->text ? r->text : "");
    return 1; /* the newest is enough */
}

static void fault_pause(void *ud, const char *provider, int64_t until_ms)
{
    struct fault_out *f = ud;
    if (strcmp(provider, f->provider) == 0)
        f->until_ms = until_ms;
}

static void print_provider_fault(struct hd_ctx *ctx, const struct hd_campaign *c)
{
    struct hd_log_filter lf = {.campaign = c->id, .reason = "provider_fault", .limit = 1};
    struct fault_out f = {0};
    char t[32];
    if (hd_store_log_query(ctx->store, &lf, fault_row, &f, NULL) < 0 || !f.provider[0] ||
        hd_store_provider_pauses(ctx->store, hd_clock_now_ms(NULL), fault_pause, &f, NULL) < 0 ||
        f.until_ms == 0)
        return;
    printf("waiting on   provider '%s', paused until %s: %s\n", f.provider,
           cmd_time(f.until_ms / 1000, t, sizeof t), f.text);
}

static int show_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    struct hd_campaign c = {0};
    struct hd_err err = {0};
    int format, rc = EXIT_OK;
    int i = format_opt(argc, argv, "campaign show", &format, &rc);
    if (i < 0)
        return rc;
    if (hd_store_campaign_get(ctx->store, argv[i], 0, &c, &err) < 0)
        return cmd_fail(ctx, &err);
    struct runs_out o = {ctx, json_array(), format, &err};
    if (format == FMT_TABLE) {
        char ch[64], sched[128], t[32], d[32];
        hd_campaign_channels_text(&c, ch, sizeof ch);
        hd_campaign_schedule_text(&c, sched, sizeof sched);
        printf("campaign     %s\nstatus       %s\nsegment      %s\ntemplate     %s\nchannels     "
               "%s%s\ncategory     %s\nschedule     %s\nnext run     %s\n",
               c.name, hd_camp_status_name(c.status), c.segment, c.tpl, ch,
               c.fallback ? " (fallback on failure)" : "", hd_category_name(c.category), sched,
               c.next_run >= 0 ? cmd_time(c.next_run, t, sizeof t) : "-");
        char *paused = NULL;
        if (c.status == HD_CAMP_PAUSED &&
            hd_store_campaign_pause_reason(ctx->store, c.id, &paused, NULL) == 0 && paused)
            printf("paused by    herald: %s (fix it, then 'herald campaign resume %s')\n", paused,
                   c.name);
        free(paused);
        print_provider_fault(ctx, &c);
        if (c.holdout_bp)
            printf("holdout      %d.%02d%%\n", c.holdout_bp / 100, c.holdout_bp % 100);
        if (c.variants)
            printf("variants     %s\n", c.variants);
        if (c.expires) {
            hd_units_format_duration(c.expires, d, sizeof d);
            printf("expires      %s\n", d);
        }
        if (c.resend_after) {
            hd_units_format_duration(c.resend_after, d, sizeof d);
            printf("resend after %s\n", d);
        }
        if (c.rate)
            printf("rate         %s\n", c.rate);
    }
    struct variants_out vo = {0};
    if (format == FMT_TABLE && c.variants &&
        hd_store_variant_counts(ctx->store, c.id, variant_row, &vo, &err) < 0)
        rc = cmd_fail(ctx, &err);
    if (vo.any)
        variant_line(&vo);
    if (rc == EXIT_OK && hd_store_run_each(ctx->store, c.id, false, show_run, &o, &err) < 0) {
        rc = cmd_fail(ctx, &err);
    } else if (format != FMT_TABLE) {
        json_t *j = hd_campaign_json(&c);
        json_object_set_new(j, "runs", o.arr);
        o.arr = NULL;
        cmd_out_one(format, NULL, j);
    }
    json_decref(o.arr);
    hd_campaign_release(&c);
    return rc;
}

/* ---- estimate --------------------------------------------------------------------------- */

static const int estimate_skips[] = {HD_ST_CAPPED, HD_ST_SUPPRESSED, HD_ST_NO_CHANNEL,
                                     HD_ST_EXPIRED};

static void estimate_table(const struct hd_campaign *c, const struct hd_estimate *e)
{
    printf("campaign     %s (segment %s, as of now)\ncontacts     %lld\nheld out     %lld\n",
           c->name, c->segment, (long long)e->total, (long long)e->held);
    for (int i = 0; i < c->nchannels; i++)
        printf("%-12s %lld\n", hd_channel_name(c->channels[i]),
               (long long)e->by_channel[c->channels[i]]);
    for (size_t i = 0; i < sizeof estimate_skips / sizeof estimate_skips[0]; i++)
        printf("%-12s %lld\n", hd_state_name(estimate_skips[i]),
               (long long)e->by_state[estimate_skips[i]]);
    if (e->by_state[HD_ST_DEFERRED])
        printf("in quiet hours now  %lld (they would wait, not be skipped)\n",
               (long long)e->by_state[HD_ST_DEFERRED]);
    printf("sms segments %lld\nsms cost     %.4f\n", (long long)e->sms_segments, e->sms_cost);
    if (e->sms_failed)
        printf("sms not rendered  %lld (strict rendering would fail them)\n",
               (long long)e->sms_failed);
}

/* The estimate as one record: the table's numbers under the same words. */
static json_t *estimate_json(const struct hd_campaign *c, const struct hd_estimate *e)
{
    json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "campaign", c->name, "segment", c->segment,
                          "contacts", (json_int_t)e->total, "held_out", (json_int_t)e->held);
    for (int i = 0; i < c->nchannels; i++)
        json_object_set_new(o, hd_channel_name(c->channels[i]),
                            json_integer(e->by_channel[c->channels[i]]));
    for (size_t i = 0; i < sizeof estimate_skips / sizeof estimate_skips[0]; i++)
        json_object_set_new(o, hd_state_name(estimate_skips[i]),
                            json_integer(e->by_state[estimate_skips[i]]));
    json_object_set_new(o, "deferred", json_integer(e->by_state[HD_ST_DEFERRED]));
    json_object_set_new(o, "sms_segments", json_integer(e->sms_segments));
    json_object_set_new(o, "sms_cost", json_real(e->sms_cost));
    json_object_set_new(o, "sms_not_rendered", json_integer(e->sms_failed));
    return o;
}

static int estimate_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    struct hd_campaign c = {0};
    struct hd_err err = {0};
    struct hd_estimate e;
    int format, rc = EXIT_OK;
    int i = format_opt(argc, argv, "campaign estimate", &format, &rc);
    if (i < 0)
        return rc;
    if (hd_store_campaign_get(ctx->store, argv[i], 0, &c, &err) < 0 ||
        hd_estimate(ctx->store, ctx->cfg, &c, hd_clock_now(&ctx->clock), &e, &err) < 0) {
        hd_campaign_release(&c);
        return cmd_fail(ctx, &err);
    }
    if (format == FMT_TABLE)
        estimate_table(&c, &e);
    else
        cmd_out_one(format, NULL, estimate_json(&c, &e));
    hd_campaign_release(&c);
    return EXIT_OK;
}

/* --dry-run: everything create checks, then the estimate and the next
 * five firings (in the cron's zone, else the configuration's), nothing
 * stored; what the console's "Preview estimate" shows. */
static int create_dry_run(struct hd_ctx *ctx, struct create_args *a)
{
    struct hd_campaign *c = a->d.c;
    struct hd_err err = {0};
    struct hd_estimate e;
    int64_t now = hd_clock_now(&ctx->clock), t[5];
    size_t n;
    char when[40];
    if (hd_campaign_prepare(ctx->store, ctx->cfg, c, a->d.category_given, now, &err) < 0 ||
        hd_estimate(ctx->store, ctx->cfg, c, now, &e, &err) < 0 ||
        hd_campaign_firings(c, ctx->cfg, now, t, 5, &n, &err) < 0)
        return cmd_fail(ctx, &err);
    estimate_table(c, &e);
    const char *zone = c->sched == HD_SCHED_EVERY && c->tz ? c->tz : ctx->cfg->timezone;
    struct hd_zone *z = hd_zone_open(zone ? zone : "UTC");
    for (size_t i = 0; i < n; i++) {
        if (z)
            hd_zone_format_iso(z, t[i], when, sizeof when);
        else
            hd_time_format_iso(t[i], when, sizeof when);
        printf("%-12s %s\n", i ? "" : "next firings", when);
    }
    hd_zone_free(z);
    printf("nothing was stored (--dry-run); holdout and variants are drawn by the id the "
           "campaign gets when created\n");
    return EXIT_OK;
}

/* ---- pause, resume, cancel ---------------------------------------------------------------- */

/* What a cancel did. It cancels the messages that wait in the queue (n);
 * those a running dispatcher has claimed (sending) it leaves to that
 * dispatcher, which reads the campaign's status once a second, gives back
 * the ones no gateway has yet and records them cancelled: they are
 * counted after the commit, with those it has cancelled meanwhile, so
 * that the line does not say "0 cancelled" while hundreds are about to be
 * (tests/test_cancel_claimed.c). */
static void cancelled_line(struct hd_ctx *ctx, const struct hd_campaign *c, int64_t n)
{
    int64_t counts[HD_ST_COUNT];
    struct hd_err err = {0};
    char num[48], held[48];
    if (hd_store_run_counts(ctx->store, c->id, 0, counts, &err) < 0) {
        printf("campaign '%s' cancelled: %s cancelled (messages already with a gateway are "
               "not recalled); those a running dispatcher holds could not be counted: %s\n",
               c->name, hd_units_count(n, "unsent message", NULL, num, sizeof num), err.msg);
        return;
    }
    if (counts[HD_ST_CANCELLED] > n)
        n = counts[HD_ST_CANCELLED];
    if (counts[HD_ST_SENDING] == 0) {
        printf("campaign '%s' cancelled: %s cancelled (messages already with a gateway are "
               "not recalled)\n",
               c->name, hd_units_count(n, "unsent message", NULL, num, sizeof num));
        return;
    }
    hd_units_count(counts[HD_ST_SENDING], "message", NULL, held, sizeof held);
    printf("campaign '%s' cancelled: %s cancelled now, and %s a running dispatcher holds: it "
           "cancels those no gateway has yet when it sees the cancel, within a second; those it "
           "hands to a gateway before then are sent\n",
           c->name, hd_units_count(n, "unsent message", NULL, num, sizeof num), held);
}

static int status_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    const char *sub = argv[0];
    struct hd_campaign c;
    struct hd_err err = {0};
    int64_t n = 0;
    int op = strcmp(sub, "pause") == 0    ? HD_CAMP_OP_PAUSE
             : strcmp(sub, "resume") == 0 ? HD_CAMP_OP_RESUME
                                          : HD_CAMP_OP_CANCEL;
    char cmd[32];
    snprintf(cmd, sizeof cmd, "campaign %s", sub);
    int rc, i = cli_operands(cmd, campaign_usage, argc, argv, 1, "give one campaign NAME", &rc);
    if (i < 0)
        return rc;
    if (hd_campaign_control(ctx->store, argv[i], op, hd_clock_now_ms(&ctx->clock), &c, &n, &err) <
        0) {
        hd_campaign_release(&c);
        return cmd_fail(ctx, &err);
    }
    if (op == HD_CAMP_OP_CANCEL)
        cancelled_line(ctx, &c, n);
    else
        printf("campaign '%s' %s\n", c.name, op == HD_CAMP_OP_PAUSE ? "paused" : "resumed");
    hd_campaign_release(&c);
    return EXIT_OK;
}

/* ---- retry ---------------------------------------------------------------------------- */

struct retry_args {
    struct hd_retry sel;
    long long run;
};

static int retry_opt(void *ud, int id, const char *arg)
{
    struct retry_args *a = ud;
    switch (id) {
    case 'r':
        if ((a->run = cmd_parse_count(arg)) <= 0)
            return cmd_usage("campaign retry", campaign_usage, "--run: '%s' is not a run number",
                             arg);
        return 0;
    case 'w':
        if (!*arg)
            return cmd_usage("campaign retry", campaign_usage, "--reason: give a word");
        a->sel.reason = arg;
        return 0;
    default: /* 's' */
        a->sel.failed = strcmp(arg, "failed") == 0;
        a->sel.render_failed = strcmp(arg, "render_failed") == 0;
        if (!a->sel.failed && !a->sel.render_failed)
            return cmd_usage("campaign retry", campaign_usage,
                             "--state: '%s' is not failed or render_failed", arg);
        return 0;
    }
}

static int retry_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"run", true, 'r', 0}, {"reason", true, 'w', 0}, {"state", true, 's', 0}, {0}};
    static const struct cli_spec spec = {"campaign retry", campaign_usage, opts, 0, NULL, NULL};
    struct retry_args a = {.sel = {.failed = true, .render_failed = true}};
    struct hd_campaign c;
    struct hd_err err = {0};
    int64_t nf, nr;
    int rc, i = cli_parse_n(&spec, 1, "give one campaign NAME", argc, argv, retry_opt, &a, &rc);
    if (i < 0)
        return rc;
    a.sel.now_ms = hd_clock_now_ms(&ctx->clock);
    if (hd_campaign_retry(ctx->store, argv[i], a.run, &a.sel, &c, &nf, &nr, &err) < 0) {
        hd_campaign_release(&c);
        return cmd_fail(ctx, &err);
    }
    char what[96];
    if (nf && nr)
        snprintf(what, sizeof what, "failed %lld, render_failed %lld", (long long)nf,
                 (long long)nr);
    else
        snprintf(what, sizeof what, "%s", nf ? "failed" : "render_failed");
    printf("re-queued %lld message%s of run %lld (%s%s%s)\n", (long long)(nf + nr),
           nf + nr == 1 ? "" : "s", (long long)a.sel.seq, what, a.sel.reason ? ", reason " : "",
           a.sel.reason ? a.sel.reason : "");
    if (c.status == HD_CAMP_PAUSED)
        printf("campaign '%s' is paused: they go when it is resumed (herald campaign resume "
               "%s)\n",
               c.name, c.name);
    else
        printf("send them with: herald send %s (or herald run)\n", c.name);
    hd_campaign_release(&c);
    return EXIT_OK;
}

int cmd_campaign(struct hd_ctx *ctx, int argc, char **argv)
{
    if (argc < 2)
        return cmd_usage("campaign", campaign_usage,
                         "give a subcommand: create, list, show, estimate, pause, resume, "
                         "cancel or retry");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        return cmd_help(campaign_usage);
    if (strcmp(sub, "create") == 0)
        return create_cmd(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0)
        return list_cmd(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "show") == 0)
        return show_cmd(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "estimate") == 0)
        return estimate_cmd(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "pause") == 0 || strcmp(sub, "resume") == 0 || strcmp(sub, "cancel") == 0)
        return status_cmd(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "retry") == 0)
        return retry_cmd(ctx, argc - 1, argv + 1);
    return cmd_usage("campaign", campaign_usage, "unknown subcommand '%s'", sub);
}
