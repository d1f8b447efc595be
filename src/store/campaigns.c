/* campaigns: the campaign rows, their runs, and materialization, the step
 * that turns a run into one queued message per contact in its segment.
 *
 * Materialization is a chain of INSERT ... SELECT statements over the
 * segment's compiled rule, each taking the next batch of contacts in id
 * order after the last one the run already holds, each in its own
 * transaction. The unique index on (run, contact) and that resume point
 * make it idempotent: a run cut short by a crash goes on where its last
 * commit ended. Holdout and A/B variant come from hd_ab_bucket through SQL
 * functions registered for the statement, so they are the same whoever
 * computes them. PostgreSQL has no such functions: there each batch of
 * members is read and the same C functions fill the rows it inserts
 * (materialize_pg), so a contact gets the same on both engines. The other
 * writes are db.h statements both engines take. */
#include "store_int.h"

#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/hash.h"
#include "herald/state.h"

static const char *const sched_names[] = {"now", "at", "local", "every"};
static const char *const status_names[HD_CAMP_COUNT] = {"scheduled", "running", "paused",
                                                        "cancelled", "done"};
static const char *const run_names[] = {"materializing", "active", "done"};

const char *hd_sched_name(int sched)
{
    return sched >= 0 && sched < 4 ? sched_names[sched] : "?";
}

const char *hd_camp_status_name(int status)
{
    return status >= 0 && status < HD_CAMP_COUNT ? status_names[status] : "?";
}

static int name_index(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return 0;
}

void hd_campaign_release(struct hd_campaign *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->segment);
    free(c->tpl);
    free(c->cron);
    free(c->tz);
    free(c->variants);
    free(c->rate);
    memset(c, 0, sizeof *c);
}

static void bind_opt_int(sqlite3_stmt *s, int i, int64_t v, bool present)
{
    if (present)
        sqlite3_bind_int64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

#define CAMPAIGN_INSERT                                                                            \
    "INSERT INTO campaigns (name, segment, template, channels, category, schedule, at, "           \
    "local_minute, cron, tz, holdout, variants, expires, resend_after, fallback, rate, "           \
    "status, next_run, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "           \
    "?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?19)"

static void dbind_opt_int(struct hd_db_stmt *s, int i, int64_t v, bool present)
{
    if (present)
        hd_db_bind_int64(s, i, v, NULL);
    else
        hd_db_bind_null(s, i, NULL);
}

/* PostgreSQL's: a name taken is a row not inserted (ON CONFLICT), the id
 * comes back by RETURNING. */
static int campaign_add_pg(struct hd_store *st, struct hd_campaign *c, const char *channels,
                           struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn, CAMPAIGN_INSERT " ON CONFLICT (name) DO NOTHING RETURNING id",
                           &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "adding campaign");
    hd_db_bind_text(s, 1, c->name, NULL);
    hd_db_bind_text(s, 2, c->segment, NULL);
    hd_db_bind_text(s, 3, c->tpl, NULL);
    hd_db_bind_text(s, 4, channels, NULL);
    hd_db_bind_text(s, 5, hd_category_name(c->category), NULL);
    hd_db_bind_text(s, 6, hd_sched_name(c->sched), NULL);
    dbind_opt_int(s, 7, c->at, c->at >= 0);
    dbind_opt_int(s, 8, c->local_minute, c->sched == HD_SCHED_LOCAL);
    hd_db_bind_text(s, 9, c->cron, NULL);
    hd_db_bind_text(s, 10, c->tz, NULL);
    hd_db_bind_int64(s, 11, c->holdout_bp, NULL);
    hd_db_bind_text(s, 12, c->variants, NULL);
    hd_db_bind_int64(s, 13, c->expires, NULL);
    hd_db_bind_int64(s, 14, c->resend_after, NULL);
    hd_db_bind_int64(s, 15, c->fallback, NULL);
    hd_db_bind_text(s, 16, c->rate, NULL);
    hd_db_bind_text(s, 17, hd_camp_status_name(c->status), NULL);
    dbind_opt_int(s, 18, c->next_run, c->next_run >= 0);
    hd_db_bind_int64(s, 19, c->created_at, NULL);
    int step = hd_db_step(s, err);
    if (step == 1)
        c->id = hd_db_col_int64(s, 0);
    else if (step == 0)
        rc = hd_err_set(err, HD_E_EXISTS, "campaign '%s' exists", c->name);
    else
        rc = hd_store_dfail(err, step, "adding campaign");
    c->updated_at = c->created_at;
    hd_db_finalize(s);
    if (rc == 0)
        hd_store_work_note(st, "campaign", c->id); /* the schedulers look at it now */
    return rc;
}

int hd_store_campaign_add(struct hd_store *st, struct hd_campaign *c, struct hd_err *err)
{
    sqlite3_stmt *s = NULL;
    char channels[64] = "";
    size_t len = 0;
    int rc;
    for (int i = 0; i < c->nchannels && len < sizeof channels; i++)
        len += (size_t)snprintf(channels + len, sizeof channels - len, "%s%s", i ? "," : "",
                                hd_channel_name(c->channels[i]));
    if (hd_store_is_pg(st))
        return campaign_add_pg(st, c, channels, err);
    if ((rc = hd_store_prepare(st, CAMPAIGN_INSERT, &s, err)) < 0)
        return rc;
    sqlite3_bind_text(s, 1, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, c->segment, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, c->tpl, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, channels, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, hd_category_name(c->category), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, hd_sched_name(c->sched), -1, SQLITE_STATIC);
    bind_opt_int(s, 7, c->at, c->at >= 0);
    bind_opt_int(s, 8, c->local_minute, c->sched == HD_SCHED_LOCAL);
    hd_store_bind_text(s, 9, c->cron);
    hd_store_bind_text(s, 10, c->tz);
    sqlite3_bind_int(s, 11, c->holdout_bp);
    hd_store_bind_text(s, 12, c->variants);
    sqlite3_bind_int64(s, 13, c->expires);
    sqlite3_bind_int64(s, 14, c->resend_after);
    sqlite3_bind_int(s, 15, c->fallback);
    hd_store_bind_text(s, 16, c->rate);
    sqlite3_bind_text(s, 17, hd_camp_status_name(c->status), -1, SQLITE_STATIC);
    bind_opt_int(s, 18, c->next_run, c->next_run >= 0);
    sqlite3_bind_int64(s, 19, c->created_at);
    int step = sqlite3_step(s);
    if (step == SQLITE_CONSTRAINT_UNIQUE)
        rc = hd_err_set(err, HD_E_EXISTS, "campaign '%s' exists", c->name);
    else if (step != SQLITE_DONE)
        rc = hd_store_fail(st, err, "adding campaign");
    else
        c->id = sqlite3_last_insert_rowid(st->db);
    c->updated_at = c->created_at;
    sqlite3_finalize(s);
    return rc;
}

