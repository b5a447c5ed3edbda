/*
 * db.c - databases, expiry index, lazy/active expiry (see db.h).
 */
#include "engine/db.h"
#include "engine/notify.h"
#include "engine/types.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <string.h>

/* Index node for a key with a TTL. */
struct xnode {
    struct dnode node;
    struct kv *kv;  /* borrowed: the entry in db->keys */
    long long when; /* absolute expiry, ms since the epoch */
};

uint64_t db_hash(const char *key, size_t klen)
{
    return util_hash(key, klen);
}

static uint64_t kv_hash(const struct dnode *n)
{
    const struct kv *kv = (const struct kv *)n;
    return util_hash(kv->data, kv->klen);
}

static bool kv_match(const struct dnode *n, const void *key, size_t len)
{
    const struct kv *kv = (const struct kv *)n;
    return kv->klen == len && memcmp(kv->data, key, len) == 0;
}

static uint64_t x_hash(const struct dnode *n)
{
    return kv_hash(&((const struct xnode *)n)->kv->node);
}

static bool x_match(const struct dnode *n, const void *key, size_t len)
{
    return kv_match(&((const struct xnode *)n)->kv->node, key, len);
}

static const struct dict_type keys_type = {kv_hash, kv_match};
static const struct dict_type expires_type = {x_hash, x_match};

void engine_init(struct engine *eng, int ndbs)
{
    types_init();
    memset(eng, 0, sizeof(*eng));
    eng->ndbs = ndbs;
    eng->dbs = lode_calloc(sizeof(struct db) * (size_t)ndbs);
    for (int i = 0; i < ndbs; i++) {
        dict_init(&eng->dbs[i].keys, &keys_type);
        dict_init(&eng->dbs[i].expires, &expires_type);
        eng->dbs[i].id = i;
    }
    eng->proto_max_bulk_len = 512LL * 1024 * 1024;
    eng->lim = (struct engine_limits){512, 64, 512, 128, 64, -2, 0, 3000};
    eng->now_ms = util_ms_now();
    effects_init(&eng->eff);
}

static void free_kv_node(struct dnode *n, void *priv)
{
    (void)priv;
    kv_free((struct kv *)n);
}

static void free_x_node(struct dnode *n, void *priv)
{
    (void)priv;
    lode_free(n);
}

void engine_release(struct engine *eng)
{
    for (int i = 0; i < eng->ndbs; i++) {
        dict_drain(&eng->dbs[i].expires, free_x_node, NULL);
        dict_drain(&eng->dbs[i].keys, free_kv_node, NULL);
    }
    lode_free(eng->dbs);
    eng->dbs = NULL;
    effects_release(&eng->eff);
    eng->ndbs = 0;
}

struct kv *db_find(struct db *db, const char *key, size_t klen)
{
    return (struct kv *)dict_find(&db->keys, key, klen, util_hash(key, klen));
}

static struct xnode *xfind(struct db *db, const struct kv *kv)
{
    return (struct xnode *)dict_find(&db->expires, kv->data, kv->klen,
                                     util_hash(kv->data, kv->klen));
}

long long db_expire_of(struct db *db, const struct kv *kv)
{
    if (!(kv->flags & KV_HAS_EXPIRE)) return -1;
    struct xnode *x = xfind(db, kv);
    lode_assert(x != NULL);
    return x->when;
}

bool db_is_expired(struct engine *eng, struct db *db, const struct kv *kv)
{
    if (!(kv->flags & KV_HAS_EXPIRE)) return false;
    return db_expire_of(db, kv) <= eng->now_ms;
}

void db_set_expire(struct db *db, struct kv *kv, long long when_ms)
{
    if (kv->flags & KV_HAS_EXPIRE) {
        xfind(db, kv)->when = when_ms;
        return;
    }
    struct xnode *x = lode_malloc(sizeof(*x));
    x->kv = kv;
    x->when = when_ms;
    dict_add(&db->expires, &x->node, util_hash(kv->data, kv->klen));
    kv->flags |= KV_HAS_EXPIRE;
}

bool db_persist(struct db *db, struct kv *kv)
{
    if (!(kv->flags & KV_HAS_EXPIRE)) return false;
    struct dnode *x = dict_unlink(&db->expires, kv->data, kv->klen, util_hash(kv->data, kv->klen));
    lode_assert(x != NULL);
    lode_free(x);
    kv->flags &= (uint8_t)~KV_HAS_EXPIRE;
    return true;
}

static void notify_changed(struct engine *eng, struct db *db, const char *key, size_t klen)
{
    if (eng->on_key_changed) eng->on_key_changed(eng, db, key, klen);
}

