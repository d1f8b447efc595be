/* draft: a new campaign as its options give it, checked the same way for
 * `herald campaign create` and the console's form (issue 21), so both say
 * the same thing about the same mistake. The options go in one at a time
 * by their long names ("segment", "at", "local-time", ...), each checked
 * alone as it comes, with the command line's message ("--at: '...' is not
 * an ISO 8601 time"); hd_campaign_draft_check then checks what they say
 * together and the name. A one-off time with --tz is a wall-clock time in
 * that zone, turned into its instant by ICU's rules (a time the clocks
 * skip becomes the first one after the gap). hd_campaign_firings lists a
 * schedule's next firings (the cron's in its zone) for a preview; nothing
 * here touches the store. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/config.h"
#include "herald/schedule.h"
#include "herald/segment.h"
#include "herald/store.h"
#include "herald/units.h"

void hd_campaign_draft_init(struct hd_campaign_draft *d, struct hd_campaign *c)
{
    memset(d, 0, sizeof *d);
    memset(c, 0, sizeof *c);
    c->at = -1;
    c->next_run = -1;
    c->category = HD_CAT_MARKETING;
    d->c = c;
}

void hd_campaign_draft_release(struct hd_campaign_draft *d)
{
    if (!d)
        return;
    free(d->on);
    free(d->at);
    d->on = d->at = NULL;
}

static void set_str(char **field, const char *value)
{
    free(*field);
    *field = hd_xstrdup(value);
}

static int parse_channels(const char *s, struct hd_campaign *c)
{
    char buf[64];
    if (strlen(s) >= sizeof buf)
        return -1;
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

/* --at, --local-time, --every, --now: the schedule (one of them). */
static int set_sched(struct hd_campaign_draft *d, const char *opt, const char *arg,
                     struct hd_err *err)
{
    struct hd_campaign *c = d->c;
    enum hd_time_kind kind;
    int h, m;
    char extra;
    d->nsched++;
    if (strcmp(opt, "at") == 0) {
        c->sched = HD_SCHED_AT;
        set_str(&d->at, arg);
        if (hd_time_parse_iso(arg, &c->at, &kind) < 0)
            return hd_err_set(err, HD_E_USAGE,
                              "--at: '%s' is not an ISO 8601 time (2026-12-01T09:00:00Z)", arg);
    } else if (strcmp(opt, "local-time") == 0) {
        c->sched = HD_SCHED_LOCAL;
        if (sscanf(arg, "%2d:%2d%c", &h, &m, &extra) != 2 || h < 0 || h > 23 || m < 0 || m > 59 ||
            strlen(arg) != 5)
            return hd_err_set(err, HD_E_USAGE, "--local-time: '%s' is not HH:MM", arg);
        c->local_minute = h * 60 + m;
    } else if (strcmp(opt, "every") == 0) {
        c->sched = HD_SCHED_EVERY;
        set_str(&c->cron, arg);
    } else { /* now */
        c->sched = HD_SCHED_NOW;
    }
    return 0;
}

/* Options whose value is a number, a duration or a rate. */
static int set_measure(struct hd_campaign *c, const char *opt, const char *arg, struct hd_err *err)
{
    struct hd_err e = {0};
    struct hd_rate r;
    int64_t secs;
    char *end;
    if (strcmp(opt, "holdout") == 0) {
        /* digits, a point and digits, and an optional %: strtod alone
         * also took 0x10 (16%) and 1e1 */
        size_t whole = strspn(arg, "0123456789"), frac = 0, span = whole;
        if (arg[whole] == '.')
            span += 1 + (frac = strspn(arg + whole + 1, "0123456789"));
        bool plain = whole + frac > 0 && (arg[span] == '\0' || strcmp(arg + span, "%") == 0);
        double pct = plain ? strtod(arg, &end) : -1;
        if (!plain || !(pct >= 0 && pct < 100))
            return hd_err_set(err, HD_E_USAGE,
                              "--holdout: '%s' is not a percentage from 0 to below 100", arg);
        c->holdout_bp = (int)lround(pct * 100);
    } else if (strcmp(opt, "expires") == 0 || strcmp(opt, "resend-after") == 0) {
        bool expires = opt[0] == 'e';
        if (hd_units_duration0(arg, &secs, &e) < 0) /* 0: none */
            return hd_err_set(err, HD_E_USAGE, "--%s: %s", opt, e.msg);
        *(expires ? &c->expires : &c->resend_after) = secs;
    } else { /* rate */
        if (hd_units_rate(arg, &r, &e) < 0)
            return hd_err_set(err, HD_E_USAGE, "--rate: %s", e.msg);
        set_str(&c->rate, arg);
    }
    return 0;
}

static bool is_opt(const char *opt, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(opt, *names) == 0)
            return true;
    return false;
}

