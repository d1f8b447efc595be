/* test_store: opening (WAL, foreign keys), migrations from every earlier
 * schema version with data kept, refusal of newer databases, and the
 * contact, consent and suppression operations, the guarded state moves,
 * recovery, the claim's shapes, the delivery log's rows (held back on
 * PostgreSQL until the next statement), and materialization of a campaign run
 * resumed after a crash. The operations run on a SQLite file and again,
 * as the _pg cases, on a PostgreSQL database with herald's schema, emptied
 * for each case (testboth.h's tu_both_store_migrated); they read the store
 * back through tu_sql1/tu_sql_text (sqlite3 or psql by the target) or the
 * store's own functions. What is about SQLite files stays SQLite only: the
 * open's pragmas (WAL, foreign keys), an empty or junk file, file modes,
 * the migrations of earlier SQLite files. A newer schema is refused on
 * both: PRAGMA user_version on a file, herald_schema's version on
 * PostgreSQL (a database of its own). The buckets' hash needs no store. */
#include "testboth.h"

#include <sqlite3.h>

#include "herald/config.h"
#include "herald/dbcopy.h"
#include "herald/hash.h"
#include "herald/segment.h"
#include "herald/state.h"
#include "herald/store.h"

static struct tu_both stores;
TU_BOTH_FIXTURES(stores)

/* A fresh store for file in dir: the file on SQLite; on PostgreSQL the
 * process's database with herald's schema and no rows
 * (tu_both_store_migrated). *db is the name
 * tu_sql1 takes for it (borrowed, until the teardown). */
static struct hd_store *fresh_store(const char *dir, const char *file, const char **db)
{
    struct hd_store *st = NULL;
    struct hd_err e = {0};
    const char *target = tu_both_store_migrated(&stores, file);
    char *path = stores.pg ? hd_xstrdup(target) : tu_path(dir, file);
    if (hd_store_open(path, &(struct hd_store_opts){.create = true}, &st, &e) < 0)
        fail_msg("%s", e.msg);
    free(path);
    *db = target;
    return st;
}

static char *pragma_text(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    char *v = hd_xstrdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void test_store_open_pragmas(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), *path = tu_path(dir, "h.db");
    struct hd_store *st = NULL;
    struct hd_err e = {0};
    struct hd_store_opts create = {.create = true};
    /* not created without create */
    assert_int_equal(hd_store_open(path, NULL, &st, &e), HD_E_NOTFOUND);
    assert_contains(e.msg, "run 'herald init' first");
    assert_false(tu_exists(path));
    assert_int_equal(hd_store_open(path, &create, &st, &e), 0);
    int v = 0;
    assert_int_equal(hd_store_user_version(st, &v, &e), 0);
    assert_int_equal(v, hd_store_schema_version());
    hd_store_free(st);
    char *mode = pragma_text(path, "PRAGMA journal_mode");
    assert_string_equal(mode, "wal");
    free(mode);
    /* foreign keys are on in herald's connections: deleting a contact cascades */
    assert_int_equal(hd_store_open(path, NULL, &st, &e), 0);
    struct hd_store_import *imp;
    assert_int_equal(hd_store_import_begin(st, HD_IMPORT_MERGE, 1000, &imp, &e), 0);
    struct hd_contact_row row = {
        .ext_id = "c1", .fcm_token = "tok1", .created_at = -1, .attrs = "{}"};
    assert_int_equal(hd_store_import_row(imp, &row, &e), 0);
    assert_int_equal(hd_store_import_end(imp, true, NULL, NULL, &e), 0);
    assert_int_equal(hd_store_consent_set(st, "c1", HD_CH_SMS, HD_CAT_MARKETING,
                                          HD_CONSENT_OPTED_OUT, "cli", 1001, &e),
                     0);
    assert_int_equal(hd_store_contact_delete(st, "c1", NULL, &e), 0);
    hd_store_free(st);
    char *n = pragma_text(path, "SELECT (SELECT count(*) FROM push_tokens) || '/' || "
                                "(SELECT count(*) FROM consent)");
    assert_string_equal(n, "0/0");
    free(n);
    /* a file that is not a database */
    char *junk = tu_path(dir, "junk.db");
    tu_write(junk, "this is not a database, just some text that is long enough to matter......"
                   "..................................................................");
    assert_int_equal(hd_store_open(junk, NULL, &st, &e), HD_E_STORE);
    assert_contains(e.msg, "junk.db");
    assert_contains(e.msg, "not a database");
    free(junk);
    free(path);
    tu_rmdir(dir);
}

/* Only a create opens an empty file (issue 16, item 4): a zero-byte file is
 * what a truncated database looks like, and SQLite would take it for a new
 * one and the migrations would fill it, consent and suppressions gone. Any
 * other open refuses it, names it and leaves it as it was. */
static void test_store_open_empty(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), *path = tu_path(dir, "h.db"), *wal = tu_path(dir, "h.db-wal");
    struct hd_store *st = NULL;
    struct hd_err e = {0};
    struct hd_store_opts create = {.create = true}, ro = {.readonly = true};
    tu_write(path, "");
    assert_int_equal(hd_store_open(path, NULL, &st, &e), HD_E_STORE);
    assert_null(st);
    struct hd_buf want;
    hd_buf_init(&want);
    hd_buf_addf(&want,
                "database '%s' is empty (0 bytes), not a herald database: restore it from a "
                "backup, or run 'herald init' to start an empty one",
                path);
    assert_string_equal(e.msg, want.data);
    assert_int_equal(hd_store_open(path, &ro, &st, &e), HD_E_STORE);
    assert_string_equal(e.msg, want.data);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    assert_false(tu_exists(wal));
    /* a create (herald init) makes it a database */
    assert_int_equal(hd_store_open(path, &create, &st, &e), 0);
    hd_store_free(st);
    assert_int_equal(hd_store_open(path, NULL, &st, &e), 0);
    hd_store_free(st);
    hd_buf_release(&want);
    free(wal);
    free(path);
    tu_rmdir(dir);
}

/* A new database is created 0600 whatever the umask, and SQLite gives its
 * -wal and -shm the database's mode (issue 16, item 13). */
