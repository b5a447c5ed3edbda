/*
 * cmd_info.c - INFO [section ...].
 *
 * Sections and field names are Redis 7.0's, in Redis's order, so that
 * clients and tools that parse INFO (redis-py's info(), redis-cli,
 * exporters) read them unchanged. Every figure is measured, never a
 * placeholder: fields Redis has but this server cannot measure (RDB/AOF
 * internals, allocator fragmentation details) are
 * left out rather than filled with zeros that would look real. Fields
 * whose value is a true constant here (role:master, no forks, no cluster)
 * are kept because clients test them. Lodestore-only fields are prefixed
 * "lode_".
 *
 * Sections: server clients memory persistence stats replication cpu
 * modules commandstats errorstats latencystats cluster keyspace. "default"
 * is all but commandstats and latencystats; "all" and "everything" are
 * all. Unknown names are ignored, as in Redis.
 */
#include "server/server.h"
#include "server/pubsub.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

enum {
    SEC_SERVER,
    SEC_CLIENTS,
    SEC_MEMORY,
    SEC_PERSISTENCE,
    SEC_STATS,
    SEC_REPLICATION,
    SEC_CPU,
    SEC_MODULES,
    SEC_COMMANDSTATS,
    SEC_ERRORSTATS,
    SEC_LATENCYSTATS,
    SEC_CLUSTER,
    SEC_KEYSPACE,
    SEC_COUNT
};

static const char *const section_names[SEC_COUNT] = {
    "server",  "clients",      "memory",     "persistence",  "stats",   "replication", "cpu",
    "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace",
};
static const char *const section_titles[SEC_COUNT] = {
    "Server",  "Clients",      "Memory",     "Persistence",  "Stats",   "Replication", "CPU",
    "Modules", "Commandstats", "Errorstats", "Latencystats", "Cluster", "Keyspace",
};

#define SEC_BIT(s)  (1u << (s))
#define SEC_ALL     ((1u << SEC_COUNT) - 1)
#define SEC_DEFAULT (SEC_ALL & ~SEC_BIT(SEC_COMMANDSTATS) & ~SEC_BIT(SEC_LATENCYSTATS))

/* Redis's bytesToHuman: B, then K/M/G/T/P with two decimals. */
static void human_bytes(char *out, size_t cap, double n)
{
    static const char units[] = "KMGTP";
    if (n < 1024) {
        snprintf(out, cap, "%lluB", (unsigned long long)n);
        return;
    }
    int u = -1;
    while (n >= 1024 && u < 4) {
        n /= 1024;
        u++;
    }
    snprintf(out, cap, "%.2f%c", n, units[u]);
}

/* Reads the resident set size from /proc/self/statm (pages). */
size_t server_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    int got = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    if (got != 2) return 0;
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static const char *multiplexing_api(void)
{
    switch (ev_backend(srv.loop)) {
    case EVBACKEND_EPOLL: return "epoll";
    case EVBACKEND_POLL: return "poll";
    case EVBACKEND_SELECT: return "select";
    case EVBACKEND_KQUEUE: return "kqueue";
    case EVBACKEND_PORT: return "evport";
    default: return "libev";
    }
}

static void section_server(struct buf *b)
{
    struct utsname u;
    if (uname(&u) != 0) memset(&u, 0, sizeof(u));
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    long long now_us = util_us_now();
    long long uptime = (now_us / 1000 - srv.start_ms) / 1000;
    buf_printf(b,
               "redis_version:%s\r\n"
               "lode_version:%s\r\n"
               "redis_git_sha1:00000000\r\n"
               "redis_git_dirty:0\r\n"
               "redis_mode:standalone\r\n"
               "os:%s %s %s\r\n"
               "arch_bits:%d\r\n"
               "monotonic_clock:POSIX clock_gettime\r\n"
               "multiplexing_api:%s\r\n"
               "atomicvar_api:c11-builtin\r\n"
               "gcc_version:%d.%d.%d\r\n"
               "process_id:%d\r\n"
               "process_supervised:no\r\n"
               "run_id:%s\r\n"
               "tcp_port:%lld\r\n"
               "server_time_usec:%lld\r\n"
               "uptime_in_seconds:%lld\r\n"
               "uptime_in_days:%lld\r\n"
               "hz:%lld\r\n"
               "configured_hz:%lld\r\n"
               "lru_clock:%u\r\n"
               "executable:%s\r\n"
               "config_file:%s\r\n"
               "io_threads_active:0\r\n",
               LODE_REDIS_COMPAT_VERSION, LODE_VERSION, u.sysname, u.release, u.machine,
               (int)sizeof(long) * 8, multiplexing_api(),
#ifdef __GNUC__
               __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
               0, 0, 0,
#endif
               (int)getpid(), srv.run_id, srv.cfg.port, now_us, uptime, uptime / 86400, srv.cfg.hz,
               srv.cfg.hz, (unsigned)(srv.eng.lru_clock & 0xffffff), exe,
               srv.cfg.config_file ? srv.cfg.config_file : "");
}

