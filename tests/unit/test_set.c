/*
 * test_set.c - the set type (engine/t_set.c) through the command table:
 * both encodings (intset in its three widths, hashtable), the conversions
 * at the set-max-intset-entries limit and on a non-integer member, exact
 * replies (checked against redis-server 7.0.15), the effects SPOP leaves
 * (replayed on a second engine: same digest), the random draws'
 * distribution, checkpoint round trips (small and large, digest equal and
 * encoding kept) and the rejection of corrupt payloads.
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
#include "engine/t_set.h"
#include "engine/types.h"

#define ERR_WRONGTYPE_REPLY "-" ERR_WRONGTYPE "\r\n"
#define RUN(t, expect, ...) assert_string_equal(th_run(t, __VA_ARGS__, NULL), expect)

static struct kv *find(struct th *t, const char *key)
{
    return db_find(&t->eng.dbs[t->sess.db], key, strlen(key));
}

static int enc_of(struct th *t, const char *key)
{
    struct kv *kv = find(t, key);
    assert_non_null(kv);
    assert_int_equal(kv->type, OBJ_SET);
    return kv->enc;
}

/* SADD key with the integers lo..hi (in batches that fit th_runv). */
static void sadd_range(struct th *t, const char *key, long long lo, long long hi)
{
    const char *argv[64];
    char nums[62][24];
    while (lo <= hi) {
        int argc = 0;
        argv[argc++] = "SADD";
        argv[argc++] = key;
        while (argc < 64 && lo <= hi) {
            snprintf(nums[argc - 2], sizeof(nums[0]), "%lld", lo++);
            argv[argc] = nums[argc - 2];
            argc++;
        }
        th_runv(t, argc, argv, NULL);
    }
}

/* The width byte of an intset's checkpoint payload. */
static int intset_width(struct th *t, const char *key)
{
    struct kv *kv = find(t, key);
    assert_int_equal(kv->enc, SET_ENC_INTSET);
    struct buf b = BUF_INIT;
    assert_int_equal(serialize_kv(&b, kv, -1), 0);
    int w = (uint8_t)b.ptr[SER_HEADER + kv->klen];
    buf_release(&b);
    return w;
}

static void test_table(void **state)
{
    (void)state;
    static const char *const reads[] = {"smembers",    "sismember", "smismember", "scard",
                                        "srandmember", "sinter",    "sintercard", "sunion",
                                        "sdiff",       "sscan"};
    static const char *const verbatim[] = {"sadd",        "srem",        "smove",
                                           "sinterstore", "sunionstore", "sdiffstore"};
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        const struct cmd_def *c = cmd_lookup(reads[i], strlen(reads[i]));
        assert_non_null(c);
        assert_non_null(c->fn);
        assert_int_equal(c->wal, WAL_NONE);
    }
    for (size_t i = 0; i < sizeof(verbatim) / sizeof(verbatim[0]); i++) {
        const struct cmd_def *c = cmd_lookup(verbatim[i], strlen(verbatim[i]));
        assert_non_null(c);
        assert_int_equal(c->wal, WAL_VERBATIM);
    }
    assert_int_equal(cmd_lookup("spop", 4)->wal, WAL_REWRITE);
}

