/* driver: the driver table, the worker pool for blocking drivers, and the
 * helpers every driver shares (UUIDs, digests, results).
 *
 * Submitted messages are deep-copied into a FIFO; each worker takes up to
 * ops->batch of them, sends them on its own connection, and appends the
 * results to a list that poll() hands over. One mutex guards both lists;
 * two condition variables wake workers (work) and pollers (done).
 *
 * A pause is the gate in front of the wire: nothing is taken while it
 * holds, and an HTTP loop asks the gate again (hd_drv_gate, no lock) right
 * before each request it starts. A pause is this driver's (paused_until,
 * monotonic) or the provider's slot in the database's pause file (real
 * time; other processes close it). A throttled answer closes the gate
 * before it takes the time it logs (hd_driver_throttled), and the gate
 * takes the time before it looks: a request the gate let through began
 * before the answer that paused, one that began after was held. */
#include "driver_int.h"

#include "herald/mime.h"
#include "herald/time.h"
#include "herald/valid.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct hd_drv_ops *const drivers[] = {
    &hd_drv_outbox, &hd_drv_smtp,     &hd_drv_twilio,     &hd_drv_http,
    &hd_drv_fcm,    &hd_drv_apns,     &hd_drv_aliyun_sms, &hd_drv_tencent_sms,
    &hd_drv_jpush,  &hd_drv_hms_push, &hd_drv_wechat,     &hd_drv_inbox};

static const char *const outcome_names[] = {"accepted", "temporary", "permanent", "throttled"};

const char *hd_outcome_name(int outcome)
{
    return outcome >= 0 && outcome < 4 ? outcome_names[outcome] : "?";
}

static const struct hd_drv_ops *find_ops(const char *type)
{
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
        if (strcmp(drivers[i]->type, type) == 0)
            return drivers[i];
    return NULL;
}

bool hd_driver_serves(const char *type, int channel)
{
    const struct hd_drv_ops *ops = find_ops(type);
    return ops && (ops->channels & (1u << channel));
}

static const char *const push_types[HD_PUSH_COUNT] = {"fcm", "apns", "jpush", "hms_push", "wechat"};

int hd_driver_push_platform(const char *type)
{
    for (int p = 0; p < HD_PUSH_COUNT; p++)
        if (strcmp(type, push_types[p]) == 0)
            return p;
    return -1;
}

const char *hd_push_platform_name(int platform)
{
    static const char *const names[HD_PUSH_COUNT] = {"fcm", "apns", "jpush", "hms", "wechat"};
    return platform >= 0 && platform < HD_PUSH_COUNT ? names[platform] : "fcm";
}

size_t hd_driver_max_chars(const char *type, int channel)
{
    const struct hd_drv_ops *ops = find_ops(type);
    return ops && channel == HD_CH_SMS ? ops->sms_max_chars : 0;
}

int hd_driver_sms_need(const char *type)
{
    const struct hd_drv_ops *ops = find_ops(type);
    return ops ? ops->sms_need : 0;
}

size_t hd_driver_sms_param_max(const char *type)
{
    const struct hd_drv_ops *ops = find_ops(type);
    return ops ? ops->sms_param_max : 0;
}

size_t hd_driver_window(const struct hd_provider_cfg *cfg)
{
    const struct hd_drv_ops *ops = find_ops(cfg->type);
    size_t n = cfg->connections ? cfg->connections : 1;
    if (!ops)
        return n;
    if (ops->loop)
        return 4 * n;
    /* a worker sends what it takes in one session: give it enough to
     * make sessions worth their connection set-up */
    size_t per = ops->batch > 64 ? 64 : ops->batch > 2 ? ops->batch : 2;
    return per * n;
}

void hd_uuid(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        HD_BUG("no randomness for a UUID");
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static EVP_MD *sha256_md;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!sha256_md)
        HD_BUG("OpenSSL has no SHA-256");
}

void hd_sha256(const void *data, size_t n, unsigned char out[32])
{
    /* fetched once: EVP_sha256() makes each digest look the algorithm up
     * again, which took half the time of hashing a push message */
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    unsigned int len = 0;
    pthread_once(&once, sha256_fetch);
    if (EVP_Digest(data, n, out, &len, sha256_md, NULL) != 1)
        HD_BUG("SHA-256 failed");
}

void hd_sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char md[32];
    static const char hex[] = "0123456789abcdef";
    hd_sha256(data, n, md);
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

