/* console_new: the console's form for a new campaign (issue 21),
 * /console/campaigns/new. GET shows the form: the segments and templates
 * to choose from, up to four channels in order, the category, one
 * schedule (now; once at a wall-clock time in a chosen zone; at a local
 * time in each recipient's zone; a cron expression in a zone), holdout,
 * variants and the rest of `herald campaign create`'s options. A POST
 * (an operator's, its CSRF field checked first) turns the fields into
 * that command's options and hands them to the same library calls, so
 * the checks and their messages are the command line's: the options one
 * by one and together (hd_campaign_draft_set, hd_campaign_draft_check),
 * then the segment, template and schedule (hd_campaign_prepare).
 * action=estimate stops there and shows the estimate `herald campaign
 * estimate` prints (hd_estimate: audience, per channel, skips, quiet-hour
 * deferrals, SMS segments and cost; the holdout and variants are bucketed
 * with the id a new campaign does not have yet, so they are close, not
 * exact) and the next five firings in the schedule's zone
 * (hd_campaign_firings); action=create stores it (hd_campaign_create),
 * records the action and goes to its page. A mistake answers 422 with
 * the form as it was sent and the message above it. The path is the
 * prefix route campaigns/ followed by "new", so this route sits before
 * that one in console.c's table, and the name "new" is refused at
 * creation by the CLI and the console alike (hd_campaign_draft_check). */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/schedule.h"
#include "herald/state.h"
#include "herald/tpl.h"
#include "console_int.h"

#define NFIRINGS 5
#define NCHANNEL_FIELDS 4

/* The channel fields, in order of preference. */
static const char *const slots[NCHANNEL_FIELDS] = {"ch1", "ch2", "ch3", "ch4"};

/* The form's text fields, kept as sent to fill the form again. */
static const char *const fields[] = {
    "name",       "segment",  "template", "category", "schedule", "at",      "tz",
    "local_time", "on",       "every",    "holdout",  "variants", "expires", "resend_after",
    "rate",       "fallback", "ch1",      "ch2",      "ch3",      "ch4"};
#define NFIELDS (sizeof fields / sizeof fields[0])

static const char *field(const struct hd_form *f, const char *name)
{
    const char *v = f ? hd_form_get(f, name) : NULL;
    return v ? v : "";
}

/* Options of a list (names) with the one equal to chosen selected. */
static json_t *choices(const char *const *names, size_t n, const char *chosen)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s,s:o,s:b}", "name", names[i], "label",
                                           *names[i] ? json_string(names[i]) : json_null(),
                                           "selected", strcmp(names[i], chosen) == 0));
    return a;
}

struct names {
    char **v;
    size_t n;
};

static int segment_name(void *ud, const char *name, const char *expr, int64_t at)
{
    struct names *s = ud;
    (void)expr;
    (void)at;
    HD_GROW(s->v, s->n);
    s->v[s->n++] = hd_xstrdup(name);
    return 0;
}

