/*
 * test_wal.c - the WAL (wal/wal.h): round trips through segment files,
 * rollover, the three durability modes, sticky failures injected through
 * the I/O table (EIO, short writes, ENOSPC at rollover, failed fdatasync),
 * a simulated power cut at the Nth fdatasync that keeps only a random part
 * of the unsynced writes, recovery's refusal of damaged segments, spare
 * segments and prefill (zeros written ahead of the writer).
 *
 * Every WAL lives in its own mkdtemp directory under /tmp, removed at the
 * end of the test. Nothing sleeps a fixed time: waits are on a condition
 * variable signalled by opt.notify, bounded by a deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/buf.h"
#include "engine/lode.h"
#include "engine/util.h"
#include "engine/crc32c.h"
#include "wal/endian.h"
#include "wal/reader.h"
#include "wal/record.h"
#include "wal/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SMALL_SEG 65536

/* ---- temp directories ---- */

struct tdir {
    char root[64]; /* the mkdtemp directory */
    char wal[96];  /* root/wal, the WAL directory */
};

static void tdir_new(struct tdir *t)
{
    snprintf(t->root, sizeof(t->root), "/tmp/lode-waltest-XXXXXX");
    assert_non_null(mkdtemp(t->root));
    snprintf(t->wal, sizeof(t->wal), "%s/wal", t->root);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void tdir_free(struct tdir *t)
{
    nftw(t->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void seg_file(const struct tdir *t, uint64_t first, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%016llx.log", t->wal, (unsigned long long)first);
}

/* The files FIRST.suffix in the WAL directory: how many, their first
 * LSNs into first and inode numbers into ino (either may be NULL; up to
 * cap of them), in directory order. */
static size_t list_files(const struct tdir *t, const char *suffix, uint64_t *first, ino_t *ino,
                         size_t cap)
{
    DIR *d = opendir(t->wal);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strlen(e->d_name) != 16 + strlen(suffix) || strcmp(e->d_name + 16, suffix) != 0)
            continue;
        if (n < cap && first) first[n] = strtoull(e->d_name, NULL, 16);
        if (n < cap && ino) ino[n] = e->d_ino;
        n++;
    }
    closedir(d);
    return n;
}

/* Sorted first LSNs of the segment files in the WAL directory. */
static size_t list_segs(const struct tdir *t, uint64_t *out, size_t cap)
{
    size_t n = list_files(t, ".log", out, NULL, cap);
    assert_true(n <= cap);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
            uint64_t x = out[j];
            out[j] = out[j - 1];
            out[j - 1] = x;
        }
    return n;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void write_file(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    fclose(f);
}

/* Overwrites len bytes at off of an existing file. */
static void patch_file(const char *path, off_t off, const void *p, size_t len)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, p, len, off), (ssize_t)len);
    close(fd);
}

/* ---- the records a test appends, and what recovery hands back ---- */

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ULL;
}

struct rec {
    uint64_t lsn, time_ms;
    uint32_t db, ncmds;
    struct buf cmds;
};

struct recs {
    struct rec *v;
    size_t n, cap;
};

static struct rec *recs_push(struct recs *r)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->v = realloc(r->v, r->cap * sizeof(*r->v));
    }
    struct rec *x = &r->v[r->n++];
    memset(x, 0, sizeof(*x));
    return x;
}

static void recs_truncate(struct recs *r, size_t n)
{
    while (r->n > n) buf_release(&r->v[--r->n].cmds);
}

static void recs_free(struct recs *r)
{
    recs_truncate(r, 0);
    free(r->v);
    memset(r, 0, sizeof(*r));
}

/*
 * The content of the record with this LSN: its shape (db, command count,
 * value length, compressibility) depends only on lsn and salt, its bytes
 * also on gen. Two generations of one LSN therefore encode to the same
 * length, which lets a test rewrite a recovered log in place exactly over
 * stale bytes left by a crash.
 */
static void make_rec(struct rec *x, uint64_t lsn, uint64_t salt, unsigned gen, size_t vlen_max)
{
    uint64_t h = (lsn + 1) * 0x9E3779B97F4A7C15ULL ^ salt;
    x->lsn = lsn;
    x->time_ms = 1700000000000ULL + lsn * 13 + gen;
    x->db = (uint32_t)(lsn % 16);
    x->ncmds = 1 + (uint32_t)(lsn % 3);
    size_t vlen = (size_t)(rng_next(&h) % vlen_max);
    bool compressible = rng_next(&h) % 2;
    char *val = malloc(vlen + 1);
    uint64_t vs = h ^ (gen + 1) * 0xD1B54A32D192ED03ULL;
    buf_init(&x->cmds);
    for (uint32_t j = 0; j < x->ncmds; j++) {
        for (size_t i = 0; i < vlen; i++)
            val[i] = compressible ? (char)('a' + gen % 26) : (char)rng_next(&vs);
        char key[48];
        int klen = snprintf(key, sizeof(key), "k%llu.%u", (unsigned long long)lsn, j);
        const char *argv[3] = {"SET", key, val};
        size_t lens[3] = {3, (size_t)klen, vlen};
        wal_append_command(&x->cmds, 3, argv, lens);
    }
    free(val);
}

static uint64_t append_rec(struct wal *w, struct recs *model, uint64_t salt, unsigned gen,
                           size_t vlen_max)
{
    struct rec *x = recs_push(model);
    make_rec(x, wal_last_lsn(w) + 1, salt, gen, vlen_max);
    uint64_t lsn = wal_append(w, x->db, x->ncmds, x->cmds.ptr, x->cmds.len, x->time_ms);
    assert_int_equal(lsn, x->lsn);
    return lsn;
}

/* nbatch batches of per records each (append_rec), each sealed; returns
 * the last LSN. */
static uint64_t append_batches(struct wal *w, struct recs *model, int nbatch, int per,
                               uint64_t salt, unsigned gen, size_t vlen_max)
{
    uint64_t last = 0;
    for (int b = 0; b < nbatch; b++) {
        for (int i = 0; i < per; i++) last = append_rec(w, model, salt, gen, vlen_max);
        wal_seal(w);
    }
    return last;
}

static int collect(void *priv, const struct wal_record *r)
{
    struct recs *got = priv;
    if (!got) return 0;
    struct rec *x = recs_push(got);
    x->lsn = r->lsn;
    x->time_ms = r->time_ms;
    x->db = r->db;
    x->ncmds = r->ncmds;
    buf_init(&x->cmds);
    buf_append(&x->cmds, r->cmds, r->cmds_len);
    return 0;
}

/* got[0..n) equals want[0..n), LSN 1 first. */
static void assert_prefix(const struct recs *got, const struct recs *want, size_t n)
{
    assert_true(got->n >= n && want->n >= n);
    for (size_t i = 0; i < n; i++) {
        const struct rec *a = &got->v[i], *b = &want->v[i];
        assert_int_equal(a->lsn, i + 1);
        assert_int_equal(a->lsn, b->lsn);
        assert_int_equal(a->time_ms, b->time_ms);
        assert_int_equal(a->db, b->db);
        assert_int_equal(a->ncmds, b->ncmds);
        assert_int_equal(a->cmds.len, b->cmds.len);
        assert_memory_equal(a->cmds.ptr, b->cmds.ptr, a->cmds.len);
    }
}

/* ---- waiting for the writer thread ---- */

static pthread_mutex_t note_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t note_cv = PTHREAD_COND_INITIALIZER;
static struct wal *note_wal;     /* the WAL whose progress notify records */
static uint64_t note_durable;    /* its durable LSN at the last notify */
static unsigned long note_calls; /* notify calls */

static void on_progress(void *priv)
{
    (void)priv;
    pthread_mutex_lock(&note_mu);
    if (note_wal) note_durable = wal_durable_lsn(note_wal);
    note_calls++;
    pthread_cond_broadcast(&note_cv);
    pthread_mutex_unlock(&note_mu);
}

enum wait_for { UNTIL_DURABLE, UNTIL_WRITTEN, UNTIL_FAILED };

/* Waits until the condition holds or ms pass; returns whether it holds.
 * UNTIL_DURABLE/UNTIL_WRITTEN also give up when the WAL fails. */
static bool wait_until(struct wal *w, enum wait_for what, uint64_t lsn, long ms)
{
    long long deadline = util_mono_us() + ms * 1000LL;
    pthread_mutex_lock(&note_mu);
    for (;;) {
        bool ok = what == UNTIL_DURABLE   ? wal_durable_lsn(w) >= lsn
                  : what == UNTIL_WRITTEN ? wal_written_lsn(w) >= lsn
                                          : wal_failed(w) != 0;
        if (ok || (what != UNTIL_FAILED && wal_failed(w)) || util_mono_us() >= deadline) {
            pthread_mutex_unlock(&note_mu);
            return ok;
        }
        /* a short slice: a notify that raced the check costs at most this */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&note_cv, &note_mu, &ts);
    }
}

/* Makes w the WAL whose durable LSN notify records, starting from durable. */
static void watch_wal(struct wal *w, uint64_t durable)
{
    pthread_mutex_lock(&note_mu);
    note_wal = w;
    note_durable = durable;
    pthread_mutex_unlock(&note_mu);
}

/* The durable LSN at the last notify. */
static uint64_t noted_durable(void)
{
    pthread_mutex_lock(&note_mu);
    uint64_t d = note_durable;
    pthread_mutex_unlock(&note_mu);
    return d;
}

static struct wal_options opts(const struct tdir *t, int sync, uint64_t seg)
{
    struct wal_options o = {
        .dir = t->wal, .sync = sync, .segment_size = seg, .notify = on_progress, .priv = NULL};
    return o;
}

/* Opens the WAL in t, collecting replayed records into got (may be NULL);
 * asserts success and returns it; err receives recovery's notes. */
static struct wal *open_ok(const struct tdir *t, int sync, uint64_t seg, struct recs *got,
                           struct buf *err)
{
    struct wal_options o = opts(t, sync, seg);
    struct wal *w = NULL;
    err->len = 0;
    int rc = wal_open(&w, &o, collect, got, err);
    if (rc != 0) fail_msg("wal_open: %s (%s)", lode_strerror(rc), err->ptr ? err->ptr : "");
    watch_wal(w, wal_durable_lsn(w));
    return w;
}

static void close_wal(struct wal *w)
{
    wal_close(w);
    pthread_mutex_lock(&note_mu);
    if (note_wal == w) note_wal = NULL;
    pthread_mutex_unlock(&note_mu);
}

/* Reopens t with no records appended and returns how many were replayed,
 * checking them against want. */
static size_t reopen_check(const struct tdir *t, uint64_t seg, const struct recs *want,
                           struct buf *err)
{
    struct recs got = {0};
    struct wal *w = open_ok(t, WAL_SYNC_ALWAYS, seg, &got, err);
    size_t n = got.n;
    assert_prefix(&got, want, n);
    assert_int_equal(wal_last_lsn(w), n);
    close_wal(w);
    recs_free(&got);
    return n;
}

/* ---- the fault-injecting I/O table ---- */

static struct {
    pthread_mutex_t mu;
    int pwrites, syncs, fallocs; /* calls seen */
    int pwrite_fail_at;          /* fail this pwrite call and every later one; 0 = never */
    int pwrite_errno;
    int short_at; /* this pwrite call writes only half (0 = never) */
    int sync_fail_at, sync_errno;
    int falloc_fail_at, falloc_errno;
    bool hold_syncs; /* fdatasync waits while set (cv) */
    pthread_cond_t cv;
} F = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void hold_syncs(bool on)
{
    pthread_mutex_lock(&F.mu);
    F.hold_syncs = on;
    pthread_cond_broadcast(&F.cv);
    pthread_mutex_unlock(&F.mu);
}

