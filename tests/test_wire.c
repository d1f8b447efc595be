/* test_wire: herald's own HTTP/1.1 client (src/channel/wire.c) against
 * tests/wire_server.py, a server on Python's sockets and ssl module that
 * answers each path with one framing or fault, byte for byte, and logs
 * every request it read. Each answer's status, headers and body are
 * checked as the client hands them on, and the server's log says what
 * went on the wire and on which connection: kept-alive reuse, a new
 * connection after Connection: close, a request a reused connection
 * dropped sent again once on a new one (and counted), and none sent again
 * on a fresh one. The faults: a timeout, an oversized head, broken chunks,
 * an answer that is not HTTP, a refused connection, URLs that could break
 * the request line. TLS: the CA given is trusted, a certificate from
 * another CA, for another name, or for a name when the URL gives an
 * address is refused. */
#include "testnet.h"

#include <jansson.h>

#include "../src/channel/wire.h"
#include "herald/time.h"

static char *dir;
static struct tu_server plain, tls_ok, tls_evil, tls_wrong;

struct got {
    struct hd_buf body;
    struct hd_buf heads;
    struct hd_wire_req w;
};

static void on_head(void *ud, const char *line, size_t len)
{
    struct got *g = ud;
    hd_buf_add(&g->heads, line, len);
    hd_buf_addc(&g->heads, '\n');
}

static void on_body(void *ud, const char *p, size_t len)
{
    hd_buf_add(&((struct got *)ud)->body, p, len);
}

static void got_init(struct got *g)
{
    memset(g, 0, sizeof *g);
    hd_buf_init(&g->body);
    hd_buf_init(&g->heads);
    g->w.ud = g;
}

static void got_release(struct got *g)
{
    hd_buf_release(&g->body);
    hd_buf_release(&g->heads);
    hd_wire_req_release(&g->w);
}

/* Runs the pool until n requests are done (at most 15 s). */
static void drive(struct hd_wire *h, size_t n)
{
    int64_t until = hd_clock_mono_ms() + 15000;
    size_t done = 0;
    while (done < n) {
        assert_true(hd_clock_mono_ms() < until);
        hd_wire_perform(h);
        while (hd_wire_done(h))
            done++;
        if (done < n)
            hd_wire_poll(h, 100);
    }
}

/* One request of method to url (on port, "" for the whole URL as given)
 * with body (NULL: none) and an extra header line (or NULL). */
static void one(struct hd_wire *h, struct got *g, const char *method, int port, const char *path,
                const char *body, const char *line)
{
    char url[512];
    if (port)
        snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    else
        snprintf(url, sizeof url, "%s", path);
    hd_buf_reset(&g->body);
    hd_buf_reset(&g->heads);
    hd_wire_begin(&g->w, method, url, strlen(url));
    if (line)
        hd_wire_line(&g->w, line);
    hd_wire_start(h, &g->w, body, body ? strlen(body) : 0, body != NULL);
    drive(h, 1);
}

static struct hd_wire *pool(unsigned conns, long timeout_ms, const char *ca)
{
    char *ca_path = ca ? tu_path(dir, ca) : NULL;
    struct hd_wire *h = hd_wire_new(conns, timeout_ms, ca_path, on_head, on_body);
    free(ca_path);
    return h;
}

/* The server's log: the requests it read, in order. */
static json_t *logged(const char *name)
{
    return tu_read_jsonl(dir, name);
}

static int conn_of(json_t *log, size_t i)
{
    return (int)json_integer_value(json_object_get(json_array_get(log, i), "conn"));
}

static void body_is(const struct got *g, const char *want)
{
    assert_int_equal(g->body.len, strlen(want));
    assert_memory_equal(g->body.data, want, g->body.len);
}

