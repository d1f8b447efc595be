/* test_crm: real files from a CRM, through the real herald binary: headers
 * mapped with --map and an [import] map in the configuration, a country
 * column that reads each row's national numbers (and the warning for a
 * number that fits no rule of its region), a GBK file refused once without
 * --encoding and imported with it, duplicate ids refused with both lines
 * unless --last-wins, and bulk suppression lists (suppress import) with
 * suppress add reading national numbers and addresses starting with '-'.
 * Non-UTF-8 files are written here from escaped bytes. Every case runs on
 * the default SQLite file and on a PostgreSQL store (--db on each command). */
#include "testutil.h"

#include <stdbool.h>

struct fx {
    char *dir;
    const char *db;   /* the store every command names with --db */
    char *pg_uri;     /* on the PostgreSQL run: its database (db) */
    char pg_name[64]; /* and its name, for tu_pg_drop */
};

static int setup_on(void **state, bool pg)
{
    struct fx *fx = hd_xcalloc(1, sizeof *fx);
    struct tu_run r;
    fx->dir = tu_tmpdir();
    fx->db = "var/herald.db"; /* the default store */
    if (pg)
        fx->db = fx->pg_uri = tu_pg_db(fx->pg_name);
    unsetenv("HERALD_CONFIG");
    setenv("HERALD_NOW", "2026-11-22T00:00:00Z", 1);
    tu_herald(&r, fx->dir, NULL, "--db", fx->db, "init", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    *state = fx;
    return 0;
}

static int setup(void **state)
{
    return setup_on(state, false);
}

/* The same with the store on a fresh PostgreSQL database. */
static int setup_pg(void **state)
{
    return setup_on(state, true);
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    tu_rmdir(fx->dir);
    if (fx->pg_uri) {
        tu_pg_drop(fx->pg_name);
        free(fx->pg_uri);
    }
    free(fx);
    return 0;
}

static void put(struct fx *fx, const char *name, const char *text)
{
    char *p = tu_path(fx->dir, name);
    tu_write(p, text);
    free(p);
}

/* Runs herald on the case's store with up to 8 arguments (NULL-terminated) and
 * checks the exit code. */
#define RUN(r, fx, want, ...)                                                                      \
    do {                                                                                           \
        tu_herald((r), (fx)->dir, NULL, "--db", (fx)->db, __VA_ARGS__, NULL);                      \
        if ((r)->status != (want))                                                                 \
            fprintf(stderr, "exit %d\nstdout: %s\nstderr: %s\n", (r)->status, (r)->out, (r)->err); \
        assert_int_equal((r)->status, (want));                                                     \
    } while (0)

#define HAS(s, needle)                                                                             \
    do {                                                                                           \
        if (!strstr((s), (needle)))                                                                \
            fprintf(stderr, "missing '%s' in:\n%s\n", (needle), (s));                              \
        assert_non_null(strstr((s), (needle)));                                                    \
    } while (0)

/* The number of contacts (lines of contacts list --limit 0 after its header). */
static int contacts(struct fx *fx)
{
    struct tu_run r;
    int n = -1;
    RUN(&r, fx, 0, "contacts", "list", "--limit", "0");
    for (const char *p = r.out; *p; p++)
        n += *p == '\n';
    tu_run_release(&r);
    return n;
}

static const char crm_csv[] = "Customer ID,Mobile,\xe9\x82\xae\xe7\xae\xb1\n" /* 邮箱 */
                              "c1,13800138000,ann@example.com\n"
                              "c2,139 0013 9000,bo@example.com\n";

static void test_crm_map(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    put(fx, "crm.csv", crm_csv);
    RUN(&r, fx, 1, "contacts", "import", "crm.csv", "--default-region", "CN");
    HAS(r.err, "crm.csv:1: column 'Customer ID'");
    HAS(r.err, "--map 'Customer ID=FIELD'");
    tu_run_release(&r);
    assert_int_equal(contacts(fx), 0);

    RUN(&r, fx, 2, "contacts", "import", "crm.csv", "--map", "Customer ID=id,Mobile=cell phone");
    HAS(r.err, "--map: 'cell phone' is not a herald field");
    tu_run_release(&r);
    RUN(&r, fx, 1, "contacts", "import", "crm.csv", "--map",
        "Customer ID=id,Mobile=phone,\xe9\x82\xae\xe7\xae\xb1=phone", "--default-region", "CN");
    HAS(r.err, "columns 'Mobile' and '\xe9\x82\xae\xe7\xae\xb1' both give 'phone'");
    tu_run_release(&r);
    assert_int_equal(contacts(fx), 0);

    /* 手机 is another CRM's name for the mobile: absent here, and no warning
     * since Mobile gives the phone; a locale no column has is a warning */
    RUN(&r, fx, 0, "contacts", "import", "crm.csv", "--default-region", "CN", "--map",
        "Customer ID=id,Mobile=phone,\xe6\x89\x8b\xe6\x9c\xba=phone,\xe9\x82\xae\xe7\xae\xb1=email,"
        "Language=locale");
    HAS(r.out, "2 rows, 2 inserted");
    HAS(r.err, "crm.csv:1: warning: --map: no column for 'locale' (looked for 'Language')");
    assert_null(strstr(r.err, "'phone'"));
    tu_run_release(&r);
    RUN(&r, fx, 0, "contacts", "show", "c2");
    HAS(r.out, "+8613900139000");
    HAS(r.out, "bo@example.com");
    tu_run_release(&r);
}

static void test_crm_config_map(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    put(fx, "crm.csv", crm_csv);
    put(fx, "h.conf",
        "[herald]\ndefault_region = CN\n\n[import]\nmap = Customer ID=id,\n"
        "    Mobile=phone, \xe9\x82\xae\xe7\xae\xb1=email\n");
    RUN(&r, fx, 0, "-c", "h.conf", "contacts", "import", "crm.csv");
    HAS(r.out, "2 rows, 2 inserted");
    tu_run_release(&r);
    RUN(&r, fx, 0, "contacts", "show", "c1");
    HAS(r.out, "+8613800138000");
    HAS(r.out, "ann@example.com");
    tu_run_release(&r);
    /* --map replaces the configuration's map: Mobile becomes an attribute */
    RUN(&r, fx, 0, "-c", "h.conf", "contacts", "import", "crm.csv", "--map",
        "Customer ID=id,Mobile=mobile_raw,\xe9\x82\xae\xe7\xae\xb1=email", "--types",
        "mobile_raw=string");
    tu_run_release(&r);
    RUN(&r, fx, 0, "contacts", "show", "c1");
    HAS(r.out, "mobile_raw");
    tu_run_release(&r);
    put(fx, "bad.conf", "[import]\nmap = Customer ID=no such field\n");
    RUN(&r, fx, 2, "-c", "bad.conf", "contacts", "import", "crm.csv");
    HAS(r.err, "[import] map (bad.conf:2): 'no such field' is not a herald field");
    tu_run_release(&r);
}

static void test_crm_country(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    put(fx, "mixed.csv",
        "id,phone,\xe5\x9b\xbd\xe5\xae\xb6\n" /* 国家 */
        "u1,1-415-555-0146,US\n"
        "c1,13800138000,cn\n"
        "x1,1-415-555-0146,\n"
        "g1,020 7946 0018,GB\n");
    RUN(&r, fx, 0, "contacts", "import", "mixed.csv", "--default-region", "CN", "--map",
        "\xe5\x9b\xbd\xe5\xae\xb6=country");
    HAS(r.out, "4 rows, 4 inserted");
    HAS(r.out, "1 warning");
    HAS(r.err, "mixed.csv:4: warning: field 'phone': '1-415-555-0146' read in CN is "
               "+8614155550146, which fits no CN numbering rule");
    assert_null(strstr(r.err, "mixed.csv:2:"));
    tu_run_release(&r);
    const char *want[][2] = {{"u1", "+14155550146"},
                             {"c1", "+8613800138000"},
                             {"x1", "+8614155550146"},
                             {"g1", "+442079460018"}};
    for (size_t i = 0; i < 4; i++) {
        RUN(&r, fx, 0, "contacts", "show", want[i][0]);
        HAS(r.out, want[i][1]);
        tu_run_release(&r);
    }
    put(fx, "bad.csv", "id,phone,country\nb1,13800138000,CN\nb2,13800138001,China\n");
    RUN(&r, fx, 1, "contacts", "import", "bad.csv");
    HAS(r.err, "bad.csv:3: field 'country': 'China' is not an ISO 3166-1 alpha-2 country code");
    tu_run_release(&r);
    assert_int_equal(contacts(fx), 4);
}

/* 18 rows of GBK: names and cities, enough text for ICU's detector. */
static void put_gbk(struct fx *fx, const char *name)
{
    static const char *const names[] = {"\xD5\xC5\xCE\xB0", "\xCD\xF5\xB7\xBC", "\xC0\xEE\xC4\xC8",
                                        "\xC1\xF5\xD1\xF3", "\xB3\xC2\xBE\xB2", "\xD1\xEE\xC0\xDA"};
    static const char *const cities[] = {"\xB1\xB1\xBE\xA9\xCA\xD0", "\xC9\xCF\xBA\xA3\xCA\xD0",
                                         "\xB9\xE3\xD6\xDD\xCA\xD0", "\xC9\xEE\xDB\xDA\xCA\xD0",
                                         "\xBA\xBC\xD6\xDD\xCA\xD0", "\xB3\xC9\xB6\xBC\xCA\xD0"};
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_adds(&b, "id,name,city\n");
    for (int i = 0; i < 18; i++)
        hd_buf_addf(&b, "g%d,%s,%s\n", i, names[i % 6], cities[i % 6]);
    put(fx, name, b.data);
    hd_buf_release(&b);
}

static void test_crm_encoding(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    put_gbk(fx, "gbk.csv");
    RUN(&r, fx, 1, "contacts", "import", "gbk.csv");
    HAS(r.err, "gbk.csv:2: the file is not UTF-8 (it looks like GB18030); add --encoding gb18030");
    assert_null(strstr(r.err, "gbk.csv:3"));
    assert_null(strchr(strchr(r.err, '\n') + 1, '\n')); /* one line */
    tu_run_release(&r);
    assert_int_equal(contacts(fx), 0);

    RUN(&r, fx, 2, "contacts", "import", "gbk.csv", "--encoding", "klingon");
    HAS(r.err, "--encoding: 'klingon' is not an encoding ICU knows");
    tu_run_release(&r);
    RUN(&r, fx, 0, "contacts", "import", "gbk.csv", "--encoding", "gbk");
    HAS(r.out, "18 rows, 18 inserted");
    tu_run_release(&r);
    RUN(&r, fx, 0, "contacts", "show", "g0");
    HAS(r.out, "\xe5\xbc\xa0\xe4\xbc\x9f");             /* 张伟 */
    HAS(r.out, "\xe5\x8c\x97\xe4\xba\xac\xe5\xb8\x82"); /* 北京市 */
    tu_run_release(&r);

    /* Latin-1 from standard input; a UTF-8 BOM is skipped */
    put(fx, "l1.csv", "id,name\nl1,Ren\xe9\n");
    char *in = tu_path(fx->dir, "l1.csv");
    tu_herald(&r, fx->dir, in, "--db", fx->db, "contacts", "import", "-", "--format", "csv",
              "--encoding", "latin1", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    free(in);
    RUN(&r, fx, 0, "contacts", "show", "l1");
    HAS(r.out, "Ren\xc3\xa9");
    tu_run_release(&r);
    /* UTF-8 past the first 64 KiB block, with a character cut by its end
     * (at byte 65536), then one bad byte: its line, and no guess of another
     * encoding for a file that is UTF-8 up to there */
    struct hd_buf big;
    hd_buf_init(&big);
    hd_buf_adds(&big, "id,name\npad,");
    while (big.len < 65531)
        hd_buf_addc(&big, 'x');
    hd_buf_addc(&big, '\n');
    for (int i = 0; i < 5000; i++) /* u0's first character starts at 65535 */
        hd_buf_addf(&big, "u%d,\xe5\x90\x8d\xe5\xad\x97%s\n", i, i == 4000 ? "\xff" : "");
    put(fx, "damaged.csv", big.data);
    RUN(&r, fx, 1, "contacts", "import", "damaged.csv");
    HAS(r.err, "damaged.csv:4003: bytes that are not UTF-8 in a file that is UTF-8 before them");
    tu_run_release(&r);
    *strstr(big.data, "\xff") = 'x';
    put(fx, "long.csv", big.data);
    RUN(&r, fx, 0, "contacts", "import", "long.csv", "--dry-run");
    HAS(r.out, "5001 rows");
    tu_run_release(&r);
    hd_buf_release(&big);
    put(fx, "bom.csv", "\xef\xbb\xbfid,name\nb1,Bom\n");
    RUN(&r, fx, 0, "contacts", "import", "bom.csv");
    tu_run_release(&r);
    assert_int_equal(contacts(fx), 20);
}

static void test_crm_duplicates(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    put(fx, "contacts.csv",
        "id,email\nc40,a@example.com\nc41,b@example.com\nc42,c@example.com\n"
        "c43,d@example.com\nc44,e@example.com\nc42,last@example.com\n");
    RUN(&r, fx, 1, "contacts", "import", "contacts.csv");
    HAS(r.err, "contacts.csv:7: id 'c42' already appears on line 4");
    tu_run_release(&r);
    assert_int_equal(contacts(fx), 0);
    put(fx, "c.jsonl", "{\"id\":\"j1\"}\n{\"id\":\"j1\",\"email\":\"x@example.com\"}\n");
    RUN(&r, fx, 1, "contacts", "import", "c.jsonl");
    HAS(r.err, "c.jsonl:2: id 'j1' already appears on line 1");
    tu_run_release(&r);
    /* --skip-invalid: the first row stays, the later one goes to the rejects
     * file, under the header as the file wrote it */
    put(fx, "crm.csv", "Customer ID,email\nd1,first@example.com\nd1,second@example.com\n");
    RUN(&r, fx, 0, "contacts", "import", "crm.csv", "--map", "Customer ID=id", "--skip-invalid");
    HAS(r.out, "2 rows, 1 inserted, 0 updated, 1 rejected");
    tu_run_release(&r);
    char *rej = tu_path(fx->dir, "crm.csv.rejected.csv"), *text = tu_read(rej);
    assert_non_null(text);
    HAS(text, "line,reason,Customer ID,email\r\n3,id 'd1' already appears on line 2");
    free(text);
    free(rej);
    RUN(&r, fx, 0, "contacts", "show", "d1");
    HAS(r.out, "first@example.com");
    tu_run_release(&r);
    RUN(&r, fx, 0, "contacts", "import", "contacts.csv", "--last-wins");
    HAS(r.out, "6 rows, 5 inserted, 1 updated");
    tu_run_release(&r);
    RUN(&r, fx, 0, "contacts", "show", "c42");
    HAS(r.out, "last@example.com");
    tu_run_release(&r);
}

/* The suppression list as CSV. */
static char *suppressions(struct fx *fx)
{
    struct tu_run r;
    RUN(&r, fx, 0, "suppress", "list", "--format", "csv");
    free(r.err);
    return r.out;
}

static void test_crm_suppress_import(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    put(fx, "good.csv",
        "address,channel,reason\nAnn@Example.com,,unsubscribed\n"
        "0412 345 678,,complaint\n+8613800138000,sms,\ntok_123,push,\n");
    RUN(&r, fx, 1, "suppress", "import", "good.csv");
    HAS(r.err, "good.csv:3: '0412 345 678' is not a valid sms address: a national number needs a "
               "region (set --default-region)");
    tu_run_release(&r);
    char *list = suppressions(fx);
    assert_string_equal(list, "address,channel,reason,created_at,message_id,detail\r\n");
    free(list);
    RUN(&r, fx, 0, "suppress", "import", "good.csv", "--default-region", "AU");
    HAS(r.out, "good.csv: 4 rows, 4 suppressed, 0 rejected");
    tu_run_release(&r);
    list = suppressions(fx);
    HAS(list, "ann@example.com,email,unsubscribed");
    HAS(list, "+61412345678,sms,complaint");
    HAS(list, "+8613800138000,sms,manual");
    HAS(list, "tok_123,push,manual");

    put(fx, "bad.csv",
        "reason,address\nbounced,new@example.com\nbounced,bad@\nNOPE,x@example.com\n"
        ",\n");
    RUN(&r, fx, 1, "suppress", "import", "bad.csv");
    HAS(r.err, "bad.csv:3: 'bad@' is not a valid email address");
    HAS(r.err, "bad.csv:4: field 'reason': 'NOPE'");
    HAS(r.err, "bad.csv:5: field 'address' is empty");
    HAS(r.err, "3 of 4 rows are invalid; nothing was written");
    HAS(r.out, "4 rows, 0 suppressed, 3 rejected");
    tu_run_release(&r);
    char *after = suppressions(fx);
    assert_string_equal(after, list); /* new@example.com, valid, was not written either */
    free(after);
    free(list);
    put(fx, "cols.csv", "address,date\nx@example.com,2026-01-01\n");
    RUN(&r, fx, 1, "suppress", "import", "cols.csv");
    HAS(r.err, "cols.csv:1: column 'date' is not address, channel or reason");
    tu_run_release(&r);
}

static void test_crm_suppress_add(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    RUN(&r, fx, 1, "suppress", "add", "139 0013 9000");
    HAS(r.err, "a national number needs a region (set --default-region)");
    tu_run_release(&r);
    RUN(&r, fx, 0, "suppress", "add", "139 0013 9000", "--default-region", "CN");
    HAS(r.out, "suppressed sms address '+8613900139000'");
    tu_run_release(&r);
    RUN(&r, fx, 2, "suppress", "add", "-dash_token");
    tu_run_release(&r);
    RUN(&r, fx, 0, "suppress", "add", "--reason", "unregistered_token", "--", "-dash_token");
    HAS(r.out, "suppressed push address '-dash_token' (unregistered_token)");
    tu_run_release(&r);
    char *list = suppressions(fx);
    HAS(list, "-dash_token,push,unregistered_token");
    HAS(list, "+8613900139000,sms,manual");
    free(list);
    RUN(&r, fx, 0, "suppress", "remove", "--", "-dash_token");
    tu_run_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crm_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crm_config_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crm_country, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crm_encoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crm_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crm_suppress_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crm_suppress_add, setup, teardown),
        {"test_crm_map_pg", test_crm_map, setup_pg, teardown, NULL},
        {"test_crm_config_map_pg", test_crm_config_map, setup_pg, teardown, NULL},
        {"test_crm_country_pg", test_crm_country, setup_pg, teardown, NULL},
        {"test_crm_encoding_pg", test_crm_encoding, setup_pg, teardown, NULL},
        {"test_crm_duplicates_pg", test_crm_duplicates, setup_pg, teardown, NULL},
        {"test_crm_suppress_import_pg", test_crm_suppress_import, setup_pg, teardown, NULL},
        {"test_crm_suppress_add_pg", test_crm_suppress_add, setup_pg, teardown, NULL},
    };
    return cmocka_run_group_tests_name("crm", tests, NULL, NULL);
}
