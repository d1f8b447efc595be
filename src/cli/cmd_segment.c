/* cmd_segment: `herald segment define|list|show|count|sample|export|delete`.
 * Rules are stored as text and compiled against the store's attribute types
 * each time they are used, so a count always reflects today's contacts. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "herald/segment.h"
#include "herald/store.h"
#include "herald/units.h"

static const char segment_usage[] =
    "usage: herald segment define NAME EXPR [--replace] [--allow-unknown]\n"
    "       herald segment list [--format table|csv|json|jsonl]\n"
    "       herald segment show NAME [--sql] [--format table|csv|json|jsonl]\n"
    "       herald segment count NAME | --expr EXPR [--allow-unknown]\n"
    "                            [--format table|csv|json|jsonl]\n"
    "       herald segment sample NAME | --expr EXPR [-n 10] [--format table|csv|json|jsonl]\n"
    "       herald segment export NAME | --expr EXPR [--format csv|jsonl|json|table]\n"
    "       herald segment delete NAME\n"
    "       herald segment rfm --event NAME --value PROPERTY [--window 365d] [--scores 5]\n"
    "\n"
    "EXPR is a rule such as\n"
    "  days_since(last_active) >= 30 and plan in (\"gold\", \"silver\")\n"
    "(see the README for the language). define checks it against the attribute\n"
    "types that imports recorded; --replace changes an existing segment. define\n"
    "and count --expr refuse an attribute no contact has had, unless\n"
    "--allow-unknown (an attribute still to come); a segment defined with it is\n"
    "counted as it is. sample picks members at random; export\n"
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
    int rc, i = cli_parse_n(&spec, 2, "give a NAME and one EXPR (quote the rule for the shell)",
                            argc, argv, define_opt, flags, &rc);
    bool replace = flags[0];
    if (i < 0)
        return rc;
    const char *name = argv[i], *expr = argv[i + 1];
    if (!hd_seg_name_valid(name))
        return cmd_usage("segment define", segment_usage,
                         "'%s' is not a segment name (1 to 64 letters, digits, '_' or '-')", name);
    struct hd_err err = {0};
    int64_t n = 0;
    char num[48];
    if (hd_seg_define(ctx->store, name, expr, hd_clock_now(&ctx->clock), replace, flags[1], &n,
                      &err) < 0)
        return cmd_fail(ctx, &err);
    printf("segment '%s' %s: %s now\n", name, replace ? "stored" : "defined",
           hd_units_count(n, "contact", NULL, num, sizeof num));
    return EXIT_OK;
}

static int list_row(void *ud, const char *name, const char *expr, int64_t updated)
{
    struct cmd_out *o = ud;
    char t[32];
    cmd_time(updated, t, sizeof t);
    if (o->format == FMT_TABLE)
        printf("%-24s %s  %s\n", name, t, expr);
    else
        cmd_out_row(o, json_pack("{s:s, s:s, s:s}", "name", name, "changed", t, "rule", expr));
    return 0;
}

static int list_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const char *const cols[] = {"name", "changed", "rule", NULL};
    struct hd_err err = {0};
    int format, rc;
    if (cli_parse_format("segment list", segment_usage, 0, "", argc, argv, &format, &rc) < 0)
        return rc;
    struct cmd_out o;
    cmd_out_begin(&o, format, cols);
    if (format == FMT_TABLE)
        printf("%-24s %-20s  %s\n", "NAME", "CHANGED", "RULE");
    rc = hd_store_segment_each(ctx->store, list_row, &o, &err);
    cmd_out_end(&o);
    return rc < 0 ? cmd_fail(ctx, &err) : EXIT_OK;
}

struct show_args {
    bool sql;
    struct cmd_format_args fa;
};

static int show_opt(void *ud, int id, const char *arg)
{
    struct show_args *a = ud;
    if (id != 's')
        return cmd_format_cb(&a->fa, id, arg);
    a->sql = true;
    return 0;
}

/* show as one record: the table's lines under their names. */
static void show_record(int format, const char *name, const char *expr, int64_t n,
                        const struct hd_buf *tree, const struct hd_buf *q,
                        const struct hd_buf *params)
{
    json_t *o =
        json_pack("{s:s, s:s, s:I}", "segment", name, "rule", expr, "contacts", (json_int_t)n);
    if (tree) {
        json_object_set_new(o, "tree", json_stringn(tree->data, strcspn(tree->data, "\n")));
        json_object_set_new(o, "sql", json_string(q->data));
        json_object_set_new(o, "params", json_stringn(params->data, strcspn(params->data, "\n")));
    }
    cmd_out_one(format, NULL, o);
}

