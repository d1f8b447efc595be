/* test_config: the configuration reader, its defaults, every error path (each
 * checked for file, line and reason), secrets by reference and their masking. */
#include "testutil.h"

#include "herald/config.h"
#include "herald/log.h"

static const char full[] = "; a complete configuration\n"
                           "[herald]\n"
                           "database = /tmp/x.db\n"
                           "templates = tpl\n"
                           "timezone = Asia/Shanghai\n"
                           "locale = zh-cn\n"
                           "default_region = cn\n"
                           "log_level = debug\n"
                           "busy_timeout = 10s\n"
                           "\n"
                           "[provider mail]\n"
                           "type = smtp\n"
                           "host = smtp.example.com\n"
                           "port = 587\n"
                           "starttls = required\n"
                           "username = herald\n"
                           "password_env = TEST_HERALD_SMTP_PASSWORD\n"
                           "rate = 6000/min\n"
                           "connections = 8\n"
                           "\n"
                           "[provider box]\n"
                           "type = outbox\n"
                           "path = /tmp/outbox\n"
                           "\n"
                           "[channel email]\n"
                           "providers = mail, box\n"
                           "[channel sms]\n"
                           "providers = box\n"
                           "\n"
                           "[caps]\n"
                           "marketing = 3/7d\n"
                           "marketing.sms = 1/1d\n"
                           "on_cap = defer\n"
                           "\n"
                           "[quiet_hours]\n"
                           "marketing = 21:00-08:00\n"
                           "\n"
                           "[template_vars]\n"
                           "brand = Acme\n";

static int setup(void **state)
{
    (void)state;
    setenv("TEST_HERALD_SMTP_PASSWORD", "s3cr3t-Pa55word", 1);
    return 0;
}

static void test_config_full(void **state)
{
    (void)state;
    struct hd_config *cfg = NULL;
    struct hd_err e = {0};
    assert_int_equal(hd_config_parse(full, "herald.conf", &cfg, &e), 0);
    assert_string_equal(cfg->database, "/tmp/x.db");
    assert_string_equal(cfg->templates, "tpl");
    assert_string_equal(cfg->timezone, "Asia/Shanghai");
    assert_string_equal(cfg->locale, "zh-CN");
    assert_string_equal(cfg->default_region, "CN");
    assert_int_equal(cfg->log_level, HD_LOG_DEBUG);
    assert_int_equal(cfg->busy_timeout, 10);
    assert_int_equal(cfg->nproviders, 3); /* with the built-in inbox */
    assert_string_equal(hd_config_provider(cfg, "inbox")->type, "inbox");
    const struct hd_provider_cfg *p = hd_config_provider(cfg, "mail");
    assert_non_null(p);
    assert_string_equal(p->type, "smtp");
    assert_string_equal(hd_provider_get(p, "host"), "smtp.example.com");
    assert_int_equal(p->rate.count, 6000);
    assert_int_equal(p->rate.period, 60);
    assert_int_equal(p->burst, 100); /* defaults to the rate per second */
    assert_int_equal(p->connections, 8);
    assert_int_equal(p->max_attempts, 5);
    const struct hd_cfg_secret *s = hd_provider_secret(p, "password");
    assert_non_null(s);
    assert_string_equal(s->value, "s3cr3t-Pa55word");
    assert_int_equal(cfg->channels[HD_CH_EMAIL].n, 2);
    assert_string_equal(cfg->channels[HD_CH_EMAIL].providers[1], "box");
    assert_int_equal(cfg->channels[HD_CH_PUSH].n, 0);
    assert_int_equal(cfg->ncaps, 2);
    assert_int_equal(cfg->caps[1].category, HD_CAT_MARKETING);
    assert_int_equal(cfg->caps[1].channel, HD_CH_SMS);
    assert_int_equal(cfg->caps[1].cap.count, 1);
    assert_int_equal(cfg->on_cap, HD_ON_CAP_DEFER);
    assert_int_equal(cfg->nquiet, 1);
    assert_int_equal(cfg->quiet[0].window.start, 1260);
    assert_int_equal(cfg->nvars, 1);
    assert_string_equal(cfg->vars[0].value, "Acme");

    /* the dump shows everything but the secret */
    struct hd_buf out;
    hd_buf_init(&out);
    hd_config_dump(cfg, &out);
    assert_contains(out.data, "password_env = TEST_HERALD_SMTP_PASSWORD");
    assert_contains(out.data, "password = ****");
    assert_contains(out.data, "marketing.sms = 1/1d");
    assert_contains(out.data, "rate = 6000/min");
    assert_not_contains(out.data, "s3cr3t");
    hd_buf_release(&out);
    hd_config_free(cfg);
}

