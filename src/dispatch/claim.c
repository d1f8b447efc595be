/* claim: due messages become jobs, in one short write transaction per
 * run and batch, and are rendered after it commits.
 *
 * The transaction (decide_batch) reads up to a batch of due messages with
 * their facts, decides each (check.c) and records every decision that
 * ends or defers a message; those that go on become `sending` under our
 * lease and the batch's fencing token, with a cap reservation, in two
 * statements at the end, and the commit follows at once. Because the caps
 * are read and reserved in one IMMEDIATE transaction, two dispatchers
 * never both pass the same cap; on PostgreSQL, where transactions run side
 * by side, the store's claim locks the batch's contacts before it reads
 * their sends (queue_pg.c), and those locks, the rows' locks, the
 * reservations and the token are all taken and given up inside it.
 *
 * Rendering (render_batch) comes after the commit, outside any
 * transaction: the render of a big batch, a slow template or a loaded
 * machine never holds a lock, and on PostgreSQL never leaves the session
 * idle in a transaction for [dispatch] node_lease / 2, after which the
 * server ends it (hd_store_node_guard). Nothing the caps rely on moves:
 * the reservations are committed before the render, and a message whose
 * render fails gives its reservation back afterwards (a reservation only
 * ever stands for more sends than went, never fewer). Nor does fencing: a
 * render failure is written as `sending -> render_failed` under the
 * batch's token in a second short transaction (record_failed), and a node
 * that went without a beat for longer than the lease while it rendered
 * (frozen) drops what another node took over meanwhile (hd_dsp_drop_taken)
 * before any of it goes out; the node beats between renders (hd_dsp_beat),
 * so a slow render alone never lets its lease lapse. The circuit breaker
 * notes those failures in claim order; once it pauses the campaign, the
 * rest of the batch goes back to the queue (hd_dsp_put_back, and the
 * loop's hd_dsp_release_waiting for the rendered ones) as before, when the
 * claim stopped at the failure that tripped it.
 *
 * Jobs wait in d->fresh until rendered and then join their providers'
 * queues in the order they were claimed; a claim that rolls back drops
 * them (the store still has them queued). Every KEEP_SENDING messages,
 * deciding or rendering, the claim lets submit.c feed the drivers, so that
 * the connections do not run dry meanwhile. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dispatch_int.h"
#include "herald/sms.h"

/* "INSTANCE:" into in (the instance cut as it always was), returning its
 * length; the message's digits follow it in a UUID's input */
static size_t uuid_prefix(const char *instance, char in[80])
{
    size_t n = strnlen(instance, 80 - 22);
    memcpy(in, instance, n);
    in[n++] = ':';
    return n;
}

/* message's decimal digits into out (24 bytes), returning how many:
 * written by hand, snprintf took a fifth of a UUID */
