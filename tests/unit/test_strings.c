/*
 * test_strings.c - the string commands (engine/t_string.c) run through the
 * command table without a server: exact RESP bytes, encodings, TTLs, the
 * in-place INCR and APPEND paths, size limits, lazy expiry and WRONGTYPE.
 * Every expected reply was checked against redis-server 7.0.
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

static struct kv *find(struct th *t, const char *key)
{
    return db_find(&t->eng.dbs[t->sess.db], key, strlen(key));
}

static int enc_of(struct th *t, const char *key)
{
    struct kv *kv = find(t, key);
    assert_non_null(kv);
    return kv->enc;
}

static long long ttl_ms(struct th *t, const char *key)
{
    struct kv *kv = find(t, key);
    assert_non_null(kv);
    long long when = db_expire_of(&t->eng.dbs[t->sess.db], kv);
    return when < 0 ? -1 : when - t->eng.now_ms;
}

#define RUN(t, expect, ...) assert_string_equal(th_run(t, __VA_ARGS__, NULL), expect)

/* A key of another type, for the WRONGTYPE paths (no other type exists yet:
 * an empty list entry with no value is enough, kv_free skips its value). */
static void add_list(struct th *t, const char *key)
{
    struct kv *kv = kv_new_obj(key, strlen(key), OBJ_LIST, 0, NULL);
    db_add(&t->eng, &t->eng.dbs[t->sess.db], kv);
}

static int changes;
static void count_changes(struct engine *eng, struct db *db, const char *key, size_t klen)
{
    (void)eng, (void)db, (void)key, (void)klen;
    changes++;
}

static void test_table(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int wal;
    } want[] = {
        {"setnx", WAL_VERBATIM},  {"setex", WAL_REWRITE},
        {"psetex", WAL_REWRITE},  {"mget", WAL_NONE},
        {"mset", WAL_VERBATIM},   {"msetnx", WAL_VERBATIM},
        {"getset", WAL_VERBATIM}, {"getdel", WAL_VERBATIM},
        {"getex", WAL_REWRITE},   {"incr", WAL_VERBATIM},
        {"decr", WAL_VERBATIM},   {"incrby", WAL_VERBATIM},
        {"decrby", WAL_VERBATIM}, {"incrbyfloat", WAL_REWRITE},
        {"append", WAL_VERBATIM}, {"strlen", WAL_NONE},
        {"getrange", WAL_NONE},   {"setrange", WAL_VERBATIM},
        {"substr", WAL_NONE},     {"lcs", WAL_NONE},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct cmd_def *c = cmd_lookup(want[i].name, strlen(want[i].name));
        assert_non_null(c);
        assert_non_null(c->fn);
        assert_int_equal(c->wal, want[i].wal);
    }
    const struct cmd_def *lcs = cmd_lookup("lcs", 3);
    assert_int_equal(lcs->arity, -3);
    assert_int_equal(lcs->first_key, 1);
    assert_int_equal(lcs->last_key, 2);
    const struct cmd_def *mset = cmd_lookup("mset", 4);
    assert_int_equal(mset->key_step, 2);
}

static void test_setnx_setex_psetex(void **state)
{
    struct th *t = *state;
    RUN(t, ":1\r\n", "SETNX", "a", "1");
    RUN(t, ":0\r\n", "SETNX", "a", "2");
    RUN(t, "$1\r\n1\r\n", "GET", "a");
    assert_int_equal(enc_of(t, "a"), ENC_INT);

    RUN(t, "+OK\r\n", "SETEX", "b", "10", "v");
    assert_int_equal(ttl_ms(t, "b"), 10000);
    RUN(t, "+OK\r\n", "PSETEX", "b", "1500", "w");
    assert_int_equal(ttl_ms(t, "b"), 1500);
    RUN(t, "$1\r\nw\r\n", "GET", "b");
    RUN(t, "-ERR invalid expire time in 'setex' command\r\n", "SETEX", "b", "0", "v");
    RUN(t, "-ERR invalid expire time in 'psetex' command\r\n", "PSETEX", "b", "-5", "v");
    RUN(t, "-ERR invalid expire time in 'setex' command\r\n", "SETEX", "b", "9223372036854775807",
        "v");
    RUN(t, "-ERR invalid expire time in 'psetex' command\r\n", "PSETEX", "b", "9223372036854775807",
        "v");
    RUN(t, "-ERR value is not an integer or out of range\r\n", "SETEX", "b", "1x", "v");
    RUN(t, "-ERR wrong number of arguments for 'setex' command\r\n", "SETEX", "b", "1");
    /* SETEX replaces and SET drops the TTL */
    RUN(t, "+OK\r\n", "SET", "b", "plain");
    assert_int_equal(ttl_ms(t, "b"), -1);
    /* SETNX sees an expired key as absent */
    RUN(t, "+OK\r\n", "PSETEX", "c", "100", "old");
    t->eng.now_ms += 100;
    RUN(t, ":1\r\n", "SETNX", "c", "new");
    assert_int_equal(ttl_ms(t, "c"), -1);
    add_list(t, "l");
    RUN(t, ":0\r\n", "SETNX", "l", "x");
}