static void faults_reset(void)
{
    pthread_mutex_lock(&F.mu);
    F.pwrites = F.syncs = F.fallocs = 0;
    F.pwrite_fail_at = F.short_at = F.sync_fail_at = F.falloc_fail_at = 0;
    pthread_mutex_unlock(&F.mu);
}

static int f_counts(int *pwrites, int *syncs)
{
    pthread_mutex_lock(&F.mu);
    *pwrites = F.pwrites;
    *syncs = F.syncs;
    int fallocs = F.fallocs;
    pthread_mutex_unlock(&F.mu);
    return fallocs;
}

static int f_open(const char *p, int flags, mode_t mode)
{
    return open(p, flags, mode);
}

static ssize_t f_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    pthread_mutex_lock(&F.mu);
    int k = ++F.pwrites;
    bool fail = F.pwrite_fail_at && k >= F.pwrite_fail_at;
    int e = F.pwrite_errno;
    bool half = F.short_at == k;
    pthread_mutex_unlock(&F.mu);
    if (fail) {
        errno = e;
        return -1;
    }
    if (half && n > 1) n /= 2;
    return pwrite(fd, buf, n, off);
}

static int f_fdatasync(int fd)
{
    pthread_mutex_lock(&F.mu);
    int k = ++F.syncs;
    while (F.hold_syncs) pthread_cond_wait(&F.cv, &F.mu);
    bool fail = F.sync_fail_at && k >= F.sync_fail_at;
    int e = F.sync_errno;
    pthread_mutex_unlock(&F.mu);
    (void)fd; /* the data need not reach the platter for these tests */
    if (fail) {
        errno = e;
        return -1;
    }
    return 0;
}

static int f_ftruncate(int fd, off_t len)
{
    return ftruncate(fd, len);
}

static int f_fallocate(int fd, off_t off, off_t len)
{
    pthread_mutex_lock(&F.mu);
    int k = ++F.fallocs;
    bool fail = F.falloc_fail_at && k >= F.falloc_fail_at;
    int e = F.falloc_errno;
    pthread_mutex_unlock(&F.mu);
    if (fail) {
        errno = e;
        return -1;
    }
    int rc = posix_fallocate(fd, off, len);
    if (rc) {
        errno = rc;
        return -1;
    }
    return 0;
}

static int f_close(int fd)
{
    return close(fd);
}

static const struct wal_io fault_io = {f_open,      f_pwrite, f_fdatasync, f_ftruncate,
                                       f_fallocate, f_close,  rename};

/* ---- round trip, rollover ---- */

static void test_round_trip(void **state)
{
    (void)state;
    struct tdir t;
    tdir_new(&t);
    struct buf err = BUF_INIT;
    struct recs model = {0}, got = {0};

    struct wal *w = open_ok(&t, WAL_SYNC_ALWAYS, WAL_DEFAULT_SEGMENT, &got, &err);
    assert_int_equal(got.n, 0);
    assert_int_equal(err.len, 0);
    assert_int_equal(wal_last_lsn(w), 0);
    assert_int_equal(wal_durable_lsn(w), 0);
    assert_int_equal(wal_failed(w), 0);
    uint64_t last = 0;
    for (int b = 0; b < 20; b++) {
        for (int i = 0; i <= b % 4; i++) last = append_rec(w, &model, 1, 0, 3000);
        wal_seal(w);
    }
    assert_int_equal(last, model.n);
    assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    struct wal_stats st;
    wal_get_stats(w, &st);
    assert_int_equal(st.last_lsn, last);
    assert_int_equal(st.written_lsn, last);
    assert_int_equal(st.records, last);
    assert_int_equal(st.segments, 1);
    assert_int_equal(st.error, 0);
    close_wal(w);

    /* reopen: every record in order, identical */
    w = open_ok(&t, WAL_SYNC_ALWAYS, WAL_DEFAULT_SEGMENT, &got, &err);
    assert_int_equal(err.len, 0);
    assert_int_equal(got.n, model.n);
    assert_prefix(&got, &model, model.n);
    assert_int_equal(wal_last_lsn(w), last);
    assert_int_equal(wal_durable_lsn(w), last);
    /* appends continue the sequence */
    uint64_t next = append_rec(w, &model, 1, 0, 3000);
    assert_int_equal(next, last + 1);
    wal_seal(w);
    assert_true(wait_until(w, UNTIL_DURABLE, next, 5000));
    close_wal(w);

    recs_truncate(&got, 0);
    w = open_ok(&t, WAL_SYNC_ALWAYS, WAL_DEFAULT_SEGMENT, &got, &err);
    assert_int_equal(got.n, next);
    assert_prefix(&got, &model, model.n);
    close_wal(w);

    /* wal_close writes and syncs what was appended but never sealed */
    w = open_ok(&t, WAL_SYNC_ALWAYS, WAL_DEFAULT_SEGMENT, NULL, &err);
    next = append_rec(w, &model, 1, 0, 100);
    close_wal(w);
    assert_int_equal(reopen_check(&t, WAL_DEFAULT_SEGMENT, &model, &err), next);

    recs_free(&model);
    recs_free(&got);
    buf_release(&err);
    tdir_free(&t);
}

/* Walks a segment file: checks its header and that its records are dense
 * from its first LSN; returns the number of records. */
static size_t check_segment(const struct tdir *t, uint64_t first)
{
    char path[160];
    seg_file(t, first, path, sizeof(path));
    size_t len;
    uint8_t *p = read_file(path, &len);
    assert_true(len >= WAL_SEG_HEADER);
    assert_memory_equal(p, "LODEWAL\0", 8);
    uint64_t hfirst = 0;
    for (int i = 7; i >= 0; i--) hfirst = hfirst << 8 | p[16 + i];
    assert_int_equal(hfirst, first);
    size_t off = WAL_SEG_HEADER, n = 0;
    struct buf scratch = BUF_INIT;
    for (;;) {
        struct wal_record r;
        size_t used;
        const char *why = NULL;
        int d = wal_record_decode(p + off, len - off, &r, &used, &scratch, &why);
        if (d == WAL_DEC_END) break;
        assert_int_equal(d, WAL_DEC_OK);
        assert_int_equal(r.lsn, first + n);
        n++;
        off += used;
    }
    /* nothing but zeros after the last record */
    for (size_t i = off; i < len; i++) assert_int_equal(p[i], 0);
    buf_release(&scratch);
    free(p);
    return n;
}

/* wal_trim removes (or archives) every segment whose successor starts at or
 * below lsn + 1, never the newest; what is left replays from there. */
static void test_trim(void **state)
{
    (void)state;
    struct tdir t;
    tdir_new(&t);
    struct buf err = BUF_INIT;
    struct recs model = {0};
    struct wal *w = open_ok(&t, WAL_SYNC_ALWAYS, SMALL_SEG, NULL, &err);
    uint64_t last = append_batches(w, &model, 40, 8, 3, 0, 1500);
    assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    uint64_t segs[64];
    size_t n = list_segs(&t, segs, 64);
    assert_true(n >= 5);
    struct wal_stats st;
    wal_get_stats(w, &st);
    assert_int_equal(st.segments, n);

    /* nothing wholly below LSN 1 */
    assert_int_equal(wal_trim(w, 1, NULL), 0);
    assert_int_equal(list_segs(&t, segs, 64), n);
    /* the first two segments are wholly at or below segs[2] - 1 */
    uint64_t keep_from = segs[2];
    assert_int_equal(wal_trim(w, keep_from - 1, NULL), 2);
    uint64_t left[64];
    assert_int_equal(list_segs(&t, left, 64), n - 2);
    assert_int_equal(left[0], keep_from);
    wal_get_stats(w, &st);
    assert_int_equal(st.segments, n - 2);
    /* to an archive: the next one moves there */
    char archive[128];
    snprintf(archive, sizeof(archive), "%s/archive", t.root);
    assert_int_equal(wal_trim(w, left[1] - 1, archive), 1);
    char moved[192];
    snprintf(moved, sizeof(moved), "%s/%016llx.log", archive, (unsigned long long)left[0]);
    struct stat fs;
    assert_int_equal(stat(moved, &fs), 0);
    /* past the end: every segment but the newest */
    int removed = wal_trim(w, last + 100, NULL);
    assert_int_equal(removed, (int)(n - 4));
    assert_int_equal(list_segs(&t, left, 64), 1);
    assert_int_equal(left[0], segs[n - 1]);
    /* the WAL goes on: a record after the trims is replayed with the rest
     * of the newest segment */
    last = append_rec(w, &model, 3, 0, 100);
    wal_seal(w);
    assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    close_wal(w);

    struct recs got = {0};
    struct wal_options o = opts(&t, WAL_SYNC_ALWAYS, SMALL_SEG);
    o.base_lsn = segs[n - 1] - 1; /* as after a checkpoint at that LSN */
    struct wal *w2 = NULL;
    assert_int_equal(wal_open(&w2, &o, collect, &got, &err), 0);
    assert_int_equal(got.n, last - (segs[n - 1] - 1));
    assert_int_equal(got.v[0].lsn, segs[n - 1]);
    assert_int_equal(wal_last_lsn(w2), last);
    wal_close(w2);
    recs_free(&got);
    recs_free(&model);
    buf_release(&err);
    tdir_free(&t);
}

/* got holds exactly the records of want above base, up to last. */
static void assert_replayed_above(const struct recs *got, const struct recs *want, uint64_t base,
                                  uint64_t last)
{
    assert_int_equal(got->n, last - base);
    for (size_t i = 0; i < got->n; i++) {
        const struct rec *x = &got->v[i], *y = &want->v[base + i];
        assert_int_equal(x->lsn, y->lsn);
        assert_int_equal(x->cmds.len, y->cmds.len);
        assert_memory_equal(x->cmds.ptr, y->cmds.ptr, x->cmds.len);
    }
}

/* Spare files (FIRST.spare) in t's WAL directory: their count, and their
 * inode numbers into ino (up to cap). */
static size_t list_spares(const struct tdir *t, ino_t *ino, size_t cap)
{
    return list_files(t, ".spare", NULL, ino, cap);
}

