/*
 * dict.c - intrusive hash table with incremental rehashing (see dict.h).
 */
#include "engine/dict.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <string.h>

#define DICT_MIN_BUCKETS 4
/* While a fork shares our pages, only grow when chains get this long:
 * rehashing touches every bucket page and defeats copy-on-write. */
#define DICT_FORCE_RATIO 5

void dict_init(struct dict *d, const struct dict_type *type)
{
    memset(d, 0, sizeof(*d));
    d->type = type;
    d->rehash_idx = -1;
    d->resize_ok = true;
}

void dict_release(struct dict *d)
{
    lode_free(d->tab[0]);
    lode_free(d->tab[1]);
    const struct dict_type *t = d->type;
    bool ok = d->resize_ok;
    dict_init(d, t);
    d->resize_ok = ok;
}

static inline uint64_t nbuckets(const struct dict *d, int t)
{
    return d->tab[t] ? d->mask[t] + 1 : 0;
}

size_t dict_buckets(const struct dict *d)
{
    return nbuckets(d, 0) + nbuckets(d, 1);
}

bool dict_is_rehashing(const struct dict *d)
{
    return d->rehash_idx >= 0;
}

static void start_resize(struct dict *d, uint64_t want)
{
    uint64_t n = DICT_MIN_BUCKETS;
    while (n < want) n <<= 1;
    if (d->tab[0] && n == d->mask[0] + 1) return;
    if (!d->tab[0]) {
        d->tab[0] = lode_calloc(n * sizeof(struct dnode *));
        d->mask[0] = n - 1;
        return;
    }
    d->tab[1] = lode_calloc(n * sizeof(struct dnode *));
    d->mask[1] = n - 1;
    d->used[1] = 0;
    d->rehash_idx = 0;
}

static void finish_rehash(struct dict *d)
{
    lode_free(d->tab[0]);
    d->tab[0] = d->tab[1];
    d->mask[0] = d->mask[1];
    d->used[0] = d->used[1];
    d->tab[1] = NULL;
    d->used[1] = 0;
    d->rehash_idx = -1;
}

bool dict_rehash(struct dict *d, int n)
{
    if (!dict_is_rehashing(d)) return false;
    int empty_visits = n * 10; /* bound the work on sparse tables */
    while (n-- > 0 && d->used[0] != 0) {
        while (d->tab[0][d->rehash_idx] == NULL) {
            d->rehash_idx++;
            if (--empty_visits == 0) return true;
        }
        struct dnode *e = d->tab[0][d->rehash_idx];
        while (e) {
            struct dnode *next = e->next;
            uint64_t i = d->type->hash_node(e) & d->mask[1];
            e->next = d->tab[1][i];
            d->tab[1][i] = e;
            d->used[0]--;
            d->used[1]++;
            e = next;
        }
        d->tab[0][d->rehash_idx] = NULL;
        d->rehash_idx++;
    }
    if (d->used[0] == 0) {
        finish_rehash(d);
        return false;
    }
    return true;
}

int dict_rehash_us(struct dict *d, long long us)
{
    long long start = util_mono_us();
    int moved = 0;
    while (dict_rehash(d, 100)) {
        moved += 100;
        if (util_mono_us() - start > us) break;
    }
    return moved;
}

static inline void rehash_step(struct dict *d)
{
    if (d->safe_iters == 0 && dict_is_rehashing(d)) dict_rehash(d, 1);
}

static void maybe_expand(struct dict *d)
{
    if (dict_is_rehashing(d)) return;
    if (!d->tab[0]) {
        start_resize(d, DICT_MIN_BUCKETS);
        return;
    }
    size_t b = d->mask[0] + 1;
    if (d->used[0] >= b && (d->resize_ok || d->used[0] / b > DICT_FORCE_RATIO))
        start_resize(d, d->used[0] + 1);
}

void dict_maybe_shrink(struct dict *d)
{
    if (dict_is_rehashing(d) || !d->tab[0] || !d->resize_ok || d->safe_iters) return;
    size_t b = d->mask[0] + 1;
    if (b > DICT_MIN_BUCKETS && d->used[0] * 8 < b) start_resize(d, d->used[0]);
}

