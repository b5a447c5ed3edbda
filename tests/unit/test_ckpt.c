/*
 * test_ckpt.c - the LMDB checkpoint store: round trip, long keys,
 * deletes, meta, aborted transactions, reopen.
 */
#include "engine/lode.h"
#include "engine/util.h"
#include "wal/ckpt.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/lode_test_ckpt_XXXXXX");
    assert_non_null(mkdtemp(dir));
    strcat(dir, "/checkpoint");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(dir) - 11), dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct ckpt *open_rw(void)
{
    struct ckpt *c = NULL;
    struct buf err = BUF_INIT;
    assert_int_equal(ckpt_open(&c, dir, false, &err), 0);
    buf_release(&err);
    return c;
}

static struct ckpt *open_ro(void)
{
    struct ckpt *c = NULL;
    struct buf err = BUF_INIT;
    assert_int_equal(ckpt_open(&c, dir, true, &err), 0);
    buf_release(&err);
    return c;
}

static struct ckpt_meta meta_at(uint64_t lsn)
{
    struct ckpt_meta m = {.lsn = lsn, .time_ms = 1700000000000ULL + lsn};
    memset(m.replid, '0', sizeof(m.replid));
    return m;
}

static void put_str(struct ckpt *c, uint32_t db, const char *k, size_t klen, const char *v,
                    long long exp)
{
    struct kv *kv = kv_new_str(k, klen, v, strlen(v));
    assert_int_equal(ckpt_put(c, db, kv, exp), 0);
    kv_free(kv);
}

static void expect_get(struct ckpt *c, uint32_t db, const char *k, size_t klen, const char *v,
                       long long exp)
{
    struct kv *kv = NULL;
    long long e = 0;
    int rc = ckpt_get(c, db, k, klen, &kv, &e);
    if (!v) {
        assert_int_equal(rc, 0);
        return;
    }
    assert_int_equal(rc, 1);
    char tmp[UTIL_LLSTR_SIZE];
    size_t len;
    const char *s = kv_str(kv, tmp, &len);
    assert_int_equal(len, strlen(v));
    assert_memory_equal(s, v, len);
    assert_int_equal(e, exp);
    kv_free(kv);
}

