/*
 * t_hll.c - HyperLogLog: PFADD, PFCOUNT, PFMERGE, PFDEBUG and PFSELFTEST
 * with Redis 7.0's replies and error texts, over our own string layout
 * (t_hll.h; normative description in docs/hyperloglog.md).
 *
 * Representations. A new HyperLogLog is sparse: only its non-zero
 * registers, 3 bytes each, sorted by index. When adding a register would
 * make the string longer than hll-sparse-max-bytes (engine_limits, 3000 by
 * default, counting the header) it becomes dense: 16384 packed 6-bit
 * registers. A dense value never goes back to sparse (as in Redis).
 *
 * Validation. Every command checks the header first: a string that is not
 * a HyperLogLog gets Redis's "WRONGTYPE Key is not a valid HyperLogLog
 * string value."; a good header over a malformed body gets "INVALIDOBJ
 * Corrupted HLL object detected". PFADD and PFMERGE validate the whole body
 * before changing anything, so a corrupt value is never half-updated.
 *
 * Estimator. Ertl, "New cardinality estimation algorithms for HyperLogLog
 * sketches" (2017), section 4 (the "improved" estimator, also Redis 7's):
 * unbiased over the whole range without empirical bias tables, relative
 * standard error about 1.04/sqrt(m) = 0.81% for m = 16384.
 *
 * Logging and caching. PFCOUNT keeps no cached cardinality: it never
 * modifies the value, so it is a pure read and logs nothing (Redis writes a
 * cache into the string and propagates PFCOUNT). PFADD and PFMERGE depend
 * only on the state, the arguments and hll-sparse-max-bytes, so they are
 * logged verbatim; PFDEBUG GETREG/TODENSE change the representation and are
 * logged verbatim too when they do.
 */
#include "engine/notify.h"
#include "engine/t_hll.h"
#include "engine/cmd.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define ERR_HLL_NOT     "WRONGTYPE Key is not a valid HyperLogLog string value."
#define ERR_HLL_CORRUPT "INVALIDOBJ Corrupted HLL object detected"

static const uint8_t hll_magic[4] = {'L', 'H', 'L', 'L'};
#define HLL_VERSION 1

/* ---- hash ---- */

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Avalanche step: every input bit affects every output bit (the 64-bit
 * finaliser constants published with MurmurHash3, public domain). */
static inline uint64_t avalanche(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static inline uint64_t scramble(uint64_t k)
{
    k *= 0x87c37b91114253d5ULL;
    k = rotl64(k, 31);
    k *= 0x4cf5ad432745937fULL;
    return k;
}

/* One lane of 8-byte little-endian blocks (so the result does not depend on
 * the machine's byte order), the tail zero-padded, the length folded in,
 * then a full avalanche. */
uint64_t hll_hash(const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)n * 0xc6a4a7935bd1e995ULL);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        h ^= scramble(load_le64(p + i));
        h = rotl64(h, 27) * 5 + 0x52dce729;
    }
    if (i < n) {
        uint64_t k = 0;
        for (size_t j = n - i; j-- > 0;) k = (k << 8) | p[i + j];
        h ^= scramble(k);
    }
    h ^= (uint64_t)n;
    return avalanche(h);
}

void hll_split(uint64_t hash, unsigned *index, unsigned *rank)
{
    *index = (unsigned)(hash & (HLL_REGISTERS - 1));
    uint64_t rest = (hash >> HLL_P) | (1ULL << HLL_Q); /* the sentinel caps the rank at 51 */
    *rank = (unsigned)__builtin_ctzll(rest) + 1;
}

/* ---- layout ---- */

int hll_kind(const uint8_t *p, size_t n)
{
    if (n < HLL_HDR_SIZE || memcmp(p, hll_magic, 4) != 0 || p[5] != HLL_VERSION || p[6] || p[7])
        return 0;
    if (p[4] == HLL_SPARSE) return HLL_SPARSE;
    if (p[4] == HLL_DENSE && n == HLL_DENSE_SIZE) return HLL_DENSE;
    return 0;
}

