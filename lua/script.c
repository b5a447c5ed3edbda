/*
 * script.c - the Lua 5.4 scripting engine (see script.h).
 *
 * The sandbox. Lua 5.4 resolves globals through each chunk's _ENV, which
 * is the global table. That table (G) is an empty proxy: reads go to a
 * backing table (B) through __index, writes fail with "Attempt to modify a
 * readonly table" through __newindex, and B's own __index fails reads of
 * missing names with "Script attempted to access nonexistent global
 * variable". The library tables scripts see (string, math, redis, ...) are
 * proxies too, with __pairs so iteration still works. rawset is wrapped to
 * refuse proxies. KEYS and ARGV are written into B by C before each EVAL.
 *
 * Errors. Every run goes through lua_pcall with a message handler that
 * turns any error into a table {err=..., source=..., line=...}: a string
 * error becomes "ERR <msg>"; source and line come from the innermost Lua
 * frame. The caller then answers "<err> script: <name>, on <source>:<line>."
 * as Redis 7.0 does. Errors are raised only after every C-heap object of
 * the raising function is released (STYLE.md section 5: the scratch
 * buffers belong to the engine, not to the raising frame).
 */
#include "lua/script.h"
#include "engine/digest.h"
#include "engine/lode.h"
#include "engine/util.h"
#include "engine/fdump.h"
#include "lua/script_conv.h"

#include <ctype.h>
#include <math.h>
#include <lauxlib.h>
#include <lua-cjson.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REG_SCRIPTS "lode.scripts" /* registry: sha -> compiled EVAL chunk */
#define REG_BACKING "lode.backing" /* registry: B, the real globals */
#define REG_ERRH    "lode.errh"    /* registry: the message handler */
#define REG_FUNCS   "lode.funcs"   /* registry: function name -> lightuserdata struct ffunc */
#define REG_FENV    "lode.fenv"    /* registry: FE, the _ENV of every library chunk */
#define REG_FLOAD   "lode.fload"   /* registry: what FE reads while a library loads */
#define REG_FRUN    "lode.frun"    /* registry: what FE reads when functions run */

/* FUNCTION LOAD's time limit (Redis 7.0's 500 ms) */
#define LOAD_TIMEOUT_US 500000

/* EVAL shebang flags (Redis 7.0's names) */
static const char *const flag_names[] = {"no-writes", "allow-oom", "allow-stale", "no-cluster",
                                         "allow-cross-slot-keys"};
#define NFLAGS          5
#define FFLAG_NO_WRITES 1u /* bit k = flag_names[k] */

/* EVAL_RO / EVALSHA_RO / FCALL_RO of a script that declares writes */
static const char ERR_RO_WRITE_FLAG[] =
    "ERR Can not execute a script with write flag using *_ro command.";

/* A registered function; owned by its library. */
struct ffunc {
    char *name; /* owned, letters, digits and '_' */
    char *desc; /* owned, NULL = none */
    size_t desc_len;
    unsigned flags; /* FFLAG_* bits */
    int ref;        /* registry reference to the callback */
    struct flib *lib;
};

/* A FUNCTION library. */
struct flib {
    char *name; /* owned */
    char *code; /* owned, code_len bytes */
    size_t code_len;
    struct ffunc **funcs; /* owned, nfuncs of cap, registration order */
    int nfuncs, cap;
};

struct script_engine {
    lua_State *L;
    struct script_host host;
    struct buf scratch; /* a called command's reply */
    struct slice *argv; /* owned: argv_cap; redis.call's arguments */
    int argv_cap;
    struct buf argbytes; /* the bytes argv points into */
    size_t *offs;        /* owned: argv_cap; argument offsets in argbytes */
    long long ncached;
    /* the running script */
    enum script_kind kind;
    const char *name; /* borrowed for the run */
    char name_buf[64];
    bool readonly;
    bool wrote;
    bool kill;
    int resp; /* redis.setresp */
    long long start_us;
    /* FUNCTION libraries: attached ones answer FCALL (REG_FUNCS) */
    struct flib **libs; /* owned, nlibs of libs_cap, load order */
    int nlibs, libs_cap;
    long long nfuncs;     /* functions of the attached libraries */
    struct flib *loading; /* the library whose code runs in FUNCTION LOAD, else NULL */
    long long load_start_us;
};

static struct script_engine *engine_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

static void *lalloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        lode_free(ptr);
        return NULL;
    }
    return lode_realloc(ptr, nsize);
}

/* ---- errors ---- */

/* Raises {err=msg}: the message handler adds where it happened. */
static int raise_err(lua_State *L, const char *msg)
{
    lua_createtable(L, 0, 1);
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "err");
    return lua_error(L);
}

/* Raises a plain message (no "file:line:" prefix), as Redis's C library
 * functions do. */
static int plain_error(lua_State *L, const char *msg)
{
    lua_pushstring(L, msg);
    return lua_error(L);
}

/* Pushes {err=msg} as a value (redis.pcall, error_reply's failures). */
static void push_err_table(lua_State *L, const char *msg)
{
    lua_createtable(L, 0, 1);
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "err");
}

/* The pcall message handler: any error -> {err, source, line}. */
static int errh(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TTABLE) {
        lua_getfield(L, 1, "err");
        bool ok = lua_type(L, -1) == LUA_TSTRING;
        lua_pop(L, 1);
        if (!ok) {
            lua_createtable(L, 0, 3);
            lua_pushstring(L, "ERR unknown error");
            lua_setfield(L, -2, "err");
            lua_replace(L, 1);
        }
    } else {
        const char *m = luaL_tolstring(L, 1, NULL);
        lua_createtable(L, 0, 3);
        lua_pushfstring(L, "ERR %s", m);
        lua_setfield(L, -2, "err");
        lua_replace(L, 1);
        lua_settop(L, 1);
    }
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline > 0) {
            lua_getfield(L, 1, "source");
            bool has = !lua_isnil(L, -1);
            lua_pop(L, 1);
            if (!has) {
                lua_pushstring(L, ar.source);
                lua_setfield(L, 1, "source");
                lua_pushinteger(L, ar.currentline);
                lua_setfield(L, 1, "line");
            }
            break;
        }
    }
    lua_settop(L, 1);
    return 1;
}

/* Writes the error table at the top to r with Redis's suffix. */
static void reply_run_error(struct script_engine *se, struct reply *r)
{
    lua_State *L = se->L;
    struct buf b = BUF_INIT;
    const char *err = "ERR unknown error";
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_getfield(L, -1, "err");
        if (lua_type(L, -1) == LUA_TSTRING) err = lua_tostring(L, -1);
        buf_printf(&b, "%s", err[0] == '-' ? err + 1 : err);
        lua_pop(L, 1);
        lua_getfield(L, -1, "source");
        lua_getfield(L, -2, "line");
        if (lua_type(L, -2) == LUA_TSTRING)
            buf_printf(&b, " script: %s, on %s:%lld.", se->name, lua_tostring(L, -2),
                       (long long)lua_tointeger(L, -1));
        lua_pop(L, 2);
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        buf_printf(&b, "ERR %s", lua_tostring(L, -1));
    } else {
        buf_printf(&b, "%s", err);
    }
    reply_error(r, b.ptr);
    buf_release(&b);
}

/* ---- readonly proxies ---- */

static int ro_newindex(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* next() over a proxy's backing table. */
static int proxy_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1)) return 2;
    lua_pushnil(L);
    return 1;
}

