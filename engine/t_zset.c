/*
 * t_zset.c - sorted sets: the two encodings, Redis 7.0's sorted-set
 * commands (ZADD ... ZSCAN) and the type's obj_ops hooks.
 *
 * Encodings (OBJECT ENCODING names them as Redis 7.0 does):
 *
 *   "listpack" (ZENC_LISTPACK): kv->v.ptr is a pack (engine/pack.h) of
 *     member, score, member, score, ... in (score, member) order. Used while
 *     the set has at most zset-max-listpack-entries members, each at most
 *     zset-max-listpack-value bytes. A score is stored as a pack integer
 *     when it is integral, within +-2^53 and its decimal form is not 8
 *     characters long; otherwise as an 8-byte string holding the IEEE-754
 *     bits, little-endian. The pack turns a string that is the canonical
 *     decimal form of an integer into an integer entry, and the only such
 *     8-byte strings are 8-character decimals: so an integer entry whose
 *     decimal form has 8 characters is read back as raw double bits, every
 *     other integer entry is the score itself. -0 is stored as the integer 0,
 *     as Redis 7.0's listpack does (it formats -0 as "0").
 *
 *   "skiplist" (ZENC_SKIPLIST): kv->v.ptr is a struct zset: a skiplist with
 *     spans (rank queries and rank ranges are O(log N)) whose nodes are also
 *     the elements of an intrusive hash table from member to node, so each
 *     member costs a single allocation: the node header, its forward
 *     pointers, its 32-bit spans and the member bytes.
 *
 * A listpack converts to a skiplist when an insert would pass either
 * threshold; a skiplist never converts back, except that the results
 * ZUNIONSTORE, ZINTERSTORE and ZDIFFSTORE build (as skiplists) are packed
 * when they fit (as Redis does). ZRANGESTORE builds its result as Redis
 * does: a rank range longer than zset-max-listpack-entries starts as a
 * skiplist, any other range as a listpack that converts on the insert that
 * passes a threshold. Since a pack stores -0 as 0 and a skiplist keeps it,
 * these choices show in replies, not only in OBJECT ENCODING.
 *
 * Logging (effects.h): ZADD is declared `rewrite`: without INCR it emits
 * itself as received; ZADD ... INCR and ZINCRBY emit ZADD key <resulting
 * score> member, the score formatted with %.17g, which reads back exactly.
 * BZPOPMIN, BZPOPMAX and BZMPOP are `rewrite` and emit the ZPOPMIN/ZPOPMAX
 * they performed, at once or when a blocked client is served. Every other
 * write is deterministic given the state and is `verbatim`.
 *
 * Scores are doubles parsed as Redis parses them (util_str2d: "inf", "-inf",
 * no NaN); range bounds follow Redis's strtod-based rules; replies format
 * scores with util_d2str (%.17g, RESP3 doubles).
 */
#include "engine/notify.h"
#include "engine/cmd.h"
#include "engine/digest.h"
#include "engine/lode.h"
#include "engine/pack.h"
#include "engine/serialize.h"
#include "engine/types.h"
#include "engine/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* In-memory encodings of OBJ_ZSET values (kv->enc). */
enum { ZENC_LISTPACK = 3, ZENC_SKIPLIST = 4 };

/* On-disk encodings (docs/checkpoint-format.md, "Sorted sets"). */
enum { ZSER_PACK = 1, ZSER_SKIPLIST = 2 };

/* ---------------------------------------------------------------------
 * Scores
 * ------------------------------------------------------------------ */

static uint64_t dbl_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static double bits_dbl(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Compares members as Redis does (memcmp, then the shorter first). */
static int mem_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c) return c;
    return an < bn ? -1 : an > bn;
}

/* A score range (ZRANGEBYSCORE and friends). */
struct zrange {
    double min, max;
    bool minex, maxex;
};

static bool zr_gte_min(double v, const struct zrange *r)
{
    return r->minex ? v > r->min : v >= r->min;
}

static bool zr_lte_max(double v, const struct zrange *r)
{
    return r->maxex ? v < r->max : v <= r->max;
}

