/* api_contacts: contacts, consent, events and the read endpoints of the
 * JSON API, each through the function the command line uses for the same
 * thing, so that the API and the CLI cannot drift apart:
 * PUT /contacts/ID checks the object as `contacts import` checks a JSON
 * Lines row and upserts it (hd_import_one); DELETE /contacts/ID is the
 * pseudonymising delete of `contacts delete`; POST /contacts/ID/consent
 * is `contacts optin|optout` (source "api"); POST /events hands one event
 * or a batch to `events import`'s reader as JSON Lines, so the rows are
 * the ones it writes, all or nothing; GET /campaigns is `campaign list
 * --format json` (hd_campaign_json) and /contacts/ID/history `history
 * --format json` (its log rows, hd_audit_log_json). Each holds the
 * service's store mutex for its statements. */
#include <stdio.h>
#include <string.h>

#include "api_int.h"
#include "herald/audit.h"
#include "herald/import.h"
#include "herald/schedule.h"
#include "herald/stats.h"

/* The store with s->mu taken, or NULL with a answered (mu released). */
static struct hd_store *store_of(struct hd_api_call *c, struct hd_answer *a)
{
    struct hd_err err = {0};
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    if (!st) {
        pthread_mutex_unlock(&c->s->mu);
        hd_api_fail(c, a, &err, NULL);
    }
    return st;
}

void hd_api_contacts_put(struct hd_api_call *c, struct hd_answer *a)
{
    struct hd_err err = {0};
    char field[64];
    bool inserted = false;
    json_t *id = json_object_get(c->json, "id");
    if (!json_is_object(c->json)) {
        hd_api_problem(a, 422, NULL, "the body must be a JSON object: the contact's fields");
        return;
    }
    /* the id as a string, or as a number where ContactFields allows one
     * (a review's 42 was refused on /contacts/42) */
    char num[32] = "";
    if (json_is_integer(id))
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
    if (id && !(json_is_string(id) && strcmp(json_string_value(id), c->arg) == 0) &&
        !(num[0] && strcmp(num, c->arg) == 0)) {
        hd_api_problem(a, 422, "id", "the body's id is not the path's ('%s')", c->arg);
        return;
    }
    json_object_set_new(c->json, "id", json_string(c->arg));
    struct hd_import_opts io = {.path = "-", .default_region = c->s->cfg->default_region};
    struct hd_store *st = store_of(c, a);
    if (!st)
        return;
    int rc = hd_import_one(st, c->json, &io, hd_clock_now(c->s->clock), field, sizeof field,
                           &inserted, &err);
    pthread_mutex_unlock(&c->s->mu);
    if (rc < 0) {
        hd_api_fail(c, a, &err, field[0] ? field : NULL);
        return;
    }
    hd_api_json(a, inserted ? 201 : 200,
                json_pack("{s:s, s:b}", "id", c->arg, "created", inserted));
}

void hd_api_contacts_delete(struct hd_api_call *c, struct hd_answer *a)
{
    struct hd_err err = {0};
    int64_t pseudonym = 0;
    struct hd_store *st = store_of(c, a);
    if (!st)
        return;
    int rc = hd_store_contact_delete(st, c->arg, &pseudonym, &err);
    pthread_mutex_unlock(&c->s->mu);
    if (rc < 0) {
        hd_api_fail(c, a, &err, NULL);
        return;
    }
    char p[64];
    hd_contact_pseudonym(pseudonym, p, sizeof p);
    hd_api_json(a, 200, json_pack("{s:s, s:s}", "id", c->arg, "deleted_as", p));
}

void hd_api_consent_post(struct hd_api_call *c, struct hd_answer *a)
{
    struct hd_err err = {0};
    const char *ch = json_string_value(json_object_get(c->json, "channel"));
    json_t *cat_v = json_object_get(c->json, "category"); /* absent: marketing */
    const char *status = json_string_value(json_object_get(c->json, "status"));
    int channel = hd_channel_parse(ch),
        category = cat_v ? hd_category_parse(json_string_value(cat_v)) : HD_CAT_MARKETING;
    int st_v = status && strcmp(status, "opted_in") == 0    ? HD_CONSENT_OPTED_IN
               : status && strcmp(status, "opted_out") == 0 ? HD_CONSENT_OPTED_OUT
                                                            : -1;
    if (!json_is_object(c->json) || channel < 0) {
        hd_api_problem(a, 422, "channel", "channel is email, sms, push, inbox or wechat");
        return;
    }
    if (category < 0) {
        hd_api_problem(a, 422, "category", "category is marketing or transactional");
        return;
    }
    if (st_v < 0) {
        hd_api_problem(a, 422, "status", "status is opted_in or opted_out");
        return;
    }
    struct hd_store *st = store_of(c, a);
    if (!st)
        return;
    int rc = hd_store_consent_set(st, c->arg, channel, category, st_v, "api",
                                  hd_clock_now(c->s->clock), &err);
    pthread_mutex_unlock(&c->s->mu);
    if (rc < 0) {
        hd_api_fail(c, a, &err, NULL);
        return;
    }
    hd_api_json(a, 200,
                json_pack("{s:s, s:s, s:s, s:s}", "id", c->arg, "channel", hd_channel_name(channel),
                          "category", hd_category_name(category), "status", status));
}

