/*
 * attrace/uart.h - the 12-byte UART pseudo-header every attrace record
 * carries (../shared/TRACE-FORMAT.md, "One record"). Part of the pure core:
 * the trace reader and the Wireshark plugin parse it with the same function.
 */
#ifndef ATTRACE_UART_H
#define ATTRACE_UART_H

#include "attrace/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AT_TRACE_UART_VERSION 1
#define AT_TRACE_UART_HEADER_LEN 12u

/** UART pseudo-header event types. */
typedef enum at_trace_event {
    AT_TEV_DATA = 0,
    AT_TEV_BREAK = 1,
    AT_TEV_FRAMING_ERROR = 2,
    AT_TEV_PARITY_ERROR = 3,
    AT_TEV_OVERRUN = 4,
    AT_TEV_LINE_CHANGE = 5,
    AT_TEV_SETTINGS = 6,
    AT_TEV_NOTE = 7
} at_trace_event;

/** Highest event number pseudo-header version 1 defines. */
#define AT_TRACE_EVENT_MAX AT_TEV_NOTE

/** Line-state bits (pseudo-header "line state"). */
enum {
    AT_LINE_RTS = 1u << 0,
    AT_LINE_CTS = 1u << 1,
    AT_LINE_DTR = 1u << 2,
    AT_LINE_DSR = 1u << 3,
    AT_LINE_DCD = 1u << 4,
    AT_LINE_RI = 1u << 5,
    AT_LINE_UNKNOWN = 1u << 15
};

/** Pseudo-header flag bits. */
enum { AT_TFLAG_BYTES_MISSING = 1u << 0 };

/** The pseudo-header's fields, host byte order. */
typedef struct at_uart_header {
    uint8_t version;
    at_trace_event event;
    uint16_t channel;
    uint16_t line_state;  /**< AT_LINE_* bits */
    uint16_t flags;       /**< AT_TFLAG_* bits */
    uint32_t baud;        /**< 0 = unknown */
} at_uart_header;

/** Outcome of at_uart_header_parse. */
typedef enum at_uart_status {
    AT_UART_OK = 0,
    AT_UART_SHORT,        /**< fewer than AT_TRACE_UART_HEADER_LEN bytes */
    AT_UART_BAD_VERSION,  /**< version is not AT_TRACE_UART_VERSION (out->version says which) */
    AT_UART_BAD_EVENT     /**< event above AT_TRACE_EVENT_MAX (out->event holds the raw number) */
} at_uart_status;

/**
 * Parses the pseudo-header at @p p (@p len bytes available). Fills @p out
 * as far as the bytes go, whatever the outcome, so that a caller can name
 * the offending value.
 */
at_uart_status at_uart_header_parse(const uint8_t *p, size_t len,
                                    at_uart_header *out);

/** Name of an event type ("data", "break", ...), "unknown" otherwise. */
const char *at_trace_event_name(unsigned event);

#ifdef __cplusplus
}
#endif
#endif