/* __pairs(proxy) -> proxy_next, backing, nil */
static int proxy_pairs(lua_State *L)
{
    lua_getmetatable(L, 1);
    lua_pushcfunction(L, proxy_next);
    lua_getfield(L, -2, "__index");
    lua_pushnil(L);
    return 3;
}

/* Replaces the table at the top with a readonly proxy over it. */
static void make_proxy(lua_State *L)
{
    lua_newtable(L);          /* backing proxy */
    lua_createtable(L, 0, 4); /* backing proxy mt */
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ro_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, proxy_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

/* Whether the table at idx is one of our proxies. */
static bool is_proxy(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx)) return false;
    lua_getfield(L, -1, "__newindex");
    bool yes = lua_tocfunction(L, -1) == ro_newindex;
    lua_pop(L, 2);
    return yes;
}

static int safe_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (is_proxy(L, 1)) return plain_error(L, "Attempt to modify a readonly table");
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

static int missing_global(lua_State *L)
{
    const char *name = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                      name ? name : "?");
}

/* load() whose chunks see the sandbox's globals, never the backing. */
static int safe_load(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checkany(L, 1);
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    if (!s) {
        lua_pushnil(L);
        lua_pushstring(L, "only string chunks are allowed");
        return 2;
    }
    const char *chunk = n >= 2 && lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "=(load)";
    /* text only: binary chunks can break the VM */
    if (luaL_loadbufferx(L, s, len, chunk, "t") != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (n >= 4) {
        lua_pushvalue(L, 4);
        if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
    }
    return 1;
}

/* pcall as Redis 7.0 exposes it: an error raised by redis.call (a table
 * {err=...}) reaches the script as its message string. */
static int safe_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    int n = lua_gettop(L);
    if (lua_pcall(L, n - 1, LUA_MULTRET, 0) == LUA_OK) {
        lua_pushboolean(L, 1);
        lua_insert(L, 1);
        return lua_gettop(L);
    }
    if (lua_type(L, -1) == LUA_TTABLE) {
        lua_getfield(L, -1, "err");
        if (lua_type(L, -1) == LUA_TSTRING)
            lua_remove(L, -2);
        else
            lua_pop(L, 1);
    }
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

static int gcinfo(lua_State *L)
{
    lua_pushinteger(L, lua_gc(L, LUA_GCCOUNT, 0));
    return 1;
}

static int math_pow(lua_State *L)
{
    lua_pushnumber(L, pow(luaL_checknumber(L, 1), luaL_checknumber(L, 2)));
    return 1;
}

static int table_getn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, 1));
    return 1;
}

/* ---- bit (LuaBitOp's API over 32-bit integers) ---- */

static uint32_t bit_arg(lua_State *L, int i)
{
    lua_Number n = luaL_checknumber(L, i);
    /* LuaBitOp normalises through a double to the low 32 bits */
    if (lua_isinteger(L, i)) return (uint32_t)(lua_Unsigned)lua_tointeger(L, i);
    double d = n + 6755399441055744.0; /* 2^52 + 2^51: rounds to an int */
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return (uint32_t)u;
}

static int bit_ret(lua_State *L, uint32_t v)
{
    lua_pushinteger(L, (lua_Integer)(int32_t)v);
    return 1;
}

static int bit_tobit(lua_State *L)
{
    return bit_ret(L, bit_arg(L, 1));
}
static int bit_bnot(lua_State *L)
{
    return bit_ret(L, ~bit_arg(L, 1));
}
#define BIT_FOLD(name, op)                                                                         \
    static int name(lua_State *L)                                                                  \
    {                                                                                              \
        int n = lua_gettop(L);                                                                     \
        uint32_t v = bit_arg(L, 1);                                                                \
        for (int i = 2; i <= n; i++) v op bit_arg(L, i);                                           \
        return bit_ret(L, v);                                                                      \
    }
BIT_FOLD(bit_band, &=)
BIT_FOLD(bit_bor, |=)
BIT_FOLD(bit_bxor, ^=)
static int bit_lshift(lua_State *L)
{
    return bit_ret(L, bit_arg(L, 1) << (bit_arg(L, 2) & 31));
}
static int bit_rshift(lua_State *L)
{
    return bit_ret(L, bit_arg(L, 1) >> (bit_arg(L, 2) & 31));
}
static int bit_arshift(lua_State *L)
{
    return bit_ret(L, (uint32_t)((int32_t)bit_arg(L, 1) >> (bit_arg(L, 2) & 31)));
}
static int bit_rol(lua_State *L)
{
    uint32_t v = bit_arg(L, 1), s = bit_arg(L, 2) & 31;
    return bit_ret(L, s ? (v << s) | (v >> (32 - s)) : v);
}
static int bit_ror(lua_State *L)
{
    uint32_t v = bit_arg(L, 1), s = bit_arg(L, 2) & 31;
    return bit_ret(L, s ? (v >> s) | (v << (32 - s)) : v);
}
static int bit_bswap(lua_State *L)
{
    return bit_ret(L, __builtin_bswap32(bit_arg(L, 1)));
}
static int bit_tohex(lua_State *L)
{
    uint32_t v = bit_arg(L, 1);
    int n = lua_isnone(L, 2) ? 8 : (int)(int32_t)bit_arg(L, 2);
    const char *digits = "0123456789abcdef";
    if (n < 0) {
        n = -n;
        digits = "0123456789ABCDEF";
    }
    if (n > 8) n = 8;
    char out[8];
    for (int i = n - 1; i >= 0; i--) {
        out[i] = digits[v & 15];
        v >>= 4;
    }
    lua_pushlstring(L, out, (size_t)n);
    return 1;
}

static const luaL_Reg bit_funcs[] = {
    {"tobit", bit_tobit}, {"bnot", bit_bnot},     {"band", bit_band},     {"bor", bit_bor},
    {"bxor", bit_bxor},   {"lshift", bit_lshift}, {"rshift", bit_rshift}, {"arshift", bit_arshift},
    {"rol", bit_rol},     {"ror", bit_ror},       {"bswap", bit_bswap},   {"tohex", bit_tohex},
    {NULL, NULL}};

/* ---- redis.* ---- */

/* Collects redis.call's arguments into se->argv. Returns NULL or the
 * error text. */
static const char *collect_args(lua_State *L, struct script_engine *se, int *argc)
{
    int n = lua_gettop(L);
    if (n == 0) return "Please specify at least one argument for this redis lib call";
    if (n > se->argv_cap) {
        se->argv_cap = n;
        se->argv = lode_realloc(se->argv, sizeof(*se->argv) * (size_t)n);
        se->offs = lode_realloc(se->offs, sizeof(*se->offs) * (size_t)n);
    }
    /* numbers become strings the way Lua 5.1 printed them (%.14g), as
     * Redis 7.0's Lua did; integers print exactly */
    se->argbytes.len = 0;
    size_t *offs = se->offs; /* argbytes may move while it grows */
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s;
        char tmp[64];
        int t = lua_type(L, i);
        if (t == LUA_TNUMBER) {
            if (lua_isinteger(L, i))
                len = (size_t)snprintf(tmp, sizeof(tmp), "%lld", (long long)lua_tointeger(L, i));
            else
                len = (size_t)snprintf(tmp, sizeof(tmp), "%.14g", (double)lua_tonumber(L, i));
            s = tmp;
        } else if (t == LUA_TSTRING) {
            s = lua_tolstring(L, i, &len);
        } else {
            return "Lua redis lib command arguments must be strings or integers";
        }
        offs[i - 1] = se->argbytes.len;
        buf_append(&se->argbytes, s, len);
        buf_putc(&se->argbytes, '\0');
    }
    for (int i = 0; i < n; i++) {
        size_t off = offs[i];
        size_t end = i + 1 < n ? offs[i + 1] - 1 : se->argbytes.len - 1;
        se->argv[i] = (struct slice){se->argbytes.ptr + off, end - off};
    }
    *argc = n;
    return NULL;
}

