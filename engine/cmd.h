/*
 * cmd.h - the command table and the context a command handler runs in.
 *
 * The table is declarative (STYLE.md section 9): every command has a JSON
 * file in engine/commands/, tools/gen_commands.py turns them into
 * engine/commands.def (committed, generated) and docs/commands.md. COMMAND,
 * dispatch, the WAL (which reads each write's logging rule), ACL and cluster
 * routing all read this one table.
 *
 * Handlers live in two layers: engine commands (data) are bound here;
 * server commands (CLIENT, CONFIG, INFO, ...) are bound by the server at
 * start-up through cmd_bind, because the engine may not call upward.
 *
 * Declared fields (struct cmd_def) are constant; runtime statistics live in
 * a separate array owned by the server.
 *
 * Thread: main. cmd_table_init allocates once; lookups never allocate.
 */
#ifndef LODE_CMD_H
#define LODE_CMD_H

#include "engine/db.h"
#include "engine/reply.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Connection state that engine commands may read and change. */
struct session {
    int db;       /* selected db index */
    int resp;     /* protocol version, 2 or 3 */
    bool in_exec; /* running inside EXEC or a script */
};

struct cmd_def;

/* A blocking command's request to wait (set by ctx_block; read by the
 * server, server/blocking.h). first_key 0 = no request. */
struct cmd_block {
    int first_key;         /* argv index of the first key waited on */
    int nkeys;             /* consecutive argv keys from first_key */
    int type;              /* enum obj_type the command pops from */
    long long deadline_ms; /* absolute, eng->now_ms's clock; 0 = forever */
};

struct cmd_ctx {
    struct engine *eng;
    struct session *sess;
    struct db *db; /* == &eng->dbs[sess->db] when the handler starts */
    int argc;
    const struct slice *argv; /* borrowed until the handler returns */
    struct reply *r;
    const struct cmd_def *cmd;
    void *client;    /* the server's connection object; opaque here */
    long long dirty; /* changes the command made (0: nothing to log) */
    bool emitted;    /* the handler emitted its own effects (WAL_REWRITE) */
    /* Blocking commands: when the server re-runs a blocked command because
     * serve_key became ready, the command considers that key only (as
     * Redis serves a blocked client from the key that became ready); NULL
     * on a normal call. */
    const struct slice *serve_key;
    struct cmd_block block; /* OUT: set by ctx_block */
};

typedef void cmd_handler(struct cmd_ctx *ctx);

/* Command flags (COMMAND reports their names). */
enum {
    CMDF_WRITE = 1ULL << 0,
    CMDF_READONLY = 1ULL << 1,
    CMDF_DENYOOM = 1ULL << 2,
    CMDF_ADMIN = 1ULL << 3,
    CMDF_PUBSUB = 1ULL << 4,
    CMDF_NOSCRIPT = 1ULL << 5,
    CMDF_BLOCKING = 1ULL << 6,
    CMDF_LOADING = 1ULL << 7,
    CMDF_STALE = 1ULL << 8,
    CMDF_SKIP_MONITOR = 1ULL << 9,
    CMDF_SKIP_SLOWLOG = 1ULL << 10,
    CMDF_FAST = 1ULL << 11,
    CMDF_NO_AUTH = 1ULL << 12,
    CMDF_MAY_REPLICATE = 1ULL << 13,
    CMDF_NO_MANDATORY_KEYS = 1ULL << 14,
    CMDF_NO_MULTI = 1ULL << 15,
    CMDF_ALLOW_BUSY = 1ULL << 16,
    CMDF_MOVABLEKEYS = 1ULL << 17,
    CMDF_NFLAGS = 18
};

/* ACL categories. */
enum {
    ACL_KEYSPACE = 1ULL << 0,
    ACL_READ = 1ULL << 1,
    ACL_WRITE = 1ULL << 2,
    ACL_SET = 1ULL << 3,
    ACL_SORTEDSET = 1ULL << 4,
    ACL_LIST = 1ULL << 5,
    ACL_HASH = 1ULL << 6,
    ACL_STRING = 1ULL << 7,
    ACL_BITMAP = 1ULL << 8,
    ACL_HYPERLOGLOG = 1ULL << 9,
    ACL_GEO = 1ULL << 10,
    ACL_STREAM = 1ULL << 11,
    ACL_PUBSUB = 1ULL << 12,
    ACL_ADMIN = 1ULL << 13,
    ACL_FAST = 1ULL << 14,
    ACL_SLOW = 1ULL << 15,
    ACL_BLOCKING = 1ULL << 16,
    ACL_DANGEROUS = 1ULL << 17,
    ACL_CONNECTION = 1ULL << 18,
    ACL_TRANSACTION = 1ULL << 19,
    ACL_SCRIPTING = 1ULL << 20,
    ACL_NCATS = 21
};

