/* segments: stored segment rules, and the compiler from a rule's tree to a
 * parameterised SQL condition over "contacts c".
 *
 * The SQL text is assembled only from fixed fragments chosen by node type;
 * every literal, every attribute path ("$.plan") and every channel or
 * category name is a numbered parameter. So the SQL of two rules of the same
 * shape is the same text, whatever their strings hold.
 *
 * Meaning, which the tests check against an independent evaluator:
 *  - a missing attribute (or NULL field) makes every comparison false,
 *    including != and not in; "not" of a false comparison is true;
 *  - dates and date-times compare as instants (a plain date is midnight
 *    UTC), still with one ISO text comparison (see enum tform);
 *  - days_since(x) and days_until(x) mean hd_segast_days() (segast.h):
 *    calendar days on a plain date, floor of whole days on a date-time;
 *    comparisons on them are rewritten into bounds on x, so that no date
 *    function runs per row;
 *  - reachable(ch[, cat]): an address (a push token) on the channel, not
 *    suppressed, and no opt-out for the category (marketing by default).
 *
 * One tree gives either dialect (issue 23): SQLite's, or PostgreSQL's
 * (struct sqlc's pg), where attributes are read through jsonb (#> and #>>
 * with a text[] path parameter), a comparison reads an attribute as the
 * literal's type (enum want), every parameter carries its type (no
 * context tells it in a CASE or a function's argument), date parts are
 * extract()s, GLOB is a regular expression, NOCASE is ASCII lower() and
 * text compares with COLLATE "C", byte by byte as SQLite does.
 * hd_store_seg_sql and hd_store_prepare_rule give SQLite's;
 * hd_store_seg_dsql and the db.h entry point hd_store_dprepare_rule the
 * store's own. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/config.h"
#include "herald/segast.h"
#include "herald/time.h"
#include "store_int.h"
#include "db.h"

/* ---- stored rules ------------------------------------------------------------- */

/* A new name is refused by its absence of a change (ON CONFLICT DO
 * NOTHING), which both engines tell alike, rather than by SQLite's
 * constraint code. */
int hd_store_segment_put(struct hd_store *st, const char *name, const char *expr, bool replace,
                         int64_t now, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc;
    if ((rc = hd_db_prepare(st->conn,
                            replace ? "INSERT INTO segments (name, expr, created_at, updated_at) "
                                      "VALUES (?1, ?2, ?3, ?3) ON CONFLICT (name) DO UPDATE "
                                      "SET expr = excluded.expr, updated_at = excluded.updated_at"
                                    : "INSERT INTO segments (name, expr, created_at, "
                                      "updated_at) VALUES (?1, ?2, ?3, ?3) ON CONFLICT (name) DO "
                                      "NOTHING",
                            &s, err)) < 0)
        return hd_store_dfail(err, rc, "storing segment");
    hd_db_bind_text(s, 1, name, NULL);
    hd_db_bind_text(s, 2, expr, NULL);
    hd_db_bind_int64(s, 3, now, NULL);
    if (hd_db_step(s, err) < 0)
        rc = hd_store_dfail(err, HD_E_STORE, "storing segment");
    else if (!replace && hd_db_changes(s) == 0)
        rc = hd_err_set(err, HD_E_EXISTS,
                        "segment '%s' already exists (use --replace to change it)", name);
    hd_db_finalize(s);
    return rc;
}

int hd_store_segment_get(struct hd_store *st, const char *name, char **expr, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc;
    if ((rc = hd_db_prepare(st->conn, "SELECT expr FROM segments WHERE name = ?1", &s, err)) < 0)
        return rc;
    hd_db_bind_text(s, 1, name, NULL);
    int step = hd_db_step(s, err);
    if (step == 1)
        *expr = hd_store_dcol_dup(s, 0);
    else if (step == 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "no segment '%s'", name);
    else
        rc = hd_store_dfail(err, HD_E_STORE, "reading segment");
    hd_db_finalize(s);
    return rc;
}

int hd_store_segment_each(struct hd_store *st, hd_segment_cb cb, void *ud, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc, step;
    /* the names in byte order on both */
    if ((rc = hd_db_prepare(st->conn,
                            hd_store_is_pg(st) ? "SELECT name, expr, updated_at FROM segments "
                                                 "ORDER BY name COLLATE \"C\""
                                               : "SELECT name, expr, updated_at FROM segments "
                                                 "ORDER BY name",
                            &s, err)) < 0)
        return rc;
    hd_db_buffer(s); /* the callback may query the store (PostgreSQL) */
    while ((step = hd_db_step(s, err)) == 1)
        if ((rc = cb(ud, hd_db_col_text(s, 0), hd_db_col_text(s, 1), hd_db_col_int64(s, 2))) != 0)
            goto out;
    if (step < 0)
        rc = hd_store_dfail(err, HD_E_STORE, "listing segments");
out:
    hd_db_finalize(s);
    return rc;
}

int hd_store_segment_delete(struct hd_store *st, const char *name, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc;
    if ((rc = hd_db_prepare(st->conn, "DELETE FROM segments WHERE name = ?1", &s, err)) < 0)
        return hd_store_dfail(err, rc, "deleting segment");
    hd_db_bind_text(s, 1, name, NULL);
    if (hd_db_step(s, err) < 0)
        rc = hd_store_dfail(err, HD_E_STORE, "deleting segment");
    else if (hd_db_changes(s) == 0)
        rc = hd_err_set(err, HD_E_NOTFOUND, "no segment '%s'", name);
    hd_db_finalize(s);
    return rc;
}

/* ---- compiling ----------------------------------------------------------------------- */

/* B_PATH: an attribute's path, "$.a.b" for SQLite's JSON functions,
 * "{a,b}" (a text[]) for PostgreSQL's #> and #>>. */
enum bind_type { B_TEXT, B_INT, B_REAL, B_PATH };

/* What a comparison reads from an attribute on PostgreSQL, whose jsonb
 * gives text (#>>) where SQLite's json_extract gives a typed value: a
 * string's text, or a number (true and false as 1 and 0, as SQLite gives
 * them). A value of another type reads as NULL: the comparison is false. */
enum want { W_TEXT, W_NUM };

struct bind {
    enum bind_type type;
    char *s;
    int64_t i;
    double d;
};

struct sqlc {
    struct hd_buf sql;
    struct bind *b;
    size_t nb;
    int64_t now;
    int zones; /* local_today: the parameter of the zones a day behind (ahead: zones + 1), or 0 */
    bool pg;   /* PostgreSQL's dialect */
    enum want want; /* PostgreSQL: how the next attribute is read */
};

static int param(struct sqlc *c, enum bind_type type, const char *s, int64_t i, double d)
{
    HD_GROW(c->b, c->nb);
    c->b[c->nb] = (struct bind){type, s ? hd_xstrdup(s) : NULL, i, d};
    return (int)++c->nb;
}

/* A parameter; on PostgreSQL with its type, which nothing around it may
 * tell (a CASE's branches, a function's argument). */
static void emit_param(struct sqlc *c, int n)
{
    static const char *const casts[] = {"::text", "::bigint", "::float8", "::text[]"};
    hd_buf_addf(&c->sql, "?%d%s", n, c->pg ? casts[c->b[n - 1].type] : "");
}

/* SQL's false, as each dialect writes it. */
static void emit_false(struct sqlc *c)
{
    hd_buf_adds(&c->sql, c->pg ? "FALSE" : "0");
}

/* The JSON value at parameter path of the text column col, as json:
 * PostgreSQL only. */