static ino_t seg_ino(const struct tdir *t, uint64_t first)
{
    char path[256];
    seg_file(t, first, path, sizeof(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_ino;
}

/* The tools' reader walks the WAL in t from base and ends cleanly at the
 * record with LSN last. */
static void assert_reader_ends_at(const struct tdir *t, uint64_t base, uint64_t last)
{
    struct buf err = BUF_INIT;
    struct wal_reader *r = NULL;
    assert_int_equal(wal_reader_open(&r, t->wal, &err), 0);
    wal_reader_set_base(r, base);
    struct wal_record rec;
    uint64_t seen = 0;
    while (wal_reader_next(r, &rec) == 1) seen = rec.lsn;
    if (wal_reader_status(r)->end != WAL_END_CLEAN)
        fail_msg("reader: %s at %s:%llu", wal_reader_status(r)->why, wal_reader_status(r)->segment,
                 (unsigned long long)wal_reader_status(r)->offset);
    assert_int_equal(seen, last);
    wal_reader_close(r);
    buf_release(&err);
}

/* Trimmed segments kept as spares and reused for new segments, whose old
 * records after the end of the log neither replay nor count as a torn
 * tail or corruption, in the last segment and in earlier ones. */
static void spares_in_mode(int sync)
{
    struct tdir t;
    tdir_new(&t);
    struct buf err = BUF_INIT;
    struct recs model = {0};
    struct wal_options o = opts(&t, sync, SMALL_SEG);
    o.spare_segments = 2;
    struct wal *w = NULL;
    assert_int_equal(wal_open(&w, &o, collect, NULL, &err), 0);
    watch_wal(w, 0);
    uint64_t last = append_batches(w, &model, 40, 8, 5, 0, 1500);
    if (sync != WAL_SYNC_ALWAYS) wal_set_sync(w, WAL_SYNC_ALWAYS); /* syncs what is written */
    assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    uint64_t segs[64];
    size_t n = list_segs(&t, segs, 64);
    assert_true(n >= 5);
    /* everything but the newest is trimmed: two become spares */
    assert_int_equal(wal_trim(w, last, NULL), (int)(n - 1));
    ino_t spare_ino[8];
    assert_int_equal(list_spares(&t, spare_ino, 8), 2);
    struct wal_stats st;
    wal_get_stats(w, &st);
    assert_int_equal(st.spares, 2);
    assert_int_equal(st.segments, 1);
    uint64_t base = segs[n - 1] - 1; /* as after a checkpoint there */
    if (sync != WAL_SYNC_ALWAYS) wal_set_sync(w, sync);

    /* the next two segments are the spares (same files), the one after
     * is new; the WAL stops inside a reused segment */
    for (int b = 0; list_segs(&t, segs, 64) < 3; b++) {
        for (int i = 0; i < 4; i++) last = append_rec(w, &model, 5, 0, 1500);
        wal_seal(w);
        assert_true(wait_until(w, UNTIL_WRITTEN, last, 5000));
        assert_true(b < 200);
    }
    assert_int_equal(list_spares(&t, NULL, 0), 0);
    n = list_segs(&t, segs, 64);
    assert_int_equal(n, 3);
    ino_t a = seg_ino(&t, segs[1]), c = seg_ino(&t, segs[2]);
    assert_true((a == spare_ino[0] || a == spare_ino[1]) &&
                (c == spare_ino[0] || c == spare_ino[1]));
    assert_true(a != c);
    if (sync != WAL_SYNC_ALWAYS) wal_set_sync(w, WAL_SYNC_ALWAYS);
    assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    close_wal(w);

    /* the tools' reader ends cleanly at the last record */
    assert_reader_ends_at(&t, base, last);

    /* recovery replays exactly the records above base, quietly, and
     * clears the old records after the end of the last segment */
    struct recs got = {0};
    o.base_lsn = base;
    err.len = 0;
    assert_int_equal(wal_open(&w, &o, collect, &got, &err), 0);
    assert_int_equal(err.len, 0); /* routine: no torn tail, no note */
    assert_replayed_above(&got, &model, base, last);
    assert_int_equal(wal_last_lsn(w), last);
    wal_close(w);
    char path[256];
    seg_file(&t, segs[2], path, sizeof(path));
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t data[SMALL_SEG];
    size_t len = fread(data, 1, sizeof(data), f);
    fclose(f);
    assert_int_equal(len, SMALL_SEG);
    /* this life's records, then nothing but zeros */
    size_t off = WAL_SEG_HEADER;
    uint64_t lsn = 0;
    while (off + 16 <= len && le_get32(data + off) && le_get64(data + off + 8) >= segs[2]) {
        lsn = le_get64(data + off + 8);
        off += le_get32(data + off);
    }
    assert_int_equal(lsn, last);
    for (size_t i = off; i < len; i++) assert_int_equal(data[i], 0);

    /* appends after recovery go on from the recovered page */
    assert_int_equal(wal_open(&w, &o, collect, NULL, &err), 0);
    for (int i = 0; i < 5; i++) last = append_rec(w, &model, 5, 0, 1500);
    wal_seal(w);
    if (sync != WAL_SYNC_ALWAYS) wal_set_sync(w, WAL_SYNC_ALWAYS);
    assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    wal_close(w);
    recs_free(&got);
    memset(&got, 0, sizeof(got));
    err.len = 0;
    assert_int_equal(wal_open(&w, &o, collect, &got, &err), 0);
    assert_true(err.len == 0 || !strstr(err.ptr, "torn"));
    assert_replayed_above(&got, &model, base, last);
    recs_free(&got);

    /* a lowered number of spares: the extra ones go at the next trim */
    wal_set_spare_segments(w, 0);
    assert_int_equal(wal_trim(w, last, NULL), 2);
    assert_int_equal(list_spares(&t, NULL, 0), 0);
    wal_get_stats(w, &st);
    assert_int_equal(st.spares, 0);
    wal_close(w);
    recs_free(&model);
    buf_release(&err);
    tdir_free(&t);
}

static void test_spare_segments(void **state)
{
    (void)state;
    spares_in_mode(WAL_SYNC_ALWAYS);
    spares_in_mode(WAL_SYNC_NO);
}

/* ---- prefill ---- */

#define PF_SEG (1u << 20)

/* Whether the byte at off of path is in a written extent (1), in an
 * unwritten (preallocated) one or a hole (0), or -1 when the file system
 * does not report extents (FIEMAP; tmpfs). */
static int extent_written(const char *path, uint64_t off)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct {
        struct fiemap fm;
        struct fiemap_extent ext[1];
    } q;
    memset(&q, 0, sizeof(q));
    q.fm.fm_start = off;
    q.fm.fm_length = 1;
    q.fm.fm_extent_count = 1;
    int rc = ioctl(fd, FS_IOC_FIEMAP, &q.fm);
    close(fd);
    if (rc != 0) return -1;
    if (q.fm.fm_mapped_extents == 0) return 0;
    return (q.ext[0].fe_flags & FIEMAP_EXTENT_UNWRITTEN) ? 0 : 1;
}

/* The end of the records in a segment file (walking their lengths). */
static uint64_t records_end(const char *path)
{
    size_t len = 0;
    uint8_t *data = read_file(path, &len);
    size_t off = WAL_SEG_HEADER;
    while (off + 16 <= len && le_get32(data + off)) off += le_get32(data + off);
    free(data);
    return off;
}

/*
 * Zeros written ahead of the writer in fresh segments (`always`, prefill
 * on): with a small chunk and a short lead, fast appends keep overtaking
 * the filler (fill_claim), slow ones let it get ahead. Every record
 * replays exactly and the end of the log is clean; where the file system
 * reports extents, the blocks ahead of the last record hold data with
 * prefill and are still preallocated without it.
 */
static void prefill_case(bool on)
{
    struct tdir t;
    tdir_new(&t);
    struct buf err = BUF_INIT;
    struct recs model = {0};
    struct wal_options o = opts(&t, WAL_SYNC_ALWAYS, PF_SEG);
    o.prefill_ahead = on ? 96u << 10 : 0;
    o.prefill_chunk = 16u << 10;
    struct wal *w = NULL;
    assert_int_equal(wal_open(&w, &o, collect, NULL, &err), 0);
    watch_wal(w, 0);
    /* the extents tell only where posix_fallocate reserves blocks without
     * writing them (not where the C library emulates it with zeros) */
    uint64_t segs[64];
    char path[256];
    assert_int_equal(list_segs(&t, segs, 64), 1);
    seg_file(&t, segs[0], path, sizeof(path));
    bool extents = extent_written(path, PF_SEG - 4096) == 0;
    uint64_t last = 0;
    for (int round = 0; round < 3; round++) {
        /* fast: no waiting, records up to 3000 bytes (overtakes) */
        last = append_batches(w, &model, 150, 8, 11, 0, 3000);
        /* slow: one small batch per sync (the filler gets ahead) */
        for (int b = 0; b < 30; b++) {
            last = append_batches(w, &model, 1, 2, 11, 0, 300);
            assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
        }
    }
    struct wal_stats st;
    wal_get_stats(w, &st);
    assert_true(st.segments >= 3);
    if (on)
        assert_true(st.prefilled >= 16u << 10);
    else
        assert_int_equal(st.prefilled, 0);
    /* the filler gets 96 KiB ahead of the last record (a deadline, not a
     * sleep: each chunk is synced by the filler) */
    size_t n = list_segs(&t, segs, 64);
    seg_file(&t, segs[n - 1], path, sizeof(path));
    uint64_t end = records_end(path);
    uint64_t probe = ((end + 4095) & ~(uint64_t)4095) + (64u << 10);
    int written = extents ? extent_written(path, probe) : -1;
    long long deadline = util_mono_us() + 5000000;
    while (on && written == 0 && util_mono_us() < deadline) {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL); /* polling the file's extents, bounded above */
        written = extent_written(path, probe);
    }
    if (written >= 0) {
        assert_int_equal(written, on ? 1 : 0);
    } else {
        print_message("prefill: no unwritten extents to see here, extents not checked\n");
    }
    close_wal(w);
    /* the tools' reader ends cleanly at the last record */
    assert_reader_ends_at(&t, 0, last);
    assert_int_equal(reopen_check(&t, PF_SEG, &model, &err), model.n);
    assert_true(err.len == 0 || !strstr(err.ptr, "torn"));
    /* after the last record: zeros up to the end of the segment */
    size_t len = 0;
    uint8_t *data = read_file(path, &len);
    assert_int_equal(len, PF_SEG);
    for (size_t i = end; i < len; i++) assert_int_equal(data[i], 0);
    free(data);

    /* the recovered last segment (fresh) is prefilled too, past its
     * records, and appends into it replay */
    err.len = 0;
    assert_int_equal(wal_open(&w, &o, collect, NULL, &err), 0);
    watch_wal(w, wal_durable_lsn(w));
    deadline = util_mono_us() + 5000000;
    do {
        wal_get_stats(w, &st);
        if (!on || st.prefilled) break;
        struct timespec ts = {0, 2 * 1000000L};
        nanosleep(&ts, NULL); /* polling the counter, bounded above */
    } while (util_mono_us() < deadline);
    if (on)
        assert_true(st.prefilled > 0);
    else
        assert_int_equal(st.prefilled, 0);
    last = append_batches(w, &model, 20, 4, 11, 0, 300);
    assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    assert_int_equal(list_segs(&t, segs, 64), n); /* still that segment */
    close_wal(w);
    assert_int_equal(reopen_check(&t, PF_SEG, &model, &err), model.n);
    recs_free(&model);
    buf_release(&err);
    tdir_free(&t);
}

static void test_prefill(void **state)
{
    (void)state;
    prefill_case(true);
    prefill_case(false);
}

