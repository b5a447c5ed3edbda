/*
 * test_hll.c - HyperLogLog (engine/t_hll.c): the pinned hash, register
 * packing, sparse and dense forms and the conversion between them, the
 * estimator's accuracy over many independent trials, corrupt-value
 * rejection, and the commands' replies and logging through the command
 * table. Expected replies were checked against redis-server 7.0.
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

#include "engine/t_hll.h"
#include "harness.h"

#define RUN(t, expect, ...) assert_string_equal(th_run(t, __VA_ARGS__, NULL), expect)

static struct kv *find(struct th *t, const char *key)
{
    return db_find(&t->eng.dbs[t->sess.db], key, strlen(key));
}

/* The value of a string key (borrowed). */
static const uint8_t *value_of(struct th *t, const char *key, size_t *n)
{
    static char tmp[UTIL_LLSTR_SIZE];
    struct kv *kv = find(t, key);
    assert_non_null(kv);
    return (const uint8_t *)kv_str(kv, tmp, n);
}

/* SET key <bytes> (binary safe). */
static void set_bytes(struct th *t, const char *key, const uint8_t *p, size_t n)
{
    const char *argv[3] = {"SET", key, (const char *)p};
    size_t lens[3] = {3, strlen(key), n};
    assert_string_equal(th_runv(t, 3, argv, lens), "+OK\r\n");
}

static long long reply_ll(const char *r)
{
    assert_true(r[0] == ':');
    return atoll(r + 1);
}

static void test_table(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int wal, arity;
    } want[] = {
        {"pfadd", WAL_VERBATIM, -2},  {"pfcount", WAL_NONE, -2},   {"pfmerge", WAL_VERBATIM, -2},
        {"pfdebug", WAL_VERBATIM, 3}, {"pfselftest", WAL_NONE, 1},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct cmd_def *c = cmd_lookup(want[i].name, strlen(want[i].name));
        assert_non_null(c);
        assert_non_null(c->fn);
        assert_int_equal(c->wal, want[i].wal);
        assert_int_equal(c->arity, want[i].arity);
    }
}

/* The hash is part of the persisted format: registers written by one
 * version must mean the same in the next. These values pin it. */
static void test_hash_pinned(void **state)
{
    (void)state;
    assert_true(hll_hash("", 0) == hll_hash("", 0));
    assert_true(hll_hash("a", 1) != hll_hash("b", 1));
    assert_true(hll_hash("abcdefgh", 8) != hll_hash("abcdefg", 7));
    assert_true(hll_hash("\0", 1) != hll_hash("", 0));
    uint64_t h1 = hll_hash("", 0), h2 = hll_hash("a", 1),
             h3 = hll_hash("hello world, hyperloglog", 24);
    char got[128];
    snprintf(got, sizeof(got), "%016llx %016llx %016llx", (unsigned long long)h1,
             (unsigned long long)h2, (unsigned long long)h3);
    assert_string_equal(got, "9ca066f1a4ab2eea 82fabf805333f12e 7f4637512afdf56b");
}

/* Register indexes are uniform and ranks geometric (P(rank = k) = 2^-k). */
static void test_hash_distribution(void **state)
{
    (void)state;
    enum { N = 1 << 20 };
    uint32_t *idx = calloc(HLL_REGISTERS, sizeof(uint32_t));
    uint32_t rank[HLL_RANK_MAX + 1] = {0};
    for (uint32_t i = 0; i < N; i++) {
        char s[32];
        int n = snprintf(s, sizeof(s), "item:%u", i);
        unsigned x, r;
        hll_split(hll_hash(s, (size_t)n), &x, &r);
        assert_true(x < HLL_REGISTERS && r >= 1 && r <= HLL_RANK_MAX);
        idx[x]++;
        rank[r]++;
    }
    /* chi-square over 16384 cells, 64 expected each: mean 16383, sd 181 */
    double chi = 0;
    for (unsigned i = 0; i < HLL_REGISTERS; i++) chi += (idx[i] - 64.0) * (idx[i] - 64.0) / 64.0;
    assert_true(chi > 16383 - 6 * 181 && chi < 16383 + 6 * 181);
    for (int k = 1; k <= 8; k++) {
        double want = (double)N / (double)(1u << k);
        assert_true(fabs(rank[k] - want) < 6 * sqrt(want));
    }
    free(idx);
}

