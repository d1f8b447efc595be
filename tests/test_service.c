/* test_service: herald installed and run as a systemd service, through the
 * real binary. `make install` into a temporary prefix (a build of its own,
 * with that prefix's folders compiled in), then the demo's commands from
 * another folder with no -c and no --db; the unit file through
 * `systemd-analyze verify`; `herald run` under a notify socket this test
 * listens on (READY=1, WATCHDOG=1, STATUS=, STOPPING=1); SIGHUP reloading a
 * good configuration and refusing a bad one; and the journal's fields.
 * The cases of `herald run` and `herald send` run on SQLite, then on
 * PostgreSQL (testboth.h: the configuration names a fresh database). */
#include "testboth.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "herald/log.h"

static const char *src_dir(void)
{
    const char *s = getenv("HERALD_SRC");
    return s ? s : ".";
}

/* each case's store: the default var/herald.db, or on the PostgreSQL run
 * a database */
static struct tu_both stores;

TU_BOTH_FIXTURES(stores)

/* conf ("[herald]\n..."), with the case's store at the end of [herald]
 * on the PostgreSQL run (on SQLite, the default), so the lines before keep
 * their numbers; the caller frees. */
static char *with_store(const char *conf)
{
    struct hd_buf b;
    hd_buf_init(&b);
    if (stores.pg && strncmp(conf, "[herald]\n", 9) == 0) {
        const char *next = strstr(conf, "\n[");
        size_t head = next ? (size_t)(next - conf) + 1 : strlen(conf);
        hd_buf_addf(&b, "%.*sdatabase = %s\n%s", (int)head, conf,
                    tu_both_store(&stores, "var/herald.db"), conf + head);
    } else {
        hd_buf_adds(&b, conf);
    }
    return hd_buf_detach(&b, NULL);
}

/* Writes conf to path (with_store). */
static void write_conf(const char *path, const char *conf)
{
    char *text = with_store(conf);
    tu_write(path, text);
    free(text);
}

/* Runs a program (argv[0] found in PATH) in dir with stdout and stderr in
 * log; returns its exit status. A make run from `make test` would inherit
 * the outer make's variables (B, SAN): they are dropped. */
static int run_prog(const char *dir, const char *log, const char *const argv[])
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        unsetenv("MAKEFLAGS");
        unsetenv("MFLAGS");
        unsetenv("MAKELEVEL");
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || chdir(dir) != 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* A run of herald that must succeed. */
static void ok(struct tu_run *r, const char *what)
{
    if (r->status != 0)
        fail_msg("herald %s: status %d\n%s%s", what, r->status, r->out, r->err);
    tu_run_release(r);
}

/* make install into tmp/prefix, with its own build in tmp/build. */
static void make_install(const char *tmp)
{
    char *log = tu_path(tmp, "make.log");
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_addf(&b, "B=%s/build", tmp);
    char *bvar = hd_buf_detach(&b, NULL);
    hd_buf_addf(&b, "PREFIX=%s/prefix", tmp);
    char *pvar = hd_buf_detach(&b, NULL);
    const char *const make[] = {"make", "-s", "-j2", bvar, pvar, "OPT=-O0", "install", NULL};
    if (run_prog(src_dir(), log, make) != 0) {
        char *text = tu_read(log);
        fail_msg("make install failed:\n%s", text ? text : "");
    }
    free(bvar);
    free(pvar);
    free(log);
}

/* The demo's commands with the installed herald in tmp/work, whose own
 * etc/herald.conf an installed herald does not read: the database and
 * the outbox are in the state folder. */