/* How a write is logged to the WAL (read by the durability layer). */
enum cmd_wal_rule {
    WAL_NONE = 0, /* not a write: nothing is logged */
    WAL_VERBATIM, /* the command as received, when it changed something */
    WAL_REWRITE,  /* the handler emits a deterministic form itself */
};

enum cmd_layer { LAYER_ENGINE = 0, LAYER_SERVER };

#define CMD(id, name, fullname, parent, layer, fn, arity, flags, acl, first, last, step, wal,      \
            group, since, summary, complexity)                                                     \
    id,
enum cmd_id {
#include "engine/commands.def"
    CMD__COUNT,
    CMD_NONE = -1
};
#undef CMD

/* A key specification (Redis 7.0): where the keys of a call are. */
enum { KS_BS_UNKNOWN = 0, KS_BS_INDEX, KS_BS_KEYWORD };
enum { KS_FK_UNKNOWN = 0, KS_FK_RANGE, KS_FK_KEYNUM };
struct cmd_keyspec {
    const char *flags;      /* space-separated, Redis's names ("RW access update") */
    int bs_type;            /* KS_BS_* */
    int bs_index;           /* INDEX: argv index of the first key */
    const char *bs_keyword; /* KEYWORD: the keys follow this argument ... */
    int bs_startfrom;       /* ... searched from this index (< 0: from the end) */
    int fk_type;            /* KS_FK_* */
    int fk[3]; /* RANGE: lastkey, keystep, limit; KEYNUM: keynumidx, firstkey, keystep */
};

struct cmd_def {
    int id;
    const char *name;     /* lowercase; a subcommand's own name ("get") */
    const char *fullname; /* "get", or "config|get" for a subcommand */
    int parent;           /* parent command id, CMD_NONE at top level */
    int layer;            /* enum cmd_layer */
    cmd_handler *fn;      /* NULL for containers and unbound server commands */
    int arity;            /* > 0 exact argc, < 0 at least -arity */
    uint64_t flags;
    uint64_t acl;
    int first_key, last_key, key_step; /* 0 0 0 when none; last -1 = to the end */
    int wal;                           /* enum cmd_wal_rule */
    const char *group, *since, *summary, *complexity;
    const char *const *tips; /* COMMAND INFO tips, ntips of them */
    int ntips;
    const struct cmd_keyspec *specs; /* nspecs key specifications */
    int nspecs;
    /* derived at init */
    int nsubs;
    const int *subs; /* subcommand ids, table order */
};

extern struct cmd_def cmd_table[CMD__COUNT];

void cmd_table_init(void);
/* Binds a server-layer handler. */
void cmd_bind(int id, cmd_handler *fn);
/* Top-level command by name (any case), NULL when unknown. */
const struct cmd_def *cmd_lookup(const char *name, size_t len);
/* Subcommand of parent by name (any case), NULL when unknown. */
const struct cmd_def *cmd_lookup_sub(const struct cmd_def *parent, const char *name, size_t len);
/* Resolves argv to the command to run: the subcommand for containers.
 * On failure writes Redis's error into r and returns NULL. */
const struct cmd_def *cmd_resolve(int argc, const struct slice *argv, struct reply *r);
/* Whether argc fits the arity. */
static inline bool cmd_arity_ok(const struct cmd_def *c, int argc)
{
    return c->arity > 0 ? argc == c->arity : argc >= -c->arity;
}

/* Names for COMMAND replies; arrays of CMDF_NFLAGS / ACL_NCATS entries. */
extern const char *const cmd_flag_names[CMDF_NFLAGS];
extern const char *const cmd_acl_names[ACL_NCATS];

/* Key positions of a call (COMMAND GETKEYS, cluster routing, WATCH), from
 * the key specifications (or first/last/step when a command has none).
 * Writes up to max argv indexes into out and, when spec is not NULL, the
 * key spec each key came from; returns the count, or -1 when argc does not
 * fit the arity. */
int cmd_key_positions(const struct cmd_def *c, int argc, const struct slice *argv, int *out,
                      const struct cmd_keyspec **spec, int max);

/* ---- helpers for handlers ---- */

