/*
 * extcap.c - attrace-extcap: the capture of libattrace_capture (capture.h)
 * as a Wireshark extcap interface (Wireshark 4.0 extcap protocol).
 *
 *   --extcap-interfaces        one interface per serial port found by
 *                              libserialport, plus "attrace-path" for a
 *                              device path given in the configuration
 *                              (pseudo-terminals such as attrace-sim's)
 *   --extcap-dlts              link type 252 (LINKTYPE_WIRESHARK_UPPER_PDU)
 *   --extcap-config            mode, device, second port, PTY link, baud,
 *                              flow control
 *   --capture --fifo PATH      streams the trace format into PATH until
 *                              Wireshark closes it or SIGTERM/SIGINT
 *   --extcap-capture-filter F  a non-empty filter is refused (exit 1)
 *
 * The capture itself (ports, relay, records, flushing every 100 ms) is
 * entirely at_capture_run(); this file only maps the extcap command line
 * onto an at_capture_config.
 */
#define _GNU_SOURCE /* getopt_long */

#include "capture.h"
#include "escape.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libserialport.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "attrace-extcap"
#ifndef ATTRACE_VERSION
#define ATTRACE_VERSION "0.0.0"
#endif
/* The help link Wireshark shows: the installed README, under the prefix
 * and doc folder the build is configured with (capture/CMakeLists.txt). */
#ifndef ATTRACE_EXTCAP_HELP
#error "ATTRACE_EXTCAP_HELP is defined by capture/CMakeLists.txt"
#endif

/* Interface names: "attrace-path" and "attrace-" + basename of a port. */
#define IFACE_PREFIX "attrace-"
#define IFACE_PATH IFACE_PREFIX "path"
#define LINKTYPE_WIRESHARK_UPPER_PDU 252
#define BAUD_MIN 50ul
#define BAUD_MAX 4000000ul

typedef enum action {
    ACT_NONE = 0,
    ACT_INTERFACES,
    ACT_DLTS,
    ACT_CONFIG,
    ACT_CAPTURE,
    ACT_VERSION,
    ACT_FILTER_CHECK
} action;

typedef struct opts {
    action act;
    const char *iface;
    const char *fifo;
    const char *filter;
    const char *mode;
    const char *device;
    const char *second;
    const char *link;
    const char *baud;
    const char *flow;
    const char *debug_file;
    bool debug;
} opts;

enum {
    OPT_INTERFACES = 256,
    OPT_DLTS,
    OPT_CONFIG,
    OPT_CAPTURE,
    OPT_VERSION,
    OPT_INTERFACE,
    OPT_FIFO,
    OPT_FILTER,
    OPT_MODE,
    OPT_DEVICE,
    OPT_SECOND,
    OPT_LINK,
    OPT_BAUD,
    OPT_FLOW,
    OPT_DEBUG,
    OPT_DEBUG_FILE
};