/* Every framing, on one kept-alive connection. */
static void test_wire_framings(void **state)
{
    (void)state;
    struct hd_wire *h = pool(1, 5000, NULL);
    struct got g;
    got_init(&g);
    static const struct {
        const char *path, *body;
        long status;
    } cases[] = {{"/len", "hello", 200},   {"/chunked", "wikipedia in\r\n\r\nchunks.", 200},
                 {"/split", "split", 200}, {"/interim", "ok", 200},
                 {"/nocontent", "", 204},  {"/nowhere", "", 404}};
    size_t n = sizeof cases / sizeof *cases;
    for (size_t i = 0; i < n; i++) {
        one(h, &g, "GET", plain.port, cases[i].path, NULL, NULL);
        assert_false(g.w.failed);
        assert_int_equal(g.w.status, cases[i].status);
        body_is(&g, cases[i].body);
        assert_int_equal(g.w.sends, 1);
        assert_true(g.w.new_conn == (i == 0));
    }
    one(h, &g, "POST", plain.port, "/echo", "{\"a\": 1}", "Content-Type: application/json");
    assert_int_equal(g.w.status, 200);
    body_is(&g, "{\"a\": 1}");
    assert_non_null(strstr(g.heads.data, "Content-Type: text/plain\n"));
    one(h, &g, "POST", plain.port, "/echo", "", NULL); /* an empty body: Content-Length 0 */
    assert_int_equal(g.w.status, 200);
    body_is(&g, "");
    json_t *l = logged("plain.log");
    assert_int_equal(json_array_size(l), n + 2);
    for (size_t i = 0; i < json_array_size(l); i++)
        assert_int_equal(conn_of(l, i), conn_of(l, 0)); /* one connection */
    json_t *post = json_array_get(l, n);
    assert_string_equal(json_string_value(json_object_get(post, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(post, "body")), "{\"a\": 1}");
    char *hs = json_dumps(json_object_get(post, "headers"), JSON_COMPACT);
    char host[64];
    snprintf(host, sizeof host, "[\"Host\",\"127.0.0.1:%d\"]", plain.port);
    assert_non_null(strstr(hs, host));
    assert_non_null(strstr(hs, "[\"Content-Length\",\"8\"]"));
    assert_non_null(strstr(hs, "[\"Content-Type\",\"application/json\"]"));
    free(hs);
    hs = json_dumps(json_object_get(json_array_get(l, 0), "headers"), JSON_COMPACT);
    assert_null(strstr(hs, "Content-Length")); /* a GET has none */
    free(hs);
    json_decref(l);
    got_release(&g);
    hd_wire_free(h);
}

/* RFC 9112 6.3's order: no body after HEAD, 204 or 304 whatever the
 * headers say; Transfer-Encoding over Content-Length, chunked only as the
 * final coding; two lengths that differ, a blank or negative chunk size
 * refused; a head of bare LF lines read. Each ends at once, none waits
 * for the deadline. */
static void test_wire_framing_rules(void **state)
{
    (void)state;
    struct hd_wire *h = pool(1, 3000, NULL);
    struct got g;
    got_init(&g);
    int64_t t0 = hd_clock_mono_ms();
    one(h, &g, "HEAD", plain.port, "/head", NULL, NULL);
    assert_int_equal(g.w.status, 200);
    body_is(&g, "");
    one(h, &g, "GET", plain.port, "/304len", NULL, NULL);
    assert_int_equal(g.w.status, 304);
    body_is(&g, "");
    one(h, &g, "GET", plain.port, "/204chunked", NULL, NULL);
    assert_int_equal(g.w.status, 204);
    one(h, &g, "GET", plain.port, "/tegzip", NULL, NULL);
    assert_int_equal(g.w.status, 200);
    body_is(&g, "abcdef"); /* not the 3 its Content-Length said */
    one(h, &g, "GET", plain.port, "/lf", NULL, NULL);
    assert_int_equal(g.w.status, 200);
    body_is(&g, "lf");
    static const char *const bad[] = {"/twocl", "/chunkblank", "/chunkneg"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        one(h, &g, "GET", plain.port, bad[i], NULL, NULL);
        if (!g.w.failed)
            fail_msg("%s: %ld, body %zu bytes", bad[i], g.w.status, g.body.len);
    }
    assert_true(hd_clock_mono_ms() - t0 < 2500);
    got_release(&g);
    hd_wire_free(h);
}

/* A server that closes right after its answer without saying so: the next
 * request, once the close has come, sees the connection is gone and opens
 * another, rather than going on the dead one and being sent twice (a
 * close still on its way is the race libcurl has too: the resend). */
static void test_wire_closed_idle(void **state)
{
    (void)state;
    struct hd_wire *h = pool(1, 3000, NULL);
    struct got g;
    got_init(&g);
    for (int i = 0; i < 3; i++) {
        struct timespec ts = {0, 100 * 1000000L}; /* its close has come */
        nanosleep(&ts, NULL);
        one(h, &g, "GET", plain.port, "/closeafter", NULL, NULL);
        assert_false(g.w.failed);
        body_is(&g, "done");
        assert_int_equal(g.w.sends, 1);
        assert_true(g.w.new_conn);
    }
    got_release(&g);
    hd_wire_free(h);
}

/* Connection: close and an HTTP/1.0 answer end their connection; a Host
 * line given replaces the client's. */
static void test_wire_close(void **state)
{
    (void)state;
    struct hd_wire *h = pool(1, 5000, NULL);
    struct got g;
    got_init(&g);
    one(h, &g, "GET", plain.port, "/close", NULL, NULL);
    body_is(&g, "bye");
    one(h, &g, "GET", plain.port, "/http10", NULL, NULL);
    assert_int_equal(g.w.status, 200);
    assert_true(g.w.new_conn);
    body_is(&g, "to the end");
    one(h, &g, "GET", plain.port, "/len", NULL, "Host: gateway.example");
    assert_true(g.w.new_conn);
    body_is(&g, "hello");
    json_t *l = logged("plain.log");
    size_t n = json_array_size(l);
    char *hs = json_dumps(json_object_get(json_array_get(l, n - 1), "headers"), JSON_COMPACT);
    assert_non_null(strstr(hs, "[\"Host\",\"gateway.example\"]"));
    assert_int_equal(tu_count(hs, "\"Host\""), 1);
    free(hs);
    json_decref(l);
    got_release(&g);
    hd_wire_free(h);
}

/* Retry-After in seconds and as a date; the header lines reach the caller. */
static void test_wire_retry_after(void **state)
{
    (void)state;
    struct hd_wire *h = pool(2, 5000, NULL);
    struct got g;
    got_init(&g);
    one(h, &g, "POST", plain.port, "/retry", "x", NULL);
    assert_int_equal(g.w.status, 429);
    assert_int_equal(g.w.retry_after, 7);
    assert_non_null(strstr(g.heads.data, "X-Rate-Limit-Remaining: 0\n"));
    one(h, &g, "POST", plain.port, "/retrydate", "x", NULL);
    assert_int_equal(g.w.status, 503);
    assert_in_range(g.w.retry_after, 27, 31);
    got_release(&g);
    hd_wire_free(h);
}

/* A request a reused connection drops before answering goes again, once,
 * on a new connection, and counts two sends; on a new connection it is
 * not sent again. */
static void test_wire_resend(void **state)
{
    (void)state;
    struct hd_wire *h = pool(1, 5000, NULL);
    struct got g;
    got_init(&g);
    one(h, &g, "GET", plain.port, "/len", NULL, NULL);
    assert_int_equal(g.w.sends, 1);
    json_t *l = logged("plain.log");
    size_t before = json_array_size(l);
    json_decref(l);
    one(h, &g, "POST", plain.port, "/dropreused", "once", NULL);
    assert_false(g.w.failed);
    assert_int_equal(g.w.sends, 2);
    assert_true(g.w.new_conn);
    body_is(&g, "fresh");
    l = logged("plain.log");
    assert_int_equal(json_array_size(l), before + 2);
    assert_int_not_equal(conn_of(l, before), conn_of(l, before + 1));
    json_decref(l);
    hd_wire_free(h);
    h = pool(1, 5000, NULL);
    one(h, &g, "POST", plain.port, "/drop", "x", NULL);
    assert_true(g.w.failed);
    assert_int_equal(g.w.sends, 1);
    assert_string_equal(g.w.err, "Empty reply from server");
    got_release(&g);
    hd_wire_free(h);
}

/* Every fault is a failure that says why, and the connection is not kept. */
static void test_wire_faults(void **state)
{
    (void)state;
    struct hd_wire *h = pool(1, 700, NULL);
    struct got g;
    got_init(&g);
    static const struct {
        const char *path, *why;
    } cases[] = {{"/slow", "Operation timed out after "},
                 {"/bighead", "a head over 64 KiB"},
                 {"/badchunk", "chunked answer is malformed"},
                 {"/garbage", "not HTTP/1.x"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        one(h, &g, "GET", plain.port, cases[i].path, NULL, NULL);
        assert_true(g.w.failed);
        assert_non_null(strstr(g.w.err, cases[i].why));
        assert_int_equal(g.w.status, 0);
    }
    one(h, &g, "GET", plain.port, "/len", NULL, NULL); /* the pool works on */
    body_is(&g, "hello");
    one(h, &g, "GET", tu_dead_port(), "/len", NULL, NULL); /* nobody listens */
    assert_true(g.w.failed);
    assert_non_null(strstr(g.w.err, "Failed to connect to 127.0.0.1 port "));
    assert_int_equal(g.w.sends, 0);
    /* a peer that takes the connection and never answers TLS's hello: the
     * connect's own bound, the handshake included */
    int port, lfd = tu_loopback_socket(&port, true);
    char silent[64];
    snprintf(silent, sizeof silent, "https://127.0.0.1:%d/", port);
    one(h, &g, "GET", 0, silent, NULL, NULL);
    close(lfd);
    assert_true(g.w.failed);
    assert_non_null(strstr(g.w.err, "Connection timed out after "));
    assert_int_equal(g.w.sends, 0);
    /* URLs refused before anything is sent */
    json_t *l = logged("plain.log");
    size_t before = json_array_size(l);
    json_decref(l);
    char evil[128];
    snprintf(evil, sizeof evil, "http://127.0.0.1:%d/len HTTP/1.1\r\nX-Evil: 1", plain.port);
    const char *bad[] = {"",
                         "ftp://127.0.0.1/",
                         "http://user@127.0.0.1/",
                         "http:///path",
                         "http://127.0.0.1:99999/",
                         "127.0.0.1/len",
                         evil};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        one(h, &g, "GET", 0, bad[i], NULL, NULL);
        assert_true(g.w.failed);
        assert_non_null(strstr(g.w.err, "URL rejected"));
    }
    l = logged("plain.log");
    assert_int_equal(json_array_size(l), before);
    json_decref(l);
    got_release(&g);
    hd_wire_free(h);
}

/* Many requests over a few connections at once: each gets its own answer. */
static void test_wire_many(void **state)
{
    (void)state;
    enum { N = 300, CONNS = 4 };
    struct hd_wire *h = pool(CONNS, 10000, NULL);
    struct got *g = calloc(N, sizeof *g);
    char(*bodies)[32] = calloc(N, sizeof *bodies);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/echo", plain.port);
    json_t *l = logged("plain.log");
    size_t before = json_array_size(l);
    json_decref(l);
    for (int i = 0; i < N; i++) {
        got_init(&g[i]);
        snprintf(bodies[i], sizeof bodies[i], "message %d", i);
        hd_wire_begin(&g[i].w, "POST", url, strlen(url));
        hd_wire_start(h, &g[i].w, bodies[i], strlen(bodies[i]), true);
    }
    drive(h, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(g[i].w.status, 200);
        body_is(&g[i], bodies[i]);
        got_release(&g[i]);
    }
    l = logged("plain.log");
    assert_int_equal(json_array_size(l), before + N);
    int conns[CONNS + 1] = {0}, k = 0;
    for (size_t i = before; i < json_array_size(l); i++) {
        int c = conn_of(l, i), j = 0;
        while (j < k && conns[j] != c)
            j++;
        if (j == k) {
            assert_true(k < CONNS); /* never more than the pool's */
            conns[k++] = c;
        }
    }
    json_decref(l);
    free(g);
    free(bodies);
    hd_wire_free(h);
}

/* TLS: the given CA's certificate for the URL's name is taken; another
 * CA's, another name's, or a name's for an address is refused. */
static void test_wire_tls(void **state)
{
    (void)state;
    struct hd_wire *h = pool(1, 5000, "ca.pem");
    struct got g;
    got_init(&g);
    char url[128];
    snprintf(url, sizeof url, "https://localhost:%d/chunked", tls_ok.port);
    one(h, &g, "GET", 0, url, NULL, NULL);
    assert_false(g.w.failed);
    body_is(&g, "wikipedia in\r\n\r\nchunks.");
    snprintf(url, sizeof url, "https://localhost:%d/echo", tls_ok.port);
    one(h, &g, "POST", 0, url, "over TLS", NULL);
    body_is(&g, "over TLS");
    assert_false(g.w.new_conn);
    const struct {
        int port;
        const char *host, *why;
    } refused[] = {{tls_evil.port, "localhost", "SSL certificate problem"},
                   {tls_wrong.port, "localhost", "SSL certificate problem"},
                   {tls_ok.port, "127.0.0.1", "SSL certificate problem"}};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        snprintf(url, sizeof url, "https://%s:%d/len", refused[i].host, refused[i].port);
        one(h, &g, "GET", 0, url, NULL, NULL);
        assert_true(g.w.failed);
        assert_true(g.w.tls_refused);
        assert_non_null(strstr(g.w.err, refused[i].why));
    }
    json_t *l = logged("evil.log");
    assert_int_equal(json_array_size(l), 0); /* nothing was sent to it */
    json_decref(l);
    hd_wire_free(h);
    /* a CA file that cannot be read */
    h = pool(1, 5000, "missing.pem");
    snprintf(url, sizeof url, "https://localhost:%d/len", tls_ok.port);
    one(h, &g, "GET", 0, url, NULL, NULL);
    assert_true(g.w.failed);
    assert_non_null(strstr(g.w.err, "missing.pem"));
    got_release(&g);
    hd_wire_free(h);
}

