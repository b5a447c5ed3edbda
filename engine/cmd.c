/*
 * cmd.c - the command table, lookup and handler helpers (see cmd.h).
 */
#include "engine/cmd.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CMD_ENGINE_PROTOTYPES
#include "engine/commands.def"
#undef CMD_ENGINE_PROTOTYPES

#define E(fn) fn
#define S(fn) NULL
#define N()   NULL
#define CMD(id_, name_, full_, parent_, layer_, fn_, arity_, flags_, acl_, first_, last_, step_,   \
            wal_, group_, since_, summary_, complexity_)                                           \
    [id_] = {.id = id_,                                                                            \
             .name = name_,                                                                        \
             .fullname = full_,                                                                    \
             .parent = parent_,                                                                    \
             .layer = layer_,                                                                      \
             .fn = fn_,                                                                            \
             .arity = arity_,                                                                      \
             .flags = flags_,                                                                      \
             .acl = acl_,                                                                          \
             .first_key = first_,                                                                  \
             .last_key = last_,                                                                    \
             .key_step = step_,                                                                    \
             .wal = wal_,                                                                          \
             .group = group_,                                                                      \
             .since = since_,                                                                      \
             .summary = summary_,                                                                  \
             .complexity = complexity_},
struct cmd_def cmd_table[CMD__COUNT] = {
#include "engine/commands.def"
};
#undef CMD
#undef E
#undef S
#undef N

#define CMD_EXTRAS
#include "engine/commands.def"
#undef CMD_EXTRAS

const char *const cmd_flag_names[CMDF_NFLAGS] = {
    "write",        "readonly",   "denyoom",     "admin",         "pubsub",
    "noscript",     "blocking",   "loading",     "stale",         "skip_monitor",
    "skip_slowlog", "fast",       "no_auth",     "may_replicate", "no_mandatory_keys",
    "no_multi",     "allow_busy", "movablekeys",
};

const char *const cmd_acl_names[ACL_NCATS] = {
    "keyspace", "read",   "write",       "set",       "sortedset",  "list",        "hash",
    "string",   "bitmap", "hyperloglog", "geo",       "stream",     "pubsub",      "admin",
    "fast",     "slow",   "blocking",    "dangerous", "connection", "transaction", "scripting",
};

/* Open-addressed name index over top-level commands. */
#define NAME_SLOTS 1024
static short name_index[NAME_SLOTS];
static int sub_ids[CMD__COUNT];

static void index_add(int id)
{
    const char *n = cmd_table[id].name;
    uint64_t h = util_hash_nocase(n, strlen(n));
    for (uint64_t i = h & (NAME_SLOTS - 1);; i = (i + 1) & (NAME_SLOTS - 1)) {
        if (name_index[i] < 0) {
            name_index[i] = (short)id;
            return;
        }
    }
}

void cmd_table_init(void)
{
    _Static_assert(CMD__COUNT < NAME_SLOTS / 2, "grow NAME_SLOTS");
    memset(name_index, 0xff, sizeof(name_index));
    cmd_attach_extras();
    int nsub = 0;
    for (int id = 0; id < CMD__COUNT; id++) {
        struct cmd_def *c = &cmd_table[id];
        lode_assert(c->id == id);
        if (c->parent == CMD_NONE) {
            index_add(id);
            continue;
        }
    }
    /* subcommands: group ids by parent, in table order */
    for (int p = 0; p < CMD__COUNT; p++) {
        struct cmd_def *pc = &cmd_table[p];
        int start = nsub;
        for (int id = 0; id < CMD__COUNT; id++)
            if (cmd_table[id].parent == p) sub_ids[nsub++] = id;
        pc->nsubs = nsub - start;
        pc->subs = pc->nsubs ? &sub_ids[start] : NULL;
    }
}

void cmd_bind(int id, cmd_handler *fn)
{
    lode_assert(id >= 0 && id < CMD__COUNT && cmd_table[id].layer == LAYER_SERVER);
    cmd_table[id].fn = fn;
}

const struct cmd_def *cmd_lookup(const char *name, size_t len)
{
    if (len == 0 || len > 64) return NULL;
    uint64_t h = util_hash_nocase(name, len);
    for (uint64_t i = h & (NAME_SLOTS - 1);; i = (i + 1) & (NAME_SLOTS - 1)) {
        int id = name_index[i];
        if (id < 0) return NULL;
        if (util_eq_nocase(name, len, cmd_table[id].name)) return &cmd_table[id];
    }
}

const struct cmd_def *cmd_lookup_sub(const struct cmd_def *parent, const char *name, size_t len)
{
    for (int i = 0; i < parent->nsubs; i++) {
        const struct cmd_def *s = &cmd_table[parent->subs[i]];
        if (util_eq_nocase(name, len, s->name)) return s;
    }
    return NULL;
}

/* Appends "'arg' " for up to the first 128 bytes of each argument, as
 * Redis quotes them in unknown-command errors. */