static void emit_jsonb_at(struct sqlc *c, const char *col, int path, const char *op)
{
    if (strcmp(col, "c.attrs") == 0) /* kept as jsonb too (PostgreSQL's migration 22) */
        hd_buf_addf(&c->sql, "(c.attrs_j %s ", op);
    else
        hd_buf_addf(&c->sql, "(CAST(%s AS jsonb) %s ", col, op);
    emit_param(c, path);
    hd_buf_addc(&c->sql, ')');
}

/* json_type(col, path): NULL when there is no value at the path. */
static void emit_json_type(struct sqlc *c, const char *col, int path)
{
    if (!c->pg) {
        hd_buf_addf(&c->sql, "json_type(%s, ?%d)", col, path);
        return;
    }
    hd_buf_adds(&c->sql, "jsonb_typeof");
    emit_jsonb_at(c, col, path, "#>");
}

/* json_extract(col, path) as a value to compare (see enum want). */
static void emit_json_value(struct sqlc *c, const char *col, int path, enum want w)
{
    if (!c->pg) {
        hd_buf_addf(&c->sql, "json_extract(%s, ?%d)", col, path);
        return;
    }
    if (w == W_TEXT) {
        hd_buf_adds(&c->sql, "(CASE WHEN ");
        emit_json_type(c, col, path);
        hd_buf_adds(&c->sql, " = 'string' THEN ");
        emit_jsonb_at(c, col, path, "#>>");
        hd_buf_adds(&c->sql, " END) COLLATE \"C\"");
        return;
    }
    hd_buf_adds(&c->sql, "(CASE ");
    emit_json_type(c, col, path);
    hd_buf_adds(&c->sql, " WHEN 'number' THEN CAST(");
    emit_jsonb_at(c, col, path, "#>>");
    hd_buf_adds(&c->sql, " AS numeric) WHEN 'boolean' THEN CASE ");
    emit_jsonb_at(c, col, path, "#>>");
    hd_buf_adds(&c->sql, " WHEN 'true' THEN 1 ELSE 0 END END)");
}

static const char *const columns[] = {[SEGF_ID] = "c.ext_id",
                                      [SEGF_EMAIL] = "c.email",
                                      [SEGF_PHONE] = "c.phone",
                                      [SEGF_LOCALE] = "c.locale",
                                      [SEGF_TIMEZONE] = "c.timezone",
                                      [SEGF_CREATED_AT] = "c.created_at",
                                      [SEGF_UPDATED_AT] = "c.updated_at"};

static bool epoch_field(const struct hd_seg_node *f)
{
    return f->type == SEG_EV_TIME ||
           (f->type == SEG_FIELD && (f->field == SEGF_CREATED_AT || f->field == SEGF_UPDATED_AT));
}

/* The JSON path parameter of an attribute: "$.a.b" (parts are validated). */
static int json_path_param(struct sqlc *c, const char *path)
{
    struct hd_buf p;
    hd_buf_init(&p);
    if (c->pg) { /* "{a,b}": the parts are letters, digits and _ */
        hd_buf_addc(&p, '{');
        for (const char *s = path; *s; s++)
            hd_buf_addc(&p, *s == '.' ? ',' : *s);
        hd_buf_addc(&p, '}');
    } else {
        hd_buf_addf(&p, "$.%s", path);
    }
    int n = param(c, B_PATH, p.data, 0, 0);
    hd_buf_release(&p);
    return n;
}

static int path_param(struct sqlc *c, const struct hd_seg_node *f)
{
    return json_path_param(c, f->path);
}

static const char *const sql_ops[] = {"=", "!=", "<", "<=", ">", ">="};

/* A count of days or months, compared through bounds on its date. */
static bool day_count(const struct hd_seg_node *f)
{
    return f->type == SEG_DAYS_SINCE || f->type == SEG_DAYS_UNTIL || f->type == SEG_MONTHS_UNTIL;
}

/* ---- events ---------------------------------------------------------------------------- */

/* The parameters of a contact's events of one name in the window, from
 * base on: the name, then the window's start and end when windowed. */
static int event_params(struct sqlc *c, const struct hd_seg_node *n)
{
    int base = param(c, B_TEXT, n->str, 0, 0);
    if (n->windowed) {
        param(c, B_INT, NULL, n->t, 0);
        param(c, B_INT, NULL, c->now, 0);
    }
    return base;
}

/* "FROM events e WHERE ..." for the parameters event_params() made: one
 * range of the index events(contact_id, name, at). */
static void emit_events_from(struct sqlc *c, const struct hd_seg_node *n, int base)
{
    hd_buf_adds(&c->sql, " FROM events e WHERE e.contact_id = c.id AND e.name = ");
    emit_param(c, base);
    if (n->windowed)
        hd_buf_addf(&c->sql, " AND e.at BETWEEN ?%d AND ?%d", base + 1, base + 2);
}

/* count, sum, min, max, avg, last or first as a scalar subquery; sum and
 * count are 0 without events, the others NULL (no value: comparisons on it
 * are false). Events whose property is not a number are skipped. */
static void emit_event_value(struct sqlc *c, const struct hd_seg_node *n, int base)
{
    static const char *const fns[] = {"count(*)", "sum", "min", "max", "avg", "max", "min"};
    int prop = n->path ? base + (n->windowed ? 3 : 1) : 0;
    hd_buf_adds(&c->sql, "(SELECT ");
    if (n->agg == SEGA_SUM)
        hd_buf_adds(&c->sql, "coalesce(");
    if (n->agg == SEGA_COUNT)
        hd_buf_adds(&c->sql, fns[n->agg]);
    else if (n->type == SEG_EV_TIME)
        hd_buf_addf(&c->sql, "%s(e.at)", fns[n->agg]);
    else {
        hd_buf_addf(&c->sql, "%s(", fns[n->agg]);
        emit_json_value(c, "e.props", prop, W_NUM);
        hd_buf_addc(&c->sql, ')');
    }
    if (n->agg == SEGA_SUM)
        hd_buf_adds(&c->sql, ", 0)");
    emit_events_from(c, n, base);
    if (prop) {
        hd_buf_adds(&c->sql, " AND ");
        emit_json_type(c, "e.props", prop);
        if (c->pg)
            hd_buf_adds(&c->sql, " = 'number'");
        else
            hd_buf_adds(&c->sql, " IN ('integer', 'real')");
    }
    hd_buf_addc(&c->sql, ')');
}

/* did(): "count >= k" and "count > k" as EXISTS of the k-th event, which
 * stops at it; other counts compare count(*). */
static void emit_did(struct sqlc *c, const struct hd_seg_node *n)
{
    int base = event_params(c, n);
    int64_t k = n->op == SEG_GT ? n->i + 1 : n->i;
    if ((n->op == SEG_GE || n->op == SEG_GT) && k >= 1) {
        int off = param(c, B_INT, NULL, k - 1, 0);
        hd_buf_adds(&c->sql, "EXISTS (SELECT 1");
        emit_events_from(c, n, base);
        hd_buf_adds(&c->sql, " LIMIT 1 OFFSET ");
        emit_param(c, off);
        hd_buf_addc(&c->sql, ')');
        return;
    }
    int v = param(c, B_INT, NULL, n->i, 0);
    hd_buf_adds(&c->sql, "((SELECT count(*)");
    emit_events_from(c, n, base);
    hd_buf_addf(&c->sql, ") %s ", sql_ops[n->op]);
    emit_param(c, v);
    hd_buf_addc(&c->sql, ')');
}

/* ---- messages -------------------------------------------------------------------------- */

/* received()/messaged(): a row of sends (a message that went out, or is
 * going: a refused one gives its row back), on the index (contact_id, at). */
