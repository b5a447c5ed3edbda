/*
 * test_keys.c - the generic keyspace commands (engine/t_keys.c) through the
 * command table: exact RESP bytes of replies and errors, with the engine
 * clock set by the test so that expiry is deterministic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"

#define NOW 1700000000000LL

#define RUN(t, ...)          th_run(t, __VA_ARGS__, NULL)
#define EXPECT(t, want, ...) assert_string_equal(RUN(t, __VA_ARGS__), want)

static int setup(void **state)
{
    struct th *t = calloc(1, sizeof(*t));
    th_init(t);
    t->eng.now_ms = NOW;
    t->eng.lru_clock = (uint32_t)(NOW / 1000);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    th_release(*state);
    free(*state);
    return 0;
}

static void test_exists_touch_type_unlink(void **state)
{
    struct th *t = *state;
    EXPECT(t, "+OK\r\n", "SET", "a", "1");
    EXPECT(t, "+OK\r\n", "SET", "b", "x");
    EXPECT(t, ":3\r\n", "EXISTS", "a", "a", "b", "nokey");
    EXPECT(t, ":2\r\n", "TOUCH", "a", "b", "nokey");
    EXPECT(t, "+string\r\n", "TYPE", "a");
    EXPECT(t, "+none\r\n", "TYPE", "nokey");
    EXPECT(t, "-ERR wrong number of arguments for 'exists' command\r\n", "EXISTS");
    EXPECT(t, ":2\r\n", "UNLINK", "a", "b", "a");
    EXPECT(t, ":0\r\n", "EXISTS", "a", "b");
    EXPECT(t, ":0\r\n", "DBSIZE");
    assert_int_equal(t->eng.dirty, 4);
}

static void test_rename(void **state)
{
    struct th *t = *state;
    EXPECT(t, "-ERR no such key\r\n", "RENAME", "nokey", "x");
    EXPECT(t, "-ERR no such key\r\n", "RENAME", "nokey", "nokey");
    EXPECT(t, "-ERR no such key\r\n", "RENAMENX", "nokey", "x");
    EXPECT(t, "+OK\r\n", "SET", "a", "va");
    EXPECT(t, "+OK\r\n", "RENAME", "a", "a");
    EXPECT(t, ":0\r\n", "RENAMENX", "a", "a");
    EXPECT(t, ":1\r\n", "PEXPIRE", "a", "5000");
    long long dirty = t->eng.dirty;
    EXPECT(t, "+OK\r\n", "RENAME", "a", "b");
    assert_int_equal(t->eng.dirty, dirty + 1);
    EXPECT(t, ":0\r\n", "EXISTS", "a");
    EXPECT(t, "$2\r\nva\r\n", "GET", "b");
    EXPECT(t, ":5000\r\n", "PTTL", "b");
    /* RENAME overwrites (and drops the destination's TTL with it) */
    EXPECT(t, "+OK\r\n", "SET", "c", "vc");
    EXPECT(t, ":0\r\n", "RENAMENX", "b", "c");
    EXPECT(t, "+OK\r\n", "RENAME", "c", "b");
    EXPECT(t, "$2\r\nvc\r\n", "GET", "b");
    EXPECT(t, ":-1\r\n", "PTTL", "b");
    EXPECT(t, ":1\r\n", "RENAMENX", "b", "d");
    EXPECT(t, ":1\r\n", "DBSIZE");
    /* an expired source is absent */
    EXPECT(t, ":1\r\n", "PEXPIRE", "d", "10");
    t->eng.now_ms += 10;
    EXPECT(t, "-ERR no such key\r\n", "RENAME", "d", "e");
    EXPECT(t, ":0\r\n", "DBSIZE");
}

