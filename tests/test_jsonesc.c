/* test_jsonesc: hd_buf_add_json_esc, which passes over eight bytes at a
 * time when none needs an escape, writes byte for byte what the
 * byte-at-a-time escaper it replaced wrote (kept here as the reference):
 * every byte value at every offset of runs longer than two words, and
 * random texts of the bytes that matter (controls, '"', '\\', UTF-8). */
#include "testutil.h"

static void ref_esc(struct hd_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *e = c == '"'    ? "\\\""
                        : c == '\\' ? "\\\\"
                        : c == '\n' ? "\\n"
                        : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t"
                                    : NULL;
        if (e) {
            hd_buf_adds(b, e);
        } else if (c < 0x20) {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], '\0'};
            hd_buf_adds(b, u);
        } else {
            hd_buf_addc(b, (char)c);
        }
    }
}

static void check(const char *s, size_t n)
{
    struct hd_buf got, want;
    hd_buf_init(&got);
    hd_buf_init(&want);
    hd_buf_adds(&got, "");
    hd_buf_adds(&want, "");
    hd_buf_add_json_esc(&got, s, n);
    ref_esc(&want, s, n);
    assert_int_equal(got.len, want.len);
    if (memcmp(got.data, want.data, got.len) != 0)
        fail_msg("got [%s]\nwant [%s]", got.data, want.data);
    hd_buf_release(&got);
    hd_buf_release(&want);
}

static void test_jsonesc_every_byte(void **state)
{
    (void)state;
    char text[40];
    for (int c = 0; c < 256; c++)
        for (size_t at = 0; at < 24; at++)
            for (size_t n = at + 1; n <= 24; n += 7) {
                memset(text, 'a', sizeof text);
                text[at] = (char)c;
                check(text, n);
                text[at + 9] = (char)c; /* and a second in the next word */
                check(text, n + 10);
            }
    check("", 0);
}

static void test_jsonesc_random(void **state)
{
    (void)state;
    static const char alphabet[] = "aZ09 \"\\\n\r\t\x01\x1f\x7f\xc3\xa9/";
    unsigned seed = 25;
    char text[300];
    for (int round = 0; round < 3000; round++) {
        size_t n = (size_t)(rand_r(&seed) % sizeof text);
        for (size_t i = 0; i < n; i++)
            text[i] = rand_r(&seed) % 4 ? 'x' : alphabet[rand_r(&seed) % (sizeof alphabet - 1)];
        check(text, n);
    }
    /* hd_buf_add_json_str quotes it */
    struct hd_buf b;
    hd_buf_init(&b);
    const char *q = "a \"quoted\" line\n of text that runs past a word";
    hd_buf_add_json_str(&b, q, strlen(q));
    assert_string_equal(b.data, "\"a \\\"quoted\\\" line\\n of text that runs past a word\"");
    hd_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonesc_every_byte),
        cmocka_unit_test(test_jsonesc_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