struct dnode *dict_find(struct dict *d, const void *key, size_t len, uint64_t hash)
{
    if (dict_size(d) == 0) return NULL;
    rehash_step(d);
    for (int t = 0; t < 2; t++) {
        if (!d->tab[t]) break;
        for (struct dnode *e = d->tab[t][hash & d->mask[t]]; e; e = e->next)
            if (d->type->match(e, key, len)) return e;
        if (!dict_is_rehashing(d)) break;
    }
    return NULL;
}

/* The slot of hash in the table that holds it now. */
static inline struct dnode *const *slot_of(const struct dict *d, uint64_t hash)
{
    uint64_t i = hash & d->mask[0];
    if (dict_is_rehashing(d) && (long long)i < d->rehash_idx) return &d->tab[1][hash & d->mask[1]];
    return &d->tab[0][i];
}

void dict_prefetch_slot(const struct dict *d, uint64_t hash)
{
    if (dict_size(d) == 0) return;
    __builtin_prefetch(slot_of(d, hash));
}

void dict_prefetch_node(const struct dict *d, uint64_t hash)
{
    if (dict_size(d) == 0) return;
    const struct dnode *n = *slot_of(d, hash);
    if (n) __builtin_prefetch(n);
}

void dict_add(struct dict *d, struct dnode *n, uint64_t hash)
{
    rehash_step(d);
    maybe_expand(d);
    int t = dict_is_rehashing(d) ? 1 : 0;
    uint64_t i = hash & d->mask[t];
    n->next = d->tab[t][i];
    d->tab[t][i] = n;
    d->used[t]++;
}

static struct dnode **find_link(struct dict *d, const void *key, size_t len, uint64_t hash,
                                int *table)
{
    for (int t = 0; t < 2; t++) {
        if (!d->tab[t]) break;
        struct dnode **link = &d->tab[t][hash & d->mask[t]];
        for (; *link; link = &(*link)->next) {
            if (d->type->match(*link, key, len)) {
                *table = t;
                return link;
            }
        }
        if (!dict_is_rehashing(d)) break;
    }
    return NULL;
}

struct dnode *dict_unlink(struct dict *d, const void *key, size_t len, uint64_t hash)
{
    if (dict_size(d) == 0) return NULL;
    rehash_step(d);
    int t;
    struct dnode **link = find_link(d, key, len, hash, &t);
    if (!link) return NULL;
    struct dnode *e = *link;
    *link = e->next;
    e->next = NULL;
    d->used[t]--;
    return e;
}

void dict_replace(struct dict *d, struct dnode *old, struct dnode *new_node, uint64_t hash)
{
    for (int t = 0; t < 2; t++) {
        if (!d->tab[t]) break;
        struct dnode **link = &d->tab[t][hash & d->mask[t]];
        for (; *link; link = &(*link)->next) {
            if (*link == old) {
                new_node->next = old->next;
                *link = new_node;
                return;
            }
        }
    }
    LODE_PANIC("dict_replace: element not in table");
}

void dict_drain(struct dict *d, void (*fn)(struct dnode *n, void *priv), void *priv)
{
    for (int t = 0; t < 2; t++) {
        if (!d->tab[t]) continue;
        for (uint64_t i = 0; i <= d->mask[t]; i++) {
            struct dnode *e = d->tab[t][i];
            while (e) {
                struct dnode *next = e->next;
                e->next = NULL;
                if (fn) fn(e, priv);
                e = next;
            }
            d->tab[t][i] = NULL;
        }
        d->used[t] = 0;
    }
    dict_release(d);
}

/* A random non-empty bucket's chain head, considering both tables. */
static struct dnode *random_bucket(struct dict *d, uint64_t *bucket, int *table)
{
    for (;;) {
        uint64_t lo = dict_is_rehashing(d) ? (uint64_t)d->rehash_idx : 0;
        uint64_t n0 = nbuckets(d, 0) - lo, n1 = nbuckets(d, 1);
        uint64_t r = util_rand_below(n0 + n1);
        int t = r < n0 ? 0 : 1;
        uint64_t i = t == 0 ? lo + r : r - n0;
        if (d->tab[t][i]) {
            *bucket = i;
            *table = t;
            return d->tab[t][i];
        }
    }
}

struct dnode *dict_random(struct dict *d)
{
    if (dict_size(d) == 0) return NULL;
    rehash_step(d);
    uint64_t b;
    int t;
    struct dnode *head = random_bucket(d, &b, &t);
    size_t len = 0;
    for (struct dnode *e = head; e; e = e->next) len++;
    size_t k = util_rand_below(len);
    while (k--) head = head->next;
    return head;
}

