/* test_valid: tables of good and bad emails, phone numbers, time zones and
 * language tags, with the normal forms the good ones must take. */
#include "testutil.h"

#include "herald/suppress.h"
#include "herald/time.h"
#include "herald/valid.h"

struct good {
    const char *in, *region, *out;
};

static void test_valid_email(void **state)
{
    (void)state;
    struct hd_valid *v = hd_valid_new();
    static const char *const good[] = {
        "ann@example.com",
        "Ann.Lee+news@Example.COM",
        "a@b.co",
        "o'brien@example.ie",
        "user_name-1@sub.domain.example.org",
        "\"john doe\"@example.com",
        "\"a\\\"b\"@example.com",
        "admin@[192.168.0.1]",
        "admin@[IPv6:2001:db8::1]",
        "bob@例子.中国",
        "josé@example.com",
        "x@xn--fsqu00a.xn--fiqs8s",
        "  padded@example.com  ",
    };
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"", "empty"},
        {"plainaddress", "missing '@'"},
        {"@example.com", "the part before '@' is empty"},
        {"ann@", "no domain after '@'"},
        {".ann@example.com", "the address starts with a dot"},
        {"ann.@example.com", "a dot just before '@'"},
        {"an..n@example.com", "two dots in a row before '@'"},
        {"ann lee@example.com", "a space in the address"},
        {"ann@localhost", "the domain has no dot (write user@example.com)"},
        {"ann@exa_mple.com", "a character not allowed in the domain"},
        {"ann@-example.com", "a domain label starts or ends with '-'"},
        {"ann@example..com", "an empty label in the domain"},
        {"ann@example.123", "the top-level domain is all digits"},
        {"ann@[300.1.1.1]", "bad address literal"},
        {"a(b)@example.com", "a character not allowed before '@'"},
        {"\"open@example.com", "unterminated quoted local part"},
        {"ann@ex\xff.com", "not valid UTF-8"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com",
         "the part before '@' is longer than 64 characters"},
    };
    char out[320];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (hd_valid_email(v, good[i], out, sizeof out) != 0)
            fail_msg("'%s' refused: %s", good[i], out);
    assert_int_equal(hd_valid_email(v, "  padded@example.com  ", out, sizeof out), 0);
    assert_string_equal(out, "padded@example.com");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (hd_valid_email(v, bad[i].in, out, sizeof out) == 0)
            fail_msg("'%s' accepted", bad[i].in);
        if (strcmp(out, bad[i].why) != 0)
            fail_msg("'%s': got \"%s\", want \"%s\"", bad[i].in, out, bad[i].why);
    }
    hd_valid_free(v);
}

