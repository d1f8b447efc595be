/* cmd_apikey: `herald apikey create|list|revoke`, the JSON API's keys
 * (serve/api_keys.c makes them). create prints the key once, on stdout
 * alone on its line so a script can take it; the store keeps only its
 * SHA-256, so a lost key is revoked and made again, never shown. create
 * and revoke are recorded in the audit, as the console's keys page does. */
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "herald/serve.h"
#include "herald/store.h"

static const char apikey_usage[] =
    "usage: herald apikey create NAME --scope SCOPES [--rate N/s]\n"
    "       herald apikey list [--format table|csv|json|jsonl]\n"
    "       herald apikey revoke NAME\n"
    "\n"
    "Keys of the JSON API at /api/v1/ (herald serve), sent as\n"
    "'Authorization: Bearer KEY'. create prints the new key once: the database\n"
    "keeps only its SHA-256. SCOPES is a comma list of send (POST /messages),\n"
    "contacts (PUT, DELETE /contacts/ID, consent), events (POST /events), read\n"
    "(campaigns, stats, history, messages) and inbox (POST /inbox/tokens: contact\n"
    "tokens for the in-app inbox). --rate is the key's limit (default\n"
    "100/s; a burst of one second's worth), answered with 429 and Retry-After.\n"
    "revoke takes effect at the next request.\n";

static const char *const list_cols[] = {"name",       "prefix",     "scopes", "rate",
                                        "created_at", "revoked_at", NULL};

struct apikey_args {
    const char *scope, *rate;
    int format;
};

static int apikey_opt(void *ud, int id, const char *arg)
{
    struct apikey_args *a = ud;
    if (id == 's')
        a->scope = arg;
    else if (id == 'r')
        a->rate = arg;
    else
        return cmd_format_arg("apikey", arg, FMTS_ALL, &a->format);
    return 0;
}

static int list_row(void *ud, const struct hd_apikey *k)
{
    struct cmd_out *o = ud;
    char t[32], r[32];
    cmd_time(k->created_at, t, sizeof t);
    if (k->revoked_at)
        cmd_time(k->revoked_at, r, sizeof r);
    if (o->format == FMT_TABLE)
        printf("%-20s %-13s %-28s %-8s %s%s%s\n", k->name, k->prefix, k->scopes, k->rate, t,
               k->revoked_at ? "  revoked " : "", k->revoked_at ? r : "");
    else
        cmd_out_row(o, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?}", "name", k->name, "prefix",
                                 k->prefix, "scopes", k->scopes, "rate", k->rate, "created_at", t,
                                 "revoked_at", k->revoked_at ? r : NULL));
    return 0;
}

static int list_cmd(struct hd_ctx *ctx, int format)
{
    struct hd_err err = {0};
    struct cmd_out o;
    cmd_out_begin(&o, format, list_cols);
    if (format == FMT_TABLE)
        printf("%-20s %-13s %-28s %-8s %s\n", "NAME", "PREFIX", "SCOPES", "RATE", "CREATED");
    int rc = hd_store_apikey_each(ctx->store, list_row, &o, &err);
    cmd_out_end(&o);
    return rc < 0 ? cmd_fail(ctx, &err) : EXIT_OK;
}

int cmd_apikey(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"scope", true, 's', 0}, {"rate", true, 'r', 0}, {"format", true, 'f', 0}, {0}};
    static const struct cli_spec spec = {"apikey", apikey_usage, opts, 0, NULL, NULL};
    struct apikey_args a = {.format = FMT_TABLE};
    struct hd_err err = {0};
    static const char *const subs[] = {"create", "list", "revoke", NULL};
    int rc;
    if (cmd_subcommand("apikey", apikey_usage, subs, argc, argv, &rc) < 0)
        return rc;
    const char *sub = argv[1];
    int i = cli_parse(&spec, argc - 1, argv + 1, apikey_opt, &a, &rc);
    if (i < 0)
        return rc;
    if (!ctx->store)
        return cmd_help(apikey_usage);
    int nargs = argc - 1 - i;
    char **args = argv + 1 + i;
    if (strcmp(sub, "list") == 0) {
        if (nargs > 0)
            return cmd_usage("apikey", apikey_usage, "unexpected argument '%s'", args[0]);
        return list_cmd(ctx, a.format);
    }
    if (nargs != 1)
        return cmd_usage("apikey", apikey_usage,
                         nargs ? "unexpected argument '%s'" : "give a NAME%s",
                         nargs ? args[1] : "");
    if (strcmp(sub, "revoke") == 0) {
        if (hd_store_apikey_revoke(ctx->store, args[0], hd_clock_now(&ctx->clock), &err) < 0)
            return cmd_fail(ctx, &err);
        cmd_audit_note(ctx, "apikey_revoke", args[0]);
        fprintf(stderr, "revoked API key '%s'\n", args[0]);
        return EXIT_OK;
    }
    if (!a.scope)
        return cmd_usage("apikey", apikey_usage,
                         "create needs --scope (send,contacts,events,read,inbox)");
    char key[HD_APIKEY_TEXT];
    rc = hd_serve_apikey_create(ctx->store, args[0], a.scope, a.rate, hd_clock_now(&ctx->clock),
                                key, &err);
    if (rc == HD_E_USAGE) /* a bad name, scope or rate: with the usage's hint, exit 2 */
        return cmd_usage("apikey", apikey_usage, "%s", err.msg);
    if (rc < 0)
        return cmd_fail(ctx, &err);
    char detail[256];
    snprintf(detail, sizeof detail, "%s (%s, %s)", args[0], a.scope, a.rate ? a.rate : "100/s");
    cmd_audit_note(ctx, "apikey_create", detail); /* as the console's page notes it */
    fprintf(stderr, "API key '%s' (shown once; the database keeps only its hash):\n", args[0]);
    printf("%s\n", key);
    hd_wipe(key, sizeof key);
    return EXIT_OK;
}
