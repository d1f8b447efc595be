/* test_cli: the real herald binary, end to end. Command-line basics (help,
 * usage errors, init, config check with masked secrets), a generated
 * 100,000-row CSV with bad rows imported in both modes and the database then
 * compared row by row with what the generator says it must hold, and imports
 * killed with SIGKILL part-way that must leave the database unchanged. The
 * cases with a store run on SQLite (var/herald.db, the default), then on
 * PostgreSQL (testboth.h: a configuration naming a fresh database, in
 * $HERALD_CONFIG); the 100,000 rows and the killed imports are smaller
 * there, where an import writes row by row. */
#include "testboth.h"

#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <time.h>

#define ROWS 100000
#define ROWS_PG 3000 /* covers the bad rows the messages name (lines 502 and 1499) */

struct fx {
    char *dir;
    char *db; /* the SQLite file the default configuration names */
};

/* each case's store: var/herald.db, or on the PostgreSQL run a database */
static struct tu_both stores;

static int setup(void **state)
{
    struct fx *fx = hd_xcalloc(1, sizeof *fx);
    fx->dir = tu_tmpdir();
    fx->db = tu_path(fx->dir, "var/herald.db");
    unsetenv("HERALD_CONFIG");
    setenv("HERALD_NOW", "2026-11-22T00:00:00Z", 1);
    *state = fx;
    return 0;
}

/* The same with the store a PostgreSQL database, which herald finds in
 * the configuration $HERALD_CONFIG names (a case's own -c file names it
 * too). */
static int setup_pg(void **state)
{
    setup(state);
    struct fx *fx = *state;
    stores.pg = true;
    char *conf = tu_path(fx->dir, "pg.conf");
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_addf(&b, "[herald]\ndatabase = %s\n", tu_both_store(&stores, "var/herald.db"));
    tu_write(conf, b.data);
    setenv("HERALD_CONFIG", conf, 1);
    hd_buf_release(&b);
    free(conf);
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    tu_rmdir(fx->dir);
    free(fx->db);
    free(fx);
    unsetenv("HERALD_CONFIG");
    tu_both_release(&stores);
    return 0;
}

/* The case's store: "var/herald.db" (in fx->dir) or its database's URI. */
static const char *store(void)
{
    return tu_both_store(&stores, "var/herald.db");
}

/* Each word in the "commands" list of `herald --help`, and each
 * subcommand its own --help names ("herald CMD SUB ..."), answers --help
 * with its usage and status 0, before any configuration or store exists:
 * `contacts import --help` once read the configuration that --help never
 * loads, and crashed. */
static void test_cli_help_everywhere(void **state)
{
    struct fx *fx = *state;
    struct tu_run top, r;
    size_t n = 0;
    tu_herald(&top, fx->dir, NULL, "--help", NULL);
    const char *p = strstr(top.out, "commands (each takes --help):\n");
    assert_non_null(p);
    for (p = strchr(p, '\n') + 1; strncmp(p, "  ", 2) == 0; p = strchr(p, '\n') + 1) {
        char cmd[32], pat[48];
        assert_int_equal(sscanf(p, " %31s", cmd), 1);
        tu_herald(&r, fx->dir, NULL, cmd, "--help", NULL);
        if (r.status != 0 || !strstr(r.out, "usage: herald"))
            fail_msg("%s --help: status %d, err %s", cmd, r.status, r.err);
        snprintf(pat, sizeof pat, "herald %s ", cmd);
        for (const char *u = strstr(r.out, pat); u; u = strstr(u + 1, pat)) {
            char sub[32];
            struct tu_run rs;
            if (sscanf(u + strlen(pat), "%31[a-z-]", sub) != 1)
                continue;
            tu_herald(&rs, fx->dir, NULL, cmd, sub, "--help", NULL);
            if (rs.status != 0 || !strstr(rs.out, "usage: herald"))
                fail_msg("%s %s --help: status %d, err %s", cmd, sub, rs.status, rs.err);
            tu_run_release(&rs);
            n++;
        }
        tu_run_release(&r);
    }
    tu_run_release(&top);
    assert_true(n >= 40); /* the subcommands found: the parse above saw them */
    assert_false(tu_exists(fx->db));
}