void db_signal_ready(struct engine *eng, struct db *db, const char *key, size_t klen)
{
    if (eng->on_key_ready) eng->on_key_ready(eng, db, key, klen);
}

/* Removes an entry (present in db) and frees it. */
static void remove_kv(struct db *db, struct kv *kv, uint64_t h)
{
    if (kv->flags & KV_HAS_EXPIRE) {
        struct dnode *x = dict_unlink(&db->expires, kv->data, kv->klen, h);
        lode_assert(x != NULL);
        lode_free(x);
    }
    struct dnode *n = dict_unlink(&db->keys, kv->data, kv->klen, h);
    lode_assert(n == &kv->node);
    kv_free(kv);
}

/* Deletes an expired key and tells the hooks (the key is still valid when
 * they run, then freed). */
static void expire_now(struct engine *eng, struct db *db, struct kv *kv, uint64_t h)
{
    db_will_change(eng, db, kv->data, kv->klen);
    eng->stats.expired_keys++;
    /* the deletion is part of the effects: replay must not depend on when
     * expiry happened to run */
    struct slice del[2] = {{"DEL", 3}, {kv->data, kv->klen}};
    effects_emit(&eng->eff, db->id, 2, del);
    notify_changed(eng, db, kv->data, kv->klen);
    notify_keyspace_event(eng, NOTIFY_EXPIRED, "expired", db, kv->data, kv->klen);
    remove_kv(db, kv, h);
}

/* Access tracking. Under an LRU (or no) policy kv->lru is the seconds
 * clock of the last access. Under an LFU policy it is, as in Redis, the
 * minutes clock (16 bits) above a logarithmic access counter (8 bits) that
 * new keys start at LFU_INIT, that an access raises with probability
 * 1 / ((counter - LFU_INIT) * LFU_LOG_FACTOR + 1), and that loses one per
 * LFU_DECAY_MIN minutes without access. */
#define LFU_INIT       5
#define LFU_LOG_FACTOR 10
#define LFU_DECAY_MIN  1

static uint32_t lfu_minutes(const struct engine *eng)
{
    return (uint32_t)(eng->now_ms / 60000) & 0xffff;
}

int db_lfu_counter(struct engine *eng, const struct kv *kv)
{
    uint32_t elapsed = (lfu_minutes(eng) - (kv->lru >> 8)) & 0xffff;
    uint32_t periods = elapsed / LFU_DECAY_MIN;
    uint32_t counter = kv->lru & 0xff;
    return periods >= counter ? 0 : (int)(counter - periods);
}

static void touch_new(struct engine *eng, struct kv *kv)
{
    kv->lru = eng->lfu ? lfu_minutes(eng) << 8 | LFU_INIT : eng->lru_clock;
}

static void touch_access(struct engine *eng, struct kv *kv)
{
    if (eng->shared_pages) return;
    if (!eng->lfu) {
        kv->lru = eng->lru_clock;
        return;
    }
    uint32_t c = (uint32_t)db_lfu_counter(eng, kv);
    if (c < 255) {
        double base = c > LFU_INIT ? (double)(c - LFU_INIT) : 0.0;
        double r = (double)(util_rand64() >> 11) / (double)(1ULL << 53);
        if (r < 1.0 / (base * LFU_LOG_FACTOR + 1)) c++;
    }
    kv->lru = lfu_minutes(eng) << 8 | c;
}

struct kv *db_lookup(struct engine *eng, struct db *db, const char *key, size_t klen, int flags)
{
    uint64_t h = util_hash(key, klen);
    struct kv *kv = (struct kv *)dict_find(&db->keys, key, klen, h);
    if (kv && (kv->flags & KV_HAS_EXPIRE)) {
        struct xnode *x = (struct xnode *)dict_find(&db->expires, key, klen, h);
        lode_assert(x != NULL);
        if (x->when <= eng->now_ms) {
            if (!eng->readonly_replica) expire_now(eng, db, kv, h);
            kv = NULL;
        }
    }
    if (!(flags & (LOOKUP_WRITE | LOOKUP_NOSTATS))) {
        if (kv) {
            eng->stats.keyspace_hits++;
        } else {
            eng->stats.keyspace_misses++;
            if (!(flags & LOOKUP_NONOTIFY))
                notify_keyspace_event(eng, NOTIFY_KEY_MISS, "keymiss", db, key, klen);
        }
    }
    if (kv && !(flags & LOOKUP_NOTOUCH)) touch_access(eng, kv);
    if (kv && (flags & LOOKUP_WRITE)) db_will_change(eng, db, key, klen);
    return kv;
}

