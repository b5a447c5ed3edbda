/*
 * dispatch.c - runs one parsed command: resolve it in the command table,
 * check authentication, run the handler, account statistics, feed the
 * slow log and MONITOR.
 */
#include "server/server.h"
#include "server/blocking.h"
#include "server/multi.h"
#include "server/pubsub.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CMD_SERVER_PROTOTYPES
#include "engine/commands.def"
#undef CMD_SERVER_PROTOTYPES

void dispatch_init(void)
{
    cmd_table_init();
#define BIND(id, fn) cmd_bind(id, fn);
#define CMD_SERVER_BINDINGS
#include "engine/commands.def"
#undef CMD_SERVER_BINDINGS
#undef BIND
    for (int i = 0; i < CMD__COUNT; i++) {
        const struct cmd_def *c = &cmd_table[i];
        if (!c->fn && !c->nsubs) {
            fprintf(stderr, "command '%s' has no handler\n", c->fullname);
            abort();
        }
    }
}

void stats_count_error(const char *code)
{
    if (!code || !code[0]) code = "ERR";
    for (int i = 0; i < srv.nerrstats; i++) {
        if (strcmp(srv.errstats[i].code, code) == 0) {
            srv.errstats[i].count++;
            return;
        }
    }
    /* Redis caps distinct error codes at 128 to bound memory */
    if (srv.nerrstats >= 128) return;
    srv.errstats = lode_realloc(srv.errstats, sizeof(*srv.errstats) * (size_t)(srv.nerrstats + 1));
    struct errstat *e = &srv.errstats[srv.nerrstats++];
    snprintf(e->code, sizeof(e->code), "%s", code);
    e->count = 1;
}

/* A command known to the table but rejected before running counts as
 * rejected for that command. */
static void count_rejected(struct client *c)
{
    const struct cmd_def *cmd = cmd_lookup(c->argv[0].ptr, c->argv[0].len);
    if (!cmd) return;
    if (cmd->nsubs && c->argc > 1) {
        /* an unknown subcommand is counted nowhere, as in Redis */
        cmd = cmd_lookup_sub(cmd, c->argv[1].ptr, c->argv[1].len);
        if (!cmd) return;
    }
    srv.cmd_stats[cmd->id].rejected++;
}

static void account_errors(struct reply *r)
{
    if (!r->errors) return;
    srv.stat_total_error_replies += r->errors;
    stats_count_error(r->err_code);
}

/* Safety net for the write path: a command declared `rewrite` that changed
 * data without emitting its deterministic form was just logged verbatim,
 * which replay may not reproduce (a relative TTL, a float sum). Debug and
 * sanitizer builds say so once per command, so tests reveal the missing
 * rewrite; release builds stay quiet and keep the verbatim fallback. */
static void warn_missing_rewrite(const struct cmd_def *cmd)
{
#ifndef NDEBUG
    static bool warned[CMD__COUNT];
    if (warned[cmd->id]) return;
    warned[cmd->id] = true;
    srv_log(LL_WARNING,
            "'%s' is declared \"wal\": \"rewrite\" but changed data without emitting its "
            "deterministic form: logged verbatim",
            cmd->fullname);
#else
    (void)cmd;
#endif
}

/* While a threaded checkpoint runs, every key a write command names is
 * announced before the command runs (db.h before_key_change), so the
 * snapshot saves it as it was whatever path the command takes to change
 * it. */
static void announce_writes(struct cmd_ctx *ctx)
{
    int local[64];
    const struct cmd_keyspec *lspec[64];
    bool big = ctx->argc > 64;
    int *pos = big ? lode_malloc(sizeof(int) * (size_t)ctx->argc) : local;
    const struct cmd_keyspec **spec = big ? lode_malloc(sizeof(*spec) * (size_t)ctx->argc) : lspec;
    int n = cmd_key_positions(ctx->cmd, ctx->argc, ctx->argv, pos, spec, ctx->argc);
    for (int i = 0; i < n; i++) {
        /* a key the command only reads (SUNIONSTORE's sources) stays as is */
        const char *f = spec[i] ? spec[i]->flags : NULL;
        if (f && f[0] == 'R' && f[1] == 'O' && (f[2] == ' ' || f[2] == '\0')) continue;
        db_will_change(ctx->eng, ctx->db, ctx->argv[pos[i]].ptr, ctx->argv[pos[i]].len);
    }
    if (big) {
        lode_free(pos);
        lode_free(spec);
    }
}

