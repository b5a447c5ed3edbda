/*
 * ckwriter.c - the checkpoint writer thread (see ckwriter.h).
 *
 * Blocks are bufs of records: op (1 byte: put or delete), db (4 bytes),
 * length (4 bytes), then the serialized entry or the key, in this
 * process's byte order (they never leave it).
 */
#include "wal/ckwriter.h"
#include "engine/lode.h"
#include "engine/serialize.h"
#include "engine/util.h"
#include "wal/ckrun.h"
#include "wal/thread.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { REC_PUT = CKRUN_PUT, REC_DEL = CKRUN_DEL };
#define REC_HEAD 9

/* a block is handed over when it reaches this size */
#define BLOCK_BYTES ((size_t)256 << 10)

struct block {
    struct block *next;
    struct buf b;
};

struct ckwriter {
    struct ckw_options o;
    bool *drop;
    struct ckw_entry *order;
    size_t norder;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t more;        /* the thread waits for blocks, finish or cancel */
    pthread_cond_t room;        /* the loop (SAVE) waits for pending to drop */
    struct block *head, **tail; /* handed over, oldest first (mu) */
    bool finish, cancel;        /* (mu) */
    _Atomic bool cancelled;     /* cancel, for the merge of the runs to see without mu */
    bool finished;              /* ckw_finish was called (the loop's) */
    uint64_t lsn;
    struct buf fns;
    struct block *cur; /* the loop's block being filled */
    _Atomic size_t pending;
    _Atomic int state;
    _Atomic bool sorted;
    bool map_full;
    struct ckrun *runs; /* the thread's: puts of dbs written whole, sorted */
    bool direct;        /* the sort file failed: dbs written whole are put as they come */
    char error[256];
};

static void signal_loop(struct ckwriter *w)
{
    if (w->o.notify) w->o.notify(w->o.priv);
}

static int entry_cmp(const void *pa, const void *pb)
{
    const struct ckw_entry *a = pa, *b = pb;
    if (a->db != b->db) return a->db < b->db ? -1 : 1;
    int r = memcmp(a->head, b->head, CKPT_KEY_HEAD);
    if (r) return r;
    return ckpt_key_cmp(a->key, a->klen, b->key, b->klen);
}

static void fail(struct ckwriter *w, const char *what)
{
    if (atomic_load(&w->state) != CKW_RUNNING) return;
    snprintf(w->error, sizeof(w->error), "%s", what);
    atomic_store(&w->state, CKW_FAILED);
}

struct emit_ctx {
    struct ckwriter *w;
    struct ckpt *c;
};

static int emit_sorted(void *priv, int op, uint32_t db, const char *p, size_t n)
{
    struct emit_ctx *x = priv;
    if (atomic_load_explicit(&x->w->cancelled, memory_order_relaxed)) return -ECANCELED;
    return op == REC_PUT ? ckpt_append_serialized(x->c, db, p, n) : ckpt_delete(x->c, db, p, n);
}

/* Writes what the runs hold, in key order (seconds for millions of keys:
 * a cancel stops it). */
static void drain_runs(struct ckwriter *w, struct ckpt *c)
{
    struct buf err = BUF_INIT;
    struct emit_ctx x = {w, c};
    int rc = ckrun_drain(w->runs, emit_sorted, &x, &err);
    if (rc == -ECANCELED) {
        fail(w, "cancelled");
    } else if (rc) {
        if (err.len) {
            fail(w, err.ptr);
        } else {
            w->map_full = ckpt_map_full(c);
            fail(w, ckpt_last_error(c));
        }
    }
    buf_release(&err);
}

/* A record of a db written whole goes to the runs (ckrun.h): the loop
 * hands those dbs over in hash order. */
static void sort_record(struct ckwriter *w, struct ckpt *c, int op, uint32_t db,
                        const char *payload, uint32_t len)
{
    int rc = ckrun_add(w->runs, op, db, payload, len);
    if (rc == LODE_ECORRUPT) {
        fail(w, "a serialized entry without its key");
    } else if (rc) {
        /* the sort file can't take more (a full disk?): what the runs
         * hold goes in now, in order, and the rest as it comes */
        w->direct = true;
        drain_runs(w, c);
    }
}

static void apply_block(struct ckwriter *w, struct ckpt *c, const struct buf *b)
{
    size_t off = 0;
    while (off + REC_HEAD <= b->len && atomic_load(&w->state) == CKW_RUNNING) {
        const char *p = b->ptr + off;
        uint32_t db, len;
        memcpy(&db, p + 1, 4);
        memcpy(&len, p + 5, 4);
        const char *payload = p + REC_HEAD;
        off += REC_HEAD + len;
        if (w->runs && !w->direct && db < (uint32_t)w->o.ndbs && w->drop[db]) {
            sort_record(w, c, p[0], db, payload, len);
            continue;
        }
        int rc = p[0] == REC_PUT ? ckpt_put_serialized(c, db, payload, len)
                                 : ckpt_delete(c, db, payload, len);
        if (rc) {
            w->map_full = ckpt_map_full(c);
            fail(w, ckpt_last_error(c));
        }
    }
}

