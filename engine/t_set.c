/*
 * t_set.c - the set type and its commands: SADD SREM SMEMBERS SISMEMBER
 * SMISMEMBER SCARD SPOP SRANDMEMBER SMOVE SINTER SINTERCARD SINTERSTORE
 * SUNION SUNIONSTORE SDIFF SDIFFSTORE SSCAN.
 *
 * Encodings (t_set.h): an intset while every member is a canonical integer
 * and there are at most lim.set_max_intset_entries of them, else a hash
 * table of members. The conversion happens on the add that breaks either
 * rule, and a set never converts back in place, as in Redis 7.0 (which
 * has no listpack sets). The same rules decide the encoding of computed
 * sets: a STORE result (and the survivors of a large SPOP) starts as an
 * empty intset and receives its members by adds, so
 * OBJECT ENCODING matches Redis for every command, including SDIFFSTORE,
 * whose result depends on which of Redis's two difference strategies runs
 * (the same cost rule chooses it here).
 *
 * Hash-table members: one allocation each, struct smember: the chain link,
 * a length byte (or 255 and a u32 length) and the bytes. The element hash
 * is recomputed from the bytes when the table rehashes, so a member costs
 * its allocation plus a bucket slot (about 32 bytes for a 13-byte member,
 * where Redis spends about 57).
 *
 * Randomness: SRANDMEMBER and SPOP follow Redis's documented strategies
 * (negative count: independent draws; count >= size: the whole set; a
 * count close to the size: sample from a full list of members; otherwise
 * repeated draws skipping duplicates). A random hash-table member is drawn
 * uniformly (dict_random_fair), where Redis samples a run of buckets and
 * leans towards members after empty runs.
 *
 * Logging: SPOP is declared "rewrite" and emits SREM key <the members it
 * popped>, or DEL key when it emptied the set, or (when it rebuilt the set
 * from its few survivors) DEL + SADD of the survivors + PEXPIREAT of the
 * TTL; replay then reproduces the same state, encoding included, without
 * drawing random numbers. Every other write here is
 * "verbatim": its effect depends only on the state and its arguments.
 */
#include "engine/notify.h"
#include "engine/t_set.h"
#include "engine/cmd.h"
#include "engine/digest.h"
#include "engine/lode.h"
#include "engine/serialize.h"
#include "engine/util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* On-disk encodings of SER_TYPE_SET (docs/checkpoint-format.md, "Sets");
 * never renumbered. */
enum { SER_SET_INTSET = 1, SER_SET_HT = 2 };

/* SPOP with a count pops one member at a time while the members left
 * behind outnumber the popped ones this many times over; otherwise it
 * picks the survivors instead (Redis's SPOP_MOVE_STRATEGY_MUL). */
#define SPOP_MOVE_MUL 5
/* SRANDMEMBER with a count above size / this samples a full member list
 * (Redis's SRANDMEMBER_SUB_STRATEGY_MUL). */
#define SRAND_SUB_MUL 3

/* ---------------------------------------------------------------- intset */

struct intset {
    uint32_t n;           /* members */
    uint8_t width;        /* bytes per member: 2, 4 or 8 */
    uint8_t pad[3];       /* zero */
    unsigned char data[]; /* n members ascending, native byte order */
};

static unsigned width_for(long long v)
{
    if (v >= INT16_MIN && v <= INT16_MAX) return 2;
    if (v >= INT32_MIN && v <= INT32_MAX) return 4;
    return 8;
}

static long long is_get_w(const unsigned char *data, unsigned w, uint32_t i)
{
    if (w == 2) {
        int16_t x;
        memcpy(&x, data + 2 * (size_t)i, 2);
        return x;
    }
    if (w == 4) {
        int32_t x;
        memcpy(&x, data + 4 * (size_t)i, 4);
        return x;
    }
    int64_t x;
    memcpy(&x, data + 8 * (size_t)i, 8);
    return x;
}

static void is_set_w(unsigned char *data, unsigned w, uint32_t i, long long v)
{
    if (w == 2) {
        int16_t x = (int16_t)v;
        memcpy(data + 2 * (size_t)i, &x, 2);
    } else if (w == 4) {
        int32_t x = (int32_t)v;
        memcpy(data + 4 * (size_t)i, &x, 4);
    } else {
        int64_t x = v;
        memcpy(data + 8 * (size_t)i, &x, 8);
    }
}

static inline long long is_get(const struct intset *is, uint32_t i)
{
    return is_get_w(is->data, is->width, i);
}

static size_t is_bytes(uint32_t n, unsigned w)
{
    return sizeof(struct intset) + (size_t)n * w;
}

static struct intset *is_new(unsigned w, uint32_t n)
{
    struct intset *is = lode_malloc(is_bytes(n, w));
    is->n = n;
    is->width = (uint8_t)w;
    memset(is->pad, 0, sizeof(is->pad));
    return is;
}

/* Binary search: true with *pos = v's index when present, else false with
 * *pos = where v would go. */