static void test_mget_mset_msetnx(void **state)
{
    struct th *t = *state;
    RUN(t, "+OK\r\n", "MSET", "a", "1", "b", "hello", "a", "2");
    RUN(t, "*3\r\n$1\r\n2\r\n$5\r\nhello\r\n$-1\r\n", "MGET", "a", "b", "nokey");
    RUN(t, "-ERR wrong number of arguments for 'mset' command\r\n", "MSET", "a", "1", "b");
    RUN(t, "-ERR wrong number of arguments for 'msetnx' command\r\n", "MSETNX", "a", "1", "b");
    RUN(t, ":0\r\n", "MSETNX", "x", "1", "b", "2");
    assert_null(find(t, "x"));
    RUN(t, ":1\r\n", "MSETNX", "x", "1", "y", "2", "x", "3");
    RUN(t, "$1\r\n3\r\n", "GET", "x");
    /* MSET drops TTLs */
    RUN(t, "+OK\r\n", "SETEX", "x", "100", "v");
    RUN(t, "+OK\r\n", "MSET", "x", "w");
    assert_int_equal(ttl_ms(t, "x"), -1);
    /* other types read as nil in MGET */
    add_list(t, "l");
    RUN(t, "*2\r\n$-1\r\n$1\r\nw\r\n", "MGET", "l", "x");
    t->sess.resp = 3;
    RUN(t, "*2\r\n_\r\n$1\r\nw\r\n", "MGET", "nokey", "x");
}

static void test_getset_getdel(void **state)
{
    struct th *t = *state;
    RUN(t, "$-1\r\n", "GETSET", "a", "1");
    RUN(t, "$1\r\n1\r\n", "GETSET", "a", "two");
    RUN(t, "$3\r\ntwo\r\n", "GET", "a");
    RUN(t, "+OK\r\n", "SETEX", "a", "100", "v");
    RUN(t, "$1\r\nv\r\n", "GETSET", "a", "w");
    assert_int_equal(ttl_ms(t, "a"), -1); /* GETSET drops the TTL */
    RUN(t, "$1\r\nw\r\n", "GETDEL", "a");
    assert_null(find(t, "a"));
    RUN(t, "$-1\r\n", "GETDEL", "a");
    add_list(t, "l");
    RUN(t, "-" ERR_WRONGTYPE "\r\n", "GETSET", "l", "x");
}

static void test_wrongtype_all(void **state)
{
    struct th *t = *state;
    add_list(t, "l");
    const char *wt = "-" ERR_WRONGTYPE "\r\n";
    assert_string_equal(th_run(t, "GET", "l", NULL), wt);
    assert_string_equal(th_run(t, "GETSET", "l", "x", NULL), wt);
    assert_string_equal(th_run(t, "GETDEL", "l", NULL), wt);
    assert_string_equal(th_run(t, "GETEX", "l", "EX", "10", NULL), wt);
    assert_string_equal(th_run(t, "INCR", "l", NULL), wt);
    assert_string_equal(th_run(t, "DECRBY", "l", "3", NULL), wt);
    assert_string_equal(th_run(t, "INCRBYFLOAT", "l", "1.5", NULL), wt);
    assert_string_equal(th_run(t, "APPEND", "l", "x", NULL), wt);
    assert_string_equal(th_run(t, "STRLEN", "l", NULL), wt);
    assert_string_equal(th_run(t, "GETRANGE", "l", "0", "-1", NULL), wt);
    assert_string_equal(th_run(t, "SETRANGE", "l", "0", "", NULL), wt);
    assert_string_equal(th_run(t, "SETRANGE", "l", "0", "x", NULL), wt);
    RUN(t, "-ERR The specified keys must contain string values\r\n", "LCS", "l", "nokey");
    RUN(t, "-ERR The specified keys must contain string values\r\n", "LCS", "nokey", "l", "BAD");
    /* untouched */
    assert_int_equal(find(t, "l")->type, OBJ_LIST);
}

