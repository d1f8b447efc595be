/* test_events_scale: the events import rebuilt for scale (issue 22) keeps
 * its meaning, and local_today goes wherever today goes. Small data, all
 * through the real binary; speed is measured by bench/events.sh, never
 * asserted here.
 *  - properties written from the columns without jansson read back as the
 *    same JSON values (numbers as numbers, text as text, sorted keys);
 *  - a cell is a number by the rule of contacts' attributes, and stored as
 *    the contact's attribute of that cell is ("007", "+44", "0x1A" text,
 *    "1e3" 1000.0, 15 significant digits), with or without jansson (two
 *    columns of one name), and JSON Lines' reals to 15 digits too;
 *  - a time past 9999-12-31 (milliseconds, microseconds) is refused with
 *    file:line and the unit it likely is, in CSV and JSON Lines alike;
 *  - rows are written sorted by contact, but of two equal events the first
 *    in the file is the one kept, and a second import adds nothing;
 *  - a bad row anywhere stops the import with file:line, nothing written;
 *  - a database of schema 8 moves to the one events index (migration 9);
 *  - local_today in `in (...)`, `between` and the day counts
 *    days_since/days_until(x, local_today), against an evaluator written
 *    here, at instants where zones change day, with month ends and a leap
 *    day; one table of local day counts through templates and rules;
 *  - events at midnight in the contact's zone, and not did() for a contact
 *    without events, worked by hand.
 * Every case but the migration runs twice (issue 23): on a SQLite file, and
 * as `..._pg` on PostgreSQL. The PostgreSQL cases share one database, made
 * once for them (a database made, given the schema and dropped for each
 * folder cost seconds each), which each folder's set-up empties of
 * contacts, attributes, segments and events before herald init; the store
 * is read back with SQL both engines speak (tu_sql_text), the properties'
 * JSON by jansson. The migration case is about a SQLite file of an old
 * schema, and stays SQLite only. */
#include "testboth.h"

#include <sqlite3.h>

#include "herald/dbcopy.h"
#include "herald/mustache.h"
#include "herald/time.h"

#define DAY 86400

/* The PostgreSQL run's database (NULL on the SQLite run), and the store as
 * tu_sql_text names it. */
static char *pg_uri, pg_name[64];
static const char *store = "var/herald.db";

static void put(const char *d, const char *name, const char *text)
{
    char *p = tu_path(d, name);
    tu_write(p, text);
    free(p);
}

/* A new folder whose h.conf names the run's store, that store emptied on
 * PostgreSQL; the caller initializes it. */
static char *conf_dir(void)
{
    char *d = tu_tmpdir(), conf[512];
    snprintf(conf, sizeof conf, "[herald]\ndefault_region = US\n%s%s%s",
             pg_uri ? "database = " : "", pg_uri ? pg_uri : "", pg_uri ? "\n" : "");
    put(d, "h.conf", conf);
    if (pg_uri) /* a table made after the set-up fails here, to be added */
        free(tu_sql_text(d, pg_uri,
                         "SET client_min_messages = warning; TRUNCATE contacts, attributes, "
                         "segments, events CASCADE"));
    setenv("HERALD_CONFIG", "h.conf", 1);
    return d;
}

static char *new_dir(const char *contacts)
{
    char *d = conf_dir();
    put(d, "contacts.csv", contacts);
    setenv("HERALD_NOW", "2026-11-22T08:00:00Z", 1);
    TU_HERALD_OK(d, "init");
    TU_HERALD_OK(d, "contacts", "import", "contacts.csv");
    return d;
}

/* What sql (without a double quote) answers on d's store, its last newline
 * taken off, in buf. */
static const char *query(const char *d, const char *sql, char *buf, size_t size)
{
    char *r = tu_sql_text(d, store, sql);
    size_t n = strlen(r);
    if (n && r[n - 1] == '\n')
        r[--n] = '\0';
    snprintf(buf, size, "%s", r);
    free(r);
    return buf;
}

#define Q(d, sql) query((d), (sql), qbuf, sizeof qbuf)
static char qbuf[4096];

/* The properties of the event at the instant iso, as stored ("null" for
 * none), in qbuf. */
static const char *props_at(const char *d, const char *iso)
{
    char sql[128];
    int64_t at;
    assert_int_equal(hd_time_parse_iso(iso, &at, NULL), 0);
    snprintf(sql, sizeof sql, "SELECT coalesce(props, 'null') FROM events WHERE at = %lld",
             (long long)at);
    return Q(d, sql);
}

