/* dispatch: from a claimed message to a driver, and from a driver's result
 * to the message's next state. Four parts:
 *
 *  - rendering: a template's parts for one channel and contact, strictly
 *    (a missing variable fails the message), as a driver message;
 *  - the checks, in the order the design gives: expiry, consent and
 *    suppression, channel choice, frequency caps, quiet hours; a pure
 *    function of the claimed row, the campaign and the configuration;
 *  - the dispatcher: claims due messages in batches with a lease, decides,
 *    renders, throttles each provider with a token bucket and at most
 *    `connections` messages in flight, hands messages to the drivers, and
 *    records every result and decision through one batching writer.
 *    A throttled result pauses its provider; temporary failures retry with
 *    backoff; SIGTERM stops claiming and drains; at start, messages a dead
 *    dispatcher left in flight are queued again;
 *  - gateway feedback: what an answer says of its address (bad address,
 *    opt-out at the gateway) goes into the suppression list and consent. */
#ifndef HERALD_DISPATCH_H
#define HERALD_DISPATCH_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "herald/driver.h"
#include "herald/log.h"
#include "herald/progress.h"
#include "herald/schedule.h"
#include "herald/service.h"
#include "herald/state.h"
#include "herald/store.h"
#include "herald/time.h"
#include "herald/tpl.h"

/* ---- rendering ------------------------------------------------------------------- */

/* A message's rendered parts; strings owned. */
struct hd_rendered {
    char *part[HD_PART_COUNT]; /* NULL where the template has none */
    char *from, *reply_to;     /* email: the template's headers for the locale */
    int category;              /* the template's */
    int64_t inbox_ttl;         /* inbox: inbox.expires in seconds, 0 when none */
};
void hd_rendered_release(struct hd_rendered *r);
/* Renders the parts the channel needs (email: subject, text, html, with a
 * text made from the html when there is none; sms, and an approved
 * template's sms.template_code, sms.params and sms.approved_text; push:
 * title, body, data; inbox: title, body as HTML from its Markdown, url
 * (http or https), expires (a duration, in inbox_ttl)). HD_E_INVALID when the template has nothing
 * for the channel; errors of strict rendering name the template, line and variable. */
int hd_render(const struct hd_tpl *t, int channel, const struct hd_tpl_req *req,
              struct hd_rendered *out, struct hd_err *err);
/* Points m's text fields at r's parts (r must outlive m). An SMS's body
 * is its sms part, else sms.approved_text. */
void hd_rendered_msg(const struct hd_rendered *r, int channel, struct hd_msg *m);
/* The text an SMS stands for with a provider of this type (NULL: a
 * free-text one): an approved-template gateway's is sms.approved_text
 * (else the sms part), a free-text gateway's the sms part (else the
 * approved text); what segments and cost are counted from. NULL when the
 * template has neither. */
const char *hd_rendered_sms_text(const struct hd_rendered *r, const char *type);
/* Whether each named parameter of the SMS (sms.params) fits the most
 * characters the provider takes in one (Aliyun: 35); HD_E_INVALID naming
 * the parameter when one does not. Free for a provider without a limit. */
int hd_rendered_sms_fits(const struct hd_rendered *r, const struct hd_provider_cfg *p,
                         struct hd_err *err);

/* One part as hd_render_each gives it; everything is borrowed for the
 * callback only. */
struct hd_render_part {
    int part;                 /* enum hd_tpl_part */
    const char *text;         /* a text part as rendered; NULL for a JSON part or an error */
    size_t len;               /* text's length */
    json_t *json;             /* a JSON part (push.*, sms.params) as rendered */
    bool derived;             /* email.text made from email.html, as hd_render makes it */
    const struct hd_err *err; /* non-NULL: the part did not render (strictly) */
};
typedef void (*hd_render_part_cb)(void *ud, const struct hd_render_part *p);
/* Renders every part of the template the channel uses (every channel's
 * when channel < 0), in part order, each on its own: one part's error does
 * not stop the others (what `template preview` shows). An email.text the
 * template lacks is derived from email.html, as in hd_render. */
void hd_render_each(const struct hd_tpl *t, int channel, const struct hd_tpl_req *req,
                    hd_render_part_cb cb, void *ud);

/* ---- preview (preview.c): what `template preview` and the console show ---- */