#define CAMPAIGN_COLS                                                                              \
    "id, name, segment, template, channels, category, schedule, at, local_minute, cron, tz, "      \
    "holdout, variants, expires, resend_after, fallback, rate, status, next_run, created_at, "     \
    "updated_at, api"

static void read_campaign(struct hd_db_stmt *s, struct hd_campaign *c)
{
    memset(c, 0, sizeof *c);
    c->id = hd_db_col_int64(s, 0);
    c->name = hd_store_dcol_dup(s, 1);
    c->segment = hd_store_dcol_dup(s, 2);
    c->tpl = hd_store_dcol_dup(s, 3);
    const char *ch = hd_db_col_text(s, 4);
    while (ch && *ch && c->nchannels < HD_CH_COUNT) {
        size_t n = strcspn(ch, ",");
        char word[16] = "";
        if (n < sizeof word)
            memcpy(word, ch, n);
        int v = hd_channel_parse(word);
        if (v >= 0)
            c->channels[c->nchannels++] = v;
        ch += n + (ch[n] == ',');
    }
    c->category = hd_category_parse(hd_db_col_text(s, 5));
    c->sched = name_index(sched_names, 4, hd_db_col_text(s, 6));
    c->at = hd_db_col_null(s, 7) ? -1 : hd_db_col_int64(s, 7);
    c->local_minute = (int)hd_db_col_int64(s, 8);
    c->cron = hd_store_dcol_dup(s, 9);
    c->tz = hd_store_dcol_dup(s, 10);
    c->holdout_bp = (int)hd_db_col_int64(s, 11);
    c->variants = hd_store_dcol_dup(s, 12);
    c->expires = hd_db_col_int64(s, 13);
    c->resend_after = hd_db_col_int64(s, 14);
    c->fallback = (int)hd_db_col_int64(s, 15) != 0;
    c->rate = hd_store_dcol_dup(s, 16);
    c->status = name_index(status_names, HD_CAMP_COUNT, hd_db_col_text(s, 17));
    c->next_run = hd_db_col_null(s, 18) ? -1 : hd_db_col_int64(s, 18);
    c->created_at = hd_db_col_int64(s, 19);
    c->updated_at = hd_db_col_int64(s, 20);
    c->api = (int)hd_db_col_int64(s, 21) != 0;
}

int hd_store_campaign_get(struct hd_store *st, const char *name, int64_t id,
                          struct hd_campaign *out, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn,
                           name ? "SELECT " CAMPAIGN_COLS " FROM campaigns WHERE name = ?1"
                                : "SELECT " CAMPAIGN_COLS " FROM campaigns WHERE id = ?2",
                           &s, err);
    if (rc < 0)
        return rc;
    if (name)
        hd_db_bind_text(s, 1, name, NULL);
    else
        hd_db_bind_int64(s, 2, id, NULL);
    int step = hd_db_step(s, err);
    if (step == 1)
        read_campaign(s, out);
    else if (step == 0)
        rc = name ? hd_err_set(err, HD_E_NOTFOUND, "no campaign '%s'", name)
                  : hd_err_set(err, HD_E_NOTFOUND, "no campaign with id %lld", (long long)id);
    else
        rc = hd_store_dfail(err, HD_E_STORE, "reading campaign");
    hd_db_finalize(s);
    return rc;
}

int hd_store_campaign_each(struct hd_store *st, hd_campaign_cb cb, void *ud, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(
        st->conn, "SELECT " CAMPAIGN_COLS " FROM campaigns WHERE api = 0 ORDER BY id", &s, err);
    int step;
    if (rc < 0)
        return rc;
    hd_db_buffer(s); /* the callback may query the store (PostgreSQL) */
    while ((step = hd_db_step(s, err)) == 1) {
        struct hd_campaign c;
        read_campaign(s, &c);
        rc = cb(ud, &c);
        hd_campaign_release(&c);
        if (rc)
            goto out;
    }
    if (step < 0)
        rc = hd_store_dfail(err, HD_E_STORE, "reading campaigns");
out:
    hd_db_finalize(s);
    return rc;
}

int hd_store_campaign_set(struct hd_store *st, int64_t id, int status, int64_t next_run,
                          int64_t now, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(
        st->conn, "UPDATE campaigns SET status = ?2, next_run = ?3, updated_at = ?4 WHERE id = ?1",
        &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "updating campaign");
    hd_db_bind_int64(s, 1, id, NULL);
    hd_db_bind_text(s, 2, hd_camp_status_name(status), NULL);
    dbind_opt_int(s, 3, next_run, next_run >= 0);
    hd_db_bind_int64(s, 4, now, NULL);
    int step = hd_db_step(s, err);
    if (step < 0)
        rc = hd_store_dfail(err, step, "updating campaign");
    hd_db_finalize(s);
    if (rc == 0 && status != HD_CAMP_PAUSED)
        rc = hd_store_campaign_pause_note(st, id, NULL, err); /* resumed: the reason goes */
    /* resumed, retried or scheduled anew: the nodes look at it now */
    if (rc == 0 && (status == HD_CAMP_SCHEDULED || status == HD_CAMP_RUNNING))
        hd_store_work_note(st, "campaign", id);
    return rc;
}

/* Why herald paused a campaign (the scheduler, the dispatcher's circuit
 * breaker) is its row's pause_reason; it goes when the campaign leaves
 * "paused". */
