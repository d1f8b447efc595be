/* clicks: group commit of RFC 8058 one-click opt-outs, of gateways'
 * status callbacks (hooks.c: the same path, a receipt instead of a consent
 * row) and of the JSON API's sends (api_messages.c: a queued message). Every click is a write, and one SQLite transaction per click costs far more in locks and
 * WAL frames than the row itself; so the server suspends a one-click
 * request whose token checked out (MHD_suspend_connection), queues it
 * here, and one writer thread takes everything queued, writes it in one
 * transaction on the server's connection (under its mutex, like every
 * other use of it), then resumes each request, which MHD hands back to the
 * server to answer: 200 once its row is committed, 503 when the batch
 * failed (nothing of it is written: then each click of it is tried again
 * in its own transaction, so that one bad write fails only itself). Under load a batch holds as
 * many clicks as arrived during the previous commit; alone, a click is written at once. Stopping
 * commits what is queued and resumes it before the thread ends, so the daemon is never stopped with
 * a request suspended; a click that comes after (a slow client past the stop's wait) is refused by
 * push, and the server writes it on its own. */
#include <microhttpd.h>
#include <stdlib.h>

#include "serve_int.h"

struct hd_clicks {
    struct hd_srv *s;
    pthread_mutex_t mu; /* guards the queue and stopping */
    pthread_cond_t cv;
    struct hd_click *head, *tail;
    bool stopping;
    pthread_t th;
};

/* The batch's status callbacks looked up before any is kept (hooks.c):
 * keeping them then only writes, and their log rows wait for COMMIT
 * together (store/log_lite.c), where a lookup between two would write the
 * rows before it one at a time. One about the same message as an earlier
 * one of the batch is looked up when it is kept, after that one moved the
 * message's state. */
static int look_hooks(struct hd_srv *s, struct hd_store *st, struct hd_click *batch,
                      struct hd_err *err)
{
    int rc = 0;
    for (struct hd_click *c = batch; c && rc == 0; c = c->next) {
        if (!c->hook)
            continue;
        bool again = false;
        for (const struct hd_click *e = batch; e != c && !again; e = e->next)
            again = e->hook && e->hook->message == c->hook->message;
        c->hook->looked = false;
        if (!again)
            rc = hd_hook_look(s, st, c->hook, err);
    }
    return rc;
}

/* One transaction for the clicks and callbacks of batch; *begun says
 * whether it got the write lock (BEGIN IMMEDIATE). */
static int write_batch(struct hd_srv *s, struct hd_store *st, struct hd_click *batch, int64_t now,
                       bool *begun, struct hd_err *err)
{
    int rc = hd_store_begin(st, err);
    *begun = rc == 0;
    if (rc == 0)
        rc = look_hooks(s, st, batch, err);
    for (struct hd_click *c = batch; c && rc == 0; c = c->next) {
        struct hd_link_change k = {c->tok.contact,
                                   c->tok.message,
                                   c->tok.channel,
                                   c->tok.category,
                                   HD_CONSENT_OPTED_OUT,
                                   "unsubscribe",
                                   now};
        rc = c->api    ? hd_api_keep(s, st, c->api, err)
             : c->hook ? hd_hook_keep(s, st, c->hook, &c->result, err)
                       : hd_store_link_consent(st, &k, &c->changed, err);
    }
    if (rc == 0)
        rc = hd_store_commit(st, err);
    if (rc < 0 && *begun)
        hd_store_rollback(st);
    for (struct hd_click *c = batch; c; c = c->next)
        c->rc = rc;
    return rc;
}

/* The batch in one transaction; when a write of it fails (not the lock:
 * each would wait for it again), each in its own, so that one bad write
 * costs the others nothing. Then every one is resumed. */
static void commit(struct hd_srv *s, struct hd_click *batch)
{
    struct hd_err err = {0};
    int64_t now = hd_clock_now(s->clock);
    bool begun = false;
    pthread_mutex_lock(&s->mu);
    struct hd_store *st = hd_srv_store(s, &err);
    int rc = st ? write_batch(s, st, batch, now, &begun, &err) : HD_E_STORE;
    for (struct hd_click *c = batch, *next; begun && rc < 0 && batch->next && c; c = next) {
        next = c->next;
        c->next = NULL;
        write_batch(s, st, c, now, &begun, &err);
        c->next = next;
    }
    int failed = 0;
    const struct hd_click *one = NULL;
    for (struct hd_click *c = batch; c; c = c->next) {
        if (!st)
            c->rc = rc;
        if (c->rc < 0) {
            failed++;
            one = c;
        } else if (!c->hook && !c->api && c->changed)
            hd_unsub_note(s, &c->tok);
    }
    if (failed == 1)
        hd_log_error(s->log, "serve: recording %s: %s",
                     one->api    ? "an API send"
                     : one->hook ? "a gateway's status callback"
                                 : "an opt-out",
                     err.msg);
    else if (failed)
        hd_log_error(s->log, "serve: recording %d opt-outs and status callbacks: %s", failed,
                     err.msg);
    pthread_mutex_unlock(&s->mu);
    /* the server may answer and free a click as soon as it is resumed */
    for (struct hd_click *c = batch, *next; c; c = next) {
        next = c->next;
        c->done = true;
        MHD_resume_connection(c->conn);
    }
}

static void *writer(void *ud)
{
    struct hd_clicks *b = ud;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->head && !b->stopping)
            pthread_cond_wait(&b->cv, &b->mu);
        struct hd_click *batch = b->head;
        if (!batch)
            break;
        b->head = b->tail = NULL;
        pthread_mutex_unlock(&b->mu);
        commit(b->s, batch);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

int hd_clicks_start(struct hd_srv *s, struct hd_clicks **out, struct hd_err *err)
{
    struct hd_clicks *b = hd_xcalloc(1, sizeof *b);
    b->s = s;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    if (pthread_create(&b->th, NULL, writer, b) != 0) {
        pthread_cond_destroy(&b->cv);
        pthread_mutex_destroy(&b->mu);
        free(b);
        *out = NULL;
        return hd_err_set(err, HD_E_IO, "cannot start the opt-out writer thread");
    }
    *out = b;
    return 0;
}

bool hd_clicks_push(struct hd_clicks *b, struct hd_click *c)
{
    c->next = NULL;
    c->done = false;
    /* suspended before the writer can see it, so never resumed first; and
     * outside the queue's lock, which the writer takes to empty the queue:
     * MHD's suspend was a system call (epoll_ctl, when the workers used
     * epoll), and the workers held the lock through it */
    MHD_suspend_connection(c->conn);
    pthread_mutex_lock(&b->mu);
    bool ok = !b->stopping;
    if (ok) {
        if (b->tail)
            b->tail->next = c;
        else
            b->head = c;
        b->tail = c;
        pthread_cond_signal(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    /* refused: the caller answers at once, which MHD allows on a suspended
     * connection; this thread, its daemon's, resumes it once the handler
     * has returned */
    if (!ok)
        MHD_resume_connection(c->conn);
    return ok;
}

void hd_clicks_stop(struct hd_clicks *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    bool first = !b->stopping;
    b->stopping = true;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (first)
        pthread_join(b->th, NULL);
}

void hd_clicks_free(struct hd_clicks *b)
{
    if (!b)
        return;
    hd_clicks_stop(b);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}
