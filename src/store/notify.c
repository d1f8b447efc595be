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
 * change through hd_store_listening and logs it. */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "herald/time.h"
#include "store_int.h"

#define CHANNEL "herald_work"
#define RECONNECT_MS 5000

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
    if (hd_db_exec(st->listener, "SET application_name = 'herald listen'; LISTEN " CHANNEL,
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
    /* what came while the connection was not watched counts at once;
     * hints the store's own connection sent do not: its caller knows */
    int self = hd_db_pg_backend(st->conn);
    int n = hd_db_pg_notifications(st->listener, self);
    if (n == 0 && timeout_ms > 0) {
        struct pollfd p = {.fd = hd_db_pg_socket(st->listener), .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0) /* the time is up, or a signal: to the caller */
            return 0;
        n = hd_db_pg_notifications(st->listener, self);
    }
    if (n < 0) {
        /* the server went away or ended this connection: sleep, as on
         * SQLite, until a new one is made */
        hd_store_listen_close(st);
        st->listen_retry_ms = hd_clock_mono_ms() + RECONNECT_MS;
        return doze(timeout_ms);
    }
    return n > 0;
}