int hd_store_campaign_pause_note(struct hd_store *st, int64_t id, const char *reason,
                                 struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc =
        hd_db_prepare(st->conn, "UPDATE campaigns SET pause_reason = ?2 WHERE id = ?1", &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "noting why a campaign is paused");
    hd_db_bind_int64(s, 1, id, NULL);
    hd_db_bind_text(s, 2, reason, NULL);
    int step = hd_db_step(s, err);
    if (step < 0)
        rc = hd_store_dfail(err, step, "noting why a campaign is paused");
    hd_db_finalize(s);
    return rc;
}

int hd_store_campaign_pause_reason(struct hd_store *st, int64_t id, char **reason,
                                   struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn, "SELECT pause_reason FROM campaigns WHERE id = ?1", &s, err);
    *reason = NULL;
    if (rc < 0)
        return rc;
    hd_db_bind_int64(s, 1, id, NULL);
    int step = hd_db_step(s, err);
    if (step == 1)
        *reason = hd_store_dcol_dup(s, 0);
    else if (step < 0)
        rc = hd_store_dfail(err, HD_E_STORE, "reading why a campaign is paused");
    hd_db_finalize(s);
    return rc;
}

/* Runs one statement of ?1 (an id), ?2 (a time) and ?3 (a state);
 * *changed (may be NULL): the rows it changed. */
static int exec3(struct hd_store *st, const char *sql, int64_t a, int64_t b, int64_t c,
                 int64_t *changed, const char *what, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn, sql, &s, err), step;
    if (rc < 0)
        return hd_store_dfail(err, rc, what);
    hd_db_bind_int64(s, 1, a, NULL);
    hd_db_bind_int64(s, 2, b, NULL);
    if (strstr(sql, "?3"))
        hd_db_bind_int64(s, 3, c, NULL);
    if ((step = hd_db_step(s, err)) < 0)
        rc = hd_store_dfail(err, step, what);
    else if (changed)
        *changed = hd_db_changes(s);
    hd_db_finalize(s);
    return rc;
}

/* Only the messages that wait (HD_DUE): a claimed one (sending) is the
 * dispatcher's that holds it, which may have handed it to a gateway; it
 * cancels those it gives back (dispatch/write.c), so *n does not count
 * them (campaign cancel counts them apart). */
int hd_store_campaign_cancel(struct hd_store *st, int64_t id, int64_t now_ms, int64_t *n,
                             struct hd_err *err)
{
    int rc;
    /* the log first, while the rows still say which ones */
    if ((rc = exec3(st,
                    "INSERT INTO attempts (message_id, attempt, at, done_at, outcome, reason, "
                    "text, campaign_id, run_id, contact_id, variant, state) SELECT m.id, "
                    "m.attempts, ?2, ?2, 'skipped', 'cancelled', 'the campaign was cancelled', ?1, "
                    "m.run_id, m.contact_id, m.variant, ?3 FROM messages m WHERE m.run_id IN "
                    "(SELECT id FROM runs WHERE campaign_id = ?1) AND " HD_DUE("m.state"),
                    id, now_ms, HD_ST_CANCELLED, NULL, "cancelling messages", err)) < 0 ||
        (rc = exec3(
             st,
             "UPDATE messages SET state = ?3, reason = 'the campaign was cancelled', "
             "updated_at = CAST(?2 AS bigint) / 1000 WHERE run_id IN (SELECT id FROM runs WHERE "
             "campaign_id = ?1) AND " HD_DUE("state"),
             id, now_ms, HD_ST_CANCELLED, n, "cancelling messages", err)) < 0)
        return rc;
    return exec3(st,
                 "UPDATE runs SET status = 'done', done_at = CAST(?2 AS bigint) / 1000 WHERE "
                 "campaign_id = ?1 AND "
                 "status != 'done'",
                 id, now_ms, 0, NULL, "closing the campaign's runs", err);
}

/* ---- runs ------------------------------------------------------------------------------ */

#define RUN_COLS "id, campaign_id, fire_at, status, queued, created_at, done_at, seq"

static void read_run(struct hd_db_stmt *s, struct hd_run *r)
{
    r->id = hd_db_col_int64(s, 0);
    r->campaign_id = hd_db_col_int64(s, 1);
    r->fire_at = hd_db_col_int64(s, 2);
    r->status = name_index(run_names, 3, hd_db_col_text(s, 3));
    r->queued = hd_db_col_int64(s, 4);
    r->created_at = hd_db_col_int64(s, 5);
    r->done_at = hd_db_col_null(s, 6) ? -1 : hd_db_col_int64(s, 6);
    r->seq = hd_db_col_int64(s, 7);
}

int hd_store_run_open(struct hd_store *st, int64_t campaign, int64_t fire_at, int64_t now,
                      struct hd_run *out, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc;
    if ((rc = hd_db_prepare(st->conn,
                            "INSERT INTO runs (campaign_id, fire_at, status, created_at, seq) "
                            "VALUES (?1, ?2, 'materializing', ?3, (SELECT coalesce(max(seq), "
                            "0) + 1 FROM runs WHERE campaign_id = ?1)) "
                            "ON CONFLICT (campaign_id, fire_at) DO NOTHING",
                            &s, err)) < 0)
        return rc;
    hd_db_bind_int64(s, 1, campaign, NULL);
    hd_db_bind_int64(s, 2, fire_at, NULL);
    hd_db_bind_int64(s, 3, now, NULL);
    if (hd_db_step(s, err) < 0)
        rc = hd_store_dfail(err, HD_E_STORE, "opening run");
    hd_db_finalize(s);
    if (rc < 0 ||
        (rc = hd_db_prepare(st->conn,
                            "SELECT " RUN_COLS " FROM runs WHERE campaign_id = ?1 AND fire_at = ?2",
                            &s, err)) < 0)
        return rc;
    hd_db_bind_int64(s, 1, campaign, NULL);
    hd_db_bind_int64(s, 2, fire_at, NULL);
    if (hd_db_step(s, err) == 1)
        read_run(s, out);
    else
        rc = hd_store_dfail(err, HD_E_STORE, "reading run");
    hd_db_finalize(s);
    return rc;
}

