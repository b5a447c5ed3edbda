/*
 * test_config.c - configuration: defaults, redis.conf-syntax loading,
 * CONFIG SET validation with Redis's error texts, GET patterns, REWRITE
 * round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/config.h"

static void test_defaults(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    assert_int_equal(c.port, 6379);
    assert_int_equal(c.nbind, 1);
    assert_string_equal(c.bind[0], "127.0.0.1");
    assert_string_equal(c.dir, "./data");
    assert_int_equal(c.databases, 16);
    assert_null(c.requirepass);
    assert_int_equal(c.durability, DUR_ALWAYS);
    assert_int_equal(c.proto_max_bulk_len, 512LL * 1024 * 1024);
    assert_int_equal(c.obuf[OBUF_PUBSUB].hard, 32LL * 1024 * 1024);
    config_release(&c);
}

static void test_load_string(void **state)
{
    (void)state;
    struct config c;
    struct buf err = BUF_INIT;
    config_init(&c);
    int rc = config_load_string(&c,
                                "# comment\n"
                                "port 7000\n"
                                "  bind 127.0.0.1 -::1\n"
                                "requirepass \"se cret\"\n"
                                "maxmemory 1gb\n"
                                "client-output-buffer-limit pubsub 1mb 512kb 10\n"
                                "durability everysec\n",
                                &err);
    assert_int_equal(rc, 0);
    assert_int_equal(c.port, 7000);
    assert_int_equal(c.nbind, 2);
    assert_string_equal(c.bind[1], "-::1");
    assert_string_equal(c.requirepass, "se cret");
    assert_int_equal(c.maxmemory, 1024LL * 1024 * 1024);
    assert_int_equal(c.obuf[OBUF_PUBSUB].hard, 1024 * 1024);
    assert_int_equal(c.obuf[OBUF_PUBSUB].soft, 512 * 1024);
    assert_int_equal(c.obuf[OBUF_PUBSUB].soft_s, 10);
    assert_int_equal(c.durability, DUR_EVERYSEC);
    config_release(&c);
    buf_release(&err);
}

static void test_load_errors(void **state)
{
    (void)state;
    struct config c;
    struct buf err = BUF_INIT;
    config_init(&c);
    assert_int_equal(config_load_string(&c, "port 1\nnosuch thing\n", &err), -1);
    assert_non_null(strstr(err.ptr, "at line 2"));
    assert_non_null(strstr(err.ptr, "Bad directive or wrong number of arguments"));
    buf_release(&err);
    assert_int_equal(config_load_string(&c, "port 99999\n", &err), -1);
    assert_non_null(strstr(err.ptr, "argument must be between 0 and 65535 inclusive"));
    buf_release(&err);
    config_release(&c);
}

static void test_set(void **state)
{
    (void)state;
    struct config c;
    struct buf err = BUF_INIT;
    config_init(&c);
    assert_int_equal(config_set(&c, "MAXCLIENTS", 10, "5", 1, &err), 0);
    assert_int_equal(c.maxclients, 5);
    assert_int_equal(config_set(&c, "port", 4, "1", 1, &err), -1);
    assert_string_equal(err.ptr, "ERR CONFIG SET failed (possibly related to argument 'port') - "
                                 "can't set immutable config");
    buf_release(&err);
    assert_int_equal(config_set(&c, "nope", 4, "1", 1, &err), -1);
    assert_string_equal(err.ptr,
                        "ERR Unknown option or number of arguments for CONFIG SET - 'nope'");
    buf_release(&err);
    assert_int_equal(config_set(&c, "maxclients", 10, "x", 1, &err), -1);
    assert_string_equal(err.ptr, "ERR CONFIG SET failed (possibly related to argument "
                                 "'maxclients') - argument couldn't be parsed into an integer");
    buf_release(&err);
    assert_int_equal(config_set(&c, "protected-mode", 14, "maybe", 5, &err), -1);
    buf_release(&err);
    assert_int_equal(config_set(&c, "durability", 10, "no", 2, &err), 0);
    assert_int_equal(c.durability, DUR_NO);
    config_release(&c);
}

static void test_get_pattern(void **state)
{
    (void)state;
    struct config c;
    config_init(&c);
    struct config_pair *pairs = NULL;
    int n = 0, cap = 0;
    config_get(&c, "*max*len", 8, &pairs, &n, &cap);
    config_get(&c, "proto-max-bulk-len", 18, &pairs, &n, &cap); /* duplicate: once */
    assert_int_equal(n, 2);
    for (int i = 0; i < n; i++) buf_release(&pairs[i].value);
    free(pairs);
    config_release(&c);
}

static void test_rewrite_round_trip(void **state)
{
    (void)state;
    char path[] = "/tmp/lode-config-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *body = "# keep me\nport 7001\ntimeout 5\n";
    assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    close(fd);
    struct config c;
    struct buf err = BUF_INIT;
    config_init(&c);
    assert_int_equal(config_load_file(&c, path, &err), 0);
    assert_int_equal(config_set(&c, "timeout", 7, "9", 1, &err), 0);
    assert_int_equal(config_set(&c, "requirepass", 11, "a b", 3, &err), 0);
    assert_int_equal(config_rewrite(&c, &err), 0);
    struct config d;
    config_init(&d);
    assert_int_equal(config_load_file(&d, path, &err), 0);
    assert_int_equal(d.port, 7001);
    assert_int_equal(d.timeout, 9);
    assert_string_equal(d.requirepass, "a b");
    FILE *f = fopen(path, "r");
    char line[256];
    assert_non_null(fgets(line, sizeof(line), f));
    assert_string_equal(line, "# keep me\n");
    fclose(f);
    config_release(&c);
    config_release(&d);
    buf_release(&err);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),    cmocka_unit_test(test_load_string),
        cmocka_unit_test(test_load_errors), cmocka_unit_test(test_set),
        cmocka_unit_test(test_get_pattern), cmocka_unit_test(test_rewrite_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
