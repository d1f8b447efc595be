/* test_segment: the rule language. Parser tables (valid rules and their
 * trees, invalid rules and their exact messages with carets), typing against
 * known attribute types, in_segment expansion and cycles; semantics: a
 * generated set of contacts whose members for each rule are computed here,
 * independently of SQL, and compared with what the store selects; and a
 * property test that no rule, however hostile its strings, changes the
 * shape of the SQL or fails to prepare. The cases through the binary (the
 * numbers of issue 15, a campaign paused on a bad rule) run on a SQLite
 * file and on a PostgreSQL store. The store-level cases (semantics, no
 * injection, nesting, stored rules) run on SQLite's ":memory:" and, as
 * their _pg entries, on the one migrated PostgreSQL database of
 * tu_both_open, emptied per case, with PostgreSQL's dialect of the same
 * tree: the same contacts (fewer, where the count is not the point), the
 * same rules and evaluator. The parser's own limits checked by preparing
 * on a bare sqlite3 table, and no injection's preparing against raw
 * sqlite3 tables, are SQLite's (test_pg_audience also holds PostgreSQL's
 * compiled rules to SQLite's). */
#include "testboth.h"

#include <math.h>
#include <sqlite3.h>

#include "herald/config.h"
#include "herald/segment.h"
#include "herald/store.h"
#include "herald/time.h"

#define NOW 1795334400      /* 2026-11-22T08:00:00Z */
#define MIDNIGHT 1795305600 /* 2026-11-22T00:00:00Z */
#define T_1101 1793491200   /* 2026-11-01T00:00:00Z */
#define T_1110 1794268800   /* 2026-11-10T00:00:00Z */

/* what "now" is for parse() and the evaluators of the semantics test */
static int64_t now_ = NOW;

/* the engine of the store-level cases; TU_BOTH_FIXTURES' setup_pg sets pg */
static struct tu_both both;
TU_BOTH_FIXTURES(both)

static enum hd_seg_vtype types(void *ud, const char *attr)
{
    (void)ud;
    static const struct {
        const char *name;
        enum hd_seg_vtype t;
    } known[] = {{"plan", SEGV_STRING},
                 {"age", SEGV_NUMBER},
                 {"vip", SEGV_BOOL},
                 {"last_active", SEGV_DATE},
                 {"membership_expires", SEGV_DATE},
                 {"tags", SEGV_ARRAY},
                 {"city", SEGV_STRING},
                 {"spend", SEGV_NUMBER}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(known[i].name, attr) == 0)
            return known[i].t;
    return SEGV_ANY;
}

static int lookup(void *ud, const char *name, char **expr, struct hd_err *err)
{
    (void)ud;
    (void)err;
    static const struct {
        const char *name, *expr;
    } segs[] = {{"churned", "days_since(last_active) > 30"},
                {"gold", "plan = \"gold\""},
                {"gold_churned", "in_segment(\"gold\") and in_segment(\"churned\")"},
                {"loop_a", "in_segment(\"loop_b\")"},
                {"loop_b", "age > 1 or in_segment(\"loop_a\")"},
                {"broken", "plan = "}};
    for (size_t i = 0; i < sizeof segs / sizeof segs[0]; i++)
        if (strcmp(segs[i].name, name) == 0) {
            *expr = hd_xstrdup(segs[i].expr);
            return 0;
        }
    return HD_E_NOTFOUND;
}

static int parse(const char *expr, struct hd_seg_node **out, struct hd_err *e)
{
    struct hd_seg_opts o = {.name = "x", .now = now_, .type_of = types, .lookup = lookup};
    return hd_seg_parse(expr, &o, out, e);
}