/* The advisory lock's first key ("hrld"), so that herald's locks are not
 * another program's on the same database; the second is the campaign. */
#define FIRE_LOCK_KEY "1752329316" /* 0x68726c64 */

int hd_store_fire_lock(struct hd_store *st, int64_t campaign, bool wait, bool *got,
                       struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc;
    *got = true;
    if (!hd_store_is_pg(st))
        return 0;
    if ((rc = hd_db_prepare(
             st->conn,
             wait ? "SELECT true FROM pg_advisory_lock(" FIRE_LOCK_KEY ", CAST(?1 AS int))"
                  : "SELECT pg_try_advisory_lock(" FIRE_LOCK_KEY ", CAST(?1 AS int))",
             &s, err)) < 0)
        return hd_store_dfail(err, rc, "taking the campaign's firing lock");
    hd_db_bind_int64(s, 1, campaign, NULL);
    if ((rc = hd_db_step(s, err)) == 1)
        *got = hd_db_col_int64(s, 0) != 0;
    hd_db_finalize(s);
    return rc < 0 ? hd_store_dfail(err, rc, "taking the campaign's firing lock") : 0;
}

void hd_store_fire_unlock(struct hd_store *st, int64_t campaign)
{
    struct hd_db_stmt *s = NULL;
    if (!hd_store_is_pg(st) ||
        hd_db_prepare(st->conn, "SELECT pg_advisory_unlock(" FIRE_LOCK_KEY ", CAST(?1 AS int))", &s,
                      NULL) < 0)
        return;
    hd_db_bind_int64(s, 1, campaign, NULL);
    hd_db_step(s, NULL);
    hd_db_finalize(s);
}

/* The one run the prepared s (its parameters bound) reads; `what` names
 * it when there is none. */
static int run_one(struct hd_db_stmt *s, struct hd_run *out, const char *what, struct hd_err *err)
{
    int rc = 0, step;
    if ((step = hd_db_step(s, err)) == 1)
        read_run(s, out);
    else if (step == 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "%s", what);
    else
        rc = hd_store_dfail(err, HD_E_STORE, "reading run");
    hd_db_finalize(s);
    return rc;
}

int hd_store_run_get(struct hd_store *st, int64_t id, struct hd_run *out, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    char what[48];
    int rc = hd_db_prepare(st->conn, "SELECT " RUN_COLS " FROM runs WHERE id = ?1", &s, err);
    if (rc < 0)
        return rc;
    hd_db_bind_int64(s, 1, id, NULL);
    snprintf(what, sizeof what, "no run %lld", (long long)id);
    return run_one(s, out, what, err);
}

int hd_store_run_by_seq(struct hd_store *st, int64_t campaign, int64_t seq, struct hd_run *out,
                        struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    char what[48];
    int rc = hd_db_prepare(
        st->conn, "SELECT " RUN_COLS " FROM runs WHERE campaign_id = ?1 AND seq = ?2", &s, err);
    if (rc < 0)
        return rc;
    hd_db_bind_int64(s, 1, campaign, NULL);
    hd_db_bind_int64(s, 2, seq, NULL);
    snprintf(what, sizeof what, "no run %lld", (long long)seq);
    return run_one(s, out, what, err);
}

int hd_store_run_each(struct hd_store *st, int64_t campaign, bool unfinished, hd_run_cb cb,
                      void *ud, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(st->conn,
                           "SELECT " RUN_COLS " FROM runs WHERE (?1 = 0 OR campaign_id = ?1) "
                           "AND (?2 = 0 OR status != 'done') ORDER BY id DESC",
                           &s, err);
    int step;
    if (rc < 0)
        return rc;
    hd_db_buffer(s); /* the callback may query the store (PostgreSQL) */
    hd_db_bind_int64(s, 1, campaign, NULL);
    hd_db_bind_int64(s, 2, unfinished, NULL);
    while ((step = hd_db_step(s, err)) == 1) {
        struct hd_run r;
        read_run(s, &r);
        if ((rc = cb(ud, &r)) != 0)
            goto out;
    }
    if (step < 0)
        rc = hd_store_dfail(err, HD_E_STORE, "reading runs");
out:
    hd_db_finalize(s);
    return rc;
}

static int run_set(struct hd_store *st, int64_t run, int status, int64_t now, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(
        st->conn,
        "UPDATE runs SET status = ?2, done_at = CASE WHEN ?2 = 'done' "
        "THEN CAST(?3 AS bigint) END, queued = (SELECT count(*) FROM messages WHERE "
        "run_id = ?1) WHERE id = ?1 AND (?2 <> 'done' OR NOT EXISTS "
        "(SELECT 1 FROM messages WHERE run_id = ?1 AND (" HD_DUE("state") " OR state = 1)))",
        &s, err);
    if (rc < 0)
        return hd_store_dfail(err, rc, "updating run");
    hd_db_bind_int64(s, 1, run, NULL);
    hd_db_bind_text(s, 2, run_names[status], NULL);
    hd_db_bind_int64(s, 3, now, NULL);
    int step = hd_db_step(s, err);
    if (step < 0)
        rc = hd_store_dfail(err, step, "updating run");
    hd_db_finalize(s);
    if (rc == 0 && status == HD_RUN_ACTIVE) /* materialized: its messages can be claimed */
        hd_store_work_note(st, "run", run);
    return rc;
}

/* A run set done on PostgreSQL: the guard above (no message due or
 * sending) is one statement, and under READ COMMITTED it does not see a
 * message the JSON API adds to the run in a transaction that commits
 * while the guard runs; the run would close over a queued message that no
 * dispatcher then claims (test_api_send_pg lost one so under load). So the
 * run's row is locked FOR UPDATE first, which waits for an API send that
 * chose the run (apisend_pg.c's api_run holds it FOR SHARE to its commit),
 * and the guard then reads with a snapshot taken after. An API send that
 * comes after the lock waits, sees the run done and opens another. In a
 * transaction of its own unless the caller has one. SQLite needs none of
 * it: its writers take turns. */
