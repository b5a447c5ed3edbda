/*
 * lode_recover.c - lode-recover: crash-recovery tooling for a data
 * directory whose server is stopped.
 *
 *   lode-recover DIR check
 *       every record's CRC and LSN continuity, segment headers;
 *       exit 0 clean, 1 torn tail (repairable), 2 corruption, 3 error
 *   lode-recover DIR repair
 *       cuts a torn tail of the last segment, keeping the cut bytes in
 *       DIR/wal/<segment>.torn-<offset>; refuses to touch corruption
 *       elsewhere (restore the prefix instead)
 *   lode-recover DIR restore (--to-lsn N | --to-time T) --out NEWDIR
 *       point-in-time recovery: NEWDIR gets the WAL up to and including
 *       LSN N (or the last record written at or before time T, Unix ms or
 *       YYYY-MM-DDTHH:MM:SS[.mmm]Z), byte for byte, ready for lode-server
 *
 * repair and restore refuse to run while a server holds DIR's LOCK.
 */
#include "engine/lode.h"
#include "tools/common.h"
#include "wal/ckpt.h"
#include "wal/reader.h"
#include "wal/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(void)
{
    fprintf(stderr, "Usage: lode-recover DIR check\n"
                    "       lode-recover DIR repair\n"
                    "       lode-recover DIR restore (--to-lsn N | --to-time T) --out NEWDIR\n");
    exit(3);
}

/* Takes DIR's LOCK so no server starts meanwhile; fails if one runs. */
static int lock_dir(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/LOCK", dir);
    int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "a lode-server is running on '%s' (its LOCK is held): stop it first\n",
                dir);
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

/* Walks the whole log; prints a summary. */
static int scan(const char *dir, struct wal_reader_status *st, bool quiet)
{
    struct wal_reader *r;
    if (tool_open_wal(dir, &r) != 0) return -1;
    struct wal_record rec;
    while (wal_reader_next(r, &rec) == 1) {
    }
    *st = *wal_reader_status(r);
    wal_reader_close(r);
    if (!quiet) {
        printf("segments: %llu\nrecords: %llu (LSN %llu..%llu)\nbytes: %llu\n",
               (unsigned long long)st->segments, (unsigned long long)st->records,
               (unsigned long long)st->first_lsn, (unsigned long long)st->last_lsn,
               (unsigned long long)st->bytes);
        if (st->end == WAL_END_CLEAN)
            printf("status: clean\n");
        else
            printf("status: %s in %s at offset %llu (LSN %llu): %s\n",
                   st->end == WAL_END_TORN ? "torn tail" : "CORRUPT", st->segment,
                   (unsigned long long)st->offset, (unsigned long long)st->bad_lsn,
                   st->why ? st->why : "");
    }
    return st->end;
}

static int copy_range(int in, int out, off_t from, off_t len)
{
    char buf[65536];
    while (len > 0) {
        ssize_t n = pread(in, buf, len < (off_t)sizeof(buf) ? (size_t)len : sizeof(buf), from);
        if (n <= 0) return -1;
        if (pwrite(out, buf, (size_t)n, from) != n) return -1;
        from += n;
        len -= n;
    }
    return 0;
}

