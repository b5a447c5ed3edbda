/*
 * test_db.c - the keyspace (db.h): lazy expiry on lookup (and hiding on a
 * read-only replica), active expiry, the SCAN guarantee on a db that grows
 * while it is scanned, db_move (RENAME/MOVE keep the TTL and do not copy
 * the value) and the change hooks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/db.h"
#include "engine/lode.h"
#include "engine/util.h"

#define NOW 1700000000000LL

/* Hook recorders. */
static int changed_calls;
static char last_changed[64], last_expired[64];

static void on_changed(struct engine *eng, struct db *db, const char *key, size_t klen)
{
    (void)eng;
    (void)db;
    changed_calls++;
    snprintf(last_changed, sizeof(last_changed), "%.*s", (int)klen, key);
}

/* Expiry deletions are logged as DEL effects: counts them in eng->eff and
 * records the key of the last one in last_expired. */
static int count_expired(struct engine *eng)
{
    static const char del[] = "*2\r\n$3\r\nDEL\r\n$";
    int n = 0;
    const char *p = eng->eff.cmds.ptr, *end = p + eng->eff.cmds.len;
    while (p && p < end) {
        const char *hit = memmem(p, (size_t)(end - p), del, sizeof(del) - 1);
        if (!hit) break;
        n++;
        const char *len = hit + sizeof(del) - 1;
        int klen = atoi(len);
        const char *key = strstr(len, "\r\n") + 2;
        snprintf(last_expired, sizeof(last_expired), "%.*s", klen, key);
        p = key + klen;
    }
    return n;
}
#define expired_calls count_expired(&eng)

static void setup_engine(struct engine *eng)
{
    engine_init(eng, 4);
    eng->now_ms = NOW;
    eng->on_key_changed = on_changed;
    changed_calls = 0;
    last_changed[0] = last_expired[0] = '\0';
}

static struct kv *add_str(struct engine *eng, struct db *db, const char *key, const char *val)
{
    struct kv *kv = kv_new_str(key, strlen(key), val, strlen(val));
    db_add(eng, db, kv);
    return kv;
}

static struct kv *lookup(struct engine *eng, struct db *db, const char *key)
{
    return db_lookup(eng, db, key, strlen(key), 0);
}

static void test_lazy_expiry_on_lookup(void **state)
{
    (void)state;
    struct engine eng;
    setup_engine(&eng);
    struct db *db = &eng.dbs[0];
    struct kv *kv = add_str(&eng, db, "k", "v");
    add_str(&eng, db, "keep", "v");
    db_set_expire(db, kv, NOW + 100);
    assert_int_equal(db_expire_of(db, kv), NOW + 100);

    /* one ms before the deadline the key is live */
    eng.now_ms = NOW + 99;
    assert_ptr_equal(lookup(&eng, db, "k"), kv);
    assert_int_equal(expired_calls, 0);

    /* at the deadline it is gone, deleted on the way and reported */
    eng.now_ms = NOW + 100;
    changed_calls = 0;
    assert_null(lookup(&eng, db, "k"));
    assert_int_equal(db_size(db), 1);
    assert_int_equal(db_expires_count(db), 0);
    assert_int_equal(expired_calls, 1);
    assert_string_equal(last_expired, "k");
    assert_int_equal(changed_calls, 1);
    assert_int_equal(eng.stats.expired_keys, 1);
    assert_int_equal(eng.stats.keyspace_misses, 1);
    assert_non_null(lookup(&eng, db, "keep"));
    engine_release(&eng);
}

static void test_replica_hides_expired_keys(void **state)
{
    (void)state;
    struct engine eng;
    setup_engine(&eng);
    eng.readonly_replica = true;
    struct db *db = &eng.dbs[0];
    db_set_expire(db, add_str(&eng, db, "k", "v"), NOW);
    assert_null(lookup(&eng, db, "k"));
    /* hidden, not deleted: the master's DEL will remove it */
    assert_int_equal(db_size(db), 1);
    assert_int_equal(expired_calls, 0);
    assert_int_equal(db_active_expire(&eng, 1000000), 0);
    assert_int_equal(db_size(db), 1);
    engine_release(&eng);
}