struct dnode *dict_random_fair(struct dict *d)
{
    if (dict_size(d) == 0) return NULL;
    /* buckets of table 0 below rehash_idx are empty: not candidates */
    uint64_t lo = dict_is_rehashing(d) ? (uint64_t)d->rehash_idx : 0;
    uint64_t n0 = nbuckets(d, 0) - lo, n1 = nbuckets(d, 1);
    for (;;) {
        uint64_t r = util_rand_below((n0 + n1) * DICT_FAIR_DEPTH);
        uint64_t slot = r / DICT_FAIR_DEPTH, depth = r % DICT_FAIR_DEPTH;
        struct dnode *e = slot < n0 ? d->tab[0][lo + slot] : d->tab[1][slot - n0];
        while (e && depth--) e = e->next;
        if (e) return e;
    }
}

size_t dict_sample(struct dict *d, struct dnode **out, size_t count)
{
    size_t size = dict_size(d);
    if (size == 0 || count == 0) return 0;
    if (count > size) count = size;
    uint64_t b;
    int t;
    random_bucket(d, &b, &t);
    size_t got = 0, empty = 0, visits = 0;
    while (got < count && visits < count * 10) {
        struct dnode *e = d->tab[t][b];
        if (e) {
            empty = 0;
            for (; e && got < count; e = e->next) out[got++] = e;
        } else if (++empty > 5 && empty > count) {
            /* a long empty run: jump elsewhere */
            random_bucket(d, &b, &t);
            empty = 0;
            continue;
        }
        visits++;
        b = (b + 1) & d->mask[t];
    }
    return got;
}

static inline uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0fULL) | ((v & 0x0f0f0f0f0f0f0f0fULL) << 4);
    return __builtin_bswap64(v);
}

static void scan_bucket(struct dnode *e, void (*fn)(struct dnode *, void *), void *priv)
{
    while (e) {
        struct dnode *next = e->next;
        fn(e, priv);
        e = next;
    }
}

uint64_t dict_scan(struct dict *d, uint64_t v, void (*fn)(struct dnode *n, void *priv), void *priv)
{
    if (dict_size(d) == 0) return 0;
    d->safe_iters++;
    if (!dict_is_rehashing(d)) {
        uint64_t m0 = d->mask[0];
        scan_bucket(d->tab[0][v & m0], fn, priv);
        v |= ~m0;
        v = rev64(rev64(v) + 1);
    } else {
        int small = d->mask[0] <= d->mask[1] ? 0 : 1, large = 1 - small;
        uint64_t m0 = d->mask[small], m1 = d->mask[large];
        scan_bucket(d->tab[small][v & m0], fn, priv);
        /* every bucket of the larger table that the small bucket expands to */
        do {
            scan_bucket(d->tab[large][v & m1], fn, priv);
            v |= ~m1;
            v = rev64(rev64(v) + 1);
        } while (v & (m0 ^ m1));
    }
    d->safe_iters--;
    return v;
}

void dict_walk(const struct dict *d, void (*fn)(const struct dnode *n, void *priv), void *priv)
{
    for (int t = 0; t < 2; t++) {
        if (!d->tab[t]) continue;
        for (uint64_t b = 0; b <= d->mask[t]; b++)
            for (const struct dnode *e = d->tab[t][b]; e; e = e->next) fn(e, priv);
    }
}

void dict_iter_init(struct dict_iter *it, struct dict *d)
{
    it->d = d;
    it->table = 0;
    it->bucket = -1;
    it->next = NULL;
    it->started = false;
}

struct dnode *dict_iter_next(struct dict_iter *it)
{
    struct dict *d = it->d;
    if (!it->started) {
        it->started = true;
        d->safe_iters++;
    }
    while (!it->next) {
        it->bucket++;
        if (!d->tab[it->table] || (uint64_t)it->bucket > d->mask[it->table]) {
            if (it->table == 1 || !dict_is_rehashing(d)) return NULL;
            it->table = 1;
            it->bucket = -1;
            continue;
        }
        it->next = d->tab[it->table][it->bucket];
    }
    struct dnode *e = it->next;
    it->next = e->next;
    return e;
}

void dict_iter_release(struct dict_iter *it)
{
    if (it->started) it->d->safe_iters--;
    it->started = false;
}
