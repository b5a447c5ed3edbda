/*
 * ckpt.c - the LMDB checkpoint store (see ckpt.h and
 * docs/checkpoint-format.md).
 */
#include "wal/ckpt.h"
#include "engine/digest.h"
#include "engine/lode.h"
#include "engine/util.h"
#include "engine/serialize.h"
#include "wal/thread.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* Address space reserved for the map of readers and of ckpt_open's
 * writers; the file only grows as written. */
#define CKPT_MAP_SIZE ((size_t)1 << 40)
/* A writer from ckpt_open_writer hands what it wrote to the kernel and
 * unmaps it after every this many bytes of values. */
#define CKPT_TRIM_BYTES ((uint64_t)32 << 20)
/* ... and unmaps it (without the writeback) after every this many puts
 * while the puts come mostly in ascending key order: fewer than a quarter
 * of the recent ones descended (a moving average over ~64 puts, in 1/1024).
 * A read fault through the map maps a whole folio of the page cache, and
 * readahead makes those large, so each put's search maps hundreds of pages
 * and the puts of an incremental checkpoint, whose keys spread over the
 * whole key space, map all of the file within a few thousand puts (the
 * loop's keys saved out of turn, before a write changes them, descend now
 * and then). Puts in random order (half descend) are not unmapped this
 * often: they would fault their whole path back in at nearly every put.
 * Nor are
 * appends (ckpt_append*): they fill the file's pages in order, the
 * budget below bounds their map, and an unmap every 16 appends (each
 * unmap a TLB shootdown of every CPU the process runs on) made a first
 * checkpoint of 1.3M sorted keys take 34 s instead of 5. */
#define CKPT_UNMAP_PUTS     16
#define CKPT_UNMAP_DESC_MAX 256 /* a quarter of 1024 */
/* Whatever the order, every CKPT_CHECK_PUTS puts the writer reads how much
 * the process's resident file pages grew since the transaction began
 * (/proc/self/statm, ~1.7 us here) and unmaps the map past this budget:
 * one read fault can map a large page-cache folio, so even 16 ascending
 * puts that land far apart (an incremental checkpoint's sparse keys) mapped
 * up to ~60 MB at once, and a stretch of out-of-order puts into the
 * existing tree (keys the loop saved out of turn under heavy writes)
 * mapped the file without limit (peaks of 1.4-1.6x steady RSS in some
 * runs). Not for puts out of order into a db written whole (the threaded
 * writer's, when its sort file failed, ckwriter.h; it used to be every
 * first checkpoint): there each put's leaf is new, and faulting pages back
 * in after every unmap made a first checkpoint of 1.3M keys take minutes
 * instead of ~17 s. */
#define CKPT_CHECK_PUTS 4
#define CKPT_MAP_BUDGET ((uint64_t)16 << 20)

struct ckpt {
    MDB_env *env;
    MDB_dbi meta, data;
    bool have_dbs; /* the named dbs exist (always when read-write) */
    bool readonly;
    MDB_txn *wtxn;
    struct buf scratch;
    /* ckpt_open_writer: LMDB writes straight into the shared file map
     * (MDB_WRITEMAP) instead of holding each dirty page in this process
     * until commit; every CKPT_TRIM_BYTES the map is unmapped (the pages
     * stay in the page cache, their writeback started), so the writer's
     * resident memory stays small however much it writes. */
    bool writemap;
    bool map_full; /* the last failure was MDB_MAP_FULL */
    char *map;     /* writemap: the map and its size */
    size_t map_size;
    struct unmapper *unmapper;           /* writemap: sweeps the map during the commit */
    uint64_t since_trim;                 /* value bytes put since the last trim */
    uint32_t since_unmap;                /* puts since the map was last unmapped */
    uint32_t since_check;                /* puts since file_resident was last read */
    uint32_t desc_avg;                   /* moving share of descending puts, 1/1024 */
    int statm_fd;                        /* writemap: this process's statm (-1: none) */
    uint64_t file_base;                  /* resident file bytes at ckpt_begin */
    uint64_t dropped;                    /* bit db % 64: db emptied (written whole) */
    uint8_t prev_key[CKPT_LMDB_KEY_MAX]; /* the last put's LMDB key */
    size_t prev_len;
    char path[4096]; /* writemap: DIR/data.mdb, trimmed at close */
    char error[256];
};

