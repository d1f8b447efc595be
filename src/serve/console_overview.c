/* console_overview: the numbers of the console's first page, as a JSON
 * object for its template, read through the functions the command line
 * uses: the campaigns as `herald campaign list` walks and words them
 * (hd_store_campaign_each, hd_campaign_json, the pause reason `campaign
 * show` prints), the providers' pauses the dispatchers share
 * (hd_store_provider_pauses), the last failures as `herald log --outcome
 * permanent` reads them (hd_store_log_query). Today's sends, deliveries
 * and failures by channel and the queue by state come from the store's two
 * aggregates for the console (one day of the log's time index; the
 * messages by state). "Today" is the UTC day: the page says so. All of it
 * is read with the store's mutex held, in one short go. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/schedule.h"
#include "herald/state.h"
#include "console_int.h"

#define LAST_ERRORS_SHOWN 10

const char *hd_console_status_word(int lang, int status)
{
    static const char *const zh[HD_CAMP_COUNT] = {"已排期", "发送中", "已暂停", "已取消", "已完成"};
    return lang == LANG_ZH && status >= 0 && status < HD_CAMP_COUNT ? zh[status]
                                                                    : hd_camp_status_name(status);
}

struct walk {
    struct hd_store *st;
    int lang;
    json_t *list;
};

static int campaign_row(void *ud, const struct hd_campaign *c)
{
    struct walk *w = ud;
    if (c->status != HD_CAMP_RUNNING && c->status != HD_CAMP_SCHEDULED &&
        c->status != HD_CAMP_PAUSED)
        return 0;
    json_t *o = hd_campaign_json(c);
    json_object_set_new(o, "status_label", json_string(hd_console_status_word(w->lang, c->status)));
    json_object_set_new(o, "url", hd_con_url("/console/campaigns/", c->name));
    char *reason = NULL;
    if (c->status == HD_CAMP_PAUSED &&
        hd_store_campaign_pause_reason(w->st, c->id, &reason, NULL) == 0 && reason)
        json_object_set_new(o, "paused_reason", json_string(reason));
    free(reason);
    json_array_append_new(w->list, o);
    return 0;
}

/* One channel's numbers of the day. */
struct day {
    json_t *rows; /* an object: channel -> {sent, delivered, failed} */
};

static int day_row(void *ud, const char *channel, const char *outcome, const char *reason,
                   int64_t n)
{
    struct day *d = ud;
    /* a message that could not be made (render_failed) failed too: the
     * overview said "Failed 0" beside a campaign the breaker had paused
     * for 50 of them (a review) */
    const char *key =
        strcmp(outcome, "accepted") == 0                                          ? "sent"
        : strcmp(outcome, "permanent") == 0                                       ? "failed"
        : strcmp(outcome, "skipped") == 0 && strcmp(reason, "render_failed") == 0 ? "failed"
        : strcmp(outcome, "receipt") == 0 && strcmp(reason, "delivered") == 0     ? "delivered"
        : strcmp(outcome, "receipt") == 0 &&
                (strcmp(reason, "undelivered") == 0 || strncmp(reason, "bounced", 7) == 0)
            ? "failed"
            : NULL;
    if (!key || strcmp(channel, "-") == 0)
        return 0;
    json_t *row = json_object_get(d->rows, channel);
    if (!row) {
        row = json_pack("{s:s,s:I,s:I,s:I}", "channel", channel, "sent", (json_int_t)0, "delivered",
                        (json_int_t)0, "failed", (json_int_t)0);
        json_object_set_new(d->rows, channel, row);
    }
    json_object_set_new(row, key, json_integer(json_integer_value(json_object_get(row, key)) + n));
    return 0;
}

static int queue_row(void *ud, int state, int64_t n)
{
    json_t *q = ud;
    if (hd_state_terminal(state))
        return 0;
    json_array_append_new(
        q, json_pack("{s:s,s:I}", "state", hd_state_name(state), "n", (json_int_t)n));
    json_object_set_new(
        json_array_get(q, 0), "depth",
        json_integer(json_integer_value(json_object_get(json_array_get(q, 0), "depth")) + n));
    return 0;
}

static void pause_row(void *ud, const char *provider, int64_t until_ms)
{
    char t[32];
    hd_time_format_iso(until_ms / 1000, t, sizeof t);
    json_array_append_new(ud, json_pack("{s:s,s:s}", "provider", provider, "until", t));
}