static void demo_elsewhere(const char *tmp, const char *bin, const char *state_dir)
{
    char *work = tu_path(tmp, "work"), *decoy = tu_path(tmp, "work/etc");
    assert_int_equal(mkdir(work, 0700), 0);
    assert_int_equal(mkdir(decoy, 0700), 0);
    free(decoy);
    decoy = tu_path(work, "etc/herald.conf");
    tu_write(decoy, "[herald]\ndatabase = decoy.db\n");
    char *csv = tu_path(src_dir(), "examples/contacts.csv");
    unsetenv("HERALD_CONFIG");
    setenv("HERALD_NOW", "2026-11-22T09:00:00Z", 1);
    const char *old = getenv("HERALD_BIN");
    char *keep = hd_xstrdup(old ? old : "build/herald");
    setenv("HERALD_BIN", bin, 1); /* tu_herald runs the installed herald */
    struct tu_run r;
    tu_herald(&r, work, NULL, "init", NULL);
    ok(&r, "init");
    tu_herald(&r, work, NULL, "contacts", "import", csv, "--default-region=CN", NULL);
    ok(&r, "contacts import");
    tu_herald(&r, work, NULL, "segment", "define", "churned", "days_since(last_active) > 30", NULL);
    ok(&r, "segment define");
    tu_herald(&r, work, NULL, "campaign", "create", "recall-nov", "--segment", "churned",
              "--template", "recall", "--channels", "email,sms", "--now", NULL);
    ok(&r, "campaign create");
    tu_herald(&r, work, NULL, "send", "recall-nov", NULL);
    ok(&r, "send");
    tu_herald(&r, work, NULL, "log", "--campaign", "recall-nov", NULL);
    setenv("HERALD_BIN", keep, 1);
    assert_contains(r.out, "accepted");
    assert_contains(r.out, state_dir); /* "written to STATE/outbox/..." */
    ok(&r, "log");
    char *db = tu_path(state_dir, "herald.db"), *mail = tu_path(state_dir, "outbox/email/new");
    char *stray = tu_path(work, "var"), *decoy_db = tu_path(work, "decoy.db");
    assert_true(tu_exists(db));
    assert_true(count_files(mail) > 10);
    assert_false(tu_exists(stray));
    assert_false(tu_exists(decoy_db));
    free(db);
    free(mail);
    free(stray);
    free(decoy_db);
    free(keep);
    free(csv);
    free(decoy);
    free(work);
}

/* The unit, as systemd reads it (its man pages aside: they are installed
 * elsewhere). */
static void verify_unit(const char *tmp, const char *unit)
{
    char *log = tu_path(tmp, "verify.log");
    const char *const verify[] = {"systemd-analyze", "verify", "--man=no", unit, NULL};
    int vrc = run_prog(tmp, log, verify);
    if (vrc == 127) {
        printf("test_service: systemd-analyze is not installed: the unit is not verified\n");
    } else if (vrc != 0) {
        char *text = tu_read(log);
        fail_msg("systemd-analyze verify %s: status %d\n%s", unit, vrc, text ? text : "");
    }
    free(log);
}

/* The installed layout, a second install that keeps the configuration an
 * operator edited, a working install from any folder, and the unit. */
static void test_service_install(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir();
    make_install(tmp);
    char *bin = tu_path(tmp, "prefix/bin/herald");
    char *conf = tu_path(tmp, "prefix/etc/herald/herald.conf");
    char *tpl = tu_path(tmp, "prefix/share/herald/templates/recall.tmpl");
    char *state_dir = tu_path(tmp, "prefix/var/lib/herald");
    char *unit = tu_path(tmp, "prefix/lib/systemd/system/herald.service");
    char *sysusers = tu_path(tmp, "prefix/lib/sysusers.d/herald.conf");
    assert_true(tu_exists(bin) && tu_exists(conf) && tu_exists(tpl) && tu_exists(state_dir));
    assert_true(tu_exists(unit) && tu_exists(sysusers));
    struct hd_buf b;
    hd_buf_init(&b);
    char *text = tu_read(conf);
    hd_buf_addf(&b, "\ndatabase = %s/herald.db\n", state_dir);
    assert_contains(text, b.data);
    free(text);
    hd_buf_reset(&b);
    text = tu_read(unit);
    hd_buf_addf(&b, "ExecStart=%s run\n", bin);
    assert_contains(text, b.data);
    assert_contains(text, "Type=notify\n");
    free(text);
    hd_buf_release(&b);

    tu_write(conf, "[herald]\nlog_level = warn\n");
    make_install(tmp);
    text = tu_read(conf);
    assert_string_equal(text, "[herald]\nlog_level = warn\n");
    free(text);
    char *fresh = tu_path(tmp, "prefix/etc/herald/herald.conf.new");
    text = tu_read(fresh);
    assert_contains(text, "[provider outbox]");
    assert_int_equal(rename(fresh, conf), 0);
    free(text);
    free(fresh);

    demo_elsewhere(tmp, bin, state_dir);
    verify_unit(tmp, unit);
    free(bin);
    free(conf);
    free(tpl);
    free(state_dir);
    free(unit);
    free(sysusers);
    tu_rmdir(tmp);
}

