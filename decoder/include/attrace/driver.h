/*
 * attrace/driver.h - the module driver: talks AT to a live module over one
 * serial port (the serial layer, decoder/serial/serial.h) for the live
 * commands (`attrace cert`, `attrace replay`) and attrace-provision.
 *
 * It sends a command line, reads the module's answer THROUGH the decoder
 * core's at_session (the same classification, pairing and frame decoding
 * `attrace decode` uses: there is no second AT reader), waits for the final
 * result with a timeout, sends a secure-command frame (or ^SISW payload)
 * when the module asks for it, and returns the exchange with its SECURE CMD
 * result. Every session event also goes to an at_analyzer, so a live
 * command reports the diagnosis findings of the same rules as a decoded
 * trace, and to the caller's callback (to render it as `attrace decode`
 * does). With a trace path the whole session is recorded in the trace
 * format (TRACE-FORMAT.md) as it happens.
 *
 * Success of a secure command is SECURE CMD END OK followed by OK; a module
 * may answer OK after SECURE CMD ERROR (a BGS2 in the field did): that is a
 * failure, and at_driver_reply_ok() says so.
 *
 * One driver is used by one thread; drivers share nothing, so several run
 * in parallel on several ports.
 */
#ifndef ATTRACE_DRIVER_H
#define ATTRACE_DRIVER_H

#include "attrace/analysis.h"
#include "attrace/session.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** How to talk to the port. Start from at_driver_default_config(). */
typedef struct at_driver_config {
    uint32_t baud;              /**< default 115200 (8N1) */
    bool rtscts;                /**< RTS/CTS flow control (default none) */
    bool crlf;                  /**< CR LF after commands (default CR) */
    uint32_t timeout_ms;        /**< final result of a command (default 5000) */
    uint32_t secure_timeout_ms; /**< SECURE CMD result after a frame (default 15000,
                                     above a module's service timeout) */
    uint32_t gap_ms;            /**< the least time between a final result and the
                                     next command (default 100, PROTOCOL.md 10: a
                                     module may not take a command sooner) */
    const at_profile *profile;  /**< module family for the session and the
                                     analyzer; NULL = the analyzer guesses */
    const uint8_t *client_cert_der; /**< the signing certificate when the session
                                         does not write it: DER, read only by
                                         at_driver_open; or NULL */
    size_t client_cert_len;     /**< bytes at client_cert_der */
    const char *trace_path;     /**< record the session here (0600), or NULL */
    const char *trace_note;     /**< first note of the trace, e.g. the command line */
    uint16_t channel;           /**< channel number of the session and its records */
    /** Every session event, after the analyzer has seen it (findings it
     *  completed were delivered to on_finding just before). May be NULL. */
    at_event_cb on_event;
    at_finding_cb on_finding;   /**< the analyzer's findings; may be NULL */
    void *ctx;                  /**< for both callbacks */
} at_driver_config;

/** How an exchange ended. */
typedef enum at_driver_status {
    AT_DRV_DONE = 0,     /**< the module gave a final result */
    AT_DRV_TIMEOUT,      /**< no final result within the timeout */
    AT_DRV_PORT_LOST,    /**< the port failed or hung up */
    AT_DRV_TRACE_FAILED  /**< the trace could not be written (the exchange is cut) */
} at_driver_status;

#define AT_DRIVER_TEXT_MAX 512u

/** One exchange as the session saw it. */
typedef struct at_driver_reply {
    at_driver_status status;
    uint32_t exchange;           /**< the session's exchange id (0 = none began) */
    bool secure_cmd;             /**< the command was AT^SBNW (a secure command) */
    bool echoed;                 /**< the module echoed the command */
    bool ready;                  /**< SECURE CMD READY (or the ^SISW prompt) arrived */
    bool payload_sent;           /**< the frame / payload went out */
    at_secure_result secure;     /**< the SECURE CMD result, AT_SEC_NONE if none */
    char secure_text[AT_DRIVER_TEXT_MAX];
    bool has_final;
    at_result_kind final;        /**< valid if has_final */
    char final_text[AT_DRIVER_TEXT_MAX];
    size_t n_lines;              /**< information responses, in order */
    char **lines;                /**< NUL-terminated, owned by the reply */
    char imei[16];               /**< the IMEI line of AT+CGSN / AT+GSN, or "" */
    uint8_t *frame_cert;         /**< the certificate unit of the module's response
                                      frame (the answer to a READ), owned, or NULL */
    size_t frame_cert_len;
    uint8_t *data;               /**< ^SISR payload bytes received, owned */
    size_t data_len;
    uint64_t bytes_in;           /**< bytes the module sent during the exchange */
    uint64_t ts_start, ts_end;   /**< CLOCK_REALTIME ns: command sent, final result */
    bool lines_dropped;          /**< out of memory: lines were not kept */
} at_driver_reply;

