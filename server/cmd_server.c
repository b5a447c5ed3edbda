/*
 * cmd_server.c - TIME, SLOWLOG GET / LEN / RESET / HELP, MEMORY USAGE /
 * HELP. (The slow log itself is recorded in dispatch.c.)
 */
#include "server/server.h"
#include "engine/lode.h"
#include "engine/object.h"
#include "engine/util.h"

#include <limits.h>
#include <stdio.h>

void cmd_time(struct cmd_ctx *ctx)
{
    long long us = util_us_now();
    reply_array(ctx->r, 2);
    reply_bulk_ll(ctx->r, us / 1000000);
    reply_bulk_ll(ctx->r, us % 1000000);
}

void cmd_slowlog_get(struct cmd_ctx *ctx)
{
    long long count = 10;
    if (ctx->argc > 3) {
        reply_errorf(ctx->r,
                     "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try "
                     "SLOWLOG HELP.",
                     (int)ctx->argv[1].len, ctx->argv[1].ptr);
        return;
    }
    if (ctx->argc == 3 && !arg_ll_range(ctx, 2, -1, LLONG_MAX, &count,
                                        "ERR count should be greater than or equal to -1"))
        return;
    slowlog_reply(ctx->r, count);
}

void cmd_slowlog_len(struct cmd_ctx *ctx)
{
    reply_int(ctx->r, srv.slowlog_len);
}

void cmd_slowlog_reset(struct cmd_ctx *ctx)
{
    slowlog_reset();
    reply_ok(ctx->r);
}

void cmd_slowlog_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        NULL,
    };
    reply_help(ctx->r, "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}

void cmd_memory_usage(struct cmd_ctx *ctx)
{
    /* SAMPLES is accepted and checked as Redis does; our sizes are exact
     * (every allocation is measured), so nothing is sampled */
    for (int j = 3; j < ctx->argc; j++) {
        if (arg_is(ctx, j, "samples") && j + 1 < ctx->argc) {
            long long samples;
            if (!arg_ll(ctx, j + 1, &samples, NULL)) return;
            if (samples < 0) {
                reply_error(ctx->r, ERR_SYNTAX);
                return;
            }
            j++;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
    }
    struct kv *kv =
        db_lookup(ctx->eng, ctx->db, ctx->argv[2].ptr, ctx->argv[2].len, LOOKUP_NOTOUCH);
    if (!kv) {
        reply_null(ctx->r);
        return;
    }
    reply_int(ctx->r, (long long)kv_mem_usage(kv));
}

void cmd_memory_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        NULL,
    };
    reply_help(ctx->r, "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}
