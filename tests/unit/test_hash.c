/*
 * test_hash.c - the hash type (engine/t_hash.c): both encodings, the
 * conversions at the thresholds (and never back), exact RESP replies of the
 * commands, the HINCRBYFLOAT rewrite, checkpoint round trips of small and
 * large hashes (digest preserved, in and across encodings), rejection of
 * corrupt payloads, and the hash_get read API. Expected replies were
 * checked against redis-server 7.0.15.
 *
 * With LODE_HASH_CORPUS=<dir> set, also writes checkpoint values of each
 * encoding there (the fuzz/corpus/ckpt_value seeds).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/digest.h"
#include "engine/pack.h"
#include "engine/serialize.h"
#include "engine/t_hash.h"
#include "harness.h"

#define RUN(t, expect, ...) assert_string_equal(th_run(t, __VA_ARGS__, NULL), expect)

static struct kv *find(struct th *t, const char *key)
{
    return db_find(&t->eng.dbs[t->sess.db], key, strlen(key));
}

static int enc_of(struct th *t, const char *key)
{
    struct kv *kv = find(t, key);
    assert_non_null(kv);
    assert_int_equal(kv->type, OBJ_HASH);
    return kv->enc;
}

static void test_table(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int wal;
    } want[] = {
        {"hset", WAL_VERBATIM},
        {"hsetnx", WAL_VERBATIM},
        {"hget", WAL_NONE},
        {"hmget", WAL_NONE},
        {"hmset", WAL_VERBATIM},
        {"hdel", WAL_VERBATIM},
        {"hlen", WAL_NONE},
        {"hexists", WAL_NONE},
        {"hgetall", WAL_NONE},
        {"hkeys", WAL_NONE},
        {"hvals", WAL_NONE},
        {"hincrby", WAL_VERBATIM},
        {"hincrbyfloat", WAL_REWRITE},
        {"hstrlen", WAL_NONE},
        {"hrandfield", WAL_NONE},
        {"hscan", WAL_NONE},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct cmd_def *c = cmd_lookup(want[i].name, strlen(want[i].name));
        assert_non_null(c);
        assert_non_null(c->fn);
        assert_int_equal(c->wal, want[i].wal);
    }
}

static void test_pack_commands(void **state)
{
    struct th *t = *state;
    RUN(t, ":2\r\n", "HSET", "h", "f", "1", "g", "2", "f", "3");
    assert_int_equal(enc_of(t, "h"), HASH_ENC_PACK);
    RUN(t, "*4\r\n$1\r\nf\r\n$1\r\n3\r\n$1\r\ng\r\n$1\r\n2\r\n", "HGETALL", "h");
    RUN(t, "$1\r\n3\r\n", "HGET", "h", "f");
    RUN(t, "$-1\r\n", "HGET", "h", "nope");
    RUN(t, "*3\r\n$1\r\n3\r\n$-1\r\n$1\r\n2\r\n", "HMGET", "h", "f", "x", "g");
    RUN(t, ":2\r\n", "HLEN", "h");
    RUN(t, ":1\r\n", "HEXISTS", "h", "g");
    RUN(t, ":0\r\n", "HEXISTS", "h", "x");
    RUN(t, ":1\r\n", "HSTRLEN", "h", "f");
    RUN(t, ":0\r\n", "HSTRLEN", "h", "x");
    RUN(t, ":0\r\n", "HSETNX", "h", "f", "9");
    RUN(t, ":1\r\n", "HSETNX", "h", "n", "-7");
    RUN(t, "+OK\r\n", "HMSET", "h", "a", "x", "f", "4");
    RUN(t, "*4\r\n$1\r\nf\r\n$1\r\ng\r\n$1\r\nn\r\n$1\r\na\r\n", "HKEYS", "h");
    RUN(t, "*4\r\n$1\r\n4\r\n$1\r\n2\r\n$2\r\n-7\r\n$1\r\nx\r\n", "HVALS", "h");
    RUN(t, ":-2\r\n", "HINCRBY", "h", "n", "5");
    RUN(t, "-ERR hash value is not an integer\r\n", "HINCRBY", "h", "a", "1");
    RUN(t, "$3\r\n5.5\r\n", "HINCRBYFLOAT", "h", "f", "1.5");
    RUN(t, ":2\r\n", "HDEL", "h", "g", "zz", "a");
    RUN(t, "*2\r\n$1\r\n0\r\n*4\r\n$1\r\nf\r\n$3\r\n5.5\r\n$1\r\nn\r\n$2\r\n-2\r\n", "HSCAN", "h",
        "0");
    RUN(t, "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nn\r\n$2\r\n-2\r\n", "HSCAN", "h", "7", "MATCH", "n*");
    RUN(t, ":2\r\n", "HDEL", "h", "f", "n", "f");
    assert_null(find(t, "h"));
    RUN(t, "*0\r\n", "HGETALL", "h");
    RUN(t, ":0\r\n", "HLEN", "h");
    RUN(t, ":0\r\n", "HDEL", "h", "f");
}

static void test_errors(void **state)
{
    struct th *t = *state;
    RUN(t, "+OK\r\n", "SET", "s", "1");
    const char *wt = "-" ERR_WRONGTYPE "\r\n";
    RUN(t, wt, "HSET", "s", "a", "b");
    RUN(t, wt, "HGET", "s", "a");
    RUN(t, wt, "HMGET", "s", "a");
    RUN(t, wt, "HDEL", "s", "a");
    RUN(t, wt, "HLEN", "s");
    RUN(t, wt, "HGETALL", "s");
    RUN(t, wt, "HRANDFIELD", "s");
    RUN(t, wt, "HSCAN", "s", "0", "COUNT", "0");
    RUN(t, "-ERR invalid cursor\r\n", "HSCAN", "s", "x");
    RUN(t, "*2\r\n$1\r\n0\r\n*0\r\n", "HSCAN", "nokey", "0", "COUNT", "0");
    RUN(t, "-ERR wrong number of arguments for 'hset' command\r\n", "HSET", "h", "a", "1", "b");
    RUN(t, "-ERR wrong number of arguments for 'hmset' command\r\n", "HMSET", "h", "a", "1", "b");
    assert_null(find(t, "h"));
    RUN(t, ":3\r\n", "HSET", "h", "a", "abc", "sp", " 1", "z", "00");
    RUN(t, "-ERR hash value is not an integer\r\n", "HINCRBY", "h", "a", "1");
    RUN(t, "-ERR hash value is not an integer\r\n", "HINCRBY", "h", "sp", "1");
    RUN(t, "-ERR hash value is not an integer\r\n", "HINCRBY", "h", "z", "1");
    RUN(t, "-ERR hash value is not a float\r\n", "HINCRBYFLOAT", "h", "a", "1");
    RUN(t, "-" ERR_NOTINT "\r\n", "HINCRBY", "s", "a", "x");
    RUN(t, "-" ERR_NOTFLOAT "\r\n", "HINCRBYFLOAT", "s", "a", "x");
    RUN(t, "-ERR value is NaN or Infinity\r\n", "HINCRBYFLOAT", "s", "a", "inf");
    RUN(t, ":1\r\n", "HSET", "h", "big", "9223372036854775807");
    RUN(t, "-" ERR_OVERFLOW "\r\n", "HINCRBY", "h", "big", "1");
    RUN(t, "$1\r\n1\r\n", "HINCRBYFLOAT", "h", "z", "1");
    RUN(t, "-" ERR_NOTINT "\r\n", "HRANDFIELD", "h", "x");
    RUN(t,
        "-ERR value is out of range, value must between -9223372036854775807 and "
        "9223372036854775807\r\n",
        "HRANDFIELD", "h", "-9223372036854775808");
    RUN(t, "-ERR value is out of range\r\n", "HRANDFIELD", "h", "-4611686018427387904",
        "WITHVALUES");
    RUN(t, "-" ERR_SYNTAX "\r\n", "HRANDFIELD", "nokey", "1", "WITHVALS");
    RUN(t, "-" ERR_SYNTAX "\r\n", "HSCAN", "h", "0", "COUNT", "0");
    RUN(t, "-" ERR_SYNTAX "\r\n", "HSCAN", "h", "0", "MATCH");
}

static void test_conversions(void **state)
{
    struct th *t = *state;
    t->eng.lim.hash_max_listpack_entries = 3;
    t->eng.lim.hash_max_listpack_value = 5;
    RUN(t, ":3\r\n", "HSET", "a", "x", "1", "y", "2", "z", "3");
    assert_int_equal(enc_of(t, "a"), HASH_ENC_PACK);
    RUN(t, ":1\r\n", "HSET", "a", "w", "4");
    assert_int_equal(enc_of(t, "a"), HASH_ENC_TABLE);
    RUN(t, ":3\r\n", "HDEL", "a", "x", "y", "z");
    assert_int_equal(enc_of(t, "a"), HASH_ENC_TABLE); /* never back */
    RUN(t, "$1\r\n4\r\n", "HGET", "a", "w");

    RUN(t, ":1\r\n", "HSET", "b", "f", "12345");
    assert_int_equal(enc_of(t, "b"), HASH_ENC_PACK);
    RUN(t, ":0\r\n", "HSET", "b", "f", "123456");
    assert_int_equal(enc_of(t, "b"), HASH_ENC_TABLE);

    RUN(t, ":1\r\n", "HSET", "c", "long-field", "1");
    assert_int_equal(enc_of(t, "c"), HASH_ENC_TABLE);

    /* HSETNX on an existing field stores nothing, converts nothing */
    RUN(t, ":1\r\n", "HSET", "d", "f", "1");
    RUN(t, ":0\r\n", "HSETNX", "d", "f", "123456789");
    RUN(t, "$8\r\nlistpack\r\n", "OBJECT", "ENCODING", "d");
    assert_int_equal(enc_of(t, "d"), HASH_ENC_PACK);
    RUN(t, ":1\r\n", "HSETNX", "d", "g", "123456789");
    assert_int_equal(enc_of(t, "d"), HASH_ENC_TABLE);

    /* a long HINCRBY / HINCRBYFLOAT result converts */
    RUN(t, ":1\r\n", "HSET", "e", "f", "1");
    RUN(t, ":12345678902\r\n", "HINCRBY", "e", "f", "12345678901");
    assert_int_equal(enc_of(t, "e"), HASH_ENC_TABLE);
    RUN(t, ":1\r\n", "HSET", "g", "f", "1.5");
    RUN(t, "$9\r\n1.5000001\r\n", "HINCRBYFLOAT", "g", "f", "0.0000001");
    assert_int_equal(enc_of(t, "g"), HASH_ENC_TABLE);

    t->eng.lim.hash_max_listpack_entries = 0;
    RUN(t, ":1\r\n", "HSET", "z", "f", "1");
    assert_int_equal(enc_of(t, "z"), HASH_ENC_TABLE);
    RUN(t, "$9\r\nhashtable\r\n", "OBJECT", "ENCODING", "z");
    RUN(t, ":1\r\n", "HSET", "y", "f", "1"); /* creation converts at once */
    assert_int_equal(enc_of(t, "y"), HASH_ENC_TABLE);
}