static bool is_search(const struct intset *is, long long v, uint32_t *pos)
{
    uint32_t lo = 0, hi = is->n;
    if (hi == 0 || v < is_get(is, 0)) {
        *pos = 0;
        return false;
    }
    if (v > is_get(is, hi - 1)) {
        *pos = hi;
        return false;
    }
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        long long m = is_get(is, mid);
        if (m == v) {
            *pos = mid;
            return true;
        }
        if (m < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return false;
}

static bool is_has(const struct intset *is, long long v)
{
    uint32_t pos;
    return width_for(v) <= is->width && is_search(is, v, &pos);
}

/* Adds v; returns the (possibly moved) intset, *added says whether v was new. */
static struct intset *is_add(struct intset *is, long long v, bool *added)
{
    unsigned w = width_for(v);
    if (w > is->width) {
        /* v does not fit the current width, so it lies outside the range of
         * every member: it becomes the first (negative) or the last one */
        struct intset *n = is_new(w, is->n + 1);
        uint32_t shift = v < 0 ? 1 : 0;
        for (uint32_t i = 0; i < is->n; i++) is_set_w(n->data, w, i + shift, is_get(is, i));
        is_set_w(n->data, w, v < 0 ? 0 : is->n, v);
        lode_free(is);
        *added = true;
        return n;
    }
    uint32_t pos;
    if (is_search(is, v, &pos)) {
        *added = false;
        return is;
    }
    w = is->width;
    is = lode_realloc(is, is_bytes(is->n + 1, w));
    memmove(is->data + (size_t)(pos + 1) * w, is->data + (size_t)pos * w,
            (size_t)(is->n - pos) * w);
    is_set_w(is->data, w, pos, v);
    is->n++;
    *added = true;
    return is;
}

/* Removes v; returns the (possibly moved) intset. */
static struct intset *is_remove(struct intset *is, long long v, bool *removed)
{
    uint32_t pos;
    *removed = false;
    if (width_for(v) > is->width || !is_search(is, v, &pos)) return is;
    unsigned w = is->width;
    memmove(is->data + (size_t)pos * w, is->data + (size_t)(pos + 1) * w,
            (size_t)(is->n - pos - 1) * w);
    is->n--;
    *removed = true;
    return lode_realloc(is, is_bytes(is->n, w));
}

/* ------------------------------------------------------------- hashtable */

/* A member: one allocation. tag < SM_LONG is the length and the bytes
 * follow; tag == SM_LONG: a u32 length (native order) then the bytes. */
struct smember {
    struct dnode node; /* chain link: must stay first */
    uint8_t tag;
    char rest[];
};
#define SM_LONG 255

struct hset {
    struct dict d;     /* struct smember elements, owned */
    size_t node_bytes; /* usable bytes of all members (MEMORY USAGE) */
};

static inline const char *sm_bytes(const struct smember *m, size_t *len)
{
    if (m->tag != SM_LONG) {
        *len = m->tag;
        return m->rest;
    }
    uint32_t l;
    memcpy(&l, m->rest, 4);
    *len = l;
    return m->rest + 4;
}

static struct smember *sm_new(const char *s, size_t len)
{
    lode_assert(len <= UINT32_MAX);
    bool longer = len >= SM_LONG;
    struct smember *m = lode_malloc(offsetof(struct smember, rest) + (longer ? 4 : 0) + len);
    m->node.next = NULL;
    char *p = m->rest;
    if (longer) {
        uint32_t l = (uint32_t)len;
        m->tag = SM_LONG;
        memcpy(p, &l, 4);
        p += 4;
    } else {
        m->tag = (uint8_t)len;
    }
    if (len) memcpy(p, s, len);
    return m;
}

static uint64_t sm_hash_node(const struct dnode *n)
{
    size_t len;
    const char *s = sm_bytes((const struct smember *)n, &len);
    return util_hash(s, len);
}

static bool sm_match(const struct dnode *n, const void *key, size_t len)
{
    size_t l;
    const char *s = sm_bytes((const struct smember *)n, &l);
    return l == len && (len == 0 || memcmp(s, key, len) == 0);
}

static const struct dict_type set_dict_type = {sm_hash_node, sm_match};

static struct hset *hs_new(void)
{
    struct hset *hs = lode_malloc(sizeof(*hs));
    dict_init(&hs->d, &set_dict_type);
    hs->node_bytes = 0;
    return hs;
}

static void free_member(struct dnode *n, void *priv)
{
    (void)priv;
    lode_free(n);
}

static void hs_free(struct hset *hs)
{
    dict_drain(&hs->d, free_member, NULL);
    lode_free(hs);
}

static bool hs_has(struct hset *hs, const char *s, size_t len)
{
    return dict_find(&hs->d, s, len, util_hash(s, len)) != NULL;
}

static bool hs_add(struct hset *hs, const char *s, size_t len)
{
    uint64_t h = util_hash(s, len);
    if (dict_find(&hs->d, s, len, h)) return false;
    struct smember *m = sm_new(s, len);
    hs->node_bytes += lode_usable(m);
    dict_add(&hs->d, &m->node, h);
    return true;
}

static bool hs_remove(struct hset *hs, const char *s, size_t len)
{
    struct dnode *n = dict_unlink(&hs->d, s, len, util_hash(s, len));
    if (!n) return false;
    hs->node_bytes -= lode_usable(n);
    lode_free(n);
    dict_maybe_shrink(&hs->d);
    return true;
}

/* A uniformly random member (the set is not empty). */
static struct smember *hs_random(struct hset *hs)
{
    return (struct smember *)dict_random_fair(&hs->d);
}

/* ------------------------------------------------- the set behind a kv */

static size_t set_size(const struct kv *kv)
{
    if (kv->enc == SET_ENC_INTSET) return ((const struct intset *)kv->v.ptr)->n;
    return dict_size(&((const struct hset *)kv->v.ptr)->d);
}

/* An empty set value of encoding enc. */
static void *set_new_value(int enc)
{
    return enc == SET_ENC_INTSET ? (void *)is_new(2, 0) : (void *)hs_new();
}

/* A new empty set entry (not in any table) in the encoding Redis creates
 * for a set whose first member is <s, len> (s NULL: an intset). */
static struct kv *set_new_kv(const char *key, size_t klen, const char *s, size_t len)
{
    long long v;
    int enc = !s || util_str2ll(s, len, &v) ? SET_ENC_INTSET : SET_ENC_HT;
    return kv_new_obj(key, klen, OBJ_SET, enc, set_new_value(enc));
}

static void set_convert_to_ht(struct kv *kv)
{
    struct intset *is = kv->v.ptr;
    struct hset *hs = hs_new();
    char tmp[UTIL_LLSTR_SIZE];
    for (uint32_t i = 0; i < is->n; i++) {
        int n = util_ll2str(tmp, is_get(is, i));
        hs_add(hs, tmp, (size_t)n);
    }
    lode_free(is);
    kv->v.ptr = hs;
    kv->enc = SET_ENC_HT;
}

/* Membership; v is <s, len> as an integer when isint. */
static bool set_has2(struct kv *kv, const char *s, size_t len, bool isint, long long v)
{
    if (kv->enc == SET_ENC_INTSET) {
        if (!isint && !util_str2ll(s, len, &v)) return false;
        return is_has(kv->v.ptr, v);
    }
    return hs_has(kv->v.ptr, s, len);
}

static bool set_has(struct kv *kv, const char *s, size_t len)
{
    return set_has2(kv, s, len, false, 0);
}

/* Adds a member, converting the encoding as Redis does. */
static bool set_add(const struct engine_limits *lim, struct kv *kv, const char *s, size_t len)
{
    if (kv->enc == SET_ENC_INTSET) {
        long long v;
        if (util_str2ll(s, len, &v)) {
            bool added;
            struct intset *is = is_add(kv->v.ptr, v, &added);
            kv->v.ptr = is;
            if (added && (long long)is->n > lim->set_max_intset_entries) set_convert_to_ht(kv);
            return added;
        }
        set_convert_to_ht(kv);
    }
    return hs_add(kv->v.ptr, s, len);
}

static bool set_remove(struct kv *kv, const char *s, size_t len)
{
    if (kv->enc == SET_ENC_INTSET) {
        long long v;
        bool removed = false;
        if (util_str2ll(s, len, &v)) kv->v.ptr = is_remove(kv->v.ptr, v, &removed);
        return removed;
    }
    return hs_remove(kv->v.ptr, s, len);
}

/* Walks the members: intsets in ascending order, tables in bucket order.
 * The set must not change during the walk (other sets may). */
struct set_iter {
    struct kv *kv;
    uint32_t i;
    struct dict_iter di;
    char tmp[UTIL_LLSTR_SIZE];
};

static void set_iter_init(struct set_iter *it, struct kv *kv)
{
    it->kv = kv;
    it->i = 0;
    if (kv->enc == SET_ENC_HT) dict_iter_init(&it->di, &((struct hset *)kv->v.ptr)->d);
}

/* The next member as bytes (borrowed until the next call), and as an
 * integer when it came from an intset (*isint). False at the end. */
static bool set_iter_next(struct set_iter *it, const char **s, size_t *len, bool *isint,
                          long long *v)
{
    if (it->kv->enc == SET_ENC_INTSET) {
        const struct intset *is = it->kv->v.ptr;
        if (it->i >= is->n) return false;
        *v = is_get(is, it->i++);
        *len = (size_t)util_ll2str(it->tmp, *v);
        *s = it->tmp;
        *isint = true;
        return true;
    }
    struct dnode *n = dict_iter_next(&it->di);
    if (!n) return false;
    *s = sm_bytes((const struct smember *)n, len);
    *isint = false;
    return true;
}

static void set_iter_release(struct set_iter *it)
{
    if (it->kv->enc == SET_ENC_HT) dict_iter_release(&it->di);
}

/* A handle on one member: an intset index or a table member's address. */
typedef uint64_t set_handle;

static set_handle set_random(struct kv *kv)
{
    if (kv->enc == SET_ENC_INTSET) return util_rand_below(((struct intset *)kv->v.ptr)->n);
    return (set_handle)(uintptr_t)hs_random(kv->v.ptr);
}

/* The bytes of the member h names (tmp: UTIL_LLSTR_SIZE bytes). */
static const char *set_handle_str(const struct kv *kv, set_handle h, char *tmp, size_t *len)
{
    if (kv->enc == SET_ENC_INTSET) {
        *len = (size_t)util_ll2str(tmp, is_get(kv->v.ptr, (uint32_t)h));
        return tmp;
    }
    return sm_bytes((const struct smember *)(uintptr_t)h, len);
}

/* Every member's handle, in iteration order (n = set_size). */
static set_handle *set_all_handles(struct kv *kv, size_t *n)
{
    *n = set_size(kv);
    set_handle *hs = lode_malloc((*n ? *n : 1) * sizeof(*hs));
    if (kv->enc == SET_ENC_INTSET) {
        for (size_t i = 0; i < *n; i++) hs[i] = i;
        return hs;
    }
    struct dict_iter it;
    dict_iter_init(&it, &((struct hset *)kv->v.ptr)->d);
    size_t i = 0;
    for (struct dnode *d; (d = dict_iter_next(&it)) != NULL;) hs[i++] = (uintptr_t)d;
    dict_iter_release(&it);
    return hs;
}

/* A small open-addressing set of handles (duplicate detection). */
struct hset_seen {
    set_handle *slot;
    size_t mask;
};
#define SEEN_EMPTY UINT64_MAX

static void seen_init(struct hset_seen *s, size_t n)
{
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    s->slot = lode_malloc(cap * sizeof(*s->slot));
    for (size_t i = 0; i < cap; i++) s->slot[i] = SEEN_EMPTY;
    s->mask = cap - 1;
}

/* Adds h; false when it was already there. */
static bool seen_add(struct hset_seen *s, set_handle h)
{
    size_t i = (size_t)((h * 0x9e3779b97f4a7c15ULL) >> 17) & s->mask;
    while (s->slot[i] != SEEN_EMPTY) {
        if (s->slot[i] == h) return false;
        i = (i + 1) & s->mask;
    }
    s->slot[i] = h;
    return true;
}

/* -------------------------------------------------------------- obj_ops */

static void set_free(void *ptr, int enc)
{
    if (!ptr) return;
    if (enc == SET_ENC_INTSET)
        lode_free(ptr);
    else
        hs_free(ptr);
}

static void *set_dup(const void *ptr, int enc)
{
    if (enc == SET_ENC_INTSET) {
        const struct intset *is = ptr;
        struct intset *n = is_new(is->width, is->n);
        memcpy(n->data, is->data, (size_t)is->n * is->width);
        return n;
    }
    struct hset *src = (struct hset *)ptr, *hs = hs_new();
    struct dict_iter it;
    dict_iter_init(&it, &src->d);
    for (struct dnode *d; (d = dict_iter_next(&it)) != NULL;) {
        size_t len;
        const char *s = sm_bytes((const struct smember *)d, &len);
        hs_add(hs, s, len);
    }
    dict_iter_release(&it);
    return hs;
}

static size_t set_mem(const void *ptr, int enc)
{
    if (enc == SET_ENC_INTSET) return lode_usable(ptr);
    const struct hset *hs = ptr;
    size_t n = lode_usable(hs) + hs->node_bytes;
    for (int t = 0; t < 2; t++)
        if (hs->d.tab[t]) n += lode_usable(hs->d.tab[t]);
    return n;
}

static const char *set_enc_name(int enc)
{
    return enc == SET_ENC_INTSET ? "intset" : "hashtable";
}

/* A kv view of a bare value, for the iterators. */
static struct kv *kv_view(struct kv *tmp, const void *ptr, int enc)
{
    memset(tmp, 0, sizeof(*tmp));
    tmp->type = OBJ_SET;
    tmp->enc = (uint8_t)enc;
    tmp->v.ptr = (void *)ptr;
    return tmp;
}

static void set_each(const void *ptr, int enc,
                     int (*fn)(void *priv, const char *a, size_t alen, const char *b, size_t blen),
                     void *priv)
{
    struct kv view;
    struct set_iter it;
    set_iter_init(&it, kv_view(&view, ptr, enc));
    const char *s;
    size_t len;
    bool isint;
    long long v = 0;
    while (set_iter_next(&it, &s, &len, &isint, &v))
        if (fn(priv, s, len, NULL, 0)) break;
    set_iter_release(&it);
}

/* Members are unordered: each one's SHA-1 is folded in with XOR, then the
 * fold is mixed into out. Integers digest as their decimal bytes, so both
 * encodings of the same members give the same digest. */
static int digest_member(void *priv, const char *a, size_t alen, const char *b, size_t blen)
{
    (void)b, (void)blen;
    uint8_t e[DIGEST_LEN] = {0};
    digest_mix(e, a, alen);
    digest_xor(priv, e);
    return 0;
}

static void set_digest(const void *ptr, int enc, uint8_t out[20])
{
    uint8_t acc[DIGEST_LEN] = {0};
    set_each(ptr, enc, digest_member, acc);
    digest_mix(out, acc, DIGEST_LEN);
}

/* Payloads (docs/checkpoint-format.md, "Sets"):
 *   SER_SET_INTSET  width u8 (2, 4, 8), count u32 (>= 1), then count
 *                   integers of width bytes, little-endian two's
 *                   complement, strictly ascending.
 *   SER_SET_HT      count u32 (>= 1), then count strings (u32 length,
 *                   bytes), pairwise distinct, in any order. */
static int set_serialize(struct buf *out, const void *ptr, int enc)
{
    if (enc == SET_ENC_INTSET) {
        const struct intset *is = ptr;
        uint8_t w = is->width;
        buf_append(out, &w, 1);
        ser_put_u32(out, is->n);
        for (uint32_t i = 0; i < is->n; i++) {
            uint64_t v = (uint64_t)is_get(is, i);
            uint8_t b[8];
            for (unsigned k = 0; k < w; k++) b[k] = (uint8_t)(v >> (8 * k));
            buf_append(out, b, w);
        }
        return SER_SET_INTSET;
    }
    const struct hset *hs = ptr;
    size_t n = dict_size(&hs->d);
    lode_assert(n <= UINT32_MAX);
    ser_put_u32(out, (uint32_t)n);
    struct dict_iter it;
    dict_iter_init(&it, (struct dict *)&hs->d);
    for (struct dnode *d; (d = dict_iter_next(&it)) != NULL;) {
        size_t len;
        const char *s = sm_bytes((const struct smember *)d, &len);
        ser_put_str(out, s, len);
    }
    dict_iter_release(&it);
    return SER_SET_HT;
}

static int parse_intset(struct ser_rd *r, void **ptr)
{
    uint8_t w;
    uint32_t n;
    const uint8_t *b;
    if (!ser_get_u8(r, &w) || !ser_get_u32(r, &n)) return LODE_ECORRUPT;
    if ((w != 2 && w != 4 && w != 8) || n == 0) return LODE_ECORRUPT;
    if (n > (r->n - r->off) / w || !ser_get_bytes(r, (size_t)n * w, &b) || !ser_rd_done(r))
        return LODE_ECORRUPT;
    long long prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t u = 0;
        for (unsigned k = 0; k < w; k++) u |= (uint64_t)b[(size_t)i * w + k] << (8 * k);
        /* sign-extend from w bytes */
        unsigned shift = 64 - 8 * w;
        long long v = (long long)(u << shift) >> shift;
        if (i > 0 && v <= prev) return LODE_ECORRUPT;
        prev = v;
    }
    struct intset *is = is_new(w, n);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t u = 0;
        for (unsigned k = 0; k < w; k++) u |= (uint64_t)b[(size_t)i * w + k] << (8 * k);
        unsigned shift = 64 - 8 * w;
        is_set_w(is->data, w, i, (long long)(u << shift) >> shift);
    }
    *ptr = is;
    return 0;
}

