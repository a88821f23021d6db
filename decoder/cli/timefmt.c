/*
 * timefmt.c - the times every renderer prints (cli.h): clock, date,
 * ISO-8601, relative and duration forms of a record's nanosecond UTC
 * timestamp; and the decimal digits they and the renderers are made of.
 */
#include "cli.h"
#include "digits.h"

#include <string.h>

/* The proleptic Gregorian date of a day count since 1970-01-01 (the
 * days-to-civil algorithm of Howard Hinnant's "chrono-compatible low-level
 * date algorithms"): what gmtime gives, without its locking and tm
 * fields, for every object of the JSON output. @p days is below 2^38. */
static void civil_from_days(uint64_t days, uint64_t *year, unsigned *month, unsigned *day)
{
    uint64_t z = days + 719468;            /* days since 0000-03-01 */
    uint64_t era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);                       /* [0, 146096] */
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);           /* [0, 365] */
    unsigned mp = (5 * doy + 2) / 153;                                 /* March = 0 */
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = yoe + era * 400 + (*month <= 2);
}

/* Whether @p buf has room for @p need bytes; when not, it is made empty. */
static bool room(char *buf, size_t cap, size_t need)
{
    if (cap >= need)
        return true;
    if (cap)
        buf[0] = 0;
    return false;
}

/* HH:MM:SS.F at @p p, F the fraction of the second to @p digits digits
 * (6: microseconds, 9: nanoseconds). */
static char *put_time_of_day(char *p, uint64_t ts_ns, int digits)
{
    static const uint32_t div[] = {1000000000u, 100000000u, 10000000u, 1000000u, 100000u,
                                   10000u, 1000u, 100u, 10u, 1u};
    uint64_t sec = ts_ns / 1000000000u % 86400u;
    p = cli_put_fixed(p, sec / 3600, 2);
    *p++ = ':';
    p = cli_put_fixed(p, sec / 60 % 60, 2);
    *p++ = ':';
    p = cli_put_fixed(p, sec % 60, 2);
    *p++ = '.';
    return cli_put_fixed(p, ts_ns % 1000000000u / div[digits], digits);
}

size_t cli_fmt_clock(uint64_t ts_ns, char *buf, size_t cap)
{
    if (!room(buf, cap, 16))
        return 0;
    char *end = put_time_of_day(buf, ts_ns, 6);
    *end = 0;
    return (size_t)(end - buf);
}

/* YYYY-MM-DD at @p p (a year past 9999 in as many digits as it has). */
static char *put_date(char *p, uint64_t ts_ns)
{
    uint64_t year;
    unsigned month, day;
    civil_from_days(ts_ns / 1000000000u / 86400u, &year, &month, &day);
    p = year > 9999 ? cli_put_uint(p, year) : cli_put_fixed(p, year, 4);
    *p++ = '-';
    p = cli_put_fixed(p, month, 2);
    *p++ = '-';
    return cli_put_fixed(p, day, 2);
}

void cli_fmt_date(uint64_t ts_ns, char *buf, size_t cap)
{
    if (room(buf, cap, 40))
        *put_date(buf, ts_ns) = 0;
}

void cli_fmt_iso(uint64_t ts_ns, char *buf, size_t cap)
{
    if (!room(buf, cap, 40))
        return;
    char *p = put_date(buf, ts_ns);
    *p++ = 'T';
    p = put_time_of_day(p, ts_ns, 9);
    *p++ = 'Z';
    *p = 0;
}

/* "+W.F" or "-W.F" of |@p delta_ns|: W whole units of @p unit ns, F the
 * rest in microseconds to @p digits digits, then @p suffix; returns the
 * end (no NUL written). */
static inline char *fmt_signed(int64_t delta_ns, uint64_t unit, int digits, char *p,
                        const char *suffix, size_t suffix_len)
{
    uint64_t a = delta_ns < 0 ? (uint64_t)0 - (uint64_t)delta_ns : (uint64_t)delta_ns;
    *p++ = delta_ns < 0 ? '-' : '+';
    p = cli_put_uint(p, a / unit);
    *p++ = '.';
    p = cli_put_fixed(p, a % unit / 1000u, digits);
    memcpy(p, suffix, suffix_len);
    return p + suffix_len;
}

size_t cli_fmt_rel(int64_t delta_ns, char *buf, size_t cap)
{
    if (!room(buf, cap, 29))
        return 0;
    char *end = fmt_signed(delta_ns, 1000000000u, 6, buf, "", 0);
    *end = 0;
    return (size_t)(end - buf);
}

size_t cli_fmt_offset_ms(int64_t delta_ns, char *buf, size_t cap)
{
    if (!room(buf, cap, 28))
        return 0;
    char *end = fmt_signed(delta_ns, 1000000u, 3, buf, "ms", 2);
    *end = 0;
    return (size_t)(end - buf);
}

void cli_fmt_duration(uint64_t ns, char *buf, size_t cap)
{
    if (!room(buf, cap, 40))
        return;
    char *p;
    if (ns < 1000000000u) {
        p = cli_put_uint(buf, ns / 1000000u);
        *p++ = '.';
        p = cli_put_fixed(p, ns % 1000000u / 1000u, 3);
        memcpy(p, " ms", 4);
    } else {
        p = cli_put_uint(buf, ns / 1000000000u);
        *p++ = '.';
        p = cli_put_fixed(p, ns % 1000000000u / 1000u, 6);
        memcpy(p, " s", 3);
    }
}

int32_t cli_day(uint64_t ts_ns)
{
    return (int32_t)(ts_ns / 1000000000u / 86400u);
}