/* Field i of the test hashes, and its value. */
static size_t fname(char *buf, long i)
{
    return (size_t)sprintf(buf, "field:%ld", i);
}

static size_t fval(char *buf, long i)
{
    return (size_t)sprintf(buf, i % 3 ? "v%ld" : "%ld", i * 7);
}

static void fill(struct th *t, const char *key, long n)
{
    for (long i = 0; i < n; i++) {
        char f[32], v[32];
        fname(f, i);
        fval(v, i);
        th_run(t, "HSET", key, f, v, NULL);
    }
}

static void test_table_large(void **state)
{
    struct th *t = *state;
    const long n = 20000;
    fill(t, "big", n);
    assert_int_equal(enc_of(t, "big"), HASH_ENC_TABLE);
    RUN(t, ":20000\r\n", "HLEN", "big");
    struct kv *kv = find(t, "big");
    for (long i = 0; i < n; i++) {
        char f[32], v[32], tmp[UTIL_LLSTR_SIZE];
        size_t flen = fname(f, i), vlen = fval(v, i), glen;
        const char *got;
        assert_true(hash_get(kv, f, flen, tmp, &got, &glen));
        assert_int_equal(glen, vlen);
        assert_memory_equal(got, v, vlen);
    }
    char tmp[UTIL_LLSTR_SIZE];
    const char *got;
    size_t glen;
    assert_false(hash_get(kv, "field:-1", 8, tmp, &got, &glen));

    /* a full HSCAN returns every field (at least once) */
    char *seen = calloc((size_t)n, 1);
    char cursor[32] = "0";
    int steps = 0;
    do {
        const char *r = th_run(t, "HSCAN", "big", cursor, "COUNT", "100", NULL);
        assert_true(r[0] == '*');
        const char *p = strstr(r, "\r\n$") + 3;
        long clen = strtol(p, (char **)&p, 10);
        p += 2;
        memcpy(cursor, p, (size_t)clen);
        cursor[clen] = '\0';
        p = strchr(p, '*') + 1;
        long items = strtol(p, (char **)&p, 10);
        assert_int_equal(items % 2, 0);
        for (long k = 0; k < items; k += 2) {
            p = strstr(p, "field:") + 6;
            seen[strtol(p, NULL, 10)] = 1;
            p = strchr(p, '$'); /* the value */
            p = strchr(p + 1, '\n');
        }
        steps++;
    } while (strcmp(cursor, "0") != 0);
    for (long i = 0; i < n; i++) assert_true(seen[i]);
    assert_true(steps > 10);
    free(seen);

    /* HDEL half, then all: the key goes */
    for (long i = 0; i < n; i += 2) {
        char f[32];
        fname(f, i);
        RUN(t, ":1\r\n", "HDEL", "big", f);
    }
    RUN(t, ":10000\r\n", "HLEN", "big");
    kv = find(t, "big");
    char f[32];
    assert_false(hash_get(kv, f, fname(f, 4), tmp, &got, &glen));
    assert_true(hash_get(kv, f, fname(f, 5), tmp, &got, &glen));
    for (long i = 1; i < n; i += 2) {
        fname(f, i);
        RUN(t, ":1\r\n", "HDEL", "big", f);
    }
    assert_null(find(t, "big"));
}