/* The property key of props (JSON text), as jansson reads it. */
static json_t *prop(json_t **obj, const char *props, const char *key)
{
    json_decref(*obj);
    *obj = json_loads(props, 0, NULL);
    if (!json_is_object(*obj))
        fail_msg("properties '%s' are not a JSON object", props);
    json_t *v = json_object_get(*obj, key);
    if (!v)
        fail_msg("no property '%s' in '%s'", key, props);
    return v;
}

/* Properties from columns: each cell as jansson would read it. */
static void test_events_scale_props(void **state)
{
    (void)state;
    char *d = new_dir("id\nc1\nc2\n");
    put(d, "ev.csv",
        "contact,event,time,value,sku,amount,note,\"we\"\"ird\",blank\n"
        "c1,buy,2026-11-01T10:00:00Z,3,S1,12.50,n/a,x,\n"
        "c1,buy,2026-11-02T10:00:00Z,,S2,007,\"a \"\"q\"\"\tb\",-0.25,\n"
        "c2,buy,2026-11-03T10:00:00Z,,S3,1e3, 5,+4,\n"
        "c2,buy,2026-11-04T10:00:00Z,,,,,,\n");
    TU_HERALD_OK(d, "events", "import", "ev.csv");
    /* sorted keys, compact, empty cells left out, numbers as contacts keep
     * them (12.50 is 12.5) */
    assert_string_equal(props_at(d, "2026-11-01T10:00:00Z"),
                        "{\"amount\":12.5,\"note\":\"n/a\",\"sku\":\"S1\",\"we\\\"ird\":\"x\"}");
    /* 007 is text (not a JSON number, as for contacts), a quoted cell with
     * a tab is text, -0.25 a real */
    json_t *o = NULL, *v;
    props_at(d, "2026-11-02T10:00:00Z");
    v = prop(&o, qbuf, "amount");
    assert_true(json_is_string(v));
    assert_string_equal(json_string_value(v), "007");
    assert_string_equal(json_string_value(prop(&o, qbuf, "note")), "a \"q\"\tb");
    v = prop(&o, qbuf, "we\"ird");
    assert_true(json_is_real(v) && json_real_value(v) == -0.25);
    /* 1e3 a real, " 5" the integer 5 (spaces aside, as contacts trim a
     * cell), "+4" text (not a JSON number) */
    props_at(d, "2026-11-03T10:00:00Z");
    v = prop(&o, qbuf, "amount");
    assert_true(json_is_real(v) && json_real_value(v) == 1000.0);
    v = prop(&o, qbuf, "note");
    assert_true(json_is_integer(v) && json_integer_value(v) == 5);
    v = prop(&o, qbuf, "we\"ird");
    assert_true(json_is_string(v));
    assert_string_equal(json_string_value(v), "+4");
    json_decref(o);
    /* no property at all: NULL, not {} (a file that is not UTF-8 is
     * refused whole: test_events_scale_bad_row) */
    assert_string_equal(props_at(d, "2026-11-04T10:00:00Z"), "null");
    /* the value column is the value, not a property */
    assert_string_equal(Q(d, "SELECT count(*) FROM events WHERE value IS NOT NULL"), "1");
    assert_string_equal(Q(d, "SELECT count(*) FROM events WHERE value = 3"), "1");
    /* and sum() reads them */
    TU_HERALD_OK(d, "segment", "define", "big", "sum(\"buy\", \"amount\") >= 1000");
    struct tu_run r;
    tu_herald(&r, d, NULL, "segment", "count", "big", NULL);
    assert_string_equal(r.out, "1\n");
    tu_run_release(&r);
    tu_rmdir(d);
}

/* Two columns of one name: the last non-empty one, as before. */
static void test_events_scale_props_dup_columns(void **state)
{
    (void)state;
    char *d = new_dir("id\nc1\n");
    put(d, "ev.csv",
        "contact,event,time,tag,tag\n"
        "c1,buy,2026-11-01T10:00:00Z,a,b\n"
        "c1,buy,2026-11-02T10:00:00Z,a,\n");
    TU_HERALD_OK(d, "events", "import", "ev.csv");
    assert_string_equal(Q(d, "SELECT props FROM events ORDER BY at"),
                        "{\"tag\":\"b\"}\n{\"tag\":\"a\"}");
    tu_rmdir(d);
}

/* Cells against the number rule of contacts' attributes: each column one
 * cell, and what it is stored as. */
