/*
 * t_keys.c - generic keyspace commands: DEL, UNLINK, EXISTS, TOUCH, TYPE,
 * RENAME(NX), COPY, MOVE, SELECT, SWAPDB, FLUSHDB, FLUSHALL, DBSIZE, KEYS,
 * SCAN, RANDOMKEY, the EXPIRE/TTL family, PERSIST and OBJECT.
 *
 * Every command replies byte-for-byte as Redis 7.0 does, errors included,
 * and reports each change with ctx_dirty (0 changes: nothing is logged).
 *
 * Expiry: every lookup goes through db_lookup, which deletes an expired key
 * on the way (lazy expiry), so a command never sees one. KEYS only hides
 * expired keys (as Redis 7.0 does, it walks the table and cannot delete);
 * SCAN deletes the expired keys it meets, after the table walk.
 *
 * Logging (effects.h): EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT are
 * declared "rewrite" and emit the effect that happened: PEXPIREAT key
 * <absolute ms> (NX/XX/GT/LT are dropped: they held when the command ran),
 * or DEL key when the time was already past and the key was deleted, so
 * replay depends neither on the clock nor on the options. Nothing is
 * emitted when nothing changed.
 *
 * The other writes here are `verbatim`, and replay reproduces them: DEL,
 * UNLINK, RENAME(NX), COPY, MOVE, SWAPDB, FLUSHDB, FLUSHALL and PERSIST
 * depend only on the state and their arguments, and carry TTLs over as
 * absolute times. Keys they find expired are deleted on the way and logged
 * as DELs before them (db.c), so replay meets the same keys. COPY ... DB and
 * MOVE, which touch another db, are logged in the client's db, and effects
 * insert the SELECTs (a DEL of an expired destination belongs to the other
 * db). Reads that delete expired keys (SCAN, RANDOMKEY, TYPE, ...) log only
 * those DELs. Nothing here draws on randomness for a write.
 */
#include "engine/notify.h"
#include "engine/cmd.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define ERR_SAMEOBJ "ERR source and destination objects are the same"

/* ---- DEL, UNLINK, EXISTS, TOUCH, TYPE ---- */

void cmd_del(struct cmd_ctx *ctx)
{
    long long n = 0;
    for (int i = 1; i < ctx->argc; i++) {
        /* an expired key is not counted: look it up (expiring it) first */
        if (!ctx_lookup_write(ctx, i)) continue;
        if (!db_delete(ctx->eng, ctx->db, ctx->argv[i].ptr, ctx->argv[i].len)) continue;
        NOTIFY_ARG(ctx, NOTIFY_GENERIC, "del", i);
        n++;
    }
    ctx_dirty(ctx, n);
    reply_int(ctx->r, n);
}

/* Values are freed at once: no value is large enough yet to need a
 * background thread, and the reply is the same. */
void cmd_unlink(struct cmd_ctx *ctx)
{
    cmd_del(ctx);
}

void cmd_exists(struct cmd_ctx *ctx)
{
    long long n = 0;
    for (int i = 1; i < ctx->argc; i++) {
        const struct slice *k = &ctx->argv[i];
        if (db_lookup(ctx->eng, ctx->db, k->ptr, k->len, LOOKUP_NOTOUCH)) n++;
    }
    reply_int(ctx->r, n);
}

void cmd_touch(struct cmd_ctx *ctx)
{
    long long n = 0;
    for (int i = 1; i < ctx->argc; i++)
        if (ctx_lookup_read(ctx, i)) n++;
    reply_int(ctx->r, n);
}

void cmd_type(struct cmd_ctx *ctx)
{
    const struct slice *k = &ctx->argv[1];
    struct kv *kv = db_lookup(ctx->eng, ctx->db, k->ptr, k->len, LOOKUP_NOTOUCH);
    reply_status(ctx->r, kv ? obj_type_name(kv->type) : "none");
}

/* ---- RENAME, RENAMENX, COPY, MOVE ---- */