static void test_getex(void **state)
{
    struct th *t = *state;
    RUN(t, "+OK\r\n", "SET", "k", "v");
    RUN(t, "$1\r\nv\r\n", "GETEX", "k");
    assert_int_equal(ttl_ms(t, "k"), -1);
    RUN(t, "$1\r\nv\r\n", "GETEX", "k", "EX", "100");
    assert_int_equal(ttl_ms(t, "k"), 100000);
    RUN(t, "$1\r\nv\r\n", "GETEX", "k", "px", "500");
    assert_int_equal(ttl_ms(t, "k"), 500);
    char at[32];
    snprintf(at, sizeof(at), "%lld", t->eng.now_ms + 7000);
    RUN(t, "$1\r\nv\r\n", "GETEX", "k", "PXAT", at);
    assert_int_equal(ttl_ms(t, "k"), 7000);
    snprintf(at, sizeof(at), "%lld", t->eng.now_ms / 1000 + 100);
    RUN(t, "$1\r\nv\r\n", "GETEX", "k", "EXAT", at);
    assert_int_equal(ttl_ms(t, "k") + t->eng.now_ms, (t->eng.now_ms / 1000 + 100) * 1000);
    RUN(t, "$1\r\nv\r\n", "GETEX", "k", "PERSIST");
    assert_int_equal(ttl_ms(t, "k"), -1);
    /* errors: syntax first, the missing key next, then the expire value */
    RUN(t, "-ERR syntax error\r\n", "GETEX", "k", "PERSIST", "EX", "10");
    RUN(t, "-ERR syntax error\r\n", "GETEX", "k", "EX", "10", "PX", "10");
    RUN(t, "-ERR syntax error\r\n", "GETEX", "k", "EX");
    RUN(t, "-ERR syntax error\r\n", "GETEX", "k", "KEEPTTL");
    RUN(t, "-ERR syntax error\r\n", "GETEX", "nokey", "NX");
    RUN(t, "$-1\r\n", "GETEX", "nokey", "EX", "-1");
    RUN(t, "-ERR invalid expire time in 'getex' command\r\n", "GETEX", "k", "EX", "0");
    RUN(t, "-ERR invalid expire time in 'getex' command\r\n", "GETEX", "k", "EX",
        "9223372036854775");
    RUN(t, "-ERR value is not an integer or out of range\r\n", "GETEX", "k", "PX", "x");
    /* an absolute time in the past deletes the key after replying */
    long long dirty = t->eng.dirty;
    RUN(t, "$1\r\nv\r\n", "GETEX", "k", "EXAT", "1");
    assert_null(find(t, "k"));
    assert_int_equal(t->eng.dirty, dirty + 1);
    RUN(t, "$-1\r\n", "GET", "k");
    /* PERSIST without a TTL changes nothing */
    RUN(t, "+OK\r\n", "SET", "k", "v");
    dirty = t->eng.dirty;
    RUN(t, "$1\r\nv\r\n", "GETEX", "k", "PERSIST");
    assert_int_equal(t->eng.dirty, dirty);
}

