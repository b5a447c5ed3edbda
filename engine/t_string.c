/*
 * t_string.c - string commands (GET, SET and the rest of Redis 7.0's
 * string family).
 *
 * Values are kept in the most compact encoding (object.h): integers as
 * ENC_INT, short strings embedded in the key entry, long or in-place
 * mutated strings as ENC_RAW. Every command replies byte-for-byte as Redis
 * 7.0 does, errors included.
 */
#include "engine/cmd.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <limits.h>
#include <string.h>

/* SET/GETEX option flags, as Redis parses them. */
enum {
    SET_NX = 1 << 0,
    SET_XX = 1 << 1,
    SET_GET = 1 << 2,
    SET_KEEPTTL = 1 << 3,
    SET_EX = 1 << 4,
    SET_PX = 1 << 5,
    SET_EXAT = 1 << 6,
    SET_PXAT = 1 << 7,
    SET_PERSIST = 1 << 8,
};
#define SET_ANY_EXPIRE (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

enum { FOR_SET, FOR_GETEX };

/* Parses SET/GETEX options from argv[first]. Replies and returns false on
 * a syntax error. *exp_arg is the index of the expire value (0: none). */
static bool parse_set_options(struct cmd_ctx *ctx, int first, int kind, int *flags, int *exp_arg)
{
    *flags = 0;
    *exp_arg = 0;
    for (int j = first; j < ctx->argc; j++) {
        bool has_next = j + 1 < ctx->argc;
        int f = *flags;
        if (kind == FOR_SET && arg_is(ctx, j, "nx") && !(f & SET_XX)) {
            *flags |= SET_NX;
        } else if (kind == FOR_SET && arg_is(ctx, j, "xx") && !(f & SET_NX)) {
            *flags |= SET_XX;
        } else if (kind == FOR_SET && arg_is(ctx, j, "get")) {
            *flags |= SET_GET;
        } else if (kind == FOR_SET && arg_is(ctx, j, "keepttl") &&
                   !(f & (SET_PERSIST | SET_ANY_EXPIRE))) {
            *flags |= SET_KEEPTTL;
        } else if (kind == FOR_GETEX && arg_is(ctx, j, "persist") &&
                   !(f & (SET_KEEPTTL | SET_ANY_EXPIRE))) {
            *flags |= SET_PERSIST;
        } else if (has_next && arg_is(ctx, j, "ex") &&
                   !(f & (SET_KEEPTTL | SET_PERSIST | SET_PX | SET_EXAT | SET_PXAT))) {
            *flags |= SET_EX;
            *exp_arg = ++j;
        } else if (has_next && arg_is(ctx, j, "px") &&
                   !(f & (SET_KEEPTTL | SET_PERSIST | SET_EX | SET_EXAT | SET_PXAT))) {
            *flags |= SET_PX;
            *exp_arg = ++j;
        } else if (has_next && arg_is(ctx, j, "exat") &&
                   !(f & (SET_KEEPTTL | SET_PERSIST | SET_EX | SET_PX | SET_PXAT))) {
            *flags |= SET_EXAT;
            *exp_arg = ++j;
        } else if (has_next && arg_is(ctx, j, "pxat") &&
                   !(f & (SET_KEEPTTL | SET_PERSIST | SET_EX | SET_PX | SET_EXAT))) {
            *flags |= SET_PXAT;
            *exp_arg = ++j;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

/* Turns the expire argument into absolute ms, as Redis validates it.
 * Replies and returns false on error. */
static bool expire_arg_to_abs(struct cmd_ctx *ctx, int flags, int i, long long *abs_ms)
{
    long long v;
    if (!arg_ll(ctx, i, &v, NULL)) return false;
    bool seconds = flags & (SET_EX | SET_EXAT);
    bool relative = flags & (SET_EX | SET_PX);
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) goto invalid;
    if (seconds) v *= 1000;
    if (relative) {
        if (v > LLONG_MAX - ctx->eng->now_ms) goto invalid;
        v += ctx->eng->now_ms;
    }
    *abs_ms = v;
    return true;
invalid:
    reply_errorf(ctx->r, "ERR invalid expire time in '%s' command", ctx->cmd->fullname);
    return false;
}

/* GET's reply for a looked-up entry; returns false after WRONGTYPE. */
static bool reply_string_of(struct cmd_ctx *ctx, const struct kv *kv)
{
    if (!kv) {
        reply_null(ctx->r);
        return true;
    }
    if (ctx_wrongtype(ctx, kv, OBJ_STRING)) return false;
    char tmp[UTIL_LLSTR_SIZE];
    size_t n;
    const char *p = kv_str(kv, tmp, &n);
    reply_bulk(ctx->r, p, n);
    return true;
}

void cmd_get(struct cmd_ctx *ctx)
{
    reply_string_of(ctx, ctx_lookup_read(ctx, 1));
}

/* Stores a string value under argv[key]; keepttl keeps an existing TTL. */
static struct kv *store_string(struct cmd_ctx *ctx, int key, const char *p, size_t n,
                               bool keepttl)
{
    const struct slice *k = &ctx->argv[key];
    struct kv *kv = kv_new_str(k->ptr, k->len, p, n);
    db_set(ctx->eng, ctx->db, kv, keepttl);
    ctx_dirty(ctx, 1);
    return kv;
}

void cmd_set(struct cmd_ctx *ctx)
{
    int flags, exp_arg;
    long long when = 0;
    if (!parse_set_options(ctx, 3, FOR_SET, &flags, &exp_arg)) return;
    if (exp_arg && !expire_arg_to_abs(ctx, flags, exp_arg, &when)) return;
    struct kv *old = ctx_lookup_write(ctx, 1);
    if (flags & SET_GET) {
        /* GET replies with the old value first (and refuses other types) */
        if (!reply_string_of(ctx, old)) return;
    }
    if (((flags & SET_NX) && old) || ((flags & SET_XX) && !old)) {
        if (!(flags & SET_GET)) reply_null(ctx->r);
        return;
    }
    struct kv *kv = store_string(ctx, 1, ctx->argv[2].ptr, ctx->argv[2].len,
                                 (flags & SET_KEEPTTL) != 0);
    if (exp_arg) db_set_expire(ctx->db, kv, when);
    if (!(flags & SET_GET)) reply_ok(ctx->r);
}
