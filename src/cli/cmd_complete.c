/* cmd_complete: `herald complete campaigns|segments|templates|providers`, a
 * hidden command for the shell completion scripts (etc/completion/): it
 * prints the names, one a line, and nothing else. A shell calls it on every
 * TAB, so it never complains and never changes anything: a configuration
 * that does not load, a missing database or templates folder, or an unknown
 * word prints nothing and exits 0; the database is opened read-only (no
 * migration) and only after a stat() says it exists, so the common case of
 * "no database here" costs one system call. main() registers it without a
 * summary, which keeps it out of `herald --help`. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "herald/store.h"
#include "herald/tpl.h"

static int print_campaign(void *ud, const struct hd_campaign *c)
{
    (void)ud;
    puts(c->name);
    return 0;
}

static int print_segment(void *ud, const char *name, const char *expr, int64_t updated_at)
{
    (void)ud, (void)expr, (void)updated_at;
    puts(name);
    return 0;
}

static void print_templates(const struct hd_config *cfg)
{
    struct hd_tpl_set *set = NULL;
    struct hd_err err = {0};
    char **names = NULL;
    size_t n = 0;
    if (hd_tpl_set_open(cfg->templates, &set, &err) < 0)
        return;
    if (hd_tpl_set_names(set, &names, &n, &err) == 0) {
        for (size_t i = 0; i < n; i++) {
            puts(names[i]);
            free(names[i]);
        }
        free(names);
    }
    hd_tpl_set_free(set);
}

/* Campaigns or segments, from the database when there is one. */
static void print_stored(struct hd_ctx *ctx, bool campaigns)
{
    struct hd_store_opts so = {.readonly = true};
    struct hd_err err = {0};
    struct stat sb;
    const char *path = hd_ctx_db_path(ctx);
    if (stat(path, &sb) < 0 || sb.st_size == 0 || hd_store_open(path, &so, &ctx->store, &err) < 0)
        return;
    if (campaigns)
        hd_store_campaign_each(ctx->store, print_campaign, NULL, &err);
    else
        hd_store_segment_each(ctx->store, print_segment, NULL, &err);
}

int cmd_complete(struct hd_ctx *ctx, int argc, char **argv)
{
    struct hd_err err = {0};
    if (argc != 2 || hd_config_load(ctx->config_path, &ctx->cfg, &err) < 0)
        return EXIT_OK;
    const char *what = argv[1];
    if (strcmp(what, "campaigns") == 0 || strcmp(what, "segments") == 0)
        print_stored(ctx, what[0] == 'c');
    else if (strcmp(what, "templates") == 0)
        print_templates(ctx->cfg);
    else if (strcmp(what, "providers") == 0)
        for (size_t i = 0; i < ctx->cfg->nproviders; i++)
            puts(ctx->cfg->providers[i].name);
    return EXIT_OK;
}
