/*
 * test_resp.c - the RESP request parser: multibulk and inline requests,
 * incremental input, limits and Redis's exact error texts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "engine/buf.h"
#include "server/resp.h"

struct fixture {
    struct resp_parser p;
    struct buf q;
    struct resp_limits lim;
    struct slice argv[64];
    const char *err;
};

static void fx_init(struct fixture *f, bool authed)
{
    resp_parser_init(&f->p);
    buf_init(&f->q);
    f->lim.max_bulk = 512LL * 1024 * 1024;
    f->lim.authenticated = authed;
    f->err = NULL;
}

static void fx_release(struct fixture *f)
{
    resp_parser_release(&f->p);
    buf_release(&f->q);
}

static int feed(struct fixture *f, const char *data, size_t n)
{
    buf_append(&f->q, data, n);
    return resp_parse(&f->p, &f->q, &f->lim, &f->err);
}

#define FEED(f, lit) feed(f, lit, sizeof(lit) - 1)

static void assert_arg(struct fixture *f, int i, const char *want)
{
    resp_args(&f->p, &f->q, f->argv);
    assert_int_equal(f->argv[i].len, strlen(want));
    assert_memory_equal(f->argv[i].ptr, want, strlen(want));
}

static void test_multibulk(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, true);
    assert_int_equal(FEED(&f, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhe\0lo\r\n"), RESP_COMMAND);
    assert_int_equal(f.p.argc, 3);
    assert_arg(&f, 0, "SET");
    resp_args(&f.p, &f.q, f.argv);
    assert_int_equal(f.argv[2].len, 5);
    assert_memory_equal(f.argv[2].ptr, "he\0lo", 5);
    resp_next(&f.p);
    assert_int_equal(resp_parse(&f.p, &f.q, &f.lim, &f.err), RESP_NEED_MORE);
    fx_release(&f);
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    static const char req[] = "*2\r\n$4\r\nECHO\r\n$11\r\nhello world\r\n";
    struct fixture f;
    fx_init(&f, true);
    for (size_t i = 0; i < sizeof(req) - 2; i++) {
        assert_int_equal(feed(&f, req + i, 1), RESP_NEED_MORE);
        resp_compact(&f.p, &f.q);
    }
    assert_int_equal(feed(&f, req + sizeof(req) - 2, 1), RESP_COMMAND);
    assert_arg(&f, 1, "hello world");
    fx_release(&f);
}

static void test_pipeline_and_compact(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, true);
    assert_int_equal(FEED(&f, "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET"),
                     RESP_COMMAND);
    assert_arg(&f, 0, "PING");
    resp_next(&f.p);
    assert_int_equal(resp_parse(&f.p, &f.q, &f.lim, &f.err), RESP_COMMAND);
    assert_arg(&f, 1, "a");
    resp_next(&f.p);
    assert_int_equal(resp_parse(&f.p, &f.q, &f.lim, &f.err), RESP_NEED_MORE);
    resp_compact(&f.p, &f.q);
    /* the partial third command survives compaction */
    assert_int_equal(FEED(&f, "\r\n$1\r\nb\r\n"), RESP_COMMAND);
    assert_arg(&f, 0, "GET");
    assert_arg(&f, 1, "b");
    fx_release(&f);
}

static void test_inline(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, true);
    assert_int_equal(FEED(&f, "SET  \"a b\\x41\\n\" 'it\\'s'\r\n"), RESP_COMMAND);
    assert_int_equal(f.p.argc, 3);
    assert_arg(&f, 1, "a bA\n");
    assert_arg(&f, 2, "it's");
    resp_next(&f.p);
    assert_int_equal(FEED(&f, "\r\n"), RESP_EMPTY);
    resp_next(&f.p);
    assert_int_equal(FEED(&f, "PING\n"), RESP_COMMAND);
    assert_arg(&f, 0, "PING");
    fx_release(&f);
}

static void expect_error(const char *input, size_t n, bool authed, const char *want)
{
    struct fixture f;
    fx_init(&f, authed);
    assert_int_equal(feed(&f, input, n), RESP_ERROR);
    assert_string_equal(f.err, want);
    fx_release(&f);
}

#define EXPECT_ERROR(lit, authed, want) expect_error(lit, sizeof(lit) - 1, authed, want)

static void test_errors(void **state)
{
    (void)state;
    EXPECT_ERROR("*abc\r\n", true, "ERR Protocol error: invalid multibulk length");
    EXPECT_ERROR("*3000000000\r\n", true, "ERR Protocol error: invalid multibulk length");
    EXPECT_ERROR("*1\r\n$-1\r\n", true, "ERR Protocol error: invalid bulk length");
    EXPECT_ERROR("*1\r\n$x\r\n", true, "ERR Protocol error: invalid bulk length");
    EXPECT_ERROR("*1\r\n+PING\r\n", true, "ERR Protocol error: expected '$', got '+'");
    EXPECT_ERROR("SET \"a\r\n", true, "ERR Protocol error: unbalanced quotes in request");
    EXPECT_ERROR("SET \"a\"b\r\n", true, "ERR Protocol error: unbalanced quotes in request");
    EXPECT_ERROR("*11\r\n", false, "ERR Protocol error: unauthenticated multibulk length");
    EXPECT_ERROR("*1\r\n$16385\r\n", false, "ERR Protocol error: unauthenticated bulk length");
    /* within the unauthenticated limits nothing fails */
    struct fixture f;
    fx_init(&f, false);
    assert_int_equal(FEED(&f, "*10\r\n"), RESP_NEED_MORE);
    fx_release(&f);
}

static void test_big_inline_and_counts(void **state)
{
    (void)state;
    static char big[RESP_INLINE_MAX + 10];
    memset(big, 'a', sizeof(big));
    expect_error(big, sizeof(big), true, "ERR Protocol error: too big inline request");
    big[0] = '*';
    expect_error(big, sizeof(big), true, "ERR Protocol error: too big mbulk count string");
    memcpy(big, "*1\r\n$", 5);
    expect_error(big, sizeof(big), true, "ERR Protocol error: too big bulk count string");
}

static void test_max_bulk(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, true);
    f.lim.max_bulk = 10;
    assert_int_equal(FEED(&f, "*1\r\n$10\r\n"), RESP_NEED_MORE);
    fx_release(&f);
    fx_init(&f, true);
    f.lim.max_bulk = 10;
    assert_int_equal(FEED(&f, "*1\r\n$11\r\n"), RESP_ERROR);
    assert_string_equal(f.err, "ERR Protocol error: invalid bulk length");
    fx_release(&f);
}

static void test_empty_multibulk(void **state)
{
    (void)state;
    struct fixture f;
    fx_init(&f, true);
    assert_int_equal(FEED(&f, "*0\r\n"), RESP_EMPTY);
    resp_next(&f.p);
    assert_int_equal(FEED(&f, "*-1\r\n"), RESP_EMPTY);
    resp_next(&f.p);
    assert_int_equal(FEED(&f, "*1\r\n$0\r\n\r\n"), RESP_COMMAND);
    assert_arg(&f, 0, "");
    fx_release(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multibulk),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_pipeline_and_compact),
        cmocka_unit_test(test_inline),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_big_inline_and_counts),
        cmocka_unit_test(test_max_bulk),
        cmocka_unit_test(test_empty_multibulk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
