/* test_consent_check: consent's channel CHECK after migration 23 (issue
 * 18, one-click at speed), and push_tokens' and suppressions' after 24
 * (issue 25, import at speed). The rule is 18's (the five channels, nothing
 * else), written as comparisons so that SQLite codes an insert into
 * consent without a temporary b-tree (an IN list of more than two
 * constants is one, built for every run of the statement, every click).
 * Checked: every channel accepted and another refused with the table as
 * it was; no OpenEphemeral in an insert's program; a click through
 * hd_store_link_consent still makes one consent row and one consent_log
 * row, a repeat neither; the migration run again over its own table (a
 * database stepped back to version 18) keeps the rows and the triggers. */
#include "testutil.h"

#include <sqlite3.h>

#include "herald/config.h"
#include "herald/store.h"

#define INSERT_CONSENT                                                                             \
    "INSERT INTO consent (contact_id, channel, category, status, source, updated_at) "             \
    "VALUES (1, ?1, 'marketing', 'opted_out', 'test', 5)"

struct fx {
    char *dir, *path;
    sqlite3 *db;
};

static int setup(void **state)
{
    struct fx *fx = hd_xcalloc(1, sizeof *fx);
    fx->dir = tu_tmpdir();
    fx->path = tu_path(fx->dir, "h.db");
    struct hd_store *st = NULL;
    struct hd_err e = {0};
    struct hd_store_opts create = {.create = true};
    assert_int_equal(hd_store_open(fx->path, &create, &st, &e), 0);
    hd_store_free(st);
    assert_int_equal(sqlite3_open(fx->path, &fx->db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(fx->db,
                                  "PRAGMA foreign_keys = ON;"
                                  "INSERT INTO contacts (id, ext_id, email, created_at, "
                                  "updated_at) VALUES (1, 'c1', 'c1@example.com', 1, 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    sqlite3_close(fx->db);
    free(fx->path);
    tu_rmdir(fx->dir); /* frees it */
    free(fx);
    return 0;
}

static int64_t count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

/* the result code of one insert of channel ch */
static int insert(sqlite3 *db, const char *ch)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, INSERT_CONSENT, -1, &s, NULL), SQLITE_OK);
    sqlite3_bind_text(s, 1, ch, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc;
}

static void test_consent_check_channels(void **state)
{
    struct fx *fx = *state;
    const char *const ok[] = {"email", "sms", "push", "inbox", "wechat"};
    const char *const bad[] = {"fax", "Email", "", "email "};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_int_equal(insert(fx->db, ok[i]), SQLITE_DONE);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(insert(fx->db, bad[i]), SQLITE_CONSTRAINT);
        assert_int_equal(sqlite3_extended_errcode(fx->db), SQLITE_CONSTRAINT_CHECK);
        assert_contains(sqlite3_errmsg(fx->db), "channel");
    }
    assert_int_equal(count(fx->db, "SELECT count(*) FROM consent"), 5);
    assert_int_equal(count(fx->db, "SELECT count(*) FROM consent_log"), 5);
}

/* the OpenEphemeral opcodes of the program of sql, an insert */
static int ephemerals(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    char explain[512];
    snprintf(explain, sizeof explain, "EXPLAIN %s", sql);
    assert_int_equal(sqlite3_prepare_v2(db, explain, -1, &s, NULL), SQLITE_OK);
    int ops = 0, ephemeral = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        ops++;
        ephemeral += strcmp((const char *)sqlite3_column_text(s, 1), "OpenEphemeral") == 0;
    }
    sqlite3_finalize(s);
    assert_true(ops > 10); /* the program was read */
    return ephemeral;
}

static void test_consent_check_no_temp_btree(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(ephemerals(fx->db, INSERT_CONSENT), 0);
}

/* Migration 24 did for push_tokens and suppressions what 23 did for
 * consent, and no table written per contact imported, per message or per
 * report builds one either (campaigns, runs, attributes and users, written
 * once in a while, keep their IN lists). */