static void test_intset_widths(void **state)
{
    struct th *t = *state;
    RUN(t, ":3\r\n", "SADD", "s", "3", "1", "2");
    assert_int_equal(enc_of(t, "s"), SET_ENC_INTSET);
    assert_int_equal(intset_width(t, "s"), 2);
    RUN(t, "$6\r\nintset\r\n", "OBJECT", "ENCODING", "s");
    /* 32-bit: a large positive value goes last */
    RUN(t, ":1\r\n", "SADD", "s", "100000");
    assert_int_equal(intset_width(t, "s"), 4);
    /* 64-bit: a large negative value goes first */
    RUN(t, ":1\r\n", "SADD", "s", "-9223372036854775808");
    assert_int_equal(intset_width(t, "s"), 8);
    RUN(t, ":1\r\n", "SADD", "s", "9223372036854775807");
    RUN(t, ":0\r\n", "SADD", "s", "1", "100000");
    RUN(t,
        "*6\r\n$20\r\n-9223372036854775808\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$6\r\n100000\r\n"
        "$19\r\n9223372036854775807\r\n",
        "SMEMBERS", "s");
    /* the width is never narrowed */
    RUN(t, ":2\r\n", "SREM", "s", "-9223372036854775808", "9223372036854775807");
    assert_int_equal(intset_width(t, "s"), 8);
    RUN(t, ":1\r\n", "SISMEMBER", "s", "100000");
    RUN(t, ":0\r\n", "SISMEMBER", "s", "5000000000");
    RUN(t, ":0\r\n", "SISMEMBER", "s", "01");
    RUN(t, "*3\r\n:1\r\n:0\r\n:0\r\n", "SMISMEMBER", "s", "2", "x", "-0");
    RUN(t, ":4\r\n", "SCARD", "s");
    /* a non-canonical integer is a string */
    RUN(t, ":1\r\n", "SADD", "t", "1");
    RUN(t, ":1\r\n", "SADD", "t", "+1");
    assert_int_equal(enc_of(t, "t"), SET_ENC_HT);
    RUN(t, "$9\r\nhashtable\r\n", "OBJECT", "ENCODING", "t");
    /* the first member decides, and a removal never converts back */
    RUN(t, ":2\r\n", "SADD", "u", "a", "1");
    RUN(t, ":1\r\n", "SREM", "u", "a");
    assert_int_equal(enc_of(t, "u"), SET_ENC_HT);
    /* the last removal deletes the key */
    RUN(t, ":1\r\n", "SREM", "u", "1", "1");
    assert_null(find(t, "u"));
}

static void test_limit_conversion(void **state)
{
    struct th *t = *state;
    assert_int_equal(t->eng.lim.set_max_intset_entries, 512);
    sadd_range(t, "s", 1, 512);
    assert_int_equal(enc_of(t, "s"), SET_ENC_INTSET);
    RUN(t, ":0\r\n", "SADD", "s", "512");
    assert_int_equal(enc_of(t, "s"), SET_ENC_INTSET);
    RUN(t, ":1\r\n", "SADD", "s", "513");
    assert_int_equal(enc_of(t, "s"), SET_ENC_HT);
    RUN(t, ":513\r\n", "SCARD", "s");
    RUN(t, ":1\r\n", "SISMEMBER", "s", "513");
    RUN(t, ":1\r\n", "SISMEMBER", "s", "1");
    /* a lowered limit applies at the next add */
    t->eng.lim.set_max_intset_entries = 2;
    RUN(t, ":2\r\n", "SADD", "x", "1", "2");
    assert_int_equal(enc_of(t, "x"), SET_ENC_INTSET);
    RUN(t, ":1\r\n", "SADD", "x", "3");
    assert_int_equal(enc_of(t, "x"), SET_ENC_HT);
    t->eng.lim.set_max_intset_entries = 512;
    /* store results are built by adds: intset when the members allow */
    sadd_range(t, "y", 1, 200);
    RUN(t, ":200\r\n", "SINTERSTORE", "d", "s", "y");
    assert_int_equal(enc_of(t, "d"), SET_ENC_INTSET);
    RUN(t, ":313\r\n", "SDIFFSTORE", "d", "s", "y");
    assert_int_equal(enc_of(t, "d"), SET_ENC_INTSET);
    RUN(t, ":513\r\n", "SUNIONSTORE", "d", "s", "y");
    assert_int_equal(enc_of(t, "d"), SET_ENC_HT);
}

