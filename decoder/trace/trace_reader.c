/*
 * trace_reader.c - reads traces (TRACE-FORMAT.md) and the foreign inputs
 * the format accepts, with libpcap.
 *
 * libpcap does the container work: classic pcap in either byte order and
 * with either timestamp precision (opened with nanosecond precision, so a
 * microsecond file is scaled, never rounded), pcapng too, from a seekable
 * file or a pipe. It keeps one record in a buffer it bounds by the link
 * type's maximum snapshot length (256 KiB here), so memory stays bounded
 * whatever the file size. This file interprets the record contents.
 *
 * Damage is never skipped: data lost silently would make the decoder
 * explain a session that did not happen. The first damaged record ends the
 * read with a message "FILE: record N: what", the records before it having
 * been returned normally.
 */
/* fdopen; u_char & co. for <pcap/pcap.h> under -std=c11 */
#define _DEFAULT_SOURCE 1

#include "trace_internal.h"

#include <pcap/pcap.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Room for a long path plus the explanation. */
#define READER_MSG_CAP 1536

/* How many bytes of a foreign dissector name a message quotes. */
#define NAME_QUOTE_MAX 32

/* The stdio buffer of a trace file the reader opens itself. libpcap
 * reads every record with two freads; with stdio's default buffer
 * (st_blksize, 4 KiB) that is a read(2) for every 30 records or so. */
#define READ_BUF_SIZE (256u * 1024u)

/* The name messages use for "-". */
#define STDIN_NAME "standard input"

/* RTAC serial header (Wireshark's packet-rtacser.c): u32 seconds, u32
 * microseconds, u8 event type, u8 control lines, u16 footer. */
#define RTAC_HEADER_LEN 12u
#define RTAC_EVENT_OFF 8u
#define RTAC_LINES_OFF 9u

enum rtac_event {
    RTAC_STATUS_CHANGE = 0x00,
    RTAC_DATA_TX_START = 0x01,
    RTAC_DATA_RX_START = 0x02,
    RTAC_DATA_TX_END = 0x03,
    RTAC_DATA_RX_END = 0x04,
    RTAC_CAPTURE_DATA_LOST = 0x05,
    RTAC_CAPTURE_COMPLETE = 0x06,
    RTAC_FRAMING_ERROR = 0x07,
    RTAC_PARITY_ERROR = 0x08,
    RTAC_SERIAL_BREAK = 0x09,
    RTAC_SERIAL_OVERFLOW = 0x0a
};

/* RTAC control-line bits. MBOK (0x40) has no counterpart and is dropped. */
enum {
    RTAC_CTS = 0x01,
    RTAC_DCD = 0x02,
    RTAC_DSR = 0x04,
    RTAC_RTS = 0x08,
    RTAC_DTR = 0x10,
    RTAC_RING = 0x20
};

/* The note an RTAC "capture complete" event becomes. */
static const char rtac_complete_note[] = "capture complete (RTAC serial)";

enum reader_state { READING = 0, AT_END = 1, FAILED = -1 };

struct at_trace_reader {
    pcap_t *pcap;
    char *name;
    int linktype;
    at_trace_input kind;
    uint64_t records; /* records taken from libpcap so far */
    enum reader_state state;
    char *read_buf; /* the stream's buffer (READ_BUF_SIZE) when we opened it */
    char err[READER_MSG_CAP];
};


/*
 * Ends the read with "NAME: record N: <fmt>" (or "NAME: <fmt>" for N = 0,
 * a problem of the whole file). Returns -1 for the caller to pass on.
 */
