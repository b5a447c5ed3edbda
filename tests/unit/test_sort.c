/*
 * test_sort.c - SORT and SORT_RO (engine/t_sort.c) through the command
 * table, over sorted sets (the collection type present in every build) with
 * string BY/GET patterns: orders, LIMIT windows, errors, and what SORT ...
 * STORE changes and logs. Expected replies were checked against
 * redis-server 7.0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "harness.h"

#define RUN(t, expect, ...) assert_string_equal(th_run(t, __VA_ARGS__, NULL), expect)

static void setup_data(struct th *t)
{
    th_run(t, "ZADD", "z", "3", "c", "1", "a", "2", "b", "10", "x1", "5", "10", "7", "2.5", NULL);
    th_run(t, "MSET", "w_c", "1", "w_a", "3", "w_b", "2", "w_x1", "-1", "w_10", "100", NULL);
    th_run(t, "MSET", "o_a", "A", "o_b", "B", "o_10", "ten", NULL);
}

static void test_table(void **state)
{
    (void)state;
    const struct cmd_def *s = cmd_lookup("sort", 4), *ro = cmd_lookup("sort_ro", 7);
    assert_non_null(s);
    assert_non_null(ro);
    assert_int_equal(s->wal, WAL_REWRITE);
    assert_int_equal(ro->wal, WAL_NONE);
    assert_int_equal(s->arity, -2);
    assert_true(ro->flags & CMDF_READONLY);
}

static void test_orders(void **state)
{
    struct th *t = *state;
    setup_data(t);
    RUN(t, "-ERR One or more scores can't be converted into double\r\n", "SORT", "z");
    RUN(t, "*6\r\n$2\r\n10\r\n$3\r\n2.5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$2\r\nx1\r\n", "SORT",
        "z", "ALPHA");
    RUN(t, "*6\r\n$2\r\nx1\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$3\r\n2.5\r\n$2\r\n10\r\n", "SORT",
        "z", "alpha", "desc");
    /* nosort keeps the sorted set's order, reversed by DESC, windowed after */
    RUN(t, "*6\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$2\r\n10\r\n$3\r\n2.5\r\n$2\r\nx1\r\n", "SORT",
        "z", "BY", "nosort");
    RUN(t, "*2\r\n$3\r\n2.5\r\n$2\r\n10\r\n", "SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1",
        "2");
    /* a later BY with '*' does not undo an earlier one without */
    RUN(t, "*6\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$2\r\n10\r\n$3\r\n2.5\r\n$2\r\nx1\r\n", "SORT",
        "z", "BY", "nosort", "BY", "w_*");
    /* BY weights: missing ones are 0, ties ordered by the element */
    RUN(t, "*6\r\n$2\r\nx1\r\n$3\r\n2.5\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$2\r\n10\r\n", "SORT",
        "z", "BY", "w_*");
    RUN(t, "*6\r\n$2\r\n10\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$3\r\n2.5\r\n$2\r\nx1\r\n", "SORT",
        "z", "BY", "w_*", "DESC");
    /* ALPHA BY: a missing value sorts first */
    RUN(t, "*6\r\n$3\r\n2.5\r\n$2\r\nx1\r\n$1\r\nc\r\n$2\r\n10\r\n$1\r\nb\r\n$1\r\na\r\n", "SORT",
        "z", "BY", "w_*", "ALPHA");
    /* GET # and GET pattern; missing values are nil */
    RUN(t,
        "*12\r\n$2\r\nx1\r\n$-1\r\n$3\r\n2.5\r\n$-1\r\n$1\r\nc\r\n$-1\r\n$1\r\nb\r\n$1\r\nB\r\n"
        "$1\r\na\r\n$1\r\nA\r\n$2\r\n10\r\n$3\r\nten\r\n",
        "SORT", "z", "BY", "w_*", "GET", "#", "GET", "o_*");
    t->sess.resp = 3;
    RUN(t, "*2\r\n$1\r\nA\r\n_\r\n", "SORT_RO", "z", "BY", "nosort", "GET", "o_*", "GET", "o_*->f",
        "LIMIT", "0", "1");
    t->sess.resp = 2;
    /* numbers */
    th_run(t, "ZADD", "n", "1", "3", "2", "1", "3", "2", "4", "1.5", "5", "-7", "6", "1e3", "7",
           "inf", NULL);
    RUN(t,
        "*7\r\n$2\r\n-7\r\n$1\r\n1\r\n$3\r\n1.5\r\n$1\r\n2\r\n$1\r\n3\r\n$3\r\n1e3\r\n$"
        "3\r\ninf\r\n",
        "SORT", "n");
    RUN(t, "*2\r\n$3\r\n1e3\r\n$3\r\ninf\r\n", "SORT", "n", "LIMIT", "5", "9223372036854775807");
    RUN(t, "*2\r\n$2\r\n-7\r\n$1\r\n1\r\n", "SORT", "n", "LIMIT", "-5", "2");
    RUN(t, "*0\r\n", "SORT", "n", "LIMIT", "0", "0");
    RUN(t, "*0\r\n", "SORT", "n", "LIMIT", "7", "1");
    /* weights parse as strtod does: a leading space is fine, a trailing one is not */
    RUN(t, "+OK\r\n", "SET", "w_x1", " 5");
    RUN(t, "*6\r\n$3\r\n2.5\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$2\r\nx1\r\n$2\r\n10\r\n", "SORT",
        "z", "BY", "w_*");
    RUN(t, "+OK\r\n", "SET", "w_x1", "5 ");
    RUN(t, "-ERR One or more scores can't be converted into double\r\n", "SORT", "z", "BY", "w_*");
    RUN(t, "+OK\r\n", "SET", "w_x1", ""); /* "" is 0: a tie with 2.5, ordered by the element */
    RUN(t, "*6\r\n$3\r\n2.5\r\n$2\r\nx1\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$2\r\n10\r\n", "SORT",
        "z", "BY", "w_*");
}

