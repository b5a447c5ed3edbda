/*
 * wal.c - WAL segments, group-commit writer thread and recovery (see
 * wal.h; layout in docs/wal-format.md).
 *
 * Segment header (64 bytes, little-endian):
 *   0   8  magic "LODEWAL\0"
 *   8   4  format version (1)
 *   12  4  header length (64)
 *   16  8  first LSN of the segment
 *   24  8  creation time, ms
 *   32  28 reserved, zero
 *   60  4  CRC-32C of bytes 0..59
 *
 * Ordering that recovery relies on (docs/wal-format.md, "Write ordering"):
 * a segment's header is synced before any record goes in, and a segment
 * is synced before the next one is created. So only the last segment can
 * have a torn tail, and a last segment without a valid header holds no
 * record.
 */
#include "wal/wal.h"
#include "engine/lode.h"
#include "engine/util.h"
#include "engine/crc32c.h"
#include "wal/endian.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WAL_VERSION 1
/* Inline mode: the writer syncs in the background once this much is
 * unsynced, whatever the mode (see unsynced_bytes). */
#define WAL_WRITEBACK_BYTES ((uint64_t)8 << 20)
/* Inline mode: when the current segment has less room than this left, the
 * writer syncs what is unsynced in the background, so the segment change
 * soon after (which syncs on the main thread) finds at most about this
 * much left to sync: ~1.5 ms instead of up to 8 MiB's ~8 ms here. */
#define WAL_PREROLL_BYTES ((uint64_t)1 << 20)
/* `always`: the longest the writer waits for a group to gather (see
 * group_wait). */
#define WAL_GROUP_WAIT_MAX_US 200
/* Prefill starts this far into a fresh segment: the writer's first
 * records never wait for the filler's first chunk (fill_claim). */
#define WAL_PREFILL_SKIP ((uint64_t)64 << 10)
static const char magic[8] = {'L', 'O', 'D', 'E', 'W', 'A', 'L', 0};

/* ---- the I/O table ---- */

static int real_open(const char *p, int f, mode_t m)
{
    return open(p, f, m);
}
/* posix_fallocate returns the error instead of setting errno */
static int real_fallocate(int fd, off_t off, off_t len)
{
    int rc = posix_fallocate(fd, off, len);
    if (rc == 0) return 0;
    errno = rc;
    return -1;
}
static const struct wal_io real_io = {real_open,      pwrite, fdatasync, ftruncate,
                                      real_fallocate, close,  rename};
/* Atomic: tests (and DEBUG WAL-FAULT) swap it while the writer runs. */
static const struct wal_io *_Atomic io = &real_io;

void wal_set_io(const struct wal_io *t)
{
    io = t ? t : &real_io;
}

/* ---- structures ---- */

struct batch {
    struct buf data;   /* encoded records, back to back */
    uint64_t last_lsn; /* LSN of the last record in data */
    uint32_t records;
    struct batch *next;
};

struct wal {
    char *dir;
    uint64_t seg_size; /* configured bytes per segment */
    _Atomic int sync;
    void (*notify)(void *);
    void *priv;
    /* main thread only */
    struct batch *cur;
    uint64_t next_lsn;
    /* shared, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* wakes the writer */
    pthread_cond_t idle; /* the writer finished a batch list or a sync */
    struct batch *queue, *queue_tail, *free_list;
    bool stop;
    /* Who writes: in `always` mode the writer thread writes and syncs the
     * sealed batches (main thread: queue only). In `everysec` and `no` the
     * main thread writes each batch itself when it seals it (so a reply
     * leaves only after its records reached the kernel, as with Redis's
     * appendfsync everysec, and no thread hand-off is paid per batch); the
     * writer thread only syncs, at most once a second, on the fd it reads
     * under mu. Changed only by wal_set_sync while the other side is idle. */
    bool inline_io;
    bool writer_busy; /* the writer is working on a batch list (mu) */
    bool sync_busy;   /* inline mode: the writer is syncing fd (mu) */
    bool rolling;     /* inline mode: the main thread is changing segments (mu) */
    /* the segment: owned by whoever writes (see inline_io) */
    int fd;             /* current segment */
    uint64_t seg_first; /* its first LSN */
    uint64_t seg_off;   /* append offset in it */
    uint64_t seg_cap;   /* its capacity: seg_size, or more for a bigger recovered file */
    /* LSN written but not synced (0 = none) and the time of the last sync:
     * the writer's in `always` mode; under mu in inline mode */
    uint64_t unsynced;
    long long last_sync_ms;
    /* inline mode (mu): bytes written since the last sync; past
     * WAL_WRITEBACK_BYTES the writer syncs them in the background, in
     * every mode, so that a segment change (which syncs the full segment
     * on the main thread) finds little left to sync */
    uint64_t unsynced_bytes;
    /* inline mode (mu): the current segment is nearly full, sync now
     * (WAL_PREROLL_BYTES); asked once per segment (main thread) */
    bool preroll, preroll_asked;
    /* `always` group commit (mu): records queued since the writer last took
     * the queue, and how many that last list held; while the writer waits
     * for a group, the queued records that complete it (UINT64_MAX: it
     * waits for the loop's report, not for a count), else 0 */
    uint64_t queued_records, last_group, group_target;
    /* group hold (group_wait): the main thread's last turn appended
     * records, and how many turns it reported that appended none; the
     * writer holds its group while they come (loop_busy and holding are a
     * Dekker pair: each side stores its own, then reads the other's) */
    _Atomic bool loop_busy, holding;
    _Atomic uint64_t quiet_turns;
    uint32_t hold_us;
    pthread_t thread;
    /* published */
    _Atomic uint64_t last_lsn, written_lsn, durable_lsn;
    _Atomic int error;
    _Atomic uint64_t bytes, segments, batches, records, syncs, sync_us_total, sync_us_max;
    _Atomic uint64_t holds, hold_timeouts; /* group_wait's holds, and those that hit hold_us */
    /* wal_trim: the thread closing the last removed segments (see there) */
    pthread_t closer;
    bool closer_started;
    /* Spare segments (under mu): trimmed segments kept for reuse, by the
     * first LSN they had (their file is FIRST.spare), at most max_spare */
    uint64_t *spares;
    size_t nspare, spare_cap;
    unsigned max_spare;
    _Atomic uint64_t spare_count;
    /* The current segment is written in whole pages (owned with fd;
     * write_pages): a reused one, or one being prefilled. tail holds its
     * page up to seg_off, aligned the scratch for a write */
    bool page_writes;
    uint8_t *tail;
    struct buf aligned;
    /* Prefill (fill_main): in a fresh segment in `always` mode, the filler
     * thread writes zeros from fill_off on, one chunk at a time (fill_busy
     * while its pwrite runs), up to fill_ahead bytes past fill_pos (the end
     * of the writer's last write), and moves fill_off past each chunk it
     * wrote. The writer never writes past fill_off while a chunk is being
     * written, and a write past it moves fill_off past the write
     * (fill_claim): zeros never land on records. Under fill_mu, except the
     * atomics. */
    pthread_mutex_t fill_mu;
    pthread_cond_t fill_cv;   /* wakes the filler */
    pthread_cond_t fill_done; /* the filler finished a chunk */
    pthread_t filler;
    bool filler_started, fill_stop, fill_busy;
    bool fill_on;             /* the current segment is being filled */
    uint64_t fill_gen;        /* segment changes, for the filler */
    uint64_t fill_seg;        /* the segment's first LSN */
    uint64_t fill_cap;        /* and its size */
    uint64_t fill_ahead;      /* for the current segment (written by the writer) */
    uint64_t fill_next_ahead; /* for the next (0: off; wal_set_prefill) */
    uint64_t fill_conf_ahead; /* wal_options.prefill_ahead */
    uint32_t fill_chunk;
    _Atomic uint64_t fill_off, fill_pos, prefilled;
    _Atomic bool fill_waiting; /* the filler sleeps: fill_progress wakes it */
    bool filling;              /* writer: the current segment has a filler */
};