static void test_selftest(void **state)
{
    struct th *t = *state;
    char why[128];
    assert_int_equal(hll_selftest(why, sizeof(why)), 0);
    RUN(t, "+OK\r\n", "PFSELFTEST");
}

/* The estimator over many independent sketches: the mean relative error
 * (bias) and its spread at each cardinality must match HyperLogLog's
 * theory, 1.04/sqrt(16384) = 0.81% standard error. */
static void test_accuracy_trials(void **state)
{
    (void)state;
    enum { TRIALS = 48 };
    static const uint32_t marks[] = {10, 100, 1000, 5000, 20000, 40000, 100000};
    enum { NMARKS = sizeof(marks) / sizeof(marks[0]) };
    double sum[NMARKS] = {0}, sq[NMARKS] = {0};
    uint8_t *regs = malloc(HLL_REGISTERS);
    for (uint32_t trial = 0; trial < TRIALS; trial++) {
        memset(regs, 0, HLL_REGISTERS);
        size_t m = 0;
        for (uint32_t i = 1; i <= marks[NMARKS - 1]; i++) {
            uint8_t e[8];
            uint64_t v = (uint64_t)trial << 32 | i;
            memcpy(e, &v, 8);
            unsigned x, r;
            hll_split(hll_hash(e, 8), &x, &r);
            if (regs[x] < r) regs[x] = (uint8_t)r;
            if (i == marks[m]) {
                double err = ((double)hll_estimate_regs(regs) - i) / i;
                sum[m] += err;
                sq[m] += err * err;
                m++;
            }
        }
    }
    for (size_t m = 0; m < NMARKS; m++) {
        double mean = sum[m] / TRIALS, rmse = sqrt(sq[m] / TRIALS);
        /* the rmse of 48 trials is within about 20% of the true spread */
        assert_true(rmse < 0.0081 * 1.35);
        assert_true(fabs(mean) < 4 * 0.0081 / sqrt(TRIALS));
    }
    free(regs);
}

/* Distinct elements 1..1,000,000 through the commands: every estimate
 * within 3 standard errors, across the sparse-to-dense conversion. */
static void test_accuracy_commands(void **state)
{
    struct th *t = *state;
    enum { BATCH = 60 };
    static char bufs[BATCH][24];
    const char *argv[BATCH + 2] = {"PFADD", "big"};
    long long n = 0, next = 1;
    while (n < 1000000) {
        int k = 0;
        while (k < BATCH && n < next) {
            snprintf(bufs[k], sizeof(bufs[k]), "e%lld", n++);
            argv[2 + k] = bufs[k];
            k++;
        }
        th_runv(t, k + 2, argv, NULL);
        if (n == next) {
            long long est = reply_ll(th_run(t, "PFCOUNT", "big", NULL));
            double err = fabs((double)(est - n)) / (double)n;
            if (n < 100)
                assert_int_equal(est, n);
            else
                assert_true(err < 3 * 0.0081);
            next = next < 10 ? next + 1 : next * 2;
            if (next > 1000000) next = 1000000;
        }
    }
    size_t len;
    const uint8_t *p = value_of(t, "big", &len);
    assert_int_equal(hll_kind(p, len), HLL_DENSE);
}

static void test_pfadd_pfcount(void **state)
{
    struct th *t = *state;
    RUN(t, ":1\r\n", "PFADD", "h");
    RUN(t, ":0\r\n", "PFADD", "h");
    RUN(t, ":1\r\n", "PFADD", "h", "a", "b", "c");
    RUN(t, ":0\r\n", "PFADD", "h", "a", "c");
    RUN(t, ":3\r\n", "PFCOUNT", "h");
    RUN(t, ":0\r\n", "PFCOUNT", "nokey");
    RUN(t, ":3\r\n", "PFCOUNT", "nokey", "h");
    RUN(t, ":1\r\n", "PFADD", "h2", "c", "d");
    RUN(t, ":4\r\n", "PFCOUNT", "h", "h2");
    RUN(t, ":3\r\n", "PFCOUNT", "h");
    RUN(t, "+string\r\n", "TYPE", "h");
    RUN(t, "$3\r\nraw\r\n", "OBJECT", "ENCODING", "h");
    RUN(t, "+sparse\r\n", "PFDEBUG", "ENCODING", "h");
    size_t n;
    const uint8_t *p = value_of(t, "h", &n);
    assert_int_equal(n, HLL_HDR_SIZE + 3 * HLL_ENTRY_SIZE);
    assert_memory_equal(p, "LHLL\x01\x01\x00\x00", 8);
    RUN(t, "-ERR wrong number of arguments for 'pfadd' command\r\n", "PFADD");
    RUN(t, "-ERR wrong number of arguments for 'pfcount' command\r\n", "PFCOUNT");
}