void db_add(struct engine *eng, struct db *db, struct kv *kv)
{
    db_will_change(eng, db, kv->data, kv->klen);
    touch_new(eng, kv);
    kv->flags &= (uint8_t)~KV_HAS_EXPIRE;
    kv->epoch = eng->new_key_epoch; /* a new (db, key): not recorded yet (0) */
    dict_add(&db->keys, &kv->node, util_hash(kv->data, kv->klen));
    notify_changed(eng, db, kv->data, kv->klen);
    notify_keyspace_event(eng, NOTIFY_NEW, "new", db, kv->data, kv->klen);
    if (kv->type != OBJ_STRING) db_signal_ready(eng, db, kv->data, kv->klen);
}

void db_replace(struct db *db, struct kv *old, struct kv *nkv)
{
    uint64_t h = util_hash(old->data, old->klen);
    nkv->flags = (uint8_t)((nkv->flags & ~KV_HAS_EXPIRE) | (old->flags & KV_HAS_EXPIRE));
    nkv->epoch = old->epoch; /* the same (db, key) */
    if (old->flags & KV_HAS_EXPIRE) {
        struct xnode *x = (struct xnode *)dict_find(&db->expires, old->data, old->klen, h);
        lode_assert(x != NULL);
        x->kv = nkv;
    }
    dict_replace(&db->keys, &old->node, &nkv->node, h);
    kv_free(old);
}

void db_set(struct engine *eng, struct db *db, struct kv *kv, bool keepttl)
{
    db_will_change(eng, db, kv->data, kv->klen);
    uint64_t h = util_hash(kv->data, kv->klen);
    struct kv *old = (struct kv *)dict_find(&db->keys, kv->data, kv->klen, h);
    touch_new(eng, kv);
    if (!old) {
        kv->flags &= (uint8_t)~KV_HAS_EXPIRE;
        kv->epoch = eng->new_key_epoch;
        dict_add(&db->keys, &kv->node, h);
        notify_keyspace_event(eng, NOTIFY_NEW, "new", db, kv->data, kv->klen);
    } else {
        if (!keepttl && (old->flags & KV_HAS_EXPIRE)) db_persist(db, old);
        db_replace(db, old, kv);
    }
    notify_changed(eng, db, kv->data, kv->klen);
    if (kv->type != OBJ_STRING) db_signal_ready(eng, db, kv->data, kv->klen);
}

bool db_delete(struct engine *eng, struct db *db, const char *key, size_t klen)
{
    uint64_t h = util_hash(key, klen);
    struct kv *kv = (struct kv *)dict_find(&db->keys, key, klen, h);
    if (!kv) return false;
    db_will_change(eng, db, key, klen);
    notify_changed(eng, db, key, klen);
    remove_kv(db, kv, h);
    return true;
}

struct kv *db_take(struct db *db, const char *key, size_t klen, long long *expire)
{
    uint64_t h = util_hash(key, klen);
    struct kv *kv = (struct kv *)dict_unlink(&db->keys, key, klen, h);
    *expire = -1;
    if (!kv) return NULL;
    if (kv->flags & KV_HAS_EXPIRE) {
        struct xnode *x = (struct xnode *)dict_unlink(&db->expires, key, klen, h);
        lode_assert(x != NULL);
        *expire = x->when;
        lode_free(x);
        kv->flags &= (uint8_t)~KV_HAS_EXPIRE;
    }
    return kv;
}

struct kv *db_move(struct engine *eng, struct db *src, const char *key, size_t klen, struct db *dst,
                   const char *nkey, size_t nklen)
{
    lode_assert(src != dst || klen != nklen || memcmp(key, nkey, klen) != 0);
    long long when;
    if (db_find(src, key, klen)) db_will_change(eng, src, key, klen);
    struct kv *kv = db_take(src, key, klen, &when);
    if (!kv) return NULL;
    notify_changed(eng, src, key, klen);
    if (klen != nklen || memcmp(kv->data, nkey, nklen) != 0) kv = kv_rekey(kv, nkey, nklen);
    uint32_t lru = kv->lru;
    db_add(eng, dst, kv);
    kv->lru = lru; /* moving is not an access */
    if (when != -1) db_set_expire(dst, kv, when);
    return kv;
}

void db_key_changed(struct engine *eng, struct db *db, const char *key, size_t klen)
{
    notify_changed(eng, db, key, klen);
}

struct rawstr *db_str_make_raw(struct db *db, struct kv **kvp, size_t cap)
{
    struct kv *kv = *kvp;
    if (kv->enc == ENC_RAW) return kv_raw_reserve(kv, cap);
    struct kv *nkv = kv_to_raw(kv, cap);
    db_replace(db, kv, nkv);
    *kvp = nkv;
    return nkv->v.ptr;
}

