/* cmd_campaign: herald campaign create|list|show|estimate|pause|resume|cancel.
 * create checks everything it can before writing: the segment and the
 * template exist, the template has a part for every channel and every
 * variant, the schedule parses; nothing is stored when any check fails. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "herald/dispatch.h"
#include "herald/hash.h"
#include "herald/schedule.h"
#include "herald/segment.h"
#include "herald/sms.h"
#include "herald/store.h"
#include "herald/tpl.h"

static const char campaign_usage[] =
    "usage: herald campaign create NAME --segment S --template T --channels LIST\n"
    "                              [--category marketing|transactional]\n"
    "                              (--now | --at TIME | --local-time HH:MM [--on DATE] |\n"
    "                               --every \"CRON\" [--tz ZONE])\n"
    "                              [--holdout PCT] [--variants a=50,b=50] [--expires DUR]\n"
    "                              [--resend-after DUR] [--fallback-on-failure] [--rate N/s]\n"
    "       herald campaign list [--format table|json]\n"
    "       herald campaign show NAME [--format table|json]\n"
    "       herald campaign estimate NAME\n"
    "       herald campaign pause|resume|cancel NAME\n"
    "\n"
    "  --channels       channels in order of preference: push,sms,email; each message\n"
    "                   goes on the first one the contact can be reached on\n"
    "  --category       default: the template's category\n"
    "  --now            fire at once (herald run, or herald send NAME)\n"
    "  --at TIME        fire once at an ISO 8601 time (UTC unless it has an offset)\n"
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
    "\n"
    "Holdout and variant come from a hash of (campaign, contact): stable and reproducible.\n";

static int parse_channels(const char *s, struct hd_campaign *c)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    char *p = buf;
    c->nchannels = 0;
    while (*p) {
        size_t n = strcspn(p, ",");
        bool last = p[n] == '\0';
        p[n] = '\0';
        int ch = hd_channel_parse(p);
        if (ch < 0 || c->nchannels == HD_CH_COUNT)
            return -1;
        for (int i = 0; i < c->nchannels; i++)
            if (c->channels[i] == ch)
                return -1;
        c->channels[c->nchannels++] = ch;
        if (last)
            break;
        p += n + 1;
    }
    return c->nchannels > 0 ? 0 : -1;
}

/* Checks the template serves every channel and variant of c. */
static int check_template(struct hd_ctx *ctx, struct hd_campaign *c, bool category_given,
                          struct hd_err *err)
{
    struct hd_tpl_set *set = NULL;
    const struct hd_tpl *t;
    struct hd_tpl_info info;
    int rc;
    if ((rc = hd_tpl_set_open(ctx->cfg->templates, &set, err)) < 0 ||
        (rc = hd_tpl_get(set, c->tpl, &t, err)) < 0)
        goto out;
    hd_tpl_get_info(t, &info);
    if (!category_given)
        c->category = info.category;
    for (int i = 0; i < c->nchannels; i++)
        if (!(info.channels & (1u << c->channels[i]))) {
            rc = hd_err_set(err, HD_E_USAGE, "template '%s' has no %s part", c->tpl,
                            hd_channel_name(c->channels[i]));
            goto out;
        }
    if (c->variants) {
        struct hd_variant_cut cuts[16];
        size_t n;
        char *buf = hd_xstrdup(c->variants);
        rc = hd_variants_parse(c->variants, buf, cuts, 16, &n, err);
        /* one variant may be the control, with the base parts; the others
         * need parts of their own, or they would be the control too */
        const char *base = NULL;
        for (size_t v = 0; rc == 0 && v < n; v++) {
            bool named = false;
            for (size_t k = 0; k < info.nvariants; k++)
                named |= strcmp(info.variants[k], cuts[v].name) == 0;
            if (!named && base)
                rc = hd_err_set(err, HD_E_USAGE,
                                "--variants: neither '%s' nor '%s' has parts of its own in "
                                "template '%s'; only one variant can use the base parts",
                                base, cuts[v].name, c->tpl);
            else if (!named)
                base = cuts[v].name;
        }
        free(buf);
    }
out:
    hd_tpl_set_free(set);
    return rc;
}

