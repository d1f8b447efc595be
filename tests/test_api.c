/* test_api: the JSON API (issue 20) over real HTTP against `herald run
 * --serve` on 127.0.0.1: keys (401 for no, wrong or revoked key, at once;
 * 403 without the scope), every error status with its problem+json body,
 * the rate limit's 429 with Retry-After, and transactional sends: 202,
 * the same Idempotency-Key and body giving the first answer and one
 * message, another body 409, the message delivered into the outbox with
 * its data, and GET /api/v1/messages/ID showing it sent. Each case runs
 * on a SQLite file and on a PostgreSQL store (testserve.h's e2e_setup_pg). */
#include "testapi.h"

#include <poll.h>

static const char tpl_reset[] = "description: reset\ncategory: transactional\n"
                                "from: Acme <hello@example.com>\n\n"
                                "--- email.subject\nReset for {{ first_name }}\n"
                                "--- email.text\nYour code is {{ code }}.\n";

static char key_all[64], key_read[64], key_slow[64];
/* every answer the tests receive, as JSON Lines, for the OpenAPI check */

/* `herald apikey create NAME ...`: the key it prints. */
static void make_key(char *out, const char *name, const char *scope, const char *rate)
{
    struct tu_run r;
    if (rate)
        tu_herald(&r, dir, NULL, "apikey", "create", name, "--scope", scope, "--rate", rate, NULL);
    else
        tu_herald(&r, dir, NULL, "apikey", "create", name, "--scope", scope, NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(strlen(r.out), 47); /* hd_ and 43 characters, and the newline */
    assert_int_equal(strncmp(r.out, "hd_", 3), 0);
    snprintf(out, 64, "%.46s", r.out);
    assert_null(strstr(r.err, out)); /* shown once, on stdout */
    tu_run_release(&r);
}

static int setup_store(void)
{
    write_conf("h.conf", "secret_file = var/herald.secret\nbody_limit = 4096\n");
    write_file("tpl/reset.tmpl", tpl_reset);
    unsetenv("HERALD_NOW");
    make_key(key_all, "app", "send,contacts,events,read", NULL);
    make_key(key_read, "reader", "read", NULL);
    make_key(key_slow, "slow", "read", "2/s");
    return 0;
}

static int setup(void **state)
{
    e2e_setup(state);
    return setup_store();
}

/* The same on a PostgreSQL store. */
static int setup_pg(void **state)
{
    e2e_setup_pg(state);
    return setup_store();
}

/* The service a test started, stopped by teardown when the test failed
 * before it could stop it. */
static pid_t running;

static int teardown(void **state)
{
    if (running > 0) { /* the test failed: what the service said, for the report */
        char cmd[512];
        snprintf(cmd, sizeof cmd, "tail -n 40 '%s/run.log' 1>&2 || true", dir);
        free(tu_sh(cmd));
        kill(running, SIGKILL);
        waitpid(running, NULL, 0);
        running = 0;
    }
    return e2e_teardown(state);
}

/* herald run --serve on a free port; the teardown kills it if a test
 * failed before stopping it. */
static pid_t run_serve(int *port)
{
    running = tu_listen_start(dir, true, "127.0.0.1:0", port);
    return running;
}

/* A problem+json answer: status, its type, and the field when given. */
static void assert_problem(int code, const char *body, const char *hdr, int status,
                           const char *field)
{
    char want[64];
    assert_int_equal(code, status);
    assert_contains(hdr, "Content-Type: application/problem+json");
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), status);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "about:blank");
    assert_non_null(json_string_value(json_object_get(j, "title")));
    assert_non_null(json_string_value(json_object_get(j, "detail")));
    if (field)
        assert_string_equal(json_string_value(json_object_get(j, "field")), field);
    json_decref(j);
    snprintf(want, sizeof want, "\"status\":%d", status);
    assert_contains(body, want);
}

static bool outbox_has(const char *text);
static bool outbox_has_now(const char *text);

/* Quiet hours for transactional messages around now: a template that says
 * urgent is not held by them, another is deferred. */