static void test_algebra(void **state)
{
    struct th *t = *state;
    RUN(t, ":5\r\n", "SADD", "a", "1", "2", "3", "4", "5");
    RUN(t, ":4\r\n", "SADD", "b", "3", "4", "5", "6");
    RUN(t, "+OK\r\n", "SET", "str", "x");
    RUN(t, "*3\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n", "SINTER", "a", "b");
    RUN(t, "*0\r\n", "SINTER", "a", "missing");
    /* every key's type is checked, even after a missing one */
    RUN(t, ERR_WRONGTYPE_REPLY, "SINTER", "missing", "str");
    RUN(t, ERR_WRONGTYPE_REPLY, "SUNION", "missing", "str");
    RUN(t, ERR_WRONGTYPE_REPLY, "SDIFF", "missing", "str");
    RUN(t, ":3\r\n", "SINTERCARD", "2", "a", "b");
    RUN(t, ":2\r\n", "SINTERCARD", "2", "a", "b", "LIMIT", "2");
    RUN(t, ":3\r\n", "SINTERCARD", "2", "a", "b", "LIMIT", "0");
    RUN(t, "-ERR numkeys should be greater than 0\r\n", "SINTERCARD", "0", "a");
    RUN(t, "-ERR numkeys should be greater than 0\r\n", "SINTERCARD", "x", "a");
    RUN(t, "-ERR Number of keys can't be greater than number of args\r\n", "SINTERCARD", "3", "a",
        "b");
    RUN(t, "-ERR LIMIT can't be negative\r\n", "SINTERCARD", "1", "a", "LIMIT", "-1");
    RUN(t, "-ERR syntax error\r\n", "SINTERCARD", "1", "a", "LIMIT");
    RUN(t, "*6\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n", "SUNION",
        "a", "b", "missing");
    RUN(t, "*2\r\n$1\r\n1\r\n$1\r\n2\r\n", "SDIFF", "a", "b");
    RUN(t, "*0\r\n", "SDIFF", "a", "a");
    RUN(t, "*0\r\n", "SDIFF", "missing", "a");
    /* a store over a string replaces it; an empty result deletes dst */
    RUN(t, ":2\r\n", "SDIFFSTORE", "str", "a", "b");
    RUN(t, "+set\r\n", "TYPE", "str");
    RUN(t, ":0\r\n", "SINTERSTORE", "str", "a", "missing");
    assert_null(find(t, "str"));
    /* RESP3: sets */
    t->sess.resp = 3;
    RUN(t, "~2\r\n$1\r\n1\r\n$1\r\n2\r\n", "SDIFF", "a", "b");
    RUN(t, "~0\r\n", "SMEMBERS", "missing");
    RUN(t, "~0\r\n", "SPOP", "missing", "3");
    RUN(t, "*0\r\n", "SRANDMEMBER", "missing", "3");
    t->sess.resp = 2;
}

static void test_smove(void **state)
{
    struct th *t = *state;
    RUN(t, ":2\r\n", "SADD", "a", "1", "x");
    RUN(t, "+OK\r\n", "SET", "str", "v");
    RUN(t, ":0\r\n", "SMOVE", "missing", "str", "1");
    RUN(t, ERR_WRONGTYPE_REPLY, "SMOVE", "a", "str", "1");
    RUN(t, ":1\r\n", "SMOVE", "a", "a", "1");
    RUN(t, ":0\r\n", "SMOVE", "a", "a", "2");
    RUN(t, ":1\r\n", "SMOVE", "a", "n", "1");
    assert_int_equal(enc_of(t, "n"), SET_ENC_INTSET);
    RUN(t, ":0\r\n", "SMOVE", "a", "n", "1");
    RUN(t, ":1\r\n", "SMOVE", "a", "n", "x");
    assert_null(find(t, "a"));
    assert_int_equal(enc_of(t, "n"), SET_ENC_HT);
}

