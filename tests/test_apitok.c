/* test_apitok: where the JSON API, the in-app inbox and the outbound
 * webhooks meet (issue 20), over real HTTP against the real herald.
 * POST /api/v1/inbox/tokens mints with a key of scope inbox what `herald
 * inbox token` mints (the same function: the same token at the same
 * clock), refuses from the headers alone (a body over the limit with a bad
 * key is 401, not 413), and answers 404 / 422 problems naming the field.
 * A transactional send to ["inbox", "email"] through POST /api/v1/messages
 * is delivered by `herald run --serve` into the contact's inbox (and not
 * the outbox), listed with a token the API minted, read (an opened
 * receipt, once) and archived; a [webhook] receiver (tests/
 * webhook_receiver.py, Python's hmac) gets the message's sent and opened
 * events exactly once each. Every answer is validated against
 * docs/api/openapi.json by tests/openapi/check.js at the end. The cases run
 * on a SQLite file and on a PostgreSQL store (testserve.h's e2e_setup_pg). */
#include "testapi.h"

#define SECRET "whsec-apitok-91c"

static const char tpl_alert[] = "description: alert\ncategory: transactional\n"
                                "from: Acme <hello@example.com>\n\n"
                                "--- email.subject\nAlert for {{ first_name }}\n"
                                "--- email.text\nCode {{ code }}.\n"
                                "--- inbox.title\nAlert {{ code }}\n"
                                "--- inbox.body\nYour code is **{{ code }}**.\n"
                                "--- inbox.expires\n1d\n";

static char key_mint[64], key_send[64], key_app[64];
/* every answer received, as JSON Lines, for the OpenAPI check */
static pid_t running;

static void make_key(char *out, const char *name, const char *scope)
{
    struct tu_run r;
    tu_herald(&r, dir, NULL, "apikey", "create", name, "--scope", scope, NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(strncmp(r.out, "hd_", 3), 0);
    snprintf(out, 64, "%.46s", r.out);
    tu_run_release(&r);
}

static int setup_store(void)
{
    write_conf("h.conf", "secret_file = var/herald.secret\nbody_limit = 4096\n");
    write_file("tpl/alert.tmpl", tpl_alert);
    make_key(key_mint, "minter", "inbox");
    make_key(key_send, "sender", "send,read");
    make_key(key_app, "app", "send,read,inbox");
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

static int teardown(void **state)
{
    if (running > 0) {
        kill(running, SIGKILL);
        waitpid(running, NULL, 0);
        running = 0;
    }
    return e2e_teardown(state);
}

static json_t *body_json(const char *body)
{
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    if (!j)
        fail_msg("not JSON (%s): '%s'", je.text, body);
    return j;
}

/* A problem+json answer with status, and its field when given. */
static void expect_problem(const struct srv *s, const char *method, const char *path,
                           const char *body, const char *bearer, const char *extra, int status,
                           const char *field)
{
    char *b, *h;
    int code = api(s, method, path, body, bearer, extra, &b, &h);
    if (code != status)
        fail_msg("%s %s: %d, not %d: %s", method, path, code, status, b);
    assert_contains(h, "Content-Type: application/problem+json");
    json_t *j = body_json(b);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), status);
    if (field)
        assert_string_equal(json_string_value(json_object_get(j, "field")), field);
    json_decref(j);
    free(b), free(h);
}

/* When the service of test_apitok_tokens started (real time): its clock
 * starts at HERALD_NOW and runs on from there. */
static time_t srv_started;

/* POST /api/v1/inbox/tokens: the token in *tok (the caller frees); its
 * expiry, in Unix seconds, is returned. Unless ttl is negative, it must be
 * ttl after the service's now, which is HERALD_NOW plus the seconds the
 * service has run: a loaded machine (valgrind) may take more than one
 * between its start and here. */
