/* test_browser_a11y: the console's pages checked for accessibility by npm
 * axe-core (pinned in tests/browser/package-lock.json) in headless
 * Chromium (issue 21), in English and in Simplified Chinese: no finding of
 * impact serious or critical on any page. The pages are a table (pages[]
 * below): a page added to the console is one more row, its path with the
 * data the setup made (a sent campaign with a holdout and conversions, so
 * that the campaign page draws its chart). Each page is also screenshot
 * (800 px wide) into the output folder, where drive.js writes each page's
 * findings as axe-NAME-LANG.json, and must fit its window without
 * scrolling sideways, nor any table in it (no_overflow); then it is seen
 * as a phone shows it (375 px, WCAG's reflow): the page itself still does
 * not scroll sideways, a wide table scrolls in its own box, screenshot as
 * console-NAME-LANG-375.png. The setup is a site of tests/testbrowser.h:
 * the test's own folder, herald serve on a free port, a user made with
 * `herald user add --password-file`; on a SQLite store, and again (`_pg`,
 * in English only: the language is no matter of the engine) on a
 * PostgreSQL one, whose screenshots and findings go to the output
 * folder's pg/. */
#include "testbrowser.h"

#include "herald/state.h"

static struct tb_site site; /* herald serve, its folder and port */

/* The console's pages, each checked signed in (but the sign-in form). */
static const struct a11y_page {
    const char *name; /* in the files' names */
    const char *path;
    bool signed_in;
    const char *part; /* a part further down screenshot too (an id), or NULL */
} pages[] = {
    {"login", "/console/login", false, NULL},
    {"overview", "/console/", true, NULL},
    {"campaign", "/console/campaigns/held?goal=purchase", true, "lift"},
    {"log", "/console/log?campaign=held", true, NULL},
    {"settings", "/console/settings", true, NULL},
    {"new", "/console/campaigns/new", true, NULL},
    {"contacts", "/console/contacts?q=a001", true, NULL},
    {"contact", "/console/contacts/a001", true, NULL},
    {"templates", "/console/templates", true, NULL},
    {"template", "/console/templates/promo", true, NULL},
    {"segments", "/console/segments", true, NULL},
    {"segment", "/console/segments/new", true, NULL},
    {"audit", "/console/audit", true, NULL},
};
#define NPAGES (sizeof pages / sizeof pages[0])

static const char tpl_promo[] =
    "description: a11y test\ncategory: marketing\nfrom: Acme <hello@example.com>\n\n"
    "--- email.subject\nWinter sale, {{ first_name }}\n"
    "--- email.text\nHello {{ first_name }}.\nUnsubscribe: {{ unsubscribe_url }}\n";

/* axe-core beside playwright-core (a tree installed before it was pinned
 * lacks it): npm ci from the lock file. */
static void need_axe(void)
{
    char *bd = tu_src_path("tests/browser"), *pkg = tu_path(bd, "node_modules/axe-core/axe.min.js");
    if (!tu_exists(pkg)) {
        const char *argv[] = {"npm", "ci", "--no-audit", "--no-fund", NULL};
        struct tu_run r;
        tu_exec(&r, bd, NULL, argv);
        if (r.status != 0 || !tu_exists(pkg))
            fail_msg("'npm ci' in %s failed (exit %d): axe-core is needed\n%s%s", bd, r.status,
                     r.out, r.err);
        tu_run_release(&r);
    }
    free(pkg);
    free(bd);
}

/* The site (tests/testbrowser.h), on PostgreSQL when pg, with 200
 * contacts, a campaign with a 25% holdout sent through the outbox;
 * conversions within its window: half of those sent to, a fifth of those
 * held out (so the chart has a lift to draw), chosen from the store. */
