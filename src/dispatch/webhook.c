/* webhook: delivering the outbound webhooks' events (issue 20).
 *
 * A pass looks at each [webhook NAME]: its cursor (store/webhooks.c,
 * made on first sight, starting at the rows there are now unless asked
 * from the start) says whether anything is past it and when the batch at
 * the head may be tried. A webhook with work is leased to this process
 * (so herald run and herald webhook deliver never post the same batch at
 * once), its next batch read, events older than max_age left out (they
 * expire: counted and logged once their batch is acknowledged), and the
 * rest posted as {"webhook": NAME, "events": [...]}, signed with the
 * webhook's secret (channel/webhook.c). A 2xx answer acknowledges the
 * batch: the cursor moves past it in one transaction. Any other answer,
 * or none, keeps the cursor where it was and sets the next try by the
 * backoff (retry_base doubling up to retry_max, then a random half to
 * the full delay, so receivers coming back are not hit all at once).
 * Everything lives in the database, so a crash or SIGKILL between the
 * POST and the acknowledgement posts that one batch again (the same
 * event ids: receivers dedupe), and nothing else.
 *
 * A process that writes events itself (herald run) makes the cursors
 * first (hd_webhook_begin), before it dispatches or serves: a first pass
 * in a thread of its own, late on a loaded machine, would start them
 * after events of that very run and pass them over for good. */
#include <errno.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "herald/dispatch.h"
#include "herald/hash.h"
#include "herald/webhook.h"

#define BATCHES_PER_PASS 50

static bool process_alive(int64_t pid)
{
    return pid > 0 && pid <= INT32_MAX && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static void set_str(json_t *o, const char *key, const char *v)
{
    if (v)
        json_object_set_new(o, key, json_string(v));
}

static void set_int(json_t *o, const char *key, int64_t v)
{
    if (v)
        json_object_set_new(o, key, json_integer((json_int_t)v));
}

/* The event's id: its source, its row and a hash of what the row says
 * that never changes (an erasure rewrites a log row's contact, address
 * and text, so those are left out). A row id is max + 1, so the id of a
 * deleted newest row comes back on the next row: the hash tells the two
 * apart, and the same row always gives the same id. */
static void event_id(const struct hd_wh_event *e, char *out, size_t n)
{
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_addf(&b, "%d|%lld|%lld|%lld|%lld|%s|%s|%s|%s", e->type, (long long)e->row,
                (long long)e->at_ms, (long long)e->message,
                (long long)(e->source == HD_WH_SRC_CONSENT ? e->contact : 0),
                e->channel ? e->channel : "", e->provider ? e->provider : "",
                e->reason ? e->reason : "", e->category ? e->category : "");
    uint64_t h = hd_hash64(b.data, b.len, 0x68657261);
    hd_buf_release(&b);
    snprintf(out, n, "%s-%lld-%012llx", e->source == HD_WH_SRC_LOG ? "log" : "consent",
             (long long)e->row, (unsigned long long)(h >> 16));
}

static json_t *event_json(const struct hd_wh_event *e)
{
    char id[64], at[32];
    event_id(e, id, sizeof id);
    hd_time_format_iso(e->at_ms / 1000, at, sizeof at);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "type", json_string(hd_webhook_event_name(e->type)));
    json_object_set_new(o, "at", json_string(at));
    set_int(o, "message_id", e->message);
    set_int(o, "contact_id", e->contact);
    set_str(o, "contact", e->contact_ext);
    set_int(o, "campaign_id", e->campaign_id);
    set_str(o, "campaign", e->campaign);
    set_str(o, "channel", e->channel);
    set_str(o, "category", e->category);
    set_str(o, "provider", e->provider);
    set_str(o, "address", e->address);
    set_str(o, "reason", e->reason);
    set_str(o, "text", e->text);
    return o;
}

/* The body of b's events not older than cutoff_ms; *sent and *expired
 * count them, first and last name the expired ones for the log. */