static void test_config_defaults(void **state)
{
    (void)state;
    struct hd_config *cfg = NULL;
    assert_int_equal(hd_config_load(NULL, &cfg, NULL), 0);
    assert_string_equal(cfg->database, "var/herald.db");
    assert_string_equal(cfg->timezone, "UTC");
    assert_null(cfg->default_region);
    assert_int_equal(cfg->nproviders, 2); /* the outbox and the built-in inbox */
    assert_string_equal(cfg->providers[0].type, "outbox");
    for (int ch = 0; ch < HD_CH_COUNT; ch++)
        assert_string_equal(cfg->channels[ch].providers[0], ch == HD_CH_INBOX ? "inbox" : "outbox");
    hd_config_free(cfg);

    /* a file with no provider keeps the outbox default */
    assert_int_equal(hd_config_parse("[herald]\ntimezone = Europe/Paris\n", "c", &cfg, NULL), 0);
    assert_int_equal(cfg->nproviders, 2);
    assert_string_equal(cfg->timezone, "Europe/Paris");
    hd_config_free(cfg);

    /* an empty file, a BOM, comments */
    assert_int_equal(hd_config_parse("\xEF\xBB\xBF# nothing\n", "c", &cfg, NULL), 0);
    hd_config_free(cfg);
}

/* Each bad configuration with the exact message it must produce. */
static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"database = x\n", "c.conf:1: key 'database' is outside any section (put it under "
                           "[herald])"},
        {"[herald]\ncolour = red\n", "c.conf:2: unknown key 'colour' in [herald]"},
        {"[herald]\ndatabase = a\ndatabase = b\n", "c.conf:3: duplicate key 'database' in "
                                                   "[herald]"},
        {"[nonsense]\nx = 1\n", "c.conf:2: unknown section [nonsense]"},
        {"[herald]\ntimezone = Mars/Olympus\n",
         "c.conf:2: timezone: 'Mars/Olympus' is not an IANA time zone"},
        {"[herald]\ntimezone = PST\n",
         "c.conf:2: timezone: 'PST' is not an IANA time zone (PST: America/Los_Angeles?)"},
        {"[herald]\nlocale = zh_CN\n", "c.conf:2: locale: 'zh_CN' is not a BCP 47 language tag"},
        {"[herald]\nlog_level = loud\n", "c.conf:2: log_level: 'loud' is not one of error"},
        {"[herald]\nbusy_timeout = soon\n", "c.conf:2: busy_timeout: 'soon' is not a duration"},
        {"[herald]\nbusy_timeout = 25d\n",
         "c.conf:2: busy_timeout: '25d' is longer than the longest wait, 1d"},
        {"[herald]\ndefault_region = XX\n", "c.conf:2: default_region: 'XX' is not a region"},
        {"[herald]\ndatabase =\n", "c.conf:2: 'database' must not be empty"},
        {"[herald]\nthis line has no equals sign\n", "c.conf:2: syntax error"},
        {"[provider p]\nhost = x\n", "c.conf:1: [provider p] has no 'type'"},
        {"[provider p]\ntype = pigeon\n", "c.conf:2: [provider p] type: 'pigeon' is not one of"},
        {"[provider p]\ntype = outbox\ncolour = red\n",
         "c.conf:3: unknown key 'colour' in [provider p] of type outbox (known: path"},
        {"[provider p]\ntype = smtp\nhost = h\npassword = hunter2\n",
         "c.conf:4: [provider p] 'password' must not be written inline: use password_env"},
        {"[provider p]\ntype = smtp\nhost = h\npassword_env = TEST_HERALD_UNSET_VAR\n",
         "c.conf:4: [provider p] password_env: environment variable 'TEST_HERALD_UNSET_VAR' is "
         "not set"},
        {"[provider p]\ntype = smtp\nhost = h\npassword_file = /nonexistent/pw\n",
         "c.conf:4: [provider p] password_file: cannot read '/nonexistent/pw': No such file"},
        {"[provider p]\ntype = smtp\nhost = h\npassword_env = TEST_HERALD_SMTP_PASSWORD\n"
         "password_file = /etc/hostname\n",
         "c.conf:5: [provider p] give either password_env or password_file, not both"},
        {"[provider p]\ntype = smtp\n", "c.conf:1: [provider p] of type smtp needs 'host'"},
        {"[provider p]\ntype = twilio\naccount_sid = AC1\n",
         "c.conf:1: [provider p] of type twilio needs 'auth_token_env' or 'auth_token_file'"},
        {"[provider p]\ntype = smtp\nhost = h\nport = 99999\n",
         "c.conf:4: [provider p] port: '99999' is not a port number"},
        {"[provider p]\ntype = smtp\nhost = h\nstarttls = maybe\n",
         "c.conf:4: [provider p] starttls: 'maybe' is not one of required|optional|none"},
        {"[provider p]\ntype = smtp\nhost = h\ntls_verify = perhaps\n",
         "c.conf:4: [provider p] tls_verify: 'perhaps' is not yes or no"},
        {"[provider p]\ntype = outbox\nrate = fast\n",
         "c.conf:3: [provider p] rate: 'fast' is not a rate"},
        {"[provider p]\ntype = outbox\nconnections = 0\n",
         "c.conf:3: [provider p] connections: '0' is not a number from 1 to 1024"},
        {"[provider p]\ntype = outbox\ntype = smtp\n",
         "c.conf:3: duplicate key 'type' in [provider p] (first on line 2)"},
        {"[provider p]\ntype = http\nurl = ftp://x\n",
         "c.conf:3: [provider p] url: 'ftp://x' is not an http:// or https:// URL"},
        {"[provider bad name]\ntype = outbox\n",
         "c.conf:2: provider name 'bad name' may use only letters"},
        {"[channel fax]\nproviders = p\n", "c.conf:2: unknown channel 'fax'"},
        {"[channel email]\nprovider = p\n", "c.conf:2: unknown key 'provider' in [channel email]"},
        {"[channel email]\nproviders = ghost\n",
         "c.conf:2: [channel email] providers: no [provider ghost] is defined"},
        {"[caps]\npromo = 3/7d\n", "c.conf:2: unknown key 'promo' in [caps]"},
        {"[caps]\nmarketing.fax = 3/7d\n", "c.conf:2: unknown channel 'fax' in key"},
        {"[caps]\nmarketing = 3 per week\n", "c.conf:2: marketing: '3 per week' is not a cap"},
        {"[caps]\nmarketing = 3/7d\nmarketing = 4/7d\n",
         "c.conf:3: duplicate key 'marketing' in [caps] (first on line 2)"},
        {"[caps]\non_cap = explode\n", "c.conf:2: on_cap: 'explode' is not one of drop, defer"},
        {"[quiet_hours]\nmarketing = late\n", "c.conf:2: marketing: 'late' is not a time window"},
        {"[template_vars]\n9lives = x\n",
         "c.conf:2: template variable '9lives' must start with a letter"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hd_config *cfg = (struct hd_config *)0x1;
        struct hd_err e = {0};
        int rc = hd_config_parse(cases[i].text, "c.conf", &cfg, &e);
        if (rc != HD_E_CONFIG)
            fail_msg("case %zu: expected an error for:\n%s", i, cases[i].text);
        assert_ptr_equal(cfg, (struct hd_config *)0x1); /* nothing handed out */
        if (strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s...\"", i, e.msg, cases[i].msg);
        assert_not_contains(e.msg, "s3cr3t");
        assert_string_equal(e.file, "c.conf");
    }
}