static void test_segment_rollover(void **state)
{
    (void)state;
    struct tdir t;
    tdir_new(&t);
    struct buf err = BUF_INIT;
    struct recs model = {0};

    struct wal *w = open_ok(&t, WAL_SYNC_ALWAYS, SMALL_SEG, NULL, &err);
    uint64_t last = 0;
    for (int b = 0; b < 40; b++) {
        for (int i = 0; i < 8; i++) last = append_rec(w, &model, 2, 0, 1500);
        wal_seal(w);
        if (b % 8 == 0) assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    }
    assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    assert_int_equal(wal_written_lsn(w), last);
    close_wal(w);

    uint64_t segs[64];
    size_t n = list_segs(&t, segs, 64);
    assert_true(n >= 3);
    assert_int_equal(segs[0], 1);
    uint64_t expect = 1;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(segs[i], expect); /* named by their first LSN */
        size_t k = check_segment(&t, segs[i]);
        assert_true(k > 0);
        expect += k;
        char path[160];
        seg_file(&t, segs[i], path, sizeof(path));
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_true((uint64_t)st.st_size <= SMALL_SEG); /* no record spans two */
    }
    assert_int_equal(expect, last + 1);
    assert_int_equal(reopen_check(&t, SMALL_SEG, &model, &err), last);
    assert_int_equal(err.len, 0);

    /* a record larger than a segment gets a segment of its own */
    w = open_ok(&t, WAL_SYNC_ALWAYS, SMALL_SEG, NULL, &err);
    uint64_t small1 = append_rec(w, &model, 2, 0, 100);
    wal_seal(w);
    struct rec *big = recs_push(&model);
    big->lsn = small1 + 1;
    big->time_ms = 1700000000000ULL;
    big->db = 3;
    big->ncmds = 1;
    buf_init(&big->cmds);
    {
        size_t vlen = 3 * SMALL_SEG;
        char *val = malloc(vlen);
        uint64_t s = 77;
        for (size_t i = 0; i < vlen; i++) val[i] = (char)rng_next(&s); /* incompressible */
        const char *argv[3] = {"SET", "big", val};
        size_t lens[3] = {3, 3, vlen};
        wal_append_command(&big->cmds, 3, argv, lens);
        free(val);
    }
    assert_int_equal(wal_append(w, big->db, 1, big->cmds.ptr, big->cmds.len, big->time_ms),
                     big->lsn);
    uint64_t small2 = append_rec(w, &model, 2, 0, 100);
    wal_seal(w); /* the big record sits between two small ones in one batch */
    assert_true(wait_until(w, UNTIL_DURABLE, small2, 5000));
    close_wal(w);

    n = list_segs(&t, segs, 64);
    assert_int_equal(segs[n - 2], big->lsn);
    assert_int_equal(check_segment(&t, big->lsn), 1);
    assert_int_equal(segs[n - 1], small2);
    assert_int_equal(check_segment(&t, small2), 1);
    assert_true(check_segment(&t, segs[n - 3]) >= 1); /* small1 ends an older one */
    assert_int_equal(reopen_check(&t, SMALL_SEG, &model, &err), small2);
    assert_int_equal(err.len, 0);

    /* after reopening with the big segment last, later segments are sized
     * by the configuration again, not by the big one */
    char path[160];
    seg_file(&t, small2, path, sizeof(path));
    assert_int_equal(unlink(path), 0);
    w = open_ok(&t, WAL_SYNC_ALWAYS, SMALL_SEG, NULL, &err);
    assert_int_equal(wal_last_lsn(w), big->lsn);
    small2 = append_rec(w, &model, 2, 0, 100);
    buf_release(&model.v[model.n - 2].cmds); /* the old small2 is gone */
    model.v[model.n - 2] = model.v[model.n - 1];
    model.n--;
    wal_seal(w);
    assert_true(wait_until(w, UNTIL_DURABLE, small2, 5000));
    close_wal(w);
    seg_file(&t, small2, path, sizeof(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, SMALL_SEG);
    assert_int_equal(reopen_check(&t, SMALL_SEG, &model, &err), small2);

    recs_free(&model);
    buf_release(&err);
    tdir_free(&t);
}

/* ---- durability modes ---- */

/* A WAL on the counting fault I/O table (faults off), in its own directory,
 * with the records appended to it in model: the set-up and the closing check
 * of the durability-mode tests. */
struct faulted {
    struct tdir t;
    struct buf err;
    struct recs model;
    uint64_t seg;
};

static struct wal *faulted_open(struct faulted *f, int sync, uint64_t seg)
{
    tdir_new(&f->t);
    f->err = (struct buf)BUF_INIT;
    f->model = (struct recs){0};
    f->seg = seg;
    faults_reset();
    wal_set_io(&fault_io);
    return open_ok(&f->t, sync, seg, NULL, &f->err);
}

/* Closes w, reopens the directory with the real I/O and checks that it holds
 * exactly the model's records, the last one being LSN last; frees f. */
static void faulted_close_check(struct faulted *f, struct wal *w, uint64_t last)
{
    close_wal(w);
    wal_set_io(NULL);
    assert_int_equal(reopen_check(&f->t, f->seg, &f->model, &f->err), last);
    recs_free(&f->model);
    buf_release(&f->err);
    tdir_free(&f->t);
}

static void test_sync_always(void **state)
{
    (void)state;
    struct faulted f;
    struct wal *w = faulted_open(&f, WAL_SYNC_ALWAYS, WAL_DEFAULT_SEGMENT);
    for (int b = 0; b < 10; b++) {
        int pw0, sy0, pw1, sy1;
        f_counts(&pw0, &sy0);
        uint64_t last = 0;
        for (int i = 0; i <= b % 3; i++) last = append_rec(w, &f.model, 3, 0, 200);
        wal_seal(w);
        assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
        /* published after the sync of the batch: durable == written */
        assert_int_equal(wal_durable_lsn(w), last);
        assert_int_equal(wal_written_lsn(w), last);
        f_counts(&pw1, &sy1);
        assert_true(sy1 > sy0);
        assert_true(pw1 > pw0);
    }
    struct wal_stats st;
    wal_get_stats(w, &st);
    assert_true(st.syncs >= 10);
    assert_int_equal(st.durable_lsn, f.model.n);
    faulted_close_check(&f, w, f.model.n);
}

static void test_sync_no(void **state)
{
    (void)state;
    struct tdir t;
    tdir_new(&t);
    struct buf err = BUF_INIT;
    struct recs model = {0};
    faults_reset();
    wal_set_io(&fault_io);
    struct wal *w = open_ok(&t, WAL_SYNC_NO, WAL_DEFAULT_SEGMENT, NULL, &err);
    int pw0, sy0, pw1, sy1;
    f_counts(&pw0, &sy0); /* creating the first segment syncs its header */
    uint64_t last = 0;
    for (int b = 0; b < 10; b++) {
        for (int i = 0; i < 3; i++) last = append_rec(w, &model, 4, 0, 200);
        wal_seal(w);
        assert_true(wait_until(w, UNTIL_WRITTEN, last, 5000));
    }
    assert_int_equal(wal_durable_lsn(w), 0);
    close_wal(w); /* `no` does not sync at close either */
    f_counts(&pw1, &sy1);
    assert_int_equal(sy1, sy0);
    assert_true(pw1 > pw0);
    wal_set_io(NULL);
    /* the page cache still holds everything */
    assert_int_equal(reopen_check(&t, WAL_DEFAULT_SEGMENT, &model, &err), last);
    recs_free(&model);
    buf_release(&err);
    tdir_free(&t);
}

/* `always` group commit: after a sync of a group of 10 records the writer
 * waits a little for as many again, but a lone record after it is still
 * synced (the wait has a deadline), and nothing is reported durable before
 * its sync. */
static void test_sync_always_group_wait(void **state)
{
    (void)state;
    struct tdir t;
    tdir_new(&t);
    struct buf err = BUF_INIT;
    struct recs model = {0};
    struct wal *w = open_ok(&t, WAL_SYNC_ALWAYS, WAL_DEFAULT_SEGMENT, NULL, &err);
    uint64_t last = 0;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 10; i++) last = append_rec(w, &model, 6, 0, 100);
        wal_seal(w);
        assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
        last = append_rec(w, &model, 6, 0, 100); /* fewer than the last group */
        wal_seal(w);
        assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
        assert_int_equal(wal_durable_lsn(w), last);
    }
    close_wal(w);
    assert_int_equal(reopen_check(&t, WAL_DEFAULT_SEGMENT, &model, &err), last);
    recs_free(&model);
    buf_release(&err);
    tdir_free(&t);
}

/* Polls until the writer holds a group open for the loop; false after ms. */
static bool wait_holding(struct wal *w, long ms)
{
    long long deadline = util_mono_us() + ms * 1000LL;
    while (!wal_holding(w)) {
        if (util_mono_us() >= deadline) return false;
        struct timespec ts = {0, 200 * 1000};
        nanosleep(&ts, NULL); /* polling the flag, bounded above */
    }
    return true;
}

/* `always` group hold: after a group, while the loop reports turns that
 * read requests the writer holds the next group open, the batches sealed
 * meanwhile join it (one sync for all), and a turn that reads nothing
 * releases it at once; a loop that stays busy is held no longer than
 * group_hold_us, a quiet loop not at all, nor a first record (no group
 * yet); closing releases a hold and syncs what it held. */
static void test_sync_always_group_hold(void **state)
{
    (void)state;
    struct tdir t;
    tdir_new(&t);
    struct buf err = BUF_INIT;
    struct recs model = {0};
    struct wal_options o = opts(&t, WAL_SYNC_ALWAYS, WAL_DEFAULT_SEGMENT);
    o.group_hold_us = 60u * 1000 * 1000; /* far beyond every deadline below */
    struct wal *w = NULL;
    assert_int_equal(wal_open(&w, &o, collect, NULL, &err), 0);
    watch_wal(w, 0);
    wal_loop_busy(w, true);
    uint64_t last = append_rec(w, &model, 12, 0, 100); /* no group yet */
    wal_seal(w);
    assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    wal_loop_busy(w, false);
    for (int i = 0; i < 10; i++) last = append_rec(w, &model, 12, 0, 100);
    wal_seal(w);
    assert_true(wait_until(w, UNTIL_DURABLE, last, 5000)); /* quiet loop: no hold */
    for (int round = 0; round < 3; round++) {
        wal_loop_busy(w, true);
        uint64_t durable = wal_durable_lsn(w);
        for (int i = 0; i < 10; i++) last = append_rec(w, &model, 12, 0, 100);
        wal_seal(w);
        assert_true(wait_holding(w, 5000));
        struct wal_stats st0, st1;
        wal_get_stats(w, &st0);
        for (int b = 0; b < 3; b++) {
            for (int i = 0; i < 2; i++) last = append_rec(w, &model, 12, 0, 100);
            wal_seal(w);
        }
        assert_true(wal_holding(w));
        assert_int_equal(wal_durable_lsn(w), durable);
        wal_loop_busy(w, false);
        assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
        wal_get_stats(w, &st1);
        assert_int_equal(st1.syncs, st0.syncs + 1);
    }
    /* held when the WAL closes: the close ends the hold and syncs */
    wal_loop_busy(w, true);
    for (int i = 0; i < 20; i++) last = append_rec(w, &model, 12, 0, 100);
    wal_seal(w);
    assert_true(wait_holding(w, 5000));
    long long t0 = util_mono_us();
    close_wal(w);
    assert_true(util_mono_us() - t0 < 5000000);
    assert_int_equal(reopen_check(&t, WAL_DEFAULT_SEGMENT, &model, &err), last);

    /* a loop that never reports a quiet turn: the hold's time limit */
    o.group_hold_us = 20000;
    assert_int_equal(wal_open(&w, &o, collect, NULL, &err), 0);
    watch_wal(w, wal_durable_lsn(w));
    for (int round = 0; round < 3; round++) {
        wal_loop_busy(w, true);
        for (int i = 0; i < 10; i++) last = append_rec(w, &model, 12, 0, 100);
        wal_seal(w);
        assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    }
    close_wal(w);
    assert_int_equal(reopen_check(&t, WAL_DEFAULT_SEGMENT, &model, &err), last);
    recs_free(&model);
    buf_release(&err);
    tdir_free(&t);
}

/* `no` never syncs for durability, but once 8 MiB are unsynced the writer
 * syncs them in the background, so that a segment change, which syncs on
 * the event loop, finds little left to sync. */
static void test_sync_no_writeback(void **state)
{
    (void)state;
    struct faulted f;
    struct wal *w = faulted_open(&f, WAL_SYNC_NO, WAL_DEFAULT_SEGMENT);
    int pw0, sy0, pw1, sy1;
    f_counts(&pw0, &sy0);
    struct wal_stats st;
    uint64_t last = 0, at_threshold = 0;
    do {
        for (int i = 0; i < 10; i++) last = append_rec(w, &f.model, 5, 0, 65536);
        wal_seal(w);
        wal_get_stats(w, &st);
        if (!at_threshold && st.bytes >= (8u << 20)) at_threshold = last;
    } while (st.bytes < (9u << 20));
    /* a sync covering the records up to the threshold happens by itself */
    assert_true(wait_until(w, UNTIL_DURABLE, at_threshold, 5000));
    f_counts(&pw1, &sy1);
    assert_true(sy1 > sy0);
    faulted_close_check(&f, w, last);
}