static int parse_ht(struct ser_rd *r, void **ptr)
{
    uint32_t n;
    if (!ser_get_u32(r, &n) || n == 0) return LODE_ECORRUPT;
    /* every member takes at least its 4-byte length */
    if (n > (r->n - r->off) / 4) return LODE_ECORRUPT;
    struct hset *hs = hs_new();
    for (uint32_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        if (!ser_get_str(r, &s, &len) || !hs_add(hs, s, len)) {
            hs_free(hs);
            return LODE_ECORRUPT;
        }
    }
    if (!ser_rd_done(r)) {
        hs_free(hs);
        return LODE_ECORRUPT;
    }
    *ptr = hs;
    return 0;
}

static int set_parse(const uint8_t *p, size_t n, int ser_enc, void **ptr, int *enc)
{
    struct ser_rd r = ser_rd_init(p, n);
    void *v = NULL;
    int rc;
    if (ser_enc == SER_SET_INTSET) {
        rc = parse_intset(&r, &v);
        *enc = SET_ENC_INTSET;
    } else if (ser_enc == SER_SET_HT) {
        rc = parse_ht(&r, &v);
        *enc = SET_ENC_HT;
    } else {
        return LODE_EVERSION;
    }
    if (rc == 0) *ptr = v;
    return rc;
}

