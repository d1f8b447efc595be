/* test_json: hd_json_object_loads reads every text exactly as jansson's
 * json_loadb does: the same values of the same types in the same order, and
 * NULL where jansson fails, for the flat objects of its fast path and for
 * every kind of text that goes on to jansson. */
#include "testutil.h"

#include "herald/json.h"

static void same_as_jansson(const char *s)
{
    json_t *ours = hd_json_object_loads(s, strlen(s)), *ref = json_loadb(s, strlen(s), 0, NULL);
    if (!ours || !ref) {
        if (ours || ref)
            fail_msg("%s: ours %s, jansson's %s", s, ours ? "read" : "NULL", ref ? "read" : "NULL");
        return;
    }
    char *a = json_dumps(ours, JSON_COMPACT | JSON_ENCODE_ANY),
         *b = json_dumps(ref, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!json_equal(ours, ref) || strcmp(a, b) != 0)
        fail_msg("%s: ours %s, jansson's %s", s, a, b);
    free(a);
    free(b);
    json_decref(ours);
    json_decref(ref);
}

static void test_json_flat(void **state)
{
    (void)state;
    static const char *const in[] = {
        "{}",
        " { } ",
        "{\"first_name\":\"Ann\",\"plan\":\"gold\"}",
        "{\"n\":12,\"m\":-7,\"z\":0,\"nz\":-0,\"r\":1.5,\"nr\":-0.0,\"e\":1e3,\"E\":-2.5E-3,"
        "\"ep\":4e+2}",
        "{\"t\":true,\"f\":false,\"u\":null,\"s\":\"\"}",
        "{\"名\":\"张伟\",\"emoji\":\"😀\",\"é\":\"café\"}",
        "{\"deeplink\":\"acme://shop?coupon=COMEBACK20\",\"campaign\":\"recall\"}",
        "\n{\t\"a\" :\r\n 1 , \"b\":\"c\"\n}\n",
        "{\"a\":1,\"a\":2,\"b\":3,\"a\":4}",
        "{\"big\":9223372036854775807,\"small\":-9223372036854775808}",
        "{\"tiny\":1e-400,\"long\":1234567890.0987654321}",
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        same_as_jansson(in[i]);
    /* the fast path makes what jansson would, type for type */
    const char *typed = "{\"i\":1,\"r\":1.0,\"s\":\"1\"}";
    json_t *o = hd_json_object_loads(typed, strlen(typed));
    assert_true(json_is_integer(json_object_get(o, "i")));
    assert_true(json_is_real(json_object_get(o, "r")));
    assert_true(json_is_string(json_object_get(o, "s")));
    json_decref(o);
}

static void test_json_other(void **state)
{
    (void)state;
    static const char *const in[] = {
        /* read by jansson: escapes, nesting, arrays */
        "{\"a\":\"x\\\"y\",\"b\":\"\\u00e9\\ud83d\\ude00\",\"c\":\"a\\\\/b\\n\"}",
        "{\"k\\u0041\":1}",
        "{\"a\":{\"b\":[1,2,{\"c\":null}]},\"d\":[]}",
        "[1,2]",
        /* errors, all NULL */
        "",
        "   ",
        "{",
        "}",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{,}",
        "{\"a\":1 \"b\":2}",
        "{'a':1}",
        "{a:1}",
        "{\"a\":tru}",
        "{\"a\":nul}",
        "{\"a\":1}x",
        "{\"a\":1}{}",
        "{\"a\":\"unterminated}",
        "{\"a\":\"x\ty\"}",
        "{\"a\":\"\x01\"}",
        "{\"a\":\"\xff\"}",
        "{\"\xc3\":1}",
        "{\"a\":NaN}",
        "{\"a\":Infinity}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":-}",
        "{\"a\":+1}",
        "{\"a\":1e}",
        "{\"a\":1e+}",
        "{\"a\":0x10}",
        "{\"over\":9223372036854775808}",
        "{\"under\":-9223372036854775809}",
        "{\"huge\":1e400}",
        "{\"neg\":-1e400}",
        "{\"a\":12345678901234567890123456789012345678901234567890123456789012345678901234567890}",
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        same_as_jansson(in[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_flat),
        cmocka_unit_test(test_json_other),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
