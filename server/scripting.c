/*
 * scripting.c - the server's side of Lua scripting: EVAL, EVALSHA,
 * EVAL_RO, EVALSHA_RO, SCRIPT LOAD / EXISTS / FLUSH / KILL / HELP, FCALL,
 * FCALL_RO and FUNCTION LOAD / DELETE / LIST / FLUSH / DUMP / RESTORE /
 * STATS / KILL / HELP over the engine in lua/script.h. Functions are
 * durable (WAL records and the checkpoint's "functions" meta record); the
 * script cache is not, as in Redis 7.
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
#include "engine/fdump.h"
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

/* SCRIPT KILL and FUNCTION KILL: stops the running script of kind `kind`
 * if it has not written; the other kind is refused with its BUSY text. */
static void kill_running(struct cmd_ctx *ctx, enum script_kind kind, const char *other_busy)
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
    if (script_running(engine) != kind) {
        reply_error(ctx->r, other_busy);
        return;
    }
    script_kill(engine);
    reply_ok(ctx->r);
}

void cmd_script_kill(struct cmd_ctx *ctx)
{
    kill_running(ctx, SCRIPT_EVAL,
                 "BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                 "SHUTDOWN NOSAVE.");
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

/* What the script of an EVAL* / FCALL* call declares. Before the engine
 * exists no sha is cached and no function loaded. */
static enum script_decl declared_by(const struct cmd_def *cmd, const struct slice *script)
{
    switch (cmd->id) {
    case CMD_EVAL:
    case CMD_EVAL_RO: return script_eval_declared(get_engine(NULL), script->ptr, script->len);
    case CMD_EVALSHA:
    case CMD_EVALSHA_RO:
        return engine ? script_evalsha_declared(engine, script->ptr, script->len)
                      : SCRIPT_DECL_NONE;
    case CMD_FCALL:
    case CMD_FCALL_RO:
        return engine ? script_function_declared(engine, script->ptr, script->len)
                      : SCRIPT_DECL_NONE;
    default: return SCRIPT_DECL_NONE;
    }
}

uint64_t scripting_command_flags(const struct cmd_def *cmd, int argc, const struct slice *argv)
{
    if (argc < 2) return cmd->flags;
    enum script_decl d = declared_by(cmd, &argv[1]);
    if (d == SCRIPT_DECL_NONE) return cmd->flags;
    /* declared flags replace the command's: it writes unless no-writes,
     * and whether it may replicate is then known */
    uint64_t f = cmd->flags & ~(uint64_t)(CMDF_WRITE | CMDF_MAY_REPLICATE);
    return d == SCRIPT_DECL_WRITES ? f | CMDF_WRITE : f;
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

/* ---- FUNCTION and FCALL ----
 * FUNCTION LOAD / DELETE / FLUSH / RESTORE are `verbatim` writes: a
 * successful one marks the call dirty, the dispatcher logs it as received
 * and recovery replays it through scripting_replay_command. FCALL's
 * effects are the commands the function ran, one record like EVAL's. */

static int fcall_argc;                 /* the running FCALL (FUNCTION STATS) */
static const struct slice *fcall_argv; /* borrowed while it runs */

static void fcall_generic(struct cmd_ctx *ctx, bool ro)
{
    struct client *c = ctx->client;
    struct script_call call;
    long long nk;
    if (!arg_ll(ctx, 2, &nk, "ERR Bad number of keys provided")) return;
    if (!parse_call(ctx, &call)) return;
    call.readonly = ro;
    struct script_engine *se = engine_for(c);
    int db = c->sess.db;
    fcall_argc = ctx->argc;
    fcall_argv = ctx->argv;
    script_fcall(se, ctx->argv[1].ptr, ctx->argv[1].len, &call, ctx->r);
    fcall_argc = 0;
    fcall_argv = NULL;
    c->sess.db = db;
}

void cmd_fcall(struct cmd_ctx *ctx)
{
    fcall_generic(ctx, false);
}
void cmd_fcall_ro(struct cmd_ctx *ctx)
{
    fcall_generic(ctx, true);
}

void cmd_function_load(struct cmd_ctx *ctx)
{
    bool replace = false;
    int i = 2;
    for (; i < ctx->argc - 1; i++) {
        if (arg_is(ctx, i, "replace")) {
            replace = true;
        } else {
            reply_errorf(ctx->r, "ERR Unknown option given: %.*s", (int)ctx->argv[i].len,
                         ctx->argv[i].ptr);
            return;
        }
    }
    struct buf name = BUF_INIT, err = BUF_INIT;
    if (script_function_load(engine_for(ctx->client), ctx->argv[i].ptr, ctx->argv[i].len, replace,
                             &name, &err) != 0) {
        reply_error(ctx->r, err.ptr);
    } else {
        reply_bulk(ctx->r, name.ptr, name.len);
        ctx_dirty(ctx, 1);
    }
    buf_release(&name);
    buf_release(&err);
}

void cmd_function_delete(struct cmd_ctx *ctx)
{
    if (script_function_delete(engine_for(ctx->client), ctx->argv[2].ptr, ctx->argv[2].len) != 0) {
        reply_error(ctx->r, "ERR Library not found");
        return;
    }
    ctx_dirty(ctx, 1);
    reply_ok(ctx->r);
}

void cmd_function_flush(struct cmd_ctx *ctx)
{
    if (ctx->argc > 3) {
        reply_error(ctx->r, "ERR unknown subcommand or wrong number of arguments for 'FLUSH'. "
                            "Try FUNCTION HELP.");
        return;
    }
    if (ctx->argc == 3 && !arg_is(ctx, 2, "sync") && !arg_is(ctx, 2, "async")) {
        reply_error(ctx->r, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    script_function_flush(engine_for(ctx->client));
    ctx_dirty(ctx, 1);
    reply_ok(ctx->r);
}

void cmd_function_list(struct cmd_ctx *ctx)
{
    bool withcode = false;
    const struct slice *pat = NULL;
    for (int i = 2; i < ctx->argc; i++) {
        if (!withcode && arg_is(ctx, i, "withcode")) {
            withcode = true;
        } else if (!pat && arg_is(ctx, i, "libraryname")) {
            if (i + 1 >= ctx->argc) {
                reply_error(ctx->r, "ERR library name argument was not given");
                return;
            }
            pat = &ctx->argv[++i];
        } else {
            reply_errorf(ctx->r, "ERR Unknown argument %.*s", (int)ctx->argv[i].len,
                         ctx->argv[i].ptr);
            return;
        }
    }
    script_function_list(engine_for(ctx->client), pat ? pat->ptr : NULL, pat ? pat->len : 0,
                         withcode, ctx->r);
}

void cmd_function_dump(struct cmd_ctx *ctx)
{
    struct buf out = BUF_INIT;
    script_function_dump(engine_for(ctx->client), &out);
    reply_bulk(ctx->r, out.ptr, out.len);
    buf_release(&out);
}

void cmd_function_restore(struct cmd_ctx *ctx)
{
    enum script_restore_policy policy = SCRIPT_RESTORE_APPEND;
    if (ctx->argc > 4) {
        reply_error(ctx->r, "ERR unknown subcommand or wrong number of arguments for 'RESTORE'. "
                            "Try FUNCTION HELP.");
        return;
    }
    if (ctx->argc == 4) {
        if (arg_is(ctx, 3, "flush")) {
            policy = SCRIPT_RESTORE_FLUSH;
        } else if (arg_is(ctx, 3, "append")) {
            policy = SCRIPT_RESTORE_APPEND;
        } else if (arg_is(ctx, 3, "replace")) {
            policy = SCRIPT_RESTORE_REPLACE;
        } else {
            reply_error(ctx->r, "ERR Wrong restore policy given, value should be either FLUSH, "
                                "APPEND or REPLACE.");
            return;
        }
    }
    struct buf err = BUF_INIT;
    if (script_function_restore(engine_for(ctx->client), ctx->argv[2].ptr, ctx->argv[2].len, policy,
                                &err) != 0) {
        reply_error(ctx->r, err.ptr);
    } else {
        ctx_dirty(ctx, 1);
        reply_ok(ctx->r);
    }
    buf_release(&err);
}

void cmd_function_stats(struct cmd_ctx *ctx)
{
    struct script_engine *se = engine_for(ctx->client);
    reply_map(ctx->r, 2);
    reply_cstr(ctx->r, "running_script");
    if (script_running(se) == SCRIPT_FUNCTION && fcall_argv) {
        reply_map(ctx->r, 3);
        reply_cstr(ctx->r, "name");
        reply_cstr(ctx->r, script_running_name(se));
        reply_cstr(ctx->r, "command");
        reply_array(ctx->r, fcall_argc);
        for (int i = 0; i < fcall_argc; i++)
            reply_bulk(ctx->r, fcall_argv[i].ptr, fcall_argv[i].len);
        reply_cstr(ctx->r, "duration_ms");
        reply_int(ctx->r, script_running_ms(se));
    } else {
        reply_null(ctx->r);
    }
    reply_cstr(ctx->r, "engines");
    reply_map(ctx->r, 1);
    reply_cstr(ctx->r, "LUA");
    reply_map(ctx->r, 2);
    reply_cstr(ctx->r, "libraries_count");
    reply_int(ctx->r, script_library_count(se));
    reply_cstr(ctx->r, "functions_count");
    reply_int(ctx->r, script_function_count(se));
}

void cmd_function_kill(struct cmd_ctx *ctx)
{
    kill_running(ctx, SCRIPT_FUNCTION,
                 "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN "
                 "NOSAVE.");
}

void cmd_function_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME "
        "argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored "
        "using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a "
        "restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, "
        "abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
        "replace the old",
        "      libraries with the new libraries (notice that even on this option there is a "
        "chance of failure",
        "      in case of functions name collision with another library).",
        NULL};
    reply_help(ctx->r, "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}

const char *scripting_busy_reply(void)
{
    if (engine && script_running(engine) == SCRIPT_FUNCTION)
        return "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN "
               "NOSAVE.";
    return "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN "
           "NOSAVE.";
}

/* ---- durability ---- */

void scripting_dump_functions(struct buf *out)
{
    if (engine) {
        script_function_dump(engine, out);
    } else {
        fdump_encode(out, 0, NULL);
    }
}

int scripting_load_functions(const char *p, size_t n, struct buf *err)
{
    return script_function_restore(get_engine(NULL), p, n, SCRIPT_RESTORE_FLUSH, err);
}

int scripting_replay_command(const struct cmd_def *cmd, int argc, const struct slice *argv,
                             struct reply *r)
{
    if (cmd->parent != CMD_FUNCTION) return -1;
    struct session sess = {.db = 0, .resp = 2, .in_exec = true};
    struct cmd_ctx ctx = {.eng = &srv.eng,
                          .sess = &sess,
                          .db = &srv.eng.dbs[0],
                          .argc = argc,
                          .argv = argv,
                          .r = r,
                          .cmd = cmd,
                          .client = NULL};
    cmd->fn(&ctx);
    return 0;
}
