/* rfm: the RFM layering (用户分层) of herald segment rfm. The store scores
 * each contact (store/rfm.c); this file defines the eight classic layers
 * as segments on those scores, stored with --replace so that re-running
 * refreshes them and a recurring campaign on a layer takes the latest, and
 * counts each. A score is high when it is above S/2 (for S = 5: 3, 4 and
 * 5); monetary splits important from general, then recency and frequency
 * split value, develop, keep and win back. */
#include "herald/segment.h"

#include <stdio.h>
#include <string.h>

#include "herald/store.h"

/* high R, F, M: 1; low: 0 */
static const struct hd_rfm_layer layers[HD_RFM_LAYERS] = {
    {"rfm_important_value", "important value", "重要价值客户", 1, 1, 1},
    {"rfm_important_develop", "important to develop", "重要发展客户", 1, 0, 1},
    {"rfm_important_keep", "important to keep", "重要保持客户", 0, 1, 1},
    {"rfm_important_win_back", "important to win back", "重要挽留客户", 0, 0, 1},
    {"rfm_general_value", "general value", "一般价值客户", 1, 1, 0},
    {"rfm_general_develop", "general to develop", "一般发展客户", 1, 0, 0},
    {"rfm_general_keep", "general to keep", "一般保持客户", 0, 1, 0},
    {"rfm_general_win_back", "general to win back", "一般挽留客户", 0, 0, 0},
};

const struct hd_rfm_layer *hd_rfm_layer(int i)
{
    return &layers[i];
}

static bool property_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

int hd_rfm_run(struct hd_store *st, const struct hd_rfm_opts *o, int64_t *scored,
               int64_t counts[HD_RFM_LAYERS], struct hd_err *err)
{
    int64_t high[8];
    int rc;
    if (!*o->event)
        return hd_err_set(err, HD_E_INVALID, "--event: give an event name");
    if (!property_valid(o->value))
        return hd_err_set(err, HD_E_INVALID,
                          "--value: '%s' is not a property name (letters, digits and '_')",
                          o->value);
    if (o->scores < 2 || o->scores > 100)
        return hd_err_set(err, HD_E_INVALID, "--scores: give 2 to 100");
    if ((rc = hd_store_rfm(st, o, scored, high, err)) < 0)
        return rc;
    for (int i = 0; i < HD_RFM_LAYERS; i++) {
        char rule[200];
        const struct hd_rfm_layer *l = &layers[i];
        int half = o->scores / 2;
        snprintf(rule, sizeof rule, "rfm_r %s %d and rfm_f %s %d and rfm_m %s %d",
                 l->r ? ">" : "<=", half, l->f ? ">" : "<=", half, l->m ? ">" : "<=", half);
        if ((rc = hd_store_segment_put(st, l->segment, rule, true, o->now, err)) < 0)
            return rc;
        counts[i] = high[l->r * 4 + l->f * 2 + l->m];
    }
    return 0;
}
