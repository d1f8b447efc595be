/* test_cli_format: the command line as one whole, through the real binary.
 * Every command that prints records, with each format it supports, parsed
 * back (JSON with jansson, JSON Lines line by line, CSV by a small RFC 4180
 * reader that checks every record has the header's fields) and ending with
 * a newline; a bad option, a bad value or a missing operand as one line and
 * a pointer to --help (exit 2), also in a folder with no database or with a
 * broken configuration; the database reported only for a well-formed
 * command; no escape byte in a pipe or with NO_COLOR (the demo too), and
 * under a terminal log lines that never share the progress line; template
 * lint telling every error of a file; stats marking p-values of groups too
 * small; --wait 0s. The cases that read a store run on SQLite, then on
 * PostgreSQL (testboth.h: the demo's configuration naming a fresh
 * database). */
#define _XOPEN_SOURCE 600 /* posix_openpt */
#include "testboth.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>

#include "herald/log.h"
#include "herald/valid.h"

struct fx {
    char *dir;
    const char *src;
};

/* Runs herald in fx->dir; fails the test unless it exits 0. */
#define OK(...)                                                                                    \
    do {                                                                                           \
        struct tu_run r_;                                                                          \
        tu_herald(&r_, fx->dir, NULL, __VA_ARGS__, NULL);                                          \
        if (r_.status != 0)                                                                        \
            fail_msg("exit %d: %s%s", r_.status, r_.out, r_.err);                                  \
        tu_run_release(&r_);                                                                       \
    } while (0)

static int setup(void **state)
{
    struct fx *fx = hd_xcalloc(1, sizeof *fx);
    fx->dir = tu_tmpdir();
    fx->src = getenv("HERALD_SRC");
    if (!fx->src)
        fx->src = ".";
    unsetenv("HERALD_CONFIG");
    unsetenv("NO_COLOR");
    setenv("HERALD_NOW", "2026-11-22T09:00:00Z", 1);
    *state = fx;
    return 0;
}

/* each case's store: var/herald.db, or on the PostgreSQL run a database */
static struct tu_both stores;

static int setup_pg(void **state)
{
    stores.pg = true;
    return setup(state);
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    tu_rmdir(fx->dir);
    free(fx);
    tu_both_release(&stores);
    return 0;
}

/* The case's store: "var/herald.db" (in fx->dir) or its database's URI. */
static const char *store(void)
{
    return tu_both_store(&stores, "var/herald.db");
}

/* The demo's configuration (etc/herald.conf) as fx->dir/herald.conf, its
 * database the case's store; $HERALD_CONFIG names it. Its other paths are
 * the working folder's, fx->dir, as before. */
static void demo_conf(struct fx *fx)
{
    char *from = tu_path(fx->src, "etc/herald.conf"), *to = tu_path(fx->dir, "herald.conf");
    char *text = tu_read(from), *line = strstr(text, "\ndatabase = var/herald.db\n");
    assert_non_null(line);
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_addf(&b, "%.*s\ndatabase = %s\n%s", (int)(line - text), text, store(),
                line + strlen("\ndatabase = var/herald.db\n"));
    tu_write(to, b.data);
    setenv("HERALD_CONFIG", to, 1);
    hd_buf_release(&b);
    free(text);
    free(from);
    free(to);
}

/* The demo's store in fx->dir: the shipped templates, the example
 * contacts and the segment churned, nothing sent. */
static void demo_store(struct fx *fx)
{
    char *tpl = tu_path(fx->src, "templates");
    char *link = tu_path(fx->dir, "templates"), *csv = tu_path(fx->src, "examples/contacts.csv");
    assert_int_equal(symlink(tpl, link), 0);
    demo_conf(fx);
    OK("init");
    OK("contacts", "import", csv, "--default-region", "CN");
    OK("segment", "define", "churned", "days_since(last_active) > 30");
    free(tpl), free(link), free(csv);
}

/* The demo's data in fx->dir: demo_store's, a suppression, the recall
 * campaign (A/B, 10% holdout) sent through the outbox, and conversions for
 * stats. */
static void demo_data(struct fx *fx)
{
    char *ev = tu_path(fx->dir, "events.csv");
    demo_store(fx);
    OK("suppress", "add", "abigail.1@example.com", "--reason", "unsubscribed");
    OK("campaign", "create", "recall", "--segment", "churned", "--template", "recall", "--channels",
       "email,push,sms", "--variants", "a=50,b=50", "--holdout", "10", "--now");
    OK("send", "recall", "--wait", "0s");
    tu_write(ev, "contact,event,time\nc0001,purchase,2026-11-23T10:00:00Z\n");
    OK("events", "import", ev);
    free(ev);
}