static void test_hincrbyfloat_rewrite(void **state)
{
    struct th *t = *state;
    RUN(t, ":1\r\n", "HSET", "h", "f", "10.50");
    effects_reset(&t->eng.eff);
    RUN(t, "$4\r\n10.6\r\n", "HINCRBYFLOAT", "h", "f", "0.1");
    assert_int_equal(t->eng.eff.n, 1);
    const char *want = "*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$4\r\n10.6\r\n";
    assert_int_equal(t->eng.eff.cmds.len, strlen(want));
    assert_memory_equal(t->eng.eff.cmds.ptr, want, strlen(want));
    effects_reset(&t->eng.eff);
    /* an error logs nothing */
    RUN(t, "-ERR value is not a valid float\r\n", "HINCRBYFLOAT", "h", "f", "x");
    assert_int_equal(t->eng.eff.n, 0);
    assert_int_equal(t->missing_rewrites, 0);
    /* verbatim writes log as received */
    RUN(t, ":3\r\n", "HINCRBY", "h", "i", "3");
    assert_int_equal(t->eng.eff.n, 1);
    effects_reset(&t->eng.eff);
    RUN(t, ":0\r\n", "HDEL", "h", "nope");
    assert_int_equal(t->eng.eff.n, 0);
}

/* Parses the RESP array header at *p and returns its length. */
static long arr_len(const char *r)
{
    assert_true(r[0] == '*');
    return strtol(r + 1, NULL, 10);
}

