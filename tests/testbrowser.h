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
 * tests/browser/drive.js lists the actions. */
#ifndef HERALD_TESTBROWSER_H
#define HERALD_TESTBROWSER_H

#include "testnet.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define CHROMIUM "/usr/bin/chromium"

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

/* A scenario for drive.js from a table of steps. */
static inline json_t *tb_scenario(const char *name, const char *locale, const char *link,
                                  const char *const *steps)
{
    json_t *list = json_array();
    for (; *steps; steps++) {
        char step[512], arg[1024];
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

#endif