static void section_clients(struct buf *b)
{
    size_t max_in = 0, max_out = 0;
    long long blocked = 0;
    for (struct client *c = srv.clients; c; c = c->next) {
        /* Redis counts paused clients here too */
        blocked += (c->flags & (CL_PAUSED | CL_BLOCKED)) != 0;
        if (c->q.cap > max_in) max_in = c->q.cap;
        size_t pending = c->out.len - c->sent;
        if (pending > max_out) max_out = pending;
    }
    buf_printf(b,
               "connected_clients:%lld\r\n"
               "cluster_connections:0\r\n"
               "maxclients:%lld\r\n"
               "client_recent_max_input_buffer:%zu\r\n"
               "client_recent_max_output_buffer:%zu\r\n"
               "blocked_clients:%lld\r\n"
               "tracking_clients:0\r\n"
               "clients_in_timeout_table:0\r\n",
               srv.nclients, srv.cfg.maxclients, max_in, max_out, blocked);
}

void server_track_memory_peak(void)
{
    size_t used = lode_used_memory();
    if (used > srv.stat_peak_memory) srv.stat_peak_memory = used;
}

static void section_memory(struct buf *b)
{
    server_track_memory_peak();
    size_t used = lode_used_memory();
    size_t rss = server_rss_bytes();
    size_t peak = srv.stat_peak_memory;
    size_t clients_mem = 0;
    for (struct client *c = srv.clients; c; c = c->next)
        clients_mem += c->q.cap + c->out.cap + sizeof(*c);
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    unsigned long long total = pages > 0 && psize > 0 ? (unsigned long long)pages * psize : 0;
    char h_used[32], h_rss[32], h_peak[32], h_total[32], h_max[32];
    human_bytes(h_used, sizeof(h_used), (double)used);
    human_bytes(h_rss, sizeof(h_rss), (double)rss);
    human_bytes(h_peak, sizeof(h_peak), (double)peak);
    human_bytes(h_total, sizeof(h_total), (double)total);
    human_bytes(h_max, sizeof(h_max), (double)srv.cfg.maxmemory);
    struct buf policy = BUF_INIT;
    config_render(&srv.cfg, "maxmemory-policy", &policy);
    buf_printf(b,
               "used_memory:%zu\r\n"
               "used_memory_human:%s\r\n"
               "used_memory_rss:%zu\r\n"
               "used_memory_rss_human:%s\r\n"
               "used_memory_peak:%zu\r\n"
               "used_memory_peak_human:%s\r\n"
               "used_memory_peak_perc:%.2f%%\r\n"
               "used_memory_startup:%zu\r\n"
               "total_system_memory:%llu\r\n"
               "total_system_memory_human:%s\r\n"
               "maxmemory:%lld\r\n"
               "maxmemory_human:%s\r\n"
               "maxmemory_policy:%s\r\n"
               "mem_fragmentation_ratio:%.2f\r\n"
               "mem_fragmentation_bytes:%lld\r\n"
               "mem_clients_normal:%zu\r\n"
               "mem_allocator:%s\r\n"
               "active_defrag_running:0\r\n"
               "lazyfree_pending_objects:0\r\n",
               used, h_used, rss, h_rss, peak, h_peak,
               peak ? (double)used * 100 / (double)peak : 0.0, srv.used_memory_startup, total,
               h_total, srv.cfg.maxmemory, h_max, policy.ptr ? policy.ptr : "",
               used ? (double)rss / (double)used : 0.0, (long long)rss - (long long)used,
               clients_mem, lode_allocator_name());
    buf_release(&policy);
}

