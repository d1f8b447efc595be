/* test_store: opening (WAL, foreign keys), migrations from every earlier
 * schema version with data kept, refusal of newer databases, and the
 * contact, consent and suppression operations. */
#include "testutil.h"

#include <sqlite3.h>

#include "herald/config.h"
#include "herald/store.h"

static char *pragma_text(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    char *v = hd_xstrdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void test_store_open_pragmas(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), *path = tu_path(dir, "h.db");
    struct hd_store *st = NULL;
    struct hd_err e = {0};
    struct hd_store_opts create = {.create = true};
    /* not created without create */
    assert_int_equal(hd_store_open(path, NULL, &st, &e), HD_E_NOTFOUND);
    assert_contains(e.msg, "run 'herald init' first");
    assert_false(tu_exists(path));
    assert_int_equal(hd_store_open(path, &create, &st, &e), 0);
    int v = 0;
    assert_int_equal(hd_store_user_version(st, &v, &e), 0);
    assert_int_equal(v, hd_store_schema_version());
    hd_store_free(st);
    char *mode = pragma_text(path, "PRAGMA journal_mode");
    assert_string_equal(mode, "wal");
    free(mode);
    /* foreign keys are on in herald's connections: deleting a contact cascades */
    assert_int_equal(hd_store_open(path, NULL, &st, &e), 0);
    struct hd_store_import *imp;
    assert_int_equal(hd_store_import_begin(st, HD_IMPORT_MERGE, 1000, &imp, &e), 0);
    struct hd_contact_row row = {
        .ext_id = "c1", .fcm_token = "tok1", .created_at = -1, .attrs = "{}"};
    assert_int_equal(hd_store_import_row(imp, &row, &e), 0);
    assert_int_equal(hd_store_import_end(imp, true, NULL, NULL, &e), 0);
    assert_int_equal(hd_store_consent_set(st, "c1", HD_CH_SMS, HD_CAT_MARKETING,
                                          HD_CONSENT_OPTED_OUT, "cli", 1001, &e),
                     0);
    assert_int_equal(hd_store_contact_delete(st, "c1", &e), 0);
    hd_store_free(st);
    char *n = pragma_text(path, "SELECT (SELECT count(*) FROM push_tokens) || '/' || "
                                "(SELECT count(*) FROM consent)");
    assert_string_equal(n, "0/0");
    free(n);
    /* a file that is not a database */
    char *junk = tu_path(dir, "junk.db");
    tu_write(junk, "this is not a database, just some text that is long enough to matter......"
                   "..................................................................");
    assert_int_equal(hd_store_open(junk, NULL, &st, &e), HD_E_STORE);
    assert_contains(e.msg, "junk.db");
    assert_contains(e.msg, "not a database");
    free(junk);
    free(path);
    tu_rmdir(dir);
}

/* A database of every earlier version, with a contact where the schema has
 * contacts, opens and reaches the current version with its data intact. */
static void test_store_migrations(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    for (int from = 0; from < hd_store_schema_version(); from++) {
        char name[32];
        snprintf(name, sizeof name, "v%d.db", from);
        char *path = tu_path(dir, name);
        struct hd_store *st = NULL;
        struct hd_err e = {0};
        assert_int_equal(hd_store_open_raw(path, &st, &e), 0);
        assert_int_equal(hd_store_migrate(st, from, &e), 0);
        int v = -1;
        assert_int_equal(hd_store_user_version(st, &v, &e), 0);
        assert_int_equal(v, from);
        hd_store_free(st);
        if (from >= 1) {
            sqlite3 *db;
            assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
            assert_int_equal(sqlite3_exec(db,
                                          "INSERT INTO contacts (ext_id, email, attrs, "
                                          "created_at, updated_at) VALUES ('old', "
                                          "'old@example.com', '{\"plan\":\"gold\"}', 1, 2)",
                                          NULL, NULL, NULL),
                             SQLITE_OK);
            sqlite3_close(db);
        }
        assert_int_equal(hd_store_open(path, NULL, &st, &e), 0);
        assert_int_equal(hd_store_user_version(st, &v, &e), 0);
        assert_int_equal(v, hd_store_schema_version());
        if (from >= 1) {
            struct hd_contact c;
            assert_int_equal(hd_store_contact_get(st, "old", &c, &e), 0);
            assert_string_equal(c.email, "old@example.com");
            assert_string_equal(c.attrs, "{\"plan\":\"gold\"}");
            hd_contact_release(&c);
        }
        hd_store_free(st);
        free(path);
    }
    tu_rmdir(dir);
}