static void test_incr_decr(void **state)
{
    struct th *t = *state;
    RUN(t, ":1\r\n", "INCR", "n");
    RUN(t, ":0\r\n", "DECR", "n");
    RUN(t, ":-1\r\n", "DECR", "n");
    RUN(t, ":9\r\n", "INCRBY", "n", "10");
    RUN(t, ":-91\r\n", "DECRBY", "n", "100");
    RUN(t, ":-91\r\n", "INCRBY", "n", "0");
    RUN(t, "-ERR value is not an integer or out of range\r\n", "INCRBY", "n", "1.5");
    RUN(t, "-ERR value is not an integer or out of range\r\n", "INCRBY", "n", "");
    RUN(t, "-ERR value is not an integer or out of range\r\n", "INCRBY", "n",
        "9223372036854775808");
    RUN(t, "-ERR decrement would overflow\r\n", "DECRBY", "n", "-9223372036854775808");
    RUN(t, "-ERR wrong number of arguments for 'incr' command\r\n", "INCR", "n", "x");

    /* overflow in both directions, value untouched */
    RUN(t, "+OK\r\n", "SET", "max", "9223372036854775807");
    RUN(t, "-ERR increment or decrement would overflow\r\n", "INCR", "max");
    RUN(t, "-ERR increment or decrement would overflow\r\n", "INCRBY", "max", "1");
    RUN(t, ":-1\r\n", "INCRBY", "max", "-9223372036854775808");
    RUN(t, "+OK\r\n", "SET", "min", "-9223372036854775808");
    RUN(t, "-ERR increment or decrement would overflow\r\n", "DECR", "min");
    RUN(t, "-ERR increment or decrement would overflow\r\n", "DECRBY", "min", "1");
    RUN(t, "$20\r\n-9223372036854775808\r\n", "GET", "min");
    RUN(t, ":-1\r\n", "INCRBY", "min", "9223372036854775807");
    RUN(t, ":-1\r\n", "DECRBY", "min", "0");

    /* values that are not canonical integers */
    static const char *bad[] = {
        "hello", " 1", "1 ", "01", "+1", "1.0", "", "-0", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *argv[] = {"SET", "s", bad[i]};
        th_runv(t, 3, argv, NULL);
        RUN(t, "-ERR value is not an integer or out of range\r\n", "INCR", "s");
    }
}

static void test_incr_in_place(void **state)
{
    struct th *t = *state;
    changes = 0;
    t->eng.on_key_changed = count_changes;
    RUN(t, "+OK\r\n", "SET", "n", "41");
    struct kv *kv = find(t, "n");
    assert_int_equal(kv->enc, ENC_INT);
    long long dirty = t->eng.dirty;
    RUN(t, ":42\r\n", "INCR", "n");
    RUN(t, ":40\r\n", "DECRBY", "n", "2");
    /* same entry, updated in place */
    assert_ptr_equal(find(t, "n"), kv);
    assert_int_equal(kv->v.i, 40);
    assert_int_equal(t->eng.dirty, dirty + 2);
    assert_int_equal(changes, 3);
    /* the TTL survives */
    RUN(t, "+OK\r\n", "SETEX", "n", "100", "5");
    RUN(t, ":6\r\n", "INCR", "n");
    assert_int_equal(ttl_ms(t, "n"), 100000);

    /* a numeric RAW string (after APPEND) becomes ENC_INT again, TTL kept */
    RUN(t, "+OK\r\n", "SETEX", "r", "100", "1");
    RUN(t, ":2\r\n", "APPEND", "r", "2");
    assert_int_equal(enc_of(t, "r"), ENC_RAW);
    RUN(t, ":13\r\n", "INCR", "r");
    assert_int_equal(enc_of(t, "r"), ENC_INT);
    assert_int_equal(ttl_ms(t, "r"), 100000);
    t->eng.on_key_changed = NULL;

    /* many increments: still the same entry */
    kv = find(t, "n");
    for (int i = 0; i < 10000; i++) th_run(t, "INCR", "n", NULL);
    assert_ptr_equal(find(t, "n"), kv);
    assert_int_equal(kv->v.i, 10006);
}