static void test_cli_basics(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    tu_herald(&r, fx->dir, NULL, "--help", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "usage: herald");
    assert_contains(r.out, "contacts");
    tu_run_release(&r);
    static const char *const cmds[] = {"init",     "config",   "contacts",
                                       "suppress", "template", "segment"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        tu_herald(&r, fx->dir, NULL, cmds[i], "--help", NULL);
        if (r.status != 0 || !strstr(r.out, "usage: herald"))
            fail_msg("%s --help: status %d, out %s, err %s", cmds[i], r.status, r.out, r.err);
        tu_run_release(&r);
        tu_herald(&r, fx->dir, NULL, "help", cmds[i], NULL);
        assert_int_equal(r.status, 0);
        tu_run_release(&r);
    }
    tu_herald(&r, fx->dir, NULL, "frobnicate", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "unknown command 'frobnicate'");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, NULL);
    assert_int_equal(r.status, 2);
    tu_run_release(&r);

    /* before init */
    tu_herald(&r, fx->dir, NULL, "contacts", "list", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "run 'herald init' first");
    tu_run_release(&r);
    assert_false(tu_exists(fx->db));

    tu_herald(&r, fx->dir, NULL, "init", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, stores.pg ? "created the herald schema in PostgreSQL database '"
                                     : "created database 'var/herald.db' (schema version ");
    tu_run_release(&r);
    if (!stores.pg)
        assert_true(tu_exists(fx->db));
    assert_int_equal(tu_sql1(fx->dir, store(), "SELECT count(*) FROM contacts"), 0);
    tu_herald(&r, fx->dir, NULL, "init", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "up to date");
    tu_run_release(&r);

    tu_herald(&r, fx->dir, NULL, "contacts", "list", "--limit", "x", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "--limit: 'x' is not a number");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "contacts", "show", "nobody", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "herald: no contact with id 'nobody'");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "contacts", "optout", "x", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "--channel is required");
    tu_run_release(&r);
}

static void test_cli_config_check(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    char *conf = tu_path(fx->dir, "h.conf");
    tu_write(conf, "[herald]\ndefault_region = US\n"
                   "[provider mail]\ntype = smtp\nhost = smtp.example.com\n"
                   "username = u\npassword_env = TEST_CLI_SMTP_PW\n"
                   "[channel email]\nproviders = mail\n");
    setenv("TEST_CLI_SMTP_PW", "very-secret-pw-123", 1);
    tu_herald(&r, fx->dir, NULL, "-c", "h.conf", "config", "check", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "[provider mail]");
    assert_contains(r.out, "password_env = TEST_CLI_SMTP_PW ; password = ****");
    assert_contains(r.out, "default_region = US");
    assert_not_contains(r.out, "very-secret-pw-123");
    assert_not_contains(r.err, "very-secret-pw-123");
    assert_contains(r.err, "warning: channel 'sms' has no provider");
    tu_run_release(&r);

    unsetenv("TEST_CLI_SMTP_PW");
    tu_herald(&r, fx->dir, NULL, "-c", "h.conf", "config", "check", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "h.conf:7: [provider mail] password_env: environment variable "
                           "'TEST_CLI_SMTP_PW' is not set");
    tu_run_release(&r);

    /* $HERALD_CONFIG is read when -c is not given */
    tu_write(conf, "[herald]\nbogus = 1\n");
    setenv("HERALD_CONFIG", "h.conf", 1);
    tu_herald(&r, fx->dir, NULL, "config", "check", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "h.conf:2: unknown key 'bogus' in [herald]");
    tu_run_release(&r);
    /* and when the built-in defaults do not load either (their link
     * secret's file is empty), the file's own error is still the one told
     * (a review saw the built-in one instead) */
    char *secret = tu_path(fx->dir, "var/herald.secret"), *vd = tu_path(fx->dir, "var");
    mkdir(vd, 0700);
    tu_write(secret, "");
    tu_herald(&r, fx->dir, NULL, "nodes", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "h.conf:2: unknown key 'bogus' in [herald]");
    assert_not_contains(r.err, "built-in");
    tu_run_release(&r);
    unlink(secret);
    free(secret);
    free(vd);
    unsetenv("HERALD_CONFIG");

    /* no file at all: the built-in defaults */
    tu_herald(&r, fx->dir, NULL, "config", "check", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "from built-in defaults");
    assert_contains(r.out, "[provider outbox]");
    tu_run_release(&r);
    free(conf);
}

/* ---- the 100,000-row import ----------------------------------------------------- */

static int bad_row(int i)
{
    return i % 997 == 500;
}

/* Writes row i as the generator sends it; fills what the database must hold. */
struct expect {
    char id[16], email[64], phone[24], tz[32], attrs[160];
};

static const char *const zones[] = {"Asia/Shanghai", "America/New_York", "Europe/Berlin", "UTC"};
static const char *const plans[] = {"gold", "silver", "bronze, \"classic\""};

static void gen_row(struct hd_buf *b, int i, struct expect *x)
{
    int kind = i % 3;
    snprintf(x->id, sizeof x->id, "u%06d", i);
    snprintf(x->email, sizeof x->email, "user%d@example.com", i);
    snprintf(x->tz, sizeof x->tz, "%s", zones[i % 4]);
    if (kind == 0)
        snprintf(x->phone, sizeof x->phone, "+86138%08d", i);
    else
        snprintf(x->phone, sizeof x->phone, "+1415%07d", 5550000 + i % 10000);
    int day = 1 + i % 28;
    snprintf(x->attrs, sizeof x->attrs,
             "{\"plan\":\"%s\",\"age\":%d,\"last_active\":\"2026-10-%02d\",\"vip\":%s}",
             i % 3 == 2 ? "bronze, \\\"classic\\\"" : plans[i % 3], 18 + i % 60, day,
             i % 7 == 0 ? "true" : "false");
    hd_buf_addf(b, "%s,%s%s,", x->id, i % 5 == 0 ? "  " : "", x->email);
    if (kind == 0)
        hd_buf_addf(b, "+86 138 %04d %04d,", i / 10000, i % 10000);
    else if (kind == 1)
        hd_buf_addf(b, "(415) %03d-%04d,", 555, i % 10000);
    else
        hd_buf_addf(b, "1-415-555-%04d,", i % 10000);
    hd_buf_addf(b, "%s,", x->tz);
    if (i % 3 == 2)
        hd_buf_adds(b, "\"bronze, \"\"classic\"\"\",");
    else
        hd_buf_addf(b, "%s,", plans[i % 3]);
    hd_buf_addf(b, "%d,2026-10-%02d,%s\r\n", 18 + i % 60, day, i % 7 == 0 ? "true" : "false");
}

