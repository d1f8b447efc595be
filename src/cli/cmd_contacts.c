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
    "                              [--map HEADER=FIELD,...] [--encoding ENC] [--last-wins]\n"
    "       herald contacts show ID [--format table|csv|json|jsonl] [--json]\n"
    "       herald contacts list [--limit N] [--format table|csv|json|jsonl]\n"
    "       herald contacts optout ID --channel email|sms|push|inbox|wechat [--category C]\n"
    "       herald contacts optin ID --channel email|sms|push|inbox|wechat [--category C]\n"
    "       herald contacts delete ID\n"
    "\n"
    "import   upserts contacts by id, one transaction per file: by default one\n"
    "         invalid row aborts the import and nothing is written; --skip-invalid\n"
    "         imports the valid rows and writes the others, with reasons, to\n"
    "         FILE.rejected.csv (or --rejects); --dry-run only validates;\n"
    "         --replace replaces existing contacts instead of merging attributes.\n"
    "         TYPE is number, boolean, date or string. --map reads a header as a\n"
    "         field or attribute (default: [import] map); a country column reads\n"
    "         the row's national numbers; --encoding converts the file (gbk,\n"
    "         big5, shift_jis, latin1, ...); two rows with one id are refused\n"
    "         unless --last-wins.\n"
    "show     one contact, its attributes and consent (--json: --format json)\n"
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
        return cmd_region_opt("contacts import", contacts_usage, arg, &o->default_region);
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
    case 'M':
        o->map = arg;
        break;
    case 'e':
        o->encoding = arg;
        break;
    case 'w':
        o->last_wins = true;
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
                                          {"map", true, 'M', 0},
                                          {"encoding", true, 'e', 0},
                                          {"last-wins", false, 'w', 0},
                                          {0}};
    static const struct cli_spec spec = {"contacts import", contacts_usage, opts, 0, NULL, NULL};
    struct hd_import_opts o = {.msgs = stderr,
                               .progress = ctx->progress,
                               .hints = {.types = "--types",
                                         .format = "--format",
                                         .skip_invalid = "--skip-invalid",
                                         .region = "--default-region or default_region",
                                         .map = "--map",
                                         .encoding = "--encoding",
                                         .last_wins = "--last-wins"}};
    struct hd_import_result res;
    struct hd_err err = {0};
    char map_hint[4200];
    int rc, i = cli_parse_n(&spec, 1, "give one FILE (or - for stdin)", argc, argv, import_opt, &o,
                            &rc);
    if (i < 0)
        return rc; /* --help too: the configuration is not loaded for it */
    if (!o.default_region)
        o.default_region = ctx->cfg->default_region;
    if (!o.map && ctx->cfg->import.map) {
        snprintf(map_hint, sizeof map_hint, "[import] map (%s:%d)", ctx->cfg->path,
                 ctx->cfg->import.line);
        o.map = ctx->cfg->import.map;
        o.hints.map = map_hint;
    }
    o.path = argv[i];
    rc = hd_import_run(ctx->store, &o, hd_clock_now(&ctx->clock), &res, &err);
    if (rc < 0 && rc != HD_E_INVALID)
        return cmd_fail(ctx, &err);
    char rows[48];
    const char *name = strcmp(o.path, "-") == 0 ? "stdin" : o.path;
    hd_units_count(res.rows, "row", NULL, rows, sizeof rows);
    if (o.dry_run) /* it inserts and updates nothing: "0 inserted" misled */
        printf("dry run of %s: %s checked, %lld valid, %lld invalid, nothing written in %.1fs "
               "(%.0f rows/s)",
               name, rows, (long long)(res.rows - res.rejected), (long long)res.rejected,
               res.seconds, res.seconds > 0 ? (double)res.rows / res.seconds : 0.0);
    else
        printf("%s: %s, %lld inserted, %lld updated, %lld rejected in %.1fs (%.0f rows/s)", name,
               rows, (long long)res.inserted, (long long)res.updated, (long long)res.rejected,
               res.seconds, res.seconds > 0 ? (double)res.rows / res.seconds : 0.0);
    if (res.warnings)
        printf(", %lld warning%s", (long long)res.warnings, res.warnings == 1 ? "" : "s");
    if (res.rejects[0])
        printf("; rejected rows in %s", res.rejects);
    putchar('\n');
    if (rc < 0)
        return cmd_fail(ctx, &err);
    return EXIT_OK;
}

