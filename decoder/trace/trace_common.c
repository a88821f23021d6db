/*
 * trace_common.c - what the trace reader and writer share: the
 * serialization of one record (TRACE-FORMAT.md, "One record").
 */
#include "trace_internal.h"

#include <string.h>

/* The writer's size checks rely on this being the TLV block encode writes. */
_Static_assert(4 + ((sizeof AT_TRACE_DISSECTOR_NAME - 1 + 3) & ~3u) + 4 +
                       AT_EXP_P2P_DIRECTION_LEN + 4 ==
                   AT_TRACE_TLV_LEN,
               "AT_TRACE_TLV_LEN does not match the encoded TLVs");

const at_trace_line *at_trace_lines(size_t *n)
{
    static const at_trace_line lines[] = {
        {AT_LINE_RTS, "RTS", "rts"}, {AT_LINE_CTS, "CTS", "cts"},
        {AT_LINE_DTR, "DTR", "dtr"}, {AT_LINE_DSR, "DSR", "dsr"},
        {AT_LINE_DCD, "DCD", "dcd"}, {AT_LINE_RI, "RI", "ri"},
    };
    if (n)
        *n = sizeof lines / sizeof lines[0];
    return lines;
}

size_t at_trace_encode_packet(const at_trace_record *rec, uint8_t *out,
                              size_t cap)
{
    static const char name[] = AT_TRACE_DISSECTOR_NAME;
    /* The name TLV's value is NUL-padded to a multiple of 4 and the length
     * field counts the padding, as Wireshark's own exporter does: its
     * dissector steps over exactly the length field, so an unpadded length
     * followed by padding would be misread there. */
    const size_t name_len = sizeof name - 1;
    const size_t name_padded = (name_len + 3u) & ~(size_t)3u;

    if (!rec || !out)
        return 0;
    if (rec->dir != AT_DIR_TE_TO_ME && rec->dir != AT_DIR_ME_TO_TE)
        return 0;
    /* The event is one byte on the wire; tests encode undefined events on
     * purpose, so only the width is enforced here (the writer is stricter). */
    if ((unsigned)rec->event > 0xffu)
        return 0;
    if (rec->len > 0 && !rec->payload)
        return 0;

    const size_t head = 4 + name_padded + 4 + AT_EXP_P2P_DIRECTION_LEN + 4 +
                        AT_TRACE_UART_HEADER_LEN;
    if (cap < head || rec->len > cap - head)
        return 0;

    uint8_t *p = out;
    at_trace_put_be16(p, AT_EXP_TAG_DISSECTOR_NAME);
    at_trace_put_be16(p + 2, (uint16_t)name_padded);
    memset(p + 4, 0, name_padded);
    memcpy(p + 4, name, name_len);
    p += 4 + name_padded;

    at_trace_put_be16(p, AT_EXP_TAG_P2P_DIRECTION);
    at_trace_put_be16(p + 2, AT_EXP_P2P_DIRECTION_LEN);
    at_trace_put_be32(p + 4, (uint32_t)rec->dir);
    p += 4 + AT_EXP_P2P_DIRECTION_LEN;

    at_trace_put_be16(p, AT_EXP_TAG_END_OF_OPT);
    at_trace_put_be16(p + 2, 0);
    p += 4;

    p[0] = AT_TRACE_UART_VERSION;
    p[1] = (uint8_t)rec->event;
    at_trace_put_be16(p + 2, rec->channel);
    at_trace_put_be16(p + 4, rec->line_state);
    at_trace_put_be16(p + 6, rec->flags);
    at_trace_put_be32(p + 8, rec->baud);
    p += AT_TRACE_UART_HEADER_LEN;

    if (rec->len > 0)
        memcpy(p, rec->payload, rec->len);
    return head + rec->len;
}

void at_trace_copy_msg(char *dst, size_t cap, const char *src)
{
    if (!dst || cap == 0)
        return;
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

