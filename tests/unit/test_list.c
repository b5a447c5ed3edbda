/*
 * test_list.c - lists (engine/t_list.c) without a server: the commands'
 * exact replies across node boundaries and node-size settings, the
 * quicklist checkpoint payload (round trips, a large list, corrupt input
 * rejected), the effects logged by the rewritten commands, and the
 * blocking commands' non-blocking behaviour when no client may block.
 * With LODE_WRITE_SEEDS=DIR it also writes fuzz seeds for
 * fuzz/corpus/ckpt_value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "engine/digest.h"
#include "engine/serialize.h"

#define RUN(t, expect, ...) assert_string_equal(th_run(t, __VA_ARGS__, NULL), expect)

static struct kv *find(struct th *t, const char *key)
{
    return db_find(&t->eng.dbs[t->sess.db], key, strlen(key));
}

static void test_basic(void **state)
{
    struct th *t = *state;
    RUN(t, ":3\r\n", "RPUSH", "l", "a", "b", "c");
    RUN(t, ":4\r\n", "LPUSH", "l", "12");
    RUN(t, "*4\r\n$2\r\n12\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", "LRANGE", "l", "0", "-1");
    RUN(t, "$2\r\n12\r\n", "LINDEX", "l", "0");
    RUN(t, "$1\r\nc\r\n", "LINDEX", "l", "-1");
    RUN(t, "$-1\r\n", "LINDEX", "l", "4");
    RUN(t, "+OK\r\n", "LSET", "l", "1", "A");
    RUN(t, ":5\r\n", "LINSERT", "l", "AFTER", "A", "x");
    RUN(t, ":1\r\n", "LREM", "l", "0", "x");
    RUN(t, ":2\r\n", "LPOS", "l", "b");
    RUN(t, "$9\r\nquicklist\r\n", "OBJECT", "ENCODING", "l");
    RUN(t, "*2\r\n$2\r\n12\r\n$1\r\nA\r\n", "LPOP", "l", "2");
    RUN(t, "$1\r\nc\r\n", "RPOP", "l");
    RUN(t, "$1\r\nb\r\n", "LMOVE", "l", "m", "LEFT", "LEFT");
    assert_null(find(t, "l"));
    RUN(t, "+OK\r\n", "SET", "s", "x");
    RUN(t, "-" ERR_WRONGTYPE "\r\n", "LPUSH", "s", "a");
    RUN(t, "-" ERR_WRONGTYPE "\r\n", "LMOVE", "m", "s", "LEFT", "LEFT");
    RUN(t, "$1\r\nb\r\n", "LINDEX", "m", "0");
    th_run(t, "FLUSHALL", NULL);
}

/* Every node size: a list built element by element matches a model. */
static void test_node_sizes(void **state)
{
    struct th *t = *state;
    static const long long fills[] = {1, 2, 5, 128, -1, -2, -5};
    char num[32], big[20000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (size_t f = 0; f < sizeof(fills) / sizeof(fills[0]); f++) {
        t->eng.lim.list_max_listpack_size = fills[f];
        for (int i = 0; i < 3000; i++) {
            snprintf(num, sizeof(num), "%d", i);
            th_run(t, i % 2 ? "RPUSH" : "LPUSH", "l", i % 500 == 7 ? big : num, NULL);
        }
        /* the model: odd i appended, even i prepended */
        RUN(t, ":3000\r\n", "LLEN", "l");
        RUN(t, "$4\r\n2998\r\n", "LINDEX", "l", "0");
        RUN(t, "$4\r\n2999\r\n", "LINDEX", "l", "-1");
        RUN(t, "$1\r\n1\r\n", "LINDEX", "l", "1500");
        RUN(t, "$1\r\n0\r\n", "LINDEX", "l", "1499");
        RUN(t, ":1\r\n", "LREM", "l", "1", "1");
        RUN(t, ":1499\r\n", "LPOS", "l", "0");
        RUN(t, ":3000\r\n", "LINSERT", "l", "BEFORE", "0", "ins");
        RUN(t, ":1499\r\n", "LPOS", "l", "ins");
        RUN(t, "+OK\r\n", "LSET", "l", "1499", big);
        RUN(t, "+OK\r\n", "LTRIM", "l", "1000", "-1000");
        RUN(t, ":1001\r\n", "LLEN", "l");
        RUN(t, ":503\r\n", "LPOS", "l", big, "RANK", "2");
        RUN(t, ":753\r\n", "LPOS", "l", big, "RANK", "-1");
        th_run(t, "DEL", "l", NULL);
    }
    t->eng.lim.list_max_listpack_size = -2;
}

static void test_effects(void **state)
{
    struct th *t = *state;
    RUN(t, ":3\r\n", "RPUSH", "a", "1", "2", "3");
    effects_reset(&t->eng.eff);
    RUN(t, "*2\r\n$1\r\na\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n", "LMPOP", "2", "x", "a", "RIGHT",
        "COUNT", "2");
    RUN(t, "*2\r\n$1\r\na\r\n$1\r\n1\r\n", "BLPOP", "x", "a", "0");
    assert_int_equal(t->eng.eff.n, 2);
    const char *want = "*3\r\n$4\r\nRPOP\r\n$1\r\na\r\n$1\r\n2\r\n*2\r\n$4\r\nLPOP\r\n$1\r\na\r\n";
    assert_int_equal(t->eng.eff.cmds.len, strlen(want));
    assert_memory_equal(t->eng.eff.cmds.ptr, want, strlen(want));
    RUN(t, ":1\r\n", "RPUSH", "s", "v");
    effects_reset(&t->eng.eff);
    RUN(t, "$1\r\nv\r\n", "BRPOPLPUSH", "s", "d", "0");
    want = "*5\r\n$5\r\nLMOVE\r\n$1\r\ns\r\n$1\r\nd\r\n$5\r\nRIGHT\r\n$4\r\nLEFT\r\n";
    assert_int_equal(t->eng.eff.cmds.len, strlen(want));
    assert_memory_equal(t->eng.eff.cmds.ptr, want, strlen(want));
    assert_int_equal(t->missing_rewrites, 0);
    /* no client may block here: the empty forms answer at once */
    RUN(t, "*-1\r\n", "BLPOP", "none", "0");
    RUN(t, "*-1\r\n", "BLMPOP", "0", "1", "none", "LEFT");
    RUN(t, "$-1\r\n", "BLMOVE", "none", "d", "LEFT", "LEFT", "0");
    RUN(t, "-ERR timeout is negative\r\n", "BLPOP", "none", "-1");
    th_run(t, "FLUSHALL", NULL);
}

static void roundtrip(struct kv *kv)
{
    struct buf b = BUF_INIT;
    assert_int_equal(serialize_kv(&b, kv, -1), 0);
    struct kv *kv2 = NULL;
    long long exp;
    assert_int_equal(serialize_parse_kv(b.ptr, b.len, &kv2, &exp), 0);
    uint8_t d1[DIGEST_LEN], d2[DIGEST_LEN];
    assert_int_equal(digest_value(kv, d1), 0);
    assert_int_equal(digest_value(kv2, d2), 0);
    assert_memory_equal(d1, d2, DIGEST_LEN);
    assert_int_equal(kv2->type, OBJ_LIST);
    /* every truncation is refused without allocating */
    for (size_t cut = SER_HEADER + kv->klen; cut < b.len; cut += 1 + cut / 64) {
        struct kv *bad = NULL;
        assert_int_equal(serialize_parse_kv(b.ptr, cut, &bad, &exp), LODE_ECORRUPT);
        assert_null(bad);
    }
    const char *dir = getenv("LODE_WRITE_SEEDS");
    if (dir && b.len < 100000) {
        char path[512];
        snprintf(path, sizeof(path), "%s/list-%.*s", dir, (int)kv->klen, kv_key(kv));
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(b.ptr, 1, b.len, f);
            fclose(f);
        }
    }
    kv_free(kv2);
    buf_release(&b);
}

