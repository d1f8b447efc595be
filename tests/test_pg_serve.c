/* test_pg_serve: the service's store on PostgreSQL (issue 23, stage 3c).
 *
 * `herald user` and `herald apikey` run the same sequence on a fresh
 * SQLite store and a fresh PostgreSQL one (`herald init`): stdout, stderr
 * and the exit status must be the same bytes, once a new key (printed once,
 * random) and its prefix are written as hd_KEY; times come from HERALD_NOW
 * and need nothing. Then the real `herald serve` on the PostgreSQL store
 * (its configuration's database is the postgresql:// URI): a one-click
 * POST with a token signed by the store's secret (200; one consent row and
 * one consent_log row; a repeat changes nothing), the preference centre's
 * GET and POST, a console sign-in and its overview, /metrics (the opt-out
 * counted), the JSON API's key check (a good key gets past it, a
 * revoked one does not) and its sends (queued once per Idempotency-Key,
 * a second to the same contact in a run of its own, read back). The rows
 * are read back with psql. Then, through the library on both engines over
 * the same rows (seeded in SQL both take): receipts.c's statements (a
 * report kept once, a pending one meeting its copy, a message's state
 * moved once) and webhooks.c's (cursors, leases, batches, acknowledgements
 * and failures): the same answers. The server is the suite's
 * (HERALD_TEST_PG) or one started here. */
#include "testconsole.h"

#include "herald/buf.h"
#include "herald/state.h"
#include "herald/store.h"
#include "herald/token.h"

#define NOW_ISO "2026-11-22T12:00:00Z"
#define NOW 1795348800 /* NOW_ISO */

static char *uri;
static char dbname[64];

/* A new API key (hd_ and 43 characters) and its prefix in listings become
 * hd_KEY. */
static void unkey(char *s)
{
    char *p = s;
    while ((p = strstr(p, "hd_"))) {
        size_t n =
            strspn(p + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
        memcpy(p + 3, "KEY", 3);
        memmove(p + 6, p + 3 + n, strlen(p + 3 + n) + 1);
        p += 6;
    }
}

/* herald argv on SQLite (h.conf), then on PostgreSQL (--db): the same
 * status and bytes; want: the status SQLite must give. */
static void same_as(int want, const char *const *argv)
{
    struct tu_run lite, pg;
    const char *a[24] = {tu_herald_bin()}, *b[24] = {tu_herald_bin(), "--db", uri};
    size_t n = 0;
    for (; argv[n] && n < 20; n++)
        a[n + 1] = argv[n], b[n + 3] = argv[n];
    a[n + 1] = b[n + 3] = NULL;
    tu_exec(&lite, dir, NULL, a);
    tu_exec(&pg, dir, NULL, b);
    unkey(lite.out), unkey(pg.out);
    if (lite.status != want)
        fail_msg("herald %s %s on SQLite: status %d, not %d: %s%s", argv[0], argv[1], lite.status,
                 want, lite.out, lite.err);
    if (pg.status != lite.status || strcmp(pg.out, lite.out) != 0 || strcmp(pg.err, lite.err) != 0)
        fail_msg("herald %s %s differs on PostgreSQL (status %d, SQLite %d):\n--- SQLite\n%s%s\n"
                 "--- PostgreSQL\n%s%s",
                 argv[0], argv[1], pg.status, lite.status, lite.out, lite.err, pg.out, pg.err);
    assert_true(lite.out[0] || lite.err[0]); /* the comparison compared something */
    tu_run_release(&lite);
    tu_run_release(&pg);
}

#define SAME(...) same_as(0, (const char *const[]){__VA_ARGS__, NULL})
#define SAME_FAIL(status, ...) same_as(status, (const char *const[]){__VA_ARGS__, NULL})

/* One number from the PostgreSQL store. */
static int64_t pq1(const char *sql)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "psql -X -q -t -A '%s' -c \"%s\"", uri, sql);
    char *out = tu_sh(cmd);
    int64_t v = strtoll(out, NULL, 10);
    free(out);
    return v;
}