static int create_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    enum {
        O_SEGMENT = 256,
        O_TEMPLATE,
        O_CHANNELS,
        O_CATEGORY,
        O_AT,
        O_LOCAL,
        O_ON,
        O_EVERY,
        O_TZ,
        O_NOW,
        O_HOLDOUT,
        O_VARIANTS,
        O_EXPIRES,
        O_RESEND,
        O_FALLBACK,
        O_RATE
    };
    static const struct option opts[] = {{"segment", required_argument, NULL, O_SEGMENT},
                                         {"template", required_argument, NULL, O_TEMPLATE},
                                         {"channels", required_argument, NULL, O_CHANNELS},
                                         {"category", required_argument, NULL, O_CATEGORY},
                                         {"at", required_argument, NULL, O_AT},
                                         {"local-time", required_argument, NULL, O_LOCAL},
                                         {"on", required_argument, NULL, O_ON},
                                         {"every", required_argument, NULL, O_EVERY},
                                         {"tz", required_argument, NULL, O_TZ},
                                         {"now", no_argument, NULL, O_NOW},
                                         {"holdout", required_argument, NULL, O_HOLDOUT},
                                         {"variants", required_argument, NULL, O_VARIANTS},
                                         {"expires", required_argument, NULL, O_EXPIRES},
                                         {"resend-after", required_argument, NULL, O_RESEND},
                                         {"fallback-on-failure", no_argument, NULL, O_FALLBACK},
                                         {"rate", required_argument, NULL, O_RATE},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    struct hd_campaign c = {.at = -1, .next_run = -1, .category = HD_CAT_MARKETING};
    struct hd_err err = {0};
    const char *on = NULL, *channels = NULL;
    int nsched = 0, o, rc = EXIT_OK;
    bool category_given = false;
    const char *cmd = "campaign create";
#define USAGE(...)                                                                                 \
    do {                                                                                           \
        rc = cmd_usage(cmd, campaign_usage, __VA_ARGS__);                                          \
        goto out;                                                                                  \
    } while (0)
    optind = 0;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case O_SEGMENT:
            free(c.segment);
            c.segment = hd_xstrdup(optarg);
            break;
        case O_TEMPLATE:
            free(c.tpl);
            c.tpl = hd_xstrdup(optarg);
            break;
        case O_CHANNELS:
            channels = optarg;
            if (parse_channels(optarg, &c) < 0)
                USAGE("--channels: '%s' is not a list of distinct channels (email, sms, push)",
                      optarg);
            break;
        case O_CATEGORY:
            if ((c.category = hd_category_parse(optarg)) < 0)
                USAGE("--category: '%s' is not marketing or transactional", optarg);
            category_given = true;
            break;
        case O_AT: {
            enum hd_time_kind kind;
            nsched++;
            c.sched = HD_SCHED_AT;
            if (hd_time_parse_iso(optarg, &c.at, &kind) < 0)
                USAGE("--at: '%s' is not an ISO 8601 time (2026-12-01T09:00:00Z)", optarg);
            break;
        }
        case O_LOCAL: {
            int h, m;
            char extra;
            nsched++;
            c.sched = HD_SCHED_LOCAL;
            if (sscanf(optarg, "%2d:%2d%c", &h, &m, &extra) != 2 || h < 0 || h > 23 || m < 0 ||
                m > 59 || strlen(optarg) != 5)
                USAGE("--local-time: '%s' is not HH:MM", optarg);
            c.local_minute = h * 60 + m;
            break;
        }
        case O_ON:
            on = optarg;
            break;
        case O_EVERY:
            nsched++;
            c.sched = HD_SCHED_EVERY;
            free(c.cron);
            c.cron = hd_xstrdup(optarg);
            break;
        case O_TZ:
            if (!hd_time_zone_valid(optarg))
                USAGE("--tz: '%s' is not an IANA time zone (Europe/Paris)", optarg);
            free(c.tz);
            c.tz = hd_xstrdup(optarg);
            break;
        case O_NOW:
            nsched++;
            c.sched = HD_SCHED_NOW;
            break;
        case O_HOLDOUT: {
            char *end;
            double pct = strtod(optarg, &end);
            if (end == optarg || (*end && strcmp(end, "%") != 0) || !(pct >= 0 && pct < 100))
                USAGE("--holdout: '%s' is not a percentage from 0 to below 100", optarg);
            c.holdout_bp = (int)lround(pct * 100);
            break;
        }
        case O_VARIANTS:
            free(c.variants);
            c.variants = hd_xstrdup(optarg);
            break;
        case O_EXPIRES:
        case O_RESEND: {
            int64_t secs;
            if (hd_units_duration(optarg, &secs, &err) < 0) {
                rc = cmd_usage(cmd, campaign_usage, "%s: %s",
                               o == O_EXPIRES ? "--expires" : "--resend-after", err.msg);
                goto out;
            }
            *(o == O_EXPIRES ? &c.expires : &c.resend_after) = secs;
            break;
        }
        case O_FALLBACK:
            c.fallback = true;
            break;
        case O_RATE: {
            struct hd_rate r;
            if (hd_units_rate(optarg, &r, &err) < 0)
                USAGE("--rate: %s", err.msg);
            free(c.rate);
            c.rate = hd_xstrdup(optarg);
            break;
        }
        case 'h':
            rc = cmd_help(campaign_usage);
            goto out;
        default:
            USAGE("bad option");
        }
    }
    if (optind + 1 != argc)
        USAGE("give one campaign NAME");
    if (!hd_seg_name_valid(argv[optind]))
        USAGE("'%s' is not a campaign name (1 to 64 letters, digits, '_' or '-')", argv[optind]);
    if (!c.segment || !c.tpl || !channels)
        USAGE("give --segment, --template and --channels");
    if (nsched != 1)
        USAGE("give one schedule: --now, --at, --local-time or --every");
    if (on && c.sched != HD_SCHED_LOCAL)
        USAGE("--on goes with --local-time");
    if (c.tz && c.sched != HD_SCHED_EVERY)
        USAGE("--tz goes with --every (a local time uses each recipient's zone)");
    if (on) {
        enum hd_time_kind kind;
        if (hd_time_parse_iso(on, &c.at, &kind) < 0 || kind != HD_TIME_DATE)
            USAGE("--on: '%s' is not a date (YYYY-MM-DD)", on);
    }
    c.name = hd_xstrdup(argv[optind]);
    c.created_at = hd_clock_now(&ctx->clock);
    c.status = HD_CAMP_SCHEDULED;
    if (c.sched == HD_SCHED_EVERY && !c.tz)
        c.tz = hd_xstrdup(ctx->cfg->timezone);
    char *expr = NULL;
    if (hd_store_segment_get(ctx->store, c.segment, &expr, &err) < 0 ||
        check_template(ctx, &c, category_given, &err) < 0 ||
        hd_campaign_first_run(&c, ctx->cfg, c.created_at, &c.next_run, &err) < 0 ||
        hd_store_campaign_add(ctx->store, &c, &err) < 0) {
        free(expr);
        rc = cmd_fail(ctx, &err);
        goto out;
    }
    free(expr);
    char when[32];
    printf("campaign '%s' created (%s, %s): first run %s\n", c.name, hd_category_name(c.category),
           hd_sched_name(c.sched),
           c.next_run <= c.created_at ? "now (herald run, or herald send NAME)"
                                      : cmd_time(c.next_run, when, sizeof when));
