/*
 * test_ckwriter.c - the checkpoint writer thread: a db written whole,
 * handed over out of order (as the loop's hash-order scan does), is stored
 * in key order through sorted runs: every key with its last value, none of
 * the db's old keys, the other dbs changed key by key, and a file as
 * compact as appending makes it.
 */
#include "engine/lode.h"
#include "engine/object.h"
#include "engine/util.h"
#include "wal/ckpt.h"
#include "wal/ckwriter.h"

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

static char root[256], dir[300], other[300];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/lode_test_ckwriter_XXXXXX");
    assert_non_null(mkdtemp(root));
    snprintf(dir, sizeof(dir), "%s/checkpoint", root);
    snprintf(other, sizeof(other), "%s/unsorted", root);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

#define NKEYS 20000

/* Key i's value in version v: ~100 bytes. */
static size_t value_of(int i, int v, char *out)
{
    return (size_t)sprintf(out, "value-%d-%d-%090d", i, v, i);
}

static size_t key_of(int i, char *out)
{
    return (size_t)sprintf(out, "key:%08d", i);
}

/* The order of the n keys: scrambled, as a hash table's is. */
static int nth(int j)
{
    return (int)(((long long)j * 7919) % NKEYS);
}

static void expect_str(struct ckpt *c, uint32_t db, const char *k, size_t klen, const char *v,
                       size_t vlen)
{
    struct kv *kv = NULL;
    long long e = 0;
    int rc = ckpt_get(c, db, k, klen, &kv, &e);
    if (!v) {
        if (rc != 0) fail_msg("%.*s in db %u: present, should not be", (int)klen, k, db);
        return;
    }
    if (rc != 1) fail_msg("%.*s in db %u: missing", (int)klen, k, db);
    char tmp[UTIL_LLSTR_SIZE];
    size_t len;
    const char *s = kv_str(kv, tmp, &len);
    assert_int_equal(len, vlen);
    assert_memory_equal(s, v, len);
    kv_free(kv);
}

static off_t size_of(const char *d)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/data.mdb", d);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void put_str(struct ckpt *c, uint32_t db, const char *k, const char *v)
{
    struct kv *kv = kv_new_str(k, strlen(k), v, strlen(v));
    assert_int_equal(ckpt_put(c, db, kv, -1), 0);
    kv_free(kv);
}

/* A previous checkpoint (LSN 3) of the n (db, key, value) triples. */
static void previous(const uint32_t *dbs, const char *const *kv, int n)
{
    struct ckpt *c = NULL;
    struct buf err = BUF_INIT;
    assert_int_equal(ckpt_open(&c, dir, false, &err), 0);
    buf_release(&err);
    assert_int_equal(ckpt_begin(c), 0);
    for (int i = 0; i < n; i++) put_str(c, dbs[i], kv[2 * i], kv[2 * i + 1]);
    struct ckpt_meta m = {.version = CKPT_VERSION, .lsn = 3, .time_ms = 1};
    memset(m.replid, '0', sizeof(m.replid));
    assert_int_equal(ckpt_commit(c, &m), 0);
    ckpt_close(c);
}

/* A writer of two dbs, db drop written whole, in runs of 64 KiB, its
 * sort file in sort_dir (NULL: beside the store). */
static struct ckwriter *start_sorting_in(int drop, const char *sort_dir)
{
    static bool flags[2];
    flags[0] = drop == 0;
    flags[1] = drop == 1;
    struct ckw_options o = {.dir = dir,
                            .room = (uint64_t)64 << 20,
                            .drop = flags,
                            .ndbs = 2,
                            .run_bytes = 64 << 10,
                            .sort_dir = sort_dir};
    struct ckwriter *w = NULL;
    assert_int_equal(ckw_start(&w, &o), 0);
    ckw_wait_sorted(w);
    return w;
}

static struct ckwriter *start(int drop)
{
    return start_sorting_in(drop, NULL);
}

