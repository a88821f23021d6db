/*
 * capture.h - public API of libattrace_capture: recording live UART traffic
 * into a trace of ../shared/TRACE-FORMAT.md (issue 5).
 *
 * One call, at_capture_run(), does a whole capture: it opens the ports,
 * relays (proxy, exec) or only listens (tap), writes every read as a data
 * record timestamped on read (CLOCK_REALTIME, ns), and returns when asked
 * to stop, when the exec program ends, or on a fault. Front ends:
 * `attrace capture` (capture_cli.c) and `attrace-extcap` (extcap.c).
 *
 * Ports are opened through the serial layer (decoder/serial/serial.h):
 * line settings (at_serial_line), flow control names (at_serial_parse_flow).
 *
 * The library installs no signal handlers and never calls exit(); the
 * caller owns @p stop (set it from a SIGINT/SIGTERM handler installed
 * without SA_RESTART) and should ignore SIGPIPE (a closed FIFO or pipe) and
 * SIGXFSZ (a file-size limit): both then come back as write errors with a
 * message, and the trace written so far stays readable. In exec mode
 * it forks /bin/sh -c and reaps that child; the caller should not reap
 * children behind its back (no SIGCHLD = SIG_IGN).
 */
#ifndef ATTRACE_CAPTURE_H
#define ATTRACE_CAPTURE_H

#include "serial.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** How many channels (pairs) one capture can record. */
#define AT_CAPTURE_MAX_PAIRS 16

typedef enum at_capture_mode {
    AT_CAPTURE_PROXY = 0, /**< relay module <-> host (PTY or second port) */
    AT_CAPTURE_TAP,       /**< two receive-only ports: never written to */
    AT_CAPTURE_EXEC       /**< proxy with a PTY handed to a program ({}) */
} at_capture_mode;

/**
 * One channel; its index in at_capture_config.pairs is its channel number.
 *  - PROXY: @c module is the module's port; @c host is a second port for
 *    the host or NULL to create a PTY (its path is reported through
 *    on_host_ready and to @c log; @c link, if set, becomes a symlink to it;
 *    an existing symlink there is replaced, any other file refused).
 *  - TAP: @c module is the port listening to TE->ME (--tap-te), @c host the
 *    one listening to ME->TE (--tap-me); both required; @c link unused.
 *  - EXEC: one pair only; @c module as in PROXY, @c host must be NULL (the
 *    PTY is the program's), @c link optional.
 */
typedef struct at_capture_pair {
    const char *module;
    const char *host;
    const char *link;
} at_capture_pair;

/** Everything a capture needs; start from at_capture_default_config(). */
typedef struct at_capture_config {
    at_capture_mode mode;
    const at_capture_pair *pairs;
    size_t n_pairs;            /**< 1..AT_CAPTURE_MAX_PAIRS */
    at_serial_line line;      /**< default 115200 8N1, no flow control */

    /** EXEC: shell command (run by /bin/sh -c); every "{}" is replaced by
     * the PTY path (not quoted: PTY paths hold no shell metacharacters). */
    const char *exec_cmd;

    /** Output: @c out_stream if not NULL (not closed; "name" in messages is
     * @c out_path or "stream"), else @c out_path ("-" = standard output),
     * created with mode 0600. Rotation needs a path other than "-". */
    const char *out_path;
    FILE *out_stream;
    /** Rotation like tcpdump -C/-W: once a file holds more than
     * rotate_bytes (0 = never), the next file is opened: FILE, FILE1,
     * FILE2, ... With rotate_files N > 0 the names cycle FILE0..FILE(N-1)
     * (tcpdump's naming with -W), overwriting the oldest. */
    uint64_t rotate_bytes;
    unsigned rotate_files;

    /** When a module port is lost: false = note, close cleanly, return 1;
     * true = note, poll its path every 200 ms and resume into the same file
     * (note "reconnect"), until stopped. */
    bool reconnect;

    /** Messages (host PTY path, port lost, summary) and, unless @c quiet,
     * the live view (one line per completed exchange, with counters) go
     * to @c log; NULL = silent. */
    FILE *log;
    bool quiet;

    /** Called once per PTY created (PROXY without host port, EXEC), after
     * it is ready to be opened; may be NULL. */
    void (*on_host_ready)(void *ctx, unsigned channel, const char *pty_path);
    void *cb_ctx;
} at_capture_config;

/** Totals, filled by at_capture_run() (also on failure). */
typedef struct at_capture_stats {
    uint64_t records;          /**< records written (all files) */
    uint64_t bytes[2];         /**< data bytes per direction: [0] TE->ME, [1] ME->TE */
    uint64_t exchanges;        /**< completed exchanges (live decoder) */
    unsigned files;            /**< files written (rotation) */
    int exec_status;           /**< EXEC: exit status of the program (128+N
                                    if killed by signal N); -1 otherwise */
} at_capture_stats;

/** Fills @p cfg with defaults: PROXY, 115200 8N1 no flow, no rotation,
 * log = stderr, everything else zero/NULL. */
void at_capture_default_config(at_capture_config *cfg);

/** Result codes of at_capture_run(). */
enum {
    AT_CAPTURE_OK = 0,       /**< stopped (by @p stop, or the exec program
                                  ended); the file is complete */
    AT_CAPTURE_FAILED = 1,   /**< runtime fault (port lost, write error,
                                  open failed): message in @p err; whatever
                                  was written is a readable trace */
    AT_CAPTURE_BAD_CONFIG = 2 /**< the configuration is invalid: @p err */
};

/**
 * Runs one capture until *@p stop becomes non-zero (checked at least every
 * 100 ms), the exec program ends, or a fault. Records a settings event
 * per port and a "capture start" note at the start, a "capture stop"
 * note at the end; flushes at least every 100 ms and after each final
 * result. At the end every port is read until it is empty and what it
 * held is recorded (not relayed): at most 1 MiB per port and 1 s in all,
 * a port cut off there gets a note and a message to @p log. @p stop may
 * be NULL; @p stats may be NULL.
 */
int at_capture_run(const at_capture_config *cfg, volatile sig_atomic_t *stop,
                   at_capture_stats *stats, char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif
#endif