static int pg_run_done(struct hd_store *st, int64_t run, int64_t now, struct hd_err *err)
{
    bool own = !hd_db_pg_in_transaction(st->conn);
    struct hd_db_stmt *s = NULL;
    int rc = own ? hd_store_begin(st, err) : 0;
    if (rc < 0)
        return rc; /* nothing begun, nothing to roll back */
    if ((rc = hd_db_prepare(st->conn, "SELECT id FROM runs WHERE id = ?1 FOR UPDATE", &s, err)) ==
        0) {
        hd_db_bind_int64(s, 1, run, NULL);
        rc = hd_db_step(s, err) < 0 ? HD_E_STORE : 0;
        hd_db_finalize(s);
    }
    if (rc < 0)
        rc = hd_store_dfail(err, rc, "locking run");
    else if ((rc = run_set(st, run, HD_RUN_DONE, now, err)) == 0 && own)
        rc = hd_store_commit(st, err);
    if (own && rc < 0)
        hd_store_rollback(st);
    return rc;
}

int hd_store_run_set(struct hd_store *st, int64_t run, int status, int64_t now, struct hd_err *err)
{
    if (!st->db && status == HD_RUN_DONE)
        return pg_run_done(st, run, now, err);
    return run_set(st, run, status, now, err);
}

int hd_store_run_counts(struct hd_store *st, int64_t campaign, int64_t run, int64_t *counts,
                        struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_db_prepare(
        st->conn,
        run ? "SELECT state, count(*) FROM messages WHERE run_id = ?1 GROUP BY state"
            : "SELECT state, count(*) FROM messages WHERE run_id IN (SELECT id FROM runs WHERE "
              "campaign_id = ?2) GROUP BY state",
        &s, err);
    int step;
    if (rc < 0)
        return rc;
    memset(counts, 0, HD_ST_COUNT * sizeof *counts);
    if (run)
        hd_db_bind_int64(s, 1, run, NULL);
    else
        hd_db_bind_int64(s, 2, campaign, NULL);
    while ((step = hd_db_step(s, err)) == 1) {
        int state = (int)hd_db_col_int64(s, 0);
        if (state >= 0 && state < HD_ST_COUNT)
            counts[state] = hd_db_col_int64(s, 1);
    }
    if (step < 0)
        rc = hd_store_dfail(err, HD_E_STORE, "counting messages");
    hd_db_finalize(s);
    return rc;
}

/* ---- materialization ---------------------------------------------------------------- */

static void fn_bucket(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sqlite3_result_int(cx, hd_ab_bucket(sqlite3_value_int64(argv[0]), sqlite3_value_int64(argv[1]),
                                        (const char *)sqlite3_user_data(cx)));
}

const char *hd_variant_pick(const struct hd_variant_cut *cuts, size_t n, int64_t campaign,
                            int64_t contact)
{
    if (n == 0)
        return NULL;
    int b = hd_ab_bucket(campaign, contact, "variant");
    size_t i = 0;
    while (i + 1 < n && b >= cuts[i].upto)
        i++;
    return cuts[i].name;
}

static void fn_variant(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    const struct hd_materialize *m = sqlite3_user_data(cx);
    (void)argc;
    const char *v =
        hd_variant_pick(m->variants, m->nvariants, m->campaign, sqlite3_value_int64(argv[0]));
    if (v)
        sqlite3_result_text(cx, v, -1, SQLITE_STATIC);
    else
        sqlite3_result_null(cx);
}

static void fn_due(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
    const struct hd_materialize *m = sqlite3_user_data(cx);
    (void)argc;
    sqlite3_result_int64(cx, m->due ? m->due(m->due_ud, (const char *)sqlite3_value_text(argv[0]))
                                    : m->not_before);
}

static int register_fns(struct hd_store *st, const struct hd_materialize *m, struct hd_err *err)
{
    static char holdout[] = "holdout";
    int rc = hd_store_sqlite_only(st, "materialization", err);
    if (rc < 0)
        return rc;
    if (sqlite3_create_function(st->db, "herald_holdout", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                holdout, fn_bucket, NULL, NULL) != SQLITE_OK ||
        sqlite3_create_function(st->db, "herald_variant", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                (void *)m, fn_variant, NULL, NULL) != SQLITE_OK ||
        sqlite3_create_function(st->db, "herald_due", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                (void *)m, fn_due, NULL, NULL) != SQLITE_OK)
        return hd_store_fail(st, err, "materializing");
    return 0;
}

/* The functions point at the caller's struct: gone with it. */
static void unregister_fns(struct hd_store *st)
{
    if (!st->db)
        return;
    sqlite3_create_function(st->db, "herald_holdout", 2, SQLITE_UTF8, NULL, NULL, NULL, NULL);
    sqlite3_create_function(st->db, "herald_variant", 1, SQLITE_UTF8, NULL, NULL, NULL, NULL);
    sqlite3_create_function(st->db, "herald_due", 1, SQLITE_UTF8, NULL, NULL, NULL, NULL);
}

static int step_done(struct hd_store *st, sqlite3_stmt *s, struct hd_err *err, const char *what)
{
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : hd_store_fail(st, err, what);
    sqlite3_reset(s);
    return rc;
}

static int64_t int_query(struct hd_store *st, sqlite3_stmt *s, struct hd_err *err, int *rc)
{
    int64_t v = 0;
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    else
        *rc = hd_store_fail(st, err, "materializing");
    sqlite3_reset(s);
    return v;
}

/* The statements of a materialization, prepared and bound once. */
struct mat {
    sqlite3_stmt *ins, *last, *count, *log, *run;
    int limit; /* the parameter of ins's LIMIT */
    char why[64];
};

