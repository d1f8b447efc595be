/* cmd_segment: `herald segment define|list|show|count|sample|export|delete`.
 * Rules are stored as text and compiled against the store's attribute types
 * each time they are used, so a count always reflects today's contacts. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "herald/segment.h"
#include "herald/store.h"

static const char segment_usage[] =
    "usage: herald segment define NAME EXPR [--replace] [--allow-unknown]\n"
    "       herald segment list\n"
    "       herald segment show NAME [--sql]\n"
    "       herald segment count NAME | --expr EXPR [--allow-unknown]\n"
    "       herald segment sample NAME | --expr EXPR [-n 10] [--format table|csv|json]\n"
    "       herald segment export NAME | --expr EXPR [--format csv|jsonl]\n"
    "       herald segment delete NAME\n"
    "       herald segment rfm --event NAME --value PROPERTY [--window 365d] [--scores 5]\n"
    "\n"
    "EXPR is a rule such as\n"
    "  days_since(last_active) >= 30 and plan in (\"gold\", \"silver\")\n"
    "(see the README for the language). define checks it against the attribute\n"
    "types that imports recorded; --replace changes an existing segment. define\n"
    "and count refuse an attribute no contact has had, unless --allow-unknown\n"
    "(an attribute still to come). sample picks members at random; export\n"
    "streams every member in import order.\n";

/* The rule of NAME or of --expr, parsed; exactly one must be given. */
static int load(struct hd_ctx *ctx, const char *name, const char *expr, bool allow_unknown,
                struct hd_seg_node **ast, const char *cmd)
{
    struct hd_err err = {0};
    if (!name == !expr)
        return cmd_usage(cmd, segment_usage, "give a segment NAME or --expr EXPR");
    if (hd_seg_load_checked(ctx->store, name, expr, hd_clock_now(&ctx->clock), allow_unknown, ast,
                            &err) < 0)
        return cmd_fail(ctx, &err);
    return EXIT_OK;
}

/* define's flags: [0] --replace, [1] --allow-unknown */
static int define_opt(void *ud, int id, const char *arg)
{
    (void)arg;
    ((bool *)ud)[id == 'u'] = true;
    return 0;
}

static int define_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"replace", false, 'r', 0}, {"allow-unknown", false, 'u', 0}, {0}};
    static const struct cli_spec spec = {"segment define", segment_usage, opts, 0, NULL, NULL};
    bool flags[2] = {false, false};
    int rc, i = cli_parse(&spec, argc, argv, define_opt, flags, &rc);
    bool replace = flags[0];
    if (i < 0)
        return rc;
    if (i + 2 != argc)
        return cmd_usage("segment define", segment_usage,
                         "give a NAME and one EXPR (quote the rule for the shell)");
    const char *name = argv[i], *expr = argv[i + 1];
    if (!hd_seg_name_valid(name))
        return cmd_usage("segment define", segment_usage,
                         "'%s' is not a segment name (1 to 64 letters, digits, '_' or '-')", name);
    struct hd_err err = {0};
    struct hd_seg_node *ast = NULL;
    int64_t now = hd_clock_now(&ctx->clock), n = 0;
    rc = EXIT_OK;
    /* counted (so compiled and prepared) before it is stored: a rule SQLite
     * refuses is never stored */
    if (hd_seg_load_checked(ctx->store, name, expr, now, flags[1], &ast, &err) < 0 ||
        hd_store_seg_count(ctx->store, ast, now, &n, &err) < 0 ||
        hd_store_segment_put(ctx->store, name, expr, replace, now, &err) < 0)
        rc = cmd_fail(ctx, &err);
    else
        printf("segment '%s' %s: %lld contacts now\n", name, replace ? "stored" : "defined",
               (long long)n);
    hd_segast_free(ast);
    return rc;
}

static int list_row(void *ud, const char *name, const char *expr, int64_t updated)
{
    (void)ud;
    char t[32];
    printf("%-24s %s  %s\n", name, cmd_time(updated, t, sizeof t), expr);
    return 0;
}

