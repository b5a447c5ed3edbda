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
    /* no hit/miss stats and no keymiss, as Redis */
    struct kv *kv = db_lookup(ctx->eng, ctx->db, ctx->argv[2].ptr, ctx->argv[2].len,
                              LOOKUP_NOTOUCH | LOOKUP_NOSTATS);
    if (!kv) {
        reply_null(ctx->r);
        return;
    }
    reply_int(ctx->r, (long long)kv_mem_usage(kv));
}

void cmd_memory_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        NULL,
    };
    reply_help(ctx->r, "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}

/* Bytes of client buffers (query and reply), for MEMORY STATS. */
static size_t clients_memory(void)
{
    size_t n = 0;
    for (struct client *c = srv.clients; c; c = c->next) n += c->q.cap + c->out.cap;
    return n;
}

void cmd_memory_stats(struct cmd_ctx *ctx)
{
    struct reply *r = ctx->r;
    size_t used = lode_used_memory(),
           peak = srv.stat_peak_memory > used ? srv.stat_peak_memory : used;
    size_t rss = server_rss_bytes(), cl = clients_memory();
    size_t overhead = srv.used_memory_startup + cl;
    long long keys = 0;
    int ndb = 0;
    for (int i = 0; i < srv.eng.ndbs; i++) {
        if (!db_size(&srv.eng.dbs[i])) continue;
        keys += (long long)db_size(&srv.eng.dbs[i]);
        ndb++;
    }
    /* the bucket arrays are the keyspace's own overhead */
    size_t tables = 0;
    for (int i = 0; i < srv.eng.ndbs; i++)
        tables += (dict_buckets(&srv.eng.dbs[i].keys) + dict_buckets(&srv.eng.dbs[i].expires)) *
                  sizeof(void *);
    overhead += tables;
    size_t dataset = used > overhead ? used - overhead : 0;
    reply_map(r, 19 + ndb);
    reply_cstr(r, "peak.allocated");
    reply_int(r, (long long)peak);
    reply_cstr(r, "total.allocated");
    reply_int(r, (long long)used);
    reply_cstr(r, "startup.allocated");
    reply_int(r, (long long)srv.used_memory_startup);
    reply_cstr(r, "replication.backlog");
    reply_int(r, 0);
    reply_cstr(r, "clients.slaves");
    reply_int(r, 0);
    reply_cstr(r, "clients.normal");
    reply_int(r, (long long)cl);
    reply_cstr(r, "cluster.links");
    reply_int(r, 0);
    reply_cstr(r, "aof.buffer");
    reply_int(r, 0);
    reply_cstr(r, "lua.caches");
    reply_int(r, 0);
    reply_cstr(r, "functions.caches");
    reply_int(r, 0);
    for (int i = 0; i < srv.eng.ndbs; i++) {
        const struct db *db = &srv.eng.dbs[i];
        if (!db_size(db)) continue;
        char name[32];
        snprintf(name, sizeof(name), "db.%d", i);
        reply_cstr(r, name);
        reply_map(r, 2);
        reply_cstr(r, "overhead.hashtable.main");
        reply_int(r, (long long)(dict_buckets(&db->keys) * sizeof(void *)));
        reply_cstr(r, "overhead.hashtable.expires");
        reply_int(r, (long long)(dict_buckets(&db->expires) * sizeof(void *)));
    }
    reply_cstr(r, "overhead.total");
    reply_int(r, (long long)overhead);
    reply_cstr(r, "keys.count");
    reply_int(r, keys);
    reply_cstr(r, "keys.bytes-per-key");
    reply_int(r, keys ? (long long)((used - srv.used_memory_startup) / (size_t)keys) : 0);
    reply_cstr(r, "dataset.bytes");
    reply_int(r, (long long)dataset);
    reply_cstr(r, "dataset.percentage");
    reply_double(r, used > srv.used_memory_startup
                        ? (double)dataset * 100 / (double)(used - srv.used_memory_startup)
                        : 0.0);
    reply_cstr(r, "peak.percentage");
    reply_double(r, peak ? (double)used * 100 / (double)peak : 0.0);
    reply_cstr(r, "allocator");
    reply_cstr(r, lode_allocator_name());
    reply_cstr(r, "fragmentation");
    reply_double(r, used ? (double)rss / (double)used : 0.0);
    reply_cstr(r, "fragmentation.bytes");
    reply_int(r, (long long)rss - (long long)used);
}

void cmd_memory_doctor(struct cmd_ctx *ctx)
{
    size_t used = lode_used_memory(), rss = server_rss_bytes();
    struct buf b = BUF_INIT;
    if (used < 5 * 1024 * 1024) {
        buf_printf(&b,
                   "This instance holds very little data (%zu bytes allocated): there is "
                   "nothing to diagnose yet.\n",
                   used);
    } else if (rss > used + used / 2 && rss - used > 10 * 1024 * 1024) {
        buf_printf(&b,
                   "High fragmentation: the process uses %zu bytes of RAM for %zu bytes of "
                   "data (ratio %.2f). MEMORY PURGE returns unused pages to the system.\n",
                   rss, used, (double)rss / (double)used);
    } else {
        buf_printf(&b, "No memory problem found: %zu bytes allocated, %zu bytes resident.\n", used,
                   rss);
    }
    reply_verbatim(ctx->r, b.ptr, b.len);
    buf_release(&b);
}

void cmd_memory_purge(struct cmd_ctx *ctx)
{
    lode_allocator_purge();
    reply_ok(ctx->r);
}

void cmd_memory_malloc_stats(struct cmd_ctx *ctx)
{
    struct buf b = BUF_INIT;
    if (lode_allocator_stats(&b) != 0)
        buf_printf(&b, "Stats not supported for the current allocator");
    reply_verbatim(ctx->r, b.ptr, b.len);
    buf_release(&b);
}
