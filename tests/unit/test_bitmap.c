/*
 * test_bitmap.c - the bitmap commands (engine/t_bitmap.c): SETBIT, GETBIT,
 * BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO, asserting the exact
 * RESP bytes Redis 7.0 replies (checked against redis-server 7.0.15), the
 * dirty counts that decide what is logged, and WRONGTYPE against a key of
 * another type.
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

#define RUN(t, ...) th_run(t, __VA_ARGS__, NULL)
/* The reply must be exactly want (EXPECTB: a literal that may hold NULs). */
#define EXPECT(t, want, ...)                                                                       \
    do {                                                                                           \
        RUN(t, __VA_ARGS__);                                                                       \
        check_reply(t, want, strlen(want), __LINE__);                                              \
    } while (0)
#define EXPECTB(t, want, ...)                                                                      \
    do {                                                                                           \
        RUN(t, __VA_ARGS__);                                                                       \
        check_reply(t, want, sizeof(want) - 1, __LINE__);                                          \
    } while (0)

static void check_reply(struct th *t, const char *want, size_t n, int line)
{
    if (t->out.len != n || memcmp(t->out.ptr, want, n) != 0) {
        print_error("reply %zu bytes: ", t->out.len);
        for (size_t i = 0; i < t->out.len; i++) print_error("%02x", (unsigned char)t->out.ptr[i]);
        print_error("\nwant  %zu bytes: ", n);
        for (size_t i = 0; i < n; i++) print_error("%02x", (unsigned char)want[i]);
        print_error("\n");
        _fail(__FILE__, line);
    }
}

/* Stores a binary value under key (SET through the harness). */
static void set_bin(struct th *t, const char *key, const char *val, size_t n)
{
    const char *argv[] = {"SET", key, val};
    size_t lens[] = {3, strlen(key), n};
    assert_string_equal(th_runv(t, 3, argv, lens), "+OK\r\n");
}

/* The raw value of key as GET's bulk payload; n gets its length. */
static const char *get_bin(struct th *t, const char *key, size_t *n)
{
    const char *r = RUN(t, "GET", key);
    assert_true(r[0] == '$');
    char *end;
    long len = strtol(r + 1, &end, 10);
    *n = (size_t)len;
    return end + 2;
}

static void test_setbit_getbit(void **state)
{
    struct th *t = *state;
    EXPECT(t, ":0\r\n", "SETBIT", "k", "7", "1");
    EXPECT(t, "$1\r\n\x01\r\n", "GET", "k");
    EXPECT(t, ":1\r\n", "SETBIT", "k", "7", "0");
    EXPECT(t, ":0\r\n", "GETBIT", "k", "7");
    EXPECT(t, ":0\r\n", "SETBIT", "k", "0", "1");
    EXPECT(t, ":1\r\n", "GETBIT", "k", "0");
    /* growth is zero-filled */
    EXPECT(t, ":0\r\n", "SETBIT", "k", "31", "1");
    EXPECTB(t, "$4\r\n\x80\x00\x00\x01\r\n", "GET", "k");
    EXPECT(t, ":0\r\n", "GETBIT", "k", "1000000");
    EXPECT(t, ":0\r\n", "GETBIT", "nokey", "5");
    /* integer-encoded values are read and written as their digits */
    EXPECT(t, "+OK\r\n", "SET", "n", "12");
    EXPECT(t, ":1\r\n", "GETBIT", "n", "2"); /* '1' = 0x31 = 00110001 */
    EXPECT(t, ":0\r\n", "SETBIT", "n", "0", "1");
    EXPECT(t,
           "$2\r\n\xb1"
           "2\r\n",
           "GET", "n");
}

