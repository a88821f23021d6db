/*
 * replay.c - `attrace replay TRACE --port DEV [--port DEV2 ...]`: sends the
 * host side of a recorded session to live modules again, exchange by
 * exchange, and compares their answers with the recorded ones.
 *
 * The trace is decoded once by the core's session into a script: per
 * exchange the command line's bytes as recorded (terminator included), the
 * frame or ^SISW data the host sent at the module's prompt, the recorded
 * exchange (an at_xrec, attrace/compare.h) and the URCs that came before
 * the next command (a replay waits for them: the next command may need
 * them, e.g. ^SISW: 1,1 before data is written). Each port gets its own
 * thread and module driver, whose session events build the live exchange
 * the same way; at_xrec_compare_answers() compares the two (IMEIs, times,
 * dates and counters normalized; URCs left to the wait above), and the
 * differences it reports are printed side by side.
 *
 * --resign: frames carrying the recorded module's IMEI get the target's
 * (read with AT+CGSN during the replay) in place, and are signed again over
 * the same region with the same digest; every other byte stays as
 * recorded, faults included.
 */
#define _GNU_SOURCE /* getopt_long, open_memstream */

#include "frameopts.h"
#include "live.h"

#include "attrace/compare.h"
#include "attrace/crypto.h"

#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RP_PROG CLI_PROG " replay"
#define RP_TE_MAX (64u << 20) /* host bytes a replayable session may hold */
#define RP_URC_WAIT_MS 10000u
#define RP_DIFFS_MAX 256u      /* differences of one exchange printed */

/* ------------------------------------------------------------------ */
/* The script                                                         */
/* ------------------------------------------------------------------ */

typedef struct rp_step {
    uint32_t id;
    char *cmd;                 /* the command line, for messages */
    uint64_t line_off;         /* TE offset of the command line */
    size_t line_len;           /* without terminator (filled in later) */
    uint8_t *line;             /* with terminator (filled in later) */
    size_t line_bytes;
    uint64_t payload_off;      /* TE offset of the frame / data */
    size_t payload_len;
    bool has_payload;
    bool secure, asks_imei;
    uint64_t ts_start, ts_end;
    at_xrec *rec;              /* the recorded exchange */
    char **urcs;               /* prefixes of the URCs after it */
    size_t n_urcs;
} rp_step;

typedef struct rp_script {
    rp_step *v;
    size_t n, cap;
    uint8_t *te;               /* the host's bytes of the channel */
    size_t te_len, te_cap;
    bool too_big;
    bool oom;
    char rec_imei[16];         /* the recorded module's IMEI (its AT+CGSN) */
    rp_step *cur;              /* the exchange being read */
    at_xrec_builder *builder;  /* the recorded exchanges */
    at_analyzer *an;           /* the recorded session's profile guess, which its
                                  frame checks follow (findings unused) */
} rp_script;

static void script_free(rp_script *s)
{
    for (size_t i = 0; i < s->n; i++) {
        rp_step *st = &s->v[i];
        free(st->cmd);
        free(st->line);
        at_xrec_free(st->rec);
        for (size_t j = 0; j < st->n_urcs; j++)
            free(st->urcs[j]);
        free(st->urcs);
    }
    free(s->v);
    if (s->te)
        OPENSSL_cleanse(s->te, s->te_cap); /* may hold a private key */
    free(s->te);
}

static void keep_urc_prefix(rp_script *s, rp_step *st, const at_str *t)
{
    size_t n = 0;
    while (n < t->len && t->ptr[n] != ':')
        n++;
    char **v = realloc(st->urcs, (st->n_urcs + 1) * sizeof *v);
    char *p = v ? strndup(t->ptr, n) : NULL;
    if (!p) {
        if (v)
            st->urcs = v;
        s->oom = true;
        return;
    }
    st->urcs = v;
    st->urcs[st->n_urcs++] = p;
}

/* A recorded exchange, complete (the builder delivers it when the next
 * command starts): kept with its step. */
static void on_script_rec(void *ctx, at_xrec *x)
{
    rp_script *s = ctx;
    for (size_t i = s->n; x->id && i-- > 0;) {
        if (s->v[i].id == x->id && !s->v[i].rec) {
            s->v[i].rec = x;
            return;
        }
    }
    at_xrec_free(x); /* what came before the first command */
}