static void gen_file(const char *path, int rows, int with_bad)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    struct hd_buf b;
    struct expect x;
    hd_buf_init(&b);
    hd_buf_adds(&b, "\xEF\xBB\xBFid,email,phone,timezone,plan,age,last_active,vip\r\n");
    for (int i = 0; i < rows; i++) {
        if (with_bad && bad_row(i)) {
            static const char *const bad[] = {
                "u%06d,broken-email,+8613800138000,UTC,gold,20,2026-10-01,true\r\n",
                "u%06d,x@example.com,12ab,UTC,gold,20,2026-10-01,true\r\n",
                "u%06d,x@example.com,+8613800138000,Mars/Base,gold,20,2026-10-01,true\r\n",
                "u%06d,x@example.com,+8613800138000,UTC,gold,twenty,2026-10-01,true\r\n"};
            hd_buf_addf(&b, bad[(i / 997) % 4], i);
        } else {
            gen_row(&b, i, &x);
        }
        if (b.len > 1 << 20) {
            fwrite(b.data, 1, b.len, f);
            hd_buf_reset(&b);
        }
    }
    fwrite(b.data, 1, b.len, f);
    fclose(f);
    hd_buf_release(&b);
}

static int nbad(int rows)
{
    int n = 0;
    for (int i = 0; i < rows; i++)
        n += bad_row(i);
    return n;
}

static int64_t db_count(const struct fx *fx)
{
    return tu_sql1(fx->dir, store(), "SELECT count(*) FROM contacts");
}

/* Checks the contacts table holds exactly the good rows of the generated
 * file of rows, in order, as the generator wrote them. */
static void check_rows(const struct fx *fx, int rows)
{
    char *text = tu_sql_text(fx->dir, store(),
                             "SELECT ext_id, email, phone, timezone, attrs, CASE WHEN locale IS "
                             "NULL THEN 1 ELSE 0 END, created_at FROM contacts ORDER BY id");
    struct hd_buf scratch;
    hd_buf_init(&scratch);
    int checked = 0;
    char *line = text;
    for (int i = 0; i < rows; i++) {
        if (bad_row(i))
            continue;
        struct expect x;
        hd_buf_reset(&scratch);
        gen_row(&scratch, i, &x);
        char *end = strchr(line, '\n');
        if (!end)
            fail_msg("row %d: the table has only %d rows", i, checked);
        *end = '\0';
        /* no field holds a '|', the separator of both shells */
        const char *got[7];
        char *p = line;
        for (int c = 0; c < 7; c++) {
            got[c] = p;
            p += strcspn(p, "|");
            if (*p)
                *p++ = '\0';
        }
        const char *exp[7] = {x.id, x.email, x.phone, x.tz, x.attrs, "1", "1795305600"};
        for (int c = 0; c < 7; c++)
            if (strcmp(got[c], exp[c]) != 0)
                fail_msg("row %d column %d: got %s, want %s", i, c, got[c], exp[c]);
        checked++;
        line = end + 1;
    }
    assert_string_equal(line, "");
    assert_int_equal(checked, rows - nbad(rows));
    hd_buf_release(&scratch);
    free(text);
}

