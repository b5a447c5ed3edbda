/*
 * t_bitmap.c - bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
 * BITFIELD and BITFIELD_RO, with Redis 7.0's semantics, replies and error
 * texts.
 *
 * A bitmap is an ordinary string value. Bit 0 is the most significant bit
 * of byte 0 (offset o lives in byte o/8 at mask 0x80 >> o%8), and bits past
 * the end of the string read as 0. Readers take the bytes through kv_str,
 * so every string encoding works (an ENC_INT value is read as its decimal
 * digits, as Redis does). Writers first make the value ENC_RAW and grow it
 * with zero bytes to cover the highest bit they touch (bits_for_write).
 *
 * Limits: a bit offset must satisfy offset/8 < proto-max-bulk-len (512MB by
 * default), so no command can build a string longer than a client could
 * send. BITOP's result is never longer than its longest source.
 *
 * Dirty accounting follows Redis 7.0.15: SETBIT and BITFIELD count a change
 * only when the key was created or grown or a value really changed, BITOP
 * counts one when it stores or deletes the target. One deliberate
 * difference: a BITFIELD whose writes all fail (OVERFLOW FAIL) but which
 * created or grew the key counts one change, because the key did change and
 * the WAL must see it (Redis neither counts nor propagates it).
 *
 * Logging: every write here is `verbatim`. Its outcome depends only on the
 * state and the arguments (integer bit arithmetic; BITFIELD's overflow
 * rules are fixed per op), so replay of the command as received
 * reproduces it; a command that changed nothing is not logged at all.
 */
#include "engine/notify.h"
#include "engine/cmd.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <limits.h>
#include <string.h>

#define ERR_BIT_OFFSET "ERR bit offset is not an integer or out of range"
#define ERR_BIT_VALUE  "ERR bit is not an integer or out of range"
#define ERR_BITPOS_BIT "ERR The bit argument must be 1 or 0."
#define ERR_BITOP_NOT  "ERR BITOP NOT must be called with a single source key."
#define ERR_BF_TYPE                                                                                \
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but "    \
    "i64 is."
#define ERR_BF_OVERFLOW "ERR Invalid OVERFLOW type specified"
#define ERR_BF_RO       "ERR BITFIELD_RO only supports the GET subcommand"

__extension__ typedef __int128 i128;

/* ---- bit helpers ---- */

static inline int bit_at(const uint8_t *p, uint64_t pos)
{
    return (p[pos >> 3] >> (7 - (pos & 7))) & 1;
}

/* Bit pos, or 0 when it lies past the len bytes of p. */
static inline int bit_at_or_zero(const uint8_t *p, size_t len, uint64_t pos)
{
    return (pos >> 3) < len ? bit_at(p, pos) : 0;
}

static inline void bit_put(uint8_t *p, uint64_t pos, int v)
{
    uint8_t mask = (uint8_t)(0x80u >> (pos & 7));
    if (v)
        p[pos >> 3] |= mask;
    else
        p[pos >> 3] &= (uint8_t)~mask;
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof(w));
    return w;
}

/* Set bits in n bytes, a 64-bit word at a time. */
static long long popcount(const uint8_t *p, size_t n)
{
    long long c = 0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        c += __builtin_popcountll(load64(p + i)) + __builtin_popcountll(load64(p + i + 8)) +
             __builtin_popcountll(load64(p + i + 16)) + __builtin_popcountll(load64(p + i + 24));
    for (; i + 8 <= n; i += 8) c += __builtin_popcountll(load64(p + i));
    for (; i < n; i++) c += __builtin_popcount(p[i]);
    return c;
}

/* Set bits in the inclusive bit range [bs, be] of p. */
static long long count_bits(const uint8_t *p, uint64_t bs, uint64_t be)
{
    uint64_t b0 = bs >> 3, b1 = be >> 3;
    long long n = popcount(p + b0, b1 - b0 + 1);
    /* drop the bits of the edge bytes that lie outside the range */
    n -= __builtin_popcount(p[b0] & ~(0xFFu >> (bs & 7)) & 0xFFu);
    n -= __builtin_popcount(p[b1] & (0xFFu >> ((be & 7) + 1)));
    return n;
}

