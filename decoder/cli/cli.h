/*
 * cli.h - private interface of the attrace command-line front end.
 *
 * decode.c reads the trace, runs one at_session and one at_analyzer per
 * channel and hands every session event, the analyzer's view of each frame,
 * the analyzer's findings and every non-data trace record to a renderer
 * (cli_renderer, a table of functions): output_text.c (the human view) or
 * output_json.c (NDJSON, through the streaming writer of json_writer.c).
 * The live commands (cert, replay: live.c) render their exchanges through
 * the same table. The renderers keep a little per-channel state (the
 * exchange being printed) and never hold more than one exchange's worth
 * of data. timefmt.c formats times and numbers for both.
 *
 * encode.c is `attrace encode`: one frame to a file.
 */
#ifndef ATTRACE_CLI_H
#define ATTRACE_CLI_H

#include "attrace/analysis.h"
#include "attrace/attrace.h"
#include "attrace/compare.h"
#include "attrace/crypto.h"
#include "attrace/trace.h"
#include "digits.h"
#include "json_writer.h"

#include "escape.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_PROG "attrace"

/* Options of `attrace decode`. */
typedef struct cli_opts {
    const char *path;          /* trace file, "-" = standard input */
    bool json;
    bool hex;
    bool show_secrets;
    bool color;                /* resolved from --color */
    const at_profile *profile; /* NULL = the session's default, analyzer guesses */
    bool check;                /* --check: exit 1 on error findings */
    bool list_rules;           /* --list-rules: print the rule table, no TRACE */
    uint8_t *client_cert_der;  /* --client-cert as DER (malloc'd), or NULL */
    size_t client_cert_len;
    bool have_pause_warn;
    uint32_t pause_warn_ms;    /* --pause-warn-ms */
} cli_opts;

/* Totals of one run, printed by both renderers at the end. */
typedef struct cli_summary {
    uint64_t records;
    uint64_t bytes[2];       /* data bytes per direction (at_dir index) */
    unsigned channels;
    uint64_t exchanges;
    uint64_t errors;         /* error final result or failed secure command */
    uint64_t unanswered;     /* exchanges ended without a final result */
    uint64_t urcs;
    uint64_t frames;
    uint64_t frames_with_problems;
    uint64_t invalid;
    uint64_t unexpected;
    uint64_t trace_events;
    uint64_t skipped_records;/* records of channels beyond the table's limit */
    uint64_t findings[3];    /* by at_severity */
    bool damaged;            /* the reader stopped on damage */
    const char *error;       /* its message when damaged */
} cli_summary;

/* A trace-level event: a non-data record, or a data record's
 * "bytes missing" flag (then event is CLI_TEV_BYTES_MISSING). */
#define CLI_TEV_BYTES_MISSING 0x100u
typedef struct cli_trace_event {
    unsigned event;            /* at_trace_event or CLI_TEV_BYTES_MISSING */
    const at_trace_record *rec;
} cli_trace_event;

/* An open payload or transparent run in one direction (text renderer). */
typedef struct cli_run {
    bool active;
    at_event_kind kind;        /* AT_EV_PAYLOAD or AT_EV_TRANSPARENT */
    uint64_t off;              /* stream offset of its first byte */
    uint64_t bytes;
    uint64_t ts;
    at_tok_reason cut;         /* why it stopped early, if it did */
} cli_run;

/* Per-channel state of the text renderer. */
typedef struct cli_text_chan {
    uint32_t open_id;          /* exchange being printed, 0 = none */
    uint64_t open_ts;          /* its start, for the relative column */
    cli_run run[2];
} cli_text_chan;

/* Per-channel state of the JSON renderer: the exchange being collected,
 * its parts already in JSON form (buffers kept from exchange to exchange). */
typedef struct cli_json_chan {
    uint32_t open_id;
    cli_json_writer command;      /* "command": its value, when the line holds key
                                   * bytes (redacted); empty otherwise */
    bool command_withheld;        /* ... then its parsed commands are left out */
    cli_json_writer echo;         /* "echo" and "echo_hex" members, or empty */
    cli_json_writer responses;    /* elements of the arrays, ','-separated */
    cli_json_writer intermediate;
    cli_json_writer secure_result;/* an object, or empty */
    cli_json_writer frames;       /* frame ids */
    cli_json_writer urcs;         /* URC ids */
    cli_json_writer invalid;      /* invalid-run ids */
    unsigned n_responses, n_intermediate;
    unsigned responses_dropped;
} cli_json_chan;