static void test_segment_parse_valid(void **state)
{
    (void)state;
    static const struct {
        const char *in, *tree;
    } cases[] = {
        {"plan = \"gold\"", "(= plan \"gold\")"},
        {"days_since(last_active) >= 30 and plan in (\"gold\", \"silver\")",
         "(and (>= (days_since last_active) 30) (in plan \"gold\" \"silver\"))"},
        {"a = 1 or b = 2 and c = 3", "(or (= a 1) (and (= b 2) (= c 3)))"},
        {"(a = 1 or b = 2) and c = 3", "(and (or (= a 1) (= b 2)) (= c 3))"},
        {"NOT vip AND Plan != \"free\"", "(and (not (true? vip)) (!= Plan \"free\"))"},
        {"age not in (1, 2.5, -3)", "(not-in age 1 2.5 -3)"},
        {"age between 18 and 30", "(between age 18 30)"},
        {"age not between 18 and 30 and vip", "(and (not-between age 18 30) (true? vip))"},
        {"city contains \"on\" or tags contains \"beta\"",
         "(or (contains city \"on\") (contains tags \"beta\"))"},
        {"email starts_with \"ann\"", "(starts_with email \"ann\")"},
        {"phone exists and locale is null and timezone is not null",
         "(and (and (exists phone) (is-null locale)) (exists timezone))"},
        {"last_active < now - 30d", "(< last_active 2026-10-23T08:00:00Z)"},
        {"last_active >= today - 1w", "(>= last_active 2026-11-15)"},
        {"last_active > 2026-01-31", "(> last_active 2026-01-31)"},
        {"created_at < 2026-01-31T09:30:00+01:00", "(< created_at 2026-01-31T08:30:00Z)"},
        {"last_active = \"2026-11-01\"", "(= last_active 2026-11-01)"},
        {"days_until(membership_expires) between 0 and 90",
         "(between (days_until membership_expires) 0 90)"},
        {"reachable(email) and opted_in(sms, transactional)",
         "(and (reachable email) (opted_in sms transactional))"},
        {"address.city = \"Paris\"", "(= address.city \"Paris\")"},
        {"name = \"a\\\"b\\\\c\\u00e9\"", "(= name \"a\\\"b\\\\cé\")"},
        {"vip = true and x == false", "(and (= vip true) (= x false))"},
        {"in_segment(\"gold_churned\")", "(and (= plan \"gold\") (> (days_since last_active) 30))"},
        {"  plan  =  \"gold\"  ", "(= plan \"gold\")"},
        {"id = \"u1\" and updated_at > now - 12h", "(and (= id \"u1\") (> updated_at "
                                                   "2026-11-21T20:00:00Z))"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hd_seg_node *t = NULL;
        struct hd_err e = {0};
        if (parse(cases[i].in, &t, &e) != 0)
            fail_msg("case %zu: %s: %s", i, cases[i].in, e.msg);
        struct hd_buf b;
        hd_buf_init(&b);
        hd_segast_print(t, &b);
        if (strcmp(b.data, cases[i].tree) != 0)
            fail_msg("case %zu: %s\n got  %s\n want %s", i, cases[i].in, b.data, cases[i].tree);
        hd_buf_release(&b);
        hd_segast_free(t);
    }
}

static void test_segment_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *in, *msg;
    } cases[] = {
        {"days_since(last_active) >= ",
         "segment 'x': 1:27: expected a value after '>='\n  days_since(last_active) >= \n"
         "                            ^"},
        {"plan = \"gold", "segment 'x': 1:8: unterminated string: a closing '\"' is missing"},
        {"plan = 'gold'", "segment 'x': 1:8: strings take double quotes"},
        {"plan in ()", "segment 'x': 1:10: an empty list: give at least one value"},
        {"plan in (\"a\" \"b\")", "segment 'x': 1:14: expected ',' or ')' in the list, found a "
                                  "string"},
        {"(plan = \"a\"", "segment 'x': 1:12: expected ')' to close the '(' at 1:1, found the end"},
        {"plan = \"a\" plan", "segment 'x': 1:12: expected 'and', 'or' or the end, found 'plan'"},
        {"", "segment 'x': 1:1: expected a condition, found the end"},
        {"plan > 5", "segment 'x': 1:8: 'plan' is a string; it cannot be compared with a number"},
        {"age = \"old\"", "segment 'x': 1:7: 'age' is a number; it cannot be compared with a "
                          "string"},
        {"vip > true", "segment 'x': 1:5: a boolean can only be tested with = or !="},
        {"plan", "segment 'x': 1:1: 'plan' is a string, not a boolean"},
        {"days_since(plan) > 3", "segment 'x': 1:12: days_since needs a date; 'plan' is a string"},
        {"last_active > 2026-02-30", "segment 'x': 1:15: '2026-02-30' is not an ISO 8601 date"},
        {"last_active > now - 3x", "segment 'x': 1:21: '3x' is not a duration"},
        {"age > 3 + 4", "segment 'x': 1:9: arithmetic is for dates"},
        {"5 = age", "segment 'x': 1:1: a comparison starts with a field"},
        {"age = age", "segment 'x': 1:7: compare a field with a value, not with another field"},
        {"tags = \"x\"", "segment 'x': 1:8: 'tags' is a list: test it with contains"},
        {"age starts_with \"1\"", "segment 'x': 1:1: 'age' is a number; starts_with works on "
                                  "strings"},
        {"reachable(fax)",
         "segment 'x': 1:11: expected a channel (email, sms, push, inbox or wechat), found "
         "'fax'"},
        {"opted_in(sms, promo)", "segment 'x': 1:15: expected a category (marketing or "
                                 "transactional)"},
        {"in_segment(\"nope\")", "segment 'x': 1:1: in_segment(\"nope\"): no segment 'nope'"},
        {"in_segment(\"loop_a\")", "segment 'loop_b': 1:12: in_segment(\"loop_a\") makes a "
                                   "cycle: loop_a -> loop_b -> loop_a\n  age > 1 or "
                                   "in_segment(\"loop_a\")\n             ^"},
        {"in_segment(\"x\")", "segment 'x': 1:1: in_segment(\"x\") makes a cycle: x -> x"},
        {"in_segment(\"broken\")", "segment 'broken': 1:7: expected a value after '='"},
        {"plan = \"a\" and", "segment 'x': 1:15: expected a condition, found the end"},
        {"plan ! \"a\"", "segment 'x': 1:6: unexpected '!'"},
        {"plan = \"a\\q\"", "segment 'x': 1:10: bad escape '\\q'"},
        {"age not 5", "segment 'x': 1:9: expected 'in', 'iin' or 'between' after 'not', found '5'"},
        {"1abc.x = 1", "segment 'x': 1:1: '1abc' is not a duration"},
        {"a..b = 1", "segment 'x': 1:1: 'a..b' is not a field or attribute name"},
        {"plan = \"a\" or", "segment 'x': 1:14: expected a condition, found the end"},
        {"名字 = \"a\"", "segment 'x': 1:1: unexpected character"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct hd_seg_node *t = (struct hd_seg_node *)0x1;
        struct hd_err e = {0};
        int rc = parse(cases[i].in, &t, &e);
        if (rc != HD_E_PARSE || strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
            fail_msg("case %zu: [%s]: rc %d\n got  \"%s\"\n want \"%s...\"", i, cases[i].in, rc,
                     e.msg, cases[i].msg);
        assert_ptr_equal(t, (struct hd_seg_node *)0x1);
    }
    /* deep nesting is refused, not a stack overflow */
    struct hd_buf deep;
    hd_buf_init(&deep);
    for (int i = 0; i < 500; i++)
        hd_buf_addc(&deep, '(');
    hd_buf_adds(&deep, "a = 1");
    struct hd_seg_node *t;
    struct hd_err e = {0};
    assert_int_equal(parse(deep.data, &t, &e), HD_E_PARSE);
    assert_contains(e.msg, "nests more than 24 levels deep");
    hd_buf_release(&deep);
    /* so are very long chains, which SQLite could not take */
    struct hd_buf chain;
    hd_buf_init(&chain);
    hd_buf_adds(&chain, "a = 1");
    for (int i = 0; i < 300; i++)
        hd_buf_adds(&chain, " or a = 1");
    assert_int_equal(parse(chain.data, &t, &e), HD_E_PARSE);
    assert_contains(e.msg, "a rule may join at most 250 conditions");
    hd_buf_release(&chain);
    /* 251 is one too many (it was taken: the count was of the joins) */
    hd_buf_init(&chain);
    hd_buf_adds(&chain, "a = 1");
    for (int i = 0; i < 250; i++)
        hd_buf_adds(&chain, " or a = 1");
    assert_int_equal(parse(chain.data, &t, &e), HD_E_PARSE);
    assert_contains(e.msg, "a rule may join at most 250 conditions");
    hd_buf_release(&chain);
    /* the longest chain and the deepest nesting allowed still make valid SQL */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE contacts (id, ext_id, email, phone, locale, "
                                  "timezone, attrs, created_at, updated_at)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    for (int round = 0; round < 3; round++) {
        hd_buf_init(&chain);
        if (round == 2) { /* found by the fuzzer: day counts beyond any date */
            hd_buf_adds(&chain, "days_since(last_active) < 177777777777194763 or "
                                "days_until(last_active) between -900000000000000000000 and "
                                "900000000000000000000");
        } else if (round == 0) {
            hd_buf_adds(&chain, "a = 1"); /* 250 conditions */
            for (int i = 0; i < 249; i++)
                hd_buf_adds(&chain, i % 2 ? " or a = 1" : " and a = 2");
        } else {
            for (int i = 0; i < 15; i++) /* 22 levels: just under the limit */
                hd_buf_adds(&chain, i % 2 ? "not (" : "(a = 1 or ");
            hd_buf_adds(&chain, "a = 1");
            for (int i = 0; i < 15; i++)
                hd_buf_addc(&chain, ')');
        }
        if (parse(chain.data, &t, &e) != 0)
            fail_msg("round %d: %s", round, e.msg);
        struct hd_buf sql, q;
        hd_buf_init(&sql);
        hd_buf_init(&q);
        hd_store_seg_sql(t, NOW, &sql, NULL);
        hd_buf_addf(&q, "SELECT count(*) FROM contacts c WHERE %s", sql.data);
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(db, q.data, -1, &s, NULL) != SQLITE_OK)
            fail_msg("round %d: %s", round, sqlite3_errmsg(db));
        sqlite3_finalize(s);
        hd_buf_release(&sql);
        hd_buf_release(&q);
        hd_buf_release(&chain);
        hd_segast_free(t);
    }
    sqlite3_close(db);
}

