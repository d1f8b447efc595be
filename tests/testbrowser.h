/* testbrowser.h: what the browser tests share (test_browser.c and the
 * console's): a free port, one session of tests/browser/drive.js serving
 * plans of scenarios in Debian's headless Chromium, launched once for the
 * whole program (both store engines' cases) with its HOME and TMPDIR in a
 * folder of its own, the check at the program's end that no Chromium
 * outlives it and that its TMPDIR is left empty, playwright-core installed
 * from the lock file when missing, the screenshot folder, and a scenario
 * built from a table of step lines. A scenario's steps, one a line:
 * "ACTION ARGUMENT" with " =VALUE" at the end for the status a goto or
 * click expects, the number of matches a count expects, what a fill,
 * select or type puts in, or the text a wait_text or frame_text waits for;
 * "$LINK" at the start of an argument stands for the link the scenario is
 * given. tests/browser/drive.js lists the actions. Two steps are the
 * table's own: "sign_in NAME" stands for the four that sign NAME in through
 * the login form (tb_sign_in_steps), and "narrow FILE" for the page seen on
 * a phone (tb_narrow_steps): the window 375 px wide, no sideways scrolling
 * of the page, a screenshot, the window back to 800 px. A browser test's
 * `herald serve`, its
 * folder, its store (SQLite or PostgreSQL) and its users are a struct
 * tb_site (below); its main() runs a group per engine and ends with
 * tb_end_session(). */
#ifndef HERALD_TESTBROWSER_H
#define HERALD_TESTBROWSER_H

#include "testnet.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define CHROMIUM "/usr/bin/chromium"

/* The window a plan starts with, and a phone's (portrait) for
 * tb_narrow_steps. */
#define TB_WIDTH 800
#define TB_HEIGHT 500
#define TB_NARROW "375x740"

/* The password of the console users tb_site_user() makes. */
#define TB_PASSWORD "correct horse 1"

/* A port nobody listens on now (the kernel's pick for port 0). */
static inline int tb_free_port(void)
{
    return tu_dead_port();
}

/* How many Chromium processes have dir in their command line (its profile
 * is under dir/tmp; zombies have none), each killed when kill_them. */
static inline int tb_chromium_left(const char *dir, bool kill_them)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        char p[300], cmd[8192];
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(p, sizeof p, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(p, "rb");
        if (!f)
            continue;
        size_t len = fread(cmd, 1, sizeof cmd - 1, f);
        fclose(f);
        for (size_t i = 0; i < len; i++)
            cmd[i] = cmd[i] ? cmd[i] : ' ';
        cmd[len] = '\0';
        if (!strstr(cmd, dir) || !strstr(cmd, "chrom"))
            continue;
        n++;
        if (kill_them)
            kill((pid_t)atol(e->d_name), SIGKILL);
    }
    closedir(d);
    return n;
}

/* Waits (bounded) for the browser's last processes to exit; kills and
 * counts those that did not. */
static inline int tb_chromium_outlived(const char *dir)
{
    for (int i = 0; i < 100 && tb_chromium_left(dir, false) > 0; i++) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return tb_chromium_left(dir, true);
}

/* The browser session: `node drive.js -` (under timeout(1)) serving plans,
 * one Chromium launch for all of a program's plans on both store engines
 * (a launch costs seconds; a browser test program makes a dozen plans). It
 * starts with the first tb_drive(), in a folder of its own that holds
 * Chromium's HOME and TMPDIR, the plans and drive.js's stderr (driver.log);
 * tb_end_session() ends it. A session that died (a plan timed out) is
 * reaped and the next plan starts another. */
struct tb_session {
    char *dir; /* its folder */
    pid_t pid; /* timeout(1), whose child runs drive.js; 0: none */
    int to;    /* drive.js's stdin: a plan file's path a line */
    int from;  /* its stdout: what the plans print, each ending "plan ..." */
    int plans; /* plans sent, for their files' names */
};
static struct tb_session tb_sess;

