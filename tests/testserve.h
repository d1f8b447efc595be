/* testserve: helpers for the tests that run the real `herald serve` on
 * 127.0.0.1 (test_serve, test_prefs): a folder with a configuration, the
 * shipped page templates, a marketing template and three contacts (k2 in
 * zh-CN); starting the service on a port it picks and stopping it with
 * SIGTERM; curl; an SMTP server that keeps what it receives; the unsubscribe link of an outbox
 * email; one number from the database (sqlite3 or psql). The folder is the file's `dir`; the
 * store is `e2e_db`: "h.db" there (e2e_setup) or a fresh PostgreSQL database (e2e_setup_pg,
 * dropped by e2e_teardown), so a test file runs its cases on both engines. */
#ifndef HERALD_TESTSERVE_H
#define HERALD_TESTSERVE_H

#include "testnet.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *dir;
static const char *e2e_db = "h.db";       /* the store: "h.db" in dir, or e2e_pg_uri */
static char *e2e_pg_uri, e2e_pg_name[64]; /* e2e_setup_pg's database */

static const char tpl_promo[] = "description: serve test\ncategory: marketing\n"
                                "from: Acme <hello@example.com>\n\n"
                                "--- email.subject\nHello {{ first_name }}\n"
                                "--- email.text\nNews. Unsubscribe: {{ unsubscribe_url }}\n"
                                "Preferences: {{ preferences_url }}\n";

static inline void write_file(const char *name, const char *text)
{
    char *p = tu_path(dir, name);
    tu_write(p, text);
    free(p);
}

/* The configuration: the outbox (the default provider), the local public
 * URL, the secret `herald init` makes, and extra lines. */
static inline void write_conf(const char *name, const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[herald]\ndatabase = %s\ntemplates = tpl\nlog_level = debug\n"
             "[serve]\npublic_url = http://127.0.0.1:8025\n%s",
             e2e_db, extra);
    write_file(name, text);
}

static inline int e2e_setup_on(const char *store)
{
    e2e_db = store;
    dir = tu_tmpdir();
    unsetenv("HERALD_NOW");
    setenv("HERALD_NOW", "2026-11-22T12:00:00Z", 1);
    setenv("HERALD_CONFIG", "h.conf", 1);
    write_conf("h.conf", "secret_file = var/herald.secret\n");
    tu_serve_store(dir, tpl_promo,
                   "id,email,first_name,locale\nk1,k1@example.com,Ann,en\n"
                   "k2,k2@example.com,Bo,zh-CN\nk3,k3@example.com,Cy,en\n");
    return 0;
}

static inline int e2e_setup(void **state)
{
    (void)state;
    return e2e_setup_on("h.db");
}

/* The same folder with its store on PostgreSQL (tu_pg_db). */
static inline int e2e_setup_pg(void **state)
{
    (void)state;
    e2e_pg_uri = tu_pg_db(e2e_pg_name);
    return e2e_setup_on(e2e_pg_uri);
}

/* The services srv_start started and srv_stop has not stopped: a test
 * that fails between the two leaves its service to e2e_teardown, which
 * kills it (a failed assertion returns from the test at once). */
static pid_t srv_running[8];

static inline int e2e_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof srv_running / sizeof srv_running[0]; i++)
        if (srv_running[i] > 0) {
            kill(srv_running[i], SIGKILL);
            waitpid(srv_running[i], NULL, 0);
            srv_running[i] = 0;
        }
    tu_rmdir(dir); /* frees it */
    dir = NULL;
    if (e2e_pg_uri) {
        tu_pg_drop(e2e_pg_name);
        free(e2e_pg_uri);
        e2e_pg_uri = NULL;
    }
    e2e_db = "h.db";
    return 0;
}

struct srv {
    pid_t pid;
    int port;
};

/* Starts herald serve on a free port (it prints the one it bound). */
static inline void srv_start(struct srv *s)
{
    s->pid = tu_serve_start(dir, "127.0.0.1:0", &s->port);
    for (size_t i = 0; i < sizeof srv_running / sizeof srv_running[0]; i++)
        if (srv_running[i] <= 0) {
            srv_running[i] = s->pid;
            break;
        }
}

/* SIGTERM; returns the exit status (128 + signal when killed). */
static inline int srv_stop(struct srv *s)
{
    for (size_t i = 0; i < sizeof srv_running / sizeof srv_running[0]; i++)
        if (srv_running[i] == s->pid)
            srv_running[i] = 0;
    int st = tu_serve_stop(s->pid);
    if (st != 0) { /* what it said last, for a failure seen only in CI */
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "tail -n 30 '%s/serve.log' 2>&1", dir);
        char *tail = tu_sh(cmd);
        print_message("herald serve exited %d; the end of serve.log:\n%s\n", st, tail);
        free(tail);
    }
    return st;
}

