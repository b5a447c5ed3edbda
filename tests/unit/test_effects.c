/*
 * test_effects.c - the deterministic forms of writes (engine/effects.h): the
 * exact commands each write leaves in the effects buffer, as the server
 * logs them to the WAL.
 *
 * Rewritten forms (as Redis 7.0 propagates them): SET with an expire,
 * SETEX and PSETEX as SET key value PXAT <abs ms>; GETEX as PEXPIREAT,
 * PERSIST or DEL; INCRBYFLOAT as SET key <result> KEEPTTL; EXPIRE, PEXPIRE,
 * EXPIREAT and PEXPIREAT as PEXPIREAT or DEL. No-ops emit nothing, lazy
 * expiry's DELs come before the command, and changes in another db get a
 * SELECT. The last test replays the effects of a random command sequence on
 * a second engine at the same clock and checks both datasets digest alike.
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
#include "harness.h"

/* A fixed clock: 2023-11-14T22:13:20Z in ms. */
#define NOW 1700000000000LL

/* Runs a command at the clock NOW + dt (ms) with empty effects. */
static const char *run_at(struct th *t, long long dt, ...)
{
    const char *argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, dt);
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL && argc < 64) argv[argc++] = s;
    va_end(ap);
    t->eng.now_ms = NOW + dt;
    effects_reset(&t->eng.eff);
    return th_runv(t, argc, argv, NULL);
}

#define RUN(t, ...)           run_at(t, 0, __VA_ARGS__, NULL)
#define RUN_AT(t, dt, ...)    run_at(t, dt, __VA_ARGS__, NULL)
#define EXPECT_REPLY(r, want) assert_string_equal(r, want)

/* Appends the RESP of spec: commands separated by " | ", arguments by
 * single spaces (test values have no spaces). Returns the command count. */
static uint32_t build_resp(struct buf *b, const char *spec)
{
    uint32_t n = 0;
    const char *p = spec;
    while (*p) {
        const char *end = strstr(p, " | ");
        size_t clen = end ? (size_t)(end - p) : strlen(p);
        struct slice words[32];
        int argc = 0;
        for (size_t i = 0; i < clen;) {
            size_t j = i;
            while (j < clen && p[j] != ' ') j++;
            assert_true(argc < 32);
            words[argc++] = (struct slice){p + i, j - i};
            i = j + 1;
        }
        buf_printf(b, "*%d\r\n", argc);
        for (int k = 0; k < argc; k++) {
            buf_printf(b, "$%zu\r\n", words[k].len);
            buf_append(b, words[k].ptr, words[k].len);
            buf_append(b, "\r\n", 2);
        }
        n++;
        p = end ? end + 3 : p + clen;
    }
    return n;
}

/* Printable form of RESP bytes for failure messages. */
static void print_resp(const char *what, const char *p, size_t n)
{
    fprintf(stderr, "%s: ", what);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\r') continue;
        fputc(p[i] == '\n' ? ' ' : p[i], stderr);
    }
    fputc('\n', stderr);
}

/* Asserts that the last command's effects are exactly spec ("" for none),
 * starting in db start_db. */
static void expect_eff(struct th *t, int start_db, const char *spec)
{
    struct buf want = BUF_INIT;
    uint32_t n = build_resp(&want, spec);
    const struct effects *e = &t->eng.eff;
    bool same = e->n == n && e->cmds.len == want.len &&
                (want.len == 0 || memcmp(e->cmds.ptr, want.ptr, want.len) == 0);
    if (!same) {
        print_resp("want", want.ptr ? want.ptr : "", want.len);
        print_resp("got ", e->cmds.ptr ? e->cmds.ptr : "", e->cmds.len);
    }
    buf_release(&want);
    assert_true(same);
    if (n) assert_int_equal(e->start_db, start_db);
    assert_int_equal(t->missing_rewrites, 0);
}

static long long pexpiretime(struct th *t, const char *key)
{
    struct db *db = &t->eng.dbs[t->sess.db];
    struct kv *kv = db_find(db, key, strlen(key));
    return kv ? db_expire_of(db, kv) : -2;
}

/* ---- the table ---- */

static void test_rules(void **state)
{
    (void)state;
    static const char *const rewrite[] = {"set",      "setex",     "psetex",
                                          "getex",    "expire",    "pexpire",
                                          "expireat", "pexpireat", "incrbyfloat"};
    for (size_t i = 0; i < sizeof(rewrite) / sizeof(rewrite[0]); i++) {
        const struct cmd_def *c = cmd_lookup(rewrite[i], strlen(rewrite[i]));
        assert_non_null(c);
        assert_int_equal(c->wal, WAL_REWRITE);
    }
    static const char *const verbatim[] = {
        "setnx",  "mset",     "msetnx",   "getset", "getdel", "incr",     "decr",     "incrby",
        "decrby", "append",   "setrange", "setbit", "bitop",  "bitfield", "del",      "unlink",
        "rename", "renamenx", "copy",     "move",   "swapdb", "flushdb",  "flushall", "persist"};
    for (size_t i = 0; i < sizeof(verbatim) / sizeof(verbatim[0]); i++) {
        const struct cmd_def *c = cmd_lookup(verbatim[i], strlen(verbatim[i]));
        assert_non_null(c);
        assert_int_equal(c->wal, WAL_VERBATIM);
    }
}