static const struct option long_opts[] = {
    {"extcap-interfaces", no_argument, NULL, OPT_INTERFACES},
    {"extcap-dlts", no_argument, NULL, OPT_DLTS},
    {"extcap-config", no_argument, NULL, OPT_CONFIG},
    {"capture", no_argument, NULL, OPT_CAPTURE},
    {"extcap-version", optional_argument, NULL, OPT_VERSION},
    {"extcap-interface", required_argument, NULL, OPT_INTERFACE},
    {"fifo", required_argument, NULL, OPT_FIFO},
    {"extcap-capture-filter", required_argument, NULL, OPT_FILTER},
    {"mode", required_argument, NULL, OPT_MODE},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"second-port", required_argument, NULL, OPT_SECOND},
    {"link", required_argument, NULL, OPT_LINK},
    {"baud", required_argument, NULL, OPT_BAUD},
    {"flow", required_argument, NULL, OPT_FLOW},
    {"debug", no_argument, NULL, OPT_DEBUG},
    {"debug-file", required_argument, NULL, OPT_DEBUG_FILE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

static void usage(FILE *fp)
{
    fputs(
        "Usage: " PROG " --extcap-interfaces [--extcap-version=V]\n"
        "       " PROG " --extcap-interface IFACE --extcap-dlts\n"
        "       " PROG " --extcap-interface IFACE --extcap-config\n"
        "       " PROG " --extcap-interface IFACE --capture --fifo PATH [OPTIONS]\n"
        "       " PROG " --extcap-version\n"
        "\n"
        "Wireshark extcap interface of attrace: records the AT interface of a\n"
        "module (proxy or tap, like `attrace capture`) into Wireshark.\n"
        "\n"
        "Interfaces: " IFACE_PATH " (the device named by --device, e.g. a\n"
        "pseudo-terminal) and " IFACE_PREFIX "NAME for each serial port /dev/NAME.\n"
        "\n"
        "Capture options:\n"
        "  --mode proxy|tap      proxy (default): relay between the module's port\n"
        "                        and a host PTY or second port; tap: two\n"
        "                        receive-only ports (TE->ME, ME->TE)\n"
        "  --device PATH         the module's port (proxy) or the TE->ME tap port,\n"
        "                        for interface " IFACE_PATH " only\n"
        "  --second-port PATH    proxy: the host's port (default: a new PTY);\n"
        "                        tap: the port listening to ME->TE (required)\n"
        "  --link PATH           proxy without --second-port: symlink to the PTY\n"
        "  --baud N              line speed (default 115200)\n"
        "  --flow none|rtscts|xonxoff   flow control (default none)\n"
        "  --extcap-capture-filter F    capture filters are not supported:\n"
        "                        a non-empty F is refused\n"
        "  --debug, --debug-file FILE   capture messages to stderr or FILE\n"
        "\n"
        "Exit status: 0 when Wireshark stops the capture (SIGTERM/SIGINT or the\n"
        "FIFO closed), 1 on an error, 2 on a usage error.\n",
        fp);
}

/* A usage error found after parsing (a bad value, a missing option):
 * the message and the hint; returns 2, the usage-error exit status. */
static int bad_usage(const char *fmt, ...) AT_PRINTF(1, 2);
static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    at_vmsg(PROG, fmt, ap);
    va_end(ap);
    fputs("Try '" PROG " --help' for more information.\n", stderr);
    return 2;
}

_Noreturn static void usage_error(const char *msg, const char *arg)
{
    at_msg(PROG, "%s%s%s", msg, arg ? " " : "", arg ? arg : "");
    fputs("Try '" PROG " --help' for more information.\n", stderr);
    exit(2);
}

static void set_action(opts *o, action a)
{
    if (o->act != ACT_NONE && o->act != a && o->act != ACT_VERSION)
        usage_error("give only one of --extcap-interfaces, --extcap-dlts, "
                    "--extcap-config, --capture",
                    NULL);
    o->act = a;
}

static void parse_opts(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_INTERFACES: set_action(o, ACT_INTERFACES); break;
        case OPT_DLTS: set_action(o, ACT_DLTS); break;
        case OPT_CONFIG: set_action(o, ACT_CONFIG); break;
        case OPT_CAPTURE: set_action(o, ACT_CAPTURE); break;
        case OPT_VERSION:
            /* With an action, Wireshark tells us its version: ignored. */
            if (o->act == ACT_NONE)
                o->act = ACT_VERSION;
            break;
        case OPT_INTERFACE: o->iface = optarg; break;
        case OPT_FIFO: o->fifo = optarg; break;
        case OPT_FILTER:
            /* Given without a value ("--extcap-capture-filter --capture"):
             * an empty filter; the next option is parsed as an option. */
            if (optarg == argv[optind - 1] && strncmp(optarg, "--", 2) == 0) {
                o->filter = "";
                optind--;
            } else {
                o->filter = optarg;
            }
            break;
        case OPT_MODE: o->mode = optarg; break;
        case OPT_DEVICE: o->device = optarg; break;
        case OPT_SECOND: o->second = optarg; break;
        case OPT_LINK: o->link = optarg; break;
        case OPT_BAUD: o->baud = optarg; break;
        case OPT_FLOW: o->flow = optarg; break;
        case OPT_DEBUG: o->debug = true; break;
        case OPT_DEBUG_FILE: o->debug_file = optarg; break;
        case 'h': usage(stdout); exit(0);
        case ':':
            if (optopt == OPT_FILTER) { /* last argument, without a value */
                o->filter = "";
                break;
            }
            usage_error("option needs a value:", argv[optind - 1]);
        default: usage_error("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument", argv[optind]);
    /* Wireshark checks a capture filter with only --extcap-interface and
     * --extcap-capture-filter. */
    if (o->act == ACT_NONE && o->filter)
        o->act = ACT_FILTER_CHECK;
    if (o->act == ACT_NONE)
        usage_error("nothing to do: give --extcap-interfaces, --extcap-dlts, "
                    "--extcap-config or --capture",
                    NULL);
}

