/*
 * script.h - the Lua 5.4 scripting engine: EVAL scripts and FUNCTION
 * libraries, run atomically on the main thread (DESIGN.md "Scripting").
 *
 * One Lua state per engine holds the sandbox (no io, os, require, loadfile,
 * dofile, print; a readonly global table whose missing names are errors,
 * readonly library tables), the Lua 5.1 shims that Redis scripts lean on
 * (unpack, loadstring, gcinfo, bit, cjson), the `redis` library and the
 * script cache (sha1 of the body -> compiled chunk), and the FUNCTION
 * libraries: each library's code ("#!lua name=<lib>" then Lua) runs once
 * at FUNCTION LOAD in Redis 7.0's load sandbox (only redis.register_function,
 * redis.log and constants; 500 ms at most), and the functions it registers
 * are what FCALL runs. A library is kept with its code, which is what
 * FUNCTION DUMP writes (engine/fdump.h) and what a restore loads again.
 *
 * Commands a script calls go through the host (the server): this module
 * resolves them in the command table, applies the scripting rules (unknown
 * command, arity, noscript, writes from read-only scripts) with Redis 7.0's
 * error texts, hands the call to host->call and converts the RESP reply the
 * host wrote into Lua values, as Redis does (RESP2 or RESP3 after
 * redis.setresp(3)). A script's result goes back to the caller through
 * engine/reply.h in the caller's protocol.
 *
 * Long scripts: every SCRIPT_HOOK_STEP Lua instructions the engine calls
 * host->tick with the elapsed time; the host may serve other clients from
 * there (BUSY replies, SCRIPT KILL, SHUTDOWN NOSAVE). script_kill makes the
 * running script fail at its next hook with Redis's "killed" error.
 *
 * Thread: main only. Allocates through lode_malloc (the Lua allocator is
 * accounted). Never blocks, never touches disk.
 */
#ifndef LODE_LUA_SCRIPT_H
#define LODE_LUA_SCRIPT_H

#include "engine/buf.h"
#include "engine/cmd.h"
#include "engine/reply.h"

#include <stdbool.h>
#include <stddef.h>

/* Lua instructions between two calls of host->tick. */
#define SCRIPT_HOOK_STEP 100000

struct script_host {
    /* Runs one checked command for the script; appends its RESP reply in
     * protocol resp (2 or 3) to out. Returns the changes it made (dirty
     * count; > 0 makes the script unkillable). */
    long long (*call)(void *priv, const struct cmd_def *cmd, int argc, const struct slice *argv,
                      int resp, struct buf *out);
    /* Whether a write may run now: NULL, or the error text to answer
     * (without '-'), e.g. the WAL's MISCONF. */
    const char *(*deny_write)(void *priv);
    /* Called from the instruction hook; elapsed_ms since the script began. */
    void (*tick)(void *priv, long long elapsed_ms);
    /* redis.log: level 0 debug .. 3 warning. */
    void (*log)(void *priv, int level, const char *msg);
    void *priv;
};

struct script_engine;

/* What the running script is (SCRIPT KILL, FUNCTION KILL, FUNCTION STATS). */
enum script_kind { SCRIPT_NONE = 0, SCRIPT_EVAL, SCRIPT_FUNCTION };

/* A new engine with the sandbox set up; host is copied. Never NULL. */
struct script_engine *script_new(const struct script_host *host);
/* Sets the priv argument of the host's callbacks (the calling client). */
void script_set_host_priv(struct script_engine *se, void *priv);
/* Frees the engine and everything in it. NULL is a no-op. */
void script_free(struct script_engine *se);

/* One script call's inputs. keys/args are borrowed for the call. */
struct script_call {
    int nkeys;
    const struct slice *keys;
    int nargs;
    const struct slice *args;
    bool readonly; /* EVAL_RO, EVALSHA_RO, FCALL_RO */
};

/* EVAL: compiles (and caches) body unless cached, runs it and writes its
 * result or Redis's error to r. EVAL_RO / EVALSHA_RO (call->readonly) of a
 * script whose shebang does not declare no-writes answers Redis's "Can not
 * execute a script with write flag using *_ro command." */
void script_eval(struct script_engine *se, const char *body, size_t len,
                 const struct script_call *call, struct reply *r);
/* EVALSHA: sha is 40 hex digits in any case (other lengths answer
 * NOSCRIPT). */
void script_evalsha(struct script_engine *se, const char *sha, size_t len,
                    const struct script_call *call, struct reply *r);
