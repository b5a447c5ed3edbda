/*
 * persist.c - start-up recovery, logging of effects, held replies, the
 * data directory lock (see persist.h).
 *
 * Held replies (durability always): a reply is sent only when every LSN
 * that existed when it was produced is durable, so no client is ever shown
 * a write a crash could take back. Each client keeps marks (end offset of
 * a reply in its output buffer, LSN it needs); once a reply is held every
 * later reply of that client is held behind it, which keeps replies in
 * order. When the writer thread reports progress, the loop releases the
 * marks whose LSN is durable.
 */
#include "server/persist.h"
#include "engine/lode.h"
#include "engine/util.h"
#include "server/server.h"
#include "engine/digest.h"
#include "wal/ckpt.h"
#include "wal/ckwriter.h"
#include "wal/replay.h"
#include "wal/wal.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static struct wal *wal;
static int lock_fd = -1;
static ev_async wal_async;
static struct client *held; /* clients with marks, through held_next */
static char error_reply[256];
static long long recovery_ms;
static uint64_t lsn_seen; /* the last LSN at the last report to the WAL */
static bool turn_busy;    /* that report: the turn appended records */

/* ---- the dirty set ---- */

/* A key changed since the last checkpoint (an element of a per-db dict). */
struct dkey {
    struct dnode node;
    uint32_t klen;
    bool done; /* a threaded checkpoint handed it to its writer */
    char key[];
};

static uint64_t dkey_hash(const struct dnode *n)
{
    const struct dkey *k = (const struct dkey *)n;
    return db_hash(k->key, k->klen);
}

static bool dkey_match(const struct dnode *n, const void *key, size_t len)
{
    const struct dkey *k = (const struct dkey *)n;
    return k->klen == len && memcmp(k->key, key, len) == 0;
}

static const struct dict_type dkey_type = {dkey_hash, dkey_match};

/* The dkeys of a dirty set live in chunks the set owns: dropping a set of
 * 200,000 keys after a checkpoint then frees a few chunks instead of
 * visiting every key on the event loop. */
#define DKEY_CHUNK ((size_t)64 * 1024)
struct dchunk {
    struct dchunk *next;
    size_t cap, used;
    _Alignas(8) char data[];
};

/* Every (db, key) changed since the last checkpoint; full[db] = the whole
 * db must be rewritten (FLUSHDB, FLUSHALL, SWAPDB, or no checkpoint yet),
 * and then its key set is not kept. */
struct dirty {
    struct dict *keys; /* ndbs */
    bool *full;
    uint64_t n;            /* keys listed + dbs marked full */
    struct dchunk *chunks; /* the dkeys' memory, newest first */
};

static void dirty_init(struct dirty *d)
{
    int n = srv.eng.ndbs;
    d->keys = lode_calloc(sizeof(*d->keys) * (size_t)n);
    d->full = lode_calloc(sizeof(*d->full) * (size_t)n);
    for (int i = 0; i < n; i++) dict_init(&d->keys[i], &dkey_type);
    d->n = 0;
    d->chunks = NULL;
}

/* A dkey of klen key bytes from d's chunks. */
static struct dkey *dkey_alloc(struct dirty *d, size_t klen)
{
    size_t need = (sizeof(struct dkey) + klen + 7) & ~(size_t)7;
    struct dchunk *c = d->chunks;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > DKEY_CHUNK ? need : DKEY_CHUNK;
        c = lode_malloc(sizeof(*c) + cap);
        c->cap = cap;
        c->used = 0;
        c->next = d->chunks;
        d->chunks = c;
    }
    struct dkey *k = (struct dkey *)(c->data + c->used);
    c->used += need;
    return k;
}

static void dirty_release(struct dirty *d)
{
    if (!d->keys) return;
    /* the tables' arrays, then the chunks: no key is visited */
    for (int i = 0; i < srv.eng.ndbs; i++) dict_release(&d->keys[i]);
    while (d->chunks) {
        struct dchunk *c = d->chunks;
        d->chunks = c->next;
        lode_free(c);
    }
    lode_free(d->keys);
    lode_free(d->full);
    d->keys = NULL;
    d->full = NULL;
    d->n = 0;
}

static void dirty_add_hashed(struct dirty *d, int db, const char *key, size_t klen, uint64_t h)
{
    if (d->full[db]) return;
    if (dict_find(&d->keys[db], key, klen, h)) return;
    struct dkey *k = dkey_alloc(d, klen);
    k->klen = (uint32_t)klen;
    k->done = false;
    memcpy(k->key, key, klen);
    dict_add(&d->keys[db], &k->node, h);
    d->n++;
}

static void dirty_add(struct dirty *d, int db, const char *key, size_t klen)
{
    dirty_add_hashed(d, db, key, klen, db_hash(key, klen));
}

static void dirty_mark_full(struct dirty *d, int db)
{
    if (d->full[db]) return;
    d->n -= dict_size(&d->keys[db]);
    dict_release(&d->keys[db]); /* its dkeys stay in the chunks until the set goes */
    d->full[db] = true;
    d->n++;
}

static struct dirty dirty;  /* changes since the running (or last) checkpoint */
static struct dirty saving; /* what the running child writes */

/* The epoch of `dirty`: a present key whose kv carries it is in `dirty`
 * (or its db is marked full). A key written again and again between two
 * checkpoints then costs a look at its own entry, which the write just
 * touched, instead of a search of the dirty set. kvs start at 0 (never an
 * epoch), db_add and db_set reset it when an entry takes a new (db, key),
 * and a new dirty set takes the next epoch. */
static uint16_t dirty_epoch = 1;

static void snap_check_saved(struct db *db, const char *key, size_t klen, uint64_t h,
                             const struct kv *kv);

static void on_key_changed(struct engine *eng, struct db *db, const char *key, size_t klen)
{
    (void)eng;
    uint64_t h = db_hash(key, klen);
    struct kv *kv = (struct kv *)dict_find(&db->keys, key, klen, h);
    if (kv && kv->epoch == dirty_epoch) return;
    if (eng->before_key_change) snap_check_saved(db, key, klen, h, kv);
    dirty_add_hashed(&dirty, db->id, key, klen, h);
    if (kv) kv->epoch = dirty_epoch;
}

/* `dirty` was replaced by an empty set: no kv's epoch may claim it. After
 * 65,535 checkpoints the epochs wrap and every kv is reset to 0 first
 * (called before the fork: no child shares the pages written). */
static void dirty_next_epoch(void)
{
    if (++dirty_epoch != 0) return;
    for (int i = 0; i < srv.eng.ndbs; i++) {
        struct dict_iter it;
        dict_iter_init(&it, &srv.eng.dbs[i].keys);
        for (struct dnode *n; (n = dict_iter_next(&it));) ((struct kv *)n)->epoch = 0;
        dict_iter_release(&it);
    }
    dirty_epoch = 1;
}

static void on_db_reset(struct engine *eng, struct db *db)
{
    (void)eng;
    dirty_mark_full(&dirty, db->id);
}

/* ---- checkpoint state ---- */

