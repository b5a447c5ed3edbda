/*
 * test_digest.c - SHA-1 against the FIPS 180 / RFC 3174 test vectors, and
 * the dataset digest: zero when empty, independent of insertion order and
 * encoding, sensitive to key, value, type, TTL and db index, blind to
 * expired keys, and refusing types without a digest hook.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/db.h"
#include "engine/digest.h"
#include "engine/lode.h"
#include "engine/object.h"
#include "engine/util.h"

static const char *hex_of(const uint8_t d[DIGEST_LEN])
{
    static char out[DIGEST_HEX_SIZE];
    digest_hex(d, out);
    return out;
}

static const char *sha1_hex(const void *p, size_t n)
{
    uint8_t d[DIGEST_LEN];
    digest_sha1(p, n, d);
    return hex_of(d);
}

static void test_sha1_vectors(void **state)
{
    (void)state;
    assert_string_equal(sha1_hex("", 0), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert_string_equal(sha1_hex("abc", 3), "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_string_equal(sha1_hex(two, strlen(two)), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    /* one million 'a', fed in uneven pieces to exercise the block buffer */
    struct digest_sha1 s;
    digest_sha1_init(&s);
    char chunk[997];
    memset(chunk, 'a', sizeof(chunk));
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
        digest_sha1_update(&s, chunk, n);
        left -= n;
    }
    uint8_t d[DIGEST_LEN];
    digest_sha1_final(&s, d);
    assert_string_equal(hex_of(d), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    /* lengths around the padding boundary (55, 56, 63, 64 bytes) */
    char buf[64];
    memset(buf, 'x', sizeof(buf));
    uint8_t a[DIGEST_LEN], b[DIGEST_LEN];
    for (size_t n = 54; n <= 64; n++) {
        digest_sha1(buf, n, a);
        digest_sha1_init(&s);
        for (size_t i = 0; i < n; i++) digest_sha1_update(&s, buf + i, 1);
        digest_sha1_final(&s, b);
        assert_memory_equal(a, b, DIGEST_LEN);
    }
}

static void set_str(struct engine *eng, int db, const char *k, const char *v)
{
    db_set(eng, &eng->dbs[db], kv_new_str(k, strlen(k), v, strlen(v)), false);
}

static const char *dataset_hex(struct engine *eng)
{
    uint8_t d[DIGEST_LEN];
    assert_int_equal(digest_dataset(eng, d, NULL), 0);
    return hex_of(d);
}

static void test_empty_is_zero(void **state)
{
    (void)state;
    struct engine eng;
    engine_init(&eng, 16);
    assert_string_equal(dataset_hex(&eng), "0000000000000000000000000000000000000000");
    set_str(&eng, 0, "k", "v");
    assert_string_not_equal(dataset_hex(&eng), "0000000000000000000000000000000000000000");
    db_delete(&eng, &eng.dbs[0], "k", 1);
    assert_string_equal(dataset_hex(&eng), "0000000000000000000000000000000000000000");
    engine_release(&eng);
}

static void test_order_and_encoding_independent(void **state)
{
    (void)state;
    struct engine a, b;
    engine_init(&a, 16);
    engine_init(&b, 16);
    enum { N = 2000 };
    char k[32], v[80];
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof(k), "key:%d", i);
        snprintf(v, sizeof(v), i % 3 ? "value-%d" : "%d", i);
        set_str(&a, i % 2, k, v);
    }
    for (int i = N - 1; i >= 0; i--) {
        snprintf(k, sizeof(k), "key:%d", i);
        snprintf(v, sizeof(v), i % 3 ? "value-%d" : "%d", i);
        set_str(&b, i % 2, k, v);
    }
    char ha[DIGEST_HEX_SIZE];
    snprintf(ha, sizeof(ha), "%s", dataset_hex(&a));
    assert_string_equal(ha, dataset_hex(&b));

    /* the same digits as ENC_INT and as raw bytes digest alike */
    struct db *db = &a.dbs[0];
    struct kv *old = db_find(db, "key:0", 5);
    assert_int_equal(old->enc, ENC_INT);
    db_replace(db, old, kv_to_raw(old, 64));
    assert_int_equal(db_find(db, "key:0", 5)->enc, ENC_RAW);
    assert_string_equal(ha, dataset_hex(&a));
    engine_release(&a);
    engine_release(&b);
}