static void seg_path(const struct wal *w, uint64_t first, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%016llx.log", w->dir, (unsigned long long)first);
}

static void spare_path(const struct wal *w, uint64_t first, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%016llx.spare", w->dir, (unsigned long long)first);
}

/* Adds a spare (mu held). */
static void spare_push(struct wal *w, uint64_t first)
{
    if (w->nspare == w->spare_cap) {
        w->spare_cap = w->spare_cap ? w->spare_cap * 2 : 8;
        w->spares = lode_realloc(w->spares, w->spare_cap * sizeof(uint64_t));
    }
    w->spares[w->nspare++] = first;
    atomic_store(&w->spare_count, w->nspare);
}

/* Takes a spare's path into out while there are more than keep of them;
 * false when there are not. */
static bool spare_pop(struct wal *w, size_t keep, char *out, size_t cap)
{
    pthread_mutex_lock(&w->mu);
    bool got = w->nspare > keep;
    if (got) {
        spare_path(w, w->spares[--w->nspare], out, cap);
        atomic_store(&w->spare_count, w->nspare);
    }
    pthread_mutex_unlock(&w->mu);
    return got;
}

/* A spare for a new segment. */
static bool spare_take(struct wal *w, char *out, size_t cap)
{
    return spare_pop(w, 0, out, cap);
}

/* A spare beyond the configured number, to remove. */
static bool spare_drop(struct wal *w, char *out, size_t cap)
{
    pthread_mutex_lock(&w->mu);
    size_t keep = w->max_spare;
    pthread_mutex_unlock(&w->mu);
    return spare_pop(w, keep, out, cap);
}

/* Writes all n bytes at off: 0, or -errno (-ENOSPC when the kernel accepts
 * nothing without saying why). A short write is continued, as POSIX
 * allows a regular file to take fewer bytes than asked. */