static void test_cli_import_100k(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    char *csv = tu_path(fx->dir, "contacts.csv");
    const int rows = stores.pg ? ROWS_PG : ROWS;
    gen_file(csv, rows, 1);
    int bad = nbad(rows);
    tu_herald(&r, fx->dir, NULL, "init", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);

    /* default mode: the bad rows abort the import; nothing is written */
    tu_herald(&r, fx->dir, NULL, "contacts", "import", "contacts.csv", "--default-region", "US",
              NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "contacts.csv:502: field 'email': 'broken-email' is not an email "
                           "address (missing '@')");
    assert_contains(r.err, "contacts.csv:1499: field 'phone': '12ab' is not a phone number");
    char want[160];
    snprintf(want, sizeof want, "%d of %d rows are invalid; nothing was written", bad, rows);
    assert_contains(r.err, want);
    tu_run_release(&r);
    assert_int_equal(db_count(fx), 0);

    /* --dry-run --skip-invalid: validates, writes nothing, and says so (it
     * said "0 inserted, 0 updated" of rows that would be inserted) */
    tu_herald(&r, fx->dir, NULL, "contacts", "import", "contacts.csv", "--default-region", "US",
              "--skip-invalid", "--dry-run", NULL);
    assert_int_equal(r.status, 0);
    snprintf(want, sizeof want,
             "dry run of contacts.csv: %d rows checked, %d valid, %d invalid, "
             "nothing written",
             rows, rows - bad, bad);
    assert_contains(r.out, want);
    tu_run_release(&r);
    assert_int_equal(db_count(fx), 0);
    /* --dry-run alone: every row was checked */
    tu_herald(&r, fx->dir, NULL, "contacts", "import", "contacts.csv", "--default-region", "US",
              "--dry-run", NULL);
    assert_int_equal(r.status, 1);
    snprintf(want, sizeof want, "%d of %d rows are invalid; every row was checked, nothing written",
             bad, rows);
    assert_contains(r.err, want);
    tu_run_release(&r);

    /* --skip-invalid: the good rows land, the bad ones go to the rejects file */
    tu_herald(&r, fx->dir, NULL, "contacts", "import", "contacts.csv", "--default-region", "US",
              "--skip-invalid", NULL);
    assert_int_equal(r.status, 0);
    snprintf(want, sizeof want, "contacts.csv: %d rows, %d inserted, 0 updated, %d rejected", rows,
             rows - bad, bad);
    assert_contains(r.out, want);
    assert_contains(r.out, "rejected rows in contacts.csv.rejected.csv");
    tu_run_release(&r);

    char *rejp = tu_path(fx->dir, "contacts.csv.rejected.csv");
    char *rej = tu_read(rejp);
    assert_non_null(rej);
    int lines = 0;
    for (char *p = rej; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, bad + 1);
    assert_contains(rej, "\r\n502,field 'email': 'broken-email' is not an email address (missing "
                         "'@'),u000500,broken-email,");
    free(rej);
    free(rejp);

    /* the database holds exactly the generated good rows */
    check_rows(fx, rows);

    /* re-importing the same file updates every row and inserts none */
    tu_herald(&r, fx->dir, NULL, "contacts", "import", "contacts.csv", "--default-region", "US",
              "--skip-invalid", "--rejects", "again.csv", NULL);
    assert_int_equal(r.status, 0);
    snprintf(want, sizeof want, "%d rows, 0 inserted, %d updated, %d rejected", rows, rows - bad,
             bad);
    assert_contains(r.out, want);
    tu_run_release(&r);
    assert_int_equal(db_count(fx), rows - bad);

    /* the contacts commands see them */
    tu_herald(&r, fx->dir, NULL, "contacts", "show", "u000003", "--json", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "\"phone\": \"+86138"
                           "00000003\"");
    assert_contains(r.out, "\"plan\": \"gold\"");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "contacts", "list", "--limit", "2", "--format", "csv", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "id,email,phone,locale,timezone,");
    assert_contains(r.out, "\nu000000,user0@example.com,+8613800000000,,Asia/Shanghai,");
    tu_run_release(&r);
    free(csv);
}

/* A digest of everything in the contact tables, from either engine. */
static char *db_digest(const struct fx *fx)
{
    return tu_sql_text(fx->dir, store(),
                       "SELECT count(*), sum(length(ext_id) + length(attrs) + "
                       "coalesce(length(email), 0) + id), max(updated_at), (SELECT count(*) FROM "
                       "push_tokens), (SELECT count(*) FROM attributes), sum(length(attrs)) FROM "
                       "contacts");
}

/* How far an import has written, in bytes: the SQLite WAL's size, or on
 * PostgreSQL the contacts table's with its indexes (it grows with the
 * rows an open transaction has written, which no other session sees). */