/* ---- parsing the formats ------------------------------------------------------------------ */

/* The records of RFC 4180 text: each one's field count into counts (at
 * most max); returns the number of records, or -1 for text that is not CSV
 * (a quote in an unquoted field, an unclosed quote, no final line end). */
static int csv_records(const char *s, int *counts, int max)
{
    int n = 0, fields = 1;
    bool quoted = false, start = true;
    for (; *s; s++) {
        if (quoted) {
            if (*s == '"' && s[1] == '"')
                s++;
            else if (*s == '"')
                quoted = false;
            continue;
        }
        if (*s == '"') {
            if (!start)
                return -1;
            quoted = true;
        } else if (*s == ',') {
            fields++;
            start = true;
            continue;
        } else if (*s == '\n' || (*s == '\r' && s[1] == '\n')) {
            s += *s == '\r';
            if (n < max)
                counts[n] = fields;
            n++;
            fields = 1;
            start = true;
            continue;
        }
        start = false;
    }
    return quoted || !start || fields != 1 ? -1 : n;
}

/* Checks out as the format says; returns the records (or 1 for a table). */
static int check_format(const char *what, const char *format, const char *out)
{
    size_t len = strlen(out);
    if (strcmp(format, "jsonl") == 0 && !len)
        return 0; /* no record, no line */
    if (!len || out[len - 1] != '\n')
        fail_msg("%s --format %s: does not end with a newline: '%s'", what, format, out);
    if (strcmp(format, "json") == 0) {
        json_error_t je;
        json_t *j = json_loads(out, 0, &je);
        if (!j || !(json_is_array(j) || json_is_object(j)))
            fail_msg("%s: not one JSON document: %s (%s)", what, je.text, out);
        int n = json_is_array(j) ? (int)json_array_size(j) : 1;
        json_decref(j);
        return n;
    }
    if (strcmp(format, "jsonl") == 0) {
        int n = 0;
        for (const char *p = out; *p; n++) {
            const char *nl = strchr(p, '\n');
            json_t *j = json_loadb(p, (size_t)(nl - p), 0, NULL);
            if (!json_is_object(j))
                fail_msg("%s: line %d is not a JSON object: %.*s", what, n + 1, (int)(nl - p), p);
            json_decref(j);
            p = nl + 1;
        }
        return n;
    }
    if (strcmp(format, "csv") == 0) {
        int counts[4096];
        int n = csv_records(out, counts, 4096);
        if (n < 1)
            fail_msg("%s: not CSV with a header: %s", what, out);
        for (int i = 1; i < n && i < 4096; i++)
            if (counts[i] != counts[0])
                fail_msg("%s: record %d has %d fields, the header %d", what, i + 1, counts[i],
                         counts[0]);
        return n - 1;
    }
    return 1;
}

/* ---- every data command, every format ------------------------------------------------------- */