static int mat_prepare(struct hd_store *st, const struct hd_materialize *m, int64_t batch,
                       struct mat *x, struct hd_err *err)
{
    int rc;
    /* ?901 run, ?902 campaign, ?903 holdout, ?904 expires, ?905 now, ?906
     * the contact to resume after, ?907 the held-out state, ?908 when the
     * messages are due. A column the campaign does not vary is a constant,
     * not a call per contact (the calls, hashing the contact's id for a
     * holdout or a variant the campaign has none of, made 10,000,000
     * messages take 1.27x one INSERT ... SELECT of the same rows). */
    _Static_assert(HD_ST_QUEUED == 0, "a message not held out is inserted as 0, queued");
    const char *due = m->due ? "herald_due(c.timezone)" : "?908";
    char head[640];
    snprintf(head, sizeof head,
             "INSERT OR IGNORE INTO messages (run_id, contact_id, state, variant, not_before, "
             "expires_at, updated_at) SELECT ?901, c.id, %s, %s, %s, %s%s%s, ?905 FROM contacts c",
             m->holdout_bp > 0 ? "CASE WHEN herald_holdout(?902, c.id) < ?903 THEN ?907 ELSE 0 END"
                               : "0",
             m->nvariants > 0 ? "herald_variant(c.id)" : "NULL", due, m->expires > 0 ? due : "NULL",
             m->expires > 0 ? " + " : "", m->expires > 0 ? "?904" : "");
    if ((rc = hd_store_prepare_rule(st, m->ast, m->seg_now, head, "c.id > ?906", "c.id", &x->ins,
                                    &x->limit, err)) < 0 ||
        (rc = hd_store_prepare(st,
                               "SELECT coalesce(max(contact_id), 0) FROM messages WHERE "
                               "run_id = ?1",
                               &x->last, err)) < 0 ||
        (rc = hd_store_prepare(st, "SELECT count(*) FROM messages WHERE run_id = ?1", &x->count,
                               err)) < 0 ||
        (rc = hd_store_prepare(st, "SELECT count(*) FROM runs WHERE id = ?1", &x->run, err)) < 0 ||
        (rc = hd_store_prepare(
             st,
             "INSERT INTO attempts (message_id, attempt, at, done_at, outcome, reason, text, "
             "campaign_id, run_id, contact_id, variant, state) SELECT id, 0, ?3, ?3, 'skipped', "
             "'held_out', ?4, ?6, run_id, contact_id, variant, state FROM messages WHERE run_id = "
             "?1 AND contact_id > ?2 AND state = ?5",
             &x->log, err)) < 0)
        return rc;
    snprintf(x->why, sizeof x->why, "in the campaign's holdout (%d.%02d%%)", m->holdout_bp / 100,
             m->holdout_bp % 100);
    sqlite3_bind_int64(x->ins, 901, m->run);
    sqlite3_bind_int64(x->ins, 902, m->campaign);
    sqlite3_bind_int(x->ins, 903, m->holdout_bp);
    sqlite3_bind_int64(x->ins, 904, m->expires);
    sqlite3_bind_int64(x->ins, 905, m->now_ms / 1000);
    sqlite3_bind_int(x->ins, 907, HD_ST_HELD_OUT);
    sqlite3_bind_int64(x->ins, 908, m->not_before); /* one the text leaves out: no harm */
    sqlite3_bind_int64(x->ins, x->limit, batch);
    sqlite3_bind_int64(x->last, 1, m->run);
    sqlite3_bind_int64(x->count, 1, m->run);
    sqlite3_bind_int64(x->run, 1, m->run);
    sqlite3_bind_int64(x->log, 1, m->run);
    sqlite3_bind_int64(x->log, 3, m->now_ms);
    sqlite3_bind_text(x->log, 4, x->why, -1, SQLITE_STATIC);
    sqlite3_bind_int(x->log, 5, HD_ST_HELD_OUT);
    sqlite3_bind_int64(x->log, 6, m->campaign);
    return 0;
}

static void mat_release(struct mat *x)
{
    sqlite3_finalize(x->ins);
    sqlite3_finalize(x->last);
    sqlite3_finalize(x->count);
    sqlite3_finalize(x->log);
    sqlite3_finalize(x->run);
}

/* Foreign keys are off while a run is materialized, and on again on every
 * way out (PRAGMA foreign_keys is the connection's, and does nothing
 * inside a transaction, so it is set outside the batches'). The only one
 * the batches' rows have is messages.run_id, the same run for every row:
 * each batch checks once, under the write lock, that the run is there
 * (run_there), where SQLite looked it up again for every row, 10,000,000
 * times for a 10,000,000-message campaign (herald took 15.5 s against the
 * sqlite3 CLI's plain INSERT ... SELECT, which checks none; 13.7 s
 * without). */
static int foreign_keys(struct hd_store *st, bool on, struct hd_err *err)
{
    return hd_store_exec(st, on ? "PRAGMA foreign_keys = ON" : "PRAGMA foreign_keys = OFF", err);
}

static int run_there(struct hd_store *st, struct mat *x, int64_t run, struct hd_err *err)
{
    int rc = 0;
    int64_t n = int_query(st, x->run, err, &rc);
    if (rc == 0 && n == 0)
        rc = hd_err_set(err, HD_E_STORE, "materializing: run %lld is no longer in the database",
                        (long long)run);
    return rc;
}

/* What the run holds once materialized: a run this call started has
 * what it inserted; a resumed one also what was there before, read back
 * (a scan of its messages). */
static int mat_totals(struct hd_store *st, int64_t run, bool resumed, int64_t done,
                      int64_t held_now, int64_t *queued, int64_t *held, struct hd_err *err)
{
    int64_t counts[HD_ST_COUNT] = {0}, all = done;
    int rc;
    counts[HD_ST_HELD_OUT] = held_now;
    if (resumed) {
        if ((rc = hd_store_run_counts(st, 0, run, counts, err)) < 0)
            return rc;
        all = 0;
        for (int i = 0; i < HD_ST_COUNT; i++)
            all += counts[i];
    }
    if (queued)
        *queued = all;
    if (held)
        *held = counts[HD_ST_HELD_OUT];
    return 0;
}

/* ---- materialization on PostgreSQL ------------------------------------------------- */