static const struct {
    const char *col, *cell, *json;
} number_cells[] = {
    {"a_sku", "007", "\"007\""},
    {"b_zip", "02134", "\"02134\""},
    {"c_amt", "1e3", "1000.0"},
    {"d_hex", "0x1A", "\"0x1A\""},
    {"e_plus", "+44", "\"+44\""},
    {"f_big", "12345678901234567890", "1.23456789012346e19"},
    {"g_max", "9223372036854775807", "9223372036854775807"},
    {"h_dec", "0.30000000000000004", "0.3"},
    {"i_tail", "12.50", "12.5"},
    {"j_neg", "-0.25", "-0.25"},
    {"k_inf", "1e999", "\"1e999\""},
    {"l_word", "Infinity", "\"Infinity\""},
    {"m_comma", "\"1,000\"", "\"1,000\""},
    {"n_dot", "5.", "\"5.\""},
    {"o_sp", " 12 ", "12"},
};

/* Each cell is stored as contacts store it: the event's property and the
 * contact's attribute of one file's cells are the same JSON (but 1e999,
 * which a contact refuses as a number too large and an event keeps as
 * text); so with two columns of one name (jansson's path). */
static void test_events_scale_props_numbers(void **state)
{
    (void)state;
    size_t n = sizeof number_cells / sizeof number_cells[0];
    struct hd_buf head, row, want, ct, ev;
    hd_buf_init(&head), hd_buf_init(&row), hd_buf_init(&want);
    hd_buf_init(&ct), hd_buf_init(&ev);
    hd_buf_adds(&ct, "id");
    for (size_t i = 0; i < n; i++) {
        hd_buf_addf(&head, ",%s", number_cells[i].col);
        hd_buf_addf(&row, ",%s", number_cells[i].cell);
        hd_buf_addf(&want, "%s\"%s\":%s", i ? "," : "{", number_cells[i].col, number_cells[i].json);
        if (strcmp(number_cells[i].cell, "1e999") != 0)
            hd_buf_addf(&ct, ",%s", number_cells[i].col);
    }
    hd_buf_adds(&want, "}");
    hd_buf_adds(&ct, "\nc1");
    for (size_t i = 0; i < n; i++)
        if (strcmp(number_cells[i].cell, "1e999") != 0)
            hd_buf_addf(&ct, ",%s", number_cells[i].cell);
    hd_buf_addf(&ev,
                "contact,event,time%s,zz,zz\nc1,buy,2026-11-01T10:00:00Z%s,a,b\n"
                "c1,buy,2026-11-02T10:00:00Z%s,,\n",
                head.data, row.data, row.data);
    char *d = conf_dir();
    setenv("HERALD_NOW", "2026-11-22T08:00:00Z", 1);
    TU_HERALD_OK(d, "init");
    put(d, "contacts.csv", ct.data);
    TU_HERALD_OK(d, "contacts", "import", "contacts.csv");
    put(d, "ev.csv", ev.data);
    TU_HERALD_OK(d, "events", "import", "ev.csv");
    /* the columns' path for the one, jansson's (two zz columns) for the other */
    assert_string_equal(props_at(d, "2026-11-02T10:00:00Z"), want.data);
    want.data[--want.len] = '\0';
    hd_buf_adds(&want, ",\"zz\":\"b\"}");
    assert_string_equal(props_at(d, "2026-11-01T10:00:00Z"), want.data);
    /* the contact's attributes: the same values */
    json_t *e = json_loads(props_at(d, "2026-11-02T10:00:00Z"), 0, NULL);
    json_t *c = json_loads(Q(d, "SELECT attrs FROM contacts WHERE ext_id = 'c1'"), 0, NULL);
    assert_non_null(e);
    assert_non_null(c);
    for (size_t i = 0; i < n; i++) {
        const char *k = number_cells[i].col;
        if (strcmp(number_cells[i].cell, "1e999") != 0 &&
            !json_equal(json_object_get(e, k), json_object_get(c, k)))
            fail_msg("%s: the event's differs from the contact's (%s)", k, qbuf);
    }
    json_decref(e), json_decref(c);
    /* JSON Lines' reals: 15 significant digits, as contacts keep them */
    put(d, "ev.jsonl",
        "{\"contact\":\"c1\",\"event\":\"buy\",\"time\":\"2026-11-03T10:00:00Z\","
        "\"x\":0.1,\"y\":0.30000000000000004,\"z\":2e3}\n");
    TU_HERALD_OK(d, "events", "import", "ev.jsonl");
    assert_string_equal(props_at(d, "2026-11-03T10:00:00Z"), "{\"x\":0.1,\"y\":0.3,\"z\":2000.0}");
    hd_buf_release(&head), hd_buf_release(&row), hd_buf_release(&want);
    hd_buf_release(&ct), hd_buf_release(&ev);
    tu_rmdir(d);
}