static struct {
    uint64_t lsn;            /* of the last successful checkpoint */
    long long time_ms;       /* its wall-clock time (0: none) */
    long long lastsave;      /* unix seconds: last success, or start */
    long long last_duration; /* ms */
    bool last_ok;
    pid_t child;
    ev_child watcher;
    uint64_t child_lsn;
    long long child_start_ms;
    uint64_t keys_written; /* by the last successful checkpoint */
    uint64_t child_keys;
    bool scheduled;
    long long retry_after_ms; /* after a failure, automatic triggers wait */
    uint64_t wal_bytes;       /* record bytes logged since start */
    uint64_t wal_bytes_at;    /* ... when the last successful checkpoint began */
    uint64_t child_wal_bytes;
    uint64_t n_ok, n_failed; /* checkpoints since start */
} ck = {.last_ok = true, .child = -1};

/* the threaded checkpoint's state (see "the threaded checkpoint" below) */
/* the loop stops handing over while this much waits for the writer */
#define SNAP_QUEUE_HIGH ((size_t)8 << 20)
/* a slice between two turns of a busy loop, and of an idle one: what a
 * request arriving meanwhile may wait for (300 us and 2 ms before; the
 * checkpoint took as long: its writer is the slower side) */
#define SNAP_SLICE_US      100
#define SNAP_SLICE_IDLE_US 250

static struct {
    struct ckwriter *w;
    struct ckw_entry *order; /* the saved set's keys, sorted by the writer */
    size_t norder, next;
    bool *finished; /* ndbs */
    int scan_db;    /* the db written whole being scanned (ndbs: none left) */
    uint64_t cursor;
    bool handed_all;       /* ckw_finish was called */
    bool broken;           /* a change skipped the hook: abandon */
    struct buf fns;        /* the FUNCTION libraries at L */
    uint64_t room;         /* map room of the next writer (doubles after a full map) */
    int map_retries;       /* immediate retries after a full map (at most 4 in a row) */
    bool unflushed;        /* the last ckw_flush kept a block back */
    uint64_t saved;        /* entries handed over (puts and deletes) */
    long long next_key_us; /* checkpoint-key-delay pacing */
    ev_async async;
    ev_idle idle;
    ev_timer pace;
} sn;

static void snap_step(long long budget_us);
static void snap_arm(void);

static bool checkpoint_running(void)
{
    return ck.child >= 0 || sn.w != NULL;
}

/* ---- replay ---- */

static struct replay_stats replay;

static int replay_record(void *priv, const struct wal_record *rec)
{
    (void)priv;
    uint64_t failed = replay.failed;
    int rc = wal_replay_record(&srv.eng, rec, &replay);
    /* a logged command failed again: the log and the engine disagree; say
     * so and keep going (the data is what was logged) */
    if (replay.failed > failed && replay.failed <= 10)
        srv_log(LL_WARNING, "replaying %s", replay.last_error.ptr);
    if (replay.records % 1000000 == 0 && replay.records)
        srv_log(LL_NOTICE, "recovery: %llu records replayed (LSN %llu)",
                (unsigned long long)replay.records, (unsigned long long)rec->lsn);
    return rc;
}

/* ---- durability progress ---- */

static void release_held(void)
{
    uint64_t durable = wal_durable_lsn(wal);
    bool failed = wal_failed(wal) != 0;
    for (struct client **pp = &held; *pp;) {
        struct client *c = *pp;
        int k = 0;
        while (k < c->nmarks && c->marks[k].lsn <= durable) k++;
        if (k) {
            c->held_from = c->marks[k - 1].end;
            memmove(c->marks, c->marks + k, sizeof(*c->marks) * (size_t)(c->nmarks - k));
            c->nmarks -= k;
            client_schedule_write(c);
        }
        if (c->nmarks && failed) {
            /* these replies can never be confirmed: the client must not
             * take them as acknowledged, so the connection ends */
            c->nmarks = 0;
            client_close_async(c);
        }
        if (!c->nmarks) {
            *pp = c->held_next;
            c->held_next = NULL;
            c->held_listed = false;
        } else {
            pp = &c->held_next;
        }
    }
}

static void on_wal_progress(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    int err = wal_failed(wal);
    if (err && !error_reply[0]) {
        snprintf(error_reply, sizeof(error_reply),
                 "MISCONF Errors writing to the WAL: %s. Writes are refused to protect the "
                 "acknowledged data; reads go on. Check the disk and restart the server.",
                 lode_strerror(err));
        srv_log(LL_WARNING, "WAL write or fsync failed (%s): refusing writes from now on",
                lode_strerror(err));
    }
    release_held();
}

/* Writer thread: progress was made; wake the loop. */
static void notify(void *priv)
{
    (void)priv;
    ev_async_send(srv.loop, &wal_async);
}

/* ---- open / close ---- */

static int lock_dir(void)
{
    lock_fd = open("LOCK", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (lock_fd < 0) {
        srv_log(LL_WARNING, "Can't open the lock file in '%s': %s", srv.cfg.dir, strerror(errno));
        return -1;
    }
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        srv_log(LL_WARNING,
                "Another lode-server is using the data directory '%s' (its LOCK is held): "
                "refusing to start",
                srv.cfg.dir);
        close(lock_fd);
        lock_fd = -1;
        return -1;
    }
    return 0;
}

/* Loads the checkpoint's FUNCTION libraries (version 2; none in 1).
 * Returns 0, or -1 after logging why. */
static int load_functions(struct ckpt *c)
{
    struct buf payload = BUF_INIT, err = BUF_INIT;
    int rc = ckpt_get_meta(c, CKPT_META_FUNCTIONS, &payload);
    if (rc == 1) {
        rc = scripting_load_functions(payload.ptr, payload.len, &err);
        if (rc)
            srv_log(LL_WARNING, "Can't start: the checkpoint's functions don't load: %s", err.ptr);
        else
            srv_log(LL_NOTICE, "Checkpoint functions loaded (%zu bytes)", payload.len);
    } else if (rc < 0) {
        srv_log(LL_WARNING, "Can't start: %s", ckpt_last_error(c));
    }
    buf_release(&payload);
    buf_release(&err);
    return rc < 0 ? -1 : 0;
}

/* Loads DIR/checkpoint into the engine; *lsn gets its LSN (0: none). */
static int load_checkpoint(uint64_t *lsn)
{
    struct ckpt *c = NULL;
    struct buf err = BUF_INIT;
    *lsn = 0;
    int rc = ckpt_open(&c, "checkpoint", true, &err);
    if (rc == -ENOENT) {
        buf_release(&err);
        return 0;
    }
    if (rc) {
        srv_log(LL_WARNING, "Can't start: %s", err.ptr);
        buf_release(&err);
        return -1;
    }
    buf_release(&err);
    struct ckpt_meta m;
    long long t0 = util_mono_us();
    uint64_t nkeys = 0;
    rc = ckpt_read_meta(c, &m);
    if (rc == 0) rc = ckpt_load(c, &srv.eng, &nkeys);
    if (rc == 0) rc = load_functions(c);
    if (rc) {
        srv_log(LL_WARNING, "Can't start: the checkpoint in '%s/checkpoint' can't be loaded: %s",
                srv.cfg.dir, ckpt_last_error(c));
        ckpt_close(c);
        return -1;
    }
    ckpt_close(c);
    *lsn = m.lsn;
    if (m.lsn) {
        ck.lsn = m.lsn;
        ck.time_ms = (long long)m.time_ms;
        ck.lastsave = (long long)m.time_ms / 1000;
    }
    srv_log(LL_NOTICE, "Checkpoint at LSN %llu loaded in %lld ms: %llu keys",
            (unsigned long long)m.lsn, (util_mono_us() - t0) / 1000, (unsigned long long)nkeys);
    return 0;
}

