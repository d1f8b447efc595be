/* test_walckpt: herald serve's writer leaves its checkpoints to another
 * connection (issue 19's receipts: SQLite's autocheckpoint ran inside the
 * group commit that crossed its bound, and every request queued behind it
 * waited for it). With hd_store_wal_defer a writer only notes the WAL's
 * size after each commit, past SQLite's own bound of 1000 pages; a passive
 * checkpoint on a second connection (hd_store_checkpoint) writes the WAL
 * back, and the writer's next commit starts the WAL over; past the hard
 * bound the writer checkpoints itself. Every row committed stays readable
 * throughout. The store's own functions on a fresh store file. */
#include "testutil.h"

#include <stdio.h>

#include "herald/store.h"

static char *dir;

static struct hd_store *open_store(bool create)
{
    struct hd_store *st = NULL;
    struct hd_err e = {0};
    struct hd_store_opts o = {.create = create};
    char *db = tu_path(dir, "h.db");
    assert_int_equal(hd_store_open(db, &o, &st, &e), 0);
    free(db);
    return st;
}

/* One commit of its own: a new receipt, numbered n. */
static void commit_one(struct hd_store *st, int n)
{
    struct hd_err e = {0};
    char gw[32];
    int64_t id = 0;
    bool added = false;
    snprintf(gw, sizeof gw, "SM%08d", n);
    struct hd_receipt r = {.message = n + 1,
                           .provider = "p",
                           .gateway_id = gw,
                           .status = "delivered",
                           .received_ms = 1000 + n};
    assert_int_equal(hd_store_receipt_add(st, &r, &id, &added, &e), 0);
    assert_true(added);
}

static int64_t rows(void)
{
    return tu_sql1(dir, "h.db", "SELECT count(*) FROM receipts");
}

/* Past SQLite's 1000 pages the WAL keeps growing until the other
 * connection checkpoints; the writer's next commit then starts it over. */
static void test_walckpt_deferred(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    struct hd_store *w = open_store(true), *c = open_store(false);
    struct hd_err e = {0};
    int pages = 0, last = 0, n = 0;
    assert_int_equal(hd_store_tune(w, 0, 1000, &e), 0);
    hd_store_wal_defer(w, 1000000, &pages);
    for (; pages <= 1500 && n < 20000; n++) {
        commit_one(w, n);
        assert_true(pages > last); /* never checkpointed by the writer */
        last = pages;
    }
    assert_true(pages > 1500);
    assert_int_equal(rows(), n);
    assert_int_equal(hd_store_checkpoint(c, &e), 0);
    assert_int_equal(pages, last); /* the writer's count moves with its commits */
    commit_one(w, n++);
    assert_true(pages < 10); /* the WAL was written back: it starts over */
    assert_int_equal(rows(), n);
    hd_store_free(c);
    hd_store_free(w);
    tu_rmdir(dir);
}

/* With nobody else checkpointing, the writer does it itself past the
 * hard bound, so the WAL stays within it. */
static void test_walckpt_hard(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    struct hd_store *w = open_store(true);
    int pages = 0, most = 0, restarts = 0, last = 0;
    hd_store_wal_defer(w, 60, &pages);
    for (int n = 0; n < 400; n++) {
        commit_one(w, n);
        if (n > 0) /* the first commit finds the WAL the store's creation left */
            most = pages > most ? pages : most;
        restarts += pages < last;
        last = pages;
    }
    assert_true(most >= 60);
    assert_true(most < 60 + 20); /* one commit's pages at most past it */
    assert_true(restarts >= 2);
    assert_int_equal(rows(), 400);
    hd_store_free(w);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walckpt_deferred),
        cmocka_unit_test(test_walckpt_hard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
