/* console_contact: the console's contacts (issue 21). /console/contacts
 * searches by id, email or phone (whole values, hd_store_contact_search);
 * /console/contacts/ID shows one contact from the functions the command
 * line prints: its profile and attributes (`herald contacts show`), its
 * consent now and every change with its source (consent_log, as `herald
 * history` lists it), the suppressions of its addresses
 * (hd_store_suppress_find, as `herald why` tells them), the timeline of
 * every message considered (hd_history_load: `herald history`), and, for
 * a campaign chosen with ?why=NAME, what `herald why` decides
 * (hd_why_load, hd_why_run, hd_why_step), put in words by the page's
 * template in the reader's language. An operator may record an opt-out
 * (POST: channel, category or both), written as `herald contacts optout`
 * writes it (hd_store_consent_record) with source "console", and audited.
 * All reads happen under the store's mutex (hd_con_load); an unknown id
 * is 404. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/audit.h"
#include "herald/schedule.h"
#include "herald/state.h"
#include "console_int.h"

#define SEARCH_LIMIT 50

static const char *contact_ref(const struct hd_con *c)
{
    return c->r->rest + strlen("contacts/");
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* ---- the search ---- */

static int found(void *ud, const struct hd_contact *k)
{
    json_array_append_new(ud, json_pack("{s:s,s:o,s:o,s:o}", "id", k->ext_id, "email",
                                        str_or_null(k->email), "phone", str_or_null(k->phone),
                                        "url", hd_con_url("/console/contacts/", k->ext_id)));
    return 0;
}

static json_t *search_page(struct hd_con *c, struct hd_store *st, struct hd_err *err)
{
    const char *q = c->r->arg ? c->r->arg(c->r->ud, "q") : NULL;
    json_t *d = json_pack("{s:s}", "q", q ? q : "");
    if (q && *q) {
        json_t *list = json_array();
        if (hd_store_contact_search(st, q, SEARCH_LIMIT, found, list, err) < 0) {
            json_decref(list);
            json_decref(d);
            return NULL;
        }
        json_object_set_new(d, "searched", json_true());
        json_object_set_new(d, "none", json_boolean(json_array_size(list) == 0));
        json_object_set_new(d, "results", list);
    }
    return d;
}

void hd_con_contacts(struct hd_con *c)
{
    json_t *data = hd_con_load(c, search_page);
    if (data)
        hd_con_page(c, 200, PAGE_CONSOLE_CONTACTS, data);
}

/* ---- one contact ---- */

static json_t *consent_json(const struct hd_consent *k)
{
    char t[32];
    hd_time_format_iso(k->updated_at, t, sizeof t);
    json_t *o = json_pack("{s:s,s:s,s:b,s:s,s:s}", "channel", hd_channel_name(k->channel),
                          "category", hd_category_name(k->category), "opted_out",
                          k->status == HD_CONSENT_OPTED_OUT, "source", k->source, "at", t);
    if (k->message_id) {
        json_object_set_new(o, "message", json_integer(k->message_id));
        json_object_set_new(o, "campaign", str_or_null(k->campaign));
    }
    return o;
}

static json_t *profile(const struct hd_contact *k)
{
    const char *names[] = {"email",      "phone",    "locale",    "timezone",     "fcm_token",
                           "apns_token", "jpush_id", "hms_token", "wechat_openid"};
    const char *vals[] = {k->email,      k->phone,    k->locale,    k->timezone,     k->fcm_token,
                          k->apns_token, k->jpush_id, k->hms_token, k->wechat_openid};
    json_t *fs = json_array(), *attrs = json_array();
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        json_array_append_new(
            fs, json_pack("{s:s,s:s}", "field", names[i], "value", vals[i] ? vals[i] : "-"));
    json_t *a = json_loads(k->attrs ? k->attrs : "{}", 0, NULL);
    const char *key;
    json_t *v;
    json_object_foreach(a, key, v)
    {
        char *s = json_is_string(v)
                      ? NULL
                      : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
        json_array_append_new(
            attrs, json_pack("{s:s,s:s}", "key", key, "value", s ? s : json_string_value(v)));
        free(s);
    }
    json_decref(a);
    return json_pack("{s:o,s:o,s:b}", "fields", fs, "attributes", attrs, "no_attributes",
                     json_array_size(attrs) == 0);
}