/* `no`/`everysec`: with less than WAL_PREROLL_BYTES (1 MiB) left in the
 * segment the writer syncs in the background, well below the 8 MiB
 * write-back threshold, so the segment change finds little to sync. */
static void test_sync_preroll(void **state)
{
    (void)state;
    const uint64_t seg = 4u << 20;
    struct faulted f;
    struct wal *w = faulted_open(&f, WAL_SYNC_NO, seg);
    int pw0, sy0, pw1, sy1;
    f_counts(&pw0, &sy0);
    struct wal_stats st;
    uint64_t last = 0;
    /* 2 MiB (records of up to 64 KiB): more than 1 MiB left, nothing synced */
    do {
        last = append_rec(w, &f.model, 5, 0, 65536);
        wal_seal(w);
        wal_get_stats(w, &st);
    } while (st.bytes < (2u << 20));
    assert_false(wait_until(w, UNTIL_DURABLE, last, 300));
    /* past seg - 1 MiB, still in the first segment */
    do {
        last = append_rec(w, &f.model, 5, 0, 65536);
        wal_seal(w);
        wal_get_stats(w, &st);
    } while (st.bytes < seg - (1u << 20) + 65536);
    assert_int_equal(st.segments, 1);
    assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    f_counts(&pw1, &sy1);
    assert_true(sy1 > sy0);
    faulted_close_check(&f, w, last);
}

/* `always`: the batches sealed while the writer syncs go to the file in
 * one write (copied into the first), not a write each. */
static void test_always_one_write_per_list(void **state)
{
    (void)state;
    struct faulted f;
    struct wal *w = faulted_open(&f, WAL_SYNC_ALWAYS, WAL_DEFAULT_SEGMENT);
    hold_syncs(true);
    int pw0, sy0, pw1, sy1;
    f_counts(&pw0, &sy0);
    uint64_t first = append_rec(w, &f.model, 9, 0, 100);
    wal_seal(w);
    /* the writer is in the held sync once it wrote the first batch */
    assert_true(wait_until(w, UNTIL_WRITTEN, first, 5000));
    long long deadline = util_mono_us() + 5000000;
    do {
        f_counts(&pw1, &sy1);
    } while (sy1 == sy0 && util_mono_us() < deadline);
    assert_int_equal(sy1, sy0 + 1);
    uint64_t last = 0;
    for (int b = 0; b < 6; b++) {
        last = append_rec(w, &f.model, 9, 0, 100);
        wal_seal(w);
    }
    f_counts(&pw0, &sy0);
    hold_syncs(false);
    assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    f_counts(&pw1, &sy1);
    assert_int_equal(pw1 - pw0, 1);
    faulted_close_check(&f, w, last);
}

static void test_sync_everysec(void **state)
{
    (void)state;
    struct faulted f;
    struct wal *w = faulted_open(&f, WAL_SYNC_EVERYSEC, WAL_DEFAULT_SEGMENT);
    int pw0, sy0, pw1, sy1;
    f_counts(&pw0, &sy0);
    for (int round = 0; round < 2; round++) {
        long long t0 = util_mono_us();
        uint64_t last = 0;
        for (int b = 0; b < 20; b++) {
            last = append_rec(w, &f.model, 5, 0, 100);
            wal_seal(w);
        }
        assert_true(wait_until(w, UNTIL_WRITTEN, last, 5000));
        /* synced within about a second, not per batch */
        assert_true(wait_until(w, UNTIL_DURABLE, last, 3000));
        long long ms = (util_mono_us() - t0) / 1000;
        assert_true(ms <= 2000);
        f_counts(&pw1, &sy1);
        assert_true(sy1 > sy0);
        assert_true(sy1 - sy0 <= 3);
        sy0 = sy1;
    }
    /* switching to always syncs what is pending without another batch */
    uint64_t last = append_rec(w, &f.model, 5, 0, 100);
    wal_seal(w);
    assert_true(wait_until(w, UNTIL_WRITTEN, last, 5000));
    wal_set_sync(w, WAL_SYNC_ALWAYS);
    assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    faulted_close_check(&f, w, f.model.n);
}

/* ---- sticky failures ---- */

enum fault_kind { FAULT_PWRITE_EIO, FAULT_SHORT_ENOSPC, FAULT_SYNC_EIO, FAULT_FALLOC_ROLLOVER };

/*
 * Writes a few good batches, arms the fault, then keeps appending: the
 * WAL must fail with expect_err and stay failed, the durable LSN must stop
 * before the failed batch, nothing may be written or synced afterwards,
 * wal_close must return, and a reopen must find a dense prefix holding
 * every durable record.
 */
static void fault_case(enum fault_kind kind, int expect_err)
{
    struct tdir t;
    tdir_new(&t);
    struct buf err = BUF_INIT;
    struct recs model = {0};
    faults_reset();
    wal_set_io(&fault_io);
    uint64_t seg = kind == FAULT_FALLOC_ROLLOVER ? SMALL_SEG : WAL_DEFAULT_SEGMENT;
    struct wal *w = open_ok(&t, WAL_SYNC_ALWAYS, seg, NULL, &err);
    uint64_t good = 0;
    for (int b = 0; b < 3; b++) {
        good = append_rec(w, &model, 6, 0, 300);
        wal_seal(w);
    }
    assert_true(wait_until(w, UNTIL_DURABLE, good, 5000));

    int pw, sy;
    f_counts(&pw, &sy);
    pthread_mutex_lock(&F.mu);
    switch (kind) {
    case FAULT_PWRITE_EIO:
        F.pwrite_fail_at = pw + 1;
        F.pwrite_errno = EIO;
        break;
    case FAULT_SHORT_ENOSPC:
        F.short_at = pw + 1;
        F.pwrite_fail_at = pw + 2;
        F.pwrite_errno = ENOSPC;
        break;
    case FAULT_SYNC_EIO:
        F.sync_fail_at = sy + 1;
        F.sync_errno = EIO;
        break;
    case FAULT_FALLOC_ROLLOVER:
        F.falloc_fail_at = F.fallocs + 1;
        F.falloc_errno = ENOSPC;
        break;
    }
    pthread_mutex_unlock(&F.mu);

    /* batches until the fault fires (at the first one, but for rollover) */
    uint64_t durable_before = wal_durable_lsn(w);
    for (int b = 0; b < 200 && !wal_failed(w); b++) {
        uint64_t last = 0;
        for (int i = 0; i < 4; i++) last = append_rec(w, &model, 6, 0, 1000);
        wal_seal(w);
        /* each batch is either durable or failed before the next */
        wait_until(w, UNTIL_DURABLE, last, 5000);
        if (!wal_failed(w)) durable_before = last;
    }
    assert_true(wait_until(w, UNTIL_FAILED, 0, 5000));
    assert_int_equal(wal_failed(w), expect_err);
    uint64_t durable = wal_durable_lsn(w);
    if (kind == FAULT_FALLOC_ROLLOVER) {
        /* the old segment was completed and synced before the new one was
         * attempted, so the records in it may have become durable */
        assert_true(durable >= durable_before);
    } else {
        assert_int_equal(durable, durable_before);
    }
    assert_true(durable < wal_last_lsn(w));
    if (kind != FAULT_SYNC_EIO) assert_true(wal_written_lsn(w) < wal_last_lsn(w));

    /* sticky: later batches are neither written nor synced */
    int pw1, sy1, pw2, sy2;
    f_counts(&pw1, &sy1);
    for (int b = 0; b < 3; b++) {
        append_rec(w, &model, 6, 0, 300);
        wal_seal(w);
    }
    append_rec(w, &model, 6, 0, 300); /* left for wal_close to seal */
    close_wal(w);
    f_counts(&pw2, &sy2);
    assert_int_equal(pw2, pw1);
    assert_int_equal(sy2, sy1);
    wal_set_io(NULL);

    /* recovery: a dense prefix that holds everything durable */
    size_t n = reopen_check(&t, seg, &model, &err);
    assert_true(n >= durable);
    assert_true(n < model.n);
    if (kind == FAULT_PWRITE_EIO || kind == FAULT_SHORT_ENOSPC) assert_int_equal(n, durable);
    if (kind == FAULT_SHORT_ENOSPC) assert_non_null(strstr(err.ptr, "torn tail"));
    /* the failed rollover left no half-made segment behind */
    if (kind == FAULT_FALLOC_ROLLOVER) {
        uint64_t segs[16];
        size_t k = list_segs(&t, segs, 16);
        assert_int_equal(k, 1);
        assert_int_equal(n, durable);
    }
    /* a second recovery has nothing left to cut */
    reopen_check(&t, seg, &model, &err);
    assert_int_equal(err.len, 0);
    recs_free(&model);
    buf_release(&err);
    tdir_free(&t);
}

static void test_fault_pwrite_eio(void **state)
{
    (void)state;
    fault_case(FAULT_PWRITE_EIO, -EIO);
}

static void test_fault_short_write(void **state)
{
    (void)state;
    fault_case(FAULT_SHORT_ENOSPC, -ENOSPC);
}

static void test_fault_fdatasync_eio(void **state)
{
    (void)state;
    fault_case(FAULT_SYNC_EIO, -EIO);
}

static void test_fault_fallocate_enospc(void **state)
{
    (void)state;
    fault_case(FAULT_FALLOC_ROLLOVER, -ENOSPC);
}

/* Appends a record that encodes to exactly total bytes (incompressible,
 * 1100 <= total <= 9000). */
static uint64_t append_sized(struct wal *w, struct recs *model, size_t total)
{
    struct rec *x = recs_push(model);
    x->lsn = wal_last_lsn(w) + 1;
    x->time_ms = 1700000000000ULL + x->lsn;
    x->db = 1;
    x->ncmds = 1;
    buf_init(&x->cmds);
    struct buf enc = BUF_INIT;
    char *val = malloc(total);
    uint64_t s = x->lsn;
    for (size_t i = 0; i < total; i++) val[i] = (char)rng_next(&s);
    for (size_t vlen = total - 80;; vlen++) {
        x->cmds.len = 0;
        const char *argv[3] = {"SET", "k", val};
        size_t lens[3] = {3, 1, vlen};
        wal_append_command(&x->cmds, 3, argv, lens);
        enc.len = 0;
        wal_record_encode(&enc, x->lsn, x->time_ms, 1, 1, x->cmds.ptr, x->cmds.len);
        if (enc.len == total) break;
        assert_true(enc.len < total);
    }
    free(val);
    buf_release(&enc);
    assert_int_equal(wal_append(w, 1, 1, x->cmds.ptr, x->cmds.len, x->time_ms), x->lsn);
    return x->lsn;
}

/* A segment filled to within 0..4 bytes of its size is complete: the
 * few bytes left are not a torn record. */
static void test_segment_filled_to_the_byte(void **state)
{
    (void)state;
    for (size_t slack = 0; slack <= 4; slack++) {
        struct tdir t;
        struct recs model = {0};
        struct buf err = BUF_INIT;
        tdir_new(&t);
        struct wal *w = open_ok(&t, WAL_SYNC_ALWAYS, SMALL_SEG, NULL, &err);
        size_t room = SMALL_SEG - WAL_SEG_HEADER;
        for (int i = 0; i < 15; i++) append_sized(w, &model, 4000);
        uint64_t fill = append_sized(w, &model, room - 15 * 4000 - slack);
        uint64_t next = append_sized(w, &model, 2000);
        wal_seal(w);
        assert_true(wait_until(w, UNTIL_DURABLE, next, 5000));
        close_wal(w);
        uint64_t segs[4];
        assert_int_equal(list_segs(&t, segs, 4), 2);
        assert_int_equal(segs[1], fill + 1);
        assert_int_equal(reopen_check(&t, SMALL_SEG, &model, &err), next);
        assert_int_equal(err.len, 0);
        recs_free(&model);
        buf_release(&err);
        tdir_free(&t);
    }
}

