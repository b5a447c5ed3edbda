/*
 * test_zset.c - sorted sets (engine/t_zset.c) through the command table:
 * both encodings and the conversion between them, a large skiplist checked
 * against a model (ranks, order, scores), the deterministic ZADD forms the
 * WAL logs and their replay, checkpoint serialize/parse round trips (small
 * and large, both encodings), the rejection of corrupt payloads, and the
 * blocking pops' immediate forms and the pops they log.
 * Replies were checked against redis-server 7.0.15.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/digest.h"
#include "engine/pack.h"
#include "engine/serialize.h"
#include "engine/types.h"
#include "harness.h"

#define RUN(t, ...) th_run(t, __VA_ARGS__, NULL)

static struct kv *find(struct th *t, const char *key)
{
    return db_find(&t->eng.dbs[t->sess.db], key, strlen(key));
}

static const char *enc_of(struct th *t, const char *key)
{
    struct kv *kv = find(t, key);
    assert_non_null(kv);
    return kv_encoding_name(kv);
}

static int setup(void **state)
{
    types_init();
    return th_setup(state);
}

static void test_listpack_basics(void **state)
{
    struct th *t = *state;
    assert_string_equal(RUN(t, "ZADD", "z", "1", "a", "2", "b", "3", "c"), ":3\r\n");
    assert_string_equal(enc_of(t, "z"), "listpack");
    assert_string_equal(RUN(t, "ZSCORE", "z", "b"), "$1\r\n2\r\n");
    assert_string_equal(RUN(t, "ZADD", "z", "1.1", "d"), ":1\r\n");
    assert_string_equal(RUN(t, "ZSCORE", "z", "d"), "$18\r\n1.1000000000000001\r\n");
    assert_string_equal(RUN(t, "ZRANGE", "z", "0", "-1"),
                        "*4\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\nb\r\n$1\r\nc\r\n");
    assert_string_equal(RUN(t, "ZRANK", "z", "b"), ":2\r\n");
    assert_string_equal(RUN(t, "ZREVRANK", "z", "b"), ":1\r\n");
    /* integer-looking members and 8-digit scores (stored as raw doubles) */
    assert_string_equal(RUN(t, "ZADD", "z", "12345678", "42", "-1234567", "7"), ":2\r\n");
    assert_string_equal(RUN(t, "ZSCORE", "z", "42"), "$8\r\n12345678\r\n");
    assert_string_equal(RUN(t, "ZSCORE", "z", "7"), "$8\r\n-1234567\r\n");
    assert_string_equal(RUN(t, "ZRANGE", "z", "0", "0"), "*1\r\n$1\r\n7\r\n");
    assert_string_equal(RUN(t, "ZREM", "z", "a", "d", "b", "c", "42", "7"), ":6\r\n");
    assert_null(find(t, "z"));
    /* -0 is stored as 0 in a listpack, as Redis does */
    assert_string_equal(RUN(t, "ZADD", "z", "-0", "m"), ":1\r\n");
    assert_string_equal(RUN(t, "ZSCORE", "z", "m"), "$1\r\n0\r\n");
    t->sess.resp = 3;
    assert_string_equal(RUN(t, "ZSCORE", "z", "m"), ",0\r\n");
    assert_string_equal(RUN(t, "ZINCRBY", "z", "inf", "m"), ",inf\r\n");
    t->sess.resp = 2;
}