/* Times past 9999-12-31: milliseconds and finer refused with file:line and
 * the unit they likely are, in CSV and JSON Lines, nothing written. */
static void test_events_scale_time_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *file, *text, *err;
    } bad[] = {
        {"ms.csv", "contact,event,time\nc1,buy,1764000000\nc1,buy,1764000000000\n",
         "ms.csv:3: time '1764000000000' is past 9999-12-31: milliseconds? give seconds or "
         "ISO 8601"},
        {"us.csv", "contact,event,time\nc1,buy,1764000000000000\n",
         "us.csv:2: time '1764000000000000' is past 9999-12-31: microseconds? give seconds"},
        {"end.csv", "contact,event,time\nc1,buy,253402300800\n",
         "end.csv:2: time '253402300800' is past 9999-12-31"},
        {"huge.csv", "contact,event,time\nc1,buy,99999999999999999999\n",
         "huge.csv:2: time '99999999999999999999' is past 9999-12-31: give seconds or ISO 8601"},
        {"zone.csv", "contact,event,time\nc1,buy,9999-12-31T23:00:00-05:00\n",
         "zone.csv:2: time '9999-12-31T23:00:00-05:00' is not within the years 1 to 9999"},
        {"ms.jsonl",
         "{\"contact\":\"c1\",\"event\":\"buy\",\"time\":1764000000}\n"
         "{\"contact\":\"c1\",\"event\":\"buy\",\"time\":1764000000000}\n",
         "ms.jsonl:2: time '1764000000000' is past 9999-12-31: milliseconds? give seconds or "
         "ISO 8601"},
        {"real.jsonl", "{\"contact\":\"c1\",\"event\":\"buy\",\"time\":1.764e12}\n",
         "real.jsonl:1: time '1764000000000' is past 9999-12-31: milliseconds?"},
    };
    char *d = new_dir("id\nc1\n");
    struct tu_run r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put(d, bad[i].file, bad[i].text);
        tu_herald(&r, d, NULL, "events", "import", bad[i].file, NULL);
        if (r.status == 0)
            fail_msg("%s: imported: %s", bad[i].file, r.out);
        assert_contains(r.err, bad[i].err);
        tu_run_release(&r);
        assert_string_equal(Q(d, "SELECT count(*) FROM events"), "0");
    }
    /* the last second of 9999, in seconds and in ISO 8601, and the first of 1 */
    put(d, "edge.csv",
        "contact,event,time\nc1,s,253402300799\nc1,i,9999-12-31T23:59:59Z\n"
        "c1,f,0001-01-01\n");
    TU_HERALD_OK(d, "events", "import", "edge.csv");
    assert_string_equal(Q(d, "SELECT name || ' ' || at FROM events ORDER BY name"),
                        "f -62135596800\ni 253402300799\ns 253402300799");
    tu_rmdir(d);
}

/* Written sorted by contact, yet the first of two equal events is kept;
 * equal but for the value are two events; a second import adds none. */
static void test_events_scale_duplicates(void **state)
{
    (void)state;
    char *d = new_dir("id\nc1\nc2\nc3\n");
    put(d, "ev.csv",
        "contact,event,time,value,n\n"
        "c3,buy,2026-11-01T10:00:00Z,5,1\n"
        "c1,buy,2026-11-01T10:00:00Z,,2\n"
        "c3,buy,2026-11-01T10:00:00Z,5,3\n"
        "c3,buy,2026-11-01T10:00:00Z,6,4\n"
        "zz,buy,2026-11-01T10:00:00Z,,5\n"
        "c1,buy,2026-11-01T10:00:00Z,,6\n"
        "c2,buy,1793527200,,7\n"
        "yy,buy,2026-11-01T10:00:00Z,,8\n");
    struct tu_run r;
    tu_herald(&r, d, NULL, "events", "import", "ev.csv", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "imported 4 events from ev.csv (2 already there; 2 of unknown "
                           "contacts skipped, the first 'zz')");
    tu_run_release(&r);
    assert_string_equal(Q(d, "SELECT c.ext_id || '=' || e.props FROM events e JOIN contacts c "
                             "ON c.id = e.contact_id ORDER BY c.ext_id, e.value"),
                        "c1={\"n\":2}\nc2={\"n\":7}\nc3={\"n\":1}\nc3={\"n\":4}");
    tu_herald(&r, d, NULL, "events", "import", "ev.csv", NULL);
    assert_contains(r.out, "imported 0 events from ev.csv (6 already there;");
    tu_run_release(&r);
    tu_rmdir(d);
}

