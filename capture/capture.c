/*
 * capture.c - at_capture_run(): proxy, tap and exec captures into a trace
 * (capture.h). One poll() loop over every port of every channel; each read
 * becomes one data record (timestamped right after read() returns) and, in
 * proxy/exec mode, is queued for the other side. A side whose queue is not
 * empty is not read again until the queue drains, so a slow reader slows
 * the line down instead of losing bytes.
 */
#define _GNU_SOURCE 1

#include "capture.h"
#include "serial.h"

#include "attrace/session.h"
#include "attrace/trace.h"
#include "clock.h"
#include "errbuf.h"
#include "escape.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/serial.h>
#endif

#define PEND_CAP 16384u
#define TICK_NS 100000000ull       /* flush / poll settings every 100 ms */
#define PROBE_NS 200000000ull      /* reconnect probe every 200 ms */
#define EXEC_DRAIN_NS 300000000ull /* keep relaying this long after exec ends */
#define REC_OVERHEAD 56u           /* pcap record header + TLVs + pseudo-header */
/* At the stop every port is read until it is empty, but at most this much
 * from one port and for this long in all: far more than a tty's buffers
 * hold, so only a port that keeps sending reaches it. */
#define STOP_DRAIN_BYTES (1024u * 1024u)
#define STOP_DRAIN_NS 1000000000ull

struct cap;

typedef struct chan {
    struct cap *c;
    uint16_t no;
    const at_capture_pair *pair;
    at_serial_port module;        /* proxy/exec: the module; tap: TE->ME listener */
    at_serial_port hostp;         /* proxy: host port; tap: ME->TE listener */
    int master, slave;      /* host PTY (proxy without host port, exec) */
    char pty_path[128];
    bool link_made;
    at_serial_line line;   /* current settings of the module port */
    tcflag_t host_cflag, host_iflag;
    speed_t host_speed;
    uint8_t pend[2][PEND_CAP]; /* [dir]: bytes read in dir, to be written */
    size_t pend_off[2], pend_len[2];
    at_session *sess;
    bool mline_ok;
    int mline;
#ifdef __linux__
    bool ic_ok;
    struct serial_icounter_struct ic;
#endif
    at_serial_port *lost;         /* the port that is gone (reconnect), or NULL */
    uint64_t next_probe;
    uint64_t drained[2];          /* [dir]: bytes read at the stop */
    bool dry[2];                  /* [dir]: read at the stop until empty (or gone) */
} chan;

typedef struct cap {
    const at_capture_config *cfg;
    at_capture_stats *st;
    at_trace_writer *w;
    const char *out_name;
    uint64_t file_bytes;
    unsigned file_no;
    bool dirty, flush_now;
    bool rotating;          /* writing the head of a new file */
    bool failed;
    bool out_broken;        /* writing the trace failed: nothing more is written */
    bool closing;           /* writing the stop notes, even after a fault */
    char *err;
    size_t err_cap;
    chan *ch;
    size_t n;
    pid_t child;
    bool child_done;
    uint64_t drain_until;
} cap;

void at_capture_default_config(at_capture_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->mode = AT_CAPTURE_PROXY;
    cfg->line.baud = 115200;
    cfg->line.data_bits = 8;
    cfg->line.parity = 'N';
    cfg->line.stop_bits = 1;
    cfg->line.flow = AT_SERIAL_FLOW_NONE;
    cfg->log = stderr;
}

static void logmsg(cap *c, const char *fmt, ...) AT_PRINTF(2, 3);
static void logmsg(cap *c, const char *fmt, ...)
{
    if (!c->cfg->log)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("attrace capture: ", c->cfg->log);
    at_escape_vprintf(c->cfg->log, 0, fmt, ap); /* names escaped, as in messages */
    fputc('\n', c->cfg->log);
    fflush(c->cfg->log);
    va_end(ap);
}

