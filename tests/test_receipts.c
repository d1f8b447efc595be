/* test_receipts: receipts (issue 19). Unit tests of the state machine's
 * new moves; then end to end: a campaign through the Twilio mock (whose
 * message sids are md5 of the number and its count, so a test can name a
 * sid before the message exists), the real `herald serve`, and status
 * callbacks and replies signed by tests/twilio_sign.py (Python's hmac, not
 * herald's code; it is first checked against Twilio's documented example).
 * The test checks herald log, history, why, stats, the suppression list
 * and consent exactly, and that a second campaign skips the suppressed and
 * opted-out numbers. Each end-to-end case runs on a SQLite file and on a
 * PostgreSQL store (tu_pg_db). */
#include "testnet.h"

#include <openssl/evp.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "herald/bounce.h"
#include "herald/config.h"
#include "herald/dispatch.h"
#include "herald/state.h"
#include "herald/store.h"

#define TW_SID "AC0123456789abcdef0123456789abcdef"
#define TW_TOKEN "tw-Receipts-Token-9931"
#define HOOK "http://127.0.0.1:8025/hooks/twilio/sms"

/* ---- the state machine -------------------------------------------------------------- */

static void test_receipts_states(void **state)
{
    (void)state;
    static const struct {
        int from, to;
        bool ok;
    } moves[] = {
        {HD_ST_SENT, HD_ST_DELIVERED, true},       {HD_ST_SENT, HD_ST_UNDELIVERED, true},
        {HD_ST_SENT, HD_ST_BOUNCED, true},         {HD_ST_SENT, HD_ST_COMPLAINED, true},
        {HD_ST_DELIVERED, HD_ST_COMPLAINED, true}, {HD_ST_DELIVERED, HD_ST_UNDELIVERED, false},
        {HD_ST_DELIVERED, HD_ST_BOUNCED, false},   {HD_ST_UNDELIVERED, HD_ST_DELIVERED, false},
        {HD_ST_BOUNCED, HD_ST_COMPLAINED, false},  {HD_ST_COMPLAINED, HD_ST_DELIVERED, false},
        {HD_ST_SENDING, HD_ST_DELIVERED, false},   {HD_ST_QUEUED, HD_ST_BOUNCED, false},
    };
    for (size_t i = 0; i < sizeof moves / sizeof *moves; i++) {
        int st = moves[i].from;
        struct hd_err e = {0};
        int rc = hd_state_move(&st, moves[i].to, &e);
        if ((rc == 0) != moves[i].ok)
            fail_msg("%s -> %s: got %d", hd_state_name(moves[i].from), hd_state_name(moves[i].to),
                     rc);
        assert_int_equal(st, moves[i].ok ? moves[i].to : moves[i].from);
        if (!moves[i].ok)
            assert_contains(e.msg, "a message cannot go from");
    }
    assert_string_equal(hd_state_name(HD_ST_BOUNCED), "bounced");
    assert_int_equal(hd_state_parse("complained"), HD_ST_COMPLAINED);
    /* the dispatcher is done with them; a bounce is a failure */
    assert_true(hd_state_terminal(HD_ST_DELIVERED));
    assert_true(hd_state_terminal(HD_ST_COMPLAINED));
    assert_true(hd_state_failure(HD_ST_BOUNCED));
    assert_false(hd_state_failure(HD_ST_COMPLAINED));
}

/* ---- bounce classes ---------------------------------------------------------------- */

static struct hd_bounce_rules *load_rules(void)
{
    const char *src = getenv("HERALD_SRC");
    char path[4096];
    struct hd_bounce_rules *r = NULL;
    struct hd_err e = {0};
    snprintf(path, sizeof path, "%s/etc/bounce-rules.tsv", src ? src : ".");
    if (hd_bounce_rules_load(path, &r, &e) < 0)
        fail_msg("%s", e.msg);
    return r;
}

/* etc/bounce-rules.tsv, case by case: the status code first, then the
 * reply code, then the words. */