static void store(bool pg)
{
    struct hd_buf csv;
    hd_buf_init(&csv);
    hd_buf_adds(&csv, "id,email,first_name,locale\n");
    for (int i = 0; i < 200; i++)
        hd_buf_addf(&csv, "a%03d,a%03d@example.com,A,%s\n", i, i, i % 2 ? "zh-CN" : "en");
    tb_site_init_on(&site, pg, tpl_promo, csv.data);
    hd_buf_release(&csv);
    TU_HERALD_OK(site.dir, "campaign", "create", "held", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--holdout", "25", "--now");
    TU_HERALD_OK(site.dir, "send", "held");
    char sql[1024], when[32];
    time_t t = time(NULL) + 3600;
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    snprintf(sql, sizeof sql,
             "SELECT k.ext_id || ',purchase,%s' FROM messages m JOIN contacts k ON k.id = "
             "m.contact_id WHERE (m.state = %d AND k.id %% 5 = 0) OR (m.state <> %d AND k.id "
             "%% 2 = 0) ORDER BY k.id",
             when, HD_ST_HELD_OUT, HD_ST_HELD_OUT);
    char *rows = tu_sql_text(site.dir, site.db, sql), *ev = tu_path(site.dir, "ev.csv");
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_addf(&b, "contact,event,time\n%s", rows);
    tu_write(ev, b.data);
    assert_true(tu_count(b.data, ",purchase,") > 50);
    hd_buf_release(&b);
    free(rows);
    free(ev);
    TU_HERALD_OK(site.dir, "events", "import", "ev.csv");
}

static int setup_on(bool pg)
{
    need_axe();
    store(pg);
    tb_site_user(&site, "ops", "operator");
    tb_site_start(&site);
    return 0;
}

TB_ENGINE_SETUPS(setup_on)

static int teardown(void **state)
{
    (void)state;
    return tb_site_stop(&site);
}

static void step(json_t *steps, const char *action, const char *arg)
{
    json_array_append_new(steps, json_pack("{s:s}", action, arg));
}

/* Every page of the table in one language: signed out the sign-in form,
 * then signed in the others, each checked and screenshot. */
static json_t *scenario(const char *lang, const char *locale)
{
    json_t *steps = json_array();
    char name[128];
    bool in = false;
    for (size_t i = 0; i < NPAGES; i++) {
        if (pages[i].signed_in && !in) {
            tb_sign_in_steps(steps, "ops");
            in = true;
        }
        json_array_append_new(steps, json_pack("{s:s,s:i}", "goto", pages[i].path, "status", 200));
        step(steps, "lang", lang);
        snprintf(name, sizeof name, "%s-%s", pages[i].name, lang);
        step(steps, "axe", name);
        snprintf(name, sizeof name, "console-%s-%s.png", pages[i].name, lang);
        step(steps, "screenshot", name);
        step(steps, "no_overflow", "all");
        snprintf(name, sizeof name, "console-%s-%s-375.png", pages[i].name, lang);
        tb_narrow_steps(steps, name);
        if (!pages[i].part)
            continue;
        char url[256];
        snprintf(url, sizeof url, "%s#%s", pages[i].path, pages[i].part);
        step(steps, "goto", url); /* the browser scrolls to the part */
        snprintf(name, sizeof name, "console-%s-%s-%s.png", pages[i].name, pages[i].part, lang);
        step(steps, "screenshot", name);
    }
    snprintf(name, sizeof name, "a11y-%s", lang);
    return json_pack("{s:s, s:s, s:o}", "name", name, "locale", locale, "steps", steps);
}

/* Each page's findings were written, and none is serious or critical
 * (drive.js failed the run otherwise; this reads what it wrote). */
static void assert_findings(const char *lang)
{
    for (size_t i = 0; i < NPAGES; i++) {
        char file[160];
        snprintf(file, sizeof file, "axe-%s-%s.json", pages[i].name, lang);
        char *p = tu_path(site.shots, file);
        json_error_t e;
        json_t *j = json_load_file(p, 0, &e), *v;
        if (!j)
            fail_msg("%s: %s", p, e.text);
        size_t k;
        json_array_foreach(json_object_get(j, "violations"), k, v)
        {
            const char *impact = json_string_value(json_object_get(v, "impact"));
            if (impact && (!strcmp(impact, "serious") || !strcmp(impact, "critical")))
                fail_msg("%s: %s finding %s", file, impact,
                         json_string_value(json_object_get(v, "id")));
            printf("note: %s: %s finding %s\n", file, impact ? impact : "?",
                   json_string_value(json_object_get(v, "id")));
        }
        json_decref(j);
        free(p);
    }
}

static void test_browser_a11y_en(void **state)
{
    (void)state;
    tb_site_drive(&site, json_pack("[o]", scenario("en", "en-US")));
    assert_findings("en");
}

static void test_browser_a11y_zh(void **state)
{
    (void)state;
    tb_site_drive(&site, json_pack("[o]", scenario("zh-CN", "zh-CN")));
    assert_findings("zh-CN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_browser_a11y_en),
        cmocka_unit_test(test_browser_a11y_zh),
    };
    /* on PostgreSQL the pages in English only: what the engine gives them
     * is the same in either language, and the pass is the slowest there is
     * (axe-core on every page) */
    const struct CMUnitTest tests_pg[] = {
        {"test_browser_a11y_en_pg", test_browser_a11y_en, NULL, NULL, NULL},
    };
    int rc = cmocka_run_group_tests_name("sqlite", tests, setup, teardown);
    rc |= cmocka_run_group_tests_name("postgresql", tests_pg, setup_pg, teardown);
    return tb_end_session(rc);
}