static int fail(struct ckpt *c, int rc, const char *what)
{
    int code;
    if (rc > 0)
        code = -rc;
    else if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID)
        code = LODE_ECORRUPT;
    else if (rc == MDB_VERSION_MISMATCH)
        code = LODE_EVERSION;
    else if (rc == MDB_MAP_FULL)
        code = -ENOSPC;
    else
        code = -EIO;
    if (c) {
        snprintf(c->error, sizeof(c->error), "%s: %s", what, mdb_strerror(rc));
        c->map_full = rc == MDB_MAP_FULL;
    }
    return code;
}

static int own_fail(struct ckpt *c, int code, const char *what)
{
    snprintf(c->error, sizeof(c->error), "%s", what);
    return code;
}

const char *ckpt_last_error(const struct ckpt *c)
{
    return c && c->error[0] ? c->error : "no error";
}

/* The address of env's map of size bytes, which LMDB does not tell
 * (mdb_env_info's me_mapaddr is only the address asked for with
 * MDB_FIXEDMAP): the shared mapping of its file of that size in
 * /proc/self/maps. NULL when not found (the map is then never unmapped
 * early: more resident memory, nothing else). */
static char *find_map(MDB_env *env, size_t size)
{
    int fd;
    struct stat st;
    if (mdb_env_get_fd(env, &fd) != 0 || fstat(fd, &st) != 0) return NULL;
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f) return NULL;
    char line[4096];
    char *found = NULL;
    while (!found && fgets(line, sizeof(line), f)) {
        unsigned long long start, end, off, ino;
        unsigned dmaj, dmin;
        char perms[8];
        if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &start, &end, perms, &off, &dmaj, &dmin,
                   &ino) != 7)
            continue;
        if (ino == (unsigned long long)st.st_ino && dmaj == major(st.st_dev) &&
            dmin == minor(st.st_dev) && perms[3] == 's' && off == 0 && end - start == size)
            found = (char *)(uintptr_t)start;
    }
    fclose(f);
    return found;
}

/*
 * A writemap writer's commit touches every page of the transaction (LMDB
 * clears each one's dirty flag), faulting all of them back into the map at
 * once: hundreds of MB of page cache counted in the process's RSS (and by
 * the OOM killer) for a checkpoint that rewrote as many pages. While the
 * commit runs, a thread unmaps the map every CKPT_UNMAP_EVERY_US, as
 * trim_map does between puts: the pages stay in the page cache, dirty
 * ones stay dirty (unmapping hands the dirty bit to the page) and LMDB's
 * msync writes them; a page touched again faults back in.
 * The thread is started with the store (ckpt_open_writer), so it keeps the
 * opener's priority when the writer lowers its own afterwards: started by
 * a writer at SCHED_IDLE, it inherited that, and on a CPU kept busy it ran
 * too seldom to matter (the map reached 50-73 MB during a first
 * checkpoint's commit under write load).
 */
struct unmapper {
    char *map;
    size_t map_size;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool sweeping, stop;
};

#define CKPT_UNMAP_EVERY_US 200

static void *unmapper_main(void *arg)
{
    struct unmapper *u = arg;
    pthread_mutex_lock(&u->mu);
    while (!u->stop) {
        if (!u->sweeping) {
            pthread_cond_wait(&u->cv, &u->mu);
            continue;
        }
        pthread_mutex_unlock(&u->mu);
        madvise(u->map, u->map_size, MADV_DONTNEED);
        pthread_mutex_lock(&u->mu);
        struct timespec ts = util_deadline_after_us(CKPT_UNMAP_EVERY_US);
        if (u->sweeping && !u->stop) pthread_cond_timedwait(&u->cv, &u->mu, &ts);
    }
    pthread_mutex_unlock(&u->mu);
    return NULL;
}

/* NULL when no thread can be started (the commit then runs without it). */
static struct unmapper *unmapper_start(char *map, size_t map_size)
{
    struct unmapper *u = lode_calloc(sizeof(*u));
    u->map = map;
    u->map_size = map_size;
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->cv, NULL);
    if (wal_thread_start(&u->thread, unmapper_main, u) == 0) return u;
    pthread_mutex_destroy(&u->mu);
    pthread_cond_destroy(&u->cv);
    lode_free(u);
    return NULL;
}