static void names_free(struct names *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

/* The form's lists (segments, templates, channels) and the fields as
 * sent (f may be NULL: a new form). */
static json_t *form_data(struct hd_con *c, struct hd_store *st, const struct hd_form *f,
                         struct hd_err *err)
{
    static const char *const chans[] = {"", "email", "sms", "push", "inbox", "wechat"};
    static const char *const scheds[] = {"now", "at", "local", "every"};
    struct names segs = {0}, tpls = {0};
    struct hd_tpl_set *set = NULL;
    json_t *d = NULL;
    if (hd_store_segment_each(st, segment_name, &segs, err) < 0 ||
        hd_tpl_set_open(c->s->cfg->templates, &set, err) < 0 ||
        hd_tpl_set_names(set, &tpls.v, &tpls.n, err) < 0)
        goto out;
    d = json_object();
    for (size_t i = 0; i < NFIELDS; i++)
        json_object_set_new(d, fields[i], json_string(field(f, fields[i])));
    if (!f)
        json_object_set_new(d, "tz", json_string(c->s->cfg->timezone ? c->s->cfg->timezone : ""));
    json_object_set_new(d, "segments",
                        choices((const char *const *)segs.v, segs.n, field(f, "segment")));
    json_object_set_new(d, "templates",
                        choices((const char *const *)tpls.v, tpls.n, field(f, "template")));
    json_t *list = json_array();
    for (int i = 0; i < NCHANNEL_FIELDS; i++)
        json_array_append_new(list, json_pack("{s:s,s:i,s:o}", "key", slots[i], "n", i + 1,
                                              "options", choices(chans, 6, field(f, slots[i]))));
    json_object_set_new(d, "channel_slots", list);
    const char *sc = f ? field(f, "schedule") : "now";
    for (size_t i = 0; i < sizeof scheds / sizeof scheds[0]; i++) {
        char key[24];
        snprintf(key, sizeof key, "sched_%s", scheds[i]);
        json_object_set_new(d, key, json_boolean(strcmp(sc, scheds[i]) == 0));
    }
    const char *cat = field(f, "category");
    json_object_set_new(d, "cat_marketing", json_boolean(strcmp(cat, "marketing") == 0));
    json_object_set_new(d, "cat_transactional", json_boolean(strcmp(cat, "transactional") == 0));
    json_object_set_new(d, "fallback_on", json_boolean(*field(f, "fallback") != '\0'));
out:
    names_free(&segs);
    names_free(&tpls);
    hd_tpl_set_free(set);
    return d;
}

static json_t *new_form(struct hd_con *c, struct hd_store *st, struct hd_err *err)
{
    return form_data(c, st, NULL, err);
}

void hd_con_new_get(struct hd_con *c)
{
    json_t *data = hd_con_load(c, new_form);
    if (data)
        hd_con_page(c, 200, PAGE_CONSOLE_NEW, data);
}

/* ---- the form as herald campaign create's options ---- */

static int opt(struct hd_campaign_draft *d, const struct hd_form *f, const char *key,
               const char *name, struct hd_err *err)
{
    const char *v = field(f, key);
    return *v ? hd_campaign_draft_set(d, name, v, err) : 0;
}

/* The schedule's fields: only those of the schedule chosen are read. */
static int form_schedule(struct hd_campaign_draft *d, const struct hd_form *f, struct hd_err *err)
{
    const char *sc = field(f, "schedule");
    int rc;
    if (strcmp(sc, "now") == 0)
        return hd_campaign_draft_set(d, "now", NULL, err);
    if (strcmp(sc, "at") == 0) {
        if (!*field(f, "at"))
            return hd_err_set(err, HD_E_USAGE, "--at: give the time to fire at");
        if ((rc = opt(d, f, "tz", "tz", err)) < 0)
            return rc;
        return hd_campaign_draft_set(d, "at", field(f, "at"), err);
    }
    if (strcmp(sc, "local") == 0) {
        if ((rc = opt(d, f, "on", "on", err)) < 0)
            return rc;
        return hd_campaign_draft_set(d, "local-time", field(f, "local_time"), err);
    }
    if (strcmp(sc, "every") == 0) {
        if ((rc = opt(d, f, "tz", "tz", err)) < 0)
            return rc;
        return hd_campaign_draft_set(d, "every", field(f, "every"), err);
    }
    return hd_err_set(err, HD_E_USAGE, "give one schedule: --now, --at, --local-time or --every");
}

/* The fields into d (c its campaign), checked as the command line's
 * options are; the first mistake in err. */
static int form_draft(struct hd_campaign_draft *d, const struct hd_form *f, struct hd_err *err)
{
    static const char *const pairs[][2] = {
        {"segment", "segment"},           {"template", "template"}, {"category", "category"},
        {"holdout", "holdout"},           {"variants", "variants"}, {"expires", "expires"},
        {"resend_after", "resend-after"}, {"rate", "rate"}};
    char chans[64] = "";
    int rc;
    for (int i = 0; i < NCHANNEL_FIELDS; i++) {
        const char *v = field(f, slots[i]);
        if (*v && strlen(chans) + strlen(v) + 2 < sizeof chans)
            snprintf(chans + strlen(chans), sizeof chans - strlen(chans), "%s%s",
                     chans[0] ? "," : "", v);
    }
    if (chans[0] && (rc = hd_campaign_draft_set(d, "channels", chans, err)) < 0)
        return rc;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if ((rc = opt(d, f, pairs[i][0], pairs[i][1], err)) < 0)
            return rc;
    if (*field(f, "fallback") &&
        (rc = hd_campaign_draft_set(d, "fallback-on-failure", NULL, err)) < 0)
        return rc;
    if ((rc = form_schedule(d, f, err)) < 0)
        return rc;
    return hd_campaign_draft_check(d, field(f, "name"), err);
}

/* ---- the estimate and the firings ---- */

/* The next firings, shown in the zone the form named (a cron's, or a
 * one-off time's), else UTC (a local time's are each recipient's own). */
static json_t *firings_json(struct hd_con *c, const struct hd_campaign *camp, const char *tz,
                            int64_t now, struct hd_err *err)
{
    int64_t t[NFIRINGS];
    size_t n;
    char buf[40];
    if (hd_campaign_firings(camp, c->s->cfg, now, t, NFIRINGS, &n, err) < 0)
        return NULL;
    const char *zone = camp->sched == HD_SCHED_EVERY && camp->tz ? camp->tz
                       : camp->sched == HD_SCHED_AT && *tz       ? tz
                                                                 : "UTC";
    struct hd_zone *z = hd_zone_open(zone);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        if (z)
            hd_zone_format_iso(z, t[i], buf, sizeof buf);
        else
            hd_time_format_iso(t[i], buf, sizeof buf);
        json_array_append_new(a, json_pack("{s:s,s:s}", "at", buf, "zone", zone));
    }
    hd_zone_free(z);
    return a;
}