static off_t written(const struct fx *fx)
{
    struct stat sb;
    if (stores.pg)
        return (off_t)tu_sql1(fx->dir, store(), "SELECT pg_total_relation_size('contacts')");
    char *wal = tu_path(fx->dir, "var/herald.db-wal");
    off_t n = stat(wal, &sb) == 0 ? sb.st_size : 0;
    free(wal);
    return n;
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* How far process pid has read the file called name: the position of its
 * descriptor on it (/proc/PID/fdinfo), or -1 while it has none open. */
static off_t read_pos(pid_t pid, const char *name)
{
    char fds[64], path[400], link[4096];
    snprintf(fds, sizeof fds, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(fds);
    struct dirent *e;
    off_t pos = -1;
    size_t nn = strlen(name);
    while (d && pos < 0 && (e = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "%s/%s", fds, e->d_name);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n <= (ssize_t)nn || link[n - nn - 1] != '/' || memcmp(link + n - nn, name, nn) != 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/fdinfo/%s", (int)pid, e->d_name);
        FILE *f = fopen(path, "r");
        long long v;
        if (f && fscanf(f, "pos: %lld", &v) == 1)
            pos = (off_t)v;
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return pos;
}

/* Imports killed at several points leave the store as it was: a quarter
 * and half-way through reading the file (an import reads it all before it
 * commits), then once the store has begun to grow (on SQLite that is the
 * commit itself: the import's 64 MiB cache holds every page until then,
 * and the whole WAL, 43 MB here, is written in about 40 ms, so the kill
 * must come at its first bytes; a kill at 12 MB of it came after the
 * commit once on a loaded 2-core machine). On PostgreSQL, where an import
 * writes row by row, the files are a tenth as big. */
static void test_cli_import_sigkill(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    const int base_rows = stores.pg ? 2000 : 20000, big_rows = stores.pg ? 30000 : 400000;
    char *csv = tu_path(fx->dir, "base.csv"), *big = tu_path(fx->dir, "big.csv");
    gen_file(csv, base_rows, 0);
    tu_herald(&r, fx->dir, NULL, "init", NULL);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "contacts", "import", "base.csv", "--default-region", "US", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    char *before = db_digest(fx), want[96];
    snprintf(want, sizeof want, "%d|", base_rows);
    assert_true(strncmp(before, want, strlen(want)) == 0);

    /* a bigger file, updating the first rows and adding many new ones */
    {
        FILE *f = fopen(big, "wb");
        fputs("id,email,score,joined\n", f);
        for (int i = 0; i < big_rows; i++)
            fprintf(f, "u%06d,big%d@example.org,%d,2026-01-%02d\n", i, i, i, 1 + i % 28);
        fclose(f);
    }
    /* kill at several points: the file read to a quarter, to half, then the
     * store grown past its size before */
    struct stat big_sb;
    assert_int_equal(stat(big, &big_sb), 0);
    const off_t read_to[] = {big_sb.st_size / 4, big_sb.st_size / 2, -1};
    for (size_t k = 0; k < sizeof read_to / sizeof read_to[0]; k++) {
        /* a killed import leaves its frames in the WAL, which the next one
         * writes over from the start: without the WAL emptied, the last
         * point waited for the import to outgrow the one before, and on a
         * loaded machine it had committed by then */
        if (!stores.pg)
            free(tu_sql_text(fx->dir, store(), "PRAGMA wal_checkpoint(TRUNCATE)"));
        off_t base = written(fx);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (chdir(fx->dir) != 0 || !freopen("/dev/null", "w", stdout) ||
                !freopen("/dev/null", "w", stderr))
                _exit(126);
            execl(tu_herald_bin(), tu_herald_bin(), "contacts", "import", "big.csv", (char *)NULL);
            _exit(127);
        }
        /* poll, bounded: up to 60 s for the import to get there */
        int exited = 0, st;
        struct timespec nap = {0, 1000 * 1000};
        for (int64_t t0 = mono_ms(); mono_ms() - t0 < 60000;) {
            if (read_to[k] >= 0 ? read_pos(pid, "big.csv") > read_to[k]
                                : written(fx) > base + 64 * 1024)
                break;
            if (waitpid(pid, &st, WNOHANG) == pid) {
                exited = 1;
                break;
            }
            nanosleep(&nap, NULL);
        }
        if (exited)
            fail_msg("the import finished before it could be killed (point %zu)", k);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        char *after = db_digest(fx);
        if (strcmp(before, after) != 0)
            fail_msg("kill %zu changed the database: %s -> %s", k, before, after);
        free(after);
    }
    /* and the database still works: the same import now completes */
    tu_herald(&r, fx->dir, NULL, "contacts", "import", "big.csv", NULL);
    assert_int_equal(r.status, 0);
    snprintf(want, sizeof want, "%d rows, %d inserted, %d updated, 0 rejected", big_rows,
             big_rows - base_rows, base_rows);
    assert_contains(r.out, want);
    tu_run_release(&r);
    free(before);
    free(csv);
    free(big);
}

static void test_cli_stdin_and_suppress(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    char *in = tu_path(fx->dir, "in.jsonl");
    tu_write(in, "{\"id\":\"s1\",\"email\":\"S1@Example.com\",\"phone\":\"+447700900123\"}\n");
    tu_herald(&r, fx->dir, NULL, "init", NULL);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, in, "contacts", "import", "-", NULL);
    assert_int_equal(r.status, 2);
    assert_contains(r.err, "reading standard input needs --format csv|jsonl");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, in, "contacts", "import", "-", "--format", "jsonl", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "stdin: 1 row, 1 inserted");
    tu_run_release(&r);

    tu_herald(&r, fx->dir, NULL, "contacts", "optout", "s1", "--channel", "email", "--category",
              "marketing", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "contacts", "show", "s1", NULL);
    assert_contains(r.out, "email marketing      opted out  by cli");
    tu_run_release(&r);

    tu_herald(&r, fx->dir, NULL, "suppress", "add", "S1@EXAMPLE.COM", "--reason", "hard_bounce",
              NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "suppress", "add", "+44 7700 900123", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "suppress", "list", "--format", "csv", NULL);
    assert_int_equal(r.status, 0);
    /* RFC 4180's CRLF, as log, stats and history (these ended in LF) */
    assert_contains(r.out, "address,channel,reason,created_at,message_id,detail\r\n");
    assert_contains(r.out, "s1@example.com,email,hard_bounce,2026-11-22T00:00:00Z,,\r\n");
    assert_contains(r.out, "+447700900123,sms,manual,");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "suppress", "add", "not an address", NULL);
    assert_int_equal(r.status, 1);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "suppress", "remove", "s1@example.com", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "suppress", "remove", "s1@example.com", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "'s1@example.com' is not suppressed");
    tu_run_release(&r);
    /* --channel removes only that channel's suppression: a WeChat openid
     * stays suppressed after a remove for push (which took it away) */
    tu_herald(&r, fx->dir, NULL, "suppress", "add", "oWX123", "--channel", "wechat", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "suppress", "remove", "oWX123", "--channel", "push", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "herald: 'oWX123' is not suppressed on push (it is on wechat)\n");
    assert_string_equal(r.out, "");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "suppress", "list", "--format", "csv", NULL);
    assert_contains(r.out, "oWX123,wechat,manual,");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "suppress", "remove", "oWX123", "--channel", "wechat", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "removed 'oWX123' from the suppression list");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "suppress", "list", "--format", "csv", NULL);
    assert_not_contains(r.out, "oWX123");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "suppress", "remove", "oWX123", "--channel", "wechat", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "herald: 'oWX123' is not suppressed on wechat\n");
    tu_run_release(&r);

    tu_herald(&r, fx->dir, NULL, "contacts", "delete", "s1", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "contacts", "show", "s1", NULL);
    assert_int_equal(r.status, 1);
    tu_run_release(&r);
    free(in);
}