static void unmapper_set(struct unmapper *u, bool sweeping)
{
    pthread_mutex_lock(&u->mu);
    u->sweeping = sweeping;
    pthread_cond_signal(&u->cv);
    pthread_mutex_unlock(&u->mu);
}

static void unmapper_stop(struct unmapper *u)
{
    if (!u) return;
    pthread_mutex_lock(&u->mu);
    u->stop = true;
    pthread_cond_signal(&u->cv);
    pthread_mutex_unlock(&u->mu);
    pthread_join(u->thread, NULL);
    pthread_mutex_destroy(&u->mu);
    pthread_cond_destroy(&u->cv);
    lode_free(u);
}

/* mdb_txn_commit with the unmapper sweeping for a writemap writer. */
static int commit_unmapped(struct ckpt *c, MDB_txn *txn)
{
    if (!c->writemap || !c->map) return mdb_txn_commit(txn);
    if (c->unmapper) unmapper_set(c->unmapper, true);
    int rc = mdb_txn_commit(txn);
    if (c->unmapper) unmapper_set(c->unmapper, false);
    madvise(c->map, c->map_size, MADV_DONTNEED); /* what the last sweep left */
    return rc;
}

/* Opens dir for ckpt_open (map_size 0: readers and plain writers) or for
 * ckpt_open_writer (map_size: the exact map, with MDB_WRITEMAP). */
static int open_store(struct ckpt **out, const char *dir, bool readonly, size_t map_size,
                      struct buf *err)
{
    struct stat st;
    if (readonly && stat(dir, &st) != 0) return -errno;
    if (!readonly && mkdir(dir, 0755) != 0 && errno != EEXIST) {
        int rc = -errno;
        buf_printf(err, "can't create checkpoint directory '%s': %s", dir, strerror(errno));
        return rc;
    }
    if (readonly) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/data.mdb", dir);
        /* empty: a writer was stopped before LMDB wrote anything */
        if (stat(path, &st) != 0 || st.st_size == 0) return -ENOENT;
    }
    struct ckpt *c = lode_calloc(sizeof(*c));
    buf_init(&c->scratch);
    c->readonly = readonly;
    c->writemap = map_size != 0;
    c->statm_fd = c->writemap ? open("/proc/self/statm", O_RDONLY | O_CLOEXEC) : -1;
    snprintf(c->path, sizeof(c->path), "%s/data.mdb", dir);
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&c->env);
    if (rc) goto fail;
    if ((rc = mdb_env_set_maxdbs(c->env, 4)) != 0) goto fail;
    if ((rc = mdb_env_set_mapsize(c->env, map_size ? map_size : CKPT_MAP_SIZE)) != 0) goto fail;
    unsigned env_flags = readonly ? MDB_RDONLY : c->writemap ? MDB_WRITEMAP : 0;
    if ((rc = mdb_env_open(c->env, dir, env_flags, 0644)) != 0) goto fail;
    if (c->writemap) {
        MDB_envinfo info;
        if ((rc = mdb_env_info(c->env, &info)) != 0) goto fail;
        c->map_size = info.me_mapsize;
        c->map = find_map(c->env, c->map_size);
        if (c->map) c->unmapper = unmapper_start(c->map, c->map_size);
    }
    if ((rc = mdb_txn_begin(c->env, NULL, readonly ? MDB_RDONLY : 0, &txn)) != 0) goto fail;
    unsigned flags = readonly ? 0 : MDB_CREATE;
    rc = mdb_dbi_open(txn, "meta", flags, &c->meta);
    if (rc == 0) rc = mdb_dbi_open(txn, "data", flags, &c->data);
    if (rc == MDB_NOTFOUND && readonly) {
        rc = 0; /* never committed: an empty checkpoint */
    } else if (rc == 0) {
        c->have_dbs = true;
    }
    if (rc) goto fail;
    if ((rc = mdb_txn_commit(txn)) != 0) {
        txn = NULL;
        goto fail;
    }
    *out = c;
    return 0;
fail:;
    int code = fail(c, rc, "can't open the checkpoint");
    buf_printf(err, "can't open the checkpoint in '%s': %s", dir, mdb_strerror(rc));
    if (txn) mdb_txn_abort(txn);
    unmapper_stop(c->unmapper);
    if (c->env) mdb_env_close(c->env);
    if (c->statm_fd >= 0) close(c->statm_fd);
    buf_release(&c->scratch);
    lode_free(c);
    return code;
}