/* ---- herald run under a service manager ----------------------------------- */

struct svc {
    char *dir, *conf, *sock_path, *err_path;
    int sock;
    pid_t pid;
    struct hd_buf got; /* every notification so far, each ending in "\n--\n" */
};

static void svc_start(struct svc *s, const char *conf_text, bool watchdog)
{
    memset(s, 0, sizeof *s);
    s->dir = tu_tmpdir();
    s->conf = tu_path(s->dir, "herald.conf");
    s->sock_path = tu_path(s->dir, "notify.sock");
    s->err_path = tu_path(s->dir, "run.err");
    hd_buf_init(&s->got);
    write_conf(s->conf, conf_text);
    char *tpl = tu_path(src_dir(), "templates"), *link = tu_path(s->dir, "templates");
    assert_int_equal(symlink(tpl, link), 0);
    free(tpl);
    free(link);
    struct tu_run r;
    tu_herald(&r, s->dir, NULL, "-c", s->conf, "init", NULL);
    ok(&r, "init");
    s->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(s->sock >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(strlen(s->sock_path) < sizeof sa.sun_path);
    memcpy(sa.sun_path, s->sock_path, strlen(s->sock_path) + 1);
    assert_int_equal(bind(s->sock, (struct sockaddr *)&sa, sizeof sa), 0);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        char pid[32];
        snprintf(pid, sizeof pid, "%ld", (long)getpid());
        setenv("NOTIFY_SOCKET", s->sock_path, 1);
        if (watchdog) {
            setenv("WATCHDOG_USEC", "200000", 1);
            setenv("WATCHDOG_PID", pid, 1);
        }
        int fd = open(s->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || chdir(s->dir) != 0 || dup2(fd, 2) < 0)
            _exit(126);
        execl(tu_herald_bin(), tu_herald_bin(), "-c", s->conf, "run", (char *)NULL);
        _exit(127);
    }
}

/* Reads notifications until one holds needle (the count-th time), for at
 * most 10 s. */
static void svc_expect(struct svc *s, const char *needle, int count)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int seen = 0;
        for (const char *p = s->got.data; p && (p = strstr(p, needle)) != NULL; p++)
            seen++;
        if (seen >= count)
            return;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms > 10000 && kill(s->pid, SIGKILL) >= 0)
            fail_msg("no %s (x%d) from herald run in 10 s; got:\n%s", needle, count,
                     s->got.data ? s->got.data : "");
        struct pollfd pfd = {s->sock, POLLIN, 0};
        if (poll(&pfd, 1, 100) == 1) {
            char buf[4096];
            ssize_t n = recv(s->sock, buf, sizeof buf - 1, 0);
            if (n > 0) {
                hd_buf_add(&s->got, buf, (size_t)n);
                hd_buf_adds(&s->got, "\n--\n");
            }
        }
    }
}