static void test_valid_phone(void **state)
{
    (void)state;
    struct hd_valid *v = hd_valid_new();
    static const struct good good[] = {
        {"+8613800138000", NULL, "+8613800138000"},  {"+86 138 0013 8000", NULL, "+8613800138000"},
        {"008613800138000", NULL, "+8613800138000"}, {"13800138000", "CN", "+8613800138000"},
        {"010-6552 9988", "CN", "+861065529988"},    {"(415) 555-0100", "US", "+14155550100"},
        {"1-415-555-0100", "US", "+14155550100"},    {"+1 415 555 0100", "GB", "+14155550100"},
        {"020 7946 0018", "GB", "+442079460018"},    {"07700 900123", "gb", "+447700900123"},
        {"06 12 34 56 78", "FR", "+33612345678"},    {"030 123456", "DE", "+4930123456"},
        {"8 (912) 345-67-89", "RU", "+79123456789"}, {"+49 30 123456", NULL, "+4930123456"},
        {"+354 555 1234", NULL, "+3545551234"},      {"9123 4567", "SG", "+6591234567"},
    };
    static const struct {
        const char *in, *region, *why;
    } bad[] = {
        {"12ab", "US", "not a phone number"},
        {"", "US", "not a phone number"},
        {"+1 415 555 010", NULL, "wrong number of digits for its country"},
        {"+86 138 0013 8000 999", NULL, "wrong number of digits for its country"},
        {"+0123456789", NULL, "no country code starts with 0"},
        {"13800138000", NULL, "a national number needs a region"},
        {"555-0100", "US", "wrong number of digits for its region"},
        {"13800138000", "ZZ", "unknown default region"},
        {"+1 415 555 0100 ext 12", NULL, "not a phone number"},
        {"+99912345678901234", NULL, "an international number has 7 to 15 digits"},
        {"+3", NULL, "too short"},
    };
    char out[128];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (hd_valid_phone(v, good[i].in, good[i].region, out, sizeof out) != 0)
            fail_msg("'%s' (%s) refused: %s", good[i].in, good[i].region, out);
        if (strcmp(out, good[i].out) != 0)
            fail_msg("'%s': got %s, want %s", good[i].in, out, good[i].out);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (hd_valid_phone(v, bad[i].in, bad[i].region, out, sizeof out) == 0)
            fail_msg("'%s' accepted as %s", bad[i].in, out);
        if (strcmp(out, bad[i].why) != 0)
            fail_msg("'%s': got \"%s\", want \"%s\"", bad[i].in, out, bad[i].why);
    }
    /* callers decide on the code, not the words */
    assert_int_equal(hd_valid_phone(v, "12ab", "US", out, sizeof out), HD_VALID_NOT_PHONE);
    assert_int_equal(hd_valid_phone(v, "", "US", out, sizeof out), HD_VALID_NOT_PHONE);
    assert_int_equal(hd_valid_phone(v, "13800138000", NULL, out, sizeof out), HD_VALID_NO_REGION);
    assert_int_equal(hd_valid_phone(v, "+3", NULL, out, sizeof out), HD_VALID_BAD);
    assert_true(hd_valid_region_known("CN"));
    assert_false(hd_valid_region_known("XX"));
    /* every region, in either case (the lookup bisects a sorted table) */
    static const char codes[] =
        "AE AR AT AU BE BR CA CH CN CZ DE DK EG ES FI FR GB GR HK HU ID IE IL IN IT JP KR MO MX "
        "MY NG NL NO NZ PH PK PL PT RO RU SA SE SG TH TR TW UA US VN ZA";
    for (const char *c = codes; *c; c += c[2] ? 3 : 2) {
        char up[3] = {c[0], c[1], '\0'}, low[3] = {(char)(c[0] | 0x20), (char)(c[1] | 0x20), '\0'};
        if (!hd_valid_region_known(up) || !hd_valid_region_known(low))
            fail_msg("region %s unknown", up);
    }
    static const char *const not_codes[] = {"", "C", "CNX", "1N", "C1", "AA", "ZZ", "A", NULL};
    for (size_t i = 0; i < sizeof not_codes / sizeof not_codes[0]; i++)
        assert_false(hd_valid_region_known(not_codes[i]));
    assert_int_equal(hd_valid_phone(v, "(415) 555-0000", "us", out, sizeof out), 0);
    assert_string_equal(out, "+14155550000");
    assert_false(hd_valid_phone_plan_fits("(115) 555-0000", "us"));
    assert_true(hd_valid_phone_plan_fits("(415) 555-0000", "us"));
    /* a number that fits exactly, and one byte short */
    char small[15];
    assert_int_equal(hd_valid_phone(v, "+86 138 0013 8000", NULL, small, sizeof small - 1),
                     HD_VALID_BAD);
    assert_string_equal(small, "too long");
    assert_int_equal(hd_valid_phone(v, "+86 138 0013 8000", NULL, small, sizeof small), 0);
    assert_string_equal(small, "+8613800138000");
    hd_valid_free(v);
}

