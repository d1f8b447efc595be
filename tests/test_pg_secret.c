/* test_pg_secret: a PostgreSQL password is never printed and never sent
 * where it is not meant to go (issue 23's security review). The URIs whose
 * password a naive reading misses (a ? inside the password, a
 * percent-encoded query key, the scheme in capitals, which libpq takes
 * for key=value text) are refused by `herald config check` and `herald
 * init` with the file's line, and by `herald db copy` and --db on a
 * command line; the password's text appears in neither stdout nor stderr.
 * Messages name a URI as libpq parses it (user, host, port, database).
 * `herald db copy` offers the configured password only to the side that
 * is the configured database: the test server's herald_pw role must give
 * its password (scram-sha-256), so a copy to another database as that
 * role fails until a pgpass file (PGPASSFILE in the test's folder) has it. */
#include "testnet.h"

#include <sys/stat.h>

#include "herald/dbcopy.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    setenv("HERALD_CONFIG", "h.conf", 1);
    setenv("HERALD_NOW", "2026-11-22T12:00:00Z", 1);
    unsetenv("PGPASSWORD");
    unsetenv("PGPASSFILE");
    tu_pg_server();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unsetenv("PGPASSFILE");
    tu_rmdir(dir);
    dir = NULL;
    return 0;
}

/* URIs with a password libpq would read, and the password's text. */
static const struct {
    const char *uri, *secret, *why;
} inline_pw[] = {
    {"postgresql://herald:s3cr?t@db/herald", "s3cr", "the password must not be written"},
    {"postgres://herald:Zp9wQ@db:5433/herald?sslmode=disable", "Zp9wQ",
     "the password must not be written"},
    {"postgresql://herald@db/herald?%70assword=Zp9wQ", "Zp9wQ", "the password must not be written"},
    {"postgresql://db/herald?sslmode=disable&PassWord=Zp9wQ", "Zp9wQ",
     "the password must not be written"},
    {"postgresql://herald:Zp9wQ@/herald?host=/run/postgresql", "Zp9wQ",
     "the password must not be written"},
    {"POSTGRESQL://herald:Zp9wQ@db/herald", "Zp9wQ", "write the scheme in lower case"},
    {"Postgres://herald@db/herald?password=Zp9wQ", "Zp9wQ", "write the scheme in lower case"},
};

/* dir/name with text */
static void put(const char *name, const char *text)
{
    char *p = tu_path(dir, name);
    tu_write(p, text);
    free(p);
}

static void assert_hidden(const struct tu_run *r, const char *secret)
{
    assert_not_contains(r->out, secret);
    assert_not_contains(r->err, secret);
}

static void test_pg_secret_config_refused(void **state)
{
    (void)state;
    char text[512], *p = tu_path(dir, "h.conf");
    struct tu_run r;
    for (size_t i = 0; i < sizeof inline_pw / sizeof inline_pw[0]; i++) {
        snprintf(text, sizeof text, "[herald]\n\ndatabase = %s\n", inline_pw[i].uri);
        tu_write(p, text);
        static const char *const cmds[][2] = {{"config", "check"}, {"init", NULL}};
        for (size_t c = 0; c < 2; c++) {
            tu_herald(&r, dir, NULL, cmds[c][0], cmds[c][1], NULL);
            if (r.status != 1 || !strstr(r.err, "h.conf:3: database: ") ||
                !strstr(r.err, inline_pw[i].why))
                fail_msg("%s %s on '%s': status %d, %s", cmds[c][0], cmds[c][1] ? cmds[c][1] : "",
                         inline_pw[i].uri, r.status, r.err);
            assert_hidden(&r, inline_pw[i].secret);
            tu_run_release(&r);
        }
    }
    /* the same URIs without their password pass */
    tu_write(p, "[herald]\ndatabase = postgresql://herald@db/herald?sslmode=disable\n"
                "templates = .\n");
    tu_herald(&r, dir, NULL, "config", "check", NULL);
    if (r.status != 0)
        fail_msg("config check: %s", r.err);
    tu_run_release(&r);
    free(p);
}

static void test_pg_secret_command_line_refused(void **state)
{
    (void)state;
    struct tu_run r;
    put("h.conf", "[herald]\ndatabase = h.db\ntemplates = .\n");
    for (size_t i = 0; i < sizeof inline_pw / sizeof inline_pw[0]; i++) {
        const char *u = inline_pw[i].uri;
        tu_herald(&r, dir, NULL, "db", "copy", u, "x.db", NULL);
        assert_int_equal(r.status, 2);
        assert_contains(r.err, "FROM: ");
        assert_contains(r.err, inline_pw[i].why);
        assert_hidden(&r, inline_pw[i].secret);
        tu_run_release(&r);
        tu_herald(&r, dir, NULL, "db", "copy", "h.db", u, NULL);
        assert_int_equal(r.status, 2);
        assert_contains(r.err, "TO: ");
        assert_hidden(&r, inline_pw[i].secret);
        tu_run_release(&r);
        tu_herald(&r, dir, NULL, "--db", u, "log", NULL);
        assert_int_equal(r.status, 2);
        assert_contains(r.err, "--db: ");
        assert_hidden(&r, inline_pw[i].secret);
        tu_run_release(&r);
    }
    char *x = tu_path(dir, "x.db");
    assert_false(tu_exists(x));
    free(x);
}