static void test_incrbyfloat(void **state)
{
    struct th *t = *state;
    RUN(t, "$3\r\n1.5\r\n", "INCRBYFLOAT", "f", "1.5");
    RUN(t, "$1\r\n3\r\n", "INCRBYFLOAT", "f", "1.5");
    RUN(t, "$3\r\n3.1\r\n", "INCRBYFLOAT", "f", "0.1");
    RUN(t, "$1\r\n0\r\n", "INCRBYFLOAT", "f", "-3.1");
    RUN(t, "$5\r\n0.001\r\n", "INCRBYFLOAT", "f", "1e-3");
    RUN(t, "$1\r\n0\r\n", "INCRBYFLOAT", "z", "-0.0");
    RUN(t, "+OK\r\n", "SET", "i", "3");
    RUN(t, "$3\r\n128\r\n", "INCRBYFLOAT", "i", "1.25e2");
    RUN(t, "$5\r\n128.5\r\n", "INCRBYFLOAT", "i", "0.5");
    RUN(t, "$5\r\n144.5\r\n", "INCRBYFLOAT", "i", "0x10");
    RUN(t, "-ERR value is not a valid float\r\n", "INCRBYFLOAT", "i", "abc");
    RUN(t, "-ERR value is not a valid float\r\n", "INCRBYFLOAT", "i", " 1");
    RUN(t, "-ERR value is not a valid float\r\n", "INCRBYFLOAT", "i", "1 ");
    RUN(t, "-ERR value is not a valid float\r\n", "INCRBYFLOAT", "i", "");
    RUN(t, "-ERR value is not a valid float\r\n", "INCRBYFLOAT", "i", "nan");
    RUN(t, "-ERR increment would produce NaN or Infinity\r\n", "INCRBYFLOAT", "i", "inf");
    RUN(t, "-ERR increment would produce NaN or Infinity\r\n", "INCRBYFLOAT", "i", "-inf");
    RUN(t, "$5\r\n144.5\r\n", "GET", "i");
    RUN(t, "+OK\r\n", "SET", "s", "hello");
    RUN(t, "-ERR value is not a valid float\r\n", "INCRBYFLOAT", "s", "1");
    /* the stored value is checked before the increment */
    RUN(t, "-ERR value is not a valid float\r\n", "INCRBYFLOAT", "s", "x");
    /* huge values print in full, as %.17Lf does */
    RUN(t,
        "$301\r\n"
        "1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849"
        "1520837504971903503725086142748359035925561846729839130962605207486462873271356418436532"
        "9408425510760601678972665293237003055138294762099454029477278188962060617926761162709741"
        "0650567187386105690089424915104006144\r\n",
        "INCRBYFLOAT", "big", "1e300");
    const char *r = th_run(t, "INCRBYFLOAT", "huge", "1.1e4932", NULL);
    assert_memory_equal(r, "$4933\r\n10999999999999999", 24);
    RUN(t, "-ERR increment would produce NaN or Infinity\r\n", "INCRBYFLOAT", "huge", "1.1e4932");
    RUN(t, "-ERR value is not a valid float\r\n", "INCRBYFLOAT", "huge", "1e5000");
    /* the TTL survives */
    RUN(t, "+OK\r\n", "SETEX", "t", "100", "1");
    RUN(t, "$3\r\n1.5\r\n", "INCRBYFLOAT", "t", "0.5");
    assert_int_equal(ttl_ms(t, "t"), 100000);
}

