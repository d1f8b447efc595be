/* test_ops_send: issue 17, items 1, 2 and 4, end to end through the real
 * binary: a send whose messages fail exits 3 and prints the failures by
 * reason with a herald log command that works when run, while decisions
 * (held out, suppressed) are not failures; the circuit breaker pauses a
 * campaign whose template fails for every contact after failure_window
 * messages, not after its audience (and one whose gateway refuses every
 * message), campaign show, why and the log say why, resume goes on, and a
 * recurring campaign it paused does not fire until then;
 * run numbers count per campaign (1, 2, ...) in send, campaign show, log,
 * history and why, also for runs made before the migration that numbers
 * them; send reports only the run it sent; a run made late says when it
 * fired and when it was due in campaign show, why and history, tables and
 * JSON alike (fired_at is the firing stats --goal counts from, due_at its
 * time). Each case runs on a SQLite file
 * and (all but the migration of an old SQLite file) on a PostgreSQL store. */
#include "testutil.h"

#include <jansson.h>
#include <sqlite3.h>

#include "testnet.h"

static struct tu_server smtp;
static const char *db = "h.db";   /* the store: "h.db" in the folder, or pg_uri */
static char *pg_uri, pg_name[64]; /* the PostgreSQL run's database */

struct fx {
    char *dir;
};

static int setup(void **state)
{
    struct fx *fx = hd_xcalloc(1, sizeof *fx);
    fx->dir = tu_tmpdir();
    setenv("HERALD_CONFIG", "herald.conf", 1);
    setenv("HERALD_NOW", "2026-11-22T09:00:00Z", 1);
    char *t = tu_path(fx->dir, "templates");
    assert_int_equal(mkdir(t, 0700), 0);
    free(t);
    *state = fx;
    return 0;
}

/* The same with the store on a fresh PostgreSQL database. */
static int setup_pg(void **state)
{
    pg_uri = tu_pg_db(pg_name);
    db = pg_uri;
    return setup(state);
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    tu_server_stop(&smtp);
    tu_rmdir(fx->dir);
    free(fx);
    unsetenv("HERALD_CONFIG");
    if (pg_uri) {
        tu_pg_drop(pg_name);
        free(pg_uri);
        pg_uri = NULL;
    }
    db = "h.db";
    return 0;
}

#define OK TU_HERALD_OK

static void write_file(const char *dir, const char *name, const char *text)
{
    char *p = tu_path(dir, name);
    tu_write(p, text);
    free(p);
}

/* A template whose subject needs the contact's plan (strict rendering:
 * a contact without one is render_failed), or needs nothing. */
static void write_template(const char *dir, const char *name, bool needs_plan)
{
    char path[128], text[512];
    snprintf(path, sizeof path, "templates/%s.tmpl", name);
    snprintf(text, sizeof text,
             "description: test\ncategory: marketing\nfrom: Acme <deals@example.com>\n\n"
             "--- email.subject\nHello %s\n--- email.text\nBody\n",
             needs_plan ? "{{ plan }}" : "there");
    write_file(dir, path, text);
}

/* n contacts c0000..., email c0000@example.com (or LOCAL@dN.example), the
 * first with_plan of them with a plan; a segment "all" of them. */
static void write_contacts(const char *dir, int n, int with_plan, const char *local)
{
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_adds(&b, "id,email,plan\n");
    for (int i = 0; i < n; i++) {
        if (local)
            hd_buf_addf(&b, "c%04d,%s@d%d.example,%s\n", i, local, i, i < with_plan ? "gold" : "");
        else
            hd_buf_addf(&b, "c%04d,c%04d@example.com,%s\n", i, i, i < with_plan ? "gold" : "");
    }
    write_file(dir, "contacts.csv", b.data);
    hd_buf_release(&b);
    OK(dir, "contacts", "import", "contacts.csv");
    OK(dir, "segment", "define", "all", "email exists");
}