static void test_setbit_errors(void **state)
{
    struct th *t = *state;
    const char *off = "-ERR bit offset is not an integer or out of range\r\n";
    const char *bit = "-ERR bit is not an integer or out of range\r\n";
    EXPECT(t, off, "SETBIT", "k", "-1", "1");
    EXPECT(t, off, "SETBIT", "k", "a", "1");
    EXPECT(t, off, "SETBIT", "k", "4294967296", "1"); /* 512MB * 8 */
    EXPECT(t, off, "SETBIT", "k", "01", "1");
    EXPECT(t, off, "GETBIT", "k", "4294967296");
    EXPECT(t, bit, "SETBIT", "k", "1", "2");
    EXPECT(t, bit, "SETBIT", "k", "1", "-1");
    EXPECT(t, bit, "SETBIT", "k", "1", "x");
    /* the offset is checked before the value */
    EXPECT(t, off, "SETBIT", "k", "x", "x");
    EXPECT(t, "$-1\r\n", "GET", "k");
    EXPECT(t, "-ERR wrong number of arguments for 'setbit' command\r\n", "SETBIT", "k", "1");
    /* the limit follows proto-max-bulk-len */
    t->eng.proto_max_bulk_len = 1024 * 1024;
    EXPECT(t, ":0\r\n", "SETBIT", "k", "8388607", "1");
    EXPECT(t, off, "SETBIT", "k", "8388608", "1");
}

static void test_setbit_dirty(void **state)
{
    struct th *t = *state;
    long long d = t->eng.dirty;
    RUN(t, "SETBIT", "k", "0", "0"); /* creates the key */
    assert_int_equal(t->eng.dirty, d + 1);
    RUN(t, "SETBIT", "k", "0", "0"); /* no change */
    assert_int_equal(t->eng.dirty, d + 1);
    RUN(t, "SETBIT", "k", "100", "0"); /* grows */
    assert_int_equal(t->eng.dirty, d + 2);
    RUN(t, "SETBIT", "k", "3", "1");
    assert_int_equal(t->eng.dirty, d + 3);
    RUN(t, "GETBIT", "k", "3");
    assert_int_equal(t->eng.dirty, d + 3);
}

static void test_bitcount(void **state)
{
    struct th *t = *state;
    EXPECT(t, "+OK\r\n", "SET", "s", "foobar");
    EXPECT(t, ":26\r\n", "BITCOUNT", "s");
    EXPECT(t, ":4\r\n", "BITCOUNT", "s", "0", "0");
    EXPECT(t, ":6\r\n", "BITCOUNT", "s", "1", "1");
    EXPECT(t, ":6\r\n", "BITCOUNT", "s", "1", "1", "BYTE");
    EXPECT(t, ":17\r\n", "BITCOUNT", "s", "5", "30", "bit");
    EXPECT(t, ":2\r\n", "BITCOUNT", "s", "-5", "-1", "BIT");
    EXPECT(t, ":26\r\n", "BITCOUNT", "s", "-100", "100");
    EXPECT(t, ":0\r\n", "BITCOUNT", "s", "4", "2");
    EXPECT(t, ":0\r\n", "BITCOUNT", "s", "10", "20");
    /* both negative and crossed: 0, although clipping would give [0,0] */
    EXPECT(t, ":0\r\n", "BITCOUNT", "s", "-50", "-100");
    EXPECT(t, ":4\r\n", "BITCOUNT", "s", "-100", "-50");
    EXPECT(t, ":0\r\n", "BITCOUNT", "nokey");
    /* a missing key answers 0 before the arguments are parsed */
    EXPECT(t, ":0\r\n", "BITCOUNT", "nokey", "a", "b");
    EXPECT(t, ":0\r\n", "BITCOUNT", "nokey", "0");
    EXPECT(t, "-ERR syntax error\r\n", "BITCOUNT", "s", "0");
    EXPECT(t, "-ERR syntax error\r\n", "BITCOUNT", "s", "0", "1", "bad");
    EXPECT(t, "-ERR syntax error\r\n", "BITCOUNT", "s", "0", "1", "bit", "x");
    EXPECT(t, "-ERR value is not an integer or out of range\r\n", "BITCOUNT", "s", "a", "1", "bad");
    EXPECT(t, "-ERR value is not an integer or out of range\r\n", "BITCOUNT", "s", "0", "b");
    /* integer encoding: "12" = 0x31 0x32 */
    EXPECT(t, "+OK\r\n", "SET", "n", "12");
    EXPECT(t, ":6\r\n", "BITCOUNT", "n");
    /* empty string */
    EXPECT(t, "+OK\r\n", "SET", "e", "");
    EXPECT(t, ":0\r\n", "BITCOUNT", "e");
    EXPECT(t, ":0\r\n", "BITCOUNT", "e", "0", "-1", "bit");
}