out:
#undef USAGE
    hd_campaign_release(&c);
    return rc;
}

static void channels_text(const struct hd_campaign *c, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->nchannels && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? "," : "",
                                hd_channel_name(c->channels[i]));
}

static void schedule_text(const struct hd_campaign *c, char *buf, size_t size)
{
    char t[32];
    switch (c->sched) {
    case HD_SCHED_AT:
        snprintf(buf, size, "at %s", cmd_time(c->at, t, sizeof t));
        break;
    case HD_SCHED_LOCAL:
        if (c->at >= 0)
            hd_time_format_date(c->at, t, sizeof t);
        snprintf(buf, size, "%02d:%02d local%s%s", c->local_minute / 60, c->local_minute % 60,
                 c->at >= 0 ? " on " : "", c->at >= 0 ? t : "");
        break;
    case HD_SCHED_EVERY:
        snprintf(buf, size, "every \"%s\" %s", c->cron, c->tz ? c->tz : "");
        break;
    default:
        snprintf(buf, size, "now");
    }
}

static json_t *campaign_json(const struct hd_campaign *c)
{
    char ch[64], sched[128], t[32];
    channels_text(c, ch, sizeof ch);
    schedule_text(c, sched, sizeof sched);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:I, s:I, s:b}", "name", c->name, "status",
        hd_camp_status_name(c->status), "segment", c->segment, "template", c->tpl, "channels", ch,
        "category", hd_category_name(c->category), "schedule", sched, "holdout_pct",
        c->holdout_bp / 100.0, "expires_s", (json_int_t)c->expires, "resend_after_s",
        (json_int_t)c->resend_after, "fallback_on_failure", c->fallback);
    json_object_set_new(o, "variants", c->variants ? json_string(c->variants) : json_null());
    json_object_set_new(o, "rate", c->rate ? json_string(c->rate) : json_null());
    json_object_set_new(o, "next_run",
                        c->next_run >= 0 ? json_string(cmd_time(c->next_run, t, sizeof t))
                                         : json_null());
    json_object_set_new(o, "created_at", json_string(cmd_time(c->created_at, t, sizeof t)));
    return o;
}