void hd_mail_of(struct hd_mail *mail, const struct hd_msg *m, const char *from,
                const char *reply_to)
{
    *mail = (struct hd_mail){.from = from,
                             .reply_to = reply_to,
                             .to = m->to,
                             .subject = m->subject,
                             .text = m->text,
                             .html = m->html,
                             .message_id = m->id,
                             .ref = m->ref,
                             .date = m->created,
                             .unsubscribe_url = m->unsubscribe_url,
                             .unsubscribe_mailto = m->unsubscribe_mailto,
                             .unsubscribe_subject = m->unsubscribe_subject};
}

void hd_result_init(struct hd_result *r, const struct hd_msg *m)
{
    memset(r, 0, sizeof *r);
    hd_strcpy_cut(r->id, sizeof r->id, m->id);
    r->user = m->user;
}

void hd_result_set(struct hd_result *r, int outcome, int code, const char *fmt, ...)
{
    va_list ap;
    r->outcome = outcome;
    r->code = code;
    va_start(ap, fmt);
    vsnprintf(r->text, sizeof r->text, fmt, ap);
    va_end(ap);
    hd_utf8_scrub(r->text); /* a gateway's words cut to the buffer, mid-character */
}

/* ---- the pool ------------------------------------------------------------------ */

struct qmsg {
    struct hd_msg m; /* strings point into text, one block with the qmsg */
    char text[];
};

struct hd_driver {
    const struct hd_drv_ops *ops;
    void *conf;
    struct hd_log *log;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    struct qmsg **q; /* FIFO: q[qhead .. qhead+qlen) */
    size_t qhead, qlen, qcap;
    struct hd_result *res, *spare; /* results given; the other buffer, empty */
    size_t nres, capres, capspare;
    size_t pending;
    /* hd_clock_mono_ms: nothing is taken before; written under mu, read
     * without it (hd_drv_gate) */
    _Atomic int64_t paused_until;
    _Atomic(struct hd_pause_slot *) shared; /* the pause file's slot, or NULL */
    pthread_t *threads;
    unsigned nthreads;
    bool stop;
};

/* The string fields of a message, which a copy carries with it. */
static const size_t str_fields[] = {offsetof(struct hd_msg, to),
                                    offsetof(struct hd_msg, from),
                                    offsetof(struct hd_msg, reply_to),
                                    offsetof(struct hd_msg, subject),
                                    offsetof(struct hd_msg, text),
                                    offsetof(struct hd_msg, html),
                                    offsetof(struct hd_msg, unsubscribe_url),
                                    offsetof(struct hd_msg, unsubscribe_mailto),
                                    offsetof(struct hd_msg, unsubscribe_subject),
                                    offsetof(struct hd_msg, title),
                                    offsetof(struct hd_msg, body),
                                    offsetof(struct hd_msg, data),
                                    offsetof(struct hd_msg, fcm),
                                    offsetof(struct hd_msg, apns),
                                    offsetof(struct hd_msg, click_action),
                                    offsetof(struct hd_msg, sms_template),
                                    offsetof(struct hd_msg, sms_params),
                                    offsetof(struct hd_msg, wechat_template),
                                    offsetof(struct hd_msg, wechat_data),
                                    offsetof(struct hd_msg, wechat_url),
                                    offsetof(struct hd_msg, wechat_page)};
#define NSTR (sizeof str_fields / sizeof str_fields[0])

static const char **str_field(struct hd_msg *m, size_t i)
{
    return (const char **)(void *)((char *)m + str_fields[i]);
}

/* One allocation for the message and all its strings. */
static struct qmsg *copy_msg(const struct hd_msg *m)
{
    struct hd_msg src = *m;
    size_t len[NSTR], total = 0;
    for (size_t i = 0; i < NSTR; i++) {
        const char *v = *str_field(&src, i);
        len[i] = v ? strlen(v) + 1 : 0;
        total += len[i];
    }
    struct qmsg *q = hd_xmalloc(sizeof *q + total);
    q->m = src;
    char *at = q->text;
    for (size_t i = 0; i < NSTR; i++) {
        const char **f = str_field(&q->m, i);
        *f = len[i] ? memcpy(at, *str_field(&src, i), len[i]) : NULL;
        at += len[i];
    }
    return q;
}

static void free_msg(struct qmsg *q)
{
    free(q);
}

/* How long the pause still lasts at mono (ms), or <= 0: ours, or another
 * process's through the pause file. */