static void snap_init(void);

int persist_open(void)
{
    if (lock_dir() != 0) return -1;
    ck.lastsave = srv.start_ms / 1000;
    dirty_init(&dirty);
    uint64_t base = 0;
    if (load_checkpoint(&base) != 0) return -1;
    /* without a checkpoint the first one writes everything */
    if (!base)
        for (int i = 0; i < srv.eng.ndbs; i++) dirty_mark_full(&dirty, i);
    /* the WAL tail's keys are newer than the checkpoint */
    srv.eng.on_key_changed = on_key_changed;
    srv.eng.on_db_reset = on_db_reset;
    snap_init();
    ev_async_init(&wal_async, on_wal_progress);
    ev_async_start(srv.loop, &wal_async);
    struct wal_options opt = {.dir = "wal",
                              .sync = srv.cfg.durability,
                              .segment_size = (uint64_t)srv.cfg.wal_segment_size,
                              .notify = notify,
                              .priv = NULL,
                              .base_lsn = base,
                              .spare_segments = (unsigned)srv.cfg.wal_spare_segments,
                              .prefill_ahead = srv.cfg.wal_prefill ? WAL_PREFILL_AHEAD : 0};
    struct buf err = BUF_INIT;
    long long t0 = util_mono_us();
    replay_stats_init(&replay);
    replay.server_cmd = scripting_replay_command;
    int rc = wal_open(&wal, &opt, replay_record, NULL, &err);
    effects_reset(&srv.eng.eff);
    recovery_ms = (util_mono_us() - t0) / 1000;
    if (rc != 0) {
        srv_log(LL_WARNING,
                "Can't start: %s. Inspect and repair the data directory with "
                "'lode-recover %s check' and 'lode-recover %s repair'.",
                err.ptr ? err.ptr : lode_strerror(rc), srv.cfg.dir, srv.cfg.dir);
        buf_release(&err);
        return -1;
    }
    if (err.len) srv_log(LL_WARNING, "WAL recovery: %s", err.ptr);
    buf_release(&err);
    srv_log(LL_NOTICE, "WAL recovered in %lld ms: %llu records replayed, last LSN %llu",
            recovery_ms, (unsigned long long)replay.records, (unsigned long long)wal_last_lsn(wal));
    return 0;
}

static void kill_child(void);

void persist_close(void)
{
    if (!wal) return;
    /* a child left running would hold the directory's lock (and run on,
     * at low priority) after this process is gone: a restart would wait */
    if (checkpoint_running()) srv_log(LL_NOTICE, "Stopping the running checkpoint");
    kill_child();
    wal_close(wal);
    wal = NULL;
    /* every record is written (and synced unless durability is no): the
     * held replies may go */
    for (struct client *c = held, *next; c; c = next) {
        next = c->held_next;
        c->nmarks = 0;
        c->held_next = NULL;
        c->held_listed = false;
        client_schedule_write(c);
    }
    held = NULL;
    replay_stats_release(&replay);
    srv.eng.on_key_changed = NULL;
    srv.eng.on_db_reset = NULL;
    dirty_release(&dirty);
    dirty_release(&saving);
    buf_release(&sn.fns);
    if (lock_fd >= 0) {
        close(lock_fd); /* releases the flock */
        lock_fd = -1;
    }
}

/* ---- the write path ---- */

void persist_log_effects(void)
{
    struct effects *e = &srv.eng.eff;
    if (!e->n) return;
    wal_append(wal, (uint32_t)e->start_db, e->n, e->cmds.ptr, e->cmds.len,
               (uint64_t)srv.eng.now_ms);
    ck.wal_bytes += e->cmds.len + WAL_REC_HEADER;
    effects_reset(e);
}

void persist_before_sleep(void)
{
    if (ck.scheduled && !checkpoint_running() && wal) {
        ck.scheduled = false;
        persist_bgsave();
    }
    if (sn.w) {
        snap_step(SNAP_SLICE_US);
        snap_arm();
    }
    if (wal) wal_seal(wal);
    if (wal && srv.cfg.durability == DUR_ALWAYS) {
        /* the writer holds its group open while turns append records
         * (reads alone do not: they bring nothing to sync) */
        uint64_t lsn = wal_last_lsn(wal);
        turn_busy = lsn != lsn_seen;
        wal_loop_busy(wal, turn_busy);
        lsn_seen = lsn;
    }
}

bool persist_may_sleep(void)
{
    if (!wal || srv.cfg.durability != DUR_ALWAYS) return true;
    return !turn_busy && wal_last_lsn(wal) == lsn_seen;
}

void persist_found_nothing(void)
{
    if (wal && turn_busy && wal_last_lsn(wal) == lsn_seen) {
        turn_busy = false;
        wal_loop_busy(wal, false);
    }
}

/* ---- checkpoints ---- */

/* A key to write, for sorting into the store's order: the kv of a db
 * written whole, or a key of the dirty set. */
struct sort_entry {
    uint8_t head[CKPT_KEY_HEAD];
    const void *p; /* struct kv or struct dkey */
};

static int kv_entry_cmp(const void *pa, const void *pb)
{
    const struct sort_entry *a = pa, *b = pb;
    int r = memcmp(a->head, b->head, CKPT_KEY_HEAD);
    if (r) return r;
    const struct kv *x = a->p, *y = b->p;
    return ckpt_key_cmp(kv_key(x), x->klen, kv_key(y), y->klen);
}

static int dkey_entry_cmp(const void *pa, const void *pb)
{
    const struct sort_entry *a = pa, *b = pb;
    int r = memcmp(a->head, b->head, CKPT_KEY_HEAD);
    if (r) return r;
    const struct dkey *x = a->p, *y = b->p;
    return ckpt_key_cmp(x->key, x->klen, y->key, y->klen);
}

/* Writes one kv or dkey entry of db i: a present key is put (appended
 * when the db is written whole), an absent one deleted. */
static int child_put_entry(struct ckpt *c, int i, const void *p, bool whole)
{
    struct db *db = &srv.eng.dbs[i];
    if (srv.cfg.checkpoint_key_delay > 0) usleep((useconds_t)srv.cfg.checkpoint_key_delay);
    if (whole) {
        struct kv *kv = (struct kv *)p;
        return ckpt_append(c, (uint32_t)i, kv, db_expire_of(db, kv));
    }
    const struct dkey *k = p;
    /* as in memory at the fork, expired or not (recovery then decides
     * expiry exactly as this process would) */
    struct kv *kv = db_find(db, k->key, k->klen);
    if (kv) return ckpt_put(c, (uint32_t)i, kv, db_expire_of(db, kv));
    return ckpt_delete(c, (uint32_t)i, k->key, k->klen);
}

