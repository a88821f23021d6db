/*
 * fuzz_trace.c - libFuzzer target for the trace reader: the input becomes
 * a pcap file, opened with at_trace_open_stream() over fmemopen() and read
 * to the end or the first error.
 *
 * libpcap is not built with coverage instrumentation, so the fuzzer gets no
 * guidance through its checks (a 4-byte magic, record lengths that must
 * match the input). Left alone it would almost never reach our record
 * parser. An input that starts with a pcap or pcapng magic is used as the
 * file unchanged, so real traces (tests/data/trace, samples/) make good
 * seeds:
 *
 *   fuzz_trace CORPUS_DIR tests/data/trace samples
 *
 * Otherwise the first input byte picks how the file is made:
 *
 *   mode 0: the remaining bytes are the whole file (libpcap's header and
 *           pcapng handling, garbage of every kind);
 *   mode 1: a valid classic pcap file header (link type and timestamp
 *           precision taken from the next byte) followed by the remaining
 *           bytes as they are (damaged record headers);
 *   mode 2: that header, then records framed here from the input: per
 *           record a flags byte, a 16-bit length and that many bytes, so
 *           the fuzzer mutates record contents instead of fighting lengths.
 *
 * Every mode still hands the reader nothing but a byte stream.
 */
#define _DEFAULT_SOURCE 1 /* fmemopen */

#include "attrace/trace.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define FUZZ_NAME "fuzz.pcap"

/* Keeps the payload reads from being optimized away. */
static volatile unsigned sink;

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* A little-endian classic pcap file header. */
static size_t file_header(uint8_t *out, uint8_t sel)
{
    static const uint32_t linktypes[] = {AT_TRACE_LINKTYPE_UPPER_PDU,
                                         AT_TRACE_LINKTYPE_RTAC_SERIAL,
                                         AT_TRACE_LINKTYPE_UPPER_PDU,
                                         1 /* Ethernet */};
    put_le32(out, (sel & 4) ? 0xa1b2c3d4u : 0xa1b23c4du); /* us / ns */
    out[4] = 2; /* version 2.4 */
    out[5] = 0;
    out[6] = 4;
    out[7] = 0;
    memset(out + 8, 0, 8); /* thiszone, sigfigs */
    put_le32(out + 16, AT_TRACE_SNAPLEN);
    put_le32(out + 20, linktypes[sel & 3]);
    return 24;
}

/* Builds the file for @p mode into a new buffer; returns its length. */
static uint8_t *make_file(uint8_t mode, const uint8_t *d, size_t n,
                          size_t *out_len)
{
    /* Mode 2 adds at most 16 header bytes for every 3 input bytes. */
    size_t cap = 24 + n + (n / 3 + 1) * 16;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return NULL;
    size_t len = 0;

    if (mode == 0) {
        memcpy(buf, d, n);
        *out_len = n;
        return buf;
    }
    if (n == 0) {
        free(buf);
        return NULL;
    }
    len = file_header(buf, d[0]);
    d++;
    n--;
    if (mode == 1) {
        memcpy(buf + len, d, n);
        *out_len = len + n;
        return buf;
    }

    uint32_t sec = 1700000000u;
    while (n >= 3) {
        uint8_t flags = d[0];
        size_t rec_len = (size_t)d[1] << 8 | d[2];
        d += 3;
        n -= 3;
        if (rec_len > n)
            rec_len = n;
        /* The original length is usually the captured one; sometimes
         * larger (a snapped record) or smaller (a damaged header). */
        uint32_t orig = (uint32_t)rec_len;
        if ((flags & 0x30) == 0x10)
            orig += 1 + (flags & 0x0f);
        else if ((flags & 0x30) == 0x20 && orig > 0)
            orig -= 1;
        put_le32(buf + len, sec);
        put_le32(buf + len + 4, (uint32_t)(flags & 0x40 ? 999999999u : flags));
        put_le32(buf + len + 8, (uint32_t)rec_len);
        put_le32(buf + len + 12, orig);
        len += 16;
        memcpy(buf + len, d, rec_len);
        len += rec_len;
        d += rec_len;
        n -= rec_len;
        sec += (flags >> 7);
    }
    *out_len = len;
    return buf;
}

/* Classic pcap (us, ns; either byte order) and pcapng magics. */
static int starts_with_magic(const uint8_t *d, size_t n)
{
    static const uint8_t magics[][4] = {
        {0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4},
        {0x4d, 0x3c, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d},
        {0x0a, 0x0d, 0x0d, 0x0a},
    };
    if (n < 4)
        return 0;
    for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++)
        if (memcmp(d, magics[i], 4) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n < 1)
        return 0;
    size_t len = 0;
    uint8_t *file = starts_with_magic(d, n)
                        ? make_file(0, d, n, &len)
                        : make_file(d[0] % 3, d + 1, n - 1, &len);
    if (!file)
        return 0;
    if (len == 0) { /* fmemopen rejects an empty buffer */
        free(file);
        return 0;
    }

    FILE *fp = fmemopen(file, len, "rb");
    if (!fp) {
        free(file);
        return 0;
    }
    char err[256];
    at_trace_reader *r = at_trace_open_stream(fp, FUZZ_NAME, err, sizeof err);
    if (!r) {
        /* fp was closed by the failed open. */
        if (strncmp(err, FUZZ_NAME ": ", sizeof FUZZ_NAME + 1) != 0)
            abort();
        free(file);
        return 0;
    }

    at_trace_record rec;
    uint64_t expect_no = 1;
    unsigned sum = 0;
    int rc;
    while ((rc = at_trace_next(r, &rec)) == 1) {
        /* Contract checks: numbering, a defined event, a readable
         * payload of the stated length (ASan checks every byte). */
        if (rec.record_no != expect_no++)
            abort();
        if ((unsigned)rec.event > AT_TEV_NOTE)
            abort();
        if (rec.dir != AT_DIR_TE_TO_ME && rec.dir != AT_DIR_ME_TO_TE)
            abort();
        if (rec.len > AT_TRACE_SNAPLEN)
            abort();
        for (size_t i = 0; i < rec.len; i++)
            sum += rec.payload[i];
        (void)at_trace_event_name(rec.event);
    }
    if (rc == -1) {
        /* Every error names the file; it stays finished. */
        if (strncmp(at_trace_error(r), FUZZ_NAME ": ", sizeof FUZZ_NAME + 1))
            abort();
        if (at_trace_next(r, &rec) != -1)
            abort();
    } else if (rc != 0 || at_trace_next(r, &rec) != 0) {
        abort();
    }
    sink = sum;
    (void)at_trace_input_kind(r);
    at_trace_close(r);
    free(file);
    return 0;
}
