/*
 * test_capture_drain.c - what the ports hold when a capture is stopped is
 * recorded: at_capture_run() reads every port until it is empty before it
 * closes the trace, bounded for a port that never stops sending, and a
 * write error at that point fails the run with a message.
 *
 * Deterministic without sleeps: the trace goes to a stream of this test
 * (fopencookie) with a buffer large enough that its first write is the
 * capture's first flush, at the end of its start-up, before its loop
 * reads anything. That write puts the bytes on the real PTYs the capture
 * has open and sets the stop flag, so the loop ends at once and every
 * byte is still in the kernel's buffers.
 *
 * A port that never stops sending: the test is linked with
 * -Wl,--wrap=read; before each read() of that port's PTY the wrapper
 * writes more bytes into the PTY (a real producer, timed to the reader),
 * so every read finds bytes.
 */
#define _GNU_SOURCE 1

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "attrace/trace.h"
#include "capture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

/* The capture's largest read (PEND_CAP in capture/capture.c): the largest
 * data record it writes. */
#define READ_MAX 16384u
/* The bound of the drain per port (STOP_DRAIN_BYTES in capture.c). */
#define DRAIN_BOUND (1024u * 1024u)

/* Byte @p i of the stream a test sends on one side: differs per side
 * (@p seed) and per offset, so a lost, repeated or swapped block shows. */
static uint8_t pattern(unsigned seed, uint64_t i)
{
    uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)seed * 0xD1B54A32D192ED03ull;
    x ^= x >> 29;
    return (uint8_t)(x ^ (x >> 17));
}

/* ------------------------------------------------------------------ */
/* Ports                                                               */
/* ------------------------------------------------------------------ */

/* A PTY standing in for a module's port: the capture opens @c path, the
 * test writes what the module sends into @c master. */
typedef struct pty {
    int master, slave;
    char path[128];
} pty;

static void pty_open(pty *p)
{
    p->master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(p->master >= 0);
    assert_int_equal(grantpt(p->master), 0);
    assert_int_equal(unlockpt(p->master), 0);
    snprintf(p->path, sizeof p->path, "%s", ptsname(p->master));
    /* Held open: the PTY keeps its settings and never hangs up. */
    p->slave = open(p->path, O_RDWR | O_NOCTTY);
    assert_true(p->slave >= 0);
    struct termios t;
    assert_int_equal(tcgetattr(p->slave, &t), 0);
    cfmakeraw(&t);
    assert_int_equal(tcsetattr(p->slave, TCSANOW, &t), 0);
    assert_int_equal(fcntl(p->master, F_SETFL, O_NONBLOCK), 0);
}

static void pty_close(pty *p)
{
    close(p->master);
    close(p->slave);
}

/* Writes up to *@p len bytes of side @p seed's pattern into @p fd, as
 * much as the PTY's buffers take (11.5 to 18 KiB on Linux 6, depending
 * on how it is written), and sets *@p len to that: what the trace must
 * hold. At least 4 KiB (a tty's line buffer) must go in. */
static void send_some(int fd, unsigned seed, size_t *len)
{
    uint8_t *b = malloc(*len);
    assert_non_null(b);
    for (size_t i = 0; i < *len; i++)
        b[i] = pattern(seed, i);
    size_t sent = 0;
    while (sent < *len) {
        ssize_t n = write(fd, b + sent, *len - sent < 1024 ? *len - sent : 1024);
        if (n < 0 && errno == EAGAIN)
            break;
        assert_true(n > 0);
        sent += (size_t)n;
    }
    free(b);
    assert_true(sent >= (*len < 4096 ? *len : 4096));
    *len = sent;
}

/* ------------------------------------------------------------------ */
/* The port that never stops sending (the read() wrapper)              */
/* ------------------------------------------------------------------ */

static struct {
    bool on;
    dev_t rdev;    /* the PTY the capture reads it from */
    int master;    /* where its bytes are written */
    unsigned seed;
    uint64_t sent;
} endless;

ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __wrap_read(int fd, void *buf, size_t n);

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
    struct stat st;
    if (endless.on && fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == endless.rdev) {
        uint8_t b[4096];
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = pattern(endless.seed, endless.sent + i);
        ssize_t w = write(endless.master, b, sizeof b);
        if (w > 0)
            endless.sent += (uint64_t)w;
    }
    return __real_read(fd, buf, n);
}