static char *batch_body(const char *name, const struct hd_wh_batch *b, int64_t cutoff_ms,
                        int64_t *sent, int64_t *expired, char *first, char *last, size_t n)
{
    json_t *root = json_object(), *arr = json_array();
    *sent = *expired = 0;
    for (size_t i = 0; i < b->n; i++) {
        const struct hd_wh_event *e = &b->v[i];
        if (e->at_ms < cutoff_ms) {
            event_id(e, *expired ? last : first, n);
            if (!*expired)
                snprintf(last, n, "%s", first);
            ++*expired;
            continue;
        }
        json_array_append_new(arr, event_json(e));
        ++*sent;
    }
    json_object_set_new(root, "webhook", json_string(name));
    json_object_set_new(root, "events", arr);
    char *body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return body;
}

/* The delay before try attempts+1, in ms: retry_base doubled per failed
 * try up to retry_max, then a random point of its second half. */
static int64_t backoff_ms(const struct hd_webhook_cfg *wc, int attempts)
{
    int64_t d = wc->retry_base * 1000;
    for (int i = 1; i < attempts && d < wc->retry_max * 1000; i++)
        d *= 2;
    if (d > wc->retry_max * 1000)
        d = wc->retry_max * 1000;
    uint32_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
        r = (uint32_t)getpid();
    return d / 2 + (int64_t)(r % (uint32_t)(d / 2 + 1));
}

/* A short, printable version of an answer's body for the error line. */
static void answer_text(const struct hd_buf *resp, char *out, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < resp->len && j + 1 < n && i < 120; i++) {
        unsigned char c = (unsigned char)resp->data[i];
        out[j++] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
    }
    while (j && out[j - 1] == ' ')
        j--;
    out[j] = '\0';
}

/* Posts body; 1 when the receiver acknowledged it, 0 when not (why says
 * what it answered), never a store error. */
static int post(const struct hd_webhook_run *w, const struct hd_webhook_cfg *wc, const char *body,
                char *why, size_t n)
{
    char sig[HD_WEBHOOK_SIG_MAX], text[128];
    struct hd_buf resp;
    struct hd_err e = {0};
    long status = 0;
    hd_buf_init(&resp);
    hd_webhook_sign(wc->secret.value, wc->secret.len, hd_clock_now(w->clock), body, strlen(body),
                    sig);
    int rc = hd_webhook_post(wc->url, body, strlen(body), sig, wc->timeout, &status, &resp, &e);
    answer_text(&resp, text, sizeof text);
    hd_buf_release(&resp);
    if (rc < 0)
        snprintf(why, n, "no answer: %.200s", e.msg);
    else if (status < 200 || status > 299)
        snprintf(why, n, "HTTP %ld%s%s", status, *text ? ": " : "", text);
    return rc == 0 && status >= 200 && status <= 299;
}

/* One batch of wc: read, posted, acknowledged or failed. *more: go on. */
static int one_batch(const struct hd_webhook_run *w, const struct hd_webhook_cfg *wc,
                     const struct hd_wh_cursor *c, struct hd_webhook_sum *sum, bool *more,
                     struct hd_err *err)
{
    struct hd_wh_batch b;
    int64_t now_ms = hd_clock_now_ms(w->clock), sent, expired;
    char first[64] = "", last[64] = "", why[300];
    int rc = hd_store_wh_batch(w->st, c, wc->events, wc->batch, &b, err);
    if (rc < 0)
        return rc;
    char *body =
        batch_body(wc->name, &b, now_ms - wc->max_age * 1000, &sent, &expired, first, last, 64);
    bool ok = sent == 0 || post(w, wc, body, why, sizeof why);
    free(body);
    *more = ok;
    if (ok) {
        rc = hd_store_wh_ack(w->st, wc->name, &b, sent, expired, now_ms, err);
        if (rc == 0 && expired)
            hd_log_warn(w->log,
                        "webhook %s: %lld events expired undelivered, older than max_age "
                        "(%s .. %s)",
                        wc->name, (long long)expired, first, last);
        if (rc == 0 && sent)
            hd_log_debug(w->log, "webhook %s: %lld events acknowledged", wc->name, (long long)sent);
        sum->events += sent;
        sum->expired += expired;
        sum->batches += sent > 0;
    } else {
        int attempts = c->attempts + 1;
        int64_t delay = backoff_ms(wc, attempts);
        rc = hd_store_wh_fail(w->st, wc->name, attempts, now_ms + delay, why, err);
        hd_log_warn(w->log,
                    "webhook %s: try %d of a batch of %lld events failed (%s); next in %llds",
                    wc->name, attempts, (long long)sent, why, (long long)((delay + 999) / 1000));
        sum->failures++;
    }
    hd_wh_batch_release(&b);
    return rc;
}