static void test_store_file_modes(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), *path = tu_path(dir, "h.db");
    char *wal = tu_path(dir, "h.db-wal"), *shm = tu_path(dir, "h.db-shm");
    struct hd_store *st = NULL;
    struct hd_err e = {0};
    struct hd_store_opts create = {.create = true};
    mode_t old = umask(022);
    assert_int_equal(hd_store_open(path, &create, &st, &e), 0);
    const char *const files[] = {path, wal, shm};
    for (int i = 0; i < 3; i++) {
        struct stat sb;
        assert_int_equal(stat(files[i], &sb), 0);
        if ((sb.st_mode & 0777) != 0600)
            fail_msg("'%s' has mode %03o, want 600", files[i], sb.st_mode & 0777);
    }
    hd_store_free(st);
    /* an empty file made beforehand (touch) becomes the database, 0600 too:
     * it kept its 0644 */
    char *touched = tu_path(dir, "t.db");
    tu_write(touched, "");
    assert_int_equal(chmod(touched, 0644), 0);
    assert_int_equal(hd_store_open(touched, &create, &st, &e), 0);
    struct stat tb;
    assert_int_equal(stat(touched, &tb), 0);
    assert_int_equal(tb.st_mode & 0777, 0600);
    hd_store_free(st);
    free(touched);
    umask(old);
    free(wal);
    free(shm);
    free(path);
    tu_rmdir(dir);
}

/* A database of every earlier version, with a contact where the schema has
 * contacts, opens and reaches the current version with its data intact. */
static void test_store_migrations(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    for (int from = 0; from < hd_store_schema_version(); from++) {
        char name[32];
        snprintf(name, sizeof name, "v%d.db", from);
        char *path = tu_path(dir, name);
        struct hd_store *st = NULL;
        struct hd_err e = {0};
        assert_int_equal(hd_store_open_raw(path, &st, &e), 0);
        assert_int_equal(hd_store_migrate(st, from, &e), 0);
        int v = -1;
        assert_int_equal(hd_store_user_version(st, &v, &e), 0);
        assert_int_equal(v, from);
        hd_store_free(st);
        if (from >= 1) {
            sqlite3 *db;
            assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
            assert_int_equal(sqlite3_exec(db,
                                          "INSERT INTO contacts (ext_id, email, attrs, "
                                          "created_at, updated_at) VALUES ('old', "
                                          "'old@example.com', '{\"plan\":\"gold\"}', 1, 2)",
                                          NULL, NULL, NULL),
                             SQLITE_OK);
            sqlite3_close(db);
        }
        /* version 0 is an empty file, which only a create (herald init) opens */
        struct hd_store_opts opts = {.create = from == 0};
        assert_int_equal(hd_store_open(path, &opts, &st, &e), 0);
        assert_int_equal(hd_store_user_version(st, &v, &e), 0);
        assert_int_equal(v, hd_store_schema_version());
        if (from >= 1) {
            struct hd_contact c;
            assert_int_equal(hd_store_contact_get(st, "old", &c, &e), 0);
            assert_string_equal(c.email, "old@example.com");
            assert_string_equal(c.attrs, "{\"plan\":\"gold\"}");
            hd_contact_release(&c);
        }
        hd_store_free(st);
        free(path);
    }
    tu_rmdir(dir);
}

static void test_store_newer_refused(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), *path = tu_path(dir, "future.db");
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", hd_store_schema_version() + 1);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    struct hd_store *st = NULL;
    struct hd_err e = {0};
    assert_int_equal(hd_store_open(path, NULL, &st, &e), HD_E_STORE);
    assert_contains(e.msg, "newer than this herald understands");
    assert_null(st);
    free(path);
    tu_rmdir(dir);
}

/* The same on PostgreSQL: a database whose herald_schema says a version
 * after this build's (its other tables do not matter: the version is read
 * first) is refused by the open and by herald init's migration, and left
 * at its version, with no table made. */
static void test_store_newer_refused_pg(void **state)
{
    (void)state;
    const char *db = tu_both_store(&stores, "future.db");
    char sql[128];
    struct hd_err e = {0};
    struct hd_store *st = NULL;
    int before = -1, after = -1, v = hd_store_schema_version() + 1;
    snprintf(sql, sizeof sql,
             "CREATE TABLE herald_schema (version integer NOT NULL); INSERT INTO herald_schema "
             "VALUES (%d)",
             v);
    free(tu_sql_text(".", db, sql));
    assert_int_equal(hd_store_open(db, NULL, &st, &e), HD_E_STORE);
    assert_contains(e.msg, "newer than this herald understands");
    assert_null(st);
    e = (struct hd_err){0};
    assert_int_equal(hd_store_pg_init(db, NULL, &before, &after, &e), HD_E_STORE);
    assert_contains(e.msg, "newer than this herald understands");
    char want[32],
        *got = tu_sql_text(".", db,
                           "SELECT (SELECT max(version) FROM herald_schema), (SELECT "
                           "count(*) FROM pg_tables WHERE schemaname = current_schema())");
    snprintf(want, sizeof want, "%d|1\n", v);
    assert_string_equal(got, want);
    free(got);
}

static int count_cb(void *ud, const struct hd_contact *c)
{
    (void)c;
    (*(int *)ud)++;
    return 0;
}

static int sup_cb(void *ud, const struct hd_suppression *s)
{
    struct hd_buf *b = ud;
    hd_buf_addf(b, "%s/%s/%s;", s->address, hd_channel_name(s->channel), s->reason);
    return 0;
}