static void test_sscan(void **state)
{
    struct th *t = *state;
    RUN(t, "*2\r\n$1\r\n0\r\n*0\r\n", "SSCAN", "missing", "0", "COUNT", "0");
    RUN(t, "-ERR invalid cursor\r\n", "SSCAN", "missing", "x");
    RUN(t, ":3\r\n", "SADD", "s", "1", "10", "2");
    RUN(t, "*2\r\n$1\r\n0\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$2\r\n10\r\n", "SSCAN", "s", "7");
    RUN(t, "*2\r\n$1\r\n0\r\n*2\r\n$1\r\n1\r\n$2\r\n10\r\n", "SSCAN", "s", "0", "MATCH", "1*");
    RUN(t, "-ERR syntax error\r\n", "SSCAN", "s", "0", "COUNT", "0");
    /* a table: a complete iteration returns every member */
    char name[16];
    RUN(t, ":1\r\n", "SADD", "h", "m0");
    for (int i = 1; i < 300; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        th_run(t, "SADD", "h", name, NULL);
    }
    int seen[300] = {0};
    char cursor[32] = "0";
    int steps = 0;
    do {
        const char *r = th_run(t, "SSCAN", "h", cursor, "COUNT", "7", NULL);
        assert_int_equal(r[0], '*');
        const char *p = strstr(r, "\r\n") + 2; /* *2 */
        int clen = atoi(p + 1);
        p = strstr(p, "\r\n") + 2;
        snprintf(cursor, sizeof(cursor), "%.*s", clen, p);
        p += clen + 2;
        int n = atoi(p + 1);
        p = strstr(p, "\r\n") + 2;
        for (int i = 0; i < n; i++) {
            int len = atoi(p + 1);
            p = strstr(p, "\r\n") + 2;
            assert_true(len > 1 && p[0] == 'm');
            seen[atoi(p + 1)]++;
            p += len + 2;
        }
        steps++;
    } while (strcmp(cursor, "0") != 0 && steps < 10000);
    for (int i = 0; i < 300; i++) assert_true(seen[i] >= 1);
}

/* ---- SPOP / SRANDMEMBER ---- */

/* Replays every command in the effects buffer of a on engine b. */
static void replay_effects(struct th *a, struct th *b)
{
    const char *p = a->eng.eff.cmds.ptr, *end = p + a->eng.eff.cmds.len;
    while (p && p < end) {
        assert_int_equal(*p, '*');
        int argc = atoi(p + 1);
        p = strstr(p, "\r\n") + 2;
        const char *argv[64];
        size_t lens[64];
        assert_true(argc <= 64);
        for (int i = 0; i < argc; i++) {
            assert_int_equal(*p, '$');
            lens[i] = (size_t)atol(p + 1);
            p = strstr(p, "\r\n") + 2;
            argv[i] = p;
            p += lens[i] + 2;
        }
        th_runv(b, argc, argv, lens);
    }
    effects_reset(&a->eng.eff);
}

static void assert_same_digest(struct th *a, struct th *b)
{
    uint8_t da[DIGEST_LEN], db[DIGEST_LEN];
    assert_int_equal(digest_dataset(&a->eng, da, NULL), 0);
    assert_int_equal(digest_dataset(&b->eng, db, NULL), 0);
    assert_memory_equal(da, db, DIGEST_LEN);
}

/* Runs a command on a (replies unchecked) and replays its effects on b. */
static void both(struct th *a, struct th *b, const char *cmd, const char *key, const char *arg)
{
    effects_reset(&a->eng.eff);
    if (arg)
        th_run(a, cmd, key, arg, NULL);
    else
        th_run(a, cmd, key, NULL);
    assert_int_equal(a->missing_rewrites, 0);
    replay_effects(a, b);
    assert_same_digest(a, b);
}