static int cmd_repair(const char *dir)
{
    int lock = lock_dir(dir);
    if (lock < 0) return 3;
    struct wal_reader_status st;
    int end = scan(dir, &st, false);
    int rc = 0;
    if (end == WAL_END_CLEAN) {
        printf("nothing to repair\n");
    } else if (end == WAL_END_CORRUPT || end < 0) {
        fprintf(stderr,
                "corruption before the end of the log can't be cut without losing later "
                "records; restore the intact prefix into a new directory:\n"
                "  lode-recover %s restore --to-lsn %llu --out NEWDIR\n",
                dir, (unsigned long long)(st.bad_lsn ? st.bad_lsn - 1 : 0));
        rc = 2;
    } else {
        /* keep what is cut, then zero it (segments are zero-filled past
         * their written end, which is how readers find the end) */
        int fd = open(st.segment, O_RDWR | O_CLOEXEC);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) != 0) {
            perror(st.segment);
            return 3;
        }
        off_t from = (off_t)st.offset, end_off = from;
        /* the written part ends at the last non-zero byte before the first
         * 64 KiB of zeros (the never-written, preallocated rest) */
        static char zeros[65536], chunk[65536];
        for (off_t o = from; o < sb.st_size; o += (off_t)sizeof(chunk)) {
            ssize_t n = pread(fd, chunk, sizeof(chunk), o);
            if (n <= 0) break;
            if (memcmp(chunk, zeros, (size_t)n) == 0) break;
            for (ssize_t k = n; k > 0; k--) {
                if (chunk[k - 1]) {
                    end_off = o + k;
                    break;
                }
            }
        }
        char side[4200];
        snprintf(side, sizeof(side), "%s.torn-%lld", st.segment, (long long)from);
        int out = open(side, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
        if (out < 0) {
            perror(side);
            return 3;
        }
        char buf[65536];
        for (off_t o = from; o < end_off;) {
            ssize_t n =
                pread(fd, buf,
                      (size_t)(end_off - o) < sizeof(buf) ? (size_t)(end_off - o) : sizeof(buf), o);
            if (n <= 0 || write(out, buf, (size_t)n) != n) {
                perror(side);
                return 3;
            }
            o += n;
        }
        if (fsync(out) != 0) perror(side);
        close(out);
        for (off_t o = from; o < end_off; o += (off_t)sizeof(zeros)) {
            size_t n =
                (size_t)(end_off - o) < sizeof(zeros) ? (size_t)(end_off - o) : sizeof(zeros);
            if (pwrite(fd, zeros, n, o) != (ssize_t)n) {
                perror(st.segment);
                return 3;
            }
        }
        if (fdatasync(fd) != 0) {
            perror(st.segment);
            return 3;
        }
        close(fd);
        printf("cut %lld bytes at offset %lld of %s (kept in %s); the log now ends at LSN %llu\n",
               (long long)(end_off - from), (long long)from, st.segment, side,
               (unsigned long long)st.last_lsn);
    }
    close(lock);
    return rc;
}

/* Copies file src to dst (created, must not exist) and fsyncs it. */
static int copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    int o = open(dst, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    struct stat sb;
    int rc = -1;
    if (in >= 0 && o >= 0 && fstat(in, &sb) == 0 && copy_range(in, o, 0, sb.st_size) == 0 &&
        fsync(o) == 0)
        rc = 0;
    if (rc) fprintf(stderr, "copying %s: %s\n", src, strerror(errno));
    if (in >= 0) close(in);
    if (o >= 0) close(o);
    return rc;
}

/* Copies every segment of srcdir whose first LSN is at most max_first
 * into dstdir (segments already there are kept). */
static int copy_segments(const char *srcdir, const char *dstdir, uint64_t max_first)
{
    struct wal_reader *r;
    struct buf err = BUF_INIT;
    if (wal_reader_open(&r, srcdir, &err) != 0) {
        buf_release(&err);
        return 0; /* no such directory: nothing to copy */
    }
    size_t n;
    const uint64_t *segs = wal_reader_segments(r, &n);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (segs[i] > max_first) continue;
        char src[4300], dst[4300];
        snprintf(src, sizeof(src), "%s/%016llx.log", srcdir, (unsigned long long)segs[i]);
        snprintf(dst, sizeof(dst), "%s/%016llx.log", dstdir, (unsigned long long)segs[i]);
        if (access(dst, F_OK) == 0) continue;
        rc = copy_file(src, dst);
    }
    wal_reader_close(r);
    return rc;
}