static int suppressed(void *ud, const struct hd_suppression *s)
{
    char t[32];
    hd_time_format_iso(s->created_at, t, sizeof t);
    json_array_append_new(ud, json_pack("{s:s,s:s,s:s,s:s,s:o}", "address", s->address, "channel",
                                        hd_channel_name(s->channel), "reason", s->reason, "at", t,
                                        "detail", str_or_null(s->detail)));
    return 0;
}

static int suppressions(struct hd_store *st, const struct hd_contact *k, json_t **out,
                        struct hd_err *err)
{
    const char *addr[] = {k->email,    k->phone,     k->fcm_token,    k->apns_token,
                          k->jpush_id, k->hms_token, k->wechat_openid};
    *out = json_array();
    for (size_t i = 0; i < sizeof addr / sizeof addr[0]; i++)
        if (addr[i] && hd_store_suppress_find(st, addr[i], suppressed, *out, err) < 0)
            return err ? err->code : HD_E_STORE;
    return 0;
}

/* The channels a decision considered and skipped, from its detail
 * ({"skipped": [[channel, reason], ...]}), as herald why words them. */
static json_t *skipped_channels(const char *detail)
{
    json_t *d = detail ? json_loads(detail, 0, NULL) : NULL, *out = json_array(), *pair;
    size_t i;
    json_array_foreach(json_object_get(d, "skipped"), i, pair)
    {
        const char *ch = json_string_value(json_array_get(pair, 0));
        const char *why = json_string_value(json_array_get(pair, 1));
        if (ch && why)
            json_array_append_new(
                out, json_pack("{s:s,s:s}", "channel", ch, "why", hd_why_skip_words(why)));
    }
    json_decref(d);
    return out;
}

/* A log row as the timeline and the why show it; kind from hd_why_step. */
static json_t *row_json(const struct hd_log_row *r)
{
    static const char *const kinds[] = {"k_held_out", "k_capped",  "k_quiet",  "k_no_channel",
                                        "k_skipped",  "k_attempt", "k_receipt"};
    char at[40];
    hd_audit_time_ms(r->at_ms, at, sizeof at);
    int step = hd_why_step(r);
    json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:o,s:o,s:o,s:o,s:o,s:b}", "at", at, "outcome",
                          r->outcome, "reason", r->reason ? r->reason : "-", "attempt", r->attempt,
                          "channel", str_or_null(r->channel), "provider", str_or_null(r->provider),
                          "address", str_or_null(r->address), "text", str_or_null(r->text), "code",
                          r->code ? json_integer(r->code) : json_null(), "skip",
                          strcmp(r->outcome, "skipped") == 0);
    json_object_set_new(o, kinds[step], json_true());
    json_object_set_new(o, "kind", json_string(kinds[step] + 2));
    json_object_set_new(o, "skipped_channels", skipped_channels(r->detail));
    return o;
}

static json_t *message_json(const struct hd_history *h, const struct hd_msg_info *m,
                            const char *zone)
{
    char fired[32], due[300];
    hd_time_format_iso(m->fired_at, fired, sizeof fired); /* it said the due time */
    hd_history_due(m, zone, due, sizeof due);
    json_t *rows = json_array();
    for (size_t k = 0; k < h->nrows; k++)
        if (h->rows[k].message == m->id)
            json_array_append_new(rows, row_json(&h->rows[k]));
    return json_pack("{s:s,s:o,s:I,s:s,s:I,s:o,s:s,s:o,s:b,s:o,s:b}", "campaign", m->campaign_name,
                     "campaign_url", hd_con_url("/console/campaigns/", m->campaign_name), "run",
                     (json_int_t)m->seq, "fired_at", fired, "message", (json_int_t)m->id, "variant",
                     str_or_null(m->variant), "state", hd_state_name(m->state), "due",
                     due[0] ? json_string(due) : json_null(), "pruned", hd_history_pruned(h, m),
                     "rows", rows, "no_rows", json_array_size(rows) == 0);
}