static int setup(void **state)
{
    char conf[1024];
    e2e_setup(state); /* the SQLite store: h.conf, tpl, three contacts */
    setenv("HERALD_NOW", NOW_ISO, 1);
    unsetenv("PGPASSWORD");
    uri = tu_pg_db(dbname);
    /* p.conf: the same, on PostgreSQL, with the secret init made */
    snprintf(conf, sizeof conf,
             "[herald]\ndatabase = %s\ntemplates = tpl\nlog_level = debug\n[serve]\n"
             "public_url = http://127.0.0.1:8025\nsecret_file = var/herald.secret\n",
             uri);
    write_file("p.conf", conf);
    TU_HERALD_OK(dir, "--db", uri, "init");
    TU_HERALD_OK(dir, "--db", uri, "contacts", "import", "c.csv");
    return 0;
}

static int teardown(void **state)
{
    e2e_teardown(state);
    tu_pg_drop(dbname);
    free(uri);
    uri = NULL;
    return 0;
}

static void test_pg_serve_users(void **state)
{
    (void)state;
    write_file("pw", TC_PASSWORD "\n");
    SAME("user", "list");
    SAME("user", "add", "ann", "--role", "admin", "--password-file", "pw");
    SAME_FAIL(1, "user", "add", "ann", "--role", "viewer", "--password-file", "pw");
    SAME("user", "add", "bob", "--role", "viewer", "--password-file", "pw", "--lang", "zh-CN");
    SAME("user", "set", "ann", "--lang", "zh-CN", "--zone", "Asia/Shanghai");
    SAME("user", "set", "bob", "--lang", "");
    SAME("user", "role", "bob", "--role", "operator");
    SAME_FAIL(1, "user", "role", "cy", "--role", "operator");
    SAME("user", "list");
    SAME("user", "list", "--format", "json");
    SAME("user", "passwd", "bob", "--password-file", "pw");
    SAME("user", "remove", "bob");
    SAME_FAIL(1, "user", "remove", "bob");
    SAME("user", "list", "--format", "csv");
    SAME("apikey", "list");
    SAME("apikey", "create", "k1", "--scope", "send,read");
    SAME("apikey", "create", "k2", "--scope", "contacts", "--rate", "5/s");
    SAME_FAIL(1, "apikey", "create", "k1", "--scope", "read");
    SAME("apikey", "revoke", "k1");
    SAME_FAIL(1, "apikey", "revoke", "k1");
    SAME("apikey", "list");
    SAME("apikey", "list", "--format", "jsonl");
    /* the actions were recorded alike */
    assert_int_equal(pq1("SELECT count(*) FROM audit_actions"),
                     q1("SELECT count(*) FROM audit_actions"));
    assert_int_equal(pq1("SELECT count(*) FROM users"), 1);
    assert_int_equal(pq1("SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL"), 1);
}

/* A link token for contact ext_id's email marketing, signed with the
 * secret init made (the file's text, its line end taken off). */
static char *token_for(const char *ext_id, int64_t message)
{
    char sql[128], tok[HD_TOKEN_MAX];
    char *path = tu_path(dir, "var/herald.secret"), *secret = tu_read(path);
    assert_non_null(secret);
    secret[strcspn(secret, "\r\n")] = '\0';
    snprintf(sql, sizeof sql, "SELECT id FROM contacts WHERE ext_id = '%s'", ext_id);
    struct hd_token t = {pq1(sql), message, HD_CH_EMAIL, HD_CAT_MARKETING, NOW / 86400};
    assert_true(t.contact > 0);
    tu_sent_message(dir, uri, t.contact, message); /* a link acts on its message's contact */
    struct hd_token_key k = {secret, strlen(secret)};
    hd_token_make(&t, &k, tok);
    free(secret);
    free(path);
    return hd_xstrdup(tok);
}

static char *csrf_field(const char *page)
{
    const char *p = strstr(page, "name=\"csrf\" value=\"");
    assert_non_null(p);
    p += strlen("name=\"csrf\" value=\"");
    return hd_xstrndup(p, strcspn(p, "\""));
}