static int fail(at_trace_reader *r, uint64_t record_no, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int fail(at_trace_reader *r, uint64_t record_no, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (record_no > 0)
        snprintf(r->err, sizeof r->err, "%s: record %llu: %s", r->name,
                 (unsigned long long)record_no, what);
    else
        snprintf(r->err, sizeof r->err, "%s: %s", r->name, what);
    r->state = FAILED;
    return -1;
}

/* Closes a stream handed to us, but never the process's standard input. */
static void close_input(FILE *fp)
{
    if (fp && fp != stdin)
        fclose(fp);
}

at_trace_reader *at_trace_open(const char *path, char *err, size_t err_cap)
{
    if (!path) {
        at_err_set(err, err_cap, "no trace file name given");
        return NULL;
    }
    if (strcmp(path, "-") == 0)
        return at_trace_open_stream(stdin, STDIN_NAME, err, err_cap);

    /* open(2) rather than fopen for O_CLOEXEC: capture front ends start
     * helper processes, which must not inherit the trace. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        at_err_set(err, err_cap, "%s: %s", path, strerror(errno));
        return NULL;
    }
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        at_err_set(err, err_cap, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    /* Our own stream: a large buffer, and no lock taken for each fread
     * (one thread reads it). Without the buffer stdio's default serves. */
    char *buf = malloc(READ_BUF_SIZE);
    if (buf && setvbuf(fp, buf, _IOFBF, READ_BUF_SIZE) != 0) {
        free(buf);
        buf = NULL;
    }
    __fsetlocking(fp, FSETLOCKING_BYCALLER);
    at_trace_reader *r = at_trace_open_stream(fp, path, err, err_cap);
    if (r)
        r->read_buf = buf;
    else
        free(buf); /* the stream is closed already */
    return r;
}

at_trace_reader *at_trace_open_stream(FILE *fp, const char *name, char *err,
                                      size_t err_cap)
{
    if (!name)
        name = "stream";
    if (!fp) {
        at_err_set(err, err_cap, "%s: no stream given", name);
        return NULL;
    }

    at_trace_reader *r = calloc(1, sizeof *r);
    char *copy = strdup(name);
    if (!r || !copy) {
        at_err_set(err, err_cap, "%s: out of memory", name);
        free(r);
        free(copy);
        close_input(fp);
        return NULL;
    }
    r->name = copy;

    char ebuf[PCAP_ERRBUF_SIZE];
    ebuf[0] = '\0';
    r->pcap = pcap_fopen_offline_with_tstamp_precision(
        fp, PCAP_TSTAMP_PRECISION_NANO, ebuf);
    if (!r->pcap) {
        /* libpcap leaves the stream open on failure; we took ownership. */
        at_err_set(err, err_cap, "%s: not a readable pcap or pcapng file (%s)",
                name, ebuf[0] ? ebuf : "libpcap gave no reason");
        close_input(fp);
        free(r->name);
        free(r);
        return NULL;
    }
    /* From here on pcap_close() closes fp (never stdin). */

    r->linktype = pcap_datalink(r->pcap);
    r->kind = r->linktype == AT_TRACE_LINKTYPE_RTAC_SERIAL ? AT_TIN_RTAC_SERIAL
                                                          : AT_TIN_ATTRACE;
    r->state = READING;
    return r;
}

/* The file's LINKTYPE_ number for libpcap's DLT_ value: they differ for a
 * few old types (LINKTYPE_RAW is 101 in a file, DLT_RAW 12 or 14 in
 * memory), and a message must name what the file says. */
static int file_linktype(int dlt)
{
    static const struct { int dlt, linktype; } map[] = {
        {DLT_ATM_RFC1483, 100}, {DLT_RAW, 101}, {DLT_SLIP_BSDOS, 102},
        {DLT_PPP_BSDOS, 103},   {DLT_ATM_CLIP, 106},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].dlt == dlt)
            return map[i].linktype;
    return dlt;
}

/* Quotes a foreign dissector name for a message: printable ASCII as is,
 * anything else as \xNN, at most NAME_QUOTE_MAX bytes. */