static void *writer_main(void *arg)
{
    struct ckwriter *w = arg;
    /* opened first: the store's own thread (the commit's unmapper) keeps
     * the loop's priority (so does the open, whose fallocate takes a few
     * ms of the CPU) */
    struct ckpt *c = NULL;
    struct buf err = BUF_INIT;
    if (ckpt_open_writer(&c, w->o.dir, w->o.room, &err) != 0) {
        fail(w, err.ptr ? err.ptr : "can't open the checkpoint store");
        c = NULL;
    }
    buf_release(&err);
    if (w->o.nice > 0) {
        pid_t tid = (pid_t)syscall(SYS_gettid);
        if (setpriority(PRIO_PROCESS, (id_t)tid, w->o.nice) != 0) { /* runs at the loop's */
        }
        /* the lowest: SCHED_IDLE runs only on a CPU nothing else wants and
         * gives way at once when the loop wakes (a nice 19 thread may keep
         * the CPU for a few ms first) */
        struct sched_param sp = {0};
        if (w->o.nice >= 19 && sched_setscheduler(tid, SCHED_IDLE, &sp) != 0) { /* nice 19 then */
        }
    }
    if (c && ckpt_begin(c) != 0) fail(w, ckpt_last_error(c));
    for (int i = 0; i < w->o.ndbs && atomic_load(&w->state) == CKW_RUNNING; i++) {
        if (!w->drop[i]) continue;
        if (ckpt_drop_db(c, (uint32_t)i) != 0) fail(w, ckpt_last_error(c));
        if (!w->runs)
            w->runs = ckrun_new(w->o.sort_dir ? w->o.sort_dir : w->o.dir,
                                w->o.run_bytes ? w->o.run_bytes : CKW_RUN_BYTES);
    }
    if (w->o.collect) w->norder = w->o.collect(w->o.priv, &w->order);
    if (w->norder) qsort(w->order, w->norder, sizeof(*w->order), entry_cmp);
    pthread_mutex_lock(&w->mu);
    atomic_store_explicit(&w->sorted, true, memory_order_release);
    pthread_cond_broadcast(&w->room);
    pthread_mutex_unlock(&w->mu);
    signal_loop(w);

    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->head && !w->finish && !w->cancel) pthread_cond_wait(&w->more, &w->mu);
        struct block *b = w->head;
        if (b) {
            w->head = b->next;
            if (!w->head) w->tail = &w->head;
        }
        bool finish = w->finish && !b, cancel = w->cancel;
        pthread_mutex_unlock(&w->mu);
        if (cancel) {
            while (b) { /* the rest is freed by ckw_end */
                buf_release(&b->b);
                lode_free(b);
                b = NULL;
            }
            fail(w, "cancelled");
            break;
        }
        if (b) {
            apply_block(w, c, &b->b);
            atomic_fetch_sub(&w->pending, b->b.len);
            buf_release(&b->b);
            lode_free(b);
            pthread_mutex_lock(&w->mu);
            pthread_cond_broadcast(&w->room);
            pthread_mutex_unlock(&w->mu);
            signal_loop(w);
            continue;
        }
        if (finish) break;
    }
    if (w->runs && !w->direct && atomic_load(&w->state) == CKW_RUNNING) drain_runs(w, c);
    if (atomic_load(&w->state) == CKW_RUNNING) {
        int rc = ckpt_put_meta(c, CKPT_META_FUNCTIONS, w->fns.ptr ? w->fns.ptr : "", w->fns.len);
        if (rc == 0) {
            struct ckpt_meta m = {
                .version = CKPT_VERSION, .lsn = w->lsn, .time_ms = (uint64_t)util_ms_now()};
            memset(m.replid, '0', sizeof(m.replid));
            rc = ckpt_commit(c, &m);
        }
        if (rc) {
            w->map_full = ckpt_map_full(c);
            fail(w, ckpt_last_error(c));
        }
    }
    ckpt_close(c);
    ckrun_free(w->runs);
    w->runs = NULL;
    if (atomic_load(&w->state) == CKW_RUNNING) atomic_store(&w->state, CKW_DONE);
    pthread_mutex_lock(&w->mu);
    pthread_cond_broadcast(&w->room);
    pthread_mutex_unlock(&w->mu);
    signal_loop(w);
    return NULL;
}

int ckw_start(struct ckwriter **out, const struct ckw_options *o)
{
    struct ckwriter *w = lode_calloc(sizeof(*w));
    w->o = *o;
    w->drop = lode_calloc(sizeof(bool) * (size_t)(o->ndbs ? o->ndbs : 1));
    if (o->drop) memcpy(w->drop, o->drop, sizeof(bool) * (size_t)o->ndbs);
    w->tail = &w->head;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->more, NULL);
    pthread_cond_init(&w->room, NULL);
    int rc = wal_thread_start(&w->thread, writer_main, w);
    if (rc) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->more);
        pthread_cond_destroy(&w->room);
        lode_free(w->drop);
        lode_free(w);
        return -rc;
    }
    *out = w;
    return 0;
}