static void emit_messaged(struct sqlc *c, const struct hd_seg_node *n)
{
    hd_buf_adds(&c->sql, "EXISTS (SELECT 1 FROM sends s WHERE s.contact_id = c.id");
    if (n->windowed) {
        int a = param(c, B_INT, NULL, n->t, 0);
        hd_buf_addf(&c->sql, " AND s.at BETWEEN ?%d AND ?%d", a, param(c, B_INT, NULL, c->now, 0));
    }
    if (n->channel >= 0)
        hd_buf_addf(&c->sql, " AND s.channel = ?%d", param(c, B_INT, NULL, n->channel, 0));
    if (n->str)
        hd_buf_addf(&c->sql,
                    " AND s.campaign_id IN (SELECT k.id FROM campaigns k WHERE k.name = "
                    "?%d)",
                    param(c, B_TEXT, n->str, 0, 0));
    hd_buf_addc(&c->sql, ')');
}

/* converted(): as stats --goal counts a message of the campaign that was
 * not held out, whose contact had the event within the window after its
 * run fired. */
static void emit_converted(struct sqlc *c, const struct hd_seg_node *n)
{
    int camp = param(c, B_TEXT, n->str, 0, 0), ev = param(c, B_TEXT, n->path, 0, 0);
    int held = param(c, B_INT, NULL, HD_ST_HELD_OUT, 0), win = param(c, B_INT, NULL, n->i, 0);
    hd_buf_addf(&c->sql,
                "EXISTS (SELECT 1 FROM campaigns k JOIN runs r ON r.campaign_id = k.id JOIN "
                "messages m ON m.run_id = r.id AND m.contact_id = c.id WHERE k.name = ?%d AND "
                "m.state <> ?%d AND EXISTS (SELECT 1 FROM events e WHERE e.contact_id = c.id AND "
                "e.name = ?%d AND e.at >= " HD_RUN_FIRED_SQL " AND e.at < " HD_RUN_FIRED_SQL
                " + ?%d))",
                camp, held, ev, win);
}

/* The contact's email in lower case as SQLite's lower() makes it, ASCII
 * letters only (suppressions keep addresses so). */
static const char *lower_email(const struct sqlc *c)
{
    /* compared in the database's collation, so that the index on
     * suppressions(address) serves it */
    return c->pg ? "lower(c.email COLLATE \"C\") COLLATE \"default\"" : "lower(c.email)";
}

/* bounced: the contact's email, phone, a push token or its WeChat openid
 * (kept with the tokens) suppressed for a permanent refusal (the reasons
 * feedback gives); complained: its email
 * suppressed as a complaint. */
static void emit_feedback(struct sqlc *c, const struct hd_seg_node *n)
{
    if (n->type == SEG_COMPLAINED) {
        hd_buf_addf(&c->sql,
                    "EXISTS (SELECT 1 FROM suppressions s WHERE s.address = %s AND "
                    "s.reason = ?%d)",
                    lower_email(c), param(c, B_TEXT, "complaint", 0, 0));
        return;
    }
    int mail = param(c, B_TEXT, "hard_bounce", 0, 0),
        sms = param(c, B_TEXT, "invalid_number", 0, 0);
    int push = param(c, B_TEXT, "unregistered_token", 0, 0),
        openid = param(c, B_TEXT, "invalid_openid", 0, 0);
    hd_buf_addf(&c->sql,
                "(EXISTS (SELECT 1 FROM suppressions s WHERE s.address = %s AND "
                "s.reason = ?%d) OR EXISTS (SELECT 1 FROM suppressions s WHERE s.address = "
                "c.phone AND s.reason = ?%d) OR EXISTS (SELECT 1 FROM push_tokens t JOIN "
                "suppressions s ON s.address = t.token WHERE t.contact_id = c.id AND (s.reason = "
                "?%d OR s.reason = ?%d)))",
                lower_email(c), mail, sms, push, openid);
}

/* opened: a receipt row (outcome receipt, reason opened: a sender's open
 * event, hooks_esp.c) for the contact, on the index (contact_id, at). */
static void emit_opened(struct sqlc *c)
{
    int out = param(c, B_TEXT, "receipt", 0, 0), why = param(c, B_TEXT, "opened", 0, 0);
    hd_buf_addf(&c->sql,
                "EXISTS (SELECT 1 FROM attempts a WHERE a.contact_id = c.id AND a.outcome = ?%d "
                "AND a.reason = ?%d)",
                out, why);
}

/* The parameters a value needs before it is emitted (emit_field takes the
 * first): an attribute's path, or an event value's name, window and
 * property; 0 for a column. */
static int field_params(struct sqlc *c, const struct hd_seg_node *f)
{
    if (f->type == SEG_EV_AGG || f->type == SEG_EV_TIME) {
        int base = event_params(c, f);
        if (f->path)
            json_path_param(c, f->path);
        return base;
    }
    if (f->type == SEG_DATEPART || f->type == SEG_LENGTH)
        return field_params(c, f->kids[0]);
    return f->field == SEGF_ATTR ? path_param(c, f) : 0;
}

static void emit_field(struct sqlc *c, const struct hd_seg_node *f, int path);

/* year/month/day/weekday of a date: SQLite's strftime of the ISO text (a
 * date-time with an offset is read in UTC) or of epoch seconds. Per row,
 * but only where a rule asks for a part. */
static void emit_datepart(struct sqlc *c, const struct hd_seg_node *f, int path)
{
    static const char *const fmt[] = {"%Y", "%m", "%d", "%w"};
    static const char *const part[] = {"year", "month", "day", "dow"}; /* dow is %w */
    c->want = W_TEXT;
    if (!c->pg) {
        hd_buf_addf(&c->sql, "CAST(strftime('%s', ", fmt[f->part]);
        emit_field(c, f->kids[0], path);
        hd_buf_adds(&c->sql,
                    epoch_field(f->kids[0]) ? ", 'unixepoch') AS INTEGER)" : ") AS INTEGER)");
        return;
    }
    if (epoch_field(f->kids[0])) {
        hd_buf_addf(&c->sql, "CAST(extract(%s FROM to_timestamp(", part[f->part]);
        emit_field(c, f->kids[0], path);
        hd_buf_adds(&c->sql, ") AT TIME ZONE 'UTC') AS bigint)");
        return;
    }
    /* ISO text in UTC (dates are stored normalised): its first ten
     * characters; other text has no parts (NULL, as strftime gives) */
    hd_buf_adds(&c->sql, "(CASE WHEN ");
    emit_field(c, f->kids[0], path);
    hd_buf_addf(&c->sql, " ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}' THEN CAST(extract(%s FROM CAST(substr(",
                part[f->part]);
    emit_field(c, f->kids[0], path);
    hd_buf_adds(&c->sql, ", 1, 10) AS date)) AS bigint) END)");
}

/* length(): a list's elements or a text's characters; NULL for any other
 * value, so that comparisons on it are false. */
static void emit_length(struct sqlc *c, const struct hd_seg_node *f, int path)
{
    if (f->field != SEGF_ATTR) {
        hd_buf_addf(&c->sql, "length(%s)", columns[f->field]);
        return;
    }
    if (!c->pg) {
        hd_buf_addf(&c->sql,
                    "(CASE json_type(c.attrs, ?%d) WHEN 'array' THEN json_array_length(c.attrs, "
                    "?%d) WHEN 'text' THEN length(json_extract(c.attrs, ?%d)) END)",
                    path, path, path);
        return;
    }
    hd_buf_adds(&c->sql, "(CASE ");
    emit_json_type(c, "c.attrs", path);
    hd_buf_adds(&c->sql, " WHEN 'array' THEN jsonb_array_length");
    emit_jsonb_at(c, "c.attrs", path, "#>");
    hd_buf_adds(&c->sql, " WHEN 'string' THEN length");
    emit_jsonb_at(c, "c.attrs", path, "#>>");
    hd_buf_adds(&c->sql, " END)");
}

