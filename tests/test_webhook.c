/* test_webhook: signed outbound webhooks (issue 20) end to end. The real
 * herald posts to tests/webhook_receiver.py on 127.0.0.1, which checks
 * every Herald-Signature with Python's hmac (not herald's code) and logs
 * each request's event ids. A receiver that is not there (connection
 * refused) and then answers 503 gets every event exactly once when it
 * comes back, after the backoff (time moved with HERALD_NOW, no sleeps);
 * a herald killed with SIGKILL mid-request posts that one batch again and
 * no acknowledged one; events older than max_age expire, logged; a wrong
 * secret fails verification; herald run delivers beside the dispatcher,
 * and a webhook new to it gets the events of its own first sends;
 * config errors carry file:line; webhook list|test print what they say.
 * The end-to-end story runs on a SQLite file, then on a PostgreSQL store,
 * where one case more holds a transaction with the lower ids open (libpq)
 * while another commits: nothing is passed over, nothing comes twice.
 * The store-only case (event types, cursors, leases) runs on both too,
 * on a fresh database of its own (test_webhook_event_types_pg). */
#include "testserve.h"
#include "testboth.h"

#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "herald/config.h"
#include "herald/state.h"
#include "herald/store.h"

#define SECRET "whsec-test-5f2a"

static struct tu_both stores; /* test_webhook_event_types_pg's database */
TU_BOTH_FIXTURES(stores)

static void recv_start(struct tu_server *s, const char *secret, const char *refuse,
                       const char *hang)
{
    char *log = tu_path(dir, "webhook.log"), *py = tu_src_path("tests/webhook_receiver.py");
    remove(log);
    const char *argv[] = {"/usr/bin/python3", py,   "--secret", secret, "--refuse", refuse,
                          "--hang",           hang, NULL};
    tu_server_start(s, dir, argv, "the webhook receiver");
    free(log);
    free(py);
}

/* h.conf: the service's keys and the webhook sections given. */
static void conf(const char *webhooks)
{
    char extra[1024];
    snprintf(extra, sizeof extra, "secret_file = var/herald.secret\n%.900s", webhooks);
    write_conf("h.conf", extra);
    write_file("wh.secret", SECRET "\n");
    write_file("wrong.secret", "not-the-secret\n");
}

static struct tu_run deliver_at(const char *now)
{
    struct tu_run r;
    setenv("HERALD_NOW", now, 1);
    tu_herald(&r, dir, NULL, "webhook", "deliver", "--once", NULL);
    return r;
}

static json_t *received(void)
{
    return tu_read_jsonl(dir, "webhook.log");
}

/* How many requests of log (status 0: any) carried id (an id ending in
 * '-': any id that starts so). */
static int times_of(json_t *log, const char *id, int status)
{
    int n = 0;
    size_t i, k;
    json_t *rec, *v;
    json_array_foreach(log, i, rec)
    {
        if (status && json_integer_value(json_object_get(rec, "status")) != status)
            continue;
        size_t len = strlen(id);
        bool prefix = len && id[len - 1] == '-';
        json_array_foreach(json_object_get(rec, "ids"), k, v) n +=
            prefix ? strncmp(json_string_value(v), id, len) == 0
                   : strcmp(json_string_value(v), id) == 0;
    }
    return n;
}

static void assert_all_verified(json_t *log)
{
    size_t i;
    json_t *rec;
    json_array_foreach(log, i, rec) assert_true(json_is_true(json_object_get(rec, "verified")));
}

static void add_row_on(struct hd_store *st, const char *outcome, const char *reason, int state_,
                       int channel)
{
    struct hd_err e = {0};
    struct hd_attempt a = {.message = 1,
                           .contact = 1,
                           .state = state_,
                           .attempt = 1,
                           .at_ms = 1000,
                           .channel = channel,
                           .provider = "p",
                           .outcome = outcome,
                           .reason = reason};
    assert_int_equal(hd_store_attempt_add(st, &a, &e), 0);
}

static void add_row(struct hd_store *st, const char *outcome, const char *reason, int state_)
{
    add_row_on(st, outcome, reason, state_, HD_CH_EMAIL);
}

/* Which log rows are which events, and a webhook's set and batch size,
 * read through the store alone. */
