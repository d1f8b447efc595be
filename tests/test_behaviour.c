/* test_behaviour: segments by behaviour (issue 22). Generated contacts and
 * events go in through the real binary (contacts import, events import of
 * CSV and JSON Lines with properties); each rule's count comes from
 * `herald segment count --expr` and its members from the store on the same
 * file, and both are compared with an evaluator written here over the
 * generated data, independently of SQL. Event times sit on an hour grid
 * around "now", so windows' edges fall exactly on events (an event exactly
 * 30 days old is within 30d), some a second off, some in the future (no
 * window takes them), and a third of the contacts have no event of a name
 * (not did). Every case with a store runs again on PostgreSQL, the same
 * data and the same evaluator, since the segment compiler emits that
 * dialect from the same tree: the group's own store on a database of its
 * own (the messages go in by psql, in SQL both engines take), the cases
 * with folders of their own (calendar, months, text, local_today) on one
 * more they share, and the RFM example on one of its own (rfm.c's scores
 * through herald_json_patch there). add_months is C only. */
#include "testutil.h"

#include <ctype.h>
#include <fnmatch.h>
#include <math.h>

#include "herald/segment.h"
#include "herald/store.h"
#include "herald/time.h"

#define NOW 1795334400 /* 2026-11-22T08:00:00Z */
#define NOW_ISO "2026-11-22T08:00:00Z"
#define DAY 86400
#define NC 300
#define MAXEV 8

enum { E_PURCHASE, E_LOGIN, E_SIGNUP, NNAMES };
static const char *const names[] = {"purchase", "login", "signup"};

struct ev {
    int64_t at;
    bool has_amount; /* a numeric amount (a text one is kept but is no number) */
    double amount;
};

struct contact {
    struct ev ev[NNAMES][MAXEV];
    int n[NNAMES];
};

static struct contact C[NC];
static int64_t now_ = NOW;
static char *dir;

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void iso(int64_t t, char *buf, size_t size)
{
    hd_time_format_iso(t, buf, size);
}

/* Events of contact i: distinct times, newest two days ahead of NOW, then
 * back in steps of hours (sometimes one second less). */
static void gen_events(struct contact *c)
{
    for (int k = 0; k < NNAMES; k++) {
        uint64_t r = rnd();
        c->n[k] = r % 3 == 0 ? 0 : (int)((r >> 2) % MAXEV) + 1;
        int64_t hours = (int64_t)((r >> 8) % (24 * 80));
        for (int j = 0; j < c->n[k]; j++) {
            uint64_t q = rnd();
            struct ev *e = &c->ev[k][j];
            hours += 1 + (int64_t)(q % (24 * 40));
            e->at = NOW + 2 * DAY - hours * 3600 - ((q >> 12) % 5 == 0);
            e->has_amount = (q >> 16) % 5 != 0;
            e->amount = (double)((q >> 20) % 1000) + ((q >> 30) % 2 ? 0.5 : 0);
        }
    }
}

static void write_files(void)
{
    char *p = tu_path(dir, "contacts.csv");
    FILE *f = fopen(p, "w");
    fprintf(f, "id,email,phone\n");
    for (int i = 0; i < NC; i++)
        fprintf(f, "c%04d,c%04d@example.com,+1555000%04d\n", i, i, i);
    fclose(f);
    free(p);
    /* purchases as CSV: amount and sku become properties; a text amount
     * ("n/a") is kept as text, which sum() skips */
    p = tu_path(dir, "purchases.csv");
    f = fopen(p, "w");
    fprintf(f, "contact,event,time,amount,sku\n");
    char t[32];
    for (int i = 0; i < NC; i++)
        for (int j = 0; j < C[i].n[E_PURCHASE]; j++) {
            const struct ev *e = &C[i].ev[E_PURCHASE][j];
            iso(e->at, t, sizeof t);
            if (e->has_amount)
                fprintf(f, "c%04d,purchase,%s,%g,S%d\n", i, t, e->amount, j);
            else
                fprintf(f, "c%04d,purchase,%s,%s,S%d\n", i, t, j % 2 ? "n/a" : "", j);
        }
    fclose(f);
    free(p);
    /* logins and signups as JSON Lines: a properties object, or other keys */
    p = tu_path(dir, "events.jsonl");
    f = fopen(p, "w");
    for (int i = 0; i < NC; i++)
        for (int k = E_LOGIN; k < NNAMES; k++)
            for (int j = 0; j < C[i].n[k]; j++) {
                const struct ev *e = &C[i].ev[k][j];
                if (j % 2)
                    fprintf(f,
                            "{\"contact\":\"c%04d\",\"event\":\"%s\",\"time\":%lld,"
                            "\"properties\":{\"amount\":%g}}\n",
                            i, names[k], (long long)e->at, e->amount);
                else
                    fprintf(f,
                            "{\"contact\":\"c%04d\",\"event\":\"%s\",\"time\":%lld,"
                            "\"device\":\"ios\",\"amount\":%g}\n",
                            i, names[k], (long long)e->at, e->amount);
            }
    fclose(f);
    free(p);
}

/* The PostgreSQL run's database for dir (NULL: the default SQLite file),
 * and the one the cases with folders of their own share on that run
 * (made by the first, emptied by the next: see new_dir). */
static char *pg_uri, pg_name[64], *side_uri, side_name[64];

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir();
    char *conf = tu_path(dir, "h.conf"), text[512];
    snprintf(text, sizeof text, "[herald]\ndefault_region = US\n%s%s%s",
             pg_uri ? "database = " : "", pg_uri ? pg_uri : "", pg_uri ? "\n" : "");
    tu_write(conf, text);
    free(conf);
    rng = 0x9E3779B97F4A7C15ull; /* the same data on each run */
    memset(C, 0, sizeof C);
    setenv("HERALD_CONFIG", "h.conf", 1);
    setenv("HERALD_NOW", NOW_ISO, 1);
    for (int i = 0; i < NC; i++)
        gen_events(&C[i]);
    /* the edges, by hand: a purchase exactly 30 days old (within 30d), one
     * a second older (not), one only in the future (did, but in no
     * window), and a contact without any event */
    static const int64_t edge[] = {NOW - 30 * DAY, NOW - 30 * DAY - 1, NOW + 3600};
    for (int i = 0; i < 4; i++) {
        memset(&C[i], 0, sizeof C[i]);
        if (i < 3) {
            C[i].n[E_PURCHASE] = 1;
            C[i].ev[E_PURCHASE][0] = (struct ev){edge[i], true, 10};
        }
    }
    /* logins and signups all have a numeric amount (JSON numbers) */
    for (int i = 0; i < NC; i++)
        for (int k = E_LOGIN; k < NNAMES; k++)
            for (int j = 0; j < C[i].n[k]; j++)
                C[i].ev[k][j].has_amount = true;
    write_files();
    TU_HERALD_OK(dir, "init");
    TU_HERALD_OK(dir, "contacts", "import", "contacts.csv");
    TU_HERALD_OK(dir, "events", "import", "purchases.csv");
    TU_HERALD_OK(dir, "events", "import", "events.jsonl");
    return 0;
}

/* The same with dir's store on a fresh PostgreSQL database. */
static int setup_pg(void **state)
{
    pg_uri = tu_pg_db(pg_name);
    return setup(state);
}

static int teardown(void **state)
{
    (void)state;
    tu_rmdir(dir);
    if (pg_uri) {
        tu_pg_drop(pg_name);
        free(pg_uri);
        pg_uri = NULL;
    }
    if (side_uri) {
        tu_pg_drop(side_name);
        free(side_uri);
        side_uri = NULL;
    }
    return 0;
}

/* ---- the evaluator -------------------------------------------------------------------- */

/* A contact's events of one name: how many, and over those with a numeric
 * amount their sum, min, max; the newest and oldest time. within: seconds
 * back from now_ (0: all time, future ones too). */
struct agg {
    int count, numeric;
    double sum, min, max;
    int64_t last, first;
};