static int cmd_restore(const char *dir, int argc, char **argv)
{
    unsigned long long to_lsn = 0;
    long long to_time = -1;
    const char *out = NULL;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--to-lsn") && i + 1 < argc)
            to_lsn = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--to-time") && i + 1 < argc) {
            if (!tool_parse_time(argv[++i], &to_time)) usage();
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else
            usage();
    }
    if (!out || (to_lsn == 0) == (to_time < 0)) usage();
    if (mkdir(out, 0755) != 0) {
        fprintf(stderr, "can't create '%s': %s (it must not exist)\n", out, strerror(errno));
        return 3;
    }
    char waldir[4096], archdir[4096], ckdir[4096], outwal[4096], outck[4096];
    snprintf(waldir, sizeof(waldir), "%s/wal", dir);
    snprintf(archdir, sizeof(archdir), "%s/wal-archive", dir);
    snprintf(ckdir, sizeof(ckdir), "%s/checkpoint", dir);
    snprintf(outwal, sizeof(outwal), "%s/wal", out);
    snprintf(outck, sizeof(outck), "%s/checkpoint", out);
    if (mkdir(outwal, 0755) != 0) {
        perror(outwal);
        return 3;
    }
    uint64_t ck_lsn = tool_checkpoint_lsn(ckdir);
    struct buf err = BUF_INIT;
    /* every segment that may hold records up to the target: archived ones
     * (older than the checkpoint, kept by wal-archive) and live ones */
    uint64_t max_first = to_lsn ? to_lsn : UINT64_MAX;
    if (copy_segments(archdir, outwal, max_first) || copy_segments(waldir, outwal, max_first))
        return 3;
    /* walk the copy to the target record; cut everything after it */
    struct wal_reader *r;
    if (wal_reader_open(&r, outwal, &err) != 0) {
        fprintf(stderr, "%s\n", err.ptr);
        return 3;
    }
    /* with a checkpoint the live log may start anywhere up to its LSN + 1 */
    if (ck_lsn) wal_reader_set_base(r, ck_lsn);
    struct wal_record rec;
    char cut_seg[4096] = "";
    uint64_t cut_off = 0, last = 0, first = 0, kept = 0;
    while (wal_reader_next(r, &rec) == 1) {
        if (to_lsn && rec.lsn > to_lsn) break;
        if (to_time >= 0 && (long long)rec.time_ms > to_time) break;
        const struct wal_reader_status *st = wal_reader_status(r);
        snprintf(cut_seg, sizeof(cut_seg), "%s", st->segment);
        cut_off = st->offset;
        last = rec.lsn;
        if (!first) first = rec.lsn;
        kept++;
    }
    const struct wal_reader_status *st = wal_reader_status(r);
    uint64_t log_first = st->first_lsn;
    size_t nsegs;
    const uint64_t *segs = wal_reader_segments(r, &nsegs);
    int rc = 0;
    /* drop the segments after the cut, zero the rest of the cut one */
    for (size_t i = 0; i < nsegs && rc == 0; i++) {
        char path[4300];
        snprintf(path, sizeof(path), "%s/%016llx.log", outwal, (unsigned long long)segs[i]);
        if (cut_seg[0] && strcmp(path, cut_seg) == 0) {
            int fd = open(path, O_RDWR | O_CLOEXEC);
            struct stat sb;
            static const char zeros[65536];
            if (fd < 0 || fstat(fd, &sb) != 0) rc = 3;
            for (off_t o = (off_t)cut_off; rc == 0 && o < sb.st_size; o += (off_t)sizeof(zeros)) {
                size_t n = (size_t)(sb.st_size - o) < sizeof(zeros) ? (size_t)(sb.st_size - o)
                                                                    : sizeof(zeros);
                if (pwrite(fd, zeros, n, o) != (ssize_t)n) rc = 3;
            }
            if (fd >= 0 && fsync(fd) != 0) rc = 3;
            if (fd >= 0) close(fd);
        } else if (!last || (cut_seg[0] && segs[i] > last)) {
            unlink(path);
        }
    }
    wal_reader_close(r);
    /* a target at or after the checkpoint starts from the checkpoint; one
     * before it needs the log from LSN 1 (kept only with wal-archive yes) */
    bool use_ck = ck_lsn && last >= ck_lsn;
    if (rc == 0 && !use_ck && log_first != 1 && (last || ck_lsn)) {
        fprintf(stderr,
                "LSN %llu is before the checkpoint (LSN %llu) and the log before it was not "
                "kept: only the checkpoint or later can be restored (set wal-archive yes to "
                "keep older points reachable)\n",
                (unsigned long long)(last ? last : to_lsn), (unsigned long long)ck_lsn);
        rc = 2;
    }
    if (rc == 0 && use_ck) {
        char src[4300], dst[4300];
        if (mkdir(outck, 0755) != 0) rc = 3;
        snprintf(src, sizeof(src), "%s/data.mdb", ckdir);
        snprintf(dst, sizeof(dst), "%s/data.mdb", outck);
        if (rc == 0) rc = copy_file(src, dst) ? 3 : 0;
    }
    int dfd = open(outwal, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    if (rc == 0)
        printf("restored %llu records (LSN %llu..%llu)%s into %s\n", (unsigned long long)kept,
               (unsigned long long)first, (unsigned long long)last,
               use_ck ? " on top of the checkpoint" : "", out);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) usage();
    const char *dir = argv[1], *cmd = argv[2];
    if (!strcmp(cmd, "check")) {
        struct wal_reader_status st;
        int end = scan(dir, &st, false);
        return end < 0 ? 3 : end;
    }
    if (!strcmp(cmd, "repair")) return cmd_repair(dir);
    if (!strcmp(cmd, "restore")) return cmd_restore(dir, argc, argv);
    usage();
}