static void test_wrongtype(void **state)
{
    struct th *t = *state;
    static const char *not_hll = "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n";
    RUN(t, "+OK\r\n", "SET", "s", "foo");
    RUN(t, not_hll, "PFADD", "s", "a");
    RUN(t, not_hll, "PFADD", "s");
    RUN(t, not_hll, "PFCOUNT", "s");
    RUN(t, ":1\r\n", "PFADD", "h", "x");
    RUN(t, not_hll, "PFCOUNT", "h", "s");
    RUN(t, not_hll, "PFMERGE", "d", "h", "s");
    RUN(t, ":0\r\n", "EXISTS", "d");
    RUN(t, not_hll, "PFMERGE", "s", "h");
    RUN(t, not_hll, "PFDEBUG", "ENCODING", "s");
    RUN(t, "+OK\r\n", "SET", "n", "12345");
    RUN(t, not_hll, "PFCOUNT", "n");
    struct kv *kv = kv_new_obj("l", 1, OBJ_LIST, 0, NULL);
    db_add(&t->eng, &t->eng.dbs[0], kv);
    RUN(t, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "PFADD", "l",
        "a");
    RUN(t, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "PFCOUNT", "h",
        "l");
    /* headers that are not ours: Redis's magic, a bad version, a short
     * dense value, reserved bits, too short */
    static const struct {
        const char *p;
        size_t n;
    } bad[] = {
        {"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80", 16},
        {"LHLL\x01\x02\x00\x00", 8},
        {"LHLL\x02\x01\x00\x00\x00\x00\x00", 11},
        {"LHLL\x01\x01\x00\x01", 8},
        {"LHLL\x03\x01\x00\x00", 8},
        {"LHLL\x01\x01\x00", 7},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        set_bytes(t, "b", (const uint8_t *)bad[i].p, bad[i].n);
        RUN(t, not_hll, "PFCOUNT", "b");
        RUN(t, not_hll, "PFADD", "b", "x");
    }
}

static void test_corrupt(void **state)
{
    struct th *t = *state;
    static const char *corrupt = "-INVALIDOBJ Corrupted HLL object detected\r\n";
    static const struct {
        const char *p;
        size_t n;
    } bad[] = {
        {"LHLL\x01\x01\x00\x00\x00\x00", 10},                 /* partial entry */
        {"LHLL\x01\x01\x00\x00\x00\x00\x40", 11},             /* value 0 */
        {"LHLL\x01\x01\x00\x00\x00\x00\x34", 11},             /* value 52 */
        {"LHLL\x01\x01\x00\x00\x10\x00\x41", 11},             /* reserved bits */
        {"LHLL\x01\x01\x00\x00\x00\x00\x81\x00\x00\x41", 14}, /* decreasing index */
        {"LHLL\x01\x01\x00\x00\x00\x00\x41\x00\x00\x42", 14}, /* repeated index */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        set_bytes(t, "c", (const uint8_t *)bad[i].p, bad[i].n);
        assert_int_equal(hll_validate((const uint8_t *)bad[i].p, bad[i].n), LODE_ECORRUPT);
        RUN(t, corrupt, "PFCOUNT", "c");
        RUN(t, corrupt, "PFCOUNT", "c", "nokey");
        RUN(t, corrupt, "PFADD", "c", "x");
        RUN(t, corrupt, "PFMERGE", "d", "c");
        RUN(t, corrupt, "PFDEBUG", "GETREG", "c");
        RUN(t, corrupt, "PFDEBUG", "TODENSE", "c");
        RUN(t, corrupt, "PFDEBUG", "DECODE", "c");
        RUN(t, "+sparse\r\n", "PFDEBUG", "ENCODING", "c");
        RUN(t, ":0\r\n", "PFADD", "c"); /* no elements: only the header is read, as Redis */
        size_t n;
        const uint8_t *p = value_of(t, "c", &n);
        assert_int_equal(n, bad[i].n);
        assert_memory_equal(p, bad[i].p, n); /* never half-updated */
    }
    /* a dense register above 51 */
    uint8_t *d = calloc(1, HLL_DENSE_SIZE);
    memcpy(d, "LHLL\x02\x01\x00\x00", 8);
    assert_int_equal(hll_validate(d, HLL_DENSE_SIZE), 0);
    d[HLL_HDR_SIZE + 100] = 0x3f; /* register 133 (bits 798..803) becomes 60 */
    assert_int_equal(hll_validate(d, HLL_DENSE_SIZE), LODE_ECORRUPT);
    set_bytes(t, "c", d, HLL_DENSE_SIZE);
    RUN(t, corrupt, "PFCOUNT", "c");
    RUN(t, corrupt, "PFMERGE", "d", "c");
    RUN(t, corrupt, "PFADD", "c", "x");
    free(d);
    RUN(t, ":0\r\n", "EXISTS", "d");
}