static void emit_field(struct sqlc *c, const struct hd_seg_node *f, int path)
{
    if (f->type == SEG_LENGTH) {
        emit_length(c, f->kids[0], path);
        return;
    }
    if (f->type == SEG_DATEPART) {
        emit_datepart(c, f, path);
        return;
    }
    if (f->type == SEG_EV_AGG || f->type == SEG_EV_TIME) {
        emit_event_value(c, f, path);
        return;
    }
    if (f->field != SEGF_ATTR) {
        hd_buf_adds(&c->sql, columns[f->field]);
        if (c->pg && !epoch_field(f)) /* text compares byte by byte, as in SQLite */
            hd_buf_adds(&c->sql, " COLLATE \"C\"");
        return;
    }
    emit_json_value(c, "c.attrs", path, c->want);
}

/* Which text of an instant to compare a date attribute with. Such an
 * attribute holds ISO text in one of two forms: a plain date "2026-11-22"
 * (midnight UTC) or a date-time "2026-11-22T08:00:00Z". As text a plain date
 * sorts just before the date-times of its day, so an instant t has a first
 * text (its plain date when t is midnight) and a last (its date-time), and
 * one text comparison compares instants: v < t <=> v < first,
 * v <= t <=> v <= last, v = t <=> v between first and last. */
enum tform { T_FIRST, T_LAST };

/* A time as the field stores it: epoch seconds, or ISO text in the form. */
static int time_param(struct sqlc *c, const struct hd_seg_node *f, int64_t t, enum tform form)
{
    if (epoch_field(f))
        return param(c, B_INT, NULL, t, 0);
    char buf[32];
    if (form == T_FIRST && t % 86400 == 0)
        hd_time_format_date(t, buf, sizeof buf);
    else
        hd_time_format_iso(t, buf, sizeof buf);
    return param(c, B_TEXT, buf, 0, 0);
}

/* True when the instant v may have two texts in field f (when it is a
 * midnight); both are bound whatever v is, so that the SQL's shape does not
 * depend on the rule's values. */
static bool two_forms(const struct hd_seg_node *f, const struct hd_seg_node *v)
{
    return (v->type == SEG_TIME || v->type == SEG_LOCAL_TODAY) && !epoch_field(f);
}

static int literal_param(struct sqlc *c, const struct hd_seg_node *f, const struct hd_seg_node *v,
                         enum tform form)
{
    switch (v->type) {
    case SEG_STRING:
        return param(c, B_TEXT, v->str, 0, 0);
    case SEG_NUMBER:
        if (v->is_int)
            return param(c, B_INT, NULL, v->i, 0);
        if (v->num == floor(v->num) && fabs(v->num) < 9e15)
            return param(c, B_INT, NULL, (int64_t)v->num, 0);
        return param(c, B_REAL, NULL, 0, v->num);
    case SEG_BOOL:
        return param(c, B_INT, NULL, v->b, 0);
    case SEG_TIME:
        return time_param(c, f, v->t, form);
    default:
        HD_BUG("literal of type %d", (int)v->type);
    }
}

/* ---- days_since / days_until as bounds on the date ---------------------------------- */

/* d >= K (at_least) or d < K, where t is now -K days (since) or now + K days
 * (until), for the meaning of hd_segast_days().
 * since: on a date-time d >= K <=> x <= t; on a plain date D, today - D >= K
 * <=> D <= the day of t, which is also "x <= t" in text (a plain date sorts
 * before the times of its day). One comparison, as cheap as a text one gets.
 * until: on a date-time d >= K <=> x >= t; on a plain date D >= the day of t,
 * which in text is "x >= t or x = that day". */
static void emit_day_bound(struct sqlc *c, const struct hd_seg_node *f, int path, bool since,
                           bool at_least, int64_t t)
{
    if (since || epoch_field(f)) {
        emit_field(c, f, path);
        if (since)
            hd_buf_adds(&c->sql, at_least ? " <= " : " > ");
        else
            hd_buf_adds(&c->sql, at_least ? " >= " : " < ");
        emit_param(c, time_param(c, f, t, T_LAST));
        return;
    }
    char day[32];
    hd_time_format_date(t, day, sizeof day);
    hd_buf_addc(&c->sql, '(');
    emit_field(c, f, path);
    hd_buf_adds(&c->sql, at_least ? " >= " : " < ");
    emit_param(c, time_param(c, f, t, T_LAST));
    hd_buf_adds(&c->sql, at_least ? " OR " : " AND ");
    emit_field(c, f, path);
    hd_buf_adds(&c->sql, at_least ? " = " : " != ");
    emit_param(c, param(c, B_TEXT, day, 0, 0));
    hd_buf_addc(&c->sql, ')');
}

static void emit_local(struct sqlc *c, const struct hd_seg_node *f, const struct hd_seg_node *v,
                       enum tform form);

/* d >= k (at_least) or d < k for d = days_since/days_until(f, local_today),
 * hd_segast_local_days(): a comparison of f with local_today moved, per
 * row. until: d >= k <=> f >= local_today + k days; since: d >= k <=> the
 * date of f <= local_today - k <=> f < local_today - k + 1 days. */
static void emit_local_bound(struct sqlc *c, const struct hd_seg_node *f, int path, bool since,
                             bool at_least, double k)
{
    struct hd_seg_node lt = {.type = SEG_LOCAL_TODAY};
    lt.t = (int64_t)llround(since ? 1 - k : k) * 86400;
    emit_field(c, f, path);
    hd_buf_adds(&c->sql, at_least != since ? " >= " : " < ");
    emit_local(c, f, &lt, T_FIRST);
}

/* The instant where days_since/days_until(f) (or months_until) reaches k:
 * now -k days, now + k days, or today plus k calendar months. */
static int64_t bound_time(const struct sqlc *c, const struct hd_seg_node *days, double k)
{
    if (days->type == SEG_MONTHS_UNTIL) {
        int64_t today = c->now - (((c->now % 86400) + 86400) % 86400);
        return hd_time_add_months(today, (int64_t)llround(k));
    }
    return c->now + (days->type == SEG_DAYS_SINCE ? -1 : 1) * (int64_t)llround(k * 86400);
}

/* Emits a condition for lo <= d < hi (either may be infinite) where d is the
 * whole-or-fractional day count of days_since(f) or days_until(f), or the
 * whole months of months_until(f) (bounds on f as for days_until: the
 * months from today are monotone in f, see hd_segast_months_until). */
static void emit_day_range(struct sqlc *c, const struct hd_seg_node *days, double lo, double hi)
{
    const struct hd_seg_node *f = days->kids[0];
    bool since = days->type == SEG_DAYS_SINCE;
    int path = field_params(c, f);
    bool first = true;
    /* beyond a million days (2,700 years; 10,000 months) no date lies:
     * clamp, so that the arithmetic below cannot overflow */
    const double far = days->type == SEG_MONTHS_UNTIL ? 1e4 : 1e6;
    if (lo < -far)
        lo = -INFINITY;
    else if (lo > far)
        lo = far;
    if (hi > far)
        hi = INFINITY;
    else if (hi < -far)
        hi = -far;
    if (lo > hi || (isinf(lo) && lo > 0) || (isinf(hi) && hi < 0)) {
        emit_false(c);
        return;
    }
    hd_buf_addc(&c->sql, '(');
    if (!isinf(lo)) {
        if (days->local)
            emit_local_bound(c, f, path, since, true, lo);
        else
            emit_day_bound(c, f, path, since, true, bound_time(c, days, lo));
        first = false;
    }
    if (!isinf(hi)) {
        if (!first)
            hd_buf_adds(&c->sql, " AND ");
        if (days->local)
            emit_local_bound(c, f, path, since, false, hi);
        else
            emit_day_bound(c, f, path, since, false, bound_time(c, days, hi));
        first = false;
    }
    if (first) { /* no bound: any date at all */
        emit_field(c, f, path);
        hd_buf_adds(&c->sql, " IS NOT NULL");
    }
    hd_buf_addc(&c->sql, ')');
}