struct listing {
    int format;
    json_t *arr;
    int n;
};

static int list_row(void *ud, const struct hd_campaign *c)
{
    struct listing *l = ud;
    if (l->format == FMT_JSON) {
        json_array_append_new(l->arr, campaign_json(c));
        return 0;
    }
    char ch[64], sched[128], t[32];
    channels_text(c, ch, sizeof ch);
    schedule_text(c, sched, sizeof sched);
    if (l->n++ == 0)
        printf("%-20s %-10s %-16s %-14s %-16s %-16s %s\n", "NAME", "STATUS", "CHANNELS", "SEGMENT",
               "TEMPLATE", "NEXT RUN", "SCHEDULE");
    printf("%-20s %-10s %-16s %-14s %-16s %-16s %s\n", c->name, hd_camp_status_name(c->status), ch,
           c->segment, c->tpl, c->next_run >= 0 ? cmd_time(c->next_run, t, sizeof t) : "-", sched);
    return 0;
}

static int format_opt(int argc, char **argv, const char *cmd, int *format, int *rc)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    int o;
    optind = 0;
    *format = FMT_TABLE;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (o == 'f' && (*format = cmd_parse_format(optarg, true)) >= 0 &&
            (*format == FMT_TABLE || *format == FMT_JSON))
            continue;
        if (o == 'j') {
            *format = FMT_JSON;
            continue;
        }
        *rc = o == 'h' ? cmd_help(campaign_usage)
                       : cmd_usage(cmd, campaign_usage, "bad option (--format table|json)");
        return -1;
    }
    return 0;
}