static void on_script_event(void *ctx, const at_event *ev)
{
    rp_script *s = ctx;
    at_analyzer_event(s->an, ev);
    at_xrec_builder_event(s->builder, ev, NULL);
    if (ev->kind == AT_EV_COMMAND && ev->exchange) {
        if (s->n == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 32;
            rp_step *v = realloc(s->v, cap * sizeof *v);
            if (!v) {
                s->oom = true;
                return;
            }
            s->v = v;
            s->cap = cap;
        }
        rp_step *st = &s->v[s->n++];
        memset(st, 0, sizeof *st);
        st->id = ev->exchange->id;
        st->cmd = strndup((const char *)ev->data, ev->len);
        if (!st->cmd)
            s->oom = true;
        st->line_off = ev->span.off;
        st->line_len = ev->len;
        st->secure = ev->exchange->secure;
        st->asks_imei = ev->exchange->asks_imei;
        st->ts_start = ev->exchange->ts_start;
        s->cur = st;
        return;
    }
    rp_step *st = s->cur;
    if (!st)
        return;
    if (ev->kind == AT_EV_URC) {
        if (st->ts_end) /* after its final result: the next command waited for it */
            keep_urc_prefix(s, st, &ev->line.text);
        return;
    }
    if (!ev->exchange || ev->exchange->id != st->id)
        return;
    if ((ev->kind == AT_EV_FRAME || ev->kind == AT_EV_PAYLOAD) && ev->dir == AT_DIR_TE_TO_ME) {
        if (!st->has_payload) {
            st->has_payload = true;
            st->payload_off = ev->span.off;
        }
        st->payload_len = (size_t)(ev->span.off + ev->span.len - st->payload_off);
        return;
    }
    if (ev->kind == AT_EV_END)
        st->ts_end = ev->ts_end;
    if (ev->kind == AT_EV_RESPONSE && ev->line.kind == AT_LK_IMEI && !s->rec_imei[0]) {
        size_t n = ev->line.u.imei.len < sizeof s->rec_imei - 1 ? ev->line.u.imei.len
                                                                 : sizeof s->rec_imei - 1;
        memcpy(s->rec_imei, ev->line.u.imei.ptr, n);
        s->rec_imei[n] = '\0';
    }
}

static void keep_te(rp_script *s, const uint8_t *p, size_t n)
{
    if (s->te_len + n > RP_TE_MAX) {
        s->too_big = true;
        return;
    }
    if (s->te_len + n > s->te_cap) {
        size_t cap = s->te_cap ? s->te_cap : 65536;
        while (cap < s->te_len + n)
            cap *= 2;
        uint8_t *t = realloc(s->te, cap);
        if (!t) {
            s->oom = true;
            return;
        }
        s->te = t;
        s->te_cap = cap;
    }
    memcpy(s->te + s->te_len, p, n);
    s->te_len += n;
}