static void test_webhook_event_types(void **state)
{
    (void)state;
    struct hd_store *st = tu_both_open(&stores, NULL, ":memory:");
    struct hd_err e = {0};
    add_row(st, "skipped", "quiet_hours", HD_ST_DEFERRED); /* before the cursor */
    struct hd_wh_cursor c, c2;
    bool found;
    assert_int_equal(hd_store_wh_cursor(st, "w", false, false, 5, &c, &found, &e), 0);
    assert_false(found);
    assert_int_equal(hd_store_wh_cursor(st, "w", true, false, 5, &c, &found, &e), 0);
    assert_true(found);
    /* starts at now: past the row there is, its id on SQLite; on
     * PostgreSQL (H, 0), H the oldest transaction still running, after the
     * row's (the lag below counts only the rows added after) */
    if (stores.pg)
        assert_true(c.log_id == 0 && c.log_xact > 0);
    else
        assert_int_equal(c.log_id, 1);
    assert_int_equal(hd_store_wh_cursor(st, "all", true, true, 5, &c2, &found, &e), 0);
    assert_int_equal(c2.log_id, 0); /* from the start */
    assert_int_equal(c2.log_xact, 0);
    static const struct {
        const char *outcome, *reason;
        int state, type; /* -1: no event */
        bool sms;
    } rows[] = {
        {"accepted", NULL, HD_ST_SENT, HD_WH_SENT, false},
        {"receipt", "delivered", HD_ST_DELIVERED, HD_WH_DELIVERED, false},
        {"receipt", "bounced_hard", HD_ST_BOUNCED, HD_WH_BOUNCED, false},
        {"receipt", "undelivered", HD_ST_UNDELIVERED, HD_WH_BOUNCED, false},
        {"receipt", "complained", HD_ST_COMPLAINED, HD_WH_COMPLAINED, false},
        {"receipt", "opened", HD_ST_DELIVERED, HD_WH_OPENED, false},
        {"receipt", "unsubscribed", HD_ST_SENT, -1, false}, /* its consent_log row is the event */
        {"permanent", "http_400", HD_ST_FAILED, HD_WH_FAILED, false},
        {"skipped", "render_failed", HD_ST_RENDER_FAILED, HD_WH_FAILED, false},
        {"temporary", "http_503", HD_ST_RETRY_WAIT, -1, false},
        {"skipped", "capped", HD_ST_CAPPED, -1, false},
        /* reports the state machine refused (logged as ignored, the state
         * kept) are no events: a review found the opposite outcome told */
        {"receipt", "delivered", HD_ST_UNDELIVERED, -1, true},
        {"receipt", "undelivered", HD_ST_DELIVERED, -1, true},
        {"receipt", "complained", HD_ST_BOUNCED, -1, false},
        {"receipt", "delivered", HD_ST_COMPLAINED, -1, false},
        /* but an email's bounce after its delivery suppressed the address */
        {"receipt", "bounced_hard", HD_ST_DELIVERED, HD_WH_BOUNCED, false},
    };
    size_t n = sizeof rows / sizeof *rows;
    for (size_t i = 0; i < n; i++)
        add_row_on(st, rows[i].outcome, rows[i].reason, rows[i].state,
                   rows[i].sms ? HD_CH_SMS : HD_CH_EMAIL);
    assert_int_equal(hd_store_wh_cursor(st, "w", false, false, 5, &c, &found, &e), 0);
    assert_int_equal(c.lag, (int64_t)n);
    struct hd_wh_batch b;
    assert_int_equal(hd_store_wh_batch(st, &c, (1u << HD_WH_COUNT) - 1, 100, &b, &e), 0);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].type < 0)
            continue;
        assert_true(k < b.n);
        assert_int_equal(b.v[k].row, (int64_t)i + 2);
        assert_int_equal(b.v[k].type, rows[i].type);
        k++;
    }
    assert_int_equal(k, b.n);
    assert_int_equal(b.log_to, (int64_t)n + 1); /* past the rows that are no event */
    hd_wh_batch_release(&b);
    /* bounced only, one a batch: the first bounce, the cursor after it;
     * acknowledged, the next batch is the other, and the cursor passes
     * the rows after it */
    unsigned bounced = 1u << HD_WH_BOUNCED;
    assert_int_equal(hd_store_wh_batch(st, &c, bounced, 1, &b, &e), 0);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.log_to, 4);
    assert_int_equal(hd_store_wh_ack(st, "w", &b, 1, 0, 6, &e), 0);
    hd_wh_batch_release(&b);
    assert_int_equal(hd_store_wh_cursor(st, "w", false, false, 6, &c, &found, &e), 0);
    assert_int_equal(c.log_id, 4);
    assert_int_equal(c.delivered, 1);
    assert_int_equal(hd_store_wh_batch(st, &c, bounced, 10, &b, &e), 0);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.v[0].row, 5);
    assert_int_equal(b.v[1].row, (int64_t)n + 1);
    assert_int_equal(b.log_to, (int64_t)n + 1);
    hd_wh_batch_release(&b);
    /* a failure keeps the cursor and says why */
    assert_int_equal(hd_store_wh_fail(st, "w", 3, 99000, "HTTP 503: busy", &e), 0);
    assert_int_equal(hd_store_wh_cursor(st, "w", false, false, 6, &c, &found, &e), 0);
    assert_int_equal(c.log_id, 4);
    assert_int_equal(c.attempts, 3);
    assert_int_equal(c.next_ms, 99000);
    assert_string_equal(c.last_error, "HTTP 503: busy");
    /* a lease: this process holds it, a live other one waits */
    bool got;
    assert_int_equal(hd_store_wh_lease(st, "w", 111, 10, 1000, NULL, &got, &e), 0);
    assert_true(got);
    assert_int_equal(hd_store_wh_lease(st, "w", 222, 20, 1000, NULL, &got, &e), 0);
    assert_false(got);
    assert_int_equal(hd_store_wh_lease(st, "w", 222, 2000, 3000, NULL, &got, &e), 0);
    assert_true(got); /* the first one's is over */
    /* the whole log pruned: the cursor comes back, so the next row, which
     * takes id 1 again on SQLite (a PostgreSQL sequence goes on), is read */
    int64_t pruned = 0;
    assert_int_equal(hd_store_log_prune(st, 5000, 0, NULL, NULL, &pruned, &e), 0);
    assert_int_equal(pruned, (int64_t)n + 1);
    assert_int_equal(hd_store_wh_cursor(st, "w", false, false, 6, &c, &found, &e), 0);
    assert_int_equal(c.log_id, 0);
    add_row(st, "accepted", NULL, HD_ST_SENT);
    assert_int_equal(hd_store_wh_batch(st, &c, 1u << HD_WH_SENT, 10, &b, &e), 0);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.v[0].row, stores.pg ? (int64_t)n + 2 : 1);
    hd_wh_batch_release(&b);
    hd_store_free(st);
}

