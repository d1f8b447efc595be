/* test_package: what an installed herald brings besides the binary, tested
 * for real. The man pages (the .scd files of docs/man) are built with the Makefile's own
 * rule, must render with no warning from man, and must name every option
 * each command's --help lists (and herald.conf(5) every key etc/herald.conf
 * documents), so a new option without a page fails here. The bash
 * completion runs in bash with bash-completion loaded, the zsh completion in
 * an interactive zsh on a pseudo-terminal, both against a database with
 * campaigns; bash must offer every option --help lists. Last, `make deb`
 * builds the package, lintian must find no error, and as root the package is
 * installed, the demo's commands run against /usr/bin/herald from a temporary
 * folder, and `dpkg --purge` must leave nothing behind. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "testutil.h"

#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>

struct fx {
    char *dir; /* a temporary folder with a database holding campaigns */
    char *src; /* the source tree */
};

static const char *src_dir(void)
{
    const char *s = getenv("HERALD_SRC");
    return s ? s : ".";
}

/* Runs "sh -c CMD" in dir; the caller releases r. */
static void sh(struct tu_run *r, const char *dir, const char *cmd)
{
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    tu_exec(r, dir, NULL, argv);
}

/* sh(), failing the test unless CMD exits 0. */
static void sh_ok(const char *dir, const char *cmd)
{
    struct tu_run r;
    sh(&r, dir, cmd);
    if (r.status != 0)
        fail_msg("%s: exit %d\n%s%s", cmd, r.status, r.out, r.err);
    tu_run_release(&r);
}

static void herald_ok(const char *dir, const char *const *args)
{
    const char *argv[32] = {tu_herald_bin()};
    size_t n = 1;
    for (; args[n - 1] && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    struct tu_run r;
    tu_exec(&r, dir, NULL, argv);
    if (r.status != 0)
        fail_msg("herald %s %s: exit %d\n%s%s", args[0], args[1] ? args[1] : "", r.status, r.out,
                 r.err);
    tu_run_release(&r);
}

static int setup(void **state)
{
    struct fx *fx = hd_xcalloc(1, sizeof *fx);
    fx->dir = tu_tmpdir();
    char *abs = realpath(src_dir(), NULL);
    assert_non_null(abs);
    fx->src = abs;
    unsetenv("HERALD_CONFIG");
    setenv("HERALD_NOW", "2026-11-22T09:00:00Z", 1);
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_addf(&b, "ln -s '%s/templates' templates", fx->src);
    sh_ok(fx->dir, b.data);
    hd_buf_release(&b);
    static const char *const cmds[][16] = {
        {"init", NULL},
        {"segment", "define", "everyone", "created_at < now", "--allow-unknown", NULL},
        {"campaign", "create", "showcase", "--segment", "everyone", "--template", "recall",
         "--channels", "email", "--now", NULL},
        {"campaign", "create", "shipping", "--segment", "everyone", "--template", "recall",
         "--channels", "email", "--now", NULL},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        herald_ok(fx->dir, cmds[i]);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    tu_rmdir(fx->dir);
    free(fx->src);
    free(fx);
    return 0;
}

/* ---- what --help says ---------------------------------------------------- */

/* The commands `herald --help` lists, into names (each owned). */
static size_t help_commands(const char *dir, char names[][32], size_t max)
{
    struct tu_run r;
    tu_herald(&r, dir, NULL, "--help", NULL);
    assert_int_equal(r.status, 0);
    const char *p = strstr(r.out, "commands (each takes --help):\n");
    assert_non_null(p);
    p = strchr(p, '\n') + 1;
    size_t n = 0;
    /* "  name       summary" lines until a blank line */
    while (*p == ' ' && n < max) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " \n");
        assert_true(len > 0 && len < 32);
        memcpy(names[n], p, len);
        names[n++][len] = '\0';
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    tu_run_release(&r);
    assert_true(n >= 15);
    return n;
}

static bool opt_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_';
}

/* Whether opt occurs in text as a whole word (not inside --optional). */
static bool has_option(const char *text, const char *opt)
{
    size_t n = strlen(opt);
    for (const char *p = strstr(text, opt); p; p = strstr(p + 1, opt))
        if ((p == text || !opt_char(p[-1])) && !opt_char(p[n]))
            return true;
    return false;
}

