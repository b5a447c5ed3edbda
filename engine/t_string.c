/*
 * t_string.c - string commands (GET, SET and the rest of Redis 7.0's
 * string family).
 *
 * Values are kept in the most compact encoding (object.h): integers as
 * ENC_INT, short strings embedded in the key entry, long or in-place
 * mutated strings as ENC_RAW. Every command replies byte-for-byte as Redis
 * 7.0 does, errors included.
 *
 * Logging (effects.h): most string writes replay exactly as received and
 * are declared `verbatim`. Those whose outcome depends on the clock or on
 * floating-point arithmetic are declared `rewrite` and emit the effect
 * itself, as Redis 7.0 propagates them:
 *   SET with EX/PX/EXAT/PXAT, SETEX, PSETEX  SET key value PXAT <abs ms>
 *   SET without an expire                    SET key value [KEEPTTL]
 *   GETEX with an expire / PERSIST / a past  PEXPIREAT key <abs ms> /
 *     absolute time                          PERSIST key / DEL key
 *   INCRBYFLOAT                              SET key <result> KEEPTTL
 * A command that changed nothing emits nothing. NX, XX and GET are dropped
 * from the SET forms: the condition held when the command ran, replay
 * starts from the same state (a key expiry removed first is logged as a DEL
 * before the SET), and GET changes nothing.
 *
 * The verbatim ones, checked: SETNX, MSET, MSETNX, GETSET, GETDEL, INCR,
 * DECR, INCRBY, DECRBY, APPEND and SETRANGE depend only on the state and
 * their arguments (integer arithmetic, byte copies), and drop or keep TTLs
 * as absolute times, so replay reproduces them.
 */
#include "engine/notify.h"
#include "engine/cmd.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- effects ---- */

/* Emits name key (DEL, PERSIST). */
static void emit_key_cmd(struct cmd_ctx *ctx, const char *name, const struct slice *key)
{
    struct slice a[2] = {{name, strlen(name)}, *key};
    ctx_emit(ctx, 2, a);
}

/* Emits PEXPIREAT key when_ms. */
static void emit_pexpireat(struct cmd_ctx *ctx, const struct slice *key, long long when_ms)
{
    char num[UTIL_LLSTR_SIZE];
    struct slice a[3] = {{"PEXPIREAT", 9}, *key, {num, (size_t)util_ll2str(num, when_ms)}};
    ctx_emit(ctx, 3, a);
}

/* Emits SET key value, then PXAT when_ms when when_ms >= 0, else KEEPTTL
 * when keepttl (the two never come together). */
static void emit_set(struct cmd_ctx *ctx, const struct slice *key, const char *val, size_t vlen,
                     long long when_ms, bool keepttl)
{
    char num[UTIL_LLSTR_SIZE];
    struct slice a[5] = {{"SET", 3}, *key, {val, vlen}};
    int argc = 3;
    if (when_ms >= 0) {
        a[argc++] = (struct slice){"PXAT", 4};
        a[argc++] = (struct slice){num, (size_t)util_ll2str(num, when_ms)};
    } else if (keepttl) {
        a[argc++] = (struct slice){"KEEPTTL", 7};
    }
    ctx_emit(ctx, argc, a);
}

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

/* Tells the engine's hooks (WATCH, dirty set) that kv changed in place: the
 * db_* calls that insert or replace entries notify on their own, in-place
 * mutations (INCR, APPEND, SETRANGE, TTL changes) do it here. */
static void key_changed(struct cmd_ctx *ctx, const struct kv *kv)
{
    db_key_changed(ctx->eng, ctx->db, kv->data, kv->klen);
}

/* Stores a string value under argv[key]; keepttl keeps an existing TTL. */
static struct kv *store_string(struct cmd_ctx *ctx, int key, const char *p, size_t n, bool keepttl)
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
    /* SET ... GET reads the old value as GET does (stats, keymiss) */
    struct kv *old = (flags & SET_GET) ? ctx_lookup_read(ctx, 1) : ctx_lookup_write(ctx, 1);
    if (flags & SET_GET) {
        /* GET replies with the old value first (and refuses other types) */
        if (!reply_string_of(ctx, old)) return;
    }
    if (((flags & SET_NX) && old) || ((flags & SET_XX) && !old)) {
        if (!(flags & SET_GET)) reply_null(ctx->r);
        return;
    }
    bool keepttl = (flags & SET_KEEPTTL) != 0;
    const struct slice *val = &ctx->argv[2];
    struct kv *kv = store_string(ctx, 1, val->ptr, val->len, keepttl);
    if (exp_arg) db_set_expire(ctx->db, kv, when);
    NOTIFY_ARG(ctx, NOTIFY_STRING, "set", 1);
    if (exp_arg) NOTIFY_ARG(ctx, NOTIFY_GENERIC, "expire", 1);
    /* an expire is always > 0, so -1 means none */
    emit_set(ctx, &ctx->argv[1], val->ptr, val->len, exp_arg ? when : -1, keepttl);
    if (!(flags & SET_GET)) reply_ok(ctx->r);
}

