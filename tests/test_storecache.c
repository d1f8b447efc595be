/* test_storecache: what the service's hot paths changed in the store for
 * speed (issues 18, 19) keeps its meaning. A link's consent change is one
 * cached statement whose missing contact fails its foreign key: that is
 * no change, and inside a batch's transaction the other changes of the
 * batch are still committed. The delivery log's query is cached by its
 * shape: running it again from its own callback (the same shape while the
 * cached statement is being stepped) still gives every row to both.
 * Every case runs on PostgreSQL too (the `_pg` entries), where the twins
 * are consent.c's own statements (an INSERT ... SELECT of the contact, so
 * a gone contact gives no row and no failed statement, which would end
 * the batch's whole transaction there) and the log's statement cached by
 * shape with its rows buffered (hd_db_buffer). The PostgreSQL cases share
 * one database (its making is most of their time), each with contacts of
 * its own. On SQLite, the log's rows of a transaction wait (log_lite.c)
 * through the statements that cannot see them (no trigger or view names
 * the table, and a statement that names it, or COMMIT, writes them first):
 * observed on the store's own connection, whose raw statements skip the
 * store's helpers. */
#include "testboth.h"

#include "../src/store/db.h"
#include "../src/store/store_int.h"

#include "herald/config.h"
#include "herald/state.h"

static struct tu_both stores; /* the PostgreSQL cases' one database */

struct fixture {
    char *dir;
    struct hd_store *st;
    int64_t id[3];  /* the case's three contacts */
    int64_t msg[3]; /* a sent message of each, whose link a change comes from */
    int n;          /* the case's number, in its names */
};

static void exec_sql(struct hd_store *st, const char *sql)
{
    struct hd_err e = {0};
    if (hd_db_exec(st->conn, sql, &e) < 0)
        fail_msg("%s: %s", sql, e.msg);
}

/* A sent message to each contact (tu_sent_message's), whose links the
 * changes come from. */
static void add_messages(struct fixture *f)
{
    for (int i = 0; i < 3; i++) {
        char sql[1400];
        f->msg[i] = 900000 + f->id[i];
        snprintf(sql, sizeof sql, TU_SENT_MESSAGE_SQL, (long long)f->msg[i], (long long)f->id[i]);
        exec_sql(f->st, sql);
    }
}

static int setup_on(void **state, bool pg)
{
    static int cases; /* the contacts' names differ between cases */
    struct fixture *f = hd_xcalloc(1, sizeof *f);
    struct hd_err e = {0};
    struct hd_store_import *imp;
    stores.pg = pg;
    f->dir = tu_tmpdir();
    f->st = tu_both_open(&stores, f->dir, "h.db");
    f->n = ++cases;
    assert_int_equal(hd_store_import_begin(f->st, HD_IMPORT_MERGE, 1000, &imp, &e), 0);
    for (int i = 0; i < 3; i++) {
        char ext[16];
        snprintf(ext, sizeof ext, "k%dc%d", cases, i);
        struct hd_contact_row row = {.ext_id = ext, .created_at = -1, .attrs = "{}"};
        assert_int_equal(hd_store_import_row(imp, &row, &e), 0);
    }
    assert_int_equal(hd_store_import_end(imp, true, NULL, NULL, &e), 0);
    for (int i = 0; i < 3; i++) {
        char ext[16];
        snprintf(ext, sizeof ext, "k%dc%d", cases, i);
        assert_int_equal(hd_store_contact_ref(f->st, ext, &f->id[i], &e), 0);
    }
    add_messages(f);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_on(state, false);
}

static int setup_pg(void **state)
{
    return setup_on(state, true);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    hd_store_free(f->st);
    tu_rmdir(f->dir);
    free(f);
    return 0;
}

static int drop_pg(void **state)
{
    (void)state;
    tu_both_release(&stores);
    return 0;
}

static int count_row(void *ud, const struct hd_consent *k)
{
    (void)k;
    ++*(int *)ud;
    return 0;
}

/* The contact's consent_log rows. */
static int log_rows(struct hd_store *st, int64_t contact)
{
    struct hd_err e = {0};
    int n = 0;
    assert_int_equal(hd_store_consent_log(st, contact, count_row, &n, &e), 0);
    return n;
}

/* The opt-out of the link of message to contact. */
static int opt_out(struct hd_store *st, int64_t contact, int64_t message, bool *changed)
{
    struct hd_err e = {0};
    struct hd_link_change c = {
        contact,       message,   HD_CH_EMAIL, HD_CAT_MARKETING, HD_CONSENT_OPTED_OUT,
        "unsubscribe", 1700000000};
    return hd_store_link_consent(st, &c, changed, &e);
}