static void test_webhook_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"[webhook a]\nurl = http://x/\nsecret_env = HOME\nevents = sent, clicked\n",
         "w.conf:4: events: unknown event 'clicked' (known: sent, delivered, bounced, "
         "complained, unsubscribed, opened, failed)"},
        {"[webhook a]\nsecret_env = HOME\n", "w.conf:1: [webhook a] needs url"},
        {"[webhook a]\nurl = http://x/\n", "w.conf:1: [webhook a] needs secret_env or secret_file"},
        {"[webhook a]\nurl = ftp://x/\n", "w.conf:2: url: 'ftp://x/' is not an http:// or "
                                          "https:// URL"},
        {"[webhook a]\nurl = http://x/\nurl = http://y/\n",
         "w.conf:3: duplicate key 'url' in [webhook a]"},
        {"[webhook a]\nsecret = abc\n", "w.conf:2: unknown key 'secret' in [webhook a]"},
        {"[webhook a]\nbatch = 0\n", "w.conf:2: batch: '0' is not a number of events from 1"},
        {"[webhook a]\nmax_age = soon\n", "w.conf:2: max_age: 'soon' is not a duration"},
        {"[webhook a]\nsecret_file = /nonexistent/wh\n",
         "w.conf:2: secret_file: cannot read '/nonexistent/wh'"},
        {"[webhook a]\nsecret_env = HERALD_NO_SUCH_VAR\n",
         "w.conf:2: secret_env: environment variable 'HERALD_NO_SUCH_VAR' is not set"},
        {"[webhook a b]\nurl = http://x/\n", "w.conf:2: webhook name 'a b' may use only"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct hd_config *cfg = NULL;
        struct hd_err e = {0};
        assert_true(hd_config_parse(cases[i].text, "w.conf", &cfg, &e) < 0);
        assert_null(cfg);
        assert_contains(e.msg, cases[i].want);
    }
    /* a good one: the defaults, and the secret never in the dump */
    struct hd_config *cfg = NULL;
    struct hd_err e = {0};
    setenv("TEST_WH_SECRET", SECRET, 1);
    assert_int_equal(hd_config_parse("[webhook crm]\nurl = https://crm.example/h\n"
                                     "secret_env = TEST_WH_SECRET\nevents = bounced,complained\n",
                                     "w.conf", &cfg, &e),
                     0);
    const struct hd_webhook_cfg *w = hd_config_webhook(cfg, "crm");
    assert_non_null(w);
    assert_int_equal(w->events, (1u << HD_WH_BOUNCED) | (1u << HD_WH_COMPLAINED));
    assert_int_equal(w->batch, 100);
    assert_int_equal(w->max_age, 3 * 86400);
    struct hd_buf b;
    hd_buf_init(&b);
    hd_config_dump(cfg, &b);
    assert_contains(b.data, "[webhook crm]\nurl = https://crm.example/... ; shown cut: its path, "
                            "query or password may be secret\nevents = bounced, complained\n"
                            "batch = 100\nmax_age = 3d\n");
    assert_null(strstr(b.data, SECRET));
    hd_buf_release(&b);
    hd_config_free(cfg);
    /* through the CLI: file and line, exit 1 */
    struct tu_run r;
    write_file("bad.conf", "[herald]\ndatabase = h.db\n[webhook x]\nurl = http://x/\n"
                           "secret_env = HOME\nevents = opened,clicked\n");
    tu_herald(&r, dir, NULL, "-c", "bad.conf", "webhook", "list", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "bad.conf:6: events: unknown event 'clicked'");
    tu_run_release(&r);
    /* a user and password in the URL are not shown (a review saw them) */
    conf("[webhook x]\nurl = http://user:pw123@127.0.0.1:9/x?k=1\nsecret_env = HOME\n");
    const char *formats[] = {"table", "json"};
    for (size_t i = 0; i < 2; i++) {
        tu_herald(&r, dir, NULL, "webhook", "list", "--format", formats[i], NULL);
        assert_int_equal(r.status, 0);
        assert_not_contains(r.out, "pw123");
        assert_not_contains(r.out, "user");
        assert_contains(r.out, "http://127.0.0.1:9/...");
        tu_run_release(&r);
    }
    /* nor by config check, nor in an error (both printed it whole) */
    tu_herald(&r, dir, NULL, "config", "check", NULL);
    assert_int_equal(r.status, 0);
    assert_not_contains(r.out, "pw123");
    assert_not_contains(r.out, "k=1");
    assert_contains(r.out, "url = http://127.0.0.1:9/... ; shown cut");
    tu_run_release(&r);
    conf("[webhook x]\nurl = HTTPX://user:pw123@127.0.0.1:9/x?k=1\nsecret_env = HOME\n");
    tu_herald(&r, dir, NULL, "config", "check", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "is not an http:// or https:// URL");
    assert_not_contains(r.err, "pw123");
    tu_run_release(&r);
}

