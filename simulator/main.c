/*
 * main.c - attrace-sim: the simulated module (engine.h) on a PTY or a real
 * serial port, with fault injection on the link and an optional trace of
 * the session as the module sees it (TRACE-FORMAT.md).
 *
 * One poll loop: host bytes go (after the receive faults) to the engine
 * with their CLOCK_REALTIME arrival time; everything the engine writes
 * goes through an output queue that applies the response delay and the
 * per-byte pacing. The same realtime nanoseconds drive the engine's
 * deadlines and stamp the trace records.
 */
#define _GNU_SOURCE /* getopt_long, posix_openpt, CRTSCTS, cfmakeraw */

#include "engine.h"
#include "net.h"
#include "store.h"

#include "attrace/profile.h"
#include "attrace/trace.h"
#include "clock.h"
#include "errbuf.h"
#include "escape.h"
#include "serial.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PROG "attrace-sim"
#define NS_PER_MS 1000000ull
#define OVERRUN_BURST 64u             /* bytes a module without RTS/CTS takes */
#define OVERRUN_PAUSE_NS (10 * NS_PER_MS) /* a pause this long ends a burst */
#define FLUSH_NS (100 * NS_PER_MS)

/* ------------------------------------------------------------------ */
/* Options                                                            */
/* ------------------------------------------------------------------ */

typedef struct opts {
    const char *link, *port, *store, *imei, *log, *trace;
    const at_profile *profile;
    uint32_t timeout_ms;
    bool have_timeout;
    double drop_rate, corrupt_rate;
    uint32_t delay_ms, byte_time_us;
    bool require_rtscts;
    bool ok_after_error;
    bool data_mode;
    uint64_t seed;
} opts;

static void usage(FILE *fp)
{
    fprintf(fp,
        "Usage: " PROG " --store DIR [OPTIONS]\n"
        "\n"
        "An emulated Cinterion module: answers AT commands (echo, ATV, ATI,\n"
        "AT+CGSN, AT+CMEE, ...), runs the secure-command exchange of\n"
        "AT^SBNW=is_cert,1 with real signature checks and lists the store with\n"
        "AT^SBNR=is_cert. The internet services (AT^SICS, AT^SISS, AT^SISO,\n"
        "AT^SISW, AT^SISR, AT^SISC, AT^SISI) make real TCP and TLS connections,\n"
        "to loopback addresses only (127.0.0.0/8, localhost, ::1): secOpt selects\n"
        "the stored certificates that must confirm the server, +CIEV: is_cert\n"
        "reports its certificate, ^SIS its failures.\n"
        "\n"
        "By default it serves a new pseudo-terminal and prints one line,\n"
        "\"" PROG ": module on /dev/pts/N\", naming the device the host opens.\n"
        "It runs until SIGINT, SIGTERM or SIGHUP, then closes cleanly (trace\n"
        "finished, link removed) and exits 0. Several instances can run\n"
        "side by side.\n"
        "\n"
        "Options:\n"
        "  --store DIR         the module's certificate store (required): a\n"
        "                      directory, created if missing, holding cert-NN.der\n"
        "                      and key-00.der; it survives restarts like flash\n"
        "  --link PATH         also create a symlink PATH to the pseudo-terminal\n"
        "                      (an existing symlink is replaced, any other file is\n"
        "                      refused); removed on exit\n"
        "  --port DEVICE       serve a real serial port instead of a\n"
        "                      pseudo-terminal (115200 8N1, no flow control)\n"
        "  --imei DIGITS       the module's IMEI, 15 digits (default: a fixed\n"
        "                      Luhn-valid one)\n"
        "  --profile NAME      module family: legacy (default; indexes 0..10,\n"
        "                      SHA-1) or newer (0..30, SHA-256, expiry dates)\n"
        "  --timeout-ms N      secure-command service timeout: a frame still\n"
        "                      incomplete N ms after SECURE CMD READY ends in\n"
        "                      SECURE CMD SERVICE TIMEOUT ERROR (default 5000)\n"
        "  --seed N            seed of the fault generator (default 1): the same\n"
        "                      seed and input give the same faults\n"
        "  --log FILE          append the log to FILE instead of standard error\n"
        "  -w, --write TRACE   record the session as the module sees it to TRACE\n"
        "                      (pcap, TRACE-FORMAT.md, mode 0600): a settings\n"
        "                      record, notes at start and stop, every read from\n"
        "                      the host (TE->ME) and every write to it (ME->TE);\n"
        "                      flushed after each answer and at least every 100 ms\n"
        "  -h, --help          show this help\n"
        "\n");
    fprintf(fp,
        "Fault injection (each fault is logged):\n"
        "  --drop-rate P       drop each byte received from the host with\n"
        "                      probability P (0..1); the trace then holds an\n"
        "                      overrun record with the count of lost bytes\n"
        "  --corrupt-rate P    flip one random bit of each (not dropped) byte\n"
        "                      received from the host with probability P (0..1)\n"
        "  --delay-ms N        wait N ms before sending each response burst\n"
        "                      (everything the module answers to one input)\n"
        "  --byte-time-us N    send one byte every N microseconds: a simulated\n"
        "                      baud rate (115200 8N1 is about 87)\n"
        "  --ok-after-error    end a failed secure command with the final result OK\n"
        "                      (after SECURE CMD ... ERROR), as a BGS2 in the field\n"
        "                      did, instead of ERROR\n"
        "  --data-mode         start in data mode, as on a transparent connection:\n"
        "                      what the host sends is data (no echo, no answer)\n"
        "                      until the escape +++ with a second of silence before\n"
        "                      and after it, answered OK\n"
        "  --require-rtscts    behave as a module whose host does not use\n"
        "                      hardware flow control: unless the host has enabled\n"
        "                      CRTSCTS on the pseudo-terminal, the bytes of a burst\n"
        "                      after its first 64 are lost (overrun), a burst\n"
        "                      being bytes without a pause of 10 ms. With --port\n"
        "                      it turns RTS/CTS flow control on instead\n"
        "\n"
        "The log (--log, else standard error) has one line per exchange and per\n"
        "fault, each prefixed with a UTC timestamp.\n"
        "\n"
        "Exit status: 0 after SIGINT/SIGTERM, 1 on a runtime error, 2 on a usage\n"
        "error.\n");
}