/* Child: writes db i whole (its old keys are gone) or the keys of it in
 * the dirty set, in the store's key order: LMDB then appends a whole db
 * with full pages (about half the pages of puts in hash order, and no
 * searches) and finds each dirty key's page where it found the last one.
 * In hash order when there is no memory for the order. */
static int child_put_db(struct ckpt *c, int i, const struct dirty *d)
{
    struct db *db = &srv.eng.dbs[i];
    bool whole = d->full[i];
    struct dict *set = whole ? &db->keys : &d->keys[i];
    size_t n = dict_size(set), m = 0;
    struct sort_entry *e = n ? malloc(n * sizeof(*e)) : NULL;
    struct dict_iter it;
    dict_iter_init(&it, set);
    int rc = 0;
    for (struct dnode *nd; rc == 0 && (nd = dict_iter_next(&it));) {
        if (!e) {
            rc = child_put_entry(c, i, nd, whole);
        } else if (m < n) {
            if (whole) {
                const struct kv *kv = (const struct kv *)nd;
                ckpt_key_head(kv_key(kv), kv->klen, e[m].head);
            } else {
                const struct dkey *k = (const struct dkey *)nd;
                ckpt_key_head(k->key, k->klen, e[m].head);
            }
            e[m++].p = nd;
        }
    }
    dict_iter_release(&it);
    if (e) {
        qsort(e, m, sizeof(*e), whole ? kv_entry_cmp : dkey_entry_cmp);
        for (size_t j = 0; rc == 0 && j < m; j++) rc = child_put_entry(c, i, e[j].p, whole);
        free(e);
    }
    return rc;
}

/* Child: writes the dirty set d into the open write transaction of c. */
static int child_put_dirty(struct ckpt *c, const struct dirty *d)
{
    int rc = 0;
    for (int i = 0; i < srv.eng.ndbs && rc == 0; i++) {
        if (d->full[i]) rc = ckpt_drop_db(c, (uint32_t)i);
        if (rc == 0) rc = child_put_db(c, i, d);
    }
    return rc;
}

/* Child: writes the dirty set d of the snapshot at LSN lsn. Returns the
 * exit status. The store's map is sized for twice the dataset's memory
 * (values serialize smaller than they live; LMDB's pages are part empty);
 * a transaction that still runs out of map is redone with more. */
static int child_write(const struct dirty *d, uint64_t lsn)
{
    uint64_t room = 2 * (uint64_t)lode_used_memory();
    for (int attempt = 0;; attempt++, room *= 2) {
        struct ckpt *c = NULL;
        struct buf err = BUF_INIT;
        int rc = ckpt_open_writer(&c, "checkpoint", room, &err);
        if (rc) {
            srv_log(LL_WARNING, "checkpoint child: %s", err.ptr);
            buf_release(&err);
            return 1;
        }
        buf_release(&err);
        rc = ckpt_begin(c);
        if (rc == 0) rc = child_put_dirty(c, d);
        if (rc == 0) {
            /* the FUNCTION libraries as of the fork, whole every time (they
             * are small): the same transaction, so they match the LSN */
            struct buf fns = BUF_INIT;
            scripting_dump_functions(&fns);
            rc = ckpt_put_meta(c, CKPT_META_FUNCTIONS, fns.ptr, fns.len);
            buf_release(&fns);
        }
        if (rc == 0) {
            struct ckpt_meta m = {
                .version = CKPT_VERSION, .lsn = lsn, .time_ms = (uint64_t)util_ms_now()};
            memset(m.replid, '0', sizeof(m.replid));
            rc = ckpt_commit(c, &m);
        }
        bool again = rc && ckpt_map_full(c) && attempt < 4;
        if (rc)
            srv_log(again ? LL_NOTICE : LL_WARNING, "checkpoint child: %s%s", ckpt_last_error(c),
                    again ? " (retrying with a larger map)" : "");
        ckpt_close(c);
        if (!again) return rc ? 1 : 0;
    }
}

static uint64_t dirty_count_keys(const struct dirty *d)
{
    uint64_t n = 0;
    for (int i = 0; i < srv.eng.ndbs; i++)
        n += d->full[i] ? db_size(&srv.eng.dbs[i]) : dict_size(&d->keys[i]);
    return n;
}

/* Merges the failed checkpoint's set back into the current one. */
static void dirty_merge_back(void)
{
    for (int i = 0; i < srv.eng.ndbs; i++) {
        if (saving.full[i]) {
            dirty_mark_full(&dirty, i);
            continue;
        }
        struct dict_iter it;
        dict_iter_init(&it, &saving.keys[i]);
        for (struct dnode *n; (n = dict_iter_next(&it));) {
            struct dkey *k = (struct dkey *)n;
            dirty_add(&dirty, i, k->key, k->klen);
        }
        dict_iter_release(&it);
    }
    dirty_release(&saving);
}

/* While a child shares our pages, resizing a hash table would copy every
 * bucket page: tables only grow when chains get long (dict.h); and reads
 * leave access times alone (engine.shared_pages). */
static void allow_resize(bool ok)
{
    srv.eng.shared_pages = !ok;
    for (int i = 0; i < srv.eng.ndbs; i++) {
        srv.eng.dbs[i].keys.resize_ok = ok;
        srv.eng.dbs[i].expires.resize_ok = ok;
    }
}

/* The running checkpoint ended (ok: committed); the caller said why not. */
static void checkpoint_finished(bool ok)
{
    long long now = util_ms_now();
    ck.last_duration = now - ck.child_start_ms;
    ck.last_ok = ok;
    if (!ok) {
        ck.n_failed++;
        dirty_merge_back();
        ck.retry_after_ms = now + 5000;
        return;
    }
    ck.n_ok++;
    dirty_release(&saving);
    ck.lsn = ck.child_lsn;
    ck.time_ms = now;
    ck.lastsave = now / 1000;
    ck.keys_written = ck.child_keys;
    ck.wal_bytes_at = ck.child_wal_bytes;
    srv_log(LL_NOTICE, "Checkpoint at LSN %llu done: %llu keys in %lld ms",
            (unsigned long long)ck.lsn, (unsigned long long)ck.keys_written, ck.last_duration);
    if (wal) {
        char archive[64];
        snprintf(archive, sizeof(archive), "wal-archive");
        int rc = wal_trim(wal, ck.lsn, srv.cfg.wal_archive ? archive : NULL);
        if (rc < 0)
            srv_log(LL_WARNING, "Can't remove WAL segments below the checkpoint: %s",
                    lode_strerror(rc));
    }
}