static bool zr_empty(const struct zrange *r)
{
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

/* One bound as Redis's range parser reads it: an optional '(' then strtod
 * over the bytes up to the first NUL, which must consume them all. */
static bool parse_bound(const struct slice *s, double *v, bool *ex)
{
    char small[128];
    char *buf = s->len < sizeof(small) ? small : lode_malloc(s->len + 1);
    memcpy(buf, s->ptr, s->len);
    buf[s->len] = '\0';
    char *p = buf;
    *ex = false;
    if (p[0] == '(') {
        *ex = true;
        p++;
    }
    char *end;
    *v = strtod(p, &end);
    bool ok = end[0] == '\0' && !isnan(*v);
    if (buf != small) lode_free(buf);
    return ok;
}

static bool parse_range(const struct slice *min, const struct slice *max, struct zrange *r)
{
    return parse_bound(min, &r->min, &r->minex) && parse_bound(max, &r->max, &r->maxex);
}

/* A lexicographic range: a bound is a string or one of the infinities. */
enum { LEX_STR = 0, LEX_NEG_INF, LEX_POS_INF };
struct zlex {
    const char *min, *max; /* borrowed from the arguments */
    size_t minlen, maxlen;
    int mink, maxk; /* LEX_* */
    bool minex, maxex;
};

static bool parse_lex_item(const struct slice *s, const char **p, size_t *n, int *kind, bool *ex)
{
    if (s->len == 0) return false;
    switch (s->ptr[0]) {
    case '+':
    case '-':
        if (s->len > 1 && s->ptr[1] != '\0') return false;
        *kind = s->ptr[0] == '+' ? LEX_POS_INF : LEX_NEG_INF;
        *ex = true;
        *p = NULL;
        *n = 0;
        return true;
    case '(':
    case '[':
        *kind = LEX_STR;
        *ex = s->ptr[0] == '(';
        *p = s->ptr + 1;
        *n = s->len - 1;
        return true;
    default: return false;
    }
}

static bool parse_lex(const struct slice *min, const struct slice *max, struct zlex *r)
{
    return parse_lex_item(min, &r->min, &r->minlen, &r->mink, &r->minex) &&
           parse_lex_item(max, &r->max, &r->maxlen, &r->maxk, &r->maxex);
}

/* Compares a lex bound to a member (member on the right). */
static int lex_bound_cmp(int kind, const char *b, size_t bn, const char *m, size_t mn)
{
    if (kind == LEX_NEG_INF) return -1;
    if (kind == LEX_POS_INF) return 1;
    return mem_cmp(b, bn, m, mn);
}

static bool zl_gte_min(const char *m, size_t n, const struct zlex *r)
{
    int c = lex_bound_cmp(r->mink, r->min, r->minlen, m, n);
    return r->minex ? c < 0 : c <= 0;
}

static bool zl_lte_max(const char *m, size_t n, const struct zlex *r)
{
    int c = lex_bound_cmp(r->maxk, r->max, r->maxlen, m, n);
    return r->maxex ? c > 0 : c >= 0;
}

static bool zl_empty(const struct zlex *r)
{
    int c;
    if (r->mink == r->maxk && r->mink != LEX_STR)
        c = 0;
    else if (r->mink == LEX_NEG_INF || r->maxk == LEX_POS_INF)
        c = -1;
    else if (r->mink == LEX_POS_INF || r->maxk == LEX_NEG_INF)
        c = 1;
    else
        c = mem_cmp(r->min, r->minlen, r->max, r->maxlen);
    return c > 0 || (c == 0 && (r->minex || r->maxex));
}

/* ---------------------------------------------------------------------
 * Skiplist + hash
 * ------------------------------------------------------------------ */

#define ZSL_MAXLEVEL 32

/* A member: hash-table element and skiplist node in one allocation. After
 * the header: fwd[lvl], then span[lvl] (u32: a set holds < 2^32 members),
 * then the member bytes. */
struct zn {
    struct dnode h; /* hash chain link (must be first) */
    struct zn *back;
    double score;
    uint32_t mlen;
    uint8_t lvl;
    struct zn *fwd[];
};

static inline uint32_t *zn_span(const struct zn *n)
{
    return (uint32_t *)(n->fwd + n->lvl);
}

static inline char *zn_mem(const struct zn *n)
{
    return (char *)(zn_span(n) + n->lvl);
}

struct zset {
    struct dict d;   /* member -> struct zn */
    struct zn *head; /* ZSL_MAXLEVEL levels, no member */
    struct zn *tail;
    size_t len;
    int level;
};

static uint64_t zn_hash(const struct dnode *n)
{
    const struct zn *z = (const struct zn *)n;
    return util_hash(zn_mem(z), z->mlen);
}

static bool zn_match(const struct dnode *n, const void *key, size_t len)
{
    const struct zn *z = (const struct zn *)n;
    return z->mlen == len && memcmp(zn_mem(z), key, len) == 0;
}

static const struct dict_type zset_dict_type = {zn_hash, zn_match};

static struct zn *zn_new(int lvl, double score, const char *m, size_t n)
{
    lode_assert(n <= UINT32_MAX);
    struct zn *x =
        lode_malloc(sizeof(struct zn) + (size_t)lvl * (sizeof(struct zn *) + sizeof(uint32_t)) + n);
    x->h.next = NULL;
    x->back = NULL;
    x->score = score;
    x->mlen = (uint32_t)n;
    x->lvl = (uint8_t)lvl;
    for (int i = 0; i < lvl; i++) {
        x->fwd[i] = NULL;
        zn_span(x)[i] = 0;
    }
    if (n) memcpy(zn_mem(x), m, n);
    return x;
}

static int zsl_random_level(void)
{
    /* p = 1/4 per level, as Redis: two random bits per step */
    uint64_t r = util_rand64();
    int lvl = 1;
    while (lvl < ZSL_MAXLEVEL && (r & 3) == 0) {
        lvl++;
        r >>= 2;
    }
    return lvl;
}

static struct zset *zset_new(void)
{
    struct zset *z = lode_malloc(sizeof(*z));
    dict_init(&z->d, &zset_dict_type);
    z->head = zn_new(ZSL_MAXLEVEL, 0, NULL, 0);
    z->tail = NULL;
    z->len = 0;
    z->level = 1;
    return z;
}

static void zset_free(struct zset *z)
{
    struct zn *x = z->head->fwd[0];
    while (x) {
        struct zn *next = x->fwd[0];
        lode_free(x);
        x = next;
    }
    lode_free(z->head);
    dict_release(&z->d);
    lode_free(z);
}

/* Whether node x orders before (score, m). */
static inline bool zn_before(const struct zn *x, double score, const char *m, size_t n)
{
    return x->score < score || (x->score == score && mem_cmp(zn_mem(x), x->mlen, m, n) < 0);
}

/* Links node x (score, member and level set, not in the list) at its
 * place. */
static void zsl_link(struct zset *z, struct zn *x)
{
    struct zn *update[ZSL_MAXLEVEL];
    size_t rank[ZSL_MAXLEVEL];
    struct zn *p = z->head;
    const char *m = zn_mem(x);
    for (int i = z->level - 1; i >= 0; i--) {
        rank[i] = i == z->level - 1 ? 0 : rank[i + 1];
        while (p->fwd[i] && zn_before(p->fwd[i], x->score, m, x->mlen)) {
            rank[i] += zn_span(p)[i];
            p = p->fwd[i];
        }
        update[i] = p;
    }
    if (x->lvl > z->level) {
        for (int i = z->level; i < x->lvl; i++) {
            rank[i] = 0;
            update[i] = z->head;
            zn_span(z->head)[i] = (uint32_t)z->len;
        }
        z->level = x->lvl;
    }
    for (int i = 0; i < x->lvl; i++) {
        x->fwd[i] = update[i]->fwd[i];
        update[i]->fwd[i] = x;
        zn_span(x)[i] = zn_span(update[i])[i] - (uint32_t)(rank[0] - rank[i]);
        zn_span(update[i])[i] = (uint32_t)(rank[0] - rank[i]) + 1;
    }
    for (int i = x->lvl; i < z->level; i++) zn_span(update[i])[i]++;
    x->back = update[0] == z->head ? NULL : update[0];
    if (x->fwd[0])
        x->fwd[0]->back = x;
    else
        z->tail = x;
    z->len++;
}

/* Fills update[] with the last node before x at every level. */
static void zsl_path(struct zset *z, const struct zn *x, struct zn **update)
{
    struct zn *p = z->head;
    const char *m = zn_mem(x);
    for (int i = z->level - 1; i >= 0; i--) {
        while (p->fwd[i] && zn_before(p->fwd[i], x->score, m, x->mlen)) p = p->fwd[i];
        update[i] = p;
    }
    lode_assert(p->fwd[0] == x);
}

static void zsl_unlink(struct zset *z, struct zn *x, struct zn **update)
{
    for (int i = 0; i < z->level; i++) {
        if (update[i]->fwd[i] == x) {
            zn_span(update[i])[i] += zn_span(x)[i] - 1;
            update[i]->fwd[i] = x->fwd[i];
        } else {
            zn_span(update[i])[i] -= 1;
        }
    }
    if (x->fwd[0])
        x->fwd[0]->back = x->back;
    else
        z->tail = x->back;
    while (z->level > 1 && z->head->fwd[z->level - 1] == NULL) z->level--;
    z->len--;
}

static struct zn *zset_find(struct zset *z, const char *m, size_t n)
{
    return (struct zn *)dict_find(&z->d, m, n, util_hash(m, n));
}

/* Adds a member that is absent. */
static struct zn *zset_insert(struct zset *z, double score, const char *m, size_t n)
{
    struct zn *x = zn_new(zsl_random_level(), score, m, n);
    zsl_link(z, x);
    dict_add(&z->d, &x->h, util_hash(m, n));
    return x;
}

/* Removes and frees node x. */
static void zset_remove(struct zset *z, struct zn *x)
{
    struct zn *update[ZSL_MAXLEVEL];
    zsl_path(z, x, update);
    zsl_unlink(z, x, update);
    dict_unlink(&z->d, zn_mem(x), x->mlen, util_hash(zn_mem(x), x->mlen));
    lode_free(x);
}

static void zset_rescore(struct zset *z, struct zn *x, double score)
{
    if ((!x->back || x->back->score < score) && (!x->fwd[0] || x->fwd[0]->score > score)) {
        x->score = score; /* stays in place */
        return;
    }
    struct zn *update[ZSL_MAXLEVEL];
    zsl_path(z, x, update);
    zsl_unlink(z, x, update);
    x->score = score;
    zsl_link(z, x);
}

/* 1-based rank of node x. */
static size_t zsl_rank(const struct zset *z, const struct zn *x)
{
    size_t rank = 0;
    const struct zn *p = z->head;
    const char *m = zn_mem(x);
    for (int i = z->level - 1; i >= 0; i--) {
        while (p->fwd[i] && (zn_before(p->fwd[i], x->score, m, x->mlen) || p->fwd[i] == x)) {
            rank += zn_span(p)[i];
            p = p->fwd[i];
        }
        if (p == x) return rank;
    }
    LODE_PANIC("zset: node not in its skiplist");
}

/* The node of 1-based rank r (r <= len). */
static struct zn *zsl_at(const struct zset *z, size_t r)
{
    size_t t = 0;
    struct zn *p = z->head;
    for (int i = z->level - 1; i >= 0; i--) {
        while (p->fwd[i] && t + zn_span(p)[i] <= r) {
            t += zn_span(p)[i];
            p = p->fwd[i];
        }
        if (t == r) return p;
    }
    return NULL;
}

/* Deletes the nodes of 0-based ranks [start, start + count). */
static void zsl_delete_ranks(struct zset *z, size_t start, size_t count)
{
    struct zn *update[ZSL_MAXLEVEL];
    struct zn *p = z->head;
    size_t t = 0;
    for (int i = z->level - 1; i >= 0; i--) {
        while (p->fwd[i] && t + zn_span(p)[i] <= start) {
            t += zn_span(p)[i];
            p = p->fwd[i];
        }
        update[i] = p;
    }
    struct zn *x = p->fwd[0];
    while (x && count--) {
        struct zn *next = x->fwd[0];
        zsl_unlink(z, x, update);
        dict_unlink(&z->d, zn_mem(x), x->mlen, util_hash(zn_mem(x), x->mlen));
        lode_free(x);
        x = next;
    }
}

static struct zn *zsl_first_score(const struct zset *z, const struct zrange *r)
{
    if (zr_empty(r) || !z->tail || !zr_gte_min(z->tail->score, r)) return NULL;
    struct zn *p = z->head;
    for (int i = z->level - 1; i >= 0; i--)
        while (p->fwd[i] && !zr_gte_min(p->fwd[i]->score, r)) p = p->fwd[i];
    p = p->fwd[0];
    return p && zr_lte_max(p->score, r) ? p : NULL;
}

static struct zn *zsl_last_score(const struct zset *z, const struct zrange *r)
{
    if (zr_empty(r) || !z->len || !zr_lte_max(z->head->fwd[0]->score, r)) return NULL;
    struct zn *p = z->head;
    for (int i = z->level - 1; i >= 0; i--)
        while (p->fwd[i] && zr_lte_max(p->fwd[i]->score, r)) p = p->fwd[i];
    return p != z->head && zr_gte_min(p->score, r) ? p : NULL;
}

static struct zn *zsl_first_lex(const struct zset *z, const struct zlex *r)
{
    if (zl_empty(r) || !z->tail || !zl_gte_min(zn_mem(z->tail), z->tail->mlen, r)) return NULL;
    struct zn *p = z->head;
    for (int i = z->level - 1; i >= 0; i--)
        while (p->fwd[i] && !zl_gte_min(zn_mem(p->fwd[i]), p->fwd[i]->mlen, r)) p = p->fwd[i];
    p = p->fwd[0];
    return p && zl_lte_max(zn_mem(p), p->mlen, r) ? p : NULL;
}

static struct zn *zsl_last_lex(const struct zset *z, const struct zlex *r)
{
    if (zl_empty(r) || !z->len) return NULL;
    struct zn *f = z->head->fwd[0];
    if (!zl_lte_max(zn_mem(f), f->mlen, r)) return NULL;
    struct zn *p = z->head;
    for (int i = z->level - 1; i >= 0; i--)
        while (p->fwd[i] && zl_lte_max(zn_mem(p->fwd[i]), p->fwd[i]->mlen, r)) p = p->fwd[i];
    return p != z->head && zl_gte_min(zn_mem(p), p->mlen, r) ? p : NULL;
}

/* ---------------------------------------------------------------------
 * Listpack helpers
 * ------------------------------------------------------------------ */

/* Whether score is stored as a pack integer (see the file header). */
static bool score_as_int(double d, long long *v)
{
    if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0)) return false;
    long long x = (long long)d;
    if ((double)x != d) return false;
    char tmp[UTIL_LLSTR_SIZE];
    if (util_ll2str(tmp, x) == 8) return false;
    *v = x;
    return true;
}

static uint8_t *zpk_insert_score(uint8_t *pk, uint8_t **e, double score)
{
    long long v;
    if (score_as_int(score, &v)) return pk_insert_ll(pk, e, v);
    uint8_t b[8];
    put_le64(b, dbl_bits(score));
    return pk_insert(pk, e, (const char *)b, 8);
}

/* Decodes a score entry; false when it is not one (corrupt input). */
static bool zpk_score_ok(const uint8_t *e, double *out)
{
    struct pk_val v;
    pk_get(e, &v);
    if (v.s) {
        if (v.len != 8) return false;
        *out = bits_dbl(get_le64((const uint8_t *)v.s));
    } else {
        char tmp[UTIL_LLSTR_SIZE];
        if (util_ll2str(tmp, v.v) == 8)
            *out = bits_dbl(get_le64((const uint8_t *)tmp));
        else
            *out = (double)v.v;
    }
    return !isnan(*out);
}

static double zpk_score(const uint8_t *e)
{
    double d = 0;
    zpk_score_ok(e, &d);
    return d;
}

/* Inserts the pair before member entry `before` (NULL: at the end). */
static uint8_t *zpk_insert_pair(uint8_t *pk, uint8_t *before, const char *m, size_t n, double score)
{
    uint8_t *e = before;
    pk = pk_insert(pk, &e, m, n);
    uint8_t *s = pk_next(pk, e);
    return zpk_insert_score(pk, &s, score);
}

/* Inserts a member that is absent at its sorted place. */
static uint8_t *zpk_insert_sorted(uint8_t *pk, double score, const char *m, size_t n)
{
    uint8_t *e = pk_first(pk);
    char tmp[UTIL_LLSTR_SIZE];
    while (e) {
        uint8_t *s = pk_next(pk, e);
        double sc = zpk_score(s);
        if (sc > score) break;
        if (sc == score) {
            size_t l;
            const char *p = pk_str(e, tmp, &l);
            if (mem_cmp(p, l, m, n) > 0) break;
        }
        e = pk_next(pk, s);
    }
    return zpk_insert_pair(pk, e, m, n, score);
}

/* ---------------------------------------------------------------------
 * Encoding-independent access (a kv of type OBJ_ZSET)
 * ------------------------------------------------------------------ */

static inline bool is_pack(const struct kv *kv)
{
    return kv->enc == ZENC_LISTPACK;
}

static size_t zs_len(const struct kv *kv)
{
    return is_pack(kv) ? pk_count(kv->v.ptr) / 2 : ((struct zset *)kv->v.ptr)->len;
}

/* A position: a member entry of a pack or a skiplist node. */
struct zpos {
    uint8_t *e;
    struct zn *n;
};

static inline bool zp_ok(const struct zpos *p)
{
    return p->e || p->n;
}

static const char *zp_member(const struct zpos *p, char *tmp, size_t *len)
{
    if (p->e) return pk_str(p->e, tmp, len);
    *len = p->n->mlen;
    return zn_mem(p->n);
}

static double zp_score(const struct kv *kv, const struct zpos *p)
{
    if (p->e) return zpk_score(pk_next(kv->v.ptr, p->e));
    return p->n->score;
}

