/* notify: wake-ups between the nodes on a PostgreSQL store (issue 23), a
 * hint only: polling remains the truth.
 *
 * The store functions that make work appear note it (hd_store_work_note):
 * a campaign created or runnable again, a run made active, a run's failures
 * retried, an API message queued, a lost node's messages rescued, a
 * stopping node's messages given back. Outside a transaction the hint goes
 * at once, `SELECT pg_notify('herald_work', 'KIND ID')`; inside one it is
 * noted, and hd_store_commit sends it in the same round trip as its COMMIT,
 * one hint per transaction whatever the transaction made. At its commit a
 * transaction that notified takes the server's lock on the notification
 * queue, so such transactions commit one after another: hints therefore
 * come from the few transactions that make work (a firing, a group of API
 * sends), never from the claims and results of a campaign's messages. The
 * payload is a word of the code's own and a number, never user text.
 *
 * A dispatcher waits for hints on a connection of the store's own
 * (hd_store_listen: LISTEN herald_work, application_name 'herald listen'),
 * by poll() on its socket (hd_store_wait_work); the hints its own store
 * connection sent (its own firing, say) do not wake it. When that connection
 * breaks, the wait sleeps instead, as it does on SQLite, and a new
 * connection is tried at most every RECONNECT_MS; the caller sees the
 * change through hd_store_listening and logs it.
 *
 * Pauses travel the same way, at once and outside any transaction: a
 * throttled node publishes a provider's pause on its listening connection
 * (hd_store_pause_publish: `SELECT pg_notify('herald_pause', 'PROVIDER
 * MS_LEFT')`, the pause's milliseconds left, since the nodes' clocks may
 * differ, then the provider_pauses upsert of its end on the server's clock,
 * each in its own autocommit transaction, the upsert giving up after LOCK_MS
 * behind a batch that holds the row), and every node takes the hints in
 * without blocking at each turn of its loop (hd_store_pause_hints:
 * PQconsumeInput and PQnotifies, no round trip). The payload is a provider's
 * name from the configuration, whose names are letters, digits, '_', '-' and
 * '.' only (checked again on both sides), and a number. The provider_pauses
 * table stays the truth, read every 100 ms as before: a node that missed a
 * hint finds the pause there. */
#include <ctype.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "herald/time.h"
#include "store_int.h"

#define CHANNEL "herald_work"
#define PAUSES "herald_pause"
#define RECONNECT_MS 5000
#define LOCK_MS "50"

static void send_hint(struct hd_store *st, const char *payload)
{
    char sql[128];
    struct hd_err ignored = {0};
    snprintf(sql, sizeof sql, "SELECT pg_notify('" CHANNEL "', '%s')", payload);
    hd_db_exec(st->conn, sql, &ignored); /* a hint: the next poll finds the work anyway */
}

void hd_store_work_note(struct hd_store *st, const char *kind, int64_t id)
{
    char payload[sizeof st->work];
    if (st->db) /* SQLite: one machine, and the loop polls as it always did */
        return;
    bool txn = hd_db_pg_in_transaction(st->conn);
    if (txn && st->work[0]) /* the first of a transaction's hints stands for all */
        return;
    snprintf(payload, sizeof payload, "%s %lld", kind, (long long)id);
    if (txn)
        memcpy(st->work, payload, sizeof st->work);
    else
        send_hint(st, payload);
}

int hd_store_pg_commit(struct hd_store *st, struct hd_err *err)
{
    char sql[128];
    if (!st->work[0])
        return hd_db_commit(st->conn, err);
    /* a statement that fails stops the rest: the COMMIT is not run, and
     * the caller rolls back as after any failed commit */
    snprintf(sql, sizeof sql, "SELECT pg_notify('" CHANNEL "', '%s'); COMMIT", st->work);
    st->work[0] = '\0';
    return hd_db_exec(st->conn, sql, err);
}

void hd_store_work_forget(struct hd_store *st)
{
    st->work[0] = '\0';
}

void hd_store_listen_close(struct hd_store *st)
{
    hd_db_close(st->listener);
    st->listener = NULL;
}

/* A new listening connection, or none (tried again in RECONNECT_MS). */
static void connect_listener(struct hd_store *st)
{
    struct hd_err ignored = {0};
    hd_store_listen_close(st);
    st->listen_retry_ms = hd_clock_mono_ms() + RECONNECT_MS;
    if (hd_db_open(st->target, st->password, false, &st->listener, &ignored) < 0) {
        st->listener = NULL;
        return;
    }
    if (hd_db_exec(st->listener,
                   "SET application_name = 'herald listen'; SET lock_timeout = " LOCK_MS
                   "; LISTEN " CHANNEL "; LISTEN " PAUSES,
                   &ignored) < 0)
        hd_store_listen_close(st);
}

bool hd_store_listen(struct hd_store *st)
{
    if (st->db || !st->target)
        return false;
    st->listen_wanted = true;
    connect_listener(st);
    return st->listener != NULL;
}