static void test_store_contacts(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    const char *db;
    struct hd_err e = {0};
    struct hd_store *st = fresh_store(dir, "c.db", &db);
    int v = -1;
    assert_int_equal(hd_store_user_version(st, &v, &e), 0);
    assert_int_equal(v, hd_store_schema_version());

    struct hd_store_import *imp;
    int64_t ins = -1, upd = -1;
    assert_int_equal(hd_store_import_begin(st, HD_IMPORT_MERGE, 100, &imp, &e), 0);
    struct hd_contact_row a = {.ext_id = "a",
                               .email = "a@example.com",
                               .phone = "+14155550100",
                               .timezone = "Europe/Paris",
                               .fcm_token = "f1",
                               .created_at = 50,
                               .attrs = "{\"plan\":\"gold\",\"age\":30}"};
    struct hd_contact_row b = {.ext_id = "b", .created_at = -1, .attrs = "{}"};
    assert_int_equal(hd_store_import_row(imp, &a, &e), 0);
    assert_int_equal(hd_store_import_row(imp, &b, &e), 0);
    assert_int_equal(hd_store_import_attr_type(imp, "plan", "string", &e), 0);
    assert_int_equal(hd_store_import_end(imp, true, &ins, &upd, &e), 0);
    assert_int_equal(ins, 2);
    assert_int_equal(upd, 0);

    /* merge: given fields change, others stay, attributes merge, null removes */
    assert_int_equal(hd_store_import_begin(st, HD_IMPORT_MERGE, 200, &imp, &e), 0);
    struct hd_contact_row a2 = {.ext_id = "a",
                                .email = "new@example.com",
                                .created_at = -1,
                                .apns_token = "abcd",
                                .attrs = "{\"age\":31,\"plan\":null}",
                                .attrs_nulls = true};
    assert_int_equal(hd_store_import_row(imp, &a2, &e), 0);
    assert_int_equal(hd_store_import_end(imp, true, &ins, &upd, &e), 0);
    assert_int_equal(ins, 0);
    assert_int_equal(upd, 1);
    struct hd_contact c;
    assert_int_equal(hd_store_contact_get(st, "a", &c, &e), 0);
    assert_string_equal(c.email, "new@example.com");
    assert_string_equal(c.phone, "+14155550100");
    assert_string_equal(c.timezone, "Europe/Paris");
    assert_string_equal(c.attrs, "{\"age\":31}");
    assert_string_equal(c.fcm_token, "f1");
    assert_string_equal(c.apns_token, "abcd");
    assert_int_equal(c.created_at, 50);
    assert_int_equal(c.updated_at, 200);
    hd_contact_release(&c);

    /* replace: everything not given is cleared, tokens too */
    assert_int_equal(hd_store_import_begin(st, HD_IMPORT_REPLACE, 300, &imp, &e), 0);
    struct hd_contact_row a3 = {
        .ext_id = "a", .locale = "fr", .created_at = -1, .attrs = "{\"vip\":true}"};
    assert_int_equal(hd_store_import_row(imp, &a3, &e), 0);
    assert_int_equal(hd_store_import_end(imp, true, NULL, NULL, &e), 0);
    assert_int_equal(hd_store_contact_get(st, "a", &c, &e), 0);
    assert_null(c.email);
    assert_null(c.phone);
    assert_null(c.fcm_token);
    assert_string_equal(c.locale, "fr");
    assert_string_equal(c.attrs, "{\"vip\":true}");
    assert_int_equal(c.created_at, 50);
    hd_contact_release(&c);

    /* a rolled-back import leaves nothing */
    assert_int_equal(hd_store_import_begin(st, HD_IMPORT_MERGE, 400, &imp, &e), 0);
    struct hd_contact_row z = {.ext_id = "z", .created_at = -1, .attrs = "{}"};
    assert_int_equal(hd_store_import_row(imp, &z, &e), 0);
    assert_int_equal(hd_store_import_end(imp, false, NULL, NULL, &e), 0);
    assert_int_equal(hd_store_contact_get(st, "z", &c, &e), HD_E_NOTFOUND);
    assert_string_equal(e.msg, "no contact with id 'z'");

    int n = 0;
    assert_int_equal(hd_store_contact_each(st, 0, count_cb, &n, &e), 0);
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(hd_store_contact_each(st, 1, count_cb, &n, &e), 0);
    assert_int_equal(n, 1);

    /* consent */
    assert_int_equal(hd_store_consent_set(st, "b", HD_CH_EMAIL, HD_CAT_MARKETING,
                                          HD_CONSENT_OPTED_OUT, "cli", 500, &e),
                     0);
    assert_int_equal(hd_store_consent_set(st, "b", HD_CH_EMAIL, HD_CAT_MARKETING,
                                          HD_CONSENT_OPTED_IN, "cli", 600, &e),
                     0);
    assert_int_equal(hd_store_consent_set(st, "nobody", HD_CH_EMAIL, HD_CAT_MARKETING,
                                          HD_CONSENT_OPTED_OUT, "cli", 600, &e),
                     HD_E_NOTFOUND);
    assert_int_equal(hd_store_contact_get(st, "b", &c, &e), 0);
    assert_int_equal(c.nconsent, 1);
    assert_int_equal(c.consent[0].status, HD_CONSENT_OPTED_IN);
    assert_int_equal(c.consent[0].updated_at, 600);
    hd_contact_release(&c);

    /* suppressions */
    struct hd_suppression s1 = {"x@example.com", HD_CH_EMAIL, "hard_bounce", 10, NULL, 0};
    struct hd_suppression s2 = {"+14155550100", HD_CH_SMS, "invalid_number", 20, NULL, 0};
    assert_int_equal(hd_store_suppress_add(st, &s1, &e), 0);
    assert_int_equal(hd_store_suppress_add(st, &s2, &e), 0);
    s1.reason = "unsubscribed";
    assert_int_equal(hd_store_suppress_add(st, &s1, &e), 0); /* updates the reason */
    struct hd_buf b2;
    hd_buf_init(&b2);
    assert_int_equal(hd_store_suppress_each(st, -1, sup_cb, &b2, &e), 0);
    assert_string_equal(b2.data,
                        "x@example.com/email/unsubscribed;+14155550100/sms/invalid_number;");
    hd_buf_reset(&b2);
    assert_int_equal(hd_store_suppress_each(st, HD_CH_SMS, sup_cb, &b2, &e), 0);
    assert_string_equal(b2.data, "+14155550100/sms/invalid_number;");
    assert_int_equal(hd_store_suppress_remove(st, "x@example.com", -1, &e), 0);
    assert_int_equal(hd_store_suppress_remove(st, "x@example.com", -1, &e), HD_E_NOTFOUND);
    /* a channel's remove leaves another channel's suppression */
    assert_int_equal(hd_store_suppress_remove(st, "+14155550100", HD_CH_EMAIL, &e), HD_E_NOTFOUND);
    assert_string_equal(e.msg, "'+14155550100' is not suppressed on email (it is on sms)");
    assert_int_equal(hd_store_suppress_remove(st, "+14155550100", HD_CH_SMS, &e), 0);
    assert_int_equal(hd_store_suppress_remove(st, "+14155550100", HD_CH_SMS, &e), HD_E_NOTFOUND);
    assert_string_equal(e.msg, "'+14155550100' is not suppressed on sms");
    hd_buf_release(&b2);

    /* a deleted contact's consent goes with it (the schema's cascade) */
    assert_int_equal(hd_store_consent_set(st, "a", HD_CH_SMS, HD_CAT_MARKETING,
                                          HD_CONSENT_OPTED_OUT, "cli", 700, &e),
                     0);
    assert_int_equal(hd_store_contact_delete(st, "a", NULL, &e), 0);
    assert_int_equal(hd_store_contact_delete(st, "a", NULL, &e), HD_E_NOTFOUND);
    assert_int_equal(tu_sql1(dir, db, "SELECT count(*) FROM consent"), 1);
    hd_store_free(st);
    tu_rmdir(dir);
}

