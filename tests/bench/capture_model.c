/*
 * The capture model of the benchmark generator (see capture_model.h).
 *
 * The order of the rng_* calls in this file is part of the output: the
 * benchmark's seeded traces are reproduced byte for byte only as long as
 * every exchange draws the same numbers in the same order.
 */
#include "capture_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Program support                                                    */
/* ------------------------------------------------------------------ */

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", gen_program_name);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die("out of memory");
    return q;
}

void buf_add(buf *b, const void *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void buf_addf(buf *b, const char *fmt, ...)
{
    /* Measured first, so no text is ever too long to format. */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        die("formatting failed");
    char *tmp = xrealloc(NULL, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(tmp, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf_add(b, tmp, (size_t)n);
    free(tmp);
}

void buf_add_hex(buf *b, const void *data, size_t n)
{
    static const char digits[] = "0123456789ABCDEF";
    const uint8_t *in = data;
    for (size_t i = 0; i < n; i++) {
        char two[2] = {digits[in[i] >> 4], digits[in[i] & 15]};
        buf_add(b, two, 2);
    }
}

void buf_free(buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ------------------------------------------------------------------ */
/* Deterministic PRNG (SplitMix64)                                    */
/* ------------------------------------------------------------------ */

uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

uint64_t rng_range(uint64_t *state, uint64_t lo, uint64_t hi)
{
    return lo + rng_next(state) % (hi - lo + 1);
}

/* ------------------------------------------------------------------ */
/* The line and the capture                                           */
/* ------------------------------------------------------------------ */

uint64_t byte_time(uint64_t n)
{
    return n * BITS_PER_BYTE * NS_PER_S / BAUD;
}

void capture_open(capture *c, const char *path, uint64_t seed, size_t max_chunk)
{
    char err[512];
    memset(c, 0, sizeof *c);
    c->rng = seed;
    c->max_chunk = max_chunk;
    c->w = at_trace_create(path, err, sizeof err);
    if (!c->w)
        die("%s", err);
}

void capture_close(capture *c)
{
    char err[512];
    capture_flush(c);
    if (at_trace_finish_err(c->w, err, sizeof err) != 0)
        die("%s", err);
    c->w = NULL;
    free(c->recs);
    c->recs = NULL;
    c->n_recs = c->cap_recs = 0;
    buf_free(&c->pool);
}

static void queue_record(capture *c, uint64_t ts, at_dir dir,
                         at_trace_event event, const void *data, size_t len)
{
    if (c->n_recs == c->cap_recs) {
        c->cap_recs = c->cap_recs ? c->cap_recs * 2 : 256;
        c->recs = xrealloc(c->recs, c->cap_recs * sizeof *c->recs);
    }
    pending *p = &c->recs[c->n_recs++];
    p->ts = ts;
    p->seq = c->seq++;
    p->dir = dir;
    p->event = event;
    p->off = c->pool.len;
    p->len = len;
    buf_add(&c->pool, data, len);
}

/* Time order; queueing order for equal times, so the sort is stable. */
static int cmp_pending(const void *a, const void *b)
{
    const pending *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void capture_flush(capture *c)
{
    qsort(c->recs, c->n_recs, sizeof *c->recs, cmp_pending);
    for (size_t i = 0; i < c->n_recs; i++) {
        const pending *p = &c->recs[i];
        at_trace_record rec = {
            .ts_ns = p->ts,
            .dir = p->dir,
            .event = p->event,
            .channel = 0,
            .line_state = LINE_STATE,
            .flags = 0,
            .baud = BAUD,
            .payload = (const uint8_t *)c->pool.p + p->off,
            .len = p->len,
        };
        if (at_trace_write(c->w, &rec) != 0)
            die("%s", at_trace_writer_error(c->w));
        c->records++;
        c->payload_bytes += p->len;
    }
    c->n_recs = 0;
    c->pool.len = 0;
}

/* Capture-tool notes are attributed to the host side of the line. */
static void note(capture *c, uint64_t ts, at_trace_event event, const char *text)
{
    queue_record(c, ts, AT_DIR_TE_TO_ME, event, text, strlen(text));
}

void capture_note_start(capture *c, uint64_t ts)
{
    note(c, ts, AT_TEV_NOTE, "capture start");
    note(c, ts + 50 * NS_PER_US, AT_TEV_SETTINGS, "115200 8N1 rtscts");
}

void capture_note_stop(capture *c, uint64_t ts)
{
    note(c, ts, AT_TEV_NOTE, "capture stop");
}

uint64_t line_send(capture *c, at_dir dir, const void *data, size_t len,
                   uint64_t start)
{
    const uint8_t *bytes = data;
    if (start < c->line_free[dir])
        start = c->line_free[dir];
    for (size_t i = 0; i < len;) {
        size_t n = (size_t)rng_range(&c->rng, 1, c->max_chunk);
        if (n > len - i)
            n = len - i;
        uint64_t ts = start + byte_time(i + n) +
                      rng_range(&c->rng, 20, 400) * NS_PER_US; /* read latency */
        /* Reads of one direction never share a timestamp. */
        if (ts <= c->last_ts[dir])
            ts = c->last_ts[dir] + NS_PER_US;
        c->last_ts[dir] = ts;
        queue_record(c, ts, dir, AT_TEV_DATA, bytes + i, n);
        i += n;
    }
    c->line_free[dir] = start + byte_time(len);
    return c->line_free[dir];
}

uint64_t next_command_time(capture *c, uint64_t result_end)
{
    return result_end + rng_range(&c->rng, 95, 140) * NS_PER_MS;
}

/* ------------------------------------------------------------------ */
/* Exchanges                                                          */
/* ------------------------------------------------------------------ */

uint64_t command(capture *c, uint64_t t, const char *cmdline, const void *resp,
                 size_t resp_len, unsigned lo_ms, unsigned hi_ms)
{
    size_t n = strlen(cmdline);
    const char *cr = memchr(cmdline, '\r', n);
    size_t echo_len = cr ? (size_t)(cr - cmdline) + 1 : n;
    uint64_t te_end = line_send(c, AT_DIR_TE_TO_ME, cmdline, n, t);
    line_send(c, AT_DIR_ME_TO_TE, cmdline, echo_len, t + byte_time(1));
    uint64_t think = rng_range(&c->rng, lo_ms * NS_PER_MS, hi_ms * NS_PER_MS);
    uint64_t me_end = line_send(c, AT_DIR_ME_TO_TE, resp, resp_len, te_end + think);
    capture_flush(c);
    return next_command_time(c, me_end);
}

uint64_t command_text(capture *c, uint64_t t, const char *cmdline,
                      const char *resp, unsigned lo_ms, unsigned hi_ms)
{
    return command(c, t, cmdline, resp, strlen(resp), lo_ms, hi_ms);
}

uint64_t urc(capture *c, uint64_t t, const char *text)
{
    uint64_t end = line_send(c, AT_DIR_ME_TO_TE, text, strlen(text), t);
    capture_flush(c);
    return end;
}

uint64_t secure_command(capture *c, uint64_t t, const uint8_t *frame,
                        size_t frame_len, const char *result, unsigned lo_ms,
                        unsigned hi_ms)
{
    static const char cmdline[] = "AT^SBNW=is_cert,1\r\n";
    static const char echo[] = "AT^SBNW=is_cert,1\r";
    static const char connect[] = "\r\nCONNECT\r\n";
    static const char ready[] = "\r\nSECURE CMD READY: SEND COMMAND ...\r\n";

    uint64_t te_end = line_send(c, AT_DIR_TE_TO_ME, cmdline, strlen(cmdline), t);
    line_send(c, AT_DIR_ME_TO_TE, echo, strlen(echo), t + byte_time(1));
    uint64_t me_end = line_send(c, AT_DIR_ME_TO_TE, connect, strlen(connect),
                                te_end + rng_range(&c->rng, 3, 7) * NS_PER_MS);
    me_end = line_send(c, AT_DIR_ME_TO_TE, ready, strlen(ready),
                       me_end + rng_range(&c->rng, 200, 900) * NS_PER_US);
    /* The tool waits for READY, then writes the whole frame at once. */
    te_end = line_send(c, AT_DIR_TE_TO_ME, frame, frame_len,
                       me_end + rng_range(&c->rng, 8, 20) * NS_PER_MS);
    uint64_t proc = rng_range(&c->rng, lo_ms, hi_ms) * NS_PER_MS;
    me_end = line_send(c, AT_DIR_ME_TO_TE, result, strlen(result), te_end + proc);
    capture_flush(c);
    return next_command_time(c, me_end);
}