/* The options `herald CMD --help` lists, as one string of
 * "--name\n" lines. Options of other commands it mentions ("herald stats
 * --goal") and --help itself are left out. */
static char *help_options(const char *dir, const char *cmd)
{
    struct tu_run r;
    tu_herald(&r, dir, NULL, cmd, "--help", NULL);
    assert_int_equal(r.status, 0);
    struct hd_buf b;
    hd_buf_init(&b);
    for (char *p = r.out; *p; p++) {
        if (strncmp(p, "herald ", 7) == 0 && p[7] != '-' && strncmp(p + 7, cmd, strlen(cmd)) != 0) {
            p += 7; /* "herald other --opt": skip the other command's word and option */
            while (*p && *p != ' ' && *p != '\n')
                p++;
            while (*p == ' ')
                p++;
            while (opt_char(*p))
                p++;
            p--;
            continue;
        }
        if (strncmp(p, "-- ", 3) == 0) { /* "-- -token": an operand after the options' end */
            p += 3;
            while (*p && *p != ' ' && *p != '\n')
                p++;
            p--;
            continue;
        }
        if (*p != '-' || (p > r.out && opt_char(p[-1])) ||
            !isalpha((unsigned char)p[p[1] == '-' ? 2 : 1]))
            continue;
        size_t len = 1;
        while (opt_char(p[len]))
            len++;
        char opt[64];
        snprintf(opt, sizeof opt, "%.*s", (int)len, p);
        if (strcmp(opt, "--help") != 0 && strcmp(opt, "-h") != 0 &&
            (!b.data || !has_option(b.data, opt)))
            hd_buf_addf(&b, "%s\n", opt);
        p += len - 1;
    }
    tu_run_release(&r);
    return hd_buf_detach(&b, NULL);
}

/* The subcommands `herald CMD --help` shows in its usage lines ("herald
 * campaign pause|resume|cancel NAME" gives pause, resume and cancel), as
 * "name\n" lines; "" for a command without any. */
static char *help_subcommands(const char *dir, const char *cmd)
{
    struct tu_run r;
    tu_herald(&r, dir, NULL, cmd, "--help", NULL);
    assert_int_equal(r.status, 0);
    struct hd_buf b, prefix;
    hd_buf_init(&b);
    hd_buf_init(&prefix);
    hd_buf_addf(&b, "%s", "");
    hd_buf_addf(&prefix, "herald %s ", cmd);
    for (char *line = r.out; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char *p = line;
        if (strncmp(p, "usage: ", 7) == 0)
            p += 7;
        while (*p == ' ')
            p++;
        if (strncmp(p, prefix.data, prefix.len) != 0)
            continue;
        p += prefix.len;
        size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz|");
        if (len == 0 || (p[len] != ' ' && p[len] != '\n'))
            continue; /* an operand (CAMPAIGN) or an option */
        for (char *w = p, *end = p + len; w < end;) {
            size_t k = strcspn(w, "|");
            if (w + k > end)
                k = (size_t)(end - w);
            char word[32];
            snprintf(word, sizeof word, "%.*s", (int)k, w);
            if (!has_option(b.data, word))
                hd_buf_addf(&b, "%s\n", word);
            w += k + 1;
        }
    }
    tu_run_release(&r);
    hd_buf_release(&prefix);
    return hd_buf_detach(&b, NULL);
}

/* Fails unless every word of list ("word\n" lines) is a whole word of text;
 * where names the text in the message. Frees list. */
static void check_words(char *list, const char *text, const char *cmd, const char *where)
{
    for (char *o = list, *nl; o && *o; o = nl + 1) {
        nl = strchr(o, '\n');
        *nl = '\0';
        if (!has_option(text, o))
            fail_msg("herald %s --help lists '%s'; %s does not", cmd, o, where);
    }
    free(list);
}

/* ---- man pages ------------------------------------------------------------ */

static char *build_man(const struct fx *fx)
{
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_addf(&b, "make -s -C '%s' B='%s/b' man", fx->src, fx->dir);
    sh_ok(fx->dir, b.data);
    hd_buf_release(&b);
    return tu_path(fx->dir, "b/man");
}

