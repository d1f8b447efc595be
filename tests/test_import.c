/* test_import: the import module on small files: every bad-row message
 * (exact, with file and line), nothing written on a failed import, the
 * rejects file, dry runs, type inference and --types, merge and replace,
 * JSON Lines, and header errors. Every case runs twice (issue 23): on a
 * new SQLite file, and as `..._pg` on PostgreSQL, one database (tu_pg_db)
 * given the schema once for all the cases and emptied of contacts and
 * attribute types before each, which hd_store_open is given by its
 * postgresql:// URI. The store is read back only through its own
 * functions, so a case is the same text on both engines. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testboth.h"

#include "herald/dbcopy.h"
#include "herald/import.h"
#include "herald/store.h"

struct fx {
    char *dir;
    bool pg; /* the store is pg_uri */
    struct hd_store *st;
    char *msgs_path;
    FILE *msgs;
};

/* The PostgreSQL cases' database, made with the schema once for them all:
 * a database made, given the schema and dropped per case cost 3 to 5
 * seconds each on the shared machine, emptying one 0.1 to 0.2 s. */
static char *pg_uri, pg_name[64];

static int group_setup_pg(void **state)
{
    (void)state;
    pg_uri = tu_pg_db_migrated(pg_name); /* herald init's schema: the open makes none */
    return 0;
}

static int group_teardown_pg(void **state)
{
    (void)state;
    tu_pg_drop(pg_name);
    free(pg_uri);
    return 0;
}

/* An empty store: a new dir/h.db, or pg_uri emptied if pg. */
static int setup_on(void **state, bool pg)
{
    struct fx *fx = hd_xcalloc(1, sizeof *fx);
    struct hd_store_opts create = {.create = true};
    fx->dir = tu_tmpdir();
    fx->pg = pg;
    if (pg) /* contacts takes their events, consent and tokens with it */
        free(tu_sql_text(fx->dir, pg_uri,
                         "SET client_min_messages = warning; TRUNCATE contacts, attributes "
                         "CASCADE"));
    char *db = pg ? hd_xstrdup(pg_uri) : tu_path(fx->dir, "h.db");
    struct hd_err e = {0};
    if (hd_store_open(db, &create, &fx->st, &e) < 0)
        fail_msg("store: %s", e.msg);
    free(db);
    fx->msgs_path = tu_path(fx->dir, "msgs");
    *state = fx;
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
    struct fx *fx = *state;
    hd_store_free(fx->st);
    free(fx->msgs_path);
    tu_rmdir(fx->dir);
    free(fx);
    return 0;
}

/* Imports text (written to NAME in the fixture's folder); msgs gets what
 * was printed about bad rows. */
static int run(struct fx *fx, const char *name, const char *text, struct hd_import_opts *o,
               struct hd_import_result *res, struct hd_err *e, char **msgs)
{
    char *path = tu_path(fx->dir, name), cwd[4096];
    tu_write(path, text);
    FILE *m = fopen(fx->msgs_path, "w");
    /* run in the folder so that messages name the file as a user would */
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(fx->dir), 0);
    o->path = name;
    o->msgs = m;
    int rc = hd_import_run(fx->st, o, 1795305600, res, e);
    assert_int_equal(chdir(cwd), 0);
    fclose(m);
    *msgs = tu_read(fx->msgs_path);
    if (res->rejects[0]) { /* make it usable from the original folder */
        char *abs = tu_path(fx->dir, res->rejects);
        snprintf(res->rejects, sizeof res->rejects, "%s", abs);
        free(abs);
    }
    free(path);
    return rc;
}

/* What the CLI passes (src/cmd_contacts.c): its flags, quoted in messages. */
static const struct hd_import_hints cli_hints = {.types = "--types",
                                                 .format = "--format",
                                                 .skip_invalid = "--skip-invalid",
                                                 .region = "--default-region or default_region"};

static int64_t count(struct fx *fx)
{
    int64_t n = -1;
    assert_int_equal(hd_store_contact_count(fx->st, &n, NULL), 0);
    return n;
}

