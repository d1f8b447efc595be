/* testnet: helpers for the tests that talk to servers on 127.0.0.1: running
 * a tool in a folder, making a test CA and certificates with openssl, and
 * starting a server process that prints "READY <port>" once it listens
 * (tests/smtp_server.py, the mocks in tests/mock). Closing the server's stdin or
 * SIGTERM stops it. */
#ifndef HERALD_TESTNET_H
#define HERALD_TESTNET_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include "testutil.h"

#include <jansson.h>
#include <stdarg.h>

#include "herald/config.h"
#include "herald/driver.h"
#include "herald/log.h"

/* Runs argv (NULL-terminated) in dir, output discarded; fails on non-zero exit. */
static inline void tu_run_in(const char *dir, const char *const *argv)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        if (chdir(dir) != 0)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s failed", argv[0]);
}

/* In dir: ca.pem/ca.key (a test CA), srv.pem/srv.key (localhost, from the
 * CA), wrong.pem/wrong.key (other.example, from the CA) and bad.pem/bad.key
 * (localhost, from evil.pem, a CA nobody trusts). */
static inline void tu_make_certs(const char *dir)
{
    static const char *const cmds[][16] = {
        {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
         "ca.pem", "-days", "2", "-subj", "/CN=herald test CA", NULL},
        {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "evil.key", "-out",
         "evil.pem", "-days", "2", "-subj", "/CN=untrusted CA", NULL},
    };
    for (size_t i = 0; i < 2; i++)
        tu_run_in(dir, cmds[i]);
    static const struct {
        const char *name, *san, *ca;
    } certs[] = {{"srv", "DNS:localhost", "ca"},
                 {"wrong", "DNS:other.example", "ca"},
                 {"bad", "DNS:localhost", "evil"}};
    for (size_t i = 0; i < 3; i++) {
        char key[64], csr[64], pem[64], ext[64], subj[64], ca[64], cakey[64], extline[128];
        snprintf(key, sizeof key, "%s.key", certs[i].name);
        snprintf(csr, sizeof csr, "%s.csr", certs[i].name);
        snprintf(pem, sizeof pem, "%s.pem", certs[i].name);
        snprintf(ext, sizeof ext, "%s.ext", certs[i].name);
        snprintf(subj, sizeof subj, "/CN=%s", certs[i].san + 4);
        snprintf(ca, sizeof ca, "%s.pem", certs[i].ca);
        snprintf(cakey, sizeof cakey, "%s.key", certs[i].ca);
        snprintf(extline, sizeof extline, "subjectAltName=%s\n", certs[i].san);
        char *extp = tu_path(dir, ext);
        tu_write(extp, extline);
        free(extp);
        const char *req[] = {"openssl", "req",  "-newkey", "rsa:2048", "-nodes", "-keyout",
                             key,       "-out", csr,       "-subj",    subj,     NULL};
        const char *sign[] = {
            "openssl",         "x509", "-req", "-in",   csr, "-CA",      ca,  "-CAkey", cakey,
            "-CAcreateserial", "-out", pem,    "-days", "2", "-extfile", ext, NULL};
        tu_run_in(dir, req);
        tu_run_in(dir, sign);
    }
}

#ifndef NODE
#define NODE "/usr/bin/node"
#endif

struct tu_server {
    pid_t pid;
    int in; /* its stdin: closing it stops the server */
    int port;
};

/* Reads, for at most 20 s, the first line a process writes to fd (which it
 * closes) into line (NUL-terminated; "" when none came). */
static inline void tu_first_line(int fd, char *line, size_t size)
{
    size_t got = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    line[0] = '\0';
    for (int i = 0; i < 100 && !strchr(line, '\n'); i++) {
        if (poll(&p, 1, 200) > 0) {
            ssize_t r = read(fd, line + got, size - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
            line[got] = '\0';
        }
    }
    close(fd);
}

/* Runs a curl command line that ends its output with a line holding
 * the status (-w '\n%{http_code}'): the status, the body before it in out. */
static inline int tu_curl(const char *cmd, char *out, size_t size)
{
    char *r = tu_sh(cmd), *nl = strrchr(r, '\n');
    assert_non_null(nl);
    int code = atoi(nl + 1);
    *nl = '\0';
    snprintf(out, size, "%s", r);
    free(r);
    return code;
}

/* Forks a child in dir whose stdin and stdout are pipes from and to the
 * parent: 0 in the child (which execs, or _exit(126) when it cannot enter
 * dir), its pid in the parent, which gets *to (the child's stdin) and
 * *from (its stdout). */
static inline pid_t tu_fork_piped(const char *dir, int *to, int *from)
{
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        if (chdir(dir) != 0)
            _exit(126);
        return 0;
    }
    close(in[0]);
    close(out[1]);
    *to = in[1];
    *from = out[0];
    return pid;
}