static void test_package_man_render(void **state)
{
    struct fx *fx = *state;
    char *mandir = build_man(fx);
    DIR *d = opendir(mandir);
    assert_non_null(d);
    struct dirent *e;
    int pages = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp"))
            continue;
        struct hd_buf cmd;
        hd_buf_init(&cmd);
        hd_buf_addf(&cmd, "MANWIDTH=80 man --warnings -l '%s/%s'", mandir, e->d_name);
        struct tu_run r;
        sh(&r, fx->dir, cmd.data);
        if (r.status != 0 || r.err[0] || !strstr(r.out, "NAME"))
            fail_msg("%s: exit %d, warnings: %s", e->d_name, r.status, r.err);
        tu_run_release(&r);
        hd_buf_release(&cmd);
        pages++;
    }
    closedir(d);
    /* herald(1), herald.conf(5) and one page a command */
    char names[32][32];
    assert_int_equal(pages, 2 + (int)help_commands(fx->dir, names, 32));
    free(mandir);
}

static char *read_page(const struct fx *fx, const char *name)
{
    struct hd_buf p;
    hd_buf_init(&p);
    hd_buf_addf(&p, "%s/docs/man/%s.scd", fx->src, name);
    char *text = tu_read(p.data);
    if (!text)
        fail_msg("no man page '%s'", p.data);
    hd_buf_release(&p);
    return text;
}

static void test_package_man_options(void **state)
{
    struct fx *fx = *state;
    char names[32][32];
    size_t n = help_commands(fx->dir, names, 32);
    for (size_t i = 0; i < n; i++) {
        char page[64];
        snprintf(page, sizeof page, "herald-%s.1", names[i]);
        char *text = read_page(fx, page);
        check_words(help_options(fx->dir, names[i]), text, names[i], page);
        check_words(help_subcommands(fx->dir, names[i]), text, names[i], page);
        /* the overview names every command's page */
        char *top = read_page(fx, "herald.1");
        snprintf(page, sizeof page, "*herald-%s*(1)", names[i]);
        assert_contains(top, page);
        free(top);
        free(text);
    }
    /* the global options, from herald --help, in herald(1) */
    char *top = read_page(fx, "herald.1");
    check_words(help_options(fx->dir, "--help"), top, "", "herald.1.scd");
    free(top);
}

/* Every key etc/herald.conf documents (set or commented out) is in herald.conf(5). */
static void test_package_man_conf_keys(void **state)
{
    struct fx *fx = *state;
    char *path = tu_path(fx->src, "etc/herald.conf");
    char *conf = tu_read(path), *page = read_page(fx, "herald.conf.5");
    assert_non_null(conf);
    int keys = 0;
    bool in_vars = false;
    for (char *line = conf; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *p = line;
        if (*p == '[')
            in_vars = strncmp(p, "[template_vars]", 15) == 0; /* examples, not keys */
        if (*p == ';')
            p++;
        while (*p == ' ')
            p++;
        size_t len = 0;
        while (isalnum((unsigned char)p[len]) || p[len] == '_' || p[len] == '.')
            len++;
        const char *q = p + len;
        while (*q == ' ')
            q++;
        /* "key = value" with at least one space before '=' (prose has none) */
        if (in_vars || len == 0 || *q != '=' || q == p + len || !islower((unsigned char)*p))
            continue;
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)len, p);
        if (strchr(key, '.'))
            continue; /* marketing.sms: an example of CATEGORY.CHANNEL */
        if (!has_option(page, key))
            fail_msg("etc/herald.conf documents '%s'; herald.conf.5.scd does not", key);
        keys++;
    }
    assert_true(keys > 40);
    free(page);
    free(conf);
    free(path);
}

/* ---- completion ----------------------------------------------------------- */

/* What bash's _herald offers for the words (the last is the one completed),
 * one a line, run in dir with herald on PATH. */
static char *bash_complete(const struct fx *fx, const char *dir, const char *words)
{
    struct hd_buf cmd;
    hd_buf_init(&cmd);
    char *bin = realpath(tu_herald_bin(), NULL);
    assert_non_null(bin);
    *strrchr(bin, '/') = '\0';
    hd_buf_addf(&cmd,
                "PATH='%s':$PATH bash -c 'source /usr/share/bash-completion/bash_completion; "
                "source \"%s/etc/completion/herald.bash\"; COMP_WORDS=(%s); "
                "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _herald; printf \"%%s\\n\" "
                "\"${COMPREPLY[@]}\"'",
                bin, fx->src, words);
    struct tu_run r;
    sh(&r, dir, cmd.data);
    if (r.status != 0)
        fail_msg("%s: exit %d: %s", cmd.data, r.status, r.err);
    free(r.err);
    hd_buf_release(&cmd);
    free(bin);
    return r.out;
}

