/*
 * test_ckrun.c - sorted runs for the checkpoint writer: records in any
 * order come out in the store's order, the last of each key only, from
 * memory and from the sort file alike; a sort file that can't be written
 * loses nothing.
 */
#include "engine/lode.h"
#include "engine/object.h"
#include "engine/serialize.h"
#include "engine/util.h"
#include "wal/ckpt.h"
#include "wal/ckrun.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/lode_test_ckrun_XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* What a drain emitted. */
struct seen {
    int op;
    uint32_t db;
    char *key;
    size_t klen;
    char *val; /* puts: the string value */
    size_t vlen;
};

struct collected {
    struct seen *v;
    size_t n, cap;
    size_t fail_at; /* emit fails with -EIO at this record (0: never) */
};

static int collect(void *priv, int op, uint32_t db, const char *p, size_t n)
{
    struct collected *c = priv;
    if (c->fail_at && c->n + 1 == c->fail_at) return -EIO;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        c->v = realloc(c->v, c->cap * sizeof(*c->v));
    }
    struct seen *s = &c->v[c->n++];
    memset(s, 0, sizeof(*s));
    s->op = op;
    s->db = db;
    const char *key = p;
    size_t klen = n;
    if (op == CKRUN_PUT) {
        struct kv *kv = NULL;
        long long exp;
        assert_int_equal(serialize_parse_kv(p, n, &kv, &exp), 0);
        char tmp[UTIL_LLSTR_SIZE];
        const char *v = kv_str(kv, tmp, &s->vlen);
        s->val = malloc(s->vlen + 1);
        memcpy(s->val, v, s->vlen);
        s->val[s->vlen] = 0;
        assert_int_equal(serialize_peek_key(p, n, &key, &klen), 0);
        kv_free(kv);
    }
    s->key = malloc(klen + 1);
    memcpy(s->key, key, klen);
    s->key[klen] = 0;
    s->klen = klen;
    return 0;
}

static void collected_free(struct collected *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].key);
        free(c->v[i].val);
    }
    free(c->v);
    memset(c, 0, sizeof(*c));
}

static int add_put(struct ckrun *r, uint32_t db, const char *k, size_t klen, const char *v,
                   size_t vlen)
{
    struct kv *kv = kv_new_str(k, klen, v, vlen);
    struct buf b = BUF_INIT;
    assert_int_equal(serialize_kv(&b, kv, -1), 0);
    int rc = ckrun_add(r, CKRUN_PUT, db, b.ptr, b.len);
    buf_release(&b);
    kv_free(kv);
    return rc;
}

/* Key i of the model: "k:<i>" with i in a scrambled order. */
static size_t key_of(int i, char *out)
{
    return (size_t)sprintf(out, "k:%07d", i);
}

/*
 * n keys over 3 dbs, added in a scrambled order, each key twice or three
 * times with versions 0, 1 (and for every 5th a delete last): the drain
 * must give each (db, key) once, in the store's order, with its last
 * record.
 */
static void add_model(struct ckrun *r, int n)
{
    for (int version = 0; version < 3; version++) {
        for (int j = 0; j < n; j++) {
            int i = (int)(((long long)j * 7919) % n);
            char key[32], val[64];
            size_t kl = key_of(i, key);
            uint32_t db = (uint32_t)(i % 3);
            if (version == 2) {
                if (i % 5 == 0) {
                    int rc = ckrun_add(r, CKRUN_DEL, db, key, kl);
                    assert_true(rc == 0 || rc == -ENOENT); /* -ENOENT: the unwritable case */
                }
                continue;
            }
            int vl = sprintf(val, "v%d-%d", i, version);
            int rc = add_put(r, db, key, kl, val, (size_t)vl);
            assert_true(rc == 0 || rc == -ENOENT); /* -ENOENT: the unwritable case */
        }
    }
}

static void expect_model(const struct collected *c, int n)
{
    assert_int_equal(c->n, (size_t)n);
    for (size_t i = 0; i < c->n; i++) {
        const struct seen *s = &c->v[i];
        int k = atoi(s->key + 2);
        if (s->db != (uint32_t)(k % 3) || s->op != (k % 5 == 0 ? CKRUN_DEL : CKRUN_PUT))
            fail_msg("record %zu: op %d db %u key %.*s", i, s->op, s->db, (int)s->klen, s->key);
        assert_int_equal(s->db, (uint32_t)(k % 3));
        if (k % 5 == 0) {
            assert_int_equal(s->op, CKRUN_DEL);
        } else {
            char want[64];
            int wl = sprintf(want, "v%d-1", k);
            assert_int_equal(s->op, CKRUN_PUT);
            assert_int_equal(s->vlen, (size_t)wl);
            assert_memory_equal(s->val, want, (size_t)wl);
        }
        if (i) {
            const struct seen *p = &c->v[i - 1];
            assert_true(p->db <= s->db);
            if (p->db == s->db) assert_true(ckpt_key_cmp(p->key, p->klen, s->key, s->klen) < 0);
        }
    }
}