static void test_copy(void **state)
{
    struct th *t = *state;
    EXPECT(t, "+OK\r\n", "SET", "k", "hello");
    EXPECT(t, ":1\r\n", "PEXPIRE", "k", "9000");
    EXPECT(t, "-ERR source and destination objects are the same\r\n", "COPY", "k", "k");
    EXPECT(t, "-ERR syntax error\r\n", "COPY", "k", "k2", "DB");
    EXPECT(t, "-ERR syntax error\r\n", "COPY", "k", "k2", "foo");
    EXPECT(t, "-ERR value is not an integer or out of range\r\n", "COPY", "k", "k2", "DB", "x");
    EXPECT(t, "-ERR DB index is out of range\r\n", "COPY", "k", "k2", "DB", "16");
    EXPECT(t, "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
           "COPY", "k", "k2", "DB", "2147483648");
    EXPECT(t, ":0\r\n", "COPY", "nokey", "k2");
    EXPECT(t, ":1\r\n", "COPY", "k", "k2");
    EXPECT(t, ":0\r\n", "COPY", "k", "k2");
    EXPECT(t, ":9000\r\n", "PTTL", "k2");
    EXPECT(t, "$5\r\nhello\r\n", "GET", "k2");
    EXPECT(t, "+OK\r\n", "SET", "k2", "other");
    EXPECT(t, ":1\r\n", "COPY", "k", "k2", "REPLACE");
    EXPECT(t, "$5\r\nhello\r\n", "GET", "k2");
    /* to another db; the same key name is fine there */
    EXPECT(t, ":1\r\n", "COPY", "k", "k", "db", "3", "replace");
    EXPECT(t, "+OK\r\n", "SELECT", "3");
    EXPECT(t, "$5\r\nhello\r\n", "GET", "k");
    EXPECT(t, ":9000\r\n", "PTTL", "k");
    EXPECT(t, "$6\r\nembstr\r\n", "OBJECT", "ENCODING", "k");
}

static void test_move_select(void **state)
{
    struct th *t = *state;
    EXPECT(t, "-ERR value is not an integer or out of range\r\n", "SELECT", "x");
    EXPECT(t, "-ERR DB index is out of range\r\n", "SELECT", "16");
    EXPECT(t, "-ERR DB index is out of range\r\n", "SELECT", "-1");
    EXPECT(t, "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
           "SELECT", "-2147483649");
    EXPECT(t, "+OK\r\n", "SET", "k", "v");
    EXPECT(t, ":1\r\n", "EXPIRE", "k", "100");
    EXPECT(t, "-ERR value is not an integer or out of range\r\n", "MOVE", "k", "abc");
    EXPECT(t, "-ERR DB index is out of range\r\n", "MOVE", "k", "99");
    EXPECT(t, "-ERR source and destination objects are the same\r\n", "MOVE", "k", "0");
    EXPECT(t, ":0\r\n", "MOVE", "nokey", "1");
    EXPECT(t, ":1\r\n", "MOVE", "k", "1");
    EXPECT(t, ":0\r\n", "EXISTS", "k");
    EXPECT(t, "+OK\r\n", "SET", "k", "v0");
    EXPECT(t, ":0\r\n", "MOVE", "k", "1"); /* present in the target */
    EXPECT(t, "+OK\r\n", "SELECT", "1");
    EXPECT(t, "$1\r\nv\r\n", "GET", "k");
    EXPECT(t, ":100\r\n", "TTL", "k");
}

static void test_swapdb_flush_dbsize(void **state)
{
    struct th *t = *state;
    EXPECT(t, "-ERR invalid first DB index\r\n", "SWAPDB", "a", "0");
    EXPECT(t, "-ERR invalid second DB index\r\n", "SWAPDB", "0", "b");
    EXPECT(t, "-ERR invalid first DB index\r\n", "SWAPDB", "2147483648", "0");
    EXPECT(t, "-ERR DB index is out of range\r\n", "SWAPDB", "0", "16");
    EXPECT(t, "+OK\r\n", "SWAPDB", "1", "1");
    EXPECT(t, "+OK\r\n", "SET", "a", "1");
    EXPECT(t, "+OK\r\n", "SET", "b", "1");
    EXPECT(t, "+OK\r\n", "SWAPDB", "0", "5");
    EXPECT(t, ":0\r\n", "DBSIZE");
    EXPECT(t, "+OK\r\n", "SELECT", "5");
    EXPECT(t, ":2\r\n", "DBSIZE");
    EXPECT(t, "-ERR syntax error\r\n", "FLUSHDB", "foo");
    EXPECT(t, "-ERR syntax error\r\n", "FLUSHDB", "sync", "async");
    EXPECT(t, "-ERR syntax error\r\n", "FLUSHALL", "now");
    long long dirty = t->eng.dirty;
    EXPECT(t, "+OK\r\n", "FLUSHDB", "ASYNC");
    assert_int_equal(t->eng.dirty, dirty + 2);
    EXPECT(t, ":0\r\n", "DBSIZE");
    /* an empty flush is still a change to log */
    EXPECT(t, "+OK\r\n", "FLUSHDB");
    assert_int_equal(t->eng.dirty, dirty + 3);
    EXPECT(t, "+OK\r\n", "SET", "x", "1");
    EXPECT(t, "+OK\r\n", "SELECT", "7");
    EXPECT(t, "+OK\r\n", "SET", "y", "1");
    EXPECT(t, "+OK\r\n", "FLUSHALL", "sync");
    EXPECT(t, ":0\r\n", "DBSIZE");
    EXPECT(t, "+OK\r\n", "SELECT", "5");
    EXPECT(t, ":0\r\n", "DBSIZE");
}