/* The child ended with wait status st. */
static void checkpoint_done(int st)
{
    allow_resize(true);
    ck.child = -1;
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok) {
        if (WIFSIGNALED(st))
            srv_log(LL_WARNING, "Checkpoint child terminated by signal %d%s", WTERMSIG(st),
                    WTERMSIG(st) == SIGBUS ? " (SIGBUS: the disk under the checkpoint's "
                                             "writable map is full or failed)"
                                           : "");
        else
            srv_log(LL_WARNING, "Checkpoint failed (child exit status %d)",
                    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    checkpoint_finished(ok);
}

static void on_child(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)revents;
    ev_child_stop(loop, w);
    if (w->rpid != ck.child) return;
    checkpoint_done(w->rstatus);
}

/* Starts a checkpoint at the current LSN: the dirty set becomes the one
 * being saved and a new one (with the next epoch) begins. */
static uint64_t checkpoint_begin(void)
{
    lode_assert(srv.eng.eff.n == 0); /* everything up to L is logged */
    uint64_t lsn = wal_last_lsn(wal);
    saving = dirty;
    dirty_init(&dirty);
    dirty_next_epoch();
    ck.child_keys = dirty_count_keys(&saving);
    ck.child_lsn = lsn;
    ck.child_start_ms = util_ms_now();
    ck.child_wal_bytes = ck.wal_bytes;
    return lsn;
}

/* Forks the child; returns its pid or -errno. */
static pid_t checkpoint_fork(void)
{
    uint64_t lsn = checkpoint_begin();
    long long fork_start = util_mono_us();
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* the child: a copy-on-write snapshot at LSN lsn. It dies with
         * its parent (kill -9): an orphan would hold the directory's lock
         * (a restart refuses to start) for a checkpoint nobody uses */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(1);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        /* the sockets are the parent's: a restart must be able to listen
         * again, and a client the parent closes must see it closed, while
         * this child still runs */
        for (int i = 0; i < srv.nlisten; i++) close(srv.listen_fds[i]);
        for (struct client *cl = srv.clients; cl; cl = cl->next)
            if (cl->fd >= 0) close(cl->fd);
        /* background work: the event loop keeps the CPU when they share one */
        if (srv.cfg.checkpoint_nice > 0 &&
            setpriority(PRIO_PROCESS, 0, (int)srv.cfg.checkpoint_nice))
            srv_log(LL_WARNING, "checkpoint child: setpriority: %s", strerror(errno));
        /* at 19, the lowest: only CPU time nothing else wants (see ckwriter.c) */
        struct sched_param sp = {0};
        if (srv.cfg.checkpoint_nice >= 19 && sched_setscheduler(0, SCHED_IDLE, &sp) != 0)
            srv_log(LL_WARNING, "checkpoint child: SCHED_IDLE: %s", strerror(errno));
        _exit(child_write(&saving, lsn));
    }
    if (pid < 0) {
        int e = errno;
        srv_log(LL_WARNING, "Can't fork a checkpoint child: %s", strerror(e));
        dirty_merge_back();
        ck.last_ok = false;
        return -e;
    }
    srv.stat_fork_us = util_mono_us() - fork_start;
    srv.stat_total_forks++;
    ck.child = pid;
    allow_resize(false);
    return pid;
}

/* ---- the threaded checkpoint (checkpoint-method thread) ----
 *
 * No fork: the loop itself hands the snapshot at LSN L to a writer thread
 * (wal/ckwriter.h), key by key, in slices between its turns. What makes the
 * snapshot consistent is that every key of the set being saved is handed
 * over as it was at L: a key the scanner has not reached yet is saved the
 * moment before anything changes it (the engine's before_key_change hook,
 * called by write lookups, db_add, db_set, db_delete, db_move and expiry,
 * and by the dispatcher for the keys of every write command), and a whole
 * db is saved before FLUSHDB, FLUSHALL or SWAPDB change it. So memory grows
 * only by the queue (bounded) and by the keys saved early, and the loop
 * never stops for a fork and its page copies.
 *
 * Which keys are still owed: in a db written key by key, the dkeys of the
 * saved set not yet `done`; in a db written whole, every entry whose epoch
 * is not the new dirty set's (an entry changed since L carries that epoch,
 * and was saved before its first change). A db is `finished` once nothing
 * of it is owed. A change reported after the fact for a key still owed
 * (a path that skipped the hook) abandons the checkpoint: it could no
 * longer be consistent. */

static void snap_save_kv(int i, struct db *db, struct kv *kv)
{
    sn.saved++;
    if (ckw_put_kv(sn.w, (uint32_t)i, kv, db_expire_of(db, kv)) != 0 && !sn.broken) {
        srv_log(LL_WARNING, "Checkpoint: a value of type %s can't be checkpointed yet",
                obj_type_name(kv->type));
        sn.broken = true;
    }
}

/* Hands over dkey k of db i as it is now (which must be as at L). */
static void snap_save_dkey(int i, struct dkey *k)
{
    struct db *db = &srv.eng.dbs[i];
    struct kv *kv = db_find(db, k->key, k->klen);
    if (kv)
        snap_save_kv(i, db, kv);
    else {
        sn.saved++;
        ckw_delete(sn.w, (uint32_t)i, k->key, k->klen);
    }
    k->done = true;
}

/* engine before_key_change: key is about to change. */
static void snap_before_key(struct engine *eng, struct db *db, const char *key, size_t klen)
{
    (void)eng;
    int i = db->id;
    uint64_t h = db_hash(key, klen);
    struct kv *kv = (struct kv *)dict_find(&db->keys, key, klen, h);
    if (kv && kv->epoch == dirty_epoch) return; /* changed since L: saved then */
    /* a db the checkpoint finished owes nothing, but the key must still be
     * recorded below: a new entry will carry the epoch (new_key_epoch), so
     * on_key_changed would not record it */
    if (!sn.finished[i]) {
        if (saving.full[i]) {
            /* the db is written whole: an absent key needs nothing */
            if (kv) snap_save_kv(i, db, kv);
        } else {
            struct dkey *k = (struct dkey *)dict_find(&saving.keys[i], key, klen, h);
            if (k && !k->done) snap_save_dkey(i, k);
        }
    }
    /* it is about to change: recorded now (as on_key_changed would after
     * the change), so the lookups that follow, and on_key_changed itself,
     * take the fast path, and a db written whole does not save it again;
     * an absent key too, so that the entry db_add or db_set links for it
     * may carry the epoch at once (engine new_key_epoch) */
    dirty_add_hashed(&dirty, i, key, klen, h);
    if (kv) kv->epoch = dirty_epoch;
}

/* on_key_changed while a threaded checkpoint runs: a key still owed
 * changed without the hook before it (a bug): the snapshot is no longer
 * the state at L. */
static void snap_check_saved(struct db *db, const char *key, size_t klen, uint64_t h,
                             const struct kv *kv)
{
    int i = db->id;
    if (sn.broken || sn.finished[i]) return;
    if (saving.full[i]) {
        /* every entry the hook saw, and every new one, carries the epoch
         * by now (new_key_epoch); one that does not changed unseen. A key
         * already gone can't be checked here (db_delete and expiry report
         * before they remove, so only a removal that skipped both could) */
        if (!kv || kv->epoch == dirty_epoch) return;
    } else {
        struct dkey *k = (struct dkey *)dict_find(&saving.keys[i], key, klen, h);
        if (!k || k->done) return;
    }
#ifndef NDEBUG
    LODE_PANIC("a key changed without before_key_change during a threaded checkpoint");
#endif
    srv_log(LL_WARNING,
            "Checkpoint abandoned: key '%.*s' changed before it was saved (please report "
            "this); the next checkpoint retries",
            (int)(klen > 64 ? 64 : klen), key);
    sn.broken = true;
}

