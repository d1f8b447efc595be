/* test_mimeqp: the quoted-printable body hd_mime_build writes, byte for
 * byte the same as the byte-at-a-time encoder it replaced (kept here as
 * the reference), over texts made of the bytes that matter to it: dots
 * at a line's start, spaces and tabs before a line break or the end,
 * '=', CR alone and CRLF, bytes above 127, and runs long enough to need
 * soft breaks at every column. */
#include "testutil.h"

#include "herald/mime.h"

/* the encoder as it was: every byte decided on its own */
static void ref_qp(struct hd_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t line = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '\r' && p[1] == '\n')
            continue;
        if (c == '\n') {
            hd_buf_adds(out, "\r\n");
            line = 0;
            continue;
        }
        bool trailing_space = (c == ' ' || c == '\t') &&
                              (p[1] == '\n' || p[1] == '\0' || (p[1] == '\r' && p[2] == '\n'));
        bool lit =
            (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !trailing_space);
        if (c == '.' && line == 0)
            lit = false;
        size_t need = lit ? 1 : 3;
        if (line + need > 75) {
            hd_buf_adds(out, "=\r\n");
            line = 0;
        }
        if (lit) {
            hd_buf_addc(out, (char)c);
        } else {
            hd_buf_addc(out, '=');
            hd_buf_addc(out, hex[c >> 4]);
            hd_buf_addc(out, hex[c & 15]);
        }
        line += need;
    }
    if (line)
        hd_buf_adds(out, "\r\n");
}

/* the body of a text-only message of text */
static char *body_of(const char *text)
{
    struct hd_mail m = {.from = "a@example.com",
                        .to = "b@example.com",
                        .subject = "s",
                        .text = text,
                        .message_id = "0b6b3d2e-5f0c-4b1e-9d55-3f9f7c1f2a10",
                        .date = 1795334400};
    struct hd_buf b;
    struct hd_err e = {0};
    hd_buf_init(&b);
    if (hd_mime_build(&m, &b, &e) < 0)
        fail_msg("build: %s", e.msg);
    const char *mark = "quoted-printable\r\n\r\n";
    char *at = strstr(b.data, mark);
    assert_non_null(at);
    char *body = hd_xstrdup(at + strlen(mark));
    hd_buf_release(&b);
    return body;
}

static void check(const char *text)
{
    struct hd_buf want;
    hd_buf_init(&want);
    ref_qp(&want, text);
    char *got = body_of(text);
    if (strcmp(got, want.data ? want.data : "") != 0)
        fail_msg("text [%s]\n got [%s]\nwant [%s]", text, got, want.data);
    free(got);
    hd_buf_release(&want);
}

static void test_mimeqp_cases(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "hello\n",
        "",
        ".\n.leading dot\n..two\n",
        "trailing space \ntrailing tab\t\nspace at the end ",
        "a=b\r\nCRLF\r\nCR alone\rhere\n",
        "caf\xc3\xa9 na\xc3\xafve\n",
        "x",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check(cases[i]);
    /* runs that meet the column limit at every offset, with a dot, an '='
     * and a space right where the soft break falls */
    char text[400];
    for (size_t lead = 0; lead < 80; lead++)
        for (const char *c = ".= \xc3"; *c; c++) {
            memset(text, 'a', sizeof text);
            text[lead] = *c;
            text[lead + 75] = *c;
            text[lead + 150] = '\n';
            text[lead + 151] = *c;
            text[sizeof text - 1] = '\0';
            check(text);
        }
}

/* each byte the eight-at-a-time scan must stop at (and a space, which it
 * passes over), at every offset of a run longer than two words, before a
 * line's end, before another byte, and last */
static void test_mimeqp_words(void **state)
{
    (void)state;
    static const char stops[] = "\x01\x1f <=>~\x7f\x80\xc3\xff\t\r\n";
    static const char *const after[] = {"", "\n", "\r\n", "b", " \n"};
    char text[64];
    for (size_t k = 0; k < sizeof stops - 1; k++)
        for (size_t at = 0; at < 24; at++)
            for (size_t a = 0; a < sizeof after / sizeof *after; a++) {
                memset(text, 'a', 24);
                text[at] = stops[k];
                snprintf(text + 24, sizeof text - 24, "%s", after[a]);
                check(text);
            }
}

static void test_mimeqp_random(void **state)
{
    (void)state;
    static const char alphabet[] = "aZ09.= \t\r\n\xc3\xa9<>\"";
    unsigned seed = 25;
    char text[600];
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(rand_r(&seed) % (sizeof text - 1));
        for (size_t i = 0; i < n; i++) {
            /* mostly letters, so that long runs happen */
            int r = rand_r(&seed) % 40;
            text[i] = r < 24 ? 'a' : alphabet[r % (sizeof alphabet - 1)];
        }
        text[n] = '\0';
        check(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mimeqp_cases),
        cmocka_unit_test(test_mimeqp_words),
        cmocka_unit_test(test_mimeqp_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