static int show_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    struct hd_err err = {0};
    struct hd_contact k;
    int format, rc,
        i = cli_parse_format("contacts show", contacts_usage, 1, "give one contact ID", argc, argv,
                             &format, &rc);
    if (i < 0)
        return rc;
    if (hd_store_contact_get(ctx->store, argv[i], &k, &err) < 0)
        return cmd_fail(ctx, &err);
    if (format == FMT_CSV) { /* the row contacts list would print */
        struct cmd_contact_out co;
        cmd_contacts_begin(&co, FMT_CSV);
        cmd_contacts_row(&co, &k);
        cmd_contacts_end(&co);
        hd_contact_release(&k);
        return EXIT_OK;
    }
    json_t *o = cmd_contact_json(&k);
    if (format != FMT_TABLE) {
        cmd_out_one(format, NULL, json_incref(o));
    } else { /* cells as list's: a value's control characters escaped, wide text padded */
        static const char *const fields[] = {
            "id",         "email",    "phone",     "locale",        "timezone",   "fcm_token",
            "apns_token", "jpush_id", "hms_token", "wechat_openid", "created_at", "updated_at"};
        static const struct cmd_col field_cols[] = {{13, false}, {0, false}},
                                    attr_cols[] = {{20, false}, {0, false}};
        struct hd_buf line;
        hd_buf_init(&line);
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            const char *v = json_string_value(json_object_get(o, fields[f]));
            cmd_row(&line, field_cols, 2, (const char *const[]){fields[f], v ? v : "-"});
        }
        json_t *attrs = json_object_get(o, "attributes");
        const char *key;
        json_t *v;
        hd_buf_addf(&line, "attributes  %s\n", json_object_size(attrs) ? "" : "-");
        json_object_foreach(attrs, key, v)
        {
            char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
            hd_buf_adds(&line, "  ");
            cmd_row(&line, attr_cols, 2,
                    (const char *const[]){key, json_is_string(v) ? json_string_value(v) : s});
            free(s);
        }
        fputs(line.data, stdout);
        hd_buf_release(&line);
        printf("consent     %s\n", k.nconsent ? "" : "no opt-out recorded (consents to all)");
        for (size_t c = 0; c < k.nconsent; c++)
            cmd_consent_line(&k.consent[c]);
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
    return cmd_format_arg("contacts list", arg, FMTS_ALL, &a->format);
}

static int list_cmd(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"limit", true, 'n', 0}, {"format", true, 'f', 0}, {0}};
    static const struct cli_spec spec = {"contacts list", contacts_usage, opts, 0, "n:h", NULL};
    struct hd_err err = {0};
    struct cmd_contact_out co;
    struct list_args a = {.format = FMT_TABLE, .limit = 100};
    int rc, i = cli_parse_n(&spec, 0, "", argc, argv, list_opt, &a, &rc);
    if (i < 0)
        return rc;
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
            return cmd_usage(a->name, contacts_usage,
                             "--channel: '%s' is not email, sms, push, inbox or wechat", arg);
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
    int rc, i = cli_parse_n(&spec, 1, "give one contact ID", argc, argv, consent_opt, &a, &rc);
    if (i < 0)
        return rc;
    int channel = a.channel, category = a.category;
    if (channel < 0)
        return cmd_usage(name, contacts_usage, "--channel is required");
    const char *id = argv[i];
    if (hd_store_consent_record(ctx->store, id, channel, category, status, "cli",
                                hd_clock_now(&ctx->clock), &err) < 0)
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
    int rc, i = cli_operands("contacts delete", contacts_usage, argc, argv, 1,
                             "give one contact ID", &rc);
    if (i < 0)
        return rc;
    argv += i - 1; /* the ID as argv[1], as below */
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