static void snap_scan_cb(struct kv *kv, void *priv)
{
    int i = *(int *)priv;
    if (kv->epoch != dirty_epoch) snap_save_kv(i, &srv.eng.dbs[i], kv);
}

/* The next db written whole that is not finished, from sn.scan_db on. */
static void snap_next_scan_db(void)
{
    for (; sn.scan_db < srv.eng.ndbs; sn.scan_db++, sn.cursor = 0) {
        int i = sn.scan_db;
        if (!saving.full[i] || sn.finished[i]) continue;
        if (db_size(&srv.eng.dbs[i]) == 0) {
            sn.finished[i] = true;
            continue;
        }
        return;
    }
}

/* engine before_db_change: db is about to be emptied or swapped: hand
 * over all that is still owed of it now. */
static void snap_before_db(struct engine *eng, struct db *db)
{
    (void)eng;
    int i = db->id;
    if (sn.finished[i]) return;
    if (saving.full[i]) {
        uint64_t cur = 0;
        do cur = db_scan(db, cur, snap_scan_cb, &i);
        while (cur);
    } else {
        struct dict_iter it;
        dict_iter_init(&it, &saving.keys[i]);
        for (struct dnode *n; (n = dict_iter_next(&it));) {
            struct dkey *k = (struct dkey *)n;
            if (!k->done) snap_save_dkey(i, k);
        }
        dict_iter_release(&it);
    }
    sn.finished[i] = true;
    sn.unflushed = !ckw_flush(sn.w);
}

static void snap_end(bool cancel);

/* Hands over what is owed for about budget_us (at most one key when
 * paced by checkpoint-key-delay), until the queue is full; then, when
 * nothing is owed, tells the writer to commit. */
static void snap_step(long long budget_us)
{
    if (!sn.w) return;
    if (ckw_state(sn.w) != CKW_RUNNING || sn.broken) {
        snap_end(sn.broken);
        return;
    }
    if (sn.handed_all || !ckw_sorted(sn.w)) return;
    if (!sn.order) sn.order = ckw_order(sn.w, &sn.norder);
    /* an unbounded slice (SAVE) is never paced */
    long long delay = budget_us == LLONG_MAX ? 0 : srv.cfg.checkpoint_key_delay;
    long long t0 = util_mono_us();
    if (delay > 0 && t0 < sn.next_key_us) return;
    for (int n = 1;; n++) {
        if (sn.broken) return; /* never finished: snap_end abandons it */
        if (ckw_pending(sn.w) >= SNAP_QUEUE_HIGH) break;
        if (sn.next < sn.norder) {
            struct ckw_entry *e = &sn.order[sn.next++];
            struct dkey *k = (struct dkey *)(e->key - offsetof(struct dkey, key));
            if (!k->done && !sn.finished[e->db]) snap_save_dkey((int)e->db, k);
        } else {
            snap_next_scan_db();
            if (sn.scan_db >= srv.eng.ndbs) {
                ckw_finish(sn.w, ck.child_lsn, sn.fns.ptr ? sn.fns.ptr : "", sn.fns.len);
                sn.handed_all = true;
                break;
            }
            int i = sn.scan_db;
            sn.cursor = db_scan(&srv.eng.dbs[i], sn.cursor, snap_scan_cb, &i);
            if (sn.cursor == 0) {
                sn.finished[i] = true;
                sn.scan_db++;
            }
            n += 15; /* a bucket: count it as several keys */
        }
        if (delay > 0) {
            sn.next_key_us = t0 + delay;
            break;
        }
        if ((n & 31) == 0 && util_mono_us() - t0 >= budget_us) break;
    }
    sn.unflushed = !ckw_flush(sn.w);
}

/* Keeps the loop turning while keys are owed and the queue has room (a
 * busy loop gets its slices before it sleeps). */
static void snap_arm(void)
{
    if (!sn.w) return;
    bool work = (!sn.handed_all && ckw_sorted(sn.w) && ckw_pending(sn.w) < SNAP_QUEUE_HIGH) ||
                sn.unflushed; /* a block the thread's lock kept back: try again soon */
    bool paced = srv.cfg.checkpoint_key_delay > 0; /* CONFIG SET may change it meanwhile */
    if (paced && ev_is_active(&sn.idle)) ev_idle_stop(srv.loop, &sn.idle);
    if (!paced && ev_is_active(&sn.pace)) ev_timer_stop(srv.loop, &sn.pace);
    if (paced) {
        if (work && !ev_is_active(&sn.pace)) {
            double d = (double)srv.cfg.checkpoint_key_delay / 1e6;
            ev_timer_set(&sn.pace, d, d);
            ev_timer_start(srv.loop, &sn.pace);
        }
        return;
    }
    if (work && !ev_is_active(&sn.idle)) ev_idle_start(srv.loop, &sn.idle);
    if (!work && ev_is_active(&sn.idle)) ev_idle_stop(srv.loop, &sn.idle);
}

static void snap_on_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
    (void)loop, (void)w, (void)revents;
    snap_step(SNAP_SLICE_IDLE_US);
    snap_arm();
}

static void snap_on_pace(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    snap_step(SNAP_SLICE_US);
    if (!sn.w || sn.handed_all) ev_timer_stop(loop, w);
}

static void snap_on_async(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop, (void)w, (void)revents;
    snap_step(SNAP_SLICE_US);
    snap_arm();
}

static void snap_notify(void *priv)
{
    (void)priv;
    ev_async_send(srv.loop, &sn.async);
}

/* Writer thread: lists the keys of the dbs saved key by key. Reads only
 * the saved set, which the loop no longer changes (it only looks keys up
 * in it, and nothing rehashes it: see snap_start). */
struct collect_ctx {
    struct ckw_entry *e;
    size_t n;
    uint32_t db;
};

static void collect_one(const struct dnode *nd, void *priv)
{
    struct collect_ctx *x = priv;
    const struct dkey *k = (const struct dkey *)nd;
    struct ckw_entry *e = &x->e[x->n++];
    ckpt_key_head(k->key, k->klen, e->head);
    e->db = x->db;
    e->klen = k->klen;
    e->key = k->key; /* the dkey is found again from it */
}

static size_t snap_collect(void *priv, struct ckw_entry **out)
{
    (void)priv;
    size_t total = 0;
    for (int i = 0; i < srv.eng.ndbs; i++)
        if (!saving.full[i]) total += dict_size(&saving.keys[i]);
    struct collect_ctx x = {total ? lode_malloc(total * sizeof(*x.e)) : NULL, 0, 0};
    for (int i = 0; i < srv.eng.ndbs; i++) {
        if (saving.full[i]) continue;
        x.db = (uint32_t)i;
        dict_walk(&saving.keys[i], collect_one, &x);
    }
    *out = x.e;
    return x.n;
}

