/*
 * test_cmd.c - the command table: lookup (any case), subcommand
 * resolution with Redis's error texts, arity, and key positions from key
 * specifications (index/range, keyword, keynum) and from first/last/step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "engine/cmd.h"

static int argv_of(struct slice *a, const char *const *words)
{
    int n = 0;
    for (; words[n]; n++) {
        a[n].ptr = words[n];
        a[n].len = strlen(words[n]);
    }
    return n;
}

static void test_lookup(void **state)
{
    (void)state;
    assert_non_null(cmd_lookup("get", 3));
    assert_non_null(cmd_lookup("GeT", 3));
    assert_null(cmd_lookup("nosuch", 6));
    assert_null(cmd_lookup("", 0));
    const struct cmd_def *cfg = cmd_lookup("CONFIG", 6);
    assert_non_null(cfg);
    assert_true(cfg->nsubs >= 4);
    const struct cmd_def *get = cmd_lookup_sub(cfg, "GET", 3);
    assert_non_null(get);
    assert_string_equal(get->fullname, "config|get");
    /* every entry is consistent with its declaration rules */
    for (int i = 0; i < CMD__COUNT; i++) {
        const struct cmd_def *c = &cmd_table[i];
        assert_false((c->flags & CMDF_WRITE) && (c->flags & CMDF_READONLY));
        if (c->flags & CMDF_WRITE) assert_int_not_equal(c->wal, WAL_NONE);
        assert_true(c->fn != NULL || c->nsubs > 0 || c->layer == LAYER_SERVER);
    }
}

static void expect_resolve_error(const char *const *words, const char *want)
{
    struct slice a[16];
    int argc = argv_of(a, words);
    struct buf b = BUF_INIT;
    struct reply r;
    reply_init(&r, &b, 2);
    assert_null(cmd_resolve(argc, a, &r));
    assert_string_equal(b.ptr, want);
    buf_release(&b);
}

static void test_resolve_errors(void **state)
{
    (void)state;
    expect_resolve_error((const char *[]){"foo", "a", "b", NULL},
                         "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
    expect_resolve_error((const char *[]){"GET", NULL},
                         "-ERR wrong number of arguments for 'get' command\r\n");
    expect_resolve_error((const char *[]){"config", "nope", NULL},
                         "-ERR unknown subcommand 'nope'. Try CONFIG HELP.\r\n");
    expect_resolve_error((const char *[]){"config", "get", NULL},
                         "-ERR wrong number of arguments for 'config|get' command\r\n");
    struct slice a[4];
    struct buf b = BUF_INIT;
    struct reply r;
    reply_init(&r, &b, 2);
    int argc = argv_of(a, (const char *[]){"Config", "GET", "x", NULL});
    const struct cmd_def *c = cmd_resolve(argc, a, &r);
    assert_non_null(c);
    assert_int_equal(c->id, CMD_CONFIG_GET);
    assert_int_equal(b.len, 0);
    buf_release(&b);
}

static int keys_of(const char *const *words, int *out)
{
    struct slice a[32];
    int argc = argv_of(a, words);
    const struct cmd_def *c = cmd_lookup(a[0].ptr, a[0].len);
    assert_non_null(c);
    const struct cmd_keyspec *specs[32];
    return cmd_key_positions(c, argc, a, out, specs, 32);
}

static void test_key_positions(void **state)
{
    (void)state;
    int k[32];
    assert_int_equal(keys_of((const char *[]){"SET", "k", "v", "EX", "10", NULL}, k), 1);
    assert_int_equal(k[0], 1);
    assert_int_equal(keys_of((const char *[]){"MSET", "a", "1", "b", "2", "c", "3", NULL}, k), 3);
    assert_int_equal(k[0], 1);
    assert_int_equal(k[1], 3);
    assert_int_equal(k[2], 5);
    assert_int_equal(keys_of((const char *[]){"DEL", "a", "b", "c", NULL}, k), 3);
    assert_int_equal(k[2], 3);
    /* BITOP op dest src...: keys from index 2 to the end */
    assert_int_equal(keys_of((const char *[]){"BITOP", "AND", "d", "s1", "s2", NULL}, k), 3);
    assert_int_equal(k[0], 2);
    /* LCS k1 k2: two keys */
    assert_int_equal(keys_of((const char *[]){"LCS", "a", "b", "LEN", NULL}, k), 2);
    assert_int_equal(keys_of((const char *[]){"PING", NULL}, k), 0);
    /* arity violations */
    assert_int_equal(keys_of((const char *[]){"GET", NULL}, k), -1);
}

int main(void)
{
    cmd_table_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_resolve_errors),
        cmocka_unit_test(test_key_positions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
