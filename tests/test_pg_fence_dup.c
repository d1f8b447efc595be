/* test_pg_fence_dup: one flush batch may hold two results for one message
 * (a late one under the token another node's rescue voided, and a fresh
 * one after this same node claimed the message again under a new token).
 * hd_store_leases_held must say the late one is not held. */
#include "testboth.h"

#include "herald/state.h"
#include "herald/time.h"

static char dbname[64], *uri;
static struct hd_store *st;

static int64_t pg1(const char *sql)
{
    return tu_sql1(".", uri, sql);
}

static void test_fence_dup(void **state)
{
    (void)state;
    struct hd_err e = {0};
    uri = tu_pg_db_migrated(dbname);
    assert_int_equal(hd_store_open(uri, NULL, &st, &e), 0);
    int64_t contact = pg1("INSERT INTO contacts (ext_id, email, created_at, updated_at) VALUES "
                          "('k1', 'k1@example.com', 1795000000, 1795000000) RETURNING id");
    static const int channels[] = {HD_CH_EMAIL};
    struct hd_api_send m = {.contact = contact,
                            .tpl = "reset",
                            .category = HD_CAT_TRANSACTIONAL,
                            .channels = channels,
                            .nchannels = 1,
                            .now = 1795000000};
    int64_t id = 0;
    assert_int_equal(hd_store_api_send(st, &m, &id, &e), 0);
    char sql[256];
    /* claimed again under token 8; the late result carries token 7 */
    snprintf(sql, sizeof sql, "UPDATE messages SET state = 1, lease_token = 8 WHERE id = %lld",
             (long long)id);
    free(tu_sql_text(".", uri, sql));
    int64_t ids[2] = {id, id}, toks[2] = {7, 8};
    bool held[2];
    assert_int_equal(hd_store_leases_held(st, ids, toks, 2, held, &e), 0);
    print_message("held: late %d, fresh %d\n", held[0], held[1]);
    assert_false(held[0]); /* the late result: its token is gone */
    assert_true(held[1]);
    hd_store_free(st);
    tu_pg_drop(dbname);
    free(uri);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_fence_dup)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