/* A bad row after good ones: its file and line, and nothing written. */
static void test_events_scale_bad_row(void **state)
{
    (void)state;
    char *d = new_dir("id\nc1\n");
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_adds(&b, "contact,event,time,amount\n");
    for (int i = 0; i < 2000; i++)
        hd_buf_addf(&b, "c1,buy,%d,%d\n", 1790000000 + i, i);
    hd_buf_adds(&b, "c1,buy,yesterday,1\n");
    put(d, "ev.csv", b.data);
    hd_buf_release(&b);
    struct tu_run r;
    tu_herald(&r, d, NULL, "events", "import", "ev.csv", NULL);
    assert_int_not_equal(r.status, 0);
    assert_contains(r.err, "ev.csv:2002: time 'yesterday' is neither ISO 8601 nor Unix seconds");
    tu_run_release(&r);
    assert_string_equal(Q(d, "SELECT count(*) FROM events"), "0");
    /* a file that is not UTF-8: refused whole with its line and a guess
     * (it was stored as it came, and a property holding such bytes was
     * dropped: a review); with --encoding, read as that */
    put(d, "l1.csv",
        "contact,event,time,note\nc1,buy,2026-11-01T10:00:00Z,ok\n"
        "c1,\xe9v\xe9nement,2026-11-01T10:00:00Z,caf\xe9\n");
    tu_herald(&r, d, NULL, "events", "import", "l1.csv", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "l1.csv:3: the file is not UTF-8");
    tu_run_release(&r);
    assert_string_equal(Q(d, "SELECT count(*) FROM events"), "0");
    TU_HERALD_OK(d, "events", "import", "l1.csv", "--encoding", "latin1");
    assert_string_equal(
        Q(d, "SELECT name || ' ' || props FROM events ORDER BY name"),
        "buy {\"note\":\"ok\"}\n\xc3\xa9v\xc3\xa9nement {\"note\":\"caf\xc3\xa9\"}");
    tu_rmdir(d);
}