static void zp_next(const struct kv *kv, struct zpos *p)
{
    if (p->e)
        p->e = pk_next(kv->v.ptr, pk_next(kv->v.ptr, p->e));
    else if (p->n)
        p->n = p->n->fwd[0];
}

static void zp_prev(const struct kv *kv, struct zpos *p)
{
    if (p->e) {
        uint8_t *s = pk_prev(kv->v.ptr, p->e);
        p->e = s ? pk_prev(kv->v.ptr, s) : NULL;
    } else if (p->n) {
        p->n = p->n->back;
    }
}

/* Position of 0-based rank r (< len). */
static struct zpos zp_at(const struct kv *kv, size_t r)
{
    struct zpos p = {NULL, NULL};
    if (r >= zs_len(kv)) return p;
    if (is_pack(kv))
        p.e = pk_at(kv->v.ptr, (long long)(2 * r));
    else
        p.n = zsl_at(kv->v.ptr, r + 1);
    return p;
}

/* 0-based rank of a position. */
static size_t zp_rank(const struct kv *kv, const struct zpos *p)
{
    if (p->n) return zsl_rank(kv->v.ptr, p->n) - 1;
    size_t r = 0;
    uint8_t *pk = kv->v.ptr;
    for (uint8_t *e = pk_first(pk); e && e != p->e; e = pk_next(pk, pk_next(pk, e))) r++;
    return r;
}

static struct zpos zp_first_score(const struct kv *kv, const struct zrange *r)
{
    struct zpos p = {NULL, NULL};
    if (!is_pack(kv)) {
        p.n = zsl_first_score(kv->v.ptr, r);
        return p;
    }
    if (zr_empty(r)) return p;
    uint8_t *pk = kv->v.ptr;
    for (uint8_t *e = pk_first(pk); e; e = pk_next(pk, pk_next(pk, e))) {
        double s = zpk_score(pk_next(pk, e));
        if (zr_gte_min(s, r)) {
            if (zr_lte_max(s, r)) p.e = e;
            return p;
        }
    }
    return p;
}

static struct zpos zp_last_score(const struct kv *kv, const struct zrange *r)
{
    struct zpos p = {NULL, NULL};
    if (!is_pack(kv)) {
        p.n = zsl_last_score(kv->v.ptr, r);
        return p;
    }
    if (zr_empty(r)) return p;
    uint8_t *pk = kv->v.ptr;
    for (uint8_t *s = pk_last(pk); s; s = pk_prev(pk, pk_prev(pk, s))) {
        double v = zpk_score(s);
        if (zr_lte_max(v, r)) {
            if (zr_gte_min(v, r)) p.e = pk_prev(pk, s);
            return p;
        }
    }
    return p;
}

static struct zpos zp_first_lex(const struct kv *kv, const struct zlex *r)
{
    struct zpos p = {NULL, NULL};
    if (!is_pack(kv)) {
        p.n = zsl_first_lex(kv->v.ptr, r);
        return p;
    }
    if (zl_empty(r)) return p;
    uint8_t *pk = kv->v.ptr;
    char tmp[UTIL_LLSTR_SIZE];
    for (uint8_t *e = pk_first(pk); e; e = pk_next(pk, pk_next(pk, e))) {
        size_t n;
        const char *m = pk_str(e, tmp, &n);
        if (zl_gte_min(m, n, r)) {
            if (zl_lte_max(m, n, r)) p.e = e;
            return p;
        }
    }
    return p;
}

static struct zpos zp_last_lex(const struct kv *kv, const struct zlex *r)
{
    struct zpos p = {NULL, NULL};
    if (!is_pack(kv)) {
        p.n = zsl_last_lex(kv->v.ptr, r);
        return p;
    }
    if (zl_empty(r)) return p;
    uint8_t *pk = kv->v.ptr;
    char tmp[UTIL_LLSTR_SIZE];
    for (uint8_t *s = pk_last(pk); s; s = pk_prev(pk, pk_prev(pk, s))) {
        uint8_t *e = pk_prev(pk, s);
        size_t n;
        const char *m = pk_str(e, tmp, &n);
        if (zl_lte_max(m, n, r)) {
            if (zl_gte_min(m, n, r)) p.e = e;
            return p;
        }
    }
    return p;
}

static bool zs_score(const struct kv *kv, const char *m, size_t n, double *score)
{
    if (is_pack(kv)) {
        uint8_t *pk = kv->v.ptr;
        uint8_t *e = pk_find(pk, NULL, m, n, 1);
        if (!e) return false;
        *score = zpk_score(pk_next(pk, e));
        return true;
    }
    struct zn *x = zset_find(kv->v.ptr, m, n);
    if (!x) return false;
    *score = x->score;
    return true;
}

/* Converts a listpack set to a skiplist. */
static void zs_to_skiplist(struct kv *kv)
{
    lode_assert(is_pack(kv));
    uint8_t *pk = kv->v.ptr;
    struct zset *z = zset_new();
    char tmp[UTIL_LLSTR_SIZE];
    for (uint8_t *e = pk_first(pk); e; e = pk_next(pk, pk_next(pk, e))) {
        size_t n;
        const char *m = pk_str(e, tmp, &n);
        zset_insert(z, zpk_score(pk_next(pk, e)), m, n);
    }
    pk_free(pk);
    kv->v.ptr = z;
    kv->enc = ZENC_SKIPLIST;
}

/* Converts a skiplist set to a listpack (callers check that it fits). */
static void zs_to_pack(struct kv *kv)
{
    lode_assert(!is_pack(kv));
    struct zset *z = kv->v.ptr;
    uint8_t *pk = pk_new();
    for (struct zn *x = z->head->fwd[0]; x; x = x->fwd[0])
        pk = zpk_insert_pair(pk, NULL, zn_mem(x), x->mlen, x->score);
    zset_free(z);
    kv->v.ptr = pk;
    kv->enc = ZENC_LISTPACK;
}

/* ZADD flags in and out. */
enum {
    ZA_INCR = 1 << 0,
    ZA_NX = 1 << 1,
    ZA_XX = 1 << 2,
    ZA_GT = 1 << 3,
    ZA_LT = 1 << 4,
};
enum {
    ZA_OUT_NOP = 1 << 0,
    ZA_OUT_NAN = 1 << 1,
    ZA_OUT_ADDED = 1 << 2,
    ZA_OUT_UPDATED = 1 << 3,
};

/* Adds or updates a member as ZADD does; returns ZA_OUT_* flags and the
 * resulting score in *newscore. Converts to a skiplist when an insert
 * would pass the thresholds in lim. */
static int zs_add(struct kv *kv, const struct engine_limits *lim, double score, const char *m,
                  size_t n, int in, double *newscore)
{
    double cur;
    bool exists;
    struct zn *x = NULL;
    uint8_t *pe = NULL;
    if (is_pack(kv)) {
        pe = pk_find(kv->v.ptr, NULL, m, n, 1);
        exists = pe != NULL;
        if (exists) cur = zpk_score(pk_next(kv->v.ptr, pe));
    } else {
        x = zset_find(kv->v.ptr, m, n);
        exists = x != NULL;
        if (exists) cur = x->score;
    }
    if (exists) {
        if (in & ZA_NX) return ZA_OUT_NOP;
        if (in & ZA_INCR) {
            score += cur;
            if (isnan(score)) return ZA_OUT_NAN;
        }
        if (((in & ZA_GT) && score <= cur) || ((in & ZA_LT) && score >= cur)) return ZA_OUT_NOP;
        *newscore = score;
        if (score == cur) return 0;
        if (is_pack(kv)) {
            uint8_t *pk = pk_delete(kv->v.ptr, &pe, 2);
            kv->v.ptr = zpk_insert_sorted(pk, score, m, n);
        } else {
            zset_rescore(kv->v.ptr, x, score);
        }
        return ZA_OUT_UPDATED;
    }
    if (in & ZA_XX) return ZA_OUT_NOP;
    if (is_pack(kv) && (zs_len(kv) + 1 > (size_t)lim->zset_max_listpack_entries ||
                        n > (size_t)lim->zset_max_listpack_value))
        zs_to_skiplist(kv);
    if (is_pack(kv))
        kv->v.ptr = zpk_insert_sorted(kv->v.ptr, score, m, n);
    else
        zset_insert(kv->v.ptr, score, m, n);
    *newscore = score;
    return ZA_OUT_ADDED;
}

static bool zs_del(struct kv *kv, const char *m, size_t n)
{
    if (is_pack(kv)) {
        uint8_t *e = pk_find(kv->v.ptr, NULL, m, n, 1);
        if (!e) return false;
        kv->v.ptr = pk_delete(kv->v.ptr, &e, 2);
        return true;
    }
    struct zn *x = zset_find(kv->v.ptr, m, n);
    if (!x) return false;
    zset_remove(kv->v.ptr, x);
    return true;
}

/* Deletes 0-based ranks [start, start + count). */
static void zs_delete_ranks(struct kv *kv, size_t start, size_t count)
{
    if (!count) return;
    if (is_pack(kv))
        kv->v.ptr = pk_delete_range(kv->v.ptr, (long long)(2 * start), (uint32_t)(2 * count));
    else
        zsl_delete_ranks(kv->v.ptr, start, count);
}

/* A new empty sorted set entry (not in any table) in the encoding Redis
 * would create for a first member of mlen bytes. */
static struct kv *zs_new_kv(const char *key, size_t klen, const struct engine_limits *lim,
                            size_t mlen)
{
    if (lim->zset_max_listpack_entries == 0 || mlen > (size_t)lim->zset_max_listpack_value)
        return kv_new_obj(key, klen, OBJ_ZSET, ZENC_SKIPLIST, zset_new());
    return kv_new_obj(key, klen, OBJ_ZSET, ZENC_LISTPACK, pk_new());
}

/* ---------------------------------------------------------------------
 * obj_ops hooks
 * ------------------------------------------------------------------ */

static void zset_ops_free(void *ptr, int enc)
{
    if (enc == ZENC_LISTPACK)
        pk_free(ptr);
    else
        zset_free(ptr);
}

static void *zset_ops_dup(const void *ptr, int enc)
{
    if (enc == ZENC_LISTPACK) return pk_dup(ptr);
    const struct zset *z = ptr;
    struct zset *c = zset_new();
    for (struct zn *x = z->head->fwd[0]; x; x = x->fwd[0]) {
        /* same level: the copy has the same shape */
        struct zn *y = zn_new(x->lvl, x->score, zn_mem(x), x->mlen);
        zsl_link(c, y);
        dict_add(&c->d, &y->h, util_hash(zn_mem(y), y->mlen));
    }
    return c;
}

static size_t zset_ops_mem(const void *ptr, int enc)
{
    if (enc == ZENC_LISTPACK) return pk_mem(ptr);
    const struct zset *z = ptr;
    size_t n = lode_usable(z) + lode_usable(z->head) + dict_buckets(&z->d) * sizeof(void *);
    /* sample the first nodes and extrapolate, as MEMORY USAGE does */
    size_t k = 0, sum = 0;
    for (const struct zn *x = z->head->fwd[0]; x && k < 5; x = x->fwd[0], k++)
        sum += lode_usable(x);
    if (k) n += sum * z->len / k;
    return n;
}