static int list_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    struct listing l = {0};
    struct hd_err err = {0};
    int rc = EXIT_OK;
    if (format_opt(argc, argv, "campaign list", &l.format, &rc) < 0)
        return rc;
    if (optind != argc)
        return cmd_usage("campaign list", campaign_usage, "unexpected argument '%s'", argv[optind]);
    l.arr = json_array();
    if (hd_store_campaign_each(ctx->store, list_row, &l, &err) < 0)
        rc = cmd_fail(ctx, &err);
    else if (l.format == FMT_JSON)
        cmd_print_json(l.arr, true);
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
    if (o->format == FMT_JSON) {
        json_array_append_new(o->arr, json_pack("{s:I, s:s, s:s, s:o}", "run", (json_int_t)r->id,
                                                "fired_at", cmd_time(r->fire_at, t, sizeof t),
                                                "status", runs[r->status], "messages", c));
        return 0;
    }
    printf("run %lld  fired %s  %s\n", (long long)r->id, cmd_time(r->fire_at, t, sizeof t),
           runs[r->status]);
    for (int s = 0; s < HD_ST_COUNT; s++)
        if (counts[s])
            printf("    %-14s %lld\n", hd_state_name(s), (long long)counts[s]);
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
    printf("    %-10s %lld messages, %lld sent, %lld held out\n", v->name[0] ? v->name : "-",
           (long long)all, (long long)(v->n[HD_ST_SENT] + v->n[HD_ST_DELIVERED]),
           (long long)v->n[HD_ST_HELD_OUT]);
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

static int show_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    struct hd_campaign c = {0};
    struct hd_err err = {0};
    int format, rc = EXIT_OK;
    if (format_opt(argc, argv, "campaign show", &format, &rc) < 0)
        return rc;
    if (optind + 1 != argc)
        return cmd_usage("campaign show", campaign_usage, "give one campaign NAME");
    if (hd_store_campaign_get(ctx->store, argv[optind], 0, &c, &err) < 0)
        return cmd_fail(ctx, &err);
    struct runs_out o = {ctx, json_array(), format, &err};
    if (format == FMT_TABLE) {
        char ch[64], sched[128], t[32], d[32];
        channels_text(&c, ch, sizeof ch);
        schedule_text(&c, sched, sizeof sched);
        printf("campaign     %s\nstatus       %s\nsegment      %s\ntemplate     %s\nchannels     "
               "%s%s\ncategory     %s\nschedule     %s\nnext run     %s\n",
               c.name, hd_camp_status_name(c.status), c.segment, c.tpl, ch,
               c.fallback ? " (fallback on failure)" : "", hd_category_name(c.category), sched,
               c.next_run >= 0 ? cmd_time(c.next_run, t, sizeof t) : "-");
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
    } else if (format == FMT_JSON) {
        json_t *j = campaign_json(&c);
        json_object_set_new(j, "runs", o.arr);
        o.arr = NULL;
        cmd_print_json(j, true);
        json_decref(j);
    }
    json_decref(o.arr);
    hd_campaign_release(&c);
    return rc;
}

/* ---- estimate --------------------------------------------------------------------------- */

struct estimate {
    struct hd_ctx *ctx;
    const struct hd_campaign *c;
    const struct hd_tpl *tpl;
    struct hd_zones *zones;
    struct hd_fmt *fmt;
    int64_t now;
    int64_t total, held, by_channel[HD_CH_COUNT], by_state[HD_ST_COUNT + 1];
    int64_t segments, sms_failed;
    double cost;
    struct hd_variant_cut cuts[16]; /* the campaign's variants, parsed once */
    size_t ncuts;
};

