/*
 * db.h - the keyspace: numbered databases of key entries, the expiry index,
 * lazy and active expiry, and the engine context that commands run in.
 *
 * Each db has two intrusive tables sharing one hash of the key: `keys`
 * (struct kv elements) and `expires` (small index nodes, one per key with a
 * TTL, holding the absolute expiry in ms). A kv carries KV_HAS_EXPIRE so a
 * lookup only consults the index for keys that have one.
 *
 * Time: every expiry decision uses eng->now_ms, which the caller sets once
 * per command (so a command, a MULTI or a script sees one instant, as in
 * Redis).
 *
 * Thread: main only. Allocates; never blocks, never touches disk.
 */
#ifndef LODE_DB_H
#define LODE_DB_H

#include "engine/dict.h"
#include "engine/effects.h"
#include "engine/object.h"

#include <stdbool.h>
#include <stddef.h>

struct db {
    struct dict keys;    /* struct kv */
    struct dict expires; /* struct xnode */
    int id;
    long long avg_ttl; /* ms, estimated by the active expiry cycle */
    uint64_t expire_cursor;
};

struct engine_stats {
    long long expired_keys;
    long long expired_time_cap_reached;
    long long keyspace_hits;
    long long keyspace_misses;
    long long expire_cycle_us;
};

/* Encoding thresholds of the collection types (the *-max-listpack-* and
 * set-max-intset-entries settings, Redis's names and defaults). */
struct engine_limits {
    long long hash_max_listpack_entries; /* 512 (Redis 7.0's built-in default) */
    long long hash_max_listpack_value;   /* 64 */
    long long set_max_intset_entries;    /* 512 */
    long long zset_max_listpack_entries; /* 128 */
    long long zset_max_listpack_value;   /* 64 */
    long long list_max_listpack_size;    /* -2: 8 KiB nodes; > 0: entries per node */
    long long list_compress_depth;       /* 0 */
    long long hll_sparse_max_bytes;      /* 3000: largest sparse HyperLogLog string, bytes */
};

struct engine;

/* Called for every key a command changes, expires or deletes (WATCH, the
 * checkpoint dirty set and keyspace notifications hang off this). */
typedef void (*engine_key_hook)(struct engine *eng, struct db *db, const char *key, size_t klen);
/* Called when a key is removed by expiry (lazy or active), so that the
 * deletion can be logged as a DEL. */
typedef void (*engine_expire_hook)(struct engine *eng, struct db *db, const char *key, size_t klen);

struct engine {
    struct db *dbs;
    int ndbs;
    long long now_ms;             /* the current command's time, set by the caller */
    uint32_t lru_clock;           /* seconds, updated by the caller's cron */
    long long proto_max_bulk_len; /* largest string a command may build */
    bool readonly_replica;        /* expired keys are hidden, not deleted */
    /* a forked child shares the pages (a checkpoint runs): reads leave the
     * entries' access times alone rather than copy a page each (Redis does
     * the same while it has a saving child) */
    bool shared_pages;
    bool lfu; /* an LFU maxmemory policy: kv->lru holds LFU data */
    struct engine_limits lim;
    struct engine_stats stats;
    long long dirty;    /* changes since start */
    struct effects eff; /* deterministic form of the changes not yet logged */
    engine_key_hook on_key_changed;
    /* Called before a key changes in any way on_key_changed reports
     * (written, created, expired, deleted, moved), while the key is still
     * as it was: a snapshot taken by the loop itself (a checkpoint written
     * by a thread) saves it first. Write lookups, db_add, db_set,
     * db_delete, db_move and expiry call it; code that changes a key
     * reached another way calls db_will_change. NULL = none. */
    engine_key_hook before_key_change;
    /* The same for a whole db, before db_flush empties it or SWAPDB swaps
     * it. NULL = none. */
    void (*before_db_change)(struct engine *eng, struct db *db);
    /* The epoch db_add and db_set give an entry linked under a new (db,
     * key): 0 (never an epoch) unless the owner of before_key_change,
     * which recorded the key, says otherwise (server/persist.c). */
    uint16_t new_key_epoch;
    /* Called when a whole db is emptied (db_flush) or swapped with another
     * (SWAPDB, once per db): changes on_key_changed does not report key by
     * key. NULL = none. */
    void (*on_db_reset)(struct engine *eng, struct db *db);
    /* Called when a key that blocked clients may wait for (a list or a
     * sorted set) was created or grew, through db_signal_ready; key NULL
     * means any key of db (SWAPDB). The server serves its blocked clients
     * after the command (server/blocking.h). NULL = none. */
    engine_key_hook on_key_ready;
    /* Keyspace notifications (engine/notify.h): the enabled NOTIFY_*
     * classes (notify-keyspace-events) and the owner's publisher, called
     * by notify_keyspace_event for every enabled event. NULL = none. */
    int notify_flags;
    void (*on_notify)(struct engine *eng, int type, const char *event, struct db *db,
                      const char *key, size_t klen);
    void *priv; /* owner's context for the hooks */
};

void engine_init(struct engine *eng, int ndbs);
void engine_release(struct engine *eng);

/* db_lookup flags */
enum {
    LOOKUP_WRITE = 1 << 0,    /* for a write: no hit/miss stats, no keymiss event */
    LOOKUP_NOTOUCH = 1 << 1,  /* do not update the access time */
    LOOKUP_NONOTIFY = 1 << 2, /* a read without the keymiss event (OBJECT) */
    LOOKUP_NOSTATS = 1 << 3,  /* a read Redis makes without stats or keymiss
                                 (MEMORY USAGE, DEBUG OBJECT / DIGEST-VALUE) */
};

