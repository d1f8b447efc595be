/* testutil: helpers the cmocka tests share: temporary folders and files,
 * and running the real herald binary with its output captured. Header-only
 * (static functions) so each test program stays one file. */
#ifndef HERALD_TESTUTIL_H
#define HERALD_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "herald/buf.h"

/* A fresh folder under /tmp, removed by tu_rmdir. */
static inline char *tu_tmpdir(void)
{
    char tmpl[] = "/tmp/herald-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return hd_xstrdup(d);
}

static inline void tu_rmdir(char *dir)
{
    if (!dir)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", dir, (char *)NULL);
        _exit(127);
    }
    waitpid(pid, NULL, 0);
    free(dir);
}

static inline char *tu_path(const char *dir, const char *name)
{
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_addf(&b, "%s/%s", dir, name);
    return hd_buf_detach(&b, NULL);
}

static inline void tu_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

/* Reads a whole file; NULL if it does not exist. */
static inline char *tu_read(const char *path)
{
    struct hd_buf b;
    hd_buf_init(&b);
    if (hd_buf_read_file(&b, path) < 0) {
        hd_buf_release(&b);
        return NULL;
    }
    return hd_buf_detach(&b, NULL);
}

static inline int tu_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* The result of running herald. */
struct tu_run {
    int status; /* exit code, or 128 + signal */
    char *out;  /* stdout */
    char *err;  /* stderr */
};

static inline void tu_run_release(struct tu_run *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

static inline const char *tu_herald_bin(void)
{
    const char *b = getenv("HERALD_BIN");
    return b ? b : "build/herald";
}

/* Runs the program argv[0] (a path, or a name looked up in PATH) in dir with argv
 * (NULL-terminated), stdin from stdin_path (or /dev/null), and captures stdout and stderr. */
static inline void tu_exec(struct tu_run *r, const char *dir, const char *stdin_path,
                           const char *const *argv)
{
    char *outp = tu_path(dir, ".stdout"), *errp = tu_path(dir, ".stderr");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(dir) != 0)
            _exit(126);
        FILE *in = freopen(stdin_path ? stdin_path : "/dev/null", "rb", stdin);
        FILE *o = freopen(outp, "wb", stdout);
        FILE *e = freopen(errp, "wb", stderr);
        if (!in || !o || !e)
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r->out = tu_read(outp);
    r->err = tu_read(errp);
    if (!r->out)
        r->out = hd_xstrdup("");
    if (!r->err)
        r->err = hd_xstrdup("");
    remove(outp);
    remove(errp);
    free(outp);
    free(errp);
}

/* Runs herald in dir with the arguments (NULL-terminated), stdin from
 * stdin_path (or /dev/null), and captures stdout and stderr. */
static inline void tu_herald(struct tu_run *r, const char *dir, const char *stdin_path, ...)
{
    const char *argv[64];
    int argc = 0;
    va_list ap;
    argv[argc++] = tu_herald_bin();
    va_start(ap, stdin_path);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 63)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    tu_exec(r, dir, stdin_path, argv);
}

/* Starts herald in dir with the arguments (NULL-terminated), in the
 * background, its stdout and stderr appended to dir/out; the caller waits
 * for the pid. */
static inline pid_t tu_herald_spawn(const char *dir, const char *out, const char *const *args)
{
    const char *argv[32] = {tu_herald_bin()};
    int n = 1;
    while (*args && n < 31)
        argv[n++] = *args++;
    argv[n] = NULL;
    char *op = tu_path(dir, out);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(dir) != 0 || !freopen(op, "ab", stdout) || !freopen(op, "ab", stderr))
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    free(op);
    return pid;
}

/* The output of a shell command (the caller frees), failing the test
 * unless it exits 0. */
static inline char *tu_sh(const char *cmd)
{
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    struct hd_buf b;
    hd_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        hd_buf_add(&b, chunk, n);
    int st = pclose(f);
    if (st != 0)
        fail_msg("'%s' exited %d", cmd, st);
    return b.data ? hd_buf_detach(&b, NULL) : hd_xstrdup("");
}