long long db_flush(struct engine *eng, struct db *db)
{
    long long n = (long long)dict_size(&db->keys);
    if (eng && eng->before_db_change) eng->before_db_change(eng, db);
    if (eng && eng->on_db_reset) eng->on_db_reset(eng, db);
    dict_drain(&db->expires, free_x_node, NULL);
    dict_drain(&db->keys, free_kv_node, NULL);
    db->avg_ttl = 0;
    db->expire_cursor = 0;
    return n;
}

void db_swap(struct db *a, struct db *b)
{
    struct db t = *a;
    *a = *b;
    *b = t;
    int id = a->id;
    a->id = b->id;
    b->id = id;
}

struct kv *db_random(struct engine *eng, struct db *db)
{
    /* If every key is volatile and expired we could loop forever: bound it,
     * as Redis does, and return one even if expired-but-undeleted. */
    for (int tries = 0; tries < 100; tries++) {
        struct kv *kv = (struct kv *)dict_random(&db->keys);
        if (!kv) return NULL;
        if (!db_is_expired(eng, db, kv)) return kv;
        if (eng->readonly_replica) continue;
        expire_now(eng, db, kv, util_hash(kv->data, kv->klen));
    }
    return (struct kv *)dict_random(&db->keys);
}

struct scan_adapter {
    void (*fn)(struct kv *kv, void *priv);
    void *priv;
};

static void scan_cb(struct dnode *n, void *priv)
{
    struct scan_adapter *a = priv;
    a->fn((struct kv *)n, a->priv);
}

uint64_t db_scan(struct db *db, uint64_t cursor, void (*fn)(struct kv *kv, void *priv), void *priv)
{
    struct scan_adapter a = {fn, priv};
    return dict_scan(&db->keys, cursor, scan_cb, &a);
}

/* Keys examined per db per round, and the share of expired keys in a sample
 * above which the round repeats (Redis: 20 keys, 10%). */
#define EXPIRE_SAMPLE     20
#define EXPIRE_REPEAT_PCT 10

long long db_active_expire(struct engine *eng, long long budget_us)
{
    if (eng->readonly_replica) return 0;
    long long start = util_mono_us(), expired_total = 0;
    struct dnode *sample[EXPIRE_SAMPLE];
    for (int i = 0; i < eng->ndbs; i++) {
        struct db *db = &eng->dbs[i];
        for (;;) {
            size_t n = dict_size(&db->expires);
            if (n == 0) break;
            size_t got = dict_sample(&db->expires, sample, EXPIRE_SAMPLE);
            size_t expired = 0;
            long long ttl_sum = 0, ttl_n = 0;
            /* collect first: deleting while the sample array holds nodes
             * would leave dangling pointers */
            struct kv *victims[EXPIRE_SAMPLE];
            for (size_t k = 0; k < got; k++) {
                struct xnode *x = (struct xnode *)sample[k];
                /* dict_sample may return a node twice (it can revisit a
                 * bucket): count and delete each key once */
                bool dup = false;
                for (size_t m = 0; m < k && !dup; m++) dup = sample[m] == sample[k];
                if (dup) continue;
                if (x->when <= eng->now_ms) {
                    victims[expired++] = x->kv;
                } else {
                    ttl_sum += x->when - eng->now_ms;
                    ttl_n++;
                }
            }
            for (size_t k = 0; k < expired; k++)
                expire_now(eng, db, victims[k], util_hash(victims[k]->data, victims[k]->klen));
            expired_total += (long long)expired;
            if (ttl_n) {
                long long avg = ttl_sum / ttl_n;
                db->avg_ttl = db->avg_ttl ? (db->avg_ttl / 50) * 49 + avg / 50 : avg;
            }
            if (util_mono_us() - start > budget_us) {
                eng->stats.expired_time_cap_reached++;
                goto out;
            }
            if (got == 0 || expired * 100 / got <= EXPIRE_REPEAT_PCT) break;
        }
    }
out:
    eng->stats.expire_cycle_us += util_mono_us() - start;
    return expired_total;
}

void db_cron(struct engine *eng, long long budget_us)
{
    long long start = util_mono_us();
    for (int i = 0; i < eng->ndbs; i++) {
        struct db *db = &eng->dbs[i];
        dict_maybe_shrink(&db->keys);
        dict_maybe_shrink(&db->expires);
        long long left = budget_us - (util_mono_us() - start);
        if (left <= 0) break;
        if (dict_is_rehashing(&db->keys)) dict_rehash_us(&db->keys, left);
        if (dict_is_rehashing(&db->expires)) dict_rehash_us(&db->expires, left / 2 + 1);
    }
}