/* floor(d) op n, as a range of d. */
static void emit_days_cmp(struct sqlc *c, const struct hd_seg_node *days, enum hd_seg_op op,
                          double n)
{
    switch (op) {
    case SEG_GE:
        emit_day_range(c, days, ceil(n), INFINITY);
        break;
    case SEG_GT:
        emit_day_range(c, days, floor(n) + 1, INFINITY);
        break;
    case SEG_LE:
        emit_day_range(c, days, -INFINITY, floor(n) + 1);
        break;
    case SEG_LT:
        emit_day_range(c, days, -INFINITY, ceil(n));
        break;
    case SEG_EQ:
        if (n != floor(n))
            emit_false(c);
        else
            emit_day_range(c, days, n, n + 1);
        break;
    case SEG_NE:
        /* a date that exists, outside [n, n+1) */
        hd_buf_adds(&c->sql, "(");
        emit_day_range(c, days, -INFINITY, INFINITY);
        hd_buf_adds(&c->sql, " AND NOT ");
        if (n != floor(n))
            emit_false(c);
        else
            emit_day_range(c, days, n, n + 1);
        hd_buf_adds(&c->sql, ")");
        break;
    default:
        HD_BUG("op %d", (int)op);
    }
}

/* ---- conditions ------------------------------------------------------------------------ */

static void emit_cond(struct sqlc *c, const struct hd_seg_node *n);

static void emit_not_opted_out(struct sqlc *c, int channel, int category, const char *contact)
{
    hd_buf_addf(
        &c->sql,
        "NOT EXISTS (SELECT 1 FROM consent k WHERE k.contact_id = %s AND k.channel = ", contact);
    emit_param(c, param(c, B_TEXT, hd_channel_name(channel), 0, 0));
    hd_buf_adds(&c->sql, " AND k.category = ");
    emit_param(
        c, param(c, B_TEXT, hd_category_name(category < 0 ? HD_CAT_MARKETING : category), 0, 0));
    hd_buf_adds(&c->sql, " AND k.status = 'opted_out')");
}

static void emit_reachable(struct sqlc *c, const struct hd_seg_node *n)
{
    hd_buf_addc(&c->sql, '(');
    switch (n->channel) {
    case HD_CH_EMAIL:
        hd_buf_addf(&c->sql,
                    "c.email IS NOT NULL AND NOT EXISTS (SELECT 1 FROM suppressions s "
                    "WHERE s.address = %s) AND ",
                    lower_email(c));
        break;
    case HD_CH_SMS:
        hd_buf_adds(&c->sql, "c.phone IS NOT NULL AND NOT EXISTS (SELECT 1 FROM suppressions s "
                             "WHERE s.address = c.phone) AND ");
        break;
    case HD_CH_WECHAT: /* the openid, kept with the push tokens */
    case HD_CH_PUSH:
        hd_buf_addf(&c->sql,
                    "EXISTS (SELECT 1 FROM push_tokens t WHERE t.contact_id = c.id AND "
                    "t.platform %s 'wechat' AND NOT EXISTS (SELECT 1 FROM suppressions s "
                    "WHERE s.address = t.token)) AND ",
                    n->channel == HD_CH_WECHAT ? "=" : "<>");
        break;
    default:
        break;
    }
    emit_not_opted_out(c, n->channel, n->category, "c.id");
    hd_buf_addc(&c->sql, ')');
}

/* is [not] empty: no elements, "" or no value at all. */
static void emit_empty(struct sqlc *c, const struct hd_seg_node *n)
{
    const struct hd_seg_node *f = n->kids[0];
    hd_buf_adds(&c->sql, n->negated ? "(NOT " : "(");
    if (f->field != SEGF_ATTR) {
        hd_buf_addf(&c->sql, "coalesce(%s, '') = '')", columns[f->field]);
        return;
    }
    int path = path_param(c, f);
    if (!c->pg) {
        hd_buf_addf(&c->sql,
                    "CASE coalesce(json_type(c.attrs, ?%d), 'null') WHEN 'array' THEN "
                    "json_array_length(c.attrs, ?%d) = 0 WHEN 'text' THEN json_extract(c.attrs, "
                    "?%d) = '' WHEN 'null' THEN 1 ELSE 0 END)",
                    path, path, path);
        return;
    }
    hd_buf_adds(&c->sql, "CASE coalesce(");
    emit_json_type(c, "c.attrs", path);
    hd_buf_adds(&c->sql, ", 'null') WHEN 'array' THEN jsonb_array_length");
    emit_jsonb_at(c, "c.attrs", path, "#>");
    hd_buf_adds(&c->sql, " = 0 WHEN 'string' THEN ");
    emit_jsonb_at(c, "c.attrs", path, "#>>");
    hd_buf_adds(&c->sql, " = '' WHEN 'null' THEN TRUE ELSE FALSE END)");
}

/* A GLOB pattern as the POSIX regular expression that matches the same
 * texts (PostgreSQL has no GLOB): * any text, ? one character, [...] and
 * [^...] a set as they are; every other character literally. */
/* The ] that closes the set [ opens: the first after its first member, as
 * GLOB reads it; NULL when there is none. */
static const char *set_end(const char *open)
{
    const char *first = open + 1 + (open[1] == '^');
    return *first ? strchr(first + 1, ']') : NULL;
}

static int glob_param(struct sqlc *c, const char *glob)
{
    struct hd_buf re;
    hd_buf_init(&re);
    hd_buf_addc(&re, '^');
    for (const char *g = glob; *g; g++) {
        if (*g == '*') {
            hd_buf_adds(&re, ".*");
        } else if (*g == '?') {
            hd_buf_addc(&re, '.');
        } else if (*g == '[' && set_end(g)) {
            const char *end = set_end(g);
            hd_buf_addc(&re, '[');
            for (const char *k = g + 1; k < end; k++) {
                if (*k == '\\' || (*k == '[' && k[1] == ':'))
                    hd_buf_addc(&re, '\\');
                hd_buf_addc(&re, *k);
            }
            hd_buf_addc(&re, ']');
            g = end;
        } else {
            if (strchr(".^$|()[]{}+*?\\", *g))
                hd_buf_addc(&re, '\\');
            hd_buf_addc(&re, *g);
        }
    }
    hd_buf_addc(&re, '$');
    int n = param(c, B_TEXT, re.data, 0, 0);
    hd_buf_release(&re);
    return n;
}

/* ends_with (the last characters; "" ends every text) or matches (GLOB). */
static void emit_text_test(struct sqlc *c, const struct hd_seg_node *n)
{
    const struct hd_seg_node *f = n->kids[0];
    int path = field_params(c, f);
    c->want = W_TEXT;
    hd_buf_addc(&c->sql, '(');
    if (n->type == SEG_MATCHES) {
        int v = c->pg ? glob_param(c, n->kids[1]->str) : literal_param(c, f, n->kids[1], T_LAST);
        emit_field(c, f, path);
        hd_buf_adds(&c->sql, c->pg ? " ~ " : " GLOB ");
        emit_param(c, v);
        hd_buf_addc(&c->sql, ')');
        return;
    }
    int v = literal_param(c, f, n->kids[1], T_LAST);
    hd_buf_adds(&c->sql, "substr(");
    emit_field(c, f, path);
    hd_buf_adds(&c->sql, ", length(");
    emit_field(c, f, path);
    hd_buf_adds(&c->sql, ") - length(");
    emit_param(c, v);
    hd_buf_adds(&c->sql, ") + 1) = ");
    emit_param(c, v);
    hd_buf_addc(&c->sql, ')');
}