static void test_receipts_bounce_classes(void **state)
{
    (void)state;
    static const struct {
        const char *status;
        int reply;
        const char *text, *cls, *severity;
    } cases[] = {
        {"5.1.1", 550, "user unknown", "invalid_recipient", "hard"},
        {NULL, 0, "550 5.1.1 <a@example.com>: Recipient address rejected", "invalid_recipient",
         "hard"},
        {NULL, 0, "RCPT TO refused: 550 5.1.2 no such domain", "dns", "hard"},
        {NULL, 0, "RCPT TO refused: 501 5.1.3 bad recipient address syntax", "policy", "none"},
        {NULL, 0, "553 5.6.7 non-ASCII addresses are not permitted", "policy", "none"},
        {"5.2.2", 552, "mailbox full", "mailbox_full", "soft"},
        {NULL, 0, "452 4.2.2 mailbox full", "mailbox_full", "soft"},
        {"5.3.4", 552, "message too big", "message_too_large", "none"},
        {NULL, 0, "554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org",
         "spam_block", "none"},
        {"5.7.26", 550, "unauthenticated email is not accepted (DMARC)", "policy", "none"},
        {NULL, 0, "550 5.4.4 unable to route: no A or MX", "dns", "hard"},
        {NULL, 0, "451 4.3.0 try later", "transient", "soft"},
        /* no enhanced code: the reply, then the words */
        {NULL, 0, "553 sorry, that domain isn't in my list of allowed rcpthosts",
         "invalid_recipient", "hard"},
        {NULL, 0, "550 Requested action not taken: user unknown", "invalid_recipient", "hard"},
        {NULL, 0, "550 Mailbox quota exceeded", "mailbox_full", "soft"},
        {NULL, 0, "554 Message size exceeds fixed limit", "message_too_large", "none"},
        {NULL, 0, "550 Host not found", "dns", "hard"},
        {NULL, 0, "Unrouteable address", "invalid_recipient", "hard"}, /* Exim's */
        {NULL, 0, "550 Your message looks like SPAM", "spam_block", "none"},
        {NULL, 0, "550 something else entirely", "unknown", "soft"},
        /* a number that is no status code is not taken for one */
        {NULL, 0, "550 user 10.1.1.1 unknown here", "unknown", "soft"},
    };
    struct hd_bounce_rules *r = load_rules();
    /* texts that end where a reply code would start, each in a block of
     * its own size: the search stopped past the end (AddressSanitizer
     * caught it in a review's test of a Mailgun failure event) */
    static const char *const ends[] = {"", "refused: ", "refused:    ", "  "};
    for (size_t i = 0; i < sizeof ends / sizeof *ends; i++) {
        char *t = strdup(ends[i]);
        struct hd_bounce b;
        hd_bounce_classify(r, NULL, 0, t, &b);
        assert_int_equal(b.reply, 0);
        assert_string_equal(hd_bounce_class_name(b.cls), "unknown");
        free(t);
    }
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct hd_bounce b;
        hd_bounce_classify(r, cases[i].status, cases[i].reply, cases[i].text, &b);
        if (strcmp(hd_bounce_class_name(b.cls), cases[i].cls) != 0 ||
            strcmp(hd_bounce_severity_name(b.severity), cases[i].severity) != 0)
            fail_msg("'%s': got %s %s, want %s %s", cases[i].text, hd_bounce_class_name(b.cls),
                     hd_bounce_severity_name(b.severity), cases[i].cls, cases[i].severity);
    }
    hd_bounce_rules_free(r);
    /* a bad table is refused whole, with its line */
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"# c\nstatus\t5.1.1\tinvalid_recipient\n", "t.tsv:2: a rule is four fields"},
        {"status\t5.1.1\tnosuch\thard\n", "t.tsv:1: 'nosuch' is not a bounce class"},
        {"code\t5.1.1\tdns\thard\n", "t.tsv:1: 'code' is not status, reply or keyword"},
        {"reply\t550\tdns\tmaybe\n", "t.tsv:1: 'maybe' is not hard, soft or none"},
        {"keyword\t\tdns\thard\n", "t.tsv:1: the pattern is empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct hd_err e = {0};
        struct hd_bounce_rules *x = NULL;
        assert_int_equal(hd_bounce_rules_parse(bad[i].text, "t.tsv", &x, &e), HD_E_PARSE);
        assert_null(x);
        assert_contains(e.msg, bad[i].want);
    }
}

/* ---- end to end ---------------------------------------------------------------------- */

static char *dir;
static struct tu_server tw;
static const char *db = "h.db";   /* the store: "h.db" in dir, or pg_uri */
static char *pg_uri, pg_name[64]; /* the PostgreSQL run's database */

struct srv {
    pid_t pid;
    int port;
};

static void write_file(const char *name, const char *text)
{
    char *p = tu_path(dir, name);
    tu_write(p, text);
    free(p);
}

static int setup_on(const char *store)
{
    db = store;
    dir = tu_tmpdir();
    setenv("HERALD_NOW", "2026-11-22T12:00:00Z", 1);
    setenv("HERALD_CONFIG", "h.conf", 1);
    setenv("TEST_TW_TOKEN", TW_TOKEN, 1);
    const char *twa[] = {"--sid", TW_SID, "--token", TW_TOKEN, "--log", "twilio.log", NULL};
    tu_start_mock(&tw, dir, "twilio.js", twa);
    char conf[2048];
    snprintf(conf, sizeof conf,
             "[herald]\ndatabase = %s\ntemplates = tpl\nlog_level = debug\n"
             "[serve]\npublic_url = http://127.0.0.1:8025\nsecret_file = var/herald.secret\n"
             "[provider sms]\ntype = twilio\nbase_url = http://127.0.0.1:%d\n"
             "account_sid = %s\nauth_token_env = TEST_TW_TOKEN\nfrom = +15550001111\n"
             "timeout = 5s\n[channel sms]\nproviders = sms\n",
             db, tw.port, TW_SID);
    write_file("h.conf", conf);
    tu_tpl_with_pages(dir);
    write_file("tpl/news.tmpl", "description: receipts test\ncategory: marketing\n\n"
                                "--- sms\nHi {{ first_name }}, news from Acme. Reply STOP to "
                                "opt out\n");
    write_file("c.csv", "id,phone,first_name,wave\nc1,+15557650001,Ann,1\n"
                        "c2,+15557650002,Bo,1\nc3,+15557650003,Cy,1\nc4,+15557650004,Di,2\n");
    TU_HERALD_OK(dir, "init");
    TU_HERALD_OK(dir, "contacts", "import", "c.csv");
    TU_HERALD_OK(dir, "segment", "define", "first", "wave = 1");
    TU_HERALD_OK(dir, "segment", "define", "all", "phone exists");
    return 0;
}

static int e2e_setup(void **state)
{
    (void)state;
    return setup_on("h.db");
}

/* The same on a fresh PostgreSQL database (tu_pg_db). */
static int e2e_setup_pg(void **state)
{
    (void)state;
    pg_uri = tu_pg_db(pg_name);
    return setup_on(pg_uri);
}

static int e2e_teardown(void **state)
{
    (void)state;
    tu_server_stop(&tw);
    tu_rmdir(dir);
    dir = NULL;
    if (pg_uri) {
        tu_pg_drop(pg_name);
        free(pg_uri);
        pg_uri = NULL;
    }
    db = "h.db";
    return 0;
}

static void srv_start(struct srv *s)
{
    s->pid = tu_serve_start(dir, "127.0.0.1:0", &s->port);
}

static void srv_stop(struct srv *s)
{
    assert_int_equal(tu_serve_stop(s->pid), 0);
}

/* X-Twilio-Signature of body for url, by tests/twilio_sign.py. */
static void sign(const char *url, const char *body, char *out, size_t size)
{
    char cmd[4096];
    const char *src = getenv("HERALD_SRC");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/twilio_sign.py' '%s' '%s' '%s'",
             src ? src : ".", TW_TOKEN, url, body);
    char *sig = tu_sh(cmd);
    sig[strcspn(sig, "\n")] = '\0';
    snprintf(out, size, "%s", sig);
    free(sig);
}