static struct agg agg(const struct contact *c, int name, int64_t within)
{
    struct agg a = {0};
    for (int j = 0; j < c->n[name]; j++) {
        const struct ev *e = &c->ev[name][j];
        if (within && (e->at < now_ - within || e->at > now_))
            continue;
        if (a.count == 0 || e->at > a.last)
            a.last = e->at;
        if (a.count == 0 || e->at < a.first)
            a.first = e->at;
        a.count++;
        if (!e->has_amount)
            continue;
        if (a.numeric == 0 || e->amount < a.min)
            a.min = e->amount;
        if (a.numeric == 0 || e->amount > a.max)
            a.max = e->amount;
        a.numeric++;
        a.sum += e->amount;
    }
    return a;
}

/* whole days since t, rounded down, as days_since() of a date-time */
static int64_t days_since(int64_t t)
{
    int64_t d = now_ - t;
    return d >= 0 ? d / DAY : -((-d + DAY - 1) / DAY);
}

static bool r_did(const struct contact *c)
{
    return agg(c, E_PURCHASE, 0).count >= 1;
}
static bool r_did30(const struct contact *c)
{
    return agg(c, E_PURCHASE, 30 * DAY).count >= 1;
}
static bool r_login3(const struct contact *c)
{
    return agg(c, E_LOGIN, 30 * DAY).count >= 3;
}
static bool r_not_did(const struct contact *c)
{
    return agg(c, E_PURCHASE, 0).count == 0;
}
static bool r_not_login7(const struct contact *c)
{
    return agg(c, E_LOGIN, 7 * DAY).count == 0;
}
static bool r_sum500(const struct contact *c)
{
    return agg(c, E_PURCHASE, 90 * DAY).sum > 500;
}
static bool r_count_lt3(const struct contact *c)
{
    return agg(c, E_LOGIN, 30 * DAY).count < 3;
}
static bool r_min(const struct contact *c)
{
    struct agg a = agg(c, E_PURCHASE, 0);
    return a.numeric && a.min <= 200;
}
static bool r_max(const struct contact *c)
{
    struct agg a = agg(c, E_PURCHASE, 0);
    return a.numeric && a.max >= 900;
}
static bool r_avg(const struct contact *c)
{
    struct agg a = agg(c, E_PURCHASE, 60 * DAY);
    return a.numeric && a.sum / a.numeric >= 100 && a.sum / a.numeric <= 400;
}
static bool r_since60(const struct contact *c)
{
    struct agg a = agg(c, E_PURCHASE, 0);
    return a.count && days_since(a.last) > 60;
}
static bool r_since_eq(const struct contact *c)
{
    struct agg a = agg(c, E_LOGIN, 0);
    return a.count && days_since(a.last) == 30;
}
static bool r_first(const struct contact *c)
{
    struct agg a = agg(c, E_SIGNUP, 0);
    return a.count && a.first < now_ - 45 * DAY;
}
static bool r_count2(const struct contact *c)
{
    return agg(c, E_PURCHASE, 0).count == 2;
}
static bool r_mixed(const struct contact *c)
{
    return agg(c, E_LOGIN, 90 * DAY).count > 2 && agg(c, E_PURCHASE, 30 * DAY).count == 0;
}
static bool r_sum0(const struct contact *c)
{
    return agg(c, E_PURCHASE, 0).sum == 0;
}
static bool r_bench(const struct contact *c)
{
    return agg(c, E_PURCHASE, 90 * DAY).count >= 2;
}
static bool r_last_between(const struct contact *c)
{
    struct agg a = agg(c, E_LOGIN, 0);
    return a.count && a.last >= now_ - 30 * DAY && a.last <= now_ - 10 * DAY;
}
static bool r_sum_login(const struct contact *c)
{
    return agg(c, E_LOGIN, 30 * DAY).sum >= 600;
}
/* within 1mo at 2026-11-22: since 2026-10-22, 31 days (October has 31) */
static bool r_month(const struct contact *c)
{
    return agg(c, E_PURCHASE, 31 * DAY).count >= 1;
}
static bool r_not_count0(const struct contact *c)
{
    return !(agg(c, E_SIGNUP, 0).count == 0);
}

static const struct {
    const char *expr;
    bool (*eval)(const struct contact *c);
} rules[] = {
    {"did(\"purchase\")", r_did},
    {"did(\"purchase\", within 30d)", r_did30},
    {"did(\"login\", count >= 3, within 30d)", r_login3},
    {"not did(\"purchase\")", r_not_did},
    {"not did(\"login\", within 7d)", r_not_login7},
    {"sum(\"purchase\", \"amount\", within 90d) > 500", r_sum500},
    {"count(\"login\", within 30d) < 3", r_count_lt3},
    {"min(\"purchase\", \"amount\") <= 200", r_min},
    {"max(\"purchase\", \"amount\") >= 900", r_max},
    {"avg(\"purchase\", \"amount\", within 60d) between 100 and 400", r_avg},
    {"days_since(last(\"purchase\")) > 60", r_since60},
    {"days_since(last(\"login\")) = 30", r_since_eq},
    {"first(\"signup\") < now - 45d", r_first},
    {"did(\"purchase\", count = 2)", r_count2},
    {"did(\"login\", within 90d, count > 2) and not did(\"purchase\", within 30d)", r_mixed},
    {"sum(\"purchase\", \"amount\") = 0", r_sum0},
    {"did(\"purchase\", count >= 2, within 90d)", r_bench},
    {"last(\"login\") between now - 30d and now - 10d", r_last_between},
    {"sum(\"login\", \"amount\", within 30d) >= 600", r_sum_login},
    {"not did(\"signup\", count = 0)", r_not_count0},
    {"did(\"purchase\", within 1mo)", r_month},
};

#define NMAX 400 /* the most contacts a test makes */
struct members {
    bool in[NMAX];
};

static int mark(void *ud, const struct hd_contact *c)
{
    struct members *m = ud;
    m->in[atoi(c->ext_id + 1)] = true;
    return 0;
}

/* The members of expr at now_, from the store. */
static void members_of(struct hd_store *st, const char *expr, struct members *m)
{
    struct hd_seg_opts o = {.now = now_};
    struct hd_seg_node *t = NULL;
    struct hd_err e = {0};
    if (hd_seg_parse(expr, &o, &t, &e) != 0)
        fail_msg("rule [%s]: %s", expr, e.msg);
    memset(m, 0, sizeof *m);
    assert_int_equal(hd_store_seg_each(st, t, now_, 0, false, mark, m, &e), 0);
    hd_segast_free(t);
}

/* What `herald segment count --expr expr` says at now_, by the calls it
 * makes (the rule typed by the store's attributes, then counted). */
static long long count_in(struct hd_store *st, const char *expr)
{
    struct hd_seg_node *t = NULL;
    struct hd_err e = {0};
    int64_t n = -1;
    if (hd_seg_load_checked(st, NULL, expr, now_, false, &t, &e) != 0 ||
        hd_store_seg_count(st, t, now_, &n, &e) != 0)
        fail_msg("rule [%s]: %s", expr, e.msg);
    hd_segast_free(t);
    return n;
}

/* The rule expr at now_ in folder d: the binary's count and the store's
 * members (ids are a letter and their index) against want[0..n); varied:
 * the rule must select some but not all, or it tests little. The folders
 * other than dir count in this process on PostgreSQL, by the same calls
 * (the binary's count on that engine is dir's; a process a rule there
 * would be some 110 more runs of the binary). */
