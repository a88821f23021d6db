/*
 * The capture model of the benchmark input generator
 * (tests/bench/gen_bench_trace.c). (The samples are real sessions against
 * attrace-sim now: samples/regenerate.sh.)
 *
 * It writes what a tap on a 115200 baud 8N1 UART would record while a host
 * talks AT commands to a module: every byte takes 10 bit times on the line,
 * the capture host reads each direction in chunks of 1..max_chunk bytes
 * (each read returning shortly after its last byte arrived), the module
 * echoes command lines and answers after a few milliseconds, and the host
 * pauses about 100 ms between commands. Records are queued per exchange,
 * sorted by time and then written with at_trace_write, so the file is in
 * time order while memory stays bounded by one exchange.
 *
 * Everything random comes from one seeded SplitMix64 stream per capture, and
 * the calls below draw from it in a fixed order: the same script and seed
 * give a byte-identical file. The committed samples and the benchmark's
 * seeded output depend on that order, so a change here that draws more,
 * fewer or differently ordered numbers changes both.
 */
#ifndef ATTRACE_CAPTURE_MODEL_H
#define ATTRACE_CAPTURE_MODEL_H

#include "attrace/trace.h"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* Program support                                                    */
/* ------------------------------------------------------------------ */

/*
 * The generator's name, which prefixes die()'s messages. Each program
 * linking this module defines it (a missing definition fails at link time
 * rather than printing a wrong name).
 */
extern const char gen_program_name[];

/* Lets gcc and clang check the format strings of die() and buf_addf(). */
#if defined(__GNUC__)
#define GEN_PRINTF(fmt_arg, first_arg) \
    __attribute__((format(printf, fmt_arg, first_arg)))
#else
#define GEN_PRINTF(fmt_arg, first_arg)
#endif

/* Prints "NAME: message" to stderr and exits with status 1. */
_Noreturn void die(const char *fmt, ...) GEN_PRINTF(1, 2);

/* realloc that dies instead of failing (and never asks for 0 bytes). */
void *xrealloc(void *p, size_t n);

/* A growable byte string, always NUL-terminated so it can serve as text. */
typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

void buf_add(buf *b, const void *data, size_t n);
void buf_addf(buf *b, const char *fmt, ...) GEN_PRINTF(2, 3);
/* Appends @p n bytes as uppercase hex digits, two per byte. */
void buf_add_hex(buf *b, const void *data, size_t n);
void buf_free(buf *b);

/* ------------------------------------------------------------------ */
/* Deterministic PRNG (SplitMix64)                                    */
/* ------------------------------------------------------------------ */

uint64_t rng_next(uint64_t *state);
/* Uniform enough in [lo, hi] for a traffic model. */
uint64_t rng_range(uint64_t *state, uint64_t lo, uint64_t hi);

/* ------------------------------------------------------------------ */
/* The line                                                           */
/* ------------------------------------------------------------------ */

#define BAUD 115200u
#define BITS_PER_BYTE 10u /* 8N1: start bit, 8 data bits, stop bit */
#define NS_PER_US UINT64_C(1000)
#define NS_PER_MS UINT64_C(1000000)
#define NS_PER_S UINT64_C(1000000000)
/* Where both generators' captures begin: 2026-11-02T09:00:00Z. */
#define START_TS (UINT64_C(1793610000) * NS_PER_S)
/* Hardware flow control and modem lines as a tap sees a running module. */
#define LINE_STATE (AT_LINE_RTS | AT_LINE_CTS | AT_LINE_DTR | AT_LINE_DSR)

/* Time for @p n bytes on the line. */
uint64_t byte_time(uint64_t n);

/* ------------------------------------------------------------------ */
/* The capture                                                        */
/* ------------------------------------------------------------------ */

/* A record queued for the next capture_flush (payload kept in the pool). */
typedef struct pending {
    uint64_t ts;
    uint64_t seq; /* queueing order: breaks ties between equal timestamps */
    at_dir dir;
    at_trace_event event;
    size_t off, len; /* payload, in capture.pool */
} pending;

typedef struct capture {
    at_trace_writer *w;
    uint64_t rng;
    size_t max_chunk;      /* the largest read the capture host returns */
    uint64_t line_free[2]; /* when the last byte queued per direction arrives */
    uint64_t last_ts[2];   /* last record timestamp per direction */
    pending *recs;
    size_t n_recs, cap_recs;
    uint64_t seq;
    buf pool;
    /* Totals written so far (the benchmark sizes its output by them). */
    uint64_t records, payload_bytes;
} capture;

/*
 * Starts a capture into @p path (created or truncated) whose PRNG starts
 * at @p seed and whose reads return at most @p max_chunk bytes. Dies on
 * failure.
 */
void capture_open(capture *c, const char *path, uint64_t seed, size_t max_chunk);

/* Writes what is still queued, finishes the file and frees the queue. The
 * totals stay readable. Dies on failure. */
void capture_close(capture *c);

/* Writes the queued records in time order (queueing order on ties). */
void capture_flush(capture *c);

/* Queues the notes a capture tool writes when it starts capturing at @p ts:
 * "capture start" and the line settings. */
void capture_note_start(capture *c, uint64_t ts);

/* Queues the "capture stop" note. */
void capture_note_stop(capture *c, uint64_t ts);

/*
 * Puts @p len bytes on the line in direction @p dir, the first starting at
 * @p start (or when the line is free). Queues one record per read of the
 * capture host. Returns the arrival time of the last byte.
 */
uint64_t line_send(capture *c, at_dir dir, const void *data, size_t len,
                   uint64_t start);

/* The host's pause after a final result before its next command. */
uint64_t next_command_time(capture *c, uint64_t result_end);

/*
 * One command: the host sends @p cmdline, the module echoes it up to and
 * including its CR (echo starts as the first byte arrives) and answers
 * @p resp after @p lo_ms..@p hi_ms. Flushes, and returns when the host may
 * send the next command.
 */
uint64_t command(capture *c, uint64_t t, const char *cmdline, const void *resp,
                 size_t resp_len, unsigned lo_ms, unsigned hi_ms);

/* command() with a text response. */
uint64_t command_text(capture *c, uint64_t t, const char *cmdline,
                      const char *resp, unsigned lo_ms, unsigned hi_ms);

/* A URC while the line is idle; flushes and returns when it has arrived. */
uint64_t urc(capture *c, uint64_t t, const char *text);

/*
 * The secure-command exchange of PROTOCOL.md section 2, sent the way the
 * vendor tool does (command line ends in CR LF, frame written at once after
 * READY). @p result is everything the module prints after the frame (result
 * string and final result), @p lo_ms..@p hi_ms after the frame's last byte.
 * Flushes, and returns when the host may send the next command.
 */
uint64_t secure_command(capture *c, uint64_t t, const uint8_t *frame,
                        size_t frame_len, const char *result, unsigned lo_ms,
                        unsigned hi_ms);

#endif