static void test_import_bad_rows(void **state)
{
    struct fx *fx = *state;
    static const struct {
        const char *row, *msg;
    } cases[] = {
        {"c2,ann@example.com,12ab,en,UTC,5",
         "c.csv:3: field 'phone': '12ab' is not a phone number"},
        {"c2,ann@,+14155550100,en,UTC,5",
         "c.csv:3: field 'email': 'ann@' is not an email address (no domain after '@')"},
        {"c2,ann@example.com,+14155550100,zz_ZZ,UTC,5",
         "c.csv:3: field 'locale': 'zz_ZZ' is not a BCP 47 language tag (write '-' instead of "
         "'_', e.g. zh-CN)"},
        {"c2,ann@example.com,+14155550100,en,Mars/Base,5",
         "c.csv:3: field 'timezone': 'Mars/Base' is not an IANA time zone (e.g. Asia/Shanghai, "
         "America/New_York)"},
        {"c2,ann@example.com,+14155550100,en,CST,5",
         "c.csv:3: field 'timezone': 'CST' is not an IANA time zone (CST: America/Chicago or "
         "Asia/Shanghai?)"},
        {",ann@example.com,+14155550100,en,UTC,5",
         "c.csv:3: field 'id': is empty: every contact needs an id"},
        {"c2,ann@example.com,+14155550100,en,UTC,five",
         "c.csv:3: field 'score': 'five' is not a number (the column's type came from line 2; "
         "declare another with --types score=string)"},
        {"c2,ann@example.com,+14155550100,en,UTC",
         "c.csv:3: expected 6 fields as in the header, found 5"},
        {"c2,ann@example.com,+1415555010,en,UTC,5",
         "c.csv:3: field 'phone': '+1415555010' is not a phone number (wrong number of digits "
         "for its country)"},
        {"c2,ann@example.com,4155550100,en,UTC,5",
         "c.csv:3: field 'phone': '4155550100' is not a phone number (a national number needs a "
         "region: set --default-region or default_region)"},
        {"c2,ann@example.com,+14155550100,english,UTC,5",
         "c.csv:3: field 'locale': 'english' is not a BCP 47 language tag (it must start with a "
         "language such as en or zh)"},
        {"c2,ann@example.com,+14155550100,qq,UTC,5",
         "c.csv:3: field 'locale': 'qq' is not a BCP 47 language tag (unknown language)"},
        {"c2,ann@example.com,+14155550100,zh--CN,UTC,5",
         "c.csv:3: field 'locale': 'zh--CN' is not a BCP 47 language tag\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hd_buf t;
        hd_buf_init(&t);
        hd_buf_addf(&t,
                    "id,email,phone,locale,timezone,score\n"
                    "c1,c1@example.com,+8613800138000,zh-CN,Asia/Shanghai,1\n%s\n"
                    "c3,c3@example.com,,,,2\n",
                    cases[i].row);
        struct hd_import_opts o = {.hints = cli_hints};
        struct hd_import_result res;
        struct hd_err e = {0};
        char *msgs;
        int rc = run(fx, "c.csv", t.data, &o, &res, &e, &msgs);
        assert_int_equal(rc, HD_E_INVALID);
        if (strncmp(msgs, cases[i].msg, strlen(cases[i].msg)) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, msgs, cases[i].msg);
        assert_int_equal(res.rows, 3);
        assert_int_equal(res.rejected, 1);
        assert_contains(e.msg, "1 of 3 rows are invalid; nothing was written");
        assert_int_equal(count(fx), 0); /* nothing was written */
        free(msgs);
        hd_buf_release(&t);
    }
}

static void test_import_skip_invalid(void **state)
{
    struct fx *fx = *state;
    const char *text = "id,email,plan\n"
                       "a,a@example.com,gold\n"
                       "b,not-an-email,silver\n"
                       "c,\"c@example.com\",\"bronze, \"\"old\"\"\"\n"
                       "d,\"multi\nline\",x\n";
    struct hd_import_opts o = {.skip_invalid = true};
    struct hd_import_result res;
    struct hd_err e = {0};
    char *msgs;
    assert_int_equal(run(fx, "s.csv", text, &o, &res, &e, &msgs), 0);
    assert_int_equal(res.rows, 4);
    assert_int_equal(res.inserted, 2);
    assert_int_equal(res.rejected, 2);
    assert_int_equal(count(fx), 2);
    char *rej = tu_read(res.rejects);
    assert_non_null(rej);
    assert_string_equal(rej, "line,reason,id,email,plan\r\n"
                             "3,field 'email': 'not-an-email' is not an email address (missing "
                             "'@'),b,not-an-email,silver\r\n"
                             "5,field 'email': 'multi?line' is not an email address (missing "
                             "'@'),d,\"multi\nline\",x\r\n");
    assert_contains(msgs, "s.csv:3: field 'email'");
    assert_contains(msgs, "s.csv:5: field 'email'");
    struct hd_contact c;
    assert_int_equal(hd_store_contact_get(fx->st, "c", &c, NULL), 0);
    assert_string_equal(c.attrs, "{\"plan\":\"bronze, \\\"old\\\"\"}");
    hd_contact_release(&c);
    free(rej);
    free(msgs);

    /* a clean file with --skip-invalid leaves no rejects file */
    struct hd_import_opts o2 = {.skip_invalid = true};
    assert_int_equal(run(fx, "ok.csv", "id\nz\n", &o2, &res, &e, &msgs), 0);
    assert_string_equal(res.rejects, "");
    char *p = tu_path(fx->dir, "ok.csv.rejected.csv");
    assert_false(tu_exists(p));
    free(p);
    free(msgs);

    /* rejects into a path that is no file (/dev/null, a pipe) are written
     * to it: the temporary was renamed over it (a review's --rejects
     * /dev/null, run as root, made /dev/null a file); a pipe here, read
     * by the test, so that no machine's /dev/null is at stake */
    char *fifo = tu_path(fx->dir, "rej.pipe");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    int rd = open(fifo, O_RDWR | O_NONBLOCK); /* a reader, so writing does not wait */
    assert_true(rd >= 0);
    struct hd_import_opts o3 = {.skip_invalid = true, .rejects_path = fifo};
    assert_int_equal(run(fx, "p.csv", "id,email\ny,bad\n", &o3, &res, &e, &msgs), 0);
    assert_int_equal(res.rejected, 1);
    struct stat sb;
    assert_int_equal(stat(fifo, &sb), 0);
    assert_true(S_ISFIFO(sb.st_mode));
    char got[512] = "";
    ssize_t n = read(rd, got, sizeof got - 1);
    assert_true(n > 0);
    assert_non_null(strstr(got, "2,field 'email': 'bad' is not an email address"));
    close(rd);
    free(fifo);
    free(msgs);
}

static void test_import_dry_run(void **state)
{
    struct fx *fx = *state;
    struct hd_import_opts o = {.dry_run = true};
    struct hd_import_result res;
    struct hd_err e = {0};
    char *msgs;
    assert_int_equal(run(fx, "d.csv", "id,age\na,1\nb,2\n", &o, &res, &e, &msgs), 0);
    assert_int_equal(res.rows, 2);
    assert_int_equal(count(fx), 0);
    free(msgs);
    struct hd_import_opts o2 = {.dry_run = true, .skip_invalid = true};
    assert_int_equal(run(fx, "d.csv", "id,age\na,1\nb,x\n", &o2, &res, &e, &msgs), 0);
    assert_int_equal(res.rejected, 1);
    assert_int_equal(count(fx), 0);
    free(msgs);
}

static int types_cb(void *ud, const char *name, const char *type)
{
    hd_buf_addf(ud, "%s=%s;", name, type);
    return 0;
}

static void test_import_types(void **state)
{
    struct fx *fx = *state;
    const char *text = "id,age,vip,last_active,zip,note,score\n"
                       "a,30,true,2026-11-01,007,hello,\n"
                       "b,41.5,FALSE,2026-10-01T10:00:00+02:00,10001,,3\n";
    struct hd_import_opts o = {.types = "zip=string"};
    struct hd_import_result res;
    struct hd_err e = {0};
    char *msgs;
    assert_int_equal(run(fx, "t.csv", text, &o, &res, &e, &msgs), 0);
    free(msgs);
    struct hd_contact c;
    assert_int_equal(hd_store_contact_get(fx->st, "a", &c, NULL), 0);
    assert_string_equal(c.attrs, "{\"age\":30,\"vip\":true,\"last_active\":\"2026-11-01\","
                                 "\"zip\":\"007\",\"note\":\"hello\"}");
    hd_contact_release(&c);
    assert_int_equal(hd_store_contact_get(fx->st, "b", &c, NULL), 0);
    assert_string_equal(c.attrs, "{\"age\":41.5,\"vip\":false,\"last_active\":"
                                 "\"2026-10-01T08:00:00Z\",\"zip\":\"10001\",\"score\":3}");
    hd_contact_release(&c);
    struct hd_buf b;
    hd_buf_init(&b);
    assert_int_equal(hd_store_attr_types(fx->st, types_cb, &b, NULL), 0);
    assert_string_equal(b.data, "age=number;last_active=date;note=string;score=number;vip=boolean;"
                                "zip=string;");
    hd_buf_release(&b);

    /* a later import keeps the recorded types */
    assert_int_equal(run(fx, "t2.csv", "id,age\nc,old\n", &o, &res, &e, &msgs), HD_E_INVALID);
    assert_contains(msgs, "t2.csv:2: field 'age': 'old' is not a number (the attribute's type is "
                          "number)");
    free(msgs);

    /* a declaration cannot change a recorded type: it did, silently, and
     * "high" was stored under a number attribute */
    struct hd_import_opts o6 = {.types = "age=string", .hints = cli_hints};
    assert_int_equal(run(fx, "t6.csv", "id,age\nd,high\n", &o6, &res, &e, &msgs), HD_E_USAGE);
    assert_string_equal(e.msg, "--types: attribute 'age' is recorded as number, not string: every "
                               "stored value of an attribute has one type (use another attribute "
                               "name)");
    free(msgs);
    assert_int_equal(hd_store_contact_get(fx->st, "d", &c, NULL), HD_E_NOTFOUND);

    /* bad --types */
    struct hd_import_opts o3 = {.types = "age=colour", .hints = cli_hints};
    assert_int_equal(run(fx, "t3.csv", "id\nx\n", &o3, &res, &e, &msgs), HD_E_USAGE);
    assert_string_equal(e.msg, "--types: 'colour' is not one of number, boolean, date, string");
    free(msgs);
    /* without the caller's hints the library names no flag */
    struct hd_import_opts o4 = {.types = "age=colour"};
    assert_int_equal(run(fx, "t4.csv", "id\nx\n", &o4, &res, &e, &msgs), HD_E_USAGE);
    assert_string_equal(e.msg, "types: 'colour' is not one of number, boolean, date, string");
    free(msgs);
    struct hd_import_opts o5 = {0};
    assert_int_equal(run(fx, "t5.csv", "id,n\nx,1\ny,z\n", &o5, &res, &e, &msgs), HD_E_INVALID);
    assert_contains(msgs, "t5.csv:3: field 'n': 'z' is not a number (the column's type came from "
                          "line 2; declare another, e.g. n=string)");
    assert_contains(e.msg, "(fix them, or skip invalid rows to import the valid rows)");
    free(msgs);
}

static void test_import_header_errors(void **state)
{
    struct fx *fx = *state;
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"", "h.csv:1: the file is empty"},
        {"email\na@example.com\n", "h.csv:1: the header has no 'id' column"},
        {"id,plan,plan\n", "h.csv:1: column 'plan' appears twice in the header"},
        {"id,first name\n", "h.csv:1: column 'first name' is not a valid attribute name"},
        /* no map can name these: the hint said to map them */
        {"id,a=b\n", "h.csv:1: column 'a=b' has '=' in its name, which a map cannot name"},
        {"id,email,\n", "h.csv:1: column 3 has no name: give it one"},
        {"id,updated_at\n", "h.csv:1: column 'updated_at' is kept by herald"},
        {"id,x\n1,\"open\n", "h.csv:2: unterminated quoted field"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hd_import_opts o = {0};
        struct hd_import_result res;
        struct hd_err e = {0};
        char *msgs;
        int rc = run(fx, "h.csv", cases[i].text, &o, &res, &e, &msgs);
        assert_true(rc < 0);
        if (strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, e.msg, cases[i].msg);
        assert_int_equal(count(fx), 0);
        free(msgs);
    }
    struct hd_import_opts o = {0};
    struct hd_import_result res;
    struct hd_err e = {0};
    char *msgs;
    assert_int_equal(run(fx, "h.xlsx", "id\n", &o, &res, &e, &msgs), HD_E_USAGE);
    assert_contains(e.msg, "cannot tell the format of");
    free(msgs);
}