/* ---- semantics --------------------------------------------------------------- */

#define NCONTACTS 3000

struct model {
    char id[16];
    char *email, *phone;
    bool has_plan, has_age, has_vip, has_last, has_exp, has_tags, has_city;
    char plan[16], city[32];
    double age;
    bool vip;
    int64_t last, exp; /* epoch of the stored date (plain or date-time) */
    bool last_is_date, exp_is_date;
    char tags[3][8];
    int ntags;
    bool email_optout_mkt, sms_optout_mkt, email_suppressed, sms_suppressed;
    int64_t created;
};

static struct model M[NCONTACTS];
static int ncontacts = NCONTACTS; /* how many of M are in the store */

#define RNG_SEED 0x2545F4914F6CDD1Dull
static uint64_t rng = RNG_SEED;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void iso(int64_t t, bool date_only, char *buf)
{
    if (date_only)
        hd_time_format_date(t, buf, 32);
    else
        hd_time_format_iso(t, buf, 32);
}

static struct hd_store *build_db(void)
{
    static const char *const plans[] = {"free", "silver", "gold", "platinum"};
    static const char *const cities[] = {"London", "Paris", "Beijing", "Boston", "Lyon"};
    static const char *const tagset[] = {"beta", "vip", "churn", "new"};
    struct hd_store *st = tu_both_open(&both, NULL, ":memory:");
    struct hd_store_import *imp;
    struct hd_err e = {0};
    assert_int_equal(hd_store_import_begin(st, HD_IMPORT_MERGE, NOW, &imp, &e), 0);
    for (int i = 0; i < ncontacts; i++) {
        struct model *m = &M[i];
        struct hd_buf a;
        char email[64], phone[32], d[32];
        memset(m, 0, sizeof *m);
        hd_buf_init(&a);
        snprintf(m->id, sizeof m->id, "m%05d", i);
        uint64_t r = rnd();
        hd_buf_addc(&a, '{');
        if (r % 5) {
            m->has_plan = true;
            snprintf(m->plan, sizeof m->plan, "%s", plans[(r >> 3) % 4]);
            hd_buf_addf(&a, "\"plan\":\"%s\",", m->plan);
        }
        if ((r >> 6) % 4) {
            m->has_age = true;
            m->age = (double)((r >> 8) % 80) + ((r >> 15) % 2 ? 0.5 : 0);
            hd_buf_addf(&a, "\"age\":%g,", m->age);
        }
        if ((r >> 16) % 3) {
            m->has_vip = true;
            m->vip = (r >> 18) % 4 == 0;
            hd_buf_addf(&a, "\"vip\":%s,", m->vip ? "true" : "false");
        }
        if ((r >> 20) % 6) {
            m->has_last = true;
            m->last_is_date = (r >> 23) % 2;
            /* within 120 days of NOW, sometimes exactly on day boundaries */
            int64_t back = (int64_t)((r >> 24) % (120 * 24)) * 3600;
            m->last = NOW - back;
            /* plain dates, and date-times at midnight too (the same instant) */
            if (m->last_is_date || (r >> 60) % 4 == 0)
                m->last -= ((m->last % 86400) + 86400) % 86400;
            iso(m->last, m->last_is_date, d);
            hd_buf_addf(&a, "\"last_active\":\"%s\",", d);
        }
        if ((r >> 34) % 5) {
            m->has_exp = true;
            m->exp_is_date = (r >> 62) % 4 != 0;
            m->exp = (NOW / 86400 + (int64_t)((r >> 37) % 400) - 200) * 86400;
            if (!m->exp_is_date)
                m->exp += (int64_t)((r >> 28) % 24) * 3600;
            iso(m->exp, m->exp_is_date, d);
            hd_buf_addf(&a, "\"membership_expires\":\"%s\",", d);
        }
        if ((r >> 46) % 3 == 0) {
            m->has_tags = true;
            m->ntags = (int)((r >> 48) % 3);
            hd_buf_adds(&a, "\"tags\":[");
            for (int k = 0; k < m->ntags; k++) {
                snprintf(m->tags[k], sizeof m->tags[k], "%s", tagset[(r >> (50 + k * 2)) % 4]);
                hd_buf_addf(&a, "%s\"%s\"", k ? "," : "", m->tags[k]);
            }
            hd_buf_adds(&a, "],");
        }
        if ((r >> 56) % 4) {
            m->has_city = true;
            snprintf(m->city, sizeof m->city, "%s", cities[(r >> 58) % 5]);
            hd_buf_addf(&a, "\"city\":\"%s\",", m->city);
        }
        if (a.len > 1)
            a.data[--a.len] = '\0';
        hd_buf_addc(&a, '}');
        uint64_t r2 = rnd();
        if (r2 % 4) {
            snprintf(email, sizeof email, "%.15s@example.com", m->id);
            m->email = hd_xstrdup(email);
        }
        if ((r2 >> 2) % 3) {
            snprintf(phone, sizeof phone, "+1415%07d", i);
            m->phone = hd_xstrdup(phone);
        }
        m->created = NOW - (int64_t)((r2 >> 4) % (400 * 86400));
        struct hd_contact_row row = {.ext_id = m->id,
                                     .email = m->email,
                                     .phone = m->phone,
                                     .created_at = m->created,
                                     .attrs = a.data};
        assert_int_equal(hd_store_import_row(imp, &row, &e), 0);
        m->email_optout_mkt = (r2 >> 10) % 7 == 0;
        m->sms_optout_mkt = (r2 >> 13) % 6 == 0;
        m->email_suppressed = m->email && (r2 >> 16) % 9 == 0;
        m->sms_suppressed = m->phone && (r2 >> 20) % 8 == 0;
        hd_buf_release(&a);
    }
    assert_int_equal(hd_store_import_end(imp, true, NULL, NULL, &e), 0);
    for (int i = 0; i < ncontacts; i++) {
        struct model *m = &M[i];
        if (m->email_optout_mkt)
            assert_int_equal(hd_store_consent_set(st, m->id, HD_CH_EMAIL, HD_CAT_MARKETING,
                                                  HD_CONSENT_OPTED_OUT, "t", NOW, &e),
                             0);
        if (m->sms_optout_mkt)
            assert_int_equal(hd_store_consent_set(st, m->id, HD_CH_SMS, HD_CAT_MARKETING,
                                                  HD_CONSENT_OPTED_OUT, "t", NOW, &e),
                             0);
        if (m->email_suppressed) {
            struct hd_suppression s = {m->email, HD_CH_EMAIL, "hard_bounce", NOW, NULL, 0};
            assert_int_equal(hd_store_suppress_add(st, &s, &e), 0);
        }
        if (m->sms_suppressed) {
            struct hd_suppression s = {m->phone, HD_CH_SMS, "invalid_number", NOW, NULL, 0};
            assert_int_equal(hd_store_suppress_add(st, &s, &e), 0);
        }
    }
    return st;
}