static void test_store_newer_refused(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), *path = tu_path(dir, "future.db");
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", hd_store_schema_version() + 1);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    struct hd_store *st = NULL;
    struct hd_err e = {0};
    assert_int_equal(hd_store_open(path, NULL, &st, &e), HD_E_STORE);
    assert_contains(e.msg, "newer than this herald understands");
    assert_null(st);
    free(path);
    tu_rmdir(dir);
}

static int count_cb(void *ud, const struct hd_contact *c)
{
    (void)c;
    (*(int *)ud)++;
    return 0;
}

static int sup_cb(void *ud, const struct hd_suppression *s)
{
    struct hd_buf *b = ud;
    hd_buf_addf(b, "%s/%s/%s;", s->address, hd_channel_name(s->channel), s->reason);
    return 0;
}

static void test_store_contacts(void **state)
{
    (void)state;
    struct hd_store *st = NULL;
    struct hd_err e = {0};
    struct hd_store_opts create = {.create = true};
    assert_int_equal(hd_store_open(":memory:", &create, &st, &e), 0);

    struct hd_store_import *imp;
    int64_t ins = -1, upd = -1;
    assert_int_equal(hd_store_import_begin(st, HD_IMPORT_MERGE, 100, &imp, &e), 0);
    struct hd_contact_row a = {.ext_id = "a",
                               .email = "a@example.com",
                               .phone = "+14155550100",
                               .timezone = "Europe/Paris",
                               .fcm_token = "f1",
                               .created_at = 50,
                               .attrs = "{\"plan\":\"gold\",\"age\":30}"};
    struct hd_contact_row b = {.ext_id = "b", .created_at = -1, .attrs = "{}"};
    assert_int_equal(hd_store_import_row(imp, &a, &e), 0);
    assert_int_equal(hd_store_import_row(imp, &b, &e), 0);
    assert_int_equal(hd_store_import_attr_type(imp, "plan", "string", &e), 0);
    assert_int_equal(hd_store_import_end(imp, true, &ins, &upd, &e), 0);
    assert_int_equal(ins, 2);
    assert_int_equal(upd, 0);

    /* merge: given fields change, others stay, attributes merge, null removes */
    assert_int_equal(hd_store_import_begin(st, HD_IMPORT_MERGE, 200, &imp, &e), 0);
    struct hd_contact_row a2 = {.ext_id = "a",
                                .email = "new@example.com",
                                .created_at = -1,
                                .apns_token = "abcd",
                                .attrs = "{\"age\":31,\"plan\":null}",
                                .attrs_nulls = true};
    assert_int_equal(hd_store_import_row(imp, &a2, &e), 0);
    assert_int_equal(hd_store_import_end(imp, true, &ins, &upd, &e), 0);
    assert_int_equal(ins, 0);
    assert_int_equal(upd, 1);
    struct hd_contact c;
    assert_int_equal(hd_store_contact_get(st, "a", &c, &e), 0);
    assert_string_equal(c.email, "new@example.com");
    assert_string_equal(c.phone, "+14155550100");
    assert_string_equal(c.timezone, "Europe/Paris");
    assert_string_equal(c.attrs, "{\"age\":31}");
    assert_string_equal(c.fcm_token, "f1");
    assert_string_equal(c.apns_token, "abcd");
    assert_int_equal(c.created_at, 50);
    assert_int_equal(c.updated_at, 200);
    hd_contact_release(&c);

    /* replace: everything not given is cleared, tokens too */
    assert_int_equal(hd_store_import_begin(st, HD_IMPORT_REPLACE, 300, &imp, &e), 0);
    struct hd_contact_row a3 = {
        .ext_id = "a", .locale = "fr", .created_at = -1, .attrs = "{\"vip\":true}"};
    assert_int_equal(hd_store_import_row(imp, &a3, &e), 0);
    assert_int_equal(hd_store_import_end(imp, true, NULL, NULL, &e), 0);
    assert_int_equal(hd_store_contact_get(st, "a", &c, &e), 0);
    assert_null(c.email);
    assert_null(c.phone);
    assert_null(c.fcm_token);
    assert_string_equal(c.locale, "fr");
    assert_string_equal(c.attrs, "{\"vip\":true}");
    assert_int_equal(c.created_at, 50);
    hd_contact_release(&c);

    /* a rolled-back import leaves nothing */
    assert_int_equal(hd_store_import_begin(st, HD_IMPORT_MERGE, 400, &imp, &e), 0);
    struct hd_contact_row z = {.ext_id = "z", .created_at = -1, .attrs = "{}"};
    assert_int_equal(hd_store_import_row(imp, &z, &e), 0);
    assert_int_equal(hd_store_import_end(imp, false, NULL, NULL, &e), 0);
    assert_int_equal(hd_store_contact_get(st, "z", &c, &e), HD_E_NOTFOUND);
    assert_string_equal(e.msg, "no contact with id 'z'");

    int n = 0;
    assert_int_equal(hd_store_contact_each(st, 0, count_cb, &n, &e), 0);
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(hd_store_contact_each(st, 1, count_cb, &n, &e), 0);
    assert_int_equal(n, 1);

    /* consent */
    assert_int_equal(hd_store_consent_set(st, "b", HD_CH_EMAIL, HD_CAT_MARKETING,
                                          HD_CONSENT_OPTED_OUT, "cli", 500, &e),
                     0);
    assert_int_equal(hd_store_consent_set(st, "b", HD_CH_EMAIL, HD_CAT_MARKETING,
                                          HD_CONSENT_OPTED_IN, "cli", 600, &e),
                     0);
    assert_int_equal(hd_store_consent_set(st, "nobody", HD_CH_EMAIL, HD_CAT_MARKETING,
                                          HD_CONSENT_OPTED_OUT, "cli", 600, &e),
                     HD_E_NOTFOUND);
    assert_int_equal(hd_store_contact_get(st, "b", &c, &e), 0);
    assert_int_equal(c.nconsent, 1);
    assert_int_equal(c.consent[0].status, HD_CONSENT_OPTED_IN);
    assert_int_equal(c.consent[0].updated_at, 600);
    hd_contact_release(&c);

    /* suppressions */
    struct hd_suppression s1 = {"x@example.com", HD_CH_EMAIL, "hard_bounce", 10};
    struct hd_suppression s2 = {"+14155550100", HD_CH_SMS, "invalid_number", 20};
    assert_int_equal(hd_store_suppress_add(st, &s1, &e), 0);
    assert_int_equal(hd_store_suppress_add(st, &s2, &e), 0);
    s1.reason = "unsubscribed";
    assert_int_equal(hd_store_suppress_add(st, &s1, &e), 0); /* updates the reason */
    struct hd_buf b2;
    hd_buf_init(&b2);
    assert_int_equal(hd_store_suppress_each(st, -1, sup_cb, &b2, &e), 0);
    assert_string_equal(b2.data,
                        "x@example.com/email/unsubscribed;+14155550100/sms/invalid_number;");
    hd_buf_reset(&b2);
    assert_int_equal(hd_store_suppress_each(st, HD_CH_SMS, sup_cb, &b2, &e), 0);
    assert_string_equal(b2.data, "+14155550100/sms/invalid_number;");
    assert_int_equal(hd_store_suppress_remove(st, "x@example.com", &e), 0);
    assert_int_equal(hd_store_suppress_remove(st, "x@example.com", &e), HD_E_NOTFOUND);
    hd_buf_release(&b2);

    assert_int_equal(hd_store_contact_delete(st, "a", &e), 0);
    assert_int_equal(hd_store_contact_delete(st, "a", &e), HD_E_NOTFOUND);
    hd_store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_open_pragmas),
        cmocka_unit_test(test_store_migrations),
        cmocka_unit_test(test_store_newer_refused),
        cmocka_unit_test(test_store_contacts),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