static int estimate_one(void *ud, const struct hd_claimed *m)
{
    struct estimate *e = ud;
    struct hd_decision d;
    e->total++;
    if (e->c->holdout_bp && hd_ab_bucket(e->c->id, m->contact_id, "holdout") < e->c->holdout_bp) {
        e->held++;
        return 0;
    }
    hd_dispatch_decide(e->ctx->cfg, e->c, m, e->zones, e->now, &d);
    if (d.state != HD_ST_SENDING && !(d.state == HD_ST_DEFERRED && d.channel >= 0)) {
        e->by_state[d.state]++;
        return 0;
    }
    if (d.state == HD_ST_DEFERRED)
        e->by_state[HD_ST_DEFERRED]++;
    e->by_channel[d.channel]++;
    if (d.channel != HD_CH_SMS)
        return 0;
    /* what the SMS costs: render it as it would go */
    struct hd_rendered r;
    json_t *data =
        hd_tpl_data(&m->contact, e->ctx->cfg, NULL, "00000000-0000-0000-0000-000000000000", NULL);
    struct hd_tpl_req req = {.locale = m->contact.locale ? m->contact.locale : e->ctx->cfg->locale,
                             .timezone =
                                 m->contact.timezone ? m->contact.timezone : e->ctx->cfg->timezone,
                             .now = e->now,
                             .data = data,
                             .fmt = e->fmt};
    /* the variant the contact would get */
    req.variant = hd_variant_pick(e->cuts, e->ncuts, e->c->id, m->contact_id);
    if (hd_render(e->tpl, HD_CH_SMS, &req, &r, NULL) == 0) {
        struct hd_sms_info info;
        hd_sms_analyze(r.part[HD_PART_SMS], strlen(r.part[HD_PART_SMS]), &info);
        e->segments += (int64_t)info.segments;
        e->cost += (double)info.segments * e->ctx->cfg->providers[d.provider].cost_per_segment;
        hd_rendered_release(&r);
    } else {
        e->sms_failed++;
    }
    json_decref(data);
    return 0;
}

static int estimate_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    struct hd_campaign c = {0};
    struct hd_err err = {0};
    struct hd_seg_node *ast = NULL;
    struct hd_tpl_set *set = NULL;
    struct estimate e = {.ctx = ctx, .c = &c, .now = hd_clock_now(&ctx->clock)};
    char *vbuf = NULL; /* the variant names point into it */
    int rc = EXIT_OK;
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return cmd_help(campaign_usage);
    if (argc != 2)
        return cmd_usage("campaign estimate", campaign_usage, "give one campaign NAME");
    e.zones = hd_zones_new(ctx->cfg->timezone);
    e.fmt = hd_fmt_new();
    if (hd_store_campaign_get(ctx->store, argv[1], 0, &c, &err) < 0) {
        rc = cmd_fail(ctx, &err);
        goto out;
    }
    if (c.variants)
        vbuf = hd_xstrdup(c.variants);
    if ((vbuf && hd_variants_parse(c.variants, vbuf, e.cuts, 16, &e.ncuts, &err) < 0) ||
        hd_seg_load(ctx->store, c.segment, NULL, e.now, &ast, &err) < 0 ||
        hd_tpl_set_open(ctx->cfg->templates, &set, &err) < 0 ||
        hd_tpl_get(set, c.tpl, &e.tpl, &err) < 0 ||
        hd_store_seg_facts(ctx->store, ast, e.now, c.category,
                           e.now - hd_dispatch_horizon(ctx->cfg, &c), estimate_one, &e, &err) < 0) {
        rc = cmd_fail(ctx, &err);
        goto out;
    }
    printf("campaign     %s (segment %s, as of now)\ncontacts     %lld\nheld out     %lld\n",
           c.name, c.segment, (long long)e.total, (long long)e.held);
    for (int i = 0; i < c.nchannels; i++)
        printf("%-12s %lld\n", hd_channel_name(c.channels[i]),
               (long long)e.by_channel[c.channels[i]]);
    static const int skipped[] = {HD_ST_CAPPED, HD_ST_SUPPRESSED, HD_ST_NO_CHANNEL, HD_ST_EXPIRED};
    for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++)
        printf("%-12s %lld\n", hd_state_name(skipped[i]), (long long)e.by_state[skipped[i]]);
    if (e.by_state[HD_ST_DEFERRED])
        printf("in quiet hours now  %lld (they would wait, not be skipped)\n",
               (long long)e.by_state[HD_ST_DEFERRED]);
    printf("sms segments %lld\nsms cost     %.4f\n", (long long)e.segments, e.cost);
    if (e.sms_failed)
        printf("sms not rendered  %lld (strict rendering would fail them)\n",
               (long long)e.sms_failed);
