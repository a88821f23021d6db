/*
 * trace_internal.h - pieces shared by the trace reader and writer. Not
 * installed, not part of the API.
 *
 * Wire layout of one attrace record (TRACE-FORMAT.md), all big-endian:
 *
 *   exported-PDU TLVs (wsutil/exported_pdu_tlvs.h in Wireshark):
 *     u16 tag 12 DISSECTOR_NAME  u16 len 8  "attrace" NUL
 *     u16 tag 35 P2P_DIRECTION   u16 len 4  u32 direction
 *     u16 tag 0  END_OF_OPT      u16 len 0
 *   UART pseudo-header (12 bytes)
 *   payload
 *
 * The length field of a TLV counts the padding: Wireshark's exported-PDU
 * dissector advances by exactly the length field, and Wireshark's own
 * exporter writes string values NUL-padded to a multiple of 4 with the
 * padded length. text2pcap writes unpadded values (length 2 for "at").
 * Following the length field exactly therefore reads both.
 */
#ifndef ATTRACE_TRACE_INTERNAL_H
#define ATTRACE_TRACE_INTERNAL_H

#include "attrace/trace.h"
#include "errbuf.h"

#include <stddef.h>
#include <stdint.h>

/* Exported-PDU tags we write or interpret. */
#define AT_EXP_TAG_END_OF_OPT 0u
#define AT_EXP_TAG_DISSECTOR_NAME 12u
#define AT_EXP_TAG_P2P_DIRECTION 35u
#define AT_EXP_P2P_DIRECTION_LEN 4u

/* Wireshark's P2P_DIR_UNKNOWN (-1) as it appears in the 4-byte tag value. */
#define AT_EXP_P2P_DIR_UNKNOWN 0xffffffffu

/* The dissector name text2pcap is told with "-P at". */
#define AT_TRACE_EXPORTED_AT_NAME "at"

/* Size of the TLV block the writer produces: name (4 + 8), direction
 * (4 + 4), end of options (4). */
#define AT_TRACE_TLV_LEN 24u

/* Largest payload one record can carry within the file's snaplen. */
#define AT_TRACE_MAX_PAYLOAD \
    (AT_TRACE_SNAPLEN - AT_TRACE_TLV_LEN - AT_TRACE_UART_HEADER_LEN)

/* Nanoseconds per second, for pcap timestamps. */
#define AT_TRACE_NS_PER_S 1000000000u

static inline uint16_t at_trace_get_be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t at_trace_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static inline void at_trace_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void at_trace_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Copies @p src into @p dst (capacity @p cap, cap > 0), always terminated,
 * truncating if needed. Messages are diagnostic; a truncated one is better
 * than none. */
void at_trace_copy_msg(char *dst, size_t cap, const char *src);


#endif