/* curl: method, path, body (NULL: none), extra arguments (a shell
 * fragment of fixed text); returns the status, the body in *out and the
 * headers in *hdr (may be NULL). HEAD is curl's --head: with -X HEAD curl
 * waits for the body the Content-Length announces until --max-time. */
static inline int http(const struct srv *s, const char *method, const char *path, const char *body,
                       const char *extra, char **out, char **hdr)
{
    char cmd[8192];
    char *bp = tu_path(dir, ".body"), *hp = tu_path(dir, ".hdr");
    snprintf(cmd, sizeof cmd,
             "curl -s -g --max-time 10 %s%s -o '%s' -D '%s' -w '%%{http_code}' %s%s%s%s "
             "'http://127.0.0.1:%d%s'",
             strcmp(method, "HEAD") == 0 ? "--head" : "-X ",
             strcmp(method, "HEAD") == 0 ? "" : method, bp, hp,
             body ? "-H 'Content-Type: application/x-www-form-urlencoded' "
                    "--data-binary '"
                  : "",
             body ? body : "", body ? "' " : "", extra ? extra : "", s->port, path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    int code = 0;
    if (fscanf(f, "%d", &code) != 1)
        code = 0;
    pclose(f);
    *out = tu_read(bp);
    if (!*out)
        *out = hd_xstrdup("");
    if (hdr) {
        *hdr = tu_read(hp);
        if (!*hdr)
            *hdr = hd_xstrdup("");
    }
    remove(bp);
    remove(hp);
    free(bp);
    free(hp);
    return code;
}

/* The path (/u/TOKEN) of the List-Unsubscribe header of the email to addr
 * in folder, checking its form. */
static inline char *mail_link(const char *folder, const char *addr)
{
    char *d = tu_path(dir, folder);
    DIR *dd = opendir(d);
    assert_non_null(dd);
    struct dirent *e;
    char *found = NULL;
    while (!found && (e = readdir(dd)) != NULL) {
        if (e->d_name[0] == '.' || !strstr(e->d_name, ".eml"))
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", d, e->d_name);
        char *eml = tu_read(p), *to = eml ? strstr(eml, "\nTo: <") : NULL;
        if (to && strncmp(to + 6, addr, strlen(addr)) == 0) {
            const char *h = strstr(eml, "\nList-Unsubscribe: <http://127.0.0.1:8025/u/v1.");
            assert_non_null(h);
            assert_contains(eml, "\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
            h += strlen("\nList-Unsubscribe: <http://127.0.0.1:8025");
            found = hd_xstrndup(h, strcspn(h, ">"));
            /* the text part (quoted-printable: soft line breaks taken out)
             * carries the same link, and the preferences one */
            char *w = eml;
            for (char *r = eml; *r; r++) {
                if (r[0] == '=' && r[1] == '\r' && r[2] == '\n')
                    r += 2;
                else
                    *w++ = *r;
            }
            *w = '\0';
            assert_contains(eml, found);
            char pref[200];
            snprintf(pref, sizeof pref, "http://127.0.0.1:8025/p/%s", found + 3);
            assert_contains(eml, pref);
        }
        free(eml);
    }
    closedir(dd);
    free(d);
    if (!found)
        fail_msg("no outbox email to %s", addr);
    return found;
}

static inline char *outbox_link(const char *addr)
{
    return mail_link("var/outbox/email/new", addr);
}

static inline int64_t q1(const char *sql)
{
    return tu_sql1(dir, e2e_db, sql);
}

/* Starts tests/smtp_server.py, which writes what it receives into the
 * folder's smtpout/. */
static inline void smtp_start(struct tu_server *smtp)
{
    char py[4096];
    const char *src = getenv("HERALD_SRC");
    snprintf(py, sizeof py, "%s/tests/smtp_server.py", src ? src : ".");
    char *out = tu_path(dir, "smtpout");
    assert_int_equal(mkdir(out, 0700), 0);
    free(out);
    const char *argv[] = {"/usr/bin/python3", py, "--out", "smtpout", NULL};
    tu_server_start(smtp, dir, argv, "the SMTP server (is python3-aiosmtpd installed?)");
}

static inline void send_promo(void)
{
    TU_HERALD_OK(dir, "campaign", "create", "promo", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--now");
    TU_HERALD_OK(dir, "send", "promo");
}

#endif