/* The sparse form grows up to hll-sparse-max-bytes, then the value is
 * dense; registers and estimates are the same in both. */
static void test_sparse_to_dense(void **state)
{
    struct th *t = *state;
    t->eng.lim.hll_sparse_max_bytes = 200;
    RUN(t, "+OK\r\n", "SET", "other", "x");
    RUN(t, ":1\r\n", "PFADD", "h", "seed");
    RUN(t, ":1\r\n", "PEXPIRE", "h", "100000");
    char el[32];
    int i = 0;
    size_t n;
    for (;;) {
        snprintf(el, sizeof(el), "m%d", i++);
        th_run(t, "PFADD", "h", el, NULL);
        const uint8_t *p = value_of(t, "h", &n);
        if (hll_kind(p, n) == HLL_DENSE) break;
        assert_true(n <= 200);
        assert_int_equal(hll_kind(p, n), HLL_SPARSE);
    }
    assert_true(n == HLL_DENSE_SIZE);
    /* 8 + 3 * 64 = 200: the 65th register does not fit */
    RUN(t, ":65\r\n", "PFCOUNT", "h");
    RUN(t, "+dense\r\n", "PFDEBUG", "ENCODING", "h");
    RUN(t, "-ERR HLL encoding is not sparse\r\n", "PFDEBUG", "DECODE", "h");
    RUN(t, ":0\r\n", "PFDEBUG", "TODENSE", "h");
    assert_true(db_expire_of(&t->eng.dbs[0], find(t, "h")) > 0); /* the TTL stays */
    /* the same elements in a sparse key give the same registers */
    t->eng.lim.hll_sparse_max_bytes = 3000;
    th_run(t, "PFADD", "s", "seed", NULL);
    for (int j = 0; j < i; j++) {
        snprintf(el, sizeof(el), "m%d", j);
        th_run(t, "PFADD", "s", el, NULL);
    }
    RUN(t, "+sparse\r\n", "PFDEBUG", "ENCODING", "s");
    uint8_t *a = calloc(1, HLL_REGISTERS), *b = calloc(1, HLL_REGISTERS);
    const uint8_t *p = value_of(t, "h", &n);
    assert_int_equal(hll_merge_regs(p, n, a), 0);
    p = value_of(t, "s", &n);
    assert_int_equal(hll_merge_regs(p, n, b), 0);
    assert_memory_equal(a, b, HLL_REGISTERS);
    free(a);
    free(b);
    RUN(t, ":65\r\n", "PFCOUNT", "s");
    RUN(t, ":65\r\n", "PFCOUNT", "s", "h");
    /* GETREG converts to dense, as in Redis */
    const char *r = th_run(t, "PFDEBUG", "GETREG", "s", NULL);
    assert_true(strncmp(r, "*16384\r\n", 8) == 0);
    RUN(t, "+dense\r\n", "PFDEBUG", "ENCODING", "s");
    RUN(t, ":65\r\n", "PFCOUNT", "s");
    /* a limit of 0 makes every new value dense at its first register */
    t->eng.lim.hll_sparse_max_bytes = 0;
    RUN(t, ":1\r\n", "PFADD", "z", "a");
    RUN(t, "+dense\r\n", "PFDEBUG", "ENCODING", "z");
}