static size_t uuid_digits(int64_t message, char *out)
{
    char digits[24];
    size_t nd = 0, n = 0;
    uint64_t v = message < 0 ? 0 - (uint64_t)message : (uint64_t)message;
    do
        digits[nd++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    if (message < 0)
        digits[nd++] = '-';
    while (nd)
        out[n++] = digits[--nd];
    return n;
}

/* The UUID of the digest b: its first 16 bytes, version 8 (our own
 * derivation), variant 10. */
static void uuid_format(unsigned char b[32], char out[37])
{
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x80);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

void hd_dispatch_uuid(const char *instance, int64_t message, char out[37])
{
    char in[80];
    unsigned char b[32];
    size_t n = uuid_prefix(instance, in);
    n += uuid_digits(message, in + n);
    hd_sha256(in, n, b);
    uuid_format(b, out);
}

/* hd_dispatch_uuid for d's instance, from the hash state after its
 * prefix, in a context d keeps: EVP_Digest made, set up and freed a
 * context for every UUID, a quarter of its 4,400 instructions. */
static void message_uuid(struct hd_dispatch *d, int64_t message, char out[37])
{
    char in[80];
    unsigned char b[32];
    if (!d->uuid_base) {
        size_t n = uuid_prefix(d->instance, in);
        if (!(d->uuid_base = EVP_MD_CTX_new()) || !(d->uuid_work = EVP_MD_CTX_new()) ||
            !EVP_DigestInit_ex(d->uuid_base, EVP_sha256(), NULL) ||
            !EVP_DigestUpdate(d->uuid_base, in, n))
            HD_BUG("SHA-256 failed");
    }
    size_t n = uuid_digits(message, in);
    if (!EVP_MD_CTX_copy_ex(d->uuid_work, d->uuid_base) || !EVP_DigestUpdate(d->uuid_work, in, n) ||
        !EVP_DigestFinal_ex(d->uuid_work, b, NULL))
        HD_BUG("SHA-256 failed");
    uuid_format(b, out);
}

void hd_dsp_uuid_release(struct hd_dispatch *d)
{
    EVP_MD_CTX_free(d->uuid_base);
    EVP_MD_CTX_free(d->uuid_work);
    d->uuid_base = d->uuid_work = NULL;
}

static void enqueue(struct prov *p, struct job *j)
{
    j->next = NULL;
    if (j->camp->c.api) { /* the API's own lane: after its own waiting, before any campaign's */
        /* found through api_last, not by walking the API's waiting jobs:
         * a walk per job was quadratic, 1.5% of herald run --serve's CPU
         * while bench/api.sh posted */
        struct job **link = p->api_last ? &p->api_last->next : &p->head;
        j->next = *link;
        *link = j;
        p->api_last = j;
        if (!j->next)
            p->tail = j;
        return;
    }
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    /* stats.waiting is counted by the caller */
}

/* The message's signed links (one HMAC), as the template variables
 * unsubscribe_url and preferences_url, and marketing mail's
 * List-Unsubscribe (with [serve] unsubscribe_mailto, its mailto: form
 * too, the token in the subject). Without [serve] public_url there are
 * none; nor for a message that would not show them (a push whose parts
 * never name them): the token took 9,400 instructions a message. */
static void add_links(struct hd_dispatch *d, const struct hd_claimed *m, struct job *j,
                      json_t *data)
{
    char prefs[HD_LINK_MAX];
    struct hd_token t = {m->contact_id, m->id, j->channel, j->camp->c.category, 0};
    if (!j->camp->links[j->channel] &&
        !(j->channel == HD_CH_EMAIL && j->camp->c.category == HD_CAT_MARKETING))
        return;
    if (!hd_token_links_cached(&d->cfg->serve, &t, now_ms(d) / 1000, j->unsub_url, prefs,
                               &d->links))
        return;
    /* ASCII by construction (config_serve.c's check_url refuses other bytes
     * in public_url; the token is base64url): jansson's UTF-8 check of the
     * two links cost 3,000 instructions a message */
    json_object_set_new(data, "unsubscribe_url", json_string_nocheck(j->unsub_url));
    json_object_set_new(data, "preferences_url", json_string_nocheck(prefs));
}

/* Render, strictly, for the chosen channel. */
static int render_job(struct hd_dispatch *d, const struct hd_claimed *m, struct job *j,
                      struct hd_err *err)
{
    /* the variables are built once; hd_tpl_data's merge would copy them */
    json_t *contact = hd_tpl_contact(&m->contact),
           *data = hd_tpl_top(contact, j->camp->json, j->msg.id, NULL);
    /* an API message's own data: its keys under the message's (and as
     * "data"), over the contact's attributes */
    json_t *api = m->data ? json_loads(m->data, 0, NULL) : NULL;
    add_links(d, m, j, data);
    if (json_is_object(api))
        json_object_set(data, "data", api);
    const json_t *below[] = {d->vars, contact, api};
    struct hd_tpl_req req;
    hd_tpl_req_init(&req, &m->contact, d->cfg, now_ms(d) / 1000, data, d->fmt);
    req.variant = m->variant[0] ? m->variant : NULL;
    req.below = below;
    req.nbelow = json_is_object(api) ? 3 : 2;
    int rc = hd_render(j->camp->tpl, j->channel, &req, &j->r, err);
    json_decref(data);
    json_decref(contact);
    json_decref(api);
    if (rc < 0)
        return rc;
    hd_rendered_msg(&j->r, j->channel, &j->msg);
    if (j->unsub_url[0] && j->channel == HD_CH_EMAIL && j->msg.category == HD_CAT_MARKETING) {
        j->msg.unsubscribe_url = j->unsub_url;
        if (d->cfg->serve.unsubscribe_mailto) {
            const char *tok = strrchr(j->unsub_url, '/') + 1;
            size_t n = sizeof "unsubscribe " + strlen(tok);
            free(j->unsub_subject);
            j->unsub_subject = hd_xmalloc(n);
            snprintf(j->unsub_subject, n, "unsubscribe %s", tok);
            j->msg.unsubscribe_mailto = d->cfg->serve.unsubscribe_mailto;
            j->msg.unsubscribe_subject = j->unsub_subject;
        }
    }
    const struct hd_provider_cfg *p = d->prov[j->provider].cfg;
    if (j->channel == HD_CH_SMS) /* what the provider bills: its approved text, or the sms */
        j->msg.body = hd_rendered_sms_text(&j->r, p->type);
    if (j->channel == HD_CH_SMS && (rc = hd_rendered_sms_fits(&j->r, p, err)) < 0)
        return rc;
    if (j->channel == HD_CH_SMS && j->msg.body) {
        struct hd_sms_info info;
        hd_sms_analyze(j->msg.body, strlen(j->msg.body), &info);
        j->segments = (int)info.segments;
        size_t max = hd_driver_max_chars(p->type, HD_CH_SMS);
        if (max && info.chars > max)
            return hd_err_set(err, HD_E_INVALID,
                              "the SMS is %zu characters, over the %zu that provider '%s' (%s) "
                              "accepts",
                              info.chars, max, p->name, p->type);
    }
    size_t rough = (j->msg.title ? strlen(j->msg.title) : 0) +
                   (j->msg.body ? strlen(j->msg.body) : 0) +
                   (j->msg.data ? strlen(j->msg.data) : 0);
    /* JSON escaping makes a byte at most six (\u00XX), plus the envelope:
     * measure exactly only when the payload could be too big */
    _Static_assert(HD_PUSH_MAX_PAYLOAD == HD_TPL_PUSH_MAX, "the lint and the drivers disagree");
    if (j->channel == HD_CH_PUSH && 6 * rough + 512 > HD_PUSH_MAX_PAYLOAD) {
        size_t fcm, apns;
        json_t *o = j->msg.data ? json_loads(j->msg.data, 0, NULL) : NULL;
        hd_tpl_push_sizes(j->msg.title, j->msg.body, o, &fcm, &apns);
        json_decref(o);
        size_t size = j->msg.platform == HD_PUSH_APNS ? apns : fcm;
        if (size > HD_PUSH_MAX_PAYLOAD)
            return hd_err_set(err, HD_E_INVALID, "the push payload is %zu bytes, over %d", size,
                              HD_PUSH_MAX_PAYLOAD);
    }
    return 0;
}

/* The claim's decision on m, the k-th of its batch: recorded when it
 * ends or defers the message, else a job in d->made[k], rendered once the
 * claim commits. */
static int claim_one(struct hd_dispatch *d, struct run *run, struct hd_claimed *m, size_t k,
                     int64_t t, struct hd_err *err)
{
    struct camp *c = run->camp;
    struct hd_decision dec;
    struct msgref ref = {
        .id = m->id, .run = run->id, .contact = m->contact_id, .campaign = c->c.id};
    memcpy(ref.variant, m->variant, sizeof ref.variant);
    hd_dispatch_decide(d->cfg, &c->c, m, d->zones, t / 1000, &dec);
    struct rec x = {.from = m->state,
                    .to = dec.state,
                    .attempts = m->attempts,
                    .channel = dec.channel,
                    .ch_index = dec.ch_index,
                    .not_before = dec.not_before,
                    .word = dec.word,
                    .reason = dec.reason,
                    .detail = dec.detail,
                    .address = dec.address};
    if (dec.state != HD_ST_SENDING) {
        if (dec.state == HD_ST_DEFERRED)
            d->stats.deferred++;
        return hd_dsp_record(d, &ref, &x, err);
    }
    struct job *j = hd_xcalloc(1, sizeof *j);
    j->ref = ref;
    j->detail = dec.detail[0] ? hd_xstrdup(dec.detail) : NULL;
    j->camp = c;
    j->ext_id = hd_xstrdup(m->contact.ext_id);
    j->address = hd_xstrdup(dec.address);
    j->channel = dec.channel;
    j->ch_index = dec.ch_index;
    j->provider = dec.provider;
    j->push_alt = dec.push_alt;
    j->can_fall_back = dec.can_fall_back;
    j->attempt = m->attempts + 1;
    j->expires_at = m->expires_at;
    j->send_by = dec.send_by;
    /* only a message queued again by a recovery has a reservation of its
     * own before this claim makes one */
    for (size_t i = 0; i < m->nsent && !j->may_have_gone; i++)
        j->may_have_gone = m->sent[i].message == m->id;
    message_uuid(d, m->id, j->msg.id);
    j->msg.ref = m->id;
    j->msg.channel = dec.channel;
    j->msg.category = c->c.category;
    j->msg.to = j->address;
    j->msg.platform = dec.platform;
    j->msg.expires = m->expires_at > 0 ? m->expires_at : 0;
    j->msg.created = t / 1000;
    j->msg.user = j;
    int rc;
    if ((rc = move(m->state, HD_ST_SENDING, err)) < 0) {
        job_free(j);
        return rc;
    }
    /* marked sending and reserved against the caps together, at the end
     * of the claim */
    d->sends[d->nids] = (struct hd_send_row){m->id, m->contact_id, dec.channel};
    d->ids[d->nids++] = m->id;
    j->next = d->fresh; /* queued for its provider once rendered */
    d->fresh = j;
    d->made[k] = j;
    run->busy++;
    d->stats.waiting++;
    return 0;
}

/* After a claim commits: its messages join their providers' queues, in
 * the order they were claimed. */
static void queue_fresh(struct hd_dispatch *d)
{
    struct job *rev = NULL;
    while (d->fresh) {
        struct job *j = d->fresh;
        d->fresh = j->next;
        j->next = rev;
        rev = j;
    }
    while (rev) {
        struct job *j = rev;
        rev = j->next;
        enqueue(&d->prov[j->provider], j);
    }
}

/* After a claim rolls back: its messages are still queued in the store. */
void hd_dsp_drop_fresh(struct hd_dispatch *d)
{
    while (d->fresh) {
        struct job *j = d->fresh;
        struct run *run = run_of(d, j->ref.run);
        d->fresh = j->next;
        if (run)
            run->busy--;
        d->stats.waiting--;
        job_free(j);
    }
}

/* The campaign's channels as hd_store_claim's bits: the facts it reads
 * (and the API's data, for its hidden campaigns). */
static unsigned channel_bits(const struct hd_campaign *c)
{
    unsigned bits = c->api ? HD_CLAIM_API : 0;
    for (int i = 0; i < c->nchannels; i++)
        bits |= 1u << c->channels[i];
    return bits;
}

/* The claim's transaction for run: up to limit messages decided, those
 * that go on marked sending under one fencing token and reserved against
 * the caps, committed. *n: how many were claimed; ms: the claimed rows,
 * kept for the render (the caller releases them). */
static int decide_batch(struct hd_dispatch *d, struct run *run, int limit, int64_t t,
                        struct hd_claimed **ms, size_t *n, struct hd_err *err)
{
    int rc;
    int64_t token = 0;
    if ((rc = hd_store_begin(d->st, err)) < 0)
        return rc;
    rc =
        hd_store_claim(d->st, run->id, channel_bits(&run->camp->c), run->camp->c.category, t / 1000,
                       t / 1000 - hd_dispatch_horizon(d->cfg, &run->camp->c), limit, ms, n, err);
    if (rc == 0 && *n > 0)
        hd_sleep_ms(d->test_claim_ms);
    d->nids = 0;
    memset(d->made, 0, *n * sizeof *d->made);
    /* a campaign the circuit breaker paused meanwhile claims no more */
    for (size_t k = 0; rc == 0 && k < *n && run->camp->c.status != HD_CAMP_PAUSED; k++) {
        rc = claim_one(d, run, &(*ms)[k], k, t, err);
        if (rc == 0 && k % KEEP_SENDING == KEEP_SENDING - 1)
            rc = hd_dsp_keep_sending(d, err);
    }
    if (rc == 0)
        rc = hd_store_msgs_sending(d->st, d->ids, d->nids, d->owner, t / 1000 + LEASE_SECS,
                                   t / 1000, &token, err);
    for (struct job *j = d->fresh; token && j; j = j->next)
        j->ref.token = token; /* the batch's fencing token (PostgreSQL) */
    if (rc == 0)
        rc = hd_store_sends_reserve(d->st, d->sends, d->nids, t / 1000, run->camp->c.id,
                                    run->camp->c.category, err);
    if (rc == 0)
        rc = hd_store_commit(d->st, err);
    if (rc < 0) {
        hd_store_rollback(d->st);
        hd_dsp_drop_fresh(d);
    }
    return rc;
}

/* A job leaves the claim without going to a provider: out of d->fresh. */
static void unlink_fresh(struct hd_dispatch *d, struct job *j)
{
    struct job **link = &d->fresh;
    while (*link != j)
        link = &(*link)->next;
    *link = j->next;
    d->stats.waiting--;
}

/* The renders that failed, in claim order, in one transaction after the
 * claim's: each `sending -> render_failed` under the claim's token, its
 * reservation given back; once the circuit breaker pauses the campaign,
 * the rest back to the queue instead, as if never claimed. */
static int record_failed(struct hd_dispatch *d, size_t n, int64_t t, struct hd_err *err)
{
    int rc = hd_store_begin(d->st, err);
    for (size_t k = 0; k < n; k++) {
        struct job *j = d->made[k];
        if (!j || !j->why)
            continue;
        unlink_fresh(d, j);
        d->made[k] = NULL;
        if (rc == 0 && j->camp->c.status == HD_CAMP_PAUSED) {
            rc = hd_dsp_put_back(d, j, true, t, err); /* frees j */
            continue;
        }
        struct rec x = {.from = HD_ST_SENDING,
                        .to = HD_ST_RENDER_FAILED,
                        .attempts = j->attempt - 1,
                        .channel = j->channel,
                        .ch_index = j->ch_index,
                        .not_before = t / 1000,
                        .word = "render_failed",
                        .reason = j->why,
                        .detail = j->detail,
                        .address = j->address};
        rc = hd_dsp_leave(d, j, &x, rc, err);
    }
    if (rc == 0)
        return hd_store_commit(d->st, err);
    hd_store_rollback(d->st);
    return rc;
}

/* After the claim's commit, outside any transaction: each job rendered in
 * claim order, beating and feeding the drivers between renders; the
 * failures recorded; the rest queued for their providers. */
static int render_batch(struct hd_dispatch *d, struct hd_claimed *ms, size_t n, int64_t t,
                        struct hd_err *err)
{
    uint64_t lapses = d->lapses;
    size_t failed = 0, done = 0;
    int rc = 0;
    if (n > 0)
        hd_sleep_ms(d->test_render_ms);
    for (size_t k = 0; rc == 0 && k < n; k++) {
        struct job *j = d->made[k];
        struct hd_err rerr = {0};
        if (!j)
            continue;
        if (render_job(d, &ms[k], j, &rerr) < 0) {
            j->why = hd_xstrdup(rerr.msg);
            failed++;
        }
        if ((rc = hd_dsp_beat(d, err)) == 0 && ++done % KEEP_SENDING == 0)
            rc = hd_dsp_keep_sending(d, err);
    }
    if (rc == 0 && failed)
        rc = record_failed(d, n, t, err);
    if (rc < 0)
        return rc;
    queue_fresh(d);
    if (!d->shared || d->lapses == lapses)
        return 0;
    /* no beat for longer than the lease while rendering (frozen): what
     * another node took over meanwhile does not go out from here too */
    int64_t lost = 0;
    if ((rc = hd_dsp_drop_taken(d, &lost, err)) == 0 && lost)
        hd_log_warn(d->log,
                    "this node had no heartbeat for longer than the lease while it rendered: "
                    "another node took %lld of its messages over; they do not go out from here "
                    "(lease_lost)",
                    (long long)lost);
    return rc;
}

/* Claims from each run in turn; returns how many messages were claimed. */
int hd_dsp_claim(struct hd_dispatch *d, int room, bool lane, struct hd_err *err)
{
    int total = 0;
    int batch = d->opts.claim_batch > 0 ? d->opts.claim_batch : 512;
    for (size_t i = 0; i < d->nruns && room > 0; i++) {
        struct run *run = &d->runs[i];
        if (lane && !run->camp->c.api)
            break; /* the API's runs come first */
        struct hd_claimed *ms = NULL;
        size_t n = 0;
        int64_t t = now_ms(d);
        int rc, limit = room < batch ? room : batch;
        if (run->camp->c.status == HD_CAMP_PAUSED || run->camp->c.status == HD_CAMP_CANCELLED)
            continue;
        if ((rc = decide_batch(d, run, limit, t, &ms, &n, err)) == 0)
            rc = render_batch(d, ms, n, t, err);
        for (size_t k = 0; k < n; k++)
            hd_claimed_release(&ms[k]);
        free(ms);
        if (rc < 0) {
            hd_dsp_drop_fresh(d);
            return rc;
        }
        if (n > 0)
            hd_log_fmsg(d->log, HD_LOG_DEBUG,
                        &(struct hd_log_fields){.campaign = run->camp->c.name},
                        "dispatcher: claimed %zu messages of campaign '%s', run %lld", n,
                        run->camp->c.name, (long long)run->seq);
        run->drained = n == 0;
        total += (int)n;
        room -= (int)n;
    }
    return total;
}