static void test_bitcount_long(void **state)
{
    struct th *t = *state;
    /* long enough for the word loops, with unaligned edges */
    char v[1000];
    long long total = 0;
    for (int i = 0; i < 1000; i++) {
        v[i] = (char)(i * 37 + 11);
        total += __builtin_popcount((unsigned char)v[i]);
    }
    set_bin(t, "big", v, sizeof(v));
    char want[32];
    snprintf(want, sizeof(want), ":%lld\r\n", total);
    EXPECT(t, want, "BITCOUNT", "big");
    long long part = 0;
    for (int bit = 13; bit <= 7001; bit++) part += ((unsigned char)v[bit / 8] >> (7 - bit % 8)) & 1;
    snprintf(want, sizeof(want), ":%lld\r\n", part);
    EXPECT(t, want, "BITCOUNT", "big", "13", "7001", "BIT");
}

static void test_bitpos(void **state)
{
    struct th *t = *state;
    set_bin(t, "k", "\xff\xf0\x00", 3);
    EXPECT(t, ":12\r\n", "BITPOS", "k", "0");
    EXPECT(t, ":0\r\n", "BITPOS", "k", "1");
    EXPECT(t, ":16\r\n", "BITPOS", "k", "0", "2");
    EXPECT(t, ":-1\r\n", "BITPOS", "k", "1", "2");
    EXPECT(t, ":-1\r\n", "BITPOS", "k", "1", "2", "-1");
    EXPECT(t, ":5\r\n", "BITPOS", "k", "1", "5", "8", "BIT");
    EXPECT(t, ":12\r\n", "BITPOS", "k", "0", "3", "23", "bit");
    EXPECT(t, ":-1\r\n", "BITPOS", "k", "0", "0", "11", "bit");
    EXPECT(t, ":-1\r\n", "BITPOS", "k", "0", "0", "0");
    EXPECT(t, ":-1\r\n", "BITPOS", "k", "1", "10", "5");
    set_bin(t, "ones", "\xff\xff\xff", 3);
    /* no explicit end: the zeros to the right count */
    EXPECT(t, ":24\r\n", "BITPOS", "ones", "0");
    EXPECT(t, ":24\r\n", "BITPOS", "ones", "0", "1");
    /* an explicit end: not found */
    EXPECT(t, ":-1\r\n", "BITPOS", "ones", "0", "0", "-1");
    EXPECT(t, ":-1\r\n", "BITPOS", "ones", "0", "1", "100", "BYTE");
    /* start past the end: empty range */
    EXPECT(t, ":-1\r\n", "BITPOS", "ones", "0", "5");
    /* missing key: all zeros */
    EXPECT(t, ":0\r\n", "BITPOS", "nokey", "0");
    EXPECT(t, ":-1\r\n", "BITPOS", "nokey", "1");
    EXPECT(t, ":0\r\n", "BITPOS", "nokey", "0", "a");
    /* empty string */
    EXPECT(t, "+OK\r\n", "SET", "e", "");
    EXPECT(t, ":-1\r\n", "BITPOS", "e", "0");
    EXPECT(t, ":-1\r\n", "BITPOS", "e", "1");
}