/* A database of schema 11 (two events indexes) opens with the one. */
static void test_events_scale_migration(void **state)
{
    (void)state;
    char *d = new_dir("id\nc1\n");
    put(d, "ev.csv", "contact,event,time\nc1,buy,2026-11-01T10:00:00Z\n");
    TU_HERALD_OK(d, "events", "import", "ev.csv");
    char *p = tu_path(d, "var/herald.db"), *msg = NULL;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    int rc = sqlite3_exec(db,
                          TU_UNDO_AFTER_13
                          "DROP INDEX events_key; CREATE UNIQUE INDEX events_key ON "
                          "events(name, contact_id, at, ifnull(value, 'none')); CREATE INDEX "
                          "events_contact_name_at ON events(contact_id, name, at); "
                          "PRAGMA user_version = 11;",
                          NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s", msg);
    sqlite3_close(db);
    free(p);
    TU_HERALD_OK(d, "events", "import", "ev.csv");
    assert_string_equal(Q(d, "SELECT group_concat(name) FROM pragma_index_list('events')"),
                        "events_key");
    assert_string_equal(Q(d, "SELECT group_concat(name) FROM pragma_index_info('events_key')"),
                        "contact_id,name,at");
    assert_string_equal(Q(d, "SELECT count(*) FROM events"), "1");
    tu_rmdir(d);
}

/* ---- local_today in in (...), between and day counts
 * ----------------------------------------------- */

static const struct {
    const char *zone;
    int64_t offset; /* no daylight saving in these, any time of year */
} zones[] = {{"", 0},
             {"Asia/Tokyo", 9 * 3600},
             {"Pacific/Kiritimati", 14 * 3600},
             {"Pacific/Pago_Pago", -11 * 3600},
             {"Asia/Kolkata", 5 * 3600 + 1800}};
#define NZ ((int)(sizeof zones / sizeof zones[0]))
#define ND 9

/* The contact's own today as midnight UTC of its date (the evaluator's
 * definition, written here without the store's zone lists). */
static int64_t local_today(int64_t now, int z)
{
    int64_t t = now + zones[z].offset;
    return t - (((t % DAY) + DAY) % DAY);
}

/* Each zone with each date from 3 days before to 5 after the UTC date of
 * now (as plain dates), and the same as date-times at midnight UTC and at
 * 18:00. */
static void check_local(int64_t now)
{
    char iso[32], *d, date[16];
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_adds(&b, "id,timezone,seen\n");
    int64_t base = now - (((now % DAY) + DAY) % DAY) - 3 * DAY;
    int n = 0;
    int64_t seen[NZ * ND * 3];
    int zone[NZ * ND * 3];
    for (int z = 0; z < NZ; z++)
        for (int k = 0; k < ND; k++)
            for (int form = 0; form < 3; form++) {
                int64_t t = base + k * DAY + (form == 2 ? 18 * 3600 : 0);
                if (form == 0)
                    hd_time_format_date(t, iso, sizeof iso);
                else
                    hd_time_format_iso(t, iso, sizeof iso);
                hd_buf_addf(&b, "l%03d,%s,%s\n", n, zones[z].zone, iso);
                seen[n] = t, zone[n++] = z;
            }
    d = conf_dir();
    put(d, "contacts.csv", b.data);
    hd_buf_release(&b);
    hd_time_format_iso(now, iso, sizeof iso);
    hd_time_format_date(now, date, sizeof date);
    setenv("HERALD_NOW", iso, 1);
    TU_HERALD_OK(d, "init");
    TU_HERALD_OK(d, "contacts", "import", "contacts.csv");
    static const char *const rules[] = {
        "seen in (local_today, local_today + 2d)",
        "seen not in (local_today - 1d, local_today)",
        "seen between local_today - 1d and local_today + 1d",
        "seen not between local_today and local_today + 1mo",
        "seen between today and local_today",
        "days_until(seen, local_today) = 1",
        "days_since(seen, local_today) between 1 and 2",
        "days_until(seen, local_today) in (0, 2)",
        "days_since(seen, local_today) < 1",
        "days_since(seen, local_today) != 0",
    };
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        long long want = 0;
        for (int i = 0; i < n; i++) {
            int64_t lt = local_today(now, zone[i]), s = seen[i];
            /* calendar days from the contact's date to the (UTC) date of s */
            int64_t until = s / DAY - lt / DAY;
            bool in;
            switch (r) {
            case 0:
                in = s == lt || s == lt + 2 * DAY;
                break;
            case 1:
                in = s != lt - DAY && s != lt;
                break;
            case 2:
                in = s >= lt - DAY && s <= lt + DAY;
                break;
            case 3:
                in = !(s >= lt && s <= hd_time_add_months(lt, 1));
                break;
            case 4:
                in = s >= now - (((now % DAY) + DAY) % DAY) && s <= lt;
                break;
            case 5:
                in = until == 1;
                break;
            case 6:
                in = -until >= 1 && -until <= 2;
                break;
            case 7:
                in = until == 0 || until == 2;
                break;
            case 8:
                in = -until < 1;
                break;
            default:
                in = until != 0;
            }
            want += in;
        }
        struct tu_run run;
        tu_herald(&run, d, NULL, "segment", "count", "--expr", rules[r], NULL);
        if (run.status != 0 || atoll(run.out) != want)
            fail_msg("now %s, rule [%s]: exit %d, count %s, expected %lld (%s)", iso, rules[r],
                     run.status, run.out, want, run.err);
        tu_run_release(&run);
    }
    tu_rmdir(d);
}

/* Instants where zones change day: a month end (Kiritimati is in
 * December, Pago Pago still on the 30th), a leap day, and a year end. */
static void test_events_scale_local_in_between(void **state)
{
    (void)state;
    static const char *const nows[] = {"2026-11-30T10:00:00Z", "2026-11-30T09:59:59Z",
                                       "2028-02-29T23:30:00Z", "2028-02-28T15:00:00Z",
                                       "2026-12-31T12:00:00Z"};
    for (size_t k = 0; k < sizeof nows / sizeof nows[0]; k++) {
        int64_t now;
        if (pg_uri && k % 2) /* PostgreSQL's SQL is the same at each: the month end, the leap
                              * day and the year end there, 36 runs of herald instead of 60 */
            continue;
        assert_int_equal(hd_time_parse_iso(nows[k], &now, NULL), 0);
        check_local(now);
    }
}

/* One table of local day counts run through both the template filters
 * (days_until "local", days_since "local") and segment rules
 * (days_until(x, local_today) = N): the same day arithmetic. Midnight in
 * the contact's zone, a second before it, a leap day, a month end, a year
 * end, a daylight-saving morning; a date-time counts by its UTC date. */