static int64_t pause_left(struct hd_driver *d, int64_t mono)
{
    int64_t left = atomic_load(&d->paused_until) - mono;
    struct hd_pause_slot *s = atomic_load_explicit(&d->shared, memory_order_relaxed);
    int64_t until = s ? hd_pause_slot_until(s) : 0;
    if (until > 0) {
        int64_t shared = until - hd_clock_now_ms(NULL);
        if (shared > left)
            left = shared;
    }
    return left;
}

static int64_t held(struct hd_driver *d)
{
    return pause_left(d, hd_clock_mono_ms());
}

bool hd_drv_gate(struct hd_driver *d, int64_t *now)
{
    *now = hd_clock_mono_ms();
    /* the time first, then the pause: see the design above */
    atomic_thread_fence(memory_order_seq_cst);
    return pause_left(d, *now) <= 0;
}

void hd_drv_untake(struct hd_driver *d, const struct hd_msg *const *m, size_t n)
{
    pthread_mutex_lock(&d->mu);
    if (d->qhead < n) { /* make room at the front */
        if (d->qlen + n > d->qcap) {
            d->qcap = d->qlen + n;
            d->q = hd_xrealloc(d->q, d->qcap * sizeof *d->q);
        }
        memmove(d->q + n, d->q + d->qhead, d->qlen * sizeof *d->q);
        d->qhead = n;
    }
    d->qhead -= n;
    d->qlen += n;
    for (size_t i = 0; i < n; i++) /* the message is the qmsg's first member */
        d->q[d->qhead + i] = (struct qmsg *)(void *)m[i];
    pthread_mutex_unlock(&d->mu);
}

/* With d->mu held: waits for work (or stop) up to ms. */
static void wait_ms(struct hd_driver *d, int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&d->work, &d->mu, &until);
}

static void *worker(void *arg)
{
    struct hd_driver *d = arg;
    void *conn = NULL;
    size_t cap = d->ops->batch ? d->ops->batch : 1;
    struct qmsg **mine = hd_xcalloc(cap, sizeof *mine);
    const struct hd_msg **msgs = hd_xcalloc(cap, sizeof *msgs);
    struct hd_result *res = hd_xcalloc(cap, sizeof *res);
    for (;;) {
        size_t n = 0;
        int64_t hold = 0;
        pthread_mutex_lock(&d->mu);
        while ((!d->qlen || (hold = held(d)) > 0) && !d->stop) {
            if (d->qlen)
                wait_ms(d, hold);
            else
                pthread_cond_wait(&d->work, &d->mu);
        }
        if ((!d->qlen || held(d) > 0) && d->stop) {
            pthread_mutex_unlock(&d->mu);
            break;
        }
        /* a fair share of what waits, so that one worker waking first does
         * not take it all while the other connections stand idle */
        size_t share = (d->qlen + d->nthreads - 1) / d->nthreads;
        if (share > cap)
            share = cap;
        while (n < share && d->qlen) {
            mine[n++] = d->q[d->qhead++];
            d->qlen--;
        }
        if (!d->qlen)
            d->qhead = 0;
        pthread_mutex_unlock(&d->mu);
        for (size_t i = 0; i < n; i++) {
            msgs[i] = &mine[i]->m;
            hd_result_init(&res[i], msgs[i]);
        }
        d->ops->send(d->conf, &conn, msgs, n, res);
        pthread_mutex_lock(&d->mu);
        if (d->nres + n > d->capres) {
            while (d->nres + n > d->capres)
                d->capres = d->capres ? d->capres * 2 : 64;
            d->res = hd_xrealloc(d->res, d->capres * sizeof *d->res);
        }
        memcpy(d->res + d->nres, res, n * sizeof *res);
        d->nres += n;
        pthread_cond_broadcast(&d->done);
        pthread_mutex_unlock(&d->mu);
        for (size_t i = 0; i < n; i++)
            free_msg(mine[i]);
    }
    if (conn && d->ops->conn_close)
        d->ops->conn_close(d->conf, conn);
    free(mine);
    free(msgs);
    free(res);
    return NULL;
}

static void *async_main(void *arg)
{
    struct hd_driver *d = arg;
    d->ops->loop(d->conf, d);
    return NULL;
}

int hd_drv_take(struct hd_driver *d, const struct hd_msg **out, size_t max, int wait)
{
    size_t n = 0;
    pthread_mutex_lock(&d->mu);
    int64_t hold = held(d);
    if (wait > 0 && !d->stop && (!d->qlen || hold > 0))
        wait_ms(d, hold > 0 && hold < wait ? hold : wait);
    hold = held(d);
    while (hold <= 0 && n < max && d->qlen) {
        out[n++] = &d->q[d->qhead++]->m;
        d->qlen--;
    }
    if (!d->qlen)
        d->qhead = 0;
    /* stopping while paused: what waits is dropped, and the dispatcher
     * queues it again */
    bool stopping = d->stop && !n && (!d->qlen || hold > 0);
    pthread_mutex_unlock(&d->mu);
    return stopping ? -1 : (int)n;
}