void hd_api_events_post(struct hd_api_call *c, struct hd_answer *a)
{
    struct hd_err err = {0};
    struct hd_events_result res = {0};
    json_t *list = json_is_array(c->json) ? c->json : NULL;
    size_t i, n = list ? json_array_size(list) : 1;
    json_t *ev;
    struct hd_buf lines;
    hd_buf_init(&lines);
    for (i = 0; i < n; i++) {
        ev = list ? json_array_get(list, i) : c->json;
        /* without a time it happened now, as the API's document says (it
         * was refused: a review) */
        json_t *now = NULL;
        if (json_is_object(ev) && !json_object_get(ev, "at") && !json_object_get(ev, "time") &&
            !json_object_get(ev, "timestamp")) {
            now = json_copy(ev);
            json_object_set_new(now, "at", json_integer((json_int_t)hd_clock_now(c->s->clock)));
        }
        char *text = json_is_object(ev) ? json_dumps(now ? now : ev, JSON_COMPACT) : NULL;
        json_decref(now);
        if (!text) {
            hd_buf_release(&lines);
            hd_api_problem(a, 422, NULL, "an event is an object (%s[%zu] is not)",
                           list ? "the list" : "the body", i);
            return;
        }
        hd_buf_adds(&lines, text);
        hd_buf_addc(&lines, '\n');
        free(text);
    }
    FILE *f = fmemopen(lines.data, lines.len, "r");
    struct hd_store *st = f ? store_of(c, a) : NULL;
    int rc = HD_E_IO;
    if (st) {
        rc = hd_events_import(st, f, "events", true, false, &res, &err);
        pthread_mutex_unlock(&c->s->mu);
    }
    if (f)
        fclose(f);
    hd_buf_release(&lines);
    if (!st) {
        if (!f)
            hd_api_problem(a, 500, NULL, "cannot read the events");
        return;
    }
    if (rc < 0) { /* "events:N: reason": N is the event's place, from 1 */
        char field[32] = "";
        long line = 0;
        if (list && sscanf(err.msg, "events:%ld:", &line) == 1 && line > 0)
            snprintf(field, sizeof field, "[%ld]", line - 1);
        hd_api_fail(c, a, &err, field[0] ? field : NULL);
        return;
    }
    hd_api_json(a, 200,
                json_pack("{s:I, s:I, s:I}", "added", (json_int_t)res.added, "duplicate",
                          (json_int_t)res.duplicate, "unknown_contacts", (json_int_t)res.unknown));
}

static int add_campaign(void *ud, const struct hd_campaign *camp)
{
    json_array_append_new(ud, hd_campaign_json(camp));
    return 0;
}

void hd_api_campaigns_get(struct hd_api_call *c, struct hd_answer *a)
{
    struct hd_err err = {0};
    json_t *arr = json_array();
    struct hd_store *st = store_of(c, a);
    if (!st) {
        json_decref(arr);
        return;
    }
    int rc = hd_store_campaign_each(st, add_campaign, arr, &err);
    pthread_mutex_unlock(&c->s->mu);
    if (rc < 0) {
        json_decref(arr);
        hd_api_fail(c, a, &err, NULL);
        return;
    }
    hd_api_json(a, 200, arr);
}

void hd_api_history_get(struct hd_api_call *c, struct hd_answer *a)
{
    struct hd_err err = {0};
    struct hd_history h = {0};
    int64_t id = 0;
    struct hd_store *st = store_of(c, a);
    if (!st)
        return;
    int rc = hd_store_contact_ref(st, c->arg, &id, &err);
    if (rc == 0)
        rc = hd_history_load(st, id, 0, &h, &err);
    pthread_mutex_unlock(&c->s->mu);
    if (rc < 0) {
        hd_history_release(&h);
        hd_api_fail(c, a, &err, NULL);
        return;
    }
    json_t *arr = json_array();
    for (size_t k = 0; k < h.nrows; k++)
        json_array_append_new(arr, hd_audit_log_json(&h.rows[k]));
    hd_history_release(&h);
    hd_api_json(a, 200, arr);
}

void hd_api_stats_get(struct hd_api_call *c, struct hd_answer *a)
{
    struct hd_err err = {0};
    struct hd_campaign camp = {0};
    struct hd_stats s = {0};
    struct hd_store *st = store_of(c, a);
    if (!st)
        return;
    int rc = hd_store_campaign_get(st, c->arg, 0, &camp, &err);
    if (rc == 0 && camp.api)
        rc = hd_err_set(&err, HD_E_NOTFOUND, "no campaign '%s'", c->arg);
    /* grouped as herald stats groups by default: by variant when there are some */
    if (rc == 0)
        rc = hd_stats_load(st, camp.id,
                           camp.variants && *camp.variants ? HD_BY_VARIANT : HD_BY_NONE, &s, &err);
    pthread_mutex_unlock(&c->s->mu);
    if (rc < 0)
        hd_api_fail(c, a, &err, NULL);
    else
        hd_api_json(a, 200, hd_stats_json(camp.name, &s));
    if (rc == 0)
        hd_stats_release(&s);
    hd_campaign_release(&camp);
}