/* After a failed sync in `everysec` the writer thread waits for work: it
 * neither retries the sync nor spins notifying the loop. */
static void test_fault_everysec_stays_quiet(void **state)
{
    (void)state;
    struct tdir t;
    tdir_new(&t);
    struct buf err = BUF_INIT;
    struct recs model = {0};
    faults_reset();
    wal_set_io(&fault_io);
    struct wal *w = open_ok(&t, WAL_SYNC_EVERYSEC, WAL_DEFAULT_SEGMENT, NULL, &err);
    int pw, sy;
    f_counts(&pw, &sy);
    pthread_mutex_lock(&F.mu);
    F.sync_fail_at = sy + 1;
    F.sync_errno = EIO;
    pthread_mutex_unlock(&F.mu);
    append_rec(w, &model, 9, 0, 100);
    wal_seal(w);
    assert_true(wait_until(w, UNTIL_FAILED, 0, 5000));
    assert_int_equal(wal_failed(w), -EIO);
    assert_int_equal(wal_durable_lsn(w), 0);
    /* this wait is expected to time out: it asserts that nothing happens */
    pthread_mutex_lock(&note_mu);
    unsigned long calls0 = note_calls;
    pthread_mutex_unlock(&note_mu);
    long long deadline = util_mono_us() + 1500 * 1000LL;
    unsigned long calls = calls0;
    while (util_mono_us() < deadline && calls - calls0 < 10) {
        pthread_mutex_lock(&note_mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&note_cv, &note_mu, &ts);
        calls = note_calls;
        pthread_mutex_unlock(&note_mu);
    }
    assert_true(calls - calls0 < 10);
    int pw1, sy1;
    f_counts(&pw1, &sy1);
    assert_int_equal(sy1, sy + 1); /* the failed sync, never retried */
    close_wal(w);
    f_counts(&pw1, &sy1);
    assert_int_equal(sy1, sy + 1);
    wal_set_io(NULL);
    recs_free(&model);
    buf_release(&err);
    tdir_free(&t);
}

/* A short write that the next pwrite completes is no failure. */
static void test_short_write_completed(void **state)
{
    (void)state;
    struct tdir t;
    tdir_new(&t);
    struct buf err = BUF_INIT;
    struct recs model = {0};
    faults_reset();
    wal_set_io(&fault_io);
    struct wal *w = open_ok(&t, WAL_SYNC_ALWAYS, WAL_DEFAULT_SEGMENT, NULL, &err);
    int pw, sy;
    f_counts(&pw, &sy);
    pthread_mutex_lock(&F.mu);
    F.short_at = pw + 1;
    pthread_mutex_unlock(&F.mu);
    uint64_t last = 0;
    for (int i = 0; i < 5; i++) last = append_rec(w, &model, 7, 0, 500);
    wal_seal(w);
    assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    assert_int_equal(wal_failed(w), 0);
    close_wal(w);
    wal_set_io(NULL);
    assert_int_equal(reopen_check(&t, WAL_DEFAULT_SEGMENT, &model, &err), last);
    assert_int_equal(err.len, 0);
    recs_free(&model);
    buf_release(&err);
    tdir_free(&t);
}

/* ---- crash simulation ---- */

/*
 * An I/O table that passes every call through and also keeps, per file,
 * the image the disk is known to hold (what the last fdatasync covered)
 * plus the operations since. At the crash_at-th fdatasync the "power
 * fails": the image of each file becomes its synced bytes plus a random
 * part of its later operations (a prefix of them, possibly tearing the
 * last, or an arbitrary subset of 512-byte pieces), written to out_dir.
 * From then on every call fails with EIO, as on a dead machine.
 */
struct sim_op {
    off_t off;
    size_t len;
    uint8_t *data; /* NULL: a preallocation */
};

struct sim_file {
    char name[32];
    int fd; /* -1 once closed */
    uint8_t *img;
    size_t size; /* synced image */
    struct sim_op *ops;
    size_t nops, cap;
};

static struct {
    pthread_mutex_t mu;
    struct sim_file files[64];
    int nfiles;
    int syncs, crash_at;
    bool crashed;
    uint64_t rng;
    char out_dir[128];
} S = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct sim_file *sim_find(int fd)
{
    for (int i = 0; i < S.nfiles; i++)
        if (S.files[i].fd == fd) return &S.files[i];
    return NULL;
}

/* The entry of the file now called path ("" names a retired entry). */
static struct sim_file *sim_named(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (int i = S.nfiles - 1; i >= 0; i--)
        if (S.files[i].name[0] && strcmp(S.files[i].name, base) == 0) return &S.files[i];
    return NULL;
}

static void sim_put(uint8_t **img, size_t *size, off_t off, const uint8_t *p, size_t len)
{
    size_t end = (size_t)off + len;
    if (end > *size) {
        *img = realloc(*img, end);
        memset(*img + *size, 0, end - *size);
        *size = end;
    }
    if (p) memcpy(*img + off, p, len);
}

static void sim_add_op(struct sim_file *f, off_t off, const void *p, size_t len)
{
    if (f->nops == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->ops = realloc(f->ops, f->cap * sizeof(*f->ops));
    }
    struct sim_op *o = &f->ops[f->nops++];
    o->off = off;
    o->len = len;
    o->data = NULL;
    if (p) {
        o->data = malloc(len ? len : 1);
        memcpy(o->data, p, len);
    }
}

static void sim_drop_ops(struct sim_file *f)
{
    for (size_t i = 0; i < f->nops; i++) free(f->ops[i].data);
    f->nops = 0;
}

/* The power cut: writes every file's surviving image to out_dir. */
static void sim_crash(void)
{
    bool prefix = rng_next(&S.rng) % 2;
    for (int i = 0; i < S.nfiles; i++) {
        struct sim_file *f = &S.files[i];
        if (!f->name[0]) continue; /* reopened under a later entry */
        uint8_t *img = NULL;
        size_t size = 0;
        sim_put(&img, &size, 0, f->img, f->size);
        size_t keep = prefix ? (size_t)(rng_next(&S.rng) % (f->nops + 1)) : f->nops;
        for (size_t k = 0; k < f->nops && k <= keep; k++) {
            struct sim_op *o = &f->ops[k];
            if (prefix) {
                if (k < keep)
                    sim_put(&img, &size, o->off, o->data, o->len);
                else if (o->len && rng_next(&S.rng) % 2) /* the last one torn */
                    sim_put(&img, &size, o->off, o->data, (size_t)(rng_next(&S.rng) % o->len));
                continue;
            }
            if (!o->data) {
                if (rng_next(&S.rng) % 2) sim_put(&img, &size, o->off, NULL, o->len);
                continue;
            }
            /* any subset of the sectors the write touched */
            for (size_t a = 0; a < o->len;) {
                size_t b = (((size_t)o->off + a) / 512 + 1) * 512 - (size_t)o->off;
                if (b > o->len) b = o->len;
                if (rng_next(&S.rng) % 2)
                    sim_put(&img, &size, o->off + (off_t)a, o->data + a, b - a);
                a = b;
            }
        }
        char path[200];
        snprintf(path, sizeof(path), "%s/%s", S.out_dir, f->name);
        write_file(path, img ? img : (uint8_t *)"", size);
        free(img);
    }
}

static void sim_reset(uint64_t seed, int crash_at, const char *out_dir)
{
    pthread_mutex_lock(&S.mu);
    for (int i = 0; i < S.nfiles; i++) {
        sim_drop_ops(&S.files[i]);
        free(S.files[i].ops);
        free(S.files[i].img);
    }
    memset(S.files, 0, sizeof(S.files));
    S.nfiles = 0;
    S.syncs = 0;
    S.crash_at = crash_at;
    S.crashed = false;
    S.rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    snprintf(S.out_dir, sizeof(S.out_dir), "%s", out_dir);
    pthread_mutex_unlock(&S.mu);
}

static int s_open(const char *p, int flags, mode_t mode)
{
    pthread_mutex_lock(&S.mu);
    int fd = -1;
    if (S.crashed) {
        errno = EIO;
    } else if ((fd = open(p, flags, mode)) >= 0) {
        assert_true(S.nfiles < 64);
        /* a file opened again (a spare) keeps its image and pending writes */
        struct sim_file *old = sim_named(p);
        struct sim_file *f = &S.files[S.nfiles++];
        if (old) {
            *f = *old;
            memset(old, 0, sizeof(*old));
            old->fd = -1;
        }
        const char *base = strrchr(p, '/');
        snprintf(f->name, sizeof(f->name), "%s", base ? base + 1 : p);
        f->fd = fd;
    }
    pthread_mutex_unlock(&S.mu);
    return fd;
}

static ssize_t s_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    pthread_mutex_lock(&S.mu);
    ssize_t k = -1;
    struct sim_file *f = sim_find(fd);
    if (S.crashed || !f) {
        errno = EIO;
    } else if ((k = pwrite(fd, buf, n, off)) > 0) {
        sim_add_op(f, off, buf, (size_t)k);
    }
    pthread_mutex_unlock(&S.mu);
    return k;
}

static int s_fdatasync(int fd)
{
    pthread_mutex_lock(&S.mu);
    int rc = 0;
    struct sim_file *f = sim_find(fd);
    if (S.crashed || !f) {
        rc = -1;
    } else if (++S.syncs == S.crash_at) {
        sim_crash();
        S.crashed = true;
        rc = -1;
    } else {
        for (size_t i = 0; i < f->nops; i++)
            sim_put(&f->img, &f->size, f->ops[i].off, f->ops[i].data, f->ops[i].len);
        sim_drop_ops(f);
    }
    pthread_mutex_unlock(&S.mu);
    if (rc) errno = EIO;
    return rc;
}

static int s_ftruncate(int fd, off_t len)
{
    (void)fd;
    (void)len;
    errno = ENOSYS; /* the WAL never shrinks a file */
    return -1;
}

static int s_fallocate(int fd, off_t off, off_t len)
{
    pthread_mutex_lock(&S.mu);
    int rc = -1;
    struct sim_file *f = sim_find(fd);
    if (S.crashed || !f) {
        errno = EIO;
    } else if ((rc = posix_fallocate(fd, off, len)) != 0) {
        errno = rc;
        rc = -1;
    } else {
        sim_add_op(f, off, NULL, (size_t)len);
    }
    pthread_mutex_unlock(&S.mu);
    return rc;
}

static int s_close(int fd)
{
    pthread_mutex_lock(&S.mu);
    struct sim_file *f = sim_find(fd);
    if (f) f->fd = -1;
    pthread_mutex_unlock(&S.mu);
    return close(fd);
}

/* A rename takes effect at once in the image (the WAL syncs the directory
 * right after each). */
static int s_rename(const char *from, const char *to)
{
    pthread_mutex_lock(&S.mu);
    int rc = -1;
    if (S.crashed) {
        errno = EIO;
    } else if ((rc = rename(from, to)) == 0) {
        struct sim_file *f = sim_named(from);
        const char *base = strrchr(to, '/');
        if (f) snprintf(f->name, sizeof(f->name), "%s", base ? base + 1 : to);
    }
    pthread_mutex_unlock(&S.mu);
    return rc;
}

static const struct wal_io sim_io = {s_open,      s_pwrite, s_fdatasync, s_ftruncate,
                                     s_fallocate, s_close,  s_rename};