/* POSTs body to path with the signature sig (NULL: none); returns the
 * status and, in out (size bytes), the answer's body. */
static int post(const struct srv *s, const char *path, const char *body, const char *sig, char *out,
                size_t size)
{
    char cmd[8192], hdr[160] = "";
    if (sig)
        snprintf(hdr, sizeof hdr, "-H 'X-Twilio-Signature: %s'", sig);
    snprintf(cmd, sizeof cmd,
             "curl -s -g --max-time 10 -w '\\n%%{http_code}' %s --data-binary '%s' "
             "'http://127.0.0.1:%d%s'",
             hdr, body, s->port, path);
    return tu_curl(cmd, out, size);
}

/* The sid the Twilio mock gives the k-th message to a number. */
static void sid_of(const char *to, int k, char out[40])
{
    char text[64];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    snprintf(text, sizeof text, "%s#%d", to, k);
    EVP_Digest(text, strlen(text), md, &n, EVP_md5(), NULL);
    memcpy(out, "SM", 3);
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 2 + 2 * i, 3, "%02x", md[i]);
}

/* A status callback for the k-th message to `to`, message msg in herald
 * (the URL's m=msg, then the query extra), signed as Twilio signs it, for
 * public_url; the answer's body must be want (status 200). */
static void status(const struct srv *s, const char *extra, const char *to, int k, int msg,
                   const char *st, const char *code, const char *want)
{
    char sid[40], body[1024], sig[64], got[256], path[256], url[256];
    sid_of(to, k, sid);
    snprintf(path, sizeof path, "/hooks/twilio/sms?m=%d%s", msg, extra);
    snprintf(url, sizeof url, HOOK "?m=%d%s", msg, extra);
    snprintf(body, sizeof body,
             "SmsSid=%s&SmsStatus=%s&MessageStatus=%s&To=%%2B%s&MessageSid=%s&AccountSid=%s"
             "&From=%%2B15550001111&ApiVersion=2010-04-01%s%s",
             sid, st, st, to + 1, sid, TW_SID, code ? "&ErrorCode=" : "", code ? code : "");
    sign(url, body, sig, sizeof sig);
    int rc = post(s, path, body, sig, got, sizeof got);
    if (rc != 200 || strcmp(got, want) != 0)
        fail_msg("%s %s for %s: %d '%s', want 200 '%s'", st, code ? code : "", to, rc, got, want);
}

static int64_t q1(const char *sql)
{
    return tu_sql1(dir, db, sql);
}

static char *herald_out(const char *a1, const char *a2, const char *a3, const char *a4,
                        const char *a5, const char *a6)
{
    struct tu_run r;
    tu_herald(&r, dir, NULL, a1, a2, a3, a4, a5, a6, NULL);
    if (r.status != 0)
        fail_msg("herald %s exited %d: %s %s", a1, r.status, r.out, r.err);
    char *out = hd_xstrdup(r.out);
    tu_run_release(&r);
    return out;
}

static void send_campaign(const char *name, const char *segment)
{
    TU_HERALD_OK(dir, "campaign", "create", name, "--segment", segment, "--template", "news",
                 "--channels", "sms", "--now");
    TU_HERALD_OK(dir, "send", name, "--wait", "30s");
}

/* Twilio's documented example, by the signer the tests use: if this
 * fails, the signer (not herald) is wrong. */
static void test_receipts_signer(void **state)
{
    (void)state;
    const char *src = getenv("HERALD_SRC");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/twilio_sign.py' --example",
             src ? src : ".");
    char *sig = tu_sh(cmd);
    assert_string_equal(sig, "GvWf1cFY/Q7PnoempGyD5oXAezc=\n");
    free(sig);
}

/* Signatures: none, one byte of the body changed, another URL, the wrong
 * provider; a query string is part of what is signed. */
static void check_signatures(const struct srv *s)
{
    char sid[40], body[512], sig[64], got[256];
    sid_of("+15557650001", 1, sid);
    snprintf(body, sizeof body, "MessageSid=%s&MessageStatus=queued&AccountSid=%s", sid, TW_SID);
    sign(HOOK, body, sig, sizeof sig);
    assert_int_equal(post(s, "/hooks/twilio/sms", body, NULL, got, sizeof got), 403);
    assert_contains(got, "X-Twilio-Signature");
    char changed[512];
    snprintf(changed, sizeof changed, "%s", body);
    changed[strlen(changed) - 1] ^= 1; /* the last byte of the AccountSid */
    assert_int_equal(post(s, "/hooks/twilio/sms", changed, sig, got, sizeof got), 403);
    assert_string_equal(got, "forbidden: X-Twilio-Signature does not match\n");
    /* signed for the Host the request went to, not public_url: refused */
    char url[128], other[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hooks/twilio/sms", s->port);
    sign(url, body, other, sizeof other);
    assert_int_equal(post(s, "/hooks/twilio/sms", body, other, got, sizeof got), 403);
    assert_int_equal(post(s, "/hooks/twilio/nosuch", body, sig, got, sizeof got), 404);
    assert_int_equal(post(s, "/hooks/twilio/sms?a=1", body, sig, got, sizeof got), 403);
    /* the body is bounded (16 KiB), whatever [serve] body_limit allows */
    char *big = hd_xmalloc(20001), cmd[4096];
    memset(big, 'a', 20000);
    big[20000] = '\0';
    write_file("big.txt", big);
    free(big);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && curl -s -o /dev/null -w '%%{http_code}' -H 'X-Twilio-Signature: %s' "
             "--data-binary @big.txt 'http://127.0.0.1:%d/hooks/twilio/sms'",
             dir, sig, s->port);
    char *code = tu_sh(cmd);
    assert_string_equal(code, "413");
    free(code);
    /* nothing of them was kept */
    assert_int_equal(q1("SELECT count(*) FROM receipts"), 0);
    /* the query string as sent, percent-escapes and all, is signed */
    status(s, "&a=1&b=x%20y", "+15557650001", 1, 1, "queued", NULL, "ok\n");
}