/* Called for each part shown: its name ("email.subject"), its text, and a
 * note in words ("(UCS-2, 12 characters, 1 segment)") or NULL. */
typedef void (*hd_preview_show_fn)(void *ud, const char *name, const char *text, const char *extra);
/* A preview's findings; owned, freed by hd_preview_release. */
struct hd_preview {
    json_t *parts;           /* part name -> text as rendered */
    json_t *warnings;        /* strings */
    json_t *errors;          /* strings: a part that did not render (strict), a bad subject */
    json_t *where;           /* for each error: {"line", "column"}, 0 when unknown */
    json_t *sms;             /* {"encoding", "characters", "units", "segments"}, or NULL */
    json_t *push;            /* {"fcm_bytes", "apns_bytes", "limit"}, or NULL */
    hd_preview_show_fn show; /* may be NULL */
    void *ud;
};
void hd_preview_init(struct hd_preview *pv, hd_preview_show_fn show, void *ud);
void hd_preview_release(struct hd_preview *pv);
/* Renders every part the channel uses (every channel's when < 0) into pv. */
void hd_preview_run(struct hd_preview *pv, const struct hd_tpl *t, int channel,
                    const struct hd_tpl_req *req);
/* The data a preview renders for contact k, with unsubscribe and
 * preference links signed under a key no service holds (json_decref). */
json_t *hd_preview_data(const struct hd_config *cfg, int64_t now, const struct hd_contact *k);
/* Sets what lint holds set's templates against: the SMS channel's
 * providers (the fewest characters, what each needs) and [lint]
 * sms_optout_zh. */
void hd_preview_lint_setup(const struct hd_config *cfg, struct hd_tpl_set *set);
/* What segments SMS segments cost at the SMS channel's first provider. */
double hd_preview_sms_cost(const struct hd_config *cfg, int64_t segments);

/* ---- the checks -------------------------------------------------------------------- */

struct hd_zones;

/* What the checks decided for one message. */
struct hd_decision {
    int state;           /* HD_ST_SENDING to go on; else where it stops or waits */
    int channel;         /* chosen channel, or -1 */
    int ch_index;        /* its position in the campaign's list */
    int provider;        /* index in cfg->providers, or -1 */
    int platform;        /* push: enum hd_push_platform */
    bool push_alt;       /* push: another provider could take another of its tokens */
    bool can_fall_back;  /* a later channel of the campaign could take it now */
    const char *address; /* borrowed from the claimed contact */
    int64_t not_before;  /* deferred: when it is due again */
    /* to go on: the time it must reach a gateway by, or 0 (none): a quiet
     * window that starts later, or its expiry. Held by the provider's rate
     * past it, the message goes back to be decided again (submit.c) */
    int64_t send_by;
    const char *word;    /* the log's reason for a decision: "capped", "quiet_hours", ... */
    char reason[320];    /* the same in words an operator can act on */
    /* the record `herald why` reads, as JSON: {"skipped": [[channel, why],
     * ...], "earlier": [message ids that filled the cap], "until": time} */
    char detail[512];
};

/* The longest look-back the caps and the campaign's resend-after need. */
int64_t hd_dispatch_horizon(const struct hd_config *cfg, const struct hd_campaign *c);

/* 0 when the campaign can carry its links; HD_E_CONFIG, saying how to fix
 * it, for marketing email without [serve] public_url or its secret
 * (links.c). */
int hd_dispatch_links_ready(const struct hd_config *cfg, const struct hd_campaign *c,
                            struct hd_err *err);
/* Runs checks 1-4 on a claimed message at time now. */
void hd_dispatch_decide(const struct hd_config *cfg, const struct hd_campaign *camp,
                        const struct hd_claimed *m, struct hd_zones *zones, int64_t now,
                        struct hd_decision *d);

/* ---- the estimate (estimate.c) ------------------------------------------------------- */

/* What a campaign would do if it fired now: the dispatcher's holdout,
 * checks, variant and rendering run on every contact of its segment,
 * nothing written. */
struct hd_estimate {
    int64_t total, held;               /* the segment's contacts; held out of them */
    int64_t by_channel[HD_CH_COUNT];   /* would go (now or after quiet hours) on each */
    int64_t by_state[HD_ST_COUNT + 1]; /* would stop (capped, ...) or wait (deferred) */
    int64_t sms_segments, sms_failed;  /* SMS segments; SMS that would fail to render */
    double sms_cost;                   /* segments times each provider's cost_per_segment */
};
int hd_estimate(struct hd_store *st, const struct hd_config *cfg, const struct hd_campaign *c,
                int64_t now, struct hd_estimate *out, struct hd_err *err);