/* A contact's holdout and variant buckets hash the text
 * "campaign:contact:purpose" (cut to 95 bytes): the buckets of existing
 * campaigns must not move when the code that writes the text changes. */
static void test_store_buckets(void **state)
{
    (void)state;
    static const struct {
        int64_t campaign, contact;
        const char *purpose;
    } in[] = {{1, 1, "holdout"},
              {7, 123456, "variant"},
              {0, 0, ""},
              {-5, -9, "holdout"},
              {INT64_MAX, INT64_MIN, "variant"},
              {INT64_MIN, INT64_MAX,
               "a purpose long enough to be cut at the ninety-fifth byte of the text, and more"}};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        char text[96];
        int n = snprintf(text, sizeof text, "%lld:%lld:%s", (long long)in[i].campaign,
                         (long long)in[i].contact, in[i].purpose);
        size_t len = n < (int)sizeof text ? (size_t)n : sizeof text - 1;
        assert_int_equal(hd_ab_bucket(in[i].campaign, in[i].contact, in[i].purpose),
                         (int)(hd_hash64(text, len, 0) % 10000));
    }
}

/* n contacts m0000... with the attribute n = 0, 1, ... (ids 1..n). */
static void import_numbered(struct hd_store *st, int n)
{
    struct hd_store_import *imp = NULL;
    struct hd_err e = {0};
    assert_int_equal(hd_store_import_begin(st, HD_IMPORT_MERGE, 1000, &imp, &e), 0);
    for (int i = 0; i < n; i++) {
        char id[16], attrs[32];
        snprintf(id, sizeof id, "m%04d", i);
        snprintf(attrs, sizeof attrs, "{\"n\": %d}", i);
        struct hd_contact_row row = {.ext_id = id, .created_at = -1, .attrs = attrs};
        assert_int_equal(hd_store_import_row(imp, &row, &e), 0);
    }
    assert_int_equal(hd_store_import_end(imp, true, NULL, NULL, &e), 0);
}

/* The messages in db are want, each held out and given the variant the
 * hash says (whoever computed them), held of them held out; returns how
 * many got "a". */
static int check_buckets(const char *dir, const char *db, int64_t campaign, int64_t want,
                         int64_t held)
{
    char *rows = tu_sql_text(dir, db, "SELECT contact_id, state, variant FROM messages");
    int na = 0, n = 0, nout = 0;
    for (char *line = rows, *next; *line; line = next) {
        next = line + strcspn(line, "\n");
        if (*next)
            *next++ = '\0';
        long long k;
        int st;
        char v[8];
        assert_int_equal(sscanf(line, "%lld|%d|%7s", &k, &st, v), 3);
        bool out = hd_ab_bucket(campaign, k, "holdout") < 1000;
        assert_int_equal(st, out ? HD_ST_HELD_OUT : HD_ST_QUEUED);
        const char *w = hd_ab_bucket(campaign, k, "variant") < 3000 ? "a" : "b";
        assert_string_equal(v, w);
        na += *w == 'a';
        nout += out;
        n++;
    }
    assert_int_equal(n, want);
    assert_int_equal(nout, held);
    free(rows);
    return na;
}

/* A fresh store (fresh_store) with ncontacts numbered contacts
 * (import_numbered), and in *ast the rule of the first nseg of them. */
static struct hd_store *numbered_segment(const char *dir, const char *file, const char **db,
                                         int ncontacts, int nseg, struct hd_seg_node **ast)
{
    struct hd_err e = {0};
    char rule[32];
    struct hd_store *st = fresh_store(dir, file, db);
    import_numbered(st, ncontacts);
    snprintf(rule, sizeof rule, "n < %d", nseg);
    assert_int_equal(hd_seg_parse(rule, &(struct hd_seg_opts){.now = 1000}, ast, &e), 0);
    return st;
}

/* Materialization in batches, cut short as by a crash and resumed: every
 * contact of the segment queued once, variant and holdout as the hash
 * says, held-out contacts logged; a second run of a finished run changes
 * nothing. 1,000 contacts of which 700 in the segment, batches of 64 (a
 * third of that on PostgreSQL, where size is not the point: 4 batches). */