int ckpt_open(struct ckpt **out, const char *dir, bool readonly, struct buf *err)
{
    return open_store(out, dir, readonly, 0, err);
}

int ckpt_open_writer(struct ckpt **out, const char *dir, uint64_t room, struct buf *err)
{
    struct stat st;
    char path[4096];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    uint64_t have = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    uint64_t unit = (uint64_t)1 << 20, size = have + room + ((uint64_t)16 << 20);
    size = (size + unit - 1) / unit * unit;
    if (size > CKPT_MAP_SIZE) size = CKPT_MAP_SIZE;
    /* a write into a map over a full disk is a SIGBUS, not an error: with
     * less free space than the room, write the ordinary way */
    struct statvfs vfs;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) return open_store(out, dir, false, 0, err);
    if (statvfs(dir, &vfs) != 0 || (uint64_t)vfs.f_bavail * vfs.f_frsize < size - have)
        return open_store(out, dir, false, 0, err);
    /* and the blocks under the whole map are reserved first, so that the
     * disk filling up meanwhile (the WAL grows too) cannot fail a write
     * into the map (a SIGBUS: fatal to a writer thread's whole server) */
    if (have == 0) {
        /* a new store: LMDB creates it the ordinary way first */
        struct ckpt *init = NULL;
        int rc = open_store(&init, dir, false, 0, err);
        if (rc) return rc;
        ckpt_close(init);
        if (stat(path, &st) == 0) have = (uint64_t)st.st_size;
    }
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return open_store(out, dir, false, 0, err);
    /* beyond the end without changing the size (LMDB sizes the file for
     * its map itself); fallocate, not posix_fallocate: no slow emulation */
    int frc = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)size);
    if (frc != 0 && ftruncate(fd, (off_t)have) != 0) { /* frees what was reserved */
    }
    close(fd);
    if (frc != 0) return open_store(out, dir, false, 0, err);
    return open_store(out, dir, false, (size_t)size, err);
}

bool ckpt_map_full(const struct ckpt *c)
{
    return c && c->map_full;
}

/* A writemap writer: starts writeback of what the map holds and unmaps it
 * (the data stays in the file's page cache; LMDB's pointers into the map
 * stay valid and fault the pages back in when touched again). */
static void trim_map(struct ckpt *c, bool writeback)
{
    c->since_unmap = c->since_check = 0;
    int fd;
    if (writeback) {
        c->since_trim = 0;
        if (mdb_env_get_fd(c->env, &fd) == 0) sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    }
    if (c->map) madvise(c->map, c->map_size, MADV_DONTNEED);
}

/* Bytes of file pages this process has mapped (the third field of
 * /proc/self/statm counts them with shared memory); 0 when unknown. */