bool hd_store_listening(const struct hd_store *st)
{
    return st->listener != NULL;
}

/* A provider's name as the configuration allows it (core/config.c). */
static bool name_ok(const char *s, size_t cap)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n + 1 >= cap ||
            (!isalnum((unsigned char)s[n]) && s[n] != '_' && s[n] != '-' && s[n] != '.'))
            return false;
    return n > 0;
}

/* A pause hint, kept (the later of two for one provider) until handed out. */
static void keep_hint(struct hd_store *st, const char *payload)
{
    char name[sizeof st->hints[0].provider];
    const char *sp = strchr(payload, ' ');
    if (!sp || (size_t)(sp - payload) >= sizeof name)
        return;
    memcpy(name, payload, (size_t)(sp - payload));
    name[sp - payload] = '\0';
    char *end;
    long long left = strtoll(sp + 1, &end, 10); /* ms: the nodes' clocks may differ */
    if (!name_ok(name, sizeof name) || *end || end == sp + 1 || left <= 0)
        return;
    int64_t until = hd_clock_now_ms(NULL) + left;
    size_t i = 0;
    while (i < st->nhints && strcmp(st->hints[i].provider, name) != 0)
        i++;
    if (i == st->nhints) {
        if (i == sizeof st->hints / sizeof st->hints[0])
            return; /* more providers than room: the table has it */
        st->nhints++;
        memcpy(st->hints[i].provider, name, sizeof name);
        st->hints[i].until_ms = 0;
    }
    if (until > st->hints[i].until_ms)
        st->hints[i].until_ms = until;
}

static void on_note(void *ud, const char *channel, const char *payload)
{
    struct hd_store *st = ud;
    if (strcmp(channel, PAUSES) == 0)
        keep_hint(st, payload);
    else
        st->work_seen = true;
}

/* What came on the listener, without blocking: 0, or -1 when it broke
 * (closed then, and tried again in RECONNECT_MS). The hints the store's
 * own connection sent do not count: its caller knows. */
static int take_in(struct hd_store *st)
{
    if (hd_db_pg_notifications(st->listener, hd_db_pg_backend(st->conn), on_note, st) >= 0)
        return 0;
    hd_store_listen_close(st);
    st->listen_retry_ms = hd_clock_mono_ms() + RECONNECT_MS;
    return -1;
}

/* Runs sql on the listener with the provider and the pause's ms left: a
 * hint, so a failure is ignored. */
static void publish_one(struct hd_store *st, const char *sql, const char *provider, int64_t left_ms)
{
    struct hd_db_stmt *s = NULL;
    struct hd_err ignored = {0};
    if (hd_db_prepare(st->listener, sql, &s, &ignored) < 0)
        return;
    hd_db_bind_text(s, 1, provider, NULL);
    hd_db_bind_int64(s, 2, left_ms, NULL);
    hd_db_step(s, &ignored);
    hd_db_finalize(s);
}

void hd_store_pause_publish(struct hd_store *st, const char *provider, int64_t until_ms)
{
    if (!st->listener || !name_ok(provider, sizeof st->hints[0].provider))
        return; /* the batch's write carries it to the table */
    /* the time left, not the end: the nodes' clocks may differ (the table
     * holds the end on the server's) */
    int64_t left = until_ms - hd_clock_now_ms(NULL);
    publish_one(st, "SELECT pg_notify('" PAUSES "', ?1 || ' ' || CAST(?2 AS BIGINT))", provider,
                left); /* a hint: the table is read anyway */
    publish_one(st, HD_PG_PAUSE_UPSERT, provider,
                left); /* locked or failed: the batch writes it too */
}

void hd_store_pause_hints(struct hd_store *st, hd_pause_cb cb, void *ud)
{
    if (!st->listener && st->listen_wanted && hd_clock_mono_ms() >= st->listen_retry_ms)
        connect_listener(st);
    if (st->listener)
        take_in(st);
    for (size_t i = 0; i < st->nhints; i++)
        cb(ud, st->hints[i].provider, st->hints[i].until_ms);
    st->nhints = 0;
}

static int doze(int timeout_ms)
{
    if (timeout_ms > 0)
        poll(NULL, 0, timeout_ms);
    return 0;
}

int hd_store_wait_work(struct hd_store *st, int timeout_ms)
{
    if (!st->listener && st->listen_wanted && hd_clock_mono_ms() >= st->listen_retry_ms)
        connect_listener(st);
    if (!st->listener)
        return doze(timeout_ms);
    /* what came while the connection was not watched counts at once */
    if (take_in(st) < 0)
        return doze(timeout_ms); /* sleep, as on SQLite, until a new one is made */
    if (!st->work_seen && timeout_ms > 0) {
        struct pollfd p = {.fd = hd_db_pg_socket(st->listener), .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0) /* the time is up, or a signal: to the caller */
            return 0;
        if (take_in(st) < 0)
            return doze(timeout_ms);
    }
    bool woke = st->work_seen;
    st->work_seen = false;
    return woke;
}