static void test_store_materialize(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), sql[256];
    const char *db;
    int ncontacts = stores.pg ? 330 : 1000, nseg = ncontacts * 7 / 10;
    struct hd_err e = {0};
    struct hd_seg_node *ast = NULL;
    struct hd_store *st = numbered_segment(dir, "m.db", &db, ncontacts, nseg, &ast);
    char name[] = "m", seg[] = "s", tpl[] = "t";
    struct hd_campaign c = {.name = name,
                            .segment = seg,
                            .tpl = tpl,
                            .nchannels = 1,
                            .at = -1,
                            .next_run = -1,
                            .created_at = 1000};
    assert_int_equal(hd_store_campaign_add(st, &c, &e), 0);
    struct hd_run run;
    assert_int_equal(hd_store_run_open(st, c.id, 2000, 2000, &run, &e), 0);
    static const struct hd_variant_cut cuts[] = {{"a", 3000}, {"b", 10000}};
    struct hd_materialize m = {.run = run.id,
                               .campaign = c.id,
                               .ast = ast,
                               .seg_now = 2000,
                               .not_before = 2000,
                               .expires = 3600,
                               .holdout_bp = 1000,
                               .variants = cuts,
                               .nvariants = 2,
                               .batch = 64,
                               .now_ms = 2000000};
    int64_t queued = 0, held = 0;
    assert_int_equal(hd_store_materialize(st, &m, &queued, &held, &e), 0);
    assert_int_equal(queued, nseg);
    assert_true(held > 0 && held < nseg / 5); /* 10%, give or take: exactly the hash's below */
    /* a crash after the third batch: the later batches never committed */
    char *left =
        tu_sql_text(dir, db,
                    "DELETE FROM attempts WHERE message_id IN (SELECT id FROM messages WHERE "
                    "contact_id > 192); DELETE FROM messages WHERE contact_id > 192; "
                    "UPDATE runs SET status = 'materializing'; SELECT count(*) FROM messages");
    assert_string_equal(left, "192\n");
    free(left);
    /* resumed, and run once more when complete: the same contacts, once each */
    int64_t q2, h2, q3, h3;
    assert_int_equal(hd_store_run_open(st, c.id, 2000, 2000, &run, &e), 0);
    assert_int_equal(run.status, HD_RUN_MATERIALIZING);
    assert_int_equal(hd_store_materialize(st, &m, &q2, &h2, &e), 0);
    assert_int_equal(hd_store_materialize(st, &m, &q3, &h3, &e), 0);
    assert_int_equal(q2, nseg);
    assert_int_equal(h2, held);
    assert_int_equal(q3, nseg);
    assert_int_equal(h3, held);
    /* contact ids 1..nseg are n 0..nseg-1; each expires 3600 s after 2000 */
    char *got = tu_sql_text(dir, db,
                            "SELECT (SELECT count(DISTINCT contact_id) FROM messages), (SELECT "
                            "count(*) FROM attempts WHERE reason = 'held_out'), (SELECT "
                            "max(contact_id) FROM messages), (SELECT count(*) FROM messages "
                            "WHERE expires_at != 5600)");
    snprintf(sql, sizeof sql, "%d|%lld|%d|0\n", nseg, (long long)held, nseg);
    assert_string_equal(got, sql);
    free(got);
    int na = check_buckets(dir, db, c.id, nseg, held);
    assert_true(na > nseg / 5 && na < nseg * 2 / 5); /* 30% */
    hd_segast_free(ast);
    hd_store_free(st);
    tu_rmdir(dir);
}

/* A campaign named name (segment "s", template "t") added to st and a run
 * of it opened at 2000: the run's id, and the campaign's into *campaign. */
static int64_t campaign_run(struct hd_store *st, const char *name, int64_t *campaign)
{
    struct hd_err e = {0};
    char nm[16], seg[] = "s", tpl[] = "t";
    snprintf(nm, sizeof nm, "%s", name);
    struct hd_campaign c = {
        .name = nm, .segment = seg, .tpl = tpl, .nchannels = 1, .at = -1, .next_run = -1};
    assert_int_equal(hd_store_campaign_add(st, &c, &e), 0);
    struct hd_run run;
    assert_int_equal(hd_store_run_open(st, c.id, 2000, 2000, &run, &e), 0);
    *campaign = c.id;
    return run.id;
}

/* A campaign that varies nothing by contact (no holdout, no variants, one
 * due time), in batches of 64, cut short and resumed: every contact of the
 * segment once, in contact order, with the campaign's due and expiry
 * times (the inserts have no ON CONFLICT: each batch starts after the
 * last contact its run holds). */
static void test_store_materialize_plain(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    const char *db;
    int ncontacts = stores.pg ? 330 : 1000, nseg = ncontacts * 7 / 10;
    struct hd_err e = {0};
    struct hd_seg_node *ast = NULL;
    struct hd_store *st = numbered_segment(dir, "p.db", &db, ncontacts, nseg, &ast);
    int64_t campaign, run_id = campaign_run(st, "p", &campaign);
    struct hd_materialize m = {.run = run_id,
                               .campaign = campaign,
                               .ast = ast,
                               .seg_now = 2000,
                               .not_before = 2000,
                               .expires = 3600,
                               .batch = 64,
                               .now_ms = 2500000};
    int64_t queued = 0, held = -1;
    assert_int_equal(hd_store_materialize(st, &m, &queued, &held, &e), 0);
    assert_int_equal(queued, nseg);
    assert_int_equal(held, 0);
    char *left = tu_sql_text(dir, db,
                             "DELETE FROM messages WHERE contact_id > 150; UPDATE runs SET status = "
                             "'materializing'; SELECT count(*) FROM messages");
    assert_string_equal(left, "150\n");
    free(left);
    struct hd_run run;
    assert_int_equal(hd_store_run_open(st, campaign, 2000, 2000, &run, &e), 0);
    assert_int_equal(hd_store_materialize(st, &m, &queued, &held, &e), 0);
    assert_int_equal(queued, nseg);
    char want[128], *got = tu_sql_text(
        dir, db,
        "SELECT count(*), count(DISTINCT contact_id), max(contact_id), sum(CASE WHEN state = 0 "
        "AND variant IS NULL AND not_before = 2000 AND expires_at = 5600 AND updated_at = 2500 "
        "THEN 1 ELSE 0 END), (SELECT count(*) FROM (SELECT row_number() OVER (ORDER BY id) AS a, "
        "row_number() OVER (ORDER BY contact_id) AS b FROM messages) t WHERE a <> b) FROM messages");
    snprintf(want, sizeof want, "%d|%d|%d|%d|0\n", nseg, nseg, nseg, nseg);
    assert_string_equal(got, want);
    free(got);
    hd_segast_free(ast);
    hd_store_free(st);
    tu_rmdir(dir);
}

/* The states of messages 1, 2 and 3 in db are a, b and c. */
static void assert_states(const char *dir, const char *db, int a, int b, int c)
{
    char want[64], *got = tu_sql_text(dir, db, "SELECT state FROM messages ORDER BY id");
    snprintf(want, sizeof want, "%d\n%d\n%d\n", a, b, c);
    assert_string_equal(got, want);
    free(got);
}

/* A fresh store (fresh_store) with three contacts and a run of a campaign
 * that queued a message to each (ids 1, 2, 3); the run's id into *run_id. */