static const char *zset_ops_enc_name(int enc)
{
    return enc == ZENC_LISTPACK ? "listpack" : "skiplist";
}

/* Walks members in order, calling fn(member, score). */
static int zs_walk(const void *ptr, int enc,
                   int (*fn)(void *priv, const char *m, size_t n, double score), void *priv)
{
    if (enc == ZENC_LISTPACK) {
        uint8_t *pk = (uint8_t *)ptr;
        char tmp[UTIL_LLSTR_SIZE];
        for (uint8_t *e = pk_first(pk); e; e = pk_next(pk, pk_next(pk, e))) {
            size_t n;
            const char *m = pk_str(e, tmp, &n);
            int rc = fn(priv, m, n, zpk_score(pk_next(pk, e)));
            if (rc) return rc;
        }
        return 0;
    }
    const struct zset *z = ptr;
    for (struct zn *x = z->head->fwd[0]; x; x = x->fwd[0]) {
        int rc = fn(priv, zn_mem(x), x->mlen, x->score);
        if (rc) return rc;
    }
    return 0;
}

static int digest_one(void *priv, const char *m, size_t n, double score)
{
    uint8_t *out = priv;
    char num[64];
    int l = util_d2str(num, sizeof(num), score);
    uint8_t len[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    digest_mix(out, len, 4);
    digest_mix(out, m, n);
    digest_mix(out, num, (size_t)l);
    return 0;
}

/* Elements are mixed in (score, member) order, the same in both
 * encodings; the score as its reply text. */
static void zset_ops_digest(const void *ptr, int enc, uint8_t out[20])
{
    zs_walk(ptr, enc, digest_one, out);
}

static int ser_one(void *priv, const char *m, size_t n, double score)
{
    struct buf *out = priv;
    ser_put_str(out, m, n);
    ser_put_u64(out, dbl_bits(score));
    return 0;
}

static int zset_ops_serialize(struct buf *out, const void *ptr, int enc)
{
    if (enc == ZENC_LISTPACK) {
        buf_append(out, ptr, pk_bytes(ptr));
        return ZSER_PACK;
    }
    const struct zset *z = ptr;
    ser_put_u64(out, z->len);
    zs_walk(ptr, enc, ser_one, out);
    return ZSER_SKIPLIST;
}

/* Member-entry pointers of a pack, sorted by member bytes (dup check). */
static int cmp_pk_members(const void *a, const void *b)
{
    char ta[UTIL_LLSTR_SIZE], tb[UTIL_LLSTR_SIZE];
    size_t na, nb;
    const char *pa = pk_str(*(uint8_t *const *)a, ta, &na);
    const char *pb = pk_str(*(uint8_t *const *)b, tb, &nb);
    return mem_cmp(pa, na, pb, nb);
}

/* Checks a pack's sorted-set rules: pairs, valid scores, strictly
 * increasing (score, member), no member twice. */
static bool zpk_check(uint8_t *pk)
{
    uint32_t cnt = pk_count(pk);
    if (cnt % 2) return false;
    uint8_t **members = cnt ? lode_malloc(sizeof(uint8_t *) * (cnt / 2)) : NULL;
    bool ok = true;
    size_t k = 0;
    double prev = 0;
    const char *pm = NULL;
    size_t pn = 0;
    char tmp[UTIL_LLSTR_SIZE], ptmp[UTIL_LLSTR_SIZE];
    for (uint8_t *e = pk_first(pk); e && ok; e = pk_next(pk, pk_next(pk, e))) {
        double s;
        if (!zpk_score_ok(pk_next(pk, e), &s)) {
            ok = false;
            break;
        }
        size_t n;
        const char *m = pk_str(e, tmp, &n);
        if (k && (s < prev || (s == prev && mem_cmp(pm, pn, m, n) >= 0))) ok = false;
        members[k++] = e;
        prev = s;
        /* keep the previous member's bytes (an integer's digits live in tmp) */
        if (m == tmp) {
            memcpy(ptmp, tmp, n);
            pm = ptmp;
        } else {
            pm = m;
        }
        pn = n;
    }
    if (ok && k > 1) {
        qsort(members, k, sizeof(*members), cmp_pk_members);
        for (size_t i = 1; i < k && ok; i++)
            if (cmp_pk_members(&members[i - 1], &members[i]) == 0) ok = false;
    }
    lode_free(members);
    return ok;
}

static int zset_ops_parse(const uint8_t *p, size_t n, int ser_enc, void **ptr, int *enc)
{
    if (ser_enc == ZSER_PACK) {
        if (!pk_validate(p, n)) return LODE_ECORRUPT;
        uint8_t *pk = pk_from_bytes(p, n);
        if (!zpk_check(pk)) {
            pk_free(pk);
            return LODE_ECORRUPT;
        }
        *ptr = pk;
        *enc = ZENC_LISTPACK;
        return 0;
    }
    if (ser_enc != ZSER_SKIPLIST) return LODE_EVERSION;
    struct ser_rd r = ser_rd_init(p, n);
    uint64_t cnt;
    /* each element takes at least 12 bytes: u32 length + u64 score */
    if (!ser_get_u64(&r, &cnt) || cnt > (n - r.off) / 12 || cnt == 0) return LODE_ECORRUPT;
    struct zset *z = zset_new();
    for (uint64_t i = 0; i < cnt; i++) {
        const char *m;
        size_t mn;
        uint64_t bits;
        if (!ser_get_str(&r, &m, &mn) || !ser_get_u64(&r, &bits)) goto bad;
        double s = bits_dbl(bits);
        if (isnan(s)) goto bad;
        if (z->tail && zn_before(z->tail, s, m, mn) == false) goto bad; /* not increasing */
        if (zset_find(z, m, mn)) goto bad;
        zset_insert(z, s, m, mn);
    }
    if (!ser_rd_done(&r)) goto bad;
    *ptr = z;
    *enc = ZENC_SKIPLIST;
    return 0;
bad:
    zset_free(z);
    return LODE_ECORRUPT;
}

struct each_ctx {
    int (*fn)(void *priv, const char *a, size_t alen, const char *b, size_t blen);
    void *priv;
};

static int each_one(void *priv, const char *m, size_t n, double score)
{
    struct each_ctx *c = priv;
    char num[64];
    int l = util_d2str(num, sizeof(num), score);
    return c->fn(c->priv, m, n, num, (size_t)l);
}

static void zset_ops_each(const void *ptr, int enc,
                          int (*fn)(void *priv, const char *a, size_t alen, const char *b,
                                    size_t blen),
                          void *priv)
{
    struct each_ctx c = {fn, priv};
    zs_walk(ptr, enc, each_one, &c);
}

static const struct obj_ops zset_ops = {
    .free = zset_ops_free,
    .dup = zset_ops_dup,
    .mem = zset_ops_mem,
    .enc_name = zset_ops_enc_name,
    .digest = zset_ops_digest,
    .ser_type = SER_TYPE_ZSET,
    .serialize = zset_ops_serialize,
    .parse = zset_ops_parse,
    .each = zset_ops_each,
};

void zset_register(void)
{
    obj_register(OBJ_ZSET, &zset_ops);
}

/* ---------------------------------------------------------------------
 * Command helpers
 * ------------------------------------------------------------------ */

static void key_changed(struct cmd_ctx *ctx, const struct kv *kv)
{
    db_key_changed(ctx->eng, ctx->db, kv->data, kv->klen);
}

/* After removals: notifies event, then deletes the key when the set
 * became empty (notifying "del"), else reports the in-place change. */
static void after_removal(struct cmd_ctx *ctx, struct kv *kv, const char *event)
{
    notify_keyspace_event(ctx->eng, NOTIFY_ZSET, event, ctx->db, kv->data, kv->klen);
    if (zs_len(kv) == 0) {
        notify_keyspace_event(ctx->eng, NOTIFY_GENERIC, "del", ctx->db, kv->data, kv->klen);
        db_delete(ctx->eng, ctx->db, kv->data, kv->klen);
    } else {
        key_changed(ctx, kv);
    }
}

/* Looks up argv[i] for a sorted-set command; replies WRONGTYPE (and sets
 * *bad) for another type. */
static struct kv *lookup_zset(struct cmd_ctx *ctx, int i, bool write, bool *bad)
{
    struct kv *kv = write ? ctx_lookup_write(ctx, i) : ctx_lookup_read(ctx, i);
    *bad = kv && ctx_wrongtype(ctx, kv, OBJ_ZSET);
    return *bad ? NULL : kv;
}

/* Parses a long as getLongFromObjectOrReply does. */
static bool arg_long(struct cmd_ctx *ctx, int i, long long *v)
{
    return arg_ll(ctx, i, v, NULL);
}

/* Output of a range: the client's reply, or a set being built (STORE). */
struct zout {
    struct cmd_ctx *ctx;
    bool withscores;
    struct kv *dst; /* building a result to store; NULL: reply */
    size_t n;
    size_t token;
};

static void zout_begin(struct zout *o)
{
    o->n = 0;
    if (!o->dst) o->token = reply_defer(o->ctx->r);
}

static void zout_emit(struct zout *o, const char *m, size_t n, double score)
{
    o->n++;
    if (o->dst) {
        double ns;
        zs_add(o->dst, &o->ctx->eng->lim, score, m, n, 0, &ns);
        return;
    }
    struct reply *r = o->ctx->r;
    if (o->withscores && r->resp >= 3) reply_array(r, 2);
    reply_bulk(r, m, n);
    if (o->withscores) reply_double(r, score);
}

static void zout_emit_pos(struct zout *o, const struct kv *kv, const struct zpos *p)
{
    char tmp[UTIL_LLSTR_SIZE];
    size_t n;
    const char *m = zp_member(p, tmp, &n);
    zout_emit(o, m, n, o->withscores || o->dst ? zp_score(kv, p) : 0);
}

/* Called before a rank range of n elements is emitted into a STORE
 * result: Redis creates that result as a skiplist when n is over
 * zset-max-listpack-entries (score and lex ranges, whose size is not
 * known in advance, start as a listpack and convert on the insert that
 * passes a threshold). The encoding matters beyond OBJECT ENCODING: a
 * pack stores -0 as 0, a skiplist keeps -0. */
static void zout_size_hint(struct zout *o, size_t n)
{
    if (o->dst && is_pack(o->dst) && zs_len(o->dst) == 0 &&
        n > (size_t)o->ctx->eng->lim.zset_max_listpack_entries)
        zs_to_skiplist(o->dst);
}

static void zout_end(struct zout *o)
{
    if (o->dst) return;
    struct reply *r = o->ctx->r;
    long long items = (long long)o->n;
    if (o->withscores && r->resp < 3) items *= 2;
    reply_defer_array(r, o->token, items);
}

/* Stores the built set under argv[di] (deleting it when empty) and replies
 * with its size. */
static void store_result(struct cmd_ctx *ctx, int di, struct kv *tmp)
{
    const struct slice *dk = &ctx->argv[di];
    size_t n = tmp ? zs_len(tmp) : 0;
    if (n) {
        struct kv *kv = kv_rekey(tmp, dk->ptr, dk->len);
        db_set(ctx->eng, ctx->db, kv, false);
        /* the event is the command's name: zunionstore, zrangestore, ... */
        NOTIFY_ARG(ctx, NOTIFY_ZSET, ctx->cmd->name, di);
        ctx_dirty(ctx, 1);
    } else {
        if (tmp) kv_free(tmp);
        if (db_delete(ctx->eng, ctx->db, dk->ptr, dk->len)) {
            NOTIFY_ARG(ctx, NOTIFY_GENERIC, "del", di);
            ctx_dirty(ctx, 1);
        }
    }
    reply_int(ctx->r, (long long)n);
}

/* ---------------------------------------------------------------------
 * ZADD, ZINCRBY
 * ------------------------------------------------------------------ */

static void emit_zadd(struct cmd_ctx *ctx, const struct slice *key, double score,
                      const struct slice *member)
{
    char num[64];
    int l = util_d2str(num, sizeof(num), score);
    struct slice a[4] = {{"ZADD", 4}, *key, {num, (size_t)l}, *member};
    ctx_emit(ctx, 4, a);
}

static void zadd_generic(struct cmd_ctx *ctx, int first, int flags)
{
    int j = first;
    bool ch = false;
    for (; j < ctx->argc; j++) {
        if (arg_is(ctx, j, "nx"))
            flags |= ZA_NX;
        else if (arg_is(ctx, j, "xx"))
            flags |= ZA_XX;
        else if (arg_is(ctx, j, "ch"))
            ch = true;
        else if (arg_is(ctx, j, "incr"))
            flags |= ZA_INCR;
        else if (arg_is(ctx, j, "gt"))
            flags |= ZA_GT;
        else if (arg_is(ctx, j, "lt"))
            flags |= ZA_LT;
        else
            break;
    }
    int elements = ctx->argc - j;
    if (elements % 2 || !elements) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    elements /= 2;
    bool incr = flags & ZA_INCR;
    if ((flags & ZA_NX) && (flags & ZA_XX)) {
        reply_error(ctx->r, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    if (((flags & ZA_GT) && (flags & ZA_NX)) || ((flags & ZA_LT) && (flags & ZA_NX)) ||
        ((flags & ZA_GT) && (flags & ZA_LT))) {
        reply_error(ctx->r, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if (incr && elements > 1) {
        reply_error(ctx->r, "ERR INCR option supports a single increment-element pair");
        return;
    }
    double stack_scores[16];
    double *scores = elements <= 16 ? stack_scores : lode_malloc(sizeof(double) * elements);
    for (int i = 0; i < elements; i++)
        if (!arg_double(ctx, j + 2 * i, &scores[i])) goto out;

    bool bad;
    struct kv *kv = lookup_zset(ctx, 1, true, &bad);
    if (bad) goto out;
    long long added = 0, updated = 0, processed = 0;
    double score = 0;
    bool created = false;
    if (!kv) {
        if (flags & ZA_XX) goto reply;
        const struct slice *k = &ctx->argv[1];
        kv = zs_new_kv(k->ptr, k->len, &ctx->eng->lim, ctx->argv[j + 1].len);
        db_add(ctx->eng, ctx->db, kv);
        created = true;
    }
    for (int i = 0; i < elements; i++) {
        const struct slice *m = &ctx->argv[j + 2 * i + 1];
        double ns = 0;
        int out = zs_add(kv, &ctx->eng->lim, scores[i], m->ptr, m->len, flags, &ns);
        if (out & ZA_OUT_NAN) {
            reply_error(ctx->r, "ERR resulting score is not a number (NaN)");
            if (created && zs_len(kv) == 0) db_delete(ctx->eng, ctx->db, kv->data, kv->klen);
            goto out;
        }
        if (out & ZA_OUT_ADDED) added++;
        if (out & ZA_OUT_UPDATED) updated++;
        if (!(out & ZA_OUT_NOP)) processed++;
        score = ns;
    }
    if (added || updated) {
        if (!created) {
            key_changed(ctx, kv);
            /* db_add signalled a new key; an existing one is signalled
             * too (as list pushes do) so that no waiter can miss it */
            if (added) db_signal_ready(ctx->eng, ctx->db, kv->data, kv->klen);
        }
        NOTIFY_ARG(ctx, NOTIFY_ZSET, incr ? "zincr" : "zadd", 1);
        ctx_dirty(ctx, added + updated);
        if (incr)
            emit_zadd(ctx, &ctx->argv[1], score, &ctx->argv[j + 1]);
        else
            ctx_emit(ctx, ctx->argc, ctx->argv);
    } else if (created && zs_len(kv) == 0) {
        db_delete(ctx->eng, ctx->db, kv->data, kv->klen);
    }
reply:
    if (incr) {
        if (processed)
            reply_double(ctx->r, score);
        else
            reply_null(ctx->r);
    } else {
        reply_int(ctx->r, ch ? added + updated : added);
    }
out:
    if (scores != stack_scores) lode_free(scores);
}

void cmd_zadd(struct cmd_ctx *ctx)
{
    zadd_generic(ctx, 2, 0);
}

void cmd_zincrby(struct cmd_ctx *ctx)
{
    /* ZINCRBY key increment member == ZADD key INCR increment member */
    zadd_generic(ctx, 2, ZA_INCR);
}

/* ---------------------------------------------------------------------
 * Reads: ZSCORE ZMSCORE ZCARD ZCOUNT ZLEXCOUNT ZRANK ZREVRANK
 * ------------------------------------------------------------------ */

void cmd_zscore(struct cmd_ctx *ctx)
{
    bool bad;
    struct kv *kv = lookup_zset(ctx, 1, false, &bad);
    if (bad) return;
    double s;
    if (kv && zs_score(kv, ctx->argv[2].ptr, ctx->argv[2].len, &s))
        reply_double(ctx->r, s);
    else
        reply_null(ctx->r);
}

void cmd_zmscore(struct cmd_ctx *ctx)
{
    bool bad;
    struct kv *kv = lookup_zset(ctx, 1, false, &bad);
    if (bad) return;
    reply_array(ctx->r, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        double s;
        if (kv && zs_score(kv, ctx->argv[i].ptr, ctx->argv[i].len, &s))
            reply_double(ctx->r, s);
        else
            reply_null(ctx->r);
    }
}

void cmd_zcard(struct cmd_ctx *ctx)
{
    bool bad;
    struct kv *kv = lookup_zset(ctx, 1, false, &bad);
    if (bad) return;
    reply_int(ctx->r, kv ? (long long)zs_len(kv) : 0);
}

/* Number of elements from position p onwards while in range. */
static size_t count_from(const struct kv *kv, struct zpos p, const struct zrange *sr,
                         const struct zlex *lr)
{
    size_t n = 0;
    char tmp[UTIL_LLSTR_SIZE];
    for (; zp_ok(&p); zp_next(kv, &p)) {
        if (sr && !zr_lte_max(zp_score(kv, &p), sr)) break;
        if (lr) {
            size_t l;
            const char *m = zp_member(&p, tmp, &l);
            if (!zl_lte_max(m, l, lr)) break;
        }
        n++;
    }
    return n;
}

/* Rank span of a range: first position and count. */
static size_t range_count(const struct kv *kv, const struct zrange *sr, const struct zlex *lr,
                          size_t *first_rank)
{
    struct zpos f = sr ? zp_first_score(kv, sr) : zp_first_lex(kv, lr);
    if (!zp_ok(&f)) return 0;
    if (is_pack(kv)) {
        *first_rank = zp_rank(kv, &f);
        return count_from(kv, f, sr, lr);
    }
    struct zpos l = sr ? zp_last_score(kv, sr) : zp_last_lex(kv, lr);
    size_t a = zp_rank(kv, &f);
    *first_rank = a;
    return zp_rank(kv, &l) - a + 1;
}

void cmd_zcount(struct cmd_ctx *ctx)
{
    struct zrange r;
    if (!parse_range(&ctx->argv[2], &ctx->argv[3], &r)) {
        reply_error(ctx->r, "ERR min or max is not a float");
        return;
    }
    bool bad;
    struct kv *kv = lookup_zset(ctx, 1, false, &bad);
    if (bad) return;
    size_t first;
    reply_int(ctx->r, kv ? (long long)range_count(kv, &r, NULL, &first) : 0);
}

void cmd_zlexcount(struct cmd_ctx *ctx)
{
    struct zlex r;
    if (!parse_lex(&ctx->argv[2], &ctx->argv[3], &r)) {
        reply_error(ctx->r, "ERR min or max not valid string range item");
        return;
    }
    bool bad;
    struct kv *kv = lookup_zset(ctx, 1, false, &bad);
    if (bad) return;
    size_t first;
    reply_int(ctx->r, kv ? (long long)range_count(kv, NULL, &r, &first) : 0);
}

static void zrank_generic(struct cmd_ctx *ctx, bool rev)
{
    bool bad;
    struct kv *kv = lookup_zset(ctx, 1, false, &bad);
    if (bad) return;
    if (!kv) {
        reply_null(ctx->r);
        return;
    }
    const struct slice *m = &ctx->argv[2];
    size_t rank;
    if (is_pack(kv)) {
        uint8_t *e = pk_find(kv->v.ptr, NULL, m->ptr, m->len, 1);
        if (!e) {
            reply_null(ctx->r);
            return;
        }
        struct zpos p = {e, NULL};
        rank = zp_rank(kv, &p);
    } else {
        struct zn *x = zset_find(kv->v.ptr, m->ptr, m->len);
        if (!x) {
            reply_null(ctx->r);
            return;
        }
        rank = zsl_rank(kv->v.ptr, x) - 1;
    }
    reply_int(ctx->r, (long long)(rev ? zs_len(kv) - 1 - rank : rank));
}

void cmd_zrank(struct cmd_ctx *ctx)
{
    zrank_generic(ctx, false);
}

void cmd_zrevrank(struct cmd_ctx *ctx)
{
    zrank_generic(ctx, true);
}

/* ---------------------------------------------------------------------
 * ZRANGE and its variants
 * ------------------------------------------------------------------ */

enum { ZR_AUTO = 0, ZR_RANK, ZR_SCORE, ZR_LEX };
enum { DIR_AUTO = 0, DIR_FWD, DIR_REV };

static void range_by_rank(struct zout *o, const struct kv *kv, long long start, long long end,
                          bool rev)
{
    long long llen = (long long)zs_len(kv);
    if (start < 0) start = llen + start;
    if (end < 0) end = llen + end;
    if (start < 0) start = 0;
    zout_begin(o);
    if (start > end || start >= llen) {
        zout_end(o);
        return;
    }
    if (end >= llen) end = llen - 1;
    long long n = end - start + 1;
    zout_size_hint(o, (size_t)n);
    struct zpos p = zp_at(kv, (size_t)(rev ? llen - 1 - start : start));
    for (; n > 0 && zp_ok(&p); n--) {
        zout_emit_pos(o, kv, &p);
        if (rev)
            zp_prev(kv, &p);
        else
            zp_next(kv, &p);
    }
    zout_end(o);
}

static void range_by_score_or_lex(struct zout *o, const struct kv *kv, const struct zrange *sr,
                                  const struct zlex *lr, bool rev, long long offset,
                                  long long limit)
{
    zout_begin(o);
    if (offset > 0 && offset >= (long long)zs_len(kv)) {
        zout_end(o);
        return;
    }
    struct zpos p;
    if (sr)
        p = rev ? zp_last_score(kv, sr) : zp_first_score(kv, sr);
    else
        p = rev ? zp_last_lex(kv, lr) : zp_first_lex(kv, lr);
    /* Redis's loops: skip offset entries (a negative offset skips all), then
     * emit up to limit (a negative limit means all) */
    while (zp_ok(&p) && offset--) {
        if (rev)
            zp_prev(kv, &p);
        else
            zp_next(kv, &p);
    }
    char tmp[UTIL_LLSTR_SIZE];
    while (zp_ok(&p) && limit--) {
        double s = zp_score(kv, &p);
        size_t n;
        const char *m = zp_member(&p, tmp, &n);
        if (sr) {
            if (rev ? !zr_gte_min(s, sr) : !zr_lte_max(s, sr)) break;
        } else {
            if (rev ? !zl_gte_min(m, n, lr) : !zl_lte_max(m, n, lr)) break;
        }
        zout_emit(o, m, n, s);
        if (rev)
            zp_prev(kv, &p);
        else
            zp_next(kv, &p);
    }
    zout_end(o);
}

/* The ZRANGE family. key at argv[kidx], range at kidx+1, kidx+2; dst
 * (ZRANGESTORE) at argv[1] when store. */
static void zrange_generic(struct cmd_ctx *ctx, int kidx, bool store, int type, int dir)
{
    bool withscores = false;
    long long offset = 0, limit = -1;
    for (int j = kidx + 3; j < ctx->argc; j++) {
        int left = ctx->argc - j - 1;
        if (!store && arg_is(ctx, j, "withscores")) {
            withscores = true;
        } else if (arg_is(ctx, j, "limit") && left >= 2) {
            if (!arg_long(ctx, j + 1, &offset) || !arg_long(ctx, j + 2, &limit)) return;
            j += 2;
        } else if (dir == DIR_AUTO && arg_is(ctx, j, "rev")) {
            dir = DIR_REV;
        } else if (type == ZR_AUTO && arg_is(ctx, j, "bylex")) {
            type = ZR_LEX;
        } else if (type == ZR_AUTO && arg_is(ctx, j, "byscore")) {
            type = ZR_SCORE;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
    }
    if (dir == DIR_AUTO) dir = DIR_FWD;
    if (type == ZR_AUTO) type = ZR_RANK;
    if (limit != -1 && type == ZR_RANK) {
        reply_error(ctx->r, "ERR syntax error, LIMIT is only supported in combination with "
                            "either BYSCORE or BYLEX");
        return;
    }
    if (withscores && type == ZR_LEX) {
        reply_error(ctx->r, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    bool rev = dir == DIR_REV;
    int mini = kidx + 1, maxi = kidx + 2;
    if (rev && type != ZR_RANK) {
        mini = kidx + 2;
        maxi = kidx + 1;
    }
    long long start = 0, end = 0;
    struct zrange sr;
    struct zlex lr;
    if (type == ZR_RANK) {
        if (!arg_long(ctx, mini, &start) || !arg_long(ctx, maxi, &end)) return;
    } else if (type == ZR_SCORE) {
        if (!parse_range(&ctx->argv[mini], &ctx->argv[maxi], &sr)) {
            reply_error(ctx->r, "ERR min or max is not a float");
            return;
        }
    } else if (!parse_lex(&ctx->argv[mini], &ctx->argv[maxi], &lr)) {
        reply_error(ctx->r, "ERR min or max not valid string range item");
        return;
    }
    bool bad;
    struct kv *kv = lookup_zset(ctx, kidx, false, &bad);
    if (bad) return;
    if (!kv) {
        if (store)
            store_result(ctx, 1, NULL);
        else
            reply_empty_array(ctx->r);
        return;
    }
    struct zout o = {ctx, withscores, NULL, 0, 0};
    if (store) o.dst = zs_new_kv("", 0, &ctx->eng->lim, 0);
    if (type == ZR_RANK)
        range_by_rank(&o, kv, start, end, rev);
    else
        range_by_score_or_lex(&o, kv, type == ZR_SCORE ? &sr : NULL, type == ZR_LEX ? &lr : NULL,
                              rev, offset, limit);
    if (store) store_result(ctx, 1, o.dst);
}

void cmd_zrange(struct cmd_ctx *ctx)
{
    zrange_generic(ctx, 1, false, ZR_AUTO, DIR_AUTO);
}

void cmd_zrangestore(struct cmd_ctx *ctx)
{
    zrange_generic(ctx, 2, true, ZR_AUTO, DIR_AUTO);
}

void cmd_zrevrange(struct cmd_ctx *ctx)
{
    zrange_generic(ctx, 1, false, ZR_RANK, DIR_REV);
}

void cmd_zrangebyscore(struct cmd_ctx *ctx)
{
    zrange_generic(ctx, 1, false, ZR_SCORE, DIR_FWD);
}

void cmd_zrevrangebyscore(struct cmd_ctx *ctx)
{
    zrange_generic(ctx, 1, false, ZR_SCORE, DIR_REV);
}

void cmd_zrangebylex(struct cmd_ctx *ctx)
{
    zrange_generic(ctx, 1, false, ZR_LEX, DIR_FWD);
}

void cmd_zrevrangebylex(struct cmd_ctx *ctx)
{
    zrange_generic(ctx, 1, false, ZR_LEX, DIR_REV);
}

/* ---------------------------------------------------------------------
 * Removal: ZREM ZREMRANGEBY{SCORE,RANK,LEX}
 * ------------------------------------------------------------------ */

void cmd_zrem(struct cmd_ctx *ctx)
{
    bool bad;
    struct kv *kv = lookup_zset(ctx, 1, true, &bad);
    if (bad) return;
    long long deleted = 0;
    if (kv) {
        for (int i = 2; i < ctx->argc; i++) {
            if (zs_del(kv, ctx->argv[i].ptr, ctx->argv[i].len)) deleted++;
            if (zs_len(kv) == 0) break;
        }
        if (deleted) {
            after_removal(ctx, kv, "zrem");
            ctx_dirty(ctx, deleted);
        }
    }
    reply_int(ctx->r, deleted);
}

static void zremrange_generic(struct cmd_ctx *ctx, int type)
{
    long long start = 0, end = 0;
    struct zrange sr;
    struct zlex lr;
    if (type == ZR_RANK) {
        if (!arg_long(ctx, 2, &start) || !arg_long(ctx, 3, &end)) return;
    } else if (type == ZR_SCORE) {
        if (!parse_range(&ctx->argv[2], &ctx->argv[3], &sr)) {
            reply_error(ctx->r, "ERR min or max is not a float");
            return;
        }
    } else if (!parse_lex(&ctx->argv[2], &ctx->argv[3], &lr)) {
        reply_error(ctx->r, "ERR min or max not valid string range item");
        return;
    }
    bool bad;
    struct kv *kv = lookup_zset(ctx, 1, true, &bad);
    if (bad) return;
    if (!kv) {
        reply_int(ctx->r, 0);
        return;
    }
    size_t first = 0, count = 0;
    if (type == ZR_RANK) {
        long long llen = (long long)zs_len(kv);
        if (start < 0) start = llen + start;
        if (end < 0) end = llen + end;
        if (start < 0) start = 0;
        if (start > end || start >= llen) {
            reply_int(ctx->r, 0);
            return;
        }
        if (end >= llen) end = llen - 1;
        first = (size_t)start;
        count = (size_t)(end - start + 1);
    } else {
        count = range_count(kv, type == ZR_SCORE ? &sr : NULL, type == ZR_LEX ? &lr : NULL, &first);
    }
    if (count) {
        zs_delete_ranks(kv, first, count);
        after_removal(ctx, kv, ctx->cmd->name); /* zremrangebyrank, ... */
        ctx_dirty(ctx, (long long)count);
    }
    reply_int(ctx->r, (long long)count);
}

void cmd_zremrangebyrank(struct cmd_ctx *ctx)
{
    zremrange_generic(ctx, ZR_RANK);
}

void cmd_zremrangebyscore(struct cmd_ctx *ctx)
{
    zremrange_generic(ctx, ZR_SCORE);
}

void cmd_zremrangebylex(struct cmd_ctx *ctx)
{
    zremrange_generic(ctx, ZR_LEX);
}

/* ---------------------------------------------------------------------
 * Pops: ZPOPMIN ZPOPMAX ZMPOP
 * ------------------------------------------------------------------ */

/* Pops up to count from the first non-empty key among argv[first..first+
 * nkeys). count < 0: not given (one element). emitkey and nested: reply
 * [key, [[member, score], ...]] ((B)ZMPOP); emitkey alone: the flat [key,
 * member, score, ...] of BZPOPMIN/BZPOPMAX; nested alone: one [member,
 * score] array per element (RESP3 ZPOPMIN with COUNT). */
static void zpop_generic(struct cmd_ctx *ctx, int first, int nkeys, bool max, long long count,
                         bool emitkey, bool nested, bool nil_when_empty)
{
    struct kv *kv = NULL;
    for (int i = 0; i < nkeys; i++) {
        bool bad;
        kv = lookup_zset(ctx, first + i, true, &bad);
        if (bad) return;
        if (kv) break;
    }
    if (!kv) {
        if (nil_when_empty)
            reply_null_array(ctx->r);
        else
            reply_empty_array(ctx->r);
        return;
    }
    if (count == 0) {
        reply_empty_array(ctx->r);
        return;
    }
    if (count < 0) count = 1;
    size_t len = zs_len(kv);
    size_t n = (size_t)count < len ? (size_t)count : len;
    if (emitkey && !nested) {
        /* BZPOPMIN / BZPOPMAX: a flat [key, member, score] */
        reply_array(ctx->r, (long long)(2 * n + 1));
        reply_bulk(ctx->r, kv->data, kv->klen);
    } else {
        if (emitkey) {
            reply_array(ctx->r, 2);
            reply_bulk(ctx->r, kv->data, kv->klen);
        }
        reply_array(ctx->r, (long long)(nested ? n : 2 * n));
    }
    struct zpos p = zp_at(kv, max ? len - 1 : 0);
    char tmp[UTIL_LLSTR_SIZE];
    for (size_t i = 0; i < n; i++) {
        size_t l;
        const char *m = zp_member(&p, tmp, &l);
        if (nested) reply_array(ctx->r, 2);
        reply_bulk(ctx->r, m, l);
        reply_double(ctx->r, zp_score(kv, &p));
        if (max)
            zp_prev(kv, &p);
        else
            zp_next(kv, &p);
    }
    zs_delete_ranks(kv, max ? len - n : 0, n);
    after_removal(ctx, kv, max ? "zpopmax" : "zpopmin");
    ctx_dirty(ctx, (long long)n);
}

static void zpopminmax(struct cmd_ctx *ctx, bool max)
{
    if (ctx->argc > 3) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    long long count = -1;
    if (ctx->argc == 3 &&
        !arg_ll_range(ctx, 2, 0, LLONG_MAX, &count, "ERR value is out of range, must be positive"))
        return;
    zpop_generic(ctx, 1, 1, max, count, false, ctx->r->resp > 2 && count != -1, false);
}

void cmd_zpopmin(struct cmd_ctx *ctx)
{
    zpopminmax(ctx, false);
}

void cmd_zpopmax(struct cmd_ctx *ctx)
{
    zpopminmax(ctx, true);
}

/* Parsed (B)ZMPOP arguments. */
struct zmpop_args {
    int first_key, nkeys;
    bool max;
    long long count;
};

/* Parses numkeys at argv[idx], the keys, MIN|MAX and COUNT, as Redis does
 * (replies the error and returns false on failure). */
static bool zmpop_parse(struct cmd_ctx *ctx, int idx, struct zmpop_args *a)
{
    long long nkeys;
    if (!arg_ll_range(ctx, idx, 1, LLONG_MAX, &nkeys, "ERR numkeys should be greater than 0"))
        return false;
    if (nkeys > ctx->argc - idx - 2) {
        reply_error(ctx->r, ERR_SYNTAX);
        return false;
    }
    int wi = idx + (int)nkeys + 1;
    if (arg_is(ctx, wi, "min")) {
        a->max = false;
    } else if (arg_is(ctx, wi, "max")) {
        a->max = true;
    } else {
        reply_error(ctx->r, ERR_SYNTAX);
        return false;
    }
    long long count = -1;
    for (int j = wi + 1; j < ctx->argc; j++) {
        if (count == -1 && arg_is(ctx, j, "count") && j + 1 < ctx->argc) {
            j++;
            if (!arg_ll_range(ctx, j, 1, LLONG_MAX, &count, "ERR count should be greater than 0"))
                return false;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return false;
        }
    }
    a->count = count == -1 ? 1 : count;
    a->first_key = idx + 1;
    a->nkeys = (int)nkeys;
    return true;
}

void cmd_zmpop(struct cmd_ctx *ctx)
{
    struct zmpop_args a;
    if (!zmpop_parse(ctx, 1, &a)) return;
    zpop_generic(ctx, a.first_key, a.nkeys, a.max, a.count, true, true, true);
}

/* ---------------------------------------------------------------------
 * Blocking pops: BZPOPMIN BZPOPMAX BZMPOP (see ctx_block in cmd.h)
 *
 * Whether they pop at once or when the server re-runs them for a ready
 * key, they emit what they did as Redis 7.0 propagates it: ZPOPMIN/ZPOPMAX
 * key (BZPOPMIN/BZPOPMAX), ZPOPMIN/ZPOPMAX key n with n the number popped
 * (BZMPOP).
 * ------------------------------------------------------------------ */

static void emit_zpop(struct cmd_ctx *ctx, const struct slice *key, bool max, long long count)
{
    char num[UTIL_LLSTR_SIZE];
    struct slice a[3] = {{max ? "ZPOPMAX" : "ZPOPMIN", 7}, *key};
    int argc = 2;
    if (count >= 0) a[argc++] = (struct slice){num, (size_t)util_ll2str(num, count)};
    ctx_emit(ctx, argc, a);
}

/* Pops from the first non-empty sorted set among argv[first..first+nkeys)
 * that this call may serve from. count < 0: BZPOPMIN/BZPOPMAX (one member,
 * flat reply); else BZMPOP (up to count, nested reply). Returns 1 when
 * served, 0 when every key was absent, -1 after a WRONGTYPE reply. */
static int bzpop_try(struct cmd_ctx *ctx, int first, int nkeys, bool max, long long count)
{
    for (int i = first; i < first + nkeys; i++) {
        if (!ctx_serves_key(ctx, i)) continue;
        bool bad;
        struct kv *kv = lookup_zset(ctx, i, true, &bad);
        if (bad) return -1;
        if (!kv) continue;
        size_t len = zs_len(kv);
        long long n = count < 0 ? -1 : ((size_t)count < len ? count : (long long)len);
        zpop_generic(ctx, i, 1, max, count, true, count >= 0, true);
        emit_zpop(ctx, &ctx->argv[i], max, n); /* kv may be gone now */
        return 1;
    }
    return 0;
}

/* BZPOPMIN / BZPOPMAX key [key ...] timeout */
static void bzpop_generic(struct cmd_ctx *ctx, bool max)
{
    long long deadline;
    if (!arg_timeout(ctx, ctx->argc - 1, &deadline)) return;
    if (bzpop_try(ctx, 1, ctx->argc - 2, max, -1) != 0) return;
    if (!ctx_may_block(ctx)) {
        reply_null_array(ctx->r);
        return;
    }
    ctx_block(ctx, 1, ctx->argc - 2, OBJ_ZSET, deadline);
}

void cmd_bzpopmin(struct cmd_ctx *ctx)
{
    bzpop_generic(ctx, false);
}

void cmd_bzpopmax(struct cmd_ctx *ctx)
{
    bzpop_generic(ctx, true);
}

void cmd_bzmpop(struct cmd_ctx *ctx)
{
    struct zmpop_args a;
    long long deadline;
    /* Redis parses the timeout after the other arguments here */
    if (!zmpop_parse(ctx, 2, &a)) return;
    if (!arg_timeout(ctx, 1, &deadline)) return;
    if (bzpop_try(ctx, a.first_key, a.nkeys, a.max, a.count) != 0) return;
    if (!ctx_may_block(ctx)) {
        reply_null_array(ctx->r);
        return;
    }
    ctx_block(ctx, a.first_key, a.nkeys, OBJ_ZSET, deadline);
}

/* ---------------------------------------------------------------------
 * ZRANDMEMBER
 * ------------------------------------------------------------------ */

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void zrand_emit(struct cmd_ctx *ctx, const struct kv *kv, const struct zpos *p,
                       bool withscores)
{
    char tmp[UTIL_LLSTR_SIZE];
    size_t l;
    const char *m = zp_member(p, tmp, &l);
    if (withscores && ctx->r->resp > 2) reply_array(ctx->r, 2);
    reply_bulk(ctx->r, m, l);
    if (withscores) reply_double(ctx->r, zp_score(kv, p));
}

static void zrandmember_count(struct cmd_ctx *ctx, struct kv *kv, long long count, bool withscores)
{
    size_t len = zs_len(kv);
    bool resp2_pairs = withscores && ctx->r->resp == 2;
    if (count < 0) {
        /* with repetitions */
        unsigned long long n = (unsigned long long)(-(count + 1)) + 1;
        reply_array(ctx->r, (long long)(resp2_pairs ? 2 * n : n));
        uint8_t **entries = NULL;
        if (is_pack(kv)) {
            entries = lode_malloc(sizeof(*entries) * len);
            size_t k = 0;
            uint8_t *pk = kv->v.ptr;
            for (uint8_t *e = pk_first(pk); e; e = pk_next(pk, pk_next(pk, e))) entries[k++] = e;
        }
        for (unsigned long long i = 0; i < n; i++) {
            struct zpos p = {NULL, NULL};
            if (entries)
                p.e = entries[util_rand_below(len)];
            else
                p.n = (struct zn *)dict_random(&((struct zset *)kv->v.ptr)->d);
            zrand_emit(ctx, kv, &p, withscores);
        }
        lode_free(entries);
        return;
    }
    if ((size_t)count >= len) {
        reply_array(ctx->r, (long long)(resp2_pairs ? 2 * len : len));
        struct zpos p = zp_at(kv, 0);
        for (; zp_ok(&p); zp_next(kv, &p)) zrand_emit(ctx, kv, &p, withscores);
        return;
    }
    /* count distinct ranks: draw, sort, drop repeats, draw the missing */
    size_t want = (size_t)count, have = 0;
    size_t *ranks = lode_malloc(sizeof(size_t) * want);
    while (have < want) {
        while (have < want) ranks[have++] = util_rand_below(len);
        qsort(ranks, have, sizeof(size_t), cmp_size);
        size_t u = 0;
        for (size_t i = 0; i < have; i++)
            if (!u || ranks[u - 1] != ranks[i]) ranks[u++] = ranks[i];
        have = u;
    }
    for (size_t i = want; i > 1; i--) { /* shuffle: Redis's order is random too */
        size_t j = util_rand_below(i);
        size_t t = ranks[i - 1];
        ranks[i - 1] = ranks[j];
        ranks[j] = t;
    }
    reply_array(ctx->r, (long long)(resp2_pairs ? 2 * want : want));
    for (size_t i = 0; i < want; i++) {
        struct zpos p = zp_at(kv, ranks[i]);
        zrand_emit(ctx, kv, &p, withscores);
    }
    lode_free(ranks);
}

void cmd_zrandmember(struct cmd_ctx *ctx)
{
    if (ctx->argc >= 3) {
        long long l;
        if (!arg_ll(ctx, 2, &l, NULL)) return;
        if (l < -LLONG_MAX) {
            reply_error(ctx->r, "ERR value is out of range, value must between "
                                "-9223372036854775807 and 9223372036854775807");
            return;
        }
        bool withscores = false;
        if (ctx->argc > 4 || (ctx->argc == 4 && !arg_is(ctx, 3, "withscores"))) {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
        if (ctx->argc == 4) {
            withscores = true;
            if (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2) {
                reply_error(ctx->r, "ERR value is out of range");
                return;
            }
        }
        bool bad;
        struct kv *kv = lookup_zset(ctx, 1, false, &bad);
        if (bad) return;
        if (!kv || l == 0) {
            reply_empty_array(ctx->r);
            return;
        }
        zrandmember_count(ctx, kv, l, withscores);
        return;
    }
    bool bad;
    struct kv *kv = lookup_zset(ctx, 1, false, &bad);
    if (bad) return;
    if (!kv) {
        reply_null(ctx->r);
        return;
    }
    struct zpos p = zp_at(kv, util_rand_below(zs_len(kv)));
    zrand_emit(ctx, kv, &p, false);
}

/* ---------------------------------------------------------------------
 * ZUNION ZINTER ZDIFF (+STORE) ZINTERCARD
 * ------------------------------------------------------------------ */

enum { OP_UNION, OP_INTER, OP_DIFF };
enum { AGG_SUM, AGG_MIN, AGG_MAX };

struct zsrc {
    struct kv *kv;  /* a sorted set (a set input is copied into tmp), or NULL */
    struct kv *tmp; /* owned copy of a SET-typed input */
    double weight;
    int idx; /* argument order, for a stable sort */
};

static size_t src_len(const struct zsrc *s)
{
    return s->kv ? zs_len(s->kv) : 0;
}

static int cmp_src_card(const void *a, const void *b)
{
    const struct zsrc *x = a, *y = b;
    size_t lx = src_len(x), ly = src_len(y);
    if (lx != ly) return lx < ly ? -1 : 1;
    return x->idx - y->idx;
}

static void aggregate(int agg, double *target, double val)
{
    if (agg == AGG_SUM) {
        *target = *target + val;
        if (isnan(*target)) *target = 0.0;
    } else if (agg == AGG_MIN) {
        *target = val < *target ? val : *target;
    } else {
        *target = val > *target ? val : *target;
    }
}

static int set_member_to_zset(void *priv, const char *a, size_t alen, const char *b, size_t blen)
{
    (void)b;
    (void)blen;
    struct zset *z = priv;
    if (!zset_find(z, a, alen)) zset_insert(z, 1.0, a, alen);
    return 0;
}

/* A sorted-set copy of a SET value, every score 1 (through the set type's
 * own walk, so this module needs nothing else from it). */
static struct kv *set_as_zset(const struct kv *set)
{
    struct zset *z = zset_new();
    const struct obj_ops *ops = obj_get_ops(OBJ_SET);
    if (ops && ops->each) ops->each(set->v.ptr, set->enc, set_member_to_zset, z);
    return kv_new_obj("", 0, OBJ_ZSET, ZENC_SKIPLIST, z);
}

/* Adds node-less accumulation results: the result set is a skiplist whose
 * nodes are first added to the hash only, then linked in order. */
static struct zn *acc_add(struct zset *z, const char *m, size_t n, double score)
{
    struct zn *x = zn_new(zsl_random_level(), score, m, n);
    dict_add(&z->d, &x->h, util_hash(m, n));
    return x;
}

static void zsetop_generic(struct cmd_ctx *ctx, int dsti, int nki, int op, bool card_only)
{
    long long setnum;
    if (!arg_long(ctx, nki, &setnum)) return;
    if (setnum < 1) {
        reply_errorf(ctx->r, "ERR at least 1 input key is needed for '%s' command",
                     ctx->cmd->fullname);
        return;
    }
    if (setnum > ctx->argc - (nki + 1)) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    struct zsrc *src = lode_calloc(sizeof(*src) * (size_t)setnum);
    struct kv *dst = NULL;
    int j = nki + 1;
    for (int i = 0; i < setnum; i++, j++) {
        struct kv *kv = ctx_lookup_read(ctx, j); /* also for STORE, as Redis */
        src[i].weight = 1.0;
        src[i].idx = i;
        if (!kv) continue;
        if (kv->type == OBJ_ZSET) {
            src[i].kv = kv;
        } else if (kv->type == OBJ_SET) {
            src[i].tmp = set_as_zset(kv);
            src[i].kv = src[i].tmp;
        } else {
            reply_error(ctx->r, ERR_WRONGTYPE);
            goto out;
        }
    }
    int agg = AGG_SUM;
    bool withscores = false;
    long long limit = 0;
    while (j < ctx->argc) {
        int remaining = ctx->argc - j;
        if (op != OP_DIFF && !card_only && remaining >= setnum + 1 && arg_is(ctx, j, "weights")) {
            j++;
            for (int i = 0; i < setnum; i++, j++) {
                if (!util_str2d(ctx->argv[j].ptr, ctx->argv[j].len, &src[i].weight)) {
                    reply_error(ctx->r, "ERR weight value is not a float");
                    goto out;
                }
            }
        } else if (op != OP_DIFF && !card_only && remaining >= 2 && arg_is(ctx, j, "aggregate")) {
            j++;
            if (arg_is(ctx, j, "sum")) {
                agg = AGG_SUM;
            } else if (arg_is(ctx, j, "min")) {
                agg = AGG_MIN;
            } else if (arg_is(ctx, j, "max")) {
                agg = AGG_MAX;
            } else {
                reply_error(ctx->r, ERR_SYNTAX);
                goto out;
            }
            j++;
        } else if (!dsti && !card_only && arg_is(ctx, j, "withscores")) {
            j++;
            withscores = true;
        } else if (card_only && remaining >= 2 && arg_is(ctx, j, "limit")) {
            j++;
            if (!arg_ll_range(ctx, j, 0, LLONG_MAX, &limit, "ERR LIMIT can't be negative"))
                goto out;
            j++;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            goto out;
        }
    }
    if (op != OP_DIFF) qsort(src, (size_t)setnum, sizeof(*src), cmp_src_card);

    struct zset *z = zset_new();
    dst = kv_new_obj("", 0, OBJ_ZSET, ZENC_SKIPLIST, z);
    size_t maxlen = 0;
    long long card = 0;
    char tmp[UTIL_LLSTR_SIZE];
    if (op == OP_INTER) {
        if (src_len(&src[0])) {
            struct zpos p = zp_at(src[0].kv, 0);
            for (; zp_ok(&p); zp_next(src[0].kv, &p)) {
                double zs = zp_score(src[0].kv, &p);
                double score = src[0].weight * zs;
                if (isnan(score)) score = 0;
                size_t n;
                const char *m = zp_member(&p, tmp, &n);
                int k;
                for (k = 1; k < setnum; k++) {
                    double v;
                    if (src[k].kv == src[0].kv) {
                        v = zs * src[k].weight;
                    } else if (src[k].kv && zs_score(src[k].kv, m, n, &v)) {
                        v *= src[k].weight;
                    } else {
                        break;
                    }
                    aggregate(agg, &score, v);
                }
                if (k < setnum) continue;
                if (card_only) {
                    card++;
                    if (limit && card >= limit) break;
                    continue;
                }
                zsl_link(z, acc_add(z, m, n, score));
                if (n > maxlen) maxlen = n;
            }
        }
    } else if (op == OP_UNION) {
        for (int i = 0; i < setnum; i++) {
            if (!src_len(&src[i])) continue;
            struct zpos p = zp_at(src[i].kv, 0);
            for (; zp_ok(&p); zp_next(src[i].kv, &p)) {
                double score = src[i].weight * zp_score(src[i].kv, &p);
                if (isnan(score)) score = 0;
                size_t n;
                const char *m = zp_member(&p, tmp, &n);
                struct zn *x = zset_find(z, m, n);
                if (x) {
                    aggregate(agg, &x->score, score);
                } else {
                    acc_add(z, m, n, score);
                    if (n > maxlen) maxlen = n;
                }
            }
        }
        /* link the accumulated nodes in order */
        struct dict_iter it;
        dict_iter_init(&it, &z->d);
        for (struct dnode *d; (d = dict_iter_next(&it));) zsl_link(z, (struct zn *)d);
        dict_iter_release(&it);
    } else if (src_len(&src[0])) {
        struct zpos p = zp_at(src[0].kv, 0);
        for (; zp_ok(&p); zp_next(src[0].kv, &p)) {
            size_t n;
            const char *m = zp_member(&p, tmp, &n);
            int k;
            for (k = 1; k < setnum; k++) {
                double v;
                if (src[k].kv && (src[k].kv == src[0].kv || zs_score(src[k].kv, m, n, &v))) break;
            }
            if (k < setnum) continue;
            zsl_link(z, acc_add(z, m, n, zp_score(src[0].kv, &p)));
            if (n > maxlen) maxlen = n;
        }
    }

    if (card_only) {
        reply_int(ctx->r, card);
    } else if (dsti) {
        if (z->len <= (size_t)ctx->eng->lim.zset_max_listpack_entries &&
            maxlen <= (size_t)ctx->eng->lim.zset_max_listpack_value)
            zs_to_pack(dst);
        store_result(ctx, dsti, dst);
        dst = NULL;
    } else {
        struct zout o = {ctx, withscores, NULL, 0, 0};
        range_by_rank(&o, dst, 0, -1, false);
    }
out:
    for (long long i = 0; i < setnum; i++) kv_free(src[i].tmp);
    lode_free(src);
    kv_free(dst);
}

void cmd_zunion(struct cmd_ctx *ctx)
{
    zsetop_generic(ctx, 0, 1, OP_UNION, false);
}

void cmd_zinter(struct cmd_ctx *ctx)
{
    zsetop_generic(ctx, 0, 1, OP_INTER, false);
}

void cmd_zdiff(struct cmd_ctx *ctx)
{
    zsetop_generic(ctx, 0, 1, OP_DIFF, false);
}

void cmd_zunionstore(struct cmd_ctx *ctx)
{
    zsetop_generic(ctx, 1, 2, OP_UNION, false);
}

void cmd_zinterstore(struct cmd_ctx *ctx)
{
    zsetop_generic(ctx, 1, 2, OP_INTER, false);
}

void cmd_zdiffstore(struct cmd_ctx *ctx)
{
    zsetop_generic(ctx, 1, 2, OP_DIFF, false);
}

void cmd_zintercard(struct cmd_ctx *ctx)
{
    zsetop_generic(ctx, 0, 1, OP_INTER, true);
}

/* ---------------------------------------------------------------------
 * ZSCAN
 * ------------------------------------------------------------------ */

struct scan_acc {
    const struct zn **v;
    size_t n, cap;
};

static void scan_collect(struct dnode *d, void *priv)
{
    struct scan_acc *a = priv;
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 16;
        a->v = lode_realloc(a->v, a->cap * sizeof(*a->v));
    }
    a->v[a->n++] = (const struct zn *)d;
}

void cmd_zscan(struct cmd_ctx *ctx)
{
    uint64_t cursor;
    if (!arg_scan_cursor(ctx, 2, &cursor)) return;
    long long count;
    const struct slice *pat;
    if (!arg_scan_opts(ctx, 3, &count, &pat)) return;
    bool bad;
    struct kv *kv = lookup_zset(ctx, 1, false, &bad);
    if (bad) return;
    char num[64];
    struct reply *r = ctx->r;
    if (!kv) {
        reply_array(r, 2);
        reply_bulk(r, "0", 1);
        reply_empty_array(r);
        return;
    }
    reply_array(r, 2);
    if (is_pack(kv)) {
        /* a pack is small: the whole set in one call, cursor 0 */
        reply_bulk(r, "0", 1);
        size_t token = reply_defer(r);
        long long items = 0;
        struct zpos p = zp_at(kv, 0);
        char tmp[UTIL_LLSTR_SIZE];
        for (; zp_ok(&p); zp_next(kv, &p)) {
            size_t n;
            const char *m = zp_member(&p, tmp, &n);
            if (pat && !util_glob_match(pat->ptr, pat->len, m, n, false)) continue;
            reply_bulk(r, m, n);
            int l = util_d2str(num, sizeof(num), zp_score(kv, &p));
            reply_bulk(r, num, (size_t)l);
            items += 2;
        }
        reply_defer_array(r, token, items);
        return;
    }
    struct zset *z = kv->v.ptr;
    struct scan_acc a = {NULL, 0, 0};
    long long budget = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    do {
        cursor = dict_scan(&z->d, cursor, scan_collect, &a);
    } while (cursor && budget-- && (long long)a.n < count);
    char cur[UTIL_LLSTR_SIZE];
    int cl = util_ull2str(cur, cursor);
    reply_bulk(r, cur, (size_t)cl);
    size_t token = reply_defer(r);
    long long items = 0;
    for (size_t i = 0; i < a.n; i++) {
        const struct zn *x = a.v[i];
        if (pat && !util_glob_match(pat->ptr, pat->len, zn_mem(x), x->mlen, false)) continue;
        reply_bulk(r, zn_mem(x), x->mlen);
        int l = util_d2str(num, sizeof(num), x->score);
        reply_bulk(r, num, (size_t)l);
        items += 2;
    }
    reply_defer_array(r, token, items);
    lode_free(a.v);
}