/* A contact the recall campaign sent to (so its history has rows). */
static void sent_contact(struct fx *fx, char *who, size_t size)
{
    struct tu_run r;
    tu_herald(&r, fx->dir, NULL, "log", "--outcome", "accepted", "--limit", "1", "--format",
              "jsonl", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    assert_non_null(json_string_value(json_object_get(j, "contact")));
    snprintf(who, size, "%s", json_string_value(json_object_get(j, "contact")));
    json_decref(j);
    tu_run_release(&r);
}

static void test_cli_format_every_command(void **state)
{
    struct fx *fx = *state;
    demo_data(fx);
    char who[64];
    sent_contact(fx, who, sizeof who);
    static const char *const cmds[][6] = {
        {"contacts", "list", "--limit", "5"},
        {"contacts", "show", "c0002"},
        {"suppress", "list"},
        {"segment", "list"},
        {"segment", "show", "churned"},
        {"segment", "show", "churned", "--sql"},
        {"segment", "count", "churned"},
        {"segment", "sample", "churned", "-n", "3"},
        {"segment", "export", "churned"},
        {"template", "list"},
        {"template", "preview", "recall", "--contact", "c0001"},
        {"provider", "list"},
        {"campaign", "list"},
        {"campaign", "show", "recall"},
        {"campaign", "estimate", "recall"},
        {"log", "--limit", "5"},
        {"history", "WHO"},
        {"why", "WHO", "recall"},
        {"stats", "recall"},
        {"stats", "recall", "--goal", "purchase"},
    };
    static const char *const formats[] = {"table", "csv", "json", "jsonl"};
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
        const char *const *a = cmds[c];
        for (size_t f = 0; f < 4; f++) {
            const char *v[9] = {NULL};
            size_t k = 0;
            while (k < 6 && a[k])
                v[k] = strcmp(a[k], "WHO") == 0 ? who : a[k], k++;
            v[k++] = "--format";
            v[k] = formats[f];
            struct tu_run r;
            tu_herald(&r, fx->dir, NULL, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], NULL);
            char what[128];
            snprintf(what, sizeof what, "%s %s %s", a[0], a[1], a[2] ? a[2] : "");
            if (r.status != 0)
                fail_msg("%s --format %s: exit %d: %s", what, formats[f], r.status, r.err);
            check_format(what, formats[f], r.out);
            tu_run_release(&r);
        }
    }

    /* a list has as many records in every format */
    struct tu_run r;
    int n[4];
    for (size_t f = 1; f < 4; f++) {
        tu_herald(&r, fx->dir, NULL, "segment", "sample", "churned", "-n", "4", "--format",
                  formats[f], NULL);
        n[f] = check_format("segment sample", formats[f], r.out);
        tu_run_release(&r);
    }
    assert_int_equal(n[1], 4);
    assert_int_equal(n[2], 4);
    assert_int_equal(n[3], 4);

    /* --json is --format json; a single record is one object */
    struct tu_run j;
    tu_herald(&r, fx->dir, NULL, "contacts", "show", "c0002", "--json", NULL);
    tu_herald(&j, fx->dir, NULL, "contacts", "show", "c0002", "--format", "json", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, j.out);
    assert_int_equal(r.out[0], '{');
    tu_run_release(&r);
    tu_run_release(&j);
    tu_herald(&r, fx->dir, NULL, "why", "c0002", "recall", "--format", "json", NULL);
    json_t *w = json_loads(r.out, 0, NULL);
    assert_true(json_is_object(w));
    assert_string_equal(json_string_value(json_object_get(w, "campaign")), "recall");
    assert_true(json_is_array(json_object_get(w, "runs")));
    json_decref(w);
    tu_run_release(&r);

    /* one error for a format a command does not know */
    tu_herald(&r, fx->dir, NULL, "campaign", "list", "--format", "xml", NULL);
    assert_int_equal(r.status, 2);
    assert_string_equal(r.err, "herald campaign list: --format: 'xml' is not one of table, csv, "
                               "json, jsonl\nTry 'herald campaign list --help'.\n");
    assert_string_equal(r.out, "");
    tu_run_release(&r);
}

/* ---- one word per outcome ----------------------------------------------------------------- */

/* stats breaks skips down by the words campaign show counts messages with. */
static void test_cli_format_one_vocabulary(void **state)
{
    struct fx *fx = *state;
    demo_data(fx);
    /* by SMS only: contacts without a phone number have no channel */
    OK("campaign", "create", "sms", "--segment", "churned", "--template", "recall", "--channels",
       "sms", "--now");
    OK("send", "sms", "--wait", "0s");
    struct tu_run r, s;
    tu_herald(&r, fx->dir, NULL, "campaign", "show", "sms", "--format", "json", NULL);
    tu_herald(&s, fx->dir, NULL, "stats", "sms", "--format", "json", NULL);
    json_t *show = json_loads(r.out, 0, NULL), *st = json_loads(s.out, 0, NULL);
    json_t *msgs = json_object_get(json_array_get(json_object_get(show, "runs"), 0), "messages");
    json_t *by =
        json_object_get(json_object_get(json_object_get(st, "groups"), "all"), "skipped_by");
    assert_true(json_object_size(by) > 0);
    const char *key;
    json_t *v, *sums = json_object();
    json_object_foreach(by, key, v)
    {
        char word[64];
        snprintf(word, sizeof word, "%.*s", (int)strcspn(key, ":"), key);
        if (!json_object_get(msgs, word))
            fail_msg("stats says skipped '%s', campaign show has no '%s': %s", key, word, r.out);
        json_int_t n = json_integer_value(json_object_get(sums, word)) + json_integer_value(v);
        json_object_set_new(sums, word, json_integer(n));
    }
    json_object_foreach(sums, key, v)
        assert_int_equal(json_integer_value(v), json_integer_value(json_object_get(msgs, key)));
    json_decref(sums);
    json_decref(show);
    json_decref(st);
    tu_run_release(&r);
    tu_run_release(&s);
}

/* ---- bad options -------------------------------------------------------------------------- */

/* Exit 2, nothing on stdout, and exactly the line and the pointer. */
static void expect_usage(struct fx *fx, const char *want, const char *const *argv)
{
    struct tu_run r;
    tu_herald(&r, fx->dir, NULL, argv[0], argv[1], argv[2], argv[3], argv[4], NULL);
    if (r.status != 2 || strcmp(r.err, want) != 0 || r.out[0])
        fail_msg("%s %s %s: exit %d, stderr '%s' (want '%s'), stdout '%s'", argv[0], argv[1],
                 argv[2] ? argv[2] : "", r.status, r.err, want, r.out);
    tu_run_release(&r);
}