/* ------------------------------------------------------------------ */
/* Interfaces                                                         */
/* ------------------------------------------------------------------ */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Extcap sentences are {key=value}; a value must not hold braces or line
 * breaks, so those are replaced. */
static void put_value(const char *s)
{
    for (; *s; s++) {
        char ch = *s;
        if (ch == '{' || ch == '[')
            ch = '(';
        else if (ch == '}' || ch == ']')
            ch = ')';
        else if (ch == '\n' || ch == '\r' || ch == '\t')
            ch = ' ';
        putchar(ch);
    }
}

static void print_extcap_line(void)
{
    printf("extcap {version=%s}{help=%s}{display=attrace AT interface capture}\n",
           ATTRACE_VERSION, ATTRACE_EXTCAP_HELP);
}

static int print_interfaces(void)
{
    print_extcap_line();
    printf("interface {value=" IFACE_PATH
           "}{display=attrace: serial device path given in the configuration}\n");

    struct sp_port **ports = NULL;
    enum sp_return r = sp_list_ports(&ports);
    if (r != SP_OK) {
        /* The path interface still works; say why no port is listed. */
        char *msg = sp_last_error_message();
        at_msg(PROG, "cannot list serial ports: %s",
                r == SP_ERR_FAIL && msg ? msg : "libserialport error");
        sp_free_error_message(msg);
        return 0;
    }
    for (size_t i = 0; ports[i]; i++) {
        const char *name = sp_get_port_name(ports[i]);
        const char *desc = sp_get_port_description(ports[i]);
        if (!name || !*base_name(name))
            continue;
        fputs("interface {value=" IFACE_PREFIX, stdout);
        put_value(base_name(name));
        fputs("}{display=attrace: ", stdout);
        put_value(name);
        if (desc && *desc && strcmp(desc, base_name(name)) != 0) {
            fputs(" (", stdout);
            put_value(desc);
            putchar(')');
        }
        fputs("}\n", stdout);
    }
    sp_free_port_list(ports);
    return 0;
}

/*
 * The module's port of interface @p iface: --device for the path
 * interface, else the enumerated port whose basename follows the prefix.
 * Writes into @p out; 0, else the exit status (2: usage error, 1: the
 * port is missing) with a message on stderr.
 */
static int resolve_port(const opts *o, char *out, size_t cap)
{
    const char *iface = o->iface;
    if (strcmp(iface, IFACE_PATH) == 0) {
        if (!o->device || !*o->device)
            return bad_usage("interface " IFACE_PATH " needs a device path "
                             "(--device, \"Module port\" in the interface options)");
        snprintf(out, cap, "%s", o->device);
        return 0;
    }
    if (o->device)
        return bad_usage("--device only applies to interface " IFACE_PATH
                         "; interface %s is port /dev/%s",
                         iface, iface + strlen(IFACE_PREFIX));
    const char *want = iface + strlen(IFACE_PREFIX);
    struct sp_port **ports = NULL;
    int found = 1;
    if (sp_list_ports(&ports) == SP_OK) {
        for (size_t i = 0; ports[i] && found != 0; i++) {
            const char *name = sp_get_port_name(ports[i]);
            if (name && strcmp(base_name(name), want) == 0) {
                snprintf(out, cap, "%s", name);
                found = 0;
            }
        }
        sp_free_port_list(ports);
    }
    if (found != 0)
        at_msg(PROG, "serial port %s of interface %s is not present "
                        "(unplugged?)",
                want, iface);
    return found;
}

static bool known_iface(const char *iface)
{
    return iface && strncmp(iface, IFACE_PREFIX, strlen(IFACE_PREFIX)) == 0 &&
           iface[strlen(IFACE_PREFIX)] != '\0';
}

static int print_dlts(void)
{
    printf("dlt {number=%d}{name=WIRESHARK_UPPER_PDU}"
           "{display=attrace UART trace (exported PDU, dissector attrace)}\n",
           LINKTYPE_WIRESHARK_UPPER_PDU);
    return 0;
}

