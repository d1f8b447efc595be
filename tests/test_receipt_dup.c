/* test_receipt_dup: one gateway report kept once, however often and
 * whenever it comes (issue 19). A report is unique by its message while
 * the message is known and by the gateway's id while it is not (migration
 * 20), so a copy that arrives before its message is known and another
 * after are two rows until the first is applied: applying it must drop it
 * and say it was not the first, so the message moves once. The store's
 * own functions on a fresh store, a SQLite file and again (the _pg
 * cases) a fresh PostgreSQL database with herald's schema
 * (tu_both_store_migrated), read back through tu_sql1 (sqlite3 or psql by
 * the target); then, SQLite only, the migration on a store file of the
 * version before it, whose receipts must survive the rebuild. */
#include "testboth.h"

#include "herald/store.h"

static char *dir;
static const char *db; /* the store: "h.db" in dir, or a PostgreSQL URI */
static struct tu_both stores;
TU_BOTH_FIXTURES(stores)

static struct hd_store *open_mem(void)
{
    struct hd_store *st = NULL;
    struct hd_err e = {0};
    dir = tu_tmpdir();
    db = tu_both_store_migrated(&stores, "h.db");
    char *path = stores.pg ? hd_xstrdup(db) : tu_path(dir, db);
    if (hd_store_open(path, &(struct hd_store_opts){.create = true}, &st, &e) < 0)
        fail_msg("%s", e.msg);
    free(path);
    return st;
}

static void close_store(struct hd_store *st)
{
    hd_store_free(st);
    tu_rmdir(dir); /* frees it */
    dir = NULL;
}

static int64_t rows(struct hd_store *st)
{
    (void)st;
    return tu_sql1(dir, db, "SELECT count(*) FROM receipts");
}

static void keep(struct hd_store *st, int64_t message, int64_t *id, bool *added)
{
    struct hd_err e = {0};
    struct hd_receipt r = {.message = message, .provider = "sg", .gateway_id = "ev-1",
                           .status = "delivered", .received_ms = 1000};
    assert_int_equal(hd_store_receipt_add(st, &r, id, added, &e), 0);
}

/* Sent again with its message known: the same row, nothing added. */
static void test_receipt_dup_known(void **state)
{
    (void)state;
    struct hd_store *st = open_mem();
    int64_t a = 0, b = 0;
    bool added = false;
    keep(st, 7, &a, &added);
    assert_true(added);
    keep(st, 7, &b, &added);
    assert_false(added);
    assert_int_equal(a, b);
    assert_int_equal(rows(st), 1);
    close_store(st);
}

/* Sent again while its message is unknown: the same row. */
static void test_receipt_dup_unknown(void **state)
{
    (void)state;
    struct hd_store *st = open_mem();
    int64_t a = 0, b = 0;
    bool added = false;
    keep(st, 0, &a, &added);
    assert_true(added);
    keep(st, 0, &b, &added);
    assert_false(added);
    assert_int_equal(a, b);
    assert_int_equal(rows(st), 1);
    close_store(st);
}

/* Unknown first, then known: two rows; the known one applied first, the
 * pending one's turn finds it and goes, not first; one row is left. */
static void test_receipt_dup_unknown_then_known(void **state)
{
    (void)state;
    struct hd_store *st = open_mem();
    struct hd_err e = {0};
    int64_t early = 0, late = 0;
    bool added = false, first = false;
    keep(st, 0, &early, &added);
    assert_true(added);
    keep(st, 7, &late, &added);
    assert_true(added);
    assert_int_equal(hd_store_receipt_done(st, late, 7, 2000, &first, &e), 0);
    assert_true(first);
    assert_int_equal(hd_store_receipt_done(st, early, 7, 3000, &first, &e), 0);
    assert_false(first);
    assert_int_equal(rows(st), 1);
    /* and a third copy is the known row's */
    int64_t again = 0;
    keep(st, 7, &again, &added);
    assert_false(added);
    assert_int_equal(again, late);
    close_store(st);
}

/* A store of version 19 (receipts unique on the gateway's id; migration
 * 21's columns undone too) with a
 * pending and an applied report: both kept by migration 20, and the old
 * unique key is gone while the new ones hold. */
static void test_receipt_dup_migration(void **state)
{
    (void)state;
    struct hd_store *st = open_mem();
    int64_t a = 0, b = 0;
    bool added = false;
    keep(st, 0, &a, &added);
    keep(st, 9, &b, &added);
    hd_store_free(st);
    char *path = tu_path(dir, "h.db");
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "sqlite3 '%s' \"CREATE TABLE r19 (id INTEGER PRIMARY KEY, provider TEXT NOT NULL, "
             "gateway_id TEXT NOT NULL, status TEXT NOT NULL, code TEXT, reason TEXT, gateway_at "
             "INTEGER, received_at INTEGER NOT NULL, message_id INTEGER, applied_at INTEGER, "
             "provider_id TEXT, UNIQUE (provider, gateway_id, status)); INSERT INTO r19 SELECT "
             "id, provider, 'gw-' || id, status, code, reason, gateway_at, received_at, "
             "message_id, applied_at, provider_id FROM receipts; DROP TABLE receipts; ALTER "
             "TABLE r19 RENAME TO receipts; " TU_UNDO_AFTER_20 " PRAGMA user_version = 19;\"",
             path);
    free(tu_sh(cmd));
    struct hd_err e = {0};
    struct hd_store_opts open = {0};
    assert_int_equal(hd_store_open(path, &open, &st, &e), 0);
    free(path);
    assert_int_equal(rows(st), 2);
    assert_int_equal(tu_sql1(dir, "h.db",
                             "SELECT count(*) FROM sqlite_master WHERE name IN "
                             "('receipts_message', 'receipts_unknown', 'receipts_pending')"),
                     3);
    assert_int_equal(tu_sql1(dir, "h.db",
                             "SELECT count(*) FROM sqlite_master WHERE name LIKE "
                             "'sqlite_autoindex_receipts%'"),
                     0);
    int64_t again = 0;
    keep(st, 0, &again, &added); /* 'ev-1' is a new gateway id now */
    assert_true(added);
    close_store(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_receipt_dup_known),
        cmocka_unit_test(test_receipt_dup_unknown),
        cmocka_unit_test(test_receipt_dup_unknown_then_known),
        cmocka_unit_test(test_receipt_dup_migration),
        {"test_receipt_dup_known_pg", test_receipt_dup_known, setup_pg, teardown, NULL},
        {"test_receipt_dup_unknown_pg", test_receipt_dup_unknown, setup_pg, teardown, NULL},
        {"test_receipt_dup_unknown_then_known_pg", test_receipt_dup_unknown_then_known, setup_pg,
         teardown, NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
