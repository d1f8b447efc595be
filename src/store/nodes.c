/* nodes: the dispatcher nodes that share a store (issue 23, stage 4a). A
 * `herald run` or `herald send` registers a row at start (host, process id,
 * herald's version), moves its heartbeat_at once a second while it runs and
 * sets stopped_at when it exits cleanly; `herald nodes` lists the rows with
 * what each holds in flight. Times are wall-clock seconds, not the business
 * clock a test may set (HERALD_NOW), since they are compared across
 * processes: on PostgreSQL the server's (HD_PG_NOW_S), since they are
 * compared across machines too, whose clocks may differ (a node whose clock
 * ran ahead took a beating node's work: a review found it). On PostgreSQL a
 * node's id is the lease_owner of what it claims, and recovery (queue.c's
 * hd_store_recover_nodes) requeues what a node holds once its beat is older
 * than the lease: liveness by heartbeat, on any machine. On SQLite the rows
 * are kept for `herald nodes` alone; leases there still name the process and
 * recovery asks kill(pid, 0), so what a node holds is counted by its pid
 * while it runs, and a beat that would wait for another process's write lock
 * is skipped. Both engines spell every statement here alike, but for the
 * time. */
#include "store_int.h"

#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"

int hd_store_node_register(struct hd_store *st, const char *host, int64_t pid, const char *version,
                           int64_t now, int64_t *id, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    bool pg = hd_store_is_pg(st);
    int rc = hd_db_prepare(st->conn,
                           pg ? "INSERT INTO nodes (host, pid, version, started_at, heartbeat_at) "
                                "VALUES (?1, ?2, ?3, " HD_PG_NOW_S ", " HD_PG_NOW_S ") RETURNING id"
                              : "INSERT INTO nodes (host, pid, version, started_at, heartbeat_at) "
                                "VALUES (?1, ?2, ?3, ?4, ?4) RETURNING id",
                           &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "registering the node");
    hd_db_bind_text(s, 1, host, NULL);
    hd_db_bind_int64(s, 2, pid, NULL);
    hd_db_bind_text(s, 3, version, NULL);
    if (!pg)
        hd_db_bind_int64(s, 4, now, NULL);
    int step = hd_db_step(s, err);
    if (step == 1)
        *id = hd_db_col_int64(s, 0);
    else
        rc = hd_store_dfail(err, step < 0 ? step : HD_E_STORE, "registering the node");
    while (step == 1) /* to its end, so the insert is done on every engine */
        step = hd_db_step(s, NULL);
    hd_db_finalize(s);
    return rc;
}

int hd_store_node_clock(struct hd_store *st, int64_t now, int64_t *out, struct hd_err *err)
{
    *out = now;
    if (!hd_store_is_pg(st))
        return 0;
    int rc = hd_db_query_int64(st->conn, "SELECT " HD_PG_NOW_S, out, err);
    return rc < 0 ? hd_store_dfail(err, rc, "reading the server's clock") : 0;
}

/* One UPDATE of the node's row: sql with now as ?2, or on PostgreSQL
 * pg_sql, which takes the server's time instead. */
static int node_set(struct hd_store *st, const char *sql, const char *pg_sql, int64_t id,
                    int64_t now, const char *what, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    bool pg = hd_store_is_pg(st);
    int rc = hd_db_prepare(st->conn, pg ? pg_sql : sql, &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, what);
    hd_db_bind_int64(s, 1, id, NULL);
    if (!pg)
        hd_db_bind_int64(s, 2, now, NULL);
    if ((rc = hd_db_step(s, err)) < 0)
        rc = hd_store_dfail(err, rc, what);
    hd_db_finalize(s);
    return rc < 0 ? rc : 0;
}

/* On SQLite the beat never waits for the write lock: it runs between
 * the dispatcher's turns on the dispatcher's connection, and another
 * process holding the lock would hold up the sending for up to
 * busy_timeout. A beat that finds the lock taken is skipped (the next
 * comes a second later); on SQLite the beat is only for `herald nodes`. */