static void check_reports(const struct srv *s)
{
    status(s, "", "+15557650001", 1, 1, "sent", NULL, "ok\n");
    status(s, "", "+15557650001", 1, 1, "delivered", NULL, "ok\n");
    /* Twilio retries: the same report again is one row */
    status(s, "", "+15557650001", 1, 1, "delivered", NULL, "duplicate\n");
    /* out of order: logged, ignored, the state kept */
    status(s, "", "+15557650001", 1, 1, "undelivered", "30003", "ok\n");
    status(s, "", "+15557650002", 1, 2, "undelivered", "30005", "ok\n");
    /* 30007 is the carrier's filter, not the number's fault */
    status(s, "", "+15557650003", 1, 3, "undelivered", "30007", "ok\n");
    /* the first message to c4 does not exist yet: kept pending */
    status(s, "", "+15557650004", 1, 7, "delivered", NULL, "pending\n");
    /* a sid that is not the named message's never applies to it */
    status(s, "", "+15557650001", 2, 1, "delivered", NULL, "pending\n");
    assert_int_equal(q1("SELECT count(*) FROM receipts"), 8);
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE applied_at IS NULL"), 2);
    assert_int_equal(q1("SELECT count(*) FROM messages WHERE state = 3"), 1);
    assert_int_equal(q1("SELECT count(*) FROM messages WHERE state = 4"), 2);
}

/* Replies: STOP words opt out of SMS marketing, START words back in. */
static void check_replies(const struct srv *s)
{
    static const struct {
        const char *from, *text, *status;
    } replies[] = {
        {"+15557650003", "stop", "opted_out"},
        {"+15557650001", "%E9%80%80%E8%AE%A2", "opted_out"}, /* 退订 */
        {"+15557650001", "START", "opted_in"},
        {"+15557650001", "Thanks!", "opted_in"}, /* not a keyword: nothing */
        {"+15557650004", "TD", "opted_out"},
        {"+15557650004", "%E8%AE%A2%E9%98%85", "opted_in"}, /* 订阅 */
        {"+15557650004", "+Unsubscribe.+", "opted_out"},
        {"+15557650004", "start", "opted_in"},
        {"+15557650004", "stopp", "opted_in"}, /* a word that only starts like one */
        {"+15557650004", "please+stop", "opted_in"},
        /* as Chinese input methods type them: a full stop, a full-width
         * '!', an ideographic space, full-width letters (a review found
         * each ignored), and a no-break space */
        {"+15557650004", "%E9%80%80%E8%AE%A2%E3%80%82", "opted_out"}, /* 退订。 */
        {"+15557650004", "START", "opted_in"},
        {"+15557650004", "%E9%80%80%E8%AE%A2%EF%BC%81", "opted_out"}, /* 退订！ */
        {"+15557650004", "%E8%AE%A2%E9%98%85%E3%80%80", "opted_in"}, /* 订阅 U+3000 */
        {"+15557650004", "%E3%80%80TD", "opted_out"},                 /* U+3000 TD */
        {"+15557650004", "start%C2%A0", "opted_in"},                  /* NBSP */
        {"+15557650004", "%EF%BC%B3%EF%BC%B4%EF%BC%AF%EF%BC%B0", "opted_out"}, /* ＳＴＯＰ */
        {"+15557650004", "%EF%BD%93%EF%BD%94%EF%BD%81%EF%BD%92%EF%BD%94", "opted_in"}, /* ｓｔａｒｔ */
    };
    for (size_t i = 0; i < sizeof replies / sizeof *replies; i++) {
        char body[512], sig[64], got[256], sql[256];
        snprintf(body, sizeof body,
                 "ToCountry=US&SmsMessageSid=SMr%zu&Body=%s&From=%%2B%s&To=%%2B15550001111"
                 "&AccountSid=%s",
                 i, replies[i].text, replies[i].from + 1, TW_SID);
        sign(HOOK "/inbound", body, sig, sizeof sig);
        assert_int_equal(post(s, "/hooks/twilio/sms/inbound", body, sig, got, sizeof got), 200);
        assert_contains(got, "<Response></Response>");
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM consent k JOIN contacts c ON c.id = k.contact_id WHERE "
                 "c.phone = '%s' AND k.channel = 'sms' AND k.category = 'marketing' AND "
                 "k.status = '%s' AND k.source = 'reply'",
                 replies[i].from, replies[i].status);
        if (q1(sql) != 1)
            fail_msg("reply '%s' from %s: not %s", replies[i].text, replies[i].from,
                     replies[i].status);
    }
    /* a reply not signed is refused */
    char got[256];
    assert_int_equal(
        post(s, "/hooks/twilio/sms/inbound", "Body=STOP&From=%2B15557650004", "x", got, sizeof got),
        403);
}

static void check_audit(void)
{
    char *log = herald_out("log", "--outcome", "receipt", "--format", "jsonl", NULL);
    assert_int_equal(tu_count(log, "\n"), 6);
    assert_int_equal(tu_count(log, "\"outcome\":\"receipt\""), 6);
    assert_int_equal(tu_count(log, "\"reason\":\"delivered\""), 1);
    assert_int_equal(tu_count(log, "\"reason\":\"undelivered\""), 3);
    assert_contains(log, "30005 unknown destination handset, address suppressed");
    assert_contains(log, "30007 message filtered by the carrier");
    assert_contains(log, "ignored: a message cannot go from delivered to undelivered");
    assert_int_equal(tu_count(log, "\"latency_ms\":0"), 0); /* no request, no latency */
    free(log);
    char *why = herald_out("why", "c2", "wave1", NULL, NULL, NULL);
    assert_contains(why, "undelivered: 30005 unknown destination handset, address suppressed");
    /* and the suppression, with why and the message that caused it */
    assert_contains(why, "+15557650002 (sms) is suppressed since ");
    assert_contains(why, ": invalid_number: undelivered: 30005 unknown destination handset, "
                         "address suppressed (message 2).");
    free(why);
    why = herald_out("why", "c1", "wave1", NULL, NULL, NULL);
    assert_contains(why, "delivered at 2026-11-22");
    free(why);
    char *hist = herald_out("history", "c1", NULL, NULL, NULL, NULL);
    assert_int_equal(tu_count(hist, "receipt"), 4);
    free(hist);
    char *sup = herald_out("suppress", "list", "--format", "jsonl", NULL, NULL);
    assert_int_equal(tu_count(sup, "\n"), 1);
    assert_contains(sup, "\"address\":\"+15557650002\"");
    assert_contains(sup, "\"reason\":\"invalid_number\"");
    assert_contains(sup, "\"detail\":\"undelivered: 30005 unknown destination handset, address "
                         "suppressed\"");
    free(sup);
    char *st = herald_out("stats", "wave1", "--format", "json", NULL, NULL);
    assert_contains(st, "\"sent\": 3");
    assert_contains(st, "\"delivered\": 1");
    assert_contains(st, "\"undelivered\": 2");
    assert_contains(st, "\"bounced\": 0");
    assert_contains(st, "\"delivered_rate\": 0.33");
    assert_contains(st, "\"undelivered_rate\": 0.66");
    assert_contains(st, "\"requests\": 3");
    free(st);
    /* per group too */
    st = herald_out("stats", "wave1", "--by", "provider", "--format", "csv");
    assert_contains(st, "stats,sms,delivered,1\r\n");
    assert_contains(st, "stats,sms,undelivered,2\r\n");
    /* targeted is not split by provider: empty, not the 0 it read */
    assert_contains(st, "stats,all,targeted,3\r\n");
    assert_contains(st, "stats,sms,targeted,\r\n");
    free(st);
}

