/*
 * t_hash.c - the hash type (t_hash.h): its two encodings, the conversion
 * between them, its checkpoint payload and the HSET family of commands.
 *
 * Encodings:
 *   PACK   a pack (pack.h) of field, value, field, value... in insertion
 *          order. Lookups are linear, which is why it is bounded by the
 *          hash-max-listpack-entries / -value settings.
 *   TABLE  struct htab: an intrusive dict whose element is one allocation
 *          per field, struct hnode: the chain link, then the field and
 *          value lengths as LEB128 varints (one byte each below 128), then
 *          the field bytes and the value bytes. With no per-field pointers
 *          but the chain link, a field of a 1,000,000-field hash costs its
 *          allocation (size class of 10 + field + value bytes) plus about
 *          8 bytes of bucket array (docs/benchmarks.md).
 * A PACK hash converts to TABLE before a field or value longer than
 * hash-max-listpack-value is stored, and once it holds more than
 * hash-max-listpack-entries fields; a TABLE never converts back. These are
 * Redis 7.0's rules (HSETNX on an existing field stores nothing and so
 * converts nothing; HINCRBY/HINCRBYFLOAT convert on a long result; any
 * store, an update included, converts a pack that holds more fields than
 * the limit, which CONFIG SET may have lowered).
 *
 * Logging: every write is `verbatim` except HINCRBYFLOAT, whose long double
 * arithmetic and formatting are platform facts: it is logged as HSET key
 * field <result>, as Redis propagates it.
 *
 * Checkpoint payload (docs/checkpoint-format.md, "Hashes"): on-disk
 * encoding 1 is the pack bytes verbatim; encoding 2 is a u64 field count,
 * then field and value as u32-length-prefixed strings.
 */
#include "engine/notify.h"
#include "engine/t_hash.h"
#include "engine/cmd.h"
#include "engine/digest.h"
#include "engine/lode.h"
#include "engine/pack.h"
#include "engine/serialize.h"
#include "engine/util.h"

#include <limits.h>
#include <math.h>
#include <string.h>

/* On-disk encodings of SER_TYPE_HASH (never renumbered). */
enum { SER_HASH_PACK = 1, SER_HASH_TABLE = 2 };

/* A pack never grows past this: Redis's listpack safety limit (1 GiB),
 * far below the format's u32 total. */
#define HASH_PACK_SAFE_BYTES (1u << 30)

/* ---- TABLE elements ---- */

struct hnode {
    struct dnode node; /* chain link, owned by the table */
    uint8_t data[];    /* varint flen, varint vlen, field bytes, value bytes */
};

struct htab {
    struct dict d;     /* struct hnode elements, keyed by field */
    size_t node_bytes; /* usable bytes of all nodes (MEMORY USAGE) */
};

/* A field and its value, borrowed from wherever they live. */
struct hpair {
    const char *f, *v;
    size_t flen, vlen;
};

