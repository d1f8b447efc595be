/* testbrowser.h: what the browser tests share (test_browser.c and the
 * console's): a free port, tests/browser/drive.js run on a plan of
 * scenarios in Debian's headless Chromium with its HOME and TMPDIR inside
 * the test's folder, the check that no Chromium outlives it and that its
 * TMPDIR is left empty, playwright-core installed from the lock file when
 * missing, the screenshot folder, and a scenario built from a table of
 * step lines. A scenario's steps, one a line: "ACTION ARGUMENT" with
 * " =VALUE" at the end for the status a goto or click expects, the number
 * of matches a count expects, what a fill, select or type puts in, or the
 * text a wait_text or frame_text waits for; "$LINK" at
 * the start of an argument stands for the link the scenario is given.
 * tests/browser/drive.js lists the actions. One step is the table's own:
 * "sign_in NAME" stands for the four that sign NAME in through the login
 * form (tb_sign_in_steps). A browser test's `herald serve`, its folder and
 * its users are a struct tb_site (below). */
#ifndef HERALD_TESTBROWSER_H
#define HERALD_TESTBROWSER_H

#include "testnet.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define CHROMIUM "/usr/bin/chromium"

/* The password of the console users tb_site_user() makes. */
#define TB_PASSWORD "correct horse 1"

/* A port nobody listens on now (the kernel's pick for port 0). */
static inline int tb_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
    close(fd);
    return ntohs(a.sin_port);
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

/* Nothing left in the browser's TMPDIR. */
static inline void tb_assert_tmp_empty(const char *dir)
{
    char *tmp = tu_path(dir, "tmp");
    DIR *d = opendir(tmp);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            fail_msg("the browser left %s/%s behind", tmp, e->d_name);
    closedir(d);
    free(tmp);
}

/* Plays the scenarios (a JSON array, taken) in headless Chromium, prints
 * the screenshots' paths and fails with the script's words when a step
 * fails. */
static inline void tb_drive(const char *dir, const char *shots, int port, json_t *scenarios)
{
    assert_non_null(scenarios);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    json_t *plan = json_pack("{s:s, s:s, s:s, s:{s:i, s:i}, s:i, s:o}", "base", base, "out", shots,
                             "chromium", CHROMIUM, "viewport", "width", 800, "height", 500,
                             "timeout_ms", 20000, "scenarios", scenarios);
    char *pp = tu_path(dir, "plan.json"), *js = tu_src_path("tests/browser/drive.js");
    assert_int_equal(json_dump_file(plan, pp, JSON_INDENT(1)), 0);
    json_decref(plan);
    char home[600], tmp[600];
    snprintf(home, sizeof home, "HOME=%s/home", dir);
    snprintf(tmp, sizeof tmp, "TMPDIR=%s/tmp", dir);
    /* drive.js stops itself after timeout_ms; timeout(1) is the backstop */
    const char *argv[] = {"timeout", "-k", "5", "60", "env", home, tmp, NODE, js, pp, NULL};
    struct tu_run r;
    tu_exec(&r, dir, NULL, argv);
    for (char *l = r.out; (l = strstr(l, "screenshot ")) != NULL; l++)
        printf("screenshot: %.*s\n", (int)strcspn(l + 11, "\n"), l + 11);
    fflush(stdout); /* before the next fork copies the buffer */
    int left = tb_chromium_outlived(dir);
    if (r.status != 0)
        fail_msg("the browser script exited %d\n%s%s", r.status, r.out, r.err);
    if (left)
        fail_msg("%d Chromium processes outlived the browser script", left);
    tu_run_release(&r);
    free(pp);
    free(js);
    tb_assert_tmp_empty(dir);
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
 * folder of its own (a test file keeps one, static, for its group).
 * tb_site_init() makes everything up to the store, tb_site_user() the
 * console's users, tb_site_start() the service, tb_site_drive() plays
 * scenarios against it, and tb_site_stop() (the group's teardown) stops
 * the service and removes the folder, kept when HERALD_KEEP_TEST_DIR is
 * set. */
struct tb_site {
    char *dir;   /* the test's folder: store, outbox, Chromium's HOME and TMPDIR */
    char *shots; /* where screenshots go (kept) */
    int port;    /* the free port, h.conf's listen and public_url */
    pid_t serve; /* herald serve once started, else 0 */
};

/* The folder, playwright-core, the screenshot folder, a port, h.conf
 * (HERALD_CONFIG set, HERALD_NOW unset), Chromium's HOME and TMPDIR, and
 * the store with the template promo (tpl) and the contacts (csv). */
static inline void tb_site_init(struct tb_site *site, const char *tpl, const char *csv)
{
    site->dir = tu_tmpdir();
    tb_need_playwright();
    site->shots = tb_shots_dir();
    site->port = tb_free_port();
    site->serve = 0;
    setenv("HERALD_CONFIG", "h.conf", 1);
    unsetenv("HERALD_NOW");
    char conf[512], *cp = tu_path(site->dir, "h.conf");
    snprintf(conf, sizeof conf,
             "[herald]\ndatabase = h.db\ntemplates = tpl\n[serve]\nlisten = 127.0.0.1:%d\n"
             "public_url = http://127.0.0.1:%d\nsecret_file = var/herald.secret\n",
             site->port, site->port);
    tu_write(cp, conf);
    free(cp);
    const char *argv[] = {"mkdir", "home", "tmp", NULL};
    tu_run_in(site->dir, argv);
    tu_serve_store(site->dir, tpl, csv);
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
    tb_drive(site->dir, site->shots, site->port, scenarios);
}

/* Stops herald serve, removes the folder (or says where it was kept) and
 * frees the rest; 0, or -1 when the service did not exit cleanly. */
static inline int tb_site_stop(struct tb_site *site)
{
    int st = site->serve > 0 ? tu_serve_stop(site->serve) : 0;
    site->serve = 0;
    if (getenv("HERALD_KEEP_TEST_DIR")) {
        printf("kept %s\n", site->dir);
        free(site->dir);
    } else {
        tu_rmdir(site->dir); /* frees it */
    }
    site->dir = NULL;
    free(site->shots);
    site->shots = NULL;
    return st == 0 ? 0 : -1;
}

#endif