static void test_active_expiry(void **state)
{
    (void)state;
    struct engine eng;
    setup_engine(&eng);
    enum { N = 2000 };
    char key[32];
    for (int d = 0; d < 2; d++) {
        struct db *db = &eng.dbs[d];
        for (int i = 0; i < N; i++) {
            snprintf(key, sizeof(key), "v%d", i);
            struct kv *kv = add_str(&eng, db, key, "x");
            /* half expire at NOW + 10, half much later */
            db_set_expire(db, kv, i % 2 ? NOW + 10 : NOW + 1000000);
            snprintf(key, sizeof(key), "p%d", i);
            add_str(&eng, db, key, "x");
        }
    }
    /* nothing is due yet */
    assert_int_equal(db_active_expire(&eng, 1000000), 0);
    eng.now_ms = NOW + 10;
    /* each cycle stops once a sample is mostly live; repeated cycles (the
     * cron's job) remove every due key and nothing else */
    long long total = 0;
    for (int round = 0; round < 10000 && total < N; round++)
        total += db_active_expire(&eng, 1000000);
    assert_int_equal(total, N);
    assert_int_equal(expired_calls, N);
    assert_int_equal(eng.stats.expired_keys, N);
    for (int d = 0; d < 2; d++) {
        struct db *db = &eng.dbs[d];
        assert_int_equal(db_size(db), N + N / 2);
        assert_int_equal(db_expires_count(db), N / 2);
        for (int i = 0; i < N; i++) {
            snprintf(key, sizeof(key), "v%d", i);
            struct kv *kv = db_find(db, key, strlen(key));
            if (i % 2)
                assert_null(kv);
            else
                assert_non_null(kv);
        }
    }
    engine_release(&eng);
}

/* dict_sample may return an element twice (it can revisit a bucket after a
 * random jump): the cycle must still delete each key exactly once. */
static void test_active_expiry_small_tables(void **state)
{
    (void)state;
    struct engine eng;
    setup_engine(&eng);
    struct db *db = &eng.dbs[0];
    char key[32];
    long long expected = 0;
    for (int round = 0; round < 300; round++) {
        int n = 1 + round % 40;
        for (int i = 0; i < n; i++) {
            snprintf(key, sizeof(key), "r%d-%d", round, i);
            db_set_expire(db, add_str(&eng, db, key, "x"), eng.now_ms);
        }
        expected += n;
        while (db_expires_count(db)) db_active_expire(&eng, 1000000);
        assert_int_equal(db_size(db), 0);
    }
    assert_int_equal(eng.stats.expired_keys, expected);
    assert_int_equal(expired_calls, expected);
    engine_release(&eng);
}

struct seen {
    unsigned char *hit; /* per original key */
    int n;
};

static void mark_seen(struct kv *kv, void *priv)
{
    struct seen *s = priv;
    if (kv->klen > 1 && kv->klen < 32 && kv_key(kv)[0] == 'o') {
        char num[32]; /* key bytes are not NUL-terminated */
        memcpy(num, kv_key(kv) + 1, kv->klen - 1);
        num[kv->klen - 1] = '\0';
        int i = atoi(num);
        if (i >= 0 && i < s->n) s->hit[i] = 1;
    }
}

static void test_scan_guarantee_while_growing(void **state)
{
    (void)state;
    struct engine eng;
    setup_engine(&eng);
    struct db *db = &eng.dbs[0];
    enum { N = 5000 };
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "o%d", i);
        add_str(&eng, db, key, "x");
    }
    struct seen s = {calloc(N, 1), N};
    uint64_t cursor = 0;
    int added = 0, steps = 0;
    size_t buckets_before = dict_buckets(&db->keys);
    do {
        cursor = db_scan(db, cursor, mark_seen, &s);
        /* the db grows between calls, to 5x its size (several doublings),
         * then stays put so that the walk can finish */
        for (int k = 0; k < 40 && added < 4 * N; k++, added++) {
            snprintf(key, sizeof(key), "g%d", added);
            add_str(&eng, db, key, "x");
        }
        steps++;
    } while (cursor != 0 && steps < 1000000);
    assert_int_equal(cursor, 0);
    assert_int_equal(added, 4 * N);
    assert_true(dict_buckets(&db->keys) >= buckets_before * 4);
    for (int i = 0; i < N; i++) assert_true(s.hit[i]);
    free(s.hit);
    engine_release(&eng);
}