static void test_hrandfield(void **state)
{
    struct th *t = *state;
    RUN(t, "$-1\r\n", "HRANDFIELD", "nokey");
    RUN(t, "*0\r\n", "HRANDFIELD", "nokey", "3");
    RUN(t, "*0\r\n", "HRANDFIELD", "nokey", "-3", "WITHVALUES");
    for (int enc = 0; enc < 2; enc++) {
        const char *key = enc ? "t" : "p";
        t->eng.lim.hash_max_listpack_entries = enc ? 0 : 512;
        fill(t, key, 50);
        assert_int_equal(enc_of(t, key), enc ? HASH_ENC_TABLE : HASH_ENC_PACK);
        RUN(t, "*0\r\n", "HRANDFIELD", key, "0");
        assert_non_null(strstr(th_run(t, "HRANDFIELD", key, NULL), "field:"));
        assert_int_equal(arr_len(th_run(t, "HRANDFIELD", key, "-200", NULL)), 200);
        assert_int_equal(arr_len(th_run(t, "HRANDFIELD", key, "-7", "WITHVALUES", NULL)), 14);
        assert_int_equal(arr_len(th_run(t, "HRANDFIELD", key, "100", NULL)), 50);
        assert_int_equal(arr_len(th_run(t, "HRANDFIELD", key, "50", "WITHVALUES", NULL)), 100);
        /* distinct picks, both strategies (a large and a small share) */
        const char *counts[] = {"40", "5", "1", "49"};
        for (size_t c = 0; c < 4; c++) {
            const char *r = th_run(t, "HRANDFIELD", key, counts[c], NULL);
            long want = strtol(counts[c], NULL, 10);
            assert_int_equal(arr_len(r), want);
            char seen[50] = {0};
            for (const char *p = r; (p = strstr(p, "field:")) != NULL; p += 6) {
                long i = strtol(p + 6, NULL, 10);
                assert_false(seen[i]);
                seen[i] = 1;
            }
        }
        /* RESP3: pairs nested */
        t->sess.resp = 3;
        const char *r = th_run(t, "HRANDFIELD", key, "-2", "WITHVALUES", NULL);
        assert_int_equal(arr_len(r), 2);
        assert_true(strncmp(strchr(r, '\n') + 1, "*2\r\n$", 5) == 0);
        r = th_run(t, "HRANDFIELD", key, "3", "WITHVALUES", NULL);
        assert_int_equal(arr_len(r), 3);
        RUN(t, "_\r\n", "HRANDFIELD", "nokey");
        t->sess.resp = 2;
    }
}