/* The live entry for key, NULL when absent or expired (an expired key is
 * deleted on the way, unless the engine is a read-only replica). A read
 * (none of WRITE, NOSTATS) counts a keyspace hit or miss, and a miss
 * raises the "keymiss" event (class m) unless NONOTIFY, as Redis 7.0's
 * read lookups do: after "expired" when the key had just expired. So a
 * read lookup's key must not point into the entry it may expire (which is
 * freed before the event): pass a copy. */
struct kv *db_lookup(struct engine *eng, struct db *db, const char *key, size_t klen, int flags);
/* The entry without expiry checks or stats (internal tools, tests). */
struct kv *db_find(struct db *db, const char *key, size_t klen);

/* Adds kv, whose key must be absent (or expired: callers look up first). */
void db_add(struct engine *eng, struct db *db, struct kv *kv);
/* Puts kv under its key, replacing any existing entry. The TTL is dropped
 * unless keepttl and an old entry had one. Takes ownership of kv. */
void db_set(struct engine *eng, struct db *db, struct kv *kv, bool keepttl);
/* Swaps entry old (in db) for nkv with the same key, keeping the TTL;
 * frees old with kv_free, so old must not share its value with nkv. */
void db_replace(struct db *db, struct kv *old, struct kv *nkv);
/* Deletes the key. Returns true when it existed. */
bool db_delete(struct engine *eng, struct db *db, const char *key, size_t klen);
/* Removes the entry from db without freeing it; *expire gets its absolute
 * expiry or -1. NULL when absent. */
struct kv *db_take(struct db *db, const char *key, size_t klen, long long *expire);

/* Moves the entry under <key, klen> in src to <nkey, nklen> in dst, keeping
 * its TTL and its value, which is not copied (RENAME when src == dst, MOVE
 * when the keys are equal). No expiry check is made: callers look the key up
 * first. The destination key must be absent from dst (callers delete it
 * first); src == dst with equal keys is not allowed. Both keys are reported
 * to on_key_changed. Returns the entry now in dst (borrowed, valid until the
 * key next changes), or NULL when key is absent from src (nothing changes). */
struct kv *db_move(struct engine *eng, struct db *src, const char *key, size_t klen, struct db *dst,
                   const char *nkey, size_t nklen);
/* Announces that key is about to change (before_key_change), for a
 * change made to an entry that no write lookup returned. */
static inline void db_will_change(struct engine *eng, struct db *db, const char *key, size_t klen)
{
    if (eng->before_key_change) eng->before_key_change(eng, db, key, klen);
}
/* Reports a change that no other db_* call reported to on_key_changed: TTL
 * changes (db_set_expire, db_persist) and in-place value edits. */
void db_key_changed(struct engine *eng, struct db *db, const char *key, size_t klen);

/* Tells on_key_ready that key (NULL: every key of db) may now serve a
 * blocked client. db_add and db_set call it for every value that is not a
 * string (so RENAME, MOVE, COPY and *STORE commands are covered); type
 * modules call it after pushing into an existing value (LPUSH, ZADD). */
void db_signal_ready(struct engine *eng, struct db *db, const char *key, size_t klen);

/* Absolute expiry in ms, -1 when the key has none. */
long long db_expire_of(struct db *db, const struct kv *kv);
/* Sets the absolute expiry of kv (which is in db). */
void db_set_expire(struct db *db, struct kv *kv, long long when_ms);
/* Removes the TTL; returns true when there was one. */
bool db_persist(struct db *db, struct kv *kv);
/* Whether kv's TTL has passed at eng->now_ms. */
bool db_is_expired(struct engine *eng, struct db *db, const struct kv *kv);

/* Converts a string entry to ENC_RAW (if needed) with room for cap bytes and
 * returns its buffer; *kvp is updated when the entry moved. */
struct rawstr *db_str_make_raw(struct db *db, struct kv **kvp, size_t cap);

/* Empties the db; returns the number of keys removed. */
long long db_flush(struct engine *eng, struct db *db);
/* Swaps the contents of two dbs (SWAPDB). */
void db_swap(struct db *a, struct db *b);
/* A random live key, NULL when the db is empty (or only expired keys
 * remain after a bounded number of tries). */
struct kv *db_random(struct engine *eng, struct db *db);

/* SCAN step over db->keys; fn sees entries, expired or not. */
uint64_t db_scan(struct db *db, uint64_t cursor, void (*fn)(struct kv *kv, void *priv), void *priv);

/* Active expiry: samples keys with a TTL in every db and deletes expired
 * ones, repeating while many sampled keys were expired, for at most
 * budget_us. Returns keys expired. */
long long db_active_expire(struct engine *eng, long long budget_us);
/* Incremental rehash/shrink work for all dbs, about budget_us. */
void db_cron(struct engine *eng, long long budget_us);
/* Number of keys with a TTL in db. */
static inline size_t db_expires_count(const struct db *db)
{
    return dict_size(&db->expires);
}
static inline size_t db_size(const struct db *db)
{
    return dict_size(&db->keys);
}

/* The access-frequency counter of kv (LFU policies), decayed by the time
 * since its last access: Redis's logarithmic 0..255 counter. */
int db_lfu_counter(struct engine *eng, const struct kv *kv);

/* Hash of a key as the tables use it. */
uint64_t db_hash(const char *key, size_t klen);

#endif