static void put_header(uint8_t *p, int enc)
{
    memcpy(p, hll_magic, 4);
    p[4] = (uint8_t)enc;
    p[5] = HLL_VERSION;
    p[6] = p[7] = 0;
}

/* Sparse entry: 24-bit big-endian word, 4 reserved bits, 14-bit index,
 * 6-bit value. Big-endian so that byte order is index order. */
static inline uint32_t entry_word(const uint8_t *e)
{
    return (uint32_t)e[0] << 16 | (uint32_t)e[1] << 8 | e[2];
}

static inline void entry_put(uint8_t *e, unsigned index, unsigned val)
{
    uint32_t w = (uint32_t)index << 6 | val;
    e[0] = (uint8_t)(w >> 16);
    e[1] = (uint8_t)(w >> 8);
    e[2] = (uint8_t)w;
}

/* Checks a sparse body: 0 or LODE_ECORRUPT. */
static int sparse_check(const uint8_t *body, size_t n)
{
    if (n % HLL_ENTRY_SIZE) return LODE_ECORRUPT;
    long prev = -1;
    for (size_t i = 0; i < n; i += HLL_ENTRY_SIZE) {
        uint32_t w = entry_word(body + i);
        unsigned val = w & 63;
        long index = (long)(w >> 6);
        if ((w >> 20) || val == 0 || val > HLL_RANK_MAX || index <= prev) return LODE_ECORRUPT;
        prev = index;
    }
    return 0;
}