static void check_members(const char *d, struct hd_store *st, const char *expr, const bool *want,
                          int n, bool varied)
{
    static struct members m;
    char nowiso[32];
    long long count, expected = 0, wrong = 0, first = -1;
    iso(now_, nowiso, sizeof nowiso);
    setenv("HERALD_NOW", nowiso, 1);
    if (pg_uri && d != dir) {
        count = count_in(st, expr);
    } else {
        struct tu_run run;
        tu_herald(&run, d, NULL, "segment", "count", "--expr", expr, NULL);
        if (run.status != 0)
            fail_msg("rule [%s]: exit %d: %s", expr, run.status, run.err);
        count = atoll(run.out);
        tu_run_release(&run);
    }
    members_of(st, expr, &m);
    for (int i = 0; i < n; i++) {
        expected += want[i];
        if (want[i] != m.in[i] && wrong++ == 0)
            first = i;
    }
    if (wrong || count != expected)
        fail_msg("now %s, rule [%s]: %lld contacts differ (first number %lld), count %lld, "
                 "expected %lld",
                 nowiso, expr, wrong, first, count, expected);
    if (varied && (expected == 0 || expected == n))
        fail_msg("rule [%s] selects %lld: make the data more varied", expr, expected);
}

/* The store of folder d, read-only (on PostgreSQL in that run: dir's
 * database, or the one the other folders share). */
static struct hd_store *open_store(const char *d)
{
    char *db = !pg_uri    ? tu_path(d, "var/herald.db")
               : d == dir ? hd_xstrdup(pg_uri)
                          : hd_xstrdup(side_uri);
    struct hd_store *st = NULL;
    struct hd_store_opts ro = {.readonly = true};
    struct hd_err e = {0};
    assert_int_equal(hd_store_open(db, &ro, &st, &e), 0);
    free(db);
    return st;
}

/* A new folder with a configuration, made ready by init and the import of
 * contacts from file (which gen writes there first). On PostgreSQL the
 * folders share one database: the first makes it, a later one empties it
 * of the contacts and attribute types before it (a database of its own
 * each would cost a CREATE DATABASE and the migrations every time). */
static char *new_dir(void (*gen)(const char *d), const char *file)
{
    char *d = tu_tmpdir(), *conf = tu_path(d, "h.conf"), text[512];
    bool fresh = pg_uri && !side_uri;
    if (fresh)
        side_uri = tu_pg_db(side_name);
    snprintf(text, sizeof text, "[herald]\ndefault_region = US\n%s%s%s",
             pg_uri ? "database = " : "", pg_uri ? side_uri : "", pg_uri ? "\n" : "");
    tu_write(conf, text);
    free(conf);
    gen(d);
    if (pg_uri && !fresh)
        free(tu_sql_text(d, side_uri, "DELETE FROM contacts; DELETE FROM attributes"));
    else
        TU_HERALD_OK(d, "init");
    TU_HERALD_OK(d, "contacts", "import", file);
    char *p = tu_path(d, "var/herald.db");
    assert_int_equal(tu_exists(p), !pg_uri); /* the engine meant */
    free(p);
    return d;
}

static void test_behaviour_events(void **state)
{
    (void)state;
    static bool want[NC];
    struct hd_store *st = open_store(dir);
    /* NOW sits on the hour grid: windows start exactly on events; a second
     * later they no longer hold them; at midnight the day counts shift */
    static const int64_t nows[] = {NOW, NOW + 1, NOW - 8 * 3600};
    for (size_t k = 0; k < sizeof nows / sizeof nows[0]; k++) {
        now_ = nows[k];
        for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
            for (int i = 0; i < NC; i++)
                want[i] = rules[r].eval(&C[i]);
            check_members(dir, st, rules[r].expr, want, NC, now_ == NOW);
        }
    }
    now_ = NOW;
    setenv("HERALD_NOW", NOW_ISO, 1);
    /* the edges by name (c0000-c0003, see setup) */
    static struct members m;
    members_of(st, "did(\"purchase\", within 30d)", &m);
    assert_true(m.in[0] && !m.in[1] && !m.in[2] && !m.in[3]);
    members_of(st, "did(\"purchase\")", &m);
    assert_true(m.in[0] && m.in[1] && m.in[2] && !m.in[3]);
    members_of(st, "not did(\"purchase\") and not did(\"login\")", &m);
    assert_true(!m.in[0] && !m.in[2] && m.in[3]);
    hd_store_free(st);
}

/* ---- messages ------------------------------------------------------------------------- */

/* Two campaigns and three runs; each contact may have a message in each
 * run (held out, failed or sent; a sent one has its row in sends), and
 * may be suppressed for a bounce or a complaint. */
enum { NRUNS = 3 };
static const struct {
    int campaign; /* 1 recall-nov, 2 promo */
    int64_t fire_at;
} runs[NRUNS] = {{1, NOW - 10 * DAY}, {2, NOW - 2 * DAY}, {1, NOW - 40 * DAY}};

struct msg {
    bool has, sent;
    int state, channel;
    int64_t at;
};
static struct msg MS[NC][NRUNS];
static bool bounced_[NC], complained_[NC];

/* Runs the SQL in dir's file name on dir's store, by the engine's own
 * client, stopping at the first error (tu_sh fails the test then). */
static void exec_sql_file(const char *name)
{
    char cmd[1024], *db = tu_path(dir, "var/herald.db"), *file = tu_path(dir, name);
    if (pg_uri)
        snprintf(cmd, sizeof cmd,
                 "PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 "
                 "'%s' -f '%s' >/dev/null",
                 pg_uri, file);
    else
        snprintf(cmd, sizeof cmd, "sqlite3 -bail '%s' < '%s'", db, file);
    free(tu_sh(cmd));
    free(db);
    free(file);
}

/* The messages go straight into the store's tables (as the dispatcher
 * writes them), in SQL both engines take; the suppressions through the
 * binary. */
static void gen_messages(void)
{
    static const int states[] = {2, 2, 8, 5}; /* sent, sent, held out, failed */
    struct hd_buf q;
    hd_buf_init(&q);
    hd_buf_adds(&q,
                "BEGIN; INSERT INTO campaigns (id, name, segment, template, channels, category, "
                "schedule, status, created_at, updated_at) VALUES (1, 'recall-nov', 'x', 'x', "
                "'email', 'marketing', 'now', 'done', 0, 0), (2, 'promo', 'x', 'x', 'email', "
                "'marketing', 'now', 'done', 0, 0);");
    for (int r = 0; r < NRUNS; r++)
        hd_buf_addf(&q,
                    "INSERT INTO runs (id, campaign_id, fire_at, status, created_at) VALUES "
                    "(%d, %d, %lld, 'done', 0);",
                    r + 1, runs[r].campaign, (long long)runs[r].fire_at);
    int64_t id = 0;
    for (int i = 0; i < NC; i++)
        for (int r = 0; r < NRUNS; r++) {
            uint64_t x = rnd();
            struct msg *m = &MS[i][r];
            if (!(m->has = x % 2))
                continue;
            m->state = states[(x >> 1) % 4];
            m->sent = m->state == 2;
            m->channel = (int)((x >> 3) % 3);
            m->at = runs[r].fire_at + (int64_t)((x >> 5) % 3000) * 60;
            hd_buf_addf(&q,
                        "INSERT INTO messages (id, run_id, contact_id, state, channel, "
                        "not_before, updated_at) VALUES (%lld, %d, (SELECT id FROM contacts "
                        "WHERE ext_id = 'c%04d'), %d, %d, 0, 0);",
                        (long long)++id, r + 1, i, m->state, m->channel);
            if (m->sent)
                hd_buf_addf(&q,
                            "INSERT INTO sends VALUES (%lld, (SELECT id FROM contacts WHERE "
                            "ext_id = 'c%04d'), %lld, %d, 0, %d);",
                            (long long)id, i, (long long)m->at, runs[r].campaign, m->channel);
        }
    hd_buf_adds(&q, "COMMIT;\n");
    char *p = tu_path(dir, "messages.sql");
    tu_write(p, q.data);
    free(p);
    hd_buf_release(&q);
    exec_sql_file("messages.sql");
    p = tu_path(dir, "supp.csv");
    FILE *f = fopen(p, "w");
    fprintf(f, "address,reason\n");
    for (int i = 0; i < NC; i++) {
        uint64_t x = rnd();
        bounced_[i] = x % 7 == 0 || x % 11 == 0;
        complained_[i] = !bounced_[i] && x % 5 == 1;
        if (x % 7 == 0)
            fprintf(f, "C%04d@Example.com,hard_bounce\n", i);
        else if (x % 11 == 0)
            fprintf(f, "+1555000%04d,invalid_number\n", i);
        else if (complained_[i])
            fprintf(f, "c%04d@example.com,complaint\n", i);
        else if (x % 3 == 0)
            fprintf(f, "c%04d@example.com,unsubscribed\n", i);
    }
    fclose(f);
    free(p);
    TU_HERALD_OK(dir, "suppress", "import", "supp.csv");
}

