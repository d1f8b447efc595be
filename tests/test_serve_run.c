/* test_serve_run: `herald run --serve` (the scheduler, the dispatcher and
 * the HTTP service in one process) and the service's own TLS ([serve]
 * tls_cert_file, tls_key_file), end to end through the real binary: a
 * campaign fires and goes to the outbox while the same process answers
 * /healthz and the one-click POST of a link in that outbox; SIGHUP still
 * reloads; SIGTERM finishes a request in flight, refuses new connections
 * and exits 0. Concurrent one-clicks are each recorded once through the
 * group commit, and a batch the database refuses is answered 503 with
 * nothing written. The TLS tests make self-signed certificates with `openssl
 * req` in the test's folder and talk with `curl --cacert`. The cases run on
 * a SQLite file and on a PostgreSQL store (but the one about SQLite's
 * write lock held by another process). */
#include "testnet.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "herald/token.h"

static char *dir;
static const char *db = "h.db";   /* the store: "h.db" in dir, or pg_uri */
static char *pg_uri, pg_name[64]; /* the PostgreSQL run's database */

static const char tpl_promo[] = "description: run --serve test\ncategory: marketing\n"
                                "from: Acme <hello@example.com>\n\n"
                                "--- email.subject\nHi {{ first_name }}\n"
                                "--- email.text\nNews. Unsubscribe: {{ unsubscribe_url }}\n"
                                "Preferences: {{ preferences_url }}\n";

static void put(const char *name, const char *text)
{
    char *p = tu_path(dir, name);
    tu_write(p, text);
    free(p);
}

/* h.conf: the outbox, debug logging, [serve] with public_url and extra. */
static void conf(const char *public_url, const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[herald]\ndatabase = %s\ntemplates = tpl\nlog_level = debug\n"
             "[serve]\npublic_url = %s\nsecret_file = var/herald.secret\n%s",
             db, public_url, extra);
    put("h.conf", text);
}

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    setenv("HERALD_NOW", "2026-11-22T12:00:00Z", 1);
    setenv("HERALD_CONFIG", "h.conf", 1);
    conf("http://127.0.0.1:8025", "");
    const char *src = getenv("HERALD_SRC");
    char pages[4096];
    snprintf(pages, sizeof pages, "%s/templates/pages", src ? src : ".");
    if (pages[0] != '/')
        fail_msg("HERALD_SRC must be an absolute path");
    char *tpl = tu_path(dir, "tpl"), *link = tu_path(dir, "tpl/pages");
    assert_int_equal(mkdir(tpl, 0700), 0);
    assert_int_equal(symlink(pages, link), 0);
    free(tpl);
    free(link);
    put("tpl/promo.tmpl", tpl_promo);
    put("c.csv", "id,email,first_name\nr1,r1@example.com,Ann\nr2,r2@example.com,Bo\n"
                 "r3,r3@example.com,Cy\n");
    TU_HERALD_OK(dir, "init");
    TU_HERALD_OK(dir, "contacts", "import", "c.csv");
    TU_HERALD_OK(dir, "segment", "define", "all", "email exists");
    return 0;
}

/* The same with the store on a fresh PostgreSQL database. */
static int setup_pg(void **state)
{
    pg_uri = tu_pg_db(pg_name);
    db = pg_uri;
    return setup(state);
}

/* The herald processes started and not yet reaped: a case that fails
 * before finish() leaves its server running, which teardown stops. */
#define LIVE_MAX 8
static pid_t live[LIVE_MAX];

static void live_set(pid_t old, pid_t now)
{
    for (int i = 0; i < LIVE_MAX; i++)
        if (live[i] == old) {
            live[i] = now;
            return;
        }
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < LIVE_MAX; i++)
        if (live[i] > 0) {
            kill(live[i], SIGKILL);
            waitpid(live[i], NULL, 0);
            live[i] = 0;
        }
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

/* A herald process in the background: its pid and the port it printed. */
struct proc {
    pid_t pid;
    int port;
};

