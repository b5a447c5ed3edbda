/*
 * scripting.c - the server's side of Lua scripting: EVAL, EVALSHA,
 * EVAL_RO, EVALSHA_RO and SCRIPT LOAD / EXISTS / FLUSH / KILL / HELP over
 * the engine in lua/script.h.
 *
 * A script's commands run through dispatch_call_queued for the calling
 * client, in the script's protocol (redis.setresp) and in its own db
 * (SELECT inside a script does not change the caller's db, as Redis 7.0),
 * with session.in_exec set so blocking commands do not block. Their
 * effects collect in the engine's effects buffer and the dispatcher logs
 * them after EVAL returns as one WAL record (a script is all or nothing on
 * disk), and the reply is held like any write's.
 *
 * A long script: lua/ calls tick every SCRIPT_HOOK_STEP instructions. Past
 * busy-reply-threshold, tick serves other clients in a restricted mode
 * (server/busy.h: BUSY for all but SCRIPT KILL, SHUTDOWN NOSAVE, ...).
 */
#include "engine/lode.h"
#include "engine/util.h"
#include "lua/script.h"
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

static struct script_engine *engine; /* created at the first use */

static long long host_call(void *priv, const struct cmd_def *cmd, int argc,
                           const struct slice *argv, int resp, struct buf *out)
{
    struct client *c = priv;
    int saved_resp = c->sess.resp;
    bool saved_exec = c->sess.in_exec;
    long long dirty0 = srv.eng.dirty;
    c->sess.resp = resp;
    c->sess.in_exec = true;
    dispatch_call_queued(c, cmd, argc, argv, out);
    c->sess.resp = saved_resp;
    c->sess.in_exec = saved_exec;
    return srv.eng.dirty - dirty0;
}

static const char *host_deny_write(void *priv)
{
    (void)priv;
    return persist_failed() ? persist_error_reply() : NULL;
}

static void host_log(void *priv, int level, const char *msg)
{
    (void)priv;
    srv_log(level, "%s", msg);
}

static void host_tick(void *priv, long long elapsed_ms);

static struct script_engine *get_engine(struct client *c)
{
    struct script_host h = {
        .call = host_call,
        .deny_write = host_deny_write,
        .tick = host_tick,
        .log = host_log,
        .priv = c,
    };
    if (!engine) engine = script_new(&h);
    return engine;
}

/* The host's priv is the calling client: set per call. */
static struct script_engine *engine_for(struct client *c)
{
    struct script_engine *se = get_engine(c);
    script_set_host_priv(se, c);
    return se;
}

/* ---- busy scripts ---- */

static void host_tick(void *priv, long long elapsed_ms)
{
    (void)priv;
    if (srv.cfg.busy_reply_threshold <= 0 || elapsed_ms < srv.cfg.busy_reply_threshold) return;
    scripting_serve_while_busy();
}

bool scripting_busy(void)
{
    return engine && script_running(engine) != SCRIPT_NONE && srv.cfg.busy_reply_threshold > 0 &&
           script_running_ms(engine) >= srv.cfg.busy_reply_threshold;
}

/* ---- EVAL family ---- */

/* Parses numkeys at argv[2]; fills call. Replies and returns false on
 * error. */
static bool parse_call(struct cmd_ctx *ctx, struct script_call *call)
{
    long long nk;
    if (!arg_ll(ctx, 2, &nk, NULL)) return false;
    if (nk < 0) {
        reply_error(ctx->r, "ERR Number of keys can't be negative");
        return false;
    }
    if (nk > ctx->argc - 3) {
        reply_error(ctx->r, "ERR Number of keys can't be greater than number of args");
        return false;
    }
    call->nkeys = (int)nk;
    call->keys = ctx->argv + 3;
    call->nargs = ctx->argc - 3 - (int)nk;
    call->args = ctx->argv + 3 + nk;
    call->readonly = false;
    return true;
}