/* Runs a resolved command for c: the handler, the single write path's rule
 * (its effects join the engine's buffer; the caller logs them), statistics,
 * the slow log and MONITOR. t0 is when the command began. */
static void call(struct client *c, const struct cmd_def *cmd, int argc, const struct slice *argv,
                 struct reply *r, const struct timespec *t0)
{
    int db0 = c->sess.db;
    struct cmd_ctx ctx = {
        .eng = &srv.eng,
        .sess = &c->sess,
        .db = &srv.eng.dbs[c->sess.db],
        .argc = argc,
        .argv = argv,
        .r = r,
        .cmd = cmd,
        .client = c,
        .dirty = 0,
    };
    /* EXEC calls this for each queued command while it runs itself */
    struct client *outer = srv.current;
    const struct cmd_def *outer_cmd = c->cur_cmd;
    srv.current = c;
    c->cur_cmd = cmd;
    if (srv.eng.before_key_change && (cmd->flags & CMDF_WRITE)) announce_writes(&ctx);
    cmd->fn(&ctx);
    if (ctx.block.first_key) blocking_block(c, &ctx.block);
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long ns = (t1.tv_sec - t0->tv_sec) * 1000000000LL + (t1.tv_nsec - t0->tv_nsec);
    long long dur = ns / 1000;
    srv.current = outer;
    c->cur_cmd = outer_cmd;
    c->last_cmd = cmd;
    if (ctx_log_effects(&ctx, db0)) warn_missing_rewrite(cmd);

    struct cmd_stats *st = &srv.cmd_stats[cmd->id];
    st->calls++;
    st->usec += dur;
    latency_record(&st->lat, (uint64_t)ns);
    if (r->errors) st->failed++;
    srv.stat_numcommands++;
    if (!(cmd->flags & CMDF_SKIP_SLOWLOG)) slowlog_push(c, argc, argv, dur);
    if (srv.monitors && !(cmd->flags & (CMDF_SKIP_MONITOR | CMDF_ADMIN)))
        monitor_feed(c, argc, argv);
}

void dispatch_call_queued(struct client *c, const struct cmd_def *cmd, int argc,
                          const struct slice *argv, struct buf *out)
{
    struct reply r;
    reply_init(&r, out, c->sess.resp);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    call(c, cmd, argc, argv, &r, &t0);
    account_errors(&r);
}

/* A command refused before running: inside MULTI the transaction is
 * flagged (EXEC will abort); a refused EXEC discards it at once. */
static void reject(struct client *c, const struct cmd_def *cmd, struct reply *r, const char *msg)
{
    if (cmd) srv.cmd_stats[cmd->id].rejected++;
    if (cmd && cmd->id == CMD_EXEC) {
        multi_abort_exec(c, r, msg);
        return;
    }
    reply_error(r, msg);
    multi_flag_error(c);
}