static int64_t mint(const struct srv *s, const char *key, const char *body, char **tok, int ttl)
{
    char *b;
    int64_t now, exp = 0;
    assert_int_equal(api(s, "POST", "/api/v1/inbox/tokens", body, key, NULL, &b, NULL), 201);
    json_t *j = body_json(b);
    *tok = hd_xstrdup(json_string_value(json_object_get(j, "token")));
    assert_int_equal(
        hd_time_parse_iso(json_string_value(json_object_get(j, "expires_at")), &exp, NULL), 0);
    if (ttl >= 0 && (hd_time_parse_iso(getenv("HERALD_NOW"), &now, NULL) < 0 || exp < now + ttl ||
                     exp > now + ttl + (time(NULL) - srv_started) + 1))
        fail_msg("expires_at %s is not %d s after the service's clock",
                 json_string_value(json_object_get(j, "expires_at")), ttl);
    json_decref(j);
    free(b);
    return exp;
}

static void test_apitok_tokens(void **state)
{
    (void)state;
    struct srv s;
    char *b, *tok, at[32];
    srv_started = time(NULL);
    srv_start(&s);
    running = s.pid;
    const char *req = "{\"contact\": \"k1\", \"ttl\": \"10m\"}";
    /* refused from the headers: no key, a key without the scope */
    expect_problem(&s, "POST", "/api/v1/inbox/tokens", req, NULL, NULL, 401, NULL);
    expect_problem(&s, "POST", "/api/v1/inbox/tokens", req, key_send, NULL, 403, NULL);
    /* a body over [serve] body_limit: a wrong key hears 401 (the key is
     * checked before the body's length, let alone the body), the right one 413 */
    char big[6000];
    snprintf(big, sizeof big, "{\"contact\": \"k1\", \"pad\": \"%05000d\"}", 0);
    expect_problem(&s, "POST", "/api/v1/inbox/tokens", big, "hd_not-a-key", NULL, 401, NULL);
    expect_problem(&s, "POST", "/api/v1/inbox/tokens", big, key_mint, NULL, 413, NULL);
    /* the inbox's scope sends nothing */
    expect_problem(&s, "POST", "/api/v1/messages", "{\"template\": \"alert\", \"contact\": \"k1\"}",
                   key_mint, NULL, 403, NULL);
    /* the API's route, not the inbox's: GET is 405 with the API's Allow */
    char *h;
    assert_int_equal(api(&s, "GET", "/api/v1/inbox/tokens", NULL, key_mint, NULL, &b, &h), 405);
    assert_contains(h, "Allow: POST");
    free(b), free(h);
    /* bad bodies: each a problem naming the field */
    static const struct {
        const char *body;
        int status;
        const char *field;
    } bad[] = {
        {"{\"contact\": \"nobody\"}", 404, "contact"},
        {"{\"contact\": \"k1\", \"ttl\": \"25h\"}", 422, "ttl"},
        {"{\"contact\": \"k1\", \"ttl\": \"soon\"}", 422, "ttl"},
        {"{\"contact\": \"k1\", \"ttl\": 60}", 422, "ttl"},
        {"{\"contact\": 7}", 422, "contact"},
        {"[\"k1\"]", 422, NULL},
        {"{\"contact\": ", 400, NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_problem(&s, "POST", "/api/v1/inbox/tokens", bad[i].body, key_mint, NULL,
                       bad[i].status, bad[i].field);
    /* the same token as herald inbox token at the same clock */
    hd_time_format_iso(mint(&s, key_mint, req, &tok, 600) - 600, at, sizeof at);
    char *keep = hd_xstrdup(getenv("HERALD_NOW"));
    setenv("HERALD_NOW", at, 1);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "inbox", "token", "k1", "--ttl", "10m", NULL);
    setenv("HERALD_NOW", keep, 1);
    free(keep);
    assert_int_equal(r.status, 0);
    r.out[strcspn(r.out, "\n")] = '\0';
    assert_string_equal(r.out, tok);
    tu_run_release(&r);
    /* the CLI's errors are the function's */
    tu_herald(&r, dir, NULL, "inbox", "token", "k1", "--ttl", "2d", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "--ttl: '2d' is over the 24h a token may live");
    tu_run_release(&r);
    /* it opens k1's inbox (empty), and 1h is the default */
    assert_int_equal(api(&s, "GET", "/api/v1/inbox", NULL, tok, NULL, &b, NULL), 200);
    assert_contains(b, "\"messages\":[]");
    free(b), free(tok);
    mint(&s, key_mint, "{\"contact\": \"k2\"}", &tok, 3600);
    assert_int_equal(srv_stop(&s), 0);
    /* the token is in the answer alone: not in the service's log (at debug) */
    char *log = tu_path(dir, "serve.log"), *text = tu_read(log);
    assert_non_null(text);
    assert_contains(text, "/api/v1/inbox/tokens");
    assert_null(strstr(text, tok));
    free(text), free(log), free(tok);
    running = 0;
}

/* herald run --serve on a free port. */
static pid_t run_serve(int *port)
{
    int out[2];
    assert_int_equal(pipe(out), 0);
    char *log = tu_path(dir, "run.log");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        if (chdir(dir) != 0 || !freopen(log, "ab", stderr))
            _exit(126);
        execl(tu_herald_bin(), tu_herald_bin(), "run", "--serve", "--listen", "127.0.0.1:0",
              (char *)NULL);
        _exit(127);
    }
    free(log);
    close(out[1]);
    char line[128];
    tu_first_line(out[0], line, sizeof line);
    running = pid;
    if (sscanf(line, "listening on http://127.0.0.1:%d", port) != 1)
        fail_msg("herald run --serve did not start: '%s'", line);
    return pid;
}

