/* ctx: what every command works with, passed explicitly: the configuration,
 * the store, the logger and the clock. There are no other globals. */
#ifndef HERALD_CTX_H
#define HERALD_CTX_H

#include <stdbool.h>

#include "herald/config.h"
#include "herald/log.h"
#include "herald/time.h"

struct hd_store;

struct hd_ctx {
    struct hd_config *cfg;   /* owned; loaded when the command needs it */
    struct hd_store *store;  /* owned; opened when the command needs it */
    struct hd_log log;       /* stderr, level from config or -v/-q */
    bool log_level_fixed;    /* -v or -q: the configuration's log_level does not apply */
    struct hd_clock clock;   /* real, or HERALD_NOW */
    const char *config_path; /* the file read, or NULL for defaults (borrowed) */
    const char *db_override; /* --db PATH, or NULL (borrowed) */
    bool progress;           /* stderr is a terminal: show progress bars */
};

/* The database path in effect: --db, else the configuration's. */
const char *hd_ctx_db_path(const struct hd_ctx *ctx);

#endif