static void test_in_memory(void **state)
{
    (void)state;
    struct ckrun *r = ckrun_new(dir, 64 << 20);
    add_model(r, 3000);
    assert_int_equal(ckrun_count(r), 3000 * 2 + 600);
    assert_int_equal(ckrun_spilled(r), 0);
    struct collected c = {0};
    assert_int_equal(ckrun_drain(r, collect, &c, NULL), 0);
    expect_model(&c, 3000);
    collected_free(&c);
    /* empty after a drain, and usable again */
    assert_int_equal(ckrun_count(r), 0);
    assert_int_equal(ckrun_drain(r, collect, &c, NULL), 0);
    assert_int_equal(c.n, 0);
    add_model(r, 10);
    assert_int_equal(ckrun_drain(r, collect, &c, NULL), 0);
    expect_model(&c, 10);
    collected_free(&c);
    ckrun_free(r);
}

static void test_spilled(void **state)
{
    (void)state;
    /* 8 KiB runs: a few hundred of them, merged */
    struct ckrun *r = ckrun_new(dir, 8 << 10);
    add_model(r, 20000);
    assert_true(ckrun_spilled(r) > 0);
    struct collected c = {0};
    struct buf err = BUF_INIT;
    assert_int_equal(ckrun_drain(r, collect, &c, &err), 0);
    assert_int_equal(err.len, 0);
    expect_model(&c, 20000);
    collected_free(&c);
    assert_int_equal(ckrun_spilled(r), 0);
    /* again after the drain, through the same sort file */
    add_model(r, 5000);
    assert_int_equal(ckrun_drain(r, collect, &c, &err), 0);
    expect_model(&c, 5000);
    collected_free(&c);
    buf_release(&err);
    ckrun_free(r);
}

/* Records larger than a reader's chunk (64 KiB), and long keys (stored
 * under a digest: their order is ckpt_key_cmp's, not the bytes'). */
static void test_large_records(void **state)
{
    (void)state;
    struct ckrun *r = ckrun_new(dir, 16 << 10);
    size_t vlen = 200 << 10;
    char *big = malloc(vlen);
    char *key = malloc(2000);
    for (int i = 39; i >= 0; i--) {
        memset(big, 'a' + i % 26, vlen);
        memset(key, 'x', 2000);
        size_t kl = i % 2 ? 1000 + (size_t)i : 10 + (size_t)i; /* long and short */
        key[0] = (char)('0' + i / 100);
        key[1] = (char)('0' + i / 10 % 10);
        key[2] = (char)('0' + i % 10);
        assert_int_equal(add_put(r, 0, key, kl, big, vlen - (size_t)i), 0);
    }
    assert_true(ckrun_spilled(r) > 0);
    struct collected c = {0};
    assert_int_equal(ckrun_drain(r, collect, &c, NULL), 0);
    assert_int_equal(c.n, 40);
    for (size_t i = 0; i < c.n; i++) {
        int k = atoi(c.v[i].key);
        assert_int_equal(c.v[i].vlen, vlen - (size_t)k);
        assert_int_equal(c.v[i].val[0], 'a' + k % 26);
        assert_int_equal(c.v[i].val[c.v[i].vlen - 1], 'a' + k % 26);
        if (i)
            assert_true(ckpt_key_cmp(c.v[i - 1].key, c.v[i - 1].klen, c.v[i].key, c.v[i].klen) < 0);
    }
    collected_free(&c);
    free(big);
    free(key);
    ckrun_free(r);
}

/* No sort file can be made: every add past the first run says so, and the
 * drain still gives everything, in order. */
static void test_unwritable(void **state)
{
    (void)state;
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/missing", dir);
    struct ckrun *r = ckrun_new(missing, 4 << 10);
    assert_int_equal(add_put(r, 0, "a", 1, "1", 1), 0);
    add_model(r, 2000);
    assert_int_equal(ckrun_spilled(r), 0);
    struct collected c = {0};
    assert_int_equal(ckrun_drain(r, collect, &c, NULL), 0);
    assert_int_equal(c.n, 2001);
    assert_memory_equal(c.v[0].key, "a", 1); /* db 0: "a" sorts before "k:..." */
    free(c.v[0].key);
    free(c.v[0].val);
    memmove(c.v, c.v + 1, (c.n - 1) * sizeof(*c.v));
    c.n--;
    expect_model(&c, 2000);
    collected_free(&c);
    ckrun_free(r);
}

/* An emit that fails stops the drain with its code; a put without a
 * readable key is refused. */
static void test_errors(void **state)
{
    (void)state;
    struct ckrun *r = ckrun_new(dir, 8 << 10);
    add_model(r, 3000);
    struct collected c = {.fail_at = 100};
    struct buf err = BUF_INIT;
    assert_int_equal(ckrun_drain(r, collect, &c, &err), -EIO);
    assert_int_equal(err.len, 0); /* not the sort file's failure */
    assert_int_equal(c.n, 99);
    assert_int_equal(ckrun_count(r), 0);
    collected_free(&c);
    assert_int_equal(ckrun_add(r, CKRUN_PUT, 0, "\x01", 1), LODE_ECORRUPT);
    assert_int_equal(ckrun_count(r), 0);
    buf_release(&err);
    ckrun_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_in_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spilled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
