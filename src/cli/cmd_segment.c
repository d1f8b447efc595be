/* cmd_segment: `herald segment define|list|show|count|sample|export|delete`.
 * Rules are stored as text and compiled against the store's attribute types
 * each time they are used, so a count always reflects today's contacts. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "herald/segment.h"
#include "herald/store.h"

static const char segment_usage[] =
    "usage: herald segment define NAME EXPR [--replace]\n"
    "       herald segment list\n"
    "       herald segment show NAME [--sql]\n"
    "       herald segment count NAME | --expr EXPR\n"
    "       herald segment sample NAME | --expr EXPR [-n 10] [--format table|csv|json]\n"
    "       herald segment export NAME | --expr EXPR [--format csv|jsonl]\n"
    "       herald segment delete NAME\n"
    "\n"
    "EXPR is a rule such as\n"
    "  days_since(last_active) >= 30 and plan in (\"gold\", \"silver\")\n"
    "(see the README for the language). define checks it against the attribute\n"
    "types that imports recorded; --replace changes an existing segment. sample\n"
    "picks members at random; export streams every member in import order.\n";

/* The rule of NAME or of --expr, parsed; exactly one must be given. */
static int load(struct hd_ctx *ctx, const char *name, const char *expr, struct hd_seg_node **ast,
                const char *cmd)
{
    struct hd_err err = {0};
    if (!name == !expr)
        return cmd_usage(cmd, segment_usage, "give a segment NAME or --expr EXPR");
    if (hd_seg_load(ctx->store, name, expr, hd_clock_now(&ctx->clock), ast, &err) < 0)
        return cmd_fail(ctx, &err);
    return EXIT_OK;
}

static int define_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"replace", no_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    bool replace = false;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'r')
            replace = true;
        else if (c == 'h')
            return cmd_help(segment_usage);
        else
            return cmd_usage("segment define", segment_usage, "bad option");
    }
    if (optind + 2 != argc)
        return cmd_usage("segment define", segment_usage,
                         "give a NAME and one EXPR (quote the rule for the shell)");
    const char *name = argv[optind], *expr = argv[optind + 1];
    if (!hd_seg_name_valid(name))
        return cmd_usage("segment define", segment_usage,
                         "'%s' is not a segment name (1 to 64 letters, digits, '_' or '-')", name);
    struct hd_err err = {0};
    struct hd_seg_node *ast = NULL;
    int64_t now = hd_clock_now(&ctx->clock), n = 0;
    int rc = EXIT_OK;
    if (hd_seg_load(ctx->store, name, expr, now, &ast, &err) < 0 ||
        hd_store_segment_put(ctx->store, name, expr, replace, now, &err) < 0 ||
        hd_store_seg_count(ctx->store, ast, now, &n, &err) < 0)
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
    static const struct option opts[] = {
        {"sql", no_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    bool sql = false;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 's')
            sql = true;
        else if (c == 'h')
            return cmd_help(segment_usage);
        else
            return cmd_usage("segment show", segment_usage, "bad option");
    }
    if (optind + 1 != argc)
        return cmd_usage("segment show", segment_usage, "give one segment NAME");
    struct hd_err err = {0};
    char *expr = NULL;
    struct hd_seg_node *ast = NULL;
    int64_t now = hd_clock_now(&ctx->clock), n = 0;
    int rc = EXIT_OK;
    const char *name = argv[optind];
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
    hd_buf_release(&u.list);
    if (hd_store_segment_delete(ctx->store, argv[1], &err) < 0)
        return cmd_fail(ctx, &err);
    printf("segment '%s' deleted\n", argv[1]);
    return EXIT_OK;
}

/* count, sample and export share their options. */
static int members_cmd(struct hd_ctx *ctx, int argc, char **argv, const char *which)
{
    static const struct option opts[] = {{"expr", required_argument, NULL, 'e'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    const char *expr = NULL;
    bool sample = strcmp(which, "sample") == 0, export = strcmp(which, "export") == 0;
    int format = export ? FMT_CSV : FMT_TABLE, c;
    long long limit = 10;
    char cmd[32];
    snprintf(cmd, sizeof cmd, "segment %s", which);
    optind = 0;
    while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            expr = optarg;
            break;
        case 'n':
            if (!sample || (limit = cmd_parse_count(optarg)) < 1)
                return cmd_usage(cmd, segment_usage,
                                 sample ? "-n: '%s' is not a number from 1" : "-n is for sample%s",
                                 sample ? optarg : "");
            break;
        case 'f':
            format = cmd_parse_format(optarg, !export);
            if (format < 0 || (!sample && !export) || (sample && format == FMT_JSONL) ||
                (export && format == FMT_JSON))
                return cmd_usage(cmd, segment_usage, "--format: '%s' is not one of %s", optarg,
                                 export ? "csv, jsonl" : "table, csv, json");
            break;
        case 'h':
            return cmd_help(segment_usage);
        default:
            return cmd_usage(cmd, segment_usage, "bad option");
        }
    }
    if (optind + (expr ? 0 : 1) != argc)
        return cmd_usage(cmd, segment_usage, "give a segment NAME or --expr EXPR");
    struct hd_seg_node *ast = NULL;
    int rc = load(ctx, expr ? NULL : argv[optind], expr, &ast, cmd);
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
        cmd_contacts_begin(&co, format);
        if (hd_store_seg_each(ctx->store, ast, now, sample ? limit : 0, sample, cmd_contacts_row,
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
    if (strcmp(sub, "delete") == 0)
        return delete_cmd(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "count") == 0 || strcmp(sub, "sample") == 0 || strcmp(sub, "export") == 0)
        return members_cmd(ctx, argc - 1, argv + 1, sub);
    return cmd_usage("segment", segment_usage, "unknown subcommand '%s'", sub);
}
