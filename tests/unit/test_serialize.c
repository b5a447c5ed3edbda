/*
 * test_serialize.c - checkpoint value encoding: round trips, and every
 * truncation or bit flip of a valid value is rejected or decodes to a
 * value that itself round-trips.
 */
#include "engine/lode.h"
#include "engine/serialize.h"
#include "engine/util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void assert_same(const struct kv *a, const struct kv *b)
{
    char t1[UTIL_LLSTR_SIZE], t2[UTIL_LLSTR_SIZE];
    size_t l1, l2;
    assert_int_equal(a->klen, b->klen);
    assert_memory_equal(kv_key(a), kv_key(b), a->klen);
    assert_int_equal(a->type, b->type);
    const char *s1 = kv_str(a, t1, &l1), *s2 = kv_str(b, t2, &l2);
    assert_int_equal(l1, l2);
    if (l1) assert_memory_equal(s1, s2, l1);
}

/* Serializes kv, parses it back, checks it is the same and returns the
 * decoded encoding. */
static int round_trip(struct kv *kv, long long exp)
{
    struct buf b = BUF_INIT;
    assert_int_equal(serialize_kv(&b, kv, exp), 0);
    struct kv *back = NULL;
    long long e2 = 0;
    assert_int_equal(serialize_parse_kv(b.ptr, b.len, &back, &e2), 0);
    assert_same(kv, back);
    assert_int_equal(e2, exp);
    const char *key;
    size_t klen;
    assert_int_equal(serialize_peek_key(b.ptr, b.len, &key, &klen), 0);
    assert_int_equal(klen, kv->klen);
    int enc = back->enc;
    kv_free(back);
    kv_free(kv);
    buf_release(&b);
    return enc;
}

static void test_round_trips(void **state)
{
    (void)state;
    assert_int_equal(round_trip(kv_new_int("k", 1, 42), -1), ENC_INT);
    assert_int_equal(round_trip(kv_new_int("k", 1, INT64_MIN), 1700000000000LL), ENC_INT);
    assert_int_equal(round_trip(kv_new_int("k", 1, INT64_MAX), 0), ENC_INT);
    assert_int_equal(round_trip(kv_new_str("key", 3, "hello", 5), -1), ENC_EMBSTR);
    assert_int_equal(round_trip(kv_new_str("", 0, "", 0), -1), ENC_EMBSTR);
    char big[1000];
    for (size_t i = 0; i < sizeof(big); i++) big[i] = (char)(i * 7);
    assert_int_equal(round_trip(kv_new_str("r", 1, big, sizeof(big)), 123456), ENC_RAW);
    /* binary keys, a NUL inside */
    assert_int_equal(round_trip(kv_new_str("a\0b\xff", 4, "v\0", 2), -1), ENC_EMBSTR);
    /* a long key */
    assert_int_equal(round_trip(kv_new_str(big, sizeof(big), "x", 1), 5), ENC_EMBSTR);
    /* an integer-looking string kept as bytes reloads as an integer */
    assert_int_equal(round_trip(kv_new_bytes("k", 1, "123", 3), -1), ENC_INT);
}

static void check_mutations(struct kv *kv, long long exp)
{
    struct buf b = BUF_INIT;
    assert_int_equal(serialize_kv(&b, kv, exp), 0);
    uint8_t *p = (uint8_t *)b.ptr;
    /* every truncation is rejected */
    for (size_t n = 0; n < b.len; n++) {
        struct kv *out = NULL;
        long long e;
        assert_int_equal(serialize_parse_kv(p, n, &out, &e), LODE_ECORRUPT);
        assert_null(out);
    }
    /* one extra byte is rejected */
    uint8_t *longer = malloc(b.len + 1);
    memcpy(longer, p, b.len);
    longer[b.len] = 0;
    struct kv *out = NULL;
    long long e;
    assert_int_equal(serialize_parse_kv(longer, b.len + 1, &out, &e), LODE_ECORRUPT);
    free(longer);
    /* every bit flip: rejected, or a value that round-trips */
    for (size_t i = 0; i < b.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            p[i] ^= (uint8_t)(1 << bit);
            out = NULL;
            int rc = serialize_parse_kv(p, b.len, &out, &e);
            if (rc == 0) {
                assert_non_null(out);
                round_trip(out, e);
            } else {
                assert_true(rc == LODE_ECORRUPT || rc == LODE_EVERSION);
                assert_null(out);
            }
            p[i] ^= (uint8_t)(1 << bit);
        }
    }
    buf_release(&b);
    kv_free(kv);
}

static void test_mutations(void **state)
{
    (void)state;
    check_mutations(kv_new_int("key", 3, 1234567), -1);
    check_mutations(kv_new_str("key\x01", 4, "value", 5), 1700000000000LL);
    char big[100];
    memset(big, 'z', sizeof(big));
    check_mutations(kv_new_str("k", 1, big, sizeof(big)), -1);
}

static void test_unknown_type(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    struct kv *kv = kv_new_str("k", 1, "v", 1);
    assert_int_equal(serialize_kv(&b, kv, -1), 0);
    struct kv *out = NULL;
    long long e;
    b.ptr[0] = SER_TYPE_STREAM; /* reserved: a newer writer */
    assert_int_equal(serialize_parse_kv(b.ptr, b.len, &out, &e), LODE_EVERSION);
    b.ptr[0] = 0;
    assert_int_equal(serialize_parse_kv(b.ptr, b.len, &out, &e), LODE_ECORRUPT);
    b.ptr[0] = SER_TYPE_STRING;
    b.ptr[1] = 9;
    assert_int_equal(serialize_parse_kv(b.ptr, b.len, &out, &e), LODE_EVERSION);
    kv_free(kv);
    buf_release(&b);
}

static void test_lz4(void **state)
{
    (void)state;
    /* a long compressible string is stored LZ4-compressed, and smaller */
    static char big[20000];
    for (size_t i = 0; i < sizeof(big); i++) big[i] = (char)('a' + (i / 100) % 26);
    struct kv *kv = kv_new_str("k", 1, big, sizeof(big));
    struct buf b = BUF_INIT;
    assert_int_equal(serialize_kv(&b, kv, 42), 0);
    assert_int_equal((uint8_t)b.ptr[1], SER_ENC_LZ4);
    assert_true(b.len < sizeof(big) / 4);
    struct kv *back = NULL;
    long long e = 0;
    assert_int_equal(serialize_parse_kv(b.ptr, b.len, &back, &e), 0);
    assert_same(kv, back);
    assert_int_equal(e, 42);
    kv_free(back);
    /* a claimed length LZ4 could never produce is refused before any
     * allocation; truncations are refused */
    size_t off = SER_HEADER + 1;
    uint8_t saved = (uint8_t)b.ptr[off + 7];
    b.ptr[off + 7] = 0x7f;
    assert_int_equal(serialize_parse_kv(b.ptr, b.len, &back, &e), LODE_ECORRUPT);
    b.ptr[off + 7] = (char)saved;
    for (size_t cut = SER_HEADER; cut < b.len; cut += 7)
        assert_int_equal(serialize_parse_kv(b.ptr, cut, &back, &e), LODE_ECORRUPT);
    buf_release(&b);
    kv_free(kv);
    /* incompressible bytes stay plain */
    static char noise[5000];
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < sizeof(noise); i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise[i] = (char)x;
    }
    kv = kv_new_str("n", 1, noise, sizeof(noise));
    assert_int_equal(serialize_kv(&b, kv, -1), 0);
    assert_int_equal((uint8_t)b.ptr[1], SER_ENC_BYTES);
    buf_release(&b);
    kv_free(kv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_lz4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