static void quote_args(struct buf *b, int argc, const struct slice *argv)
{
    for (int i = 0; i < argc && b->len < 1024; i++) {
        size_t n = argv[i].len < 128 ? argv[i].len : 128;
        buf_putc(b, '\'');
        buf_append(b, argv[i].ptr, n);
        buf_append(b, "' ", 2);
    }
}

const struct cmd_def *cmd_resolve(int argc, const struct slice *argv, struct reply *r)
{
    const struct cmd_def *c = cmd_lookup(argv[0].ptr, argv[0].len);
    struct buf b = BUF_INIT;
    if (!c) {
        buf_append(&b, "ERR unknown command '", 21);
        buf_append(&b, argv[0].ptr, argv[0].len < 128 ? argv[0].len : 128);
        buf_append(&b, "', with args beginning with: ", 29);
        quote_args(&b, argc - 1, argv + 1);
        goto fail;
    }
    if (c->nsubs && argc >= 2) {
        const struct cmd_def *s = cmd_lookup_sub(c, argv[1].ptr, argv[1].len);
        if (!s) {
            buf_append(&b, "ERR unknown subcommand '", 24);
            buf_append(&b, argv[1].ptr, argv[1].len < 128 ? argv[1].len : 128);
            buf_append(&b, "'. Try ", 7);
            for (const char *p = c->name; *p; p++)
                buf_putc(&b, (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p));
            buf_append(&b, " HELP.", 6);
            goto fail;
        }
        c = s;
    }
    if (!cmd_arity_ok(c, argc)) {
        buf_printf(&b, "ERR wrong number of arguments for '%s' command", c->fullname);
        goto fail;
    }
    return c;
fail:
    reply_error(r, b.ptr);
    buf_release(&b);
    return NULL;
}

/* Keys found by one key spec, appended to out from *n (up to max). */
static void spec_keys(const struct cmd_keyspec *ks, int argc, const struct slice *argv, int *out,
                      const struct cmd_keyspec **spec, int *n, int max)
{
    int start;
    if (ks->bs_type == KS_BS_INDEX) {
        start = ks->bs_index;
    } else if (ks->bs_type == KS_BS_KEYWORD) {
        int from = ks->bs_startfrom >= 0 ? ks->bs_startfrom : argc + ks->bs_startfrom;
        int step = ks->bs_startfrom >= 0 ? 1 : -1;
        start = -1;
        for (int i = from; i > 0 && i < argc; i += step) {
            if (util_eq_nocase(argv[i].ptr, argv[i].len, ks->bs_keyword)) {
                start = i + 1;
                break;
            }
        }
        if (start < 0) return;
    } else {
        return;
    }
    int first = start, last, step;
    if (ks->fk_type == KS_FK_RANGE) {
        step = ks->fk[1] > 0 ? ks->fk[1] : 1;
        if (ks->fk[0] >= 0) {
            last = start + ks->fk[0];
        } else if (ks->fk[0] == -1 && ks->fk[2] > 1) {
            last = start + (argc - start) / ks->fk[2] - 1;
        } else {
            last = argc + ks->fk[0];
        }
    } else if (ks->fk_type == KS_FK_KEYNUM) {
        int idx = start + ks->fk[0];
        long long num;
        if (idx >= argc || !util_str2ll(argv[idx].ptr, argv[idx].len, &num) || num < 0) return;
        first = start + ks->fk[1];
        step = ks->fk[2] > 0 ? ks->fk[2] : 1;
        if (num > argc) return;
        last = first + ((int)num - 1) * step;
    } else {
        return;
    }
    for (int i = first; i <= last && i < argc && *n < max; i += step) {
        out[*n] = i;
        if (spec) spec[*n] = ks;
        (*n)++;
    }
}

int cmd_key_positions(const struct cmd_def *c, int argc, const struct slice *argv, int *out,
                      const struct cmd_keyspec **spec, int max)
{
    if (!cmd_arity_ok(c, argc)) return -1;
    int n = 0;
    if (c->nspecs) {
        for (int s = 0; s < c->nspecs; s++) spec_keys(&c->specs[s], argc, argv, out, spec, &n, max);
        return n;
    }
    if (c->first_key <= 0) return 0;
    int last = c->last_key < 0 ? argc + c->last_key : c->last_key;
    for (int i = c->first_key; i <= last && i < argc && n < max; i += c->key_step) {
        out[n] = i;
        if (spec) spec[n] = NULL;
        n++;
    }
    return n;
}

bool arg_ll(struct cmd_ctx *ctx, int i, long long *out, const char *err)
{
    if (util_str2ll(ctx->argv[i].ptr, ctx->argv[i].len, out)) return true;
    reply_error(ctx->r, err ? err : ERR_NOTINT);
    return false;
}

bool arg_ll_range(struct cmd_ctx *ctx, int i, long long min, long long max, long long *out,
                  const char *err)
{
    long long v;
    if (!arg_ll(ctx, i, &v, err)) return false;
    if (v < min || v > max) {
        reply_error(ctx->r, err ? err : ERR_NOTINT);
        return false;
    }
    *out = v;
    return true;
}