static void eval_generic(struct cmd_ctx *ctx, bool sha, bool ro)
{
    struct client *c = ctx->client;
    struct script_call call;
    if (!parse_call(ctx, &call)) return;
    call.readonly = ro;
    struct script_engine *se = engine_for(c);
    int db = c->sess.db;
    if (sha)
        script_evalsha(se, ctx->argv[1].ptr, ctx->argv[1].len, &call, ctx->r);
    else
        script_eval(se, ctx->argv[1].ptr, ctx->argv[1].len, &call, ctx->r);
    c->sess.db = db; /* SELECT inside the script stays inside it */
}

void cmd_eval(struct cmd_ctx *ctx)
{
    eval_generic(ctx, false, false);
}
void cmd_evalsha(struct cmd_ctx *ctx)
{
    eval_generic(ctx, true, false);
}
void cmd_eval_ro(struct cmd_ctx *ctx)
{
    eval_generic(ctx, false, true);
}
void cmd_evalsha_ro(struct cmd_ctx *ctx)
{
    eval_generic(ctx, true, true);
}

/* ---- SCRIPT ---- */

void cmd_script_load(struct cmd_ctx *ctx)
{
    char sha[41];
    struct buf err = BUF_INIT;
    if (script_load(engine_for(ctx->client), ctx->argv[2].ptr, ctx->argv[2].len, sha, &err) != 0)
        reply_error(ctx->r, err.ptr);
    else
        reply_bulk(ctx->r, sha, 40);
    buf_release(&err);
}

void cmd_script_exists(struct cmd_ctx *ctx)
{
    struct script_engine *se = engine_for(ctx->client);
    reply_array(ctx->r, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++)
        reply_int(ctx->r, script_exists(se, ctx->argv[i].ptr, ctx->argv[i].len));
}

void cmd_script_flush(struct cmd_ctx *ctx)
{
    if (ctx->argc > 3 || (ctx->argc == 3 && !arg_is(ctx, 2, "sync") && !arg_is(ctx, 2, "async"))) {
        reply_error(ctx->r, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    script_flush(engine_for(ctx->client));
    reply_ok(ctx->r);
}

void cmd_script_kill(struct cmd_ctx *ctx)
{
    if (!engine || script_running(engine) == SCRIPT_NONE) {
        reply_error(ctx->r, "NOTBUSY No scripts in execution right now.");
        return;
    }
    if (script_running_wrote(engine)) {
        reply_error(ctx->r, "UNKILLABLE Sorry the script already executed write commands against "
                            "the dataset. You can either wait the script termination or kill the "
                            "server in a hard way using the SHUTDOWN NOSAVE command.");
        return;
    }
    script_kill(engine);
    reply_ok(ctx->r);
}

void cmd_script_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        NULL};
    reply_help(ctx->r, "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}

/* INFO memory / INFO stats helpers */
size_t scripting_memory(void)
{
    return engine ? script_memory(engine) : 0;
}
long long scripting_cached(void)
{
    return engine ? script_cached(engine) : 0;
}

bool scripting_running(void)
{
    return engine && script_running(engine) != SCRIPT_NONE;
}

/* From the Lua hook, past the threshold: one non-blocking turn of the
 * loop. The script's own client reads nothing meanwhile (its arguments
 * point into its query buffer, and it must not be freed under the
 * script); dispatch answers BUSY to everything but allow_busy commands;
 * the cron skips its data work. SHUTDOWN NOSAVE ends the process here:
 * the script's unlogged effects are dropped, as with a kill -9. */
void scripting_serve_while_busy(void)
{
    static bool inside;
    if (inside) return;
    inside = true;
    struct client *c = srv.current;
    bool rio = c && ev_is_active(&c->rio);
    if (rio) ev_io_stop(srv.loop, &c->rio);
    ev_run(srv.loop, EVRUN_NOWAIT);
    if (rio) ev_io_start(srv.loop, &c->rio);
    inside = false;
    if (srv.shutdown_asap && !srv.shutdown_checkpoint) {
        srv_log(LL_WARNING, "SHUTDOWN NOSAVE while a script runs: exiting now");
        persist_close();
        exit(srv.shutdown_exit_code);
    }
}
