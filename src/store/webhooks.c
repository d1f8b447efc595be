/* webhooks: the outbound webhooks' cursors and the events they read
 * (issue 20).
 *
 * Every event a webhook carries is already a row of an append-only table:
 * the delivery log (attempts) has sent (outcome accepted), the receipts
 * (delivered, bounced and undelivered, complained, opened) and the
 * failures (a row leaving its message failed or render_failed);
 * consent_log has every opt-out, from any source (a link, the preference
 * centre, a sender's unsubscribe, a complaint, the CLI). So a webhook is a
 * cursor per table (the webhooks table, migration 15): a batch is the next
 * rows past it of the webhook's types, and acknowledging it moves the
 * cursor, in one transaction. Nothing is written when a message is sent.
 * Row ids only grow in commit order (SQLite has one writer at a time), so
 * a row below a cursor never appears later. The event's id is its source
 * and row ("log-123", "consent-45"): a batch sent again after a crash
 * carries the same ids. A type is computed from the row by one CASE, and
 * the webhook's set is a bit mask parameter: no SQL from configuration.
 * On db.h for both engines (issue 23): PostgreSQL's text, where the
 * dialects differ (greatest for max of two, IS NOT DISTINCT FROM for IS,
 * a bit test compared with 1, an upsert for INSERT OR IGNORE), is chosen
 * by hd_store_is_pg, and a batch is read in one repeatable-read snapshot
 * there. On PostgreSQL ids come from sequences, which concurrent
 * writers (several nodes) commit out of order: a cursor could pass a row
 * committed later with a lower id; one writer (one herald run) keeps
 * SQLite's guarantee. */
#include "store_int.h"
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/config.h"
#include "herald/state.h"

/* Rows of one table looked at per read at most: a webhook of a rare type
 * passes over the rest a window at a time. */
#define WINDOW 50000

static void cursor_row(struct hd_db_stmt *s, struct hd_wh_cursor *c)
{
    c->log_id = hd_db_col_int64(s, 0);
    c->consent_id = hd_db_col_int64(s, 1);
    c->next_ms = hd_db_col_int64(s, 2);
    c->attempts = (int)hd_db_col_int64(s, 3);
    const char *e = hd_db_col_text(s, 4);
    snprintf(c->last_error, sizeof c->last_error, "%s", e ? e : "");
    c->last_ok_ms = hd_db_col_int64(s, 5);
    c->delivered = hd_db_col_int64(s, 6);
    c->expired = hd_db_col_int64(s, 7);
    c->lag = hd_db_col_int64(s, 8);
}

/* Prepares sql, or pg_sql on PostgreSQL when given. */
static int prepare(struct hd_store *st, const char *sql, const char *pg_sql, struct hd_db_stmt **s,
                   struct hd_err *err)
{
    int rc = hd_db_prepare(st->conn, pg_sql && hd_store_is_pg(st) ? pg_sql : sql, s, err);
    return rc < 0 ? hd_store_dfail(err, rc, "webhooks") : 0;
}

/* Steps s to its end and finalizes it; *changed (may be NULL): its rows. */
static int run(struct hd_db_stmt *s, int64_t *changed, struct hd_err *err)
{
    int rc = hd_db_step(s, err);
    if (rc >= 0 && changed)
        *changed = hd_db_changes(s);
    hd_db_finalize(s);
    return rc < 0 ? hd_store_dfail(err, rc, "webhooks") : 0;
}

#define CURSOR_SQL(MAX)                                                                            \
    "SELECT log_id, consent_id, next_ms, attempts, last_error, last_ok_ms, delivered, "            \
    "expired, " MAX "(0, (SELECT coalesce(max(id), 0) FROM attempts) - log_id) + " MAX             \
    "(0, (SELECT coalesce(max(id), 0) FROM consent_log) - consent_id) FROM webhooks WHERE name = " \
    "?1"

