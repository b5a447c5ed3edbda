/*
 * cmd_config.c - CONFIG GET / SET / RESETSTAT / REWRITE / HELP.
 */
#include "server/server.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Replies with a HELP array: the title line, the given lines, then HELP. */
void reply_help(struct reply *r, const char *title, const char *const *lines)
{
    long long n = 1;
    while (lines[n - 1]) n++;
    reply_array(r, n + 2);
    reply_status(r, title);
    for (long long i = 0; i < n - 1; i++) reply_status(r, lines[i]);
    reply_status(r, "HELP");
    reply_status(r, "    Prints this help.");
}

void cmd_config_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        NULL,
    };
    reply_help(ctx->r, "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}

void cmd_config_get(struct cmd_ctx *ctx)
{
    struct config_pair *pairs = NULL;
    int n = 0, cap = 0;
    for (int i = 2; i < ctx->argc; i++)
        config_get(&srv.cfg, ctx->argv[i].ptr, ctx->argv[i].len, &pairs, &n, &cap);
    reply_map(ctx->r, n);
    for (int i = 0; i < n; i++) {
        /* a name asked for without wildcards is echoed as the caller typed it */
        const struct slice *asked = NULL;
        for (int k = 2; k < ctx->argc && !asked; k++)
            if (strcspn(ctx->argv[k].ptr, "*?[") >= ctx->argv[k].len &&
                util_eq_nocase(ctx->argv[k].ptr, ctx->argv[k].len, pairs[i].name))
                asked = &ctx->argv[k];
        if (asked)
            reply_bulk(ctx->r, asked->ptr, asked->len);
        else
            reply_cstr(ctx->r, pairs[i].name);
        reply_bulk(ctx->r, pairs[i].value.ptr ? pairs[i].value.ptr : "", pairs[i].value.len);
        buf_release(&pairs[i].value);
    }
    lode_free(pairs);
}

/* Pushes changed settings to where they are used. */
void apply_runtime_config(void)
{
    srv.eng.proto_max_bulk_len = srv.cfg.proto_max_bulk_len;
    srv.eng.lim = srv.cfg.lim;
    srv.eng.notify_flags = srv.cfg.notify_keyspace_events;
    struct buf policy = BUF_INIT;
    config_render(&srv.cfg, "maxmemory-policy", &policy);
    srv.eng.lfu = policy.ptr && strstr(policy.ptr, "lfu") != NULL;
    buf_release(&policy);
    persist_set_durability(srv.cfg.durability);
    persist_set_wal_spares(srv.cfg.wal_spare_segments);
    persist_set_wal_prefill(srv.cfg.wal_prefill);
}

void cmd_config_set(struct cmd_ctx *ctx)
{
    if ((ctx->argc - 2) % 2 != 0) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    int npairs = (ctx->argc - 2) / 2;
    struct buf err = BUF_INIT;
    /* reject duplicates and unknown names before changing anything */
    for (int i = 0; i < npairs; i++) {
        const struct slice *a = &ctx->argv[2 + 2 * i];
        if (!config_known(a->ptr, a->len)) {
            buf_printf(&err, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                       (int)a->len, a->ptr);
            goto fail;
        }
        for (int k = 0; k < i; k++) {
            const struct slice *b = &ctx->argv[2 + 2 * k];
            if (a->len == b->len && strncasecmp(a->ptr, b->ptr, a->len) == 0) {
                buf_printf(&err,
                           "ERR CONFIG SET failed (possibly related to argument '%.*s') - "
                           "duplicate parameter",
                           (int)a->len, a->ptr);
                goto fail;
            }
        }
    }
    /* apply in order; on failure put back what was applied (all or nothing) */
    struct buf *old = lode_calloc(sizeof(struct buf) * (size_t)npairs);
    int applied = 0;
    for (; applied < npairs; applied++) {
        const struct slice *nm = &ctx->argv[2 + 2 * applied], *v = &ctx->argv[3 + 2 * applied];
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)nm->len, nm->ptr);
        for (char *p = name; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        config_render(&srv.cfg, name, &old[applied]);
        if (config_set(&srv.cfg, nm->ptr, nm->len, v->ptr, v->len, &err) != 0) break;
    }
    if (applied < npairs) {
        for (int k = 0; k < applied; k++) {
            struct buf ignore = BUF_INIT;
            const struct slice *nm = &ctx->argv[2 + 2 * k];
            config_set(&srv.cfg, nm->ptr, nm->len, old[k].ptr ? old[k].ptr : "", old[k].len,
                       &ignore);
            buf_release(&ignore);
        }
    }
    for (int k = 0; k < npairs; k++) buf_release(&old[k]);
    lode_free(old);
    if (applied < npairs) goto fail;
    apply_runtime_config();
    reply_ok(ctx->r);
    return;
fail:
    reply_error(ctx->r, err.ptr);
    buf_release(&err);
}

void server_reset_stats(void)
{
    for (int i = 0; i < CMD__COUNT; i++) latency_free(&srv.cmd_stats[i].lat);
    memset(srv.cmd_stats, 0, sizeof(srv.cmd_stats));
    srv.nerrstats = 0;
    srv.stat_numconnections = srv.stat_rejected_conn = srv.stat_numcommands = 0;
    srv.stat_net_input_bytes = srv.stat_net_output_bytes = 0;
    srv.stat_total_error_replies = srv.stat_unexpected_error_replies = 0;
    srv.stat_client_qbuf_limit_disconnections = 0;
    srv.stat_client_outbuf_limit_disconnections = 0;
    srv.stat_evictedclients = 0;
    srv.stat_total_forks = 0;
    srv.stat_busy_poll_windows = srv.stat_busy_poll_hits = 0;
    memset(&srv.eng.stats, 0, sizeof(srv.eng.stats));
    memset(srv.ops_sec_samples, 0, sizeof(srv.ops_sec_samples));
}

void cmd_config_resetstat(struct cmd_ctx *ctx)
{
    server_reset_stats();
    reply_ok(ctx->r);
}

void cmd_config_rewrite(struct cmd_ctx *ctx)
{
    struct buf err = BUF_INIT;
    if (config_rewrite(&srv.cfg, &err) != 0) {
        srv_log(LL_WARNING, "CONFIG REWRITE failed: %s", err.ptr);
        reply_error(ctx->r, err.ptr);
    } else {
        srv_log(LL_NOTICE, "CONFIG REWRITE executed with success.");
        reply_ok(ctx->r);
    }
    buf_release(&err);
}