/* The documented meaning, written out directly: -1 false because missing. */
static int64_t fdays(int64_t a, int64_t b) /* floor((a - b) / 1 day) */
{
    int64_t d = a - b;
    return d >= 0 ? d / 86400 : -((-d + 86399) / 86400);
}

/* days_since and days_until as the README says: on a plain date the calendar
 * days between today (UTC) and the date, on a date-time floor of the days
 * between now and then */
static int64_t today_mid(void)
{
    return now_ - ((now_ % 86400) + 86400) % 86400;
}
static int64_t dsince(int64_t t, bool date_only)
{
    return date_only ? fdays(today_mid(), t) : fdays(now_, t);
}
static int64_t duntil(int64_t t, bool date_only)
{
    return date_only ? fdays(t, today_mid()) : fdays(t, now_);
}

static bool has_tag(const struct model *m, const char *t)
{
    for (int k = 0; k < m->ntags; k++)
        if (strcmp(m->tags[k], t) == 0)
            return true;
    return false;
}

static bool reach(const struct model *m, int ch)
{
    if (ch == HD_CH_EMAIL)
        return m->email && !m->email_suppressed && !m->email_optout_mkt;
    return m->phone && !m->sms_suppressed && !m->sms_optout_mkt;
}

/* Each rule with its meaning, evaluated per contact in C. */
struct rule {
    const char *expr;
    bool (*eval)(const struct model *m);
};

static bool r1(const struct model *m)
{
    return m->has_plan && strcmp(m->plan, "gold") == 0;
}
static bool r2(const struct model *m)
{
    return m->has_plan && strcmp(m->plan, "gold") != 0;
}
static bool r3(const struct model *m)
{
    return !(m->has_plan && strcmp(m->plan, "gold") == 0);
}
static bool r4(const struct model *m)
{
    return m->has_last && dsince(m->last, m->last_is_date) >= 30 && m->has_plan &&
           (strcmp(m->plan, "gold") == 0 || strcmp(m->plan, "silver") == 0) && m->has_age &&
           m->age > 20;
}
static bool r5(const struct model *m)
{
    return m->has_last && dsince(m->last, m->last_is_date) > 30;
}
static bool r6(const struct model *m)
{
    return m->has_last && dsince(m->last, m->last_is_date) >= 7 &&
           dsince(m->last, m->last_is_date) <= 7;
}
static bool r7(const struct model *m)
{
    return m->has_last && dsince(m->last, m->last_is_date) < 14;
}
static bool r8(const struct model *m)
{
    return m->has_last && dsince(m->last, m->last_is_date) >= 14 &&
           dsince(m->last, m->last_is_date) <= 30;
}
static bool r9(const struct model *m)
{
    return m->has_exp && duntil(m->exp, m->exp_is_date) >= 0 &&
           duntil(m->exp, m->exp_is_date) <= 90;
}
static bool r10(const struct model *m)
{
    return m->has_exp && duntil(m->exp, m->exp_is_date) >= -90 &&
           duntil(m->exp, m->exp_is_date) <= -1;
}
static bool r11(const struct model *m)
{
    return m->has_exp && duntil(m->exp, m->exp_is_date) > 90;
}
static bool r12(const struct model *m)
{
    return m->has_vip && m->vip;
}
static bool r13(const struct model *m)
{
    return !(m->has_vip && m->vip);
}
static bool r14(const struct model *m)
{
    return m->has_age && m->age >= 18 && m->age <= 30;
}
static bool r15(const struct model *m)
{
    return m->has_age && !(m->age >= 18 && m->age <= 30);
}
static bool r16(const struct model *m)
{
    return m->has_plan && strcmp(m->plan, "free") != 0 && strcmp(m->plan, "silver") != 0;
}
static bool r17(const struct model *m)
{
    return m->has_tags && has_tag(m, "beta");
}
static bool r18(const struct model *m)
{
    return m->has_city && strstr(m->city, "on") != NULL;
}
static bool r19(const struct model *m)
{
    return m->has_city && strncmp(m->city, "Bo", 2) == 0;
}
static bool r20(const struct model *m)
{
    return m->has_age;
}
static bool r21(const struct model *m)
{
    return !m->has_tags;
}
static bool r22(const struct model *m)
{
    return reach(m, HD_CH_EMAIL);
}
static bool r23(const struct model *m)
{
    return reach(m, HD_CH_SMS) && !reach(m, HD_CH_EMAIL);
}
static bool r24(const struct model *m)
{
    return !m->email_optout_mkt;
}
static bool r25(const struct model *m)
{
    return m->has_last && m->last < now_ - 30 * 86400;
}
static bool r26(const struct model *m)
{
    return m->created >= now_ - 90 * 86400;
}
static bool r27(const struct model *m)
{
    return m->email != NULL && m->phone == NULL;
}
static bool r28(const struct model *m)
{
    return (m->has_plan && strcmp(m->plan, "gold") == 0) ||
           (m->has_vip && m->vip && m->has_age && m->age < 40);
}
static bool r29(const struct model *m)
{
    return m->has_last && dsince(m->last, m->last_is_date) != 10;
}
static bool r30(const struct model *m)
{
    /* as instants, whatever the stored form */
    return m->has_last && m->last >= T_1101;
}
static bool r31(const struct model *m)
{
    return m->has_age && m->age == 20.5;
}

static bool r32(const struct model *m)
{
    return m->has_last && m->last == T_1101;
}
static bool r33(const struct model *m)
{
    return m->has_last && m->last <= today_mid() - 30 * 86400;
}
static bool r34(const struct model *m)
{
    return m->has_last && (m->last == T_1101 || m->last == T_1110);
}
static bool r35(const struct model *m)
{
    return m->has_last && m->last >= T_1101 && m->last <= T_1110;
}
static bool r36(const struct model *m)
{
    return m->has_last && m->last != today_mid() - 5 * 86400;
}
static bool r37(const struct model *m)
{
    return m->has_exp && duntil(m->exp, m->exp_is_date) == 0;
}
static bool r38(const struct model *m)
{
    return m->has_last && duntil(m->last, m->last_is_date) >= -3;
}
static bool r39(const struct model *m)
{
    return m->has_last && m->last > now_ - 20 * 86400;
}
static bool r40(const struct model *m)
{
    return m->has_exp && duntil(m->exp, m->exp_is_date) < 5 && duntil(m->exp, m->exp_is_date) != 2;
}