/*
 * One power cut: append batches (group commit included) until the crash,
 * recover the surviving image, and check that recovery replays exactly a
 * prefix of what was appended, holding every record that was durable,
 * that it cut the torn tail for good, and that the log then goes on.
 */
struct crash_tally {
    int crashed;    /* trials where the power failed while the WAL ran */
    int torn;       /* recoveries that cut a torn tail */
    int unfinished; /* recoveries that removed an unfinished segment */
    int lost;       /* trials where appended records did not survive */
};

/* After a trial's appends: counts a power cut that came while the WAL ran,
 * else cuts the power now (after a clean close); back to real I/O. */
static void power_cut(struct crash_tally *tally)
{
    pthread_mutex_lock(&S.mu);
    tally->crashed += S.crashed;
    if (!S.crashed) sim_crash();
    S.crashed = true;
    pthread_mutex_unlock(&S.mu);
    wal_set_io(NULL);
}

static void crash_trial(uint64_t seed, struct crash_tally *tally)
{
    struct tdir live, img;
    tdir_new(&live);
    tdir_new(&img);
    assert_int_equal(mkdir(img.wal, 0755), 0);
    uint64_t rng = seed;
    /* every eighth trial fails while wal_open creates the first segment */
    int crash_at = seed % 8 == 0 ? 1 : 1 + (int)(rng_next(&rng) % 70);
    sim_reset(seed, crash_at, img.wal);
    struct buf err = BUF_INIT;
    struct recs model = {0};
    uint64_t salt = seed;

    wal_set_io(&sim_io);
    struct wal_options o = opts(&live, WAL_SYNC_ALWAYS, SMALL_SEG);
    struct wal *w = NULL;
    uint64_t durable = 0;
    if (wal_open(&w, &o, collect, NULL, &err) == 0) {
        watch_wal(w, 0);
        for (int b = 0; b < 60 && !wal_failed(w); b++) {
            int k = 1 + (int)(rng_next(&rng) % 6);
            uint64_t last = 0;
            for (int i = 0; i < k; i++) last = append_rec(w, &model, salt, 0, 2500);
            wal_seal(w);
            if (rng_next(&rng) % 3 == 0) wait_until(w, UNTIL_DURABLE, last, 5000);
        }
        close_wal(w);
        /* every publication of the durable LSN is followed by a notify,
         * and none happens after the crash */
        durable = noted_durable();
    }
    power_cut(tally);

    /* recovery from the image */
    struct recs got = {0};
    w = open_ok(&img, WAL_SYNC_ALWAYS, SMALL_SEG, &got, &err);
    size_t n = got.n;
    if (n < durable || n > model.n)
        fail_msg("seed %llu: recovered %zu records, durable %llu, appended %zu",
                 (unsigned long long)seed, n, (unsigned long long)durable, model.n);
    assert_prefix(&got, &model, n);
    assert_int_equal(wal_last_lsn(w), n);
    close_wal(w);
    tally->torn += err.len && strstr(err.ptr, "torn tail") != NULL;
    tally->unfinished += err.len && strstr(err.ptr, "unfinished") != NULL;
    tally->lost += n < model.n;

    /* recovery again: the tail was cut for good */
    assert_int_equal(reopen_check(&img, SMALL_SEG, &model, &err), n);
    if (err.len) fail_msg("seed %llu: second recovery said: %s", (unsigned long long)seed, err.ptr);

    /* the log goes on from there; the new records have the same lengths as
     * the lost ones, so they land exactly over any stale bytes */
    recs_truncate(&model, n);
    w = open_ok(&img, WAL_SYNC_ALWAYS, SMALL_SEG, NULL, &err);
    uint64_t last = append_batches(w, &model, 6, 3, salt, 1, 2500);
    assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    close_wal(w);
    assert_int_equal(reopen_check(&img, SMALL_SEG, &model, &err), n + 18);
    if (err.len) fail_msg("seed %llu: third recovery said: %s", (unsigned long long)seed, err.ptr);

    recs_free(&got);
    recs_free(&model);
    buf_release(&err);
    tdir_free(&live);
    tdir_free(&img);
}

/*
 * The same power cut with segments reused: every few batches the records
 * made durable are trimmed as a checkpoint would (all trimmed segments
 * become spares), so later segments are spares whose earlier bytes follow
 * the log. Recovery from the image, with the trim's LSN as the checkpoint,
 * must replay exactly the records above it up to a point at or past the
 * durable LSN; *reused counts the crashes that hit a reused segment.
 */
static void crash_trial_spares(uint64_t seed, struct crash_tally *tally, int *reused)
{
    struct tdir live, img;
    tdir_new(&live);
    tdir_new(&img);
    assert_int_equal(mkdir(img.wal, 0755), 0);
    uint64_t rng = seed;
    sim_reset(seed, 20 + (int)(rng_next(&rng) % 60), img.wal);
    struct buf err = BUF_INIT;
    struct recs model = {0};
    wal_set_io(&sim_io);
    struct wal_options o = opts(&live, WAL_SYNC_ALWAYS, SMALL_SEG);
    o.spare_segments = 64;
    struct wal *w = NULL;
    uint64_t durable = 0, base = 0;
    assert_int_equal(wal_open(&w, &o, collect, NULL, &err), 0);
    watch_wal(w, 0);
    for (int b = 0; b < 200 && !wal_failed(w); b++) {
        int k = 1 + (int)(rng_next(&rng) % 6);
        uint64_t last = 0;
        for (int i = 0; i < k; i++) last = append_rec(w, &model, seed, 0, 2500);
        wal_seal(w);
        if (b % 12 == 11 && wait_until(w, UNTIL_DURABLE, last, 5000)) {
            /* the writer is idle: no sync (no power cut) during the trim */
            pthread_mutex_lock(&S.mu);
            bool dead = S.crashed;
            pthread_mutex_unlock(&S.mu);
            if (!dead && wal_trim(w, last, NULL) >= 0) base = last;
        }
    }
    close_wal(w);
    durable = noted_durable();
    power_cut(tally);

    /* the image's last segment: was it a reused one? */
    uint64_t segs[256];
    size_t nsegs = list_segs(&img, segs, 256);
    if (nsegs) {
        char path[256];
        seg_file(&img, segs[nsegs - 1], path, sizeof(path));
        size_t len;
        uint8_t *p = read_file(path, &len);
        *reused += len >= WAL_SEG_HEADER && (le_get32(p + 32) & WAL_SEG_REUSED);
        free(p);
    }

    struct recs got = {0};
    o = opts(&img, WAL_SYNC_ALWAYS, SMALL_SEG);
    o.spare_segments = 64;
    o.base_lsn = base;
    err.len = 0;
    int rc = wal_open(&w, &o, collect, &got, &err);
    if (rc) fail_msg("seed %llu: recovery: %s", (unsigned long long)seed, err.ptr);
    uint64_t end = base + got.n;
    if (end < durable || end > model.n)
        fail_msg("seed %llu: recovered up to %llu, durable %llu, appended %zu",
                 (unsigned long long)seed, (unsigned long long)end, (unsigned long long)durable,
                 model.n);
    assert_replayed_above(&got, &model, base, end);
    assert_int_equal(wal_last_lsn(w), end);
    tally->torn += err.len && strstr(err.ptr, "torn tail") != NULL;
    tally->lost += end < model.n;
    recs_free(&got);
    /* the log goes on; a second recovery finds nothing to cut */
    recs_truncate(&model, end);
    uint64_t last = 0;
    for (int i = 0; i < 12; i++) last = append_rec(w, &model, seed, 1, 2500);
    wal_seal(w);
    assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    wal_close(w);
    memset(&got, 0, sizeof(got));
    err.len = 0;
    assert_int_equal(wal_open(&w, &o, collect, &got, &err), 0);
    if (err.len) fail_msg("seed %llu: second recovery said: %s", (unsigned long long)seed, err.ptr);
    assert_replayed_above(&got, &model, base, last);
    wal_close(w);
    recs_free(&got);
    recs_free(&model);
    buf_release(&err);
    tdir_free(&live);
    tdir_free(&img);
}

static void test_crash_simulation_spares(void **state)
{
    (void)state;
    struct crash_tally tally = {0};
    int reused = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) crash_trial_spares(seed, &tally, &reused);
    print_message("crash trials with spares: %d crashed, %d in a reused segment, %d lost "
                  "records, %d torn tails\n",
                  tally.crashed, reused, tally.lost, tally.torn);
    assert_true(tally.crashed >= 20);
    assert_true(reused >= 10);
    assert_true(tally.torn >= 5);
    sim_reset(0, 0, "");
}

static void test_crash_simulation(void **state)
{
    (void)state;
    struct crash_tally tally = {0};
    for (uint64_t seed = 1; seed <= 40; seed++) crash_trial(seed, &tally);
    print_message("crash trials: %d crashed, %d lost records, %d torn tails, %d unfinished "
                  "segments\n",
                  tally.crashed, tally.lost, tally.torn, tally.unfinished);
    /* the seeds reach the interesting cases */
    assert_true(tally.crashed >= 20);
    assert_true(tally.torn >= 5);
    assert_true(tally.unfinished >= 1);
    sim_reset(0, 0, "");
}

/* ---- damaged segments ---- */

/* A WAL of several small segments; returns the sorted first LSNs. */
static size_t make_segments(const struct tdir *t, struct recs *model, uint64_t *segs, size_t cap)
{
    struct buf err = BUF_INIT;
    struct wal *w = open_ok(t, WAL_SYNC_ALWAYS, SMALL_SEG, NULL, &err);
    uint64_t last = append_batches(w, model, 30, 8, 8, 0, 1500);
    assert_true(wait_until(w, UNTIL_DURABLE, last, 5000));
    close_wal(w);
    buf_release(&err);
    size_t n = list_segs(t, segs, cap);
    assert_true(n >= 3);
    return n;
}

static int open_fails(const struct tdir *t, struct buf *err)
{
    struct wal_options o = opts(t, WAL_SYNC_ALWAYS, SMALL_SEG);
    struct wal *w = NULL;
    err->len = 0;
    int rc = wal_open(&w, &o, NULL, NULL, err);
    if (rc == 0) {
        wal_close(w);
        fail_msg("wal_open succeeded on a damaged WAL");
    }
    assert_null(w);
    assert_true(err->len > 0);
    return rc;
}

static void header_set_version(const char *path, uint32_t v)
{
    size_t len;
    uint8_t *p = read_file(path, &len);
    for (int i = 0; i < 4; i++) p[8 + i] = (uint8_t)(v >> (8 * i));
    uint32_t c = crc32c(0, p, 60);
    for (int i = 0; i < 4; i++) p[60 + i] = (uint8_t)(c >> (8 * i));
    patch_file(path, 0, p, WAL_SEG_HEADER);
    free(p);
}

/* Reads records until the end; returns the walk's status. */
static const struct wal_reader_status *read_to_end(struct wal_reader *r)
{
    struct wal_record rec;
    while (wal_reader_next(r, &rec) == 1) {
    }
    return wal_reader_status(r);
}

/* A reader walking while the server trims: the segment it is reading
 * renamed to a spare and rewritten, or one it has not opened yet removed,
 * ends the walk with a reason that says so; real damage does not. */