static void bad_options(struct fx *fx)
{
    static const struct {
        const char *argv[5];
        const char *err;
    } cases[] = {
        {{"log", "--bogus"}, "herald log: unknown option '--bogus'\nTry 'herald log --help'.\n"},
        {{"log", "--limit"},
         "herald log: option '--limit' needs a value\nTry 'herald log --help'.\n"},
        {{"log", "--c", "x"},
         "herald log: option '--c' is ambiguous (--campaign, --contact, --channel)\n"
         "Try 'herald log --help'.\n"},
        {{"log", "--oldest-first=yes"},
         "herald log: option '--oldest-first' takes no value\nTry 'herald log --help'.\n"},
        {{"contacts", "list", "-x"},
         "herald contacts list: unknown option '-x'\nTry 'herald contacts list --help'.\n"},
        {{"segment", "sample", "s", "-n"},
         "herald segment sample: option '-n' needs a value\nTry 'herald segment sample --help'.\n"},
        {{"campaign", "show", "x", "--bogus=1"},
         "herald campaign show: unknown option '--bogus'\nTry 'herald campaign show --help'.\n"},
        {{"stats", "x", "--format", "yaml"},
         "herald stats: --format: 'yaml' is not one of table, csv, json, jsonl\n"
         "Try 'herald stats --help'.\n"},
        {{"send", "x", "--wait", "0x"},
         "herald send: --wait: '0x' is not a duration (write a number and a unit: 0, 90s, 15m, "
         "12h, 30d, 2w)\nTry 'herald send --help'.\n"},
        {{"segment", "delete"},
         "herald segment delete: give one segment NAME\nTry 'herald segment delete --help'.\n"},
        {{"campaign", "pause"},
         "herald campaign pause: give one campaign NAME\nTry 'herald campaign pause --help'.\n"},
        {{"why", "only-one"},
         "herald why: a CONTACT and a CAMPAIGN are needed\nTry 'herald why --help'.\n"},
        {{"segment", "define", "x"},
         "herald segment define: give a NAME and one EXPR (quote the rule for the shell)\n"
         "Try 'herald segment define --help'.\n"},
        {{"events", "import"},
         "herald events import: one FILE (or -) is needed\nTry 'herald events import --help'.\n"},
        {{"segment", "count"},
         "herald segment count: give a segment NAME or --expr EXPR\n"
         "Try 'herald segment count --help'.\n"},
        {{"log", "extra"}, "herald log: unexpected argument 'extra'\nTry 'herald log --help'.\n"},
        {{"suppress", "--bogus"},
         "herald suppress: unknown subcommand '--bogus'\nTry 'herald suppress --help'.\n"},
        {{"--bogus", "log"}, "herald: unknown option '--bogus'\nTry 'herald --help'.\n"},
        {{"--db"}, "herald: option '--db' needs a value\nTry 'herald --help'.\n"},
        {{NULL}, "herald: give a command\nTry 'herald --help'.\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_usage(fx, cases[i].err, cases[i].argv);
}

/* With a store that opens (it is opened before the command line is
 * parsed), a usage error is still exactly its line. */
static void test_cli_format_bad_options(void **state)
{
    struct fx *fx = *state;
    demo_conf(fx);
    OK("init");
    bad_options(fx);
}

/* --help and bad options need no database and no configuration; a missing
 * database is told for a well-formed command only, and never created. On
 * PostgreSQL the configuration names a database without herald's schema,
 * which no command but init creates. */
static void test_cli_format_no_database(void **state)
{
    struct fx *fx = *state;
    if (stores.pg)
        demo_conf(fx);
    bad_options(fx);
    static const char *const helps[][4] = {{"log", "--help"},
                                           {"log", "prune", "--help"},
                                           {"segment", "list", "--help"},
                                           {"campaign", "pause", "--help"},
                                           {"contacts", "delete", "--help"},
                                           {"suppress", "--help"},
                                           {"suppress", "list", "--help"},
                                           {"stats", "--help"},
                                           {"why", "--help"},
                                           {"send", "--help"},
                                           {"run", "--help"},
                                           {"history", "--help"},
                                           {"events", "import", "--help"},
                                           {"provider", "list", "--help"},
                                           {"template", "lint", "--help"}};
    struct tu_run r;
    for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++) {
        tu_herald(&r, fx->dir, NULL, helps[i][0], helps[i][1], helps[i][2], NULL);
        if (r.status != 0 || !strstr(r.out, "usage: herald") || r.err[0])
            fail_msg("%s %s: exit %d, %s%s", helps[i][0], helps[i][1], r.status, r.out, r.err);
        tu_run_release(&r);
    }
    static const char *const formed[][4] = {
        {"log"},           {"segment", "list"},         {"campaign", "pause", "x"},
        {"why", "a", "b"}, {"contacts", "delete", "x"}, {"stats", "x", "--format", "csv"}};
    for (size_t i = 0; i < sizeof formed / sizeof formed[0]; i++) {
        tu_herald(&r, fx->dir, NULL, formed[i][0], formed[i][1], formed[i][2], formed[i][3], NULL);
        if (r.status != 1 || !strstr(r.err, "run 'herald init' first") || r.out[0])
            fail_msg("%s %s: exit %d, %s%s", formed[i][0], formed[i][1], r.status, r.out, r.err);
        tu_run_release(&r);
    }
    char *db = tu_path(fx->dir, "var/herald.db");
    assert_false(tu_exists(db));
    free(db);
    if (stores.pg)
        assert_int_equal(tu_sql1(fx->dir, store(),
                                 "SELECT count(*) FROM information_schema.tables WHERE "
                                 "table_schema = 'public'"),
                         0);

    /* a configuration that does not load: a bad option is still a usage error */
    char *bad = tu_path(fx->dir, "bad.conf");
    tu_write(bad, "this is not ini\n");
    tu_herald(&r, fx->dir, NULL, "-c", "bad.conf", "log", "--bogus", NULL);
    assert_int_equal(r.status, 2);
    assert_string_equal(r.err, "herald log: unknown option '--bogus'\nTry 'herald log --help'.\n");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "-c", "bad.conf", "log", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "bad.conf:1:");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "-c", "bad.conf", "template", "lint", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "bad.conf:1:");
    tu_run_release(&r);
    free(bad);
}