static const struct obj_ops set_ops = {
    .free = set_free,
    .dup = set_dup,
    .mem = set_mem,
    .enc_name = set_enc_name,
    .digest = set_digest,
    .ser_type = SER_TYPE_SET,
    .serialize = set_serialize,
    .parse = set_parse,
    .each = set_each,
};

void set_register(void)
{
    obj_register(OBJ_SET, &set_ops);
}

/* ------------------------------------------------------------- helpers */

/* A collection of member strings (SPOP's popped members, for the SREM it
 * logs and the reply it sends). */
struct strvec {
    struct buf bytes;
    size_t *len;
    size_t n, cap;
};

static void sv_init(struct strvec *v)
{
    buf_init(&v->bytes);
    v->len = NULL;
    v->n = v->cap = 0;
}

static void sv_push(struct strvec *v, const char *s, size_t len)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 16;
        v->len = lode_realloc(v->len, v->cap * sizeof(*v->len));
    }
    v->len[v->n++] = len;
    buf_append(&v->bytes, s, len);
}

static void sv_release(struct strvec *v)
{
    buf_release(&v->bytes);
    lode_free(v->len);
}

/* Logs `cmd key <members of v>` as this command's effect. */
static void emit_with_members(struct cmd_ctx *ctx, const char *cmd, const struct strvec *v)
{
    struct slice *a = lode_malloc((v->n + 2) * sizeof(*a));
    a[0].ptr = cmd;
    a[0].len = strlen(cmd);
    a[1] = ctx->argv[1];
    size_t off = 0;
    for (size_t i = 0; i < v->n; i++) {
        a[i + 2].ptr = v->bytes.ptr + off;
        a[i + 2].len = v->len[i];
        off += v->len[i];
    }
    ctx_emit(ctx, (int)(v->n + 2), a);
    lode_free(a);
}

static void emit_del(struct cmd_ctx *ctx)
{
    struct slice a[2] = {SL("DEL"), ctx->argv[1]};
    ctx_emit(ctx, 2, a);
}

