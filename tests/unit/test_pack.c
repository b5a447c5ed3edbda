/*
 * test_pack.c - the packed entry sequence: every entry encoding, walking
 * both ways, insert / replace / delete against a model, find with skip,
 * and validation of malformed bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/lode.h"
#include "engine/pack.h"
#include "engine/util.h"

static void assert_entry(const uint8_t *e, const char *s, size_t n)
{
    char tmp[UTIL_LLSTR_SIZE];
    size_t len;
    const char *got = pk_str(e, tmp, &len);
    assert_int_equal(len, n);
    assert_memory_equal(got, s, n);
    assert_true(pk_eq(e, s, n));
}

static void test_encodings_round_trip(void **state)
{
    (void)state;
    static const char *vals[] = {"",
                                 "a",
                                 "0",
                                 "95",
                                 "96",
                                 "-1",
                                 "127",
                                 "-128",
                                 "128",
                                 "32767",
                                 "-32768",
                                 "32768",
                                 "2147483647",
                                 "-2147483648",
                                 "2147483648",
                                 "9223372036854775807",
                                 "-9223372036854775808",
                                 "9223372036854775808",
                                 "007",
                                 "-0",
                                 " 1",
                                 "1.5",
                                 "+1"};
    size_t nv = sizeof(vals) / sizeof(vals[0]);
    uint8_t *pk = pk_new();
    for (size_t i = 0; i < nv; i++) pk = pk_append(pk, vals[i], strlen(vals[i]));
    char big[300];
    memset(big, 'x', sizeof(big));
    pk = pk_append(pk, big, sizeof(big));
    assert_int_equal(pk_count(pk), nv + 1);
    assert_true(pk_validate(pk, pk_bytes(pk)));
    uint8_t *e = pk_first(pk);
    for (size_t i = 0; i < nv; i++, e = pk_next(pk, e)) assert_entry(e, vals[i], strlen(vals[i]));
    assert_entry(e, big, sizeof(big));
    assert_null(pk_next(pk, e));
    /* backwards */
    e = pk_last(pk);
    assert_entry(e, big, sizeof(big));
    for (size_t i = nv; i-- > 0;) {
        e = pk_prev(pk, e);
        assert_entry(e, vals[i], strlen(vals[i]));
    }
    assert_null(pk_prev(pk, e));
    long long v;
    assert_true(pk_ll(pk_at(pk, 1), &v) == false);
    assert_true(pk_ll(pk_at(pk, 2), &v));
    assert_int_equal(v, 0);
    assert_true(pk_ll(pk_at(pk, 16), &v));
    assert_true(v == LLONG_MIN);
    struct pk_val pv;
    pk_get(pk_at(pk, 5), &pv);
    assert_null(pv.s);
    assert_int_equal(pv.v, -1);
    pk_free(pk);
}

static void test_big_string_backlen(void **state)
{
    (void)state;
    /* bodies crossing 127, 16383 and 2^21 bytes exercise 1..4 back-length bytes */
    static const size_t sizes[] = {126, 127, 128, 16380, 16383, 16384, 2100000};
    uint8_t *pk = pk_new();
    char *s = lode_malloc(2100000);
    memset(s, 'q', 2100000);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) pk = pk_append(pk, s, sizes[i]);
    assert_true(pk_validate(pk, pk_bytes(pk)));
    uint8_t *e = pk_last(pk);
    for (size_t i = sizeof(sizes) / sizeof(sizes[0]); i-- > 0; e = pk_prev(pk, e)) {
        assert_non_null(e);
        assert_entry(e, s, sizes[i]);
    }
    lode_free(s);
    pk_free(pk);
}

/* A model: an array of strings. */
struct model {
    char *v[512];
    size_t n[512];
    int len;
};

static void check_model(uint8_t *pk, const struct model *m)
{
    assert_int_equal(pk_count(pk), m->len);
    assert_true(pk_validate(pk, pk_bytes(pk)));
    uint8_t *e = pk_first(pk);
    for (int i = 0; i < m->len; i++, e = pk_next(pk, e)) assert_entry(e, m->v[i], m->n[i]);
    assert_null(e);
    for (int i = 0; i < m->len; i++) {
        assert_entry(pk_at(pk, i), m->v[i], m->n[i]);
        assert_entry(pk_at(pk, i - m->len), m->v[i], m->n[i]);
    }
    assert_null(pk_at(pk, m->len));
    assert_null(pk_at(pk, -m->len - 1));
}

static void random_value(unsigned *seed, char *buf, size_t *n)
{
    int c = rand_r(seed) % 4;
    if (c == 0) {
        *n = (size_t)util_ll2str(buf, (long long)(rand_r(seed) % 200) - 100);
    } else if (c == 1) {
        long long v =
            (long long)(((unsigned long long)rand_r(seed) << 32) ^ (unsigned)rand_r(seed));
        *n = (size_t)util_ll2str(buf, rand_r(seed) % 2 ? v : -v);
    } else {
        *n = (size_t)(rand_r(seed) % (c == 2 ? 10 : 200));
        for (size_t i = 0; i < *n; i++) buf[i] = "ab0\x00\xff"[rand_r(seed) % 5];
    }
}