static void test_valid_timezone(void **state)
{
    (void)state;
    struct hd_valid *v = hd_valid_new();
    static const char *const good[] = {"UTC",
                                       "Asia/Shanghai",
                                       "America/New_York",
                                       "Europe/London",
                                       "America/Argentina/Buenos_Aires",
                                       "Australia/Lord_Howe",
                                       "Etc/GMT+5",
                                       "Asia/Kolkata"};
    static const char *const bad[] = {"",          "Mars/Olympus",    "Asia/Shanghai ",
                                      "GMT+05:00", "asia/shanghai/x", "../etc/passwd",
                                      "Beijing",   "America/New York"};
    char out[128];
    for (int round = 0; round < 2; round++) { /* the second round hits the cache */
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
            if (hd_valid_timezone(v, good[i], out, sizeof out) != 0)
                fail_msg("'%s' refused", good[i]);
            assert_string_equal(out, good[i]);
        }
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            if (hd_valid_timezone(v, bad[i], out, sizeof out) == 0)
                fail_msg("'%s' accepted", bad[i]);
    }
    /* abbreviations, which ICU knows as legacy ids, name no one zone: CST
     * in a Chinese CRM export is China, and ICU reads it as Chicago */
    static const struct {
        const char *abbr, *hint;
    } abbr[] = {{"CST", "CST: America/Chicago or Asia/Shanghai?"},
                {"PST", "America/Los_Angeles"},
                {"EST", "America/New_York"},
                {"IST", "Asia/Kolkata"},
                {"JST", "Asia/Tokyo"},
                {"BST", "Europe/London"},
                {"CTT", "Asia/Shanghai"},
                {"ROK", "an abbreviation names no one zone"}};
    for (size_t i = 0; i < sizeof abbr / sizeof abbr[0]; i++) {
        if (hd_valid_timezone(v, abbr[i].abbr, out, sizeof out) == 0)
            fail_msg("'%s' accepted", abbr[i].abbr);
        assert_contains(out, abbr[i].hint);
        assert_false(hd_time_zone_valid(abbr[i].abbr));
    }
    assert_true(hd_time_zone_valid("UTC") && hd_time_zone_valid("GMT"));
    assert_true(hd_time_zone_valid("EST5EDT") && hd_time_zone_valid("Etc/UTC"));
    hd_valid_free(v);
}

static void test_valid_locale(void **state)
{
    (void)state;
    struct hd_valid *v = hd_valid_new();
    static const struct good good[] = {
        {"en", NULL, "en"},
        {"zh-CN", NULL, "zh-CN"},
        {"zh-cn", NULL, "zh-CN"},
        {"ZH-hant-tw", NULL, "zh-Hant-TW"},
        {"zh-Hans", NULL, "zh-Hans"},
        {"es-419", NULL, "es-419"},
        {"sr-Latn-RS", NULL, "sr-Latn-RS"},
        {"de-CH-1996", NULL, "de-CH-1996"},
        {"en-US-x-twain", NULL, "en-US-x-twain"},
        {"fil", NULL, "fil"},
        {"pt-BR", NULL, "pt-BR"},
    };
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"", "not a BCP 47 language tag"},
        {"zh_CN", "not a BCP 47 language tag (write '-' instead of '_', e.g. zh-CN)"},
        {"english", "not a BCP 47 language tag (it must start with a language such as en or "
                    "zh)"},
        {"e", "not a BCP 47 language tag (it must start with a language such as en or zh)"},
        {"zh-", "not a BCP 47 language tag"},
        {"zh--CN", "not a BCP 47 language tag"},
        {"qq", "unknown language"},
        {"en-US-toolongsubtag", "not a BCP 47 language tag"},
        {"12", "not a BCP 47 language tag (it must start with a language such as en or zh)"},
        {"en US", "not a BCP 47 language tag"},
    };
    char out[128];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (hd_valid_locale(v, good[i].in, out, sizeof out) != 0)
            fail_msg("'%s' refused: %s", good[i].in, out);
        if (strcmp(out, good[i].out) != 0)
            fail_msg("'%s': got %s, want %s", good[i].in, out, good[i].out);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (hd_valid_locale(v, bad[i].in, out, sizeof out) == 0)
            fail_msg("'%s' accepted as %s", bad[i].in, out);
        if (strcmp(out, bad[i].why) != 0)
            fail_msg("'%s': got \"%s\", want \"%s\"", bad[i].in, out, bad[i].why);
    }
    /* the codes, the second time from the cache */
    for (int k = 0; k < 2; k++) {
        assert_int_equal(hd_valid_locale(v, "zh_CN", out, sizeof out), HD_VALID_TAG_SEP);
        assert_int_equal(hd_valid_locale(v, "english", out, sizeof out), HD_VALID_TAG_NO_LANG);
        assert_int_equal(hd_valid_locale(v, "zh--CN", out, sizeof out), HD_VALID_NOT_TAG);
        assert_int_equal(hd_valid_locale(v, "qq", out, sizeof out), HD_VALID_BAD);
    }
    assert_string_equal(hd_valid_hint(HD_VALID_TAG_SEP), "write '-' instead of '_', e.g. zh-CN");
    assert_null(hd_valid_hint(HD_VALID_NOT_TAG));
    hd_valid_free(v);
}