static int beat_sqlite(struct hd_store *st, int64_t id, int64_t now, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    int wait = 0, rc;
    if (sqlite3_prepare_v2(st->db, "PRAGMA busy_timeout", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        wait = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_busy_timeout(st->db, 0);
    rc = sqlite3_prepare_v2(st->db, "UPDATE nodes SET heartbeat_at = ?2 WHERE id = ?1", -1, &s,
                            NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_int64(s, 2, now);
        rc = sqlite3_step(s);
    }
    sqlite3_finalize(s);
    sqlite3_busy_timeout(st->db, wait);
    if (rc == SQLITE_DONE || rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return 0;
    return hd_store_fail(st, err, "recording the node's heartbeat");
}

/* On PostgreSQL the beat's statement is prepared once per connection
 * (hd_store_dcached): prepared, described, run and deallocated each
 * second, an idle node committed 4.05 transactions a second, against
 * 1 for the UPDATE alone. */
int hd_store_node_beat(struct hd_store *st, int64_t id, int64_t now, struct hd_err *err)
{
    struct hd_db_stmt *s;
    int rc;
    if (st->db)
        return beat_sqlite(st, id, now, err);
    if ((rc = hd_store_dcached(st, DSLOT_NODE_BEAT,
                               "UPDATE nodes SET heartbeat_at = " HD_PG_NOW_S " WHERE id = ?1",
                               NULL, &s, err)) < 0)
        return hd_store_dfail(err, rc, "recording the node's heartbeat");
    hd_db_bind_int64(s, 1, id, NULL);
    rc = hd_db_step(s, err);
    hd_db_reset(s);
    return rc < 0 ? hd_store_dfail(err, rc, "recording the node's heartbeat") : 0;
}

int hd_store_node_stop(struct hd_store *st, int64_t id, int64_t now, struct hd_err *err)
{
    return node_set(st, "UPDATE nodes SET heartbeat_at = ?2, stopped_at = ?2 WHERE id = ?1",
                    "UPDATE nodes SET heartbeat_at = " HD_PG_NOW_S ", stopped_at = " HD_PG_NOW_S
                    " WHERE id = ?1",
                    id, now, "recording the node's stop", err);
}

/* What a node holds: on PostgreSQL under its id, on SQLite under its
 * process id while it runs. */
#define NODES_SQL(OWNER)                                                                           \
    "SELECT n.id, n.host, n.pid, n.version, n.started_at, n.heartbeat_at, n.stopped_at, (SELECT "  \
    "count(*) FROM messages m WHERE m.state = 1 AND m.lease_owner = " OWNER ") FROM nodes n "      \
    "ORDER BY n.id"

int hd_store_nodes_list(struct hd_store *st, struct hd_node **out, size_t *n, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    size_t cap = 0;
    int rc, step;
    *out = NULL;
    *n = 0;
    rc = hd_db_prepare(st->conn,
                       hd_store_is_pg(st) ? NODES_SQL("n.id")
                                          : NODES_SQL("n.pid AND n.stopped_at IS NULL"),
                       &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "listing the nodes");
    while ((step = hd_db_step(s, err)) == 1) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            *out = hd_xrealloc(*out, cap * sizeof **out);
        }
        struct hd_node *d = &(*out)[(*n)++];
        memset(d, 0, sizeof *d);
        d->id = hd_db_col_int64(s, 0);
        hd_strcpy_cut(d->host, sizeof d->host, hd_db_col_text(s, 1));
        d->pid = hd_db_col_int64(s, 2);
        hd_strcpy_cut(d->version, sizeof d->version, hd_db_col_text(s, 3));
        d->started_at = hd_db_col_int64(s, 4);
        d->heartbeat_at = hd_db_col_int64(s, 5);
        d->stopped_at = hd_db_col_null(s, 6) ? 0 : hd_db_col_int64(s, 6);
        d->held = hd_db_col_int64(s, 7);
    }
    hd_db_finalize(s);
    if (step < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
        return hd_store_dfail(err, step, "listing the nodes");
    }
    return 0;
}

bool hd_store_nodes_shared(const struct hd_store *st)
{
    return hd_store_is_pg(st);
}

int hd_store_node_guard(struct hd_store *st, int64_t secs, struct hd_err *err)
{
    char sql[96];
    if (!hd_store_is_pg(st))
        return 0;
    snprintf(sql, sizeof sql, "SET idle_in_transaction_session_timeout = %lld",
             (long long)secs * 1000);
    int rc = hd_db_exec(st->conn, sql, err);
    return rc < 0 ? hd_store_dfail(err, rc, "limiting the node's transactions") : 0;
}