static void nap(void)
{
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
}

/* How many events of the receiver's log have type and message_id. */
static int events_of(json_t *log, const char *type, int64_t message)
{
    int n = 0;
    size_t i, k;
    json_t *rec, *ev;
    json_array_foreach(log, i, rec)
    {
        assert_true(json_is_true(json_object_get(rec, "verified")));
        json_array_foreach(json_object_get(rec, "events"), k, ev) n +=
            strcmp(json_string_value(json_object_get(ev, "type")), type) == 0 &&
            json_integer_value(json_object_get(ev, "message_id")) == message;
    }
    return n;
}

/* The inbox's page for tok, polled until it has n messages. */
static json_t *inbox_until(const struct srv *s, const char *tok, size_t n)
{
    json_t *j = NULL;
    for (int i = 0; i < 200; i++) {
        char *b;
        json_decref(j);
        assert_int_equal(api(s, "GET", "/api/v1/inbox?limit=10", NULL, tok, NULL, &b, NULL), 200);
        j = body_json(b);
        free(b);
        if (json_array_size(json_object_get(j, "messages")) == n)
            return j;
        nap();
    }
    fail_msg("the inbox never had %zu messages", n);
    return NULL;
}

static void test_apitok_send_inbox(void **state)
{
    (void)state;
    struct tu_server rx;
    char *log = tu_path(dir, "webhook.log"), *py = tu_src_path("tests/webhook_receiver.py");
    const char *argv[] = {"/usr/bin/python3", py, "--secret", SECRET, NULL};
    tu_server_start(&rx, dir, argv, "the webhook receiver");
    char extra[512];
    snprintf(extra, sizeof extra,
             "secret_file = var/herald.secret\nbody_limit = 4096\n"
             "[webhook app]\nurl = http://127.0.0.1:%d/in\nsecret_file = wh.secret\n"
             "events = sent, opened\nretry_base = 1s\nretry_max = 2s\n",
             rx.port);
    write_conf("h.conf", extra);
    write_file("wh.secret", SECRET "\n");
    unsetenv("HERALD_NOW"); /* the dispatcher and the webhooks on the real clock */
    struct srv s;
    s.pid = run_serve(&s.port);
    char *b, *tok;
    assert_int_equal(api(&s, "POST", "/api/v1/messages",
                         "{\"template\": \"alert\", \"contact\": \"k1\", \"channels\": [\"inbox\", "
                         "\"email\"], \"data\": {\"code\": \"5150\"}}",
                         key_app, NULL, &b, NULL),
                     202);
    json_t *j = body_json(b);
    int64_t id = json_integer_value(json_object_get(j, "id"));
    json_decref(j), free(b);
    assert_true(id > 0);
    /* the app's server mints a token; the app lists the message */
    mint(&s, key_app, "{\"contact\": \"k1\", \"ttl\": \"30m\"}", &tok, -1);
    j = inbox_until(&s, tok, 1);
    json_t *m = json_array_get(json_object_get(j, "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(m, "title")), "Alert 5150");
    assert_string_equal(json_string_value(json_object_get(m, "body_html")),
                        "<p>Your code is <strong>5150</strong>.</p>\n");
    assert_int_equal(json_integer_value(json_object_get(j, "unread")), 1);
    int64_t item = json_integer_value(json_object_get(m, "id"));
    json_decref(j);
    /* the inbox took it: the email was the fallback, not sent */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "grep -rl 'Code 5150' '%s/var/outbox' 2>/dev/null | wc -l", dir);
    char *n = tu_sh(cmd);
    assert_int_equal(atoi(n), 0);
    free(n);
    /* its state through the API */
    char path[96];
    snprintf(path, sizeof path, "/api/v1/messages/%lld", (long long)id);
    assert_int_equal(api(&s, "GET", path, NULL, key_send, NULL, &b, NULL), 200);
    assert_contains(b, "\"state\":\"sent\"");
    assert_contains(b, "\"channel\":\"inbox\"");
    free(b);
    /* read twice (one opened receipt), then archived */
    snprintf(path, sizeof path, "/api/v1/inbox/%lld/read", (long long)item);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(api(&s, "POST", path, NULL, tok, NULL, &b, NULL), 200);
        assert_contains(b, "\"status\":\"read\"");
        free(b);
    }
    expect_problem(&s, "POST", "/api/v1/inbox/999999/read", NULL, tok, NULL, 404, NULL);
    expect_problem(&s, "GET", "/api/v1/inbox", NULL, key_app, NULL, 401,
                   NULL); /* a key is no token */
    snprintf(path, sizeof path, "/api/v1/inbox/%lld/archive", (long long)item);
    assert_int_equal(api(&s, "POST", path, NULL, tok, NULL, &b, NULL), 200);
    assert_contains(b, "\"status\":\"archived\"");
    free(b);
    j = inbox_until(&s, tok, 0);
    json_decref(j);
    /* the webhook gets sent and opened, once each (a delivery that fails
     * on a loaded machine is tried again within seconds, not after the
     * default 10 s and more: a local run under load missed the 20 s) */
    json_t *got = NULL;
    for (int i = 0; i < 400; i++) {
        json_decref(got);
        got = tu_read_jsonl(dir, "webhook.log");
        if (events_of(got, "sent", id) && events_of(got, "opened", id))
            break;
        nap();
    }
    assert_int_equal(tu_serve_stop(s.pid), 0);
    running = 0;
    tu_server_stop(&rx);
    json_decref(got);
    got = tu_read_jsonl(dir, "webhook.log");
    assert_int_equal(events_of(got, "sent", id), 1);
    assert_int_equal(events_of(got, "opened", id), 1);
    json_decref(got);
    assert_int_equal(
        tu_sql1(dir, e2e_db, "SELECT count(*) FROM attempts WHERE outcome = 'receipt'"), 1);
    free(tok), free(log), free(py);
}

/* Last: every answer above fits the OpenAPI document. */
static void test_apitok_openapi(void **state)
{
    (void)state;
    char *doc = tu_src_path("docs/api/openapi.json"), *all = tu_read(answers);
    int64_t n = 0;
    for (const char *p = all; p && (p = strchr(p, '\n')) != NULL; p++)
        n++;
    free(all);
    if (n < 20)
        fail_msg("only %lld answers recorded", (long long)n);
    openapi_check(doc, answers);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apitok_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apitok_send_inbox, setup, teardown),
        {"test_apitok_tokens_pg", test_apitok_tokens, setup_pg, teardown, NULL},
        {"test_apitok_send_inbox_pg", test_apitok_send_inbox, setup_pg, teardown, NULL},
        /* last: it checks every answer above, on both stores (it opens
         * no store of its own) */
        cmocka_unit_test(test_apitok_openapi),
    };
    char *adir = tu_tmpdir();
    answers = tu_path(adir, "answers.jsonl");
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(answers);
    tu_rmdir(adir);
    return rc;
}