static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
    const char *p = buf;
    while (n) {
        errno = 0;
        ssize_t k = io->pwrite(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return errno ? -errno : -EIO;
        if (k == 0) return -ENOSPC;
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/* io->fdatasync as 0 or -errno. */
static int sync_fd(int fd)
{
    errno = 0;
    if (io->fdatasync(fd) == 0) return 0;
    return errno ? -errno : -EIO;
}

/* fsync of the directory, so a new segment's name survives a crash. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* Writes and syncs the header of the segment starting at first, built in
 * w->tail, which then holds the first page up to the header's end
 * (write_pages). A reused segment (header flag WAL_SEG_REUSED: the file
 * held an earlier segment) has its first page written whole, zeros after
 * the header. */
static int seg_start(struct wal *w, int fd, uint64_t first, bool reused)
{
    if (!w->tail) w->tail = lode_malloc(WAL_PAGE);
    uint8_t *h = w->tail; /* the header starts the page (write_pages) */
    size_t n = WAL_SEG_HEADER;
    if (reused) n = w->seg_size < WAL_PAGE ? (size_t)w->seg_size : WAL_PAGE;
    memset(h, 0, n);
    memcpy(h, magic, 8);
    le_put32(h + 8, WAL_VERSION);
    le_put32(h + 12, WAL_SEG_HEADER);
    le_put64(h + 16, first);
    le_put64(h + 24, (uint64_t)util_ms_now());
    le_put32(h + 32, reused ? WAL_SEG_REUSED : 0);
    le_put32(h + 60, crc32c(0, h, 60));
    int rc = pwrite_all(fd, h, n, 0);
    return rc ? rc : sync_fd(fd);
}

static void fill_switch(struct wal *w, bool fresh);

/* Makes fd, set up by seg_create, the current segment. */
static void seg_adopt(struct wal *w, int fd, uint64_t first, bool reused)
{
    if (w->fd >= 0) io->close(w->fd);
    w->fd = fd;
    w->seg_first = first;
    w->seg_off = WAL_SEG_HEADER;
    w->seg_cap = w->seg_size;
    fill_switch(w, !reused);
    w->page_writes = reused || w->filling;
    if (w->inline_io) pthread_mutex_lock(&w->mu);
    w->preroll = w->preroll_asked = false;
    if (w->inline_io) pthread_mutex_unlock(&w->mu);
    atomic_fetch_add(&w->segments, 1);
}

/* Creates the segment whose first record has LSN first. Writer thread (or
 * wal_open before the thread starts). */
static int seg_create(struct wal *w, uint64_t first)
{
    char path[4096], spare[4096];
    seg_path(w, first, path, sizeof(path));
    /* A spare keeps its blocks and its old records: it gets the new header,
     * synced, before its new name (a crash in between leaves a spare), and
     * is written in whole pages ending in zeros (write_pages). Anything
     * going wrong with it falls back to a fresh file. */
    while (spare_take(w, spare, sizeof(spare))) {
        int fd = io->open(spare, O_WRONLY | O_CLOEXEC, 0);
        int rc = fd < 0 ? -errno : seg_start(w, fd, first, true);
        if (!rc && io->rename(spare, path) != 0) rc = -errno;
        if (!rc) rc = sync_dir(w->dir);
        if (!rc) {
            seg_adopt(w, fd, first, true);
            return 0;
        }
        if (fd >= 0) io->close(fd);
        /* the file is under one of the two names */
        unlink(spare);
        unlink(path);
    }
    int fd = io->open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    int rc = 0;
    /* preallocate: ENOSPC shows now, not in the middle of a batch */
    errno = 0;
    if (io->fallocate(fd, 0, (off_t)w->seg_size) != 0) rc = errno ? -errno : -ENOSPC;
    /* the header is on disk before any record goes in: recovery may take a
     * last segment without a valid header for one whose creation did not
     * finish, which therefore holds no record */
    if (!rc) rc = seg_start(w, fd, first, false);
    if (!rc) rc = sync_dir(w->dir);
    if (rc) {
        io->close(fd);
        unlink(path);
        return rc;
    }
    seg_adopt(w, fd, first, false);
    return 0;
}

/* ---- writer thread ---- */

static void fail(struct wal *w, int err)
{
    int zero = 0;
    atomic_compare_exchange_strong(&w->error, &zero, err ? err : -EIO);
}

static void store_max(_Atomic uint64_t *a, uint64_t v)
{
    uint64_t cur = atomic_load(a);
    while (cur < v && !atomic_compare_exchange_weak(a, &cur, v)) {
    }
}

static void note_sync_time(struct wal *w, long long us)
{
    atomic_fetch_add(&w->syncs, 1);
    atomic_fetch_add(&w->sync_us_total, (uint64_t)us);
    if ((uint64_t)us > atomic_load(&w->sync_us_max)) atomic_store(&w->sync_us_max, (uint64_t)us);
}

/* Syncs the current segment by whoever writes it (the writer thread in
 * `always` mode; the main thread at a segment change in inline mode, with
 * `rolling` set so the writer keeps off the fd). */
static int do_sync(struct wal *w)
{
    long long t0 = util_mono_us();
    int rc = sync_fd(w->fd);
    if (rc) return rc;
    note_sync_time(w, util_mono_us() - t0);
    if (w->inline_io) pthread_mutex_lock(&w->mu);
    store_max(&w->durable_lsn, w->unsynced);
    w->unsynced = 0;
    w->unsynced_bytes = 0;
    w->last_sync_ms = util_ms_now();
    if (w->inline_io) pthread_mutex_unlock(&w->mu);
    return 0;
}

/* Records up to lsn are in the file (not synced yet), bytes more of them
 * than noted so far. */
static void note_written(struct wal *w, uint64_t lsn, uint64_t bytes)
{
    if (w->inline_io) {
        pthread_mutex_lock(&w->mu);
        /* the writer sleeps without a deadline while nothing is pending:
         * wake it when something becomes pending (once per sync, not per
         * batch) and when enough is written for a background sync */
        bool over = w->unsynced_bytes < WAL_WRITEBACK_BYTES &&
                    w->unsynced_bytes + bytes >= WAL_WRITEBACK_BYTES;
        if (!w->preroll_asked && w->seg_cap - w->seg_off < WAL_PREROLL_BYTES) {
            w->preroll_asked = true;
            w->preroll = over = true;
        }
        if (!w->unsynced || over) pthread_cond_signal(&w->cv);
        w->unsynced = lsn;
        w->unsynced_bytes += bytes;
        pthread_mutex_unlock(&w->mu);
    } else {
        w->unsynced = lsn;
    }
    atomic_store(&w->written_lsn, lsn);
}

/* Inline mode: keeps the writer's periodic sync off the segment while the
 * main thread syncs and replaces it. */
static void begin_roll(struct wal *w)
{
    if (!w->inline_io) return;
    pthread_mutex_lock(&w->mu);
    while (w->sync_busy) pthread_cond_wait(&w->idle, &w->mu);
    w->rolling = true;
    pthread_mutex_unlock(&w->mu);
}

static void end_roll(struct wal *w)
{
    if (!w->inline_io) return;
    pthread_mutex_lock(&w->mu);
    w->rolling = false;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* ---- prefill ---- */

/* The segment just adopted (or recovered) gets a filler when it is fresh,
 * the mode is `always` and prefill is on; it fills from 64 KiB on, or from
 * the page after the recovered records. Waits for a chunk still being
 * written into the previous segment: once this returns, the filler writes
 * nothing more into that file. Writer (or wal_open). */
static void fill_switch(struct wal *w, bool fresh)
{
    uint64_t from = (w->seg_off + 4 + WAL_PAGE - 1) & ~(uint64_t)(WAL_PAGE - 1);
    if (from < WAL_PREFILL_SKIP) from = WAL_PREFILL_SKIP;
    pthread_mutex_lock(&w->fill_mu);
    while (w->fill_busy) pthread_cond_wait(&w->fill_done, &w->fill_mu);
    w->fill_gen++;
    w->fill_ahead = w->fill_next_ahead;
    /* the filler writes with plain system calls: not while tests swap the
     * I/O table */
    w->fill_on = fresh && w->fill_ahead && atomic_load(&io) == &real_io &&
                 atomic_load(&w->sync) == WAL_SYNC_ALWAYS && w->seg_cap > from;
    w->fill_seg = w->seg_first;
    w->fill_cap = w->seg_cap;
    atomic_store(&w->fill_off, from);
    atomic_store(&w->fill_pos, w->seg_off);
    bool on = w->fill_on; /* the filler may clear it once unlocked */
    pthread_cond_signal(&w->fill_cv);
    pthread_mutex_unlock(&w->fill_mu);
    w->filling = on;
}

/* Before the writer writes below end: a write reaching past fill_off waits
 * for the chunk being written there (if any: its pwrite, not its sync) and
 * moves fill_off a chunk past the write, so the filler goes on ahead of
 * the writer's next writes rather than in their way. Outside `always` mode
 * the filler stops for this segment. Writer. */
static void fill_claim(struct wal *w, uint64_t end)
{
    if (!w->filling || end <= atomic_load(&w->fill_off)) return;
    pthread_mutex_lock(&w->fill_mu);
    while (w->fill_busy) pthread_cond_wait(&w->fill_done, &w->fill_mu);
    if (atomic_load(&w->fill_off) < end) atomic_store(&w->fill_off, end + w->fill_chunk);
    if (atomic_load(&w->sync) != WAL_SYNC_ALWAYS) w->fill_on = false;
    w->filling = w->fill_on;
    pthread_mutex_unlock(&w->fill_mu);
}

/* After the writer wrote below end: wakes a sleeping filler when a chunk
 * fits again. Writer. */
static void fill_progress(struct wal *w, uint64_t end)
{
    if (!w->filling) return;
    atomic_store(&w->fill_pos, end);
    if (atomic_load(&w->fill_waiting) &&
        end + w->fill_ahead >= atomic_load(&w->fill_off) + w->fill_chunk) {
        pthread_mutex_lock(&w->fill_mu);
        pthread_cond_signal(&w->fill_cv);
        pthread_mutex_unlock(&w->fill_mu);
    }
}

/* Writes len zeros at off (into the page cache). */
static bool fill_chunk(int fd, const char *zeros, uint64_t off, size_t len)
{
    uint64_t at = off;
    size_t left = len;
    while (left) {
        ssize_t k = pwrite(fd, zeros, left, (off_t)at);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        at += (uint64_t)k;
        left -= (size_t)k;
    }
    return true;
}

/* Writes the chunk at off to the disk and commits the extent conversion.
 * The writer may be writing records into these pages meanwhile: the page
 * cache holds one copy, whose last bytes reach the disk (its own fdatasync
 * waits for this writeback and writes the pages again if they changed). */
static bool fill_flush(int fd, uint64_t off, size_t len)
{
    return sync_file_range(fd, (off_t)off, (off_t)len,
                           SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                               SYNC_FILE_RANGE_WAIT_AFTER) == 0 &&
           fdatasync(fd) == 0;
}

/*
 * The filler thread. ext4 converts the extents of preallocated blocks when
 * data first reaches them, and the fdatasync after must write that
 * metadata too (a journal commit, or the inode's blocks without a
 * journal): in `always` mode nearly every sync paid for that (0.48 vs 0.30
 * ms per 32 KiB group here, and more CPU per sync, docs/benchmarks.md).
 * Zeros written ahead, a chunk at a time with the chunk's own fdatasync,
 * convert the blocks once per chunk and away from the writer's syncs; the
 * records then overwrite data blocks.
 * Its descriptor is its own (on Linux 4.13 and later a writeback error is
 * reported to every descriptor of the file, so an fdatasync error the
 * filler sees is still the writer's to see), and it gives up on a segment
 * at the first error.
 */
static void *fill_main(void *arg)
{
    struct wal *w = arg;
    char *zeros = lode_calloc(w->fill_chunk);
    int fd = -1;
    uint64_t gen = 0;
    pthread_mutex_lock(&w->fill_mu);
    while (!w->fill_stop) {
        if (gen != w->fill_gen) {
            if (fd >= 0) close(fd);
            fd = -1;
            gen = w->fill_gen;
            if (w->fill_on) {
                char path[4096];
                seg_path(w, w->fill_seg, path, sizeof(path));
                fd = open(path, O_WRONLY | O_CLOEXEC);
                if (fd < 0) w->fill_on = false;
            }
        }
        uint64_t off = atomic_load(&w->fill_off);
        if (!w->fill_on || off >= w->fill_cap || atomic_load(&w->sync) != WAL_SYNC_ALWAYS) {
            /* nothing to fill until the next segment, a switch to
             * `always` (wal_set_sync) or the end */
            pthread_cond_wait(&w->fill_cv, &w->fill_mu);
            continue;
        }
        if (off >= atomic_load(&w->fill_pos) + w->fill_ahead) {
            /* far enough ahead: sleep until the writer moves on.
             * fill_progress looks at fill_waiting after storing fill_pos,
             * so one of the two sees the other's store */
            atomic_store(&w->fill_waiting, true);
            if (off >= atomic_load(&w->fill_pos) + w->fill_ahead)
                pthread_cond_wait(&w->fill_cv, &w->fill_mu);
            atomic_store(&w->fill_waiting, false);
            continue;
        }
        size_t len = w->fill_chunk;
        if (w->fill_cap - off < len) len = (size_t)(w->fill_cap - off);
        w->fill_busy = true;
        pthread_mutex_unlock(&w->fill_mu);
        bool ok = fill_chunk(fd, zeros, off, len);
        pthread_mutex_lock(&w->fill_mu);
        w->fill_busy = false;
        if (ok) {
            atomic_store(&w->fill_off, off + len);
            atomic_fetch_add(&w->prefilled, len);
        } else {
            w->fill_on = false;
        }
        pthread_cond_broadcast(&w->fill_done);
        if (ok) {
            /* the conversion now, not in the writer's next sync */
            pthread_mutex_unlock(&w->fill_mu);
            ok = fill_flush(fd, off, len);
            pthread_mutex_lock(&w->fill_mu);
            if (!ok && gen == w->fill_gen) w->fill_on = false;
        }
    }
    if (fd >= 0) close(fd);
    pthread_mutex_unlock(&w->fill_mu);
    lode_free(zeros);
    return NULL;
}

void wal_set_prefill(struct wal *w, bool on)
{
    pthread_mutex_lock(&w->fill_mu);
    w->fill_next_ahead = on ? (w->fill_conf_ahead ? w->fill_conf_ahead : WAL_PREFILL_AHEAD) : 0;
    pthread_mutex_unlock(&w->fill_mu);
}

/*
 * Appends n bytes of records at seg_off of a segment written in whole
 * pages. A reused segment's blocks hold an earlier segment's bytes, so
 * (1) the write runs to the end of a page with zeros after the records, at
 * least four (a zero length, the end of the log by reading rule 1;
 * docs/wal-format.md) unless the segment ends first, and (2) it is made of
 * whole pages, the first one's start coming from w->tail: the kernel would
 * otherwise read a page that is not cached before changing part of it (a
 * disk read on the loop). A prefilled segment's blocks hold zeros, written
 * earlier: (2) holds for it as well.
 */
static int write_pages(struct wal *w, const char *p, size_t n)
{
    uint64_t start = w->seg_off & ~(uint64_t)(WAL_PAGE - 1);
    uint64_t end = w->seg_off + n;
    uint64_t stop = (end + 4 + WAL_PAGE - 1) & ~(uint64_t)(WAL_PAGE - 1);
    if (stop > w->seg_cap) stop = end > w->seg_cap ? end : w->seg_cap;
    size_t pre = (size_t)(w->seg_off - start), len = (size_t)(stop - start);
    w->aligned.len = 0;
    char *d = buf_reserve(&w->aligned, len);
    memcpy(d, w->tail, pre);
    memcpy(d + pre, p, n);
    memset(d + pre + n, 0, len - pre - n);
    fill_claim(w, stop);
    int rc = pwrite_all(w->fd, d, len, start);
    if (rc) return rc;
    fill_progress(w, stop);
    uint64_t page = end & ~(uint64_t)(WAL_PAGE - 1);
    memcpy(w->tail, d + (page - start), (size_t)(end - page));
    return 0;
}

/* Writes a batch, rolling to a new segment before a record that does not
 * fit (a record larger than a segment gets a segment of its own). */
static int write_batch(struct wal *w, struct batch *b)
{
    const char *p = b->data.ptr, *end = p + b->data.len;
    while (p < end) {
        /* the longest run of whole records that fits the segment */
        const char *q = p, *last = p;
        while (q < end) {
            uint32_t len = le_get32((const uint8_t *)q);
            if (w->seg_off + (uint64_t)(q - p) + len > w->seg_cap &&
                (q > p || w->seg_off > WAL_SEG_HEADER))
                break;
            last = q;
            q += len;
        }
        if (q > p) {
            size_t n = (size_t)(q - p);
            int rc = w->page_writes ? write_pages(w, p, n) : pwrite_all(w->fd, p, n, w->seg_off);
            if (rc) return rc;
            w->seg_off += n;
            atomic_fetch_add(&w->bytes, n);
            /* these records are in the file now: the sync before a
             * rollover must cover them, even when the batch goes on in
             * the next segment (else a crash could lose records that the
             * next sync, of the new segment, reports durable) */
            note_written(w, le_get64((const uint8_t *)last + 8), n);
            p = q;
            continue;
        }
        /* segment full: make what it holds durable, then start the next */
        begin_roll(w);
        int rc = w->unsynced ? do_sync(w) : 0;
        if (!rc) rc = seg_create(w, le_get64((const uint8_t *)p + 8));
        end_roll(w);
        if (rc) return rc;
    }
    return 0;
}

/* Inline mode: the writer's periodic sync. Called and returns with mu
 * held; syncs the fd the main thread is writing to without holding mu. */
static void inline_sync(struct wal *w)
{
    int fd = w->fd;
    uint64_t lsn = w->unsynced, bytes = w->unsynced_bytes;
    w->sync_busy = true;
    w->preroll = false;
    pthread_mutex_unlock(&w->mu);
    long long t0 = util_mono_us();
    int rc = sync_fd(fd);
    if (!rc) note_sync_time(w, util_mono_us() - t0);
    pthread_mutex_lock(&w->mu);
    w->sync_busy = false;
    if (rc) {
        fail(w, rc);
        if (w->notify) w->notify(w->priv);
    } else {
        store_max(&w->durable_lsn, lsn);
        if (w->unsynced == lsn) w->unsynced = 0;
        /* a segment change meanwhile synced (and zeroed) them all */
        w->unsynced_bytes = w->unsynced_bytes >= bytes ? w->unsynced_bytes - bytes : 0;
    }
    w->last_sync_ms = util_ms_now();
    pthread_cond_broadcast(&w->idle);
}

/* `always` group commit, called with mu held and something queued. Both
 * steps are skipped without a group (one client, or all of them at once):
 * 1. The clients the last sync released are sending their next writes:
 *    wait (at most half the average sync time, and WAL_GROUP_WAIT_MAX_US)
 *    until as many records are queued as the last list held.
 * 2. Hold: while the main thread reports turns that append records
 *    (wal_loop_busy), wait on (at most hold_us) for the records they bring;
 *    the loop's first turn that appends none ends the hold. Where the
 *    loop, the writer and the disk's interrupts share a CPU, every sync
 *    costs the loop 100-250 us of it on this VM (and two or more context
 *    switches), so a sync that covers what the loop is still appending
 *    leaves the loop more of the CPU; once the loop runs dry nothing more is
 *    coming and the sync starts at once.
 * One sync then covers a whole group, as Redis's fsync per loop turn does,
 * while the loop goes on serving. While the writer waits here, wal_seal
 * wakes it only when the count it waits for is reached (group_target), not
 * at every seal: each needless wake-up is two context switches on a shared
 * CPU. */
static void group_wait(struct wal *w)
{
    if (w->last_group < 2) return;
    if (w->queued_records < w->last_group) {
        uint64_t syncs = atomic_load(&w->syncs);
        long long us = syncs ? (long long)(atomic_load(&w->sync_us_total) / syncs) / 2 : 0;
        if (us > WAL_GROUP_WAIT_MAX_US) us = WAL_GROUP_WAIT_MAX_US;
        if (us > 0) {
            struct timespec ts = util_deadline_after_us(us);
            w->group_target = w->last_group;
            while (w->queued_records < w->last_group && !w->stop)
                if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0) break;
        }
    }
    atomic_store(&w->holding, true);
    /* the hold ends when the loop is quiet, or was quiet since this read
     * (a quiet turn is not missed when the next one is busy again by the
     * time this thread runs; and a quiet turn counted just before this
     * read, whose busy flag is cleared just after, still ends it) */
    uint64_t quiet = atomic_load(&w->quiet_turns);
    if (atomic_load(&w->loop_busy) && w->hold_us) {
        struct timespec ts = util_deadline_after_us(w->hold_us);
        w->group_target = UINT64_MAX;
        atomic_fetch_add(&w->holds, 1);
        while (atomic_load(&w->quiet_turns) == quiet && atomic_load(&w->loop_busy) && !w->stop) {
            if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0) {
                if (atomic_load(&w->quiet_turns) == quiet && atomic_load(&w->loop_busy))
                    atomic_fetch_add(&w->hold_timeouts, 1);
                break;
            }
        }
    }
    atomic_store(&w->holding, false);
    w->group_target = 0;
}

static void *writer_main(void *arg)
{
    struct wal *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->queue && !w->stop) {
            /* after a failure nothing is synced again: wait for work only
             * (a pending sync would otherwise look due forever and spin) */
            bool pending = w->unsynced && !atomic_load(&w->error) && !w->rolling;
            int m = atomic_load(&w->sync);
            if (pending && m == WAL_SYNC_ALWAYS) break; /* switched to always */
            if (pending && w->inline_io && (w->unsynced_bytes >= WAL_WRITEBACK_BYTES || w->preroll))
                break;
            if (pending && m == WAL_SYNC_EVERYSEC) {
                long long due = w->last_sync_ms + 1000 - util_ms_now();
                if (due <= 0) break;
                struct timespec ts = util_deadline_after_us(due * 1000);
                pthread_cond_timedwait(&w->cv, &w->mu, &ts);
            } else {
                pthread_cond_wait(&w->cv, &w->mu);
            }
        }
        if (w->inline_io) {
            /* the main thread wrote everything; sync when due, and once
             * more at the end unless the mode is `no` */
            int m = atomic_load(&w->sync);
            bool due = m != WAL_SYNC_NO && (w->stop || util_ms_now() - w->last_sync_ms >= 1000);
            if (w->unsynced && !atomic_load(&w->error) && !w->rolling &&
                (due || w->unsynced_bytes >= WAL_WRITEBACK_BYTES || w->preroll))
                inline_sync(w);
            if (w->stop) break;
            continue;
        }
        if (atomic_load(&w->sync) == WAL_SYNC_ALWAYS) group_wait(w);
        struct batch *list = w->queue;
        w->queue = w->queue_tail = NULL;
        w->last_group = w->queued_records;
        w->queued_records = 0;
        w->writer_busy = true;
        bool stopping = w->stop;
        pthread_mutex_unlock(&w->mu);

        int mode = atomic_load(&w->sync);
        bool progress = false;
        /* one write for the whole list: the loop seals a batch per turn,
         * often a few records each, and a write per batch kept the next
         * sync waiting for a dozen system calls; the batches after the
         * first are copied into it and left empty */
        for (struct batch *b = list ? list->next : NULL; b; b = b->next) {
            buf_append(&list->data, b->data.ptr, b->data.len);
            list->last_lsn = b->last_lsn;
            list->records += b->records;
            b->data.len = 0;
            b->records = 0;
        }
        for (struct batch *b = list; b; b = b->next) {
            if (!b->data.len) continue;
            if (atomic_load(&w->error)) break; /* sticky: nothing after a failure */
            int rc = write_batch(w, b);
            if (rc) {
                fail(w, rc);
                break;
            }
            note_written(w, b->last_lsn, 0);
            atomic_fetch_add(&w->batches, 1);
            atomic_fetch_add(&w->records, b->records);
        }
        /* only a sync (or a failure) is news for the loop: waking it for a
         * write that is not durable yet would cost every everysec/no
         * request a second wake-up for nothing */
        if (!atomic_load(&w->error) && w->unsynced &&
            (mode == WAL_SYNC_ALWAYS || (stopping && mode != WAL_SYNC_NO) ||
             (mode == WAL_SYNC_EVERYSEC && util_ms_now() - w->last_sync_ms >= 1000))) {
            int rc = do_sync(w);
            if (rc) fail(w, rc);
            progress = true;
        }
        if (atomic_load(&w->error)) progress = true;
        if (progress && w->notify) w->notify(w->priv);

        pthread_mutex_lock(&w->mu);
        while (list) {
            struct batch *b = list;
            list = b->next;
            b->data.len = 0;
            b->records = 0;
            if (b->data.cap > (4u << 20)) buf_release(&b->data);
            b->next = w->free_list;
            w->free_list = b;
        }
        w->writer_busy = false;
        pthread_cond_broadcast(&w->idle);
        if (stopping && !w->queue) break;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- main thread API ---- */

static struct batch *batch_get(struct wal *w)
{
    pthread_mutex_lock(&w->mu);
    struct batch *b = w->free_list;
    if (b) w->free_list = b->next;
    pthread_mutex_unlock(&w->mu);
    if (!b) {
        b = lode_calloc(sizeof(*b));
        buf_init(&b->data);
    }
    b->next = NULL;
    return b;
}

uint64_t wal_append(struct wal *w, uint32_t db, uint32_t ncmds, const char *cmds, size_t len,
                    uint64_t time_ms)
{
    if (!w->cur) w->cur = batch_get(w);
    uint64_t lsn = w->next_lsn++;
    wal_record_encode(&w->cur->data, lsn, time_ms, db, ncmds, cmds, len);
    w->cur->last_lsn = lsn;
    w->cur->records++;
    atomic_store(&w->last_lsn, lsn);
    return lsn;
}

void wal_seal(struct wal *w)
{
    struct batch *b = w->cur;
    if (!b || !b->records) return;
    if (w->inline_io) {
        /* everysec / no: written here, before this turn's replies leave */
        if (!atomic_load(&w->error)) {
            int rc = write_batch(w, b);
            if (rc) {
                fail(w, rc);
                if (w->notify) w->notify(w->priv);
            } else {
                note_written(w, b->last_lsn, 0);
                atomic_fetch_add(&w->batches, 1);
                atomic_fetch_add(&w->records, b->records);
            }
        }
        b->data.len = 0;
        b->records = 0;
        if (b->data.cap > (4u << 20)) buf_release(&b->data);
        return;
    }
    w->cur = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->queue_tail)
        w->queue_tail->next = b;
    else
        w->queue = b;
    w->queue_tail = b;
    w->queued_records += b->records;
    if (!w->group_target || w->queued_records >= w->group_target) pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void wal_loop_busy(struct wal *w, bool busy)
{
    if (!busy) atomic_fetch_add(&w->quiet_turns, 1);
    atomic_store(&w->loop_busy, busy);
    if (!busy && atomic_load(&w->holding)) {
        pthread_mutex_lock(&w->mu);
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
}

bool wal_holding(const struct wal *w)
{
    return atomic_load(&((struct wal *)w)->holding);
}

uint64_t wal_last_lsn(const struct wal *w)
{
    return atomic_load(&((struct wal *)w)->last_lsn);
}

uint64_t wal_durable_lsn(const struct wal *w)
{
    return atomic_load(&((struct wal *)w)->durable_lsn);
}

uint64_t wal_written_lsn(const struct wal *w)
{
    return atomic_load(&((struct wal *)w)->written_lsn);
}

int wal_failed(const struct wal *w)
{
    return atomic_load(&((struct wal *)w)->error);
}

void wal_set_sync(struct wal *w, int sync)
{
    bool inl = sync != WAL_SYNC_ALWAYS;
    if (inl != w->inline_io) {
        wal_seal(w);             /* what was appended goes the old way */
        wal_loop_busy(w, false); /* the loop waits here: no group to hold for it */
    }
    pthread_mutex_lock(&w->mu);
    if (inl != w->inline_io) {
        /* hand the segment over: the writer must be idle */
        while (w->queue || w->writer_busy || w->sync_busy) pthread_cond_wait(&w->idle, &w->mu);
        w->inline_io = inl;
    }
    atomic_store(&w->sync, sync);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    /* the filler waits for `always` */
    pthread_mutex_lock(&w->fill_mu);
    pthread_cond_signal(&w->fill_cv);
    pthread_mutex_unlock(&w->fill_mu);
}

void wal_get_stats(struct wal *w, struct wal_stats *st)
{
    st->last_lsn = atomic_load(&w->last_lsn);
    st->written_lsn = atomic_load(&w->written_lsn);
    st->durable_lsn = atomic_load(&w->durable_lsn);
    st->bytes = atomic_load(&w->bytes);
    st->segments = atomic_load(&w->segments);
    st->spares = atomic_load(&w->spare_count);
    st->prefilled = atomic_load(&w->prefilled);
    st->batches = atomic_load(&w->batches);
    st->records = atomic_load(&w->records);
    st->syncs = atomic_load(&w->syncs);
    st->sync_us_total = atomic_load(&w->sync_us_total);
    st->sync_us_max = atomic_load(&w->sync_us_max);
    st->holds = atomic_load(&w->holds);
    st->hold_timeouts = atomic_load(&w->hold_timeouts);
    st->error = atomic_load(&w->error);
}

void wal_set_spare_segments(struct wal *w, unsigned n)
{
    pthread_mutex_lock(&w->mu);
    w->max_spare = n;
    pthread_mutex_unlock(&w->mu);
}

static void closer_join(struct wal *w);

void wal_close(struct wal *w)
{
    if (!w) return;
    wal_seal(w);
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    if (w->filler_started) {
        pthread_mutex_lock(&w->fill_mu);
        w->fill_stop = true;
        pthread_cond_signal(&w->fill_cv);
        pthread_mutex_unlock(&w->fill_mu);
        pthread_join(w->filler, NULL);
    }
    closer_join(w);
    if (w->fd >= 0) io->close(w->fd);
    while (w->free_list) {
        struct batch *b = w->free_list;
        w->free_list = b->next;
        buf_release(&b->data);
        lode_free(b);
    }
    if (w->cur) {
        buf_release(&w->cur->data);
        lode_free(w->cur);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_cond_destroy(&w->idle);
    pthread_mutex_destroy(&w->fill_mu);
    pthread_cond_destroy(&w->fill_cv);
    pthread_cond_destroy(&w->fill_done);
    free(w->dir);
    lode_free(w->spares);
    lode_free(w->tail);
    buf_release(&w->aligned);
    lode_free(w);
}

/* ---- recovery ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Parses a file name as seg_path or spare_path writes it: 16 lowercase hex
 * digits, then suffix (".log", ".spare"); anything else is not ours. */
static bool file_name(const char *s, const char *suffix, uint64_t *first)
{
    if (strlen(s) != 16 + strlen(suffix) || strcmp(s + 16, suffix) != 0) return false;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        int c = s[i];
        if (c >= '0' && c <= '9')
            v = v << 4 | (uint64_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v << 4 | (uint64_t)(c - 'a' + 10);
        else
            return false;
    }
    *first = v;
    return true;
}

/* First LSNs of the files in dir named FIRST.suffix, sorted. *out:
 * owned, lode_free. */
static int list_files(const char *dir, const char *suffix, uint64_t **out, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d) return -errno;
    size_t cap = 16;
    *out = lode_malloc(cap * sizeof(uint64_t));
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t v;
        if (!file_name(e->d_name, suffix, &v)) continue;
        if (*n == cap) *out = lode_realloc(*out, (cap *= 2) * sizeof(uint64_t));
        (*out)[(*n)++] = v;
    }
    closedir(d);
    qsort(*out, *n, sizeof(uint64_t), cmp_u64);
    return 0;
}

/* The segment files (FIRST.log) in dir. */
static int list_segments(const char *dir, uint64_t **out, size_t *n)
{
    return list_files(dir, ".log", out, n);
}

/* Size of the file at path, or 0. */
static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Takes up the spares a previous run left: those of the configured
 * segment size, up to max_spare; the others are removed. */
static void load_spares(struct wal *w)
{
    uint64_t *v = NULL;
    size_t n = 0;
    if (list_files(w->dir, ".spare", &v, &n) != 0) return;
    bool removed = false;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        spare_path(w, v[i], path, sizeof(path));
        if (w->nspare < w->max_spare && file_size(path) == w->seg_size) {
            pthread_mutex_lock(&w->mu);
            spare_push(w, v[i]);
            pthread_mutex_unlock(&w->mu);
        } else {
            unlink(path);
            removed = true;
        }
    }
    if (removed) sync_dir(w->dir);
    lode_free(v);
}

