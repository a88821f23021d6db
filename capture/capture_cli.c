/*
 * capture_cli.c - `attrace capture`: options in, at_capture_run() (capture.h)
 * out. Compiled into the attrace executable; entry point cli_capture_main.
 */
#define _GNU_SOURCE 1

#include "capture.h"
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define PROG "attrace capture"

int cli_capture_main(int argc, char **argv);

static volatile sig_atomic_t stop_flag;

/* The signal's number: exec mode passes the same signal to the program. */
static void on_signal(int sig)
{
    stop_flag = sig;
}

static void usage(FILE *fp)
{
    fprintf(fp,
        "Usage: " PROG " --module PORT [--host PORT] [--link PATH] -w FILE|- [OPTIONS]\n"
        "       " PROG " --module PORT --exec 'CMD ... {} ...' -w FILE|- [OPTIONS]\n"
        "       " PROG " --tap-te PORT --tap-me PORT -w FILE|- [OPTIONS]\n"
        "\n"
        "Records live UART traffic into a trace (pcap, TRACE-FORMAT.md).\n"
        "\n"
        "Modes:\n"
        "  proxy   --module PORT opens the module's port and creates a\n"
        "          pseudo-terminal for the host program (its path is printed:\n"
        "          \"attrace capture: host side on /dev/pts/N\"), or relays to a\n"
        "          second port given with --host. Bytes are relayed both ways;\n"
        "          each read is one record. Several --module options (each\n"
        "          followed by its own --host/--link) record into one file as\n"
        "          channels 0, 1, ... Speed and flow-control changes the host\n"
        "          program makes on its PTY are applied to the module's port and\n"
        "          recorded as settings events.\n"
        "  exec    --exec CMD runs CMD with /bin/sh -c, every {} replaced by the\n"
        "          path of a fresh PTY relayed to the module, in a process group\n"
        "          of its own; the capture ends with the program and exits with\n"
        "          its exit status (128+N when signal N ended it). SIGINT and\n"
        "          SIGTERM are passed to the whole group (SIGKILL 2 s later);\n"
        "          if the capture is killed, the PTY hangs up and the group\n"
        "          gets SIGHUP.\n"
        "  tap     --tap-te PORT listens to TE->ME, --tap-me PORT to ME->TE\n"
        "          (a sniffer cable); both are opened read-only, never written.\n"
        "\n"
        "Ports: pseudo-terminals and /dev/tty* are opened with termios, other\n"
        "names through libserialport.\n"
        "\n"
        "Options:\n"
        "  --module PORT        the module's port (starts a new channel)\n"
        "  --host PORT          a real port for the host instead of a PTY\n"
        "  --link PATH          make PATH a symlink to the host PTY (an existing\n"
        "                       symlink is replaced; removed at the end)\n"
        "  --tap-te PORT, --tap-me PORT   tap mode\n"
        "  --exec CMD           exec mode\n"
        "  --baud N             line speed (default 115200)\n"
        "  --flow none|rtscts|xonxoff     flow control (default none)\n"
        "  --data-bits 5..8, --parity N|E|O|M|S, --stop-bits 1|2  (default 8N1)\n"
        "  -w FILE              write the trace to FILE (mode 0600); - = stdout\n"
        "  -C SIZE              rotate: start a new file once the current one\n"
        "                       holds more than SIZE million bytes (decimals\n"
        "                       allowed: 0.01 = 10000 bytes), like tcpdump.\n"
        "                       Files are FILE, FILE1, FILE2, ...\n"
        "  -W N                 with -C: keep N files, named FILE0..FILE(N-1),\n"
        "                       overwriting the oldest (tcpdump's naming)\n"
        "  --reconnect          when the module's port disappears, wait for it\n"
        "                       (its path is checked every 200 ms) and resume\n"
        "                       into the same file\n"
        "  -q, --quiet          no live view (exchanges as they complete)\n"
        "  -h, --help           this help\n"
        "\n"
        "Records are flushed at least every 100 ms and after every final\n"
        "result; SIGINT/SIGTERM close the file cleanly. At the end (a signal,\n"
        "the exec program's end, an error) the bytes the ports have received\n"
        "and the capture has not read yet are read and recorded (no longer\n"
        "relayed); a port still sending after 1 MiB or 1 s of this is cut off,\n"
        "with a note in the trace and a message. Notes mark start, stop,\n"
        "a lost port and a reconnection; breaks, framing/parity errors and\n"
        "overruns (TIOCGICOUNT) and control-line changes are recorded where\n"
        "the port reports them (real serial ports, not PTYs).\n"
        "\n"
        "Exit status: 0 after SIGINT/SIGTERM; in exec mode the program's;\n"
        "1 on a runtime error (port lost, write error); 2 on a usage error.\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return -1;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

enum {
    OPT_MODULE = 256, OPT_HOST, OPT_LINK, OPT_TAP_TE, OPT_TAP_ME, OPT_EXEC,
    OPT_BAUD, OPT_FLOW, OPT_DATA_BITS, OPT_PARITY, OPT_STOP_BITS, OPT_RECONNECT
};

/* What the options name. --host/--link given before the first --module
 * are kept aside and applied to it once the options are read. */
typedef struct capture_args {
    at_capture_config cfg;
    at_capture_pair pairs[AT_CAPTURE_MAX_PAIRS];
    size_t n_pairs;
    const char *tap_te, *tap_me;
    const char *host_before, *link_before;
} capture_args;

/* Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, capture_args *a)
{
    static const struct option lopts[] = {
        {"module", required_argument, NULL, OPT_MODULE},
        {"host", required_argument, NULL, OPT_HOST},
        {"link", required_argument, NULL, OPT_LINK},
        {"tap-te", required_argument, NULL, OPT_TAP_TE},
        {"tap-me", required_argument, NULL, OPT_TAP_ME},
        {"exec", required_argument, NULL, OPT_EXEC},
        {"baud", required_argument, NULL, OPT_BAUD},
        {"flow", required_argument, NULL, OPT_FLOW},
        {"data-bits", required_argument, NULL, OPT_DATA_BITS},
        {"parity", required_argument, NULL, OPT_PARITY},
        {"stop-bits", required_argument, NULL, OPT_STOP_BITS},
        {"reconnect", no_argument, NULL, OPT_RECONNECT},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    at_capture_config *cfg = &a->cfg;
    at_capture_pair *pairs = a->pairs;
    unsigned long v;

    optind = 1;
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, ":w:C:W:qh", lopts, NULL)) != -1) {
        switch (o) {
        case OPT_MODULE:
            if (a->n_pairs == AT_CAPTURE_MAX_PAIRS)
                return cli_usage_error(PROG, "at most 16 --module ports ('%s')", optarg);
            pairs[a->n_pairs++].module = optarg;
            break;
        case OPT_HOST:
        case OPT_LINK: {
            /* Applies to the last --module (or the first, if given before). */
            size_t n = a->n_pairs;
            const char **slot = n ? (o == OPT_HOST ? &pairs[n - 1].host : &pairs[n - 1].link)
                                  : (o == OPT_HOST ? &a->host_before : &a->link_before);
            if (*slot)
                return cli_usage_error(PROG, "two --host/--link for one --module ('%s')", optarg);
            *slot = optarg;
            break;
        }
        case OPT_TAP_TE: a->tap_te = optarg; break;
        case OPT_TAP_ME: a->tap_me = optarg; break;
        case OPT_EXEC: cfg->exec_cmd = optarg; break;
        case OPT_BAUD:
            if (parse_uint(optarg, 4000000, &v) != 0 || v == 0)
                return cli_usage_error(PROG, "--baud: '%s' is not a baud rate", optarg);
            cfg->line.baud = (uint32_t)v;
            break;
        case OPT_FLOW:
            if (at_serial_parse_flow(optarg, &cfg->line.flow) != 0)
                return cli_usage_error(PROG, "--flow: '%s' is not none, rtscts or xonxoff", optarg);
            break;
        case OPT_DATA_BITS:
            if (parse_uint(optarg, 8, &v) != 0 || v < 5)
                return cli_usage_error(PROG, "--data-bits: '%s' is not 5..8", optarg);
            cfg->line.data_bits = (unsigned)v;
            break;
        case OPT_PARITY:
            if (strlen(optarg) != 1 || !strchr("NEOMSneoms", optarg[0]))
                return cli_usage_error(PROG, "--parity: '%s' is not N, E, O, M or S", optarg);
            cfg->line.parity = (char)(optarg[0] & ~0x20);
            break;
        case OPT_STOP_BITS:
            if (parse_uint(optarg, 2, &v) != 0 || v < 1)
                return cli_usage_error(PROG, "--stop-bits: '%s' is not 1 or 2", optarg);
            cfg->line.stop_bits = (unsigned)v;
            break;
        case OPT_RECONNECT: cfg->reconnect = true; break;
        case 'w': cfg->out_path = optarg; break;
        case 'C': {
            char *end;
            errno = 0;
            double mb = strtod(optarg, &end);
            if (errno || *end || !(mb > 0) || mb > 1e9)
                return cli_usage_error(PROG, "-C: '%s' is not a positive size in millions of bytes", optarg);
            cfg->rotate_bytes = (uint64_t)(mb * 1e6);
            if (cfg->rotate_bytes == 0)
                cfg->rotate_bytes = 1;
            break;
        }
        case 'W':
            if (parse_uint(optarg, 100000, &v) != 0 || v == 0)
                return cli_usage_error(PROG, "-W: '%s' is not a positive number of files", optarg);
            cfg->rotate_files = (unsigned)v;
            break;
        case 'q': cfg->quiet = true; break;
        case 'h': usage(stdout); return fflush(stdout) == 0 ? 0 : 1;
        case ':': return cli_usage_error(PROG, "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error(PROG, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(PROG, "unexpected argument '%s'", argv[optind]);
    return -1;
}

/* The mode and the channels from the ports named, and the output checks.
 * Returns -1 to go on (a->cfg complete), else the exit status. */
static int settle_mode(capture_args *a)
{
    at_capture_config *cfg = &a->cfg;
    at_capture_pair *pairs = a->pairs;
    if (a->host_before || a->link_before) {
        if (!a->n_pairs)
            return cli_usage_error(PROG, "%s", "--host/--link need a --module");
        if ((a->host_before && pairs[0].host) || (a->link_before && pairs[0].link))
            return cli_usage_error(PROG, "%s", "two --host/--link for one --module");
        if (a->host_before)
            pairs[0].host = a->host_before;
        if (a->link_before)
            pairs[0].link = a->link_before;
    }
    if (a->tap_te || a->tap_me) {
        if (a->n_pairs || cfg->exec_cmd)
            return cli_usage_error(PROG, "%s", "--tap-te/--tap-me exclude --module and --exec");
        if (!a->tap_te || !a->tap_me)
            return cli_usage_error(PROG, "%s", "tap mode needs both --tap-te and --tap-me");
        cfg->mode = AT_CAPTURE_TAP;
        pairs[0].module = a->tap_te;
        pairs[0].host = a->tap_me;
        a->n_pairs = 1;
    } else if (cfg->exec_cmd) {
        cfg->mode = AT_CAPTURE_EXEC;
        if (a->n_pairs != 1 || pairs[0].host)
            return cli_usage_error(PROG, "%s", "--exec needs exactly one --module and no --host");
    } else if (!a->n_pairs) {
        return cli_usage_error(PROG, "%s", "name the module's port (--module) or use --tap-te/--tap-me");
    }
    if (!cfg->out_path)
        return cli_usage_error(PROG, "%s", "no output: -w FILE (or -w - for standard output)");
    if (cfg->rotate_files && !cfg->rotate_bytes)
        return cli_usage_error(PROG, "%s", "-W needs -C");
    cfg->pairs = pairs;
    cfg->n_pairs = a->n_pairs;
    return -1;
}

/* SIGINT/SIGTERM/SIGHUP set the stop flag (no SA_RESTART: poll() wakes). */
static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    /* Write errors come back as EFBIG / EPIPE instead of killing us. */
    signal(SIGXFSZ, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
}

int cli_capture_main(int argc, char **argv)
{
    capture_args a;
    memset(&a, 0, sizeof a);
    at_capture_default_config(&a.cfg);
    int rc = parse_options(argc, argv, &a);
    if (rc < 0)
        rc = settle_mode(&a);
    if (rc >= 0)
        return rc;
    install_signal_handlers();

    char err[1024] = "";
    at_capture_stats st;
    rc = at_capture_run(&a.cfg, &stop_flag, &st, err, sizeof err);
    if (rc != AT_CAPTURE_OK) {
        at_msg(PROG, "%s", err);
        return rc == AT_CAPTURE_BAD_CONFIG ? 2 : 1;
    }
    if (a.cfg.mode == AT_CAPTURE_EXEC && st.exec_status >= 0)
        return st.exec_status;
    return 0;
}