/* Reads @p path into @p s. 0, 2 (usage: channels) or 3 (trace). */
static int load_script(const char *path, int channel, const at_profile *profile, rp_script *s)
{
    char err[512];
    at_trace_reader *r = at_trace_open(path, err, sizeof err);
    if (!r) {
        fprintf(stderr, RP_PROG ": %s\n", err);
        return 3;
    }
    at_session *sess = malloc(sizeof *sess);
    s->builder = at_xrec_builder_new(on_script_rec, s);
    if (!sess || !s->builder) {
        free(sess);
        at_xrec_builder_free(s->builder);
        s->builder = NULL;
        at_trace_close(r);
        fprintf(stderr, RP_PROG ": out of memory\n");
        return 3;
    }
    at_analyzer_config acfg = at_analyzer_default_config();
    acfg.profile = profile;
    bool started = false;
    int status = 0, rc;
    at_trace_record rec;
    uint64_t last_ts = 0;
    while ((rc = at_trace_next(r, &rec)) == 1) {
        if (rec.event != AT_TEV_DATA)
            continue;
        if (channel < 0)
            channel = rec.channel;
        if (rec.channel != channel)
            continue; /* another channel's */
        if (!started) {
            /* As attrace decode reads it: the frame checks follow the
             * profile guess, so that the recorded answers are judged as
             * the live ones (at_driver does the same). */
            s->an = at_analyzer_new_for_session(sess, (uint16_t)channel, &acfg,
                                                on_script_event, s, NULL, NULL);
            if (!s->an) {
                s->oom = true;
                break;
            }
            started = true;
        }
        at_dir dir = rec.dir == AT_DIR_ME_TO_TE ? AT_DIR_ME_TO_TE : AT_DIR_TE_TO_ME;
        if (rec.flags & AT_TFLAG_BYTES_MISSING)
            at_session_gap(sess, dir, rec.ts_ns);
        if (dir == AT_DIR_TE_TO_ME)
            keep_te(s, rec.payload, rec.len);
        at_session_feed(sess, dir, rec.ts_ns, rec.payload, rec.len);
        last_ts = rec.ts_ns;
        if (s->too_big || s->oom)
            break;
    }
    if (rc < 0) {
        fprintf(stderr, RP_PROG ": %s\n", at_trace_error(r));
        status = 3;
    }
    if (started) {
        at_session_finish(sess, last_ts);
        at_analyzer_finish(s->an);
    }
    at_analyzer_free(s->an);
    s->an = NULL;
    at_xrec_builder_finish(s->builder);
    if (at_xrec_builder_failed(s->builder))
        s->oom = true;
    at_xrec_builder_free(s->builder);
    s->builder = NULL;
    free(sess);
    at_trace_close(r);
    if (!status && s->too_big) {
        fprintf(stderr, RP_PROG ": %s: the host sent more than %u MiB: too large to replay\n",
                path, RP_TE_MAX >> 20);
        status = 3;
    }
    if (!status && s->oom) {
        fprintf(stderr, RP_PROG ": out of memory\n");
        status = 3;
    }
    if (!status && s->n == 0) {
        fprintf(stderr, RP_PROG ": %s: no command to replay%s\n", path,
                started ? "" : " (no data on that channel)");
        status = 3;
    }
    /* The command lines with their terminators as recorded. */
    for (size_t i = 0; !status && i < s->n; i++) {
        rp_step *st = &s->v[i];
        if (!st->rec) {
            fprintf(stderr, RP_PROG ": out of memory\n");
            status = 3;
            break;
        }
        uint64_t end = st->line_off + st->line_len;
        if (end > s->te_len) {
            fprintf(stderr, RP_PROG ": %s: exchange %u: its command is not in the trace\n",
                    path, st->id);
            status = 3;
            break;
        }
        size_t term = 0;
        while (term < 2 && end + term < s->te_len &&
               (s->te[end + term] == '\r' || s->te[end + term] == '\n') &&
               !(term == 1 && s->te[end] == '\n'))
            term++;
        if (term == 0) { /* the trace ends inside the line: send it ended with CR */
            st->line_bytes = st->line_len + 1;
        } else {
            st->line_bytes = st->line_len + term;
        }
        st->line = malloc(st->line_bytes);
        if (!st->line) {
            status = 3;
            break;
        }
        memcpy(st->line, s->te + st->line_off, st->line_len + term);
        if (!term)
            st->line[st->line_len] = '\r';
        if (st->has_payload && st->payload_off + st->payload_len > s->te_len)
            st->has_payload = false;
    }
    return status;
}

/* ------------------------------------------------------------------ */
/* Options                                                            */
/* ------------------------------------------------------------------ */

typedef struct rp_opts {
    const char *trace;
    cli_live_opts live;
    bool pace_recorded, only_secure, keep_going, resign;
    cli_frame_opts f;          /* --channel (none: the trace's first), the key options */
} rp_opts;