static const struct rule rules[] = {
    {"plan = \"gold\"", r1},
    {"plan != \"gold\"", r2},
    {"not (plan = \"gold\")", r3},
    {"days_since(last_active) >= 30 and plan in (\"gold\", \"silver\") and age > 20", r4},
    {"days_since(last_active) > 30", r5},
    {"days_since(last_active) between 7 and 7", r6},
    {"days_since(last_active) < 14", r7},
    {"days_since(last_active) between 14 and 30", r8},
    {"days_until(membership_expires) between 0 and 90", r9},
    {"days_until(membership_expires) between -90 and -1", r10},
    {"days_until(membership_expires) > 90", r11},
    {"vip", r12},
    {"not vip", r13},
    {"age between 18 and 30", r14},
    {"age not between 18 and 30", r15},
    {"plan not in (\"free\", \"silver\")", r16},
    {"tags contains \"beta\"", r17},
    {"city contains \"on\"", r18},
    {"city starts_with \"Bo\"", r19},
    {"age exists", r20},
    {"tags is null", r21},
    {"reachable(email)", r22},
    {"reachable(sms) and not reachable(email)", r23},
    {"opted_in(email)", r24},
    {"last_active < now - 30d", r25},
    {"created_at >= now - 90d", r26},
    {"email exists and phone is null", r27},
    {"plan = \"gold\" or vip = true and age < 40", r28},
    {"days_since(last_active) != 10", r29},
    {"last_active >= 2026-11-01", r30},
    {"age = 20.5", r31},
    {"last_active = 2026-11-01T00:00:00Z", r32},
    {"last_active <= today - 30d", r33},
    {"last_active in (2026-11-01, \"2026-11-10T00:00:00Z\")", r34},
    {"last_active between 2026-11-01T00:00:00Z and 2026-11-10", r35},
    {"last_active != today - 5d", r36},
    {"days_until(membership_expires) = 0", r37},
    {"days_until(last_active) >= -3", r38},
    {"last_active > now - 20d", r39},
    {"days_until(membership_expires) < 5 and days_until(membership_expires) != 2", r40},
};

struct collect {
    bool *in;
};

static int mark(void *ud, const struct hd_contact *c)
{
    struct collect *col = ud;
    int i = atoi(c->ext_id + 1);
    col->in[i] = true;
    return 0;
}

/* Every rule against the evaluator at one "now". */
static void check_rules(struct hd_store *st, int64_t now)
{
    static bool in[NCONTACTS];
    now_ = now;
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        struct hd_seg_node *t;
        struct hd_err e = {0};
        if (parse(rules[r].expr, &t, &e) != 0)
            fail_msg("rule %zu: %s", r, e.msg);
        memset(in, 0, sizeof in);
        struct collect col = {in};
        int64_t count = -1;
        assert_int_equal(hd_store_seg_each(st, t, now, 0, false, mark, &col, &e), 0);
        assert_int_equal(hd_store_seg_count(st, t, now, &count, &e), 0);
        int64_t expected = 0, wrong = 0, first = -1;
        for (int i = 0; i < ncontacts; i++) {
            bool want = rules[r].eval(&M[i]);
            expected += want;
            if (want != in[i] && wrong++ == 0)
                first = i;
        }
        if (wrong || count != expected)
            fail_msg("now %lld, rule %zu [%s]: %lld contacts differ (first m%05lld), count %lld, "
                     "expected %lld",
                     (long long)now, r, rules[r].expr, (long long)wrong, (long long)first,
                     (long long)count, (long long)expected);
        /* a rule that selects nobody or everybody tests little */
        if (expected == 0 || expected == ncontacts)
            fail_msg("rule %zu [%s] selects %lld: make the data more varied", r, rules[r].expr,
                     (long long)expected);
        hd_segast_free(t);
    }
    now_ = NOW;
}

static void semantics(int n)
{
    rng = RNG_SEED; /* the same contacts on either engine */
    ncontacts = n;
    struct hd_store *st = build_db();
    check_rules(st, NOW);
    /* at midnight "now" and "today" are the same instant, and a bound falls
     * exactly on the stored midnights (issue 15, item 18) */
    check_rules(st, MIDNIGHT);
    check_rules(st, NOW + 15 * 3600 + 59 * 60 + 59);
    for (int i = 0; i < ncontacts; i++) {
        free(M[i].email);
        free(M[i].phone);
    }
    hd_store_free(st);
}

static void test_segment_semantics(void **state)
{
    (void)state;
    semantics(NCONTACTS);
}

/* PostgreSQL's dialect against the same evaluator, on the first contacts
 * (every rule still selects some and not all) */
static void test_segment_semantics_pg(void **state)
{
    (void)state;
    semantics(NCONTACTS / 3);
}

/* ---- no injection ------------------------------------------------------------------ */

static const char *const hostile[] = {"'; DROP TABLE contacts; --",
                                      "\\\" OR 1=1 --",
                                      "Robert'); DELETE FROM consent;--",
                                      "?1 ?2 ?3",
                                      "%s%n%x",
                                      "\\u0000",
                                      "中文",
                                      "a\\nb",
                                      "\\\\",
                                      ") OR (1=1",
                                      "$.x') OR 1=1 --",
                                      "json_extract(c.attrs,'$')"};

static void rand_string(struct hd_buf *b)
{
    hd_buf_addc(b, '"');
    hd_buf_adds(b, hostile[rnd() % (sizeof hostile / sizeof hostile[0])]);
    hd_buf_addc(b, '"');
}

/* A random rule from the grammar; kinds kept in sync with the field names. */
static void rand_rule(struct hd_buf *b, int depth)
{
    static const char *const ops[] = {"=", "!=", "<", "<=", ">", ">="};
    switch (depth > 3 ? rnd() % 6 + 3 : rnd() % 9) {
    case 0:
    case 1:
        hd_buf_addc(b, '(');
        rand_rule(b, depth + 1);
        hd_buf_adds(b, rnd() % 2 ? ") and (" : ") or (");
        rand_rule(b, depth + 1);
        hd_buf_addc(b, ')');
        break;
    case 2:
        hd_buf_adds(b, "not ");
        rand_rule(b, depth + 1);
        break;
    case 3:
        hd_buf_addf(b, "city %s ", ops[rnd() % 6]);
        rand_string(b);
        break;
    case 4:
        hd_buf_adds(b, rnd() % 2 ? "plan in (" : "city not in (");
        rand_string(b);
        hd_buf_adds(b, ", ");
        rand_string(b);
        hd_buf_addc(b, ')');
        break;
    case 5:
        hd_buf_adds(b, rnd() % 2 ? "tags contains " : "city starts_with ");
        rand_string(b);
        break;
    case 6:
        hd_buf_addf(b, "days_since(last_active) %s %d", ops[rnd() % 6], (int)(rnd() % 100));
        break;
    case 7:
        hd_buf_addf(b, "unknown_attr_%d %s ", (int)(rnd() % 3), ops[rnd() % 2]);
        rand_string(b);
        break;
    default:
        hd_buf_adds(b, rnd() % 2 ? "reachable(email)" : "age between 1 and 50");
        break;
    }
}