static json_t *timeline(const struct hd_history *h, const char *zone)
{
    json_t *a = json_array();
    for (size_t k = 0; k < h->nmsgs; k++)
        json_array_append_new(a, message_json(h, &h->msgs[k], zone));
    return a;
}

static json_t *consents(const struct hd_consent *v, size_t n)
{
    json_t *a = json_array();
    for (size_t k = 0; k < n; k++)
        json_array_append_new(a, consent_json(&v[k]));
    return a;
}

/* ---- why, for one campaign ---- */

static json_t *why_run_json(const struct hd_why *w, const struct hd_run *run, const char *zone)
{
    static const char *const verdicts[] = {"in", "making", "created_after", "not_in_segment"};
    const struct hd_msg_info *m = NULL;
    char fired[32];
    int v = hd_why_run(w, run, &m);
    hd_time_format_iso(hd_run_fired_at(run), fired, sizeof fired);
    json_t *o = json_pack("{s:I,s:s,s:s,s:b}", "run", (json_int_t)run->seq, "fired_at", fired,
                          "verdict", verdicts[v], verdicts[v], true);
    if (v == HD_WHY_IN && m)
        json_object_set_new(o, "message", message_json(&w->rec, m, zone));
    return o;
}

/* Whether a consent change is about the campaign (its category, on one of
 * its channels), as herald why chooses them. */
static bool about(const struct hd_campaign *camp, const struct hd_consent *k)
{
    for (int c = 0; c < camp->nchannels; c++)
        if (camp->channels[c] == k->channel)
            return k->category == camp->category;
    return false;
}

static json_t *why_json(struct hd_store *st, const char *ref, const char *campaign,
                        const char *zone, int lang, struct hd_err *err)
{
    struct hd_why w;
    char *paused = NULL, ch[64];
    if (hd_why_load(st, ref, campaign, &w, err) < 0)
        return NULL;
    json_t *runs = json_array(), *cons = json_array();
    for (size_t r = w.nruns; r-- > 0;)
        json_array_append_new(
            runs, why_run_json(&w, &w.runs[r],
                               w.exists && w.contact.timezone ? w.contact.timezone : zone));
    for (size_t k = 0; k < w.rec.nconsent; k++)
        if (about(&w.camp, &w.rec.consent[k]))
            json_array_append_new(cons, consent_json(&w.rec.consent[k]));
    hd_campaign_channels_text(&w.camp, ch, sizeof ch);
    if (w.camp.status == HD_CAMP_PAUSED)
        hd_store_campaign_pause_reason(st, w.camp.id, &paused, NULL);
    json_t *o = json_pack(
        "{s:s,s:s,s:s,s:s,s:o,s:b,s:o,s:b,s:s}", "campaign", w.camp.name, "segment", w.camp.segment,
        "category", hd_pages_category(lang, w.camp.category), "channels", ch, "runs", runs,
        "no_runs", w.nruns == 0, "consent", cons, "no_consent", json_array_size(cons) == 0,
        "status", hd_console_status_word(lang, w.camp.status));
    if (paused)
        json_object_set_new(o, "paused_because", json_string(paused));
    free(paused);
    hd_why_release(&w);
    return o;
}

struct camp_names {
    json_t *list;
    const char *chosen;
};

static int camp_name(void *ud, const struct hd_campaign *camp)
{
    struct camp_names *n = ud;
    if (!camp->api)
        json_array_append_new(n->list, json_pack("{s:s,s:b}", "name", camp->name, "selected",
                                                 n->chosen && strcmp(n->chosen, camp->name) == 0));
    return 0;
}

/* The parts read with the contact: its history and its suppressions. */
static int contact_parts(struct hd_store *st, const struct hd_contact *k, const char *zone,
                         json_t *d, struct hd_err *err)
{
    struct hd_history h;
    json_t *sup = NULL;
    int rc;
    if ((rc = hd_history_load(st, k->id, 0, &h, err)) < 0)
        return rc;
    json_object_set_new(d, "timeline", timeline(&h, zone));
    json_object_set_new(d, "no_messages", json_boolean(h.nmsgs == 0));
    json_object_set_new(d, "consent_log", consents(h.consent, h.nconsent));
    json_object_set_new(d, "no_consent_log", json_boolean(h.nconsent == 0));
    hd_history_release(&h);
    if ((rc = suppressions(st, k, &sup, err)) < 0) {
        json_decref(sup);
        return rc;
    }
    json_object_set_new(d, "no_suppressions", json_boolean(json_array_size(sup) == 0));
    json_object_set_new(d, "suppressions", sup);
    return 0;
}