static void test_api_urgent(void **state)
{
    (void)state;
    struct srv s;
    char *b, conf[256];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(conf, sizeof conf,
             "secret_file = var/herald.secret\n[quiet_hours]\ntransactional = %02d:00-%02d:00\n",
             (tm.tm_hour + 23) % 24, (tm.tm_hour + 2) % 24);
    write_conf("h.conf", conf);
    write_file("tpl/alarm.tmpl",
               "category: transactional\nurgent: true\nfrom: Acme <a@example.com>\n"
               "\n--- email.subject\nAlarm\n--- email.text\nSensor {{ sensor }}.\n");
    s.pid = run_serve(&s.port);
    assert_int_equal(
        api(&s, "POST", "/api/v1/messages",
            "{\"template\": \"reset\", \"contact\": \"k1\", \"data\": {\"code\": \"55\"}}", key_all,
            NULL, &b, NULL),
        202);
    free(b);
    assert_int_equal(
        api(&s, "POST", "/api/v1/messages",
            "{\"template\": \"alarm\", \"contact\": \"k1\", \"data\": {\"sensor\": \"T7\"}}",
            key_all, NULL, &b, NULL),
        202);
    free(b);
    assert_true(outbox_has("Sensor T7."));
    bool deferred = false;
    for (int i = 0; i < 100 && !deferred; i++) {
        assert_int_equal(api(&s, "GET", "/api/v1/messages/1", NULL, key_read, NULL, &b, NULL), 200);
        deferred = strstr(b, "\"state\":\"deferred\"") && strstr(b, "\"reason\":\"quiet_hours\"");
        free(b);
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_true(deferred);
    assert_false(outbox_has_now("Your code is 55"));
    assert_int_equal(srv_stop(&s), 0);
    running = 0;
}

/* A request whose answer is a problem: its body (and headers in *hdr). */
static char *problem(const struct srv *s, const char *method, const char *path, const char *body,
                     const char *key, const char *extra, int status, const char *field, char **hdr)
{
    char *b, *h;
    int code = api(s, method, path, body, key, extra, &b, &h);
    assert_problem(code, b, h, status, field);
    *hdr = h;
    return b;
}

static void test_api_keys(void **state)
{
    (void)state;
    struct srv s;
    char *b, *h;
    s.pid = run_serve(&s.port);
    b = problem(&s, "GET", "/api/v1/campaigns", NULL, NULL, NULL, 401, NULL, &h);
    assert_contains(h, "WWW-Authenticate: Bearer realm=\"herald api\""); /* RFC 9110 11.6.1 */
    free(b), free(h);
    /* refused before the API's own code, and still a problem: a URI with
     * %00, a body in an encoding herald does not read */
    b = problem(&s, "GET", "/api/v1/contacts/k1%00x/history", NULL, NULL, NULL, 400, NULL, &h);
    assert_contains(b, "%00 in the URI");
    free(b), free(h);
    b = problem(&s, "POST", "/api/v1/events", "{}", NULL, "-H 'Transfer-Encoding: gzip'", 501, NULL,
                &h);
    free(b), free(h);
    char wrong[64];
    snprintf(wrong, sizeof wrong, "%s", key_all);
    wrong[30] = wrong[30] == 'A' ? 'B' : 'A'; /* the prefix right, the rest wrong */
    b = problem(&s, "GET", "/api/v1/campaigns", NULL, wrong, NULL, 401, NULL, &h);
    char *wrong_body = b;
    free(h);
    b = problem(&s, "GET", "/api/v1/campaigns", NULL, "hd_nope", NULL, 401, NULL, &h);
    assert_string_equal(b, wrong_body); /* never which part was wrong */
    free(b), free(h), free(wrong_body);
    /* a key without the scope */
    b = problem(&s, "POST", "/api/v1/messages", "{}", key_read, NULL, 403, NULL, &h);
    free(b), free(h);
    /* revoked: refused from the next request on */
    make_key(wrong, "temp", "read", NULL);
    assert_int_equal(api(&s, "GET", "/api/v1/messages/999", NULL, wrong, NULL, &b, NULL), 404);
    free(b);
    TU_HERALD_OK(dir, "apikey", "revoke", "temp");
    b = problem(&s, "GET", "/api/v1/messages/999", NULL, wrong, NULL, 401, NULL, &h);
    free(b), free(h);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "apikey", "list", "--format", "json", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "\"name\":\"temp\"");
    assert_contains(r.out, "\"revoked_at\":\"2");
    assert_null(strstr(r.out, wrong + 12)); /* the secret part is nowhere */
    tu_run_release(&r);
    char *log = tu_path(dir, "run.log"), *text = tu_read(log);
    assert_null(strstr(text, key_all + 3));
    free(text), free(log);
    assert_int_equal(srv_stop(&s), 0);
    running = 0;
}