static void assert_offers(char *got, const char *const *want)
{
    for (size_t i = 0; want[i]; i++) {
        char line[80];
        snprintf(line, sizeof line, "%s\n", want[i]);
        if (strncmp(got, line, strlen(line)) != 0) {
            snprintf(line, sizeof line, "\n%s\n", want[i]);
            if (!strstr(got, line))
                fail_msg("expected '%s' among \"%s\"", want[i], got);
        }
    }
    free(got);
}

static void test_package_bash(void **state)
{
    struct fx *fx = *state;
    assert_offers(bash_complete(fx, fx->dir, "herald ca"), (const char *[]){"campaign", NULL});
    assert_offers(bash_complete(fx, fx->dir, "herald campaign sh"), (const char *[]){"show", NULL});
    assert_offers(bash_complete(fx, fx->dir, "herald campaign show \"\""),
                  (const char *[]){"showcase", "shipping", NULL});
    assert_offers(bash_complete(fx, fx->dir, "herald send sh"),
                  (const char *[]){"showcase", "shipping", NULL});
    assert_offers(bash_complete(fx, fx->dir, "herald campaign create x --segment \"\""),
                  (const char *[]){"everyone", NULL});
    assert_offers(bash_complete(fx, fx->dir, "herald campaign create x --template r"),
                  (const char *[]){"recall", "renewal", NULL});
    assert_offers(bash_complete(fx, fx->dir, "herald provider test \"\""),
                  (const char *[]){"outbox", NULL});
    /* from another folder, the database comes from --db */
    struct hd_buf w;
    hd_buf_init(&w);
    hd_buf_addf(&w, "herald --db %s/var/herald.db log --campaign s", fx->dir);
    assert_offers(bash_complete(fx, "/", w.data), (const char *[]){"showcase", "shipping", NULL});
    hd_buf_release(&w);
    /* and without a database: nothing, quietly */
    char *none = bash_complete(fx, "/", "herald campaign show \"\"");
    assert_string_equal(none, "\n");
    free(none);
    /* every option each command's --help lists */
    char names[32][32];
    size_t n = help_commands(fx->dir, names, 32);
    for (size_t i = 0; i < n; i++) {
        char words[64];
        snprintf(words, sizeof words, "herald %s -", names[i]);
        char *got = bash_complete(fx, fx->dir, words);
        check_words(help_options(fx->dir, names[i]), got, names[i], "herald.bash");
        free(got);
        snprintf(words, sizeof words, "herald %s \"\"", names[i]);
        char *subs = help_subcommands(fx->dir, names[i]);
        if (subs[0]) {
            got = bash_complete(fx, fx->dir, words);
            check_words(subs, got, names[i], "herald.bash");
            free(got);
        } else {
            free(subs);
        }
    }
}

/* The hidden command: not in --help, names one a line, nothing without a
 * database or for an unknown word, exit 0 always. */
static void test_package_complete_command(void **state)
{
    struct fx *fx = *state;
    struct tu_run r;
    tu_herald(&r, fx->dir, NULL, "--help", NULL);
    assert_not_contains(r.out, "complete");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "complete", "campaigns", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.out, "showcase\n");
    assert_contains(r.out, "shipping\n");
    assert_string_equal(r.err, "");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "complete", "segments", NULL);
    assert_string_equal(r.out, "everyone\n");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "complete", "templates", NULL);
    assert_string_equal(r.out, "promotion\nrecall\nrenewal\n");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "complete", "bogus", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "");
    tu_run_release(&r);
    tu_herald(&r, fx->dir, NULL, "--db", "no/such.db", "complete", "campaigns", NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "");
    tu_run_release(&r);
}

/* zsh: a real completion on a pseudo-terminal (tests/complete_zsh.zsh). */
static char *zsh_complete(const struct fx *fx, const char *line, const char *want)
{
    char *bin = realpath(tu_herald_bin(), NULL);
    assert_non_null(bin);
    *strrchr(bin, '/') = '\0';
    struct hd_buf cmd;
    hd_buf_init(&cmd);
    hd_buf_addf(&cmd,
                "PATH='%s':$PATH zsh -f '%s/tests/complete_zsh.zsh' '%s/etc/completion' '%s' %s",
                bin, fx->src, fx->src, line, want);
    struct tu_run r;
    sh(&r, fx->dir, cmd.data);
    assert_int_equal(r.status, 0);
    free(r.err);
    hd_buf_release(&cmd);
    free(bin);
    return r.out;
}