static bool m_received(int i, int campaign, int channel, int64_t within)
{
    for (int r = 0; r < NRUNS; r++) {
        const struct msg *m = &MS[i][r];
        if (!m->sent || (campaign && runs[r].campaign != campaign) ||
            (channel >= 0 && m->channel != channel) ||
            (within && (m->at < now_ - within || m->at > now_)))
            continue;
        return true;
    }
    return false;
}

static bool m_converted(int i, int campaign, int64_t window)
{
    for (int r = 0; r < NRUNS; r++) {
        const struct msg *m = &MS[i][r];
        if (!m->has || m->state == 8 || runs[r].campaign != campaign)
            continue;
        for (int j = 0; j < C[i].n[E_PURCHASE]; j++) {
            int64_t at = C[i].ev[E_PURCHASE][j].at;
            if (at >= runs[r].fire_at && at < runs[r].fire_at + window)
                return true;
        }
    }
    return false;
}

static bool mr1(int i)
{
    return m_received(i, 1, -1, 0);
}
static bool mr2(int i)
{
    return m_received(i, 0, 1, 7 * DAY);
}
static bool mr3(int i)
{
    return m_received(i, 0, -1, 3 * DAY);
}
static bool mr4(int i)
{
    return !m_received(i, 0, -1, 0);
}
static bool mr5(int i)
{
    return m_converted(i, 1, 7 * DAY);
}
static bool mr6(int i)
{
    return m_received(i, 1, -1, 0) && !m_converted(i, 1, 7 * DAY);
}
static bool mr7(int i)
{
    return bounced_[i];
}
static bool mr8(int i)
{
    return complained_[i];
}
static bool mr9(int i)
{
    return m_converted(i, 2, DAY) || !m_received(i, 2, 0, 0);
}

static const struct {
    const char *expr;
    bool (*eval)(int i);
} mrules[] = {
    {"received(\"recall-nov\")", mr1},
    {"received(channel \"sms\", within 7d)", mr2},
    {"messaged(within 3d)", mr3},
    {"never_messaged", mr4},
    {"converted(\"recall-nov\", \"purchase\")", mr5},
    {"received(\"recall-nov\") and not converted(\"recall-nov\", \"purchase\")", mr6},
    {"bounced", mr7},
    {"complained", mr8},
    {"converted(\"promo\", \"purchase\", within 1d) or not received(\"promo\", channel email)",
     mr9},
};

static void test_behaviour_messages(void **state)
{
    (void)state;
    static bool want[NC];
    gen_messages();
    struct hd_store *st = open_store(dir);
    for (size_t r = 0; r < sizeof mrules / sizeof mrules[0]; r++) {
        for (int i = 0; i < NC; i++)
            want[i] = mrules[r].eval(i);
        check_members(dir, st, mrules[r].expr, want, NC, true);
    }
    hd_store_free(st);
}

/* ---- calendar time ---------------------------------------------------------------------- */

/* The calendar, written here the slow way: days of a month, and a day
 * number (days since 1970-01-01) from a date and back by counting. */
static int dim(int y, int m)
{
    static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : n[m - 1];
}

static int64_t to_days(int y, int m, int d)
{
    int64_t n = 0;
    for (int k = 1900; k < y; k++)
        n += 365 + (dim(k, 2) == 29);
    for (int k = 1; k < m; k++)
        n += dim(y, k);
    return n + d - 1 - 25567; /* 1900-01-01 is day -25567 */
}

struct ymd {
    int y, m, d;
};

static struct ymd from_days(int64_t days)
{
    struct ymd r = {1900, 1, 1};
    int64_t n = days + 25567;
    while (n >= 365 + (dim(r.y, 2) == 29))
        n -= 365 + (dim(r.y, 2) == 29), r.y++;
    while (n >= dim(r.y, r.m))
        n -= dim(r.y, r.m), r.m++;
    r.d = (int)n + 1;
    return r;
}

/* Hand-checked: 31 March minus a month is the last of February, in a leap
 * year the 29th; 29 February plus a year is 28 February; the time of day
 * stays. */
