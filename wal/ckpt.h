/*
 * ckpt.h - the LMDB checkpoint store: DIR/checkpoint/ holds one LMDB
 * environment with the named databases "meta" and "data". Normative
 * layout: docs/checkpoint-format.md.
 *
 * "data" maps (db index, key) to the serialized entry (engine/serialize.h).
 * The LMDB key is the db index as 4 bytes big-endian followed by the key
 * bytes; a key longer than CKPT_SHORT_KEY_MAX bytes is stored under the db
 * index, a 0xFF marker, its first CKPT_LONG_PREFIX bytes and the SHA-1 of
 * the whole key (always exactly CKPT_LMDB_KEY_MAX bytes, one more than any
 * short form, so the two never collide). The value always holds the full
 * key, and every lookup compares it.
 *
 * "meta" holds the format version, the checkpoint LSN (every WAL record up
 * to it is reflected in "data"), the time, a replication id and (version
 * 2) the FUNCTION libraries as one "functions" record. A
 * checkpoint without meta (no write transaction ever committed) is empty,
 * LSN 0.
 *
 * One write transaction (ckpt_begin ... ckpt_commit) changes data and meta
 * together; LMDB makes it atomic and fsyncs at commit, so a crash or a
 * killed writer leaves the previous checkpoint intact.
 *
 * Fork: an open store must never be used across fork(); a child opens its
 * own. Thread: the one that opened it. Allocates; blocks on disk.
 */
#ifndef LODE_WAL_CKPT_H
#define LODE_WAL_CKPT_H

#include "engine/buf.h"
#include "engine/db.h"

#include <stdbool.h>
#include <stdint.h>

#define CKPT_VERSION       2 /* written; 1 (no "functions" record) is still read */
#define CKPT_VERSION_MIN   1
#define CKPT_LMDB_KEY_MAX  511 /* LMDB's default maximum key size */
#define CKPT_SHORT_KEY_MAX (CKPT_LMDB_KEY_MAX - 5)
#define CKPT_LONG_PREFIX   (CKPT_LMDB_KEY_MAX - 4 - 1 - 20)
#define CKPT_REPLID_LEN    40

struct ckpt_meta {
    uint32_t version;
    uint64_t lsn;     /* 0: no checkpoint committed yet */
    uint64_t time_ms; /* wall clock of the commit */
    char replid[CKPT_REPLID_LEN];
};

struct ckpt;

/* Opens the store in dir (DIR/checkpoint). Read-write creates dir when
 * missing; read-only answers -ENOENT when there is no store. Returns 0 or a
 * negative code (-errno, LODE_ECORRUPT, LODE_EVERSION for an LMDB file of
 * another LMDB version) with the reason in err. */
int ckpt_open(struct ckpt **out, const char *dir, bool readonly, struct buf *err);
/* Opens dir read-write for one checkpoint writer that expects to add
 * about room bytes: LMDB then writes into the file's shared map instead of
 * holding every dirty page in this process until commit, and what was
 * written is handed to the page cache as it goes, so the writer's memory
 * stays small (a forked checkpoint child). The map holds the file plus
 * room: a transaction that needs more fails with -ENOSPC and
 * ckpt_map_full() true, and the caller retries with more room. At close the
 * file is cut back to the pages in use. The file's blocks under the whole
 * map are reserved (fallocate) before it is mapped, because a write
 * into a map over a full disk is a SIGBUS, not an error; when they can't
 * be, it opens as ckpt_open does. */
int ckpt_open_writer(struct ckpt **out, const char *dir, uint64_t room, struct buf *err);
/* The last failure was the map of ckpt_open_writer running out. */
bool ckpt_map_full(const struct ckpt *c);
/* Closes; an open write transaction is aborted. NULL is a no-op. */
void ckpt_close(struct ckpt *c);
/* Text of the last failure (static or owned by c). */
const char *ckpt_last_error(const struct ckpt *c);

/* Reads meta. An empty store gives version CKPT_VERSION and LSN 0.
 * Returns 0, LODE_ECORRUPT (fields missing or malformed) or LODE_EVERSION
 * (a format version this reader does not know; m->version tells which). */
int ckpt_read_meta(struct ckpt *c, struct ckpt_meta *m);
/* Adds every stored entry to eng (whose dbs must not hold those keys) and
 * counts them in *nkeys (may be NULL). The engine's on_key_changed hook is
 * called as by db_add. Returns 0, LODE_ECORRUPT (a value does not decode,
 * its key does not match its LMDB key, or its db index is >= eng->ndbs),
 * LODE_EVERSION, or -errno. The engine may hold part of the data on
 * failure. */
int ckpt_load(struct ckpt *c, struct engine *eng, uint64_t *nkeys);
/* Point lookup: 1 with *out (owned, kv_free) and *expire_ms filled, 0 when
 * absent, or a negative code. */
int ckpt_get(struct ckpt *c, uint32_t db, const char *key, size_t klen, struct kv **out,
             long long *expire_ms);

/* Starts the write transaction (read-write stores only). */
int ckpt_begin(struct ckpt *c);
/* Stores kv (expire_ms: absolute or -1) under (db, its key). */
int ckpt_put(struct ckpt *c, uint32_t db, const struct kv *kv, long long expire_ms);
/* Stores an entry already serialized (serialize_kv: it holds its key)
 * under (db, its key). */
int ckpt_put_serialized(struct ckpt *c, uint32_t db, const void *p, size_t n);
/* As ckpt_put, for a key that sorts after every key in the store (see
 * ckpt_key_cmp): LMDB appends it without a search and fills its pages
 * whole. A key that does not sort last is stored by an ordinary put. */
int ckpt_append(struct ckpt *c, uint32_t db, const struct kv *kv, long long expire_ms);
/* As ckpt_put_serialized, appended as ckpt_append does. */
int ckpt_append_serialized(struct ckpt *c, uint32_t db, const void *p, size_t n);
/* The order of two keys of one db in the store: <0, 0 or >0. */
int ckpt_key_cmp(const char *a, size_t alen, const char *b, size_t blen);
/* The first CKPT_KEY_HEAD bytes of a key's place in that order (zero
 * padded): heads that differ order their keys as ckpt_key_cmp does; equal
 * heads leave it to ckpt_key_cmp. For sorting many keys cheaply. */
#define CKPT_KEY_HEAD 16
void ckpt_key_head(const char *key, size_t klen, uint8_t head[CKPT_KEY_HEAD]);
/* Removes (db, key); absent is not an error. */
int ckpt_delete(struct ckpt *c, uint32_t db, const char *key, size_t klen);
/* Removes every key of db. */
int ckpt_drop_db(struct ckpt *c, uint32_t db);
/* Stores an extra meta record name (CKPT_META_FUNCTIONS) in the open
 * write transaction; p NULL removes it. */
int ckpt_put_meta(struct ckpt *c, const char *name, const void *p, size_t n);
/* Reads the extra meta record name into out (replaced). Returns 1 when
 * found, 0 when absent, or a negative code. */
int ckpt_get_meta(struct ckpt *c, const char *name, struct buf *out);
/* The FUNCTION libraries, a FUNCTION DUMP payload (docs/functions-format.md). */
#define CKPT_META_FUNCTIONS "functions"

/* Writes meta (version set to CKPT_VERSION) and commits; LMDB syncs. */
int ckpt_commit(struct ckpt *c, const struct ckpt_meta *m);
/* Discards the transaction: nothing it did is kept. */
void ckpt_abort(struct ckpt *c);

#endif