static void test_import_jsonl(void **state)
{
    struct fx *fx = *state;
    const char *text =
        "{\"id\":\"j1\",\"email\":\"j1@example.com\",\"plan\":\"gold\",\"age\":30,"
        "\"tags\":[\"a\",\"b\"],\"profile\":{\"city\":\"Paris\"},\"joined\":\"2026-01-02\"}\n"
        "\n"
        "{\"id\":42,\"phone\":\"+14155550100\",\"vip\":true,\"ratio\":0.1}\n";
    struct hd_import_opts o = {0};
    struct hd_import_result res;
    struct hd_err e = {0};
    char *msgs;
    assert_int_equal(run(fx, "c.jsonl", text, &o, &res, &e, &msgs), 0);
    free(msgs);
    assert_int_equal(res.rows, 2);
    assert_int_equal(res.inserted, 2);
    struct hd_contact c;
    assert_int_equal(hd_store_contact_get(fx->st, "j1", &c, NULL), 0);
    assert_string_equal(c.attrs, "{\"plan\":\"gold\",\"age\":30,\"tags\":[\"a\",\"b\"],"
                                 "\"profile\":{\"city\":\"Paris\"},\"joined\":\"2026-01-02\"}");
    hd_contact_release(&c);
    assert_int_equal(hd_store_contact_get(fx->st, "42", &c, NULL), 0);
    assert_string_equal(c.phone, "+14155550100");
    assert_string_equal(c.attrs, "{\"vip\":true,\"ratio\":0.1}");
    hd_contact_release(&c);

    /* merge: null removes, others merge */
    assert_int_equal(
        run(fx, "m.jsonl", "{\"id\":\"j1\",\"plan\":null,\"age\":31}\n", &o, &res, &e, &msgs), 0);
    free(msgs);
    assert_int_equal(res.updated, 1);
    assert_int_equal(hd_store_contact_get(fx->st, "j1", &c, NULL), 0);
    assert_string_equal(c.email, "j1@example.com");
    assert_string_equal(c.attrs, "{\"age\":31,\"tags\":[\"a\",\"b\"],\"profile\":{\"city\":"
                                 "\"Paris\"},\"joined\":\"2026-01-02\"}");
    hd_contact_release(&c);

    /* replace */
    struct hd_import_opts r = {.mode = HD_IMPORT_REPLACE};
    assert_int_equal(run(fx, "r.jsonl", "{\"id\":\"j1\",\"age\":32}\n", &r, &res, &e, &msgs), 0);
    free(msgs);
    assert_int_equal(hd_store_contact_get(fx->st, "j1", &c, NULL), 0);
    assert_null(c.email);
    assert_string_equal(c.attrs, "{\"age\":32}");
    hd_contact_release(&c);

    /* bad lines */
    static const struct {
        const char *line, *msg;
    } bad[] = {
        {"{\"id\":\"x\",", "b.jsonl:1: not valid JSON"},
        {"[1,2]", "b.jsonl:1: not a JSON object"},
        {"{\"email\":\"a@example.com\"}", "b.jsonl:1: field 'id': is missing"},
        {"{\"id\":\"x\",\"age\":\"old\"}",
         "b.jsonl:1: field 'age': has the wrong type (the attribute's type is number, this value "
         "is string)"},
        {"{\"id\":\"x\",\"email\":5}", "b.jsonl:1: field 'email': must be a string"},
        {"{\"id\":\"x\",\"bad key\":5}",
         "b.jsonl:1: field 'bad key': is not a valid attribute name"},
        {"{\"id\":\"x\",\"id\":\"y\"}", "b.jsonl:1: not valid JSON: duplicate object key"},
        /* field keys in any case, as CSV headers: one named twice */
        {"{\"id\":\"x\",\"email\":\"a@example.com\",\"Email\":\"b@example.com\"}",
         "b.jsonl:1: field 'Email': names a field a second time"},
    };
    int64_t before = count(fx);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hd_import_opts ob = {0};
        assert_int_equal(run(fx, "b.jsonl", bad[i].line, &ob, &res, &e, &msgs), HD_E_INVALID);
        if (strncmp(msgs, bad[i].msg, strlen(bad[i].msg)) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, msgs, bad[i].msg);
        free(msgs);
        assert_int_equal(count(fx), before);
    }
    /* "Email" is the email, as a CSV header is: it was an attribute, and
     * the contact had no address */
    struct hd_import_opts oc = {0};
    assert_int_equal(run(fx, "k.jsonl", "{\"ID\":\"J2\",\"Email\":\"j@example.com\"}\n", &oc,
                         &res, &e, &msgs),
                     0);
    free(msgs);
    struct hd_contact kc;
    assert_int_equal(hd_store_contact_get(fx->st, "J2", &kc, NULL), 0);
    assert_string_equal(kc.email, "j@example.com");
    assert_string_equal(kc.attrs, "{}");
    hd_contact_release(&kc);
    /* the rejects file for JSON Lines keeps the record */
    struct hd_import_opts os = {.skip_invalid = true};
    assert_int_equal(run(fx, "s.jsonl",
                         "{\"id\":\"ok1\"}\n{\"id\":\"x\",\"email\":\"bad\"}\nnot json\n", &os,
                         &res, &e, &msgs),
                     0);
    free(msgs);
    char *rej = tu_read(res.rejects);
    assert_string_equal(rej,
                        "{\"line\":2,\"reason\":\"field 'email': 'bad' is not an email "
                        "address (missing '@')\",\"record\":{\"id\":\"x\",\"email\":\"bad\"}}\n"
                        "{\"line\":3,\"reason\":\"not valid JSON: '[' or '{' expected near "
                        "'not' (column 3)\",\"record\":\"not json\"}\n");
    free(rej);
}