/* ---- local_today ------------------------------------------------------------------------ */

/* The contact's own today, per row: the UTC date, or the day before or
 * after for the contacts whose zone (hd_time_zones_off_day, once per
 * compile) is there now; no zone: UTC. v is local_today moved, or a part
 * of it; form: the text a date field compares with (see enum tform). */
static void emit_local(struct sqlc *c, const struct hd_seg_node *f, const struct hd_seg_node *v,
                       enum tform form)
{
    const struct hd_seg_node *lt = v->type == SEG_DATEPART ? v->kids[0] : v;
    if (!c->zones) {
        struct hd_buf behind, ahead;
        hd_buf_init(&behind);
        hd_buf_init(&ahead);
        hd_time_zones_off_day(c->now, &behind, &ahead);
        c->zones = param(c, B_TEXT, behind.data, 0, 0);
        param(c, B_TEXT, ahead.data, 0, 0);
        hd_buf_release(&behind);
        hd_buf_release(&ahead);
    }
    int64_t today = c->now - (((c->now % 86400) + 86400) % 86400);
    int at[3];
    for (int k = 0; k < 3; k++) { /* behind, ahead, UTC */
        int64_t d = hd_time_add_months(today + (k == 0   ? -86400
                                                : k == 1 ? 86400
                                                         : 0),
                                       lt->i) +
                    lt->t;
        at[k] = v->type == SEG_DATEPART ? param(c, B_INT, NULL, hd_segast_part(v->part, d), 0)
                                        : time_param(c, f, d, form);
    }
    static const char *const zones[] = {"SELECT value FROM json_each(?%d)",
                                        "SELECT jsonb_array_elements_text(CAST(?%d AS jsonb))"};
    for (int k = 0; k < 2; k++) {
        hd_buf_adds(&c->sql, k ? " WHEN c.timezone IN (" : "(CASE WHEN c.timezone IN (");
        hd_buf_addf(&c->sql, zones[c->pg], c->zones + k);
        hd_buf_adds(&c->sql, ") THEN ");
        emit_param(c, at[k]);
    }
    hd_buf_adds(&c->sql, " ELSE ");
    emit_param(c, at[2]);
    hd_buf_adds(&c->sql, " END)");
}

/* A comparison's value: a parameter, or local_today's expression; nocase
 * on PostgreSQL: lowered (ASCII letters only, as SQLite's NOCASE). */
static void emit_value(struct sqlc *c, const struct hd_seg_node *f, const struct hd_seg_node *v,
                       enum tform form, bool nocase)
{
    if (nocase && c->pg)
        hd_buf_adds(&c->sql, "lower(");
    if (v->type == SEG_LOCAL_TODAY || v->type == SEG_DATEPART)
        emit_local(c, f, v, form);
    else
        emit_param(c, literal_param(c, f, v, form));
    if (nocase && c->pg)
        hd_buf_adds(&c->sql, " COLLATE \"C\")");
}

/* How an attribute compared with v is read on PostgreSQL: a number or a
 * boolean as a number, anything else (text, dates) as text. */
static enum want want_of(const struct sqlc *c, const struct hd_seg_node *f,
                         const struct hd_seg_node *v)
{
    if (v->type == SEG_NUMBER || v->type == SEG_BOOL)
        return W_NUM;
    if (v->type == SEG_DATEPART ||
        ((v->type == SEG_TIME || v->type == SEG_LOCAL_TODAY) && epoch_field(f)))
        return W_NUM;
    (void)c;
    return W_TEXT;
}

/* The field of a comparison, read as it is compared with v. */
static void emit_subject(struct sqlc *c, const struct hd_seg_node *f, int path,
                         const struct hd_seg_node *v, bool nocase)
{
    c->want = want_of(c, f, v);
    if (nocase && c->pg)
        hd_buf_adds(&c->sql, "lower(");
    emit_field(c, f, path);
    if (nocase && c->pg)
        hd_buf_adds(&c->sql, " COLLATE \"C\")");
    c->want = W_TEXT;
}

static void emit_cmp(struct sqlc *c, const struct hd_seg_node *n)
{
    const struct hd_seg_node *f = n->kids[0], *v = n->kids[1];
    if (day_count(f)) {
        emit_days_cmp(c, f, n->op, v->num);
        return;
    }
    int path = field_params(c, f);
    hd_buf_addc(&c->sql, '(');
    emit_subject(c, f, path, v, n->nocase);
    if (two_forms(f, v) && (n->op == SEG_EQ || n->op == SEG_NE)) {
        /* either text of the instant */
        hd_buf_adds(&c->sql, n->op == SEG_EQ ? " BETWEEN " : " NOT BETWEEN ");
        emit_value(c, f, v, T_FIRST, n->nocase);
        hd_buf_adds(&c->sql, " AND ");
        emit_value(c, f, v, T_LAST, n->nocase);
    } else {
        hd_buf_addf(&c->sql, " %s ", sql_ops[n->op]);
        emit_value(c, f, v, n->op == SEG_LT || n->op == SEG_GE ? T_FIRST : T_LAST, n->nocase);
    }
    hd_buf_adds(&c->sql, n->nocase && !c->pg ? " COLLATE NOCASE)" : ")");
}

static void emit_in(struct sqlc *c, const struct hd_seg_node *n)
{
    const struct hd_seg_node *f = n->kids[0];
    if (day_count(f)) {
        hd_buf_adds(&c->sql, n->negated ? "(" : "(");
        if (n->negated) {
            emit_day_range(c, f, -INFINITY, INFINITY);
            hd_buf_adds(&c->sql, " AND NOT ");
        }
        hd_buf_addc(&c->sql, '(');
        for (size_t i = 1; i < n->nkids; i++) {
            if (i > 1)
                hd_buf_adds(&c->sql, " OR ");
            emit_days_cmp(c, f, SEG_EQ, n->kids[i]->num);
        }
        hd_buf_adds(&c->sql, "))");
        return;
    }
    int path = field_params(c, f);
    hd_buf_addc(&c->sql, '(');
    emit_subject(c, f, path, n->kids[1], n->nocase);
    if (n->nocase && !c->pg)
        hd_buf_adds(&c->sql, " COLLATE NOCASE");
    hd_buf_adds(&c->sql, n->negated ? " NOT IN (" : " IN (");
    for (size_t i = 1; i < n->nkids; i++) {
        if (i > 1)
            hd_buf_adds(&c->sql, ", ");
        emit_value(c, f, n->kids[i], T_FIRST, n->nocase);
        if (two_forms(f, n->kids[i])) {
            hd_buf_adds(&c->sql, ", ");
            emit_value(c, f, n->kids[i], T_LAST, n->nocase);
        }
    }
    hd_buf_adds(&c->sql, "))");
}