/* The second campaign: c2 suppressed, c3 opted out; c1 and c4 get it, and
 * c4's pending report is applied once its message appears. */
static void check_second(void)
{
    send_campaign("wave2", "all");
    char *log = herald_out("log", "--campaign", "wave2", "--format", "jsonl", NULL);
    assert_int_equal(tu_count(log, "\"outcome\":\"accepted\""), 2);
    assert_int_equal(tu_count(log, "\"reason\":\"suppressed\""), 1);
    assert_int_equal(tu_count(log, "\"reason\":\"opted_out\""), 1);
    free(log);
    for (int i = 0; i < 100 && q1("SELECT count(*) FROM receipts WHERE applied_at IS NULL") > 1;
         i++) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE applied_at IS NULL"), 1);
    assert_int_equal(q1("SELECT count(*) FROM receipts WHERE applied_at IS NULL AND message_id = "
                        "1"),
                     1);
    char *st = herald_out("stats", "wave2", "--format", "json", NULL, NULL);
    assert_contains(st, "\"sent\": 2");
    assert_contains(st, "\"delivered\": 1");
    free(st);
    log = herald_out("log", "--outcome", "receipt", "--format", "jsonl", NULL);
    assert_int_equal(tu_count(log, "\n"), 7);
    free(log);
}

static void test_receipts_twilio(void **state)
{
    (void)state;
    send_campaign("wave1", "first");
    /* every send asked Twilio to report to the hook */
    json_t *l = tu_read_jsonl(dir, "twilio.log");
    assert_int_equal(json_array_size(l), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *form = json_object_get(json_array_get(l, i), "form");
        const char *to = json_string_value(json_object_get(form, "To"));
        char want[128];
        /* and named the message: c1, c2, c3 are messages 1, 2, 3 */
        snprintf(want, sizeof want, HOOK "?m=%c", to[strlen(to) - 1]);
        assert_string_equal(json_string_value(json_object_get(form, "StatusCallback")), want);
    }
    json_decref(l);
    struct srv s;
    srv_start(&s);
    check_signatures(&s);
    check_reports(&s);
    check_replies(&s);
    check_audit();
    /* started again, the service is asked nothing more: the pending report
     * is still applied once its message appears (a review found it waiting
     * for the next request to open the store) */
    srv_stop(&s);
    srv_start(&s);
    check_second();
    srv_stop(&s);
}

/* A refusal at RCPT during the SMTP session is a bounce too (listmonk
 * #2623): classified by the same rules, a hard one suppresses the address
 * with its class and reply, and the rest do not. */
static void test_receipts_smtp_rcpt(void **state)
{
    (void)state;
    struct tu_server smtp;
    char py[4096], conf[4096];
    const char *src = getenv("HERALD_SRC");
    snprintf(py, sizeof py, "%s/tests/smtp_server.py", src);
    char *out = tu_path(dir, "smtpout");
    assert_int_equal(mkdir(out, 0700), 0);
    free(out);
    const char *argv[] = {"/usr/bin/python3", py, "--out", "smtpout", NULL};
    tu_server_start(&smtp, dir, argv, "the SMTP server (is python3-aiosmtpd installed?)");
    snprintf(conf, sizeof conf,
             "[herald]\ndatabase = %s\ntemplates = tpl\n"
             "[receipts]\nbounce_rules = %s/etc/bounce-rules.tsv\n"
             "[provider mail]\ntype = smtp\nhost = 127.0.0.1\nport = %d\nstarttls = none\n"
             "from = Acme <hello@example.com>\nmax_attempts = 1\n"
             "[channel email]\nproviders = mail\n",
             db, src, smtp.port);
    write_file("h.conf", conf);
    write_file("tpl/note.tmpl", "description: a note\ncategory: transactional\n"
                                "from: Acme <hello@example.com>\n\n--- email.subject\nHello\n"
                                "--- email.text\nA note.\n");
    write_file("m.csv", "id,email\nm1,nouser@example.com\nm2,gone@example.com\n"
                        "m3,reject@example.com\nm4,ok@example.com\nm5,full@example.com\n");
    TU_HERALD_OK(dir, "contacts", "import", "m.csv");
    TU_HERALD_OK(dir, "segment", "define", "mail", "email exists");
    TU_HERALD_OK(dir, "campaign", "create", "note", "--segment", "mail", "--template", "note",
                 "--channels", "email", "--now");
    struct tu_run r;
    tu_herald(&r, dir, NULL, "send", "note", "--wait", "30s", NULL);
    tu_run_release(&r); /* exits 3: some failed */
    tu_server_stop(&smtp);
    char *sup = herald_out("suppress", "list", "--format", "jsonl", NULL, NULL);
    assert_int_equal(tu_count(sup, "\n"), 2);
    assert_contains(sup, "\"address\":\"nouser@example.com\",\"channel\":\"email\","
                         "\"reason\":\"hard_bounce\"");
    assert_contains(sup, "bounced (invalid_recipient, hard): RCPT TO refused: 550 5.1.1 no such "
                         "user");
    /* no enhanced code: the words say it (before, nothing was suppressed) */
    assert_contains(sup, "\"address\":\"gone@example.com\"");
    assert_contains(sup, "bounced (invalid_recipient, hard): RCPT TO refused: 550 Requested "
                         "action not taken: user unknown");
    assert_null(strstr(sup, "reject@")); /* 5.7.1: the sender's problem */
    assert_null(strstr(sup, "full@"));   /* 4.2.2: soft, and temporary */
    assert_contains(sup, "\"message_id\":");
    free(sup);
}

