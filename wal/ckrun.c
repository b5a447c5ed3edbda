/*
 * ckrun.c - sorted runs for the checkpoint writer (see ckrun.h).
 *
 * A record, in memory and in the sort file: op (1 byte), db (4 bytes),
 * length (4 bytes), then the payload, in this process's byte order (the
 * file is unlinked: it never outlives the process).
 */
#include "wal/ckrun.h"
#include "engine/lode.h"
#include "engine/serialize.h"
#include "wal/ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REC_HEAD 9
/* what a run's reader reads at a time while draining */
#define READ_CHUNK ((size_t)64 << 10)
/* what a run is written in */
#define WRITE_CHUNK ((size_t)256 << 10)

/* A record of the run in memory, for sorting. */
struct rec_ix {
    uint8_t head[CKPT_KEY_HEAD];
    uint32_t db;
    uint32_t klen;
    size_t koff; /* the key, in mem */
    size_t off;  /* the record, in mem: also the order records came in */
};

struct span {
    uint64_t start, end;
};

struct ckrun {
    char *dir;
    size_t run_bytes;
    struct buf mem; /* the run being gathered */
    struct rec_ix *ix;
    size_t nix, cap;
    uint64_t count;
    int fd; /* the sort file; -1 until the first run is written */
    uint64_t fsize;
    struct span *runs;
    size_t nruns, runs_cap;
};

struct ckrun *ckrun_new(const char *dir, size_t run_bytes)
{
    struct ckrun *r = lode_calloc(sizeof(*r));
    r->dir = lode_strdup(dir);
    r->run_bytes = run_bytes ? run_bytes : 1;
    r->fd = -1;
    return r;
}

void ckrun_free(struct ckrun *r)
{
    if (!r) return;
    if (r->fd >= 0) close(r->fd);
    buf_release(&r->mem);
    lode_free(r->ix);
    lode_free(r->runs);
    lode_free(r->dir);
    lode_free(r);
}

uint64_t ckrun_count(const struct ckrun *r)
{
    return r->count;
}

uint64_t ckrun_spilled(const struct ckrun *r)
{
    return r->fsize;
}

/* The key of a record's payload. */
static int payload_key(int op, const char *p, size_t n, const char **key, size_t *klen)
{
    if (op == CKRUN_DEL) {
        *key = p;
        *klen = n;
        return 0;
    }
    return serialize_peek_key(p, n, key, klen) == 0 ? 0 : LODE_ECORRUPT;
}

/* The store's order of two keys, db first. */
static int key_order(uint32_t adb, const uint8_t *ahead, const char *a, size_t alen, uint32_t bdb,
                     const uint8_t *bhead, const char *b, size_t blen)
{
    if (adb != bdb) return adb < bdb ? -1 : 1;
    int c = memcmp(ahead, bhead, CKPT_KEY_HEAD);
    return c ? c : ckpt_key_cmp(a, alen, b, blen);
}

static int ix_cmp(const void *pa, const void *pb, void *base)
{
    const struct rec_ix *a = pa, *b = pb;
    const char *m = base;
    int c = key_order(a->db, a->head, m + a->koff, a->klen, b->db, b->head, m + b->koff, b->klen);
    if (c) return c;
    return a->off < b->off ? -1 : a->off > b->off; /* the later record last */
}

static void sort_mem(struct ckrun *r)
{
    if (r->nix > 1) qsort_r(r->ix, r->nix, sizeof(*r->ix), ix_cmp, r->mem.ptr);
}

