/*
 * wal.h - the write-ahead log: segment files, group commit, recovery.
 * Normative on-disk layout: docs/wal-format.md.
 *
 * The main thread appends records (wal_append) into the batch being built
 * and, once per event-loop turn, seals it (wal_seal), before that turn's
 * replies are written. In `always` mode a writer thread writes sealed
 * batches to the current segment and fdatasyncs after each write, then
 * publishes the durable LSN and calls opt.notify (which wakes the loop), so
 * the main thread never waits for disk. Before taking the next batches it
 * waits, at most half its average sync time and 200 us, until as many
 * records are queued as its last sync carried (the clients that sync
 * released coming back), and then, at most group_hold_us, while the loop
 * reports turns that append records (wal_loop_busy), so that one sync
 * serves a whole group. In
 * `everysec` and `no` mode
 * wal_seal writes the batch itself (a write to the page cache, no sync), so
 * a reply leaves only after its records reached the kernel and survives a
 * crash of the process, as with Redis's appendfsync everysec; the writer
 * thread then only syncs: at most once a second in `everysec`, never for
 * durability in `no` — but in both, whenever 8 MiB are written and not
 * synced, in the background. Every mode syncs a segment before starting
 * the next (and a new segment's header), so that only the last segment can
 * have a torn tail; in `everysec` / `no` that happens on the main thread,
 * once per segment, and the background syncs keep it short (at most about
 * 8 MiB to sync instead of a whole segment: 85 ms measured here at 800k
 * INCR/s, 19 ms after).
 *
 * A failed write or sync is sticky (wal_failed): nothing after it is
 * written or reported durable; the caller refuses further writes.
 *
 * Segments: DIR/<first LSN as 16 hex digits>.log, each opened with a
 * 64-byte header and preallocated to the segment size; a record never
 * spans two segments (one larger than a segment gets its own).
 *
 * Threads: wal_open/wal_append/wal_seal/wal_set_sync/wal_close on the main
 * thread; the getters are safe from any thread. wal_set_sync between
 * `always` and the other modes waits for the writer to finish what it
 * holds (the segment changes hands). All file I/O goes through wal_io, which
 * tests replace to inject faults.
 */
#ifndef LODE_WAL_H
#define LODE_WAL_H

#include "engine/buf.h"
#include "wal/record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum wal_sync { WAL_SYNC_ALWAYS = 0, WAL_SYNC_EVERYSEC, WAL_SYNC_NO };

#define WAL_SEG_HEADER 64
#define WAL_PAGE       4096 /* writes into a reused segment are whole pages of this size */
/* segment header flags (u32 at offset 32) */
#define WAL_SEG_REUSED      1u /* the file held an earlier segment: old bytes after the end mark */
#define WAL_DEFAULT_SEGMENT (64ULL * 1024 * 1024)
#define WAL_PREFILL_AHEAD   (8ULL << 20) /* wal_options.prefill_ahead the server uses */
#define WAL_PREFILL_CHUNK   (256u << 10) /* wal_options.prefill_chunk by default */
#define WAL_GROUP_HOLD_US   1000u        /* wal_options.group_hold_us by default */

/* File I/O used by the WAL; every call returns what the POSIX call does. */
struct wal_io {
    int (*open)(const char *path, int flags, mode_t mode);
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    int (*fdatasync)(int fd);
    int (*ftruncate)(int fd, off_t len);
    int (*fallocate)(int fd, off_t off, off_t len);
    int (*close)(int fd);
    int (*rename)(const char *from, const char *to); /* spares: wal_trim, seg_create */
};
/* Replaces the I/O table (tests); NULL restores the real one. */
void wal_set_io(const struct wal_io *io);

struct wal_options {
    const char *dir;            /* the WAL directory, created when missing */
    int sync;                   /* enum wal_sync */
    uint64_t segment_size;      /* bytes per segment (>= 4096) */
    void (*notify)(void *priv); /* writer thread: progress was made */
    void *priv;
    /* LSN of the checkpoint recovery starts from (0: none). Records at or
     * below it are skipped, and the first segment may start at any LSN up
     * to base_lsn + 1 (without a checkpoint it must start at 1). When the
     * log ends before base_lsn (the checkpoint got ahead of a WAL sync
     * that a crash undid), every segment is superseded: they are removed
     * and the log goes on at base_lsn + 1. */
    uint64_t base_lsn;
    /* Trimmed segments kept for reuse (wal_trim renames them to
     * FIRST.spare; a new segment takes one instead of a fresh file), at
     * most this many. Overwriting blocks a segment already wrote spares
     * ext4 converting fresh (unwritten) extents while the log runs. */
    unsigned spare_segments;
    /* Prefill (`always` only): a thread writes zeros this many bytes ahead
     * of the writer in a fresh segment, so that the writer's syncs land in
     * blocks that already hold data (0: off). Writing into blocks that
     * posix_fallocate only reserved makes every fdatasync commit ext4's
     * journal for the extents it converts; a chunk of zeros converts its
     * extents once. prefill_chunk: bytes per write (0: WAL_PREFILL_CHUNK). */
    uint64_t prefill_ahead;
    uint32_t prefill_chunk;
    /* `always`: the longest the writer holds a group open while the main
     * thread reports turns that append records (wal_loop_busy), in us
     * (0: WAL_GROUP_HOLD_US). */
    uint32_t group_hold_us;
};