/* The default outbox provider, and the breaker's keys when given. */
static void write_conf(const char *dir, const char *dispatch)
{
    char text[1024];
    snprintf(text, sizeof text,
             "[herald]\ndatabase = %s\ntemplates = templates\nlog_level = info\n" TU_SERVE_CONF
             "%s%s",
             db, dispatch ? "[dispatch]\n" : "", dispatch ? dispatch : "");
    write_file(dir, "herald.conf", text);
    OK(dir, "init");
}

/* The configuration, the templates "plan" (fails without a plan) and
 * "hello", and n contacts of which with_plan have a plan. */
static void prepare(const char *dir, const char *dispatch, int n, int with_plan)
{
    write_conf(dir, dispatch);
    write_template(dir, "plan", true);
    write_template(dir, "hello", false);
    write_contacts(dir, n, with_plan, NULL);
}

static int count_lines(const char *text, const char *needle)
{
    int n = 0;
    for (const char *l = text; l && *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), l);
        n += strstr(line, needle) != NULL;
        l = e ? e + 1 : l + len;
    }
    return n;
}

/* Runs the herald log command a send printed after "see them: herald "
 * and returns how many of its rows have the reason. */
static int run_printed_log(const char *dir, const char *out, const char *reason)
{
    const char *p = strstr(out, "see them: herald ");
    assert_non_null(p);
    p += strlen("see them: herald ");
    char cmd[256], *a[8] = {0};
    snprintf(cmd, sizeof cmd, "%.*s", (int)strcspn(p, "\n"), p);
    int n = 0;
    for (char *s = cmd; *s && n < 8;) {
        a[n++] = s;
        s += strcspn(s, " ");
        if (*s)
            *s++ = '\0';
    }
    if (n != 7)
        fail_msg("the printed command has %d words, not 7: %s", n, p);
    struct tu_run r;
    tu_herald(&r, dir, NULL, a[0], a[1], a[2], a[3], a[4], a[5], a[6], "--limit", "0", NULL);
    if (r.status != 0)
        fail_msg("the printed command failed (%d): %s", r.status, r.err);
    int rows = count_lines(r.out, reason);
    tu_run_release(&r);
    return rows;
}

/* ---- item 1: failures exit 3, decisions do not ------------------------------------- */

static void test_ops_send_failures_exit(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    prepare(fx->dir, NULL, 12, 8);
    OK(fx->dir, "campaign", "create", "p", "--segment", "all", "--template", "plan", "--channels",
       "email", "--now");
    tu_herald(&r, fx->dir, NULL, "send", "p", NULL);
    assert_int_equal(r.status, 3);
    assert_contains(r.out, "campaign 'p', run 1: sent 8 render_failed 4\n");
    assert_contains(r.out, "failed: 4 messages, by reason:\n"
                           "  4 render_failed: plan.tmpl:6:7: missing variable 'plan'");
    assert_contains(r.out, "see them: herald log --campaign p --run 1 --reason render_failed\n");
    /* the command printed works and lists exactly those */
    assert_int_equal(run_printed_log(fx->dir, r.out, "render_failed"), 4);
    tu_run_release(&r);
    /* decisions are not failures: held out and suppressed exit 0 */
    OK(fx->dir, "suppress", "add", "c0000@example.com", "--channel", "email");
    OK(fx->dir, "campaign", "create", "d", "--segment", "all", "--template", "hello", "--channels",
       "email", "--holdout", "30", "--now");
    tu_herald(&r, fx->dir, NULL, "send", "d", NULL);
    if (r.status != 0)
        fail_msg("a send with only decisions exited %d: %s%s", r.status, r.out, r.err);
    assert_contains(r.out, "held_out");
    assert_contains(r.out, "suppressed 1");
    assert_not_contains(r.out, "failed:");
    tu_run_release(&r);
    /* the code is documented where herald lists its exit statuses */
    tu_herald(&r, fx->dir, NULL, "--help", NULL);
    assert_contains(r.out, "3 the send ran but messages failed");
    tu_run_release(&r);
}