static int write_all(int fd, const char *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t k = pwrite(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -errno;
        if (k == 0) return -EIO;
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

static int open_sort_file(struct ckrun *r)
{
    if (r->fd >= 0) return 0;
    r->fd = open(r->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (r->fd >= 0) return 0;
    /* a file system without O_TMPFILE: a named file, unlinked at once */
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/sort.XXXXXX", r->dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    r->fd = mkostemp(path, O_CLOEXEC);
    if (r->fd < 0) return -errno;
    unlink(path);
    return 0;
}

/* Writes the run in memory, sorted, to the end of the sort file. On
 * failure the run stays in memory (sorted) and the file as it was. */
static int write_run(struct ckrun *r)
{
    int rc = open_sort_file(r);
    if (rc) return rc;
    sort_mem(r);
    struct buf out = BUF_INIT;
    uint64_t at = r->fsize;
    for (size_t i = 0; i < r->nix && rc == 0; i++) {
        const char *rec = r->mem.ptr + r->ix[i].off;
        uint32_t len;
        memcpy(&len, rec + 5, 4);
        buf_append(&out, rec, REC_HEAD + len);
        if (out.len >= WRITE_CHUNK || i + 1 == r->nix) {
            rc = write_all(r->fd, out.ptr, out.len, at);
            at += out.len;
            out.len = 0;
        }
    }
    buf_release(&out);
    if (rc) {
        if (ftruncate(r->fd, (off_t)r->fsize) != 0) { /* the span is not recorded either way */
        }
        return rc;
    }
    if (r->nruns == r->runs_cap) {
        r->runs_cap = r->runs_cap ? 2 * r->runs_cap : 16;
        r->runs = lode_realloc(r->runs, r->runs_cap * sizeof(*r->runs));
    }
    r->runs[r->nruns++] = (struct span){r->fsize, at};
    r->fsize = at;
    r->mem.len = 0;
    r->nix = 0;
    return 0;
}

int ckrun_add(struct ckrun *r, int op, uint32_t db, const void *p, size_t n)
{
    const char *key;
    size_t klen;
    if (n > UINT32_MAX || payload_key(op, p, n, &key, &klen) != 0) return LODE_ECORRUPT;
    /* the run's memory at once: grown a step at a time, each copy would
     * leave its old pages with the allocator (tens of MB for a few runs) */
    if (!r->mem.cap) buf_reserve(&r->mem, r->run_bytes + READ_CHUNK);
    if (r->nix == r->cap) {
        r->cap = r->cap ? 2 * r->cap : r->run_bytes / 128 + 64;
        r->ix = lode_realloc(r->ix, r->cap * sizeof(*r->ix));
    }
    struct rec_ix *e = &r->ix[r->nix++];
    e->db = db;
    e->klen = (uint32_t)klen;
    ckpt_key_head(key, klen, e->head);
    e->off = r->mem.len;
    e->koff = r->mem.len + REC_HEAD + (size_t)(key - (const char *)p);
    char h[REC_HEAD];
    uint32_t len = (uint32_t)n;
    h[0] = (char)op;
    memcpy(h + 1, &db, 4);
    memcpy(h + 5, &len, 4);
    buf_append(&r->mem, h, REC_HEAD);
    buf_append(&r->mem, p, n);
    r->count++;
    if (r->mem.len < r->run_bytes) return 0;
    return write_run(r);
}

/* ---- draining: a merge of the file's runs and the run in memory ---- */

struct reader {
    /* the current record */
    int op;
    uint32_t db;
    const char *p;
    size_t n;
    const char *key;
    size_t klen;
    uint8_t head[CKPT_KEY_HEAD];
    /* a run of the file: [pos, end) not read yet, buf[at..] read */
    uint64_t pos, end;
    struct buf buf;
    size_t at;
    /* the run in memory: its next record */
    size_t next;
    bool in_mem;
    size_t order; /* readers of later records come later */
};

/* Makes n bytes from at readable in rd->buf. */
static int fill(struct ckrun *r, struct reader *rd, size_t n)
{
    if (rd->buf.len - rd->at >= n) return 0;
    buf_consume(&rd->buf, rd->at);
    rd->at = 0;
    size_t want = n > READ_CHUNK ? n : READ_CHUNK;
    while (rd->buf.len < n) {
        size_t room = want - rd->buf.len;
        if ((uint64_t)room > rd->end - rd->pos) room = (size_t)(rd->end - rd->pos);
        if (!room) return LODE_ECORRUPT; /* a record runs past its run */
        char *dst = buf_reserve(&rd->buf, room);
        ssize_t k = pread(r->fd, dst, room, (off_t)rd->pos);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -errno;
        if (k == 0) return LODE_ECORRUPT; /* the file is shorter than written */
        rd->buf.len += (size_t)k;
        rd->pos += (uint64_t)k;
    }
    return 0;
}

/* Moves rd to its next record: 1, 0 at the end, or a negative code. */
static int advance(struct ckrun *r, struct reader *rd)
{
    const char *rec;
    if (rd->in_mem) {
        if (rd->next == r->nix) return 0;
        rec = r->mem.ptr + r->ix[rd->next++].off;
    } else {
        if (rd->at == rd->buf.len && rd->pos == rd->end) return 0;
        int rc = fill(r, rd, REC_HEAD);
        uint32_t len;
        if (!rc) {
            memcpy(&len, rd->buf.ptr + rd->at + 5, 4);
            rc = fill(r, rd, REC_HEAD + (size_t)len);
        }
        if (rc) return rc;
        rec = rd->buf.ptr + rd->at;
        rd->at += REC_HEAD + (size_t)len;
    }
    rd->op = (unsigned char)rec[0];
    memcpy(&rd->db, rec + 1, 4);
    uint32_t len;
    memcpy(&len, rec + 5, 4);
    rd->p = rec + REC_HEAD;
    rd->n = len;
    if (payload_key(rd->op, rd->p, rd->n, &rd->key, &rd->klen) != 0) return LODE_ECORRUPT;
    ckpt_key_head(rd->key, rd->klen, rd->head);
    return 1;
}

static int reader_cmp(const struct reader *a, const struct reader *b)
{
    int c = key_order(a->db, a->head, a->key, a->klen, b->db, b->head, b->key, b->klen);
    if (c) return c;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* A binary heap of readers, the first record on top. */
static void sift_down(struct reader **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && reader_cmp(h[l], h[m]) < 0) m = l;
        if (l + 1 < n && reader_cmp(h[l + 1], h[m]) < 0) m = l + 1;
        if (m == i) return;
        struct reader *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* The record held back while the next one may be a later record of the
 * same key. */
struct held {
    bool have;
    int op;
    uint32_t db;
    struct buf rec; /* the payload */
    size_t koff, klen;
    uint8_t head[CKPT_KEY_HEAD];
};

static void hold(struct held *h, const struct reader *rd)
{
    h->have = true;
    h->op = rd->op;
    h->db = rd->db;
    h->rec.len = 0;
    buf_append(&h->rec, rd->p, rd->n);
    h->koff = (size_t)(rd->key - rd->p);
    h->klen = rd->klen;
    memcpy(h->head, rd->head, CKPT_KEY_HEAD);
}

static int release(struct held *h, ckrun_emit_fn emit, void *priv)
{
    if (!h->have) return 0;
    h->have = false;
    return emit(priv, h->op, h->db, h->rec.ptr, h->rec.len);
}

static void empty(struct ckrun *r)
{
    r->mem.len = 0;
    r->nix = 0;
    r->nruns = 0;
    r->count = 0;
    if (r->fd >= 0 && r->fsize && ftruncate(r->fd, 0) != 0) { /* freed at close anyway */
    }
    r->fsize = 0;
    buf_shrink(&r->mem);
}

int ckrun_drain(struct ckrun *r, ckrun_emit_fn emit, void *priv, struct buf *err)
{
    sort_mem(r);
    size_t nrd = r->nruns + 1;
    struct reader *rds = lode_calloc(nrd * sizeof(*rds));
    struct reader **heap = lode_calloc(nrd * sizeof(*heap));
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < nrd && rc == 0; i++) {
        struct reader *rd = &rds[i];
        rd->order = i;
        if (i == r->nruns) {
            rd->in_mem = true;
        } else {
            rd->pos = r->runs[i].start;
            rd->end = r->runs[i].end;
        }
        int k = advance(r, rd);
        if (k < 0) rc = k;
        if (k > 0) heap[n++] = rd;
    }
    for (size_t i = n / 2; i-- > 0;) sift_down(heap, n, i);

    struct held held = {0};
    bool read_failed = rc != 0;
    while (rc == 0 && n) {
        struct reader *rd = heap[0];
        /* a later record of the held key replaces it */
        if (held.have && key_order(held.db, held.head, held.rec.ptr + held.koff, held.klen, rd->db,
                                   rd->head, rd->key, rd->klen) != 0)
            rc = release(&held, emit, priv);
        if (rc) break;
        hold(&held, rd);
        int k = advance(r, rd);
        if (k < 0) {
            rc = k;
            read_failed = true;
        }
        if (k <= 0) heap[0] = heap[--n];
        sift_down(heap, n, 0);
    }
    if (rc == 0) rc = release(&held, emit, priv);
    if (read_failed && err)
        buf_printf(err, "can't read the checkpoint's sort file: %s",
                   rc == LODE_ECORRUPT ? "it does not hold what was written" : lode_strerror(rc));
    buf_release(&held.rec);
    for (size_t i = 0; i < nrd; i++) buf_release(&rds[i].buf);
    lode_free(rds);
    lode_free(heap);
    empty(r);
    return rc;
}