static void test_spop_replay(void **state)
{
    struct th *a = *state, b;
    th_init(&b);
    static const char *const counts[] = {NULL, "1", "3", "40", "55", "1000"};
    for (int round = 0; round < 2; round++) {
        const char *key = round ? "h" : "i";
        for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
            /* integers (intset) or strings (table), 60 members */
            for (int i = 0; i < 60; i++) {
                char m[16];
                snprintf(m, sizeof(m), round ? "m%d" : "%d", i);
                both(a, &b, "SADD", key, m);
            }
            both(a, &b, "SPOP", key, counts[c]);
        }
    }
    /* the survivors of a large pop from a table of integers are an intset
     * (a lower limit keeps the logged SREM within th_runv's 64 arguments) */
    a->eng.lim.set_max_intset_entries = b.eng.lim.set_max_intset_entries = 50;
    sadd_range(a, "big", 1, 60);
    effects_reset(&a->eng.eff);
    sadd_range(&b, "big", 1, 60);
    assert_int_equal(enc_of(a, "big"), SET_ENC_HT);
    both(a, &b, "SPOP", "big", "59");
    assert_int_equal(enc_of(a, "big"), SET_ENC_INTSET);
    assert_int_equal(enc_of(&b, "big"), SET_ENC_INTSET);
    /* a rebuilt set keeps its TTL through replay */
    RUN(a, ":1\r\n", "EXPIRE", "big", "1000");
    replay_effects(a, &b);
    sadd_range(a, "big", 100, 159);
    effects_reset(&a->eng.eff);
    sadd_range(&b, "big", 100, 159);
    th_run(a, "SPOP", "big", "60", NULL);
    assert_non_null(strstr(a->eng.eff.cmds.ptr, "$9\r\nPEXPIREAT\r\n"));
    replay_effects(a, &b);
    assert_same_digest(a, &b);
    assert_int_equal(enc_of(&b, "big"), SET_ENC_INTSET);
    assert_true(db_expire_of(&b.eng.dbs[0], find(&b, "big")) > 0);
    /* emptying pops log a DEL */
    RUN(a, ":2\r\n", "SADD", "e", "x", "y");
    effects_reset(&a->eng.eff);
    th_run(a, "SPOP", "e", "2", NULL);
    assert_non_null(strstr(a->eng.eff.cmds.ptr, "$3\r\nDEL\r\n$1\r\ne\r\n"));
    assert_null(find(a, "e"));
    th_release(&b);
}

static void test_spop_srandmember_replies(void **state)
{
    struct th *t = *state;
    RUN(t, "$-1\r\n", "SPOP", "missing");
    RUN(t, "*0\r\n", "SPOP", "missing", "2");
    RUN(t, "-ERR value is out of range, must be positive\r\n", "SPOP", "missing", "-1");
    RUN(t, "-ERR value is out of range, must be positive\r\n", "SPOP", "missing", "x");
    RUN(t, "-ERR syntax error\r\n", "SPOP", "k", "1", "2");
    RUN(t, "$-1\r\n", "SRANDMEMBER", "missing");
    RUN(t, "*0\r\n", "SRANDMEMBER", "missing", "-3");
    RUN(t, "-ERR value is not an integer or out of range\r\n", "SRANDMEMBER", "k", "x");
    RUN(t,
        "-ERR value is out of range, value must between -9223372036854775807 and "
        "9223372036854775807\r\n",
        "SRANDMEMBER", "k", "-9223372036854775808");
    RUN(t, "+OK\r\n", "SET", "str", "v");
    RUN(t, ERR_WRONGTYPE_REPLY, "SRANDMEMBER", "str", "0");
    RUN(t, ERR_WRONGTYPE_REPLY, "SPOP", "str", "0");
    RUN(t, ":1\r\n", "SADD", "one", "x");
    RUN(t, "*3\r\n$1\r\nx\r\n$1\r\nx\r\n$1\r\nx\r\n", "SRANDMEMBER", "one", "-3");
    RUN(t, "*1\r\n$1\r\nx\r\n", "SRANDMEMBER", "one", "5");
    RUN(t, "*0\r\n", "SRANDMEMBER", "one", "0");
    RUN(t, "$1\r\nx\r\n", "SPOP", "one");
    assert_null(find(t, "one"));
}

/* Counts how often each of n members m0..m<n-1> appears in a reply. */
static void tally(const char *r, int *hits, int n)
{
    const char *p = strstr(r, "\r\n") + 2;
    while (*p == '$') {
        int len = atoi(p + 1);
        p = strstr(p, "\r\n") + 2;
        int i = atoi(p + 1);
        assert_true(i >= 0 && i < n);
        hits[i]++;
        p += len + 2;
    }
}