static void replay_help(FILE *fp)
{
    fprintf(fp,
        "Usage: " CLI_PROG " replay TRACE --port DEV [--port DEV2 ...] [OPTIONS]\n"
        "\n"
        "Sends the host side of a recorded session to live modules again, exchange\n"
        "by exchange, driven by the modules' answers: each command when the last\n"
        "one has its final result (and the URCs the recording saw after it have\n"
        "come), frames at SECURE CMD READY. Every answer is compared with the\n"
        "recorded one as `attrace diff` compares the module's side (SECURE CMD\n"
        "result, final result, the module's lines with IMEIs, times, dates and\n"
        "counters normalized, its frames and data; URCs are awaited, not\n"
        "compared); a divergence is printed side by side.\n"
        "With several --port the session is replayed on all of them at once: one\n"
        "result line per port and a summary.\n"
        "\n"
        "Options:\n"
        "  --pace recorded    keep the recorded pauses between an answer and the\n"
        "                     next command (default: send at once)\n"
        "  --channel N        the channel of a multi-channel trace\n"
        "  --only-secure      send only AT+CGSN/AT+GSN and the AT^SBNW exchanges\n"
        "  --keep-going       go on after a divergence\n"
        "  --resign           frames carrying the recorded module's IMEI get the\n"
        "                     target's (AT+CGSN) and are signed again with --key,\n"
        "                     with the recorded digest\n"
        "  --key FILE         the signing key: a key file or a keystore, as for\n"
        "                     attrace encode\n"
        CLI_KEY_OPTIONS_HELP
        "  -h, --help         show this help\n"
        "\n" CLI_LIVE_HELP
        "With several ports, -w TRACE records each port's session into its own\n"
        "file: TRACE with .1, .2, ... before the extension.\n"
        "\n"
        "Exit status: 0 every exchange answered as recorded on every port; 1 a\n"
        "divergence; 2 usage error; 3 trace, key or port problem (a port lost, a\n"
        "silent module).\n");
}

enum { OPT_PACE = 256, OPT_ONLY_SECURE, OPT_KEEP_GOING, OPT_RESIGN };

