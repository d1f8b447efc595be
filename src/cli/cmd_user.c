/* cmd_user: `herald user add|set|role|list|remove|passwd`, the console's users
 * (issue 21; serve/console_auth.c hashes and checks). A password comes
 * from --password-file (its first line; "-" for standard input), else it
 * is asked twice on the terminal with echo off; it is wiped once hashed
 * and never printed. Every change is also an action in the audit (who:
 * the login name running the command, from "cli"). */
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "cli.h"
#include "herald/serve.h"
#include "herald/store.h"
#include "herald/time.h"

#define PW_BUF 1100 /* a password of up to 1024 bytes, its newline, and a margin */

static const char user_usage[] =
    "usage: herald user add NAME --role viewer|operator|admin [--password-file FILE]\n"
    "                       [--lang en|zh-CN] [--zone ZONE]\n"
    "       herald user set NAME [--lang en|zh-CN] [--zone ZONE]\n"
    "       herald user role NAME --role viewer|operator|admin\n"
    "       herald user list [--format table|csv|json|jsonl]\n"
    "       herald user remove NAME\n"
    "       herald user passwd NAME [--password-file FILE]\n"
    "\n"
    "The users of the web console at /console/ (herald serve). A viewer reads\n"
    "every page; an operator also acts on campaigns, segments and opt-outs; an\n"
    "admin also manages users and API keys. The password (8 to 1024 bytes) is\n"
    "read from the first line of --password-file (- for standard input), else\n"
    "asked twice on the terminal; the database keeps only its Argon2id hash.\n"
    "passwd and remove end the user's console sessions; role takes effect at\n"
    "the user's next page. An admin does the same on the console's users page.\n"
    "\n"
    "  --lang en|zh-CN   the console's language for the user (wins over the\n"
    "                    browser's Accept-Language; \"\" clears it)\n"
    "  --zone ZONE       the IANA time zone the console shows times in\n"
    "                    (Asia/Shanghai; default [herald] timezone; \"\" clears it)\n"
    "A user can also set both on the console's settings page.\n";

static const char *const list_cols[] = {"name", "role", "created_at", "updated_at",
                                        "lang", "zone", NULL};

struct user_args {
    const char *role, *pwfile, *lang, *zone;
    int format;
};

static int user_opt(void *ud, int id, const char *arg)
{
    struct user_args *a = ud;
    if (id == 'r')
        a->role = arg;
    else if (id == 'p')
        a->pwfile = arg;
    else if (id == 'l')
        a->lang = arg;
    else if (id == 'z')
        a->zone = arg;
    else
        return cmd_format_arg("user", arg, FMTS_ALL, &a->format);
    return 0;
}