static inline void tb_session_start(struct tb_session *s)
{
    s->dir = tu_tmpdir();
    const char *mk[] = {"mkdir", "home", "tmp", NULL};
    tu_run_in(s->dir, mk);
    char *js = tu_src_path("tests/browser/drive.js"), *log = tu_path(s->dir, "driver.log");
    char home[600], tmp[600];
    snprintf(home, sizeof home, "HOME=%s/home", s->dir);
    snprintf(tmp, sizeof tmp, "TMPDIR=%s/tmp", s->dir);
    if ((s->pid = tu_fork_piped(s->dir, &s->to, &s->from)) == 0) {
        if (!freopen(log, "ab", stderr))
            _exit(126);
        /* each plan bounds itself (timeout_ms); timeout(1) is the backstop */
        execlp("timeout", "timeout", "-k", "5", "900", "env", home, tmp, NODE, js, "-",
               (char *)NULL);
        _exit(127);
    }
    /* no later child (herald serve) holds drive.js's stdin open */
    fcntl(s->to, F_SETFD, FD_CLOEXEC);
    fcntl(s->from, F_SETFD, FD_CLOEXEC);
    free(js);
    free(log);
}

/* How many problems the session's end showed (printed): drive.js not
 * exiting 0 within 20 s of its stdin's end, a Chromium process outliving
 * it, files left in its TMPDIR. Removes the folder. */
static inline int tb_session_end(struct tb_session *s)
{
    int bad = 0, st = 0;
    if (!s->dir)
        return 0;
    if (s->pid > 0) {
        close(s->to);
        close(s->from);
        pid_t got = 0;
        for (int i = 0; i < 400 && (got = waitpid(s->pid, &st, WNOHANG)) == 0; i++)
            nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
        if (got == 0) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
        }
        if (got == 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            printf("the browser session did not end cleanly (status %d)\n", st);
            bad++;
        }
    }
    int left = tb_chromium_outlived(s->dir);
    if (left)
        printf("%d Chromium processes outlived the browser session\n", left);
    bad += left;
    char *tmp = tu_path(s->dir, "tmp");
    DIR *d = opendir(tmp);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            printf("the browser left %s/%s behind\n", tmp, e->d_name);
            bad++;
        }
    if (d)
        closedir(d);
    free(tmp);
    if (bad) {
        printf("kept %s\n", s->dir);
        free(s->dir);
    } else {
        tu_rmdir(s->dir); /* frees it */
    }
    memset(s, 0, sizeof *s);
    return bad;
}

/* Reads what drive.js prints for the plan just sent into b, up to and
 * including its "plan ..." line; false when it ended first or said nothing
 * for secs seconds. */
static inline bool tb_session_read(struct tb_session *s, struct hd_buf *b, int secs)
{
    struct pollfd p = {.fd = s->from, .events = POLLIN};
    time_t until = time(NULL) + secs;
    for (;;) {
        const char *plan = b->data ? strstr(b->data, "plan ") : NULL;
        while (plan && plan != b->data && plan[-1] != '\n')
            plan = strstr(plan + 1, "plan ");
        if (plan && strchr(plan, '\n'))
            return true;
        int left = (int)(until - time(NULL));
        if (left <= 0 || poll(&p, 1, left * 1000) <= 0)
            return false;
        char chunk[4096];
        ssize_t n = read(s->from, chunk, sizeof chunk);
        if (n <= 0)
            return false;
        hd_buf_add(b, chunk, (size_t)n);
    }
}

/* Plays the scenarios (a JSON array, taken) in the session's headless
 * Chromium against the service on port, screenshots into shots; prints
 * what drive.js says (the screenshots' paths, each scenario's time) and
 * fails with its words when a step fails. */