typedef struct at_driver at_driver;

/** 115200, no flow control, CR, 5000 / 15000 ms, gap 100 ms, no trace,
 *  channel 0. */
at_driver_config at_driver_default_config(void);

/**
 * Opens @p port (PTY, /dev/tty*, or a libserialport name) with @p cfg
 * (copied; strings and the certificate are borrowed). NULL on failure with
 * a message naming the port in @p err: no such port, busy (another program
 * holds it), not a serial port, the trace cannot be created.
 */
at_driver *at_driver_open(const char *port, const at_driver_config *cfg, char *err,
                          size_t err_cap);

/**
 * Sends @p line exactly as given (its terminator included) and waits for
 * the final result. If @p payload is not NULL its @p payload_len bytes are
 * sent when the module asks for them (SECURE CMD READY, or the ^SISW
 * prompt of AT^SISW). @p timeout_ms 0 = the configured one (with a payload
 * the secure timeout applies after it is sent). Fills @p r (free it with
 * at_driver_reply_free); returns 0 when the module gave a final result, -1
 * otherwise (r->status says why; at_driver_error() has a message saying
 * what was sent).
 */
int at_driver_send(at_driver *d, const uint8_t *line, size_t line_len,
                   const uint8_t *payload, size_t payload_len, uint32_t timeout_ms,
                   at_driver_reply *r);

/** @p cmd and the configured line end; at_driver_send without payload. */
int at_driver_command(at_driver *d, const char *cmd, at_driver_reply *r);

/**
 * A secure command: @p cmd (e.g. "AT^SBNW=is_cert,1") with CR LF, as the
 * vendor tool ends it, and @p frame at SECURE CMD READY.
 */
int at_driver_secure(at_driver *d, const char *cmd, const uint8_t *frame, size_t len,
                     at_driver_reply *r);

/**
 * Waits up to @p timeout_ms for a URC whose text begins with @p prefix
 * (URCs that arrived since the last wait are looked at first; earlier
 * ones are passed over). 0 with the line in @p out, -1 on timeout or a
 * lost port.
 */
int at_driver_wait_urc(at_driver *d, const char *prefix, char *out, size_t cap,
                       uint32_t timeout_ms);

/** Reads and decodes whatever arrives for @p ms (no command): lets late
 *  bytes into the session and the trace. 0, or -1 if the port is lost. */
int at_driver_drain(at_driver *d, uint32_t ms);

/**
 * Leaves data mode (a transparent connection, a dial-up call): @p guard_ms
 * of silence, the escape "+++", then up to @p guard_ms + @p wait_ms for the
 * module's result (it answers OK once the line stayed quiet for its guard
 * time; NO CARRIER if the connection ended). A CR follows either way, so
 * that the pluses do not run into the next command line. Returns 1 when
 * the module answered (it was in data mode), 0 when it did not (in command
 * mode a module ignores the pluses), -1 if the port is lost.
 */
int at_driver_escape(at_driver *d, uint32_t guard_ms, uint32_t wait_ms);

/** Writes a note record into the trace (no-op without one). */
void at_driver_note(at_driver *d, const char *text);

/**
 * Applies one session event of @p r's exchange to @p r (the driver does it
 * for every event of the exchange it drives). AT_EV_COMMAND starts it;
 * AT_EV_END completes it. To compare two answers, build at_xrec records
 * from the same events instead (attrace/compare.h).
 */
void at_driver_reply_event(at_driver_reply *r, const at_event *ev);

/** True for a final OK, and for a secure command also SECURE CMD END OK. */
bool at_driver_reply_ok(const at_driver_reply *r);

/** Frees what @p r holds (lines, data, frame certificate) and leaves it
 * empty, ready for the next exchange. */
void at_driver_reply_free(at_driver_reply *r);

/** The last failure's message (names the port and what was sent). */
const char *at_driver_error(const at_driver *d);

/** The analyzer fed with this session (its model: IMEI, store, profile). */
at_analyzer *at_driver_analyzer(at_driver *d);

/**
 * Ends the session (open exchanges end, the analyzer's pending findings are
 * delivered), finishes the trace and closes the port. Returns 0, or -1 if
 * the trace could not be completed (message in @p err, may be NULL).
 */
int at_driver_close(at_driver *d, char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif
#endif