struct cli_ctx;
typedef struct cli_renderer cli_renderer;

/* Findings delivered while one event was fed, printed after it. */
typedef struct cli_findings {
    at_finding *v;
    size_t n, cap;
    bool oom;                  /* one could not be kept */
} cli_findings;

/* One channel: its session, its analyzer and the renderers' state. */
typedef struct cli_chan {
    uint16_t channel;
    struct cli_ctx *ctx;
    at_session *session;
    at_analyzer *an;
    cli_findings pending;
    cli_text_chan text;
    cli_json_chan json;
} cli_chan;

/* The whole decoding run. */
typedef struct cli_ctx {
    const cli_opts *opt;
    FILE *out;
    bool have_t0;
    uint64_t t0;               /* first record's timestamp: relative times */
    const cli_renderer *render; /* the output form */
    cli_summary sum;
    bool wrote;                /* output produced since the last flush */
    /* text renderer */
    bool text_started;         /* something printed: separate items */
    bool sgr_active;           /* a color/attribute is on: reset it */
    int32_t last_day;          /* days since the epoch of the last date line */
    struct cli_chan *text_block; /* channel whose block was printed last, or NULL */
    struct cli_chan *text_last;  /* channel whose item was printed last */
    char *text_buf;              /* text not yet written to out */
    size_t text_len, text_cap;
    size_t text_hold;            /* bytes text_buf may keep when a call ends
                                  * (0: each call's text is written when it
                                  * ends); the owner of out then calls the
                                  * renderer's flush before flushing out */
    /* JSON renderer: object ids */
    uint64_t next_frame_id, next_urc_id, next_invalid_id;
    cli_json_writer json_writer; /* its buffer, reused for every object; the
                                  * context's owner frees it */
} cli_ctx;

/* decode.c */
/* A usage error of subcommand @p prog ("attrace decode"): the message and
 * the hint to --help on stderr; returns 2, the usage-error exit status. */
