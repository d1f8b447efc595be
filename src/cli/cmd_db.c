/* cmd_db: `herald db copy FROM TO` (issue 23), a whole store from SQLite to
 * PostgreSQL or back: parses, calls hd_store_copy (store/copy.c) with a
 * progress bar on a terminal, and prints each table's rows as counted on
 * both sides after the copy. The configuration's database_password_env or
 * _file is offered only to the side that is the configuration's database
 * (the other has ~/.pgpass or its server's trust), so one server never
 * sees the other's password; a URI with a password in it is refused (a
 * command line shows in ps), and targets are printed as libpq parses them,
 * never with a password. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "herald/config.h"
#include "herald/dbcopy.h"
#include "herald/store.h"

static const char db_usage[] =
    "usage: herald db copy [--batch N] FROM TO\n"
    "\n"
    "Copies a whole herald store from FROM to TO, each a SQLite database path or\n"
    "a PostgreSQL connection URI (postgresql://... or postgres://...), either way.\n"
    "FROM must be at this herald's schema version (run 'herald init' on it first).\n"
    "TO must hold no rows: a missing or empty SQLite file, or a PostgreSQL database\n"
    "without herald's tables (db copy creates the schema in either), or a store\n"
    "'herald init' made; a store with rows is refused and nothing is written.\n"
    "Tables are copied in dependency order, --batch rows per transaction (default\n"
    "5000), ids kept, from one snapshot of FROM; PostgreSQL's id sequences are then\n"
    "moved past the copied ids, and every table's rows are counted again on both\n"
    "sides. A progress bar shows on a terminal. A PostgreSQL password comes from\n"
    "~/.pgpass, or from the configuration's database_password_env or _file for\n"
    "the side that is the configuration's database (exactly as written there)\n"
    "and no other. A URI with a password in it is refused: a command line shows\n"
    "in ps. After a failure, or Ctrl-C or SIGTERM, TO is emptied again, as it was\n"
    "before the copy, so the same command can run again (a copy killed outright\n"
    "leaves TO partial: empty it, or make a new one, before copying again).\n";

static int db_opt(void *ud, int id, const char *arg)
{
    int *batch = ud;
    char *end;
    long n = strtol(arg, &end, 10);
    (void)id; /* only --batch */
    if (end == arg || *end || n < 1 || n > 1000000)
        return cmd_usage("db copy", db_usage,
                         "--batch: '%s' is not a number of rows from 1 to 1000000", arg);
    *batch = (int)n;
    return 0;
}

/* Refuses a target with a password in it; FROM or TO names it. */
static int check_target(const char *which, const char *target)
{
    const char *bad = hd_config_db_problem(target);
    if (!bad)
        return 0;
    return cmd_usage("db copy", db_usage, "%s: %s (a command line shows in ps)", which, bad);
}

static void summary(const char *from, const char *to, const struct hd_store_copy_report *rep)
{
    char *f = hd_store_target_redact(from), *t = hd_store_target_redact(to);
    for (int i = 0; i < rep->ntables; i++)
        printf("  %-18s %12lld rows\n", rep->tables[i].name, (long long)rep->tables[i].rows);
    printf("copied %lld rows in %d tables from '%s' to '%s' (schema version %d%s); every "
           "table's row count matches\n",
           (long long)rep->rows, rep->ntables, f, t, rep->version,
           rep->created ? ", the target's schema created" : "");
    free(f);
    free(t);
}

int cmd_db(struct hd_ctx *ctx, int argc, char **argv)
{
    static const struct cli_opt opts[] = {{"batch", true, 'b', 0}, {0}};
    static const struct cli_spec spec = {"db copy", db_usage, opts, 0, NULL, NULL};
    struct hd_err err = {0};
    struct hd_store_copy_report rep;
    struct hd_progress p;
    static const char *const subs[] = {"copy", NULL};
    int batch = 0, rc;
    if (cmd_subcommand("db", db_usage, subs, argc, argv, &rc) < 0)
        return rc;
    int i = cli_parse_n(&spec, 2, "give FROM and TO", argc - 1, argv + 1, db_opt, &batch, &rc);
    if (i < 0)
        return rc;
    const char *from = argv[1 + i], *to = argv[2 + i];
    if ((rc = check_target("FROM", from)) != 0 || (rc = check_target("TO", to)) != 0)
        return rc;
    hd_progress_init(&p, ctx->progress, stderr, "rows", 0);
    struct hd_store_copy_opts o = {
        .from_password = cmd_db_password(ctx, from),
        .to_password = cmd_db_password(ctx, to),
        .batch = batch,
        .progress = &p,
        .stopped = cli_stopped,
    };
    cli_catch_signals(); /* Ctrl-C or SIGTERM: the copy undone, TO as it was */
    if (hd_store_copy(from, to, &o, &rep, &err) < 0)
        return cmd_fail(ctx, &err);
    summary(from, to, &rep);
    return EXIT_OK;
}