/* Email reports (the form a bounce or complaint source gives them:
 * status bounced or complained, the enhanced code, the diagnostic), taken
 * in-process through hd_receipt_take for messages the outbox sent: a hard
 * bounce suppresses at once, soft bounces on the third within the window,
 * a complaint after delivery suppresses and opts the contact out of email
 * marketing. */
static int64_t now_ms = 1795348800000; /* 2026-11-22T12:00:00Z */

/* A message as a report names it: the gateway's id and herald's number. */
struct ref {
    char gw[256];
    int64_t msg;
};

static int take(const struct hd_receipt_ctx *c, const struct ref *m, const char *status,
                const char *code, const char *reason)
{
    struct hd_receipt r = {.provider = "outbox",
                           .message = m->msg,
                           .gateway_id = m->gw,
                           .status = status,
                           .code = code,
                           .reason = reason,
                           .received_ms = now_ms};
    struct hd_err e = {0};
    int result = -1;
    if (hd_receipt_take(c, &r, now_ms, &result, &e) < 0)
        fail_msg("%s: %s", status, e.msg);
    now_ms += 1000;
    return result;
}

/* A contact's first count accepted messages, oldest first. */
static void gateway_ids(const char *contact, struct ref *ids, int count)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT message_id || ' ' || gateway_id FROM attempts WHERE outcome = 'accepted' "
             "AND contact_id = (SELECT id FROM contacts WHERE ext_id = '%s') ORDER BY id",
             contact);
    char *out = tu_sql_text(dir, db, sql), *line = out;
    for (int i = 0; i < count; i++) {
        char *sp = strchr(line, ' ');
        assert_non_null(sp);
        ids[i].msg = strtoll(line, NULL, 10);
        size_t n = strcspn(sp + 1, "\n");
        assert_true(n > 0 && n < sizeof ids[i].gw);
        memcpy(ids[i].gw, sp + 1, n);
        ids[i].gw[n] = '\0';
        line = sp + 1 + n + (sp[1 + n] == '\n');
    }
    free(out);
}

/* The email receipts' set-up: h.conf with these [receipts] keys besides
 * the bounce rules, the mail template, the contacts of csv, and a
 * campaign per name, each sent. */
static void mail_setup(const char *receipts, const char *csv, const char *const *names, int n)
{
    char conf[2048];
    snprintf(conf, sizeof conf,
             "[herald]\ndatabase = %s\ntemplates = tpl\n"
             "[serve]\npublic_url = http://127.0.0.1:8025\nsecret_file = var/herald.secret\n"
             "[receipts]\nbounce_rules = %s/etc/bounce-rules.tsv\n%s",
             db, getenv("HERALD_SRC"), receipts);
    write_file("h.conf", conf);
    write_file("tpl/mail.tmpl", "description: mail\ncategory: marketing\n"
                                "from: Acme <hello@example.com>\n\n--- email.subject\nNews\n"
                                "--- email.text\nNews. Unsubscribe: {{ unsubscribe_url }}\n");
    write_file("e.csv", csv);
    TU_HERALD_OK(dir, "contacts", "import", "e.csv");
    TU_HERALD_OK(dir, "segment", "define", "mail", "email exists");
    for (int i = 0; i < n; i++) {
        TU_HERALD_OK(dir, "campaign", "create", names[i], "--segment", "mail", "--template", "mail",
                     "--channels", "email", "--now");
        TU_HERALD_OK(dir, "send", names[i], "--wait", "30s");
    }
}

/* h.conf and the test's store, open, and a receipt context on them. */
struct rctx {
    struct hd_config *cfg;
    struct hd_store *st;
    struct hd_receipt_ctx c;
};

static void rctx_open(struct rctx *x)
{
    char *cp = tu_path(dir, "h.conf"), *dbp = pg_uri ? hd_xstrdup(pg_uri) : tu_path(dir, "h.db");
    struct hd_err e = {0};
    memset(x, 0, sizeof *x);
    if (hd_config_load(cp, &x->cfg, &e) < 0 ||
        hd_store_open(dbp, &(struct hd_store_opts){0}, &x->st, &e) < 0)
        fail_msg("%s", e.msg);
    free(cp);
    free(dbp);
    x->c = (struct hd_receipt_ctx){.st = x->st,
                                   .cfg = x->cfg,
                                   .soft_bounce_limit = (int)x->cfg->receipts.soft_bounce_limit,
                                   .soft_bounce_window = x->cfg->receipts.soft_bounce_window};
}

static void rctx_close(struct rctx *x)
{
    hd_store_free(x->st);
    hd_config_free(x->cfg);
}