static void test_api_errors(void **state)
{
    (void)state;
    struct srv s;
    char *b, *h;
    s.pid = run_serve(&s.port);
    b = problem(&s, "GET", "/api/v1/nothing", NULL, key_all, NULL, 404, NULL, &h);
    free(b), free(h);
    /* a path's byte that is not UTF-8 still gets its problem (it was "{}") */
    b = problem(&s, "GET", "/api/v1/%ff", NULL, key_all, NULL, 404, NULL, &h);
    assert_contains(b, "\"detail\"");
    free(b), free(h);
    b = problem(&s, "DELETE", "/api/v1/messages", NULL, key_all, NULL, 405, NULL, &h);
    assert_contains(h, "Allow: POST");
    free(b), free(h);
    b = problem(&s, "POST", "/api/v1/messages", NULL, key_all,
                "-H 'Content-Type: text/plain' --data-binary x", 415, NULL, &h);
    free(b), free(h);
    char big[6000];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[0] = '{', big[sizeof big - 2] = '}';
    b = problem(&s, "POST", "/api/v1/messages", big, key_all, NULL, 413, NULL, &h);
    free(b), free(h);
    /* two Content-Lengths apart: 400, a problem like the rest (it was text) */
    b = problem(&s, "POST", "/api/v1/messages", "{}", key_all,
                "-H 'Content-Length: 2' -H 'Content-Length: 3'", 400, NULL, &h);
    assert_contains(b, "Content-Length");
    free(b), free(h);
    b = problem(&s, "POST", "/api/v1/messages", "{\"template\": \"reset\",", key_all, NULL, 400,
                NULL, &h);
    assert_contains(b, "at byte 21");
    free(b), free(h);
    /* valid JSON breaking a rule: the field named */
    b = problem(&s, "POST", "/api/v1/messages", "{\"contact\": \"k1\"}", key_all, NULL, 422,
                "template", &h);
    free(b), free(h);
    b = problem(&s, "POST", "/api/v1/messages",
                "{\"template\": \"reset\", \"contact\": \"nobody\"}", key_all, NULL, 422, "contact",
                &h);
    free(b), free(h);
    b = problem(&s, "POST", "/api/v1/messages",
                "{\"template\": \"reset\", \"contact\": {\"id\": \"x9\", \"email\": "
                "\"bad\"}}",
                key_all, NULL, 422, "contact.email", &h);
    assert_contains(b, "not an email address");
    free(b), free(h);
    b = problem(&s, "POST", "/api/v1/messages",
                "{\"template\": \"reset\", \"contact\": \"k1\", \"channels\": [\"sms\"]}", key_all,
                NULL, 422, "channels", &h);
    free(b), free(h);
    /* a channel that is no string: 422, not the service's end (a review
     * took it down with each of these) */
    static const char *const not_names[] = {"[null]", "[1]", "[[\"email\"]]"};
    for (size_t i = 0; i < sizeof not_names / sizeof *not_names; i++) {
        char body[160];
        snprintf(body, sizeof body,
                 "{\"template\": \"reset\", \"contact\": \"k1\", \"channels\": %s}", not_names[i]);
        b = problem(&s, "POST", "/api/v1/messages", body, key_all, NULL, 422, "channels", &h);
        free(b), free(h);
    }
    assert_int_equal(q1("SELECT count(*) FROM messages"), 0); /* nothing written */
    assert_int_equal(q1("SELECT count(*) FROM contacts WHERE ext_id = 'x9'"), 0);
    assert_int_equal(srv_stop(&s), 0);
    running = 0;
}

static void test_api_rate(void **state)
{
    (void)state;
    struct srv s;
    char *b, *h;
    int got429 = 0;
    s.pid = run_serve(&s.port);
    /* 2/s with a burst of 2: of five quick requests, some are refused */
    for (int i = 0; i < 5; i++) {
        int code = api(&s, "GET", "/api/v1/messages/1", NULL, key_slow, NULL, &b, &h);
        if (code == 429) {
            assert_problem(code, b, h, 429, NULL);
            assert_contains(h, "Retry-After: 1");
            got429++;
        } else {
            assert_int_equal(code, 404);
        }
        free(b), free(h);
    }
    assert_true(got429 >= 2);
    /* another key is not held back */
    assert_int_equal(api(&s, "GET", "/api/v1/messages/1", NULL, key_read, NULL, &b, NULL), 404);
    free(b);
    assert_int_equal(srv_stop(&s), 0);
    running = 0;
}

