/*
 * cmd_save.c - SAVE, BGSAVE and LASTSAVE: checkpoints on demand
 * (server/persist.h). Replies as Redis 7.0 gives them for RDB saves.
 */
#include "engine/lode.h"
#include "server/persist.h"
#include "server/server.h"

#include <errno.h>

void cmd_save(struct cmd_ctx *ctx)
{
    int rc = persist_save();
    if (rc == -EBUSY)
        reply_error(ctx->r, "ERR Background save already in progress");
    else if (rc)
        reply_error(ctx->r, "ERR");
    else
        reply_ok(ctx->r);
}

void cmd_bgsave(struct cmd_ctx *ctx)
{
    bool schedule = false;
    if (ctx->argc > 1) {
        if (ctx->argc == 2 && arg_is(ctx, 1, "schedule")) {
            schedule = true;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
    }
    (void)schedule; /* no other kind of child exists to wait for */
    if (persist_bgsave_in_progress()) {
        reply_error(ctx->r, "ERR Background save already in progress");
    } else if (ctx->sess->in_exec) {
        /* the transaction's writes are logged after it: start then */
        persist_schedule_bgsave();
        reply_status(ctx->r, "Background saving scheduled");
    } else if (persist_bgsave() == 0) {
        reply_status(ctx->r, "Background saving started");
    } else {
        reply_error(ctx->r, "ERR");
    }
}

void cmd_lastsave(struct cmd_ctx *ctx)
{
    reply_int(ctx->r, persist_lastsave());
}