static void quote_name(const uint8_t *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    size_t shown = n > NAME_QUOTE_MAX ? NAME_QUOTE_MAX : n;
    for (size_t i = 0; i < shown && o + 5 < cap; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
            out[o++] = (char)s[i];
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", s[i]);
    }
    if (shown < n && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static bool name_is(const uint8_t *s, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

/*
 * Direction of a text2pcap "at" export that carries no P2P tag (text2pcap
 * 4.0 writes none to pcap, even with -D: the I/O marks only reach pcapng
 * packet flags, which libpcap does not report). A record is taken as sent
 * by the host (TE->ME) when it starts like a command line ("AT", "at",
 * "A/") and has no line feed: the host ends a command with CR alone, the
 * module frames everything it says with CR LF (and its echo of a command
 * arrives together with that framing). Anything else is ME->TE. This is a
 * guess: binary data the host sends (AT^SISW payloads, secure-command
 * frames) lands on the wrong side, and so does an echo read on its own.
 */
static at_dir guess_at_direction(const uint8_t *p, size_t n)
{
    if (n >= 2 && (p[0] == 'A' || p[0] == 'a') &&
        (p[1] == 'T' || p[1] == 't' || p[1] == '/') && !memchr(p, '\n', n))
        return AT_DIR_TE_TO_ME;
    return AT_DIR_ME_TO_TE;
}

/* The exported-PDU options every attrace trace has (TRACE-FORMAT.md, as
 * at_trace_encode_packet writes them): the dissector name "attrace"
 * padded to 8 bytes, the direction tag with its 4-byte value (not part of
 * this prefix), then the end of options. A record that starts so is read
 * without the general loop; any other layout takes the loop. */
static const uint8_t attrace_tlv_head[] = {
    0, AT_EXP_TAG_DISSECTOR_NAME, 0, 8, 'a', 't', 't', 'r', 'a', 'c', 'e', 0,
    0, AT_EXP_TAG_P2P_DIRECTION, 0, AT_EXP_P2P_DIRECTION_LEN};
static const uint8_t attrace_tlv_end[] = {0, AT_EXP_TAG_END_OF_OPT, 0, 0};
_Static_assert(sizeof attrace_tlv_head + AT_EXP_P2P_DIRECTION_LEN +
                       sizeof attrace_tlv_end == AT_TRACE_TLV_LEN,
               "the fast-path TLV layout is the one the writer encodes");
_Static_assert(sizeof AT_TRACE_DISSECTOR_NAME == 8,
               "the fast-path name \"attrace\" and one padding NUL");

/* The record of dissector "attrace" after its exported-PDU options:
 * direction @p dir, then the UART pseudo-header and the bytes. Inlined
 * into the per-record path of every attrace trace. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline int attrace_record(at_trace_reader *r, uint32_t dir, const uint8_t *rest,
                          uint32_t rest_len, at_trace_record *rec)
{
    const uint64_t no = r->records;
    if (dir != AT_DIR_TE_TO_ME && dir != AT_DIR_ME_TO_TE)
        return fail(r, no,
                    "direction %lu is neither 0 (TE->ME) nor 1 (ME->TE)",
                    (unsigned long)dir);
    at_uart_header h;
    switch (at_uart_header_parse(rest, rest_len, &h)) {
    case AT_UART_OK:
        break;
    case AT_UART_SHORT:
        return fail(r, no,
                    "%u bytes left for the %u-byte UART pseudo-header",
                    rest_len, AT_TRACE_UART_HEADER_LEN);
    case AT_UART_BAD_VERSION:
        return fail(r, no,
                    "UART pseudo-header version %u is not supported "
                    "(this reader knows version %u)",
                    h.version, AT_TRACE_UART_VERSION);
    case AT_UART_BAD_EVENT:
        return fail(r, no,
                    "event type %u is not defined in UART pseudo-header "
                    "version %u",
                    (unsigned)h.event, AT_TRACE_UART_VERSION);
    }
    rec->dir = (at_dir)dir;
    rec->event = h.event;
    rec->channel = h.channel;
    rec->line_state = h.line_state;
    rec->flags = h.flags;
    rec->baud = h.baud;
    rec->payload = rest + AT_TRACE_UART_HEADER_LEN;
    rec->len = rest_len - AT_TRACE_UART_HEADER_LEN;
    r->kind = AT_TIN_ATTRACE;
    return 0;
}

/* LINKTYPE_WIRESHARK_UPPER_PDU: exported-PDU TLVs, then either our UART
 * pseudo-header ("attrace") or bare AT bytes ("at"). */
static int parse_upper_pdu(at_trace_reader *r, const uint8_t *d, uint32_t n,
                           at_trace_record *rec)
{
    const uint64_t no = r->records;
    const uint8_t *name = NULL;
    size_t name_len = 0;
    bool have_dir = false;
    uint32_t dir = 0;
    uint32_t off = 0;

    if (n == 0)
        return fail(r, no, "the record is empty (0 bytes: no exported-PDU "
                           "options, no data)");
    if (n >= AT_TRACE_TLV_LEN && memcmp(d, attrace_tlv_head, sizeof attrace_tlv_head) == 0 &&
        memcmp(d + AT_TRACE_TLV_LEN - 4, attrace_tlv_end, sizeof attrace_tlv_end) == 0) {
        /* What the general loop below concludes for these bytes. */
        dir = at_trace_get_be32(d + sizeof attrace_tlv_head);
        return attrace_record(r, dir, d + AT_TRACE_TLV_LEN, n - AT_TRACE_TLV_LEN, rec);
    }
    /* Any order, unknown tags skipped; each step consumes at least the
     * 4-byte tag header, so the loop ends within n / 4 rounds. */
    for (;;) {
        if (n - off < 4)
            return fail(r, no,
                        "exported-PDU options run to the end of the record "
                        "without an end-of-options tag");
        uint16_t tag = at_trace_get_be16(d + off);
        uint16_t len = at_trace_get_be16(d + off + 2);
        off += 4;
        if (len > n - off)
            return fail(r, no,
                        "exported-PDU option %u has length %u but only %u "
                        "bytes of the record remain",
                        tag, len, n - off);
        const uint8_t *v = d + off;
        off += len;

        if (tag == AT_EXP_TAG_END_OF_OPT) {
            if (len != 0)
                return fail(r, no,
                            "exported-PDU end-of-options tag has length %u "
                            "(must be 0)",
                            len);
            break;
        }
        if (tag == AT_EXP_TAG_DISSECTOR_NAME) {
            /* Two names would leave it open which dissector was meant. */
            if (name)
                return fail(r, no, "two exported-PDU dissector names");
            name = v;
            name_len = len;
        } else if (tag == AT_EXP_TAG_P2P_DIRECTION) {
            if (len != AT_EXP_P2P_DIRECTION_LEN)
                return fail(r, no,
                            "exported-PDU direction option has length %u "
                            "(must be %u)",
                            len, AT_EXP_P2P_DIRECTION_LEN);
            if (have_dir)
                return fail(r, no, "two exported-PDU direction options");
            dir = at_trace_get_be32(v);
            have_dir = true;
        }
    }

    if (!name)
        return fail(r, no, "no dissector name in the exported-PDU options");
    /* String values may carry NUL padding, counted in the length. */
    while (name_len > 0 && name[name_len - 1] == '\0')
        name_len--;

    const uint8_t *rest = d + off;
    const uint32_t rest_len = n - off;

    if (name_is(name, name_len, AT_TRACE_DISSECTOR_NAME)) {
        if (!have_dir)
            return fail(r, no, "no direction option (exported-PDU tag %u)",
                        AT_EXP_TAG_P2P_DIRECTION);
        return attrace_record(r, dir, rest, rest_len, rec);
    }

    if (name_is(name, name_len, AT_TRACE_EXPORTED_AT_NAME)) {
        if (have_dir && dir == AT_DIR_TE_TO_ME)
            rec->dir = AT_DIR_TE_TO_ME;
        else if (have_dir && dir == AT_DIR_ME_TO_TE)
            rec->dir = AT_DIR_ME_TO_TE;
        else if (!have_dir || dir == AT_EXP_P2P_DIR_UNKNOWN)
            rec->dir = guess_at_direction(rest, rest_len);
        else
            return fail(r, no,
                        "direction %lu is neither 0 (TE->ME), 1 (ME->TE) nor "
                        "-1 (unknown)",
                        (unsigned long)dir);
        rec->event = AT_TEV_DATA;
        rec->channel = 0;
        rec->line_state = AT_LINE_UNKNOWN;
        rec->flags = 0;
        rec->baud = 0;
        rec->payload = rest;
        rec->len = rest_len;
        r->kind = AT_TIN_EXPORTED_AT;
        return 0;
    }

    char quoted[NAME_QUOTE_MAX * 4 + 8];
    quote_name(name, name_len, quoted, sizeof quoted);
    return fail(r, no,
                "exported-PDU dissector \"%s\" is not supported (this reader "
                "knows \"%s\" and \"%s\")",
                quoted, AT_TRACE_DISSECTOR_NAME, AT_TRACE_EXPORTED_AT_NAME);
}

/*
 * LINKTYPE_RTAC_SERIAL: a 12-byte header, then the bytes. The RTAC's
 * communication monitor records its own serial port, and the RTAC is the
 * controller that talks to the device: in our terms it sits where the host
 * (TE) is. So what it transmits is TE->ME, what it receives is ME->TE, and
 * conditions its UART detects on reception (framing, parity, break,
 * overflow) as well as its control-line changes are filed under ME->TE.
 * "Capture complete" becomes a note, filed TE->ME as the sample generator
 * files notes. The RTAC header's own timestamp duplicates the pcap one,
 * which is used (it has the file's precision).
 */
static int parse_rtac(at_trace_reader *r, const uint8_t *d, uint32_t n,
                      at_trace_record *rec)
{
    const uint64_t no = r->records;
    if (n < RTAC_HEADER_LEN)
        return fail(r, no, "%u bytes, shorter than the %u-byte RTAC serial "
                           "header", n, RTAC_HEADER_LEN);

    const uint8_t ev = d[RTAC_EVENT_OFF];
    const uint8_t lines = d[RTAC_LINES_OFF];
    uint16_t state = 0;
    if (lines & RTAC_CTS) state |= AT_LINE_CTS;
    if (lines & RTAC_DCD) state |= AT_LINE_DCD;
    if (lines & RTAC_DSR) state |= AT_LINE_DSR;
    if (lines & RTAC_RTS) state |= AT_LINE_RTS;
    if (lines & RTAC_DTR) state |= AT_LINE_DTR;
    if (lines & RTAC_RING) state |= AT_LINE_RI;

    rec->channel = 0;
    rec->line_state = state;
    rec->flags = 0;
    rec->baud = 0;
    rec->payload = d + RTAC_HEADER_LEN;
    rec->len = n - RTAC_HEADER_LEN;

    switch (ev) {
    case RTAC_DATA_TX_START:
    case RTAC_DATA_TX_END:
        rec->dir = AT_DIR_TE_TO_ME;
        rec->event = AT_TEV_DATA;
        break;
    case RTAC_DATA_RX_START:
    case RTAC_DATA_RX_END:
        rec->dir = AT_DIR_ME_TO_TE;
        rec->event = AT_TEV_DATA;
        break;
    case RTAC_STATUS_CHANGE:
        rec->dir = AT_DIR_ME_TO_TE;
        rec->event = AT_TEV_LINE_CHANGE;
        break;
    case RTAC_FRAMING_ERROR:
        rec->dir = AT_DIR_ME_TO_TE;
        rec->event = AT_TEV_FRAMING_ERROR;
        break;
    case RTAC_PARITY_ERROR:
        rec->dir = AT_DIR_ME_TO_TE;
        rec->event = AT_TEV_PARITY_ERROR;
        break;
    case RTAC_SERIAL_BREAK:
        rec->dir = AT_DIR_ME_TO_TE;
        rec->event = AT_TEV_BREAK;
        break;
    case RTAC_CAPTURE_DATA_LOST:
    case RTAC_SERIAL_OVERFLOW:
        /* Our overrun payload is a u32 count; RTAC gives none we know of,
         * so the count is "unknown" (no payload). */
        rec->dir = AT_DIR_ME_TO_TE;
        rec->event = AT_TEV_OVERRUN;
        rec->flags = AT_TFLAG_BYTES_MISSING;
        rec->payload = NULL;
        rec->len = 0;
        break;
    case RTAC_CAPTURE_COMPLETE:
        rec->dir = AT_DIR_TE_TO_ME;
        rec->event = AT_TEV_NOTE;
        rec->payload = (const uint8_t *)rtac_complete_note;
        rec->len = sizeof rtac_complete_note - 1;
        break;
    default:
        return fail(r, no, "RTAC serial event type 0x%02x is not known", ev);
    }
    r->kind = AT_TIN_RTAC_SERIAL;
    return 0;
}

int at_trace_next(at_trace_reader *r, at_trace_record *rec)
{
    if (!r)
        return -1;
    if (r->state != READING)
        return r->state == AT_END ? 0 : -1;
    if (!rec)
        return fail(r, r->records + 1, "no record to fill in");

    if (r->linktype != AT_TRACE_LINKTYPE_UPPER_PDU &&
        r->linktype != AT_TRACE_LINKTYPE_RTAC_SERIAL) {
        const char *lt = pcap_datalink_val_to_name(r->linktype);
        char what[64];
        if (lt)
            snprintf(what, sizeof what, "%s", lt);
        else
            snprintf(what, sizeof what, "0x%X, a link type libpcap does not know",
                     (unsigned)r->linktype);
        return fail(r, 0,
                    "link type %d (%s) is not supported (this reader knows %d "
                    "WIRESHARK_UPPER_PDU and %d RTAC_SERIAL)",
                    file_linktype(r->linktype), what,
                    AT_TRACE_LINKTYPE_UPPER_PDU,
                    AT_TRACE_LINKTYPE_RTAC_SERIAL);
    }

    struct pcap_pkthdr *h = NULL;
    const u_char *data = NULL;
    int rc = pcap_next_ex(r->pcap, &h, &data);
    if (rc == PCAP_ERROR_BREAK) {
        r->state = AT_END;
        return 0;
    }
    if (rc != 1) {
        /* Only 1, -2 and -1 happen for files; 0 would be a live timeout. */
        const char *msg = rc == PCAP_ERROR ? pcap_geterr(r->pcap)
                                           : "libpcap returned no record";
        if (strstr(msg, "truncated"))
            return fail(r, r->records + 1,
                        "the file ends inside this record (libpcap: %s)", msg);
        return fail(r, r->records + 1, "cannot read it (libpcap: %s)", msg);
    }
    r->records++;
    const uint64_t no = r->records;

    /* A snapped record lost bytes at capture time; a caplen above len is
     * a damaged header. Either way the bytes are not what was on the line. */
    if (h->caplen < h->len)
        return fail(r, no,
                    "only %u of its %u bytes were captured (snapped record: "
                    "data would be lost)",
                    h->caplen, h->len);
    if (h->caplen > h->len)
        return fail(r, no,
                    "captured length %u is larger than its original length %u",
                    h->caplen, h->len);

    /* Classic pcap stores seconds as 32 bits that libpcap 1.10 reads as
     * signed: a negative value is a time past 2038, reinterpreted here. */
    uint64_t sec;
    if (h->ts.tv_sec < 0)
        sec = (uint32_t)h->ts.tv_sec;
    else
        sec = (uint64_t)h->ts.tv_sec;
    /* With nanosecond precision tv_usec holds nanoseconds. libpcap reads
     * the file's unsigned 32-bit field as signed: a negative value is
     * 2^31 or more. */
    if (h->ts.tv_usec < 0 || h->ts.tv_usec >= (long)AT_TRACE_NS_PER_S)
        return fail(r, no,
                    "timestamp fraction %llu ns is not below one second "
                    "(%u ns)",
                    h->ts.tv_usec < 0 ? (unsigned long long)(uint32_t)h->ts.tv_usec
                                      : (unsigned long long)h->ts.tv_usec,
                    AT_TRACE_NS_PER_S);
    if (sec > (UINT64_MAX - AT_TRACE_NS_PER_S) / AT_TRACE_NS_PER_S)
        return fail(r, no, "timestamp %llu s is beyond what 64-bit "
                           "nanoseconds can hold",
                    (unsigned long long)sec);

    memset(rec, 0, sizeof *rec);
    rec->ts_ns = sec * AT_TRACE_NS_PER_S + (uint64_t)h->ts.tv_usec;
    rec->record_no = no;

    int ok = r->linktype == AT_TRACE_LINKTYPE_RTAC_SERIAL
                 ? parse_rtac(r, data, h->caplen, rec)
                 : parse_upper_pdu(r, data, h->caplen, rec);
    if (ok != 0) {
        memset(rec, 0, sizeof *rec);
        return -1;
    }
    if (rec->event == AT_TEV_OVERRUN && rec->len >= 4) {
        rec->has_lost = true;
        rec->lost = at_trace_get_be32(rec->payload);
    }
    return 1;
}

const char *at_trace_error(const at_trace_reader *r)
{
    if (!r)
        return "no trace reader";
    return r->err;
}

at_trace_input at_trace_input_kind(const at_trace_reader *r)
{
    return r ? r->kind : AT_TIN_ATTRACE;
}

int at_trace_linktype(const at_trace_reader *r)
{
    return r ? r->linktype : -1;
}

void at_trace_close(at_trace_reader *r)
{
    if (!r)
        return;
    if (r->pcap)
        pcap_close(r->pcap);
    free(r->read_buf); /* after the stream using it is closed */
    free(r->name);
    free(r);
}