static void test_sensitive_to_changes(void **state)
{
    (void)state;
    struct engine e;
    engine_init(&e, 16);
    set_str(&e, 0, "a", "1");
    set_str(&e, 0, "b", "hello");
    char base[DIGEST_HEX_SIZE], h[DIGEST_HEX_SIZE];
    snprintf(base, sizeof(base), "%s", dataset_hex(&e));

    set_str(&e, 0, "b", "hellp"); /* value */
    assert_string_not_equal(base, dataset_hex(&e));
    set_str(&e, 0, "b", "hello");
    assert_string_equal(base, dataset_hex(&e));

    db_delete(&e, &e.dbs[0], "b", 1); /* key moved to another db */
    set_str(&e, 1, "b", "hello");
    assert_string_not_equal(base, dataset_hex(&e));
    db_delete(&e, &e.dbs[1], "b", 1);
    set_str(&e, 0, "c", "hello"); /* key renamed */
    assert_string_not_equal(base, dataset_hex(&e));
    db_delete(&e, &e.dbs[0], "c", 1);
    set_str(&e, 0, "b", "hello");
    assert_string_equal(base, dataset_hex(&e));

    /* a TTL changes it, and a different TTL differs again */
    e.now_ms = 1000;
    struct kv *kv = db_find(&e.dbs[0], "b", 1);
    db_set_expire(&e.dbs[0], kv, 50000);
    snprintf(h, sizeof(h), "%s", dataset_hex(&e));
    assert_string_not_equal(base, h);
    db_set_expire(&e.dbs[0], kv, 60000);
    assert_string_not_equal(h, dataset_hex(&e));
    db_persist(&e.dbs[0], kv);
    assert_string_equal(base, dataset_hex(&e));

    /* an expired key is not part of the dataset */
    set_str(&e, 0, "gone", "x");
    db_set_expire(&e.dbs[0], db_find(&e.dbs[0], "gone", 4), 500);
    assert_string_equal(base, dataset_hex(&e));
    engine_release(&e);
}

static void test_digest_value(void **state)
{
    (void)state;
    struct kv *a = kv_new_str("k1", 2, "same", 4);
    struct kv *b = kv_new_str("k2", 2, "same", 4);
    struct kv *c = kv_new_str("k1", 2, "other", 5);
    uint8_t da[DIGEST_LEN], db[DIGEST_LEN], dc[DIGEST_LEN];
    assert_int_equal(digest_value(a, da), 0);
    assert_int_equal(digest_value(b, db), 0);
    assert_int_equal(digest_value(c, dc), 0);
    assert_memory_equal(da, db, DIGEST_LEN); /* the key is not part of it */
    assert_memory_not_equal(da, dc, DIGEST_LEN);
    kv_free(a);
    kv_free(b);
    kv_free(c);
}

/* A collection type registered with and without a digest hook. */
struct fake_list {
    int n;
    const char *items[4];
};

static void fake_free(void *p, int enc)
{
    (void)enc;
    lode_free(p);
}

static void fake_digest(const void *p, int enc, uint8_t out[20])
{
    (void)enc;
    const struct fake_list *l = p;
    for (int i = 0; i < l->n; i++) digest_mix(out, l->items[i], strlen(l->items[i]));
}

static void test_type_hook(void **state)
{
    (void)state;
    /* a type no module registers (types_init re-registers the real ones) */
    struct engine e;
    engine_init(&e, 16);
    static const struct obj_ops no_digest = {.free = fake_free};
    obj_register(OBJ_STREAM, &no_digest);
    struct fake_list *l = lode_calloc(sizeof(*l));
    l->n = 2;
    l->items[0] = "x";
    l->items[1] = "y";
    db_set(&e, &e.dbs[0], kv_new_obj("l", 1, OBJ_STREAM, 0, l), false);
    uint8_t d[DIGEST_LEN];
    int bad = -1;
    assert_int_equal(digest_dataset(&e, d, &bad), -ENOSYS);
    assert_int_equal(bad, OBJ_STREAM);

    static const struct obj_ops with_digest = {.free = fake_free, .digest = fake_digest};
    obj_register(OBJ_STREAM, &with_digest);
    char h1[DIGEST_HEX_SIZE];
    snprintf(h1, sizeof(h1), "%s", dataset_hex(&e));
    l->items[1] = "z";
    assert_string_not_equal(h1, dataset_hex(&e));
    /* a value of another type and a string with the same bytes differ by type */
    engine_release(&e);
    engine_init(&e, 16);
    struct fake_list *l2 = lode_calloc(sizeof(*l2));
    l2->n = 1;
    l2->items[0] = "xy";
    db_set(&e, &e.dbs[0], kv_new_obj("k", 1, OBJ_STREAM, 0, l2), false);
    snprintf(h1, sizeof(h1), "%s", dataset_hex(&e));
    db_delete(&e, &e.dbs[0], "k", 1);
    set_str(&e, 0, "k", "xy");
    assert_string_not_equal(h1, dataset_hex(&e));
    engine_release(&e);
}

int main(void)
{
    uint8_t seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    util_hash_seed(seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1_vectors),
        cmocka_unit_test(test_empty_is_zero),
        cmocka_unit_test(test_order_and_encoding_independent),
        cmocka_unit_test(test_sensitive_to_changes),
        cmocka_unit_test(test_digest_value),
        cmocka_unit_test(test_type_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