/* First entry whose index is >= index (cnt when none). */
static size_t sparse_find(const uint8_t *body, size_t cnt, unsigned index)
{
    size_t lo = 0, hi = cnt;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((entry_word(body + mid * HLL_ENTRY_SIZE) >> 6) < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

unsigned hll_dense_get(const uint8_t *d, unsigned i)
{
    size_t bit = (size_t)i * 6, b = bit >> 3;
    unsigned sh = bit & 7, v = d[b] >> sh;
    if (sh > 2) v |= (unsigned)d[b + 1] << (8 - sh);
    return v & 63;
}

static void dense_put(uint8_t *d, unsigned i, unsigned val)
{
    size_t bit = (size_t)i * 6, b = bit >> 3;
    unsigned sh = bit & 7;
    d[b] = (uint8_t)((d[b] & ~(63u << sh)) | (val << sh));
    if (sh > 2) d[b + 1] = (uint8_t)((d[b + 1] & ~(63u >> (8 - sh))) | (val >> (8 - sh)));
}

/* Calls fn(priv, i, v) for the four registers of each 3-byte group of a
 * dense body; stops and returns LODE_ECORRUPT at a register above 51. */
#define DENSE_FOREACH(d, i, v, stmt)                                                               \
    for (unsigned g_ = 0; g_ < HLL_REGISTERS / 4; g_++) {                                          \
        const uint8_t *q_ = (d) + g_ * 3;                                                          \
        unsigned r_[4] = {q_[0] & 63u, (q_[0] >> 6) | ((q_[1] & 15u) << 2),                        \
                          (q_[1] >> 4) | ((q_[2] & 3u) << 4), q_[2] >> 2};                         \
        for (unsigned k_ = 0; k_ < 4; k_++) {                                                      \
            unsigned i = g_ * 4 + k_, v = r_[k_];                                                  \
            if (v > HLL_RANK_MAX) return LODE_ECORRUPT;                                            \
            stmt;                                                                                  \
        }                                                                                          \
    }

int hll_validate(const uint8_t *p, size_t n)
{
    if (p[4] == HLL_SPARSE) return sparse_check(p + HLL_HDR_SIZE, n - HLL_HDR_SIZE);
    DENSE_FOREACH(p + HLL_HDR_SIZE, i, v, (void)i; (void)v);
    return 0;
}

int hll_histogram(const uint8_t *p, size_t n, uint32_t histo[HLL_RANK_MAX + 1])
{
    const uint8_t *body = p + HLL_HDR_SIZE;
    if (p[4] == HLL_SPARSE) {
        if (sparse_check(body, n - HLL_HDR_SIZE)) return LODE_ECORRUPT;
        size_t cnt = (n - HLL_HDR_SIZE) / HLL_ENTRY_SIZE;
        histo[0] += (uint32_t)(HLL_REGISTERS - cnt);
        for (size_t i = 0; i < cnt; i++) histo[entry_word(body + i * HLL_ENTRY_SIZE) & 63]++;
        return 0;
    }
    DENSE_FOREACH(body, i, v, (void)i; histo[v]++);
    return 0;
}

int hll_merge_regs(const uint8_t *p, size_t n, uint8_t regs[HLL_REGISTERS])
{
    const uint8_t *body = p + HLL_HDR_SIZE;
    if (p[4] == HLL_SPARSE) {
        if (sparse_check(body, n - HLL_HDR_SIZE)) return LODE_ECORRUPT;
        for (size_t i = 0; i + HLL_ENTRY_SIZE <= n - HLL_HDR_SIZE; i += HLL_ENTRY_SIZE) {
            uint32_t w = entry_word(body + i);
            unsigned index = w >> 6, v = w & 63;
            if (regs[index] < v) regs[index] = (uint8_t)v;
        }
        return 0;
    }
    DENSE_FOREACH(body, i, v, if (regs[i] < v) regs[i] = (uint8_t)v);
    return 0;
}

/* ---- estimator (Ertl 2017, algorithm 6) ---- */

/* sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1), for the zero registers. */
static double est_sigma(double x)
{
    if (x == 1.0) return INFINITY;
    double y = 1.0, z = x, zprev;
    do {
        x *= x;
        zprev = z;
        z += x * y;
        y += y;
    } while (z != zprev);
    return z;
}

/* tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3, for the
 * saturated registers. */
static double est_tau(double x)
{
    if (x == 0.0 || x == 1.0) return 0.0;
    double y = 1.0, z = 1.0 - x, zprev;
    do {
        x = sqrt(x);
        zprev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
    } while (z != zprev);
    return z / 3.0;
}

uint64_t hll_estimate(const uint32_t histo[HLL_RANK_MAX + 1])
{
    const double m = HLL_REGISTERS;
    const double alpha_inf = 0.5 / log(2.0); /* the limit of alpha_m as m grows */
    double z = m * est_tau((m - histo[HLL_Q + 1]) / m);
    for (int k = HLL_Q; k >= 1; k--) z = 0.5 * (z + histo[k]);
    z += m * est_sigma(histo[0] / m);
    return (uint64_t)llround(alpha_inf * m * m / z);
}

uint64_t hll_estimate_regs(const uint8_t regs[HLL_REGISTERS])
{
    uint32_t histo[HLL_RANK_MAX + 1] = {0};
    for (unsigned i = 0; i < HLL_REGISTERS; i++) histo[regs[i]]++;
    return hll_estimate(histo);
}

/* ---- building values ---- */

static size_t count_nonzero(const uint8_t regs[HLL_REGISTERS])
{
    size_t nz = 0;
    for (unsigned i = 0; i < HLL_REGISTERS; i++) nz += regs[i] != 0;
    return nz;
}

/* Encodes registers as a HyperLogLog, dense or sparse. */
static void build_value(struct buf *out, const uint8_t regs[HLL_REGISTERS], bool dense)
{
    size_t nz = count_nonzero(regs);
    out->len = 0;
    if (!dense) {
        uint8_t *p = (uint8_t *)buf_reserve(out, HLL_HDR_SIZE + nz * HLL_ENTRY_SIZE);
        put_header(p, HLL_SPARSE);
        uint8_t *e = p + HLL_HDR_SIZE;
        for (unsigned i = 0; i < HLL_REGISTERS; i++)
            if (regs[i]) {
                entry_put(e, i, regs[i]);
                e += HLL_ENTRY_SIZE;
            }
        out->len = HLL_HDR_SIZE + nz * HLL_ENTRY_SIZE;
        return;
    }
    uint8_t *p = (uint8_t *)buf_reserve(out, HLL_DENSE_SIZE);
    put_header(p, HLL_DENSE);
    memset(p + HLL_HDR_SIZE, 0, HLL_DENSE_BYTES);
    for (unsigned i = 0; i < HLL_REGISTERS; i++)
        if (regs[i]) dense_put(p + HLL_HDR_SIZE, i, regs[i]);
    out->len = HLL_DENSE_SIZE;
}

/* A new ENC_RAW string entry holding <p, n> (Redis keeps HyperLogLogs as
 * raw strings, so OBJECT ENCODING says raw even for short ones). */
static struct kv *new_raw_kv(const char *key, size_t klen, const uint8_t *p, size_t n)
{
    struct kv *kv = kv_new_bytes(key, klen, (const char *)p, n);
    if (kv->enc != ENC_RAW) {
        struct kv *raw = kv_to_raw(kv, n);
        kv_free(kv);
        kv = raw;
    }
    return kv;
}

/* ---- command helpers ---- */

static void key_changed(struct cmd_ctx *ctx, const struct kv *kv)
{
    db_key_changed(ctx->eng, ctx->db, kv->data, kv->klen);
}

/* The bytes of kv as a HyperLogLog: returns its kind, or replies (wrong
 * type, or not a HyperLogLog) and returns 0. */
static int hll_of(struct cmd_ctx *ctx, const struct kv *kv, char *tmp, const uint8_t **p, size_t *n)
{
    if (ctx_wrongtype(ctx, kv, OBJ_STRING)) return 0;
    *p = (const uint8_t *)kv_str(kv, tmp, n);
    int kind = hll_kind(*p, *n);
    if (!kind) reply_error(ctx->r, ERR_HLL_NOT);
    return kind;
}

/* Same, and the body must be well formed (INVALIDOBJ otherwise). */
static int hll_of_valid(struct cmd_ctx *ctx, const struct kv *kv, char *tmp, const uint8_t **p,
                        size_t *n)
{
    int kind = hll_of(ctx, kv, tmp, p, n);
    if (kind && hll_validate(*p, *n) != 0) {
        reply_error(ctx->r, ERR_HLL_CORRUPT);
        return 0;
    }
    return kind;
}

/* Replaces the valid sparse value of *kvp by its dense form, keeping the
 * TTL; *kvp is the new (ENC_RAW) entry. */
static void to_dense(struct cmd_ctx *ctx, struct kv **kvp)
{
    struct kv *kv = *kvp;
    char tmp[UTIL_LLSTR_SIZE];
    size_t n;
    const uint8_t *p = (const uint8_t *)kv_str(kv, tmp, &n);
    uint8_t *regs = lode_calloc(HLL_REGISTERS);
    hll_merge_regs(p, n, regs); /* validated by the caller */
    struct buf b = BUF_INIT;
    build_value(&b, regs, true);
    struct kv *nkv = kv_new_bytes(kv->data, kv->klen, b.ptr, b.len);
    nkv->lru = kv->lru;
    db_replace(ctx->db, kv, nkv);
    buf_release(&b);
    lode_free(regs);
    *kvp = nkv;
}

/* Raises register index of the valid ENC_RAW HyperLogLog *kvp to rank.
 * Returns 1 when it changed. A sparse value that would outgrow
 * hll-sparse-max-bytes becomes dense first (*kvp may change). */
static int hll_raise(struct cmd_ctx *ctx, struct kv **kvp, unsigned index, unsigned rank)
{
    struct rawstr *s = (*kvp)->v.ptr;
    uint8_t *p = (uint8_t *)s->data;
    if (p[4] == HLL_SPARSE) {
        size_t cnt = (s->len - HLL_HDR_SIZE) / HLL_ENTRY_SIZE;
        uint8_t *body = p + HLL_HDR_SIZE;
        size_t pos = sparse_find(body, cnt, index);
        uint8_t *e = body + pos * HLL_ENTRY_SIZE;
        if (pos < cnt && entry_word(e) >> 6 == index) {
            if ((entry_word(e) & 63) >= rank) return 0;
            entry_put(e, index, rank);
            return 1;
        }
        size_t need = s->len + HLL_ENTRY_SIZE;
        if ((long long)need <= ctx->eng->lim.hll_sparse_max_bytes) {
            s = kv_raw_reserve(*kvp, need);
            e = (uint8_t *)s->data + HLL_HDR_SIZE + pos * HLL_ENTRY_SIZE;
            memmove(e + HLL_ENTRY_SIZE, e, (cnt - pos) * HLL_ENTRY_SIZE);
            entry_put(e, index, rank);
            s->len = need;
            return 1;
        }
        to_dense(ctx, kvp);
        s = (*kvp)->v.ptr;
        p = (uint8_t *)s->data;
    }
    uint8_t *d = p + HLL_HDR_SIZE;
    if (hll_dense_get(d, index) >= rank) return 0;
    dense_put(d, index, rank);
    return 1;
}

/* ---- PFADD, PFCOUNT, PFMERGE ---- */

void cmd_pfadd(struct cmd_ctx *ctx)
{
    const struct slice *key = &ctx->argv[1];
    struct kv *kv = ctx_lookup_write(ctx, 1);
    int changed = 0;
    if (kv) {
        char tmp[UTIL_LLSTR_SIZE];
        const uint8_t *p;
        size_t n;
        /* without elements nothing is read past the header (as Redis) */
        if (!(ctx->argc > 2 ? hll_of_valid : hll_of)(ctx, kv, tmp, &p, &n)) return;
    } else {
        uint8_t hdr[HLL_HDR_SIZE];
        put_header(hdr, HLL_SPARSE);
        kv = new_raw_kv(key->ptr, key->len, hdr, sizeof(hdr));
        db_add(ctx->eng, ctx->db, kv);
        changed = 1;
    }
    if (ctx->argc > 2) {
        db_str_make_raw(ctx->db, &kv, kv_strlen(kv));
        int raised = 0;
        for (int j = 2; j < ctx->argc; j++) {
            unsigned index, rank;
            hll_split(hll_hash(ctx->argv[j].ptr, ctx->argv[j].len), &index, &rank);
            raised |= hll_raise(ctx, &kv, index, rank);
        }
        if (raised) key_changed(ctx, kv);
        changed |= raised;
    }
    if (changed) {
        NOTIFY_ARG(ctx, NOTIFY_STRING, "pfadd", 1);
        ctx_dirty(ctx, 1);
    }
    reply_int(ctx->r, changed);
}

void cmd_pfcount(struct cmd_ctx *ctx)
{
    char tmp[UTIL_LLSTR_SIZE];
    const uint8_t *p;
    size_t n;
    if (ctx->argc == 2) {
        struct kv *kv = ctx_lookup_read(ctx, 1);
        if (!kv) {
            reply_int(ctx->r, 0);
            return;
        }
        if (!hll_of(ctx, kv, tmp, &p, &n)) return;
        uint32_t histo[HLL_RANK_MAX + 1] = {0};
        if (hll_histogram(p, n, histo) != 0) {
            reply_error(ctx->r, ERR_HLL_CORRUPT);
            return;
        }
        reply_int(ctx->r, (long long)hll_estimate(histo));
        return;
    }
    /* several keys: the estimate of their union, merged on the fly */
    uint8_t *regs = lode_calloc(HLL_REGISTERS);
    for (int j = 1; j < ctx->argc; j++) {
        struct kv *kv = ctx_lookup_read(ctx, j);
        if (!kv) continue;
        if (!hll_of(ctx, kv, tmp, &p, &n)) goto done;
        if (hll_merge_regs(p, n, regs) != 0) {
            reply_error(ctx->r, ERR_HLL_CORRUPT);
            goto done;
        }
    }
    reply_int(ctx->r, (long long)hll_estimate_regs(regs));
done:
    lode_free(regs);
}

void cmd_pfmerge(struct cmd_ctx *ctx)
{
    char tmp[UTIL_LLSTR_SIZE];
    const uint8_t *p;
    size_t n;
    bool dense = false;
    size_t dst_nz = 0; /* registers set in a sparse destination */
    uint8_t *regs = lode_calloc(HLL_REGISTERS);
    struct buf b = BUF_INIT;
    /* the destination's own registers take part, as in Redis */
    for (int j = 1; j < ctx->argc; j++) {
        struct kv *kv = ctx_lookup_read(ctx, j);
        if (!kv) continue;
        int kind = hll_of(ctx, kv, tmp, &p, &n);
        if (!kind) goto done;
        if (hll_merge_regs(p, n, regs) != 0) {
            reply_error(ctx->r, ERR_HLL_CORRUPT);
            goto done;
        }
        /* Redis 7.0: the result is dense when any input is */
        if (kind == HLL_DENSE) dense = true;
        if (j == 1 && kind == HLL_SPARSE) dst_nz = (n - HLL_HDR_SIZE) / HLL_ENTRY_SIZE;
    }
    /* Otherwise the sparse destination is promoted when it grows past the
     * limit, as PFADD's are: a merge that adds no register never promotes. */
    size_t nz = count_nonzero(regs);
    if (nz > dst_nz &&
        (long long)(HLL_HDR_SIZE + nz * HLL_ENTRY_SIZE) > ctx->eng->lim.hll_sparse_max_bytes)
        dense = true;
    build_value(&b, regs, dense);
    const struct slice *key = &ctx->argv[1];
    struct kv *dst = ctx_lookup_write(ctx, 1);
    struct kv *nkv = new_raw_kv(key->ptr, key->len, (const uint8_t *)b.ptr, b.len);
    if (dst) {
        nkv->lru = dst->lru;
        db_replace(ctx->db, dst, nkv);
        key_changed(ctx, nkv);
    } else {
        db_add(ctx->eng, ctx->db, nkv);
    }
    NOTIFY_ARG(ctx, NOTIFY_STRING, "pfadd", 1); /* PFMERGE's event, as Redis */
    ctx_dirty(ctx, 1);
    reply_ok(ctx->r);
done:
    buf_release(&b);
    lode_free(regs);
}

/* ---- PFDEBUG, PFSELFTEST ---- */

/* PFDEBUG DECODE: the sparse registers as Redis words them (z:n / Z:n for
 * runs of zero registers up to 64 / longer, v:value,count for runs of equal
 * values). Our layout has no opcodes, so this describes content only. */
static void reply_decode(struct cmd_ctx *ctx, const uint8_t *p, size_t n)
{
    struct buf out = BUF_INIT;
    size_t cnt = (n - HLL_HDR_SIZE) / HLL_ENTRY_SIZE;
    unsigned next = 0; /* first register not described yet */
    for (size_t i = 0; i < cnt;) {
        uint32_t w = entry_word(p + HLL_HDR_SIZE + i * HLL_ENTRY_SIZE);
        unsigned index = w >> 6, val = w & 63, run = 1;
        if (index > next) buf_printf(&out, "%s:%u ", index - next > 64 ? "Z" : "z", index - next);
        while (i + run < cnt) {
            uint32_t w2 = entry_word(p + HLL_HDR_SIZE + (i + run) * HLL_ENTRY_SIZE);
            if ((w2 >> 6) != index + run || (w2 & 63) != val) break;
            run++;
        }
        buf_printf(&out, "v:%u,%u ", val, run);
        next = index + run;
        i += run;
    }
    if (next < HLL_REGISTERS)
        buf_printf(&out, "%s:%u ", HLL_REGISTERS - next > 64 ? "Z" : "z", HLL_REGISTERS - next);
    if (out.len) out.len--; /* the final space */
    buf_append(&out, "", 1);
    reply_status(ctx->r, out.ptr);
    buf_release(&out);
}

void cmd_pfdebug(struct cmd_ctx *ctx)
{
    char tmp[UTIL_LLSTR_SIZE];
    const uint8_t *p;
    size_t n;
    struct kv *kv = ctx_lookup_write(ctx, 2);
    if (!kv) {
        reply_error(ctx->r, "ERR The specified key does not exist");
        return;
    }
    int kind = hll_of(ctx, kv, tmp, &p, &n);
    if (!kind) return;
    bool getreg = arg_is(ctx, 1, "getreg"), todense = arg_is(ctx, 1, "todense");
    if (getreg || todense) {
        bool conv = kind == HLL_SPARSE;
        if (conv) {
            if (hll_validate(p, n) != 0) {
                reply_error(ctx->r, ERR_HLL_CORRUPT);
                return;
            }
            to_dense(ctx, &kv);
            key_changed(ctx, kv);
            ctx_dirty(ctx, 1);
            p = (const uint8_t *)kv_str(kv, tmp, &n);
        }
        if (todense) {
            reply_int(ctx->r, conv);
            return;
        }
        const uint8_t *d = p + HLL_HDR_SIZE;
        reply_array(ctx->r, HLL_REGISTERS);
        for (unsigned i = 0; i < HLL_REGISTERS; i++) reply_int(ctx->r, hll_dense_get(d, i));
    } else if (arg_is(ctx, 1, "decode")) {
        if (kind != HLL_SPARSE) {
            reply_error(ctx->r, "ERR HLL encoding is not sparse");
            return;
        }
        if (hll_validate(p, n) != 0) {
            reply_error(ctx->r, ERR_HLL_CORRUPT);
            return;
        }
        reply_decode(ctx, p, n);
    } else if (arg_is(ctx, 1, "encoding")) {
        reply_status(ctx->r, kind == HLL_DENSE ? "dense" : "sparse");
    } else {
        reply_errorf(ctx->r, "ERR Unknown PFDEBUG subcommand '%.*s'", (int)ctx->argv[1].len,
                     ctx->argv[1].ptr);
    }
}

/* The self test: dense register packing, sparse and dense forms giving
 * the same registers, and the estimate of known cardinalities within 5
 * standard errors. */
int hll_selftest(char *why, size_t whylen)
{
    int rc = -1;
    uint8_t *d = lode_calloc(HLL_DENSE_BYTES);
    uint8_t *regs = lode_calloc(HLL_REGISTERS);
    uint8_t *back = lode_calloc(HLL_REGISTERS);
    struct buf b = BUF_INIT;
    uint64_t x = 0x2545f4914f6cdd1dULL;
    for (unsigned i = 0; i < HLL_REGISTERS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        regs[i] = (uint8_t)(x % (HLL_RANK_MAX + 1));
        dense_put(d, i, regs[i]);
    }
    for (unsigned i = 0; i < HLL_REGISTERS; i++)
        if (hll_dense_get(d, i) != regs[i]) {
            snprintf(why, whylen, "TESTFAILED Register error at %u", i);
            goto out;
        }
    memset(regs, 0, HLL_REGISTERS);
    uint64_t card = 0;
    for (unsigned long long e = 0, next = 10; e < 200000; e++) {
        char s[UTIL_LLSTR_SIZE];
        unsigned index, rank;
        hll_split(hll_hash(s, (size_t)util_ll2str(s, (long long)e)), &index, &rank);
        if (regs[index] < rank) regs[index] = (uint8_t)rank;
        card++;
        if (card != next) continue;
        next *= 10;
        uint64_t est = hll_estimate_regs(regs);
        double err = fabs((double)est - (double)card) / (double)card;
        if (err > 5 * 1.04 / sqrt(HLL_REGISTERS) && fabs((double)est - (double)card) > 1) {
            snprintf(why, whylen, "TESTFAILED Too big error. card:%llu abserr:%f",
                     (unsigned long long)card, err);
            goto out;
        }
        for (int dense = 0; dense <= 1; dense++) {
            build_value(&b, regs, dense);
            memset(back, 0, HLL_REGISTERS);
            if (hll_kind((uint8_t *)b.ptr, b.len) == 0 ||
                hll_merge_regs((uint8_t *)b.ptr, b.len, back) != 0 ||
                memcmp(back, regs, HLL_REGISTERS) != 0) {
                snprintf(why, whylen, "TESTFAILED %s form differs at card %llu",
                         dense ? "dense" : "sparse", (unsigned long long)card);
                goto out;
            }
        }
    }
    rc = 0;
out:
    buf_release(&b);
    lode_free(back);
    lode_free(regs);
    lode_free(d);
    return rc;
}

void cmd_pfselftest(struct cmd_ctx *ctx)
{
    char why[128];
    if (hll_selftest(why, sizeof(why)) == 0)
        reply_ok(ctx->r);
    else
        reply_errorf(ctx->r, "ERR %s", why);
}