static uint64_t file_resident(const struct ckpt *c)
{
    char text[128];
    ssize_t n = c->statm_fd >= 0 ? pread(c->statm_fd, text, sizeof(text) - 1, 0) : -1;
    if (n <= 0) return 0;
    text[n] = 0;
    unsigned long long size, resident, shared;
    if (sscanf(text, "%llu %llu %llu", &size, &resident, &shared) != 3) return 0;
    return shared * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Every CKPT_CHECK_PUTS calls: whether the map grew past CKPT_MAP_BUDGET. */
static bool over_budget(struct ckpt *c)
{
    if (++c->since_check < CKPT_CHECK_PUTS) return false;
    c->since_check = 0;
    return file_resident(c) > c->file_base + CKPT_MAP_BUDGET;
}

/* A writemap writer after a put of key k (of db) with vlen bytes of
 * value: trims the map by bytes, unmaps it by puts while they mostly
 * ascend, and when it outgrew CKPT_MAP_BUDGET (out of order: not in a db
 * written whole). */
static void after_put(struct ckpt *c, uint32_t db, const MDB_val *k, size_t vlen, bool appended)
{
    MDB_val prev = {c->prev_len, c->prev_key};
    bool desc = c->prev_len && mdb_cmp(c->wtxn, c->data, &prev, (MDB_val *)k) >= 0;
    c->desc_avg = c->desc_avg - c->desc_avg / 64 + (desc ? 1024 / 64 : 0);
    memcpy(c->prev_key, k->mv_data, k->mv_size);
    c->prev_len = k->mv_size;
    bool writeback = (c->since_trim += vlen + k->mv_size) >= CKPT_TRIM_BYTES;
    bool ascending = c->desc_avg < CKPT_UNMAP_DESC_MAX;
    /* out of order, each unmap makes the next puts fault their whole path
     * back in: only past the budget, and never in a db written whole
     * (each leaf there is new) */
    if (writeback || (ascending && !appended && ++c->since_unmap >= CKPT_UNMAP_PUTS) ||
        ((ascending || !(c->dropped >> (db % 64) & 1)) && over_budget(c)))
        trim_map(c, writeback);
}

/* A writemap writer after a delete (whose search maps pages as a put's
 * does; deletes come in key order). */
static void after_delete(struct ckpt *c)
{
    if (c->writemap && over_budget(c)) trim_map(c, false);
}

/* A writemap writer at close: the file was extended to the whole map;
 * cut it back to the pages the last commit uses (no reader can use a page
 * above that), so the file is the size of its data. */
static void cut_file(struct ckpt *c)
{
    MDB_envinfo info;
    MDB_stat ms;
    if (mdb_env_info(c->env, &info) != 0 || mdb_env_stat(c->env, &ms) != 0) return;
    uint64_t used = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
    struct stat st;
    if (stat(c->path, &st) == 0 && (uint64_t)st.st_size > used) {
        if (truncate(c->path, (off_t)used) != 0) { /* harmless: a sparse tail */
        }
    }
}

void ckpt_close(struct ckpt *c)
{
    if (!c) return;
    if (c->wtxn) mdb_txn_abort(c->wtxn);
    unmapper_stop(c->unmapper);
    if (c->writemap) cut_file(c);
    mdb_env_close(c->env);
    if (c->statm_fd >= 0) close(c->statm_fd);
    buf_release(&c->scratch);
    lode_free(c);
}

/* ---- keys ---- */

/* The LMDB key of (db, key) into out (CKPT_LMDB_KEY_MAX bytes); returns
 * its length. */
static size_t make_key(uint8_t *out, uint32_t db, const char *key, size_t klen)
{
    out[0] = (uint8_t)(db >> 24);
    out[1] = (uint8_t)(db >> 16);
    out[2] = (uint8_t)(db >> 8);
    out[3] = (uint8_t)db;
    if (klen <= CKPT_SHORT_KEY_MAX) {
        memcpy(out + 4, key, klen);
        return 4 + klen;
    }
    out[4] = 0xFF;
    memcpy(out + 5, key, CKPT_LONG_PREFIX);
    digest_sha1(key, klen, out + 5 + CKPT_LONG_PREFIX);
    return CKPT_LMDB_KEY_MAX;
}

void ckpt_key_head(const char *key, size_t klen, uint8_t head[CKPT_KEY_HEAD])
{
    memset(head, 0, CKPT_KEY_HEAD);
    if (klen <= CKPT_SHORT_KEY_MAX) {
        memcpy(head, key, klen < CKPT_KEY_HEAD ? klen : CKPT_KEY_HEAD);
    } else {
        head[0] = 0xFF;
        memcpy(head + 1, key, CKPT_KEY_HEAD - 1);
    }
}

int ckpt_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen <= CKPT_SHORT_KEY_MAX && blen <= CKPT_SHORT_KEY_MAX) {
        /* both stored as themselves after the same db prefix */
        int r = memcmp(a, b, alen < blen ? alen : blen);
        return r ? r : alen < blen ? -1 : alen > blen;
    }
    uint8_t ka[CKPT_LMDB_KEY_MAX], kb[CKPT_LMDB_KEY_MAX];
    size_t la = make_key(ka, 0, a, alen), lb = make_key(kb, 0, b, blen);
    int r = memcmp(ka, kb, la < lb ? la : lb); /* LMDB's default order */
    return r ? r : la < lb ? -1 : la > lb;
}

static uint64_t get_le(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = v << 8 | b[i];
    return v;
}

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- meta ---- */

static int meta_get(MDB_txn *txn, MDB_dbi dbi, const char *name, MDB_val *v)
{
    MDB_val k = {strlen(name), (void *)name};
    return mdb_get(txn, dbi, &k, v);
}