/* redis.call / redis.pcall. raise: call's behaviour. */
static int do_call(lua_State *L, bool raise)
{
    struct script_engine *se = engine_of(L);
    int argc;
    const char *err = collect_args(L, se, &argc);
    const struct cmd_def *cmd = NULL;
    char ebuf[160];
    if (err) goto fail;
    cmd = cmd_lookup(se->argv[0].ptr, se->argv[0].len);
    if (cmd && cmd->nsubs) {
        if (argc < 2) {
            cmd = NULL;
            err = "Wrong number of args calling Redis command from script";
            goto fail;
        }
        cmd = cmd_lookup_sub(cmd, se->argv[1].ptr, se->argv[1].len);
    }
    if (!cmd) {
        err = "Unknown Redis command called from script";
        goto fail;
    }
    if (!cmd_arity_ok(cmd, argc)) {
        err = "Wrong number of args calling Redis command from script";
        goto fail;
    }
    if (cmd->flags & CMDF_NOSCRIPT) {
        err = "This Redis command is not allowed from script";
        goto fail;
    }
    /* as Redis, a read-only script may not run what may replicate either
     * (PUBLISH, SPUBLISH, PFCOUNT) */
    if (se->readonly && (cmd->flags & (CMDF_WRITE | CMDF_MAY_REPLICATE))) {
        err = "Write commands are not allowed from read-only scripts.";
        goto fail;
    }
    if (cmd->flags & CMDF_WRITE) {
        const char *deny = se->host.deny_write ? se->host.deny_write(se->host.priv) : NULL;
        if (deny) {
            snprintf(ebuf, sizeof(ebuf), "%s", deny);
            err = ebuf + (ebuf[0] == '-');
            if (raise) return raise_err(L, err);
            push_err_table(L, err);
            return 1;
        }
    }
    se->scratch.len = 0;
    long long dirty = se->host.call(se->host.priv, cmd, argc, se->argv, se->resp, &se->scratch);
    if (dirty > 0) se->wrote = true;
    size_t used;
    lua_settop(L, 0);
    if (script_conv_push(L, se->scratch.ptr, se->scratch.len, &used) != 0)
        push_err_table(L, "ERR reply conversion failed");
    if (raise && se->scratch.len && se->scratch.ptr[0] == '-') {
        /* the error table: raise it */
        return lua_error(L);
    }
    return 1;
fail:
    snprintf(ebuf, sizeof(ebuf), "ERR %s", err);
    if (raise) return raise_err(L, ebuf);
    push_err_table(L, ebuf);
    return 1;
}

static int r_call(lua_State *L)
{
    return do_call(L, true);
}
static int r_pcall(lua_State *L)
{
    return do_call(L, false);
}

static int r_sha1hex(lua_State *L)
{
    if (lua_gettop(L) != 1) return plain_error(L, "wrong number of arguments");
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    if (!s) s = "", len = 0;
    uint8_t d[DIGEST_LEN];
    digest_sha1(s, len, d);
    char hex[DIGEST_HEX_SIZE];
    for (int i = 0; i < DIGEST_LEN; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    lua_pushstring(L, hex);
    return 1;
}

/* redis.error_reply / redis.status_reply */
static int status_or_error(lua_State *L, const char *field)
{
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING) {
        push_err_table(L, "ERR wrong number or type of arguments");
        return 1;
    }
    lua_createtable(L, 0, 1);
    if (field[0] == 'e') {
        const char *s = lua_tostring(L, 1);
        if (s[0] == '-')
            lua_pushstring(L, s);
        else
            lua_pushfstring(L, "-%s", s);
    } else {
        lua_pushvalue(L, 1);
    }
    lua_setfield(L, -2, field);
    return 1;
}
static int r_error_reply(lua_State *L)
{
    return status_or_error(L, "err");
}
static int r_status_reply(lua_State *L)
{
    return status_or_error(L, "ok");
}

static int r_log(lua_State *L)
{
    struct script_engine *se = engine_of(L);
    int n = lua_gettop(L);
    if (n < 2) return plain_error(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, 1)) return plain_error(L, "First argument must be a number (log level).");
    lua_Integer level = lua_tointeger(L, 1);
    if (level < 0 || level > 3) return plain_error(L, "Invalid debug level.");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 2; i <= n; i++) {
        size_t len;
        const char *s = lua_tolstring(L, i, &len);
        if (!s) continue;
        if (i > 2) luaL_addchar(&b, ' ');
        luaL_addlstring(&b, s, len);
    }
    luaL_pushresult(&b);
    if (se->host.log) se->host.log(se->host.priv, (int)level, lua_tostring(L, -1));
    return 0;
}

static int r_setresp(lua_State *L)
{
    struct script_engine *se = engine_of(L);
    if (lua_gettop(L) != 1) return plain_error(L, "redis.setresp() requires one argument.");
    lua_Integer v = luaL_checkinteger(L, 1);
    if (v != 2 && v != 3) return plain_error(L, "RESP version must be 2 or 3.");
    se->resp = (int)v;
    return 0;
}

/* replicate_commands / set_repl: effects are always what we log */
static int r_true(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}
static int r_noop(lua_State *L)
{
    (void)L;
    return 0;
}

static int r_acl_check_cmd(lua_State *L)
{
    struct script_engine *se = engine_of(L);
    int argc;
    const char *err = collect_args(L, se, &argc);
    if (err) return luaL_error(L, "%s", err);
    const struct cmd_def *cmd = cmd_lookup(se->argv[0].ptr, se->argv[0].len);
    if (!cmd) return luaL_error(L, "Invalid command passed to redis.acl_check_cmd()");
    lua_pushboolean(L, 1); /* no ACL users beyond default */
    return 1;
}

static const luaL_Reg redis_funcs[] = {{"call", r_call},
                                       {"pcall", r_pcall},
                                       {"sha1hex", r_sha1hex},
                                       {"error_reply", r_error_reply},
                                       {"status_reply", r_status_reply},
                                       {"log", r_log},
                                       {"setresp", r_setresp},
                                       {"replicate_commands", r_true},
                                       {"set_repl", r_noop},
                                       {"breakpoint", r_noop},
                                       {"debug", r_noop},
                                       {"acl_check_cmd", r_acl_check_cmd},
                                       {NULL, NULL}};

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static void push_log_consts(lua_State *L)
{
    set_int(L, "LOG_DEBUG", 0);
    set_int(L, "LOG_VERBOSE", 1);
    set_int(L, "LOG_NOTICE", 2);
    set_int(L, "LOG_WARNING", 3);
}

/* ---- FUNCTION libraries: environments ----
 *
 * A library chunk's _ENV is FE, a readonly proxy whose backing is switched:
 * while FUNCTION LOAD runs the chunk it reads LB, which holds only a small
 * `redis` (register_function, log, the LOG_ and REDIS_VERSION constants),
 * so the load sandbox is Redis 7.0's; afterwards it reads FB, the EVAL
 * globals without KEYS and ARGV (its `redis` has no register_function; a
 * reference kept from the load fails when called). The functions a chunk
 * defines close over the same _ENV, so they see FB when FCALL runs them. */

static int r_register_function(lua_State *L);
static void lib_free(struct script_engine *se, struct flib *lib);