bool arg_double(struct cmd_ctx *ctx, int i, double *out)
{
    if (util_str2d(ctx->argv[i].ptr, ctx->argv[i].len, out)) return true;
    reply_error(ctx->r, ERR_NOTFLOAT);
    return false;
}

struct kv *ctx_lookup_read(struct cmd_ctx *ctx, int i)
{
    return db_lookup(ctx->eng, ctx->db, ctx->argv[i].ptr, ctx->argv[i].len, 0);
}

struct kv *ctx_lookup_write(struct cmd_ctx *ctx, int i)
{
    return db_lookup(ctx->eng, ctx->db, ctx->argv[i].ptr, ctx->argv[i].len, LOOKUP_WRITE);
}

void ctx_emit(struct cmd_ctx *ctx, int argc, const struct slice *argv)
{
    effects_emit(&ctx->eng->eff, ctx->db->id, argc, argv);
    ctx->emitted = true;
}

bool ctx_log_effects(struct cmd_ctx *ctx, int db0)
{
    if (ctx->dirty <= 0 || ctx->cmd->wal == WAL_NONE || ctx->emitted) return false;
    effects_emit(&ctx->eng->eff, db0, ctx->argc, ctx->argv);
    return ctx->cmd->wal == WAL_REWRITE;
}

/* Parses a SCAN cursor as Redis does (strtoul rules: no leading space, an
 * optional sign, all of the argument, no overflow; "" is 0). */
bool arg_scan_cursor(struct cmd_ctx *ctx, int i, uint64_t *out)
{
    const struct slice *a = &ctx->argv[i];
    char small[64];
    char *s = a->len < sizeof(small) ? small : lode_malloc(a->len + 1);
    memcpy(s, a->ptr, a->len);
    s[a->len] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    /* a NUL inside the argument ends the C string Redis parses too */
    bool ok = !isspace((unsigned char)s[0]) && *end == '\0' && errno != ERANGE;
    if (s != small) lode_free(s);
    if (!ok) {
        reply_error(ctx->r, "ERR invalid cursor");
        return false;
    }
    *out = v;
    return true;
}

bool arg_scan_opts(struct cmd_ctx *ctx, int first, long long *count, const struct slice **pat)
{
    *count = 10;
    *pat = NULL;
    for (int j = first; j < ctx->argc; j += 2) {
        if (j + 1 >= ctx->argc) {
            reply_error(ctx->r, ERR_SYNTAX);
            return false;
        }
        if (arg_is(ctx, j, "count")) {
            if (!arg_ll(ctx, j + 1, count, NULL)) return false;
            if (*count < 1) {
                reply_error(ctx->r, ERR_SYNTAX);
                return false;
            }
        } else if (arg_is(ctx, j, "match")) {
            *pat = &ctx->argv[j + 1];
            if ((*pat)->len == 1 && (*pat)->ptr[0] == '*') *pat = NULL;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

bool arg_timeout(struct cmd_ctx *ctx, int i, long long *deadline_ms)
{
    const struct slice *a = &ctx->argv[i];
    char tmp[256];
    long double v = 0;
    bool ok = a->len > 0 && a->len < sizeof(tmp) && !isspace((unsigned char)a->ptr[0]);
    if (ok) {
        memcpy(tmp, a->ptr, a->len);
        tmp[a->len] = '\0';
        char *end;
        errno = 0;
        v = strtold(tmp, &end);
        ok = *end == '\0' && errno != ERANGE && !isnan(v);
    }
    if (!ok) {
        reply_error(ctx->r, "ERR timeout is not a float or out of range");
        return false;
    }
    /* Redis converts seconds * 1000 to a long long; on x86 a value out of
     * range converts to LLONG_MIN, so huge timeouts (and inf) are
     * "negative" there: do the same without the undefined conversion */
    long double ms = v * 1000.0L;
    long long t =
        ms < 9223372036854775807.0L && ms > -9223372036854775807.0L ? (long long)ms : LLONG_MIN;
    if (t < 0) {
        reply_error(ctx->r, "ERR timeout is negative");
        return false;
    }
    if (t > 0) t = t > LLONG_MAX - ctx->eng->now_ms ? 0 : t + ctx->eng->now_ms;
    *deadline_ms = t;
    return true;
}

bool ctx_may_block(const struct cmd_ctx *ctx)
{
    return ctx->client && !ctx->sess->in_exec;
}

bool ctx_serves_key(const struct cmd_ctx *ctx, int i)
{
    const struct slice *k = ctx->serve_key;
    return !k || (k->len == ctx->argv[i].len && memcmp(k->ptr, ctx->argv[i].ptr, k->len) == 0);
}

void ctx_block(struct cmd_ctx *ctx, int first, int nkeys, int type, long long deadline_ms)
{
    ctx->block = (struct cmd_block){first, nkeys, type, deadline_ms};
}

bool ctx_wrongtype(struct cmd_ctx *ctx, const struct kv *kv, int type)
{
    if (kv->type == type) return false;
    reply_error(ctx->r, ERR_WRONGTYPE);
    return true;
}