_Noreturn static void usage_error(const char *fmt, ...) AT_PRINTF(1, 2);
_Noreturn static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    at_vmsg(PROG, fmt, ap);
    va_end(ap);
    fputs("Try '" PROG " --help' for more information.\n", stderr);
    exit(2);
}

static uint64_t parse_uint(const char *opt, const char *s, uint64_t max)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        usage_error("%s: '%s' is not a non-negative integer", opt, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        usage_error("%s: '%s' is not an integer in 0..%" PRIu64, opt, s, max);
    return v;
}

static double parse_rate(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0.0 && v <= 1.0))
        usage_error("%s: '%s' is not a probability between 0 and 1", opt, s);
    return v;
}

enum {
    OPT_LINK = 256, OPT_PORT, OPT_STORE, OPT_IMEI, OPT_PROFILE, OPT_TIMEOUT,
    OPT_DROP, OPT_CORRUPT, OPT_DELAY, OPT_BYTE_TIME, OPT_RTSCTS, OPT_SEED,
    OPT_LOG, OPT_OK_AFTER_ERROR, OPT_DATA_MODE
};

static void parse_opts(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"link", required_argument, NULL, OPT_LINK},
        {"port", required_argument, NULL, OPT_PORT},
        {"store", required_argument, NULL, OPT_STORE},
        {"imei", required_argument, NULL, OPT_IMEI},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
        {"drop-rate", required_argument, NULL, OPT_DROP},
        {"corrupt-rate", required_argument, NULL, OPT_CORRUPT},
        {"delay-ms", required_argument, NULL, OPT_DELAY},
        {"byte-time-us", required_argument, NULL, OPT_BYTE_TIME},
        {"require-rtscts", no_argument, NULL, OPT_RTSCTS},
        {"ok-after-error", no_argument, NULL, OPT_OK_AFTER_ERROR},
        {"data-mode", no_argument, NULL, OPT_DATA_MODE},
        {"seed", required_argument, NULL, OPT_SEED},
        {"log", required_argument, NULL, OPT_LOG},
        {"write", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->profile = at_profile_get(AT_PROFILE_LEGACY);
    o->seed = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":w:h", lo, NULL)) != -1) {
        switch (c) {
        case OPT_LINK: o->link = optarg; break;
        case OPT_PORT: o->port = optarg; break;
        case OPT_STORE: o->store = optarg; break;
        case OPT_IMEI: {
            size_t n = strlen(optarg);
            if (n != 15 || strspn(optarg, "0123456789") != n)
                usage_error("--imei: '%s' is not 15 digits", optarg);
            o->imei = optarg;
            break;
        }
        case OPT_PROFILE:
            o->profile = at_profile_by_name(optarg);
            if (!o->profile)
                usage_error("--profile: unknown profile '%s' (legacy or newer)", optarg);
            break;
        case OPT_TIMEOUT:
            o->timeout_ms = (uint32_t)parse_uint("--timeout-ms", optarg, 3600000);
            if (o->timeout_ms == 0)
                usage_error("--timeout-ms: must be at least 1");
            o->have_timeout = true;
            break;
        case OPT_DROP: o->drop_rate = parse_rate("--drop-rate", optarg); break;
        case OPT_CORRUPT: o->corrupt_rate = parse_rate("--corrupt-rate", optarg); break;
        case OPT_DELAY:
            o->delay_ms = (uint32_t)parse_uint("--delay-ms", optarg, 600000);
            break;
        case OPT_BYTE_TIME:
            o->byte_time_us = (uint32_t)parse_uint("--byte-time-us", optarg, 1000000);
            break;
        case OPT_RTSCTS: o->require_rtscts = true; break;
        case OPT_OK_AFTER_ERROR: o->ok_after_error = true; break;
        case OPT_DATA_MODE: o->data_mode = true; break;
        case OPT_SEED: o->seed = parse_uint("--seed", optarg, UINT64_MAX); break;
        case OPT_LOG: o->log = optarg; break;
        case 'w': o->trace = optarg; break;
        case 'h': usage(stdout); exit(0);
        case ':': usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            if (optopt)
                usage_error("unknown option '-%c'", optopt);
            usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if (o->trace && strcmp(o->trace, "-") == 0)
        usage_error("-w: standard output carries the device line; name a file");
    if (!o->store)
        usage_error("--store DIR is required");
    if (o->port && o->link)
        usage_error("--link only applies to the pseudo-terminal, not to --port");
}

/* ------------------------------------------------------------------ */
/* State                                                              */
/* ------------------------------------------------------------------ */

/* One response burst waiting to go out. */
typedef struct outseg {
    struct outseg *next;
    uint64_t release_ns; /* not before this time (--delay-ms) */
    size_t len, off, cap;
    uint8_t *data;
} outseg;

typedef struct sim_prog {
    opts o;
    FILE *log;
    int fd;                  /* PTY master or the port's descriptor */
    int slave_fd;            /* our own hold on the PTY slave, -1 with --port */
    char slave_path[256];
    bool on_port;            /* --port: fd is the serial layer's port */
    at_serial_port port;
    bool link_made;
    at_trace_writer *tw;
    bool trace_dirty;
    uint64_t last_flush_ns;
    sim_store *store;
    sim_engine *eng;
    sim_net *net;            /* the services' connections */
    uint64_t now_ns;         /* time of the current engine call */
    bool in_engine;
    outseg *head, *tail;
    bool tail_open;          /* tail belongs to the current engine call */
    uint64_t next_byte_ns;   /* pacing clock (--byte-time-us) */
    uint64_t rng;
    uint64_t rx_total;       /* bytes read from the host so far */
    uint64_t burst_bytes, last_rx_ns;
    bool have_rx;
    tcflag_t last_cflag;
    speed_t last_speed;
    bool have_termios;
    bool failed;
    int log_errno;           /* the first error writing the log, 0 = none */
} sim_prog;

static volatile sig_atomic_t g_stop;
static int g_sigpipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    g_stop = sig;
    if (g_sigpipe[1] >= 0) {
        char b = 1;
        ssize_t r = write(g_sigpipe[1], &b, 1);
        (void)r;
    }
    errno = saved;
}

