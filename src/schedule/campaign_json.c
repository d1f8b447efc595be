/* campaign_json: a campaign as herald campaign list|show --format json and
 * GET /api/v1/campaigns show it (issue 20: one function feeds both), and
 * its channels and schedule in words. */
#include <jansson.h>
#include <stdio.h>

#include "herald/schedule.h"
#include "herald/store.h"

static const char *iso(int64_t t, char *buf, unsigned size)
{
    hd_time_format_iso(t, buf, size);
    return buf;
}

void hd_campaign_channels_text(const struct hd_campaign *c, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->nchannels && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? "," : "",
                                hd_channel_name(c->channels[i]));
}

void hd_campaign_schedule_text(const struct hd_campaign *c, char *buf, size_t size)
{
    char t[32];
    switch (c->sched) {
    case HD_SCHED_AT:
        snprintf(buf, size, "at %s", iso(c->at, t, sizeof t));
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

json_t *hd_campaign_json(const struct hd_campaign *c)
{
    char ch[64], sched[128], t[32];
    hd_campaign_channels_text(c, ch, sizeof ch);
    hd_campaign_schedule_text(c, sched, sizeof sched);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:I, s:I, s:b}", "name", c->name, "status",
        hd_camp_status_name(c->status), "segment", c->segment, "template", c->tpl, "channels", ch,
        "category", hd_category_name(c->category), "schedule", sched, "holdout_pct",
        c->holdout_bp / 100.0, "expires_s", (json_int_t)c->expires, "resend_after_s",
        (json_int_t)c->resend_after, "fallback_on_failure", c->fallback);
    json_object_set_new(o, "variants", c->variants ? json_string(c->variants) : json_null());
    json_object_set_new(o, "rate", c->rate ? json_string(c->rate) : json_null());
    json_object_set_new(
        o, "next_run", c->next_run >= 0 ? json_string(iso(c->next_run, t, sizeof t)) : json_null());
    json_object_set_new(o, "created_at", json_string(iso(c->created_at, t, sizeof t)));
    return o;
}