/* What messages show: libpq's parse, never a password, nothing it cannot parse. */
static void test_pg_secret_redact(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"postgresql://herald:s3cr?t@db/herald", "postgresql://herald@db/herald"},
        {"postgres://db:5433/herald?user=ann&%70assword=Zp9wQ&sslmode=require",
         "postgres://ann@db:5433/herald"},
        {"postgresql://herald:s3cr%3Ft@/herald?host=/run/postgresql",
         "postgresql://herald@/herald?host=/run/postgresql"},
        {"postgresql://h%0Aerald@db/x", "postgresql://h?erald@db/x"},
        {"postgresql://ann:Zp9wQ@db/herald?no_such_key=1",
         "(a connection string libpq cannot parse)"},
        {"postgresql://ann:Zp9wQ@db/herald?x=%zz", "(a connection string libpq cannot parse)"},
        {"POSTGRESQL://ann:Zp9wQ@db/herald", "(a connection string libpq cannot parse)"},
        /* libpq reads a password with a / as host:port/database */
        {"postgresql://ann:Zp9wQ/x@db/herald", "(a connection string libpq cannot parse)"},
        {"postgresql://ann:12/Zp9wQ@db/herald", "(a connection string libpq cannot parse)"},
        {"postgresql:Zp9wQ.db", "postgresql:Zp9wQ.db"}, /* a file name */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *r = hd_store_target_redact(cases[i].in);
        assert_string_equal(r, cases[i].out);
        free(r);
    }
    assert_true(hd_store_target_is_pg("postgres://db/x"));
    /* nor does a connection's error show what libpq says of such a URI */
    struct tu_run r;
    char *d = tu_tmpdir();
    tu_herald(&r, d, NULL, "--db", "postgresql://ann:Zp9wQ/x@db/herald", "log", NULL);
    assert_true(r.status != 0);
    assert_contains(r.err, "check the URI's syntax");
    assert_hidden(&r, "Zp9wQ");
    tu_run_release(&r);
    tu_rmdir(d); /* frees d */
    assert_false(hd_store_target_is_pg("Postgresql://db/x"));
}

/* herald_pw's database as configured; another as herald_pw without a password. */
static void test_pg_secret_copy_offers_one_side(void **state)
{
    (void)state;
    char a[64], b[64], sql[256], text[1024], line[256], *ua, *ub;
    struct tu_run r;
    tu_pg_admin("DROP ROLE IF EXISTS herald_pw");
    tu_pg_admin("CREATE ROLE herald_pw LOGIN PASSWORD 'pw-Kd72v'");
    free(tu_pg_db(a));
    free(tu_pg_db(b));
    snprintf(sql, sizeof sql, "ALTER DATABASE %s OWNER TO herald_pw", a);
    tu_pg_admin(sql);
    snprintf(sql, sizeof sql, "ALTER DATABASE %s OWNER TO herald_pw", b);
    tu_pg_admin(sql);
    /* both as herald_pw: the server's URIs end in user=NAME */
    ua = tu_pg_uri(a);
    ub = tu_pg_uri(b);
    *strstr(ua, "user=") = '\0';
    *strstr(ub, "user=") = '\0';
    snprintf(text, sizeof text,
             "[herald]\ndatabase = %suser=herald_pw\ndatabase_password_file = pgpw\n"
             "templates = .\n",
             ua);
    put("h.conf", text);
    put("pgpw", "pw-Kd72v\n");
    TU_HERALD_OK(dir, "init");
    char from[512], to[512];
    snprintf(from, sizeof from, "%suser=herald_pw", ua);
    snprintf(to, sizeof to, "%suser=herald_pw", ub);

    /* the configured password is not offered to b */
    tu_herald(&r, dir, NULL, "db", "copy", from, to, NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "cannot connect");
    snprintf(line, sizeof line, "herald_pw@:");
    assert_contains(r.err, line);
    assert_contains(r.err, b);
    assert_contains(r.err, "no password supplied");
    assert_hidden(&r, "pw-Kd72v");
    tu_run_release(&r);
    /* nor to --db naming b: init and a read (a review saw them sent it) */
    tu_herald(&r, dir, NULL, "--db", to, "init", NULL);
    assert_true(r.status != 0);
    assert_contains(r.err, "no password supplied");
    assert_hidden(&r, "pw-Kd72v");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "--db", to, "contacts", "list", NULL);
    assert_true(r.status != 0);
    assert_contains(r.err, "no password supplied");
    tu_run_release(&r);
    /* the configured database itself, named by --db as it is written: offered */
    tu_herald(&r, dir, NULL, "--db", from, "contacts", "list", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);

    /* b's own password from a pgpass file (0600, else libpq ignores it) */
    char *pass = tu_path(dir, "pgpass");
    snprintf(text, sizeof text, "*:*:%s:herald_pw:pw-Kd72v\n", b);
    tu_write(pass, text);
    assert_int_equal(chmod(pass, 0600), 0);
    setenv("PGPASSFILE", pass, 1);
    tu_herald(&r, dir, NULL, "db", "copy", from, to, NULL);
    if (r.status != 0)
        fail_msg("copy with b's password in pgpass: %s", r.err);
    assert_contains(r.out, "every table's row count matches");
    assert_hidden(&r, "pw-Kd72v");
    tu_run_release(&r);
    unsetenv("PGPASSFILE");
    free(pass);
    tu_pg_drop(a);
    tu_pg_drop(b);
    tu_pg_admin("DROP ROLE herald_pw");
    free(ua);
    free(ub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pg_secret_redact),
        cmocka_unit_test_setup_teardown(test_pg_secret_config_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_secret_command_line_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_secret_copy_offers_one_side, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