/* ---- SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX ---- */

void cmd_setnx(struct cmd_ctx *ctx)
{
    if (ctx_lookup_write(ctx, 1)) {
        reply_int(ctx->r, 0);
        return;
    }
    store_string(ctx, 1, ctx->argv[2].ptr, ctx->argv[2].len, false);
    NOTIFY_ARG(ctx, NOTIFY_STRING, "set", 1);
    reply_int(ctx->r, 1);
}

/* SETEX and PSETEX: key, expire (unit given by flag), value. The expire is
 * validated before anything else, as Redis does. */
static void setex_generic(struct cmd_ctx *ctx, int unit_flag)
{
    long long when;
    if (!expire_arg_to_abs(ctx, unit_flag, 2, &when)) return;
    ctx_lookup_write(ctx, 1); /* expires a stale entry before it is replaced */
    const struct slice *val = &ctx->argv[3];
    struct kv *kv = store_string(ctx, 1, val->ptr, val->len, false);
    db_set_expire(ctx->db, kv, when);
    NOTIFY_ARG(ctx, NOTIFY_STRING, "set", 1);
    NOTIFY_ARG(ctx, NOTIFY_GENERIC, "expire", 1);
    emit_set(ctx, &ctx->argv[1], val->ptr, val->len, when, false);
    reply_ok(ctx->r);
}

void cmd_setex(struct cmd_ctx *ctx)
{
    setex_generic(ctx, SET_EX);
}

void cmd_psetex(struct cmd_ctx *ctx)
{
    setex_generic(ctx, SET_PX);
}

void cmd_getset(struct cmd_ctx *ctx)
{
    if (!reply_string_of(ctx, ctx_lookup_read(ctx, 1))) return;
    store_string(ctx, 1, ctx->argv[2].ptr, ctx->argv[2].len, false);
    NOTIFY_ARG(ctx, NOTIFY_STRING, "set", 1);
}

void cmd_getdel(struct cmd_ctx *ctx)
{
    struct kv *kv = ctx_lookup_read(ctx, 1);
    if (!reply_string_of(ctx, kv) || !kv) return;
    db_delete(ctx->eng, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len);
    NOTIFY_ARG(ctx, NOTIFY_GENERIC, "del", 1);
    ctx_dirty(ctx, 1);
}

void cmd_getex(struct cmd_ctx *ctx)
{
    int flags, exp_arg;
    long long when = 0;
    if (!parse_set_options(ctx, 2, FOR_GETEX, &flags, &exp_arg)) return;
    struct kv *kv = ctx_lookup_read(ctx, 1);
    if (!kv) {
        reply_null(ctx->r);
        return;
    }
    if (ctx_wrongtype(ctx, kv, OBJ_STRING)) return;
    /* Redis validates the expire only once the key is known to exist */
    if (exp_arg && !expire_arg_to_abs(ctx, flags, exp_arg, &when)) return;
    reply_string_of(ctx, kv);
    const struct slice *key = &ctx->argv[1];
    if (exp_arg || (flags & SET_PERSIST)) db_will_change(ctx->eng, ctx->db, key->ptr, key->len);
    if ((flags & (SET_EXAT | SET_PXAT)) && when <= ctx->eng->now_ms &&
        !ctx->eng->readonly_replica) {
        /* an absolute time already past deletes the key */
        db_delete(ctx->eng, ctx->db, key->ptr, key->len);
        NOTIFY_ARG(ctx, NOTIFY_GENERIC, "del", 1);
        ctx_dirty(ctx, 1);
        emit_key_cmd(ctx, "DEL", key);
    } else if (exp_arg) {
        db_set_expire(ctx->db, kv, when);
        key_changed(ctx, kv);
        NOTIFY_ARG(ctx, NOTIFY_GENERIC, "expire", 1);
        ctx_dirty(ctx, 1);
        emit_pexpireat(ctx, key, when);
    } else if ((flags & SET_PERSIST) && db_persist(ctx->db, kv)) {
        key_changed(ctx, kv);
        NOTIFY_ARG(ctx, NOTIFY_GENERIC, "persist", 1);
        ctx_dirty(ctx, 1);
        emit_key_cmd(ctx, "PERSIST", key);
    }
}