/* ---- colour and the progress line --------------------------------------------------------- */

/* Runs cmd with sh, stdout and stderr into one string. */
static char *shell(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    struct hd_buf b;
    hd_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        hd_buf_add(&b, chunk, n);
    pclose(p);
    return hd_buf_detach(&b, NULL);
}

static bool has_script(void)
{
    return system("command -v script >/dev/null 2>&1") == 0;
}

/* The demo script in a pipe, on a terminal and with NO_COLOR: headings
 * bold on a terminal only. The script makes a SQLite store of its own
 * (scripts/demo.sh runs on the embedded defaults), so the PostgreSQL run
 * leaves it to the SQLite one. */
static void demo_colour(struct fx *fx)
{
    struct hd_buf cmd;
    hd_buf_init(&cmd);
    /* a pipe: the demo and the commands print no escape byte */
    hd_buf_addf(&cmd, "cd '%s' && bash scripts/demo.sh '%s' 2>&1 | cat", fx->src, tu_herald_bin());
    char *out = shell(cmd.data);
    assert_contains(out, "== create the database");
    assert_null(strchr(out, '\033'));
    free(out);
    if (!has_script()) {
        hd_buf_release(&cmd);
        skip();
    }
    /* a terminal: bold headings, unless NO_COLOR */
    hd_buf_reset(&cmd);
    hd_buf_addf(&cmd, "cd '%s' && script -qec \"bash scripts/demo.sh '%s'\" /dev/null", fx->src,
                tu_herald_bin());
    out = shell(cmd.data);
    assert_contains(out, "\033[1m== create the database");
    free(out);
    hd_buf_reset(&cmd);
    hd_buf_addf(&cmd, "cd '%s' && NO_COLOR=1 script -qec \"bash scripts/demo.sh '%s'\" /dev/null",
                fx->src, tu_herald_bin());
    out = shell(cmd.data);
    assert_contains(out, "== create the database");
    assert_null(strstr(out, "\033[1m"));
    assert_null(strstr(out, "\033[3"));
    free(out);
    hd_buf_release(&cmd);
}

