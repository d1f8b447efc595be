/* test_console_log: the console's delivery log paged by keyset and its CSV
 * export (issue 21), over real HTTP against the real `herald serve`
 * (tests/testserve.h): a log of 65 rows all written in the same
 * millisecond (the cursor's tie on the time broken by the id) read page by
 * page, older and back newer, every row once and in order; the export
 * byte for byte what `herald log --format csv` prints for the same filter;
 * a bad filter's 400 with nothing exported; a viewer may export, a request
 * without a session is sent to the login.
 * Each case runs on a SQLite file and on a PostgreSQL store
 * (testserve.h's e2e_setup_pg). */
#include "testconsole.h"

#include "herald/buf.h"

/* The link of rel in a page, its &amp; turned back into & (static). */
static const char *link_of(const char *body, const char *rel)
{
    static char v[256];
    char pat[64];
    snprintf(pat, sizeof pat, "\" rel=\"%s\">", rel);
    const char *end = strstr(body, pat), *p = end;
    if (!end)
        return NULL;
    while (p > body && strncmp(p, "href=\"", 6) != 0)
        p--;
    p += 6;
    size_t n = 0;
    for (; p < end && n + 1 < sizeof v; p++) {
        v[n++] = *p;
        if (strncmp(p, "&amp;", 5) == 0)
            p += 4;
    }
    v[n] = '\0';
    return v;
}

/* The ids of a page's rows (from their time's datetime: the log's id is
 * not shown, so the test reads the title of the contact, unique here). */
static void contacts_of(const char *body, struct hd_buf *out)
{
    for (const char *p = body; (p = strstr(p, "<tr><td><time ")); p++) {
        const char *c = strstr(p, "</td><td title=\"");
        c = strstr(c + 1, "</td><td title=\"");
        c += strlen("</td><td title=\"");
        hd_buf_add(out, c, strcspn(c, "\""));
        hd_buf_addc(out, ' ');
    }
}

static void big_log(void)
{
    tc_more_contacts(62);
    tc_user("vic", "viewer");
    send_promo();
    /* one instant for every row: the cursor's time alone cannot order them */
    free(tu_sql_text(dir, e2e_db, "UPDATE attempts SET at = 1795000000000"));
}

static void test_console_log_keyset(void **state)
{
    (void)state;
    struct srv s;
    char *body, *hdr;
    big_log();
    struct tu_run r;
    tu_herald(&r, dir, NULL, "log", "--campaign", "promo", "--format", "jsonl", NULL);
    int total = (int)tu_count(r.out, "\n");
    tu_run_release(&r);
    assert_int_equal(total, 65);
    srv_start(&s);
    char *sid = tc_sign_in(&s, "vic");
    struct hd_buf seen, page1;
    hd_buf_init(&seen);
    hd_buf_init(&page1);
    assert_int_equal(tc_get(&s, sid, "/console/log?campaign=promo", "en", &body, &hdr), 200);
    assert_int_equal((int)tu_count(body, "<tr><td><time "), 50);
    assert_null(link_of(body, "prev"));
    contacts_of(body, &page1);
    contacts_of(body, &seen);
    char older[256];
    snprintf(older, sizeof older, "%s", link_of(body, "next"));
    assert_contains(older, "/console/log?campaign=promo&before=1795000000000.");
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, older, "en", &body, &hdr), 200);
    assert_int_equal((int)tu_count(body, "<tr><td><time "), 15);
    assert_null(link_of(body, "next"));
    contacts_of(body, &seen);
    /* every contact once across the two pages (k1..k3 and p00..p61) */
    assert_int_equal((int)tu_count(seen.data, " "), 65);
    for (int i = 0; i < 62; i++) {
        char want[16];
        snprintf(want, sizeof want, "p%02d ", i);
        assert_int_equal((int)tu_count(seen.data, want), 1);
    }
    /* back: the newer page is the first one again, row for row */
    char newer[256];
    snprintf(newer, sizeof newer, "%s", link_of(body, "prev"));
    assert_contains(newer, "&after=1795000000000.");
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, newer, "en", &body, &hdr), 200);
    struct hd_buf again;
    hd_buf_init(&again);
    contacts_of(body, &again);
    assert_string_equal(again.data, page1.data);
    assert_null(link_of(body, "prev"));
    assert_non_null(link_of(body, "next"));
    free(body);
    free(hdr);
    /* a malformed cursor is the newest page */
    assert_int_equal(tc_get(&s, sid, "/console/log?campaign=promo&before=x.1", "en", &body, &hdr),
                     200);
    assert_int_equal((int)tu_count(body, "<tr><td><time "), 50);
    free(body);
    free(hdr);
    hd_buf_release(&again);
    hd_buf_release(&seen);
    hd_buf_release(&page1);
    assert_int_equal(srv_stop(&s), 0);
    free(sid);
}