/* Looks up the set at argv[i]: NULL when absent (reply untouched) or of
 * another type (*bad set, WRONGTYPE replied). */
static struct kv *lookup_set(struct cmd_ctx *ctx, int i, bool write, bool *bad)
{
    struct kv *kv = write ? ctx_lookup_write(ctx, i) : ctx_lookup_read(ctx, i);
    *bad = false;
    if (kv && ctx_wrongtype(ctx, kv, OBJ_SET)) {
        *bad = true;
        return NULL;
    }
    return kv;
}

/* Replies the members of kv as a set (RESP3 ~, RESP2 array). */
static void reply_members(struct cmd_ctx *ctx, struct kv *kv)
{
    reply_set(ctx->r, (long long)set_size(kv));
    struct set_iter it;
    set_iter_init(&it, kv);
    const char *s;
    size_t len;
    bool isint;
    long long v = 0;
    while (set_iter_next(&it, &s, &len, &isint, &v)) reply_bulk(ctx->r, s, len);
    set_iter_release(&it);
}

static void delete_key(struct cmd_ctx *ctx, int i)
{
    db_delete(ctx->eng, ctx->db, ctx->argv[i].ptr, ctx->argv[i].len);
    NOTIFY_ARG(ctx, NOTIFY_GENERIC, "del", i);
}

static void key_changed(struct cmd_ctx *ctx, int i)
{
    db_key_changed(ctx->eng, ctx->db, ctx->argv[i].ptr, ctx->argv[i].len);
}

/* ---------------------------------------------------- simple commands */

void cmd_sadd(struct cmd_ctx *ctx)
{
    bool bad;
    struct kv *kv = lookup_set(ctx, 1, true, &bad);
    if (bad) return;
    if (!kv) {
        kv = set_new_kv(ctx->argv[1].ptr, ctx->argv[1].len, ctx->argv[2].ptr, ctx->argv[2].len);
        db_add(ctx->eng, ctx->db, kv);
    }
    long long added = 0;
    for (int i = 2; i < ctx->argc; i++)
        added += set_add(&ctx->eng->lim, kv, ctx->argv[i].ptr, ctx->argv[i].len);
    if (added) {
        key_changed(ctx, 1);
        NOTIFY_ARG(ctx, NOTIFY_SET, "sadd", 1);
        ctx_dirty(ctx, added);
    }
    reply_int(ctx->r, added);
}

void cmd_srem(struct cmd_ctx *ctx)
{
    bool bad;
    struct kv *kv = lookup_set(ctx, 1, true, &bad);
    if (bad) return;
    long long removed = 0;
    if (kv) {
        for (int i = 2; i < ctx->argc && set_size(kv) > 0; i++)
            removed += set_remove(kv, ctx->argv[i].ptr, ctx->argv[i].len);
        if (removed) {
            NOTIFY_ARG(ctx, NOTIFY_SET, "srem", 1);
            if (set_size(kv) == 0)
                delete_key(ctx, 1);
            else
                key_changed(ctx, 1);
            ctx_dirty(ctx, removed);
        }
    }
    reply_int(ctx->r, removed);
}

void cmd_smembers(struct cmd_ctx *ctx)
{
    bool bad;
    struct kv *kv = lookup_set(ctx, 1, false, &bad);
    if (bad) return;
    if (!kv) {
        reply_set(ctx->r, 0);
        return;
    }
    reply_members(ctx, kv);
}

void cmd_sismember(struct cmd_ctx *ctx)
{
    bool bad;
    struct kv *kv = lookup_set(ctx, 1, false, &bad);
    if (bad) return;
    reply_int(ctx->r, kv && set_has(kv, ctx->argv[2].ptr, ctx->argv[2].len));
}

void cmd_smismember(struct cmd_ctx *ctx)
{
    bool bad;
    struct kv *kv = lookup_set(ctx, 1, false, &bad);
    if (bad) return;
    reply_array(ctx->r, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++)
        reply_int(ctx->r, kv && set_has(kv, ctx->argv[i].ptr, ctx->argv[i].len));
}

void cmd_scard(struct cmd_ctx *ctx)
{
    bool bad;
    struct kv *kv = lookup_set(ctx, 1, false, &bad);
    if (bad) return;
    reply_int(ctx->r, kv ? (long long)set_size(kv) : 0);
}

/* SMOVE source destination member */
void cmd_smove(struct cmd_ctx *ctx)
{
    struct kv *src = ctx_lookup_write(ctx, 1);
    struct kv *dst = ctx_lookup_write(ctx, 2);
    const struct slice *m = &ctx->argv[3];
    if (!src) {
        reply_int(ctx->r, 0);
        return;
    }
    if (ctx_wrongtype(ctx, src, OBJ_SET) || (dst && ctx_wrongtype(ctx, dst, OBJ_SET))) return;
    if (src == dst) {
        reply_int(ctx->r, set_has(src, m->ptr, m->len));
        return;
    }
    if (!set_remove(src, m->ptr, m->len)) {
        reply_int(ctx->r, 0);
        return;
    }
    NOTIFY_ARG(ctx, NOTIFY_SET, "srem", 1);
    if (set_size(src) == 0)
        delete_key(ctx, 1);
    else
        key_changed(ctx, 1);
    ctx_dirty(ctx, 1);
    if (!dst) {
        dst = set_new_kv(ctx->argv[2].ptr, ctx->argv[2].len, m->ptr, m->len);
        db_add(ctx->eng, ctx->db, dst);
    }
    if (set_add(&ctx->eng->lim, dst, m->ptr, m->len)) {
        key_changed(ctx, 2);
        NOTIFY_ARG(ctx, NOTIFY_SET, "sadd", 2);
        ctx_dirty(ctx, 1);
    }
    reply_int(ctx->r, 1);
}

/* ------------------------------------------------ SPOP, SRANDMEMBER */

static void spop_one(struct cmd_ctx *ctx)
{
    bool bad;
    struct kv *kv = lookup_set(ctx, 1, true, &bad);
    if (bad) return;
    if (!kv) {
        reply_null(ctx->r);
        return;
    }
    char tmp[UTIL_LLSTR_SIZE];
    size_t len;
    const char *s = set_handle_str(kv, set_random(kv), tmp, &len);
    reply_bulk(ctx->r, s, len);
    NOTIFY_ARG(ctx, NOTIFY_SET, "spop", 1);
    if (set_size(kv) == 1) {
        emit_del(ctx);
        delete_key(ctx, 1);
    } else {
        struct slice a[3] = {SL("SREM"), ctx->argv[1], {s, len}};
        ctx_emit(ctx, 3, a);
        /* s may point into the member itself: the removal hashes and
         * compares it before freeing the member, and s is dead after */
        set_remove(kv, s, len);
        key_changed(ctx, 1);
    }
    ctx_dirty(ctx, 1);
}