/* Copies the string-keyed entries of the table at src into the table at
 * dst, except the names in skip (NULL-terminated). */
static void copy_fields(lua_State *L, int src, int dst, const char *const *skip)
{
    lua_pushnil(L);
    while (lua_next(L, src)) {
        bool keep = lua_type(L, -2) == LUA_TSTRING;
        for (int i = 0; keep && skip[i]; i++)
            if (strcmp(lua_tostring(L, -2), skip[i]) == 0) keep = false;
        if (keep) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, dst);
        } else {
            lua_pop(L, 1);
        }
    }
}

/* Gives the table at the top a metatable failing reads of missing names. */
static void set_missing_mt(lua_State *L)
{
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, missing_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
}

static void build_function_envs(lua_State *L)
{
    static const char *const eval_only[] = {"KEYS", "ARGV", "_G", "redis", NULL};
    lua_getfield(L, LUA_REGISTRYINDEX, REG_BACKING);
    int b = lua_gettop(L);
    /* FB */
    lua_newtable(L);
    int fb = lua_gettop(L);
    copy_fields(L, b, fb, eval_only);
    lua_getfield(L, b, "redis"); /* the EVAL redis proxy: no register_function */
    lua_setfield(L, fb, "redis");
    set_missing_mt(L); /* FB */
    /* FE over FB */
    lua_pushvalue(L, fb);
    make_proxy(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, fb, "_G");
    lua_setfield(L, LUA_REGISTRYINDEX, REG_FENV);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_FRUN);
    /* LB */
    lua_newtable(L);
    lua_newtable(L);
    lua_pushcfunction(L, r_register_function);
    lua_setfield(L, -2, "register_function");
    lua_pushcfunction(L, r_log);
    lua_setfield(L, -2, "log");
    push_log_consts(L);
    lua_pushstring(L, "7.0.15");
    lua_setfield(L, -2, "REDIS_VERSION");
    set_int(L, "REDIS_VERSION_NUM", 0x07000f);
    set_missing_mt(L);
    make_proxy(L);
    lua_setfield(L, -2, "redis");
    set_missing_mt(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_FLOAD);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_FUNCS);
    lua_pop(L, 1); /* B */
}

/* Points FE's reads at the registry table reg (REG_FLOAD or REG_FRUN). */
static void fenv_use(lua_State *L, const char *reg)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_FENV);
    lua_getmetatable(L, -1);
    lua_getfield(L, LUA_REGISTRYINDEX, reg);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 2);
}

/* ---- state ---- */

static void hook(lua_State *L, lua_Debug *ar);

/* Opens a standard library into B (at index b) as a readonly proxy. */
static void open_lib(lua_State *L, int b, const char *name, lua_CFunction open)
{
    luaL_requiref(L, name, open, 0);
    if (name[0] != '_') {
        make_proxy(L);
        lua_setfield(L, b, name);
    } else {
        lua_pop(L, 1);
    }
}

static void build_state(struct script_engine *se)
{
    lua_State *L = lua_newstate(lalloc, se);
    lode_assert(L);
    se->L = L;
    /* B: the real globals */
    lua_newtable(L);
    int b = lua_gettop(L);
    luaL_requiref(L, "_G", luaopen_base, 0);
    /* copy the base functions into B, minus the unsafe ones */
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *k = lua_tostring(L, -2);
        static const char *const banned[] = {"dofile", "loadfile", "print", "require", "warn",
                                             "load",   "rawset",   "_G",    NULL};
        bool skip = false;
        for (int i = 0; banned[i]; i++)
            if (strcmp(k, banned[i]) == 0) skip = true;
        if (!skip) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, b);
        } else {
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    open_lib(L, b, "table", luaopen_table);
    open_lib(L, b, "string", luaopen_string);
    open_lib(L, b, "math", luaopen_math);
    open_lib(L, b, "coroutine", luaopen_coroutine);
    /* 5.1 shims */
    lua_getfield(L, b, "table");
    lua_getfield(L, -1, "unpack");
    lua_setfield(L, b, "unpack");
    lua_pop(L, 1);
    lua_pushcfunction(L, safe_load);
    lua_setfield(L, b, "load");
    lua_pushcfunction(L, safe_load);
    lua_setfield(L, b, "loadstring");
    lua_pushcfunction(L, safe_rawset);
    lua_setfield(L, b, "rawset");
    lua_pushcfunction(L, gcinfo);
    lua_setfield(L, b, "gcinfo");
    lua_pushcfunction(L, safe_pcall);
    lua_setfield(L, b, "pcall");
    /* math.pow and table.getn: the proxies hide the real tables, so add to
     * those through the proxies' __index */
    lua_getfield(L, b, "math");
    lua_getmetatable(L, -1);
    lua_getfield(L, -1, "__index");
    lua_pushcfunction(L, math_pow);
    lua_setfield(L, -2, "pow");
    lua_pop(L, 3);
    lua_getfield(L, b, "table");
    lua_getmetatable(L, -1);
    lua_getfield(L, -1, "__index");
    lua_pushcfunction(L, table_getn);
    lua_setfield(L, -2, "getn");
    lua_pop(L, 3);
    /* bit */
    luaL_newlib(L, bit_funcs);
    make_proxy(L);
    lua_setfield(L, b, "bit");
    /* cjson (Debian's lua-cjson, linked statically) */
    luaL_requiref(L, "cjson", luaopen_cjson, 0);
    make_proxy(L);
    lua_setfield(L, b, "cjson");
    /* redis */
    luaL_newlib(L, redis_funcs);
    push_log_consts(L);
    lua_pushstring(L, "7.0.15");
    lua_setfield(L, -2, "REDIS_VERSION");
    set_int(L, "REDIS_VERSION_NUM", 0x07000f);
    set_int(L, "REPL_NONE", 0);
    set_int(L, "REPL_AOF", 1);
    set_int(L, "REPL_SLAVE", 2);
    set_int(L, "REPL_REPLICA", 2);
    set_int(L, "REPL_ALL", 3);
    make_proxy(L);
    lua_setfield(L, b, "redis");
    lua_newtable(L);
    lua_setfield(L, b, "KEYS");
    lua_newtable(L);
    lua_setfield(L, b, "ARGV");
    lua_pushstring(L, LUA_VERSION);
    lua_setfield(L, b, "_VERSION");
    /* B's missing names are errors */
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, missing_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, b);
    lua_pushvalue(L, b);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_BACKING);
    /* G: the proxy, installed as the global table */
    lua_pushvalue(L, b);
    make_proxy(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, b, "_G");
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pop(L, 1); /* b */
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_SCRIPTS);
    lua_pushcfunction(L, errh);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_ERRH);
    build_function_envs(L);
    lua_sethook(L, hook, LUA_MASKCOUNT, SCRIPT_HOOK_STEP);
}

struct script_engine *script_new(const struct script_host *host)
{
    struct script_engine *se = lode_calloc(sizeof(*se));
    se->host = *host;
    build_state(se);
    return se;
}

void script_set_host_priv(struct script_engine *se, void *priv)
{
    se->host.priv = priv;
}

void script_free(struct script_engine *se)
{
    if (!se) return;
    for (int i = 0; i < se->nlibs; i++) lib_free(se, se->libs[i]);
    lode_free(se->libs);
    lua_close(se->L);
    lode_free(se->offs);
    buf_release(&se->scratch);
    buf_release(&se->argbytes);
    lode_free(se->argv);
    lode_free(se);
}

/* ---- running ---- */

