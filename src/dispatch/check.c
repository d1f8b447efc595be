/* check: the decisions a message meets before it is rendered, in the
 * design's order: expiry, consent and suppression, channel choice,
 * frequency caps (and the campaign's resend-after), quiet hours. A pure
 * function of what the claim read, so the estimate can reuse it and tests
 * can table it. Each decision that stops or delays a message says why, in
 * words an operator can act on. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "herald/dispatch.h"
#include "herald/policy.h"

int64_t hd_dispatch_horizon(const struct hd_config *cfg, const struct hd_campaign *c)
{
    int64_t h = c ? c->resend_after : 0;
    for (size_t i = 0; i < cfg->ncaps; i++)
        if (cfg->caps[i].cap.window > h)
            h = cfg->caps[i].cap.window;
    return h;
}

/* A contact's push token for a platform, or NULL. */
static const char *push_token(const struct hd_contact *k, int platform)
{
    switch (platform) {
    case HD_PUSH_FCM:
        return k->fcm_token;
    case HD_PUSH_APNS:
        return k->apns_token;
    case HD_PUSH_JPUSH:
        return k->jpush_id;
    case HD_PUSH_HMS:
        return k->hms_token;
    default:
        return k->wechat_openid;
    }
}

_Static_assert(HD_SUP_FCM + HD_PUSH_WECHAT == HD_SUP_WECHAT && HD_SUP_COUNT == 2 + HD_PUSH_COUNT,
               "the claim's suppressions follow the push platforms");

/* The push channel's platforms: those before WeChat, whose openid is the
 * wechat channel's address (a channel of its own, with its own consent). */
#define PUSH_PLATFORMS HD_PUSH_WECHAT
_Static_assert(HD_PUSH_WECHAT == HD_PUSH_COUNT - 1, "WeChat's openid comes after the push tokens");

/* The token a push to the platform would use: there and not suppressed. */
static const char *usable_token(const struct hd_claimed *m, int platform)
{
    const char *t = push_token(&m->contact, platform);
    return t && !m->suppressed[HD_SUP_FCM + platform] ? t : NULL;
}

static const char *address_of(const struct hd_contact *k, int channel, int *platform)
{
    switch (channel) {
    case HD_CH_EMAIL:
        return k->email;
    case HD_CH_SMS:
        return k->phone;
    case HD_CH_INBOX: /* every contact has one, named by its id */
        return k->ext_id;
    case HD_CH_WECHAT: /* the openid, kept with the push tokens */
        *platform = HD_PUSH_WECHAT;
        return k->wechat_openid;
    default:
        for (int p = 0; p < PUSH_PLATFORMS; p++)
            if (push_token(k, p)) {
                *platform = p;
                return push_token(k, p);
            }
        return NULL;
    }
}

/* The first provider of the channel, in [channel]'s order, that can carry
 * this contact's address (for push: a usable token of its platform, other
 * than skip's; -1 skips none; a generic provider, outbox or http, takes
 * the first of the contact's tokens, FCM, APNs, JPush, Huawei). */
static int pick_provider(const struct hd_config *cfg, int channel, const struct hd_claimed *m,
                         int skip, const char **address, int *platform)
{
    const struct hd_contact *k = &m->contact;
    for (size_t i = 0; i < cfg->channels[channel].n; i++) {
        const struct hd_provider_cfg *p =
            hd_config_provider(cfg, cfg->channels[channel].providers[i]);
        if (!p || !hd_driver_serves(p->type, channel))
            continue;
        int idx = (int)(p - cfg->providers);
        if (channel != HD_CH_PUSH) {
            *address = address_of(k, channel, platform);
            return idx;
        }
        int want = hd_driver_push_platform(p->type);
        for (int pf = want < 0 ? 0 : want; pf <= (want < 0 ? PUSH_PLATFORMS - 1 : want); pf++)
            if (pf != skip && usable_token(m, pf)) {
                *platform = pf;
                *address = usable_token(m, pf);
                return idx;
            }
    }
    return -1;
}

/* Whether every push token of the contact is suppressed (or it has none). */
static bool push_suppressed(const struct hd_claimed *m)
{
    for (int p = 0; p < PUSH_PLATFORMS; p++)
        if (usable_token(m, p))
            return false;
    return true;
}