static void test_bitpos_errors(void **state)
{
    struct th *t = *state;
    const char *notint = "-ERR value is not an integer or out of range\r\n";
    EXPECT(t, "+OK\r\n", "SET", "s", "foobar");
    EXPECT(t, "-ERR The bit argument must be 1 or 0.\r\n", "BITPOS", "s", "2");
    EXPECT(t, "-ERR The bit argument must be 1 or 0.\r\n", "BITPOS", "nokey", "-1");
    EXPECT(t, notint, "BITPOS", "s", "x");
    EXPECT(t, notint, "BITPOS", "s", "1", "a");
    EXPECT(t, ":-1\r\n", "BITPOS", "nokey", "1", "a");
    /* the unit is checked before the end */
    EXPECT(t, "-ERR syntax error\r\n", "BITPOS", "s", "1", "0", "a", "bad");
    EXPECT(t, notint, "BITPOS", "s", "1", "0", "a", "bit");
    EXPECT(t, notint, "BITPOS", "s", "1", "a", "1", "bad");
    EXPECT(t, "-ERR syntax error\r\n", "BITPOS", "s", "1", "0", "1", "bit", "extra");
}

static void test_bitpos_long(void **state)
{
    struct th *t = *state;
    char v[300];
    memset(v, 0, sizeof(v));
    v[250] = 0x04; /* bit 2005 */
    set_bin(t, "z", v, sizeof(v));
    EXPECT(t, ":2005\r\n", "BITPOS", "z", "1");
    EXPECT(t, ":2005\r\n", "BITPOS", "z", "1", "3", "2005", "bit");
    EXPECT(t, ":-1\r\n", "BITPOS", "z", "1", "3", "2004", "bit");
    EXPECT(t, ":-1\r\n", "BITPOS", "z", "1", "2006", "-1", "bit");
    memset(v, 0xff, sizeof(v));
    v[299] = (char)0xfe; /* bit 2399 */
    set_bin(t, "f", v, sizeof(v));
    EXPECT(t, ":2399\r\n", "BITPOS", "f", "0");
    EXPECT(t, ":2399\r\n", "BITPOS", "f", "0", "17", "-1", "bit");
    EXPECT(t, ":-1\r\n", "BITPOS", "f", "0", "17", "-2", "bit");
}

static void test_bitop(void **state)
{
    struct th *t = *state;
    size_t n;
    const char *p;
    EXPECT(t, "+OK\r\n", "SET", "a", "abc");
    EXPECT(t, "+OK\r\n", "SET", "b", "x1234");
    EXPECT(t, ":5\r\n", "BITOP", "AND", "d", "a", "b");
    EXPECTB(t, "$5\r\n` \"\x00\x00\r\n", "GET", "d");
    EXPECT(t, ":5\r\n", "BITOP", "or", "d", "a", "b");
    EXPECT(t, "$5\r\nyss34\r\n", "GET", "d");
    EXPECT(t, ":5\r\n", "BITOP", "Xor", "d", "a", "b");
    EXPECT(t, "$5\r\n\x19SQ34\r\n", "GET", "d");
    EXPECT(t, ":3\r\n", "BITOP", "NOT", "d", "a");
    p = get_bin(t, "d", &n);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "\x9e\x9d\x9c", 3);
    /* missing sources are empty strings */
    EXPECT(t, ":5\r\n", "BITOP", "AND", "d", "a", "b", "nokey");
    EXPECTB(t, "$5\r\n\x00\x00\x00\x00\x00\r\n", "GET", "d");
    EXPECT(t, ":3\r\n", "BITOP", "or", "d", "nokey", "a");
    EXPECT(t, "$3\r\nabc\r\n", "GET", "d");
    /* a source may be the destination */
    EXPECT(t, ":3\r\n", "BITOP", "xor", "d", "d", "a");
    EXPECTB(t, "$3\r\n\x00\x00\x00\r\n", "GET", "d");
    /* an empty result deletes the destination */
    long long dirty = t->eng.dirty;
    EXPECT(t, ":0\r\n", "BITOP", "and", "d", "nokey");
    EXPECT(t, "$-1\r\n", "GET", "d");
    assert_int_equal(t->eng.dirty, dirty + 1);
    EXPECT(t, ":0\r\n", "BITOP", "and", "d", "nokey");
    assert_int_equal(t->eng.dirty, dirty + 1);
    EXPECT(t, "-ERR syntax error\r\n", "BITOP", "nand", "d", "a");
    EXPECT(t, "-ERR BITOP NOT must be called with a single source key.\r\n", "BITOP", "not", "d",
           "a", "b");
    EXPECT(t, "-ERR wrong number of arguments for 'bitop' command\r\n", "BITOP", "not", "d");
    /* the destination loses its TTL */
    db_set_expire(t->eng.dbs, db_find(t->eng.dbs, "b", 1), t->eng.now_ms + 100000);
    EXPECT(t, ":3\r\n", "BITOP", "not", "b", "a");
    assert_int_equal(db_expire_of(t->eng.dbs, db_find(t->eng.dbs, "b", 1)), -1);
}