int cli_usage_error(const char *prog, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* One session event whose analyzer has seen it: counted, rendered (text
 * or JSON), then the findings it completed (decode.c; also the live
 * commands' view, live.c). */
void cli_render_event(cli_chan *ch, const at_event *ev);
/* An at_finding_cb whose ctx is a cli_chan: keeps the finding for
 * cli_flush_findings. */
void cli_on_finding(void *ctx, const at_finding *f);
/* Prints and counts the findings kept so far. */
void cli_flush_findings(cli_chan *ch, bool after_event);

/* What getopt_long's ':' (missing argument) or '?' (unknown option) return
 * @p c means, as a usage error of @p prog; returns 2. */
int cli_getopt_error(const char *prog, int c, char **argv);

/* An option's decimal number in min..max (digits only, nothing else).
 * 0, or -1 for anything else. */
int cli_parse_u32(const char *arg, uint32_t min, uint32_t max, uint32_t *out);

/* The subcommands' entry points (main.c dispatches to them). */
int cli_capture_main(int argc, char **argv); /* capture/capture_cli.c */

int cli_decode_main(int argc, char **argv);
int cli_cert_main(int argc, char **argv);   /* cert.c */
int cli_replay_main(int argc, char **argv); /* replay.c */

/* encode.c */
int cli_encode_main(int argc, char **argv);

/* diff.c */
int cli_diff_main(int argc, char **argv);

/* frame_build.c: one secure-command frame from a command's options
 * (`attrace encode`, `attrace cert`). */
typedef struct cli_frame_req {
    uint16_t cmd;                 /* AT_CMD_WRITE, AT_CMD_READ, AT_CMD_DELETE */
    uint16_t index;
    const char *cert_path;        /* --cert, or NULL */
    const at_key_source *key;     /* --key, --passin, --keypass, --alias (path NULL: none) */
    const char *imei;             /* the IMEI unit, or NULL */
    const char *sig;              /* "sha1", "sha256", "none"; NULL: the profile's digest */
    const char *mode;             /* a mode unit, or NULL */
    bool thumbprint;              /* a thumbprint unit (the certificate's SHA-1) */
    bool carry_key;               /* the frame carries the key (PKCS#8 DER) */
    const at_profile *profile;    /* for the default digest */
} cli_frame_req;

/* What the options named, loaded. */
typedef struct cli_frame_material {
    uint8_t *cert_der;            /* --cert, or the keystore's for a write of index 0 */
    size_t cert_len;
    X509 *cert;                   /* cert_der parsed, or NULL */
    X509 *store_cert;             /* a keystore's certificate not used as cert, or NULL */
    EVP_PKEY *key;                /* or NULL without --key */
    at_key_info key_info;
    uint8_t *key_der;             /* with carry_key: the key as the frame carries it */
    size_t key_len;
} cli_frame_material;

/* Loads the certificate and the key @p r names (a non-RSA key is refused
 * for a signed frame). 0, or 3 with a message prefixed @p prog. */
int cli_frame_load(const char *prog, const cli_frame_req *r, cli_frame_material *m);
/* Lays out and signs the frame: 0 with *frame (cli_frame_free), 2 too
 * long for TotalLen, 1 signing or encoding failed (message printed). */
int cli_frame_build(const char *prog, const cli_frame_req *r, const cli_frame_material *m,
                    uint8_t **frame, size_t *len);
void cli_frame_free(uint8_t *frame, size_t len);
void cli_frame_material_free(cli_frame_material *m);
/* The CmdId of an operation name ("write", "read", "delete"), 0 for any
 * other. */
uint16_t cli_frame_cmd(const char *op);
/* Whether @p r asks for a signature, and with which digest. */
bool cli_frame_signed(const cli_frame_req *r);
at_digest_alg cli_frame_digest(const cli_frame_req *r);

/* diff_text.c */
/* One difference as text (`attrace diff`, `attrace replay`), starting at
 * the current column, sides named @p names ("A", "B"); continuation rows
 * are indented by @p indent. Ends with a newline. */
void cli_diff_describe(FILE *f, const at_diff *d, unsigned indent,
                       const char *const names[2]);
/* A ParamId's name, "unknown" for one the protocol does not define. */
const char *cli_param_label(uint16_t id);
/*
 * keyopts.c: the options that name a private key, shared by every command
 * that signs. Put CLI_KEY_LONGOPTS into the getopt_long table, hand every
 * option to cli_key_option, call cli_key_options_check after the loop and
 * load with cli_key_load. CLI_KEY_OPTIONS_HELP documents --passin,
 * --keypass and --alias (--key itself is described by each command).
 */
enum {
    CLI_OPT_KEY = 0x4b00, /* above any other command's option values */
    CLI_OPT_PASSIN,
    CLI_OPT_KEYPASS,
    CLI_OPT_ALIAS
};

#define CLI_KEY_LONGOPTS                                                 \
    {"key", required_argument, NULL, CLI_OPT_KEY},                       \
    {"passin", required_argument, NULL, CLI_OPT_PASSIN},                 \
    {"keypass", required_argument, NULL, CLI_OPT_KEYPASS},               \
    {"alias", required_argument, NULL, CLI_OPT_ALIAS}

#define CLI_KEY_OPTIONS_HELP                                                  \
    "  --passin SPEC      password of the key file, or of the keystore (its\n" \
    "                     integrity is checked with it): env:VAR, file:PATH,\n" \
    "                     prompt (the default: asked on the terminal when\n"   \
    "                     needed), or pass:TEXT (other users can see it: avoid)\n" \
    "  --keypass SPEC     password of the key entry in a keystore (JKS, JCEKS,\n" \
    "                     PKCS#12), when it differs from the store password\n" \
    "                     (keytool -keypass); same sources; default: the\n"     \
    "                     store password\n" \
    "  --alias NAME       the keystore entry (keytool -alias, case does not\n" \
    "                     matter); default: the first key entry\n"

/* Takes option @p c of getopt_long (with its @p arg) into @p src when it
 * is one of the key options; returns whether it was. */
bool cli_key_option(int c, const char *arg, at_key_source *src);

/* Checks the key options once all are parsed (a password or alias without
 * --key is a usage error) and warns about pass:. Returns -1 to go on, else
 * the exit status (2). */
int cli_key_options_check(const char *prog, const at_key_source *src);

/* at_key_load, with its message printed as "PROG: message" on failure. */
EVP_PKEY *cli_key_load(const char *prog, const at_key_source *src, at_key_info *info,
                       X509 **cert_out);

/* version.c: `attrace --version` (the libraries' run-time versions);
 * returns the exit status, 1 when the output could not be written. */
int cli_print_version(FILE *out);

/* timefmt.c: times, written digit by digit (digits.h; no printf: they
 * are formatted for every element printed). */
/* Buffers of at least 40 bytes. Those returning a size return the length
 * of the text (NUL-terminated as well; 0 when @p cap is too small). */
size_t cli_fmt_clock(uint64_t ts_ns, char *buf, size_t cap);   /* HH:MM:SS.uuuuuu */
void cli_fmt_date(uint64_t ts_ns, char *buf, size_t cap);      /* YYYY-MM-DD */
size_t cli_fmt_offset_ms(int64_t delta_ns, char *buf, size_t cap); /* +12.345ms */
void cli_fmt_iso(uint64_t ts_ns, char *buf, size_t cap);       /* ISO-8601 UTC, ns */
size_t cli_fmt_rel(int64_t delta_ns, char *buf, size_t cap);   /* +S.uuuuuu */
void cli_fmt_duration(uint64_t ns, char *buf, size_t cap);     /* 3.000 ms / 1.500 s */
int32_t cli_day(uint64_t ts_ns);

/* Helpers on events (decode.c). */

/* Finds @p len bytes at stream offset @p off in the event's buffers
 * (its token, else its data); NULL if they are not all there. */
const uint8_t *cli_event_bytes(const at_event *ev, uint64_t off, size_t len);
/* Whether the exchange ended in an error (final or secure result). */
bool cli_exchange_failed(const at_exchange *x);
/* Meaning of a numeric +CME ERROR (at_cme_error_text), else NULL. */
const char *cli_result_meaning(const at_result *r);
/* Name of an at_cmd_type ("exec", "set", ...). */
/* "te_to_me" / "me_to_te". */
const char *cli_dir_key(at_dir d);

/* "TE" / "ME": the stream an offset counts in. */
const char *cli_dir_short(at_dir d);
/* The analyzer's details of the frame event just fed, or NULL. */
const at_frame_details *cli_frame_details(const cli_chan *ch, const at_event *ev);

/* output_text.c */
/* Writes trace bytes with control and non-ASCII bytes escaped (\r \n \t
 * \\ \xHH), so a trace cannot drive the terminal. */
void cli_put_escaped(FILE *f, const void *data, size_t n);

/*
 * One output form of a decoding run, as a table of functions (the way
 * libmodbus gives each backend one): decode.c and the live commands call
 * only through it, so adding a form is adding a table. Each renderer keeps
 * its state in cli_ctx and cli_chan and writes to cli_ctx.out.
 */
struct cli_renderer {
    /* One session event the analyzer has seen (already counted). */
    void (*event)(cli_chan *ch, const at_event *ev);
    /* Findings delivered with the event just rendered (@p after_event),
     * or at the end of the input. */
    void (*findings)(cli_chan *ch, const at_finding *f, size_t n, bool after_event);
    /* A non-data record, or a data record's "bytes missing" flag; @p ch
     * is the record's channel. */
    void (*trace_event)(cli_ctx *c, cli_chan *ch, const cli_trace_event *te);
    /* The channel's input ended: shows what is still open, releases the
     * channel's renderer state. */
    void (*channel_done)(cli_chan *ch);
    /* The totals (c->sum), last. */
    void (*summary)(cli_ctx *c);
    /* The trace could not be opened (c->sum.error says why): what a
     * consumer gets instead of a run. */
    void (*unreadable)(cli_ctx *c);
    /* The analyzer's diagnosis rules (`decode --list-rules`). */
    void (*rules)(cli_ctx *c, const at_rule *r, size_t n);
    /* Releases what the renderer keeps in @p c (its channels' state is
     * released by channel_done). */
    void (*free)(cli_ctx *c);
    /* Writes to c->out what the renderer holds back (see text_hold); NULL
     * for a renderer that holds nothing between calls. */
    void (*flush)(cli_ctx *c);
};

extern const cli_renderer cli_text_renderer;  /* output_text.c: the human view */
extern const cli_renderer cli_json_renderer;  /* output_json.c: NDJSON */

/* The renderer @p opt asks for (decode.c). */
const cli_renderer *cli_renderer_for(const cli_opts *opt);

#endif
