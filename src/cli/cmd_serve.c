/* cmd_serve: `herald serve [--listen ADDR:PORT]` runs the HTTP service
 * (serve/) in the foreground until SIGTERM or SIGINT, then stops
 * gracefully and exits 0; `herald serve init-secret [FILE]` writes a new
 * link signing secret. The listening address is printed on stdout once
 * bound, so a script (or a test) that asked for port 0 learns the port. */
#include <string.h>

#include "cli.h"
#include "herald/serve.h"

static const char serve_usage[] =
    "usage: herald serve [--listen ADDR:PORT]\n"
    "       herald serve init-secret [FILE] [--base64]\n"
    "\n"
    "Runs the HTTP service: one-click unsubscribe (RFC 8058) and the unsubscribe\n"
    "page at /u/TOKEN, /healthz and /readyz, until SIGTERM or SIGINT (requests in\n"
    "flight finish; exit 0). Prints 'listening on http://ADDR:PORT' once bound.\n"
    "\n"
    "  --listen ADDR:PORT  instead of [serve] listen (default 127.0.0.1:8025);\n"
    "                      port 0 picks a free port\n"
    "\n"
    "init-secret writes 32 random bytes as hex (or --base64) to FILE (default:\n"
    "[serve] secret_file, else var/herald.secret) with mode 0600; it never\n"
    "overwrites a file.\n";

enum { O_LISTEN = 'l', O_BASE64 = 'b' };

struct serve_args {
    const char *listen;
    bool base64;
};

static int serve_opt(void *ud, int id, const char *arg)
{
    struct serve_args *a = ud;
    if (id == O_LISTEN && !hd_cfg_listen_ok(arg, true))
        return cmd_usage("serve", serve_usage,
                         "--listen: '%s' is not ADDRESS:PORT (e.g. 127.0.0.1:8025)", arg);
    if (id == O_LISTEN)
        a->listen = arg;
    else
        a->base64 = true;
    return 0;
}

static int init_secret(struct hd_ctx *ctx, const char *file, bool base64)
{
    struct hd_err err = {0};
    const struct hd_cfg_secret *sec = &ctx->cfg->serve.secrets[0];
    if (!file)
        file = sec->via && strcmp(sec->via, "secret_file") == 0 ? sec->ref : "var/herald.secret";
    if (hd_serve_init_secret(file, base64, &err) < 0)
        return cmd_fail(ctx, &err);
    printf("wrote a new secret to '%s' (mode 0600)\n", file);
    if (!sec->via || strcmp(sec->ref, file) != 0)
        printf("use it with, in [serve]: secret_file = %s\n", file);
    return EXIT_OK;
}

int cmd_serve(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"listen", true, O_LISTEN, 0}, {"base64", false, O_BASE64, 0}, {0}};
    static const struct cli_spec spec = {"serve", serve_usage, opts, 0, NULL, NULL};
    struct serve_args a = {0};
    struct hd_err err = {0};
    int rc, i = cli_parse(&spec, argc, argv, serve_opt, &a, &rc);
    if (i < 0)
        return rc;
    if (i < argc && strcmp(argv[i], "init-secret") == 0) {
        if (argc - i > 2)
            return cmd_usage("serve", serve_usage, "unexpected argument '%s'", argv[i + 2]);
        return init_secret(ctx, i + 1 < argc ? argv[i + 1] : NULL, a.base64);
    }
    if (i < argc)
        return cmd_usage("serve", serve_usage, "unexpected argument '%s'", argv[i]);
    if (a.base64)
        return cmd_usage("serve", serve_usage, "--base64 is for init-secret");
    struct hd_serve_opts o = {.listen = a.listen,
                              .stopped = cli_stopped,
                              .announce = stdout,
                              .db_password = cmd_db_password(ctx, hd_ctx_db_path(ctx))};
    cli_catch_signals();
    hd_clock_run(&ctx->clock);
    if (hd_serve_run(ctx->cfg, hd_ctx_db_path(ctx), &ctx->log, &ctx->clock, &o, &err) < 0)
        return cmd_fail(ctx, &err);
    return EXIT_OK;
}