static void test_console_log_csv(void **state)
{
    (void)state;
    struct srv s;
    char *body, *hdr;
    big_log();
    struct tu_run r;
    tu_herald(&r, dir, NULL, "log", "--campaign", "promo", "--outcome", "accepted", "--format",
              "csv", NULL);
    assert_int_equal(r.status, 0);
    srv_start(&s);
    char *sid = tc_sign_in(&s, "vic");
    assert_int_equal(
        tc_get(&s, sid, "/console/log.csv?campaign=promo&outcome=accepted", "en", &body, &hdr),
        200);
    assert_contains(hdr, "Content-Type: text/csv; charset=utf-8\r\n");
    assert_string_equal(body, r.out);
    assert_int_equal((int)tu_count(body, "\r\n"), 1 + 65);
    assert_true(strncmp(body, "id,at,campaign,run,contact,", 27) == 0);
    tu_run_release(&r);
    free(body);
    free(hdr);
    /* the page links its export with the same filter */
    assert_int_equal(
        tc_get(&s, sid, "/console/log?campaign=promo&channel=email", "en", &body, &hdr), 200);
    assert_contains(body, "<a href=\"/console/log.csv?campaign=promo&amp;channel=email\" "
                          "download=\"herald-log.csv\"");
    free(body);
    free(hdr);
    /* a bad filter: 400 and its reason, no rows */
    assert_int_equal(tc_get(&s, sid, "/console/log.csv?campaign=nope", "en", &body, &hdr), 400);
    assert_contains(body, "bad filter: ");
    assert_contains(body, "nope");
    assert_not_contains(body, "id,at,");
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, "/console/log.csv?since=yesterday", "en", &body, &hdr), 400);
    assert_contains(body, "since and until take");
    free(body);
    free(hdr);
    /* a channel or outcome herald log would refuse (an empty page said
     * nothing of the typo: a review) */
    assert_int_equal(tc_get(&s, sid, "/console/log.csv?outcome=bogus", "en", &body, &hdr), 400);
    assert_contains(body, "outcome is accepted, temporary, permanent");
    free(body);
    free(hdr);
    assert_int_equal(tc_get(&s, sid, "/console/log?channel=fax", "en", &body, &hdr), 400);
    assert_contains(body, "channel is email, sms, push, inbox or wechat");
    free(body);
    free(hdr);
    /* without a session: the login */
    assert_int_equal(http(&s, "GET", "/console/log.csv", NULL, NULL, &body, &hdr), 303);
    assert_contains(hdr, "Location: /console/login\r\n");
    free(body);
    free(hdr);
    assert_int_equal(http(&s, "POST", "/console/log.csv", "x=1", NULL, &body, &hdr), 303);
    free(body);
    free(hdr);
    assert_int_equal(srv_stop(&s), 0);
    free(sid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_console_log_keyset, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_console_log_csv, e2e_setup, e2e_teardown),
        /* the same on a PostgreSQL store */
        {"test_console_log_keyset_pg", test_console_log_keyset, e2e_setup_pg, e2e_teardown, NULL},
        {"test_console_log_csv_pg", test_console_log_csv, e2e_setup_pg, e2e_teardown, NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