/* Pops count (< size) random members one by one into out. */
static void spop_draw(struct kv *kv, size_t count, struct strvec *out)
{
    char tmp[UTIL_LLSTR_SIZE];
    for (size_t i = 0; i < count; i++) {
        size_t len;
        const char *s = set_handle_str(kv, set_random(kv), tmp, &len);
        sv_push(out, s, len);
        size_t off = out->bytes.len - len;
        set_remove(kv, out->bytes.ptr + off, len);
    }
}

/* Pops count (< size) random members by moving size - count random
 * survivors to a new set; what is left of the old set is the popped
 * members. The new set starts as an intset and converts by the usual
 * rules, as Redis 7.0's does (a table whose survivors are all integers
 * becomes an intset again: OBJECT ENCODING shows it). */
static void spop_keep(const struct engine_limits *lim, struct kv *kv, size_t count,
                      struct strvec *out)
{
    size_t keep = set_size(kv) - count;
    struct kv survivors;
    kv_view(&survivors, set_new_value(SET_ENC_INTSET), SET_ENC_INTSET);
    char tmp[UTIL_LLSTR_SIZE];
    struct strvec one;
    sv_init(&one);
    for (size_t i = 0; i < keep; i++) {
        size_t len;
        const char *s = set_handle_str(kv, set_random(kv), tmp, &len);
        one.n = 0;
        one.bytes.len = 0;
        sv_push(&one, s, len);
        set_add(lim, &survivors, one.bytes.ptr, len);
        set_remove(kv, one.bytes.ptr, len);
    }
    sv_release(&one);
    struct set_iter it;
    set_iter_init(&it, kv);
    const char *s;
    size_t len;
    bool isint;
    long long v = 0;
    while (set_iter_next(&it, &s, &len, &isint, &v)) sv_push(out, s, len);
    set_iter_release(&it);
    set_free(kv->v.ptr, kv->enc);
    kv->v.ptr = survivors.v.ptr;
    kv->enc = survivors.enc;
}

/* Logs a set that spop_keep rebuilt as DEL key, SADD key <survivors> and,
 * when it has a TTL, PEXPIREAT key <ms>: the survivors are at most a sixth
 * of the pop, so this is the shorter log, and replay rebuilds the set by
 * adds from nothing just as spop_keep did, so it gets the same encoding
 * (an SREM of the popped members would leave a table where spop_keep may
 * have made an intset). */
static void emit_rebuilt(struct cmd_ctx *ctx, struct kv *kv)
{
    struct strvec members;
    sv_init(&members);
    struct set_iter it;
    set_iter_init(&it, kv);
    const char *s;
    size_t len;
    bool isint;
    long long v = 0;
    while (set_iter_next(&it, &s, &len, &isint, &v)) sv_push(&members, s, len);
    set_iter_release(&it);
    emit_del(ctx);
    emit_with_members(ctx, "SADD", &members);
    sv_release(&members);
    long long when = db_expire_of(ctx->db, kv);
    if (when != -1) {
        char ms[UTIL_LLSTR_SIZE];
        struct slice a[3] = {SL("PEXPIREAT"), ctx->argv[1], {ms, 0}};
        a[2].len = (size_t)util_ll2str(ms, when);
        ctx_emit(ctx, 3, a);
    }
}

static void spop_count(struct cmd_ctx *ctx)
{
    long long count;
    if (!arg_ll_range(ctx, 2, 0, LLONG_MAX, &count, "ERR value is out of range, must be positive"))
        return;
    bool bad;
    struct kv *kv = lookup_set(ctx, 1, true, &bad);
    if (bad) return;
    if (!kv || count == 0) {
        reply_set(ctx->r, 0);
        return;
    }
    size_t size = set_size(kv);
    if ((unsigned long long)count >= size) {
        reply_members(ctx, kv);
        emit_del(ctx);
        NOTIFY_ARG(ctx, NOTIFY_SET, "spop", 1);
        delete_key(ctx, 1);
        ctx_dirty(ctx, (long long)size);
        return;
    }
    struct strvec popped;
    sv_init(&popped);
    bool rebuilt = (size - (size_t)count) * SPOP_MOVE_MUL <= (size_t)count;
    if (rebuilt)
        spop_keep(&ctx->eng->lim, kv, (size_t)count, &popped);
    else
        spop_draw(kv, (size_t)count, &popped);
    reply_set(ctx->r, (long long)popped.n);
    size_t off = 0;
    for (size_t i = 0; i < popped.n; i++) {
        reply_bulk(ctx->r, popped.bytes.ptr + off, popped.len[i]);
        off += popped.len[i];
    }
    if (rebuilt)
        emit_rebuilt(ctx, kv);
    else
        emit_with_members(ctx, "SREM", &popped);
    sv_release(&popped);
    key_changed(ctx, 1);
    NOTIFY_ARG(ctx, NOTIFY_SET, "spop", 1);
    ctx_dirty(ctx, count);
}

void cmd_spop(struct cmd_ctx *ctx)
{
    if (ctx->argc == 3)
        spop_count(ctx);
    else if (ctx->argc > 3)
        reply_error(ctx->r, ERR_SYNTAX);
    else
        spop_one(ctx);
}

static void reply_handle(struct cmd_ctx *ctx, struct kv *kv, set_handle h)
{
    char tmp[UTIL_LLSTR_SIZE];
    size_t len;
    const char *s = set_handle_str(kv, h, tmp, &len);
    reply_bulk(ctx->r, s, len);
}