/* Lines of any sensible length (issue 16, item 8): inih as Debian builds it
 * refused every line over 198 characters, so a 250-character http body could
 * not be configured. The limit is now HD_CONFIG_LINE_MAX, named in the error. */
static void test_config_long_line(void **state)
{
    (void)state;
    struct hd_buf t;
    struct hd_config *cfg = NULL;
    struct hd_err e = {0};
    hd_buf_init(&t);
    char body[251];
    memset(body, 'b', 250);
    memcpy(body, "{\"to\": \"{{phone}}\", \"text\": \"", 29);
    memcpy(body + 248, "\"}", 2);
    body[250] = '\0';
    hd_buf_addf(&t, "[provider hook]\ntype = http\nurl = https://example.com/send\nbody = %s\n",
                body);
    hd_buf_adds(&t, "[template_vars]\nlong = ");
    for (int i = 0; i < 20000; i++)
        hd_buf_addc(&t, 'x');
    hd_buf_adds(&t, " ; a comment\n");
    assert_int_equal(hd_config_parse(t.data, "c.conf", &cfg, &e), 0);
    assert_string_equal(hd_provider_get(hd_config_provider(cfg, "hook"), "body"), body);
    assert_int_equal(strlen(cfg->vars[0].value), 20000);
    assert_int_equal(cfg->vars[0].line, 6);
    hd_config_free(cfg);

    /* one character over the limit is refused with the limit named */
    hd_buf_reset(&t);
    hd_buf_adds(&t, "[template_vars]\nok = 1\nlong = ");
    while (t.len < 23 + HD_CONFIG_LINE_MAX + 1)
        hd_buf_addc(&t, 'x');
    hd_buf_adds(&t, "\nnext = 2\n");
    cfg = (struct hd_config *)0x1;
    assert_int_equal(hd_config_parse(t.data, "c.conf", &cfg, &e), HD_E_CONFIG);
    assert_ptr_equal(cfg, (struct hd_config *)0x1);
    assert_string_equal(e.msg, "c.conf:3: line too long (at most 65536 characters)");
    /* exactly at the limit is fine */
    hd_buf_reset(&t);
    hd_buf_adds(&t, "[template_vars]\nok = 1\nlong = ");
    while (t.len < 23 + HD_CONFIG_LINE_MAX)
        hd_buf_addc(&t, 'x');
    hd_buf_adds(&t, "\n");
    assert_int_equal(hd_config_parse(t.data, "c.conf", &cfg, &e), 0);
    hd_config_free(cfg);
    hd_buf_release(&t);
}