static void test_missing_and_empty(void **state)
{
    (void)state;
    struct ckpt *c = NULL;
    struct buf err = BUF_INIT;
    assert_int_equal(ckpt_open(&c, dir, true, &err), -ENOENT);
    c = open_rw();
    struct ckpt_meta m;
    assert_int_equal(ckpt_read_meta(c, &m), 0);
    assert_int_equal(m.lsn, 0);
    ckpt_close(c);
    c = open_ro();
    assert_int_equal(ckpt_read_meta(c, &m), 0);
    assert_int_equal(m.lsn, 0);
    expect_get(c, 0, "k", 1, NULL, 0);
    ckpt_close(c);
    buf_release(&err);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct ckpt *c = open_rw();
    assert_int_equal(ckpt_begin(c), 0);
    put_str(c, 0, "a", 1, "1", -1);
    put_str(c, 0, "b", 1, "hello", 1800000000000LL);
    put_str(c, 3, "a", 1, "other db", -1);
    put_str(c, 0, "bin\0key", 7, "x", -1);
    struct ckpt_meta m = meta_at(42);
    assert_int_equal(ckpt_commit(c, &m), 0);
    ckpt_close(c);

    c = open_ro();
    struct ckpt_meta r;
    assert_int_equal(ckpt_read_meta(c, &r), 0);
    assert_int_equal(r.lsn, 42);
    assert_int_equal(r.time_ms, m.time_ms);
    assert_int_equal(r.version, CKPT_VERSION);
    expect_get(c, 0, "a", 1, "1", -1);
    expect_get(c, 0, "b", 1, "hello", 1800000000000LL);
    expect_get(c, 3, "a", 1, "other db", -1);
    expect_get(c, 1, "a", 1, NULL, 0);
    expect_get(c, 0, "bin\0key", 7, "x", -1);
    struct engine eng;
    engine_init(&eng, 16);
    uint64_t n = 0;
    assert_int_equal(ckpt_load(c, &eng, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(db_size(&eng.dbs[0]), 3);
    assert_int_equal(db_size(&eng.dbs[3]), 1);
    struct kv *kv = db_find(&eng.dbs[0], "b", 1);
    assert_non_null(kv);
    assert_int_equal(db_expire_of(&eng.dbs[0], kv), 1800000000000LL);
    engine_release(&eng);
    /* a server with fewer databases refuses */
    engine_init(&eng, 2);
    assert_int_equal(ckpt_load(c, &eng, &n), LODE_ECORRUPT);
    engine_release(&eng);
    ckpt_close(c);
}

static void test_long_keys(void **state)
{
    (void)state;
    size_t n = 5000;
    char *k1 = malloc(n), *k2 = malloc(n);
    memset(k1, 'k', n);
    memcpy(k2, k1, n);
    k2[n - 1] = 'z'; /* same prefix, different digest */
    struct ckpt *c = open_rw();
    assert_int_equal(ckpt_begin(c), 0);
    put_str(c, 0, k1, n, "one", -1);
    put_str(c, 0, k2, n, "two", -1);
    /* the boundary lengths */
    put_str(c, 0, k1, CKPT_SHORT_KEY_MAX, "short", -1);
    put_str(c, 0, k1, CKPT_SHORT_KEY_MAX + 1, "long", -1);
    struct ckpt_meta m = meta_at(1);
    assert_int_equal(ckpt_commit(c, &m), 0);
    expect_get(c, 0, k1, n, "one", -1);
    expect_get(c, 0, k2, n, "two", -1);
    expect_get(c, 0, k1, CKPT_SHORT_KEY_MAX, "short", -1);
    expect_get(c, 0, k1, CKPT_SHORT_KEY_MAX + 1, "long", -1);
    expect_get(c, 0, k1, n - 1, NULL, 0);
    assert_int_equal(ckpt_begin(c), 0);
    assert_int_equal(ckpt_delete(c, 0, k1, n), 0);
    m = meta_at(2);
    assert_int_equal(ckpt_commit(c, &m), 0);
    expect_get(c, 0, k1, n, NULL, 0);
    expect_get(c, 0, k2, n, "two", -1);
    ckpt_close(c);
    c = open_ro();
    struct engine eng;
    engine_init(&eng, 16);
    uint64_t nk;
    assert_int_equal(ckpt_load(c, &eng, &nk), 0);
    assert_int_equal(nk, 3);
    assert_non_null(db_find(&eng.dbs[0], k2, n));
    engine_release(&eng);
    ckpt_close(c);
    free(k1);
    free(k2);
}

static void test_delete_drop_abort(void **state)
{
    (void)state;
    struct ckpt *c = open_rw();
    assert_int_equal(ckpt_begin(c), 0);
    put_str(c, 0, "a", 1, "1", -1);
    put_str(c, 0, "b", 1, "2", -1);
    put_str(c, 1, "a", 1, "3", -1);
    put_str(c, 1, "b", 1, "4", -1);
    put_str(c, 2, "a", 1, "5", -1);
    struct ckpt_meta m = meta_at(10);
    assert_int_equal(ckpt_commit(c, &m), 0);

    /* an aborted transaction changes nothing */
    assert_int_equal(ckpt_begin(c), 0);
    assert_int_equal(ckpt_delete(c, 0, "a", 1), 0);
    assert_int_equal(ckpt_drop_db(c, 1), 0);
    put_str(c, 0, "c", 1, "new", -1);
    ckpt_abort(c);
    ckpt_close(c);
    c = open_rw();
    struct ckpt_meta r;
    assert_int_equal(ckpt_read_meta(c, &r), 0);
    assert_int_equal(r.lsn, 10);
    expect_get(c, 0, "a", 1, "1", -1);
    expect_get(c, 1, "b", 1, "4", -1);
    expect_get(c, 0, "c", 1, NULL, 0);

    assert_int_equal(ckpt_begin(c), 0);
    assert_int_equal(ckpt_delete(c, 0, "a", 1), 0);
    assert_int_equal(ckpt_delete(c, 0, "missing", 7), 0);
    assert_int_equal(ckpt_drop_db(c, 1), 0);
    m = meta_at(20);
    assert_int_equal(ckpt_commit(c, &m), 0);
    ckpt_close(c);
    c = open_ro();
    assert_int_equal(ckpt_read_meta(c, &r), 0);
    assert_int_equal(r.lsn, 20);
    expect_get(c, 0, "a", 1, NULL, 0);
    expect_get(c, 0, "b", 1, "2", -1);
    expect_get(c, 1, "a", 1, NULL, 0);
    expect_get(c, 1, "b", 1, NULL, 0);
    expect_get(c, 2, "a", 1, "5", -1);
    ckpt_close(c);
}

/* Key k<i> and its 1023-byte value v<i>xxx... of put_many. */
static size_t many_entry(int i, char key[32], char val[1024])
{
    memset(val, 'x', 1023);
    val[1023] = 0;
    int vl = snprintf(val, 16, "v%d", i);
    val[vl] = 'x';
    return (size_t)snprintf(key, 32, "k%d", i);
}

/* Writes n 1 KiB values k<i> = v<i>... through a writemap writer, i from
 * `from` on in steps of stride modulo n (1: ascending; a stride coprime
 * with n visits every i once, out of order). */
static int put_strided(struct ckpt *c, int from, int n, int stride)
{
    char key[32], val[1024];
    for (int j = 0; j < n; j++) {
        int i = from + (int)(((long long)j * stride) % n);
        size_t kl = many_entry(i, key, val);
        struct kv *kv = kv_new_str(key, kl, val, sizeof(val) - 1);
        int rc = ckpt_put(c, 0, kv, -1);
        kv_free(kv);
        if (rc) return rc;
    }
    return 0;
}

static int put_many(struct ckpt *c, int from, int n)
{
    return put_strided(c, from, n, 1);
}

static off_t file_size(void)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* KiB of this process's mappings of dir/data.mdb that are resident. */
static long mapped_kb(void)
{
    char want[300], line[4096];
    snprintf(want, sizeof(want), "%s/data.mdb", dir);
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    long kb = 0;
    bool in = false;
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        line[strcspn(line, "\n")] = 0;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) { /* a mapping's first line */
            size_t n = strlen(line), w = strlen(want);
            in = n > w && strcmp(line + n - w, want) == 0;
        } else if (in && strncmp(line, "Rss:", 4) == 0) {
            kb += atol(line + 4);
        }
    }
    fclose(f);
    return kb;
}

