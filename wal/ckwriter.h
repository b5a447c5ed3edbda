/*
 * ckwriter.h - the checkpoint writer thread: the event loop hands it
 * serialized entries and deletions through a queue of blocks, and it writes
 * them into one LMDB write transaction of the checkpoint store (ckpt.h),
 * committed with the checkpoint's meta when the loop says it has handed
 * over everything. The loop decides what the snapshot holds (server/
 * persist.c); this thread only writes, so it never touches the engine.
 *
 * Before it consumes anything the thread empties the dbs written whole and
 * lists (ckw_options.collect) and sorts the keys of an incremental
 * checkpoint into the store's key order, so that the loop can hand them
 * over in the order LMDB writes fastest without spending its own time on
 * the list. What the loop hands over for a db written whole (in hash
 * order: it scans the db) is not written as it comes but gathered in
 * sorted runs (ckrun.h) and written in key order, appended, after the
 * loop's last block: the map of the file then stays small and its pages
 * full.
 *
 * A failure (LMDB error, full map) is sticky: the thread discards what
 * still comes, ckw_state says CKW_FAILED, and nothing is committed. An
 * ended or cancelled writer leaves the store exactly as it was unless it
 * committed.
 *
 * Thread: every function here is for the loop's thread (one caller); the
 * writer thread calls o->notify from itself.
 */
#ifndef LODE_WAL_CKWRITER_H
#define LODE_WAL_CKWRITER_H

#include "engine/buf.h"
#include "engine/object.h"
#include "wal/ckpt.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A key of the loop's list: the thread sorts these by (db, key) in the
 * store's order. 32 bytes: one per key owed, so it is most of what a first
 * checkpoint adds to the server's memory (the loop finds its own record of
 * the key from key, which points into it). */
struct ckw_entry {
    uint8_t head[CKPT_KEY_HEAD];
    uint32_t db;
    uint32_t klen;
    const char *key; /* must stay valid and unchanged until ckw_end */
};

struct ckw_options {
    const char *dir;  /* the store (DIR/checkpoint) */
    uint64_t room;    /* bytes the transaction may add (ckpt_open_writer) */
    const bool *drop; /* ndbs flags: dbs emptied before anything is written */
    int ndbs;
    int nice; /* the thread's nice value (0: unchanged) */
    /* Puts into the dbs written whole are sorted into the store's order
     * before they are written (ckrun.h), in runs of this many bytes in
     * memory, merged from a sort file beside the store. 0: CKW_RUN_BYTES */
    size_t run_bytes;
    const char *sort_dir; /* where the runs' sort file goes (NULL: dir) */
    /* Called in the thread first: lists the keys to sort (*out, allocated
     * with lode_malloc, owned by the writer until ckw_end); returns their
     * count. NULL: none. It must only read what the loop leaves alone. */
    size_t (*collect)(void *priv, struct ckw_entry **out);
    void (*notify)(void *priv); /* from the thread: sorted, a block written, ended */
    void *priv;
};

enum { CKW_RUNNING = 0, CKW_DONE = 1, CKW_FAILED = 2 };

/* The default run: as much as the loop may queue for the thread. */
#define CKW_RUN_BYTES ((size_t)4 << 20)

struct ckwriter;

/* Starts the thread. Returns 0 or -errno. */
int ckw_start(struct ckwriter **out, const struct ckw_options *o);
/* Whether the thread has listed and sorted the keys (after it, the loop
 * may read them through ckw_order). */
bool ckw_sorted(struct ckwriter *w);
/* The sorted keys (valid once ckw_sorted, until ckw_end). */
struct ckw_entry *ckw_order(struct ckwriter *w, size_t *n);
/* Blocks until the thread has sorted the keys. */
void ckw_wait_sorted(struct ckwriter *w);
/* Appends a put of kv (absolute expiry or -1) to the current block. Returns
 * 0 or -ENOTSUP (a type that can't be checkpointed: nothing appended). */
int ckw_put_kv(struct ckwriter *w, uint32_t db, const struct kv *kv, long long expire_ms);
/* Appends a deletion of (db, key) to the current block. */
void ckw_delete(struct ckwriter *w, uint32_t db, const char *key, size_t klen);
/* Hands the current block to the thread (no-op when empty), unless the
 * thread holds the queue's lock at that moment: then the block keeps
 * filling and goes at the next call (the loop never waits for the
 * thread). Returns false when a block stayed with the caller. */
bool ckw_flush(struct ckwriter *w);
/* Bytes handed over or in the current block and not yet written. */
size_t ckw_pending(struct ckwriter *w);
/* Nothing more comes: the thread writes the FUNCTION libraries (p, n) and
 * the meta of LSN lsn, and commits. */
void ckw_finish(struct ckwriter *w, uint64_t lsn, const void *fns, size_t n);
/* CKW_RUNNING, CKW_DONE (committed) or CKW_FAILED. */
int ckw_state(struct ckwriter *w);
/* Hands over the current block (waiting for the lock), then blocks until
 * fewer than below bytes are pending or the writer ended. */
void ckw_wait_room(struct ckwriter *w, size_t below);
/* Waits for the thread (cancelling the transaction first when cancel) and
 * frees w. Returns CKW_DONE or CKW_FAILED; err gets the reason of a
 * failure, *map_full whether it was the map running out. */
int ckw_end(struct ckwriter *w, bool cancel, struct buf *err, bool *map_full);

#endif