/* Waits (at most 10 s) until herald run's stderr holds needle; returns it. */
static char *svc_log_until(struct svc *s, const char *needle)
{
    for (int i = 0; i < 1000; i++) {
        char *text = tu_read(s->err_path);
        if (text && strstr(text, needle))
            return text;
        free(text);
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    char *text = tu_read(s->err_path);
    kill(s->pid, SIGKILL);
    fail_msg("herald run did not log \"%s\" in 10 s:\n%s", needle, text ? text : "");
    return NULL;
}

static int svc_stop(struct svc *s)
{
    int st;
    kill(s->pid, SIGTERM);
    svc_expect(s, "STOPPING=1", 1);
    assert_int_equal(waitpid(s->pid, &st, 0), s->pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void svc_release(struct svc *s)
{
    close(s->sock);
    hd_buf_release(&s->got);
    free(s->conf);
    free(s->sock_path);
    free(s->err_path);
    tu_rmdir(s->dir);
}

/* READY=1 once running, STATUS= lines, WATCHDOG=1 at half of
 * WATCHDOG_USEC, and STOPPING=1 on SIGTERM, then exit 0. */
static void test_service_notify(void **state)
{
    (void)state;
    struct svc s;
    svc_start(&s, "[herald]\nlog_level = info\n", true);
    svc_expect(&s, "READY=1", 1);
    svc_expect(&s, "STATUS=running", 1);
    /* 200 ms: a ping every 100 ms; five within 10 s at the very least */
    svc_expect(&s, "WATCHDOG=1", 5);
    svc_expect(&s, "STATUS=running: 0 sent", 1); /* the tick's counts */
    assert_int_equal(svc_stop(&s), 0);
    assert_contains(s.got.data, "STATUS=stopping");
    svc_release(&s);
}

/* Without WATCHDOG_USEC there is no ping, though the rest is said. */
static void test_service_no_watchdog(void **state)
{
    (void)state;
    struct svc s;
    svc_start(&s, "[herald]\n", false);
    svc_expect(&s, "READY=1", 1);
    svc_expect(&s, "STATUS=running: 0 sent", 2); /* two ticks: 1 s and more */
    assert_int_equal(svc_stop(&s), 0);
    assert_not_contains(s.got.data, "WATCHDOG=1");
    svc_release(&s);
}

/* SIGHUP: a good file takes effect (debug lines appear), a file with an
 * error is refused and one that changes a provider needs a restart; herald
 * keeps running through both, with the configuration it had. */
static void test_service_reload(void **state)
{
    (void)state;
    struct svc s;
    svc_start(&s, "[herald]\nlog_level = info\n", false);
    svc_expect(&s, "READY=1", 1);
    write_conf(s.conf, "[herald]\nlog_level = debug\n");
    kill(s.pid, SIGHUP);
    free(svc_log_until(&s, "configuration reloaded from"));
    svc_expect(&s, "RELOADING=1", 1);
    svc_expect(&s, "READY=1", 2);

    write_conf(s.conf, "[herald]\nlog_level = loud\n");
    kill(s.pid, SIGHUP);
    char *text = svc_log_until(&s, "reload refused:");
    assert_contains(text, "herald.conf:2: log_level: 'loud' is not one of");
    free(text);

    write_conf(s.conf, "[herald]\nlog_level = debug\n[provider outbox]\ntype = outbox\n"
                       "path = elsewhere\n");
    kill(s.pid, SIGHUP);
    text = svc_log_until(&s, "[provider outbox] path changed");
    assert_contains(text, "takes effect after a restart");
    free(text);
    svc_expect(&s, "READY=1", 4);
    assert_int_equal(waitpid(s.pid, NULL, WNOHANG), 0); /* still running */

    assert_int_equal(svc_stop(&s), 0);
    text = tu_read(s.err_path);
    const char *reloaded = strstr(text, "configuration reloaded from");
    assert_non_null(reloaded);
    /* info before the reload, debug after (the refused files kept it) */
    char *before = hd_xstrndup(text, (size_t)(reloaded - text));
    assert_not_contains(before, " debug: ");
    assert_contains(reloaded, "herald debug: dispatcher: running -> draining");
    free(before);
    free(text);
    svc_release(&s);
}

/* ---- the journal ------------------------------------------------------------ */

/* The entry of a line: its fields, as sd_journal_sendv gets them. */
static void test_service_journal_entry(void **state)
{
    (void)state;
    struct hd_buf f[HD_LOG_JOURNAL_MAX];
    struct hd_log_fields about = {"0190a1b2-c3d4-8e5f-9a0b-1c2d3e4f5a6b", "recall-nov", "outbox"};
    size_t n = hd_log_journal_entry(HD_LOG_WARN, "provider 'outbox' is paused", &about, f);
    assert_int_equal(n, 6);
    assert_string_equal(f[0].data, "MESSAGE=provider 'outbox' is paused");
    assert_string_equal(f[1].data, "PRIORITY=4");
    assert_string_equal(f[2].data, "SYSLOG_IDENTIFIER=herald");
    assert_string_equal(f[3].data, "HERALD_MESSAGE_ID=0190a1b2-c3d4-8e5f-9a0b-1c2d3e4f5a6b");
    assert_string_equal(f[4].data, "HERALD_CAMPAIGN=recall-nov");
    assert_string_equal(f[5].data, "HERALD_PROVIDER=outbox");
    for (size_t i = 0; i < n; i++)
        hd_buf_release(&f[i]);
    /* syslog's priorities; only the fields a line has */
    static const char *const prio[] = {"PRIORITY=3", "PRIORITY=4", "PRIORITY=6", "PRIORITY=7"};
    for (int level = HD_LOG_ERROR; level <= HD_LOG_DEBUG; level++) {
        struct hd_log_fields camp = {.campaign = "c"};
        n = hd_log_journal_entry(level, "x", level == HD_LOG_INFO ? &camp : NULL, f);
        assert_int_equal(n, level == HD_LOG_INFO ? 4 : 3);
        assert_string_equal(f[1].data, prio[level]);
        if (level == HD_LOG_INFO)
            assert_string_equal(f[3].data, "HERALD_CAMPAIGN=c");
        for (size_t i = 0; i < n; i++)
            hd_buf_release(&f[i]);
    }
}

/* dir/few.csv: the header and the first three rows of the example
 * contacts (c0001 to c0003), all a campaign of two needs; the caller
 * frees the path. */
static char *few_contacts(const char *dir)
{
    char *from = tu_path(src_dir(), "examples/contacts.csv"), *text = tu_read(from), *end = text;
    assert_non_null(text);
    for (int lines = 0; lines < 4 && end && *end; lines++)
        if ((end = strchr(end, '\n')) != NULL)
            end++;
    assert_non_null(end);
    *end = '\0';
    char *to = tu_path(dir, "few.csv");
    tu_write(to, text);
    free(text);
    free(from);
    return to;
}

/* A campaign of two example contacts in dir, ready to send (dir/.stderr
 * exists, for JOURNAL_STREAM to name). */
static void journal_fixture(const char *dir, const char *conf_text)
{
    char *conf = tu_path(dir, "etc"), *tpl = tu_path(src_dir(), "templates");
    char *link = tu_path(dir, "templates"), *csv = few_contacts(dir);
    assert_int_equal(mkdir(conf, 0700), 0);
    free(conf);
    conf = tu_path(dir, "etc/herald.conf");
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_addf(&b,
                "%s[template_vars]\nbrand = Acme\nsupport_email = support@example.com\n"
                "shop_url = https://shop.example.com\n"
                "unsubscribe_url = https://example.com/unsubscribe\n" TU_SERVE_CONF,
                conf_text);
    write_conf(conf, b.data);
    hd_buf_release(&b);
    assert_int_equal(symlink(tpl, link), 0);
    unsetenv("HERALD_CONFIG");
    setenv("HERALD_NOW", "2026-11-22T09:00:00Z", 1);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "init", NULL);
    ok(&r, "init");
    tu_herald(&r, dir, NULL, "contacts", "import", csv, "--default-region", "CN", NULL);
    ok(&r, "contacts import");
    tu_herald(&r, dir, NULL, "segment", "define", "few", "id in (\"c0001\", \"c0003\")", NULL);
    ok(&r, "segment define");
    tu_herald(&r, dir, NULL, "campaign", "create", "spring", "--segment", "few", "--template",
              "recall", "--channels", "email", "--now", NULL);
    ok(&r, "campaign create");
    char *err = tu_path(dir, ".stderr");
    tu_write(err, "");
    struct stat sb;
    assert_int_equal(stat(err, &sb), 0);
    char stream[64];
    snprintf(stream, sizeof stream, "%llu:%llu", (unsigned long long)sb.st_dev,
             (unsigned long long)sb.st_ino);
    setenv("JOURNAL_STREAM", stream, 1);
    free(err);
    free(conf);
    free(tpl);
    free(link);
    free(csv);
}

/* Under systemd (JOURNAL_STREAM names herald's stderr) lines go to the
 * journal when journald listens; this machine may run none, and then they
 * are written plainly, as with `journal = yes` after a warning. A line
 * about a message names it (its id, campaign and provider). */
static void test_service_journal_auto(void **state)
{
    (void)state;
    static const char *const confs[] = {"[herald]\nlog_level = debug\n",
                                        "[herald]\nlog_level = debug\n[log]\njournal = yes\n"};
    bool journald = access("/run/systemd/journal/socket", F_OK) == 0;
    if (journald)
        printf("test_service: journald runs here: the lines go to the journal\n");
    for (int i = 0; i < 2; i++) {
        char *dir = tu_tmpdir();
        journal_fixture(dir, confs[i]);
        struct tu_run r;
        tu_herald(&r, dir, NULL, "send", "spring", NULL);
        unsetenv("JOURNAL_STREAM");
        assert_int_equal(r.status, 0);
        if (journald) {
            assert_not_contains(r.err, "herald debug: message ");
        } else {
            if (i == 1)
                assert_contains(r.err, "herald warn: [log] journal = yes, but no journald listens");
            else
                assert_not_contains(r.err, "journald");
            assert_contains(r.err, "of campaign 'spring', attempt 1: sent (accepted) via "
                                   "provider 'outbox'");
        }
        tu_run_release(&r);
        tu_rmdir(dir);
        bool pg = stores.pg; /* a fresh database for the next folder */
        tu_both_release(&stores);
        stores.pg = pg;
    }
}

/* [log] journal = no: plain lines, and no attempt at the journal. */
static void test_service_journal_no(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    journal_fixture(dir, "[herald]\nlog_level = debug\n[log]\njournal = no\n");
    struct tu_run r;
    tu_herald(&r, dir, NULL, "send", "spring", NULL);
    unsetenv("JOURNAL_STREAM");
    assert_int_equal(r.status, 0);
    assert_not_contains(r.err, "journal");
    assert_contains(r.err, "herald debug: message ");
    tu_run_release(&r);
    char *conf = tu_path(dir, "etc/herald.conf");
    tu_write(conf, "[log]\njournal = sometimes\n");
    tu_herald(&r, dir, NULL, "config", "check", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "etc/herald.conf:2: journal: 'sometimes' is not one of auto, yes, no");
    tu_run_release(&r);
    free(conf);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_install),       cmocka_unit_test(test_service_notify),
        cmocka_unit_test(test_service_no_watchdog),   cmocka_unit_test(test_service_reload),
        cmocka_unit_test(test_service_journal_entry), cmocka_unit_test(test_service_journal_auto),
        cmocka_unit_test(test_service_journal_no),
    };
    /* herald run and send again, on PostgreSQL; install is about the
     * installed default, a SQLite file in the state folder, and
     * journal_entry opens no store */
    const struct CMUnitTest tests_pg[] = {
        {"test_service_notify_pg", test_service_notify, setup_pg, teardown, NULL},
        {"test_service_no_watchdog_pg", test_service_no_watchdog, setup_pg, teardown, NULL},
        {"test_service_reload_pg", test_service_reload, setup_pg, teardown, NULL},
        {"test_service_journal_auto_pg", test_service_journal_auto, setup_pg, teardown, NULL},
        {"test_service_journal_no_pg", test_service_journal_no, setup_pg, teardown, NULL},
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    return rc | cmocka_run_group_tests(tests_pg, NULL, NULL);
}