static int parse_options(int argc, char **argv, rp_opts *o)
{
    static const struct option longopts[] = {
        {"pace", required_argument, NULL, OPT_PACE},
        CLI_FO_ROW_CHANNEL,
        {"only-secure", no_argument, NULL, OPT_ONLY_SECURE},
        {"keep-going", no_argument, NULL, OPT_KEEP_GOING},
        {"resign", no_argument, NULL, OPT_RESIGN},
        CLI_KEY_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        CLI_LIVE_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    bool help = false;
    memset(o, 0, sizeof *o);
    cli_live_opts_init(&o->live);
    opterr = 0;
    optind = 1;
    for (;;) {
        int c = getopt_long(argc, argv, ":hw:", longopts, NULL);
        if (c == -1)
            break;
        int fr = cli_live_or_frame_option(&o->live, &o->f, c, optarg, RP_PROG);
        if (fr == 2)
            return 2;
        if (fr == 1)
            continue;
        switch (c) {
        case OPT_PACE:
            if (strcmp(optarg, "recorded") == 0)
                o->pace_recorded = true;
            else if (strcmp(optarg, "answers") != 0)
                return cli_usage_error(RP_PROG, "invalid --pace '%s' (recorded or answers)",
                                       optarg);
            break;
        case OPT_ONLY_SECURE: o->only_secure = true; break;
        case OPT_KEEP_GOING: o->keep_going = true; break;
        case OPT_RESIGN: o->resign = true; break;
        case 'h': help = true; break;
        default: return cli_getopt_error(RP_PROG, c, argv);
        }
    }
    if (help) {
        replay_help(stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (optind >= argc)
        return cli_usage_error(RP_PROG, "%s", "missing TRACE (the recorded session)");
    if (argc - optind > 1)
        return cli_usage_error(RP_PROG, "unexpected argument '%s'", argv[optind + 1]);
    o->trace = argv[optind];
    if (o->live.n_ports == 0)
        return cli_usage_error(RP_PROG, "%s", "missing --port DEV (a module's serial port)");
    if (o->resign && !o->f.key.path)
        return cli_usage_error(RP_PROG, "%s", "--resign needs --key FILE (the signing key)");
    if (o->f.key.path && !o->resign)
        return cli_usage_error(RP_PROG, "%s", "--key belongs to --resign");
    int krc = cli_key_options_check(RP_PROG, &o->f.key);
    if (krc >= 0)
        return krc;
    if (o->live.json)
        return cli_usage_error(RP_PROG, "%s", "--json is not supported by replay");
    return -1;
}

/* ------------------------------------------------------------------ */
/* Comparison                                                         */
/* ------------------------------------------------------------------ */

/* The differences of one exchange, in the order at_xrec_compare_answers
 * reports them; their line pointers refer to the two records. */
typedef struct rp_diffs {
    at_diff *v;                /* RP_DIFFS_MAX */
    unsigned n, more;
} rp_diffs;

static void keep_diff(void *ctx, const at_diff *d)
{
    rp_diffs *ds = ctx;
    if (ds->n < RP_DIFFS_MAX)
        ds->v[ds->n++] = *d;
    else
        ds->more++;
}

static const at_diff *find_diff(const rp_diffs *ds, at_diff_kind kind)
{
    for (unsigned i = 0; i < ds->n; i++)
        if (ds->v[i].kind == kind)
            return &ds->v[i];
    return NULL;
}

/* What the comparison looks at among the module's lines besides its
 * results (compare.c's choice with skip_urcs). */
static bool answer_line(const at_xline *l)
{
    return l->dir == AT_DIR_ME_TO_TE && l->kind != AT_XL_SECURE && l->kind != AT_XL_FINAL &&
           l->kind != AT_XL_URC;
}

static size_t answer_lines(const at_xrec *x, const at_xline **v)
{
    size_t n = 0;
    for (unsigned i = 0; i < x->n_lines; i++)
        if (answer_line(&x->lines[i]))
            v[n++] = &x->lines[i];
    return n;
}

enum { RP_COL = 44 };

/* One row: the recorded and the replayed text (escaped), marked when they
 * differ. */
static void row(FILE *out, const at_xline *a, const char *a_none, const at_xline *b,
                const char *b_none, bool differs)
{
    char x[RP_COL + 1] = "", y[RP_COL + 21] = "";
    FILE *f;
    if (a && (f = fmemopen(x, sizeof x - 1, "w"))) {
        setbuf(f, NULL);
        cli_put_escaped(f, a->text, a->len);
        fclose(f);
    }
    if (b && (f = fmemopen(y, sizeof y - 1, "w"))) {
        setbuf(f, NULL);
        cli_put_escaped(f, b->text, b->len);
        fclose(f);
    }
    fprintf(out, "  %c %-*.*s %c %s\n", differs ? '*' : ' ', RP_COL, RP_COL, a ? x : a_none,
            differs ? '#' : '|', b ? y : b_none);
}

/* The final result's cell when its line is not kept. */
static const char *final_none(const at_xrec *x)
{
    return x->has_final ? "(a final result after the lines kept)" : "(no final result)";
}

/* Recorded and replayed answer side by side, the rows that differ marked
 * (the module's lines as the comparison aligned them, its SECURE CMD
 * result, its final result), then what differs beyond lines. */
static void side_by_side(FILE *out, const at_xrec *rec, const at_xrec *got,
                         const rp_diffs *ds)
{
    static const char *const names[2] = {"recorded", "replayed"};
    const at_xline *la[AT_XREC_MAX_LINES], *lb[AT_XREC_MAX_LINES];
    size_t na = answer_lines(rec, la), nb = answer_lines(got, lb), i = 0, j = 0;
    fprintf(out, "    %-*s   %s\n", RP_COL, "recorded", "replayed");
    /* Lines between two differing ones are paired, as the LCS paired them;
     * the echo only repeats the command. */
    for (unsigned k = 0; k <= ds->n; k++) {
        const at_diff *d = k < ds->n ? &ds->v[k] : NULL;
        if (d && d->kind != AT_DIFF_LINE)
            continue;
        while (i < na && j < nb && !(d && d->la && la[i] == d->la) &&
               !(d && d->lb && lb[j] == d->lb)) {
            if (la[i]->kind != AT_XL_ECHO)
                row(out, la[i], "", lb[j], "", false);
            i++;
            j++;
        }
        if (!d)
            break;
        row(out, d->la, "", d->lb, "", true);
        i += d->la != NULL;
        j += d->lb != NULL;
    }
    if (rec->secure_line || got->secure_line)
        row(out, rec->secure_line, "", got->secure_line, "",
            find_diff(ds, AT_DIFF_SECURE_RESULT) != NULL);
    row(out, rec->final_line, final_none(rec), got->final_line, final_none(got),
        find_diff(ds, AT_DIFF_FINAL) != NULL);
    for (unsigned k = 0; k < ds->n; k++) {
        const at_diff *d = &ds->v[k];
        if (d->kind == AT_DIFF_LINE || d->kind == AT_DIFF_SECURE_RESULT ||
            d->kind == AT_DIFF_FINAL)
            continue;
        fputs("  * ", out);
        cli_diff_describe(out, d, 4, names);
    }
    if (ds->more)
        fprintf(out, "  * and %u more differences\n", ds->more);
}

/* ------------------------------------------------------------------ */
/* Re-signing                                                         */
/* ------------------------------------------------------------------ */

/* Puts @p imei into the frame @p f (a copy the caller owns) if it carries
 * @p rec_imei, and signs it again. 1 changed, 0 nothing to do, -1 error
 * (message in @p err). */
static int resign_frame(uint8_t *f, size_t len, const char *rec_imei, const char *imei,
                        EVP_PKEY *key, const at_profile *profile, char *err, size_t cap)
{
    at_frame *fr = malloc(sizeof *fr);
    if (!fr) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    int rc = 0;
    at_frame_decode(f, len, 0, profile, fr);
    const at_frame_unit *u = at_frame_find(fr, AT_PARAM_IMEI);
    size_t n = u && u->value ? u->text_len : 0;
    if (!u || n != strlen(rec_imei) || memcmp(u->value, rec_imei, n) != 0 ||
        strcmp(rec_imei, imei) == 0 || strlen(imei) != n)
        goto out;
    at_sig_verdict v;
    memset(&v, 0, sizeof v);
    at_verify_frame(fr, f, len, key, &v);
    const at_frame_unit *sig = at_frame_find(fr, AT_PARAM_SIGNATURE);
    if (!sig || !fr->signed_region.len || !sig->value) {
        /* Unsigned: only the IMEI changes. */
        memcpy(f + u->value_span.off, imei, n);
        rc = 1;
        goto out;
    }
    if (!v.recovered) {
        snprintf(err, cap, "the recorded signature was not made with this key: "
                 "its digest type is unknown");
        rc = -1;
        goto out;
    }
    memcpy(f + u->value_span.off, imei, n);
    at_signer signer = {key, v.digest_len == 32 ? AT_DIGEST_SHA256 : AT_DIGEST_SHA1};
    char out[AT_FRAME_SIG_MAX];
    size_t got = 0, want = sig->text_len;
    if (at_sign_frame(&signer, f + fr->signed_region.off, fr->signed_region.len, out,
                      sizeof out, &got) != 0 || got != want) {
        snprintf(err, cap, "signing again failed (%zu base64 characters, the frame has "
                 "room for %zu)", got, want);
        rc = -1;
        goto out;
    }
    memcpy(f + sig->value_span.off, out, got);
    rc = 1;
out:
    free(fr);
    return rc;
}

/* ------------------------------------------------------------------ */
/* One port                                                           */
/* ------------------------------------------------------------------ */

typedef struct rp_port {
    const rp_opts *o;
    const rp_script *s;
    EVP_PKEY *key;
    const char *port;
    char trace[4096];
    unsigned number;           /* 1, 2, ... */
    FILE *out;                 /* this port's report, printed after the run */
    char *out_buf;
    size_t out_len;
    int status;                /* 0 as recorded, 1 diverged, 3 problem */
    char result[600];          /* the one-line result */
    unsigned sent, diverged;
} rp_port;

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static bool wanted(const rp_opts *o, const rp_step *st)
{
    return !o->only_secure || st->secure || st->asks_imei;
}

static void on_live_event(void *ctx, const at_event *ev)
{
    at_xrec_builder_event(ctx, ev, NULL);
}

static void *replay_port(void *arg)
{
    rp_port *p = arg;
    const rp_opts *o = p->o;
    const rp_script *s = p->s;
    char note[600];
    snprintf(note, sizeof note, RP_PROG " of %s", o->trace);
    cli_live_opts lo = o->live;
    lo.verbose = false; /* shown per port after the run */
    cli_live l;
    if (cli_live_open(&l, &lo, p->port, p->trace[0] ? p->trace : NULL,
                      (uint16_t)(p->number - 1), NULL, 0, note, RP_PROG) != 0) {
        p->status = 3;
        snprintf(p->result, sizeof p->result, "cannot open the port (see above)");
        return NULL;
    }
    /* The live exchanges; each is compared when its final result came. */
    at_xrec_builder *live = at_xrec_builder_new(NULL, NULL);
    cli_live_tap(&l, on_live_event, live);
    const at_cmp_options cmp = {.skip_urcs = true};
    rp_diffs ds = {calloc(RP_DIFFS_MAX, sizeof *ds.v), 0, 0};
    char imei[16] = "";
    size_t cap = AT_FRAME_MAX_LEN + AT_FRAME_SIG_MAX + 16;
    uint8_t *frame = live && ds.v ? malloc(cap) : NULL;
    const rp_step *prev = NULL;
    for (size_t i = 0; frame && i < s->n; i++) {
        const rp_step *st = &s->v[i];
        if (!wanted(o, st))
            continue;
        if (o->pace_recorded && prev && st->ts_start > prev->ts_end && prev->ts_end)
            sleep_ns(st->ts_start - prev->ts_end);
        const uint8_t *payload = NULL;
        size_t plen = 0;
        if (st->has_payload) {
            plen = st->payload_len < cap ? st->payload_len : cap;
            memcpy(frame, s->te + st->payload_off, plen);
            payload = frame;
            if (o->resign && st->secure && s->rec_imei[0] && imei[0]) {
                char err[300];
                if (resign_frame(frame, plen, s->rec_imei, imei, p->key, o->live.drv.profile,
                                 err, sizeof err) < 0) {
                    fprintf(p->out, "exchange %u %s: --resign: %s\n", st->id, st->cmd, err);
                    p->status = 3;
                    snprintf(p->result, sizeof p->result, "exchange %u: cannot re-sign",
                             st->id);
                    break;
                }
            }
        }
        at_driver_reply r;
        int rc = at_driver_send(l.drv, st->line, st->line_bytes, payload, plen,
                                0, &r);
        p->sent++;
        if (payload)
            OPENSSL_cleanse(frame, plen);
        if (rc != 0) {
            cli_live_show(&l, p->out);
            cli_live_report_failure(&l, &r, RP_PROG, p->out);
            p->status = 3;
            snprintf(p->result, sizeof p->result, "exchange %u %s: %s", st->id, st->cmd,
                     r.status == AT_DRV_PORT_LOST ? "the port is gone"
                     : r.bytes_in ? "no final result" : "the module is silent");
            at_driver_reply_free(&r);
            break;
        }
        if (r.imei[0])
            memcpy(imei, r.imei, sizeof imei);
        const at_xrec *got = at_xrec_builder_current(live);
        if (!got || got->id != r.exchange || at_xrec_builder_failed(live)) {
            p->status = 3;
            snprintf(p->result, sizeof p->result, "exchange %u %s: its answer could not be "
                     "kept (out of memory)", st->id, st->cmd);
            at_driver_reply_free(&r);
            break;
        }
        ds.n = ds.more = 0;
        if (at_xrec_compare_answers(st->rec, got, &cmp, keep_diff, &ds) != 0) {
            p->diverged++;
            fprintf(p->out, "%s: exchange %u %s: answered otherwise\n", p->port, st->id,
                    st->cmd);
            side_by_side(p->out, st->rec, got, &ds);
            cli_live_show(&l, p->out);
            if (!p->status)
                snprintf(p->result, sizeof p->result, "diverged at exchange %u %s", st->id,
                         st->cmd);
            p->status = 1;
            if (!o->keep_going) {
                at_driver_reply_free(&r);
                break;
            }
        } else {
            cli_live_discard(&l);
        }
        at_driver_reply_free(&r);
        /* The URCs the recording saw before its next command. */
        bool urc_failed = false;
        for (size_t u = 0; u < st->n_urcs && wanted(o, st) && !o->only_secure; u++) {
            char line[AT_DRIVER_TEXT_MAX];
            if (at_driver_wait_urc(l.drv, st->urcs[u], line, sizeof line, RP_URC_WAIT_MS) != 0) {
                fprintf(p->out, "%s: after exchange %u %s: %s (the recording had one)\n",
                        p->port, st->id, st->cmd, at_driver_error(l.drv));
                urc_failed = true;
                break;
            }
        }
        if (urc_failed) {
            cli_live_show(&l, p->out);
            if (!p->status)
                snprintf(p->result, sizeof p->result, "diverged after exchange %u %s",
                         st->id, st->cmd);
            if (p->status < 1)
                p->status = 1;
            p->diverged++;
            if (!o->keep_going)
                break;
        }
        prev = st;
    }
    if (!frame) {
        p->status = 3;
        snprintf(p->result, sizeof p->result, "out of memory");
    }
    free(frame);
    free(ds.v);
    /* The findings of the whole session follow a failure. */
    int closed = cli_live_close(&l, RP_PROG);
    at_xrec_builder_free(live); /* after the session's last events */
    if (closed != 0 && !p->status) {
        p->status = 3;
        snprintf(p->result, sizeof p->result, "the trace could not be written");
    }
    if (!p->status)
        snprintf(p->result, sizeof p->result, "%u exchanges answered as recorded", p->sent);
    return NULL;
}

/* TRACE with ".N" before its extension. */
static void port_trace_name(const char *base, unsigned n, char *out, size_t cap)
{
    const char *slash = strrchr(base, '/');
    const char *dot = strrchr(base, '.');
    if (!dot || (slash && dot < slash) || dot == base || (slash && dot == slash + 1))
        snprintf(out, cap, "%s.%u", base, n);
    else
        snprintf(out, cap, "%.*s.%u%s", (int)(dot - base), base, n, dot);
}

int cli_replay_main(int argc, char **argv)
{
    rp_opts o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    EVP_PKEY *key = NULL;
    if (o.f.key.path) {
        at_key_info info;
        key = cli_key_load(RP_PROG, &o.f.key, &info, NULL);
        if (!key)
            return 3;
    }
    rp_script s;
    memset(&s, 0, sizeof s);
    rc = load_script(o.trace, o.f.have_channel ? o.f.channel : -1, o.live.drv.profile, &s);
    if (rc) {
        script_free(&s);
        EVP_PKEY_free(key);
        return rc;
    }
    if (o.resign && !s.rec_imei[0]) {
        fprintf(stderr, RP_PROG ": --resign: the trace does not show the recorded module's "
                "IMEI (no AT+CGSN answer)\n");
        script_free(&s);
        EVP_PKEY_free(key);
        return 3;
    }
    unsigned n = o.live.n_ports;
    rp_port *ports = calloc(n, sizeof *ports);
    pthread_t *threads = calloc(n, sizeof *threads);
    bool *started = calloc(n, sizeof *started);
    if (!ports || !threads || !started) {
        fprintf(stderr, RP_PROG ": out of memory\n");
        free(ports);
        free(threads);
        free(started);
        script_free(&s);
        EVP_PKEY_free(key);
        return 3;
    }
    for (unsigned i = 0; i < n; i++) {
        rp_port *p = &ports[i];
        p->o = &o;
        p->s = &s;
        p->key = key;
        p->port = o.live.ports[i];
        p->number = i + 1;
        if (o.live.trace) {
            if (n == 1)
                snprintf(p->trace, sizeof p->trace, "%s", o.live.trace);
            else
                port_trace_name(o.live.trace, i + 1, p->trace, sizeof p->trace);
        }
        p->out = open_memstream(&p->out_buf, &p->out_len);
        if (!p->out) {
            p->status = 3;
            snprintf(p->result, sizeof p->result, "out of memory");
            continue;
        }
        if (pthread_create(&threads[i], NULL, replay_port, p) != 0) {
            p->status = 3;
            snprintf(p->result, sizeof p->result, "cannot start a thread");
            continue;
        }
        started[i] = true;
    }
    unsigned ok = 0, diverged = 0, problems = 0;
    for (unsigned i = 0; i < n; i++) {
        rp_port *p = &ports[i];
        if (started[i])
            pthread_join(threads[i], NULL);
        if (p->out) {
            fclose(p->out);
            if (p->out_len)
                fwrite(p->out_buf, 1, p->out_len, stdout);
            free(p->out_buf);
        }
        printf("%s: %s: %s\n", p->port,
               p->status == 0 ? "ok" : p->status == 1 ? "DIVERGED" : "FAILED", p->result);
        if (p->status == 0)
            ok++;
        else if (p->status == 1)
            diverged++;
        else
            problems++;
    }
    printf("replay of %s: %u port%s, %u as recorded, %u diverged, %u failed\n", o.trace, n,
           n == 1 ? "" : "s", ok, diverged, problems);
    int status = problems ? 3 : diverged ? 1 : 0;
    if (fflush(stdout) != 0 && !status)
        status = 3;
    free(ports);
    free(threads);
    free(started);
    script_free(&s);
    EVP_PKEY_free(key);
    return status;
}