int ckpt_read_meta(struct ckpt *c, struct ckpt_meta *m)
{
    memset(m, 0, sizeof(*m));
    m->version = CKPT_VERSION;
    memset(m->replid, '0', sizeof(m->replid));
    if (!c->have_dbs) return 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
    if (rc) return fail(c, rc, "can't read the checkpoint meta");
    MDB_val v;
    int code = 0;
    rc = meta_get(txn, c->meta, "version", &v);
    if (rc == MDB_NOTFOUND) goto done; /* created, never committed */
    if (rc || v.mv_size != 4) {
        code = own_fail(c, LODE_ECORRUPT, "checkpoint meta 'version' is malformed");
        goto done;
    }
    m->version = (uint32_t)get_le(v.mv_data, 4);
    if (m->version < CKPT_VERSION_MIN || m->version > CKPT_VERSION) {
        snprintf(c->error, sizeof(c->error),
                 "the checkpoint has format version %u, this server reads %u to %u", m->version,
                 CKPT_VERSION_MIN, CKPT_VERSION);
        code = LODE_EVERSION;
        goto done;
    }
    if (meta_get(txn, c->meta, "lsn", &v) != 0 || v.mv_size != 8) {
        code = own_fail(c, LODE_ECORRUPT, "checkpoint meta 'lsn' is missing or malformed");
        goto done;
    }
    m->lsn = get_le(v.mv_data, 8);
    if (meta_get(txn, c->meta, "time_ms", &v) != 0 || v.mv_size != 8) {
        code = own_fail(c, LODE_ECORRUPT, "checkpoint meta 'time_ms' is missing or malformed");
        goto done;
    }
    m->time_ms = get_le(v.mv_data, 8);
    if (meta_get(txn, c->meta, "replid", &v) != 0 || v.mv_size != CKPT_REPLID_LEN) {
        code = own_fail(c, LODE_ECORRUPT, "checkpoint meta 'replid' is missing or malformed");
        goto done;
    }
    memcpy(m->replid, v.mv_data, CKPT_REPLID_LEN);
done:
    mdb_txn_abort(txn);
    return code;
}

/* ---- reading data ---- */

/* Decodes one stored entry and checks that its key is the one the LMDB
 * key names. */
static int decode_entry(struct ckpt *c, const MDB_val *k, const MDB_val *v, uint32_t *db,
                        struct kv **out, long long *exp)
{
    if (k->mv_size < 4) return own_fail(c, LODE_ECORRUPT, "checkpoint key shorter than 4 bytes");
    const uint8_t *kb = k->mv_data;
    *db = (uint32_t)kb[0] << 24 | (uint32_t)kb[1] << 16 | (uint32_t)kb[2] << 8 | kb[3];
    const char *key;
    size_t klen;
    if (serialize_peek_key(v->mv_data, v->mv_size, &key, &klen) != 0)
        return own_fail(c, LODE_ECORRUPT, "checkpoint value is corrupt");
    uint8_t want[CKPT_LMDB_KEY_MAX];
    size_t wlen = make_key(want, *db, key, klen);
    if (wlen != k->mv_size || memcmp(want, kb, wlen) != 0)
        return own_fail(c, LODE_ECORRUPT, "checkpoint value's key does not match its LMDB key");
    int rc = serialize_parse_kv(v->mv_data, v->mv_size, out, exp);
    if (rc == LODE_EVERSION)
        return own_fail(c, rc, "checkpoint value has a type or encoding this server can't read");
    if (rc) return own_fail(c, rc, "checkpoint value is corrupt");
    return 0;
}

int ckpt_load(struct ckpt *c, struct engine *eng, uint64_t *nkeys)
{
    if (nkeys) *nkeys = 0;
    if (!c->have_dbs) return 0;
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
    if (rc) return fail(c, rc, "can't read the checkpoint");
    if ((rc = mdb_cursor_open(txn, c->data, &cur)) != 0) {
        mdb_txn_abort(txn);
        return fail(c, rc, "can't read the checkpoint");
    }
    MDB_val k, v;
    int code = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint32_t db;
        struct kv *kv;
        long long exp;
        if ((code = decode_entry(c, &k, &v, &db, &kv, &exp)) != 0) break;
        if (db >= (uint32_t)eng->ndbs) {
            kv_free(kv);
            snprintf(c->error, sizeof(c->error),
                     "the checkpoint holds keys of db %u but the server has %d databases", db,
                     eng->ndbs);
            code = LODE_ECORRUPT;
            break;
        }
        struct db *d = &eng->dbs[db];
        db_add(eng, d, kv);
        if (exp >= 0) db_set_expire(d, kv, exp);
        if (nkeys) (*nkeys)++;
    }
    if (!code && rc != MDB_NOTFOUND) code = fail(c, rc, "can't read the checkpoint");
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return code;
}