/* contacts show's table writes an attribute's control characters as the
 * JSON of list and --format json does ("\u001b", "\r"): a CRM's value
 * never drives the terminal (ESC colours it, CR overwrites the line). */
static void test_cli_show_controls(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    char *csv = tu_path(fx->dir, "esc.csv");
    tu_write(csv, "id,note,tag\n"
                  "e1,\"a\x1b[31mRED\x1b[0m\rover\",v\x07\n");
    TU_HERALD_OK(fx->dir, "init");
    TU_HERALD_OK(fx->dir, "contacts", "import", "esc.csv");
    tu_herald(&r, fx->dir, NULL, "contacts", "list", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "a\\u001b[31mRED\\u001b[0m\\rover");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "contacts", "show", "e1", NULL);
    assert_int_equal(r.status, 0);
    assert_null(strchr(r.out, '\x1b'));
    assert_null(strchr(r.out, '\r'));
    assert_null(strchr(r.out, '\x07'));
    assert_contains(r.out, "  note                 a\\u001b[31mRED\\u001b[0m\\rover\n");
    assert_contains(r.out, "  tag                  v\\u0007\n");
    tu_run_release(&r);
    /* the store keeps the value itself: only the table shows it escaped */
    char *note = tu_sql_text(fx->dir, store(),
                             stores.pg ? "SELECT attrs_j->>'note' FROM contacts"
                                       : "SELECT json_extract(attrs, '$.note') FROM contacts");
    assert_string_equal(note, "a\x1b[31mRED\x1b[0m\rover\n");
    free(note);
    free(csv);
}

static void test_cli_templates(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    const char *src = getenv("HERALD_SRC");
    if (!src)
        skip();
    char *conf = tu_path(fx->dir, "h.conf"), *csv = tu_path(fx->dir, "c.csv");
    struct hd_buf t;
    hd_buf_init(&t);
    hd_buf_addf(
        &t,
        "[herald]\ndatabase = %s\ntemplates = %s/templates\n[template_vars]\n"
        "brand = Acme\nshop_url = https://shop.example.com\nsupport_email = s@example.com\n",
        store(), src);
    tu_write(conf, t.data);
    tu_write(csv, "id,phone,locale,timezone,first_name,last_active,membership_expires,plan\n"
                  "z1,+8613800138000,zh-CN,Asia/Shanghai,王芳,2026-10-01,2026-12-15,gold\n"
                  "e1,+14155550100,en-US,America/New_York,Ann,2026-10-02,2027-09-01,silver\n");
    tu_herald(&r, fx->dir, NULL, "-c", "h.conf", "init", NULL);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "-c", "h.conf", "contacts", "import", "c.csv", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);

    tu_herald(&r, fx->dir, NULL, "-c", "h.conf", "template", "list", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "recall         email,sms,push   zh-CN          b          marketing");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "-c", "h.conf", "template", "lint", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "3 templates checked: 0 errors");
    tu_run_release(&r);

    tu_herald(&r, fx->dir, NULL, "-c", "h.conf", "template", "preview", "recall", "--contact", "z1",
              "--channel", "sms", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "== sms   (UCS-2, ");
    assert_contains(r.out, "【Acme】王芳，好久不见！");
    assert_contains(r.out, "回T退订");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "-c", "h.conf", "template", "preview", "renewal", "--contact",
              "e1", "--channel", "email", "--json", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "\"email.subject\": \"Renew your silver membership early and get a "
                           "month free\"");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "-c", "h.conf", "template", "preview", "promotion", "--contact",
              "e1", "--variant", "b", "--channel", "email", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "Ann, your Black Friday prices are in");
    assert_contains(r.out, "(derived from email.html)");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "-c", "h.conf", "template", "preview", "recall", NULL);
    assert_int_equal(r.status, 2);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "-c", "h.conf", "template", "preview", "nosuch", "--contact", "e1",
              NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "no template 'nosuch'");
    tu_run_release(&r);

    char *tpl = tu_path(fx->dir, "t.mustache"), *data = tu_path(fx->dir, "d.json");
    tu_write(tpl, "Hi {{name}} & {{ n | number }}\n");
    tu_write(data, "{\"name\":\"A&B\",\"n\":12345.5}");
    tu_herald(&r, fx->dir, NULL, "-c", "h.conf", "template", "render", "t.mustache", "--data",
              "d.json", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "Hi A&amp;B & 12,345.5\n");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, tpl, "-c", "h.conf", "template", "render", "-", "--strict", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "stdin:1:4: missing variable 'name'");
    tu_run_release(&r);
    hd_buf_release(&t);
    free(tpl);
    free(data);
    free(conf);
    free(csv);
}