/* A rule and the same rule with other letters in its strings, parsed. */
static void rule_pair(struct hd_buf *rule, struct hd_seg_node **t, struct hd_seg_node **t2)
{
    struct hd_buf rule2;
    struct hd_err e = {0};
    uint64_t seed = rng;
    rand_rule(rule, 0);
    if (parse(rule->data, t, &e) != 0)
        fail_msg("generated rule did not parse: %s\n%s", rule->data, e.msg);
    uint64_t after = rng;
    rng = seed;
    hd_buf_init(&rule2);
    rand_rule(&rule2, 0);
    rng = after;
    bool in_str = false; /* change the text inside string literals only */
    for (size_t k = 0; k < rule2.len; k++) {
        char ch = rule2.data[k];
        if (ch == '\\' && in_str) {
            k++;
            continue;
        }
        if (ch == '"')
            in_str = !in_str;
        else if (in_str && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
            rule2.data[k] = ch == 'x' ? 'y' : 'x';
    }
    if (parse(rule2.data, t2, &e) != 0)
        fail_msg("variant did not parse: %s\n%s", rule2.data, e.msg);
    hd_buf_release(&rule2);
}

/* The SQL with every string replaced: the "shape" of a rule, in the
 * store's dialect: no hostile text in it, the same text and number of
 * parameters for the variant, and it prepares: on SQLite against raw
 * sqlite3 tables (db), on PostgreSQL (db NULL) in the store, and runs. */
static void no_injection(struct hd_store *st, sqlite3 *db, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        struct hd_buf rule, sql, sql2;
        struct hd_seg_node *t, *t2;
        struct hd_err e = {0};
        hd_buf_init(&rule);
        hd_buf_init(&sql);
        hd_buf_init(&sql2);
        rule_pair(&rule, &t, &t2);
        int np = hd_store_seg_dsql(st, t, NOW, &sql, NULL);
        int np2 = hd_store_seg_dsql(st, t2, NOW, &sql2, NULL);
        /* the SQL text holds none of the hostile text */
        for (size_t h = 0; h < sizeof hostile / sizeof hostile[0]; h++)
            if (strlen(hostile[h]) > 3 && strstr(sql.data, hostile[h]) &&
                strcmp(hostile[h], "json_extract(c.attrs,'$')") != 0)
                fail_msg("rule text reached SQL: %s\n%s", rule.data, sql.data);
        if (strcmp(sql.data, sql2.data) != 0 || np != np2)
            fail_msg("shape changed (%d, %d parameters):\n%s\n%s\n%s", np, np2, rule.data, sql.data,
                     sql2.data);
        if (db) {
            struct hd_buf q;
            sqlite3_stmt *s;
            hd_buf_init(&q);
            hd_buf_addf(&q, "SELECT count(*) FROM contacts c WHERE %s", sql.data);
            if (sqlite3_prepare_v2(db, q.data, -1, &s, NULL) != SQLITE_OK)
                fail_msg("does not prepare: %s\n%s", sqlite3_errmsg(db), q.data);
            sqlite3_finalize(s);
            hd_buf_release(&q);
        } else {
            int64_t n = -1;
            if (hd_store_seg_count(st, t, NOW, &n, &e) != 0 || n != 0)
                fail_msg("does not run (%lld): %s\n%s\n%s", (long long)n, e.msg, rule.data,
                         sql.data);
        }
        hd_segast_free(t);
        hd_segast_free(t2);
        hd_buf_release(&rule);
        hd_buf_release(&sql);
        hd_buf_release(&sql2);
    }
}

