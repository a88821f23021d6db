/*
 * live.h - what the live commands (`attrace cert`, `attrace replay`) share:
 * the port options (one parser for --port, --baud, --rtscts/--no-flow,
 * --crlf, --timeout-ms, -w) and a live session: one module driver whose
 * events are rendered as `attrace decode` renders a trace (cli_render_event
 * with the text or JSON renderer), into a buffer the command prints when it
 * wants the exchange shown (always with --verbose, and on a failure).
 */
#ifndef ATTRACE_CLI_LIVE_H
#define ATTRACE_CLI_LIVE_H

#include "cli.h"

#include "attrace/driver.h"

#define CLI_LIVE_MAX_PORTS 64
/* --escape: the silence +++ needs before and after it (S12 = 50: one
 * second), and how long the module may take to answer after that. */
#define CLI_LIVE_GUARD_MS 1000u
#define CLI_LIVE_ESCAPE_WAIT_MS 2000u

/* getopt_long codes of the port options (above the commands' own). */
enum {
    CLI_OPT_PORT = 1000,
    CLI_OPT_BAUD,
    CLI_OPT_RTSCTS,
    CLI_OPT_NO_FLOW,
    CLI_OPT_CRLF,
    CLI_OPT_TIMEOUT_MS,
    CLI_OPT_PROFILE,
    CLI_OPT_VERBOSE,
    CLI_OPT_JSON,
    CLI_OPT_GAP_MS,
    CLI_OPT_ESCAPE
};

/* The rows of struct option for the port options (and -w, --profile,
 * --verbose, --json), to be copied into a command's table. */
#define CLI_LIVE_LONGOPTS                                        \
    {"port", required_argument, NULL, CLI_OPT_PORT},             \
    {"baud", required_argument, NULL, CLI_OPT_BAUD},             \
    {"rtscts", no_argument, NULL, CLI_OPT_RTSCTS},               \
    {"no-flow", no_argument, NULL, CLI_OPT_NO_FLOW},             \
    {"crlf", no_argument, NULL, CLI_OPT_CRLF},                   \
    {"timeout-ms", required_argument, NULL, CLI_OPT_TIMEOUT_MS}, \
    {"profile", required_argument, NULL, CLI_OPT_PROFILE},       \
    {"verbose", no_argument, NULL, CLI_OPT_VERBOSE},             \
    {"json", no_argument, NULL, CLI_OPT_JSON},                   \
    {"gap-ms", required_argument, NULL, CLI_OPT_GAP_MS},         \
    {"escape", no_argument, NULL, CLI_OPT_ESCAPE},               \
    {"write", required_argument, NULL, 'w'}

/* The help text of those options. */
#define CLI_LIVE_HELP                                                          \
    "Port options:\n"                                                          \
    "  --port DEV         the module's serial port: /dev/ttyUSB0, a PTY, or a\n"  \
    "                     name libserialport knows\n"                          \
    "  --baud N           line speed (default 115200, 8N1)\n"                  \
    "  --rtscts           RTS/CTS hardware flow control\n"                     \
    "  --no-flow          no flow control (the default)\n"                     \
    "  --crlf             end commands with CR LF (default CR; AT^SBNW always\n" \
    "                     gets CR LF, as the vendor tool sends it)\n"          \
    "  --timeout-ms N     wait N ms for a final result (default 5000; 15000\n" \
    "                     after a frame)\n"                                    \
    "  --gap-ms N         wait N ms after a final result before the next\n"    \
    "                     command (default 100, as modules need)\n"           \
    "  --escape           first leave data mode (a transparent connection, a\n" \
    "                     call): a second of silence, +++, a second of silence;\n" \
    "                     the module answers OK (in command mode it ignores it)\n" \
    "  --profile NAME     module family: legacy, newer (default: guessed by the\n" \
    "                     diagnosis; frame limits of legacy)\n"                \
    "  -w, --write TRACE  record the session (pcap, mode 0600: it may hold\n"   \
    "                     private keys); `attrace decode TRACE` shows it\n"     \
    "  --verbose          show every exchange as `attrace decode` does\n"      \
    "  --json             exchanges as `attrace decode --json` (NDJSON)\n"

typedef struct cli_live_opts {
    const char *ports[CLI_LIVE_MAX_PORTS];
    unsigned n_ports;
    at_driver_config drv;      /* baud, rtscts, crlf, timeout, profile */
    const char *trace;         /* -w */
    bool verbose, json;
    bool escape;               /* --escape: +++ before the first command */
} cli_live_opts;

void cli_live_opts_init(cli_live_opts *o);

/* Handles one getopt_long code @p c of the port options for @p prog.
 * Returns 1 if it was one (handled), 0 if not, 2 after a usage error. */
int cli_live_option(cli_live_opts *o, int c, const char *arg, const char *prog);

/* The options every live command shares: the port options into @p o, then
 * the frame options (frameopts.h) into @p f. 1 taken, 0 neither, 2 after a
 * usage error. */
struct cli_frame_opts;
int cli_live_or_frame_option(cli_live_opts *o, struct cli_frame_opts *f, int c,
                             const char *arg, const char *prog);

/* One live session: the driver, and the renderer's state around it. */
typedef struct cli_live {
    cli_opts opt;
    cli_ctx ctx;
    cli_chan chan;
    at_driver *drv;
    FILE *view;                /* the rendered exchanges, buffered */
    char *view_buf;
    size_t view_len;
    bool view_to_stdout;       /* --verbose: no buffering */
    at_event_cb tap;           /* also gets every event (cli_live_tap), or NULL */
    void *tap_ctx;
} cli_live;

/* Opens @p port with @p o's settings (its trace: @p trace, or none),
 * session channel @p channel; @p client_cert_der (@p client_cert_len
 * bytes, or NULL) is the client certificate for the analyzer, read only
 * here. 0, or 3 with a message on stderr (prefixed @p prog). */
int cli_live_open(cli_live *l, const cli_live_opts *o, const char *port, const char *trace,
                  uint16_t channel, const uint8_t *client_cert_der, size_t client_cert_len,
                  const char *note, const char *prog);

/* Every later event of the session also goes to @p cb (after it was
 * rendered): `attrace replay` builds its exchange records from them. */
void cli_live_tap(cli_live *l, at_event_cb cb, void *ctx);

/* Writes what was rendered so far to @p to (if it was buffered) and
 * empties the buffer. */
void cli_live_show(cli_live *l, FILE *to);
/* Forgets what was rendered so far. */
void cli_live_discard(cli_live *l);

/* Closes the session: ends the driver (late findings are rendered), the
 * trace. 0, or 3 if the trace failed (message on stderr). */
int cli_live_close(cli_live *l, const char *prog);

/* The message for a failed exchange (timeout, lost port) with hints: a
 * silent module may be in data mode; written to @p to prefixed @p prog. */
void cli_live_report_failure(cli_live *l, const at_driver_reply *r, const char *prog,
                             FILE *to);

/* The module's words of an exchange in one line: "SECURE CMD ERROR, then OK". */
void cli_live_words(const at_driver_reply *r, char *buf, size_t cap);

#endif
