/* test_dispatch: the dispatcher's arithmetic and its state machine: the
 * token bucket (rate, burst, pause), backoff bounds with jitter and
 * Retry-After, sliding cap windows, and every move the message state
 * machine allows or refuses; the checks a claimed message meets (consent,
 * suppression, channel choice, caps, quiet hours, expiry) as a table;
 * what a gateway's answer does to the audience (hd_feedback_apply), the
 * one case with a store, on SQLite in memory and again on a fresh
 * PostgreSQL database (test_feedback_pg). */
#include "testboth.h"

#include "herald/dispatch.h"
#include "herald/policy.h"
#include "herald/schedule.h"
#include "herald/state.h"

static struct tu_both stores;
TU_BOTH_FIXTURES(stores)

static void test_bucket(void **state)
{
    (void)state;
    struct hd_rate r = {10, 1}; /* 10/s */
    struct hd_bucket b;
    hd_bucket_init(&b, &r, 5, 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(hd_bucket_take(&b, 0), 0); /* the burst */
    int64_t wait = hd_bucket_take(&b, 0);
    assert_true(wait >= 99 && wait <= 101);
    assert_true(hd_bucket_take(&b, 50) > 0);
    assert_int_equal(hd_bucket_take(&b, 100), 0);
    /* a long idle period refills to the burst, never beyond */
    for (int i = 0; i < 5; i++)
        assert_int_equal(hd_bucket_take(&b, 60000), 0);
    assert_true(hd_bucket_take(&b, 60000) > 0);
    /* over a simulated minute, at most rate * 60 + burst tokens */
    hd_bucket_init(&b, &r, 5, 0);
    int got = 0;
    for (int64_t t = 0; t < 60000; t++)
        got += hd_bucket_take(&b, t) == 0;
    assert_true(got <= 600 + 5 && got >= 599);
    /* a pause holds every token back until it ends */
    hd_bucket_init(&b, &r, 5, 0);
    hd_bucket_pause(&b, 5000);
    assert_int_equal(hd_bucket_take(&b, 200), 4800);
    assert_int_equal(hd_bucket_take(&b, 5000), 0);
    /* a slow rate: 6000/min is 100/s; 1/min waits a minute */
    struct hd_rate slow = {1, 60};
    hd_bucket_init(&b, &slow, 1, 0);
    assert_int_equal(hd_bucket_take(&b, 0), 0);
    wait = hd_bucket_take(&b, 0);
    assert_true(wait >= 59999 && wait <= 60001);
}

static void test_backoff(void **state)
{
    (void)state;
    const int64_t base = 30, max = 3600;
    static const uint64_t rnds[] = {0, 1, 7, 12345, 0xffffffffffffffffull, 0x8000000000000000ull};
    for (int attempt = 2; attempt <= 20; attempt++) {
        int64_t d = base;
        for (int i = 2; i < attempt && d < max; i++)
            d *= 2;
        if (d > max)
            d = max;
        for (size_t k = 0; k < sizeof rnds / sizeof rnds[0]; k++) {
            int64_t got = hd_backoff(attempt, base, max, 0, rnds[k]);
            if (got < d / 2 || got > d)
                fail_msg("attempt %d rnd %zu: %lld not in [%lld, %lld]", attempt, k, (long long)got,
                         (long long)(d / 2), (long long)d);
        }
    }
    assert_int_equal(hd_backoff(2, base, max, 0, 0), 15);
    assert_int_equal(hd_backoff(2, base, max, 0, 15), 30);
    /* Retry-After is a floor, capped by max */
    assert_int_equal(hd_backoff(2, base, max, 100, 0), 100);
    assert_int_equal(hd_backoff(2, base, max, 7200, 0), 3600);
    /* jitter spreads: not every rnd gives the same delay */
    assert_int_not_equal(hd_backoff(5, base, max, 0, 1), hd_backoff(5, base, max, 0, 100));
    /* a retry is due from the instant the answer came, rounded up to the
     * queue's whole seconds: never early (Retry-After: 3 at 10.76 s was
     * due at 12 s, 2.24 s later, when counted from the whole second) */
    assert_int_equal(hd_due_after(10760, 3000), 14);
    assert_int_equal(hd_due_after(10000, 3000), 13);
    assert_int_equal(hd_due_after(10001, 2000), 13);
    assert_int_equal(hd_due_after(999, 0), 1);
}

static void test_caps(void **state)
{
    (void)state;
    const int64_t now = 1795334400, day = 86400;
    struct hd_cap cap = {3, 7 * day}; /* 3/7d */
    int64_t sent[] = {now - day, now - 2 * day, now - 8 * day};
    int64_t free_at = 0;
    assert_true(hd_cap_allows(&cap, sent, 3, now, &free_at));
    int64_t more[] = {now - day, now - 2 * day, now - 8 * day, now - 3 * day};
    assert_false(hd_cap_allows(&cap, more, 4, now, &free_at));
    assert_int_equal(free_at, now - 3 * day + 7 * day); /* the oldest inside leaves */
    /* exactly at the window's edge a send no longer counts */
    int64_t edge[] = {now - 7 * day, now - day, now - 2 * day};
    assert_true(hd_cap_allows(&cap, edge, 3, now, NULL));
    /* the same second twice counts twice */
    struct hd_cap one = {1, day};
    int64_t twice[] = {now - 10, now - 10};
    assert_false(hd_cap_allows(&one, twice, 2, now, &free_at));
    assert_int_equal(free_at, now - 10 + day);
    /* 0/1d: nothing at all */
    struct hd_cap none = {0, day};
    assert_false(hd_cap_allows(&none, NULL, 0, now, &free_at));
    assert_true(free_at == INT64_MAX);
    assert_true(hd_cap_allows(&one, NULL, 0, now, NULL));
}

static void test_states(void **state)
{
    (void)state;
    static const int ok[][2] = {
        {HD_ST_QUEUED, HD_ST_SENDING},
        {HD_ST_QUEUED, HD_ST_DEFERRED},
        {HD_ST_QUEUED, HD_ST_HELD_OUT},
        {HD_ST_QUEUED, HD_ST_SUPPRESSED},
        {HD_ST_QUEUED, HD_ST_NO_CHANNEL},
        {HD_ST_QUEUED, HD_ST_CAPPED},
        {HD_ST_QUEUED, HD_ST_EXPIRED},
        {HD_ST_QUEUED, HD_ST_RENDER_FAILED},
        {HD_ST_SENDING, HD_ST_SENT},
        {HD_ST_SENDING, HD_ST_RETRY_WAIT},
        {HD_ST_SENDING, HD_ST_FAILED},
        {HD_ST_SENDING, HD_ST_QUEUED},
        {HD_ST_SENDING, HD_ST_DEFERRED},
        {HD_ST_SENDING, HD_ST_RENDER_FAILED}, /* rendered after the claim commits */
        {HD_ST_SENT, HD_ST_DELIVERED},
        {HD_ST_SENT, HD_ST_UNDELIVERED},
        {HD_ST_RETRY_WAIT, HD_ST_QUEUED},
        {HD_ST_RETRY_WAIT, HD_ST_EXPIRED},
        {HD_ST_DEFERRED, HD_ST_QUEUED},
        {HD_ST_DEFERRED, HD_ST_EXPIRED},
        {HD_ST_QUEUED, HD_ST_CANCELLED},
        {HD_ST_SENDING, HD_ST_CANCELLED}, /* claimed, not at a gateway: test_cancel_claimed */
        {HD_ST_DEFERRED, HD_ST_CANCELLED},
        {HD_ST_RETRY_WAIT, HD_ST_CANCELLED},
        /* receipts (issue 19) */
        {HD_ST_SENT, HD_ST_BOUNCED},
        {HD_ST_SENT, HD_ST_COMPLAINED},
        {HD_ST_DELIVERED, HD_ST_COMPLAINED},
    };
    size_t nok = sizeof ok / sizeof ok[0], allowed = 0;
    for (int from = 0; from < HD_ST_COUNT; from++)
        for (int to = 0; to < HD_ST_COUNT; to++) {
            bool want = false;
            for (size_t i = 0; i < nok; i++)
                want |= ok[i][0] == from && ok[i][1] == to;
            if (hd_state_can(from, to) != want)
                fail_msg("%s -> %s: %s", hd_state_name(from), hd_state_name(to),
                         want ? "refused" : "allowed");
            allowed += want;
        }
    assert_int_equal(allowed, nok);
    int s = HD_ST_QUEUED;
    struct hd_err e = {0};
    assert_int_equal(hd_state_move(&s, HD_ST_SENT, &e), HD_E_INVALID);
    assert_int_equal(s, HD_ST_QUEUED);
    assert_string_equal(e.msg, "a message cannot go from queued to sent");
    assert_int_equal(hd_state_move(&s, HD_ST_SENDING, &e), 0);
    assert_int_equal(hd_state_move(&s, HD_ST_SENT, &e), 0);
    assert_int_equal(hd_state_move(&s, HD_ST_QUEUED, &e), HD_E_INVALID);
    /* terminal states */
    static const int terminal[] = {
        HD_ST_SENT,       HD_ST_DELIVERED,  HD_ST_UNDELIVERED, HD_ST_FAILED,  HD_ST_HELD_OUT,
        HD_ST_SUPPRESSED, HD_ST_NO_CHANNEL, HD_ST_CAPPED,      HD_ST_EXPIRED, HD_ST_RENDER_FAILED,
        HD_ST_CANCELLED,  HD_ST_BOUNCED,    HD_ST_COMPLAINED};
    size_t nterm = 0;
    for (int st = 0; st < HD_ST_COUNT; st++)
        nterm += hd_state_terminal(st);
    assert_int_equal(nterm, sizeof terminal / sizeof terminal[0]);
    for (size_t i = 0; i < sizeof terminal / sizeof terminal[0]; i++)
        assert_true(hd_state_terminal(terminal[i]));
    for (int st = 0; st < HD_ST_COUNT; st++)
        assert_int_equal(hd_state_parse(hd_state_name(st)), st);
    assert_int_equal(hd_state_parse("lost"), -1);
}

/* ---- the checks ------------------------------------------------------------------- */

#define T0 1795348800 /* 2026-11-22T12:00:00Z: 21:00 in Tokyo */
#define DAY 86400

struct check_case {
    const char *what;
    const char *conf_extra; /* [caps], [quiet_hours], on_cap */
    int category;
    int channels[3];
    int nchannels;
    int64_t resend_after;
    /* the contact */
    const char *email, *phone, *fcm, *tz;
    int consent_email; /* hd_consent_status or 0 */
    bool sup_email;
    struct hd_sent sent[4];
    int nsent;
    int ch_index;
    int64_t expires_at;
    /* the decision */
    int state;
    int channel;
    int64_t not_before; /* 0: not checked */
    const char *reason; /* substring, or NULL */
};

static void test_checks(void **state)
{
    (void)state;
    enum {
        E = HD_CH_EMAIL,
        S = HD_CH_SMS,
        P = HD_CH_PUSH,
        MK = HD_CAT_MARKETING,
        TR = HD_CAT_TRANSACTIONAL
    };
    /* one case a row reads better than one field a line; fields left out
     * are 0, NULL or false */
    // clang-format off
    static const struct check_case cases[] = {
        {.what = "first reachable channel", .conf_extra = "", .category = MK,
         .channels = {P, E, S}, .nchannels = 3, .email = "a@x.example", .phone = "+15550001117",
         .state = HD_ST_SENDING, .channel = E},
        {.what = "no address anywhere", .conf_extra = "", .category = MK, .channels = {P, E},
         .nchannels = 2, .phone = "+15550001117", .state = HD_ST_NO_CHANNEL, .channel = -1,
         .reason = "push: no address; email: no address"},
        {.what = "opted out of email: sms", .conf_extra = "", .category = MK, .channels = {E, S},
         .nchannels = 2, .email = "a@x.example", .phone = "+15550001117",
         .consent_email = HD_CONSENT_OPTED_OUT, .state = HD_ST_SENDING, .channel = S},
        {.what = "suppressed and nothing else", .conf_extra = "", .category = MK,
         .channels = {E, P}, .nchannels = 2, .email = "a@x.example", .sup_email = true,
         .state = HD_ST_SUPPRESSED, .channel = -1,
         .reason = "email: address suppressed; push: no address"},
        {.what = "opted out only", .conf_extra = "", .category = MK, .channels = {E},
         .nchannels = 1, .email = "a@x.example", .consent_email = HD_CONSENT_OPTED_OUT,
         .state = HD_ST_SUPPRESSED, .channel = -1, .reason = "email: opted out of marketing"},
        {.what = "fallback starts at the next channel", .conf_extra = "", .category = MK,
         .channels = {E, S}, .nchannels = 2, .email = "a@x.example", .phone = "+15550001117",
         .ch_index = 1, .state = HD_ST_SENDING, .channel = S},
        {.what = "cap 3/7d reached", .conf_extra = "[caps]\nmarketing = 3/7d\n", .category = MK,
         .channels = {E}, .nchannels = 1, .email = "a@x.example",
         .sent = {{T0 - 6 * DAY, 9, MK, S, 101}, {T0 - DAY, 9, MK, E, 102}, {T0 - 60, 8, MK, P, 103}},
         .nsent = 3, .state = HD_ST_CAPPED, .channel = E,
         .reason = "cap marketing = 3/7d reached (3 sent in the window)"},
        {.what = "cap 3/7d, one send left the window", .conf_extra = "[caps]\nmarketing = 3/7d\n",
         .category = MK, .channels = {E}, .nchannels = 1, .email = "a@x.example",
         .sent = {{T0 - 8 * DAY, 9, MK, S, 104}, {T0 - DAY, 9, MK, E, 105}, {T0 - 60, 8, MK, P, 106}},
         .nsent = 3, .state = HD_ST_SENDING, .channel = E},
        {.what = "on_cap = defer waits for the oldest to leave",
         .conf_extra = "[caps]\nmarketing = 3/7d\non_cap = defer\n", .category = MK,
         .channels = {E}, .nchannels = 1, .email = "a@x.example",
         .sent = {{T0 - 6 * DAY, 9, MK, S, 107}, {T0 - DAY, 9, MK, E, 108}, {T0 - 60, 8, MK, P, 109}},
         .nsent = 3, .state = HD_ST_DEFERRED, .channel = E, .not_before = T0 + DAY,
         .reason = "free at 2026-11-23T12:00:00Z"},
        {.what = "per-channel cap: sms capped", .conf_extra = "[caps]\nmarketing.sms = 1/1d\n",
         .category = MK, .channels = {S}, .nchannels = 1, .phone = "+15550001117",
         .sent = {{T0 - 3600, 9, MK, S, 110}}, .nsent = 1, .state = HD_ST_CAPPED, .channel = S,
         .reason = "cap marketing.sms = 1/1d"},
        {.what = "per-channel cap: email free", .conf_extra = "[caps]\nmarketing.sms = 1/1d\n",
         .category = MK, .channels = {E}, .nchannels = 1, .email = "a@x.example",
         .sent = {{T0 - 3600, 9, MK, S, 111}}, .nsent = 1, .state = HD_ST_SENDING, .channel = E},
        {.what = "per-channel cap counts its own window",
         .conf_extra = "[caps]\nmarketing = 5/7d\nmarketing.sms = 1/1d\n", .category = MK,
         .channels = {S}, .nchannels = 1, .phone = "+15550001117",
         .sent = {{T0 - 2 * DAY - 3600, 9, MK, S, 117}, {T0 - 3600, 9, MK, S, 118}}, .nsent = 2,
         .state = HD_ST_CAPPED, .channel = S,
         .reason = "cap marketing.sms = 1/1d reached (1 sent in the window)"},
        /* two rules reached: the one that frees last holds the message, and
         * the words, the due time and the detail are all that rule's,
         * whichever order the rules come in */
        {.what = "two caps reached: the category's frees last",
         .conf_extra = "[caps]\non_cap = defer\nmarketing = 2/7d\nmarketing.sms = 1/1d\n",
         .category = MK, .channels = {S}, .nchannels = 1, .phone = "+15550001117",
         .sent = {{T0 - DAY - 3600, 9, MK, S, 130}, {T0 - 3600, 9, MK, S, 131}}, .nsent = 2,
         .state = HD_ST_DEFERRED, .channel = S, .not_before = T0 + 6 * DAY - 3600,
         .reason = "cap marketing = 2/7d reached (2 sent in the window); "
                   "free at 2026-11-28T11:00:00Z"},
        {.what = "two caps reached: the channel's frees last",
         .conf_extra = "[caps]\nmarketing.sms = 1/7d\nmarketing = 2/1d\n", .category = MK,
         .channels = {S}, .nchannels = 1, .phone = "+15550001117",
         .sent = {{T0 - 2 * DAY, 9, MK, S, 132}, {T0 - 3600, 9, MK, E, 133},
                  {T0 - 1800, 8, MK, S, 134}}, .nsent = 3, .state = HD_ST_CAPPED, .channel = S,
         .reason = "cap marketing.sms = 1/7d reached (2 sent in the window); "
                   "free at 2026-11-29T11:30:00Z"},
        {.what = "a send a whole window old does not count",
         .conf_extra = "[caps]\nmarketing = 2/7d\n", .category = MK, .channels = {E},
         .nchannels = 1, .email = "a@x.example",
         .sent = {{T0 - 7 * DAY, 9, MK, E, 119}, {T0 - DAY, 9, MK, E, 120}, {T0 - 60, 8, MK, S, 121}},
         .nsent = 3, .state = HD_ST_CAPPED, .channel = E,
         .reason = "cap marketing = 2/7d reached (2 sent in the window)"},
        {.what = "transactional is exempt", .conf_extra = "[caps]\nmarketing = 1/7d\n",
         .category = TR, .channels = {E}, .nchannels = 1, .email = "a@x.example",
         .sent = {{T0 - 3600, 9, MK, E, 112}}, .nsent = 1, .state = HD_ST_SENDING, .channel = E},
        {.what = "transactional capped when a rule names it",
         .conf_extra = "[caps]\ntransactional = 1/1h\n", .category = TR, .channels = {E},
         .nchannels = 1, .email = "a@x.example", .sent = {{T0 - 600, 9, TR, E, 113}}, .nsent = 1,
         .state = HD_ST_CAPPED, .channel = E, .reason = "cap transactional = 1/1h"},
        {.what = "a send stamped ahead still counts", .conf_extra = "[caps]\nmarketing = 1/7d\n",
         .category = MK, .channels = {E}, .nchannels = 1, .email = "a@x.example",
         .sent = {{T0 + 5, 9, MK, E, 114}}, .nsent = 1, .state = HD_ST_CAPPED, .channel = E},
        {.what = "resend-after", .conf_extra = "", .category = MK, .channels = {E}, .nchannels = 1,
         .resend_after = 30 * DAY, .email = "a@x.example",
         .sent = {{T0 - 10 * DAY, 1, MK, E, 115}}, .nsent = 1, .state = HD_ST_CAPPED, .channel = E,
         .reason = "resend-after 30d: this campaign messaged the contact at 2026-11-12T12:00:00Z"},
        {.what = "resend-after: another campaign does not count", .conf_extra = "", .category = MK,
         .channels = {E}, .nchannels = 1, .resend_after = 30 * DAY, .email = "a@x.example",
         .sent = {{T0 - 10 * DAY, 2, MK, E, 116}}, .nsent = 1, .state = HD_ST_SENDING,
         .channel = E},
        {.what = "quiet hours in Tokyo", .conf_extra = "[quiet_hours]\nmarketing = 21:00-08:00\n",
         .category = MK, .channels = {E}, .nchannels = 1, .email = "a@x.example",
         .tz = "Asia/Tokyo", .state = HD_ST_DEFERRED, .channel = E, .not_before = T0 + 11 * 3600,
         .reason = "quiet hours 21:00-08:00 in Asia/Tokyo until 2026-11-22T23:00:00Z"},
        {.what = "quiet hours: not in Paris at 13:00",
         .conf_extra = "[quiet_hours]\nmarketing = 21:00-08:00\n", .category = MK, .channels = {E},
         .nchannels = 1, .email = "a@x.example", .tz = "Europe/Paris", .state = HD_ST_SENDING,
         .channel = E},
        {.what = "quiet hours for sms only",
         .conf_extra = "[quiet_hours]\nmarketing.sms = 21:00-08:00\n", .category = MK,
         .channels = {E}, .nchannels = 1, .email = "a@x.example", .tz = "Asia/Tokyo",
         .state = HD_ST_SENDING, .channel = E},
        {.what = "quiet hours outlast the expiry",
         .conf_extra = "[quiet_hours]\nmarketing = 21:00-08:00\n", .category = MK, .channels = {E},
         .nchannels = 1, .email = "a@x.example", .tz = "Asia/Tokyo", .expires_at = T0 + 3600,
         .state = HD_ST_EXPIRED, .channel = E, .reason = "after the message expires"},
        {.what = "expired before any check", .conf_extra = "", .category = MK, .channels = {E},
         .nchannels = 1, .email = "a@x.example", .expires_at = T0 - 1, .state = HD_ST_EXPIRED,
         .channel = -1, .reason = "not sent before it expired at"},
    };
    /* what the log records of some: the reason word, and the JSON detail
     * herald why reads (channels skipped, messages that filled a cap) */
    static const struct {
        const char *what, *word, *detail;
    } record[] = {
        {"no address anywhere", "no_address",
         "{\"skipped\": [[\"push\", \"no_address\"], [\"email\", \"no_address\"]]}"},
        {"opted out of email: sms", NULL, "{\"skipped\": [[\"email\", \"opted_out\"]]}"},
        {"suppressed and nothing else", "suppressed",
         "{\"skipped\": [[\"email\", \"suppressed\"], [\"push\", \"no_address\"]]}"},
        {"opted out only", "opted_out", "{\"skipped\": [[\"email\", \"opted_out\"]]}"},
        {"first reachable channel", NULL, "{\"skipped\": [[\"push\", \"no_address\"]]}"},
        {"cap 3/7d reached", "capped", "{\"earlier\": [101, 102, 103]}"},
        {"per-channel cap: sms capped", "capped", "{\"earlier\": [110]}"},
        {"per-channel cap counts its own window", "capped", "{\"earlier\": [118]}"},
        {"a send a whole window old does not count", "capped", "{\"earlier\": [120, 121]}"},
        {"a send stamped ahead still counts", "capped", "{\"earlier\": [114]}"},
        {"two caps reached: the category's frees last", "capped", "{\"earlier\": [130, 131]}"},
        {"two caps reached: the channel's frees last", "capped", "{\"earlier\": [132, 134]}"},
        {"resend-after", "resend_after", "{\"earlier\": [115]}"},
        {"quiet hours in Tokyo", "quiet_hours", "{\"until\": \"2026-11-22T23:00:00Z\"}"},
        {"expired before any check", "expired", ""},
    };
    // clang-format on
    size_t nrecord = 0;
    struct hd_zones *zones = hd_zones_new("UTC");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct check_case *k = &cases[i];
        char text[512];
        snprintf(text, sizeof text,
                 "[provider box]\ntype = outbox\n[channel email]\nproviders = box\n"
                 "[channel sms]\nproviders = box\n[channel push]\nproviders = box\n%s",
                 k->conf_extra);
        struct hd_config *cfg = NULL;
        struct hd_err err = {0};
        if (hd_config_parse(text, "t.conf", &cfg, &err) < 0)
            fail_msg("%s: %s", k->what, err.msg);
        struct hd_campaign c = {.id = 1,
                                .category = k->category,
                                .nchannels = k->nchannels,
                                .resend_after = k->resend_after};
        memcpy(c.channels, k->channels, sizeof c.channels);
        struct hd_claimed m = {.id = 7,
                               .has_contact = true,
                               .ch_index = k->ch_index,
                               .expires_at = k->expires_at,
                               .nsent = (size_t)k->nsent,
                               .sent = (struct hd_sent *)k->sent};
        m.contact.email = (char *)k->email;
        m.contact.phone = (char *)k->phone;
        m.contact.fcm_token = (char *)k->fcm;
        m.contact.timezone = (char *)k->tz;
        m.consent[HD_CH_EMAIL] = k->consent_email;
        m.suppressed[HD_CH_EMAIL] = k->sup_email;
        struct hd_decision d;
        hd_dispatch_decide(cfg, &c, &m, zones, T0, &d);
        if (d.state != k->state || d.channel != k->channel)
            fail_msg("%s: state %s channel %d, want %s channel %d (%s)", k->what,
                     hd_state_name(d.state), d.channel, hd_state_name(k->state), k->channel,
                     d.reason);
        if (k->not_before && d.not_before != k->not_before)
            fail_msg("%s: not_before %lld, want %lld", k->what, (long long)d.not_before,
                     (long long)k->not_before);
        if (k->reason && !strstr(d.reason, k->reason))
            fail_msg("%s: reason '%s' lacks '%s'", k->what, d.reason, k->reason);
        if (d.state == HD_ST_SENDING && (d.provider < 0 || !d.address))
            fail_msg("%s: no provider or address", k->what);
        for (size_t r = 0; r < sizeof record / sizeof record[0]; r++) {
            if (strcmp(record[r].what, k->what) != 0)
                continue;
            nrecord++;
            if (record[r].word ? !d.word || strcmp(d.word, record[r].word) != 0 : d.word != NULL)
                fail_msg("%s: word '%s', want '%s'", k->what, d.word ? d.word : "(none)",
                         record[r].word ? record[r].word : "(none)");
            if (strcmp(d.detail, record[r].detail) != 0)
                fail_msg("%s: detail '%s', want '%s'", k->what, d.detail, record[r].detail);
        }
        hd_config_free(cfg);
    }
    assert_int_equal(nrecord, sizeof record / sizeof record[0]);
    hd_zones_free(zones);
}

