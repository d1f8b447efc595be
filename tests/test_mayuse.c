/* test_mayuse: the dispatcher signs a message's links only when its text
 * may show them (hd_tpl_may_use, over hd_mst_may_use), so the answer must
 * never be "no" for a template that can render unsubscribe_url: a tag that
 * names it anywhere in a dotted name, in a section or inverted section, and
 * anything that could stand for it (a partial, a parent, a dynamic name,
 * the implicit iterator) count as a use. End to end, a push whose body
 * shows {{unsubscribe_url}} still goes out with a signed link that herald
 * serve's checker accepts, and one that does not show it goes out as
 * before: on a SQLite file, then on PostgreSQL (testboth.h). */
#include "testboth.h"

#include "herald/mustache.h"
#include "herald/tpl.h"

static bool may_use(const char *src, const char *name)
{
    struct hd_mst *t;
    struct hd_err e = {0};
    if (hd_mst_compile(src, strlen(src), NULL, &t, &e) < 0)
        fail_msg("compile [%s]: %s", src, e.msg);
    bool r = hd_mst_may_use(t, name);
    hd_mst_free(t);
    return r;
}

static void test_mayuse_mustache(void **state)
{
    (void)state;
    static const struct {
        const char *src;
        bool want;
    } cases[] = {
        {"Hello {{first_name}}", false},
        {"plain text, unsubscribe_url in words", false},
        {"{{unsubscribe_url}}", true},
        {"{{{unsubscribe_url}}}", true},
        {"{{&unsubscribe_url}}", true},
        {"{{ unsubscribe_url | default \"x\" }}", true},
        {"{{#unsubscribe_url}}here{{/unsubscribe_url}}", true},
        {"{{^unsubscribe_url}}none{{/unsubscribe_url}}", true},
        {"{{#campaign}}{{unsubscribe_url}}{{/campaign}}", true},
        {"{{a.unsubscribe_url}}", true},
        {"{{unsubscribe_url.x}}", true},
        {"{{#items}}{{.}}{{/items}}", true},
        {"{{>footer}}", true},
        {"{{>*which}}", true},
        {"{{<layout}}{{$x}}hi{{/x}}{{/layout}}", true},
        {"{{=<% %>=}}<% unsubscribe_url %>", true},
        {"{{=<% %>=}}<% first_name %>", false},
        {"{{unsubscribe_urls}} {{unsubscribe_ur}}", false},
        {"{{! unsubscribe_url in a comment }}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (may_use(cases[i].src, "unsubscribe_url") != cases[i].want)
            fail_msg("[%s]: want %s", cases[i].src, cases[i].want ? "true" : "false");
    assert_false(hd_mst_may_use(NULL, "unsubscribe_url"));
}

static void test_mayuse_template(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char *p = tu_path(dir, "t.tmpl");
    tu_write(p, "category: marketing\n"
                "--- email.subject\nHi\n--- email.text\nBye {{unsubscribe_url}}\n"
                "--- push.title\nHi {{first_name}}\n--- push.body\nCome back\n"
                "--- push.data\n{\"k\": \"{{first_name}}\"}\n"
                "--- sms\nHi\n");
    free(p);
    p = tu_path(dir, "t.de.tmpl"); /* a locale's file counts too */
    tu_write(p, "--- sms\nHallo {{preferences_url}}\n");
    free(p);
    p = tu_path(dir, "d.tmpl"); /* a JSON part's leaves are looked at */
    tu_write(p, "category: transactional\n--- push.title\nHi\n--- push.body\nx\n"
                "--- push.data\n{\"u\": \"{{unsubscribe_url}}\"}\n");
    free(p);
    struct hd_tpl_set *set;
    const struct hd_tpl *t, *d;
    assert_int_equal(hd_tpl_set_open(dir, &set, NULL), 0);
    assert_int_equal(hd_tpl_get(set, "t", &t, NULL), 0);
    assert_int_equal(hd_tpl_get(set, "d", &d, NULL), 0);
    assert_true(hd_tpl_may_use(t, HD_CH_EMAIL, "unsubscribe_url"));
    assert_false(hd_tpl_may_use(t, HD_CH_EMAIL, "preferences_url"));
    assert_false(hd_tpl_may_use(t, HD_CH_PUSH, "unsubscribe_url"));
    assert_false(hd_tpl_may_use(t, HD_CH_PUSH, "preferences_url"));
    assert_true(hd_tpl_may_use(t, HD_CH_SMS, "preferences_url"));
    assert_false(hd_tpl_may_use(t, HD_CH_SMS, "unsubscribe_url"));
    assert_false(hd_tpl_may_use(t, HD_CH_INBOX, "unsubscribe_url"));
    assert_true(hd_tpl_may_use(d, HD_CH_PUSH, "unsubscribe_url"));
    hd_tpl_set_free(set);
    tu_rmdir(dir);
}

/* herald send of a one-contact push campaign of template body through the
 * outbox; returns the push.jsonl line (the caller frees) */
/* each send's store: a file, or on the PostgreSQL run a database */
static struct tu_both stores;

static char *push_of(const char *body)
{
    static int calls;
    char *dir = tu_tmpdir(), *p, file[32];
    snprintf(file, sizeof file, "h%d.db", ++calls); /* a fresh store each time */
    const char *db = tu_both_store(&stores, file);
    char conf[1024];
    snprintf(conf, sizeof conf,
             "[herald]\ntemplates = %s/tpl\n"
             "[serve]\npublic_url = https://herald.example.com\nsecret_file = herald.secret\n"
             "[provider ob]\ntype = outbox\npath = %s/ob\n"
             "[channel push]\nproviders = ob\n",
             dir, dir);
    p = tu_path(dir, "herald.conf");
    tu_write(p, conf);
    free(p);
    p = tu_path(dir, "tpl");
    assert_int_equal(mkdir(p, 0700), 0);
    free(p);
    char tpl[512];
    snprintf(tpl, sizeof tpl, "category: marketing\n--- push.title\nHi\n--- push.body\n%s\n", body);
    p = tu_path(dir, "tpl/t.tmpl");
    tu_write(p, tpl);
    free(p);
    p = tu_path(dir, "c.csv");
    tu_write(p, "id,fcm_token,plan\nk1,fcm000000000001:APA91btest,gold\n");
    free(p);
    struct tu_run r;
    const char *steps[][8] = {
        {"-c", "herald.conf", "--db", db, "init", NULL},
        {"-c", "herald.conf", "--db", db, "contacts", "import", "c.csv", NULL},
        {"-c", "herald.conf", "--db", db, "segment", "define", "all", "plan = \"gold\""},
    };
    for (size_t i = 0; i < 3; i++) {
        tu_herald(&r, dir, NULL, steps[i][0], steps[i][1], steps[i][2], steps[i][3], steps[i][4],
                  steps[i][5], steps[i][6], steps[i][7], NULL);
        if (r.status != 0)
            fail_msg("step %zu: %s%s", i, r.out, r.err);
        tu_run_release(&r);
    }
    tu_herald(&r, dir, NULL, "-c", "herald.conf", "--db", db, "campaign", "create", "c",
              "--segment", "all", "--template", "t", "--channels", "push", "--now", NULL);
    if (r.status != 0)
        fail_msg("create: %s%s", r.out, r.err);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "-c", "herald.conf", "--db", db, "send", "c", NULL);
    if (r.status != 0 || !strstr(r.out, "sent 1"))
        fail_msg("send: %s%s", r.out, r.err);
    tu_run_release(&r);
    p = tu_path(dir, "ob/push.jsonl");
    char *line = tu_read(p);
    free(p);
    assert_non_null(line);
    tu_rmdir(dir);
    return line;
}

static void test_mayuse_push_links(void **state)
{
    (void)state;
    char *with = push_of("Stop: {{unsubscribe_url}} or {{preferences_url}}");
    const char *u = strstr(with, "https://herald.example.com/u/v1.");
    assert_non_null(u);
    assert_non_null(strstr(with, "https://herald.example.com/p/v1."));
    /* the same token in both links, of the length a token has */
    const char *tok = u + strlen("https://herald.example.com/u/");
    char want[128];
    snprintf(want, sizeof want, "https://herald.example.com/p/%.75s", tok);
    assert_non_null(strstr(with, want));
    free(with);
    char *without = push_of("Come back {{#first_name}}soon{{/first_name}}");
    assert_non_null(strstr(without, "Come back"));
    assert_null(strstr(without, "/u/v1."));
    free(without);
}

TU_BOTH_FIXTURES(stores)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mayuse_mustache),
        cmocka_unit_test(test_mayuse_template),
        cmocka_unit_test_teardown(test_mayuse_push_links, teardown),
    };
    /* the send again, on PostgreSQL (the others open no store) */
    const struct CMUnitTest tests_pg[] = {
        {"test_mayuse_push_links_pg", test_mayuse_push_links, setup_pg, teardown, NULL},
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    return rc | cmocka_run_group_tests(tests_pg, NULL, NULL);
}
