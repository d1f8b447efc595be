/* test_pg_clock: on PostgreSQL, what nodes compare across machines is on
 * the server's clock, not each node's own (issue 23). A review ran a node
 * whose clock was ahead: it took a beating node's messages (the beat and
 * the rescue's cutoff were each node's own time) and shortened or ignored
 * every provider pause another node recorded (the pause's end too). Here
 * the store's functions are called with a node's time that is decades off:
 * the beat, the stop and the register land on the server's time; a rescue
 * by a node whose clock is a day ahead takes nothing from a node that
 * beats; a pause is kept, read and published as time left. */
#include "testboth.h"

#include "../src/store/db.h"
#include "../src/store/store_int.h"

#include "herald/time.h"

static struct tu_both stores;

static int64_t one(struct hd_store *st, const char *sql)
{
    struct hd_err e = {0};
    int64_t v = 0;
    if (hd_db_query_int64(st->conn, sql, &v, &e) < 0)
        fail_msg("%s: %s", sql, e.msg);
    return v;
}

static void exec_sql(struct hd_store *st, const char *sql)
{
    struct hd_err e = {0};
    if (hd_db_exec(st->conn, sql, &e) < 0)
        fail_msg("%s: %s", sql, e.msg);
}

/* Seconds between a node's heartbeat and the server's clock. */
static int64_t beat_off(struct hd_store *st, int64_t node)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT abs(heartbeat_at - " HD_PG_NOW_S ") FROM nodes WHERE id = %lld",
             (long long)node);
    return one(st, sql);
}

static void test_pg_clock_nodes(void **state)
{
    (void)state;
    struct hd_err e = {0};
    struct hd_store *st = tu_both_open(&stores, NULL, "clock.db");
    const int64_t behind = 0, ahead = hd_clock_now_ms(NULL) / 1000 + 86400;
    int64_t a = 0, b = 0, n = -1, now = 0;
    assert_int_equal(hd_store_node_register(st, "a", 1, "t", behind, &a, &e), 0);
    assert_int_equal(hd_store_node_register(st, "b", 2, "t", ahead, &b, &e), 0);
    assert_true(beat_off(st, a) <= 5 && beat_off(st, b) <= 5);
    assert_int_equal(hd_store_node_beat(st, a, behind, &e), 0);
    assert_true(beat_off(st, a) <= 5);
    assert_int_equal(hd_store_node_clock(st, ahead, &now, &e), 0);
    assert_true(llabs(now - hd_clock_now_ms(NULL) / 1000) <= 5);
    /* a's message in flight: b, a day ahead, does not take it while a beats */
    char sql[1400];
    snprintf(sql, sizeof sql, TU_SENT_MESSAGE_SQL, 7001LL, 1LL);
    exec_sql(st, sql);
    snprintf(sql, sizeof sql, "UPDATE messages SET state = 1, lease_owner = %lld WHERE id = 7001",
             (long long)a);
    exec_sql(st, sql);
    assert_int_equal(hd_store_recover_nodes(st, b, ahead, 2, false, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_int_equal(one(st, "SELECT state FROM messages WHERE id = 7001"), 1);
    /* once a stops, it is b's to take back */
    assert_int_equal(hd_store_node_stop(st, a, behind, &e), 0);
    assert_true(beat_off(st, a) <= 5);
    assert_int_equal(hd_store_recover_nodes(st, b, ahead, 2, false, &n, &e), 0);
    assert_int_equal(n, 1);
    hd_store_free(st);
}

struct seen {
    int64_t until;
    int n;
};

static void saw(void *ud, const char *provider, int64_t until_ms)
{
    struct seen *s = ud;
    assert_string_equal(provider, "p");
    s->until = until_ms;
    s->n++;
}

static void test_pg_clock_pauses(void **state)
{
    (void)state;
    struct hd_err e = {0};
    struct hd_store *st = tu_both_open(&stores, NULL, "clock.db");
    int64_t local = hd_clock_now_ms(NULL);
    /* 5 s from now on this node: 5 s from now on the server's clock */
    assert_int_equal(hd_store_provider_pause(st, "p", local + 5000, &e), 0);
    int64_t left = one(st, "SELECT until_ms - " HD_PG_NOW_MS " FROM provider_pauses");
    assert_true(left > 3000 && left <= 5000);
    /* read by a node whose clock says 1970: still about 5 s left from its now */
    struct seen s = {0};
    assert_int_equal(hd_store_provider_pauses(st, 1000, saw, &s, &e), 0);
    assert_int_equal(s.n, 1);
    assert_true(s.until > 1000 + 3000 && s.until <= 1000 + 5000);
    hd_store_free(st);
}

static int pg_setup(void **state)
{
    (void)state;
    stores.pg = true;
    return 0;
}

static int drop(void **state)
{
    (void)state;
    tu_both_release(&stores);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_clock_nodes),
        cmocka_unit_test(test_pg_clock_pauses),
    };
    return cmocka_run_group_tests(tests, pg_setup, drop);
}