static void test_resp3_shapes(void **state)
{
    struct th *t = *state;
    t->sess.resp = 3;
    RUN(t, ":1\r\n", "HSET", "h", "f", "v");
    RUN(t, "%1\r\n$1\r\nf\r\n$1\r\nv\r\n", "HGETALL", "h");
    RUN(t, "%0\r\n", "HGETALL", "nokey");
    RUN(t, "*1\r\n_\r\n", "HMGET", "h", "x");
    RUN(t, "_\r\n", "HGET", "h", "x");
    t->sess.resp = 2;
}

/* Serializes kv and parses it back; returns the decoded entry. */
static struct kv *round_trip(const struct kv *kv)
{
    struct buf b = BUF_INIT;
    assert_int_equal(serialize_kv(&b, kv, -1), 0);
    struct kv *back = NULL;
    long long exp = 0;
    assert_int_equal(serialize_parse_kv(b.ptr, b.len, &back, &exp), 0);
    assert_int_equal(exp, -1);
    buf_release(&b);
    return back;
}

static void assert_same_digest(const struct kv *a, const struct kv *b)
{
    uint8_t da[DIGEST_LEN], db[DIGEST_LEN];
    assert_int_equal(digest_value(a, da), 0);
    assert_int_equal(digest_value(b, db), 0);
    assert_memory_equal(da, db, DIGEST_LEN);
}

/* Writes the serialized kv as a corpus seed when LODE_HASH_CORPUS is set. */
static void maybe_write_seed(const struct kv *kv, const char *name)
{
    const char *dir = getenv("LODE_HASH_CORPUS");
    if (!dir) return;
    struct buf b = BUF_INIT;
    assert_int_equal(serialize_kv(&b, kv, -1), 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b.ptr, 1, b.len, f), b.len);
    fclose(f);
    buf_release(&b);
}

