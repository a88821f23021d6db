/*
 * The input layout of the session fuzz targets: a sequence of records,
 * each one header byte (bit 7 = direction, bit 6 = gap before it, bits
 * 0..5 = length) and that many bytes, fed to @p s one record at a time
 * 1 us apart, then the end of the trace. Returns the last timestamp.
 */
#ifndef ATTRACE_FUZZ_SESSION_INPUT_H
#define ATTRACE_FUZZ_SESSION_INPUT_H

#include "attrace/session.h"

static inline uint64_t fuzz_feed_session(at_session *s, const uint8_t *data, size_t size)
{
    size_t pos = 0;
    uint64_t ts = 0;
    while (pos < size) {
        uint8_t h = data[pos++];
        size_t n = h & 0x3f;
        if (n > size - pos)
            n = size - pos;
        at_dir dir = (h & 0x80) ? AT_DIR_ME_TO_TE : AT_DIR_TE_TO_ME;
        if (h & 0x40)
            at_session_gap(s, dir, ts);
        at_session_feed(s, dir, ts, data + pos, n);
        pos += n;
        ts += 1000;
    }
    at_session_finish(s, ts);
    return ts;
}

#endif