static void test_storecache_link_consent(void **state)
{
    struct fixture *f = *state;
    bool changed = false;
    assert_int_equal(opt_out(f->st, f->id[0], f->msg[0], &changed), 0);
    assert_true(changed);
    assert_int_equal(log_rows(f->st, f->id[0]), 1);
    /* a repeat changes nothing: one row, one record */
    assert_int_equal(opt_out(f->st, f->id[0], f->msg[0], &changed), 0);
    assert_false(changed);
    assert_int_equal(log_rows(f->st, f->id[0]), 1);
    /* a contact that is gone: no change, no error, nothing written */
    int64_t gone = f->id[2] + 100000;
    assert_int_equal(opt_out(f->st, gone, f->msg[2], &changed), 0);
    assert_false(changed);
    assert_int_equal(log_rows(f->st, gone), 0);
    /* another contact's message: as gone */
    assert_int_equal(opt_out(f->st, f->id[1], f->msg[2], &changed), 0);
    assert_false(changed);
    assert_int_equal(log_rows(f->st, f->id[1]), 0);
}

/* A deleted contact's link, after SQLite gave its id to a contact made
 * since (the largest id, deleted, is given again; a review found the link
 * then opted the new contact out and opened its preferences): the
 * message's contact is the deleted one's pseudonym, so the link acts on no
 * one, as the deleted contact's. */
static void test_storecache_link_reused_id(void **state)
{
    struct fixture *f = *state;
    struct hd_err e = {0};
    char ext[16], sql[160], loc[16];
    int64_t pseudonym = 0, again = 0;
    int status = 0, prefs[HD_CH_COUNT][HD_CAT_COUNT];
    snprintf(ext, sizeof ext, "k%dc2", f->n);
    assert_int_equal(hd_store_contact_delete(f->st, ext, &pseudonym, &e), 0);
    snprintf(sql, sizeof sql,
             "INSERT INTO contacts (id, ext_id, attrs, created_at, updated_at) VALUES (%lld, "
             "'new%d', '{}', 0, 0)",
             (long long)f->id[2], f->n);
    exec_sql(f->st, sql); /* what SQLite's next import gives it */
    snprintf(sql, sizeof sql, "new%d", f->n);
    assert_int_equal(hd_store_contact_ref(f->st, sql, &again, &e), 0);
    assert_int_equal(again, f->id[2]);
    bool changed = true;
    assert_int_equal(opt_out(f->st, f->id[2], f->msg[2], &changed), 0);
    assert_false(changed);
    assert_int_equal(log_rows(f->st, f->id[2]), 0);
    assert_int_equal(hd_store_link_contact(f->st, f->id[2], f->msg[2], HD_CH_EMAIL,
                                           HD_CAT_MARKETING, loc, sizeof loc, &status, &e),
                     HD_E_NOTFOUND);
    assert_int_equal(hd_store_link_prefs(f->st, f->id[2], f->msg[2], loc, sizeof loc, prefs, &e),
                     HD_E_NOTFOUND);
    /* the other contacts' links still work */
    assert_int_equal(hd_store_link_contact(f->st, f->id[1], f->msg[1], HD_CH_EMAIL,
                                           HD_CAT_MARKETING, loc, sizeof loc, &status, &e),
                     0);
}

/* As clicks.c writes a batch: the gone contact's change fails alone. */
static void test_storecache_link_consent_batch(void **state)
{
    struct fixture *f = *state;
    struct hd_err e = {0};
    bool changed[3] = {false, true, false};
    assert_int_equal(hd_store_begin(f->st, &e), 0);
    assert_int_equal(opt_out(f->st, f->id[1], f->msg[1], &changed[0]), 0);
    assert_int_equal(opt_out(f->st, f->id[2] + 100000, f->msg[2], &changed[1]), 0);
    assert_int_equal(opt_out(f->st, f->id[2], f->msg[2], &changed[2]), 0);
    assert_int_equal(hd_store_commit(f->st, &e), 0);
    assert_true(changed[0]);
    assert_false(changed[1]);
    assert_true(changed[2]);
    char loc[16];
    int status = 0;
    for (int i = 1; i < 3; i++) {
        assert_int_equal(hd_store_link_contact(f->st, f->id[i], f->msg[i], HD_CH_EMAIL,
                                               HD_CAT_MARKETING, loc, sizeof loc, &status, &e),
                         0);
        assert_int_equal(status, HD_CONSENT_OPTED_OUT);
        assert_int_equal(log_rows(f->st, f->id[i]), 1);
    }
}

struct walk {
    struct hd_store *st;
    int64_t contact;
    int outer, inner, depth;
};