static void test_conversions(void **state)
{
    struct th *t = *state;
    char m[32], s[32];
    for (int i = 0; i < 128; i++) {
        snprintf(m, sizeof(m), "m%d", i);
        snprintf(s, sizeof(s), "%d", i);
        RUN(t, "ZADD", "z", s, m);
    }
    assert_string_equal(enc_of(t, "z"), "listpack");
    RUN(t, "ZADD", "z", "128", "m128");
    assert_string_equal(enc_of(t, "z"), "skiplist");
    /* never back, even when small again */
    assert_string_equal(RUN(t, "ZREMRANGEBYRANK", "z", "0", "-2"), ":128\r\n");
    assert_string_equal(enc_of(t, "z"), "skiplist");
    assert_string_equal(RUN(t, "ZRANGE", "z", "0", "-1", "WITHSCORES"),
                        "*2\r\n$4\r\nm128\r\n$3\r\n128\r\n");
    /* a member longer than zset-max-listpack-value */
    char big[70];
    memset(big, 'x', 65);
    big[65] = '\0';
    RUN(t, "ZADD", "y", "1", "a");
    assert_string_equal(enc_of(t, "y"), "listpack");
    RUN(t, "ZADD", "y", "2", big);
    assert_string_equal(enc_of(t, "y"), "skiplist");
    RUN(t, "ZADD", "w", "1", big);
    assert_string_equal(enc_of(t, "w"), "skiplist");
    /* STORE results are packed when they fit */
    assert_string_equal(RUN(t, "ZUNIONSTORE", "u", "1", "z"), ":1\r\n");
    assert_string_equal(enc_of(t, "u"), "listpack");
    assert_string_equal(RUN(t, "ZRANGESTORE", "u", "y", "0", "0"), ":1\r\n");
    assert_string_equal(enc_of(t, "u"), "listpack");
    /* the thresholds follow the config */
    t->eng.lim.zset_max_listpack_entries = 0;
    RUN(t, "ZADD", "v", "1", "a");
    assert_string_equal(enc_of(t, "v"), "skiplist");
    t->eng.lim.zset_max_listpack_entries = 128;
}

/* A model: members m0..m(N-1) with scores; checks ranks and order. */
#define BIGN 5000
static void test_large_skiplist(void **state)
{
    struct th *t = *state;
    static int score[BIGN];
    static bool present[BIGN];
    char m[32], s[32], want[64];
    srand(7);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < BIGN; i++) {
            int k = rand() % BIGN;
            snprintf(m, sizeof(m), "m%d", k);
            if (rand() % 4 == 0) {
                RUN(t, "ZREM", "z", m);
                present[k] = false;
            } else {
                score[k] = rand() % 1000;
                present[k] = true;
                snprintf(s, sizeof(s), "%d", score[k]);
                RUN(t, "ZADD", "z", s, m);
            }
        }
    }
    assert_string_equal(enc_of(t, "z"), "skiplist");
    /* every present member's rank = number of members ordered before it */
    int n = 0;
    for (int i = 0; i < BIGN; i++) n += present[i];
    snprintf(want, sizeof(want), ":%d\r\n", n);
    assert_string_equal(RUN(t, "ZCARD", "z"), want);
    for (int i = 0; i < BIGN; i += 41) {
        if (!present[i]) continue;
        char mi[32];
        snprintf(mi, sizeof(mi), "m%d", i);
        long long before = 0;
        for (int j = 0; j < BIGN; j++) {
            if (!present[j] || j == i) continue;
            char mj[32];
            snprintf(mj, sizeof(mj), "m%d", j);
            if (score[j] < score[i] || (score[j] == score[i] && strcmp(mj, mi) < 0)) before++;
        }
        snprintf(want, sizeof(want), ":%lld\r\n", before);
        assert_string_equal(RUN(t, "ZRANK", "z", mi), want);
        snprintf(want, sizeof(want), ":%lld\r\n", n - 1 - before);
        assert_string_equal(RUN(t, "ZREVRANK", "z", mi), want);
        /* ZRANGE by that rank gives the member back */
        snprintf(s, sizeof(s), "%lld", before);
        char w2[64];
        snprintf(w2, sizeof(w2), "*1\r\n$%zu\r\n%s\r\n", strlen(mi), mi);
        assert_string_equal(RUN(t, "ZRANGE", "z", s, s), w2);
    }
    /* counts by score agree with the model */
    long long c = 0;
    for (int j = 0; j < BIGN; j++) c += present[j] && score[j] > 100 && score[j] <= 500;
    snprintf(want, sizeof(want), ":%lld\r\n", c);
    assert_string_equal(RUN(t, "ZCOUNT", "z", "(100", "500"), want);
    assert_string_equal(RUN(t, "ZREMRANGEBYSCORE", "z", "(100", "500"), want);
    snprintf(want, sizeof(want), ":%lld\r\n", n - c);
    assert_string_equal(RUN(t, "ZCARD", "z"), want);
    assert_string_equal(RUN(t, "ZCOUNT", "z", "(100", "500"), ":0\r\n");
}

