/* testproof: what issue 23's crash proofs share (tests/test_pg_proof.c at
 * the outbox, tests/test_pg_proof_smtp.c at the SMTP test server). A
 * SQLite store of generated contacts, all in Shanghai (17:00 there at
 * HERALD_NOW, outside quiet hours), is built once; each case copies it
 * to a fresh PostgreSQL database with `herald db copy` and runs herald
 * nodes on that copy in a folder of its own that shares the link secret.
 * A node is killed or frozen "at a random moment": after a random number
 * of further messages at the gateway, counted by a shell command; what it
 * held then (its messages in `sending`) is the bound on the duplicates
 * it can cause. */
#ifndef HERALD_TESTPROOF_H
#define HERALD_TESTPROOF_H

#include <signal.h>
#include <time.h>

#include "testnet.h"

#define TP_OK(dir, ...) tu_herald_ok_argv(dir, (const char *const[]){__VA_ARGS__, NULL})

/* Messages not terminal: queued, sending, retry_wait, deferred. */
static const char tp_open_sql[] = "SELECT count(*) FROM messages WHERE state IN (0, 1, 6, 7)";

static inline void tp_nap(long ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000 * 1000}, NULL);
}

/* Waits for pid (0: none) and fails unless it exited 0. */
static inline void tp_await_exit(pid_t pid)
{
    int st;
    if (pid == 0)
        return;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* The number a shell command prints. */
static inline long long tp_count(const char *cmd)
{
    char *out = tu_sh(cmd);
    long long k = atoll(out);
    free(out);
    return k;
}

/* A SQLite store (its folder; the caller removes it) of n contacts
 * p00000@example.com... in Shanghai, every fourth with grp = "b", and the
 * segments shanghai (all of them) and quarter (those with grp = "b"). */
static inline char *tp_lite_store(int n)
{
    char cmd[2048];
    char *dir = tu_tmpdir_templates();
    TP_OK(dir, "init");
    snprintf(cmd, sizeof cmd,
             "cd '%s' && python3 -c \"print('id,email,timezone,first_name,grp'); "
             "[print('p%%05d,p%%05d@example.com,Asia/Shanghai,P%%d,%%s' %% (i, i, i, 'ab'[i %% 4 "
             "== 3])) for i in range(%d)]\" > many.csv",
             dir, n);
    free(tu_sh(cmd));
    TP_OK(dir, "contacts", "import", "many.csv", "--default-region", "CN");
    TP_OK(dir, "segment", "define", "shanghai", "timezone = \"Asia/Shanghai\"");
    TP_OK(dir, "segment", "define", "quarter", "grp = \"b\"");
    return dir;
}

/* A fresh PostgreSQL copy of the store in lite (its URI; name receives the
 * database's name for tu_pg_drop) and, in *dir, a new folder whose var/
 * holds the store's link secret. */
static inline char *tp_pg_copy(const char *lite, char name[64], char **dir)
{
    struct tu_run r;
    char cmd[1024];
    char *uri = tu_pg_db(name);
    *dir = tu_tmpdir_templates();
    tu_herald(&r, lite, NULL, "db", "copy", "var/herald.db", uri, NULL);
    if (r.status != 0)
        fail_msg("copy to PostgreSQL: %s%s", r.out, r.err);
    tu_run_release(&r);
    snprintf(cmd, sizeof cmd, "mkdir -m 700 -p '%s/var' && cp -p '%s/var/herald.secret' '%s/var/'",
             *dir, lite, *dir);
    free(tu_sh(cmd));
    return uri;
}

/* Waits until the shell command count prints at least target (at most
 * limit_ms) or the process *pid exits first (then *pid becomes 0). */
static inline void tp_await_count(const char *count, long long target, pid_t *pid, long limit_ms)
{
    int st;
    for (long t = 0; t < limit_ms && tp_count(count) < target; t += 10) {
        if (*pid && waitpid(*pid, &st, WNOHANG) == *pid) {
            *pid = 0;
            return;
        }
        tp_nap(10);
    }
}

/* What the node of process pid holds (its messages in sending). */
static inline long long tp_held(const char *uri, pid_t pid)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM messages m JOIN nodes n ON n.id = m.lease_owner WHERE "
             "m.state = 1 AND n.pid = %d",
             (int)pid);
    return tu_sql1("", uri, sql);
}

#endif