/* ---- MGET, MSET, MSETNX ---- */

void cmd_mget(struct cmd_ctx *ctx)
{
    reply_array(ctx->r, ctx->argc - 1);
    for (int i = 1; i < ctx->argc; i++) {
        struct kv *kv = ctx_lookup_read(ctx, i);
        if (!kv || kv->type != OBJ_STRING) {
            reply_null(ctx->r);
            continue;
        }
        reply_string_of(ctx, kv);
    }
}

/* MSET and MSETNX: pairs of key, value. With nx nothing is set when any
 * key exists. Replies nothing (callers do). Returns false when nothing was
 * set. */
static bool mset_generic(struct cmd_ctx *ctx, bool nx)
{
    if (ctx->argc % 2 == 0) {
        reply_errorf(ctx->r, "ERR wrong number of arguments for '%s' command", ctx->cmd->fullname);
        return false;
    }
    if (nx) {
        for (int i = 1; i < ctx->argc; i += 2) {
            if (ctx_lookup_write(ctx, i)) {
                reply_int(ctx->r, 0);
                return false;
            }
        }
    }
    for (int i = 1; i < ctx->argc; i += 2) {
        const struct slice *k = &ctx->argv[i], *v = &ctx->argv[i + 1];
        if (!nx) ctx_lookup_write(ctx, i); /* a stale entry expires (and is logged) first */
        db_set(ctx->eng, ctx->db, kv_new_str(k->ptr, k->len, v->ptr, v->len), false);
        NOTIFY_ARG(ctx, NOTIFY_STRING, "set", i);
    }
    ctx_dirty(ctx, (ctx->argc - 1) / 2);
    return true;
}

void cmd_mset(struct cmd_ctx *ctx)
{
    if (mset_generic(ctx, false)) reply_ok(ctx->r);
}

void cmd_msetnx(struct cmd_ctx *ctx)
{
    if (mset_generic(ctx, true)) reply_int(ctx->r, 1);
}

/* ---- INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT ---- */

/* Adds incr to the integer at argv[1] (0 when absent) and replies with the
 * result. An ENC_INT entry is updated in place: this is the hot path. */
static void incr_generic(struct cmd_ctx *ctx, long long incr)
{
    struct kv *kv = ctx_lookup_write(ctx, 1);
    long long v = 0;
    if (kv) {
        if (ctx_wrongtype(ctx, kv, OBJ_STRING)) return;
        if (LODE_LIKELY(kv->enc == ENC_INT)) {
            v = kv->v.i;
        } else if (!kv_str_ll(kv, &v)) {
            reply_error(ctx->r, ERR_NOTINT);
            return;
        }
    }
    if ((incr < 0 && v < 0 && incr < LLONG_MIN - v) ||
        (incr > 0 && v > 0 && incr > LLONG_MAX - v)) {
        reply_error(ctx->r, ERR_OVERFLOW);
        return;
    }
    v += incr;
    if (!kv) {
        db_add(ctx->eng, ctx->db, kv_new_int(ctx->argv[1].ptr, ctx->argv[1].len, v));
    } else if (kv->enc == ENC_INT) {
        kv->v.i = v;
        key_changed(ctx, kv);
    } else {
        /* a numeric string kept as text (after APPEND, say) becomes an
         * integer again, as in Redis; the TTL stays */
        struct kv *nkv = kv_new_int(kv->data, kv->klen, v);
        nkv->lru = kv->lru;
        db_replace(ctx->db, kv, nkv);
        key_changed(ctx, nkv);
    }
    ctx_dirty(ctx, 1);
    NOTIFY_ARG(ctx, NOTIFY_STRING, "incrby", 1);
    reply_int(ctx->r, v);
}

void cmd_incr(struct cmd_ctx *ctx)
{
    incr_generic(ctx, 1);
}

void cmd_decr(struct cmd_ctx *ctx)
{
    incr_generic(ctx, -1);
}

void cmd_incrby(struct cmd_ctx *ctx)
{
    long long incr;
    if (arg_ll(ctx, 2, &incr, NULL)) incr_generic(ctx, incr);
}

