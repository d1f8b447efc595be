/* test_reservebatch: cap reservations go 16 rows to a statement
 * (queue.c's RESERVE_BATCH) and the rest one at a time on SQLite, and all
 * of a call's rows in one upsert from arrays on PostgreSQL (queue_pg.c);
 * either way every row lands with its own message, contact and channel
 * and the batch's time, campaign and category, and reserving a message
 * again replaces its row (a message requeued by a recovery keeps one
 * reservation, with the new time), for counts on both sides of the batch
 * size. The store is read back through tu_sql1 (sqlite3 or psql). */
#include "testboth.h"

static struct tu_both stores;
TU_BOTH_FIXTURES(stores)

static void reserve(struct hd_store *st, const struct hd_send_row *rows, size_t n, int64_t at,
                    int64_t campaign, int category)
{
    struct hd_err e = {0};
    if (hd_store_begin(st, &e) < 0 ||
        hd_store_sends_reserve(st, rows, n, at, campaign, category, &e) < 0 ||
        hd_store_commit(st, &e) < 0)
        fail_msg("reserving %zu: %s", n, e.msg);
}

static void test_reservebatch_rows(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct hd_store *st = tu_both_open(&stores, dir, "h.db");
    const char *db = tu_both_store(&stores, "h.db");
    static const size_t counts[] = {1, 15, 16, 17, 40};
    struct hd_send_row rows[40];
    int64_t first = 1;
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
        size_t n = counts[c];
        for (size_t i = 0; i < n; i++)
            rows[i] =
                (struct hd_send_row){first + (int64_t)i, 1000 + first + (int64_t)i, (int)(i % 3)};
        reserve(st, rows, n, 5000 + (int64_t)c, 7, 1);
        first += (int64_t)n;
    }
    /* and the first 20 again, later: replaced, not added */
    for (size_t i = 0; i < 20; i++)
        rows[i] = (struct hd_send_row){1 + (int64_t)i, 1001 + (int64_t)i, 2};
    reserve(st, rows, 20, 9000, 8, 0);
    hd_store_free(st);

    /* one query (one sqlite3 or psql), its columns in turn: every row is
     * there once; each has its own contact; the first 20 have the second
     * call's values; the rest kept their batch's campaign and category,
     * their batch's time (5000 + the batch's index) and each its own
     * channel (its index in the batch modulo 3) */
    char *got = tu_sql_text(
        dir, db,
        "SELECT (SELECT count(*) FROM sends), (SELECT count(*) FROM sends WHERE contact_id != "
        "message_id + 1000), (SELECT count(*) FROM sends WHERE message_id <= 20 AND (at != 9000 OR "
        "campaign_id != 8 OR category != 0 OR channel != 2)), (SELECT count(*) FROM sends WHERE "
        "message_id > 20 AND (campaign_id != 7 OR category != 1)), (SELECT at FROM sends WHERE "
        "message_id = 89), (SELECT at FROM sends WHERE message_id = 49), (SELECT channel FROM "
        "sends WHERE message_id = 50), (SELECT channel FROM sends WHERE message_id = 51), (SELECT "
        "channel FROM sends WHERE message_id = 35)");
    assert_string_equal(got, "89|0|0|0|5004|5003|0|1|2\n");
    free(got);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_reservebatch_rows, teardown),
        {"test_reservebatch_rows_pg", test_reservebatch_rows, setup_pg, teardown, NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