static int show_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"sql", false, 's', 0}, CMD_FORMAT_OPTS, {0}};
    static const struct cli_spec spec = {"segment show", segment_usage, opts, 0, NULL, NULL};
    struct show_args a = {false, {"segment show", FMTS_ALL, FMT_TABLE}};
    int rc, i = cli_parse_n(&spec, 1, "give one segment NAME", argc, argv, show_opt, &a, &rc);
    bool sql = a.sql;
    if (i < 0)
        return rc;
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
    if (a.fa.format == FMT_TABLE)
        printf("segment  %s\nrule     %s\ncontacts %lld\n", name, expr, (long long)n);
    else if (!sql)
        show_record(a.fa.format, name, expr, n, NULL, NULL, NULL);
    if (sql) {
        struct hd_buf q, params, tree;
        hd_buf_init(&q);
        hd_buf_init(&params);
        hd_buf_init(&tree);
        hd_segast_print(ast, &tree);
        hd_store_seg_dsql(ctx->store, ast, now, &q, &params);
        if (a.fa.format == FMT_TABLE)
            printf("tree     %s\nsql      SELECT ... FROM contacts c WHERE %s\nparams   %s",
                   tree.data, q.data, params.len ? params.data : "(none)\n");
        else
            show_record(a.fa.format, name, expr, n, &tree, &q, &params);
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
    int rc, i = cli_operands("segment delete", segment_usage, argc, argv, 1,
                             "give one segment NAME", &rc);
    if (i < 0)
        return rc;
    argv += i - 1; /* the NAME as argv[1], as below */
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
        return cmd_format_arg(a->cmd, arg, FMTS_ALL, &a->format);
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
    int rc, i = cli_parse_n(&spec, CLI_NARGS_LATER, NULL, argc, argv, members_opt, &a, &rc);
    if (i < 0)
        return rc;
    const char *expr = a.expr;
    bool sample = a.sample, export = a.export;
    if (i + (expr ? 0 : 1) != argc)
        return cmd_usage(cmd, segment_usage, "give a segment NAME or --expr EXPR");
    if (cli_ready(&rc) < 0)
        return rc;
    struct hd_seg_node *ast = NULL;
    /* count --expr refuses an unknown attribute; a stored rule passed that
     * check, or was allowed past it, when it was defined; sample and export
     * read what is */
    rc = load(ctx, expr ? NULL : argv[i], expr, sample || export || a.allow_unknown || !expr, &ast,
              cmd);
    if (rc != EXIT_OK)
        return rc;
    struct hd_err err = {0};
    int64_t now = hd_clock_now(&ctx->clock);
    if (!sample && !export) {
        int64_t n;
        if (hd_store_seg_count(ctx->store, ast, now, &n, &err) < 0)
            rc = cmd_fail(ctx, &err);
        else if (a.format == FMT_TABLE)
            printf("%lld\n", (long long)n);
        else
            cmd_out_one(a.format, NULL,
                        json_pack("{s:s?, s:s?, s:I}", "segment", expr ? NULL : argv[i], "expr",
                                  expr, "contacts", (json_int_t)n));
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
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        return cmd_help(segment_usage);
    if (strcmp(sub, "define") == 0)
        return define_cmd(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0)
        return list_cmd(ctx, argc - 1, argv + 1);
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
