/*
 * test_util.c - number parsing/formatting with Redis's acceptance rules and
 * glob matching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "engine/util.h"

static bool ll(const char *s, long long *v)
{
    return util_str2ll(s, strlen(s), v);
}

static void test_str2ll(void **state)
{
    (void)state;
    long long v;
    assert_true(ll("0", &v) && v == 0);
    assert_true(ll("-1", &v) && v == -1);
    assert_true(ll("9223372036854775807", &v) && v == LLONG_MAX);
    assert_true(ll("-9223372036854775808", &v) && v == LLONG_MIN);
    assert_false(ll("9223372036854775808", &v));
    assert_false(ll("-9223372036854775809", &v));
    assert_false(ll("", &v));
    assert_false(ll("-", &v));
    assert_false(ll("-0", &v));
    assert_false(ll("01", &v));
    assert_false(ll("+1", &v));
    assert_false(ll(" 1", &v));
    assert_false(ll("1 ", &v));
    assert_false(ll("1.0", &v));
    assert_false(ll("99999999999999999999999", &v));
}

static void test_ll2str(void **state)
{
    (void)state;
    char b[UTIL_LLSTR_SIZE];
    assert_int_equal(util_ll2str(b, 0), 1);
    assert_string_equal(b, "0");
    util_ll2str(b, LLONG_MIN);
    assert_string_equal(b, "-9223372036854775808");
    util_ll2str(b, LLONG_MAX);
    assert_string_equal(b, "9223372036854775807");
    util_ll2str(b, -42);
    assert_string_equal(b, "-42");
    /* every length, at both ends of it, against snprintf */
    unsigned long long p10 = 1;
    for (int d = 1; d <= 20; d++) {
        unsigned long long cases[] = {p10, p10 + 1, p10 * 10 - 1, p10 * 5 + 7};
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            unsigned long long v = d == 20 && i >= 2 ? ULLONG_MAX - i : cases[i];
            char want[32];
            int wl = snprintf(want, sizeof(want), "%llu", v);
            assert_int_equal(util_ull2str(b, v), wl);
            assert_string_equal(b, want);
            if (v <= (unsigned long long)LLONG_MAX) {
                wl = snprintf(want, sizeof(want), "%lld", -(long long)v);
                assert_int_equal(util_ll2str(b, -(long long)v), wl);
                assert_string_equal(b, want);
            }
        }
        if (d < 20) p10 *= 10;
    }
    assert_int_equal(util_ull2str(b, ULLONG_MAX), 20);
    assert_string_equal(b, "18446744073709551615");
}

static void test_long_double(void **state)
{
    (void)state;
    long double v;
    char b[128];
    assert_true(util_str2ld("10.5", 4, &v));
    util_ld2str(b, sizeof(b), v + 0.1L);
    assert_string_equal(b, "10.6");
    assert_true(util_str2ld("5.0e3", 5, &v));
    util_ld2str(b, sizeof(b), v);
    assert_string_equal(b, "5000");
    assert_false(util_str2ld(" 1", 2, &v));
    assert_false(util_str2ld("nan", 3, &v));
    assert_false(util_str2ld("1x", 2, &v));
    assert_false(util_str2ld("", 0, &v));
    util_ld2str(b, sizeof(b), -0.0L);
    assert_string_equal(b, "0");
}

static void test_double(void **state)
{
    (void)state;
    double d;
    char b[64];
    assert_true(util_str2d("inf", 3, &d));
    assert_true(util_str2d("-1.5", 4, &d) && d == -1.5);
    assert_false(util_str2d("nan", 3, &d));
    assert_false(util_str2d("1.5 ", 4, &d));
    util_d2str(b, sizeof(b), 1.0);
    assert_string_equal(b, "1");
    util_d2str(b, sizeof(b), 1.1);
    assert_string_equal(b, "1.1000000000000001");
    util_d2str(b, sizeof(b), -1.0 / 0.0);
    assert_string_equal(b, "-inf");
}

static bool gm(const char *p, const char *s)
{
    return util_glob_match(p, strlen(p), s, strlen(s), false);
}

static void test_glob(void **state)
{
    (void)state;
    assert_true(gm("*", ""));
    assert_true(gm("*", "anything"));
    assert_true(gm("h?llo", "hello"));
    assert_false(gm("h?llo", "hllo"));
    assert_true(gm("h*llo", "heeeello"));
    assert_true(gm("h[ae]llo", "hallo"));
    assert_false(gm("h[ae]llo", "hillo"));
    assert_true(gm("h[^e]llo", "hallo"));
    assert_false(gm("h[^e]llo", "hello"));
    assert_true(gm("h[a-b]llo", "hbllo"));
    assert_true(gm("h[b-a]llo", "hallo"));
    assert_true(gm("h\\*llo", "h*llo"));
    assert_false(gm("h\\*llo", "hello"));
    assert_true(gm("*a*b*c*", "xxaxxbxxcxx"));
    assert_false(gm("*a*b*c*", "xxaxxcxxbxx"));
    assert_true(gm("user:*:name", "user:42:name"));
    assert_true(util_glob_match("HELLO", 5, "hello", 5, true));
    assert_false(gm("a", "ab"));
    assert_false(gm("ab", "a"));
    /* pathological pattern finishes quickly (no exponential backtracking) */
    char s[200];
    memset(s, 'a', sizeof(s));
    assert_false(util_glob_match("*a*a*a*a*a*a*a*a*a*b", 20, s, sizeof(s), false));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_str2ll),      cmocka_unit_test(test_ll2str),
        cmocka_unit_test(test_long_double), cmocka_unit_test(test_double),
        cmocka_unit_test(test_glob),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