static void test_segment_no_injection(void **state)
{
    (void)state;
    sqlite3 *db;
    struct hd_store *st = tu_both_open(&both, NULL, ":memory:");
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    /* the same tables, to prepare against */
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE contacts (id INTEGER PRIMARY KEY, ext_id, email, "
                                  "phone, locale, timezone, attrs, created_at, updated_at);"
                                  "CREATE TABLE consent (contact_id, channel, category, status);"
                                  "CREATE TABLE suppressions (address, channel, reason);"
                                  "CREATE TABLE push_tokens (contact_id, platform, token);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    no_injection(st, db, 2000);
    sqlite3_close(db);
    hd_store_free(st);
}

/* PostgreSQL's dialect: each rule prepared and run in the store (an
 * empty one: what runs is the point, not who it selects) */
static void test_segment_no_injection_pg(void **state)
{
    (void)state;
    struct hd_store *st = tu_both_open(&both, NULL, ":memory:");
    no_injection(st, NULL, 400);
    hd_store_free(st);
}

static void stored_rules(void);

static void test_segment_refs_and_store(void **state)
{
    (void)state;
    char **names;
    size_t n;
    assert_int_equal(
        hd_seg_parse_refs("in_segment(\"a\") or (in_segment(\"b\") and x = 1)", &names, &n, NULL),
        0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "a");
    assert_string_equal(names[1], "b");
    free(names[0]);
    free(names[1]);
    free(names);
    assert_true(hd_seg_name_valid("churn_risk-2"));
    assert_false(hd_seg_name_valid("churn risk"));
    assert_false(hd_seg_name_valid(""));

    stored_rules();
}

/* Stored rules, in_segment through the store, and a deleted one. */
static void stored_rules(void)
{
    struct hd_store *st = tu_both_open(&both, NULL, ":memory:");
    struct hd_err e = {0};
    char *expr = NULL;
    assert_int_equal(hd_store_segment_put(st, "a", "x = 1", false, 1, &e), 0);
    assert_int_equal(hd_store_segment_put(st, "a", "x = 2", false, 2, &e), HD_E_EXISTS);
    assert_contains(e.msg, "already exists (use --replace to change it)");
    assert_int_equal(hd_store_segment_put(st, "a", "x = 2", true, 2, &e), 0);
    assert_int_equal(hd_store_segment_get(st, "a", &expr, &e), 0);
    assert_string_equal(expr, "x = 2");
    free(expr);
    struct hd_seg_node *t;
    assert_int_equal(hd_store_segment_put(st, "b", "in_segment(\"a\") and y = 3", false, 3, &e), 0);
    assert_int_equal(hd_seg_load(st, "b", NULL, NOW, &t, &e), 0);
    struct hd_buf b;
    hd_buf_init(&b);
    hd_segast_print(t, &b);
    assert_string_equal(b.data, "(and (= x 2) (= y 3))");
    hd_buf_release(&b);
    hd_segast_free(t);
    assert_int_equal(hd_store_segment_delete(st, "a", &e), 0);
    assert_int_equal(hd_store_segment_delete(st, "a", &e), HD_E_NOTFOUND);
    assert_int_equal(hd_seg_load(st, "b", NULL, NOW, &t, &e), HD_E_PARSE);
    assert_contains(e.msg, "no segment 'a'");
    hd_store_free(st);
}

static void test_segment_refs_and_store_pg(void **state)
{
    (void)state;
    stored_rules();
}

/* ---- through the command line: import, numbers, unknown attributes ---------------------- */

static void count_is(const char *dir, const char *expr, const char *want)
{
    struct tu_run r;
    tu_herald(&r, dir, NULL, "segment", "count", "--expr", expr, NULL);
    if (r.status != 0 || strcmp(r.out, want) != 0)
        fail_msg("[%s]: exit %d, out [%s], want [%s]; %s", expr, r.status, r.out, want, r.err);
    tu_run_release(&r);
}

/* Issue 15 items 17-21, end to end with the real import. Each failed on the
 * code before (17: expiring today was -1; 18: a stored midnight date-time did
 * not equal its own value; 19: 0.3 and big integers matched nobody, 1e6 was
 * refused; 21: last_actve counted 0). */
static void cli_semantics_on(const char *store)
{
    struct tu_run r;
    char *dir = tu_tmpdir(), *csv = tu_path(dir, "c.csv"), *jl = tu_path(dir, "c.jsonl");
    char *conf = tu_path(dir, "h.conf"), text[512];
    snprintf(text, sizeof text, "[herald]\ndatabase = %s\n", store);
    tu_write(conf, text);
    setenv("HERALD_CONFIG", "h.conf", 1);
    setenv("HERALD_NOW", "2026-11-22T08:00:00Z", 1);
    tu_write(csv, "id,score,big_number,expires,seen,x\n"
                  "a,0.30000000000000004,12345678901234567,2026-11-22,2026-11-22T00:00:00Z,2e3\n"
                  "b,0.3,12345678901234567,2026-11-23,2026-11-22,1e6\n"
                  "c,0.31,12345678901234568,2027-02-21,2026-11-21T23:59:59Z,1000000.0\n"
                  "d,1.5,-7,2026-11-21,2026-10-23T08:00:00Z,0.000001\n");
    tu_herald(&r, dir, NULL, "init", NULL);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "contacts", "import", "c.csv", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    /* 17: calendar days on plain dates, whole days on date-times */
    count_is(dir, "days_until(expires) = 0", "1\n");
    count_is(dir, "days_until(expires) between -90 and -1", "1\n");
    count_is(dir, "days_until(expires) between 0 and 90", "2\n");
    count_is(dir, "days_until(expires) > 90", "1\n");
    count_is(dir, "days_since(seen) = 0", "3\n");
    count_is(dir, "days_since(seen) = 30", "1\n");
    /* 18: instants, whatever the stored form */
    count_is(dir, "seen = 2026-11-22T00:00:00Z", "2\n");
    count_is(dir, "seen = \"2026-11-22\"", "2\n");
    count_is(dir, "seen = today", "2\n");
    count_is(dir, "seen <= today", "4\n");
    count_is(dir, "seen < today", "2\n");
    count_is(dir, "seen > today - 1d and seen < today", "1\n");
    count_is(dir, "seen in (2026-11-22, 2026-10-23T08:00:00Z)", "3\n");
    /* 19: one number model, exponents in rules */
    count_is(dir, "score = 0.3", "2\n");
    count_is(dir, "score = 0.30000000000000004", "2\n");
    count_is(dir, "big_number = 12345678901234567", "2\n");
    count_is(dir, "big_number > 12345678901234567", "1\n");
    count_is(dir, "x = 1e6", "2\n");
    count_is(dir, "x = 2E3 or x < 1e-5", "2\n");
    tu_herald(&r, dir, NULL, "contacts", "show", "a", NULL);
    assert_contains(r.out, "0.3\n");
    assert_true(strstr(r.out, "0.30000000000000004") == NULL);
    assert_contains(r.out, "12345678901234567\n");
    tu_run_release(&r);
    /* 20: an object attribute given again is merged key by key */
    tu_write(jl, "{\"id\":\"a\",\"address\":{\"city\":\"Paris\",\"zip\":\"75001\"}}\n"
                 "{\"id\":\"b\",\"address\":{\"city\":\"Lyon\"}}\n");
    tu_herald(&r, dir, NULL, "contacts", "import", "c.jsonl", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    tu_write(jl, "{\"id\":\"a\",\"address\":{\"city\":\"Lyon\",\"floor\":null}}\n");
    tu_herald(&r, dir, NULL, "contacts", "import", "c.jsonl", NULL);
    tu_run_release(&r);
    count_is(dir, "address.city = \"Lyon\" and address.zip = \"75001\"", "1\n");
    /* 21: an attribute no contact has had */
    tu_herald(&r, dir, NULL, "segment", "count", "--expr", "seeen > today - 3d", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "expression: 1:1: no contact has an attribute 'seeen' (did you mean "
                           "'seen'?); if it is still to come, use --allow-unknown");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "segment", "define", "s", "last_actve > now or scor = 1", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "segment 's': 1:1: no contact has an attribute 'last_actve'; if");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "segment", "list", NULL);
    assert_true(strstr(r.out, "last_actve") == NULL); /* nothing stored */
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "segment", "define", "s", "scor = 1 or score = 1.5", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "'scor' (did you mean 'score'?)");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "segment", "define", "s", "scor = 1 or score = 1.5", "--allow-unknown",
              NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "segment 's' defined: 1 contact now");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "segment", "count", "s", "--allow-unknown", NULL);
    assert_string_equal(r.out, "1\n");
    tu_run_release(&r);
    /* its own count needs no flag: the rule was allowed when defined (it
     * was refused, while show, export and campaigns read it) */
    tu_herald(&r, dir, NULL, "segment", "count", "s", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "1\n");
    tu_run_release(&r);
    unsetenv("HERALD_NOW");
    unsetenv("HERALD_CONFIG");
    free(csv);
    free(jl);
    free(conf);
    tu_rmdir(dir);
}

static void test_segment_cli_semantics(void **state)
{
    (void)state;
    cli_semantics_on("h.db");
}

/* The same numbers from PostgreSQL's compiled rules (its JSON access). */
static void test_segment_cli_semantics_pg(void **state)
{
    (void)state;
    char name[64], *uri = tu_pg_db(name);
    cli_semantics_on(uri);
    tu_pg_drop(name);
    free(uri);
}

/* ---- the nesting limit is what SQLite accepts ------------------------------------------- */

/* For each condition and each way of nesting it, the deepest rule the parser
 * accepts must prepare: the limit is never above SQLite's parser stack
 * (issue 16 item 1: 18 nested nots passed the parser and then made SQLite
 * fail with "parser stack overflow"), nor what PostgreSQL takes. */