void cmd_decrby(struct cmd_ctx *ctx)
{
    long long decr;
    if (!arg_ll(ctx, 2, &decr, NULL)) return;
    if (decr == LLONG_MIN) {
        /* its negation does not fit */
        reply_error(ctx->r, "ERR decrement would overflow");
        return;
    }
    incr_generic(ctx, -decr);
}

/* Room for any finite long double printed with %.17Lf: the largest has
 * 4933 integer digits (LDBL_MAX ~ 1.19e4932), plus sign, point and 17
 * decimals. Redis uses a buffer of the same order (5 KiB). */
#define LD_STR_CAP 5200

void cmd_incrbyfloat(struct cmd_ctx *ctx)
{
    struct kv *kv = ctx_lookup_write(ctx, 1);
    long double v = 0, incr;
    if (kv) {
        if (ctx_wrongtype(ctx, kv, OBJ_STRING)) return;
        if (kv->enc == ENC_INT) {
            v = (long double)kv->v.i;
        } else {
            char tmp[UTIL_LLSTR_SIZE];
            size_t n;
            const char *p = kv_str(kv, tmp, &n);
            if (!util_str2ld(p, n, &v)) {
                reply_error(ctx->r, ERR_NOTFLOAT);
                return;
            }
        }
    }
    if (!util_str2ld(ctx->argv[2].ptr, ctx->argv[2].len, &incr)) {
        reply_error(ctx->r, ERR_NOTFLOAT);
        return;
    }
    v += incr;
    if (isnan(v) || isinf(v)) {
        reply_error(ctx->r, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[LD_STR_CAP];
    int n = util_ld2str(buf, sizeof(buf), v);
    lode_assert(n > 0);
    /* the TTL stays; the result is a string even when it looks like an
     * integer, as in Redis. The sum is long double arithmetic, whose
     * precision and formatting vary by platform, so the WAL gets the
     * result: SET key <result> KEEPTTL (replay stores it as SET does, an
     * integer-looking result as ENC_INT, as a Redis replica does). */
    const struct slice *key = &ctx->argv[1];
    db_set(ctx->eng, ctx->db, kv_new_bytes(key->ptr, key->len, buf, (size_t)n), true);
    ctx_dirty(ctx, 1);
    emit_set(ctx, key, buf, (size_t)n, -1, true);
    NOTIFY_ARG(ctx, NOTIFY_STRING, "incrbyfloat", 1);
    reply_bulk(ctx->r, buf, (size_t)n);
}

/* ---- APPEND, STRLEN, GETRANGE, SUBSTR, SETRANGE ---- */

/* Whether a string of cur bytes may grow by add bytes; replies the error
 * otherwise. */
static bool check_string_length(struct cmd_ctx *ctx, unsigned long long cur, unsigned long long add)
{
    unsigned long long max = (unsigned long long)ctx->eng->proto_max_bulk_len;
    if (cur > max || add > max - cur) {
        reply_error(ctx->r, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return false;
    }
    return true;
}

void cmd_append(struct cmd_ctx *ctx)
{
    const struct slice *val = &ctx->argv[2];
    struct kv *kv = ctx_lookup_write(ctx, 1);
    size_t total;
    if (!kv) {
        kv = kv_new_str(ctx->argv[1].ptr, ctx->argv[1].len, val->ptr, val->len);
        db_add(ctx->eng, ctx->db, kv);
        total = val->len;
    } else {
        if (ctx_wrongtype(ctx, kv, OBJ_STRING)) return;
        size_t olen = kv_strlen(kv);
        if (!check_string_length(ctx, olen, val->len)) return;
        total = olen + val->len;
        struct rawstr *s = db_str_make_raw(ctx->db, &kv, total);
        memcpy(s->data + olen, val->ptr, val->len);
        s->len = total;
        key_changed(ctx, kv);
    }
    ctx_dirty(ctx, 1);
    NOTIFY_ARG(ctx, NOTIFY_STRING, "append", 1);
    reply_int(ctx->r, (long long)total);
}

void cmd_strlen(struct cmd_ctx *ctx)
{
    struct kv *kv = ctx_lookup_read(ctx, 1);
    if (!kv) {
        reply_int(ctx->r, 0);
        return;
    }
    if (ctx_wrongtype(ctx, kv, OBJ_STRING)) return;
    reply_int(ctx->r, (long long)kv_strlen(kv));
}

/* GETRANGE and SUBSTR: bytes start..end inclusive; negative indexes count
 * from the end, and the range is clipped to the string. */
void cmd_getrange(struct cmd_ctx *ctx)
{
    long long start, end;
    if (!arg_ll(ctx, 2, &start, NULL) || !arg_ll(ctx, 3, &end, NULL)) return;
    struct kv *kv = ctx_lookup_read(ctx, 1);
    if (!kv) {
        reply_bulk(ctx->r, "", 0);
        return;
    }
    if (ctx_wrongtype(ctx, kv, OBJ_STRING)) return;
    char tmp[UTIL_LLSTR_SIZE];
    size_t n;
    const char *p = kv_str(kv, tmp, &n);
    long long len = (long long)n;
    /* both from the end and reversed: empty, before clipping makes them
     * meet at 0 */
    if (start < 0 && end < 0 && start > end) {
        reply_bulk(ctx->r, "", 0);
        return;
    }
    if (start < 0) start += len;
    if (end < 0) end += len;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= len) end = len - 1;
    if (len == 0 || start > end) {
        reply_bulk(ctx->r, "", 0);
        return;
    }
    reply_bulk(ctx->r, p + start, (size_t)(end - start + 1));
}

void cmd_substr(struct cmd_ctx *ctx)
{
    cmd_getrange(ctx);
}

void cmd_setrange(struct cmd_ctx *ctx)
{
    long long offset;
    const struct slice *val = &ctx->argv[3];
    if (!arg_ll(ctx, 2, &offset, NULL)) return;
    if (offset < 0) {
        reply_error(ctx->r, "ERR offset is out of range");
        return;
    }
    struct kv *kv = ctx_lookup_write(ctx, 1);
    size_t olen = 0;
    if (kv) {
        if (ctx_wrongtype(ctx, kv, OBJ_STRING)) return;
        olen = kv_strlen(kv);
    }
    if (val->len == 0) {
        /* nothing to write: no key is created, no size check */
        reply_int(ctx->r, (long long)olen);
        return;
    }
    if (!check_string_length(ctx, (unsigned long long)offset, val->len)) return;
    size_t off = (size_t)offset;
    size_t end = off + val->len;
    size_t total = end > olen ? end : olen;
    struct rawstr *s;
    if (!kv) {
        /* a new key: Redis creates it raw, zero-filled up to the offset */
        struct kv *empty = kv_new_str(ctx->argv[1].ptr, ctx->argv[1].len, "", 0);
        kv = kv_to_raw(empty, total);
        kv_free(empty);
        db_add(ctx->eng, ctx->db, kv);
        s = kv->v.ptr;
    } else {
        s = db_str_make_raw(ctx->db, &kv, total);
        key_changed(ctx, kv);
    }
    if (off > olen) memset(s->data + olen, 0, off - olen);
    memcpy(s->data + off, val->ptr, val->len);
    s->len = total;
    ctx_dirty(ctx, 1);
    NOTIFY_ARG(ctx, NOTIFY_STRING, "setrange", 1);
    reply_int(ctx->r, (long long)total);
}

/* ---- LCS ---- */

struct lcs_opts {
    bool idx, len, withmatchlen;
    long long minmatchlen;
};

/* Parses LCS options from argv[3]. Replies and returns false on error. */
static bool lcs_parse(struct cmd_ctx *ctx, struct lcs_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int j = 3; j < ctx->argc; j++) {
        if (arg_is(ctx, j, "idx")) {
            o->idx = true;
        } else if (arg_is(ctx, j, "len")) {
            o->len = true;
        } else if (arg_is(ctx, j, "withmatchlen")) {
            o->withmatchlen = true;
        } else if (arg_is(ctx, j, "minmatchlen") && j + 1 < ctx->argc) {
            if (!arg_ll(ctx, j + 1, &o->minmatchlen, NULL)) return false;
            if (o->minmatchlen < 0) o->minmatchlen = 0;
            j++;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return false;
        }
    }
    if (o->idx && o->len) {
        reply_error(ctx->r, "ERR If you want both the length and indexes, please just use IDX.");
        return false;
    }
    return true;
}

/* Writes one IDX match: [[a_start, a_end], [b_start, b_end], (len)]. */
static void lcs_reply_match(struct reply *r, uint32_t as, uint32_t ae, uint32_t bs, uint32_t be,
                            bool withlen)
{
    reply_array(r, withlen ? 3 : 2);
    reply_array(r, 2);
    reply_int(r, as);
    reply_int(r, ae);
    reply_array(r, 2);
    reply_int(r, bs);
    reply_int(r, be);
    if (withlen) reply_int(r, (long long)(ae - as + 1));
}

/*
 * LCS by the textbook dynamic program: T[i][j] is the LCS length of the
 * prefixes a[0..i) and b[0..j). The walk back from (alen, blen) follows a
 * diagonal on equal bytes and otherwise steps toward the larger
 * neighbour, preferring to shorten b on ties. Redis walks the same way,
 * and clients see the consequences (which LCS string is returned, and the
 * matches in IDX, listed from the end of the strings backwards), so the
 * tie rule is part of the reply format.
 */
void cmd_lcs(struct cmd_ctx *ctx)
{
    struct kv *ka = ctx_lookup_read(ctx, 1);
    struct kv *kb = ctx_lookup_read(ctx, 2);
    if ((ka && ka->type != OBJ_STRING) || (kb && kb->type != OBJ_STRING)) {
        reply_error(ctx->r, "ERR The specified keys must contain string values");
        return;
    }
    char tmpa[UTIL_LLSTR_SIZE], tmpb[UTIL_LLSTR_SIZE];
    size_t na = 0, nb = 0;
    const char *a = ka ? kv_str(ka, tmpa, &na) : "";
    const char *b = kb ? kv_str(kb, tmpb, &nb) : "";
    struct lcs_opts o;
    if (!lcs_parse(ctx, &o)) return;
    if (na >= UINT32_MAX - 1 || nb >= UINT32_MAX - 1) {
        reply_error(ctx->r, "ERR String too long for LCS");
        return;
    }
    size_t w = nb + 1;
    uint64_t cells = (uint64_t)(na + 1) * w;
    /* Transient and possibly huge: libc malloc, so that a failure is an
     * error reply rather than lode_malloc's out-of-memory panic. */
    uint32_t *t = cells <= SIZE_MAX / sizeof(uint32_t) ? malloc(cells * sizeof(uint32_t)) : NULL;
    if (!t) {
        reply_error(ctx->r, "ERR Insufficient memory, failed allocating transient memory for LCS");
        return;
    }
    memset(t, 0, w * sizeof(uint32_t)); /* row 0: an empty prefix of a */
    for (size_t i = 1; i <= na; i++) {
        uint32_t *row = t + i * w, *up = row - w;
        row[0] = 0;
        for (size_t j = 1; j <= nb; j++) {
            if (a[i - 1] == b[j - 1])
                row[j] = up[j - 1] + 1;
            else
                row[j] = up[j] > row[j - 1] ? up[j] : row[j - 1];
        }
    }
    uint32_t total = t[na * w + nb];
    if (o.len) {
        reply_int(ctx->r, total);
        free(t);
        return;
    }
    char *res = o.idx ? NULL : lode_malloc(total ? total : 1);
    size_t token = 0;
    long long nmatches = 0;
    if (o.idx) {
        reply_map(ctx->r, 2);
        reply_cstr(ctx->r, "matches");
        token = reply_defer(ctx->r);
    }
    bool open = false; /* a run of matches is being tracked */
    uint32_t as = 0, ae = 0, bs = 0, be = 0, k = total;
    size_t i = na, j = nb;
    while (i > 0 && j > 0) {
        bool flush;
        if (a[i - 1] == b[j - 1]) {
            if (res) res[k - 1] = a[i - 1];
            k--;
            if (!open) {
                open = true;
                ae = (uint32_t)(i - 1);
                be = (uint32_t)(j - 1);
            }
            /* consecutive diagonal steps extend the run backwards */
            as = (uint32_t)(i - 1);
            bs = (uint32_t)(j - 1);
            i--;
            j--;
            flush = as == 0 || bs == 0; /* the walk ends here */
        } else {
            if (t[(i - 1) * w + j] > t[i * w + j - 1])
                i--;
            else
                j--;
            flush = open;
        }
        if (flush) {
            if (o.idx && (o.minmatchlen == 0 || ae - as + 1 >= (unsigned long long)o.minmatchlen)) {
                lcs_reply_match(ctx->r, as, ae, bs, be, o.withmatchlen);
                nmatches++;
            }
            open = false;
        }
    }
    free(t);
    if (o.idx) {
        reply_defer_array(ctx->r, token, nmatches);
        reply_cstr(ctx->r, "len");
        reply_int(ctx->r, total);
    } else {
        reply_bulk(ctx->r, res, total);
        lode_free(res);
    }
}
