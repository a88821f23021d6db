/*
 * clock.h - the two clocks of the programs that talk to a port (driver,
 * capture, simulator): CLOCK_REALTIME stamps trace records (TRACE-FORMAT.md
 * time stamps are wall-clock), CLOCK_MONOTONIC measures timeouts and
 * pauses (a clock step must not cut or stretch them). Private to the
 * libraries; not installed.
 */
#ifndef ATTRACE_CLOCK_H
#define ATTRACE_CLOCK_H

#include <stdint.h>

/* Now, in ns since the epoch (CLOCK_REALTIME): a trace record's time. */
uint64_t at_clock_real_ns(void);

/* Monotonic time in ns (CLOCK_MONOTONIC). */
uint64_t at_clock_mono_ns(void);

/* Monotonic time in ms, signed so that deadlines subtract. */
int64_t at_clock_mono_ms(void);

#endif