static void test_append(void **state)
{
    struct th *t = *state;
    RUN(t, ":0\r\n", "APPEND", "e", "");
    assert_non_null(find(t, "e")); /* created, empty */
    RUN(t, ":2\r\n", "APPEND", "a", "12");
    assert_int_equal(enc_of(t, "a"), ENC_INT);
    RUN(t, ":5\r\n", "APPEND", "a", "abc");
    assert_int_equal(enc_of(t, "a"), ENC_RAW);
    RUN(t, "$5\r\n12abc\r\n", "GET", "a");
    RUN(t, ":5\r\n", "APPEND", "a", "");
    RUN(t, "+OK\r\n", "SET", "b", "x");
    assert_int_equal(enc_of(t, "b"), ENC_EMBSTR);
    RUN(t, ":1\r\n", "APPEND", "b", "");
    assert_int_equal(enc_of(t, "b"), ENC_RAW);

    /* binary-safe */
    const char *argv[] = {"APPEND", "bin", "\0\r\n\xff"};
    size_t lens[] = {6, 3, 4};
    assert_string_equal(th_runv(t, 3, argv, lens), ":4\r\n");
    assert_string_equal(th_runv(t, 3, argv, lens), ":8\r\n");
    const char *get[] = {"GET", "bin"};
    th_runv(t, 2, get, NULL);
    assert_int_equal(t->out.len, 4 + 8 + 2);
    assert_memory_equal(t->out.ptr, "$8\r\n\0\r\n\xff\0\r\n\xff\r\n", 14);

    /* a long sequence: content exact, buffer grown geometrically */
    const void *seen[64];
    int nseen = 0;
    char piece[16];
    for (int i = 0; i < 20000; i++) {
        snprintf(piece, sizeof(piece), "%05d", i);
        th_run(t, "APPEND", "long", piece, NULL);
        struct kv *kv = find(t, "long");
        if (kv->enc == ENC_RAW && (nseen == 0 || seen[nseen - 1] != kv->v.ptr)) {
            assert_true(nseen < 64);
            seen[nseen++] = kv->v.ptr;
        }
    }
    RUN(t, ":100000\r\n", "STRLEN", "long");
    struct kv *kv = find(t, "long");
    const struct rawstr *s = kv->v.ptr;
    for (int i = 0; i < 20000; i += 997) {
        snprintf(piece, sizeof(piece), "%05d", i);
        assert_memory_equal(s->data + i * 5, piece, 5);
    }
    RUN(t, "$5\r\n19999\r\n", "GETRANGE", "long", "-5", "-1");

    /* the size limit */
    t->eng.proto_max_bulk_len = 10;
    RUN(t, "+OK\r\n", "SET", "m", "12345");
    RUN(t, ":10\r\n", "APPEND", "m", "67890");
    RUN(t, "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n", "APPEND", "m", "x");
    RUN(t, "$10\r\n1234567890\r\n", "GET", "m");
    t->eng.proto_max_bulk_len = 512LL * 1024 * 1024;
}

static void test_strlen_getrange(void **state)
{
    struct th *t = *state;
    RUN(t, ":0\r\n", "STRLEN", "nokey");
    RUN(t, "+OK\r\n", "SET", "i", "12345");
    RUN(t, ":5\r\n", "STRLEN", "i");
    RUN(t, "+OK\r\n", "SET", "neg", "-12");
    RUN(t, ":3\r\n", "STRLEN", "neg");
    RUN(t, "$5\r\n12345\r\n", "GETRANGE", "i", "0", "-1");
    RUN(t, "$2\r\n23\r\n", "GETRANGE", "i", "1", "2");
    RUN(t, "$2\r\n45\r\n", "GETRANGE", "i", "-2", "-1");
    RUN(t, "$0\r\n\r\n", "GETRANGE", "i", "-1", "-2");
    RUN(t, "$0\r\n\r\n", "GETRANGE", "i", "5", "10");
    RUN(t, "$1\r\n5\r\n", "GETRANGE", "i", "4", "10");
    RUN(t, "$1\r\n1\r\n", "GETRANGE", "i", "-100", "-50");
    RUN(t, "$5\r\n12345\r\n", "GETRANGE", "i", "-100", "100");
    RUN(t, "$0\r\n\r\n", "GETRANGE", "i", "2", "1");
    RUN(t, "$0\r\n\r\n", "GETRANGE", "i", "9223372036854775807", "-9223372036854775808");
    RUN(t, "$5\r\n12345\r\n", "GETRANGE", "i", "-9223372036854775808", "9223372036854775807");
    RUN(t, "$0\r\n\r\n", "GETRANGE", "nokey", "0", "-1");
    RUN(t, "-ERR value is not an integer or out of range\r\n", "GETRANGE", "i", "a", "1");
    RUN(t, "-ERR value is not an integer or out of range\r\n", "GETRANGE", "nokey", "0", "b");
    RUN(t, "$3\r\n123\r\n", "SUBSTR", "i", "0", "2");
    RUN(t, "$3\r\n345\r\n", "SUBSTR", "i", "-3", "-1");
    RUN(t, "+OK\r\n", "SET", "e", "");
    RUN(t, "$0\r\n\r\n", "GETRANGE", "e", "0", "-1");
    RUN(t, "$0\r\n\r\n", "GETRANGE", "e", "-1", "-1");
    RUN(t, "+OK\r\n", "SET", "s", "Hello World");
    RUN(t, "$5\r\nWorld\r\n", "GETRANGE", "s", "-5", "100");
    RUN(t, "$2\r\nHe\r\n", "GETRANGE", "s", "-100", "1");
}