/* ------------------------------------------------------------------ */
/* Log                                                                */
/* ------------------------------------------------------------------ */

static void logf_(sim_prog *p, const char *fmt, ...) AT_PRINTF(2, 3);
static void logf_(sim_prog *p, const char *fmt, ...)
{
    uint64_t t = at_clock_real_ns();
    time_t s = (time_t)(t / 1000000000ull);
    struct tm tm;
    char stamp[40];
    gmtime_r(&s, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(p->log, "%s.%03uZ ", stamp, (unsigned)(t % 1000000000ull / 1000000ull));
    /* Names (store, port, link) and host text as in messages: escaped;
     * the engine's own escapes keep their backslash. */
    va_list ap;
    va_start(ap, fmt);
    at_escape_vprintf(p->log, AT_ESC_KEEP_BACKSLASH, fmt, ap);
    va_end(ap);
    fputc('\n', p->log);
    /* A lost log line is reported once, and the exit status says so. */
    if ((fflush(p->log) != 0 || ferror(p->log)) && !p->log_errno) {
        p->log_errno = errno ? errno : EIO;
        at_msg(PROG, "--log %s: %s: log lines are lost", p->o.log ? p->o.log : "(stderr)",
               strerror(p->log_errno));
    }
}

static void eng_log(void *ctx, const char *line)
{
    logf_(ctx, "%s", line);
}

/* The services' network (net.c) behind the engine's sim_svc_io. */
static void svc_open(void *ctx, const sim_svc_request *req, sim_svc_outcome *out)
{
    sim_prog *p = ctx;
    sim_net_open(p->net, req, out);
}

static int svc_write(void *ctx, unsigned id, const uint8_t *data, size_t len, char *err,
                     size_t cap)
{
    sim_prog *p = ctx;
    return sim_net_write(p->net, id, data, len, err, cap);
}

static size_t svc_read(void *ctx, unsigned id, uint8_t *buf, size_t cap, size_t *left)
{
    sim_prog *p = ctx;
    return sim_net_read(p->net, id, buf, cap, left);
}

static void svc_close(void *ctx, unsigned id)
{
    sim_prog *p = ctx;
    sim_net_close(p->net, id);
}

/* ------------------------------------------------------------------ */
/* Trace                                                              */
/* ------------------------------------------------------------------ */

static void trace_rec(sim_prog *p, uint64_t ts, at_dir dir, at_trace_event ev,
                      uint16_t flags, const void *data, size_t len)
{
    if (!p->tw)
        return;
    at_trace_record r;
    memset(&r, 0, sizeof r);
    r.ts_ns = ts;
    r.dir = dir;
    r.event = ev;
    r.line_state = AT_LINE_UNKNOWN;
    r.flags = flags;
    r.baud = p->on_port ? 115200 : 0;
    r.payload = data;
    r.len = len;
    if (at_trace_write(p->tw, &r) != 0 && !p->failed) {
        logf_(p, "trace: %s", at_trace_writer_error(p->tw));
        p->failed = true;
    }
    p->trace_dirty = true;
}

static void trace_note(sim_prog *p, uint64_t ts, const char *text)
{
    trace_rec(p, ts, AT_DIR_TE_TO_ME, AT_TEV_NOTE, 0, text, strlen(text));
}

static void trace_flush(sim_prog *p, uint64_t ts)
{
    if (p->tw && p->trace_dirty) {
        if (at_trace_flush(p->tw) != 0 && !p->failed) {
            logf_(p, "trace: %s", at_trace_writer_error(p->tw));
            p->failed = true;
        }
        p->trace_dirty = false;
    }
    p->last_flush_ns = ts;
}

static unsigned speed_value(speed_t s)
{
    static const struct { speed_t s; unsigned v; } tab[] = {
        {B1200, 1200}, {B2400, 2400}, {B4800, 4800}, {B9600, 9600},
        {B19200, 19200}, {B38400, 38400}, {B57600, 57600},
        {B115200, 115200}, {B230400, 230400}, {B460800, 460800},
        {B921600, 921600}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (tab[i].s == s)
            return tab[i].v;
    return 0;
}

/* The PTY's settings as the host set them; a settings record on change. */
static void check_termios(sim_prog *p, uint64_t ts)
{
    if (p->on_port)
        return;
    struct termios t;
    if (tcgetattr(p->fd, &t) != 0)
        return;
    speed_t sp = cfgetospeed(&t);
    tcflag_t cf = t.c_cflag & (CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
    if (p->have_termios && cf == p->last_cflag && sp == p->last_speed)
        return;
    bool first = !p->have_termios;
    p->have_termios = true;
    p->last_cflag = cf;
    p->last_speed = sp;
    unsigned bits = (cf & CSIZE) == CS5 ? 5 : (cf & CSIZE) == CS6 ? 6
                  : (cf & CSIZE) == CS7 ? 7 : 8;
    char par = !(cf & PARENB) ? 'N' : (cf & PARODD) ? 'O' : 'E';
    char text[64];
    snprintf(text, sizeof text, "%u %u%c%u%s", speed_value(sp), bits, par,
             (cf & CSTOPB) ? 2u : 1u, (cf & CRTSCTS) ? " rtscts" : "");
    trace_rec(p, ts, AT_DIR_TE_TO_ME, AT_TEV_SETTINGS, 0, text, strlen(text));
    if (!first)
        logf_(p, "host changed the line settings: %s", text);
}

/* ------------------------------------------------------------------ */
/* Output queue                                                       */
/* ------------------------------------------------------------------ */

static void eng_write(void *ctx, const uint8_t *data, size_t len)
{
    sim_prog *p = ctx;
    if (!len)
        return;
    outseg *s = p->tail_open ? p->tail : NULL;
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) {
            logf_(p, "out of memory: %zu response bytes lost", len);
            p->failed = true;
            return;
        }
        s->release_ns = p->now_ns + (uint64_t)p->o.delay_ms * NS_PER_MS;
        if (p->tail)
            p->tail->next = s;
        else
            p->head = s;
        p->tail = s;
        p->tail_open = p->in_engine;
    }
    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + len)
            cap *= 2;
        uint8_t *d = realloc(s->data, cap);
        if (!d) {
            logf_(p, "out of memory: %zu response bytes lost", len);
            p->failed = true;
            return;
        }
        s->data = d;
        s->cap = cap;
    }
    memcpy(s->data + s->len, data, len);
    s->len += len;
}