static void test_round_trips(void **state)
{
    struct th *t = *state;
    fill(t, "small", 20);
    t->eng.lim.hash_max_listpack_entries = 0;
    fill(t, "tsmall", 20);
    fill(t, "large", 100000);
    const char *bargv[] = {"HSET", "bin", "", "", "a\0b", "x"};
    const size_t blens[] = {4, 3, 0, 0, 3, 1};
    assert_string_equal(th_runv(t, 6, bargv, blens), ":2\r\n");
    struct kv *small = find(t, "small"), *tsmall = find(t, "tsmall"), *large = find(t, "large");
    assert_int_equal(small->enc, HASH_ENC_PACK);
    assert_int_equal(tsmall->enc, HASH_ENC_TABLE);
    /* same content, different encodings: same digest */
    uint8_t d1[DIGEST_LEN], d2[DIGEST_LEN];
    digest_value(small, d1);
    digest_value(tsmall, d2);
    assert_memory_equal(d1, d2, DIGEST_LEN);
    const struct kv *all[] = {small, tsmall, large, find(t, "bin")};
    for (size_t i = 0; i < 4; i++) {
        struct kv *back = round_trip(all[i]);
        assert_int_equal(back->type, OBJ_HASH);
        assert_int_equal(back->enc, all[i]->enc);
        assert_int_equal(hash_len(back), hash_len(all[i]));
        assert_same_digest(all[i], back);
        struct kv *copy = kv_dup(back, "c", 1);
        assert_same_digest(copy, back);
        assert_true(kv_mem_usage(copy) > 0);
        kv_free(copy);
        kv_free(back);
    }
    maybe_write_seed(small, "hash_pack");
    maybe_write_seed(tsmall, "hash_table");
    maybe_write_seed(find(t, "bin"), "hash_table_bin");
}

static int parse_payload(uint8_t ser_enc, const uint8_t *payload, size_t n)
{
    struct buf b = BUF_INIT;
    uint8_t h[SER_HEADER] = {SER_TYPE_HASH, ser_enc};
    memset(h + 2, 0xff, 8); /* no expiry */
    h[10] = 1;              /* key length 1 */
    buf_append(&b, h, sizeof(h));
    buf_append(&b, "k", 1);
    buf_append(&b, payload, n);
    struct kv *kv = NULL;
    long long exp;
    int rc = serialize_parse_kv(b.ptr, b.len, &kv, &exp);
    if (rc == 0) kv_free(kv);
    buf_release(&b);
    return rc;
}