static void section_persistence(struct buf *b)
{
    /* No RDB or AOF: durability is the WAL, described by lode_durability.
     * The RDB fields clients poll to wait for a save say "nothing running". */
    buf_printf(b,
               "loading:0\r\n"
               "async_loading:0\r\n"
               "rdb_changes_since_last_save:%lld\r\n"
               "rdb_bgsave_in_progress:%d\r\n"
               "rdb_last_save_time:%lld\r\n"
               "rdb_saves:0\r\n"
               "aof_enabled:0\r\n"
               "aof_rewrite_in_progress:0\r\n"
               "aof_rewrite_scheduled:0\r\n"
               "module_fork_in_progress:0\r\n",
               (long long)persist_changes_since_save(), persist_bgsave_in_progress(),
               persist_lastsave());
    persist_info(b);
}

static long long ops_per_sec(void)
{
    long long sum = 0;
    for (int i = 0; i < 16; i++) sum += srv.ops_sec_samples[i];
    return sum / 16;
}

static void section_stats(struct buf *b)
{
    const struct engine_stats *es = &srv.eng.stats;
    long long nchan, npat, nshard;
    pubsub_stats(&nchan, &npat, &nshard);
    buf_printf(b,
               "total_connections_received:%lld\r\n"
               "total_commands_processed:%lld\r\n"
               "instantaneous_ops_per_sec:%lld\r\n"
               "total_net_input_bytes:%lld\r\n"
               "total_net_output_bytes:%lld\r\n"
               "total_net_repl_input_bytes:0\r\n"
               "total_net_repl_output_bytes:0\r\n"
               "rejected_connections:%lld\r\n"
               "sync_full:0\r\n"
               "sync_partial_ok:0\r\n"
               "sync_partial_err:0\r\n"
               "expired_keys:%lld\r\n"
               "expired_time_cap_reached_count:%lld\r\n"
               "expire_cycle_cpu_milliseconds:%lld\r\n"
               "evicted_keys:0\r\n"
               "evicted_clients:%lld\r\n"
               "keyspace_hits:%lld\r\n"
               "keyspace_misses:%lld\r\n"
               "pubsub_channels:%lld\r\n"
               "pubsub_patterns:%lld\r\n"
               "pubsubshard_channels:%lld\r\n"
               "latest_fork_usec:%lld\r\n"
               "total_forks:%lld\r\n"
               "unexpected_error_replies:%lld\r\n"
               "total_error_replies:%lld\r\n"
               "client_query_buffer_limit_disconnections:%lld\r\n"
               "client_output_buffer_limit_disconnections:%lld\r\n"
               "lode_busy_poll_windows:%lld\r\n"
               "lode_busy_poll_hits:%lld\r\n",
               srv.stat_numconnections, srv.stat_numcommands, ops_per_sec(),
               srv.stat_net_input_bytes, srv.stat_net_output_bytes, srv.stat_rejected_conn,
               es->expired_keys, es->expired_time_cap_reached, es->expire_cycle_us / 1000,
               srv.stat_evictedclients, es->keyspace_hits, es->keyspace_misses, nchan, npat, nshard,
               srv.stat_fork_us, srv.stat_total_forks, srv.stat_unexpected_error_replies,
               srv.stat_total_error_replies, srv.stat_client_qbuf_limit_disconnections,
               srv.stat_client_outbuf_limit_disconnections, srv.stat_busy_poll_windows,
               srv.stat_busy_poll_hits);
}

static void section_replication(struct buf *b)
{
    buf_printf(b, "role:master\r\n"
                  "connected_slaves:0\r\n"
                  "master_failover_state:no-failover\r\n"
                  "master_repl_offset:0\r\n"
                  "repl_backlog_active:0\r\n");
}

