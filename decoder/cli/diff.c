/*
 * diff.c - `attrace diff A B`: where two sessions differ.
 *
 * Each trace is read record by record through its own at_session and
 * at_analyzer (one channel); an at_xrec_builder turns the events into
 * exchange records, an at_aligner pairs them by order and command, and
 * at_xrec_compare (attrace/compare.h) says what differs. This file only
 * reads, wires and prints. Memory stays bounded: each side is read only
 * while the aligner wants more of it (at most its window of exchanges).
 */
#define _GNU_SOURCE /* getopt_long */

#include "frameopts.h"

#include "attrace/compare.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define DIFF_PROG CLI_PROG " diff"

typedef struct diff_opts {
    const char *path[2];
    bool json;
    bool all;
    bool show_secrets;
    bool exact;
    cli_frame_opts sel;       /* --channel */
} diff_opts;

/* One trace being read. */
typedef struct diff_side {
    int idx;                  /* 0 = A, 1 = B */
    const char *path;
    at_trace_reader *r;
    at_session *session;
    at_analyzer *an;
    at_xrec_builder *builder;
    struct diff_run *run;
    bool have_channel;
    uint16_t channel;
    bool started;             /* the session was initialized (first record) */
    uint64_t last_ts;
    uint64_t exchanges;
    uint64_t other_channel_records;
    bool ended;
    bool damaged;
    char error[600];
} diff_side;

typedef struct diff_run {
    const diff_opts *opt;
    FILE *out;
    at_aligner *al;
    diff_side side[2];
    at_cmp_options cmp;
    /* counts */
    uint64_t pairs, pairs_same, pairs_differ, only[2], differences;
    bool detailed_one;        /* the first differing pair was printed in full */
    /* the pair being printed */
    unsigned shown;           /* differences of this pair printed */
    unsigned pair_diffs;      /* differences of this pair */
    bool detail;              /* print every difference of this pair */
    const at_xrec *pa, *pb;
    bool oom;
    cli_json_writer json;     /* --json: the line being written */
} diff_run;

/* ------------------------------------------------------------------ */
/* Options                                                            */
/* ------------------------------------------------------------------ */

static void diff_help(FILE *fp)
{
    fprintf(fp,
        "Usage: " CLI_PROG " diff [OPTIONS] A B\n"
        "\n"
        "Compares two traces exchange by exchange: aligns their commands (by\n"
        "order and command name), then says what the host sent differently\n"
        "(command lines; secure-command frames field by field, with the offset\n"
        "of the field in both traces) and how the module answered differently\n"
        "(SECURE CMD result, final result, response lines, URCs, payload data),\n"
        "and which findings of the diagnosis only one trace has.\n"
        "\n"
        "Text output: an exchange found in one trace only takes one line; the\n"
        "first exchange that differs is shown in full (every difference); each\n"
        "later one on one line (its first difference). --all shows all in full.\n"
        "\n"
        "Options:\n"
        "  --json          one JSON object per line: only_in_a, only_in_b, one\n"
        "                  difference per object (always all of them), a final\n"
        "                  summary\n"
        "  --all           every differing exchange in full, and every differing\n"
        "                  field of a frame (default: the first field per frame,\n"
        "                  with the decoding problems and signature verdicts that\n"
        "                  differ)\n"
        "  --channel=N     compare channel N of both traces (default: the channel\n"
        "                  of each trace's first record)\n"
        "  --exact         compare the module's lines as they are (default: IMEIs,\n"
        "                  times, dates and counters are normalized)\n"
        "  --show-secrets  show the differing byte of a private-key unit (default:\n"
        "                  only its offset and size)\n"
        "  -h, --help      show this help\n"
        "\n"
        "Timestamps and durations are not compared; offsets count the bytes of\n"
        "one direction (TE+66: byte 66 sent by the host) in each trace.\n"
        "\n"
        "Exit status: 0 the sessions are the same; 1 they differ (or the output\n"
        "could not be written); 2 usage error; 3 a trace is unreadable or\n"
        "damaged (what was read before the damage is compared first).\n");
}