static void test_setrange(void **state)
{
    struct th *t = *state;
    RUN(t, ":0\r\n", "SETRANGE", "k", "0", "");
    assert_null(find(t, "k"));
    RUN(t, ":0\r\n", "SETRANGE", "k", "100000000000", "");
    assert_null(find(t, "k"));
    RUN(t, "-ERR offset is out of range\r\n", "SETRANGE", "k", "-1", "a");
    RUN(t, "-ERR value is not an integer or out of range\r\n", "SETRANGE", "k", "a", "a");
    RUN(t, ":8\r\n", "SETRANGE", "k", "5", "abc");
    assert_int_equal(enc_of(t, "k"), ENC_RAW);
    const char *get[] = {"GET", "k"};
    th_runv(t, 2, get, NULL);
    assert_memory_equal(t->out.ptr, "$8\r\n\0\0\0\0\0abc\r\n", 14);
    RUN(t, ":8\r\n", "SETRANGE", "k", "0", "XY");
    RUN(t, ":11\r\n", "SETRANGE", "k", "10", "Z");
    th_runv(t, 2, get, NULL);
    assert_memory_equal(t->out.ptr, "$11\r\nXY\0\0\0abc\0\0Z\r\n", 18);
    RUN(t, ":11\r\n", "SETRANGE", "k", "100", "");
    /* a number becomes a raw string */
    RUN(t, "+OK\r\n", "SET", "i", "12345");
    RUN(t, ":5\r\n", "SETRANGE", "i", "1", "9");
    RUN(t, "$5\r\n19345\r\n", "GET", "i");
    assert_int_equal(enc_of(t, "i"), ENC_RAW);
    RUN(t, "+OK\r\n", "SET", "one", "1");
    RUN(t, ":1\r\n", "SETRANGE", "one", "0", "2");
    assert_int_equal(enc_of(t, "one"), ENC_RAW);
    RUN(t, ":1\r\n", "SETRANGE", "nk", "0", "7");
    assert_int_equal(enc_of(t, "nk"), ENC_RAW);
    /* the TTL survives */
    RUN(t, "+OK\r\n", "SETEX", "x", "100", "hello");
    RUN(t, ":5\r\n", "SETRANGE", "x", "0", "J");
    RUN(t, "$5\r\nJello\r\n", "GET", "x");
    assert_int_equal(ttl_ms(t, "x"), 100000);
    /* size limit: offset + length */
    t->eng.proto_max_bulk_len = 1024 * 1024;
    RUN(t, "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n", "SETRANGE", "big",
        "1048575", "ab");
    assert_null(find(t, "big"));
    RUN(t, ":1048576\r\n", "SETRANGE", "big", "1048575", "a");
    RUN(t, "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n", "SETRANGE", "x",
        "9223372036854775807", "a");
    t->eng.proto_max_bulk_len = 512LL * 1024 * 1024;
}

static void test_expired_keys_are_absent(void **state)
{
    struct th *t = *state;
    static const char *cmds[][5] = {
        {"GET", "k", NULL, NULL, "$-1\r\n"},        {"STRLEN", "k", NULL, NULL, ":0\r\n"},
        {"GETRANGE", "k", "0", "-1", "$0\r\n\r\n"}, {"GETDEL", "k", NULL, NULL, "$-1\r\n"},
        {"GETEX", "k", "PERSIST", NULL, "$-1\r\n"}, {"GETSET", "k", "n", NULL, "$-1\r\n"},
        {"INCR", "k", NULL, NULL, ":1\r\n"},        {"INCRBYFLOAT", "k", "2", NULL, "$1\r\n2\r\n"},
        {"APPEND", "k", "z", NULL, ":1\r\n"},       {"SETRANGE", "k", "1", "z", ":2\r\n"},
        {"SETRANGE", "k", "0", "", ":0\r\n"},       {"LCS", "k", "k", NULL, "$0\r\n\r\n"},
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        RUN(t, "+OK\r\n", "PSETEX", "k", "10", "old");
        t->eng.now_ms += 10;
        int argc = 2;
        while (argc < 4 && cmds[i][argc]) argc++;
        th_runv(t, argc, cmds[i], NULL);
        assert_string_equal(t->out.ptr, cmds[i][4]);
        struct kv *kv = find(t, "k");
        if (kv) assert_int_equal(db_expire_of(&t->eng.dbs[0], kv), -1);
    }
    RUN(t, "+OK\r\n", "PSETEX", "k", "10", "old");
    t->eng.now_ms += 10;
    RUN(t, ":1\r\n", "MSETNX", "k", "1");
}

