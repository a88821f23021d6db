/* The UART pseudo-header of TRACE-FORMAT.md, parsed once for every reader. */
#include "attrace/uart.h"

#include <string.h>

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

at_uart_status at_uart_header_parse(const uint8_t *p, size_t len,
                                    at_uart_header *out)
{
    memset(out, 0, sizeof *out);
    if (!p || len < AT_TRACE_UART_HEADER_LEN) {
        if (p && len >= 1)
            out->version = p[0];
        return AT_UART_SHORT;
    }
    out->version = p[0];
    out->event = (at_trace_event)p[1];
    out->channel = be16(p + 2);
    out->line_state = be16(p + 4);
    out->flags = be16(p + 6);
    out->baud = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 |
                (uint32_t)p[10] << 8 | p[11];
    if (p[0] != AT_TRACE_UART_VERSION)
        return AT_UART_BAD_VERSION;
    if (p[1] > AT_TRACE_EVENT_MAX)
        return AT_UART_BAD_EVENT;
    return AT_UART_OK;
}

const char *at_trace_event_name(unsigned event)
{
    /* Indexed by the pseudo-header's event number; the names are the ones
     * the CLI's JSON output and the Wireshark plugin show. */
    static const char *const names[] = {
        "data",         "break",       "framing_error", "parity_error",
        "overrun",      "line_change", "settings",      "note",
    };
    if (event >= sizeof names / sizeof names[0])
        return "unknown";
    return names[event];
}