static struct hd_store *three_queued(const char *dir, const char *file, const char **db,
                                     int64_t *run_id)
{
    struct hd_store *st = fresh_store(dir, file, db);
    struct hd_store_import *imp = NULL;
    struct hd_err e = {0};
    assert_int_equal(hd_store_import_begin(st, HD_IMPORT_MERGE, 1000, &imp, &e), 0);
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "g%d", i);
        struct hd_contact_row row = {.ext_id = id, .created_at = -1, .attrs = "{}"};
        assert_int_equal(hd_store_import_row(imp, &row, &e), 0);
    }
    assert_int_equal(hd_store_import_end(imp, true, NULL, NULL, &e), 0);
    struct hd_seg_node *ast = NULL;
    assert_int_equal(hd_seg_parse("id != \"none\"", &(struct hd_seg_opts){.now = 1000}, &ast, &e),
                     0);
    int64_t campaign;
    *run_id = campaign_run(st, "g", &campaign);
    struct hd_materialize m = {.run = *run_id,
                               .campaign = campaign,
                               .ast = ast,
                               .seg_now = 2000,
                               .not_before = 2000,
                               .now_ms = 2000000};
    int64_t queued = 0;
    assert_int_equal(hd_store_materialize(st, &m, &queued, NULL, &e), 0);
    assert_int_equal(queued, 3);
    hd_segast_free(ast);
    return st;
}

/* Contact ext's consent set and the contact deleted on st: whether the
 * consent row went with it (the cascade of a foreign key, so whether st
 * enforces them). */
static bool cascades(struct hd_store *st, const char *dir, const char *db, const char *ext)
{
    struct hd_err e = {0};
    assert_int_equal(hd_store_consent_set(st, ext, HD_CH_SMS, HD_CAT_MARKETING,
                                          HD_CONSENT_OPTED_OUT, "cli", 1001, &e),
                     0);
    assert_int_equal(hd_store_contact_delete(st, ext, NULL, &e), 0);
    return tu_sql1(dir, db, "SELECT count(*) FROM consent") == 0;
}

/* A materialization turns SQLite's foreign keys off for its batches
 * (checking its run once a batch, not once a row) and on again after,
 * whether it ends well or not: a run that is gone fails it, naming the
 * run, and inserts nothing. */
static void test_store_materialize_keys(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    const char *db;
    struct hd_err e = {0};
    int64_t run, queued = 0;
    struct hd_store *st = three_queued(dir, "k.db", &db, &run);
    assert_true(cascades(st, dir, db, "g0"));

    struct hd_seg_node *ast = NULL;
    assert_int_equal(hd_seg_parse("id != \"none\"", &(struct hd_seg_opts){.now = 1000}, &ast, &e),
                     0);
    struct hd_materialize m = {
        .run = run + 100, .ast = ast, .seg_now = 2000, .not_before = 2000, .now_ms = 2000000};
    assert_int_equal(hd_store_materialize(st, &m, &queued, NULL, &e), HD_E_STORE);
    assert_contains(e.msg, "no longer in the database");
    assert_int_equal(tu_sql1(dir, db, "SELECT count(*) FROM messages"), 3);
    assert_true(cascades(st, dir, db, "g1"));
    hd_segast_free(ast);
    hd_store_free(st);
    tu_rmdir(dir);
}

/* A state change names the state it moves from: a message that left it
 * meanwhile (recovered, cancelled) is not moved, and changes() says so.
 * On PostgreSQL a claim also draws a fencing token, and a move from
 * sending under a token the message no longer holds changes nothing. */
static void test_store_guarded_moves(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    const char *db;
    struct hd_err e = {0};
    int64_t tok = -1, run, ids[3] = {1, 2, 3};
    struct hd_store *st = three_queued(dir, "g.db", &db, &run);
    assert_states(dir, db, HD_ST_QUEUED, HD_ST_QUEUED, HD_ST_QUEUED);

    /* claimed: queued -> sending */
    assert_int_equal(hd_store_msgs_sending(st, ids, 2, 7, 9999, 2000, &tok, &e), 0);
    if (stores.pg)
        assert_true(tok > 0);
    else
        assert_int_equal(tok, 0); /* SQLite fences nothing */
    assert_states(dir, db, HD_ST_SENDING, HD_ST_SENDING, HD_ST_QUEUED);
    /* a move from queued finds it sending: nothing changes */
    struct hd_msg_update u = {.id = ids[0],
                              .from = HD_ST_QUEUED,
                              .state = HD_ST_HELD_OUT,
                              .channel = -1,
                              .now = 2001,
                              .token = tok};
    assert_int_equal(hd_store_msg_update(st, &u, &e), 0);
    assert_int_equal(hd_store_changes(st), 0);
    /* from sending it moves */
    u.from = HD_ST_SENDING;
    u.state = HD_ST_RETRY_WAIT;
    assert_int_equal(hd_store_msg_update(st, &u, &e), 0);
    assert_int_equal(hd_store_changes(st), 1);
    assert_states(dir, db, HD_ST_RETRY_WAIT, HD_ST_SENDING, HD_ST_QUEUED);
    /* sent only what is still sending */
    assert_int_equal(hd_store_msgs_sent(st, ids, 2, HD_CH_EMAIL, 0, 2002, &e), 0);
    assert_states(dir, db, HD_ST_RETRY_WAIT, HD_ST_SENT, HD_ST_QUEUED);
    /* claimed only what is still due: retry_wait and queued, not sent */
    int64_t tok2 = -1;
    assert_int_equal(hd_store_msgs_sending(st, ids, 3, 7, 9999, 2003, &tok2, &e), 0);
    assert_states(dir, db, HD_ST_SENDING, HD_ST_SENT, HD_ST_SENDING);
    if (stores.pg) { /* the first claim's token is stale now */
        assert_true(tok2 > tok);
        assert_int_equal(hd_store_msg_update(st, &u, &e), 0);
        assert_int_equal(hd_store_changes(st), 0);
        assert_states(dir, db, HD_ST_SENDING, HD_ST_SENT, HD_ST_SENDING);
    }
    hd_store_free(st);
    tu_rmdir(dir);
}

static bool dead(int64_t pid)
{
    (void)pid;
    return false;
}

/* Issue 16, items 2 and 6: what a dead dispatcher left in flight is queued
 * again with a `requeued` decision in the log (no request: the outcome is
 * skipped), and keeps its cap reservation, which the next claim reads as
 * the message's own. */