static int print_config(const char *iface)
{
    printf("arg {number=0}{call=--mode}{display=Mode}"
           "{tooltip=proxy: relay between the module's port and a host PTY or "
           "second port; tap: two receive-only ports of a sniffer cable}"
           "{type=selector}\n"
           "value {arg=0}{value=proxy}{display=Proxy (relay host and module)}{default=true}\n"
           "value {arg=0}{value=tap}{display=Tap (two receive-only ports)}{default=false}\n");
    if (strcmp(iface, IFACE_PATH) == 0)
        printf("arg {number=1}{call=--device}{display=Module port}"
               "{tooltip=Path of the module's serial device (proxy) or of the "
               "port listening to TE->ME (tap), e.g. /dev/pts/3 or /dev/ttyUSB0}"
               "{type=string}{required=true}\n");
    printf("arg {number=2}{call=--second-port}{display=Second port}"
           "{tooltip=Proxy: the host program's port (empty: a new pseudo-terminal "
           "is created); tap: the port listening to ME->TE (required)}"
           "{type=string}\n"
           "arg {number=3}{call=--link}{display=PTY symlink}"
           "{tooltip=Proxy without a second port: make this symlink to the new "
           "pseudo-terminal, for the host program to open}{type=string}\n"
           "arg {number=4}{call=--baud}{display=Baud rate}"
           "{tooltip=Line speed of the ports}{type=unsigned}{range=%lu,%lu}"
           "{default=115200}\n"
           "arg {number=5}{call=--flow}{display=Flow control}"
           "{tooltip=Flow control of the ports}{type=selector}\n"
           "value {arg=5}{value=none}{display=None}{default=true}\n"
           "value {arg=5}{value=rtscts}{display=RTS/CTS}{default=false}\n"
           "value {arg=5}{value=xonxoff}{display=XON/XOFF}{default=false}\n",
           BAUD_MIN, BAUD_MAX);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Capture                                                            */
/* ------------------------------------------------------------------ */

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    /* Wireshark closing the FIFO shows up as EPIPE, not as a signal. */
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

/* True once nobody reads the FIFO any more (Wireshark closed it). */
static bool reader_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT, .revents = 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLERR) != 0;
}

/*
 * Wireshark closing the FIFO must end the capture even when the line is
 * quiet (no write to fail with EPIPE): a thread with SIGINT/SIGTERM
 * blocked polls the FIFO every 100 ms and, once its reader is gone, sends
 * the process SIGTERM, which the main thread handles like Wireshark's own.
 */
typedef struct watcher {
    int fd;
    atomic_bool done;
} watcher;