static void test_random_distribution(void **state)
{
    struct th *t = *state;
    enum { N = 40, DRAWS = 40000 };
    char m[16];
    for (int i = 0; i < N; i++) {
        snprintf(m, sizeof(m), "m%d", i);
        th_run(t, "SADD", "h", m, NULL);
    }
    int hits[N] = {0};
    for (int k = 0; k < DRAWS / 1000; k++)
        tally(th_run(t, "SRANDMEMBER", "h", "-1000", NULL), hits, N);
    /* expectation 1000 each; a fair draw stays well inside +-30% */
    for (int i = 0; i < N; i++) assert_true(hits[i] > 700 && hits[i] < 1300);
    /* distinct draws: every strategy returns distinct members */
    static const char *const counts[] = {"5", "13", "14", "30", "39", "40"};
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        int h2[N] = {0};
        tally(th_run(t, "SRANDMEMBER", "h", counts[c], NULL), h2, N);
        int total = 0;
        for (int i = 0; i < N; i++) {
            assert_true(h2[i] <= 1);
            total += h2[i];
        }
        assert_int_equal(total, atoi(counts[c]));
    }
    /* SRANDMEMBER with a small count is fair too */
    int h3[N] = {0};
    for (int k = 0; k < 4000; k++) tally(th_run(t, "SRANDMEMBER", "h", "5", NULL), h3, N);
    for (int i = 0; i < N; i++) assert_true(h3[i] > 350 && h3[i] < 650);
}

/* ---- checkpoint payloads ---- */

static struct kv *round_trip(struct kv *kv)
{
    struct buf b = BUF_INIT;
    assert_int_equal(serialize_kv(&b, kv, 123), 0);
    struct kv *back = NULL;
    long long exp = 0;
    assert_int_equal(serialize_parse_kv(b.ptr, b.len, &back, &exp), 0);
    assert_int_equal(exp, 123);
    assert_int_equal(back->type, OBJ_SET);
    assert_int_equal(back->enc, kv->enc);
    uint8_t d1[DIGEST_LEN], d2[DIGEST_LEN];
    assert_int_equal(digest_value(kv, d1), 0);
    assert_int_equal(digest_value(back, d2), 0);
    assert_memory_equal(d1, d2, DIGEST_LEN);
    buf_release(&b);
    return back;
}

static void test_round_trips(void **state)
{
    struct th *t = *state;
    RUN(t, ":3\r\n", "SADD", "i16", "-3", "0", "32767");
    RUN(t, ":2\r\n", "SADD", "i32", "-2147483648", "7");
    RUN(t, ":2\r\n", "SADD", "i64", "1", "-9223372036854775808");
    RUN(t, ":3\r\n", "SADD", "h", "", "a", "1");
    char big[300];
    memset(big, 'z', sizeof(big));
    const char *argv[] = {"SADD", "h", big};
    size_t lens[] = {4, 1, sizeof(big)};
    th_runv(t, 3, argv, lens);
    static const char *const keys[] = {"i16", "i32", "i64", "h"};
    for (size_t i = 0; i < 4; i++) kv_free(round_trip(find(t, keys[i])));
    /* a large table */
    char m[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(m, sizeof(m), "member:%d", i);
        th_run(t, "SADD", "large", m, NULL);
    }
    struct kv *back = round_trip(find(t, "large"));
    kv_free(back);
    /* a large intset (limit raised) */
    t->eng.lim.set_max_intset_entries = 1 << 20;
    sadd_range(t, "largei", -5000,
               5000); /* an intset insert moves the array: keep ASan runs short */
    assert_int_equal(enc_of(t, "largei"), SET_ENC_INTSET);
    kv_free(round_trip(find(t, "largei")));
    t->eng.lim.set_max_intset_entries = 512;
    /* the same members digest alike in both encodings */
    RUN(t, ":3\r\n", "SADD", "x", "1", "2", "3");
    RUN(t, ":4\r\n", "SADD", "y", "a", "3", "2", "1");
    RUN(t, ":1\r\n", "SREM", "y", "a");
    assert_int_equal(enc_of(t, "x"), SET_ENC_INTSET);
    assert_int_equal(enc_of(t, "y"), SET_ENC_HT);
    uint8_t dx[DIGEST_LEN], dy[DIGEST_LEN];
    assert_int_equal(digest_value(find(t, "x"), dx), 0);
    assert_int_equal(digest_value(find(t, "y"), dy), 0);
    assert_memory_equal(dx, dy, DIGEST_LEN);
    /* COPY duplicates both encodings */
    RUN(t, ":1\r\n", "COPY", "y", "y2");
    RUN(t, ":1\r\n", "COPY", "x", "x2");
    assert_int_equal(digest_value(find(t, "y2"), dy), 0);
    assert_memory_equal(dx, dy, DIGEST_LEN);
    assert_int_equal(digest_value(find(t, "x2"), dy), 0);
    assert_memory_equal(dx, dy, DIGEST_LEN);
}