static void hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct script_engine *se = engine_of(L);
    if (se->loading && util_mono_us() - se->load_start_us > LOAD_TIMEOUT_US) {
        lua_sethook(L, hook, LUA_MASKCOUNT, 1); /* keeps failing until the load unwinds */
        raise_err(L, "ERR FUNCTION LOAD timeout");
    }
    if (se->kind == SCRIPT_NONE) return;
    if (!se->kill && se->host.tick)
        se->host.tick(se->host.priv, (util_mono_us() - se->start_us) / 1000);
    if (se->kill) {
        /* raise again at every instruction, so that a pcall inside the
         * script cannot swallow the kill */
        lua_sethook(L, hook, LUA_MASKCOUNT, 1);
        raise_err(L, "ERR Script killed by user with SCRIPT KILL...");
    }
}

/* Sets KEYS and ARGV in B (EVAL) or pushes them as two arguments (FCALL). */
static void push_array(lua_State *L, int n, const struct slice *v)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, v[i].ptr, v[i].len);
        lua_rawseti(L, -2, i + 1);
    }
}

/* Runs the function at the top with nargs arguments above it and writes
 * its result or error to r. */
static void run(struct script_engine *se, int nargs, enum script_kind kind,
                const struct script_call *call, bool readonly, struct reply *r)
{
    lua_State *L = se->L;
    int base = lua_gettop(L) - nargs; /* the function's index */
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ERRH);
    lua_insert(L, base);
    se->kind = kind;
    se->readonly = readonly || call->readonly;
    se->wrote = false;
    se->kill = false;
    se->resp = 2;
    se->start_us = util_mono_us();
    int rc = lua_pcall(L, nargs, 1, base);
    if (rc == LUA_OK)
        script_conv_reply(L, -1, se->resp, r);
    else
        reply_run_error(se, r);
    if (se->kill) lua_sethook(L, hook, LUA_MASKCOUNT, SCRIPT_HOOK_STEP);
    se->kind = SCRIPT_NONE;
    se->kill = false;
    lua_settop(L, base - 1);
    /* Redis runs a GC step after each script to keep memory in check */
    lua_gc(L, LUA_GCSTEP, 0);
}

static void sha_of(const char *body, size_t len, char *sha)
{
    uint8_t d[DIGEST_LEN];
    digest_sha1(body, len, d);
    for (int i = 0; i < DIGEST_LEN; i++) snprintf(sha + 2 * i, 3, "%02x", d[i]);
}

/* Parses an EVAL shebang ("#!lua flags=a,b"). OUT: *readonly. Returns 0,
 * or -1 with the error in err. *skip = whether line 1 is a shebang. */
static int parse_shebang(const char *body, size_t len, bool *readonly, bool *shebang,
                         struct buf *err)
{
    *readonly = false;
    *shebang = len >= 2 && body[0] == '#' && body[1] == '!';
    if (!*shebang) return 0;
    const char *nl = memchr(body, '\n', len);
    size_t l = nl ? (size_t)(nl - body) : len;
    char *line = lode_malloc(l - 1); /* body need not end in a NUL */
    memcpy(line, body + 2, l - 2);
    line[l - 2] = 0;
    int rc = 0;
    char *save = NULL;
    char *tok = strtok_r(line, " ", &save);
    if (!tok || strcmp(tok, "lua") != 0) {
        buf_printf(err, "ERR Unexpected engine in script shebang: #!%s", tok ? tok : "");
        rc = -1;
        goto out;
    }
    while ((tok = strtok_r(NULL, " ", &save))) {
        if (strncmp(tok, "flags=", 6) != 0) {
            buf_printf(err, "ERR Unknown lua shebang option: %s", tok);
            rc = -1;
            goto out;
        }
        char *fs = tok + 6, *fsave = NULL;
        for (char *f = strtok_r(fs, ",", &fsave); f; f = strtok_r(NULL, ",", &fsave)) {
            int k;
            for (k = 0; k < NFLAGS; k++)
                if (strcmp(f, flag_names[k]) == 0) break;
            if (k == NFLAGS) {
                buf_printf(err, "ERR Unexpected flag in script shebang: %s", f);
                rc = -1;
                goto out;
            }
            if (k == 0) *readonly = true;
        }
    }
out:
    lode_free(line);
    return rc;
}

/* Compiles body under sha into the cache; leaves the function on the
 * stack. Returns 0, or -1 with the error reply text in err. */
static int compile(struct script_engine *se, const char *body, size_t len, const char *sha,
                   struct buf *err)
{
    lua_State *L = se->L;
    bool ro, shebang;
    if (parse_shebang(body, len, &ro, &shebang, err) != 0) return -1;
    int rc;
    if (shebang) {
        /* the shebang line becomes a comment, keeping line numbers */
        char *copy = lode_malloc(len + 1);
        memcpy(copy, body, len);
        copy[0] = '-';
        copy[1] = '-';
        rc = luaL_loadbufferx(L, copy, len, "@user_script", "t");
        lode_free(copy);
    } else {
        rc = luaL_loadbufferx(L, body, len, "@user_script", "t");
    }
    if (rc != LUA_OK) {
        buf_printf(err, "ERR Error compiling script (new function): %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SCRIPTS);
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, -3);
    lua_rawseti(L, -2, 1);
    lua_pushboolean(L, ro);
    lua_rawseti(L, -2, 2);
    lua_pushboolean(L, shebang);
    lua_rawseti(L, -2, 3);
    lua_setfield(L, -2, sha);
    lua_pop(L, 1);
    se->ncached++;
    return 0;
}

/* Pushes the cached entry {fn, ro, declared} for sha (ro: the shebang
 * declares no-writes; declared: the script has a shebang, so its flags
 * replace the command's), or nothing (returns false). */
static bool cached(struct script_engine *se, const char *sha)
{
    lua_State *L = se->L;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SCRIPTS);
    lua_getfield(L, -1, sha);
    lua_remove(L, -2);
    if (lua_istable(L, -1)) return true;
    lua_pop(L, 1);
    return false;
}

static void set_keys_argv(struct script_engine *se, const struct script_call *call)
{
    lua_State *L = se->L;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_BACKING);
    push_array(L, call->nkeys, call->keys);
    lua_setfield(L, -2, "KEYS");
    push_array(L, call->nargs, call->args);
    lua_setfield(L, -2, "ARGV");
    lua_pop(L, 1);
}

static void run_cached(struct script_engine *se, const char *sha, const struct script_call *call,
                       struct reply *r)
{
    lua_State *L = se->L;
    lua_rawgeti(L, -1, 2);
    bool ro = lua_toboolean(L, -1);
    lua_rawgeti(L, -2, 3);
    bool declared = lua_toboolean(L, -1);
    lua_pop(L, 2);
    if (call->readonly && declared && !ro) {
        /* EVAL_RO / EVALSHA_RO of a script whose shebang allows writes */
        lua_pop(L, 1);
        reply_error(r, ERR_RO_WRITE_FLAG);
        return;
    }
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
    set_keys_argv(se, call);
    snprintf(se->name_buf, sizeof(se->name_buf), "%s", sha);
    se->name = se->name_buf;
    run(se, 0, SCRIPT_EVAL, call, ro, r);
}

void script_eval(struct script_engine *se, const char *body, size_t len,
                 const struct script_call *call, struct reply *r)
{
    char sha[DIGEST_HEX_SIZE];
    sha_of(body, len, sha);
    if (!cached(se, sha)) {
        struct buf err = BUF_INIT;
        if (compile(se, body, len, sha, &err) != 0) {
            reply_error(r, err.ptr);
            buf_release(&err);
            return;
        }
        lua_pop(se->L, 1);
        bool ok = cached(se, sha);
        lode_assert(ok);
    }
    run_cached(se, sha, call, r);
}