/* The INI dialect inih read, which existing files rely on: ';' and '#'
 * comment lines, ';' after a space ends a value, ':' as well as '=', CRLF
 * line ends, a BOM, an indented line continuing the key above it (whole:
 * inih 55 ends no comment there), text
 * after a section's ']' ignored, and the first error in file order wins
 * except that a syntax error gives way to a later error of meaning. */
static void test_config_syntax(void **state)
{
    (void)state;
    struct hd_config *cfg = NULL;
    struct hd_err e = {0};
    static const char text[] = "\xEF\xBB\xBF# comment\r\n"
                               "  ; indented comment\n"
                               "[herald] ; trailing comment\r\n"
                               "timezone: Europe/Paris\n"
                               "locale = fr ;comment\n"
                               "\n"
                               "[provider hook]\n"
                               "  type = http\n"
                               "url = https://example.com/a;b?c=d\n"
                               "header = X-A: 1\n"
                               "\tX-B: 2 ; not a comment on a continuation\n"
                               "body=x=1#2\n"
                               "[template_vars]\n"
                               "empty =\n"
                               "tail = a\t \n";
    assert_int_equal(hd_config_parse(text, "c.conf", &cfg, &e), 0);
    assert_string_equal(cfg->timezone, "Europe/Paris");
    assert_string_equal(cfg->locale, "fr");
    const struct hd_provider_cfg *p = hd_config_provider(cfg, "hook");
    assert_non_null(p);
    assert_int_equal(p->line, 7);
    assert_string_equal(hd_provider_get(p, "url"), "https://example.com/a;b?c=d");
    assert_string_equal(hd_provider_get(p, "body"), "x=1#2");
    size_t nh = 0;
    for (size_t i = 0; i < p->nkv; i++)
        if (strcmp(p->kv[i].key, "header") == 0)
            assert_string_equal(p->kv[i].value,
                                nh++ ? "X-B: 2 ; not a comment on a continuation" : "X-A: 1");
    assert_int_equal(nh, 2);
    assert_int_equal(cfg->nvars, 2);
    assert_string_equal(cfg->vars[0].value, "");
    assert_string_equal(cfg->vars[1].value, "a");
    hd_config_free(cfg);

    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"[herald\n", "c.conf:1: syntax error (expected [section] or key = value)"},
        {"[herald]\ntimezone = UTC\n  locale = en\n", "c.conf:3: duplicate key 'timezone'"},
        {"[herald]\nbad line\ncolour = red\n", "c.conf:3: unknown key 'colour' in [herald]"},
        {"[herald]\nbad line\n[nope\n", "c.conf:2: syntax error"},
        {"[ herald ]\nx = 1\n", "c.conf:2: unknown section [ herald ]"},
        {"[herald]\nkey ; comment = 1\n", "c.conf:2: syntax error"},
        {"[herald]\n= 1\n", "c.conf:2: unknown key '' in [herald]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hd_err ce = {0};
        cfg = (struct hd_config *)0x1;
        if (hd_config_parse(cases[i].text, "c.conf", &cfg, &ce) != HD_E_CONFIG)
            fail_msg("case %zu: expected an error for:\n%s", i, cases[i].text);
        if (strncmp(ce.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s...\"", i, ce.msg, cases[i].msg);
    }
}