/* ctx_log_effects: the verbatim fallback, and the missing-rewrite report
 * the dispatcher warns about. */
static void test_log_rule(void **state)
{
    struct th *t = *state;
    t->eng.now_ms = NOW;
    struct slice argv[3] = {{"SET", 3}, {"k", 1}, {"v", 1}};
    struct reply r;
    reply_init(&r, &t->out, 2);
    struct cmd_ctx ctx = {.eng = &t->eng,
                          .sess = &t->sess,
                          .db = &t->eng.dbs[0],
                          .argc = 3,
                          .argv = argv,
                          .r = &r,
                          .cmd = cmd_lookup("set", 3)};
    effects_reset(&t->eng.eff);
    /* nothing changed: nothing logged, nothing missing */
    assert_false(ctx_log_effects(&ctx, 0));
    assert_int_equal(t->eng.eff.n, 0);
    /* a rewrite command that changed data without emitting */
    ctx.dirty = 1;
    assert_true(ctx_log_effects(&ctx, 0));
    expect_eff(t, 0, "SET k v");
    /* one that emitted is left alone */
    effects_reset(&t->eng.eff);
    ctx_emit(&ctx, 3, argv);
    assert_false(ctx_log_effects(&ctx, 0));
    assert_int_equal(t->eng.eff.n, 1);
    /* a verbatim command is logged as received, in the db it started in */
    effects_reset(&t->eng.eff);
    struct slice incr[2] = {{"INCR", 4}, {"n", 1}};
    struct cmd_ctx c2 = ctx;
    c2.argc = 2;
    c2.argv = incr;
    c2.cmd = cmd_lookup("incr", 4);
    c2.emitted = false;
    assert_false(ctx_log_effects(&c2, 3));
    expect_eff(t, 3, "INCR n");
    effects_reset(&t->eng.eff);
}

/* ---- strings ---- */

static void test_set(void **state)
{
    struct th *t = *state;
    EXPECT_REPLY(RUN(t, "SET", "k", "v"), "+OK\r\n");
    expect_eff(t, 0, "SET k v");
    EXPECT_REPLY(RUN(t, "SET", "k", "w", "GET"), "$1\r\nv\r\n");
    expect_eff(t, 0, "SET k w");
    EXPECT_REPLY(RUN(t, "SET", "k", "x", "XX"), "+OK\r\n");
    expect_eff(t, 0, "SET k x");
    EXPECT_REPLY(RUN(t, "SET", "n", "1", "NX"), "+OK\r\n");
    expect_eff(t, 0, "SET n 1");

    /* relative and absolute expires all become PXAT <abs ms> */
    EXPECT_REPLY(RUN(t, "SET", "k", "v", "EX", "10"), "+OK\r\n");
    expect_eff(t, 0, "SET k v PXAT 1700000010000");
    assert_int_equal(pexpiretime(t, "k"), NOW + 10000);
    EXPECT_REPLY(RUN(t, "SET", "k", "v", "PX", "1500"), "+OK\r\n");
    expect_eff(t, 0, "SET k v PXAT 1700000001500");
    EXPECT_REPLY(RUN(t, "SET", "k", "v", "EXAT", "1700000100"), "+OK\r\n");
    expect_eff(t, 0, "SET k v PXAT 1700000100000");
    EXPECT_REPLY(RUN(t, "SET", "k", "v", "PXAT", "1700000000777"), "+OK\r\n");
    expect_eff(t, 0, "SET k v PXAT 1700000000777");
    /* options that held, and GET, are dropped; the key stays PXAT */
    EXPECT_REPLY(RUN(t, "set", "k", "w", "xx", "get", "px", "20"), "$1\r\nv\r\n");
    expect_eff(t, 0, "SET k w PXAT 1700000000020");
    EXPECT_REPLY(RUN(t, "SET", "fresh", "v", "NX", "EX", "5"), "+OK\r\n");
    expect_eff(t, 0, "SET fresh v PXAT 1700000005000");

    /* KEEPTTL keeps the TTL on replay too */
    EXPECT_REPLY(RUN(t, "SET", "k", "kept", "KEEPTTL"), "+OK\r\n");
    expect_eff(t, 0, "SET k kept KEEPTTL");
    assert_int_equal(pexpiretime(t, "k"), NOW + 20);
    EXPECT_REPLY(RUN(t, "SET", "k", "kept2", "KEEPTTL", "GET", "XX"), "$4\r\nkept\r\n");
    expect_eff(t, 0, "SET k kept2 KEEPTTL");

    /* a SET that did nothing emits nothing */
    EXPECT_REPLY(RUN(t, "SET", "k", "v", "NX"), "$-1\r\n");
    expect_eff(t, 0, "");
    EXPECT_REPLY(RUN(t, "SET", "k", "v", "NX", "GET"), "$5\r\nkept2\r\n");
    expect_eff(t, 0, "");
    EXPECT_REPLY(RUN(t, "SET", "missing", "v", "XX", "EX", "10"), "$-1\r\n");
    expect_eff(t, 0, "");
    EXPECT_REPLY(RUN(t, "SET", "missing", "v", "XX", "GET"), "$-1\r\n");
    expect_eff(t, 0, "");
    /* errors emit nothing */
    EXPECT_REPLY(RUN(t, "SET", "k", "v", "EX", "0"),
                 "-ERR invalid expire time in 'set' command\r\n");
    expect_eff(t, 0, "");
    EXPECT_REPLY(RUN(t, "SET", "k", "v", "NX", "XX"), "-ERR syntax error\r\n");
    expect_eff(t, 0, "");
}

