/* test_pg_restart: herald serve lives through its PostgreSQL server's
 * restart (issue 23). A review restarted the server under a running
 * service: its connection stayed broken for good, every one-click and API
 * write answered 503, and /readyz (which opens a connection of its own)
 * said ready. Here a server of the test's own (tests/pgserver.sh, not the
 * suite's, which other tests use meanwhile) is restarted between two
 * writes through the API: the second may fail once, on the connection the
 * restart broke, and then succeeds; the log says the connection was made
 * again. */
#include "testnet.h"

static char *dir, *pg_dir, *uri;

static int setup(void **state)
{
    (void)state;
    char cmd[512];
    dir = tu_tmpdir();
    pg_dir = tu_tmpdir();
    rmdir(pg_dir); /* pgserver.sh wants an empty or missing folder */
    snprintf(cmd, sizeof cmd, "sh '%s/tests/pgserver.sh' start '%s'", getenv("HERALD_SRC"), pg_dir);
    uri = tu_sh(cmd);
    uri[strcspn(uri, "\n")] = '\0';
    setenv("HERALD_CONFIG", "h.conf", 1);
    unsetenv("HERALD_NOW");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sh '%s/tests/pgserver.sh' stop '%s'", getenv("HERALD_SRC"), pg_dir);
    free(tu_sh(cmd));
    tu_rmdir(dir);
    free(pg_dir);
    free(uri);
    return 0;
}

/* PUT /api/v1/contacts/ID with key; the status. */
static int put_contact(int port, const char *key, const char *id)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "curl -s -o /dev/null -w '%%{http_code}' -X PUT -H 'Authorization: Bearer %s' -H "
             "'Content-Type: application/json' --data-binary '{\"email\": \"%s@example.com\"}' "
             "http://127.0.0.1:%d/api/v1/contacts/%s",
             key, id, port, id);
    char *out = tu_sh(cmd);
    int code = atoi(out);
    free(out);
    return code;
}

static void test_pg_restart_serve(void **state)
{
    (void)state;
    char text[1024], cmd[512];
    snprintf(text, sizeof text,
             "[herald]\ndatabase = %s\n[serve]\nsecret_file = var/herald.secret\n", uri);
    char *conf = tu_path(dir, "h.conf"), *tpl = tu_path(dir, "templates"),
         *src = tu_src_path("templates");
    tu_write(conf, text);
    assert_int_equal(symlink(src, tpl), 0);
    TU_HERALD_OK(dir, "init");
    struct tu_run r;
    tu_herald(&r, dir, NULL, "apikey", "create", "k", "--scope", "contacts", NULL);
    assert_int_equal(r.status, 0);
    char key[128];
    snprintf(key, sizeof key, "%s", r.out);
    key[strcspn(key, "\n")] = '\0';
    tu_run_release(&r);
    int port = 0;
    pid_t srv = tu_serve_start(dir, "127.0.0.1:0", &port);
    assert_int_equal(put_contact(port, key, "a1"), 201);
    snprintf(cmd, sizeof cmd, "sh '%s/tests/pgserver.sh' restart '%s'", getenv("HERALD_SRC"),
             pg_dir);
    free(tu_sh(cmd));
    /* the first write after it may meet the broken connection (503);
     * within a few, one is written */
    int code = 0;
    for (int i = 0; i < 3 && code != 201; i++)
        code = put_contact(port, key, i == 0 ? "a2" : i == 1 ? "a3" : "a4");
    assert_int_equal(code, 201);
    assert_int_equal(put_contact(port, key, "a5"), 201);
    assert_int_equal(tu_serve_stop(srv), 0);
    char *log = tu_path(dir, "serve.log"), *t = tu_read(log);
    assert_contains(t, "serve: the database connection was lost: connecting again");
    free(t);
    free(log);
    free(conf);
    free(tpl);
    free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_restart_serve),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