static int show_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"sql", false, 's', 0}, {0}};
    static const struct cli_spec spec = {"segment show", segment_usage, opts, 0, NULL, NULL};
    bool sql = false;
    int rc, i = cli_parse(&spec, argc, argv, cli_flag, &sql, &rc);
    if (i < 0)
        return rc;
    if (i + 1 != argc)
        return cmd_usage("segment show", segment_usage, "give one segment NAME");
    struct hd_err err = {0};
    char *expr = NULL;
    struct hd_seg_node *ast = NULL;
    int64_t now = hd_clock_now(&ctx->clock), n = 0;
    rc = EXIT_OK;
    const char *name = argv[i];
    if (hd_store_segment_get(ctx->store, name, &expr, &err) < 0 ||
        hd_seg_load(ctx->store, name, NULL, now, &ast, &err) < 0 ||
        hd_store_seg_count(ctx->store, ast, now, &n, &err) < 0) {
        rc = cmd_fail(ctx, &err);
        goto out;
    }
    printf("segment  %s\nrule     %s\ncontacts %lld\n", name, expr, (long long)n);
    if (sql) {
        struct hd_buf q, params, tree;
        hd_buf_init(&q);
        hd_buf_init(&params);
        hd_buf_init(&tree);
        hd_segast_print(ast, &tree);
        hd_store_seg_sql(ast, now, &q, &params);
        printf("tree     %s\nsql      SELECT ... FROM contacts c WHERE %s\nparams   %s", tree.data,
               q.data, params.len ? params.data : "(none)\n");
        hd_buf_release(&q);
        hd_buf_release(&params);
        hd_buf_release(&tree);
    }
out:
    free(expr);
    hd_segast_free(ast);
    return rc;
}

struct users {
    const char *name;
    struct hd_buf list;
};

static int find_users(void *ud, const char *name, const char *expr, int64_t updated)
{
    (void)updated;
    struct users *u = ud;
    char **refs;
    size_t n;
    if (hd_seg_parse_refs(expr, &refs, &n, NULL) < 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(refs[i], u->name) == 0 && strcmp(name, u->name) != 0)
            hd_buf_addf(&u->list, "%s'%s'", u->list.len ? ", " : "", name);
        free(refs[i]);
    }
    free(refs);
    return 0;
}

/* Campaigns that will still fire or send with the segment. */
static int find_campaigns(void *ud, const struct hd_campaign *c)
{
    struct users *u = ud;
    if (c->status != HD_CAMP_CANCELLED && c->status != HD_CAMP_DONE &&
        strcmp(c->segment, u->name) == 0)
        hd_buf_addf(&u->list, "%s'%s'", u->list.len ? ", " : "", c->name);
    return 0;
}

static int delete_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    struct hd_err err = {0};
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return cmd_help(segment_usage);
    if (argc != 2 || argv[1][0] == '-')
        return cmd_usage("segment delete", segment_usage, "give one segment NAME");
    struct users u = {.name = argv[1]};
    hd_buf_init(&u.list);
    if (hd_store_segment_each(ctx->store, find_users, &u, &err) < 0) {
        hd_buf_release(&u.list);
        return cmd_fail(ctx, &err);
    }
    if (u.list.len) {
        hd_err_set(&err, HD_E_INVALID, "segment '%s' is used by %s: change them first", argv[1],
                   u.list.data);
        hd_buf_release(&u.list);
        return cmd_fail(ctx, &err);
    }
    /* a campaign whose segment is gone could not fire */
    if (hd_store_campaign_each(ctx->store, find_campaigns, &u, &err) < 0) {
        hd_buf_release(&u.list);
        return cmd_fail(ctx, &err);
    }
    if (u.list.len) {
        hd_err_set(&err, HD_E_INVALID,
                   "segment '%s' is used by campaign %s: cancel it or wait until it is done",
                   argv[1], u.list.data);
        hd_buf_release(&u.list);
        return cmd_fail(ctx, &err);
    }
    hd_buf_release(&u.list);
    if (hd_store_segment_delete(ctx->store, argv[1], &err) < 0)
        return cmd_fail(ctx, &err);
    printf("segment '%s' deleted\n", argv[1]);
    return EXIT_OK;
}

/* count, sample and export share their options. */
struct members_args {
    const char *cmd, *expr;
    bool sample, export, allow_unknown;
    int format;
    long long limit;
};

