/*
 * trace_writer.c - writes traces (TRACE-FORMAT.md) with libpcap.
 *
 * libpcap writes the container (pcap_open_dead with nanosecond precision,
 * pcap_dump_fopen, pcap_dump). Two things it does not do are done here:
 *
 * - Creating the file safely. A provisioning trace holds the client's
 *   private key, so the file is created 0600, an existing file is brought
 *   to 0600 before anything is written into it, and a symbolic link at the
 *   path is refused rather than followed (a planted link must not redirect
 *   the key into someone else's file).
 * - Noticing failures. pcap_dump() returns void and ignores fwrite errors;
 *   the stream's error flag, fflush and fclose are checked instead, so a
 *   full disk or a file size limit turns into an error naming the file
 *   rather than a silently short trace.
 */
#define _DEFAULT_SOURCE 1 /* fdopen, fchmod; u_char & co. for <pcap/pcap.h> */

#include "trace_internal.h"
#include "private_file.h"

#include <pcap/pcap.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WRITER_MSG_CAP 1536
#define STDOUT_NAME "standard output"

struct at_trace_writer {
    pcap_t *dead;          /* only describes the file: link type, precision */
    pcap_dumper_t *dumper; /* libpcap's handle on fp */
    FILE *fp;
    bool own_fp;     /* opened by at_trace_create: closed by finish */
    bool io_failed;  /* the stream failed: nothing more can be written */
    bool any_failed; /* some call failed: finish reports -1 */
    uint64_t records;
    char *name;
    uint8_t *buf; /* one encoded record, AT_TRACE_SNAPLEN bytes */
    char err[WRITER_MSG_CAP];
};