static void one_click(const struct srv *s)
{
    char *tok = token_for("k1", 7), path[160], *body;
    snprintf(path, sizeof path, "/u/%s", tok);
    assert_int_equal(http(s, "GET", path, NULL, NULL, &body, NULL), 200);
    free(body);
    assert_int_equal(pq1("SELECT count(*) FROM consent"), 0);
    assert_int_equal(http(s, "POST", path, "List-Unsubscribe=One-Click", NULL, &body, NULL), 200);
    free(body);
    assert_int_equal(pq1("SELECT count(*) FROM consent c JOIN contacts t ON t.id = c.contact_id "
                         "WHERE t.ext_id = 'k1' AND c.channel = 'email' AND c.category = "
                         "'marketing' AND c.status = 'opted_out' AND c.source = 'unsubscribe' "
                         "AND c.message_id = 7 AND c.campaign_id = (SELECT id FROM campaigns "
                         "WHERE name = 'links') AND c.updated_at >= "
                         "1795348800"),
                     1);
    assert_int_equal(pq1("SELECT count(*) FROM consent_log"), 1);
    /* a repeat changes nothing, not even the time */
    int64_t at = pq1("SELECT updated_at FROM consent");
    assert_int_equal(http(s, "POST", path, "List-Unsubscribe=One-Click", NULL, &body, NULL), 200);
    free(body);
    assert_int_equal(pq1("SELECT count(*) FROM consent"), 1);
    assert_int_equal(pq1("SELECT count(*) FROM consent_log"), 1);
    assert_int_equal(pq1("SELECT updated_at FROM consent"), at);
    free(tok);
}

static void prefs(const struct srv *s)
{
    char *tok = token_for("k2", 8), path[160], *body, form[256];
    snprintf(path, sizeof path, "/p/%s", tok);
    assert_int_equal(http(s, "GET", path, NULL, NULL, &body, NULL), 200);
    assert_contains(body, "<html lang=\"zh-CN\">"); /* k2's locale, read from the store */
    assert_contains(body, "name=\"marketing\" value=\"sms\" checked>");
    char *c = csrf_field(body);
    free(body);
    snprintf(form, sizeof form, "csrf=%s&marketing=email&marketing=push", c);
    assert_int_equal(http(s, "POST", path, form, NULL, &body, NULL), 200);
    free(body);
    assert_int_equal(pq1("SELECT count(*) FROM consent c JOIN contacts t ON t.id = c.contact_id "
                         "WHERE t.ext_id = 'k2' AND c.channel = 'sms' AND c.status = 'opted_out' "
                         "AND c.source = 'preferences'"),
                     1);
    assert_int_equal(pq1("SELECT count(*) FROM consent_log"), 2);
    /* the page shows it; the same form again changes nothing */
    assert_int_equal(http(s, "GET", path, NULL, NULL, &body, NULL), 200);
    assert_contains(body, "name=\"marketing\" value=\"sms\">");
    free(body);
    assert_int_equal(http(s, "POST", path, form, NULL, &body, NULL), 200);
    free(body);
    assert_int_equal(pq1("SELECT count(*) FROM consent_log"), 2);
    free(c);
    free(tok);
}

static void console(const struct srv *s)
{
    char *body, *hdr;
    tc_user("ann", "admin");
    char *sid = tc_sign_in(s, "ann");
    assert_int_equal(pq1("SELECT count(*) FROM console_sessions"), 1);
    assert_int_equal(tc_get(s, sid, "/console/", "en", &body, &hdr), 200);
    assert_contains(body, "<html lang=\"en\">");
    free(body);
    free(hdr);
    assert_int_equal(tc_get(s, sid, "/console/users", "en", &body, NULL), 200);
    assert_contains(body, "ann");
    free(body);
    /* a wrong password is refused and counted by the throttle */
    assert_int_equal(tc_login(s, "ann", "wrong+password", NULL, &hdr), 401);
    free(hdr);
    assert_int_equal(pq1("SELECT count(*) FROM audit_actions WHERE action = 'login_failed'"), 1);
    free(sid);
}