static void test_set_get_wrongtype(void **state)
{
    struct th *t = *state;
    /* SET ... GET on another type refuses and changes nothing: no effect
     * (no other type exists yet, so a bare list entry stands in) */
    struct kv *kv = kv_new_obj("l", 1, OBJ_LIST, 0, NULL);
    db_add(&t->eng, &t->eng.dbs[0], kv);
    EXPECT_REPLY(RUN(t, "SET", "l", "v", "GET"),
                 "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    expect_eff(t, 0, "");
    /* without GET it overwrites */
    EXPECT_REPLY(RUN(t, "SET", "l", "v"), "+OK\r\n");
    expect_eff(t, 0, "SET l v");
}

static void test_setex_psetex(void **state)
{
    struct th *t = *state;
    EXPECT_REPLY(RUN(t, "SETEX", "k", "10", "v"), "+OK\r\n");
    expect_eff(t, 0, "SET k v PXAT 1700000010000");
    EXPECT_REPLY(RUN(t, "PSETEX", "k", "1500", "w"), "+OK\r\n");
    expect_eff(t, 0, "SET k w PXAT 1700000001500");
    EXPECT_REPLY(RUN(t, "SETEX", "k", "0", "v"), "-ERR invalid expire time in 'setex' command\r\n");
    expect_eff(t, 0, "");
    EXPECT_REPLY(RUN(t, "PSETEX", "k", "x", "v"),
                 "-ERR value is not an integer or out of range\r\n");
    expect_eff(t, 0, "");
}

static void test_getex(void **state)
{
    struct th *t = *state;
    RUN(t, "SET", "k", "v");
    /* no option, a missing key: nothing */
    EXPECT_REPLY(RUN(t, "GETEX", "k"), "$1\r\nv\r\n");
    expect_eff(t, 0, "");
    EXPECT_REPLY(RUN(t, "GETEX", "missing", "EX", "10"), "$-1\r\n");
    expect_eff(t, 0, "");
    /* PERSIST without a TTL changes nothing */
    EXPECT_REPLY(RUN(t, "GETEX", "k", "PERSIST"), "$1\r\nv\r\n");
    expect_eff(t, 0, "");

    EXPECT_REPLY(RUN(t, "GETEX", "k", "EX", "10"), "$1\r\nv\r\n");
    expect_eff(t, 0, "PEXPIREAT k 1700000010000");
    EXPECT_REPLY(RUN(t, "GETEX", "k", "PX", "250"), "$1\r\nv\r\n");
    expect_eff(t, 0, "PEXPIREAT k 1700000000250");
    EXPECT_REPLY(RUN(t, "GETEX", "k", "EXAT", "1700000100"), "$1\r\nv\r\n");
    expect_eff(t, 0, "PEXPIREAT k 1700000100000");
    EXPECT_REPLY(RUN(t, "GETEX", "k", "PXAT", "1700000200000"), "$1\r\nv\r\n");
    expect_eff(t, 0, "PEXPIREAT k 1700000200000");
    EXPECT_REPLY(RUN(t, "GETEX", "k", "PERSIST"), "$1\r\nv\r\n");
    expect_eff(t, 0, "PERSIST k");
    assert_int_equal(pexpiretime(t, "k"), -1);

    /* an absolute time already past deletes the key */
    EXPECT_REPLY(RUN(t, "GETEX", "k", "PXAT", "1700000000000"), "$1\r\nv\r\n");
    expect_eff(t, 0, "DEL k");
    assert_int_equal(pexpiretime(t, "k"), -2);
    RUN(t, "SET", "k", "v");
    EXPECT_REPLY(RUN(t, "GETEX", "k", "EXAT", "1"), "$1\r\nv\r\n");
    expect_eff(t, 0, "DEL k");

    /* errors emit nothing */
    RUN(t, "SET", "k", "v");
    EXPECT_REPLY(RUN(t, "GETEX", "k", "EX", "0"),
                 "-ERR invalid expire time in 'getex' command\r\n");
    expect_eff(t, 0, "");
    EXPECT_REPLY(RUN(t, "GETEX", "k", "EX", "1", "PERSIST"), "-ERR syntax error\r\n");
    expect_eff(t, 0, "");
}

static void test_incrbyfloat(void **state)
{
    struct th *t = *state;
    EXPECT_REPLY(RUN(t, "INCRBYFLOAT", "f", "1.5"), "$3\r\n1.5\r\n");
    expect_eff(t, 0, "SET f 1.5 KEEPTTL");
    RUN(t, "PEXPIRE", "f", "5000");
    EXPECT_REPLY(RUN(t, "INCRBYFLOAT", "f", "2.5"), "$1\r\n4\r\n");
    expect_eff(t, 0, "SET f 4 KEEPTTL");
    assert_int_equal(pexpiretime(t, "f"), NOW + 5000);
    EXPECT_REPLY(RUN(t, "INCRBYFLOAT", "f", "0.1"), "$3\r\n4.1\r\n");
    expect_eff(t, 0, "SET f 4.1 KEEPTTL");
    EXPECT_REPLY(RUN(t, "INCRBYFLOAT", "f", "x"), "-ERR value is not a valid float\r\n");
    expect_eff(t, 0, "");
    RUN(t, "SET", "s", "abc");
    EXPECT_REPLY(RUN(t, "INCRBYFLOAT", "s", "1"), "-ERR value is not a valid float\r\n");
    expect_eff(t, 0, "");
}

/* ---- the EXPIRE family ---- */

static void test_expire_family(void **state)
{
    struct th *t = *state;
    RUN(t, "SET", "k", "v");
    EXPECT_REPLY(RUN(t, "EXPIRE", "k", "10"), ":1\r\n");
    expect_eff(t, 0, "PEXPIREAT k 1700000010000");
    EXPECT_REPLY(RUN(t, "PEXPIRE", "k", "1234"), ":1\r\n");
    expect_eff(t, 0, "PEXPIREAT k 1700000001234");
    EXPECT_REPLY(RUN(t, "EXPIREAT", "k", "1700000100"), ":1\r\n");
    expect_eff(t, 0, "PEXPIREAT k 1700000100000");
    EXPECT_REPLY(RUN(t, "PEXPIREAT", "k", "1700000200000"), ":1\r\n");
    expect_eff(t, 0, "PEXPIREAT k 1700000200000");

    /* options are dropped once the effect is absolute */
    EXPECT_REPLY(RUN(t, "EXPIRE", "k", "300", "GT"), ":1\r\n");
    expect_eff(t, 0, "PEXPIREAT k 1700000300000");
    EXPECT_REPLY(RUN(t, "PEXPIRE", "k", "1000", "XX", "LT"), ":1\r\n");
    expect_eff(t, 0, "PEXPIREAT k 1700000001000");
    EXPECT_REPLY(RUN(t, "PEXPIREAT", "k", "1700000000500", "lt"), ":1\r\n");
    expect_eff(t, 0, "PEXPIREAT k 1700000000500");

    /* conditions that fail, a missing key, errors: nothing */
    EXPECT_REPLY(RUN(t, "EXPIRE", "k", "100", "NX"), ":0\r\n");
    expect_eff(t, 0, "");
    EXPECT_REPLY(RUN(t, "EXPIRE", "k", "100", "LT"), ":0\r\n");
    expect_eff(t, 0, "");
    EXPECT_REPLY(RUN(t, "PEXPIREAT", "k", "1", "GT"), ":0\r\n");
    expect_eff(t, 0, "");
    EXPECT_REPLY(RUN(t, "EXPIRE", "missing", "10"), ":0\r\n");
    expect_eff(t, 0, "");
    EXPECT_REPLY(RUN(t, "EXPIRE", "k", "x"), "-ERR value is not an integer or out of range\r\n");
    expect_eff(t, 0, "");
    EXPECT_REPLY(RUN(t, "EXPIRE", "k", "10", "NX", "XX"),
                 "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
    expect_eff(t, 0, "");
    EXPECT_REPLY(RUN(t, "EXPIRE", "k", "9223372036854775807"),
                 "-ERR invalid expire time in 'expire' command\r\n");
    expect_eff(t, 0, "");

    /* a time already past deletes the key: DEL */
    EXPECT_REPLY(RUN(t, "EXPIRE", "k", "-1"), ":1\r\n");
    expect_eff(t, 0, "DEL k");
    assert_int_equal(pexpiretime(t, "k"), -2);
    RUN(t, "SET", "k", "v");
    EXPECT_REPLY(RUN(t, "PEXPIRE", "k", "0"), ":1\r\n");
    expect_eff(t, 0, "DEL k");
    RUN(t, "SET", "k", "v");
    EXPECT_REPLY(RUN(t, "EXPIREAT", "k", "1"), ":1\r\n");
    expect_eff(t, 0, "DEL k");
    RUN(t, "SET", "k", "v");
    EXPECT_REPLY(RUN(t, "PEXPIREAT", "k", "1700000000000"), ":1\r\n");
    expect_eff(t, 0, "DEL k");
    RUN(t, "SET", "k", "v");
    EXPECT_REPLY(RUN(t, "PEXPIREAT", "k", "0", "NX"), ":1\r\n");
    expect_eff(t, 0, "DEL k");

    /* PERSIST stays verbatim; a no-op emits nothing */
    RUN(t, "SET", "k", "v", "EX", "10");
    EXPECT_REPLY(RUN(t, "PERSIST", "k"), ":1\r\n");
    expect_eff(t, 0, "PERSIST k");
    EXPECT_REPLY(RUN(t, "PERSIST", "k"), ":0\r\n");
    expect_eff(t, 0, "");
}

/* ---- lazy expiry comes first ---- */

static void test_lazy_expiry_first(void **state)
{
    struct th *t = *state;
    RUN(t, "SET", "k", "old", "PX", "100");
    EXPECT_REPLY(RUN_AT(t, 200, "SET", "k", "new", "NX", "EX", "1"), "+OK\r\n");
    expect_eff(t, 0, "DEL k | SET k new PXAT 1700000001200");

    RUN(t, "SET", "k", "old", "PX", "100");
    EXPECT_REPLY(RUN_AT(t, 100, "EXPIRE", "k", "10"), ":0\r\n");
    expect_eff(t, 0, "DEL k");

    RUN(t, "SET", "f", "1", "PX", "100");
    EXPECT_REPLY(RUN_AT(t, 150, "INCRBYFLOAT", "f", "1"), "$1\r\n1\r\n");
    expect_eff(t, 0, "DEL f | SET f 1 KEEPTTL");

    RUN(t, "SET", "g", "v", "PX", "100");
    EXPECT_REPLY(RUN_AT(t, 150, "GETEX", "g", "PERSIST"), "$-1\r\n");
    expect_eff(t, 0, "DEL g");

    RUN(t, "SET", "s", "v", "PX", "100");
    EXPECT_REPLY(RUN_AT(t, 150, "SETEX", "s", "5", "w"), "+OK\r\n");
    expect_eff(t, 0, "DEL s | SET s w PXAT 1700000005150");

    /* verbatim commands too: the expired key first, then the command */
    RUN(t, "SET", "a", "1", "PX", "100");
    RUN(t, "SET", "b", "2");
    EXPECT_REPLY(RUN_AT(t, 150, "DEL", "a", "b"), ":1\r\n");
    expect_eff(t, 0, "DEL a | DEL a b");
    RUN(t, "SET", "c", "5", "PX", "100");
    EXPECT_REPLY(RUN_AT(t, 150, "INCR", "c"), ":1\r\n");
    expect_eff(t, 0, "DEL c | INCR c");
    /* a read that expires logs only the DEL */
    RUN(t, "SET", "r", "v", "PX", "100");
    EXPECT_REPLY(RUN_AT(t, 150, "GET", "r"), "$-1\r\n");
    expect_eff(t, 0, "DEL r");
}

/* ---- other databases ---- */

static void test_other_db(void **state)
{
    struct th *t = *state;
    /* a client in db 3: every effect applies to db 3 */
    t->sess.db = 3;
    RUN(t, "SET", "k", "v", "EX", "5");
    expect_eff(t, 3, "SET k v PXAT 1700000005000");
    RUN(t, "EXPIRE", "k", "-1");
    expect_eff(t, 3, "DEL k");

    /* MOVE to a db whose copy of the key expired: the DEL there, then a
     * SELECT back to the client's db for the MOVE itself */
    t->sess.db = 1;
    RUN(t, "SET", "m", "stale", "PX", "100");
    t->sess.db = 0;
    RUN(t, "SET", "m", "v");
    EXPECT_REPLY(RUN_AT(t, 150, "MOVE", "m", "1"), ":1\r\n");
    expect_eff(t, 1, "DEL m | SELECT 0 | MOVE m 1");
    /* a plain MOVE: verbatim in the client's db */
    RUN(t, "SET", "m2", "v");
    EXPECT_REPLY(RUN(t, "MOVE", "m2", "1"), ":1\r\n");
    expect_eff(t, 0, "MOVE m2 1");
    EXPECT_REPLY(RUN(t, "MOVE", "m2", "1"), ":0\r\n");
    expect_eff(t, 0, "");

    /* COPY ... DB with an expired destination */
    t->sess.db = 2;
    RUN(t, "SET", "dst", "stale", "PX", "100");
    t->sess.db = 0;
    RUN(t, "SET", "src", "v", "EX", "100");
    EXPECT_REPLY(RUN_AT(t, 150, "COPY", "src", "dst", "DB", "2"), ":1\r\n");
    expect_eff(t, 2, "DEL dst | SELECT 0 | COPY src dst DB 2");
    EXPECT_REPLY(RUN(t, "COPY", "src", "dst", "DB", "2"), ":0\r\n");
    expect_eff(t, 0, "");
    EXPECT_REPLY(RUN(t, "COPY", "src", "dst", "DB", "2", "REPLACE"), ":1\r\n");
    expect_eff(t, 0, "COPY src dst DB 2 REPLACE");

    /* an expired source in the client's db, then a rewrite in db 0 */
    RUN(t, "SET", "gone", "v", "PX", "100");
    EXPECT_REPLY(RUN_AT(t, 150, "COPY", "gone", "dst", "DB", "2"), ":0\r\n");
    expect_eff(t, 0, "DEL gone");
    t->sess.db = 0;
}

/* ---- replay equivalence ---- */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    /* xorshift64*: a fixed seed gives the same sequence everywhere */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}
static int rnd_below(int n)
{
    return (int)(rnd() % (uint64_t)n);
}

/* Strings for generated arguments: a ring of small buffers. */
static const char *fmt_ll(long long v)
{
    static char ring[64][UTIL_LLSTR_SIZE];
    static int next;
    char *s = ring[next++ % 64];
    util_ll2str(s, v);
    return s;
}

static const char *const keys[] = {"k0", "k1", "k2", "k3", "k4"};
static const char *const vals[] = {"1", "10", "-3", "abc", "2.5", "", "hello"};

/* Builds one random command into argv; returns argc. Times are around the
 * clock so that TTLs pass while the sequence runs. */
static int random_command(const char **argv, long long now)
{
    int n = 0;
    const char *k = keys[rnd_below(5)];
    const char *k2 = keys[rnd_below(5)];
    const char *v = vals[rnd_below(7)];
    static const char *const units[] = {"EX", "PX", "EXAT", "PXAT"};
    static const char *const xflags[] = {"NX", "XX", "GT", "LT"};
    switch (rnd_below(24)) {
    case 0:
    case 1: {
        argv[n++] = "SET", argv[n++] = k, argv[n++] = v;
        int u = rnd_below(6);
        if (u < 4) {
            argv[n++] = units[u];
            long long rel = 1 + rnd_below(3000);
            switch (u) {
            case 0: argv[n++] = fmt_ll(1 + rnd_below(3)); break;
            case 1: argv[n++] = fmt_ll(rel); break;
            case 2: argv[n++] = fmt_ll(now / 1000 + rnd_below(5) - 1); break;
            default: argv[n++] = fmt_ll(now + rel - 500); break;
            }
        } else if (u == 4) {
            argv[n++] = "KEEPTTL";
        }
        int c = rnd_below(4);
        if (c == 1) argv[n++] = "NX";
        if (c == 2) argv[n++] = "XX";
        if (rnd_below(3) == 0) argv[n++] = "GET";
        break;
    }
    case 2:
        argv[n++] = rnd_below(2) ? "SETEX" : "PSETEX", argv[n++] = k;
        argv[n++] = fmt_ll(argv[0][0] == 'S' ? 1 + rnd_below(3) : 1 + rnd_below(3000));
        argv[n++] = v;
        break;
    case 3: {
        argv[n++] = "GETEX", argv[n++] = k;
        int u = rnd_below(6);
        if (u < 4) {
            argv[n++] = units[u];
            switch (u) {
            case 0: argv[n++] = fmt_ll(1 + rnd_below(3)); break;
            case 1: argv[n++] = fmt_ll(1 + rnd_below(3000)); break;
            case 2: argv[n++] = fmt_ll(now / 1000 + rnd_below(4) - 1); break;
            default: argv[n++] = fmt_ll(now + rnd_below(3000) - 1000); break;
            }
        } else if (u == 4) {
            argv[n++] = "PERSIST";
        }
        break;
    }
    case 4:
        argv[n++] = "INCRBYFLOAT", argv[n++] = k;
        argv[n++] = rnd_below(2) ? "0.1" : "-1.25";
        break;
    case 5:
    case 6: {
        static const char *const names[] = {"EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"};
        int u = rnd_below(4);
        argv[n++] = names[u], argv[n++] = k;
        switch (u) {
        case 0: argv[n++] = fmt_ll(rnd_below(5) - 1); break;
        case 1: argv[n++] = fmt_ll(rnd_below(4000) - 500); break;
        case 2: argv[n++] = fmt_ll(now / 1000 + rnd_below(5) - 1); break;
        default: argv[n++] = fmt_ll(now + rnd_below(4000) - 1000); break;
        }
        if (rnd_below(3) == 0) argv[n++] = xflags[rnd_below(4)];
        break;
    }
    case 7: argv[n++] = "PERSIST", argv[n++] = k; break;
    case 8: argv[n++] = rnd_below(2) ? "INCR" : "DECR", argv[n++] = k; break;
    case 9: argv[n++] = "INCRBY", argv[n++] = k, argv[n++] = fmt_ll(rnd_below(100) - 50); break;
    case 10: argv[n++] = "APPEND", argv[n++] = k, argv[n++] = v; break;
    case 11:
        argv[n++] = "SETRANGE", argv[n++] = k, argv[n++] = fmt_ll(rnd_below(6));
        argv[n++] = v;
        break;
    case 12: argv[n++] = "SETNX", argv[n++] = k, argv[n++] = v; break;
    case 13:
        argv[n++] = rnd_below(2) ? "GETSET" : "GETDEL", argv[n++] = k;
        if (argv[0][3] == 'S') argv[n++] = v;
        break;
    case 14:
        argv[n++] = rnd_below(2) ? "MSET" : "MSETNX";
        argv[n++] = k, argv[n++] = v, argv[n++] = k2, argv[n++] = vals[rnd_below(7)];
        break;
    case 15: argv[n++] = rnd_below(2) ? "DEL" : "UNLINK", argv[n++] = k, argv[n++] = k2; break;
    case 16: argv[n++] = rnd_below(2) ? "RENAME" : "RENAMENX", argv[n++] = k, argv[n++] = k2; break;
    case 17:
        argv[n++] = "COPY", argv[n++] = k, argv[n++] = k2;
        if (rnd_below(2)) argv[n++] = "DB", argv[n++] = fmt_ll(rnd_below(3));
        if (rnd_below(2)) argv[n++] = "REPLACE";
        break;
    case 18: argv[n++] = "MOVE", argv[n++] = k, argv[n++] = fmt_ll(rnd_below(3)); break;
    case 19: argv[n++] = "SELECT", argv[n++] = fmt_ll(rnd_below(3)); break;
    case 20:
        argv[n++] = "SETBIT", argv[n++] = k, argv[n++] = fmt_ll(rnd_below(40));
        argv[n++] = rnd_below(2) ? "1" : "0";
        break;
    case 21:
        argv[n++] = "BITFIELD", argv[n++] = k, argv[n++] = "OVERFLOW";
        argv[n++] = rnd_below(2) ? "SAT" : "FAIL";
        argv[n++] = "INCRBY", argv[n++] = "u4", argv[n++] = fmt_ll(rnd_below(16));
        argv[n++] = fmt_ll(rnd_below(20) - 5);
        break;
    case 22:
        argv[n++] = "BITOP", argv[n++] = rnd_below(2) ? "OR" : "XOR", argv[n++] = k2;
        argv[n++] = k, argv[n++] = keys[rnd_below(5)];
        break;
    default: {
        /* reads that may expire keys on the way */
        static const char *const reads[] = {"GET", "TTL", "EXISTS", "TYPE", "RANDOMKEY", "SCAN"};
        int r = rnd_below(6);
        argv[n++] = reads[r];
        if (r < 4) argv[n++] = k;
        if (r == 5) argv[n++] = "0", argv[n++] = "COUNT", argv[n++] = "100";
        if (rnd_below(40) == 0) n = 0, argv[n++] = rnd_below(2) ? "FLUSHDB" : "SWAPDB";
        if (argv[0][0] == 'S' && argv[0][1] == 'W') argv[n++] = "0", argv[n++] = "2";
        break;
    }
    }
    return n;
}

static bool word_is(const char *p, size_t n, const char *lit)
{
    return util_eq_nocase(p, n, lit);
}

/* Whether a logged command is free of the clock and of float arithmetic:
 * none of the commands that must be rewritten, and SET only with PXAT or
 * KEEPTTL. */
static bool deterministic_form(int argc, const char **argv, const size_t *lens)
{
    static const char *const banned[] = {"EXPIRE", "PEXPIRE", "EXPIREAT",   "SETEX",
                                         "PSETEX", "GETEX",   "INCRBYFLOAT"};
    for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++) {
        if (word_is(argv[0], lens[0], banned[i])) {
            fprintf(stderr, "%s in the effects\n", banned[i]);
            return false;
        }
    }
    if (word_is(argv[0], lens[0], "PEXPIREAT")) return argc == 3;
    if (!word_is(argv[0], lens[0], "SET")) return true;
    if (argc == 3) return true;
    if (argc == 4) return word_is(argv[3], lens[3], "KEEPTTL");
    return argc == 5 && word_is(argv[3], lens[3], "PXAT");
}