static bool norm_sha(const char *s, size_t len, char *out)
{
    if (len != 40) return false;
    for (size_t i = 0; i < 40; i++) out[i] = (char)tolower((unsigned char)s[i]);
    out[40] = '\0';
    return true;
}

void script_evalsha(struct script_engine *se, const char *s, size_t len,
                    const struct script_call *call, struct reply *r)
{
    char sha[DIGEST_HEX_SIZE];
    if (!norm_sha(s, len, sha) || !cached(se, sha)) {
        reply_error(r, "NOSCRIPT No matching script. Please use EVAL.");
        return;
    }
    run_cached(se, sha, call, r);
}

int script_load(struct script_engine *se, const char *body, size_t len, char *sha, struct buf *err)
{
    sha_of(body, len, sha);
    if (cached(se, sha)) {
        lua_pop(se->L, 1);
        return 0;
    }
    if (compile(se, body, len, sha, err) != 0) return -1;
    lua_pop(se->L, 1);
    return 0;
}

bool script_exists(struct script_engine *se, const char *s, size_t len)
{
    char sha[DIGEST_HEX_SIZE];
    if (!norm_sha(s, len, sha) || !cached(se, sha)) return false;
    lua_pop(se->L, 1);
    return true;
}

/* The declaration of the cached entry at the top, which is popped. */
static enum script_decl pop_declared(lua_State *L)
{
    lua_rawgeti(L, -1, 2);
    bool ro = lua_toboolean(L, -1);
    lua_rawgeti(L, -2, 3);
    bool declared = lua_toboolean(L, -1);
    lua_pop(L, 3);
    if (!declared) return SCRIPT_DECL_NONE;
    return ro ? SCRIPT_DECL_NO_WRITES : SCRIPT_DECL_WRITES;
}

enum script_decl script_eval_declared(struct script_engine *se, const char *body, size_t len)
{
    char sha[DIGEST_HEX_SIZE];
    sha_of(body, len, sha);
    if (cached(se, sha)) return pop_declared(se->L);
    bool ro, shebang;
    struct buf err = BUF_INIT;
    int rc = parse_shebang(body, len, &ro, &shebang, &err);
    buf_release(&err);
    if (rc != 0 || !shebang) return SCRIPT_DECL_NONE;
    return ro ? SCRIPT_DECL_NO_WRITES : SCRIPT_DECL_WRITES;
}

enum script_decl script_evalsha_declared(struct script_engine *se, const char *s, size_t len)
{
    char sha[DIGEST_HEX_SIZE];
    if (!norm_sha(s, len, sha) || !cached(se, sha)) return SCRIPT_DECL_NONE;
    return pop_declared(se->L);
}

void script_flush(struct script_engine *se)
{
    lua_newtable(se->L);
    lua_setfield(se->L, LUA_REGISTRYINDEX, REG_SCRIPTS);
    se->ncached = 0;
    lua_gc(se->L, LUA_GCCOLLECT, 0);
}

/* ---- FUNCTION libraries ---- */

static const char ERR_NAME_CHARS[] = "ERR Library names can only contain letters, numbers, or "
                                     "underscores(_) and must be at least one character long";

static bool valid_name(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_') return false;
    return true;
}

static void lib_free(struct script_engine *se, struct flib *lib)
{
    if (!lib) return;
    for (int i = 0; i < lib->nfuncs; i++) {
        struct ffunc *f = lib->funcs[i];
        luaL_unref(se->L, LUA_REGISTRYINDEX, f->ref);
        lode_free(f->name);
        lode_free(f->desc);
        lode_free(f);
    }
    lode_free(lib->funcs);
    lode_free(lib->name);
    lode_free(lib->code);
    lode_free(lib);
}

/* The attached function named <name, len>, NULL when none. */
static struct ffunc *func_find(struct script_engine *se, const char *name, size_t len)
{
    lua_State *L = se->L;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_FUNCS);
    lua_pushlstring(L, name, len);
    lua_rawget(L, -2);
    struct ffunc *f = lua_touserdata(L, -1);
    lua_pop(L, 2);
    return f;
}

enum script_decl script_function_declared(struct script_engine *se, const char *name, size_t len)
{
    struct ffunc *f = func_find(se, name, len);
    if (!f) return SCRIPT_DECL_NONE;
    return (f->flags & FFLAG_NO_WRITES) ? SCRIPT_DECL_NO_WRITES : SCRIPT_DECL_WRITES;
}

static int lib_index(struct script_engine *se, const char *name, size_t len)
{
    for (int i = 0; i < se->nlibs; i++)
        if (strlen(se->libs[i]->name) == len && memcmp(se->libs[i]->name, name, len) == 0) return i;
    return -1;
}

static void lib_attach(struct script_engine *se, struct flib *lib)
{
    lua_State *L = se->L;
    if (se->nlibs == se->libs_cap) {
        se->libs_cap = se->libs_cap ? 2 * se->libs_cap : 8;
        se->libs = lode_realloc(se->libs, sizeof(*se->libs) * (size_t)se->libs_cap);
    }
    se->libs[se->nlibs++] = lib;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_FUNCS);
    for (int i = 0; i < lib->nfuncs; i++) {
        lua_pushlightuserdata(L, lib->funcs[i]);
        lua_setfield(L, -2, lib->funcs[i]->name);
    }
    lua_pop(L, 1);
    se->nfuncs += lib->nfuncs;
}

static void lib_detach(struct script_engine *se, struct flib *lib)
{
    lua_State *L = se->L;
    int k = 0;
    while (k < se->nlibs && se->libs[k] != lib) k++;
    lode_assert(k < se->nlibs);
    memmove(se->libs + k, se->libs + k + 1, sizeof(*se->libs) * (size_t)(se->nlibs - k - 1));
    se->nlibs--;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_FUNCS);
    for (int i = 0; i < lib->nfuncs; i++) {
        lua_pushnil(L);
        lua_setfield(L, -2, lib->funcs[i]->name);
    }
    lua_pop(L, 1);
    se->nfuncs -= lib->nfuncs;
}

/* redis.register_function(name, callback) or ({function_name=,
 * callback=, flags=, description=}). Stack slots 2..5 hold name,
 * callback, description and flags while the arguments are checked; no
 * C memory is taken until every check passed. */
