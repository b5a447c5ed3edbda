/*
 * test_dict.c - the intrusive hash table: add/find/unlink across
 * incremental rehashing, growth and shrinking, and the SCAN guarantee.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dict.h"
#include "engine/lode.h"
#include "engine/util.h"

struct item {
    struct dnode node;
    int key;
    int seen;
};

static uint64_t ihash(const struct dnode *n)
{
    int k = ((const struct item *)n)->key;
    return util_hash(&k, sizeof(k));
}

static bool imatch(const struct dnode *n, const void *key, size_t len)
{
    return len == sizeof(int) && memcmp(&((const struct item *)n)->key, key, len) == 0;
}

static const struct dict_type itype = {ihash, imatch};

static struct item *find(struct dict *d, int k)
{
    return (struct item *)dict_find(d, &k, sizeof(k), util_hash(&k, sizeof(k)));
}

static void add(struct dict *d, struct item *it)
{
    dict_add(d, &it->node, util_hash(&it->key, sizeof(it->key)));
}

static void test_add_find_delete(void **state)
{
    (void)state;
    enum { N = 50000 };
    struct item *items = calloc(N, sizeof(*items));
    struct dict d;
    dict_init(&d, &itype);
    for (int i = 0; i < N; i++) {
        items[i].key = i;
        add(&d, &items[i]);
        /* every element stays findable while the table rehashes */
        if (i % 997 == 0)
            for (int k = 0; k <= i; k += 101) assert_ptr_equal(find(&d, k), &items[k]);
    }
    assert_int_equal(dict_size(&d), N);
    assert_null(find(&d, N + 1));
    for (int i = 0; i < N; i += 2) {
        int k = i;
        assert_ptr_equal(dict_unlink(&d, &k, sizeof(k), util_hash(&k, sizeof(k))), &items[i]);
    }
    assert_int_equal(dict_size(&d), N / 2);
    for (int i = 0; i < N; i++) {
        if (i % 2)
            assert_ptr_equal(find(&d, i), &items[i]);
        else
            assert_null(find(&d, i));
    }
    dict_drain(&d, NULL, NULL);
    assert_int_equal(dict_size(&d), 0);
    free(items);
}

static void mark(struct dnode *n, void *priv)
{
    (void)priv;
    ((struct item *)n)->seen++;
}

static void test_scan_guarantee_while_resizing(void **state)
{
    (void)state;
    enum { N = 20000 };
    struct item *items = calloc(N * 2, sizeof(*items));
    struct dict d;
    dict_init(&d, &itype);
    for (int i = 0; i < N; i++) {
        items[i].key = i;
        add(&d, &items[i]);
    }
    /* scan while the table grows (adding) and later shrinks (removing the
     * additions): every original element must be seen at least once */
    uint64_t cur = 0;
    int steps = 0, added = N;
    do {
        cur = dict_scan(&d, cur, mark, NULL);
        if (steps < 2000 && added < 2 * N) {
            for (int k = 0; k < 20 && added < 2 * N; k++, added++) {
                items[added].key = added;
                add(&d, &items[added]);
            }
        } else if (added > N) {
            for (int k = 0; k < 40 && added > N; k++) {
                int key = --added;
                dict_unlink(&d, &key, sizeof(key), util_hash(&key, sizeof(key)));
            }
            dict_maybe_shrink(&d);
        }
        steps++;
    } while (cur != 0);
    for (int i = 0; i < N; i++) assert_true(items[i].seen >= 1);
    dict_drain(&d, NULL, NULL);
    free(items);
}

static void test_random_and_sample(void **state)
{
    (void)state;
    struct item items[100];
    struct dict d;
    dict_init(&d, &itype);
    assert_null(dict_random(&d));
    for (int i = 0; i < 100; i++) {
        items[i].key = i;
        items[i].seen = 0;
        add(&d, &items[i]);
    }
    for (int i = 0; i < 10000; i++) ((struct item *)dict_random(&d))->seen++;
    for (int i = 0; i < 100; i++) assert_true(items[i].seen > 0);
    struct dnode *out[20];
    size_t got = dict_sample(&d, out, 20);
    assert_true(got > 0 && got <= 20);
    dict_drain(&d, NULL, NULL);
}

int main(void)
{
    uint8_t seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    util_hash_seed(seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_find_delete),
        cmocka_unit_test(test_scan_guarantee_while_resizing),
        cmocka_unit_test(test_random_and_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