/* Runs every command of an effects buffer on t, as recovery does: from the
 * record's db, at the record's time, logging nothing. */
static void replay(struct th *t, const struct effects *e, long long now)
{
    const char *p = e->cmds.ptr, *end = p + e->cmds.len;
    t->sess.db = e->start_db;
    for (uint32_t c = 0; c < e->n; c++) {
        assert_true(p < end && *p == '*');
        char *q;
        long argc = strtol(p + 1, &q, 10);
        assert_true(argc > 0 && argc <= 64);
        p = q + 2;
        const char *argv[64];
        size_t lens[64];
        for (long i = 0; i < argc; i++) {
            assert_true(*p == '$');
            long len = strtol(p + 1, &q, 10);
            argv[i] = q + 2;
            lens[i] = (size_t)len;
            p = q + 2 + len + 2;
        }
        assert_true(deterministic_form((int)argc, argv, lens));
        t->eng.now_ms = now;
        const char *reply = th_runv(t, (int)argc, argv, lens);
        /* a logged change never fails on replay */
        if (reply[0] == '-')
            fprintf(stderr, "replay of %.*s failed: %s", (int)lens[0], argv[0], reply);
        assert_true(reply[0] != '-');
    }
    assert_true(p == end);
}

static void digest_of(struct engine *eng, uint8_t out[DIGEST_LEN])
{
    assert_int_equal(digest_dataset(eng, out, NULL), 0);
}

