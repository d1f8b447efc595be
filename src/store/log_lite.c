/* log_lite: the delivery log's rows on SQLite, LOG_ROWS to a statement
 * (issue 25). A row a statement cost 21,000 instructions a message of a
 * push campaign: each INSERT opens its four cursors (the table and three
 * indexes) and starts its program again, about 8,500 of them, which one
 * statement of sixteen rows pays once. So, as on PostgreSQL (queue_pg.c),
 * the rows of an open transaction wait here and are written before the
 * connection's next statement that could see them (db.h's hd_db_defer;
 * store.c's statement helpers and db_sqlite.c's step flush them first;
 * a cached statement that neither names attempts nor ends a transaction
 * lets them wait on, so a service batch's status callbacks, each a write
 * of its own tables and a log row, group their rows too), so that a read
 * in the transaction sees them and COMMIT writes them; a rollback or
 * close drops them. Sixteen waiting rows go at once, fewer when flushed,
 * each number of rows by a statement of its own, prepared once.
 * Outside a transaction a row is written at once. A waiting row's text is
 * copied into one buffer (the caller's may not outlive the call); the
 * row's pointers are set to it when it is written. */
#include "store_int.h"

#include "db.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "herald/buf.h"

enum { LOG_ROWS = 16, LOG_STRS = 9, LOG_COLS = 21 };

#define LOG_INSERT                                                                                 \
    "INSERT INTO attempts (message_id, attempt, at, done_at, channel, provider, address, "         \
    "outcome, code, text, gateway_id, digest, campaign_id, run_id, contact_id, variant, state, "   \
    "reason, segments, cost, detail) VALUES "
#define LOG_ROW1 "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

struct hd_lite_log {
    size_t n;
    struct hd_attempt row[LOG_ROWS];
    size_t str[LOG_ROWS][LOG_STRS]; /* offsets into text; SIZE_MAX for NULL */
    struct hd_buf text;
};

/* The row's text fields, in one order for keeping and for restoring. */
static const char **strs(struct hd_attempt *a, int i)
{
    const char **f[LOG_STRS] = {&a->provider, &a->address, &a->outcome, &a->text,  &a->gateway_id,
                                &a->digest,   &a->variant, &a->reason,  &a->detail};
    return f[i];
}

/* Binds a's columns to the statement's parameters after base. */
static void bind_row(sqlite3_stmt *s, int base, const struct hd_attempt *a)
{
    sqlite3_bind_int64(s, base + 1, a->message);
    sqlite3_bind_int(s, base + 2, a->attempt);
    sqlite3_bind_int64(s, base + 3, a->at_ms);
    if (a->done_ms > 0)
        sqlite3_bind_int64(s, base + 4, a->done_ms);
    hd_store_bind_text(s, base + 5, a->channel >= 0 ? hd_channel_name(a->channel) : NULL);
    hd_store_bind_text(s, base + 6, a->provider);
    hd_store_bind_text(s, base + 7, a->address);
    sqlite3_bind_text(s, base + 8, a->outcome, -1, SQLITE_STATIC);
    if (a->code)
        sqlite3_bind_int(s, base + 9, a->code);
    hd_store_bind_text(s, base + 10, a->text && *a->text ? a->text : NULL);
    hd_store_bind_text(s, base + 11, a->gateway_id && *a->gateway_id ? a->gateway_id : NULL);
    hd_store_bind_text(s, base + 12, a->digest && *a->digest ? a->digest : NULL);
    sqlite3_bind_int64(s, base + 13, a->campaign);
    sqlite3_bind_int64(s, base + 14, a->run);
    sqlite3_bind_int64(s, base + 15, a->contact);
    hd_store_bind_text(s, base + 16, a->variant);
    sqlite3_bind_int(s, base + 17, a->state);
    hd_store_bind_text(s, base + 18, a->reason);
    if (a->segments > 0) {
        sqlite3_bind_int(s, base + 19, a->segments);
        sqlite3_bind_double(s, base + 20, a->cost);
    }
    hd_store_bind_text(s, base + 21, a->detail);
}