static void test_model_random_edits(void **state)
{
    (void)state;
    unsigned seed = 12345;
    struct model m = {.len = 0};
    uint8_t *pk = pk_new();
    char buf[256];
    size_t n;
    for (int step = 0; step < 4000; step++) {
        int op = rand_r(&seed) % 5;
        if (op <= 1 && m.len < 500) { /* insert at a random position */
            int at = rand_r(&seed) % (m.len + 1);
            random_value(&seed, buf, &n);
            uint8_t *e = at == m.len ? NULL : pk_at(pk, at);
            pk = pk_insert(pk, &e, buf, n);
            assert_entry(e, buf, n);
            memmove(&m.v[at + 1], &m.v[at], (size_t)(m.len - at) * sizeof(m.v[0]));
            memmove(&m.n[at + 1], &m.n[at], (size_t)(m.len - at) * sizeof(m.n[0]));
            m.v[at] = lode_malloc(n + 1);
            memcpy(m.v[at], buf, n);
            m.n[at] = n;
            m.len++;
        } else if (op == 2 && m.len) { /* replace */
            int at = rand_r(&seed) % m.len;
            random_value(&seed, buf, &n);
            uint8_t *e = pk_at(pk, at);
            pk = pk_replace(pk, &e, buf, n);
            assert_entry(e, buf, n);
            lode_free(m.v[at]);
            m.v[at] = lode_malloc(n + 1);
            memcpy(m.v[at], buf, n);
            m.n[at] = n;
        } else if (op == 3 && m.len) { /* delete a run */
            int at = rand_r(&seed) % m.len;
            uint32_t cnt = (uint32_t)(rand_r(&seed) % 4);
            uint8_t *e = pk_at(pk, at);
            pk = pk_delete(pk, &e, cnt);
            int gone = (int)cnt < m.len - at ? (int)cnt : m.len - at;
            for (int i = 0; i < gone; i++) lode_free(m.v[at + i]);
            memmove(&m.v[at], &m.v[at + gone], (size_t)(m.len - at - gone) * sizeof(m.v[0]));
            memmove(&m.n[at], &m.n[at + gone], (size_t)(m.len - at - gone) * sizeof(m.n[0]));
            m.len -= gone;
            if (at < m.len)
                assert_entry(e, m.v[at], m.n[at]);
            else
                assert_null(e);
        } else if (op == 4 && m.len) { /* find the first equal entry */
            int at = rand_r(&seed) % m.len;
            uint8_t *e = pk_find(pk, NULL, m.v[at], m.n[at], 0);
            int first = 0;
            while (m.n[first] != m.n[at] || memcmp(m.v[first], m.v[at], m.n[at]) != 0) first++;
            assert_ptr_equal(e, pk_at(pk, first));
        }
        if (step % 97 == 0) check_model(pk, &m);
    }
    check_model(pk, &m);
    uint8_t *copy = pk_dup(pk);
    assert_memory_equal(copy, pk, pk_bytes(pk));
    pk_free(copy);
    for (int i = 0; i < m.len; i++) lode_free(m.v[i]);
    pk_free(pk);
}

static void test_find_skip_pairs(void **state)
{
    (void)state;
    uint8_t *pk = pk_new();
    /* field/value pairs where a value equals a later field */
    const char *kv[] = {"f1", "f2", "f2", "v2", "10", "f1"};
    for (int i = 0; i < 6; i++) pk = pk_append(pk, kv[i], strlen(kv[i]));
    assert_ptr_equal(pk_find(pk, NULL, "f2", 2, 1), pk_at(pk, 2));
    assert_ptr_equal(pk_find(pk, NULL, "10", 2, 1), pk_at(pk, 4));
    assert_null(pk_find(pk, NULL, "v2", 2, 1));
    assert_ptr_equal(pk_find(pk, NULL, "v2", 2, 0), pk_at(pk, 3));
    pk = pk_delete_range(pk, -2, 2);
    assert_int_equal(pk_count(pk), 4);
    pk = pk_delete_range(pk, 10, 2);
    assert_int_equal(pk_count(pk), 4);
    pk = pk_prepend(pk, "first", 5);
    assert_entry(pk_first(pk), "first", 5);
    pk_free(pk);
}

static void test_validate_rejects(void **state)
{
    (void)state;
    uint8_t *pk = pk_new();
    pk = pk_append(pk, "hello", 5);
    pk = pk_append(pk, "12345", 5);
    pk = pk_append(pk, "x", 1);
    size_t n = pk_bytes(pk);
    assert_true(pk_validate(pk, n));
    assert_false(pk_validate(pk, n - 1));
    assert_false(pk_validate(pk, 3));
    uint8_t *bad = pk_dup(pk);
    /* every single-byte corruption either still validates (and then walks
     * safely) or is rejected; never a crash */
    for (size_t i = 0; i < n; i++) {
        for (int flip = 1; flip < 256; flip <<= 1) {
            memcpy(bad, pk, n);
            bad[i] ^= (uint8_t)flip;
            if (pk_validate(bad, n)) {
                for (uint8_t *e = pk_first(bad); e; e = pk_next(bad, e)) {
                    char tmp[UTIL_LLSTR_SIZE];
                    size_t l;
                    (void)pk_str(e, tmp, &l);
                }
            }
        }
    }
    /* a canonical integer stored as a string is refused */
    uint8_t raw[] = {11, 0, 0, 0, 1, 0, 0, 0, 1, '7', 2};
    assert_false(pk_validate(raw, sizeof(raw)));
    raw[9] = 'a';
    assert_true(pk_validate(raw, sizeof(raw)));
    /* count mismatch */
    raw[4] = 2;
    assert_false(pk_validate(raw, sizeof(raw)));
    pk_free(bad);
    pk_free(pk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encodings_round_trip), cmocka_unit_test(test_big_string_backlen),
        cmocka_unit_test(test_model_random_edits),   cmocka_unit_test(test_find_skip_pairs),
        cmocka_unit_test(test_validate_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