static void test_receipts_email(void **state)
{
    (void)state;
    static const char *const names[] = {"m1", "m2", "m3"};
    mail_setup("soft_bounce_limit = 2\nsoft_bounce_window = 7d\n",
               "id,email\ne1,full@example.com\ne2,angry@example.com\n"
               "e3,gone@example.com\ne4,late@example.com\n",
               names, 3);
    struct ref e1[3], e2[3], e3[3], e4[3];
    gateway_ids("e1", e1, 3);
    gateway_ids("e2", e2, 3);
    gateway_ids("e3", e3, 3);
    gateway_ids("e4", e4, 3);
    struct rctx x;
    rctx_open(&x);
    assert_non_null(x.cfg->receipts.bounce_rules);
    struct hd_receipt_ctx c = x.c;
    /* a hard bounce: at once */
    assert_int_equal(take(&c, &e3[0], "bounced", "5.1.1", "550 5.1.1 user unknown"),
                     HD_RCPT_APPLIED);
    const char *gone = "SELECT count(*) FROM suppressions WHERE address = 'gone@example.com' "
                       "AND reason = 'hard_bounce'";
    assert_int_equal(q1(gone), 1);
    /* soft bounces: the second (soft_bounce_limit) within the window suppresses */
    const char *full = "SELECT count(*) FROM suppressions WHERE address = 'full@example.com'";
    assert_int_equal(take(&c, &e1[0], "bounced", "4.2.2", "452 4.2.2 mailbox full"),
                     HD_RCPT_APPLIED);
    assert_int_equal(q1(full), 0);
    assert_int_equal(take(&c, &e1[1], "bounced", "5.2.2", "552 5.2.2 mailbox full"),
                     HD_RCPT_APPLIED);
    assert_int_equal(q1(full), 1);
    /* a policy refusal is not the address's fault: it does not count */
    const char *angry = "SELECT count(*) FROM suppressions WHERE address = 'angry@example.com'";
    assert_int_equal(take(&c, &e2[1], "bounced", "5.7.1", "554 5.7.1 blocked as spam"),
                     HD_RCPT_APPLIED);
    assert_int_equal(take(&c, &e2[1], "bounced", "5.7.1", "554 5.7.1 blocked as spam"),
                     HD_RCPT_DUPLICATE);
    assert_int_equal(take(&c, &e2[2], "bounced", "4.2.2", "mailbox full"), HD_RCPT_APPLIED);
    assert_int_equal(q1(angry), 0);
    /* out of the window, an earlier soft bounce no longer counts */
    assert_int_equal(take(&c, &e3[1], "bounced", "4.2.2", "mailbox full"), HD_RCPT_APPLIED);
    now_ms += 8 * 86400 * 1000LL;
    assert_int_equal(take(&c, &e3[2], "bounced", "4.2.2", "mailbox full"), HD_RCPT_APPLIED);
    assert_int_equal(q1(gone), 1); /* still the hard bounce's */
    /* a complaint after delivery */
    assert_int_equal(take(&c, &e2[0], "delivered", NULL, NULL), HD_RCPT_APPLIED);
    assert_int_equal(take(&c, &e2[0], "complained", NULL, "abuse report"), HD_RCPT_APPLIED);
    assert_int_equal(q1("SELECT count(*) FROM suppressions WHERE address = 'angry@example.com' "
                        "AND reason = 'complaint'"),
                     1);
    assert_int_equal(q1("SELECT count(*) FROM consent k JOIN contacts c ON c.id = k.contact_id "
                        "WHERE c.ext_id = 'e2' AND k.channel = 'email' AND k.category = "
                        "'marketing' AND k.status = 'opted_out' AND k.source = 'complaint'"),
                     1);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT m.state FROM messages m JOIN attempts a ON a.message_id = m.id WHERE "
             "a.gateway_id = '%s'",
             e2[0].gw);
    assert_int_equal(q1(sql), HD_ST_COMPLAINED);
    /* a hard bounce after "delivered" (the receiving server took the mail,
     * then bounced it): the message stays delivered, the address is
     * suppressed all the same (it was not, found by a review) */
    assert_int_equal(take(&c, &e4[2], "delivered", NULL, NULL), HD_RCPT_APPLIED);
    assert_int_equal(take(&c, &e4[2], "bounced", "5.1.1", "550 5.1.1 user unknown"),
                     HD_RCPT_APPLIED);
    assert_int_equal(q1("SELECT count(*) FROM suppressions WHERE address = 'late@example.com' "
                        "AND reason = 'hard_bounce'"),
                     1);
    snprintf(sql, sizeof sql, "SELECT state FROM messages WHERE id = %lld", (long long)e4[2].msg);
    assert_int_equal(q1(sql), HD_ST_DELIVERED);
    /* a message's bounces after its first (another report of the sender,
     * under its own id): logged, counted by stats only once, by the first */
    struct ref again[] = {e2[2], e3[2], e4[2]};
    for (size_t i = 0; i < sizeof again / sizeof *again; i++) {
        snprintf(again[i].gw, sizeof again[i].gw, "again-%zu", i);
        assert_int_equal(take(&c, &again[i], "bounced", "5.7.1", "554 5.7.1 blocked as spam"),
                         HD_RCPT_APPLIED);
    }
    rctx_close(&x);
    char *stats = herald_out("stats", "m1", "--format", "json", NULL, NULL);
    assert_contains(stats, "\"bounced_hard\": 1");
    assert_contains(stats, "\"bounced_soft\": 1");
    assert_contains(stats, "\"bounce_rate\": 0.5"); /* 2 of 4 */
    assert_contains(stats, "\"complained\": 1");
    assert_contains(stats, "\"delivered\": 1");
    free(stats);
    /* m3: e2's and e3's soft bounces and e4's hard one after its delivery
     * (the message stays delivered and counts there, and as bounced too:
     * it was left out, found by a review), each message once */
    stats = herald_out("stats", "m3", "--format", "json", NULL, NULL);
    assert_contains(stats, "\"delivered\": 1");
    assert_contains(stats, "\"bounced\": 3");
    assert_contains(stats, "\"bounced_hard\": 1");
    assert_contains(stats, "\"bounced_soft\": 2");
    assert_contains(stats, "\"bounce_rate\": 0.75"); /* 3 of 4 */
    free(stats);
    char *why = herald_out("why", "e3", "m1", NULL, NULL, NULL);
    assert_contains(why, "bounced_hard: 5.1.1 550 5.1.1 user unknown; invalid_recipient, address "
                         "suppressed");
    free(why);
    char *sup = herald_out("suppress", "list", NULL, NULL, NULL, NULL);
    assert_contains(sup, "soft_bounce");
    assert_contains(sup, "bounced_soft: 5.2.2 552 5.2.2 mailbox full; mailbox_full, address "
                         "suppressed");
    assert_contains(sup, "5.1.1 550 5.1.1 user unknown; invalid_recipient, address suppressed "
                         "(after its delivery: the message stays delivered)");
    free(sup);
}