static void test_behaviour_add_months(void **state)
{
    (void)state;
    static const struct {
        const char *from;
        int64_t months;
        const char *to;
    } cases[] = {
        {"2026-03-31T08:00:00Z", -1, "2026-02-28T08:00:00Z"},
        {"2024-03-31T00:00:00Z", -1, "2024-02-29T00:00:00Z"},
        {"2024-02-29T12:30:00Z", 12, "2025-02-28T12:30:00Z"},
        {"2028-02-29T00:00:00Z", 48, "2032-02-29T00:00:00Z"},
        {"2026-01-31T23:59:59Z", 1, "2026-02-28T23:59:59Z"},
        {"2026-12-31T00:00:00Z", 2, "2027-02-28T00:00:00Z"},
        {"2026-05-31T00:00:00Z", -3, "2026-02-28T00:00:00Z"},
        {"2026-11-22T08:00:00Z", -1, "2026-10-22T08:00:00Z"},
        {"1969-12-31T23:00:00Z", 1, "1970-01-31T23:00:00Z"},
        {"2026-01-15T00:00:00Z", -13, "2024-12-15T00:00:00Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t t;
        char out[32];
        assert_int_equal(hd_time_parse_iso(cases[i].from, &t, NULL), 0);
        hd_time_format_iso(hd_time_add_months(t, cases[i].months), out, sizeof out);
        assert_string_equal(out, cases[i].to);
    }
}

#define NK 400
struct cal {
    struct ymd birthday;
    int64_t renew; /* an instant; a plain date when renew_date */
    bool renew_date;
};
static struct cal K[NK];

/* months_until(t) from today: the month difference, one less when today's
 * day (the month's last if it has fewer) at midnight lies after t */
static int64_t months_until(int64_t t)
{
    struct ymd a = from_days(now_ >= 0 ? now_ / DAY : 0), b = from_days(t / DAY);
    int64_t m = (b.y * 12 + b.m) - (a.y * 12 + a.m);
    int d = a.d < dim(b.y, b.m) ? a.d : dim(b.y, b.m);
    return to_days(b.y, b.m, d) * DAY > t ? m - 1 : m;
}

static struct ymd today_ymd(int64_t months)
{
    struct ymd a = from_days(now_ / DAY);
    int idx = a.y * 12 + a.m - 1 + (int)months;
    return (struct ymd){idx / 12, idx % 12 + 1, 0};
}

static bool k1(const struct cal *k)
{
    return k->birthday.m == today_ymd(0).m;
}
static bool k2(const struct cal *k)
{
    return k->birthday.d == from_days(now_ / DAY).d;
}
static bool k3(const struct cal *k)
{
    return k->birthday.m == today_ymd(1).m;
}
static bool k4(const struct cal *k)
{
    int64_t d = to_days(k->birthday.y, k->birthday.m, k->birthday.d);
    return ((d % 7) + 7 + 4) % 7 == 0; /* 1970-01-01 was a Thursday */
}
static bool k5(const struct cal *k)
{
    return k->birthday.y >= 1990;
}
static bool k6(const struct cal *k)
{
    return months_until(k->renew) == 0;
}
static bool k7(const struct cal *k)
{
    int64_t m = months_until(k->renew);
    return m >= 1 && m <= 3;
}
static bool k8(const struct cal *k)
{
    return months_until(k->renew) < 0;
}
/* renew < today + 1mo: today's day in the next month (or its last) */
static bool k9(const struct cal *k)
{
    struct ymd a = from_days(now_ / DAY), n = today_ymd(1);
    int d = a.d < dim(n.y, n.m) ? a.d : dim(n.y, n.m);
    return k->renew < to_days(n.y, n.m, d) * DAY;
}
static bool k10(const struct cal *k)
{
    struct ymd a = from_days(now_ / DAY), n = today_ymd(-12);
    int d = a.d < dim(n.y, n.m) ? a.d : dim(n.y, n.m);
    return k->renew >= to_days(n.y, n.m, d) * DAY && k->renew <= now_;
}

static const struct {
    const char *expr;
    bool (*eval)(const struct cal *k);
} krules[] = {
    {"month(birthday) = month(today)", k1},
    {"day(birthday) = day(today)", k2},
    {"month(birthday) = month(today + 1mo)", k3},
    {"weekday(birthday) = 0", k4},
    {"year(birthday) >= 1990", k5},
    {"months_until(renew) = 0", k6},
    {"months_until(renew) between 1 and 3", k7},
    {"months_until(renew) < 0", k8},
    {"renew < today + 1mo", k9},
    {"renew between today - 1y and now", k10},
};

static void gen_calendar(const char *kdir)
{
    char *p = tu_path(kdir, "cal.csv"), t[32];
    FILE *f = fopen(p, "w");
    fprintf(f, "id,birthday,renew\n");
    for (int i = 0; i < NK; i++) {
        uint64_t x = rnd();
        struct cal *k = &K[i];
        k->birthday.y = 1950 + (int)(x % 60);
        k->birthday.m = 1 + (int)((x >> 8) % 12);
        int last = dim(k->birthday.y, k->birthday.m), pick = (int)((x >> 12) % 4);
        /* month ends and 29 February often */
        k->birthday.d = pick == 0   ? last
                        : pick == 1 ? 1 + (int)((x >> 16) % last)
                                    : 1 + (int)((x >> 16) % 28);
        if ((x >> 20) % 10 == 0)
            k->birthday = (struct ymd){1988 + 4 * (int)((x >> 24) % 5), 2, 29};
        /* renewals from 2025 to 2030, on month ends, at midnight or not */
        int64_t day = to_days(2025, 1, 1) + (int64_t)((x >> 28) % 2000);
        struct ymd r = from_days(day);
        if ((x >> 40) % 3 == 0)
            day = to_days(r.y, r.m, dim(r.y, r.m));
        k->renew_date = (x >> 44) % 2;
        k->renew = day * DAY + (k->renew_date ? 0 : (int64_t)((x >> 46) % 24) * 3600);
        if (k->renew_date)
            hd_time_format_date(k->renew, t, sizeof t);
        else
            iso(k->renew, t, sizeof t);
        fprintf(f, "k%04d,%04d-%02d-%02d,%s\n", i, k->birthday.y, k->birthday.m, k->birthday.d, t);
    }
    fclose(f);
    free(p);
}

/* Birthdays and renewals against the calendar evaluator, on days where
 * months differ: the 31st of a month after a short one, 29 February at
 * midnight, the last second of a year. */
static void test_behaviour_calendar(void **state)
{
    (void)state;
    static bool want[NK];
    char *kdir = new_dir(gen_calendar, "cal.csv");
    struct hd_store *st = open_store(kdir);
    static const char *const nows[] = {"2026-03-31T08:00:00Z", "2028-02-29T00:00:00Z",
                                       "2026-12-31T23:59:59Z", "2026-01-31T12:00:00Z",
                                       "2027-06-30T00:00:00Z"};
    for (size_t k = 0; k < sizeof nows / sizeof nows[0]; k++) {
        assert_int_equal(hd_time_parse_iso(nows[k], &now_, NULL), 0);
        for (size_t r = 0; r < sizeof krules / sizeof krules[0]; r++) {
            for (int i = 0; i < NK; i++)
                want[i] = krules[r].eval(&K[i]);
            check_members(kdir, st, krules[r].expr, want, NK, true);
        }
    }
    now_ = NOW;
    setenv("HERALD_NOW", NOW_ISO, 1);
    hd_store_free(st);
    tu_rmdir(kdir);
}

/* One table through both: months_until in a segment rule and the
 * template filter of the same name must say the same (one definition,
 * hd_segast_months_until). Hand-worked: from 31 January, 28 February is a
 * month; from 15 March, 14 April none and 15 April one; a past date is
 * negative; in a leap year 29 February counts. */
static const struct {
    const char *now, *date;
    int months;
} mcases[] = {
    {"2026-01-31T12:00:00Z", "2026-02-28", 1},
    {"2026-01-31T12:00:00Z", "2026-02-27T23:59:59Z", 0},
    {"2026-03-15T00:00:00Z", "2026-04-14", 0},
    {"2026-03-15T00:00:00Z", "2026-04-15", 1},
    {"2026-03-15T00:00:00Z", "2026-03-14", -1},
    {"2028-01-31T08:00:00Z", "2028-02-29", 1},
    {"2026-03-31T08:00:00Z", "2027-03-31T00:00:00Z", 12},
    {"2026-12-31T23:59:59Z", "2026-12-31", 0},
};
#define NM (sizeof mcases / sizeof mcases[0])

static void gen_months(const char *d)
{
    char *p = tu_path(d, "c.csv");
    FILE *f = fopen(p, "w");
    fprintf(f, "id,renew\n");
    for (size_t i = 0; i < NM; i++)
        fprintf(f, "m%zu,%s\n", i, mcases[i].date);
    fclose(f);
    free(p);
    p = tu_path(d, "m.txt");
    tu_write(p, "{{renew | months_until}}");
    free(p);
}

static void test_behaviour_months_table(void **state)
{
    (void)state;
    char *d = new_dir(gen_months, "c.csv"), *p;
    for (size_t i = 0; i < NM; i++) {
        char expr[80], data[80], want[16];
        struct tu_run r;
        setenv("HERALD_NOW", mcases[i].now, 1);
        snprintf(expr, sizeof expr, "id = \"m%zu\" and months_until(renew) = %d", i,
                 mcases[i].months);
        tu_herald(&r, d, NULL, "segment", "count", "--expr", expr, NULL);
        if (r.status != 0 || atoll(r.out) != 1)
            fail_msg("segment: [%s] at %s: %s%s", expr, mcases[i].now, r.out, r.err);
        tu_run_release(&r);
        p = tu_path(d, "d.json");
        snprintf(data, sizeof data, "{\"renew\": \"%s\"}", mcases[i].date);
        tu_write(p, data);
        free(p);
        tu_herald(&r, d, NULL, "template", "render", "m.txt", "--data", "d.json", "--escape",
                  "none", NULL);
        snprintf(want, sizeof want, "%d", mcases[i].months);
        if (r.status != 0 || strcmp(r.out, want) != 0)
            fail_msg("template: %s at %s gave '%s', want %s %s", mcases[i].date, mcases[i].now,
                     r.out, want, r.err);
        tu_run_release(&r);
    }
    setenv("HERALD_NOW", NOW_ISO, 1);
    tu_rmdir(d);
}

/* ---- local_today ----------------------------------------------------------------------- */

/* Zones with their offsets in late November (no daylight saving then in
 * any of them), written here rather than asked of ICU. */
static const struct {
    const char *zone;
    int64_t offset;
} zones[] = {{"", 0},
             {"Asia/Tokyo", 9 * 3600},
             {"Pacific/Kiritimati", 14 * 3600},
             {"Pacific/Pago_Pago", -11 * 3600},
             {"Europe/London", 0},
             {"America/New_York", -5 * 3600},
             {"Asia/Kolkata", 5 * 3600 + 1800}};
#define NZ (sizeof zones / sizeof zones[0])
#define NL 300

struct loc {
    int zone;
    int64_t seen, due; /* instants; plain dates at midnight UTC */
    int bday;          /* day of November */
};
static struct loc L[NL];

static int64_t local_today(const struct loc *l)
{
    int64_t t = now_ + zones[l->zone].offset;
    return (t - ((t % DAY) + DAY) % DAY);
}

static bool l1(const struct loc *l)
{
    return l->seen == local_today(l);
}
static bool l2(const struct loc *l)
{
    return l->seen < local_today(l);
}
static bool l3(const struct loc *l)
{
    return l->seen >= local_today(l) - DAY;
}
static bool l4(const struct loc *l)
{
    return l->bday == from_days(local_today(l) / DAY).d;
}
static bool l5(const struct loc *l)
{
    return l->due <= local_today(l) + 7 * DAY;
}
static bool l6(const struct loc *l)
{
    return l->seen != local_today(l);
}
static bool l7(const struct loc *l)
{
    return l->seen == local_today(l) || l->seen == local_today(l) - DAY;
}
static bool l8(const struct loc *l)
{
    return l->due >= local_today(l) && l->due <= local_today(l) + 7 * DAY;
}

static const struct {
    const char *expr;
    bool (*eval)(const struct loc *l);
} lrules[] = {
    {"seen = local_today", l1},
    {"seen < local_today", l2},
    {"seen >= local_today - 1d", l3},
    {"month(birthday) = month(local_today) and day(birthday) = day(local_today)", l4},
    {"due <= local_today + 1w", l5},
    {"seen != local_today", l6},
    {"seen in (local_today, local_today - 1d)", l7},
    {"due between local_today and local_today + 1w", l8},
};

static void gen_local(const char *ldir)
{
    char *p = tu_path(ldir, "local.csv"), a[32], b[32];
    FILE *f = fopen(p, "w");
    fprintf(f, "id,timezone,seen,due,birthday\n");
    for (int i = 0; i < NL; i++) {
        uint64_t x = rnd();
        struct loc *l = &L[i];
        l->zone = (int)(x % NZ);
        /* days around 2026-11-22, plain dates or date-times on the hour */
        l->seen = to_days(2026, 11, 20 + (int)((x >> 8) % 5)) * DAY;
        bool seen_time = (x >> 12) % 3 == 0;
        if (seen_time)
            l->seen += (int64_t)((x >> 14) % 24) * 3600;
        l->due = to_days(2026, 11, 22) * DAY + ((int64_t)((x >> 20) % 24) - 8) * DAY +
                 ((x >> 26) % 2 ? (int64_t)((x >> 28) % 24) * 3600 : 0);
        l->bday = 20 + (int)((x >> 34) % 5);
        if (seen_time)
            iso(l->seen, a, sizeof a);
        else
            hd_time_format_date(l->seen, a, sizeof a);
        if (l->due % DAY)
            iso(l->due, b, sizeof b);
        else
            hd_time_format_date(l->due, b, sizeof b);
        fprintf(f, "l%04d,%s,%s,%s,1980-11-%02d\n", i, zones[l->zone].zone, a, b, l->bday);
    }
    fclose(f);
    free(p);
}

/* local_today against fixed offsets, at instants where zones change day:
 * midnight in New York (05:00 UTC), the last second of a day in Kiritimati
 * and its next midnight (10:00 UTC), and late and early UTC hours. */
static void test_behaviour_local_today(void **state)
{
    (void)state;
    static bool want[NL];
    char *ldir = new_dir(gen_local, "local.csv");
    struct hd_store *st = open_store(ldir);
    static const char *const nows[] = {"2026-11-22T23:30:00Z", "2026-11-22T05:00:00Z",
                                       "2026-11-22T04:59:59Z", "2026-11-22T09:59:59Z",
                                       "2026-11-22T10:00:00Z", "2026-11-22T12:00:00Z"};
    for (size_t k = 0; k < sizeof nows / sizeof nows[0]; k++) {
        assert_int_equal(hd_time_parse_iso(nows[k], &now_, NULL), 0);
        for (size_t r = 0; r < sizeof lrules / sizeof lrules[0]; r++) {
            for (int i = 0; i < NL; i++)
                want[i] = lrules[r].eval(&L[i]);
            check_members(ldir, st, lrules[r].expr, want, NL, true);
        }
    }
    now_ = NOW;
    setenv("HERALD_NOW", NOW_ISO, 1);
    hd_store_free(st);
    tu_rmdir(ldir);
}

/* ---- text ------------------------------------------------------------------------------- */

#define NT 300
struct txt {
    char name[24], plan[12], email[48], nick[12];
    bool has_plan, has_nick;
    int ntags;
};
static struct txt T[NT];

static bool ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
    return *a == *b;
}