static bool all_zero(const uint8_t *p, uint64_t n)
{
    static const uint8_t zeros[4096];
    while (n) {
        size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
        if (memcmp(p, zeros, k) != 0) return false;
        p += k;
        n -= k;
    }
    return true;
}

/* The end of the last non-zero byte in map[from, size), or from if none. */
static uint64_t nonzero_end(const uint8_t *map, uint64_t from, uint64_t size)
{
    uint64_t end = size;
    while (end > from) {
        uint64_t start = end - from > 4096 ? end - 4096 : from;
        if (!all_zero(map + start, end - start)) {
            while (map[end - 1] == 0) end--;
            return end;
        }
        end = start;
    }
    return from;
}

/* Overwrites [from, end) of a segment with zeros and syncs it. */
static int zero_range(int fd, uint64_t from, uint64_t end)
{
    static const uint8_t zeros[65536];
    for (uint64_t off = from; off < end;) {
        uint64_t n = end - off < sizeof(zeros) ? end - off : sizeof(zeros);
        int rc = pwrite_all(fd, zeros, (size_t)n, off);
        if (rc) return rc;
        off += n;
    }
    return sync_fd(fd);
}

/* Whether the log at off ends with an end mark (a zero length). */
static bool at_end_mark(const uint8_t *map, uint64_t off, uint64_t size)
{
    return size - off >= 4 && le_get32(map + off) == 0;
}