static void test_cli_format_no_colour(void **state)
{
    struct fx *fx = *state;
    demo_store(fx);
    if (!stores.pg)
        demo_colour(fx);
    if (!has_script())
        skip();
    struct hd_buf cmd;
    hd_buf_init(&cmd);
    /* a terminal: each log line erases the progress line and starts at the
     * left edge; the progress line comes back after it */
    OK("campaign", "create", "again", "--segment", "churned", "--template", "recall", "--channels",
       "email", "--now");
    hd_buf_reset(&cmd);
    hd_buf_addf(&cmd, "cd '%s' && script -qec \"'%s' -v send again\" /dev/null", fx->dir,
                tu_herald_bin());
    char *out = shell(cmd.data);
    int lines = 0, redrawn = 0;
    for (const char *p = out; (p = strstr(p, " herald debug: ")) != NULL; p++) {
        const char *ts = p - 20; /* 2026-11-22T09:00:00Z */
        assert_true(ts >= out);
        bool left =
            ts == out || ts[-1] == '\n' || (ts - out >= 4 && memcmp(ts - 4, "\r\033[K", 4) == 0);
        if (!left)
            fail_msg("a log line shares a line: ...%.80s", ts - 40 > out ? ts - 40 : out);
        lines++;
        const char *nl = strchr(p, '\n');
        redrawn += nl && strncmp(nl + 1, "sent ", 5) == 0;
    }
    assert_true(lines > 0);
    assert_true(redrawn > 0); /* the progress line was drawn, and drawn again */
    free(out);

    /* an import's bad rows at the end of a big file: each on a line of its own */
    char *big = tu_path(fx->dir, "big.csv");
    FILE *f = fopen(big, "w");
    assert_non_null(f);
    fprintf(f, "id,email\n");
    for (int i = 0; i < 300000; i++)
        fprintf(f, "u%d,u%d@example.com\n", i, i);
    for (int i = 0; i < 3; i++)
        fprintf(f, "bad%d,not-an-email\n", i);
    fclose(f);
    hd_buf_reset(&cmd);
    hd_buf_addf(&cmd, "cd '%s' && script -qec \"'%s' contacts import big.csv --dry-run\" /dev/null",
                fx->dir, tu_herald_bin());
    out = shell(cmd.data);
    lines = 0;
    for (const char *p = out; (p = strstr(p, "big.csv:30000")) != NULL; p++, lines++)
        if (!(p == out || p[-1] == '\n' || (p - out >= 4 && memcmp(p - 4, "\r\033[K", 4) == 0)))
            fail_msg("an import message shares a line: ...%.80s", p - 40 > out ? p - 40 : out);
    assert_int_equal(lines, 3);
    free(out);

    /* a suppression list's import shows its progress too (it showed none:
     * a review waited 20 s on 2,000,000 rows with nothing on the screen) */
    f = fopen(big, "w");
    assert_non_null(f);
    fprintf(f, "address,reason\n");
    for (int i = 0; i < 300000; i++)
        fprintf(f, "s%d@example.com,manual\n", i);
    fclose(f);
    hd_buf_reset(&cmd);
    hd_buf_addf(&cmd, "cd '%s' && script -qec \"'%s' suppress import big.csv\" /dev/null", fx->dir,
                tu_herald_bin());
    out = shell(cmd.data);
    assert_contains(out, " rows  ");
    assert_contains(out, "%  eta ");
    assert_contains(out, "big.csv: 300000 rows, 300000 suppressed, 0 rejected");
    free(out);
    free(big);
    hd_buf_release(&cmd);
}

/* The logger's colour rule: a terminal, and NO_COLOR unset or empty. */
static void test_cli_format_log_colour(void **state)
{
    (void)state;
    struct hd_log log;
    FILE *f = tmpfile();
    assert_non_null(f);
    hd_log_init(&log, f, HD_LOG_INFO);
    hd_log_auto_colour(&log);
    assert_false(log.colour); /* a file */
    hd_log_warn(&log, "a file: %s", "plain");
    hd_log_release(&log);
    rewind(f);
    char line[256] = "";
    assert_non_null(fgets(line, sizeof line, f));
    assert_null(strchr(line, '\033'));
    fclose(f);

    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
        if (m >= 0)
            close(m);
        skip();
    }
    FILE *tty = fopen(ptsname(m), "w");
    assert_non_null(tty);
    hd_log_init(&log, tty, HD_LOG_INFO);
    hd_log_auto_colour(&log);
    assert_true(log.colour);
    setenv("NO_COLOR", "1", 1);
    hd_log_auto_colour(&log);
    assert_false(log.colour);
    setenv("NO_COLOR", "", 1); /* empty: as if unset */
    hd_log_auto_colour(&log);
    assert_true(log.colour);
    hd_log_warn(&log, "on a terminal");
    unsetenv("NO_COLOR");
    char buf[256];
    ssize_t n = read(m, buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_contains(buf, "\033[33mwarn\033[0m: on a terminal");
    hd_log_release(&log);
    fclose(tty);
    close(m);
}

/* ---- template lint, stats, durations ------------------------------------------------------ */