/* The dump reads back as the configuration it shows (found by
 * tests/fuzz/fuzz_config.c): a continuation value with " ;" in it stays a
 * continuation, and a value that starts with ';' is not read as a comment. */
static void test_config_dump_reads_back(void **state)
{
    (void)state;
    static const char text[] = "[provider hook]\n"
                               "type = http\n"
                               "url = https://example.com/\n"
                               "header = X-A: 1\n"
                               "\tX-B: 2 ; not a comment on a continuation\n"
                               "body=;x\n"
                               "[template_vars]\n"
                               "v=;y ;cut\n";
    struct hd_config *cfg = NULL, *again = NULL;
    struct hd_err e = {0};
    struct hd_buf a, b;
    hd_buf_init(&a);
    hd_buf_init(&b);
    assert_int_equal(hd_config_parse(text, "c.conf", &cfg, &e), 0);
    hd_config_dump(cfg, &a);
    assert_non_null(strstr(a.data, "header = X-A: 1\n    X-B: 2 ; not a comment on a continuation\n"
                                   "body =;x\n"));
    assert_non_null(strstr(a.data, "[template_vars]\nv =;y\n"));
    if (hd_config_parse(a.data, "dump.conf", &again, &e) != 0)
        fail_msg("the dump does not parse: %s", e.msg);
    hd_config_dump(again, &b);
    assert_string_equal(a.data, b.data);
    const struct hd_provider_cfg *p = hd_config_provider(again, "hook");
    assert_string_equal(hd_provider_get(p, "body"), ";x");
    assert_string_equal(p->kv[2].value, "X-B: 2 ; not a comment on a continuation");
    assert_string_equal(again->vars[0].value, ";y");
    hd_buf_release(&a);
    hd_buf_release(&b);
    hd_config_free(cfg);
    hd_config_free(again);
}

