/* schedule: when things happen in a recipient's or a campaign's time zone:
 * 5-field cron expressions and their next firing, the next occurrence of a
 * local time of day, and quiet hours. All arithmetic is on wall-clock time
 * in the zone (struct hd_zone, ICU's rules), so daylight-saving changes
 * move the UTC instant, not the local time. */
#ifndef HERALD_SCHEDULE_H
#define HERALD_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herald/err.h"
#include "herald/time.h"
#include "herald/units.h"

/* A parsed cron expression: minute hour day-of-month month day-of-week,
 * each "*", "N", "N-M", "*" or "N-M" with "/STEP", or a comma list of those;
 * months and weekdays also by English three-letter names; weekday 0 and 7
 * are Sunday. "*" + "/2" is days 1, 3, 5... of the month, or weekdays 0, 2,
 * 4, 6. As in Vixie cron and cronie, when both day fields are restricted
 * (neither begins with '*') a day matching either one fires; otherwise a day
 * must match both. */
struct hd_cron {
    uint64_t minute;           /* bit n: minute n */
    uint32_t hour;             /* bit n: hour n */
    uint32_t mday;             /* bit n: day n (1..31) */
    uint16_t month;            /* bit n: month n (1..12) */
    uint8_t wday;              /* bit n: weekday n (0 = Sunday) */
    bool mday_star, wday_star; /* that day field begins with '*' */
    bool wild;                 /* the minute or hour field begins with '*' */
};

/* HD_E_PARSE with a message quoting the field at fault. */
int hd_cron_parse(const char *expr, struct hd_cron *out, struct hd_err *err);
/* The first firing strictly after t, in zone z, by cronie's rules for
 * daylight-saving changes: a wild job fires at each matching wall-clock
 * minute as it passes (in both passes of a repeated hour, never in a
 * skipped one); any other job fires once in a repeated hour (its first
 * pass), and a firing inside a skipped hour happens at the end of the gap.
 * Returns HD_E_NOTFOUND when the expression never fires (30 February)
 * within eight years. */
int hd_cron_next(const struct hd_cron *c, struct hd_zone *z, int64_t t, int64_t *next);

/* The first instant at or after t when the wall clock in z shows
 * hour:minute (today's if still ahead, which after the clocks go back can
 * be its second showing, else tomorrow's; a time the clocks skip is shown
 * when they jump). */
int64_t hd_local_time_next(struct hd_zone *z, int64_t t, int hour, int minute);

/* If t falls inside the daily window w in zone z (a window that spans
 * midnight, 21:00-08:00, included), the instant the window ends (the next
 * time the wall clock shows its end, the second showing when the clocks
 * have gone back over it); else t. */
int64_t hd_quiet_until(struct hd_zone *z, const struct hd_window *w, int64_t t);

/* Open zones by name, for code that meets the same few zones again and
 * again (a campaign's recipients). hd_zones_get returns the zone of that
 * name, or the fallback zone (named at hd_zones_new) when name is NULL,
 * empty or unknown. Owned by the cache. */
struct hd_zones;
struct hd_zones *hd_zones_new(const char *fallback);
struct hd_zone *hd_zones_get(struct hd_zones *zs, const char *name);
void hd_zones_free(struct hd_zones *zs);

/* ---- campaigns ---------------------------------------------------------------------- */

struct hd_store;
struct hd_campaign;
struct hd_config;
struct hd_log;

/* A/B variants as written: "a=50,b=50" (names of 1-15 letters, digits,
 * '-' or '_'; whole-number weights adding up to 100). Fills names (pointing
 * into buf, which must hold a copy of text) and cuts for materialization. */
struct hd_variant_cut;
int hd_variants_parse(const char *text, char *buf, struct hd_variant_cut *cuts, size_t max,
                      size_t *n, struct hd_err *err);

/* The first firing of a new campaign at or after now (-1 when it has
 * none), from its schedule. */
int hd_campaign_first_run(const struct hd_campaign *c, const struct hd_config *cfg, int64_t now,
                          int64_t *next, struct hd_err *err);

/* What firing a campaign did. */
struct hd_fire {
    int64_t run;          /* the run it made or resumed (its id) */
    int64_t seq;          /* and its number in the campaign (what is shown) */
    int64_t queued, held; /* messages in the run, and how many held out */
};
typedef void (*hd_fire_progress_fn)(void *ud, const char *campaign, int64_t queued);
/* Fires the campaign now: opens the run for fire_at (the scheduled
 * firing, or now), materializes it, marks the campaign running and sets
 * its next firing (every: the cron's next after now; others: none). */
int hd_campaign_fire(struct hd_store *st, const struct hd_config *cfg, struct hd_campaign *c,
                     int64_t fire_at, int64_t now_ms, hd_fire_progress_fn progress, void *ud,
                     struct hd_fire *out, struct hd_err *err);
/* Fires every scheduled campaign whose next firing is due, and finishes
 * the materialization of runs a crash interrupted. *fired counts runs;
 * *next (may be NULL) gets the earliest firing still ahead (seconds), or
 * -1: an idle node need not look again before it. */
int hd_campaign_tick(struct hd_store *st, const struct hd_config *cfg, int64_t now_ms,
                     struct hd_log *log, hd_fire_progress_fn progress, void *ud, int *fired,
                     int64_t *next, struct hd_err *err);