/* Hands every key over to db, version 0, out of order; each key that
 * drop_every divides is then handed over as gone (0: none). */
static void hand_over_all(struct ckwriter *w, uint32_t db, int drop_every)
{
    char key[32], val[128];
    for (int j = 0; j < NKEYS; j++) {
        int i = nth(j);
        size_t kl = key_of(i, key), vl = value_of(i, 0, val);
        struct kv *kv = kv_new_str(key, kl, val, vl);
        assert_int_equal(ckw_put_kv(w, db, kv, -1), 0);
        kv_free(kv);
        if (drop_every && i % drop_every == 0) ckw_delete(w, db, key, kl);
        if (j % 512 == 0) ckw_wait_room(w, 1 << 20);
    }
}

static void test_db_written_whole(void **state)
{
    (void)state;
    /* a previous checkpoint: db 1 is to be replaced, db 0 updated (a db
     * written whole goes in by appends when no higher db has keys) */
    previous((const uint32_t[]){1, 1, 0, 0, 0},
             (const char *const[]){"stale", "gone after the drop", "key:00000007", "old value",
                                   "kept", "untouched", "changed", "before", "deleted", "before"},
             5);
    struct ckpt *c = NULL;
    struct buf err = BUF_INIT;
    struct ckwriter *w = start(1);
    char key[32], val[128];
    /* every key, then a second version of every third key (a key saved
     * again), all out of order, with the other db's changes among them */
    for (int v = 0; v < 2; v++) {
        for (int j = 0; j < NKEYS; j++) {
            int i = nth(j);
            if (v == 1 && i % 3) continue;
            size_t kl = key_of(i, key), vl = value_of(i, v, val);
            struct kv *kv = kv_new_str(key, kl, val, vl);
            assert_int_equal(ckw_put_kv(w, 1, kv, -1), 0);
            kv_free(kv);
            if (j == NKEYS / 2 && v == 0) {
                kv = kv_new_str("changed", 7, "after", 5);
                assert_int_equal(ckw_put_kv(w, 0, kv, -1), 0);
                kv_free(kv);
                ckw_delete(w, 0, "deleted", 7);
            }
            if (j % 512 == 0) ckw_wait_room(w, 1 << 20);
        }
    }
    ckw_finish(w, 9, "", 0);
    bool map_full = true;
    assert_int_equal(ckw_end(w, false, &err, &map_full), CKW_DONE);
    assert_false(map_full);
    buf_release(&err);

    assert_int_equal(ckpt_open(&c, dir, true, &err), 0);
    struct ckpt_meta r;
    assert_int_equal(ckpt_read_meta(c, &r), 0);
    assert_int_equal(r.lsn, 9);
    for (int i = 0; i < NKEYS; i++) {
        size_t kl = key_of(i, key), vl = value_of(i, i % 3 ? 0 : 1, val);
        expect_str(c, 1, key, kl, val, vl);
    }
    expect_str(c, 1, "stale", 5, NULL, 0);
    expect_str(c, 0, "kept", 4, "untouched", 9);
    expect_str(c, 0, "changed", 7, "after", 5);
    expect_str(c, 0, "deleted", 7, NULL, 0);
    ckpt_close(c);

    /* the same entries put in the order they came: LMDB splits pages all
     * over the tree and leaves them part full */
    assert_int_equal(ckpt_open_writer(&c, other, (uint64_t)64 << 20, &err), 0);
    assert_int_equal(ckpt_begin(c), 0);
    for (int j = 0; j < NKEYS; j++) {
        int i = nth(j);
        size_t kl = key_of(i, key), vl = value_of(i, i % 3 ? 0 : 1, val);
        struct kv *kv = kv_new_str(key, kl, val, vl);
        assert_int_equal(ckpt_put(c, 1, kv, -1), 0);
        kv_free(kv);
    }
    struct ckpt_meta m = {.version = CKPT_VERSION, .lsn = 9, .time_ms = 1};
    memset(m.replid, '0', sizeof(m.replid));
    assert_int_equal(ckpt_commit(c, &m), 0);
    ckpt_close(c);
    buf_release(&err);
    off_t sorted = size_of(dir), unsorted = size_of(other);
    if (sorted * 10 > unsorted * 8)
        fail_msg("data.mdb: %lld bytes written in key order, %lld in the order handed over",
                 (long long)sorted, (long long)unsorted);
}