/* ------------------------------------------------------------------ */
/* The scene: the capture's ports, what is sent, the trace             */
/* ------------------------------------------------------------------ */

typedef struct scene {
    at_capture_mode mode;
    size_t n;                      /* channels */
    pty module[2];                 /* proxy: module ports; tap: TE->ME, ME->TE */
    char host_path[2][128];        /* proxy: the capture's host PTYs */
    int host_fd[2];
    size_t len[2][2];              /* [channel][dir]: bytes sent at the stop */
    bool endless;                  /* channel 0's module never stops sending */
    bool disk_full;                /* writes after the first fail (ENOSPC) */
    volatile sig_atomic_t stop;
    /* the trace stream */
    bool fired;
    uint8_t *out;
    size_t out_len, out_cap;
} scene;

static unsigned seed_of(size_t channel, int dir)
{
    return (unsigned)(channel * 2 + (size_t)dir + 1);
}

static void on_host_ready(void *ctx, unsigned channel, const char *path)
{
    scene *s = ctx;
    assert_true(channel < s->n);
    snprintf(s->host_path[channel], sizeof s->host_path[channel], "%s", path);
}

/* The capture has started and reads nothing until its loop: the bytes
 * go onto every port now, then the stop. */
static void send_then_stop(scene *s)
{
    for (size_t i = 0; i < s->n; i++) {
        int te_fd = s->module[0].master, me_fd = s->module[1].master;
        if (s->mode == AT_CAPTURE_PROXY) {
            s->host_fd[i] = open(s->host_path[i], O_RDWR | O_NOCTTY | O_NONBLOCK);
            assert_true(s->host_fd[i] >= 0);
            te_fd = s->host_fd[i];
            me_fd = s->module[i].master;
        }
        send_some(te_fd, seed_of(i, 0), &s->len[i][0]);
        send_some(me_fd, seed_of(i, 1), &s->len[i][1]);
    }
    if (s->endless) {
        struct stat st;
        assert_int_equal(stat(s->module[0].path, &st), 0);
        endless.rdev = st.st_rdev;
        endless.master = s->module[0].master;
        endless.seed = seed_of(0, 1);
        endless.sent = s->len[0][1];
        endless.on = true;
    }
    s->stop = SIGINT;
}

static ssize_t sink_write(void *cookie, const char *buf, size_t size)
{
    scene *s = cookie;
    if (!s->fired) {
        s->fired = true;
        send_then_stop(s);
    } else if (s->disk_full) {
        errno = ENOSPC;
        return -1;
    }
    if (s->out_len + size > s->out_cap) {
        s->out_cap = (s->out_len + size) * 2;
        s->out = realloc(s->out, s->out_cap);
        assert_non_null(s->out);
    }
    memcpy(s->out + s->out_len, buf, size);
    s->out_len += size;
    return (ssize_t)size;
}

static void scene_open(scene *s, at_capture_mode mode, size_t n)
{
    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->n = n;
    s->host_fd[0] = s->host_fd[1] = -1;
    for (size_t i = 0; i < 2; i++)
        pty_open(&s->module[i]);
}

static void scene_close(scene *s)
{
    for (size_t i = 0; i < 2; i++) {
        pty_close(&s->module[i]);
        if (s->host_fd[i] >= 0)
            close(s->host_fd[i]);
    }
    free(s->out);
    endless.on = false;
}

/* Runs the capture of @p s into its stream (a buffer of @p bufsize
 * bytes); @p log may be NULL. */