struct wal_stats {
    uint64_t last_lsn;    /* assigned */
    uint64_t written_lsn; /* handed to the kernel */
    uint64_t durable_lsn; /* fdatasynced */
    uint64_t bytes;       /* record bytes in the live segments */
    uint64_t segments;
    uint64_t spares;           /* trimmed segments kept for reuse */
    uint64_t prefilled;        /* bytes of zeros written ahead of the writer */
    uint64_t batches, records; /* written batches and the records in them */
    uint64_t syncs, sync_us_total, sync_us_max;
    uint64_t holds, hold_timeouts; /* groups held for the loop; holds that hit the limit */
    int error;                     /* sticky: 0 or -errno */
};

/* Called for every record found at recovery, in LSN order. A non-zero
 * return stops recovery with that error. */
typedef int (*wal_replay_fn)(void *priv, const struct wal_record *rec);

struct wal;

/* Opens (creating if needed) the WAL in opt->dir, replays every record
 * through fn, cuts a torn tail of the last segment (zeroing every stale
 * byte after its last good record), removes a last segment whose creation
 * did not finish, and starts the writer thread. On success returns 0 and
 * err holds a note of what was cut or removed ("; "-separated), or nothing.
 * On failure returns a negative code with the reason in err, naming the
 * segment: LODE_ECORRUPT (bad header, damage outside the last segment, a
 * gap between segments), LODE_EVERSION (unknown format version), -errno,
 * or fn's non-zero return. The caller names lode-recover. */
int wal_open(struct wal **out, const struct wal_options *opt, wal_replay_fn fn, void *priv,
             struct buf *err);
/* Adds a record holding ncmds commands (RESP arrays) for db; returns its
 * LSN. Main thread. */
uint64_t wal_append(struct wal *w, uint32_t db, uint32_t ncmds, const char *cmds, size_t len,
                    uint64_t time_ms);
/* Hands the records appended since the last seal to the writer. */
void wal_seal(struct wal *w);
/* The main thread reports, once per loop turn (after wal_seal), whether
 * the turn appended records. In `always` mode the writer holds a group
 * open (up to group_hold_us) while turns do, so that one sync covers what
 * they bring; a turn that appends none releases it. The loop must never
 * sleep in its poll with a busy report standing (it would hold the sync
 * for the time limit): it polls without sleeping until a poll finds
 * nothing and nothing was appended since, and reports that as quiet. */
void wal_loop_busy(struct wal *w, bool busy);
/* The writer is holding a group open for the loop (any thread). */
bool wal_holding(const struct wal *w);
uint64_t wal_last_lsn(const struct wal *w);
uint64_t wal_durable_lsn(const struct wal *w);
uint64_t wal_written_lsn(const struct wal *w);
/* 0, or the -errno of the first failed write or sync (sticky). */
int wal_failed(const struct wal *w);
void wal_set_sync(struct wal *w, int sync);
void wal_get_stats(struct wal *w, struct wal_stats *st);
/* Changes how many trimmed segments are kept for reuse; spares beyond
 * the new number go at the next trim. */
void wal_set_spare_segments(struct wal *w, unsigned n);
/* Turns prefill on (WAL_PREFILL_AHEAD ahead) or off, from the next segment
 * on. */
void wal_set_prefill(struct wal *w, bool on);
/* Removes the segments wholly at or below lsn: every segment whose next
 * segment starts at or below lsn + 1 (so never the newest one). With
 * archive_dir (created when missing) they are moved there instead of
 * deleted. Main thread. Returns the number of segments removed, or -errno
 * of the first failure (the segments before it are gone). */
int wal_trim(struct wal *w, uint64_t lsn, const char *archive_dir);
/* Seals, waits until everything is written (and synced, unless the mode
 * is `no` or the WAL failed), stops the writer. NULL is a no-op. */
void wal_close(struct wal *w);

#endif
