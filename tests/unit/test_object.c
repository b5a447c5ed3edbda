/*
 * test_object.c - key entries and string encodings: integer, embedded and
 * raw forms, conversions, copies, memory accounting and its exactness.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "engine/lode.h"
#include "engine/object.h"
#include "engine/util.h"

static void assert_value(const struct kv *kv, const char *want)
{
    char tmp[UTIL_LLSTR_SIZE];
    size_t n;
    const char *p = kv_str(kv, tmp, &n);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(p, want, n);
}

static void test_encodings(void **state)
{
    (void)state;
    struct kv *a = kv_new_str("k", 1, "12345", 5);
    assert_int_equal(a->enc, ENC_INT);
    assert_value(a, "12345");
    struct kv *b = kv_new_str("k", 1, "012", 3); /* not canonical: a string */
    assert_int_equal(b->enc, ENC_EMBSTR);
    char big[OBJ_EMBSTR_MAX + 1];
    memset(big, 'x', sizeof(big));
    struct kv *c = kv_new_str("k", 1, big, OBJ_EMBSTR_MAX);
    assert_int_equal(c->enc, ENC_EMBSTR);
    struct kv *d = kv_new_str("k", 1, big, sizeof(big));
    assert_int_equal(d->enc, ENC_RAW);
    struct kv *e = kv_new_bytes("k", 1, "7", 1);
    assert_int_equal(e->enc, ENC_EMBSTR);
    assert_string_equal(kv_encoding_name(a), "int");
    assert_string_equal(kv_encoding_name(b), "embstr");
    assert_string_equal(kv_encoding_name(d), "raw");
    long long v;
    assert_true(kv_str_ll(a, &v) && v == 12345);
    assert_false(kv_str_ll(b, &v));
    kv_free(a);
    kv_free(b);
    kv_free(c);
    kv_free(d);
    kv_free(e);
}

static void test_to_raw_and_dup(void **state)
{
    (void)state;
    struct kv *a = kv_new_str("key", 3, "hello", 5);
    struct kv *r = kv_to_raw(a, 100);
    assert_int_equal(r->enc, ENC_RAW);
    assert_value(r, "hello");
    assert_memory_equal(kv_key(r), "key", 3);
    struct rawstr *s = kv_raw_reserve(r, 5000);
    memcpy(s->data + s->len, " world", 6);
    s->len += 6;
    assert_value(r, "hello world");
    struct kv *copy = kv_dup(r, "other", 5);
    assert_value(copy, "hello world");
    assert_memory_equal(kv_key(copy), "other", 5);
    assert_int_equal(kv_strlen(copy), 11);
    kv_free(a);
    kv_free(r);
    kv_free(copy);
}

static void test_memory_accounting(void **state)
{
    (void)state;
    size_t before = lode_used_memory();
    struct kv *a = kv_new_str("key:000000000001", 16, "val:000000000001", 16);
    /* one allocation holds header, key and value */
    assert_int_equal(a->enc, ENC_EMBSTR);
    assert_int_equal(lode_used_memory() - before, kv_mem_usage(a));
    assert_true(kv_mem_usage(a) <= 64);
    kv_free(a);
    assert_int_equal(lode_used_memory(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_to_raw_and_dup),
        cmocka_unit_test(test_memory_accounting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