/* Builds a set value: header (type, encoding, no expiry, key "k"), then
 * the payload. */
static size_t value(uint8_t *out, int enc, const uint8_t *payload, size_t n)
{
    uint8_t h[SER_HEADER + 1] = {SER_TYPE_SET, (uint8_t)enc};
    memset(h + 2, 0xff, 8);
    h[10] = 1;
    h[SER_HEADER] = 'k';
    memcpy(out, h, sizeof(h));
    memcpy(out + sizeof(h), payload, n);
    return sizeof(h) + n;
}

static int parse(int enc, const uint8_t *payload, size_t n)
{
    uint8_t b[256];
    size_t len = value(b, enc, payload, n);
    struct kv *kv = NULL;
    long long exp;
    int rc = serialize_parse_kv(b, len, &kv, &exp);
    if (rc == 0) kv_free(kv);
    return rc;
}

static void test_corrupt(void **state)
{
    (void)state;
    types_init();
    /* valid: intset width 2 {1, 2}; table {"a", "b"} */
    static const uint8_t is_ok[] = {2, 2, 0, 0, 0, 1, 0, 2, 0};
    static const uint8_t ht_ok[] = {2, 0, 0, 0, 1, 0, 0, 0, 'a', 1, 0, 0, 0, 'b'};
    assert_int_equal(parse(1, is_ok, sizeof(is_ok)), 0);
    assert_int_equal(parse(2, ht_ok, sizeof(ht_ok)), 0);
    /* every truncation fails */
    for (size_t n = 0; n < sizeof(is_ok); n++) assert_int_equal(parse(1, is_ok, n), LODE_ECORRUPT);
    for (size_t n = 0; n < sizeof(ht_ok); n++) assert_int_equal(parse(2, ht_ok, n), LODE_ECORRUPT);
    /* trailing bytes */
    static const uint8_t is_trail[] = {2, 2, 0, 0, 0, 1, 0, 2, 0, 0};
    assert_int_equal(parse(1, is_trail, sizeof(is_trail)), LODE_ECORRUPT);
    /* bad width, empty, unordered, duplicate */
    static const uint8_t is_w3[] = {3, 1, 0, 0, 0, 1, 0, 0};
    static const uint8_t is_empty[] = {2, 0, 0, 0, 0};
    static const uint8_t is_desc[] = {2, 2, 0, 0, 0, 2, 0, 1, 0};
    static const uint8_t is_dup[] = {2, 2, 0, 0, 0, 1, 0, 1, 0};
    static const uint8_t is_huge[] = {8, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(parse(1, is_w3, sizeof(is_w3)), LODE_ECORRUPT);
    assert_int_equal(parse(1, is_empty, sizeof(is_empty)), LODE_ECORRUPT);
    assert_int_equal(parse(1, is_desc, sizeof(is_desc)), LODE_ECORRUPT);
    assert_int_equal(parse(1, is_dup, sizeof(is_dup)), LODE_ECORRUPT);
    assert_int_equal(parse(1, is_huge, sizeof(is_huge)), LODE_ECORRUPT);
    static const uint8_t ht_dup[] = {2, 0, 0, 0, 1, 0, 0, 0, 'a', 1, 0, 0, 0, 'a'};
    static const uint8_t ht_empty[] = {0, 0, 0, 0};
    static const uint8_t ht_huge[] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    static const uint8_t ht_len[] = {1, 0, 0, 0, 9, 0, 0, 0, 'a'};
    assert_int_equal(parse(2, ht_dup, sizeof(ht_dup)), LODE_ECORRUPT);
    assert_int_equal(parse(2, ht_empty, sizeof(ht_empty)), LODE_ECORRUPT);
    assert_int_equal(parse(2, ht_huge, sizeof(ht_huge)), LODE_ECORRUPT);
    assert_int_equal(parse(2, ht_len, sizeof(ht_len)), LODE_ECORRUPT);
    /* unknown encodings are a newer writer's */
    assert_int_equal(parse(3, ht_ok, sizeof(ht_ok)), LODE_EVERSION);
    assert_int_equal(parse(0, ht_ok, sizeof(ht_ok)), LODE_ECORRUPT);
    /* sign extension: width 4 {-1, 70000} */
    static const uint8_t is_neg[] = {4, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x70, 0x11, 1, 0};
    uint8_t b[64];
    size_t len = value(b, 1, is_neg, sizeof(is_neg));
    struct kv *kv = NULL;
    long long exp;
    assert_int_equal(serialize_parse_kv(b, len, &kv, &exp), 0);
    struct th t;
    th_init(&t);
    db_add(&t.eng, &t.eng.dbs[0], kv);
    assert_string_equal(th_run(&t, "SMEMBERS", "k", NULL), "*2\r\n$2\r\n-1\r\n$5\r\n70000\r\n");
    th_release(&t);
}

/* MEMORY USAGE grows with the members and stays near one small allocation
 * per member plus its bucket: about 52 bytes a member with jemalloc's size
 * classes, less with glibc's (Redis: about 57). */
static void test_memory(void **state)
{
    struct th *t = *state;
    char m[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(m, sizeof(m), "member:%d", i);
        th_run(t, "SADD", "h", m, NULL);
    }
    size_t used = kv_mem_usage(find(t, "h"));
    assert_true(used > 20000 * 16);
    assert_true(used < 20000 * 56);
}

static int changes;
static void count_change(struct engine *eng, struct db *db, const char *key, size_t klen)
{
    (void)eng, (void)db, (void)key, (void)klen;
    changes++;
}

/* Every in-place change reports the key (WATCH, checkpoint dirty set);
 * reads and no-op writes do not. */
static void test_key_changed(void **state)
{
    struct th *t = *state;
    t->eng.on_key_changed = count_change;
    static const char *const writes[][4] = {
        {"SADD", "s", "1", "2"},         {"SADD", "s", "x", NULL},
        {"SREM", "s", "1", NULL},        {"SPOP", "s", NULL, NULL},
        {"SPOP", "s", "1", NULL},        {"SMOVE", "t", "s", "q"},
        {"SINTERSTORE", "d", "s", NULL}, {"SDIFFSTORE", "d", "missing", NULL}};
    RUN(t, ":2\r\n", "SADD", "t", "q", "r");
    for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
        int argc = 0;
        while (argc < 4 && writes[i][argc]) argc++;
        changes = 0;
        th_runv(t, argc, (const char **)writes[i], NULL);
        assert_true(changes >= 1);
    }
    static const char *const quiet[][4] = {
        {"SADD", "t", "r", NULL},        {"SREM", "t", "zz", NULL},
        {"SMEMBERS", "t", NULL, NULL},   {"SPOP", "missing", NULL, NULL},
        {"SMOVE", "t", "u", "zz"},       {"SINTERSTORE", "nothing", "missing", NULL},
        {"SRANDMEMBER", "t", "-5", NULL}};
    for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++) {
        int argc = 0;
        while (argc < 4 && quiet[i][argc]) argc++;
        changes = 0;
        th_runv(t, argc, (const char **)quiet[i], NULL);
        assert_int_equal(changes, 0);
    }
    t->eng.on_key_changed = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_table, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_intset_widths, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_limit_conversion, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_algebra, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_smove, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_sscan, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_spop_replay, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_spop_srandmember_replies, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_random_distribution, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_round_trips, th_setup, th_teardown),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test_setup_teardown(test_memory, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_key_changed, th_setup, th_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