static void test_cli_segments(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    char *csv = tu_path(fx->dir, "c.csv");
    tu_write(csv, "id,email,plan,last_active,age\n"
                  "a,a@example.com,gold,2026-10-01,30\n"
                  "b,b@example.com,silver,2026-11-20,40\n"
                  "c,,gold,2026-09-01,50\n"
                  "d,d@example.com,free,2026-08-01,\n");
    tu_herald(&r, fx->dir, NULL, "init", NULL);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "contacts", "import", "c.csv", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "segment", "define", "churned", "days_since(last_active) > 30",
              NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "segment 'churned' defined: 3 contacts now");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "segment", "define", "gold_churn",
              "in_segment(\"churned\") and plan = \"gold\" and reachable(email)", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "1 contact now");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "segment", "define", "churned", "age > 1", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "segment 'churned' already exists (use --replace to change it)");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "segment", "define", "bad", "age >= \"old\"", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "herald: segment 'bad': 1:8: 'age' is a number; it cannot be compared "
                           "with a string\n  age >= \"old\"\n         ^\n");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "segment", "define", "churned", "in_segment(\"gold_churn\")",
              "--replace", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "makes a cycle: churned -> gold_churn -> churned");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "segment", "count", "churned", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "3\n");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "segment", "count", "--expr", "plan in (\"gold\", \"free\")",
              NULL);
    assert_string_equal(r.out, "3\n");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "segment", "export", "churned", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out,
                    "id,email,phone,locale,timezone,fcm_token,apns_token,jpush_id,"
                    "hms_token,wechat_openid,created_at,updated_at,attributes\r\na,a@example.com,");
    assert_contains(r.out, "\nc,,");
    assert_contains(r.out, "\nd,d@example.com,");
    assert_not_contains(r.out, "\nb,");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "segment", "export", "churned", "--format", "jsonl", NULL);
    assert_contains(r.out, "{\"id\":\"a\",");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "segment", "sample", "churned", "-n", "2", "--format", "json",
              NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "[{\"id\":");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "segment", "show", "gold_churn", "--sql", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "rule     in_segment(\"churned\") and plan = \"gold\"");
    assert_contains(r.out, "contacts 1\n");
    /* the SQL that runs: each engine's dialect, its attribute paths */
    assert_contains(r.out, stores.pg ? "params   \"{last_active}\"" : "params   \"$.last_active\"");
    if (stores.pg)
        assert_contains(r.out, "?1::text[]");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "segment", "list", NULL);
    assert_contains(r.out, "churned ");
    assert_contains(r.out, "gold_churn ");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "segment", "delete", "churned", NULL);
    assert_int_equal(r.status, 1);
    assert_contains(r.err, "segment 'churned' is used by 'gold_churn': change them first");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "segment", "delete", "gold_churn", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "segment", "count", NULL);
    assert_int_equal(r.status, 2);
    tu_run_release(&r);
    free(csv);
}

/* Only `herald init` makes a database (issue 16, item 4): every other command
 * refuses a zero-byte file (a truncated database would otherwise come back
 * empty, its consent and suppressions gone without a word), names it, says
 * what to do and leaves it as it was. */
static void test_cli_empty_database(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    char *var = tu_path(fx->dir, "var");
    assert_int_equal(mkdir(var, 0700), 0);
    tu_write(fx->db, "");
    static const char *const cmds[][4] = {
        {"contacts", "list", NULL}, {"suppress", "list", NULL}, {"segment", "list", NULL}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        tu_herald(&r, fx->dir, NULL, cmds[i][0], cmds[i][1], NULL);
        if (r.status != 1 || !strstr(r.err, "herald: database 'var/herald.db' is empty (0 bytes)"))
            fail_msg("%s %s: status %d, err %s", cmds[i][0], cmds[i][1], r.status, r.err);
        assert_contains(r.err, "restore it from a backup");
        assert_contains(r.err, "herald init");
        assert_string_equal(r.out, "");
        tu_run_release(&r);
        struct stat sb;
        assert_int_equal(stat(fx->db, &sb), 0);
        assert_int_equal(sb.st_size, 0);
    }
    char *wal = tu_path(fx->dir, "var/herald.db-wal");
    assert_false(tu_exists(wal));
    /* init makes the empty file a database, and says so */
    tu_herald(&r, fx->dir, NULL, "init", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "created database 'var/herald.db' (schema version ");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "contacts", "list", NULL);
    assert_int_equal(r.status, 0);
    tu_run_release(&r);
    free(wal);
    free(var);
}

/* Checks path's permission bits, and those of everything under it: folders
 * dir_mode, files file_mode. Returns how many files it saw. */