/* PostgreSQL has no herald_holdout/_variant/_due: each batch of members
 * (the rule through hd_store_rule_prepare, c.id after the resume point) is read whole,
 * the holdout, variant and due time of each computed here by the very C
 * functions SQLite's statement calls (hd_ab_bucket, hd_variant_pick,
 * m->due), so a contact gets the same on both engines, and the batch goes
 * in as one INSERT from five arrays (unnest WITH ORDINALITY keeps id
 * order, so message ids follow contact ids as on SQLite). */
struct pg_batch {
    struct hd_buf ids, states, variants, due, expires;
    int64_t n;
};

static void batch_row(struct pg_batch *b, const struct hd_materialize *m, int64_t id,
                      const char *tz)
{
    int64_t due = m->due ? m->due(m->due_ud, tz) : m->not_before;
    hd_store_arr_int(&b->ids, id);
    hd_store_arr_int(&b->states, hd_ab_bucket(m->campaign, id, "holdout") < m->holdout_bp
                                     ? HD_ST_HELD_OUT
                                     : HD_ST_QUEUED);
    hd_store_arr_text(&b->variants, hd_variant_pick(m->variants, m->nvariants, m->campaign, id));
    hd_store_arr_int(&b->due, due);
    if (m->expires > 0)
        hd_store_arr_int(&b->expires, due + m->expires);
    else
        hd_store_arr_add(&b->expires, "NULL");
    b->n++;
}

static void batch_reset(struct pg_batch *b)
{
    struct hd_buf *all[] = {&b->ids, &b->states, &b->variants, &b->due, &b->expires};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        hd_buf_reset(all[i]);
    b->n = 0;
}

static void batch_release(struct pg_batch *b)
{
    struct hd_buf *all[] = {&b->ids, &b->states, &b->variants, &b->due, &b->expires};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        hd_buf_release(all[i]);
}

/* The statements of a PostgreSQL materialization. */
struct pgmat {
    struct hd_db_stmt *sel, *ins, *log, *last, *count;
    int after; /* sel's parameter of the resume point (its limit is the next) */
    struct pg_batch b;
    char why[64];
};

/* The insert has no ON CONFLICT DO NOTHING: a batch takes the contacts
 * after the last one its run holds, so none of them can be there, and the
 * firing's advisory lock keeps other nodes' materializations of the run
 * out. PostgreSQL's speculative insertion for it took a third of the time
 * (1,000,000 messages: 17.4 to 18.5 s with it, 11.5 to 13.1 without,
 * psql's INSERT ... SELECT 10.5 to 12.6). Were a row there after all, the
 * unique index would fail the batch, which rolls back, and the next
 * firing's resume tries again. */
static int pgmat_prepare(struct hd_store *st, const struct hd_materialize *m, int64_t batch,
                         struct pgmat *x, struct hd_err *err)
{
    int rc =
        hd_store_rule_prepare(st, m->ast, m->seg_now, "SELECT c.id, c.timezone FROM contacts c",
                              " AND c.id > ? ORDER BY c.id LIMIT ?", &x->sel, err);
    if (rc < 0)
        return rc;
    x->after = rc + 1;
    hd_db_buffer(x->sel); /* the inserts run while its rows are read */
    hd_db_bind_int64(x->sel, x->after + 1, batch, NULL);
    if ((rc = hd_db_prepare(st->conn,
                            "INSERT INTO messages (run_id, contact_id, state, variant, not_before, "
                            "expires_at, updated_at) SELECT ?1, u.c, u.s, u.v, u.d, u.e, ?2 FROM "
                            "unnest(CAST(?3 AS bigint[]), CAST(?4 AS int[]), CAST(?5 AS text[]), "
                            "CAST(?6 AS bigint[]), CAST(?7 AS bigint[])) WITH ORDINALITY AS u(c, "
                            "s, v, d, e, o) ORDER BY u.o",
                            &x->ins, err)) < 0 ||
        (rc = hd_db_prepare(
             st->conn,
             "INSERT INTO attempts (message_id, attempt, at, done_at, outcome, reason, text, "
             "campaign_id, run_id, contact_id, variant, state) SELECT id, 0, ?3, ?3, 'skipped', "
             "'held_out', ?4, ?6, run_id, contact_id, variant, state FROM messages WHERE run_id = "
             "?1 AND contact_id > ?2 AND state = ?5 ORDER BY id",
             &x->log, err)) < 0 ||
        (rc = hd_db_prepare(st->conn,
                            "SELECT coalesce(max(contact_id), 0) FROM messages WHERE run_id = ?1",
                            &x->last, err)) < 0 ||
        (rc = hd_db_prepare(st->conn, "SELECT count(*) FROM messages WHERE run_id = ?1", &x->count,
                            err)) < 0)
        return hd_store_dfail(err, rc, "materializing");
    hd_db_bind_int64(x->last, 1, m->run, NULL);
    hd_db_bind_int64(x->count, 1, m->run, NULL);
    snprintf(x->why, sizeof x->why, "in the campaign's holdout (%d.%02d%%)", m->holdout_bp / 100,
             m->holdout_bp % 100);
    hd_db_bind_int64(x->ins, 1, m->run, NULL);
    hd_db_bind_int64(x->ins, 2, m->now_ms / 1000, NULL);
    hd_db_bind_int64(x->log, 1, m->run, NULL);
    hd_db_bind_int64(x->log, 3, m->now_ms, NULL);
    hd_db_bind_text(x->log, 4, x->why, NULL);
    hd_db_bind_int64(x->log, 5, HD_ST_HELD_OUT, NULL);
    hd_db_bind_int64(x->log, 6, m->campaign, NULL);
    return 0;
}

static void pgmat_release(struct pgmat *x)
{
    hd_db_finalize(x->sel);
    hd_db_finalize(x->ins);
    hd_db_finalize(x->log);
    hd_db_finalize(x->last);
    hd_db_finalize(x->count);
    batch_release(&x->b);
}

/* One statement of x run to its end; *changed: the rows it wrote. */
static int pg_run(struct hd_db_stmt *s, int64_t *changed, struct hd_err *err)
{
    hd_db_reset(s);
    int step = hd_db_step(s, err);
    if (step < 0)
        return hd_store_dfail(err, step, "materializing");
    *changed = hd_db_changes(s);
    return 0;
}

