/* checkpoint: the writer's WAL written back by the main loop, not by the
 * writer (issue 19's receipts, and every other group commit of clicks.c).
 *
 * The server's connection commits every batch of one-clicks, status
 * callbacks and API sends. SQLite's own autocheckpoint runs inside the
 * commit that crosses its bound, under the store's mutex: that batch, and
 * every request queued behind it, waited for thousands of pages to be
 * copied back and two fsyncs (330 ms at worst, a few times a second, under
 * the receipts bench, while a commit takes about 1 ms). So the writer's
 * connection only notes the WAL's size after each commit
 * (hd_store_wal_defer), and the main loop, which wakes every 50 ms anyway,
 * runs a passive checkpoint on a connection of its own once the WAL holds
 * the bound: it takes no lock the writer waits for, and its fsyncs are
 * its own. Should it fall behind (or fail to open), the writer
 * checkpoints itself past twice the bound, as before. Commits stay as
 * durable as they were: the checkpoint moves pages that are committed. */
#include "serve_int.h"

void hd_srv_checkpoint(struct hd_srv *s, int wal_pages)
{
    struct hd_err err = {0};
    if (__atomic_load_n(&s->wal_pages, __ATOMIC_RELAXED) < wal_pages)
        return;
    /* opened read-write: a checkpoint writes the database file */
    struct hd_store_opts o = hd_srv_store_opts(s, false);
    int rc = s->ckpt_st ? 0 : hd_store_open(s->db_path, &o, &s->ckpt_st, &err);
    if (rc == 0)
        rc = hd_store_checkpoint(s->ckpt_st, &err);
    if (rc < 0) {
        pthread_mutex_lock(&s->mu);
        hd_log_warn(s->log, "serve: writing the WAL back: %s", err.msg);
        pthread_mutex_unlock(&s->mu);
        hd_store_free(s->ckpt_st);
        s->ckpt_st = NULL;
    }
    /* until the next commit says otherwise: a WAL its writer has not
     * restarted yet is not checkpointed again every tick */
    __atomic_store_n(&s->wal_pages, 0, __ATOMIC_RELAXED);
}