static void snap_init(void)
{
    ev_async_init(&sn.async, snap_on_async);
    ev_idle_init(&sn.idle, snap_on_idle);
    ev_timer_init(&sn.pace, snap_on_pace, 0, 0);
}

static int snap_start(void)
{
    int n = srv.eng.ndbs;
    checkpoint_begin();
    /* the saved set is only looked up from now on: with no rehash under
     * way the writer thread can list its keys meanwhile (snap_collect) */
    for (int i = 0; i < n; i++)
        while (dict_rehash(&saving.keys[i], 1024)) {
        }
    sn.order = NULL;
    sn.norder = 0;
    sn.finished = lode_calloc(sizeof(bool) * (size_t)n);
    sn.next = 0;
    sn.scan_db = 0;
    sn.cursor = 0;
    sn.handed_all = false;
    sn.broken = false;
    sn.unflushed = false;
    sn.saved = 0;
    sn.next_key_us = 0;
    sn.fns.len = 0;
    scripting_dump_functions(&sn.fns);
    if (!sn.room) sn.room = 2 * (uint64_t)lode_used_memory();
    struct ckw_options o = {.dir = "checkpoint",
                            .room = sn.room,
                            .drop = saving.full,
                            .ndbs = n,
                            .nice = (int)srv.cfg.checkpoint_nice,
                            .collect = snap_collect,
                            .notify = snap_notify};
    int rc = ckw_start(&sn.w, &o);
    if (rc) {
        srv_log(LL_WARNING, "Can't start the checkpoint writer thread: %s", strerror(-rc));
        lode_free(sn.finished);
        sn.finished = NULL;
        sn.w = NULL;
        checkpoint_finished(false); /* merged back; the triggers wait */
        return rc;
    }
    srv.eng.before_key_change = snap_before_key;
    srv.eng.before_db_change = snap_before_db;
    srv.eng.new_key_epoch = dirty_epoch;
    ev_async_start(srv.loop, &sn.async);
    snap_arm();
    return 0;
}

/* Ends the running threaded checkpoint: waits for the writer (which
 * commits only when everything was handed over and nothing failed). */
static void snap_end(bool cancel)
{
    if (!sn.w) return;
    srv.eng.before_key_change = NULL;
    srv.eng.before_db_change = NULL;
    srv.eng.new_key_epoch = 0;
    if (ev_is_active(&sn.idle)) ev_idle_stop(srv.loop, &sn.idle);
    if (ev_is_active(&sn.pace)) ev_timer_stop(srv.loop, &sn.pace);
    ev_async_stop(srv.loop, &sn.async);
    struct buf err = BUF_INIT;
    bool map_full = false;
    int st = ckw_end(sn.w, cancel || sn.broken || !sn.handed_all, &err, &map_full);
    sn.w = NULL;
    sn.order = NULL; /* was the writer's */
    sn.norder = 0;
    lode_free(sn.finished);
    sn.finished = NULL;
    bool ok = st == CKW_DONE && !sn.broken;
    lode_assert(ok || st != CKW_DONE); /* broken: ckw_finish was never called */
    bool again = !ok && map_full && sn.map_retries < 4;
    if (!ok) {
        srv_log(LL_WARNING, "Checkpoint failed: %s%s", err.len ? err.ptr : "abandoned",
                again ? " (retrying with a larger map)" : "");
        if (map_full && sn.room < ((uint64_t)1 << 40)) sn.room *= 2;
        sn.map_retries = again ? sn.map_retries + 1 : 0;
    } else {
        sn.room = 0;
        sn.map_retries = 0;
    }
    buf_release(&err);
    checkpoint_finished(ok);
    if (again) ck.retry_after_ms = 0; /* at once, with the larger map */
}

/* SAVE and the final checkpoint: the whole snapshot at once, the loop
 * stopped (so nothing changes meanwhile). */
static int snap_run(void)
{
    int rc = snap_start();
    if (rc) return rc;
    while (sn.w && !sn.handed_all && ckw_state(sn.w) == CKW_RUNNING && !sn.broken) {
        if (!ckw_sorted(sn.w)) {
            ckw_wait_sorted(sn.w);
            continue;
        }
        snap_step(LLONG_MAX);
        if (!sn.handed_all) ckw_wait_room(sn.w, SNAP_QUEUE_HIGH / 2);
    }
    snap_end(false);
    return ck.last_ok ? 0 : -EIO;
}

int persist_bgsave(void)
{
    if (!wal) return -EINVAL;
    if (checkpoint_running()) return -EBUSY;
    if (srv.eng.eff.n) {
        /* inside a transaction with unlogged writes: after it is logged */
        ck.scheduled = true;
        return 0;
    }
    if (srv.cfg.checkpoint_method == CKM_THREAD) {
        int rc = snap_start();
        if (rc) return rc;
        srv_log(LL_NOTICE, "Checkpoint started by a writer thread at LSN %llu (%llu keys)",
                (unsigned long long)ck.child_lsn, (unsigned long long)ck.child_keys);
        return 0;
    }
    pid_t pid = checkpoint_fork();
    if (pid < 0) return (int)pid;
    srv_log(LL_NOTICE, "Checkpoint started by pid %d at LSN %llu", (int)pid,
            (unsigned long long)ck.child_lsn);
    ev_child_init(&ck.watcher, on_child, pid, 0);
    ev_child_start(srv.loop, &ck.watcher);
    return 0;
}

bool persist_bgsave_in_progress(void)
{
    return checkpoint_running();
}

void persist_schedule_bgsave(void)
{
    ck.scheduled = true;
}

int persist_save(void)
{
    if (!wal) return -EINVAL;
    if (checkpoint_running()) return -EBUSY;
    if (srv.eng.eff.n) return -EAGAIN;
    if (srv.cfg.checkpoint_method == CKM_THREAD) return snap_run();
    pid_t pid = checkpoint_fork();
    if (pid < 0) return (int)pid;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    checkpoint_done(st);
    return ck.last_ok ? 0 : -EIO;
}

long long persist_lastsave(void)
{
    return ck.lastsave;
}

void persist_cron(void)
{
    if (!wal || checkpoint_running() || wal_failed(wal)) return;
    long long now = util_ms_now();
    if (now < ck.retry_after_ms) return;
    bool due = ck.wal_bytes - ck.wal_bytes_at >= (uint64_t)srv.cfg.checkpoint_wal_bytes;
    long long since = ck.time_ms ? ck.time_ms : srv.start_ms;
    if (dirty.n && now - since >= srv.cfg.checkpoint_interval * 1000) due = true;
    if (due && srv.eng.eff.n == 0) persist_bgsave();
}

/* Stops a running checkpoint: kills the child and waits for it, or cancels
 * the writer thread (the transaction is never committed: the checkpoint
 * stays as it was). */
static void kill_child(void)
{
    snap_end(true);
    if (ck.child < 0) return;
    ev_child_stop(srv.loop, &ck.watcher);
    kill(ck.child, SIGKILL);
    int st;
    while (waitpid(ck.child, &st, 0) < 0 && errno == EINTR) {
    }
    checkpoint_done(st);
}

