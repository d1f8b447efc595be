/* cmd_init: `herald init [--db PATH]` creates the database (0600), or brings
 * an existing one to the current schema; it is the only command that makes a
 * database of a missing or empty file. The default path's folder (var/) is
 * created too, 0700; an explicit path's folder must exist. So is the link
 * signing secret [serve] secret_file names, when that file is missing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "herald/config.h"
#include "herald/dbcopy.h"
#include "herald/serve.h"
#include "herald/store.h"

static const char init_usage[] =
    "usage: herald init [--db PATH|URI]\n"
    "\n"
    "Creates the database (default: the configuration's database, var/herald.db),\n"
    "creating var/ when the default path is used. On an existing database it\n"
    "applies any pending schema migrations. When [serve] secret_file names a\n"
    "file that does not exist, creates it with a new random secret (mode 0600).\n"
    "A postgresql:// (or postgres://) URI names a PostgreSQL database instead: its\n"
    "herald schema is created (the database itself must exist), or reported up to\n"
    "date; its password comes from ~/.pgpass or database_password_env or _file.\n";

static int init_opt(void *ud, int id, const char *arg)
{
    struct hd_ctx *ctx = ud;
    (void)id; /* only --db */
    const char *bad = hd_config_db_problem(arg);
    if (bad) /* a password on a command line shows in ps */
        return cmd_usage("init", init_usage, "--db: %s", bad);
    ctx->db_override = arg;
    return 0;
}

/* [serve] secret_file names a file not made yet: make it (links are
 * signed with it). */
static int init_secret(struct hd_ctx *ctx)
{
    const struct hd_cfg_secret *sec = &ctx->cfg->serve.secrets[0];
    struct hd_err err = {0};
    if (sec->value || !sec->via || strcmp(sec->via, "secret_file") != 0)
        return EXIT_OK;
    /* its folder, when it is the default's var/ */
    if (strncmp(sec->ref, "var/", 4) == 0 && mkdir("var", 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "herald: cannot create folder 'var': %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    if (hd_serve_init_secret(sec->ref, false, &err) < 0)
        return cmd_fail(ctx, &err);
    printf("created the link signing secret '%s' (mode 0600)\n", sec->ref);
    return EXIT_OK;
}

/* A postgresql:// database: its schema made or brought forward
 * (store/schema_pg.c); the database itself is its administrator's. */
static int init_pg(struct hd_ctx *ctx, const char *target)
{
    struct hd_err err = {0};
    int before = 0, after = 0;
    if (hd_store_pg_init(target, cmd_db_password(ctx, target), &before, &after, &err) < 0)
        return cmd_fail(ctx, &err);
    char *where = hd_store_target_redact(target);
    if (before == 0)
        printf("created the herald schema in PostgreSQL database '%s' (schema version %d)\n", where,
               after);
    else if (before == after)
        printf("up to date: PostgreSQL database '%s' is already at schema version %d\n", where,
               after);
    else
        printf("migrated PostgreSQL database '%s' from schema version %d to %d\n", where, before,
               after);
    free(where);
    return init_secret(ctx);
}

int cmd_init(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"db", true, 'd', 0}, {0}};
    static const struct cli_spec spec = {"init", init_usage, opts, 0, NULL, NULL};
    struct hd_err err = {0};
    struct hd_store_opts so = {.create = true};
    int version = 0, rc, i = cli_parse(&spec, argc, argv, init_opt, ctx, &rc);
    if (i < 0)
        return rc;
    if (i != argc)
        return cmd_usage("init", init_usage, "unexpected argument '%s'", argv[i]);
    const char *path = hd_ctx_db_path(ctx);
    if (hd_store_target_is_pg(path))
        return init_pg(ctx, path);
    so.busy_timeout_ms = ctx->cfg->busy_timeout * 1000;
    struct stat sb;
    /* an empty file (a truncated database, which no other command opens) is
     * made a new database, and reported as created */
    bool existed = stat(path, &sb) == 0 && sb.st_size > 0;
    if (!existed && strcmp(path, "var/herald.db") == 0 && mkdir("var", 0700) < 0 &&
        errno != EEXIST) {
        fprintf(stderr, "herald: cannot create folder 'var': %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    if (hd_store_open(path, &so, &ctx->store, &err) < 0 ||
        hd_store_user_version(ctx->store, &version, &err) < 0)
        return cmd_fail(ctx, &err);
    printf("%s database '%s' (schema version %d)\n", existed ? "up to date:" : "created", path,
           version);
    return init_secret(ctx);
}