static void metrics(const struct srv *s)
{
    char *body;
    assert_int_equal(http(s, "GET", "/metrics", NULL, NULL, &body, NULL), 200);
    assert_contains(body,
                    "herald_unsubscribes_total{channel=\"email\",source=\"unsubscribe\"} 1\n");
    assert_contains(body, "herald_unsubscribes_total{channel=\"sms\",source=\"preferences\"} 1\n");
    assert_contains(body, "herald_queue_messages{state=\"queued\"} 0\n");
    free(body);
}

/* The API's key check: a good key gets an answer (the campaigns: the one
 * of the links' messages), a revoked one 401. */
static void api_keys(const struct srv *s)
{
    struct tu_run r;
    char extra[160], *body;
    tu_herald(&r, dir, NULL, "apikey", "create", "reader", "--scope", "read", NULL);
    assert_int_equal(r.status, 0);
    char *key = strstr(r.out, "hd_");
    assert_non_null(key);
    key[strcspn(key, "\n")] = '\0';
    snprintf(extra, sizeof extra, "-H 'Authorization: Bearer %s'", key);
    assert_int_equal(http(s, "GET", "/api/v1/openapi.json", NULL, extra, &body, NULL), 200);
    free(body);
    assert_int_equal(http(s, "GET", "/api/v1/campaigns", NULL, extra, &body, NULL), 200);
    assert_contains(body, "\"links\"");
    free(body);
    TU_HERALD_OK(dir, "apikey", "revoke", "reader");
    assert_int_equal(http(s, "GET", "/api/v1/campaigns", NULL, extra, &body, NULL), 401);
    free(body);
    tu_run_release(&r);
}

/* The messages of the API's runs (not those of the links' campaign). */
#define API_RUNS                                                                                   \
    " WHERE run_id IN (SELECT r.id FROM runs r JOIN campaigns c ON c.id = r.campaign_id WHERE "    \
    "c.api = 1)"

/* POST /api/v1/messages (hd_store_api_send and the idempotency keys),
 * then GET /api/v1/messages/ID (hd_store_api_msg). */
static void api_send(const struct srv *s)
{
    struct tu_run r;
    char extra[512], *b, *b2, *req_file = tu_path(dir, "req.json");
    const char *req =
        "{\"template\": \"reset\", \"contact\": \"k1\", \"data\": {\"code\": \"4711\"}}";
    tu_write(req_file, req);
    tu_herald(&r, dir, NULL, "apikey", "create", "sender", "--scope", "send,read", NULL);
    assert_int_equal(r.status, 0);
    char *key = strstr(r.out, "hd_");
    assert_non_null(key);
    key[strcspn(key, "\n")] = '\0';
    snprintf(extra, sizeof extra,
             "-H 'Authorization: Bearer %s' -H 'Content-Type: application/json' -H "
             "'Idempotency-Key: r-1' --data-binary @'%s'",
             key, req_file);
    assert_int_equal(http(s, "POST", "/api/v1/messages", NULL, extra, &b, NULL), 202);
    assert_contains(b, "\"state\":\"queued\"");
    /* the same key and body: the first answer, no second message */
    assert_int_equal(http(s, "POST", "/api/v1/messages", NULL, extra, &b2, NULL), 202);
    assert_string_equal(b, b2);
    free(b2);
    assert_int_equal(pq1("SELECT count(*) FROM messages" API_RUNS), 1);
    assert_int_equal(pq1("SELECT count(*) FROM api_messages a JOIN messages m ON m.id = "
                         "a.message_id WHERE a.data LIKE '%4711%' AND m.state = 0"),
                     1);
    assert_int_equal(pq1("SELECT count(*) FROM api_idempotency"), 1);
    /* another message to k1 while the first waits: another run of the
     * same hidden campaign */
    snprintf(extra, sizeof extra,
             "-H 'Authorization: Bearer %s' -H 'Content-Type: application/json' "
             "--data-binary @'%s'",
             key, req_file);
    assert_int_equal(http(s, "POST", "/api/v1/messages", NULL, extra, &b2, NULL), 202);
    free(b2);
    assert_int_equal(pq1("SELECT count(*) FROM campaigns WHERE api = 1 AND name = "
                         "'api/reset/transactional/email'"),
                     1);
    assert_int_equal(pq1("SELECT count(DISTINCT run_id) FROM messages" API_RUNS), 2);
    char path[64];
    snprintf(extra, sizeof extra, "-H 'Authorization: Bearer %s'", key);
    snprintf(path, sizeof path, "/api/v1/messages/%lld",
             (long long)pq1("SELECT min(id) FROM messages" API_RUNS));
    assert_int_equal(http(s, "GET", path, NULL, extra, &b2, NULL), 200);
    assert_contains(b2, "\"template\":\"reset\"");
    free(b2);
    free(b);
    free(req_file);
    tu_run_release(&r);
}