/* The outbox's mail that holds text, polled (bounded). */
static bool outbox_has(const char *text)
{
    for (int i = 0; i < 150; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "grep -rl '%s' '%s/var/outbox' 2>/dev/null | head -1", text, dir);
        char *out = tu_sh(cmd);
        bool found = out && *out;
        free(out);
        if (found)
            return true;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* Whether the outbox holds text now. */
static bool outbox_has_now(const char *text)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "grep -rl '%s' '%s/var/outbox' 2>/dev/null | head -1", text, dir);
    char *out = tu_sh(cmd);
    bool found = out && *out;
    free(out);
    return found;
}

static void test_api_send(void **state)
{
    (void)state;
    struct srv s;
    char *b, *h, *b2;
    s.pid = run_serve(&s.port);
    const char *req =
        "{\"template\": \"reset\", \"contact\": \"k1\", \"data\": {\"code\": \"4711\"}}";
    assert_int_equal(
        api(&s, "POST", "/api/v1/messages", req, key_all, "-H 'Idempotency-Key: r-1'", &b, &h),
        202);
    assert_contains(h, "Content-Type: application/json");
    assert_contains(b, "\"state\":\"queued\"");
    free(h);
    /* the same key and body: the first answer, no second message */
    assert_int_equal(
        api(&s, "POST", "/api/v1/messages", req, key_all, "-H 'Idempotency-Key: r-1'", &b2, NULL),
        202);
    assert_string_equal(b, b2);
    free(b2);
    /* the same key, another body: 409 */
    b2 = problem(&s, "POST", "/api/v1/messages",
                 "{\"template\": \"reset\", \"contact\": \"k1\", \"data\": {\"code\": \"1\"}}",
                 key_all, "-H 'Idempotency-Key: r-1'", 409, NULL, &h);
    free(b2), free(h);
    assert_int_equal(q1("SELECT count(*) FROM messages"), 1);
    json_t *j = json_loads(b, 0, NULL);
    int64_t id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    free(b);
    assert_true(outbox_has("Your code is 4711"));
    /* an inline one-off contact */
    assert_int_equal(api(&s, "POST", "/api/v1/messages",
                         "{\"template\": \"reset\", \"contact\": {\"email\": \"neo@example.com\", "
                         "\"first_name\": \"Neo\"}, \"data\": {\"code\": \"8080\"}}",
                         key_all, NULL, &b, NULL),
                     202);
    free(b);
    assert_true(outbox_has("Your code is 8080"));
    assert_int_equal(q1("SELECT count(*) FROM contacts WHERE ext_id = '~neo@example.com'"), 1);
    /* an inline contact with an id would rewrite that contact: not with
     * the send scope alone (it was: a sender could redirect k1's reset) */
    char key_send[64];
    make_key(key_send, "sender", "send", NULL);
    b = problem(&s, "POST", "/api/v1/messages",
                "{\"template\": \"reset\", \"contact\": {\"id\": \"k1\", \"email\": "
                "\"evil@example.net\"}, \"data\": {\"code\": \"1\"}}",
                key_send, NULL, 403, "contact.id", &h);
    free(b), free(h);
    assert_int_equal(q1("SELECT count(*) FROM contacts WHERE ext_id = 'k1' AND email = "
                        "'k1@example.com'"),
                     1);
    /* a key used with another body: 409 before its inline contact is
     * written (it was written, then refused) */
    const char *first = "{\"template\": \"reset\", \"contact\": {\"email\": "
                        "\"trin@example.com\", \"locale\": \"en\"}, \"data\": {\"code\": \"3\"}}";
    assert_int_equal(
        api(&s, "POST", "/api/v1/messages", first, key_all, "-H 'Idempotency-Key: t-1'", &b, NULL),
        202);
    free(b);
    b = problem(&s, "POST", "/api/v1/messages",
                "{\"template\": \"reset\", \"contact\": {\"email\": \"trin@example.com\", "
                "\"locale\": \"fr\"}, \"data\": {\"code\": \"3\"}}",
                key_all, "-H 'Idempotency-Key: t-1'", 409, NULL, &h);
    free(b), free(h);
    assert_int_equal(
        q1("SELECT count(*) FROM contacts WHERE ext_id = '~trin@example.com' AND locale = 'en'"),
        1);
    /* twenty at once with one key, each naming contact rv with an address
     * of its own: one 202, the others 409 while it is in flight or after,
     * and rv's address is the accepted one's (a refused request rewrote it,
     * and the accepted message went there: a review) */
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && for i in $(seq 1 20); do curl -s -o /dev/null -w \"$i %%{http_code}\\n\" "
             "-H 'Authorization: Bearer %s' -H 'Content-Type: application/json' -H "
             "'Idempotency-Key: race-1' --data-binary \"{\\\"template\\\": \\\"reset\\\", "
             "\\\"contact\\\": {\\\"id\\\": \\\"rv\\\", \\\"email\\\": "
             "\\\"rv-$i@example.com\\\"}, \\\"data\\\": {\\\"code\\\": \\\"5\\\"}}\" "
             "'http://127.0.0.1:%d/api/v1/messages' & done; wait",
             dir, key_all, s.port);
    char *codes = tu_sh(cmd), winner[64] = "";
    int n202 = 0, n409 = 0;
    for (const char *l = codes; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
        int i = 0, code = 0;
        if (sscanf(l, "%d %d", &i, &code) == 2 && code == 202) {
            n202++;
            snprintf(winner, sizeof winner, "rv-%d@example.com", i);
        }
        n409 += sscanf(l, "%d %d", &i, &code) == 2 && code == 409;
    }
    if (n202 != 1 || n409 != 19)
        fail_msg("twenty with one key: %d answered 202, %d 409:\n%s", n202, n409, codes);
    free(codes);
    char *email = tu_sql_text(dir, e2e_db, "SELECT email FROM contacts WHERE ext_id = 'rv'");
    email[strcspn(email, "\n")] = '\0';
    assert_string_equal(email, winner);
    free(email);
    /* its state, polled until the writer has it */
    char path[64];
    snprintf(path, sizeof path, "/api/v1/messages/%lld", (long long)id);
    bool sent = false;
    for (int i = 0; i < 100 && !sent; i++) {
        assert_int_equal(api(&s, "GET", path, NULL, key_read, NULL, &b, NULL), 200);
        sent = strstr(b, "\"state\":\"sent\"") != NULL;
        if (sent) {
            assert_contains(b, "\"outcome\":\"accepted\"");
            assert_contains(b, "\"template\":\"reset\"");
        }
        free(b);
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_true(sent);
    /* three more to k1 at once: a run holds a contact once, so each opens
     * a run; all are delivered, and the drained runs are closed */
    for (int i = 0; i < 3; i++) {
        char body[128];
        snprintf(body, sizeof body,
                 "{\"template\": \"reset\", \"contact\": \"k1\", \"data\": {\"code\": \"77%d\"}}",
                 i);
        assert_int_equal(api(&s, "POST", "/api/v1/messages", body, key_all, NULL, &b, NULL), 202);
        free(b);
    }
    assert_true(outbox_has("Your code is 770"));
    assert_true(outbox_has("Your code is 771"));
    assert_true(outbox_has("Your code is 772"));
    int64_t open_runs = -1;
    for (int i = 0; i < 100 && open_runs != 0; i++) {
        open_runs = q1("SELECT count(*) FROM runs r JOIN campaigns c ON c.id = r.campaign_id "
                       "WHERE c.api = 1 AND r.status <> 'done'");
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(open_runs, 0);
    assert_true(q1("SELECT count(*) FROM runs") >= 3);
    /* hidden from the campaigns' list */
    struct tu_run r;
    tu_herald(&r, dir, NULL, "campaign", "list", NULL);
    assert_null(strstr(r.out, "api/"));
    tu_run_release(&r);
    assert_int_equal(srv_stop(&s), 0);
    running = 0;
}

static void test_api_contacts(void **state)
{
    (void)state;
    struct srv s;
    char *b, *h;
    s.pid = run_serve(&s.port);
    assert_int_equal(api(&s, "PUT", "/api/v1/contacts/u7",
                         "{\"email\": \"U7@Example.com\", \"locale\": \"en\", \"plan\": \"pro\"}",
                         key_all, NULL, &b, NULL),
                     201);
    assert_contains(b, "\"created\":true");
    free(b);
    assert_int_equal(q1("SELECT count(*) FROM contacts WHERE ext_id = 'u7' AND lower(email) = "
                        "'u7@example.com' AND attrs LIKE '%pro%'"),
                     1);
    assert_int_equal(
        api(&s, "PUT", "/api/v1/contacts/u7", "{\"plan\": \"team\"}", key_all, NULL, &b, NULL),
        200);
    free(b);
    b = problem(&s, "PUT", "/api/v1/contacts/u8", "{\"email\": \"nope\"}", key_all, NULL, 422,
                "email", &h);
    free(b), free(h);
    b = problem(&s, "PUT", "/api/v1/contacts/u8", "{\"id\": \"u9\"}", key_all, NULL, 422, "id", &h);
    free(b), free(h);
    b = problem(&s, "PUT", "/api/v1/contacts/u8", "{\"id\": 8}", key_all, NULL, 422, "id", &h);
    free(b), free(h);
    assert_int_equal(q1("SELECT count(*) FROM contacts WHERE ext_id IN ('u8', 'u9')"), 0);
    /* a number id is the path's too (ContactFields allows one) */
    assert_int_equal(api(&s, "PUT", "/api/v1/contacts/42",
                         "{\"id\": 42, \"email\": \"n42@example.com\"}", key_all, NULL, &b, NULL),
                     201);
    free(b);
    /* an id longer than any contact's (255 bytes): 422, after the key is
     * checked (it was 404, no such endpoint) */
    char path[400];
    snprintf(path, sizeof path, "/api/v1/contacts/%0300d/history", 7);
    b = problem(&s, "GET", path, NULL, key_all, NULL, 422, NULL, &h);
    assert_contains(b, "longer than 255 bytes");
    free(b), free(h);
    b = problem(&s, "GET", path, NULL, NULL, NULL, 401, NULL, &h);
    free(b), free(h);
    /* one that is not UTF-8: said so (PUT called it missing) */
    b = problem(&s, "PUT", "/api/v1/contacts/%FF", "{\"email\": \"b@example.com\"}", key_all, NULL,
                422, NULL, &h);
    assert_contains(b, "not UTF-8");
    free(b), free(h);
    /* a key that may only read */
    b = problem(&s, "PUT", "/api/v1/contacts/u8", "{}", key_read, NULL, 403, NULL, &h);
    free(b), free(h);
    /* consent */
    assert_int_equal(api(&s, "POST", "/api/v1/contacts/u7/consent",
                         "{\"channel\": \"email\", \"status\": \"opted_out\"}", key_all, NULL, &b,
                         NULL),
                     200);
    free(b);
    assert_int_equal(q1("SELECT count(*) FROM consent_log WHERE source = 'api' AND status = "
                        "'opted_out'"),
                     1);
    b = problem(&s, "POST", "/api/v1/contacts/u7/consent", "{\"channel\": \"fax\"}", key_all, NULL,
                422, "channel", &h);
    free(b), free(h);
    /* no channel, a body that is no object, a category of the wrong type:
     * 422 (the first two crashed the service, the last became marketing) */
    static const struct {
        const char *body, *field;
    } bad_consent[] = {
        {"{\"status\": \"opted_out\"}", "channel"},
        {"[]", "channel"},
        {"{\"channel\": 5, \"status\": \"opted_out\"}", "channel"},
        {"{\"channel\": \"email\", \"category\": null, \"status\": \"opted_out\"}", "category"},
        {"{\"channel\": \"email\", \"category\": 5, \"status\": \"opted_out\"}", "category"}};
    for (size_t i = 0; i < sizeof bad_consent / sizeof *bad_consent; i++) {
        b = problem(&s, "POST", "/api/v1/contacts/u7/consent", bad_consent[i].body, key_all, NULL,
                    422, bad_consent[i].field, &h);
        free(b), free(h);
    }
    b = problem(&s, "POST", "/api/v1/contacts/nobody/consent",
                "{\"channel\": \"email\", \"status\": \"opted_in\"}", key_all, NULL, 404, NULL, &h);
    free(b), free(h);
    /* events: one, then a batch */
    assert_int_equal(api(&s, "POST", "/api/v1/events",
                         "{\"contact\": \"u7\", \"event\": \"purchase\", \"at\": "
                         "\"2026-11-20T10:00:00Z\", \"value\": 42.5, \"sku\": \"A1\"}",
                         key_all, NULL, &b, NULL),
                     200);
    assert_contains(b, "\"added\":1");
    free(b);
    assert_int_equal(api(&s, "POST", "/api/v1/events",
                         "[{\"contact\": \"k1\", \"event\": \"signup\", \"at\": "
                         "\"2026-11-20T10:00:00Z\"}, {\"contact\": \"ghost\", \"event\": "
                         "\"signup\", \"at\": \"2026-11-20T10:00:00Z\"}]",
                         key_all, NULL, &b, NULL),
                     200);
    assert_contains(b, "\"unknown_contacts\":1");
    free(b);
    assert_int_equal(q1("SELECT count(*) FROM events"), 2);
    b = problem(&s, "POST", "/api/v1/events",
                "[{\"contact\": \"k1\", \"event\": \"x\", \"at\": \"2026-11-20T10:00:00Z\"}, "
                "{\"contact\": \"k1\", \"event\": \"x\", \"at\": \"yesterday\"}]",
                key_all, NULL, 422, "[1]", &h);
    free(b), free(h);
    assert_int_equal(q1("SELECT count(*) FROM events"), 2); /* all or nothing */
    /* no time: now (the document's default; it was refused) */
    assert_int_equal(api(&s, "POST", "/api/v1/events",
                         "{\"contact\": \"k1\", \"event\": \"visit\"}", key_all, NULL, &b, NULL),
                     200);
    assert_contains(b, "\"added\":1");
    free(b);
    assert_int_equal(q1("SELECT count(*) FROM events WHERE name = 'visit' AND at > 1790000000"), 1);
    /* delete: pseudonymised, then gone */
    assert_int_equal(api(&s, "DELETE", "/api/v1/contacts/u7", NULL, key_all, NULL, &b, NULL), 200);
    assert_contains(b, "\"deleted_as\":\"deleted-");
    free(b);
    b = problem(&s, "DELETE", "/api/v1/contacts/u7", NULL, key_all, NULL, 404, NULL, &h);
    free(b), free(h);
    assert_int_equal(q1("SELECT count(*) FROM contacts WHERE ext_id = 'u7'"), 0);
    assert_int_equal(srv_stop(&s), 0);
    running = 0;
}

static void test_api_read(void **state)
{
    (void)state;
    struct srv s;
    char *b, *h;
    send_promo();
    s.pid = run_serve(&s.port);
    assert_int_equal(api(&s, "GET", "/api/v1/campaigns", NULL, key_read, NULL, &b, NULL), 200);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "campaign", "list", "--format", "json", NULL);
    json_t *api_j = json_loads(b, 0, NULL), *cli_j = json_loads(r.out, 0, NULL);
    assert_non_null(api_j);
    assert_true(json_equal(api_j, cli_j)); /* one function feeds both */
    assert_contains(b, "\"name\":\"promo\"");
    json_decref(api_j), json_decref(cli_j);
    tu_run_release(&r);
    free(b);
    assert_int_equal(api(&s, "GET", "/api/v1/contacts/k1/history", NULL, key_read, NULL, &b, NULL),
                     200);
    tu_herald(&r, dir, NULL, "history", "k1", "--format", "json", NULL);
    api_j = json_loads(b, 0, NULL), cli_j = json_loads(r.out, 0, NULL);
    assert_true(json_equal(api_j, cli_j));
    assert_contains(b, "\"campaign\":\"promo\"");
    json_decref(api_j), json_decref(cli_j);
    tu_run_release(&r);
    free(b);
    b = problem(&s, "GET", "/api/v1/contacts/nobody/history", NULL, key_read, NULL, 404, NULL, &h);
    free(b), free(h);
    assert_int_equal(
        api(&s, "GET", "/api/v1/campaigns/promo/stats", NULL, key_read, NULL, &b, NULL), 200);
    tu_herald(&r, dir, NULL, "stats", "promo", "--format", "json", NULL);
    api_j = json_loads(b, 0, NULL), cli_j = json_loads(r.out, 0, NULL);
    assert_non_null(api_j);
    assert_true(json_equal(api_j, cli_j));
    assert_contains(b, "\"sent\":3");
    json_decref(api_j), json_decref(cli_j);
    tu_run_release(&r);
    free(b);
    b = problem(&s, "GET", "/api/v1/campaigns/nope/stats", NULL, key_read, NULL, 404, NULL, &h);
    free(b), free(h);
    assert_int_equal(srv_stop(&s), 0);
    running = 0;
}