/* ---- item 2: the circuit breaker ------------------------------------------------------- */

static void test_ops_send_breaker_render(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    prepare(fx->dir, "failure_window = 50\npause_on_failure_rate = 1\n", 1000, 0);
    OK(fx->dir, "campaign", "create", "promo", "--segment", "all", "--template", "plan",
       "--channels", "email", "--now");
    tu_herald(&r, fx->dir, NULL, "send", "promo", NULL);
    assert_int_equal(r.status, 3);
    /* the window's 50, not the audience's 1000 */
    assert_contains(r.out, "campaign 'promo', run 1: queued 950 render_failed 50\n");
    assert_contains(r.out, "the campaign was paused (the circuit breaker tripped: 50 of the last "
                           "50 messages failed (render_failed: plan.tmpl:6:7: missing variable "
                           "'plan'");
    assert_contains(r.out, "950 messages wait until it is resumed ('herald campaign resume "
                           "promo')");
    assert_contains(r.err, "warn: campaign 'promo': paused: the circuit breaker tripped");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "campaign", "show", "promo", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "status       paused\n");
    assert_contains(r.out, "paused by    herald: the circuit breaker tripped: 50 of the last 50 "
                           "messages failed (render_failed: ");
    assert_contains(r.out, "(fix it, then 'herald campaign resume promo')");
    assert_contains(r.out, "active        queued 950 render_failed 50\n");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "why", "c0999", "promo", NULL);
    assert_contains(r.out, "the campaign is paused: the circuit breaker tripped: 50 of the last 50 "
                           "messages failed (render_failed: ");
    assert_contains(r.out, "now: queued");
    tu_run_release(&r);
    /* fixed and resumed, it goes on with the 950 that waited */
    write_template(fx->dir, "plan", false);
    OK(fx->dir, "campaign", "resume", "promo");
    tu_herald(&r, fx->dir, NULL, "campaign", "show", "promo", NULL);
    assert_not_contains(r.out, "paused by");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "send", "promo", NULL);
    assert_int_equal(r.status, 3); /* the run's 50 render failures are still failures */
    assert_contains(r.out, "campaign 'promo', run 1: sent 950 render_failed 50\n");
    assert_not_contains(r.out, "paused");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "campaign", "show", "promo", NULL);
    assert_contains(r.out, "status       done\n");
    tu_run_release(&r);
}

/* Paused by the breaker, a daily campaign does not fire again until it is
 * resumed (herald run as the daemon would, a day later). */
static void test_ops_send_breaker_recurring(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    prepare(fx->dir, "failure_window = 20\npause_on_failure_rate = 1\n", 200, 0);
    OK(fx->dir, "campaign", "create", "daily", "--segment", "all", "--template", "plan",
       "--channels", "email", "--every", "0 9 * * *");
    OK(fx->dir, "run", "--once");
    setenv("HERALD_NOW", "2026-11-23T09:00:00Z", 1);
    tu_herald(&r, fx->dir, NULL, "run", "--once", NULL);
    assert_int_equal(r.status, 0);
    assert_not_contains(r.err, "run 2");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "campaign", "show", "daily", NULL);
    assert_contains(r.out, "status       paused\n");
    assert_contains(r.out, "run 1   fired 2026-11-22T09:00:00Z  active        queued 180 "
                           "render_failed 20\n");
    assert_not_contains(r.out, "run 2");
    tu_run_release(&r);
    /* fixed and resumed: run 1 goes on, and the missed firing fires once,
     * late (its goal window starts then: test_send_by.c) */
    write_template(fx->dir, "plan", false);
    OK(fx->dir, "campaign", "resume", "daily");
    setenv("HERALD_NOW", "2026-11-23T09:30:00Z", 1);
    OK(fx->dir, "run", "--once");
    tu_herald(&r, fx->dir, NULL, "campaign", "show", "daily", NULL);
    assert_contains(r.out, "run 2   fired 2026-11-23T09:30:00Z (due 2026-11-23T09:00:00Z)  done"
                           "          sent 200\n");
    assert_contains(r.out, "run 1   fired 2026-11-22T09:00:00Z  done          sent 180 "
                           "render_failed 20\n");
    assert_not_contains(r.out, "run 3");
    tu_run_release(&r);
}