/* What the store db answers to sql (the test's own text, without a
 * double quote), by the sqlite3 CLI for a file in dir, by psql for a
 * postgresql:// URI (a test that runs on both engines); the caller frees. */
static inline char *tu_sql_text(const char *dir, const char *db, const char *sql)
{
    char cmd[4096];
    if (strncmp(db, "postgresql://", 13) == 0)
        snprintf(cmd, sizeof cmd, "psql -X -q -At '%s' -c \"%s\"", db, sql);
    else
        snprintf(cmd, sizeof cmd, "sqlite3 '%s/%s' \"%s\"", dir, db, sql);
    return tu_sh(cmd);
}

/* One number from dir/db (above), or -1. */
static inline int64_t tu_sql1(const char *dir, const char *db, const char *sql)
{
    char *r = tu_sql_text(dir, db, sql);
    long long v = -1;
    if (sscanf(r, "%lld", &v) != 1)
        v = -1;
    free(r);
    return v;
}

/* A sent message, id message, to contact (internal id), in a done run of
 * the done campaign "links" (made with the first): what a link signed by
 * hand in a test needs, since a link acts only on its message's contact. */
#define TU_SENT_MESSAGE_SQL /* message, contact (long long) */                                \
    "INSERT INTO campaigns (name, segment, template, channels, category, schedule, status, "       \
    "created_at, updated_at) SELECT 'links', 'all', 'none', 'email', 'marketing', 'now', 'done', " \
    "0, 0 WHERE NOT EXISTS (SELECT 1 FROM campaigns WHERE name = 'links'); INSERT INTO runs "      \
    "(campaign_id, fire_at, status, created_at) SELECT k.id, 0, 'done', 0 FROM campaigns k WHERE " \
    "k.name = 'links' AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.campaign_id = k.id); INSERT "   \
    "INTO messages (id, run_id, contact_id, state, not_before, updated_at) SELECT %lld, r.id, "    \
    "%lld, 2, 0, 0 FROM runs r JOIN campaigns k ON k.id = r.campaign_id WHERE k.name = 'links'"
static inline void tu_sent_message(const char *dir, const char *db, int64_t contact,
                                   int64_t message)
{
    char sql[1400];
    snprintf(sql, sizeof sql, TU_SENT_MESSAGE_SQL, (long long)message, (long long)contact);
    free(tu_sql_text(dir, db, sql));
}

/* How many times needle occurs in hay. */
static inline size_t tu_count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* A folder dir/tpl for templates with tpl/pages linked to the source
 * tree's pages ($HERALD_SRC, absolute), which herald serve needs. */
static inline void tu_tpl_with_pages(const char *dir)
{
    char *tpl = tu_path(dir, "tpl"), *pages = tu_path(dir, "tpl/pages"), src[4096];
    assert_int_equal(mkdir(tpl, 0700), 0);
    const char *root = getenv("HERALD_SRC");
    if (!root || *root != '/')
        fail_msg("HERALD_SRC must be the source tree's absolute path");
    snprintf(src, sizeof src, "%s/templates/pages", root);
    assert_int_equal(symlink(src, pages), 0);
    free(tpl);
    free(pages);
}

/* A link dir/templates to the source tree's templates ($HERALD_SRC). */
static inline void tu_link_templates(const char *dir)
{
    const char *src = getenv("HERALD_SRC");
    char tpl[4096];
    snprintf(tpl, sizeof tpl, "%s/templates", src ? src : ".");
    char *link = tu_path(dir, "templates");
    assert_int_equal(symlink(tpl, link), 0);
    free(link);
}

/* Runs herald in dir with the arguments and expects exit status 0, else
 * fails with its output. */
/* The [serve] section a configuration that sends marketing email needs
 * (its signed unsubscribe links); `herald init` makes the secret. */