static void srandmember_count(struct cmd_ctx *ctx)
{
    long long l;
    if (!arg_ll(ctx, 2, &l, NULL)) return;
    if (l == LLONG_MIN) {
        reply_errorf(ctx->r, "ERR value is out of range, value must between %lld and %lld",
                     -LLONG_MAX, LLONG_MAX);
        return;
    }
    bool bad;
    struct kv *kv = lookup_set(ctx, 1, false, &bad);
    if (bad) return;
    if (!kv || l == 0) {
        reply_empty_array(ctx->r);
        return;
    }
    size_t size = set_size(kv);
    if (l < 0) {
        /* independent draws: members may repeat */
        reply_array(ctx->r, -l);
        for (long long i = 0; i < -l; i++) reply_handle(ctx, kv, set_random(kv));
        return;
    }
    size_t count = (size_t)l;
    if (count >= size) {
        reply_array(ctx->r, (long long)size);
        struct set_iter it;
        set_iter_init(&it, kv);
        const char *s;
        size_t len;
        bool isint;
        long long v;
        while (set_iter_next(&it, &s, &len, &isint, &v)) reply_bulk(ctx->r, s, len);
        set_iter_release(&it);
        return;
    }
    reply_array(ctx->r, (long long)count);
    if (count * SRAND_SUB_MUL > size) {
        /* close to the whole set: a partial Fisher-Yates shuffle */
        size_t n;
        set_handle *all = set_all_handles(kv, &n);
        for (size_t i = 0; i < count; i++) {
            size_t j = i + (size_t)util_rand_below(n - i);
            set_handle t = all[i];
            all[i] = all[j];
            all[j] = t;
            reply_handle(ctx, kv, all[i]);
        }
        lode_free(all);
        return;
    }
    /* few of many: draw until count distinct members came up */
    struct hset_seen seen;
    seen_init(&seen, count);
    for (size_t got = 0; got < count;) {
        set_handle h = set_random(kv);
        if (!seen_add(&seen, h)) continue;
        reply_handle(ctx, kv, h);
        got++;
    }
    lode_free(seen.slot);
}

void cmd_srandmember(struct cmd_ctx *ctx)
{
    if (ctx->argc == 3) {
        srandmember_count(ctx);
        return;
    }
    if (ctx->argc > 3) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    bool bad;
    struct kv *kv = lookup_set(ctx, 1, false, &bad);
    if (bad) return;
    if (!kv) {
        reply_null(ctx->r);
        return;
    }
    reply_handle(ctx, kv, set_random(kv));
}

/* --------------------------------------------- SINTER, SUNION, SDIFF */

/* Looks up n sets at argv[first...]: sets[i] NULL when missing. Replies
 * WRONGTYPE and returns false when a key holds another type (every key
 * is checked, missing ones included, as Redis 7.0 does). The sources are
 * read, also for the STORE forms (stats, keymiss), as in Redis. */
static bool lookup_sets(struct cmd_ctx *ctx, int first, int n, struct kv **sets)
{
    for (int i = 0; i < n; i++) {
        bool bad;
        sets[i] = lookup_set(ctx, first + i, false, &bad);
        if (bad) return false;
    }
    return true;
}

/* qsort orders by size; a missing set (NULL) counts as empty. */
static int by_size(const void *a, const void *b)
{
    const struct kv *ka = *(struct kv *const *)a, *kb = *(struct kv *const *)b;
    size_t x = ka ? set_size(ka) : 0, y = kb ? set_size(kb) : 0;
    return x < y ? -1 : x > y;
}

static int by_size_desc(const void *a, const void *b)
{
    return by_size(b, a);
}

/* Stores result under argv[dst_i] (or deletes that key when result is
 * empty) and replies its size. Takes ownership of result. */
static void store_result(struct cmd_ctx *ctx, int dst_i, struct kv *result)
{
    size_t n = set_size(result);
    if (n > 0) {
        db_set(ctx->eng, ctx->db, result, false);
        /* the event is the command's name: sinterstore, sunionstore, ... */
        NOTIFY_ARG(ctx, NOTIFY_SET, ctx->cmd->name, dst_i);
        ctx_dirty(ctx, 1);
    } else {
        kv_free(result);
        if (ctx_lookup_write(ctx, dst_i)) {
            delete_key(ctx, dst_i);
            ctx_dirty(ctx, 1);
        }
    }
    reply_int(ctx->r, (long long)n);
}

/* The intersection of argv[first .. first+n). dst_i > 0: store it there;
 * card: reply only its size, stopping at limit (0: none); else reply the
 * members. */
static void sinter_generic(struct cmd_ctx *ctx, int first, int n, int dst_i, bool card,
                           long long limit)
{
    struct kv **sets = lode_malloc((size_t)n * sizeof(*sets));
    if (!lookup_sets(ctx, first, n, sets)) goto out;
    struct kv *result = NULL;
    if (dst_i > 0) result = set_new_kv(ctx->argv[dst_i].ptr, ctx->argv[dst_i].len, NULL, 0);
    bool empty = false;
    for (int i = 0; i < n; i++) empty |= sets[i] == NULL;
    if (empty) {
        if (result)
            store_result(ctx, dst_i, result);
        else if (card)
            reply_int(ctx->r, 0);
        else
            reply_set(ctx->r, 0);
        goto out;
    }
    qsort(sets, (size_t)n, sizeof(*sets), by_size);
    size_t token = 0;
    if (!result && !card) token = reply_defer(ctx->r);
    long long found = 0;
    struct set_iter it;
    set_iter_init(&it, sets[0]);
    const char *s;
    size_t len;
    bool isint;
    long long v = 0;
    while (set_iter_next(&it, &s, &len, &isint, &v)) {
        int j = 1;
        for (; j < n; j++) {
            if (sets[j] == sets[0]) continue;
            if (!set_has2(sets[j], s, len, isint, v)) break;
        }
        if (j < n) continue;
        found++;
        if (result)
            set_add(&ctx->eng->lim, result, s, len);
        else if (!card)
            reply_bulk(ctx->r, s, len);
        if (card && limit && found >= limit) break;
    }
    set_iter_release(&it);
    if (result)
        store_result(ctx, dst_i, result);
    else if (card)
        reply_int(ctx->r, found);
    else
        reply_defer_set(ctx->r, token, found);
out:
    lode_free(sets);
}

void cmd_sinter(struct cmd_ctx *ctx)
{
    sinter_generic(ctx, 1, ctx->argc - 1, 0, false, 0);
}

void cmd_sinterstore(struct cmd_ctx *ctx)
{
    sinter_generic(ctx, 2, ctx->argc - 2, 1, false, 0);
}