/* ---- a test message through one provider (probe.c) ------------------------------------ */

/* Where the test goes: the provider, the channel, the address. */
struct hd_probe {
    const struct hd_provider_cfg *provider; /* borrowed from the configuration */
    int channel;                            /* enum hd_channel */
    char address[4200];                     /* normalised (E.164 for a phone) */
};
/* Finds the provider and the channel (channel < 0: the only one the
 * provider's type carries, else the address's form) and checks the
 * address; HD_E_NOTFOUND for no such provider, HD_E_USAGE for a channel it
 * does not carry or a bad address. */
int hd_probe_init(const struct hd_config *cfg, const char *provider, const char *to, int channel,
                  struct hd_probe *p, struct hd_err *err);
/* What the test says. */
struct hd_probe_text {
    const char *tpl;                  /* a template to render, or NULL: a built-in text */
    const char *variant;              /* its A/B variant, or NULL */
    const struct hd_contact *contact; /* render for it (strictly), or NULL (leniently) */
    int64_t now;                      /* seconds */
};
struct hd_probe_result {
    struct hd_result r; /* what the gateway said */
    char id[40];        /* the message's id */
};
/* Renders the message, hands it to the provider's driver and waits (up to
 * the provider's timeout and 30 s) for the gateway's answer. */
int hd_probe_send(const struct hd_config *cfg, struct hd_log *log, const struct hd_probe *p,
                  const struct hd_probe_text *t, struct hd_probe_result *out, struct hd_err *err);

/* ---- the dispatcher ------------------------------------------------------------------ */

struct hd_dispatch_stats {
    int64_t by_state[HD_ST_COUNT]; /* final states reached in this process */
    int64_t attempts, retries, throttled, deferred;
    int64_t lease_lost;         /* PostgreSQL: results that came after another node took over */
    int64_t in_flight, waiting; /* now: submitted, and claimed but not yet submitted */
    /* send with a progress callback: the messages of the runs being
     * dispatched, and how many of them were finished before this process
     * started (0 without a callback: counting them reads every message) */
    int64_t total, finished_before;
};

struct hd_dispatch;

struct hd_dispatch_opts {
    int64_t campaign;            /* only this campaign's runs (send); 0: all */
    bool once;                   /* stop when nothing more is due now (run --once, send) */
    bool schedule;               /* fire due campaigns (run) */
    int64_t linger;              /* once: also wait for messages due within this many s */
    int64_t grace_ms;            /* on stop: how long to wait for in-flight results */
    int claim_batch;             /* messages per claim; 0: 512 */
    volatile sig_atomic_t *stop; /* set by a signal handler */
    void (*progress)(void *ud, const struct hd_dispatch_stats *s);
    void *progress_ud;
    hd_fire_progress_fn fire_progress;
    struct hd_service *service; /* under a manager: readiness, status, watchdog; or NULL */
    /* set by SIGHUP: the loop calls on_reload(reload_ud, d) between turns,
     * which may call hd_dispatch_reconfigure */
    volatile sig_atomic_t *reload;
    void (*on_reload)(void *ud, struct hd_dispatch *d);
    void *reload_ud;
};

int hd_dispatch_new(const struct hd_config *cfg, struct hd_store *st, struct hd_log *log,
                    const struct hd_clock *clock, const struct hd_dispatch_opts *opts,
                    struct hd_dispatch **out, struct hd_err *err);
/* Runs until done (once) or stopped. */
int hd_dispatch_run(struct hd_dispatch *d, struct hd_err *err);
void hd_dispatch_get_stats(struct hd_dispatch *d, struct hd_dispatch_stats *out);
void hd_dispatch_free(struct hd_dispatch *d);
/* A running dispatcher takes a new configuration (reload.c): caps, quiet
 * hours, channels, template variables, the time zone, locale and region,
 * and each provider's rate, burst, retries and cost take effect at once.
 * What the drivers, the store or the templates were opened with (the
 * providers' other keys, connections, timeout, secrets, the set of
 * providers, the database, busy_timeout, the templates folder) needs a restart: a
 * difference there is HD_E_CONFIG, naming it, and nothing changes. cfg must
 * outlive the dispatcher, and so must the configuration it replaces (the
 * drivers keep pointers into it). */