/* SCRIPT LOAD: compiles and caches body. OUT: sha (41 bytes, hex + NUL).
 * Returns 0, or -1 with the error reply text in err (appended). */
int script_load(struct script_engine *se, const char *body, size_t len, char *sha, struct buf *err);
/* SCRIPT EXISTS for one sha. */
bool script_exists(struct script_engine *se, const char *sha, size_t len);
/* The flags a script declares, which replace its command's write /
 * may-replicate flags when Redis 7.0 decides how to treat the call (CLIENT
 * PAUSE WRITE, a transaction's flags, MISCONF). NONE: nothing is declared
 * (an EVAL script without a shebang, or one whose shebang does not parse,
 * an unknown sha or function): the command's own flags apply. */
enum script_decl { SCRIPT_DECL_NONE = 0, SCRIPT_DECL_WRITES, SCRIPT_DECL_NO_WRITES };
/* What the EVAL script body declares: its cache entry's flags, else its
 * shebang's. Caches nothing. */
enum script_decl script_eval_declared(struct script_engine *se, const char *body, size_t len);
/* What the cached script sha (EVALSHA's argument) declares. */
enum script_decl script_evalsha_declared(struct script_engine *se, const char *sha, size_t len);
/* SCRIPT FLUSH: forgets every cached script. */
void script_flush(struct script_engine *se);

/* ---- FUNCTION libraries ----
 * Every call below is all or nothing: on error the libraries are as
 * before. Error texts are Redis 7.0's, without the leading '-'. */

/* FUNCTION LOAD [REPLACE]: loads the library in code. OUT: name (the
 * library's name, appended, NUL-terminated). Returns 0, or -1 with the
 * error reply text appended to err. */
int script_function_load(struct script_engine *se, const char *code, size_t len, bool replace,
                         struct buf *name, struct buf *err);
/* FUNCTION DELETE: 0, or -1 when no library has that name. */
int script_function_delete(struct script_engine *se, const char *name, size_t len);
/* FUNCTION FLUSH: drops every library. */
void script_function_flush(struct script_engine *se);
/* FUNCTION LIST's reply for the libraries whose name matches the glob pat
 * (NULL: all), in load order, with their code when withcode. */
void script_function_list(struct script_engine *se, const char *pat, size_t plen, bool withcode,
                          struct reply *r);
/* FUNCTION DUMP: appends the payload of every library (engine/fdump.h). */
void script_function_dump(const struct script_engine *se, struct buf *out);

enum script_restore_policy {
    SCRIPT_RESTORE_APPEND = 0,
    SCRIPT_RESTORE_REPLACE,
    SCRIPT_RESTORE_FLUSH
};
/* FUNCTION RESTORE: loads the libraries of a DUMP payload. APPEND fails
 * on a library name already loaded; REPLACE replaces such libraries;
 * FLUSH drops every library first. Returns 0, or -1 with the error in
 * err (a malformed payload: "ERR DUMP payload version or checksum are
 * wrong"). */
int script_function_restore(struct script_engine *se, const char *p, size_t n,
                            enum script_restore_policy policy, struct buf *err);
/* FCALL / FCALL_RO: runs the function name with keys and args; writes its
 * result or Redis's error to r. */
void script_fcall(struct script_engine *se, const char *name, size_t len,
                  const struct script_call *call, struct reply *r);
/* What the function named <name, len> declares: NONE when there is no
 * such function, else NO_WRITES or WRITES by its no-writes flag (every
 * function declares its flags, even none). */
enum script_decl script_function_declared(struct script_engine *se, const char *name, size_t len);
/* Loaded libraries and functions (FUNCTION STATS). */
long long script_library_count(const struct script_engine *se);
long long script_function_count(const struct script_engine *se);

/* ---- the running script ---- */

/* What runs now (SCRIPT_NONE when nothing). */
enum script_kind script_running(const struct script_engine *se);
/* The running script's name (sha or function name), "" when none. */
const char *script_running_name(const struct script_engine *se);
/* Milliseconds the running script has run. */
long long script_running_ms(const struct script_engine *se);
/* Whether the running script has changed the dataset (then it cannot be
 * killed). */
bool script_running_wrote(const struct script_engine *se);
/* Makes the running script fail at its next hook with "ERR Script killed
 * by user with SCRIPT KILL...". */
void script_kill(struct script_engine *se);

/* Bytes the Lua state uses. */
size_t script_memory(const struct script_engine *se);
/* Cached EVAL scripts. */
long long script_cached(const struct script_engine *se);

#endif