/* Magic and checksum right (the rest is checked field by field). */
static bool header_intact(const uint8_t *map, uint64_t size)
{
    return map && size >= WAL_SEG_HEADER && memcmp(map, magic, 8) == 0 &&
           le_get32(map + 60) == crc32c(0, map, 60);
}

/* Appends a recovery note to err, "; "-separated. */
static void note(struct buf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct buf *err, const char *fmt, ...)
{
    if (err->len) buf_append(err, "; ", 2);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(err, fmt, ap);
    va_end(ap);
}

/*
 * Whether the segment file at path is one whose creation did not finish
 * (the server stopped inside seg_create): no intact header and nothing but
 * zeros after where the header goes. seg_create syncs the header before
 * any record is written, so such a file cannot hold a record.
 */
static bool seg_unfinished(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st;
    bool r = false;
    if (fstat(fd, &st) == 0) {
        uint64_t size = (uint64_t)st.st_size;
        if (size == 0) {
            r = true;
        } else {
            const uint8_t *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
            if (map != MAP_FAILED) {
                r = !header_intact(map, size) &&
                    (size <= WAL_SEG_HEADER ||
                     all_zero(map + WAL_SEG_HEADER, size - WAL_SEG_HEADER));
                munmap((void *)map, size);
            }
        }
    }
    close(fd);
    return r;
}