static int error_row(void *ud, const struct hd_log_row *r)
{
    char t[32];
    hd_time_format_iso(r->at_ms / 1000, t, sizeof t);
    json_array_append_new(
        ud, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "at", t, "campaign",
                      r->campaign ? r->campaign : "", "channel", r->channel ? r->channel : "",
                      "provider", r->provider ? r->provider : "", "reason",
                      r->reason ? r->reason : "", "text", r->text ? r->text : ""));
    return 0;
}

static int by_at_desc(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "at"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "at"));
    return strcmp(y ? y : "", x ? x : "");
}

/* list (error_row's, of two queries) newest first, cut to keep. */
static void newest_first(json_t *list, size_t keep)
{
    size_t n = json_array_size(list);
    json_t **v = hd_xcalloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(list, i));
    qsort(v, n, sizeof *v, by_at_desc);
    json_array_clear(list);
    for (size_t i = 0; i < n; i++)
        if (i < keep)
            json_array_append_new(list, v[i]);
        else
            json_decref(v[i]);
    free(v);
}

/* The day's rows by channel, in the channels' order, labelled. */
static json_t *day_list(json_t *rows, int lang)
{
    json_t *list = json_array();
    for (int ch = 0; ch < HD_CH_COUNT; ch++) {
        json_t *row = json_object_get(rows, hd_channel_name(ch));
        if (!row)
            continue;
        json_object_set_new(row, "label", json_string(hd_pages_channel(lang, ch)));
        json_array_append(list, row);
    }
    return list;
}

static json_t *overview(struct hd_con *c, struct hd_store *st, struct hd_err *err)
{
    int lang = c->lang;
    int64_t now = hd_clock_now(c->s->clock), day0 = now - now % 86400;
    struct walk w = {st, lang, json_array()};
    struct day d = {json_object()};
    json_t *queue = json_array(), *paused = json_array(), *errors = json_array();
    json_array_append_new(
        queue, json_pack("{s:s,s:I,s:I}", "state", "", "n", (json_int_t)0, "depth", (json_int_t)0));
    struct hd_log_filter f = {.outcome = "permanent", .limit = LAST_ERRORS_SHOWN};
    char today[32];
    hd_time_format_date(day0, today, sizeof today);
    int rc = hd_store_campaign_each(st, campaign_row, &w, err);
    if (rc == 0)
        rc = hd_store_log_counts_since(st, day0 * 1000, day_row, &d, err);
    if (rc == 0)
        rc = hd_store_queue_counts(st, queue_row, queue, err);
    if (rc == 0)
        rc = hd_store_provider_pauses(st, hd_clock_now_ms(c->s->clock), pause_row, paused, err);
    if (rc == 0)
        rc = hd_store_log_query(st, &f, error_row, errors, err);
    struct hd_log_filter g = {
        .outcome = "skipped", .reason = "render_failed", .limit = LAST_ERRORS_SHOWN};
    if (rc == 0 && (rc = hd_store_log_query(st, &g, error_row, errors, err)) == 0)
        newest_first(errors, LAST_ERRORS_SHOWN);
    json_t *out = NULL;
    if (rc == 0) {
        json_t *depth = json_incref(json_object_get(json_array_get(queue, 0), "depth"));
        json_array_remove(queue, 0);
        json_t *days = day_list(d.rows, lang);
        out = json_pack("{s:o,s:b,s:s,s:o,s:b,s:o,s:o,s:b,s:o,s:b,s:o,s:b}", "campaigns", w.list,
                        "no_campaigns", json_array_size(w.list) == 0, "today", today, "channels",
                        days, "no_sends", json_array_size(days) == 0, "queue_depth", depth, "queue",
                        queue, "no_queue", json_array_size(queue) == 0, "paused", paused,
                        "no_paused", json_array_size(paused) == 0, "errors", errors, "no_errors",
                        json_array_size(errors) == 0);
        w.list = queue = paused = errors = NULL;
    }
    json_decref(w.list);
    json_decref(d.rows);
    json_decref(queue);
    json_decref(paused);
    json_decref(errors);
    return out;
}

void hd_con_overview(struct hd_con *c)
{
    json_t *data = hd_con_load(c, overview);
    if (data)
        hd_con_page(c, 200, PAGE_CONSOLE_OVERVIEW, data);
}