static void engine_begin(sim_prog *p, uint64_t t)
{
    p->now_ns = t;
    p->in_engine = true;
    p->tail_open = false;
}

static void engine_end(sim_prog *p)
{
    p->in_engine = false;
    p->tail_open = false;
}

static void pop_head(sim_prog *p)
{
    outseg *s = p->head;
    p->head = s->next;
    if (!p->head)
        p->tail = NULL;
    free(s->data);
    free(s);
}

static ssize_t dev_write(sim_prog *p, const uint8_t *d, size_t n)
{
    return write(p->fd, d, n);
}

/* Sends what is due; returns the time of the next due byte (0 = none). */
static uint64_t pump_output(sim_prog *p, uint64_t t, bool *want_pollout)
{
    *want_pollout = false;
    while (p->head) {
        outseg *s = p->head;
        if (s->off == s->len) {
            pop_head(p);
            continue;
        }
        if (t < s->release_ns)
            return s->release_ns;
        size_t n = s->len - s->off;
        uint64_t bt = (uint64_t)p->o.byte_time_us * 1000ull;
        if (bt) {
            if (p->next_byte_ns < s->release_ns)
                p->next_byte_ns = s->release_ns;
            if (p->next_byte_ns + 20 * NS_PER_MS < t) /* idle link: no catching up */
                p->next_byte_ns = t;
            if (t < p->next_byte_ns)
                return p->next_byte_ns;
            uint64_t due = 1 + (t - p->next_byte_ns) / bt;
            if (due < n)
                n = (size_t)due;
        }
        ssize_t w = dev_write(p, s->data + s->off, n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                *want_pollout = true;
                return 0;
            }
            /* EIO: nobody can read the PTY now; keep the bytes */
            *want_pollout = false;
            return t + 50 * NS_PER_MS;
        }
        if (w == 0) {
            *want_pollout = true;
            return 0;
        }
        trace_rec(p, t, AT_DIR_ME_TO_TE, AT_TEV_DATA, 0, s->data + s->off, (size_t)w);
        s->off += (size_t)w;
        if (bt)
            p->next_byte_ns += (uint64_t)w * bt;
        if ((size_t)w < n) {
            *want_pollout = true;
            return 0;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Input with faults                                                  */
/* ------------------------------------------------------------------ */

static uint64_t rng_next(sim_prog *p)
{
    /* splitmix64 */
    uint64_t z = (p->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static bool rng_chance(sim_prog *p, double prob)
{
    if (prob <= 0.0)
        return false;
    if (prob >= 1.0)
        return true;
    return (double)(rng_next(p) >> 11) * (1.0 / 9007199254740992.0) < prob;
}

static void handle_input(sim_prog *p, uint64_t t, uint8_t *buf, size_t n)
{
    check_termios(p, t);
    bool overrun = p->o.require_rtscts && !p->on_port && !(p->last_cflag & CRTSCTS);
    if (!p->have_rx || t - p->last_rx_ns >= OVERRUN_PAUSE_NS)
        p->burst_bytes = 0;
    p->have_rx = true;
    p->last_rx_ns = t;

    size_t kept = 0, dropped = 0, overrun_lost = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t off = p->rx_total + i;
        uint8_t b = buf[i];
        p->burst_bytes++;
        if (overrun && p->burst_bytes > OVERRUN_BURST) {
            overrun_lost++;
            continue;
        }
        if (rng_chance(p, p->o.drop_rate)) {
            dropped++;
            continue;
        }
        if (rng_chance(p, p->o.corrupt_rate)) {
            /* The bit, not the byte: the host's bytes may be its private
             * key, and the log is no place for them. */
            unsigned bit = (unsigned)(rng_next(p) % 8);
            logf_(p, "fault: corrupted host byte at offset %" PRIu64 ": bit %u flipped", off,
                  bit);
            b = (uint8_t)(b ^ (1u << bit));
        }
        buf[kept++] = b;
    }
    if (dropped)
        logf_(p, "fault: dropped %zu of %zu bytes read from the host (offsets %" PRIu64
                 "..%" PRIu64 ")", dropped, n, p->rx_total, p->rx_total + n - 1);
    if (overrun_lost)
        logf_(p, "fault: overrun, %zu of %zu bytes lost: the host sends more than %u "
                 "bytes at once without RTS/CTS flow control",
              overrun_lost, n, OVERRUN_BURST);
    p->rx_total += n;

    uint32_t lost = (uint32_t)(dropped + overrun_lost);
    if (lost) {
        uint8_t be[4] = {(uint8_t)(lost >> 24), (uint8_t)(lost >> 16),
                         (uint8_t)(lost >> 8), (uint8_t)lost};
        trace_rec(p, t, AT_DIR_TE_TO_ME, AT_TEV_OVERRUN, 0, be, 4);
    }
    if (kept) {
        trace_rec(p, t, AT_DIR_TE_TO_ME, AT_TEV_DATA, 0, buf, kept);
        engine_begin(p, t);
        sim_engine_input(p->eng, t, buf, kept);
        engine_end(p);
    }
}

/* ------------------------------------------------------------------ */
/* Devices                                                            */
/* ------------------------------------------------------------------ */

static int set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int open_pty(sim_prog *p, char *err, size_t cap)
{
    p->fd = posix_openpt(O_RDWR | O_NOCTTY);
    if (p->fd < 0) {
        at_err_set(err, cap, "cannot open a pseudo-terminal: %s", strerror(errno));
        return -1;
    }
    if (grantpt(p->fd) != 0 || unlockpt(p->fd) != 0) {
        at_err_set(err, cap, "cannot unlock the pseudo-terminal: %s", strerror(errno));
        return -1;
    }
    const char *name = ptsname(p->fd);
    if (!name || strlen(name) >= sizeof p->slave_path) {
        at_err_set(err, cap, "cannot name the pseudo-terminal: %s", strerror(errno));
        return -1;
    }
    strcpy(p->slave_path, name);
    /* Our own hold on the slave: a host that closes and reopens never
     * leaves the master without a slave (no EIO/HUP loop). */
    p->slave_fd = open(p->slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (p->slave_fd < 0) {
        at_err_set(err, cap, "cannot open %s: %s", p->slave_path, strerror(errno));
        return -1;
    }
    struct termios t;
    if (tcgetattr(p->fd, &t) == 0) {
        cfmakeraw(&t);
        t.c_cflag |= CLOCAL | CREAD;
        cfsetispeed(&t, B115200);
        cfsetospeed(&t, B115200);
        tcsetattr(p->fd, TCSANOW, &t);
    }
    if (set_nonblock_cloexec(p->fd) != 0) {
        at_err_set(err, cap, "cannot configure the pseudo-terminal: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int open_port(sim_prog *p, char *err, size_t cap)
{
    at_serial_line line = at_serial_default_line();
    if (p->o.require_rtscts)
        line.flow = AT_SERIAL_FLOW_RTSCTS;
    if (at_serial_open(&p->port, p->o.port, &line, false, err, cap) != 0)
        return -1;
    p->on_port = true;
    p->fd = p->port.fd;
    return 0;
}

static int make_link(sim_prog *p, char *err, size_t cap)
{
    struct stat st;
    if (lstat(p->o.link, &st) == 0) {
        if (!S_ISLNK(st.st_mode)) {
            at_err_set(err, cap, "--link %s: exists and is not a symlink: not replacing it",
                       p->o.link);
            return -1;
        }
        if (unlink(p->o.link) != 0) {
            at_err_set(err, cap, "--link %s: cannot remove the old link: %s", p->o.link,
                       strerror(errno));
            return -1;
        }
    }
    if (symlink(p->slave_path, p->o.link) != 0) {
        at_err_set(err, cap, "--link %s: %s", p->o.link, strerror(errno));
        return -1;
    }
    p->link_made = true;
    return 0;
}

static void remove_link(sim_prog *p)
{
    if (!p->link_made)
        return;
    char target[sizeof p->slave_path];
    ssize_t n = readlink(p->o.link, target, sizeof target - 1);
    if (n >= 0) {
        target[n] = '\0';
        if (strcmp(target, p->slave_path) == 0 && unlink(p->o.link) != 0)
            logf_(p, "cannot remove %s: %s", p->o.link, strerror(errno));
    }
    p->link_made = false;
}

/* ------------------------------------------------------------------ */
/* Main loop                                                          */
/* ------------------------------------------------------------------ */

/* Received bytes or a close on a service connection go to the engine. */
static void pump_service(sim_prog *p, unsigned id)
{
    char why[300] = "";
    int got = sim_net_pump(p->net, id, why, sizeof why);
    if (!got)
        return;
    uint64_t t = at_clock_real_ns();
    engine_begin(p, t);
    if (got & SIM_NET_GOT_DATA)
        sim_engine_service_event(p->eng, t, id, SIM_SVC_DATA);
    if (got & SIM_NET_GOT_CLOSE) {
        if (!strstr(why, "peer closed")) /* the engine logs an orderly close */
            logf_(p, "service %u: connection ended: %s", id, why);
        sim_engine_service_event(p->eng, t, id, SIM_SVC_CLOSED);
    }
    engine_end(p);
}

static int run(sim_prog *p)
{
    uint8_t buf[4096];
    bool read_ok = true;
    while (!g_stop && !p->failed) {
        for (unsigned id = 0; id < SIM_SERVICES; id++)
            if (sim_net_ready(p->net, id))
                pump_service(p, id);
        uint64_t t = at_clock_real_ns();
        engine_begin(p, t);
        sim_engine_tick(p->eng, t);
        engine_end(p);
        bool want_out;
        uint64_t next = pump_output(p, t, &want_out);
        if (p->trace_dirty && (!p->head || t - p->last_flush_ns >= FLUSH_NS))
            trace_flush(p, t);

        uint64_t dl = sim_engine_deadline(p->eng);
        if (next && (!dl || next < dl))
            dl = next;
        if (p->trace_dirty && (!dl || p->last_flush_ns + FLUSH_NS < dl))
            dl = p->last_flush_ns + FLUSH_NS;
        if (!read_ok && (!dl || t + 50 * NS_PER_MS < dl))
            dl = t + 50 * NS_PER_MS;
        int timeout = -1;
        if (dl) {
            uint64_t ms = dl > t ? (dl - t + NS_PER_MS - 1) / NS_PER_MS : 0;
            timeout = ms > 60000 ? 60000 : (int)ms;
        }
        struct pollfd pf[2 + SIM_SERVICES] = {
            {.fd = g_sigpipe[0], .events = POLLIN},
            {.fd = p->fd, .events = (short)((read_ok ? POLLIN : 0) | (want_out ? POLLOUT : 0))}};
        if (!read_ok && !want_out)
            pf[1].fd = -1; /* a hung-up PTY would wake poll at once */
        for (unsigned id = 0; id < SIM_SERVICES; id++) {
            pf[2 + id].fd = sim_net_poll_fd(p->net, id);
            pf[2 + id].events = POLLIN;
            if (sim_net_ready(p->net, id))
                timeout = 0;
        }
        int r = poll(pf, 2 + SIM_SERVICES, timeout);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            logf_(p, "poll: %s", strerror(errno));
            return -1;
        }
        read_ok = true;
        if (pf[0].revents)
            break;
        for (unsigned id = 0; id < SIM_SERVICES; id++)
            if (pf[2 + id].fd >= 0 && pf[2 + id].revents)
                pump_service(p, id);
        if (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n;
            n = read(p->fd, buf, sizeof buf);
            if (p->on_port && (n < 0 ? errno != EAGAIN && errno != EINTR
                                     : n == 0 && (pf[1].revents & (POLLHUP | POLLERR)))) {
                logf_(p, "port %s lost", p->o.port);
                trace_note(p, at_clock_real_ns(), "port lost");
                return -1;
            }
            if (n > 0) {
                handle_input(p, at_clock_real_ns(), buf, (size_t)n);
            } else if (n < 0 && errno != EAGAIN && errno != EINTR &&
                       errno != EWOULDBLOCK) {
                if (errno != EIO) {
                    logf_(p, "read: %s", strerror(errno));
                    return -1;
                }
                read_ok = false; /* EIO: no slave open; retry after a pause */
            } else if (n == 0 || (pf[1].revents & (POLLHUP | POLLERR))) {
                read_ok = false;
            }
        }
    }
    return p->failed ? -1 : 0;
}

/* SIGINT/SIGTERM/SIGHUP wake the loop through the self-pipe; a closed
 * reader gives EPIPE instead of killing us. */
static int install_signal_handlers(void)
{
    if (pipe(g_sigpipe) != 0 || set_nonblock_cloexec(g_sigpipe[0]) != 0 ||
        set_nonblock_cloexec(g_sigpipe[1]) != 0) {
        at_msg(PROG, "pipe: %s", strerror(errno));
        return -1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    return 0;
}

/* The store, the engine configured from the options (@p cfg), its
 * network. */
static int start_engine(sim_prog *p, sim_config *cfg, char *err, size_t cap)
{
    p->store = sim_store_open(p->o.store, err, cap);
    if (!p->store) {
        at_msg(PROG, "%s", err);
        return -1;
    }
    sim_config_defaults(cfg, p->o.profile);
    if (p->o.imei)
        snprintf(cfg->imei, sizeof cfg->imei, "%s", p->o.imei);
    if (p->o.have_timeout)
        cfg->timeout_ms = p->o.timeout_ms;
    cfg->ok_after_error = p->o.ok_after_error;
    cfg->data_mode = p->o.data_mode;
    static const sim_io io = {eng_write, eng_log};
    p->eng = sim_engine_new(cfg, p->store, &io, p);
    p->net = sim_net_new();
    if (!p->eng || !p->net) {
        at_msg(PROG, "out of memory");
        return -1;
    }
    static const sim_svc_io svc = {svc_open, svc_write, svc_read, svc_close};
    sim_engine_set_services(p->eng, &svc, p);
    return 0;
}

/* Outputs before the PTY and its link: nothing announces a module that
 * then fails on its -w file. */
static int open_trace_and_line(sim_prog *p, char *err, size_t cap)
{
    if (p->o.trace) {
        p->tw = at_trace_create(p->o.trace, err, cap);
        if (!p->tw) {
            at_msg(PROG, "%s", err);
            return -1;
        }
    }
    if ((p->o.port ? open_port(p, err, cap) : open_pty(p, err, cap)) != 0) {
        at_msg(PROG, "%s", err);
        return -1;
    }
    if (p->o.link && make_link(p, err, cap) != 0) {
        at_msg(PROG, "%s", err);
        return -1;
    }
    return 0;
}

/* The head of the trace (settings, start note) and the log's start lines;
 * returns where the module is. */
static const char *record_start(sim_prog *p, const sim_config *cfg)
{
    uint64_t t0 = at_clock_real_ns();
    const char *where = p->o.port ? p->o.port : p->slave_path;
    if (p->tw) {
        if (p->on_port) {
            const char *s = p->o.require_rtscts ? "115200 8N1 rtscts" : "115200 8N1";
            trace_rec(p, t0, AT_DIR_TE_TO_ME, AT_TEV_SETTINGS, 0, s, strlen(s));
        } else {
            check_termios(p, t0);
        }
        char note[400];
        snprintf(note, sizeof note, "simulator start: %s profile, IMEI %s, on %s",
                 p->o.profile->name, cfg->imei, where);
        trace_note(p, t0, note);
        trace_flush(p, t0);
    } else if (!p->on_port) {
        check_termios(p, t0);
    }
    logf_(p, "simulator start: %s profile, IMEI %s, store %s, on %s", p->o.profile->name,
          cfg->imei, p->o.store, where);
    if (p->o.drop_rate > 0 || p->o.corrupt_rate > 0 || p->o.delay_ms || p->o.byte_time_us ||
        p->o.require_rtscts)
        logf_(p, "faults: drop-rate %g, corrupt-rate %g, delay %u ms, byte time %u us%s, "
                 "seed %" PRIu64, p->o.drop_rate, p->o.corrupt_rate, p->o.delay_ms,
              p->o.byte_time_us, p->o.require_rtscts ? ", RTS/CTS required" : "", p->o.seed);
    return where;
}

/* The stop note, then everything closed; the exit status from @p rc and
 * whether the log could be written. */
static int shut_down(sim_prog *p, int rc)
{
    char err[512];
    if (p->tw) {
        trace_note(p, at_clock_real_ns(), rc == 0 ? "simulator stop" : "simulator stop (error)");
        if (at_trace_finish_err(p->tw, err, sizeof err) != 0) {
            at_msg(PROG, "%s", err);
            rc = 1;
        }
        p->tw = NULL;
    }
    remove_link(p);
    while (p->head)
        pop_head(p);
    if (p->eng)
        sim_engine_free(p->eng);
    sim_net_free(p->net);
    if (p->store)
        sim_store_close(p->store);
    if (p->on_port) {
        at_serial_close(&p->port);
    } else if (p->fd >= 0) {
        close(p->fd);
    }
    if (p->slave_fd >= 0)
        close(p->slave_fd);
    for (int i = 0; i < 2; i++)
        if (g_sigpipe[i] >= 0)
            close(g_sigpipe[i]);
    if (p->log && p->log != stderr && fclose(p->log) != 0 && !p->log_errno) {
        p->log_errno = errno;
        at_msg(PROG, "--log %s: %s: log lines are lost", p->o.log, strerror(errno));
    }
    if (p->log_errno)
        rc = 1;
    return rc;
}

int main(int argc, char **argv)
{
    sim_prog p;
    memset(&p, 0, sizeof p);
    p.fd = -1;
    p.slave_fd = -1;
    parse_opts(argc, argv, &p.o);
    p.rng = p.o.seed;
    p.log = stderr;
    char err[512];

    if (p.o.log) {
        p.log = fopen(p.o.log, "a");
        if (!p.log) {
            at_msg(PROG, "--log %s: %s", p.o.log, strerror(errno));
            return 1;
        }
    }
    sim_config cfg;
    if (install_signal_handlers() != 0 || start_engine(&p, &cfg, err, sizeof err) != 0 ||
        open_trace_and_line(&p, err, sizeof err) != 0)
        return shut_down(&p, 1);
    const char *where = record_start(&p, &cfg);
    if (p.log_errno)
        return shut_down(&p, 1); /* not even the start could be logged: reported above */
    printf(PROG ": module on %s\n", where);
    fflush(stdout);

    int rc = run(&p) == 0 ? 0 : 1;
    if (g_stop)
        logf_(&p, "simulator stop (%s)", g_stop == SIGINT ? "SIGINT"
                                        : g_stop == SIGTERM ? "SIGTERM" : "SIGHUP");
    else
        logf_(&p, "simulator stop (error)");
    return shut_down(&p, rc);
}