/* An integer the statement (run id bound) reads. */
static int pg_int(struct hd_db_stmt *s, int64_t *v, struct hd_err *err)
{
    hd_db_reset(s);
    int step = hd_db_step(s, err);
    if (step != 1)
        return hd_store_dfail(err, step < 0 ? step : HD_E_STORE, "materializing");
    *v = hd_db_col_int64(s, 0);
    hd_db_reset(s);
    return 0;
}

/* One batch in its transaction, after the last contact the run holds:
 * *n, the messages inserted. */
static int pgmat_batch(const struct hd_materialize *m, struct pgmat *x, int64_t *n,
                       int64_t *held_now, struct hd_err *err)
{
    int64_t after, logged = 0;
    int rc, step;
    *n = 0;
    if ((rc = pg_int(x->last, &after, err)) < 0)
        return rc;
    hd_db_reset(x->sel);
    hd_db_bind_int64(x->sel, x->after, after, NULL);
    batch_reset(&x->b);
    while ((step = hd_db_step(x->sel, err)) == 1)
        batch_row(&x->b, m, hd_db_col_int64(x->sel, 0), hd_db_col_text(x->sel, 1));
    hd_db_reset(x->sel);
    if (step < 0)
        return hd_store_dfail(err, step, "reading the segment's members");
    *n = 0;
    if (x->b.n == 0)
        return 0;
    hd_buf_addc(&x->b.ids, '}');
    hd_buf_addc(&x->b.states, '}');
    hd_buf_addc(&x->b.variants, '}');
    hd_buf_addc(&x->b.due, '}');
    hd_buf_addc(&x->b.expires, '}');
    hd_db_bind_text(x->ins, 3, x->b.ids.data, NULL);
    hd_db_bind_text(x->ins, 4, x->b.states.data, NULL);
    hd_db_bind_text(x->ins, 5, x->b.variants.data, NULL);
    hd_db_bind_text(x->ins, 6, x->b.due.data, NULL);
    hd_db_bind_text(x->ins, 7, x->b.expires.data, NULL);
    if ((rc = pg_run(x->ins, n, err)) < 0)
        return rc;
    if (m->holdout_bp > 0) {
        hd_db_bind_int64(x->log, 2, after, NULL);
        if ((rc = pg_run(x->log, &logged, err)) < 0)
            return rc;
        *held_now += logged; /* a log row for each held out */
    }
    return 0;
}

static int materialize_pg(struct hd_store *st, const struct hd_materialize *m, int64_t *queued,
                          int64_t *held, struct hd_err *err)
{
    struct pgmat x = {0};
    int64_t batch = m->batch > 0 ? m->batch : 100000, done = 0, held_now = 0, before = 0, n = 0;
    int rc;
    bool txn = false;
    if ((rc = pgmat_prepare(st, m, batch, &x, err)) < 0 || (rc = pg_int(x.count, &before, err)) < 0)
        goto out;
    for (;;) {
        if ((rc = hd_store_begin(st, err)) < 0)
            goto out;
        txn = true;
        if ((rc = pgmat_batch(m, &x, &n, &held_now, err)) < 0 ||
            (rc = hd_store_commit(st, err)) < 0)
            goto out;
        txn = false;
        done += n;
        if (m->progress)
            m->progress(m->progress_ud, done);
        if (x.b.n < batch)
            break;
    }
    if ((rc = hd_store_run_set(st, m->run, HD_RUN_ACTIVE, m->now_ms / 1000, err)) == 0)
        rc = mat_totals(st, m->run, before > 0, done, held_now, queued, held, err);
out:
    if (txn)
        hd_store_rollback(st);
    pgmat_release(&x);
    return rc;
}

int hd_store_materialize(struct hd_store *st, const struct hd_materialize *m, int64_t *queued,
                         int64_t *held, struct hd_err *err)
{
    struct mat x = {0};
    int64_t batch = m->batch > 0 ? m->batch : 100000, after, done = 0, held_now = 0;
    int rc;
    bool txn = false, first = true, resumed = false;
    if (hd_store_is_pg(st))
        return materialize_pg(st, m, queued, held, err);
    if ((rc = foreign_keys(st, false, err)) < 0)
        return rc;
    if ((rc = register_fns(st, m, err)) < 0 || (rc = mat_prepare(st, m, batch, &x, err)) < 0)
        goto out;
    for (;;) {
        if ((rc = hd_store_begin(st, err)) < 0)
            goto out;
        txn = true;
        if ((rc = run_there(st, &x, m->run, err)) < 0)
            goto out;
        after = int_query(st, x.last, err, &rc);
        if (rc < 0)
            goto out;
        if (first) {
            int64_t before = int_query(st, x.count, err, &rc);
            if (rc < 0)
                goto out;
            resumed = before > 0;
            first = false;
        }
        sqlite3_bind_int64(x.ins, 906, after);
        if ((rc = step_done(st, x.ins, err, "materializing")) < 0)
            goto out;
        int64_t n = sqlite3_changes(st->db);
        if (m->holdout_bp > 0) {
            sqlite3_bind_int64(x.log, 2, after);
            if ((rc = step_done(st, x.log, err, "materializing")) < 0)
                goto out;
            held_now += sqlite3_changes(st->db); /* a log row for each held out */
        }
        if ((rc = hd_store_commit(st, err)) < 0)
            goto out;
        txn = false;
        done += n;
        if (m->progress)
            m->progress(m->progress_ud, done);
        if (n < batch)
            break;
    }
    if ((rc = hd_store_run_set(st, m->run, HD_RUN_ACTIVE, m->now_ms / 1000, err)) == 0)
        rc = mat_totals(st, m->run, resumed, done, held_now, queued, held, err);
out:
    if (txn)
        hd_store_rollback(st);
    mat_release(&x);
    unregister_fns(st);
    struct hd_err fk = {0};
    if (foreign_keys(st, true, &fk) < 0 && rc == 0)
        rc = hd_err_set(err, fk.code, "%s", fk.msg);
    return rc;
}