static bool ends(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

static bool t1(const struct txt *t)
{
    return t->has_plan && ieq(t->plan, "gold");
}
static bool t2(const struct txt *t)
{
    return t->has_plan && (ieq(t->plan, "gold") || ieq(t->plan, "SILVER"));
}
static bool t3(const struct txt *t)
{
    return t->has_plan && !ieq(t->plan, "free");
}
static bool t4(const struct txt *t)
{
    return ends(t->email, "@example.com");
}
static bool t5(const struct txt *t)
{
    return fnmatch("a*@*.org", t->email, 0) == 0;
}
static bool t6(const struct txt *t)
{
    return strstr(t->name, "an") != NULL;
}
static bool t7(const struct txt *t)
{
    return t->ntags >= 2;
}
static bool t8(const struct txt *t)
{
    return t->ntags == 0;
}
static bool t9(const struct txt *t)
{
    return t->has_nick && *t->nick;
}
static bool t10(const struct txt *t)
{
    return t->has_nick && strlen(t->nick) == 3;
}
static bool t11(const struct txt *t)
{
    return fnmatch("[A-M]*", t->name, 0) == 0;
}
static bool t12(const struct txt *t)
{
    return ends(t->email, ".ORG");
}
static bool t13(const struct txt *t)
{
    return ieq(t->email, "ann@example.com");
}

static const struct {
    const char *expr;
    bool (*eval)(const struct txt *t);
} trules[] = {
    {"plan ieq \"gold\"", t1},
    {"plan iin (\"gold\", \"SILVER\")", t2},
    {"plan not iin (\"free\")", t3},
    {"email ends_with \"@example.com\"", t4},
    {"email matches \"a*@*.org\"", t5},
    {"name contains \"an\"", t6},
    {"length(tags) >= 2", t7},
    {"tags is empty", t8},
    {"nick is not empty", t9},
    {"length(nick) = 3", t10},
    {"name matches \"[A-M]*\"", t11},
    {"email ends_with \".ORG\"", t12},
    {"email ieq \"ann@example.com\"", t13},
};

static void gen_text(const char *tdir)
{
    static const char *const firsts[] = {"Ann", "anna", "Brian", "zane", "Mark", "nina", "Dan"};
    static const char *const plans[] = {"gold", "Gold", "GOLD", "silver", "Silver", "free", "FREE"};
    static const char *const domains[] = {"example.com", "Example.com", "x.org", "y.ORG"};
    static const char *const nicks[] = {"", "bob", "al", "zed", "Eve"};
    char *p = tu_path(tdir, "text.jsonl");
    FILE *f = fopen(p, "w");
    for (int i = 0; i < NT; i++) {
        uint64_t x = rnd();
        struct txt *t = &T[i];
        snprintf(t->name, sizeof t->name, "%s%d", firsts[x % 7], i % 10);
        t->has_plan = (x >> 4) % 5 != 0;
        snprintf(t->plan, sizeof t->plan, "%s", plans[(x >> 8) % 7]);
        snprintf(t->email, sizeof t->email, "%s%d@%s",
                 i == 7          ? "ANN"
                 : (x >> 12) % 2 ? "ann"
                                 : "bo",
                 i == 7 ? 0 : i, i == 7 ? "Example.COM" : domains[(x >> 16) % 4]);
        if (i == 7)
            snprintf(t->email, sizeof t->email, "ANN@Example.COM");
        t->has_nick = (x >> 20) % 4 != 0;
        snprintf(t->nick, sizeof t->nick, "%s", nicks[(x >> 24) % 5]);
        t->ntags = (int)((x >> 28) % 4);
        fprintf(f, "{\"id\":\"t%04d\",\"email\":\"%s\",\"name\":\"%s\",\"tags\":[", i, t->email,
                t->name);
        for (int k = 0; k < t->ntags; k++)
            fprintf(f, "%s\"g%d\"", k ? "," : "", k);
        fprintf(f, "]");
        if (t->has_plan)
            fprintf(f, ",\"plan\":\"%s\"", t->plan);
        if (t->has_nick)
            fprintf(f, ",\"nick\":\"%s\"", t->nick);
        fprintf(f, "}\n");
    }
    fclose(f);
    free(p);
}

/* Text tests against the evaluator: ieq and iin fold ASCII letters,
 * ends_with and matches do not. */
static void test_behaviour_text(void **state)
{
    (void)state;
    static bool want[NT];
    char *tdir = new_dir(gen_text, "text.jsonl");
    struct hd_store *st = open_store(tdir);
    for (size_t r = 0; r < sizeof trules / sizeof trules[0]; r++) {
        for (int i = 0; i < NT; i++)
            want[i] = trules[r].eval(&T[i]);
        check_members(tdir, st, trules[r].expr, want, NT, true);
    }
    hd_store_free(st);
    tu_rmdir(tdir);
}

static void expect_fail(const char *stdin_path, const char *const *argv, const char *msg)
{
    const char *a[16];
    size_t n = 0;
    a[n++] = tu_herald_bin();
    while (*argv && n < 15)
        a[n++] = *argv++;
    a[n] = NULL;
    struct tu_run r;
    tu_exec(&r, dir, stdin_path, a);
    if (r.status == 0 || !strstr(r.err, msg))
        fail_msg("expected an error with \"%s\", got exit %d: %s", msg, r.status, r.err);
    tu_run_release(&r);
}

static long long count_of(const char *expr)
{
    struct tu_run r;
    tu_herald(&r, dir, NULL, "segment", "count", "--expr", expr, NULL);
    if (r.status != 0)
        fail_msg("[%s]: exit %d: %s", expr, r.status, r.err);
    long long n = atoll(r.out);
    tu_run_release(&r);
    return n;
}

/* ---- RFM -------------------------------------------------------------------------------- */

/* A hand-worked example, --scores 3 --window 30d at NOW; score = 1 +
 * floor(3 * (contacts with a smaller value) / 5), high when above 3/2:
 *
 *   contact  purchases (days ago: amount)     last  count  sum   R F M  layer
 *   r1       2: 100                            2d    1     100   2 1 2  important develop
 *   r2       5: 10, 10: 10, 20: 10             5d    3      30   1 3 1  general keep
 *   r3       1: 50, 40: 500 (out of window)    1d    1      50   2 1 1  general develop
 *   r4       25: 200, 29: (no amount)         25d    2     200   1 2 3  important keep
 *   r5       1: 100 (r3's instant: a tie)      1d    1     100   2 1 2  important develop
 *   r6       logins only                                                (none)
 *
 * Recency by last event: r4 < r2 < r1 < r3 = r5, so r4 and r2 have 0 and 1
 * smaller (scores 1, 1), r1 2 (2), r3 and r5 3 (2). Frequency: r1, r3, r5
 * 0 smaller (1), r4 3 (2), r2 4 (3). Monetary: r2 0 (1), r3 1 (1), r1 and
 * r5 2 (2), r4 4 (3). A first run on logins scores r6; the purchase run
 * takes that off. */
/* A folder of its own for an RFM test, its h.conf on a database of its
 * own on PostgreSQL (*uri, and name for tu_pg_drop; NULL on SQLite). */
static char *rfm_dir(char name[64], char **uri)
{
    char *rdir = tu_tmpdir(), *p = tu_path(rdir, "h.conf"), text[512];
    *uri = pg_uri ? tu_pg_db(name) : NULL;
    snprintf(text, sizeof text, "[herald]\ndefault_region = US\n%s%s%s", *uri ? "database = " : "",
             *uri ? *uri : "", *uri ? "\n" : "");
    tu_write(p, text);
    free(p);
    return rdir;
}

static void rfm_dir_free(char *rdir, const char *name, char *uri)
{
    tu_rmdir(rdir);
    if (uri) {
        tu_pg_drop(name);
        free(uri);
    }
}

static void test_behaviour_rfm(void **state)
{
    (void)state;
    char name[64], *uri, *rdir = rfm_dir(name, &uri), *p;
    p = tu_path(rdir, "c.csv");
    tu_write(p, "id,email\nr1,r1@x.org\nr2,r2@x.org\nr3,r3@x.org\nr4,r4@x.org\nr5,r5@x.org\n"
                "r6,r6@x.org\n");
    free(p);
    static const struct {
        const char *who, *name;
        int days;
        const char *amount;
    } ev[] = {{"r1", "purchase", 2, "100"},  {"r2", "purchase", 5, "10"},
              {"r2", "purchase", 10, "10"},  {"r2", "purchase", 20, "10"},
              {"r3", "purchase", 1, "50"},   {"r3", "purchase", 40, "500"},
              {"r4", "purchase", 25, "200"}, {"r4", "purchase", 29, ""},
              {"r5", "purchase", 1, "100"},  {"r6", "login", 3, "1"}};
    p = tu_path(rdir, "e.csv");
    FILE *f = fopen(p, "w");
    fprintf(f, "contact,event,time,amount\n");
    for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++)
        fprintf(f, "%s,%s,%lld,%s\n", ev[i].who, ev[i].name, (long long)(NOW - ev[i].days * DAY),
                ev[i].amount);
    fclose(f);
    free(p);
    setenv("HERALD_NOW", NOW_ISO, 1);
    TU_HERALD_OK(rdir, "init");
    TU_HERALD_OK(rdir, "contacts", "import", "c.csv");
    TU_HERALD_OK(rdir, "events", "import", "e.csv");
    TU_HERALD_OK(rdir, "segment", "rfm", "--event", "login", "--value", "amount");
    struct tu_run r;
    tu_herald(&r, rdir, NULL, "segment", "rfm", "--event", "purchase", "--value", "amount",
              "--window", "30d", "--scores", "3", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "scored 5 contacts"));
    assert_non_null(strstr(r.out, "rfm_important_develop     hi  lo  hi         2  重要发展客户"));
    assert_non_null(strstr(r.out, "rfm_important_keep        lo  hi  hi         1"));
    assert_non_null(strstr(r.out, "rfm_general_keep          lo  hi  lo         1"));
    assert_non_null(strstr(r.out, "rfm_general_develop       hi  lo  lo         1"));
    assert_non_null(strstr(r.out, "rfm_important_value       hi  hi  hi         0"));
    tu_run_release(&r);
    static const char *const scores[] = {
        "id = \"r1\" and rfm_r = 2 and rfm_f = 1 and rfm_m = 2",
        "id = \"r2\" and rfm_r = 1 and rfm_f = 3 and rfm_m = 1",
        "id = \"r3\" and rfm_r = 2 and rfm_f = 1 and rfm_m = 1",
        "id = \"r4\" and rfm_r = 1 and rfm_f = 2 and rfm_m = 3",
        "id = \"r5\" and rfm_r = 2 and rfm_f = 1 and rfm_m = 2",
        "id = \"r6\" and rfm_r is null and rfm_at is null",
        "rfm_at = 2026-11-22T08:00:00Z",
    };
    char *saved = dir;
    dir = rdir;
    for (size_t i = 0; i < sizeof scores / sizeof scores[0]; i++)
        if (count_of(scores[i]) != (i + 1 < sizeof scores / sizeof scores[0] ? 1 : 5))
            fail_msg("[%s] does not hold", scores[i]);
    assert_int_equal(count_of("in_segment(\"rfm_important_develop\")"), 2);
    dir = saved;
    p = tu_path(rdir, "var/herald.db");
    assert_int_equal(tu_exists(p), !uri); /* the run was on the engine meant */
    free(p);
    rfm_dir_free(rdir, name, uri);
}