static int r_register_function(lua_State *L)
{
    struct script_engine *se = engine_of(L);
    if (!se->loading)
        return raise_err(L,
                         "ERR redis.register_function can only be called on FUNCTION LOAD command");
    int n = lua_gettop(L);
    if (n == 1) {
        if (!lua_istable(L, 1))
            return raise_err(L, "ERR calling redis.register_function with a single argument is "
                                "only applicable to Lua table (representing named arguments).");
        lua_settop(L, 5);
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
            int slot;
            if (strcmp(k, "function_name") == 0) {
                if (!lua_isstring(L, -1))
                    return raise_err(L, "ERR function_name argument given to "
                                        "redis.register_function must be a string");
                slot = 2;
            } else if (strcmp(k, "callback") == 0) {
                if (!lua_isfunction(L, -1))
                    return raise_err(L, "ERR callback argument given to redis.register_function "
                                        "must be a function");
                slot = 3;
            } else if (strcmp(k, "description") == 0) {
                if (!lua_isstring(L, -1))
                    return raise_err(L, "ERR description argument given to "
                                        "redis.register_function must be a string");
                slot = 4;
            } else if (strcmp(k, "flags") == 0) {
                if (!lua_istable(L, -1))
                    return raise_err(L, "ERR flags argument to redis.register_function must be a "
                                        "table representing function flags");
                slot = 5;
            } else {
                return raise_err(L, "ERR unknown argument given to redis.register_function");
            }
            lua_replace(L, slot);
        }
        if (lua_isnil(L, 2))
            return raise_err(L, "ERR redis.register_function must get a function name argument");
        if (lua_isnil(L, 3))
            return raise_err(L, "ERR redis.register_function must get a callback argument");
    } else if (n == 2) {
        if (!lua_isstring(L, 1))
            return raise_err(L, "ERR first argument to redis.register_function must be a string");
        if (!lua_isfunction(L, 2))
            return raise_err(L,
                             "ERR second argument to redis.register_function must be a function");
        lua_settop(L, 2);
        lua_pushvalue(L, 2);
        lua_pushvalue(L, 1);
        lua_replace(L, 2); /* name */
        lua_pushnil(L);
        lua_pushnil(L); /* description, flags */
    } else {
        return raise_err(L, "ERR wrong number of arguments to redis.register_function");
    }
    unsigned flags = 0;
    if (!lua_isnil(L, 5)) {
        lua_pushnil(L);
        while (lua_next(L, 5)) {
            int k = NFLAGS;
            if (lua_type(L, -1) == LUA_TSTRING)
                for (k = 0; k < NFLAGS; k++)
                    if (strcmp(lua_tostring(L, -1), flag_names[k]) == 0) break;
            if (k == NFLAGS) return raise_err(L, "ERR unknown flag given");
            flags |= 1u << k;
            lua_pop(L, 1);
        }
    }
    size_t nlen, dlen = 0;
    const char *name = lua_tolstring(L, 2, &nlen);
    const char *desc = lua_isnil(L, 4) ? NULL : lua_tolstring(L, 4, &dlen);
    if (!valid_name(name, nlen)) return raise_err(L, ERR_NAME_CHARS);
    struct flib *lib = se->loading;
    for (int i = 0; i < lib->nfuncs; i++)
        if (strcmp(lib->funcs[i]->name, name) == 0)
            return raise_err(L, "ERR Function already exists in the library");
    lua_pushvalue(L, 3);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    struct ffunc *f = lode_calloc(sizeof(*f));
    f->name = lode_malloc(nlen + 1);
    memcpy(f->name, name, nlen + 1);
    if (desc) {
        f->desc = lode_malloc(dlen + 1);
        memcpy(f->desc, desc, dlen + 1);
        f->desc_len = dlen;
    }
    f->flags = flags;
    f->ref = ref;
    f->lib = lib;
    if (lib->nfuncs == lib->cap) {
        lib->cap = lib->cap ? 2 * lib->cap : 4;
        lib->funcs = lode_realloc(lib->funcs, sizeof(*lib->funcs) * (size_t)lib->cap);
    }
    lib->funcs[lib->nfuncs++] = f;
    return 0;
}

/* Parses the library shebang "#!lua name=<lib>" of code. OUT: name (the
 * library name, appended). Returns 0, or -1 with the error in err. */
static int parse_lib_shebang(const char *code, size_t len, struct buf *name, struct buf *err)
{
    if (len < 2 || code[0] != '#' || code[1] != '!') {
        buf_printf(err, "ERR Missing library metadata");
        return -1;
    }
    const char *nl = memchr(code, '\n', len);
    size_t l = nl ? (size_t)(nl - code) : len;
    const char *p = code + 2, *end = code + l;
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    const char *eng = p;
    size_t eng_len = (size_t)((sp ? sp : end) - p);
    bool have_name = false;
    p = sp ? sp + 1 : end;
    while (sp) {
        sp = memchr(p, ' ', (size_t)(end - p));
        const char *tend = sp ? sp : end;
        size_t tl = (size_t)(tend - p);
        if (tl >= 5 && memcmp(p, "name=", 5) == 0) {
            if (have_name) {
                buf_printf(err, "ERR Invalid metadata value, name argument was given multiple "
                                "times");
                return -1;
            }
            have_name = true;
            buf_append(name, p + 5, tl - 5);
        } else {
            buf_printf(err, "ERR Invalid metadata value given: %.*s", (int)tl, p);
            return -1;
        }
        p = tend + 1;
    }
    if (!have_name) {
        buf_printf(err, "ERR Library name was not given");
        return -1;
    }
    if (!(eng_len == 3 && strncasecmp(eng, "lua", 3) == 0)) {
        buf_printf(err, "ERR Engine '%.*s' not found", (int)eng_len, eng);
        return -1;
    }
    if (!valid_name(name->ptr, name->len)) {
        buf_printf(err, "%s", ERR_NAME_CHARS);
        return -1;
    }
    return 0;
}

/* Compiles and runs a library's code in the load sandbox. ignore: a
 * library whose functions may be replaced (REPLACE). Returns the new,
 * unattached library, or NULL with the error reply text in err. */
static struct flib *lib_compile(struct script_engine *se, const char *code, size_t len,
                                const char *name, const struct flib *ignore, struct buf *err)
{
    lua_State *L = se->L;
    struct flib *lib = lode_calloc(sizeof(*lib));
    lib->name = lode_malloc(strlen(name) + 1);
    memcpy(lib->name, name, strlen(name) + 1);
    lib->code = lode_malloc(len ? len : 1);
    memcpy(lib->code, code, len);
    lib->code_len = len;
    /* the shebang line becomes a comment, keeping line numbers */
    lib->code[0] = '-';
    lib->code[1] = '-';
    int top = lua_gettop(L);
    int rc = luaL_loadbufferx(L, lib->code, len, "@user_function", "t");
    lib->code[0] = '#';
    lib->code[1] = '!';
    if (rc != LUA_OK) {
        buf_printf(err, "ERR Error compiling function: %s", lua_tostring(L, -1));
        goto fail;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, REG_FENV);
    if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_ERRH);
    lua_insert(L, -2);
    fenv_use(L, REG_FLOAD);
    se->loading = lib;
    se->load_start_us = util_mono_us();
    rc = lua_pcall(L, 0, 0, top + 1);
    se->loading = NULL;
    fenv_use(L, REG_FRUN);
    lua_sethook(L, hook, LUA_MASKCOUNT, SCRIPT_HOOK_STEP);
    if (rc != LUA_OK) {
        const char *m = "ERR unknown error";
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_getfield(L, -1, "err");
            if (lua_type(L, -1) == LUA_TSTRING) m = lua_tostring(L, -1);
        }
        buf_printf(err, "ERR Error registering functions: %s", m);
        goto fail;
    }
    if (lib->nfuncs == 0) {
        buf_printf(err, "ERR No functions registered");
        goto fail;
    }
    for (int i = 0; i < lib->nfuncs; i++) {
        struct ffunc *old = func_find(se, lib->funcs[i]->name, strlen(lib->funcs[i]->name));
        if (old && old->lib != ignore) {
            buf_printf(err, "ERR Function %s already exists", lib->funcs[i]->name);
            goto fail;
        }
    }
    lua_settop(L, top);
    return lib;
fail:
    lua_settop(L, top);
    lib_free(se, lib);
    return NULL;
}