/* Round trip through the checkpoint value format; digests must match. */
static void round_trip(struct th *t, const char *key)
{
    struct kv *kv = find(t, key);
    assert_non_null(kv);
    struct buf b = BUF_INIT;
    assert_int_equal(serialize_kv(&b, kv, -1), 0);
    struct kv *back = NULL;
    long long exp;
    assert_int_equal(serialize_parse_kv(b.ptr, b.len, &back, &exp), 0);
    assert_int_equal(back->type, OBJ_ZSET);
    assert_string_equal(kv_encoding_name(back), kv_encoding_name(kv));
    uint8_t d1[DIGEST_LEN], d2[DIGEST_LEN];
    assert_int_equal(digest_value(kv, d1), 0);
    assert_int_equal(digest_value(back, d2), 0);
    assert_memory_equal(d1, d2, DIGEST_LEN);
    /* a cut payload is refused */
    for (size_t cut = 1; cut < b.len && cut < 64; cut++) {
        struct kv *o = NULL;
        assert_int_equal(serialize_parse_kv(b.ptr, b.len - cut, &o, &exp), LODE_ECORRUPT);
    }
    kv_free(back);
    buf_release(&b);
}

static void test_serialize(void **state)
{
    struct th *t = *state;
    RUN(t, "ZADD", "small", "1", "a", "2.5", "b", "-inf", "c", "12345678", "d", "1e300", "e");
    RUN(t, "ZADD", "small", "0", "123", "0", "-0");
    assert_string_equal(enc_of(t, "small"), "listpack");
    round_trip(t, "small");
    char m[32], s[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(m, sizeof(m), "member:%d", i);
        snprintf(s, sizeof(s), "%d.%d", i % 977, i % 10);
        RUN(t, "ZADD", "large", s, m);
    }
    RUN(t, "ZADD", "large", "-0", "negzero");
    assert_string_equal(enc_of(t, "large"), "skiplist");
    round_trip(t, "large");
    /* the parsed set is usable: ranks work */
    assert_string_equal(RUN(t, "ZCARD", "large"), ":20001\r\n");
}