/* An import that recorded a score's name as another type: rfm refuses and
 * changes nothing (it stored numbers under the text attribute, and every
 * layer's count was then refused). */
static void test_behaviour_rfm_taken(void **state)
{
    (void)state;
    char name[64], *uri, *rdir = rfm_dir(name, &uri), *p = tu_path(rdir, "c.jsonl");
    tu_write(p, "{\"id\":\"a\",\"rfm_r\":\"x\"}\n{\"id\":\"b\"}\n");
    free(p);
    p = tu_path(rdir, "e.csv");
    tu_write(p, "contact,event,time,amount\nb,purchase,2026-11-20,10\na,purchase,2026-11-01,5\n");
    free(p);
    setenv("HERALD_NOW", NOW_ISO, 1);
    TU_HERALD_OK(rdir, "init");
    TU_HERALD_OK(rdir, "contacts", "import", "c.jsonl");
    TU_HERALD_OK(rdir, "events", "import", "e.csv");
    struct tu_run r;
    tu_herald(&r, rdir, NULL, "segment", "rfm", "--event", "purchase", "--value", "amount", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "attribute 'rfm_r' is recorded as string: segment rfm stores numbers");
    tu_run_release(&r);
    tu_herald(&r, rdir, NULL, "segment", "count", "--expr", "rfm_r = \"x\"", NULL);
    assert_string_equal(r.out, "1\n");
    tu_run_release(&r);
    tu_herald(&r, rdir, NULL, "segment", "list", NULL);
    assert_null(strstr(r.out, "rfm_important_value"));
    tu_run_release(&r);
    rfm_dir_free(rdir, name, uri);
}