static void test_corrupt(void **state)
{
    struct th *t = *state;
    /* a valid table payload: count 2, pairs */
    struct buf p = BUF_INIT;
    ser_put_u64(&p, 2);
    ser_put_str(&p, "a", 1);
    ser_put_str(&p, "1", 1);
    ser_put_str(&p, "b", 1);
    ser_put_str(&p, "2", 1);
    assert_int_equal(parse_payload(2, (uint8_t *)p.ptr, p.len), 0);
    for (size_t cut = 0; cut < p.len; cut++)
        assert_int_equal(parse_payload(2, (uint8_t *)p.ptr, cut), LODE_ECORRUPT);
    buf_append(&p, "x", 1);
    assert_int_equal(parse_payload(2, (uint8_t *)p.ptr, p.len), LODE_ECORRUPT);
    /* a duplicate field */
    buf_setlen(&p, 0);
    ser_put_u64(&p, 2);
    for (int i = 0; i < 2; i++) {
        ser_put_str(&p, "a", 1);
        ser_put_str(&p, "1", 1);
    }
    assert_int_equal(parse_payload(2, (uint8_t *)p.ptr, p.len), LODE_ECORRUPT);
    /* count 0 (an empty hash never exists), a huge count */
    buf_setlen(&p, 0);
    ser_put_u64(&p, 0);
    assert_int_equal(parse_payload(2, (uint8_t *)p.ptr, p.len), LODE_ECORRUPT);
    buf_setlen(&p, 0);
    ser_put_u64(&p, UINT64_MAX);
    ser_put_str(&p, "a", 1);
    ser_put_str(&p, "1", 1);
    assert_int_equal(parse_payload(2, (uint8_t *)p.ptr, p.len), LODE_ECORRUPT);
    /* an unknown encoding */
    assert_int_equal(parse_payload(9, (uint8_t *)p.ptr, p.len), LODE_EVERSION);

    /* packs: odd count, empty, duplicate fields, truncation */
    uint8_t *pk = pk_new();
    pk = pk_append(pk, "a", 1);
    assert_int_equal(parse_payload(1, pk, pk_bytes(pk)), LODE_ECORRUPT);
    pk = pk_append(pk, "1", 1);
    assert_int_equal(parse_payload(1, pk, pk_bytes(pk)), 0);
    for (uint32_t cut = 0; cut < pk_bytes(pk); cut++)
        assert_int_equal(parse_payload(1, pk, cut), LODE_ECORRUPT);
    pk = pk_append(pk, "a", 1);
    pk = pk_append(pk, "2", 1);
    assert_int_equal(parse_payload(1, pk, pk_bytes(pk)), LODE_ECORRUPT);
    pk_free(pk);
    pk = pk_new();
    assert_int_equal(parse_payload(1, pk, pk_bytes(pk)), LODE_ECORRUPT);
    /* a large pack with a duplicate (the scratch-table path) */
    for (int i = 0; i < 100; i++) {
        char f[16];
        int n = sprintf(f, "f%d", i % 99);
        pk = pk_append(pk, f, (size_t)n);
        pk = pk_append(pk, "v", 1);
    }
    assert_int_equal(parse_payload(1, pk, pk_bytes(pk)), LODE_ECORRUPT);
    pk_free(pk);
    buf_release(&p);

    /* every truncation and byte flip of real values is rejected or decodes
     * to a value that round-trips */
    fill(t, "p", 5);
    t->eng.lim.hash_max_listpack_entries = 0;
    fill(t, "q", 5);
    const char *keys[] = {"p", "q"};
    for (int k = 0; k < 2; k++) {
        struct buf b = BUF_INIT;
        assert_int_equal(serialize_kv(&b, find(t, keys[k]), -1), 0);
        for (size_t cut = 0; cut < b.len; cut++) {
            struct kv *kv = NULL;
            long long exp;
            assert_int_not_equal(serialize_parse_kv(b.ptr, cut, &kv, &exp), 0);
        }
        for (size_t i = 0; i < b.len; i++) {
            for (int bit = 0; bit < 8; bit++) {
                b.ptr[i] ^= (char)(1 << bit);
                struct kv *kv = NULL;
                long long exp;
                if (serialize_parse_kv(b.ptr, b.len, &kv, &exp) == 0) {
                    if (kv->type == OBJ_HASH) {
                        struct kv *back = round_trip(kv);
                        assert_same_digest(kv, back);
                        kv_free(back);
                    }
                    kv_free(kv);
                }
                b.ptr[i] ^= (char)(1 << bit);
            }
        }
        buf_release(&b);
    }
}

static void test_hash_get_pack_ints(void **state)
{
    struct th *t = *state;
    RUN(t, ":2\r\n", "HSET", "h", "1", "-42", "x", "18446744073709551616");
    struct kv *kv = find(t, "h");
    char tmp[UTIL_LLSTR_SIZE];
    const char *v;
    size_t n;
    assert_true(hash_get(kv, "1", 1, tmp, &v, &n));
    assert_int_equal(n, 3);
    assert_memory_equal(v, "-42", 3);
    assert_true(hash_get(kv, "x", 1, tmp, &v, &n));
    assert_int_equal(n, 20);
    assert_int_equal(hash_len(kv), 2);
    RUN(t, ":-40\r\n", "HINCRBY", "h", "1", "2");
    RUN(t, "*4\r\n$1\r\n1\r\n$3\r\n-40\r\n$1\r\nx\r\n$20\r\n18446744073709551616\r\n", "HGETALL",
        "h");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_table, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_pack_commands, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_errors, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_conversions, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_table_large, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_hincrbyfloat_rewrite, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_hrandfield, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_resp3_shapes, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_round_trips, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_hash_get_pack_ints, th_setup, th_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