void persist_final_checkpoint(void)
{
    if (!wal) return;
    kill_child(); /* a running child would not include the last writes */
    if (!dirty.n && ck.lsn == wal_last_lsn(wal)) return;
    srv_log(LL_NOTICE, "Writing a final checkpoint before exiting");
    if (persist_save() != 0) srv_log(LL_WARNING, "The final checkpoint failed");
}

int persist_failed(void)
{
    return wal ? wal_failed(wal) : 0;
}

const char *persist_error_reply(void)
{
    if (!error_reply[0])
        snprintf(error_reply, sizeof(error_reply),
                 "MISCONF Errors writing to the WAL: %s. Writes are refused to protect the "
                 "acknowledged data; reads go on. Check the disk and restart the server.",
                 lode_strerror(persist_failed()));
    return error_reply;
}

void persist_hold_reply(struct client *c, size_t start)
{
    if (srv.cfg.durability != DUR_ALWAYS || !wal) return;
    /* After a WAL failure no write is accepted and reads go on: holding them
     * for an LSN that will never be durable would stall every reader. (What
     * they may see of the failed writes was never acknowledged to anyone.) */
    if (wal_failed(wal) && !c->nmarks) return;
    uint64_t need = wal_last_lsn(wal);
    if (need <= wal_durable_lsn(wal) && !c->nmarks) return;
    if (c->out.len == start && !c->nmarks) return;
    if (!c->nmarks) c->held_from = start;
    if (c->nmarks && c->marks[c->nmarks - 1].lsn > need) need = c->marks[c->nmarks - 1].lsn;
    if (c->nmarks && c->marks[c->nmarks - 1].lsn == need) {
        c->marks[c->nmarks - 1].end = c->out.len; /* same LSN: extend */
    } else {
        if (c->nmarks == c->capmarks) {
            c->capmarks = c->capmarks ? c->capmarks * 2 : 4;
            c->marks = lode_realloc(c->marks, sizeof(*c->marks) * (size_t)c->capmarks);
        }
        c->marks[c->nmarks].end = c->out.len;
        c->marks[c->nmarks].lsn = need;
        c->nmarks++;
    }
    if (!c->held_listed) {
        c->held_listed = true;
        c->held_next = held;
        held = c;
    }
}

size_t persist_sendable(const struct client *c)
{
    return c->nmarks ? c->held_from : c->out.len;
}

void persist_client_gone(struct client *c)
{
    if (c->held_listed) {
        for (struct client **pp = &held; *pp; pp = &(*pp)->held_next) {
            if (*pp == c) {
                *pp = c->held_next;
                break;
            }
        }
        c->held_listed = false;
    }
    lode_free(c->marks);
    c->marks = NULL;
    c->nmarks = c->capmarks = 0;
}

void persist_set_wal_spares(long long n)
{
    if (wal) wal_set_spare_segments(wal, (unsigned)n);
}

void persist_set_wal_prefill(bool on)
{
    if (wal) wal_set_prefill(wal, on);
}

void persist_set_durability(int mode)
{
    if (wal) wal_set_sync(wal, mode);
    /* leaving `always`: nothing waits for syncs any more */
    if (mode != DUR_ALWAYS) {
        for (struct client *c = held; c; c = c->held_next) {
            c->nmarks = 0;
            client_schedule_write(c);
        }
        for (struct client *c = held, *next; c; c = next) {
            next = c->held_next;
            c->held_next = NULL;
            c->held_listed = false;
        }
        held = NULL;
    }
}

void persist_info(struct buf *b)
{
    struct wal_stats st = {0};
    if (wal) wal_get_stats(wal, &st);
    buf_printf(
        b,
        "lode_durability:%s\r\n"
        "lode_wal_last_lsn:%llu\r\n"
        "lode_wal_written_lsn:%llu\r\n"
        "lode_wal_durable_lsn:%llu\r\n"
        "lode_wal_bytes:%llu\r\n"
        "lode_wal_segments:%llu\r\n"
        "lode_wal_spare_segments:%llu\r\n"
        "lode_wal_prefilled_bytes:%llu\r\n"
        "lode_wal_batches:%llu\r\n"
        "lode_wal_records_per_batch:%.2f\r\n"
        "lode_wal_fsyncs:%llu\r\n"
        "lode_wal_fsync_avg_us:%.1f\r\n"
        "lode_wal_fsync_max_us:%llu\r\n"
        "lode_wal_group_holds:%llu\r\n"
        "lode_wal_group_hold_timeouts:%llu\r\n"
        "lode_wal_status:%s\r\n"
        "lode_recovery_ms:%lld\r\n"
        "lode_recovery_records:%llu\r\n"
        "lode_checkpoint_lsn:%llu\r\n"
        "lode_checkpoint_time:%lld\r\n"
        "lode_checkpoint_last_duration_ms:%lld\r\n"
        "lode_checkpoint_status:%s\r\n"
        "lode_checkpoint_in_progress:%d\r\n"
        "lode_checkpoint_method:%s\r\n"
        "lode_checkpoint_child_pid:%d\r\n"
        "lode_checkpoint_keys_written:%llu\r\n"
        "lode_checkpoints_ok:%llu\r\n"
        "lode_checkpoints_failed:%llu\r\n"
        "lode_checkpoint_entries_saved:%llu\r\n",
        config_durability_name(srv.cfg.durability), (unsigned long long)st.last_lsn,
        (unsigned long long)st.written_lsn, (unsigned long long)st.durable_lsn,
        (unsigned long long)st.bytes, (unsigned long long)st.segments,
        (unsigned long long)st.spares, (unsigned long long)st.prefilled,
        (unsigned long long)st.batches, st.batches ? (double)st.records / (double)st.batches : 0.0,
        (unsigned long long)st.syncs, st.syncs ? (double)st.sync_us_total / (double)st.syncs : 0.0,
        (unsigned long long)st.sync_us_max, (unsigned long long)st.holds,
        (unsigned long long)st.hold_timeouts, st.error ? lode_strerror(st.error) : "ok",
        recovery_ms, (unsigned long long)replay.records, (unsigned long long)ck.lsn,
        ck.time_ms / 1000, ck.last_duration, ck.last_ok ? "ok" : "err", checkpoint_running(),
        srv.cfg.checkpoint_method == CKM_THREAD ? "thread" : "fork",
        ck.child >= 0 ? (int)ck.child : -1, (unsigned long long)ck.keys_written,
        (unsigned long long)ck.n_ok, (unsigned long long)ck.n_failed, (unsigned long long)sn.saved);
}

long persist_debug_epoch(long set)
{
    if (set >= 0 && checkpoint_running()) return -1; /* the running one relies on it */
    if (set >= 0) {
        if (set > UINT16_MAX || set < dirty_epoch) return -1;
        dirty_epoch = (uint16_t)set;
    }
    return dirty_epoch;
}

uint64_t persist_changes_since_save(void)
{
    return dirty.n + (checkpoint_running() ? saving.n : 0);
}