/* Last: the document served is the one in the repository, it is valid
 * OpenAPI 3.1, and every answer the tests above received fits it. */
/* The service serves docs/api/openapi.json as it is, on either store;
 * on the SQLite run, the last of all, the document and every answer
 * recorded on both stores are checked by tests/openapi/check.js. */
static void test_api_openapi(void **state)
{
    (void)state;
    struct srv s;
    char *b, *h;
    s.pid = run_serve(&s.port);
    assert_int_equal(api(&s, "GET", "/api/v1/openapi.json", NULL, NULL, NULL, &b, &h), 200);
    assert_contains(h, "Content-Type: application/json");
    char *doc = tu_src_path("docs/api/openapi.json"), *text = tu_read(doc);
    assert_string_equal(b, text);
    free(text), free(b), free(h);
    assert_int_equal(srv_stop(&s), 0);
    running = 0;
    if (e2e_pg_uri) {
        free(doc);
        return;
    }
    openapi_check(doc, NULL);
    int64_t n = 0;
    char *all = tu_read(answers);
    for (const char *p = all; p && (p = strchr(p, '\n')) != NULL; p++)
        n++;
    free(all);
    if (n < 40) /* every test above recorded its answers */
        fail_msg("only %lld answers recorded", (long long)n);
    openapi_check(doc, answers);
    free(doc);
}