static void *watch_fifo(void *arg)
{
    watcher *w = arg;
    while (!atomic_load(&w->done)) {
        if (reader_gone(w->fd)) {
            kill(getpid(), SIGTERM);
            break;
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 100000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* Starts the watcher with SIGINT/SIGTERM blocked in it; 0 or -1. */
static int start_watcher(watcher *w, pthread_t *tid)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &block, &old) != 0)
        return -1;
    int rc = pthread_create(tid, NULL, watch_fifo, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? 0 : -1;
}

static int capture(const opts *o)
{
    if (o->filter && *o->filter) {
        at_msg(PROG, "capture filters are not supported (got \"%s\"): "
                        "attrace records every byte of the serial line; use a "
                        "display filter such as \"attrace\" instead",
                o->filter);
        return 1;
    }
    if (!o->fifo)
        return bad_usage("--capture needs --fifo PATH");

    at_capture_config cfg;
    at_capture_default_config(&cfg);

    if (!o->mode || strcmp(o->mode, "proxy") == 0) {
        cfg.mode = AT_CAPTURE_PROXY;
    } else if (strcmp(o->mode, "tap") == 0) {
        cfg.mode = AT_CAPTURE_TAP;
    } else {
        return bad_usage("--mode: unknown mode \"%s\" (proxy or tap)", o->mode);
    }
    if (o->baud) {
        char *end = NULL;
        errno = 0;
        unsigned long b = strtoul(o->baud, &end, 10);
        if (errno || end == o->baud || *end || o->baud[0] == '-' || b < BAUD_MIN ||
            b > BAUD_MAX) {
            return bad_usage("--baud: \"%s\" is not a rate in %lu..%lu",
                             o->baud, BAUD_MIN, BAUD_MAX);
        }
        cfg.line.baud = (uint32_t)b;
    }
    if (o->flow && at_serial_parse_flow(o->flow, &cfg.line.flow) != 0)
        return bad_usage("--flow: unknown flow control \"%s\" (none, rtscts or xonxoff)",
                         o->flow);

    char module[PATH_MAX];
    int port_rc = resolve_port(o, module, sizeof module);
    if (port_rc != 0)
        return port_rc;
    const char *second = o->second && *o->second ? o->second : NULL;
    const char *link = o->link && *o->link ? o->link : NULL;
    if (cfg.mode == AT_CAPTURE_TAP && !second)
        return bad_usage("tap mode needs the port listening to ME->TE "
                         "(--second-port, \"Second port\")");
    if (link && (cfg.mode == AT_CAPTURE_TAP || second))
        return bad_usage("--link (PTY symlink) only applies to proxy mode "
                         "without a second port");
    at_capture_pair pair = {.module = module, .host = second, .link = link};
    cfg.pairs = &pair;
    cfg.n_pairs = 1;

    FILE *log = NULL;
    if (o->debug_file) {
        log = fopen(o->debug_file, "a");
        if (!log) {
            at_msg(PROG, "--debug-file %s: %s", o->debug_file,
                    strerror(errno));
            return 1;
        }
    } else if (o->debug) {
        log = stderr;
    }
    /* Without --debug the capture is silent: Wireshark may show anything on
     * stderr as an error. */
    cfg.log = log;
    cfg.quiet = log == NULL;

    if (install_signals() != 0) {
        at_msg(PROG, "cannot install signal handlers: %s", strerror(errno));
        if (log && log != stderr)
            fclose(log);
        return 1;
    }

    /* Wireshark created the FIFO and reads it; a plain file also works
     * (created 0600: a trace may hold private keys). */
    int fd = open(o->fifo, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        at_msg(PROG, "cannot open --fifo %s: %s", o->fifo, strerror(errno));
        if (log && log != stderr)
            fclose(log);
        return 1;
    }
    FILE *out = fdopen(fd, "wb");
    if (!out) {
        at_msg(PROG, "%s: %s", o->fifo, strerror(errno));
        close(fd);
        if (log && log != stderr)
            fclose(log);
        return 1;
    }
    cfg.out_stream = out;
    cfg.out_path = o->fifo;

    watcher w = {.fd = fd};
    atomic_init(&w.done, false);
    pthread_t tid;
    bool watching = start_watcher(&w, &tid) == 0;
    if (!watching && log)
        fprintf(log, PROG ": cannot watch the FIFO; the capture ends on SIGTERM only\n");

    char err[512] = "";
    at_capture_stats st;
    int rc = at_capture_run(&cfg, &g_stop, &st, err, sizeof err);
    if (watching) {
        atomic_store(&w.done, true);
        pthread_join(tid, NULL);
    }
    /* Once Wireshark has closed the FIFO, failing writes are the normal end. */
    bool gone = reader_gone(fd);
    int close_errno = fclose(out) != 0 ? errno : 0;
    if (log && log != stderr)
        fclose(log);
    if (close_errno && rc == AT_CAPTURE_OK && !gone) {
        at_msg(PROG, "%s: %s", o->fifo, strerror(close_errno));
        return 1;
    }
    if (rc == AT_CAPTURE_OK || gone)
        return 0; /* stopped by Wireshark: signal or FIFO closed */
    at_msg(PROG, "%s", err[0] ? err : "capture failed");
    return 1;
}

int main(int argc, char **argv)
{
    opts o;
    parse_opts(argc, argv, &o);

    if (o.filter && o.act != ACT_CAPTURE && *o.filter) {
        /* Wireshark validates a capture filter by calling us with it. */
        at_msg(PROG, "capture filters are not supported (got \"%s\")",
                o.filter);
        return 1;
    }
    switch (o.act) {
    case ACT_VERSION: print_extcap_line(); return 0;
    case ACT_INTERFACES: return print_interfaces();
    default: break;
    }
    if (!o.iface)
        usage_error("--extcap-interface IFACE is required here", NULL);
    if (!known_iface(o.iface))
        return bad_usage("unknown interface \"%s\" (" IFACE_PATH " or " IFACE_PREFIX
                         "PORTNAME)", o.iface);
    switch (o.act) {
    case ACT_DLTS: return print_dlts();
    case ACT_CONFIG: return print_config(o.iface);
    case ACT_CAPTURE: return capture(&o);
    case ACT_FILTER_CHECK: return 0; /* empty filter: nothing to refuse */
    default: return 2;
    }
}