static bool same_arg(const struct slice *a, const struct slice *b)
{
    return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

static void rename_generic(struct cmd_ctx *ctx, bool nx)
{
    const struct slice *src = &ctx->argv[1], *dst = &ctx->argv[2];
    /* the source must exist even when both names are equal */
    if (!ctx_lookup_write(ctx, 1)) {
        reply_error(ctx->r, ERR_NOKEY);
        return;
    }
    if (same_arg(src, dst)) {
        if (nx)
            reply_int(ctx->r, 0);
        else
            reply_ok(ctx->r);
        return;
    }
    if (ctx_lookup_write(ctx, 2)) {
        if (nx) {
            reply_int(ctx->r, 0);
            return;
        }
        db_delete(ctx->eng, ctx->db, dst->ptr, dst->len);
    }
    db_move(ctx->eng, ctx->db, src->ptr, src->len, ctx->db, dst->ptr, dst->len);
    NOTIFY_ARG(ctx, NOTIFY_GENERIC, "rename_from", 1);
    NOTIFY_ARG(ctx, NOTIFY_GENERIC, "rename_to", 2);
    ctx_dirty(ctx, 1);
    if (nx)
        reply_int(ctx->r, 1);
    else
        reply_ok(ctx->r);
}

void cmd_rename(struct cmd_ctx *ctx)
{
    rename_generic(ctx, false);
}

void cmd_renamenx(struct cmd_ctx *ctx)
{
    rename_generic(ctx, true);
}

/* Parses argv[i] as a C int with Redis's getIntFromObjectOrReply errors:
 * ERR_NOTINT when it is no integer, a range error when it is a long long
 * outside int. Replies and returns false on error. */
static bool arg_int(struct cmd_ctx *ctx, int i, long long *out)
{
    if (!arg_ll(ctx, i, out, NULL)) return false;
    if (*out >= INT_MIN && *out <= INT_MAX) return true;
    reply_errorf(ctx->r, "ERR value is out of range, value must between %d and %d", INT_MIN,
                 INT_MAX);
    return false;
}

/* Parses argv[i] as a db index (arg_int's errors, then ERR_DBINDEX when no
 * such db exists). Replies and returns NULL on error. */
static struct db *arg_db(struct cmd_ctx *ctx, int i)
{
    long long id;
    if (!arg_int(ctx, i, &id)) return NULL;
    if (id < 0 || id >= ctx->eng->ndbs) {
        reply_error(ctx->r, ERR_DBINDEX);
        return NULL;
    }
    return &ctx->eng->dbs[id];
}

/* COPY source destination [DB destination-db] [REPLACE] */
void cmd_copy(struct cmd_ctx *ctx)
{
    struct db *dst = ctx->db;
    bool replace = false;
    for (int j = 3; j < ctx->argc; j++) {
        if (arg_is(ctx, j, "replace")) {
            replace = true;
        } else if (arg_is(ctx, j, "db") && j + 1 < ctx->argc) {
            if (!(dst = arg_db(ctx, ++j))) return;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
    }
    const struct slice *key = &ctx->argv[1], *nkey = &ctx->argv[2];
    if (dst == ctx->db && same_arg(key, nkey)) {
        reply_error(ctx->r, ERR_SAMEOBJ);
        return;
    }
    struct kv *kv = ctx_lookup_read(ctx, 1);
    if (!kv) {
        reply_int(ctx->r, 0);
        return;
    }
    long long when = db_expire_of(ctx->db, kv);
    if (db_lookup(ctx->eng, dst, nkey->ptr, nkey->len, LOOKUP_WRITE)) {
        if (!replace) {
            reply_int(ctx->r, 0);
            return;
        }
        db_delete(ctx->eng, dst, nkey->ptr, nkey->len);
    }
    struct kv *copy = kv_dup(kv, nkey->ptr, nkey->len);
    db_add(ctx->eng, dst, copy);
    if (when != -1) db_set_expire(dst, copy, when);
    notify_keyspace_event(ctx->eng, NOTIFY_GENERIC, "copy_to", dst, nkey->ptr, nkey->len);
    ctx_dirty(ctx, 1);
    reply_int(ctx->r, 1);
}

void cmd_move(struct cmd_ctx *ctx)
{
    struct db *dst = arg_db(ctx, 2);
    if (!dst) return;
    if (dst == ctx->db) {
        reply_error(ctx->r, ERR_SAMEOBJ);
        return;
    }
    const struct slice *key = &ctx->argv[1];
    if (!ctx_lookup_write(ctx, 1) || db_lookup(ctx->eng, dst, key->ptr, key->len, LOOKUP_WRITE)) {
        reply_int(ctx->r, 0);
        return;
    }
    db_move(ctx->eng, ctx->db, key->ptr, key->len, dst, key->ptr, key->len);
    NOTIFY_ARG(ctx, NOTIFY_GENERIC, "move_from", 1);
    notify_keyspace_event(ctx->eng, NOTIFY_GENERIC, "move_to", dst, key->ptr, key->len);
    ctx_dirty(ctx, 1);
    reply_int(ctx->r, 1);
}

/* ---- SELECT, SWAPDB, FLUSHDB, FLUSHALL, DBSIZE ---- */

void cmd_select(struct cmd_ctx *ctx)
{
    struct db *db = arg_db(ctx, 1);
    if (!db) return;
    ctx->sess->db = db->id;
    ctx->db = db;
    reply_ok(ctx->r);
}

void cmd_swapdb(struct cmd_ctx *ctx)
{
    long long a, b;
    if (!arg_ll_range(ctx, 1, INT_MIN, INT_MAX, &a, "ERR invalid first DB index")) return;
    if (!arg_ll_range(ctx, 2, INT_MIN, INT_MAX, &b, "ERR invalid second DB index")) return;
    int n = ctx->eng->ndbs;
    if (a < 0 || a >= n || b < 0 || b >= n) {
        reply_error(ctx->r, ERR_DBINDEX);
        return;
    }
    /* sessions hold db indexes, so a client's selected db now shows the
     * other db's contents, as in Redis */
    if (a != b) {
        if (ctx->eng->before_db_change) {
            ctx->eng->before_db_change(ctx->eng, &ctx->eng->dbs[a]);
            ctx->eng->before_db_change(ctx->eng, &ctx->eng->dbs[b]);
        }
        db_swap(&ctx->eng->dbs[a], &ctx->eng->dbs[b]);
        if (ctx->eng->on_db_reset) {
            ctx->eng->on_db_reset(ctx->eng, &ctx->eng->dbs[a]);
            ctx->eng->on_db_reset(ctx->eng, &ctx->eng->dbs[b]);
        }
        /* clients blocked in either db may find their keys now */
        db_signal_ready(ctx->eng, &ctx->eng->dbs[a], NULL, 0);
        db_signal_ready(ctx->eng, &ctx->eng->dbs[b], NULL, 0);
    }
    ctx_dirty(ctx, 1);
    reply_ok(ctx->r);
}

/* FLUSHDB/FLUSHALL [ASYNC|SYNC]: both free synchronously (see UNLINK). */
static bool flush_args_ok(struct cmd_ctx *ctx)
{
    if (ctx->argc == 1 || (ctx->argc == 2 && (arg_is(ctx, 1, "sync") || arg_is(ctx, 1, "async"))))
        return true;
    reply_error(ctx->r, ERR_SYNTAX);
    return false;
}

/* Redis propagates a flush even when nothing was removed (a replica or the
 * log may hold keys this instance does not), so at least one change is
 * reported. */
void cmd_flushdb(struct cmd_ctx *ctx)
{
    if (!flush_args_ok(ctx)) return;
    long long n = db_flush(ctx->eng, ctx->db);
    ctx_dirty(ctx, n ? n : 1);
    reply_ok(ctx->r);
}

void cmd_flushall(struct cmd_ctx *ctx)
{
    if (!flush_args_ok(ctx)) return;
    long long n = 0;
    for (int i = 0; i < ctx->eng->ndbs; i++) n += db_flush(ctx->eng, &ctx->eng->dbs[i]);
    ctx_dirty(ctx, n + 1); /* Redis counts the keys plus the flush itself */
    reply_ok(ctx->r);
}

/* Counts keys whose TTL has passed but that no one deleted yet, as Redis. */
void cmd_dbsize(struct cmd_ctx *ctx)
{
    reply_int(ctx->r, (long long)db_size(ctx->db));
}

/* ---- KEYS, SCAN, RANDOMKEY ---- */

void cmd_keys(struct cmd_ctx *ctx)
{
    const struct slice *pat = &ctx->argv[1];
    bool all = pat->len == 1 && pat->ptr[0] == '*';
    size_t token = reply_defer(ctx->r);
    long long n = 0;
    struct dict_iter it;
    dict_iter_init(&it, &ctx->db->keys);
    for (struct dnode *d; (d = dict_iter_next(&it));) {
        const struct kv *kv = (const struct kv *)d;
        if (!all && !util_glob_match(pat->ptr, pat->len, kv_key(kv), kv->klen, false)) continue;
        /* expired keys are hidden, not deleted: deleting would disturb the walk */
        if (db_is_expired(ctx->eng, ctx->db, kv)) continue;
        reply_bulk(ctx->r, kv_key(kv), kv->klen);
        n++;
    }
    dict_iter_release(&it);
    reply_defer_array(ctx->r, token, n);
}

/* Entries one SCAN call collected; kv pointers stay valid until the entry
 * is deleted, and SCAN deletes nothing before the walk is over. */
struct scan_batch {
    struct kv **v;
    size_t n, cap;
};

static void scan_collect(struct kv *kv, void *priv)
{
    struct scan_batch *b = priv;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->v = lode_realloc(b->v, b->cap * sizeof(*b->v));
    }
    b->v[b->n++] = kv;
}

/* Whether a collected entry survives SCAN's filters. An expired entry is
 * deleted (through the same lookup Redis uses, so stats match) and must not
 * be touched afterwards. */
static bool scan_keep(struct cmd_ctx *ctx, struct kv *kv, const struct slice *pat,
                      const struct slice *type)
{
    if (pat && !util_glob_match(pat->ptr, pat->len, kv_key(kv), kv->klen, false)) return false;
    if (type) {
        /* Redis checks the type through a read lookup, which also expires;
         * that lookup frees an expired kv, then reports keymiss with the
         * key: it gets a copy */
        if (db_is_expired(ctx->eng, ctx->db, kv)) {
            char *k = lode_malloc(kv->klen + 1);
            memcpy(k, kv_key(kv), kv->klen);
            db_lookup(ctx->eng, ctx->db, k, kv->klen, LOOKUP_NOTOUCH);
            lode_free(k);
            return false;
        }
        struct kv *live = db_lookup(ctx->eng, ctx->db, kv_key(kv), kv->klen, LOOKUP_NOTOUCH);
        return live && util_eq_nocase(type->ptr, type->len, obj_type_name(live->type));
    }
    if (!db_is_expired(ctx->eng, ctx->db, kv)) return true;
    db_lookup(ctx->eng, ctx->db, kv_key(kv), kv->klen, LOOKUP_WRITE | LOOKUP_NOTOUCH);
    return false;
}

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] */
void cmd_scan(struct cmd_ctx *ctx)
{
    uint64_t cursor;
    if (!arg_scan_cursor(ctx, 1, &cursor)) return;
    long long count = 10;
    const struct slice *pat = NULL, *type = NULL;
    for (int j = 2; j < ctx->argc; j += 2) {
        if (j + 1 >= ctx->argc) {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
        if (arg_is(ctx, j, "count")) {
            if (!arg_ll(ctx, j + 1, &count, NULL)) return;
            if (count < 1) {
                reply_error(ctx->r, ERR_SYNTAX);
                return;
            }
        } else if (arg_is(ctx, j, "match")) {
            pat = &ctx->argv[j + 1];
            if (pat->len == 1 && pat->ptr[0] == '*') pat = NULL;
        } else if (arg_is(ctx, j, "type")) {
            type = &ctx->argv[j + 1];
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
    }
    /* Walk buckets until count entries are collected, bounded at 10 buckets
     * per wanted entry so a sparse table cannot stall the server (Redis's
     * bound too). Filters apply afterwards, so a call may return fewer. */
    struct scan_batch b = {NULL, 0, 0};
    long long budget = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    do {
        cursor = db_scan(ctx->db, cursor, scan_collect, &b);
    } while (cursor && budget-- && (long long)b.n < count);
    size_t kept = 0;
    for (size_t i = 0; i < b.n; i++)
        if (scan_keep(ctx, b.v[i], pat, type)) b.v[kept++] = b.v[i];
    reply_array(ctx->r, 2);
    char num[UTIL_LLSTR_SIZE];
    reply_bulk(ctx->r, num, (size_t)util_ull2str(num, cursor));
    reply_array(ctx->r, (long long)kept);
    for (size_t i = 0; i < kept; i++) reply_bulk(ctx->r, kv_key(b.v[i]), b.v[i]->klen);
    lode_free(b.v);
}

void cmd_randomkey(struct cmd_ctx *ctx)
{
    struct kv *kv;
    /* db_random gives up (returning a possibly expired key) after deleting a
     * bounded number of expired ones; a master keeps going, as Redis does,
     * and each round deletes at least one key, so this ends */
    do {
        kv = db_random(ctx->eng, ctx->db);
    } while (kv && !ctx->eng->readonly_replica && db_is_expired(ctx->eng, ctx->db, kv) &&
             db_lookup(ctx->eng, ctx->db, kv_key(kv), kv->klen, LOOKUP_WRITE | LOOKUP_NOTOUCH) ==
                 NULL);
    if (!kv)
        reply_null(ctx->r);
    else
        reply_bulk(ctx->r, kv_key(kv), kv->klen);
}

/* ---- EXPIRE family, TTL family, PERSIST ---- */

enum { EXP_NX = 1 << 0, EXP_XX = 1 << 1, EXP_GT = 1 << 2, EXP_LT = 1 << 3 };

static bool parse_expire_flags(struct cmd_ctx *ctx, int *flags)
{
    *flags = 0;
    for (int j = 3; j < ctx->argc; j++) {
        if (arg_is(ctx, j, "nx")) {
            *flags |= EXP_NX;
        } else if (arg_is(ctx, j, "xx")) {
            *flags |= EXP_XX;
        } else if (arg_is(ctx, j, "gt")) {
            *flags |= EXP_GT;
        } else if (arg_is(ctx, j, "lt")) {
            *flags |= EXP_LT;
        } else {
            reply_errorf(ctx->r, "ERR Unsupported option %.*s", (int)ctx->argv[j].len,
                         ctx->argv[j].ptr);
            return false;
        }
    }
    if ((*flags & EXP_NX) && (*flags & (EXP_XX | EXP_GT | EXP_LT))) {
        reply_error(ctx->r, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return false;
    }
    if ((*flags & EXP_GT) && (*flags & EXP_LT)) {
        reply_error(ctx->r, "ERR GT and LT options at the same time are not compatible");
        return false;
    }
    return true;
}

/* Whether NX/XX/GT/LT let a key whose expiry is cur (-1: none, which counts
 * as infinite) take the new expiry when. */
static bool expire_allowed(int flags, long long cur, long long when)
{
    if ((flags & EXP_NX) && cur != -1) return false;
    if ((flags & EXP_XX) && cur == -1) return false;
    if ((flags & EXP_GT) && (cur == -1 || when <= cur)) return false;
    if ((flags & EXP_LT) && cur != -1 && when >= cur) return false;
    return true;
}

/* EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT key time [NX|XX|GT|LT]: base is the
 * time the argument counts from (now or 0), seconds its unit. */
static void expire_generic(struct cmd_ctx *ctx, long long base, bool seconds)
{
    int flags;
    long long when;
    if (!parse_expire_flags(ctx, &flags)) return;
    if (!arg_ll(ctx, 2, &when, NULL)) return;
    /* negative times are allowed (they delete); only overflow is refused */
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) goto invalid;
        when *= 1000;
    }
    if (when > LLONG_MAX - base) goto invalid;
    when += base;

    struct kv *kv = ctx_lookup_write(ctx, 1);
    if (!kv || !expire_allowed(flags, db_expire_of(ctx->db, kv), when)) {
        reply_int(ctx->r, 0);
        return;
    }
    const struct slice *k = &ctx->argv[1];
    if (when <= ctx->eng->now_ms && !ctx->eng->readonly_replica) {
        /* already past: the key goes now, logged as a DEL */
        db_delete(ctx->eng, ctx->db, k->ptr, k->len);
        NOTIFY_ARG(ctx, NOTIFY_GENERIC, "del", 1);
        struct slice del[2] = {{"DEL", 3}, *k};
        ctx_emit(ctx, 2, del);
    } else {
        db_set_expire(ctx->db, kv, when);
        db_key_changed(ctx->eng, ctx->db, k->ptr, k->len);
        NOTIFY_ARG(ctx, NOTIFY_GENERIC, "expire", 1);
        char num[UTIL_LLSTR_SIZE];
        struct slice pxat[3] = {{"PEXPIREAT", 9}, *k, {num, (size_t)util_ll2str(num, when)}};
        ctx_emit(ctx, 3, pxat);
    }
    ctx_dirty(ctx, 1);
    reply_int(ctx->r, 1);
    return;
invalid:
    reply_errorf(ctx->r, "ERR invalid expire time in '%s' command", ctx->cmd->fullname);
}

void cmd_expire(struct cmd_ctx *ctx)
{
    expire_generic(ctx, ctx->eng->now_ms, true);
}

void cmd_pexpire(struct cmd_ctx *ctx)
{
    expire_generic(ctx, ctx->eng->now_ms, false);
}

void cmd_expireat(struct cmd_ctx *ctx)
{
    expire_generic(ctx, 0, true);
}

void cmd_pexpireat(struct cmd_ctx *ctx)
{
    expire_generic(ctx, 0, false);
}

/* TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 when the key is absent, -1 when it
 * has no TTL; seconds are rounded to the nearest, as Redis does. */
static void ttl_generic(struct cmd_ctx *ctx, bool ms, bool absolute)
{
    const struct slice *k = &ctx->argv[1];
    struct kv *kv = db_lookup(ctx->eng, ctx->db, k->ptr, k->len, LOOKUP_NOTOUCH);
    if (!kv) {
        reply_int(ctx->r, -2);
        return;
    }
    long long when = db_expire_of(ctx->db, kv);
    if (when == -1) {
        reply_int(ctx->r, -1);
        return;
    }
    long long t = absolute ? when : when - ctx->eng->now_ms;
    if (t < 0) t = 0;
    reply_int(ctx->r, ms ? t : (t + 500) / 1000);
}

void cmd_ttl(struct cmd_ctx *ctx)
{
    ttl_generic(ctx, false, false);
}

void cmd_pttl(struct cmd_ctx *ctx)
{
    ttl_generic(ctx, true, false);
}

void cmd_expiretime(struct cmd_ctx *ctx)
{
    ttl_generic(ctx, false, true);
}

void cmd_pexpiretime(struct cmd_ctx *ctx)
{
    ttl_generic(ctx, true, true);
}

void cmd_persist(struct cmd_ctx *ctx)
{
    struct kv *kv = ctx_lookup_write(ctx, 1);
    if (!kv || !db_persist(ctx->db, kv)) {
        reply_int(ctx->r, 0);
        return;
    }
    db_key_changed(ctx->eng, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len);
    NOTIFY_ARG(ctx, NOTIFY_GENERIC, "persist", 1);
    ctx_dirty(ctx, 1);
    reply_int(ctx->r, 1);
}

/* ---- OBJECT ---- */

/* Redis shares the integer objects 0..9999 (OBJ_SHARED_INTEGERS) and reports
 * their reference count as INT_MAX; we report the same for those values. */
#define SHARED_INTEGERS 10000

/* The entry OBJECT inspects: not touched, so IDLETIME stays meaningful; a
 * miss counts but raises no keymiss event, as Redis. */
static struct kv *object_lookup(struct cmd_ctx *ctx)
{
    const struct slice *k = &ctx->argv[2];
    struct kv *kv = db_lookup(ctx->eng, ctx->db, k->ptr, k->len, LOOKUP_NOTOUCH | LOOKUP_NONOTIFY);
    if (!kv) reply_null(ctx->r);
    return kv;
}

void cmd_object_encoding(struct cmd_ctx *ctx)
{
    struct kv *kv = object_lookup(ctx);
    if (kv) reply_cstr(ctx->r, kv_encoding_name(kv));
}

void cmd_object_refcount(struct cmd_ctx *ctx)
{
    struct kv *kv = object_lookup(ctx);
    if (!kv) return;
    bool shared =
        kv->type == OBJ_STRING && kv->enc == ENC_INT && kv->v.i >= 0 && kv->v.i < SHARED_INTEGERS;
    reply_int(ctx->r, shared ? INT_MAX : 1);
}

void cmd_object_idletime(struct cmd_ctx *ctx)
{
    struct kv *kv = object_lookup(ctx);
    if (!kv) return;
    if (ctx->eng->lfu) {
        reply_error(ctx->r, "ERR An LFU maxmemory policy is selected, idle time not tracked. "
                            "Please note that when switching between policies at runtime LRU "
                            "and LFU data will take some time to adjust.");
        return;
    }
    /* unsigned difference: correct across a wrap of the seconds clock */
    reply_int(ctx->r, (long long)(uint32_t)(ctx->eng->lru_clock - kv->lru));
}

/* Access frequency is tracked only under an LFU maxmemory policy. */
void cmd_object_freq(struct cmd_ctx *ctx)
{
    struct kv *kv = object_lookup(ctx);
    if (!kv) return;
    if (ctx->eng->lfu) {
        reply_int(ctx->r, db_lfu_counter(ctx->eng, kv));
        return;
    }
    reply_error(ctx->r, "ERR An LFU maxmemory policy is not selected, access frequency not "
                        "tracked. Please note that when switching between policies at runtime "
                        "LRU and LFU data will take some time to adjust.");
}

void cmd_object_help(struct cmd_ctx *ctx)
{
    static const char *const help[] = {
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof(help) / sizeof(help[0]);
    reply_array(ctx->r, (long long)n);
    for (size_t i = 0; i < n; i++) reply_status(ctx->r, help[i]);
}