/* Starts argv (NULL-terminated; argv[0] a path) in dir and waits, bounded,
 * for "READY <port>" on its stdout; what names it in the failure message. */
static inline void tu_server_start(struct tu_server *s, const char *dir, const char *const *argv,
                                   const char *what)
{
    int from;
    if ((s->pid = tu_fork_piped(dir, &s->in, &from)) == 0) {
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    char line[64];
    tu_first_line(from, line, sizeof line);
    if (sscanf(line, "READY %d", &s->port) != 1)
        fail_msg("%s did not start: '%s'", what, line);
}

/* Starts a mock gateway, tests/mock/SCRIPT under Node, in dir with args
 * (NULL-terminated). */
static inline void tu_start_mock(struct tu_server *s, const char *dir, const char *script,
                                 const char *const *args)
{
    const char *src = getenv("HERALD_SRC");
    char js[4096];
    snprintf(js, sizeof js, "%s/tests/mock/%s", src ? src : ".", script);
    const char *argv[24] = {NODE, js};
    int n = 2;
    while (*args && n < 23)
        argv[n++] = *args++;
    argv[n] = NULL;
    tu_server_start(s, dir, argv, "a mock gateway (is nodejs installed?)");
}

/* A socket bound to a port of 127.0.0.1 the kernel picks (*port), and
 * listening when listening; the caller closes it. */
static inline int tu_loopback_socket(int *port, bool listening)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    if (listening)
        assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A port of 127.0.0.1 nothing listens on: bound, then closed. */
static inline int tu_dead_port(void)
{
    int port;
    close(tu_loopback_socket(&port, false));
    return port;
}

static inline void tu_server_stop(struct tu_server *s)
{
    if (s->pid <= 0)
        return; /* never started, or stopped already */
    close(s->in);
    kill(s->pid, SIGTERM);
    /* a server that does not stop in 5 s is killed: a test never hangs */
    for (int i = 0; i < 100 && waitpid(s->pid, NULL, WNOHANG) == 0; i++) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        if (i == 99) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
        }
    }
    s->pid = 0;
}

/* Results collected from a driver, and (when a test fills them) the ids of
 * the messages sent. */
struct tu_results {
    struct hd_result r[64];
    char id[64][40];
    size_t n;
};

static inline void tu_collect(void *ud, const struct hd_result *r)
{
    struct tu_results *rs = ud;
    if (rs->n < 64)
        rs->r[rs->n++] = *r;
}

/* Polls d (for up to 30 s) until n results came, then frees it; rs->r[i]
 * is the result of the message whose user tag was i. */
static inline void tu_await(struct hd_driver *d, size_t n, struct tu_results *rs)
{
    struct tu_results got = {0};
    for (int i = 0; i < 300 && got.n < n; i++)
        hd_driver_poll(d, 100, tu_collect, &got);
    hd_driver_free(d);
    assert_int_equal(got.n, n);
    for (size_t i = 0; i < n; i++)
        rs->r[(uintptr_t)got.r[i].user] = got.r[i];
    rs->n = n;
}

/* Sends the message proto to each address through provider "p" of cfg,
 * each with an id of its own (in rs->id) and its index as the user tag;
 * results in the order of the addresses. */
static inline void tu_send_each(struct hd_config *cfg, const struct hd_msg *proto,
                                const char *const *to, size_t n, struct tu_results *rs)
{
    struct hd_driver *d;
    struct hd_err e = {0};
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_ERROR);
    if (hd_driver_open(hd_config_provider(cfg, "p"), &log, &d, &e) != 0)
        fail_msg("open: %s", e.msg);
    memset(rs, 0, sizeof *rs);
    for (size_t i = 0; i < n; i++) {
        struct hd_msg m = *proto;
        m.to = to[i];
        m.user = (void *)(uintptr_t)i;
        hd_uuid(m.id);
        snprintf(rs->id[i], sizeof rs->id[i], "%s", m.id);
        assert_int_equal(hd_driver_submit(d, &m, &e), 0);
    }
    tu_await(d, n, rs);
    hd_log_release(&log);
}

/* A configuration parsed from printf-style text; fails the test when it
 * does not parse. The caller frees it. */