static void test_replay_equivalence(void **state)
{
    (void)state;
    struct th a, b;
    th_init(&a);
    th_init(&b);
    b.eng.eff.enabled = false; /* replay must not log again */
    rng_state = 0x9E3779B97F4A7C15ULL;
    long long now = NOW;
    int logged = 0;
    for (int step = 0; step < 4000; step++) {
        now += rnd_below(4) == 0 ? rnd_below(1500) : 0;
        const char *argv[64];
        int argc = random_command(argv, now);
        a.eng.now_ms = now;
        effects_reset(&a.eng.eff);
        th_runv(&a, argc, argv, NULL);
        assert_int_equal(a.missing_rewrites, 0);
        if (a.eng.eff.n) {
            logged++;
            replay(&b, &a.eng.eff, now);
        }
        uint8_t da[DIGEST_LEN], db[DIGEST_LEN];
        a.eng.now_ms = b.eng.now_ms = now;
        digest_of(&a.eng, da);
        digest_of(&b.eng, db);
        if (memcmp(da, db, DIGEST_LEN) != 0) {
            fprintf(stderr, "datasets differ after step %d:", step);
            for (int i = 0; i < argc; i++) fprintf(stderr, " %s", argv[i]);
            fputc('\n', stderr);
        }
        assert_memory_equal(da, db, DIGEST_LEN);
    }
    /* the sequence exercised the log (not a trivially empty dataset) */
    assert_true(logged > 1000);
    /* and later, when every TTL has passed, they still agree */
    uint8_t da[DIGEST_LEN], db[DIGEST_LEN];
    a.eng.now_ms = b.eng.now_ms = now + 100000;
    digest_of(&a.eng, da);
    digest_of(&b.eng, db);
    assert_memory_equal(da, db, DIGEST_LEN);
    th_release(&a);
    th_release(&b);
}

/* The rewritten forms matter: the same commands logged verbatim and
 * replayed later (recovery's clock is the record's, but a relative TTL
 * would count from whatever clock the replay used) end elsewhere. */
static void test_rewrite_needed(void **state)
{
    (void)state;
    struct th a, b;
    th_init(&a);
    th_init(&b);
    b.eng.eff.enabled = false;
    a.eng.now_ms = NOW;
    effects_reset(&a.eng.eff);
    th_run(&a, "SET", "k", "v", "EX", "10", NULL);
    replay(&b, &a.eng.eff, NOW + 5000); /* replayed later: PXAT is absolute */
    struct kv *kv = db_find(&b.eng.dbs[0], "k", 1);
    assert_non_null(kv);
    assert_int_equal(db_expire_of(&b.eng.dbs[0], kv), NOW + 10000);
    th_release(&a);
    th_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rules, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_log_rule, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_set, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_set_get_wrongtype, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_setex_psetex, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_getex, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_incrbyfloat, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_expire_family, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_lazy_expiry_first, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_other_db, th_setup, th_teardown),
        cmocka_unit_test(test_replay_equivalence),
        cmocka_unit_test(test_rewrite_needed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