static int run(scene *s, size_t bufsize, FILE *log, at_capture_stats *st, char *err,
               size_t err_cap)
{
    at_capture_pair pairs[2];
    memset(pairs, 0, sizeof pairs);
    if (s->mode == AT_CAPTURE_TAP) {
        pairs[0].module = s->module[0].path;
        pairs[0].host = s->module[1].path;
    } else {
        for (size_t i = 0; i < s->n; i++)
            pairs[i].module = s->module[i].path;
    }
    FILE *fp = fopencookie(s, "wb", (cookie_io_functions_t){.write = sink_write});
    assert_non_null(fp);
    assert_int_equal(setvbuf(fp, NULL, _IOFBF, bufsize), 0);
    at_capture_config cfg;
    at_capture_default_config(&cfg);
    cfg.mode = s->mode;
    cfg.pairs = pairs;
    cfg.n_pairs = s->n;
    cfg.out_stream = fp;
    cfg.log = log;
    cfg.quiet = true;
    cfg.on_host_ready = on_host_ready;
    cfg.cb_ctx = s;
    int rc = at_capture_run(&cfg, &s->stop, st, err, err_cap);
    fclose(fp);
    assert_true(s->fired);
    return rc;
}

/* What the trace in @p s holds. */
typedef struct parsed {
    uint8_t *data[2][2]; /* [channel][dir]: the data records' bytes in order */
    size_t len[2][2];
    char notes[8][256];  /* the last notes, in order */
    size_t n_notes;
    size_t records_after_stop_note;
} parsed;

static void note_add(parsed *p, const at_trace_record *r)
{
    if (p->n_notes == 8) {
        memmove(p->notes[0], p->notes[1], sizeof p->notes[0] * 7);
        p->n_notes = 7;
    }
    snprintf(p->notes[p->n_notes++], sizeof p->notes[0], "%.*s", (int)r->len,
             (const char *)r->payload);
}

static void parse(const scene *s, parsed *p)
{
    memset(p, 0, sizeof *p);
    FILE *fp = fmemopen(s->out, s->out_len, "rb");
    assert_non_null(fp);
    char err[512];
    at_trace_reader *r = at_trace_open_stream(fp, "trace", err, sizeof err);
    assert_non_null(r);
    at_trace_record rec;
    uint64_t last_ts = 0;
    bool stopped = false;
    int rc;
    while ((rc = at_trace_next(r, &rec)) == 1) {
        if (stopped)
            p->records_after_stop_note++;
        if (rec.event == AT_TEV_NOTE) {
            note_add(p, &rec);
            stopped |= rec.len == 12 && memcmp(rec.payload, "capture stop", 12) == 0;
        }
        if (rec.event != AT_TEV_DATA)
            continue;
        assert_true(rec.channel < 2);
        assert_true(rec.len > 0 && rec.len <= READ_MAX);
        assert_true(rec.ts_ns >= last_ts); /* recorded as read */
        last_ts = rec.ts_ns;
        size_t *len = &p->len[rec.channel][rec.dir];
        uint8_t **data = &p->data[rec.channel][rec.dir];
        *data = realloc(*data, *len + rec.len);
        assert_non_null(*data);
        memcpy(*data + *len, rec.payload, rec.len);
        *len += rec.len;
    }
    assert_int_equal(rc, 0);
    at_trace_close(r); /* and fp */
}

static void parsed_free(parsed *p)
{
    for (int i = 0; i < 2; i++)
        for (int d = 0; d < 2; d++)
            free(p->data[i][d]);
}

/* Channel @p i, direction @p d of the trace holds exactly @p len bytes of
 * that side's pattern. */