static size_t varint_len(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t varint_put(uint8_t *p, size_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static const uint8_t *varint_get(const uint8_t *p, size_t *v)
{
    size_t r = 0;
    int shift = 0;
    for (;;) {
        uint8_t b = *p++;
        r |= (size_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) break;
        shift += 7;
    }
    *v = r;
    return p;
}

static inline void hn_pair(const struct hnode *n, struct hpair *out)
{
    const uint8_t *p = varint_get(n->data, &out->flen);
    p = varint_get(p, &out->vlen);
    out->f = (const char *)p;
    out->v = (const char *)p + out->flen;
}

static struct hnode *hn_new(const char *f, size_t flen, const char *v, size_t vlen)
{
    size_t hl = varint_len(flen) + varint_len(vlen);
    struct hnode *n = lode_malloc(sizeof(*n) + hl + flen + vlen);
    n->node.next = NULL;
    uint8_t *p = n->data;
    p += varint_put(p, flen);
    p += varint_put(p, vlen);
    if (flen) memcpy(p, f, flen);
    if (vlen) memcpy(p + flen, v, vlen);
    return n;
}

static uint64_t hn_hash(const struct dnode *d)
{
    struct hpair p;
    hn_pair((const struct hnode *)d, &p);
    return util_hash(p.f, p.flen);
}

static bool hn_match(const struct dnode *d, const void *key, size_t len)
{
    struct hpair p;
    hn_pair((const struct hnode *)d, &p);
    return p.flen == len && (len == 0 || memcmp(p.f, key, len) == 0);
}

static const struct dict_type htab_type = {hn_hash, hn_match};

static struct htab *ht_new(void)
{
    struct htab *t = lode_malloc(sizeof(*t));
    dict_init(&t->d, &htab_type);
    t->node_bytes = 0;
    return t;
}

static void hn_free_cb(struct dnode *n, void *priv)
{
    (void)priv;
    lode_free(n);
}

static void ht_free(struct htab *t)
{
    dict_drain(&t->d, hn_free_cb, NULL);
    lode_free(t);
}

static struct hnode *ht_find(struct htab *t, const char *f, size_t flen)
{
    return (struct hnode *)dict_find(&t->d, f, flen, util_hash(f, flen));
}

/* Sets field f to v; returns 1 when the field is new, 0 when updated. */
static int ht_set(struct htab *t, const char *f, size_t flen, const char *v, size_t vlen)
{
    uint64_t h = util_hash(f, flen);
    struct hnode *old = (struct hnode *)dict_find(&t->d, f, flen, h);
    if (old) {
        struct hpair p;
        hn_pair(old, &p);
        if (p.vlen == vlen) {
            /* same length: overwrite in place (HINCRBY's common case) */
            if (vlen) memcpy((char *)p.v, v, vlen);
            return 0;
        }
    }
    struct hnode *n = hn_new(f, flen, v, vlen);
    t->node_bytes += lode_usable(n);
    if (old) {
        dict_replace(&t->d, &old->node, &n->node, h);
        t->node_bytes -= lode_usable(old);
        lode_free(old);
        return 0;
    }
    dict_add(&t->d, &n->node, h);
    return 1;
}

static bool ht_del(struct htab *t, const char *f, size_t flen)
{
    struct dnode *n = dict_unlink(&t->d, f, flen, util_hash(f, flen));
    if (!n) return false;
    t->node_bytes -= lode_usable(n);
    lode_free(n);
    dict_maybe_shrink(&t->d);
    return true;
}

/* ---- iteration over either encoding ---- */

struct hiter {
    int enc;
    uint8_t *pk, *e;     /* PACK: the pack, the next field entry */
    struct dict_iter di; /* TABLE */
    char ftmp[UTIL_LLSTR_SIZE], vtmp[UTIL_LLSTR_SIZE];
    struct hpair p; /* the current pair after hiter_next */
};

static void hiter_init(struct hiter *it, const void *ptr, int enc)
{
    it->enc = enc;
    if (enc == HASH_ENC_PACK) {
        it->pk = (uint8_t *)ptr;
        it->e = pk_first(it->pk);
    } else {
        /* the iterator pauses rehashing, so it writes to the dict */
        dict_iter_init(&it->di, &((struct htab *)ptr)->d);
    }
}

/* The pair at field entry e of pack pk, formatted with tmp buffers. */
static void pk_pair(uint8_t *pk, uint8_t *e, char *ftmp, char *vtmp, struct hpair *out)
{
    out->f = pk_str(e, ftmp, &out->flen);
    out->v = pk_str(pk_next(pk, e), vtmp, &out->vlen);
}

static bool hiter_next(struct hiter *it)
{
    if (it->enc == HASH_ENC_PACK) {
        if (!it->e) return false;
        pk_pair(it->pk, it->e, it->ftmp, it->vtmp, &it->p);
        it->e = pk_next(it->pk, pk_next(it->pk, it->e));
        return true;
    }
    struct dnode *n = dict_iter_next(&it->di);
    if (!n) return false;
    hn_pair((struct hnode *)n, &it->p);
    return true;
}

static void hiter_release(struct hiter *it)
{
    if (it->enc == HASH_ENC_TABLE) dict_iter_release(&it->di);
}

/* ---- the value, either encoding ---- */

static size_t val_len(const void *ptr, int enc)
{
    if (enc == HASH_ENC_PACK) return pk_count(ptr) / 2;
    return dict_size(&((const struct htab *)ptr)->d);
}

size_t hash_len(const struct kv *kv)
{
    return val_len(kv->v.ptr, kv->enc);
}

bool hash_get(const struct kv *kv, const char *f, size_t flen, char *tmp, const char **v,
              size_t *vlen)
{
    if (kv->enc == HASH_ENC_PACK) {
        uint8_t *pk = kv->v.ptr;
        uint8_t *e = pk_find(pk, NULL, f, flen, 1);
        if (!e) return false;
        *v = pk_str(pk_next(pk, e), tmp, vlen);
        return true;
    }
    struct hnode *n = ht_find(kv->v.ptr, f, flen);
    if (!n) return false;
    struct hpair p;
    hn_pair(n, &p);
    *v = p.v;
    *vlen = p.vlen;
    return true;
}

/* Converts a PACK hash to TABLE (kv->v.ptr and kv->enc change). */
static void convert_to_table(struct kv *kv)
{
    lode_assert(kv->enc == HASH_ENC_PACK);
    uint8_t *pk = kv->v.ptr;
    struct htab *t = ht_new();
    struct hiter it;
    hiter_init(&it, pk, HASH_ENC_PACK);
    while (hiter_next(&it)) {
        int added = ht_set(t, it.p.f, it.p.flen, it.p.v, it.p.vlen);
        lode_assert(added == 1); /* a pack never holds a field twice */
    }
    hiter_release(&it);
    pk_free(pk);
    kv->v.ptr = t;
    kv->enc = HASH_ENC_TABLE;
}

/* Sets field f of hash kv to v, converting the encoding by lim's rules.
 * Returns 1 when the field is new, 0 when its value was replaced. */
static int hash_set(const struct engine_limits *lim, struct kv *kv, const char *f, size_t flen,
                    const char *v, size_t vlen)
{
    if (kv->enc == HASH_ENC_PACK) {
        uint8_t *pk = kv->v.ptr;
        if ((long long)flen > lim->hash_max_listpack_value ||
            (long long)vlen > lim->hash_max_listpack_value ||
            (uint64_t)pk_bytes(pk) + flen + vlen + 32 > HASH_PACK_SAFE_BYTES) {
            convert_to_table(kv);
        } else {
            uint8_t *e = pk_find(pk, NULL, f, flen, 1);
            int added = 0;
            if (e) {
                uint8_t *ve = pk_next(pk, e);
                pk = pk_replace(pk, &ve, v, vlen);
            } else {
                pk = pk_append(pk, f, flen);
                pk = pk_append(pk, v, vlen);
                added = 1;
            }
            kv->v.ptr = pk;
            /* checked after an update too: the limit may have been lowered
             * (CONFIG SET) since the pack grew, and Redis converts then */
            if ((long long)(pk_count(pk) / 2) > lim->hash_max_listpack_entries)
                convert_to_table(kv);
            return added;
        }
    }
    return ht_set(kv->v.ptr, f, flen, v, vlen);
}

/* Deletes field f; returns whether it existed. The caller deletes the key
 * when the hash becomes empty. */
static bool hash_del(struct kv *kv, const char *f, size_t flen)
{
    if (kv->enc == HASH_ENC_PACK) {
        uint8_t *pk = kv->v.ptr;
        uint8_t *e = pk_find(pk, NULL, f, flen, 1);
        if (!e) return false;
        kv->v.ptr = pk_delete(pk, &e, 2);
        return true;
    }
    return ht_del(kv->v.ptr, f, flen);
}

/* ---- obj_ops ---- */

static void h_free(void *ptr, int enc)
{
    if (!ptr) return;
    if (enc == HASH_ENC_PACK)
        pk_free(ptr);
    else
        ht_free(ptr);
}

static void *h_dup(const void *ptr, int enc)
{
    if (enc == HASH_ENC_PACK) return pk_dup(ptr);
    struct htab *t = ht_new();
    struct hiter it;
    hiter_init(&it, ptr, enc);
    while (hiter_next(&it)) ht_set(t, it.p.f, it.p.flen, it.p.v, it.p.vlen);
    hiter_release(&it);
    return t;
}

static size_t h_mem(const void *ptr, int enc)
{
    if (enc == HASH_ENC_PACK) return pk_mem(ptr);
    const struct htab *t = ptr;
    return lode_usable(t) + dict_buckets(&t->d) * sizeof(struct dnode *) + t->node_bytes;
}

static const char *h_enc_name(int enc)
{
    return enc == HASH_ENC_PACK ? "listpack" : "hashtable";
}

/* Fields are unordered: each pair's digest is folded with XOR, and the
 * fold mixed into out, so layout and encoding never show. */
static void h_digest(const void *ptr, int enc, uint8_t out[20])
{
    uint8_t acc[DIGEST_LEN] = {0};
    struct hiter it;
    hiter_init(&it, ptr, enc);
    while (hiter_next(&it)) {
        uint8_t e[DIGEST_LEN] = {0};
        digest_mix(e, it.p.f, it.p.flen);
        digest_mix(e, it.p.v, it.p.vlen);
        digest_xor(acc, e);
    }
    hiter_release(&it);
    digest_mix(out, acc, DIGEST_LEN);
}

static int h_serialize(struct buf *out, const void *ptr, int enc)
{
    if (enc == HASH_ENC_PACK) {
        buf_append(out, ptr, pk_bytes(ptr));
        return SER_HASH_PACK;
    }
    ser_put_u64(out, val_len(ptr, enc));
    struct hiter it;
    hiter_init(&it, ptr, enc);
    while (hiter_next(&it)) {
        ser_put_str(out, it.p.f, it.p.flen);
        ser_put_str(out, it.p.v, it.p.vlen);
    }
    hiter_release(&it);
    return SER_HASH_TABLE;
}

/* Whether the validated pack pk holds a field twice. Small packs compare
 * pairwise; larger ones insert into a scratch table (freed before return). */
static bool pack_has_duplicate(uint8_t *pk)
{
    bool dup = false;
    char tmp[UTIL_LLSTR_SIZE];
    size_t n;
    if (pk_count(pk) <= 64) {
        for (uint8_t *e = pk_first(pk); e && !dup; e = pk_next(pk, pk_next(pk, e))) {
            const char *f = pk_str(e, tmp, &n);
            uint8_t *later = pk_next(pk, pk_next(pk, e));
            if (later && pk_find(pk, later, f, n, 1)) dup = true;
        }
        return dup;
    }
    struct htab *t = ht_new();
    for (uint8_t *e = pk_first(pk); e && !dup; e = pk_next(pk, pk_next(pk, e))) {
        const char *f = pk_str(e, tmp, &n);
        if (ht_set(t, f, n, "", 0) == 0) dup = true;
    }
    ht_free(t);
    return dup;
}

static int h_parse(const uint8_t *p, size_t n, int ser_enc, void **ptr, int *enc)
{
    if (ser_enc == SER_HASH_PACK) {
        if (!pk_validate(p, n) || pk_bytes(p) != n) return LODE_ECORRUPT;
        uint32_t cnt = pk_count(p);
        if (cnt == 0 || cnt % 2 != 0) return LODE_ECORRUPT;
        uint8_t *pk = pk_from_bytes(p, n);
        if (pack_has_duplicate(pk)) {
            pk_free(pk);
            return LODE_ECORRUPT;
        }
        *ptr = pk;
        *enc = HASH_ENC_PACK;
        return 0;
    }
    if (ser_enc != SER_HASH_TABLE) return LODE_EVERSION;
    struct ser_rd r = ser_rd_init(p, n);
    uint64_t cnt;
    /* every pair takes at least its two 4-byte lengths */
    if (!ser_get_u64(&r, &cnt) || cnt == 0 || cnt > (n - r.off) / 8) return LODE_ECORRUPT;
    struct htab *t = ht_new();
    for (uint64_t i = 0; i < cnt; i++) {
        const char *f, *v;
        size_t flen, vlen;
        if (!ser_get_str(&r, &f, &flen) || !ser_get_str(&r, &v, &vlen) ||
            ht_set(t, f, flen, v, vlen) == 0)
            goto bad;
    }
    if (!ser_rd_done(&r)) goto bad;
    *ptr = t;
    *enc = HASH_ENC_TABLE;
    return 0;
bad:
    ht_free(t);
    return LODE_ECORRUPT;
}

static void h_each(const void *ptr, int enc,
                   int (*fn)(void *priv, const char *a, size_t alen, const char *b, size_t blen),
                   void *priv)
{
    struct hiter it;
    hiter_init(&it, ptr, enc);
    while (hiter_next(&it))
        if (fn(priv, it.p.f, it.p.flen, it.p.v, it.p.vlen)) break;
    hiter_release(&it);
}

static const struct obj_ops hash_ops = {
    .free = h_free,
    .dup = h_dup,
    .mem = h_mem,
    .enc_name = h_enc_name,
    .digest = h_digest,
    .ser_type = SER_TYPE_HASH,
    .serialize = h_serialize,
    .parse = h_parse,
    .each = h_each,
};

void hash_register(void)
{
    obj_register(OBJ_HASH, &hash_ops);
}

/* ---- command helpers ---- */

/* The hash at argv[i] for reading: NULL when absent, or when it is of
 * another type (*bad set, WRONGTYPE replied). */
static struct kv *lookup_read(struct cmd_ctx *ctx, int i, bool *bad)
{
    *bad = false;
    struct kv *kv = ctx_lookup_read(ctx, i);
    if (kv && ctx_wrongtype(ctx, kv, OBJ_HASH)) {
        *bad = true;
        return NULL;
    }
    return kv;
}

/* The hash at argv[1] for writing, created empty (and added) when absent.
 * NULL after replying WRONGTYPE. Callers store at least one field in a
 * hash they created before returning. */
static struct kv *lookup_create(struct cmd_ctx *ctx)
{
    struct kv *kv = ctx_lookup_write(ctx, 1);
    if (kv) return ctx_wrongtype(ctx, kv, OBJ_HASH) ? NULL : kv;
    const struct slice *k = &ctx->argv[1];
    kv = kv_new_obj(k->ptr, k->len, OBJ_HASH, HASH_ENC_PACK, pk_new());
    db_add(ctx->eng, ctx->db, kv);
    return kv;
}

static void key_changed(struct cmd_ctx *ctx, const struct kv *kv)
{
    db_key_changed(ctx->eng, ctx->db, kv->data, kv->klen);
}

static int set_arg(struct cmd_ctx *ctx, struct kv *kv, int fi, const char *v, size_t vlen)
{
    const struct slice *f = &ctx->argv[fi];
    return hash_set(&ctx->eng->lim, kv, f->ptr, f->len, v, vlen);
}

/* ---- HSET, HMSET, HSETNX ---- */

/* Sets the field/value pairs from argv[2]; returns the number of new
 * fields, or -1 after replying an error. */
static long long hset_generic(struct cmd_ctx *ctx)
{
    if (ctx->argc % 2 != 0) {
        reply_errorf(ctx->r, "ERR wrong number of arguments for '%s' command", ctx->cmd->fullname);
        return -1;
    }
    struct kv *kv = lookup_create(ctx);
    if (!kv) return -1;
    long long added = 0;
    for (int i = 2; i < ctx->argc; i += 2)
        added += set_arg(ctx, kv, i, ctx->argv[i + 1].ptr, ctx->argv[i + 1].len);
    key_changed(ctx, kv);
    NOTIFY_ARG(ctx, NOTIFY_HASH, "hset", 1);
    ctx_dirty(ctx, (ctx->argc - 2) / 2);
    return added;
}

void cmd_hset(struct cmd_ctx *ctx)
{
    long long added = hset_generic(ctx);
    if (added >= 0) reply_int(ctx->r, added);
}

void cmd_hmset(struct cmd_ctx *ctx)
{
    if (hset_generic(ctx) >= 0) reply_ok(ctx->r);
}

void cmd_hsetnx(struct cmd_ctx *ctx)
{
    struct kv *kv = ctx_lookup_write(ctx, 1);
    if (kv) {
        if (ctx_wrongtype(ctx, kv, OBJ_HASH)) return;
        char tmp[UTIL_LLSTR_SIZE];
        const char *v;
        size_t vlen;
        if (hash_get(kv, ctx->argv[2].ptr, ctx->argv[2].len, tmp, &v, &vlen)) {
            reply_int(ctx->r, 0);
            return;
        }
    } else {
        kv = lookup_create(ctx);
    }
    set_arg(ctx, kv, 2, ctx->argv[3].ptr, ctx->argv[3].len);
    key_changed(ctx, kv);
    NOTIFY_ARG(ctx, NOTIFY_HASH, "hset", 1);
    ctx_dirty(ctx, 1);
    reply_int(ctx->r, 1);
}

/* ---- HGET, HMGET, HEXISTS, HSTRLEN, HLEN ---- */

void cmd_hget(struct cmd_ctx *ctx)
{
    bool bad;
    struct kv *kv = lookup_read(ctx, 1, &bad);
    if (bad) return;
    char tmp[UTIL_LLSTR_SIZE];
    const char *v;
    size_t vlen;
    if (kv && hash_get(kv, ctx->argv[2].ptr, ctx->argv[2].len, tmp, &v, &vlen))
        reply_bulk(ctx->r, v, vlen);
    else
        reply_null(ctx->r);
}

void cmd_hmget(struct cmd_ctx *ctx)
{
    bool bad;
    struct kv *kv = lookup_read(ctx, 1, &bad);
    if (bad) return;
    reply_array(ctx->r, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        char tmp[UTIL_LLSTR_SIZE];
        const char *v;
        size_t vlen;
        if (kv && hash_get(kv, ctx->argv[i].ptr, ctx->argv[i].len, tmp, &v, &vlen))
            reply_bulk(ctx->r, v, vlen);
        else
            reply_null(ctx->r);
    }
}

void cmd_hexists(struct cmd_ctx *ctx)
{
    bool bad;
    struct kv *kv = lookup_read(ctx, 1, &bad);
    if (bad) return;
    char tmp[UTIL_LLSTR_SIZE];
    const char *v;
    size_t vlen;
    reply_int(ctx->r, kv && hash_get(kv, ctx->argv[2].ptr, ctx->argv[2].len, tmp, &v, &vlen));
}

void cmd_hstrlen(struct cmd_ctx *ctx)
{
    bool bad;
    struct kv *kv = lookup_read(ctx, 1, &bad);
    if (bad) return;
    char tmp[UTIL_LLSTR_SIZE];
    const char *v;
    size_t vlen = 0;
    if (!kv || !hash_get(kv, ctx->argv[2].ptr, ctx->argv[2].len, tmp, &v, &vlen)) vlen = 0;
    reply_int(ctx->r, (long long)vlen);
}

void cmd_hlen(struct cmd_ctx *ctx)
{
    bool bad;
    struct kv *kv = lookup_read(ctx, 1, &bad);
    if (bad) return;
    reply_int(ctx->r, kv ? (long long)hash_len(kv) : 0);
}

/* ---- HDEL ---- */

void cmd_hdel(struct cmd_ctx *ctx)
{
    struct kv *kv = ctx_lookup_write(ctx, 1);
    if (!kv) {
        reply_int(ctx->r, 0);
        return;
    }
    if (ctx_wrongtype(ctx, kv, OBJ_HASH)) return;
    long long deleted = 0;
    bool gone = false;
    for (int i = 2; i < ctx->argc; i++) {
        if (!hash_del(kv, ctx->argv[i].ptr, ctx->argv[i].len)) continue;
        deleted++;
        if (hash_len(kv) == 0) {
            db_delete(ctx->eng, ctx->db, ctx->argv[1].ptr, ctx->argv[1].len);
            gone = true;
            break;
        }
    }
    if (deleted) {
        if (!gone) key_changed(ctx, kv);
        NOTIFY_ARG(ctx, NOTIFY_HASH, "hdel", 1);
        if (gone) NOTIFY_ARG(ctx, NOTIFY_GENERIC, "del", 1);
        ctx_dirty(ctx, deleted);
    }
    reply_int(ctx->r, deleted);
}

/* ---- HGETALL, HKEYS, HVALS ---- */

enum { WANT_FIELDS = 1, WANT_VALUES = 2 };

static void getall_generic(struct cmd_ctx *ctx, int want)
{
    bool bad;
    struct kv *kv = lookup_read(ctx, 1, &bad);
    if (bad) return;
    long long n = kv ? (long long)hash_len(kv) : 0;
    if (want == (WANT_FIELDS | WANT_VALUES))
        reply_map(ctx->r, n);
    else
        reply_array(ctx->r, n);
    if (!kv) return;
    struct hiter it;
    hiter_init(&it, kv->v.ptr, kv->enc);
    while (hiter_next(&it)) {
        if (want & WANT_FIELDS) reply_bulk(ctx->r, it.p.f, it.p.flen);
        if (want & WANT_VALUES) reply_bulk(ctx->r, it.p.v, it.p.vlen);
    }
    hiter_release(&it);
}

void cmd_hgetall(struct cmd_ctx *ctx)
{
    getall_generic(ctx, WANT_FIELDS | WANT_VALUES);
}

void cmd_hkeys(struct cmd_ctx *ctx)
{
    getall_generic(ctx, WANT_FIELDS);
}

void cmd_hvals(struct cmd_ctx *ctx)
{
    getall_generic(ctx, WANT_VALUES);
}

/* ---- HINCRBY, HINCRBYFLOAT ---- */

void cmd_hincrby(struct cmd_ctx *ctx)
{
    long long incr, v = 0;
    if (!arg_ll(ctx, 3, &incr, NULL)) return;
    struct kv *kv = lookup_create(ctx);
    if (!kv) return;
    char tmp[UTIL_LLSTR_SIZE];
    const char *cur;
    size_t clen;
    if (hash_get(kv, ctx->argv[2].ptr, ctx->argv[2].len, tmp, &cur, &clen) &&
        !util_str2ll(cur, clen, &v)) {
        reply_error(ctx->r, "ERR hash value is not an integer");
        return;
    }
    if ((incr < 0 && v < 0 && incr < LLONG_MIN - v) ||
        (incr > 0 && v > 0 && incr > LLONG_MAX - v)) {
        reply_error(ctx->r, ERR_OVERFLOW);
        return;
    }
    v += incr;
    char num[UTIL_LLSTR_SIZE];
    set_arg(ctx, kv, 2, num, (size_t)util_ll2str(num, v));
    key_changed(ctx, kv);
    NOTIFY_ARG(ctx, NOTIFY_HASH, "hincrby", 1);
    ctx_dirty(ctx, 1);
    reply_int(ctx->r, v);
}

/* Room for any long double INCRBYFLOAT formats (see t_string.c). */
#define LD_STR_CAP 5200

void cmd_hincrbyfloat(struct cmd_ctx *ctx)
{
    long double incr, v = 0;
    if (!util_str2ld(ctx->argv[3].ptr, ctx->argv[3].len, &incr)) {
        reply_error(ctx->r, ERR_NOTFLOAT);
        return;
    }
    if (isnan(incr) || isinf(incr)) {
        reply_error(ctx->r, "ERR value is NaN or Infinity");
        return;
    }
    struct kv *kv = lookup_create(ctx);
    if (!kv) return;
    char tmp[UTIL_LLSTR_SIZE];
    const char *cur;
    size_t clen;
    if (hash_get(kv, ctx->argv[2].ptr, ctx->argv[2].len, tmp, &cur, &clen) &&
        !util_str2ld(cur, clen, &v)) {
        reply_error(ctx->r, "ERR hash value is not a float");
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
    set_arg(ctx, kv, 2, buf, (size_t)n);
    key_changed(ctx, kv);
    NOTIFY_ARG(ctx, NOTIFY_HASH, "hincrbyfloat", 1);
    ctx_dirty(ctx, 1);
    /* the result is what replay must store: HSET key field <result> */
    struct slice a[4] = {{"HSET", 4}, ctx->argv[1], ctx->argv[2], {buf, (size_t)n}};
    ctx_emit(ctx, 4, a);
    reply_bulk(ctx->r, buf, (size_t)n);
}

/* ---- HRANDFIELD ---- */

/* Replies one pair of HRANDFIELD's count form: RESP3 nests each field and
 * value in a two-element array. */
static void reply_pick(struct cmd_ctx *ctx, const struct hpair *p, bool withvalues)
{
    if (withvalues && ctx->r->resp == 3) reply_array(ctx->r, 2);
    reply_bulk(ctx->r, p->f, p->flen);
    if (withvalues) reply_bulk(ctx->r, p->v, p->vlen);
}

/* A uniformly chosen pair of a PACK hash, using ftmp/vtmp. */
static void pack_random(uint8_t *pk, char *ftmp, char *vtmp, struct hpair *out)
{
    long long i = (long long)util_rand_below(pk_count(pk) / 2);
    pk_pair(pk, pk_at(pk, 2 * i), ftmp, vtmp, out);
}

/* A small open-addressing set of node pointers (distinct random picks). */
struct pset {
    const void **slot;
    size_t mask;
};

static void pset_init(struct pset *s, size_t want)
{
    size_t cap = 16;
    while (cap < want * 2) cap <<= 1;
    s->slot = lode_calloc(cap * sizeof(*s->slot));
    s->mask = cap - 1;
}

/* Adds p; returns false when it was already present. */
static bool pset_add(struct pset *s, const void *p)
{
    size_t i = (size_t)(((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ULL) & s->mask;
    while (s->slot[i]) {
        if (s->slot[i] == p) return false;
        i = (i + 1) & s->mask;
    }
    s->slot[i] = p;
    return true;
}

/* Replies count distinct random pairs, 0 < count < size. */
static void rand_distinct(struct cmd_ctx *ctx, struct kv *kv, size_t count, size_t size,
                          bool withvalues)
{
    char ftmp[UTIL_LLSTR_SIZE], vtmp[UTIL_LLSTR_SIZE];
    struct hpair p;
    if (kv->enc == HASH_ENC_TABLE && count * 3 <= size) {
        /* few of many: random picks, skipping repeats */
        struct htab *t = kv->v.ptr;
        struct pset seen;
        pset_init(&seen, count);
        for (size_t got = 0; got < count;) {
            struct dnode *n = dict_random(&t->d);
            if (!pset_add(&seen, n)) continue;
            hn_pair((struct hnode *)n, &p);
            reply_pick(ctx, &p, withvalues);
            got++;
        }
        lode_free(seen.slot);
        return;
    }
    /* a large share (or a pack): a partial Fisher-Yates shuffle of all */
    void **all = lode_malloc(size * sizeof(*all));
    size_t k = 0;
    if (kv->enc == HASH_ENC_PACK) {
        uint8_t *pk = kv->v.ptr;
        for (uint8_t *e = pk_first(pk); e; e = pk_next(pk, pk_next(pk, e))) all[k++] = e;
    } else {
        struct dict_iter it;
        dict_iter_init(&it, &((struct htab *)kv->v.ptr)->d);
        for (struct dnode *n; (n = dict_iter_next(&it)) != NULL;) all[k++] = n;
        dict_iter_release(&it);
    }
    lode_assert(k == size);
    for (size_t i = 0; i < count; i++) {
        size_t j = i + (size_t)util_rand_below(size - i);
        void *x = all[i];
        all[i] = all[j];
        all[j] = x;
        if (kv->enc == HASH_ENC_PACK)
            pk_pair(kv->v.ptr, all[i], ftmp, vtmp, &p);
        else
            hn_pair(all[i], &p);
        reply_pick(ctx, &p, withvalues);
    }
    lode_free(all);
}

/* HRANDFIELD key [count [WITHVALUES]] */
void cmd_hrandfield(struct cmd_ctx *ctx)
{
    char ftmp[UTIL_LLSTR_SIZE], vtmp[UTIL_LLSTR_SIZE];
    struct hpair p;
    bool bad;
    if (ctx->argc == 2) {
        struct kv *kv = lookup_read(ctx, 1, &bad);
        if (bad) return;
        if (!kv) {
            reply_null(ctx->r);
            return;
        }
        if (kv->enc == HASH_ENC_PACK)
            pack_random(kv->v.ptr, ftmp, vtmp, &p);
        else
            hn_pair((struct hnode *)dict_random(&((struct htab *)kv->v.ptr)->d), &p);
        reply_bulk(ctx->r, p.f, p.flen);
        return;
    }
    long long l;
    if (!arg_ll(ctx, 2, &l, NULL)) return;
    if (l == LLONG_MIN) {
        /* |count| must fit */
        reply_error(ctx->r, "ERR value is out of range, value must between -9223372036854775807 "
                            "and 9223372036854775807");
        return;
    }
    bool withvalues = false;
    if (ctx->argc > 4 || (ctx->argc == 4 && !arg_is(ctx, 3, "withvalues"))) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    if (ctx->argc == 4) {
        withvalues = true;
        /* the reply would have 2 * |count| elements */
        if (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2) {
            reply_error(ctx->r, "ERR value is out of range");
            return;
        }
    }
    struct kv *kv = lookup_read(ctx, 1, &bad);
    if (bad) return;
    if (!kv || l == 0) {
        reply_empty_array(ctx->r);
        return;
    }
    size_t size = hash_len(kv);
    bool flat = withvalues && ctx->r->resp == 2;
    if (l < 0) {
        /* repeats allowed: |count| independent picks */
        unsigned long long count = (unsigned long long)-l;
        reply_array(ctx->r, (long long)(flat ? count * 2 : count));
        for (unsigned long long i = 0; i < count; i++) {
            if (kv->enc == HASH_ENC_PACK)
                pack_random(kv->v.ptr, ftmp, vtmp, &p);
            else
                hn_pair((struct hnode *)dict_random(&((struct htab *)kv->v.ptr)->d), &p);
            reply_pick(ctx, &p, withvalues);
        }
        return;
    }
    size_t count = (unsigned long long)l >= size ? size : (size_t)l;
    reply_array(ctx->r, (long long)(flat ? count * 2 : count));
    if (count == size) {
        /* the whole hash, in its own order */
        struct hiter it;
        hiter_init(&it, kv->v.ptr, kv->enc);
        while (hiter_next(&it)) reply_pick(ctx, &it.p, withvalues);
        hiter_release(&it);
        return;
    }
    rand_distinct(ctx, kv, count, size, withvalues);
}

/* ---- HSCAN ---- */

struct scan_batch {
    struct hnode **v;
    size_t n, cap;
};

static void scan_collect(struct dnode *n, void *priv)
{
    struct scan_batch *b = priv;
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->v = lode_realloc(b->v, b->cap * sizeof(*b->v));
    }
    b->v[b->n++] = (struct hnode *)n;
}

static bool scan_match(const struct slice *pat, const struct hpair *p)
{
    return !pat || util_glob_match(pat->ptr, pat->len, p->f, p->flen, false);
}

/* HSCAN key cursor [MATCH pattern] [COUNT count] */
void cmd_hscan(struct cmd_ctx *ctx)
{
    uint64_t cursor;
    if (!arg_scan_cursor(ctx, 2, &cursor)) return;
    bool bad;
    struct kv *kv = lookup_read(ctx, 1, &bad);
    if (bad) return;
    if (!kv) {
        /* Redis answers an absent key before looking at the options */
        reply_array(ctx->r, 2);
        reply_bulk(ctx->r, "0", 1);
        reply_empty_array(ctx->r);
        return;
    }
    long long count;
    const struct slice *pat;
    if (!arg_scan_opts(ctx, 3, &count, &pat)) return;
    char num[UTIL_LLSTR_SIZE];
    if (kv->enc == HASH_ENC_PACK) {
        /* a pack is returned whole in one step, cursor 0 */
        size_t token;
        reply_array(ctx->r, 2);
        reply_bulk(ctx->r, "0", 1);
        token = reply_defer(ctx->r);
        long long n = 0;
        struct hiter it;
        hiter_init(&it, kv->v.ptr, kv->enc);
        while (hiter_next(&it)) {
            if (!scan_match(pat, &it.p)) continue;
            reply_bulk(ctx->r, it.p.f, it.p.flen);
            reply_bulk(ctx->r, it.p.v, it.p.vlen);
            n += 2;
        }
        hiter_release(&it);
        reply_defer_array(ctx->r, token, n);
        return;
    }
    /* Walk buckets until count elements (a field and its value count as
     * two, as in Redis) are collected, at most 10 buckets per wanted
     * element; MATCH filters afterwards. */
    struct htab *t = kv->v.ptr;
    struct scan_batch b = {NULL, 0, 0};
    long long budget = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    do {
        cursor = dict_scan(&t->d, cursor, scan_collect, &b);
    } while (cursor && budget-- && (long long)(b.n * 2) < count);
    size_t kept = 0;
    struct hpair p;
    for (size_t i = 0; i < b.n; i++) {
        hn_pair(b.v[i], &p);
        if (scan_match(pat, &p)) b.v[kept++] = b.v[i];
    }
    reply_array(ctx->r, 2);
    reply_bulk(ctx->r, num, (size_t)util_ull2str(num, cursor));
    reply_array(ctx->r, (long long)kept * 2);
    for (size_t i = 0; i < kept; i++) {
        hn_pair(b.v[i], &p);
        reply_bulk(ctx->r, p.f, p.flen);
        reply_bulk(ctx->r, p.v, p.vlen);
    }
    lode_free(b.v);
}