static void note(char *buf, size_t size, const char *fmt, const char *a, const char *b)
{
    size_t len = strlen(buf);
    if (len < size)
        snprintf(buf + len, size - len, fmt, a, b);
}

/* Appends to the decision's JSON detail (closed by hd_dispatch_decide);
 * every piece is our own words, never the contact's data. */
#define DETAIL(d, ...) note_json((d)->detail, sizeof(d)->detail, __VA_ARGS__)
static void note_json(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note_json(char *buf, size_t size, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    if (len < size)
        vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
}

/* Why the channel cannot take the message, as an index in choose_channel's
 * words (0 no address, 1 no provider, 2 suppressed, 3 opted out), or -1
 * when it can: then the provider, address and platform are d's. */
static int channel_cause(const struct hd_config *cfg, const struct hd_claimed *m, int ch,
                         struct hd_decision *d)
{
    int platform = HD_PUSH_FCM;
    const char *addr = address_of(&m->contact, ch, &platform);
    /* the inbox has no address to suppress: its consent rules it */
    bool sup = ch == HD_CH_PUSH     ? push_suppressed(m)
               : ch == HD_CH_INBOX  ? false
               : ch == HD_CH_WECHAT ? m->suppressed[HD_SUP_WECHAT]
                                    : m->suppressed[ch];
    if (!addr)
        return 0;
    if (m->consent[ch] == HD_CONSENT_OPTED_OUT)
        return 3;
    if (sup)
        return 2;
    if ((d->provider = pick_provider(cfg, ch, m, -1, &d->address, &d->platform)) < 0)
        return 1;
    return -1;
}

/* Whether a channel of the campaign after index i could take the message
 * now: where --fallback-on-failure would send it next (write.c). */
static bool later_channel(const struct hd_config *cfg, const struct hd_campaign *c,
                          const struct hd_claimed *m, int i)
{
    struct hd_decision scratch;
    for (int k = i + 1; k < c->nchannels; k++)
        if (channel_cause(cfg, m, c->channels[k], &scratch) < 0)
            return true;
    return false;
}

/* Checks 1 and 2: the first of the campaign's channels, from ch_index on,
 * with an address, consent, no suppression and a provider. When none is,
 * the reason is the strongest of the channels' causes. */
static bool choose_channel(const struct hd_config *cfg, const struct hd_campaign *c,
                           const struct hd_claimed *m, struct hd_decision *d)
{
    static const char *const words[] = {"no_address", "no_provider", "suppressed", "opted_out"};
    static const char *const says[] = {"%s%s: no address", "%s%s: no provider in [channel] for it",
                                       "%s%s: address suppressed", "%s%s: opted out of "};
    int worst = 0;
    d->reason[0] = '\0';
    for (int i = m->ch_index; i < c->nchannels; i++) {
        int ch = c->channels[i], cause = channel_cause(cfg, m, ch, d);
        const char *name = hd_channel_name(ch), *sep = d->reason[0] ? "; " : "";
        if (cause < 0) {
            d->channel = ch;
            d->ch_index = i;
            const char *alt;
            int pf;
            /* another provider of the channel could take another token */
            d->push_alt =
                ch == HD_CH_PUSH && pick_provider(cfg, ch, m, d->platform, &alt, &pf) >= 0;
            d->can_fall_back = c->fallback && later_channel(cfg, c, m, i);
            d->reason[0] = '\0';
            if (d->detail[0])
                DETAIL(d, "]");
            return true;
        }
        note(d->reason, sizeof d->reason, says[cause], sep, name);
        if (cause == 3)
            note(d->reason, sizeof d->reason, "%s%s", hd_category_name(c->category), "");
        if (cause > worst)
            worst = cause;
        DETAIL(d, "%s[\"%s\", \"%s\"]", d->detail[0] ? ", " : "\"skipped\": [", name, words[cause]);
    }
    if (d->detail[0])
        DETAIL(d, "]");
    d->state = worst >= 2 ? HD_ST_SUPPRESSED : HD_ST_NO_CHANNEL;
    d->word = words[worst];
    return false;
}

/* Whether the contact's earlier send i counts against the rule at now:
 * the rule's category, its channel when it names one, inside its window,
 * and not the message's own reservation. The one test for both the cap's
 * decision and its words (the count and the earlier messages). */
static bool counts_against(const struct hd_cap_rule *rule, const struct hd_claimed *m, size_t i,
                           int64_t now)
{
    const struct hd_sent *s = &m->sent[i];
    return s->category == rule->category && (rule->channel < 0 || s->channel == rule->channel) &&
           s->message != m->id && hd_cap_in_window(&rule->cap, s->at, now);
}

/* The rule reached: the n earlier messages that count against it (ids)
 * and when it frees, in the reason and the detail's "earlier". Called for
 * the binding rule alone, so the detail keeps one "earlier" key. */
static void say_capped(const struct hd_cap_rule *rule, const int64_t *ids, size_t n, int64_t at,
                       struct hd_decision *d)
{
    char win[32], when[32];
    DETAIL(d, "%s\"earlier\": [", d->detail[0] ? ", " : "");
    for (size_t k = 0; k < n && k < 32; k++)
        DETAIL(d, "%s%lld", k ? ", " : "", (long long)ids[k]);
    DETAIL(d, "]");
    hd_units_format_duration(rule->cap.window, win, sizeof win);
    hd_time_format_iso(at, when, sizeof when);
    snprintf(d->reason, sizeof d->reason,
             "cap %s%s%s = %u/%s reached (%zu sent in the window); "
             "free at %s",
             hd_category_name(rule->category), rule->channel >= 0 ? "." : "",
             rule->channel >= 0 ? hd_channel_name(rule->channel) : "", rule->cap.count, win, n,
             when);
}

/* The contact's earlier sends that count against the rule, their times
 * and message ids (the first MAX_SENDS of them). */
#define MAX_SENDS 512
static size_t sends_against(const struct hd_cap_rule *rule, const struct hd_claimed *m, int64_t now,
                            int64_t *times, int64_t *ids)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nsent && n < MAX_SENDS; i++)
        if (counts_against(rule, m, i, now)) {
            times[n] = m->sent[i].at;
            ids[n++] = m->sent[i].message;
        }
    return n;
}