/* SINTERCARD numkeys key [key ...] [LIMIT limit] */
void cmd_sintercard(struct cmd_ctx *ctx)
{
    long long numkeys, limit = 0;
    if (!arg_ll_range(ctx, 1, 1, LLONG_MAX, &numkeys, "ERR numkeys should be greater than 0"))
        return;
    if (numkeys > ctx->argc - 2) {
        reply_error(ctx->r, "ERR Number of keys can't be greater than number of args");
        return;
    }
    for (int j = 2 + (int)numkeys; j < ctx->argc; j++) {
        if (arg_is(ctx, j, "limit") && j + 1 < ctx->argc) {
            if (!arg_ll_range(ctx, ++j, 0, LLONG_MAX, &limit, "ERR LIMIT can't be negative"))
                return;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
    }
    sinter_generic(ctx, 2, (int)numkeys, 0, true, limit);
}

/* Adds every member of src to dst. */
static void add_all(const struct engine_limits *lim, struct kv *dst, struct kv *src)
{
    struct set_iter it;
    set_iter_init(&it, src);
    const char *s;
    size_t len;
    bool isint;
    long long v = 0;
    while (set_iter_next(&it, &s, &len, &isint, &v)) set_add(lim, dst, s, len);
    set_iter_release(&it);
}

/* The difference sets[0] - sets[1..n) into result (an empty intset).
 * Redis picks one of two strategies by estimated work, and the choice
 * shows in the result's encoding (only adds, or adds then removes), so
 * the same rule chooses here: walk the first set probing the others when
 * half of n * |first| is at most the total size, else copy the first set
 * and remove the others' members. */
static void diff_into(const struct engine_limits *lim, struct kv **sets, int n, struct kv *result)
{
    if (!sets[0]) return;
    for (int j = 1; j < n; j++)
        if (sets[j] == sets[0]) return; /* A - A - ... is empty */
    long long walk = 0, copy = 0;
    for (int j = 0; j < n; j++) {
        if (!sets[j]) continue;
        walk += (long long)set_size(sets[0]);
        copy += (long long)set_size(sets[j]);
    }
    walk /= 2;
    struct set_iter it;
    const char *s;
    size_t len;
    bool isint;
    long long v = 0;
    if (walk <= copy) {
        /* probe the largest sets first: a member present in one goes fast */
        if (n > 1) qsort(sets + 1, (size_t)n - 1, sizeof(*sets), by_size_desc);
        set_iter_init(&it, sets[0]);
        while (set_iter_next(&it, &s, &len, &isint, &v)) {
            int j = 1;
            for (; j < n; j++)
                if (sets[j] && set_has2(sets[j], s, len, isint, v)) break;
            if (j == n) set_add(lim, result, s, len);
        }
        set_iter_release(&it);
        return;
    }
    add_all(lim, result, sets[0]);
    for (int j = 1; j < n && set_size(result) > 0; j++) {
        if (!sets[j]) continue;
        set_iter_init(&it, sets[j]);
        while (set_iter_next(&it, &s, &len, &isint, &v)) set_remove(result, s, len);
        set_iter_release(&it);
    }
}

static void sunion_diff_generic(struct cmd_ctx *ctx, int first, int n, int dst_i, bool diff)
{
    struct kv **sets = lode_malloc((size_t)n * sizeof(*sets));
    if (!lookup_sets(ctx, first, n, sets)) goto out;
    struct kv *result = dst_i > 0 ? set_new_kv(ctx->argv[dst_i].ptr, ctx->argv[dst_i].len, NULL, 0)
                                  : set_new_kv("", 0, NULL, 0);
    if (diff) {
        diff_into(&ctx->eng->lim, sets, n, result);
    } else {
        for (int j = 0; j < n; j++)
            if (sets[j]) add_all(&ctx->eng->lim, result, sets[j]);
    }
    if (dst_i > 0) {
        store_result(ctx, dst_i, result);
    } else {
        reply_members(ctx, result);
        kv_free(result);
    }
out:
    lode_free(sets);
}

void cmd_sunion(struct cmd_ctx *ctx)
{
    sunion_diff_generic(ctx, 1, ctx->argc - 1, 0, false);
}

void cmd_sunionstore(struct cmd_ctx *ctx)
{
    sunion_diff_generic(ctx, 2, ctx->argc - 2, 1, false);
}

void cmd_sdiff(struct cmd_ctx *ctx)
{
    sunion_diff_generic(ctx, 1, ctx->argc - 1, 0, true);
}

void cmd_sdiffstore(struct cmd_ctx *ctx)
{
    sunion_diff_generic(ctx, 2, ctx->argc - 2, 1, true);
}

/* ---------------------------------------------------------------- SSCAN */

struct scan_acc {
    const struct smember **m;
    size_t n, cap;
};

static void scan_collect(struct dnode *d, void *priv)
{
    struct scan_acc *a = priv;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->m = lode_realloc(a->m, a->cap * sizeof(*a->m));
    }
    a->m[a->n++] = (const struct smember *)d;
}

static bool scan_keep(const struct slice *pat, const char *s, size_t len)
{
    return !pat || util_glob_match(pat->ptr, pat->len, s, len, false);
}

/* SSCAN key cursor [MATCH pattern] [COUNT count] */
void cmd_sscan(struct cmd_ctx *ctx)
{
    uint64_t cursor;
    if (!arg_scan_cursor(ctx, 2, &cursor)) return;
    bool bad;
    struct kv *kv = lookup_set(ctx, 1, false, &bad);
    if (bad) return;
    if (!kv) {
        reply_array(ctx->r, 2);
        reply_bulk(ctx->r, "0", 1);
        reply_empty_array(ctx->r);
        return;
    }
    long long count;
    const struct slice *pat;
    if (!arg_scan_opts(ctx, 3, &count, &pat)) return;
    char cbuf[UTIL_LLSTR_SIZE];
    if (kv->enc == SET_ENC_INTSET) {
        /* small: the whole set in one step, cursor 0 */
        reply_array(ctx->r, 2);
        reply_bulk(ctx->r, "0", 1);
        size_t token = reply_defer(ctx->r);
        long long n = 0;
        const struct intset *is = kv->v.ptr;
        for (uint32_t i = 0; i < is->n; i++) {
            int len = util_ll2str(cbuf, is_get(is, i));
            if (!scan_keep(pat, cbuf, (size_t)len)) continue;
            reply_bulk(ctx->r, cbuf, (size_t)len);
            n++;
        }
        reply_defer_array(ctx->r, token, n);
        return;
    }
    struct hset *hs = kv->v.ptr;
    struct scan_acc acc = {NULL, 0, 0};
    long long budget = count * 10;
    do {
        cursor = dict_scan(&hs->d, cursor, scan_collect, &acc);
    } while (cursor && budget-- > 0 && acc.n < (size_t)count);
    reply_array(ctx->r, 2);
    int clen = util_ull2str(cbuf, cursor);
    reply_bulk(ctx->r, cbuf, (size_t)clen);
    size_t token = reply_defer(ctx->r);
    long long n = 0;
    for (size_t i = 0; i < acc.n; i++) {
        size_t len;
        const char *s = sm_bytes(acc.m[i], &len);
        if (!scan_keep(pat, s, len)) continue;
        reply_bulk(ctx->r, s, len);
        n++;
    }
    reply_defer_array(ctx->r, token, n);
    lode_free(acc.m);
}