#define TU_SERVE_CONF                                                                              \
    "[serve]\npublic_url = http://127.0.0.1:8025\nsecret_file = var/herald.secret\n"

/* SQL that takes a database of the newest schema back to schema 13,
 * undoing migrations 14 and later (newest first; 17 rebuilds consent
 * again as it runs, so its table is all there is to undo), for the tests that step
 * a database back to an older version and open it again: each adds its
 * own undo of 13 and before after this. A new migration adds its undo
 * here, once (18, WeChat's channel, 20, receipts unique under their
 * message, 23 and 24, the CHECKs of consent, push_tokens and
 * suppressions as comparisons, run again as they are; 25, the nodes and
 * the fencing token). */
#define TU_UNDO_AFTER_30 "DROP TABLE hook_tokens;"
#define TU_UNDO_AFTER_29 TU_UNDO_AFTER_30 "ALTER TABLE contacts DROP COLUMN added_at;"
#define TU_UNDO_AFTER_28 TU_UNDO_AFTER_29 "" /* 28 does nothing on SQLite */
#define TU_UNDO_AFTER_27 TU_UNDO_AFTER_28 "" /* 27 does nothing on SQLite */
#define TU_UNDO_AFTER_26 TU_UNDO_AFTER_27 "DROP TABLE provider_rates;"
#define TU_UNDO_AFTER_25                                                                           \
    TU_UNDO_AFTER_26 "DROP TABLE nodes; ALTER TABLE messages DROP COLUMN lease_token;"
#define TU_UNDO_AFTER_24                                                                           \
    TU_UNDO_AFTER_25 "" /* 24 builds push_tokens and suppressions again: it reruns */
#define TU_UNDO_AFTER_23 TU_UNDO_AFTER_24 "" /* 23 builds consent again, as 18 does: it reruns */
#define TU_UNDO_AFTER_22 TU_UNDO_AFTER_23 "" /* 22 does nothing on SQLite */
#define TU_UNDO_AFTER_20                                                                           \
    TU_UNDO_AFTER_22 "ALTER TABLE users DROP COLUMN zone; ALTER TABLE users DROP COLUMN lang;"
#define TU_UNDO_AFTER_18                                                                           \
    TU_UNDO_AFTER_20 "DROP TABLE audit_actions; DROP TABLE console_sessions; DROP TABLE users;"
#define TU_UNDO_AFTER_13                                                                           \
    TU_UNDO_AFTER_18                                                                               \
    "DROP TABLE inbox;"                                                                            \
    "DROP TABLE gateway_ids; ALTER TABLE receipts DROP COLUMN provider_id;"                        \
    "DROP TRIGGER webhooks_consent_reuse; DROP TABLE webhooks;"                                    \
    "DROP TABLE api_keys; DROP TABLE api_messages; DROP TABLE api_idempotency;"                    \
    "ALTER TABLE campaigns DROP COLUMN api;"

#define TU_HERALD_OK(dir, ...)                                                                     \
    do {                                                                                           \
        struct tu_run r_;                                                                          \
        tu_herald(&r_, (dir), NULL, __VA_ARGS__, NULL);                                            \
        if (r_.status != 0)                                                                        \
            fail_msg("herald exited %d\nstdout: %s\nstderr: %s", r_.status, r_.out, r_.err);       \
        tu_run_release(&r_);                                                                       \
    } while (0)

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (!h_ || !strstr(h_, n_))                                                                \
            fail_msg("expected to find \"%s\" in \"%s\"", n_, h_ ? h_ : "(null)");                 \
    } while (0)

#define assert_not_contains(hay, needle)                                                           \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (h_ && strstr(h_, n_))                                                                  \
            fail_msg("did not expect \"%s\" in \"%s\"", n_, h_);                                   \
    } while (0)

/* PostgreSQL for a test (issue 23): the suite's server, whose URI (to its
 * maintenance database, postgres) make test exports in HERALD_TEST_PG, or,
 * for a test program run alone, one it starts itself through
 * tests/pgserver.sh (initdb into a folder under /tmp, a Unix socket there)
 * and stops when it exits (the process that started it, not a child). */