static void emit_between(struct sqlc *c, const struct hd_seg_node *n)
{
    const struct hd_seg_node *f = n->kids[0], *lo = n->kids[1], *hi = n->kids[2];
    if (day_count(f)) {
        if (n->negated) {
            hd_buf_adds(&c->sql, "(");
            emit_day_range(c, f, -INFINITY, INFINITY);
            hd_buf_adds(&c->sql, " AND NOT ");
        }
        emit_day_range(c, f, ceil(lo->num), floor(hi->num) + 1);
        if (n->negated)
            hd_buf_adds(&c->sql, ")");
        return;
    }
    int path = field_params(c, f);
    hd_buf_addc(&c->sql, '(');
    emit_subject(c, f, path, lo, false);
    hd_buf_adds(&c->sql, n->negated ? " NOT BETWEEN " : " BETWEEN ");
    emit_value(c, f, lo, T_FIRST, false);
    hd_buf_adds(&c->sql, " AND ");
    emit_value(c, f, hi, T_LAST, false);
    hd_buf_addc(&c->sql, ')');
}

static void emit_contains(struct sqlc *c, const struct hd_seg_node *n)
{
    const struct hd_seg_node *f = n->kids[0];
    int v = literal_param(c, f, n->kids[1], T_LAST);
    if (f->field != SEGF_ATTR || f->vtype == SEGV_STRING) {
        int path = field_params(c, f);
        c->want = W_TEXT;
        hd_buf_adds(&c->sql, c->pg ? "(strpos(" : "(instr(");
        emit_field(c, f, path);
        hd_buf_adds(&c->sql, c->pg ? ", CAST(" : ", ");
        emit_param(c, v);
        hd_buf_adds(&c->sql, c->pg ? " AS text)) > 0)" : ") > 0)");
        return;
    }
    int path = path_param(c, f);
    if (c->pg) { /* an element equal to the value, or a text holding it */
        hd_buf_adds(&c->sql, "(CASE ");
        emit_json_type(c, "c.attrs", path);
        hd_buf_adds(&c->sql, " WHEN 'array' THEN ");
        emit_jsonb_at(c, "c.attrs", path, "#>");
        hd_buf_adds(&c->sql, " @> jsonb_build_array(");
        emit_param(c, v);
        hd_buf_adds(&c->sql, ") WHEN 'string' THEN strpos(");
        emit_jsonb_at(c, "c.attrs", path, "#>>");
        hd_buf_adds(&c->sql, ", CAST(");
        emit_param(c, v);
        hd_buf_adds(&c->sql, " AS text)) > 0 ELSE FALSE END)");
        return;
    }
    hd_buf_adds(&c->sql, "(CASE json_type(c.attrs, ");
    emit_param(c, path);
    hd_buf_adds(&c->sql, ") WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each(c.attrs, ");
    emit_param(c, path);
    hd_buf_adds(&c->sql, ") WHERE value = ");
    emit_param(c, v);
    hd_buf_adds(&c->sql, ") WHEN 'text' THEN instr(json_extract(c.attrs, ");
    emit_param(c, path);
    hd_buf_adds(&c->sql, "), ");
    emit_param(c, v);
    hd_buf_adds(&c->sql, ") > 0 ELSE 0 END)");
}

static void emit_chain(struct sqlc *c, const struct hd_seg_node *n, enum hd_seg_type op)
{
    for (size_t i = 0; i < n->nkids; i++) {
        if (i)
            hd_buf_adds(&c->sql, op == SEG_AND ? " AND " : " OR ");
        if (n->kids[i]->type == op)
            emit_chain(c, n->kids[i], op);
        else
            emit_cond(c, n->kids[i]);
    }
}

/* The conditions on events, messages and text (issue 22). */
static void emit_behaviour(struct sqlc *c, const struct hd_seg_node *n)
{
    switch (n->type) {
    case SEG_DID:
        emit_did(c, n);
        break;
    case SEG_ENDS_WITH:
    case SEG_MATCHES:
        emit_text_test(c, n);
        break;
    case SEG_EMPTY:
        emit_empty(c, n);
        break;
    case SEG_MESSAGED:
        emit_messaged(c, n);
        break;
    case SEG_CONVERTED:
        emit_converted(c, n);
        break;
    case SEG_BOUNCED:
    case SEG_COMPLAINED:
        emit_feedback(c, n);
        break;
    case SEG_OPENED:
        emit_opened(c);
        break;
    default:
        HD_BUG("segment node %d cannot be compiled (in_segment not expanded?)", (int)n->type);
    }
}

static void emit_cond(struct sqlc *c, const struct hd_seg_node *n)
{
    switch (n->type) {
    case SEG_AND:
    case SEG_OR:
        /* a chain of one operator is written flat, "(a OR b OR c)": SQLite's
         * parser has a small stack for nested parentheses */
        hd_buf_addc(&c->sql, '(');
        emit_chain(c, n, n->type);
        hd_buf_addc(&c->sql, ')');
        break;
    case SEG_NOT:
        /* a comparison on a missing value is NULL in SQL, false here: so
         * "not" of it is true. A condition is 1, 0 or NULL, so "IS NOT 1";
         * NOT coalesce(x, 0) meant the same but took SQLite's parser stack
         * twice as deep: 18 nested nots overflowed it */
        hd_buf_addc(&c->sql, '(');
        emit_cond(c, n->kids[0]);
        hd_buf_adds(&c->sql, c->pg ? " IS NOT TRUE)" : " IS NOT 1)");
        break;
    case SEG_CMP:
        emit_cmp(c, n);
        break;
    case SEG_IN:
        emit_in(c, n);
        break;
    case SEG_BETWEEN:
        emit_between(c, n);
        break;
    case SEG_CONTAINS:
        emit_contains(c, n);
        break;
    case SEG_STARTS_WITH: {
        const struct hd_seg_node *f = n->kids[0];
        int path = field_params(c, f);
        int v = literal_param(c, f, n->kids[1], T_LAST);
        hd_buf_adds(&c->sql, "(substr(");
        emit_field(c, f, path);
        hd_buf_adds(&c->sql, ", 1, length(");
        emit_param(c, v);
        hd_buf_adds(&c->sql, ")) = ");
        emit_param(c, v);
        hd_buf_addc(&c->sql, ')');
        break;
    }
    case SEG_EXISTS: {
        const struct hd_seg_node *f = n->kids[0];
        hd_buf_adds(&c->sql, n->negated ? "(NOT " : "(");
        if (f->field == SEGF_ATTR) {
            hd_buf_adds(&c->sql, "coalesce(");
            emit_json_type(c, "c.attrs", path_param(c, f));
            hd_buf_adds(&c->sql, ", 'null') != 'null'");
        } else {
            hd_buf_addf(&c->sql, "%s IS NOT NULL", columns[f->field]);
        }
        hd_buf_addc(&c->sql, ')');
        break;
    }
    case SEG_TRUTHY: {
        const struct hd_seg_node *f = n->kids[0];
        int path = field_params(c, f);
        hd_buf_adds(&c->sql, "(");
        c->want = W_NUM;
        emit_field(c, f, path);
        c->want = W_TEXT;
        hd_buf_adds(&c->sql, " = 1)");
        break;
    }
    case SEG_REACHABLE:
        emit_reachable(c, n);
        break;
    case SEG_OPTED_IN:
        hd_buf_addc(&c->sql, '(');
        emit_not_opted_out(c, n->channel, n->category, "c.id");
        hd_buf_addc(&c->sql, ')');
        break;
    default:
        emit_behaviour(c, n);
    }
}

static void sqlc_release(struct sqlc *c)
{
    hd_buf_release(&c->sql);
    for (size_t i = 0; i < c->nb; i++)
        free(c->b[i].s);
    free(c->b);
}