static void test_reader_segment_trimmed_meanwhile(void **state)
{
    (void)state;
    struct tdir t;
    struct recs model = {0};
    tdir_new(&t);
    uint64_t segs[64];
    size_t n = make_segments(&t, &model, segs, 64);
    struct buf err = BUF_INIT;
    char path[256], spare[300];
    uint8_t junk[4096];
    memset(junk, 0x5a, sizeof(junk));
    struct wal_reader *r = NULL;
    struct wal_record rec;

    /* damage, nobody trimming: the usual reason */
    seg_file(&t, segs[n - 2], path, sizeof(path));
    size_t len;
    uint8_t *keep = read_file(path, &len);
    patch_file(path, WAL_SEG_HEADER + 40, junk, 1);
    assert_int_equal(wal_reader_open(&r, t.wal, &err), 0);
    const struct wal_reader_status *st = read_to_end(r);
    assert_int_equal(st->end, WAL_END_CORRUPT);
    assert_null(strstr(st->why, "trimmed"));
    wal_reader_close(r);
    write_file(path, keep, len);
    free(keep);

    /* the segment being read becomes a spare and is rewritten */
    assert_int_equal(wal_reader_open(&r, t.wal, &err), 0);
    assert_int_equal(wal_reader_next(r, &rec), 1);
    seg_file(&t, segs[0], path, sizeof(path));
    snprintf(spare, sizeof(spare), "%s/%016llx.spare", t.wal, (unsigned long long)segs[0]);
    assert_int_equal(rename(path, spare), 0);
    patch_file(spare, WAL_SEG_HEADER, junk, sizeof(junk));
    st = read_to_end(r);
    assert_int_equal(st->end, WAL_END_CORRUPT);
    assert_non_null(strstr(st->why, "trimmed this segment while it was being read"));
    wal_reader_close(r);

    /* a later segment removed before the walk reaches it */
    assert_int_equal(wal_reader_open(&r, t.wal, &err), 0);
    wal_reader_set_base(r, segs[1] - 1);
    assert_int_equal(wal_reader_next(r, &rec), 1);
    seg_file(&t, segs[2], path, sizeof(path));
    assert_int_equal(unlink(path), 0);
    st = read_to_end(r);
    assert_int_equal(st->end, WAL_END_CORRUPT);
    assert_non_null(strstr(st->why, "trimmed this segment"));
    wal_reader_close(r);
    recs_free(&model);
    buf_release(&err);
    tdir_free(&t);
}

static void test_corrupt_segments(void **state)
{
    (void)state;
    struct buf err = BUF_INIT;
    uint64_t segs[64];
    char path[160];

    /* a flipped byte in a record of the first segment */
    {
        struct tdir t;
        struct recs model = {0};
        tdir_new(&t);
        make_segments(&t, &model, segs, 64);
        seg_file(&t, segs[0], path, sizeof(path));
        uint8_t x = 0x5a;
        patch_file(path, WAL_SEG_HEADER + 40, &x, 1);
        assert_int_equal(open_fails(&t, &err), LODE_ECORRUPT);
        assert_non_null(strstr(err.ptr, "0000000000000001.log"));
        recs_free(&model);
        tdir_free(&t);
    }
    /* a damaged header in a middle segment */
    {
        struct tdir t;
        struct recs model = {0};
        tdir_new(&t);
        make_segments(&t, &model, segs, 64);
        seg_file(&t, segs[1], path, sizeof(path));
        uint8_t x = 0xff;
        patch_file(path, 20, &x, 1);
        assert_int_equal(open_fails(&t, &err), LODE_ECORRUPT);
        assert_non_null(strstr(err.ptr, strrchr(path, '/') + 1));
        recs_free(&model);
        tdir_free(&t);
    }
    /* an unknown version, in the first and in the last segment */
    for (int which = 0; which < 2; which++) {
        struct tdir t;
        struct recs model = {0};
        tdir_new(&t);
        size_t n = make_segments(&t, &model, segs, 64);
        seg_file(&t, segs[which ? n - 1 : 0], path, sizeof(path));
        header_set_version(path, 2);
        assert_int_equal(open_fails(&t, &err), LODE_EVERSION);
        assert_non_null(strstr(err.ptr, strrchr(path, '/') + 1));
        recs_free(&model);
        tdir_free(&t);
    }
    /* a missing middle segment: a gap in the first-LSN sequence */
    {
        struct tdir t;
        struct recs model = {0};
        tdir_new(&t);
        make_segments(&t, &model, segs, 64);
        seg_file(&t, segs[1], path, sizeof(path));
        assert_int_equal(unlink(path), 0);
        assert_int_equal(open_fails(&t, &err), LODE_ECORRUPT);
        seg_file(&t, segs[2], path, sizeof(path));
        assert_non_null(strstr(err.ptr, strrchr(path, '/') + 1));
        recs_free(&model);
        tdir_free(&t);
    }
    /* a segment whose name disagrees with its header */
    {
        struct tdir t;
        struct recs model = {0};
        tdir_new(&t);
        size_t n = make_segments(&t, &model, segs, 64);
        char to[160];
        seg_file(&t, segs[n - 1], path, sizeof(path));
        seg_file(&t, segs[n - 1] + 1000, to, sizeof(to));
        assert_int_equal(rename(path, to), 0);
        assert_int_equal(open_fails(&t, &err), LODE_ECORRUPT);
        recs_free(&model);
        tdir_free(&t);
    }
    buf_release(&err);
}

/* Offsets of the records in a segment file (up to cap); returns the count. */
static size_t record_offsets(const char *path, size_t *offs, size_t cap)
{
    size_t len, off = WAL_SEG_HEADER, n = 0;
    uint8_t *p = read_file(path, &len);
    struct buf scratch = BUF_INIT;
    for (;;) {
        struct wal_record r;
        size_t used;
        const char *why = NULL;
        if (wal_record_decode(p + off, len - off, &r, &used, &scratch, &why) != WAL_DEC_OK) break;
        assert_true(n < cap);
        offs[n++] = off;
        off += used;
    }
    offs[n] = off;
    buf_release(&scratch);
    free(p);
    return n;
}

/* Damage in the last segment's tail is a torn write: cut, not refused. */
static void test_torn_tail_last_segment(void **state)
{
    (void)state;
    struct tdir t;
    struct recs model = {0};
    struct buf err = BUF_INIT;
    tdir_new(&t);
    uint64_t segs[64];
    size_t n = make_segments(&t, &model, segs, 64);
    char path[160];
    seg_file(&t, segs[n - 1], path, sizeof(path));
    size_t offs[256];
    size_t k = record_offsets(path, offs, 255);
    assert_true(k >= 2);
    uint8_t x = 0xa5;
    patch_file(path, (off_t)offs[k - 1] + 36, &x, 1); /* the last record's payload */
    size_t total = model.n;
    assert_int_equal(reopen_check(&t, SMALL_SEG, &model, &err), total - 1);
    assert_non_null(strstr(err.ptr, "torn tail"));
    assert_int_equal(reopen_check(&t, SMALL_SEG, &model, &err), total - 1);
    assert_int_equal(err.len, 0);
    recs_free(&model);
    buf_release(&err);
    tdir_free(&t);
}

/*
 * A hole in the last segment: a record never reached the disk but a later
 * one did (pages written out of order). Recovery stops at the hole and
 * must also clear what follows it, or records appended later over the
 * hole would be followed by stale ones that replay as if acknowledged.
 */
static void test_hole_in_last_segment(void **state)
{
    (void)state;
    struct tdir t;
    struct recs model = {0};
    struct buf err = BUF_INIT;
    tdir_new(&t);
    uint64_t segs[64];
    size_t n = make_segments(&t, &model, segs, 64);
    char path[160];
    seg_file(&t, segs[n - 1], path, sizeof(path));
    size_t offs[256];
    size_t k = record_offsets(path, offs, 255);
    assert_true(k >= 3);
    /* zero the third-last record */
    size_t hole = offs[k - 3], hole_len = offs[k - 2] - offs[k - 3];
    uint8_t *zeros = calloc(1, hole_len);
    patch_file(path, (off_t)hole, zeros, hole_len);
    free(zeros);
    size_t kept = model.n - 3;
    assert_int_equal(reopen_check(&t, SMALL_SEG, &model, &err), kept);
    assert_non_null(strstr(err.ptr, "torn tail"));
    assert_int_equal(reopen_check(&t, SMALL_SEG, &model, &err), kept);
    assert_int_equal(err.len, 0);
    /* one record of the same length over the hole, then a reopen */
    recs_truncate(&model, kept);
    struct wal *w = open_ok(&t, WAL_SYNC_ALWAYS, SMALL_SEG, NULL, &err);
    uint64_t lsn = append_rec(w, &model, 8, 1, 1500);
    close_wal(w);
    assert_int_equal(reopen_check(&t, SMALL_SEG, &model, &err), lsn);
    assert_int_equal(err.len, 0);
    recs_free(&model);
    buf_release(&err);
    tdir_free(&t);
}

/*
 * A last segment whose creation never completed (its header did not reach
 * the disk, so no record can have been written in it) is removed; one
 * with records but no valid header is corruption.
 */
static void test_unfinished_last_segment(void **state)
{
    (void)state;
    struct tdir t;
    struct recs model = {0};
    struct buf err = BUF_INIT;
    tdir_new(&t);
    uint64_t segs[64];
    size_t n = make_segments(&t, &model, segs, 64);
    char path[160];
    seg_file(&t, model.n + 1, path, sizeof(path));
    /* empty, then preallocated zeros, then a torn header */
    for (int form = 0; form < 3; form++) {
        uint8_t *img = calloc(1, SMALL_SEG);
        size_t len = form == 0 ? 0 : SMALL_SEG;
        if (form == 2) memcpy(img, "LODEWAL\0\1\0\0\0", 12);
        write_file(path, img, len);
        free(img);
        assert_int_equal(reopen_check(&t, SMALL_SEG, &model, &err), model.n);
        assert_true(access(path, F_OK) != 0);
        uint64_t now[64];
        assert_int_equal(list_segs(&t, now, 64), n);
        assert_int_equal(reopen_check(&t, SMALL_SEG, &model, &err), model.n);
        assert_int_equal(err.len, 0);
    }
    /* no header, but something after it: refuse */
    {
        uint8_t *img = calloc(1, SMALL_SEG);
        img[WAL_SEG_HEADER] = 40;
        write_file(path, img, SMALL_SEG);
        free(img);
        assert_int_equal(open_fails(&t, &err), LODE_ECORRUPT);
        assert_non_null(strstr(err.ptr, strrchr(path, '/') + 1));
    }
    recs_free(&model);
    buf_release(&err);
    tdir_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_segment_rollover),
        cmocka_unit_test(test_trim),
        cmocka_unit_test(test_spare_segments),
        cmocka_unit_test(test_prefill),
        cmocka_unit_test(test_segment_filled_to_the_byte),
        cmocka_unit_test(test_sync_always),
        cmocka_unit_test(test_sync_no),
        cmocka_unit_test(test_sync_no_writeback),
        cmocka_unit_test(test_sync_preroll),
        cmocka_unit_test(test_always_one_write_per_list),
        cmocka_unit_test(test_sync_always_group_wait),
        cmocka_unit_test(test_sync_always_group_hold),
        cmocka_unit_test(test_sync_everysec),
        cmocka_unit_test(test_fault_pwrite_eio),
        cmocka_unit_test(test_fault_short_write),
        cmocka_unit_test(test_fault_fdatasync_eio),
        cmocka_unit_test(test_fault_fallocate_enospc),
        cmocka_unit_test(test_fault_everysec_stays_quiet),
        cmocka_unit_test(test_short_write_completed),
        cmocka_unit_test(test_crash_simulation),
        cmocka_unit_test(test_crash_simulation_spares),
        cmocka_unit_test(test_reader_segment_trimmed_meanwhile),
        cmocka_unit_test(test_corrupt_segments),
        cmocka_unit_test(test_torn_tail_last_segment),
        cmocka_unit_test(test_hole_in_last_segment),
        cmocka_unit_test(test_unfinished_last_segment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