static json_t *contact_page(struct hd_con *c, struct hd_store *st, struct hd_err *err)
{
    const char *ref = contact_ref(c);
    const char *why = c->r->arg ? c->r->arg(c->r->ud, "why") : NULL;
    struct hd_contact k = {0};
    struct camp_names names = {json_array(), why};
    json_t *d = NULL;
    if (hd_store_contact_get(st, ref, &k, err) < 0)
        goto out;
    const char *zone = k.timezone ? k.timezone : c->s->cfg->timezone;
    d = json_pack("{s:s,s:o,s:o,s:o,s:b}", "id", k.ext_id, "url",
                  hd_con_url("/console/contacts/", k.ext_id), "profile", profile(&k), "consent",
                  consents(k.consent, k.nconsent), "no_consent", k.nconsent == 0);
    if (contact_parts(st, &k, zone, d, err) < 0 ||
        hd_store_campaign_each(st, camp_name, &names, err) < 0)
        goto fail;
    json_object_set_new(d, "campaigns", names.list);
    names.list = NULL;
    if (why && *why) {
        struct hd_err werr = {0};
        json_t *w = why_json(st, ref, why, zone, c->lang, &werr);
        if (!w && werr.code == HD_E_STORE) {
            *err = werr;
            goto fail;
        }
        json_object_set_new(d, w ? "why" : "why_error", w ? w : json_string(werr.msg));
    }
    goto out;
fail:
    json_decref(d);
    d = NULL;
out:
    json_decref(names.list);
    hd_contact_release(&k);
    return d;
}

void hd_con_contact_get(struct hd_con *c)
{
    json_t *data = hd_con_load(c, contact_page);
    if (data)
        hd_con_page(c, 200, PAGE_CONSOLE_CONTACT, data);
}

/* ---- an operator's opt-out ---- */

/* The form's channel and category (-1: both); -1 after answering 400. */
static int optout_form(struct hd_con *c, int *channel, int *category)
{
    struct hd_form f;
    if (hd_con_form(c, &f) < 0)
        return -1;
    const char *ch = hd_form_get(&f, "channel"), *cat = hd_form_get(&f, "category");
    *channel = ch ? hd_channel_parse(ch) : -1;
    *category = !cat || !*cat || strcmp(cat, "both") == 0 ? -1 : hd_category_parse(cat);
    bool bad_cat = cat && *cat && strcmp(cat, "both") != 0 && *category < 0;
    hd_form_release(&f);
    if (*channel < 0 || bad_cat) {
        hd_con_plain(c->a, 400,
                     "bad form body: channel is email, sms, push, inbox or wechat; category is "
                     "marketing, transactional or both\n");
        return -1;
    }
    return 0;
}

void hd_con_contact_post(struct hd_con *c)
{
    struct hd_err err = {0};
    const char *ref = contact_ref(c);
    int channel, category;
    char detail[256];
    if (optout_form(c, &channel, &category) < 0)
        return;
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    int rc = st ? hd_store_consent_record(st, ref, channel, category, HD_CONSENT_OPTED_OUT,
                                          "console", hd_clock_now(c->s->clock), &err)
                : HD_E_STORE;
    if (rc == 0) {
        snprintf(detail, sizeof detail, "%s %s %s", ref, hd_channel_name(channel),
                 category < 0 ? "both" : hd_category_name(category));
        hd_con_note(c, st, c->sess.user.name, "contact_optout", detail);
        hd_log_info(c->s->log, "serve: console: '%s' recorded an opt-out of '%s' from %s",
                    c->sess.user.name, ref, c->r->addr);
    }
    pthread_mutex_unlock(&c->s->mu);
    if (rc == HD_E_NOTFOUND)
        hd_con_plain(c->a, 404, "no such contact\n");
    else if (rc < 0)
        hd_srv_unavailable(c->s, c->a, &err);
    else
        hd_con_redirect_to(c, "/console/contacts/", ref);
}
