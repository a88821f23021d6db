/*
 * clock.c - the wall and monotonic clocks (clock.h).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "clock.h"

#include <time.h>

static uint64_t ns_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t at_clock_real_ns(void)
{
    return ns_of(CLOCK_REALTIME);
}

uint64_t at_clock_mono_ns(void)
{
    return ns_of(CLOCK_MONOTONIC);
}

int64_t at_clock_mono_ms(void)
{
    return (int64_t)(ns_of(CLOCK_MONOTONIC) / 1000000u);
}