/* Down (connection refused), then 503 twice, then up: every event once. */
static void test_webhook_retry_exactly_once(void **state)
{
    (void)state;
    char hooks[512];
    snprintf(hooks, sizeof hooks,
             "[webhook hook]\nurl = http://127.0.0.1:%d/in\nsecret_file = wh.secret\nbatch = 2\n",
             tu_dead_port());
    conf(hooks);
    struct tu_run r = deliver_at("2026-11-22T12:00:00Z"); /* the cursor starts: now */
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "0 events delivered in 0 batches, 0 expired, 0 failed tries");
    tu_run_release(&r);
    send_promo();
    TU_HERALD_OK(dir, "contacts", "optout", "k2", "--channel", "email");
    int64_t sent = q1("SELECT count(*) FROM attempts WHERE outcome = 'accepted'");
    int64_t outs = q1("SELECT count(*) FROM consent_log WHERE status = 'opted_out'");
    assert_int_equal(sent, 3);
    assert_true(outs >= 1);
    r = deliver_at("2026-11-22T12:00:00Z");
    assert_int_equal(r.status, 1);
    assert_contains(r.out, "0 events delivered in 0 batches, 0 expired, 1 failed tries");
    assert_contains(r.err, "webhook hook: try 1 of a batch of 2 events failed (no answer:");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "webhook", "list", "--format", "json", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "\"last_error\":\"no answer: ");
    tu_run_release(&r);
    /* the receiver comes up on another port, refusing twice */
    struct tu_server rx;
    recv_start(&rx, SECRET, "2", "0");
    snprintf(hooks, sizeof hooks,
             "[webhook hook]\nurl = http://127.0.0.1:%d/in\nsecret_file = wh.secret\nbatch = 2\n",
             rx.port);
    conf(hooks);
    r = deliver_at("2026-11-22T12:00:01Z"); /* within the backoff: nothing is tried */
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "0 events delivered in 0 batches, 0 expired, 0 failed tries");
    tu_run_release(&r);
    json_t *log = received();
    assert_int_equal(json_array_size(log), 0);
    json_decref(log);
    const char *later[] = {"2026-11-22T13:00:00Z", "2026-11-22T14:00:00Z"};
    for (int i = 0; i < 2; i++) {
        r = deliver_at(later[i]);
        assert_int_equal(r.status, 1);
        assert_contains(r.err, "failed (HTTP 503: busy)");
        tu_run_release(&r);
    }
    r = deliver_at("2026-11-22T15:00:00Z");
    assert_int_equal(r.status, 0);
    char want[128];
    snprintf(want, sizeof want, "%lld events delivered", (long long)(sent + outs));
    assert_contains(r.out, want);
    tu_run_release(&r);
    r = deliver_at("2026-11-22T16:00:00Z"); /* caught up: nothing is sent again */
    assert_contains(r.out, "0 events delivered in 0 batches");
    tu_run_release(&r);
    log = received();
    tu_server_stop(&rx);
    assert_all_verified(log);
    /* 2 refused + ceil(events / 2) accepted; each id acknowledged once */
    assert_int_equal(json_array_size(log), 2 + (size_t)(sent + outs + 1) / 2);
    char id[32];
    for (int64_t k = 1; k <= 3; k++) {
        snprintf(id, sizeof id, "log-%lld-", (long long)k);
        assert_int_equal(times_of(log, id, 200), 1);
    }
    for (int64_t k = 1; k <= outs; k++) {
        snprintf(id, sizeof id, "consent-%lld-", (long long)k);
        assert_int_equal(times_of(log, id, 200), 1);
    }
    /* an event as the README documents it */
    json_t *first = json_array_get(json_object_get(json_array_get(log, 2), "events"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "type")), "sent");
    assert_string_equal(json_string_value(json_object_get(first, "campaign")), "promo");
    assert_string_equal(json_string_value(json_object_get(first, "channel")), "email");
    assert_string_equal(json_string_value(json_object_get(first, "provider")), "outbox");
    assert_true(json_integer_value(json_object_get(first, "message_id")) > 0);
    assert_non_null(json_object_get(first, "contact"));
    json_decref(log);
    tu_herald(&r, dir, NULL, "webhook", "list", NULL);
    assert_contains(r.out, "hook ");
    assert_contains(r.out, " all ");
    assert_contains(r.out, "LAST ERROR");
    assert_contains(r.out, " http://127.0.0.1:"); /* the host, and the path cut */
    assert_not_contains(r.out, "/in ");
    assert_contains(r.out, "/... ");
    assert_int_equal(q1("SELECT delivered FROM webhooks WHERE name = 'hook'"), sent + outs);
    assert_int_equal(q1("SELECT attempts FROM webhooks WHERE name = 'hook'"), 0);
    tu_run_release(&r);
}