/* Records a failure "NAME: <fmt>" and returns -1. */
static int wfail(at_trace_writer *w, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int wfail(at_trace_writer *w, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(w->err, sizeof w->err, "%s: %s", w->name, what);
    w->any_failed = true;
    return -1;
}

/* A stream error is final: after a failed write the file's contents are
 * unknown, so nothing more is appended. */
static int io_fail(at_trace_writer *w, int errnum, const char *doing)
{
    w->io_failed = true;
    return wfail(w, "%s: %s", doing,
                 errnum ? strerror(errnum) : "write error on the stream");
}

static void free_writer(at_trace_writer *w)
{
    if (w->dead)
        pcap_close(w->dead);
    free(w->buf);
    free(w->name);
    free(w);
}

/*
 * Sets up a writer on @p fp. On failure returns NULL and closes @p fp if
 * @p own; if libpcap could not even write the file header it has closed
 * @p fp itself (unless it is stdout), whatever @p own says.
 */
static at_trace_writer *writer_on(FILE *fp, const char *name, bool own,
                                  char *err, size_t err_cap)
{
    at_trace_writer *w = calloc(1, sizeof *w);
    if (w) {
        w->name = strdup(name);
        w->buf = malloc(AT_TRACE_SNAPLEN);
    }
    if (!w || !w->name || !w->buf) {
        at_err_set(err, err_cap, "%s: out of memory", name);
        if (w)
            free_writer(w);
        if (own && fp != stdout)
            fclose(fp);
        return NULL;
    }
    w->fp = fp;
    w->own_fp = own;

    w->dead = pcap_open_dead_with_tstamp_precision(
        AT_TRACE_LINKTYPE_UPPER_PDU, (int)AT_TRACE_SNAPLEN,
        PCAP_TSTAMP_PRECISION_NANO);
    if (!w->dead) {
        at_err_set(err, err_cap, "%s: libpcap cannot describe the file", name);
        free_writer(w);
        if (own && fp != stdout)
            fclose(fp);
        return NULL;
    }

    /* A stream already in error would make libpcap fail the header write
     * and close it; refuse first so a caller's stream stays open. */
    if (ferror(fp)) {
        at_err_set(err, err_cap, "%s: the stream is already in an error state",
                name);
        free_writer(w);
        if (own && fp != stdout)
            fclose(fp);
        return NULL;
    }

    w->dumper = pcap_dump_fopen(w->dead, fp);
    if (!w->dumper) {
        /* libpcap's only failure here is the header write, after which it
         * has closed fp (except stdout). */
        at_err_set(err, err_cap, "%s: cannot write the pcap file header (%s)",
                name, pcap_geterr(w->dead));
        free_writer(w);
        return NULL;
    }
    return w;
}

at_trace_writer *at_trace_create(const char *path, char *err, size_t err_cap)
{
    if (!path) {
        at_err_set(err, err_cap, "no trace file name given");
        return NULL;
    }
    if (strcmp(path, "-") == 0)
        return writer_on(stdout, STDOUT_NAME, false, err, err_cap);

    int fd = at_private_file_create(path, err, err_cap);
    if (fd < 0)
        return NULL;

    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        at_err_set(err, err_cap, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    /* A capture writes a record per read: with stdio's default buffer that
     * is a write(2) every few KiB. Callers bound their losses with
     * at_trace_flush (every 100 ms in attrace capture), not with this. */
    setvbuf(fp, NULL, _IOFBF, 256u * 1024u);
    return writer_on(fp, path, true, err, err_cap);
}

at_trace_writer *at_trace_create_stream(FILE *fp, const char *name, char *err,
                                        size_t err_cap)
{
    if (!name)
        name = "stream";
    if (!fp) {
        at_err_set(err, err_cap, "%s: no stream given", name);
        return NULL;
    }
    return writer_on(fp, name, false, err, err_cap);
}

int at_trace_write(at_trace_writer *w, const at_trace_record *rec)
{
    if (!w)
        return -1;
    const uint64_t no = w->records + 1;
    if (w->io_failed)
        return -1; /* the message of the failure stays */
    if (!rec)
        return wfail(w, "record %llu: no record given", (unsigned long long)no);

    /* Refuse what the format cannot say rather than write something the
     * readers would reject or misread. */
    if (rec->dir != AT_DIR_TE_TO_ME && rec->dir != AT_DIR_ME_TO_TE)
        return wfail(w,
                     "record %llu: direction %d is neither TE->ME nor ME->TE",
                     (unsigned long long)no, (int)rec->dir);
    if ((unsigned)rec->event > AT_TRACE_EVENT_MAX)
        return wfail(w, "record %llu: event type %u is not defined",
                     (unsigned long long)no, (unsigned)rec->event);
    if (rec->len > 0 && !rec->payload)
        return wfail(w, "record %llu: %zu payload bytes but no payload",
                     (unsigned long long)no, rec->len);
    if (rec->len > AT_TRACE_MAX_PAYLOAD)
        return wfail(w,
                     "record %llu: payload of %zu bytes is larger than the %u "
                     "bytes a record can hold (it is not truncated)",
                     (unsigned long long)no, rec->len,
                     (unsigned)AT_TRACE_MAX_PAYLOAD);
    /* pcap stores 32-bit unsigned seconds. */
    const uint64_t sec = rec->ts_ns / AT_TRACE_NS_PER_S;
    if (sec > UINT32_MAX)
        return wfail(w,
                     "record %llu: timestamp %llu ns is past what pcap can "
                     "store (year 2106)",
                     (unsigned long long)no, (unsigned long long)rec->ts_ns);

    size_t n = at_trace_encode_packet(rec, w->buf, AT_TRACE_SNAPLEN);
    if (n == 0) /* cannot happen after the checks above */
        return wfail(w, "record %llu: cannot encode it",
                     (unsigned long long)no);

    struct pcap_pkthdr h;
    memset(&h, 0, sizeof h);
    /* pcap_dump stores the low 32 bits of tv_sec, which is what a reader
     * takes as unsigned seconds; with a nanosecond pcap_t tv_usec carries
     * nanoseconds. */
    h.ts.tv_sec = (time_t)sec;
    h.ts.tv_usec = (suseconds_t)(rec->ts_ns % AT_TRACE_NS_PER_S);
    h.caplen = (bpf_u_int32)n;
    h.len = (bpf_u_int32)n;

    errno = 0;
    pcap_dump((u_char *)w->dumper, &h, w->buf);
    /* Most write errors only show when stdio flushes its buffer, which may
     * be during this call: check the stream's error flag every time. */
    if (ferror(pcap_dump_file(w->dumper)))
        return io_fail(w, errno, "cannot write");
    w->records++;
    return 0;
}

int at_trace_flush(at_trace_writer *w)
{
    if (!w)
        return -1;
    if (w->io_failed)
        return -1;
    errno = 0;
    if (pcap_dump_flush(w->dumper) != 0 || ferror(pcap_dump_file(w->dumper)))
        return io_fail(w, errno, "cannot write");
    /* A record refused earlier is reported by at_trace_finish; the stream
     * itself is fine. */
    return 0;
}

const char *at_trace_writer_error(const at_trace_writer *w)
{
    if (!w)
        return "no trace writer";
    return w->err;
}

int at_trace_finish_err(at_trace_writer *w, char *err, size_t err_cap)
{
    if (err && err_cap > 0)
        err[0] = '\0';
    if (!w) {
        at_err_set(err, err_cap, "no trace writer");
        return -1;
    }

    if (!w->io_failed) {
        FILE *fp = pcap_dump_file(w->dumper);
        errno = 0;
        if (fflush(fp) != 0 || ferror(fp))
            io_fail(w, errno, "cannot write");
    }
    if (w->own_fp) {
        /* pcap_dump_close() would fclose() too, but discard its result: a
         * delayed write error (NFS, quota) may only show up here. */
        errno = 0;
        if (fclose(pcap_dump_file(w->dumper)) != 0 && !w->io_failed)
            io_fail(w, errno, "cannot close");
    }
    /* A stream that is not ours stays open; the dumper is just that
     * stream, so there is nothing else of libpcap's to release but the
     * dead pcap_t. */

    int rc = w->any_failed ? -1 : 0;
    if (rc != 0)
        at_trace_copy_msg(err, err_cap, w->err);
    free_writer(w);
    return rc;
}

int at_trace_finish(at_trace_writer *w)
{
    return at_trace_finish_err(w, NULL, 0);
}
