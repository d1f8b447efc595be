/* test_reservebatch: cap reservations go 16 rows to a statement
 * (queue.c's RESERVE_BATCH) and the rest one at a time; every row lands
 * with its own message, contact and channel and the batch's time,
 * campaign and category, and reserving a message again replaces its row
 * (a message requeued by a recovery keeps one reservation, with the new
 * time), for counts on both sides of the batch size. */
#include "testutil.h"

#include <sqlite3.h>

#include "herald/store.h"

static int64_t q1(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void test_reservebatch_rows(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), *path = tu_path(dir, "h.db");
    struct hd_store *st = NULL;
    struct hd_err e = {0};
    struct hd_store_opts create = {.create = true};
    assert_int_equal(hd_store_open(path, &create, &st, &e), 0);
    static const size_t counts[] = {1, 15, 16, 17, 40};
    struct hd_send_row rows[40];
    int64_t first = 1;
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
        size_t n = counts[c];
        for (size_t i = 0; i < n; i++)
            rows[i] =
                (struct hd_send_row){first + (int64_t)i, 1000 + first + (int64_t)i, (int)(i % 3)};
        assert_int_equal(hd_store_begin(st, &e), 0);
        assert_int_equal(hd_store_sends_reserve(st, rows, n, 5000 + (int64_t)c, 7, 1, &e), 0);
        assert_int_equal(hd_store_commit(st, &e), 0);
        first += (int64_t)n;
    }
    /* and the first 20 again, later: replaced, not added */
    for (size_t i = 0; i < 20; i++)
        rows[i] = (struct hd_send_row){1 + (int64_t)i, 1001 + (int64_t)i, 2};
    assert_int_equal(hd_store_begin(st, &e), 0);
    assert_int_equal(hd_store_sends_reserve(st, rows, 20, 9000, 8, 0, &e), 0);
    assert_int_equal(hd_store_commit(st, &e), 0);
    hd_store_free(st);

    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(q1(db, "SELECT count(*) FROM sends"), 1 + 15 + 16 + 17 + 40);
    assert_int_equal(q1(db, "SELECT count(*) FROM sends WHERE contact_id != message_id + 1000"), 0);
    assert_int_equal(q1(db, "SELECT count(*) FROM sends WHERE message_id <= 20 AND (at != 9000 "
                            "OR campaign_id != 8 OR category != 0 OR channel != 2)"),
                     0);
    /* the rest kept their batch's values: time 5000 + the batch's index */
    assert_int_equal(q1(db, "SELECT count(*) FROM sends WHERE message_id > 20 AND (campaign_id "
                            "!= 7 OR category != 1)"),
                     0);
    assert_int_equal(q1(db, "SELECT at FROM sends WHERE message_id = 89"), 5004);
    assert_int_equal(q1(db, "SELECT at FROM sends WHERE message_id = 49"), 5003);
    assert_int_equal(q1(db, "SELECT channel FROM sends WHERE message_id = 50"), 0);
    sqlite3_close(db);
    free(path);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reservebatch_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