bool ckw_sorted(struct ckwriter *w)
{
    return atomic_load_explicit(&w->sorted, memory_order_acquire);
}

struct ckw_entry *ckw_order(struct ckwriter *w, size_t *n)
{
    *n = w->norder;
    return w->order;
}

static struct buf *cur_block(struct ckwriter *w)
{
    if (!w->cur) w->cur = lode_calloc(sizeof(*w->cur));
    return &w->cur->b;
}

static void put_head(struct buf *b, int op, uint32_t db, uint32_t len)
{
    char h[REC_HEAD];
    h[0] = (char)op;
    memcpy(h + 1, &db, 4);
    memcpy(h + 5, &len, 4);
    buf_append(b, h, REC_HEAD);
}

static void block_filled(struct ckwriter *w, size_t added)
{
    atomic_fetch_add(&w->pending, added);
    if (w->cur->b.len >= BLOCK_BYTES) ckw_flush(w);
}

int ckw_put_kv(struct ckwriter *w, uint32_t db, const struct kv *kv, long long expire_ms)
{
    struct buf *b = cur_block(w);
    size_t at = b->len;
    put_head(b, REC_PUT, db, 0);
    int rc = serialize_kv(b, kv, expire_ms);
    if (rc) {
        b->len = at;
        return rc;
    }
    uint32_t len = (uint32_t)(b->len - at - REC_HEAD);
    memcpy(b->ptr + at + 5, &len, 4);
    block_filled(w, b->len - at);
    return 0;
}

void ckw_delete(struct ckwriter *w, uint32_t db, const char *key, size_t klen)
{
    struct buf *b = cur_block(w);
    size_t at = b->len;
    put_head(b, REC_DEL, db, (uint32_t)klen);
    buf_append(b, key, klen);
    block_filled(w, b->len - at);
}

/* Hands the current block over; with try, only when the lock is free at
 * once (the thread may hold it, preempted at its low priority: the loop
 * must not wait for it; the block keeps filling until the next try). */
static bool flush(struct ckwriter *w, bool try)
{
    struct block *b = w->cur;
    if (!b || !b->b.len) return true;
    if (try) {
        if (pthread_mutex_trylock(&w->mu) != 0) return false;
    } else {
        pthread_mutex_lock(&w->mu);
    }
    w->cur = NULL;
    *w->tail = b;
    w->tail = &b->next;
    pthread_cond_signal(&w->more);
    pthread_mutex_unlock(&w->mu);
    return true;
}

bool ckw_flush(struct ckwriter *w)
{
    return flush(w, true);
}

size_t ckw_pending(struct ckwriter *w)
{
    return atomic_load(&w->pending);
}

void ckw_finish(struct ckwriter *w, uint64_t lsn, const void *fns, size_t n)
{
    flush(w, false);
    w->lsn = lsn;
    w->finished = true;
    buf_append(&w->fns, fns, n);
    pthread_mutex_lock(&w->mu);
    w->finish = true;
    pthread_cond_signal(&w->more);
    pthread_mutex_unlock(&w->mu);
}

int ckw_state(struct ckwriter *w)
{
    return atomic_load(&w->state);
}

void ckw_wait_sorted(struct ckwriter *w)
{
    pthread_mutex_lock(&w->mu);
    while (!atomic_load(&w->sorted)) pthread_cond_wait(&w->room, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void ckw_wait_room(struct ckwriter *w, size_t below)
{
    flush(w, false); /* what the thread is to drain must be its own */
    pthread_mutex_lock(&w->mu);
    while (atomic_load(&w->pending) >= below && atomic_load(&w->state) == CKW_RUNNING)
        pthread_cond_wait(&w->room, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

int ckw_end(struct ckwriter *w, bool cancel, struct buf *err, bool *map_full)
{
    pthread_mutex_lock(&w->mu);
    if (cancel || !w->finished) { /* never commit a partial snapshot */
        w->cancel = true;
        atomic_store(&w->cancelled, true);
    }
    pthread_cond_signal(&w->more);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    int st = atomic_load(&w->state);
    if (err && st == CKW_FAILED) buf_printf(err, "%s", w->error);
    if (map_full) *map_full = w->map_full;
    while (w->head) {
        struct block *b = w->head;
        w->head = b->next;
        buf_release(&b->b);
        lode_free(b);
    }
    if (w->cur) {
        buf_release(&w->cur->b);
        lode_free(w->cur);
    }
    buf_release(&w->fns);
    lode_free(w->order);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->more);
    pthread_cond_destroy(&w->room);
    lode_free(w->drop);
    lode_free(w);
    return st;
}