static inline void tb_drive(const char *shots, int port, json_t *scenarios)
{
    assert_non_null(scenarios);
    if (!tb_sess.dir)
        tb_session_start(&tb_sess);
    char base[64], name[32];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    json_t *plan = json_pack("{s:s, s:s, s:s, s:{s:i, s:i}, s:i, s:o}", "base", base, "out", shots,
                             "chromium", CHROMIUM, "viewport", "width", TB_WIDTH, "height",
                             TB_HEIGHT, "timeout_ms", 45000, "scenarios", scenarios);
    snprintf(name, sizeof name, "plan%d.json", ++tb_sess.plans);
    char *pp = tu_path(tb_sess.dir, name);
    assert_int_equal(json_dump_file(plan, pp, JSON_INDENT(1)), 0);
    json_decref(plan);
    struct hd_buf b;
    hd_buf_init(&b);
    void (*pipe_was)(int) = signal(SIGPIPE, SIG_IGN); /* a dead session: an error, not death */
    bool sent = dprintf(tb_sess.to, "%s\n", pp) > 0;
    signal(SIGPIPE, pipe_was);
    bool answered = sent && tb_session_read(&tb_sess, &b, 90);
    hd_buf_adds(&b, "");   /* a string even when empty */
    fputs(b.data, stdout); /* the screenshots' paths, each scenario's time */
    fflush(stdout);        /* before the next fork copies the buffer */
    free(pp);
    if (!answered) {
        char *lp = tu_path(tb_sess.dir, "driver.log"), *log = tu_read(lp);
        char *out = hd_buf_detach(&b, NULL);
        free(lp);
        tb_session_end(&tb_sess); /* the next plan starts another */
        fail_msg("the browser session ended or hung during the plan\n%s%s", out, log ? log : "");
    }
    if (!strstr(b.data, "\nplan ok\n") && strncmp(b.data, "plan ok\n", 8) != 0)
        fail_msg("the browser script failed\n%s", b.data);
    hd_buf_release(&b);
}

/* The last check of a browser test program, after its groups: the
 * session ends (drive.js closes Chromium and exits 0), no Chromium
 * outlives it and its TMPDIR is empty; the groups' status or'ed with 1
 * when not. */
static void tb_test_session_end(void **state)
{
    (void)state;
    assert_int_equal(tb_session_end(&tb_sess), 0);
}

/* A case of the PostgreSQL group: the same function, named NAME_pg. */
#define TB_PG(f)                                                                                   \
    {                                                                                              \
#f "_pg", f, NULL, NULL, NULL                                                              \
    }

static inline int tb_end_session(int rc)
{
    const struct CMUnitTest end[] = {cmocka_unit_test(tb_test_session_end)};
    return rc | cmocka_run_group_tests_name("browser session", end, NULL, NULL);
}

/* Installs playwright-core from the lock file when node_modules is missing
 * (a fresh clone). */
static inline void tb_need_playwright(void)
{
    char *bd = tu_src_path("tests/browser"), *pkg = tu_path(bd, "node_modules/playwright-core");
    if (!tu_exists(CHROMIUM))
        fail_msg("%s is missing: install Debian's chromium (make deps)", CHROMIUM);
    if (!tu_exists(pkg)) {
        const char *argv[] = {"npm", "ci", "--no-audit", "--no-fund", NULL};
        struct tu_run r;
        tu_exec(&r, bd, NULL, argv);
        if (r.status != 0 || !tu_exists(pkg))
            fail_msg("'npm ci' in %s failed (exit %d): the browser test needs playwright-core "
                     "from the npm registry\n%s%s",
                     bd, r.status, r.out, r.err);
        tu_run_release(&r);
    }
    free(pkg);
    free(bd);
}

/* The screenshot folder, made: $HERALD_TEST_OUT, else test-output/browser
 * beside the herald binary. */
static inline char *tb_shots_dir(void)
{
    const char *o = getenv("HERALD_TEST_OUT");
    char *p;
    if (o) {
        p = hd_xstrdup(o);
    } else {
        char *bin = hd_xstrdup(tu_herald_bin()), *slash = strrchr(bin, '/');
        if (slash)
            *slash = '\0';
        p = tu_path(slash ? bin : ".", "test-output/browser");
        free(bin);
    }
    if (p[0] != '/') { /* the browser runs in the test's folder */
        char cwd[2048];
        assert_non_null(getcwd(cwd, sizeof cwd));
        char *abs = tu_path(cwd, p);
        free(p);
        p = abs;
    }
    const char *argv[] = {"mkdir", "-p", p, NULL};
    tu_run_in(".", argv);
    return p;
}

/* Appends the steps that sign name in (password TB_PASSWORD) through
 * the login form, which sends on to the overview. */