static int members_opt(void *ud, int id, const char *arg)
{
    struct members_args *a = ud;
    switch (id) {
    case 'e':
        a->expr = arg;
        return 0;
    case 'u':
        if (a->sample || a->export)
            return cmd_usage(a->cmd, segment_usage, "--allow-unknown is for define and count");
        a->allow_unknown = true;
        return 0;
    case 'n':
        if (!a->sample || (a->limit = cmd_parse_count(arg)) < 1)
            return cmd_usage(a->cmd, segment_usage,
                             a->sample ? "-n: '%s' is not a number from 1" : "-n is for sample%s",
                             a->sample ? arg : "");
        return 0;
    default: /* 'f' */
        a->format = cmd_parse_format(arg, !a->export);
        if (a->format < 0 || (!a->sample && !a->export) || (a->sample && a->format == FMT_JSONL) ||
            (a->export && a->format == FMT_JSON))
            return cmd_usage(a->cmd, segment_usage, "--format: '%s' is not one of %s", arg,
                             a->export ? "csv, jsonl" : "table, csv, json");
        return 0;
    }
}

static int members_cmd(struct hd_ctx *ctx, int argc, char **argv, const char *which)
{
    static const struct cli_opt opts[] = {
        {"expr", true, 'e', 0}, {"format", true, 'f', 0}, {"allow-unknown", false, 'u', 0}, {0}};
    char cmd[32];
    snprintf(cmd, sizeof cmd, "segment %s", which);
    const struct cli_spec spec = {cmd, segment_usage, opts, 0, "n:h", NULL};
    struct members_args a = {.cmd = cmd,
                             .sample = strcmp(which, "sample") == 0,
                             .export = strcmp(which, "export") == 0,
                             .limit = 10};
    a.format = a.export ? FMT_CSV : FMT_TABLE;
    int rc, i = cli_parse(&spec, argc, argv, members_opt, &a, &rc);
    if (i < 0)
        return rc;
    const char *expr = a.expr;
    bool sample = a.sample, export = a.export;
    if (i + (expr ? 0 : 1) != argc)
        return cmd_usage(cmd, segment_usage, "give a segment NAME or --expr EXPR");
    struct hd_seg_node *ast = NULL;
    /* count refuses an unknown attribute; sample and export read what is */
    rc = load(ctx, expr ? NULL : argv[i], expr, sample || export || a.allow_unknown, &ast, cmd);
    if (rc != EXIT_OK)
        return rc;
    struct hd_err err = {0};
    int64_t now = hd_clock_now(&ctx->clock);
    if (!sample && !export) {
        int64_t n;
        if (hd_store_seg_count(ctx->store, ast, now, &n, &err) < 0)
            rc = cmd_fail(ctx, &err);
        else
            printf("%lld\n", (long long)n);
    } else {
        struct cmd_contact_out co;
        cmd_contacts_begin(&co, a.format);
        if (hd_store_seg_each(ctx->store, ast, now, sample ? a.limit : 0, sample, cmd_contacts_row,
                              &co, &err) < 0)
            rc = cmd_fail(ctx, &err);
        cmd_contacts_end(&co);
    }
    hd_segast_free(ast);
    return rc;
}

int cmd_segment(struct hd_ctx *ctx, int argc, char **argv)
{
    if (argc < 2)
        return cmd_usage("segment", segment_usage, "give a subcommand");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || !ctx->store)
        return cmd_help(segment_usage);
    struct hd_err err = {0};
    if (strcmp(sub, "define") == 0)
        return define_cmd(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0) {
        if (argc > 2)
            return cmd_usage("segment list", segment_usage, "unexpected argument '%s'", argv[2]);
        printf("%-24s %-20s  %s\n", "NAME", "CHANGED", "RULE");
        return hd_store_segment_each(ctx->store, list_row, NULL, &err) < 0 ? cmd_fail(ctx, &err)
                                                                           : EXIT_OK;
    }
    if (strcmp(sub, "show") == 0)
        return show_cmd(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "rfm") == 0)
        return cmd_segment_rfm(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "delete") == 0)
        return delete_cmd(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "count") == 0 || strcmp(sub, "sample") == 0 || strcmp(sub, "export") == 0)
        return members_cmd(ctx, argc - 1, argv + 1, sub);
    return cmd_usage("segment", segment_usage, "unknown subcommand '%s'", sub);
}