static int one_webhook(const struct hd_webhook_run *w, const struct hd_webhook_cfg *wc,
                       struct hd_webhook_sum *sum, struct hd_err *err)
{
    struct hd_wh_cursor c;
    bool found, got, more = true;
    int rc = 0;
    for (int i = 0; i < BATCHES_PER_PASS && more && !(w->stop && *w->stop); i++) {
        int64_t now_ms = hd_clock_now_ms(w->clock);
        if ((rc = hd_store_wh_cursor(w->st, wc->name, true, w->from_start, now_ms, &c, &found,
                                     err)) < 0)
            return rc;
        if (c.lag == 0 || c.next_ms > now_ms)
            return 0;
        if ((rc = hd_store_wh_lease(w->st, wc->name, (int64_t)getpid(), now_ms,
                                    now_ms + (wc->timeout + 30) * 1000, process_alive, &got, err)) <
            0)
            return rc;
        if (!got) {
            sum->busy++;
            return 0;
        }
        /* read again under the lease: another process may have moved it,
         * or failed and set a later try (then the lease runs out unused) */
        if ((rc = hd_store_wh_cursor(w->st, wc->name, false, false, now_ms, &c, &found, err)) < 0)
            return rc;
        if (c.lag == 0 || c.next_ms > now_ms)
            return 0;
        if ((rc = one_batch(w, wc, &c, sum, &more, err)) < 0)
            return rc;
    }
    sum->more |= more; /* the limit, not the end: the caller goes on without a pause */
    return rc;
}

int hd_webhook_begin(const struct hd_webhook_run *w, struct hd_err *err)
{
    int64_t now_ms = hd_clock_now_ms(w->clock);
    for (size_t i = 0; i < w->cfg->nwebhooks; i++) {
        struct hd_wh_cursor c;
        bool found;
        int rc = hd_store_wh_cursor(w->st, w->cfg->webhooks[i].name, true, w->from_start, now_ms,
                                    &c, &found, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int hd_webhook_pass(const struct hd_webhook_run *w, struct hd_webhook_sum *sum, struct hd_err *err)
{
    memset(sum, 0, sizeof *sum);
    for (size_t i = 0; i < w->cfg->nwebhooks && !(w->stop && *w->stop); i++) {
        int rc = one_webhook(w, &w->cfg->webhooks[i], sum, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int hd_webhook_test(const struct hd_webhook_run *w, const struct hd_webhook_cfg *wc, long *status,
                    struct hd_buf *resp, struct hd_err *err)
{
    char id[48], at[32], sig[HD_WEBHOOK_SIG_MAX];
    int64_t now_ms = hd_clock_now_ms(w->clock);
    snprintf(id, sizeof id, "test-%lld", (long long)now_ms);
    hd_time_format_iso(now_ms / 1000, at, sizeof at);
    json_t *root = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "webhook", wc->name, "events", "id", id,
                             "type", "test", "at", at);
    char *body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    hd_webhook_sign(wc->secret.value, wc->secret.len, now_ms / 1000, body, strlen(body), sig);
    int rc = hd_webhook_post(wc->url, body, strlen(body), sig, wc->timeout, status, resp, err);
    free(body);
    return rc;
}
