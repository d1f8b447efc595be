/* test_csv: the streaming RFC 4180 reader: quoting, embedded separators and
 * newlines, CRLF, a byte-order mark, ragged rows, line numbers, records that
 * cross the reader's 64 KiB blocks, and the malformed inputs it must refuse. */
#include "testutil.h"

#include "herald/csv.h"

/* Reads all records of text; returns them as "f1|f2;f1|f2" with lines. */
static char *read_all(const char *text, int *rc_out, struct hd_err *e)
{
    FILE *f = fmemopen((void *)text, strlen(text), "rb");
    assert_non_null(f);
    struct hd_csv *c = hd_csv_new(f, "t.csv");
    struct hd_csv_record r;
    struct hd_buf b;
    int rc;
    hd_buf_init(&b);
    while ((rc = hd_csv_next(c, &r, e)) == 1) {
        hd_buf_addf(&b, "%ld:", r.line);
        for (size_t i = 0; i < r.nfields; i++) {
            assert_int_equal(strlen(r.fields[i]), r.lens[i]);
            hd_buf_addf(&b, "%s%s", i ? "|" : "", r.fields[i]);
        }
        hd_buf_addc(&b, ';');
    }
    *rc_out = rc;
    hd_csv_free(c);
    fclose(f);
    return hd_buf_detach(&b, NULL);
}

static void test_csv_good(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"a,b,c\n1,2,3\n", "1:a|b|c;2:1|2|3;"},
        {"a,b\r\n1,2\r\n", "1:a|b;2:1|2;"},
        {"a,b\n1,2", "1:a|b;2:1|2;"}, /* no final newline */
        {"\xEF\xBB\xBFid,x\n1,2\n", "1:id|x;2:1|2;"},
        {"\"a,b\",\"say \"\"hi\"\"\"\n", "1:a,b|say \"hi\";"},
        {"id,note\n1,\"two\nlines\"\n2,x\n", "1:id|note;2:1|two\nlines;4:2|x;"},
        {"id,note\r\n1,\"crlf\r\ninside\"\r\n", "1:id|note;2:1|crlf\r\ninside;"},
        {"a,,c\n,,\n", "1:a||c;2:||;"},
        {"a,b,\n", "1:a|b|;"},
        {"a\n\n\nb\n", "1:a;4:b;"},                /* blank lines are skipped */
        {"a,b\n1\n1,2,3\n", "1:a|b;2:1;3:1|2|3;"}, /* ragged rows are returned as they are */
        {"\"\"\n", "1:;"},
        {"x,\"\"\n", "1:x|;"},
        {"中文,名字\n张三,北京\n", "1:中文|名字;2:张三|北京;"},
        {"a\rb\n", "1:a;2:b;"}, /* a lone CR ends a line too */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc;
        struct hd_err e = {0};
        char *got = read_all(cases[i].in, &rc, &e);
        if (rc != 0 || strcmp(got, cases[i].out) != 0)
            fail_msg("case %zu: rc %d (%s), got \"%s\", want \"%s\"", i, rc, e.msg, got,
                     cases[i].out);
        free(got);
    }
}

static void test_csv_bad(void **state)
{
    (void)state;
    static const struct {
        const char *in, *msg;
    } cases[] = {
        {"a,b\n1,\"open\n2,3\n", "t.csv:2: unterminated quoted field"},
        {"a,b\n1,x\"y\n", "t.csv:2: a '\"' inside an unquoted field"},
        {"a,b\n\"q\"x,1\n", "t.csv:2: text after a closing quote"},
        {"\xEF\xBB"
         "a,b\n",
         "t.csv:1: the file starts with a broken byte-order mark"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc;
        struct hd_err e = {0};
        char *got = read_all(cases[i].in, &rc, &e);
        assert_int_equal(rc, HD_E_PARSE);
        if (strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, e.msg, cases[i].msg);
        free(got);
    }
}

/* UTF-16 without a byte-order mark reads as NUL bytes in UTF-8: the
 * message says what the file may be (it said only "a NUL byte"). */
static void test_csv_utf16(void **state)
{
    (void)state;
    static const char be[] = {0, 'i', 0, 'd', 0, '\n', 0, 'z', 0, '\n'};
    FILE *f = fmemopen((void *)be, sizeof be, "rb");
    assert_non_null(f);
    struct hd_csv *c = hd_csv_new(f, "t.csv");
    struct hd_csv_record r;
    struct hd_err e = {0};
    assert_int_equal(hd_csv_next(c, &r, &e), HD_E_PARSE);
    assert_string_equal(e.msg, "t.csv:1: a NUL byte in a field (is the file UTF-16? name its "
                               "encoding, UTF-16LE or UTF-16BE)");
    hd_csv_free(c);
    fclose(f);
}

/* A field far longer than a block, and many records crossing block edges. */
static void test_csv_blocks(void **state)
{
    (void)state;
    struct hd_buf in;
    hd_buf_init(&in);
    hd_buf_adds(&in, "id,text\n");
    hd_buf_adds(&in, "big,\"");
    for (int i = 0; i < 200000; i++)
        hd_buf_addc(&in, i % 1000 == 999 ? '\n' : (char)('a' + i % 26));
    hd_buf_adds(&in, "\"\n");
    for (int i = 0; i < 20000; i++)
        hd_buf_addf(&in, "r%d,\"v,%d\"\r\n", i, i);
    FILE *f = fmemopen(in.data, in.len, "rb");
    struct hd_csv *c = hd_csv_new(f, "t.csv");
    struct hd_csv_record r;
    assert_int_equal(hd_csv_next(c, &r, NULL), 1);
    assert_int_equal(hd_csv_next(c, &r, NULL), 1);
    assert_string_equal(r.fields[0], "big");
    assert_int_equal(r.lens[1], 200000);
    long line = 203; /* the big record spans lines 2 to 202 */
    for (int i = 0; i < 20000; i++) {
        char want[32];
        assert_int_equal(hd_csv_next(c, &r, NULL), 1);
        assert_int_equal(r.nfields, 2);
        snprintf(want, sizeof want, "v,%d", i);
        assert_string_equal(r.fields[1], want);
        assert_int_equal(r.line, line + i);
    }
    assert_int_equal(hd_csv_next(c, &r, NULL), 0);
    assert_int_equal(hd_csv_offset(c), in.len);
    hd_csv_free(c);
    fclose(f);
    hd_buf_release(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_good),
        cmocka_unit_test(test_csv_bad),
        cmocka_unit_test(test_csv_utf16),
        cmocka_unit_test(test_csv_blocks),
    };
    return cmocka_run_group_tests_name("csv", tests, NULL, NULL);
}