static int walk_row(void *ud, const struct hd_log_row *r)
{
    struct walk *w = ud;
    struct hd_err e = {0};
    assert_int_equal(r->contact_id, w->contact);
    if (w->depth > 0) {
        w->inner++;
        return 0;
    }
    w->outer++;
    /* the same shape again, while the cached statement is being stepped */
    struct hd_log_filter f = {.contact = w->contact, .outcome = "accepted"};
    w->depth++;
    assert_int_equal(hd_store_log_query(w->st, &f, walk_row, w, &e), 0);
    w->depth--;
    return 0;
}

static void test_storecache_log_reentrant(void **state)
{
    struct fixture *f = *state;
    struct hd_err e = {0};
    for (int i = 0; i < 3; i++) {
        struct hd_attempt a = {.message = 10 + i,
                               .contact = f->id[0],
                               .attempt = 1,
                               .at_ms = 1700000000000 + i,
                               .channel = HD_CH_EMAIL,
                               .provider = "box",
                               .outcome = "accepted"};
        assert_int_equal(hd_store_attempt_add(f->st, &a, &e), 0);
    }
    /* twice: the second run takes the statement the first one kept */
    for (int run = 0; run < 2; run++) {
        struct walk w = {.st = f->st, .contact = f->id[0]};
        struct hd_log_filter lf = {.contact = f->id[0], .outcome = "accepted"};
        assert_int_equal(hd_store_log_query(f->st, &lf, walk_row, &w, &e), 0);
        assert_int_equal(w.outer, 3);
        assert_int_equal(w.inner, 9);
        /* another shape, and a limit: the first row only */
        struct hd_log_filter one = {.contact = f->id[0], .message = 11, .limit = 1};
        w = (struct walk){.st = f->st, .contact = f->id[0], .depth = 1};
        assert_int_equal(hd_store_log_query(f->st, &one, walk_row, &w, &e), 0);
        assert_int_equal(w.inner, 1);
    }
}

/* count(*) of sql on the store's connection, past the store's helpers */
static int raw_count(struct hd_store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(st->db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return n;
}

static void test_storecache_log_waits(void **state)
{
    struct fixture *f = *state;
    struct hd_err e = {0};
    int64_t n = -1;
    struct hd_attempt a = {.message = 7,
                           .contact = f->id[1],
                           .attempt = 1,
                           .at_ms = 1700000000000,
                           .channel = HD_CH_SMS,
                           .provider = "tw",
                           .outcome = "receipt",
                           .reason = "delivered"};
    assert_int_equal(raw_count(f->st, "SELECT count(*) FROM sqlite_master WHERE type IN "
                                      "('trigger', 'view') AND sql LIKE '%attempts%'"),
                     0);
    /* a statement on another table (its first run, which prepares it,
     * writes them first) */
    assert_int_equal(hd_store_gateway_id_add(f->st, "tw", "g0", 7, 5, &e), 0);
    assert_int_equal(hd_store_begin(f->st, &e), 0);
    assert_int_equal(hd_store_attempt_add(f->st, &a, &e), 0);
    assert_int_equal(hd_store_gateway_id_add(f->st, "tw", "g1", 7, 5, &e), 0);
    assert_int_equal(raw_count(f->st, "SELECT count(*) FROM attempts"), 0);
    /* one that reads the log: the row goes first, and it is counted */
    assert_int_equal(hd_store_receipt_count(f->st, f->id[1], "delivered", 0, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(raw_count(f->st, "SELECT count(*) FROM attempts"), 1);
    a.attempt = 2;
    assert_int_equal(hd_store_attempt_add(f->st, &a, &e), 0);
    assert_int_equal(hd_store_gateway_id_add(f->st, "tw", "g2", 7, 5, &e), 0);
    assert_int_equal(raw_count(f->st, "SELECT count(*) FROM attempts"), 1);
    assert_int_equal(hd_store_commit(f->st, &e), 0); /* COMMIT writes it */
    assert_int_equal(raw_count(f->st, "SELECT count(*) FROM attempts WHERE message_id = 7"), 2);
    assert_int_equal(raw_count(f->st, "SELECT count(*) FROM gateway_ids"), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_storecache_link_consent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storecache_link_consent_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storecache_link_reused_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storecache_log_reentrant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storecache_log_waits, setup, teardown),
    };
    const struct CMUnitTest tests_pg[] = {
        {"test_storecache_link_consent_pg", test_storecache_link_consent, setup_pg, teardown, NULL},
        {"test_storecache_link_consent_batch_pg", test_storecache_link_consent_batch, setup_pg,
         teardown, NULL},
        {"test_storecache_link_reused_id_pg", test_storecache_link_reused_id, setup_pg, teardown,
         NULL},
        {"test_storecache_log_reentrant_pg", test_storecache_log_reentrant, setup_pg, teardown,
         NULL},
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    return rc | cmocka_run_group_tests(tests_pg, NULL, drop_pg);
}