int ckpt_get(struct ckpt *c, uint32_t db, const char *key, size_t klen, struct kv **out,
             long long *expire_ms)
{
    if (!c->have_dbs) return 0;
    MDB_txn *txn = c->wtxn;
    int rc;
    if (!txn && (rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)) != 0)
        return fail(c, rc, "can't read the checkpoint");
    uint8_t kb[CKPT_LMDB_KEY_MAX];
    MDB_val k = {make_key(kb, db, key, klen), kb}, v;
    int code = 0;
    rc = mdb_get(txn, c->data, &k, &v);
    if (rc == 0) {
        uint32_t d;
        struct kv *kv;
        code = decode_entry(c, &k, &v, &d, &kv, expire_ms);
        if (code == 0 && (kv->klen != klen || memcmp(kv_key(kv), key, klen) != 0)) {
            kv_free(kv); /* a long key with the same prefix and digest */
        } else if (code == 0) {
            *out = kv;
            code = 1;
        }
    } else if (rc != MDB_NOTFOUND) {
        code = fail(c, rc, "can't read the checkpoint");
    }
    if (txn != c->wtxn) mdb_txn_abort(txn);
    return code;
}

/* ---- writing ---- */

int ckpt_begin(struct ckpt *c)
{
    if (c->readonly || c->wtxn) return own_fail(c, -EINVAL, "not a writable checkpoint");
    int rc = mdb_txn_begin(c->env, NULL, 0, &c->wtxn);
    if (rc) {
        c->wtxn = NULL;
        return fail(c, rc, "can't start a checkpoint transaction");
    }
    if (c->writemap) c->file_base = file_resident(c);
    c->dropped = 0;
    return 0;
}

/* Stores the serialized entry <p, n> of key under (db, key), appended when
 * append and the key sorts last. */
static int put_bytes(struct ckpt *c, uint32_t db, const char *key, size_t klen, const void *p,
                     size_t n, bool append)
{
    uint8_t kb[CKPT_LMDB_KEY_MAX];
    MDB_val k = {make_key(kb, db, key, klen), kb};
    MDB_val v = {n, (void *)p};
    int rc = append ? mdb_put(c->wtxn, c->data, &k, &v, MDB_APPEND) : MDB_KEYEXIST;
    bool appended = rc == 0;
    if (rc == MDB_KEYEXIST) rc = mdb_put(c->wtxn, c->data, &k, &v, 0); /* not last */
    if (rc) return fail(c, rc, "can't write to the checkpoint");
    if (c->writemap) after_put(c, db, &k, v.mv_size, appended);
    return 0;
}

static int put_entry(struct ckpt *c, uint32_t db, const struct kv *kv, long long expire_ms,
                     bool append)
{
    lode_assert(c->wtxn);
    c->scratch.len = 0;
    int rc = serialize_kv(&c->scratch, kv, expire_ms);
    if (rc) return own_fail(c, rc, "a value of this type can't be checkpointed yet");
    return put_bytes(c, db, kv_key(kv), kv->klen, c->scratch.ptr, c->scratch.len, append);
}

static int put_serialized(struct ckpt *c, uint32_t db, const void *p, size_t n, bool append)
{
    lode_assert(c->wtxn);
    const char *key;
    size_t klen;
    if (serialize_peek_key(p, n, &key, &klen) != 0)
        return own_fail(c, LODE_ECORRUPT, "a serialized entry without its key");
    return put_bytes(c, db, key, klen, p, n, append);
}

int ckpt_put_serialized(struct ckpt *c, uint32_t db, const void *p, size_t n)
{
    return put_serialized(c, db, p, n, false);
}

int ckpt_append_serialized(struct ckpt *c, uint32_t db, const void *p, size_t n)
{
    return put_serialized(c, db, p, n, true);
}