static const struct {
    const char *zone, *now, *x;
    int until;
} days_table[] = {
    {"Asia/Tokyo", "2026-11-30T15:00:00Z", "2026-12-01", 0},
    {"Asia/Tokyo", "2026-11-30T14:59:59Z", "2026-12-01", 1},
    {"Pacific/Pago_Pago", "2028-03-01T10:00:00Z", "2028-03-01", 1},
    {"Pacific/Pago_Pago", "2028-03-01T11:00:00Z", "2028-02-28", -2},
    {"Pacific/Kiritimati", "2026-12-31T10:00:00Z", "2026-12-31", -1},
    {"", "2026-01-31T12:00:00Z", "2026-02-28T23:00:00Z", 28},
    {"America/New_York", "2026-03-08T06:59:59Z", "2026-03-08", 0},
    {"Asia/Kolkata", "2026-02-28T18:30:00Z", "2026-02-28T10:00:00Z", -1},
    /* an instant at midnight in the contact's zone is on its UTC date */
    {"Asia/Tokyo", "2026-11-30T15:00:00Z", "2026-11-30T15:00:00Z", -1},
};
#define NDAYS (sizeof days_table / sizeof days_table[0])

static void check_template_days(size_t i)
{
    char src[64], data[96], want[16];
    struct hd_mst_env env = {.locale = "en"};
    struct hd_err e = {0};
    env.timezone = *days_table[i].zone ? days_table[i].zone : NULL;
    assert_int_equal(hd_time_parse_iso(days_table[i].now, &env.now, NULL), 0);
    snprintf(data, sizeof data, "{\"x\":\"%s\"}", days_table[i].x);
    for (int until = 0; until < 2; until++) {
        struct hd_mst *m = NULL;
        struct hd_buf out;
        hd_buf_init(&out);
        env.fmt = hd_fmt_new();
        snprintf(src, sizeof src, "{{ x | %s \"local\" }}", until ? "days_until" : "days_since");
        json_t *d = json_loads(data, 0, NULL);
        assert_int_equal(hd_mst_compile(src, strlen(src), &(struct hd_mst_opts){0}, &m, &e), 0);
        assert_int_equal(hd_mst_render(m, d, &env, &out, &e), 0);
        snprintf(want, sizeof want, "%d", until ? days_table[i].until : -days_table[i].until);
        if (strcmp(out.data, want) != 0)
            fail_msg("case %zu: %s gave %s, not %s", i, src, out.data, want);
        json_decref(d);
        hd_mst_free(m);
        hd_fmt_free(env.fmt);
        hd_buf_release(&out);
    }
}

static void test_events_scale_local_days_table(void **state)
{
    (void)state;
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_adds(&b, "id,timezone,x\n");
    for (size_t i = 0; i < NDAYS; i++)
        hd_buf_addf(&b, "k%zu,%s,%s\n", i, days_table[i].zone, days_table[i].x);
    char *d = new_dir(b.data);
    hd_buf_release(&b);
    for (size_t i = 0; i < NDAYS; i++) {
        check_template_days(i);
        char rule[160];
        struct tu_run r;
        setenv("HERALD_NOW", days_table[i].now, 1);
        for (int until = 0; until < 2; until++) {
            snprintf(rule, sizeof rule, "id = \"k%zu\" and %s(x, local_today) = %d", i,
                     until ? "days_until" : "days_since",
                     until ? days_table[i].until : -days_table[i].until);
            tu_herald(&r, d, NULL, "segment", "count", "--expr", rule, NULL);
            if (r.status != 0 || strcmp(r.out, "1\n") != 0)
                fail_msg("case %zu: [%s] at %s: %s%s", i, rule, days_table[i].now, r.out, r.err);
            tu_run_release(&r);
        }
    }
    tu_rmdir(d);
}

/* Events at midnight in the contact's zone and a second before, at 15:00
 * UTC on 30 November (midnight of 1 December in Tokyo), and a contact with
 * no events, worked by hand: an event's day is its UTC date. */
