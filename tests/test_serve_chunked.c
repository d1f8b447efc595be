/* test_serve_chunked: a chunked body (no Content-Length) is bounded on
 * every route that reads one. A client that keeps streaming past [serve]
 * body_limit must find the connection closed by the server, not read to
 * the end while it holds a worker: the JSON API (with a valid key, so the
 * body is what is read), a gateway's callback and a one-click link. A raw
 * socket sends the headers and then 1 KiB chunks, never the last one; the
 * server must close (a read gives 0 or ECONNRESET, or a write EPIPE)
 * before 256 KiB have gone, 64 times the limit. A chunked body within the
 * limit is read and answered: to the API, whose routes without a body
 * wait for the call after the headers to answer, a chunked request
 * once got no answer at all (libmicrohttpd cannot queue one mid-body).
 * On a SQLite file, then on a PostgreSQL store. */
#include "testserve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

static char key[64];

static int setup_store(void)
{
    write_conf("h.conf", "secret_file = var/herald.secret\nbody_limit = 4096\n");
    struct tu_run r;
    tu_herald(&r, dir, NULL, "apikey", "create", "app", "--scope", "send", NULL);
    assert_int_equal(r.status, 0);
    snprintf(key, sizeof key, "%.46s", r.out);
    tu_run_release(&r);
    signal(SIGPIPE, SIG_IGN);
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

static int conn(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Whether the server closed fd: readable with 0 bytes or a reset (an
 * early answer, a 413 or nothing, is read and skipped). */
static bool closed(int fd)
{
    char buf[4096];
    struct pollfd p = {fd, POLLIN, 0};
    while (poll(&p, 1, 0) > 0) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
        if (n < 0)
            return false;
    }
    return false;
}

/* Streams 1 KiB chunks after head; true once the server has closed,
 * false if 256 KiB went without that. */
static bool streams_cut(int port, const char *head)
{
    int fd = conn(port);
    char chunk[1100];
    memset(chunk, 'a', sizeof chunk);
    memcpy(chunk, "400\r\n", 5);
    memcpy(chunk + 5 + 1024, "\r\n", 2);
    bool cut = send(fd, head, strlen(head), 0) < 0;
    for (int i = 0; i < 256 && !cut; i++) {
        cut = send(fd, chunk, 5 + 1024 + 2, 0) < 0 || closed(fd);
        for (int w = 0; w < 20 && !cut && i >= 8; w++) { /* past the limit: give it a moment */
            struct timespec ts = {0, 5 * 1000000L};
            nanosleep(&ts, NULL);
            cut = closed(fd);
        }
    }
    close(fd);
    return cut;
}

static void test_serve_chunked_cut(void **state)
{
    (void)state;
    struct srv s;
    char head[1024];
    srv_start(&s);
    /* a chunked body within the limit is answered as usual */
    char *out, *hdr;
    char extra[256];
    snprintf(extra, sizeof extra,
             "-H 'Transfer-Encoding: chunked' -H 'Authorization: Bearer %s' "
             "-H 'Content-Type: application/json' --data-binary '{'",
             key);
    int code = http(&s, "POST", "/api/v1/messages", NULL, extra, &out, &hdr);
    if (code != 400)
        fail_msg("a chunked '{': %d\n%s%s", code, hdr, out);
    assert_non_null(strstr(out, "not JSON"));
    free(out);
    free(hdr);
    snprintf(head, sizeof head,
             "POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
             key);
    assert_true(streams_cut(s.port, head));
    assert_true(streams_cut(s.port, "POST /hooks/twilio/p HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                    "application/x-www-form-urlencoded\r\nTransfer-Encoding: "
                                    "chunked\r\n\r\n"));
    assert_true(streams_cut(s.port, "POST /u/v1.abc HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                    "application/x-www-form-urlencoded\r\nTransfer-Encoding: "
                                    "chunked\r\n\r\n"));
    assert_int_equal(srv_stop(&s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serve_chunked_cut),
    };
    const struct CMUnitTest tests_pg[] = {
        {"test_serve_chunked_cut_pg", test_serve_chunked_cut, NULL, NULL, NULL},
    };
    int rc = cmocka_run_group_tests(tests, setup, e2e_teardown);
    return rc | cmocka_run_group_tests(tests_pg, setup_pg, e2e_teardown);
}