static void test_keys_hides_expired(void **state)
{
    struct th *t = *state;
    EXPECT(t, "*0\r\n", "KEYS", "*");
    EXPECT(t, "+OK\r\n", "SET", "one", "1");
    EXPECT(t, "+OK\r\n", "SET", "two", "2");
    EXPECT(t, "+OK\r\n", "SET", "three", "3");
    EXPECT(t, "*1\r\n$3\r\none\r\n", "KEYS", "o*");
    EXPECT(t, "*1\r\n$3\r\ntwo\r\n", "KEYS", "t?o");
    EXPECT(t, "*1\r\n$5\r\nthree\r\n", "KEYS", "[t]h*");
    EXPECT(t, ":1\r\n", "PEXPIRE", "one", "1");
    t->eng.now_ms += 1;
    EXPECT(t, "*0\r\n", "KEYS", "o*");
    /* hidden, not deleted, as Redis 7.0's KEYS */
    EXPECT(t, ":3\r\n", "DBSIZE");
    const char *all = RUN(t, "KEYS", "*");
    assert_memory_equal(all, "*2\r\n", 4);
    assert_null(strstr(all, "one"));
}

static void test_scan(void **state)
{
    struct th *t = *state;
    EXPECT(t, "-ERR invalid cursor\r\n", "SCAN", "abc");
    EXPECT(t, "-ERR invalid cursor\r\n", "SCAN", " 1");
    EXPECT(t, "-ERR invalid cursor\r\n", "SCAN", "18446744073709551616");
    EXPECT(t, "-ERR syntax error\r\n", "SCAN", "0", "COUNT", "0");
    EXPECT(t, "-ERR value is not an integer or out of range\r\n", "SCAN", "0", "COUNT", "x");
    EXPECT(t, "-ERR syntax error\r\n", "SCAN", "0", "MATCH");
    EXPECT(t, "-ERR syntax error\r\n", "SCAN", "0", "foo", "bar");
    EXPECT(t, "*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "0");
    EXPECT(t, "*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "");
    EXPECT(t, "+OK\r\n", "SET", "only", "1");
    EXPECT(t, "*2\r\n$1\r\n0\r\n*1\r\n$4\r\nonly\r\n", "SCAN", "0");
    EXPECT(t, "*2\r\n$1\r\n0\r\n*1\r\n$4\r\nonly\r\n", "SCAN", "+0", "TYPE", "STRING");
    EXPECT(t, "*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "0", "TYPE", "list");
    EXPECT(t, "*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "0", "MATCH", "x*");
    EXPECT(t, "*2\r\n$1\r\n0\r\n*1\r\n$4\r\nonly\r\n", "SCAN", "0", "MATCH", "o*", "COUNT", "5");

    /* a full iteration returns every key exactly once on a stable db, and
     * skips (and deletes) expired ones */
    char key[32];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        RUN(t, "SET", key, "v");
    }
    EXPECT(t, ":1\r\n", "PEXPIRE", "k7", "5");
    t->eng.now_ms += 5;
    int seen[300] = {0};
    char cursor[32] = "0";
    int calls = 0;
    do {
        const char *r = RUN(t, "SCAN", cursor, "MATCH", "k*", "COUNT", "20");
        assert_memory_equal(r, "*2\r\n$", 5);
        const char *p = strchr(r + 5, '\n') + 1;
        const char *e = strchr(p, '\r');
        snprintf(cursor, sizeof(cursor), "%.*s", (int)(e - p), p);
        p = strchr(e, '*');
        int n = atoi(p + 1);
        for (int i = 0; i < n; i++) {
            p = strchr(p, '\n') + 1; /* $len */
            p = strchr(p, '\n') + 1; /* key */
            assert_int_equal(p[0], 'k');
            seen[atoi(p + 1)]++;
        }
        calls++;
    } while (strcmp(cursor, "0") != 0 && calls < 1000);
    assert_string_equal(cursor, "0");
    for (int i = 0; i < 300; i++) assert_int_equal(seen[i], i == 7 ? 0 : 1);
    EXPECT(t, ":300\r\n", "DBSIZE"); /* k7 deleted, "only" remains */
}

static void test_randomkey(void **state)
{
    struct th *t = *state;
    EXPECT(t, "$-1\r\n", "RANDOMKEY");
    EXPECT(t, "+OK\r\n", "SET", "k", "v");
    EXPECT(t, "$1\r\nk\r\n", "RANDOMKEY");
    /* expired keys are deleted until a live one is found */
    char key[32];
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof(key), "x%d", i);
        RUN(t, "SET", key, "v");
        RUN(t, "PEXPIRE", key, "1");
    }
    t->eng.now_ms += 1;
    EXPECT(t, "$1\r\nk\r\n", "RANDOMKEY");
    EXPECT(t, ":1\r\n", "DEL", "k");
    t->sess.resp = 3;
    const char *r = RUN(t, "RANDOMKEY");
    assert_true(strcmp(r, "_\r\n") == 0 || r[0] == '$');
}

static void test_expire_options_and_errors(void **state)
{
    struct th *t = *state;
    EXPECT(t, "+OK\r\n", "SET", "k", "v");
    EXPECT(t, "-ERR Unsupported option foo\r\n", "EXPIRE", "k", "10", "foo");
    EXPECT(t, "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n", "EXPIRE",
           "k", "10", "nx", "xx");
    EXPECT(t, "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n", "EXPIRE",
           "k", "abc", "NX", "GT");
    EXPECT(t, "-ERR GT and LT options at the same time are not compatible\r\n", "EXPIRE", "k", "10",
           "gt", "lt");
    EXPECT(t, "-ERR value is not an integer or out of range\r\n", "EXPIRE", "k", "abc");
    EXPECT(t, "-ERR invalid expire time in 'expire' command\r\n", "EXPIRE", "k",
           "9223372036854775807");
    EXPECT(t, "-ERR invalid expire time in 'expire' command\r\n", "EXPIRE", "k",
           "-9223372036854775808");
    EXPECT(t, "-ERR invalid expire time in 'pexpire' command\r\n", "PEXPIRE", "k",
           "9223372036854775807");
    EXPECT(t, "-ERR invalid expire time in 'expireat' command\r\n", "EXPIREAT", "k",
           "9223372036854776");
    EXPECT(t, ":0\r\n", "EXPIRE", "nokey", "10");
    EXPECT(t, ":-1\r\n", "TTL", "k");

    /* GT never applies to a key without TTL (infinite); LT does */
    EXPECT(t, ":0\r\n", "EXPIRE", "k", "100", "GT");
    EXPECT(t, ":0\r\n", "EXPIRE", "k", "100", "XX");
    EXPECT(t, ":1\r\n", "EXPIRE", "k", "100", "LT");
    EXPECT(t, ":100\r\n", "TTL", "k");
    EXPECT(t, ":0\r\n", "EXPIRE", "k", "50", "GT");
    EXPECT(t, ":0\r\n", "EXPIRE", "k", "100", "GT");
    EXPECT(t, ":1\r\n", "EXPIRE", "k", "200", "gt");
    EXPECT(t, ":0\r\n", "EXPIRE", "k", "300", "NX");
    EXPECT(t, ":0\r\n", "EXPIRE", "k", "300", "LT");
    EXPECT(t, ":1\r\n", "EXPIRE", "k", "300", "XX", "GT");
    EXPECT(t, ":300000\r\n", "PTTL", "k");

    /* absolute forms */
    EXPECT(t, ":1\r\n", "PEXPIREAT", "k", "1999999999600");
    EXPECT(t, ":2000000000\r\n", "EXPIRETIME", "k"); /* rounded, as Redis */
    EXPECT(t, ":1999999999600\r\n", "PEXPIRETIME", "k");
    EXPECT(t, ":1\r\n", "EXPIREAT", "k", "1999999999");
    EXPECT(t, ":1999999999000\r\n", "PEXPIRETIME", "k");
    EXPECT(t, ":-2\r\n", "EXPIRETIME", "nokey");
    EXPECT(t, ":-2\r\n", "PEXPIRETIME", "nokey");
    EXPECT(t, ":-2\r\n", "TTL", "nokey");
    EXPECT(t, ":-2\r\n", "PTTL", "nokey");
}

static void test_expire_rounding_and_past(void **state)
{
    struct th *t = *state;
    EXPECT(t, "+OK\r\n", "SET", "k", "v");
    EXPECT(t, ":1\r\n", "PEXPIRE", "k", "1499");
    EXPECT(t, ":1\r\n", "TTL", "k");
    EXPECT(t, ":1\r\n", "PEXPIRE", "k", "1500");
    EXPECT(t, ":2\r\n", "TTL", "k");
    t->eng.now_ms += 1499;
    EXPECT(t, ":1\r\n", "PTTL", "k");
    EXPECT(t, ":0\r\n", "TTL", "k");
    t->eng.now_ms += 1;
    EXPECT(t, ":-2\r\n", "PTTL", "k");

    /* a time in the past deletes the key and replies 1 */
    long long dirty = t->eng.dirty;
    EXPECT(t, "+OK\r\n", "SET", "k", "v");
    EXPECT(t, ":1\r\n", "EXPIRE", "k", "0");
    EXPECT(t, ":0\r\n", "EXISTS", "k");
    EXPECT(t, "+OK\r\n", "SET", "k", "v");
    EXPECT(t, ":1\r\n", "PEXPIRE", "k", "-1");
    EXPECT(t, ":0\r\n", "EXISTS", "k");
    EXPECT(t, "+OK\r\n", "SET", "k", "v");
    EXPECT(t, ":1\r\n", "EXPIREAT", "k", "1");
    EXPECT(t, ":0\r\n", "DBSIZE");
    assert_int_equal(t->eng.dirty, dirty + 6);

    /* PERSIST */
    EXPECT(t, ":0\r\n", "PERSIST", "nokey");
    EXPECT(t, "+OK\r\n", "SET", "k", "v");
    EXPECT(t, ":0\r\n", "PERSIST", "k");
    EXPECT(t, ":1\r\n", "EXPIRE", "k", "10");
    EXPECT(t, ":1\r\n", "PERSIST", "k");
    EXPECT(t, ":-1\r\n", "TTL", "k");
    EXPECT(t, ":-1\r\n", "EXPIRETIME", "k");
}

static void test_object(void **state)
{
    struct th *t = *state;
    EXPECT(t, "+OK\r\n", "SET", "i", "100");
    EXPECT(t, "+OK\r\n", "SET", "big", "10000");
    EXPECT(t, "+OK\r\n", "SET", "e", "hello");
    EXPECT(t, "+OK\r\n", "SET", "r", "123456789012345678901234567890123456789012345");
    EXPECT(t, "$3\r\nint\r\n", "OBJECT", "ENCODING", "i");
    EXPECT(t, "$6\r\nembstr\r\n", "object", "encoding", "e");
    EXPECT(t, "$3\r\nraw\r\n", "OBJECT", "ENCODING", "r");
    EXPECT(t, "$-1\r\n", "OBJECT", "ENCODING", "nokey");
    EXPECT(t, ":2147483647\r\n", "OBJECT", "REFCOUNT", "i");
    EXPECT(t, ":1\r\n", "OBJECT", "REFCOUNT", "big");
    EXPECT(t, ":1\r\n", "OBJECT", "REFCOUNT", "e");
    EXPECT(t, "$-1\r\n", "OBJECT", "REFCOUNT", "nokey");
    EXPECT(t, "$-1\r\n", "OBJECT", "FREQ", "nokey");
    EXPECT(t,
           "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please "
           "note that when switching between policies at runtime LRU and LFU data will take "
           "some time to adjust.\r\n",
           "OBJECT", "FREQ", "e");
    /* idle time counts from the last access; OBJECT itself does not touch */
    EXPECT(t, ":0\r\n", "OBJECT", "IDLETIME", "e");
    t->eng.lru_clock += 42;
    EXPECT(t, ":42\r\n", "OBJECT", "IDLETIME", "e");
    EXPECT(t, ":42\r\n", "OBJECT", "IDLETIME", "e");
    EXPECT(t, "$5\r\nhello\r\n", "GET", "e");
    EXPECT(t, ":0\r\n", "OBJECT", "IDLETIME", "e");
    EXPECT(t, "-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n", "OBJECT", "foo");
    EXPECT(t, "-ERR wrong number of arguments for 'object|encoding' command\r\n", "OBJECT",
           "ENCODING");
    EXPECT(t, "-ERR wrong number of arguments for 'object|help' command\r\n", "OBJECT", "HELP",
           "x");
    const char *help = RUN(t, "OBJECT", "HELP");
    const char *head = "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands "
                       "are:\r\n+ENCODING <key>\r\n";
    assert_memory_equal(help, head, strlen(head));
    assert_non_null(strstr(help, "+HELP\r\n+    Prints this help.\r\n"));
    t->sess.resp = 3;
    EXPECT(t, "_\r\n", "OBJECT", "ENCODING", "nokey");
}

int main(void)
{
    uint8_t seed[16] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3};
    util_hash_seed(seed);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_exists_touch_type_unlink),
        T(test_rename),
        T(test_copy),
        T(test_move_select),
        T(test_swapdb_flush_dbsize),
        T(test_keys_hides_expired),
        T(test_scan),
        T(test_randomkey),
        T(test_expire_options_and_errors),
        T(test_expire_rounding_and_past),
        T(test_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