static void test_pg_serve_service(void **state)
{
    (void)state;
    struct srv s;
    setenv("HERALD_CONFIG", "p.conf", 1);
    write_file("tpl/reset.tmpl", "category: transactional\nfrom: Acme <a@example.com>\n\n"
                                 "--- email.subject\nReset\n--- email.text\nCode {{ code }}.\n");
    srv_start(&s);
    one_click(&s);
    prefs(&s);
    console(&s);
    metrics(&s);
    api_keys(&s);
    api_send(&s);
    assert_int_equal(srv_stop(&s), 0);
    char *log = tu_path(dir, "serve.log"), *text = tu_read(log);
    assert_not_contains(text, "not available on PostgreSQL");
    assert_not_contains(text, "serve: writing the WAL back");
    free(text);
    free(log);
}

/* A campaign, a run, a message (sent) to contact 1 and its accepted
 * attempt through provider tw with the gateway's id G1, in plain SQL both
 * engines take. */
static const char seed_sql[] =
    "INSERT INTO campaigns (id, name, segment, template, channels, category, schedule, status, "
    "created_at, updated_at) VALUES (1, 'c', 'all', 'promo', 'sms', 'marketing', 'now', "
    "'running', 1, 1); INSERT INTO runs (id, campaign_id, fire_at, status, created_at, seq) "
    "VALUES (1, 1, 1, 'active', 1, 1); INSERT INTO messages (id, run_id, contact_id, state, "
    "not_before, updated_at) VALUES (1, 1, 1, 2, 1, 1); INSERT INTO attempts (id, message_id, "
    "attempt, at, channel, provider, address, outcome, gateway_id, campaign_id, run_id, "
    "contact_id, variant) VALUES (1, 1, 1, 1000, 'sms', 'tw', '+15550001', 'accepted', 'G1', 1, "
    "1, 1, 'A')";
_Static_assert(HD_ST_SENT == 2 && HD_ST_DELIVERED == 3, "seed_sql's and the test's states");

/* receipts.c's functions on one engine, each answer written into out as
 * text, to be compared with the other engine's; ids only as the same or
 * another (PostgreSQL's ON CONFLICT DO NOTHING spends a number of its
 * sequence, SQLite's none). */