static void test_store_recover_keeps_reservation(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    const char *db;
    struct hd_err e = {0};
    int64_t tok = -1, run, ids[2] = {1, 2};
    struct hd_store *st = three_queued(dir, "r.db", &db, &run);
    struct hd_send_row rows[2] = {
        {1, tu_sql1(dir, db, "SELECT contact_id FROM messages WHERE id = 1"), HD_CH_EMAIL},
        {2, tu_sql1(dir, db, "SELECT contact_id FROM messages WHERE id = 2"), HD_CH_EMAIL}};
    assert_int_equal(hd_store_begin(st, &e), 0);
    assert_int_equal(hd_store_msgs_sending(st, ids, 2, 7, 9999, 2000, &tok, &e), 0);
    assert_int_equal(hd_store_sends_reserve(st, rows, 2, 2000, 1, HD_CAT_MARKETING, &e), 0);
    assert_int_equal(hd_store_commit(st, &e), 0);
    int64_t n = 0;
    assert_int_equal(hd_store_recover(st, 8, 2100, dead, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_states(dir, db, HD_ST_QUEUED, HD_ST_QUEUED, HD_ST_QUEUED);
    char *counts = tu_sql_text(dir, db,
                               "SELECT (SELECT count(*) FROM sends), (SELECT count(*) FROM "
                               "attempts WHERE outcome = 'skipped' AND reason = 'requeued' AND "
                               "state = 0), (SELECT count(*) FROM attempts)");
    assert_string_equal(counts, "2|2|2\n");
    free(counts);
    /* claimed again: each sees its own reservation, and only its own */
    struct hd_claimed *got = NULL;
    size_t ngot = 0;
    assert_int_equal(hd_store_claim(st, run, ~0u, HD_CAT_MARKETING, 2200, 0, 10, &got, &ngot, &e),
                     0);
    assert_int_equal(ngot, 3);
    for (size_t i = 0; i < ngot; i++) {
        if (got[i].id == 3) {
            assert_int_equal(got[i].nsent, 0);
        } else {
            assert_int_equal(got[i].nsent, 1);
            assert_int_equal(got[i].sent[0].message, got[i].id);
        }
        hd_claimed_release(&got[i]);
    }
    free(got);
    hd_store_free(st);
    tu_rmdir(dir);
}

/* The claim reads the facts of the campaign's channels only (its shape):
 * a channel left out has its suppressions false and its tokens NULL, a
 * channel in it sees them, and the contact's own columns are read always;
 * a message's API data only with HD_CLAIM_API (the API's campaigns). */
static void test_store_claim_shapes(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    const char *db;
    struct hd_err e = {0};
    int64_t run;
    struct hd_store *st = three_queued(dir, "c.db", &db, &run);
    free(tu_sql_text(
        dir, db,
        "UPDATE contacts SET email = 'A@x.org', phone = '+15550001' WHERE ext_id = 'g0';"
        "INSERT INTO push_tokens SELECT id, 'fcm', 'F0', 0 FROM contacts WHERE ext_id = 'g0';"
        "INSERT INTO push_tokens SELECT id, 'wechat', 'W0', 0 FROM contacts WHERE ext_id = 'g0';"
        "INSERT INTO suppressions (address, channel, reason, created_at) VALUES "
        "('a@x.org', 'email', 'manual', 0), ('+15550001', 'sms', 'manual', 0), "
        "('F0', 'push', 'manual', 0), ('W0', 'wechat', 'manual', 0);"
        "INSERT INTO api_messages (message_id, key_id, data, created_at) SELECT m.id, 1, "
        "'{\"k\":1}', 0 FROM messages m "
        "JOIN contacts c ON c.id = m.contact_id WHERE c.ext_id = 'g0'"));
    static const struct {
        unsigned channels;
        bool sup[HD_SUP_COUNT]; /* email, sms, fcm, apns, jpush, hms, wechat */
        bool fcm, wechat;       /* the tokens read */
        bool data;              /* the API's data read */
    } cases[] = {
        {1u << HD_CH_EMAIL, {true, false, false, false, false, false, false}, false, false, false},
        {1u << HD_CH_SMS | 1u << HD_CH_INBOX, {false, true}, false, false, false},
        {1u << HD_CH_PUSH, {false, false, true}, true, false, false},
        {1u << HD_CH_WECHAT, {[HD_SUP_WECHAT] = true}, false, true, false},
        {~0u, {true, true, true, false, false, false, true}, true, true, true},
        {1u << HD_CH_PUSH | HD_CLAIM_API, {false, false, true}, true, false, true},
        {~0u & ~HD_CLAIM_API, {true, true, true, false, false, false, true}, true, true, false},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct hd_claimed *got = NULL;
        size_t ngot = 0;
        assert_int_equal(hd_store_claim(st, run, cases[k].channels, HD_CAT_MARKETING, 2200, 0, 10,
                                        &got, &ngot, &e),
                         0);
        assert_int_equal(ngot, 3);
        for (size_t i = 0; i < ngot; i++) {
            bool g0 = strcmp(got[i].contact.ext_id, "g0") == 0;
            for (int x = 0; x < HD_SUP_COUNT; x++)
                assert_int_equal(got[i].suppressed[x], g0 && cases[k].sup[x]);
            assert_int_equal(got[i].contact.fcm_token != NULL, g0 && cases[k].fcm);
            assert_int_equal(got[i].data != NULL, g0 && cases[k].data);
            assert_int_equal(got[i].contact.wechat_openid != NULL, g0 && cases[k].wechat);
            if (g0)
                assert_string_equal(got[i].contact.email, "A@x.org");
            hd_claimed_release(&got[i]);
        }
        free(got);
    }
    hd_store_free(st);
    tu_rmdir(dir);
}

/* What hd_store_log_query hands back, kept for the checks. */
struct seen_rows {
    int n;
    char text[200], detail[100], address[40];
    bool gateway_null, done_zero;
    int code, segments;
    double cost;
};

static int keep_row(void *ud, const struct hd_log_row *r)
{
    struct seen_rows *k = ud;
    if (k->n++ == 0) {
        snprintf(k->text, sizeof k->text, "%s", r->text ? r->text : "(null)");
        snprintf(k->detail, sizeof k->detail, "%s", r->detail ? r->detail : "(null)");
        snprintf(k->address, sizeof k->address, "%s", r->address ? r->address : "(null)");
        k->gateway_null = r->gateway_id == NULL;
        k->done_zero = r->done_ms == 0;
        k->code = r->code;
        k->segments = r->segments;
        k->cost = r->cost;
    }
    return 0;
}

static int log_rows(struct hd_store *st, struct seen_rows *k)
{
    struct hd_err e = {0};
    memset(k, 0, sizeof *k);
    assert_int_equal(
        hd_store_log_query(st, &(struct hd_log_filter){.oldest_first = true}, keep_row, k, &e), 0);
    return k->n;
}

/* The delivery log's rows, which both engines hold back in a transaction
 * and write before the next statement (PostgreSQL as one INSERT,
 * queue_pg.c; SQLite sixteen at a time, the rest by one more, log_lite.c): a
 * read in the same transaction sees them, a rollback drops them (those
 * already written too), a commit keeps them, more than the rows held at
 * once are all written, in their order, a remainder too, and text that an
 * array literal must quote (quotes, backslashes, braces, commas, line
 * breaks, Chinese) and NULLs come back as they went in. Outside a
 * transaction a row is written at once. Text that is not UTF-8 is stored
 * on both engines. */
static void test_store_log_rows(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    const char *db;
    struct hd_err e = {0};
    int64_t run;
    struct seen_rows k;
    struct hd_store *st = three_queued(dir, "l.db", &db, &run);
    const char *text = "say \"hi\" \\ {a,b} NULL\nline 2, 回T退订";
    struct hd_attempt a = {.message = 1,
                           .campaign = 1,
                           .run = run,
                           .contact = 1,
                           .state = HD_ST_SENT,
                           .attempt = 1,
                           .at_ms = 5000,
                           .channel = HD_CH_SMS,
                           .provider = "p",
                           .address = "+8613800000000",
                           .outcome = "accepted",
                           .text = text,
                           .segments = 2,
                           .cost = 0.0123,
                           .detail = "{\"k\":\"v\\\"w\"}"};

    assert_int_equal(hd_store_begin(st, &e), 0);
    assert_int_equal(hd_store_attempt_add(st, &a, &e), 0);
    assert_int_equal(log_rows(st, &k), 1); /* the same transaction sees it */
    assert_string_equal(k.text, text);
    assert_string_equal(k.detail, "{\"k\":\"v\\\"w\"}");
    assert_string_equal(k.address, "+8613800000000");
    assert_true(k.gateway_null);
    assert_true(k.done_zero);
    assert_int_equal(k.code, 0);
    assert_int_equal(k.segments, 2);
    assert_true(k.cost > 0.01229 && k.cost < 0.01231);
    hd_store_rollback(st);
    assert_int_equal(log_rows(st, &k), 0);
    assert_int_equal(tu_sql1(dir, db, "SELECT count(*) FROM attempts"), 0);
    assert_int_equal(hd_store_begin(st, &e), 0); /* 16 written, 4 held: all dropped */
    for (int i = 1; i <= 20; i++)
        assert_int_equal(hd_store_attempt_add(st, &a, &e), 0);
    hd_store_rollback(st);
    assert_int_equal(log_rows(st, &k), 0);

    /* more rows than are held at once, in their order */
    assert_int_equal(hd_store_begin(st, &e), 0);
    for (int i = 1; i <= 5003; i++) { /* 312 times 16, then 11 */
        a.attempt = i;
        a.text = i % 2 ? NULL : "even";
        assert_int_equal(hd_store_attempt_add(st, &a, &e), 0);
    }
    assert_int_equal(hd_store_commit(st, &e), 0);
    assert_int_equal(tu_sql1(dir, db, "SELECT count(*) FROM attempts"), 5003);
    assert_int_equal(tu_sql1(dir, db,
                             "SELECT count(*) FROM attempts a JOIN attempts b ON b.id = a.id + 1 "
                             "WHERE b.attempt <> a.attempt + 1"),
                     0);
    assert_int_equal(tu_sql1(dir, db, "SELECT count(*) FROM attempts WHERE text IS NULL"), 2502);
    assert_int_equal(tu_sql1(dir, db, "SELECT max(attempt) FROM attempts"), 5003);

    /* outside a transaction: at once, seen by another connection */
    a.attempt = 5004;
    assert_int_equal(hd_store_attempt_add(st, &a, &e), 0);
    assert_int_equal(tu_sql1(dir, db, "SELECT count(*) FROM attempts"), 5004);

    /* bytes that are not UTF-8 (a reply cut mid-character, a stray byte):
     * SQLite keeps them, PostgreSQL, which refused the whole batch, gets
     * them made well-formed */
    a.attempt = 5005;
    a.text = "bad \xff end 你\xe4\xbd";
    assert_int_equal(hd_store_begin(st, &e), 0);
    assert_int_equal(hd_store_attempt_add(st, &a, &e), 0);
    if (hd_store_commit(st, &e) < 0)
        fail_msg("%s", e.msg);
    assert_int_equal(tu_sql1(dir, db, "SELECT count(*) FROM attempts WHERE attempt = 5005"), 1);
    if (stores.pg) {
        char *got = tu_sql_text(dir, db, "SELECT text FROM attempts WHERE attempt = 5005");
        got[strcspn(got, "\n")] = '\0';
        assert_string_equal(got, "bad ? end 你??");
        free(got);
    }
    hd_store_free(st);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_open_pragmas),
        cmocka_unit_test(test_store_migrations),
        cmocka_unit_test(test_store_newer_refused),
        cmocka_unit_test(test_store_contacts),
        cmocka_unit_test(test_store_materialize),
        cmocka_unit_test(test_store_materialize_plain),
        cmocka_unit_test(test_store_buckets),
        cmocka_unit_test(test_store_guarded_moves),
        cmocka_unit_test(test_store_materialize_keys),
        cmocka_unit_test(test_store_recover_keeps_reservation),
        cmocka_unit_test(test_store_claim_shapes),
        cmocka_unit_test(test_store_log_rows),
        cmocka_unit_test(test_store_open_empty),
        cmocka_unit_test(test_store_file_modes),
        {"test_store_newer_refused_pg", test_store_newer_refused_pg, setup_pg, teardown, NULL},
        {"test_store_contacts_pg", test_store_contacts, setup_pg, teardown, NULL},
        {"test_store_materialize_pg", test_store_materialize, setup_pg, teardown, NULL},
        {"test_store_materialize_plain_pg", test_store_materialize_plain, setup_pg, teardown, NULL},
        {"test_store_guarded_moves_pg", test_store_guarded_moves, setup_pg, teardown, NULL},
        {"test_store_recover_keeps_reservation_pg", test_store_recover_keeps_reservation, setup_pg,
         teardown, NULL},
        {"test_store_claim_shapes_pg", test_store_claim_shapes, setup_pg, teardown, NULL},
        {"test_store_log_rows_pg", test_store_log_rows, setup_pg, teardown, NULL},
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