/* A db written whole below a db that keeps its keys: its keys can't be
 * appended (LMDB appends only after the last key of all) and go in by
 * ordinary puts, still in key order; spilled runs and all. */
static void written_whole_below_others(const char *sort_dir)
{
    previous((const uint32_t[]){0, 1},
             (const char *const[]){"stale", "gone after the drop", "kept", "untouched"}, 2);
    struct ckpt *c = NULL;
    struct buf err = BUF_INIT;
    struct ckwriter *w = start_sorting_in(0, sort_dir);
    hand_over_all(w, 0, 7); /* every 7th saved, then found gone */
    ckw_finish(w, 10, "", 0);
    char key[32], val[128];
    assert_int_equal(ckw_end(w, false, &err, NULL), CKW_DONE);
    assert_int_equal(ckpt_open(&c, dir, true, &err), 0);
    for (int i = 0; i < NKEYS; i++) {
        size_t kl = key_of(i, key), vl = value_of(i, 0, val);
        expect_str(c, 0, key, kl, i % 7 ? val : NULL, vl);
    }
    expect_str(c, 0, "stale", 5, NULL, 0);
    expect_str(c, 1, "kept", 4, "untouched", 9);
    ckpt_close(c);
    buf_release(&err);
}

static void test_db_written_whole_below_others(void **state)
{
    (void)state;
    written_whole_below_others(NULL);
}

/* No sort file can be made (as on a full disk): what the runs hold is
 * written at once and the rest as it comes; the checkpoint is the same. */
static void test_sort_file_fails(void **state)
{
    (void)state;
    char missing[400];
    snprintf(missing, sizeof(missing), "%s/missing", root);
    written_whole_below_others(missing);
}

/* A cancel after the last block (SHUTDOWN) stops the merge of the runs:
 * either nothing is committed (the previous checkpoint stays, whole) or,
 * when the merge and commit won the race, everything is. */
static void test_cancel_during_merge(void **state)
{
    (void)state;
    previous((const uint32_t[]){0}, (const char *const[]){"stale", "before"}, 1);
    struct ckwriter *w = start(0);
    hand_over_all(w, 0, 0);
    ckw_finish(w, 11, "", 0);
    char key[32], val[128];
    ckw_wait_room(w, 1); /* every block taken: the merge is next */
    struct buf err = BUF_INIT;
    int st = ckw_end(w, true, &err, NULL);
    struct ckpt *c = NULL;
    assert_int_equal(ckpt_open(&c, dir, true, &err), 0);
    struct ckpt_meta r;
    assert_int_equal(ckpt_read_meta(c, &r), 0);
    if (st == CKW_FAILED) {
        assert_non_null(strstr(err.ptr, "cancelled"));
        assert_int_equal(r.lsn, 3);
        expect_str(c, 0, "stale", 5, "before", 6);
        size_t kl = key_of(nth(0), key);
        expect_str(c, 0, key, kl, NULL, 0);
    } else {
        assert_int_equal(st, CKW_DONE);
        assert_int_equal(r.lsn, 11);
        expect_str(c, 0, "stale", 5, NULL, 0);
        for (int i = 0; i < NKEYS; i += 97) {
            size_t kl = key_of(i, key), vl = value_of(i, 0, val);
            expect_str(c, 0, key, kl, val, vl);
        }
    }
    ckpt_close(c);
    buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_db_written_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_written_whole_below_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sort_file_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_during_merge, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