/* SIGKILL while the receiver holds the second batch's answer: that batch
 * is posted again, the first never. */
static void test_webhook_sigkill_resends_unacknowledged(void **state)
{
    (void)state;
    struct tu_server rx;
    recv_start(&rx, SECRET, "0", "2");
    char hooks[512];
    snprintf(hooks, sizeof hooks,
             "[webhook crash]\nurl = http://127.0.0.1:%d/in\nsecret_file = wh.secret\n"
             "batch = 1\nevents = unsubscribed\ntimeout = 60s\n",
             rx.port);
    conf(hooks);
    struct tu_run r = deliver_at("2026-11-22T17:00:00Z");
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    TU_HERALD_OK(dir, "contacts", "optout", "k1", "--channel", "sms");
    TU_HERALD_OK(dir, "contacts", "optout", "k3", "--channel", "sms");
    const char *args[] = {"webhook", "deliver", "--once", NULL};
    pid_t pid = tu_herald_spawn(dir, "crash.log", args);
    json_t *log = NULL;
    for (int i = 0; i < 400; i++) {
        json_decref(log);
        log = received();
        if (json_array_size(log) >= 2)
            break;
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    assert_int_equal(json_array_size(log), 2);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    const char *a1 =
        json_string_value(json_array_get(json_object_get(json_array_get(log, 0), "ids"), 0));
    const char *a2 =
        json_string_value(json_array_get(json_object_get(json_array_get(log, 1), "ids"), 0));
    char acked[32], held[32];
    snprintf(acked, sizeof acked, "%s", a1);
    snprintf(held, sizeof held, "%s", a2);
    json_decref(log);
    r = deliver_at("2026-11-22T17:00:00Z"); /* the dead process's lease does not hold */
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    log = received();
    tu_server_stop(&rx);
    assert_all_verified(log);
    int64_t outs = q1("SELECT count(*) FROM consent_log WHERE status = 'opted_out' AND channel = "
                      "'sms'");
    assert_true(outs >= 2);
    assert_int_equal(json_array_size(log), (size_t)outs + 1);
    assert_int_equal(times_of(log, acked, 0), 1);
    assert_int_equal(times_of(log, held, 0), 2);
    json_decref(log);
}

/* Events older than max_age when their batch is due expire, logged. */
static void test_webhook_expired_logged(void **state)
{
    (void)state;
    struct tu_server rx;
    recv_start(&rx, SECRET, "0", "0");
    char hooks[512];
    snprintf(hooks, sizeof hooks,
             "[webhook late]\nurl = http://127.0.0.1:%d/in\nsecret_file = wh.secret\n"
             "events = unsubscribed\nmax_age = 1h\n",
             rx.port);
    conf(hooks);
    struct tu_run r = deliver_at("2026-11-22T18:00:00Z");
    tu_run_release(&r);
    setenv("HERALD_NOW", "2026-11-22T18:00:00Z", 1);
    TU_HERALD_OK(dir, "contacts", "optout", "k1", "--channel", "push");
    r = deliver_at("2026-11-22T20:00:00Z");
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "0 events delivered in 0 batches, ");
    assert_contains(r.err, "webhook late: ");
    assert_contains(r.err, "events expired undelivered, older than max_age (consent-");
    tu_run_release(&r);
    json_t *log = received();
    assert_int_equal(json_array_size(log), 0);
    json_decref(log);
    tu_server_stop(&rx);
    assert_true(q1("SELECT expired FROM webhooks WHERE name = 'late'") >= 1);
}

static void test_webhook_test_and_wrong_secret(void **state)
{
    (void)state;
    struct tu_server rx;
    recv_start(&rx, SECRET, "0", "0");
    char hooks[512];
    snprintf(hooks, sizeof hooks,
             "[webhook good]\nurl = http://127.0.0.1:%d/in\nsecret_file = wh.secret\n"
             "[webhook bad]\nurl = http://127.0.0.1:%d/in\nsecret_file = wrong.secret\n",
             rx.port, rx.port);
    conf(hooks);
    struct tu_run r;
    tu_herald(&r, dir, NULL, "webhook", "test", "good", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "good: HTTP 200\nok\n");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "webhook", "test", "bad", NULL);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.out, "bad: HTTP 401\nbad signature\n");
    tu_run_release(&r);
    tu_herald(&r, dir, NULL, "webhook", "test", "nosuch", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "no [webhook nosuch] in the configuration");
    tu_run_release(&r);
    json_t *log = received();
    tu_server_stop(&rx);
    assert_int_equal(json_array_size(log), 2);
    assert_true(json_is_true(json_object_get(json_array_get(log, 0), "verified")));
    assert_true(json_is_false(json_object_get(json_array_get(log, 1), "verified")));
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(json_array_get(log, 0), "types"), 0)),
        "test");
    json_decref(log);
    tu_herald(&r, dir, NULL, "webhook", "--help", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "usage: herald webhook list");
    tu_run_release(&r);
}

