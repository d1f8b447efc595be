/* test_pg_apirun: on PostgreSQL an API run is never set done over a
 * message the JSON API queued in it meanwhile. The dispatcher closes an
 * API run whose last claim found nothing (hd_store_run_set with done,
 * guarded by "no message due or sending"), while the service may be
 * adding a message to that run in a transaction of its own
 * (hd_store_api_send). Under READ COMMITTED the guard, one statement,
 * did not see a message committed while it ran: the run closed, and the
 * message stayed queued in a done run that no dispatcher claims
 * (test_api_send_pg lost one so under load). Two connections to one
 * database play both sides, in both orders, the second side in a thread
 * while the first holds its transaction open for 300 ms:
 *   - the send first: the close waits for it, then sees the message, and
 *     the run stays active;
 *   - the close first: the send waits for it, sees the run done, and
 *     opens another run for its message.
 * Either way the message's run is active when both are done. (SQLite's
 * writers take turns, so it has no such case.) */
#include "testboth.h"

#include "herald/state.h"
#include "herald/time.h"

#include <pthread.h>

static char dbname[64], *uri;
static struct hd_store *st1, *st2;
static int64_t contact[2]; /* the drained run's, then the racing send's */

static int64_t pg1(const char *sql)
{
    return tu_sql1(".", uri, sql);
}

static int setup(void **state)
{
    (void)state;
    struct hd_err e = {0};
    uri = tu_pg_db_migrated(dbname);
    assert_int_equal(hd_store_open(uri, NULL, &st1, &e), 0);
    assert_int_equal(hd_store_open(uri, NULL, &st2, &e), 0);
    contact[0] = pg1("INSERT INTO contacts (ext_id, email, created_at, updated_at) VALUES ('k1', "
                     "'k1@example.com', 1795000000, 1795000000) RETURNING id");
    contact[1] = pg1("INSERT INTO contacts (ext_id, email, created_at, updated_at) VALUES ('k2', "
                     "'k2@example.com', 1795000000, 1795000000) RETURNING id");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hd_store_free(st1);
    hd_store_free(st2);
    tu_pg_drop(dbname);
    free(uri);
    return 0;
}

/* An API message to contact[k]: into the newest active run that does
 * not hold that contact yet (contact 1 joins the drained run). 0 or the
 * store's error, so that a thread can call it (cmocka's failures may only
 * leave the test's own thread). */
static int queue_one(struct hd_store *st, int k, int64_t *id, struct hd_err *e)
{
    static const int channels[] = {HD_CH_EMAIL};
    struct hd_api_send m = {.contact = contact[k],
                            .tpl = "reset",
                            .category = HD_CAT_TRANSACTIONAL,
                            .channels = channels,
                            .nchannels = 1,
                            .now = 1795000000};
    return hd_store_api_send(st, &m, id, e);
}

static int64_t send_one(struct hd_store *st, int k)
{
    struct hd_err e = {0};
    int64_t id = 0;
    if (queue_one(st, k, &id, &e) < 0)
        fail_msg("api send: %s", e.msg);
    return id;
}

/* An API run drained: a message to contact 0 queued on st1, so that the
 * API's campaign and an active run of it exist, then marked sent, as a
 * run is when the dispatcher closes it. */
static int64_t drained_run(void)
{
    struct hd_err e = {0};
    assert_int_equal(hd_store_begin(st1, &e), 0);
    int64_t first = send_one(st1, 0);
    assert_int_equal(hd_store_commit(st1, &e), 0);
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE messages SET state = %d WHERE id = %lld RETURNING run_id",
             HD_ST_SENT, (long long)first);
    return pg1(sql);
}

struct side {
    int64_t run, message;
    int rc;
};

static void *close_run(void *ud)
{
    struct side *x = ud;
    struct hd_err e = {0};
    x->rc = hd_store_run_set(st2, x->run, HD_RUN_DONE, 1795000100, &e);
    return NULL;
}

static void *send_in_own_tx(void *ud)
{
    struct side *x = ud;
    struct hd_err e = {0};
    x->rc = hd_store_begin(st2, &e);
    if (x->rc == 0 && (x->rc = queue_one(st2, 1, &x->message, &e)) == 0)
        x->rc = hd_store_commit(st2, &e);
    if (x->rc < 0)
        hd_store_rollback(st2);
    return NULL;
}

static const char *run_status_of(int64_t message)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT CASE r.status WHEN 'active' THEN 1 WHEN 'done' THEN 2 ELSE 3 END FROM runs "
             "r JOIN messages m ON m.run_id = r.id WHERE m.id = %lld",
             (long long)message);
    switch (pg1(sql)) {
    case 1:
        return "active";
    case 2:
        return "done";
    default:
        return "?";
    }
}

static void test_pg_apirun_send_first(void **state)
{
    (void)state;
    struct hd_err e = {0};
    struct side x = {.run = drained_run()};
    assert_int_equal(hd_store_begin(st1, &e), 0);
    int64_t id = send_one(st1, 1); /* into that run, not committed yet */
    assert_int_equal(pg1("SELECT count(*) FROM runs"), 1);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, close_run, &x), 0);
    hd_sleep_ms(300); /* the close runs meanwhile: it must wait */
    assert_int_equal(hd_store_commit(st1, &e), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(x.rc, 0);
    assert_int_equal(pg1("SELECT count(*) FROM messages WHERE state = 0"), 1);
    assert_string_equal(run_status_of(id), "active");
}

static void test_pg_apirun_close_first(void **state)
{
    (void)state;
    struct hd_err e = {0};
    int64_t run = drained_run();
    assert_int_equal(hd_store_begin(st1, &e), 0);
    assert_int_equal(hd_store_run_set(st1, run, HD_RUN_DONE, 1795000100, &e), 0);
    struct side x = {0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, send_in_own_tx, &x), 0);
    hd_sleep_ms(300); /* the send runs meanwhile: it must wait, then not take the run */
    assert_int_equal(hd_store_commit(st1, &e), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(x.rc, 0);
    assert_string_equal(run_status_of(x.message), "active");
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE id = %lld AND status = 'done'",
             (long long)run);
    assert_int_equal(pg1(sql), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pg_apirun_send_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_apirun_close_first, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