/* Check 3: every cap rule for the category (on all channels or on the
 * chosen one), then the campaign's resend-after. Of the rules reached, the
 * binding one is that which frees last (the first of those in the config
 * on a tie): it alone decides when the message may go, so the reason, the
 * due time and the detail's earlier messages are its own. A message's own
 * reservation does not count against it: one a stopped dispatcher left in
 * flight keeps it while it is queued again (it may have been sent). */
static bool within_caps(const struct hd_config *cfg, const struct hd_campaign *c,
                        const struct hd_claimed *m, int64_t now, struct hd_decision *d)
{
    int64_t times[MAX_SENDS], ids[MAX_SENDS], free_at = 0;
    const struct hd_cap_rule *binding = NULL;
    char when[32];
    for (size_t r = 0; r < cfg->ncaps; r++) {
        const struct hd_cap_rule *rule = &cfg->caps[r];
        if (rule->category != c->category || (rule->channel >= 0 && rule->channel != d->channel))
            continue;
        size_t n = sends_against(rule, m, now, times, ids);
        int64_t at;
        if (hd_cap_allows(&rule->cap, times, n, now, &at))
            continue;
        if (!binding || at > free_at) {
            binding = rule;
            free_at = at;
        }
    }
    if (binding) {
        size_t n = sends_against(binding, m, now, times, ids);
        say_capped(binding, ids, n, free_at, d);
        bool defer =
            cfg->on_cap == HD_ON_CAP_DEFER && (m->expires_at <= 0 || free_at < m->expires_at);
        d->state = defer ? HD_ST_DEFERRED : HD_ST_CAPPED;
        d->word = "capped";
        d->not_before = free_at;
        return false;
    }
    for (size_t i = 0; c->resend_after > 0 && i < m->nsent; i++)
        if (m->sent[i].campaign == c->id && m->sent[i].message != m->id &&
            m->sent[i].at > now - c->resend_after) {
            char win[32];
            hd_units_format_duration(c->resend_after, win, sizeof win);
            hd_time_format_iso(m->sent[i].at, when, sizeof when);
            snprintf(d->reason, sizeof d->reason,
                     "resend-after %s: this campaign messaged the contact at %s", win, when);
            DETAIL(d, "%s\"earlier\": [%lld]", d->detail[0] ? ", " : "",
                   (long long)m->sent[i].message);
            d->state = HD_ST_CAPPED;
            d->word = "resend_after";
            return false;
        }
    return true;
}