static void section_cpu(struct buf *b)
{
    struct rusage self, children, thread;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    getrusage(RUSAGE_THREAD, &thread); /* this is the main thread */
    buf_printf(b,
               "used_cpu_sys:%ld.%06ld\r\n"
               "used_cpu_user:%ld.%06ld\r\n"
               "used_cpu_sys_children:%ld.%06ld\r\n"
               "used_cpu_user_children:%ld.%06ld\r\n"
               "used_cpu_sys_main_thread:%ld.%06ld\r\n"
               "used_cpu_user_main_thread:%ld.%06ld\r\n",
               (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec, (long)self.ru_utime.tv_sec,
               (long)self.ru_utime.tv_usec, (long)children.ru_stime.tv_sec,
               (long)children.ru_stime.tv_usec, (long)children.ru_utime.tv_sec,
               (long)children.ru_utime.tv_usec, (long)thread.ru_stime.tv_sec,
               (long)thread.ru_stime.tv_usec, (long)thread.ru_utime.tv_sec,
               (long)thread.ru_utime.tv_usec);
}

static void section_commandstats(struct buf *b)
{
    for (int i = 0; i < CMD__COUNT; i++) {
        const struct cmd_stats *st = &srv.cmd_stats[i];
        if (!st->calls && !st->failed && !st->rejected) continue;
        buf_printf(b,
                   "cmdstat_%s:calls=%lld,usec=%lld,usec_per_call=%.2f,rejected_calls=%lld,"
                   "failed_calls=%lld\r\n",
                   cmd_table[i].fullname, st->calls, st->usec,
                   st->calls ? (double)st->usec / (double)st->calls : 0.0, st->rejected,
                   st->failed);
    }
}

static void section_errorstats(struct buf *b)
{
    for (int i = 0; i < srv.nerrstats; i++)
        buf_printf(b, "errorstat_%s:count=%lld\r\n", srv.errstats[i].code, srv.errstats[i].count);
}

static void section_latencystats(struct buf *b)
{
    for (int i = 0; i < CMD__COUNT; i++) {
        const struct latency_hist *h = srv.cmd_stats[i].lat;
        if (!h || !h->count) continue;
        buf_printf(b, "latency_percentiles_usec_%s:p50=%.3f,p99=%.3f,p99.9=%.3f\r\n",
                   cmd_table[i].fullname, latency_percentile(h, 50), latency_percentile(h, 99),
                   latency_percentile(h, 99.9));
    }
}

static void section_keyspace(struct buf *b)
{
    for (int i = 0; i < srv.eng.ndbs; i++) {
        const struct db *db = &srv.eng.dbs[i];
        if (!db_size(db)) continue;
        buf_printf(b, "db%d:keys=%zu,expires=%zu,avg_ttl=%lld\r\n", i, db_size(db),
                   db_expires_count(db), db->avg_ttl);
    }
}

static void section_body(struct buf *b, int s)
{
    switch (s) {
    case SEC_SERVER: section_server(b); break;
    case SEC_CLIENTS: section_clients(b); break;
    case SEC_MEMORY: section_memory(b); break;
    case SEC_PERSISTENCE: section_persistence(b); break;
    case SEC_STATS: section_stats(b); break;
    case SEC_REPLICATION: section_replication(b); break;
    case SEC_CPU: section_cpu(b); break;
    case SEC_MODULES: break;
    case SEC_COMMANDSTATS: section_commandstats(b); break;
    case SEC_ERRORSTATS: section_errorstats(b); break;
    case SEC_LATENCYSTATS: section_latencystats(b); break;
    case SEC_CLUSTER: buf_printf(b, "cluster_enabled:0\r\n"); break;
    case SEC_KEYSPACE: section_keyspace(b); break;
    default: break;
    }
}

void cmd_info(struct cmd_ctx *ctx)
{
    unsigned want = 0;
    if (ctx->argc == 1) want = SEC_DEFAULT;
    for (int i = 1; i < ctx->argc; i++) {
        if (arg_is(ctx, i, "all") || arg_is(ctx, i, "everything")) {
            want |= SEC_ALL;
            continue;
        }
        if (arg_is(ctx, i, "default")) {
            want |= SEC_DEFAULT;
            continue;
        }
        for (int s = 0; s < SEC_COUNT; s++)
            if (arg_is(ctx, i, section_names[s])) want |= SEC_BIT(s);
    }
    struct buf b = BUF_INIT;
    buf_reserve(&b, 4096);
    for (int s = 0; s < SEC_COUNT; s++) {
        if (!(want & SEC_BIT(s))) continue;
        if (b.len) buf_append(&b, "\r\n", 2);
        buf_printf(&b, "# %s\r\n", section_titles[s]);
        section_body(&b, s);
    }
    reply_verbatim(ctx->r, b.ptr, b.len);
    buf_release(&b);
}