static void receipts_on(const char *db, struct hd_buf *out)
{
    struct hd_store *st = NULL;
    struct hd_err err = {0};
    struct hd_receipt_target t;
    bool found = false, added = false, first = false;
    int64_t id1 = 0, id2 = 0, id3 = 0, again = 0, m = 0, n = -1;
    if (hd_store_open(db, NULL, &st, &err) < 0)
        fail_msg("opening %s: %s", db, err.msg);
    assert_int_equal(hd_store_gateway_id_add(st, "tw", "G1", 1, 1000, &err), 0);
    assert_int_equal(hd_store_gateway_id_add(st, "tw", "G1", 1, 1000, &err), 0); /* kept once */
    assert_int_equal(hd_store_gateway_id_find(st, "tw", "G1", &m, &err), 0);
    assert_int_equal(hd_store_receipt_target(st, 1, "tw", "G1", &t, &found, &err), 0);
    hd_buf_addf(out, "gwid %lld target %d %lld/%lld/%lld/%lld #%d %s %s %s state %d\n",
                (long long)m, found, (long long)t.message, (long long)t.campaign, (long long)t.run,
                (long long)t.contact, t.attempt, t.channel, t.variant, t.address, t.state);
    assert_int_equal(hd_store_receipt_target(st, 1, "tw", "G9", &t, &found, &err), 0);
    hd_buf_addf(out, "other id found %d\n", found);
    /* a report before its message is known, twice; then a copy under it */
    struct hd_receipt r = {.provider = "tw",
                           .gateway_id = "G1",
                           .status = "delivered",
                           .code = "0",
                           .received_ms = 2000};
    assert_int_equal(hd_store_receipt_add(st, &r, &id1, &added, &err), 0);
    hd_buf_addf(out, "add %d\n", added);
    assert_int_equal(hd_store_receipt_add(st, &r, &again, &added, &err), 0);
    hd_buf_addf(out, "again the same row %d, added %d\n", again == id1, added);
    r.message = 1;
    r.applied_ms = 2500;
    assert_int_equal(hd_store_begin(st, &err), 0);
    assert_int_equal(hd_store_receipt_add(st, &r, &id2, &added, &err), 0);
    hd_buf_addf(out, "under its message another row %d, added %d\n", id2 != id1, added);
    /* the pending one meets the copy: dropped, in the same transaction */
    assert_int_equal(hd_store_receipt_done(st, id1, 1, 3000, &first, &err), 0);
    hd_buf_addf(out, "done dup first %d\n", first);
    /* another report, applied once */
    struct hd_receipt r3 = {
        .provider = "tw", .gateway_id = "G1", .status = "read", .received_ms = 4000};
    assert_int_equal(hd_store_receipt_add(st, &r3, &id3, &added, &err), 0);
    assert_int_equal(hd_store_receipt_done(st, id3, 1, 5000, &first, &err), 0);
    hd_buf_addf(out, "done first %d", first);
    assert_int_equal(hd_store_receipt_done(st, id3, 1, 6000, &first, &err), 0);
    hd_buf_addf(out, " then %d\n", first);
    assert_int_equal(hd_store_msg_receipt(st, 1, HD_ST_SENT, HD_ST_DELIVERED, 7, &err), 0);
    assert_int_equal(hd_store_commit(st, &err), 0);
    hd_buf_addf(out, "moved again: %d\n",
                hd_store_msg_receipt(st, 1, HD_ST_SENT, HD_ST_DELIVERED, 8, NULL));
    assert_int_equal(hd_store_receipt_count(st, 1, "bounced", 0, &n, &err), 0);
    hd_buf_addf(out, "count %lld\n", (long long)n);
    hd_store_free(st);
}

/* receipts.c's statements (serve's status callbacks) on both engines:
 * the same answers, and the same rows left. */
static void test_pg_serve_receipts(void **state)
{
    (void)state;
    struct hd_buf lite, pg;
    char cmd[4096], *p = tu_path(dir, "h.db");
    hd_buf_init(&lite);
    hd_buf_init(&pg);
    snprintf(cmd, sizeof cmd, "sqlite3 '%s' \"%s\"", p, seed_sql);
    free(tu_sh(cmd));
    snprintf(cmd, sizeof cmd, "psql -X -q -v ON_ERROR_STOP=1 '%s' -c \"%s\"", uri, seed_sql);
    free(tu_sh(cmd));
    receipts_on(p, &lite);
    receipts_on(uri, &pg);
    assert_string_equal(lite.data, pg.data);
    assert_contains(lite.data, "target 1 1/1/1/1 #1 sms A +15550001 state 2\n");
    assert_contains(lite.data, "again the same row 1, added 0\n");
    assert_contains(lite.data, "done dup first 0\n");
    assert_contains(lite.data, "first 1 then 0\n");
    static const char rows[] = "SELECT count(*) * 1000 + sum(message_id) * 100 + "
                               "sum(CASE WHEN applied_at IS NULL THEN 0 ELSE 1 END) FROM receipts";
    assert_int_equal(pq1(rows), q1(rows));
    assert_int_equal(q1(rows), 2 * 1000 + 2 * 100 + 2);
    assert_int_equal(pq1("SELECT state FROM messages WHERE id = 1"), HD_ST_DELIVERED);
    hd_buf_release(&lite);
    hd_buf_release(&pg);
    free(p);
}

