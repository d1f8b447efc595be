/* test_mime: the message text hd_mime_build writes, byte for byte where it
 * matters (issue 15 items 1-3, issue 16 item 12): a domain goes out as its
 * A-label, a non-ASCII local part is refused with a reason that says it is
 * not the address's fault, a quoted display name is quoted once, a line
 * holding an encoded-word is at most 76 columns and no header line passes
 * 78 (an unbroken 1,200-character subject included). The server side of
 * the same is test_postfix. */
#include "testutil.h"

#include "herald/mime.h"
#include "herald/valid.h"

/* The message for from/to/subject, or NULL with the reason in err. */
static char *build(const char *from, const char *to, const char *subject, struct hd_err *err)
{
    struct hd_mail m = {.from = from,
                        .to = to,
                        .subject = subject,
                        .text = "hello\n",
                        .message_id = "0b6b3d2e-5f0c-4b1e-9d55-3f9f7c1f2a10",
                        .date = 1795334400};
    struct hd_buf b;
    hd_buf_init(&b);
    if (hd_mime_build(&m, &b, err) < 0) {
        hd_buf_release(&b);
        return NULL;
    }
    return hd_buf_detach(&b, NULL);
}

/* The header section's longest line, and the longest of those that hold
 * an encoded-word. */
static void header_lines(const char *msg, size_t *longest, size_t *longest_ew)
{
    *longest = *longest_ew = 0;
    for (const char *p = msg; *p && !(p[0] == '\r' && p[1] == '\n');) {
        const char *e = strstr(p, "\r\n");
        assert_non_null(e);
        size_t n = (size_t)(e - p);
        bool ew = false;
        for (const char *q = p; q + 1 < e; q++)
            ew |= q[0] == '=' && q[1] == '?';
        if (n > *longest)
            *longest = n;
        if (ew && n > *longest_ew)
            *longest_ew = n;
        p = e + 2;
    }
}

