/*
 * Unit tests of the CLI's time formatters (decoder/cli/timefmt.c): the
 * dates and ISO-8601 times are gmtime's, for every kind of day (leap
 * years, century rules, month ends) and the extremes of the timestamp;
 * durations are printf's; relative times and the clock exact; decimal
 * numbers printf's.
 */
#define _GNU_SOURCE /* gmtime_r */

#include "cli.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static void check(uint64_t ts)
{
    time_t secs = (time_t)(ts / 1000000000u);
    struct tm tm;
    assert_non_null(gmtime_r(&secs, &tm));
    char want[64], got[64];
    snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(ts % 1000000000u));
    cli_fmt_iso(ts, got, sizeof got);
    assert_string_equal(got, want);
    want[strchr(want, 'T') - want] = 0;
    cli_fmt_date(ts, got, sizeof got);
    assert_string_equal(got, want);
}

static void test_iso_and_date(void **state)
{
    (void)state;
    static const uint64_t fixed[] = {
        0,
        999999999,
        951782400000000000u,  /* 2000-02-29 */
        951868800000000000u,  /* 2000-03-01 */
        4107542400000000000u, /* 2100-03-01 (2100 is no leap year) */
        1714568400123456789u,
        UINT64_MAX,           /* 2554-07-21 */
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check(fixed[i]);
    /* every day from 1970 to 2554, at a varying time of day */
    for (uint64_t day = 0; day < 213503; day++)
        check(day * 86400000000000u + (day * 7919u % 86400u) * 1000000000u + day);
}

/* "3.000 ms" below a second, "1.500000 s" from a second on. */
static void test_duration(void **state)
{
    (void)state;
    static const uint64_t ns[] = {0, 999, 1000, 1234567, 999999999, 1000000000,
                                  1500000000, 86400000000000u, UINT64_MAX};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        char want[64], got[64];
        uint64_t v = ns[i];
        if (v < 1000000000u)
            snprintf(want, sizeof want, "%llu.%03llu ms", (unsigned long long)(v / 1000000u),
                     (unsigned long long)(v % 1000000u / 1000u));
        else
            snprintf(want, sizeof want, "%llu.%06llu s", (unsigned long long)(v / 1000000000u),
                     (unsigned long long)(v % 1000000000u / 1000u));
        cli_fmt_duration(v, got, sizeof got);
        assert_string_equal(got, want);
    }
}

/* The clock, the offset in an exchange and the time since the first
 * record: their texts and the lengths they return. */
static void expect_len(size_t len, const char *got, const char *want)
{
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
}

static void test_relative_and_clock(void **state)
{
    (void)state;
    char b[40];
    expect_len(cli_fmt_offset_ms(0, b, sizeof b), b, "+0.000ms");
    expect_len(cli_fmt_offset_ms(1234567, b, sizeof b), b, "+1.234ms");
    expect_len(cli_fmt_offset_ms(-2500000, b, sizeof b), b, "-2.500ms");
    expect_len(cli_fmt_offset_ms(INT64_MIN, b, sizeof b), b, "-9223372036854.775ms");
    expect_len(cli_fmt_rel(303000000, b, sizeof b), b, "+0.303000");
    expect_len(cli_fmt_rel(-86400000000000, b, sizeof b), b, "-86400.000000");
    expect_len(cli_fmt_rel(INT64_MAX, b, sizeof b), b, "+9223372036.854775");
    expect_len(cli_fmt_clock(1714564800025000999u, b, sizeof b), b, "12:00:00.025000");
}

/* Decimal numbers as printf's "%llu" writes them, at every change of the
 * digit count, around 2^32 (where the digits are worked out in 64 bits)
 * and at the extremes. */
static void expect_uint(uint64_t v)
{
    char want[32], got[32];
    snprintf(want, sizeof want, "%llu", (unsigned long long)v);
    memset(got, 'x', sizeof got);
    char *end = cli_put_uint(got, v);
    assert_int_equal(end - got, strlen(want));
    *end = 0;
    assert_string_equal(got, want);
}

static void test_put_uint(void **state)
{
    (void)state;
    uint64_t p = 1;
    for (int k = 0; k < 20; k++) {
        expect_uint(p - 1);
        expect_uint(p);
        expect_uint(p + 1);
        expect_uint(p * 7 / 3);
        if (k < 19)
            p *= 10;
    }
    expect_uint(UINT32_MAX - 1);
    expect_uint(UINT32_MAX);
    expect_uint((uint64_t)UINT32_MAX + 1);
    expect_uint(UINT64_MAX);
    for (uint64_t v = 0; v < 100000; v++)
        expect_uint(v);
}

static void test_short_buffer(void **state)
{
    (void)state;
    char b[8] = "xxxxxxx";
    cli_fmt_iso(0, b, sizeof b);
    assert_string_equal(b, "");
    cli_fmt_date(0, b, sizeof b);
    assert_string_equal(b, "");
    assert_int_equal(cli_fmt_clock(0, b, sizeof b), 0);
    assert_string_equal(b, "");
    assert_int_equal(cli_fmt_offset_ms(0, b, sizeof b), 0);
    assert_string_equal(b, "");
    assert_int_equal(cli_fmt_rel(0, b, sizeof b), 0);
    assert_string_equal(b, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iso_and_date),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_relative_and_clock),
        cmocka_unit_test(test_put_uint),
        cmocka_unit_test(test_short_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