static void test_config_secret_file(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char *pw = tu_path(dir, "pw"), *empty = tu_path(dir, "empty");
    tu_write(pw, "file-secret-value\n");
    tu_write(empty, "\n");
    struct hd_buf t;
    hd_buf_init(&t);
    hd_buf_addf(&t, "[provider tw]\ntype = twilio\naccount_sid = AC123\nauth_token_file = %s\n",
                pw);
    struct hd_config *cfg = NULL;
    struct hd_err e = {0};
    assert_int_equal(hd_config_parse(t.data, "c.conf", &cfg, &e), 0);
    const struct hd_cfg_secret *s = hd_provider_secret(hd_config_provider(cfg, "tw"), "auth_token");
    assert_non_null(s);
    assert_string_equal(s->value, "file-secret-value"); /* trailing newline dropped */

    /* registered secrets are masked in every log line */
    char *logp = tu_path(dir, "log");
    FILE *lf = fopen(logp, "w");
    struct hd_log log;
    hd_log_init(&log, lf, HD_LOG_DEBUG);
    hd_config_register_secrets(cfg, &log);
    hd_log_info(&log, "auth with %s and again file-secret-value", s->value);
    hd_log_debug(&log, "debug too: %s!", s->value);
    /* text a request carried is one line, shown, and drives no terminal
     * (a review forged a whole log line with a URL's line break) */
    hd_log_warn(&log, "url '%s'", "x\n2026-12-04T23:59:59Z herald info: forged\r\x1b[31m\tend\x7f");
    hd_log_release(&log);
    fclose(lf);
    char *text = tu_read(logp);
    assert_not_contains(text, "file-secret-value");
    assert_contains(text, "herald info: auth with **** and again ****");
    assert_contains(text, "debug too: ****!");
    assert_contains(text, "herald warn: url 'x\\n2026-12-04T23:59:59Z herald info: "
                          "forged\\r\\x1b[31m\tend\\x7f'\n");
    assert_int_equal(tu_count(text, "\n"), 3);
    free(text);
    hd_config_free(cfg);

    hd_buf_reset(&t);
    hd_buf_addf(&t, "[provider tw]\ntype = twilio\naccount_sid = AC123\nauth_token_file = %s\n",
                empty);
    assert_int_equal(hd_config_parse(t.data, "c.conf", &cfg, &e), HD_E_CONFIG);
    assert_contains(e.msg, "c.conf:4: [provider tw] auth_token_file: ");
    assert_contains(e.msg, "is empty");
    hd_buf_release(&t);
    free(pw);
    free(empty);
    free(logp);
    tu_rmdir(dir);
}

static void test_config_load_file(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char *path = tu_path(dir, "herald.conf");
    struct hd_config *cfg = NULL;
    struct hd_err e = {0};
    assert_int_equal(hd_config_load(path, &cfg, &e), HD_E_CONFIG);
    assert_contains(e.msg, "cannot read configuration");
    tu_write(path, "[herald]\nlocale = en-GB\n");
    assert_int_equal(hd_config_load(path, &cfg, &e), 0);
    assert_string_equal(cfg->path, path);
    assert_string_equal(cfg->locale, "en-GB");
    hd_config_free(cfg);
    /* the example configuration shipped with herald parses */
    const char *src = getenv("HERALD_SRC");
    if (src) {
        char *ex = tu_path(src, "etc/herald.conf");
        if (hd_config_load(ex, &cfg, &e) != 0)
            fail_msg("%s", e.msg);
        hd_config_free(cfg);
        free(ex);
    }
    free(path);
    tu_rmdir(dir);
}

static void test_config_vocabulary(void **state)
{
    (void)state;
    assert_int_equal(hd_channel_parse("sms"), HD_CH_SMS);
    assert_int_equal(hd_channel_parse("fax"), -1);
    assert_string_equal(hd_channel_name(HD_CH_PUSH), "push");
    assert_int_equal(hd_category_parse("transactional"), HD_CAT_TRANSACTIONAL);
    assert_int_equal(hd_category_parse("promo"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_full),
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_config_long_line),
        cmocka_unit_test(test_config_secret_file),
        cmocka_unit_test(test_config_load_file),
        cmocka_unit_test(test_config_vocabulary),
        cmocka_unit_test(test_config_syntax),
        cmocka_unit_test(test_config_dump_reads_back),
    };
    return cmocka_run_group_tests_name("config", tests, setup, NULL);
}