void dispatch_command(struct client *c)
{
    /* CLIENT REPLY OFF/SKIP: the reply is built, then dropped */
    static struct buf discard;
    bool skip = (c->flags & (CL_REPLY_OFF | CL_REPLY_SKIP_NEXT)) != 0;
    if (c->flags & CL_REPLY_SKIP_NEXT) c->flags &= ~CL_REPLY_SKIP_NEXT;
    struct reply r;
    reply_init(&r, skip ? &discard : &c->out, c->sess.resp);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    srv.eng.now_ms = (long long)t0.tv_sec * 1000 + t0.tv_nsec / 1000000 + srv.wall_offset_ms;
    const struct cmd_def *cmd;
    if (c->argc != 1 && util_eq_nocase(c->argv[0].ptr, c->argv[0].len, "exec")) {
        /* as Redis: EXEC with arguments aborts the transaction */
        cmd = &cmd_table[CMD_EXEC];
        reject(c, cmd, &r, "wrong number of arguments for 'exec' command");
        goto done;
    }
    cmd = cmd_resolve(c->argc, c->argv, &r);
    if (!cmd) {
        count_rejected(c);
        multi_flag_error(c);
        goto done;
    }
    if (!(c->flags & CL_AUTHENTICATED) && !(cmd->flags & CMDF_NO_AUTH)) {
        reject(c, cmd, &r, "NOAUTH Authentication required.");
        goto done;
    }
    if (scripting_busy() && !(cmd->flags & CMDF_ALLOW_BUSY)) {
        reject(c, cmd, &r, scripting_busy_reply());
        goto done;
    }
    char psmsg[256];
    if (pubsub_refuses(c, cmd, psmsg, sizeof(psmsg))) { /* RESP2 subscribed mode */
        reject(c, cmd, &r, psmsg);
        goto done;
    }
    bool queue = multi_active(c) && !multi_runs_now(cmd);
    if (queue && (cmd->flags & CMDF_NO_MULTI)) {
        reject(c, cmd, &r, "ERR Command not allowed inside a transaction");
        goto done;
    }
    /* EXEC counts as a write when it would run one; a script that declares
     * writes counts too (its flags are computed only when they matter) */
    if (persist_failed() && ((scripting_command_flags(cmd, c->argc, c->argv) & CMDF_WRITE) ||
                             (cmd->id == CMD_EXEC && multi_has_writes(c)))) {
        reject(c, cmd, &r, persist_error_reply());
        goto done;
    }
    if (queue) {
        if (multi_queue(c, cmd, c->argc, c->argv))
            reply_status(&r, "QUEUED");
        else
            reject(c, cmd, &r, "ERR transaction too large: its commands exceed 512mb of arguments");
        goto done;
    }
    size_t reply_start = c->out.len;
    call(c, cmd, c->argc, c->argv, &r, &t0);
    /* the single write path: what changed goes to the WAL as one record
     * (for EXEC, what every queued command changed) */
    persist_log_effects();
    if (!skip) persist_hold_reply(c, reply_start);
done:
    account_errors(&r);
    if (skip) {
        discard.len = 0;
        buf_shrink(&discard);
    }
    if (c->flags & CL_REPLY_SKIP) {
        /* CLIENT REPLY SKIP itself: its own reply was dropped, the next one will be */
        c->flags &= ~CL_REPLY_SKIP;
        c->flags |= CL_REPLY_SKIP_NEXT;
    }
    /* serve clients blocked on keys this command (or transaction) made
     * ready, after its own record, so the WAL holds the push before the
     * pops it fed */
    blocking_handle_ready();
}

bool dispatch_serve(struct client *c, const struct cmd_def *cmd, const struct slice *key)
{
    static struct buf discard;
    bool skip = (c->flags & CL_REPLY_OFF) != 0;
    /* the query buffer may have moved since the command was parsed */
    c->argc = resp_args(&c->parser, &c->q, c->argv);
    struct reply r;
    reply_init(&r, skip ? &discard : &c->out, c->sess.resp);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    srv.eng.now_ms = (long long)t0.tv_sec * 1000 + t0.tv_nsec / 1000000 + srv.wall_offset_ms;
    size_t reply_start = c->out.len;
    int db0 = c->sess.db;
    struct cmd_ctx ctx = {
        .eng = &srv.eng,
        .sess = &c->sess,
        .db = &srv.eng.dbs[c->sess.db],
        .argc = c->argc,
        .argv = c->argv,
        .r = &r,
        .cmd = cmd,
        .client = c,
        .serve_key = key,
    };
    struct client *prev = srv.current;
    srv.current = c;
    if (srv.eng.before_key_change && (cmd->flags & CMDF_WRITE)) announce_writes(&ctx);
    cmd->fn(&ctx);
    srv.current = prev;
    if (ctx_log_effects(&ctx, db0)) warn_missing_rewrite(cmd);
    persist_log_effects();
    if (!skip) persist_hold_reply(c, reply_start);
    if (r.errors) srv.cmd_stats[cmd->id].failed++;
    account_errors(&r);
    discard.len = 0;
    return ctx.block.first_key != 0;
}

/* ---- slow log ---- */

#define SLOWLOG_MAX_ARGC   32
#define SLOWLOG_MAX_ARGLEN 128