static void test_serialize(void **state)
{
    struct th *t = *state;
    th_run(t, "RPUSH", "small", "a", "12", "-7", "", "x y", NULL);
    roundtrip(find(t, "small"));
    t->eng.lim.list_max_listpack_size = 3;
    th_run(t, "RPUSH", "nodes", "1", "2", "3", "4", "5", "6", "7", "8", NULL);
    roundtrip(find(t, "nodes"));
    t->eng.lim.list_max_listpack_size = -2;
    for (int i = 0; i < 100000; i++) {
        char v[32];
        snprintf(v, sizeof(v), "value-%d", i);
        th_run(t, "RPUSH", "large", v, NULL);
    }
    roundtrip(find(t, "large"));
    th_run(t, "FLUSHALL", NULL);
}

static void test_corrupt(void **state)
{
    (void)state;
    const struct obj_ops *ops = obj_get_ops(OBJ_LIST);
    void *ptr = NULL;
    int enc;
    /* no nodes */
    uint8_t zero[4] = {0, 0, 0, 0};
    assert_int_equal(ops->parse(zero, 4, 1, &ptr, &enc), LODE_ECORRUPT);
    /* unknown encoding */
    assert_int_equal(ops->parse(zero, 4, 9, &ptr, &enc), LODE_EVERSION);
    /* a node holding an empty pack */
    uint8_t empty[4 + 4 + 8] = {1, 0, 0, 0, 8, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(ops->parse(empty, sizeof(empty), 1, &ptr, &enc), LODE_ECORRUPT);
    /* a huge node count */
    uint8_t many[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(ops->parse(many, 4, 1, &ptr, &enc), LODE_ECORRUPT);
    /* a pack whose count lies */
    uint8_t lie[4 + 4 + 11] = {1, 0, 0, 0, 11, 0, 0, 0, 11, 0, 0, 0, 2, 0, 0, 0, 0x01, 'a', 2};
    assert_int_equal(ops->parse(lie, sizeof(lie), 1, &ptr, &enc), LODE_ECORRUPT);
    /* the same pack with the right count parses; trailing bytes do not */
    lie[12] = 1;
    assert_int_equal(ops->parse(lie, sizeof(lie), 1, &ptr, &enc), 0);
    ops->free(ptr, enc);
    uint8_t trail[sizeof(lie) + 1];
    memcpy(trail, lie, sizeof(lie));
    trail[sizeof(lie)] = 0;
    assert_int_equal(ops->parse(trail, sizeof(trail), 1, &ptr, &enc), LODE_ECORRUPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_basic, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_node_sizes, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_effects, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_serialize, th_setup, th_teardown),
        cmocka_unit_test(test_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