static inline void tb_sign_in_steps(json_t *steps, const char *name)
{
    json_array_append_new(steps, json_pack("{s:s, s:i}", "goto", "/console/login", "status", 200));
    json_array_append_new(steps, json_pack("{s:s, s:s}", "fill", "#name", "value", name));
    json_array_append_new(steps,
                          json_pack("{s:s, s:s}", "fill", "#password", "value", TB_PASSWORD));
    json_array_append_new(steps,
                          json_pack("{s:s, s:i}", "click", "button[type=submit]", "status", 303));
}

/* Appends the steps that look at the page as a phone shows it: the
 * window TB_NARROW, the page not scrolling sideways (a wide table may, in
 * its own box), a screenshot into file, and the window back as it was. */
static inline void tb_narrow_steps(json_t *steps, const char *file)
{
    char wide[32];
    snprintf(wide, sizeof wide, "%dx%d", TB_WIDTH, TB_HEIGHT);
    json_array_append_new(steps, json_pack("{s:s}", "viewport", TB_NARROW));
    json_array_append_new(steps, json_pack("{s:s}", "no_overflow", "page"));
    json_array_append_new(steps, json_pack("{s:s}", "screenshot", file));
    json_array_append_new(steps, json_pack("{s:s}", "viewport", wide));
}

/* A scenario for drive.js from a table of steps. */
static inline json_t *tb_scenario(const char *name, const char *locale, const char *link,
                                  const char *const *steps)
{
    json_t *list = json_array();
    for (; *steps; steps++) {
        char step[512], arg[1024];
        if (strncmp(*steps, "sign_in ", 8) == 0) {
            tb_sign_in_steps(list, *steps + 8);
            continue;
        }
        if (strncmp(*steps, "narrow ", 7) == 0) {
            tb_narrow_steps(list, *steps + 7);
            continue;
        }
        snprintf(step, sizeof step, "%s", *steps);
        char *a = strchr(step, ' '), *val = NULL;
        assert_non_null(a);
        *a++ = '\0';
        for (char *v = strstr(a, " ="); v; v = strstr(v + 2, " ="))
            val = v;
        if (val) {
            *val = '\0';
            val += 2;
        }
        if (strncmp(a, "$LINK", 5) == 0)
            snprintf(arg, sizeof arg, "%s%s", link, a + 5);
        else
            snprintf(arg, sizeof arg, "%s", a);
        json_t *st = json_pack("{s:s}", step, arg);
        bool text = !strcmp(step, "fill") || !strcmp(step, "select");
        text = text || !strcmp(step, "type") || strstr(step, "_text"); /* what they wait for */
        if (val)
            json_object_set_new(st,
                                text                     ? "value"
                                : !strcmp(step, "count") ? "is"
                                                         : "status",
                                text ? json_string(val) : json_integer(atoi(val)));
        json_array_append_new(list, st);
    }
    return json_pack("{s:s, s:s, s:o}", "name", name, "locale", locale, "steps", list);
}

/* A site: `herald serve` on a free 127.0.0.1 port for the browser, in a
 * folder of its own (a test file keeps one, static, for its group), its
 * store a SQLite file or a fresh PostgreSQL database (tu_pg_db): a test
 * file runs its cases on each, as two groups whose setups differ in the
 * engine. tb_site_init() makes everything up to the store, tb_site_user()
 * the console's users, tb_site_start() the service, tb_site_drive() plays
 * scenarios against it, tb_site_q1() reads the store (sqlite3 or psql),
 * and tb_site_stop() (the group's teardown) stops the service and removes
 * the folder, kept when HERALD_KEEP_TEST_DIR is set, and the database. */
struct tb_site {
    char *dir;        /* the test's folder: configuration, store, outbox */
    char *db;         /* the store: "h.db" in dir, or a postgresql:// URI */
    char pg_name[64]; /* the PostgreSQL database's name, for tu_pg_drop; "" on SQLite */
    char *shots;      /* where screenshots go (kept): the PostgreSQL run's in pg/ */
    int port;         /* the free port, h.conf's listen and public_url */
    pid_t serve;      /* herald serve once started, else 0 */
};