/* The line "    CMD) print ..." of the zsh function fn in z ("" when there
 * is none); the caller frees it. */
static char *zsh_case(const char *z, const char *fn, const char *cmd)
{
    struct hd_buf b;
    hd_buf_init(&b);
    hd_buf_addf(&b, "%s() {", fn);
    const char *body = strstr(z, b.data);
    assert_non_null(body);
    const char *end = strstr(body, "\n}");
    hd_buf_reset(&b);
    hd_buf_addf(&b, "\n    %s) print", cmd);
    const char *line = strstr(body, b.data);
    hd_buf_reset(&b);
    if (line && line < end)
        hd_buf_addf(&b, "%.*s", (int)strcspn(line + 1, "\n"), line + 1);
    else
        hd_buf_addf(&b, "%s", "");
    return hd_buf_detach(&b, NULL);
}

static void test_package_zsh(void **state)
{
    struct fx *fx = *state;
    struct hd_buf cmd;
    hd_buf_init(&cmd);
    hd_buf_addf(&cmd, "zsh -n '%s/etc/completion/_herald'", fx->src);
    sh_ok(fx->dir, cmd.data);
    hd_buf_release(&cmd);
    char *out = zsh_complete(fx, "herald campaign show ", "showcase shipping");
    assert_contains(out, "showcase");
    assert_contains(out, "shipping");
    free(out);
    out = zsh_complete(fx, "herald campaign ", "estimate resume");
    assert_contains(out, "estimate");
    assert_contains(out, "resume");
    free(out);
    out = zsh_complete(fx, "herald stats x --by ", "variant provider");
    assert_contains(out, "provider");
    free(out);
    /* the lists, command by command, against --help */
    char *zpath = tu_path(fx->src, "etc/completion/_herald");
    char *z = tu_read(zpath);
    char names[32][32];
    size_t n = help_commands(fx->dir, names, 32);
    for (size_t i = 0; i < n; i++) {
        char *opts = zsh_case(z, "__herald_options", names[i]);
        check_words(help_options(fx->dir, names[i]), opts, names[i], "_herald");
        char *subs = zsh_case(z, "__herald_subcommands", names[i]);
        check_words(help_subcommands(fx->dir, names[i]), subs, names[i], "_herald");
        free(opts);
        free(subs);
    }
    free(z);
    free(zpath);
}

/* ---- the Debian package --------------------------------------------------- */

static bool installed(void)
{
    struct tu_run r;
    sh(&r, "/", "dpkg-query -W -f '${Status}' herald 2>/dev/null");
    bool yes = strstr(r.out, "installed") != NULL || strstr(r.out, "config-files") != NULL;
    tu_run_release(&r);
    return yes;
}

/* Purges the package the test installed, whatever happened. */
static int teardown_deb(void **state)
{
    if (geteuid() == 0 && installed())
        sh_ok("/", "dpkg --purge herald >/dev/null");
    return teardown(state);
}

/* The demo's commands (scripts/demo.sh) against the installed binary, from
 * a folder of its own, with the installed configuration (its templates and
 * its outbox in the state folder) and a database of the test's own. */
static void run_demo(const struct fx *fx, const char *dir)
{
    char *db = tu_path(dir, "demo.db"), *csv = tu_path(fx->src, "examples/contacts.csv");
    const char *const cmds[][20] = {
        {"init", NULL},
        {"contacts", "import", csv, "--default-region", "CN", NULL},
        {"contacts", "list", "--limit", "5", NULL},
        {"suppress", "add", "abigail.1@example.com", "--reason", "unsubscribed", NULL},
        {"segment", "define", "churned", "days_since(last_active) > 30", NULL},
        {"template", "list", NULL},
        {"template", "lint", NULL},
        {"template", "preview", "recall", "--contact", "c0002", "--channel", "sms", NULL},
        {"campaign", "create", "recall-nov", "--segment", "churned", "--template", "recall",
         "--channels", "email,push,sms", "--variants", "a=50,b=50", "--holdout", "10", "--expires",
         "2d", "--now", NULL},
        {"campaign", "estimate", "recall-nov", NULL},
        {"send", "recall-nov", NULL},
        {"campaign", "show", "recall-nov", NULL},
        {"log", "--campaign", "recall-nov", "--limit", "8", NULL},
        {"stats", "recall-nov", NULL},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        const char *args[24] = {"--db", db};
        for (size_t k = 0; cmds[i][k]; k++)
            args[k + 2] = cmds[i][k];
        herald_ok(dir, args);
    }
    struct tu_run r;
    tu_herald(&r, dir, NULL, "config", "check", NULL);
    assert_int_equal(r.status, 0);
    assert_contains(r.err, "/etc/herald/herald.conf");
    tu_run_release(&r);
    assert_true(tu_exists("/var/lib/herald/outbox/email/new"));
    free(csv);
    free(db);
}