/* First bit equal to bit in the inclusive range [bs, be] of p, or -1. */
static long long find_bit(const uint8_t *p, uint64_t bs, uint64_t be, int bit)
{
    uint64_t pos = bs;
    for (; pos <= be && (pos & 7); pos++)
        if (bit_at(p, pos) == bit) return (long long)pos;
    if (pos <= be) {
        /* whole bytes [b, end): skip those without a candidate, a word at a
         * time; the loop below then finds the bit inside the stopping byte */
        const uint8_t skip = bit ? 0x00 : 0xFF;
        const uint64_t skipw = bit ? 0 : UINT64_MAX;
        uint64_t b = pos >> 3, end = (be + 1) >> 3;
        while (b + 8 <= end && load64(p + b) == skipw) b += 8;
        while (b < end && p[b] == skip) b++;
        pos = b << 3;
    }
    for (; pos <= be; pos++)
        if (bit_at(p, pos) == bit) return (long long)pos;
    return -1;
}

/* ---- argument parsing ---- */

/* Parses a bit offset. With hash (BITFIELD), "#n" means n * bits. Replies
 * and returns false when it is not an integer, negative, or beyond
 * proto-max-bulk-len bytes. */
static bool arg_bit_offset(struct cmd_ctx *ctx, int i, bool hash, int bits, uint64_t *out)
{
    const struct slice *a = &ctx->argv[i];
    size_t skip = (hash && bits > 0 && a->len > 0 && a->ptr[0] == '#') ? 1 : 0;
    long long v;
    if (!util_str2ll(a->ptr + skip, a->len - skip, &v)) goto bad;
    /* Redis multiplies in 64-bit two's complement; wrap the same way */
    if (skip) v = (long long)((unsigned long long)v * (unsigned long long)bits);
    if (v < 0 || (v >> 3) >= ctx->eng->proto_max_bulk_len) goto bad;
    *out = (uint64_t)v;
    return true;
bad:
    reply_error(ctx->r, ERR_BIT_OFFSET);
    return false;
}

/* Parses a BITFIELD type: i1..i64 or u1..u63 (case-insensitive prefix).
 * Like Redis, the width is read up to the first NUL byte. */
static bool arg_bitfield_type(struct cmd_ctx *ctx, int i, bool *sign, int *bits)
{
    const struct slice *a = &ctx->argv[i];
    long long v;
    if (a->len == 0) goto bad;
    char c = a->ptr[0];
    if (c == 'i' || c == 'I')
        *sign = true;
    else if (c == 'u' || c == 'U')
        *sign = false;
    else
        goto bad;
    const char *nul = memchr(a->ptr + 1, '\0', a->len - 1);
    size_t n = nul ? (size_t)(nul - (a->ptr + 1)) : a->len - 1;
    if (!util_str2ll(a->ptr + 1, n, &v) || v < 1 || v > (*sign ? 64 : 63)) goto bad;
    *bits = (int)v;
    return true;
bad:
    reply_error(ctx->r, ERR_BF_TYPE);
    return false;
}

/* ---- string access ---- */

/* Tells the key hooks (WATCH, checkpoint dirty set) that argv[i] changed in
 * place; db_add/db_set/db_delete do this themselves. */
static void key_changed(struct cmd_ctx *ctx, int i)
{
    db_key_changed(ctx->eng, ctx->db, ctx->argv[i].ptr, ctx->argv[i].len);
}

/* The string at argv[1], ready to be written up to bit maxbit: created
 * empty when absent, made ENC_RAW, and grown with zero bytes to cover
 * maxbit. *grown says whether the key was created or lengthened. Returns
 * NULL after replying WRONGTYPE. The buffer is borrowed until the key next
 * changes. */