static void test_events_scale_local_events(void **state)
{
    (void)state;
    char *d = new_dir("id,timezone\nt1,Asia/Tokyo\nt2,Asia/Tokyo\nu1,\nu2,\n"
                      "p1,Pacific/Pago_Pago\nn1,Asia/Tokyo\n");
    put(d, "ev.csv",
        "contact,event,time\n"
        "t1,buy,2026-11-30T15:00:00Z\n"   /* Tokyo's midnight, UTC date 30 */
        "t2,buy,2026-11-30T14:59:59Z\n"   /* a second before */
        "u1,buy,2026-11-30T00:00:00Z\n"   /* UTC midnight, today */
        "u2,buy,2026-11-29T23:59:59Z\n"   /* yesterday */
        "p1,buy,2026-11-30T11:00:00Z\n"); /* Pago Pago's midnight of the 30th */
    TU_HERALD_OK(d, "events", "import", "ev.csv");
    setenv("HERALD_NOW", "2026-11-30T15:00:00Z", 1);
    static const struct {
        const char *rule, *count;
    } cases[] = {
        {"days_since(last(\"buy\"), local_today) = 0", "2\n"}, /* u1, p1 */
        {"days_since(last(\"buy\"), local_today) = 1", "3\n"}, /* t1, t2, u2 */
        {"last(\"buy\") >= local_today", "2\n"},               /* u1, p1 */
        {"not did(\"buy\")", "1\n"},                           /* n1 */
        {"not did(\"buy\", within 1d)", "1\n"},                /* n1: t1 is exactly now */
        {"not did(\"buy\", within 15h)", "2\n"},               /* n1, u2 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tu_run r;
        tu_herald(&r, d, NULL, "segment", "count", "--expr", cases[i].rule, NULL);
        if (r.status != 0 || strcmp(r.out, cases[i].count) != 0)
            fail_msg("[%s]: %s%s, expected %s", cases[i].rule, r.out, r.err, cases[i].count);
        tu_run_release(&r);
    }
    tu_rmdir(d);
}

/* Still refused where it has no meaning: the subject, and day counts. */
static void test_events_scale_local_refused(void **state)
{
    (void)state;
    char *d = new_dir("id,seen\nc1,2026-11-22\n");
    struct tu_run r;
    tu_herald(&r, d, NULL, "segment", "count", "--expr", "days_since(seen) in (local_today)", NULL);
    assert_int_not_equal(r.status, 0);
    assert_contains(r.err, "local_today");
    tu_run_release(&r);
    tu_rmdir(d);
}

static int group_setup_pg(void **state)
{
    (void)state;
    pg_uri = tu_pg_db_migrated(pg_name); /* herald init's schema: the open makes none */
    store = pg_uri;
    return 0;
}

static int group_teardown_pg(void **state)
{
    (void)state;
    tu_pg_drop(pg_name);
    free(pg_uri);
    pg_uri = NULL;
    store = "var/herald.db";
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_scale_props),
        cmocka_unit_test(test_events_scale_props_dup_columns),
        cmocka_unit_test(test_events_scale_props_numbers),
        cmocka_unit_test(test_events_scale_time_bounds),
        cmocka_unit_test(test_events_scale_duplicates),
        cmocka_unit_test(test_events_scale_bad_row),
        cmocka_unit_test(test_events_scale_migration),
        cmocka_unit_test(test_events_scale_local_in_between),
        cmocka_unit_test(test_events_scale_local_days_table),
        cmocka_unit_test(test_events_scale_local_events),
        cmocka_unit_test(test_events_scale_local_refused),
    };
    /* the same on PostgreSQL, but the migration of an old SQLite file */
    const struct CMUnitTest tests_pg[] = {
        {"test_events_scale_props_pg", test_events_scale_props, NULL, NULL, NULL},
        {"test_events_scale_props_dup_columns_pg", test_events_scale_props_dup_columns, NULL, NULL,
         NULL},
        {"test_events_scale_props_numbers_pg", test_events_scale_props_numbers, NULL, NULL, NULL},
        {"test_events_scale_time_bounds_pg", test_events_scale_time_bounds, NULL, NULL, NULL},
        {"test_events_scale_duplicates_pg", test_events_scale_duplicates, NULL, NULL, NULL},
        {"test_events_scale_bad_row_pg", test_events_scale_bad_row, NULL, NULL, NULL},
        {"test_events_scale_local_in_between_pg", test_events_scale_local_in_between, NULL, NULL,
         NULL},
        {"test_events_scale_local_days_table_pg", test_events_scale_local_days_table, NULL, NULL,
         NULL},
        {"test_events_scale_local_events_pg", test_events_scale_local_events, NULL, NULL, NULL},
        {"test_events_scale_local_refused_pg", test_events_scale_local_refused, NULL, NULL, NULL},
    };
    int rc = cmocka_run_group_tests_name("events_scale", tests, NULL, NULL);
    return rc | cmocka_run_group_tests_name("events_scale_pg", tests_pg, group_setup_pg,
                                            group_teardown_pg);
}