/* Properties from a "properties" column; a bad one stops the import with
 * its line and nothing is written. */
static void test_behaviour_import_properties(void **state)
{
    (void)state;
    char *p = tu_path(dir, "props.csv");
    tu_write(p, "contact,event,time,properties\n"
                "c0010,clicked,2026-11-20T00:00:00Z,\"{\"\"n\"\": 5}\"\n"
                "c0011,clicked,2026-11-20T00:00:00Z,\"[1]\"\n");
    expect_fail(NULL, (const char *[]){"events", "import", "props.csv", NULL},
                "props.csv:3: properties: not a JSON object");
    assert_int_equal(count_of("did(\"clicked\")"), 0);
    tu_write(p, "contact,event,time,properties\n"
                "c0010,clicked,2026-11-20T00:00:00Z,\"{\"\"n\"\": 5}\"\n"
                "c0010,clicked,2026-11-21T00:00:00Z,\"{\"\"n\"\": \"\"x\"\"}\"\n"
                "c0011,clicked,2026-11-20T00:00:00Z,\n");
    TU_HERALD_OK(dir, "events", "import", "props.csv");
    free(p);
    p = tu_path(dir, "props.jsonl");
    tu_write(p, "{\"contact\":\"c0012\",\"event\":\"clicked\",\"time\":1,\"properties\":7}\n");
    expect_fail(NULL, (const char *[]){"events", "import", "props.jsonl", NULL},
                "props.jsonl:1: properties: not a JSON object");
    free(p);
    assert_int_equal(count_of("did(\"clicked\")"), 2);
    /* a text property is skipped by sum; no property at all: sum is 0 */
    assert_int_equal(count_of("sum(\"clicked\", \"n\") = 5"), 1);
    assert_int_equal(count_of("did(\"clicked\") and sum(\"clicked\", \"n\") = 0"), 1);
    assert_int_equal(count_of("avg(\"clicked\", \"n\") = 5"), 1);
}

/* Rules that do not parse say where and why. */
static void test_behaviour_errors(void **state)
{
    (void)state;
    static const struct {
        const char *expr, *msg;
    } cases[] = {
        {"sum(\"purchase\") > 1", "1:15: sum needs a property after the event"},
        {"did(\"a\", within 3)", "1:17: expected a duration after 'within' (within 30d)"},
        {"did(\"a\", count >= -1)", "the count is compared with a whole number"},
        {"did(\"a\", within 3d, within 4d)", "expected 'count OP N' or 'within D', found 'within'"},
        {"count(\"a\", count > 1) > 1", "expected 'within D', found 'count'"},
        {"days_since(count(\"x\")) > 1", "days_since needs a date; 'count(\"x\")' is a number"},
        {"sum(\"a\", \"x y\") > 1", "'x y' is not a property name"},
        {"did(purchase)", "expected an event name in double quotes, found 'purchase'"},
        {"last(\"a\") > 3", "'last(\"a\")' is a date; it cannot be compared with a number"},
        {"plan ieq 3", "ieq needs strings on its right"},
        {"length(created_at) > 1", "'created_at' is a date; length() works on lists and strings"},
        {"days_since(seen) = local_today", "local_today is a value for a field"},
        {"local_today = seen", "it is not the subject, nor a day count"},
        {"created_at > today - 0mo", "'0mo' is not a duration (1 to 12000 months, or 1000y)"},
        {"plan is full", "expected 'null' or 'empty' after 'is', found 'full'"},
        {"opened()", "1:1: opened takes no arguments"},
        {"messaged(\"x\")", "expected 'channel CH' or 'within D' in messaged(), found a string"},
        {"received(channel fax)",
         "expected a channel (email, sms, push, inbox or wechat) after 'channel'"},
        {"converted(\"recall\")", "converted needs a campaign and an event"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_fail(NULL, (const char *[]){"segment", "count", "--expr", cases[i].expr, NULL},
                    cases[i].msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_behaviour_events),
        cmocka_unit_test(test_behaviour_import_properties),
        cmocka_unit_test(test_behaviour_errors),
        cmocka_unit_test(test_behaviour_messages),
        cmocka_unit_test(test_behaviour_add_months),
        cmocka_unit_test(test_behaviour_calendar),
        cmocka_unit_test(test_behaviour_months_table),
        cmocka_unit_test(test_behaviour_text),
        cmocka_unit_test(test_behaviour_local_today),
        cmocka_unit_test(test_behaviour_rfm),
        cmocka_unit_test(test_behaviour_rfm_taken),
    };
    /* every case with a store again, on PostgreSQL, in the same order (the
     * generator's sequence follows it): the group's own store, one more
     * database the cases with folders of their own share, the RFM case's
     * own (add_months is C only) */
    const struct CMUnitTest tests_pg[] = {
        {"test_behaviour_events_pg", test_behaviour_events, NULL, NULL, NULL},
        {"test_behaviour_import_properties_pg", test_behaviour_import_properties, NULL, NULL, NULL},
        {"test_behaviour_errors_pg", test_behaviour_errors, NULL, NULL, NULL},
        {"test_behaviour_messages_pg", test_behaviour_messages, NULL, NULL, NULL},
        {"test_behaviour_calendar_pg", test_behaviour_calendar, NULL, NULL, NULL},
        {"test_behaviour_months_table_pg", test_behaviour_months_table, NULL, NULL, NULL},
        {"test_behaviour_text_pg", test_behaviour_text, NULL, NULL, NULL},
        {"test_behaviour_local_today_pg", test_behaviour_local_today, NULL, NULL, NULL},
        {"test_behaviour_rfm_pg", test_behaviour_rfm, NULL, NULL, NULL},
        {"test_behaviour_rfm_taken_pg", test_behaviour_rfm_taken, NULL, NULL, NULL},
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    return rc | cmocka_run_group_tests(tests_pg, setup_pg, teardown);
}
