/* console_campaign: the console's campaign page (issue 21), as JSON
 * objects for their templates, read through the functions the command
 * line uses so that the page and the terminal never disagree: the
 * definition as `herald campaign show` words it (hd_campaign_json) and its
 * runs with their messages by state (hd_store_run_each,
 * hd_store_run_counts), read with the store's mutex held (hd_con_load);
 * the numbers (funnel, rates, the lift against the holdout) come after,
 * without that mutex, from console_numbers.c. Pause, resume and cancel go
 * through hd_campaign_control as the command line's do, each recorded in
 * the audit of actions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/audit.h"
#include "herald/schedule.h"
#include "herald/state.h"
#include "console_int.h"

struct runs {
    struct hd_store *st;
    json_t *list;
    struct hd_err *err;
};

static int run_row(void *ud, const struct hd_run *r)
{
    static const char *const names[] = {"materializing", "active", "done"};
    struct runs *w = ud;
    int64_t counts[HD_ST_COUNT];
    char t[32];
    if (hd_store_run_counts(w->st, 0, r->id, counts, w->err) < 0)
        return -1;
    json_t *states = json_array();
    for (int s = 0; s < HD_ST_COUNT; s++)
        if (counts[s])
            json_array_append_new(states, json_pack("{s:s,s:I}", "state", hd_state_name(s), "n",
                                                    (json_int_t)counts[s]));
    char due[32];
    hd_time_format_iso(hd_run_fired_at(r), t, sizeof t);
    hd_time_format_iso(r->fire_at, due, sizeof due);
    json_array_append_new(w->list, json_pack("{s:I,s:s,s:s,s:s,s:o}", "run", (json_int_t)r->seq,
                                             "fired_at", t, "due_at", due, "status",
                                             names[r->status], "states", states));
    return 0;
}

static json_t *campaign_data(struct hd_store *st, const char *name, int lang, struct hd_err *err)
{
    struct hd_campaign c = {0};
    json_t *out = NULL;
    struct runs w = {st, json_array(), err};
    char *reason = NULL;
    if (hd_store_campaign_get(st, name, 0, &c, err) < 0 || c.api)
        goto out;
    if (hd_store_run_each(st, c.id, false, run_row, &w, err) < 0)
        goto out;
    out = hd_campaign_json(&c);
    json_object_set_new(out, "campaign_id", json_integer(c.id));
    json_object_set_new(out, "status_label", json_string(hd_console_status_word(lang, c.status)));
    json_object_set_new(out, "category_label", json_string(hd_pages_category(lang, c.category)));
    if (c.status == HD_CAMP_PAUSED &&
        hd_store_campaign_pause_reason(st, c.id, &reason, NULL) == 0 && reason)
        json_object_set_new(out, "paused_reason", json_string(reason));
    json_object_set_new(out, "can_pause",
                        json_boolean(c.status == HD_CAMP_RUNNING || c.status == HD_CAMP_SCHEDULED));
    json_object_set_new(out, "can_resume", json_boolean(c.status == HD_CAMP_PAUSED));
    json_object_set_new(out, "can_cancel",
                        json_boolean(c.status != HD_CAMP_CANCELLED && c.status != HD_CAMP_DONE));
    json_object_set_new(out, "runs", w.list);
    json_object_set_new(out, "no_runs", json_boolean(json_array_size(w.list) == 0));
    w.list = NULL;
out:
    if (!out && c.api && err)
        hd_err_set(err, HD_E_NOTFOUND, "no campaign named '%s'", name);
    free(reason);
    json_decref(w.list);
    hd_campaign_release(&c);
    return out;
}

/* ---- the page and its actions ---- */

static const char *campaign_name(const struct hd_con *c)
{
    return c->r->rest + strlen("campaigns/");
}

static json_t *campaign_page(struct hd_con *c, struct hd_store *st, struct hd_err *err)
{
    const char *name = campaign_name(c);
    json_t *data = campaign_data(st, name, c->lang, err);
    if (!data)
        return NULL;
    json_object_set_new(data, "url", hd_con_url("/console/campaigns/", name));
    json_object_set_new(data, "log_url", hd_con_url("/console/log?campaign=", name));
    json_object_set_new(data, "csv_url", hd_con_url("/console/log.csv?campaign=", name));
    return data;
}

/* The definition and runs with the store's mutex held, then the numbers
 * (console_numbers.c) without it. */
void hd_con_campaign_get(struct hd_con *c)
{
    json_t *data = hd_con_load(c, campaign_page);
    if (!data)
        return;
    const char *goal = c->r->arg ? c->r->arg(c->r->ud, "goal") : NULL;
    int64_t id = json_integer_value(json_object_get(data, "campaign_id"));
    if (hd_con_numbers(c, id, goal && *goal ? goal : NULL, data) < 0)
        json_decref(data);
    else
        hd_con_page(c, 200, PAGE_CONSOLE_CAMPAIGN, data);
}

/* The action a campaign's form names (its csrf checked first); -1 after
 * answering. */
static int campaign_op(struct hd_con *c)
{
    static const char *const ops[] = {"pause", "resume", "cancel"};
    static const int codes[] = {HD_CAMP_OP_PAUSE, HD_CAMP_OP_RESUME, HD_CAMP_OP_CANCEL};
    struct hd_form f;
    int op = -1;
    if (hd_con_form(c, &f) < 0)
        return -1;
    const char *act = hd_form_get(&f, "action");
    for (size_t i = 0; act && i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(act, ops[i]) == 0)
            op = codes[i];
    if (op < 0)
        hd_con_plain(c->a, 400, "bad form body: action is pause, resume or cancel\n");
    hd_form_release(&f);
    return op;
}

/* What `herald campaign pause|resume|cancel` does, recorded in the
 * audit (who, what, when, from where), then the page again. */
void hd_con_campaign_post(struct hd_con *c)
{
    static const char *const what[] = {"campaign_pause", "campaign_resume", "campaign_cancel"};
    struct hd_err err = {0};
    struct hd_campaign camp = {0};
    int64_t n = 0;
    const char *name = campaign_name(c);
    int op = campaign_op(c);
    if (op < 0)
        return;
    pthread_mutex_lock(&c->s->mu);
    struct hd_store *st = hd_srv_store(c->s, &err);
    int rc = st ? hd_campaign_control(st, name, op, hd_clock_now_ms(c->s->clock), &camp, &n, &err)
                : HD_E_STORE;
    if (rc == 0) {
        hd_con_note(c, st, c->sess.user.name, what[op], name);
        hd_log_info(c->s->log, "serve: console: '%s' %s '%s' from %s", c->sess.user.name, what[op],
                    name, c->r->addr);
    }
    pthread_mutex_unlock(&c->s->mu);
    hd_campaign_release(&camp);
    if (rc == HD_E_NOTFOUND) {
        hd_con_plain(c->a, 404, "no such campaign\n");
    } else if (rc == HD_E_INVALID) {
        hd_con_plain(c->a, 409, "");
        hd_buf_addf(&c->a->body, "%s\n", err.msg);
    } else if (rc < 0) {
        hd_srv_unavailable(c->s, c->a, &err);
    } else {
        hd_con_redirect_to(c, "/console/campaigns/", name);
    }
}
