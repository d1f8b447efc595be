/* cmd_inbox: `herald inbox token CONTACT [--ttl 1h]` mints a contact token
 * for the in-app inbox (issue 20) with the [serve] secret, as a backend
 * would mint it offline (core/token.c has the format; README shows it),
 * through hd_serve_inbox_token, which POST /api/v1/inbox/tokens calls too:
 * the contact must exist, the lifetime is bounded by HD_CTOKEN_TTL_MAX,
 * and the token is printed alone on stdout, never logged. */
#include <openssl/crypto.h>
#include <string.h>

#include "cli.h"
#include "herald/serve.h"
#include "herald/store.h"
#include "herald/token.h"

static const char inbox_usage[] =
    "usage: herald inbox token CONTACT [--ttl DURATION]\n"
    "\n"
    "Prints a contact token for GET /api/v1/inbox on herald serve: the\n"
    "contact's external id and an expiry, signed with [serve] secret_file\n"
    "(see README: a backend mints the same without herald).\n"
    "\n"
    "  --ttl DURATION  how long the token is valid (default 1h, at most 24h)\n";

enum { O_TTL = 't' };

static int ttl_opt(void *ud, int id, const char *arg)
{
    (void)id;
    *(const char **)ud = arg;
    return 0;
}

static int token_cmd(struct hd_ctx *ctx, const char *contact, const char *ttl)
{
    struct hd_err err = {0};
    char tok[HD_CTOKEN_MAX];
    int64_t expires;
    const struct hd_cfg_secret *sec = &ctx->cfg->serve.secrets[0];
    struct hd_token_key key = {sec->value, sec->value ? sec->len : 0};
    int rc = hd_serve_inbox_token(ctx->store, &key, contact, ttl, hd_clock_now(&ctx->clock), tok,
                                  sizeof tok, &expires, &err);
    if (rc == HD_E_USAGE)
        return cmd_usage("inbox token", inbox_usage, "--%s", err.msg);
    if (rc < 0)
        return cmd_fail(ctx, &err);
    printf("%s\n", tok);
    OPENSSL_cleanse(tok, sizeof tok);
    return EXIT_OK;
}

int cmd_inbox(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"ttl", true, O_TTL, 0}, {0}};
    static const struct cli_spec spec = {"inbox", inbox_usage, opts, 0, NULL, NULL};
    const char *ttl = NULL;
    int rc, i = cli_parse_n(&spec, 2, "name a subcommand and a contact: token CONTACT", argc, argv,
                            ttl_opt, &ttl, &rc);
    if (i < 0)
        return rc;
    if (strcmp(argv[i], "token") != 0)
        return cmd_usage("inbox", inbox_usage, "unknown subcommand '%s' (known: token)", argv[i]);
    return token_cmd(ctx, argv[i + 1], ttl);
}