static inline struct hd_config *tu_config(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static inline struct hd_config *tu_config(const char *fmt, ...)
{
    struct hd_buf t;
    struct hd_config *cfg = NULL;
    struct hd_err e = {0};
    va_list ap;
    hd_buf_init(&t);
    va_start(ap, fmt);
    hd_buf_vaddf(&t, fmt, ap);
    va_end(ap);
    if (hd_config_parse(t.data, "t.conf", &cfg, &e) != 0)
        fail_msg("%s", e.msg);
    hd_buf_release(&t);
    return cfg;
}

/* Fails unless r has the outcome and (not) a bad address; what names it. */
static inline void tu_expect(const struct hd_result *r, int outcome, bool bad, const char *what)
{
    if (r->outcome != outcome || r->bad_address != bad)
        fail_msg("%s: got %s%s (%d %s), want %s%s", what, hd_outcome_name(r->outcome),
                 r->bad_address ? " bad" : "", r->code, r->text, hd_outcome_name(outcome),
                 bad ? " bad" : "");
}

/* A mock's request log (dir/name, one JSON value a line) as an array; the
 * caller decrefs. */
static inline json_t *tu_read_jsonl(const char *dir, const char *name)
{
    char *p = tu_path(dir, name), *text = tu_read(p);
    json_t *all = json_array();
    for (char *line = text, *nl; line && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            break;
        *nl = '\0';
        json_t *j = json_loads(line, 0, NULL);
        if (j)
            json_array_append_new(all, j);
    }
    free(text);
    free(p);
    return all;
}

/* How many lines of a mock's request log (dir/name) have the string
 * member key equal to value. */
static inline size_t tu_count_logged(const char *dir, const char *name, const char *key,
                                     const char *value)
{
    json_t *l = tu_read_jsonl(dir, name), *e;
    size_t i, n = 0;
    json_array_foreach(l, i, e)
    {
        const char *v = json_string_value(json_object_get(e, key));
        n += v && strcmp(v, value) == 0;
    }
    json_decref(l);
    return n;
}

/* Writes dir/tpl/NAME.tmpl, a template for the tests' templates folder. */
static inline void tu_put_template(const char *dir, const char *name, const char *text)
{
    char rel[128];
    snprintf(rel, sizeof rel, "tpl/%s.tmpl", name);
    char *p = tu_path(dir, rel);
    tu_write(p, text);
    free(p);
}

/* Runs a campaign of template tpl on the SMS channel through `herald send`
 * in dir, with the options pre before each command (-c FILE, --db DB: at
 * most 4, NULL-terminated), to the contacts of the CSV text rows (written
 * to NAME.csv); returns `herald log` of it (JSON lines; the caller frees).
 * What send says is not checked: the log is. */
static inline char *tu_sms_campaign(const char *dir, const char *const *pre, const char *name,
                                    const char *tpl, const char *rows)
{
    char csv[64];
    snprintf(csv, sizeof csv, "%s.csv", name);
    char *cp = tu_path(dir, csv);
    tu_write(cp, rows);
    free(cp);
    struct tu_run r;
    const char *steps[][10] = {
        {"init", NULL},
        {"contacts", "import", csv, NULL},
        {"segment", "define", "all", "id != \"\"", NULL},
        {"campaign", "create", name, "--segment", "all", "--template", tpl, "--channels", "sms",
         "--now"},
        {"send", name, "--wait", "30s", NULL},
        {"log", "--campaign", name, "--format", "jsonl", NULL},
    };
    char *out = NULL;
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        const char *a[16] = {NULL};
        size_t n = 0;
        while (n < 4 && pre[n])
            a[n] = pre[n], n++;
        for (size_t k = 0; k < 10 && steps[i][k]; k++)
            a[n++] = steps[i][k];
        tu_herald(&r, dir, NULL, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10],
                  a[11], a[12], a[13], NULL);
        /* a send whose messages failed exits 3 and says so (issue 17) */
        bool sent_failed = i == 4 && r.status == 3 && strstr(r.out, "failed: ");
        if (r.status != 0 && i < 5 && !sent_failed)
            fail_msg("%s: %s %s", steps[i][0], r.out, r.err);
        if (i == 5)
            out = hd_xstrdup(r.out);
        tu_run_release(&r);
    }
    return out;
}

/* One number from dir/h.db through the sqlite3 shell (-1 when none). */
static inline int64_t tu_q1(const char *dir, const char *sql)
{
    return tu_sql1(dir, "h.db", sql);
}