static int cursor_get(struct hd_store *st, const char *name, struct hd_wh_cursor *c, bool *found,
                      struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = prepare(st, CURSOR_SQL("max"), CURSOR_SQL("greatest"), &s, err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    int step = hd_db_step(s, err);
    *found = step == 1;
    if (*found)
        cursor_row(s, c);
    else if (step < 0)
        rc = hd_store_dfail(err, step, "webhooks");
    hd_db_finalize(s);
    return rc;
}

int hd_store_wh_cursor(struct hd_store *st, const char *name, bool create, bool from_start,
                       int64_t now_ms, struct hd_wh_cursor *c, bool *found, struct hd_err *err)
{
    memset(c, 0, sizeof *c);
    int rc = cursor_get(st, name, c, found, err);
    if (rc < 0 || *found || !create)
        return rc;
    struct hd_db_stmt *s = NULL;
    if ((rc = prepare(
             st,
             "INSERT OR IGNORE INTO webhooks (name, log_id, consent_id, created_ms) VALUES (?1, "
             "CASE WHEN ?2 THEN 0 ELSE (SELECT coalesce(max(id), 0) FROM attempts) END, "
             "CASE WHEN ?2 THEN 0 ELSE (SELECT coalesce(max(id), 0) FROM consent_log) END, ?3)",
             "INSERT INTO webhooks (name, log_id, consent_id, created_ms) VALUES (?1, "
             "CASE WHEN CAST(?2 AS BIGINT) <> 0 THEN 0 ELSE (SELECT coalesce(max(id), 0) FROM "
             "attempts) END, CASE WHEN CAST(?2 AS BIGINT) <> 0 THEN 0 ELSE (SELECT "
             "coalesce(max(id), 0) FROM consent_log) END, ?3) ON CONFLICT DO NOTHING",
             &s, err)) < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    hd_db_bind_int64(s, 2, from_start, NULL);
    hd_db_bind_int64(s, 3, now_ms, NULL);
    rc = run(s, NULL, err);
    return rc < 0 ? rc : cursor_get(st, name, c, found, err);
}

int hd_store_wh_lease(struct hd_store *st, const char *name, int64_t owner, int64_t now_ms,
                      int64_t until_ms, bool (*alive)(int64_t owner), bool *got, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int64_t holder = 0, until = 0, n = 0;
    int rc = prepare(st, "SELECT lease_owner, lease_until_ms FROM webhooks WHERE name = ?1", NULL,
                     &s, err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    if (hd_db_step(s, NULL) == 1) {
        holder = hd_db_col_int64(s, 0);
        until = hd_db_col_int64(s, 1);
    }
    hd_db_finalize(s);
    /* a lease of another process that is alive and not over holds */
    bool held = holder && holder != owner && until > now_ms && (!alive || alive(holder));
    *got = false;
    if (held)
        return 0;
    if ((rc = prepare(st,
                      "UPDATE webhooks SET lease_owner = ?2, lease_until_ms = ?3 WHERE "
                      "name = ?1 AND lease_owner IS ?4",
                      "UPDATE webhooks SET lease_owner = ?2, lease_until_ms = ?3 WHERE "
                      "name = ?1 AND lease_owner IS NOT DISTINCT FROM CAST(?4 AS BIGINT)",
                      &s, err)) < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    hd_db_bind_int64(s, 2, owner, NULL);
    hd_db_bind_int64(s, 3, until_ms, NULL);
    if (holder)
        hd_db_bind_int64(s, 4, holder, NULL);
    else
        hd_db_bind_null(s, 4, NULL);
    if ((rc = run(s, &n, err)) == 0)
        *got = n == 1; /* another took it meanwhile: not ours */
    return rc;
}

/* ---- reading a batch ------------------------------------------------------------------ */

static char *col(struct hd_db_stmt *s, int i)
{
    return hd_store_dcol_dup(s, i);
}

static int max_id(struct hd_store *st, const char *sql, int64_t *out, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = prepare(st, sql, NULL, &s, err);
    if (rc < 0)
        return rc;
    int step = hd_db_step(s, err);
    *out = step == 1 ? hd_db_col_int64(s, 0) : 0;
    hd_db_finalize(s);
    return step < 0 ? hd_store_dfail(err, step, "webhooks") : 0;
}

/* The bit test is compared with 1 (PostgreSQL's WHERE takes only a boolean). */
static const char log_sql[] =
    "SELECT a.id, x.t, a.at, a.message_id, a.contact_id, a.campaign_id, c.name, k.ext_id, "
    "a.channel, a.provider, a.address, a.reason, a.text FROM (SELECT id, CASE "
    "WHEN outcome = 'accepted' THEN 0 "
    "WHEN outcome = 'receipt' THEN CASE WHEN reason = 'delivered' THEN 1 "
    "  WHEN reason LIKE 'bounced%' OR reason = 'undelivered' THEN 2 "
    "  WHEN reason = 'complained' THEN 3 WHEN reason = 'opened' THEN 5 END "
    "WHEN state IN (?5, ?6) THEN 6 END AS t FROM attempts WHERE id > ?1 AND id <= ?2) x "
    "JOIN attempts a ON a.id = x.id LEFT JOIN campaigns c ON c.id = a.campaign_id "
    "LEFT JOIN contacts k ON k.id = a.contact_id "
    "WHERE x.t IS NOT NULL AND ((CAST(?3 AS BIGINT) >> x.t) & 1) = 1 ORDER BY a.id LIMIT ?4";

static const char consent_sql[] =
    "SELECT l.id, 4, l.at * 1000, l.message_id, l.contact_id, l.campaign_id, c.name, k.ext_id, "
    "l.channel, NULL, NULL, l.source, NULL, l.category FROM consent_log l "
    "LEFT JOIN campaigns c ON c.id = l.campaign_id LEFT JOIN contacts k ON k.id = l.contact_id "
    "WHERE l.id > ?1 AND l.id <= ?2 AND l.status = 'opted_out' AND ((CAST(?3 AS BIGINT) >> 4) & "
    "1) = 1 ORDER BY l.id LIMIT ?4";

static void event_row(struct hd_db_stmt *s, int source, struct hd_wh_event *e)
{
    *e = (struct hd_wh_event){.source = source,
                              .row = hd_db_col_int64(s, 0),
                              .type = (int)hd_db_col_int64(s, 1),
                              .at_ms = hd_db_col_int64(s, 2),
                              .message = hd_db_col_int64(s, 3),
                              .contact = hd_db_col_int64(s, 4),
                              .campaign_id = hd_db_col_int64(s, 5),
                              .campaign = col(s, 6),
                              .contact_ext = col(s, 7),
                              .channel = col(s, 8),
                              .provider = col(s, 9),
                              .address = col(s, 10),
                              .reason = col(s, 11),
                              .text = col(s, 12),
                              .category = source == HD_WH_SRC_CONSENT ? col(s, 13) : NULL};
}

/* The rows of one source after `after`, up to limit: *to is how far the
 * read reached (the last row when the limit was met, else the window's
 * end or the table's last row). */
static int read_source(struct hd_store *st, int source, int64_t after, int64_t last, unsigned set,
                       size_t limit, struct hd_wh_batch *b, int64_t *to, struct hd_err *err)
{
    int64_t upper = last - after > WINDOW ? after + WINDOW : last;
    *to = upper > after ? upper : after;
    if (limit == 0 || upper <= after) {
        *to = after;
        return 0;
    }
    struct hd_db_stmt *s = NULL;
    int rc = prepare(st, source == HD_WH_SRC_LOG ? log_sql : consent_sql, NULL, &s, err), step;
    if (rc < 0)
        return rc;
    hd_db_bind_int64(s, 1, after, NULL);
    hd_db_bind_int64(s, 2, upper, NULL);
    hd_db_bind_int64(s, 3, set, NULL);
    hd_db_bind_int64(s, 4, (int64_t)limit, NULL);
    if (source == HD_WH_SRC_LOG) {
        hd_db_bind_int64(s, 5, HD_ST_FAILED, NULL);
        hd_db_bind_int64(s, 6, HD_ST_RENDER_FAILED, NULL);
    }
    size_t got = 0;
    while ((step = hd_db_step(s, err)) == 1) {
        HD_GROW(b->v, b->n);
        event_row(s, source, &b->v[b->n++]);
        got++;
    }
    if (step < 0)
        rc = hd_store_dfail(err, step, "webhook events");
    else if (got == limit)
        *to = b->v[b->n - 1].row;
    hd_db_finalize(s);
    return rc;
}

int hd_store_wh_batch(struct hd_store *st, const struct hd_wh_cursor *c, unsigned set, size_t limit,
                      struct hd_wh_batch *b, struct hd_err *err)
{
    memset(b, 0, sizeof *b);
    int64_t last_log = 0, last_consent = 0;
    /* one read transaction: the last ids and the rows of one snapshot */
    int rc = hd_db_exec(
        st->conn, hd_store_is_pg(st) ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN",
        err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "webhooks");
    if ((rc = max_id(st, "SELECT coalesce(max(id), 0) FROM attempts", &last_log, err)) < 0 ||
        (rc = max_id(st, "SELECT coalesce(max(id), 0) FROM consent_log", &last_consent, err)) < 0 ||
        (rc = read_source(st, HD_WH_SRC_LOG, c->log_id, last_log, set, limit, b, &b->log_to, err)) <
            0)
        goto out;
    rc = read_source(st, HD_WH_SRC_CONSENT, c->consent_id, last_consent, set, limit - b->n, b,
                     &b->consent_to, err);
out:
    hd_store_rollback(st);
    if (rc < 0)
        hd_wh_batch_release(b);
    return rc;
}

void hd_wh_batch_release(struct hd_wh_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++) {
        struct hd_wh_event *e = &b->v[i];
        free(e->campaign);
        free(e->contact_ext);
        free(e->channel);
        free(e->provider);
        free(e->address);
        free(e->reason);
        free(e->text);
        free(e->category);
    }
    free(b->v);
    memset(b, 0, sizeof *b);
}

/* ---- acknowledging ---------------------------------------------------------------------- */

#define ACK_SQL(MAX)                                                                               \
    "UPDATE webhooks SET log_id = " MAX "(log_id, ?2), consent_id = " MAX "(consent_id, ?3), "     \
    "next_ms = 0, attempts = 0, last_error = NULL, last_ok_ms = ?4, delivered = delivered + "      \
    "?5, expired = expired + ?6, lease_owner = NULL, lease_until_ms = NULL WHERE name = ?1"

int hd_store_wh_ack(struct hd_store *st, const char *name, const struct hd_wh_batch *b,
                    int64_t delivered, int64_t expired, int64_t now_ms, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = prepare(st, ACK_SQL("max"), ACK_SQL("greatest"), &s, err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    hd_db_bind_int64(s, 2, b->log_to, NULL);
    hd_db_bind_int64(s, 3, b->consent_to, NULL);
    hd_db_bind_int64(s, 4, now_ms, NULL);
    hd_db_bind_int64(s, 5, delivered, NULL);
    hd_db_bind_int64(s, 6, expired, NULL);
    return run(s, NULL, err);
}

int hd_store_wh_fail(struct hd_store *st, const char *name, int attempts, int64_t next_ms,
                     const char *error, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = prepare(st,
                     "UPDATE webhooks SET attempts = ?2, next_ms = ?3, last_error = ?4, "
                     "lease_owner = NULL, lease_until_ms = NULL WHERE name = ?1",
                     NULL, &s, err);
    if (rc < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    hd_db_bind_int64(s, 2, attempts, NULL);
    hd_db_bind_int64(s, 3, next_ms, NULL);
    hd_db_bind_text(s, 4, error, NULL);
    return run(s, NULL, err);
}
