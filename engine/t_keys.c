/*
 * t_keys.c - generic keyspace commands (DEL, EXISTS, EXPIRE family, SCAN,
 * RENAME, COPY, MOVE, SELECT, SWAPDB, FLUSHDB, ...).
 */
#include "engine/cmd.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <string.h>

void cmd_del(struct cmd_ctx *ctx)
{
    long long n = 0;
    for (int i = 1; i < ctx->argc; i++) {
        /* an expired key is not counted: look it up (expiring it) first */
        if (!ctx_lookup_write(ctx, i)) continue;
        if (db_delete(ctx->eng, ctx->db, ctx->argv[i].ptr, ctx->argv[i].len)) n++;
    }
    ctx_dirty(ctx, n);
    reply_int(ctx->r, n);
}

void cmd_select(struct cmd_ctx *ctx)
{
    long long id;
    if (!arg_ll_range(ctx, 1, INT32_MIN, INT32_MAX, &id, NULL)) return;
    if (id < 0 || id >= ctx->eng->ndbs) {
        reply_error(ctx->r, ERR_DBINDEX);
        return;
    }
    ctx->sess->db = (int)id;
    ctx->db = &ctx->eng->dbs[id];
    reply_ok(ctx->r);
}