static void test_hot_inserts_no_temp_btree(void **state)
{
    struct fx *fx = *state;
    const char *const hot[] = {"contacts",  "push_tokens",  "suppressions", "consent_log",
                               "messages",  "attempts",     "sends",        "log_totals",
                               "events",    "receipts",     "gateway_ids",  "inbox",
                               "api_messages"};
    for (size_t i = 0; i < sizeof hot / sizeof hot[0]; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "INSERT INTO %s DEFAULT VALUES", hot[i]);
        if (ephemerals(fx->db, sql) != 0)
            fail_msg("an insert into %s builds a temporary b-tree", hot[i]);
    }
    /* the rules hold: a platform or channel outside them is refused */
    assert_int_equal(sqlite3_exec(fx->db,
                                  "INSERT INTO push_tokens VALUES (1, 'hms', 't', 1);"
                                  "INSERT INTO suppressions (address, channel, reason, "
                                  "created_at) VALUES ('a@example.com', 'wechat', 'r', 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(fx->db, "INSERT INTO push_tokens VALUES (1, 'fax', 't', 1)",
                                  NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    assert_int_equal(sqlite3_exec(fx->db,
                                  "INSERT INTO suppressions (address, channel, reason, "
                                  "created_at) VALUES ('b@example.com', 'inbox', 'r', 1)",
                                  NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
}

static void test_consent_check_click(void **state)
{
    struct fx *fx = *state;
    struct hd_store *st = NULL;
    struct hd_err e = {0};
    assert_int_equal(hd_store_open(fx->path, NULL, &st, &e), 0);
    tu_sent_message("", fx->path, 1, 77); /* the link's message, to contact 1 */
    struct hd_link_change k = {
        1, 77, HD_CH_WECHAT, HD_CAT_MARKETING, HD_CONSENT_OPTED_OUT, "unsubscribe", 100};
    bool changed = false;
    assert_int_equal(hd_store_link_consent(st, &k, &changed, &e), 0);
    assert_true(changed);
    k.at = 200;
    assert_int_equal(hd_store_link_consent(st, &k, &changed, &e), 0);
    assert_false(changed);
    hd_store_free(st);
    assert_int_equal(count(fx->db, "SELECT count(*) FROM consent WHERE channel = 'wechat' AND "
                                   "status = 'opted_out' AND updated_at = 100 AND "
                                   "message_id = 77"),
                     1);
    assert_int_equal(count(fx->db, "SELECT count(*) FROM consent_log WHERE channel = 'wechat' "
                                   "AND at = 100"),
                     1);
    assert_int_equal(count(fx->db, "SELECT count(*) FROM consent_log"), 1);
}

/* back to version 18 (the undo of every later migration but those that
 * run again as they are), then opened: 23 runs over its own table */
static void test_consent_check_rerun(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(insert(fx->db, "sms"), SQLITE_DONE);
    assert_int_equal(sqlite3_exec(fx->db,
                                  "INSERT INTO push_tokens VALUES (1, 'fcm', 'tok', 1);"
                                  "INSERT INTO suppressions (address, channel, reason, "
                                  "created_at, message_id) VALUES ('+15550001', 'sms', 'r', 1, 9)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(fx->db, TU_UNDO_AFTER_18 "PRAGMA user_version = 18;", NULL, NULL, NULL),
        SQLITE_OK);
    struct hd_store *st = NULL;
    struct hd_err e = {0};
    assert_int_equal(hd_store_open(fx->path, NULL, &st, &e), 0);
    hd_store_free(st);
    assert_int_equal(count(fx->db, "PRAGMA user_version"), hd_store_schema_version());
    assert_int_equal(count(fx->db, "SELECT count(*) FROM consent WHERE channel = 'sms'"), 1);
    /* 24's tables too, with push_tokens' index */
    assert_int_equal(count(fx->db, "SELECT count(*) FROM push_tokens WHERE token = 'tok'"), 1);
    assert_int_equal(count(fx->db, "SELECT count(*) FROM suppressions WHERE message_id = 9"), 1);
    assert_int_equal(count(fx->db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                                   "name = 'push_tokens_token'"),
                     1);
    assert_int_equal(count(fx->db, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                                   "AND tbl_name = 'consent'"),
                     2);
    assert_int_equal(
        sqlite3_exec(fx->db, "UPDATE consent SET status = 'opted_in'", NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(count(fx->db, "SELECT count(*) FROM consent_log"), 2); /* logged */
    assert_int_equal(insert(fx->db, "fax"), SQLITE_CONSTRAINT);
    assert_int_equal(ephemerals(fx->db, INSERT_CONSENT), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_consent_check_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consent_check_no_temp_btree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hot_inserts_no_temp_btree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consent_check_click, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consent_check_rerun, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