static struct rawstr *bits_for_write(struct cmd_ctx *ctx, uint64_t maxbit, bool *grown)
{
    size_t need = (size_t)(maxbit >> 3) + 1;
    struct kv *kv = ctx_lookup_write(ctx, 1);
    *grown = false;
    if (!kv) {
        kv = kv_new_str(ctx->argv[1].ptr, ctx->argv[1].len, "", 0);
        db_add(ctx->eng, ctx->db, kv);
        *grown = true;
    } else if (ctx_wrongtype(ctx, kv, OBJ_STRING)) {
        return NULL;
    }
    size_t len = kv_strlen(kv);
    struct rawstr *s = db_str_make_raw(ctx->db, &kv, need > len ? need : len);
    if (s->len < need) {
        memset(s->data + s->len, 0, need - s->len);
        s->len = need;
        *grown = true;
    }
    return s;
}

/* ---- SETBIT / GETBIT ---- */

void cmd_setbit(struct cmd_ctx *ctx)
{
    uint64_t off;
    long long on;
    bool grown;
    if (!arg_bit_offset(ctx, 2, false, 0, &off)) return;
    if (!arg_ll(ctx, 3, &on, ERR_BIT_VALUE)) return;
    if (on & ~1LL) {
        reply_error(ctx->r, ERR_BIT_VALUE);
        return;
    }
    struct rawstr *s = bits_for_write(ctx, off, &grown);
    if (!s) return;
    uint8_t *p = (uint8_t *)s->data;
    int old = bit_at(p, off);
    if (grown || old != on) {
        bit_put(p, off, (int)on);
        key_changed(ctx, 1);
        ctx_dirty(ctx, 1);
    }
    NOTIFY_ARG(ctx, NOTIFY_STRING, "setbit", 1); /* even when unchanged, as Redis 7.0 */
    reply_int(ctx->r, old);
}

/* The bytes of the string at argv[1] for a read. Returns false after
 * replying: 0 for a missing key (as GETBIT/BITCOUNT answer), WRONGTYPE for
 * another type. tmp holds an integer's digits. */
static bool read_bytes(struct cmd_ctx *ctx, char *tmp, const uint8_t **p, size_t *len)
{
    struct kv *kv = ctx_lookup_read(ctx, 1);
    if (!kv) {
        reply_int(ctx->r, 0);
        return false;
    }
    if (ctx_wrongtype(ctx, kv, OBJ_STRING)) return false;
    *p = (const uint8_t *)kv_str(kv, tmp, len);
    return true;
}

void cmd_getbit(struct cmd_ctx *ctx)
{
    uint64_t off;
    if (!arg_bit_offset(ctx, 2, false, 0, &off)) return;
    char tmp[UTIL_LLSTR_SIZE];
    size_t len;
    const uint8_t *p;
    if (!read_bytes(ctx, tmp, &p, &len)) return;
    reply_int(ctx->r, bit_at_or_zero(p, len, off));
}

/* ---- BITCOUNT / BITPOS ---- */

/* Turns a start/end pair (bytes, or bits when isbit; negative counts from
 * the end) into an inclusive bit range over a string of len bytes. Returns
 * false when the range is empty. */
static bool clip_range(long long start, long long end, bool isbit, size_t len, uint64_t *bs,
                       uint64_t *be)
{
    long long total = isbit ? (long long)len * 8 : (long long)len;
    if (start < 0) start += total;
    if (end < 0) end += total;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= total) end = total - 1;
    if (start > end) return false;
    *bs = isbit ? (uint64_t)start : (uint64_t)start * 8;
    *be = isbit ? (uint64_t)end : (uint64_t)end * 8 + 7;
    return true;
}

/* Parses a BYTE|BIT unit argument; replies a syntax error on anything else. */
static bool arg_unit(struct cmd_ctx *ctx, int i, bool *isbit)
{
    if (arg_is(ctx, i, "bit")) {
        *isbit = true;
    } else if (arg_is(ctx, i, "byte")) {
        *isbit = false;
    } else {
        reply_error(ctx->r, ERR_SYNTAX);
        return false;
    }
    return true;
}