enum { OPT_JSON = 256, OPT_ALL, OPT_EXACT, OPT_SHOW_SECRETS };

static int parse_options(int argc, char **argv, diff_opts *opt)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"all", no_argument, NULL, OPT_ALL},
        CLI_FO_ROW_CHANNEL,
        {"exact", no_argument, NULL, OPT_EXACT},
        {"show-secrets", no_argument, NULL, OPT_SHOW_SECRETS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool help = false;
    memset(opt, 0, sizeof *opt);
    opterr = 0;
    optind = 1;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", longopts, NULL);
        if (c == -1)
            break;
        int fr = cli_frame_option(&opt->sel, c, optarg, DIFF_PROG);
        if (fr == 2)
            return 2;
        if (fr == 1)
            continue;
        switch (c) {
        case OPT_JSON: opt->json = true; break;
        case OPT_ALL: opt->all = true; break;
        case OPT_EXACT: opt->exact = true; break;
        case OPT_SHOW_SECRETS: opt->show_secrets = true; break;
        case 'h': help = true; break;
        default:
            return cli_getopt_error(DIFF_PROG, c, argv);
        }
    }
    if (help) {
        diff_help(stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (argc - optind < 2)
        return cli_usage_error(DIFF_PROG, "%s", "two traces are needed: A B");
    if (argc - optind > 2)
        return cli_usage_error(DIFF_PROG, "unexpected argument '%s'", argv[optind + 2]);
    if (strcmp(argv[optind], "-") == 0 && strcmp(argv[optind + 1], "-") == 0)
        return cli_usage_error(DIFF_PROG, "%s", "only one trace can be read from standard input");
    opt->path[0] = argv[optind];
    opt->path[1] = argv[optind + 1];
    return -1;
}

/* ------------------------------------------------------------------ */
/* Text                                                               */
/* ------------------------------------------------------------------ */

static const char *const side_names[2] = {"A", "B"};

static void exchange_label(FILE *f, const at_xrec *a, const at_xrec *b)
{
    const at_xrec *x = a ? a : b;
    if (x->id == 0 && (!a || !b || a->id == b->id)) {
        fputs("before the first command", f);
        return;
    }
    if (a)
        fprintf(f, "A#%u", (unsigned)a->id);
    if (a && b)
        fputc(' ', f);
    if (b)
        fprintf(f, "B#%u", (unsigned)b->id);
    fputc(' ', f);
    if (x->command)
        cli_put_escaped(f, x->command, x->command_len);
}

static void text_diff(void *ctx, const at_diff *d)
{
    diff_run *run = ctx;
    FILE *f = run->out;
    if (run->shown == 0) {
        exchange_label(f, d->a, d->b);
        fputs(": ", f);
        cli_diff_describe(f, d, 0, side_names);
    } else if (run->detail) {
        fputs("    ", f);
        cli_diff_describe(f, d, 4, side_names);
    } else {
        return;
    }
    run->shown++;
}

/* ------------------------------------------------------------------ */
/* JSON                                                               */
/* ------------------------------------------------------------------ */

/* Written through json_writer.c, as `attrace decode --json`: the same
 * escaping (C1 controls and bidi overrides as \uXXXX). */

static void emit_json(diff_run *run)
{
    if (!cli_jw_write_line(&run->json, run->out))
        run->oom = true;
}

static void exchange_ref(cli_json_writer *w, const char *key, const at_xrec *x)
{
    cli_jw_key(w, key);
    if (x)
        cli_jw_uint(w, x->id);
    else
        cli_jw_null(w);
}

static void side_json(cli_json_writer *w, const at_diff *d, const at_diff_side *s,
                      const at_xrec *x)
{
    if (!s->present) {
        cli_jw_null(w);
        return;
    }
    cli_jw_object_begin(w);
    /* An end reason is the exchange's, counts of lines or payload bytes
     * belong to no offset. */
    bool placed = d->kind != AT_DIFF_END;
    bool offset = placed && d->kind != AT_DIFF_LINES_BEYOND && d->kind != AT_DIFF_PAYLOAD;
    if (placed)
        cli_jw_member_string(w, "dir", cli_dir_key(s->dir));
    if (offset)
        cli_jw_member_uint(w, "offset", s->off);
    switch (d->kind) {
    case AT_DIFF_COMMAND:
        cli_jw_member_text(w, "text", s->text, s->text_len);
        break;
    case AT_DIFF_FRAME:
        switch (d->field) {
        case AT_FF_BYTE_ORDER:
            cli_jw_member_string(w, "value", s->num ? "big_endian" : "little_endian");
            break;
        case AT_FF_SIGNATURE_CHECK:
            cli_jw_key(w, "value");
            cli_jw_bool(w, s->num);
            break;
        case AT_FF_PROBLEM:
            cli_jw_member_string(w, "value", at_frame_problem_name((at_frame_problem_code)s->num));
            cli_jw_member_uint(w, "detail", s->len);
            break;
        case AT_FF_UNIT:
            cli_jw_member_string(w, "value", cli_param_label((uint16_t)s->num));
            cli_jw_member_uint(w, "len", s->len);
            break;
        case AT_FF_VALUE:
            cli_jw_member_uint(w, "len", s->len);
            if (s->text) {
                cli_jw_member_text(w, "value", s->text, s->text_len);
            } else if (d->param_id == AT_PARAM_INDEX) {
                const at_xframe *xf = at_xrec_frame(x, d->dir, d->frame - 1);
                cli_jw_member_opt_uint(w, "value", xf && xf->frame.has_index,
                                       xf ? xf->frame.index : 0);
            } else if (d->secret) {
                cli_jw_key(w, "byte");
                cli_jw_null(w);
                cli_jw_key(w, "redacted");
                cli_jw_bool(w, true);
            } else {
                cli_jw_key(w, "byte");
                if (s->num > 255)
                    cli_jw_null(w);
                else
                    cli_jw_uint(w, s->num);
            }
            break;
        default:
            cli_jw_member_uint(w, "value", s->num);
        }
        break;
    case AT_DIFF_SECURE_RESULT:
        cli_jw_member_string(w, "value", at_secure_result_name((at_secure_result)s->num));
        cli_jw_member_text(w, "text", s->text, s->text_len);
        break;
    case AT_DIFF_FINAL:
        cli_jw_member_string(w, "value", at_result_name((at_result_kind)s->num));
        cli_jw_member_text(w, "text", s->text, s->text_len);
        break;
    case AT_DIFF_END:
        cli_jw_member_string(w, "value", at_end_reason_name((at_end_reason)s->num));
        break;
    case AT_DIFF_LINE:
        cli_jw_member_string(w, "kind", at_xline_kind_name((at_xline_kind)s->num));
        cli_jw_member_text(w, "text", s->text, s->text_len);
        break;
    case AT_DIFF_LINES_BEYOND:
        cli_jw_member_uint(w, "lines", s->num);
        break;
    case AT_DIFF_PAYLOAD:
        cli_jw_member_uint(w, "bytes", s->num);
        break;
    case AT_DIFF_FINDING: {
        const at_xfinding *xf = d->fa ? d->fa : d->fb;
        cli_jw_member_string(w, "rule", xf->rule);
        cli_jw_member_string(w, "severity", at_severity_name(xf->severity));
        cli_jw_member_text(w, "what", xf->what, strnlen(xf->what, sizeof xf->what));
        break;
    }
    case AT_DIFF_ONLY_A:
    case AT_DIFF_ONLY_B:
        break;
    }
    cli_jw_object_end(w);
}

static void cli_diff_json(void *ctx, const at_diff *d)
{
    diff_run *run = ctx;
    cli_json_writer *w = &run->json;
    cli_jw_object_begin(w);
    cli_jw_member_string(w, "type", "difference");
    exchange_ref(w, "a_exchange", d->a);
    exchange_ref(w, "b_exchange", d->b);
    cli_jw_member_text(w, "command", d->a->command, d->a->command_len);
    cli_jw_member_string(w, "what", at_diff_kind_name(d->kind));
    if (d->kind == AT_DIFF_FRAME) {
        cli_jw_member_string(w, "dir", cli_dir_key(d->dir));
        cli_jw_member_uint(w, "frame", d->frame);
        cli_jw_member_string(w, "field", at_frame_field_name(d->field));
        cli_jw_member_opt_uint(w, "unit", d->unit, d->unit);
        cli_jw_member_string(w, "param", d->unit ? cli_param_label(d->param_id) : NULL);
        if (d->field == AT_FF_VALUE)
            cli_jw_member_uint(w, "byte_index", d->byte_index);
    } else if (d->kind == AT_DIFF_LINE || d->kind == AT_DIFF_PAYLOAD) {
        cli_jw_member_string(w, "dir", cli_dir_key(d->dir));
    }
    cli_jw_key(w, "a");
    side_json(w, d, &d->sa, d->a);
    cli_jw_key(w, "b");
    side_json(w, d, &d->sb, d->b);
    cli_jw_object_end(w);
    emit_json(run);
}

/* ------------------------------------------------------------------ */
/* Pairs                                                              */
/* ------------------------------------------------------------------ */

static void count_diff(void *ctx, const at_diff *d)
{
    (void)d;
    (*(unsigned *)ctx)++;
}

static void on_pair(void *ctx, at_xrec *a, at_xrec *b)
{
    diff_run *run = ctx;
    FILE *f = run->out;
    if (!a || !b) {
        at_xrec *x = a ? a : b;
        int s = a ? 0 : 1;
        run->only[s]++;
        if (run->opt->json) {
            cli_json_writer *w = &run->json;
            cli_jw_object_begin(w);
            cli_jw_member_string(w, "type", s ? "only_in_b" : "only_in_a");
            cli_jw_member_uint(w, s ? "b_exchange" : "a_exchange", x->id);
            cli_jw_member_text(w, "command", x->command, x->command_len);
            cli_jw_member_uint(w, "offset", x->span.off);
            cli_jw_object_end(w);
            emit_json(run);
        } else {
            exchange_label(f, a, b);
            fprintf(f, ": only in %s\n", side_names[s]);
        }
        at_xrec_free(x);
        return;
    }
    unsigned n = 0;
    at_xrec_compare(a, b, &run->cmp, count_diff, &n);
    /* What came before the first command counts as a pair only when it
     * differs: every trace has it, most have nothing there. */
    if (a->id || b->id || n)
        run->pairs++;
    if (n == 0) {
        if (a->id || b->id)
            run->pairs_same++;
    } else {
        run->pairs_differ++;
        run->differences += n;
        if (run->opt->json) {
            at_xrec_compare(a, b, &run->cmp, cli_diff_json, run);
        } else {
            run->detail = run->opt->all || !run->detailed_one;
            run->detailed_one = true;
            run->shown = 0;
            at_xrec_compare(a, b, &run->cmp, text_diff, run);
            if (!run->detail && n > 1)
                fprintf(f, "    (%u more difference%s: --all)\n", n - 1, n == 2 ? "" : "s");
        }
    }
    at_xrec_free(a);
    at_xrec_free(b);
}

/* ------------------------------------------------------------------ */
/* Reading                                                            */
/* ------------------------------------------------------------------ */

static void on_record(void *ctx, at_xrec *x)
{
    diff_side *s = ctx;
    if (x->id)
        s->exchanges++;
    at_aligner_push(s->run->al, s->idx, x);
}

static void on_finding(void *ctx, const at_finding *f)
{
    diff_side *s = ctx;
    at_xrec_builder_finding(s->builder, f);
}

static void on_event(void *ctx, const at_event *ev)
{
    diff_side *s = ctx;
    at_analyzer_event(s->an, ev);
    at_xrec_builder_event(s->builder, ev,
                          ev->kind == AT_EV_FRAME ? at_analyzer_frame(s->an) : NULL);
}

static int side_open(diff_run *run, diff_side *s, int idx)
{
    s->idx = idx;
    s->run = run;
    s->path = run->opt->path[idx];
    s->have_channel = run->opt->sel.have_channel;
    s->channel = run->opt->sel.channel;
    s->r = at_trace_open(s->path, s->error, sizeof s->error);
    if (!s->r)
        return -1;
    /* The analyzer comes with the session, at the channel's first record. */
    s->session = malloc(sizeof *s->session);
    s->builder = at_xrec_builder_new(on_record, s);
    if (!s->session || !s->builder) {
        snprintf(s->error, sizeof s->error, "out of memory");
        return -1;
    }
    return 0;
}

static void side_end(diff_side *s)
{
    if (s->ended)
        return;
    s->ended = true;
    if (s->started) {
        at_session_finish(s->session, s->last_ts);
        at_analyzer_finish(s->an);
    }
    if (s->builder) {
        at_xrec_builder_finish(s->builder);
        if (at_xrec_builder_failed(s->builder)) {
            s->run->oom = true;
        }
    }
    at_aligner_end(s->run->al, s->idx);
}

/* Reads one record of @p s into its session. */
static void side_step(diff_side *s)
{
    at_trace_record rec;
    int st = at_trace_next(s->r, &rec);
    if (st <= 0) {
        if (st < 0) {
            s->damaged = true;
            snprintf(s->error, sizeof s->error, "%s", at_trace_error(s->r));
        }
        side_end(s);
        return;
    }
    if (!s->started) {
        if (!s->have_channel) {
            s->have_channel = true;
            s->channel = rec.channel;
        }
        /* The session's frame checks follow the analyzer's profile guess,
         * as in attrace decode. */
        s->an = at_analyzer_new_for_session(s->session, s->channel, NULL, on_event, s,
                                            on_finding, s);
        if (!s->an) {
            s->run->oom = true;
            side_end(s);
            return;
        }
        s->started = true;
    }
    if (rec.channel != s->channel) {
        s->other_channel_records++;
        return;
    }
    s->last_ts = rec.ts_ns;
    at_dir dir = rec.dir == AT_DIR_ME_TO_TE ? AT_DIR_ME_TO_TE : AT_DIR_TE_TO_ME;
    if ((rec.flags & AT_TFLAG_BYTES_MISSING) || rec.event == AT_TEV_OVERRUN)
        at_session_gap(s->session, dir, rec.ts_ns);
    if (rec.event == AT_TEV_DATA)
        at_session_feed(s->session, dir, rec.ts_ns, rec.payload, rec.len);
}

static void side_close(diff_side *s)
{
    at_xrec_builder_free(s->builder);
    at_analyzer_free(s->an);
    free(s->session);
    if (s->r)
        at_trace_close(s->r);
}

static void print_error(const char *msg)
{
    /* Messages name files and quote the trace: escaped like trace text. */
    fputs(CLI_PROG " diff: ", stderr);
    cli_put_escaped(stderr, msg, strlen(msg));
    fputc('\n', stderr);
}

static void summary(diff_run *run)
{
    bool same = run->pairs_differ == 0 && run->only[0] == 0 && run->only[1] == 0;
    if (run->opt->json) {
        cli_json_writer *w = &run->json;
        cli_jw_object_begin(w);
        cli_jw_member_string(w, "type", "summary");
        cli_jw_key(w, "same");
        cli_jw_bool(w, same);
        for (int i = 0; i < 2; i++) {
            cli_jw_key(w, i ? "b" : "a");
            cli_jw_object_begin(w);
            cli_jw_member_text(w, "trace", run->side[i].path, strlen(run->side[i].path));
            cli_jw_member_opt_uint(w, "channel", run->side[i].have_channel,
                                   run->side[i].channel);
            cli_jw_member_uint(w, "exchanges", run->side[i].exchanges);
            cli_jw_member_uint(w, "other_channel_records", run->side[i].other_channel_records);
            cli_jw_key(w, "complete");
            cli_jw_bool(w, !run->side[i].damaged);
            cli_jw_object_end(w);
        }
        cli_jw_member_uint(w, "pairs", run->pairs);
        cli_jw_member_uint(w, "pairs_same", run->pairs_same);
        cli_jw_member_uint(w, "pairs_differ", run->pairs_differ);
        cli_jw_member_uint(w, "only_in_a", run->only[0]);
        cli_jw_member_uint(w, "only_in_b", run->only[1]);
        cli_jw_member_uint(w, "differences", run->differences);
        cli_jw_object_end(w);
        emit_json(run);
        return;
    }
    FILE *f = run->out;
    if (same)
        fprintf(f, "same: ");
    else
        fprintf(f, "different: ");
    fprintf(f, "A %llu exchanges, B %llu exchanges; %llu paired (%llu differ), "
               "%llu only in A, %llu only in B\n",
            (unsigned long long)run->side[0].exchanges,
            (unsigned long long)run->side[1].exchanges,
            (unsigned long long)run->pairs,
            (unsigned long long)run->pairs_differ,
            (unsigned long long)run->only[0], (unsigned long long)run->only[1]);
}

int cli_diff_main(int argc, char **argv)
{
    diff_opts opt;
    int rc = parse_options(argc, argv, &opt);
    if (rc >= 0)
        return rc;

    diff_run run;
    memset(&run, 0, sizeof run);
    run.opt = &opt;
    run.out = stdout;
    run.cmp.exact = opt.exact;
    run.cmp.all_fields = opt.all;
    run.cmp.show_secrets = opt.show_secrets;
    run.al = at_aligner_new(0, on_pair, &run);
    if (!run.al) {
        fputs(CLI_PROG " diff: out of memory\n", stderr);
        return 3;
    }
    int status = 0;
    for (int i = 0; i < 2; i++) {
        if (side_open(&run, &run.side[i], i) != 0) {
            print_error(run.side[i].error);
            status = 3;
            break;
        }
    }
    if (status == 0) {
        /* Read the side the aligner waits for, the shorter queue first, so
         * that pairs are reported as soon as both sides have them. */
        for (;;) {
            bool wa = at_aligner_wants(run.al, 0), wb = at_aligner_wants(run.al, 1);
            if (!wa && !wb)
                break;
            int s = wa && wb ? (at_aligner_held(run.al, 1) < at_aligner_held(run.al, 0))
                             : (wa ? 0 : 1);
            side_step(&run.side[s]);
        }
        summary(&run);
        if (run.pairs_differ || run.only[0] || run.only[1])
            status = 1;
        for (int i = 0; i < 2; i++) {
            if (run.side[i].other_channel_records)
                fprintf(stderr, CLI_PROG " diff: %s: %llu records of other channels "
                        "than %u were not compared (--channel)\n", side_names[i],
                        (unsigned long long)run.side[i].other_channel_records,
                        (unsigned)run.side[i].channel);
        }
    }
    if (fflush(run.out) != 0 || ferror(run.out)) {
        fprintf(stderr, CLI_PROG " diff: error writing the output: %s\n", strerror(errno));
        if (status == 0)
            status = 1;
    }
    if (run.oom) {
        fputs(CLI_PROG " diff: out of memory: the comparison is incomplete\n", stderr);
        status = 3;
    }
    for (int i = 0; i < 2; i++) {
        if (run.side[i].damaged) {
            print_error(run.side[i].error);
            status = 3;
        }
    }
    at_aligner_free(run.al);
    for (int i = 0; i < 2; i++)
        side_close(&run.side[i]);
    cli_json_writer_free(&run.json);
    return status;
}