/* Starts herald with args (NULL-terminated) in dir, stderr to err.log,
 * and waits (bounded) for "listening on SCHEME://127.0.0.1:PORT". */
static void start(struct proc *p, const char *scheme, const char *const *args)
{
    int out[2];
    const char *argv[16] = {tu_herald_bin()};
    int n = 1;
    while (*args && n < 15)
        argv[n++] = *args++;
    argv[n] = NULL;
    assert_int_equal(pipe(out), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        if (chdir(dir) != 0 || !freopen("err.log", "ab", stderr))
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    live_set(0, p->pid);
    char line[160], want[64];
    tu_first_line(out[0], line, sizeof line);
    snprintf(want, sizeof want, "listening on %s://127.0.0.1:%%d", scheme);
    if (sscanf(line, want, &p->port) != 1)
        fail_msg("herald %s did not start: '%s'", argv[1], line);
}

/* Sends sig; waits (bounded) for the exit; returns its status. */
static int finish(struct proc *p, int sig)
{
    int st = 0;
    kill(p->pid, sig);
    for (int i = 0; i < 600; i++) {
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            live_set(p->pid, 0);
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        struct timespec ts = {0, 25 * 1000000L};
        nanosleep(&ts, NULL);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
    live_set(p->pid, 0);
    fail_msg("herald did not stop within 15 s");
    return -1;
}

/* curl with extra arguments (NULL-terminated) and the URL last; returns
 * the HTTP status (0: no HTTP answer), the body in *body if asked. */
static int curl(char **body, const char *const *extra)
{
    const char *argv[24] = {"curl", "-s", "-g", "--max-time", "10", "-w", "\n%{http_code}"};
    int n = 7;
    while (*extra && n < 23)
        argv[n++] = *extra++;
    argv[n] = NULL;
    struct tu_run r;
    tu_exec(&r, dir, NULL, argv);
    char *nl = strrchr(r.out, '\n');
    int code = nl ? atoi(nl + 1) : 0;
    if (nl)
        *nl = '\0';
    if (body)
        *body = hd_xstrdup(r.out);
    tu_run_release(&r);
    return code;
}

static int get(int port, const char *path, char **body)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    return curl(body, (const char *const[]){url, NULL});
}

static int one_click(int port, const char *path)
{
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    return curl(NULL,
                (const char *const[]){"--data-binary", "List-Unsubscribe=One-Click", url, NULL});
}

static int64_t sql1(const char *q)
{
    return tu_sql1(dir, db, q);
}

/* The outbox's emails (bounded wait until there are want of them), and
 * the List-Unsubscribe URL of the first, from "<" to ">". */
static char *await_outbox(int want)
{
    char *d = tu_path(dir, "var/outbox/email/new"), *url = NULL;
    for (int i = 0; i < 400 && !url; i++) {
        DIR *dd = opendir(d);
        struct dirent *e;
        int n = 0;
        char first[4096] = "";
        while (dd && (e = readdir(dd)) != NULL)
            if (strstr(e->d_name, ".eml") && n++ == 0)
                snprintf(first, sizeof first, "%s/%s", d, e->d_name);
        if (dd)
            closedir(dd);
        if (n >= want) {
            char *eml = tu_read(first), *h = eml ? strstr(eml, "\nList-Unsubscribe: <") : NULL;
            assert_non_null(h);
            h += strlen("\nList-Unsubscribe: <");
            url = hd_xstrndup(h, strcspn(h, ">"));
            free(eml);
        } else {
            struct timespec ts = {0, 25 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    free(d);
    if (!url)
        fail_msg("the outbox did not get %d emails", want);
    return url;
}

/* Runs the Python script (in dir) with p's port, the path of url (or
 * nothing) and p's pid; returns its stdout (the caller frees). */
static char *py(const char *script, const struct proc *p, const char *url)
{
    char port[16], pid[16];
    snprintf(port, sizeof port, "%d", p->port);
    snprintf(pid, sizeof pid, "%d", (int)p->pid);
    struct tu_run r;
    tu_exec(&r, dir, NULL,
            (const char *const[]){"/usr/bin/python3", script, port, pid,
                                  url ? strstr(url, "/u/") : NULL, NULL});
    char *out = r.out;
    r.out = NULL;
    tu_run_release(&r);
    return out;
}

static char *read_log(void)
{
    char *p = tu_path(dir, "err.log"), *t = tu_read(p);
    free(p);
    return t ? t : hd_xstrdup("");
}

/* One process fires the campaign and sends it while it answers /healthz
 * and the one-click POST of a link it has just sent; SIGHUP reloads;
 * SIGTERM ends it all with 0. */
static void test_serve_run_campaign(void **state)
{
    (void)state;
    struct proc p;
    char *body = NULL;
    TU_HERALD_OK(dir, "campaign", "create", "promo", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--now");
    start(&p, "http", (const char *const[]){"run", "--serve", "--listen", "127.0.0.1:0", NULL});
    assert_int_equal(get(p.port, "/healthz", &body), 200);
    assert_string_equal(body, "ok\n");
    free(body);
    char *url = await_outbox(3);
    const char *path = strstr(url, "/u/v1.");
    assert_non_null(path);
    assert_int_equal(strncmp(url, "http://127.0.0.1:8025/u/", 24), 0);
    assert_int_equal(one_click(p.port, path), 200);
    assert_int_equal(one_click(p.port, path), 200);
    assert_int_equal(sql1("SELECT count(*) FROM consent WHERE status = 'opted_out' AND source = "
                          "'unsubscribe'"),
                     1);
    /* the dispatcher recorded every message as sent, in this same process */
    for (int i = 0; i < 200 && sql1("SELECT count(*) FROM messages WHERE state = 2") != 3; i++) {
        struct timespec ts = {0, 25 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(sql1("SELECT count(*) FROM messages WHERE state = 2"), 3);
    /* SIGHUP reloads the dispatcher's configuration; the service goes on */
    kill(p.pid, SIGHUP);
    char *log = NULL;
    for (int i = 0; i < 200; i++) {
        free(log);
        log = read_log();
        if (strstr(log, "configuration reloaded"))
            break;
        struct timespec ts = {0, 25 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_contains(log, "configuration reloaded from h.conf");
    free(log);
    assert_int_equal(get(p.port, "/healthz", NULL), 200);
    assert_int_equal(finish(&p, SIGTERM), 0);
    log = read_log();
    assert_contains(log, "herald run: dispatching and serving");
    assert_contains(log, "serve: stopping: finishing the requests in flight");
    assert_contains(log, "herald run: stopped; 3 sent");
    assert_contains(log, "http: POST /u/* 200");
    assert_not_contains(log, "libmicrohttpd: MHD_OPTION");
    assert_not_contains(log, path + 3); /* never the token */
    free(log);
    /* the port is closed */
    assert_int_equal(get(p.port, "/healthz", NULL), 0);
    free(url);
}

/* SIGTERM while a one-click POST is half sent: it is answered, a new
 * connection is refused, and the process exits 0 (SIGINT the same). */
static void test_serve_run_graceful(void **state)
{
    (void)state;
    put("slow.py", "import socket, os, signal, sys, time\n"
                   "port, pid, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]\n"
                   "c = socket.create_connection(('127.0.0.1', port))\n"
                   "c.sendall(b'POST ' + path.encode() + b' HTTP/1.1\\r\\nHost: x\\r\\n'\n"
                   "          b'Content-Length: 26\\r\\n\\r\\nList-Unsub')\n"
                   "time.sleep(0.3)\n"
                   "os.kill(pid, signal.SIGTERM)\n"
                   "time.sleep(0.5)\n"
                   "try:\n"
                   "    socket.create_connection(('127.0.0.1', port), timeout=2).close()\n"
                   "    print('accepted')\n"
                   "except OSError:\n"
                   "    print('refused')\n"
                   "c.sendall(b'scribe=One-Click')\n"
                   "print(c.recv(4096).split(b'\\r\\n')[0].decode())\n");
    struct proc p;
    TU_HERALD_OK(dir, "campaign", "create", "promo", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--now");
    start(&p, "http", (const char *const[]){"run", "--serve", "--listen", "127.0.0.1:0", NULL});
    char *url = await_outbox(3), *out = py("slow.py", &p, url);
    assert_contains(out, "refused");
    assert_contains(out, "HTTP/1.1 200 OK");
    free(out);
    assert_int_equal(finish(&p, 0), 0);
    assert_int_equal(sql1("SELECT count(*) FROM consent WHERE status = 'opted_out'"), 1);
    free(url);
    start(&p, "http", (const char *const[]){"run", "--serve", "--listen", "127.0.0.1:0", NULL});
    assert_int_equal(finish(&p, SIGINT), 0);
}

/* --listen needs --serve, --serve is not for --once, and a port in use
 * is an error before anything is dispatched. */
static void test_serve_run_usage(void **state)
{
    (void)state;
    struct tu_run r;
    tu_herald(&r, dir, NULL, "run", "--listen", "127.0.0.1:0", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "--listen goes with --serve");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "run", "--once", "--serve", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "--serve runs until stopped: not with --once");
    tu_run_release(&r);
    struct proc p;
    char busy[64];
    start(&p, "http", (const char *const[]){"serve", "--listen", "127.0.0.1:0", NULL});
    snprintf(busy, sizeof busy, "127.0.0.1:%d", p.port);
    TU_HERALD_OK(dir, "campaign", "create", "promo", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--now");
    tu_herald(&r, dir, NULL, "run", "--serve", "--listen", busy, NULL);
    assert_int_not_equal(r.status, 0);
    assert_contains(r.err, "cannot listen on '127.0.0.1:");
    tu_run_release(&r);
    assert_int_equal(sql1("SELECT count(*) FROM messages"), 0);
    assert_int_equal(finish(&p, SIGTERM), 0);
}

/* ---- one-click group commit ------------------------------------------------ */

/* The path /u/TOKEN of the link the dispatcher would put in message (made
 * here, sent) to contact; a static buffer. */
static const char *link_path(int64_t contact, int64_t message)
{
    static char url[HD_LINK_MAX];
    char *cp = tu_path(dir, "h.conf"), cwd[4096];
    struct hd_config *cfg = NULL;
    struct hd_err err = {0};
    tu_sent_message(dir, db, contact, message);
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(hd_config_load(cp, &cfg, &err), 0);
    assert_int_equal(chdir(cwd), 0);
    struct hd_token t = {contact, message, HD_CH_EMAIL, HD_CAT_MARKETING, 0};
    assert_true(hd_token_links(&cfg->serve, &t, 1795348800, url, NULL));
    hd_config_free(cfg);
    free(cp);
    return strstr(url, "/u/");
}

/* A request MHD refuses before the handler sees it (headers over its
 * limit: 431), then a one-click whose body is still coming when SIGTERM
 * arrives: the stop waits for it, it is answered 200 and written. The
 * refused request was taken off the count in flight though never on it,
 * and the stop went on at once, under the one-click (a review found it). */
static void test_serve_run_stop_after_refused(void **state)
{
    (void)state;
    put("slow.py", "import os, signal, socket, sys, time\n"
                   "port, pid, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]\n"
                   "big = socket.create_connection(('127.0.0.1', port), timeout=10)\n"
                   "big.sendall(b'GET /healthz HTTP/1.1\\r\\nHost: x\\r\\nX-Big: ' + b'a' * 20000"
                   " + b'\\r\\n\\r\\n')\n"
                   "first = big.recv(64).split(b' ')[1].decode()\n"
                   "big.close(); time.sleep(0.3)\n"
                   "c = socket.create_connection(('127.0.0.1', port), timeout=10)\n"
                   "c.sendall(('POST %s HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: '\n"
                   "           'application/x-www-form-urlencoded\\r\\nContent-Length: 26\\r\\n'\n"
                   "           '\\r\\nList-Unsub' % path).encode())\n"
                   "time.sleep(0.5); os.kill(pid, signal.SIGTERM); time.sleep(1.5)\n"
                   "try:\n"
                   "    c.sendall(b'scribe=One-Click'); r = c.recv(4096)\n"
                   "except OSError:\n"
                   "    r = b''\n"
                   "print(first, r.split(b' ')[1].decode() if r else 'no answer')\n");
    const char *path = link_path(1, 4001);
    struct proc p;
    start(&p, "http", (const char *const[]){"serve", "--listen", "127.0.0.1:0", NULL});
    char *out = py("slow.py", &p, path);
    assert_string_equal(out, "431 200\n");
    free(out);
    assert_int_equal(finish(&p, 0), 0); /* the SIGTERM above ends it */
    assert_int_equal(sql1("SELECT count(*) FROM consent WHERE message_id = 4001 AND status = "
                          "'opted_out'"),
                     1);
}

/* Many one-clicks at once, each a different contact's link: every one is
 * answered 200 and recorded exactly once, whatever batches the writer made
 * of them; a repeat is 200 and writes nothing. */
static void test_serve_run_clicks(void **state)
{
    (void)state;
    char csv[64 * 200], *w = csv;
    w += snprintf(w, sizeof csv, "id,email\n");
    for (int i = 0; i < 200; i++)
        w += snprintf(w, sizeof csv - (size_t)(w - csv), "m%d,m%d@example.com\n", i, i);
    put("m.csv", csv);
    TU_HERALD_OK(dir, "contacts", "import", "m.csv");
    struct hd_buf links;
    hd_buf_init(&links);
    for (int64_t id = 1; id <= 203; id++)
        hd_buf_addf(&links, "%s\n", link_path(id, 1000 + id));
    put("links.txt", links.data);
    hd_buf_release(&links);
    put("many.py", "import http.client, sys, threading\n"
                   "port, links = int(sys.argv[1]), open('links.txt').read().split()\n"
                   "codes, lock = {}, threading.Lock()\n"
                   "def run(part):\n"
                   "    c = http.client.HTTPConnection('127.0.0.1', port, timeout=20)\n"
                   "    for path in part:\n"
                   "        c.request('POST', path, 'List-Unsubscribe=One-Click',\n"
                   "                  {'Content-Type': 'application/x-www-form-urlencoded'})\n"
                   "        r = c.getresponse(); r.read()\n"
                   "        with lock: codes[r.status] = codes.get(r.status, 0) + 1\n"
                   "ts = [threading.Thread(target=run, args=(links[k::32],)) for k in range(32)]\n"
                   "[t.start() for t in ts]; [t.join() for t in ts]\n"
                   "print(sorted(codes.items()))\n");
    struct proc p;
    start(&p, "http", (const char *const[]){"serve", "--listen", "127.0.0.1:0", NULL});
    for (int round = 0; round < 2; round++) {
        char *out = py("many.py", &p, NULL);
        assert_string_equal(out, "[(200, 203)]\n");
        free(out);
        assert_int_equal(sql1("SELECT count(*) FROM consent WHERE status = 'opted_out' AND "
                              "message_id = 1000 + contact_id"),
                         203);
        assert_int_equal(sql1("SELECT count(*) FROM consent"), 203);
    }
    char *body = NULL;
    assert_int_equal(get(p.port, "/metrics", &body), 200);
    assert_contains(body, "herald_http_requests_total{route=\"unsubscribe\",code=\"200\"} 406\n");
    free(body);
    assert_int_equal(finish(&p, SIGTERM), 0);
    char *log = read_log();
    assert_contains(log, "serve: contact 203 opted out of marketing email (link of message 1203)");
    free(log);
}

/* The database stays locked by another writer past busy_timeout: the
 * click is answered 503 and nothing of its batch is written; once the lock
 * is gone the same link works. */
static void test_serve_run_click_busy(void **state)
{
    (void)state;
    put("h.conf", "[herald]\ndatabase = h.db\ntemplates = tpl\nbusy_timeout = 1s\n"
                  "[serve]\npublic_url = http://127.0.0.1:8025\n"
                  "secret_file = var/herald.secret\n");
    TU_HERALD_OK(dir, "campaign", "create", "promo", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--now");
    TU_HERALD_OK(dir, "send", "promo");
    char *url = await_outbox(3);
    put("busy.py",
        "import sqlite3, subprocess, sys\n"
        "db = sqlite3.connect('h.db', isolation_level=None)\n"
        "db.execute('BEGIN IMMEDIATE')\n"
        "def click():\n"
        "    return subprocess.run(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}',\n"
        "        '--data-binary', 'List-Unsubscribe=One-Click',\n"
        "        'http://127.0.0.1:' + sys.argv[1] + sys.argv[3]],\n"
        "        capture_output=True, text=True).stdout\n"
        "print(click())\n"
        "db.execute('ROLLBACK')\n"
        "print(click())\n");
    struct proc p;
    start(&p, "http", (const char *const[]){"serve", "--listen", "127.0.0.1:0", NULL});
    char *out = py("busy.py", &p, url);
    assert_string_equal(out, "503\n200\n");
    free(out);
    assert_int_equal(sql1("SELECT count(*) FROM consent"), 1);
    assert_int_equal(finish(&p, SIGTERM), 0);
    char *log = read_log();
    assert_contains(log, "serve: recording an opt-out: ");
    free(log);
    free(url);
}

/* ---- metrics off the clicks' lock ----------------------------------------- */

/* A scrape reads the delivery log on a connection of its own, without the
 * lock the clicks take: a one-click made while a scrape's read is open is
 * answered before the scrape is. HERALD_TEST_SCRAPE_MS holds the read open
 * for 4 s at its first row (a 100,000-row log took 0.1 to 0.4 s, too close
 * to a click's time under ASan on a loaded machine to tell one from the
 * other by the clock). The link's page is fetched first, which opens the
 * service's own connection, so the click does not pay for that. */
static void test_serve_run_metrics_unlocked(void **state)
{
    (void)state;
    TU_HERALD_OK(dir, "campaign", "create", "promo", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--now");
    TU_HERALD_OK(dir, "send", "promo");
    char *url = await_outbox(3);
    assert_int_equal(
        sql1("WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < 100000) "
             "INSERT INTO attempts (message_id, attempt, at, done_at, channel, provider, outcome, "
             "campaign_id, run_id, contact_id, variant, state) SELECT x, 1, 1795000000000 + x, "
             "1795000000040 + x + x % 50, 'email', 'box', CASE x % 7 WHEN 0 THEN 'temporary' "
             "ELSE 'accepted' END, 1, 1, x % 3 + 1, 'a', 2 FROM i; SELECT count(*) FROM attempts"),
        100003);
    put("during.py",
        "import http.client, sys, threading, time\n"
        "port, path = int(sys.argv[1]), sys.argv[3]\n"
        "took = {}\n"
        "w = http.client.HTTPConnection('127.0.0.1', port)\n"
        "w.request('GET', path); w.getresponse().read()\n"
        "def scrape():\n"
        "    c = http.client.HTTPConnection('127.0.0.1', port)\n"
        "    t = time.monotonic(); c.request('GET', '/metrics')\n"
        "    r = c.getresponse(); r.read(); took['scrape'] = time.monotonic() - t\n"
        "th = threading.Thread(target=scrape); th.start()\n"
        "time.sleep(0.5)\n"
        "c = http.client.HTTPConnection('127.0.0.1', port)\n"
        "c.request('POST', path, 'List-Unsubscribe=One-Click',\n"
        "          {'Content-Type': 'application/x-www-form-urlencoded'})\n"
        "r = c.getresponse(); r.read()\n"
        "first = 'click' if th.is_alive() else 'scrape'\n"
        "th.join()\n"
        "print(r.status, first, 'first, the scrape held', took['scrape'] >= 4)\n");
    struct proc p;
    setenv("HERALD_TEST", "1", 1);
    setenv("HERALD_TEST_SCRAPE_MS", "4000", 1);
    start(&p, "http", (const char *const[]){"serve", "--listen", "127.0.0.1:0", NULL});
    unsetenv("HERALD_TEST_SCRAPE_MS");
    unsetenv("HERALD_TEST");
    char *out = py("during.py", &p, url);
    assert_string_equal(out, "200 click first, the scrape held True\n");
    free(out);
    char *body = NULL;
    assert_int_equal(get(p.port, "/metrics", &body), 200);
    assert_contains(body, "provider=\"box\",outcome=\"accepted\"} 85715\n");
    assert_contains(body,
                    "herald_unsubscribes_total{channel=\"email\",source=\"unsubscribe\"} 1\n");
    free(body);
    assert_int_equal(finish(&p, SIGTERM), 0);
    free(url);
}

/* ---- TLS ----------------------------------------------------------------- */

/* A self-signed certificate for localhost: NAME.pem and NAME.key. */
static void self_signed(const char *name)
{
    char key[64], pem[64];
    snprintf(key, sizeof key, "%s.key", name);
    snprintf(pem, sizeof pem, "%s.pem", name);
    tu_run_in(dir, (const char *const[]){"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                                         "-out", pem, "-days", "2", "-subj", "/CN=localhost",
                                         "-addext", "subjectAltName=DNS:localhost", NULL});
}

/* The service on TLS: https with the certificate's CA (itself), plain
 * HTTP to the same port fails, and the links are the https public_url. */
static void test_serve_run_tls(void **state)
{
    (void)state;
    self_signed("tls");
    conf("https://localhost:8443", "tls_cert_file = tls.pem\ntls_key_file = tls.key\n");
    TU_HERALD_OK(dir, "campaign", "create", "promo", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--now");
    struct proc p;
    start(&p, "https", (const char *const[]){"run", "--serve", "--listen", "127.0.0.1:0", NULL});
    char *url = await_outbox(3), at[128], health[128], link[512], *body = NULL;
    assert_int_equal(strncmp(url, "https://localhost:8443/u/v1.", 28), 0);
    /* localhost:8443 (the public URL) is this process's port */
    snprintf(at, sizeof at, "localhost:8443:127.0.0.1:%d", p.port);
    snprintf(health, sizeof health, "https://localhost:8443/healthz");
    assert_int_equal(
        curl(&body, (const char *const[]){"--cacert", "tls.pem", "--connect-to", at, health, NULL}),
        200);
    assert_string_equal(body, "ok\n");
    free(body);
    snprintf(link, sizeof link, "%s", url);
    assert_int_equal(
        curl(NULL, (const char *const[]){"--cacert", "tls.pem", "--connect-to", at, "--data-binary",
                                         "List-Unsubscribe=One-Click", link, NULL}),
        200);
    assert_int_equal(sql1("SELECT count(*) FROM consent WHERE status = 'opted_out'"), 1);
    /* without the CA, curl does not trust it; plain HTTP gets no answer */
    assert_int_equal(curl(NULL, (const char *const[]){"--connect-to", at, health, NULL}), 0);
    assert_int_equal(get(p.port, "/healthz", NULL), 0);
    assert_int_equal(finish(&p, SIGTERM), 0);
    char *log = read_log();
    assert_contains(log, " workers, TLS)"); /* one per core */
    assert_not_contains(log, "libmicrohttpd: MHD_OPTION");
    free(log);
    free(url);
}

/* A TLS file that is missing, unreadable, not PEM, encrypted, or the key
 * of another certificate: herald serve (and run --serve) refuses to start
 * with the file's name, and never shows the key's text. */
static void test_serve_run_tls_errors(void **state)
{
    (void)state;
    static const struct {
        const char *cert, *key, *error;
    } cases[] = {
        {"none.pem", "a.key", "[serve] tls_cert_file 'none.pem': cannot read it: No such file"},
        {"a.pem", "none.key", "[serve] tls_key_file 'none.key': cannot read it: No such file"},
        {"a.pem", "locked.key", "[serve] tls_key_file 'locked.key': cannot read it: Permission"},
        {"junk.pem", "a.key", "[serve] tls_cert_file 'junk.pem' holds no PEM certificate"},
        {"empty.pem", "a.key", "[serve] tls_cert_file 'empty.pem' is empty, not PEM text"},
        {"a.pem", "junk.key", "[serve] tls_key_file 'junk.key' holds no unencrypted PEM private"},
        {"a.pem", "enc.key", "[serve] tls_key_file 'enc.key' holds no unencrypted PEM private"},
        {"a.pem", "b.key",
         "[serve] tls_key_file 'b.key' is not the private key of the "
         "certificate in tls_cert_file 'a.pem'"},
    };
    self_signed("a");
    self_signed("b");
    put("junk.pem", "not a certificate\n");
    put("empty.pem", "");
    put("junk.key", "SECRET-KEY-MATERIAL-0123456789\n");
    tu_run_in(dir, (const char *const[]){"openssl", "pkey", "-in", "a.key", "-aes256", "-passout",
                                         "pass:pw", "-out", "enc.key", NULL});
    tu_run_in(dir, (const char *const[]){"cp", "a.key", "locked.key", NULL});
    tu_run_in(dir, (const char *const[]){"chmod", "000", "locked.key", NULL});
    bool root = geteuid() == 0; /* root reads a file of mode 000 */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (root && strstr(cases[i].key, "locked"))
            continue;
        char extra[256];
        snprintf(extra, sizeof extra, "tls_cert_file = %s\ntls_key_file = %s\n", cases[i].cert,
                 cases[i].key);
        conf("https://localhost:8443", extra);
        struct tu_run r;
        if (i % 2)
            tu_herald(&r, dir, NULL, "serve", "--listen", "127.0.0.1:0", NULL);
        else
            tu_herald(&r, dir, NULL, "run", "--serve", "--listen", "127.0.0.1:0", NULL);
        if (r.status == 0)
            fail_msg("case %zu started", i);
        assert_contains(r.err, cases[i].error);
        assert_not_contains(r.err, "SECRET-KEY-MATERIAL");
        assert_not_contains(r.err, "PRIVATE KEY-----\n");
        tu_run_release(&r);
    }
    /* both or neither */
    conf("https://localhost:8443", "tls_cert_file = a.pem\n");
    struct tu_run r;
    tu_herald(&r, dir, NULL, "config", "check", NULL);
    assert_int_not_equal(r.status, 0);
    assert_contains(r.err,
                    "h.conf:8: [serve] tls_cert_file is set without tls_key_file: give both");
    tu_run_release(&r);
    conf("https://localhost:8443", "tls_key_file = a.key\n");
    tu_herald(&r, dir, NULL, "config", "check", NULL);
    assert_contains(r.err, "[serve] tls_key_file is set without tls_cert_file");
    tu_run_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_serve_run_campaign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_run_graceful, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_run_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_run_clicks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_run_stop_after_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_run_click_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_run_metrics_unlocked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_run_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_run_tls_errors, setup, teardown),
        /* on PostgreSQL: all but SQLite's write lock held by another
         * process, and the TLS configuration errors (no store in them) */
        {"test_serve_run_campaign_pg", test_serve_run_campaign, setup_pg, teardown, NULL},
        {"test_serve_run_graceful_pg", test_serve_run_graceful, setup_pg, teardown, NULL},
        {"test_serve_run_usage_pg", test_serve_run_usage, setup_pg, teardown, NULL},
        {"test_serve_run_clicks_pg", test_serve_run_clicks, setup_pg, teardown, NULL},
        {"test_serve_run_metrics_unlocked_pg", test_serve_run_metrics_unlocked, setup_pg, teardown,
         NULL},
        {"test_serve_run_tls_pg", test_serve_run_tls, setup_pg, teardown, NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