static json_t *estimate_json(const struct hd_campaign *camp, const struct hd_estimate *e)
{
    static const int skips[] = {HD_ST_CAPPED, HD_ST_SUPPRESSED, HD_ST_NO_CHANNEL, HD_ST_EXPIRED};
    char cost[32];
    json_t *ch = json_array(), *sk = json_array();
    for (int i = 0; i < camp->nchannels; i++)
        json_array_append_new(ch,
                              json_pack("{s:s,s:I}", "channel", hd_channel_name(camp->channels[i]),
                                        "n", (json_int_t)e->by_channel[camp->channels[i]]));
    for (size_t i = 0; i < sizeof skips / sizeof skips[0]; i++)
        json_array_append_new(sk, json_pack("{s:s,s:I}", "state", hd_state_name(skips[i]), "n",
                                            (json_int_t)e->by_state[skips[i]]));
    snprintf(cost, sizeof cost, "%.4f", e->sms_cost);
    return json_pack("{s:I,s:I,s:o,s:o,s:I,s:I,s:s,s:I}", "contacts", (json_int_t)e->total,
                     "held_out", (json_int_t)e->held, "channels", ch, "skips", sk, "deferred",
                     (json_int_t)e->by_state[HD_ST_DEFERRED], "sms_segments",
                     (json_int_t)e->sms_segments, "sms_cost", cost, "sms_not_rendered",
                     (json_int_t)e->sms_failed);
}

/* What one POST asks, and its answer's parts. */
struct post {
    const struct hd_form *f;
    bool create;
    int rc;
    struct hd_err why;          /* the user's mistake (HD_E_USAGE and the like) */
    json_t *estimate, *firings; /* action=estimate */
    char name[72];
};

/* Checks (and for create, stores) under the store's mutex; a mistake is
 * in p->why, a failure of the store in err. */
static int run_post(struct hd_con *c, struct hd_store *st, struct post *p, struct hd_err *err)
{
    struct hd_campaign camp;
    struct hd_campaign_draft d;
    struct hd_estimate e;
    int64_t now = hd_clock_now(c->s->clock);
    int rc;
    hd_campaign_draft_init(&d, &camp);
    if ((rc = form_draft(&d, p->f, &p->why)) < 0)
        goto out;
    if (p->create) {
        rc = hd_campaign_create(st, c->s->cfg, &camp, d.category_given, now, &p->why);
        if (rc == 0)
            snprintf(p->name, sizeof p->name, "%s", camp.name);
    } else if ((rc = hd_campaign_prepare(st, c->s->cfg, &camp, d.category_given, now, &p->why)) ==
                   0 &&
               (rc = hd_estimate(st, c->s->cfg, &camp, now, &e, &p->why)) == 0) {
        p->estimate = estimate_json(&camp, &e);
        p->firings = firings_json(c, &camp, field(p->f, "tz"), now, &p->why);
        rc = p->firings ? 0 : p->why.code;
    }
out:
    if (rc == HD_E_STORE) { /* the database, not the form */
        *err = p->why;
        p->rc = rc;
    }
    hd_campaign_draft_release(&d);
    hd_campaign_release(&camp);
    return rc;
}

/* The loader's view of the POST: hd_con_load passes only c, the first
 * member, so the loader finds its post beside it. */
struct post_con {
    struct hd_con c;
    struct post *p;
};

static json_t *post_page(struct hd_con *c, struct hd_store *st, struct hd_err *err)
{
    struct post *p = ((struct post_con *)c)->p;
    int rc = run_post(c, st, p, err);
    if (rc == HD_E_STORE)
        return NULL;
    if (rc == 0 && p->create) {
        hd_con_note(c, st, c->sess.user.name, "campaign_create", p->name);
        hd_log_info(c->s->log, "serve: console: '%s' created campaign '%s' from %s",
                    c->sess.user.name, p->name, c->r->addr);
        return json_object();
    }
    json_t *d = form_data(c, st, p->f, err);
    if (!d)
        return NULL;
    if (rc < 0)
        json_object_set_new(d, "error", json_string(p->why.msg));
    if (p->estimate) {
        json_object_set_new(d, "estimate", p->estimate);
        json_object_set_new(d, "firings", p->firings);
        p->estimate = p->firings = NULL;
    }
    p->rc = rc;
    return d;
}

void hd_con_new_post(struct hd_con *c)
{
    struct hd_form f;
    if (hd_con_form(c, &f) < 0)
        return;
    const char *act = hd_form_get(&f, "action");
    if (!act || (strcmp(act, "estimate") != 0 && strcmp(act, "create") != 0)) {
        hd_form_release(&f);
        hd_con_plain(c->a, 400, "bad form body: action is estimate or create\n");
        return;
    }
    struct post p = {.f = &f, .create = strcmp(act, "create") == 0};
    struct post_con pc = {.c = *c, .p = &p};
    json_t *data = hd_con_load(&pc.c, post_page);
    if (data && p.create && p.rc == 0) {
        json_decref(data);
        hd_con_redirect_to(c, "/console/campaigns/", p.name);
    } else if (data) {
        hd_con_page(c, p.rc < 0 ? 422 : 200, PAGE_CONSOLE_NEW, data);
    }
    json_decref(p.estimate);
    json_decref(p.firings);
    OPENSSL_cleanse(&pc.c.sess, sizeof pc.c.sess); /* the copy's CSRF secret */
    OPENSSL_cleanse(pc.c.sid, sizeof pc.c.sid);    /* and session id */
    hd_form_release(&f);
}