/* herald in dir with argv (NULL-terminated, without the program), which
 * must exit 0, else the test fails naming the command and its output. */
static inline void tu_herald_ok_argv(const char *dir, const char *const *argv)
{
    struct tu_run r;
    const char *a[40] = {tu_herald_bin()};
    size_t n = 1;
    for (; argv[n - 1] && n < 39; n++)
        a[n] = argv[n - 1];
    a[n] = NULL;
    tu_exec(&r, dir, NULL, a);
    if (r.status != 0)
        fail_msg("herald %s %s: %s%s", argv[0], argv[1] ? argv[1] : "", r.out, r.err);
    tu_run_release(&r);
}

/* Waits, bounded (10 s, polling every 50 ms), until exactly n receipts
 * in dir/db (or the postgresql:// URI db) that match the SQL condition
 * where (NULL: all) are applied (a service applies them as they come, or
 * once their message is written); on a different count fails, printing
 * the receipts table and the tails of dir's logs. where is the test's own
 * constant text. */
static inline void tu_wait_receipts_where(const char *dir, const char *db, const char *where,
                                          int64_t n)
{
    char sql[1024], cmd[4096];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM receipts WHERE applied_at IS NOT NULL AND (%s)",
             where ? where : "1 = 1");
    int64_t got = tu_sql1(dir, db, sql);
    for (int i = 0; i < 200 && got < n; i++) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        got = tu_sql1(dir, db, sql);
    }
    if (got == n)
        return;
    if (strncmp(db, "postgresql://", 13) == 0)
        snprintf(cmd, sizeof cmd,
                 "psql -X '%s' -c 'SELECT * FROM receipts' >&2; tail -n 40 '%s'/*.log >&2", db,
                 dir);
    else
        snprintf(cmd, sizeof cmd,
                 "sqlite3 -header '%s/%s' 'SELECT * FROM receipts' >&2; tail -n 40 '%s'/*.log >&2",
                 dir, db, dir);
    if (system(cmd)) {
    }
    fail_msg("%lld receipts applied (%s), want %lld", (long long)got, where ? where : "all",
             (long long)n);
}

/* Waits until exactly n receipts in dir/db are applied (above). */
static inline void tu_wait_receipts(const char *dir, const char *db, int64_t n)
{
    tu_wait_receipts_where(dir, db, NULL, n);
}

/* An absolute path into the source tree ($HERALD_SRC, else the current
 * folder): tests run herald and helpers in their own folders. */
static inline char *tu_src_path(const char *rel)
{
    const char *root = getenv("HERALD_SRC");
    char cwd[2048];
    if (!root || *root != '/') {
        assert_non_null(getcwd(cwd, sizeof cwd));
        if (root) {
            size_t n = strlen(cwd);
            snprintf(cwd + n, sizeof cwd - n, "/%s", root);
        }
        root = cwd;
    }
    return tu_path(root, rel);
}

/* Builds the source tree's tests/NAME.c (with cflags, "" for none) into
 * an LD_PRELOAD shim in dir; its path, to free. */
static inline char *tu_shim_build(const char *dir, const char *name, const char *cflags)
{
    char rel[128], so[128], cmd[4096];
    snprintf(rel, sizeof rel, "tests/%s.c", name);
    snprintf(so, sizeof so, "%s.so", name);
    char *shim = tu_path(dir, so), *src = tu_src_path(rel);
    snprintf(cmd, sizeof cmd, "cc -shared -fPIC -O1 %s -o '%s' '%s' -ldl 2>&1 && echo built",
             cflags, shim, src);
    char *out = tu_sh(cmd);
    assert_contains(out, "built");
    free(out);
    free(src);
    return shim;
}

/* LD_PRELOAD set to a shim for the processes spawned until
 * tu_preload_end, which puts ASAN_OPTIONS back: an ASan build wants its
 * runtime first, and the shim comes before it. */
struct tu_preload {
    char *asan_was;
};