static void test_mime_display_name_once(void **state)
{
    (void)state;
    static const struct {
        const char *from, *want;
    } cases[] = {
        {"\"Acme Accounts\" <billing@example.com>",
         "From: \"Acme Accounts\" <billing@example.com>\r\n"},
        {"Acme Accounts <billing@example.com>",
         "From: \"Acme Accounts\" <billing@example.com>\r\n"},
        {"  \"Acme, Inc.\"   <billing@example.com>",
         "From: \"Acme, Inc.\" <billing@example.com>\r\n"},
        {"\"Say \\\"hi\\\"\" <billing@example.com>",
         "From: \"Say \\\"hi\\\"\" <billing@example.com>\r\n"},
        {"\"Bücher\" <billing@example.com>",
         "From: =?UTF-8?B?QsO8Y2hlcg==?= <billing@example.com>\r\n"},
        {"billing@example.com", "From: <billing@example.com>\r\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hd_err e = {0};
        char *msg = build(cases[i].from, "ann@example.com", "Hi", &e);
        if (!msg)
            fail_msg("%s: %s", cases[i].from, e.msg);
        if (strncmp(msg, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("%s: got %.*s", cases[i].from, (int)strlen(cases[i].want), msg);
        free(msg);
    }
}

static void test_mime_idn_addresses(void **state)
{
    (void)state;
    struct hd_err e = {0};
    char *msg = build("Bücher <shop@bücher.example>", "ann@bücher.example", "Hi", &e);
    if (!msg)
        fail_msg("%s", e.msg);
    assert_contains(msg, "\r\nTo: <ann@xn--bcher-kva.example>\r\n");
    assert_contains(msg, " <shop@xn--bcher-kva.example>\r\n");
    assert_contains(msg,
                    "Message-ID: <0b6b3d2e-5f0c-4b1e-9d55-3f9f7c1f2a10@xn--bcher-kva.example>");
    free(msg);
    msg = build("a@example.com", "x@例子.测试", "Hi", &e);
    assert_non_null(msg);
    assert_contains(msg, "\r\nTo: <x@xn--fsqu00a.xn--0zwm56d>\r\n");
    free(msg);

    /* a non-ASCII local part needs SMTPUTF8: refused, and says so */
    assert_null(build("a@example.com", "测试@例子.测试", "Hi", &e));
    assert_int_equal(e.code, HD_E_INVALID);
    assert_contains(e.msg, "smtputf8_unsupported: the address '测试@例子.测试' has a non-ASCII "
                           "local part");
    assert_contains(e.msg, "not suppressed");
    /* a domain ICU refuses is refused, not sent raw */
    assert_null(build("a@example.com", "ann@bü_cher.example", "Hi", &e));
    assert_contains(e.msg, "the address 'ann@bü_cher.example': ");

    /* the driver's helper, for the envelope */
    struct hd_valid *v = NULL;
    char out[320];
    bool utf8;
    assert_int_equal(hd_mime_wire_address(&v, "ann@example.com", false, out, sizeof out, &utf8, &e),
                     0);
    assert_null(v); /* ASCII needs no ICU */
    assert_string_equal(out, "ann@example.com");
    assert_int_equal(
        hd_mime_wire_address(&v, "ann@BÜCHER.example", false, out, sizeof out, &utf8, &e), 0);
    assert_string_equal(out, "ann@xn--bcher-kva.example");
    assert_false(utf8);
    assert_int_equal(
        hd_mime_wire_address(&v, "josé@example.com", false, out, sizeof out, &utf8, &e),
        HD_E_INVALID);
    assert_true(utf8);
    /* with SMTPUTF8 the local part stays, the domain is still an A-label */
    assert_int_equal(
        hd_mime_wire_address(&v, "josé@BÜCHER.example", true, out, sizeof out, &utf8, &e), 0);
    assert_true(utf8);
    assert_string_equal(out, "josé@xn--bcher-kva.example");
    /* a message marked smtputf8 carries it in its header fields */
    struct hd_mail m = {.from = "José <josé@example.com>",
                        .to = "测试@例子.测试",
                        .subject = "Hi",
                        .text = "hello\n",
                        .message_id = "0b6b3d2e-5f0c-4b1e-9d55-3f9f7c1f2a10",
                        .date = 1795334400,
                        .smtputf8 = true,
                        .valid = &v};
    struct hd_buf b;
    hd_buf_init(&b);
    assert_int_equal(hd_mime_build(&m, &b, &e), 0);
    hd_buf_addc(&b, '\0');
    assert_contains(b.data, "\r\nTo: <测试@xn--fsqu00a.xn--0zwm56d>\r\n");
    assert_contains(b.data, "From: =?UTF-8?B?Sm9zw6k=?= <josé@example.com>\r\n");
    hd_buf_release(&b);
    hd_valid_free(v);
}

static void test_mime_encoded_word_lines(void **state)
{
    (void)state;
    struct hd_buf subj;
    hd_buf_init(&subj);
    for (int i = 0; i < 40; i++)
        hd_buf_adds(&subj, i % 3 ? "会员续费提醒" : "Grüße ");
    struct hd_err e = {0};
    char *msg = build("\"支付宝 Accounts Department of a Long Name\" <a@example.com>",
                      "ann@example.com", subj.data, &e);
    assert_non_null(msg);
    size_t longest, longest_ew;
    header_lines(msg, &longest, &longest_ew);
    if (longest_ew > 76)
        fail_msg("a line with an encoded-word is %zu columns:\n%s", longest_ew, msg);
    assert_true(longest <= 78);
    /* the first Subject line: "Subject: " and one encoded-word, <= 76 */
    const char *s = strstr(msg, "\r\nSubject: =?UTF-8?B?");
    assert_non_null(s);
    assert_true(strstr(s + 2, "\r\n") - (s + 2) <= 76);
    free(msg);
    hd_buf_release(&subj);
}

static void test_mime_long_subject(void **state)
{
    (void)state;
    struct hd_buf subj;
    hd_buf_init(&subj);
    for (int i = 0; i < 1200; i++)
        hd_buf_addc(&subj, (char)('a' + i % 26));
    struct hd_err e = {0};
    char *msg = build("a@example.com", "ann@example.com", subj.data, &e);
    assert_non_null(msg);
    size_t longest, longest_ew;
    header_lines(msg, &longest, &longest_ew);
    if (longest > 76)
        fail_msg("a header line of %zu columns", longest);
    assert_contains(msg, "\r\nSubject: =?UTF-8?B?");
    free(msg);

    /* words that fit are folded at their spaces, the space becoming the
     * fold (unfolding gives the text back, no doubled spaces) */
    msg = build("a@example.com", "ann@example.com",
                "Your membership expires soon: renew today and keep every benefit you have "
                "enjoyed this year",
                &e);
    assert_non_null(msg);
    assert_contains(msg, "Subject: Your membership expires soon: renew today and keep every "
                         "benefit\r\n you have enjoyed this year\r\n");
    free(msg);
    /* text that looks like an encoded-word is encoded itself: as it was,
     * mail clients showed "Hi Hello end" (a review found it) */
    msg = build("a@example.com", "ann@example.com", "Hi =?UTF-8?B?SGVsbG8=?= end", &e);
    assert_non_null(msg);
    assert_not_contains(msg, "Subject: Hi =?UTF-8?B?SGVsbG8=?= end");
    assert_contains(msg, "\r\nSubject: =?UTF-8?");
    free(msg);
    hd_buf_release(&subj);
}

/* The From display name Python's email package reads from msg: its
 * header parser's, or for encoded-words its RFC 2047 decoder's (the
 * parser puts a space between adjacent encoded-words of a phrase, which
 * RFC 2047 section 6.2 says to ignore). */
static char *python_from_name(const char *msg, bool encoded)
{
    char *dir = tu_tmpdir(), *f = tu_path(dir, "m.eml"), cmd[1024];
    tu_write(f, msg);
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import email, email.header as h, email.policy as p, sys\n"
             "raw = sys.argv[2] == \"1\"\n"
             "m = email.message_from_binary_file(open(sys.argv[1], \"rb\"),\n"
             "                                   policy=p.compat32 if raw else p.default)\n"
             "if raw:\n"
             "    v = m.get_all(\"From\")[0].split(\" <\")[0]\n"
             "    sys.stdout.write(str(h.make_header(h.decode_header(v))))\n"
             "else:\n"
             "    sys.stdout.write(m[\"From\"].addresses[0].display_name)' '%s' %d",
             f, encoded);
    char *name = tu_sh(cmd);
    free(f);
    tu_rmdir(dir);
    return name;
}

/* From "name" <billing@example.com> (name quoted) built, its header lines
 * at most 78 columns (76 with an encoded-word), and read back by Python
 * as name; encoded says whether it went as encoded-words. */
static void long_name_round_trip(const char *name, bool encoded)
{
    struct hd_buf from;
    hd_buf_init(&from);
    hd_buf_addc(&from, '"');
    for (const char *c = name; *c; c++) {
        if (*c == '"')
            hd_buf_addc(&from, '\\');
        hd_buf_addc(&from, *c);
    }
    hd_buf_adds(&from, "\" <billing@example.com>");
    struct hd_err e = {0};
    char *msg = build(from.data, "ann@example.com", "Hi", &e);
    if (!msg)
        fail_msg("%s", e.msg);
    size_t longest, longest_ew;
    header_lines(msg, &longest, &longest_ew);
    if (longest > 78 || longest_ew > 76)
        fail_msg("header lines of %zu and %zu columns:\n%s", longest, longest_ew, msg);
    assert_int_equal(strncmp(msg, "From: =?UTF-8?", 14) == 0, encoded);
    char *got = python_from_name(msg, encoded);
    assert_string_equal(got, name);
    free(got);
    free(msg);
    hd_buf_release(&from);
}

/* A From display name too long for one line is folded, as a quoted-string
 * at its spaces or as encoded-words, never written past 78 columns; one
 * longer than HD_DISPLAY_NAME_MAX refuses the message: before, it was cut
 * there without a word. */
static void test_mime_long_display_name(void **state)
{
    (void)state;
    struct hd_buf name;
    hd_buf_init(&name);
    while (name.len < HD_DISPLAY_NAME_MAX - 20)
        hd_buf_adds(&name, "Acme, Inc. \"Accounts\" ");
    while (name.len < HD_DISPLAY_NAME_MAX)
        hd_buf_addc(&name, 'x');
    long_name_round_trip(name.data, false);
    long_name_round_trip("Acme, Inc.", false);
    /* a word too long for a line, or a non-ASCII name: encoded-words */
    long_name_round_trip(
        "Acme,Inc.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", true);
    long_name_round_trip(
        "支付宝 Accounts Department of a Long Name, Inc. 会员续费提醒 会员续费提醒", true);
    /* one byte more than the limit: refused, with the reason */
    struct hd_err e = {0};
    hd_buf_adds(&name, "y <billing@example.com>");
    assert_null(build(name.data, "ann@example.com", "Hi", &e));
    assert_int_equal(e.code, HD_E_INVALID);
    assert_contains(e.msg, "header 'From': its display name is longer than 255 bytes");
    hd_buf_release(&name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mime_display_name_once),  cmocka_unit_test(test_mime_idn_addresses),
        cmocka_unit_test(test_mime_encoded_word_lines), cmocka_unit_test(test_mime_long_subject),
        cmocka_unit_test(test_mime_long_display_name),
    };
    return cmocka_run_group_tests_name("mime", tests, NULL, NULL);
}