/* BITCOUNT key [start end [BYTE|BIT]]. As in Redis 7.0 the key is looked up
 * before the arguments are parsed, so a missing key answers 0 whatever
 * follows it. */
void cmd_bitcount(struct cmd_ctx *ctx)
{
    char tmp[UTIL_LLSTR_SIZE];
    size_t len;
    const uint8_t *p;
    if (!read_bytes(ctx, tmp, &p, &len)) return;
    long long start = 0, end = (long long)len - 1;
    bool isbit = false;
    uint64_t bs, be;
    if (ctx->argc == 4 || ctx->argc == 5) {
        if (!arg_ll(ctx, 2, &start, NULL) || !arg_ll(ctx, 3, &end, NULL)) return;
        if (ctx->argc == 5 && !arg_unit(ctx, 4, &isbit)) return;
        /* both counted from the end and crossed: empty even if clipping
         * would map both to the first position */
        if (start < 0 && end < 0 && start > end) {
            reply_int(ctx->r, 0);
            return;
        }
    } else if (ctx->argc != 2) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    if (!clip_range(start, end, isbit, len, &bs, &be)) {
        reply_int(ctx->r, 0);
        return;
    }
    reply_int(ctx->r, count_bits(p, bs, be));
}

/* BITPOS key bit [start [end [BYTE|BIT]]]. The bit is parsed first, then a
 * missing key answers at once (an endless run of zeros); the unit is
 * checked before the end. */
void cmd_bitpos(struct cmd_ctx *ctx)
{
    long long bit;
    if (!arg_ll(ctx, 2, &bit, NULL)) return;
    if (bit != 0 && bit != 1) {
        reply_error(ctx->r, ERR_BITPOS_BIT);
        return;
    }
    struct kv *kv = ctx_lookup_read(ctx, 1);
    if (!kv) {
        reply_int(ctx->r, bit ? -1 : 0);
        return;
    }
    if (ctx_wrongtype(ctx, kv, OBJ_STRING)) return;
    char tmp[UTIL_LLSTR_SIZE];
    size_t len;
    const uint8_t *p = (const uint8_t *)kv_str(kv, tmp, &len);
    long long start = 0, end = (long long)len - 1;
    bool isbit = false, end_given = false;
    uint64_t bs, be;
    if (ctx->argc >= 4 && ctx->argc <= 6) {
        if (!arg_ll(ctx, 3, &start, NULL)) return;
        if (ctx->argc == 6 && !arg_unit(ctx, 5, &isbit)) return;
        if (ctx->argc >= 5) {
            if (!arg_ll(ctx, 4, &end, NULL)) return;
            end_given = true;
        }
    } else if (ctx->argc != 3) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    if (!clip_range(start, end, isbit, len, &bs, &be)) {
        reply_int(ctx->r, -1);
        return;
    }
    long long pos = find_bit(p, bs, be, (int)bit);
    /* looking for a 0 without an explicit end: the string continues with
     * zeros to the right, so the first one is just past the range */
    if (pos < 0 && bit == 0 && !end_given) pos = (long long)be + 1;
    reply_int(ctx->r, pos);
}

/* ---- BITOP ---- */

enum bitop { BITOP_AND, BITOP_OR, BITOP_XOR, BITOP_NOT };

/* Combines src (n bytes) into dst (n bytes) with op, a word at a time. */
static void bitop_combine(uint8_t *dst, const uint8_t *src, size_t n, int op)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t a = load64(dst + i), b = load64(src + i);
        a = op == BITOP_AND ? a & b : op == BITOP_OR ? a | b : a ^ b;
        memcpy(dst + i, &a, sizeof(a));
    }
    for (; i < n; i++) {
        uint8_t b = src[i];
        dst[i] = op == BITOP_AND ? dst[i] & b : op == BITOP_OR ? dst[i] | b : dst[i] ^ b;
    }
}