/* One line of f into buf without its newline; -1 at end of file. */
static int read_line(FILE *f, char *buf, size_t size)
{
    if (!fgets(buf, (int)size, f))
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/* Asks on the terminal with echo off. */
static int prompt(const char *what, char *buf, size_t size)
{
    FILE *tty = fopen("/dev/tty", "r+");
    struct termios old, quiet;
    if (!tty)
        return -1;
    int fd = fileno(tty), rc;
    bool set = tcgetattr(fd, &old) == 0;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    if (set)
        tcsetattr(fd, TCSANOW, &quiet); /* keeps what was typed ahead */
    fprintf(tty, "%s: ", what);
    fflush(tty);
    rc = read_line(tty, buf, size);
    if (set)
        tcsetattr(fd, TCSANOW, &old);
    fprintf(tty, "\n");
    fclose(tty);
    return rc;
}

/* The password into pw, from the file or the terminal; an exit code when
 * it cannot be had (printed). */
static int get_password(const char *file, char *pw, size_t size)
{
    char again[PW_BUF];
    int rc = 0;
    if (file) {
        FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
        if (!f)
            rc = cmd_usage("user", user_usage, "--password-file: cannot open '%s': %s", file,
                           strerror(errno));
        else if (read_line(f, pw, size) < 0)
            rc = cmd_usage("user", user_usage,
                           "--password-file: cannot read a password from '%s': %s", file,
                           ferror(f) ? strerror(errno) : "it is empty");
        if (f && f != stdin)
            fclose(f);
        return rc;
    }
    if (prompt("Password", pw, size) < 0 || prompt("Password again", again, sizeof again) < 0)
        rc = cmd_usage("user", user_usage,
                       "no terminal to ask the password on: give --password-file FILE");
    else if (strcmp(pw, again) != 0)
        rc = cmd_usage("user", user_usage, "the two passwords differ: nothing was changed");
    OPENSSL_cleanse(again, sizeof again);
    return rc;
}

static int list_row(void *ud, const struct hd_user *u)
{
    struct cmd_out *o = ud;
    char c[32], m[32];
    cmd_time(u->created_at, c, sizeof c);
    cmd_time(u->updated_at, m, sizeof m);
    if (o->format == FMT_TABLE)
        printf("%-24s %-9s %-20s %-20s %-6s %s\n", u->name, hd_role_name(u->role), c, m,
               u->lang[0] ? u->lang : "-", u->zone[0] ? u->zone : "-");
    else
        cmd_out_row(o, json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?}", "name", u->name, "role",
                                 hd_role_name(u->role), "created_at", c, "updated_at", m, "lang",
                                 u->lang[0] ? u->lang : NULL, "zone", u->zone[0] ? u->zone : NULL));
    return 0;
}

static int list_cmd(struct hd_ctx *ctx, int format)
{
    struct hd_err err = {0};
    struct cmd_out o;
    cmd_out_begin(&o, format, list_cols);
    if (format == FMT_TABLE)
        printf("%-24s %-9s %-20s %-20s %-6s %s\n", "NAME", "ROLE", "CREATED", "PASSWORD SET",
               "LANG", "ZONE");
    int rc = hd_store_user_each(ctx->store, list_row, &o, &err);
    cmd_out_end(&o);
    return rc < 0 ? cmd_fail(ctx, &err) : EXIT_OK;
}

/* --lang and --zone, checked before a password is asked for. */
static int check_prefs(const struct user_args *a)
{
    if (a->lang && *a->lang && strcmp(a->lang, "en") != 0 && strcmp(a->lang, "zh-CN") != 0)
        return cmd_usage("user", user_usage, "--lang: unknown language '%s' (en or zh-CN)",
                         a->lang);
    if (a->zone && *a->zone && !hd_time_zone_valid(a->zone))
        return cmd_usage("user", user_usage, "--zone: '%s' is not an IANA time zone (%s)", a->zone,
                         hd_time_zone_hint(a->zone));
    return 0;
}

/* set: the user's console language and zone. */
static int prefs_cmd(struct hd_ctx *ctx, const char *name, const struct user_args *a)
{
    struct hd_err err = {0};
    int rc;
    if (!a->lang && !a->zone)
        return cmd_usage("user", user_usage, "set needs --lang or --zone");
    if (a->role || a->pwfile)
        return cmd_usage("user", user_usage,
                         "set takes --lang and --zone only (passwd sets a password)");
    if ((rc = check_prefs(a)) != 0)
        return rc;
    if (hd_serve_user_prefs(ctx->store, name, a->lang, a->zone, &err) < 0)
        return cmd_fail(ctx, &err);
    cmd_audit_note(ctx, "user_set", name);
    fprintf(stderr, "set the console's language and zone of '%s'\n", name);
    return EXIT_OK;
}

/* role: a new role, audited as "NAME: ROLE" (as the console notes it). */
static int role_cmd(struct hd_ctx *ctx, const char *name, const struct user_args *a)
{
    struct hd_err err = {0};
    char detail[160];
    if (!a->role || a->pwfile || a->lang || a->zone)
        return cmd_usage("user", user_usage, "role takes --role (viewer, operator or admin) only");
    if (hd_role_parse(a->role) < 0)
        return cmd_usage("user", user_usage, "unknown role '%s' (viewer, operator or admin)",
                         a->role);
    if (hd_serve_user_role(ctx->store, name, a->role, &err) < 0)
        return cmd_fail(ctx, &err);
    snprintf(detail, sizeof detail, "%s: %s", name, a->role);
    cmd_audit_note(ctx, "user_role", detail);
    fprintf(stderr, "'%s' is now %s\n", name, a->role);
    return EXIT_OK;
}

