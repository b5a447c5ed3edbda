/*
 * test_reply.c - the RESP2/RESP3 reply encoder: every type in both
 * protocols, deferred lengths and error accounting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "engine/reply.h"

static void check(int resp, void (*fn)(struct reply *), const char *want)
{
    struct buf b = BUF_INIT;
    struct reply r;
    reply_init(&r, &b, resp);
    fn(&r);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.ptr, want, b.len);
    buf_release(&b);
}

static void nulls(struct reply *r)
{
    reply_null(r);
    reply_null_array(r);
}

static void aggregates(struct reply *r)
{
    reply_map(r, 1);
    reply_cstr(r, "k");
    reply_int(r, -5);
    reply_set(r, 2);
    reply_bool(r, true);
    reply_double(r, 2.5);
}

static void deferred(struct reply *r)
{
    size_t t = reply_defer(r);
    reply_status(r, "a");
    reply_bulk(r, "", 0);
    reply_defer_array(r, t, 2);
}

static void errors(struct reply *r)
{
    reply_error(r, "WRONGTYPE bad\r\nthing");
    reply_errorf(r, "ERR %d", 5);
    assert_int_equal(r->errors, 2);
    assert_string_equal(r->err_code, "WRONGTYPE");
}

static void verbatim(struct reply *r)
{
    reply_verbatim(r, "hi", 2);
}

static void test_resp2(void **state)
{
    (void)state;
    check(2, nulls, "$-1\r\n*-1\r\n");
    check(2, aggregates, "*2\r\n$1\r\nk\r\n:-5\r\n*2\r\n:1\r\n$3\r\n2.5\r\n");
    check(2, deferred, "*2\r\n+a\r\n$0\r\n\r\n");
    check(2, errors, "-WRONGTYPE bad  thing\r\n-ERR 5\r\n");
    check(2, verbatim, "$2\r\nhi\r\n");
}

static void test_resp3(void **state)
{
    (void)state;
    check(3, nulls, "_\r\n_\r\n");
    check(3, aggregates, "%1\r\n$1\r\nk\r\n:-5\r\n~2\r\n#t\r\n,2.5\r\n");
    check(3, verbatim, "=6\r\ntxt:hi\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resp2),
        cmocka_unit_test(test_resp3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