static void test_import_many_errors_bounded(void **state)
{
    struct fx *fx = *state;
    struct hd_buf t;
    hd_buf_init(&t);
    hd_buf_adds(&t, "id,email\n");
    for (int i = 0; i < 50; i++)
        hd_buf_addf(&t, "id%d,bad%d\n", i, i);
    struct hd_import_opts o = {.max_errors = 5};
    struct hd_import_result res;
    struct hd_err e = {0};
    char *msgs;
    assert_int_equal(run(fx, "m.csv", t.data, &o, &res, &e, &msgs), HD_E_INVALID);
    int lines = 0;
    for (const char *p = msgs; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 6); /* 5 listed and one "... and 45 more" */
    assert_contains(msgs, "m.csv: ... and 45 more invalid rows");
    assert_contains(e.msg, "50 of 50 rows are invalid");
    free(msgs);
    hd_buf_release(&t);
}

/* A CSV header of n attribute columns (a0, a1, ...) and one row. */
static void wide_csv(struct hd_buf *t, int n)
{
    hd_buf_reset(t);
    hd_buf_adds(t, "id");
    for (int i = 0; i < n; i++)
        hd_buf_addf(t, ",a%d", i);
    hd_buf_adds(t, "\nc1");
    for (int i = 0; i < n; i++)
        hd_buf_addf(t, ",%d", i);
    hd_buf_adds(t, "\n");
}