/* An operator's change to a campaign (control.c). */
enum hd_camp_op { HD_CAMP_OP_PAUSE, HD_CAMP_OP_RESUME, HD_CAMP_OP_CANCEL };
/* Pauses, resumes or cancels the campaign called name, in one transaction;
 * HD_E_INVALID (nothing changed) when its status does not allow it. *c is
 * the campaign as it was read (release it, also after an error);
 * *cancelled, the unsent messages a cancel ended. */
int hd_campaign_control(struct hd_store *st, const char *name, int op, int64_t now_ms,
                        struct hd_campaign *c, int64_t *cancelled, struct hd_err *err);

/* Starts the campaign now, for `herald send`: HD_E_INVALID when it is
 * paused or cancelled; *started says what it did: nothing for a done
 * campaign with no unfinished run, nothing for an open run (it only needs
 * dispatching), else it fired (*out), or went on with a run a crash left
 * materializing. */
enum hd_start { HD_START_DONE, HD_START_OPEN, HD_START_FIRED };
int hd_campaign_start(struct hd_store *st, const struct hd_config *cfg, struct hd_campaign *c,
                      int64_t now_ms, hd_fire_progress_fn progress, void *ud, int *started,
                      struct hd_fire *out, struct hd_err *err);

/* Stores a new campaign c (its options set, name included), created at
 * now: the segment must exist, the template must have a part for each of
 * its channels and variants (its category is the template's unless
 * category_given), and its schedule gives next_run. Nothing is stored when
 * a check fails; HD_E_USAGE for a template that does not fit. */
int hd_campaign_create(struct hd_store *st, const struct hd_config *cfg, struct hd_campaign *c,
                       bool category_given, int64_t now, struct hd_err *err);

/* Checks c as hd_campaign_create does, and fills in what it would (the
 * category, the zone, next_run), without writing anything: for an
 * estimate before the campaign is made. */
int hd_campaign_prepare(struct hd_store *st, const struct hd_config *cfg, struct hd_campaign *c,
                        bool category_given, int64_t now, struct hd_err *err);

/* A new campaign as herald campaign create's options and the console's
 * form give it (draft.c). Options go in by their long names without the
 * dashes ("segment", "at", "now" and "fallback-on-failure" with value
 * NULL), each checked as it comes; hd_campaign_draft_check checks them
 * together with the name (not "new": the console's form has that path)
 * and turns --at with --tz (a wall-clock time in that zone) into its
 * instant. Errors are HD_E_USAGE with the command line's messages. c is
 * the caller's (hd_campaign_release); the draft holds only texts of its
 * own (hd_campaign_draft_release). */
struct hd_campaign_draft {
    struct hd_campaign *c; /* what the options set */
    char *on, *at;         /* --on's date and --at's text, read with the rest */
    int nsched;            /* schedules given: one is right */
    bool channels_given, category_given;
};
void hd_campaign_draft_init(struct hd_campaign_draft *d, struct hd_campaign *c);
int hd_campaign_draft_set(struct hd_campaign_draft *d, const char *opt, const char *value,
                          struct hd_err *err);
int hd_campaign_draft_check(struct hd_campaign_draft *d, const char *name, struct hd_err *err);
void hd_campaign_draft_release(struct hd_campaign_draft *d);

/* The next firings of c's schedule at or after now, up to max into out
 * (*n of them): a cron's in its zone, else the one firing. */
int hd_campaign_firings(const struct hd_campaign *c, const struct hd_config *cfg, int64_t now,
                        int64_t *out, size_t max, size_t *n, struct hd_err *err);

/* Re-queues failed messages of the campaign called name (herald campaign
 * retry), in one transaction: of its run number (0: the latest), those
 * sel chooses (sel->run is filled in). HD_E_INVALID for a cancelled
 * campaign or a run still being made, HD_E_NOTFOUND for no such run or
 * nothing to retry; nothing is written then. A campaign that was done or
 * scheduled is running again (c->status says so); *c is the campaign
 * (release it, also after an error). */
struct hd_retry;
int hd_campaign_retry(struct hd_store *st, const char *name, int64_t number, struct hd_retry *sel,
                      struct hd_campaign *c, int64_t *failed, int64_t *render_failed,
                      struct hd_err *err);

/* Guards against firing at a time the operator did not mean (guard.c).
 * check_at: HD_E_USAGE for a one-off --at time before now. check_send:
 * HD_E_INVALID, naming the time, when `herald send` would fire a campaign
 * whose next firing is more than a minute after now, unless now_given
 * (--now); a campaign with a run open (running, paused) passes. */
int hd_campaign_check_at(const struct hd_campaign *c, int64_t now, struct hd_err *err);
int hd_campaign_check_send(const struct hd_campaign *c, int64_t now, bool now_given,
                           struct hd_err *err);

/* A campaign in words (campaign_json.c): its channels ("email,sms"), its
 * schedule ("every \"0 9 * * 1\" Asia/Shanghai"), and as the JSON object
 * herald campaign list --format json and GET /api/v1/campaigns show
 * (caller decrefs). */
struct hd_campaign;
typedef struct json_t json_t;
void hd_campaign_channels_text(const struct hd_campaign *c, char *buf, size_t size);
void hd_campaign_schedule_text(const struct hd_campaign *c, char *buf, size_t size);
json_t *hd_campaign_json(const struct hd_campaign *c);

#endif
