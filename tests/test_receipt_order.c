/* test_receipt_order: a receipt is listed after the attempt it reports on.
 * A gateway's report time is its own, often in whole seconds, while the
 * accepted attempt is stored to the millisecond, so the report can carry
 * a time before the acceptance. One email through the outbox, then a
 * "delivered" report taken in-process (hd_receipt_take) whose gateway time
 * is 600 ms before the accepted attempt's: herald log --contact (both
 * orders), history and why must list the receipt after the attempt, and still show
 * the gateway's time on it. On a SQLite file and on a PostgreSQL store. */
#include "testnet.h"

#include "herald/audit.h"
#include "herald/config.h"
#include "herald/dispatch.h"
#include "herald/store.h"

static char *dir;
static const char *db = "h.db";   /* the store: "h.db" in dir, or pg_uri */
static char *pg_uri, pg_name[64]; /* the PostgreSQL run's database */

static int setup_on(const char *store)
{
    db = store;
    dir = tu_tmpdir();
    setenv("HERALD_NOW", "2026-11-22T12:00:00Z", 1);
    setenv("HERALD_CONFIG", "h.conf", 1);
    char *p = tu_path(dir, "h.conf"), conf[1024];
    snprintf(conf, sizeof conf, "[herald]\ndatabase = %s\ntemplates = tpl\n" TU_SERVE_CONF, db);
    tu_write(p, conf);
    free(p);
    tu_tpl_with_pages(dir);
    p = tu_path(dir, "tpl/mail.tmpl");
    tu_write(p, "description: mail\ncategory: marketing\nfrom: Acme <hello@example.com>\n\n"
                "--- email.subject\nNews\n--- email.text\nNews. Unsubscribe: "
                "{{ unsubscribe_url }}\n");
    free(p);
    p = tu_path(dir, "e.csv");
    tu_write(p, "id,email\ne1,ann@example.com\n");
    free(p);
    TU_HERALD_OK(dir, "init");
    TU_HERALD_OK(dir, "contacts", "import", "e.csv");
    TU_HERALD_OK(dir, "segment", "define", "mail", "email exists");
    TU_HERALD_OK(dir, "campaign", "create", "m1", "--segment", "mail", "--template", "mail",
                 "--channels", "email", "--now");
    TU_HERALD_OK(dir, "send", "m1", "--wait", "30s");
    return 0;
}

static int setup(void **state)
{
    (void)state;
    return setup_on("h.db");
}

/* The same on a fresh PostgreSQL database (tu_pg_db). */
static int setup_pg(void **state)
{
    (void)state;
    pg_uri = tu_pg_db(pg_name);
    return setup_on(pg_uri);
}

static int teardown(void **state)
{
    (void)state;
    tu_rmdir(dir);
    dir = NULL;
    if (pg_uri) {
        tu_pg_drop(pg_name);
        free(pg_uri);
        pg_uri = NULL;
    }
    db = "h.db";
    return 0;
}

static char *out(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5,
                 const char *a6)
{
    struct tu_run r;
    tu_herald(&r, dir, NULL, a1, a2, a3, a4, a5, a6, NULL);
    if (r.status != 0)
        fail_msg("herald %s exited %d: %s %s", a1, r.status, r.out, r.err);
    char *s = hd_xstrdup(r.out);
    tu_run_release(&r);
    return s;
}

/* first must occur in hay, and before second, which must occur too. */
static void assert_before(const char *hay, const char *first, const char *second)
{
    const char *a = strstr(hay, first), *b = strstr(hay, second);
    if (!a || !b || a > b)
        fail_msg("expected \"%s\" before \"%s\" in:\n%s", first, second, hay);
}

/* The delivered report, 600 ms before the acceptance by the gateway's clock. */
static int64_t report_early(void)
{
    int64_t msg = tu_sql1(dir, db,
                          "SELECT message_id FROM attempts WHERE outcome = "
                          "'accepted'");
    int64_t at = tu_sql1(dir, db, "SELECT at FROM attempts WHERE outcome = 'accepted'");
    assert_true(msg > 0 && at > 0);
    char *gw = tu_sql_text(dir, db, "SELECT gateway_id FROM attempts WHERE outcome = 'accepted'");
    gw[strcspn(gw, "\n")] = '\0';
    assert_true(*gw);
    char *cp = tu_path(dir, "h.conf"), *dbp = pg_uri ? hd_xstrdup(pg_uri) : tu_path(dir, "h.db");
    struct hd_config *cfg = NULL;
    struct hd_store *st = NULL;
    struct hd_err e = {0};
    if (hd_config_load(cp, &cfg, &e) < 0 ||
        hd_store_open(dbp, &(struct hd_store_opts){0}, &st, &e) < 0)
        fail_msg("%s", e.msg);
    struct hd_receipt_ctx c = {.st = st, .cfg = cfg};
    struct hd_receipt r = {.provider = "outbox",
                           .message = msg,
                           .gateway_id = gw,
                           .status = "delivered",
                           .gateway_ms = at - 600,
                           .received_ms = at + 1500};
    int result = -1;
    if (hd_receipt_take(&c, &r, at + 1500, &result, &e) < 0)
        fail_msg("delivered: %s", e.msg);
    assert_int_equal(result, HD_RCPT_APPLIED);
    hd_store_free(st);
    hd_config_free(cfg);
    free(cp);
    free(dbp);
    free(gw);
    /* stored as reported */
    assert_int_equal(tu_sql1(dir, db, "SELECT at FROM attempts WHERE outcome = 'receipt'"),
                     at - 600);
    return at - 600;
}

static void test_receipt_order_listings(void **state)
{
    (void)state;
    int64_t gw_at = report_early();
    char t[40], want_at[64];
    hd_audit_time_ms(gw_at, t, sizeof t);
    snprintf(want_at, sizeof want_at, "\"at\":\"%s\"", t);
    char *l = out("log", "--contact", "e1", "--oldest-first", "--format", "jsonl");
    assert_before(l, "\"outcome\":\"accepted\"", "\"outcome\":\"receipt\"");
    assert_before(l, "\"outcome\":\"accepted\"", want_at); /* the gateway's time */
    free(l);
    l = out("log", "--contact", "e1", "--format", "jsonl", NULL);
    assert_before(l, "\"outcome\":\"receipt\"", "\"outcome\":\"accepted\"");
    free(l);
    char *h = out("history", "e1", NULL, NULL, NULL, NULL);
    assert_before(h, "accepted", "receipt");
    /* the gateway's own time is shown: a second before the acceptance */
    assert_contains(h, "11:59:59");
    free(h);
    char *w = out("why", "e1", "m1", NULL, NULL, NULL);
    assert_before(w, "attempt 1 by email", "delivered at");
    assert_contains(w, "delivered at 2026-11-22T11:59:59Z");
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_receipt_order_listings, setup, teardown),
        {"test_receipt_order_listings_pg", test_receipt_order_listings, setup_pg, teardown, NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