static void start(struct tu_server *s, const char *log, const char *cert)
{
    char *py = tu_src_path("tests/wire_server.py");
    char key[64];
    snprintf(key, sizeof key, "%.*s.key", cert ? (int)(strlen(cert) - 4) : 0, cert ? cert : "");
    const char *argv[] = {
        "/usr/bin/python3", py, "--log", log, cert ? "--cert" : NULL, cert, "--key", key, NULL};
    tu_server_start(s, dir, argv, "tests/wire_server.py");
    free(py);
}

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    tu_make_certs(dir);
    start(&plain, "plain.log", NULL);
    start(&tls_ok, "ok.log", "srv.pem");
    start(&tls_evil, "evil.log", "bad.pem");
    start(&tls_wrong, "wrong.log", "wrong.pem");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_server_stop(&plain);
    tu_server_stop(&tls_ok);
    tu_server_stop(&tls_evil);
    tu_server_stop(&tls_wrong);
    tu_rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_framings),    cmocka_unit_test(test_wire_close),
        cmocka_unit_test(test_wire_retry_after), cmocka_unit_test(test_wire_resend),
        cmocka_unit_test(test_wire_faults),      cmocka_unit_test(test_wire_many),
        cmocka_unit_test(test_wire_tls),         cmocka_unit_test(test_wire_framing_rules),
        cmocka_unit_test(test_wire_closed_idle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