/* The statement of n rows, prepared once for each n in a slot of its own
 * (its text put together only then). */
static int log_stmt(struct hd_store *st, size_t n, sqlite3_stmt **s, struct hd_err *err)
{
    int slot = SLOT_ATTEMPT_ADD + (int)n - 1;
    char sql[sizeof LOG_INSERT + LOG_ROWS * sizeof ", " LOG_ROW1];
    sql[0] = '\0'; /* prepared already: not read (the rest is not zeroed for every write) */
    if (!st->cache[slot]) {
        size_t len = strlen(LOG_INSERT);
        memcpy(sql, LOG_INSERT, len);
        for (size_t i = 0; i < n; i++) {
            const char *row = i ? ", " LOG_ROW1 : LOG_ROW1;
            memcpy(sql + len, row, strlen(row));
            len += strlen(row);
        }
        sql[len] = '\0';
    }
    return hd_store_cached(st, slot, sql, s, err);
}

/* rows[0..n) written by one statement. */
static int write_rows(struct hd_store *st, const struct hd_attempt *rows, size_t n,
                      struct hd_err *err)
{
    sqlite3_stmt *s;
    int rc = log_stmt(st, n, &s, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        bind_row(s, (int)i * LOG_COLS, &rows[i]);
    rc = sqlite3_step(s) == SQLITE_DONE ? 0 : hd_store_fail(st, err, "writing the delivery log");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

/* The waiting rows, written now by one statement: their text pointers
 * set to the buffer first (it no longer grows). */
static int log_write(struct hd_store *st, struct hd_err *err)
{
    struct hd_lite_log *l = st->lite_log;
    int rc = 0;
    hd_db_defer(st->conn, NULL, NULL);
    for (size_t i = 0; i < l->n; i++)
        for (int f = 0; f < LOG_STRS; f++)
            *strs(&l->row[i], f) = l->str[i][f] == SIZE_MAX ? NULL : l->text.data + l->str[i][f];
    if (l->n > 0)
        rc = write_rows(st, l->row, l->n, err);
    l->n = 0;
    hd_buf_reset(&l->text);
    return rc;
}

/* The hook (db.h): written before the next statement, or dropped with a
 * rollback; and dropped too when the transaction they were added in has
 * ended without them (SQLite rolls back by itself after some errors). */
static int log_deferred(void *ud, bool flush, struct hd_err *err)
{
    struct hd_store *st = ud;
    if (flush && !sqlite3_get_autocommit(st->db))
        return log_write(st, err);
    st->lite_log->n = 0;
    hd_buf_reset(&st->lite_log->text);
    return 0;
}

void hd_store_lite_log_free(struct hd_store *st)
{
    if (!st->lite_log)
        return;
    hd_buf_release(&st->lite_log->text);
    free(st->lite_log);
    st->lite_log = NULL;
}

int hd_store_lite_attempt_add(struct hd_store *st, const struct hd_attempt *a, struct hd_err *err)
{
    if (sqlite3_get_autocommit(st->db)) /* no transaction: at once */
        return write_rows(st, a, 1, err);
    if (!st->lite_log) {
        st->lite_log = hd_xcalloc(1, sizeof *st->lite_log);
        hd_buf_init(&st->lite_log->text);
    }
    struct hd_lite_log *l = st->lite_log;
    struct hd_attempt *r = &l->row[l->n];
    *r = *a;
    for (int f = 0; f < LOG_STRS; f++) {
        const char *v = *strs(r, f);
        l->str[l->n][f] = v ? l->text.len : SIZE_MAX;
        if (v)
            hd_buf_add(&l->text, v, strlen(v) + 1);
        *strs(r, f) = NULL; /* restored from the buffer when written */
    }
    if (++l->n == LOG_ROWS)
        return log_write(st, err);
    hd_db_defer(st->conn, log_deferred, st);
    return 0;
}