/* The defaults (half of a window of 100), and decisions that never trip
 * it: 90% held out of a template that works. */
static void test_ops_send_breaker_defaults(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    prepare(fx->dir, NULL, 1000, 0);
    OK(fx->dir, "campaign", "create", "held", "--segment", "all", "--template", "hello",
       "--channels", "email", "--holdout", "90", "--now");
    tu_herald(&r, fx->dir, NULL, "send", "held", NULL);
    if (r.status != 0)
        fail_msg("held out messages tripped something (%d): %s%s", r.status, r.out, r.err);
    assert_not_contains(r.out, "paused");
    tu_run_release(&r);
    OK(fx->dir, "campaign", "create", "bad", "--segment", "all", "--template", "plan", "--channels",
       "email", "--now");
    tu_herald(&r, fx->dir, NULL, "send", "bad", NULL);
    assert_int_equal(r.status, 3);
    assert_contains(r.out, "campaign 'bad', run 1: queued 950 render_failed 50\n");
    assert_contains(r.out, "50 of the last 50 messages failed");
    tu_run_release(&r);
    /* the keys are checked */
    static const char *const bad[][2] = {
        {"pause_on_failure_rate = 2", "pause_on_failure_rate: '2' is not a share from 0 to 1"},
        {"failure_window = 0", "failure_window: '0' is not a count from 1 to 1000000"},
        {"poll = 0", "poll: '0' is not a duration from 1 second to 1 hour (1s, 30s)"},
        {"poll = 2h", "poll: '2h' is not a duration from 1 second to 1 hour (1s, 30s)"},
        {"poll = soon", "poll: 'soon' is not a duration from 1 second to 1 hour (1s, 30s)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "[dispatch]\n%s\n", bad[i][0]);
        write_file(fx->dir, "bad.conf", text);
        tu_herald(&r, fx->dir, NULL, "-c", "bad.conf", "config", "check", NULL);
        assert_int_equal(r.status, 1);
        assert_contains(r.err, bad[i][1]);
        tu_run_release(&r);
    }
}

/* Permanent gateway failures trip it too: an SMTP server that refuses
 * every message at DATA (554). */
static void test_ops_send_breaker_gateway(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    const char *src = getenv("HERALD_SRC");
    char py[4096], text[1024];
    snprintf(py, sizeof py, "%s/tests/smtp_server.py", src ? src : ".");
    const char *argv[] = {"/usr/bin/python3", py, "--out", ".", NULL};
    tu_server_start(&smtp, fx->dir, argv, "the SMTP server (is python3-aiosmtpd installed?)");
    snprintf(text, sizeof text,
             "[herald]\ndatabase = %s\ntemplates = templates\n"
             "[provider mail]\ntype = smtp\nhost = 127.0.0.1\nport = %d\nstarttls = none\n"
             "from = Acme <hello@example.com>\nconnections = 1\n"
             "[channel email]\nproviders = mail\n"
             "[dispatch]\nfailure_window = 20\npause_on_failure_rate = 0.5\n" TU_SERVE_CONF,
             db, smtp.port);
    write_file(fx->dir, "herald.conf", text);
    OK(fx->dir, "init");
    write_template(fx->dir, "hello", false);
    write_contacts(fx->dir, 300, 0, "datafail");
    OK(fx->dir, "campaign", "create", "g", "--segment", "all", "--template", "hello", "--channels",
       "email", "--now");
    tu_herald(&r, fx->dir, NULL, "send", "g", NULL);
    assert_int_equal(r.status, 3);
    assert_contains(r.out, "the circuit breaker tripped: 10 of the last 10 messages failed "
                           "(smtp_554: ");
    /* what was in flight when it tripped may fail too, nothing more: one
     * connection's session, hd_driver_window's 64 messages */
    long long queued = 0, failed = 0;
    const char *line = strstr(r.out, "campaign 'g', run 1:");
    assert_non_null(line);
    const char *q = strstr(line, "queued "), *f = strstr(line, "failed ");
    assert_non_null(q);
    assert_non_null(f);
    queued = atoll(q + 7);
    failed = atoll(f + 7);
    if (failed < 10 || failed > 10 + 64 || queued + failed != 300)
        fail_msg("failed %lld, queued %lld: %s", failed, queued, r.out);
    tu_run_release(&r);
}

/* ---- item 4: run numbers per campaign, send's own run ------------------------------- */

static void send_at(const char *dir, const char *when, const char *camp, const char *want)
{
    struct tu_run r;
    setenv("HERALD_NOW", when, 1);
    /* --now: a daily campaign sent between its firings */
    tu_herald(&r, dir, NULL, "send", camp, "--now", NULL);
    if (r.status != 0)
        fail_msg("send %s exited %d: %s%s", camp, r.status, r.out, r.err);
    assert_contains(r.out, want);
    tu_run_release(&r);
}

/* Two daily campaigns, a and b, over n contacts, sent as runs of ids 1
 * (a), 2 (b) and 3 (a, an hour later when last_a): each counts its own. */
static void two_campaigns(const char *dir, int n, bool last_a)
{
    char queued[64];
    write_conf(dir, NULL);
    write_template(dir, "hello", false);
    write_contacts(dir, n, n, NULL);
    static const char *const names[] = {"a", "b"};
    for (int i = 0; i < 2; i++)
        OK(dir, "campaign", "create", names[i], "--segment", "all", "--template", "hello",
           "--channels", "email", "--every", "0 9 * * *");
    for (int i = 0; i < 2; i++) {
        snprintf(queued, sizeof queued, "campaign '%s': run 1, %d messages queued", names[i], n);
        send_at(dir, "2026-11-22T09:00:00Z", names[i], queued);
    }
    if (last_a)
        send_at(dir, "2026-11-22T10:00:00Z", "a", "campaign 'a': run 2,");
}

static void test_ops_send_run_numbers(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    two_campaigns(fx->dir, 5, false);
    setenv("HERALD_NOW", "2026-11-22T10:00:00Z", 1);
    tu_herald(&r, fx->dir, NULL, "send", "a", "--now", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "campaign 'a': run 2, 5 messages queued");
    /* only the run it sent: 5, not the 10 of both runs */
    assert_contains(r.out, "campaign 'a', run 2: sent 5\n");
    assert_not_contains(r.out, "run 1");
    assert_not_contains(r.out, "sent 10");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "campaign", "show", "a", NULL);
    assert_contains(r.out, "run 2   fired 2026-11-22T10:00:00Z  done          sent 5\n");
    assert_contains(r.out, "run 1   fired 2026-11-22T09:00:00Z  done          sent 5\n");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "campaign", "show", "a", "--format", "json", NULL);
    assert_contains(r.out, "\"run\": 2");
    assert_contains(r.out, "\"run\": 1");
    assert_not_contains(r.out, "\"run\": 3");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "log", "--campaign", "a", "--run", "2", "--format", "jsonl", NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(count_lines(r.out, "\"run\":2,"), 5);
    assert_int_equal(count_lines(r.out, "\"campaign\":\"a\""), 5);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "log", "--run", "2", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "--run 2 needs --campaign: runs are numbered per campaign");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "log", "--campaign", "b", "--run", "2", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "campaign 'b': no run 2");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "history", "c0001", NULL);
    assert_contains(r.out, "a, run 2 (fired 2026-11-22T10:00:00Z)");
    assert_contains(r.out, "b, run 1 (fired 2026-11-22T09:00:00Z)");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "why", "c0001", "a", NULL);
    assert_contains(r.out, "run 2, fired 2026-11-22T10:00:00Z:");
    tu_run_release(&r);
}