/* Issue 16 item 7: more attributes than a database holds is a clear error
 * naming the column. That a wide file costs time linear in its width (a
 * linear search per column once made 40,000 columns cost 16 times 10,000)
 * is measured by make bench (bench/run.sh's "wide file"), not asserted
 * here: a timed assertion fails on a loaded machine. */
static void test_import_wide(void **state)
{
    struct fx *fx = *state;
    struct hd_buf t;
    hd_buf_init(&t);
    wide_csv(&t, HD_IMPORT_MAX_ATTRS + 1);
    struct hd_import_opts o = {0};
    struct hd_import_result res;
    struct hd_err e = {0};
    char *msgs;
    assert_int_equal(run(fx, "w.csv", t.data, &o, &res, &e, &msgs), HD_E_PARSE);
    assert_string_equal(e.msg, "w.csv:1: column 'a50000' is one attribute too many: a database "
                               "holds at most 50000 attributes, and this import with the earlier "
                               "ones names more");
    assert_int_equal(count(fx), 0);
    free(msgs);

    /* the database's own attributes count: it knows 50000 after this */
    wide_csv(&t, HD_IMPORT_MAX_ATTRS);
    assert_int_equal(run(fx, "w.csv", t.data, &o, &res, &e, &msgs), 0);
    free(msgs);
    if (fx->pg) { /* merged into itself: herald_json_patch before migration 28 took past ten
                   * minutes (SQLite's json_patch, quadratic too, 15 s: left alone) */
        assert_int_equal(run(fx, "w.csv", t.data, &o, &res, &e, &msgs), 0);
        assert_int_equal(res.updated, 1);
        free(msgs);
        struct hd_contact c;
        assert_int_equal(hd_store_contact_get(fx->st, "c1", &c, NULL), 0);
        const char *head = "{\"a0\":0,\"a1\":1,";
        if (strncmp(c.attrs, head, strlen(head)) != 0)
            fail_msg("attrs begin %.40s", c.attrs);
        assert_non_null(strstr(c.attrs, ",\"a49999\":49999}"));
        hd_contact_release(&c);
    }
    char *line = hd_xstrdup("{\"id\":\"c2\",\"new_one\":1}\n");
    struct hd_import_opts oj = {.skip_invalid = true};
    assert_int_equal(run(fx, "w.jsonl", line, &oj, &res, &e, &msgs), 0);
    assert_int_equal(res.rejected, 1);
    assert_string_equal(msgs, "w.jsonl:1: key 'new_one' is one attribute too many: a database "
                              "holds at most 50000 attributes, and this import with the earlier "
                              "ones names more\n");
    free(msgs);
    free(line);
    hd_buf_release(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_import_bad_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_skip_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_dry_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_header_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_jsonl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_many_errors_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_wide, setup, teardown),
    };
    const struct CMUnitTest tests_pg[] = {
        {"test_import_bad_rows_pg", test_import_bad_rows, setup_pg, teardown, NULL},
        {"test_import_skip_invalid_pg", test_import_skip_invalid, setup_pg, teardown, NULL},
        {"test_import_dry_run_pg", test_import_dry_run, setup_pg, teardown, NULL},
        {"test_import_types_pg", test_import_types, setup_pg, teardown, NULL},
        {"test_import_header_errors_pg", test_import_header_errors, setup_pg, teardown, NULL},
        {"test_import_jsonl_pg", test_import_jsonl, setup_pg, teardown, NULL},
        {"test_import_many_errors_bounded_pg", test_import_many_errors_bounded, setup_pg, teardown,
         NULL},
        {"test_import_wide_pg", test_import_wide, setup_pg, teardown, NULL},
    };
    int rc = cmocka_run_group_tests_name("import", tests, NULL, NULL);
    return rc |
           cmocka_run_group_tests_name("import_pg", tests_pg, group_setup_pg, group_teardown_pg);
}