/* More log rows for the webhooks: a delivery receipt, a bounce, a
 * failure (state 5), and an opt-out in consent_log (through consent's
 * trigger). */
static const char wh_sql[] =
    "INSERT INTO attempts (id, message_id, attempt, at, channel, provider, outcome, reason, "
    "state, campaign_id, run_id, contact_id) VALUES (2, 1, 1, 2000, 'sms', 'tw', 'receipt', "
    "'delivered', 3, 1, 1, 1), (3, 1, 1, 3000, 'sms', 'tw', 'receipt', 'bounced_hard', 4, 1, 1, "
    "1), (4, 1, 2, 4000, 'sms', 'tw', 'failed', 'x', 5, 1, 1, 1); INSERT INTO consent "
    "(contact_id, channel, category, status, source, updated_at) VALUES (2, 'email', "
    "'marketing', 'opted_out', 'cli', 5)";
_Static_assert(HD_ST_FAILED == 5, "wh_sql's failure");

/* webhooks.c's functions on one engine, each answer as text into out. */
static void webhooks_on(const char *db, struct hd_buf *out)
{
    struct hd_store *st = NULL;
    struct hd_err err = {0};
    struct hd_wh_cursor c;
    struct hd_wh_batch b;
    bool found = false, got = false;
    if (hd_store_open(db, NULL, &st, &err) < 0)
        fail_msg("opening %s: %s", db, err.msg);
    assert_int_equal(hd_store_wh_cursor(st, "w", false, false, 1, &c, &found, &err), 0);
    hd_buf_addf(out, "none %d\n", found);
    assert_int_equal(hd_store_wh_cursor(st, "w", true, true, 1, &c, &found, &err), 0);
    hd_buf_addf(out, "made %d lag %lld\n", found, (long long)c.lag);
    assert_int_equal(hd_store_wh_lease(st, "w", 7, 10, 100, NULL, &got, &err), 0);
    hd_buf_addf(out, "lease %d", got);
    assert_int_equal(hd_store_wh_lease(st, "w", 8, 20, 100, NULL, &got, &err), 0);
    hd_buf_addf(out, " other %d\n", got);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(hd_store_wh_batch(st, &c, 0x7f, 2, &b, &err), 0);
        for (size_t i = 0; i < b.n; i++)
            hd_buf_addf(
                out, "%d/%lld type %d at %lld %s %s %s %s\n", b.v[i].source, (long long)b.v[i].row,
                b.v[i].type, (long long)b.v[i].at_ms, b.v[i].campaign ? b.v[i].campaign : "-",
                b.v[i].contact_ext ? b.v[i].contact_ext : "-", b.v[i].reason ? b.v[i].reason : "-",
                b.v[i].category ? b.v[i].category : "-");
        hd_buf_addf(out, "to %lld %lld\n", (long long)b.log_to, (long long)b.consent_to);
        assert_int_equal(hd_store_wh_ack(st, "w", &b, (int64_t)b.n, 0, 50, &err), 0);
        hd_wh_batch_release(&b);
        assert_int_equal(hd_store_wh_cursor(st, "w", false, false, 1, &c, &found, &err), 0);
    }
    assert_int_equal(hd_store_wh_fail(st, "w", 2, 99, "timeout", &err), 0);
    assert_int_equal(hd_store_wh_cursor(st, "w", false, false, 1, &c, &found, &err), 0);
    hd_buf_addf(out, "cursor %lld %lld next %lld attempts %d %s delivered %lld lag %lld\n",
                (long long)c.log_id, (long long)c.consent_id, (long long)c.next_ms, c.attempts,
                c.last_error, (long long)c.delivered, (long long)c.lag);
    hd_store_free(st);
}