/* herald run delivers beside the dispatcher, until stopped. */
static void test_webhook_run_delivers(void **state)
{
    (void)state;
    struct tu_server rx;
    recv_start(&rx, SECRET, "0", "0");
    char hooks[512];
    snprintf(hooks, sizeof hooks,
             "[webhook live]\nurl = http://127.0.0.1:%d/in\nsecret_file = wh.secret\n"
             "events = unsubscribed\n",
             rx.port);
    conf(hooks);
    setenv("HERALD_NOW", "2026-11-22T21:00:00Z", 1);
    struct tu_run r = deliver_at("2026-11-22T21:00:00Z");
    tu_run_release(&r);
    TU_HERALD_OK(dir, "contacts", "optout", "k3", "--channel", "push");
    const char *args[] = {"run", NULL};
    pid_t pid = tu_herald_spawn(dir, "run.log", args);
    json_t *log = NULL;
    for (int i = 0; i < 400; i++) {
        json_decref(log);
        log = received();
        if (json_array_size(log) >= 1)
            break;
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    assert_int_equal(tu_serve_stop(pid), 0);
    tu_server_stop(&rx);
    assert_int_equal(json_array_size(log), 1);
    assert_all_verified(log);
    json_t *ev = json_array_get(json_object_get(json_array_get(log, 0), "events"), 0);
    assert_string_equal(json_string_value(json_object_get(ev, "type")), "unsubscribed");
    assert_string_equal(json_string_value(json_object_get(ev, "contact")), "k3");
    assert_string_equal(json_string_value(json_object_get(ev, "channel")), "push");
    json_decref(log);
}

/* The sent events of the campaign named, in the receiver's log. */
static int sent_of(json_t *log, const char *campaign)
{
    int n = 0;
    size_t i, k;
    json_t *rec, *ev;
    json_array_foreach(log, i, rec)
    {
        json_array_foreach(json_object_get(rec, "events"), k, ev)
        {
            const char *c = json_string_value(json_object_get(ev, "campaign"));
            n += strcmp(json_string_value(json_object_get(ev, "type")), "sent") == 0 && c &&
                 strcmp(c, campaign) == 0;
        }
    }
    return n;
}

/* A webhook herald run sees for the first time gets the events of the
 * run's own work, however late its thread is: here a campaign due at the
 * start, with the thread's first read of a cursor held back 1.5 s
 * (tests/slow_first_cursor.c). The thread's first pass made the cursor,
 * after the dispatcher had written the sends, and started past them: on
 * a loaded machine test_apitok_send_inbox_pg lost its "sent" event so. */
static void test_webhook_run_new_webhook(void **state)
{
    (void)state;
    char *shim = tu_shim_build(dir, "slow_first_cursor", "$(pkg-config --cflags libpq sqlite3)");
    struct tu_server rx;
    recv_start(&rx, SECRET, "0", "0");
    char hooks[512];
    snprintf(hooks, sizeof hooks,
             "[webhook fresh]\nurl = http://127.0.0.1:%d/in\nsecret_file = wh.secret\n"
             "events = sent\n",
             rx.port);
    conf(hooks);
    setenv("HERALD_NOW", "2026-11-22T22:00:00Z", 1);
    TU_HERALD_OK(dir, "campaign", "create", "first", "--segment", "all", "--template", "promo",
                 "--channels", "email", "--now");
    struct tu_preload pre;
    tu_preload_begin(&pre, shim);
    const char *args[] = {"run", NULL};
    pid_t pid = tu_herald_spawn(dir, "run.log", args);
    tu_preload_end(&pre);
    const char *sql = "SELECT count(*) FROM attempts a JOIN messages m ON m.id = a.message_id "
                      "JOIN runs r ON r.id = m.run_id JOIN campaigns c ON c.id = r.campaign_id "
                      "WHERE c.name = 'first' AND a.outcome = 'accepted'";
    json_t *log = NULL;
    int64_t sent = 0;
    for (int i = 0; i < 400; i++) {
        json_decref(log);
        log = received();
        sent = q1(sql);
        if (sent > 0 && sent_of(log, "first") >= sent)
            break;
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    assert_int_equal(tu_serve_stop(pid), 0);
    tu_server_stop(&rx);
    json_decref(log);
    log = received();
    sent = q1(sql);
    assert_true(sent > 0);
    assert_all_verified(log);
    if (sent_of(log, "first") != sent)
        fail_msg("the webhook new to herald run got %d of the %lld sends of its campaign",
                 sent_of(log, "first"), (long long)sent);
    json_decref(log);
    free(shim);
}

/* An erased contact's consent rows were the newest: the next opt-outs
 * take their ids again (SQLite's rowids; PostgreSQL's sequence does not
 * reuse them), and still arrive, under ids of their own. */
static void test_webhook_erasure_frees_ids(void **state)
{
    (void)state;
    struct tu_server rx;
    recv_start(&rx, SECRET, "0", "0");
    char hooks[512];
    snprintf(hooks, sizeof hooks,
             "[webhook reuse]\nurl = http://127.0.0.1:%d/in\nsecret_file = wh.secret\n"
             "events = unsubscribed\n",
             rx.port);
    conf(hooks);
    struct tu_run r = deliver_at("2026-11-23T09:00:00Z");
    tu_run_release(&r);
    write_file("k4.csv", "id,email\nk4,k4@example.com\n");
    TU_HERALD_OK(dir, "contacts", "import", "k4.csv");
    TU_HERALD_OK(dir, "contacts", "optout", "k4", "--channel", "email");
    r = deliver_at("2026-11-23T09:00:00Z");
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    int64_t top = q1("SELECT max(id) FROM consent_log");
    TU_HERALD_OK(dir, "contacts", "delete", "k4");
    assert_true(q1("SELECT coalesce(max(id), 0) FROM consent_log") < top);
    TU_HERALD_OK(dir, "contacts", "optout", "k1", "--channel", "email");
    if (e2e_pg_uri) /* a sequence never gives an id twice: the opt-out still arrives */
        assert_true(q1("SELECT max(id) FROM consent_log") > top);
    else
        assert_true(q1("SELECT max(id) FROM consent_log") <= top); /* the ids came back */
    r = deliver_at("2026-11-23T09:00:00Z");
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    json_t *log = received();
    tu_server_stop(&rx);
    assert_int_equal(json_array_size(log), 2);
    json_t *a = json_object_get(json_array_get(log, 0), "ids");
    json_t *b = json_object_get(json_array_get(log, 1), "ids");
    assert_true(json_array_size(a) >= 1);
    assert_int_equal(json_array_size(b), json_array_size(a));
    size_t i;
    json_t *v;
    json_array_foreach(b, i, v) assert_int_equal(times_of(log, json_string_value(v), 0), 1);
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(json_array_get(log, 1), "events"), 0), "contact")),
        "k1");
    json_decref(log);
}