/* Check 4: the latest end of any quiet-hours window the message is in;
 * outside them all, the first start of one ahead is its send_by. */
static bool outside_quiet(const struct hd_config *cfg, const struct hd_campaign *c,
                          const struct hd_claimed *m, struct hd_zones *zones, int64_t now,
                          struct hd_decision *d)
{
    int64_t until = now;
    const struct hd_quiet_rule *hit = NULL;
    struct hd_zone *z = NULL;
    if (c->urgent) /* the template says so: a password reset at 3 a.m. is wanted */
        return true;
    for (size_t r = 0; r < cfg->nquiet; r++) {
        const struct hd_quiet_rule *q = &cfg->quiet[r];
        if (q->category != c->category || (q->channel >= 0 && q->channel != d->channel))
            continue;
        if (!z)
            z = hd_zones_get(zones, m->contact.timezone);
        int64_t u = hd_quiet_until(z, &q->window, now);
        if (u > until)
            until = u, hit = q;
        int64_t from = u > now ? 0
                               : hd_local_time_next(z, now, q->window.start / 60,
                                                    q->window.start % 60);
        if (from > now && (d->send_by == 0 || from < d->send_by))
            d->send_by = from;
    }
    if (!hit)
        return true;
    char when[32];
    hd_time_format_iso(until, when, sizeof when);
    snprintf(d->reason, sizeof d->reason, "quiet hours %02d:%02d-%02d:%02d in %s until %s",
             hit->window.start / 60, hit->window.start % 60, hit->window.end / 60,
             hit->window.end % 60, m->contact.timezone ? m->contact.timezone : cfg->timezone, when);
    DETAIL(d, "%s\"until\": \"%s\"", d->detail[0] ? ", " : "", when);
    if (m->expires_at > 0 && until >= m->expires_at) {
        d->state = HD_ST_EXPIRED;
        d->word = "expired";
        size_t len = strlen(d->reason);
        snprintf(d->reason + len, sizeof d->reason - len, ", after the message expires");
        return false;
    }
    d->state = HD_ST_DEFERRED;
    d->word = "quiet_hours";
    d->not_before = until;
    return false;
}

/* Wraps the detail's pieces in an object ("" when there are none). */
static void close_detail(struct hd_decision *d)
{
    size_t len = strlen(d->detail);
    if (len == 0)
        return;
    if (len + 3 > sizeof d->detail)
        len = sizeof d->detail - 3; /* cut: still one object for the reader */
    memmove(d->detail + 1, d->detail, len);
    d->detail[0] = '{';
    d->detail[len + 1] = '}';
    d->detail[len + 2] = '\0';
}

void hd_dispatch_decide(const struct hd_config *cfg, const struct hd_campaign *camp,
                        const struct hd_claimed *m, struct hd_zones *zones, int64_t now,
                        struct hd_decision *d)
{
    memset(d, 0, sizeof *d);
    d->channel = d->provider = -1;
    d->not_before = now;
    if (m->expires_at > 0 && now >= m->expires_at) {
        char when[32];
        hd_time_format_iso(m->expires_at, when, sizeof when);
        snprintf(d->reason, sizeof d->reason, "not sent before it expired at %s", when);
        d->state = HD_ST_EXPIRED;
        d->word = "expired";
        return;
    }
    if (!m->has_contact) {
        snprintf(d->reason, sizeof d->reason, "the contact was deleted");
        d->state = HD_ST_NO_CHANNEL;
        d->word = "contact_deleted";
        return;
    }
    d->state = HD_ST_SENDING;
    if (choose_channel(cfg, camp, m, d))
        (void)(within_caps(cfg, camp, m, now, d) && outside_quiet(cfg, camp, m, zones, now, d));
    if (d->state != HD_ST_SENDING)
        d->send_by = 0;
    else if (m->expires_at > 0 && (d->send_by == 0 || m->expires_at < d->send_by))
        d->send_by = m->expires_at;
    close_detail(d);
}