/* Validates the header of segment first (map: size bytes, may be NULL);
 * expect is the LSN the segment must start at, 0 for any. */
static int check_header(const uint8_t *map, uint64_t size, uint64_t first, uint64_t expect,
                        const char *path, struct buf *err)
{
    if (!header_intact(map, size)) {
        buf_printf(err, "WAL segment '%s' has no valid header", path);
        return LODE_ECORRUPT;
    }
    if (le_get32(map + 8) != WAL_VERSION) {
        buf_printf(err, "WAL segment '%s' has format version %u, this server reads %u", path,
                   le_get32(map + 8), WAL_VERSION);
        return LODE_EVERSION;
    }
    if (le_get32(map + 12) != WAL_SEG_HEADER || le_get64(map + 16) != first || first == 0) {
        buf_printf(err, "WAL segment '%s' has a header that does not match its name", path);
        return LODE_ECORRUPT;
    }
    if (expect && first != expect) {
        buf_printf(err, "WAL segment '%s' starts at LSN %llu, expected %llu", path,
                   (unsigned long long)first, (unsigned long long)expect);
        return LODE_ECORRUPT;
    }
    return 0;
}

/*
 * Replays the records of one mapped segment from *off on, advancing *off
 * and *expect. In the last segment, whatever follows the last good record
 * that is not zero (a torn or corrupt record, or stale bytes after a hole
 * left by writes that reached the disk out of order) was never
 * acknowledged and is zeroed, so that later appends cannot end up
 * followed by old bytes that decode; anywhere else it is corruption.
 */