static int corrupt(const uint8_t *p, size_t n, int enc)
{
    const struct obj_ops *ops = obj_get_ops(OBJ_ZSET);
    void *ptr = NULL;
    int e = 0;
    int rc = ops->parse(p, n, enc, &ptr, &e);
    if (rc == 0) ops->free(ptr, e);
    return rc;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* element: u32 len, bytes, u64 score bits */
static size_t put_elem(uint8_t *p, const char *m, double score)
{
    uint32_t n = (uint32_t)strlen(m);
    p[0] = (uint8_t)n;
    p[1] = p[2] = p[3] = 0;
    memcpy(p + 4, m, n);
    uint64_t u;
    memcpy(&u, &score, 8);
    put64(p + 4 + n, u);
    return 12 + n;
}

static void test_corrupt(void **state)
{
    (void)state;
    uint8_t b[256];
    size_t n;
    /* skiplist encoding: good, then broken variants */
    put64(b, 2);
    n = 8 + put_elem(b + 8, "a", 1);
    n += put_elem(b + n, "b", 2);
    assert_int_equal(corrupt(b, n, 2), 0);
    assert_int_equal(corrupt(b, n - 1, 2), LODE_ECORRUPT);
    put64(b, 3); /* count too large */
    assert_int_equal(corrupt(b, n, 2), LODE_ECORRUPT);
    put64(b, 0); /* empty set */
    assert_int_equal(corrupt(b, 8, 2), LODE_ECORRUPT);
    put64(b, 2); /* out of order */
    n = 8 + put_elem(b + 8, "b", 2);
    n += put_elem(b + n, "a", 1);
    assert_int_equal(corrupt(b, n, 2), LODE_ECORRUPT);
    n = 8 + put_elem(b + 8, "a", 1); /* same member twice */
    n += put_elem(b + n, "a", 2);
    assert_int_equal(corrupt(b, n, 2), LODE_ECORRUPT);
    n = 8 + put_elem(b + 8, "a", 1); /* NaN score */
    n += put_elem(b + n, "b", NAN);
    assert_int_equal(corrupt(b, n, 2), LODE_ECORRUPT);
    b[8] = 0xff; /* member length past the end */
    assert_int_equal(corrupt(b, n, 2), LODE_ECORRUPT);
    assert_int_equal(corrupt(b, n, 9), LODE_EVERSION);

    /* pack encoding */
    uint8_t *pk = pk_new();
    pk = pk_append(pk, "a", 1);
    pk = pk_append(pk, "1", 1);
    assert_int_equal(corrupt(pk, pk_bytes(pk), 1), 0);
    pk = pk_append(pk, "b", 1); /* odd count */
    assert_int_equal(corrupt(pk, pk_bytes(pk), 1), LODE_ECORRUPT);
    pk = pk_append(pk, "0", 1); /* b=0 after a=1: out of order */
    assert_int_equal(corrupt(pk, pk_bytes(pk), 1), LODE_ECORRUPT);
    pk_free(pk);
    pk = pk_new();
    pk = pk_append(pk, "a", 1);
    pk = pk_append(pk, "xyz", 3); /* not a score */
    assert_int_equal(corrupt(pk, pk_bytes(pk), 1), LODE_ECORRUPT);
    pk_free(pk);
    pk = pk_new();
    pk = pk_append(pk, "a", 1);
    pk = pk_append(pk, "1", 1);
    pk = pk_append(pk, "a", 1); /* duplicate member */
    pk = pk_append(pk, "2", 1);
    assert_int_equal(corrupt(pk, pk_bytes(pk), 1), LODE_ECORRUPT);
    assert_int_equal(corrupt(pk, pk_bytes(pk) - 1, 1), LODE_ECORRUPT);
    pk_free(pk);
}

/* Parses the effects buffer (RESP arrays of bulk strings) and runs each
 * command on t2. */
static void replay(struct th *t1, struct th *t2)
{
    const char *p = t1->eng.eff.cmds.ptr, *end = p + t1->eng.eff.cmds.len;
    while (p && p < end) {
        assert_true(*p == '*');
        int argc = atoi(p + 1);
        p = strstr(p, "\r\n") + 2;
        const char *argv[64];
        size_t lens[64];
        for (int i = 0; i < argc; i++) {
            assert_true(*p == '$');
            lens[i] = (size_t)atol(p + 1);
            p = strstr(p, "\r\n") + 2;
            argv[i] = p;
            p += lens[i] + 2;
        }
        th_runv(t2, argc, argv, lens);
    }
    effects_reset(&t1->eng.eff);
}

static void test_effects_replay(void **state)
{
    struct th *t = *state;
    struct th t2;
    th_init(&t2);
    effects_reset(&t->eng.eff);
    assert_string_equal(RUN(t, "ZADD", "z", "INCR", "0.1", "a"), "$19\r\n0.10000000000000001\r\n");
    assert_non_null(strstr(t->eng.eff.cmds.ptr, "ZADD"));
    assert_null(strstr(t->eng.eff.cmds.ptr, "INCR"));
    replay(t, &t2);
    RUN(t, "ZINCRBY", "z", "0.2", "a");
    assert_non_null(strstr(t->eng.eff.cmds.ptr, "0.30000000000000004"));
    replay(t, &t2);
    /* nothing changed: nothing logged */
    RUN(t, "ZADD", "z", "NX", "5", "a");
    assert_int_equal(t->eng.eff.n, 0);
    RUN(t, "ZADD", "z", "GT", "INCR", "-1", "a");
    assert_int_equal(t->eng.eff.n, 0);
    /* a random mix, replayed, digests alike */
    srand(3);
    const char *cmds[] = {"ZADD",        "ZINCRBY",     "ZREM",
                          "ZPOPMIN",     "ZPOPMAX",     "ZREMRANGEBYRANK",
                          "ZUNIONSTORE", "ZRANGESTORE", "ZMPOP"};
    char a[32], b[32], c[32];
    for (int i = 0; i < 3000; i++) {
        int k = rand() % 9;
        snprintf(a, sizeof(a), "m%d", rand() % 200);
        snprintf(b, sizeof(b), "%d.%d", rand() % 100 - 50, rand() % 10);
        snprintf(c, sizeof(c), "z%d", rand() % 3);
        switch (k) {
        case 0: RUN(t, "ZADD", c, "INCR", b, a); break;
        case 1: RUN(t, "ZINCRBY", c, b, a); break;
        case 2: RUN(t, "ZREM", c, a); break;
        case 3: RUN(t, "ZPOPMIN", c, "2"); break;
        case 4: RUN(t, "ZPOPMAX", c); break;
        case 5: RUN(t, "ZREMRANGEBYRANK", c, "0", "1"); break;
        case 6: RUN(t, "ZUNIONSTORE", c, "2", "z0", "z1", "WEIGHTS", "0.5", "3"); break;
        case 7: RUN(t, "ZRANGESTORE", c, "z1", "(0", "+inf", "BYSCORE"); break;
        default: RUN(t, "ZMPOP", "2", c, "z2", "MAX", "COUNT", "3"); break;
        }
        (void)cmds;
        replay(t, &t2);
    }
    assert_int_equal(t->missing_rewrites, 0);
    uint8_t d1[DIGEST_LEN], d2[DIGEST_LEN];
    assert_int_equal(digest_dataset(&t->eng, d1, NULL), 0);
    assert_int_equal(digest_dataset(&t2.eng, d2, NULL), 0);
    assert_memory_equal(d1, d2, DIGEST_LEN);
    th_release(&t2);
}

/* -0 in every path that stores or converts a score (checked against
 * redis-server 7.0.15): a pack stores -0 as 0, a skiplist keeps it;
 * conversions carry what is stored; each STORE command builds its result
 * in the encoding Redis does; a checkpoint round trip and the replay of
 * the logged effects reproduce the same replies. */
static void test_negative_zero(void **state)
{
    struct th *t = *state;
    t->sess.resp = 3;
    /* a skiplist keeps -0; an equal score (0 or -0) is no update */
    t->eng.lim.zset_max_listpack_entries = 2;
    RUN(t, "ZADD", "s", "1", "a", "1", "b", "5", "c", "9", "d");
    assert_string_equal(enc_of(t, "s"), "skiplist");
    assert_string_equal(RUN(t, "ZADD", "s", "-0", "b"), ":0\r\n");
    assert_string_equal(RUN(t, "ZSCORE", "s", "b"), ",-0\r\n");
    assert_string_equal(RUN(t, "ZADD", "s", "CH", "0", "b"), ":0\r\n");
    assert_string_equal(RUN(t, "ZSCORE", "s", "b"), ",-0\r\n");
    assert_string_equal(RUN(t, "ZINCRBY", "s", "-0", "b"), ",-0\r\n");
    assert_string_equal(RUN(t, "ZINCRBY", "s", "0", "b"), ",0\r\n");
    assert_string_equal(RUN(t, "ZSCORE", "s", "b"), ",-0\r\n"); /* 0 == -0: kept */
    assert_string_equal(RUN(t, "ZADD", "s", "1", "a"), ":0\r\n");
    /* ZRANGESTORE by rank: a skiplist from the start when the range is
     * over the threshold (keeps -0), a pack when it is not (-0 -> 0) */
    assert_string_equal(RUN(t, "ZRANGESTORE", "r", "s", "0", "2"), ":3\r\n");
    assert_string_equal(enc_of(t, "r"), "skiplist");
    assert_string_equal(RUN(t, "ZSCORE", "r", "b"), ",-0\r\n");
    assert_string_equal(RUN(t, "ZRANGESTORE", "r", "s", "0", "1"), ":2\r\n");
    assert_string_equal(enc_of(t, "r"), "listpack");
    assert_string_equal(RUN(t, "ZSCORE", "r", "b"), ",0\r\n");
    assert_string_equal(RUN(t, "ZRANGESTORE", "r", "s", "0", "-1", "REV"), ":4\r\n");
    assert_string_equal(RUN(t, "ZSCORE", "r", "b"), ",-0\r\n");
    /* by score or lex: a pack that converts on the insert that passes the
     * threshold, so -0 survives only when it comes after the conversion */
    assert_string_equal(RUN(t, "ZRANGESTORE", "r", "s", "-inf", "+inf", "BYSCORE"), ":4\r\n");
    assert_string_equal(enc_of(t, "r"), "skiplist");
    assert_string_equal(RUN(t, "ZSCORE", "r", "b"), ",0\r\n");
    assert_string_equal(RUN(t, "ZRANGESTORE", "r", "s", "+inf", "-inf", "BYSCORE", "REV"),
                        ":4\r\n");
    assert_string_equal(RUN(t, "ZSCORE", "r", "b"), ",-0\r\n");
    assert_string_equal(RUN(t, "ZRANGESTORE", "r", "s", "[a", "[z", "BYLEX"), ":4\r\n");
    assert_string_equal(RUN(t, "ZSCORE", "r", "b"), ",0\r\n");
    /* ZUNION/ZINTER/ZDIFF reply from the skiplist they build (-0 kept),
     * their STORE forms keep it only when the result is not packed */
    assert_string_equal(RUN(t, "ZUNIONSTORE", "u", "1", "s"), ":4\r\n");
    assert_string_equal(RUN(t, "ZSCORE", "u", "b"), ",-0\r\n");
    assert_string_equal(RUN(t, "ZDIFFSTORE", "u", "1", "s"), ":4\r\n");
    assert_string_equal(RUN(t, "ZSCORE", "u", "b"), ",-0\r\n");
    assert_string_equal(RUN(t, "ZINTERSTORE", "u", "1", "s", "WEIGHTS", "-0"), ":4\r\n");
    assert_string_equal(RUN(t, "ZSCORE", "u", "a"), ",-0\r\n");
    assert_string_equal(RUN(t, "ZSCORE", "u", "b"), ",0\r\n");
    t->eng.lim.zset_max_listpack_entries = 128;
    assert_string_equal(RUN(t, "ZUNIONSTORE", "u", "1", "s"), ":4\r\n");
    assert_string_equal(enc_of(t, "u"), "listpack");
    assert_string_equal(RUN(t, "ZSCORE", "u", "b"), ",0\r\n");
    assert_string_equal(RUN(t, "ZINTERSTORE", "u", "1", "s"), ":4\r\n");
    assert_string_equal(RUN(t, "ZSCORE", "u", "b"), ",0\r\n");
    assert_string_equal(RUN(t, "ZDIFFSTORE", "u", "1", "s"), ":4\r\n");
    assert_string_equal(RUN(t, "ZSCORE", "u", "b"), ",0\r\n");
    assert_string_equal(RUN(t, "ZUNION", "1", "u", "WEIGHTS", "-1", "WITHSCORES"),
                        "*4\r\n*2\r\n$1\r\nd\r\n,-9\r\n*2\r\n$1\r\nc\r\n,-5\r\n"
                        "*2\r\n$1\r\na\r\n,-1\r\n*2\r\n$1\r\nb\r\n,-0\r\n");
    assert_string_equal(RUN(t, "ZRANGE", "s", "0", "0", "WITHSCORES"),
                        "*1\r\n*2\r\n$1\r\nb\r\n,-0\r\n");
    /* a pack stores -0 as 0 (ZINCRBY replies the sum before storing);
     * converting it to a skiplist keeps 0 */
    assert_string_equal(RUN(t, "ZINCRBY", "p", "-0", "m"), ",-0\r\n");
    assert_string_equal(enc_of(t, "p"), "listpack");
    assert_string_equal(RUN(t, "ZSCORE", "p", "m"), ",0\r\n");
    t->eng.lim.zset_max_listpack_entries = 1;
    RUN(t, "ZADD", "p", "1", "n");
    assert_string_equal(enc_of(t, "p"), "skiplist");
    assert_string_equal(RUN(t, "ZSCORE", "p", "m"), ",0\r\n");
    t->eng.lim.zset_max_listpack_entries = 128;
    /* a small skiplist holding -0 stays a skiplist through a checkpoint */
    assert_string_equal(RUN(t, "ZREMRANGEBYRANK", "s", "1", "-1"), ":3\r\n");
    assert_string_equal(enc_of(t, "s"), "skiplist");
    round_trip(t, "s");
    struct kv *kv = find(t, "s");
    struct buf b = BUF_INIT;
    assert_int_equal(serialize_kv(&b, kv, -1), 0);
    struct kv *back = NULL;
    long long exp;
    assert_int_equal(serialize_parse_kv(b.ptr, b.len, &back, &exp), 0);
    buf_release(&b);
    assert_true(db_delete(&t->eng, &t->eng.dbs[t->sess.db], "s", 1));
    struct kv *nk = kv_rekey(back, "s", 1);
    db_add(&t->eng, &t->eng.dbs[t->sess.db], nk);
    assert_string_equal(enc_of(t, "s"), "skiplist");
    assert_string_equal(RUN(t, "ZSCORE", "s", "b"), ",-0\r\n");
    t->sess.resp = 2;
    assert_string_equal(RUN(t, "ZSCORE", "s", "b"), "$2\r\n-0\r\n");
}

/* The -0 paths through the logged effects: the replayed state replies the
 * same (the digest hashes each score's reply text, "-0" or "0"). */
static void test_negative_zero_replay(void **state)
{
    struct th *t = *state;
    struct th t2;
    th_init(&t2);
    t->eng.lim.zset_max_listpack_entries = 2;
    t2.eng.lim.zset_max_listpack_entries = 2;
    effects_reset(&t->eng.eff);
    RUN(t, "ZADD", "s", "1", "a", "1", "b", "5", "c", "9", "d");
    RUN(t, "ZADD", "s", "-0", "b");
    RUN(t, "ZADD", "s", "INCR", "-0", "b");
    RUN(t, "ZINCRBY", "s", "-0", "e");
    RUN(t, "ZINCRBY", "p", "-0", "e");
    RUN(t, "ZRANGESTORE", "r1", "s", "0", "2");
    RUN(t, "ZRANGESTORE", "r2", "s", "+inf", "-inf", "BYSCORE", "REV");
    RUN(t, "ZUNIONSTORE", "u1", "2", "s", "p", "WEIGHTS", "-1", "1");
    RUN(t, "ZINTERSTORE", "u2", "1", "s", "WEIGHTS", "-0");
    RUN(t, "ZDIFFSTORE", "u3", "1", "s");
    RUN(t, "ZPOPMAX", "s");
    replay(t, &t2);
    assert_int_equal(t->missing_rewrites, 0);
    t2.sess.resp = 3;
    assert_string_equal(th_run(&t2, "ZSCORE", "r1", "b", NULL), ",-0\r\n");
    assert_string_equal(th_run(&t2, "ZSCORE", "r2", "b", NULL), ",-0\r\n");
    uint8_t d1[DIGEST_LEN], d2[DIGEST_LEN];
    assert_int_equal(digest_dataset(&t->eng, d1, NULL), 0);
    assert_int_equal(digest_dataset(&t2.eng, d2, NULL), 0);
    assert_memory_equal(d1, d2, DIGEST_LEN);
    th_release(&t2);
}

/* BZPOPMIN / BZPOPMAX / BZMPOP without a client (they may not block):
 * their replies when data is there, the null array when it is not, and the
 * ZPOPMIN / ZPOPMAX they log, whose replay reproduces the state. */
static void test_blocking_pops(void **state)
{
    struct th *t = *state;
    struct th t2;
    th_init(&t2);
    RUN(t, "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e");
    replay(t, &t2);
    assert_string_equal(RUN(t, "BZPOPMIN", "none", "z", "0"),
                        "*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n");
    assert_string_equal(t->eng.eff.cmds.ptr, "*2\r\n$7\r\nZPOPMIN\r\n$1\r\nz\r\n");
    replay(t, &t2);
    assert_string_equal(RUN(t, "BZPOPMAX", "z", "0"), "*3\r\n$1\r\nz\r\n$1\r\ne\r\n$1\r\n5\r\n");
    assert_string_equal(t->eng.eff.cmds.ptr, "*2\r\n$7\r\nZPOPMAX\r\n$1\r\nz\r\n");
    replay(t, &t2);
    /* BZMPOP logs the number it popped */
    assert_string_equal(
        RUN(t, "BZMPOP", "0", "2", "none", "z", "MAX", "COUNT", "2"),
        "*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nd\r\n$1\r\n4\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n");
    assert_string_equal(t->eng.eff.cmds.ptr, "*3\r\n$7\r\nZPOPMAX\r\n$1\r\nz\r\n$1\r\n2\r\n");
    replay(t, &t2);
    assert_string_equal(RUN(t, "BZMPOP", "0", "1", "z", "MIN", "COUNT", "10"),
                        "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
    assert_string_equal(t->eng.eff.cmds.ptr, "*3\r\n$7\r\nZPOPMIN\r\n$1\r\nz\r\n$1\r\n1\r\n");
    replay(t, &t2);
    assert_null(find(t, "z"));
    assert_null(find(&t2, "z"));
    /* nothing there and no client to block: the timeout reply, nothing logged */
    assert_string_equal(RUN(t, "BZPOPMIN", "z", "0"), "*-1\r\n");
    assert_string_equal(RUN(t, "BZMPOP", "0", "1", "z", "MIN"), "*-1\r\n");
    assert_int_equal(t->eng.eff.n, 0);
    RUN(t, "SET", "s", "x");
    assert_string_equal(RUN(t, "BZPOPMAX", "none", "s", "0"),
                        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    assert_string_equal(RUN(t, "BZMPOP", "x", "1", "z", "MIN"),
                        "-ERR timeout is not a float or out of range\r\n");
    assert_int_equal(t->missing_rewrites, 0);
    th_release(&t2);
}

static void test_dup_and_each(void **state)
{
    struct th *t = *state;
    char m[32];
    for (int i = 0; i < 300; i++) {
        snprintf(m, sizeof(m), "%d", i);
        RUN(t, "ZADD", "z", m, m);
    }
    struct kv *kv = find(t, "z");
    struct kv *c = kv_dup(kv, "c", 1);
    uint8_t d1[DIGEST_LEN], d2[DIGEST_LEN];
    digest_value(kv, d1);
    digest_value(c, d2);
    assert_memory_equal(d1, d2, DIGEST_LEN);
    assert_true(kv_mem_usage(c) > 300 * 32);
    kv_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_listpack_basics, setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_conversions, setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_large_skiplist, setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_serialize, setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_effects_replay, setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_blocking_pops, setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_dup_and_each, setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_negative_zero, setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_negative_zero_replay, setup, th_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