/* Reads back every step-th of the n values k<from>... from the store. */
static void expect_many(int from, int n, int step)
{
    struct ckpt *c = open_ro();
    for (int i = from; i < from + n; i += step) {
        char key[32], want[1024];
        size_t kl = many_entry(i, key, want);
        expect_get(c, 0, key, kl, want, -1);
    }
    ckpt_close(c);
}

static int update_out_of_order(struct ckpt *c)
{
    return put_strided(c, 0, 20000, 7919);
}

static int drop_db0(struct ckpt *c)
{
    return ckpt_drop_db(c, 0);
}

/* Runs op in a writemap writer's transaction, committed at lsn; returns
 * the KiB of the map resident right after op. */
static long resident_after(int (*op)(struct ckpt *), uint64_t lsn)
{
    struct ckpt *c;
    struct buf err = BUF_INIT;
    assert_int_equal(ckpt_open_writer(&c, dir, (uint64_t)256 << 20, &err), 0);
    assert_int_equal(ckpt_begin(c), 0);
    assert_int_equal(op(c), 0);
    long kb = mapped_kb();
    struct ckpt_meta m = meta_at(lsn);
    assert_int_equal(ckpt_commit(c, &m), 0);
    ckpt_close(c);
    buf_release(&err);
    return kb;
}

/* ckpt_open_writer: more than the trim interval written through the shared
 * map reads back intact, and the map is unmapped as the puts go (in key
 * order) and after the commit, so the writer's resident memory stays small;
 * running out of map fails the whole transaction (nothing of it is kept)
 * and says so; the file is cut to its data. */