/* The folder, playwright-core, the screenshot folder, a port, h.conf
 * (HERALD_CONFIG set, HERALD_NOW unset) and the store, on PostgreSQL when
 * pg, with the template promo (tpl) and the contacts (csv). */
static inline void tb_site_init_on(struct tb_site *site, bool pg, const char *tpl, const char *csv)
{
    site->dir = tu_tmpdir();
    tb_need_playwright();
    site->pg_name[0] = '\0';
    site->db = pg ? tu_pg_db(site->pg_name) : hd_xstrdup("h.db");
    char *shots = tb_shots_dir();
    site->shots = pg ? tu_path(shots, "pg") : hd_xstrdup(shots);
    free(shots);
    if (pg) {
        const char *argv[] = {"mkdir", "-p", site->shots, NULL};
        tu_run_in(".", argv);
    }
    site->port = tb_free_port();
    site->serve = 0;
    setenv("HERALD_CONFIG", "h.conf", 1);
    unsetenv("HERALD_NOW");
    char conf[1024], *cp = tu_path(site->dir, "h.conf");
    snprintf(conf, sizeof conf,
             "[herald]\ndatabase = %s\ntemplates = tpl\n[serve]\nlisten = 127.0.0.1:%d\n"
             "public_url = http://127.0.0.1:%d\nsecret_file = var/herald.secret\n",
             site->db, site->port, site->port);
    tu_write(cp, conf);
    free(cp);
    tu_serve_store(site->dir, tpl, csv);
}

/* The same on a SQLite file. */
static inline void tb_site_init(struct tb_site *site, const char *tpl, const char *csv)
{
    tb_site_init_on(site, false, tpl, csv);
}

/* One number from the site's store (-1 when none). */
static inline int64_t tb_site_q1(const struct tb_site *site, const char *sql)
{
    return tu_sql1(site->dir, site->db, sql);
}

/* Adds console user name with role and the password TB_PASSWORD, which
 * the scenarios type (kept in the folder's file pw). */
static inline void tb_site_user(const struct tb_site *site, const char *name, const char *role)
{
    char *pw = tu_path(site->dir, "pw");
    tu_write(pw, TB_PASSWORD "\n");
    free(pw);
    TU_HERALD_OK(site->dir, "user", "add", name, "--role", role, "--password-file", "pw");
}

/* Starts herald serve on the site's port. */
static inline void tb_site_start(struct tb_site *site)
{
    char listen[64];
    int got = 0;
    snprintf(listen, sizeof listen, "127.0.0.1:%d", site->port);
    site->serve = tu_serve_start(site->dir, listen, &got);
    assert_int_equal(got, site->port);
}

/* Plays the scenarios (taken) against the site, as tb_drive(). */
static inline void tb_site_drive(const struct tb_site *site, json_t *scenarios)
{
    tb_drive(site->shots, site->port, scenarios);
}

/* Stops herald serve, removes the folder (or says where it was kept) and
 * the database, and frees the rest; 0, or -1 when the service did not exit
 * cleanly. */
static inline int tb_site_stop(struct tb_site *site)
{
    int st = site->serve > 0 ? tu_serve_stop(site->serve) : 0;
    site->serve = 0;
    if (getenv("HERALD_KEEP_TEST_DIR")) {
        printf("kept %s%s%s\n", site->dir, site->pg_name[0] ? " and database " : "", site->pg_name);
        free(site->dir);
    } else {
        tu_rmdir(site->dir); /* frees it */
        if (site->pg_name[0])
            tu_pg_drop(site->pg_name);
    }
    site->dir = NULL;
    free(site->db);
    site->db = NULL;
    free(site->shots);
    site->shots = NULL;
    return st == 0 ? 0 : -1;
}

/* A program's two group fixtures, setup and setup_pg, over its
 * setup_on(bool pg): its site on SQLite, then on PostgreSQL. */
#define TB_ENGINE_SETUPS(setup_on)                                                                 \
    static int setup(void **state)                                                                 \
    {                                                                                              \
        (void)state;                                                                               \
        return setup_on(false);                                                                    \
    }                                                                                              \
    static int setup_pg(void **state)                                                              \
    {                                                                                              \
        (void)state;                                                                               \
        return setup_on(true);                                                                     \
    }

#endif