/* Whether argv[i] equals lit, ignoring ASCII case. */
static inline bool arg_is(const struct cmd_ctx *ctx, int i, const char *lit)
{
    extern bool util_eq_nocase(const char *s, size_t n, const char *lit);
    return util_eq_nocase(ctx->argv[i].ptr, ctx->argv[i].len, lit);
}
/* Parses argv[i] as a long long; on failure replies ERR_NOTINT (or err if
 * not NULL) and returns false. */
bool arg_ll(struct cmd_ctx *ctx, int i, long long *out, const char *err);
/* Parses argv[i] as a long long in [min, max]; replies err otherwise. */
bool arg_ll_range(struct cmd_ctx *ctx, int i, long long min, long long max, long long *out,
                  const char *err);
/* Parses argv[i] as a double; replies ERR_NOTFLOAT on failure. */
bool arg_double(struct cmd_ctx *ctx, int i, double *out);

/* Parses a SCAN cursor as Redis does (strtoul rules: no leading space, an
 * optional sign, all of the argument, no overflow; "" is 0); replies
 * "ERR invalid cursor" otherwise. */
bool arg_scan_cursor(struct cmd_ctx *ctx, int i, uint64_t *out);
/* Parses the [MATCH pattern] [COUNT count] options of HSCAN / SSCAN /
 * ZSCAN from argv[first]: count defaults to 10, *pat is NULL for none or
 * "*". Replies a syntax error (unknown option, missing value, COUNT < 1)
 * or a not-an-integer error and returns false. */
bool arg_scan_opts(struct cmd_ctx *ctx, int first, long long *count, const struct slice **pat);

/* Looks up argv[i] for reading (hits/misses counted). */
struct kv *ctx_lookup_read(struct cmd_ctx *ctx, int i);
/* Looks up argv[i] for writing. */
struct kv *ctx_lookup_write(struct cmd_ctx *ctx, int i);
/* Marks that the command changed the dataset (so it will be logged). */
static inline void ctx_dirty(struct cmd_ctx *ctx, long long n)
{
    ctx->dirty += n;
    ctx->eng->dirty += n;
}
/* Emits the deterministic form of this command's change (for commands whose
 * table entry says `rewrite`; `verbatim` ones are logged by the dispatcher).
 * argv is borrowed. */
void ctx_emit(struct cmd_ctx *ctx, int argc, const struct slice *argv);
/* The single write path's rule, applied once the handler has returned: a
 * write (`verbatim` or `rewrite`) that changed something (dirty > 0) and
 * emitted nothing itself is appended as received, in db0 (the client's db
 * when the command started). Returns true when the command is declared
 * `rewrite` yet changed data without emitting: the verbatim fallback was
 * logged, and the handler is missing a rewrite (callers may warn). */
bool ctx_log_effects(struct cmd_ctx *ctx, int db0);

/* ---- blocking commands (BLPOP, BZPOPMIN, ...) ----
 * A blocking handler parses its timeout with arg_timeout, tries to serve
 * from its keys (skipping those ctx_serves_key rejects), and when nothing
 * was there either answers as its non-blocking form would on empty keys
 * (when !ctx_may_block: inside MULTI/EXEC or a script, or without a
 * client) or calls ctx_block and replies nothing. The server then blocks
 * the client and re-runs the same handler with serve_key set when a key
 * becomes ready (db_signal_ready); a re-run that calls ctx_block again
 * keeps the client waiting in its place. Served pops emit the
 * deterministic form of what they did (LPOP key, LMOVE ...). */

/* Parses argv[i] as a timeout in seconds, as Redis 7.0 does (a long
 * double, fractional allowed; errors "ERR timeout is not a float or out of
 * range", "ERR timeout is negative"). OUT: *deadline_ms, absolute in
 * eng->now_ms's clock, 0 for no timeout. Replies and returns false on
 * error. */
bool arg_timeout(struct cmd_ctx *ctx, int i, long long *deadline_ms);
/* Whether this call may block (not in EXEC or a script, has a client). */
bool ctx_may_block(const struct cmd_ctx *ctx);
/* Whether argv[i] is a key this call may serve from (always, unless the
 * server re-runs it for another key). */
bool ctx_serves_key(const struct cmd_ctx *ctx, int i);
/* Asks the server to block the client on nkeys keys from argv[first]
 * until one holds a value of type, or deadline_ms (0 = forever). */
void ctx_block(struct cmd_ctx *ctx, int first, int nkeys, int type, long long deadline_ms);

/* Replies WRONGTYPE and returns true when kv is not of type t. */
bool ctx_wrongtype(struct cmd_ctx *ctx, const struct kv *kv, int type);

#endif