int hd_dispatch_reconfigure(struct hd_dispatch *d, const struct hd_config *cfg, struct hd_err *err);

/* The stable UUID of a message: from the database's instance id and the
 * message's row id (a version 8 UUID), the same in every attempt. */
void hd_dispatch_uuid(const char *instance, int64_t message, char out[37]);

/* ---- gateway feedback ------------------------------------------------------------------ */

/* Applies what a gateway said about one message's address: a bad address
 * is suppressed on its channel (reason hard_bounce, invalid_number or
 * unregistered_token, with the gateway's words and the message, 0 when
 * none); an email refused at RCPT only when the bounce rules (NULL: every
 * 5xx) call it hard; an opt-out at the gateway (SMS STOP) withdraws the
 * contact's consent for that channel in both categories (source
 * "gateway"; skipped without a contact). Returns how many changes it made
 * (0 when the result says neither), or a negative code with err set. */
/* Whether hd_feedback_apply suppresses a bad address in the very form it
 * was sent in (so that a claim that compares it sees it suppressed). */
bool hd_feedback_same_form(const char *address, int channel);
/* The address as the suppression list stores it: its normal form into
 * norm (size bytes), or the address as given when it has none. */
const char *hd_feedback_form(const char *address, int channel, char *norm, size_t size);
int hd_feedback_apply(struct hd_store *st, const struct hd_bounce_rules *rules, const char *contact,
                      int64_t message, int channel, const char *address, const struct hd_result *r,
                      int64_t now, struct hd_err *err);

/* ---- receipts (receipt.c) -------------------------------------------------------------- */

/* What applying receipts needs: borrowed, the caller keeps them. */
struct hd_receipt_ctx {
    struct hd_store *st;
    const struct hd_config *cfg; /* the providers (a report's meaning is by provider type) */
    int soft_bounce_limit;       /* soft bounces within the window that suppress; 0: 3 */
    int64_t soft_bounce_window;  /* seconds; 0: 30 days */
};

enum hd_receipt_result {
    HD_RCPT_APPLIED,   /* new, and applied to its message */
    HD_RCPT_PENDING,   /* kept: its message is not known yet */
    HD_RCPT_DUPLICATE, /* the same report was received before: nothing changed */
};

/* The gateway id of a report from the bounce mailbox is this prefix and
 * the message's number ("mailbox:42"): a DSN does not carry the SMTP
 * server's reply that is the accepted row's gateway id, the VERP address
 * names the message, and the same bounce read twice is one report. */
#define HD_RECEIPT_MAILBOX "mailbox:"

/* Keeps a gateway's report and applies it to its message in one
 * transaction: the message's state moves (hd_state_move: an illegal move
 * is logged as ignored, the state kept), a log row with outcome receipt is
 * written, and an address at fault is suppressed (hard bounce, bad
 * number, complaint; soft bounces once they reach the limit). A report
 * whose message is not known stays pending (hd_receipts_retry). On return
 * the report is durable. *result is an hd_receipt_result. */
int hd_receipt_take(const struct hd_receipt_ctx *c, const struct hd_receipt *r, int64_t now_ms,
                    int *result, struct hd_err *err);
/* The same inside the caller's transaction (herald serve commits many
 * reports at once): durable once the caller commits. */
int hd_receipt_keep(const struct hd_receipt_ctx *c, const struct hd_receipt *r, int64_t now_ms,
                    int *result, struct hd_err *err);
/* A report's message as hd_receipt_look found it: the number the report
 * names (or its gateway id gave), and when found, its accepted row in the
 * delivery log and its state. */
struct hd_receipt_found {
    int64_t of; /* the message named; 0: none (the report stays pending) */
    bool found;
    int64_t message, campaign, run, contact;
    int attempt, channel, state;
    char variant[64], address[320];
};
/* hd_receipt_keep in two steps, for a batch of reports: every one looked
 * up first (reads only), then every one kept, so that the batch's log rows
 * wait for its COMMIT together (store/log_lite.c) instead of going one by
 * one before the next lookup. A report must be looked up again when an
 * earlier one of the batch was about the same message (the state read
 * before it moved would be stale: the move, a compare-and-set, would fail). */
