/*
 * decode.c - `attrace decode TRACE|-`: reads a trace record by record,
 * runs one decoder session and one analyzer per channel and hands the
 * events and findings to the text or the JSON renderer. Memory stays
 * bounded: one record, one session and analyzer per channel, and one
 * exchange's worth of renderer state at a time.
 */
#define _GNU_SOURCE /* getopt_long, fstat, isatty */

#include "cli.h"
#include "frameopts.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <stdio_ext.h>
#include <sys/stat.h>
#include <unistd.h>

/* A trace with more channels than this is almost certainly damaged or
 * hostile; each channel costs a session (tens of KiB). */
#define CLI_MAX_CHANNELS 256u

/* ------------------------------------------------------------------ */
/* Helpers on events shared by the renderers                          */
/* ------------------------------------------------------------------ */

const uint8_t *cli_event_bytes(const at_event *ev, uint64_t off, size_t len)
{
    const at_token *t = ev->tok;
    if (t && t->data && off >= t->off && off - t->off <= t->len &&
        len <= t->len - (off - t->off))
        return t->data + (off - t->off);
    if (ev->data && off >= ev->span.off && off - ev->span.off <= ev->len &&
        len <= ev->len - (off - ev->span.off))
        return ev->data + (off - ev->span.off);
    return NULL;
}

bool cli_exchange_failed(const at_exchange *x)
{
    switch (x->secure_result) {
    case AT_SEC_NONE:
    case AT_SEC_READY:
    case AT_SEC_END_OK:
        break;
    default:
        return true;
    }
    if (!x->has_final)
        return false;
    switch (x->final.kind) {
    case AT_RES_ERROR:
    case AT_RES_CME_ERROR:
    case AT_RES_CMS_ERROR:
    case AT_RES_NO_DIALTONE:
    case AT_RES_BUSY:
    case AT_RES_NO_ANSWER:
        return true;
    default:
        return false;
    }
}

const char *cli_result_meaning(const at_result *r)
{
    if (r->kind == AT_RES_CME_ERROR && r->has_code)
        return at_cme_error_text(r->code);
    return NULL;
}

const char *cli_dir_key(at_dir d)
{
    return d == AT_DIR_TE_TO_ME ? "te_to_me" : "me_to_te";
}

const char *cli_dir_short(at_dir d)
{
    return d == AT_DIR_TE_TO_ME ? "TE" : "ME";
}

const at_frame_details *cli_frame_details(const cli_chan *ch, const at_event *ev)
{
    if (!ch->an || ev->kind != AT_EV_FRAME)
        return NULL;
    return at_analyzer_frame(ch->an);
}

/* ------------------------------------------------------------------ */
/* Options                                                            */
/* ------------------------------------------------------------------ */

