/* cmd_contacts: `herald contacts import|show|list|optout|optin|delete`.
 * Output meant for people is a table; --format csv|json (or --json) is for
 * tools and is streamed row by row, so any number of contacts can be listed. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
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

/* A contact as a JSON object (attributes parsed back into JSON). */
static json_t *contact_json(const struct hd_contact *k)
{
    char t[32];
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(k->ext_id));
    json_object_set_new(o, "email", k->email ? json_string(k->email) : json_null());
    json_object_set_new(o, "phone", k->phone ? json_string(k->phone) : json_null());
    json_object_set_new(o, "locale", k->locale ? json_string(k->locale) : json_null());
    json_object_set_new(o, "timezone", k->timezone ? json_string(k->timezone) : json_null());
    json_object_set_new(o, "fcm_token", k->fcm_token ? json_string(k->fcm_token) : json_null());
    json_object_set_new(o, "apns_token", k->apns_token ? json_string(k->apns_token) : json_null());
    json_object_set_new(o, "created_at", json_string(cmd_time(k->created_at, t, sizeof t)));
    json_object_set_new(o, "updated_at", json_string(cmd_time(k->updated_at, t, sizeof t)));
    json_t *attrs = json_loads(k->attrs ? k->attrs : "{}", 0, NULL);
    json_object_set_new(o, "attributes", attrs ? attrs : json_object());
    if (k->nconsent) {
        json_t *arr = json_array();
        for (size_t i = 0; i < k->nconsent; i++) {
            const struct hd_consent *c = &k->consent[i];
            json_t *e = json_object();
            json_object_set_new(e, "channel", json_string(hd_channel_name(c->channel)));
            json_object_set_new(e, "category", json_string(hd_category_name(c->category)));
            json_object_set_new(
                e, "status",
                json_string(c->status == HD_CONSENT_OPTED_OUT ? "opted_out" : "opted_in"));
            json_object_set_new(e, "source", json_string(c->source));
            json_object_set_new(e, "updated_at", json_string(cmd_time(c->updated_at, t, sizeof t)));
            json_array_append_new(arr, e);
        }
        json_object_set_new(o, "consent", arr);
    }
    return o;
}

static void print_json(json_t *o, bool pretty)
{
    char *s = json_dumps(o, (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_PRESERVE_ORDER |
                                JSON_REAL_PRECISION(15));
    fputs(s ? s : "null", stdout);
    free(s);
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
    json_t *o = contact_json(&k);
    if (json) {
        print_json(o, true);
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

struct list_state {
    int format;
    long long n;
    struct hd_buf line;
};

static void csv_cell(struct hd_buf *b, const char *s, bool last)
{
    if (s)
        hd_buf_add_csv_field(b, s, strlen(s));
    hd_buf_addc(b, last ? '\n' : ',');
}

static int list_row(void *ud, const struct hd_contact *k)
{
    struct list_state *ls = ud;
    char c[32], u[32];
    cmd_time(k->created_at, c, sizeof c);
    cmd_time(k->updated_at, u, sizeof u);
    hd_buf_reset(&ls->line);
    if (ls->format == FMT_JSON) {
        json_t *o = contact_json(k);
        fputs(ls->n ? ",\n" : "", stdout);
        print_json(o, false);
        json_decref(o);
    } else if (ls->format == FMT_CSV) {
        const char *cells[] = {k->ext_id,    k->email,      k->phone, k->locale, k->timezone,
                               k->fcm_token, k->apns_token, c,        u,         k->attrs};
        for (size_t i = 0; i < 10; i++)
            csv_cell(&ls->line, cells[i], i == 9);
        fputs(ls->line.data, stdout);
    } else {
        printf("%-16.16s %-30.30s %-16s %-7s %-20.20s %s\n", k->ext_id, k->email ? k->email : "-",
               k->phone ? k->phone : "-", k->locale ? k->locale : "-",
               k->timezone ? k->timezone : "-", k->attrs);
    }
    ls->n++;
    return 0;
}

static int list_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"limit", required_argument, NULL, 'n'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    struct hd_err err = {0};
    struct list_state ls = {.format = FMT_TABLE};
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
            if ((ls.format = cmd_parse_format(optarg, true)) < 0)
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
    hd_buf_init(&ls.line);
    if (ls.format == FMT_CSV)
        puts("id,email,phone,locale,timezone,fcm_token,apns_token,created_at,updated_at,"
             "attributes");
    else if (ls.format == FMT_JSON)
        fputs("[", stdout);
    else
        printf("%-16s %-30s %-16s %-7s %-20s %s\n", "ID", "EMAIL", "PHONE", "LOCALE", "TIMEZONE",
               "ATTRIBUTES");
    int rc = hd_store_contact_each(ctx->store, limit, list_row, &ls, &err);
    if (ls.format == FMT_JSON)
        fputs("]\n", stdout);
    hd_buf_release(&ls.line);
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
    if (hd_store_contact_delete(ctx->store, argv[1], &err) < 0)
        return cmd_fail(ctx, &err);
    printf("contact '%s' deleted with its push tokens and consent\n", argv[1]);
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