static void test_errors(void **state)
{
    struct th *t = *state;
    setup_data(t);
    RUN(t, "-ERR syntax error\r\n", "SORT", "z", "LIMIT", "1");
    RUN(t, "-ERR value is not an integer or out of range\r\n", "SORT", "z", "LIMIT", "a", "2");
    RUN(t, "-ERR syntax error\r\n", "SORT", "z", "STORE");
    RUN(t, "-ERR syntax error\r\n", "SORT", "z", "BOGUS");
    RUN(t, "-ERR syntax error\r\n", "SORT_RO", "z", "STORE", "d");
    RUN(t, "-ERR syntax error\r\n", "SORT", "z", "GET");
    RUN(t, "*0\r\n", "SORT", "missing");
    RUN(t, "+OK\r\n", "SET", "s", "x");
    RUN(t, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "SORT", "s");
    RUN(t, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "SORT_RO",
        "s");
    RUN(t, "-ERR wrong number of arguments for 'sort' command\r\n", "SORT");
}

/* STORE: an empty result deletes the destination (logged as DEL); a
 * non-empty one needs the list type. Plain SORT logs nothing. */
static void test_store(void **state)
{
    struct th *t = *state;
    setup_data(t);
    effects_reset(&t->eng.eff);
    th_run(t, "SORT", "z", "ALPHA", NULL);
    th_run(t, "SORT_RO", "z", "ALPHA", NULL);
    assert_int_equal(t->eng.eff.n, 0);
    RUN(t, ":0\r\n", "SORT", "missing", "STORE", "d");
    assert_int_equal(t->eng.eff.n, 0);
    RUN(t, "+OK\r\n", "SET", "d", "old");
    effects_reset(&t->eng.eff);
    RUN(t, ":0\r\n", "SORT", "z", "ALPHA", "LIMIT", "0", "0", "STORE", "d");
    RUN(t, ":0\r\n", "EXISTS", "d");
    assert_int_equal(t->eng.eff.n, 1);
    const struct cmd_def *push = cmd_lookup("rpush", 5);
    if (!push || !push->fn) {
        RUN(t, "-ERR SORT STORE needs the list type, which this build lacks\r\n", "SORT", "z",
            "ALPHA", "STORE", "d");
        RUN(t, ":0\r\n", "EXISTS", "d");
        return;
    }
    /* with lists: the result replaces the key and drops its TTL */
    RUN(t, "+OK\r\n", "SET", "d", "old");
    RUN(t, ":1\r\n", "EXPIRE", "d", "100");
    effects_reset(&t->eng.eff);
    RUN(t, ":4\r\n", "SORT", "z", "BY", "w_*", "GET", "o_*", "LIMIT", "2", "4", "STORE", "d");
    RUN(t, "*4\r\n$0\r\n\r\n$1\r\nB\r\n$1\r\nA\r\n$3\r\nten\r\n", "LRANGE", "d", "0", "-1");
    RUN(t, ":-1\r\n", "TTL", "d");
    assert_int_equal(t->eng.eff.n, 2); /* DEL d, RPUSH d ... */
    assert_int_equal(t->missing_rewrites, 0);
    /* the source may be the destination */
    RUN(t, ":6\r\n", "SORT", "z", "ALPHA", "STORE", "z");
    RUN(t, "+list\r\n", "TYPE", "z");
    RUN(t, "*3\r\n$2\r\n10\r\n$3\r\n2.5\r\n$1\r\na\r\n", "SORT", "z", "ALPHA", "LIMIT", "0", "3");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_table, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_orders, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_errors, th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_store, th_setup, th_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