/* add and passwd: the password asked or read, then stored hashed. */
static int set_cmd(struct hd_ctx *ctx, bool add, const char *name, const struct user_args *a)
{
    struct hd_err err = {0};
    char pw[PW_BUF];
    int rc;
    if (add && hd_role_parse(a->role) < 0)
        return cmd_usage("user", user_usage, "unknown role '%s' (viewer, operator or admin)",
                         a->role);
    if ((a->lang || a->zone) && (rc = check_prefs(a)) != 0)
        return rc;
    if ((rc = get_password(a->pwfile, pw, sizeof pw)) != 0)
        return rc;
    int64_t now = hd_clock_now(&ctx->clock);
    rc = add ? hd_serve_user_add(ctx->store, name, a->role, pw, now, &err)
             : hd_serve_user_passwd(ctx->store, name, pw, now, &err);
    OPENSSL_cleanse(pw, sizeof pw);
    if (rc == 0 && add && (a->lang || a->zone))
        rc = hd_serve_user_prefs(ctx->store, name, a->lang, a->zone, &err);
    if (rc < 0)
        return cmd_fail(ctx, &err);
    cmd_audit_note(ctx, add ? "user_add" : "user_passwd", name);
    if (add)
        fprintf(stderr, "added user '%s' (%s)\n", name, a->role);
    else
        fprintf(stderr, "changed the password of '%s'; its console sessions ended\n", name);
    return EXIT_OK;
}

int cmd_user(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"role", true, 'r', 0},   {"password-file", true, 'p', 0},
                                          {"format", true, 'f', 0}, {"lang", true, 'l', 0},
                                          {"zone", true, 'z', 0},   {0}};
    static const struct cli_spec spec = {"user", user_usage, opts, 0, NULL, NULL};
    struct user_args a = {.format = FMT_TABLE};
    struct hd_err err = {0};
    static const char *const subs[] = {"add", "set", "role", "list", "remove", "passwd", NULL};
    int rc;
    if (cmd_subcommand("user", user_usage, subs, argc, argv, &rc) < 0)
        return rc;
    const char *sub = argv[1];
    int i = cli_parse(&spec, argc - 1, argv + 1, user_opt, &a, &rc);
    if (i < 0)
        return rc;
    if (!ctx->store)
        return cmd_help(user_usage);
    int nargs = argc - 1 - i;
    char **args = argv + 1 + i;
    if (strcmp(sub, "list") == 0) {
        if (nargs > 0)
            return cmd_usage("user", user_usage, "unexpected argument '%s'", args[0]);
        return list_cmd(ctx, a.format);
    }
    bool add = strcmp(sub, "add") == 0, remove = strcmp(sub, "remove") == 0,
         set = strcmp(sub, "set") == 0, role = strcmp(sub, "role") == 0;
    if (nargs != 1)
        return cmd_usage("user", user_usage, nargs ? "unexpected argument '%s'" : "give a NAME%s",
                         nargs ? args[1] : "");
    if (add && !a.role)
        return cmd_usage("user", user_usage, "add needs --role (viewer, operator or admin)");
    if (set)
        return prefs_cmd(ctx, args[0], &a);
    if (role)
        return role_cmd(ctx, args[0], &a);
    if (!remove)
        return set_cmd(ctx, add, args[0], &a);
    if (hd_store_user_remove(ctx->store, args[0], &err) < 0)
        return cmd_fail(ctx, &err);
    cmd_audit_note(ctx, "user_remove", args[0]);
    fprintf(stderr, "removed user '%s' and its console sessions\n", args[0]);
    return EXIT_OK;
}