/* The runs[0] of a JSON record that herald printed: its fired_at and
 * due_at (the caller frees). */
static void run0_times(const char *out, char **fired, char **due)
{
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    if (!j)
        fail_msg("not JSON (%s): %s", e.text, out);
    json_t *run = json_array_get(json_object_get(j, "runs"), 0);
    const char *f = json_string_value(json_object_get(run, "fired_at")),
               *d = json_string_value(json_object_get(run, "due_at"));
    *fired = f ? hd_xstrdup(f) : NULL;
    *due = d ? hd_xstrdup(d) : NULL;
    json_decref(j);
}

static void assert_run0_times(const char *out, const char *fired, const char *due)
{
    char *f, *d;
    run0_times(out, &f, &d);
    if (!f || strcmp(f, fired) != 0 || !d || strcmp(d, due) != 0)
        fail_msg("fired_at %s, due_at %s; want %s and %s", f ? f : "(none)", d ? d : "(none)",
                 fired, due);
    free(f);
    free(d);
}

/* A daily campaign whose firing was missed for two days fires once, late:
 * fired_at is when (what stats --goal counts its window from), not the
 * missed time, which is due_at, in campaign show and why, as JSON and CSV;
 * and history's table says it as the others do. */
static void test_ops_send_fired_late(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    setenv("HERALD_NOW", "2026-11-22T12:00:00Z", 1);
    prepare(fx->dir, NULL, 3, 0);
    OK(fx->dir, "campaign", "create", "rec", "--segment", "all", "--template", "hello",
       "--channels", "email", "--every", "0 10 * * *", "--tz", "UTC");
    setenv("HERALD_NOW", "2026-11-25T10:30:00Z", 1);
    OK(fx->dir, "run", "--once");
    setenv("HERALD_NOW", "2026-11-25T10:31:00Z", 1);
    static const char fired[] = "2026-11-25T10:30:00Z", due[] = "2026-11-23T10:00:00Z",
                      said[] = "fired 2026-11-25T10:30:00Z (due 2026-11-23T10:00:00Z)";
    tu_herald(&r, fx->dir, NULL, "campaign", "show", "rec", NULL);
    assert_contains(r.out, said);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "campaign", "show", "rec", "--format", "json", NULL);
    assert_int_equal(r.status, 0);
    assert_run0_times(r.out, fired, due);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "why", "c0000", "rec", NULL);
    assert_contains(r.out, said);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "why", "c0000", "rec", "--format", "json", NULL);
    assert_int_equal(r.status, 0);
    assert_run0_times(r.out, fired, due);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "why", "c0000", "rec", "--format", "csv", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "contact,campaign,segment,status,run,fired_at,due_at,contact_was,");
    assert_contains(r.out,
                    "c0000,rec,all,scheduled,1,2026-11-25T10:30:00Z,2026-11-23T10:00:00Z,in,");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "history", "c0000", NULL);
    assert_contains(r.out, "rec, run 1 (fired 2026-11-25T10:30:00Z (due 2026-11-23T10:00:00Z)), "
                           "message ");
    tu_run_release(&r);
    /* a run made on time: both the same */
    OK(fx->dir, "campaign", "create", "now", "--segment", "all", "--template", "hello",
       "--channels", "email", "--now");
    OK(fx->dir, "send", "now");
    tu_herald(&r, fx->dir, NULL, "campaign", "show", "now", "--format", "json", NULL);
    assert_run0_times(r.out, "2026-11-25T10:31:00Z", "2026-11-25T10:31:00Z");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "history", "c0000", NULL);
    assert_contains(r.out, "now, run 1 (fired 2026-11-25T10:31:00Z), message ");
    tu_run_release(&r);
}