static void test_bitop_long(void **state)
{
    struct th *t = *state;
    enum { N = 203, M = 77 };
    char x[N], y[M], want[N];
    for (int i = 0; i < N; i++) x[i] = (char)(i * 7 + 3);
    for (int i = 0; i < M; i++) y[i] = (char)(i * 13 + 5);
    set_bin(t, "x", x, N);
    set_bin(t, "y", y, M);
    const char *ops[] = {"and", "or", "xor"};
    for (int o = 0; o < 3; o++) {
        for (int i = 0; i < N; i++) {
            unsigned char a = (unsigned char)x[i], b = i < M ? (unsigned char)y[i] : 0;
            want[i] = (char)(o == 0 ? a & b : o == 1 ? a | b : a ^ b);
        }
        EXPECT(t, ":203\r\n", "BITOP", ops[o], "d", "x", "y");
        size_t n;
        const char *p = get_bin(t, "d", &n);
        assert_int_equal(n, N);
        assert_memory_equal(p, want, N);
    }
}

static void test_bitfield(void **state)
{
    struct th *t = *state;
    EXPECT(t, "*3\r\n:0\r\n:1\r\n:0\r\n", "BITFIELD", "k", "SET", "u8", "0", "255", "INCRBY", "u8",
           "0", "2", "GET", "u4", "0");
    EXPECT(t, "$1\r\n\x01\r\n", "GET", "k");
    /* signed wrap and saturation */
    EXPECT(t, "*5\r\n:1\r\n:-56\r\n:-44\r\n:-128\r\n:-128\r\n", "BITFIELD", "k", "set", "i8", "0",
           "200", "set", "i8", "0", "-200", "incrby", "i8", "0", "-100", "overflow", "sat",
           "incrby", "i8", "0", "-100", "incrby", "i8", "0", "-300");
    /* unsigned SET takes its argument as a 64-bit pattern: -1 overflows high */
    EXPECT(t, "*5\r\n:128\r\n:255\r\n$-1\r\n$-1\r\n$-1\r\n", "BITFIELD", "k", "set", "u8", "0",
           "-1", "overflow", "sat", "set", "u8", "0", "-1", "overflow", "fail", "set", "u8", "0",
           "-1", "set", "u8", "0", "256", "incrby", "u8", "0", "-300");
    /* 64-bit signed fields */
    EXPECT(t,
           "*6\r\n:0\r\n:-9223372036854775808\r\n:-9223372036854775808\r\n"
           ":-9223372036854775807\r\n:0\r\n:1\r\n",
           "BITFIELD", "w", "set", "i64", "0", "9223372036854775807", "incrby", "i64", "0", "1",
           "overflow", "sat", "incrby", "i64", "0", "-1", "incrby", "i64", "0", "1", "incrby",
           "i64", "0", "9223372036854775807", "incrby", "i64", "0", "1");
    EXPECT(t, "*3\r\n:0\r\n:9223372036854775807\r\n:-1\r\n", "BITFIELD", "w", "set", "u63", "0",
           "9223372036854775807", "get", "u63", "0", "get", "i64", "0");
    /* a signed SET so far below the range that max - value overflows 64
     * bits saturates to max, as in Redis 7.0 */
    EXPECT(t, "*6\r\n:0\r\n:127\r\n:127\r\n:-128\r\n:0\r\n:4611686018427387903\r\n", "BITFIELD",
           "q", "overflow", "sat", "set", "i8", "0", "-9223372036854775681", "get", "i8", "0",
           "set", "i8", "0", "-9223372036854775680", "get", "i8", "0", "set", "i63", "8",
           "-9223372036854775808", "get", "i63", "8");
    /* u2 counter wrapping, at an offset past the end */
    EXPECT(t, "*4\r\n:1\r\n:2\r\n:3\r\n:0\r\n", "BITFIELD", "c", "incrby", "u2", "100", "1",
           "incrby", "u2", "100", "1", "incrby", "u2", "100", "1", "incrby", "u2", "100", "1");
    EXPECTB(t, "$13\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\r\n", "GET", "c");
    /* #n offsets are n * width */
    EXPECT(t, "*2\r\n:0\r\n:171\r\n", "BITFIELD", "h", "set", "u8", "#1", "171", "get", "u8", "8");
    EXPECT(t, "*1\r\n:-85\r\n", "BITFIELD", "h", "get", "i8", "#1");
    /* no ops */
    EXPECT(t, "*0\r\n", "BITFIELD", "nokey");
    EXPECT(t, "*0\r\n", "BITFIELD", "nokey", "overflow", "sat");
    EXPECT(t, "$-1\r\n", "GET", "nokey");
    /* integer-encoded strings */
    EXPECT(t, "+OK\r\n", "SET", "n", "12");
    EXPECT(t, "*2\r\n:12594\r\n:49\r\n", "BITFIELD_RO", "n", "GET", "u16", "0", "get", "u8", "0");
}