static void test_move_keeps_ttl_and_value(void **state)
{
    (void)state;
    struct engine eng;
    setup_engine(&eng);
    struct db *db = &eng.dbs[0], *db2 = &eng.dbs[2];
    char big[100];
    memset(big, 'b', sizeof(big));
    struct kv *kv = kv_new_str("src", 3, big, sizeof(big));
    db_add(&eng, db, kv);
    db_set_expire(db, kv, NOW + 5000);
    void *val = kv->v.ptr;
    kv->lru = 7;

    /* RENAME: same db, new key; the raw value moves without a copy */
    changed_calls = 0;
    struct kv *moved = db_move(&eng, db, "src", 3, db, "dst", 3);
    assert_non_null(moved);
    assert_ptr_equal(moved->v.ptr, val);
    assert_int_equal(moved->lru, 7);
    assert_int_equal(moved->enc, ENC_RAW);
    assert_null(db_find(db, "src", 3));
    assert_ptr_equal(db_find(db, "dst", 3), moved);
    assert_int_equal(db_expire_of(db, moved), NOW + 5000);
    assert_int_equal(db_expires_count(db), 1);
    assert_int_equal(changed_calls, 2);
    assert_string_equal(last_changed, "dst");

    /* MOVE: another db, same key */
    moved = db_move(&eng, db, "dst", 3, db2, "dst", 3);
    assert_non_null(moved);
    assert_int_equal(db_size(db), 0);
    assert_int_equal(db_expires_count(db), 0);
    assert_int_equal(db_expire_of(db2, moved), NOW + 5000);
    assert_ptr_equal(moved->v.ptr, val);

    /* an embedded value and an integer survive a rename, encoding kept */
    struct kv *e = add_str(&eng, db, "e", "short");
    assert_int_equal(e->enc, ENC_EMBSTR);
    struct kv *e2 = db_move(&eng, db, "e", 1, db, "e-renamed", 9);
    char tmp[UTIL_LLSTR_SIZE];
    size_t n;
    const char *p = kv_str(e2, tmp, &n);
    assert_int_equal(n, 5);
    assert_memory_equal(p, "short", 5);
    assert_int_equal(e2->enc, ENC_EMBSTR);
    assert_int_equal(db_expire_of(db, e2), -1);
    add_str(&eng, db, "i", "12345");
    struct kv *i2 = db_move(&eng, db, "i", 1, db, "j", 1);
    assert_int_equal(i2->enc, ENC_INT);
    assert_int_equal(i2->v.i, 12345);

    /* an absent key: NULL and nothing changes */
    changed_calls = 0;
    assert_null(db_move(&eng, db, "nokey", 5, db, "x", 1));
    assert_int_equal(changed_calls, 0);
    engine_release(&eng);
}

static void test_key_changed_hook(void **state)
{
    (void)state;
    struct engine eng;
    setup_engine(&eng);
    changed_calls = 0;
    db_key_changed(&eng, &eng.dbs[1], "ttl-only", 8);
    assert_int_equal(changed_calls, 1);
    assert_string_equal(last_changed, "ttl-only");
    eng.on_key_changed = NULL;
    db_key_changed(&eng, &eng.dbs[1], "x", 1); /* no hook: no-op */
    engine_release(&eng);
}

int main(void)
{
    uint8_t seed[16] = {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    util_hash_seed(seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lazy_expiry_on_lookup),
        cmocka_unit_test(test_replica_hides_expired_keys),
        cmocka_unit_test(test_active_expiry),
        cmocka_unit_test(test_active_expiry_small_tables),
        cmocka_unit_test(test_scan_guarantee_while_growing),
        cmocka_unit_test(test_move_keeps_ttl_and_value),
        cmocka_unit_test(test_key_changed_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
