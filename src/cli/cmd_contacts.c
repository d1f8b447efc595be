/* cmd_contacts: `herald contacts import|show|list|optout|optin|delete`.
 * Output meant for people is a table; --format csv|json (or --json) is for
 * tools and is streamed row by row, so any number of contacts can be listed. */
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

static int import_opt(void *ud, int id, const char *arg)
{
    struct hd_import_opts *o = ud;
    long long n;
    switch (id) {
    case 'f':
        o->format = arg;
        break;
    case 't':
        o->types = arg;
        break;
    case 'r':
        if (!hd_valid_region_known(arg))
            return cmd_usage("contacts import", contacts_usage,
                             "--default-region: '%s' is not a region herald knows (two "
                             "letters, e.g. CN, US, GB)",
                             arg);
        o->default_region = arg;
        break;
    case 'R':
        o->mode = HD_IMPORT_REPLACE;
        break;
    case 's':
        o->skip_invalid = true;
        break;
    case 'j':
        o->rejects_path = arg;
        break;
    case 'n':
        o->dry_run = true;
        break;
    default: /* 'm' */
        if ((n = cmd_parse_count(arg)) < 1 || n > 1000000)
            return cmd_usage("contacts import", contacts_usage,
                             "--max-errors: '%s' is not a number from 1 to 1000000", arg);
        o->max_errors = (unsigned)n;
    }
    return 0;
}

static int import_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"format", true, 'f', 0},
                                          {"types", true, 't', 0},
                                          {"default-region", true, 'r', 0},
                                          {"replace", false, 'R', 0},
                                          {"skip-invalid", false, 's', 0},
                                          {"rejects", true, 'j', 0},
                                          {"dry-run", false, 'n', 0},
                                          {"max-errors", true, 'm', 0},
                                          {0}};
    static const struct cli_spec spec = {"contacts import", contacts_usage, opts, 0, NULL, NULL};
    struct hd_import_opts o = {.msgs = stderr,
                               .progress = ctx->progress,
                               .default_region = ctx->cfg->default_region,
                               .hints = {.types = "--types",
                                         .format = "--format",
                                         .skip_invalid = "--skip-invalid",
                                         .region = "--default-region or default_region"}};
    struct hd_import_result res;
    struct hd_err err = {0};
    int rc, i = cli_parse(&spec, argc, argv, import_opt, &o, &rc);
    if (i < 0)
        return rc;
    if (i + 1 != argc)
        return cmd_usage("contacts import", contacts_usage, "give one FILE (or - for stdin)");
    o.path = argv[i];
    rc = hd_import_run(ctx->store, &o, hd_clock_now(&ctx->clock), &res, &err);
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
    static const struct cli_opt opts[] = {{"json", false, 'j', 0}, {0}};
    static const struct cli_spec spec = {"contacts show", contacts_usage, opts, 0, NULL, NULL};
    struct hd_err err = {0};
    struct hd_contact k;
    bool json = false;
    int rc, i = cli_parse(&spec, argc, argv, cli_flag, &json, &rc);
    if (i < 0)
        return rc;
    if (i + 1 != argc)
        return cmd_usage("contacts show", contacts_usage, "give one contact ID");
    if (hd_store_contact_get(ctx->store, argv[i], &k, &err) < 0)
        return cmd_fail(ctx, &err);
    json_t *o = cmd_contact_json(&k);
    if (json) {
        cmd_print_json(o, true);
        putchar('\n');
    } else {
        static const char *const fields[] = {"id",         "email",      "phone",
                                             "locale",     "timezone",   "fcm_token",
                                             "apns_token", "created_at", "updated_at"};
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            const char *v = json_string_value(json_object_get(o, fields[f]));
            printf("%-11s %s\n", fields[f], v ? v : "-");
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
        for (size_t c = 0; c < k.nconsent; c++) {
            char t[32];
            printf("  %-5s %-14s %-10s by %s at %s", hd_channel_name(k.consent[c].channel),
                   hd_category_name(k.consent[c].category),
                   k.consent[c].status == HD_CONSENT_OPTED_OUT ? "opted out" : "opted in",
                   k.consent[c].source, cmd_time(k.consent[c].updated_at, t, sizeof t));
            if (k.consent[c].message_id)
                printf(" (link of message %lld, campaign '%s')", (long long)k.consent[c].message_id,
                       k.consent[c].campaign ? k.consent[c].campaign : "?");
            putchar('\n');
        }
    }
    json_decref(o);
    hd_contact_release(&k);
    return EXIT_OK;
}

struct list_args {
    int format;
    long long limit;
};

static int list_opt(void *ud, int id, const char *arg)
{
    struct list_args *a = ud;
    if (id == 'n') {
        if ((a->limit = cmd_parse_count(arg)) < 0)
            return cmd_usage("contacts list", contacts_usage,
                             "--limit: '%s' is not a number (0 for all)", arg);
        return 0;
    }
    if ((a->format = cmd_parse_format(arg, true)) < 0 || a->format == FMT_JSONL)
        return cmd_usage("contacts list", contacts_usage,
                         "--format: '%s' is not table, csv or json", arg);
    return 0;
}

static int list_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"limit", true, 'n', 0}, {"format", true, 'f', 0}, {0}};
    static const struct cli_spec spec = {"contacts list", contacts_usage, opts, 0, "n:h", NULL};
    struct hd_err err = {0};
    struct cmd_contact_out co;
    struct list_args a = {.format = FMT_TABLE, .limit = 100};
    int rc, i = cli_parse(&spec, argc, argv, list_opt, &a, &rc);
    if (i < 0)
        return rc;
    if (i != argc)
        return cmd_usage("contacts list", contacts_usage, "unexpected argument '%s'", argv[i]);
    cmd_contacts_begin(&co, a.format);
    rc = hd_store_contact_each(ctx->store, a.limit, cmd_contacts_row, &co, &err);
    cmd_contacts_end(&co);
    return rc < 0 ? cmd_fail(ctx, &err) : EXIT_OK;
}

struct consent_args {
    const char *name;
    int channel, category;
};

static int consent_opt(void *ud, int id, const char *arg)
{
    struct consent_args *a = ud;
    if (id == 'c') {
        if ((a->channel = hd_channel_parse(arg)) < 0)
            return cmd_usage(a->name, contacts_usage, "--channel: '%s' is not email, sms or push",
                             arg);
        return 0;
    }
    if ((a->category = hd_category_parse(arg)) < 0)
        return cmd_usage(a->name, contacts_usage,
                         "--category: '%s' is not marketing or transactional", arg);
    return 0;
}

static int consent_cmd(struct hd_ctx *ctx, int argc, char **argv, int status)
{
    static const struct cli_opt opts[] = {
        {"channel", true, 'c', 0}, {"category", true, 'k', 0}, {0}};
    const char *name = status == HD_CONSENT_OPTED_OUT ? "contacts optout" : "contacts optin";
    const struct cli_spec spec = {name, contacts_usage, opts, 0, NULL, NULL};
    struct consent_args a = {name, -1, -1};
    struct hd_err err = {0};
    int rc, i = cli_parse(&spec, argc, argv, consent_opt, &a, &rc);
    if (i < 0)
        return rc;
    if (i + 1 != argc)
        return cmd_usage(name, contacts_usage, "give one contact ID");
    int channel = a.channel, category = a.category;
    if (channel < 0)
        return cmd_usage(name, contacts_usage, "--channel is required");
    const char *id = argv[i];
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
