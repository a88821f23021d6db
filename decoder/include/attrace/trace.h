/*
 * attrace/trace.h - reading and writing traces (../shared/TRACE-FORMAT.md)
 * with libpcap. This is the trace I/O layer, not part of the pure core.
 *
 * Files are classic pcap with nanosecond timestamps, link type 252
 * (LINKTYPE_WIRESHARK_UPPER_PDU): exported-PDU TLVs naming the dissector
 * "attrace" and the direction, then a 12-byte UART pseudo-header, then the
 * event payload. The reader also accepts LINKTYPE_RTAC_SERIAL (250) and
 * `text2pcap -D ... -P at` exports (252 without the pseudo-header).
 */
#ifndef ATTRACE_TRACE_H
#define ATTRACE_TRACE_H

#include "attrace/types.h"
#include "attrace/uart.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AT_TRACE_LINKTYPE_UPPER_PDU 252
#define AT_TRACE_LINKTYPE_RTAC_SERIAL 250
#define AT_TRACE_DISSECTOR_NAME "attrace"
#define AT_TRACE_SNAPLEN 262144u

/** One control line of a line state. */
typedef struct at_trace_line {
    uint16_t bit;          /**< AT_LINE_RTS, ... */
    const char *name;      /**< "RTS", "CTS", "DTR", "DSR", "DCD", "RI" */
    const char *key;       /**< the same in lower case, as JSON keys */
} at_trace_line;

/** The control lines (AT_LINE_UNKNOWN excluded), in that stable order. */
const at_trace_line *at_trace_lines(size_t *n);

/** One record, as read or to be written. */
typedef struct at_trace_record {
    uint64_t ts_ns;        /**< nanoseconds since the Unix epoch */
    at_dir dir;
    at_trace_event event;
    uint16_t channel;
    uint16_t line_state;   /**< AT_LINE_* bits (attrace/uart.h) */
    uint16_t flags;        /**< AT_TFLAG_* bits (attrace/uart.h) */
    uint32_t baud;         /**< 0 = unknown */
    const uint8_t *payload; /**< reader: valid until the next call */
    size_t len;            /**< bytes at payload */
    uint64_t record_no;    /**< reader: 1-based record number in the file */
    bool has_lost;         /**< reader: an AT_TEV_OVERRUN record that gives its count */
    uint32_t lost;         /**< reader: that count of lost bytes */
} at_trace_record;

/* ------------------------------------------------------------------ */
/* Reader                                                             */
/* ------------------------------------------------------------------ */

typedef struct at_trace_reader at_trace_reader;

typedef enum at_trace_input {
    AT_TIN_ATTRACE = 0,   /**< TRACE-FORMAT.md */
    AT_TIN_RTAC_SERIAL,   /**< LINKTYPE 250 */
    AT_TIN_EXPORTED_AT    /**< text2pcap -P at: exported PDU without pseudo-header */
} at_trace_input;

/**
 * Opens @p path ("-" = standard input, read as a stream). On failure
 * returns NULL and writes a message naming the file into @p err.
 */
at_trace_reader *at_trace_open(const char *path, char *err, size_t err_cap);

/**
 * Same, from an already open stream; @p name is used in messages. The
 * reader takes @p fp over: at_trace_close() closes it, and so does a failed
 * open (stdin excepted in both cases).
 */
at_trace_reader *at_trace_open_stream(FILE *fp, const char *name, char *err,
                                      size_t err_cap);

/**
 * Reads the next record. Returns 1 with @p rec filled, 0 at a clean end of
 * file, -1 on damage (truncated record, unknown pseudo-header version, bad
 * TLVs, unsupported link type): at_trace_error() then names the file and
 * the record number. After -1 the reader is finished.
 *
 * Foreign inputs: RTAC serial records map TX to TE->ME and RX to ME->TE
 * (the RTAC is the host side); its receive errors, breaks, overflows and
 * control-line changes are ME->TE. `text2pcap -P at` records take their
 * direction from a P2P tag if there is one; text2pcap writes none to pcap,
 * so otherwise a record that starts with "AT"/"at"/"A/" and holds no LF is
 * taken as TE->ME and anything else as ME->TE (a guess). Both give channel
 * 0 and baud 0; "at" records have line state AT_LINE_UNKNOWN.
 */
int at_trace_next(at_trace_reader *r, at_trace_record *rec);

/** The message of the last failure (names the file and the record), or "". */
const char *at_trace_error(const at_trace_reader *r);

/** Kind of the last record returned; before the first, guessed from the
 * link type (AT_TIN_ATTRACE for 252). */
at_trace_input at_trace_input_kind(const at_trace_reader *r);

/** The file's pcap link type (252 for attrace traces). */
int at_trace_linktype(const at_trace_reader *r);

/** Closes the trace (see at_trace_open_stream about standard input) and
 * frees @p r; NULL is a no-op. */
void at_trace_close(at_trace_reader *r);

/* ------------------------------------------------------------------ */
/* Writer                                                             */
/* ------------------------------------------------------------------ */

typedef struct at_trace_writer at_trace_writer;

/**
 * Creates @p path with mode 0600 (a trace may hold private keys); "-"
 * writes to standard output. Refuses to follow a symlink at @p path. On
 * failure returns NULL with a message in @p err.
 */
at_trace_writer *at_trace_create(const char *path, char *err, size_t err_cap);

/**
 * Writes to an open stream (not closed by at_trace_finish). If libpcap
 * cannot write the file header it closes @p fp itself (stdout excepted):
 * the message then says the header could not be written.
 */
at_trace_writer *at_trace_create_stream(FILE *fp, const char *name, char *err,
                                        size_t err_cap);

/**
 * Appends one record (payload up to AT_TRACE_SNAPLEN - headers). 0 or -1.
 * A record the format cannot hold (payload too large: never truncated;
 * undefined event or direction; a time past 2106) is refused and nothing
 * is written; later records still can be, but at_trace_finish() returns
 * -1. After a write error on the stream every later call fails.
 */
int at_trace_write(at_trace_writer *w, const at_trace_record *rec);

/** Pushes buffered records to the file. 0, or -1 if the stream failed. */
int at_trace_flush(at_trace_writer *w);

/** Last error of the writer (names the file). */
const char *at_trace_writer_error(const at_trace_writer *w);

/** Flushes and closes; returns 0, or -1 if anything failed. Frees @p w. */
int at_trace_finish(at_trace_writer *w);

/**
 * Same as at_trace_finish(), and on -1 copies the failure's message (it
 * names the file) into @p err, which at_trace_writer_error() can no longer
 * give once @p w is freed.
 */
int at_trace_finish_err(at_trace_writer *w, char *err, size_t err_cap);

/**
 * Serializes one record's packet bytes (TLVs + pseudo-header + payload)
 * into @p out; returns the length or 0 if @p cap is too small (or @p rec
 * cannot be encoded: direction not 0/1, event above 255, payload NULL with
 * len > 0). Used by the writer and by tests that build files by hand.
 */
size_t at_trace_encode_packet(const at_trace_record *rec, uint8_t *out,
                              size_t cap);

#ifdef __cplusplus
}
#endif
#endif