int hd_receipt_look(const struct hd_receipt_ctx *c, const struct hd_receipt *r,
                    struct hd_receipt_found *t, struct hd_err *err);
int hd_receipt_keep_found(const struct hd_receipt_ctx *c, const struct hd_receipt *r,
                          const struct hd_receipt_found *t, int64_t now_ms, int *result,
                          struct hd_err *err);
/* Whether the provider's reports may name the gateway's own id alone (an
 * http provider with receipt keys, a mail sender with esp): its accepted
 * messages' ids are then kept (hd_store_gateway_id_add) and a report
 * without herald's number is matched through them. */
bool hd_receipt_keeps_ids(const struct hd_provider_cfg *p);
/* Applies the pending reports whose message is known now; *applied says
 * how many. */
int hd_receipts_retry(const struct hd_receipt_ctx *c, int64_t now_ms, int64_t *applied,
                      struct hd_err *err);
/* A reply to an SMS: a STOP word opts the number's contacts out of SMS
 * marketing, a START word back in (source "reply"). *what: 1 opted out,
 * 2 opted in, 0 neither (not such a word); *n the contacts changed. */
int hd_receipt_reply(const struct hd_receipt_ctx *c, const char *from, const char *body,
                     int64_t now_ms, int *what, int64_t *n, struct hd_err *err);

/* ---- the bounce mailbox (mailbox.c, mailbox_imap.c) ----------------------------------- */

/* One read of the bounce mailbox: a Maildir (new/ and cur/) or an IMAP
 * folder; each bounce, delay or complaint applied with hd_receipt_take and
 * then marked so that it is not read again (see mailbox.c). */
struct hd_mailbox {
    const struct hd_receipt_ctx *c;
    const char *maildir;                       /* a Maildir, or NULL */
    const char *imap_url;                      /* imaps://host/FOLDER when no maildir */
    const char *username, *password, *ca_file; /* IMAP's; borrowed */
    bool dry_run; /* print each mail's reading; apply and mark nothing */
    struct hd_log *log;
    struct hd_progress *progress; /* or NULL */
    int64_t now_ms;
    struct {
        int64_t read, applied, pending, duplicate, unparseable;
    } sum; /* what the read did */
};
/* Reads the mailbox; on error the mails done so far stay done. */
int hd_mailbox_fetch(struct hd_mailbox *mb, struct hd_err *err);
/* One mail read and applied; *done: it may be marked (mailbox.c). */
int hd_mailbox_one(struct hd_mailbox *mb, const char *text, size_t len, const char *name,
                   bool *done, struct hd_err *err);
/* The IMAP read (mailbox_imap.c). */
int hd_mailbox_imap(struct hd_mailbox *mb, struct hd_err *err);

/* ---- outbound webhooks (webhook.c, issue 20) --------------------------------------- */

/* What a delivery pass works with; borrowed. */
struct hd_webhook_run {
    struct hd_store *st;
    const struct hd_config *cfg;
    struct hd_log *log;
    const struct hd_clock *clock;
    bool from_start;             /* a new cursor starts at the first row, not at now */
    volatile sig_atomic_t *stop; /* or NULL: set, a pass ends after the request in flight */
};
/* What a pass did. */
struct hd_webhook_sum {
    int64_t events, expired, batches, failures, busy; /* busy: held by another process */
    bool more; /* a webhook stopped at the pass's batch limit with work left */
};
/* Makes the cursor of every [webhook NAME] seen for the first time, as a
 * pass would, and posts nothing: a process that then writes events (herald
 * run, before it dispatches or serves) has them all delivered, where a
 * first pass made after them would start past them. */
int hd_webhook_begin(const struct hd_webhook_run *w, struct hd_err *err);
/* One pass over every [webhook NAME]: each one whose next try is due
 * posts its batches (up to 50) until caught up or a try fails (then its
 * next try is set by the backoff, from retry_base doubling to retry_max,
 * with jitter). A failed try is no error; a store error is. */
int hd_webhook_pass(const struct hd_webhook_run *w, struct hd_webhook_sum *sum, struct hd_err *err);
/* herald webhook test: one signed event of type "test" posted to wc; the
 * answer's status and body (*status 0 and an error when none came). */
int hd_webhook_test(const struct hd_webhook_run *w, const struct hd_webhook_cfg *wc, long *status,
                    struct hd_buf *resp, struct hd_err *err);

#endif