static int replay_segment(struct wal *w, int fd, const uint8_t *map, uint64_t size, bool last,
                          const char *path, uint64_t *off, uint64_t *expect, wal_replay_fn fn,
                          void *priv, struct buf *scratch, struct buf *err)
{
    const char *why = NULL;
    for (;;) {
        struct wal_record rec;
        size_t used = 0;
        why = "record cut short";
        /* fewer than 4 bytes left is the end of the written log
         * (docs/wal-format.md, reading rule 1), not a torn record: a
         * segment can be filled to within a few bytes of its size */
        if (size - *off < 4) {
            why = "data after a gap";
            break;
        }
        int d = wal_record_decode(map + *off, size - *off, &rec, &used, scratch, &why);
        if (d == WAL_DEC_END) {
            why = "data after a gap";
            break;
        }
        if (d == WAL_DEC_OK && rec.lsn != *expect) {
            d = WAL_DEC_CORRUPT;
            why = "LSN out of sequence";
        }
        if (d != WAL_DEC_OK) {
            if (!last) {
                buf_printf(err, "WAL segment '%s' is corrupt at offset %llu (LSN %llu): %s", path,
                           (unsigned long long)*off, (unsigned long long)*expect, why);
                return LODE_ECORRUPT;
            }
            break;
        }
        int rc = fn ? fn(priv, &rec) : 0;
        if (rc) {
            buf_printf(err, "replaying LSN %llu failed", (unsigned long long)rec.lsn);
            return rc;
        }
        (*expect)++;
        *off += used;
        atomic_fetch_add(&w->bytes, used);
    }
    if (!last) return 0;
    /* A reused segment's earlier contents after the end mark are cleared
     * too: among them may be this life's records left after a hole by
     * writes that reached the disk out of order */
    bool reused = at_end_mark(map, *off, size) && (le_get32(map + 32) & WAL_SEG_REUSED);
    uint64_t end = nonzero_end(map, *off, size);
    if (end == *off) return 0;
    int rc = zero_range(fd, *off, end);
    if (rc) {
        buf_printf(err, "can't truncate the %s of '%s': %s",
                   reused ? "old records after the end" : "torn tail", path, strerror(-rc));
        return rc;
    }
    if (!reused) /* that one is routine: no note */
        note(err, "torn tail of '%s' at LSN %llu (offset %llu: %s) truncated", path,
             (unsigned long long)*expect, (unsigned long long)*off, why);
    return 0;
}

struct skip_ctx {
    wal_replay_fn fn;
    void *priv;
    uint64_t base;
};

/* Replays only the records above the checkpoint. */
static int replay_above(void *priv, const struct wal_record *rec)
{
    struct skip_ctx *s = priv;
    if (rec->lsn <= s->base || !s->fn) return 0;
    return s->fn(s->priv, rec);
}

static int recover(struct wal *w, uint64_t base, wal_replay_fn fn0, void *priv0, struct buf *err)
{
    struct skip_ctx skip = {fn0, priv0, base};
    wal_replay_fn fn = replay_above;
    void *priv = &skip;
    uint64_t *segs = NULL;
    size_t nsegs = 0;
    char path[4096];
    int rc = list_segments(w->dir, &segs, &nsegs);
    if (rc) {
        buf_printf(err, "can't list WAL directory '%s': %s", w->dir, strerror(-rc));
        return rc;
    }
    if (nsegs) {
        seg_path(w, segs[nsegs - 1], path, sizeof(path));
        if (seg_unfinished(path)) {
            if (unlink(path) != 0 || (rc = sync_dir(w->dir)) != 0) {
                if (!rc) rc = -errno;
                buf_printf(err, "can't remove the unfinished WAL segment '%s': %s", path,
                           strerror(-rc));
                lode_free(segs);
                return rc;
            }
            note(err, "unfinished WAL segment '%s' removed", path);
            nsegs--;
        }
    }
    /* Without a checkpoint the whole history is in the log: it must start
     * at LSN 1; with one, at or before the first LSN after it. */
    if (nsegs && (base ? segs[0] > base + 1 : segs[0] != 1)) {
        seg_path(w, segs[0], path, sizeof(path));
        buf_printf(err,
                   "the WAL starts at LSN %llu ('%s') but must start at %llu or before: the "
                   "segments before it are missing",
                   (unsigned long long)segs[0], path, (unsigned long long)base + 1);
        lode_free(segs);
        return LODE_ECORRUPT;
    }
    uint64_t expect = 0; /* next LSN, 0 = any (first segment) */
    struct buf scratch = BUF_INIT;
    for (size_t i = 0; i < nsegs && rc == 0; i++) {
        bool last = i + 1 == nsegs;
        seg_path(w, segs[i], path, sizeof(path));
        int fd = open(path, O_RDWR | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            rc = -errno;
            buf_printf(err, "can't open WAL segment '%s': %s", path, strerror(errno));
            if (fd >= 0) close(fd);
            break;
        }
        uint64_t size = (uint64_t)st.st_size;
        const uint8_t *map = NULL;
        if (size >= WAL_SEG_HEADER) {
            map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
            if (map == MAP_FAILED) map = NULL;
        }
        rc = check_header(map, size, segs[i], expect, path, err);
        uint64_t off = WAL_SEG_HEADER;
        if (!expect) expect = segs[i];
        if (rc == 0)
            rc = replay_segment(w, fd, map, size, last, path, &off, &expect, fn, priv, &scratch,
                                err);
        if (rc == 0 && last) {
            /* appends into a reused segment go on in whole pages
             * (write_pages), as into a fresh one that gets prefilled
             * (wal_open adds those) */
            w->page_writes = (le_get32(map + 32) & WAL_SEG_REUSED) != 0;
            if (!w->tail) w->tail = lode_malloc(WAL_PAGE);
            uint64_t page = off & ~(uint64_t)(WAL_PAGE - 1);
            memcpy(w->tail, map + page, (size_t)(off - page));
        }
        if (map) munmap((void *)map, size);
        atomic_fetch_add(&w->segments, 1);
        if (rc == 0 && last) {
            w->fd = fd;
            w->seg_first = segs[i];
            w->seg_off = off;
            /* a recovered segment larger than the configured size (the size
             * was lowered, or it holds one big record) is filled as is;
             * segments created later get the configured size */
            w->seg_cap = size > w->seg_size ? size : w->seg_size;
        } else {
            close(fd);
        }
    }
    buf_release(&scratch);
    if (rc == 0 && nsegs && expect <= base) {
        /* the log ends before the checkpoint: all of it is superseded */
        if (w->fd >= 0) close(w->fd);
        w->fd = -1;
        for (size_t i = 0; i < nsegs && rc == 0; i++) {
            seg_path(w, segs[i], path, sizeof(path));
            if (unlink(path) != 0) rc = -errno;
        }
        if (rc == 0) rc = sync_dir(w->dir);
        if (rc)
            buf_printf(err, "can't remove WAL segments superseded by the checkpoint: %s",
                       strerror(-rc));
        else
            note(err,
                 "the WAL ended at LSN %llu, before the checkpoint's LSN %llu: its %zu "
                 "segment(s) removed",
                 (unsigned long long)expect - 1, (unsigned long long)base, nsegs);
        atomic_store(&w->segments, 0);
        atomic_store(&w->bytes, 0);
        expect = 0;
    }
    lode_free(segs);
    w->next_lsn = expect ? expect : base + 1;
    return rc;
}