static int check_modes(const char *path, mode_t dir_mode, mode_t file_mode)
{
    struct stat sb;
    assert_int_equal(lstat(path, &sb), 0);
    if (!S_ISDIR(sb.st_mode)) {
        if ((sb.st_mode & 0777) != file_mode)
            fail_msg("'%s' has mode %03o, want %03o", path, sb.st_mode & 0777, file_mode);
        return 1;
    }
    if ((sb.st_mode & 0777) != dir_mode)
        fail_msg("folder '%s' has mode %03o, want %03o", path, sb.st_mode & 0777, dir_mode);
    int n = 0;
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *sub = tu_path(path, de->d_name);
        n += check_modes(sub, dir_mode, file_mode);
        free(sub);
    }
    closedir(d);
    return n;
}

/* Contacts and message text are for herald's user only (issue 16, item 13):
 * under umask 022 the database (and so its -wal and -shm), var/, the outbox
 * and an import's rejects file are created 0600, folders 0700. */
static void test_cli_file_modes(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    const char *src = getenv("HERALD_SRC");
    if (!src)
        skip();
    mode_t old = umask(022);
    char *conf = tu_path(fx->dir, "h.conf"), *csv = tu_path(fx->dir, "c.csv");
    struct hd_buf t;
    hd_buf_init(&t);
    hd_buf_addf(&t,
                "[herald]\ntemplates = %s/templates\n[template_vars]\nbrand = Acme\n"
                "shop_url = https://shop.example.com\nsupport_email = s@example.com\n"
                "unsubscribe_url = https://example.com/unsubscribe\n",
                src);
    tu_write(conf, t.data);
    hd_buf_release(&t);
    tu_write(csv, "id,phone,locale,timezone,first_name,last_active,plan\n"
                  "e1,+14155550100,en-US,America/New_York,Ann,2026-10-02,gold\n"
                  "e2,+14155550101,en-US,America/New_York,Bob,2026-10-02,gold\n"
                  "bad,not-a-phone,en-US,America/New_York,Cy,2026-10-02,gold\n");
    static const char *const steps[][12] = {
        {"init", NULL},
        {"contacts", "import", "c.csv", "--skip-invalid", NULL},
        {"segment", "define", "all", "plan = \"gold\"", NULL},
        {"campaign", "create", "c1", "--segment", "all", "--template", "recall", "--channels",
         "sms", "--now", NULL},
        {"send", "c1", "--wait", "30s", NULL},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        const char *const *a = steps[i];
        tu_herald(&r, fx->dir, NULL, "-c", "h.conf", a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7],
                  a[8], a[9], a[10]);
        if (r.status != 0)
            fail_msg("step %zu (%s): status %d, err %s", i, a[0], r.status, r.err);
        tu_run_release(&r);
    }
    /* the database with its -wal and -shm, while a connection holds them,
     * and the providers' pause file a send made next to it */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "SELECT count(*) FROM contacts", NULL, NULL, NULL),
                     SQLITE_OK);
    char *var = tu_path(fx->dir, "var"), *outbox = tu_path(fx->dir, "var/outbox");
    assert_true(tu_exists(outbox));
    assert_true(check_modes(outbox, 0700, 0600) > 0);
    assert_int_equal(check_modes(var, 0700, 0600), check_modes(outbox, 0700, 0600) + 4);
    char *pauses = tu_path(fx->dir, "var/herald.db.pauses");
    assert_true(tu_exists(pauses));
    free(pauses);
    sqlite3_close(db);
    char *rej = tu_path(fx->dir, "c.csv.rejected.csv");
    assert_int_equal(check_modes(rej, 0700, 0600), 1);
    umask(old);
    free(rej);
    free(var);
    free(outbox);
    free(conf);
    free(csv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cli_basics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_help_everywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_config_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_import_100k, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_import_sigkill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_stdin_and_suppress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_show_controls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_templates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_empty_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_file_modes, setup, teardown),
    };
    /* the cases with a store again, on PostgreSQL; config_check opens no
     * store, empty_database is about a zero-byte SQLite file and file_modes
     * about the modes of the SQLite file, its -wal and -shm and pause file */
    const struct CMUnitTest tests_pg[] = {
        {"test_cli_basics_pg", test_cli_basics, setup_pg, teardown, NULL},
        {"test_cli_import_100k_pg", test_cli_import_100k, setup_pg, teardown, NULL},
        {"test_cli_import_sigkill_pg", test_cli_import_sigkill, setup_pg, teardown, NULL},
        {"test_cli_stdin_and_suppress_pg", test_cli_stdin_and_suppress, setup_pg, teardown, NULL},
        {"test_cli_show_controls_pg", test_cli_show_controls, setup_pg, teardown, NULL},
        {"test_cli_templates_pg", test_cli_templates, setup_pg, teardown, NULL},
        {"test_cli_segments_pg", test_cli_segments, setup_pg, teardown, NULL},
    };
    int rc = cmocka_run_group_tests_name("cli", tests, NULL, NULL);
    return rc | cmocka_run_group_tests_name("cli on PostgreSQL", tests_pg, NULL, NULL);
}