static void fail(cap *c, const char *fmt, ...) AT_PRINTF(2, 3);
static void fail(cap *c, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = true;
    va_list ap;
    va_start(ap, fmt);
    at_err_vset(c->err, c->err_cap, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Output: records, flushing, rotation                                 */
/* ------------------------------------------------------------------ */

static void file_name(const cap *c, unsigned no, char *buf, size_t buf_size)
{
    const at_capture_config *cfg = c->cfg;
    if (cfg->rotate_files > 0)
        snprintf(buf, buf_size, "%s%u", cfg->out_path, no % cfg->rotate_files);
    else if (no == 0)
        snprintf(buf, buf_size, "%s", cfg->out_path);
    else
        snprintf(buf, buf_size, "%s%u", cfg->out_path, no);
}

static int open_output(cap *c)
{
    const at_capture_config *cfg = c->cfg;
    char e[512];
    if (cfg->out_stream) {
        c->out_name = cfg->out_path ? cfg->out_path : "stream";
        c->w = at_trace_create_stream(cfg->out_stream, c->out_name, e, sizeof e);
    } else {
        char name[4096];
        file_name(c, c->file_no, name, sizeof name);
        c->out_name = cfg->out_path;
        c->w = at_trace_create(name, e, sizeof e);
    }
    if (!c->w) {
        fail(c, "%s", e);
        return -1;
    }
    c->file_bytes = 24;
    c->st->files++;
    return 0;
}

static uint16_t line_state(const chan *ch)
{
    if (!ch->mline_ok)
        return AT_LINE_UNKNOWN;
    uint16_t s = 0;
    if (ch->mline & TIOCM_RTS) s |= AT_LINE_RTS;
    if (ch->mline & TIOCM_CTS) s |= AT_LINE_CTS;
    if (ch->mline & TIOCM_DTR) s |= AT_LINE_DTR;
    if (ch->mline & TIOCM_DSR) s |= AT_LINE_DSR;
    if (ch->mline & TIOCM_CAR) s |= AT_LINE_DCD;
    if (ch->mline & TIOCM_RNG) s |= AT_LINE_RI;
    return s;
}

static void emit_settings_all(cap *c, uint64_t ts);

static int rotate(cap *c)
{
    char e[512];
    if (at_trace_finish_err(c->w, e, sizeof e) != 0) {
        c->w = NULL;
        fail(c, "%s", e);
        return -1;
    }
    c->w = NULL;
    c->file_no++;
    if (open_output(c) != 0)
        return -1;
    /* Each file stands alone: it starts with the current settings. */
    c->rotating = true;
    emit_settings_all(c, at_clock_real_ns());
    c->rotating = false;
    return c->failed ? -1 : 0;
}

static int put(cap *c, const chan *ch, at_dir dir, at_trace_event ev, uint64_t ts,
               const void *data, size_t len, uint16_t flags)
{
    if (!c->w || (c->failed && !c->closing))
        return -1;
    at_trace_record r;
    memset(&r, 0, sizeof r);
    r.ts_ns = ts;
    r.dir = dir;
    r.event = ev;
    r.channel = ch ? ch->no : 0;
    r.line_state = ch ? line_state(ch) : AT_LINE_UNKNOWN;
    r.flags = flags;
    r.baud = ch ? ch->line.baud : c->cfg->line.baud;
    r.payload = data;
    r.len = len;
    if (at_trace_write(c->w, &r) != 0) {
        c->out_broken = true;
        fail(c, "cannot write the trace: %s", at_trace_writer_error(c->w));
        return -1;
    }
    c->st->records++;
    c->dirty = true;
    c->file_bytes += REC_OVERHEAD + len;
    if (c->cfg->rotate_bytes && c->file_bytes >= c->cfg->rotate_bytes &&
        !c->cfg->out_stream && !c->rotating)
        return rotate(c);
    return 0;
}

static void note(cap *c, const chan *ch, const char *fmt, ...) AT_PRINTF(3, 4);
static void note(cap *c, const chan *ch, const char *fmt, ...)
{
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    put(c, ch, AT_DIR_TE_TO_ME, AT_TEV_NOTE, at_clock_real_ns(), text, strlen(text), 0);
}

static void emit_settings(cap *c, const chan *ch, uint64_t ts)
{
    char text[80];
    at_serial_line_text(&ch->line, text, sizeof text);
    put(c, ch, AT_DIR_TE_TO_ME, AT_TEV_SETTINGS, ts, text, strlen(text), 0);
}

static void emit_settings_all(cap *c, uint64_t ts)
{
    for (size_t i = 0; i < c->n; i++)
        emit_settings(c, &c->ch[i], ts);
}

static void flush_out(cap *c)
{
    if (c->w && c->dirty && !c->failed) {
        if (at_trace_flush(c->w) != 0) {
            c->out_broken = true;
            fail(c, "cannot write the trace: %s", at_trace_writer_error(c->w));
        }
        c->dirty = false;
    }
    c->flush_now = false;
}

/* ------------------------------------------------------------------ */
/* Live view                                                           */
/* ------------------------------------------------------------------ */

static void put_clean(FILE *fp, const char *s, size_t len, size_t max)
{
    for (size_t i = 0; i < len && i < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        fputc(ch >= 0x20 && ch < 0x7f ? ch : '.', fp);
    }
    if (len > max)
        fputs("...", fp);
}

static void on_event(void *ctx, const at_event *ev)
{
    chan *ch = ctx;
    cap *c = ch->c;
    if (ev->kind != AT_EV_END || !ev->exchange)
        return;
    c->st->exchanges++;
    if (ev->exchange->end_reason == AT_END_RESULT)
        c->flush_now = true;
    FILE *fp = c->cfg->log;
    if (c->cfg->quiet || !fp)
        return;
    time_t sec = (time_t)(ev->exchange->ts_start / 1000000000ull);
    struct tm tm;
    gmtime_r(&sec, &tm);
    fprintf(fp, "%02d:%02d:%02d.%03u ", tm.tm_hour, tm.tm_min, tm.tm_sec,
            (unsigned)(ev->exchange->ts_start % 1000000000ull / 1000000u));
    if (c->n > 1)
        fprintf(fp, "ch%u ", (unsigned)ch->no);
    put_clean(fp, ev->exchange->line.ptr, ev->exchange->line.len, 60);
    fputs(" -> ", fp);
    if (ev->line.text.ptr && ev->line.text.len)
        put_clean(fp, ev->line.text.ptr, ev->line.text.len, 60);
    else
        fprintf(fp, "(%s)", at_end_reason_name(ev->exchange->end_reason));
    fprintf(fp, "  %.1f ms  [%llu rec, %llu B sent, %llu B recv]\n",
            (double)ev->duration_ns / 1e6, (unsigned long long)c->st->records,
            (unsigned long long)c->st->bytes[0], (unsigned long long)c->st->bytes[1]);
    fflush(fp);
}

/* ------------------------------------------------------------------ */
/* Ports                                                               */
/* ------------------------------------------------------------------ */

static bool relaying(const cap *c)
{
    return c->cfg->mode != AT_CAPTURE_TAP;
}

/* The fd bytes of @p dir are read from / written to. */
static int src_fd(const chan *ch, at_dir dir)
{
    if (!relaying(ch->c))
        return dir == AT_DIR_TE_TO_ME ? ch->module.fd : ch->hostp.fd;
    if (dir == AT_DIR_TE_TO_ME)
        return ch->master >= 0 ? ch->master : ch->hostp.fd;
    return ch->module.fd;
}

static int dst_fd(const chan *ch, at_dir dir)
{
    return src_fd(ch, dir == AT_DIR_TE_TO_ME ? AT_DIR_ME_TO_TE : AT_DIR_TE_TO_ME);
}

static at_serial_port *src_port(chan *ch, at_dir dir)
{
    if (!relaying(ch->c))
        return dir == AT_DIR_TE_TO_ME ? &ch->module : &ch->hostp;
    if (dir == AT_DIR_TE_TO_ME)
        return ch->master >= 0 ? NULL : &ch->hostp;
    return &ch->module;
}

static void port_lost(cap *c, chan *ch, at_serial_port *p, const char *why)
{
    if (!p) {
        fail(c, "host pseudo-terminal of channel %u failed: %s", (unsigned)ch->no, why);
        return;
    }
    note(c, ch, "port lost: %s: %s", p->path, why);
    flush_out(c);
    at_serial_close(p);
    ch->pend_len[0] = ch->pend_len[1] = 0;
    ch->mline_ok = false;
#ifdef __linux__
    ch->ic_ok = false;
#endif
    if (c->cfg->reconnect) {
        ch->lost = p;
        ch->next_probe = at_clock_mono_ns() + PROBE_NS;
        logmsg(c, "port %s lost (%s); waiting for it to come back (--reconnect)",
               p->path, why);
    } else {
        fail(c, "port %s lost (%s); capture ended", p->path, why);
    }
}

static void probe_ports(cap *c, chan *ch)
{
    /* Reads status ioctls of a real port once; a PTY answers ENOTTY/EINVAL
     * and the feature stays off. */
    int m;
    ch->mline_ok = ch->module.fd >= 0 && ioctl(ch->module.fd, TIOCMGET, &m) == 0;
    if (ch->mline_ok)
        ch->mline = m;
#ifdef __linux__
    ch->ic_ok = ch->module.fd >= 0 && ioctl(ch->module.fd, TIOCGICOUNT, &ch->ic) == 0;
#endif
    (void)c;
}

static void poll_status(cap *c, chan *ch)
{
    if (ch->module.fd < 0)
        return;
    at_dir rx = relaying(c) ? AT_DIR_ME_TO_TE : AT_DIR_TE_TO_ME;
    int m;
    if (ch->mline_ok && ioctl(ch->module.fd, TIOCMGET, &m) == 0 && m != ch->mline) {
        ch->mline = m;
        put(c, ch, rx, AT_TEV_LINE_CHANGE, at_clock_real_ns(), NULL, 0, 0);
    }
#ifdef __linux__
    struct serial_icounter_struct ic;
    if (ch->ic_ok && ioctl(ch->module.fd, TIOCGICOUNT, &ic) == 0) {
        uint64_t ts = at_clock_real_ns();
        for (int i = ic.brk - ch->ic.brk; i > 0; i--)
            put(c, ch, rx, AT_TEV_BREAK, ts, NULL, 0, 0);
        for (int i = ic.frame - ch->ic.frame; i > 0; i--)
            put(c, ch, rx, AT_TEV_FRAMING_ERROR, ts, NULL, 0, 0);
        for (int i = ic.parity - ch->ic.parity; i > 0; i--)
            put(c, ch, rx, AT_TEV_PARITY_ERROR, ts, NULL, 0, 0);
        int lost = (ic.overrun - ch->ic.overrun) + (ic.buf_overrun - ch->ic.buf_overrun);
        if (lost > 0)
            put(c, ch, rx, AT_TEV_OVERRUN, ts, NULL, 0, AT_TFLAG_BYTES_MISSING);
        ch->ic = ic;
    }
#endif
}

/* The host program changed its PTY's speed or flow control: apply to the
 * module's port and record it. */
static void poll_host_termios(cap *c, chan *ch)
{
    struct termios t;
    if (ch->master < 0 || tcgetattr(ch->master, &t) != 0)
        return;
    speed_t sp = cfgetospeed(&t);
    tcflag_t cf = t.c_cflag & CRTSCTS, inf = t.c_iflag & (IXON | IXOFF);
    if (sp == ch->host_speed && cf == ch->host_cflag && inf == ch->host_iflag)
        return;
    ch->host_speed = sp;
    ch->host_cflag = cf;
    ch->host_iflag = inf;
    unsigned long baud = at_serial_speed_to_baud(sp);
    if (baud)
        ch->line.baud = (uint32_t)baud;
    ch->line.flow = cf ? AT_SERIAL_FLOW_RTSCTS
                    : inf ? AT_SERIAL_FLOW_XONXOFF
                          : AT_SERIAL_FLOW_NONE;
    char e[300];
    if (at_serial_set_baud_flow(&ch->module, ch->line.baud, ch->line.flow, e, sizeof e) != 0)
        note(c, ch, "cannot apply the host's settings: %s", e);
    emit_settings(c, ch, at_clock_real_ns());
    char text[80];
    at_serial_line_text(&ch->line, text, sizeof text);
    if (!c->cfg->quiet)
        logmsg(c, "host changed the line settings: %s", text);
}

static void try_reconnect(cap *c, chan *ch)
{
    at_serial_port *p = ch->lost;
    char path[sizeof p->path];
    memcpy(path, p->path, sizeof path);
    if (access(path, F_OK) != 0)
        return;
    char e[300];
    bool ro = !relaying(c);
    if (at_serial_open(p, path, &ch->line, ro, e, sizeof e) != 0) {
        snprintf(p->path, sizeof p->path, "%s", path);
        return;
    }
    ch->lost = NULL;
    probe_ports(c, ch);
    note(c, ch, "reconnect: %s", path);
    emit_settings(c, ch, at_clock_real_ns());
    flush_out(c);
    logmsg(c, "port %s is back: capture resumed", path);
}

static void try_write(cap *c, chan *ch, at_dir dir)
{
    int fd = dst_fd(ch, dir);
    while (ch->pend_len[dir] > 0 && fd >= 0) {
        ssize_t n = write(fd, ch->pend[dir] + ch->pend_off[dir], ch->pend_len[dir]);
        if (n > 0) {
            ch->pend_off[dir] += (size_t)n;
            ch->pend_len[dir] -= (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else {
            at_dir other = dir == AT_DIR_TE_TO_ME ? AT_DIR_ME_TO_TE : AT_DIR_TE_TO_ME;
            port_lost(c, ch, src_port(ch, other), n < 0 ? strerror(errno) : "write returned 0");
            return;
        }
    }
}

/* One read() of what @p dir's port has received, into @p buf (PEND_CAP
 * bytes): recorded as one data record (timestamped right after the read)
 * and fed to the live decoder. Returns the byte count; 0 if nothing was
 * waiting; -1 on end of file (errno 0: a hang-up) or a read error. */
static ssize_t read_record(cap *c, chan *ch, at_dir dir, uint8_t *buf)
{
    ssize_t n;
    do
        n = read(src_fd(ch, dir), buf, PEND_CAP);
    while (n < 0 && errno == EINTR);
    uint64_t ts = at_clock_real_ns();
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n <= 0) {
        if (n == 0)
            errno = 0;
        return -1;
    }
    c->st->bytes[dir] += (uint64_t)n;
    put(c, ch, dir, AT_TEV_DATA, ts, buf, (size_t)n, 0);
    at_session_feed(ch->sess, dir, ts, buf, (size_t)n);
    return n;
}

/* Polled only while its queue is empty: the bytes read are queued for
 * the other side (proxy, exec). */
static void on_readable(cap *c, chan *ch, at_dir dir)
{
    ssize_t n = read_record(c, ch, dir, ch->pend[dir]);
    if (n < 0) {
        port_lost(c, ch, src_port(ch, dir), errno ? strerror(errno) : "end of file (hang-up)");
        return;
    }
    if (n > 0 && relaying(c)) {
        ch->pend_off[dir] = 0;
        ch->pend_len[dir] = (size_t)n;
        try_write(c, ch, dir);
    }
}

/* ------------------------------------------------------------------ */
/* Set-up                                                              */
/* ------------------------------------------------------------------ */

static int make_pty(cap *c, chan *ch)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0) {
        fail(c, "cannot create a pseudo-terminal: %s", strerror(errno));
        if (m >= 0)
            close(m);
        return -1;
    }
    const char *name = ptsname(m);
    if (!name) {
        fail(c, "ptsname: %s", strerror(errno));
        close(m);
        return -1;
    }
    snprintf(ch->pty_path, sizeof ch->pty_path, "%s", name);
    /* Our own slave fd: the host program may close and reopen its side
     * without the master seeing a hang-up. */
    int s = open(ch->pty_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
        fail(c, "%s: cannot open: %s", ch->pty_path, strerror(errno));
        close(m);
        return -1;
    }
    if (at_serial_termios_apply(s, &c->cfg->line) != 0) {
        fail(c, "%s: cannot apply the line settings: %s", ch->pty_path, strerror(errno));
        close(s);
        close(m);
        return -1;
    }
    int fl = fcntl(m, F_GETFL);
    fcntl(m, F_SETFL, fl | O_NONBLOCK);
    ch->master = m;
    ch->slave = s;
    struct termios t;
    if (tcgetattr(m, &t) == 0) {
        ch->host_speed = cfgetospeed(&t);
        ch->host_cflag = t.c_cflag & CRTSCTS;
        ch->host_iflag = t.c_iflag & (IXON | IXOFF);
    }
    return 0;
}

/* Publishes the host PTY (--link, the "host side on" line, the callback):
 * only once the output is open, so nothing announces a capture that then
 * fails on its -w file. */
static int announce_pty(cap *c, chan *ch)
{
    const char *link = ch->pair->link;
    if (link) {
        struct stat st;
        if (lstat(link, &st) == 0) {
            if (!S_ISLNK(st.st_mode)) {
                fail(c, "--link %s: exists and is not a symlink; not replaced", link);
                return -1;
            }
            unlink(link);
        }
        if (symlink(ch->pty_path, link) != 0) {
            fail(c, "--link %s: %s", link, strerror(errno));
            return -1;
        }
        ch->link_made = true;
    }
    if (c->cfg->mode == AT_CAPTURE_PROXY) {
        if (c->n > 1)
            logmsg(c, "host side of channel %u on %s", (unsigned)ch->no, ch->pty_path);
        else
            logmsg(c, "host side on %s", ch->pty_path);
    }
    if (c->cfg->on_host_ready)
        c->cfg->on_host_ready(c->cfg->cb_ctx, ch->no, ch->pty_path);
    return 0;
}

static char *subst_cmd(const char *cmd, const char *path)
{
    size_t n = 0, pl = strlen(path);
    for (const char *p = cmd; *p; p++)
        n += (p[0] == '{' && p[1] == '}') ? (p++, pl) : 1;
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = cmd; *p; p++) {
        if (p[0] == '{' && p[1] == '}') {
            memcpy(o, path, pl);
            o += pl;
            p++;
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
    return out;
}

static int start_child(cap *c, chan *ch)
{
    char *cmd = subst_cmd(c->cfg->exec_cmd, ch->pty_path);
    if (!cmd) {
        fail(c, "out of memory");
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        free(cmd);
        fail(c, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        signal(SIGXFSZ, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        /* A session and process group of its own, with the PTY as its
         * controlling terminal: the capture signals the whole group (the
         * shell and every program it starts), and if the capture itself
         * is killed, the PTY's hang-up sends SIGHUP to that group, so
         * nothing keeps running. The PTY is raw (no ISIG): bytes from the
         * module never turn into signals. */
        if (setsid() < 0 || ioctl(ch->slave, TIOCSCTTY, 0) != 0)
            _exit(127);
        /* The trace may be on our standard output: keep the program's
         * output out of it. */
        bool trace_on_stdout = c->cfg->out_stream == stdout ||
                               (!c->cfg->out_stream && c->cfg->out_path &&
                                strcmp(c->cfg->out_path, "-") == 0);
        if (trace_on_stdout)
            dup2(STDERR_FILENO, STDOUT_FILENO);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    note(c, ch, "exec: %s", cmd);
    free(cmd);
    c->child = pid;
    return 0;
}

/* The signal to pass on to the program's group for the stop flag's value
 * (capture_cli stores the signal it got; any other value is SIGTERM). */
static int stop_signal(volatile sig_atomic_t *stop)
{
    int sig = stop ? (int)*stop : 0;
    return sig == SIGINT || sig == SIGTERM || sig == SIGHUP ? sig : SIGTERM;
}

static int check_config(const at_capture_config *cfg, char *err, size_t err_cap)
{
    if (cfg->n_pairs < 1 || cfg->n_pairs > AT_CAPTURE_MAX_PAIRS || !cfg->pairs) {
        at_err_set(err, err_cap, "between 1 and %d port pairs are needed", AT_CAPTURE_MAX_PAIRS);
        return -1;
    }
    for (size_t i = 0; i < cfg->n_pairs; i++) {
        const at_capture_pair *p = &cfg->pairs[i];
        if (!p->module) {
            at_err_set(err, err_cap, cfg->mode == AT_CAPTURE_TAP ? "tap mode needs --tap-te"
                                                             : "channel %zu has no module port", i);
            return -1;
        }
        if (cfg->mode == AT_CAPTURE_TAP && !p->host) {
            at_err_set(err, err_cap, "tap mode needs --tap-me as well as --tap-te");
            return -1;
        }
        if (cfg->mode == AT_CAPTURE_EXEC && p->host) {
            at_err_set(err, err_cap, "exec mode gives the program a PTY: no host port");
            return -1;
        }
        if (p->host && p->link) {
            at_err_set(err, err_cap, "--link names the host PTY: not with a host port");
            return -1;
        }
    }
    if (cfg->mode == AT_CAPTURE_EXEC && (cfg->n_pairs != 1 || !cfg->exec_cmd)) {
        at_err_set(err, err_cap, "exec mode needs one --module and a command");
        return -1;
    }
    if (!at_serial_baud_to_speed(cfg->line.baud)) {
        at_err_set(err, err_cap, "%u is not a supported baud rate", (unsigned)cfg->line.baud);
        return -1;
    }
    if (cfg->line.data_bits < 5 || cfg->line.data_bits > 8 || cfg->line.stop_bits < 1 ||
        cfg->line.stop_bits > 2 || !strchr("NEOMS", cfg->line.parity) || !cfg->line.parity) {
        at_err_set(err, err_cap, "invalid data bits, parity or stop bits");
        return -1;
    }
    if (!cfg->out_stream && !cfg->out_path) {
        at_err_set(err, err_cap, "no output: name a file (-w FILE, or - for standard output)");
        return -1;
    }
    if (cfg->rotate_bytes && (cfg->out_stream || strcmp(cfg->out_path, "-") == 0)) {
        at_err_set(err, err_cap, "rotation needs an output file, not a stream");
        return -1;
    }
    return 0;
}

static void teardown(cap *c)
{
    for (size_t i = 0; i < c->n; i++) {
        chan *ch = &c->ch[i];
        at_serial_close(&ch->module);
        at_serial_close(&ch->hostp);
        if (ch->master >= 0)
            close(ch->master);
        if (ch->slave >= 0)
            close(ch->slave);
        if (ch->link_made)
            unlink(ch->pair->link);
        free(ch->sess);
    }
    free(c->ch);
}

/* ------------------------------------------------------------------ */
/* The run: set-up, the relay loop, the end                            */
/* ------------------------------------------------------------------ */

/* A reaped program's exit status as a shell reports it (128+N: signal N). */
static int exec_exit_status(int status)
{
    return WIFEXITED(status)     ? WEXITSTATUS(status)
           : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                 : 1;
}

/* One channel per pair, each with its live decoder; no port open yet.
 * -1: out of memory (teardown() releases what was made). Every channel
 * is marked "nothing open" before the first allocation that can fail:
 * teardown() closes every descriptor >= 0, and calloc's 0 is standard
 * input. */
static int init_channels(cap *c)
{
    const at_capture_config *cfg = c->cfg;
    c->ch = calloc(cfg->n_pairs, sizeof *c->ch);
    if (!c->ch)
        return -1;
    c->n = cfg->n_pairs;
    for (size_t i = 0; i < c->n; i++) {
        chan *ch = &c->ch[i];
        ch->c = c;
        ch->no = (uint16_t)i;
        ch->pair = &cfg->pairs[i];
        ch->module.fd = ch->hostp.fd = ch->master = ch->slave = -1;
        ch->line = cfg->line;
    }
    for (size_t i = 0; i < c->n; i++) {
        chan *ch = &c->ch[i];
        ch->sess = malloc(sizeof *ch->sess);
        if (!ch->sess)
            return -1;
        at_session_config sc = at_session_default_config();
        sc.channel = ch->no;
        at_session_init(ch->sess, &sc, on_event, ch);
    }
    return 0;
}

/* Ports first: a capture that cannot open them writes no file. Their
 * PTYs are announced after the output is open. */
static int open_ports(cap *c)
{
    bool tap = c->cfg->mode == AT_CAPTURE_TAP;
    for (size_t i = 0; i < c->n && !c->failed; i++) {
        chan *ch = &c->ch[i];
        char e[400];
        if (at_serial_open(&ch->module, ch->pair->module, &c->cfg->line, tap, e, sizeof e) != 0) {
            fail(c, "%s", e);
            break;
        }
        if (ch->pair->host) {
            if (at_serial_open(&ch->hostp, ch->pair->host, &c->cfg->line, tap, e, sizeof e) != 0) {
                fail(c, "%s", e);
                break;
            }
        } else if (make_pty(c, ch) != 0) {
            break;
        }
        probe_ports(c, ch);
    }
    return c->failed ? -1 : 0;
}

/* The head of the trace: each channel's settings and "capture start". */
static void write_start_notes(cap *c)
{
    static const char *const mode_names[] = {"proxy", "tap", "exec"};
    for (size_t i = 0; i < c->n; i++) {
        chan *ch = &c->ch[i];
        /* each channel's own time: after the previous channel's note */
        emit_settings(c, ch, at_clock_real_ns());
        if (c->cfg->mode == AT_CAPTURE_TAP)
            note(c, ch, "capture start: tap, TE->ME on %s, ME->TE on %s",
                 ch->module.path, ch->hostp.path);
        else {
            char real[4096];
            bool resolved = realpath(ch->module.path, real) && strcmp(real, ch->module.path) != 0;
            note(c, ch, "capture start: %s, module %s%s%s%s, host %s", mode_names[c->cfg->mode],
                 ch->module.path, resolved ? " (" : "", resolved ? real : "",
                 resolved ? ")" : "", ch->master >= 0 ? ch->pty_path : ch->hostp.path);
        }
    }
}

/* Opens the output, publishes the host PTYs, writes the head of the trace
 * and starts the exec program. -1: nothing recorded (output closed). */
static int start_recording(cap *c)
{
    if (open_output(c) != 0)
        return -1;
    for (size_t i = 0; i < c->n && !c->failed; i++)
        if (c->ch[i].master >= 0)
            announce_pty(c, &c->ch[i]);
    if (c->failed) {
        at_trace_finish(c->w);
        c->w = NULL;
        return -1;
    }
    write_start_notes(c);
    if (c->cfg->mode == AT_CAPTURE_EXEC)
        start_child(c, &c->ch[0]);
    flush_out(c);
    return 0;
}

/* What one pollfd of the loop stands for: reading direction @c role
 * (0/1), or writing direction role - 2 (2/3). */
typedef struct poll_slot {
    chan *ch;
    int role;
} poll_slot;

/* Each side is polled for reading while its queue is empty, for writing
 * the queue to the other side otherwise; lost channels are left out. */
static size_t fill_pollset(cap *c, struct pollfd *pfd, poll_slot *who)
{
    size_t np = 0;
    for (size_t i = 0; i < c->n; i++) {
        chan *ch = &c->ch[i];
        if (ch->lost)
            continue;
        for (int d = 0; d < 2; d++) {
            if (ch->pend_len[d] == 0) {
                pfd[np] = (struct pollfd){.fd = src_fd(ch, (at_dir)d), .events = POLLIN};
                who[np].ch = ch;
                who[np++].role = d;
            } else {
                pfd[np] = (struct pollfd){.fd = dst_fd(ch, (at_dir)d), .events = POLLOUT};
                who[np].ch = ch;
                who[np++].role = 2 + d;
            }
        }
    }
    return np;
}

/* Every TICK_NS: probe lost ports, follow the host's settings and the
 * module's status lines, flush. */
static void on_tick(cap *c, uint64_t now)
{
    for (size_t i = 0; i < c->n && !c->failed; i++) {
        chan *ch = &c->ch[i];
        if (ch->lost) {
            if (now >= ch->next_probe) {
                ch->next_probe = now + PROBE_NS;
                try_reconnect(c, ch);
            }
            continue;
        }
        poll_host_termios(c, ch);
        poll_status(c, ch);
    }
    flush_out(c);
}

/* Exec mode: true once the program has ended and what it wrote last has
 * been relayed for EXEC_DRAIN_NS. */
static bool exec_program_ended(cap *c)
{
    if (c->child > 0 && !c->child_done) {
        int status;
        if (waitpid(c->child, &status, WNOHANG) == c->child) {
            c->child_done = true;
            c->st->exec_status = exec_exit_status(status);
            c->drain_until = at_clock_mono_ns() + EXEC_DRAIN_NS;
        }
    }
    return c->child_done && at_clock_mono_ns() >= c->drain_until;
}

/* Relays and records until stopped, a fault, or the exec program's end. */
static void relay_loop(cap *c, volatile sig_atomic_t *stop)
{
    uint64_t next_tick = at_clock_mono_ns() + TICK_NS;
    struct pollfd pfd[AT_CAPTURE_MAX_PAIRS * 4];
    poll_slot who[AT_CAPTURE_MAX_PAIRS * 4];
    while (!c->failed && !(stop && *stop)) {
        size_t np = fill_pollset(c, pfd, who);
        uint64_t m = at_clock_mono_ns();
        int timeout = next_tick > m ? (int)((next_tick - m) / 1000000u) + 1 : 0;
        int r = poll(pfd, np, timeout);
        if (r < 0 && errno != EINTR) {
            fail(c, "poll: %s", strerror(errno));
            break;
        }
        for (size_t k = 0; r > 0 && k < np && !c->failed; k++) {
            if (!pfd[k].revents || who[k].ch->lost)
                continue;
            chan *ch = who[k].ch;
            if (who[k].role < 2)
                on_readable(c, ch, (at_dir)who[k].role);
            else
                try_write(c, ch, (at_dir)(who[k].role - 2));
        }
        if (c->flush_now)
            flush_out(c);
        m = at_clock_mono_ns();
        if (m >= next_tick) {
            next_tick = m + TICK_NS;
            on_tick(c, m);
        }
        if (exec_program_ended(c))
            break;
    }
}

/* Stopped (or failed) while the exec program runs: the signal goes to its
 * whole process group (the child leads it), which is killed after 2 s if
 * it does not end. */
static void stop_child(cap *c, volatile sig_atomic_t *stop)
{
    if (c->child <= 0 || c->child_done)
        return;
    int status = 0;
    pid_t w = 0;
    kill(-c->child, stop_signal(stop));
    for (int i = 0; i < 40 && w == 0; i++) {
        w = waitpid(c->child, &status, WNOHANG);
        if (w == 0)
            nanosleep(&(struct timespec){.tv_nsec = 50000000}, NULL);
    }
    if (w == 0) {
        kill(-c->child, SIGKILL);
        w = waitpid(c->child, &status, 0);
    }
    if (w == c->child)
        c->st->exec_status = exec_exit_status(status);
}

/* The name of the port @p dir is read from, for messages. */
static const char *src_name(chan *ch, at_dir dir)
{
    const at_serial_port *p = src_port(ch, dir);
    return p ? p->path : ch->pty_path;
}

/* One read at the stop from @p dir's port, unless it is empty or gone.
 * Once it has given STOP_DRAIN_BYTES, or @p late, its last read is the
 * one: if that still brings bytes, the note says later ones are not
 * recorded. The bytes are recorded, not relayed: the other side is being
 * closed. Returns whether bytes came and the port is to be read again. */
static bool drain_once(cap *c, chan *ch, at_dir dir, uint8_t *buf, bool late)
{
    if (ch->dry[dir] || src_fd(ch, dir) < 0)
        return false;
    ssize_t n = read_record(c, ch, dir, buf);
    if (n <= 0) {
        ch->dry[dir] = true;
        return false;
    }
    ch->drained[dir] += (uint64_t)n;
    if (!late && ch->drained[dir] < STOP_DRAIN_BYTES)
        return true;
    ch->dry[dir] = true;
    note(c, ch, "%s still sending at the stop: %llu bytes read then, later ones not recorded",
         src_name(ch, dir), (unsigned long long)ch->drained[dir]);
    logmsg(c, "%s was still sending when the capture stopped: bytes after the %llu "
              "read at the stop are not recorded",
           src_name(ch, dir), (unsigned long long)ch->drained[dir]);
    return false;
}

/* The stop (stop flag, the exec program's end, a fault): what the ports
 * received before it and the capture has not read yet (the kernel's
 * buffers, a side held back by a full queue) is read, one read per port
 * in turn, until every port is empty, and recorded. After STOP_DRAIN_NS
 * each port still giving bytes is read once more and cut off. */
static void drain_ports(cap *c)
{
    uint8_t buf[PEND_CAP];
    uint64_t until = at_clock_mono_ns() + STOP_DRAIN_NS;
    c->closing = true; /* after a lost port the others are still read */
    bool more = true;
    while (more && c->w && !c->out_broken) {
        more = false;
        bool late = at_clock_mono_ns() >= until;
        for (size_t i = 0; i < c->n && c->w && !c->out_broken; i++)
            for (int d = 0; d < 2; d++)
                more |= drain_once(c, &c->ch[i], (at_dir)d, buf, late);
    }
}

/* The end of the trace: the decoders' last exchanges, "capture stop" on
 * every channel, the file closed, the summary logged. */
static void finish_recording(cap *c)
{
    const at_capture_stats *st = c->st;
    c->closing = true; /* a lost port still gets its stop note */
    if (c->child_done)
        note(c, &c->ch[0], "exec: program exited with status %d", st->exec_status);
    uint64_t tend = at_clock_real_ns();
    for (size_t i = 0; i < c->n; i++)
        at_session_finish(c->ch[i].sess, tend);
    for (size_t i = 0; i < c->n; i++)
        note(c, &c->ch[i], "capture stop");
    if (c->w) {
        char e[512];
        if (at_trace_finish_err(c->w, e, sizeof e) != 0)
            fail(c, "%s", e);
        c->w = NULL;
    }
    logmsg(c, "%llu records, %llu bytes TE->ME, %llu bytes ME->TE, %llu exchanges, "
               "%u file%s (%s)",
           (unsigned long long)st->records, (unsigned long long)st->bytes[0],
           (unsigned long long)st->bytes[1], (unsigned long long)st->exchanges, st->files,
           st->files == 1 ? "" : "s", c->out_name ? c->out_name : "no output");
}

int at_capture_run(const at_capture_config *cfg, volatile sig_atomic_t *stop,
                   at_capture_stats *stats, char *err, size_t err_cap)
{
    at_capture_stats st_local;
    at_capture_stats *st = stats ? stats : &st_local;
    memset(st, 0, sizeof *st);
    st->exec_status = -1;
    if (check_config(cfg, err, err_cap) != 0)
        return AT_CAPTURE_BAD_CONFIG;

    cap c = {.cfg = cfg, .st = st, .err = err, .err_cap = err_cap, .child = -1};
    if (init_channels(&c) != 0) {
        teardown(&c);
        at_err_set(err, err_cap, "out of memory");
        return AT_CAPTURE_FAILED;
    }
    if (open_ports(&c) != 0 || start_recording(&c) != 0) {
        teardown(&c);
        return AT_CAPTURE_FAILED;
    }
    relay_loop(&c, stop);
    stop_child(&c, stop);
    drain_ports(&c);
    finish_recording(&c);
    teardown(&c);
    return c.failed ? AT_CAPTURE_FAILED : AT_CAPTURE_OK;
}
