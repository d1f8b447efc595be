/* cmd_contacts: `herald contacts import|show|list|optout|optin|delete`.
 * Output meant for people is a table; --format csv|json (or --json) is for
 * tools and is streamed row by row, so any number of contacts can be listed. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "herald/audit.h"
#include "herald/import.h"
#include "herald/store.h"
#include "herald/valid.h"

static const char contacts_usage[] =
    "usage: herald contacts import FILE|- [--format csv|jsonl] [--types COL=TYPE,...]\n"
    "                              [--default-region CC] [--replace] [--skip-invalid]\n"
    "                              [--rejects FILE] [--dry-run] [--max-errors N]\n"
    "       herald contacts show ID [--json]\n"
    "       herald contacts list [--limit N] [--format table|csv|json]\n"
    "       herald contacts optout ID --channel email|sms|push [--category C]\n"
    "       herald contacts optin ID --channel email|sms|push [--category C]\n"
    "       herald contacts delete ID\n"
    "\n"
    "import   upserts contacts by id, one transaction per file: by default one\n"
    "         invalid row aborts the import and nothing is written; --skip-invalid\n"
    "         imports the valid rows and writes the others, with reasons, to\n"
    "         FILE.rejected.csv (or --rejects); --dry-run only validates;\n"
    "         --replace replaces existing contacts instead of merging attributes.\n"
    "         TYPE is number, boolean, date or string.\n"
    "show     one contact, its attributes and consent (--json for JSON)\n"
    "list     contacts in import order; --limit 0 lists all (default 100)\n"
    "optout   records an opt-out for a channel, for one category (marketing or\n"
    "optin    transactional) or, without --category, for both; optin undoes it\n"
    "delete   erases the contact, its push tokens and consent\n";

static int import_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"types", required_argument, NULL, 't'},
                                         {"default-region", required_argument, NULL, 'r'},
                                         {"replace", no_argument, NULL, 'R'},
                                         {"skip-invalid", no_argument, NULL, 's'},
                                         {"rejects", required_argument, NULL, 'j'},
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {"max-errors", required_argument, NULL, 'm'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    struct hd_import_opts o = {
        .msgs = stderr, .progress = ctx->progress, .default_region = ctx->cfg->default_region};
    struct hd_import_result res;
    struct hd_err err = {0};
    int c;
    long long n;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            o.format = optarg;
            break;
        case 't':
            o.types = optarg;
            break;
        case 'r':
            if (!hd_valid_region_known(optarg))
                return cmd_usage("contacts import", contacts_usage,
                                 "--default-region: '%s' is not a region herald knows (two "
                                 "letters, e.g. CN, US, GB)",
                                 optarg);
            o.default_region = optarg;
            break;
        case 'R':
            o.mode = HD_IMPORT_REPLACE;
            break;
        case 's':
            o.skip_invalid = true;
            break;
        case 'j':
            o.rejects_path = optarg;
            break;
        case 'n':
            o.dry_run = true;
            break;
        case 'm':
            if ((n = cmd_parse_count(optarg)) < 1 || n > 1000000)
                return cmd_usage("contacts import", contacts_usage,
                                 "--max-errors: '%s' is not a number from 1 to 1000000", optarg);
            o.max_errors = (unsigned)n;
            break;
        case 'h':
            return cmd_help(contacts_usage);
        default:
            return cmd_usage("contacts import", contacts_usage, "bad option");
        }
    }
    if (optind + 1 != argc)
        return cmd_usage("contacts import", contacts_usage, "give one FILE (or - for stdin)");
    o.path = argv[optind];
    int rc = hd_import_run(ctx->store, &o, hd_clock_now(&ctx->clock), &res, &err);
    if (rc < 0 && rc != HD_E_INVALID)
        return cmd_fail(ctx, &err);
    printf("%s%s: %lld rows, %lld inserted, %lld updated, %lld rejected in %.1fs (%.0f rows/s)",
           o.dry_run ? "dry run of " : "", strcmp(o.path, "-") == 0 ? "stdin" : o.path,
           (long long)res.rows, (long long)res.inserted, (long long)res.updated,
           (long long)res.rejected, res.seconds,
           res.seconds > 0 ? (double)res.rows / res.seconds : 0.0);
    if (res.rejects[0])
        printf("; rejected rows in %s", res.rejects);
    putchar('\n');
    if (rc < 0)
        return cmd_fail(ctx, &err);
    return EXIT_OK;
}

static int show_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    struct hd_err err = {0};
    struct hd_contact k;
    bool json = false;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j')
            json = true;
        else if (c == 'h')
            return cmd_help(contacts_usage);
        else
            return cmd_usage("contacts show", contacts_usage, "bad option");
    }
    if (optind + 1 != argc)
        return cmd_usage("contacts show", contacts_usage, "give one contact ID");
    if (hd_store_contact_get(ctx->store, argv[optind], &k, &err) < 0)
        return cmd_fail(ctx, &err);
    json_t *o = cmd_contact_json(&k);
    if (json) {
        cmd_print_json(o, true);
        putchar('\n');
    } else {
        static const char *const fields[] = {"id",         "email",      "phone",
                                             "locale",     "timezone",   "fcm_token",
                                             "apns_token", "created_at", "updated_at"};
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            const char *v = json_string_value(json_object_get(o, fields[i]));
            printf("%-11s %s\n", fields[i], v ? v : "-");
        }
        json_t *attrs = json_object_get(o, "attributes");
        const char *key;
        json_t *v;
        printf("attributes  %s\n", json_object_size(attrs) ? "" : "-");
        json_object_foreach(attrs, key, v)
        {
            char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
            printf("  %-20s %s\n", key, json_is_string(v) ? json_string_value(v) : s);
            free(s);
        }
        printf("consent     %s\n", k.nconsent ? "" : "no opt-out recorded (consents to all)");
        for (size_t i = 0; i < k.nconsent; i++) {
            char t[32];
            printf("  %-5s %-14s %-10s by %s at %s\n", hd_channel_name(k.consent[i].channel),
                   hd_category_name(k.consent[i].category),
                   k.consent[i].status == HD_CONSENT_OPTED_OUT ? "opted out" : "opted in",
                   k.consent[i].source, cmd_time(k.consent[i].updated_at, t, sizeof t));
        }
    }
    json_decref(o);
    hd_contact_release(&k);
    return EXIT_OK;
}

static int list_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"limit", required_argument, NULL, 'n'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    struct hd_err err = {0};
    struct cmd_contact_out co;
    int format = FMT_TABLE;
    long long limit = 100;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if ((limit = cmd_parse_count(optarg)) < 0)
                return cmd_usage("contacts list", contacts_usage,
                                 "--limit: '%s' is not a number (0 for all)", optarg);
            break;
        case 'f':
            if ((format = cmd_parse_format(optarg, true)) < 0 || format == FMT_JSONL)
                return cmd_usage("contacts list", contacts_usage,
                                 "--format: '%s' is not table, csv or json", optarg);
            break;
        case 'h':
            return cmd_help(contacts_usage);
        default:
            return cmd_usage("contacts list", contacts_usage, "bad option");
        }
    }
    if (optind != argc)
        return cmd_usage("contacts list", contacts_usage, "unexpected argument '%s'", argv[optind]);
    cmd_contacts_begin(&co, format);
    int rc = hd_store_contact_each(ctx->store, limit, cmd_contacts_row, &co, &err);
    cmd_contacts_end(&co);
    return rc < 0 ? cmd_fail(ctx, &err) : EXIT_OK;
}

static int consent_cmd(struct hd_ctx *ctx, int argc, char **argv, int status)
{
    static const struct option opts[] = {{"channel", required_argument, NULL, 'c'},
                                         {"category", required_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    const char *name = status == HD_CONSENT_OPTED_OUT ? "contacts optout" : "contacts optin";
    struct hd_err err = {0};
    int channel = -1, category = -1, c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if ((channel = hd_channel_parse(optarg)) < 0)
                return cmd_usage(name, contacts_usage, "--channel: '%s' is not email, sms or push",
                                 optarg);
            break;
        case 'k':
            if ((category = hd_category_parse(optarg)) < 0)
                return cmd_usage(name, contacts_usage,
                                 "--category: '%s' is not marketing or transactional", optarg);
            break;
        case 'h':
            return cmd_help(contacts_usage);
        default:
            return cmd_usage(name, contacts_usage, "bad option");
        }
    }
    if (optind + 1 != argc)
        return cmd_usage(name, contacts_usage, "give one contact ID");
    if (channel < 0)
        return cmd_usage(name, contacts_usage, "--channel is required");
    const char *id = argv[optind];
    int64_t now = hd_clock_now(&ctx->clock);
    if (hd_store_begin(ctx->store, &err) < 0)
        return cmd_fail(ctx, &err);
    for (int cat = 0; cat < HD_CAT_COUNT; cat++) {
        if (category >= 0 && cat != category)
            continue;
        if (hd_store_consent_set(ctx->store, id, channel, cat, status, "cli", now, &err) < 0) {
            hd_store_rollback(ctx->store);
            return cmd_fail(ctx, &err);
        }
    }
    if (hd_store_commit(ctx->store, &err) < 0)
        return cmd_fail(ctx, &err);
    printf("contact '%s' %s %s %s\n", id,
           status == HD_CONSENT_OPTED_OUT ? "opted out of" : "opted in to",
           hd_channel_name(channel),
           category >= 0 ? hd_category_name(category) : "marketing and transactional");
    return EXIT_OK;
}

static int delete_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    struct hd_err err = {0};
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return cmd_help(contacts_usage);
    if (argc != 2 || argv[1][0] == '-')
        return cmd_usage("contacts delete", contacts_usage, "give one contact ID");
    int64_t pseudo = 0;
    if (hd_store_contact_delete(ctx->store, argv[1], &pseudo, &err) < 0)
        return cmd_fail(ctx, &err);
    char name[32];
    hd_contact_pseudonym(pseudo, name, sizeof name);
    printf("contact '%s' deleted with its push tokens and consent; the delivery log keeps its "
           "messages as %s, addresses erased\n",
           argv[1], name);
    return EXIT_OK;
}

int cmd_contacts(struct hd_ctx *ctx, int argc, char **argv)
{
    if (argc < 2)
        return cmd_usage("contacts", contacts_usage, "give a subcommand");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
        return cmd_help(contacts_usage);
    if (!ctx->store) /* --help somewhere: main did not open the store */
        return cmd_help(contacts_usage);
    if (strcmp(sub, "import") == 0)
        return import_cmd(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "show") == 0)
        return show_cmd(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0)
        return list_cmd(ctx, argc - 1, argv + 1);
    if (strcmp(sub, "optout") == 0)
        return consent_cmd(ctx, argc - 1, argv + 1, HD_CONSENT_OPTED_OUT);
    if (strcmp(sub, "optin") == 0)
        return consent_cmd(ctx, argc - 1, argv + 1, HD_CONSENT_OPTED_IN);
    if (strcmp(sub, "delete") == 0)
        return delete_cmd(ctx, argc - 1, argv + 1);
    return cmd_usage("contacts", contacts_usage, "unknown subcommand '%s'", sub);
}