static inline char *tu_pg_dir_(void)
{
    static char d[64];
    return d;
}

static inline pid_t *tu_pg_owner_(void)
{
    static pid_t pid;
    return &pid;
}

static inline void tu_pg_stop_(void)
{
    char cmd[512];
    const char *src = getenv("HERALD_SRC");
    if (*tu_pg_owner_() != getpid())
        return;
    snprintf(cmd, sizeof cmd, "sh '%s/tests/pgserver.sh' stop '%s'", src ? src : ".", tu_pg_dir_());
    if (system(cmd) != 0)
        fprintf(stderr, "could not stop the test PostgreSQL in %s\n", tu_pg_dir_());
}

/* Puts PostgreSQL's own bin folder first in PATH: Debian's psql in
 * /usr/bin is a Perl wrapper that picks a cluster first, which cost 0.2 s a
 * call on the loaded test machine against 0.05 s for the program itself,
 * and the tests call psql for most of their reads of a PostgreSQL store. */
static inline void tu_pg_path_(void)
{
    const char *bin = getenv("PGBIN") ? getenv("PGBIN") : "/usr/lib/postgresql/15/bin";
    const char *path = getenv("PATH");
    char psql[512];
    struct hd_buf both;
    snprintf(psql, sizeof psql, "%s/psql", bin);
    if (access(psql, X_OK) != 0 || (path && strncmp(path, bin, strlen(bin)) == 0))
        return;
    hd_buf_init(&both);
    hd_buf_addf(&both, "%s:%s", bin, path ? path : "");
    setenv("PATH", both.data, 1);
    hd_buf_release(&both);
}

static inline const char *tu_pg_server(void)
{
    static char *uri;
    const char *env = getenv("HERALD_TEST_PG"), *src = getenv("HERALD_SRC");
    char cmd[512];
    if (uri)
        return uri;
    tu_pg_path_();
    if (env && *env)
        return uri = hd_xstrdup(env);
    snprintf(tu_pg_dir_(), 64, "/tmp/herald-pg.XXXXXX"); /* mkdtemp's template */
    assert_non_null(mkdtemp(tu_pg_dir_()));
    snprintf(cmd, sizeof cmd, "sh '%s/tests/pgserver.sh' start '%s'", src ? src : ".",
             tu_pg_dir_());
    uri = tu_sh(cmd);
    uri[strcspn(uri, "\n")] = '\0';
    *tu_pg_owner_() = getpid();
    atexit(tu_pg_stop_);
    return uri;
}

/* The server's URI with the database name in place of its own (base is
 * postgresql://AUTH/DBNAME?QUERY); the caller frees. */
static inline char *tu_pg_uri(const char *name)
{
    const char *base = tu_pg_server(), *auth = strstr(base, "://");
    assert_non_null(auth);
    const char *path = strchr(auth + 3, '/');
    assert_non_null(path);
    const char *rest = path + 1 + strcspn(path + 1, "?");
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_addf(&b, "%.*s/%s%s", (int)(path - base), base, name, rest);
    return hd_buf_detach(&b, NULL);
}

/* Runs SQL on the server's maintenance database as its superuser. */
static inline void tu_pg_admin(const char *sql)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 '%s' -c "
             "\"%s\" >/dev/null",
             tu_pg_server(), sql);
    free(tu_sh(cmd));
}

/* A new empty database of its own for the test: its URI (the caller
 * frees); name (64 bytes) receives its name for tu_pg_drop. */
static inline char *tu_pg_db(char *name)
{
    static int n;
    char sql[128];
    snprintf(name, 64, "herald_t%ld_%d", (long)getpid(), ++n);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    tu_pg_admin(sql);
    return tu_pg_uri(name);
}

static inline void tu_pg_drop(const char *name)
{
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    tu_pg_admin(sql);
}

#endif