static inline void tu_preload_begin(struct tu_preload *p, const char *shim)
{
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[512];
    p->asan_was = asan ? hd_xstrdup(asan) : NULL;
    snprintf(opts, sizeof opts, "%s%sverify_asan_link_order=0", asan ? asan : "", asan ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    setenv("LD_PRELOAD", shim, 1);
}

static inline void tu_preload_end(struct tu_preload *p)
{
    unsetenv("LD_PRELOAD");
    if (p->asan_was)
        setenv("ASAN_OPTIONS", p->asan_was, 1);
    else
        unsetenv("ASAN_OPTIONS");
    free(p->asan_was);
    p->asan_was = NULL;
}

/* A new temporary folder with templates/ linked to the source tree's. */
static inline char *tu_tmpdir_templates(void)
{
    char *d = tu_tmpdir(), *tpl = tu_src_path("templates"), *link = tu_path(d, "templates");
    assert_int_equal(symlink(tpl, link), 0);
    free(tpl);
    free(link);
    return d;
}

/* The example store the node tests copy to PostgreSQL, in a new folder
 * (returned; the caller removes it): the example contacts and the segment
 * "shanghai", under the shipped configuration (HERALD_CONFIG) at 09:00Z
 * (HERALD_NOW; 17:00 there, outside quiet hours, so no message waits for
 * a later time), with PGPASSWORD unset. */
static inline char *tu_example_store(void)
{
    char *src = tu_src_path("etc/herald.conf"), *csv = tu_src_path("examples/contacts.csv");
    setenv("HERALD_CONFIG", src, 1);
    setenv("HERALD_NOW", "2026-11-22T09:00:00Z", 1);
    unsetenv("PGPASSWORD");
    char *dir = tu_tmpdir_templates();
    tu_herald_ok_argv(dir, (const char *const[]){"init", NULL});
    tu_herald_ok_argv(
        dir, (const char *const[]){"contacts", "import", csv, "--default-region", "CN", NULL});
    tu_herald_ok_argv(dir, (const char *const[]){"segment", "define", "shanghai",
                                                 "timezone = \"Asia/Shanghai\"", NULL});
    free(src);
    free(csv);
    return dir;
}

/* The store the link tests share, in dir whose h.conf (templates = tpl) is
 * written: tpl/pages linked to the source tree's page templates, promo as
 * tpl/promo.tmpl, the contacts of csv imported and the segment 'all'. */
static inline void tu_serve_store(const char *dir, const char *promo, const char *csv)
{
    char *tpl = tu_path(dir, "tpl"), *pages = tu_path(dir, "tpl/pages");
    char *src = tu_src_path("templates/pages"), *tp = tu_path(dir, "tpl/promo.tmpl");
    char *cp = tu_path(dir, "c.csv");
    assert_int_equal(mkdir(tpl, 0700), 0);
    assert_int_equal(symlink(src, pages), 0);
    tu_write(tp, promo);
    tu_write(cp, csv);
    TU_HERALD_OK(dir, "init");
    TU_HERALD_OK(dir, "contacts", "import", "c.csv");
    TU_HERALD_OK(dir, "segment", "define", "all", "email exists");
    free(tpl);
    free(pages);
    free(src);
    free(tp);
    free(cp);
}

/* Starts the real `herald serve --listen LISTEN` in dir, or with run
 * `herald run --serve --listen LISTEN` (its stderr appended to dir/serve.log,
 * or run.log) and waits, bounded, for the "listening on" line it prints
 * once bound; returns its pid and the port in *port. */
static inline pid_t tu_listen_start(const char *dir, bool run, const char *listen, int *port)
{
    int out[2];
    assert_int_equal(pipe(out), 0);
    char *log = tu_path(dir, run ? "run.log" : "serve.log");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        if (chdir(dir) != 0 || !freopen(log, "ab", stderr))
            _exit(126);
        if (run)
            execl(tu_herald_bin(), tu_herald_bin(), "run", "--serve", "--listen", listen,
                  (char *)NULL);
        else
            execl(tu_herald_bin(), tu_herald_bin(), "serve", "--listen", listen, (char *)NULL);
        _exit(127);
    }
    free(log);
    close(out[1]);
    char line[128];
    tu_first_line(out[0], line, sizeof line);
    if (sscanf(line, "listening on http://127.0.0.1:%d", port) != 1)
        fail_msg("herald %s did not start: '%s'", run ? "run --serve" : "serve", line);
    return pid;
}

/* herald serve on LISTEN in dir (tu_listen_start). */
static inline pid_t tu_serve_start(const char *dir, const char *listen, int *port)
{
    return tu_listen_start(dir, false, listen, port);
}

/* SIGTERM to herald serve; returns its exit status (128 + signal when
 * killed: after 5 s it is). */
static inline int tu_serve_stop(pid_t pid)
{
    int st = 0;
    kill(pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        struct timespec ts = {0, 25 * 1000000L};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    fail_msg("herald serve did not stop within 5 s of SIGTERM");
    return -1;
}

#endif