int ckpt_put(struct ckpt *c, uint32_t db, const struct kv *kv, long long expire_ms)
{
    return put_entry(c, db, kv, expire_ms, false);
}

int ckpt_append(struct ckpt *c, uint32_t db, const struct kv *kv, long long expire_ms)
{
    return put_entry(c, db, kv, expire_ms, true);
}

int ckpt_delete(struct ckpt *c, uint32_t db, const char *key, size_t klen)
{
    lode_assert(c->wtxn);
    uint8_t kb[CKPT_LMDB_KEY_MAX];
    MDB_val k = {make_key(kb, db, key, klen), kb};
    int rc = mdb_del(c->wtxn, c->data, &k, NULL);
    after_delete(c);
    if (rc == MDB_NOTFOUND) return 0;
    return rc ? fail(c, rc, "can't delete from the checkpoint") : 0;
}

int ckpt_drop_db(struct ckpt *c, uint32_t db)
{
    lode_assert(c->wtxn);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->wtxn, c->data, &cur);
    if (rc) return fail(c, rc, "can't delete from the checkpoint");
    uint8_t prefix[4] = {(uint8_t)(db >> 24), (uint8_t)(db >> 16), (uint8_t)(db >> 8), (uint8_t)db};
    for (;;) {
        MDB_val k = {4, prefix}, v;
        if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) != 0) break;
        if (k.mv_size < 4 || memcmp(k.mv_data, prefix, 4) != 0) break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0) break;
        after_delete(c);
    }
    mdb_cursor_close(cur);
    c->dropped |= 1ull << (db % 64);
    if (rc == MDB_NOTFOUND || rc == 0) return 0;
    return fail(c, rc, "can't delete from the checkpoint");
}

static int meta_put(MDB_txn *txn, MDB_dbi dbi, const char *name, const void *p, size_t n)
{
    MDB_val k = {strlen(name), (void *)name}, v = {n, (void *)p};
    return mdb_put(txn, dbi, &k, &v, 0);
}

int ckpt_put_meta(struct ckpt *c, const char *name, const void *p, size_t n)
{
    lode_assert(c->wtxn);
    int rc;
    if (p) {
        rc = meta_put(c->wtxn, c->meta, name, p, n);
    } else {
        MDB_val k = {strlen(name), (void *)name};
        rc = mdb_del(c->wtxn, c->meta, &k, NULL);
        if (rc == MDB_NOTFOUND) rc = 0;
    }
    return rc ? fail(c, rc, "can't write the checkpoint meta") : 0;
}

int ckpt_get_meta(struct ckpt *c, const char *name, struct buf *out)
{
    out->len = 0;
    if (!c->have_dbs) return 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
    if (rc) return fail(c, rc, "can't read the checkpoint meta");
    MDB_val v;
    rc = meta_get(txn, c->meta, name, &v);
    int found = 0;
    if (rc == 0) {
        buf_append(out, v.mv_data, v.mv_size);
        found = 1;
    } else if (rc != MDB_NOTFOUND) {
        found = fail(c, rc, "can't read the checkpoint meta");
    }
    mdb_txn_abort(txn);
    return found;
}

int ckpt_commit(struct ckpt *c, const struct ckpt_meta *m)
{
    lode_assert(c->wtxn);
    uint8_t ver[4], lsn[8], tm[8];
    put_le(ver, CKPT_VERSION, 4);
    put_le(lsn, m->lsn, 8);
    put_le(tm, m->time_ms, 8);
    int rc = meta_put(c->wtxn, c->meta, "version", ver, 4);
    if (!rc) rc = meta_put(c->wtxn, c->meta, "lsn", lsn, 8);
    if (!rc) rc = meta_put(c->wtxn, c->meta, "time_ms", tm, 8);
    if (!rc) rc = meta_put(c->wtxn, c->meta, "replid", m->replid, CKPT_REPLID_LEN);
    if (rc) {
        ckpt_abort(c);
        return fail(c, rc, "can't write the checkpoint meta");
    }
    rc = commit_unmapped(c, c->wtxn);
    c->wtxn = NULL;
    return rc ? fail(c, rc, "can't commit the checkpoint") : 0;
}

void ckpt_abort(struct ckpt *c)
{
    if (c->wtxn) mdb_txn_abort(c->wtxn);
    c->wtxn = NULL;
}
