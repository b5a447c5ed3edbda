/*
 * reader.c - read-only WAL walk (see reader.h; layout in
 * docs/wal-format.md).
 */
#include "wal/reader.h"
#include "engine/lode.h"
#include "engine/crc32c.h"
#include "wal/endian.h"
#include "wal/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct wal_reader {
    char *dir;
    uint64_t *segs;
    size_t nsegs, cur; /* cur: index of the mapped segment */
    const uint8_t *map;
    uint64_t size, off;
    dev_t dev; /* the mapped segment's file */
    ino_t ino;
    uint64_t expect; /* next LSN, 0 = any */
    uint64_t base;   /* checkpoint LSN: the log may start up to base + 1 */
    bool done;
    struct buf scratch;
    struct wal_reader_status st;
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int wal_reader_open(struct wal_reader **out, const char *dir, struct buf *err)
{
    struct wal_reader *r = lode_calloc(sizeof(*r));
    r->dir = lode_strdup(dir);
    buf_init(&r->scratch);
    DIR *d = opendir(dir);
    if (!d && errno != ENOENT) {
        buf_printf(err, "can't open WAL directory '%s': %s", dir, strerror(errno));
        int rc = -errno;
        wal_reader_close(r);
        return rc;
    }
    size_t cap = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        const char *s = e->d_name;
        if (strlen(s) != 20 || strcmp(s + 16, ".log") != 0) continue;
        char *end;
        unsigned long long v = strtoull(s, &end, 16);
        if (end != s + 16) continue;
        if (r->nsegs == cap) {
            cap = cap ? cap * 2 : 16;
            r->segs = lode_realloc(r->segs, cap * sizeof(uint64_t));
        }
        r->segs[r->nsegs++] = v;
    }
    if (d) closedir(d);
    if (r->nsegs) qsort(r->segs, r->nsegs, sizeof(uint64_t), cmp_u64);
    r->cur = (size_t)-1;
    *out = r;
    return 0;
}

static void unmap(struct wal_reader *r)
{
    if (r->map) munmap((void *)r->map, r->size);
    r->map = NULL;
}

/* A checkpoint may trim the segment being read (and a later segment may
 * reuse its file, rewriting it) or one not opened yet: what looks damaged
 * then was the server's normal work, which the reason should say. */
static const char *trimmed_meanwhile(const struct wal_reader *r, const char *why)
{
    struct stat sb;
    if (stat(r->st.segment, &sb) != 0 || (r->map && (sb.st_ino != r->ino || sb.st_dev != r->dev)))
        return "the server trimmed this segment while it was being read (a checkpoint ran): "
               "read again";
    return why;
}

static void finish(struct wal_reader *r, int end, const char *why, uint64_t off)
{
    r->done = true;
    r->st.end = end;
    r->st.why = why;
    r->st.offset = off;
    r->st.bad_lsn = why ? r->expect : 0;
}

/* Maps the next segment; false at the end or on error (status set). */
static bool next_segment(struct wal_reader *r)
{
    unmap(r);
    if (++r->cur >= r->nsegs) {
        finish(r, WAL_END_CLEAN, NULL, r->off);
        return false;
    }
    uint64_t first = r->segs[r->cur];
    snprintf(r->st.segment, sizeof(r->st.segment), "%s/%016llx.log", r->dir,
             (unsigned long long)first);
    bool last = r->cur + 1 == r->nsegs;
    int fd = open(r->st.segment, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0) close(fd);
        finish(r, WAL_END_CORRUPT, trimmed_meanwhile(r, "segment can't be opened"), 0);
        return false;
    }
    r->dev = sb.st_dev;
    r->ino = sb.st_ino;
    r->size = (uint64_t)sb.st_size;
    r->map = r->size >= WAL_SEG_HEADER ? mmap(NULL, r->size, PROT_READ, MAP_SHARED, fd, 0) : NULL;
    close(fd);
    if (r->map == MAP_FAILED) r->map = NULL;
    r->st.segments++;
    const uint8_t *h = r->map;
    const char *why = NULL;
    if (!h)
        why = "segment shorter than its header";
    else if (memcmp(h, "LODEWAL", 8) != 0 || le_get32(h + 60) != crc32c(0, h, 60))
        why = "segment header invalid";
    else if (le_get32(h + 8) != 1)
        why = "unknown segment format version";
    else if (le_get64(h + 16) != first)
        why = "segment header LSN differs from its name";
    else if (r->expect && first != r->expect)
        why = "segment does not start where the previous one ended";
    else if (!r->expect && (r->base ? first > r->base + 1 : first != 1))
        why = r->base ? "the log starts after the checkpoint's LSN + 1: segments are missing"
                      : "the log does not start at LSN 1: earlier segments are missing";
    if (why) {
        /* a brand-new last segment may be mid-creation: that is a clean end */
        finish(r, last ? WAL_END_TORN : WAL_END_CORRUPT, why, 0);
        return false;
    }
    if (!r->expect) r->expect = first;
    r->off = WAL_SEG_HEADER;
    return true;
}

int wal_reader_next(struct wal_reader *r, struct wal_record *rec)
{
    while (!r->done) {
        if (!r->map && !next_segment(r)) return 0;
        size_t used = 0;
        const char *why = "record cut short";
        int d = wal_record_decode(r->map + r->off, r->size - r->off, rec, &used, &r->scratch, &why);
        if (d == WAL_DEC_END) {
            if (r->cur + 1 < r->nsegs) {
                unmap(r);
                continue;
            }
            finish(r, WAL_END_CLEAN, NULL, r->off);
            return 0;
        }
        if (d == WAL_DEC_OK && rec->lsn != r->expect) {
            d = WAL_DEC_CORRUPT;
            why = "LSN out of sequence";
        }
        if (d != WAL_DEC_OK) {
            finish(r, r->cur + 1 == r->nsegs ? WAL_END_TORN : WAL_END_CORRUPT,
                   trimmed_meanwhile(r, why), r->off);
            return 0;
        }
        r->off += used;
        r->st.offset = r->off; /* end of the last record read */
        r->expect++;
        r->st.records++;
        r->st.bytes += used;
        if (!r->st.first_lsn) r->st.first_lsn = rec->lsn;
        r->st.last_lsn = rec->lsn;
        return 1;
    }
    return 0;
}

void wal_reader_set_base(struct wal_reader *r, uint64_t base)
{
    r->base = base;
}

const struct wal_reader_status *wal_reader_status(const struct wal_reader *r)
{
    return &r->st;
}

const uint64_t *wal_reader_segments(const struct wal_reader *r, size_t *n)
{
    *n = r->nsegs;
    return r->segs;
}

void wal_reader_close(struct wal_reader *r)
{
    if (!r) return;
    unmap(r);
    lode_free(r->segs);
    lode_free(r->dir);
    buf_release(&r->scratch);
    lode_free(r);
}