/* BITOP op destkey key [key ...]. Missing sources are empty strings, which
 * are zero-padded like every shorter source to the longest one; the result
 * replaces destkey (dropping its TTL), or deletes it when every source is
 * empty. Replies the result length. */
void cmd_bitop(struct cmd_ctx *ctx)
{
    int op;
    if (arg_is(ctx, 1, "and"))
        op = BITOP_AND;
    else if (arg_is(ctx, 1, "or"))
        op = BITOP_OR;
    else if (arg_is(ctx, 1, "xor"))
        op = BITOP_XOR;
    else if (arg_is(ctx, 1, "not"))
        op = BITOP_NOT;
    else {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    if (op == BITOP_NOT && ctx->argc != 4) {
        reply_error(ctx->r, ERR_BITOP_NOT);
        return;
    }

    /* Look every source up (and type-check it) before building anything. */
    int nsrc = ctx->argc - 3;
    struct kv **src = lode_malloc(sizeof(*src) * (size_t)nsrc);
    size_t maxlen = 0;
    for (int j = 0; j < nsrc; j++) {
        src[j] = ctx_lookup_read(ctx, 3 + j);
        if (src[j] && ctx_wrongtype(ctx, src[j], OBJ_STRING)) goto out;
        if (src[j] && kv_strlen(src[j]) > maxlen) maxlen = kv_strlen(src[j]);
    }

    const struct slice *dk = &ctx->argv[2];
    if (maxlen == 0) {
        if (db_delete(ctx->eng, ctx->db, dk->ptr, dk->len)) {
            NOTIFY_ARG(ctx, NOTIFY_GENERIC, "del", 2);
            ctx_dirty(ctx, 1);
        }
        reply_int(ctx->r, 0);
        goto out;
    }

    /* Build the result in a fresh RAW entry (Redis stores it raw too); the
     * sources stay valid because nothing is stored until the end. */
    struct kv *empty = kv_new_str(dk->ptr, dk->len, "", 0);
    struct kv *res = kv_to_raw(empty, maxlen);
    kv_free(empty);
    struct rawstr *rs = res->v.ptr;
    uint8_t *out = (uint8_t *)rs->data;
    char tmp[UTIL_LLSTR_SIZE];
    size_t len;
    for (int j = 0; j < nsrc; j++) {
        const uint8_t *p = src[j] ? (const uint8_t *)kv_str(src[j], tmp, &len) : NULL;
        if (!p) len = 0;
        if (j == 0) {
            if (len) memcpy(out, p, len);
            memset(out + len, 0, maxlen - len);
            if (op == BITOP_NOT)
                for (size_t i = 0; i < maxlen; i++) out[i] = (uint8_t)~out[i];
            continue;
        }
        if (len) bitop_combine(out, p, len, op);
        /* the source's zero padding clears the rest under AND and leaves it
         * unchanged under OR and XOR */
        if (op == BITOP_AND) memset(out + len, 0, maxlen - len);
    }
    rs->len = maxlen;
    db_set(ctx->eng, ctx->db, res, false);
    NOTIFY_ARG(ctx, NOTIFY_STRING, "set", 2);
    ctx_dirty(ctx, 1);
    reply_int(ctx->r, (long long)maxlen);
out:
    lode_free(src);
}

/* ---- BITFIELD ---- */

enum bf_opcode { BF_GET, BF_SET, BF_INCRBY };
enum bf_overflow { BF_WRAP, BF_SAT, BF_FAIL };

struct bf_op {
    uint64_t offset; /* first bit */
    long long arg;   /* SET value or INCRBY increment */
    int opcode;      /* enum bf_opcode */
    int overflow;    /* enum bf_overflow in force for this op */
    int bits;        /* width, 1..64 */
    bool sign;
};

/* The bits-wide field at bit off of p (len bytes; bits past the end read
 * as 0), sign-extended for signed fields. */
static uint64_t bf_read(const uint8_t *p, size_t len, uint64_t off, int bits, bool sign)
{
    uint64_t v = 0;
    for (int i = 0; i < bits; i++) v = (v << 1) | (uint64_t)bit_at_or_zero(p, len, off + i);
    if (sign && bits < 64 && (v >> (bits - 1)) & 1) v |= UINT64_MAX << bits;
    return v;
}

/* Stores the low bits of v at bit off of p, which must be long enough. */
static void bf_write(uint8_t *p, uint64_t off, int bits, uint64_t v)
{
    for (int i = 0; i < bits; i++) bit_put(p, off + i, (int)((v >> (bits - 1 - i)) & 1));
}

/* Fits the exact value want into the field of op. Returns false when it
 * does not fit and the overflow mode is FAIL; otherwise *store gets the
 * value to write (wrapped modulo 2^bits, or saturated) and *reply the same
 * value as the field reads back. */
static bool bf_fit(const struct bf_op *op, i128 want, uint64_t *store, long long *reply)
{
    i128 min = op->sign ? -((i128)1 << (op->bits - 1)) : 0;
    i128 max = op->sign ? ((i128)1 << (op->bits - 1)) - 1 : ((i128)1 << op->bits) - 1;
    i128 v = want;
    if (want < min || want > max) {
        if (op->overflow == BF_FAIL) return false;
        if (op->overflow == BF_SAT) {
            bool high = want > max;
            /* Redis 7.0 computes max - value in 64 bits: for a signed SET
             * so far below the range that this exceeds INT64_MAX, the
             * result wraps negative and the value is taken for a positive
             * overflow, so SAT stores max. Reproduced for compatibility. */
            if (op->sign && op->opcode == BF_SET && op->bits < 64 && max - want > INT64_MAX)
                high = true;
            v = high ? max : min;
        } else {
            uint64_t low = (uint64_t)want;
            if (op->bits < 64) low &= ~(UINT64_MAX << op->bits);
            v = low;
            if (op->sign && (low >> (op->bits - 1)) & 1) v = (i128)low - ((i128)1 << op->bits);
        }
    }
    *store = (uint64_t)v;
    *reply = (long long)v;
    return true;
}

/* Parses the BITFIELD arguments into ops (owned by the caller, free with
 * lode_free). Returns the number of ops, or -1 after replying an error.
 * *readonly says whether every op is a GET; *maxbit is the highest bit
 * a SET or INCRBY touches. */
static int bf_parse(struct cmd_ctx *ctx, struct bf_op **ops, bool *readonly, uint64_t *maxbit)
{
    int n = 0, overflow = BF_WRAP;
    *ops = NULL;
    *readonly = true;
    *maxbit = 0;
    for (int j = 2; j < ctx->argc; j++) {
        int left = ctx->argc - j - 1;
        struct bf_op op = {0};
        if (arg_is(ctx, j, "get") && left >= 2) {
            op.opcode = BF_GET;
        } else if (arg_is(ctx, j, "set") && left >= 3) {
            op.opcode = BF_SET;
        } else if (arg_is(ctx, j, "incrby") && left >= 3) {
            op.opcode = BF_INCRBY;
        } else if (arg_is(ctx, j, "overflow") && left >= 1) {
            j++;
            if (arg_is(ctx, j, "wrap")) {
                overflow = BF_WRAP;
            } else if (arg_is(ctx, j, "sat")) {
                overflow = BF_SAT;
            } else if (arg_is(ctx, j, "fail")) {
                overflow = BF_FAIL;
            } else {
                reply_error(ctx->r, ERR_BF_OVERFLOW);
                return -1;
            }
            continue;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return -1;
        }
        if (!arg_bitfield_type(ctx, j + 1, &op.sign, &op.bits)) return -1;
        if (!arg_bit_offset(ctx, j + 2, true, op.bits, &op.offset)) return -1;
        if (op.opcode != BF_GET) {
            *readonly = false;
            if (op.offset + (uint64_t)op.bits - 1 > *maxbit)
                *maxbit = op.offset + (uint64_t)op.bits - 1;
            if (!arg_ll(ctx, j + 3, &op.arg, NULL)) return -1;
        }
        op.overflow = overflow;
        if (n % 8 == 0) *ops = lode_realloc(*ops, sizeof(**ops) * (size_t)(n + 8));
        (*ops)[n++] = op;
        j += op.opcode == BF_GET ? 2 : 3;
    }
    return n;
}

/* Runs one SET or INCRBY on s and replies its result (the old value for
 * SET, the new one for INCRBY, nil when OVERFLOW FAIL refused it). Returns
 * whether the op counts as a change. */
static bool bf_apply(struct cmd_ctx *ctx, const struct bf_op *op, struct rawstr *s, bool grown)
{
    uint8_t *p = (uint8_t *)s->data;
    uint64_t raw = bf_read(p, s->len, op->offset, op->bits, op->sign);
    /* the exact (unbounded) value to store: unsigned SET takes its argument
     * as a 64-bit unsigned pattern, as Redis does (so -1 overflows high) */
    i128 old = op->sign ? (i128)(int64_t)raw : (i128)raw;
    i128 want;
    if (op->opcode == BF_INCRBY)
        want = old + op->arg;
    else
        want = op->sign ? (i128)op->arg : (i128)(uint64_t)op->arg;
    uint64_t store;
    long long now;
    if (!bf_fit(op, want, &store, &now)) {
        reply_null(ctx->r);
        return false;
    }
    bf_write(p, op->offset, op->bits, store);
    reply_int(ctx->r, op->opcode == BF_INCRBY ? now : (long long)old);
    return grown || (i128)now != old;
}

/* BITFIELD and BITFIELD_RO. All arguments are validated before anything is
 * looked up or written; a write grows the string to its highest bit first,
 * then the ops run in order (a GET sees the writes before it). */
static void bitfield(struct cmd_ctx *ctx, bool ro_command)
{
    struct bf_op *ops;
    bool readonly, grown = false;
    uint64_t maxbit;
    int n = bf_parse(ctx, &ops, &readonly, &maxbit);
    if (n < 0) goto out;

    struct kv *kv = NULL;
    struct rawstr *s = NULL;
    if (readonly) {
        kv = ctx_lookup_read(ctx, 1);
        if (kv && ctx_wrongtype(ctx, kv, OBJ_STRING)) goto out;
    } else if (ro_command) {
        reply_error(ctx->r, ERR_BF_RO);
        goto out;
    } else {
        s = bits_for_write(ctx, maxbit, &grown);
        if (!s) goto out;
    }

    long long changes = 0;
    reply_array(ctx->r, n);
    for (int j = 0; j < n; j++) {
        const struct bf_op *op = &ops[j];
        if (op->opcode != BF_GET) {
            if (bf_apply(ctx, op, s, grown)) changes++;
            continue;
        }
        char tmp[UTIL_LLSTR_SIZE];
        size_t len = 0;
        const uint8_t *p = NULL;
        if (s) {
            p = (const uint8_t *)s->data;
            len = s->len;
        } else if (kv) {
            p = (const uint8_t *)kv_str(kv, tmp, &len);
        }
        uint64_t v = bf_read(p, len, op->offset, op->bits, op->sign);
        reply_int(ctx->r, (long long)v);
    }
    /* a created or grown key is a change even when every write failed */
    if (changes == 0 && grown) changes = 1;
    if (changes) {
        key_changed(ctx, 1);
        NOTIFY_ARG(ctx, NOTIFY_STRING, "setbit", 1);
        ctx_dirty(ctx, changes);
    }
out:
    lode_free(ops);
}

void cmd_bitfield(struct cmd_ctx *ctx)
{
    bitfield(ctx, false);
}

void cmd_bitfield_ro(struct cmd_ctx *ctx)
{
    bitfield(ctx, true);
}
