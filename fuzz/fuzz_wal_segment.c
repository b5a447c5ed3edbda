/*
 * fuzz_wal_segment.c - libFuzzer target for WAL recovery (wal_open) over
 * one segment file.
 *
 * Input: the first byte selects the form, the rest is file content.
 *   bit 0 clear: a valid 64-byte segment header (first LSN 1) followed by
 *         the rest of the input, so that mutations reach the records;
 *   bit 0 set: the rest of the input is the whole file, header included;
 *   bit 1 set: the checksum of every record whose length word fits is
 *         recomputed first, so that mutations of lengths, flags, payloads
 *         and LZ4 blocks get past the CRC check.
 * The file is written as <tmp>/wal/0000000000000001.log.
 *
 * Asserts: recovery never crashes or reads out of bounds (ASan); every
 * replayed record has LSN 1, 2, 3, ... (dense) and commands that walk
 * cleanly, as many as it claims; a failure returns a negative code with a
 * reason; after success the next append continues the sequence, and a
 * second recovery (after a clean close) replays the same records plus the
 * appended one and has nothing left to report (the torn tail was cut).
 */
#include "engine/buf.h"
#include "engine/lode.h"
#include "engine/util.h"
#include "engine/crc32c.h"
#include "wal/record.h"
#include "wal/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];     /* the temp directory, made once */
static char waldir[96];   /* root/wal */
static char segpath[160]; /* the segment under test */

static void cleanup(void)
{
    DIR *d = opendir(waldir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[400];
        snprintf(p, sizeof(p), "%s/%s", waldir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
}

static void remove_root(void)
{
    cleanup();
    rmdir(waldir);
    rmdir(root);
}

/* No fdatasync: the kernel's copy is all recovery reads here, and syncs
 * would make each run slow. */
static int fz_open(const char *p, int f, mode_t m)
{
    return open(p, f, m);
}
static int fz_fdatasync(int fd)
{
    (void)fd;
    return 0;
}
static int fz_fallocate(int fd, off_t off, off_t len)
{
    int rc = posix_fallocate(fd, off, len);
    if (rc == 0) return 0;
    errno = rc;
    return -1;
}
static const struct wal_io fz_io = {fz_open,      pwrite, fz_fdatasync, ftruncate,
                                    fz_fallocate, close,  rename};

struct seen {
    uint64_t next; /* the LSN the next record must have */
    uint64_t count;
};

static int check_record(void *priv, const struct wal_record *rec)
{
    struct seen *s = priv;
    if (rec->lsn != s->next) abort(); /* dense, from the first LSN */
    size_t off = 0;
    uint32_t n = 0;
    const char *argv[8];
    size_t lens[8];
    for (;;) {
        int argc = wal_next_command(rec, &off, argv, lens, 8);
        if (argc == 0) break;
        if (argc < 0) abort(); /* the decoder accepted a malformed command */
        if (argc > 8) {
            /* too many to fill: walk it without filling */
            if (wal_next_command(rec, &off, NULL, NULL, -1) != argc) abort();
        } else {
            for (int i = 0; i < argc; i++)
                if (lens[i] > rec->cmds_len || argv[i] < rec->cmds ||
                    argv[i] + lens[i] > rec->cmds + rec->cmds_len)
                    abort();
        }
        n++;
    }
    if (n != rec->ncmds || off != rec->cmds_len) abort();
    s->next++;
    s->count++;
    return 0;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Recomputes the CRC of each record in p[off, n) that lies within it. */
static void fix_crcs(uint8_t *p, size_t off, size_t n)
{
    while (off + 8 <= n) {
        uint32_t total = get32(p + off);
        if (total < WAL_REC_HEADER || total > n - off) break;
        uint32_t c = crc32c(0, p + off + 8, total - 8);
        for (int i = 0; i < 4; i++) p[off + 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
        off += total;
    }
}

static void write_input(const uint8_t *data, size_t size)
{
    int fd = open(segpath, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) abort();
    uint8_t *copy = NULL;
    if (size && (data[0] & 2)) {
        copy = malloc(size);
        memcpy(copy, data, size);
        fix_crcs(copy, (data[0] & 1) ? 1 + WAL_SEG_HEADER : 1, size);
        data = copy;
    }
    if (size && (data[0] & 1) == 0) {
        uint8_t h[WAL_SEG_HEADER] = {'L', 'O', 'D', 'E', 'W', 'A', 'L', 0};
        h[8] = 1;               /* version */
        h[12] = WAL_SEG_HEADER; /* header length */
        h[16] = 1;              /* first LSN */
        uint32_t c = crc32c(0, h, 60);
        for (int i = 0; i < 4; i++) h[60 + i] = (uint8_t)(c >> (8 * i));
        if (write(fd, h, sizeof(h)) != (ssize_t)sizeof(h)) abort();
    }
    if (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) abort();
    close(fd);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!root[0]) {
        snprintf(root, sizeof(root), "/tmp/lode-fuzz-wal-XXXXXX");
        if (!mkdtemp(root)) abort();
        snprintf(waldir, sizeof(waldir), "%s/wal", root);
        snprintf(segpath, sizeof(segpath), "%s/0000000000000001.log", waldir);
        if (mkdir(waldir, 0755) != 0) abort();
        atexit(remove_root);
    }
    cleanup();
    write_input(data, size);
    wal_set_io(&fz_io);

    struct wal_options opt = {
        .dir = waldir, .sync = WAL_SYNC_NO, .segment_size = 65536, .notify = NULL, .priv = NULL};
    struct buf err = BUF_INIT;
    struct seen s = {.next = 1, .count = 0};
    struct wal *w = NULL;
    int rc = wal_open(&w, &opt, check_record, &s, &err);
    if (getenv("LODE_FUZZ_VERBOSE"))
        fprintf(stderr, "wal_open: %d, %llu records replayed%s%s\n", rc,
                (unsigned long long)s.count, err.len ? ": " : "", err.len ? err.ptr : "");
    if (rc != 0) {
        if (rc > 0 || w != NULL || err.len == 0) abort();
        goto out;
    }
    if (wal_last_lsn(w) != s.count) abort();
    /* the log goes on right after the last replayed record */
    static const char cmd[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    if (wal_append(w, 0, 1, cmd, sizeof(cmd) - 1, 1) != s.count + 1) abort();
    wal_close(w);
    w = NULL;

    /* a second recovery: the same records and the appended one, and
     * nothing left to cut */
    uint64_t first = s.count;
    s.next = 1;
    s.count = 0;
    err.len = 0;
    rc = wal_open(&w, &opt, check_record, &s, &err);
    if (rc != 0 || s.count != first + 1 || err.len != 0) abort();
    wal_close(w);
out:
    buf_release(&err);
    wal_set_io(NULL);
    return 0;
}