static void test_valid_utf8(void **state)
{
    (void)state;
    assert_true(hd_valid_utf8("plain", 5));
    assert_true(hd_valid_utf8("中文", 6));
    assert_true(hd_valid_utf8("\xF0\x9F\x98\x80", 4));
    assert_false(hd_valid_utf8("\xC0\x80", 2));         /* overlong NUL */
    assert_false(hd_valid_utf8("\xED\xA0\x80", 3));     /* surrogate */
    assert_false(hd_valid_utf8("\xE4\xB8", 2));         /* truncated */
    assert_false(hd_valid_utf8("a\0b", 3));             /* NUL */
    assert_false(hd_valid_utf8("\xF4\x90\x80\x80", 4)); /* above U+10FFFF */
    /* long ASCII runs (read eight bytes at a time) with one bad byte, a
     * NUL or a character at every place around the words' edges */
    char buf[40];
    for (size_t at = 0; at < 24; at++) {
        memset(buf, 'x', sizeof buf);
        buf[at] = '\xFF';
        assert_false(hd_valid_utf8(buf, sizeof buf));
        buf[at] = '\0';
        assert_false(hd_valid_utf8(buf, sizeof buf));
        assert_true(hd_valid_utf8(buf, at)); /* what comes before it */
        memcpy(buf + at, "中", 3);
        assert_true(hd_valid_utf8(buf, sizeof buf));
        assert_false(hd_valid_utf8(buf, at + 2)); /* cut short */
        buf[sizeof buf - 1] = '\0';
        assert_int_equal(hd_utf8_scrub(buf), 0);
        buf[at + 1] = 'y'; /* 中's lead byte, then not a continuation */
        assert_int_equal(hd_utf8_scrub(buf), 2);
        assert_int_equal(buf[at], '?');
        assert_int_equal(buf[at + 2], '?');
    }
}

/* A gateway's reply cut to a buffer mid-character, or with stray bytes,
 * made well-formed (PostgreSQL refuses the rest), and what is already
 * well-formed left as it is. */
static void test_valid_utf8_scrub(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
        size_t fixed;
    } cases[] = {
        {"plain 中文 \xF0\x9F\x98\x80", "plain 中文 \xF0\x9F\x98\x80", 0},
        {"触发流控\xE4\xB8", "触发流控", 2}, /* cut short at the end: cut off */
        {"ok \xF0\x9F\x98", "ok ", 3},       /* a 4-byte one, 3 bytes left */
        {"a\xFF"
         "b\x80"
         "c",
         "a?b?c", 2},                 /* stray bytes */
        {"\xC0\x80x", "??x", 2},      /* overlong */
        {"\xED\xA0\x80.", "???.", 3}, /* a surrogate */
        {"\xE4\xB8"
         "A",
         "??A", 2}, /* cut short, not at the end */
        {"", "", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", cases[i].in);
        assert_int_equal(hd_utf8_scrub(buf), cases[i].fixed);
        assert_string_equal(buf, cases[i].out);
        assert_true(hd_valid_utf8(buf, strlen(buf)));
    }
}