static void test_cli_format_lint_every_error(void **state)
{
    struct fx *fx = *state;
    char *d = tu_path(fx->dir, "templates");
    assert_int_equal(mkdir(d, 0755), 0);
    char *bad = tu_path(d, "bad.tmpl"), *empty = tu_path(d, "empty.tmpl");
    char *good = tu_path(d, "good.tmpl"), *fr = tu_path(d, "good.fr.tmpl");
    tu_write(bad, "category: marketing\nbogus: x\n--- email.subject\n{{#a}}oops\n"
                  "--- email.text\nHello {{/b}}\n--- sms\n{{name\n");
    tu_write(empty, "category: transactional\n--- email.subject\n\n--- email.text\n\n"
                    "--- push.body\n");
    /* a marketing email carries its unsubscribe link (issue 18's lint) */
    tu_write(good, "category: marketing\n--- email.subject\nHi\n--- email.text\nHello\n"
                   "{{unsubscribe_url}}\n");
    tu_write(fr, "--- email.subject\n{{#x}}\n");
    struct tu_run r;
    tu_herald(&r, fx->dir, NULL, "template", "lint", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.out, "bad.tmpl:2: unknown header key 'bogus'");
    assert_contains(r.out, "bad.tmpl:4:1: unclosed section");
    assert_contains(r.out, "bad.tmpl:6:7: unexpected closing tag '{{/b}}'");
    assert_contains(r.out, "bad.tmpl:8:1: unclosed tag");
    assert_contains(r.out, "empty.tmpl:2: error: email.subject: the part is empty");
    assert_contains(r.out, "empty.tmpl:4: error: email.text: the part is empty");
    assert_contains(r.out, "empty.tmpl:6: error: push.body: the part is empty");
    assert_contains(r.out, "good.fr.tmpl:2:1: unclosed section");
    assert_contains(r.out, "3 templates checked: 8 errors, 0 notes");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "template", "lint", "good", NULL);
    assert_int_equal(r.status, 1); /* its French file */
    assert_contains(r.out, "1 template checked: 1 error, 0 notes");
    tu_run_release(&r);
    remove(fr);
    tu_herald(&r, fx->dir, NULL, "template", "lint", "good", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    free(bad), free(empty), free(good), free(fr), free(d);
}

/* Conversions: every third contact of a campaign over every contact, half
 * held out: the groups are big enough, and the holdout-only campaign's are
 * not. */
static void test_cli_format_stats_too_few(void **state)
{
    struct fx *fx = *state;
    demo_data(fx);
    struct tu_run r;
    /* the demo's groups: tens of messages, a few conversions */
    tu_herald(&r, fx->dir, NULL, "stats", "recall", "--goal", "purchase", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "p = n/a (too few)");
    assert_contains(r.out, "warning: too few to test: a p-value needs at least 100 messages and 10 "
                           "conversions in each group");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "stats", "recall", "--goal", "purchase", "--format", "json", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    json_t *g = json_object_get(json_object_get(j, "goal"), "groups");
    assert_true(json_is_true(json_object_get(json_array_get(g, 0), "too_few")));
    json_decref(j);
    tu_run_release(&r);

    /* big groups: a p-value */
    OK("segment", "define", "everyone", "created_at > now - 3650d");
    OK("campaign", "create", "big", "--segment", "everyone", "--template", "recall", "--channels",
       "email,push,sms", "--holdout", "50", "--now");
    OK("send", "big", "--wait", "0");
    char *ev = tu_path(fx->dir, "big.csv");
    FILE *f = fopen(ev, "w");
    assert_non_null(f);
    fprintf(f, "contact,event,time\n");
    for (int i = 1; i <= 500; i++)
        if (i % 3 == 0)
            fprintf(f, "c%04d,order,2026-11-23T10:00:00Z\n", i);
    fclose(f);
    OK("events", "import", ev);
    tu_herald(&r, fx->dir, NULL, "stats", "big", "--goal", "order", NULL);
    assert_int_equal(r.status, 0);
    assert_not_contains(r.out, "too few");
    assert_contains(r.out, "the campaign's messages converted");
    assert_contains(r.out, ", p = ");
    tu_run_release(&r);
    free(ev);
}

/* The terminal columns of the first n bytes of s, counted here apart
 * from herald: a Hangul or CJK character (U+1100..U+115F, U+2E80..U+A4CF,
 * U+AC00..U+D7A3, U+F900..U+FAFF, U+FF00..U+FF60, U+FFE0..U+FFE6) two, a
 * combining diacritic (U+0300..U+036F) none, any other one. */
static int columns(const char *s, size_t n)
{
    int w = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        unsigned cp = len == 1 ? c : c & (0x7f >> len);
        for (size_t k = 1; k < len && i + k < n; k++)
            cp = cp << 6 | ((unsigned char)s[i + k] & 0x3f);
        if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
            (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
            (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6))
            w += 2;
        else if (!(cp >= 0x300 && cp <= 0x36f))
            w++;
        i += len;
    }
    return w;
}