int script_function_load(struct script_engine *se, const char *code, size_t len, bool replace,
                         struct buf *name, struct buf *err)
{
    if (parse_lib_shebang(code, len, name, err) != 0) return -1;
    int k = lib_index(se, name->ptr, name->len);
    if (k >= 0 && !replace) {
        buf_printf(err, "ERR Library '%s' already exists", name->ptr);
        return -1;
    }
    struct flib *old = k >= 0 ? se->libs[k] : NULL;
    struct flib *lib = lib_compile(se, code, len, name->ptr, old, err);
    if (!lib) return -1;
    if (old) {
        lib_detach(se, old);
        lib_free(se, old);
    }
    lib_attach(se, lib);
    return 0;
}

int script_function_delete(struct script_engine *se, const char *name, size_t len)
{
    int k = lib_index(se, name, len);
    if (k < 0) return -1;
    struct flib *lib = se->libs[k];
    lib_detach(se, lib);
    lib_free(se, lib);
    return 0;
}

void script_function_flush(struct script_engine *se)
{
    while (se->nlibs) {
        struct flib *lib = se->libs[se->nlibs - 1];
        lib_detach(se, lib);
        lib_free(se, lib);
    }
    lua_gc(se->L, LUA_GCCOLLECT, 0);
}

long long script_library_count(const struct script_engine *se)
{
    return se->nlibs;
}

long long script_function_count(const struct script_engine *se)
{
    return se->nfuncs;
}

static void reply_lib(const struct flib *lib, bool withcode, struct reply *r)
{
    reply_map(r, withcode ? 4 : 3);
    reply_cstr(r, "library_name");
    reply_cstr(r, lib->name);
    reply_cstr(r, "engine");
    reply_cstr(r, "LUA");
    reply_cstr(r, "functions");
    reply_array(r, lib->nfuncs);
    for (int i = 0; i < lib->nfuncs; i++) {
        const struct ffunc *f = lib->funcs[i];
        reply_map(r, 3);
        reply_cstr(r, "name");
        reply_cstr(r, f->name);
        reply_cstr(r, "description");
        if (f->desc)
            reply_bulk(r, f->desc, f->desc_len);
        else
            reply_null(r);
        reply_cstr(r, "flags");
        reply_set(r, __builtin_popcount(f->flags));
        for (int k = 0; k < NFLAGS; k++)
            if (f->flags & (1u << k)) reply_status(r, flag_names[k]);
    }
    if (withcode) {
        reply_cstr(r, "library_code");
        reply_bulk(r, lib->code, lib->code_len);
    }
}

void script_function_list(struct script_engine *se, const char *pat, size_t plen, bool withcode,
                          struct reply *r)
{
    long long n = 0;
    for (int i = 0; i < se->nlibs; i++)
        if (!pat || util_glob_match(pat, plen, se->libs[i]->name, strlen(se->libs[i]->name), false))
            n++;
    reply_array(r, n);
    for (int i = 0; i < se->nlibs; i++)
        if (!pat || util_glob_match(pat, plen, se->libs[i]->name, strlen(se->libs[i]->name), false))
            reply_lib(se->libs[i], withcode, r);
}

void script_function_dump(const struct script_engine *se, struct buf *out)
{
    struct fdump_lib *libs = se->nlibs ? lode_malloc(sizeof(*libs) * (size_t)se->nlibs) : NULL;
    for (int i = 0; i < se->nlibs; i++)
        libs[i] = (struct fdump_lib){se->libs[i]->name, strlen(se->libs[i]->name),
                                     se->libs[i]->code, se->libs[i]->code_len};
    fdump_encode(out, se->nlibs, libs);
    lode_free(libs);
}

/* Restore: the libraries it set aside and the ones it attached, so that a
 * failure puts everything back. */
struct restore_undo {
    struct flib **old; /* detached, owned */
    int nold;
    struct flib **added; /* attached by this restore */
    int nadded;
};

int script_function_restore(struct script_engine *se, const char *p, size_t n,
                            enum script_restore_policy policy, struct buf *err)
{
    struct fdump_lib *libs;
    int nlibs;
    if (fdump_decode(p, n, &libs, &nlibs) != 0) {
        buf_printf(err, "ERR DUMP payload version or checksum are wrong");
        return -1;
    }
    struct restore_undo u = {0};
    u.old = lode_malloc(sizeof(*u.old) * (size_t)(se->nlibs + 1));
    u.added = lode_malloc(sizeof(*u.added) * (size_t)(nlibs + 1));
    struct buf name = BUF_INIT;
    int rc = 0;
    if (policy == SCRIPT_RESTORE_FLUSH) {
        while (se->nlibs) {
            struct flib *lib = se->libs[0];
            lib_detach(se, lib);
            u.old[u.nold++] = lib;
        }
    }
    for (int i = 0; i < nlibs && rc == 0; i++) {
        name.len = 0;
        if (parse_lib_shebang(libs[i].code, libs[i].code_len, &name, err) != 0) {
            rc = -1;
            break;
        }
        if (name.len != libs[i].name_len || memcmp(name.ptr, libs[i].name, name.len) != 0) {
            buf_printf(err, "ERR DUMP payload version or checksum are wrong");
            rc = -1;
            break;
        }
        int k = lib_index(se, name.ptr, name.len);
        if (k >= 0) {
            bool ours = false;
            for (int j = 0; j < u.nadded; j++) ours |= u.added[j] == se->libs[k];
            if (policy != SCRIPT_RESTORE_REPLACE || ours) {
                buf_printf(err, "ERR Library %s already exists", name.ptr);
                rc = -1;
                break;
            }
            struct flib *old = se->libs[k];
            lib_detach(se, old);
            u.old[u.nold++] = old;
        }
        struct flib *lib = lib_compile(se, libs[i].code, libs[i].code_len, name.ptr, NULL, err);
        if (!lib) {
            rc = -1;
            break;
        }
        lib_attach(se, lib);
        u.added[u.nadded++] = lib;
    }
    if (rc != 0) {
        for (int j = 0; j < u.nadded; j++) {
            lib_detach(se, u.added[j]);
            lib_free(se, u.added[j]);
        }
        for (int j = 0; j < u.nold; j++) lib_attach(se, u.old[j]);
    } else {
        for (int j = 0; j < u.nold; j++) lib_free(se, u.old[j]);
    }
    buf_release(&name);
    lode_free(u.old);
    lode_free(u.added);
    lode_free(libs);
    return rc;
}

void script_fcall(struct script_engine *se, const char *name, size_t len,
                  const struct script_call *call, struct reply *r)
{
    struct ffunc *f = func_find(se, name, len);
    if (!f) {
        reply_error(r, "ERR Function not found");
        return;
    }
    bool ro = (f->flags & FFLAG_NO_WRITES) != 0;
    if (call->readonly && !ro) {
        reply_error(r, ERR_RO_WRITE_FLAG);
        return;
    }
    lua_State *L = se->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, f->ref);
    push_array(L, call->nkeys, call->keys);
    push_array(L, call->nargs, call->args);
    se->name = f->name;
    run(se, 2, SCRIPT_FUNCTION, call, ro, r);
}

enum script_kind script_running(const struct script_engine *se)
{
    return se->kind;
}
const char *script_running_name(const struct script_engine *se)
{
    return se->kind ? se->name : "";
}
long long script_running_ms(const struct script_engine *se)
{
    return se->kind ? (util_mono_us() - se->start_us) / 1000 : 0;
}
bool script_running_wrote(const struct script_engine *se)
{
    return se->wrote;
}
void script_kill(struct script_engine *se)
{
    if (se->kind) se->kill = true;
}
size_t script_memory(const struct script_engine *se)
{
    return (size_t)lua_gc(se->L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(se->L, LUA_GCCOUNTB, 0);
}
long long script_cached(const struct script_engine *se)
{
    return se->ncached;
}