static void sql(const char *dir, const char *text)
{
    char *p = tu_path(dir, "h.db");
    sqlite3 *h;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(p, &h), SQLITE_OK);
    if (sqlite3_exec(h, text, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", text, msg);
    sqlite3_close(h);
    free(p);
}

/* A database of schema 5 (runs numbered globally, a pause note in meta)
 * is numbered per campaign, in order of id, when it opens. */
static void test_ops_send_migration(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    two_campaigns(fx->dir, 3, true);
    sql(fx->dir, TU_UNDO_AFTER_13
        "DROP TABLE receipts; ALTER TABLE suppressions DROP COLUMN detail;"
        "ALTER TABLE suppressions DROP COLUMN message_id;"
        "DROP TRIGGER consent_log_insert; DROP TRIGGER consent_log_update;"
        "DROP TABLE consent_log;"
        "DROP INDEX runs_seq; ALTER TABLE runs DROP COLUMN seq;"
        "ALTER TABLE campaigns DROP COLUMN pause_reason;"
        "ALTER TABLE consent DROP COLUMN message_id;"
        "ALTER TABLE consent DROP COLUMN campaign_id;"
        "DROP INDEX events_key; ALTER TABLE events DROP COLUMN props;"
        "CREATE UNIQUE INDEX events_key ON events(name, contact_id, at, "
        "ifnull(value, 'none'));"
        "CREATE INDEX events_contact ON events(contact_id);"
        "UPDATE campaigns SET status = 'paused' WHERE name = 'b';"
        "INSERT INTO meta VALUES ('paused:' || (SELECT id FROM campaigns WHERE name = "
        "'b'), 'a note from before');"
        "PRAGMA user_version = 5;");
    tu_herald(&r, fx->dir, NULL, "campaign", "show", "a", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "run 2   fired 2026-11-22T10:00:00Z");
    assert_contains(r.out, "run 1   fired 2026-11-22T09:00:00Z");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "campaign", "show", "b", NULL);
    assert_contains(r.out, "run 1   fired 2026-11-22T09:00:00Z");
    assert_not_contains(r.out, "run 2");
    assert_contains(r.out, "paused by    herald: a note from before");
    tu_run_release(&r);
    /* the next run of a continues from its own last */
    OK(fx->dir, "campaign", "resume", "b");
    send_at(fx->dir, "2026-11-22T11:00:00Z", "a", "campaign 'a': run 3,");
    send_at(fx->dir, "2026-11-22T11:00:00Z", "b", "campaign 'b': run 2,");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ops_send_failures_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_send_breaker_render, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_send_breaker_recurring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_send_breaker_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_send_breaker_gateway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_send_run_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_send_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops_send_fired_late, setup, teardown),
        /* on PostgreSQL: all but the migration of an old SQLite file */
        {"test_ops_send_failures_exit_pg", test_ops_send_failures_exit, setup_pg, teardown, NULL},
        {"test_ops_send_breaker_render_pg", test_ops_send_breaker_render, setup_pg, teardown, NULL},
        {"test_ops_send_breaker_recurring_pg", test_ops_send_breaker_recurring, setup_pg, teardown,
         NULL},
        {"test_ops_send_breaker_defaults_pg", test_ops_send_breaker_defaults, setup_pg, teardown,
         NULL},
        {"test_ops_send_breaker_gateway_pg", test_ops_send_breaker_gateway, setup_pg, teardown,
         NULL},
        {"test_ops_send_run_numbers_pg", test_ops_send_run_numbers, setup_pg, teardown, NULL},
        {"test_ops_send_fired_late_pg", test_ops_send_fired_late, setup_pg, teardown, NULL},
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