void hd_drv_give(struct hd_driver *d, const struct hd_msg *const *m, const struct hd_result *r,
                 size_t n)
{
    if (!n)
        return;
    pthread_mutex_lock(&d->mu);
    if (d->nres + n > d->capres) {
        while (d->nres + n > d->capres)
            d->capres = d->capres ? d->capres * 2 : 64;
        d->res = hd_xrealloc(d->res, d->capres * sizeof *d->res);
    }
    memcpy(d->res + d->nres, r, n * sizeof *r);
    d->nres += n;
    pthread_cond_broadcast(&d->done);
    pthread_mutex_unlock(&d->mu);
    for (size_t i = 0; i < n; i++)
        free_msg((struct qmsg *)(void *)m[i]); /* the message is the qmsg's first member */
}

size_t hd_drv_queued(struct hd_driver *d, int64_t *hold_ms)
{
    pthread_mutex_lock(&d->mu);
    int64_t hold = held(d);
    size_t n = hold > 0 ? 0 : d->qlen;
    if (hold_ms)
        *hold_ms = hold > 0 && d->qlen ? hold : -1;
    pthread_mutex_unlock(&d->mu);
    return n;
}

/* With d->mu held: the pause reaches the pause file, in real time. */
static void share_pause(struct hd_driver *d, int64_t mono, int64_t until_ms)
{
    struct hd_pause_slot *s = atomic_load_explicit(&d->shared, memory_order_relaxed);
    if (s)
        hd_pause_slot_raise(s, hd_clock_now_ms(NULL) + (until_ms - mono));
}

void hd_driver_pause(struct hd_driver *d, int64_t until_ms)
{
    pthread_mutex_lock(&d->mu);
    if (until_ms > atomic_load(&d->paused_until)) {
        atomic_store(&d->paused_until, until_ms);
        share_pause(d, hd_clock_mono_ms(), until_ms);
    }
    pthread_mutex_unlock(&d->mu);
}

int64_t hd_driver_throttled(struct hd_driver *d, int64_t after_ms)
{
    pthread_mutex_lock(&d->mu);
    int64_t before = atomic_load(&d->paused_until);
    atomic_store(&d->paused_until, INT64_MAX); /* closed while the time is taken */
    int64_t now = hd_clock_mono_ms();
    int64_t until = now + after_ms > before ? now + after_ms : before;
    atomic_store(&d->paused_until, until);
    share_pause(d, now, until);
    pthread_mutex_unlock(&d->mu);
    return now;
}

void hd_driver_share_pause(struct hd_driver *d, struct hd_pause_slot *slot)
{
    atomic_store(&d->shared, slot);
}

size_t hd_driver_withdraw(struct hd_driver *d, hd_withdraw_fn fn, void *ud)
{
    size_t kept = 0, n = 0;
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < d->qlen; i++) {
        struct qmsg *q = d->q[d->qhead + i];
        if (fn(ud, q->m.user)) {
            free_msg(q);
            n++;
        } else {
            d->q[d->qhead + kept++] = q;
        }
    }
    d->qlen = kept;
    if (!d->qlen)
        d->qhead = 0;
    d->pending -= n;
    pthread_mutex_unlock(&d->mu);
    return n;
}

int hd_driver_open(const struct hd_provider_cfg *cfg, struct hd_log *log, struct hd_driver **out,
                   struct hd_err *err)
{
    const struct hd_drv_ops *ops = find_ops(cfg->type);
    if (!ops)
        return hd_err_set(err, HD_E_CONFIG, "provider '%s': type '%s' has no driver yet", cfg->name,
                          cfg->type);
    struct hd_driver *d = hd_xcalloc(1, sizeof *d);
    int rc;
    d->ops = ops;
    d->log = log;
    if ((rc = ops->init(cfg, log, &d->conf, err)) < 0) {
        free(d);
        return hd_err_prefix(err, "provider '%s'", cfg->name);
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->work, NULL);
    pthread_cond_init(&d->done, NULL);
    d->nthreads = ops->loop          ? (ops->loop_threads ? ops->loop_threads(d->conf) : 1)
                  : cfg->connections ? cfg->connections
                                     : 1;
    d->threads = hd_xcalloc(d->nthreads, sizeof *d->threads);
    for (unsigned i = 0; i < d->nthreads; i++)
        if (pthread_create(&d->threads[i], NULL, ops->loop ? async_main : worker, d) != 0)
            HD_BUG("cannot start a driver thread: %s", strerror(errno));
    hd_log_debug(log, "provider '%s': %s driver open, %u %s, %u connections", cfg->name, cfg->type,
                 d->nthreads, ops->loop ? "event loops" : "workers",
                 cfg->connections ? cfg->connections : 1);
    *out = d;
    return 0;
}