struct slowlog_entry {
    long long id, time, duration;
    int argc;
    struct buf *argv; /* owned array of argc buffers */
    char addr[64];
    char *name;
    struct slowlog_entry *next;
};

static void slowlog_entry_free(struct slowlog_entry *e)
{
    for (int i = 0; i < e->argc; i++) buf_release(&e->argv[i]);
    lode_free(e->argv);
    free(e->name);
    lode_free(e);
}

void slowlog_push(struct client *c, int cargc, const struct slice *cargv, long long duration_us)
{
    if (srv.cfg.slowlog_log_slower_than < 0 || duration_us < srv.cfg.slowlog_log_slower_than)
        return;
    struct slowlog_entry *e = lode_calloc(sizeof(*e));
    e->id = srv.slowlog_next_id++;
    e->time = util_ms_now() / 1000;
    e->duration = duration_us;
    int argc = cargc > SLOWLOG_MAX_ARGC ? SLOWLOG_MAX_ARGC : cargc;
    e->argc = argc;
    e->argv = lode_calloc(sizeof(struct buf) * (size_t)argc);
    for (int i = 0; i < argc; i++) {
        if (i == argc - 1 && argc != cargc) {
            buf_printf(&e->argv[i], "... (%d more arguments)", cargc - argc + 1);
            break;
        }
        const struct slice *a = &cargv[i];
        if (a->len > SLOWLOG_MAX_ARGLEN) {
            buf_append(&e->argv[i], a->ptr, SLOWLOG_MAX_ARGLEN);
            buf_printf(&e->argv[i], "... (%zu more bytes)", a->len - SLOWLOG_MAX_ARGLEN);
        } else {
            buf_append(&e->argv[i], a->ptr, a->len);
        }
    }
    snprintf(e->addr, sizeof(e->addr), "%s", c->addr);
    e->name = c->name ? strdup(c->name) : NULL;
    e->next = srv.slowlog;
    srv.slowlog = e;
    srv.slowlog_len++;
    /* trim to slowlog-max-len */
    struct slowlog_entry **pp = &srv.slowlog;
    long long k = 0;
    while (*pp && k < srv.cfg.slowlog_max_len) {
        pp = &(*pp)->next;
        k++;
    }
    while (*pp) {
        struct slowlog_entry *dead = *pp;
        *pp = dead->next;
        slowlog_entry_free(dead);
        srv.slowlog_len--;
    }
}

void slowlog_reset(void)
{
    while (srv.slowlog) {
        struct slowlog_entry *e = srv.slowlog;
        srv.slowlog = e->next;
        slowlog_entry_free(e);
    }
    srv.slowlog_len = 0;
}

/* SLOWLOG GET [count] */
void slowlog_reply(struct reply *r, long long count)
{
    if (count < 0 || count > srv.slowlog_len) count = srv.slowlog_len;
    reply_array(r, count);
    struct slowlog_entry *e = srv.slowlog;
    for (long long i = 0; i < count && e; i++, e = e->next) {
        reply_array(r, 6);
        reply_int(r, e->id);
        reply_int(r, e->time);
        reply_int(r, e->duration);
        reply_array(r, e->argc);
        for (int k = 0; k < e->argc; k++) reply_bulk(r, e->argv[k].ptr, e->argv[k].len);
        reply_cstr(r, e->addr);
        reply_cstr(r, e->name ? e->name : "");
    }
}

/* ---- MONITOR ---- */

void monitor_feed(struct client *c, int argc, const struct slice *argv)
{
    struct buf line = BUF_INIT;
    long long us = util_us_now();
    buf_printf(&line, "+%lld.%06lld [%d %s]", us / 1000000, us % 1000000, c->sess.db,
               (c->flags & CL_UNIX) ? "unix" : c->addr);
    for (int i = 0; i < argc; i++) {
        buf_putc(&line, ' ');
        buf_append_repr(&line, argv[i].ptr, argv[i].len);
    }
    buf_append(&line, "\r\n", 2);
    for (struct client *m = srv.monitors; m; m = m->mon_next) {
        if (m == c) continue;
        buf_append(&m->out, line.ptr, line.len);
        client_schedule_write(m);
    }
    buf_release(&line);
}