static int seg_sql(bool pg, const struct hd_seg_node *ast, int64_t now, struct hd_buf *sql,
                   struct hd_buf *params)
{
    struct sqlc c = {.now = now, .pg = pg};
    hd_buf_init(&c.sql);
    emit_cond(&c, ast);
    hd_buf_add(sql, c.sql.data, c.sql.len);
    for (size_t i = 0; params && i < c.nb; i++) {
        if (c.b[i].type == B_TEXT || c.b[i].type == B_PATH)
            hd_buf_add_json_str(params, c.b[i].s, strlen(c.b[i].s));
        else if (c.b[i].type == B_INT)
            hd_buf_addf(params, "%lld", (long long)c.b[i].i);
        else
            hd_buf_addf(params, "%.17g", c.b[i].d);
        hd_buf_addc(params, i + 1 < c.nb ? ' ' : '\n');
    }
    int n = (int)c.nb;
    sqlc_release(&c);
    return n;
}

int hd_store_seg_sql(const struct hd_seg_node *ast, int64_t now, struct hd_buf *sql,
                     struct hd_buf *params)
{
    return seg_sql(false, ast, now, sql, params);
}

int hd_store_seg_dsql(const struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                      struct hd_buf *sql, struct hd_buf *params)
{
    return seg_sql(hd_store_is_pg(st), ast, now, sql, params);
}

/* The query "head WHERE (rule)" (see hd_store_prepare_rule) in the
 * dialect c says, into q; c holds the rule's parameters. */
static int compile_rule(struct sqlc *c, struct hd_buf *q, const struct hd_seg_node *ast,
                        const char *head, const char *also, const char *order, int *limit_param,
                        struct hd_err *err)
{
    emit_cond(c, ast);
    if (c->nb >= 900) /* ?901 and up belong to the caller */
        return hd_err_set(err, HD_E_INVALID, "the rule has %zu values; at most 899 can be used",
                          c->nb);
    hd_buf_addf(q, "%s WHERE (%s)", head, c->sql.data);
    if (also)
        hd_buf_addf(q, " AND %s", also);
    if (order) {
        hd_buf_addf(q, " ORDER BY %s LIMIT ?%zu", order, c->nb + 1);
        *limit_param = (int)c->nb + 1;
    }
    return 0;
}

int hd_store_prepare_rule(struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                          const char *head, const char *also, const char *order, sqlite3_stmt **out,
                          int *limit_param, struct hd_err *err)
{
    struct sqlc c = {.now = now};
    struct hd_buf q;
    int rc;
    hd_buf_init(&c.sql);
    hd_buf_init(&q);
    if ((rc = compile_rule(&c, &q, ast, head, also, order, limit_param, err)) == 0 &&
        (rc = hd_store_prepare(st, q.data, out, err)) == 0) {
        for (size_t i = 0; i < c.nb; i++) {
            const struct bind *b = &c.b[i];
            int idx = (int)i + 1;
            if (b->type == B_TEXT || b->type == B_PATH)
                sqlite3_bind_text(*out, idx, b->s, -1, SQLITE_TRANSIENT);
            else if (b->type == B_INT)
                sqlite3_bind_int64(*out, idx, b->i);
            else
                sqlite3_bind_double(*out, idx, b->d);
        }
    }
    hd_buf_release(&q);
    sqlc_release(&c);
    return rc;
}

/* Binds the rule's values to ?1..?N of a db.h statement. */
static int dbind_rule(const struct sqlc *c, struct hd_db_stmt *s, struct hd_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < c->nb && rc == 0; i++) {
        const struct bind *b = &c->b[i];
        int idx = (int)i + 1;
        if (b->type == B_TEXT || b->type == B_PATH)
            rc = hd_db_bind_text(s, idx, b->s, err);
        else if (b->type == B_INT)
            rc = hd_db_bind_int64(s, idx, b->i, err);
        else
            rc = hd_db_bind(s, idx, &(struct hd_db_value){.type = HD_DB_REAL, .d = b->d}, err);
    }
    return rc;
}

/* Prepares q and binds c's values, or fails leaving *out NULL. */
static int dprepare_bound(struct hd_store *st, const struct sqlc *c, const char *q,
                          struct hd_db_stmt **out, struct hd_err *err)
{
    int rc = hd_db_prepare(st->conn, q, out, err);
    if (rc == 0 && (rc = dbind_rule(c, *out, err)) < 0) {
        hd_db_finalize(*out);
        *out = NULL;
    }
    return rc < 0 ? hd_err_prefix(err, "segment rule") : 0;
}

int hd_store_dprepare_rule(struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                           const char *head, const char *also, const char *order,
                           struct hd_db_stmt **out, int *limit_param, struct hd_err *err)
{
    struct sqlc c = {.now = now, .pg = hd_store_is_pg(st)};
    struct hd_buf q;
    int rc;
    hd_buf_init(&c.sql);
    hd_buf_init(&q);
    rc = compile_rule(&c, &q, ast, head, also, order, limit_param, err);
    if (rc < 0)
        hd_err_prefix(err, "segment rule");
    else
        rc = dprepare_bound(st, &c, q.data, out, err);
    hd_buf_release(&q);
    sqlc_release(&c);
    return rc;
}

int hd_store_rule_prepare(struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                          const char *head, const char *tail, struct hd_db_stmt **out,
                          struct hd_err *err)
{
    struct sqlc c = {.now = now, .pg = hd_store_is_pg(st)};
    struct hd_buf q;
    int rc;
    *out = NULL;
    hd_buf_init(&c.sql);
    hd_buf_init(&q);
    rc = compile_rule(&c, &q, ast, head, NULL, NULL, NULL, err);
    if (rc < 0) {
        hd_err_prefix(err, "segment rule");
    } else {
        hd_buf_addf(&q, "%s", tail ? tail : "");
        rc = dprepare_bound(st, &c, q.data, out, err);
    }
    hd_buf_release(&q);
    sqlc_release(&c);
    return rc < 0 ? rc : (int)c.nb;
}

int hd_store_seg_count(struct hd_store *st, const struct hd_seg_node *ast, int64_t now, int64_t *n,
                       struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_store_dprepare_rule(st, ast, now, "SELECT count(*) FROM contacts c", NULL, NULL, &s,
                                    NULL, err);
    if (rc < 0)
        return rc;
    if (hd_db_step(s, err) == 1)
        *n = hd_db_col_int64(s, 0);
    else
        rc = hd_store_dfail(err, HD_E_STORE, "counting segment");
    hd_db_finalize(s);
    return rc;
}

int hd_store_seg_check(struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                       struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int rc = hd_store_dprepare_rule(st, ast, now, "SELECT count(*) FROM contacts c", NULL, NULL, &s,
                                    NULL, err);
    hd_db_finalize(s);
    return rc;
}

int hd_store_seg_each(struct hd_store *st, const struct hd_seg_node *ast, int64_t now,
                      int64_t limit, bool random, hd_contact_cb cb, void *ud, struct hd_err *err)
{
    struct hd_db_stmt *s = NULL;
    int p = 0, rc, step;
    if ((rc = hd_store_dprepare_rule(st, ast, now, "SELECT " HD_CONTACT_COLS " FROM contacts c",
                                     NULL, random ? "random()" : "c.id", &s, &p, err)) < 0)
        return rc;
    hd_store_bind_limit(st, s, p, limit);
    hd_db_buffer(s); /* the callback may query the store (PostgreSQL) */
    while ((step = hd_db_step(s, err)) == 1) {
        struct hd_contact k;
        hd_store_dread_contact(s, &k);
        rc = cb(ud, &k);
        hd_contact_release(&k);
        if (rc)
            goto out;
    }
    if (step < 0)
        rc = hd_store_dfail(err, HD_E_STORE, "reading segment members");
out:
    hd_db_finalize(s);
    return rc;
}