int hd_campaign_draft_set(struct hd_campaign_draft *d, const char *opt, const char *arg,
                          struct hd_err *err)
{
    static const char *const sched[] = {"at", "local-time", "every", "now", NULL};
    static const char *const measures[] = {"holdout", "expires", "resend-after", "rate", NULL};
    struct hd_campaign *c = d->c;
    if (!arg && strcmp(opt, "now") != 0 && strcmp(opt, "fallback-on-failure") != 0)
        return hd_err_set(err, HD_E_USAGE, "--%s needs a value", opt);
    if (is_opt(opt, sched))
        return set_sched(d, opt, arg, err);
    if (is_opt(opt, measures))
        return set_measure(c, opt, arg, err);
    if (strcmp(opt, "segment") == 0) {
        set_str(&c->segment, arg);
    } else if (strcmp(opt, "template") == 0) {
        set_str(&c->tpl, arg);
    } else if (strcmp(opt, "on") == 0) {
        set_str(&d->on, arg);
    } else if (strcmp(opt, "variants") == 0) {
        set_str(&c->variants, arg);
    } else if (strcmp(opt, "fallback-on-failure") == 0) {
        c->fallback = true;
    } else if (strcmp(opt, "channels") == 0) {
        d->channels_given = true;
        if (parse_channels(arg, c) < 0)
            return hd_err_set(err, HD_E_USAGE,
                              "--channels: '%s' is not a list of distinct channels (email, sms, "
                              "push, inbox, wechat)",
                              arg);
    } else if (strcmp(opt, "category") == 0) {
        if ((c->category = hd_category_parse(arg)) < 0)
            return hd_err_set(err, HD_E_USAGE, "--category: '%s' is not marketing or transactional",
                              arg);
        d->category_given = true;
    } else if (strcmp(opt, "tz") == 0) {
        if (!hd_time_zone_valid(arg))
            return hd_err_set(err, HD_E_USAGE, "--tz: '%s' is not an IANA time zone (%s)", arg,
                              hd_time_zone_hint(arg));
        set_str(&c->tz, arg);
    } else {
        return hd_err_set(err, HD_E_USAGE, "unknown option '--%s'", opt);
    }
    return 0;
}

/* --at TIME --tz ZONE: TIME is the wall clock in ZONE, without an offset. */
static int at_in_zone(struct hd_campaign_draft *d, struct hd_err *err)
{
    struct hd_civil cv = {0};
    int y, mo, dd, h, mi, s = 0, n = 0;
    size_t len = strlen(d->at);
    if ((len != 16 && len != 19) ||
        (len == 16 && sscanf(d->at, "%4d-%2d-%2dT%2d:%2d%n", &y, &mo, &dd, &h, &mi, &n) != 5) ||
        (len == 19 &&
         sscanf(d->at, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &dd, &h, &mi, &s, &n) != 6) ||
        (size_t)n != len)
        return hd_err_set(err, HD_E_USAGE,
                          "--at: with --tz, '%s' must be a wall-clock time without an offset "
                          "(2026-12-01T09:00)",
                          d->at);
    struct hd_zone *z = hd_zone_open(d->c->tz);
    if (!z)
        return hd_err_set(err, HD_E_USAGE, "--tz: '%s' is not a time zone", d->c->tz);
    cv.year = y;
    cv.month = (unsigned)mo;
    cv.day = (unsigned)dd;
    cv.hour = (unsigned)h;
    cv.minute = (unsigned)mi;
    cv.second = (unsigned)s;
    d->c->at = hd_zone_utc(z, &cv);
    hd_zone_free(z);
    free(d->c->tz); /* the instant is what fires; the zone only read it */
    d->c->tz = NULL;
    return 0;
}

int hd_campaign_draft_check(struct hd_campaign_draft *d, const char *name, struct hd_err *err)
{
    struct hd_campaign *c = d->c;
    enum hd_time_kind kind;
    if (!name || !hd_seg_name_valid(name))
        return hd_err_set(err, HD_E_USAGE,
                          "'%s' is not a campaign name (1 to 64 letters, digits, '_' or '-')",
                          name ? name : "");
    if (strcmp(name, "new") == 0)
        return hd_err_set(err, HD_E_USAGE,
                          "'new' is not a campaign name: the console's form for a new campaign "
                          "is /console/campaigns/new; choose another name");
    if (!c->segment || !c->tpl || !d->channels_given)
        return hd_err_set(err, HD_E_USAGE, "give --segment, --template and --channels");
    if (d->nsched != 1)
        return hd_err_set(err, HD_E_USAGE,
                          "give one schedule: --now, --at, --local-time or --every");
    if (d->on && c->sched != HD_SCHED_LOCAL)
        return hd_err_set(err, HD_E_USAGE, "--on goes with --local-time");
    if (c->tz && c->sched != HD_SCHED_EVERY && c->sched != HD_SCHED_AT)
        return hd_err_set(err, HD_E_USAGE,
                          "--tz goes with --every or --at (a local time uses each recipient's "
                          "zone)");
    if (d->on && (hd_time_parse_iso(d->on, &c->at, &kind) < 0 || kind != HD_TIME_DATE))
        return hd_err_set(err, HD_E_USAGE, "--on: '%s' is not a date (YYYY-MM-DD)", d->on);
    free(c->name);
    c->name = hd_xstrdup(name);
    return c->sched == HD_SCHED_AT && c->tz ? at_in_zone(d, err) : 0;
}

int hd_campaign_firings(const struct hd_campaign *c, const struct hd_config *cfg, int64_t now,
                        int64_t *out, size_t max, size_t *n, struct hd_err *err)
{
    struct hd_cron cron;
    int64_t t;
    int rc;
    *n = 0;
    if (max == 0)
        return 0;
    if (c->sched != HD_SCHED_EVERY) {
        if ((rc = hd_campaign_first_run(c, cfg, now, &t, err)) < 0)
            return rc;
        out[(*n)++] = t;
        return 0;
    }
    if ((rc = hd_campaign_first_run(c, cfg, now, &t, err)) < 0 ||
        (rc = hd_cron_parse(c->cron, &cron, err)) < 0)
        return rc;
    struct hd_zone *z = hd_zone_open(c->tz ? c->tz : cfg->timezone);
    if (!z)
        return hd_err_set(err, HD_E_USAGE, "--tz: '%s' is not a time zone",
                          c->tz ? c->tz : cfg->timezone);
    out[(*n)++] = t;
    while (*n < max && hd_cron_next(&cron, z, t, &t) == 0)
        out[(*n)++] = t;
    hd_zone_free(z);
    return 0;
}