static int keep_suppression(void *ud, const struct hd_suppression *s)
{
    char *out = ud;
    snprintf(out + strlen(out), 256 - strlen(out), "%s,%d,%s;", s->address, s->channel, s->reason);
    return 0;
}

/* A gateway's answer goes into the audience: a bad address is suppressed
 * in its normal form, an opt-out withdraws the contact's consent for the
 * channel in both categories; an answer that says neither changes nothing. */
static void test_feedback(void **state)
{
    (void)state;
    struct hd_store *st = tu_both_open(&stores, NULL, ":memory:");
    struct hd_store_import *imp;
    struct hd_err e = {0};
    struct hd_contact_row row = {
        .ext_id = "c1", .phone = "+14155550199", .created_at = -1, .attrs = "{}"};
    int64_t ins, upd;
    assert_int_equal(hd_store_import_begin(st, HD_IMPORT_MERGE, 1000, &imp, &e), 0);
    assert_int_equal(hd_store_import_row(imp, &row, &e), 0);
    assert_int_equal(hd_store_import_end(imp, true, &ins, &upd, &e), 0);

    struct hd_result r = {.outcome = HD_OUT_PERMANENT};
    char list[256] = "";
    assert_int_equal(
        hd_feedback_apply(st, NULL, "c1", 0, HD_CH_EMAIL, "x@example.com", &r, 2000, &e), 0);
    r.bad_address = true;
    assert_int_equal(
        hd_feedback_apply(st, NULL, "c1", 0, HD_CH_EMAIL, "Ann@Example.COM", &r, 2000, &e), 1);
    assert_int_equal(hd_feedback_apply(st, NULL, NULL, 0, HD_CH_PUSH, "ABCdef01", &r, 2000, &e), 1);
    assert_int_equal(hd_store_suppress_each(st, -1, keep_suppression, list, &e), 0);
    assert_contains(list, "ann@example.com,0,hard_bounce;");
    assert_contains(list, "abcdef01,2,unregistered_token;");
    assert_not_contains(list, "x@example.com");

    r.bad_address = false;
    r.opted_out = true;
    assert_int_equal(hd_feedback_apply(st, NULL, NULL, 0, HD_CH_SMS, "+14155550199", &r, 2000, &e),
                     0);
    assert_int_equal(hd_feedback_apply(st, NULL, "c1", 0, HD_CH_SMS, "+14155550199", &r, 3000, &e),
                     1);
    struct hd_contact c;
    assert_int_equal(hd_store_contact_get(st, "c1", &c, &e), 0);
    int out = 0;
    for (size_t i = 0; i < c.nconsent; i++) {
        assert_int_equal(c.consent[i].channel, HD_CH_SMS);
        assert_int_equal(c.consent[i].status, HD_CONSENT_OPTED_OUT);
        assert_string_equal(c.consent[i].source, "gateway");
        out |= 1 << c.consent[i].category;
    }
    assert_int_equal(out, (1 << HD_CAT_MARKETING) | (1 << HD_CAT_TRANSACTIONAL));
    hd_contact_release(&c);
    /* an unknown contact: an error, and nothing written */
    assert_true(hd_feedback_apply(st, NULL, "nobody", 0, HD_CH_SMS, "+14155550100", &r, 3000, &e) <
                0);
    assert_int_equal(e.code, HD_E_NOTFOUND);
    hd_store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_feedback),
        {"test_feedback_pg", test_feedback, setup_pg, teardown, NULL},
    };
    return cmocka_run_group_tests_name("dispatch", tests, NULL, NULL);
}
