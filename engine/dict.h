/*
 * dict.h - an intrusive chained hash table with incremental rehashing.
 *
 * Elements embed a struct dnode as their first member; the table never
 * allocates per element, only bucket arrays. The table type supplies the
 * element hash and the key comparison, so the same table serves the
 * keyspace (elements are key entries), the expiry index and later the
 * collection types.
 *
 * Rehashing: when the load factor reaches 1 the table allocates a second
 * bucket array twice as large and moves one bucket per operation (plus a
 * timed batch from the server's cron), so no single command pays for a full
 * resize. Shrinking happens the same way when fill drops below 1/8.
 *
 * SCAN: dict_scan walks buckets in reverse-binary cursor order, which keeps
 * the guarantee that an element present for the whole iteration is returned
 * at least once, even when the table grows or shrinks between calls.
 *
 * Invariants: bucket counts are powers of two; while rehashing, buckets of
 * table 0 below rehash_idx are empty. An element is in exactly one chain.
 * Thread: the owner's (the main thread). Allocates bucket arrays only.
 */
#ifndef LODE_DICT_H
#define LODE_DICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dnode {
    struct dnode *next; /* chain link, owned by the table */
};

struct dict_type {
    /* Hash of an element's key (must equal hash(key bytes) as callers pass). */
    uint64_t (*hash_node)(const struct dnode *n);
    /* Whether element n has the key <key, len>. */
    bool (*match)(const struct dnode *n, const void *key, size_t len);
};

struct dict {
    const struct dict_type *type;
    struct dnode **tab[2];
    uint64_t mask[2];     /* bucket count - 1; meaningful only when tab[i] */
    size_t used[2];       /* elements per table */
    long long rehash_idx; /* -1 when not rehashing */
    int safe_iters;       /* > 0 pauses rehashing steps */
    bool resize_ok;       /* false while a fork shares pages: only grow at 5x */
};

void dict_init(struct dict *d, const struct dict_type *type);
/* Frees the bucket arrays. Elements are not touched: free them first
 * (dict_drain) if the table owns them. */
void dict_release(struct dict *d);
/* Unlinks every element, calling fn on each; leaves the table empty. */
void dict_drain(struct dict *d, void (*fn)(struct dnode *n, void *priv), void *priv);

static inline size_t dict_size(const struct dict *d)
{
    return d->used[0] + d->used[1];
}
size_t dict_buckets(const struct dict *d);
bool dict_is_rehashing(const struct dict *d);

/* Finds the element with the key; hash must be the key's hash. NULL: absent. */
struct dnode *dict_find(struct dict *d, const void *key, size_t len, uint64_t hash);
/* Cache hints for a dict_find of hash soon after: dict_prefetch_slot starts
 * loading the bucket slot; dict_prefetch_node, called later, the first
 * element of the chain there. Neither changes anything (no rehash step). */
void dict_prefetch_slot(const struct dict *d, uint64_t hash);
void dict_prefetch_node(const struct dict *d, uint64_t hash);
/* Adds n, whose key must not be present (callers dict_find first). */
void dict_add(struct dict *d, struct dnode *n, uint64_t hash);
/* Unlinks and returns the element with the key, NULL when absent. */
struct dnode *dict_unlink(struct dict *d, const void *key, size_t len, uint64_t hash);
/* Replaces element old (present) by new (same key) in place: used when an
 * element is reallocated. */
void dict_replace(struct dict *d, struct dnode *old, struct dnode *new_node, uint64_t hash);

/* A random element, NULL when empty. Fair enough for sampling. */
struct dnode *dict_random(struct dict *d);
/* A uniformly random element, NULL when empty: rejection sampling over
 * (bucket, chain position) pairs, each position below DICT_FAIR_DEPTH
 * equally likely, so unlike dict_random an element's chance does not
 * depend on the length of its chain (elements deeper than that in a chain,
 * which a table at load <= 1 almost never has, are never drawn). Costs
 * about buckets * DICT_FAIR_DEPTH / size draws; for SRANDMEMBER-like
 * commands. */
#define DICT_FAIR_DEPTH 8
struct dnode *dict_random_fair(struct dict *d);
/* Up to count elements from a random region (for expiry/eviction sampling).
 * Returns the number stored in out. */
size_t dict_sample(struct dict *d, struct dnode **out, size_t count);

/* Calls fn for every element in the buckets that cursor names, returns the
 * next cursor (0 when the walk is over). fn must not modify the table. */
uint64_t dict_scan(struct dict *d, uint64_t cursor, void (*fn)(struct dnode *n, void *priv),
                   void *priv);

/* Calls fn for every element, changing nothing (not even rehash or
 * iterator state): another thread may walk a table this way while its
 * owner only looks elements up in it, provided it is not rehashing (finish
 * with dict_rehash first) and nothing is added or removed meanwhile. */
void dict_walk(const struct dict *d, void (*fn)(const struct dnode *n, void *priv), void *priv);

/* Moves up to n buckets; returns false when rehashing is complete. */
bool dict_rehash(struct dict *d, int n);
/* Rehashes for about us microseconds. Returns buckets moved. */
int dict_rehash_us(struct dict *d, long long us);
/* Starts a shrink if the table is sparse. */
void dict_maybe_shrink(struct dict *d);

/* Iteration that tolerates deletion of the current element: the iterator
 * pauses rehashing while it lives. */
struct dict_iter {
    struct dict *d;
    int table;
    long long bucket;
    struct dnode *next;
    bool started;
};
void dict_iter_init(struct dict_iter *it, struct dict *d);
struct dnode *dict_iter_next(struct dict_iter *it);
void dict_iter_release(struct dict_iter *it);

#endif