static void decode_help(FILE *fp)
{
    fprintf(fp,
        "Usage: " CLI_PROG " decode [OPTIONS] TRACE\n"
        "       " CLI_PROG " decode [OPTIONS] -      (read a pcap stream from standard input)\n"
        "\n"
        "Decodes a trace (pcap, link type 252 as written by attrace; also link type\n"
        "250 and text2pcap exports) into an annotated AT session: one block per\n"
        "command with its echo, responses, secure-command frames field by field,\n"
        "payloads, final result and duration; URCs and trace events on their own.\n"
        "Output is streamed as records arrive.\n"
        "\n"
        "Options:\n"
        "  --json             one JSON object per line (NDJSON): exchange, urc, frame,\n"
        "                     invalid, unexpected, trace_event, finding, and a final\n"
        "                     summary\n"
        "  --hex              add the bytes of every element, with their stream offsets\n"
        "  --show-secrets     show private-key bytes (redacted by default, even with\n"
        "                     --hex: only their size is printed)\n"
        "  --color[=WHEN]     colorize the text output: auto (default: when standard\n"
        "                     output is a terminal, TERM is not 'dumb' and NO_COLOR is\n"
        "                     unset), always, never\n"
        "  --profile=NAME     module family: legacy, newer (default: guessed from\n"
        "                     the trace: legacy until the module accepts a frame\n"
        "                     only a newer one accepts; frame checks follow the guess)\n"
        "  --client-cert=FILE the client certificate (PEM or DER) whose key signs\n"
        "                     the frames, when the trace does not show its WRITE\n"
        "  --pause-warn-ms=N  a pause of N ms or more inside a frame is a finding\n"
        "                     (default 1000)\n"
        "  --check            exit with status 1 when there is an error finding\n"
        "  --list-rules       print the diagnosis rules (id, severity, what each\n"
        "                     detects, its fix) instead of decoding; with --json as\n"
        "                     one JSON object per line\n"
        "  -h, --help         show this help\n"
        "\n"
        "Under each frame: the certificate it carries in the module's ^SBNR terms,\n"
        "the private key's size and type (never its bytes without --show-secrets),\n"
        "and whether the signature matches, with the key it was checked against.\n"
        "Findings (what went wrong and how to fix it) follow the exchange, URC or\n"
        "^SBNR line they are about, each with a stable rule id and a severity\n"
        "(error, warning, info); the summary counts them.\n"
        "Offsets count the bytes of one direction from the start of the trace\n"
        "(TE+79: byte 79 sent by the host; ME+12: byte 12 sent by the module).\n"
        "\n"
        "Exit status: 0 decoded; 1 with --check: an error finding (or the output\n"
        "could not be written); 2 usage error; 3 trace unreadable or damaged, which\n"
        "takes precedence over 1 (everything before the damage is decoded and\n"
        "printed first).\n");
}

enum {
    OPT_JSON = 256,
    OPT_HEX,
    OPT_SHOW_SECRETS,
    OPT_COLOR,
    OPT_PAUSE_WARN_MS,
    OPT_CHECK,
    OPT_LIST_RULES
};

static bool color_auto(void)
{
    const char *term = getenv("TERM");
    return isatty(STDOUT_FILENO) && !(term && strcmp(term, "dumb") == 0) &&
           getenv("NO_COLOR") == NULL;
}

/* Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, cli_opts *opt)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"hex", no_argument, NULL, OPT_HEX},
        {"show-secrets", no_argument, NULL, OPT_SHOW_SECRETS},
        {"color", optional_argument, NULL, OPT_COLOR},
        {"colour", optional_argument, NULL, OPT_COLOR},
        CLI_FO_ROW_PROFILE,
        CLI_FO_ROW_CLIENT_CERT,
        {"pause-warn-ms", required_argument, NULL, OPT_PAUSE_WARN_MS},
        {"check", no_argument, NULL, OPT_CHECK},
        {"list-rules", no_argument, NULL, OPT_LIST_RULES},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *color = "auto";
    cli_frame_opts fo; /* --profile and --client-cert, parsed as everywhere */
    bool help = false;

    memset(opt, 0, sizeof *opt);
    memset(&fo, 0, sizeof fo);
    opterr = 0;
    optind = 1;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", longopts, NULL);
        if (c == -1)
            break;
        int fr = cli_frame_option(&fo, c, optarg, CLI_PROG " decode");
        if (fr == 2)
            return 2;
        if (fr == 1)
            continue;
        switch (c) {
        case OPT_JSON: opt->json = true; break;
        case OPT_HEX: opt->hex = true; break;
        case OPT_SHOW_SECRETS: opt->show_secrets = true; break;
        case OPT_COLOR: color = optarg ? optarg : "always"; break;
        case OPT_PAUSE_WARN_MS: {
            uint32_t v;
            if (cli_parse_u32(optarg, 1, UINT32_MAX, &v) != 0)
                return cli_usage_error(CLI_PROG " decode", 
                    "invalid --pause-warn-ms value '%s' (milliseconds, 1 or more)",
                    optarg);
            opt->have_pause_warn = true;
            opt->pause_warn_ms = (uint32_t)v;
            break;
        }
        case OPT_CHECK: opt->check = true; break;
        case OPT_LIST_RULES: opt->list_rules = true; break;
        case 'h': help = true; break;
        default:
            return cli_getopt_error(CLI_PROG " decode", c, argv);
        }
    }
    if (help) {
        decode_help(stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (strcmp(color, "always") == 0)
        opt->color = true;
    else if (strcmp(color, "never") == 0)
        opt->color = false;
    else if (strcmp(color, "auto") == 0)
        opt->color = color_auto();
    else
        return cli_usage_error(CLI_PROG " decode", 
            "invalid --color value '%s' (auto, always or never)", color);

    if (opt->list_rules) {
        if (optind < argc)
            return cli_usage_error(CLI_PROG " decode", "--list-rules takes no TRACE ('%s')",
                                   argv[optind]);
        return -1;
    }
    if (optind >= argc)
        return cli_usage_error(CLI_PROG " decode", "%s", "missing TRACE argument (a file, or - for standard input)");
    if (argc - optind > 1)
        return cli_usage_error(CLI_PROG " decode", "unexpected argument '%s'", argv[optind + 1]);
    opt->path = argv[optind];
    opt->profile = fo.profile;

    if (fo.client_cert) {
        char err[512];
        if (at_cert_load_der(fo.client_cert, &opt->client_cert_der, &opt->client_cert_len,
                             err, sizeof err) != 0) {
            at_msg(CLI_PROG " decode", "--client-cert: %s", err);
            return 2;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* Channels and events                                                */
/* ------------------------------------------------------------------ */

typedef struct chan_table {
    cli_chan **v;
    unsigned n, cap;
    bool warned;
} chan_table;

static void count_event(cli_summary *s, const at_event *ev)
{
    switch (ev->kind) {
    case AT_EV_COMMAND: s->exchanges++; break;
    case AT_EV_END:
        if (ev->exchange && cli_exchange_failed(ev->exchange))
            s->errors++;
        if (ev->exchange && ev->exchange->end_reason != AT_END_RESULT)
            s->unanswered++;
        break;
    case AT_EV_URC: s->urcs++; break;
    case AT_EV_FRAME:
        s->frames++;
        if (ev->frame && (ev->frame->n_problems || ev->frame->problems_dropped))
            s->frames_with_problems++;
        break;
    case AT_EV_INVALID: s->invalid++; break;
    case AT_EV_UNEXPECTED: s->unexpected++; break;
    case AT_EV_ECHO:
    case AT_EV_RESPONSE:
    case AT_EV_INTERMEDIATE:
    case AT_EV_SECURE_RESULT:
        /* outside any exchange (an echo seen before its command) */
        if (!ev->exchange)
            s->unexpected++;
        break;
    default: break;
    }
}

/* The analyzer's callback: findings are kept until the event that
 * completed them has been printed. */
void cli_on_finding(void *ctxp, const at_finding *f)
{
    cli_chan *ch = ctxp;
    cli_findings *q = &ch->pending;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 4;
        at_finding *v = realloc(q->v, cap * sizeof *v);
        if (!v) {
            q->oom = true;
            return;
        }
        q->v = v;
        q->cap = cap;
    }
    q->v[q->n++] = *f;
}

/* Prints and counts the findings kept so far. */
void cli_flush_findings(cli_chan *ch, bool after_event)
{
    cli_ctx *c = ch->ctx;
    cli_findings *q = &ch->pending;
    if (q->oom) {
        at_msg(CLI_PROG, "out of memory: findings were lost");
        q->oom = false;
        c->sum.damaged = true;
        c->sum.error = "out of memory";
    }
    if (!q->n)
        return;
    for (size_t i = 0; i < q->n; i++) {
        unsigned sev = (unsigned)q->v[i].severity;
        c->sum.findings[sev <= AT_SEV_ERROR ? sev : AT_SEV_ERROR]++;
    }
    c->render->findings(ch, q->v, q->n, after_event);
    q->n = 0;
    c->wrote = true;
}

static void on_event(void *ctxp, const at_event *ev)
{
    cli_chan *ch = ctxp;
    /* First the analyzer: the renderers show what it made of a frame, and
     * its findings about this event follow the event. */
    if (ch->an)
        at_analyzer_event(ch->an, ev);
    cli_render_event(ch, ev);
}

void cli_render_event(cli_chan *ch, const at_event *ev)
{
    cli_ctx *c = ch->ctx;
    count_event(&c->sum, ev);
    c->render->event(ch, ev);
    if (ch->pending.n || ch->pending.oom) /* most events complete none */
        cli_flush_findings(ch, true);
    c->wrote = true;
}

static cli_chan *chan_get(cli_ctx *c, chan_table *t, uint16_t channel)
{
    for (unsigned i = 0; i < t->n; i++)
        if (t->v[i]->channel == channel)
            return t->v[i];
    if (t->n >= CLI_MAX_CHANNELS) {
        if (!t->warned)
            at_msg(CLI_PROG, "warning: more than %u channels; "
                    "records of further channels are skipped", CLI_MAX_CHANNELS);
        t->warned = true;
        return NULL;
    }
    if (t->n == t->cap) {
        unsigned cap = t->cap ? t->cap * 2 : 4;
        cli_chan **v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return NULL;
        t->v = v;
        t->cap = cap;
    }
    cli_chan *ch = calloc(1, sizeof *ch);
    at_session *s = ch ? malloc(sizeof *s) : NULL;
    at_analyzer_config acfg = at_analyzer_default_config();
    acfg.profile = c->opt->profile;
    acfg.client_cert_der = c->opt->client_cert_der;
    acfg.client_cert_len = c->opt->client_cert_len;
    if (c->opt->have_pause_warn)
        acfg.pause_warn_ms = c->opt->pause_warn_ms;
    at_analyzer *an =
        s ? at_analyzer_new_for_session(s, channel, &acfg, on_event, ch, cli_on_finding, ch)
          : NULL;
    if (!an) {
        free(s);
        free(ch);
        return NULL;
    }
    ch->channel = channel;
    ch->ctx = c;
    ch->session = s;
    ch->an = an;
    t->v[t->n++] = ch;
    c->sum.channels = t->n;
    return ch;
}

static void trace_event(cli_ctx *c, cli_chan *ch, unsigned event,
                        const at_trace_record *rec)
{
    cli_trace_event te = {event, rec};
    c->sum.trace_events++;
    c->render->trace_event(c, ch, &te);
    c->wrote = true;
}

static void handle_record(cli_ctx *c, cli_chan *ch, const at_trace_record *rec)
{
    at_dir dir = rec->dir == AT_DIR_ME_TO_TE ? AT_DIR_ME_TO_TE : AT_DIR_TE_TO_ME;
    bool missing = (rec->flags & AT_TFLAG_BYTES_MISSING) != 0;

    /* Whatever was in progress is cut before the gap is reported. */
    if (missing || rec->event == AT_TEV_OVERRUN)
        at_session_gap(ch->session, dir, rec->ts_ns);

    if (rec->event == AT_TEV_DATA) {
        if (missing)
            trace_event(c, ch, CLI_TEV_BYTES_MISSING, rec);
        c->sum.bytes[dir] += rec->len;
        at_session_feed(ch->session, dir, rec->ts_ns, rec->payload, rec->len);
    } else {
        trace_event(c, ch, rec->event, rec);
    }
}

/* How output keeps up with a live input (`capture -w - | attrace decode -`):
 * a regular file is all there already, so stdio's buffering is right; from
 * a pipe, output is flushed whenever the input has nothing more waiting,
 * i.e. just before the decoder would block for the next record. */
typedef enum flush_policy { FLUSH_BUFFERED, FLUSH_WHEN_INPUT_IDLE, FLUSH_EACH } flush_policy;

static flush_policy choose_flush_policy(const char *path)
{
    struct stat st;
    if (strcmp(path, "-") == 0)
        return fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode) ? FLUSH_BUFFERED
                                                                     : FLUSH_WHEN_INPUT_IDLE;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return FLUSH_BUFFERED;
    return FLUSH_EACH; /* a named FIFO or device: no descriptor to poll here */
}

static bool stdin_idle(void)
{
    struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
    return poll(&pfd, 1, 0) == 0;
}

/* `--list-rules [--json]`: the analyzer's rule table. */
static int list_rules(cli_ctx *c)
{
    size_t n;
    const at_rule *r = at_rules(&n);
    c->render->rules(c, r, n);
    c->render->free(c);
    if (fflush(c->out) != 0 || ferror(c->out)) {
        at_msg(CLI_PROG, "error writing the output: %s", strerror(errno));
        return 1;
    }
    if (c->sum.damaged) {
        at_msg(CLI_PROG, "%s", c->sum.error);
        return 1;
    }
    return 0;
}

const cli_renderer *cli_renderer_for(const cli_opts *opt)
{
    return opt->json ? &cli_json_renderer : &cli_text_renderer;
}

int cli_decode_main(int argc, char **argv)
{
    cli_opts opt;
    int rc = parse_options(argc, argv, &opt);
    if (rc >= 0)
        return rc;
    cli_ctx c;
    memset(&c, 0, sizeof c);
    c.opt = &opt;
    c.out = stdout;
    c.render = cli_renderer_for(&opt);
    c.last_day = -1;
    c.next_frame_id = c.next_urc_id = c.next_invalid_id = 1;
    if (opt.list_rules) {
        free(opt.client_cert_der);
        return list_rules(&c);
    }

    char err[512];
    at_trace_reader *r = at_trace_open(opt.path, err, sizeof err);
    if (!r) {
        at_msg(CLI_PROG, "%s", err);
        c.sum.damaged = true;
        c.sum.error = err;
        c.render->unreadable(&c);
        fflush(c.out);
        c.render->free(&c);
        free(opt.client_cert_der);
        return 3;
    }

    flush_policy flush = choose_flush_policy(opt.path);
    static char outbuf[1 << 16];
    if (c.render->flush) {
        /* The renderer buffers (as much as stdio would): stdio need not
         * copy its text into a buffer of its own. */
        setvbuf(stdout, NULL, _IONBF, 0);
        c.text_hold = sizeof outbuf;
    } else {
        setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    }
    /* One thread writes: the renderers' many small writes need not take
     * stdio's lock each time. */
    __fsetlocking(stdout, FSETLOCKING_BYCALLER);

    chan_table chans = {0};
    at_trace_record rec;
    uint64_t last_ts = 0;
    int st;
    bool oom = false;
    while ((st = at_trace_next(r, &rec)) == 1) {
        c.sum.records++;
        if (!c.have_t0) {
            c.have_t0 = true;
            c.t0 = rec.ts_ns;
        }
        last_ts = rec.ts_ns;
        cli_chan *ch = chan_get(&c, &chans, rec.channel);
        if (!ch) {
            if (!chans.warned) {
                oom = true;
                break;
            }
            c.sum.skipped_records++;
            continue;
        }
        handle_record(&c, ch, &rec);
        if (c.wrote && (flush == FLUSH_EACH ||
                        (flush == FLUSH_WHEN_INPUT_IDLE && stdin_idle()))) {
            if (c.render->flush)
                c.render->flush(&c);
            fflush(c.out);
            c.wrote = false;
        }
    }

    if (oom) {
        c.sum.damaged = true;
        c.sum.error = "out of memory";
    } else if (st < 0) {
        c.sum.damaged = true;
        c.sum.error = at_trace_error(r);
    }
    for (unsigned i = 0; i < chans.n; i++) {
        cli_chan *ch = chans.v[i];
        at_session_finish(ch->session, last_ts);
        c.render->channel_done(ch);
        /* Findings that waited for more evidence than the trace holds. */
        at_analyzer_finish(ch->an);
        cli_flush_findings(ch, false);
    }

    int status = 0;
    if (opt.check && c.sum.findings[AT_SEV_ERROR])
        status = 1;
    c.render->summary(&c);

    if (fflush(c.out) != 0 || ferror(c.out)) {
        at_msg(CLI_PROG, "error writing the output: %s",
                strerror(errno));
        status = 1;
    }
    if (c.sum.damaged) {
        at_msg(CLI_PROG, "%s", c.sum.error ? c.sum.error : "damaged trace");
        status = 3;
    }

    for (unsigned i = 0; i < chans.n; i++) {
        at_analyzer_free(chans.v[i]->an);
        free(chans.v[i]->pending.v);
        free(chans.v[i]->session);
        free(chans.v[i]);
    }
    free(chans.v);
    c.render->free(&c);
    free(opt.client_cert_der);
    at_trace_close(r);
    return status;
}