/* ---- PostgreSQL: writers that commit out of id order (issue 23) ---- */

/* The store's own connection, to hold a transaction open by hand. */
static PGconn *pg_open(void)
{
    PGconn *c = PQconnectdb(e2e_pg_uri);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connecting to %s: %s", e2e_pg_uri, PQerrorMessage(c));
    return c;
}

/* Runs sql on c; returns the first column of its first row (0: none). */
static int64_t pg_do(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    int64_t v = PQntuples(r) > 0 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return v;
}

/* A writer's two rows: a log row (a sent event) and an opt-out, with the
 * ids they took. */
struct writer {
    PGconn *c;
    int64_t log, consent;
};

#define NOW_MS "1795514400000" /* 2026-11-24T10:00:00Z */
#define NOW "2026-11-24T10:00:00Z"

static void write_rows(struct writer *w)
{
    w->log = pg_do(w->c, "INSERT INTO attempts (message_id, attempt, at, channel, provider, "
                         "outcome, contact_id) VALUES (1, 1, " NOW_MS ", 'email', 'p', "
                         "'accepted', 1) RETURNING id");
    w->consent = pg_do(w->c, "INSERT INTO consent_log (contact_id, channel, category, status, "
                             "source, at) SELECT id, 'email', 'marketing', 'opted_out', 'cli', "
                             "1795514400 FROM contacts WHERE ext_id = 'k1' RETURNING id");
}

/* How many times the receiver got the writer's two events (each must be
 * the same number, which is returned). */
static int times_of_writer(json_t *log, const struct writer *w)
{
    char a[48], b[48];
    snprintf(a, sizeof a, "log-%lld-", (long long)w->log);
    snprintf(b, sizeof b, "consent-%lld-", (long long)w->consent);
    int n = times_of(log, a, 200);
    assert_int_equal(times_of(log, b, 200), n);
    return n;
}

/* Delivers until both writers' events have come (another database's
 * transaction on a shared server may hold them back a moment: the
 * horizon is the server's), at most a bound of tries. */