int hd_driver_submit(struct hd_driver *d, const struct hd_msg *m, struct hd_err *err)
{
    if (!(d->ops->channels & (1u << m->channel)))
        return hd_err_set(err, HD_E_INVALID, "a %s provider cannot send %s messages", d->ops->type,
                          hd_channel_name(m->channel));
    struct qmsg *q = copy_msg(m);
    pthread_mutex_lock(&d->mu);
    if (d->qhead + d->qlen == d->qcap) {
        if (d->qhead) {
            memmove(d->q, d->q + d->qhead, d->qlen * sizeof *d->q);
            d->qhead = 0;
        } else {
            d->qcap = d->qcap ? d->qcap * 2 : 64;
            d->q = hd_xrealloc(d->q, d->qcap * sizeof *d->q);
        }
    }
    d->q[d->qhead + d->qlen++] = q;
    d->pending++;
    /* a worker that wakes takes a whole batch: once the queue is longer than
     * the pool, every worker is awake or will find work when it finishes */
    if (d->qlen <= d->nthreads)
        pthread_cond_signal(&d->work);
    pthread_mutex_unlock(&d->mu);
    if (d->ops->wake)
        d->ops->wake(d->conf);
    return 0;
}

int hd_driver_poll(struct hd_driver *d, int timeout_ms, hd_result_cb cb, void *ud)
{
    struct hd_result *got = NULL;
    size_t n = 0;
    pthread_mutex_lock(&d->mu);
    if (!d->nres && timeout_ms > 0 && d->pending) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!d->nres && d->pending &&
               pthread_cond_timedwait(&d->done, &d->mu, &until) != ETIMEDOUT)
            ;
    }
    size_t cap = 0;
    if (d->nres) {
        /* swapped for the spare: the buffers are kept, not freed and grown
         * again at every poll */
        got = d->res;
        n = d->nres;
        cap = d->capres;
        d->res = d->spare;
        d->capres = d->capspare;
        d->spare = NULL;
        d->nres = d->capspare = 0;
        d->pending -= n;
    }
    pthread_mutex_unlock(&d->mu);
    for (size_t i = 0; i < n; i++)
        cb(ud, &got[i]);
    if (got) {
        pthread_mutex_lock(&d->mu);
        if (!d->spare) {
            d->spare = got;
            d->capspare = cap;
            got = NULL;
        }
        pthread_mutex_unlock(&d->mu);
        free(got);
    }
    return (int)n;
}

size_t hd_driver_pending(struct hd_driver *d)
{
    pthread_mutex_lock(&d->mu);
    size_t n = d->pending;
    pthread_mutex_unlock(&d->mu);
    return n;
}

void hd_driver_free(struct hd_driver *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_broadcast(&d->work);
    pthread_mutex_unlock(&d->mu);
    if (d->ops->wake)
        d->ops->wake(d->conf);
    for (unsigned i = 0; i < d->nthreads; i++)
        pthread_join(d->threads[i], NULL);
    for (size_t i = 0; i < d->qlen; i++)
        free_msg(d->q[d->qhead + i]);
    free(d->q);
    free(d->res);
    free(d->spare);
    free(d->threads);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->work);
    pthread_cond_destroy(&d->done);
    d->ops->fini(d->conf);
    free(d);
}

bool hd_driver_has_credential(const char *type)
{
    const struct hd_drv_ops *ops = find_ops(type);
    return ops && ops->credential;
}

bool hd_driver_offer_credential(struct hd_driver *d, const char *value, int64_t issued_at)
{
    return d->ops->offer_credential && value && d->ops->offer_credential(d->conf, value, issued_at);
}

bool hd_driver_credential(struct hd_driver *d, char **value, int64_t *issued_at)
{
    *value = d->ops->credential ? d->ops->credential(d->conf, issued_at) : NULL;
    return *value != NULL;
}
