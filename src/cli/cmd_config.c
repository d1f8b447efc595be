/* cmd_config: `herald config check` reads the configuration as every other
 * command would, reports the first error with file and line, and otherwise
 * prints the effective configuration with defaults filled in and secrets
 * masked. It warns of what the file allows but will not send: a channel
 * without a provider, a provider in a channel its type does not carry
 * (the configuration is read below the drivers, which know that). */
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "herald/driver.h"

/* Warns of each provider of a channel whose type does not carry it (a
 * wechat provider left in [channel push] from before wechat was a
 * channel). */
static void warn_carriers(const struct hd_config *cfg)
{
    for (int ch = 0; ch < HD_CH_COUNT; ch++)
        for (size_t i = 0; i < cfg->channels[ch].n; i++) {
            const struct hd_provider_cfg *p =
                hd_config_provider(cfg, cfg->channels[ch].providers[i]);
            if (p && !hd_driver_serves(p->type, ch))
                fprintf(stderr,
                        "herald: warning: [channel %s] providers: '%s' (%s) does not carry %s; "
                        "its messages will not go through it%s\n",
                        hd_channel_name(ch), p->name, p->type, hd_channel_name(ch),
                        strcmp(p->type, "wechat") == 0 ? " (name it in [channel wechat])" : "");
        }
}

static const char config_usage[] =
    "usage: herald config check\n"
    "\n"
    "Validates the configuration file (see 'herald --help' for which file is\n"
    "read) and prints the effective configuration, defaults included, with\n"
    "secrets masked. Exits 1 with file, line and reason when it is invalid.\n";

int cmd_config(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_spec spec = {"config", config_usage, NULL, 0, NULL, NULL};
    struct hd_err err = {0};
    int rc, i = cli_parse(&spec, argc, argv, NULL, NULL, &rc);
    if (i < 0)
        return rc;
    if (i >= argc || strcmp(argv[i], "check") != 0 || i + 1 != argc)
        return cmd_usage("config", config_usage, "expected 'check'");
    if (hd_config_load(ctx->config_path, &ctx->cfg, &err) < 0)
        return cmd_fail(ctx, &err);
    struct hd_buf out;
    hd_buf_init(&out);
    hd_config_dump(ctx->cfg, &out);
    fputs(out.data, stdout);
    hd_buf_release(&out);
    struct stat sb;
    if (stat(ctx->cfg->templates, &sb) != 0 || !S_ISDIR(sb.st_mode))
        fprintf(stderr, "herald: warning: templates folder '%s' does not exist\n",
                ctx->cfg->templates);
    for (int ch = 0; ch < HD_CH_COUNT; ch++)
        if (ctx->cfg->channels[ch].n == 0)
            fprintf(stderr, "herald: warning: channel '%s' has no provider\n", hd_channel_name(ch));
    warn_carriers(ctx->cfg);
    fprintf(stderr, "configuration OK (%s)\n",
            ctx->cfg->path ? ctx->cfg->path : "built-in defaults");
    return EXIT_OK;
}