static json_t *deliver_until(const struct writer *x, const struct writer *y)
{
    json_t *log = NULL;
    for (int i = 0; i < 100; i++) {
        struct tu_run r = deliver_at(NOW);
        assert_int_equal(r.status, 0);
        tu_run_release(&r);
        json_decref(log);
        log = received();
        if (times_of_writer(log, x) > 0 && times_of_writer(log, y) > 0)
            break;
        struct timespec nap = {0, 20 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    return log;
}

/* Two transactions, A and B: A takes the lower ids and stays open while B
 * commits and the webhook delivers; then A commits. Every event arrives
 * once, A's too. Case 1, A is the older transaction: B's events wait
 * behind A's. Case 2, B's transaction began first (it wrote before A), so
 * A is the younger, and B's events may go at once: an id cursor, and one
 * that takes rows by id whose transaction is older than every running
 * one, would pass A's rows for good in either case. */
static void test_webhook_order_across_writers(void **state)
{
    (void)state;
    struct tu_server rx;
    recv_start(&rx, SECRET, "0", "0");
    char hooks[512];
    snprintf(hooks, sizeof hooks,
             "[webhook order]\nurl = http://127.0.0.1:%d/in\nsecret_file = wh.secret\n"
             "events = sent, unsubscribed\n",
             rx.port);
    conf(hooks);
    struct tu_run r = deliver_at(NOW); /* the cursor, at now */
    tu_run_release(&r);
    for (int older_a = 1; older_a >= 0; older_a--) {
        struct writer a = {.c = pg_open()}, b = {.c = pg_open()};
        pg_do(b.c, "BEGIN");
        if (!older_a)
            pg_do(b.c, "SELECT pg_current_xact_id()"); /* B's transaction id first */
        pg_do(a.c, "BEGIN");
        write_rows(&a);
        write_rows(&b);
        assert_true(b.log > a.log && b.consent > a.consent);
        pg_do(b.c, "COMMIT");
        r = deliver_at(NOW);
        assert_int_equal(r.status, 0);
        tu_run_release(&r);
        json_t *log = received();
        assert_int_equal(times_of_writer(log, &a), 0); /* not committed */
        if (older_a)
            assert_int_equal(times_of_writer(log, &b), 0); /* behind A */
        json_decref(log);
        pg_do(a.c, "COMMIT");
        log = deliver_until(&a, &b);
        assert_int_equal(times_of_writer(log, &a), 1);
        assert_int_equal(times_of_writer(log, &b), 1);
        assert_all_verified(log);
        json_decref(log);
        PQfinish(a.c);
        PQfinish(b.c);
    }
    r = deliver_at(NOW); /* nothing more, nothing twice */
    tu_run_release(&r);
    json_t *log = received();
    tu_server_stop(&rx);
    assert_int_equal(times_of(log, "log-", 0), 4);
    assert_int_equal(times_of(log, "consent-", 0), 4);
    json_decref(log);
}

/* A transaction left open in another database of the server (another
 * application's) holds no event back: the horizon is herald's database's
 * (it failed when it was the server's xmin). */
static void test_webhook_other_database_holds_nothing(void **state)
{
    (void)state;
    struct tu_server rx;
    recv_start(&rx, SECRET, "0", "0");
    char hooks[512];
    snprintf(hooks, sizeof hooks,
             "[webhook other]\nurl = http://127.0.0.1:%d/in\nsecret_file = wh.secret\n"
             "events = sent, unsubscribed\n",
             rx.port);
    conf(hooks);
    struct tu_run r = deliver_at(NOW); /* the cursor, at now */
    tu_run_release(&r);
    const char *keys[] = {"dbname", "dbname", NULL}, *values[] = {e2e_pg_uri, "postgres", NULL};
    PGconn *other = PQconnectdbParams(keys, values, 1);
    if (PQstatus(other) != CONNECTION_OK)
        fail_msg("connecting to the server's postgres database: %s", PQerrorMessage(other));
    pg_do(other, "BEGIN");
    pg_do(other, "SELECT pg_current_xact_id()"); /* older than the rows below */
    struct writer a = {.c = pg_open()};
    write_rows(&a); /* each committed at once */
    json_t *log = deliver_until(&a, &a);
    assert_int_equal(times_of_writer(log, &a), 1);
    assert_all_verified(log);
    json_decref(log);
    pg_do(other, "COMMIT");
    PQfinish(other);
    PQfinish(a.c);
    tu_server_stop(&rx);
}

int main(void)
{
    const struct CMUnitTest unit[] = {
        cmocka_unit_test(test_webhook_event_types),
        {"test_webhook_event_types_pg", test_webhook_event_types, setup_pg, teardown, NULL},
    };
    const struct CMUnitTest e2e[] = {
        cmocka_unit_test(test_webhook_config_errors),
        cmocka_unit_test(test_webhook_retry_exactly_once),
        cmocka_unit_test(test_webhook_sigkill_resends_unacknowledged),
        cmocka_unit_test(test_webhook_expired_logged),
        cmocka_unit_test(test_webhook_test_and_wrong_secret),
        cmocka_unit_test(test_webhook_run_delivers),
        cmocka_unit_test(test_webhook_run_new_webhook),
        cmocka_unit_test(test_webhook_erasure_frees_ids),
    };
    /* the same story, in the same order, on a PostgreSQL store */
    const struct CMUnitTest e2e_pg[] = {
        {"test_webhook_config_errors_pg", test_webhook_config_errors, NULL, NULL, NULL},
        {"test_webhook_retry_exactly_once_pg", test_webhook_retry_exactly_once, NULL, NULL, NULL},
        {"test_webhook_sigkill_resends_unacknowledged_pg",
         test_webhook_sigkill_resends_unacknowledged, NULL, NULL, NULL},
        {"test_webhook_expired_logged_pg", test_webhook_expired_logged, NULL, NULL, NULL},
        {"test_webhook_test_and_wrong_secret_pg", test_webhook_test_and_wrong_secret, NULL, NULL,
         NULL},
        {"test_webhook_run_delivers_pg", test_webhook_run_delivers, NULL, NULL, NULL},
        {"test_webhook_run_new_webhook_pg", test_webhook_run_new_webhook, NULL, NULL, NULL},
        {"test_webhook_erasure_frees_ids_pg", test_webhook_erasure_frees_ids, NULL, NULL, NULL},
        cmocka_unit_test(test_webhook_order_across_writers),
        cmocka_unit_test(test_webhook_other_database_holds_nothing),
    };
    int rc = cmocka_run_group_tests(unit, NULL, NULL);
    rc |= cmocka_run_group_tests(e2e, e2e_setup, e2e_teardown);
    return rc | cmocka_run_group_tests(e2e_pg, e2e_setup_pg, e2e_teardown);
}
