/* guard: the checks that keep an operator from firing a campaign at a time
 * they did not mean. A one-off --at time already past, or a --local-time
 * --on date whose time has passed in every zone, is refused at creation
 * (it would fire at once without a word; --now says that on purpose), and `herald send` of a campaign whose next firing is more than
 * a minute ahead asks for --now, so a campaign planned for next year is
 * not sent today by a command meant for another one. Pure functions of the
 * campaign and the clock. */
#include "herald/schedule.h"
#include "herald/store.h"

/* A firing this close ahead is "now" for send: clocks and typing differ. */
enum { SEND_SLACK_SECS = 60 };

int hd_campaign_check_at(const struct hd_campaign *c, int64_t now, struct hd_err *err)
{
    char t[32];
    /* --local-time --on DATE: past once the last zone (UTC-12) is past the
     * time that day (it fired at once, at whatever hour it was: a review
     * found a day-old date sent at 20:00 in Shanghai) */
    if (c->sched == HD_SCHED_LOCAL && c->at >= 0 &&
        c->at + (int64_t)c->local_minute * 60 + 12 * 3600 < now) {
        hd_time_format_iso(c->at, t, sizeof t);
        return hd_err_set(err, HD_E_USAGE,
                          "--on %.10s --local-time %02d:%02d has passed in every zone; give a "
                          "later date, or leave out --on for the next %02d:%02d in each zone",
                          t, c->local_minute / 60, c->local_minute % 60, c->local_minute / 60,
                          c->local_minute % 60);
    }
    if (c->sched != HD_SCHED_AT || c->at >= now)
        return 0;
    hd_time_format_iso(c->at, t, sizeof t);
    return hd_err_set(err, HD_E_USAGE,
                      "--at %s is in the past; use --now to fire at once, or give a future time",
                      t);
}

int hd_campaign_check_send(const struct hd_campaign *c, int64_t now, bool now_given,
                           struct hd_err *err)
{
    char t[32];
    if (now_given || c->status != HD_CAMP_SCHEDULED || c->next_run <= now + SEND_SLACK_SECS)
        return 0;
    hd_time_format_iso(c->next_run, t, sizeof t);
    return hd_err_set(err, HD_E_INVALID,
                      "campaign '%s' is scheduled for %s; add --now to send it now", c->name, t);
}
