/* ctx: the context every command works with; what it answers from its
 * fields. */
#include "herald/ctx.h"

const char *hd_ctx_db_path(const struct hd_ctx *ctx)
{
    return ctx->db_override ? ctx->db_override : ctx->cfg ? ctx->cfg->database : "var/herald.db";
}