/* The columns where the fields (runs of non-blanks) of line start. */
static int field_columns(const char *line, const char *end, int *at, int max)
{
    int n = 0;
    for (const char *p = line; p < end && n < max; p++)
        if (*p != ' ' && (p == line || p[-1] == ' '))
            at[n++] = columns(line, (size_t)(p - line));
    return n;
}

/* Every row of a table starts its fields at the columns where the
 * header's names start (a row may leave out the last, WHY). */
static void check_columns(const char *what, const char *table)
{
    int head[16], nhead = 0, row = 0;
    for (const char *line = table, *end; *line; line = end + 1, row++) {
        int at[16], n;
        assert_non_null(end = strchr(line, '\n'));
        if (row == 0) {
            nhead = field_columns(line, end, head, 16);
            continue;
        }
        n = field_columns(line, end, at, 16);
        if (n < nhead - 1)
            fail_msg("%s: row %d has %d fields, the header %d: %.*s", what, row, n, nhead,
                     (int)(end - line), line);
        for (int i = 0; i < n && i < nhead; i++)
            if (at[i] != head[i])
                fail_msg("%s: row %d's field %d starts at column %d, its header at %d:\n%.*s", what,
                         row, i + 1, at[i], head[i], (int)(end - line + 1), line);
    }
    assert_true(row > 2);
    assert_true(hd_valid_utf8(table, strlen(table))); /* no character cut in two */
}

/* The tables of contacts list and suppress list line up on a terminal:
 * their columns padded by the columns a character takes (two for Chinese,
 * none for a combining mark), not by its bytes, a long id cut at a whole
 * character, and each header over its values (CHANNEL was one to the right
 * of them). */
static void test_cli_format_wide_columns(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    demo_conf(fx);
    OK("init");
    char *csv = tu_path(fx->dir, "zh.csv");
    tu_write(csv, "id,email,phone,city\n"
                  "张三丰,zhang@例子.中国,,北京\n"
                  "ann,ann@example.com,+8613800138000,London\n"
                  "Zoe\xcc\x88,zoe@example.com,,\n"
                  "张三丰张三丰张三丰,long@example.com,,\n");
    OK("contacts", "import", csv);
    tu_herald(&r, fx->dir, NULL, "contacts", "list", NULL);
    assert_int_equal(r.status, 0);
    check_columns("contacts list", r.out);
    assert_contains(r.out, "\n张三丰张三丰张三 long@example.com ");
    tu_run_release(&r);

    OK("suppress", "add", "zhang@例子.中国");
    OK("suppress", "add", "+8613800138000", "--reason", "invalid_number");
    OK("suppress", "add", "oWX123", "--channel", "wechat");
    OK("suppress", "add", "ann@example.com", "--reason", "hard_bounce");
    tu_herald(&r, fx->dir, NULL, "suppress", "list", NULL);
    assert_int_equal(r.status, 0);
    check_columns("suppress list", r.out);
    assert_contains(r.out, "zhang@例子.中国");
    tu_run_release(&r);
    free(csv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cli_format_every_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_format_one_vocabulary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_format_bad_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_format_no_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_format_no_colour, setup, teardown),
        cmocka_unit_test(test_cli_format_log_colour),
        cmocka_unit_test_setup_teardown(test_cli_format_lint_every_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_format_stats_too_few, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_format_wide_columns, setup, teardown),
    };
    /* the cases that read a store again, on PostgreSQL (bad_options: the
     * store opens before the command line is parsed, and a usage error is
     * still exactly its line; no_colour: the send's and the import's lines
     * on a terminal, its demo script making a SQLite store of its own);
     * log_colour and lint open none */
    const struct CMUnitTest tests_pg[] = {
        {"test_cli_format_every_command_pg", test_cli_format_every_command, setup_pg, teardown,
         NULL},
        {"test_cli_format_one_vocabulary_pg", test_cli_format_one_vocabulary, setup_pg, teardown,
         NULL},
        {"test_cli_format_bad_options_pg", test_cli_format_bad_options, setup_pg, teardown, NULL},
        {"test_cli_format_no_database_pg", test_cli_format_no_database, setup_pg, teardown, NULL},
        {"test_cli_format_no_colour_pg", test_cli_format_no_colour, setup_pg, teardown, NULL},
        {"test_cli_format_stats_too_few_pg", test_cli_format_stats_too_few, setup_pg, teardown,
         NULL},
        {"test_cli_format_wide_columns_pg", test_cli_format_wide_columns, setup_pg, teardown, NULL},
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    return rc | cmocka_run_group_tests(tests_pg, NULL, NULL);
}
