/*
 * timefmt.c - the times every renderer prints (cli.h): clock, date,
 * ISO-8601, relative and duration forms of a record's nanosecond UTC
 * timestamp.
 */
#define _GNU_SOURCE /* gmtime_r */

#include "cli.h"

#include <string.h>
#include <time.h>

static struct tm utc_tm(uint64_t ts_ns)
{
    time_t secs = (time_t)(ts_ns / 1000000000u);
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        memset(&tm, 0, sizeof tm);
    return tm;
}

/* These formatters run for every element printed: they write digits
 * directly rather than through snprintf and gmtime. */
static char *put_fixed(char *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

static char *put_uint(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

void cli_fmt_clock(uint64_t ts_ns, char *buf, size_t cap)
{
    if (cap < 16) {
        if (cap)
            buf[0] = 0;
        return;
    }
    uint64_t sec = ts_ns / 1000000000u % 86400u;
    char *p = put_fixed(buf, sec / 3600, 2);
    *p++ = ':';
    p = put_fixed(p, sec / 60 % 60, 2);
    *p++ = ':';
    p = put_fixed(p, sec % 60, 2);
    *p++ = '.';
    p = put_fixed(p, ts_ns % 1000000000u / 1000u, 6);
    *p = 0;
}

void cli_fmt_date(uint64_t ts_ns, char *buf, size_t cap)
{
    struct tm tm = utc_tm(ts_ns);
    snprintf(buf, cap, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday);
}

void cli_fmt_iso(uint64_t ts_ns, char *buf, size_t cap)
{
    struct tm tm = utc_tm(ts_ns);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%09uZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (unsigned)(ts_ns % 1000000000u));
}

void cli_fmt_rel(int64_t delta_ns, char *buf, size_t cap)
{
    if (cap < 29) {
        if (cap)
            buf[0] = 0;
        return;
    }
    uint64_t d = (uint64_t)delta_ns;
    char *p = buf;
    *p++ = delta_ns < 0 ? '-' : '+';
    if (delta_ns < 0)
        d = (uint64_t)0 - d;
    p = put_uint(p, d / 1000000000u);
    *p++ = '.';
    p = put_fixed(p, d % 1000000000u / 1000u, 6);
    *p = 0;
}

void cli_fmt_offset_ms(int64_t delta_ns, char *buf, size_t cap)
{
    if (cap < 28) {
        if (cap)
            buf[0] = 0;
        return;
    }
    uint64_t a = delta_ns < 0 ? (uint64_t)0 - (uint64_t)delta_ns : (uint64_t)delta_ns;
    char *p = buf;
    *p++ = delta_ns < 0 ? '-' : '+';
    p = put_uint(p, a / 1000000u);
    *p++ = '.';
    p = put_fixed(p, a % 1000000u / 1000u, 3);
    *p++ = 'm';
    *p++ = 's';
    *p = 0;
}

void cli_fmt_duration(uint64_t ns, char *buf, size_t cap)
{
    if (ns < 1000000000u)
        snprintf(buf, cap, "%llu.%03llu ms", (unsigned long long)(ns / 1000000u),
                 (unsigned long long)(ns % 1000000u / 1000u));
    else
        snprintf(buf, cap, "%llu.%06llu s", (unsigned long long)(ns / 1000000000u),
                 (unsigned long long)(ns % 1000000000u / 1000u));
}

int32_t cli_day(uint64_t ts_ns)
{
    return (int32_t)(ts_ns / 1000000000u / 86400u);
}