static void test_valid_suppress_address(void **state)
{
    (void)state;
    struct hd_valid *v = hd_valid_new();
    char out[256];
    int ch;
    assert_int_equal(hd_suppress_address(v, "Ann@Example.COM", -1, NULL, &ch, out, sizeof out), 0);
    assert_int_equal(ch, 0);
    assert_string_equal(out, "ann@example.com");
    assert_int_equal(hd_suppress_address(v, "+1 (415) 555-0100", -1, NULL, &ch, out, sizeof out),
                     0);
    assert_int_equal(ch, 1);
    assert_string_equal(out, "+14155550100");
    assert_int_equal(
        hd_suppress_address(v, "ABCDEF0123456789ABCDEF0123456789", -1, NULL, &ch, out, sizeof out),
        0);
    assert_int_equal(ch, 2);
    assert_string_equal(out, "abcdef0123456789abcdef0123456789");
    assert_int_equal(hd_suppress_address(v, "bad address!", -1, NULL, &ch, out, sizeof out), -1);
    assert_true(hd_suppress_reason_valid("hard_bounce"));
    assert_false(hd_suppress_reason_valid("Hard Bounce"));
    hd_valid_free(v);
}

static void test_valid_iso_time(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t t;
    } good[] = {
        {"1970-01-01", 0},
        {"2026-11-22", 1795305600},
        {"2024-02-29T12:00:00Z", 1709208000},
        {"2026-11-22T08:00:00+08:00", 1795305600},
        {"2026-11-22 08:00", 1795334400},
        {"2026-11-22T00:00:00.123-0130", 1795310999 + 1},
    };
    static const char *const bad[] = {"2026-02-29",
                                      "2026-13-01",
                                      "2026-1-1",
                                      "2026-11-22T25:00",
                                      "2026-11-22T10:00:00+2",
                                      "22/11/2026",
                                      "2026-11-22Tx",
                                      "2026-11-22T10:00:00Z junk"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t t;
        if (hd_time_parse_iso(good[i].in, &t, NULL) != 0)
            fail_msg("'%s' refused", good[i].in);
        if (t != good[i].t)
            fail_msg("'%s': got %lld, want %lld", good[i].in, (long long)t, (long long)good[i].t);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t;
        if (hd_time_parse_iso(bad[i], &t, NULL) == 0)
            fail_msg("'%s' accepted", bad[i]);
    }
    /* to the millisecond: the fraction's first three digits */
    static const struct {
        const char *in;
        int64_t ms;
    } ms[] = {{"2026-11-22T12:00:05.554Z", 1795348805554},
              {"2026-11-22T12:00:05.5Z", 1795348805500},
              {"2026-11-22T12:00:05.0559Z", 1795348805055},
              {"2026-11-22T12:00:05Z", 1795348805000},
              {"2026-11-22T13:00:05.5+01:00", 1795348805500},
              {"2026-11-22", 1795305600000}};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        int64_t t;
        if (hd_time_parse_iso_ms(ms[i].in, &t, NULL) != 0 || t != ms[i].ms)
            fail_msg("'%s': got %lld ms, want %lld", ms[i].in, (long long)t, (long long)ms[i].ms);
    }
    char buf[32];
    hd_time_format_iso(1709208000, buf, sizeof buf);
    assert_string_equal(buf, "2024-02-29T12:00:00Z");
    hd_time_format_iso(-1, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59Z");
    /* days_from_civil and back agree over four centuries */
    for (int64_t d = -200000; d < 200000; d += 7) {
        int64_t y;
        unsigned m, dd;
        hd_time_civil_from_days(d, &y, &m, &dd);
        assert_true(hd_time_days_from_civil(y, m, dd) == d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_email),
        cmocka_unit_test(test_valid_phone),
        cmocka_unit_test(test_valid_timezone),
        cmocka_unit_test(test_valid_locale),
        cmocka_unit_test(test_valid_utf8),
        cmocka_unit_test(test_valid_utf8_scrub),
        cmocka_unit_test(test_valid_suppress_address),
        cmocka_unit_test(test_valid_iso_time),
    };
    return cmocka_run_group_tests_name("valid", tests, NULL, NULL);
}