int wal_open(struct wal **out, const struct wal_options *opt, wal_replay_fn fn, void *priv,
             struct buf *err)
{
    if (mkdir(opt->dir, 0755) != 0 && errno != EEXIST) {
        int rc = -errno;
        buf_printf(err, "can't create WAL directory '%s': %s", opt->dir, strerror(-rc));
        return rc;
    }
    struct wal *w = lode_calloc(sizeof(*w));
    w->dir = strdup(opt->dir);
    w->seg_size = opt->segment_size >= 4096 ? opt->segment_size : 4096;
    atomic_store(&w->sync, opt->sync);
    w->notify = opt->notify;
    w->priv = opt->priv;
    w->fd = -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_cond_init(&w->idle, NULL);
    pthread_mutex_init(&w->fill_mu, NULL);
    pthread_cond_init(&w->fill_cv, NULL);
    pthread_cond_init(&w->fill_done, NULL);
    w->fill_conf_ahead = w->fill_next_ahead = opt->prefill_ahead;
    w->fill_chunk = opt->prefill_chunk ? opt->prefill_chunk : WAL_PREFILL_CHUNK;
    w->hold_us = opt->group_hold_us ? opt->group_hold_us : WAL_GROUP_HOLD_US;
    w->inline_io = opt->sync != WAL_SYNC_ALWAYS;
    w->last_sync_ms = util_ms_now();
    w->max_spare = opt->spare_segments;
    int rc = recover(w, opt->base_lsn, fn, priv, err);
    if (rc == 0) load_spares(w);
    if (rc == 0 && w->fd >= 0) {
        /* the recovered last segment: page_writes says reused so far */
        fill_switch(w, !w->page_writes);
        w->page_writes = w->page_writes || w->filling;
    }
    if (rc == 0 && w->fd < 0) {
        rc = seg_create(w, w->next_lsn);
        if (rc) buf_printf(err, "can't create a WAL segment in '%s': %s", w->dir, strerror(-rc));
    }
    if (rc) {
        if (w->fd >= 0) close(w->fd);
        w->fd = -1;
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        pthread_cond_destroy(&w->idle);
        pthread_mutex_destroy(&w->fill_mu);
        pthread_cond_destroy(&w->fill_cv);
        pthread_cond_destroy(&w->fill_done);
        free(w->dir);
        lode_free(w->spares);
        lode_free(w->tail);
        lode_free(w);
        return rc;
    }
    atomic_store(&w->last_lsn, w->next_lsn - 1);
    atomic_store(&w->written_lsn, w->next_lsn - 1);
    atomic_store(&w->durable_lsn, w->next_lsn - 1);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) LODE_PANIC("can't start WAL thread");
    if (pthread_create(&w->filler, NULL, fill_main, w) != 0)
        LODE_PANIC("can't start the WAL filler thread");
    w->filler_started = true;
    *out = w;
    return 0;
}

/* The files wal_trim unlinked, closed by a thread of their own. */
struct closing {
    int *fds;
    size_t n;
};

static void *closer_main(void *arg)
{
    struct closing *c = arg;
    for (size_t i = 0; i < c->n; i++) close(c->fds[i]);
    lode_free(c->fds);
    lode_free(c);
    return NULL;
}

/* Waits for the closer of the previous trim (long done, normally). */
static void closer_join(struct wal *w)
{
    if (!w->closer_started) return;
    pthread_join(w->closer, NULL);
    w->closer_started = false;
}

int wal_trim(struct wal *w, uint64_t lsn, const char *archive_dir)
{
    uint64_t *segs = NULL;
    size_t n = 0;
    int rc = list_segments(w->dir, &segs, &n);
    if (rc) return rc;
    if (archive_dir && mkdir(archive_dir, 0755) != 0 && errno != EEXIST) {
        rc = -errno;
        lode_free(segs);
        return rc;
    }
    closer_join(w);
    /* Deleting a segment frees its 64 MiB of blocks, which ext4 takes about
     * 25 ms per segment to do (measured here: a 100 ms stall of the loop
     * after a checkpoint that trimmed four). So a removed segment is opened
     * first and its name unlinked, which is quick while the file is open;
     * the blocks are freed when the last descriptor closes, in a thread. */
    pthread_mutex_lock(&w->mu);
    size_t spares = w->nspare, max_spare = w->max_spare;
    pthread_mutex_unlock(&w->mu);
    struct closing *c = lode_calloc(sizeof(*c));
    c->fds = lode_calloc((n + spares + 1) * sizeof(int));
    int removed = 0;
    for (size_t i = 0; i + 1 < n && segs[i + 1] <= lsn + 1; i++) {
        char path[4096], to[4096];
        seg_path(w, segs[i], path, sizeof(path));
        if (archive_dir) {
            snprintf(to, sizeof(to), "%s/%016llx.log", archive_dir, (unsigned long long)segs[i]);
            if (io->rename(path, to) != 0) rc = -errno;
        } else if (spares < max_spare && file_size(path) == w->seg_size) {
            /* kept for reuse (seg_create; only this thread adds spares) */
            spare_path(w, segs[i], to, sizeof(to));
            if (io->rename(path, to) != 0) {
                rc = -errno;
            } else {
                pthread_mutex_lock(&w->mu);
                spare_push(w, segs[i]);
                pthread_mutex_unlock(&w->mu);
                spares++;
            }
        } else {
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (unlink(path) != 0) rc = -errno;
            if (fd >= 0) c->fds[c->n++] = fd;
        }
        if (rc) break;
        removed++;
        atomic_fetch_sub(&w->segments, 1);
    }
    /* spares beyond a lowered wal-spare-segments go the same way */
    char path[4096];
    bool dropped = false;
    while (!rc && spare_drop(w, path, sizeof(path))) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (unlink(path) != 0) rc = -errno;
        if (fd >= 0) c->fds[c->n++] = fd;
        dropped = true;
    }
    lode_free(segs);
    if (removed || dropped) {
        int s = sync_dir(w->dir);
        if (!rc) rc = s;
        if (archive_dir && !rc) rc = sync_dir(archive_dir);
    }
    if (c->n && pthread_create(&w->closer, NULL, closer_main, c) == 0) {
        w->closer_started = true;
    } else {
        closer_main(c); /* nothing to close, or no thread: here */
    }
    return rc ? rc : removed;
}