static void test_lcs(void **state)
{
    struct th *t = *state;
    RUN(t, "+OK\r\n", "MSET", "a", "ohmytext", "b", "mynewtext");
    RUN(t, "$6\r\nmytext\r\n", "LCS", "a", "b");
    RUN(t, ":6\r\n", "LCS", "a", "b", "LEN");
    const char *idx2 = "*4\r\n$7\r\nmatches\r\n*2\r\n"
                       "*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n"
                       "*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n"
                       "$3\r\nlen\r\n:6\r\n";
    RUN(t, idx2, "LCS", "a", "b", "IDX");
    const char *mml = "*4\r\n$7\r\nmatches\r\n*1\r\n"
                      "*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n"
                      "$3\r\nlen\r\n:6\r\n";
    RUN(t, mml, "LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN");
    RUN(t, "$0\r\n\r\n", "LCS", "a", "nokey");
    RUN(t, ":0\r\n", "LCS", "nokey", "b", "len");
    RUN(t, "*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n", "LCS", "x", "y", "idx");
    RUN(t, "-ERR syntax error\r\n", "LCS", "a", "b", "foo");
    RUN(t, "-ERR syntax error\r\n", "LCS", "a", "b", "MINMATCHLEN");
    RUN(t, "-ERR value is not an integer or out of range\r\n", "LCS", "a", "b", "MINMATCHLEN", "x");
    RUN(t, "-ERR If you want both the length and indexes, please just use IDX.\r\n", "LCS", "a",
        "b", "IDX", "LEN");
    /* integers compare as their decimal form */
    RUN(t, "+OK\r\n", "MSET", "n1", "12345", "n2", "2345x1");
    RUN(t, "$4\r\n2345\r\n", "LCS", "n1", "n2");
    t->sess.resp = 3;
    const char *idx3 = "%2\r\n$7\r\nmatches\r\n*2\r\n"
                       "*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n"
                       "*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n"
                       "$3\r\nlen\r\n:6\r\n";
    RUN(t, idx3, "LCS", "a", "b", "IDX", "WITHMATCHLEN", "MINMATCHLEN", "-3");
    RUN(t, "$6\r\nmytext\r\n", "LCS", "a", "b", "WITHMATCHLEN");
}

static void test_dirty_counts(void **state)
{
    struct th *t = *state;
    long long d = t->eng.dirty;
    th_run(t, "MSET", "a", "1", "b", "2", "c", "3", NULL);
    assert_int_equal(t->eng.dirty, d + 3);
    d = t->eng.dirty;
    th_run(t, "MSETNX", "a", "1", "z", "2", NULL);
    th_run(t, "SETNX", "a", "1", NULL);
    th_run(t, "GETDEL", "nokey", NULL);
    th_run(t, "INCR", "max", NULL);
    th_run(t, "SET", "max", "9223372036854775807", NULL);
    d = t->eng.dirty;
    th_run(t, "INCR", "max", NULL);
    th_run(t, "SETRANGE", "a", "0", "", NULL);
    th_run(t, "GET", "a", NULL);
    th_run(t, "LCS", "a", "b", NULL);
    assert_int_equal(t->eng.dirty, d);
    th_run(t, "APPEND", "a", "", NULL);
    th_run(t, "SETRANGE", "a", "0", "9", NULL);
    th_run(t, "INCRBYFLOAT", "a", "1", NULL);
    th_run(t, "GETSET", "a", "1", NULL);
    th_run(t, "GETDEL", "a", NULL);
    assert_int_equal(t->eng.dirty, d + 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_table, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_setnx_setex_psetex, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_mget_mset_msetnx, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_getset_getdel, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_wrongtype_all, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_getex, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_incr_decr, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_incr_in_place, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_incrbyfloat, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_append, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_strlen_getrange, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_setrange, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_expired_keys_are_absent, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_lcs, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_dirty_counts, th_setup, th_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