static void nesting_prepares(void)
{
    static const char *const leaves[] = {"age = 1",
                                         "tags contains \"a\"",
                                         "reachable(push)",
                                         "days_until(last_active) >= 3",
                                         "days_since(last_active) != 3",
                                         "last_active in (2026-11-01, today)",
                                         "city starts_with \"B\"",
                                         "plan not between \"a\" and \"b\"",
                                         "in_segment(\"gold_churned\")"};
    static const char *const wraps[][2] = {{"not ", ""},
                                           {"not (", ")"},
                                           {"(age = 2 and ", ")"},
                                           {"(age = 2 or not ", ")"},
                                           {"not (age = 2 or ", ")"},
                                           {"(not age = 2 and (vip or ", "))"}};
    struct hd_store *st = tu_both_open(&both, NULL, ":memory:");
    struct hd_err e = {0};
    for (size_t l = 0; l < sizeof leaves / sizeof leaves[0]; l++)
        for (size_t w = 0; w < sizeof wraps / sizeof wraps[0]; w++) {
            struct hd_seg_node *last = NULL, *t;
            int k;
            for (k = 0; k < 200; k++) {
                struct hd_buf b;
                hd_buf_init(&b);
                for (int i = 0; i < k; i++)
                    hd_buf_adds(&b, wraps[w][0]);
                hd_buf_adds(&b, leaves[l]);
                for (int i = 0; i < k; i++)
                    hd_buf_adds(&b, wraps[w][1]);
                int rc = parse(b.data, &t, &e);
                hd_buf_release(&b);
                if (rc < 0) {
                    assert_true(strstr(e.msg, "levels deep") != NULL);
                    break;
                }
                hd_segast_free(last);
                last = t;
            }
            assert_true(k > 0 && k < 200);
            int64_t n;
            if (hd_store_seg_count(st, last, NOW, &n, &e) != 0)
                fail_msg("[%s%s%s] nested %d times parses but does not prepare: %s", wraps[w][0],
                         leaves[l], wraps[w][1], k - 1, e.msg);
            hd_segast_free(last);
        }
    hd_store_free(st);
}

static void test_segment_nesting_prepares(void **state)
{
    (void)state;
    nesting_prepares();
}

static void test_segment_nesting_prepares_pg(void **state)
{
    (void)state;
    nesting_prepares();
}

/* ---- a campaign whose segment cannot be evaluated ---------------------------------------- */

/* Issue 16 item 1: on main `run` exited 1 on the bad campaign and the good
 * one never fired; a segment in use could be deleted. */
static void campaign_pause_on(const char *store)
{
    struct tu_run r;
    char *dir = tu_tmpdir(), *conf = tu_path(dir, "h.conf"), *csv = tu_path(dir, "c.csv");
    char *tpl = tu_path(dir, "templates"), text[1024];
    const char *src = getenv("HERALD_SRC");
    char src_tpl[4096];
    snprintf(src_tpl, sizeof src_tpl, "%s/templates", src ? src : ".");
    assert_int_equal(symlink(src_tpl, tpl), 0);
    snprintf(text, sizeof text,
             "[herald]\ndatabase = %s\ntemplates = templates\ntimezone = UTC\n"
             "log_level = info\n[provider sms]\ntype = twilio\n"
             "base_url = http://127.0.0.1:9\naccount_sid = AC0123\n"
             "auth_token_env = TEST_SEG_TOKEN\nfrom = +15550001111\n"
             "[channel sms]\nproviders = sms\n",
             store);
    tu_write(conf, text);
    tu_write(csv, "id,phone,plan,first_name\na,+15550000001,gold,Ann\n");
    setenv("TEST_SEG_TOKEN", "t", 1);
    setenv("HERALD_CONFIG", "h.conf", 1);
    setenv("HERALD_NOW", "2026-11-22T08:00:00Z", 1);
    const char *const setup[][8] = {
        {"init"},
        {"contacts", "import", "c.csv"},
        {"segment", "define", "g", "plan = \"gold\""},
        {"segment", "define", "h", "plan = \"gold\""},
        {"campaign", "create", "bad", "--segment", "g", "--template", "recall", "--channels"},
        {"campaign", "create", "good", "--segment", "h", "--template", "recall", "--channels"}};
    for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++) {
        bool camp = strcmp(setup[i][0], "campaign") == 0;
        tu_herald(&r, dir, NULL, setup[i][0], setup[i][1], setup[i][2], setup[i][3], setup[i][4],
                  setup[i][5], setup[i][6], setup[i][7], camp ? "sms" : NULL, "--now", NULL);
        if (r.status != 0)
            fail_msg("%s %s: %s", setup[i][0], setup[i][1], r.err);
        tu_run_release(&r);
    }
    /* a rule stored before it was checked, as an older herald could */
    free(tu_sql_text(dir, store, "UPDATE segments SET expr = 'plan = ' WHERE name = 'g'"));
    tu_herald(&r, dir, NULL, "run", "--once", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.err, "campaign 'bad': paused: segment 'g' cannot be evaluated: 1:7: "
                           "expected a value after '='");
    assert_contains(r.err, "campaign 'good': run 1 queued 1 message ");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "run", "--once", NULL); /* paused: not tried again */
    assert_int_equal(r.status, 0);
    assert_true(strstr(r.err, "'bad'") == NULL);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "campaign", "show", "bad", NULL);
    assert_contains(r.out, "status       paused\n");
    assert_contains(r.out,
                    "paused by    herald: segment 'g' cannot be evaluated: 1:7: "
                    "expected a value after '=' (fix it, then 'herald campaign resume bad')");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "why", "a", "bad", NULL);
    assert_contains(r.out, "the campaign is paused: segment 'g' cannot be evaluated");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "segment", "delete", "g", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "segment 'g' is used by campaign 'bad': cancel it or wait until it is "
                           "done");
    tu_run_release(&r);
    /* fixed and resumed, it fires; the reason goes */
    tu_herald(&r, dir, NULL, "segment", "define", "g", "plan = \"gold\"", "--replace", NULL);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "campaign", "resume", "bad", NULL);
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "run", "--once", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.err, "campaign 'bad': run 1 queued 1 message "); /* numbered per campaign */
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "campaign", "show", "bad", NULL);
    assert_true(strstr(r.out, "paused by") == NULL);
    tu_run_release(&r);
    /* 18 nested nots: SQLite took 17; now the rule prepares */
    tu_herald(&r, dir, NULL, "segment", "define", "deep",
              "not not not not not not not not not not not not not not not not not not "
              "plan = \"gold\"",
              NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "segment 'deep' defined: 1 contact now");
    tu_run_release(&r);
    unsetenv("HERALD_NOW");
    unsetenv("HERALD_CONFIG");
    free(conf);
    free(csv);
    free(tpl);
    tu_rmdir(dir);
}

static void test_segment_campaign_pause(void **state)
{
    (void)state;
    campaign_pause_on("h.db");
}

static void test_segment_campaign_pause_pg(void **state)
{
    (void)state;
    char name[64], *uri = tu_pg_db(name);
    campaign_pause_on(uri);
    tu_pg_drop(name);
    free(uri);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segment_parse_valid),
        cmocka_unit_test(test_segment_parse_errors),
        cmocka_unit_test(test_segment_semantics),
        cmocka_unit_test(test_segment_no_injection),
        cmocka_unit_test(test_segment_refs_and_store),
        cmocka_unit_test(test_segment_cli_semantics),
        cmocka_unit_test(test_segment_cli_semantics_pg),
        cmocka_unit_test(test_segment_nesting_prepares),
        cmocka_unit_test(test_segment_campaign_pause),
        cmocka_unit_test(test_segment_campaign_pause_pg),
        /* last: the SQLite cases draw the same random rules as before */
        cmocka_unit_test_setup_teardown(test_segment_semantics_pg, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_segment_no_injection_pg, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_segment_nesting_prepares_pg, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(test_segment_refs_and_store_pg, setup_pg, teardown),
    };
    return cmocka_run_group_tests_name("segment", tests, NULL, NULL);
}