out:
    hd_segast_free(ast);
    hd_tpl_set_free(set);
    hd_zones_free(e.zones);
    hd_fmt_free(e.fmt);
    free(vbuf);
    hd_campaign_release(&c);
    return rc;
}

/* ---- pause, resume, cancel ---------------------------------------------------------------- */

static int status_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    const char *sub = argv[0];
    struct hd_campaign c = {0};
    struct hd_err err = {0};
    int rc = EXIT_OK;
    int64_t now = hd_clock_now(&ctx->clock), n = 0;
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return cmd_help(campaign_usage);
    if (argc != 2)
        return cmd_usage("campaign", campaign_usage, "give one campaign NAME");
    if (hd_store_begin(ctx->store, &err) < 0 ||
        hd_store_campaign_get(ctx->store, argv[1], 0, &c, &err) < 0)
        goto fail;
    if (c.status == HD_CAMP_CANCELLED || (c.status == HD_CAMP_DONE && strcmp(sub, "cancel"))) {
        hd_err_set(&err, HD_E_INVALID, "campaign '%s' is %s", c.name,
                   hd_camp_status_name(c.status));
        goto fail;
    }
    if (strcmp(sub, "pause") == 0) {
        if (c.status == HD_CAMP_PAUSED) {
            hd_err_set(&err, HD_E_INVALID, "campaign '%s' is already paused", c.name);
            goto fail;
        }
        if (hd_store_campaign_set(ctx->store, c.id, HD_CAMP_PAUSED, c.next_run, now, &err) < 0)
            goto fail;
    } else if (strcmp(sub, "resume") == 0) {
        if (c.status != HD_CAMP_PAUSED) {
            hd_err_set(&err, HD_E_INVALID, "campaign '%s' is not paused", c.name);
            goto fail;
        }
        /* running if a run is open, else waiting for its next firing */
        int64_t open, counts[HD_ST_COUNT];
        if (hd_store_run_counts(ctx->store, c.id, 0, counts, &err) < 0)
            goto fail;
        open = counts[HD_ST_QUEUED] + counts[HD_ST_RETRY_WAIT] + counts[HD_ST_DEFERRED] +
               counts[HD_ST_SENDING];
        int status = open ? HD_CAMP_RUNNING : c.next_run >= 0 ? HD_CAMP_SCHEDULED : HD_CAMP_DONE;
        if (hd_store_campaign_set(ctx->store, c.id, status, c.next_run, now, &err) < 0)
            goto fail;
    } else {
        if (hd_store_campaign_cancel(ctx->store, c.id, hd_clock_now_ms(&ctx->clock), &n, &err) <
                0 ||
            hd_store_campaign_set(ctx->store, c.id, HD_CAMP_CANCELLED, -1, now, &err) < 0)
            goto fail;
    }
    if (hd_store_commit(ctx->store, &err) < 0)
        goto fail;
    if (strcmp(sub, "cancel") == 0)
        printf("campaign '%s' cancelled: %lld unsent messages cancelled (messages already with a "
               "gateway are not recalled)\n",
               c.name, (long long)n);
    else
        printf("campaign '%s' %s\n", c.name, strcmp(sub, "pause") == 0 ? "paused" : "resumed");
    hd_campaign_release(&c);
    return rc;
fail:
    hd_store_rollback(ctx->store);
    hd_campaign_release(&c);
    return cmd_fail(ctx, &err);
}

int cmd_campaign(struct hd_ctx *ctx, int argc, char **argv)
{
    if (argc < 2)
        return cmd_usage("campaign", campaign_usage,
                         "give a subcommand: create, list, show, estimate, pause, resume or "
                         "cancel");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || !ctx->store)
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
    return cmd_usage("campaign", campaign_usage, "unknown subcommand '%s'", sub);
}