/* webhooks.c (herald run's outbound webhooks) on both engines: the same
 * cursors, leases and batches over the same rows. */
static void test_pg_serve_webhooks(void **state)
{
    (void)state;
    struct hd_buf lite, pg;
    char cmd[4096], *p = tu_path(dir, "h.db");
    hd_buf_init(&lite);
    hd_buf_init(&pg);
    snprintf(cmd, sizeof cmd, "sqlite3 '%s' \"%s; %s\"", p, seed_sql, wh_sql);
    free(tu_sh(cmd));
    snprintf(cmd, sizeof cmd, "psql -X -q -v ON_ERROR_STOP=1 '%s' -c \"%s; %s\"", uri, seed_sql,
             wh_sql);
    free(tu_sh(cmd));
    webhooks_on(p, &lite);
    webhooks_on(uri, &pg);
    assert_string_equal(lite.data, pg.data);
    assert_contains(lite.data, "made 1 lag 5\n");
    assert_contains(lite.data, "lease 1 other 0\n");
    assert_contains(lite.data, "0/3 type 2 at 3000 c k1 bounced_hard -\n");
    assert_contains(lite.data, "1/1 type 4 at 5000 - k2 cli marketing\n");
    assert_contains(lite.data, "cursor 4 1 next 99 attempts 2 timeout delivered 5 lag 0\n");
    hd_buf_release(&lite);
    hd_buf_release(&pg);
    free(p);
}

/* credentials.c (APNs' and Huawei's tokens, which every process reuses)
 * on one engine: each answer as text. */
static void credentials_on(const char *db, struct hd_buf *out)
{
    struct hd_store *st = NULL;
    struct hd_err err = {0};
    char *v = NULL;
    int64_t at = 0;
    static const struct {
        const char *value;
        int64_t at;
    } puts_[] = {{"tok-a", 100}, {"older", 50}, {"tok-c", 200}, {"same-time", 200}};
    if (hd_store_open(db, NULL, &st, &err) < 0)
        fail_msg("opening %s: %s", db, err.msg);
    assert_int_equal(hd_store_credential_get(st, "apns", &v, &at, &err), 0);
    hd_buf_addf(out, "none: %s %lld\n", v ? v : "-", (long long)at);
    for (size_t i = 0; i < sizeof puts_ / sizeof puts_[0]; i++) {
        if (hd_store_credential_put(st, "apns", puts_[i].value, puts_[i].at, &err) < 0)
            fail_msg("storing a token on %s: %s", db, err.msg);
        assert_int_equal(hd_store_credential_get(st, "apns", &v, &at, &err), 0);
        hd_buf_addf(out, "put %s %lld: %s %lld\n", puts_[i].value, (long long)puts_[i].at,
                    v ? v : "-", (long long)at);
        free(v);
        v = NULL;
    }
    hd_store_free(st);
}

/* The newer token wins on both engines (PostgreSQL's CAST takes no text
 * after the number: the issued time is read before the space there). */
static void test_pg_serve_credentials(void **state)
{
    (void)state;
    struct hd_buf lite, pg;
    char *p = tu_path(dir, "h.db");
    hd_buf_init(&lite);
    hd_buf_init(&pg);
    credentials_on(p, &lite);
    credentials_on(uri, &pg);
    assert_string_equal(lite.data, pg.data);
    assert_string_equal(lite.data, "none: - 0\n"
                                   "put tok-a 100: tok-a 100\n"
                                   "put older 50: tok-a 100\n"
                                   "put tok-c 200: tok-c 200\n"
                                   "put same-time 200: tok-c 200\n");
    hd_buf_release(&lite);
    hd_buf_release(&pg);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pg_serve_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_serve_service, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_serve_receipts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_serve_webhooks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_serve_credentials, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