static void test_bitfield_errors(void **state)
{
    struct th *t = *state;
    const char *type = "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is "
                       "not supported but i64 is.\r\n";
    const char *off = "-ERR bit offset is not an integer or out of range\r\n";
    EXPECT(t, type, "BITFIELD", "k", "get", "u64", "0");
    EXPECT(t, type, "BITFIELD", "k", "get", "i65", "0");
    EXPECT(t, type, "BITFIELD", "k", "get", "u0", "0");
    EXPECT(t, type, "BITFIELD", "k", "get", "i01", "0");
    EXPECT(t, type, "BITFIELD", "k", "get", "x8", "0");
    EXPECT(t, type, "BITFIELD", "k", "get", "", "0");
    EXPECT(t, off, "BITFIELD", "k", "get", "u8", "#-1");
    EXPECT(t, off, "BITFIELD", "k", "get", "u8", "-1");
    EXPECT(t, off, "BITFIELD", "k", "get", "u8", "#536870912");
    EXPECT(t, "*1\r\n:0\r\n", "BITFIELD", "k", "get", "u8", "#536870911");
    /* the 64-bit product wraps as in Redis: 2^62 * 4 == 0 */
    EXPECT(t, "*1\r\n:0\r\n", "BITFIELD", "k", "get", "u4", "#4611686018427387904");
    EXPECT(t, "*1\r\n:0\r\n", "BITFIELD", "k", "get", "u8", "#4611686018427387904");
    EXPECT(t, off, "BITFIELD", "k", "get", "u4", "#2305843009213693952"); /* 2^63 */
    EXPECT(t, "-ERR Invalid OVERFLOW type specified\r\n", "BITFIELD", "k", "overflow", "foo");
    EXPECT(t, "-ERR syntax error\r\n", "BITFIELD", "k", "get", "u8");
    EXPECT(t, "-ERR syntax error\r\n", "BITFIELD", "k", "set", "u8", "0");
    EXPECT(t, "-ERR syntax error\r\n", "BITFIELD", "k", "bogus", "u8", "0");
    EXPECT(t, "-ERR value is not an integer or out of range\r\n", "BITFIELD", "k", "incrby", "u8",
           "0", "x");
    /* nothing runs when a later op is bad */
    EXPECT(t, "-ERR syntax error\r\n", "BITFIELD", "k", "set", "u8", "0", "1", "get", "u8");
    EXPECT(t, "$-1\r\n", "GET", "k");
    EXPECT(t, "-ERR BITFIELD_RO only supports the GET subcommand\r\n", "BITFIELD_RO", "k", "get",
           "u8", "0", "set", "u8", "0", "1");
    EXPECT(t, "-ERR syntax error\r\n", "BITFIELD_RO", "k", "set", "u8", "0");
    EXPECT(t, "*1\r\n:0\r\n", "BITFIELD_RO", "nokey", "get", "u8", "0");
}