static void assert_stream(const parsed *p, size_t i, int d, size_t len)
{
    assert_int_equal(p->len[i][d], len);
    for (size_t k = 0; k < len; k++)
        if (p->data[i][d][k] != pattern(seed_of(i, d), k))
            fail_msg("channel %zu dir %d: byte %zu differs", i, d, k);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

/* Runs @p s, whose stop must be clean, and reads its trace into @p p:
 * each channel and direction holds exactly what was sent on it before
 * the stop, and the trace ends with the stop note. */
static void run_clean(scene *s, FILE *log, at_capture_stats *st, parsed *p)
{
    char err[512] = "";
    int rc = run(s, 1u << 20, log, st, err, sizeof err);
    if (rc != AT_CAPTURE_OK)
        fail_msg("the capture failed (%d): %s", rc, err);
    parse(s, p);
    for (size_t i = 0; i < s->n; i++)
        for (int d = 0; d < 2 && !s->endless; d++)
            assert_stream(p, i, d, s->len[i][d]);
    assert_true(p->n_notes >= 2);
    assert_string_equal(p->notes[p->n_notes - 1], "capture stop");
}

/* Proxy, two channels: what both hosts and both modules sent before the
 * stop is in the trace, byte for byte, on its channel and direction, and
 * before each channel's "capture stop". */
static void test_proxy_stop_records_pending_bytes(void **state)
{
    (void)state;
    scene s;
    scene_open(&s, AT_CAPTURE_PROXY, 2);
    s.len[0][0] = 6000;
    s.len[0][1] = 9000;
    s.len[1][0] = 1500;
    s.len[1][1] = 11000;
    at_capture_stats st;
    parsed p;
    run_clean(&s, NULL, &st, &p);
    assert_int_equal(st.bytes[0], s.len[0][0] + s.len[1][0]);
    assert_int_equal(st.bytes[1], s.len[0][1] + s.len[1][1]);
    assert_string_equal(p.notes[p.n_notes - 2], "capture stop");
    assert_int_equal(p.records_after_stop_note, 1); /* channel 1's stop note */
    parsed_free(&p);
    scene_close(&s);
}

/* Tap: both listening ports are read out, each in its direction. */
static void test_tap_stop_records_pending_bytes(void **state)
{
    (void)state;
    scene s;
    scene_open(&s, AT_CAPTURE_TAP, 1);
    s.len[0][0] = 12345;
    s.len[0][1] = 777;
    at_capture_stats st;
    parsed p;
    run_clean(&s, NULL, &st, &p);
    assert_int_equal(st.bytes[0], s.len[0][0]);
    assert_int_equal(st.bytes[1], s.len[0][1]);
    parsed_free(&p);
    scene_close(&s);
}

/* A module that keeps sending does not hold the stop: the drain ends
 * after the bound, everything read is recorded in order, and the trace
 * and the log say that later bytes are not recorded. */
static void test_endless_port_is_cut_off_with_a_note(void **state)
{
    (void)state;
    scene s;
    scene_open(&s, AT_CAPTURE_PROXY, 1);
    s.len[0][1] = 100;
    s.endless = true;
    char *logbuf = NULL;
    size_t logsize = 0;
    FILE *log = open_memstream(&logbuf, &logsize);
    assert_non_null(log);
    at_capture_stats st;
    parsed p;
    run_clean(&s, log, &st, &p);
    fclose(log);
    size_t got = p.len[0][1];
    /* the byte bound, or the time bound on a slow machine */
    assert_true(got > s.len[0][1] && got < DRAIN_BOUND + READ_MAX);
    assert_true(got <= endless.sent);
    assert_stream(&p, 0, 1, got);
    assert_stream(&p, 0, 0, 0);
    char want[256];
    snprintf(want, sizeof want,
             "%s still sending at the stop: %zu bytes read then, later ones not recorded",
             s.module[0].path, got);
    assert_string_equal(p.notes[p.n_notes - 2], want);
    assert_non_null(strstr(logbuf, "was still sending when the capture stopped"));
    free(logbuf);
    parsed_free(&p);
    scene_close(&s);
}

/* The disk is full when the stop's bytes are written: the run fails with
 * the writer's message instead of a silently short trace. */
static void test_write_error_at_the_stop_fails_the_run(void **state)
{
    (void)state;
    scene s;
    scene_open(&s, AT_CAPTURE_PROXY, 1);
    s.len[0][1] = 12000;
    s.disk_full = true;
    at_capture_stats st;
    char err[512] = "";
    /* a small buffer: the drain's records reach the stream at once */
    assert_int_equal(run(&s, 4096, NULL, &st, err, sizeof err), AT_CAPTURE_FAILED);
    assert_non_null(strstr(err, "No space left on device"));
    assert_non_null(strstr(err, "cannot write"));
    scene_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proxy_stop_records_pending_bytes),
        cmocka_unit_test(test_tap_stop_records_pending_bytes),
        cmocka_unit_test(test_endless_port_is_cut_off_with_a_note),
        cmocka_unit_test(test_write_error_at_the_stop_fails_the_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
