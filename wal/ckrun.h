/*
 * ckrun.h - sorted runs for the checkpoint writer: puts and deletes that
 * arrive in any order come out in the store's key order (ckpt_key_cmp
 * within a db, dbs ascending), the last of each key only.
 *
 * Why: the threaded checkpoint hands a db written whole (a first
 * checkpoint, or one after FLUSHALL / FLUSHDB / SWAPDB) over in hash order,
 * and LMDB inserting in that order touches pages all over the tree for the
 * whole transaction, so the writer's map of the file grew to the whole
 * file (2.53x steady RSS for 1.3M keys). Sorted, the same entries go in
 * with MDB_APPEND: full pages, no searches, and the map unmapped behind
 * the puts as they ascend.
 *
 * How: records are gathered in memory up to run_bytes, sorted, and written
 * to an unlinked sort file in the store's directory as a run; ckrun_drain
 * merges the runs and the records still in memory. Memory: run_bytes plus
 * 40 bytes per record gathered, then 64 KiB per run while draining. Disk:
 * about the records' size, until ckrun_free. Records that all fit in
 * memory are never written to disk.
 *
 * Records are the checkpoint writer's: a put holds a serialized entry
 * (engine/serialize.h, which holds its key), a delete holds the key.
 *
 * Thread: one user at a time. Allocates; blocks on disk.
 */
#ifndef LODE_WAL_CKRUN_H
#define LODE_WAL_CKRUN_H

#include "engine/buf.h"

#include <stddef.h>
#include <stdint.h>

enum { CKRUN_PUT = 1, CKRUN_DEL = 2 };

struct ckrun;

/* A ckrun whose sort file (created at the first run written) goes in dir,
 * with runs of run_bytes of records. */
struct ckrun *ckrun_new(const char *dir, size_t run_bytes);
/* Frees r and its sort file. NULL is a no-op. */
void ckrun_free(struct ckrun *r);
/* Adds a record (op CKRUN_PUT or CKRUN_DEL) of db. Returns 0,
 * LODE_ECORRUPT (a put whose entry has no readable key: nothing added) or
 * -errno when a full run could not be written to the sort file: the
 * record is added and everything stays drainable (ckrun_drain), but no
 * further runs should be written (the disk is likely full). */
int ckrun_add(struct ckrun *r, int op, uint32_t db, const void *p, size_t n);
/* Records added since the last drain. */
uint64_t ckrun_count(const struct ckrun *r);
/* Bytes of records written to the sort file since the last drain. */
uint64_t ckrun_spilled(const struct ckrun *r);

/* Called by ckrun_drain for each key in order: its last record. A non-zero
 * return stops the drain and is returned by it. */
typedef int (*ckrun_emit_fn)(void *priv, int op, uint32_t db, const char *p, size_t n);
/* Hands every key added since the last drain to emit, in the store's
 * order, each once with the last record added for it; then r is empty
 * again. Returns 0, emit's non-zero code, or -errno / LODE_ECORRUPT when
 * the sort file can't be read back (err says why). r is empty either way. */
int ckrun_drain(struct ckrun *r, ckrun_emit_fn emit, void *priv, struct buf *err);

#endif