/* Five messages to one contact while no dispatcher runs: each after the
 * first waits in a run of its own, and a dispatcher started afterwards
 * sends them in the order they were accepted (the newest went first: the
 * store reads runs newest first, and an inbox showed them reversed). */
static void test_api_order(void **state)
{
    (void)state;
    struct srv s;
    char *b;
    /* one connection: the outbox takes them in the order they are handed over */
    write_conf("h.conf",
               "secret_file = var/herald.secret\n[provider outbox]\ntype = outbox\n"
               "path = var/outbox\nconnections = 1\n[channel email]\nproviders = outbox\n");
    s.pid = tu_listen_start(dir, false, "127.0.0.1:0", &s.port);
    running = s.pid;
    for (int i = 0; i < 5; i++) {
        char body[128];
        snprintf(body, sizeof body,
                 "{\"template\": \"reset\", \"contact\": \"k1\", \"data\": {\"code\": \"5%d\"}}",
                 i);
        assert_int_equal(api(&s, "POST", "/api/v1/messages", body, key_all, NULL, &b, NULL), 202);
        free(b);
    }
    assert_int_equal(srv_stop(&s), 0);
    running = 0;
    TU_HERALD_OK(dir, "run", "--once");
    /* the attempts in the order of their messages */
    assert_int_equal(q1("SELECT count(*) FROM attempts WHERE outcome = 'accepted'"), 5);
    if (q1("SELECT count(*) FROM attempts a JOIN attempts b ON b.id > a.id "
           "WHERE b.message_id < a.message_id") != 0) {
        char order[64] = "", sql[96];
        for (int k = 0; k < 5; k++) {
            snprintf(sql, sizeof sql,
                     "SELECT message_id FROM attempts ORDER BY id LIMIT 1 OFFSET %d", k);
            snprintf(order + strlen(order), sizeof order - strlen(order), " %lld",
                     (long long)q1(sql));
        }
        fail_msg("the messages went out in the order%s", order);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_api_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_rate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_send, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_contacts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_urgent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_order, setup, teardown),
        {"test_api_keys_pg", test_api_keys, setup_pg, teardown, NULL},
        {"test_api_errors_pg", test_api_errors, setup_pg, teardown, NULL},
        {"test_api_rate_pg", test_api_rate, setup_pg, teardown, NULL},
        {"test_api_send_pg", test_api_send, setup_pg, teardown, NULL},
        {"test_api_contacts_pg", test_api_contacts, setup_pg, teardown, NULL},
        {"test_api_read_pg", test_api_read, setup_pg, teardown, NULL},
        {"test_api_urgent_pg", test_api_urgent, setup_pg, teardown, NULL},
        {"test_api_order_pg", test_api_order, setup_pg, teardown, NULL},
        /* the document served, on a store without keys (it needs none) */
        {"test_api_openapi_pg", test_api_openapi, e2e_setup_pg, teardown, NULL},
        /* last: it checks every answer above, on both stores */
        cmocka_unit_test_setup_teardown(test_api_openapi, e2e_setup, teardown),
    };
    char *adir = tu_tmpdir();
    answers = tu_path(adir, "answers.jsonl");
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(answers);
    tu_rmdir(adir);
    return rc;
}