static void test_bitfield_dirty(void **state)
{
    struct th *t = *state;
    long long d = t->eng.dirty;
    /* every write fails but the key was created: one change (see t_bitmap.c) */
    EXPECT(t, "*1\r\n$-1\r\n", "BITFIELD", "k", "overflow", "fail", "set", "u8", "0", "300");
    EXPECTB(t, "$1\r\n\x00\r\n", "GET", "k");
    assert_int_equal(t->eng.dirty, d + 1);
    /* unchanged values are not changes */
    EXPECT(t, "*2\r\n:0\r\n:0\r\n", "BITFIELD", "k", "set", "u8", "0", "0", "incrby", "u8", "0",
           "0");
    assert_int_equal(t->eng.dirty, d + 1);
    EXPECT(t, "*3\r\n:0\r\n:1\r\n:17\r\n", "BITFIELD", "k", "set", "u8", "0", "1", "incrby", "u4",
           "0", "1", "get", "u8", "0");
    assert_int_equal(t->eng.dirty, d + 3);
    RUN(t, "BITFIELD_RO", "k", "get", "u8", "0");
    assert_int_equal(t->eng.dirty, d + 3);
}

static void test_wrongtype(void **state)
{
    struct th *t = *state;
    const char *wt = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    db_add(&t->eng, t->eng.dbs, kv_new_obj("l", 1, OBJ_LIST, 0, NULL));
    EXPECT(t, "+OK\r\n", "SET", "s", "x");
    EXPECT(t, wt, "SETBIT", "l", "0", "1");
    EXPECT(t, wt, "GETBIT", "l", "0");
    EXPECT(t, wt, "BITCOUNT", "l");
    EXPECT(t, wt, "BITCOUNT", "l", "a", "b"); /* the type is checked first */
    EXPECT(t, wt, "BITPOS", "l", "1");
    EXPECT(t, wt, "BITOP", "and", "d", "s", "l");
    EXPECT(t, "$-1\r\n", "GET", "d");
    EXPECT(t, ":1\r\n", "BITOP", "and", "l", "s"); /* the destination may be of any type */
    EXPECT(t, "$1\r\nx\r\n", "GET", "l");
    db_delete(&t->eng, t->eng.dbs, "l", 1);
    db_add(&t->eng, t->eng.dbs, kv_new_obj("l", 1, OBJ_LIST, 0, NULL));
    EXPECT(t, wt, "BITFIELD", "l", "get", "u8", "0");
    EXPECT(t, wt, "BITFIELD", "l", "set", "u8", "0", "1");
    EXPECT(t, wt, "BITFIELD_RO", "l", "get", "u8", "0");
    /* argument errors come before the type check */
    EXPECT(t, "-ERR syntax error\r\n", "BITFIELD", "l", "get", "u8");
}

static void test_resp3(void **state)
{
    struct th *t = *state;
    t->sess.resp = 3;
    EXPECT(t, "*2\r\n_\r\n:0\r\n", "BITFIELD", "k", "overflow", "fail", "set", "u8", "0", "300",
           "get", "u8", "0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_setbit_getbit, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_setbit_errors, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_setbit_dirty, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_bitcount, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_bitcount_long, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_bitpos, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_bitpos_errors, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_bitpos_long, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_bitop, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_bitop_long, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_bitfield, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_bitfield_errors, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_bitfield_dirty, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_wrongtype, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_resp3, th_setup, th_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