static void test_writer_map(void **state)
{
    (void)state;
    struct ckpt *c = open_rw();
    assert_int_equal(ckpt_begin(c), 0);
    put_str(c, 0, "before", 6, "kept", -1);
    struct ckpt_meta m = meta_at(5);
    assert_int_equal(ckpt_commit(c, &m), 0);
    ckpt_close(c);

    /* room for far less than 40 MiB: the map runs out */
    struct buf err = BUF_INIT;
    assert_int_equal(ckpt_open_writer(&c, dir, 0, &err), 0);
    assert_int_equal(ckpt_begin(c), 0);
    int rc = put_many(c, 0, 40000);
    if (rc == 0) {
        m = meta_at(6);
        rc = ckpt_commit(c, &m);
    }
    assert_int_equal(rc, -ENOSPC);
    assert_true(ckpt_map_full(c));
    ckpt_close(c);
    c = open_ro();
    struct ckpt_meta r;
    assert_int_equal(ckpt_read_meta(c, &r), 0);
    assert_int_equal(r.lsn, 5);
    expect_get(c, 0, "before", 6, "kept", -1);
    expect_get(c, 0, "k0", 2, NULL, 0);
    ckpt_close(c);

    /* enough room: 40 MiB of values, trimmed along the way, all kept */
    assert_int_equal(ckpt_open_writer(&c, dir, (uint64_t)128 << 20, &err), 0);
    assert_int_equal(ckpt_begin(c), 0);
    assert_int_equal(put_many(c, 0, 40000), 0);
    long during = mapped_kb();
    assert_int_equal(ckpt_delete(c, 0, "before", 6), 0);
    m = meta_at(7);
    assert_int_equal(ckpt_commit(c, &m), 0);
    long after = mapped_kb();
    assert_false(ckpt_map_full(c));
    ckpt_close(c);
    /* 40 MiB went through the map; a few puts' pages are left mapped */
    if (during > 8 << 10 || after > 1 << 10)
        fail_msg("map resident: %ld KiB after the puts, %ld KiB after the commit", during, after);
    off_t size = file_size();
    assert_true(size >= (off_t)40000 * 1024);
    assert_true(size < (off_t)100 << 20); /* not the 128 MiB + file map */
    c = open_ro();
    assert_int_equal(ckpt_read_meta(c, &r), 0);
    assert_int_equal(r.lsn, 7);
    expect_get(c, 0, "before", 6, NULL, 0);
    ckpt_close(c);
    expect_many(0, 40000, 997);

    /* updates out of order (half the puts descend) all over the tree, 20
     * MiB of values (no trim by bytes): each copies its leaf, ~100 MiB
     * through the map, unmapped once past the budget (16 MiB) */
    during = resident_after(update_out_of_order, 8);
    if (during > 24 << 10) fail_msg("map resident: %ld KiB after out-of-order puts", during);
    expect_many(0, 40000, 991);

    /* dropping the db deletes all of it (every page searched): held to
     * the budget too */
    during = resident_after(drop_db0, 9);
    if (during > 24 << 10) fail_msg("map resident: %ld KiB after dropping the db", during);
    c = open_ro();
    expect_get(c, 0, "k0", 2, NULL, 0);
    ckpt_close(c);
    buf_release(&err);
}

/* ckpt_key_head never contradicts ckpt_key_cmp; keys appended in that
 * order (short and long, some out of order) all read back. */
static void test_append_order(void **state)
{
    (void)state;
    enum { N = 300 };
    static char keys[N][700];
    size_t lens[N];
    unsigned seed = 12345;
    for (int i = 0; i < N; i++) {
        bool dup;
        do { /* distinct keys */
            seed = seed * 1103515245u + 12345u;
            lens[i] = i % 10 == 0 ? 600 + (seed >> 8) % 90 : 1 + (seed >> 8) % 24;
            for (size_t j = 0; j < lens[i]; j++) {
                seed = seed * 1103515245u + 12345u;
                keys[i][j] = (char)("ab\xff\x00z"[(seed >> 16) % 5]);
            }
            dup = false;
            for (int j = 0; j < i && !dup; j++)
                dup = lens[j] == lens[i] && memcmp(keys[j], keys[i], lens[i]) == 0;
        } while (dup);
    }
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            uint8_t ha[CKPT_KEY_HEAD], hb[CKPT_KEY_HEAD];
            ckpt_key_head(keys[i], lens[i], ha);
            ckpt_key_head(keys[j], lens[j], hb);
            int h = memcmp(ha, hb, CKPT_KEY_HEAD),
                k = ckpt_key_cmp(keys[i], lens[i], keys[j], lens[j]);
            if (h) assert_true((h < 0) == (k < 0) && k != 0);
        }
    }
    /* selection order by ckpt_key_cmp, every 7th appended out of order */
    int order[N];
    for (int i = 0; i < N; i++) order[i] = i;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (ckpt_key_cmp(keys[order[j]], lens[order[j]], keys[order[i]], lens[order[i]]) < 0) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    struct ckpt *c = open_rw();
    assert_int_equal(ckpt_begin(c), 0);
    put_str(c, 1, "other-db", 8, "x", -1); /* a later db: appends fall back */
    for (int i = 0; i < N; i++) {
        int at = i % 7 == 3 && i + 1 < N ? order[i + 1] : i % 7 == 4 ? order[i - 1] : order[i];
        struct kv *kv = kv_new_str(keys[at], lens[at], "v", 1);
        assert_int_equal(ckpt_append(c, 0, kv, at), 0);
        kv_free(kv);
    }
    struct ckpt_meta m = meta_at(9);
    assert_int_equal(ckpt_commit(c, &m), 0);
    ckpt_close(c);
    c = open_ro();
    for (int i = 0; i < N; i++) expect_get(c, 0, keys[i], lens[i], "v", i);
    expect_get(c, 1, "other-db", 8, "x", -1);
    ckpt_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_drop_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_order, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