static void test_package_deb(void **state)
{
    struct fx *fx = *state;
    if (geteuid() != 0) {
        print_message("test_package_deb: skipped: installing a package needs root\n");
        skip();
    }
    struct tu_run r;
    sh(&r, "/", "command -v dpkg-deb && command -v lintian && command -v dpkg-shlibdeps");
    if (r.status != 0) {
        print_message("test_package_deb: skipped: dpkg-dev or lintian is missing (make deps)\n");
        tu_run_release(&r);
        skip();
    }
    tu_run_release(&r);
    if (!installed() && tu_exists("/usr/bin/herald")) {
        print_message("test_package_deb: skipped: /usr/bin/herald exists, not from a package\n");
        skip();
    }
    /* make deb: the build, the package, and lintian, which fails on errors */
    struct hd_buf cmd;
    hd_buf_init(&cmd);
    /* make exports its command line's variables: under `make asan` B, OPT
     * and SAN would build the package with the sanitizers */
    hd_buf_addf(&cmd,
                "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u B -u OPT -u SAN -u TEST_WRAP "
                "make -s -j2 -C '%s' deb 2>&1",
                fx->src);
    sh(&r, fx->dir, cmd.data);
    if (r.status != 0 || strstr(r.out, "\nE: ") || strncmp(r.out, "E: ", 3) == 0)
        fail_msg("make deb: exit %d\n%s", r.status, r.out);
    print_message("%s", r.out); /* lintian's warnings, for whoever reads the log */
    tu_run_release(&r);

    hd_buf_reset(&cmd);
    hd_buf_addf(&cmd, "dpkg -i '%s'/build/herald_*.deb >/dev/null", fx->src);
    sh_ok(fx->dir, cmd.data);
    sh_ok("/", "test -x /usr/bin/herald && test -f /etc/herald/herald.conf && "
               "test -f /usr/share/bash-completion/completions/herald && "
               "test -f /usr/share/zsh/vendor-completions/_herald && "
               "test -f /usr/share/herald/templates/recall.tmpl && "
               "test \"$(man -w herald.conf)\" = /usr/share/man/man5/herald.conf.5.gz && "
               "test \"$(stat -c %U /var/lib/herald)\" = herald && getent passwd herald && "
               "dpkg-query -W -f '${Conffiles}' herald | grep -q /etc/herald/herald.conf");

    char *demo = tu_path(fx->dir, "demo");
    assert_int_equal(mkdir(demo, 0700), 0);
    const char *bin = getenv("HERALD_BIN");
    char *saved = bin ? hd_xstrdup(bin) : NULL;
    setenv("HERALD_BIN", "/usr/bin/herald", 1);
    run_demo(fx, demo);
    if (saved)
        setenv("HERALD_BIN", saved, 1);
    else
        unsetenv("HERALD_BIN");
    free(saved);
    free(demo);

    sh_ok("/", "dpkg --purge herald >/dev/null");
    static const char *const gone[] = {"/usr/bin/herald",
                                       "/etc/herald",
                                       "/var/lib/herald",
                                       "/usr/share/herald",
                                       "/usr/share/doc/herald",
                                       "/usr/share/man/man1/herald.1.gz",
                                       "/usr/share/zsh/vendor-completions/_herald"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        if (tu_exists(gone[i]))
            fail_msg("'%s' is left after dpkg --purge", gone[i]);
    assert_false(installed());
    hd_buf_release(&cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_package_man_render, setup, teardown),
        cmocka_unit_test_setup_teardown(test_package_man_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_package_man_conf_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_package_complete_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_package_bash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_package_zsh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_package_deb, setup, teardown_deb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