static void test_pfmerge(void **state)
{
    struct th *t = *state;
    RUN(t, "+OK\r\n", "PFMERGE", "empty");
    RUN(t, ":1\r\n", "EXISTS", "empty");
    RUN(t, ":0\r\n", "PFCOUNT", "empty");
    RUN(t, "+sparse\r\n", "PFDEBUG", "ENCODING", "empty");
    RUN(t, ":1\r\n", "PFADD", "a", "1", "2", "3");
    RUN(t, ":1\r\n", "PFADD", "b", "3", "4", "5", "6");
    RUN(t, ":1\r\n", "PFADD", "d", "0");
    RUN(t, ":1\r\n", "EXPIRE", "d", "100");
    RUN(t, "+OK\r\n", "PFMERGE", "d", "a", "b", "nokey");
    RUN(t, ":7\r\n", "PFCOUNT", "d");
    RUN(t, ":100\r\n", "TTL", "d");
    RUN(t, "$3\r\nraw\r\n", "OBJECT", "ENCODING", "d");
    RUN(t, "+sparse\r\n", "PFDEBUG", "ENCODING", "d");
    /* a dense input makes the result dense (Redis 7.0) */
    RUN(t, ":1\r\n", "PFDEBUG", "TODENSE", "b");
    RUN(t, "+OK\r\n", "PFMERGE", "e", "a", "b");
    RUN(t, "+dense\r\n", "PFDEBUG", "ENCODING", "e");
    RUN(t, ":6\r\n", "PFCOUNT", "e");
    RUN(t, ":6\r\n", "PFCOUNT", "a", "b");
    RUN(t, ":7\r\n", "PFCOUNT", "a", "b", "d");
}

static void test_decode(void **state)
{
    struct th *t = *state;
    RUN(t, ":1\r\n", "PFADD", "h");
    RUN(t, "+Z:16384\r\n", "PFDEBUG", "DECODE", "h");
    /* registers 0, 1 (value 3) and 100 (value 1), written directly */
    set_bytes(t, "h", (const uint8_t *)"LHLL\x01\x01\x00\x00\x00\x00\x03\x00\x00\x43\x00\x19\x01",
              17);
    RUN(t, "+v:3,2 Z:98 v:1,1 Z:16283\r\n", "PFDEBUG", "DECODE", "h");
    RUN(t, ":3\r\n", "PFCOUNT", "h");
    RUN(t, "-ERR Unknown PFDEBUG subcommand 'nope'\r\n", "PFDEBUG", "nope", "h");
    RUN(t, "-ERR The specified key does not exist\r\n", "PFDEBUG", "encoding", "nokey");
    RUN(t, "-ERR wrong number of arguments for 'pfdebug' command\r\n", "PFDEBUG", "getreg", "h",
        "x");
}

/* Writes are logged verbatim only when they changed something; PFCOUNT
 * never changes the value. */
static void test_logging(void **state)
{
    struct th *t = *state;
    RUN(t, ":1\r\n", "PFADD", "h", "a");
    long long d0 = t->eng.dirty;
    effects_reset(&t->eng.eff);
    RUN(t, ":0\r\n", "PFADD", "h", "a");
    RUN(t, ":1\r\n", "PFCOUNT", "h");
    RUN(t, ":1\r\n", "PFCOUNT", "h", "nokey");
    RUN(t, "+sparse\r\n", "PFDEBUG", "ENCODING", "h");
    assert_true(th_run(t, "PFDEBUG", "DECODE", "h", NULL)[0] == '+');
    assert_int_equal(t->eng.dirty, d0);
    assert_int_equal(t->eng.eff.n, 0);
    RUN(t, ":1\r\n", "PFADD", "h", "b");
    RUN(t, "+OK\r\n", "PFMERGE", "h");
    assert_int_equal(t->eng.eff.n, 2);
    assert_int_equal(t->eng.dirty, d0 + 2);
    assert_int_equal(t->missing_rewrites, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_table, th_setup, th_teardown),
        cmocka_unit_test(test_hash_pinned),
        cmocka_unit_test(test_hash_distribution),
        cmocka_unit_test_setup_teardown(test_selftest, th_setup, th_teardown),
        cmocka_unit_test(test_accuracy_trials),
        cmocka_unit_test_setup_teardown(test_accuracy_commands, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_pfadd_pfcount, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_wrongtype, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_sparse_to_dense, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_pfmerge, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_decode, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_logging, th_setup, th_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