/* A message with a soft bounce and then a hard one counts once, as hard
 * (it counted as soft, by its first bounce). One with a hard bounce and
 * then a soft one is hard too, and one with two soft bounces is soft. */
static void test_receipts_bounce_hard_counts(void **state)
{
    (void)state;
    static const char *const names[] = {"m1"};
    mail_setup("",
               "id,email\ne1,soft-hard@example.com\ne2,hard-soft@example.com\n"
               "e3,soft-soft@example.com\n",
               names, 1);
    struct ref m[3], later[3];
    gateway_ids("e1", &m[0], 1);
    gateway_ids("e2", &m[1], 1);
    gateway_ids("e3", &m[2], 1);
    struct rctx x;
    rctx_open(&x);
    struct hd_receipt_ctx c = x.c;
    /* each message's second bounce, another report under its own id */
    static const char *const first[] = {"4.2.2", "5.1.1", "4.2.2"};
    static const char *const second[] = {"5.1.1", "4.2.2", "4.2.2"};
    for (int i = 0; i < 3; i++) {
        later[i] = m[i];
        snprintf(later[i].gw, sizeof later[i].gw, "later-%d", i);
        assert_int_equal(take(&c, &m[i], "bounced", first[i], "bounce"), HD_RCPT_APPLIED);
        assert_int_equal(take(&c, &later[i], "bounced", second[i], "bounce"), HD_RCPT_APPLIED);
    }
    rctx_close(&x);
    /* the hard bounce suppresses the address at once, whichever came
     * first (after the soft one, whose move made the message bounced, it
     * was ignored whole: a review found it); two soft ones do not */
    assert_int_equal(q1("SELECT count(*) FROM suppressions WHERE address = "
                        "'soft-hard@example.com' AND reason = 'hard_bounce'"),
                     1);
    assert_int_equal(q1("SELECT count(*) FROM suppressions WHERE address = "
                        "'hard-soft@example.com' AND reason = 'hard_bounce'"),
                     1);
    assert_int_equal(q1("SELECT count(*) FROM suppressions WHERE address = "
                        "'soft-soft@example.com'"),
                     0);
    char *stats = herald_out("stats", "m1", "--format", "json", NULL, NULL);
    assert_contains(stats, "\"bounced\": 3");
    assert_contains(stats, "\"bounced_hard\": 2");
    assert_contains(stats, "\"bounced_soft\": 1");
    free(stats);
}

/* Posts n signed status callbacks (SMload0 ...) to the service on port,
 * one at a time, by tests/twilio_sign.py; returns its pid. */
static pid_t poster(int port, int n, const char *out)
{
    const char *src = getenv("HERALD_SRC");
    char py[4096], ps[16], ns[16];
    snprintf(py, sizeof py, "%s/tests/twilio_sign.py", src);
    snprintf(ps, sizeof ps, "%d", port);
    snprintf(ns, sizeof ns, "%d", n);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(dir) != 0)
            _exit(126);
        execl("/usr/bin/python3", "python3", py, "--post", TW_TOKEN, "http://127.0.0.1:8025", ps,
              ns, out, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Lines of dir/name answered 200. */
static int answered(const char *name)
{
    char *p = tu_path(dir, name), *text = tu_read(p);
    int n = text ? (int)tu_count(text, " 200\n") : 0;
    free(text);
    free(p);
    return n;
}

/* SIGKILL while reports come in: every one answered 200 is in the
 * database (200 comes after the commit), and after the gateway sends them
 * all again each is one row. */
static void test_receipts_kill(void **state)
{
    (void)state;
    enum { N = 400 };
    struct srv s;
    srv_start(&s);
    pid_t py = poster(s.port, N, "post1.txt");
    for (int i = 0; i < 400 && answered("post1.txt") < 100; i++)
        nanosleep(&(struct timespec){0, 25 * 1000000L}, NULL);
    kill(s.pid, SIGKILL);
    waitpid(s.pid, NULL, 0);
    waitpid(py, NULL, 0);
    int ok = answered("post1.txt");
    assert_true(ok >= 100);
    /* answered in order: SMload0 .. SMload(ok-1) all kept */
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM receipts WHERE CAST(substr(gateway_id, 7) AS INTEGER) < %d", ok);
    assert_int_equal(q1(sql), ok);
    assert_true(q1("SELECT count(*) FROM receipts") < N);
    /* the gateway retries everything */
    srv_start(&s);
    py = poster(s.port, N, "post2.txt");
    waitpid(py, NULL, 0);
    assert_int_equal(answered("post2.txt"), N);
    srv_stop(&s);
    assert_int_equal(q1("SELECT count(*) FROM receipts"), N);
    assert_int_equal(q1("SELECT count(DISTINCT gateway_id) FROM receipts"), N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_receipts_states),
        cmocka_unit_test(test_receipts_signer),
        cmocka_unit_test(test_receipts_bounce_classes),
        cmocka_unit_test_setup_teardown(test_receipts_twilio, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_receipts_smtp_rcpt, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_receipts_email, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_receipts_bounce_hard_counts, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_receipts_kill, e2e_setup, e2e_teardown),
        {"test_receipts_twilio_pg", test_receipts_twilio, e2e_setup_pg, e2e_teardown, NULL},
        {"test_receipts_smtp_rcpt_pg", test_receipts_smtp_rcpt, e2e_setup_pg, e2e_teardown, NULL},
        {"test_receipts_email_pg", test_receipts_email, e2e_setup_pg, e2e_teardown, NULL},
        {"test_receipts_bounce_hard_counts_pg", test_receipts_bounce_hard_counts, e2e_setup_pg,
         e2e_teardown, NULL},
        {"test_receipts_kill_pg", test_receipts_kill, e2e_setup_pg, e2e_teardown, NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
